/* cldiff sampling: a driver that evaluates the model on a respaced grid and hands each step to
 * a sampler's update rule. Noise is Philox keyed by (seed, image index), so image i of a run
 * is the same whatever the batch size. */
#ifndef CLDIFF_SAMPLE_H
#define CLDIFF_SAMPLE_H
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

/* ddpm/ddim run on discrete time steps (eps/x0/v models); euler/heun are the EDM samplers
 * (Karras et al. Algorithm 2 with S_churn) on the EDM sigma grid, for edm models */
typedef enum { CLD_SAMPLER_DDPM = 0, CLD_SAMPLER_DDIM = 1, CLD_SAMPLER_EULER = 2, CLD_SAMPLER_HEUN = 3,
               CLD_SAMPLER_DPM_SOLVER = 4, CLD_SAMPLER_SPNDM = 5, CLD_SAMPLER_FPNDM = 6,
               CLD_SAMPLER_DPMPP_2M = 7, CLD_SAMPLER_DPMPP_3M = 8, /* DPM-Solver++ multistep, diffusers'
                                                                         DPMSolverMultistepScheduler */
               CLD_SAMPLER_DPMPP_2M_SDE = 9, /* its SDE variant (sde-dpmsolver++) */
               CLD_SAMPLER_UNIPC = 10, /* UniPC, diffusers' UniPCMultistepScheduler (predictor + corrector) */
               CLD_SAMPLER_DPMPP_2S = 11 /* DPM-Solver++(2S), diffusers' DPMSolverSinglestepScheduler */ } cld_sampler_kind;
/* "ddpm", "ddim", "euler", "heun", "dpm-solver", "spndm", "fpndm", "dpm++2m", "dpm++3m",
 * "dpm++2m-sde", "unipc", "dpm++2s"; -1 if unknown */
CLD_API int cld_sampler_parse(const char *name);
/* whether the sampler forms an x0 that clip_x0 clamps (ddpm, ddim; the others step on eps) */
CLD_API bool cld_sampler_clips_x0(int sampler);

typedef enum { CLD_VAR_FIXED_SMALL = 0, CLD_VAR_FIXED_LARGE = 1 } cld_var_type;

