/* The sampling driver: walks the respaced
 * grid from the top, converts the model output (eps, x0 or v) into eps and x0 on the host in
 * double precision (clipping x0 when asked and re-deriving eps from it), and calls the chosen
 * sampler's update. Image i starts from Philox(seed, stream 0x1000, offset i*C*H*W) and its
 * step-k noise is Philox(seed, stream 0x2000 + k, same offset): independent of batch size. */
#include "diffusion/schedule_make.h"
#include "diffusion/prediction.h"
#include "samplers/sampler.h"
#include "runtime/runtime.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cld_sampler_clips_x0(int sampler) { return sampler == CLD_SAMPLER_DDPM || sampler == CLD_SAMPLER_DDIM; }

int cld_sampler_parse(const char *name) {
  if (!name) return -1;
  if (!strcmp(name, "ddpm")) return CLD_SAMPLER_DDPM;
  if (!strcmp(name, "ddim")) return CLD_SAMPLER_DDIM;
  if (!strcmp(name, "euler")) return CLD_SAMPLER_EULER;
  if (!strcmp(name, "heun")) return CLD_SAMPLER_HEUN;
  if (!strcmp(name, "dpm-solver")) return CLD_SAMPLER_DPM_SOLVER;
  if (!strcmp(name, "spndm")) return CLD_SAMPLER_SPNDM;
  if (!strcmp(name, "fpndm")) return CLD_SAMPLER_FPNDM;
  if (!strcmp(name, "dpm++2m")) return CLD_SAMPLER_DPMPP_2M;
  if (!strcmp(name, "dpm++3m")) return CLD_SAMPLER_DPMPP_3M;
  if (!strcmp(name, "dpm++2m-sde")) return CLD_SAMPLER_DPMPP_2M_SDE;
  if (!strcmp(name, "unipc")) return CLD_SAMPLER_UNIPC;
  if (!strcmp(name, "dpm++2s")) return CLD_SAMPLER_DPMPP_2S;
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
  p.null_class = -1;
  p.unipc_order = 2;
  p.guidance = 1.0f;
  p.ts.coeffs = CLD_TS_RELEASED;
  return p;
}

