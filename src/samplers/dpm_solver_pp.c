/* DPM-Solver++ (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
 * Probabilistic Models"), multistep 2M and 3M: the data-prediction solver as diffusers'
 * DPMSolverMultistepScheduler with algorithm_type "dpmsolver++", solver_order 2 or 3, solver_type
 * "midpoint", lower_order_final, final_sigmas_type "zero" and timestep_spacing "linspace": first
 * order at the first step and the last, second order at the second (and, below 15 steps, the
 * one before the last), the solver's order elsewhere. N model evaluations at
 * t_i = round(linspace(0, T - 1, N + 1))[N - i] (i = 0 .. N-1, half to even as numpy), sigma_i =
 * sqrt((1 - abar) / abar) there, alpha = 1 / sqrt(1 + sigma^2), sigma_t = sigma alpha,
 * lambda = log alpha - log sigma_t; the last step goes to sigma = 0, i.e. to the x0 prediction.
 * Singlestep 2S: see pp_2s_update. The SDE variant (algorithm_type "sde-dpmsolver++", order 2) adds fresh noise at every step:
 * Philox(seed, stream 0x2000 + k, image offset) with k the step's place in the ascending grid, as
 * the DDPM loop draws it.
 * Dynamic thresholding (Imagen; diffusers' thresholding): each image's data prediction is clamped
 * to [-s, s] and divided by s, s its `ratio` quantile of |x0| (linear interpolation) clamped to
 * [1, max]; with max = 1 that is plain clipping to [-1, 1].
 * With karras (use_karras_sigmas) the N sigmas are Karras et al.'s rho = 7 ramp between the
 * schedule's smallest and largest sigma, and each model time is the schedule time of that sigma
 * (interpolated in log sigma; rounded except for the cosine schedule, as diffusers does). With
 * exp_sigmas (use_exponential_sigmas) the N sigmas are even in log sigma between the same ends,
 * each model time that sigma's schedule time truncated to an integer (diffusers' int64 cast).
 * The grid and the thresholding are shared with UniPC (unipc.c). */
#include "samplers/sampler.h"
#include "diffusion/schedule_make.h"
#include "runtime/runtime.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double sched_sigma(const cld_schedule *s, int t) { return sqrt((1.0 - s->alpha_bar[t]) / s->alpha_bar[t]); }

/* the schedule time of sigma, interpolated linearly in log sigma between its two neighbours
 * (diffusers' _sigma_to_t) */
static double sigma_to_t(const cld_schedule *s, double sigma) {
  double ls = log(fmax(sigma, 1e-10));
  int lo = 0;
  for (int k = 0; k < s->T; k++)
    if (ls >= log(sched_sigma(s, k))) lo = k;
  if (lo > s->T - 2) lo = s->T - 2;
  double a = log(sched_sigma(s, lo)), b = log(sched_sigma(s, lo + 1)), w = fmin(fmax((a - ls) / (a - b), 0.0), 1.0);
  return (1.0 - w) * lo + w * (lo + 1);
}

