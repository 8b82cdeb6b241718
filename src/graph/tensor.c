/* Shape helpers of graph tensors, shared by the op constructors, the planner and the executor. */
#include "graph/graph_internal.h"

cld_tensor *cld_view_root(cld_tensor *t) {
  while (t->op == OP_RESHAPE) t = t->src[0];
  return t;
}

void cld_shape4(const cld_tensor *t, int64_t out[4]) {
  int pad = 4 - t->ndim;
  for (int i = 0; i < 4; i++) out[i] = i < pad ? 1 : t->shape[i - pad];
}

bool cld_same_shape(const cld_tensor *a, const cld_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

