/* GEMM providers: every provider x transpose combination x batch/broadcast on odd shapes
 * against a double-precision host reference, through the internal dispatch. */
#define _GNU_SOURCE
#include "test_util.h"
#include "runtime/gemm.h"
#include <unistd.h>

static void ref_gemm(const cld_gemm_shape *s, const float *A, const float *B, size_t sa, size_t sb, double *C) {
  for (int64_t b = 0; b < s->batch; b++)
    for (int64_t i = 0; i < s->m; i++)
      for (int64_t j = 0; j < s->n; j++) {
        double acc = 0;
        const float *a = A + b * sa, *bb = B + b * sb;
        for (int64_t k = 0; k < s->k; k++)
          acc += (double)(s->trans_a ? a[k * s->m + i] : a[i * s->k + k]) * (s->trans_b ? bb[j * s->k + k] : bb[k * s->n + j]);
        C[(b * s->m + i) * s->n + j] = acc;
      }
}

/* off: extra offset (floats) of every operand in its buffer */
static void check_shape_off(cld_ctx *ctx, cld_gemm_shape s, bool bcast_a, cld_gemm_provider p, const cld_tiled_cfg *cfg,
                            size_t off) {
  size_t sa = bcast_a ? 0 : (size_t)(s.m * s.k), sb = (size_t)(s.k * s.n);
  size_t na = (size_t)((bcast_a ? 1 : s.batch) * s.m * s.k), nb = (size_t)(s.batch * s.k * s.n), nc = (size_t)(s.batch * s.m * s.n);
  float *A = tu_alloc(na), *B = tu_alloc(nb), *C = tu_alloc(nc + 96);
  double *R = calloc(nc, sizeof(double));
  tu_fill(A, na, 1, -1, 1);
  tu_fill(B, nb, 2, -1, 1);
  cl_int e;
  /* C gets a guard band of 64 floats after it and starts at an offset of 32 */
  float nan = NAN;
  cl_mem a = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, (off + na) * 4, NULL, &e);
  cl_mem b = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, (off + nb) * 4, NULL, &e);
  if (off) {
    clEnqueueFillBuffer(ctx->queue, a, &nan, 4, 0, off * 4, 0, NULL, NULL);
    clEnqueueFillBuffer(ctx->queue, b, &nan, 4, 0, off * 4, 0, NULL, NULL);
  }
  clEnqueueWriteBuffer(ctx->queue, a, CL_TRUE, off * 4, na * 4, A, 0, NULL, NULL);
  clEnqueueWriteBuffer(ctx->queue, b, CL_TRUE, off * 4, nb * 4, B, 0, NULL, NULL);
  for (size_t i = 0; i < nc + 64; i++) C[i] = 1234.5f;
  cl_mem c = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, (off + nc + 96) * 4, NULL, &e);
  clEnqueueFillBuffer(ctx->queue, c, &nan, 4, 0, (off + 32) * 4, 0, NULL, NULL);
  clEnqueueWriteBuffer(ctx->queue, c, CL_TRUE, (off + 32) * 4, (nc + 64) * 4, C, 0, NULL, NULL);
  cld_gemm_call call = {s.m, s.n, s.k, s.batch, s.trans_a, s.trans_b, a, b, c, off, off, off + 32, sa,
                        s.batch > 1 ? sb : 0, (size_t)(s.m * s.n)};
  TU_OK(ctx, cld_gemm_ensure_scratch(ctx, cld_gemm_scratch_floats(&call)));
  if (cfg) TU_OK(ctx, cld_gemm_tiled_run(ctx, &call, cfg));
  else TU_OK(ctx, cld_gemm_run(ctx, &call, p));
  clEnqueueReadBuffer(ctx->queue, c, CL_TRUE, (off + 32) * 4, (nc + 64) * 4, C, 0, NULL, NULL);
  ref_gemm(&s, A, B, sa, s.batch > 1 ? sb : 0, R);
  char what[128];
  snprintf(what, sizeof what, "gemm %s m=%lld n=%lld k=%lld b=%lld %c%c", cld_gemm_provider_name(p), (long long)s.m,
           (long long)s.n, (long long)s.k, (long long)s.batch, s.trans_a ? 'T' : 'N', s.trans_b ? 'T' : 'N');
  tu_close(C, R, nc, 1e-4, 1e-4 * sqrt((double)s.k), what);
  for (size_t i = nc; i < nc + 64; i++) assert_true(C[i] == 1234.5f); /* guard band intact */
  clReleaseMemObject(a);
  clReleaseMemObject(b);
  clReleaseMemObject(c);
  free(A); free(B); free(C); free(R);
}

