/* Reverse-mode autodiff: one switch with the gradient rule of every primitive op, expressed with
 * forward ops plus a few *_BWD kernels. Gradients of broadcast operands are summed back to their
 * shape. Parameter gradients finally land in the store's gradient buffer (directly when the last
 * gradient node is private to that parameter, else through a copy). */
#include "graph/graph_internal.h"
#include <stdlib.h>
#include <string.h>

/* Sum g down to x's shape (undoing broadcasting), then match x's ndim. */
static cld_tensor *reduce_like(cld_graph *g, cld_tensor *grad, cld_tensor *x) {
  if (!grad) return NULL;
  if (cld_same_shape(grad, x)) return grad;
  cld_tensor *r = grad->numel == x->numel ? grad : cld_sum_to(g, grad, x->ndim, x->shape);
  if (r && !cld_same_shape(r, x)) r = cld_reshape(g, r, x->ndim, x->shape);
  return r;
}

/* The sum carries x's gate, not the contribution's: it must still run when the contributing
 * (higher-gated) branch is skipped, reading that branch's part as zeros. */
static void acc(cld_graph *g, cld_tensor *x, cld_tensor *contrib) {
  if (!contrib) return;
  contrib = reduce_like(g, contrib, x);
  if (!x->grad || !contrib) { x->grad = contrib; return; }
  int gate = g->build_gate;
  g->build_gate = x->gate;
  x->grad = cld_add(g, x->grad, contrib);
  g->build_gate = gate;
}

static cld_tensor *bwd_node(cld_graph *g, cld_op op, cld_tensor *a, cld_tensor *b) {
  cld_tensor *t = cld_binary(g, op, a, b);
  return t;
}

/* sum over p of x[g,p] y[g,p]^T for x (G,P,R,N), y (G,P,S,N): the gradient of a grouped matmul's
 * shared operand, one contraction over (p, n) per group; -> (G,1,R,S). Panels (N % 16 == 0; all
 * of Winograd's tile-interleaved ones) use a kernel that reads both in place (0.34 s of a batch-32 fmnist-s step against 0.45 s for
 * permuting both and one GEMM); other widths permute. */
static cld_tensor *grouped_da(cld_graph *g, cld_tensor *x, cld_tensor *y) {
  if (!x || !y) return NULL;
  int64_t G = x->shape[0], P = x->shape[1], R = x->shape[2], N = x->shape[3], S = y->shape[2];
  int64_t xs[3] = {G, R, P * N}, out[4] = {G, 1, R, S};
  cld_tensor *r;
  if ((x->flags ^ y->flags) & T_TILES) return cld_graph_fail(g, CLD_ERR_STATE, "grouped matmul gradient: mixed tile layouts");
  bool tiles = x->flags & T_TILES; /* interleaved panels: only the in-place kernel reads them */
  if (tiles && N % 16) return cld_graph_fail(g, CLD_ERR_STATE, "grouped matmul gradient: interleaved panels of %lld tiles", (long long)N);
  if (P == 1 && !tiles) { /* plain layout: x y^T directly */
    int64_t ys[3] = {G, S, N};
    r = cld_matmul(g, cld_reshape(g, x, 3, xs), cld_reshape(g, y, 3, ys), false, true);
  } else if (N % 16 == 0) { /* panels: one kernel reads both in place */
    r = cld_node_new(g, OP_MATMUL_SUM_NT, 4, out);
    if (r) { r->src[0] = x; r->src[1] = y; }
    return r;
  } else { /* x -> (G, R, P*N), y -> (G, P*N, S): one copy each, then an untransposed GEMM */
    static const int px[4] = {0, 2, 1, 3}, py[4] = {0, 1, 3, 2};
    int64_t ys[3] = {G, P * N, S};
    r = cld_matmul(g, cld_reshape(g, cld_permute(g, x, px), 3, xs), cld_reshape(g, cld_permute(g, y, py), 3, ys),
                   false, false);
  }
  return cld_reshape(g, r, 4, out);
}

/* a backward node of group norm t: src (x, dy, gamma, beta), t's groups, flags and eps */
static cld_tensor *group_norm_bwd(cld_graph *g, const cld_tensor *t, cld_tensor *gr, cld_op op, int ndim,
                                  const int64_t *shape) {
  cld_tensor *d = cld_node_new(g, op, ndim, shape);
  if (!d) return NULL;
  d->src[0] = t->src[0]; d->src[1] = gr; d->src[2] = t->src[1]; d->src[3] = t->src[2];
  memcpy(d->ip, t->ip, sizeof d->ip);
  d->fp[0] = t->fp[0];
  return d;
}

