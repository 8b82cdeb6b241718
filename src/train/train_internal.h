/* Trainer internals shared by train.c (the step), train_graph.c (building the step graph) and
 * checkpoint.c (save / resume). The trainer knows no method: it holds the enabled ones from the
 * registry (methods/train_method.h) and calls their slots. */
#ifndef CLDIFF_TRAIN_INTERNAL_H
#define CLDIFF_TRAIN_INTERNAL_H
#include "cldiff/cldiff.h"
#include "methods/train_method.h"

#define CLD_LSM_HISTORY 10
#define CLD_MAX_TRAIN_METHODS 16

/* per-step host values, each (B), in one allocation sized by the batch */
typedef struct cld_step_host {
  float *t, *sab, *s1, *uflip, *ut, *w, *wm, *c_in, *c_skip, *c_out;
  float *lbt, *dlog, *isab, *c1, *c2, *is0; /* learned sigma */
  float *per_sample;                        /* read back for the loss-second-moment history */
  float *ucond;                             /* label dropout draws */
  int *ti;
  int *label;                               /* the class each sample's forward sees (after dropout) */
  double *alpha_bar, *sigma;
} cld_step_host;

struct cld_trainer {
  cld_ctx *ctx;
  cld_model *m;
  cld_store *s;
  const cld_dataset *data;
  cld_train_params p;
  int Bm, n_micro, micro0;  /* the micro-batch, micro-batches per step (accum x ranks), this rank's first */
  struct cld_grad_accum *acc; /* NULL when n_micro == 1 */
  float *micro_loss;        /* (n_micro) each micro-batch's loss of the step */
  cld_schedule *sched;
  cld_graph *g;
  cld_tensor *x0, *tt, *sab, *s1mab, *w, *loss;
  cld_tensor *cond;          /* the class input of a conditional model, or NULL */
  cld_tensor *c_in, *c_skip, *c_out; /* EDM preconditioning, (B, 1, 1, 1) */
  /* learned range: per-sample log beta~ (clipped), log beta - log beta~, 1/sqrt(abar), posterior
   * coefficients, t == 0 flag (B); decoder-branch masks (B, C, H, W) */
  cld_tensor *lbt, *dlog, *inv_sab, *pc1, *pc2, *is0, *m_lo, *m_hi, *m_mid;
  float *mask_buf;
  cld_optim *opt;
  cld_ema *ema;
  int64_t step;
  int64_t skipped; /* non-finite steps skipped (skip_nonfinite) */
  int64_t *perm, perm_epoch;
  float *xb;
  cld_tensor *per_sample;  /* (B) per-sample losses before the weights w; with learned sigma and a
                              method weight the MSE part is already weighted (wm): the vb term stays
                              unweighted, as in Debias's code (METHODS 6.1) */
  cld_tensor *wm;          /* learned sigma with a method weight: (B) weights of the MSE term only */
  float *lsm_hist;         /* loss-second-moment: (T, 10) recent losses, lsm_count[t] of them */
  int *lsm_count;
  int n_methods;           /* the enabled training methods, in registry order, and their states */
  const cld_train_method *method[CLD_MAX_TRAIN_METHODS];
  void *method_state[CLD_MAX_TRAIN_METHODS];
  bool weighted;           /* some enabled method has a weight slot */
  void *host_buf;
  cld_step_host h;
  char resumed_from[1100]; /* the checkpoint cld_trainer_resume restored */
  char resume_note[1400];  /* what it skipped to get there ("" when the newest resumed) */
};

/* builds t->g, the one step graph (train_graph.c) */
cld_status cld_trainer_build_graph(cld_trainer *t);
#endif
