/* cldiff public API: status codes, contexts and devices. Umbrella header for the rest.
 * Public headers include only <stddef.h> <stdint.h> <stdbool.h>; no OpenCL types leak out. */
#ifndef CLDIFF_CLDIFF_H
#define CLDIFF_CLDIFF_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "cldiff/base.h"

#ifdef __cplusplus
extern "C" {
#endif

CLD_API const char *cld_status_str(cld_status s);
CLD_API const char *cld_version(void);

/* ---- devices ---------------------------------------------------------------------------- */
typedef struct cld_device_info {
  int index;               /* global index across platforms, as used by --device N */
  char platform[128];
  char name[128];
  char vendor[128];
  char version[128];       /* CL_DEVICE_VERSION */
  char c_version[64];      /* CL_DEVICE_OPENCL_C_VERSION */
  char driver[64];
  bool is_gpu, is_cpu;
  int compute_units;
  int clock_mhz;
  uint64_t global_mem, max_alloc, local_mem;
  size_t max_work_group;
  int pref_vec_float;
  bool fp64;
  bool usable;             /* meets cldiff's requirements */
  char why_not[256];       /* when !usable: what is missing */
} cld_device_info;

/* Lists every device of every platform. *count gets the total, even when > max. */
CLD_API cld_status cld_devices_list(cld_device_info *out, int max, int *count);

/* ---- context ---------------------------------------------------------------------------- */
typedef struct cld_ctx cld_ctx;

typedef struct cld_ctx_params {
  const char *device;     /* index or name substring; NULL: $CLDIFF_DEVICE, else prefer a GPU */
  const char *cache_dir;  /* NULL: $CLDIFF_CACHE_DIR, else $XDG_CACHE_HOME/cldiff, else ~/.cache/cldiff */
  bool no_disk_cache;     /* build every program from source, write nothing */
  const char *gemm_provider; /* "auto" (tuned per shape, default), "tiled", "clblast", "host" (CPU devices only) */
} cld_ctx_params;

CLD_API cld_ctx_params cld_ctx_params_default(void);
/* Creates a context on the chosen device. On failure returns the status and, when errbuf is
 * non-NULL, a message naming the problem (no context exists yet to hold it). */
CLD_API cld_status cld_ctx_create(const cld_ctx_params *p, cld_ctx **out, char *errbuf, size_t errlen);
CLD_API void cld_ctx_destroy(cld_ctx *ctx);
/* The message of the last failed call on this context ("" if none). */
CLD_API const char *cld_ctx_errmsg(const cld_ctx *ctx);
CLD_API const cld_device_info *cld_ctx_device(const cld_ctx *ctx);
/* Waits for all work enqueued on the context's queue. */
CLD_API cld_status cld_ctx_finish(cld_ctx *ctx);
/* Builds (or loads from the disk cache) an embedded program; exposed for tests and tools. */
CLD_API cld_status cld_ctx_build_program(cld_ctx *ctx, const char *name, const char *options);
/* Builds a program from the given source text (tests of the error path, user kernels). */
CLD_API cld_status cld_ctx_build_source(cld_ctx *ctx, const char *source, const char *options);
CLD_API const char *cld_ctx_cache_dir(const cld_ctx *ctx);
/* Reads every entry of the cache directory (compiled programs, features, GEMM tuning tables) and
 * counts the damaged ones (a damaged entry is only ever a miss, rebuilt on use); first_bad
 * (optional) gets the first one's path. A cache directory that does not exist has 0 entries. */
CLD_API cld_status cld_ctx_cache_verify(cld_ctx *ctx, int *entries, int *bad, char *first_bad, size_t n);

#ifdef __cplusplus
}
#endif

#include "cldiff/graph.h"
#include "cldiff/optim.h"
#include "cldiff/rng.h"
#include "cldiff/gemm.h"
#include "cldiff/schedule.h"
#include "cldiff/io.h"
#include "cldiff/models.h"
#include "cldiff/data.h"
#include "cldiff/train.h"
#include "cldiff/sample.h"
#include "cldiff/eval.h"
#include "cldiff/plot.h"
#include "cldiff/methods.h"
#endif
