/* Executor: lowers each planned node to kernel launches (arguments bound once) or GEMM calls,
 * then enqueues them in order on the context's in-order queue with no host waits. Only the RNG
 * key (run counter) and the dropout probability (training flag) are re-set per compute. */
#include "graph/graph_internal.h"
#include "runtime/gemm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WG 64 /* also the work-group size of the *_wg reduction kernels (RW, SW in cl/) */
/* reductions at least this long get a work-group each (k_sum_to_wg, k_norm_rows*_wg): chosen by
 * shape alone, so the summation order, and the result, is the same on every device */
#define LONG_REDUCTION 256

typedef struct { cld_graph *g; cld_launch *l; cl_uint arg; cl_int err; } binder;

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* Turns a 1-D launch into the exact 3-D grid (d3, d2, d0*d1) of a 4-D shape, driver-chosen
 * work-group size: no bounds checks and one integer division per work-item. */
/* Work-group for an exact 3-D grid: the largest divisors of the first two dims with at most
 * 256 items (a NULL local size lets some drivers pick tiny groups for sizes like 28 or 784). */
static void pick_lws3(cld_launch *l) {
  l->lws[0] = cld_largest_divisor(l->gws[0], 256);
  l->lws[1] = cld_largest_divisor(l->gws[1], 256 / l->lws[0]);
  l->lws[2] = 1;
  l->use_lws = true;
}

static void grid4(cld_launch *l, const int64_t s[4]) {
  l->dim = 3;
  l->gws[0] = (size_t)s[3];
  l->gws[1] = (size_t)s[2];
  l->gws[2] = (size_t)(s[0] * s[1]);
  pick_lws3(l);
}

