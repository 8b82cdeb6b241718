/* GEMM benchmarking and tuning on the actual device. Tuning times the tiled kernel's tile sizes
 * and work-group shapes per shape, and a short list of CLBlast Xgemm parameter sets (device-wide,
 * applied through CLBlastOverrideParameters); per shape the faster provider wins. Results go to
 * the per-device JSON table that gemm.c reads. Every timed result is checked against a double
 * precision host reference on sampled entries. */
#include "runtime/gemm.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cld_gemm_default_shapes(cld_gemm_shape *out, int max) {
  static const cld_gemm_shape s[] = {
      /* fmnist-s conv forward: (Cout, N*H*W, Cin*9) at batch 32 */
      {64, 25088, 576, 1, false, false, 0},
      {128, 6272, 1152, 1, false, false, 0},
      {256, 1024, 2304, 1, false, false, 0},
      /* their backward forms: dW = dY col^T (NT), dcol = W^T dY (TN) */
      {64, 576, 25088, 1, false, true, 0},
      {128, 1152, 6272, 1, false, true, 0},
      {256, 2304, 1024, 1, false, true, 0},
      {576, 25088, 64, 1, true, false, 0},
      {1152, 6272, 128, 1, true, false, 0},
      {2304, 1024, 256, 1, true, false, 0},
      /* attention at 14x14, 32 images: Q K^T and P V */
      {196, 196, 64, 32, false, true, 0},
      {196, 64, 196, 32, false, false, 0},
  };
  int n = (int)(sizeof s / sizeof s[0]);
  for (int i = 0; i < n && i < max; i++) out[i] = s[i];
  return n;
}

typedef struct { cl_mem a, b, c; float *ha, *hb; size_t na, nb, nc; } bench_bufs;

static void free_bufs(bench_bufs *bb) {
  if (bb->a) clReleaseMemObject(bb->a);
  if (bb->b) clReleaseMemObject(bb->b);
  if (bb->c) clReleaseMemObject(bb->c);
  free(bb->ha);
  free(bb->hb);
  memset(bb, 0, sizeof *bb);
}

/* Grouped shapes are Winograd's, timed as the executor runs them: B and C tile-interleaved,
 * (G, P, rows, n) stored (P, rows, G n + pad). The stride of those rows: */
static int64_t tile_row(const cld_gemm_shape *s) { return s->a_batch * s->n + CLD_TILE_PAD; }

static cld_status make_bufs(cld_ctx *ctx, const cld_gemm_shape *s, bench_bufs *bb) {
  memset(bb, 0, sizeof *bb);
  bb->na = (size_t)((s->a_batch > 0 ? s->a_batch : s->batch) * s->m * s->k);
  bb->nb = (size_t)(s->batch * s->k * s->n);
  bb->nc = (size_t)(s->batch * s->m * s->n);
  if (s->a_batch > 0) { /* interleaved, with the padding */
    int64_t P = s->batch / s->a_batch;
    bb->nb = (size_t)(P * s->k * tile_row(s));
    bb->nc = (size_t)(P * s->m * tile_row(s));
  }
  bb->ha = malloc(bb->na * sizeof(float));
  bb->hb = malloc(bb->nb * sizeof(float));
  if (!bb->ha || !bb->hb) { free_bufs(bb); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  cld_rng_uniform_host(1, 1, 0, bb->na, bb->ha);
  cld_rng_uniform_host(1, 2, 0, bb->nb, bb->hb);
  for (size_t i = 0; i < bb->na; i++) bb->ha[i] -= 0.5f;
  for (size_t i = 0; i < bb->nb; i++) bb->hb[i] -= 0.5f;
  cl_int e1, e2, e3;
  bb->a = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bb->na * 4, bb->ha, &e1);
  bb->b = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bb->nb * 4, bb->hb, &e2);
  bb->c = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bb->nc * 4, NULL, &e3);
  if (e1 || e2 || e3) { free_bufs(bb); return cld_seterr(ctx, CLD_ERR_NOMEM, "allocating GEMM benchmark buffers"); }
  return CLD_OK;
}

