/* Small text files (config.json, trainer.json, the GEMM tuning table): read whole, or written
 * atomically (temp file in the same directory, fsync, rename) so readers never see half a file. */
#include "runtime/runtime.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cld_read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *t = NULL;
  long n;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 && (t = malloc((size_t)n + 1))) {
    if (fread(t, 1, (size_t)n, f) != (size_t)n) { free(t); t = NULL; }
    else t[n] = 0;
  }
  fclose(f);
  return t;
}

cld_status cld_file_write_atomic(cld_ctx *ctx, const char *path, const void *data, size_t n) {
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
  int ok = fwrite(data, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return cld_seterr(ctx, CLD_ERR_IO, "%s: write failed: %s", path, strerror(e));
  }
  return CLD_OK;
}

cld_status cld_write_text_atomic(cld_ctx *ctx, const char *path, const char *text) {
  return cld_file_write_atomic(ctx, path, text, strlen(text));
}
