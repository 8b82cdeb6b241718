/* Internal runtime interface: the context struct, error helpers, program cache, GEMM dispatch.
 * Only files under src/ include this; no OpenCL type reaches the public headers. */
#ifndef CLDIFF_RUNTIME_H
#define CLDIFF_RUNTIME_H
#include "fs/fs.h"
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include "cldiff/cldiff.h"

#define CLD_MAX_PROGRAMS 64
#define CLD_ERRMSG_LEN 8192

typedef struct cld_program_entry {
  char name[32];
  char options[256];
  cl_program program;
} cld_program_entry;

struct cld_gemm_tuning; /* gemm.c */

struct cld_ctx {
  cl_platform_id platform;
  cl_device_id device;
  cl_context context;
  cl_command_queue queue;
  cld_device_info info;
  char errmsg[CLD_ERRMSG_LEN];
  char cache_dir[512];
  bool no_disk_cache;
  cld_program_entry programs[CLD_MAX_PROGRAMS];
  int n_programs;
  cld_gemm_provider gemm_pref;
  struct cld_gemm_tuning *tuning; /* loaded lazily */
  cld_gemm_shape *rec;            /* cld_gemm_record: distinct shapes run, rec_cap slots */
  int rec_cap, *rec_n;
  bool shapes_only;               /* cld_plan_shapes_only: graphs planned now get no kernels */
  char tune_file[600];
  cl_mem gemm_scratch;            /* transpose scratch of the tiled provider */
  size_t gemm_scratch_bytes;
  cl_mem gemm_split;              /* split-K partial products of the tiled provider */
  size_t gemm_split_bytes;
  struct cld_onednn *onednn;      /* the host provider's oneDNN primitives (gemm_onednn.c) */
};

/* Sets the context message (printf-style) and returns st. */
cld_status cld_seterr(cld_ctx *ctx, cld_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *cld_cl_errstr(cl_int e);
/* Wraps a failed OpenCL call: "what: CL_ERROR_NAME (code)". */
cld_status cld_clerr(cld_ctx *ctx, cl_int e, const char *what);

/* Atomic writes with the message in the context (files.c, over fs/fs.h: temp file, fsync,
 * rename, directory fsync); whole-file reads are cld_fs_read_text. */
cld_status cld_file_write_atomic(cld_ctx *ctx, const char *path, const void *data, size_t n);
cld_status cld_write_text_atomic(cld_ctx *ctx, const char *path, const char *text);

/* Device enumeration helpers (device.c). */
cld_status cld_device_fill_info(cl_platform_id p, cl_device_id d, int index, cld_device_info *info);
cld_status cld_device_choose(const char *want, cl_platform_id *pp, cl_device_id *dp, cld_device_info *info,
                             char *err, size_t errlen);

/* Program cache (program.c): returns a built program for an embedded source + options. */
cld_status cld_program_get(cld_ctx *ctx, const char *name, const char *options, cl_program *out);
/* Creates a kernel from an embedded program. */
cld_status cld_kernel_create(cld_ctx *ctx, const char *program, const char *options, const char *kernel,
                             cl_kernel *out);
/* Keyed binary entries in the cache directory (disk_cache.c): load returns the malloc'd payload or
 * NULL (a miss: absent, damaged or another key); store is best effort and never fails the caller. */
void *cld_cache_load(cld_ctx *ctx, const char *name, uint64_t key, size_t *len);
void cld_cache_store(cld_ctx *ctx, const char *name, uint64_t key, const void *data, size_t len);

/* GEMM dispatch (gemm.c). Row-major; offsets and strides in floats; stride 0 broadcasts. */
typedef struct cld_gemm_call {
  int64_t m, n, k, batch;
  bool trans_a, trans_b;
  cl_mem a, b, c;
  size_t a_off, b_off, c_off;
  size_t a_stride, b_stride, c_stride;
  int64_t a_div;  /* > 1: batch entry b uses A number b / a_div (groups of a_div share one A) */
  /* Winograd's tile-interleaved B and C (untransposed B; the tiled provider only): entry
   * b = g a_div + p starts at g b_gstride + p b_stride, rows ldb (ldc) apart. 0: dense. */
  size_t b_gstride, c_gstride;
  int64_t ldb, ldc;
  /* A's rows lda apart (untransposed A; the host provider only: Winograd's weight gradient over
   * one panel of tile-interleaved operands). 0: dense. */
  int64_t lda;
} cld_gemm_call;
cld_status cld_gemm_run(cld_ctx *ctx, const cld_gemm_call *call, cld_gemm_provider p);
/* adds call's shape to those cld_gemm_record collects (nothing while none is recording) */
void cld_gemm_record_call(cld_ctx *ctx, const cld_gemm_call *call);
/* Floats of padding after each row of a tile-interleaved operand (each (panel, channel) block of
 * G components x N tiles): rows G N + 16 floats apart, an odd number of cache lines, so that a
 * GEMM's walk down a panel's rows spreads over all L1 sets (G N = 1152 floats, 4.5 KiB, reached
 * only 16 of 64 sets) */
#define CLD_TILE_PAD 16
/* the largest divisor of n that is at most cap (work-group sizes that divide the grid) */
static inline size_t cld_largest_divisor(size_t n, size_t cap) {
  for (size_t d = cap < n ? cap : n; d > 1; d--)
    if (n % d == 0) return d;
  return 1;
}
/* whether a call uses the tile-interleaved layout (then it runs on the tiled provider, or with a
 * strided A on the host provider) */
static inline bool cld_gemm_interleaved(const cld_gemm_call *c) {
  return c->ldb || c->ldc || c->b_gstride || c->c_gstride || c->lda;
}
/* the distinct buffers among the call's A, B and C, in that order, into out; their count (here,
 * not in gemm.c, so that the host provider's files need nothing of the dispatcher that calls them) */
static inline int cld_gemm_distinct_buffers(const cld_gemm_call *c, cl_mem out[3]) {
  const cl_mem ops[3] = {c->a, c->b, c->c};
  int n = 0;
  for (int i = 0; i < 3; i++) {
    bool seen = false;
    for (int j = 0; j < n; j++) seen = seen || out[j] == ops[i];
    if (!seen) out[n++] = ops[i];
  }
  return n;
}
/* Scratch floats a call needs on the tiled provider (0 when none). */
size_t cld_gemm_scratch_floats(const cld_gemm_call *call);
cld_status cld_gemm_ensure_scratch(cld_ctx *ctx, size_t floats);
/* *buf (of *have bytes) grown to at least floats floats: the queue drained and the old buffer
 * released first; on failure *buf is NULL and the error names what */
cld_status cld_gemm_grow(cld_ctx *ctx, cl_mem *buf, size_t *have, size_t floats, const char *what);
void cld_gemm_release(cld_ctx *ctx);
#endif
