/* cldiff noise schedules: the one module every sampler and method reads its alpha_bar, SNR,
 * sigma, log-SNR and time grids from. Host code in double precision; depends on nothing else
 * in cldiff. Conventions (shared/METHODS.md sections 1, 2 and decision 6): t in {0..T-1},
 * alpha_bar_t = prod_{s<=t} (1 - beta_s), so alpha_bar_0 = 1 - beta_0. */
#ifndef CLDIFF_SCHEDULE_H
#define CLDIFF_SCHEDULE_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  CLD_BETA_LINEAR = 0,        /* DDPM: linspace(1e-4 s, 0.02 s, T), s = 1000/T */
  CLD_BETA_SCALED_LINEAR = 1, /* diffusers/LDM: linspace(sqrt(b0), sqrt(b1), T)^2 with 0.00085, 0.012 */
  CLD_BETA_COSINE = 2,        /* iDDPM: from alpha_bar(u) = cos^2(((u+0.008)/1.008) pi/2), beta clipped at 0.999 */
  CLD_BETA_SIGMOID = 3        /* lucidrains/EPDM: start -3, end 3, tau 1, beta clipped to [0, 0.999] */
} cld_beta_schedule;

typedef struct cld_schedule {
  int T;
  double *beta, *alpha_bar;      /* (T) */
  /* DDPM posterior q(x_{t-1} | x_t, x0): variance and mean coefficients (c1 on x0, c2 on x_t);
   * beta_tilde_0 = 0, log-variance clipped at t=0 to beta_tilde_1 as guided-diffusion does */
  double *beta_tilde, *post_c1, *post_c2, *post_log_var_clipped;
} cld_schedule;

/* Parses "linear", "scaled-linear", "cosine", "sigmoid"; returns -1 if unknown. */
CLD_API int cld_beta_schedule_parse(const char *name);
CLD_API const char *cld_beta_schedule_name(cld_beta_schedule kind);
/* Builds a schedule of T steps (T >= 2). NULL with errno EINVAL on bad arguments (a kind, a T, or
 * betas outside (0, 1): linear needs T > 20), ENOMEM when out of memory. */
CLD_API cld_schedule *cld_schedule_create(cld_beta_schedule kind, int T);
/* A schedule from explicit betas (each in (0, 1)); NULL with errno as cld_schedule_create. */
CLD_API cld_schedule *cld_schedule_from_betas(const double *beta, int T);
CLD_API void cld_schedule_destroy(cld_schedule *s);

/* diffusers' scheduler_config.json (DDPMScheduler, DDIMScheduler and the other discrete-time
 * schedulers' keys) as cldiff follows it. Refused with the key named (CLD_ERR_FORMAT, err): explicit
 * trained_betas, beta schedules or beta ranges cldiff's named schedules do not reproduce
 * (diffusers' linear equals cldiff's only at 1e-4..0.02 x 1000/T; its sigmoid is another curve),
 * prediction types other than epsilon / v_prediction / sample, variance types other than
 * fixed_small / fixed_large / learned_range, dynamic thresholding, a clip range other than 1.
 * timestep_spacing and steps_offset give the grid spec cld_respace takes ("leadingN+K", "trailingN",
 * "linspaceN"): the CLI's DDPM/DDIM/PNDM grid when no --respacing is given. */
typedef struct cld_scheduler_config {
  int schedule, T;            /* cld_beta_schedule, num_train_timesteps */
  int prediction;             /* cld_prediction */
  int var_type;               /* cld_var_type, for DDPM */
  bool learned_range;         /* variance_type learned_range: the model has 2C outputs */
  bool clip_sample;           /* clip_sample (diffusers' default: true) */
  char class_name[64];        /* _class_name, "" if absent */
  char spacing[16];           /* timestep_spacing ("leading" if absent) */
  int steps_offset;           /* steps_offset (0 if absent) */
} cld_scheduler_config;
CLD_API cld_status cld_scheduler_config_parse(const char *json, cld_scheduler_config *out, char *err, size_t errlen);
/* The JSON diffusers reads back (malloc'd), class_name (NULL: DDIMScheduler) as _class_name; NULL
 * for a schedule diffusers cannot express (cldiff's sigmoid). */
CLD_API char *cld_scheduler_config_json(const cld_scheduler_config *c, const char *class_name);

