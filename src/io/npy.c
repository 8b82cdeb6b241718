/* NumPy .npy: writing float32 arrays (format 1.0, atomically) and reading float32/float64 ones. */
#include "runtime/runtime.h"
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* the most elements a .npy may declare (2^34, 64 GiB of float32) */
#define CLD_NPY_MAX_ELEMS (1ull << 34)

cld_status cld_npy_write(cld_ctx *ctx, const char *path, const float *data, int ndim, const int64_t *shape) {
  if (!ctx || !path || !data || ndim < 1 || ndim > 8 || !shape) return CLD_ERR_INVALID_ARG;
  char hdr[256], dims[160] = "";
  size_t n = 1;
  for (int i = 0; i < ndim; i++) {
    snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%lld,%s", (long long)shape[i], i + 1 < ndim ? " " : "");
    n *= (size_t)shape[i];
  }
  if (ndim > 1) dims[strlen(dims) - 1] = 0; /* "(N, C)" not "(N, C,)"; 1-D keeps its comma */
  int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
  int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
  memset(hdr + hl, ' ', (size_t)pad);
  hdr[hl + pad] = '\n';
  unsigned short len = (unsigned short)(hl + pad + 1);
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
  int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, len, f) == len && fwrite(data, sizeof(float), n, f) == n &&
           fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return cld_seterr(ctx, CLD_ERR_IO, "%s: write failed", path);
  }
  return CLD_OK;
}

/* Reads a little-endian float32 or float64 C-order .npy (format 1.x or 2.x) into float32. */
cld_status cld_npy_read(cld_ctx *ctx, const char *path, float **data, int *ndim, int64_t shape[8]) {
  if (!ctx || !path || !data || !ndim || !shape) return CLD_ERR_INVALID_ARG;
  FILE *f = fopen(path, "rb");
  if (!f) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char pre[12];
  cld_status st = CLD_OK;
  char *hdr = NULL;
  float *out = NULL;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) || pre[6] < 1 || pre[6] > 3) {
    st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: not a .npy file (bad magic or version)", path);
    goto done;
  }
  size_t hl = (size_t)pre[8] | (size_t)pre[9] << 8;
  if (pre[6] >= 2) {
    if (fread(pre + 10, 1, 2, f) != 2) { st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: truncated header", path); goto done; }
    hl |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  }
  if (hl > 65536 || !(hdr = calloc(hl + 1, 1)) || fread(hdr, 1, hl, f) != hl) {
    st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: truncated or oversized header", path);
    goto done;
  }
  int f8 = strstr(hdr, "'<f8'") != NULL;
  if (!f8 && !strstr(hdr, "'<f4'")) { st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: dtype must be float32 or float64 ('<f4'/'<f8')", path); goto done; }
  if (strstr(hdr, "True")) { st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: Fortran order is not supported", path); goto done; }
  const char *sp = strstr(hdr, "'shape'");
  sp = sp ? strchr(sp, '(') : NULL;
  if (!sp) { st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: header has no shape", path); goto done; }
  int nd = 0;
  size_t n = 1;
  for (const char *q = sp + 1; *q && *q != ')';) {
    while (*q == ' ' || *q == ',') q++;
    if (*q == ')') break;
    char *end;
    long long v = strtoll(q, &end, 10);
    if (end == q || v < 0 || nd == 8) { st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: bad shape in header", path); goto done; }
    if (v > 0 && n > CLD_NPY_MAX_ELEMS / (size_t)v) { /* checked before it multiplies: no wrap */
      st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: the header's shape has more than %llu elements", path, (unsigned long long)CLD_NPY_MAX_ELEMS);
      goto done;
    }
    shape[nd++] = v;
    n *= (size_t)v;
    q = end;
  }
  if (nd == 0) { st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: unsupported shape", path); goto done; }
  /* the data must be exactly what the shape says, before anything is allocated for it */
  struct stat fs;
  long pos = ftell(f);
  size_t need = n * (f8 ? sizeof(double) : sizeof(float));
  if (pos < 0 || fstat(fileno(f), &fs) != 0 || (uint64_t)fs.st_size < (uint64_t)pos || (uint64_t)fs.st_size - (uint64_t)pos != need) {
    st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: %lld bytes of data, the header's shape needs %zu", path,
                    pos < 0 ? -1LL : (long long)fs.st_size - pos, need);
    goto done;
  }
  if (!(out = malloc((n ? n : 1) * sizeof *out))) { st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", path); goto done; }
  if (f8) {
    double buf[1024];
    for (size_t i = 0; i < n && !st; i += 1024) {
      size_t k = n - i < 1024 ? n - i : 1024;
      if (fread(buf, sizeof(double), k, f) != k) st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: truncated data", path);
      for (size_t j = 0; j < k && !st; j++) out[i + j] = (float)buf[j];
    }
  } else if (fread(out, sizeof(float), n, f) != n) st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: truncated data (%zu floats expected)", path, n);
  if (!st) { *data = out; *ndim = nd; out = NULL; }
done:
  free(hdr);
  free(out);
  fclose(f);
  return st;
}
