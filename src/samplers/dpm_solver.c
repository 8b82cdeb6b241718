/* DPM-Solver, noise-prediction form (Lu et al. 2022; TS-DPM's dpm_solver_utils, METHODS.md 8.4),
 * on the discrete schedule's continuous-time interpolation from schedule.c: alpha_t, sigma_t,
 * lambda_t = log alpha_t - log sigma_t, model time 1000 (t - 1/T).
 *   multistep order 2/3: one evaluation per step; the first steps use lower orders, and with
 *     fewer than 15 steps the last ones too (lower_order_final)
 *   singlestep order 1/2/3 ("fast"): K = steps//order (+1) outer steps whose orders use exactly
 *     `steps` evaluations, intermediate times s1, s2 from lambda with r1 = 1/3, r2 = 2/3 (order 3)
 *     or r1 = 1/2 (order 2)
 * Grids: time-uniform, logSNR, time-quadratic from t_T = 1 to t_0 = 1/T. Eps/x0/v models are
 * converted to eps with the continuous alpha, sigma; x0 clipping does not apply here.
 * Per image, the loop's time hook (cld_loop_times, in discrete steps: index i <-> time (i + 1) / T)
 * gives the network's time and the time the step's coefficients start from; multistep: the
 * history's lambdas are each image's own; singlestep: the intermediate times s1, s2 come from each
 * image's own start. */
#include "diffusion/schedule_make.h"
#include "samplers/sampler.h"
#include "cldiff/methods.h"
#include "runtime/runtime.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  cld_eps_eval ev;
  const cld_schedule *s;
} dpm_eval;

static double A(const dpm_eval *e, double t) { return exp(cld_dpm_log_alpha(e->s, t)); }
static double S(const dpm_eval *e, double t) { return cld_dpm_sigma(e->s, t); }
static double L(const dpm_eval *e, double t) { return cld_dpm_lambda(e->s, t); }

/* One multistep update of one image (n values) from its own start time s to t, order o, with the
 * eps history h0 (at th[0] = s), h1 (th[1]), h2 (th[2]); every image shares s and th unless
 * Time-Shift moved them. */
static void ms_update(const dpm_eval *e, double *x, const double *h0, const double *h1, const double *h2, size_t n, int o,
                      double t, const double th[3]) {
  double s = th[0], hh = L(e, t) - L(e, s), ca = A(e, t) / A(e, s), sg = S(e, t), ph = expm1(hh);
  if (o == 1) {
    for (size_t q = 0; q < n; q++) x[q] = ca * x[q] - sg * ph * h0[q];
  } else if (o == 2) {
    double r0 = (L(e, th[0]) - L(e, th[1])) / hh;
    for (size_t q = 0; q < n; q++) {
      double D = (h0[q] - h1[q]) / r0;
      x[q] = ca * x[q] - sg * ph * h0[q] - 0.5 * sg * ph * D;
    }
  } else {
    double h0l = L(e, th[0]) - L(e, th[1]), h1l = L(e, th[1]) - L(e, th[2]), r0 = h0l / hh, r1 = h1l / hh;
    double c1 = sg * (ph / hh - 1), c2 = sg * ((ph - hh) / (hh * hh) - 0.5);
    for (size_t q = 0; q < n; q++) {
      double d10 = (h0[q] - h1[q]) / r0, d11 = (h1[q] - h2[q]) / r1;
      double D1 = d10 + r0 / (r0 + r1) * (d10 - d11), D2 = (d10 - d11) / (r0 + r1);
      x[q] = ca * x[q] - sg * ph * h0[q] - c1 * D1 - c2 * D2;
    }
  }
}

/* The loop's time hook for the step s -> t (continuous times): the hook answers in discrete steps
 * (index i <-> time (i + 1) / T); an answer equal to s's own step is s itself. */
static void step_times(const cld_sample_params *p, const cld_schedule *sch, const double *x, int nb, int B, size_t per, double s,
                       double t, int k, int K, cld_step_times *tt, double *model_t, double *coeff_t) {
  int T = sch->T, is = (int)lround(s * T) - 1, it = (int)lround(t * T) - 1;
  if (is < 0) is = 0;
  if (is > T - 1) is = T - 1;
  cld_loop_times(p, sch, NULL, x, nb, B, per, is, it, k, K, tt);
  for (int i = 0; i < B; i++) {
    model_t[i] = tt[i].model == is ? s : (double)(tt[i].model + 1) / T;
    coeff_t[i] = tt[i].coeff == is ? s : (double)(tt[i].coeff + 1) / T;
  }
}

