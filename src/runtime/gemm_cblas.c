/* The host provider's CBLAS path: a call entry by entry through the host's cblas_sgemm, on host
 * pointers to the operands (mapped buffers, or a native kernel's addresses). The host provider
 * takes it where oneDNN is absent or refuses a layout, and gemm_onednn.c's native kernel where
 * oneDNN's execution fails. */
#include "runtime/gemm.h"
#include <cblas.h>

/* batch entry b: A (b / a_div when grouped), B and C dense or tile-interleaved (g = b / a_div,
 * p = b % a_div at g gstride + p stride, rows ld apart) */
static void one_entry(const cld_gemm_call *c, const float *A, const float *B, float *C, int64_t b) {
  bool grouped = c->a_div > 1, inter = cld_gemm_interleaved(c);
  int64_t g = grouped ? b / c->a_div : b, p = grouped ? b % c->a_div : 0;
  const float *Ab = A + (size_t)g * c->a_stride; /* grouped: A number b / a_div; else g = b */
  const float *Bb = inter ? B + (size_t)g * c->b_gstride + (size_t)p * c->b_stride : B + (size_t)b * c->b_stride;
  float *Cb = inter ? C + (size_t)g * c->c_gstride + (size_t)p * c->c_stride : C + (size_t)b * c->c_stride;
  int lda = (int)(c->lda ? c->lda : c->trans_a ? c->m : c->k);
  int ldb = (int)(c->ldb ? c->ldb : c->trans_b ? c->k : c->n), ldc = (int)(c->ldc ? c->ldc : c->n);
  cblas_sgemm(CblasRowMajor, c->trans_a ? CblasTrans : CblasNoTrans, c->trans_b ? CblasTrans : CblasNoTrans, (int)c->m,
              (int)c->n, (int)c->k, 1.0f, Ab, lda, Bb, ldb, 0.0f, Cb, ldc);
}

void cld_gemm_host_blas_entries(const cld_gemm_call *c, const float *A, const float *B, float *C) {
  for (int64_t b = 0; b < c->batch; b++) one_entry(c, A, B, C, b);
}

