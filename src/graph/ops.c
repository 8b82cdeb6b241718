/* Op constructors: shape checking and node creation. No device work happens here; exec.c lowers
 * nodes to kernels. Composite ops (conv2d, linear, norms with affine, losses, pairwise distances)
 * are built from primitive nodes so that autodiff.c needs rules for primitives only. */
#include "graph/graph_internal.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHECK1(g, a) do { if (!(g) || (g)->status || !(a)) return NULL; } while (0)
#define CHECK2(g, a, b) do { if (!(g) || (g)->status || !(a) || !(b)) return NULL; } while (0)

static cld_tensor *like(cld_graph *g, cld_op op, const cld_tensor *x) { return cld_node_new(g, op, x->ndim, x->shape); }

static const char *shape_str(const cld_tensor *t, char *buf, size_t n) {
  int k = snprintf(buf, n, "(");
  for (int i = 0; i < t->ndim && k < (int)n; i++) k += snprintf(buf + k, n - (size_t)k, i ? ",%lld" : "%lld", (long long)t->shape[i]);
  if (k < (int)n) snprintf(buf + k, n - (size_t)k, ")");
  return buf;
}

/* ---- elementwise ------------------------------------------------------------------------ */
cld_tensor *cld_binary(cld_graph *g, cld_op op, cld_tensor *a, cld_tensor *b) {
  CHECK2(g, a, b);
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  int64_t out[4];
  for (int i = 0; i < nd; i++) {
    int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      char s1[64], s2[64];
      return cld_graph_fail(g, CLD_ERR_SHAPE, "binary op: shapes %s and %s do not broadcast",
                            shape_str(a, s1, sizeof s1), shape_str(b, s2, sizeof s2));
    }
    out[i] = da > db ? da : db;
  }
  cld_tensor *t = cld_node_new(g, op, nd, out);
  if (t) { t->src[0] = a; t->src[1] = b; }
  return t;
}
cld_tensor *cld_add(cld_graph *g, cld_tensor *a, cld_tensor *b) { return cld_binary(g, OP_ADD, a, b); }
cld_tensor *cld_sub(cld_graph *g, cld_tensor *a, cld_tensor *b) { return cld_binary(g, OP_SUB, a, b); }
cld_tensor *cld_mul(cld_graph *g, cld_tensor *a, cld_tensor *b) { return cld_binary(g, OP_MUL, a, b); }
cld_tensor *cld_div(cld_graph *g, cld_tensor *a, cld_tensor *b) { return cld_binary(g, OP_DIV, a, b); }

cld_tensor *cld_unary(cld_graph *g, cld_op op, cld_tensor *x) {
  CHECK1(g, x);
  cld_tensor *t = like(g, op, x);
  if (t) t->src[0] = x;
  return t;
}
cld_tensor *cld_affine(cld_graph *g, cld_tensor *x, float s, float c) {
  cld_tensor *t = cld_unary(g, OP_AFFINE, x);
  if (t) { t->fp[0] = s; t->fp[1] = c; }
  return t;
}
cld_tensor *cld_scale(cld_graph *g, cld_tensor *x, float s) { return cld_affine(g, x, s, 0.0f); }
cld_tensor *cld_add_scalar(cld_graph *g, cld_tensor *x, float c) { return cld_affine(g, x, 1.0f, c); }
cld_tensor *cld_copy(cld_graph *g, cld_tensor *x) { return cld_unary(g, OP_COPY, x); }
cld_tensor *cld_silu(cld_graph *g, cld_tensor *x) { return cld_unary(g, OP_SILU, x); }
cld_tensor *cld_relu(cld_graph *g, cld_tensor *x) { return cld_unary(g, OP_RELU, x); }
cld_tensor *cld_tanh(cld_graph *g, cld_tensor *x) { return cld_unary(g, OP_TANH, x); }
cld_tensor *cld_exp(cld_graph *g, cld_tensor *x) { return cld_unary(g, OP_EXP, x); }
cld_tensor *cld_log(cld_graph *g, cld_tensor *x) { return cld_unary(g, OP_LOG, x); }
cld_tensor *cld_sqrt(cld_graph *g, cld_tensor *x) { return cld_unary(g, OP_SQRT, x); }
cld_tensor *cld_square(cld_graph *g, cld_tensor *x) { return cld_unary(g, OP_SQUARE, x); }
cld_tensor *cld_clamp_min(cld_graph *g, cld_tensor *x, float lo) {
  cld_tensor *t = cld_unary(g, OP_CLAMP_MIN, x);
  if (t) t->fp[0] = lo;
  return t;
}
cld_tensor *cld_detach(cld_graph *g, cld_tensor *x) {
  cld_tensor *t = cld_unary(g, OP_COPY, x);
  if (t) t->flags |= T_NO_GRAD;
  return t;
}

