/* The five methods against METHODS.md section 9 (vectors 6-7, 8-10, 12-18) and their
 * identity properties: gamma = 0, R = B = 1 and lambda = 0 train bit-identically to the baseline,
 * a Time-Shift window of 1 (and a cutoff above every grid time) samples bit-identically; the MMD
 * gradient against central differences; STF weights against a direct double computation on
 * random data; TS window edges near 0 and T-1 and the strict cutoff; all four training methods
 * at once. */
#include "test_util.h"

static cld_schedule *linear(void) { return cld_schedule_create(CLD_BETA_LINEAR, 1000); }

static void test_ip(void **state) {
  (void)state;
  cld_schedule *s = linear();
  cld_methods m = cld_methods_default();
  m.ip_gamma = 0.1f;
  /* vector 7: t = 500, x0 = 0.5, eps = 0.3, xi = -1.2, gamma 0.1 -> 0.3123168157; 0.4275545184 without */
  double ab = s->alpha_bar[500], g = cld_ip_gamma_at(&m, 500, 1000);
  assert_true(fabs(sqrt(ab) * 0.5 + sqrt(1 - ab) * (0.3 + g * -1.2) - 0.3123168157) < 1e-7);
  assert_true(fabs(sqrt(ab) * 0.5 + sqrt(1 - ab) * 0.3 - 0.4275545184) < 1e-9);
  m.ip_ramp = true; /* linspace(0.01 gamma, gamma, T) */
  assert_true(fabs(cld_ip_gamma_at(&m, 0, 1000) - 0.001) < 1e-9 && fabs(cld_ip_gamma_at(&m, 999, 1000) - 0.1) < 1e-7);
  /* the graph part: eps + gamma xi with xi standard normal (std of the difference / gamma ~ 1, vector 6's sqrt(1 + g^2) follows) */
  cld_ctx *ctx = tu_ctx();
  cld_graph *gr = cld_graph_create(ctx);
  cld_tensor *eps = cld_input_4d(gr, "eps", 64, 1, 8, 8), *gam = cld_input_4d(gr, "g", 64, 1, 1, 1);
  cld_tensor *y = cld_ip_noise(gr, eps, gam);
  cld_graph_keep(gr, y);
  TU_OK(ctx, cld_graph_plan(gr, NULL));
  float *e = tu_alloc(4096), *o = tu_alloc(4096), gv[64];
  tu_fill(e, 4096, 3, -1, 1);
  for (int i = 0; i < 64; i++) gv[i] = 0.15f;
  TU_OK(ctx, cld_tensor_write(gr, eps, e));
  TU_OK(ctx, cld_tensor_write(gr, gam, gv));
  TU_OK(ctx, cld_graph_compute(gr));
  TU_OK(ctx, cld_tensor_read(gr, y, o));
  double mean = 0, var = 0;
  for (int i = 0; i < 4096; i++) mean += (o[i] - e[i]) / 0.15;
  mean /= 4096;
  for (int i = 0; i < 4096; i++) var += pow((o[i] - e[i]) / 0.15 - mean, 2);
  var /= 4095;
  assert_true(fabs(mean) < 0.1 && fabs(var - 1) < 0.1);
  free(e); free(o);
  cld_graph_destroy(gr);
  cld_ctx_destroy(ctx);
  cld_schedule_destroy(s);
}

static void test_weighting(void **state) {
  (void)state;
  cld_schedule *s = linear(), *c = cld_schedule_create(CLD_BETA_COSINE, 1000);
  cld_methods m = cld_methods_default();
  assert_true(cld_loss_weight(&m, 0.3) == 1.0);
  m.weighting = cld_weighting_parse("debias");
  const int ts[6] = {0, 99, 249, 499, 749, 999};
  const double want[6] = {0.01000050, 0.33882835, 0.95293550, 3.42413662, 17.24698301, 157.40728081}; /* vector 16 */
  for (int i = 0; i < 6; i++) assert_true(fabs(cld_loss_weight(&m, s->alpha_bar[ts[i]]) - want[i]) < 1e-8 * (1 + want[i]));
  assert_true(fabs(cld_loss_weight(&m, c->alpha_bar[0]) - 0.00642541) < 1e-8);
  assert_true(fabs(cld_loss_weight(&m, c->alpha_bar[499]) - 1.01238956) < 1e-8);
  assert_true(fabs(cld_loss_weight(&m, c->alpha_bar[999]) / 20291.17 - 1) < 1e-5);
  m.weighting = cld_weighting_parse("min-snr");
  assert_true(fabs(cld_loss_weight(&m, s->alpha_bar[99]) - 0.574023) < 1e-6);
  m.weighting = cld_weighting_parse("p2");
  assert_true(fabs(cld_loss_weight(&m, s->alpha_bar[99]) - 0.102982) < 1e-6);
  m.weighting = CLD_WEIGHT_DEBIAS; /* clamped SNR 1000 at t = 0: 1/sqrt(1000) */
  m.snr_clamp = 1000;
  assert_true(fabs(cld_loss_weight(&m, s->alpha_bar[0]) - 1 / sqrt(1000.0)) < 1e-12);
  assert_int_equal(cld_weighting_parse("snr"), -1);
  /* vector 15: at ab = 0.3 the v-MSE weighted by SNR/(SNR+1) = 0.3 is the eps-MSE (to 1e-15);
   * likewise SNR times the x0-MSE, on random x0, eps and predictions */
  double ab = 0.3, sa = sqrt(ab), s1 = sqrt(1 - ab), snr = ab / (1 - ab);
  assert_true(fabs(cld_eps_mse_factor(CLD_PRED_V, ab) - snr / (snr + 1)) < 1e-15);
  assert_true(cld_eps_mse_factor(CLD_PRED_EPS, ab) == 1.0);
  float r[5 * 64];
  tu_fill(r, 5 * 64, 15, -2, 2);
  double mv = 0, mx = 0, me_v = 0, me_x = 0;
  for (int i = 0; i < 64; i++) {
    double x0 = r[i], eps = r[64 + i], vhat = r[128 + i], x0hat = r[192 + i], xt = sa * x0 + s1 * eps;
    double v = sa * eps - s1 * x0;
    double eps_v = s1 * xt + sa * vhat, eps_x = (xt - sa * x0hat) / s1; /* eps from each prediction */
    mv += (vhat - v) * (vhat - v);
    me_v += (eps_v - eps) * (eps_v - eps);
    mx += (x0hat - x0) * (x0hat - x0);
    me_x += (eps_x - eps) * (eps_x - eps);
  }
  assert_true(fabs(cld_eps_mse_factor(CLD_PRED_V, ab) * mv - me_v) < 1e-14 * me_v);
  assert_true(fabs(cld_eps_mse_factor(CLD_PRED_X0, ab) * mx - me_x) < 1e-14 * me_x);
  cld_schedule_destroy(s);
  cld_schedule_destroy(c);
}