/* The gradients of the pointwise ops (arithmetic and activations); false for any other op. */
static bool backward_pointwise(cld_graph *g, cld_tensor *t, const bool *needs) {
  cld_tensor *gr = t->grad, *a = t->src[0], *b = t->src[1];
  bool na = a && needs[a->id], nb = b && needs[b->id];
  switch (t->op) {
  case OP_ADD:
    if (na) acc(g, a, gr);
    if (nb) acc(g, b, gr);
    break;
  case OP_SUB:
    if (na) acc(g, a, gr);
    if (nb) acc(g, b, cld_scale(g, gr, -1.0f));
    break;
  case OP_MUL:
    if (na) acc(g, a, cld_mul(g, gr, b));
    if (nb) acc(g, b, cld_mul(g, gr, a));
    break;
  case OP_DIV:
    if (na) acc(g, a, cld_div(g, gr, b));
    if (nb) acc(g, b, cld_scale(g, cld_div(g, cld_mul(g, gr, t), b), -1.0f));
    break;
  case OP_AFFINE: if (na) acc(g, a, cld_scale(g, gr, t->fp[0])); break;
  case OP_COPY: if (na) acc(g, a, gr); break;
  case OP_CLAMP_MIN:
    if (na) {
      cld_tensor *d = bwd_node(g, OP_CLAMP_MIN_BWD, a, gr);
      if (d) d->fp[0] = t->fp[0];
      acc(g, a, d);
    }
    break;
  case OP_SILU: if (na) acc(g, a, bwd_node(g, OP_SILU_BWD, a, gr)); break;
  case OP_RELU: if (na) acc(g, a, bwd_node(g, OP_RELU_BWD, a, gr)); break;
  case OP_TANH: if (na) acc(g, a, bwd_node(g, OP_TANH_BWD, t, gr)); break;
  case OP_EXP: if (na) acc(g, a, cld_mul(g, gr, t)); break;
  case OP_LOG: if (na) acc(g, a, cld_div(g, gr, a)); break;
  case OP_SQRT: if (na) acc(g, a, cld_div(g, cld_scale(g, gr, 0.5f), t)); break;
  case OP_SQUARE: if (na) acc(g, a, cld_mul(g, gr, cld_scale(g, a, 2.0f))); break;
  default:
    return false;
  }
  return true;
}