/* ---- shape ------------------------------------------------------------------------------ */
cld_tensor *cld_reshape(cld_graph *g, cld_tensor *x, int ndim, const int64_t *shape) {
  CHECK1(g, x);
  if (!shape || ndim < 1 || ndim > 4) return cld_graph_fail(g, CLD_ERR_SHAPE, "reshape: %d dims", ndim);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  if (n != x->numel) {
    char s1[64];
    return cld_graph_fail(g, CLD_ERR_SHAPE, "reshape: %s has %lld elements, target has %lld",
                          shape_str(x, s1, sizeof s1), (long long)x->numel, (long long)n);
  }
  cld_tensor *t = cld_node_new(g, OP_RESHAPE, ndim, shape);
  if (t) t->src[0] = x;
  return t;
}

cld_tensor *cld_permute(cld_graph *g, cld_tensor *x, const int *perm) {
  CHECK1(g, x);
  if (!perm) return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "permute: perm is NULL");
  int seen = 0;
  int64_t out[4];
  for (int i = 0; i < x->ndim; i++) {
    if (perm[i] < 0 || perm[i] >= x->ndim || (seen & (1 << perm[i])))
      return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "permute: perm is not a permutation of %d dims", x->ndim);
    seen |= 1 << perm[i];
    out[i] = x->shape[perm[i]];
  }
  cld_tensor *t = cld_node_new(g, OP_PERMUTE, x->ndim, out);
  if (!t) return NULL;
  t->src[0] = x;
  int pad = 4 - x->ndim;
  for (int i = 0; i < 4; i++) t->ip[i] = i < pad ? i : pad + perm[i - pad];
  return t;
}

cld_tensor *cld_slice(cld_graph *g, cld_tensor *x, int axis, int64_t start, int64_t len) {
  CHECK1(g, x);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis >= x->ndim) return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "slice: axis %d out of range", axis);
  if (start < 0 || len <= 0 || start + len > x->shape[axis])
    return cld_graph_fail(g, CLD_ERR_SHAPE, "slice: [%lld, %lld) outside dim %d of size %lld", (long long)start,
                          (long long)(start + len), axis, (long long)x->shape[axis]);
  int64_t out[4];
  memcpy(out, x->shape, sizeof out);
  out[axis] = len;
  cld_tensor *t = cld_node_new(g, OP_SLICE, x->ndim, out);
  if (!t) return NULL;
  t->src[0] = x;
  t->ip[0] = axis + 4 - x->ndim;
  t->ip[1] = (int)start;
  return t;
}

cld_tensor *cld_pad_into(cld_graph *g, cld_tensor *x, cld_tensor *like_t, int axis4, int64_t start) {
  CHECK2(g, x, like_t);
  cld_tensor *t = like(g, OP_PAD, like_t);
  if (!t) return NULL;
  t->src[0] = x;
  t->ip[0] = axis4;
  t->ip[1] = (int)start;
  return t;
}

cld_tensor *cld_pad_axis(cld_graph *g, cld_tensor *x, int axis, int64_t before, int64_t after) {
  CHECK1(g, x);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis >= x->ndim || before < 0 || after < 0)
    return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "pad: axis %d or amounts (%lld, %lld) invalid", axis, (long long)before,
                          (long long)after);
  int64_t s[4];
  memcpy(s, x->shape, sizeof s);
  s[axis] += before + after;
  cld_tensor *t = cld_node_new(g, OP_PAD, x->ndim, s);
  if (!t) return NULL;
  t->src[0] = x;
  t->ip[0] = axis + 4 - x->ndim;
  t->ip[1] = (int)before;
  return t;
}

