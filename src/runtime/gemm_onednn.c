/* The host-BLAS provider's oneDNN path (built with oneDNN's header, CLDIFF_HAVE_ONEDNN): a whole
 * call - one product, a strided batch, Winograd's grouped and tile-interleaved products - as one
 * oneDNN matmul primitive over 4-D views (group, panel, rows, columns) of the mapped operands.
 * One primitive runs every batch entry in one parallel region, where a loop of sgemm calls paid a
 * fork and join per entry (a 128 x 32 x 128 product is a microsecond of work). Primitives are
 * kept per call geometry in the context; one whose fastest implementation is oneDNN's reference
 * code is refused, and the caller multiplies entry by entry through CBLAS instead.
 *
 * On a device that runs native kernels (PoCL's CPU devices) the primitive is made on the calling
 * thread and executed by a native kernel on the queue, on the device's own thread in queue order
 * (cld_gemm_onednn_enqueue): the host thread goes on enqueuing where a blocking map made it wait
 * for the queue to drain at every product, and no map or unmap command runs. CLDIFF_HOST_GEMM=map
 * keeps the mapped path (docs/PERFORMANCE.md compares the two).
 *
 * libdnnl is opened at the first call (dlopen), not linked: its OpenMP runtime reads its wait
 * policy from the environment when it loads, and with the default its threads spin for
 * milliseconds after each product on the cores the OpenCL device's own threads need next (the
 * fmnist-s step measured slower with oneDNN than without until the wait was passive). So unless
 * the user set OMP_WAIT_POLICY, it is set to passive just before the library is opened (no
 * effect where the process has loaded OpenMP already). Without libdnnl.so.2 at run time the
 * provider is CBLAS alone. */
#include "runtime/gemm.h"
#ifdef CLDIFF_HAVE_ONEDNN
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* the oneDNN functions used, resolved from libdnnl.so.2 */
static struct {
  bool ok;
  dnnl_status_t (*engine_create)(dnnl_engine_t *, dnnl_engine_kind_t, size_t);
  dnnl_status_t (*engine_destroy)(dnnl_engine_t);
  dnnl_status_t (*stream_create)(dnnl_stream_t *, dnnl_engine_t, unsigned);
  dnnl_status_t (*stream_wait)(dnnl_stream_t);
  dnnl_status_t (*stream_destroy)(dnnl_stream_t);
  dnnl_status_t (*md_init_by_strides)(dnnl_memory_desc_t *, int, const dnnl_dims_t, dnnl_data_type_t, const dnnl_dims_t);
  dnnl_status_t (*matmul_desc_init)(dnnl_matmul_desc_t *, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *,
                                    const dnnl_memory_desc_t *, const dnnl_memory_desc_t *);
  dnnl_status_t (*pd_create)(dnnl_primitive_desc_t *, const_dnnl_op_desc_t, const_dnnl_primitive_attr_t, dnnl_engine_t,
                             const_dnnl_primitive_desc_t);
  dnnl_status_t (*pd_query)(const_dnnl_primitive_desc_t, dnnl_query_t, int, void *);
  dnnl_status_t (*pd_destroy)(dnnl_primitive_desc_t);
  dnnl_status_t (*prim_create)(dnnl_primitive_t *, const_dnnl_primitive_desc_t);
  dnnl_status_t (*prim_execute)(const_dnnl_primitive_t, dnnl_stream_t, int, const dnnl_exec_arg_t *);
  dnnl_status_t (*prim_destroy)(dnnl_primitive_t);
  dnnl_status_t (*mem_create)(dnnl_memory_t *, const dnnl_memory_desc_t *, dnnl_engine_t, void *);
  dnnl_status_t (*mem_set_handle)(dnnl_memory_t, void *);
  dnnl_status_t (*mem_destroy)(dnnl_memory_t);
} dn;
static pthread_once_t dn_once = PTHREAD_ONCE_INIT;