/* STF x0-target through the graph for B samples against R references in D dims */
static void stf_graph(cld_ctx *ctx, int B, int R, int D, const float *x, const float *y, const float *inv_s, const float *hs, float *out) {
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *tx = cld_input(g, "x", 2, (int64_t[]){B, D}), *ty = cld_input(g, "y", 2, (int64_t[]){R, D});
  cld_tensor *ti = cld_input(g, "inv_s", 2, (int64_t[]){B, 1}), *th = cld_input(g, "hs", 2, (int64_t[]){B, 1});
  cld_tensor *o = cld_stf_x0_target(g, tx, ty, ti, th);
  cld_graph_keep(g, o);
  TU_OK(ctx, cld_graph_plan(g, NULL));
  TU_OK(ctx, cld_tensor_write(g, tx, x));
  TU_OK(ctx, cld_tensor_write(g, ty, y));
  TU_OK(ctx, cld_tensor_write(g, ti, inv_s));
  TU_OK(ctx, cld_tensor_write(g, th, hs));
  TU_OK(ctx, cld_graph_compute(g));
  TU_OK(ctx, cld_tensor_read(g, o, out));
  cld_graph_destroy(g);
}

static void test_stf(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  /* vector 17 (EDM form): refs (1,0), (0,1), (-1,0), x = (0.5, 0.2) */
  const float y[6] = {1, 0, 0, 1, -1, 0}, x[2] = {0.5f, 0.2f}, one = 1;
  const double sig[4] = {0.5, 1, 2, 10}, tx[4] = {0.74397653, 0.29976823, 0.08172754, 0.00333110},
               ty[4] = {0.22826219, 0.35131552, 0.34277787, 0.33377515};
  for (int k = 0; k < 4; k++) {
    float hs = (float)(1 / (2 * sig[k] * sig[k])), o[2];
    stf_graph(ctx, 1, 3, 2, x, y, &one, &hs, o);
    assert_true(fabs(o[0] - tx[k]) < 2e-6 && fabs(o[1] - ty[k]) < 2e-6);
  }
  /* vector 18 (VP form): ab = 0.5, y = (1,0), eps = (0, 0.4) -> x0-target (0.51341407, 0.32586922),
   * eps-target (0.48658593, 0.07413078) = eps + sqrt(SNR)(y - x0_target) */
  float xt[2] = {0.70710678f, 0.28284271f}, is = (float)sqrt(2.0), hs = 0.5f, o[2];
  stf_graph(ctx, 1, 3, 2, xt, y, &is, &hs, o);
  assert_true(fabs(o[0] - 0.51341407) < 2e-6 && fabs(o[1] - 0.32586922) < 2e-6);
  assert_true(fabs(0 + (1 - o[0]) - 0.48658593) < 2e-6 && fabs(0.4 + (0 - o[1]) - 0.07413078) < 2e-6);
  /* random data against a direct double computation */
  enum { B = 5, R = 9, D = 7 };
  float rx[B * D], ry[R * D], ris[B], rhs[B], ro[B * D];
  tu_fill(rx, B * D, 1, -2, 2);
  tu_fill(ry, R * D, 2, -1, 1);
  for (int i = 0; i < B; i++) {
    double ab = 0.1 + 0.2 * i;
    ris[i] = (float)(1 / sqrt(ab));
    rhs[i] = (float)(ab / (2 * (1 - ab)));
  }
  stf_graph(ctx, B, R, D, rx, ry, ris, rhs, ro);
  for (int i = 0; i < B; i++) {
    double ab = 0.1 + 0.2 * i, l[R], mx = -INFINITY, sum = 0;
    for (int j = 0; j < R; j++) {
      double d2 = 0;
      for (int k = 0; k < D; k++) d2 += pow(rx[i * D + k] - sqrt(ab) * ry[j * D + k], 2);
      l[j] = -d2 / (2 * (1 - ab));
      mx = fmax(mx, l[j]);
    }
    for (int j = 0; j < R; j++) sum += (l[j] = exp(l[j] - mx));
    for (int k = 0; k < D; k++) {
      double want = 0;
      for (int j = 0; j < R; j++) want += l[j] / sum * ry[j * D + k];
      assert_true(fabs(ro[i * D + k] - want) < 1e-5);
    }
  }
  cld_ctx_destroy(ctx);
}

