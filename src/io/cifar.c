/* CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32).
 * Train: data_batch_1..5.bin; test: test_batch.bin; in DIR or DIR/cifar-10-batches-bin. */
#include "runtime/runtime.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REC 3073

static cld_status load_file(cld_ctx *ctx, const char *path, cld_dataset *d) {
  FILE *f = fopen(path, "rb");
  if (!f) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (size <= 0 || size % REC) {
    fclose(f);
    return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: %ld bytes is not a whole number of %d-byte CIFAR-10 records", path, size, REC);
  }
  int64_t n = size / REC;
  float *x = realloc(d->x, (size_t)(d->n + n) * 3072 * sizeof(float));
  int *lab = realloc(d->labels, (size_t)(d->n + n) * sizeof(int));
  if (x) d->x = x;
  if (lab) d->labels = lab;
  if (!x || !lab) { fclose(f); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  unsigned char rec[REC];
  for (int64_t i = 0; i < n; i++) {
    if (fread(rec, 1, REC, f) != REC) { fclose(f); return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: truncated at record %lld", path, (long long)i); }
    if (rec[0] > 9) { fclose(f); return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: record %lld has label %d (CIFAR-10 has 0..9)", path, (long long)i, rec[0]); }
    d->labels[d->n + i] = rec[0];
    float *dst = d->x + (size_t)(d->n + i) * 3072;
    for (int k = 0; k < 3072; k++) dst[k] = rec[1 + k] / 127.5f - 1.0f;
  }
  fclose(f);
  d->n += n;
  return CLD_OK;
}

cld_status cld_cifar10_load(cld_ctx *ctx, const char *dir, bool train, cld_dataset **out) {
  char base[1024], path[1100];
  snprintf(base, sizeof base, "%s/cifar-10-batches-bin", dir);
  if (access(base, R_OK) != 0) snprintf(base, sizeof base, "%s", dir);
  cld_dataset *d = calloc(1, sizeof *d);
  if (!d) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  d->c = 3;
  d->h = d->w = 32;
  d->n_classes = 10;
  snprintf(d->name, sizeof d->name, "cifar10:%s (%s)", dir, train ? "train" : "test");
  cld_status st = CLD_OK;
  for (int i = 1; i <= (train ? 5 : 1) && !st; i++) {
    if (train) snprintf(path, sizeof path, "%s/data_batch_%d.bin", base, i);
    else snprintf(path, sizeof path, "%s/test_batch.bin", base);
    st = load_file(ctx, path, d);
  }
  if (st) { cld_dataset_free(d); return st; }
  *out = d;
  return CLD_OK;
}