static cld_gemm_call make_call(const cld_gemm_shape *s, const bench_bufs *bb) {
  cld_gemm_call c = {s->m, s->n, s->k, s->batch, s->trans_a, s->trans_b, bb->a, bb->b, bb->c, 0, 0, 0,
                     (size_t)(s->m * s->k), (size_t)(s->k * s->n), (size_t)(s->m * s->n), 0, 0, 0, 0, 0, 0};
  if (s->batch == 1) c.a_stride = c.b_stride = 0;
  c.a_div = s->a_batch > 0 ? s->batch / s->a_batch : 0;
  if (s->a_batch > 0) { /* interleaved */
    int64_t row = tile_row(s);
    c.b_stride = (size_t)(s->k * row); c.b_gstride = (size_t)s->n; c.ldb = row;
    c.c_stride = (size_t)(s->m * row); c.c_gstride = (size_t)s->n; c.ldc = row;
  }
  return c;
}

/* offset of row r of batch entry b of a (rows, n) operand: dense, or interleaved when grouped
 * (b = g P + p) */
static size_t row_at(const cld_gemm_shape *s, int64_t b, int64_t rows, int64_t r) {
  if (s->a_batch <= 0) return (size_t)((b * rows + r) * s->n);
  int64_t P = s->batch / s->a_batch, g = b / P, p = b % P;
  return (size_t)((p * rows + r) * tile_row(s) + g * s->n);
}

/* max relative error over sampled entries, against a double host reference */
static double check(cld_ctx *ctx, const cld_gemm_shape *s, const bench_bufs *bb) {
  float *hc = malloc(bb->nc * sizeof(float));
  if (!hc) return INFINITY;
  if (clEnqueueReadBuffer(ctx->queue, bb->c, CL_TRUE, 0, bb->nc * 4, hc, 0, NULL, NULL) != CL_SUCCESS) { free(hc); return INFINITY; }
  double worst = 0;
  float pick[64];
  cld_rng_uniform_host(7, 3, 0, 64, pick);
  for (int t = 0; t < 64; t++) {
    size_t ne = (size_t)(s->batch * s->m * s->n), e = (size_t)(pick[t] * (float)ne) % ne; /* entry e in (b, i, j) order */
    int64_t b = (int64_t)(e / (size_t)(s->m * s->n)), r = (int64_t)(e % (size_t)(s->m * s->n));
    int64_t i = r / s->n, j = r % s->n;
    int64_t ab = s->a_batch > 0 ? b / (s->batch / s->a_batch) : b;
    const float *A = bb->ha + ab * s->m * s->k;
    double acc = 0, mag = 0;
    for (int64_t k = 0; k < s->k; k++) {
      double av = s->trans_a ? A[k * s->m + i] : A[i * s->k + k];
      double bv = s->trans_b ? bb->hb[b * s->k * s->n + j * s->k + k] : bb->hb[row_at(s, b, s->k, k) + j];
      acc += av * bv;
      mag += fabs(av * bv);
    }
    double err = fabs(acc - hc[row_at(s, b, s->m, i) + j]) / (mag + 1e-30);
    if (err > worst) worst = err;
  }
  free(hc);
  return worst;
}

/* *sec gets the median time; *best (if non-NULL) the fastest repetition, the better estimate
 * of capability on a machine shared with other load (interference only slows down). */
static cld_status time_call_ex(cld_ctx *ctx, const cld_gemm_call *c, cld_gemm_provider p, const cld_tiled_cfg *cfg,
                               int reps, double *sec, double *best) {
  cld_status st = p == CLD_GEMM_TILED && cfg ? cld_gemm_tiled_run(ctx, c, cfg) : cld_gemm_run(ctx, c, p);
  if (st) return st;
  if (clFinish(ctx->queue) != CL_SUCCESS) return cld_seterr(ctx, CLD_ERR_CL, "clFinish after warm-up");
  double ts[32];
  if (reps > 32) reps = 32;
  if (reps < 1) reps = 1;
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    st = p == CLD_GEMM_TILED && cfg ? cld_gemm_tiled_run(ctx, c, cfg) : cld_gemm_run(ctx, c, p);
    if (st) return st;
    clFinish(ctx->queue);
    ts[r] = now_s() - t0;
  }
  for (int i = 1; i < reps; i++)
    for (int j = i; j > 0 && ts[j] < ts[j - 1]; j--) { double x = ts[j]; ts[j] = ts[j - 1]; ts[j - 1] = x; }
  *sec = ts[reps / 2];
  if (best) *best = ts[0];
  return CLD_OK;
}

