/* OpenCL program building with an on-disk binary cache.
 *
 * Sources are the cl/NAME.cl files embedded at build time (or read from $CLDIFF_CL_DIR while
 * developing). Programs are built lazily, once per (name, options) per context, and their
 * binaries cached on disk under a key hashing source text, build options, platform and device
 * name and driver version (disk_cache.c: any mismatch on read, or a binary the driver rejects,
 * silently falls back to a source build that rewrites the entry). A line "//@include NAME" in a
 * source is replaced by cl/NAME.cl's text (one level: the spliced text is not scanned again), so
 * kernel files can share definitions; the cache key hashes the spliced text. */
#include "runtime/runtime.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cld_cl_source { const char *name; const char *text; size_t len; };
extern const struct cld_cl_source cld_cl_sources[];

/* Returns the source text (malloc'd when read from disk: *owned set). */
static const char *find_source(cld_ctx *ctx, const char *name, size_t *len, char **owned) {
  *owned = NULL;
  const char *dir = getenv("CLDIFF_CL_DIR");
  if (dir && *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.cl", dir, name);
    char *s = cld_fs_read_text(path);
    if (s) { *owned = s; *len = strlen(s); return s; }
  }
  for (const struct cld_cl_source *s = cld_cl_sources; s->name; s++)
    if (!strcmp(s->name, name)) { *len = s->len; return s->text; }
  return NULL;
}

/* *src with each "//@include NAME" line replaced by that source; *spliced owns the new text (NULL
 * when there was nothing to splice) */
static cld_status splice_includes(cld_ctx *ctx, const char *name, const char **src, size_t *len, char **spliced) {
  static const char tag[] = "\n//@include ";
  *spliced = NULL;
  if (!strstr(*src, tag)) return CLD_OK;
  char *buf = NULL;
  size_t n = 0;
  const char *p = *src, *q;
  for (;;) {
    q = strstr(p, tag);
    size_t head = q ? (size_t)(q - p) + 1 : strlen(p), ilen = 0, nl = 0;
    const char *inc = NULL;
    char *owned = NULL, iname[64] = "";
    if (q) {
      nl = strcspn(q + sizeof tag - 1, "\r\n");
      snprintf(iname, sizeof iname, "%.*s", (int)(nl < sizeof iname ? nl : sizeof iname - 1), q + sizeof tag - 1);
      inc = find_source(ctx, iname, &ilen, &owned);
      if (!inc) {
        free(buf);
        return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "OpenCL source '%s' includes '%s', which does not exist", name, iname);
      }
    }
    char *nb = realloc(buf, n + head + ilen + 1);
    if (!nb) { free(buf); free(owned); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
    buf = nb;
    memcpy(buf + n, p, head);
    memcpy(buf + n + head, inc ? inc : "", ilen);
    n += head + ilen;
    buf[n] = 0;
    free(owned);
    if (!q) break;
    p = q + sizeof tag - 1 + nl;
  }
  *src = buf;
  *len = n;
  *spliced = buf;
  return CLD_OK;
}

static cl_program load_cached(cld_ctx *ctx, const char *name, uint64_t key, const char *options) {
  size_t bn = 0;
  unsigned char *bin = cld_cache_load(ctx, name, key, &bn);
  if (!bin) return NULL;
  const unsigned char *bins = bin;
  cl_int status = CL_SUCCESS, e;
  cl_program prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &bn, &bins, &status, &e);
  if (prog && (e != CL_SUCCESS || status != CL_SUCCESS || clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS)) {
    clReleaseProgram(prog);
    prog = NULL;
  }
  free(bin);
  return prog;
}

static void store_cached(cld_ctx *ctx, const char *name, uint64_t key, cl_program prog) {
  size_t bn = 0;
  if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bn, &bn, NULL) != CL_SUCCESS || bn == 0) return;
  unsigned char *bin = malloc(bn);
  if (!bin) return;
  unsigned char *bins[1] = {bin};
  if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS) cld_cache_store(ctx, name, key, bin, bn);
  free(bin);
}