static cld_status new_launch_opts(cld_graph *g, const char *prog, const char *opts, const char *kname, size_t n,
                                  binder *b) {
  if (g->n_launches == g->cap_launches) {
    int cap = g->cap_launches ? 2 * g->cap_launches : 256;
    cld_launch *nl = realloc(g->launches, (size_t)cap * sizeof *nl);
    if (!nl) return cld_seterr(g->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    g->launches = nl;
    g->cap_launches = cap;
  }
  cld_launch *l = &g->launches[g->n_launches];
  memset(l, 0, sizeof *l);
  l->rng_arg = l->p_arg = l->off_arg = -1;
  l->node = g->n > 0 ? g->lowering_node : -1;
  l->gate = l->node >= 0 ? g->nodes[l->node]->gate : 0;
  if (prog) {
    cld_status st = g->shapes_only ? CLD_OK : cld_kernel_create(g->ctx, prog, opts, kname, &l->kernel);
    if (st) return st;
    l->dim = 1;
    l->gws[0] = round_up(n ? n : 1, WG);
    l->lws[0] = WG;
    l->use_lws = true;
  }
  g->n_launches++;
  *b = (binder){g, l, 0, CL_SUCCESS};
  return CLD_OK;
}

static cld_status new_launch(cld_graph *g, const char *prog, const char *kname, size_t n, binder *b) {
  return new_launch_opts(g, prog, "-cl-std=CL1.2", kname, n, b);
}

/* -D value for an innermost stride: 1 or 0 when known, else -1 (read at run time) */
static int inner_known(int64_t stride) { return stride == 0 || stride == 1 ? (int)stride : -1; }

static void arg_raw(binder *b, size_t size, const void *v) {
  if (!b->l->kernel) return; /* planned for its shapes only */
  cl_int e = clSetKernelArg(b->l->kernel, b->arg++, size, v);
  if (e != CL_SUCCESS && b->err == CL_SUCCESS) b->err = e;
}
static void arg_t(binder *b, const cld_tensor *t) {
  cl_ulong off = t->off;
  arg_raw(b, sizeof(cl_mem), &t->mem);
  arg_raw(b, sizeof off, &off);
}
static void arg_i(binder *b, int v) { cl_int x = v; arg_raw(b, sizeof x, &x); }
static void arg_f(binder *b, float v) { cl_float x = v; arg_raw(b, sizeof x, &x); }
static void arg_u(binder *b, uint64_t v) { cl_ulong x = v; arg_raw(b, sizeof x, &x); }
static void arg_i4(binder *b, const int64_t v[4]) {
  cl_int4 x = {{(cl_int)v[0], (cl_int)v[1], (cl_int)v[2], (cl_int)v[3]}};
  arg_raw(b, sizeof x, &x);
}
static cld_status done(binder *b, const char *what) {
  if (b->err != CL_SUCCESS) return cld_clerr(b->g->ctx, b->err, what);
  return CLD_OK;
}

static void contig_strides(const int64_t s[4], int64_t st[4]) {
  st[3] = 1;
  for (int i = 2; i >= 0; i--) st[i] = st[i + 1] * s[i + 1];
}

/* strided copy: shape, src tensor+extra offset+strides, dst tensor+extra offset+strides */
static cld_status copy4(cld_graph *g, const int64_t shape[4], const cld_tensor *src, size_t soff, const int64_t ss[4],
                        const cld_tensor *dst, size_t doff, const int64_t ds[4]) {
  binder b = {0};
  int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
  char opts[64];
  snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DSS3=%d", shape[3] == 1 ? 1 : inner_known(ss[3]));
  cld_status st = new_launch_opts(g, "layout", opts, "k_copy4", (size_t)n, &b);
  if (st) return st;
  grid4(b.l, shape);
  cl_ulong so = src->off + soff, dof = dst->off + doff;
  arg_raw(&b, sizeof(cl_mem), &src->mem);
  arg_raw(&b, sizeof so, &so);
  arg_raw(&b, sizeof(cl_mem), &dst->mem);
  arg_raw(&b, sizeof dof, &dof);
  arg_i4(&b, shape);
  arg_i4(&b, ss);
  arg_i4(&b, ds);
  return done(&b, "binding k_copy4");
}

/* v over t's first n floats; if_skipped: only while t's gate is skipped (cld_exec_lower) */
static cld_status fill(cld_graph *g, const cld_tensor *t, float v, int64_t n, bool if_skipped) {
  binder b = {0};
  cld_status st = new_launch(g, "layout", "k_fill", (size_t)n, &b);
  if (st) return st;
  b.l->if_skipped = if_skipped;
  arg_t(&b, t);
  arg_i(&b, (int)n);
  arg_f(&b, v);
  return done(&b, "binding k_fill");
}

static const char *unary_kernel(cld_op op) {
  switch (op) {
  case OP_AFFINE: case OP_COPY: return "k_affine";
  case OP_CLAMP_MIN: return "k_clamp_min";
  case OP_SILU: return "k_silu";
  case OP_RELU: return "k_relu";
  case OP_TANH: return "k_tanh";
  case OP_EXP: return "k_exp";
  case OP_LOG: return "k_log";
  case OP_SQRT: return "k_sqrt";
  case OP_SQUARE: return "k_square";
  default: return NULL;
  }
}

/* elements a work-item of an elementwise kernel: VW (16, cl/elementwise.cl) for the vectorised
 * transcendental ones, else 1 */
static size_t elementwise_vw(cld_op op) {
  return op == OP_SILU || op == OP_TANH || op == OP_EXP || op == OP_LOG || op == OP_SILU_BWD ? 16 : 1;
}

static const char *binary_kernel(cld_op op, bool bc) {
  switch (op) {
  case OP_ADD: return bc ? "k_add_bc" : "k_add";
  case OP_SUB: return bc ? "k_sub_bc" : "k_sub";
  case OP_MUL: return bc ? "k_mul_bc" : "k_mul";
  case OP_DIV: return bc ? "k_div_bc" : "k_div";
  case OP_SILU_BWD: return "k_silu_bwd";
  case OP_RELU_BWD: return "k_relu_bwd";
  case OP_TANH_BWD: return "k_tanh_bwd";
  case OP_CLAMP_MIN_BWD: return "k_clamp_min_bwd";
  default: return NULL;
  }
}

/* strides of x (aligned to the 4-D output shape), 0 on broadcast dims */
static void bc_strides(const cld_tensor *x, const int64_t out4[4], int64_t st[4]) {
  int64_t x4[4], cs[4];
  cld_shape4(x, x4);
  contig_strides(x4, cs);
  for (int i = 0; i < 4; i++) st[i] = (x4[i] == out4[i]) ? cs[i] : 0;
}

/* An interleaved tile tensor (T_TILES) as strides in floats: of a transform component (group),
 * of a panel, and of a channel row */
static void tile_strides(const cld_tensor *t, size_t *group, size_t *panel, size_t *row) {
  *group = (size_t)t->shape[3];
  *row = (size_t)TILE_ROW(t);
  *panel = (size_t)t->shape[2] * *row;
}

/* a new launch that runs a GEMM (through cld_gemm_run); its call for the caller to fill */
static cld_status gemm_launch(cld_graph *g, cld_gemm_call **c) {
  binder bd = {0};
  cld_status st = new_launch(g, NULL, NULL, 0, &bd);
  if (st) return st;
  bd.l->is_gemm = true;
  *c = &bd.l->gemm;
  return CLD_OK;
}

static cld_status lower_gemm(cld_graph *g, cld_tensor *t) {
  cld_tensor *a = t->src[0], *b = t->src[1];
  cld_gemm_call *c;
  cld_status st = gemm_launch(g, &c);
  if (st) return st;
  bool ta = t->ip[0], tb = t->ip[1];
  int64_t am = a->shape[a->ndim - 2], ak = a->shape[a->ndim - 1];
  int64_t bk = b->shape[b->ndim - 2], bn = b->shape[b->ndim - 1];
  c->m = ta ? ak : am;
  c->k = ta ? am : ak;
  c->n = tb ? bk : bn;
  c->batch = t->ndim == 4 ? t->shape[0] * t->shape[1] : t->ndim == 3 ? t->shape[0] : 1;
  c->trans_a = ta;
  c->trans_b = tb;
  c->a = a->mem; c->a_off = a->off; c->a_stride = (a->ndim >= 3 && a->shape[0] > 1) ? (size_t)(am * ak) : 0;
  c->b = b->mem; c->b_off = b->off; c->b_stride = (b->ndim >= 3 && c->batch > 1) ? (size_t)(bk * bn) : 0;
  c->a_div = t->ndim == 4 && c->a_stride ? t->shape[1] : 0; /* grouped: a (G,1,..) over b (G,P,..) */
  c->c = t->mem; c->c_off = t->off; c->c_stride = (size_t)(c->m * c->n);
  if (b->flags & T_TILES) { /* (G, P, K, N) stored (P, K, G N + pad), and the output likewise */
    size_t row;
    tile_strides(b, &c->b_gstride, &c->b_stride, &row);
    c->ldb = (int64_t)row;
    tile_strides(t, &c->c_gstride, &c->c_stride, &row);
    c->ldc = (int64_t)row;
  }
  return cld_gemm_ensure_scratch(g->ctx, cld_gemm_scratch_floats(c));
}

/* OP_INPUT, OP_PARAM, OP_RESHAPE */
static cld_status lower_input(cld_graph *g, cld_tensor *t) {
  (void)g;
  return CLD_OK;
}

/* OP_AFFINE, OP_COPY, OP_SILU, OP_RELU, OP_TANH, OP_EXP, OP_LOG, OP_SQRT, OP_SQUARE, OP_CLAMP_MIN */
static cld_status lower_affine(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0];
  size_t vw = elementwise_vw(t->op);
  if ((st = new_launch(g, "elementwise", unary_kernel(t->op), ((size_t)t->numel + vw - 1) / vw, &b))) return st;
  arg_t(&b, x);
  arg_t(&b, t);
  arg_i(&b, (int)t->numel);
  arg_f(&b, t->op == OP_AFFINE ? t->fp[0] : 1.0f);
  arg_f(&b, t->op == OP_AFFINE ? t->fp[1] : t->op == OP_CLAMP_MIN ? t->fp[0] : 0.0f);
  return done(&b, "binding unary kernel");
}