static void check_shape(cld_ctx *ctx, cld_gemm_shape s, bool bcast_a, cld_gemm_provider p, const cld_tiled_cfg *cfg) {
  check_shape_off(ctx, s, bcast_a, p, cfg, 0);
}

static void test_providers(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  /* {64,96,40}, {96,64,44}: the tiled provider's NT transposes A or B (whole 4x4 blocks); {64,96,42}
   * the same with a ragged last block column; the last two: NT narrower than 16 with K % 16 == 0
   * takes the tiled provider's dot-product path */
  const int64_t dims[][4] = {{13, 19, 17, 1}, {37, 70, 33, 2}, {8, 32, 5, 1}, {64, 96, 40, 3}, {96, 64, 44, 2}, {64, 96, 42, 2},
                             {1, 1, 1, 1}, {129, 33, 7, 1}, {37, 3, 32, 2}, {1025, 2, 256, 1}};
  cld_gemm_provider ps[3] = {CLD_GEMM_TILED, CLD_GEMM_CLBLAST, CLD_GEMM_HOST};
  int np = cld_gemm_host_available(ctx) ? 3 : 2; /* the host's BLAS on CPU devices (PoCL) only */
  for (int p = 0; p < np; p++)
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
      for (int t = 0; t < 4; t++) {
        cld_gemm_shape s = {dims[d][0], dims[d][1], dims[d][2], dims[d][3], (t & 1) != 0, (t & 2) != 0};
        check_shape(ctx, s, false, ps[p], NULL);
        if (s.batch > 1) check_shape(ctx, s, true, ps[p], NULL);
      }
  /* a broadcast A above CLBlast's direct-kernel size (its indirect path with padded copies) */
  for (int t = 0; t < 2; t++) {
    cld_gemm_shape s = {520, 400, 300, 2, t != 0, false};
    check_shape(ctx, s, true, CLD_GEMM_CLBLAST, NULL);
  }
  cld_ctx_destroy(ctx);
}

static void test_tile_variants(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  const cld_tiled_cfg cfgs[] = {{4, 1, 0, 0, 0}, {6, 2, 4, 4, 0}, {8, 2, 16, 1, 0}, {4, 4, 1, 16, 0}, {1, 1, 0, 0, 0},
                                {8, 1, 4, 4, 1}, {6, 2, 16, 1, 1}, {4, 2, 0, 0, 1}}; /* the last three m-first */
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
    for (int t = 0; t < 4; t++) {
      cld_gemm_shape s = {45, 131, 29, 2, (t & 1) != 0, (t & 2) != 0};
      check_shape(ctx, s, false, CLD_GEMM_TILED, &cfgs[i]);
    }
  cld_ctx_destroy(ctx);
}

/* split-K: a single GEMM's K cut into slices summed by a second pass, every transposition, with
 * the tile shapes of the tuner's candidates; slices that do not divide K (or a batch) run unsplit;
 * a tuning-table entry carries the split through a save and a load, and the dispatch runs it */
