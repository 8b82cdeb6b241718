/* The runtime's atomic writes with the message kept in the context (files over fs/fs.h). */
#include "runtime/runtime.h"
#include "fs/fs.h"
#include <string.h>

cld_status cld_file_write_atomic(cld_ctx *ctx, const char *path, const void *data, size_t n) {
  char err[1400];
  if (cld_fs_write_atomic(path, data, n, err, sizeof err)) return cld_seterr(ctx, CLD_ERR_IO, "%s", err);
  return CLD_OK;
}

cld_status cld_write_text_atomic(cld_ctx *ctx, const char *path, const char *text) {
  return cld_file_write_atomic(ctx, path, text, strlen(text));
}
