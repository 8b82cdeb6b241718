/* Evaluation: the Frechet distance against the 2x2 closed form and the commuting case, FID of a
 * set against itself, FID growing with added noise (random-init classifier features of real
 * Fashion-MNIST test images), KID unbiasedness over independent draws, precision/recall of a set
 * against itself and of disjoint sets, the toy metrics at their floor for fresh target samples
 * and large for shifted or collapsed sets, the classifier (learns a separable task, save/load
 * gives the same features, a foreign file is refused), exposure rows (DDIM's last x0-prediction
 * is its output), .npy / PNG-grid reading and the plot PNG. */
#define _GNU_SOURCE
#include "test_util.h"
#include <dirent.h>
#include <unistd.h>

static double closed_form_2x2(const double *m1, const double *s1, const double *m2, const double *s2) {
  double dm = (m1[0] - m2[0]) * (m1[0] - m2[0]) + (m1[1] - m2[1]) * (m1[1] - m2[1]);
  double tr12 = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
  double det1 = s1[0] * s1[3] - s1[1] * s1[2], det2 = s2[0] * s2[3] - s2[1] * s2[2];
  /* tr sqrt(M) for a 2x2 PSD M = S1^1/2 S2 S1^1/2: sqrt(tr M + 2 sqrt(det M)) */
  return dm + s1[0] + s1[3] + s2[0] + s2[3] - 2 * sqrt(tr12 + 2 * sqrt(det1 * det2));
}

static void test_frechet_closed_form(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  double m1[2] = {0.3, -1.0}, m2[2] = {1.1, 0.5};
  double s1[4] = {2.0, 0.7, 0.7, 1.0}, s2[4] = {0.5, -0.2, -0.2, 3.0}, fd;
  TU_OK(ctx, cld_frechet_distance(ctx, 2, m1, s1, m2, s2, &fd));
  assert_true(fabs(fd - closed_form_2x2(m1, s1, m2, s2)) < 1e-10);
  /* diagonal (commuting) d = 5: |dm|^2 + sum (sqrt a - sqrt b)^2 */
  double mu1[5] = {0}, mu2[5] = {1, 0, 0, 0, 2}, c1[25] = {0}, c2[25] = {0}, want = 5;
  for (int i = 0; i < 5; i++) {
    c1[i * 6] = 1 + i;
    c2[i * 6] = 4.0 / (1 + i);
    want += pow(sqrt(1 + i) - sqrt(4.0 / (1 + i)), 2);
  }
  TU_OK(ctx, cld_frechet_distance(ctx, 5, mu1, c1, mu2, c2, &fd));
  assert_true(fabs(fd - want) < 1e-10);
  TU_OK(ctx, cld_frechet_distance(ctx, 5, mu1, c1, mu1, c1, &fd));
  assert_true(fabs(fd) < 1e-10);
  cld_ctx_destroy(ctx);
}

/* n rows of d-dim Gaussian features: mean shift + N(0, 1) * scale, Philox stream */
static float *gauss(int64_t n, int d, double shift, double scale, uint32_t stream) {
  float *x = tu_alloc((size_t)(n * d));
  cld_rng_normal_host(7, stream, 0, (size_t)(n * d), x);
  for (int64_t i = 0; i < n * d; i++) x[i] = (float)(shift + scale * x[i]);
  return x;
}

