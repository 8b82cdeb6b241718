/* The five methods of cldiff (shared/METHODS.md, "decisions"), each in its own translation unit
 * under src/methods/, reachable through cld_train_params.methods (training) and
 * cld_sample_params.ts (sampling). The functions below are the pieces the train and sampler loops
 * call; they are public so that tests and embedding apps can check them against the reference
 * numbers. */
#ifndef CLDIFF_METHODS_H
#define CLDIFF_METHODS_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cld_graph cld_graph;
typedef struct cld_tensor cld_tensor;
typedef struct cld_schedule cld_schedule;

typedef enum { CLD_WEIGHT_CONST = 0, CLD_WEIGHT_DEBIAS = 1, CLD_WEIGHT_MIN_SNR = 2, CLD_WEIGHT_P2 = 3 } cld_weighting;

/* Training-side methods; all off by default (the zero value of each field is "off"). */
typedef struct cld_methods {
  /* Input Perturbation: x_t = sqrt(ab) x0 + sqrt(1 - ab)(eps + gamma_t xi), target from the
   * unperturbed eps. gamma_t = ip_gamma, or with ip_ramp linspace(0.01 gamma, gamma, T)[t]. */
  float ip_gamma;
  bool ip_ramp;
  /* Loss weighting of the per-sample loss (eps/x0/v; not EDM, which has its own lambda(sigma)):
   * const 1; debias 1/sqrt(SNR_t); min-snr min(gamma/SNR, 1) (eps form); p2 1/(k + SNR)^gamma.
   * snr_clamp > 0 clamps SNR to at most that value before the weight is taken. */
  int weighting;
  float snr_clamp, min_snr_gamma, p2_k, p2_gamma; /* defaults 0, 5, 1, 1 */
  /* Error-propagation regulariser: lambda * MMD^2 between a learned ancestral chain of L ~ U{1..K}
   * steps (first half of the batch, from one head ~ U{1..T-1}) and the forward process at the tail
   * (second half); ep_lambda 0 = off, ep_k default 5. */
  float ep_lambda;
  int ep_k;
  /* Stable Target Field: reference set of stf_ref images per step (the batch plus stf_ref - B
   * extra images); 0 = off. */
  int stf_ref;
} cld_methods;
CLD_API cld_methods cld_methods_default(void);

/* ---- Input Perturbation (input_perturbation.c) ---- */
CLD_API double cld_ip_gamma_at(const cld_methods *m, int t, int T);
/* noise that enters x_t: eps + gamma * xi, gamma (B, 1, 1, 1), xi from graph Philox stream 4 */
CLD_API cld_tensor *cld_ip_noise(cld_graph *g, cld_tensor *eps, cld_tensor *gamma);

/* ---- loss weighting (debias.c) ---- */
/* The per-sample weight at alpha_bar (for t: the schedule's alpha_bar[t]), on the eps-MSE. */
CLD_API double cld_loss_weight(const cld_methods *m, double alpha_bar);
/* f with eps-MSE = f * the MSE of the model's own target at alpha_bar (METHODS vector 15): 1 for
 * eps, alpha_bar = SNR/(SNR+1) for v, SNR for x0 (cld_prediction). The trainer weights a v or x0
 * model's loss by cld_loss_weight * f, so every weighting means the same on any target (as
 * Min-SNR's v and x0 forms do); the constant weighting stays the plain MSE of the target. */
CLD_API double cld_eps_mse_factor(int prediction, double alpha_bar);
CLD_API int cld_weighting_parse(const char *s); /* "const", "debias", "min-snr", "p2"; -1 if unknown */
CLD_API const char *cld_weighting_name(int w);

/* ---- Stable Target Field (stable_target.c) ---- */
/* Reference-batch average target (detached): w_ij = softmax_j(-||x_i/s_i - y_j||^2 * snr_i / 2),
 * returns sum_j w_ij y_j. x (B, D) network inputs, y (R, D) reference images, inv_s (B, 1) = 1/s_i,
 * half_snr (B, 1) = s_i^2 / (2 sigma_i^2). VP: s = sqrt(ab), sigma^2 = 1 - ab; EDM: s = 1. */
CLD_API cld_tensor *cld_stf_x0_target(cld_graph *g, cld_tensor *x, cld_tensor *y, cld_tensor *inv_s, cld_tensor *half_snr);

/* ---- Error-propagation regulariser (consistency.c) ---- */
/* MMD^2 (biased V-statistic) of X (n, D) against Y (n, D) with the sum of 5 RBF kernels
 * exp(-d / (bw 2^k)), k = -2..2, bw = detached mean off-diagonal squared distance of the union. */
CLD_API cld_tensor *cld_mmd2_multi_rbf(cld_graph *g, cld_tensor *x, cld_tensor *y);

