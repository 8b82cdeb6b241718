/* NumPy .npy (format 1.0) writing of float32 arrays, atomically. */
#include "runtime/runtime.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
