/* Memory planning: every non-leaf, non-view tensor gets an offset in one arena. With reuse on, a
 * tensor's block returns to a best-fit free list after its last reader (views extend their root's
 * life; kept tensors live to the end). The arena is split into chunks no larger than the device's
 * largest buffer (PoCL allows 4 GiB, fmnist-s at batch 64 needs 4.2): no block crosses a chunk
 * boundary, and each chunk is its own cl_mem. Guard mode lays tensors out without reuse and
 * surrounds each with sentinel floats that cld_graph_check_guards verifies. */
#include "graph/graph_internal.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64 bytes */
#define GUARD_BITS 0x7fc0deadu

static size_t align_up(size_t n) { return (n + ALIGN_FLOATS - 1) & ~(size_t)(ALIGN_FLOATS - 1); }

typedef struct { size_t off, size; } block;
typedef struct { block *b; int n, cap; size_t top, chunk; } freelist;

/* the start of the next chunk when [off, off + size) would cross a chunk boundary */
static size_t fit_chunk(const freelist *f, size_t off, size_t size) {
  size_t in = off % f->chunk;
  return in + size > f->chunk ? off - in + f->chunk : off;
}

static int fl_push(freelist *f, size_t off, size_t size) {
  if (f->n == f->cap) {
    int cap = f->cap ? 2 * f->cap : 64;
    block *nb = realloc(f->b, (size_t)cap * sizeof *nb);
    if (!nb) return -1;
    f->b = nb;
    f->cap = cap;
  }
  /* keep sorted by offset, coalesce neighbours */
  int i = 0;
  while (i < f->n && f->b[i].off < off) i++;
  memmove(&f->b[i + 1], &f->b[i], (size_t)(f->n - i) * sizeof *f->b);
  f->b[i] = (block){off, size};
  f->n++;
  /* coalesce only within a chunk, so every free block lies in one */
  if (i + 1 < f->n && f->b[i].off + f->b[i].size == f->b[i + 1].off && f->b[i + 1].off % f->chunk) {
    f->b[i].size += f->b[i + 1].size;
    memmove(&f->b[i + 1], &f->b[i + 2], (size_t)(f->n - i - 2) * sizeof *f->b);
    f->n--;
  }
  if (i > 0 && f->b[i - 1].off + f->b[i - 1].size == f->b[i].off && f->b[i].off % f->chunk) {
    f->b[i - 1].size += f->b[i].size;
    memmove(&f->b[i], &f->b[i + 1], (size_t)(f->n - i - 1) * sizeof *f->b);
    f->n--;
  }
  return 0;
}

static size_t fl_alloc(freelist *f, size_t size) {
  int best = -1;
  for (int i = 0; i < f->n; i++)
    if (f->b[i].size >= size && (best < 0 || f->b[i].size < f->b[best].size)) best = i;
  if (best >= 0) {
    size_t off = f->b[best].off;
    f->b[best].off += size;
    f->b[best].size -= size;
    if (f->b[best].size == 0) {
      memmove(&f->b[best], &f->b[best + 1], (size_t)(f->n - best - 1) * sizeof *f->b);
      f->n--;
    }
    return off;
  }
  /* grow the top; absorb a free block that ends at the top when the result stays in its chunk */
  if (f->n && f->b[f->n - 1].off + f->b[f->n - 1].size == f->top && fit_chunk(f, f->b[f->n - 1].off, size) == f->b[f->n - 1].off) {
    size_t off = f->b[f->n - 1].off;
    f->n--;
    f->top = off + size;
    return off;
  }
  size_t off = fit_chunk(f, f->top, size);
  f->top = off + size;
  return off;
}

cld_plan_params cld_plan_params_default(void) {
  cld_plan_params p = {true, 0, 0};
  return p;
}

static bool is_arena(const cld_tensor *t) { return t->storage == ST_ARENA; }

/* each node's storage class, and its last use (liveness on view roots; kept tensors live forever) */
static void classify(cld_graph *g) {
  for (int i = 0; i < g->n; i++) {
    cld_tensor *t = g->nodes[i];
    t->last_use = i;
    if (t->op == OP_INPUT) t->storage = ST_INPUT;
    else if (t->op == OP_PARAM) t->storage = ST_STORE;
    else if (t->op == OP_RESHAPE) t->storage = ST_VIEW;
    else if (t->store_id >= 0) t->storage = ST_STORE_GRAD;
    else t->storage = ST_ARENA;
  }
  for (int i = 0; i < g->n; i++) {
    cld_tensor *t = g->nodes[i];
    for (int s = 0; s < CLD_NSRC; s++)
      if (t->src[s]) {
        cld_tensor *r = cld_view_root(t->src[s]);
        if (r->last_use < i) r->last_use = i;
      }
    if (t->flags & T_KEEP) cld_view_root(t)->last_use = INT_MAX;
  }
}