cld_status cld_model_denoiser_init(cld_ctx *ctx, cld_model *mod, int B, int h, int w, cld_model_denoiser *m) {
  memset(m, 0, sizeof *m);
  m->g = cld_graph_create(ctx);
  if (!m->g) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  m->x = cld_input_4d(m->g, "x", B, cld_model_channels(mod), h, w);
  m->t = cld_input(m->g, "t", 1, (int64_t[]){B});
  cld_graph_set_training(m->g, false); /* before the build: forward-only kernels (fused attention) */
  m->y = cld_model_forward(mod, m->g, m->x, m->t);
  if (!m->y) return cld_seterr(ctx, cld_graph_status(m->g) ? cld_graph_status(m->g) : CLD_ERR_STATE, "sample: %s", cld_graph_errmsg(m->g));
  cld_graph_keep(m->g, m->y);
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

/* a bad value: CLD_ERR_INVALID_ARG */
#define BAD(msg) do { if (code) *code = CLD_ERR_INVALID_ARG; return msg; } while (0)
/* a combination a sampler does not take: CLD_ERR_UNSUPPORTED */
#define UNSUPPORTED(msg) do { if (code) *code = CLD_ERR_UNSUPPORTED; return msg; } while (0)

const char *cld_sample_params_check(const cld_sample_params *p, cld_status *code) {
  if (!p) BAD("no parameters");
  bool edm = p->sampler == CLD_SAMPLER_EULER || p->sampler == CLD_SAMPLER_HEUN, dpm = p->sampler == CLD_SAMPLER_DPM_SOLVER;
  bool ts = p->ts.window > 0;
  bool unipc = p->sampler == CLD_SAMPLER_UNIPC;
  bool pp = (p->sampler >= CLD_SAMPLER_DPMPP_2M && p->sampler <= CLD_SAMPLER_DPMPP_2M_SDE) || unipc ||
            p->sampler == CLD_SAMPLER_DPMPP_2S; /* the DPM-Solver++ grid */
  if (p->sampler < CLD_SAMPLER_DDPM || p->sampler > CLD_SAMPLER_DPMPP_2S) BAD("unknown sampler (--sampler)");
  if (unipc && (p->unipc_order < 0 || p->unipc_order > 3)) BAD("UniPC order (--order) must be 1, 2 or 3");
  if (p->exp_sigmas && !pp) UNSUPPORTED("exponential sigmas (--exp-sigmas) are for dpm++2m, dpm++3m, dpm++2m-sde, dpm++2s and unipc");
  if (p->exp_sigmas && p->karras) BAD("Karras (--karras) and exponential (--exp-sigmas) sigmas: choose one");
  if (p->batch < 1 || p->steps < 1) BAD("batch (--batch) and steps (--steps) must be at least 1");
  if (edm && p->prediction != CLD_PRED_EDM) BAD("euler/heun (--sampler) need an edm-preconditioned model (--prediction edm)");
  if (!edm && p->prediction == CLD_PRED_EDM) BAD("ddpm/ddim/pndm/dpm-solver/dpm++2m (--sampler) need an eps, x0 or v model, not edm");
  if (p->dyn_threshold != 0 && !pp) UNSUPPORTED("dynamic thresholding (--threshold) is for dpm++2m, dpm++3m, dpm++2m-sde, dpm++2s and unipc");
  if (p->dyn_threshold < 0 || p->dyn_threshold >= 1 || (p->dyn_threshold > 0 && !(p->dyn_max >= 1)))
    BAD("dynamic thresholding: the ratio (--threshold) must be in (0, 1) and the maximum (--threshold-max) at least 1");
  if (p->clip_x0 && !cld_sampler_clips_x0(p->sampler))
    UNSUPPORTED("x0 clipping (--clip) is for ddpm and ddim (spndm, fpndm and dpm-solver step on eps and never form a "
                "clipped x0; dpm++*/unipc take --threshold)");
  if (p->karras && !pp) UNSUPPORTED("Karras sigmas (--karras) are for dpm++2m, dpm++3m, dpm++2m-sde, dpm++2s and unipc");
  if (pp && ts) UNSUPPORTED("Time-Shift (--ts-window) is for ddpm, ddim, spndm, fpndm and dpm-solver (not dpm++2m/3m/2m-sde/2s or unipc)");
  if (edm && p->learned_sigma) BAD("euler/heun (--sampler) cannot use a learned-variance model");
  if (edm && cld_eps_scale_on(&p->eps_scale)) UNSUPPORTED("Epsilon Scaling (--eps-scale) is for the discrete-time samplers, not euler/heun");
  if (p->eps_scale.b < 0 || !(p->eps_scale.b == p->eps_scale.b) || !(fabsf(p->eps_scale.k) < 1.0f))
    BAD("Epsilon Scaling: lambda (--eps-scale) must be > 0 and the slope (--eps-scale-k) in (-1, 1)");
  if (ts && edm) UNSUPPORTED("Time-Shift (--ts-window) is for ddpm, ddim, spndm, fpndm and dpm-solver (not euler/heun: EDM has no "
                             "discrete steps)");
  if (p->respacing && (edm || dpm || pp)) UNSUPPORTED("respacing (--respacing) is for ddpm, ddim, spndm and fpndm (euler/heun, "
                                                      "dpm-solver, dpm++2m/3m/2m-sde/2s and unipc have their own grids)");
  if (p->respacing && p->sampler == CLD_SAMPLER_DDPM && cld_respace_ends_on_grid(p->respacing))
    UNSUPPORTED("respacing (--respacing) tsdpmS is TS-DPM's DDIM/PNDM grid: for ddim, spndm and fpndm, not ddpm");
  if (p->ts.window < 0 || p->ts.cutoff < 0) BAD("Time-Shift window (--ts-window) and cutoff (--ts-cutoff) must be >= 0");
  if (p->ts.coeffs < CLD_TS_SHIFTED || p->ts.coeffs > CLD_TS_RELEASED) BAD("unknown Time-Shift coefficients (--ts-coeffs)");
  if (ts && p->ts.coeffs == CLD_TS_ADM && p->sampler != CLD_SAMPLER_DDIM)
    UNSUPPORTED("Time-Shift ADM mode (--ts-coeffs adm) is the ADM backbone's DDIM code path: ddim only");
  if (ts && p->ts.coeffs == CLD_TS_ADM && p->ts.data_aware)
    UNSUPPORTED("Time-Shift ADM mode (--ts-coeffs adm) compares with the released list; data_aware (--ts-data-aware) does not apply");
  if (ts && p->ts.coeffs == CLD_TS_TARGET && dpm)
    UNSUPPORTED("Time-Shift target mode (--ts-coeffs target) is the DDIM/PNDM code path (ddpm, ddim, spndm, fpndm), not dpm-solver");
  if (dpm) {
    int order = p->dpm_order ? p->dpm_order : 2;
    if (order < 1 || order > 3 || (p->dpm_multistep && order < 2))
      BAD("DPM-Solver order (--order) must be 2 or 3 multistep, 1 to 3 singlestep (--singlestep)");
  }
  return NULL;
}
#undef BAD
#undef UNSUPPORTED

cld_status cld_sample_with(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w,
                           const cld_sample_params *p, int64_t first, int64_t n, float *out, cld_sample_progress progress,
                           void *user) {
  if (!ctx || !model || !p || !out || n < 1 || first < 0 || p->batch < 1 || p->steps < 1 || C < 1 || h < 1 || w < 1)
    return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: bad arguments") : CLD_ERR_INVALID_ARG;
  cld_status code;
  const char *why = cld_sample_params_check(p, &code);
  if (why) return cld_seterr(ctx, code, "sample: %s", why);
  cld_sample_params q = *p; /* Time-Shift's default reading made the sampler's own */
  q.ts.coeffs = cld_ts_resolve(p->ts.coeffs, p->sampler == CLD_SAMPLER_DPM_SOLVER);
  p = &q;
  bool edm_sampler = p->sampler == CLD_SAMPLER_EULER || p->sampler == CLD_SAMPLER_HEUN, pp = p->sampler >= CLD_SAMPLER_DPMPP_2M && p->sampler <= CLD_SAMPLER_DPMPP_2M_SDE;
  if (edm_sampler) return cld_edm_sample(ctx, model, model_user, C, h, w, p, first, n, out, progress, user);
  if (p->sampler == CLD_SAMPLER_SPNDM || p->sampler == CLD_SAMPLER_FPNDM)
    return cld_pndm_sample(ctx, model, model_user, C, h, w, p, first, n, out, progress, user);
  if (p->sampler == CLD_SAMPLER_UNIPC) return cld_unipc_sample(ctx, model, model_user, C, h, w, p, first, n, out, progress, user);
  if (pp || p->sampler == CLD_SAMPLER_DPMPP_2S) return cld_dpmpp_sample(ctx, model, model_user, C, h, w, p, first, n, out, progress, user);
  if (p->sampler == CLD_SAMPLER_DPM_SOLVER) return cld_dpm_solver_sample(ctx, model, model_user, C, h, w, p, first, n, out, progress, user);
  cld_step_fn step = p->sampler == CLD_SAMPLER_DDPM ? cld_ddpm_step : p->sampler == CLD_SAMPLER_DDIM ? cld_ddim_step : NULL;
  if (!step) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: unknown sampler %d", p->sampler);
  cld_schedule *sch;
  cld_status sst = cld_schedule_make(ctx, "sample", p->schedule, p->T, &sch);
  if (sst) return sst;
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
  cld_step_times *tt = malloc((size_t)B * sizeof *tt); /* per image: network time, coefficient time, end */
  bool es_on = cld_eps_scale_on(&p->eps_scale);
  double *lam = malloc((size_t)B * sizeof *lam); /* Epsilon Scaling's lambda per image */
  double *eps = malloc(per * sizeof(double)), *x0 = malloc(per * sizeof(double));
  if (!x || !o || !z || !xn || !eps || !x0 || !tv || !tt || !lam) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cld_step_args a = {p, 0, 0, false, NULL};
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = (int)(n - b0 < B ? n - b0 : B);
    for (int i = 0; i < B; i++) { /* padding rows (last partial batch) repeat image 0's start */
      int src = i < nb ? i : 0;
      if (p->x_init) memcpy(x + (size_t)i * per, p->x_init + (size_t)(b0 + src) * per, per * sizeof(float));
      else cld_rng_normal_host(p->seed, 0x1000, (uint64_t)(first + b0 + src) * per, per, x + (size_t)i * per);
    }
    if (p->trajectory) memcpy(p->trajectory + (size_t)b0 * per, x, (size_t)nb * per * sizeof(float));
    for (int k = K - 1; k >= kend && !st; k--) {
      int t = taus[k];
      cld_loop_times(p, sch, x, NULL, nb, B, per, t, k == 0 ? -1 : taus[k - 1], K - 1 - k, K, tt);
      for (int i = 0; i < B; i++) tv[i] = (float)tt[i].model;
      if ((st = model(model_user, x, tv, B, o))) break;
      for (int i = 0; i < nb && es_on; i++) lam[i] = cld_eps_scale_at(&p->eps_scale, tv[i], K - kend, p->T);
      a.last = k == kend;
      for (int i = 0; i < nb; i++) {
        double ab = sch->alpha_bar[tt[i].coeff], sa = sqrt(ab), s1 = sqrt(1.0 - ab);
        a.ab_cur = ab;
        a.ab_next = tt[i].end >= 0 ? sch->alpha_bar[tt[i].end] : 1.0;
        const float *xi = x + (size_t)i * per, *oi = o + (size_t)i * oper;
        a.v = p->learned_sigma ? oi + per : NULL;
        for (size_t j = 0; j < per; j++) {
          double e, x0v;
          cld_output_eps_x0(p->prediction, sa, s1, xi[j], oi[j], &e, &x0v);
          if (es_on) cld_eps_scale_apply(lam[i], sa, s1, xi[j], &e, &x0v);
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
  free(x); free(o); free(z); free(xn); free(eps); free(x0); free(taus); free(tv); free(tt); free(lam);
  cld_schedule_destroy(sch);
  return st;
}
