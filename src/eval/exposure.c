/* Exposure-bias curves: a sampling run is instrumented through the denoiser callback, so every
 * network evaluation records the state it saw (its per-image variance) and the x0-prediction made
 * from it. The same network is then evaluated at the same times on forward-process states built
 * from real images. Works with every discrete-time sampler (DDPM, DDIM, S/F-PNDM, DPM-Solver);
 * fractional model times (PNDM midpoints, DPM-Solver) read alpha_bar at the nearest index. */
#include "diffusion/schedule_make.h"
#include "diffusion/prediction.h"
#include "runtime/runtime.h"
#include "samplers/sampler.h"
#include "cldiff/eval.h"
#include "cldiff/data.h"
#include "cldiff/graph.h"
#include "cldiff/methods.h"
#include "cldiff/models.h"
#include "cldiff/rng.h"
#include "cldiff/sample.h"
#include "cldiff/schedule.h"
#include "cldiff/train.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rec {
  cld_model_denoiser net;
  const cld_schedule *sch;
  int prediction, n;
  size_t per, oper;
  int calls, cap;
  double *t_at, *var_at; /* per call */
  float *x0hat;          /* per call: (n, per) */
  cld_status err;
} rec;

static void x0_from_output(const rec *r, const float *x, const float *o, double t, float *x0) {
  int ti = (int)lround(t);
  if (ti < 0) ti = 0;
  if (ti >= r->sch->T) ti = r->sch->T - 1;
  double ab = r->sch->alpha_bar[ti], sa = sqrt(ab), s1 = sqrt(1 - ab);
  for (int i = 0; i < r->n; i++)
    for (size_t j = 0; j < r->per; j++) {
      double e, x0v;
      cld_output_eps_x0(r->prediction, sa, s1, x[i * r->per + j], o[i * r->oper + j], &e, &x0v);
      x0[i * r->per + j] = (float)x0v;
    }
}

static cld_status recording_denoiser(void *user, const float *x, const float *t, int batch, float *out) {
  rec *r = user;
  (void)batch;
  cld_status st = cld_model_denoise(&r->net, x, t, r->n, out);
  if (st) return st;
  if (r->calls == r->cap) {
    int cap = r->cap ? 2 * r->cap : 64;
    double *ta = realloc(r->t_at, (size_t)cap * sizeof *ta);
    if (ta) r->t_at = ta;
    double *va = realloc(r->var_at, (size_t)cap * sizeof *va);
    if (va) r->var_at = va;
    float *xa = realloc(r->x0hat, (size_t)cap * r->n * r->per * sizeof *xa);
    if (xa) r->x0hat = xa;
    if (!ta || !va || !xa) return r->err = CLD_ERR_NOMEM;
    r->cap = cap;
  }
  double v = 0;
  for (int i = 0; i < r->n; i++) v += cld_ts_variance(x + i * r->per, r->per);
  r->t_at[r->calls] = t[0];
  r->var_at[r->calls] = v / r->n;
  x0_from_output(r, x, out, t[0], r->x0hat + (size_t)r->calls * r->n * r->per);
  r->calls++;
  return CLD_OK;
}

cld_status cld_exposure_measure(cld_ctx *ctx, cld_model *m, const cld_dataset *real, const cld_sample_params *p, int64_t n,
                                cld_exposure_row **rows_out, int *n_rows) {
  if (!ctx || !m || !real || !p || !rows_out || !n_rows) return CLD_ERR_INVALID_ARG;
  if (p->sampler == CLD_SAMPLER_EULER || p->sampler == CLD_SAMPLER_HEUN || p->prediction == CLD_PRED_EDM)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "exposure: needs a discrete-time model and sampler (ddpm, ddim, spndm, fpndm, dpm-solver)");
  int C = cld_model_channels(m), S = cld_model_sample_size(m);
  if (real->c != C || real->h != S || real->w != S)
    return cld_seterr(ctx, CLD_ERR_SHAPE, "exposure: %s is %dx%dx%d, the model takes %dx%dx%d", real->name, real->c, real->h, real->w, C, S, S);
  if (n < 2 || n > 4096 || n > real->n)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "exposure: n = %lld must be in 2..4096 and at most the %lld real images", (long long)n,
                      (long long)real->n);
  rec r;
  memset(&r, 0, sizeof r);
  r.prediction = p->prediction;
  r.n = (int)n;
  r.per = (size_t)C * S * S;
  r.oper = (size_t)cld_model_out_channels(m) * S * S;
  cld_schedule *sch = NULL;
  cld_status st = cld_schedule_make(ctx, "exposure", p->schedule, p->T, &sch);
  r.sch = sch;
  if (!st) st = cld_model_denoiser_init(ctx, m, (int)n, S, S, &r.net);
  float *final = malloc(n * r.per * sizeof *final), *xt = malloc(n * r.per * sizeof *xt), *eps = malloc(n * r.per * sizeof *eps);
  float *o = malloc(n * r.oper * sizeof *o), *x0h = malloc(n * r.per * sizeof *x0h), *tv = malloc((size_t)n * sizeof *tv);
  if (!st && (!final || !xt || !eps || !o || !x0h || !tv)) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cld_sample_params q = *p;
  q.batch = (int)n;
  q.learned_sigma = r.oper == 2 * r.per;
  if (!st) st = cld_sample_with(ctx, recording_denoiser, &r, C, S, S, &q, 0, n, final, NULL, NULL);
  if (r.err) st = cld_seterr(ctx, r.err, "exposure: out of host memory");
  cld_exposure_row *rows = NULL;
  if (!st && !(rows = calloc((size_t)r.calls, sizeof *rows))) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  const float *x0 = real->x; /* the first n real images */
  for (int k = 0; k < r.calls && !st; k++) {
    double t = r.t_at[k], e_s = 0, e_f = 0, v_f = 0;
    int ti = (int)lround(t);
    ti = ti < 0 ? 0 : ti >= sch->T ? sch->T - 1 : ti;
    double sa = sqrt(sch->alpha_bar[ti]), s1 = sqrt(1 - sch->alpha_bar[ti]);
    cld_rng_normal_host(p->seed, 0x3200u + (uint32_t)k, 0, n * r.per, eps);
    for (size_t j = 0; j < n * r.per; j++) xt[j] = (float)(sa * x0[j] + s1 * eps[j]);
    for (int i = 0; i < n; i++) tv[i] = (float)t;
    if ((st = cld_model_denoise(&r.net, xt, tv, (int)n, o))) break;
    x0_from_output(&r, xt, o, t, x0h);
    const float *xs = r.x0hat + (size_t)k * n * r.per;
    for (size_t j = 0; j < n * r.per; j++) {
      e_f += (x0h[j] - x0[j]) * (double)(x0h[j] - x0[j]);
      e_s += (xs[j] - final[j]) * (double)(xs[j] - final[j]);
    }
    for (int i = 0; i < n; i++) v_f += cld_ts_variance(xt + i * r.per, r.per);
    rows[k] = (cld_exposure_row){k, t, r.var_at[k], v_f / n, e_s / (double)(n * r.per), e_f / (double)(n * r.per)};
  }
  if (!st) {
    *rows_out = rows;
    *n_rows = r.calls;
  } else free(rows);
  free(final); free(xt); free(eps); free(o); free(x0h); free(tv);
  free(r.t_at); free(r.var_at); free(r.x0hat);
  cld_graph_destroy(r.net.g);
  cld_schedule_destroy(sch);
  return st;
}