/* host MMD^2 with a fixed bandwidth, double */
static double mmd_host(const double *x, const double *y, int n, int D, double bw) {
  double kxx = 0, kyy = 0, kxy = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double dxx = 0, dyy = 0, dxy = 0;
      for (int k = 0; k < D; k++) {
        dxx += pow(x[i * D + k] - x[j * D + k], 2);
        dyy += pow(y[i * D + k] - y[j * D + k], 2);
        dxy += pow(x[i * D + k] - y[j * D + k], 2);
      }
      for (int q = -2; q <= 2; q++) {
        double b = bw * pow(2, q);
        kxx += exp(-dxx / b); kyy += exp(-dyy / b); kxy += exp(-dxy / b);
      }
    }
  return (kxx + kyy - 2 * kxy) / ((double)n * n);
}

static double bandwidth(const double *x, const double *y, int n, int D) {
  double s = 0;
  for (int i = 0; i < 2 * n; i++)
    for (int j = 0; j < 2 * n; j++) {
      const double *a = i < n ? x + i * D : y + (i - n) * D, *b = j < n ? x + j * D : y + (j - n) * D;
      for (int k = 0; k < D; k++) s += pow(a[k] - b[k], 2);
    }
  return s / (4.0 * n * n - 2.0 * n);
}

static void test_mmd(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  enum { N = 3, D = 4 };
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *tx = cld_input(g, "x", 2, (int64_t[]){N, D}), *ty = cld_input(g, "y", 2, (int64_t[]){N, D});
  cld_set_requires_grad(tx, true);
  cld_tensor *mmd = cld_mmd2_multi_rbf(g, tx, ty);
  cld_graph_keep(g, mmd);
  TU_OK(ctx, cld_graph_backward(g, mmd));
  TU_OK(ctx, cld_graph_plan(g, NULL));
  /* vector 14 lives in 2-D; check it on a separate 2-point graph */
  cld_graph *g2 = cld_graph_create(ctx);
  cld_tensor *ax = cld_input(g2, "x", 2, (int64_t[]){2, 2}), *ay = cld_input(g2, "y", 2, (int64_t[]){2, 2});
  cld_tensor *m2 = cld_mmd2_multi_rbf(g2, ax, ay);
  cld_graph_keep(g2, m2);
  TU_OK(ctx, cld_graph_plan(g2, NULL));
  const float X[4] = {0, 0, 1, 0}, Y[4] = {0, 1, 1, 1};
  float v;
  TU_OK(ctx, cld_tensor_write(g2, ax, X));
  TU_OK(ctx, cld_tensor_write(g2, ay, Y));
  TU_OK(ctx, cld_graph_compute(g2));
  TU_OK(ctx, cld_tensor_read(g2, m2, &v));
  assert_true(fabs(v - 3.5649481878) < 2e-5);
  TU_OK(ctx, cld_tensor_write(g2, ay, X));
  TU_OK(ctx, cld_graph_compute(g2));
  TU_OK(ctx, cld_tensor_read(g2, m2, &v));
  assert_true(fabs(v) < 1e-6);
  cld_graph_destroy(g2);
  /* gradient w.r.t. x against central differences of the double MMD at the (detached) bandwidth */
  float xf[N * D], yf[N * D], gr[N * D];
  double xd[N * D], yd[N * D];
  tu_fill(xf, N * D, 5, -1, 1);
  tu_fill(yf, N * D, 6, -1, 1);
  for (int i = 0; i < N * D; i++) { xd[i] = xf[i]; yd[i] = yf[i]; }
  TU_OK(ctx, cld_tensor_write(g, tx, xf));
  TU_OK(ctx, cld_tensor_write(g, ty, yf));
  TU_OK(ctx, cld_graph_compute(g));
  TU_OK(ctx, cld_tensor_read(g, mmd, &v));
  TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(tx), gr));
  double bw = bandwidth(xd, yd, N, D);
  assert_true(fabs(v - mmd_host(xd, yd, N, D, bw)) < 1e-5);
  for (int i = 0; i < N * D; i++) {
    double h = 1e-5, keep = xd[i];
    xd[i] = keep + h;
    double up = mmd_host(xd, yd, N, D, bw);
    xd[i] = keep - h;
    double dn = mmd_host(xd, yd, N, D, bw);
    xd[i] = keep;
    double fd = (up - dn) / (2 * h);
    assert_true(fabs(gr[i] - fd) < 1e-4 + 1e-3 * fabs(fd));
  }
  cld_graph_destroy(g);
  cld_ctx_destroy(ctx);
}