static cld_ctx *ctx_in(const char *dir);
static void test_split_k(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  const cld_tiled_cfg cfgs[] = {{8, 2, 0, 0, 0, 1, 2}, {4, 1, 4, 4, 1, 1, 4}, {6, 2, 16, 1, 0, 1, 7}, {8, 2, 1, 16, 1, 1, 16}};
  const int64_t dims[][4] = {{37, 45, 448, 1}, {16, 32, 1024, 1}, {29, 70, 455, 1}, {37, 45, 448, 2}};
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
      for (int t = 0; t < 4; t++) {
        cld_gemm_shape sh = {dims[d][0], dims[d][1], dims[d][2], dims[d][3], (t & 1) != 0, (t & 2) != 0};
        check_shape(ctx, sh, false, CLD_GEMM_TILED, &cfgs[i]);
      }
  cld_ctx_destroy(ctx);
  char dir[] = "/tmp/cldiff-test-tune-XXXXXX";
  assert_non_null(mkdtemp(dir));
  ctx = ctx_in(dir);
  FILE *f = fopen(cld_gemm_tune_file(ctx), "w");
  assert_non_null(f);
  fputs("{\"entries\": [{\"m\": 40, \"n\": 24, \"k\": 1024, \"batch\": 1, \"trans_a\": 1, \"trans_b\": 0,"
        " \"provider\": \"tiled\", \"tm\": 8, \"nv\": 1, \"lws0\": 0, \"lws1\": 0, \"mf\": 0, \"ks\": 8},"
        " {\"m\": 8, \"n\": 8, \"k\": 64, \"batch\": 1, \"trans_a\": 0, \"trans_b\": 0,"
        " \"provider\": \"tiled\", \"tm\": 8, \"nv\": 1, \"lws0\": 0, \"lws1\": 0, \"mf\": 0, \"ks\": 65}]}", f);
  fclose(f);
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  assert_int_equal(t->n, 1); /* 65 slices: out of range, the entry dropped */
  assert_int_equal(t->e[0].tiled.ks, 8);
  TU_OK(ctx, cld_gemm_tuning_save(ctx));
  cld_ctx_destroy(ctx);
  ctx = ctx_in(dir);
  t = cld_gemm_tuning_get(ctx);
  assert_int_equal(t->n, 1);
  assert_int_equal(t->e[0].tiled.ks, 8);
  check_shape(ctx, (cld_gemm_shape){40, 24, 1024, 1, true, false, 0}, false, CLD_GEMM_AUTO, NULL);
  cld_ctx_destroy(ctx);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* CLBlast's kernels index with int: operands past 2^31 floats (an arena over 8 GiB) go through a
 * sub-buffer. A limit of 0 forces that path for every operand with a non-zero offset. */
static void test_clblast_rebase(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_gemm_clblast_set_offset_limit(0);
  const int64_t dims[][4] = {{13, 19, 17, 1}, {37, 70, 33, 2}, {64, 96, 40, 3}};
  const size_t offs[] = {1, 333, 4099, 70001};
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
    for (int t = 0; t < 4; t++) {
      cld_gemm_shape s = {dims[d][0], dims[d][1], dims[d][2], dims[d][3], (t & 1) != 0, (t & 2) != 0};
      check_shape_off(ctx, s, false, CLD_GEMM_CLBLAST, NULL, offs[(d + (size_t)t) % 4]);
      if (s.batch > 1) check_shape_off(ctx, s, true, CLD_GEMM_CLBLAST, NULL, offs[(d + (size_t)t + 1) % 4]);
    }
  cld_gemm_clblast_set_offset_limit(-1);
  cld_ctx_destroy(ctx);
}

/* Winograd's tile-interleaved grouped form: A (G, M, K) (or (G, K, M) transposed) shared by the P
 * panels of group g, B (G, P, K, N) and C (G, P, M, N) stored (P, rows, G N + pad). Against a
 * reference that indexes the logical operands; the padding and everything around C stay intact. */
static void check_interleaved(cld_ctx *ctx, int64_t G, int64_t P, int64_t M, int64_t N, int64_t K, bool ta,
                              cld_gemm_provider p, const cld_tiled_cfg *cfg) {
  int64_t row = G * N + CLD_TILE_PAD;
  size_t na = (size_t)(G * M * K), nb = (size_t)(P * K * row), nc = (size_t)(P * M * row);
  float *A = tu_alloc(na), *B = tu_alloc(nb), *C = tu_alloc(nc);
  tu_fill(A, na, 5, -1, 1);
  tu_fill(B, nb, 6, -1, 1);
  for (size_t i = 0; i < nc; i++) C[i] = 1234.5f;
  cl_int e;
  cl_mem a = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, na * 4, A, &e);
  cl_mem b = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, nb * 4, B, &e);
  cl_mem c = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, nc * 4, C, &e);
  cld_gemm_call call = {M, N, K, G * P, ta, false, a, b, c, 0, 0, 0, (size_t)(M * K), (size_t)(K * row), (size_t)(M * row),
                        P, (size_t)N, (size_t)N, row, row};
  if (cfg) TU_OK(ctx, cld_gemm_tiled_run(ctx, &call, cfg));
  else TU_OK(ctx, cld_gemm_run(ctx, &call, p));
  clEnqueueReadBuffer(ctx->queue, c, CL_TRUE, 0, nc * 4, C, 0, NULL, NULL);
  double *R = calloc(nc, sizeof(double));
  bool *mine = calloc(nc, sizeof(bool));
  for (int64_t g = 0; g < G; g++)
    for (int64_t q = 0; q < P; q++)
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
          double acc = 0;
          for (int64_t k = 0; k < K; k++)
            acc += (double)(ta ? A[(g * K + k) * M + i] : A[(g * M + i) * K + k]) * B[(q * K + k) * row + g * N + j];
          size_t at = (size_t)((q * M + i) * row + g * N + j);
          R[at] = acc;
          mine[at] = true;
        }
  for (size_t i = 0; i < nc; i++)
    if (!mine[i]) { R[i] = 1234.5; } /* the padding: untouched */
  char what[96];
  snprintf(what, sizeof what, "interleaved gemm G=%lld P=%lld m=%lld n=%lld k=%lld%s", (long long)G, (long long)P,
           (long long)M, (long long)N, (long long)K, ta ? " TA" : "");
  tu_close(C, R, nc, 1e-4, 1e-4 * sqrt((double)K), what);
  clReleaseMemObject(a);
  clReleaseMemObject(b);
  clReleaseMemObject(c);
  free(A); free(B); free(C); free(R); free(mine);
}