/* OP_CLAMP_MIN_BWD */
static cld_status lower_clamp_min_bwd(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0], *y = t->src[1];
  if ((st = new_launch(g, "elementwise", "k_clamp_min_bwd", (size_t)t->numel, &b))) return st;
  arg_t(&b, x);
  arg_t(&b, y);
  arg_t(&b, t);
  arg_i(&b, (int)t->numel);
  arg_f(&b, t->fp[0]);
  return done(&b, "binding clamp backward");
}

/* OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SILU_BWD, OP_RELU_BWD, OP_TANH_BWD */
static cld_status lower_add(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0], *y = t->src[1];
  int64_t o4[4];
  cld_shape4(t, o4);
  bool bc = !(x->numel == t->numel && y->numel == t->numel);
  int64_t sa[4], sb[4];
  bc_strides(x, o4, sa);
  bc_strides(y, o4, sb);
  char opts[64] = "-cl-std=CL1.2";
  if (bc)
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DSA3=%d -DSB3=%d", o4[3] == 1 ? 1 : inner_known(sa[3]),
             o4[3] == 1 ? 1 : inner_known(sb[3]));
  size_t vw = bc ? 1 : elementwise_vw(t->op);
  if ((st = new_launch_opts(g, "elementwise", opts, binary_kernel(t->op, bc), ((size_t)t->numel + vw - 1) / vw, &b)))
    return st;
  arg_t(&b, x);
  arg_t(&b, y);
  arg_t(&b, t);
  if (bc) {
    arg_i4(&b, o4);
    arg_i4(&b, sa);
    arg_i4(&b, sb);
    grid4(b.l, o4);
  } else arg_i(&b, (int)t->numel);
  return done(&b, "binding binary kernel");
}

/* OP_PERMUTE */
static cld_status lower_permute(cld_graph *g, cld_tensor *t) {
  cld_tensor *x = t->src[0];
  int64_t o4[4], x4[4], cs[4], xs[4];
  cld_shape4(t, o4);
  contig_strides(o4, cs);
  cld_shape4(x, x4);
  contig_strides(x4, xs);
  int64_t ss[4];
  for (int i = 0; i < 4; i++) ss[i] = xs[t->ip[i]];
  return copy4(g, o4, x, 0, ss, t, 0, cs);
}

/* OP_SLICE */
static cld_status lower_slice(cld_graph *g, cld_tensor *t) {
  cld_tensor *x = t->src[0];
  int64_t o4[4], x4[4], cs[4], xs[4];
  cld_shape4(t, o4);
  contig_strides(o4, cs);
  cld_shape4(x, x4);
  contig_strides(x4, xs);
  return copy4(g, o4, x, (size_t)(t->ip[1] * xs[t->ip[0]]), xs, t, 0, cs);
}

/* OP_PAD */
static cld_status lower_pad(cld_graph *g, cld_tensor *t) {
  cld_status st;
  cld_tensor *x = t->src[0];
  int64_t o4[4], x4[4], cs[4], xs[4];
  cld_shape4(t, o4);
  contig_strides(o4, cs);
  if ((st = fill(g, t, 0.0f, t->numel, false))) return st;
  cld_shape4(x, x4);
  contig_strides(x4, xs);
  return copy4(g, x4, x, 0, xs, t, (size_t)(t->ip[1] * cs[t->ip[0]]), cs);
}

/* OP_CONCAT */
static cld_status lower_concat(cld_graph *g, cld_tensor *t) {
  cld_status st;
  cld_tensor *x = t->src[0], *y = t->src[1];
  int64_t o4[4], x4[4], cs[4], xs[4];
  cld_shape4(t, o4);
  contig_strides(o4, cs);
  cld_shape4(x, x4);
  contig_strides(x4, xs);
  if ((st = copy4(g, x4, x, 0, xs, t, 0, cs))) return st;
  int64_t y4[4], ys[4];
  cld_shape4(y, y4);
  contig_strides(y4, ys);
  return copy4(g, y4, y, 0, ys, t, (size_t)(x4[t->ip[0]] * cs[t->ip[0]]), cs);
}

/* OP_BROADCAST */
static cld_status lower_broadcast(cld_graph *g, cld_tensor *t) {
  cld_tensor *x = t->src[0];
  int64_t o4[4], cs[4];
  cld_shape4(t, o4);
  contig_strides(o4, cs);
  int64_t ss[4];
  bc_strides(x, o4, ss);
  return copy4(g, o4, x, 0, ss, t, 0, cs);
}

/* OP_SUM_TO */
static cld_status lower_sum_to(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0];
  int64_t o4[4], x4[4];
  cld_shape4(t, o4);
  cld_shape4(x, x4);
  /* reduced dims 0 .. lead-1, every later dim kept: a sum over up to 4096 rows of a matrix, one
   * work-item per four columns (chosen by shape alone, like LONG_REDUCTION) */
  int lead = 0;
  while (lead < 4 && o4[lead] == 1) lead++;
  int64_t K = t->numel, R = x->numel / (K ? K : 1);
  bool rows = lead > 0 && lead < 4 && R <= 4096;
  for (int d = lead; d < 4; d++) rows = rows && o4[d] == x4[d];
  if (rows) {
    if ((st = new_launch(g, "layout", "k_sum_rows", (size_t)(K + 3) / 4, &b))) return st;
    arg_t(&b, x);
    arg_t(&b, t);
    arg_i(&b, (int)R);
    arg_i(&b, (int)K);
    return done(&b, "binding k_sum_rows");
  }
  bool wg = x->numel / (t->numel ? t->numel : 1) >= LONG_REDUCTION;
  if ((st = new_launch(g, "layout", wg ? "k_sum_to_wg" : "k_sum_to", (size_t)t->numel * (wg ? WG : 1), &b)))
    return st;
  arg_t(&b, x);
  arg_t(&b, t);
  arg_i4(&b, x4);
  arg_i4(&b, o4);
  if (!wg) {
    arg_i(&b, (int)t->numel);
    return done(&b, "binding k_sum_to");
  }
  int64_t run_n[2] = {1, 1}, run_s[2] = {0, 0}, stride = 1;
  int runs = 0;
  bool in_run = false;
  for (int d = 3; d >= 0; stride *= x4[d], d--) { /* runs of adjacent reduced dims, innermost first */
    if (o4[d] != 1 || x4[d] == 1) { in_run = false; continue; }
    if (!in_run) { runs++; run_s[runs - 1] = stride; in_run = true; }
    run_n[runs - 1] *= x4[d];
  }
  int inner = run_n[0] >= run_n[1] ? 0 : 1;
  arg_i(&b, (int)run_n[1 - inner]);
  arg_i(&b, (int)run_s[1 - inner]);
  arg_i(&b, (int)run_n[inner]);
  arg_i(&b, (int)run_s[inner]);
  return done(&b, "binding k_sum_to_wg");
}