/* tuning compares candidates by their fastest repetition */
static cld_status time_call(cld_ctx *ctx, const cld_gemm_call *c, cld_gemm_provider p, const cld_tiled_cfg *cfg,
                            int reps, double *sec) {
  double med;
  return time_call_ex(ctx, c, p, cfg, reps, &med, sec);
}

static double flops(const cld_gemm_shape *s) { return 2.0 * (double)s->m * (double)s->n * (double)s->k * (double)s->batch; }

cld_status cld_gemm_bench(cld_ctx *ctx, const cld_gemm_shape *s, cld_gemm_provider p, int reps, cld_gemm_result *out) {
  if (!ctx || !s || !out || s->m <= 0 || s->n <= 0 || s->k <= 0 || s->batch <= 0) return CLD_ERR_INVALID_ARG;
  bench_bufs bb;
  cld_status st = make_bufs(ctx, s, &bb);
  if (st) return st;
  cld_gemm_call c = make_call(s, &bb);
  if ((st = cld_gemm_ensure_scratch(ctx, cld_gemm_scratch_floats(&c)))) { free_bufs(&bb); return st; }
  memset(out, 0, sizeof *out);
  /* report which provider AUTO resolves to */
  cld_gemm_provider used = p;
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  snprintf(out->config, sizeof out->config, "default");
  if (p == CLD_GEMM_AUTO) used = ctx->info.is_gpu ? CLD_GEMM_CLBLAST : CLD_GEMM_TILED;
  for (int i = 0; t && i < t->n; i++) {
    const cld_tune_entry *e = &t->e[i];
    if (e->shape.m == s->m && e->shape.n == s->n && e->shape.k == s->k && e->shape.batch == s->batch &&
        e->shape.trans_a == s->trans_a && e->shape.trans_b == s->trans_b) {
      if (p == CLD_GEMM_AUTO) used = e->provider;
      if (used == CLD_GEMM_TILED && e->provider == CLD_GEMM_TILED) {
        char cs[64];
        snprintf(out->config, sizeof out->config, "tuned %s", cld_tiled_cfg_str(&e->tiled, cs, sizeof cs));
      }
      else if (used == CLD_GEMM_CLBLAST && t->clblast.set)
        snprintf(out->config, sizeof out->config, "tuned Xgemm MWG=%zu NWG=%zu KWG=%zu", t->clblast.v[6], t->clblast.v[9], t->clblast.v[2]);
    }
  }
  if (used == CLD_GEMM_CLBLAST && t && t->clblast.set && !strcmp(out->config, "default"))
    snprintf(out->config, sizeof out->config, "tuned Xgemm MWG=%zu NWG=%zu KWG=%zu", t->clblast.v[6], t->clblast.v[9], t->clblast.v[2]);
  out->provider = used;
  double best = 0;
  st = time_call_ex(ctx, &c, p, NULL, reps, &out->seconds, &best);
  if (!st) {
    out->gflops = flops(s) / out->seconds * 1e-9;
    out->gflops_best = flops(s) / best * 1e-9;
    out->max_rel_err = check(ctx, s, &bb);
  }
  free_bufs(&bb);
  return st;
}

/* CLBlast Xgemm candidates: GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN */
static const size_t clblast_cands[][CLD_CLBLAST_NPARAMS] = {
    {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4},
    {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 8, 8},
    {0, 1, 32, 2, 8, 8, 128, 8, 8, 128, 0, 0, 0, 0, 8, 8},
    {0, 1, 16, 2, 8, 8, 64, 8, 8, 128, 0, 0, 0, 0, 8, 16},
    {0, 1, 32, 1, 4, 4, 64, 4, 4, 64, 0, 0, 1, 1, 8, 16},
    {0, 1, 32, 2, 16, 16, 128, 16, 16, 128, 0, 0, 0, 0, 8, 8},
};

