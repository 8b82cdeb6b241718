/* Epsilon Scaling (Ning et al., "Elucidating the Exposure Bias in Diffusion Models", ICLR 2024;
 * the official forever208/ADM-ES divides eps by sampling_scaler[t] in _predict_xstart_from_eps,
 * t the respaced index, the list uniform (b) or linear, b + k (i - (N - 1)/2)). The sampler loops
 * call it on every model evaluation, after the model output became (eps, x0) and before any
 * clipping; a sampler does not know it exists. Depends on nothing but math. */
#include "cldiff/cldiff.h"
#include "cldiff/methods.h"
#include <math.h>

bool cld_eps_scale_on(const cld_eps_scale *es) { return es && es->b != 0 && !(es->b == 1.0f && es->k == 0.0f); }

double cld_eps_scale_at(const cld_eps_scale *es, double t_model, int N, int T) {
  if (!cld_eps_scale_on(es)) return 1.0;
  double i = T > 0 ? t_model * (double)N / (double)T : 0.0;
  return (double)es->b + (double)es->k * (i - (double)(N - 1) / 2.0);
}

void cld_eps_scale_apply(double lambda, double alpha, double sigma, double x, double *eps, double *x0) {
  *eps /= lambda;
  *x0 = (x - sigma * *eps) / alpha;
}
