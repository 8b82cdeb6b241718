/* S-PNDM and F-PNDM (Liu et al. 2022; TS-DPM pnm_solver.py, METHODS.md 8.3) on the DDIM grid
 * ("ddimN" stride; the step after t = 0 goes to alpha_bar = 1), or the grid p->respacing names
 * (tsdpmS, the released pnm_solver's: S - 1 steps 801 -> ... -> 1 -> 0 at S = 10, ending at
 * alpha_bar_0).
 *   transfer phi(x, e, t -> t') = sqrt(ab') x0 + sqrt(1 - ab') e, x0 = (x - sqrt(1 - ab) e)/sqrt(ab)
 *     (algebraically PNDM's transfer; equal to DDIM with eta 0)
 *   S-PNDM: first step pseudo improved Euler e = (e1 + e2)/2, storing e1; then (3 e_k - e_{k-1})/2
 *   F-PNDM: first 3 steps pseudo RK4 (t_m = (t + t')/2, alpha_bar at floor(t_m), the model sees t_m),
 *     e = (e1 + 2 e2 + 2 e3 + e4)/6 storing only e1; then (55 e_k - 59 e_{k-1} + 37 e_{k-2} - 9 e_{k-3})/24
 * NFE: S-PNDM steps + 1, F-PNDM steps + 9 (steps = transitions: S, or S - 1 on tsdpmS). Eps/x0/v outputs are converted to eps first.
 * Per image and step the loop's time hook (cld_loop_times) gives the network's time, the time
 * the coefficients start from and the end; the warm-up midpoints are (start + end)/2. */
#include "diffusion/schedule_make.h"
#include "samplers/sampler.h"
#include "runtime/runtime.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double cld_pndm_transfer(double ab, double ab_next, double x, double e) {
  double x0 = (x - sqrt(1.0 - ab) * e) / sqrt(ab);
  return sqrt(ab_next) * x0 + sqrt(1.0 - ab_next) * e;
}

/* linear-multistep combinations; e oldest -> newest */
double cld_pndm_combine(int kind, const double *e) {
  switch (kind) {
  case 0: return (e[0] + 2 * e[1] + 2 * e[2] + e[3]) / 6.0;            /* pseudo RK4 (e1..e4) */
  case 1: return (3 * e[1] - e[0]) / 2.0;                              /* S-PNDM, AB2 */
  default: return (55 * e[3] - 59 * e[2] + 37 * e[1] - 9 * e[0]) / 24.0; /* F-PNDM, AB4 */
  }
}

typedef struct {
  cld_eps_eval ev;
  const cld_schedule *s;
} pndm_eval;

static double ab_at(const pndm_eval *e, double t) { /* t < 0: the end of the chain */
  if (t < 0) return 1.0;
  int i = (int)t;
  return e->s->alpha_bar[i < e->s->T ? i : e->s->T - 1];
}

/* eps of each image at model time tm[i], converted with alpha_bar at tc[i] */
static cld_status eps_at(pndm_eval *e, const double *x, const double *tm, const double *tc, double *eps) {
  for (int i = 0; i < e->ev.nb; i++) {
    double ab = ab_at(e, tc[i]);
    e->ev.t_model[i] = tm[i] < 0 ? 0.0 : tm[i];
    e->ev.alpha[i] = sqrt(ab);
    e->ev.sigma[i] = sqrt(1.0 - ab);
  }
  return cld_eps_eval_run_v(&e->ev, x, e->ev.t_model, e->ev.alpha, e->ev.sigma, eps);
}

static void transfer(const pndm_eval *e, const double *x, const double *eps, const double *t, const double *t2, double *dst) {
  for (int i = 0; i < e->ev.nb; i++) {
    double ab = ab_at(e, t[i]), abn = ab_at(e, t2[i]);
    for (size_t k = (size_t)i * e->ev.per; k < (size_t)(i + 1) * e->ev.per; k++) dst[k] = cld_pndm_transfer(ab, abn, x[k], eps[k]);
  }
}

