/* cldiff graph API: tensors, op constructors, autodiff, memory plan and execution.
 *
 * A graph is built once for fixed shapes, planned once (memory with liveness-based reuse,
 * kernels bound) and computed many times with new inputs. Op constructors never abort: on a bad
 * shape they return NULL and record the error in the graph (cld_graph_status / cld_graph_errmsg);
 * any constructor given a NULL tensor returns NULL, so a whole model can be built and checked once.
 * Tensors are f32, row-major, contiguous, 1 to 4 dimensions; shape[0] is the outermost. */
#ifndef CLDIFF_GRAPH_H
#define CLDIFF_GRAPH_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cld_ctx cld_ctx;
typedef struct cld_graph cld_graph;
typedef struct cld_tensor cld_tensor;
typedef struct cld_store cld_store;

/* ---- parameter store: named parameters (and their gradients) in one device buffer ------- */
CLD_API cld_status cld_store_create(cld_ctx *ctx, cld_store **out);
CLD_API void cld_store_destroy(cld_store *s);
CLD_API cld_ctx *cld_store_ctx(const cld_store *s);
/* Adds a parameter; returns its id (>= 0) or a negative status. Not allowed once allocated. */
CLD_API int cld_store_add(cld_store *s, const char *name, int ndim, const int64_t *shape);
CLD_API int cld_store_count(const cld_store *s);
CLD_API int cld_store_find(const cld_store *s, const char *name);
CLD_API const char *cld_store_name(const cld_store *s, int id);
CLD_API int64_t cld_store_numel(const cld_store *s, int id);
CLD_API int64_t cld_store_total(const cld_store *s); /* floats over all parameters */
CLD_API int cld_store_shape(const cld_store *s, int id, int64_t shape[4]); /* returns ndim */
CLD_API cld_status cld_store_write(cld_store *s, int id, const float *data);
CLD_API cld_status cld_store_read(cld_store *s, int id, float *data);
CLD_API cld_status cld_store_read_grad(cld_store *s, int id, float *data);

/* ---- graph ------------------------------------------------------------------------------ */
CLD_API cld_graph *cld_graph_create(cld_ctx *ctx); /* NULL only when out of host memory */
CLD_API void cld_graph_destroy(cld_graph *g);
CLD_API cld_status cld_graph_status(const cld_graph *g);
CLD_API const char *cld_graph_errmsg(const cld_graph *g);
CLD_API int cld_graph_n_nodes(const cld_graph *g);

