/* 2-D toys follow their definitions (support, centres, balance), are reproducible, and the MLP
 * denoiser learns one: its training loss falls and its samples land on the mixture's modes. */
#define _DEFAULT_SOURCE
#include "test_util.h"

static void test_definitions(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  enum { N = 20000 };
  float *p = tu_alloc(2 * N), *q = tu_alloc(2 * N);
  /* 8gaussians: within 0.1 (5 std) of a centre 2(cos, sin)(2 pi k / 8); each centre ~1/8 */
  TU_OK(ctx, cld_toy_sample(ctx, "8gaussians", 1, 0, N, p));
  int count[8] = {0};
  for (int i = 0; i < N; i++) {
    int best = -1;
    for (int k = 0; k < 8; k++) {
      double dx = p[2 * i] - 2 * cos(2 * M_PI * k / 8), dy = p[2 * i + 1] - 2 * sin(2 * M_PI * k / 8);
      if (dx * dx + dy * dy < 0.01) best = k;
    }
    assert_true(best >= 0);
    count[best]++;
  }
  for (int k = 0; k < 8; k++) assert_true(abs(count[k] - N / 8) < 4 * 94); /* 4 binomial std */
  /* 25gaussians: within 0.25 of an integer grid point in [-2, 2]^2 */
  TU_OK(ctx, cld_toy_sample(ctx, "25gaussians", 1, 0, N, p));
  for (int i = 0; i < 2 * N; i++) assert_true(fabs(p[i] - round(p[i])) < 0.25 && fabs(round(p[i])) <= 2);
  /* checkerboard: inside [-2,2]^2, in a cell with (col + row) even */
  TU_OK(ctx, cld_toy_sample(ctx, "checkerboard", 1, 0, N, p));
  for (int i = 0; i < N; i++) {
    int col = (int)floor(p[2 * i] + 2), row = (int)floor(p[2 * i + 1] + 2);
    assert_true(col >= 0 && col < 4 && row >= 0 && row < 4 && (col + row) % 2 == 0);
  }
  /* moons: centred (mean ~0); swissroll: radius t/5 in [0.94, 2.83] up to noise */
  TU_OK(ctx, cld_toy_sample(ctx, "moons", 1, 0, N, p));
  double mx = 0, my = 0;
  for (int i = 0; i < N; i++) { mx += p[2 * i]; my += p[2 * i + 1]; }
  assert_true(fabs(mx / N) < 0.05 && fabs(my / N) < 0.05);
  TU_OK(ctx, cld_toy_sample(ctx, "swissroll", 1, 0, N, p));
  for (int i = 0; i < N; i++) {
    double r = hypot(p[2 * i], p[2 * i + 1]);
    assert_true(r > 1.5 * M_PI / 5 - 0.6 && r < 4.5 * M_PI / 5 + 0.6);
  }
  /* reproducible; streams differ */
  TU_OK(ctx, cld_toy_sample(ctx, "moons", 1, 0, N, q));
  TU_OK(ctx, cld_toy_sample(ctx, "moons", 1, 0, N, p));
  assert_memory_equal(p, q, 2 * N * sizeof(float));
  TU_OK(ctx, cld_toy_sample(ctx, "moons", 1, 1, N, q));
  assert_true(memcmp(p, q, 2 * N * sizeof(float)) != 0);
  assert_int_equal(cld_toy_sample(ctx, "spiral", 1, 0, N, p), CLD_ERR_INVALID_ARG);
  free(p);
  free(q);
  cld_ctx_destroy(ctx);
}

static void test_mlp_learns_8gaussians(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d;
  TU_OK(ctx, cld_dataset_open(ctx, "toy:8gaussians", "train", &d));
  cld_store *s;
  cld_model *m;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_create(ctx, "toy-mlp", s, &m));
  TU_OK(ctx, cld_model_init(m, 1));
  cld_train_params p = cld_train_params_default();
  p.batch = 256;
  p.lr = 2e-3f;
  p.warmup = 50;
  cld_trainer *t;
  TU_OK(ctx, cld_trainer_create(ctx, m, d, &p, &t));
  double first = 0, last = 0;
  const int steps = 1200;
  for (int i = 0; i < steps; i++) {
    float l;
    TU_OK(ctx, cld_trainer_step(t, &l));
    if (i < 50) first += l / 50;
    if (i >= steps - 50) last += l / 50;
  }
  fprintf(stderr, "toy-mlp on 8gaussians: loss %.3f -> %.3f\n", first, last);
  assert_true(last < 0.6 * first);
  /* samples (raw weights) near the modes: most within 0.5 of a centre */
  cld_sample_params sp = cld_sample_params_default();
  sp.sampler = CLD_SAMPLER_DDPM;
  sp.steps = 100;
  sp.batch = 500;
  float xy[1000];
  TU_OK(ctx, cld_sample(ctx, m, &sp, 0, 500, 1, 1, xy, NULL, NULL));
  int near = 0;
  for (int i = 0; i < 500; i++)
    for (int k = 0; k < 8; k++) {
      double dx = xy[2 * i] - 2 * cos(2 * M_PI * k / 8), dy = xy[2 * i + 1] - 2 * sin(2 * M_PI * k / 8);
      if (dx * dx + dy * dy < 0.25) { near++; break; }
    }
  fprintf(stderr, "toy-mlp samples within 0.5 of a mode: %d of 500\n", near);
  assert_true(near > 350);
  cld_trainer_destroy(t);
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

/* the same with EDM preconditioning and the Heun sampler */
static void test_mlp_edm_heun(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d;
  TU_OK(ctx, cld_dataset_open(ctx, "toy:8gaussians", "train", &d));
  cld_store *s;
  cld_model *m;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_create(ctx, "toy-mlp", s, &m));
  TU_OK(ctx, cld_model_init(m, 2));
  cld_train_params p = cld_train_params_default();
  p.batch = 256;
  p.lr = 2e-3f;
  p.warmup = 50;
  p.prediction = CLD_PRED_EDM;
  p.edm_sigma_data = 2.0f; /* the toy's scale */
  cld_trainer *t;
  TU_OK(ctx, cld_trainer_create(ctx, m, d, &p, &t));
  for (int i = 0; i < 1200; i++) TU_OK(ctx, cld_trainer_step(t, NULL));
  cld_sample_params sp = cld_sample_params_default();
  sp.sampler = CLD_SAMPLER_HEUN;
  sp.prediction = CLD_PRED_EDM;
  sp.sigma_data = 2.0f;
  sp.steps = 18;
  sp.batch = 500;
  float xy[1000];
  TU_OK(ctx, cld_sample(ctx, m, &sp, 0, 500, 1, 1, xy, NULL, NULL));
  int near = 0;
  for (int i = 0; i < 500; i++)
    for (int k = 0; k < 8; k++) {
      double dx = xy[2 * i] - 2 * cos(2 * M_PI * k / 8), dy = xy[2 * i + 1] - 2 * sin(2 * M_PI * k / 8);
      if (dx * dx + dy * dy < 0.25) { near++; break; }
    }
  fprintf(stderr, "toy-mlp, EDM + Heun (18 steps): %d of 500 samples within 0.5 of a mode\n", near);
  assert_true(near > 350);
  cld_trainer_destroy(t);
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_definitions),
      cmocka_unit_test(test_mlp_learns_8gaussians),
      cmocka_unit_test(test_mlp_edm_heun),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