static void test_interleaved(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  const cld_tiled_cfg cfgs[] = {{8, 2, 1, 1, 1, 16}, {4, 1, 0, 0, 0, 0}, {6, 2, 4, 4, 1, 0}};
  for (int ta = 0; ta < 2; ta++) {
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
      check_interleaved(ctx, 3, 4, 13, 32, 17, ta, CLD_GEMM_TILED, &cfgs[i]);
      check_interleaved(ctx, 2, 3, 9, 19, 20, ta, CLD_GEMM_TILED, &cfgs[i]); /* N not a multiple of 16 */
      check_interleaved(ctx, 4, 1, 16, 32, 8, ta, CLD_GEMM_TILED, &cfgs[i]); /* one panel */
    }
    /* CLBlast cannot address the layout: the dispatcher runs such a call on the tiled provider */
    check_interleaved(ctx, 3, 4, 13, 32, 17, ta, CLD_GEMM_CLBLAST, NULL);
    if (cld_gemm_host_available(ctx)) { /* CBLAS addresses it through ldb, ldc */
      check_interleaved(ctx, 3, 4, 13, 32, 17, ta, CLD_GEMM_HOST, NULL);
      check_interleaved(ctx, 2, 3, 9, 19, 20, ta, CLD_GEMM_HOST, NULL);
    }
  }
  cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, 4096, NULL, NULL);
  cld_gemm_call bad = {4, 4, 4, 2, false, false, m, m, m, 0, 0, 0, 16, 16, 16, 2, 4, 4, 40, 40};
  assert_int_equal(cld_gemm_clblast_run(ctx, &bad), CLD_ERR_INVALID_ARG);
  bad.trans_b = true;
  assert_int_equal(cld_gemm_tiled_run(ctx, &bad, &cfgs[0]), CLD_ERR_INVALID_ARG);
  clReleaseMemObject(m);
  cld_ctx_destroy(ctx);
}

/* With libdnnl present the host provider runs each call as one oneDNN matmul: the geometries the
 * host checks above use (dense with every transpose, batched, broadcast A, Winograd's grouped
 * interleaved form) take that path, so those checks test oneDNN's, and it computes right here on
 * host arrays; a batch whose entries would all write one C is refused (the CBLAS loop runs it). */
static void test_host_onednn_path(void **state) {
  (void)state;
  if (!cld_gemm_onednn_available()) {
    print_message("built without oneDNN (sanitizer builds, or no dnnl.h) or libdnnl.so.2 not found: the host provider is CBLAS alone\n");
    skip();
  }
  assert_string_equal(cld_gemm_host_blas(), "oneDNN matmul");
  cld_ctx *ctx = tu_ctx();
  for (int t = 0; t < 8; t++) {
    bool bcast = t >= 4;
    cld_gemm_shape s = {37, 70, 33, 2, (t & 1) != 0, (t & 2) != 0, 0};
    size_t sa = bcast ? 0 : (size_t)(s.m * s.k), sb = (size_t)(s.k * s.n), nc = (size_t)(s.batch * s.m * s.n);
    float *A = tu_alloc((size_t)(s.batch * s.m * s.k)), *B = tu_alloc((size_t)s.batch * sb), *C = tu_alloc(nc);
    tu_fill(A, (size_t)(s.batch * s.m * s.k), 3, -1, 1);
    tu_fill(B, (size_t)s.batch * sb, 4, -1, 1);
    double *R = calloc(nc, sizeof(double));
    cld_gemm_call call = {s.m, s.n, s.k, s.batch, s.trans_a, s.trans_b, NULL, NULL, NULL, 0, 0, 0, sa, sb, (size_t)(s.m * s.n)};
    assert_true(cld_gemm_onednn_run(ctx, &call, A, B, C));
    ref_gemm(&s, A, B, sa, sb, R);
    tu_close(C, R, nc, 1e-4, 1e-4 * sqrt((double)s.k), "oneDNN matmul, dense");
    call.c_stride = 0; /* both entries into one C */
    assert_false(cld_gemm_onednn_run(ctx, &call, A, B, C));
    free(A); free(B); free(C); free(R);
  }
  for (int ta = 0; ta < 2; ta++) { /* check_interleaved's 3 x 4 x 13 x 32 x 17 */
    int64_t G = 3, P = 4, M = 13, N = 32, K = 17, row = G * N + CLD_TILE_PAD;
    float *A = tu_alloc((size_t)(G * M * K)), *B = tu_alloc((size_t)(P * K * row)), *C = tu_alloc((size_t)(P * M * row));
    cld_gemm_call call = {M, N, K, G * P, ta, false, NULL, NULL, NULL, 0, 0, 0, (size_t)(M * K), (size_t)(K * row),
                          (size_t)(M * row), P, (size_t)N, (size_t)N, row, row};
    assert_true(cld_gemm_onednn_run(ctx, &call, A, B, C));
    free(A); free(B); free(C);
  }
  cld_ctx_destroy(ctx);
}