/* x (n values) <- first-order step s -> t with eps_s, plus optional correction terms added by the caller */
static void step1(const dpm_eval *e, double *x, size_t n, double s, double t, const double *eps_s) {
  double h = L(e, t) - L(e, s), ca = A(e, t) / A(e, s), ce = S(e, t) * expm1(h);
  for (size_t k = 0; k < n; k++) x[k] = ca * x[k] - ce * eps_s[k];
}

/* the per-image model times and alpha, sigma of an evaluation at continuous times tt[i] */
static void eval_at(dpm_eval *e, const double *tt) {
  for (int i = 0; i < e->ev.nb; i++) {
    e->ev.t_model[i] = cld_dpm_model_time(e->s, tt[i]);
    e->ev.alpha[i] = A(e, tt[i]);
    e->ev.sigma[i] = S(e, tt[i]);
  }
}

cld_status cld_dpm_solver_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w,
                                 const cld_sample_params *p, int64_t first, int64_t n, float *out, cld_sample_progress progress,
                                 void *user) {
  int steps = p->steps, order = p->dpm_order ? p->dpm_order : 2, B = (int)(p->batch < n ? p->batch : n);
  if (order < 1 || order > 3 || (p->dpm_multistep && order < 2))
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: DPM-Solver order %d (%s supports %s)", order,
                      p->dpm_multistep ? "multistep" : "singlestep", p->dpm_multistep ? "2, 3" : "1, 2, 3");
  cld_schedule *sch;
  cld_status sst = cld_schedule_make(ctx, "sample", p->schedule, p->T, &sch);
  if (sst) return sst;
  size_t per = (size_t)C * h * w, tot = (size_t)B * per;
  /* singlestep "fast": outer steps and their orders */
  int K = steps, orders[4096];
  if (p->dpm_multistep) {
    for (int i = 0; i < steps && i < 4096; i++) {
      int o = i + 1 < order ? i + 1 : order;
      if (steps < 15 && steps - i < o) o = steps - i; /* lower_order_final */
      orders[i] = o;
    }
  } else if (order == 3) {
    K = steps / 3 + 1;
    for (int i = 0; i < K; i++) orders[i] = 3;
    if (steps % 3 == 0) { orders[K - 2] = 2; orders[K - 1] = 1; }
    else if (steps % 3 == 1) orders[K - 1] = 1;
    else orders[K - 1] = 2;
  } else if (order == 2) {
    K = steps / 2 + steps % 2;
    for (int i = 0; i < K; i++) orders[i] = 2;
    if (steps % 2) orders[K - 1] = 1;
  } else {
    for (int i = 0; i < K; i++) orders[i] = 1;
  }
  double *grid = malloc((size_t)(K + 1) * sizeof *grid), *x = malloc(tot * sizeof *x), *u = malloc(tot * sizeof *u);
  double *hist[3], *e1 = malloc(tot * sizeof *e1), *e2 = malloc(tot * sizeof *e2);
  for (int i = 0; i < 3; i++) hist[i] = malloc(tot * sizeof(double));
  double *tsh = calloc((size_t)B * 3, sizeof(double)); /* per-image history times (Time-Shift) */
  double *tm = malloc((size_t)B * sizeof *tm), *cs = malloc((size_t)B * sizeof *cs); /* singlestep: per-image times */
  cld_step_times *tt = malloc((size_t)B * sizeof *tt);
  float *z = malloc(per * sizeof *z);
  dpm_eval e = {{0}, sch};
  cld_status st = cld_eps_eval_init(&e.ev, model, model_user, p, B, per);
  if (st || !grid || !x || !u || !e1 || !e2 || !hist[0] || !hist[1] || !hist[2] || !z || !tsh || !tm || !cs || !tt || K > 4096)
    st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  if (!st && cld_dpm_time_grid(sch, (cld_dpm_grid)p->dpm_grid, K, grid)) st = cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: bad DPM grid");
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = e.ev.nb = (int)(n - b0 < B ? n - b0 : B);
    size_t m = (size_t)nb * per;
    cld_sample_start(p, first, b0, nb, per, 1.0, x, z);
    int nh = 0; /* multistep history: hist[0] newest */
    for (int k = 0; k < K && !st; k++) {
      double s = grid[k], t = grid[k + 1];
      int o = orders[k];
      if (p->dpm_multistep) {
        double *tmp = hist[2];
        hist[2] = hist[1]; hist[1] = hist[0]; hist[0] = tmp;
        nh = nh < 3 ? nh + 1 : 3;
        if (o > nh) o = nh;
        /* per image: the network at the hook's time, the coefficients (and the history's lambdas)
           at its coefficient time */
        step_times(p, sch, x, nb, B, per, s, t, k, K, tt, tm, cs);
        for (int i = 0; i < B; i++) {
          double *ti = tsh + (size_t)i * 3;
          ti[2] = ti[1]; ti[1] = ti[0]; ti[0] = cs[i];
          e.ev.t_model[i] = cld_dpm_model_time(sch, tm[i]);
          e.ev.alpha[i] = A(&e, tm[i]);
          e.ev.sigma[i] = S(&e, tm[i]);
        }
        if ((st = cld_eps_eval_run_v(&e.ev, x, e.ev.t_model, e.ev.alpha, e.ev.sigma, hist[0]))) break;
        for (int i = 0; i < nb; i++)
          ms_update(&e, x + (size_t)i * per, hist[0] + (size_t)i * per, hist[1] + (size_t)i * per,
                    hist[2] + (size_t)i * per, per, o, t, tsh + (size_t)i * 3);
      } else { /* singlestep: each image starts from its coefficient time (cs), the network's first
                  evaluation at its model time */
        step_times(p, sch, x, nb, B, per, s, t, k, K, tt, tm, cs);
        eval_at(&e, tm);
        if ((st = cld_eps_eval_run_v(&e.ev, x, e.ev.t_model, e.ev.alpha, e.ev.sigma, e1))) break;
        if (o == 1) {
          for (int i = 0; i < nb; i++) step1(&e, x + (size_t)i * per, per, cs[i], t, e1 + (size_t)i * per);
        } else {
          double r1 = o == 2 ? 0.5 : 1.0 / 3.0, r2 = 2.0 / 3.0;
          memcpy(u, x, m * sizeof *u);
          for (int i = 0; i < nb; i++) { /* u1 */
            double ls = L(&e, cs[i]);
            tm[i] = cld_dpm_inverse_lambda(sch, ls + r1 * (L(&e, t) - ls));
            step1(&e, u + (size_t)i * per, per, cs[i], tm[i], e1 + (size_t)i * per);
          }
          eval_at(&e, tm);
          if ((st = cld_eps_eval_run_v(&e.ev, u, e.ev.t_model, e.ev.alpha, e.ev.sigma, e2))) break;
          if (o == 3) {
            memcpy(u, x, m * sizeof *u);
            for (int i = 0; i < nb; i++) { /* u2 */
              double ls = L(&e, cs[i]), hh = L(&e, t) - ls, *ui = u + (size_t)i * per;
              const double *a1 = e1 + (size_t)i * per, *a2 = e2 + (size_t)i * per;
              tm[i] = cld_dpm_inverse_lambda(sch, ls + r2 * hh);
              double sg2 = S(&e, tm[i]), ph2 = expm1(r2 * hh);
              step1(&e, ui, per, cs[i], tm[i], a1);
              for (size_t q = 0; q < per; q++) ui[q] -= r2 / r1 * sg2 * (ph2 / (r2 * hh) - 1) * (a2[q] - a1[q]);
            }
            eval_at(&e, tm);
            if ((st = cld_eps_eval_run_v(&e.ev, u, e.ev.t_model, e.ev.alpha, e.ev.sigma, e2))) break;
          }
          for (int i = 0; i < nb; i++) {
            double hh = L(&e, t) - L(&e, cs[i]), sg = S(&e, t), ph = expm1(hh), *xi = x + (size_t)i * per;
            const double *a1 = e1 + (size_t)i * per, *a2 = e2 + (size_t)i * per;
            double c = o == 2 ? 1.0 / (2 * r1) * sg * ph : 1.0 / r2 * sg * (ph / hh - 1);
            step1(&e, xi, per, cs[i], t, a1);
            for (size_t q = 0; q < per; q++) xi[q] -= c * (a2[q] - a1[q]);
          }
        }
      }
      if (p->trajectory)
        for (size_t q = 0; q < m; q++) p->trajectory[((size_t)(k + 1) * (size_t)n + (size_t)b0) * per + q] = (float)x[q];
      if (progress) progress(user, k + 1, K, b0, n);
    }
    for (size_t q = 0; q < m && !st; q++) out[(size_t)b0 * per + q] = (float)x[q];
  }
  free(grid); free(x); free(u); free(e1); free(e2); free(z); free(tsh); free(tm); free(cs); free(tt);
  for (int i = 0; i < 3; i++) free(hist[i]);
  cld_eps_eval_free(&e.ev);
  cld_schedule_destroy(sch);
  return st;
}