/* The quick search's candidates: the configurations that won most often in a full search of every
 * GEMM shape of a fmnist-xs training step on a 2-core Intel Xeon (AVX-512) through PoCL, most
 * frequent first (docs/PERFORMANCE.md); the last two span the batch. */
static const cld_tiled_cfg quick_cands[] = {
    {8, 2, 1, 16, 0, 1, 1}, {8, 2, 16, 1, 1, 1, 1}, {4, 2, 1, 16, 0, 1, 1}, {8, 2, 4, 4, 0, 1, 1}, {8, 2, 1, 16, 1, 1, 1},
    {8, 2, 4, 4, 1, 1, 1},  {4, 2, 0, 0, 1, 1, 1},  {6, 2, 1, 16, 1, 1, 1}, {8, 2, 2, 1, 0, 8, 1}, {8, 2, 1, 1, 1, 16, 1}};

/* the candidates of a search into out (room for 128): the first n_quick of the quick list, or every tile size with
 * 4..16 outputs per work-item x grid order x work-group; work-groups spanning the batch only for
 * batches of 16 or more */
static int tiled_candidates(const cld_gemm_shape *s, bool quick, size_t n_quick, cld_tiled_cfg *out) {
  static const int tms[] = {4, 6, 8}, nvs[] = {1, 2, 4};
  static const int lws[][3] = {{0, 0, 1}, {4, 4, 1}, {16, 1, 1}, {1, 16, 1}, {1, 1, 16}, {2, 1, 8}};
  int n = 0;
  if (quick) {
    for (size_t i = 0; i < sizeof quick_cands / sizeof *quick_cands && i < n_quick; i++)
      if (quick_cands[i].lb <= 1 || s->batch >= 16) out[n++] = quick_cands[i];
    return n;
  }
  for (size_t a = 0; a < 3; a++)
    for (size_t b = 0; b < 3; b++) {
      if (tms[a] * nvs[b] > 16 || tms[a] * nvs[b] < 4) continue;
      for (int mf = 0; mf < 2; mf++)
        for (size_t l = 0; l < sizeof lws / sizeof lws[0]; l++)
          if (lws[l][2] <= 1 || s->batch >= 16) out[n++] = (cld_tiled_cfg){tms[a], nvs[b], lws[l][0], lws[l][1], mf, lws[l][2], 1};
    }
  return n;
}

/* cfg timed on shape s (3 times, 2 in the quick search): it becomes *best's configuration when it
 * is faster and right (a wrong result never wins) */
static cld_status try_tiled(cld_ctx *ctx, const cld_gemm_shape *s, const cld_gemm_call *c, bench_bufs *bb,
                            const cld_tiled_cfg *cfg, bool quick, cld_tune_entry *best) {
  double sec = 1.0;
  cld_status st = time_call(ctx, c, CLD_GEMM_TILED, cfg, quick ? 2 : 3, &sec);
  if (st) return st;
  double gf = flops(s) / sec * 1e-9;
  if (gf > best->gflops && check(ctx, s, bb) <= 1e-4) { best->gflops = gf; best->tiled = *cfg; }
  return CLD_OK;
}

/* the fastest correct tiled configuration for shape s into *best (each candidate timed 3 times,
 * 2 in the quick search); past the deadline (> 0, in now_s() time) the search stops at the best
 * found so far (every candidate compiles a program, so one shape can take longer than a whole
 * time box) */