static void test_fid_kid_pr_properties(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  const int d = 16;
  const int64_t n = 600;
  float *a = gauss(n, d, 0, 1, 1);
  cld_fid_params p = cld_fid_params_default();
  p.kid_subsets = 20;
  p.kid_subset_size = 200;
  cld_fid_result r;
  TU_OK(ctx, cld_fid_metrics(ctx, a, n, a, n, d, &p, &r));
  assert_true(fabs(r.fid) < 1e-6);
  assert_true(r.precision == 1.0 && r.recall == 1.0);
  /* far-apart sets: nothing inside the other's balls */
  float *far = gauss(n, d, 50, 1, 2);
  TU_OK(ctx, cld_fid_metrics(ctx, a, n, far, n, d, &p, &r));
  assert_true(r.precision == 0.0 && r.recall == 0.0);
  assert_true(fabs(r.fid - 50.0 * 50.0 * d) / (50.0 * 50 * d) < 0.02);
  /* KID is unbiased: over independent pairs of draws from one distribution its mean is ~0 (within
   * 4 standard errors), while a shifted distribution gives a clearly positive value */
  double sum = 0, sum2 = 0;
  const int R = 24;
  p.kid_subsets = 1;
  p.kid_subset_size = 150;
  for (int k = 0; k < R; k++) {
    float *x = gauss(150, d, 0, 1, 100 + 2 * k), *y = gauss(150, d, 0, 1, 101 + 2 * k);
    TU_OK(ctx, cld_fid_metrics(ctx, x, 150, y, 150, d, &p, &r));
    sum += r.kid;
    sum2 += r.kid * r.kid;
    free(x);
    free(y);
  }
  double mean = sum / R, se = sqrt((sum2 / R - mean * mean) / (R - 1));
  assert_true(fabs(mean) < 4 * se);
  float *x = gauss(150, d, 0, 1, 300), *y = gauss(150, d, 0.5, 1, 301);
  TU_OK(ctx, cld_fid_metrics(ctx, x, 150, y, 150, d, &p, &r));
  assert_true(r.kid > 10 * se);
  free(x); free(y); free(a); free(far);
  /* bad input is named */
  p.pr_k = 20;
  a = gauss(10, d, 0, 1, 5);
  assert_int_equal(cld_fid_metrics(ctx, a, 10, a, 10, d, &p, &r), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "k = 20"));
  free(a);
  cld_ctx_destroy(ctx);
}

static void test_fid_grows_with_noise(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d;
  if (cld_dataset_open(ctx, "fmnist", "test", &d)) { cld_ctx_destroy(ctx); skip(); }
  cld_classifier *c;
  TU_OK(ctx, cld_classifier_create(ctx, 1, 28, 10, 1, &c));
  const int64_t n = 500, per = 784;
  float *fa = tu_alloc((size_t)n * CLD_CLASSIFIER_FEATURES), *fb = tu_alloc((size_t)n * CLD_CLASSIFIER_FEATURES);
  float *noisy = tu_alloc((size_t)(n * per)), *z = tu_alloc((size_t)(n * per));
  TU_OK(ctx, cld_classifier_features(c, d->x, n, fa));
  cld_rng_normal_host(3, 9, 0, (size_t)(n * per), z);
  const double stds[5] = {0, 0.05, 0.1, 0.2, 0.4};
  double prev = -1;
  cld_fid_params p = cld_fid_params_default();
  p.kid_subsets = 5;
  p.kid_subset_size = 100;
  for (int k = 0; k < 5; k++) {
    /* the second half of the test split plus noise against the first half */
    for (int64_t i = 0; i < n * per; i++) noisy[i] = (float)(d->x[n * per + i] + stds[k] * z[i]);
    TU_OK(ctx, cld_classifier_features(c, noisy, n, fb));
    cld_fid_result r;
    TU_OK(ctx, cld_fid_metrics(ctx, fa, n, fb, n, CLD_CLASSIFIER_FEATURES, &p, &r));
    assert_true(r.fid > prev);
    prev = r.fid;
  }
  free(fa); free(fb); free(noisy); free(z);
  cld_classifier_destroy(c);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

static void test_toy_metrics(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  const int64_t n = 4000, nref = 20000;
  float *ref = tu_alloc(2 * nref), *fresh = tu_alloc(2 * n), *moved = tu_alloc(2 * n), *collapsed = tu_alloc(2 * n);
  const char *toys[5] = {"8gaussians", "25gaussians", "moons", "swissroll", "checkerboard"};
  for (int k = 0; k < 5; k++) {
    TU_OK(ctx, cld_toy_sample(ctx, toys[k], 1, 0, nref, ref));
    TU_OK(ctx, cld_toy_sample(ctx, toys[k], 2, 0, n, fresh));
    for (int64_t i = 0; i < 2 * n; i++) { moved[i] = fresh[i] + (i % 2 ? 0.0f : 1.0f); collapsed[i] = 0.0f; }
    double sw_f, sw_m, sw_c, mmd_f, mmd_m, bw;
    TU_OK(ctx, cld_sliced_w2(ctx, fresh, n, ref, nref, 256, 0, &sw_f));
    TU_OK(ctx, cld_sliced_w2(ctx, moved, n, ref, nref, 256, 0, &sw_m));
    TU_OK(ctx, cld_sliced_w2(ctx, collapsed, n, ref, nref, 256, 0, &sw_c));
    print_message("%s: SW2 fresh %.4f moved %.4f collapsed %.4f\n", toys[k], sw_f, sw_m, sw_c);
    assert_true(sw_f < 0.2 && sw_m > 3 * sw_f && sw_c > 3 * sw_f); /* the floor is the finite-sample mode-weight noise */
    TU_OK(ctx, cld_mmd_rbf(ctx, fresh, 2000, ref, 2000, 0, &mmd_f, &bw));
    TU_OK(ctx, cld_mmd_rbf(ctx, moved, 2000, ref, 2000, bw, &mmd_m, NULL));
    assert_true(mmd_f < 0.005 && mmd_m > 10 * mmd_f + 0.01);
  }
  /* NLL: fresh 8gaussians points score about the entropy log 8 + log(2 pi e 0.02^2) */
  double nll, nll_m;
  TU_OK(ctx, cld_toy_sample(ctx, "8gaussians", 2, 0, n, fresh));
  TU_OK(ctx, cld_toy_nll(ctx, "8gaussians", fresh, n, &nll));
  double H = log(8.0) + log(2 * M_PI * exp(1.0) * 0.02 * 0.02);
  assert_true(fabs(nll - H) < 0.05);
  for (int64_t i = 0; i < 2 * n; i++) moved[i] = fresh[i] + 0.1f;
  TU_OK(ctx, cld_toy_nll(ctx, "8gaussians", moved, n, &nll_m));
  assert_true(nll_m > nll + 10);
  assert_int_equal(cld_toy_nll(ctx, "moons", fresh, n, &nll), CLD_ERR_INVALID_ARG);
  TU_OK(ctx, cld_toy_sample(ctx, "checkerboard", 2, 0, n, fresh));
  assert_true(cld_checkerboard_support(fresh, n) == 1.0);
  for (int64_t i = 0; i < 2 * n; i++) moved[i] = fresh[i] + (i % 2 ? 0.0f : 1.0f);
  assert_true(cld_checkerboard_support(moved, n) == 0.0);
  free(ref); free(fresh); free(moved); free(collapsed);
  cld_ctx_destroy(ctx);
}

static char tmpdir[64];

/* the names of the "features-*" entries in dir, space-separated in buf */
static void feature_entries(const char *dir, char *buf, size_t n) {
  buf[0] = 0;
  DIR *d = opendir(dir);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));)
    if (!strncmp(e->d_name, "features-", 9) && strlen(buf) + strlen(e->d_name) + 2 < n) { strcat(buf, e->d_name); strcat(buf, " "); }
  closedir(d);
}

