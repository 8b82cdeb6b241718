/* Group norm (+ SiLU) into the Winograd input transform that reads it, at plan time: the F(4x4)
 * input transform loads the raw image and normalises each value itself (cl/winograd4.cl -DGN=1),
 * and the group norm node only computes its statistics (k_group_norm_stats), which it writes at
 * the start of its own buffer. The normalised image, as large as the conv's input, is then never
 * written nor read again: on CPUs, where both kernels wait on memory, that is most of their cost.
 *
 * Only where nothing else reads the normalised image: the transform is its one reader (no view,
 * no other op; the group norm's gradient reads x, not y) and it is not kept for the caller.
 * CLDIFF_FUSE=0 leaves the graph as built, the reference the fused one is tested against. */
#include "graph/graph_internal.h"

/* how many node sources name t */
static int readers(const cld_graph *g, const cld_tensor *t) {
  int n = 0;
  for (int i = 0; i < g->n; i++)
    for (int s = 0; s < CLD_NSRC; s++) n += g->nodes[i]->src[s] == t;
  return n;
}

static bool fusable(const cld_graph *g, const cld_tensor *w) {
  const cld_tensor *h = w->src[0];
  /* the statistics, (mean, rstd) per (image, group), must fit the node's own buffer */
  return w->op == OP_WINO_IN && w->shape[0] == 36 && !w->src[1] && h && h->op == OP_GROUP_NORM && h->ndim == 4 &&
         !(h->flags & T_KEEP) && h->gate == w->gate && h->numel >= 2 * h->shape[0] * h->ip[0] && readers(g, h) == 1;
}

void cld_fuse_gn_wino(cld_graph *g) {
  if (!g->fuse) return;
  for (int i = 0; i < g->n; i++) {
    cld_tensor *w = g->nodes[i];
    if (!fusable(g, w)) continue;
    cld_tensor *h = w->src[0];
    w->src[1] = h->src[0]; /* the image; src0 stays the group norm node, now its statistics */
    w->src[2] = h->src[1];
    w->src[3] = h->src[2];
    w->ip[3] = 1;
    h->ip[3] = 1;
  }
}