static cld_status tune_tiled_shape(cld_ctx *ctx, const cld_gemm_shape *s, const cld_gemm_call *c, bench_bufs *bb,
                                   double deadline, bool quick, cld_tune_entry *best) {
  cld_tiled_cfg cand[128];
  /* where the host's BLAS is oneDNN it wins most shapes, and the quick search times the first
   * five candidates only: compiling their programs is most of a tune from empty caches, and the
   * tables came out within the noise of the ten's (docs/PERFORMANCE.md) */
  int n = tiled_candidates(s, quick, cld_gemm_host_preferred(ctx) ? 5 : sizeof quick_cands / sizeof *quick_cands, cand);
  cld_status st = CLD_OK;
  best->shape = *s;
  best->provider = CLD_GEMM_TILED;
  for (int i = 0; i < n && !st; i++) {
    if (deadline > 0 && best->gflops > 0 && now_s() > deadline) return st;
    st = try_tiled(ctx, s, c, bb, &cand[i], quick, best);
  }
  /* a single long-K product: the winner again with K split into 2-16 slices of at least 64 */
  static const int kss[] = {2, 4, 8, 16};
  cld_tiled_cfg base = best->tiled;
  for (size_t i = 0; i < sizeof kss / sizeof kss[0] && !st && s->batch == 1 && s->k >= 1024 && best->gflops > 0; i++) {
    if (s->k % kss[i] || s->k / kss[i] < 64) continue;
    cld_tiled_cfg cfg = base;
    cfg.ks = kss[i];
    st = try_tiled(ctx, s, c, bb, &cfg, quick, best);
  }
  return st;
}

/* the host's BLAS on a CPU device sharing the host's memory against the tiled winner, timed in
 * turn: the winner is the fastest of many candidates timed 2-3 times each, which flatters it
 * against a provider timed alone on a noisy machine, so both are timed again round by round (more
 * rounds for short products, where one interruption is a large share). The host wins the shape
 * when its fastest round is faster (and right); the tiled configuration found stays in the entry. */
static cld_status try_host(cld_ctx *ctx, const cld_gemm_shape *s, const cld_gemm_call *c, bench_bufs *bb,
                           cld_tune_entry *best) {
  bool tiled = best->gflops > 0; /* a correct tiled configuration was found */
  double est = tiled ? flops(s) / (best->gflops * 1e9) : 1.0;
  int rounds = est < 1e-4 ? 9 : est < 1e-3 ? 5 : 3;
  double t_tiled = 1e30, t_host = 1e30, sec = 1.0;
  cld_status st = CLD_OK;
  for (int r = 0; r < rounds && !st; r++) {
    if (tiled && !(st = time_call(ctx, c, CLD_GEMM_TILED, &best->tiled, 1, &sec))) t_tiled = fmin(t_tiled, sec);
    if (!st && !(st = time_call(ctx, c, CLD_GEMM_HOST, NULL, 1, &sec))) t_host = fmin(t_host, sec);
  }
  if (st) return st;
  if (tiled) best->gflops = flops(s) / t_tiled * 1e-9;
  if (t_host < t_tiled && check(ctx, s, bb) <= 1e-4) {
    best->gflops = flops(s) / t_host * 1e-9;
    best->provider = CLD_GEMM_HOST;
  }
  return CLD_OK;
}

static cld_status tune(cld_ctx *ctx, const cld_gemm_shape *shapes, int n_shapes, bool tune_clblast, double max_seconds,
                       bool quick, cld_tune_progress progress, void *user);

cld_status cld_gemm_tune(cld_ctx *ctx, const cld_gemm_shape *shapes, int n_shapes, bool tune_clblast,
                         cld_tune_progress progress, void *user) {
  return tune(ctx, shapes, n_shapes, tune_clblast, 0, false, progress, user);
}

cld_status cld_gemm_tune_budget(cld_ctx *ctx, const cld_gemm_shape *shapes, int n_shapes, bool tune_clblast,
                                double max_seconds, cld_tune_progress progress, void *user) {
  return tune(ctx, shapes, n_shapes, tune_clblast, max_seconds, false, progress, user);
}

cld_status cld_gemm_tune_quick(cld_ctx *ctx, const cld_gemm_shape *shapes, int n_shapes, bool tune_clblast,
                               double max_seconds, cld_tune_progress progress, void *user) {
  return tune(ctx, shapes, n_shapes, tune_clblast, max_seconds, true, progress, user);
}