/* leaves */
CLD_API cld_tensor *cld_input(cld_graph *g, const char *name, int ndim, const int64_t *shape);
CLD_API cld_tensor *cld_input_4d(cld_graph *g, const char *name, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
CLD_API cld_tensor *cld_param(cld_graph *g, cld_store *s, int id);
/* Inputs do not get gradients unless asked (finite-difference tests, input gradients). */
CLD_API void cld_set_requires_grad(cld_tensor *t, bool on);

/* tensor facts */
CLD_API int cld_tensor_ndim(const cld_tensor *t);
CLD_API int64_t cld_tensor_dim(const cld_tensor *t, int axis); /* negative axis counts from the end */
CLD_API int64_t cld_tensor_numel(const cld_tensor *t);
CLD_API const char *cld_tensor_name(const cld_tensor *t);
/* The gradient of t after cld_graph_backward (NULL if t does not influence the loss). */
CLD_API cld_tensor *cld_tensor_grad(const cld_tensor *t);

/* ---- ops -------------------------------------------------------------------------------- */
/* elementwise, broadcasting numpy-style (trailing dims aligned, size-1 dims stretched) */
CLD_API cld_tensor *cld_add(cld_graph *g, cld_tensor *a, cld_tensor *b);
CLD_API cld_tensor *cld_sub(cld_graph *g, cld_tensor *a, cld_tensor *b);
CLD_API cld_tensor *cld_mul(cld_graph *g, cld_tensor *a, cld_tensor *b);
CLD_API cld_tensor *cld_div(cld_graph *g, cld_tensor *a, cld_tensor *b);
CLD_API cld_tensor *cld_scale(cld_graph *g, cld_tensor *x, float s);        /* s*x */
CLD_API cld_tensor *cld_add_scalar(cld_graph *g, cld_tensor *x, float c);   /* x+c */
CLD_API cld_tensor *cld_silu(cld_graph *g, cld_tensor *x);
CLD_API cld_tensor *cld_relu(cld_graph *g, cld_tensor *x);
CLD_API cld_tensor *cld_tanh(cld_graph *g, cld_tensor *x);
CLD_API cld_tensor *cld_exp(cld_graph *g, cld_tensor *x);
CLD_API cld_tensor *cld_log(cld_graph *g, cld_tensor *x);
CLD_API cld_tensor *cld_sqrt(cld_graph *g, cld_tensor *x);
CLD_API cld_tensor *cld_square(cld_graph *g, cld_tensor *x);
CLD_API cld_tensor *cld_clamp_min(cld_graph *g, cld_tensor *x, float lo); /* max(x, lo) */
/* The value of x with no gradient flowing back through it (stop-gradient). */
CLD_API cld_tensor *cld_detach(cld_graph *g, cld_tensor *x);
/* shape */
CLD_API cld_tensor *cld_reshape(cld_graph *g, cld_tensor *x, int ndim, const int64_t *shape); /* view */
CLD_API cld_tensor *cld_permute(cld_graph *g, cld_tensor *x, const int *perm); /* out dim i = in dim perm[i] */
CLD_API cld_tensor *cld_slice(cld_graph *g, cld_tensor *x, int axis, int64_t start, int64_t len);
CLD_API cld_tensor *cld_concat(cld_graph *g, cld_tensor *a, cld_tensor *b, int axis);
CLD_API cld_tensor *cld_broadcast_to(cld_graph *g, cld_tensor *x, int ndim, const int64_t *shape);
CLD_API cld_tensor *cld_upsample_nearest2x(cld_graph *g, cld_tensor *x); /* (N,C,H,W) -> (N,C,2H,2W) */
/* reductions: axes given as a bit mask over the tensor's dims (bit i = dim i); keepdim keeps 1s */
CLD_API cld_tensor *cld_sum(cld_graph *g, cld_tensor *x, unsigned axes_mask, bool keepdim);
CLD_API cld_tensor *cld_mean(cld_graph *g, cld_tensor *x, unsigned axes_mask, bool keepdim);
CLD_API cld_tensor *cld_sum_all(cld_graph *g, cld_tensor *x);  /* -> shape (1) */
CLD_API cld_tensor *cld_mean_all(cld_graph *g, cld_tensor *x); /* -> shape (1) */
/* linear algebra: op(a) @ op(b); a (..., M, K), b (..., K, N), 2-D or batched 3-D; a batch of 1
 * broadcasts. trans_a / trans_b transpose the last two dims. Grouped 4-D form: a (G, 1, M, K)
 * broadcast over b (G, P, K, N) gives (G, P, M, N) (trans_b not supported there). */
CLD_API cld_tensor *cld_matmul(cld_graph *g, cld_tensor *a, cld_tensor *b, bool trans_a, bool trans_b);
/* x (..., in) @ w(out, in)^T + b(out); b may be NULL (PyTorch nn.Linear layout) */
CLD_API cld_tensor *cld_linear(cld_graph *g, cld_tensor *x, cld_tensor *w, cld_tensor *b);
/* x (N,C,H,W), w (O,C,kh,kw), b (O), a bias per image (N,O), or NULL -> (N,O,OH,OW). Two
 * algorithms give the same result up to float rounding: im2col + GEMM (any kernel, stride,
 * padding; 1x1 stride-1 kernels as one batched GEMM without the im2col), and Winograd F(4x4,3x3)
 * (3x3, stride 1, padding 1: a batched GEMM with 4x fewer multiplies, and its backward too;
 * CLDIFF_WINO_TILE=2 picks F(2x2,3x3), 2.25x fewer). AUTO, the default, takes Winograd where it
 * applies and the input has >= 8 channels. The environment
 * variable CLDIFF_CONV=auto|im2col|winograd sets a new graph's choice; cld_graph_set_conv_algo
 * changes it for convolutions built afterwards. WINOGRAD falls back to im2col where it does not
 * apply. */
typedef enum { CLD_CONV_AUTO = 0, CLD_CONV_IM2COL = 1, CLD_CONV_WINOGRAD = 2 } cld_conv_algo;
CLD_API void cld_graph_set_conv_algo(cld_graph *g, cld_conv_algo algo);
CLD_API cld_tensor *cld_conv2d(cld_graph *g, cld_tensor *x, cld_tensor *w, cld_tensor *b, int stride, int padding);
/* cld_conv2d(...) + r, r of the output's shape (a residual connection); Winograd adds r while it
 * writes the output instead of a separate pass */
CLD_API cld_tensor *cld_conv2d_residual(cld_graph *g, cld_tensor *x, cld_tensor *w, cld_tensor *b, int stride, int padding,
                                        cld_tensor *r);
/* normalisation; gamma/beta may be NULL (no affine) */
CLD_API cld_tensor *cld_group_norm(cld_graph *g, cld_tensor *x, int groups, float eps, cld_tensor *gamma, cld_tensor *beta);
/* silu(group_norm(...)) as one fused op (one pass forward, two backward) */
CLD_API cld_tensor *cld_group_norm_silu(cld_graph *g, cld_tensor *x, int groups, float eps, cld_tensor *gamma,
                                        cld_tensor *beta);
CLD_API cld_tensor *cld_layer_norm(cld_graph *g, cld_tensor *x, float eps, cld_tensor *gamma, cld_tensor *beta);
CLD_API cld_tensor *cld_softmax(cld_graph *g, cld_tensor *x); /* over the last dim */
/* attention with channels-first operands q, k, v (BH, D, L): o (BH, D, L) = v softmax(q^T k)^T,
 * i.e. o[c][i] = sum_j v[c][j] softmax_j(q[:,i] . k[:,j]); scale q by 1/sqrt(D) first. In a
 * graph whose training flag is off when this is built (cld_graph_set_training(g, false) first,
 * as the samplers do), on a CPU device, with 16 <= L <= 256 and D % 8 == 0: one fused kernel
 * (the scores stay in registers and private memory; a gradient, if asked for, recomputes
 * them). Elsewhere, or with CLDIFF_FUSE=0: two GEMMs and a softmax. */
CLD_API cld_tensor *cld_attention(cld_graph *g, cld_tensor *q, cld_tensor *k, cld_tensor *v);
/* diffusion helpers */
/* t (N) -> (N, dim): diffusers get_timestep_embedding(t, dim, flip_sin_to_cos, downscale_freq_shift) */
CLD_API cld_tensor *cld_timestep_embedding(cld_graph *g, cld_tensor *t, int dim, bool flip_sin_to_cos,
                                           float downscale_freq_shift, float max_period);
/* per-sample MSE: pred, target (N,...) -> (N); w (N) or NULL gives mean_b w_b*mse_b -> (1) */
CLD_API cld_tensor *cld_mse_per_sample(cld_graph *g, cld_tensor *pred, cld_tensor *target);
CLD_API cld_tensor *cld_weighted_mse(cld_graph *g, cld_tensor *pred, cld_tensor *target, cld_tensor *w);
/* x (N,D), y (M,D) -> (N,M) squared Euclidean distances */
CLD_API cld_tensor *cld_pairwise_sqdist(cld_graph *g, cld_tensor *x, cld_tensor *y);
/* inverted dropout with keep mask from Philox(seed, stream, run counter); p = drop probability.
 * Active only while the graph's training flag is set (cld_graph_set_training). */
CLD_API cld_tensor *cld_dropout(cld_graph *g, cld_tensor *x, float p);
/* fresh N(0,1) / U[0,1) noise each compute, keyed (graph seed, stream, run counter) */
CLD_API cld_tensor *cld_randn(cld_graph *g, int ndim, const int64_t *shape, uint32_t stream);
CLD_API cld_tensor *cld_rand(cld_graph *g, int ndim, const int64_t *shape, uint32_t stream);

/* ---- autodiff, plan, execution ---------------------------------------------------------- */
/* Appends the backward graph of a scalar loss: gradients for every parameter and every input
 * marked requires_grad. Parameter gradients land in the store's gradient buffer. */
CLD_API cld_status cld_graph_backward(cld_graph *g, cld_tensor *loss);
/* Keeps t's value readable after compute (otherwise its memory may be reused). */
CLD_API void cld_graph_keep(cld_graph *g, cld_tensor *t);

typedef struct cld_plan_params {
  bool reuse_memory;   /* liveness-based reuse (default true) */
  int guard_floats;    /* >0: sentinel bands around every arena tensor (tests); implies no reuse */
  size_t chunk_floats; /* the arena is one buffer per chunk of this many floats, no tensor crossing a
                          chunk boundary; 0 (default): the device's largest buffer (PoCL: 4 GiB) */
} cld_plan_params;
CLD_API cld_plan_params cld_plan_params_default(void);
/* Plans memory, allocates device buffers, builds kernels and binds their arguments. */
CLD_API cld_status cld_graph_plan(cld_graph *g, const cld_plan_params *p);
CLD_API size_t cld_graph_arena_bytes(const cld_graph *g);
/* Adds the GEMMs a compute of the planned graph would run to the shapes cld_gemm_record collects,
 * without running anything (no kernel is enqueued, so none is compiled for the device). */
CLD_API cld_status cld_graph_record_gemms(const cld_graph *g);
/* While on, graphs this context plans build no kernels (only their GEMM calls, which
 * cld_graph_record_gemms reads) and cannot be computed: `cldiff tune --model` reads a model's
 * shapes without compiling the model's programs, which on PoCL takes a minute from an empty cache. */
CLD_API void cld_plan_shapes_only(cld_ctx *ctx, bool on);
/* Checks the guard bands after compute: CLD_ERR_STATE with the tensor named if one was hit. */
CLD_API cld_status cld_graph_check_guards(cld_graph *g);

CLD_API cld_status cld_tensor_write(cld_graph *g, cld_tensor *t, const float *data);
CLD_API cld_status cld_tensor_read(cld_graph *g, cld_tensor *t, float *data);
CLD_API void cld_graph_set_seed(cld_graph *g, uint64_t seed);
/* Training mode (dropout on), the default. Off before ops are built, it also lets them pick
 * forward-only kernels (cld_attention); the graph stays differentiable. */
CLD_API void cld_graph_set_training(cld_graph *g, bool training);
/* Enqueues every node; does not wait. Each call advances the run counter used by RNG ops. */
CLD_API cld_status cld_graph_compute(cld_graph *g);
CLD_API uint64_t cld_graph_run_counter(const cld_graph *g);
CLD_API void cld_graph_set_run_counter(cld_graph *g, uint64_t counter);
/* RNG ops (randn, rand, dropout) draw as if their tensor were slab `slab` of a larger one stacked
 * along a new leading dimension: element i reads the stream at slab * numel + i (dropout: in blocks
 * of 4). The micro-batches of one global batch (gradient accumulation, data-parallel ranks) so draw
 * what one graph over the whole batch would. 0 (the default) is the tensor alone. */
CLD_API void cld_graph_set_rng_slab(cld_graph *g, uint64_t slab);
/* Gates: parts of a static graph that a compute can skip. Nodes built after
 * cld_graph_set_gate(g, n) carry gate n (0, the default, is always computed); cld_graph_backward
 * gives a node's backward nodes its gate and each gradient accumulation the gate of the tensor
 * it accumulates into. cld_graph_set_gate_limit(g, L) makes later computes skip every node with
 * gate >= L (L <= 0, the default: none; L = 1 computes only gate 0). A skipped node's output reads as zeros wherever
 * something still computed reads it (a node of lower gate, the host through cld_graph_keep, a
 * parameter gradient): it is zero-filled in its place in the launch order. So a gated branch that
 * would have contributed exact zeros (multiplied by 0, say) can be skipped with the same result,
 * at the cost of those fills. Gates nest: skipping gate n skips every gate above it. */
CLD_API void cld_graph_set_gate(cld_graph *g, int gate);
CLD_API void cld_graph_set_gate_limit(cld_graph *g, int limit);

#ifdef __cplusplus
}
#endif
#endif
