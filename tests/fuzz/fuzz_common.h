/* Shared pieces of the libFuzzer harnesses (tests/fuzz/fuzz_*.c, built with -DCLDIFF_FUZZ=ON and
 * clang): one context for the whole run (the parsers use it only for their error message) and the
 * input written to a per-process file, for the parsers that take a path. A harness only asks the
 * parser to parse; a crash, a sanitizer report or a leak is the finding. */
#ifndef CLDIFF_FUZZ_COMMON_H
#define CLDIFF_FUZZ_COMMON_H
#include "cldiff/cldiff.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static cld_ctx *fuzz_ctx(void) {
  static cld_ctx *ctx;
  if (!ctx && cld_ctx_create(NULL, &ctx, NULL, 0)) abort(); /* the harness itself cannot run without one */
  return ctx;
}

/* the input as a file; its path is valid until the next call */
static const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
  static char path[256];
  snprintf(path, sizeof path, "/tmp/cldiff-fuzz-%ld%s", (long)getpid(), suffix);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  return path;
}

/* the input as a NUL-terminated string (malloc'd) */
static char *fuzz_text(const uint8_t *data, size_t size) {
  char *t = malloc(size + 1);
  if (!t) abort();
  for (size_t i = 0; i < size; i++) t[i] = (char)data[i];
  t[size] = 0;
  return t;
}
#endif