cld_tensor *cld_concat(cld_graph *g, cld_tensor *a, cld_tensor *b, int axis) {
  CHECK2(g, a, b);
  if (axis < 0) axis += a->ndim;
  bool ok = a->ndim == b->ndim && axis >= 0 && axis < a->ndim;
  for (int i = 0; ok && i < a->ndim; i++) ok = i == axis || a->shape[i] == b->shape[i];
  if (!ok) {
    char s1[64], s2[64];
    return cld_graph_fail(g, CLD_ERR_SHAPE, "concat: %s and %s do not join on axis %d", shape_str(a, s1, sizeof s1),
                          shape_str(b, s2, sizeof s2), axis);
  }
  int64_t out[4];
  memcpy(out, a->shape, sizeof out);
  out[axis] += b->shape[axis];
  cld_tensor *t = cld_node_new(g, OP_CONCAT, a->ndim, out);
  if (!t) return NULL;
  t->src[0] = a;
  t->src[1] = b;
  t->ip[0] = axis + 4 - a->ndim;
  return t;
}

/* x broadcasts to shape (trailing alignment)? */
static bool broadcastable(const cld_tensor *x, int ndim, const int64_t *shape) {
  if (x->ndim > ndim) {
    for (int i = 0; i < x->ndim - ndim; i++) if (x->shape[i] != 1) return false;
  }
  for (int i = 0; i < ndim; i++) {
    int ix = i - (ndim - x->ndim);
    int64_t d = ix >= 0 ? x->shape[ix] : 1;
    if (d != shape[i] && d != 1) return false;
  }
  return true;
}

cld_tensor *cld_broadcast_to(cld_graph *g, cld_tensor *x, int ndim, const int64_t *shape) {
  CHECK1(g, x);
  if (!shape || ndim < 1 || ndim > 4 || !broadcastable(x, ndim, shape)) {
    char s1[64];
    return cld_graph_fail(g, CLD_ERR_SHAPE, "broadcast_to: %s does not broadcast to the target", shape_str(x, s1, sizeof s1));
  }
  cld_tensor *t = cld_node_new(g, OP_BROADCAST, ndim, shape);
  if (t) t->src[0] = x;
  return t;
}

/* Sums x down to shape, where every dim of shape is x's (aligned) or 1; dims x has beyond
 * shape's ndim are summed away too. */
cld_tensor *cld_sum_to(cld_graph *g, cld_tensor *x, int ndim, const int64_t *shape) {
  CHECK1(g, x);
  int64_t s4[4];
  for (int i = 0; i < 4; i++) {
    int is = i - (4 - ndim);
    s4[i] = is >= 0 ? shape[is] : 1;
  }
  int64_t x4[4];
  cld_shape4(x, x4);
  for (int i = 0; i < 4; i++)
    if (s4[i] != x4[i] && s4[i] != 1) {
      char s1[64];
      return cld_graph_fail(g, CLD_ERR_SHAPE, "sum_to: %s cannot be summed to the target shape", shape_str(x, s1, sizeof s1));
    }
  cld_tensor *t = cld_node_new(g, OP_SUM_TO, ndim, shape);
  if (t) t->src[0] = x;
  return t;
}

cld_tensor *cld_sum(cld_graph *g, cld_tensor *x, unsigned axes_mask, bool keepdim) {
  CHECK1(g, x);
  if (axes_mask >> x->ndim) return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "sum: axis mask 0x%x beyond %d dims", axes_mask, x->ndim);
  int64_t keep[4] = {1, 1, 1, 1}, drop[4] = {1, 1, 1, 1};
  int nd = 0;
  for (int i = 0; i < x->ndim; i++) {
    keep[i] = (axes_mask >> i) & 1 ? 1 : x->shape[i];
    if (!((axes_mask >> i) & 1)) drop[nd++] = x->shape[i];
  }
  cld_tensor *t = cld_sum_to(g, x, x->ndim, keep);
  if (keepdim || !t) return t;
  if (nd == 0) drop[nd++] = 1;
  return cld_reshape(g, t, nd, drop);
}

cld_tensor *cld_mean(cld_graph *g, cld_tensor *x, unsigned axes_mask, bool keepdim) {
  CHECK1(g, x);
  double n = 1;
  for (int i = 0; i < x->ndim; i++) if ((axes_mask >> i) & 1) n *= (double)x->shape[i];
  return cld_scale(g, cld_sum(g, x, axes_mask, keepdim), (float)(1.0 / n));
}