/* the N model times and N + 1 grid sigmas (the last 0) */
void cld_pp_grid(const cld_schedule *s, int N, bool karras, bool exponential, bool round_t, double *ts, double *sig) {
  double step = (double)(s->T - 1) / (double)N; /* numpy's linspace: j * step, the end exact */
  double lo = pow(sched_sigma(s, 0), 1.0 / 7.0), hi = pow(sched_sigma(s, s->T - 1), 1.0 / 7.0);
  double llo = log(sched_sigma(s, 0)), lhi = log(sched_sigma(s, s->T - 1));
  for (int i = 0; i < N; i++) {
    if (exponential) { /* diffusers' use_exponential_sigmas: even in log sigma; the time truncated to an integer */
      double sg = exp(N > 1 ? lhi + (double)i * (llo - lhi) / (double)(N - 1) : lhi);
      ts[i] = trunc(sigma_to_t(s, sg));
      sig[i] = (double)(float)sg;
      continue;
    }
    if (karras) {
      double ramp = N > 1 ? (double)i / (double)(N - 1) : 0.0;
      double sg = pow(hi + ramp * (lo - hi), 7.0);
      ts[i] = round_t ? rint(sigma_to_t(s, sg)) : sigma_to_t(s, sg);
      sig[i] = (double)(float)sg; /* diffusers keeps the grid in float32 */
      continue;
    }
    int j = N - i;
    ts[i] = rint(j == N ? (double)(s->T - 1) : (double)j * step);
    sig[i] = sched_sigma(s, (int)ts[i]);
  }
  sig[N] = 0.0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* dynamic thresholding of one image's data prediction; tmp: per doubles */
void cld_pp_threshold(double *x0, size_t per, double ratio, double max, double *tmp) {
  for (size_t q = 0; q < per; q++) tmp[q] = fabs(x0[q]);
  qsort(tmp, per, sizeof *tmp, cmp_double);
  double pos = ratio * (double)(per - 1);
  size_t lo = (size_t)pos;
  double s = lo + 1 < per ? tmp[lo] + (pos - (double)lo) * (tmp[lo + 1] - tmp[lo]) : tmp[per - 1];
  s = fmin(fmax(s, 1.0), max);
  for (size_t q = 0; q < per; q++) x0[q] = fmin(fmax(x0[q], -s), s) / s;
}


/* the order of step i of N for a solver of order `order` (diffusers' lower-order rules) */
static int pp_order(int i, int N, int order) {
  if (i == 0 || i == N - 1) return 1;
  if (i == 1 || (order == 3 && i == N - 2 && N < 15)) return order < 2 ? order : 2;
  return order;
}

/* DPM-Solver++(2S) (diffusers' DPMSolverSinglestepScheduler, solver_order 2, midpoint,
 * lower_order_final): steps in pairs, 1 2 1 2 ... with the last step first order; a first-order
 * step keeps its start x_s1, the second-order step after it goes from that x_s1 straight to
 * t = sigma i + 1 with the predictions at s1 (m[1]) and s0 = sigma i (m[0]) */
static int pp_2s_order(int i, int N) {
  if (i == N - 1) return 1;
  return i % 2 == 1 ? 2 : 1;
}
static void pp_2s_update(double *x, const double *xs1, size_t per, const double *sig, int i, const double *const m[3]) {
  double s1 = sig[i - 1], s0 = sig[i], st = sig[i + 1];
  double at = cld_pp_alpha(st), h = cld_pp_lambda(st) - cld_pp_lambda(s1), r0 = (cld_pp_lambda(s0) - cld_pp_lambda(s1)) / h;
  double ratio = (st * at) / (s1 * cld_pp_alpha(s1)), c = at * expm1(-h);
  for (size_t q = 0; q < per; q++) {
    double d1 = (m[0][q] - m[1][q]) / r0;
    x[q] = ratio * xs1[q] - c * m[1][q] - 0.5 * c * d1;
  }
}

/* the SDE variant's step (orders 1 and 2, midpoint): x <- sigma_t/sigma_s e^-h x + alpha_t
 * (1 - e^-2h)(D0 + D1 / 2) + sigma_t sqrt(1 - e^-2h) z */
static void pp_sde_update(double *x, size_t per, const double *sig, int i, const double *const m[3], int o, const float *z) {
  double ss = sig[i], st = sig[i + 1];
  if (st == 0.0) {
    memcpy(x, m[0], per * sizeof *x);
    return;
  }
  double at = cld_pp_alpha(st), h = cld_pp_lambda(st) - cld_pp_lambda(ss), ratio = (st * at) / (ss * cld_pp_alpha(ss)) * exp(-h);
  double c = -at * expm1(-2.0 * h), nz = st * at * sqrt(-expm1(-2.0 * h));
  double r0 = o == 2 ? (cld_pp_lambda(ss) - cld_pp_lambda(sig[i - 1])) / h : 1.0;
  for (size_t q = 0; q < per; q++) {
    double d1 = o == 2 ? (m[0][q] - m[1][q]) / r0 : 0.0;
    x[q] = ratio * x[q] + c * m[0][q] + 0.5 * c * d1 + nz * z[q];
  }
}

/* one image: x from grid sigma i to i + 1 with the x0 predictions m[0] (now), m[1], m[2] (the
 * steps before), to order o */
static void pp_update(double *x, size_t per, const double *sig, int i, const double *const m[3], int o) {
  double ss = sig[i], st = sig[i + 1];
  if (st == 0.0) { /* the final step to sigma 0: the data prediction itself */
    memcpy(x, m[0], per * sizeof *x);
    return;
  }
  double at = cld_pp_alpha(st), h = cld_pp_lambda(st) - cld_pp_lambda(ss), ratio = (st * at) / (ss * cld_pp_alpha(ss)), c = at * expm1(-h);
  if (o == 1) {
    for (size_t q = 0; q < per; q++) x[q] = ratio * x[q] - c * m[0][q];
    return;
  }
  double r0 = (cld_pp_lambda(ss) - cld_pp_lambda(sig[i - 1])) / h;
  if (o == 2) {
    for (size_t q = 0; q < per; q++) x[q] = ratio * x[q] - c * m[0][q] - 0.5 * c * (m[0][q] - m[1][q]) / r0;
    return;
  }
  double r1 = (cld_pp_lambda(sig[i - 1]) - cld_pp_lambda(sig[i - 2])) / h;
  double c1 = at * (expm1(-h) / h + 1.0), c2 = at * ((expm1(-h) + h) / (h * h) - 0.5);
  for (size_t q = 0; q < per; q++) {
    double d10 = (m[0][q] - m[1][q]) / r0, d11 = (m[1][q] - m[2][q]) / r1;
    double d1 = d10 + r0 / (r0 + r1) * (d10 - d11), d2 = (d10 - d11) / (r0 + r1);
    x[q] = ratio * x[q] - c * m[0][q] + c1 * d1 - c2 * d2;
  }
}

cld_status cld_dpmpp_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w, const cld_sample_params *p,
                            int64_t first, int64_t n, float *out, cld_sample_progress progress, void *user) {
  int N = p->steps, B = (int)(p->batch < n ? p->batch : n);
  cld_schedule *sch;
  cld_status st = cld_schedule_make(ctx, "sample", p->schedule, p->T, &sch);
  if (st) return st;
  size_t per = (size_t)C * h * w, tot = (size_t)B * per;
  double *ts = malloc((size_t)N * sizeof *ts);
  double *sig = malloc((size_t)(N + 1) * sizeof *sig), *x = malloc(tot * sizeof *x), *eps = malloc(tot * sizeof *eps);
  double *m[3] = {malloc(tot * sizeof(double)), malloc(tot * sizeof(double)), malloc(tot * sizeof(double))};
  int order = p->sampler == CLD_SAMPLER_DPMPP_3M ? 3 : 2;
  bool sde = p->sampler == CLD_SAMPLER_DPMPP_2M_SDE, two_s = p->sampler == CLD_SAMPLER_DPMPP_2S;
  double *xs1 = two_s ? malloc(tot * sizeof *xs1) : NULL; /* 2S: the start of the current pair */
  float *z = malloc(per * sizeof *z);
  cld_eps_eval ev;
  st = cld_eps_eval_init(&ev, model, model_user, p, B, per);
  if (st || !ts || !sig || !x || !eps || !m[0] || !m[1] || !m[2] || !z || (two_s && !xs1)) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  if (!st) cld_pp_grid(sch, N, p->karras, p->exp_sigmas, p->schedule != CLD_BETA_COSINE, ts, sig);
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = ev.nb = (int)(n - b0 < B ? n - b0 : B);
    size_t cnt = (size_t)nb * per;
    cld_sample_start(p, first, b0, nb, per, 1.0, x, z);
    for (int i = 0; i < N && !st; i++) {
      double a = cld_pp_alpha(sig[i]), s = sig[i] * a;
      if ((st = cld_eps_eval_run(&ev, x, ts[i], a, s, eps))) break;
      double *oldest = m[2]; /* the history: m[0] newest */
      m[2] = m[1];
      m[1] = m[0];
      m[0] = oldest;
      for (size_t q = 0; q < cnt; q++) m[0][q] = (x[q] - s * eps[q]) / a; /* the data prediction */
      for (int k = 0; k < nb && p->dyn_threshold > 0; k++) cld_pp_threshold(m[0] + (size_t)k * per, per, p->dyn_threshold, p->dyn_max, eps);
      int o = two_s ? pp_2s_order(i, N) : pp_order(i, N, order);
      if (two_s && o == 1) memcpy(xs1, x, cnt * sizeof *x);
      for (int k = 0; k < nb; k++) {
        const double *const mk[3] = {m[0] + (size_t)k * per, m[1] + (size_t)k * per, m[2] + (size_t)k * per};
        if (two_s && o == 2) {
          pp_2s_update(x + (size_t)k * per, xs1 + (size_t)k * per, per, sig, i, mk);
          continue;
        }
        if (!sde) {
          pp_update(x + (size_t)k * per, per, sig, i, mk, o);
          continue;
        }
        cld_rng_normal_host(p->seed, 0x2000u + (uint32_t)(N - 1 - i), (uint64_t)(first + b0 + k) * per, per, z);
        pp_sde_update(x + (size_t)k * per, per, sig, i, mk, o, z);
      }
      if (p->trajectory)
        for (size_t q = 0; q < cnt; q++) p->trajectory[((size_t)(i + 1) * (size_t)n + (size_t)b0) * per + q] = (float)x[q];
      if (progress) progress(user, i + 1, N, b0, n);
    }
    for (size_t q = 0; q < cnt && !st; q++) out[(size_t)b0 * per + q] = (float)x[q];
  }
  free(ts); free(sig); free(x); free(eps); free(m[0]); free(m[1]); free(m[2]); free(z); free(xs1);
  cld_eps_eval_free(&ev);
  cld_schedule_destroy(sch);
  return st;
}
