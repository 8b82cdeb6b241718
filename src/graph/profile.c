/* CLDIFF_PROFILE: per-op-kind and per-GEMM-shape device time (Winograd's summed NT weight
 * gradient listed with the GEMMs) of a graph's launches (the executor
 * drains the queue after every launch when profiling), printed when the graph is released. A launch
 * that fails while profiling is named (op, node, sizes), which pins asynchronous device errors. */
#include "graph/graph_internal.h"
#include <stdio.h>
#include <stdlib.h>

void cld_profile_charge(cld_graph *g, const cld_launch *l, double dt) {
  if (g->run == 0) return; /* the first run pays for kernel builds and first touches: not charged */
  int op = l->node >= 0 ? (int)g->nodes[l->node]->op : 0;
  g->prof_s[op] += dt;
  g->prof_n[op]++;
  cld_gemm_call c;
  int64_t panels = 0;
  if (l->is_gemm) c = l->gemm;
  else if (op == OP_MATMUL_SUM_NT) { /* (G,P,R,N) x (G,P,S,N) summed over P: an NT GEMM of k = P N */
    const cld_tensor *x = g->nodes[l->node]->src[0], *y = g->nodes[l->node]->src[1];
    c = (cld_gemm_call){.m = x->shape[2], .n = y->shape[2], .k = x->shape[1] * x->shape[3], .batch = x->shape[0],
                        .trans_b = true};
    panels = x->shape[1];
  } else return;
  int j = 0;
  for (; j < g->n_prof_g; j++) {
    struct prof_gemm *q = &g->prof_g[j];
    if (q->m == c.m && q->n == c.n && q->k == c.k && q->batch == c.batch && q->ta == c.trans_a && q->tb == c.trans_b &&
        q->panels == panels)
      break;
  }
  if (j == g->n_prof_g) {
    void *np = realloc(g->prof_g, (size_t)(j + 1) * sizeof *g->prof_g);
    if (!np) return;
    g->prof_g = np;
    g->prof_g[j] = (struct prof_gemm){c.m, c.n, c.k, c.batch, panels, c.trans_a, c.trans_b, 0, 0};
    g->n_prof_g++;
  }
  g->prof_g[j].s += dt;
  g->prof_g[j].calls++;
}

static const char *op_name(int op) {
  static const char *names[OP_COUNT] = {
      "input", "param", "add", "sub", "mul", "div", "affine", "silu", "relu", "tanh", "exp", "log", "sqrt", "square",
      "silu_bwd", "relu_bwd", "tanh_bwd", "reshape", "permute", "slice", "pad", "concat", "broadcast", "sum_to",
      "upsample2x", "upsample2x_bwd", "matmul", "im2col", "col2im", "norm_rows", "norm_rows_bwd", "softmax",
      "softmax_bwd", "timestep_emb", "dropout", "randn", "rand", "copy", "clamp_min", "clamp_min_bwd",
      "wino_w", "wino_w_bwd", "wino_in", "wino_in_bwd", "wino_out", "wino_out_bwd", "group_norm",
      "group_norm_bwd", "group_norm_bwd_param", "matmul_sum_nt", "wino_out_bsum", "attention"};
  return op >= 0 && op < OP_COUNT && names[op] ? names[op] : "?";
}

cld_status cld_profile_fail(cld_graph *g, const cld_launch *l, cl_int e) {
  const cld_tensor *t = l->node >= 0 ? g->nodes[l->node] : NULL;
  char what[256];
  if (l->is_gemm)
    snprintf(what, sizeof what, "GEMM m=%lld n=%lld k=%lld batch=%lld %c%c of node %d", (long long)l->gemm.m,
                     (long long)l->gemm.n, (long long)l->gemm.k, (long long)l->gemm.batch, l->gemm.trans_a ? 'T' : 'N',
                     l->gemm.trans_b ? 'T' : 'N', l->node);
  else
    snprintf(what, sizeof what, "kernel of op %s, node %d '%s' (global %zu x %zu x %zu, local %zu x %zu x %zu)",
                   op_name(t ? (int)t->op : 0), l->node, t ? t->name : "?", l->gws[0], l->dim > 1 ? l->gws[1] : 1,
             l->dim > 2 ? l->gws[2] : 1, l->use_lws ? l->lws[0] : 0, l->use_lws && l->dim > 1 ? l->lws[1] : 0,
             l->use_lws && l->dim > 2 ? l->lws[2] : 0);
  return cld_clerr(g->ctx, e, what);
}

void cld_profile_report(cld_graph *g) {
  if (!g->prof_s) return;
  double total = 0;
  for (int i = 0; i < OP_COUNT; i++) total += g->prof_s[i];
  uint64_t nrun = g->run > 1 ? g->run - 1 : 1;
  fprintf(stderr, "cldiff profile (%llu runs after the first, %.3f s per run):\n", (unsigned long long)(g->run > 0 ? g->run - 1 : 0),
          total / (double)nrun);
  for (int pass = 0; pass < OP_COUNT; pass++) {
    int best = -1;
    for (int i = 0; i < OP_COUNT; i++)
      if (g->prof_n[i] > 0 && (best < 0 || g->prof_s[i] > g->prof_s[best])) best = i;
    if (best < 0) break;
    fprintf(stderr, "  %-16s %8.3f s/run %5.1f%%  %lld launches/run\n", op_name(best), g->prof_s[best] / (double)nrun,
            100 * g->prof_s[best] / (total > 0 ? total : 1), (long long)(g->prof_n[best] / (int64_t)nrun));
    g->prof_n[best] = -g->prof_n[best] - 1; /* mark printed */
  }
  double runs = (double)nrun;
  for (int pass = 0; pass < 24 && g->n_prof_g; pass++) {
    int best = -1;
    for (int i = 0; i < g->n_prof_g; i++)
      if (g->prof_g[i].calls > 0 && (best < 0 || g->prof_g[i].s > g->prof_g[best].s)) best = i;
    if (best < 0) break;
    struct prof_gemm *q = &g->prof_g[best];
    double fl = 2.0 * q->m * q->n * q->k * q->batch * q->calls;
    char kind[32] = "";
    if (q->panels) snprintf(kind, sizeof kind, " summed over %lld panel%s", (long long)q->panels, q->panels > 1 ? "s" : "");
    fprintf(stderr, "  gemm m=%lld n=%lld k=%lld b=%lld %c%c%s: %.3f s/run, %lld calls/run, %.0f GFLOP/s\n", (long long)q->m,
            (long long)q->n, (long long)q->k, (long long)q->batch, q->ta ? 'T' : 'N', q->tb ? 'T' : 'N', kind, q->s / runs,
            (long long)(q->calls / (int64_t)runs), fl / q->s * 1e-9);
    q->calls = -q->calls;
  }
  free(g->prof_g);
  g->prof_g = NULL;
  g->n_prof_g = 0;
}

