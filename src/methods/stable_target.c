/* Stable Target Field (Xu, Tong, Jaakkola 2023; METHODS.md 7 and decision 5): the regression
 * target of a sample becomes the posterior-weighted average of a reference batch,
 * w_ij = softmax_j(-||x_i - s_i y_j||^2 / (2 sigma_i^2)), computed as one GEMM through the
 * pairwise-distance op on x_i / s_i, max-subtracted by the softmax, fp32, no gradient. The
 * trainer builds the eps/v targets from this x0 target (train.c). */
#include "cldiff/cldiff.h"
#include "cldiff/methods.h"

cld_tensor *cld_stf_x0_target(cld_graph *g, cld_tensor *x, cld_tensor *y, cld_tensor *inv_s, cld_tensor *half_snr) {
  x = cld_detach(g, x);
  y = cld_detach(g, y);
  /* ||x_i - s y_j||^2 / (2 sigma^2) = ||x_i / s - y_j||^2 * s^2 / (2 sigma^2) */
  cld_tensor *d = cld_pairwise_sqdist(g, cld_mul(g, x, inv_s), y);   /* (B, R) */
  cld_tensor *w = cld_softmax(g, cld_scale(g, cld_mul(g, d, half_snr), -1.0f));
  return cld_matmul(g, w, y, false, false);                           /* (B, D) */
}
