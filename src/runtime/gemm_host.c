/* The host-BLAS GEMM provider: on an OpenCL CPU device that shares the host's memory (PoCL,
 * Intel's CPU runtime) the operands live in the host's memory and are multiplied there: as one
 * oneDNN matmul where libdnnl is there (gemm_onednn.c: JIT AVX2/AVX-512 kernels, MKL-class on
 * x86), else entry by entry by the host's CBLAS (libblas: OpenBLAS through Debian's alternative,
 * or whichever BLAS the system selects). Where the device runs native kernels the oneDNN call goes
 * to the queue as one (nothing waits: to the graph it is one more launch); otherwise the buffers
 * are mapped - mapping copies nothing - which waits for the commands before it, and unmapped, so
 * that the kernels after the unmap wait for it. `cldiff tune` chooses the provider per shape only
 * where it measures faster than the OpenCL providers. */
#include "runtime/gemm.h"

const char *cld_gemm_host_blas(void) { return cld_gemm_onednn_available() ? "oneDNN matmul" : "CBLAS"; }

bool cld_gemm_host_available(cld_ctx *ctx) {
  if (!ctx->info.is_cpu) return false;
  cl_bool unified = CL_FALSE;
  return clGetDeviceInfo(ctx->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL) == CL_SUCCESS &&
         unified;
}

/* oneDNN's matmul on the device's own memory beats the built-in kernel on most shapes of a CPU
 * (docs/PERFORMANCE.md), so where it is there it is the untuned default, and graphs keep the
 * Winograd tiles as one panel of all tiles, the large products it wants (graph.c) */
bool cld_gemm_host_preferred(cld_ctx *ctx) { return cld_gemm_host_available(ctx) && cld_gemm_onednn_available(); }

/* the distinct buffers among a call's three operands, each mapped once, whole */
typedef struct {
  cl_mem mem[3];
  float *ptr[3];
  int n;
} mapped;

static float *map_of(const mapped *m, cl_mem b) {
  for (int i = 0; i < m->n; i++)
    if (m->mem[i] == b) return m->ptr[i];
  return NULL;
}

static cld_status unmap_all(cld_ctx *ctx, mapped *m, cld_status st) {
  for (int i = 0; i < m->n; i++) {
    cl_int e = clEnqueueUnmapMemObject(ctx->queue, m->mem[i], m->ptr[i], 0, NULL, NULL);
    if (e != CL_SUCCESS && !st) st = cld_clerr(ctx, e, "unmapping a host-BLAS GEMM operand");
  }
  return st;
}

static cld_status map_all(cld_ctx *ctx, const cld_gemm_call *c, mapped *m) {
  cl_mem bufs[3];
  int nb = cld_gemm_distinct_buffers(c, bufs);
  m->n = 0;
  for (int i = 0; i < nb; i++) {
    size_t size = 0;
    cl_int e = clGetMemObjectInfo(bufs[i], CL_MEM_SIZE, sizeof size, &size, NULL);
    void *p = e == CL_SUCCESS ? clEnqueueMapBuffer(ctx->queue, bufs[i], CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, size, 0,
                                                   NULL, NULL, &e)
                              : NULL;
    if (e != CL_SUCCESS || !p) return unmap_all(ctx, m, cld_clerr(ctx, e, "mapping a host-BLAS GEMM operand"));
    m->mem[m->n] = bufs[i];
    m->ptr[m->n++] = p;
  }
  return CLD_OK;
}

cld_status cld_gemm_host_run(cld_ctx *ctx, const cld_gemm_call *c) {
  if (!cld_gemm_host_available(ctx))
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "gemm: the host-BLAS provider needs a CPU device sharing the host's memory");
  if (c->m > INT32_MAX || c->n > INT32_MAX || c->k > INT32_MAX || c->lda > INT32_MAX || c->ldb > INT32_MAX || c->ldc > INT32_MAX)
    return cld_seterr(ctx, CLD_ERR_GEMM, "gemm: a dimension over 2^31 for CBLAS's int");
  cld_status st = CLD_OK;
  if (cld_gemm_onednn_enqueue(ctx, c, &st)) return st;
  mapped m;
  st = map_all(ctx, c, &m);
  if (st) return st;
  const float *A = map_of(&m, c->a) + c->a_off, *B = map_of(&m, c->b) + c->b_off;
  float *C = map_of(&m, c->c) + c->c_off;
  if (!cld_gemm_onednn_run(ctx, c, A, B, C)) cld_gemm_host_blas_entries(c, A, B, C);
  return unmap_all(ctx, &m, CLD_OK);
}
