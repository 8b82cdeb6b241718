/* Keyed binary entries in the cache directory (compiled OpenCL programs, reference-image features).
 * An entry NAME-KEY.bin is: magic "CLDC", format version, key, payload length, payload hash,
 * payload. It is written to a temp file, fsynced and renamed into place, so readers never see
 * half a file; any mismatch on read (missing, short, wrong key, bad hash) is a miss, and the
 * caller recomputes and stores again. ctx->no_disk_cache turns both off. */
#include "runtime/runtime.h"
#include "cldiff/io.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CACHE_MAGIC 0x43444c43u /* "CLDC" */
#define CACHE_FORMAT 1u

typedef struct {
  uint32_t magic, format;
  uint64_t key, len, hash;
} cache_header;

static void entry_path(const cld_ctx *ctx, const char *name, uint64_t key, char *out, size_t n) {
  snprintf(out, n, "%s/%s-%016llx.bin", ctx->cache_dir, name, (unsigned long long)key);
}

void *cld_cache_load(cld_ctx *ctx, const char *name, uint64_t key, size_t *len) {
  if (ctx->no_disk_cache) return NULL;
  char path[700];
  entry_path(ctx, name, key, path, sizeof path);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  cache_header h;
  void *data = NULL;
  if (fread(&h, sizeof h, 1, f) == 1 && h.magic == CACHE_MAGIC && h.format == CACHE_FORMAT && h.key == key &&
      h.len > 0 && h.len < ((uint64_t)1 << 40) && (data = malloc((size_t)h.len))) {
    if (fread(data, 1, (size_t)h.len, f) != (size_t)h.len || fgetc(f) != EOF || cld_hash64(data, (size_t)h.len, 0) != h.hash) {
      free(data);
      data = NULL;
    } else *len = (size_t)h.len;
  }
  fclose(f);
  return data;
}

void cld_cache_store(cld_ctx *ctx, const char *name, uint64_t key, const void *data, size_t len) {
  if (ctx->no_disk_cache || !len || cld_fs_mkdirs(ctx->cache_dir)) return;
  cache_header h = {CACHE_MAGIC, CACHE_FORMAT, key, len, cld_hash64(data, len, 0)};
  unsigned char *buf = malloc(sizeof h + len);
  if (!buf) return;
  memcpy(buf, &h, sizeof h);
  memcpy(buf + sizeof h, data, len);
  char path[700], keep[sizeof ctx->errmsg];
  entry_path(ctx, name, key, path, sizeof path);
  memcpy(keep, ctx->errmsg, sizeof keep); /* best effort: a failed write leaves the context's message alone */
  if (cld_file_write_atomic(ctx, path, buf, sizeof h + len)) memcpy(ctx->errmsg, keep, sizeof keep);
  free(buf);
}