static cld_status tune(cld_ctx *ctx, const cld_gemm_shape *shapes, int n_shapes, bool tune_clblast, double max_seconds,
                       bool quick, cld_tune_progress progress, void *user) {
  if (!ctx) return CLD_ERR_INVALID_ARG;
  double t_start = now_s();
  cld_gemm_shape defs[32];
  if (!shapes) { n_shapes = cld_gemm_default_shapes(defs, 32); shapes = defs; }
  if (n_shapes <= 0) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "tune: no shapes");
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  if (!t) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  char line[256];
  cld_tune_entry *best = calloc((size_t)n_shapes, sizeof *best);
  double *cb_best = calloc((size_t)n_shapes, sizeof *cb_best);
  if (!best || !cb_best) { free(best); free(cb_best); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  cld_status st = CLD_OK;
  for (int si = 0; si < n_shapes && !st; si++) {
    const cld_gemm_shape *s = &shapes[si];
    if (max_seconds > 0 && si > 0 && now_s() - t_start > max_seconds) { /* the time box: keep what is tuned */
      if (progress) {
        snprintf(line, sizeof line, "time box of %.0f s reached: %d of %d shapes tuned, the rest take the nearest tuned shape's choice",
                 max_seconds, si, n_shapes);
        progress(user, line);
      }
      n_shapes = si;
      break;
    }
    bench_bufs bb;
    if ((st = make_bufs(ctx, s, &bb))) break;
    cld_gemm_call c = make_call(s, &bb);
    if ((st = cld_gemm_ensure_scratch(ctx, cld_gemm_scratch_floats(&c)))) { free_bufs(&bb); break; }
    st = tune_tiled_shape(ctx, s, &c, &bb, max_seconds > 0 ? t_start + max_seconds : 0, quick, &best[si]);
    if (!st && cld_gemm_host_available(ctx)) st = try_host(ctx, s, &c, &bb, &best[si]);
    free_bufs(&bb);
    if (!st && progress) {
      char cs[64];
      char grp[32] = "";
      if (s->a_batch > 0) snprintf(grp, sizeof grp, " a_batch=%lld", (long long)s->a_batch);
      /* "[i/n, elapsed, ETA]" first: the search takes seconds a shape, and a minute or two in all */
      double el = now_s() - t_start, eta = el / (si + 1) * (n_shapes - si - 1);
      snprintf(line, sizeof line, "[%d/%d, %.0f s, ~%.0f s left] %-7s m=%lld n=%lld k=%lld batch=%lld%s %s%s: %.1f GFLOP/s (%s)",
               si + 1, n_shapes, el, eta, cld_gemm_provider_name(best[si].provider), (long long)s->m,
               (long long)s->n, (long long)s->k, (long long)s->batch, grp, s->trans_a ? "T" : "N", s->trans_b ? "T" : "N",
               best[si].gflops, best[si].provider == CLD_GEMM_HOST ? cld_gemm_host_blas() : cld_tiled_cfg_str(&best[si].tiled, cs, sizeof cs));
      progress(user, line);
    }
  }
  /* CLBlast: one device-wide parameter set, the best geometric mean over the shapes */
  double best_geo = 0;
  int best_cand = -1;
  for (size_t ci = 0; tune_clblast && ci < sizeof clblast_cands / sizeof clblast_cands[0] && !st; ci++) {
    cld_clblast_cfg cfg = {{0}, true};
    memcpy(cfg.v, clblast_cands[ci], sizeof cfg.v);
    if (cld_gemm_clblast_apply(ctx, &cfg)) continue;
    double geo = 0, gfs[64];
    bool ok = true;
    for (int si = 0; si < n_shapes && ok && si < 64; si++) {
      bench_bufs bb;
      if (make_bufs(ctx, &shapes[si], &bb)) { ok = false; break; }
      cld_gemm_call c = make_call(&shapes[si], &bb);
      double sec = 1.0;
      if (time_call(ctx, &c, CLD_GEMM_CLBLAST, NULL, 3, &sec) || check(ctx, &shapes[si], &bb) > 1e-4) ok = false;
      else { gfs[si] = flops(&shapes[si]) / sec * 1e-9; geo += log(gfs[si]); }
      free_bufs(&bb);
    }
    if (!ok) continue;
    geo = exp(geo / n_shapes);
    if (progress) {
      snprintf(line, sizeof line, "clblast Xgemm set %zu (MWG=%zu NWG=%zu KWG=%zu VWM=%zu VWN=%zu): geomean %.1f GFLOP/s", ci,
               cfg.v[6], cfg.v[9], cfg.v[2], cfg.v[14], cfg.v[15], geo);
      progress(user, line);
    }
    if (geo > best_geo) {
      best_geo = geo;
      best_cand = (int)ci;
      for (int si = 0; si < n_shapes && si < 64; si++) cb_best[si] = gfs[si];
    }
  }
  if (!st) {
    /* no set searched (or none worked): compare against the stored set, else CLBlast's own; not in
     * a quick search on a CPU device, where CLBlast's compilation is a fifth of the search and it
     * won no shape that runs (docs/PERFORMANCE.md) */
    if (best_cand < 0 && !(quick && ctx->info.is_cpu)) {
      if (t->clblast.set && !t->clblast_applied && !cld_gemm_clblast_apply(ctx, &t->clblast)) t->clblast_applied = true;
      for (int si = 0; si < n_shapes; si++) {
        bench_bufs bb;
        double sec;
        if (make_bufs(ctx, &shapes[si], &bb)) continue;
        cld_gemm_call c = make_call(&shapes[si], &bb);
        if (!time_call(ctx, &c, CLD_GEMM_CLBLAST, NULL, 3, &sec) && check(ctx, &shapes[si], &bb) <= 1e-4 &&
            flops(&shapes[si]) / sec * 1e-9 > best[si].gflops) {
          best[si].provider = CLD_GEMM_CLBLAST;
          best[si].gflops = flops(&shapes[si]) / sec * 1e-9;
        }
        free_bufs(&bb);
      }
    }
    if (best_cand >= 0) {
      t->clblast.set = true;
      memcpy(t->clblast.v, clblast_cands[best_cand], sizeof t->clblast.v);
      cld_gemm_clblast_apply(ctx, &t->clblast);
      t->clblast_applied = true;
      for (int si = 0; si < n_shapes && si < 64; si++)
        if (cb_best[si] > best[si].gflops) { best[si].provider = CLD_GEMM_CLBLAST; best[si].gflops = cb_best[si]; }
    }
    /* merge into the table: replace entries of the same shape */
    cld_tune_entry *ne = realloc(t->e, (size_t)(t->n + n_shapes) * sizeof *ne);
    if (!ne) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    else {
      t->e = ne;
      for (int si = 0; si < n_shapes; si++) cld_tune_put(t, &best[si]);
      st = cld_gemm_tuning_save(ctx);
    }
  }
  free(best);
  free(cb_best);
  return st;
}

