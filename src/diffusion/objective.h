/* Internal: loss terms shared by the trainer and its tests. */
#ifndef CLDIFF_OBJECTIVE_H
#define CLDIFF_OBJECTIVE_H
#include "cldiff/cldiff.h"

/* Per-sample inputs of the variational bound, all (B,1,1,1) except is0 (B) and the masks
 * (B,C,H,W): clipped log posterior variance, log beta - that, 1/sqrt(abar), s1 = sqrt(1 - abar),
 * posterior mean coefficients c1 (x0), c2 (x_t), t == 0, and the decoder's three x0 regions. */
typedef struct cld_vlb_inputs {
  cld_tensor *lbt, *dlog, *inv_sab, *s1mab, *pc1, *pc2, *is0, *m_lo, *m_hi, *m_mid;
} cld_vlb_inputs;

/* guided-diffusion's _vb_terms_bpd with the eps detached (ADM's frozen_out): KL(q || p) for t > 0,
 * the discretized Gaussian decoder NLL for t = 0, mean over C, H, W, in bits -> (B) */
cld_tensor *cld_vlb_terms(cld_graph *g, cld_tensor *eps_hat, cld_tensor *vraw, cld_tensor *x0, cld_tensor *xt,
                          const cld_vlb_inputs *in);
/* Host values of the per-sample inputs for time step t. */
void cld_vlb_host_values(const cld_schedule *s, int t, float *lbt, float *dlog, float *inv_sab, float *c1, float *c2, float *is0);
#endif
