/* Samplers: trajectories against diffusers' DDIMScheduler (eta 0 and 0.5) and DDPMScheduler
 * (fixed-small, fixed-large) driven by the exact denoiser of Gaussian data with the same Philox
 * noise (golden file from tools/golden/make_sampler_golden.py), within 1e-5, and DPM-Solver++ 2M
 * and 3M against DPMSolverMultistepScheduler (make_dpmpp_golden.py: 4-25 steps, eps and v), UniPC
 * (bh1, bh2, orders 2-3) against UniPCMultistepScheduler and exponential sigmas (make_unipc_golden.py); the exact denoiser
 * recovers the data's mean and variance; image i does not depend on the batch size (also with
 * the UNet). */
#include "test_util.h"
#include "samplers/sampler.h"

#define MU 0.3
#define SD 0.5

typedef struct { cld_schedule *s; int per; } gauss_model;
static cld_status gauss_denoise(void *user, const float *x, const float *t, int batch, float *out) {
  gauss_model *g = user;
  for (int i = 0; i < batch; i++) {
    double ab = g->s->alpha_bar[(int)t[i]];
    for (int j = 0; j < g->per; j++) {
      double v = x[i * g->per + j];
      out[i * g->per + j] = (float)(sqrt(1 - ab) * (v - sqrt(ab) * MU) / (ab * SD * SD + 1 - ab));
    }
  }
  return CLD_OK;
}

/* the same denoiser as a v-prediction model: v = sqrt(ab) eps - sqrt(1 - ab) x0 */
static cld_status gauss_denoise_v(void *user, const float *x, const float *t, int batch, float *out) {
  gauss_model *g = user;
  cld_status st = gauss_denoise(user, x, t, batch, out);
  for (int i = 0; i < batch && !st; i++) {
    double ab = g->s->alpha_bar[(int)t[i]];
    for (int j = 0; j < g->per; j++) {
      double v = x[i * g->per + j], eps = out[i * g->per + j], x0 = (v - sqrt(1 - ab) * eps) / sqrt(ab);
      out[i * g->per + j] = (float)(sqrt(ab) * eps - sqrt(1 - ab) * x0);
    }
  }
  return st;
}

