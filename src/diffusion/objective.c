/* Loss terms built from graph ops. The learned-range variational bound follows guided-diffusion
 * (gaussian_diffusion._vb_terms_bpd, losses.normal_kl, discretized_gaussian_log_likelihood,
 * approx_standard_normal_cdf); the mean uses the detached eps, the variance is learned. */
#include "diffusion/objective.h"
#include "graph/graph_internal.h"
#include <math.h>

#define LN2 0.6931471805599453f

cld_tensor *cld_vlb_terms(cld_graph *g, cld_tensor *eps_hat, cld_tensor *vraw, cld_tensor *x0, cld_tensor *xt,
                          const cld_vlb_inputs *in) {
  cld_tensor *logvar = cld_add(g, in->lbt, cld_mul(g, cld_affine(g, vraw, 0.5f, 0.5f), in->dlog));
  cld_tensor *x0_hat = cld_mul(g, cld_sub(g, xt, cld_mul(g, cld_detach(g, eps_hat), in->s1mab)), in->inv_sab);
  cld_tensor *mu_p = cld_add(g, cld_mul(g, x0_hat, in->pc1), cld_mul(g, xt, in->pc2));
  cld_tensor *mu_q = cld_add(g, cld_mul(g, x0, in->pc1), cld_mul(g, xt, in->pc2));
  /* KL = 0.5 (-1 + logvar_p - logvar_q + exp(logvar_q - logvar_p) + (mu_q - mu_p)^2 exp(-logvar_p)) */
  cld_tensor *kl = cld_add(g, cld_add(g, cld_sub(g, logvar, in->lbt), cld_exp(g, cld_sub(g, in->lbt, logvar))),
                           cld_mul(g, cld_square(g, cld_sub(g, mu_q, mu_p)), cld_exp(g, cld_scale(g, logvar, -1.0f))));
  kl = cld_scale(g, cld_add_scalar(g, kl, -1.0f), 0.5f / LN2);
  /* decoder: bins of width 2/255 around x0 */
  cld_tensor *centered = cld_sub(g, x0, mu_p), *inv_std = cld_exp(g, cld_scale(g, logvar, -0.5f)), *cdf[2];
  for (int k = 0; k < 2; k++) {
    cld_tensor *u = cld_mul(g, inv_std, cld_add_scalar(g, centered, k ? -1.0f / 255 : 1.0f / 255));
    cld_tensor *inner = cld_scale(g, cld_add(g, u, cld_scale(g, cld_mul(g, cld_square(g, u), u), 0.044715f)), 0.7978845608028654f);
    cdf[k] = cld_affine(g, cld_tanh(g, inner), 0.5f, 0.5f);
  }
  cld_tensor *lp = cld_add(g,
                           cld_add(g, cld_mul(g, in->m_lo, cld_log(g, cld_clamp_min(g, cdf[0], 1e-12f))),
                                   cld_mul(g, in->m_hi, cld_log(g, cld_clamp_min(g, cld_affine(g, cdf[1], -1.0f, 1.0f), 1e-12f)))),
                           cld_mul(g, in->m_mid, cld_log(g, cld_clamp_min(g, cld_sub(g, cdf[0], cdf[1]), 1e-12f))));
  cld_tensor *kl_b = cld_mean(g, kl, 0xE, false), *nll_b = cld_scale(g, cld_mean(g, lp, 0xE, false), -1.0f / LN2);
  return cld_add(g, cld_mul(g, in->is0, nll_b), cld_mul(g, cld_affine(g, in->is0, -1.0f, 1.0f), kl_b));
}

void cld_vlb_host_values(const cld_schedule *s, int t, float *lbt, float *dlog, float *inv_sab, float *c1, float *c2, float *is0) {
  *lbt = (float)s->post_log_var_clipped[t];
  *dlog = (float)(log(s->beta[t]) - s->post_log_var_clipped[t]);
  *inv_sab = (float)(1.0 / sqrt(s->alpha_bar[t]));
  *c1 = (float)s->post_c1[t];
  *c2 = (float)s->post_c2[t];
  *is0 = t == 0 ? 1.0f : 0.0f;
}
