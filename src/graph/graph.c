/* Graph and parameter-store bookkeeping: node allocation, sticky construction errors, leaves,
 * tensor facts. Op constructors live in ops.c, gradients in autodiff.c, memory in plan.c and
 * kernels in exec.c. */
#include "graph/graph_internal.h"
#include "runtime/gemm.h"
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- store ------------------------------------------------------------------------------ */
cld_status cld_store_create(cld_ctx *ctx, cld_store **out) {
  if (!ctx || !out) return CLD_ERR_INVALID_ARG;
  cld_store *s = calloc(1, sizeof *s);
  if (!s) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  s->ctx = ctx;
  *out = s;
  return CLD_OK;
}

void cld_store_destroy(cld_store *s) {
  if (!s) return;
  if (s->params) clReleaseMemObject(s->params);
  if (s->grads) clReleaseMemObject(s->grads);
  free(s->p);
  free(s);
}

int cld_store_add(cld_store *s, const char *name, int ndim, const int64_t *shape) {
  if (!s || !name || ndim < 1 || ndim > 4 || !shape) return CLD_ERR_INVALID_ARG;
  if (s->params) return cld_seterr(s->ctx, CLD_ERR_STATE, "store: cannot add '%s' after allocation", name);
  if (cld_store_find(s, name) >= 0) return cld_seterr(s->ctx, CLD_ERR_INVALID_ARG, "store: duplicate parameter '%s'", name);
  if (strlen(name) >= sizeof s->p[0].name) return cld_seterr(s->ctx, CLD_ERR_INVALID_ARG, "store: name too long '%s'", name);
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 64;
    void *np = realloc(s->p, (size_t)cap * sizeof *s->p);
    if (!np) return cld_seterr(s->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    s->p = np;
    s->cap = cap;
  }
  struct store_param *p = &s->p[s->n];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  p->ndim = ndim;
  p->numel = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] <= 0) return cld_seterr(s->ctx, CLD_ERR_SHAPE, "store: '%s' dim %d is %lld", name, i, (long long)shape[i]);
    p->shape[i] = shape[i];
    p->numel *= shape[i];
  }
  p->off = s->total;
  s->total += ((size_t)p->numel + 15) & ~(size_t)15; /* 64-byte aligned slots */
  return s->n++;
}

int cld_store_count(const cld_store *s) { return s ? s->n : 0; }
cld_ctx *cld_store_ctx(const cld_store *s) { return s ? s->ctx : NULL; }
int cld_store_find(const cld_store *s, const char *name) {
  for (int i = 0; s && i < s->n; i++)
    if (!strcmp(s->p[i].name, name)) return i;
  return -1;
}
const char *cld_store_name(const cld_store *s, int id) { return s && id >= 0 && id < s->n ? s->p[id].name : NULL; }
int64_t cld_store_numel(const cld_store *s, int id) { return s && id >= 0 && id < s->n ? s->p[id].numel : 0; }
int64_t cld_store_total(const cld_store *s) { return s ? (int64_t)s->total : 0; }
int cld_store_shape(const cld_store *s, int id, int64_t shape[4]) {
  if (!s || id < 0 || id >= s->n) return 0;
  memcpy(shape, s->p[id].shape, sizeof s->p[id].shape);
  return s->p[id].ndim;
}