/* OP_UPSAMPLE2X, OP_UPSAMPLE2X_BWD */
static cld_status lower_upsample2x(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0];
  bool fwd = t->op == OP_UPSAMPLE2X;
  const cld_tensor *small = fwd ? x : t;
  int64_t SW = small->shape[small->ndim - 1], n = small->numel / SW; /* rows of the small side */
  if ((st = new_launch(g, "layout", fwd ? "k_upsample2x" : "k_upsample2x_bwd", (size_t)n, &b))) return st;
  arg_t(&b, x);
  arg_t(&b, t);
  arg_i(&b, (int)SW);
  arg_i(&b, (int)n);
  return done(&b, "binding upsample");
}

/* OP_MATMUL */
static cld_status lower_matmul(cld_graph *g, cld_tensor *t) {
  return lower_gemm(g, t);
}

/* OP_IM2COL, OP_COL2IM */
static cld_status lower_im2col(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0];
  bool fwd = t->op == OP_IM2COL;
  const cld_tensor *img = fwd ? x : t;
  int N = (int)img->shape[0], C = (int)img->shape[1], H = (int)img->shape[2], W = (int)img->shape[3];
  int KH = t->ip[0], KW = t->ip[1], S = t->ip[2], P = t->ip[3];
  int OH = (H + 2 * P - KH) / S + 1, OW = (W + 2 * P - KW) / S + 1;
  /* im2col: one work-item per (row, image) plane; col2im: one per output row (H, N*C) */
  if ((st = new_launch(g, "layout", fwd ? "k_im2col" : "k_col2im", fwd ? (size_t)C * KH * KW * N : 0, &b)))
    return st;
  arg_t(&b, x);
  arg_t(&b, t);
  int v[10] = {N, C, H, W, KH, KW, S, P, OH, OW};
  for (int i = 0; i < 10; i++) arg_i(&b, v[i]);
  if (!fwd) {
    b.l->dim = 3;
    b.l->gws[0] = (size_t)H;
    b.l->gws[1] = (size_t)N * C;
    b.l->gws[2] = 1;
    pick_lws3(b.l);
  }
  return done(&b, "binding im2col");
}

/* OP_WINO_W, OP_WINO_W_BWD */
static cld_status lower_wino_w(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0];
  const cld_tensor *u = t->op == OP_WINO_W ? t : x; /* (16 or 36, 1, O, C): F(2x2) or F(4x4) */
  int oc = (int)(u->shape[2] * u->shape[3]);
  bool f4 = u->shape[0] == 36;
  const char *kn = t->op == OP_WINO_W ? (f4 ? "k_wino4_w" : "k_wino_w") : (f4 ? "k_wino4_w_bwd" : "k_wino_w_bwd");
  if ((st = new_launch(g, f4 ? "winograd4" : "winograd", kn, (size_t)oc, &b))) return st;
  arg_t(&b, x);
  arg_t(&b, t);
  arg_i(&b, oc);
  return done(&b, "binding Winograd weight transform");
}

/* OP_WINO_IN, OP_WINO_IN_BWD, OP_WINO_OUT, OP_WINO_OUT_BWD */
static cld_status lower_wino_in(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0], *y = t->src[1];
  /* img: the (N, C or O, H, W) side; tiles: (16 or 36, P, C, PW), plain (P = 1, PW = T) or
   * interleaved panels (T_TILES); grid: one work-item per row of tiles of every plane */
  const cld_tensor *img = (t->op == OP_WINO_IN || t->op == OP_WINO_OUT_BWD) ? x : t;
  const cld_tensor *tiles = (t->op == OP_WINO_IN || t->op == OP_WINO_OUT_BWD) ? t : x;
  bool f4 = tiles->shape[0] == 36;
  int ts = f4 ? 4 : 2, C = (int)img->shape[1], H = (int)img->shape[2], W = (int)img->shape[3];
  int TH = (H + ts - 1) / ts, TW = (W + ts - 1) / ts, T = (int)img->shape[0] * TH * TW;
  static const char *const names[2][4] = {{"k_wino_in", "k_wino_in_bwd", "k_wino_out", "k_wino_out_bwd"},
                                          {"k_wino4_in", "k_wino4_in_bwd", "k_wino4_out", "k_wino4_out_bwd"}};
  int which = t->op == OP_WINO_IN ? 0 : t->op == OP_WINO_IN_BWD ? 1 : t->op == OP_WINO_OUT ? 2 : 3;
  /* the kernels that write panels walk small images channel-major (plane_of in wino_tiles.cl):
   * where four or more images share a panel */
  int width = tiles->flags & T_TILES ? (int)tiles->shape[3] : 0;
  bool cmaj = width && (which == 0 || which == 3) && 4 * TH * TW <= width;
  /* one panel of all tiles: -DPW=-1, one program for every tile count */
  int pw = width && tiles->shape[1] == 1 && width == wino_one_panel(T) ? -1 : width;
  char opts[64];
  snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DPW=%d -DTPAD=%d -DCMAJ=%d", pw, CLD_TILE_PAD, cmaj);
  if ((st = new_launch_opts(g, f4 ? "winograd4" : "winograd", opts, names[f4][which], 0, &b))) return st;
  arg_t(&b, x);
  if (t->op == OP_WINO_OUT) {
    arg_t(&b, y ? y : x); /* bias (any buffer when there is none) */
    arg_t(&b, t->src[2] ? t->src[2] : x); /* residual, likewise */
  }
  arg_t(&b, t);
  int v[6] = {C, H, W, TH, TW, T};
  for (int i = 0; i < 6; i++) arg_i(&b, v[i]);
  if (t->op == OP_WINO_OUT) {
    arg_i(&b, !y ? 0 : y->numel == t->shape[1] ? 1 : 2); /* bias (O) or (N, O) */
    arg_i(&b, t->src[2] != NULL);
  }
  if (f4 && t->op == OP_WINO_OUT_BWD) { /* the bias gradient's partial sums (autodiff's doing), or none */
    const cld_tensor *part = t->ip[2] ? g->nodes[t->ip[2] - 1] : NULL;
    arg_t(&b, part ? part : t);
    arg_i(&b, part != NULL);
  }
  b.l->dim = 3;
  b.l->gws[0] = 1; /* nothing for PoCL to vectorise across work-items: each walks its row */
  b.l->gws[1] = (size_t)TH;
  b.l->gws[2] = (size_t)img->shape[0] * C;
  pick_lws3(b.l);
  return done(&b, "binding Winograd tile transform");
}