/* Winograd's weight gradient over one tile-interleaved panel: G products A_g B_g^T with A (R rows)
 * and B (S rows) in blocks of G x N per row (rows G N + pad apart, group g at g N): one oneDNN
 * primitive (not refused), equal to the double reference */
static void test_host_strided_a(void **state) {
  (void)state;
  if (!cld_gemm_onednn_available()) skip();
  cld_ctx *ctx = tu_ctx();
  const int64_t G = 3, R = 13, S = 11, N = 32, row = G * N + CLD_TILE_PAD;
  float *A = tu_alloc((size_t)(R * row)), *B = tu_alloc((size_t)(S * row)), *C = tu_alloc((size_t)(G * R * S));
  tu_fill(A, (size_t)(R * row), 7, -1, 1);
  tu_fill(B, (size_t)(S * row), 8, -1, 1);
  cld_gemm_call call = {.m = R, .n = S, .k = N, .batch = G, .trans_b = true, .a_stride = (size_t)N, .lda = row,
                        .b_stride = (size_t)N, .b_gstride = (size_t)N, .ldb = row, .c_stride = (size_t)(R * S),
                        .c_gstride = (size_t)(R * S)};
  assert_true(cld_gemm_onednn_run(ctx, &call, A, B, C));
  double *ref = calloc((size_t)(G * R * S), sizeof(double));
  for (int64_t g = 0; g < G; g++)
    for (int64_t i = 0; i < R; i++)
      for (int64_t j = 0; j < S; j++)
        for (int64_t k = 0; k < N; k++) ref[(g * R + i) * S + j] += (double)A[i * row + g * N + k] * B[j * row + g * N + k];
  tu_close(C, ref, (size_t)(G * R * S), 1e-4, 1e-4 * sqrt((double)N), "oneDNN matmul, strided A");
  free(A); free(B); free(C); free(ref);
  cld_ctx_destroy(ctx);
}

/* with oneDNN there, a shape the tuning table does not cover runs on the host provider (its
 * primitive cache fills), not the tiled kernel */
static void test_host_untuned_default(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  if (!cld_gemm_host_available(ctx) || !cld_gemm_onednn_available()) {
    assert_false(cld_gemm_host_preferred(ctx));
    cld_ctx_destroy(ctx);
    skip();
  }
  assert_true(cld_gemm_host_preferred(ctx));
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  int tuned = t->n;
  t->n = 0; /* no entry: the default provider */
  const int64_t M = 24, N = 40, K = 16;
  float *A = tu_alloc((size_t)(M * K)), *B = tu_alloc((size_t)(K * N)), *C = tu_alloc((size_t)(M * N));
  tu_fill(A, (size_t)(M * K), 5, -1, 1);
  tu_fill(B, (size_t)(K * N), 6, -1, 1);
  cl_int e;
  cl_mem ma = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (size_t)(M * K) * 4, A, &e);
  cl_mem mb = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (size_t)(K * N) * 4, B, &e);
  cl_mem mc = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, (size_t)(M * N) * 4, NULL, &e);
  assert_null(ctx->onednn);
  cld_gemm_call call = {M, N, K, 1, false, false, ma, mb, mc, 0, 0, 0, 0, 0, 0};
  TU_OK(ctx, cld_gemm_run(ctx, &call, CLD_GEMM_AUTO));
  clEnqueueReadBuffer(ctx->queue, mc, CL_TRUE, 0, (size_t)(M * N) * 4, C, 0, NULL, NULL);
  assert_non_null(ctx->onednn);
  double *R = calloc((size_t)(M * N), sizeof(double));
  cld_gemm_shape sh = {M, N, K, 1, false, false, 0};
  ref_gemm(&sh, A, B, 0, 0, R);
  tu_close(C, R, (size_t)(M * N), 1e-4, 1e-4 * sqrt((double)K), "untuned default gemm");
  t->n = tuned;
  clReleaseMemObject(ma); clReleaseMemObject(mb); clReleaseMemObject(mc);
  free(A); free(B); free(C); free(R);
  cld_ctx_destroy(ctx);
}

/* the host's BLAS with every operand in one buffer (as the executor's arena holds them): each
 * buffer is mapped once; the result is right and nothing around C changes */
