/* Shared helpers for the cmocka tests: a context on the test device, seeded host data,
 * tolerant comparisons. Header-only so that every test binary stays one file. */
#ifndef CLDIFF_TEST_UTIL_H
#define CLDIFF_TEST_UTIL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cldiff/cldiff.h"

static inline cld_ctx *tu_ctx(void) {
  cld_ctx *ctx = NULL;
  char err[512];
  cld_status st = cld_ctx_create(NULL, &ctx, err, sizeof err);
  if (st) fprintf(stderr, "cld_ctx_create: %s\n", err);
  assert_int_equal(st, CLD_OK);
  return ctx;
}

/* uniform in [lo, hi) from Philox stream `stream` */
static inline void tu_fill(float *x, size_t n, uint32_t stream, float lo, float hi) {
  cld_rng_uniform_host(12345, stream, 0, n, x);
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * x[i];
}

static inline float *tu_alloc(size_t n) {
  float *p = calloc(n ? n : 1, sizeof(float));
  assert_non_null(p);
  return p;
}

/* max |a-b| / (atol/rtol mix); fails with the worst index named */
static inline void tu_close(const float *got, const double *want, size_t n, double rtol, double atol, const char *what) {
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - want[i]);
    if (!(d <= atol + rtol * fabs(want[i]))) {
      fprintf(stderr, "%s: element %zu got %.8g want %.8g (|d|=%.3g)\n", what, i, (double)got[i], want[i], d);
      fail();
    }
  }
}

/* 40 one-channel 8x8 images, uniform in [-1, 1) (the trainer tests' data) */
static inline cld_dataset *tu_toy_images(void) {
  cld_dataset *d = calloc(1, sizeof *d);
  assert_non_null(d);
  d->n = 40;
  d->c = 1;
  d->h = d->w = 8;
  d->x = malloc(40 * 64 * sizeof(float));
  assert_non_null(d->x);
  tu_fill(d->x, 40 * 64, 77, -1, 1);
  snprintf(d->name, sizeof d->name, "toy-images");
  return d;
}

/* the same images labelled: image i is class i mod K (no names) */
static inline cld_dataset *tu_toy_labelled(int K) {
  cld_dataset *d = tu_toy_images();
  d->labels = malloc((size_t)d->n * sizeof *d->labels);
  assert_non_null(d->labels);
  for (int64_t i = 0; i < d->n; i++) d->labels[i] = (int)(i % K);
  d->n_classes = K;
  return d;
}

/* rm -rf of a test's temporary directory; system()'s status */
static inline int tu_rmtree(const char *dir) {
  char cmd[640];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

#define TU_OK(ctx, call)                                                                     \
  do {                                                                                       \
    cld_status st_ = (call);                                                                 \
    if (st_ != CLD_OK) {                                                                     \
      fprintf(stderr, "%s failed: %s: %s\n", #call, cld_status_str(st_), cld_ctx_errmsg(ctx)); \
      fail();                                                                                \
    }                                                                                        \
  } while (0)
#endif
