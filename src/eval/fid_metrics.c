/* FID, KID and improved precision/recall between two feature sets. One pass builds the three Gram
 * matrices (BLAS sgemm); KID's subsets and the k-NN radii of precision/recall read from them.
 * KID: unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3 (Binkowski et al. 2018), mean and std over
 * subsets drawn without replacement. Precision/recall: Kynkaanniemi et al. 2019, the radius of a
 * point is the distance to its k-th nearest neighbour in its own set (itself excluded). */
#include "runtime/runtime.h"
#include "cldiff/eval.h"
#include "cldiff/rng.h"
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

cld_fid_params cld_fid_params_default(void) {
  cld_fid_params p = {100, 1000, 3, 0};
  return p;
}

/* k-th smallest of row[0..n) skipping index self (k >= 1) */
static double kth_smallest(const float *sqd, int64_t n, int64_t self, int k) {
  double best[16];
  int have = 0;
  for (int64_t j = 0; j < n; j++) {
    if (j == self) continue;
    double v = sqd[j];
    if (have < k) best[have++] = v;
    else if (v < best[k - 1]) best[k - 1] = v;
    else continue;
    for (int q = have - 1; q > 0 && best[q] < best[q - 1]; q--) { double tmp = best[q]; best[q] = best[q - 1]; best[q - 1] = tmp; }
  }
  return have ? best[have - 1] : INFINITY;
}

/* squared distances of row i from its Gram row and norms */
static void sq_row(const float *g, const float *ni, int64_t i, const float *nj, int64_t n, float *out) {
  for (int64_t j = 0; j < n; j++) {
    float v = ni[i] + nj[j] - 2 * g[j];
    out[j] = v > 0 ? v : 0;
  }
}

/* recall: fraction of x_i inside some ball of y (radii ry); precision: fraction of y_j inside
 * some ball of x (radii rx); both read the x-by-y Gram rows */
static void coverage(const float *gxy, const float *nx, int64_t n_x, const float *ny, int64_t n_y, const double *rx, const double *ry,
                     float *row, unsigned char *covered, double *precision, double *recall) {
  int64_t in_x = 0, in_y = 0;
  memset(covered, 0, (size_t)n_y);
  for (int64_t i = 0; i < n_x; i++) {
    sq_row(gxy + i * n_y, nx, i, ny, n_y, row);
    bool inside = false;
    for (int64_t j = 0; j < n_y; j++) {
      inside |= row[j] <= ry[j];
      if (row[j] <= rx[i]) covered[j] = 1;
    }
    in_x += inside;
  }
  for (int64_t j = 0; j < n_y; j++) in_y += covered[j];
  *recall = (double)in_x / (double)n_x;
  *precision = (double)in_y / (double)n_y;
}

/* m distinct indices from 0..n-1 (partial Fisher-Yates on Philox uniforms) */
static void draw_subset(int64_t *perm, int64_t n, int m, uint64_t seed, uint64_t offset, float *u) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  cld_rng_uniform_host(seed, 0x3000, offset, (size_t)m, u);
  for (int i = 0; i < m; i++) {
    int64_t j = i + (int64_t)(u[i] * (float)(n - i));
    if (j >= n) j = n - 1;
    int64_t tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
  }
}

static double cubic(float dot, int d) {
  double v = (double)dot / d + 1.0;
  return v * v * v;
}