static void test_host_one_buffer(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  if (!cld_gemm_host_available(ctx)) { cld_ctx_destroy(ctx); skip(); }
  const int64_t M = 21, N = 34, K = 19;
  size_t na = (size_t)(M * K), nb = (size_t)(K * N), nc = (size_t)(M * N), ob = na + 5, oc = ob + nb + 40, total = oc + nc + 64;
  float *H = tu_alloc(total), *out = tu_alloc(total);
  tu_fill(H, total, 9, -1, 1);
  cl_int e;
  cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, total * 4, H, &e);
  assert_int_equal(e, CL_SUCCESS);
  cld_gemm_call call = {M, N, K, 1, false, true, m, m, m, 0, ob, oc, 0, 0, 0};
  TU_OK(ctx, cld_gemm_run(ctx, &call, CLD_GEMM_HOST));
  clEnqueueReadBuffer(ctx->queue, m, CL_TRUE, 0, total * 4, out, 0, NULL, NULL);
  double *R = calloc(nc, sizeof(double));
  cld_gemm_shape sh = {M, N, K, 1, false, true, 0};
  ref_gemm(&sh, H, H + ob, 0, 0, R);
  tu_close(out + oc, R, nc, 1e-4, 1e-4 * sqrt((double)K), "host gemm, one buffer");
  assert_memory_equal(out, H, oc * 4);                             /* A, B and the gap untouched */
  assert_memory_equal(out + oc + nc, H + oc + nc, (total - oc - nc) * 4); /* after C too */
  clReleaseMemObject(m);
  free(H); free(out); free(R);
  cld_ctx_destroy(ctx);
}

/* the host GEMM as native kernels on the queue: it starts only after the commands before it (a
 * fill enqueued without waiting), a GEMM after it reads its C, nothing waits in between; three
 * buffers (PoCL 3.1 handed a several-buffer native kernel their addresses out of order); a
 * released buffer's address is forgotten, and new buffers (often with the freed handles) are
 * right again. CLDIFF_HOST_GEMM=map gives the same through mapped buffers. */
static void native_round(cld_ctx *ctx, int seed) {
  const int64_t M = 29, N = 23, K = 31, N2 = 17;
  float *A = tu_alloc((size_t)(M * K)), *B = tu_alloc((size_t)(K * N)), *B2 = tu_alloc((size_t)(N * N2));
  float *C = tu_alloc((size_t)(M * N)), *D = tu_alloc((size_t)(M * N2));
  tu_fill(A, (size_t)(M * K), seed, -1, 1);
  tu_fill(B2, (size_t)(N * N2), seed + 2, -1, 1);
  const float bval = 0.25f * (float)seed;
  for (int64_t i = 0; i < K * N; i++) B[i] = bval;
  cl_int e;
  cl_mem ma = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (size_t)(M * K) * 4, A, &e);
  cl_mem mb = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, (size_t)(K * N) * 4, NULL, &e);
  cl_mem mc = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, (size_t)(M * N + M * N2) * 4, NULL, &e);
  cl_mem mb2 = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (size_t)(N * N2) * 4, B2, &e);
  assert_int_equal(clEnqueueFillBuffer(ctx->queue, mb, &bval, 4, 0, (size_t)(K * N) * 4, 0, NULL, NULL), CL_SUCCESS);
  cld_gemm_call c1 = {M, N, K, 1, false, false, ma, mb, mc, 0, 0, 0, 0, 0, 0};
  cld_gemm_call c2 = {M, N2, N, 1, false, false, mc, mb2, mc, 0, 0, (size_t)(M * N), 0, 0, 0}; /* D = C B2 */
  TU_OK(ctx, cld_gemm_run(ctx, &c1, CLD_GEMM_HOST));
  TU_OK(ctx, cld_gemm_run(ctx, &c2, CLD_GEMM_HOST));
  clEnqueueReadBuffer(ctx->queue, mc, CL_TRUE, 0, (size_t)(M * N) * 4, C, 0, NULL, NULL);
  clEnqueueReadBuffer(ctx->queue, mc, CL_TRUE, (size_t)(M * N) * 4, (size_t)(M * N2) * 4, D, 0, NULL, NULL);
  double *R = calloc((size_t)(M * N), sizeof(double)), *RD = calloc((size_t)(M * N2), sizeof(double));
  cld_gemm_shape s1 = {M, N, K, 1, false, false, 0}, s2 = {M, N2, N, 1, false, false, 0};
  ref_gemm(&s1, A, B, 0, 0, R);
  tu_close(C, R, (size_t)(M * N), 1e-4, 1e-4 * sqrt((double)K), "host gemm on the queue, after a fill");
  ref_gemm(&s2, C, B2, 0, 0, RD);
  tu_close(D, RD, (size_t)(M * N2), 1e-4, 1e-4 * sqrt((double)N), "host gemm on the queue, reading the one before");
  clReleaseMemObject(ma); clReleaseMemObject(mb); clReleaseMemObject(mc); clReleaseMemObject(mb2);
  free(A); free(B); free(B2); free(C); free(D); free(R); free(RD);
}