static cld_status backward_one(cld_graph *g, cld_tensor *t, const bool *needs) {
  if (backward_pointwise(g, t, needs)) return g->status;
  cld_tensor *gr = t->grad, *a = t->src[0], *b = t->src[1];
  bool na = a && needs[a->id], nb = b && needs[b->id];
  switch (t->op) {
  case OP_INPUT: case OP_PARAM: case OP_RANDN: case OP_RAND: case OP_TIMESTEP_EMB:
    break;
  case OP_RESHAPE: if (na) acc(g, a, cld_reshape(g, gr, a->ndim, a->shape)); break;
  case OP_PERMUTE:
    if (na) {
      int pad = 4 - t->ndim, inv[4];
      for (int i = 0; i < t->ndim; i++) inv[t->ip[pad + i] - pad] = i;
      acc(g, a, cld_permute(g, gr, inv));
    }
    break;
  case OP_SLICE: if (na) acc(g, a, cld_pad_into(g, gr, a, t->ip[0], t->ip[1])); break;
  case OP_PAD:
    if (na) acc(g, a, cld_slice(g, gr, t->ip[0] - (4 - t->ndim), t->ip[1], a->shape[t->ip[0] - (4 - t->ndim)]));
    break;
  case OP_CONCAT: {
    int ax = t->ip[0] - (4 - t->ndim);
    if (na) acc(g, a, cld_slice(g, gr, ax, 0, a->shape[ax]));
    if (nb) acc(g, b, cld_slice(g, gr, ax, a->shape[ax], b->shape[ax]));
    break;
  }
  case OP_BROADCAST: if (na) acc(g, a, gr); break; /* acc sums back to a's shape */
  case OP_SUM_TO: if (na) acc(g, a, cld_broadcast_to(g, gr, a->ndim, a->shape)); break;
  case OP_UPSAMPLE2X:
    if (na) {
      cld_tensor *d = cld_node_new(g, OP_UPSAMPLE2X_BWD, a->ndim, a->shape);
      if (d) d->src[0] = gr;
      acc(g, a, d);
    }
    break;
  case OP_MATMUL: {
    bool ta = t->ip[0], tb = t->ip[1];
    if (t->ndim == 4) { /* grouped: a (G,1,..) over b (G,P,..), tb = false */
      if (na) acc(g, a, grouped_da(g, ta ? b : gr, ta ? gr : b));
      if (nb) acc(g, b, cld_matmul(g, a, gr, !ta, false));
      break;
    }
    if (na && a->ndim == 2 && b->ndim == 3 && !ta && !tb) {
      /* a shared over a batch: sum_b gr_b b_b^T is the grouped case with one group */
      int64_t gs[4] = {1, b->shape[0], a->shape[0], b->shape[2]}, bs[4] = {1, b->shape[0], a->shape[1], b->shape[2]};
      acc(g, a, grouped_da(g, cld_reshape(g, gr, 4, gs), cld_reshape(g, b, 4, bs)));
    } else if (na) acc(g, a, ta ? cld_matmul(g, b, gr, tb, true) : cld_matmul(g, gr, b, false, !tb));
    if (nb) acc(g, b, tb ? cld_matmul(g, gr, a, true, ta) : cld_matmul(g, a, gr, !ta, false));
    break;
  }
  case OP_IM2COL:
    if (na) {
      cld_tensor *d = cld_node_new(g, OP_COL2IM, a->ndim, a->shape);
      if (d) { d->src[0] = gr; memcpy(d->ip, t->ip, sizeof d->ip); }
      acc(g, a, d);
    }
    break;
  case OP_WINO_W: case OP_WINO_IN: case OP_WINO_OUT: {
    /* F(4x4)'s output adjoint reads all of dy anyway: it also sums dy over each row of tiles, so
     * that the bias gradient reduces (N, O, H/4) partial sums instead of dy itself. The partial
     * node comes first, so that its buffer is live when the adjoint writes it. */
    cld_tensor *part = NULL;
    bool per_image = t->op == OP_WINO_OUT && b && b->numel != t->shape[1];
    if (t->op == OP_WINO_OUT && na && nb && g->fuse && a->shape[0] == 36) {
      int64_t ps[3] = {t->shape[0], t->shape[1], (t->shape[2] + 3) / 4};
      part = cld_node_new(g, OP_WINO_OUT_BSUM, 3, ps);
      if (part) part->src[0] = gr;
    }
    if (na) {
      cld_op bop = t->op == OP_WINO_W ? OP_WINO_W_BWD : t->op == OP_WINO_IN ? OP_WINO_IN_BWD : OP_WINO_OUT_BWD;
      cld_tensor *d = cld_node_new(g, bop, a->ndim, a->shape);
      if (d) { d->src[0] = gr; d->flags |= a->flags & T_TILES; } /* dM in M's layout */
      if (d && part) d->ip[2] = part->id + 1;
      acc(g, a, d);
    }
    if (part) {
      int64_t bs[3] = {per_image ? t->shape[0] : 1, t->shape[1], 1};
      acc(g, b, cld_sum_to(g, part, 3, bs));
    } else if (nb) { /* the output transform's bias, (O) or per image (N, O) */
      int64_t bs[4] = {per_image ? t->shape[0] : 1, t->shape[1], 1, 1};
      acc(g, b, cld_sum_to(g, gr, 4, bs));
    }
    if (t->op == OP_WINO_OUT && t->src[2] && needs[t->src[2]->id]) acc(g, t->src[2], gr); /* the residual */
    break;
  }
  case OP_NORM_ROWS:
    if (na) {
      cld_tensor *d = bwd_node(g, OP_NORM_ROWS_BWD, a, gr);
      if (d) { memcpy(d->ip, t->ip, sizeof d->ip); d->fp[0] = t->fp[0]; }
      acc(g, a, d);
    }
    break;
  case OP_GROUP_NORM: {
    /* dx from one kernel; gamma's and beta's gradients from per-sample sums (2, N, C) summed over N */
    cld_tensor *gm = t->src[1], *bt = t->src[2];
    bool ng = gm && needs[gm->id], nbt = bt && needs[bt->id];
    cld_tensor *part = NULL;
    if (ng || nbt) {
      int64_t ps[3] = {2, a->shape[0], a->shape[1]};
      part = group_norm_bwd(g, t, gr, OP_GROUP_NORM_BWD_PARAM, 3, ps);
    }
    if (na) {
      cld_tensor *d = group_norm_bwd(g, t, gr, OP_GROUP_NORM_BWD, a->ndim, a->shape);
      /* one kernel writes both (part's own node launches nothing) where a group's channels' partial
       * sums fit local memory: 32 channels x 64 items x 8 bytes, half the least OpenCL 1.2 allows */
      if (d && part && g->fuse && a->shape[1] / t->ip[0] <= GN_FUSED_MAX_CPG) {
        d->ip[2] = part->id + 1;
        part->ip[2] = 1;
      }
      acc(g, a, d);
    }
    if (part) {
      int64_t ss[3] = {2, 1, a->shape[1]};
      cld_tensor *sum = cld_sum_to(g, part, 3, ss);
      if (ng) acc(g, gm, cld_slice(g, sum, 0, 0, 1));
      if (nbt) acc(g, bt, cld_slice(g, sum, 0, 1, 1));
    }
    break;
  }
  case OP_SOFTMAX: if (na) acc(g, a, bwd_node(g, OP_SOFTMAX_BWD, t, gr)); break;
  case OP_ATTENTION: { /* the fused forward kept no scores: recompute p, then o = v p^T's rules */
    cld_tensor *v = t->src[2];
    bool nv = needs[v->id];
    cld_tensor *p = cld_softmax(g, cld_matmul(g, a, b, true, false));
    if (nv) acc(g, v, cld_matmul(g, gr, p, false, false));
    if (na || nb) {
      cld_tensor *ds = bwd_node(g, OP_SOFTMAX_BWD, p, cld_matmul(g, gr, v, true, false));
      if (na) acc(g, a, cld_matmul(g, b, ds, false, true));
      if (nb) acc(g, b, cld_matmul(g, a, ds, false, false));
    }
    break;
  }
  case OP_DROPOUT:
    if (na) {
      cld_tensor *d = cld_unary(g, OP_DROPOUT, gr);
      if (d) { d->fp[0] = t->fp[0]; d->ip[0] = t->ip[0]; }
      acc(g, a, d);
    }
    break;
  default:
    if (na || nb)
      cld_graph_fail(g, CLD_ERR_STATE, "backward: op %d (node %d '%s') has no gradient rule", (int)t->op, t->id, t->name);
    break;
  }
  return g->status;
}