static void test_ts_select(void **state) {
  (void)state;
  cld_schedule *s = linear();
  /* vector 8 */
  const double want8[5] = {0.99293481, 0.99303389, 0.99313172, 0.99322832, 0.99332369};
  for (int i = 0; i < 5; i++) assert_true(fabs(1 - s->alpha_bar[698 + i] - want8[i]) < 1e-8);
  cld_time_shift ts = {5, 550, CLD_TS_SHIFTED, false, 0};
  /* vector 9 */
  assert_int_equal(cld_ts_select(&ts, s, 0.990, 700, 0), 698);
  assert_int_equal(cld_ts_select(&ts, s, 0.9932, 700, 0), 701);
  assert_int_equal(cld_ts_select(&ts, s, 1.01, 700, 0), 702);
  assert_int_equal(cld_ts_select(&ts, s, 0.99312, 700, 0), 700);
  assert_int_equal(cld_ts_select(&ts, s, 0.3, 500, 0), 500); /* below the cutoff */
  assert_int_equal(cld_ts_select(&ts, s, 0.99, 550, 0), 550); /* strict: t == cutoff is not shifted */
  assert_int_equal(cld_ts_select(&ts, s, 0.99, 551, 0), 553);
  ts.cutoff = 0;
  assert_int_equal(cld_ts_select(&ts, s, 0.5, 1, 0), 3); /* window [-1..3] clamped to [0..3] */
  ts.window = 10; /* top edge: window clamped to 999 */
  assert_int_equal(cld_ts_select(&ts, s, 2.0, 998, 0), 999);
  assert_int_equal(cld_ts_select(&ts, s, 0.0, 700, 699), 699); /* never at or below the next grid time */
  ts.window = 30; /* vector 10 */
  assert_int_equal(cld_ts_select(&ts, s, 0.47, 250, 0), 247);
  /* vector 12: the released DPM-Solver path compares var(eps_hat) ~ 1.0, above every 1 - abar, so
   * it always lands on the window's top: w = 30 (cutoff 300) takes 899 -> 914, 599 -> 614, 400 -> 415 */
  ts.cutoff = 300;
  assert_int_equal(cld_ts_select(&ts, s, 1.0, 899, 0), 914);
  assert_int_equal(cld_ts_select(&ts, s, 1.0, 599, 0), 614);
  assert_int_equal(cld_ts_select(&ts, s, 1.0, 400, 0), 415);
  ts.cutoff = 0;
  ts.window = 0;
  assert_int_equal(cld_ts_select(&ts, s, 0.47, 250, 0), 250);
  /* data-aware: var of a state at t with data variance v is ab v + 1 - ab: it picks t itself */
  ts = (cld_time_shift){20, 0, CLD_TS_SHIFTED, true, 0.25};
  double ab = s->alpha_bar[400];
  assert_int_equal(cld_ts_select(&ts, s, ab * 0.25 + 1 - ab, 400, 0), 400);
  ts.data_aware = false; /* plain TS is pushed up by the ab v term */
  assert_true(cld_ts_select(&ts, s, ab * 0.25 + 1 - ab, 400, 0) > 400);
  const float v4[4] = {1, 2, 3, 4};
  assert_true(fabs(cld_ts_variance(v4, 4) - 5.0 / 3.0) < 1e-12);
  cld_schedule_destroy(s);
}

/* target mode (METHODS 4.2 A): the window is around the nominal next time, never reaching the current t */
static void test_ts_select_target(void **state) {
  (void)state;
  cld_schedule *s = linear();
  cld_time_shift ts = {5, 550, CLD_TS_TARGET, false, 0};
  /* vector 9's window [698, 702], now as the end of the step from 800 */
  assert_int_equal(cld_ts_select_target(&ts, s, 0.990, 800, 700), 698);
  assert_int_equal(cld_ts_select_target(&ts, s, 0.9932, 800, 700), 701);
  assert_int_equal(cld_ts_select_target(&ts, s, 1.01, 800, 700), 702);
  assert_int_equal(cld_ts_select_target(&ts, s, 0.99312, 800, 700), 700);
  assert_int_equal(cld_ts_select_target(&ts, s, 0.99, 650, 550), 550); /* strict cutoff on the next time */
  assert_int_equal(cld_ts_select_target(&ts, s, 0.99, 651, 551), 553);
  assert_int_equal(cld_ts_select_target(&ts, s, 0.99, 800, -1), -1);   /* the step to x0 */
  assert_int_equal(cld_ts_select_target(&ts, s, 0.99, 700, 700), 700); /* no step down: left alone */
  ts.window = 10; /* [695, 705] capped at t - 1 = 701: the step still moves down */
  assert_int_equal(cld_ts_select_target(&ts, s, 2.0, 702, 700), 701);
  ts.window = 5;
  ts.cutoff = 0; /* [-1, 3] clamped to [0, 3] */
  assert_int_equal(cld_ts_select_target(&ts, s, 0.5, 100, 1), 3);
  ts.window = 0;
  assert_int_equal(cld_ts_select_target(&ts, s, 0.5, 800, 700), 700);
  cld_schedule_destroy(s);
}

/* the exact denoiser of N(0, 0.25 I) data: eps = x sqrt(1 - ab) / (ab 0.25 + 1 - ab) */
static cld_status gauss_eps(void *user, const float *x, const float *t, int batch, float *out) {
  const cld_schedule *s = user;
  for (int b = 0; b < batch; b++) {
    double ab = s->alpha_bar[(int)t[b]], k = sqrt(1 - ab) / (ab * 0.25 + 1 - ab);
    for (int i = 0; i < 16; i++) out[b * 16 + i] = (float)(k * x[b * 16 + i]);
  }
  return CLD_OK;
}

/* with p's sampler and TS mode: window 1 ([t, t]) and a cutoff above every grid time give the
 * baseline bit for bit, window 40 with cutoff 200 changes the samples and keeps them finite */
