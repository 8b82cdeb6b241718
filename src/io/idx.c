/* IDX files (MNIST / Fashion-MNIST), raw or gzip-compressed, read through zlib's gzread (which
 * passes uncompressed files through). Images become floats in [-1, 1]. */
#include "runtime/runtime.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int read_u32be(gzFile f, uint32_t *v) {
  unsigned char b[4];
  if (gzread(f, b, 4) != 4) return -1;
  *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
  return 0;
}

/* the most payload an IDX file may declare (8 GiB): dims multiply without wrapping below it */
#define CLD_IDX_MAX_BYTES (1ull << 33)

/* exactly total payload bytes into *data (malloc'd), grown as they arrive so that a header
 * promising more than the file holds costs no more memory than the file; trailing bytes fail */
static cld_status read_payload(cld_ctx *ctx, gzFile f, const char *path, size_t total, unsigned char **data) {
  size_t have = 0, cap = total < (1u << 20) ? total : (1u << 20);
  unsigned char *buf = malloc(cap ? cap : 1);
  while (buf && have < total) {
    if (have == cap) {
      size_t ncap = cap * 2 < total ? cap * 2 : total;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) { free(buf); buf = NULL; break; }
      buf = nb;
      cap = ncap;
    }
    size_t want = cap - have < (1u << 30) ? cap - have : (1u << 30);
    int got = gzread(f, buf + have, (unsigned)want);
    if (got <= 0) {
      free(buf);
      return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: truncated: %zu of %zu payload bytes", path, have, total);
    }
    have += (size_t)got;
  }
  if (!buf) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory for %zu payload bytes", path, total);
  if (gzgetc(f) != -1) {
    free(buf);
    return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: bytes after the %zu-byte payload the header declares", path, total);
  }
  *data = buf;
  return CLD_OK;
}

/* Reads header + payload of an IDX file of unsigned bytes; dims has room for 3. */
static cld_status read_idx(cld_ctx *ctx, const char *path, int want_ndim, uint32_t *dims, unsigned char **data) {
  gzFile f = gzopen(path, "rb");
  if (!f) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  uint32_t magic;
  cld_status st = CLD_OK;
  if (read_u32be(f, &magic)) st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: truncated before the IDX magic", path);
  else if ((magic >> 8) != 0x08 || (int)(magic & 0xff) != want_ndim)
    st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: IDX magic 0x%08x: expected unsigned bytes in %d dims (0x%08x)", path, magic,
                    want_ndim, 0x800u | (unsigned)want_ndim);
  uint64_t total = 1;
  for (int i = 0; i < want_ndim && !st; i++) {
    if (read_u32be(f, &dims[i])) st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: truncated in the header (dim %d)", path, i);
    else if (dims[i] == 0 || dims[i] > (1u << 24)) st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: dim %d is %u", path, i, dims[i]);
    else if ((total *= dims[i]) > CLD_IDX_MAX_BYTES) /* each factor < 2^25 and total <= 2^33 before it: no wrap */
      st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: the header's dims make more than %llu payload bytes", path,
                      (unsigned long long)CLD_IDX_MAX_BYTES);
  }
  if (!st) st = read_payload(ctx, f, path, (size_t)total, data);
  gzclose(f);
  return st;
}

cld_status cld_idx_load(cld_ctx *ctx, const char *images, const char *labels, cld_dataset **out) {
  if (!ctx || !images || !out) return CLD_ERR_INVALID_ARG;
  uint32_t d[3];
  unsigned char *px = NULL;
  cld_status st = read_idx(ctx, images, 3, d, &px);
  if (st) return st;
  cld_dataset *ds = calloc(1, sizeof *ds);
  size_t n = (size_t)d[0] * d[1] * d[2];
  if (!ds || !(ds->x = malloc(n * sizeof(float)))) {
    free(px);
    if (ds) free(ds);
    return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  }
  ds->n = d[0];
  ds->c = 1;
  ds->h = (int)d[1];
  ds->w = (int)d[2];
  for (size_t i = 0; i < n; i++) ds->x[i] = px[i] / 127.5f - 1.0f;
  free(px);
  snprintf(ds->name, sizeof ds->name, "%s", images);
  if (labels) {
    uint32_t ld[1];
    unsigned char *lb = NULL;
    if ((st = read_idx(ctx, labels, 1, ld, &lb))) { cld_dataset_free(ds); return st; }
    if (ld[0] != d[0]) {
      free(lb);
      cld_dataset_free(ds);
      return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: %u labels for %u images in %s", labels, ld[0], d[0], images);
    }
    ds->labels = malloc(ld[0] * sizeof(int));
    if (!ds->labels) { free(lb); cld_dataset_free(ds); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
    for (uint32_t i = 0; i < ld[0]; i++) {
      ds->labels[i] = lb[i];
      if (lb[i] + 1 > ds->n_classes) ds->n_classes = lb[i] + 1; /* the classes are 0..max (names: none in IDX) */
    }
    free(lb);
  }
  *out = ds;
  return CLD_OK;
}