cld_tensor *cld_sum_all(cld_graph *g, cld_tensor *x) {
  CHECK1(g, x);
  return cld_sum(g, x, (1u << x->ndim) - 1, false);
}
cld_tensor *cld_mean_all(cld_graph *g, cld_tensor *x) {
  CHECK1(g, x);
  return cld_mean(g, x, (1u << x->ndim) - 1, false);
}

cld_tensor *cld_upsample_nearest2x(cld_graph *g, cld_tensor *x) {
  CHECK1(g, x);
  if (x->ndim < 2) return cld_graph_fail(g, CLD_ERR_SHAPE, "upsample: needs (.., H, W)");
  int64_t out[4];
  memcpy(out, x->shape, sizeof out);
  out[x->ndim - 1] *= 2;
  out[x->ndim - 2] *= 2;
  cld_tensor *t = cld_node_new(g, OP_UPSAMPLE2X, x->ndim, out);
  if (t) t->src[0] = x;
  return t;
}

/* ---- linear algebra --------------------------------------------------------------------- */
cld_tensor *cld_matmul(cld_graph *g, cld_tensor *a, cld_tensor *b, bool trans_a, bool trans_b) {
  CHECK2(g, a, b);
  char s1[64], s2[64];
  if (a->ndim == 4 && b->ndim == 4) { /* grouped: a (G, 1, M, K) over b (G, P, K, N) */
    int64_t M = trans_a ? a->shape[3] : a->shape[2], K = trans_a ? a->shape[2] : a->shape[3];
    if (a->shape[0] != b->shape[0] || a->shape[1] != 1 || trans_b || b->shape[2] != K)
      return cld_graph_fail(g, CLD_ERR_SHAPE, "matmul: grouped form needs a (G,1,M,K) and b (G,P,K,N), got %s%s @ %s%s",
                            shape_str(a, s1, sizeof s1), trans_a ? "^T" : "", shape_str(b, s2, sizeof s2), trans_b ? "^T" : "");
    int64_t s[4] = {b->shape[0], b->shape[1], M, b->shape[3]};
    cld_tensor *t = cld_node_new(g, OP_MATMUL, 4, s);
    if (!t) return NULL;
    t->src[0] = a;
    t->src[1] = b;
    t->ip[0] = trans_a;
    t->flags |= b->flags & T_TILES; /* Winograd's interleaved tiles in, interleaved tiles out */
    return t;
  }
  if (a->ndim < 2 || a->ndim > 3 || b->ndim < 2 || b->ndim > 3)
    return cld_graph_fail(g, CLD_ERR_SHAPE, "matmul: operands must be 2-D or 3-D (or the grouped 4-D form), got %s and %s",
                          shape_str(a, s1, sizeof s1), shape_str(b, s2, sizeof s2));
  int64_t ba = a->ndim == 3 ? a->shape[0] : 1, bb = b->ndim == 3 ? b->shape[0] : 1;
  int64_t am = a->shape[a->ndim - 2], ak = a->shape[a->ndim - 1];
  int64_t bk = b->shape[b->ndim - 2], bn = b->shape[b->ndim - 1];
  int64_t M = trans_a ? ak : am, K = trans_a ? am : ak;
  int64_t K2 = trans_b ? bn : bk, N = trans_b ? bk : bn;
  if (K != K2 || (ba != bb && ba != 1 && bb != 1))
    return cld_graph_fail(g, CLD_ERR_SHAPE, "matmul: %s%s @ %s%s does not fit", shape_str(a, s1, sizeof s1),
                          trans_a ? "^T" : "", shape_str(b, s2, sizeof s2), trans_b ? "^T" : "");
  int64_t batch = ba > bb ? ba : bb;
  cld_tensor *t;
  if (a->ndim == 2 && b->ndim == 2) {
    int64_t s[2] = {M, N};
    t = cld_node_new(g, OP_MATMUL, 2, s);
  } else {
    int64_t s[3] = {batch, M, N};
    t = cld_node_new(g, OP_MATMUL, 3, s);
  }
  if (!t) return NULL;
  t->src[0] = a;
  t->src[1] = b;
  t->ip[0] = trans_a;
  t->ip[1] = trans_b;
  return t;
}

