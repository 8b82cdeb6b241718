/* The sampling driver: walks the respaced
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
  if (!strcmp(name, "euler")) return CLD_SAMPLER_EULER;
  if (!strcmp(name, "heun")) return CLD_SAMPLER_HEUN;
  if (!strcmp(name, "dpm-solver")) return CLD_SAMPLER_DPM_SOLVER;
  if (!strcmp(name, "spndm")) return CLD_SAMPLER_SPNDM;
  if (!strcmp(name, "fpndm")) return CLD_SAMPLER_FPNDM;
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
  p.edm_sigma_min = 0.002f;
  p.edm_sigma_max = 80.0f;
  p.edm_rho = 7.0f;
  p.s_max = 1e30f;
  p.s_noise = 1.0f;
  p.sigma_data = 0.5f;
  p.dpm_order = 2;
  p.dpm_multistep = true;
  p.dpm_grid = CLD_DPM_TIME_UNIFORM;
  return p;
}

cld_status cld_model_denoiser_init(cld_ctx *ctx, cld_model *mod, int B, int h, int w, cld_model_denoiser *m) {
  memset(m, 0, sizeof *m);
  m->g = cld_graph_create(ctx);
  if (!m->g) return cld_seterr(ctx, CLD_ERR_NOMEM, "out of host memory");
  m->x = cld_input_4d(m->g, "x", B, cld_model_channels(mod), h, w);
  m->t = cld_input(m->g, "t", 1, (int64_t[]){B});
  m->y = cld_model_forward(mod, m->g, m->x, m->t);
  if (!m->y) return cld_seterr(ctx, cld_graph_status(m->g) ? cld_graph_status(m->g) : CLD_ERR_STATE, "sample: %s", cld_graph_errmsg(m->g));
  cld_graph_keep(m->g, m->y);
  cld_graph_set_training(m->g, false);
  return cld_graph_plan(m->g, NULL);
}

cld_status cld_model_denoise(void *user, const float *x, const float *t, int batch, float *out) {
  cld_model_denoiser *m = user;
  (void)batch;
  cld_status st;
  if ((st = cld_tensor_write(m->g, m->x, x)) || (st = cld_tensor_write(m->g, m->t, t)) || (st = cld_graph_compute(m->g)))
    return st;
  return cld_tensor_read(m->g, m->y, out);
}

cld_status cld_sample(cld_ctx *ctx, cld_model *mod, const cld_sample_params *p, int64_t first, int64_t n, int h, int w,
                      float *out, cld_sample_progress progress, void *user) {
  if (!ctx || !mod || !p || p->batch < 1) return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: bad arguments") : CLD_ERR_INVALID_ARG;
  int channels = cld_model_channels(mod);
  int B = (int)(p->batch < n ? p->batch : n);
  if (B < 1) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: n must be >= 1");
  cld_model_denoiser m;
  cld_status st = cld_model_denoiser_init(ctx, mod, B, h, w, &m);
  cld_sample_params q = *p;
  q.batch = B;
  q.learned_sigma = cld_model_out_channels(mod) == 2 * channels;
  if (!st) st = cld_sample_with(ctx, cld_model_denoise, &m, channels, h, w, &q, first, n, out, progress, user);
  cld_graph_destroy(m.g);
  return st;
}

cld_status cld_sample_with(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w,
                           const cld_sample_params *p, int64_t first, int64_t n, float *out, cld_sample_progress progress,
                           void *user) {
  if (!ctx || !model || !p || !out || n < 1 || first < 0 || p->batch < 1 || p->steps < 1 || C < 1 || h < 1 || w < 1)
    return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: bad arguments") : CLD_ERR_INVALID_ARG;
  bool edm_sampler = p->sampler == CLD_SAMPLER_EULER || p->sampler == CLD_SAMPLER_HEUN;
  if (edm_sampler != (p->prediction == CLD_PRED_EDM))
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: %s needs %s model", edm_sampler ? "euler/heun" : "ddpm/ddim/pndm/dpm-solver",
                      edm_sampler ? "an edm-preconditioned" : "an eps, x0 or v");
  if (edm_sampler && p->learned_sigma) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: euler/heun cannot use a learned-variance model");
  if (p->ts.window > 0 && edm_sampler)
    return cld_seterr(ctx, CLD_ERR_UNSUPPORTED,
                      "sample: Time-Shift is for ddpm, ddim, spndm, fpndm and dpm-solver (not euler/heun: EDM has no discrete steps)");
  if (p->respacing && (edm_sampler || p->sampler == CLD_SAMPLER_DPM_SOLVER))
    return cld_seterr(ctx, CLD_ERR_UNSUPPORTED, "sample: respacing '%s' is for ddpm, ddim, spndm and fpndm (%s has its own grid)",
                      p->respacing, edm_sampler ? "euler/heun" : "dpm-solver");
  if (edm_sampler) return cld_edm_sample(ctx, model, model_user, C, h, w, p, first, n, out, progress, user);
  if (p->ts.window < 0 || p->ts.cutoff < 0) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: Time-Shift window and cutoff must be >= 0");
  if (p->ts.coeffs < CLD_TS_SHIFTED || p->ts.coeffs > CLD_TS_ADM) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: ts.coeffs %d unknown", (int)p->ts.coeffs);
  if (p->ts.window > 0 && p->ts.coeffs == CLD_TS_ADM && p->sampler != CLD_SAMPLER_DDIM)
    return cld_seterr(ctx, CLD_ERR_UNSUPPORTED, "sample: Time-Shift ADM mode is the ADM backbone's DDIM code path: ddim only");
  if (p->ts.window > 0 && p->ts.coeffs == CLD_TS_ADM && p->ts.data_aware)
    return cld_seterr(ctx, CLD_ERR_UNSUPPORTED, "sample: Time-Shift ADM mode compares with the released list; data_aware does not apply");
  if (p->ts.window > 0 && p->ts.coeffs == CLD_TS_TARGET && p->sampler == CLD_SAMPLER_DPM_SOLVER)
    return cld_seterr(ctx, CLD_ERR_UNSUPPORTED, "sample: Time-Shift target mode is the DDIM/PNDM code path (ddpm, ddim, spndm, fpndm), not dpm-solver");
  if (p->sampler == CLD_SAMPLER_SPNDM || p->sampler == CLD_SAMPLER_FPNDM)
    return cld_pndm_sample(ctx, model, model_user, C, h, w, p, first, n, out, progress, user);
  if (p->sampler == CLD_SAMPLER_DPM_SOLVER) return cld_dpm_solver_sample(ctx, model, model_user, C, h, w, p, first, n, out, progress, user);
  cld_step_fn step = p->sampler == CLD_SAMPLER_DDPM ? cld_ddpm_step : p->sampler == CLD_SAMPLER_DDIM ? cld_ddim_step : NULL;
  if (!step) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: unknown sampler %d", p->sampler);
  cld_schedule *sch = cld_schedule_create((cld_beta_schedule)p->schedule, p->T);
  if (!sch) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: bad schedule %d with T=%d", p->schedule, p->T);
  int *taus, K, kend;
  cld_status st = cld_sample_grid(ctx, p, &taus, &K, &kend);
  if (st) {
    cld_schedule_destroy(sch);
    return st;
  }
  int B = (int)(p->batch < n ? p->batch : n);
  size_t per = (size_t)C * h * w;
  st = CLD_OK;
  size_t oper = p->learned_sigma ? 2 * per : per; /* model output per image */
  float *x = malloc(B * per * sizeof(float)), *o = malloc(B * oper * sizeof(float)), *z = malloc(per * sizeof(float));
  float *xn = malloc(per * sizeof(float)), *tv = malloc((size_t)B * sizeof(float));
  int *ts_t = malloc((size_t)B * sizeof(int)), *tn = malloc((size_t)B * sizeof(int));
  double *eps = malloc(per * sizeof(double)), *x0 = malloc(per * sizeof(double));
  if (!x || !o || !z || !xn || !eps || !x0 || !tv || !ts_t || !tn) st = cld_seterr(ctx, CLD_ERR_NOMEM, "out of host memory");
  cld_step_args a = {p, 0, 0, false, NULL};
  bool ts_on = p->ts.window > 0, target = p->ts.coeffs == CLD_TS_TARGET, adm = p->ts.coeffs == CLD_TS_ADM;
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = (int)(n - b0 < B ? n - b0 : B);
    for (int i = 0; i < B; i++) { /* padding rows (last partial batch) repeat image 0's start */
      int src = i < nb ? i : 0;
      if (p->x_init) memcpy(x + (size_t)i * per, p->x_init + (size_t)(b0 + src) * per, per * sizeof(float));
      else cld_rng_normal_host(p->seed, 0x1000, (uint64_t)(first + b0 + src) * per, per, x + (size_t)i * per);
    }
    if (p->trajectory) memcpy(p->trajectory + (size_t)b0 * per, x, (size_t)nb * per * sizeof(float));
    for (int k = K - 1; k >= kend && !st; k--) {
      int t = taus[k], t_floor = k > 0 ? taus[k - 1] + 1 : 0;
      /* Time-Shift: ts_t = the time each image's network call sees, tn = where its step ends (the
       * grid's next time, -1 = x0); target mode shifts the end instead, from the 2nd step on */
      for (int i = 0; i < B; i++) {
        double var = i < nb && ts_on ? cld_ts_variance(x + (size_t)i * per, per) : 0;
        ts_t[i] = i < nb && ts_on && !target && !adm ? cld_ts_select(&p->ts, sch, var, t, t_floor) : t;
        tn[i] = k == 0 ? -1 : taus[k - 1];
        if (i < nb && ts_on && k < K - 1 && (target || adm)) /* these modes move the end, from the 2nd step on */
          tn[i] = target ? cld_ts_select_target(&p->ts, sch, var, t, tn[i]) : cld_ts_select_adm(&p->ts, sch, var, t, tn[i], K, NULL);
      }
      for (int i = 0; i < B; i++) tv[i] = (float)ts_t[i];
      if ((st = model(model_user, x, tv, B, o))) break;
      a.last = k == kend;
      for (int i = 0; i < nb; i++) {
        double ab = sch->alpha_bar[p->ts.coeffs == CLD_TS_NOMINAL ? t : ts_t[i]], sa = sqrt(ab), s1 = sqrt(1.0 - ab);
        a.ab_cur = ab;
        a.ab_next = tn[i] >= 0 ? sch->alpha_bar[tn[i]] : 1.0;
        const float *xi = x + (size_t)i * per, *oi = o + (size_t)i * oper;
        a.v = p->learned_sigma ? oi + per : NULL;
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
        if (p->trajectory) memcpy(p->trajectory + ((size_t)(K - k) * (size_t)n + (size_t)(b0 + i)) * per, xn, per * sizeof(float));
      }
      if (progress) progress(user, K - k, K - kend, b0, n);
    }
    if (!st) memcpy(out + (size_t)b0 * per, x, (size_t)nb * per * sizeof(float));
  }
  free(x); free(o); free(z); free(xn); free(eps); free(x0); free(taus); free(tv); free(ts_t); free(tn);
  cld_schedule_destroy(sch);
  return st;
}
