/* Runtime: device listing and choice, error paths (bad device, broken kernel source, corrupt
 * cache entry, graph misuse), two contexts in one process, device RNG against the host. */
#define _GNU_SOURCE
#include "test_util.h"
#include <sys/stat.h>
#include <unistd.h>

static void test_devices(void **state) {
  (void)state;
  cld_device_info info[16];
  int n = 0;
  assert_int_equal(cld_devices_list(info, 16, &n), CLD_OK);
  assert_true(n >= 1);
  int usable = 0;
  for (int i = 0; i < n && i < 16; i++) usable += info[i].usable;
  assert_true(usable >= 1);
  assert_int_equal(cld_devices_list(NULL, 4, &n), CLD_ERR_INVALID_ARG);
}

static void test_bad_device(void **state) {
  (void)state;
  cld_ctx_params p = cld_ctx_params_default();
  cld_ctx *ctx = (cld_ctx *)0x1;
  char err[512];
  p.device = "no-such-device-xyz";
  assert_int_equal(cld_ctx_create(&p, &ctx, err, sizeof err), CLD_ERR_NO_DEVICE);
  assert_non_null(strstr(err, "no-such-device-xyz"));
  assert_ptr_equal(ctx, (cld_ctx *)0x1); /* out-parameter untouched on failure */
  p.device = "99";
  assert_int_equal(cld_ctx_create(&p, &ctx, err, sizeof err), CLD_ERR_NO_DEVICE);
  p.device = NULL;
  p.gemm_provider = "cublas";
  assert_int_equal(cld_ctx_create(&p, &ctx, err, sizeof err), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "cublas"));
}

static void test_broken_kernel(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  assert_int_equal(cld_ctx_build_source(ctx, "__kernel void k(__global float *x) { x[0] = undefined_thing; }", ""), CLD_ERR_BUILD);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "undefined_thing")); /* the compiler log is in the message */
  assert_int_equal(cld_ctx_build_program(ctx, "no_such_program", ""), CLD_ERR_INVALID_ARG);
  assert_int_equal(cld_ctx_build_source(ctx, "__kernel void k(__global float *x) { x[0] = 1.0f; }", ""), CLD_OK);
  cld_ctx_destroy(ctx);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* "//@include NAME" splices another source in (read from $CLDIFF_CL_DIR here); a missing one is
 * an error naming both files */
static void test_source_include(void **state) {
  (void)state;
  char dir[] = "/tmp/cldiff-test-cl-XXXXXX";
  assert_non_null(mkdtemp(dir));
  write_text(dir, "inc_part.cl", "static inline float twice(float v) { return 2.0f * v; }\n");
  write_text(dir, "inc_ok.cl", "/* uses twice() */\n//@include inc_part\n__kernel void k(__global float *x) { x[0] = twice(x[0]); }\n");
  write_text(dir, "inc_bad.cl", "/* a missing part */\n//@include inc_nowhere\n__kernel void k(__global float *x) { x[0] = 1.0f; }\n");
  setenv("CLDIFF_CL_DIR", dir, 1);
  cld_ctx_params p = cld_ctx_params_default();
  p.cache_dir = dir;
  cld_ctx *ctx;
  assert_int_equal(cld_ctx_create(&p, &ctx, NULL, 0), CLD_OK);
  TU_OK(ctx, cld_ctx_build_program(ctx, "inc_ok", "-cl-std=CL1.2"));
  assert_int_equal(cld_ctx_build_program(ctx, "inc_bad", "-cl-std=CL1.2"), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "'inc_bad' includes 'inc_nowhere'"));
  cld_ctx_destroy(ctx);
  unsetenv("CLDIFF_CL_DIR");
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static char *cache_file(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "ls %s/elementwise-*.bin 2>/dev/null | head -1", dir);
  FILE *f = popen(cmd, "r");
  static char path[600];
  path[0] = 0;
  if (f) {
    if (!fgets(path, sizeof path, f)) path[0] = 0;
    pclose(f);
  }
  path[strcspn(path, "\n")] = 0;
  return path[0] ? path : NULL;
}

