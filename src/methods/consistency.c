/* Error-propagation regulariser (Li & van der Schaar 2024; METHODS.md 5.2 and decision 3): the
 * multi-bandwidth RBF MMD^2 between the output of a learned ancestral chain and forward-process
 * samples at the chain's tail. This file holds the MMD; the bootstrapped chain (head, L ~ U{1..K},
 * posterior steps with gradients) is built by the trainer from the model (train_ep.c). */
#include "cldiff/cldiff.h"
#include "cldiff/methods.h"

cld_tensor *cld_mmd2_multi_rbf(cld_graph *g, cld_tensor *x, cld_tensor *y) {
  int64_t n = cld_tensor_dim(x, 0);
  cld_tensor *z = cld_concat(g, x, y, 0);                   /* (2n, D) */
  cld_tensor *d = cld_pairwise_sqdist(g, z, z);             /* (2n, 2n) */
  double m = (double)(2 * n);
  /* bandwidth: sum of all pairwise squared distances / (m^2 - m), detached */
  cld_tensor *bw = cld_scale(g, cld_detach(g, cld_sum_all(g, d)), (float)(1.0 / (m * m - m)));
  cld_tensor *kern = NULL;
  for (int k = -2; k <= 2; k++) {
    float mult = k < 0 ? 1.0f / (float)(1 << -k) : (float)(1 << k);
    cld_tensor *e = cld_exp(g, cld_scale(g, cld_div(g, d, cld_scale(g, bw, mult)), -1.0f));
    kern = kern ? cld_add(g, kern, e) : e;
  }
  cld_tensor *kxx = cld_slice(g, cld_slice(g, kern, 0, 0, n), 1, 0, n);
  cld_tensor *kyy = cld_slice(g, cld_slice(g, kern, 0, n, n), 1, n, n);
  cld_tensor *kxy = cld_slice(g, cld_slice(g, kern, 0, 0, n), 1, n, n);
  return cld_add(g, cld_sub(g, cld_mean_all(g, kxx), cld_scale(g, cld_mean_all(g, kxy), 2.0f)), cld_mean_all(g, kyy));
}