static void ts_identities(cld_ctx *ctx, const cld_schedule *s, cld_sample_params p, float *base, float *o) {
  p.ts.window = 0;
  TU_OK(ctx, cld_sample_with(ctx, gauss_eps, (void *)s, 1, 4, 4, &p, 0, 8, base, NULL, NULL));
  p.ts.window = 1;
  TU_OK(ctx, cld_sample_with(ctx, gauss_eps, (void *)s, 1, 4, 4, &p, 0, 8, o, NULL, NULL));
  assert_memory_equal(base, o, 8 * 16 * sizeof(float));
  p.ts.window = 40;
  p.ts.cutoff = 999; /* strict cutoff above every grid time: off */
  TU_OK(ctx, cld_sample_with(ctx, gauss_eps, (void *)s, 1, 4, 4, &p, 0, 8, o, NULL, NULL));
  assert_memory_equal(base, o, 8 * 16 * sizeof(float));
  p.ts.cutoff = 200;
  TU_OK(ctx, cld_sample_with(ctx, gauss_eps, (void *)s, 1, 4, 4, &p, 0, 8, o, NULL, NULL));
  assert_memory_not_equal(base, o, 8 * 16 * sizeof(float));
  for (int i = 0; i < 128; i++) assert_true(isfinite(o[i]) && fabsf(o[i]) < 10);
}

static void test_ts_sampling(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_schedule *s = linear();
  float *base = tu_alloc(8 * 16), *o = tu_alloc(8 * 16);
  /* ... and DPM-Solver multistep 2 and 3, singlestep 1, 2 and 3 */
  const int samplers[9] = {CLD_SAMPLER_DDPM, CLD_SAMPLER_DDIM, CLD_SAMPLER_SPNDM, CLD_SAMPLER_FPNDM,
                           CLD_SAMPLER_DPM_SOLVER, CLD_SAMPLER_DPM_SOLVER, CLD_SAMPLER_DPM_SOLVER, CLD_SAMPLER_DPM_SOLVER,
                           CLD_SAMPLER_DPM_SOLVER};
  const int orders[9] = {2, 2, 2, 2, 2, 3, 1, 2, 3};
  for (int sk = 0; sk < 9; sk++) {
    cld_sample_params p = cld_sample_params_default();
    p.sampler = samplers[sk];
    p.dpm_multistep = sk < 6;
    p.dpm_order = orders[sk];
    p.steps = 10;
    p.batch = 4;
    p.ts.coeffs = CLD_TS_SHIFTED;
    ts_identities(ctx, s, p, base, o);
    /* the default reading is the sampler's released one: target on DDPM/DDIM/PNDM, shifted on DPM-Solver */
    p.ts.window = 40;
    TU_OK(ctx, cld_sample_with(ctx, gauss_eps, s, 1, 4, 4, &p, 0, 8, base, NULL, NULL));
    p.ts.coeffs = CLD_TS_TARGET;
    if (sk < 4) TU_OK(ctx, cld_sample_with(ctx, gauss_eps, s, 1, 4, 4, &p, 0, 8, o, NULL, NULL));
    p.ts.coeffs = CLD_TS_RELEASED;
    float *rel = tu_alloc(8 * 16);
    TU_OK(ctx, cld_sample_with(ctx, gauss_eps, s, 1, 4, 4, &p, 0, 8, rel, NULL, NULL));
    assert_memory_equal(rel, sk < 4 ? o : base, 8 * 16 * sizeof(float));
    if (sk < 4) assert_memory_not_equal(base, o, 8 * 16 * sizeof(float));
    free(rel);
    p.ts.window = 0;
    if (sk >= 4) continue;
    p.ts.coeffs = CLD_TS_TARGET; /* target mode on the DDPM/DDIM/PNDM samplers */
    ts_identities(ctx, s, p, base, o);
    p.steps = 2; /* the first step is never shifted, nor the step to x0 */
    TU_OK(ctx, cld_sample_with(ctx, gauss_eps, s, 1, 4, 4, &p, 0, 8, base, NULL, NULL));
    p.ts.window = 400;
    TU_OK(ctx, cld_sample_with(ctx, gauss_eps, s, 1, 4, 4, &p, 0, 8, o, NULL, NULL));
    assert_memory_equal(base, o, 8 * 16 * sizeof(float));
  }
  assert_int_equal(cld_ts_resolve(CLD_TS_RELEASED, false), CLD_TS_TARGET);
  assert_int_equal(cld_ts_resolve(CLD_TS_RELEASED, true), CLD_TS_SHIFTED);
  assert_int_equal(cld_ts_resolve(CLD_TS_NOMINAL, false), CLD_TS_NOMINAL);
  cld_sample_params p = cld_sample_params_default();
  assert_int_equal(p.ts.coeffs, CLD_TS_RELEASED);
  p.sampler = CLD_SAMPLER_DPM_SOLVER; /* target mode is the DDIM/PNDM code path only */
  p.ts.window = 5;
  p.ts.coeffs = CLD_TS_TARGET;
  assert_int_equal(cld_sample_with(ctx, gauss_eps, s, 1, 4, 4, &p, 0, 8, o, NULL, NULL), CLD_ERR_UNSUPPORTED);
  p.ts.coeffs = CLD_TS_SHIFTED;
  /* singlestep order 1, first step: from the start the window picks for the state's variance
   * (0.9: the window's bottom, 979 of [979, 999]) to the next grid time, eps at that start */
  float x_init[16], traj[6 * 16], e[16];
  for (int i = 0; i < 16; i++) x_init[i] = (float)(i % 2 ? 1 : -1) * sqrtf(0.9f * 15.0f / 16.0f);
  p.dpm_multistep = false;
  p.dpm_order = 1;
  p.steps = 5;
  p.batch = 1;
  p.ts.window = 40;
  p.x_init = x_init;
  p.trajectory = traj;
  TU_OK(ctx, cld_sample_with(ctx, gauss_eps, s, 1, 4, 4, &p, 0, 1, o, NULL, NULL));
  double grid[6];
  assert_int_equal(cld_dpm_time_grid(s, CLD_DPM_TIME_UNIFORM, 5, grid), 0);
  int j = cld_ts_select(&p.ts, s, cld_ts_variance(x_init, 16), 999, (int)lround(grid[1] * 1000));
  assert_int_equal(j, 979);
  double si = (j + 1) / 1000.0, t1 = grid[1];
  float tv = (float)cld_dpm_model_time(s, si);
  TU_OK(ctx, gauss_eps(s, x_init, &tv, 1, e));
  double ca = exp(cld_dpm_log_alpha(s, t1) - cld_dpm_log_alpha(s, si));
  double ce = cld_dpm_sigma(s, t1) * expm1(cld_dpm_lambda(s, t1) - cld_dpm_lambda(s, si));
  for (int i = 0; i < 16; i++) assert_true(fabs(traj[16 + i] - (ca * x_init[i] - ce * e[i])) < 1e-5);
  p.trajectory = NULL;
  p.x_init = NULL;
  p.sampler = CLD_SAMPLER_EULER;
  p.prediction = CLD_PRED_EDM;
  assert_int_equal(cld_sample_with(ctx, gauss_eps, s, 1, 4, 4, &p, 0, 8, o, NULL, NULL), CLD_ERR_UNSUPPORTED);
  free(base); free(o);
  cld_schedule_destroy(s);
  cld_ctx_destroy(ctx);
}