static void test_corrupt_cache(void **state) {
  (void)state;
  char dir[] = "/tmp/cldiff-test-cache-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cld_ctx_params p = cld_ctx_params_default();
  p.cache_dir = dir;
  cld_ctx *ctx;
  assert_int_equal(cld_ctx_create(&p, &ctx, NULL, 0), CLD_OK);
  TU_OK(ctx, cld_ctx_build_program(ctx, "elementwise", "-cl-std=CL1.2"));
  cld_ctx_destroy(ctx);
  char *path = cache_file(dir);
  assert_non_null(path);
  struct stat st0;
  assert_int_equal(stat(path, &st0), 0);
  /* corruption 1: flip bytes in the middle; 2: truncate. Each time a fresh context must build
   * silently and rewrite a good entry of the original size. */
  for (int mode = 0; mode < 2; mode++) {
    FILE *f = fopen(path, mode == 0 ? "r+b" : "wb");
    assert_non_null(f);
    if (mode == 0) {
      fseek(f, (long)st0.st_size / 2, SEEK_SET);
      fwrite("garbage!", 1, 8, f);
    } else fwrite("CLDC", 1, 4, f);
    fclose(f);
    assert_int_equal(cld_ctx_create(&p, &ctx, NULL, 0), CLD_OK);
    TU_OK(ctx, cld_ctx_build_program(ctx, "elementwise", "-cl-std=CL1.2"));
    /* and the program works */
    cld_graph *g = cld_graph_create(ctx);
    int64_t s[1] = {5};
    cld_tensor *x = cld_input(g, "x", 1, s), *y = cld_scale(g, x, 2.0f);
    cld_graph_keep(g, y);
    TU_OK(ctx, cld_graph_plan(g, NULL));
    float in[5] = {1, 2, 3, 4, 5}, out[5];
    TU_OK(ctx, cld_tensor_write(g, x, in));
    TU_OK(ctx, cld_graph_compute(g));
    TU_OK(ctx, cld_tensor_read(g, y, out));
    for (int i = 0; i < 5; i++) assert_true(out[i] == 2 * in[i]);
    cld_graph_destroy(g);
    cld_ctx_destroy(ctx);
    /* the entry was rewritten: a valid header, no trace of the corruption */
    FILE *r = fopen(path, "rb");
    assert_non_null(r);
    char head[4] = {0};
    assert_int_equal(fread(head, 1, 4, r), 4);
    fseek(r, 0, SEEK_END);
    long size = ftell(r);
    char *all = malloc((size_t)size);
    fseek(r, 0, SEEK_SET);
    assert_int_equal(fread(all, 1, (size_t)size, r), (size_t)size);
    fclose(r);
    assert_memory_equal(head, "CLDC", 4);
    assert_true(size > 64);
    assert_null(memmem(all, (size_t)size, "garbage!", 8));
    free(all);
  }
  assert_int_equal(tu_rmtree(dir), 0);
}

static void test_graph_errors(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_graph *g = cld_graph_create(ctx);
  int64_t a[2] = {3, 4}, b[2] = {5, 4};
  cld_tensor *x = cld_input(g, "x", 2, a), *y = cld_input(g, "y", 2, b);
  assert_null(cld_add(g, x, y)); /* (3,4) + (5,4) does not broadcast */
  assert_int_equal(cld_graph_status(g), CLD_ERR_SHAPE);
  assert_non_null(strstr(cld_graph_errmsg(g), "(3,4)"));
  assert_null(cld_matmul(g, x, y, false, false)); /* sticky: everything after returns NULL */
  assert_int_equal(cld_graph_plan(g, NULL), CLD_ERR_SHAPE);
  cld_graph_destroy(g);

  /* a conv2d bias that is neither (O) nor (N, O) is named with both accepted shapes */
  g = cld_graph_create(ctx);
  int64_t xs4[4] = {2, 8, 6, 6}, ws4[4] = {5, 8, 3, 3}, bs2[2] = {3, 5};
  assert_null(cld_conv2d(g, cld_input(g, "x", 4, xs4), cld_input(g, "w", 4, ws4), cld_input(g, "b", 2, bs2), 1, 1));
  assert_int_equal(cld_graph_status(g), CLD_ERR_SHAPE);
  assert_non_null(strstr(cld_graph_errmsg(g), "(3,5) is neither (5) nor (2, 5)"));
  cld_graph_destroy(g);

  g = cld_graph_create(ctx);
  x = cld_input(g, "x", 2, a);
  cld_tensor *h = cld_silu(g, x), *s = cld_sum_all(g, h);
  assert_int_equal(cld_graph_compute(g), CLD_ERR_STATE); /* before plan */
  assert_int_equal(cld_graph_backward(g, h), CLD_ERR_SHAPE); /* loss not scalar */
  cld_graph_destroy(g);

  g = cld_graph_create(ctx);
  x = cld_input(g, "x", 2, a);
  h = cld_silu(g, x);
  s = cld_sum_all(g, h);
  cld_graph_keep(g, s);
  TU_OK(ctx, cld_graph_plan(g, NULL));
  float buf[12] = {0};
  assert_int_equal(cld_tensor_read(g, h, buf), CLD_ERR_STATE); /* not kept */
  assert_int_equal(cld_tensor_write(g, h, buf), CLD_ERR_INVALID_ARG); /* not an input */
  assert_null(cld_silu(g, x)); /* no nodes after plan */
  assert_int_equal(cld_graph_plan(g, NULL), CLD_ERR_STATE);
  cld_graph_destroy(g);
  g = cld_graph_create(ctx);
  int64_t bad[2] = {3, 0};
  assert_null(cld_input(g, "bad", 2, bad));
  assert_int_equal(cld_graph_status(g), CLD_ERR_SHAPE);
  cld_graph_destroy(g);
  cld_ctx_destroy(ctx);
}