/* per-step quantities (t clamped to [0, T-1]) */
CLD_API double cld_schedule_snr(const cld_schedule *s, int t);     /* abar / (1 - abar) */
CLD_API double cld_schedule_log_snr(const cld_schedule *s, int t); /* lambda_t = log(alpha_t / sigma_t) * 2 */
CLD_API double cld_schedule_sigma(const cld_schedule *s, int t);   /* EDM-equivalent sqrt((1-abar)/abar) */
/* ADM learned-range variance: exp(f log beta_t + (1-f) log beta_tilde_t), f = (v + 1) / 2 */
CLD_API double cld_schedule_learned_var(const cld_schedule *s, int t, double v);

/* ---- respacing ------------------------------------------------------------------------- */
/* guided-diffusion space_timesteps: "N", "N1,N2,..." (per-section counts) or "ddimN"; or
 * "tsdpmS", the grid of TS-DPM's released pnm_solver (METHODS 4.2 A, vector 11): 0 followed by
 * range(0, T, T // S) + 1 without its last element, e.g. tsdpm10 = 0, 1, 101, ..., 801; or
 * diffusers' timestep_spacing for N steps (cld_diffusers_timesteps): "leadingN" (optionally
 * "+K", steps_offset K), "trailingN", "linspaceN"; the walk goes from each time to the next lower
 * grid time, as diffusers' DDPM/DDIM do for leading and trailing (for linspace diffusers steps to
 * t - T/N instead, which is not a grid time). Writes
 * the kept original indices ascending into out (capacity max); returns their count, or a
 * negative value when the spec is malformed or asks for more steps than T. */
CLD_API int cld_respace(int T, const char *spec, int *out, int max);
/* true for a spec whose walk ends at its first grid time (tsdpmS: the last step goes 1 -> 0 and
 * stops at abar_0, with no step to x0); the others end with a step to x0 */
CLD_API bool cld_respace_ends_on_grid(const char *spec);
/* Betas of the respaced chain: beta'_k = 1 - abar[tau_k] / abar[tau_{k-1}], abar[tau_-1] = 1. */
CLD_API void cld_respaced_betas(const cld_schedule *s, const int *taus, int n, double *beta_out);
/* diffusers timestep spacings, descending as diffusers returns them: "linspace", "leading"
 * (steps_offset added), "trailing". Returns n, or negative on a bad spacing or n. */
CLD_API int cld_diffusers_timesteps(int T, int n, const char *spacing, int steps_offset, int *out);

/* ---- DPM-Solver continuous time for a discrete schedule (METHODS.md 1, 8.4) --------------- */
/* Knots t_n = (n+1)/T, log alpha(t_n) = 0.5 * cumsum(log(1 - beta))[n], piecewise-linear
 * interpolation (linear extrapolation outside the knots), as DPM-Solver's NoiseScheduleVP. */
CLD_API double cld_dpm_log_alpha(const cld_schedule *s, double t);
CLD_API double cld_dpm_sigma(const cld_schedule *s, double t);
CLD_API double cld_dpm_lambda(const cld_schedule *s, double t);
CLD_API double cld_dpm_inverse_lambda(const cld_schedule *s, double lambda);
/* The model's input time for continuous t: (t - 1/T) * 1000 (for T = 1000: 999 at t = 1). */
CLD_API double cld_dpm_model_time(const cld_schedule *s, double t);
typedef enum { CLD_DPM_TIME_UNIFORM = 0, CLD_DPM_LOGSNR = 1, CLD_DPM_TIME_QUADRATIC = 2 } cld_dpm_grid;
/* n + 1 times from t_T = 1 down to t_0 = 1/T. Returns 0, or negative on bad arguments. */
CLD_API int cld_dpm_time_grid(const cld_schedule *s, cld_dpm_grid kind, int n, double *out);

/* ---- EDM (Karras et al.) ----------------------------------------------------------------- */
/* sigma_i = (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho, i < n, then sigma_n = 0:
 * n + 1 values. */
CLD_API void cld_edm_sigmas(int n, double sigma_min, double sigma_max, double rho, double *out);
typedef struct { double c_skip, c_out, c_in, c_noise, weight; } cld_edm_precond;
CLD_API cld_edm_precond cld_edm_precond_at(double sigma, double sigma_data);

#ifdef __cplusplus
}
#endif
#endif