/* DDIM eta 0 from x at a_cur to a_next with gauss_eps's exact eps (a_next = 1: x0) */
static void ddim_ref(const cld_schedule *s, const float *x, int a_cur, double ab_next, double *out) {
  double ab = s->alpha_bar[a_cur], k = sqrt(1 - ab) / (ab * 0.25 + 1 - ab);
  for (int i = 0; i < 16; i++) {
    double e = k * x[i], x0 = (x[i] - sqrt(1 - ab) * e) / sqrt(ab);
    out[i] = sqrt(ab_next) * x0 + sqrt(1 - ab_next) * e;
  }
}

/* target mode, step by step on a 4-step DDIM (grid 0 < t1 < t2 < t3): step 1 plain, step 2 ends
 * at the top of the window around t1 (the state's variance is above every 1 - abar below t2),
 * step 3 goes from the nominal t1 to 0 (not above the cutoff: unshifted), step 4 to x0 */
static void test_ts_target_steps(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_schedule *s = linear();
  int taus[1000];
  assert_int_equal(cld_respace(1000, "ddim4", taus, 1000), 4);
  assert_int_equal(taus[0], 0);
  float traj[5 * 16], out[16];
  double ref[16];
  cld_sample_params p = cld_sample_params_default();
  p.sampler = CLD_SAMPLER_DDIM;
  p.steps = 4;
  p.batch = 1;
  p.trajectory = traj;
  p.ts = (cld_time_shift){100, 0, CLD_TS_TARGET, false, 0};
  TU_OK(ctx, cld_sample_with(ctx, gauss_eps, s, 1, 4, 4, &p, 0, 1, out, NULL, NULL));
  ddim_ref(s, traj, taus[3], s->alpha_bar[taus[2]], ref);
  for (int i = 0; i < 16; i++) assert_true(fabs(traj[16 + i] - ref[i]) < 1e-5);
  assert_true(cld_ts_variance(traj + 16, 16) > 1 - s->alpha_bar[taus[2] - 1]);
  int end = taus[1] + 50 < taus[2] - 1 ? taus[1] + 50 : taus[2] - 1;
  ddim_ref(s, traj + 16, taus[2], s->alpha_bar[end], ref);
  for (int i = 0; i < 16; i++) assert_true(fabs(traj[32 + i] - ref[i]) < 1e-5);
  ddim_ref(s, traj + 16, taus[2], s->alpha_bar[taus[1]], ref); /* not the nominal next time */
  double d = 0;
  for (int i = 0; i < 16; i++) d += fabs(traj[32 + i] - ref[i]);
  assert_true(d > 1e-3);
  ddim_ref(s, traj + 32, taus[1], s->alpha_bar[0], ref);
  for (int i = 0; i < 16; i++) assert_true(fabs(traj[48 + i] - ref[i]) < 1e-5);
  ddim_ref(s, traj + 48, 0, 1.0, ref);
  for (int i = 0; i < 16; i++) assert_true(fabs(out[i] - ref[i]) < 1e-5 && traj[64 + i] == out[i]);
  cld_schedule_destroy(s);
  cld_ctx_destroy(ctx);
}

/* ADM mode (METHODS 4.2 D): vector 13 on the cosine schedule, then a 5-step DDIM whose steps from
 * 600 and 400 end where cld_ts_select_adm puts them (the network at the nominal times), the first
 * step and those at or below the cutoff plain */