typedef struct cld_sample_params {
  int sampler;       /* cld_sampler_kind */
  int steps;         /* respaced steps ("N" spacing for ddpm, "ddimN" for ddim, unless respacing set) */
  const char *respacing; /* grid spec overriding steps (cld_respace: "N", "N1,N2,...", "ddimN", "tsdpmS"), or
                            NULL; ddpm, ddim, spndm and fpndm (tsdpmS: not ddpm); others refuse it */
  float eta;         /* DDIM */
  int var_type;      /* DDPM: cld_var_type */
  bool clip_x0;      /* clamp the x0 prediction to [-1, 1] */
  uint64_t seed;
  int batch;
  int schedule, T;   /* cld_beta_schedule and steps of the training schedule */
  int prediction;    /* cld_prediction of the model */
  float *trajectory; /* optional: (steps + 1, n, C*H*W) states, x_T first (analysis, tests) */
  const float *x_init; /* optional: (n, C*H*W) starting states instead of Philox noise */
  /* EDM samplers: grid (sigma_min, sigma_max, rho), churn (S_churn, S_min, S_max, S_noise), sigma_data */
  float edm_sigma_min, edm_sigma_max, edm_rho, s_churn, s_min, s_max, s_noise, sigma_data;
  /* DPM-Solver: order (1-3, default 2), multistep (else singlestep "fast"), grid (cld_dpm_grid) */
  int dpm_order;
  bool dpm_multistep;
  int dpm_grid;
  /* the model outputs (eps, v) with 2C channels (iDDPM learned range): ddpm uses the learned
   * variance exp(f log beta + (1 - f) log beta~), f = (v + 1)/2; other samplers use eps only.
   * cld_sample sets it from the model's output channels. */
  bool learned_sigma;
  /* Time-Shift (cldiff/methods.h): window 0 = off. Applies to ddpm, ddim, spndm, fpndm and
   * dpm-solver (target mode: not dpm-solver; ADM mode: ddim only). */
  cld_time_shift ts;
  /* DPM-Solver++ (dpm++2m, dpm++3m, dpm++2m-sde): Karras et al.'s sigma spacing (diffusers'
   * use_karras_sigmas), and dynamic thresholding of the data prediction (Imagen's; diffusers'
   * thresholding with dynamic_thresholding_ratio = dyn_threshold, sample_max_value = dyn_max;
   * 0: off) */
  bool karras;
  float dyn_threshold, dyn_max;
  /* exponential sigma spacing (diffusers' use_exponential_sigmas), dpm++* and unipc; not with karras */
  bool exp_sigmas;
  /* UniPC: order 1-3 (default 2: cld_sample_params_default sets it; 0 reads as 2) and the B(h)
   * variant: false bh2 (diffusers' default), true bh1 */
  int unipc_order;
  bool unipc_bh1;
  /* Epsilon Scaling (cldiff/methods.h): the network's eps divided by lambda(t) at every model
   * evaluation; every discrete-time sampler (not euler/heun). {0, 0} or {1, 0}: off. */
  cld_eps_scale eps_scale;
  /* class-conditional models (cld_model_class_kind TABLE or TIMESTEP). Image i is of class
   * classes[i % n_classes]; with classes NULL every image is unconditional: the null class.
   * null_class: the label of the unconditional model (label dropout's, trainer.json "null_class"),
   * -1 when the model has none (then classes are needed, and guidance is refused). guidance: the
   * classifier-free guidance weight W: the model output is out_u + W (out_c - out_u), the
   * unconditional (null-class) output computed in the same forward as a doubled batch (for a
   * learned-variance model the eps half is guided, the variance is the conditional one's); W = 1
   * (the default) is the plain conditional model, with no doubled batch. Every sampler takes it,
   * Time-Shift included. Not with trajectory. */
  const int *classes;
  int n_classes;
  int null_class;
  float guidance;
} cld_sample_params;
CLD_API cld_sample_params cld_sample_params_default(void); /* ddim 50 steps, eta 0, batch 16, linear T=1000, eps */
/* Why p cannot sample (a static message naming the field and its CLI flag), or NULL: which sampler
 * takes which option. *code (optional) gets CLD_ERR_INVALID_ARG for a bad value,
 * CLD_ERR_UNSUPPORTED for a combination a sampler does not take. cld_sample checks it too. */
CLD_API const char *cld_sample_params_check(const cld_sample_params *p, cld_status *code);

typedef void (*cld_sample_progress)(void *user, int step, int total, int64_t images_done, int64_t images);
/* Any denoiser: out (batch, C, H, W) = model output (eps, x0 or v per the params) for x at the
 * integer timesteps t (as floats). */
typedef cld_status (*cld_denoiser_fn)(void *user, const float *x, const float *t, int batch, float *out);
/* The sampling loop over any denoiser (cld_sample uses it with the UNet). */
CLD_API cld_status cld_sample_with(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int c, int h, int w,
                                   const cld_sample_params *p, int64_t first, int64_t n, float *out,
                                   cld_sample_progress progress, void *user);
/* Samples images first .. first+n-1 into out (n, C, H, W), values in roughly [-1, 1]. The
 * model's parameters must already be in its store. */
CLD_API cld_status cld_sample(cld_ctx *ctx, cld_model *m, const cld_sample_params *p, int64_t first, int64_t n, int h, int w,
                              float *out, cld_sample_progress progress, void *user);
/* Images first .. first+n-1 sampled by the ranks of comm, each its share of consecutive indices
 * (ceil(n / size)), gathered in order into out on rank 0 (out is unused elsewhere and may be
 * NULL). Image i depends only on (seed, i), so the result is byte-identical to cld_sample in one
 * process. Every rank returns the same status. comm NULL or of size 1: cld_sample. */
CLD_API cld_status cld_sample_comm(cld_ctx *ctx, cld_model *m, const cld_sample_params *p, const cld_comm *comm, int64_t first,
                                   int64_t n, int h, int w, float *out, cld_sample_progress progress, void *user);
#ifdef __cplusplus
}
#endif
#endif