/* ---- Time-Shift sampler (time_shift.c) ---- */
typedef enum cld_ts_coeffs {
  CLD_TS_SHIFTED = 0, /* network and the step's starting coefficients at t_s (decision 2) */
  CLD_TS_NOMINAL = 1, /* network at t_s, step coefficients at the nominal t (the DEIS path) */
  CLD_TS_TARGET = 2,  /* network and start at the nominal t; the step ends at t_s matched around the
                         nominal next time (the released DDIM/PNDM code, METHODS 4.2 A) */
  CLD_TS_ADM = 3,     /* the ADM backbone's DDIM (METHODS 4.2 D): network and start at the nominal t,
                         the end from cld_ts_select_adm; DDIM only, not data_aware */
  CLD_TS_RELEASED = 4 /* the default (cld_sample_params_default): the sampler's released code path,
                         cld_ts_resolve's choice - target on DDPM/DDIM/PNDM, shifted on DPM-Solver */
} cld_ts_coeffs;
/* the reading CLD_TS_RELEASED stands for on a sampler: CLD_TS_TARGET on the DDPM, DDIM and PNDM
 * samplers (TS-DPM's pnm_solver.py, METHODS 4.2 A), CLD_TS_SHIFTED on DPM-Solver (its released
 * path, 4.2 B, evaluates the next step's network at the matched time: the state is relabelled,
 * as in shifted; cldiff takes the state's variance, not the released code's eps); any other
 * reading is returned as it is */
CLD_API cld_ts_coeffs cld_ts_resolve(cld_ts_coeffs c, bool dpm_solver);
typedef struct cld_time_shift {
  int window;          /* w: candidates tau in [t - w/2, t + w/2]; 0 = off */
  int cutoff;          /* shift only while the nominal t (next t with CLD_TS_TARGET) > cutoff */
  cld_ts_coeffs coeffs;
  bool data_aware;     /* compare with ab * data_var + (1 - ab) instead of 1 - ab */
  double data_var;     /* mean per-image pixel variance of the training set */
} cld_time_shift;
/* The shifted time for a state of (unbiased, over C*H*W) variance var at nominal time t; t itself
 * when off or t <= cutoff; never below t_floor (the next grid time + 1, so the step still moves
 * down) nor outside [0, T-1]. */
CLD_API int cld_ts_select(const cld_time_shift *ts, const cld_schedule *s, double var, int t, int t_floor);
/* CLD_TS_TARGET: the time the step from nominal t ends at, for a current state of variance var:
 * argmin over tau in [t_next - w/2, t_next + w/2], clamped to [0, t - 1]; t_next itself when off,
 * t_next <= cutoff or t_next >= t. */
CLD_API int cld_ts_select_target(const cld_time_shift *ts, const cld_schedule *s, double var, int t, int t_next);
/* CLD_TS_ADM, as TS-DPM-ADM's ddim_sample does it (METHODS 4.2 D, vector 13), on a grid of S
 * times: while t > cutoff (cutoff 0: never), tau = argmin over [t - w/2, t + w/2] (or [0, w] when
 * t - w/2 <= 0; capped at T-1) of |var - abar_{T-1-tau}| (the released code's flipped abar list,
 * near 1 - abar_tau only for the cosine schedule), and the step ends at abar of
 * tau - T/(S-1) - 1 (its alphas_cumprod_prev_all offset, which assumes an "S" respacing).
 * Returns that index, -1 for abar = 1 when it falls below 0 (where the released code's negative
 * index would wrap around), or t_next when not shifting; *tau_out (optional) gets tau. */
CLD_API int cld_ts_select_adm(const cld_time_shift *ts, const cld_schedule *s, double var, int t, int t_next, int S,
                              int *tau_out);
/* The sampler loop's time hook for one image and step (the one place the loops ask): the time the
 * network sees (model), the time the step's coefficients start from (coeff) and where the step
 * ends (end; -1 = x0), for a state of variance var at grid time t with next grid time t_next
 * (-1 = x0), `step` steps into a walk of S grid times. Off (ts NULL or window 0): (t, t, t_next).
 * Shifted / nominal: model = cld_ts_select with the next time + 1 as floor, coeff = model or t;
 * target / adm: model = coeff = t, and from the second step the end from cld_ts_select_target /
 * cld_ts_select_adm. */
typedef struct cld_step_times { int model, coeff, end; } cld_step_times;
CLD_API cld_step_times cld_ts_times(const cld_time_shift *ts, const cld_schedule *s, double var, int t, int t_next, int step,
                                    int S);
CLD_API double cld_ts_variance(const float *x, size_t n); /* unbiased variance */
CLD_API double cld_ts_variance_d(const double *x, size_t n); /* the same for a double state (PNDM, DPM-Solver) */

/* ---- Epsilon Scaling (epsilon_scaling.c; Ning et al., ICLR 2024, forever208/ADM-ES) ---- */
/* A sampling-time fix of exposure bias: the network's eps is divided by lambda before it makes
 * the x0 prediction (and, through it, the step). lambda(t) = b + k (i - (N - 1)/2), i = t N / T the
 * respaced index of model time t on an N-step walk of a T-step schedule (ADM-ES's "kt + b": its
 * sampling_scaler list, centred on b; k = 0, the uniform schedule, is its default). b = 0 or
 * (b = 1, k = 0): off. */
typedef struct cld_eps_scale { float b, k; } cld_eps_scale;
CLD_API bool cld_eps_scale_on(const cld_eps_scale *es);
CLD_API double cld_eps_scale_at(const cld_eps_scale *es, double t_model, int N, int T);
/* eps /= lambda, and x0 = (x - sigma eps) / alpha from it */
CLD_API void cld_eps_scale_apply(double lambda, double alpha, double sigma, double x, double *eps, double *x0);

#ifdef __cplusplus
}
#endif
#endif