static void test_ts_adm(void **state) {
  (void)state;
  cld_schedule *c = cld_schedule_create(CLD_BETA_COSINE, 1000);
  cld_time_shift ts = {80, 300, CLD_TS_ADM, false, 0};
  int tau;
  assert_int_equal(cld_ts_select_adm(&ts, c, 0.70, 800, 600, 5, &tau), 509);
  assert_int_equal(tau, 760);
  assert_int_equal(cld_ts_select_adm(&ts, c, 0.90, 800, 600, 5, &tau), 550);
  assert_int_equal(tau, 801);
  assert_int_equal(cld_ts_select_adm(&ts, c, 0.95, 800, 600, 5, &tau), 589);
  assert_int_equal(tau, 840);
  const int at[4] = {509, 550, 589, 600};
  const double want[4] = {0.478265, 0.414775, 0.355659, 0.339333}; /* the last: ddim5's unshifted target */
  for (int i = 0; i < 4; i++) assert_true(fabs(c->alpha_bar[at[i]] - want[i]) < 1e-6);
  assert_true(fabs(1 - c->alpha_bar[500] - 0.507715) < 1e-6 && fabs(c->alpha_bar[499] - 0.493844) < 1e-6);
  assert_int_equal(cld_ts_select_adm(&ts, c, 0.70, 300, 100, 5, NULL), 100); /* t <= cutoff */
  ts.cutoff = 0; /* the released code's special case: cutoff 0 turns it off */
  assert_int_equal(cld_ts_select_adm(&ts, c, 0.70, 800, 600, 5, NULL), 600);
  ts.cutoff = 10; /* t - w/2 <= 0: the window is [0, w]; an end below 0 is abar = 1 */
  assert_int_equal(cld_ts_select_adm(&ts, c, 0.0, 30, 0, 5, &tau), -1);
  assert_true(tau >= 0 && tau <= 80);
  cld_ctx *ctx = tu_ctx();
  float traj[6 * 16], out[16];
  double ref[16];
  cld_sample_params p = cld_sample_params_default();
  p.schedule = CLD_BETA_COSINE;
  p.steps = 5; /* ddim5: 0, 200, 400, 600, 800 */
  p.batch = 1;
  p.trajectory = traj;
  p.ts = (cld_time_shift){80, 300, CLD_TS_ADM, false, 0};
  TU_OK(ctx, cld_sample_with(ctx, gauss_eps, c, 1, 4, 4, &p, 0, 1, out, NULL, NULL));
  ddim_ref(c, traj, 800, c->alpha_bar[600], ref);
  for (int i = 0; i < 16; i++) assert_true(fabs(traj[16 + i] - ref[i]) < 1e-5);
  int e600 = cld_ts_select_adm(&p.ts, c, cld_ts_variance(traj + 16, 16), 600, 400, 5, NULL);
  assert_true(e600 != 400 && e600 >= 0);
  ddim_ref(c, traj + 16, 600, c->alpha_bar[e600], ref);
  for (int i = 0; i < 16; i++) assert_true(fabs(traj[32 + i] - ref[i]) < 1e-5);
  int e400 = cld_ts_select_adm(&p.ts, c, cld_ts_variance(traj + 32, 16), 400, 200, 5, NULL);
  ddim_ref(c, traj + 32, 400, e400 >= 0 ? c->alpha_bar[e400] : 1.0, ref);
  for (int i = 0; i < 16; i++) assert_true(fabs(traj[48 + i] - ref[i]) < 1e-5);
  ddim_ref(c, traj + 48, 200, c->alpha_bar[0], ref);
  for (int i = 0; i < 16; i++) assert_true(fabs(traj[64 + i] - ref[i]) < 1e-5);
  p.sampler = CLD_SAMPLER_FPNDM; /* DDIM only */
  assert_int_equal(cld_sample_with(ctx, gauss_eps, c, 1, 4, 4, &p, 0, 1, out, NULL, NULL), CLD_ERR_UNSUPPORTED);
  p.sampler = CLD_SAMPLER_DDIM; /* the released comparison list: no data-aware variant */
  p.ts.data_aware = true;
  p.ts.data_var = 0.4;
  assert_int_equal(cld_sample_with(ctx, gauss_eps, c, 1, 4, 4, &p, 0, 1, out, NULL, NULL), CLD_ERR_UNSUPPORTED);
  cld_schedule_destroy(c);
  cld_ctx_destroy(ctx);
}

static int run_prediction = CLD_PRED_EPS;

/* trains `steps` steps of the toy MLP on 8gaussians and returns all parameters */
static float *train_run(cld_ctx *ctx, const cld_dataset *d, int batch, const cld_methods *m, int steps, float *loss) {
  cld_store *s;
  cld_model *mod;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_create(ctx, "toy-mlp", s, &mod));
  TU_OK(ctx, cld_model_init(mod, 1));
  cld_train_params p = cld_train_params_default();
  p.batch = batch;
  p.seed = 5;
  p.prediction = run_prediction;
  if (m) p.methods = *m;
  cld_trainer *t;
  TU_OK(ctx, cld_trainer_create(ctx, mod, d, &p, &t));
  for (int i = 0; i < steps; i++) TU_OK(ctx, cld_trainer_step(t, loss));
  int64_t tot = 0;
  for (int i = 0; i < cld_store_count(s); i++) tot += cld_store_numel(s, i);
  float *v = tu_alloc((size_t)tot), *q = v;
  for (int i = 0; i < cld_store_count(s); i++) { TU_OK(ctx, cld_store_read(s, i, q)); q += cld_store_numel(s, i); }
  cld_trainer_destroy(t);
  cld_model_destroy(mod);
  cld_store_destroy(s);
  return v;
}

