/* Feature statistics and the Frechet distance between two Gaussians. The matrix square roots come
 * from LAPACK's symmetric eigensolver (dsyevd) and the products from BLAS (dgemm); nothing here
 * does its own linear algebra. */
#include "runtime/runtime.h"
#include "cldiff/eval.h"
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

cld_status cld_feature_stats(cld_ctx *ctx, const float *x, int64_t n, int d, double *mu, double *cov) {
  if (!ctx || !x || !mu || !cov || d < 1) return CLD_ERR_INVALID_ARG;
  if (n < 2) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "feature statistics need at least 2 rows, got %lld", (long long)n);
  double *xc = malloc((size_t)n * (size_t)d * sizeof *xc);
  if (!xc) return cld_seterr(ctx, CLD_ERR_NOMEM, "out of host memory (%lld x %d features)", (long long)n, d);
  for (int j = 0; j < d; j++) mu[j] = 0;
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) mu[j] += x[i * d + j];
  for (int j = 0; j < d; j++) mu[j] /= (double)n;
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) xc[i * d + j] = x[i * d + j] - mu[j];
  /* cov = xc^T xc / (n - 1) */
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, (int)n, 1.0 / (double)(n - 1), xc, d, xc, d, 0.0, cov, d);
  free(xc);
  return CLD_OK;
}

/* symmetric PSD square root: V diag(sqrt(max(l, 0))) V^T; a is destroyed */
static int sym_sqrt(int d, double *a, double *out, double *w, double *tmp) {
  if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, a, d, w)) return -1;
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) tmp[i * d + j] = a[i * d + j] * sqrt(w[j] > 0 ? w[j] : 0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, tmp, d, a, d, 0.0, out, d);
  return 0;
}

cld_status cld_frechet_distance(cld_ctx *ctx, int d, const double *mu1, const double *cov1, const double *mu2,
                                const double *cov2, double *out) {
  if (!ctx || d < 1 || !mu1 || !cov1 || !mu2 || !cov2 || !out) return CLD_ERR_INVALID_ARG;
  size_t dd = (size_t)d * d;
  double *a = malloc(dd * sizeof *a), *s1 = malloc(dd * sizeof *s1), *m = malloc(dd * sizeof *m);
  double *tmp = malloc(dd * sizeof *tmp), *w = malloc((size_t)d * sizeof *w);
  cld_status st = CLD_OK;
  if (!a || !s1 || !m || !tmp || !w) { st = cld_seterr(ctx, CLD_ERR_NOMEM, "out of host memory (Frechet distance, d = %d)", d); goto done; }
  memcpy(a, cov1, dd * sizeof *a);
  if (sym_sqrt(d, a, s1, w, tmp)) { st = cld_seterr(ctx, CLD_ERR_INVALID_ARG, "Frechet distance: eigendecomposition of the first covariance failed"); goto done; }
  /* m = s1 cov2 s1, symmetric PSD; tr(sqrt(m)) = sum sqrt(eig(m)) */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, s1, d, cov2, d, 0.0, tmp, d);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, tmp, d, s1, d, 0.0, m, d);
  for (int i = 0; i < d; i++) /* symmetrise round-off */
    for (int j = i + 1; j < d; j++) m[i * d + j] = m[j * d + i] = 0.5 * (m[i * d + j] + m[j * d + i]);
  if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', d, m, d, w)) {
    st = cld_seterr(ctx, CLD_ERR_INVALID_ARG, "Frechet distance: eigenvalues of the covariance product failed");
    goto done;
  }
  double tr_sqrt = 0, tr1 = 0, tr2 = 0, dm = 0;
  for (int i = 0; i < d; i++) {
    tr_sqrt += sqrt(w[i] > 0 ? w[i] : 0);
    tr1 += cov1[(size_t)i * d + i];
    tr2 += cov2[(size_t)i * d + i];
    dm += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
  }
  double f = dm + tr1 + tr2 - 2 * tr_sqrt;
  *out = f; /* identical sets give 0 up to round-off (about 1e-12 of the trace), reported as is */
done:
  free(a); free(s1); free(m); free(tmp); free(w);
  return st;
}
