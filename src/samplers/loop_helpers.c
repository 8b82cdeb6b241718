/* Loop helpers every sampler loop shares (the DDPM/DDIM driver in sampler.c, PNDM, DPM-Solver,
 * EDM): starting states, the batch evaluator that turns a model's output into eps, and the grid a
 * discrete-time loop walks. They live below the loops, so no loop calls back into the driver. */
#include "diffusion/prediction.h"
#include "samplers/sampler.h"
#include "runtime/runtime.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cld_sample_start(const cld_sample_params *p, int64_t first, int64_t b0, int nb, size_t per, double scale, double *x,
                      float *z) {
  for (int i = 0; i < nb; i++) {
    double *xi = x + (size_t)i * per;
    if (p->x_init) {
      for (size_t j = 0; j < per; j++) xi[j] = p->x_init[(size_t)(b0 + i) * per + j];
    } else {
      cld_rng_normal_host(p->seed, 0x1000, (uint64_t)(first + b0 + i) * per, per, z);
      for (size_t j = 0; j < per; j++) xi[j] = scale * z[j];
    }
  }
  if (p->trajectory)
    for (size_t q = 0; q < (size_t)nb * per; q++) p->trajectory[(size_t)b0 * per + q] = (float)x[q];
}

cld_status cld_eps_eval_init(cld_eps_eval *e, cld_denoiser_fn model, void *user, const cld_sample_params *p, int B, size_t per) {
  size_t oper = p->learned_sigma ? 2 * per : per;
  *e = (cld_eps_eval){model, user, p->prediction, B, 0, per, oper, malloc((size_t)B * per * sizeof(float)),
                      malloc((size_t)B * oper * sizeof(float)), malloc((size_t)B * sizeof(float)),
                      malloc((size_t)B * sizeof(double)), malloc((size_t)B * sizeof(double)), malloc((size_t)B * sizeof(double)),
                      p->eps_scale, p->steps, p->T};
  return e->in && e->out && e->tv && e->t_model && e->alpha && e->sigma ? CLD_OK : CLD_ERR_NOMEM;
}

void cld_eps_eval_free(cld_eps_eval *e) {
  free(e->in);
  free(e->out);
  free(e->tv);
  free(e->t_model);
  free(e->alpha);
  free(e->sigma);
}

cld_status cld_eps_eval_run_v(cld_eps_eval *e, const double *x, const double *t_model, const double *alpha, const double *sigma,
                              double *eps) {
  for (int i = 0; i < e->B; i++) {
    int src = i < e->nb ? i : 0;
    for (size_t j = 0; j < e->per; j++) e->in[(size_t)i * e->per + j] = (float)x[(size_t)src * e->per + j];
    e->tv[i] = (float)t_model[src];
  }
  cld_status st = e->model(e->user, e->in, e->tv, e->B, e->out);
  if (st) return st;
  bool es = cld_eps_scale_on(&e->es);
  for (size_t k = 0; k < (size_t)e->nb * e->per; k++) {
    size_t i = k / e->per;
    double x0;
    cld_output_eps_x0(e->prediction, alpha[i], sigma[i], x[k], e->out[i * e->oper + k % e->per], &eps[k], &x0);
    if (es) cld_eps_scale_apply(cld_eps_scale_at(&e->es, t_model[i], e->N, e->T), alpha[i], sigma[i], x[k], &eps[k], &x0);
  }
  return CLD_OK;
}

cld_status cld_eps_eval_run(cld_eps_eval *e, const double *x, double t_model, double alpha, double sigma, double *eps) {
  for (int i = 0; i < e->nb; i++) { e->t_model[i] = t_model; e->alpha[i] = alpha; e->sigma[i] = sigma; }
  return cld_eps_eval_run_v(e, x, e->t_model, e->alpha, e->sigma, eps);
}

cld_status cld_sample_grid(cld_ctx *ctx, const cld_sample_params *p, int **taus_out, int *K, int *kend) {
  bool ddpm = p->sampler == CLD_SAMPLER_DDPM;
  int *taus = malloc((size_t)p->T * sizeof *taus);
  if (!taus) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  char spec[32];
  snprintf(spec, sizeof spec, ddpm ? "%d" : "ddim%d", p->steps);
  const char *grid = p->respacing ? p->respacing : spec;
  int k = cld_respace(p->T, grid, taus, p->T);
  if (k < 1 && !ddpm && !p->respacing) { /* no exact stride: even spacing */
    snprintf(spec, sizeof spec, "%d", p->steps);
    k = cld_respace(p->T, grid, taus, p->T);
  }
  /* a grid that ends on its first time (tsdpmS) stops there: no step to x0 */
  *kend = cld_respace_ends_on_grid(grid) ? 1 : 0;
  cld_status st = k < 1 ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: grid '%s' is not valid for T=%d", grid, p->T)
                  : *kend && ddpm ? cld_seterr(ctx, CLD_ERR_UNSUPPORTED, "sample: respacing '%s' (TS-DPM's grid) is for ddim, "
                                                                          "spndm and fpndm, not ddpm", grid)
                                  : CLD_OK;
  if (st) {
    free(taus);
    return st;
  }
  *taus_out = taus;
  *K = k;
  return CLD_OK;
}


void cld_loop_times(const cld_sample_params *p, const cld_schedule *s, const float *xf, const double *xd, int nb, int B, size_t per,
                    int t, int t_next, int step, int S, cld_step_times *out) {
  bool on = p->ts.window > 0;
  for (int i = 0; i < B; i++) {
    double var = !on || i >= nb ? 0 : xf ? cld_ts_variance(xf + (size_t)i * per, per) : cld_ts_variance_d(xd + (size_t)i * per, per);
    out[i] = on && i < nb ? cld_ts_times(&p->ts, s, var, t, t_next, step, S) : (cld_step_times){t, t, t_next};
  }
}