/* the reference-feature cache: a miss stores, a hit returns the same bytes; a damaged entry, other
 * images or another classifier is a miss */
static void test_feature_cache(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_classifier *c, *c2;
  TU_OK(ctx, cld_classifier_create(ctx, 1, 12, 2, 4, &c));
  TU_OK(ctx, cld_classifier_create(ctx, 1, 12, 2, 5, &c2));
  assert_true(cld_classifier_fingerprint(c) != 0 && cld_classifier_fingerprint(c) != cld_classifier_fingerprint(c2));
  enum { N = 6, D = CLD_CLASSIFIER_FEATURES };
  float x[N * 144], ref[N * D], got[N * D];
  /* images unique to this run (the seed from the temp directory's random name), so the first call misses */
  uint64_t seed = 0;
  for (const char *q = tmpdir; *q; q++) seed = seed * 131 + (unsigned char)*q;
  cld_rng_normal_host(seed, 3, 0, N * 144, x);
  TU_OK(ctx, cld_classifier_features(c, x, N, ref));
  const char *dir = cld_ctx_cache_dir(ctx);
  char before[8192], after[8192], mine[256] = "";
  feature_entries(dir, before, sizeof before);
  bool hit = true;
  TU_OK(ctx, cld_classifier_features_cached(c, x, N, got, &hit));
  assert_false(hit);
  assert_memory_equal(ref, got, sizeof ref);
  feature_entries(dir, after, sizeof after);
  for (char *tok = strtok(after, " "); tok; tok = strtok(NULL, " "))
    if (!strstr(before, tok)) snprintf(mine, sizeof mine, "%s/%s", dir, tok);
  assert_true(mine[0]); /* the miss stored one new entry */
  memset(got, 0, sizeof got);
  TU_OK(ctx, cld_classifier_features_cached(c, x, N, got, &hit));
  assert_true(hit);
  assert_memory_equal(ref, got, sizeof ref);
  /* one payload byte flipped: a miss, recomputed and stored again */
  FILE *f = fopen(mine, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, -5, SEEK_END), 0);
  int b = fgetc(f);
  assert_int_equal(fseek(f, -5, SEEK_END), 0);
  fputc(b ^ 0x40, f);
  fclose(f);
  TU_OK(ctx, cld_classifier_features_cached(c, x, N, got, &hit));
  assert_false(hit);
  assert_memory_equal(ref, got, sizeof ref);
  TU_OK(ctx, cld_classifier_features_cached(c, x, N, got, &hit));
  assert_true(hit);
  /* another classifier, or one pixel changed: misses */
  TU_OK(ctx, cld_classifier_features_cached(c2, x, N, got, &hit));
  assert_false(hit);
  x[77] += 0.5f;
  TU_OK(ctx, cld_classifier_features_cached(c, x, N, got, &hit));
  assert_false(hit);
  TU_OK(ctx, cld_classifier_features(c, x, N, ref));
  assert_memory_equal(ref, got, sizeof ref);
  cld_classifier_destroy(c);
  cld_classifier_destroy(c2);
  cld_ctx_destroy(ctx);
}

