/* Input Perturbation (DDPM-IP, Ning et al. 2023; METHODS.md 3 and decision 1): the network input
 * is sqrt(ab) x0 + sqrt(1 - ab)(eps + gamma xi) with an independent xi, while the regression
 * target keeps the unperturbed eps. The constant gamma is the paper's; the ramp
 * gamma_t = linspace(0.01 gamma, gamma, T)[t] is TS-DPM-ADM's time-dependent variant. */
#include "cldiff/cldiff.h"
#include "cldiff/methods.h"

cld_methods cld_methods_default(void) {
  cld_methods m = {0};
  m.min_snr_gamma = 5.0f;
  m.p2_k = 1.0f;
  m.p2_gamma = 1.0f;
  m.ep_k = 5;
  return m;
}

double cld_ip_gamma_at(const cld_methods *m, int t, int T) {
  if (!m) return 0;
  if (!m->ip_ramp || T < 2) return m->ip_gamma;
  double g = m->ip_gamma, lo = 0.01 * g;
  return lo + (g - lo) * (double)t / (double)(T - 1);
}

cld_tensor *cld_ip_noise(cld_graph *g, cld_tensor *eps, cld_tensor *gamma) {
  int64_t shape[8];
  int nd = cld_tensor_ndim(eps);
  for (int i = 0; i < nd && i < 8; i++) shape[i] = cld_tensor_dim(eps, i);
  cld_tensor *xi = cld_randn(g, nd, shape, 4);
  return cld_add(g, eps, cld_mul(g, xi, gamma));
}
