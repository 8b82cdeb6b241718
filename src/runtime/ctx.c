/* Context lifetime (errors.c has the error messages and status strings). Device enumeration lives in
 * device.c, program building in program.c. No global state: every context owns its objects. */
#include "runtime/gemm.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cld_version(void) { return CLDIFF_VERSION; }

cld_ctx_params cld_ctx_params_default(void) {
  cld_ctx_params p;
  memset(&p, 0, sizeof p);
  p.gemm_provider = "auto";
  return p;
}

static void pick_cache_dir(cld_ctx *ctx, const char *want) {
  const char *env = getenv("CLDIFF_CACHE_DIR");
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  if (want && *want) snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", want);
  else if (env && *env) snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", env);
  else if (xdg && *xdg) snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/cldiff", xdg);
  else if (home && *home) snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/.cache/cldiff", home);
  else snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "/tmp/cldiff-cache");
}

cld_status cld_ctx_create(const cld_ctx_params *p, cld_ctx **out, char *errbuf, size_t errlen) {
  char tmp[512];
  if (!errbuf) { errbuf = tmp; errlen = sizeof tmp; }
  errbuf[0] = 0;
  if (!out) { snprintf(errbuf, errlen, "cld_ctx_create: out is NULL"); return CLD_ERR_INVALID_ARG; }
  cld_ctx_params def = cld_ctx_params_default();
  if (!p) p = &def;
  cld_gemm_provider pref = CLD_GEMM_AUTO;
  if (p->gemm_provider && *p->gemm_provider) {
    if (!strcmp(p->gemm_provider, "auto")) pref = CLD_GEMM_AUTO;
    else if (!strcmp(p->gemm_provider, "tiled")) pref = CLD_GEMM_TILED;
    else if (!strcmp(p->gemm_provider, "clblast")) pref = CLD_GEMM_CLBLAST;
    else if (!strcmp(p->gemm_provider, "host")) pref = CLD_GEMM_HOST;
    else {
      snprintf(errbuf, errlen, "gemm provider '%s' unknown (use auto, tiled, clblast or host)", p->gemm_provider);
      return CLD_ERR_INVALID_ARG;
    }
  }
  cld_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) { snprintf(errbuf, errlen, "cld_ctx_create: out of host memory"); return CLD_ERR_NOMEM; }
  ctx->gemm_pref = pref;
  const char *want = p->device;
  if (!want || !*want) want = getenv("CLDIFF_DEVICE");
  cld_status st = cld_device_choose(want, &ctx->platform, &ctx->device, &ctx->info, errbuf, errlen);
  if (st) { free(ctx); return st; }
  cl_int e;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
  ctx->context = clCreateContext(props, 1, &ctx->device, NULL, NULL, &e);
  if (e != CL_SUCCESS) {
    /* seen on an H200 when many processes held contexts at once (ctest -j 8): say what may help */
    bool busy = e == CL_OUT_OF_HOST_MEMORY || e == CL_OUT_OF_RESOURCES || e == CL_DEVICE_NOT_AVAILABLE;
    snprintf(errbuf, errlen, "clCreateContext on '%s': %s (%d)%s", ctx->info.name, cld_cl_errstr(e), (int)e,
             busy && ctx->info.is_gpu ? "; the driver may be out of contexts: fewer processes on this device at once "
                                        "(each one holds a context), or another --device" : "");
    free(ctx);
    return CLD_ERR_CL;
  }
  ctx->queue = clCreateCommandQueue(ctx->context, ctx->device, 0, &e);
  if (e != CL_SUCCESS) {
    snprintf(errbuf, errlen, "clCreateCommandQueue on '%s': %s (%d)", ctx->info.name, cld_cl_errstr(e), (int)e);
    clReleaseContext(ctx->context);
    free(ctx);
    return CLD_ERR_CL;
  }
  if (pref == CLD_GEMM_HOST && !cld_gemm_host_available(ctx)) {
    snprintf(errbuf, errlen, "gemm provider 'host' needs a CPU device that shares the host's memory ('%s' does not)",
             ctx->info.name);
    clReleaseCommandQueue(ctx->queue);
    clReleaseContext(ctx->context);
    free(ctx);
    return CLD_ERR_INVALID_ARG;
  }
  ctx->no_disk_cache = p->no_disk_cache;
  pick_cache_dir(ctx, p->cache_dir);
  *out = ctx;
  return CLD_OK;
}

void cld_ctx_destroy(cld_ctx *ctx) {
  if (!ctx) return;
  if (ctx->queue) clFinish(ctx->queue);
  cld_gemm_release(ctx);
  for (int i = 0; i < ctx->n_programs; i++)
    if (ctx->programs[i].program) clReleaseProgram(ctx->programs[i].program);
  if (ctx->queue) clReleaseCommandQueue(ctx->queue);
  if (ctx->context) clReleaseContext(ctx->context);
  free(ctx);
}

const char *cld_ctx_errmsg(const cld_ctx *ctx) { return ctx ? ctx->errmsg : "no context"; }
const cld_device_info *cld_ctx_device(const cld_ctx *ctx) { return ctx ? &ctx->info : NULL; }
const char *cld_ctx_cache_dir(const cld_ctx *ctx) { return ctx ? ctx->cache_dir : NULL; }

cld_status cld_ctx_finish(cld_ctx *ctx) {
  if (!ctx) return CLD_ERR_INVALID_ARG;
  cl_int e = clFinish(ctx->queue);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "clFinish");
}