static void test_host_native_queue(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  if (!cld_gemm_host_available(ctx) || !cld_gemm_onednn_available()) { cld_ctx_destroy(ctx); skip(); }
  int before = cld_buffer_device_addrs_known();
  native_round(ctx, 11);
  bool native = cld_gemm_onednn_native(ctx);
  if (!native) print_message("the device runs no native kernels: the host GEMM maps its buffers\n");
  assert_int_equal(cld_buffer_device_addrs_known(), before); /* all four released, all forgotten */
  for (int r = 0; r < 3; r++) native_round(ctx, 20 + r);
  cld_ctx_destroy(ctx);
  setenv("CLDIFF_HOST_GEMM", "map", 1);
  ctx = tu_ctx();
  native_round(ctx, 31);
  assert_false(cld_gemm_onednn_native(ctx));
  cld_ctx_destroy(ctx);
  unsetenv("CLDIFF_HOST_GEMM");
}

static cld_ctx *ctx_in(const char *dir) {
  cld_ctx_params p = cld_ctx_params_default();
  p.cache_dir = dir;
  cld_ctx *ctx = NULL;
  assert_int_equal(cld_ctx_create(&p, &ctx, NULL, 0), CLD_OK);
  return ctx;
}

/* The tuning table: a shape listed twice loads as its later entry; tuning a shape already in the
 * table replaces its entry, in memory and on disk (memcmp of the shape struct, padding included,
 * once let every re-tune append a duplicate that lost to the stale first one) */