cld_status cld_graph_backward(cld_graph *g, cld_tensor *loss) {
  if (!g) return CLD_ERR_INVALID_ARG;
  if (g->status) return g->status;
  if (!loss) { cld_graph_fail(g, CLD_ERR_INVALID_ARG, "backward: loss is NULL"); return g->status; }
  if (loss->numel != 1) {
    cld_graph_fail(g, CLD_ERR_SHAPE, "backward: loss must have one element, has %lld", (long long)loss->numel);
    return g->status;
  }
  int n = loss->id + 1;
  bool *needs = calloc((size_t)n, sizeof *needs);
  if (!needs) { cld_graph_fail(g, CLD_ERR_NOMEM, "%s: out of host memory", __func__); return g->status; }
  for (int i = 0; i < n; i++) {
    cld_tensor *t = g->nodes[i];
    needs[i] = (t->flags & T_REQ_GRAD) != 0;
    for (int s = 0; s < CLD_NSRC && !needs[i] && !(t->flags & T_NO_GRAD); s++)
      if (t->src[s] && t->src[s]->id < n && needs[t->src[s]->id] && t->op != OP_TIMESTEP_EMB) needs[i] = true;
  }
  int gate = g->build_gate; /* backward nodes take the gate of the node they differentiate */
  g->build_gate = loss->gate;
  loss->grad = cld_affine(g, loss, 0.0f, 1.0f); /* d loss / d loss = 1 */
  for (int i = n - 1; i >= 0 && !g->status; i--) {
    cld_tensor *t = g->nodes[i];
    g->build_gate = t->gate;
    if (t->grad && needs[i]) backward_one(g, t, needs);
  }
  g->build_gate = 0; /* the landing sums below always run */
  free(needs);
  if (g->status) { g->build_gate = gate; return g->status; }

  /* Land parameter gradients in the store: sum over nodes that share one parameter id. */
  int total = g->n;
  for (int i = 0; i < total && !g->status; i++) {
    cld_tensor *p = g->nodes[i];
    if (p->op != OP_PARAM || !p->grad || p->grad->store_id != -1) continue;
    cld_tensor *sum = p->grad;
    for (int j = i + 1; j < total; j++) {
      cld_tensor *q = g->nodes[j];
      if (q->op == OP_PARAM && q->store_id == p->store_id && q->grad) {
        sum = cld_add(g, sum, q->grad);
        q->grad->store_id = -2; /* mark handled */
      }
    }
    /* Private when only this parameter's chain made it: not a view or leaf, used by nothing. */
    bool private_node = sum->op != OP_RESHAPE && sum->op != OP_INPUT && sum->op != OP_PARAM && sum->store_id == -1;
    for (int j = 0; j < g->n && private_node; j++) {
      cld_tensor *q = g->nodes[j];
      for (int s = 0; s < CLD_NSRC; s++) if (q->src[s] == sum) private_node = false;
      if (q != p && q->grad == sum) private_node = false;
    }
    if (!private_node) sum = cld_copy(g, sum);
    if (!sum) break;
    sum->store_id = p->store_id;
    sum->flags |= T_KEEP;
    p->grad = sum;
    for (int j = i + 1; j < total; j++)
      if (g->nodes[j]->op == OP_PARAM && g->nodes[j]->store_id == p->store_id) g->nodes[j]->grad = sum;
  }
  /* input gradients stay readable */
  for (int i = 0; i < total; i++)
    if (g->nodes[i]->op == OP_INPUT && g->nodes[i]->grad) g->nodes[i]->grad->flags |= T_KEEP;
  g->build_gate = gate;
  return g->status;
}