cld_status cld_store_alloc(cld_store *s) {
  if (s->params) return CLD_OK;
  size_t bytes = (s->total ? s->total : 16) * sizeof(float);
  cl_int e;
  s->params = clCreateBuffer(s->ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &e);
  if (e != CL_SUCCESS) return cld_clerr(s->ctx, e, "allocating parameter store");
  s->grads = clCreateBuffer(s->ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &e);
  if (e != CL_SUCCESS) return cld_clerr(s->ctx, e, "allocating gradient store");
  float zero = 0.0f;
  e = clEnqueueFillBuffer(s->ctx->queue, s->params, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
  if (e == CL_SUCCESS) e = clEnqueueFillBuffer(s->ctx->queue, s->grads, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(s->ctx, e, "clearing parameter store");
}

static cld_status store_io(cld_store *s, int id, float *data, bool grad, bool write) {
  if (!s || !data || id < 0 || id >= s->n) return CLD_ERR_INVALID_ARG;
  cld_status st = cld_store_alloc(s);
  if (st) return st;
  cl_mem m = grad ? s->grads : s->params;
  size_t off = s->p[id].off * sizeof(float), n = (size_t)s->p[id].numel * sizeof(float);
  cl_int e = write ? clEnqueueWriteBuffer(s->ctx->queue, m, CL_TRUE, off, n, data, 0, NULL, NULL)
                   : clEnqueueReadBuffer(s->ctx->queue, m, CL_TRUE, off, n, data, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(s->ctx, e, write ? "writing parameter" : "reading parameter");
}
cld_status cld_store_write(cld_store *s, int id, const float *data) { return store_io(s, id, (float *)data, false, true); }
cld_status cld_store_read(cld_store *s, int id, float *data) { return store_io(s, id, data, false, false); }
cld_status cld_store_read_grad(cld_store *s, int id, float *data) { return store_io(s, id, data, true, false); }

/* ---- graph ------------------------------------------------------------------------------ */
cld_graph *cld_graph_create(cld_ctx *ctx) {
  if (!ctx) return NULL;
  cld_graph *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->ctx = ctx;
  g->training = true;
  g->gate_limit = INT_MAX;
  const char *algo = getenv("CLDIFF_CONV");
  if (algo && !strcmp(algo, "im2col")) g->conv_algo = CLD_CONV_IM2COL;
  else if (algo && !strcmp(algo, "winograd")) g->conv_algo = CLD_CONV_WINOGRAD;
  /* Winograd's tiles in panels make each operand block of the built-in GEMM contiguous, which
   * CPUs reward; GPUs keep the plain layout, one large GEMM per transform component (CLBlast).
   * CPUs whose host provider runs on oneDNN take one panel of all tiles: one product per
   * component over every tile, as oneDNN wants, with the transforms' writes still in one block
   * per channel (the plain layout's 36 streams a plane apart ran the input transform 2x slower) */
  g->wino_panel = ctx->info.is_gpu ? 0 : cld_gemm_host_preferred(ctx) ? -1 : 32;
  const char *panel = getenv("CLDIFF_WINO_PANEL");
  if (panel && !strcmp(panel, "0")) g->wino_panel = 0;
  else if (panel && !strcmp(panel, "32")) g->wino_panel = 32;
  else if (panel && !strcmp(panel, "all")) g->wino_panel = -1;
  const char *tile = getenv("CLDIFF_WINO_TILE");
  g->wino_tile = tile && !strcmp(tile, "2") ? 2 : 4;
  const char *fuse = getenv("CLDIFF_FUSE");
  g->fuse = !(fuse && !strcmp(fuse, "0"));
  return g;
}

void cld_graph_set_conv_algo(cld_graph *g, cld_conv_algo algo) {
  if (g) g->conv_algo = (int)algo;
}

void cld_graph_set_gate(cld_graph *g, int gate) {
  if (g) g->build_gate = gate > 0 ? gate : 0;
}

void cld_graph_set_gate_limit(cld_graph *g, int limit) {
  if (g) g->gate_limit = limit > 0 ? limit : INT_MAX;
}

void cld_graph_destroy(cld_graph *g) {
  if (!g) return;
  cld_exec_release(g);
  for (int i = 0; i < g->n; i++) free(g->nodes[i]);
  free(g->nodes);
  free(g);
}

cld_status cld_graph_status(const cld_graph *g) { return g ? g->status : CLD_ERR_INVALID_ARG; }
const char *cld_graph_errmsg(const cld_graph *g) { return g ? g->errmsg : "no graph"; }
int cld_graph_n_nodes(const cld_graph *g) { return g ? g->n : 0; }

cld_tensor *cld_graph_fail(cld_graph *g, cld_status st, const char *fmt, ...) {
  if (g->status == CLD_OK) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
    va_end(ap);
    g->status = st;
    cld_seterr(g->ctx, st, "%s", g->errmsg);
  }
  return NULL;
}

cld_tensor *cld_node_new(cld_graph *g, cld_op op, int ndim, const int64_t *shape) {
  if (g->planned) return cld_graph_fail(g, CLD_ERR_STATE, "graph already planned: cannot add nodes");
  if (ndim < 1 || ndim > 4) return cld_graph_fail(g, CLD_ERR_SHAPE, "tensors have 1 to 4 dims, got %d", ndim);
  int64_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] <= 0) return cld_graph_fail(g, CLD_ERR_SHAPE, "dim %d is %lld (must be > 0)", i, (long long)shape[i]);
    numel *= shape[i];
  }
  if (numel > INT32_MAX) return cld_graph_fail(g, CLD_ERR_SHAPE, "tensor of %lld elements is too large", (long long)numel);
  if (g->n == g->cap) {
    int cap = g->cap ? g->cap * 2 : 256;
    void *nn = realloc(g->nodes, (size_t)cap * sizeof *g->nodes);
    if (!nn) return cld_graph_fail(g, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    g->nodes = nn;
    g->cap = cap;
  }
  cld_tensor *t = calloc(1, sizeof *t);
  if (!t) return cld_graph_fail(g, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  t->id = g->n;
  t->op = op;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->numel = numel;
  t->store_id = -1;
  t->gate = g->build_gate;
  g->nodes[g->n++] = t;
  return t;
}

cld_tensor *cld_input(cld_graph *g, const char *name, int ndim, const int64_t *shape) {
  if (!g || g->status || !shape) return NULL;
  cld_tensor *t = cld_node_new(g, OP_INPUT, ndim, shape);
  if (t) snprintf(t->name, sizeof t->name, "%s", name ? name : "input");
  return t;
}

cld_tensor *cld_input_4d(cld_graph *g, const char *name, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  int64_t s[4] = {d0, d1, d2, d3};
  return cld_input(g, name, 4, s);
}

cld_tensor *cld_param(cld_graph *g, cld_store *s, int id) {
  if (!g || g->status) return NULL;
  if (!s || id < 0 || id >= s->n) return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "cld_param: no parameter %d in store", id);
  if (g->store && g->store != s) return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "cld_param: a graph takes parameters from one store");
  g->store = s;
  cld_tensor *t = cld_node_new(g, OP_PARAM, s->p[id].ndim, s->p[id].shape);
  if (!t) return NULL;
  t->store_id = id;
  t->flags |= T_REQ_GRAD;
  snprintf(t->name, sizeof t->name, "%.47s", s->p[id].name);
  return t;
}

