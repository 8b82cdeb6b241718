/* The built-in GEMM provider: cl/gemm.cl's register-tiled kernel. The kernel reads its right
 * operand as row-major (K, N) and its left operand in either layout, and can store C transposed,
 * so NN, TN and TT need no copies (TT computes C^T = B A). NT copies the smaller operand
 * transposed into the context's scratch buffer first, except that a result narrower than one
 * 16-wide vector with K a multiple of 16 (a Linear layer with 2 outputs) takes gemm.cl's
 * k_gemm_sum_nt as rows-by-rows dot products instead (1.1 ms -> see narrow_nt). */
#include "runtime/gemm.h"
#include <stdio.h>

static cld_status get_kernel(cld_ctx *ctx, const cld_tiled_cfg *cfg, int ta, int tc, cl_kernel *out) {
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  if (!t) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  int key = (((cfg->tm * 8 + cfg->nv) * 2 + ta) * 2 + tc) * 2 + (cfg->mf != 0);
  for (int i = 0; i < t->n_tiled; i++)
    if (t->tiled_keys[i] == key) { *out = t->tiled_kernels[i]; return CLD_OK; }
  if (t->n_tiled == 64) return cld_seterr(ctx, CLD_ERR_STATE, "too many GEMM kernel variants");
  char opts[128];
  snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DTM=%d -DNV=%d -DTA=%d -DTC=%d -DMF=%d", cfg->tm, cfg->nv, ta, tc, cfg->mf != 0);
  cld_status st = cld_kernel_create(ctx, "gemm", opts, "gemm_tiled", out);
  if (st) return st;
  t->tiled_keys[t->n_tiled] = key;
  t->tiled_kernels[t->n_tiled++] = *out;
  return CLD_OK;
}

/* kernel arguments bound in order from a table */
typedef struct { size_t size; const void *value; } karg;
#define KARG(v) {sizeof(v), &(v)}
static cl_int set_args(cl_kernel k, const karg *a, size_t n) {
  cl_int e = CL_SUCCESS;
  for (size_t i = 0; i < n; i++) e |= clSetKernelArg(k, (cl_uint)i, a[i].size, a[i].value);
  return e;
}

/* scratch = transpose of a batch of (rows, cols) matrices */
static cld_status transpose(cld_ctx *ctx, cl_mem in, size_t io, size_t sin, int64_t batch, int64_t rows, int64_t cols) {
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  cld_status st;
  if (!t->transpose && (st = cld_kernel_create(ctx, "gemm", "-cl-std=CL1.2", "k_transpose", &t->transpose))) return st;
  cl_ulong a = io, b = sin, c = 0, d = (cl_ulong)(rows * cols);
  cl_int r = (cl_int)rows, cc = (cl_int)cols;
  cl_kernel k = t->transpose;
  const karg args[] = {KARG(in), KARG(a), KARG(b), KARG(ctx->gemm_scratch), KARG(c), KARG(d), KARG(r), KARG(cc)};
  cl_int e = set_args(k, args, sizeof args / sizeof args[0]);
  if (e != CL_SUCCESS) return cld_seterr(ctx, CLD_ERR_CL, "binding transpose kernel");
  size_t gws[3] = {((size_t)cols + 3) / 4, ((size_t)rows + 3) / 4, (size_t)batch};
  /* a column of 16 blocks a work-group: their stores continue one another down each output row */
  size_t lws[3] = {1, cld_largest_divisor(gws[1], 16), 1};
  e = clEnqueueNDRangeKernel(ctx->queue, k, 3, NULL, gws, lws, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "enqueue transpose");
}

/* C = A B^T with N < 16 and K % 16 == 0, dense: 16-wide dot products of A's and B's rows, 4x4 of
 * them per work-item (k_gemm_sum_nt with one panel). The tiled kernel's N < 16 path is scalar,
 * and transposing either operand first cost more than the product (1024x2x256: 1.1 ms). */
