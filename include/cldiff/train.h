/* cldiff training: the diffusion training step (eps, x0 or v prediction on a VP schedule), with
 * AdamW, warmup, clipping, EMA, horizontal flips, and atomic checkpoints that resume bit-exactly.
 * Every random choice (data order, flips, timesteps, noise, dropout) is a pure function of
 * (seed, step) through Philox, so a checkpoint needs no RNG state beyond the step. */
#ifndef CLDIFF_TRAIN_H
#define CLDIFF_TRAIN_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "cldiff/methods.h"
#include "cldiff/comm.h"
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cld_ctx cld_ctx;
typedef struct cld_model cld_model;
typedef struct cld_dataset cld_dataset;

/* CLD_PRED_EDM: Karras et al. preconditioning, D(x, s) = c_skip x + c_out F(c_in x, ln(s)/4), trained
 * on x = y + s n with ln s ~ N(P_mean, P_std^2) and loss weight (s^2 + sd^2)/(s sd)^2 (METHODS.md 2.6) */
typedef enum { CLD_PRED_EPS = 0, CLD_PRED_X0 = 1, CLD_PRED_V = 2, CLD_PRED_EDM = 3 } cld_prediction;
CLD_API int cld_prediction_parse(const char *s); /* "eps", "x0", "v", "edm"; -1 if unknown */
CLD_API const char *cld_prediction_name(cld_prediction p);

typedef struct cld_train_params {
  int batch;
  float lr, weight_decay, clip_norm, ema_decay; /* EMA decay at step s: min(ema_decay, (1+s)/(10+s)) */
  int warmup;                 /* linear LR warmup steps */
  uint64_t seed;
  int schedule;               /* cld_beta_schedule */
  int T;
  cld_prediction prediction;
  bool hflip;
  /* time-step sampling: 0 uniform; 1 loss-second-moment (iDDPM: p_t ~ sqrt(E[L_t^2]) over the last
   * 10 losses of each t once every t has 10, mixed with 0.1% uniform; the loss is importance
   * weighted by 1/(T p_t); the history is part of the checkpoint) */
  int timestep_sampling;
  float edm_p_mean, edm_p_std, edm_sigma_data; /* EDM: -1.2, 1.2, 0.5 */
  /* iDDPM learned-range variance: the model outputs 2C channels (eps, v); the loss is the hybrid
   * L_simple + L_vlb * T/1000 (ADM's RESCALED_MSE), the bound using the detached eps */
  bool learn_sigma;
  /* the methods (cldiff/methods.h): Input Perturbation, loss weighting, error-propagation
   * regulariser, Stable Target Field; all off in the defaults */
  cld_methods methods;
  /* a step whose loss or gradient norm is NaN or Inf is never applied; by default cld_trainer_step
   * then fails with CLD_ERR_NONFINITE, with this set it skips the step instead (the step counts, the
   * weights, moments and EMA stay as they were, *loss is NaN; cld_trainer_skipped_steps counts them) */
  bool skip_nonfinite;
  /* data parallelism: batch is the global batch of one optimizer step, split into accum x
   * comm->size micro-batches of batch / (accum x size) (which must divide); rank r runs
   * micro-batches r*accum .. r*accum + accum - 1. Gradients are summed on the device over a rank's
   * micro-batches, then over the ranks in rank order, and scaled by 1 / (accum x size) before
   * clipping, AdamW and EMA. Every random draw is keyed by the global sample index, and STF's
   * reference set is the global batch; EP's chain halves and MMD are per micro-batch. So N ranks
   * give, bit for bit, what one process gives with accum N. accum 1 and no comm (NULL or size 1) is
   * the plain step. */
  int accum;
  const cld_comm *comm;
  /* over several ranks, the gradients are all-reduced in buckets of about bucket_mb MiB of
   * consecutive parameters, each started as soon as the backward pass has written the last of its
   * gradients, so the host reduces while the device computes the rest (0: one all-reduce after the
   * backward pass). The sums, and so the results, do not depend on it. Default -1: 4 on GPUs and
   * other accelerators, 0 on CPU devices, whose cores the host's wait in the communicator would
   * take from the device's threads (measured slower there: docs/PERFORMANCE.md). */
  float bucket_mb;
  /* class conditioning (a model with cld_model_class_kind TABLE or TIMESTEP, on labelled data):
   * each sample's label is replaced by the null class (index data->n_classes) with probability
   * cond_drop, drawn from Philox(seed, stream 4) at the sample's global position, so one model
   * learns the conditional and the unconditional score (classifier-free guidance). 0: never. */
  float cond_drop;
} cld_train_params;
/* the micro-batch one graph runs: batch / (accum x ranks) */
static inline int cld_train_micro_batch(const cld_train_params *p) {
  int parts = (p->accum > 0 ? p->accum : 1) * (p->comm && p->comm->size > 0 ? p->comm->size : 1);
  return p->batch / parts;
}
CLD_API cld_train_params cld_train_params_default(void); /* batch 32, lr 2e-4, clip 1, ema 0.999, linear T=1000, eps */
/* Why p cannot train (a static message naming the field), or NULL: the rules that do not depend on
 * the model or the data, the methods' included. cld_trainer_create checks them too. */
