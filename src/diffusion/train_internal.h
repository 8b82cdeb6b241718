/* Trainer internals shared by train.c (the step) and checkpoint.c (save / resume). */
#ifndef CLDIFF_TRAIN_INTERNAL_H
#define CLDIFF_TRAIN_INTERNAL_H
#include "cldiff/cldiff.h"

struct cld_trainer {
  cld_ctx *ctx;
  cld_model *m;
  cld_store *s;
  const cld_dataset *data;
  cld_train_params p;
  cld_schedule *sched;
  cld_graph *g;
  cld_tensor *x0, *tt, *sab, *s1mab, *w, *loss;
  cld_tensor *c_in, *c_skip, *c_out; /* EDM preconditioning, (B, 1, 1, 1) */
  /* learned range: per-sample log beta~ (clipped), log beta - log beta~, 1/sqrt(abar), posterior
   * coefficients, t == 0 flag (B); decoder-branch masks (B, C, H, W) */
  cld_tensor *lbt, *dlog, *inv_sab, *pc1, *pc2, *is0, *m_lo, *m_hi, *m_mid;
  float *mask_buf;
  cld_optim *opt;
  cld_ema *ema;
  int64_t step;
  int64_t *perm, perm_epoch;
  float *xb;
  cld_tensor *per_sample;  /* (B) per-sample losses before the weights w; with learned sigma and a
                              weighting the MSE part is already weighted (wm): the vb term stays
                              unweighted, as in Debias's code (METHODS 6.1) */
  cld_tensor *wm;          /* learned sigma with a weighting: (B) weights of the MSE term only */
  float *lsm_hist;         /* loss-second-moment: (T, 10) recent losses, lsm_count[t] of them */
  int *lsm_count;
  /* methods: IP gamma (B,1,1,1); STF 1/s and s^2/(2 sigma^2) (B,1), sqrt(SNR) (B,1,1,1), extra
   * reference images (R-B,C,H,W); EP chain inputs (train_ep.c) */
  cld_tensor *ip_gamma, *stf_inv_s, *stf_half_snr, *stf_snr_sqrt, *stf_extra;
  float *stf_buf;
  struct cld_ep_chain *ep;
};
/* the EP regulariser's graph part and its per-step host inputs (train_ep.c) */
cld_tensor *cld_ep_build(cld_trainer *t, cld_tensor *x0);
cld_status cld_ep_feed(cld_trainer *t);
void cld_ep_free(cld_trainer *t);
#define CLD_LSM_HISTORY 10
#endif