/* OP_WINO_OUT_BSUM: written by the output adjoint that names it */
static cld_status lower_nothing(cld_graph *g, cld_tensor *t) {
  (void)g;
  (void)t;
  return CLD_OK;
}

/* OP_ATTENTION: one work-item per 16 queries of a head */
static cld_status lower_attention(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  char opts[64];
  int64_t BH = t->shape[0], D = t->shape[1], L = t->shape[2];
  snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DAL=%d -DAD=%d", (int)L, (int)D);
  if ((st = new_launch_opts(g, "attention", opts, "k_attention", 0, &b))) return st;
  for (int i = 0; i < 3; i++) arg_t(&b, t->src[i]);
  arg_t(&b, t);
  b.l->dim = 2;
  b.l->gws[0] = (size_t)(L + 15) / 16;
  b.l->gws[1] = (size_t)BH;
  b.l->lws[0] = 1;
  b.l->lws[1] = 1; /* each item's rows of scores are its own (AL float16s of private memory) */
  b.l->use_lws = true;
  return done(&b, "binding attention");
}

/* OP_MATMUL_SUM_NT */
/* The weight gradient over one panel of tile-interleaved operands where the host GEMM runs on
 * oneDNN: one NT product per group, A and B rows a channel's block apart, for the host provider
 * (one oneDNN primitive instead of the in-place kernel below; docs/PERFORMANCE.md) */
static cld_status lower_sum_nt_host(cld_graph *g, cld_tensor *t) {
  cld_tensor *x = t->src[0], *y = t->src[1];
  cld_gemm_call *c;
  cld_status st = gemm_launch(g, &c);
  if (st) return st;
  size_t gs, ps, rs;
  c->m = x->shape[2]; c->n = y->shape[2]; c->k = x->shape[3]; c->batch = x->shape[0];
  c->trans_b = true;
  c->a = x->mem; c->a_off = x->off;
  tile_strides(x, &gs, &ps, &rs);
  c->a_stride = gs; c->lda = (int64_t)rs;
  c->b = y->mem; c->b_off = y->off;
  tile_strides(y, &c->b_gstride, &ps, &rs);
  c->b_stride = c->b_gstride; c->ldb = (int64_t)rs;
  c->c = t->mem; c->c_off = t->off;
  c->c_stride = c->c_gstride = (size_t)(c->m * c->n);
  return CLD_OK;
}

static cld_status lower_matmul_sum_nt(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0], *y = t->src[1];
  int P = (int)x->shape[1], R = (int)x->shape[2], S = (int)y->shape[2], N = (int)x->shape[3];
  cld_gemm_provider pref = g->ctx->gemm_pref;
  if (P == 1 && (x->flags & y->flags & T_TILES) && (pref == CLD_GEMM_AUTO || pref == CLD_GEMM_HOST) &&
      cld_gemm_host_preferred(g->ctx))
    return lower_sum_nt_host(g, t);
  if ((st = new_launch(g, "gemm", "k_gemm_sum_nt", 0, &b))) return st;
  int v[4] = {P, R, S, N};
  for (int i = 0; i < 4; i++) arg_i(&b, v[i]);
  const cld_tensor *ops[2] = {x, y};
  for (int i = 0; i < 2; i++) { /* group, panel and row strides: row-major (G,P,rows,N) or interleaved */
    size_t rows = (size_t)ops[i]->shape[2], gs = (size_t)P * rows * (size_t)N, ps = rows * (size_t)N, rs = (size_t)N;
    if (ops[i]->flags & T_TILES) tile_strides(ops[i], &gs, &ps, &rs);
    arg_t(&b, ops[i]);
    arg_u(&b, gs);
    arg_u(&b, ps);
    arg_u(&b, rs);
  }
  arg_t(&b, t);
  b.l->dim = 3;
  b.l->gws[0] = (size_t)(S + 3) / 4;
  b.l->gws[1] = (size_t)(R + 3) / 4;
  b.l->gws[2] = (size_t)t->shape[0];
  /* small groups (1, up to 4, up to 4): pick_lws3's (32, 8, 1) halved PoCL's speed here */
  b.l->lws[0] = 1;
  b.l->lws[1] = cld_largest_divisor(b.l->gws[1], 4);
  b.l->lws[2] = cld_largest_divisor(b.l->gws[2], 4);
  b.l->use_lws = true;
  return done(&b, "binding summed NT GEMM");
}

/* OP_NORM_ROWS, OP_NORM_ROWS_BWD */
static cld_status lower_norm_rows(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0], *y = t->src[1];
  bool fwd = t->op == OP_NORM_ROWS, wg = t->ip[1] >= LONG_REDUCTION;
  const char *kn = fwd ? (wg ? "k_norm_rows_wg" : "k_norm_rows") : (wg ? "k_norm_rows_bwd_wg" : "k_norm_rows_bwd");
  if ((st = new_launch(g, "norm", kn, (size_t)t->ip[0] * (wg ? WG : 1), &b))) return st;
  arg_t(&b, x);
  if (!fwd) arg_t(&b, y);
  arg_t(&b, t);
  arg_i(&b, t->ip[0]);
  arg_i(&b, t->ip[1]);
  arg_f(&b, t->fp[0]);
  return done(&b, "binding norm");
}