#define DN_SYM(field, name) ok = ok && (*(void **)&dn.field = dlsym(h, name)) != NULL
static void dn_open(void) {
  setenv("OMP_WAIT_POLICY", "passive", 0);
  void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
  bool ok = h != NULL;
  DN_SYM(engine_create, "dnnl_engine_create");
  DN_SYM(engine_destroy, "dnnl_engine_destroy");
  DN_SYM(stream_create, "dnnl_stream_create");
  DN_SYM(stream_wait, "dnnl_stream_wait");
  DN_SYM(stream_destroy, "dnnl_stream_destroy");
  DN_SYM(md_init_by_strides, "dnnl_memory_desc_init_by_strides");
  DN_SYM(matmul_desc_init, "dnnl_matmul_desc_init");
  DN_SYM(pd_create, "dnnl_primitive_desc_create");
  DN_SYM(pd_query, "dnnl_primitive_desc_query");
  DN_SYM(pd_destroy, "dnnl_primitive_desc_destroy");
  DN_SYM(prim_create, "dnnl_primitive_create");
  DN_SYM(prim_execute, "dnnl_primitive_execute");
  DN_SYM(prim_destroy, "dnnl_primitive_destroy");
  DN_SYM(mem_create, "dnnl_memory_create");
  DN_SYM(mem_set_handle, "dnnl_memory_set_data_handle");
  DN_SYM(mem_destroy, "dnnl_memory_destroy");
  dn.ok = ok; /* the handle stays open for the process's life (oneDNN's threads live in it) */
}

bool cld_gemm_onednn_available(void) {
  pthread_once(&dn_once, dn_open);
  return dn.ok;
}

/* what fixes a primitive: everything of the call but its buffers and offsets */
typedef struct {
  int64_t m, n, k, batch, a_div, lda, ldb, ldc;
  size_t a_stride, b_stride, c_stride, b_gstride, c_gstride;
  bool trans_a, trans_b;
} geom;

typedef struct {
  geom g;
  dnnl_primitive_t prim; /* NULL: refused (reference implementation only, or not supported) */
  dnnl_memory_t mem[3];  /* A, B, C views; their handles are set per call */
} entry;

#define MAX_ENTRIES 256
struct cld_onednn {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  entry e[MAX_ENTRIES];
  int n;
  bool native; /* calls go to the queue as native kernels (native_ok) */
};

static geom geom_of(const cld_gemm_call *c) {
  geom g;
  memset(&g, 0, sizeof g); /* padding too: entries compare with memcmp */
  g.m = c->m, g.n = c->n, g.k = c->k, g.batch = c->batch, g.a_div = c->a_div > 1 ? c->a_div : 1;
  g.lda = c->lda, g.ldb = c->ldb, g.ldc = c->ldc, g.a_stride = c->a_stride, g.b_stride = c->b_stride, g.c_stride = c->c_stride;
  g.b_gstride = c->b_gstride, g.c_gstride = c->c_gstride, g.trans_a = c->trans_a, g.trans_b = c->trans_b;
  return g;
}

/* the three 4-D views: entry b = grp P + p (P = a_div, or 1 for plain batches) */
static bool views(const geom *g, dnnl_memory_desc_t md[3]) {
  int64_t P = g->a_div, G = g->batch / P;
  bool inter = g->ldb || g->ldc || g->b_gstride || g->c_gstride;
  int64_t lda = g->lda ? g->lda : g->trans_a ? g->m : g->k;
  int64_t ldb = g->ldb ? g->ldb : g->trans_b ? g->k : g->n, ldc = g->ldc ? g->ldc : g->n;
  int64_t bp = (int64_t)g->b_stride, cp = (int64_t)g->c_stride;
  int64_t bg = inter ? (int64_t)g->b_gstride : P * bp, cg = inter ? (int64_t)g->c_gstride : P * cp;
  /* A shared by a group's P entries; a zero stride broadcasts */
  dnnl_dims_t ad = {g->a_stride ? G : 1, 1, g->m, g->k};
  dnnl_dims_t as = {(int64_t)g->a_stride, g->m * g->k, g->trans_a ? 1 : lda, g->trans_a ? lda : 1};
  dnnl_dims_t bd = {bg || G == 1 ? G : 1, bp || P == 1 ? P : 1, g->k, g->n};
  dnnl_dims_t bs = {bg, bp, g->trans_b ? 1 : ldb, g->trans_b ? ldb : 1};
  dnnl_dims_t cd = {G, P, g->m, g->n}, cs = {cg, cp, ldc, 1};
  if (!as[0]) as[0] = g->m * g->k;
  if (!bs[0]) bs[0] = g->k * g->n;
  if (!bs[1]) bs[1] = g->k * g->n;
  if ((G > 1 && !cg) || (P > 1 && !cp)) return false; /* entries writing one C: not a matmul */
  return dn.md_init_by_strides(&md[0], 4, ad, dnnl_f32, as) == dnnl_success &&
         dn.md_init_by_strides(&md[1], 4, bd, dnnl_f32, bs) == dnnl_success &&
         dn.md_init_by_strides(&md[2], 4, cd, dnnl_f32, cs) == dnnl_success;
}

