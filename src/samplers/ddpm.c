/* DDPM ancestral step (guided-diffusion p_sample on a respaced chain, METHODS.md 8.1):
 * beta' = 1 - ab_cur/ab_next, mean = c1 x0 + c2 x_t with c1 = beta' sqrt(ab_next)/(1 - ab_cur),
 * c2 = (1 - ab_next) sqrt(1 - beta')/(1 - ab_cur); variance fixed-small beta~ = beta'(1 - ab_next)/
 * (1 - ab_cur) or fixed-large beta'; the last step adds no noise (so guided-diffusion's
 * clipping of the t=0 log-variance never matters here). */
#include "samplers/sampler.h"
#include <math.h>

void cld_ddpm_step(const cld_step_args *a, const float *x, const double *eps, const double *x0, const float *z,
                   float *x_next, size_t n) {
  (void)eps;
  double abc = a->ab_cur, abn = a->ab_next, beta = 1.0 - abc / abn;
  double c1 = beta * sqrt(abn) / (1.0 - abc), c2 = (1.0 - abn) * sqrt(1.0 - beta) / (1.0 - abc);
  double var = a->p->var_type == CLD_VAR_FIXED_LARGE ? beta : beta * (1.0 - abn) / (1.0 - abc);
  if (a->last) var = 0.0;
  double sd = sqrt(var);
  if (a->v && !a->last) { /* learned range: log var = f log beta + (1 - f) log beta~, f = (v + 1)/2 */
    double lb = log(beta), lbt = log(beta * (1.0 - abn) / (1.0 - abc));
    for (size_t i = 0; i < n; i++) {
      double f = (a->v[i] + 1.0) / 2.0;
      x_next[i] = (float)(c1 * x0[i] + c2 * x[i] + exp(0.5 * (f * lb + (1.0 - f) * lbt)) * z[i]);
    }
    return;
  }
  for (size_t i = 0; i < n; i++) x_next[i] = (float)(c1 * x0[i] + c2 * x[i] + sd * z[i]);
}