static void test_training_identities(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d;
  TU_OK(ctx, cld_dataset_open(ctx, "toy:8gaussians", "train", &d));
  size_t bytes = 0;
  {
    cld_store *s;
    cld_model *mod;
    TU_OK(ctx, cld_store_create(ctx, &s));
    TU_OK(ctx, cld_model_create(ctx, "toy-mlp", s, &mod));
    bytes = (size_t)cld_model_param_count(mod) * sizeof(float);
    cld_model_destroy(mod);
    cld_store_destroy(s);
  }
  float loss;
  float *base = train_run(ctx, d, 8, NULL, 4, &loss), *base1 = train_run(ctx, d, 1, NULL, 4, &loss);
  cld_methods m = cld_methods_default();
  m.ip_gamma = 0; /* gamma = 0 */
  m.ip_ramp = true;
  m.ep_lambda = 0; /* lambda = 0 */
  float *v = train_run(ctx, d, 8, &m, 4, &loss);
  assert_memory_equal(base, v, bytes);
  free(v);
  m = cld_methods_default();
  m.stf_ref = 1; /* R = B = 1: plain denoising score matching */
  v = train_run(ctx, d, 1, &m, 4, &loss);
  assert_memory_equal(base1, v, bytes);
  free(v);
  /* each method on its own changes training; all four together train with a finite loss */
  cld_methods each[4];
  for (int k = 0; k < 4; k++) each[k] = cld_methods_default();
  each[0].ip_gamma = 0.1f;
  each[1].weighting = CLD_WEIGHT_DEBIAS;
  each[2].ep_lambda = 1.0f;
  each[3].stf_ref = 32;
  for (int k = 0; k < 4; k++) {
    v = train_run(ctx, d, 8, &each[k], 4, &loss);
    assert_memory_not_equal(base, v, bytes);
    assert_true(isfinite(loss));
    free(v);
  }
  /* a weighting is on the eps-MSE: Min-SNR with a gamma above every SNR (weight 1) trains an eps
   * model exactly as the constant weighting, a v model not (its v-MSE is weighted by abar) */
  m = cld_methods_default();
  m.weighting = CLD_WEIGHT_MIN_SNR;
  m.min_snr_gamma = 1e12f;
  v = train_run(ctx, d, 8, &m, 4, &loss);
  assert_memory_equal(base, v, bytes);
  free(v);
  run_prediction = CLD_PRED_V;
  float *vconst = train_run(ctx, d, 8, NULL, 4, &loss);
  v = train_run(ctx, d, 8, &m, 4, &loss);
  assert_memory_not_equal(vconst, v, bytes);
  run_prediction = CLD_PRED_EPS;
  free(vconst);
  free(v);
  /* EP skips the chain steps past the drawn length (graph gates): the same parameters, bit for
   * bit, as running all K (CLDIFF_EP_FULL_CHAIN), over steps whose lengths are shorter than K */
  m = cld_methods_default();
  m.ep_lambda = 1.0f;
  m.ep_k = 5;
  int shorter = 0;
  for (int step = 0; step < 6; step++) {
    float u[2];
    cld_rng_uniform_host(5, 9, 2 * (uint64_t)step, 2, u); /* train_run's seed, EP's stream */
    shorter += 1 + (int)(u[1] * 5.0f) < 5;
  }
  assert_true(shorter >= 2);
  float loss_full;
  v = train_run(ctx, d, 8, &m, 6, &loss);
  setenv("CLDIFF_EP_FULL_CHAIN", "1", 1);
  float *full = train_run(ctx, d, 8, &m, 6, &loss_full);
  unsetenv("CLDIFF_EP_FULL_CHAIN");
  assert_memory_equal(full, v, bytes);
  assert_true(loss == loss_full);
  free(full);
  free(v);
  m = cld_methods_default();
  m.ip_gamma = 0.1f;
  m.weighting = CLD_WEIGHT_DEBIAS;
  m.snr_clamp = 1000;
  m.ep_lambda = 1.0f;
  m.ep_k = 3;
  m.stf_ref = 32;
  v = train_run(ctx, d, 8, &m, 6, &loss);
  assert_true(isfinite(loss));
  free(v);
  /* bad combinations are refused with the reason */
  cld_store *s;
  cld_model *mod;
  cld_trainer *t;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_create(ctx, "toy-mlp", s, &mod));
  cld_train_params p = cld_train_params_default();
  p.batch = 7;
  p.methods.ep_lambda = 1;
  assert_int_equal(cld_trainer_create(ctx, mod, d, &p, &t), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "even micro-batch"));
  p.batch = 8;
  p.methods = cld_methods_default();
  p.methods.stf_ref = 4;
  assert_int_equal(cld_trainer_create(ctx, mod, d, &p, &t), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "stf_ref"));
  cld_model_destroy(mod);
  cld_store_destroy(s);
  free(base); free(base1);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ip),       cmocka_unit_test(test_weighting),   cmocka_unit_test(test_stf),
      cmocka_unit_test(test_mmd),      cmocka_unit_test(test_ts_select),   cmocka_unit_test(test_ts_sampling),
      cmocka_unit_test(test_ts_select_target), cmocka_unit_test(test_ts_target_steps),
      cmocka_unit_test(test_ts_adm),
      cmocka_unit_test(test_training_identities),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
