/* EDM sampling (Karras et al. 2022, Algorithm 2; the official edm_sampler, METHODS.md 8.6):
 * on the grid sigma_i = (smax^(1/rho) + i/(N-1)(smin^(1/rho) - smax^(1/rho)))^rho, sigma_N = 0,
 *   gamma = min(S_churn/N, sqrt2 - 1) if S_min <= sigma_i <= S_max else 0, sigma^ = sigma_i (1 + gamma)
 *   x^ = x + sqrt(sigma^2 - sigma_i^2) S_noise eps_i
 *   d = (x^ - D(x^, sigma^)) / sigma^,  x' = x^ + (sigma_{i+1} - sigma^) d
 *   Heun, when sigma_{i+1} > 0: d' = (x' - D(x', sigma_{i+1})) / sigma_{i+1}, x' = x^ + (sigma_{i+1} - sigma^)(d + d')/2
 * with D(x, s) = c_skip x + c_out F(c_in x, ln(s)/4). Start x = sigma_0 z. State in double on the host;
 * z and eps_i are Philox (seed, 0x1000 / 0x2000 + i, image offset) as for the other samplers. */
#include "samplers/sampler.h"
#include "runtime/runtime.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  cld_denoiser_fn model;
  void *user;
  float *in, *out, *tv;
  int B;
  size_t per;
  double sd;
} edm_eval;

/* D(x, sigma) for the first nb rows of x (B rows are evaluated) */
static cld_status denoise(edm_eval *e, const double *x, int nb, double sigma, double *D) {
  cld_edm_precond pc = cld_edm_precond_at(sigma, e->sd);
  for (int i = 0; i < e->B; i++) {
    int src = i < nb ? i : 0;
    for (size_t j = 0; j < e->per; j++) e->in[(size_t)i * e->per + j] = (float)(pc.c_in * x[(size_t)src * e->per + j]);
    e->tv[i] = (float)pc.c_noise;
  }
  cld_status st = e->model(e->user, e->in, e->tv, e->B, e->out);
  if (st) return st;
  for (size_t k = 0; k < (size_t)nb * e->per; k++) D[k] = pc.c_skip * x[k] + pc.c_out * e->out[k];
  return CLD_OK;
}

cld_status cld_edm_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w, const cld_sample_params *p,
                          int64_t first, int64_t n, float *out, cld_sample_progress progress, void *user) {
  int N = p->steps, B = (int)(p->batch < n ? p->batch : n);
  if (!(p->edm_sigma_min > 0 && p->edm_sigma_max > p->edm_sigma_min && p->edm_rho > 0 && p->sigma_data > 0))
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: EDM grid needs 0 < sigma_min < sigma_max, rho > 0, sigma_data > 0");
  size_t per = (size_t)C * h * w, nbper = (size_t)B * per;
  double *sig = malloc((size_t)(N + 1) * sizeof *sig), *x = malloc(nbper * sizeof *x), *xh = malloc(nbper * sizeof *xh);
  double *D = malloc(nbper * sizeof *D), *d = malloc(nbper * sizeof *d), *xn = malloc(nbper * sizeof *xn);
  float *z = malloc(per * sizeof *z);
  edm_eval e = {model, model_user, malloc(nbper * sizeof(float)), malloc(nbper * sizeof(float)), malloc((size_t)B * sizeof(float)),
                B, per, p->sigma_data};
  cld_status st = CLD_OK;
  if (!sig || !x || !xh || !D || !d || !xn || !z || !e.in || !e.out || !e.tv) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  if (!st) cld_edm_sigmas(N, p->edm_sigma_min, p->edm_sigma_max, p->edm_rho, sig);
  bool heun = p->sampler == CLD_SAMPLER_HEUN;
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = (int)(n - b0 < B ? n - b0 : B);
    cld_sample_start(p, first, b0, nb, per, sig[0], x, z);
    for (int k = 0; k < N && !st; k++) {
      double s = sig[k], s1 = sig[k + 1];
      double gamma = (s >= p->s_min && s <= p->s_max) ? fmin(p->s_churn / N, sqrt(2.0) - 1.0) : 0.0;
      double sh = s * (1.0 + gamma), add = sqrt(fmax(sh * sh - s * s, 0.0)) * p->s_noise;
      for (int i = 0; i < nb; i++) {
        if (gamma > 0) cld_rng_normal_host(p->seed, 0x2000u + (uint32_t)k, (uint64_t)(first + b0 + i) * per, per, z);
        for (size_t j = 0; j < per; j++) xh[(size_t)i * per + j] = x[(size_t)i * per + j] + (gamma > 0 ? add * z[j] : 0.0);
      }
      if ((st = denoise(&e, xh, nb, sh, D))) break;
      for (size_t q = 0; q < (size_t)nb * per; q++) {
        d[q] = (xh[q] - D[q]) / sh;
        xn[q] = xh[q] + (s1 - sh) * d[q];
      }
      if (heun && s1 > 0) {
        if ((st = denoise(&e, xn, nb, s1, D))) break;
        for (size_t q = 0; q < (size_t)nb * per; q++) xn[q] = xh[q] + (s1 - sh) * 0.5 * (d[q] + (xn[q] - D[q]) / s1);
      }
      memcpy(x, xn, (size_t)nb * per * sizeof *x);
      if (p->trajectory)
        for (size_t q = 0; q < (size_t)nb * per; q++) p->trajectory[((size_t)(k + 1) * (size_t)n + (size_t)b0) * per + q] = (float)x[q];
      if (progress) progress(user, k + 1, N, b0, n);
    }
    for (size_t q = 0; q < (size_t)nb * per && !st; q++) out[(size_t)b0 * per + q] = (float)x[q];
  }
  free(sig); free(x); free(xh); free(D); free(d); free(xn); free(z); free(e.in); free(e.out); free(e.tv);
  return st;
}