cld_status cld_pndm_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w, const cld_sample_params *p,
                           int64_t first, int64_t n, float *out, cld_sample_progress progress, void *user) {
  bool fourth = p->sampler == CLD_SAMPLER_FPNDM;
  cld_schedule *sch;
  cld_status sst = cld_schedule_make(ctx, "sample", p->schedule, p->T, &sch);
  if (sst) return sst;
  int *taus, K, kend; /* kend 1: tsdpmS stops at its first time */
  cld_status st = cld_sample_grid(ctx, p, &taus, &K, &kend);
  if (st) {
    cld_schedule_destroy(sch);
    return st;
  }
  int B = (int)(p->batch < n ? p->batch : n);
  size_t per = (size_t)C * h * w, tot = (size_t)B * per;
  double *x = malloc(tot * sizeof *x), *xt = malloc(tot * sizeof *xt), *ev[4], *hist[4];
  for (int i = 0; i < 4; i++) { ev[i] = malloc(tot * sizeof(double)); hist[i] = malloc(tot * sizeof(double)); }
  double *comb = malloc(tot * sizeof *comb);
  float *z = malloc(per * sizeof *z);
  pndm_eval e = {{0}, sch};
  double *tv[5]; /* per image: start time for the coefficients, model time, midpoint, end, scratch */
  for (int i = 0; i < 5; i++) tv[i] = malloc((size_t)B * sizeof(double));
  cld_step_times *times = malloc((size_t)B * sizeof *times); /* the time hook's answer per image */
  st = cld_eps_eval_init(&e.ev, model, model_user, p, B, per);
  for (int i = 0; i < 5; i++) if (!tv[i]) st = CLD_ERR_NOMEM;
  for (int i = 0; i < 4; i++) if (!ev[i] || !hist[i]) st = CLD_ERR_NOMEM;
  if (st || !x || !xt || !comb || !z || !times) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = e.ev.nb = (int)(n - b0 < B ? n - b0 : B);
    size_t m = (size_t)nb * per;
    cld_sample_start(p, first, b0, nb, per, 1.0, x, z);
    int nh = 0; /* stored eps history, hist[0] oldest */
    for (int k = K - 1, step = 0; k >= kend && !st; k--, step++) {
      double t = taus[k], t2 = k > 0 ? taus[k - 1] : -1.0;
      double *tc = tv[0], *tmod = tv[1], *tmid = tv[2], *tend = tv[3];
      cld_loop_times(p, sch, NULL, x, nb, nb, per, (int)t, (int)t2, step, K, times);
      for (int i = 0; i < nb; i++) {
        tmod[i] = times[i].model;
        tc[i] = times[i].coeff;
        tend[i] = times[i].end;
        tmid[i] = (tc[i] + tend[i]) / 2;
      }
      if ((st = eps_at(&e, x, tmod, tc, ev[0]))) break;
      bool warm = fourth ? step < 3 : step < 1;
      if (warm && fourth) { /* pseudo RK4 */
        transfer(&e, x, ev[0], tc, tmid, xt);
        if ((st = eps_at(&e, xt, tmid, tmid, ev[1]))) break;
        transfer(&e, x, ev[1], tc, tmid, xt);
        if ((st = eps_at(&e, xt, tmid, tmid, ev[2]))) break;
        transfer(&e, x, ev[2], tc, tend, xt);
        if ((st = eps_at(&e, xt, tend, tend, ev[3]))) break;
        for (size_t q = 0; q < m; q++) {
          double v[4] = {ev[0][q], ev[1][q], ev[2][q], ev[3][q]};
          comb[q] = cld_pndm_combine(0, v);
        }
      } else if (warm) { /* pseudo improved Euler */
        transfer(&e, x, ev[0], tc, tend, xt);
        if ((st = eps_at(&e, xt, tend, tend, ev[1]))) break;
        for (size_t q = 0; q < m; q++) comb[q] = 0.5 * (ev[0][q] + ev[1][q]);
      } else if (!fourth) {
        for (size_t q = 0; q < m; q++) {
          double v[2] = {hist[nh - 1][q], ev[0][q]};
          comb[q] = cld_pndm_combine(1, v);
        }
      } else {
        for (size_t q = 0; q < m; q++) {
          double v[4] = {hist[nh - 3][q], hist[nh - 2][q], hist[nh - 1][q], ev[0][q]};
          comb[q] = cld_pndm_combine(2, v);
        }
      }
      /* store e_k (e1 during warm-up), keeping the newest 3 */
      if (nh == 3) {
        double *o = hist[0];
        hist[0] = hist[1]; hist[1] = hist[2]; hist[2] = o;
        nh = 2;
      }
      memcpy(hist[nh++], ev[0], m * sizeof(double));
      transfer(&e, x, comb, tc, tend, xt);
      memcpy(x, xt, m * sizeof *x);
      if (p->trajectory)
        for (size_t q = 0; q < m; q++) p->trajectory[((size_t)(step + 1) * (size_t)n + (size_t)b0) * per + q] = (float)x[q];
      if (progress) progress(user, step + 1, K - kend, b0, n);
    }
    for (size_t q = 0; q < m && !st; q++) out[(size_t)b0 * per + q] = (float)x[q];
  }
  free(x); free(xt); free(comb); free(z); free(taus);
  for (int i = 0; i < 4; i++) { free(ev[i]); free(hist[i]); }
  cld_eps_eval_free(&e.ev);
  for (int i = 0; i < 5; i++) free(tv[i]);
  free(times);
  cld_schedule_destroy(sch);
  return st;
}