/* OP_GROUP_NORM, OP_GROUP_NORM_BWD, OP_GROUP_NORM_BWD_PARAM */
static cld_status lower_group_norm(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0], *y = t->src[1];
  /* one work-group per (sample, group) row; fwd: src0 x, src1 gamma, src2 beta; bwd: x, dy, gamma, beta */
  bool fwd = t->op == OP_GROUP_NORM, param = t->op == OP_GROUP_NORM_BWD_PARAM;
  const cld_tensor *gm = fwd ? t->src[1] : t->src[2], *bt = fwd ? t->src[2] : t->src[3];
  int64_t N = x->shape[0], C = x->shape[1], S = x->numel / (N * C);
  int G = t->ip[0];
  /* fused (autodiff's doing): the dx node's ip2 names the param node + 1, whose own launch is none */
  if (param && t->ip[2]) return CLD_OK;
  const cld_tensor *part = !fwd && !param && t->ip[2] ? g->nodes[t->ip[2] - 1] : NULL;
  const char *kn = fwd ? "k_group_norm" : param ? "k_group_norm_bwd_param" : part ? "k_group_norm_bwd_fused" : "k_group_norm_bwd";
  if ((st = new_launch(g, "norm", kn, (size_t)(N * G) * WG, &b))) return st;
  arg_t(&b, x);
  if (!fwd) arg_t(&b, y);
  arg_t(&b, gm ? gm : x); /* any buffer when there is none (flags say) */
  arg_t(&b, bt ? bt : x);
  arg_t(&b, t);
  if (part) arg_t(&b, part);
  arg_i(&b, G);
  arg_i(&b, (int)(C / G));
  arg_i(&b, (int)S);
  arg_f(&b, t->fp[0]);
  arg_i(&b, t->ip[1]);
  if (param || part) arg_i(&b, (int)N);
  if (part) arg_raw(&b, (size_t)(C / G) * WG * sizeof(cl_float2), NULL); /* per-channel partial sums */
  return done(&b, "binding group norm");
}

/* OP_SOFTMAX, OP_SOFTMAX_BWD */
static cld_status lower_softmax(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0], *y = t->src[1];
  bool fwd = t->op == OP_SOFTMAX;
  int64_t len = t->shape[t->ndim - 1], rows = t->numel / len;
  if ((st = new_launch(g, "norm", fwd ? "k_softmax_rows" : "k_softmax_rows_bwd", (size_t)rows, &b))) return st;
  arg_t(&b, x);
  if (!fwd) arg_t(&b, y);
  arg_t(&b, t);
  arg_i(&b, (int)rows);
  arg_i(&b, (int)len);
  return done(&b, "binding softmax");
}

/* OP_TIMESTEP_EMB: grid (frequencies, blocks of EMB_ROWS rows): see cl/embed.cl */
static cld_status lower_timestep_emb(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0];
  enum { EMB_ROWS = 32 };
  char opts[48];
  snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DEMB_ROWS=%d", EMB_ROWS);
  if ((st = new_launch_opts(g, "embed", opts, "k_timestep_emb", 0, &b))) return st;
  b.l->dim = 3;
  b.l->gws[0] = (size_t)(t->shape[1] / 2 > 0 ? t->shape[1] / 2 : 1);
  b.l->gws[1] = (size_t)(t->shape[0] + EMB_ROWS - 1) / EMB_ROWS;
  b.l->gws[2] = 1;
  pick_lws3(b.l);
  arg_t(&b, x);
  arg_t(&b, t);
  arg_i(&b, (int)t->shape[0]);
  arg_i(&b, t->ip[0]);
  arg_i(&b, t->ip[1]);
  arg_f(&b, t->fp[0]);
  arg_f(&b, t->fp[1]);
  return done(&b, "binding timestep embedding");
}

/* OP_DROPOUT */
static cld_status lower_dropout(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  cld_tensor *x = t->src[0];
  if ((st = new_launch(g, "rng", "k_dropout", (size_t)(t->numel + 3) / 4, &b))) return st;
  arg_t(&b, x);
  arg_t(&b, t);
  arg_i(&b, (int)t->numel);
  b.l->rng_arg = (int)b.arg;
  b.l->stream = (uint32_t)t->ip[0];
  cl_uint4 key = {{0, 0, (cl_uint)t->ip[0], 0}};
  arg_raw(&b, sizeof key, &key);
  b.l->p_arg = (int)b.arg;
  b.l->p_value = t->fp[0];
  arg_f(&b, t->fp[0]);
  b.l->off_arg = (int)b.arg; /* in blocks of 4 */
  b.l->off_per_slab = (uint64_t)(t->numel + 3) / 4;
  cl_ulong off = 0;
  arg_raw(&b, sizeof off, &off);
  return done(&b, "binding dropout");
}

/* OP_RANDN, OP_RAND */
static cld_status lower_randn(cld_graph *g, cld_tensor *t) {
  binder b = {0};
  cld_status st;
  if ((st = new_launch(g, "rng", t->op == OP_RANDN ? "k_rng_normal" : "k_rng_uniform", (size_t)(t->numel + 3) / 4, &b)))
    return st;
  arg_t(&b, t);
  arg_i(&b, (int)t->numel);
  b.l->rng_arg = (int)b.arg;
  b.l->stream = (uint32_t)t->ip[0];
  cl_uint4 key = {{0, 0, (cl_uint)t->ip[0], 0}};
  arg_raw(&b, sizeof key, &key);
  b.l->off_arg = (int)b.arg; /* in elements */
  b.l->off_per_slab = (uint64_t)t->numel;
  cl_ulong off = 0;
  arg_raw(&b, sizeof off, &off);
  return done(&b, "binding rng");
}