static cld_status build_from_source(cld_ctx *ctx, const char *label, const char *src, size_t len,
                                    const char *options, cl_program *out) {
  cl_int e;
  cl_program prog = clCreateProgramWithSource(ctx->context, 1, &src, &len, &e);
  if (e != CL_SUCCESS) return cld_clerr(ctx, e, "clCreateProgramWithSource");
  e = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
  if (e != CL_SUCCESS) {
    size_t ln = 0;
    clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &ln);
    char *log = malloc(ln + 1);
    if (log) {
      log[0] = 0;
      clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, ln, log, NULL);
      log[ln] = 0;
    }
    cld_seterr(ctx, CLD_ERR_BUILD, "building OpenCL program '%s' (options '%s') failed: %s (%d)\n%s",
               label, options, cld_cl_errstr(e), (int)e, log ? log : "(no build log)");
    free(log);
    clReleaseProgram(prog);
    return CLD_ERR_BUILD;
  }
  *out = prog;
  return CLD_OK;
}

cld_status cld_program_get(cld_ctx *ctx, const char *name, const char *options, cl_program *out) {
  if (!options) options = "";
  for (int i = 0; i < ctx->n_programs; i++)
    if (!strcmp(ctx->programs[i].name, name) && !strcmp(ctx->programs[i].options, options)) {
      *out = ctx->programs[i].program;
      return CLD_OK;
    }
  if (ctx->n_programs >= CLD_MAX_PROGRAMS)
    return cld_seterr(ctx, CLD_ERR_STATE, "too many program variants (max %d)", CLD_MAX_PROGRAMS);
  if (strlen(name) >= sizeof ctx->programs[0].name || strlen(options) >= sizeof ctx->programs[0].options)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "program name or options too long: '%s' '%s'", name, options);
  size_t len = 0;
  char *owned;
  const char *src = find_source(ctx, name, &len, &owned);
  if (!src) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "no OpenCL source named '%s'", name);
  char *spliced;
  cld_status sst = splice_includes(ctx, name, &src, &len, &spliced);
  if (sst) { free(owned); return sst; }

  uint64_t key = cld_hash64(src, len, 0);
  key = cld_hash64(options, strlen(options) + 1, key);
  key = cld_hash64(ctx->info.platform, strlen(ctx->info.platform) + 1, key);
  key = cld_hash64(ctx->info.name, strlen(ctx->info.name) + 1, key);
  key = cld_hash64(ctx->info.driver, strlen(ctx->info.driver) + 1, key);
  cl_program prog = load_cached(ctx, name, key, options);
  if (!prog) {
    cld_status st = build_from_source(ctx, name, src, len, options, &prog);
    if (st) { free(owned); free(spliced); return st; }
    store_cached(ctx, name, key, prog);
  }
  free(owned);
  free(spliced);
  cld_program_entry *pe = &ctx->programs[ctx->n_programs++];
  snprintf(pe->name, sizeof pe->name, "%s", name);
  snprintf(pe->options, sizeof pe->options, "%s", options);
  pe->program = prog;
  *out = prog;
  return CLD_OK;
}

cld_status cld_ctx_build_program(cld_ctx *ctx, const char *name, const char *options) {
  if (!ctx || !name) return CLD_ERR_INVALID_ARG;
  cl_program p;
  return cld_program_get(ctx, name, options, &p);
}

cld_status cld_ctx_build_source(cld_ctx *ctx, const char *source, const char *options) {
  if (!ctx || !source) return CLD_ERR_INVALID_ARG;
  cl_program p = NULL;
  cld_status st = build_from_source(ctx, "<user source>", source, strlen(source), options ? options : "", &p);
  if (st == CLD_OK) clReleaseProgram(p);
  return st;
}

cld_status cld_kernel_create(cld_ctx *ctx, const char *program, const char *options, const char *kernel,
                             cl_kernel *out) {
  cl_program p;
  cld_status st = cld_program_get(ctx, program, options, &p);
  if (st) return st;
  cl_int e;
  cl_kernel k = clCreateKernel(p, kernel, &e);
  if (e != CL_SUCCESS) {
    char what[160];
    snprintf(what, sizeof what, "clCreateKernel '%s' from '%s'", kernel, program);
    return cld_clerr(ctx, e, what);
  }
  *out = k;
  return CLD_OK;
}
