/* cldiff GEMM API: one interface over three providers (CLBlast, built-in tiled kernel, the host's
 * BLAS on CPU devices that share the host's memory), their
 * tuning (`cldiff tune`) and a benchmark entry point. Row-major, C = op(A) op(B), batched. */
#ifndef CLDIFF_GEMM_H
#define CLDIFF_GEMM_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cld_ctx cld_ctx;

/* HOST: the host's CBLAS on the mapped buffers, for a CPU device that shares the host's memory */
typedef enum { CLD_GEMM_AUTO = 0, CLD_GEMM_TILED = 1, CLD_GEMM_CLBLAST = 2, CLD_GEMM_HOST = 3 } cld_gemm_provider;
CLD_API const char *cld_gemm_provider_name(cld_gemm_provider p);

typedef struct cld_gemm_shape {
  int64_t m, n, k, batch;
  bool trans_a, trans_b;
  int64_t a_batch; /* distinct left operands: 0 one per batch entry; G > 0 dividing batch: entry b
                      uses A number b / (batch / G), as in Winograd's panel-split GEMMs */
} cld_gemm_shape;

typedef struct cld_gemm_result {
  cld_gemm_provider provider;
  char config[96];  /* the parameter set used, human-readable */
  double seconds;   /* per call, median of the timed repetitions */
  double gflops;      /* from the median time */
  double gflops_best; /* from the fastest repetition */
  double max_rel_err; /* against a host reference on a sample of entries */
} cld_gemm_result;

/* Times one provider (AUTO: whatever the context would use) on random data. */
CLD_API cld_status cld_gemm_bench(cld_ctx *ctx, const cld_gemm_shape *s, cld_gemm_provider p,
                                  int reps, cld_gemm_result *out);

/* Tunes the tiled provider (and CLBlast when tune_clblast) at the given shapes (NULL: the
 * built-in UNet/attention shape list),
 * stores the winners per device in the cache directory, and reports each shape's best. */
typedef void (*cld_tune_progress)(void *user, const char *line);
CLD_API cld_status cld_gemm_tune(cld_ctx *ctx, const cld_gemm_shape *shapes, int n_shapes, bool tune_clblast,
                                 cld_tune_progress progress, void *user);
/* The same within a time box: once max_seconds (> 0; 0 = none) have passed, the shapes not yet
 * started are left out (list the important ones first) and what was tuned is stored. */
CLD_API cld_status cld_gemm_tune_budget(cld_ctx *ctx, const cld_gemm_shape *shapes, int n_shapes, bool tune_clblast,
                                        double max_seconds, cld_tune_progress progress, void *user);
/* The same with the quick search: per shape the ten tiled configurations that win most often
 * (five where the host's BLAS is oneDNN; each timed twice) and the host's BLAS where the device
 * allows it, timed in turn with the fastest of them, instead of every
 * configuration (about a second a shape on a 2-core CPU instead of five). */
CLD_API cld_status cld_gemm_tune_quick(cld_ctx *ctx, const cld_gemm_shape *shapes, int n_shapes, bool tune_clblast,
                                       double max_seconds, cld_tune_progress progress, void *user);
/* Measures the device's float FMA throughput (GFLOP/s) with a register-only kernel. */
CLD_API cld_status cld_device_fma_peak(cld_ctx *ctx, double *gflops);
/* The default benchmark/tuning shapes (fmnist-s UNet forward, backward, attention). */
CLD_API int cld_gemm_default_shapes(cld_gemm_shape *out, int max);
/* Records the distinct shapes of the GEMMs this context runs from now on (training steps, forward
 * passes) into out[0..cap), *count of them; a NULL out stops recording. `cldiff tune --model`
 * uses it to tune exactly the shapes of a model's training step. */
CLD_API void cld_gemm_record(cld_ctx *ctx, cld_gemm_shape *out, int cap, int *count);
/* Where tuning results for this device live. */
CLD_API const char *cld_gemm_tune_file(cld_ctx *ctx);
#ifdef __cplusplus
}
#endif
#endif
