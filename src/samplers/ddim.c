/* DDIM step with eta (METHODS.md 8.2): sigma = eta sqrt((1 - ab_next)/(1 - ab_cur)) sqrt(1 - ab_cur/ab_next),
 * x_next = sqrt(ab_next) x0 + sqrt(1 - ab_next - sigma^2) eps + sigma z. */
#include "samplers/sampler.h"
#include <math.h>

void cld_ddim_step(const cld_step_args *a, const float *x, const double *eps, const double *x0, const float *z,
                   float *x_next, size_t n) {
  (void)x;
  double abc = a->ab_cur, abn = a->ab_next;
  double sigma = a->p->eta * sqrt((1.0 - abn) / (1.0 - abc)) * sqrt(1.0 - abc / abn);
  double dir = sqrt(fmax(1.0 - abn - sigma * sigma, 0.0));
  for (size_t i = 0; i < n; i++) x_next[i] = (float)(sqrt(abn) * x0[i] + dir * eps[i] + sigma * z[i]);
}
