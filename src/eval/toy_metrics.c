/* Metrics for 2-D toy samples: sliced Wasserstein-2, RBF MMD, the true mixture NLL of the
 * Gaussian toys and the checkerboard's support fraction. The toy definitions are in io/toy2d.c;
 * the mixture parameters below restate them (8gaussians: centres 2(cos, sin)(2 pi k/8), std 0.02;
 * 25gaussians: centres (i, j) in {-2..2}^2, std 0.05). */
#include "runtime/runtime.h"
#include "cldiff/eval.h"
#include "cldiff/rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

cld_status cld_sliced_w2(cld_ctx *ctx, const float *a, int64_t na, const float *b, int64_t nb, int projections, uint64_t seed,
                         double *out) {
  if (!ctx || !a || !b || !out || na < 1 || nb < 1 || projections < 1) return CLD_ERR_INVALID_ARG;
  double *pa = malloc((size_t)na * sizeof *pa), *pb = malloc((size_t)nb * sizeof *pb);
  float *dir = malloc((size_t)projections * 2 * sizeof *dir);
  if (!pa || !pb || !dir) { free(pa); free(pb); free(dir); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  cld_rng_normal_host(seed, 0x3100, 0, (size_t)projections * 2, dir);
  int64_t K = na > nb ? na : nb; /* quantile levels (k + 0.5)/K */
  double total = 0;
  for (int p = 0; p < projections; p++) {
    double dx = dir[2 * p], dy = dir[2 * p + 1], nrm = sqrt(dx * dx + dy * dy);
    if (nrm == 0) { dx = 1; nrm = 1; }
    dx /= nrm;
    dy /= nrm;
    for (int64_t i = 0; i < na; i++) pa[i] = dx * a[2 * i] + dy * a[2 * i + 1];
    for (int64_t i = 0; i < nb; i++) pb[i] = dx * b[2 * i] + dy * b[2 * i + 1];
    qsort(pa, (size_t)na, sizeof *pa, cmp_double);
    qsort(pb, (size_t)nb, sizeof *pb, cmp_double);
    double w2 = 0;
    for (int64_t k = 0; k < K; k++) {
      double q = (k + 0.5) / (double)K, diff = pa[(int64_t)(q * na)] - pb[(int64_t)(q * nb)];
      w2 += diff * diff;
    }
    total += w2 / (double)K;
  }
  *out = sqrt(total / projections);
  free(pa); free(pb); free(dir);
  return CLD_OK;
}

cld_status cld_mmd_rbf(cld_ctx *ctx, const float *a, int64_t na, const float *b, int64_t nb, double bw, double *out, double *bw_used) {
  if (!ctx || !a || !b || !out || na < 1 || nb < 1) return CLD_ERR_INVALID_ARG;
  if (na > 20000 || nb > 20000) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "mmd: at most 20000 points per set");
  if (bw <= 0) { /* median pairwise distance over (a subsample of) the union */
    int64_t n = na + nb, m = n < 1000 ? n : 1000, cnt = 0;
    double *dist = malloc((size_t)(m * (m - 1) / 2 + 1) * sizeof *dist);
    if (!dist) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = i + 1; j < m; j++) {
        int64_t ii = i * n / m, jj = j * n / m;
        const float *u = ii < na ? a + 2 * ii : b + 2 * (ii - na), *v = jj < na ? a + 2 * jj : b + 2 * (jj - na);
        dist[cnt++] = sqrt((double)(u[0] - v[0]) * (u[0] - v[0]) + (double)(u[1] - v[1]) * (u[1] - v[1]));
      }
    qsort(dist, (size_t)cnt, sizeof *dist, cmp_double);
    bw = cnt ? dist[cnt / 2] : 1.0;
    free(dist);
    if (bw <= 0) bw = 1.0;
  }
  double g = 1.0 / (2 * bw * bw), s[3] = {0, 0, 0};
  const float *sets[2] = {a, b};
  int64_t ns[2] = {na, nb};
  for (int pr = 0; pr < 3; pr++) { /* aa, bb, ab */
    const float *u = sets[pr == 1], *v = sets[pr != 0];
    int64_t nu = ns[pr == 1], nv = ns[pr != 0];
    double acc = 0;
    for (int64_t i = 0; i < nu; i++)
      for (int64_t j = 0; j < nv; j++) {
        double dx = u[2 * i] - v[2 * j], dy = u[2 * i + 1] - v[2 * j + 1];
        acc += exp(-g * (dx * dx + dy * dy));
      }
    s[pr] = acc / ((double)nu * nv);
  }
  *out = s[0] + s[1] - 2 * s[2];
  if (bw_used) *bw_used = bw;
  return CLD_OK;
}

cld_status cld_toy_nll(cld_ctx *ctx, const char *toy, const float *xy, int64_t n, double *out) {
  if (!ctx || !toy || !xy || !out || n < 1) return CLD_ERR_INVALID_ARG;
  double cx[25], cy[25], sd;
  int K;
  if (!strcmp(toy, "8gaussians")) {
    K = 8;
    sd = 0.02;
    for (int k = 0; k < 8; k++) { cx[k] = 2 * cos(2 * M_PI * k / 8); cy[k] = 2 * sin(2 * M_PI * k / 8); }
  } else if (!strcmp(toy, "25gaussians")) {
    K = 25;
    sd = 0.05;
    for (int k = 0; k < 25; k++) { cx[k] = k / 5 - 2; cy[k] = k % 5 - 2; }
  } else {
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "nll: the true density is known for 8gaussians and 25gaussians, not '%s'", toy);
  }
  double lognorm = -log(2 * M_PI * sd * sd) - log((double)K), total = 0;
  for (int64_t i = 0; i < n; i++) {
    double e[25], mx = -INFINITY;
    for (int k = 0; k < K; k++) {
      double dx = xy[2 * i] - cx[k], dy = xy[2 * i + 1] - cy[k];
      e[k] = -(dx * dx + dy * dy) / (2 * sd * sd);
      if (e[k] > mx) mx = e[k];
    }
    double s = 0;
    for (int k = 0; k < K; k++) s += exp(e[k] - mx);
    total -= lognorm + mx + log(s);
  }
  *out = total / (double)n;
  return CLD_OK;
}

double cld_checkerboard_support(const float *xy, int64_t n) {
  if (!xy || n < 1) return 0;
  int64_t in = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = xy[2 * i], y = xy[2 * i + 1];
    if (x < -2 || x >= 2 || y < -2 || y >= 2) continue;
    int cx = (int)floor(x + 2), cy = (int)floor(y + 2);
    if ((cx + cy) % 2 == 0) in++;
  }
  return (double)in / (double)n;
}