/* a primitive for g, or NULL where oneDNN has nothing but its reference code for it */
static dnnl_primitive_t make(struct cld_onednn *o, const geom *g, dnnl_memory_t mem[3]) {
  dnnl_memory_desc_t md[3];
  dnnl_matmul_desc_t desc;
  dnnl_primitive_desc_t pd = NULL;
  if (!views(g, md) || dn.matmul_desc_init(&desc, &md[0], &md[1], NULL, &md[2]) != dnnl_success ||
      dn.pd_create(&pd, &desc, NULL, o->engine, NULL) != dnnl_success)
    return NULL;
  const char *impl = NULL;
  dnnl_primitive_t prim = NULL;
  if (dn.pd_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
      strncmp(impl, "ref", 3) && dn.prim_create(&prim, pd) == dnnl_success) {
    for (int i = 0; i < 3; i++)
      if (dn.mem_create(&mem[i], &md[i], o->engine, DNNL_MEMORY_NONE) != dnnl_success) mem[i] = NULL;
    if (!mem[0] || !mem[1] || !mem[2]) {
      for (int i = 0; i < 3; i++)
        if (mem[i]) dn.mem_destroy(mem[i]);
      dn.prim_destroy(prim);
      prim = NULL;
    }
  }
  dn.pd_destroy(pd);
  return prim;
}

static entry *lookup(struct cld_onednn *o, const cld_gemm_call *c) {
  geom g = geom_of(c);
  for (int i = 0; i < o->n; i++)
    if (!memcmp(&o->e[i].g, &g, sizeof g)) return &o->e[i];
  if (o->n == MAX_ENTRIES) return NULL; /* full: the caller's per-entry loop */
  entry *e = &o->e[o->n++];
  memset(e, 0, sizeof *e);
  e->g = g;
  e->prim = make(o, &g, e->mem);
  return e;
}

/* Whether native kernels carry the host GEMM: the device runs them (PoCL's CPU devices do) and
 * CLDIFF_HOST_GEMM is not "map" (the blocking-map path, kept for comparison and for devices
 * without them). */
static bool native_ok(cld_ctx *ctx) {
  cl_device_exec_capabilities caps = 0;
  const char *env = getenv("CLDIFF_HOST_GEMM");
  if (env && !strcmp(env, "map")) return false;
  return clGetDeviceInfo(ctx->device, CL_DEVICE_EXECUTION_CAPABILITIES, sizeof caps, &caps, NULL) == CL_SUCCESS &&
         (caps & CL_EXEC_NATIVE_KERNEL);
}

static struct cld_onednn *state(cld_ctx *ctx) {
  if (ctx->onednn) return ctx->onednn;
  if (!cld_gemm_onednn_available()) return NULL;
  struct cld_onednn *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  if (dn.engine_create(&o->engine, dnnl_cpu, 0) != dnnl_success) { free(o); return NULL; }
  if (dn.stream_create(&o->stream, o->engine, dnnl_stream_default_flags) != dnnl_success) {
    dn.engine_destroy(o->engine);
    free(o);
    return NULL;
  }
  o->native = native_ok(ctx);
  return ctx->onednn = o;
}