static void test_classifier(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  /* two classes: a bright left half or a bright right half, plus noise */
  cld_dataset d = {0};
  d.n = 256; d.c = 1; d.h = d.w = 12;
  d.x = tu_alloc((size_t)d.n * 144);
  int labels[256];
  d.labels = labels;
  snprintf(d.name, sizeof d.name, "halves");
  cld_rng_normal_host(5, 1, 0, (size_t)d.n * 144, d.x);
  for (int i = 0; i < 256; i++) {
    labels[i] = i % 2;
    for (int p = 0; p < 144; p++) d.x[i * 144 + p] = 0.3f * d.x[i * 144 + p] + (((p % 12) < 6) == labels[i] ? 0.8f : -0.8f);
  }
  cld_classifier *c, *c2;
  TU_OK(ctx, cld_classifier_create(ctx, 1, 12, 2, 4, &c));
  cld_classifier_train_params tp = cld_classifier_train_params_default();
  tp.epochs = 2;
  tp.batch = 32;
  TU_OK(ctx, cld_classifier_train(c, &d, &tp, NULL, NULL));
  double acc;
  TU_OK(ctx, cld_classifier_accuracy(c, &d, &acc));
  assert_true(acc > 0.95);
  char dir[128];
  snprintf(dir, sizeof dir, "%s/cls", tmpdir);
  TU_OK(ctx, cld_classifier_save(c, dir));
  TU_OK(ctx, cld_classifier_load(ctx, dir, &c2));
  float *f1 = tu_alloc(10 * CLD_CLASSIFIER_FEATURES), *f2 = tu_alloc(10 * CLD_CLASSIFIER_FEATURES);
  TU_OK(ctx, cld_classifier_features(c, d.x, 10, f1));
  TU_OK(ctx, cld_classifier_features(c2, d.x, 10, f2));
  assert_memory_equal(f1, f2, 10 * CLD_CLASSIFIER_FEATURES * sizeof(float));
  /* wrong shape and a foreign file are named */
  d.h = d.w = 14;
  assert_int_equal(cld_classifier_accuracy(c, &d, &acc), CLD_ERR_SHAPE);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "halves"));
  char foreign[160];
  snprintf(foreign, sizeof foreign, "%s/classifier.safetensors", tmpdir);
  const int64_t shp[1] = {3};
  const float v[3] = {1, 2, 3};
  cld_st_entry e = {"w", 1, shp, v};
  TU_OK(ctx, cld_safetensors_write(ctx, foreign, &e, 1, NULL));
  cld_classifier *c3 = NULL;
  assert_int_equal(cld_classifier_load(ctx, tmpdir, &c3), CLD_ERR_FORMAT);
  assert_null(c3);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), foreign));
  free(f1); free(f2); free(d.x);
  cld_classifier_destroy(c); /* (the test leaked it; LeakSanitizer found it) */
  cld_classifier_destroy(c2);
  cld_ctx_destroy(ctx);
}