cld_status cld_device_fma_peak(cld_ctx *ctx, double *gflops) {
  if (!ctx || !gflops) return CLD_ERR_INVALID_ARG;
  cl_kernel k;
  cld_status st = cld_kernel_create(ctx, "peak", "-cl-std=CL1.2", "k_fma_peak", &k);
  if (st) return st;
  size_t n = (size_t)(ctx->info.compute_units > 0 ? ctx->info.compute_units : 1) * 2048;
  cl_int e, iters = ctx->info.is_gpu ? 4096 : 256;
  cl_mem out = clCreateBuffer(ctx->context, CL_MEM_WRITE_ONLY, n * sizeof(float), NULL, &e);
  if (e != CL_SUCCESS) { clReleaseKernel(k); return cld_clerr(ctx, e, "peak buffer"); }
  e = clSetKernelArg(k, 0, sizeof out, &out);
  e |= clSetKernelArg(k, 1, sizeof iters, &iters);
  double best = 1e30;
  for (int r = 0; r < 4 && e == CL_SUCCESS; r++) {
    double t0 = now_s();
    e = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &n, NULL, 0, NULL, NULL);
    if (e == CL_SUCCESS) e = clFinish(ctx->queue);
    double t = now_s() - t0;
    if (r > 0 && t < best) best = t; /* the first run pays for compilation of the work-group */
  }
  clReleaseMemObject(out);
  clReleaseKernel(k);
  if (e != CL_SUCCESS) return cld_clerr(ctx, e, "peak kernel");
  *gflops = 512.0 * iters * (double)n / best * 1e-9;
  return CLD_OK;
}
