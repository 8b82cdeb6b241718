/* A kernel-cache entry (runtime/disk_cache.c: magic, format, key, length, payload hash, payload):
 * the input is the entry file of one program. Its first byte chooses the mode: as is (the header
 * checks: a wrong magic, key, length or hash is a miss), or with a header made valid for the
 * payload that follows, so the payload reaches clCreateProgramWithBinary and clBuildProgram the way
 * a cache entry written by another driver version or a hostile user would. Either way the program
 * must build, from the entry or, on a miss or a rejected binary, from source. */
#include "fuzz_common.h"
#include "runtime/runtime.h"
#include "fs/fs.h"
#include <string.h>

/* the smallest embedded program, with the options its user builds it with */
#define PROGRAM "peak"
#define OPTIONS "-cl-std=CL1.2"

typedef struct {
  uint32_t magic, format;
  uint64_t key, len, hash;
} entry_header; /* as disk_cache.c writes it */

/* the entry's path: the one name and key the loader will look for (found by building once) */
static char entry[800];
static void find_entry(cld_ctx *ctx) {
  char cmd[900];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", cld_ctx_cache_dir(ctx));
  if (system(cmd)) abort();
  if (cld_ctx_build_program(ctx, PROGRAM, OPTIONS)) abort();
  snprintf(cmd, sizeof cmd, "ls '%s'/*.bin", cld_ctx_cache_dir(ctx));
  FILE *p = popen(cmd, "r");
  if (!p || !fgets(entry, sizeof entry, p)) abort();
  pclose(p);
  entry[strcspn(entry, "\n")] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cld_ctx *ctx;
  if (!ctx) {
    char dir[200], err[256];
    snprintf(dir, sizeof dir, "/tmp/cldiff-fuzz-cache-%ld", (long)getpid());
    cld_ctx_params p = cld_ctx_params_default();
    p.cache_dir = dir;
    if (cld_ctx_create(&p, &ctx, err, sizeof err)) abort();
    find_entry(ctx);
  }
  if (size < 1) return 0;
  FILE *f = fopen(entry, "wb");
  if (!f) abort();
  if (data[0] & 1) { /* a valid header over the payload */
    const char *name = strrchr(entry, '-');
    entry_header h = {0x43444c43u, 1u, strtoull(name + 1, NULL, 16), size - 1, cld_hash64(data + 1, size - 1, 0)};
    if (fwrite(&h, sizeof h, 1, f) != 1) abort();
  }
  if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) abort();
  fclose(f);
  /* a fresh context each time: programs are kept per context once built */
  cld_ctx *c2 = NULL;
  char err[256];
  cld_ctx_params p = cld_ctx_params_default();
  p.cache_dir = cld_ctx_cache_dir(ctx);
  if (cld_ctx_create(&p, &c2, err, sizeof err)) abort();
  if (cld_ctx_build_program(c2, PROGRAM, OPTIONS)) { fprintf(stderr, "%s\n", cld_ctx_errmsg(c2)); abort(); } /* a bad entry must fall back to source */
  cld_ctx_destroy(c2);
  return 0;
}