/* two contexts, interleaved: each keeps its own programs, buffers and errors */
static void test_two_contexts(void **state) {
  (void)state;
  cld_ctx *c1 = tu_ctx(), *c2 = tu_ctx();
  cld_graph *g1 = cld_graph_create(c1), *g2 = cld_graph_create(c2);
  int64_t s[1] = {100};
  cld_tensor *x1 = cld_input(g1, "x", 1, s), *y1 = cld_exp(g1, x1);
  cld_tensor *x2 = cld_input(g2, "x", 1, s), *y2 = cld_square(g2, x2);
  cld_graph_keep(g1, y1);
  cld_graph_keep(g2, y2);
  TU_OK(c1, cld_graph_plan(g1, NULL));
  TU_OK(c2, cld_graph_plan(g2, NULL));
  float in[100], o1[100], o2[100];
  tu_fill(in, 100, 5, -1, 1);
  TU_OK(c1, cld_tensor_write(g1, x1, in));
  TU_OK(c2, cld_tensor_write(g2, x2, in));
  TU_OK(c1, cld_graph_compute(g1));
  TU_OK(c2, cld_graph_compute(g2));
  TU_OK(c1, cld_tensor_read(g1, y1, o1));
  TU_OK(c2, cld_tensor_read(g2, y2, o2));
  for (int i = 0; i < 100; i++) {
    assert_true(fabs(o1[i] - exp(in[i])) < 1e-5 * exp(in[i]));
    assert_true(o2[i] == in[i] * in[i]);
  }
  assert_int_equal(cld_ctx_build_source(c1, "garbage", ""), CLD_ERR_BUILD);
  assert_string_equal(cld_ctx_errmsg(c2), ""); /* errors are per context */
  cld_graph_destroy(g1);
  cld_graph_destroy(g2);
  cld_ctx_destroy(c1);
  cld_ctx_destroy(c2);
}

static void test_device_rng(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  enum { N = 4099 };
  float *d = tu_alloc(N), *h = tu_alloc(N);
  for (int off = 0; off < 3; off++) {
    TU_OK(ctx, cld_rng_uniform(ctx, 42, 7, (uint64_t)off * 5, N, d));
    cld_rng_uniform_host(42, 7, (uint64_t)off * 5, N, h);
    for (int i = 0; i < N; i++) assert_true(d[i] == h[i]); /* bit-identical */
    TU_OK(ctx, cld_rng_normal(ctx, 42, 7, (uint64_t)off * 5, N, d));
    cld_rng_normal_host(42, 7, (uint64_t)off * 5, N, h);
    for (int i = 0; i < N; i++) assert_true(fabsf(d[i] - h[i]) <= 2e-6f * (1 + fabsf(h[i])));
  }
  free(d);
  free(h);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_devices),     cmocka_unit_test(test_bad_device),   cmocka_unit_test(test_broken_kernel),
      cmocka_unit_test(test_corrupt_cache), cmocka_unit_test(test_graph_errors), cmocka_unit_test(test_two_contexts),
      cmocka_unit_test(test_device_rng),    cmocka_unit_test(test_source_include),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
