/* cldiff optimizer API: AdamW with global-norm clipping and EMA, over a parameter store.
 * All of it runs on the device without host synchronisation; the norm stays on the device. */
#ifndef CLDIFF_OPTIM_H
#define CLDIFF_OPTIM_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cld_store cld_store;
typedef struct cld_optim cld_optim;

typedef struct cld_adamw_params {
  float lr, beta1, beta2, eps, weight_decay;
  float clip_norm; /* <= 0: no clipping */
} cld_adamw_params;
CLD_API cld_adamw_params cld_adamw_params_default(void); /* 1e-4, 0.9, 0.999, 1e-8, 0, 1.0 */

CLD_API cld_status cld_optim_create(cld_store *s, const cld_adamw_params *p, cld_optim **out);
CLD_API void cld_optim_destroy(cld_optim *o);
/* One AdamW step with the given learning rate (the schedule is the caller's): the two halves
 * below, back to back. */
CLD_API cld_status cld_optim_step(cld_optim *o, float lr);
/* The step in two halves, so a caller can look at the gradient norm (cld_optim_last_grad_norm)
 * before deciding to apply it: the global gradient norm of the store's gradients, then the
 * clipped AdamW update (which counts as a step for the bias correction). */
CLD_API cld_status cld_optim_grad_norm(cld_optim *o);
CLD_API cld_status cld_optim_apply(cld_optim *o, float lr);
/* Reads the global gradient norm computed by the last step (synchronises). */
CLD_API cld_status cld_optim_last_grad_norm(cld_optim *o, float *norm);
CLD_API int64_t cld_optim_step_count(const cld_optim *o);
/* Moments for checkpoints: m and v, each cld_store_total floats. */
CLD_API cld_status cld_optim_read_moments(cld_optim *o, float *m, float *v);
CLD_API cld_status cld_optim_write_moments(cld_optim *o, const float *m, const float *v, int64_t step);

/* EMA of a store's parameters: ema = decay*ema + (1-decay)*param. */
typedef struct cld_ema cld_ema;
CLD_API cld_status cld_ema_create(cld_store *s, cld_ema **out); /* starts as a copy */
CLD_API void cld_ema_destroy(cld_ema *e);
CLD_API cld_status cld_ema_update(cld_ema *e, float decay);
CLD_API cld_status cld_ema_read(cld_ema *e, float *all); /* cld_store_total floats */
CLD_API cld_status cld_ema_write(cld_ema *e, const float *all);
#ifdef __cplusplus
}
#endif
#endif