static bool execute(struct cld_onednn *o, entry *e, const float *A, const float *B, float *C) {
  if (dn.mem_set_handle(e->mem[0], (void *)A) != dnnl_success ||
      dn.mem_set_handle(e->mem[1], (void *)B) != dnnl_success ||
      dn.mem_set_handle(e->mem[2], C) != dnnl_success)
    return false;
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->mem[0]}, {DNNL_ARG_WEIGHTS, e->mem[1]}, {DNNL_ARG_DST, e->mem[2]}};
  return dn.prim_execute(e->prim, o->stream, 3, args) == dnnl_success && dn.stream_wait(o->stream) == dnnl_success;
}

bool cld_gemm_onednn_run(cld_ctx *ctx, const cld_gemm_call *c, const float *A, const float *B, float *C) {
  struct cld_onednn *o = state(ctx);
  entry *e = o ? lookup(o, c) : NULL;
  return e && e->prim && execute(o, e, A, B, C);
}

/* A native kernel's argument block: the implementation runs run_native on one of its threads in
 * queue order, on a copy of it; the operands' addresses come from gemm_native.c. */
typedef struct {
  float *base[3]; /* A's, B's and C's buffers */
  cl_mem held[3]; /* the distinct buffers, listed so that the command holds them until it ran; the
                     implementation writes addresses over them, in an order of its own (unused) */
  struct cld_onednn *o;
  entry *e;
  cld_gemm_call call; /* offsets, and the geometry for CBLAS should oneDNN's execution fail */
} native_args;

static void CL_CALLBACK run_native(void *p) {
  native_args *n = p;
  const float *A = n->base[0] + n->call.a_off, *B = n->base[1] + n->call.b_off;
  float *C = n->base[2] + n->call.c_off;
  if (!execute(n->o, n->e, A, B, C)) cld_gemm_host_blas_entries(&n->call, A, B, C);
}

int cld_gemm_onednn_enqueue(cld_ctx *ctx, const cld_gemm_call *c, cld_status *st) {
  struct cld_onednn *o = state(ctx);
  if (!o || !o->native) return 0;
  entry *e = lookup(o, c);
  if (!e || !e->prim) return 0;
  native_args n = {.base = {cld_buffer_device_addr(ctx, c->a), cld_buffer_device_addr(ctx, c->b),
                            cld_buffer_device_addr(ctx, c->c)},
                   .o = o, .e = e, .call = *c};
  if (!n.base[0] || !n.base[1] || !n.base[2]) return 0;
  cl_uint nh = (cl_uint)cld_gemm_distinct_buffers(c, n.held);
  const void *locs[3] = {&n.held[0], &n.held[1], &n.held[2]};
  cl_int err = clEnqueueNativeKernel(ctx->queue, run_native, &n, sizeof n, nh, n.held, locs, 0, NULL, NULL);
  *st = err == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, err, "enqueueing a host-BLAS GEMM as a native kernel");
  return 1;
}

bool cld_gemm_onednn_native(cld_ctx *ctx) { return ctx->onednn && ctx->onednn->native; }

void cld_gemm_onednn_release(cld_ctx *ctx) {
  struct cld_onednn *o = ctx->onednn;
  if (!o) return;
  for (int i = 0; i < o->n; i++) {
    if (!o->e[i].prim) continue;
    dn.prim_destroy(o->e[i].prim);
    for (int j = 0; j < 3; j++) dn.mem_destroy(o->e[i].mem[j]);
  }
  dn.stream_destroy(o->stream);
  dn.engine_destroy(o->engine);
  free(o);
  ctx->onednn = NULL;
}
#else
bool cld_gemm_onednn_available(void) { return false; }
bool cld_gemm_onednn_run(cld_ctx *ctx, const cld_gemm_call *c, const float *A, const float *B, float *C) {
  (void)ctx, (void)c, (void)A, (void)B, (void)C;
  return false;
}
void cld_gemm_onednn_release(cld_ctx *ctx) { (void)ctx; }
int cld_gemm_onednn_enqueue(cld_ctx *ctx, const cld_gemm_call *c, cld_status *st) {
  (void)ctx, (void)c, (void)st;
  return 0;
}
bool cld_gemm_onednn_native(cld_ctx *ctx) {
  (void)ctx;
  return false;
}
#endif
