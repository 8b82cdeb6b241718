/* Keyed binary entries in the cache directory (compiled OpenCL programs, reference-image features).
 * An entry NAME-KEY.bin is: magic "CLDC", format version, key, payload length, payload hash,
 * payload. It is written to a temp file, fsynced and renamed into place, so readers never see
 * half a file; any mismatch on read (missing, short, wrong key, bad hash) is a miss, and the
 * caller recomputes and stores again. ctx->no_disk_cache turns both off. */
#include "runtime/runtime.h"
#include "cldiff/io.h"
#include "fs/fs.h"
#include <cjson/cJSON.h>
#include <dirent.h>
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

/* the file's size in bytes (0 when it cannot be told); the position is kept */
static uint64_t file_size(FILE *f) {
  struct stat sb;
  return fstat(fileno(f), &sb) == 0 && sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
}

void *cld_cache_load(cld_ctx *ctx, const char *name, uint64_t key, size_t *len) {
  if (ctx->no_disk_cache) return NULL;
  char path[700];
  entry_path(ctx, name, key, path, sizeof path);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  cache_header h;
  void *data = NULL;
  /* the length must be what the file holds before anything is allocated for it (a 50-byte entry
   * claiming 12 GB asked malloc for 12 GB: found by fuzz_cache) */
  if (fread(&h, sizeof h, 1, f) == 1 && h.magic == CACHE_MAGIC && h.format == CACHE_FORMAT && h.key == key &&
      h.len > 0 && h.len == file_size(f) - sizeof h && (data = malloc((size_t)h.len))) {
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

/* one entry file: its header whole, the key its name says, the length the file has, the hash */
static bool entry_ok(const char *path) {
  const char *dash = strrchr(path, '-');
  FILE *f = fopen(path, "rb");
  if (!f || !dash) { if (f) fclose(f); return false; }
  cache_header h;
  bool ok = fread(&h, sizeof h, 1, f) == 1 && h.magic == CACHE_MAGIC && h.format == CACHE_FORMAT &&
            h.key == strtoull(dash + 1, NULL, 16) && h.len > 0 && h.len == file_size(f) - sizeof h;
  void *data = ok ? malloc((size_t)h.len) : NULL;
  ok = data && fread(data, 1, (size_t)h.len, f) == (size_t)h.len && fgetc(f) == EOF &&
       cld_hash64(data, (size_t)h.len, 0) == h.hash;
  free(data);
  fclose(f);
  return ok;
}

/* a tuning table: a JSON object */
static bool table_ok(const char *path) {
  char *text = cld_fs_read_text(path);
  cJSON *r = text ? cJSON_Parse(text) : NULL;
  bool ok = cJSON_IsObject(r);
  cJSON_Delete(r);
  free(text);
  return ok;
}

cld_status cld_ctx_cache_verify(cld_ctx *ctx, int *entries, int *bad, char *first_bad, size_t n) {
  if (!ctx || !entries || !bad) return CLD_ERR_INVALID_ARG;
  *entries = *bad = 0;
  if (first_bad && n) first_bad[0] = 0;
  DIR *d = opendir(ctx->cache_dir);
  if (!d) return errno == ENOENT ? CLD_OK : cld_seterr(ctx, CLD_ERR_IO, "%s: %s", ctx->cache_dir, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    bool bin = len > 4 && !strcmp(e->d_name + len - 4, ".bin"), table = !strncmp(e->d_name, "gemm-tune-", 10) &&
                                                                          len > 5 && !strcmp(e->d_name + len - 5, ".json");
    if (!bin && !table) continue; /* temp files of a writer at work, and anything else */
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", ctx->cache_dir, e->d_name);
    ++*entries;
    if (bin ? entry_ok(path) : table_ok(path)) continue;
    if (!(*bad)++ && first_bad && n) snprintf(first_bad, n, "%s", path);
  }
  closedir(d);
  return CLD_OK;
}