void cld_set_requires_grad(cld_tensor *t, bool on) {
  if (!t) return;
  if (on) t->flags |= T_REQ_GRAD;
  else t->flags &= ~(unsigned)T_REQ_GRAD;
}

int cld_tensor_ndim(const cld_tensor *t) { return t ? t->ndim : 0; }
int64_t cld_tensor_dim(const cld_tensor *t, int axis) {
  if (!t) return 0;
  if (axis < 0) axis += t->ndim;
  return axis >= 0 && axis < t->ndim ? t->shape[axis] : 0;
}
int64_t cld_tensor_numel(const cld_tensor *t) { return t ? t->numel : 0; }
const char *cld_tensor_name(const cld_tensor *t) { return t ? t->name : ""; }
cld_tensor *cld_tensor_grad(const cld_tensor *t) { return t ? t->grad : NULL; }

void cld_graph_keep(cld_graph *g, cld_tensor *t) {
  if (g && t) t->flags |= T_KEEP;
}
void cld_graph_set_seed(cld_graph *g, uint64_t seed) { if (g) g->seed = seed; }
void cld_graph_set_training(cld_graph *g, bool training) { if (g) g->training = training; }
uint64_t cld_graph_run_counter(const cld_graph *g) { return g ? g->run : 0; }
void cld_graph_set_run_counter(cld_graph *g, uint64_t counter) { if (g) g->run = counter; }
void cld_graph_set_rng_slab(cld_graph *g, uint64_t slab) { if (g) g->rng_slab = slab; }