static void test_tune_table(void **state) {
  (void)state;
  char dir[] = "/tmp/cldiff-test-tune-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cld_ctx *ctx = ctx_in(dir);
  const char *file = cld_gemm_tune_file(ctx);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("{\"entries\": [{\"m\": 13, \"n\": 19, \"k\": 17, \"batch\": 1, \"trans_a\": 0, \"trans_b\": 0,"
        " \"provider\": \"tiled\", \"tm\": 4, \"nv\": 1, \"lws0\": 0, \"lws1\": 0, \"mf\": 0},"
        " {\"m\": 64, \"n\": 32, \"k\": 64, \"batch\": 72, \"a_batch\": 36, \"trans_a\": 0, \"trans_b\": 0,"
        " \"provider\": \"tiled\", \"tm\": 8, \"nv\": 2, \"lws0\": 1, \"lws1\": 16, \"mf\": 0},"
        " {\"m\": 13, \"n\": 19, \"k\": 17, \"batch\": 1, \"trans_a\": 0, \"trans_b\": 0,"
        " \"provider\": \"tiled\", \"tm\": 6, \"nv\": 2, \"lws0\": 4, \"lws1\": 4, \"mf\": 1}]}", f);
  fclose(f);
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  assert_non_null(t);
  assert_int_equal(t->n, 2);
  assert_int_equal(t->e[0].tiled.tm, 6);
  assert_int_equal(t->e[0].tiled.lws0, 4);
  assert_int_equal(t->e[1].shape.a_batch, 36);
  cld_gemm_shape s = {13, 19, 17, 1, false, false, 0};
  TU_OK(ctx, cld_gemm_tune(ctx, &s, 1, false, NULL, NULL));
  assert_int_equal(t->n, 2);
  cld_ctx_destroy(ctx);
  ctx = ctx_in(dir); /* the stored table: still one entry per shape */
  t = cld_gemm_tuning_get(ctx);
  assert_int_equal(t->n, 2);
  assert_true(cld_gemm_shape_eq(&t->e[0].shape, &s));
  assert_int_equal(t->e[1].shape.a_batch, 36);
  cld_ctx_destroy(ctx);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* The quick search stores one entry per shape (tiled or, on a CPU device, possibly the host's
 * BLAS) and what it stored computes right through the dispatch; a "host" entry survives the
 * table's round trip, and on a device without host-unified memory it would run tiled */
static void test_tune_quick(void **state) {
  (void)state;
  char dir[] = "/tmp/cldiff-test-tune-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cld_ctx *ctx = ctx_in(dir);
  const cld_gemm_shape shapes[2] = {{64, 96, 40, 1, false, false, 0}, {37, 70, 33, 2, true, false, 0}};
  TU_OK(ctx, cld_gemm_tune_quick(ctx, shapes, 2, false, 0, NULL, NULL));
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  assert_int_equal(t->n, 2);
  for (int i = 0; i < 2; i++) {
    assert_true(cld_gemm_shape_eq(&t->e[i].shape, &shapes[i]));
    assert_true(t->e[i].provider == CLD_GEMM_TILED || (t->e[i].provider == CLD_GEMM_HOST && cld_gemm_host_available(ctx)));
    assert_true(t->e[i].gflops > 0);
    check_shape(ctx, shapes[i], false, CLD_GEMM_AUTO, NULL);
  }
  t->e[0].provider = CLD_GEMM_HOST;
  TU_OK(ctx, cld_gemm_tuning_save(ctx));
  cld_ctx_destroy(ctx);
  ctx = ctx_in(dir);
  t = cld_gemm_tuning_get(ctx);
  assert_int_equal(t->n, 2);
  assert_int_equal(t->e[0].provider, CLD_GEMM_HOST);
  check_shape(ctx, shapes[0], false, CLD_GEMM_AUTO, NULL);
  cld_ctx_destroy(ctx);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* a hostile tuning table: huge, fractional or negative numbers drop their entry (no undefined
 * float-to-int conversion), a sane entry beside them survives, and GEMMs still run */
static void test_tune_table_hostile(void **state) {
  (void)state;
  char dir[] = "/tmp/cldiff-test-tune-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cld_ctx *ctx = ctx_in(dir);
  FILE *f = fopen(cld_gemm_tune_file(ctx), "w");
  assert_non_null(f);
  fputs("{\"entries\": [{\"m\": 1e300, \"n\": 19, \"k\": 17, \"tm\": 4, \"nv\": 1},"
        " {\"m\": 13, \"n\": 19, \"k\": 17, \"tm\": 4.5, \"nv\": 1},"
        " {\"m\": 13, \"n\": 19, \"k\": 17, \"tm\": 4, \"nv\": 1, \"lws0\": 1e20},"
        " {\"m\": 13, \"n\": 19, \"k\": 17, \"batch\": -2, \"tm\": 4, \"nv\": 1},"
        " {\"m\": 8, \"n\": 8, \"k\": 8, \"tm\": 4, \"nv\": 1}],"
        " \"clblast_xgemm\": {\"KWG\": 1e300}}", f);
  fclose(f);
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  assert_non_null(t);
  assert_int_equal(t->n, 1);
  assert_int_equal((int)t->e[0].shape.m, 8);
  assert_false(t->clblast.set);
  cld_gemm_result r;
  cld_gemm_shape s = {13, 19, 17, 1, false, false, 0};
  TU_OK(ctx, cld_gemm_bench(ctx, &s, CLD_GEMM_AUTO, 1, &r));
  cld_ctx_destroy(ctx);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* cld_gemm_record: distinct shapes in first-run order, at most cap, nothing after it is stopped */
static void test_record(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_gemm_shape rec[2], a = {13, 19, 17, 1, false, false}, b = {13, 19, 17, 1, true, false}, c = {8, 32, 5, 2, false, true};
  int n = -1;
  cld_gemm_record(ctx, rec, 2, &n);
  assert_int_equal(n, 0);
  check_shape(ctx, a, false, CLD_GEMM_TILED, NULL);
  check_shape(ctx, a, false, CLD_GEMM_TILED, NULL);
  check_shape(ctx, b, false, CLD_GEMM_TILED, NULL);
  assert_int_equal(n, 2);
  assert_true(rec[0].m == 13 && rec[0].n == 19 && rec[0].k == 17 && rec[0].batch == 1 && !rec[0].trans_a && !rec[0].trans_b);
  assert_true(rec[1].m == 13 && rec[1].trans_a && !rec[1].trans_b);
  check_shape(ctx, c, false, CLD_GEMM_TILED, NULL); /* over cap: dropped */
  assert_int_equal(n, 2);
  cld_gemm_record(ctx, NULL, 0, NULL);
  n = 7;
  check_shape(ctx, c, false, CLD_GEMM_TILED, NULL);
  assert_int_equal(n, 7);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_providers),
      cmocka_unit_test(test_tile_variants),
      cmocka_unit_test(test_split_k),
      cmocka_unit_test(test_clblast_rebase),
      cmocka_unit_test(test_interleaved),
      cmocka_unit_test(test_host_one_buffer), cmocka_unit_test(test_host_onednn_path), cmocka_unit_test(test_host_untuned_default), cmocka_unit_test(test_host_strided_a),
      cmocka_unit_test(test_host_native_queue),
      cmocka_unit_test(test_tune_table), cmocka_unit_test(test_tune_table_hostile), cmocka_unit_test(test_tune_quick),
      cmocka_unit_test(test_record),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
