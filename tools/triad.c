/* Host memory-bandwidth reference for `cldiff bench ops`: a STREAM-style triad c = a + s*b and
 * a scale c = s*a over the same 16758784 floats, with 1 and with all OpenMP threads; prints the
 * best of 9 repetitions in GB/s (bytes read + written), the way bench ops counts them.
 * Build and run: cc -O3 -march=native -fopenmp tools/triad.c -o /tmp/triad && /tmp/triad */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
  const long n = 16758784;
  float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
  if (!a || !b || !c) return 1;
#pragma omp parallel for
  for (long i = 0; i < n; i++) { a[i] = (float)i; b[i] = 1.0f; c[i] = 0.0f; }
  int maxt = omp_get_max_threads();
  for (int th = 1; th <= maxt; th += (maxt > 1 ? maxt - 1 : 1)) {
    double tri = 1e30, sca = 1e30;
    for (int r = 0; r < 9; r++) {
      double t0 = now();
#pragma omp parallel for num_threads(th)
      for (long i = 0; i < n; i++) c[i] = a[i] + 1.5f * b[i];
      double t1 = now();
#pragma omp parallel for num_threads(th)
      for (long i = 0; i < n; i++) c[i] = 1.5f * a[i];
      double t2 = now();
      if (t1 - t0 < tri) tri = t1 - t0;
      if (t2 - t1 < sca) sca = t2 - t1;
    }
    printf("{\"threads\":%d,\"triad_gbps\":%.1f,\"scale_gbps\":%.1f}\n", th, 12.0 * n / tri * 1e-9, 8.0 * n / sca * 1e-9);
  }
  free(a); free(b); free(c);
  return 0;
}
