/* The CLBlast GEMM provider. The only file that includes clblast_c.h. Row-major calls; batched
 * calls use SgemmStridedBatched, broadcast A or B (stride 0) too: one launch instead of one tiny
 * GEMM per batch entry of a shared-weight product (docs/PERFORMANCE.md). C is contiguous (batch stride m * n) and
 * cleared first because CLBlast's beta = 0 still reads C (stale NaNs would leak through).
 * CLBlast's kernels take int offsets: an operand that ends past INT_MAX floats in its buffer (an
 * activation arena over 8 GiB) is handed over as a sub-buffer starting near it. */
#include "runtime/gemm.h"
#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>

static long long offset_limit = INT_MAX;
void cld_gemm_clblast_set_offset_limit(long long floats) { offset_limit = floats < 0 ? INT_MAX : floats; }

/* operand (buf, *off) spanning extent floats: if it ends past the limit, *sub becomes a sub-buffer
 * from an aligned origin at or below *off, and *off the offset within it */
static cld_status rebase(cld_ctx *ctx, cl_mem buf, size_t *off, size_t extent, cl_mem *sub) {
  *sub = NULL;
  if (*off == 0 || (long long)(*off + extent) <= offset_limit) return CLD_OK;
  cl_uint align_bits = 0;
  size_t size = 0;
  cl_int e = clGetDeviceInfo(ctx->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL);
  if (e == CL_SUCCESS) e = clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof size, &size, NULL);
  if (e != CL_SUCCESS) return cld_clerr(ctx, e, "querying alignment for a GEMM sub-buffer");
  size_t align = align_bits >= 32 ? align_bits / 8 : 4, origin = *off * sizeof(float) / align * align;
  if ((origin % sizeof(float)) || (*off * sizeof(float) - origin) / sizeof(float) + extent > INT_MAX)
    return cld_seterr(ctx, CLD_ERR_GEMM, "GEMM operand of %zu floats too large for CLBlast's int indexing", extent);
  cl_buffer_region r = {origin, size - origin};
  *sub = clCreateSubBuffer(buf, 0, CL_BUFFER_CREATE_TYPE_REGION, &r, &e);
  if (e != CL_SUCCESS) { *sub = NULL; return cld_clerr(ctx, e, "clCreateSubBuffer for a GEMM operand"); }
  *off -= origin / sizeof(float);
  return CLD_OK;
}

const char *const cld_clblast_param_names[CLD_CLBLAST_NPARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"};

cld_status cld_gemm_clblast_apply(cld_ctx *ctx, const cld_clblast_cfg *cfg) {
  CLBlastStatusCode s = CLBlastOverrideParameters(ctx->device, "Xgemm", CLBlastPrecisionSingle, CLD_CLBLAST_NPARAMS,
                                                  (const char **)cld_clblast_param_names, cfg->v);
  if (s != CLBlastSuccess) return cld_seterr(ctx, CLD_ERR_GEMM, "CLBlastOverrideParameters(Xgemm) failed: status %d", (int)s);
  return CLD_OK;
}

static cld_status run(cld_ctx *ctx, const cld_gemm_call *c);

cld_status cld_gemm_clblast_run(cld_ctx *ctx, const cld_gemm_call *in) {
  if (cld_gemm_interleaved(in))
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "gemm: CLBlast cannot address the tile-interleaved layout");
  if (in->a_div > 1) { /* grouped A: one call per group, A broadcast within it */
    if (in->batch % in->a_div) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "gemm: batch %lld is not whole groups of %lld", (long long)in->batch, (long long)in->a_div);
    cld_status st = CLD_OK;
    for (int64_t gi = 0; gi < in->batch / in->a_div && !st; gi++) {
      cld_gemm_call g = *in;
      g.a_div = 0;
      g.batch = in->a_div;
      g.a_off = in->a_off + (size_t)gi * in->a_stride;
      g.a_stride = 0;
      g.b_off = in->b_off + (size_t)(gi * in->a_div) * in->b_stride;
      g.c_off = in->c_off + (size_t)(gi * in->a_div) * in->c_stride;
      st = cld_gemm_clblast_run(ctx, &g);
    }
    return st;
  }
  cld_gemm_call c = *in;
  size_t nb = (size_t)(c.batch > 0 ? c.batch - 1 : 0);
  cl_mem sa = NULL, sb = NULL, sc = NULL;
  cld_status st = rebase(ctx, in->a, &c.a_off, nb * c.a_stride + (size_t)(c.m * c.k), &sa);
  if (!st) st = rebase(ctx, in->b, &c.b_off, nb * c.b_stride + (size_t)(c.k * c.n), &sb);
  if (!st) st = rebase(ctx, in->c, &c.c_off, nb * c.c_stride + (size_t)(c.m * c.n), &sc);
  if (sa) c.a = sa;
  if (sb) c.b = sb;
  if (sc) c.c = sc;
  if (!st) st = run(ctx, &c);
  /* released now; OpenCL keeps them alive until the enqueued commands that use them finish */
  if (sa) clReleaseMemObject(sa);
  if (sb) clReleaseMemObject(sb);
  if (sc) clReleaseMemObject(sc);
  return st;
}

static cld_status run(cld_ctx *ctx, const cld_gemm_call *c) {
  size_t lda = c->trans_a ? (size_t)c->m : (size_t)c->k;
  size_t ldb = c->trans_b ? (size_t)c->k : (size_t)c->n;
  size_t ldc = (size_t)c->n;
  CLBlastTranspose ta = c->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
  CLBlastTranspose tb = c->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
  if (c->batch > 1 && c->c_stride != (size_t)(c->m * c->n)) /* C is cleared as one block below */
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "gemm: CLBlast provider needs C's batch stride m*n (got %zu)", c->c_stride);
  float zero = 0.0f;
  cl_int e = clEnqueueFillBuffer(ctx->queue, c->c, &zero, sizeof zero, c->c_off * sizeof(float),
                                 (size_t)(c->batch * c->m * c->n) * sizeof(float), 0, NULL, NULL);
  if (e != CL_SUCCESS) return cld_clerr(ctx, e, "clearing GEMM output");
  cl_command_queue q = ctx->queue;
  CLBlastStatusCode s =
      c->batch == 1
          ? CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, (size_t)c->m, (size_t)c->n, (size_t)c->k, 1.0f, c->a, c->a_off, lda,
                         c->b, c->b_off, ldb, 0.0f, c->c, c->c_off, ldc, &q, NULL)
          : CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, (size_t)c->m, (size_t)c->n, (size_t)c->k, 1.0f, c->a,
                                       c->a_off, lda, c->a_stride, c->b, c->b_off, ldb, c->b_stride, 0.0f, c->c, c->c_off,
                                       ldc, c->c_stride, (size_t)c->batch, &q, NULL);
  if (s != CLBlastSuccess)
    return cld_seterr(ctx, CLD_ERR_GEMM, "CLBlast SGEMM (m=%lld n=%lld k=%lld batch=%lld) failed: status %d",
                      (long long)c->m, (long long)c->n, (long long)c->k, (long long)c->batch, (int)s);
  return CLD_OK;
}