cld_tensor *cld_linear(cld_graph *g, cld_tensor *x, cld_tensor *w, cld_tensor *b) {
  CHECK2(g, x, w);
  if (w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1])
    return cld_graph_fail(g, CLD_ERR_SHAPE, "linear: input features %lld do not match weight (out,in)",
                          (long long)x->shape[x->ndim - 1]);
  cld_tensor *x2 = x;
  if (x->ndim != 2) {
    int64_t s[2] = {x->numel / x->shape[x->ndim - 1], x->shape[x->ndim - 1]};
    x2 = cld_reshape(g, x, 2, s);
  }
  cld_tensor *y = cld_matmul(g, x2, w, false, true);
  if (b) y = cld_add(g, y, b);
  if (y && x->ndim != 2) {
    int64_t s[4];
    memcpy(s, x->shape, sizeof s);
    s[x->ndim - 1] = w->shape[0];
    y = cld_reshape(g, y, x->ndim, s);
  }
  return y;
}

/* Winograd F(4x4,3x3) (K = 36 components; F(2x2,3x3), K = 16, with CLDIFF_WINO_TILE=2):
 * U (K,1,O,C) = transformed weights, V (K,P,C,PW) = transformed input
 * tiles (plain P = 1, PW = T, or panels of PW = 32 tiles stored interleaved as (P,C,K,PW), see
 * T_TILES in graph_internal.h), M = U V as one grouped
 * batched GEMM, then the output transform adds the bias and writes NCHW. All four steps are
 * primitive nodes, so the backward pass (two more GEMMs and the adjoint transforms) comes from
 * autodiff.c. */
static cld_tensor *conv2d_winograd(cld_graph *g, cld_tensor *x, cld_tensor *w, cld_tensor *b, cld_tensor *r) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], O = w->shape[0];
  int64_t ts = g->wino_tile == 2 ? 2 : 4, K = (ts + 2) * (ts + 2); /* F(ts x ts, 3x3): 16 or 36 products */
  int64_t T = N * ((H + ts - 1) / ts) * ((W + ts - 1) / ts);
  int64_t pw = g->wino_panel > 0 ? g->wino_panel : g->wino_panel < 0 ? wino_one_panel(T) : T, P = (T + pw - 1) / pw;
  int64_t us[4] = {K, 1, O, C}, vs[4] = {K, P, C, pw};
  cld_tensor *u = cld_node_new(g, OP_WINO_W, 4, us), *v = cld_node_new(g, OP_WINO_IN, 4, vs);
  if (!u || !v) return NULL;
  if (g->wino_panel) v->flags |= T_TILES;
  u->src[0] = w;
  v->src[0] = x;
  cld_tensor *m = cld_matmul(g, u, v, false, false); /* (K, P, O, PW) */
  if (!m) return NULL;
  int64_t ys[4] = {N, O, H, W};
  cld_tensor *y = cld_node_new(g, OP_WINO_OUT, 4, ys);
  if (y) { y->src[0] = m; y->src[1] = b; y->src[2] = r; }
  return y;
}

/* conv2d without bias as GEMM: 1x1 stride-1 kernels as the weight (O, C) times each image
 * (C, H*W), one batched GEMM with a shared operand, straight into NCHW (im2col would copy x and a
 * permute would reorder y); anything else as im2col, one GEMM, and a permute to NCHW */
static cld_tensor *conv2d_gemm(cld_graph *g, cld_tensor *x, cld_tensor *w, int stride, int padding, int64_t OH,
                               int64_t OW) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t O = w->shape[0], KH = w->shape[2], KW = w->shape[3], s4[4] = {N, O, OH, OW};
  if (KH == 1 && KW == 1 && stride == 1 && padding == 0 && g->conv_algo != CLD_CONV_IM2COL) {
    int64_t ws[2] = {O, C}, xs[3] = {N, C, H * W};
    return cld_reshape(g, cld_matmul(g, cld_reshape(g, w, 2, ws), cld_reshape(g, x, 3, xs), false, false), 4, s4);
  }
  int64_t cs[2] = {C * KH * KW, N * OH * OW};
  cld_tensor *col = cld_node_new(g, OP_IM2COL, 2, cs); // col: (C*KH*KW, N*OH*OW)
  if (!col) return NULL;
  col->src[0] = x;
  col->ip[0] = (int)KH; col->ip[1] = (int)KW; col->ip[2] = stride; col->ip[3] = padding;
  int64_t ws[2] = {O, C * KH * KW};
  cld_tensor *y = cld_matmul(g, cld_reshape(g, w, 2, ws), col, false, false); // (O, N*OH*OW)
  if (N > 1) {
    int64_t s3[3] = {O, N, OH * OW};
    int perm[3] = {1, 0, 2};
    y = cld_permute(g, cld_reshape(g, y, 3, s3), perm); // (N, O, OH*OW)
  }
  return cld_reshape(g, y, 4, s4);
}