static int case_prediction = CLD_PRED_EPS;
static bool case_karras = false;
static double case_tol = 1e-5;
static float case_threshold = 0, case_threshold_max = 1;
static bool case_exp = false, case_bh1 = false;
static int case_order = 2;
static int64_t case_skip_last = 0; /* states at the end not compared */
static const char *case_respacing = NULL;
static void check_case(cld_ctx *ctx, cld_safetensors *gold, const char *name, int sampler, float eta, int var) {
  int idx = cld_safetensors_find(gold, name);
  assert_true(idx >= 0);
  int64_t shape[8];
  assert_int_equal(cld_safetensors_shape(gold, idx, shape), 3);
  int64_t total = cld_safetensors_numel(gold, idx);
  float *want = tu_alloc((size_t)total), *got = tu_alloc((size_t)total), *out = tu_alloc((size_t)(shape[1] * shape[2]));
  TU_OK(ctx, cld_safetensors_read(gold, idx, want));
  gauss_model gm = {cld_schedule_create(CLD_BETA_LINEAR, 1000), 16};
  cld_sample_params p = cld_sample_params_default();
  p.sampler = sampler;
  p.steps = (int)shape[0] - 1;
  p.eta = eta;
  p.var_type = var;
  p.seed = 7;
  p.batch = 2; /* the golden run had all 3 images at once */
  p.trajectory = got;
  p.prediction = case_prediction;
  p.karras = case_karras;
  p.dyn_threshold = case_threshold;
  p.dyn_max = case_threshold_max;
  p.exp_sigmas = case_exp;
  p.unipc_order = case_order;
  p.unipc_bh1 = case_bh1;
  p.respacing = case_respacing;
  TU_OK(ctx, cld_sample_with(ctx, case_prediction == CLD_PRED_V ? gauss_denoise_v : gauss_denoise, &gm, 1, 4, 4, &p, 0, shape[1], out,
                             NULL, NULL));
  double worst = 0;
  for (int64_t i = 0; i < total - case_skip_last * shape[1] * shape[2]; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
  for (int64_t i = 0; i < total; i++) assert_true(isfinite(got[i])); /* the skipped last states too */
  fprintf(stderr, "%s: max trajectory difference to diffusers %.2g over %lld steps\n", name, worst, (long long)shape[0] - 1);
  assert_true(worst <= case_tol);
  free(want); free(got); free(out);
  cld_schedule_destroy(gm.s);
}

static void test_parity_with_diffusers(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_safetensors *gold;
  TU_OK(ctx, cld_safetensors_open(ctx, CLDIFF_SOURCE_DIR "/tests/golden/samplers.safetensors", &gold));
  check_case(ctx, gold, "ddim_eta0.0", CLD_SAMPLER_DDIM, 0.0f, 0);
  check_case(ctx, gold, "ddim_eta0.5", CLD_SAMPLER_DDIM, 0.5f, 0);
  check_case(ctx, gold, "ddpm_fixed_small", CLD_SAMPLER_DDPM, 0.0f, CLD_VAR_FIXED_SMALL);
  check_case(ctx, gold, "ddpm_fixed_large", CLD_SAMPLER_DDPM, 0.0f, CLD_VAR_FIXED_LARGE);
  cld_safetensors_close(gold);
  TU_OK(ctx, cld_safetensors_open(ctx, CLDIFF_SOURCE_DIR "/tests/golden/samplers_dpmpp.safetensors", &gold));
  check_case(ctx, gold, "dpmpp2m_eps_10", CLD_SAMPLER_DPMPP_2M, 0.0f, 0);
  check_case(ctx, gold, "dpmpp2m_eps_4", CLD_SAMPLER_DPMPP_2M, 0.0f, 0);
  check_case(ctx, gold, "dpmpp2m_eps_25", CLD_SAMPLER_DPMPP_2M, 0.0f, 0);
  case_prediction = CLD_PRED_V;
  check_case(ctx, gold, "dpmpp2m_v_10", CLD_SAMPLER_DPMPP_2M, 0.0f, 0);
  case_prediction = CLD_PRED_EPS;
  check_case(ctx, gold, "dpmpp3m_eps_10", CLD_SAMPLER_DPMPP_3M, 0.0f, 0);
  check_case(ctx, gold, "dpmpp3m_eps_5", CLD_SAMPLER_DPMPP_3M, 0.0f, 0);
  check_case(ctx, gold, "dpmpp3m_eps_20", CLD_SAMPLER_DPMPP_3M, 0.0f, 0);
  /* Karras' smallest sigma is the schedule's at t = 0, sqrt((1 - abar_0) / abar_0): diffusers takes
   * abar_0 = 1 - 1e-4 in float32, so 1 - abar_0 is 1.7e-4 and that sigma 8.3e-5 off cldiff's double
   * (relative), which the steps near t = 0 carry into the trajectory (1.5e-5 measured) */
  case_karras = true;
  case_tol = 3e-5;
  check_case(ctx, gold, "dpmpp2m_karras_10", CLD_SAMPLER_DPMPP_2M, 0.0f, 0);
  check_case(ctx, gold, "dpmpp2m_karras_20", CLD_SAMPLER_DPMPP_2M, 0.0f, 0);
  case_karras = false;
  case_tol = 1e-5;
  check_case(ctx, gold, "dpmpp2m_sde_10", CLD_SAMPLER_DPMPP_2M_SDE, 0.0f, 0);
  check_case(ctx, gold, "dpmpp2m_sde_20", CLD_SAMPLER_DPMPP_2M_SDE, 0.0f, 0);
  case_threshold = 0.9f;
  case_threshold_max = 1.2f;
  check_case(ctx, gold, "dpmpp2m_threshold_10", CLD_SAMPLER_DPMPP_2M, 0.0f, 0);
  case_threshold = 0;
  case_threshold_max = 1;
  cld_safetensors_close(gold);
  /* UniPC against UniPCMultistepScheduler, and exponential sigmas (make_unipc_golden.py) */
  TU_OK(ctx, cld_safetensors_open(ctx, CLDIFF_SOURCE_DIR "/tests/golden/samplers_unipc.safetensors", &gold));
  check_case(ctx, gold, "unipc_bh2_10", CLD_SAMPLER_UNIPC, 0.0f, 0);
  check_case(ctx, gold, "unipc_bh2_4", CLD_SAMPLER_UNIPC, 0.0f, 0);
  check_case(ctx, gold, "unipc_bh2_25", CLD_SAMPLER_UNIPC, 0.0f, 0);
  case_order = 3;
  check_case(ctx, gold, "unipc3_bh2_10", CLD_SAMPLER_UNIPC, 0.0f, 0);
  check_case(ctx, gold, "unipc3_bh2_20", CLD_SAMPLER_UNIPC, 0.0f, 0);
  case_order = 2;
  case_prediction = CLD_PRED_V;
  check_case(ctx, gold, "unipc_v_10", CLD_SAMPLER_UNIPC, 0.0f, 0);
  case_prediction = CLD_PRED_EPS;
  /* diffusers' bh1 ends in NaN at sigma 0 (B(h) = -inf times a zero residual): every state but
   * the last is compared; cldiff's last is the data prediction, finite (checked below) */
  case_bh1 = true;
  case_skip_last = 1;
  check_case(ctx, gold, "unipc_bh1_10", CLD_SAMPLER_UNIPC, 0.0f, 0);
  case_bh1 = false;
  case_skip_last = 0;
  case_karras = true;
  case_tol = 3e-5; /* as for DPM-Solver++'s Karras cases */
  check_case(ctx, gold, "unipc_karras_10", CLD_SAMPLER_UNIPC, 0.0f, 0);
  case_karras = false;
  case_exp = true;
  { /* the exponential grid's model times are diffusers' (its sigma_to_t, truncated) */
    cld_schedule *s = cld_schedule_create(CLD_BETA_LINEAR, 1000);
    double ts[10], sig[11];
    float want[10];
    cld_pp_grid(s, 10, false, true, true, ts, sig);
    TU_OK(ctx, cld_safetensors_read(gold, cld_safetensors_find(gold, "unipc_exp_10.t"), want));
    for (int i = 0; i < 10; i++) assert_true(ts[i] == want[i]);
    cld_schedule_destroy(s);
  }
  check_case(ctx, gold, "unipc_exp_10", CLD_SAMPLER_UNIPC, 0.0f, 0);
  check_case(ctx, gold, "dpmpp2m_exp_10", CLD_SAMPLER_DPMPP_2M, 0.0f, 0);
  case_exp = false;
  case_tol = 1e-5;
  /* DDIM on diffusers' timestep_spacing grids (what a scheduler_config.json asks for) */
  case_respacing = "trailing10";
  check_case(ctx, gold, "ddim_trailing_10", CLD_SAMPLER_DDIM, 0.0f, 0);
  case_respacing = "leading10+1";
  check_case(ctx, gold, "ddim_leading1_10", CLD_SAMPLER_DDIM, 0.0f, 0);
  case_respacing = NULL;
  /* DPM-Solver++(2S) against DPMSolverSinglestepScheduler */
  check_case(ctx, gold, "dpmpp2s_10", CLD_SAMPLER_DPMPP_2S, 0.0f, 0);
  check_case(ctx, gold, "dpmpp2s_9", CLD_SAMPLER_DPMPP_2S, 0.0f, 0);
  case_prediction = CLD_PRED_V;
  check_case(ctx, gold, "dpmpp2s_v_10", CLD_SAMPLER_DPMPP_2S, 0.0f, 0);
  case_prediction = CLD_PRED_EPS;
  case_karras = true;
  case_tol = 3e-5;
  check_case(ctx, gold, "dpmpp2s_karras_10", CLD_SAMPLER_DPMPP_2S, 0.0f, 0);
  case_karras = false;
  case_tol = 1e-5;
  cld_safetensors_close(gold);
  cld_ctx_destroy(ctx);
}

/* For Gaussian data and the exact denoiser every step is linear, so the variance of the output
 * has a closed form: propagate Var through x_next = c x + sd z (independent of the code under
 * test: written from the update rules of METHODS.md 8.1/8.2). Few-step samplers shrink the
 * variance; with 1000 steps it converges to the data's. */
static double expected_var(const cld_schedule *s, const int *taus, int K, int sampler, double eta) {
  double v = 1.0;
  for (int k = K - 1; k >= 0; k--) {
    double a = s->alpha_bar[taus[k]], an = k > 0 ? s->alpha_bar[taus[k - 1]] : 1.0, D = a * SD * SD + 1 - a;
    double cx0 = sqrt(a) * SD * SD / D, ce = sqrt(1 - a) / D, c, add;
    if (sampler == CLD_SAMPLER_DDIM) {
      double sig = eta * sqrt((1 - an) / (1 - a)) * sqrt(1 - a / an);
      c = sqrt(an) * cx0 + sqrt(fmax(1 - an - sig * sig, 0)) * ce;
      add = sig * sig;
    } else {
      double beta = 1 - a / an;
      c = beta * sqrt(an) / (1 - a) * cx0 + (1 - an) * sqrt(1 - beta) / (1 - a);
      add = k > 0 ? beta * (1 - an) / (1 - a) : 0;
    }
    v = c * c * v + add;
  }
  return v;
}

static void test_gaussian_moments(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  gauss_model gm = {cld_schedule_create(CLD_BETA_LINEAR, 1000), 1};
  const int n = 4000;
  float *out = tu_alloc(n);
  int samplers[4] = {CLD_SAMPLER_DDIM, CLD_SAMPLER_DDPM, CLD_SAMPLER_DDIM, CLD_SAMPLER_DDIM};
  int steps[4] = {50, 200, 20, 1000};
  float etas[4] = {0.0f, 0.0f, 1.0f, 0.0f};
  for (int c = 0; c < 4; c++) {
    cld_sample_params p = cld_sample_params_default();
    p.sampler = samplers[c];
    p.steps = steps[c];
    p.eta = etas[c];
    p.batch = 1000;
    p.seed = 3;
    TU_OK(ctx, cld_sample_with(ctx, gauss_denoise, &gm, 1, 1, 1, &p, 0, n, out, NULL, NULL));
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += out[i];
    m /= n;
    for (int i = 0; i < n; i++) v += (out[i] - m) * (out[i] - m);
    v /= n - 1;
    int taus[1000];
    char spec[16];
    snprintf(spec, sizeof spec, samplers[c] == CLD_SAMPLER_DDIM ? "ddim%d" : "%d", steps[c]);
    int K = cld_respace(1000, spec, taus, 1000);
    double ev = expected_var(gm.s, taus, K, samplers[c], etas[c]), se_v = ev * sqrt(2.0 / (n - 1));
    fprintf(stderr, "%s %d steps, eta %.1f: mean %.4f (data %.2f), variance %.4f (exact for this sampler %.4f, data %.4f)\n",
            samplers[c] == CLD_SAMPLER_DDIM ? "ddim" : "ddpm", steps[c], etas[c], m, MU, v, ev, SD * SD);
    assert_true(fabs(m - MU) < 4 * sqrt(ev / n)); /* 4 standard errors */
    assert_true(fabs(v - ev) < 4 * se_v);
    if (steps[c] == 1000) assert_true(fabs(ev - SD * SD) < 0.01 * SD * SD); /* enough steps recover the data */
  }
  free(out);
  cld_schedule_destroy(gm.s);
  cld_ctx_destroy(ctx);
}

static void test_batch_independence(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_store *s;
  cld_model *u;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_load(ctx, CLDIFF_SOURCE_DIR "/tests/golden/cldiff_written", s, &u));
  float a[5 * 64], b[5 * 64];
  cld_sample_params p = cld_sample_params_default();
  p.steps = 4;
  p.seed = 9;
  p.eta = 0.5f;
  p.batch = 5;
  TU_OK(ctx, cld_sample(ctx, u, &p, 0, 5, 8, 8, a, NULL, NULL));
  p.batch = 2;
  TU_OK(ctx, cld_sample(ctx, u, &p, 0, 5, 8, 8, b, NULL, NULL));
  assert_memory_equal(a, b, sizeof a); /* bit-identical */
  /* images 3..4 sampled on their own equal images 3..4 of the whole run */
  TU_OK(ctx, cld_sample(ctx, u, &p, 3, 2, 8, 8, b, NULL, NULL));
  assert_memory_equal(a + 3 * 64, b, 2 * 64 * sizeof(float));
  cld_model_destroy(u);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

/* EDM models see (c_in x, c_noise); the exact Gaussian D is reproduced through F = (D - c_skip x)/c_out */
typedef struct { double mu, sd, sigma_data; } edm_gauss;
typedef struct { edm_gauss g; int per; } edm_model;
static cld_status edm_denoise(void *user, const float *in, const float *t, int batch, float *out) {
  edm_model *m = user;
  for (int i = 0; i < batch; i++) {
    double sigma = exp(4.0 * (double)t[i]), sd2 = m->g.sigma_data * m->g.sigma_data;
    double c_in = 1 / sqrt(sigma * sigma + sd2), c_skip = sd2 / (sigma * sigma + sd2), c_out = sigma * m->g.sigma_data / sqrt(sigma * sigma + sd2);
    for (int j = 0; j < m->per; j++) {
      double x = in[i * m->per + j] / c_in;
      double D = (m->g.sd * m->g.sd * x + sigma * sigma * m->g.mu) / (sigma * sigma + m->g.sd * m->g.sd);
      out[i * m->per + j] = (float)((D - c_skip * x) / c_out);
    }
  }
  return CLD_OK;
}

static void test_edm(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  /* parity with diffusers' EDMEulerScheduler (S_churn = 0), relative: states start at sigma_max = 80 */
  cld_safetensors *gold;
  TU_OK(ctx, cld_safetensors_open(ctx, CLDIFF_SOURCE_DIR "/tests/golden/samplers.safetensors", &gold));
  int idx = cld_safetensors_find(gold, "edm_euler");
  assert_true(idx >= 0);
  int64_t total = cld_safetensors_numel(gold, idx);
  float *want = tu_alloc((size_t)total), *got = tu_alloc((size_t)total), out[48];
  TU_OK(ctx, cld_safetensors_read(gold, idx, want));
  edm_model m = {{MU, SD, 0.5}, 16};
  cld_sample_params p = cld_sample_params_default();
  p.sampler = CLD_SAMPLER_EULER;
  p.prediction = CLD_PRED_EDM;
  p.steps = 10;
  p.seed = 7;
  p.batch = 3;
  p.trajectory = got;
  TU_OK(ctx, cld_sample_with(ctx, edm_denoise, &m, 1, 4, 4, &p, 0, 3, out, NULL, NULL));
  double worst = 0;
  for (int64_t i = 0; i < total; i++) worst = fmax(worst, fabs((double)got[i] - want[i]) / fmax(1.0, fabs(want[i])));
  fprintf(stderr, "edm_euler: max relative trajectory difference to diffusers %.2g\n", worst);
  assert_true(worst <= 1e-5);
  free(want);
  free(got);
  cld_safetensors_close(gold);
  /* METHODS.md vector 24: x = 1, sigma 1 -> 0.5, data N(0, 0.5^2): Euler 0.6, Heun 0.65 */
  edm_model m24 = {{0.0, 0.5, 0.5}, 1};
  float x1 = 1.0f, traj[3], o;
  for (int heun = 0; heun < 2; heun++) {
    cld_sample_params q = cld_sample_params_default();
    q.sampler = heun ? CLD_SAMPLER_HEUN : CLD_SAMPLER_EULER;
    q.prediction = CLD_PRED_EDM;
    q.steps = 2;
    q.edm_sigma_max = 1.0f;
    q.edm_sigma_min = 0.5f;
    q.edm_rho = 1.0f; /* grid 1, 0.5, 0 */
    q.batch = 1;
    q.x_init = &x1;
    q.trajectory = traj;
    TU_OK(ctx, cld_sample_with(ctx, edm_denoise, &m24, 1, 1, 1, &q, 0, 1, &o, NULL, NULL));
    fprintf(stderr, "vector 24 %s: %.7f\n", heun ? "heun" : "euler", traj[1]);
    assert_true(fabs(traj[1] - (heun ? 0.65 : 0.6)) < 1e-6);
  }
  /* an eps-model sampler on an edm model is refused */
  cld_sample_params bad = cld_sample_params_default();
  bad.prediction = CLD_PRED_EDM;
  assert_int_equal(cld_sample_with(ctx, edm_denoise, &m24, 1, 1, 1, &bad, 0, 1, &o, NULL, NULL), CLD_ERR_INVALID_ARG);
  cld_ctx_destroy(ctx);
}

/* METHODS.md vector 21 through the sampler: linear schedule, 10 time-uniform steps, multistep
 * order 2, a model whose eps is its own input time / 1000 (so the D term is exercised) */
static cld_status eps_is_time(void *user, const float *x, const float *t, int batch, float *out) {
  (void)user;
  (void)x;
  for (int i = 0; i < batch; i++) out[i] = t[i] / 1000.0f;
  return CLD_OK;
}

static void test_dpm_solver(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  float x1 = 1.0f, traj[11], o;
  cld_sample_params p = cld_sample_params_default();
  p.sampler = CLD_SAMPLER_DPM_SOLVER;
  p.steps = 10;
  p.batch = 1;
  p.x_init = &x1;
  p.trajectory = traj;
  TU_OK(ctx, cld_sample_with(ctx, eps_is_time, NULL, 1, 1, 1, &p, 0, 1, &o, NULL, NULL));
  double e0 = 0.999, e1 = 0.8991; /* model times 999 and 899.1 */
  double want1 = 2.60895998 * 1.0 - 1.60904469 * e0;
  double want2 = 2.35779565 * want1 - 1.35823564 * e1 - 0.67911782 * (e1 - e0) / 1.11733498;
  fprintf(stderr, "dpm-solver vector 21: step 1 %.8f (want %.8f), step 2 %.8f (want %.8f)\n", traj[1], want1, traj[2], want2);
  assert_true(fabs(traj[1] - want1) < 2e-6);
  assert_true(fabs(traj[2] - want2) < 2e-6);
  /* every variant converges to Gaussian data's moments (at 20 steps the time-uniform grid still
   * gives variance 0.309 for multistep-2, as an independent NumPy run of the same algorithm
   * does; 100 evaluations are within 0.01) */
  gauss_model gm = {cld_schedule_create(CLD_BETA_LINEAR, 1000), 1};
  const int n = 4000;
  float *out = tu_alloc(n);
  struct { int order; bool multi; int grid; } v[] = {{2, true, CLD_DPM_TIME_UNIFORM}, {3, true, CLD_DPM_LOGSNR},
                                                     {1, false, CLD_DPM_TIME_UNIFORM}, {2, false, CLD_DPM_TIME_QUADRATIC},
                                                     {3, false, CLD_DPM_LOGSNR}};
  for (size_t c = 0; c < sizeof v / sizeof v[0]; c++) {
    cld_sample_params q = cld_sample_params_default();
    q.sampler = CLD_SAMPLER_DPM_SOLVER;
    q.steps = 100;
    q.batch = 1000;
    q.seed = 3;
    q.dpm_order = v[c].order;
    q.dpm_multistep = v[c].multi;
    q.dpm_grid = v[c].grid;
    TU_OK(ctx, cld_sample_with(ctx, gauss_denoise, &gm, 1, 1, 1, &q, 0, n, out, NULL, NULL));
    double m = 0, var = 0;
    for (int i = 0; i < n; i++) m += out[i];
    m /= n;
    for (int i = 0; i < n; i++) var += (out[i] - m) * (out[i] - m);
    var /= n - 1;
    fprintf(stderr, "dpm-solver order %d %s grid %d: mean %.4f variance %.4f (data %.2f, %.4f)\n", v[c].order,
            v[c].multi ? "multistep" : "singlestep", v[c].grid, m, var, MU, SD * SD);
    assert_true(fabs(m - MU) < 0.03);
    assert_true(fabs(var - SD * SD) < (v[c].order == 1 ? 0.03 : 0.015));
  }
  free(out);
  cld_schedule_destroy(gm.s);
  cld_ctx_destroy(ctx);
}

/* counts the network evaluations of one batch and keeps the first time it was asked for */
typedef struct { gauss_model gm; int calls; float first_t, last_t; } counting_model;
static cld_status counting_denoise(void *user, const float *x, const float *t, int batch, float *out) {
  counting_model *c = user;
  if (c->calls++ == 0) c->first_t = t[0];
  c->last_t = t[0];
  return gauss_denoise(&c->gm, x, t, batch, out);
}

/* METHODS.md vector 11's NFE: the released pnm_solver drops the top grid time (S - 1 transitions,
 * 18 F-PNDM evaluations at S = 10), which respacing tsdpmS reproduces; cldiff's default walks the
 * whole ddimN grid, S transitions from 900: 19 (3 Runge-Kutta warm-up steps of 4 + 7), and
 * S-PNDM 11 (one improved-Euler step of 2 + 9) */
static void test_pndm_nfe(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  float out[8];
  for (int f = 0; f < 2; f++) {
    counting_model c = {{cld_schedule_create(CLD_BETA_LINEAR, 1000), 1}, 0, -1, -1};
    cld_sample_params q = cld_sample_params_default();
    q.sampler = f ? CLD_SAMPLER_FPNDM : CLD_SAMPLER_SPNDM;
    q.steps = 10;
    q.batch = 8;
    TU_OK(ctx, cld_sample_with(ctx, counting_denoise, &c, 1, 1, 1, &q, 0, 8, out, NULL, NULL));
    assert_int_equal(c.calls, f ? 19 : 11);
    assert_true(c.first_t == 900.0f);
    /* the released grid (respacing tsdpm10): 9 transitions from 801, F-PNDM 18 evaluations as
     * vector 11 counts, S-PNDM 10; the last at 1 (the step 1 -> 0) */
    c.calls = 0;
    q.respacing = "tsdpm10";
    TU_OK(ctx, cld_sample_with(ctx, counting_denoise, &c, 1, 1, 1, &q, 0, 8, out, NULL, NULL));
    assert_int_equal(c.calls, f ? 18 : 10);
    assert_true(c.first_t == 801.0f && c.last_t == 1.0f);
    cld_schedule_destroy(c.gm.s);
  }
  /* DDIM on tsdpm10: evaluations at 801, 701, ..., 1 and the last step ends at abar_0 (no step to
   * x0): a DDIM chain in double on the same exact denoiser */
  counting_model c = {{cld_schedule_create(CLD_BETA_LINEAR, 1000), 1}, 0, -1, -1};
  const double *ab = c.gm.s->alpha_bar;
  float init[8];
  tu_fill(init, 8, 21, -2, 2);
  cld_sample_params q = cld_sample_params_default();
  q.respacing = "tsdpm10";
  q.batch = 8;
  q.x_init = init;
  TU_OK(ctx, cld_sample_with(ctx, counting_denoise, &c, 1, 1, 1, &q, 0, 8, out, NULL, NULL));
  assert_int_equal(c.calls, 9);
  assert_true(c.first_t == 801.0f && c.last_t == 1.0f);
  for (int i = 0; i < 8; i++) {
    double x = init[i];
    for (int t = 801; t >= 1; t -= 100) {
      int tn = t > 1 ? t - 100 : 0;
      double e = sqrt(1 - ab[t]) * (x - sqrt(ab[t]) * MU) / (ab[t] * SD * SD + 1 - ab[t]);
      double x0 = (x - sqrt(1 - ab[t]) * e) / sqrt(ab[t]);
      x = sqrt(ab[tn]) * x0 + sqrt(1 - ab[tn]) * e;
    }
    assert_true(fabs(out[i] - x) < 1e-5);
  }
  q.sampler = CLD_SAMPLER_DDPM; /* the released code's ddpm is generalised DDIM: ddim --eta */
  assert_int_equal(cld_sample_with(ctx, counting_denoise, &c, 1, 1, 1, &q, 0, 8, out, NULL, NULL), CLD_ERR_UNSUPPORTED);
  q.sampler = CLD_SAMPLER_DPM_SOLVER; /* a respacing is not silently ignored where the grid is the sampler's own */
  q.respacing = "ddim10";
  assert_int_equal(cld_sample_with(ctx, counting_denoise, &c, 1, 1, 1, &q, 0, 8, out, NULL, NULL), CLD_ERR_UNSUPPORTED);
  cld_schedule_destroy(c.gm.s);
  cld_ctx_destroy(ctx);
}

/* METHODS.md vectors 19-20 and PNDM's convergence on Gaussian data */
static void test_pndm(void **state) {
  (void)state;
  cld_schedule *s = cld_schedule_create(CLD_BETA_LINEAR, 1000);
  double x = cld_pndm_transfer(s->alpha_bar[701], s->alpha_bar[601], 0.7, -0.4);
  fprintf(stderr, "vector 19: transfer 701 -> 601 = %.13f\n", x);
  assert_true(fabs(x - 1.7269362585886) < 1e-12);
  double e4[4] = {1, 2, 3, 4}, e2[2] = {3, 4};
  assert_true(cld_pndm_combine(2, e4) == 4.5);
  assert_true(cld_pndm_combine(1, e2) == 4.5);
  assert_true(cld_pndm_combine(0, e4) == 2.5);
  cld_schedule_destroy(s);
  cld_ctx *ctx = tu_ctx();
  gauss_model gm = {cld_schedule_create(CLD_BETA_LINEAR, 1000), 1};
  const int n = 4000;
  float *out = tu_alloc(n);
  for (int f = 0; f < 2; f++) {
    cld_sample_params q = cld_sample_params_default();
    q.sampler = f ? CLD_SAMPLER_FPNDM : CLD_SAMPLER_SPNDM;
    q.steps = 50;
    q.batch = 1000;
    q.seed = 3;
    TU_OK(ctx, cld_sample_with(ctx, gauss_denoise, &gm, 1, 1, 1, &q, 0, n, out, NULL, NULL));
    double m = 0, var = 0;
    for (int i = 0; i < n; i++) m += out[i];
    m /= n;
    for (int i = 0; i < n; i++) var += (out[i] - m) * (out[i] - m);
    var /= n - 1;
    fprintf(stderr, "%s 50 steps: mean %.4f variance %.4f (data %.2f, %.4f)\n", f ? "fpndm" : "spndm", m, var, MU, SD * SD);
    assert_true(fabs(m - MU) < 0.03);
    assert_true(fabs(var - SD * SD) < 0.015);
  }
  free(out);
  cld_schedule_destroy(gm.s);
  cld_ctx_destroy(ctx);
}

/* Epsilon Scaling: every discrete-time loop divides the network's eps by lambda before it makes
 * x0 and the step, so sampling with lambda equals sampling a denoiser whose output is eps/lambda
 * (to float rounding); lambda's linear schedule is ADM-ES's list b + k (i - (N-1)/2); b = 1, k = 0
 * is the baseline, bit for bit. */
static double es_lambda = 1.0;
static cld_status gauss_denoise_scaled(void *user, const float *x, const float *t, int batch, float *out) {
  gauss_model *g = user;
  cld_status st = gauss_denoise(user, x, t, batch, out);
  for (int i = 0; i < batch * g->per && !st; i++) out[i] = (float)(out[i] / es_lambda);
  return st;
}
static void test_eps_scaling(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  gauss_model gm = {cld_schedule_create(CLD_BETA_LINEAR, 1000), 16};
  const int samplers[] = {CLD_SAMPLER_DDIM, CLD_SAMPLER_DDPM, CLD_SAMPLER_SPNDM, CLD_SAMPLER_DPM_SOLVER, CLD_SAMPLER_DPMPP_2M,
                          CLD_SAMPLER_UNIPC};
  enum { NI = 3, PER = 16 };
  float a[NI * PER], b[NI * PER], base[NI * PER];
  es_lambda = 1.05;
  for (size_t k = 0; k < sizeof samplers / sizeof *samplers; k++) {
    cld_sample_params p = cld_sample_params_default();
    p.sampler = samplers[k];
    p.steps = 10;
    p.seed = 4;
    TU_OK(ctx, cld_sample_with(ctx, gauss_denoise, &gm, 1, 4, 4, &p, 0, NI, base, NULL, NULL));
    p.eps_scale = (cld_eps_scale){1.0f, 0.0f}; /* off: the baseline's bytes */
    TU_OK(ctx, cld_sample_with(ctx, gauss_denoise, &gm, 1, 4, 4, &p, 0, NI, a, NULL, NULL));
    assert_memory_equal(a, base, sizeof a);
    p.eps_scale = (cld_eps_scale){1.05f, 0.0f};
    TU_OK(ctx, cld_sample_with(ctx, gauss_denoise, &gm, 1, 4, 4, &p, 0, NI, a, NULL, NULL));
    p.eps_scale = (cld_eps_scale){0};
    TU_OK(ctx, cld_sample_with(ctx, gauss_denoise_scaled, &gm, 1, 4, 4, &p, 0, NI, b, NULL, NULL));
    double worst = 0, moved = 0;
    for (int i = 0; i < NI * PER; i++) {
      worst = fmax(worst, fabs((double)a[i] - b[i]));
      moved = fmax(moved, fabs((double)a[i] - base[i]));
    }
    if (getenv("CLDIFF_TEST_VERBOSE")) fprintf(stderr, "eps scaling, sampler %d: %.2g from eps/lambda, %.2g from the baseline\n", samplers[k], worst, moved);
    assert_true(worst < 2e-5);
    assert_true(moved > 1e-3);
  }
  /* the linear schedule: ADM-ES's commented "linear schedule" list, start = b - k (N - 1)/2,
   * lambda_i = start + i k at respaced index i = t N / T */
  cld_eps_scale es = {1.011f, 0.0004f};
  for (int i = 0; i < 50; i++) {
    double want = ((double)es.b - (double)es.k * (50 - 1) / 2.0) + i * (double)es.k;
    assert_true(fabs(cld_eps_scale_at(&es, i * 20.0, 50, 1000) - want) < 1e-12);
  }
  cld_sample_params p = cld_sample_params_default();
  p.prediction = CLD_PRED_EDM;
  p.sampler = CLD_SAMPLER_HEUN;
  p.eps_scale = es;
  assert_non_null(cld_sample_params_check(&p, NULL)); /* not for the EDM samplers */
  cld_schedule_destroy(gm.s);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parity_with_diffusers),
      cmocka_unit_test(test_gaussian_moments),
      cmocka_unit_test(test_batch_independence),
      cmocka_unit_test(test_pndm_nfe),
      cmocka_unit_test(test_edm),
      cmocka_unit_test(test_dpm_solver),
      cmocka_unit_test(test_pndm), cmocka_unit_test(test_eps_scaling),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