static void test_exposure_ddim(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_unet_config uc;
  assert_int_equal(cld_unet_preset("tiny", &uc), CLD_OK);
  uc.in_channels = uc.out_channels = 1;
  cld_store *s;
  cld_model *m;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_from_unet_config(ctx, &uc, s, &m));
  TU_OK(ctx, cld_model_init(m, 2));
  int S = cld_model_sample_size(m);
  cld_dataset d = {0};
  d.n = 8; d.c = 1; d.h = d.w = S;
  d.x = tu_alloc((size_t)(8 * S * S));
  for (int i = 0; i < 8 * S * S; i++) d.x[i] = (float)sin(0.37 * i);
  snprintf(d.name, sizeof d.name, "waves");
  cld_sample_params p = cld_sample_params_default();
  p.steps = 5;
  cld_exposure_row *rows;
  int nr;
  TU_OK(ctx, cld_exposure_measure(ctx, m, &d, &p, 4, &rows, &nr));
  assert_int_equal(nr, 5);
  assert_true(rows[0].t == 800 && rows[4].t == 0);
  assert_true(fabs(rows[0].var_sampled - 1) < 0.3); /* x_T ~ N(0, I) */
  assert_true(rows[4].x0err_sampled < 1e-10);       /* DDIM's last step outputs its x0-prediction */
  for (int k = 0; k < nr; k++) assert_true(rows[k].var_forward > 0 && rows[k].x0err_forward >= 0);
  free(rows);
  p.sampler = CLD_SAMPLER_HEUN;
  assert_int_equal(cld_exposure_measure(ctx, m, &d, &p, 4, &rows, &nr), CLD_ERR_INVALID_ARG);
  free(d.x);
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

/* the error against t of a network whose every weight is zero: its output is 0, so its eps
 * prediction misses by eps itself (mean square about 1 over 8x8x64 values) and its x0 prediction
 * x_t / sqrt(abar) by eps sqrt((1 - abar) / abar), i.e. mse_x0 = mse_eps / SNR; timesteps evenly
 * over 0..T-1, and the refusals */
static void test_loss_per_t(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_unet_config uc;
  assert_int_equal(cld_unet_preset("tiny", &uc), CLD_OK);
  uc.in_channels = uc.out_channels = 1;
  cld_store *s;
  cld_model *m;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_from_unet_config(ctx, &uc, s, &m));
  TU_OK(ctx, cld_model_init(m, 2));
  for (int i = 0; i < cld_store_count(s); i++) {
    float *z = calloc((size_t)cld_store_numel(s, i), sizeof *z);
    TU_OK(ctx, cld_store_write(s, i, z));
    free(z);
  }
  int S = cld_model_sample_size(m);
  cld_dataset d = {0};
  d.n = 64; d.c = 1; d.h = d.w = S;
  d.x = tu_alloc((size_t)(64 * S * S));
  for (int i = 0; i < 64 * S * S; i++) d.x[i] = (float)sin(0.37 * i);
  snprintf(d.name, sizeof d.name, "waves");
  cld_sample_params p = cld_sample_params_default();
  cld_loss_row *rows;
  TU_OK(ctx, cld_loss_per_t(ctx, m, &d, &p, 64, 5, &rows));
  const int ts[5] = {0, 250, 500, 749, 999};
  for (int b = 0; b < 5; b++) {
    assert_int_equal(rows[b].t, ts[b]);
    assert_true(fabs(rows[b].mse_eps - 1) < 0.05);
    assert_true(fabs(rows[b].mse_x0 * rows[b].snr / rows[b].mse_eps - 1) < 1e-3);
  }
  assert_true(rows[0].snr > 1e3 && rows[4].snr < 1e-4);
  free(rows);
  assert_int_equal(cld_loss_per_t(ctx, m, &d, &p, 65, 5, &rows), CLD_ERR_INVALID_ARG); /* more than the data */
  assert_int_equal(cld_loss_per_t(ctx, m, &d, &p, 8, 0, &rows), CLD_ERR_INVALID_ARG);
  d.c = 3;
  assert_int_equal(cld_loss_per_t(ctx, m, &d, &p, 8, 5, &rows), CLD_ERR_SHAPE);
  free(d.x);
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