cld_status cld_fid_metrics(cld_ctx *ctx, const float *x, int64_t nx, const float *y, int64_t ny, int d, const cld_fid_params *pp,
                           cld_fid_result *out) {
  if (!ctx || !x || !y || !out || d < 1) return CLD_ERR_INVALID_ARG;
  cld_fid_params p = pp ? *pp : cld_fid_params_default();
  if (nx < 2 || ny < 2) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "metrics need at least 2 images per set (got %lld and %lld)", (long long)nx, (long long)ny);
  if (p.pr_k < 1 || p.pr_k > 15 || p.pr_k >= nx || p.pr_k >= ny)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "precision/recall k = %d must be in 1..15 and below both set sizes", p.pr_k);
  if (nx > 40000 || ny > 40000)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "metrics: at most 40000 images per set (got %lld and %lld)", (long long)nx, (long long)ny);
  cld_fid_result r;
  memset(&r, 0, sizeof r);
  r.nx = nx;
  r.ny = ny;
  cld_status st = CLD_OK;
  size_t dd = (size_t)d * d;
  double *mu1 = malloc(d * sizeof(double)), *mu2 = malloc(d * sizeof(double)), *c1 = malloc(dd * sizeof(double)),
         *c2 = malloc(dd * sizeof(double));
  float *gxx = malloc((size_t)(nx * nx) * sizeof(float)), *gyy = malloc((size_t)(ny * ny) * sizeof(float));
  float *gxy = malloc((size_t)(nx * ny) * sizeof(float));
  unsigned char *covered = malloc((size_t)ny);
  float *nxv = malloc((size_t)nx * sizeof(float)), *nyv = malloc((size_t)ny * sizeof(float));
  int64_t nmax = nx > ny ? nx : ny;
  float *row = malloc((size_t)nmax * sizeof(float)), *u = malloc((size_t)nmax * sizeof(float));
  double *rx = malloc((size_t)nx * sizeof(double)), *ry = malloc((size_t)ny * sizeof(double));
  int64_t *px = malloc((size_t)nx * sizeof(int64_t)), *py = malloc((size_t)ny * sizeof(int64_t));
  double *kids = malloc((size_t)(p.kid_subsets > 0 ? p.kid_subsets : 1) * sizeof(double));
  if (!mu1 || !mu2 || !c1 || !c2 || !gxx || !gyy || !gxy || !covered || !nxv || !nyv || !row || !u || !rx || !ry || !px || !py || !kids) {
    st = cld_seterr(ctx, CLD_ERR_NOMEM, "out of host memory (metrics on %lld and %lld images)", (long long)nx, (long long)ny);
    goto done;
  }
  if ((st = cld_feature_stats(ctx, x, nx, d, mu1, c1)) || (st = cld_feature_stats(ctx, y, ny, d, mu2, c2)) ||
      (st = cld_frechet_distance(ctx, d, mu1, c1, mu2, c2, &r.fid)))
    goto done;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nx, (int)nx, d, 1.0f, x, d, x, d, 0.0f, gxx, (int)nx);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ny, (int)ny, d, 1.0f, y, d, y, d, 0.0f, gyy, (int)ny);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nx, (int)ny, d, 1.0f, x, d, y, d, 0.0f, gxy, (int)ny);
  for (int64_t i = 0; i < nx; i++) nxv[i] = gxx[i * nx + i];
  for (int64_t j = 0; j < ny; j++) nyv[j] = gyy[j * ny + j];
  /* precision / recall */
  for (int64_t i = 0; i < nx; i++) { sq_row(gxx + i * nx, nxv, i, nxv, nx, row); rx[i] = kth_smallest(row, nx, i, p.pr_k); }
  for (int64_t j = 0; j < ny; j++) { sq_row(gyy + j * ny, nyv, j, nyv, ny, row); ry[j] = kth_smallest(row, ny, j, p.pr_k); }
  coverage(gxy, nxv, nx, nyv, ny, rx, ry, row, covered, &r.precision, &r.recall);
  /* KID */
  int m = p.kid_subset_size;
  if (m > nx) m = (int)nx;
  if (m > ny) m = (int)ny;
  int S = p.kid_subsets > 0 ? p.kid_subsets : 1;
  double mean = 0;
  for (int s = 0; s < S; s++) {
    draw_subset(px, nx, m, p.seed, (uint64_t)(2 * s) << 32, u);
    draw_subset(py, ny, m, p.seed, (uint64_t)(2 * s + 1) << 32, u);
    double kxx = 0, kyy = 0, kxy = 0;
    for (int a = 0; a < m; a++)
      for (int b = 0; b < m; b++) {
        if (a != b) {
          kxx += cubic(gxx[px[a] * nx + px[b]], d);
          kyy += cubic(gyy[py[a] * ny + py[b]], d);
        }
        kxy += cubic(gxy[px[a] * ny + py[b]], d);
      }
    kids[s] = (kxx + kyy) / ((double)m * (m - 1)) - 2 * kxy / ((double)m * m);
    mean += kids[s];
  }
  mean /= S;
  double var = 0;
  for (int s = 0; s < S; s++) var += (kids[s] - mean) * (kids[s] - mean);
  r.kid = mean;
  r.kid_std = S > 1 ? sqrt(var / (S - 1)) : 0;
  *out = r;
done:
  free(mu1); free(mu2); free(c1); free(c2); free(gxx); free(gyy); free(gxy); free(covered); free(nxv); free(nyv);
  free(row); free(u); free(rx); free(ry); free(px); free(py); free(kids);
  return st;
}
