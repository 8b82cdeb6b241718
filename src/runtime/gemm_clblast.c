/* The CLBlast GEMM provider. The only file that includes clblast_c.h. Row-major calls; batched
 * calls with real strides use SgemmStridedBatched, broadcast operands (stride 0) loop. C is
 * cleared first because CLBlast's beta = 0 still reads C (stale NaNs would leak through). */
#include "runtime/gemm.h"
#include <clblast_c.h>
#include <stdio.h>

const char *const cld_clblast_param_names[CLD_CLBLAST_NPARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"};

cld_status cld_gemm_clblast_apply(cld_ctx *ctx, const cld_clblast_cfg *cfg) {
  CLBlastStatusCode s = CLBlastOverrideParameters(ctx->device, "Xgemm", CLBlastPrecisionSingle, CLD_CLBLAST_NPARAMS,
                                                  (const char **)cld_clblast_param_names, cfg->v);
  if (s != CLBlastSuccess) return cld_seterr(ctx, CLD_ERR_GEMM, "CLBlastOverrideParameters(Xgemm) failed: status %d", (int)s);
  return CLD_OK;
}

cld_status cld_gemm_clblast_run(cld_ctx *ctx, const cld_gemm_call *c) {
  size_t lda = c->trans_a ? (size_t)c->m : (size_t)c->k;
  size_t ldb = c->trans_b ? (size_t)c->k : (size_t)c->n;
  size_t ldc = (size_t)c->n;
  CLBlastTranspose ta = c->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
  CLBlastTranspose tb = c->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
  float zero = 0.0f;
  cl_int e = clEnqueueFillBuffer(ctx->queue, c->c, &zero, sizeof zero, c->c_off * sizeof(float),
                                 (size_t)(c->batch * c->m * c->n) * sizeof(float), 0, NULL, NULL);
  if (e != CL_SUCCESS) return cld_clerr(ctx, e, "clearing GEMM output");
  cl_command_queue q = ctx->queue;
  CLBlastStatusCode s;
  if (c->batch == 1 || (c->a_stride && c->b_stride)) {
    if (c->batch == 1)
      s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, (size_t)c->m, (size_t)c->n, (size_t)c->k, 1.0f, c->a, c->a_off, lda,
                       c->b, c->b_off, ldb, 0.0f, c->c, c->c_off, ldc, &q, NULL);
    else
      s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, (size_t)c->m, (size_t)c->n, (size_t)c->k, 1.0f,
                                     c->a, c->a_off, lda, c->a_stride, c->b, c->b_off, ldb, c->b_stride, 0.0f, c->c,
                                     c->c_off, ldc, c->c_stride, (size_t)c->batch, &q, NULL);
  } else {
    s = CLBlastSuccess;
    for (int64_t b = 0; b < c->batch && s == CLBlastSuccess; b++)
      s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, (size_t)c->m, (size_t)c->n, (size_t)c->k, 1.0f, c->a,
                       c->a_off + (size_t)b * c->a_stride, lda, c->b, c->b_off + (size_t)b * c->b_stride, ldb, 0.0f, c->c,
                       c->c_off + (size_t)b * c->c_stride, ldc, &q, NULL);
  }
  if (s != CLBlastSuccess)
    return cld_seterr(ctx, CLD_ERR_GEMM, "CLBlast SGEMM (m=%lld n=%lld k=%lld batch=%lld) failed: status %d",
                      (long long)c->m, (long long)c->n, (long long)c->k, (long long)c->batch, (int)s);
  return CLD_OK;
}
