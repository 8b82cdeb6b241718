/* What a model's output means: the eps and x0 of an eps, x0 or v model's output o at state x_t,
 * with sa = sqrt(abar) and s1 = sqrt(1 - abar), in double. The one place for the three
 * parameterisations, shared by the sampler loops and the exposure measurement. Internal. */
#ifndef CLDIFF_PREDICTION_H
#define CLDIFF_PREDICTION_H
#include "cldiff/train.h"

static inline void cld_output_eps_x0(int prediction, double sa, double s1, double x, double o, double *eps, double *x0) {
  if (prediction == CLD_PRED_X0) { *x0 = o; *eps = (x - sa * o) / s1; }
  else if (prediction == CLD_PRED_V) { *x0 = sa * x - s1 * o; *eps = s1 * x + sa * o; }
  else { *eps = o; *x0 = (x - s1 * o) / sa; }
}
#endif