CLD_API const char *cld_train_params_check(const cld_train_params *p);

typedef struct cld_trainer cld_trainer;
/* The trainer keeps pointers to the model and data; they must outlive it. */
CLD_API cld_status cld_trainer_create(cld_ctx *ctx, cld_model *m, const cld_dataset *data, const cld_train_params *p,
                                      cld_trainer **out);
CLD_API void cld_trainer_destroy(cld_trainer *t);
/* One optimisation step; *loss (optional) gets the batch loss. The loss and the gradient norm are
 * read (waiting for the device) before the update, which is applied only when both are finite. */
CLD_API cld_status cld_trainer_step(cld_trainer *t, float *loss);
/* steps skipped as non-finite under skip_nonfinite, since the trainer was made */
CLD_API int64_t cld_trainer_skipped_steps(const cld_trainer *t);
CLD_API int64_t cld_trainer_steps_done(const cld_trainer *t);
/* the learned-chain steps the error-propagation regulariser ran in the last step: min(L, head),
 * 1..ep_k (its cost grows with it); 0 without the regulariser or before the first step */
CLD_API int cld_trainer_ep_chain_steps(const cld_trainer *t);
/* the integer a training method reports after each step under `name` (cld_trainer_ep_chain_steps
 * is "ep_chain_steps"); 0 when no enabled method reports it */
CLD_API int cld_trainer_method_stat(const cld_trainer *t, const char *name);
/* bytes of the training step's activation arena on the device (parameters and optimiser state not
 * included): what a batch size costs in device memory */
CLD_API size_t cld_trainer_arena_bytes(const cld_trainer *t);
/* cld_graph_record_gemms for the training step's graph: the GEMM shapes of a step, none run */
CLD_API cld_status cld_trainer_record_gemms(const cld_trainer *t);
/* Checkpoint directory DIR/ckpt-STEP (written as DIR/.ckpt-STEP.tmp, then renamed): model/ and
 * ema/ as diffusers UNet2DModel directories, optimizer.safetensors (AdamW moments) and
 * trainer.json (step, parameters). (For the MLP, model/ and ema/ hold cldiff's MLPDenoiser.) Keeps the newest `keep` checkpoints (0: all). */
CLD_API cld_status cld_trainer_save(cld_trainer *t, const char *dir, int keep);
/* Restores the newest complete checkpoint in DIR (model, EMA, moments, step). One that fails to
 * read (truncated, corrupt, NaN weights) is skipped for the one before it, and
 * cld_trainer_resume_note says so; a checkpoint of another batch size is refused (no fallback).
 * A failure leaves the trainer as it was. */
CLD_API cld_status cld_trainer_resume(cld_trainer *t, const char *dir);
/* After a resume: the checkpoint restored, and what was skipped to get there ("" if nothing). */
CLD_API const char *cld_trainer_resumed_from(const cld_trainer *t);
CLD_API const char *cld_trainer_resume_note(const cld_trainer *t);
/* Newest complete checkpoint path in DIR into out; CLD_ERR_IO if there is none. */
CLD_API cld_status cld_checkpoint_latest(cld_ctx *ctx, const char *dir, char *out, size_t n);
#ifdef __cplusplus
}
#endif
#endif