/* conv2d, plus r (the output's shape) when r is not NULL: Winograd adds it in its output transform */
static cld_tensor *conv2d_any(cld_graph *g, cld_tensor *x, cld_tensor *w, cld_tensor *b, int stride, int padding,
                              cld_tensor *r) {
  CHECK2(g, x, w);
  char s1[64], s2[64];
  if (x->ndim != 4 || w->ndim != 4 || x->shape[1] != w->shape[1] || stride < 1 || padding < 0)
    return cld_graph_fail(g, CLD_ERR_SHAPE, "conv2d: input %s and weight %s (stride %d, padding %d) do not fit",
                          shape_str(x, s1, sizeof s1), shape_str(w, s2, sizeof s2), stride, padding);
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t O = w->shape[0], KH = w->shape[2], KW = w->shape[3];
  int64_t OH = (H + 2 * padding - KH) / stride + 1, OW = (W + 2 * padding - KW) / stride + 1;
  if (OH <= 0 || OW <= 0) return cld_graph_fail(g, CLD_ERR_SHAPE, "conv2d: kernel larger than padded input");
  if (r && !(r->ndim == 4 && r->shape[0] == N && r->shape[1] == O && r->shape[2] == OH && r->shape[3] == OW))
    return cld_graph_fail(g, CLD_ERR_SHAPE, "conv2d: residual %s is not the output's shape (%lld,%lld,%lld,%lld)",
                          shape_str(r, s1, sizeof s1), (long long)N, (long long)O, (long long)OH, (long long)OW);
  bool per_image = b && b->numel != O; /* a bias per (image, channel): (N, O) */
  if (per_image && !(b->ndim == 2 && b->shape[0] == N && b->shape[1] == O))
    return cld_graph_fail(g, CLD_ERR_SHAPE, "conv2d: bias %s is neither (%lld) nor (%lld, %lld)", shape_str(b, s1, sizeof s1),
                          (long long)O, (long long)N, (long long)O);
  int64_t bs[4] = {per_image ? N : 1, O, 1, 1};
  bool wino_fits = KH == 3 && KW == 3 && stride == 1 && padding == 1;
  /* Winograd also for few output channels (a UNet's last convolution): its transformed input is
   * 2.25x the input where im2col's columns are 9x, and an m = 1 GEMM over those columns is slow */
  if (wino_fits && (g->conv_algo == CLD_CONV_WINOGRAD || (g->conv_algo == CLD_CONV_AUTO && C >= 8)))
    return conv2d_winograd(g, x, w, b, r);
  cld_tensor *y = conv2d_gemm(g, x, w, stride, padding, OH, OW);
  if (b) y = cld_add(g, y, cld_reshape(g, b, 4, bs));
  return r ? cld_add(g, y, r) : y;
}

cld_tensor *cld_conv2d(cld_graph *g, cld_tensor *x, cld_tensor *w, cld_tensor *b, int stride, int padding) {
  return conv2d_any(g, x, w, b, stride, padding, NULL);
}

cld_tensor *cld_conv2d_residual(cld_graph *g, cld_tensor *x, cld_tensor *w, cld_tensor *b, int stride, int padding,
                                cld_tensor *r) {
  if (!g || g->status) return NULL;
  if (!r) return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "conv2d_residual: no residual");
  return conv2d_any(g, x, w, b, stride, padding, r);
}