typedef cld_status (*lower_fn)(cld_graph *g, cld_tensor *t);
/* one lowering function per op, as ggml's backends dispatch; NULL: cannot be lowered */
static const lower_fn lowerers[OP_COUNT] = {
    [OP_INPUT] = lower_input,
    [OP_PARAM] = lower_input,
    [OP_RESHAPE] = lower_input,
    [OP_AFFINE] = lower_affine,
    [OP_COPY] = lower_affine,
    [OP_SILU] = lower_affine,
    [OP_RELU] = lower_affine,
    [OP_TANH] = lower_affine,
    [OP_EXP] = lower_affine,
    [OP_LOG] = lower_affine,
    [OP_SQRT] = lower_affine,
    [OP_SQUARE] = lower_affine,
    [OP_CLAMP_MIN] = lower_affine,
    [OP_CLAMP_MIN_BWD] = lower_clamp_min_bwd,
    [OP_ADD] = lower_add,
    [OP_SUB] = lower_add,
    [OP_MUL] = lower_add,
    [OP_DIV] = lower_add,
    [OP_SILU_BWD] = lower_add,
    [OP_RELU_BWD] = lower_add,
    [OP_TANH_BWD] = lower_add,
    [OP_PERMUTE] = lower_permute,
    [OP_SLICE] = lower_slice,
    [OP_PAD] = lower_pad,
    [OP_CONCAT] = lower_concat,
    [OP_BROADCAST] = lower_broadcast,
    [OP_SUM_TO] = lower_sum_to,
    [OP_UPSAMPLE2X] = lower_upsample2x,
    [OP_UPSAMPLE2X_BWD] = lower_upsample2x,
    [OP_MATMUL] = lower_matmul,
    [OP_IM2COL] = lower_im2col,
    [OP_COL2IM] = lower_im2col,
    [OP_WINO_W] = lower_wino_w,
    [OP_WINO_W_BWD] = lower_wino_w,
    [OP_WINO_IN] = lower_wino_in,
    [OP_WINO_IN_BWD] = lower_wino_in,
    [OP_WINO_OUT] = lower_wino_in,
    [OP_WINO_OUT_BWD] = lower_wino_in,
    [OP_MATMUL_SUM_NT] = lower_matmul_sum_nt,
    [OP_WINO_OUT_BSUM] = lower_nothing,
    [OP_ATTENTION] = lower_attention,
    [OP_NORM_ROWS] = lower_norm_rows,
    [OP_NORM_ROWS_BWD] = lower_norm_rows,
    [OP_GROUP_NORM] = lower_group_norm,
    [OP_GROUP_NORM_BWD] = lower_group_norm,
    [OP_GROUP_NORM_BWD_PARAM] = lower_group_norm,
    [OP_SOFTMAX] = lower_softmax,
    [OP_SOFTMAX_BWD] = lower_softmax,
    [OP_TIMESTEP_EMB] = lower_timestep_emb,
    [OP_DROPOUT] = lower_dropout,
    [OP_RANDN] = lower_randn,
    [OP_RAND] = lower_randn,
};

/* Binds the kernel launches of node t through its op's lowering function. */
static cld_status lower_node(cld_graph *g, cld_tensor *t) {
  lower_fn f = (unsigned)t->op < OP_COUNT ? lowerers[t->op] : NULL;
  if (f) return f(g, t);
  return cld_seterr(g->ctx, CLD_ERR_STATE, "executor: op %d (node %d) cannot be lowered", (int)t->op, t->id);
}

/* Marks the gated tensors whose values outlive a skip of their gate: read by a node of lower gate
 * (through views too), kept for the host, or a parameter gradient in the store. */
static bool *outlived_gates(cld_graph *g) {
  bool *z = calloc((size_t)g->n, sizeof *z);
  if (!z) return NULL;
  for (int i = 0; i < g->n; i++) {
    cld_tensor *t = g->nodes[i];
    cld_tensor *r = cld_view_root(t);
    if ((t->storage == ST_STORE_GRAD || (t->flags & T_KEEP)) && r->gate > 0) z[r->id] = true;
    for (int s = 0; s < CLD_NSRC; s++)
      if (t->src[s] && cld_view_root(t->src[s])->gate > t->gate) z[cld_view_root(t->src[s])->id] = true;
  }
  for (int i = 0; i < g->n; i++) /* leaves hold host or store data: nothing to fill */
    if (g->nodes[i]->op == OP_INPUT || g->nodes[i]->op == OP_PARAM) z[i] = false;
  return z;
}