static void test_npy_grid_plot(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  char path[160];
  float x[2 * 3 * 4 * 5];
  for (int i = 0; i < 120; i++) x[i] = (float)(i % 17) / 8.5f - 1.0f;
  int64_t shape[4] = {2, 3, 4, 5}, sh[8];
  snprintf(path, sizeof path, "%s/a.npy", tmpdir);
  TU_OK(ctx, cld_npy_write(ctx, path, x, 4, shape));
  float *y;
  int nd;
  TU_OK(ctx, cld_npy_read(ctx, path, &y, &nd, sh));
  assert_int_equal(nd, 4);
  assert_true(sh[0] == 2 && sh[3] == 5);
  assert_memory_equal(x, y, sizeof x);
  free(y);
  assert_int_equal(truncate(path, 100), 0);
  assert_int_equal(cld_npy_read(ctx, path, &y, &nd, sh), CLD_ERR_FORMAT);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), path));
  /* grid round trip: 2 images of 3x4x5 in a 1x2 grid, 8-bit quantised */
  snprintf(path, sizeof path, "%s/g.png", tmpdir);
  TU_OK(ctx, cld_png_write_grid(ctx, path, x, 2, 3, 4, 5, 2));
  int n, c, h, w;
  TU_OK(ctx, cld_png_read_grid(ctx, path, 1, 2, &y, &n, &c, &h, &w));
  assert_true(n == 2 && c == 3 && h == 4 && w == 5);
  for (int i = 0; i < 120; i++) assert_true(fabsf(x[i] - y[i]) <= 1.0f / 127.5f);
  free(y);
  assert_int_equal(cld_png_read_grid(ctx, path, 3, 2, &y, &n, &c, &h, &w), CLD_ERR_FORMAT);
  /* plot: a PNG of the requested size showing the first series' colour */
  double xs[50], ys[50];
  for (int i = 0; i < 50; i++) { xs[i] = i; ys[i] = exp(-0.1 * i); }
  cld_plot_series s = {"decay", xs, ys, 50, false, NULL};
  cld_plot_params pp = {"title", "x", "y", true, 400, 300};
  snprintf(path, sizeof path, "%s/p.png", tmpdir);
  TU_OK(ctx, cld_plot_lines(ctx, path, &pp, &s, 1));
  float *px;
  TU_OK(ctx, cld_png_read(ctx, path, &px, &w, &h, &c));
  assert_true(w == 400 && h == 300 && c >= 3);
  int blue = 0;
  for (int i = 0; i < w * h; i++) blue += px[i * c] == 31 && px[i * c + 1] == 119 && px[i * c + 2] == 180;
  assert_true(blue > 100);
  free(px);
  /* error bars: a flat 5-point series draws a vertical run of its colour only with them */
  double fx[5] = {0, 1, 2, 3, 4}, fy[5] = {1, 1, 1, 1, 1}, fe[5] = {0.5, 0.5, 0.5, 0.5, 0.5};
  int runs[2];
  for (int k = 0; k < 2; k++) {
    cld_plot_series f = {"flat", fx, fy, 5, false, k ? fe : NULL};
    cld_plot_params fp = {"bars", "x", "y", false, 400, 300};
    TU_OK(ctx, cld_plot_lines(ctx, path, &fp, &f, 1));
    TU_OK(ctx, cld_png_read(ctx, path, &px, &w, &h, &c));
    runs[k] = 0; /* the longest vertical run of the series' colour */
    for (int col = 0; col < w; col++)
      for (int row = 0, run = 0; row < h; row++) {
        const float *q = px + ((size_t)row * w + col) * c;
        run = q[0] == 31 && q[1] == 119 && q[2] == 180 ? run + 1 : 0;
        if (run > runs[k]) runs[k] = run;
      }
    free(px);
  }
  assert_true(runs[0] <= 8);  /* the 2-px line and the 7-px point markers */
  assert_true(runs[1] >= 60); /* bars from 0.5 to 1.5 over a y range of about 1.1 */
  cld_plot_series empty = {"nan", xs, ys, 0, false, NULL};
  assert_int_equal(cld_plot_lines(ctx, path, &pp, &empty, 1), CLD_ERR_INVALID_ARG);
  cld_ctx_destroy(ctx);
}

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/cldiff-eval-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  return tu_rmtree(tmpdir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frechet_closed_form), cmocka_unit_test(test_fid_kid_pr_properties),
      cmocka_unit_test(test_toy_metrics),         cmocka_unit_test(test_fid_grows_with_noise),
      cmocka_unit_test(test_classifier),          cmocka_unit_test(test_exposure_ddim),
      cmocka_unit_test(test_npy_grid_plot),        cmocka_unit_test(test_loss_per_t),
      cmocka_unit_test(test_feature_cache),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