/* ---- normalisation ---------------------------------------------------------------------- */
cld_tensor *cld_norm_rows(cld_graph *g, cld_tensor *x, int64_t rows, int64_t len, float eps) {
  cld_tensor *t = cld_unary(g, OP_NORM_ROWS, x);
  if (t) { t->ip[0] = (int)rows; t->ip[1] = (int)len; t->fp[0] = eps; }
  return t;
}

/* one fused node (cl/norm.cl k_group_norm): statistics, affine and the optional SiLU in one pass */
static cld_tensor *group_norm(cld_graph *g, cld_tensor *x, int groups, float eps, cld_tensor *gamma, cld_tensor *beta,
                              bool silu) {
  CHECK1(g, x);
  if (x->ndim < 2 || groups < 1 || x->shape[1] % groups)
    return cld_graph_fail(g, CLD_ERR_SHAPE, "group_norm: %lld channels not divisible into %d groups",
                          (long long)(x->ndim >= 2 ? x->shape[1] : 0), groups);
  int64_t C = x->shape[1];
  if ((gamma && gamma->numel != C) || (beta && beta->numel != C))
    return cld_graph_fail(g, CLD_ERR_SHAPE, "group_norm: affine parameters must have %lld elements", (long long)C);
  if (x->numel / (x->shape[0] * groups) > INT32_MAX)
    return cld_graph_fail(g, CLD_ERR_SHAPE, "group_norm: groups of more than 2^31 elements");
  cld_tensor *y = cld_node_new(g, OP_GROUP_NORM, x->ndim, x->shape);
  if (!y) return NULL;
  y->src[0] = x;
  y->src[1] = gamma;
  y->src[2] = beta;
  y->ip[0] = groups;
  y->ip[1] = (gamma ? 1 : 0) | (beta ? 2 : 0) | (silu ? 4 : 0);
  y->fp[0] = eps;
  return y;
}

cld_tensor *cld_group_norm(cld_graph *g, cld_tensor *x, int groups, float eps, cld_tensor *gamma, cld_tensor *beta) {
  return group_norm(g, x, groups, eps, gamma, beta, false);
}

cld_tensor *cld_group_norm_silu(cld_graph *g, cld_tensor *x, int groups, float eps, cld_tensor *gamma, cld_tensor *beta) {
  return group_norm(g, x, groups, eps, gamma, beta, true);
}

cld_tensor *cld_layer_norm(cld_graph *g, cld_tensor *x, float eps, cld_tensor *gamma, cld_tensor *beta) {
  CHECK1(g, x);
  int64_t len = x->shape[x->ndim - 1];
  if ((gamma && gamma->numel != len) || (beta && beta->numel != len))
    return cld_graph_fail(g, CLD_ERR_SHAPE, "layer_norm: affine parameters must have %lld elements", (long long)len);
  cld_tensor *y = cld_norm_rows(g, x, x->numel / len, len, eps);
  if (gamma) y = cld_mul(g, y, gamma);
  if (beta) y = cld_add(g, y, beta);
  return y;
}

cld_tensor *cld_softmax(cld_graph *g, cld_tensor *x) { return cld_unary(g, OP_SOFTMAX, x); }

/* the fused kernel's reach: a graph built for inference (its gradient would recompute the scores,
 * which cost a training step what the fused forward saved), a sequence short enough for its
 * private rows of scores, on a CPU (a GPU would spill those rows; its GEMMs are the better path) */
#define ATTN_FUSED_MAX_L 256
static bool attention_fusable(const cld_graph *g, int64_t d, int64_t L) {
  return g->fuse && !g->training && g->ctx->info.is_cpu && L >= 16 && L <= ATTN_FUSED_MAX_L && d % 8 == 0;
}

cld_tensor *cld_attention(cld_graph *g, cld_tensor *q, cld_tensor *k, cld_tensor *v) {
  CHECK2(g, q, k);
  CHECK1(g, v);
  char s1[64], s2[64], s3[64];
  if (q->ndim != 3 || !cld_same_shape(q, k) || !cld_same_shape(q, v))
    return cld_graph_fail(g, CLD_ERR_SHAPE, "attention: q %s, k %s and v %s are not one (heads, channels, tokens) shape",
                          shape_str(q, s1, sizeof s1), shape_str(k, s2, sizeof s2), shape_str(v, s3, sizeof s3));
  if (!attention_fusable(g, q->shape[1], q->shape[2]))
    return cld_matmul(g, v, cld_softmax(g, cld_matmul(g, q, k, true, false)), false, true);
  cld_tensor *t = like(g, OP_ATTENTION, q);
  if (t) { t->src[0] = q; t->src[1] = k; t->src[2] = v; }
  return t;
}