cld_status cld_exec_lower(cld_graph *g) {
  g->shapes_only = g->ctx->shapes_only; /* fixed for the graph's life: launches without kernels */
  bool *zero = outlived_gates(g);
  if (!zero) return cld_seterr(g->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cld_status st = CLD_OK;
  for (int i = 0; i < g->n && !st; i++) {
    g->lowering_node = i;
    st = lower_node(g, g->nodes[i]);
    if (!st && zero[i]) st = fill(g, g->nodes[i], 0.0f, STORED_NUMEL(g->nodes[i]), true);
  }
  free(zero);
  return st;
}

void cld_exec_release(cld_graph *g) {
  cld_profile_report(g);
  free(g->prof_s);
  free(g->prof_n);
  g->prof_s = NULL;
  g->prof_n = NULL;
  for (int i = 0; i < g->n_launches; i++)
    if (g->launches[i].kernel) clReleaseKernel(g->launches[i].kernel);
  free(g->launches);
  g->launches = NULL;
  g->n_launches = g->cap_launches = 0;
  for (int i = 0; i < g->n_inputs; i++) clReleaseMemObject(g->inputs[i]);
  free(g->inputs);
  g->inputs = NULL;
  g->n_inputs = 0;
  for (int i = 0; i < g->n_arena; i++) clReleaseMemObject(g->arena[i]);
  free(g->arena);
  g->arena = NULL;
  g->n_arena = 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* one launch onto the queue: a GEMM, or a kernel with its per-run arguments (RNG key, stream
 * offset, dropout probability) set */
static cld_status enqueue_launch(cld_graph *g, cld_launch *l) {
  if (l->is_gemm) return cld_gemm_run(g->ctx, &l->gemm, g->ctx->gemm_pref);
  cl_int e = CL_SUCCESS;
  if (l->rng_arg >= 0) {
    cl_uint4 key = {{(cl_uint)g->seed, (cl_uint)(g->seed >> 32), l->stream, (cl_uint)g->run}};
    e = clSetKernelArg(l->kernel, (cl_uint)l->rng_arg, sizeof key, &key);
  }
  if (e == CL_SUCCESS && l->off_arg >= 0) {
    cl_ulong off = (cl_ulong)(g->rng_slab * l->off_per_slab);
    e = clSetKernelArg(l->kernel, (cl_uint)l->off_arg, sizeof off, &off);
  }
  if (e != CL_SUCCESS) return cld_clerr(g->ctx, e, "setting RNG key");
  if (l->p_arg >= 0) {
    cl_float p = g->training ? l->p_value : 0.0f;
    e = clSetKernelArg(l->kernel, (cl_uint)l->p_arg, sizeof p, &p);
    if (e != CL_SUCCESS) return cld_clerr(g->ctx, e, "setting dropout probability");
  }
  e = clEnqueueNDRangeKernel(g->ctx->queue, l->kernel, l->dim, NULL, l->gws, l->use_lws ? l->lws : NULL, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(g->ctx, e, "clEnqueueNDRangeKernel");
}

cld_status cld_graph_compute(cld_graph *g) {
  if (!g) return CLD_ERR_INVALID_ARG;
  if (!g->planned) return cld_seterr(g->ctx, CLD_ERR_STATE, "cld_graph_compute: graph not planned (call cld_graph_plan)");
  if (g->shapes_only)
    return cld_seterr(g->ctx, CLD_ERR_STATE, "cld_graph_compute: graph planned for its GEMM shapes only (cld_plan_shapes_only)");
  bool prof = getenv("CLDIFF_PROFILE") != NULL;
  if (prof && !g->prof_s) {
    g->prof_s = calloc(OP_COUNT, sizeof *g->prof_s);
    g->prof_n = calloc(OP_COUNT, sizeof *g->prof_n);
    if (!g->prof_s || !g->prof_n) prof = false;
  }
  double tp = prof ? (clFinish(g->ctx->queue), now_s()) : 0;
  int prev = -1; /* the last launch enqueued */
  cld_status st;
  if (g->hook && (st = g->hook(g->hook_user, -1))) return st;
  for (int i = 0; i < g->n_launches; i++) {
    cld_launch *l = &g->launches[i];
    if (l->if_skipped == (l->gate >= g->gate_limit)) { /* not gated off, or a fill its gate needs */
      if (prof && prev >= 0) { /* charge the previous launch; a failure is pinned on it */
        cl_int fe = clFinish(g->ctx->queue);
        if (fe != CL_SUCCESS) return cld_profile_fail(g, &g->launches[prev], fe);
        double t = now_s();
        cld_profile_charge(g, &g->launches[prev], t - tp);
        tp = t;
      }
      prev = i;
      if ((st = enqueue_launch(g, l))) return st;
    }
    if (g->hook && (st = g->hook(g->hook_user, i))) return st;
  }
  if (prof && prev >= 0) {
    cl_int fe = clFinish(g->ctx->queue);
    if (fe != CL_SUCCESS) return cld_profile_fail(g, &g->launches[prev], fe);
    cld_profile_charge(g, &g->launches[prev], now_s() - tp);
  }
  g->run++;
  return CLD_OK;
}

cld_status cld_graph_record_gemms(const cld_graph *g) {
  if (!g) return CLD_ERR_INVALID_ARG;
  if (!g->planned) return cld_seterr(g->ctx, CLD_ERR_STATE, "cld_graph_record_gemms: graph not planned (call cld_graph_plan)");
  for (int i = 0; i < g->n_launches; i++) { /* the launches compute would enqueue */
    const cld_launch *l = &g->launches[i];
    if (l->is_gemm && l->if_skipped == (l->gate >= g->gate_limit)) cld_gemm_record_call(g->ctx, &l->gemm);
  }
  return CLD_OK;
}

void cld_plan_shapes_only(cld_ctx *ctx, bool on) {
  if (ctx) ctx->shapes_only = on;
}

void cld_graph_set_launch_hook(cld_graph *g, cld_launch_hook hook, void *user) {
  g->hook = hook;
  g->hook_user = user;
}

int cld_graph_grad_last_launch(const cld_graph *g, int store_id) {
  int last = -1;
  for (int i = 0; i < g->n_launches; i++) {
    int n = g->launches[i].node;
    const cld_tensor *r = n >= 0 ? cld_view_root(g->nodes[n]) : NULL;
    if (r && r->storage == ST_STORE_GRAD && r->store_id == store_id) last = i;
  }
  return last;
}

static cld_status tensor_io(cld_graph *g, cld_tensor *t, float *data, bool write) {
  if (!g || !t || !data) return CLD_ERR_INVALID_ARG;
  if (!g->planned) return cld_seterr(g->ctx, CLD_ERR_STATE, "tensor '%s': graph not planned", t->name);
  cld_tensor *r = t;
  while (r->op == OP_RESHAPE) r = r->src[0];
  if (write && r->storage != ST_INPUT && r->storage != ST_STORE)
    return cld_seterr(g->ctx, CLD_ERR_INVALID_ARG, "tensor '%s' (node %d) is not an input or parameter", t->name, t->id);
  if (!write && r->storage == ST_ARENA && r->last_use != 0x7fffffff)
    return cld_seterr(g->ctx, CLD_ERR_STATE, "tensor '%s' (node %d) was not kept (cld_graph_keep before plan)", t->name, t->id);
  size_t bytes = (size_t)t->numel * sizeof(float), off = r->off * sizeof(float);
  cl_int e = write ? clEnqueueWriteBuffer(g->ctx->queue, r->mem, CL_TRUE, off, bytes, data, 0, NULL, NULL)
                   : clEnqueueReadBuffer(g->ctx->queue, r->mem, CL_TRUE, off, bytes, data, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(g->ctx, e, write ? "writing tensor" : "reading tensor");
}
cld_status cld_tensor_write(cld_graph *g, cld_tensor *t, const float *data) { return tensor_io(g, t, (float *)data, true); }
cld_status cld_tensor_read(cld_graph *g, cld_tensor *t, float *data) { return tensor_io(g, t, data, false); }
