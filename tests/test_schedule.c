/* The shared schedule module against shared/METHODS.md section 9: vectors 1-5 (beta
 * schedules, posterior, learned range, respacing), 21 (DPM-Solver discrete time grid, lambda
 * and first two step coefficients), 22-23 (EDM sigma grid and preconditioning); diffusers
 * spacings against diffusers' documented formulas. Host only. */
#include "test_util.h"

#define NEAR(got, want, rel) \
  do { double g_ = (got), w_ = (want); if (!(fabs(g_ - w_) <= (rel) * fabs(w_) + 1e-15)) { \
    fprintf(stderr, "%s = %.12g, want %.12g\n", #got, g_, w_); fail(); } } while (0)

static void test_linear(void **state) {
  (void)state;
  cld_schedule *s = cld_schedule_create(CLD_BETA_LINEAR, 1000);
  assert_non_null(s);
  NEAR(s->beta[0], 1e-4, 1e-12);
  NEAR(s->beta[499], 0.01004004004, 1e-9);
  NEAR(s->beta[999], 0.02, 1e-12);
  NEAR(s->alpha_bar[0], 0.9999, 1e-12);
  NEAR(s->alpha_bar[1], 0.99978009207, 1e-10);
  NEAR(s->alpha_bar[99], 0.89701814567, 1e-10);
  NEAR(s->alpha_bar[249], 0.52408537383, 1e-10);
  NEAR(s->alpha_bar[499], 0.078587242882, 1e-10);
  NEAR(s->alpha_bar[500], 0.077796658365, 1e-10);
  NEAR(s->alpha_bar[699], 6.9661105565e-3, 1e-9);
  NEAR(s->alpha_bar[700], 6.8682788904e-3, 1e-9);
  NEAR(s->alpha_bar[800], 1.5075210598e-3, 1e-9);
  NEAR(s->alpha_bar[999], 4.0358297654e-5, 1e-9);
  /* vector 4: posterior and learned range */
  NEAR(s->beta_tilde[1], 5.45318766e-5, 1e-8);
  NEAR(s->post_c1[1], 0.54529150, 1e-7);
  NEAR(s->post_c2[1], 0.45470850, 1e-7);
  NEAR(s->beta_tilde[500], 1.00513358e-2, 1e-8);
  NEAR(s->post_c1[500], 0.00305806, 2e-6);
  NEAR(s->post_c2[500], 0.99410435, 1e-8);
  NEAR(cld_schedule_learned_var(s, 500, -1), 1.0051336e-2, 1e-7);
  NEAR(cld_schedule_learned_var(s, 500, 0), 1.0055647e-2, 1e-7);
  NEAR(cld_schedule_learned_var(s, 500, 1), 1.0059960e-2, 1e-7);
  /* SNR identities */
  NEAR(cld_schedule_snr(s, 499), 0.078587242882 / (1 - 0.078587242882), 1e-10);
  NEAR(cld_schedule_log_snr(s, 499), log(cld_schedule_snr(s, 499)), 1e-12);
  NEAR(cld_schedule_sigma(s, 499), sqrt(1 / cld_schedule_snr(s, 499)), 1e-12);
  cld_schedule_destroy(s);
}

static void test_cosine_sigmoid(void **state) {
  (void)state;
  cld_schedule *s = cld_schedule_create(CLD_BETA_COSINE, 1000);
  NEAR(s->alpha_bar[0], 0.99995871578, 1e-10);
  NEAR(s->beta[0], 4.12842248e-5, 1e-8);
  NEAR(s->alpha_bar[249], 0.84701216133, 1e-10);
  NEAR(s->alpha_bar[499], 0.49384359044, 1e-10);
  NEAR(s->alpha_bar[500], 0.49228517245, 1e-10);
  NEAR(s->alpha_bar[749], 0.14427210239, 1e-10);
  NEAR(s->beta[999], 0.999, 1e-12);
  NEAR(s->alpha_bar[999], 2.428767e-9, 1e-6);
  int clipped = 0;
  for (int t = 0; t < 1000; t++) clipped += s->beta[t] == 0.999;
  assert_int_equal(clipped, 1); /* only beta_999 hits the clip */
  cld_schedule_destroy(s);
  s = cld_schedule_create(CLD_BETA_SIGMOID, 1000);
  NEAR(s->alpha_bar[0], 0.9996997208, 1e-9);
  NEAR(s->alpha_bar[499], 0.5, 1e-12);
  NEAR(s->alpha_bar[999], 3.0027920e-7, 1e-7);
  cld_schedule_destroy(s);
  s = cld_schedule_create(CLD_BETA_SCALED_LINEAR, 1000);
  NEAR(s->beta[0], 0.00085, 1e-12);
  NEAR(s->beta[999], 0.012, 1e-12);
  cld_schedule_destroy(s);
  assert_null(cld_schedule_create(CLD_BETA_LINEAR, 1));
  assert_int_equal(cld_beta_schedule_parse("cosine"), CLD_BETA_COSINE);
  assert_int_equal(cld_beta_schedule_parse("nope"), -1);
}

static void test_respacing(void **state) {
  (void)state;
  int out[1000];
  static const int ten[] = {0, 111, 222, 333, 444, 555, 666, 777, 888, 999}, five[] = {0, 250, 500, 749, 999};
  assert_int_equal(cld_respace(1000, "10", out, 1000), 10);
  assert_memory_equal(out, ten, sizeof ten);
  assert_int_equal(cld_respace(1000, "5", out, 1000), 5);
  assert_memory_equal(out, five, sizeof five);
  assert_int_equal(cld_respace(1000, "ddim10", out, 1000), 10);
  for (int i = 0; i < 10; i++) assert_int_equal(out[i], 100 * i);
  assert_int_equal(cld_respace(1000, "1000", out, 1000), 1000);
  assert_int_equal(cld_respace(1000, "ddim7", out, 1000), 7); /* the first stride with 7 steps: 143 */
  assert_int_equal(out[1], 143);
  assert_int_equal(out[6], 858);
  /* vector 11: TS-DPM's pnm_solver grid, 0 then range(0, T, T // S) + 1 without its last element */
  static const int ts10[] = {0, 1, 101, 201, 301, 401, 501, 601, 701, 801}, ts5[] = {0, 1, 201, 401, 601};
  assert_int_equal(cld_respace(1000, "tsdpm10", out, 1000), 10);
  assert_memory_equal(out, ts10, sizeof ts10);
  assert_int_equal(cld_respace(1000, "tsdpm5", out, 1000), 5); /* (601 -> 401), ..., (201 -> 1), (1 -> 0) */
  assert_memory_equal(out, ts5, sizeof ts5);
  assert_int_equal(cld_respace(1000, "tsdpm30", out, 1000), 31); /* skip 33: 1 .. 958, then 0 */
  assert_int_equal(out[30], 958);
  assert_true(cld_respace(1000, "tsdpm1", out, 1000) < 0);
  assert_true(cld_respace(1000, "tsdpm1001", out, 1000) < 0);
  assert_true(cld_respace(1000, "tsdpm10", out, 5) < 0); /* capacity */
  assert_true(cld_respace_ends_on_grid("tsdpm10") && !cld_respace_ends_on_grid("ddim10") && !cld_respace_ends_on_grid(NULL));
  assert_true(cld_respace(1000, "1001", out, 1000) < 0);
  assert_true(cld_respace(1000, "abc", out, 1000) < 0);
  assert_true(cld_respace(1000, "ddim0", out, 1000) < 0);
  /* section counts: two halves, 2 and 3 steps */
  assert_int_equal(cld_respace(1000, "2,3", out, 1000), 5);
  static const int two_three[] = {0, 499, 500, 750, 999};
  assert_memory_equal(out, two_three, sizeof two_three);
  cld_schedule *s = cld_schedule_create(CLD_BETA_LINEAR, 1000);
  double b[10];
  static const double want[] = {1.0e-4, 0.126307638, 0.316843618, 0.466119064, 0.583005494,
                                0.674480639, 0.746029767, 0.801962592, 0.845663378, 0.879788230};
  cld_respaced_betas(s, ten, 10, b);
  for (int i = 0; i < 10; i++) NEAR(b[i], want[i], 1e-8);
  cld_schedule_destroy(s);
  /* diffusers spacings (DDIMScheduler.set_timesteps formulas), T=1000, 10 steps */
  int ts[10];
  assert_int_equal(cld_diffusers_timesteps(1000, 10, "leading", 1, ts), 10);
  for (int i = 0; i < 10; i++) assert_int_equal(ts[i], 901 - 100 * i);
  assert_int_equal(cld_diffusers_timesteps(1000, 10, "trailing", 0, ts), 10);
  for (int i = 0; i < 10; i++) assert_int_equal(ts[i], 999 - 100 * i);
  assert_int_equal(cld_diffusers_timesteps(1000, 10, "linspace", 0, ts), 10);
  static const int lin[] = {999, 888, 777, 666, 555, 444, 333, 222, 111, 0};
  assert_memory_equal(ts, lin, sizeof lin);
  assert_true(cld_diffusers_timesteps(1000, 10, "bogus", 0, ts) < 0);
}

static void test_dpm_solver_time(void **state) {
  (void)state;
  cld_schedule *s = cld_schedule_create(CLD_BETA_LINEAR, 1000);
  double g[11];
  assert_int_equal(cld_dpm_time_grid(s, CLD_DPM_TIME_UNIFORM, 10, g), 0);
  static const double lam[] = {-5.058837, -4.099768, -3.241414, -2.481990, -1.816533, -1.233592,
                               -0.711473, -0.213732, 0.324720, 1.073185, 4.605120};
  for (int i = 0; i <= 10; i++) {
    NEAR(g[i], 1.0 - 0.0999 * i, 1e-12);
    NEAR(cld_dpm_model_time(s, g[i]), 999.0 - 99.9 * i, 1e-9);
    NEAR(cld_dpm_lambda(s, g[i]), lam[i], 2e-6);
    NEAR(cld_dpm_inverse_lambda(s, cld_dpm_lambda(s, g[i])), g[i], 1e-9);
  }
  /* step 1 (order 1): x' = a x - b eps; step 2 (multistep 2): coefficients and r0 */
  double h1 = cld_dpm_lambda(s, g[1]) - cld_dpm_lambda(s, g[0]);
  NEAR(exp(cld_dpm_log_alpha(s, g[1]) - cld_dpm_log_alpha(s, g[0])), 2.60895998, 1e-8);
  NEAR(cld_dpm_sigma(s, g[1]) * expm1(h1), 1.60904469, 1e-8);
  double h2 = cld_dpm_lambda(s, g[2]) - cld_dpm_lambda(s, g[1]);
  NEAR(h1 / h2, 1.11733498, 1e-8);
  NEAR(exp(cld_dpm_log_alpha(s, g[2]) - cld_dpm_log_alpha(s, g[1])), 2.35779565, 1e-8);
  NEAR(cld_dpm_sigma(s, g[2]) * expm1(h2), 1.35823564, 1e-8);
  NEAR(0.5 * cld_dpm_sigma(s, g[2]) * expm1(h2), 0.67911782, 1e-8);
  /* logSNR grid is uniform in lambda; quadratic in sqrt(t) */
  assert_int_equal(cld_dpm_time_grid(s, CLD_DPM_LOGSNR, 10, g), 0);
  for (int i = 1; i <= 10; i++)
    NEAR(cld_dpm_lambda(s, g[i]) - cld_dpm_lambda(s, g[i - 1]), (lam[10] - lam[0]) / 10, 1e-6);
  assert_int_equal(cld_dpm_time_grid(s, CLD_DPM_TIME_QUADRATIC, 10, g), 0);
  NEAR(g[0], 1.0, 1e-12);
  NEAR(g[10], 1e-3, 1e-9);
  NEAR(sqrt(g[5]), (1 + sqrt(1e-3)) / 2, 1e-12);
  cld_schedule_destroy(s);
}

static void test_edm(void **state) {
  (void)state;
  double sg[19];
  static const double want[] = {80, 57.585985, 40.785574, 28.374585, 19.352453, 12.910082, 8.400935,
                                5.315195, 3.256822, 1.923340, 1.088171, 0.585348, 0.296442, 0.139516,
                                0.059947, 0.022935, 0.007528, 0.002};
  cld_edm_sigmas(18, 0.002, 80, 7, sg);
  for (int i = 0; i < 18; i++) assert_true(fabs(sg[i] - want[i]) <= 6e-7); /* printed to 6 decimals */
  assert_true(sg[18] == 0.0);
  cld_edm_precond p = cld_edm_precond_at(1.0, 0.5);
  NEAR(p.c_skip, 0.2, 1e-12);
  NEAR(p.c_out, 0.44721360, 3e-8);
  NEAR(p.c_in, 0.89442719, 3e-8);
  assert_true(fabs(p.c_noise) < 1e-15);
  NEAR(p.weight, 5, 1e-12);
  p = cld_edm_precond_at(0.5, 0.5);
  NEAR(p.c_skip, 0.5, 1e-12);
  NEAR(p.c_out, 0.35355339, 3e-8);
  NEAR(p.c_in, 1.41421356, 3e-8);
  NEAR(p.c_noise, -0.17328680, 3e-8);
  NEAR(p.weight, 8, 1e-12);
  p = cld_edm_precond_at(80, 0.5);
  NEAR(p.c_in, 0.01249976, 1e-6);
  NEAR(p.weight, 4.000156, 1e-7);
}


/* diffusers' scheduler_config.json: what the published configs say is followed, what cldiff cannot
 * reproduce is refused with the key named, and what cldiff writes reads back the same */
static void test_scheduler_config(void **state) {
  (void)state;
  cld_scheduler_config c;
  char err[256];
  /* google/ddpm-cifar10-32's scheduler_config.json */
  const char *ddpm = "{\"_class_name\": \"DDPMScheduler\", \"_diffusers_version\": \"0.1.1\", \"beta_end\": 0.02, "
                     "\"beta_schedule\": \"linear\", \"beta_start\": 0.0001, \"clip_sample\": true, "
                     "\"num_train_timesteps\": 1000, \"trained_betas\": null, \"variance_type\": \"fixed_small\"}";
  assert_int_equal(cld_scheduler_config_parse(ddpm, &c, err, sizeof err), CLD_OK);
  assert_int_equal(c.schedule, CLD_BETA_LINEAR);
  assert_int_equal(c.T, 1000);
  assert_int_equal(c.prediction, CLD_PRED_EPS);
  assert_true(c.clip_sample);
  assert_int_equal(c.var_type, CLD_VAR_FIXED_SMALL);
  assert_string_equal(c.class_name, "DDPMScheduler");
  assert_string_equal(c.spacing, "leading");
  const char *cos_v = "{\"beta_schedule\": \"squaredcos_cap_v2\", \"prediction_type\": \"v_prediction\", \"clip_sample\": false, "
                      "\"timestep_spacing\": \"trailing\", \"variance_type\": \"fixed_large\"}";
  assert_int_equal(cld_scheduler_config_parse(cos_v, &c, err, sizeof err), CLD_OK);
  assert_int_equal(c.schedule, CLD_BETA_COSINE);
  assert_int_equal(c.prediction, CLD_PRED_V);
  assert_false(c.clip_sample);
  assert_int_equal(c.var_type, CLD_VAR_FIXED_LARGE);
  assert_string_equal(c.spacing, "trailing");
  const char *sd = "{\"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012, \"steps_offset\": 1, "
                   "\"prediction_type\": \"sample\", \"variance_type\": \"learned_range\"}";
  assert_int_equal(cld_scheduler_config_parse(sd, &c, err, sizeof err), CLD_OK);
  assert_int_equal(c.schedule, CLD_BETA_SCALED_LINEAR);
  assert_int_equal(c.prediction, CLD_PRED_X0);
  assert_true(c.learned_range);
  assert_int_equal(c.steps_offset, 1);
  /* the spacing as a grid: diffusers' DDIMScheduler.set_timesteps(10), ascending */
  int taus[16];
  assert_int_equal(cld_respace(1000, "leading10+1", taus, 16), 10);
  assert_int_equal(taus[0], 1);
  assert_int_equal(taus[9], 901);
  assert_int_equal(cld_respace(1000, "trailing10", taus, 16), 10);
  assert_int_equal(taus[0], 99);
  assert_int_equal(taus[9], 999);
  assert_int_equal(cld_respace(1000, "linspace4", taus, 16), 4);
  assert_int_equal(taus[1], 333);
  assert_int_equal(taus[3], 999);
  assert_true(cld_respace(1000, "trailing0", taus, 16) < 0);
  assert_true(cld_respace(1000, "leading10+1000", taus, 16) < 0);
  struct { const char *json, *key; } bad[] = {
      {"{\"timestep_spacing\": \"karras\"}", "timestep_spacing"},
      {"{\"steps_offset\": -1}", "steps_offset"},
      {"{\"trained_betas\": [0.1, 0.2]}", "trained_betas"},
      {"{\"beta_schedule\": \"linear\", \"beta_end\": 0.012}", "beta_end"},
      {"{\"beta_schedule\": \"sigmoid\"}", "beta_schedule"},
      {"{\"thresholding\": true}", "thresholding"},
      {"{\"prediction_type\": \"flow\"}", "prediction_type"},
      {"{\"clip_sample_range\": 2.0}", "clip_sample_range"},
      {"{\"num_train_timesteps\": 1e300}", "num_train_timesteps"},
      {"{\"num_train_timesteps\": 10.5}", "num_train_timesteps"},
      {"{\"variance_type\": \"learned\"}", "variance_type"},
      {"[1, 2]", "JSON object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err[0] = 0;
    assert_int_equal(cld_scheduler_config_parse(bad[i].json, &c, err, sizeof err), CLD_ERR_FORMAT);
    if (!strstr(err, bad[i].key)) { fprintf(stderr, "%s: '%s' does not name %s\n", bad[i].json, err, bad[i].key); fail(); }
  }
  /* what cldiff writes reads back the same, a linear schedule at T = 500 included (betas x 2) */
  cld_scheduler_config w = {CLD_BETA_LINEAR, 500, CLD_PRED_V, CLD_VAR_FIXED_SMALL, false, false, "", "", 0}, back;
  char *json = cld_scheduler_config_json(&w, "DDPMScheduler");
  assert_non_null(json);
  assert_non_null(strstr(json, "\"beta_start\":\t0.0002"));
  assert_int_equal(cld_scheduler_config_parse(json, &back, err, sizeof err), CLD_OK);
  assert_int_equal(back.schedule, w.schedule);
  assert_int_equal(back.T, 500);
  assert_int_equal(back.prediction, CLD_PRED_V);
  assert_false(back.clip_sample);
  assert_string_equal(back.class_name, "DDPMScheduler");
  free(json);
  w.schedule = CLD_BETA_SIGMOID;
  assert_null(cld_scheduler_config_json(&w, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scheduler_config),
      cmocka_unit_test(test_linear),   cmocka_unit_test(test_cosine_sigmoid), cmocka_unit_test(test_respacing),
      cmocka_unit_test(test_dpm_solver_time), cmocka_unit_test(test_edm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