static cld_status narrow_nt(cld_ctx *ctx, const cld_gemm_call *c) {
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  cld_status st;
  if (!t->dot_nt && (st = cld_kernel_create(ctx, "gemm", "-cl-std=CL1.2", "k_gemm_sum_nt", &t->dot_nt))) return st;
  cl_kernel k = t->dot_nt;
  cl_int P = 1, R = (cl_int)c->m, S = (cl_int)c->n, N = (cl_int)c->k;
  cl_ulong ao = c->a_off, ag = c->a_stride, bo = c->b_off, bg = c->b_stride, zero = 0, row = (cl_ulong)c->k, co = c->c_off;
  const karg args[] = {KARG(P), KARG(R), KARG(S), KARG(N), KARG(c->a), KARG(ao), KARG(ag), KARG(zero), KARG(row),
                       KARG(c->b), KARG(bo), KARG(bg), KARG(zero), KARG(row), KARG(c->c), KARG(co)};
  cl_int e = set_args(k, args, sizeof args / sizeof args[0]);
  if (e != CL_SUCCESS) return cld_seterr(ctx, CLD_ERR_CL, "binding narrow NT GEMM");
  size_t gws[3] = {((size_t)S + 3) / 4, ((size_t)R + 3) / 4, (size_t)c->batch}, lws[3] = {1, cld_largest_divisor(gws[1], 4), 1};
  e = clEnqueueNDRangeKernel(ctx->queue, k, 3, NULL, gws, lws, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "enqueue narrow NT GEMM");
}

/* C (rows, cols; ldc) = the sum of the S partials the split launch left in ctx->gemm_split */
static cld_status sum_splits(cld_ctx *ctx, int S, int rows, int cols, cl_mem C, size_t co, int ldc) {
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  cld_status st;
  if (!t->sum_splits && (st = cld_kernel_create(ctx, "gemm", "-cl-std=CL1.2", "k_sum_splits", &t->sum_splits))) return st;
  cl_ulong o = co;
  const karg args[] = {KARG(ctx->gemm_split), KARG(S), KARG(rows), KARG(cols), KARG(C), KARG(o), KARG(ldc)};
  cl_int e = set_args(t->sum_splits, args, sizeof args / sizeof args[0]);
  if (e != CL_SUCCESS) return cld_seterr(ctx, CLD_ERR_CL, "binding split-K sum");
  size_t gws[2] = {((size_t)cols + 3) / 4, (size_t)rows};
  e = clEnqueueNDRangeKernel(ctx->queue, t->sum_splits, 2, NULL, gws, NULL, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "enqueue split-K sum");
}

/* split-K applies to one dense GEMM whose K divides into ks slices */
static int split_of(const cld_gemm_call *c, const cld_tiled_cfg *cfg) {
  int ks = cfg->ks;
  return ks > 1 && c->batch == 1 && c->a_div <= 1 && !cld_gemm_interleaved(c) && c->k % ks == 0 ? ks : 1;
}

