/* The sampling driver: builds the model's forward graph for one batch shape, walks the respaced
 * grid from the top, converts the model output (eps, x0 or v) into eps and x0 on the host in
 * double precision (clipping x0 when asked and re-deriving eps from it), and calls the chosen
 * sampler's update. Image i starts from Philox(seed, stream 0x1000, offset i*C*H*W) and its
 * step-k noise is Philox(seed, stream 0x2000 + k, same offset): independent of batch size. */
#include "samplers/sampler.h"
#include "runtime/runtime.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cld_sampler_parse(const char *name) {
  if (!name) return -1;
  if (!strcmp(name, "ddpm")) return CLD_SAMPLER_DDPM;
  if (!strcmp(name, "ddim")) return CLD_SAMPLER_DDIM;
  return -1;
}

cld_sample_params cld_sample_params_default(void) {
  cld_sample_params p;
  memset(&p, 0, sizeof p);
  p.sampler = CLD_SAMPLER_DDIM;
  p.steps = 50;
  p.batch = 16;
  p.schedule = CLD_BETA_LINEAR;
  p.T = 1000;
  p.prediction = CLD_PRED_EPS;
  return p;
}

cld_status cld_sample(cld_ctx *ctx, cld_unet *u, const cld_sample_params *p, int64_t first, int64_t n, int h, int w,
                      float *out, cld_sample_progress progress, void *user) {
  if (!ctx || !u || !p || !out || n < 1 || first < 0 || p->batch < 1 || p->steps < 1)
    return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: bad arguments") : CLD_ERR_INVALID_ARG;
  cld_step_fn step = p->sampler == CLD_SAMPLER_DDPM ? cld_ddpm_step : p->sampler == CLD_SAMPLER_DDIM ? cld_ddim_step : NULL;
  if (!step) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: unknown sampler %d", p->sampler);
  cld_schedule *sch = cld_schedule_create((cld_beta_schedule)p->schedule, p->T);
  if (!sch) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: bad schedule %d with T=%d", p->schedule, p->T);
  char spec[32];
  if (p->respacing) snprintf(spec, sizeof spec, "%s", p->respacing);
  else snprintf(spec, sizeof spec, p->sampler == CLD_SAMPLER_DDIM ? "ddim%d" : "%d", p->steps);
  int *taus = malloc((size_t)p->T * sizeof *taus);
  int K = taus ? cld_respace(p->T, spec, taus, p->T) : -1;
  if (K < 1 && p->sampler == CLD_SAMPLER_DDIM && !p->respacing) { /* no exact stride: even spacing */
    snprintf(spec, sizeof spec, "%d", p->steps);
    K = taus ? cld_respace(p->T, spec, taus, p->T) : -1;
  }
  if (K < 1) {
    free(taus);
    cld_schedule_destroy(sch);
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: respacing '%s' is not valid for T=%d", spec, p->T);
  }
  const cld_unet_config *c = cld_unet_get_config(u);
  int C = c->in_channels, B = (int)(p->batch < n ? p->batch : n);
  size_t per = (size_t)C * h * w;
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *xin = cld_input_4d(g, "x", B, C, h, w), *tin = cld_input(g, "t", 1, (int64_t[]){B});
  cld_tensor *y = cld_unet_forward(u, g, xin, tin);
  cld_status st = CLD_OK;
  if (!y) st = cld_seterr(ctx, cld_graph_status(g), "sample: %s", cld_graph_errmsg(g));
  else {
    cld_graph_keep(g, y);
    cld_graph_set_training(g, false);
    st = cld_graph_plan(g, NULL);
  }
  float *x = malloc(B * per * sizeof(float)), *o = malloc(B * per * sizeof(float)), *z = malloc(per * sizeof(float));
  float *xn = malloc(per * sizeof(float)), tv[4096];
  double *eps = malloc(per * sizeof(double)), *x0 = malloc(per * sizeof(double));
  if (!st && (!x || !o || !z || !xn || !eps || !x0 || B > 4096)) st = cld_seterr(ctx, CLD_ERR_NOMEM, "out of host memory");
  cld_step_args a = {p, 0, 0, false};
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = (int)(n - b0 < B ? n - b0 : B);
    for (int i = 0; i < B; i++) /* padding rows (last partial batch) repeat image 0's start */
      cld_rng_normal_host(p->seed, 0x1000, (uint64_t)(first + b0 + (i < nb ? i : 0)) * per, per, x + (size_t)i * per);
    for (int k = K - 1; k >= 0 && !st; k--) {
      int t = taus[k];
      for (int i = 0; i < B; i++) tv[i] = (float)t;
      if ((st = cld_tensor_write(g, xin, x)) || (st = cld_tensor_write(g, tin, tv)) || (st = cld_graph_compute(g)) ||
          (st = cld_tensor_read(g, y, o)))
        break;
      double ab = sch->alpha_bar[t], sa = sqrt(ab), s1 = sqrt(1.0 - ab);
      a.ab_cur = ab;
      a.ab_next = k > 0 ? sch->alpha_bar[taus[k - 1]] : 1.0;
      a.last = k == 0;
      for (int i = 0; i < nb; i++) {
        const float *xi = x + (size_t)i * per, *oi = o + (size_t)i * per;
        for (size_t j = 0; j < per; j++) {
          double e, x0v;
          if (p->prediction == CLD_PRED_X0) { x0v = oi[j]; e = (xi[j] - sa * x0v) / s1; }
          else if (p->prediction == CLD_PRED_V) { x0v = sa * xi[j] - s1 * oi[j]; e = s1 * xi[j] + sa * oi[j]; }
          else { e = oi[j]; x0v = (xi[j] - s1 * e) / sa; }
          if (p->clip_x0) {
            double cl = x0v < -1 ? -1 : x0v > 1 ? 1 : x0v;
            if (cl != x0v) { x0v = cl; e = (xi[j] - sa * x0v) / s1; }
          }
          eps[j] = e;
          x0[j] = x0v;
        }
        cld_rng_normal_host(p->seed, 0x2000u + (uint32_t)k, (uint64_t)(first + b0 + i) * per, per, z);
        step(&a, xi, eps, x0, z, xn, per);
        memcpy(x + (size_t)i * per, xn, per * sizeof(float));
      }
      if (progress) progress(user, K - k, K, b0, n);
    }
    if (!st) memcpy(out + (size_t)b0 * per, x, (size_t)nb * per * sizeof(float));
  }
  free(x); free(o); free(z); free(xn); free(eps); free(x0); free(taus);
  cld_graph_destroy(g);
  cld_schedule_destroy(sch);
  return st;
}
