/* Internal sampler interface: the driver (sampler.c) gives each update rule the state, the
 * model's eps and x0 predictions and fresh noise, for one step from grid time t_cur to t_next. */
#ifndef CLDIFF_SAMPLER_INTERNAL_H
#define CLDIFF_SAMPLER_INTERNAL_H
#include "cldiff/cldiff.h"
#include <math.h>

typedef struct cld_step_args {
  const cld_sample_params *p;
  double ab_cur, ab_next;   /* alpha_bar at the current and next grid time (1 after the last) */
  bool last;                /* the step to t = 0 output: no noise */
  const float *v;           /* learned-range output for this image (NULL: fixed variance) */
} cld_step_args;

/* x_next[i] for one image of n values */
typedef void (*cld_step_fn)(const cld_step_args *a, const float *x, const double *eps, const double *x0, const float *z,
                            float *x_next, size_t n);
/* A batch evaluator for samplers that keep their state in double: model calls on B rows (the
 * first nb are real, the rest repeat row 0), output converted to eps with the given alpha and
 * sigma (eps, x0 or v models); learned-variance models give 2C channels, eps first. */
typedef struct cld_eps_eval {
  cld_denoiser_fn model;
  void *user;
  int prediction, B, nb;
  size_t per, oper;
  float *in, *out, *tv;
  double *t_model, *alpha, *sigma; /* per-image scratch (B) for cld_eps_eval_run and its callers */
  cld_eps_scale es;                 /* Epsilon Scaling, on the sampler's N = steps of a T-step schedule */
  int N, T;
} cld_eps_eval;
/* Starting states of images first+b0 .. first+b0+nb-1 into x (double): x_init, or scale times
 * Philox(seed, stream 0x1000, image offset); also trajectory row 0. z: scratch of per floats. */
void cld_sample_start(const cld_sample_params *p, int64_t first, int64_t b0, int nb, size_t per, double scale, double *x,
                      float *z);
/* The grid a DDPM, DDIM or PNDM loop walks, ascending, into *taus (allocated here, T entries):
 * p->respacing, else "ddimN" for DDIM and PNDM ("N", evenly spaced, when no stride gives exactly
 * N) or "N" for DDPM. *kend is 1 when the walk stops at taus[0] (tsdpmS, not for DDPM), else 0
 * (a last step to x0); *K the number of grid times. */
cld_status cld_sample_grid(cld_ctx *ctx, const cld_sample_params *p, int **taus, int *K, int *kend);
/* The time hook of every loop that takes its times from the grid, for the B rows of a batch (the
 * first nb real): out[i] = cld_ts_times for image i's state (float xf or double xd, per values
 * each) under p->ts; the nominal (t, t, t_next) for padding rows and without Time-Shift. */
void cld_loop_times(const cld_sample_params *p, const cld_schedule *s, const float *xf, const double *xd, int nb, int B, size_t per,
                    int t, int t_next, int step, int S, cld_step_times *out);
cld_status cld_eps_eval_init(cld_eps_eval *e, cld_denoiser_fn model, void *user, const cld_sample_params *p, int B, size_t per);
void cld_eps_eval_free(cld_eps_eval *e);
cld_status cld_eps_eval_run(cld_eps_eval *e, const double *x, double t_model, double alpha, double sigma, double *eps);
/* the same with one model time, alpha and sigma per image (nb of each; Time-Shift) */
cld_status cld_eps_eval_run_v(cld_eps_eval *e, const double *x, const double *t_model, const double *alpha, const double *sigma,
                              double *eps);
/* A model as a cld_denoiser_fn: its forward graph for batch B at h x w, planned once (eval mode).
 * Used by cld_sample and by the exposure measurement; destroy m->g when done (also on failure). */
typedef struct cld_model_denoiser { cld_graph *g; cld_tensor *x, *t, *y; } cld_model_denoiser;
/* DPM-Solver++'s grid (N model times ts, N + 1 sigmas, the last 0; linspace, Karras or
 * exponential spacing) and dynamic thresholding of one image's data prediction (tmp: per doubles),
 * shared by dpm_solver_pp.c and unipc.c */
/* alpha and lambda = log alpha - log (sigma alpha) of a grid sigma (sqrt((1 - abar) / abar)) */
static inline double cld_pp_alpha(double sig) { return 1.0 / sqrt(1.0 + sig * sig); }
static inline double cld_pp_lambda(double sig) { return -log(sig); }
void cld_pp_grid(const cld_schedule *s, int N, bool karras, bool exponential, bool round_t, double *ts, double *sig);
void cld_pp_threshold(double *x0, size_t per, double ratio, double max, double *tmp);
cld_status cld_unipc_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w, const cld_sample_params *p,
                            int64_t first, int64_t n, float *out, cld_sample_progress progress, void *user);
/* cld_sample for a class-conditional model, or with classes or guidance set (guidance.c) */
cld_status cld_sample_cond(cld_ctx *ctx, cld_model *mod, const cld_sample_params *p, int64_t first, int64_t n, int h, int w,
                           float *out, cld_sample_progress progress, void *user);
cld_status cld_model_denoiser_init(cld_ctx *ctx, cld_model *mod, int B, int h, int w, cld_model_denoiser *m);
cld_status cld_model_denoise(void *user, const float *x, const float *t, int batch, float *out);
/* PNDM (pndm.c): the loop and its two formulas (exposed for the METHODS.md vectors 19-20) */
cld_status cld_pndm_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w, const cld_sample_params *p,
                           int64_t first, int64_t n, float *out, cld_sample_progress progress, void *user);
double cld_pndm_transfer(double ab, double ab_next, double x, double e);
double cld_pndm_combine(int kind, const double *e); /* 0 RK4 (e1..e4), 1 AB2 (e_{k-1}, e_k), 2 AB4 (oldest..newest) */
/* DPM-Solver loop (dpm_solver.c) */
/* DPM-Solver++ 2M (dpm_solver_pp.c) */
cld_status cld_dpmpp_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w, const cld_sample_params *p,
                            int64_t first, int64_t n, float *out, cld_sample_progress progress, void *user);
cld_status cld_dpm_solver_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w,
                                 const cld_sample_params *p, int64_t first, int64_t n, float *out, cld_sample_progress progress,
                                 void *user);
/* EDM Euler/Heun loop (edm_heun.c) */
cld_status cld_edm_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w, const cld_sample_params *p,
                          int64_t first, int64_t n, float *out, cld_sample_progress progress, void *user);
void cld_ddpm_step(const cld_step_args *a, const float *x, const double *eps, const double *x0, const float *z,
                   float *x_next, size_t n);
void cld_ddim_step(const cld_step_args *a, const float *x, const double *eps, const double *x0, const float *z,
                   float *x_next, size_t n);
#endif