cld_status cld_gemm_tiled_run(cld_ctx *ctx, const cld_gemm_call *c, const cld_tiled_cfg *cfg) {
  /* kernel problem: C'(M', N') = op(L)(M', K) * R(K, N') */
  cl_mem L = c->a, R = c->b;
  size_t lo = c->a_off, ro = c->b_off, ls = c->a_stride, rs = c->b_stride;
  int64_t M = c->m, N = c->n, K = c->k;
  int ta = c->trans_a, tc = 0, lda, ldb;
  int adiv = c->a_div > 1 ? (int)c->a_div : 1;
  cld_status st;
  if (adiv > 1 && (c->trans_b || c->batch % adiv))
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "gemm: grouped A (a_div %d) needs an untransposed B and a batch of whole groups", adiv);
  if (c->lda) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "gemm: the tiled provider takes no strided A (lda)");
  if (cld_gemm_interleaved(c) && c->trans_b)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "gemm: the tile-interleaved layout needs an untransposed B");
  if (c->trans_b && !c->trans_a && adiv == 1 && c->n < 16 && c->k % 16 == 0 && c->c_stride == (size_t)(c->m * c->n))
    return narrow_nt(ctx, c);
  if (!c->trans_b) {
    lda = (int)(ta ? M : K);
    ldb = c->ldb ? (int)c->ldb : (int)N;
  } else if (c->trans_a) { /* C^T = B * A: L = B (N,K) plain, R = A stored (K,M) */
    L = c->b; lo = c->b_off; ls = c->b_stride;
    R = c->a; ro = c->a_off; rs = c->a_stride;
    M = c->n; N = c->m; ta = 0; tc = 1;
    lda = (int)K;
    ldb = (int)N;
  } else if (c->n <= c->m) { /* transpose B (N,K) -> (K,N) into scratch */
    int64_t nb = c->b_stride ? c->batch : 1;
    if ((size_t)(nb * c->n * c->k) * sizeof(float) > ctx->gemm_scratch_bytes &&
        (st = cld_gemm_ensure_scratch(ctx, (size_t)(nb * c->n * c->k)))) return st;
    if ((st = transpose(ctx, c->b, c->b_off, c->b_stride, nb, c->n, c->k))) return st;
    R = ctx->gemm_scratch; ro = 0; rs = c->b_stride ? (size_t)(c->n * c->k) : 0;
    lda = (int)K;
    ldb = (int)N;
  } else { /* transpose A (M,K) -> (K,M); C^T = B * A^T with L = B (N,K), stored transposed */
    int64_t nb = c->a_stride ? c->batch : 1;
    if ((size_t)(nb * c->m * c->k) * sizeof(float) > ctx->gemm_scratch_bytes &&
        (st = cld_gemm_ensure_scratch(ctx, (size_t)(nb * c->m * c->k)))) return st;
    if ((st = transpose(ctx, c->a, c->a_off, c->a_stride, nb, c->m, c->k))) return st;
    L = c->b; lo = c->b_off; ls = c->b_stride;
    R = ctx->gemm_scratch; ro = 0; rs = c->a_stride ? (size_t)(c->m * c->k) : 0;
    M = c->n; N = c->m; ta = 0; tc = 1;
    lda = (int)K;
    ldb = (int)N;
  }
  int ldc = c->ldc ? (int)c->ldc : tc ? (int)M : (int)N;
  /* the stride of the group b / adiv (with adiv 1 the batch stride itself) */
  size_t rgs = c->b_gstride ? c->b_gstride : rs * (size_t)adiv, cgs = c->c_gstride ? c->c_gstride : c->c_stride * (size_t)adiv;
  int ks = split_of(c, cfg), nbat = (int)c->batch;
  cl_mem Cm = c->c;
  size_t co = c->c_off;
  int rows = tc ? (int)N : (int)M, cols = tc ? (int)M : (int)N, ldc_out = ldc;
  if (ks > 1) { /* slice s: A's and B's K rows s K/ks on, into partial s of the scratch */
    if ((st = cld_gemm_grow(ctx, &ctx->gemm_split, &ctx->gemm_split_bytes, (size_t)ks * (size_t)(M * N),
                            "allocating split-K partials")))
      return st;
    K /= ks;
    ls = ta ? (size_t)K * (size_t)lda : (size_t)K;
    rgs = (size_t)K * (size_t)ldb;
    Cm = ctx->gemm_split;
    co = 0;
    ldc = cols;
    cgs = (size_t)(M * N);
    nbat = ks;
  }
  cl_kernel k;
  if ((st = get_kernel(ctx, cfg, ta, tc, &k))) return st;
  cl_int mi = (cl_int)M, ni = (cl_int)N, ki = (cl_int)K;
  cl_ulong lo_ = lo, ls_ = ls, ro_ = ro, rs_ = rs, rg_ = rgs, co_ = co, cs_ = c->c_stride, cg_ = cgs;
  cl_int adiv_ = adiv, nbatch = nbat;
  const karg args[] = {KARG(mi), KARG(ni), KARG(ki), KARG(L), KARG(lo_), KARG(lda), KARG(ls_), KARG(R), KARG(ro_), KARG(ldb),
                       KARG(rs_), KARG(rg_), KARG(Cm), KARG(co_), KARG(ldc), KARG(cs_), KARG(cg_), KARG(adiv_), KARG(nbatch)};
  cl_int e = set_args(k, args, sizeof args / sizeof args[0]);
  if (e != CL_SUCCESS) return cld_seterr(ctx, CLD_ERR_CL, "binding gemm_tiled arguments");
  size_t tn = 16 * (size_t)cfg->nv;
  size_t gws[3] = {((size_t)N + tn - 1) / tn, ((size_t)M + (size_t)cfg->tm - 1) / (size_t)cfg->tm, (size_t)nbat};
  size_t lws[3] = {(size_t)cfg->lws0, (size_t)cfg->lws1, cfg->lb > 1 ? (size_t)cfg->lb : 1};
  bool use_lws = cfg->lws0 > 0 && cfg->lws1 > 0;
  if (cfg->mf) { size_t g = gws[0]; gws[0] = gws[1]; gws[1] = g; } /* lws stays (lws0, lws1) in grid order */
  if (use_lws)
    for (int d = 0; d < 3; d++) gws[d] = (gws[d] + lws[d] - 1) / lws[d] * lws[d];
  e = clEnqueueNDRangeKernel(ctx->queue, k, 3, NULL, gws, use_lws ? lws : NULL, 0, NULL, NULL);
  if (e != CL_SUCCESS) return cld_clerr(ctx, e, "enqueue gemm_tiled");
  return ks > 1 ? sum_splits(ctx, ks, rows, cols, c->c, c->c_off, ldc_out) : CLD_OK;
}
