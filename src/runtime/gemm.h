/* Internal GEMM provider interface shared by gemm.c (dispatch, tuning table), gemm_tiled.c,
 * gemm_clblast.c, gemm_host.c and gemm_tune.c. */
#ifndef CLDIFF_GEMM_INTERNAL_H
#define CLDIFF_GEMM_INTERNAL_H
#include "runtime/runtime.h"

/* tm rows x 16*nv columns per work-item; lws0 x lws1 x lb work-group (lws 0: driver-chosen; lb, over
 * the batch dimension, 0 or 1: none); mf: grid dimension 0 walks M (tiles sharing a block of B run
 * back to back) instead of N; ks > 1: K cut into ks slices run as a batch into scratch partials
 * that a second kernel sums (a single GEMM with K % ks == 0 only: a long-K product with a small
 * output, which fills a GPU's compute units only when split; 0 or 1: none) */
typedef struct cld_tiled_cfg { int tm, nv, lws0, lws1, mf, lb, ks; } cld_tiled_cfg;

#define CLD_CLBLAST_NPARAMS 16
typedef struct cld_clblast_cfg { size_t v[CLD_CLBLAST_NPARAMS]; bool set; } cld_clblast_cfg;
extern const char *const cld_clblast_param_names[CLD_CLBLAST_NPARAMS];

typedef struct cld_tune_entry {
  cld_gemm_shape shape;
  cld_gemm_provider provider;
  cld_tiled_cfg tiled;
  double gflops;
} cld_tune_entry;

struct cld_gemm_tuning {
  bool loaded;
  cld_tune_entry *e;
  int n;
  cld_clblast_cfg clblast;   /* device-wide CLBlast Xgemm parameters */
  bool clblast_applied;
  cl_kernel tiled_kernels[64];
  int tiled_keys[64];
  int n_tiled;
  cl_kernel transpose;
  cl_kernel dot_nt; /* k_gemm_sum_nt, for narrow NT products */
  cl_kernel sum_splits; /* k_sum_splits, split-K's second pass */
};
/* The entries and CLBlast set of a tuning table's JSON text into t (which starts empty): entries
 * with missing, non-integer or out-of-range values are dropped, an unparsable text adds nothing. */
void cld_gemm_tuning_parse(struct cld_gemm_tuning *t, const char *text);


cld_status cld_gemm_tiled_run(cld_ctx *ctx, const cld_gemm_call *c, const cld_tiled_cfg *cfg);
cld_status cld_gemm_clblast_run(cld_ctx *ctx, const cld_gemm_call *c);
/* gemm_host.c: whether the device is a CPU sharing the host's memory, and the host-BLAS run there */
bool cld_gemm_host_available(cld_ctx *ctx);
cld_status cld_gemm_host_run(cld_ctx *ctx, const cld_gemm_call *c);
/* whether the host provider is there and runs on oneDNN: the default for untuned shapes */
bool cld_gemm_host_preferred(cld_ctx *ctx);
/* gemm_onednn.c: the whole call as one oneDNN matmul on the mapped operands; false where
 * oneDNN is absent or refuses the call's layout (the caller then multiplies entry by entry) */
bool cld_gemm_onednn_available(void); /* libdnnl.so.2 opened (once per process) */
bool cld_gemm_onednn_run(cld_ctx *ctx, const cld_gemm_call *c, const float *A, const float *B, float *C);
void cld_gemm_onednn_release(cld_ctx *ctx);
/* the call as one oneDNN matmul run by a native kernel on the queue (no map, no wait): 1 when it
 * went to the queue (*st then says whether the enqueue worked), 0 where it cannot (no oneDNN, a
 * device without native kernels, a layout oneDNN refuses) and the caller maps */
int cld_gemm_onednn_enqueue(cld_ctx *ctx, const cld_gemm_call *c, cld_status *st);
/* whether this context's host GEMMs go to the queue as native kernels (after its first call) */
bool cld_gemm_onednn_native(cld_ctx *ctx);
/* gemm_native.c: a buffer's address on a CPU device sharing the host's memory, learnt once by a
 * one-buffer native kernel (NULL where that fails, or the table of them is full) */
void *cld_buffer_device_addr(cld_ctx *ctx, cl_mem mem);
int cld_buffer_device_addrs_known(void); /* how many buffers' addresses are held (tests) */
/* the call entry by entry through CBLAS on host pointers (gemm_cblas.c) */
void cld_gemm_host_blas_entries(const cld_gemm_call *c, const float *A, const float *B, float *C);
/* which BLAS the host provider calls: "oneDNN matmul" (libdnnl found at run time) or "CBLAS" */
const char *cld_gemm_host_blas(void);
cld_status cld_gemm_clblast_apply(cld_ctx *ctx, const cld_clblast_cfg *cfg);
/* offsets + extents above this many floats go through a sub-buffer (CLBlast indexes with int);
 * tests lower it (0: every non-zero offset), -1 restores INT_MAX */
void cld_gemm_clblast_set_offset_limit(long long floats);
struct cld_gemm_tuning *cld_gemm_tuning_get(cld_ctx *ctx);
cld_status cld_gemm_tuning_save(cld_ctx *ctx);
cld_tiled_cfg cld_tiled_default(void);
/* field by field (memcmp would also compare the struct's padding) */
bool cld_gemm_shape_eq(const cld_gemm_shape *a, const cld_gemm_shape *b);
/* e replaces the table's entry of the same shape, or is appended (room for one more is the
 * caller's); e may point at the append slot itself */
void cld_tune_put(struct cld_gemm_tuning *t, const cld_tune_entry *e);
/* "tm=8 nv=2 lws=1x16[ m-first]" into buf; returns buf */
const char *cld_tiled_cfg_str(const cld_tiled_cfg *c, char *buf, size_t n);
#endif