/* arena offsets for every arena tensor (reusing what died when reuse is on), the arena's size and
 * chunk size; a tensor larger than a chunk fails with the numbers */
static cld_status place_arena(cld_graph *g, const cld_plan_params *pp, bool reuse, size_t guard) {
  /* free lists per node index */
  int *next_free = malloc((size_t)g->n * sizeof(int)), *head = malloc((size_t)g->n * sizeof(int));
  freelist fl = {0};
  size_t max_floats = g->ctx->info.max_alloc ? (size_t)(g->ctx->info.max_alloc / sizeof(float)) : SIZE_MAX / 8;
  fl.chunk = pp->chunk_floats > 0 && pp->chunk_floats < max_floats ? pp->chunk_floats : max_floats;
  fl.chunk = fl.chunk / ALIGN_FLOATS * ALIGN_FLOATS;
  if (fl.chunk == 0) fl.chunk = ALIGN_FLOATS;
  if (!next_free || !head) { free(next_free); free(head); return cld_seterr(g->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  for (int i = 0; i < g->n; i++) head[i] = -1;
  for (int i = 0; i < g->n; i++) {
    cld_tensor *t = g->nodes[i];
    if (!is_arena(t) || t->last_use == INT_MAX) continue;
    next_free[i] = head[t->last_use];
    head[t->last_use] = i;
  }
  fl.top = guard;
  int oom = 0, big = -1;
  for (int i = 0; i < g->n && !oom && big < 0; i++) {
    cld_tensor *t = g->nodes[i];
    if (is_arena(t)) {
      size_t size = align_up((size_t)STORED_NUMEL(t));
      if (size + guard > fl.chunk) { big = i; break; }
      if (reuse) t->off = fl_alloc(&fl, size);
      else { t->off = fit_chunk(&fl, fl.top, size + guard); fl.top = t->off + size + guard; }
    }
    if (reuse)
      for (int j = head[i]; j >= 0; j = next_free[j])
        if (fl_push(&fl, g->nodes[j]->off, align_up((size_t)STORED_NUMEL(g->nodes[j])))) oom = 1;
  }
  g->arena_floats = fl.top > 0 ? fl.top : ALIGN_FLOATS;
  g->arena_chunk = fl.chunk;
  free(fl.b);
  free(next_free);
  free(head);
  if (oom) return cld_seterr(g->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  if (big >= 0)
    return cld_seterr(g->ctx, CLD_ERR_NOMEM, "node %d (op %d, '%s') needs %zu MiB, more than the %zu MiB the device allows per buffer",
                      g->nodes[big]->id, (int)g->nodes[big]->op, g->nodes[big]->name,
                      (size_t)STORED_NUMEL(g->nodes[big]) * sizeof(float) >> 20, fl.chunk * sizeof(float) >> 20);
  return CLD_OK;
}

/* the arena's device buffers, one per chunk, filled with the guard pattern in guard mode */
static cld_status alloc_arena(cld_graph *g, size_t guard) {
  cl_int e;
  int nch = (int)((g->arena_floats + g->arena_chunk - 1) / g->arena_chunk);
  g->arena = calloc((size_t)nch, sizeof *g->arena);
  if (!g->arena) return cld_seterr(g->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int c = 0; c < nch; c++) {
    size_t floats = c + 1 < nch ? g->arena_chunk : g->arena_floats - (size_t)c * g->arena_chunk;
    g->arena[c] = clCreateBuffer(g->ctx->context, CL_MEM_READ_WRITE, floats * sizeof(float), NULL, &e);
    if (e != CL_SUCCESS) {
      char what[96];
      snprintf(what, sizeof what, "allocating graph arena (%zu MiB in all, chunk %d of %d)",
               g->arena_floats * sizeof(float) >> 20, c + 1, nch);
      return cld_clerr(g->ctx, e, what);
    }
    g->n_arena = c + 1;
    if (guard) {
      uint32_t bits = GUARD_BITS;
      e = clEnqueueFillBuffer(g->ctx->queue, g->arena[c], &bits, sizeof bits, 0, floats * sizeof(float), 0, NULL, NULL);
      if (e != CL_SUCCESS) return cld_clerr(g->ctx, e, "filling guard bands");
    }
  }
  return CLD_OK;
}

/* every node's buffer and offset: arena chunks, its own input buffer, the store, a view's root */
static cld_status bind_storage(cld_graph *g) {
  cl_int e;
  g->inputs = calloc((size_t)g->n, sizeof *g->inputs);
  if (!g->inputs) return cld_seterr(g->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int i = 0; i < g->n; i++) {
    cld_tensor *t = g->nodes[i];
    switch (t->storage) {
    case ST_ARENA: t->mem = g->arena[t->off / g->arena_chunk]; t->off %= g->arena_chunk; break;
    case ST_INPUT:
      t->mem = clCreateBuffer(g->ctx->context, CL_MEM_READ_WRITE, (size_t)t->numel * sizeof(float), NULL, &e);
      if (e != CL_SUCCESS) return cld_clerr(g->ctx, e, "allocating input buffer");
      g->inputs[g->n_inputs++] = t->mem;
      t->off = 0;
      break;
    case ST_STORE: t->mem = g->store->params; t->off = g->store->p[t->store_id].off; break;
    case ST_STORE_GRAD: t->mem = g->store->grads; t->off = g->store->p[t->store_id].off; break;
    default: break;
    }
  }
  for (int i = 0; i < g->n; i++) {
    cld_tensor *t = g->nodes[i];
    if (t->storage == ST_VIEW) {
      cld_tensor *r = cld_view_root(t);
      t->mem = r->mem;
      t->off = r->off;
    }
  }
  return CLD_OK;
}

cld_status cld_graph_plan(cld_graph *g, const cld_plan_params *pp) {
  if (!g) return CLD_ERR_INVALID_ARG;
  if (g->status) return g->status;
  if (g->planned) return cld_seterr(g->ctx, CLD_ERR_STATE, "graph already planned");
  cld_plan_params def = cld_plan_params_default();
  if (!pp) pp = &def;
  bool reuse = pp->reuse_memory && pp->guard_floats <= 0;
  size_t guard = pp->guard_floats > 0 ? align_up((size_t)pp->guard_floats) : 0;
  g->guard = (int)guard;
  cld_status st;
  if (g->store && (st = cld_store_alloc(g->store))) return st;
  classify(g);
  if ((st = place_arena(g, pp, reuse, guard)) || (st = alloc_arena(g, guard)) || (st = bind_storage(g))) return st;
  g->planned = true;
  st = cld_exec_lower(g);
  if (st) g->planned = false;
  return st;
}

size_t cld_graph_arena_bytes(const cld_graph *g) { return g ? g->arena_floats * sizeof(float) : 0; }

cld_status cld_graph_check_guards(cld_graph *g) {
  if (!g || !g->planned) return CLD_ERR_STATE;
  if (!g->guard) return CLD_OK;
  size_t n = g->arena_floats;
  uint32_t *buf = malloc(n * sizeof *buf);
  if (!buf) return cld_seterr(g->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int c = 0; c < g->n_arena; c++) { /* the chunks back to back: global offsets again */
    size_t o = (size_t)c * g->arena_chunk, floats = c + 1 < g->n_arena ? g->arena_chunk : n - o;
    cl_int e = clEnqueueReadBuffer(g->ctx->queue, g->arena[c], CL_TRUE, 0, floats * sizeof *buf, buf + o, 0, NULL, NULL);
    if (e != CL_SUCCESS) { free(buf); return cld_clerr(g->ctx, e, "reading arena"); }
  }
  cld_status st = CLD_OK;
  for (size_t i = 0; i < (size_t)g->guard && !st; i++)
    if (buf[i] != GUARD_BITS) st = cld_seterr(g->ctx, CLD_ERR_STATE, "guard band before the first tensor was overwritten");
  for (int i = 0; i < g->n && !st; i++) {
    cld_tensor *t = g->nodes[i];
    if (t->storage != ST_ARENA) continue;
    size_t base = 0;
    for (int c = 0; c < g->n_arena; c++)
      if (g->arena[c] == t->mem) base = (size_t)c * g->arena_chunk;
    size_t off = base + t->off, end = off + align_up((size_t)STORED_NUMEL(t));
    for (size_t k = off + (size_t)STORED_NUMEL(t); k < end + (size_t)g->guard; k++)
      if (buf[k] != GUARD_BITS) {
        st = cld_seterr(g->ctx, CLD_ERR_STATE, "guard band after node %d (op %d, '%s') overwritten at +%zu",
                        t->id, (int)t->op, t->name, k - off);
        break;
      }
  }
  free(buf);
  return st;
}