/* ---- diffusion helpers ------------------------------------------------------------------ */
cld_tensor *cld_timestep_embedding(cld_graph *g, cld_tensor *t, int dim, bool flip_sin_to_cos,
                                   float downscale_freq_shift, float max_period) {
  CHECK1(g, t);
  if (t->ndim != 1 || dim < 2) return cld_graph_fail(g, CLD_ERR_SHAPE, "timestep_embedding: t must be (N) and dim >= 2");
  int64_t s[2] = {t->shape[0], dim};
  cld_tensor *y = cld_node_new(g, OP_TIMESTEP_EMB, 2, s);
  if (!y) return NULL;
  y->src[0] = t;
  y->ip[0] = dim;
  y->ip[1] = flip_sin_to_cos;
  y->fp[0] = downscale_freq_shift;
  y->fp[1] = max_period > 0 ? max_period : 10000.0f;
  return y;
}

cld_tensor *cld_mse_per_sample(cld_graph *g, cld_tensor *pred, cld_tensor *target) {
  CHECK2(g, pred, target);
  if (!cld_same_shape(pred, target)) return cld_graph_fail(g, CLD_ERR_SHAPE, "mse: prediction and target shapes differ");
  cld_tensor *sq = cld_square(g, cld_sub(g, pred, target));
  if (pred->ndim == 1) return sq;
  return cld_mean(g, sq, ((1u << pred->ndim) - 1) & ~1u, false); // (N)
}

cld_tensor *cld_weighted_mse(cld_graph *g, cld_tensor *pred, cld_tensor *target, cld_tensor *w) {
  cld_tensor *m = cld_mse_per_sample(g, pred, target);
  if (!m) return NULL;
  if (w) {
    if (w->numel != m->numel) return cld_graph_fail(g, CLD_ERR_SHAPE, "weighted_mse: weights must be (N)");
    m = cld_mul(g, m, w);
  }
  return cld_mean_all(g, m);
}

cld_tensor *cld_pairwise_sqdist(cld_graph *g, cld_tensor *x, cld_tensor *y) {
  CHECK2(g, x, y);
  if (x->ndim != 2 || y->ndim != 2 || x->shape[1] != y->shape[1])
    return cld_graph_fail(g, CLD_ERR_SHAPE, "pairwise_sqdist: x (N,D) and y (M,D) needed");
  cld_tensor *xx = cld_sum(g, cld_square(g, x), 2u, true); // (N,1)
  int64_t s[2] = {1, y->shape[0]};
  cld_tensor *yy = cld_reshape(g, cld_sum(g, cld_square(g, y), 2u, true), 2, s); // (1,M)
  cld_tensor *xy = cld_matmul(g, x, y, false, true); // (N,M)
  return cld_add(g, cld_add(g, xx, yy), cld_scale(g, xy, -2.0f));
}

cld_tensor *cld_dropout(cld_graph *g, cld_tensor *x, float p) {
  CHECK1(g, x);
  if (!(p >= 0.0f && p < 1.0f)) return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "dropout: p=%g outside [0,1)", p);
  cld_tensor *t = cld_unary(g, OP_DROPOUT, x);
  if (t) { t->fp[0] = p; t->ip[0] = 0x40000000 | t->id; }
  return t;
}

static cld_tensor *rng_node(cld_graph *g, cld_op op, int ndim, const int64_t *shape, uint32_t stream) {
  if (!g || g->status) return NULL;
  if (!shape) return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "rand: shape is NULL");
  cld_tensor *t = cld_node_new(g, op, ndim, shape);
  if (t) t->ip[0] = (int)stream;
  return t;
}
cld_tensor *cld_randn(cld_graph *g, int ndim, const int64_t *shape, uint32_t stream) { return rng_node(g, OP_RANDN, ndim, shape, stream); }
cld_tensor *cld_rand(cld_graph *g, int ndim, const int64_t *shape, uint32_t stream) { return rng_node(g, OP_RAND, ndim, shape, stream); }
