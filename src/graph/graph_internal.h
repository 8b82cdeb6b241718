/* Internal graph structures shared by ops.c (constructors), autodiff.c, plan.c and exec.c. */
#ifndef CLDIFF_GRAPH_INTERNAL_H
#define CLDIFF_GRAPH_INTERNAL_H
#include "runtime/runtime.h"

typedef enum {
  OP_INPUT, OP_PARAM,
  OP_ADD, OP_SUB, OP_MUL, OP_DIV,                   /* broadcasting binary */
  OP_AFFINE,                                        /* y = f0*x + f1 */
  OP_SILU, OP_RELU, OP_TANH, OP_EXP, OP_LOG, OP_SQRT, OP_SQUARE,
  OP_SILU_BWD, OP_RELU_BWD, OP_TANH_BWD,            /* (x or y, dy) -> dx, same shape */
  OP_RESHAPE,                                       /* view of src0 */
  OP_PERMUTE,                                       /* ip[0..3]: out dim i = in dim ip[i] (4-D padded) */
  OP_SLICE,                                         /* ip0 axis (4-D padded), ip1 start */
  OP_PAD,                                           /* slice backward: ip0 axis, ip1 start, zeros elsewhere */
  OP_CONCAT,                                        /* ip0 axis (4-D padded) */
  OP_BROADCAST,                                     /* src0 stretched to this shape */
  OP_SUM_TO,                                        /* sum src0 over dims where this shape is 1 */
  OP_UPSAMPLE2X, OP_UPSAMPLE2X_BWD,
  OP_MATMUL,                                        /* ip0 trans_a, ip1 trans_b */
  OP_IM2COL,                                        /* ip0 kh, ip1 kw, ip2 stride, ip3 pad; src0 x */
  OP_COL2IM,                                        /* same params; shape = x's shape */
  OP_NORM_ROWS,                                     /* ip0 rows, ip1 row length, f0 eps */
  OP_NORM_ROWS_BWD,                                 /* src0 x, src1 dy */
  OP_SOFTMAX, OP_SOFTMAX_BWD,                       /* rows over last dim; bwd: src0 y, src1 dy */
  OP_TIMESTEP_EMB,                                  /* ip0 dim, ip1 flip; f0 shift, f1 max_period */
  OP_DROPOUT,                                       /* f0 p, ip0 stream */
  OP_RANDN, OP_RAND,                                /* ip0 stream */
  OP_COPY,
  OP_CLAMP_MIN,                                     /* y = max(x, f0) */
  OP_CLAMP_MIN_BWD,                                 /* (x, dy) -> dy where x > f0 */
  /* Winograd conv pieces, K = 16 components F(2x2,3x3) (cl/winograd.cl) or 36 F(4x4,3x3)
   * (cl/winograd4.cl); shapes carry every size the kernels need. T tiles stored as (K, P, C, PW):
   * plain P = 1, PW = T; panels PW = 32, P = ceil(T/32) */
  OP_WINO_W, OP_WINO_W_BWD,                         /* w (O,C,3,3) <-> U (K,1,O,C) */
  OP_WINO_IN, OP_WINO_IN_BWD,                       /* x (N,C,H,W) <-> V (K,P,C,PW) */
  OP_WINO_OUT,                                      /* M (K,P,O,PW), src1 bias (O), (N,O) or NULL,
                                                       src2 residual (N,O,H,W) or NULL -> y (N,O,H,W) */
  OP_WINO_OUT_BWD,                                  /* dy (N,O,H,W) -> dM (K,P,O,PW) */
  OP_GROUP_NORM,                                    /* src0 x (N,C,...), src1 gamma, src2 beta (C or NULL);
                                                       ip0 groups, ip1 flags (1 gamma, 2 beta, 4 SiLU); f0 eps */
  OP_GROUP_NORM_BWD,                                /* src0 x, src1 dy, src2 gamma, src3 beta -> dx */
  OP_GROUP_NORM_BWD_PARAM,                          /* the same -> (2, N, C) per-sample sums for gamma, beta */
  OP_MATMUL_SUM_NT,                                 /* src0 x (G,P,R,N), src1 y (G,P,S,N), N % 16 == 0,
                                                       both row-major or both T_TILES
                                                       -> (G,1,R,S) = sum_p x[g,p] y[g,p]^T */
  OP_WINO_OUT_BSUM,                                 /* src0 dy (N,O,H,W) -> (N,O,TH): dy summed over each row
                                                       of F(4x4) tiles, for the bias gradient; written by the
                                                       OP_WINO_OUT_BWD node whose ip2 names it (+1), no launch */
  OP_ATTENTION,                                     /* src0 q, src1 k, src2 v (BH,D,L) channels-first, q
                                                       pre-scaled -> o (BH,D,L) = v softmax(q^T k)^T, one kernel */
  OP_COUNT
} cld_op;

#define CLD_NSRC 4 /* most inputs of one node */
/* T_TILES: a Winograd tile tensor of logical shape (G, P, R, N) (G transform components, P panels
 * of N tiles, R channels) stored tile-interleaved as (P, R, G, N) with CLD_TILE_PAD floats after
 * each (p, r) block, so that one channel's G
 * components of a panel are one contiguous block: the transforms then write (and read) one block
 * instead of G streams P*R*N floats apart (on PoCL the input transform ran 2x faster). Only the
 * Winograd transforms, the grouped matmul and OP_MATMUL_SUM_NT read such tensors. */
enum { T_KEEP = 1, T_REQ_GRAD = 2, T_NO_GRAD = 4, T_TILES = 8 };
/* the stride of an interleaved tile tensor's (panel, channel) blocks, and the floats a tensor
 * occupies (more than numel for those: CLD_TILE_PAD after each block) */
#define TILE_ROW(t) ((t)->shape[0] * (t)->shape[3] + CLD_TILE_PAD)
/* the width of one panel of all T tiles (wino_panel -1): T rounded up to 16 (the kernels' -DPW=-1
 * computes the same from T) */
static inline int64_t wino_one_panel(int64_t T) { return (T + 15) / 16 * 16; }
#define STORED_NUMEL(t) ((t)->flags & T_TILES ? (t)->shape[1] * (t)->shape[2] * TILE_ROW(t) : (t)->numel)

/* called by compute once before the first launch (-1) and after each launch i is enqueued (or
 * skipped by its gate): work that may start once the launches up to i are on the queue */
typedef cld_status (*cld_launch_hook)(void *user, int launch);

typedef enum { ST_NONE, ST_ARENA, ST_INPUT, ST_STORE, ST_STORE_GRAD, ST_VIEW } cld_storage;

struct cld_tensor {
  int id;             /* node index */
  cld_op op;
  int ndim;
  int64_t shape[4];   /* shape[0..ndim-1], row-major */
  int64_t numel;
  cld_tensor *src[CLD_NSRC];
  int ip[6];
  float fp[4];
  unsigned flags;
  char name[48];
  cld_tensor *grad;
  int store_id;       /* OP_PARAM: parameter id; grad nodes landing in the store: id */
  int gate;           /* 0: always computed; n > 0: skipped while the graph's gate limit is <= n */
  /* plan results */
  cld_storage storage;
  cl_mem mem;
  size_t off;         /* in floats */
  int last_use;
};

struct cld_store {
  cld_ctx *ctx;
  int n, cap;
  struct store_param { char name[96]; int ndim; int64_t shape[4]; int64_t numel; size_t off; } *p;
  size_t total;
  cl_mem params, grads;
};

typedef struct cld_launch {
  cl_kernel kernel;       /* NULL for GEMM launches */
  cl_uint dim;
  size_t gws[3], lws[3];
  bool use_lws;
  int rng_arg;            /* >= 0: arg index of the uint4 key (seed lo, seed hi, stream, run) */
  uint32_t stream;
  int p_arg;              /* >= 0: dropout probability arg (0 when not training) */
  float p_value;
  int off_arg;            /* >= 0: arg index of the stream offset (ulong): rng_slab * off_per_slab */
  uint64_t off_per_slab;
  cld_gemm_call gemm;
  bool is_gemm;
  int node;               /* the node this launch belongs to (profiling) */
  int gate;               /* its node's gate: skipped while gate >= the graph's gate limit */
  bool if_skipped;        /* a zero-fill that runs only while its gate is skipped */
} cld_launch;

#define GN_FUSED_MAX_CPG 32 /* channels per group whose partial sums the fused group-norm backward keeps local */

struct cld_graph {
  cld_ctx *ctx;
  cld_status status;
  char errmsg[1024];
  cld_tensor **nodes;
  int n, cap;
  /* plan */
  bool planned;
  cl_mem *arena;        /* n_arena chunk buffers of arena_chunk floats (the last one shorter) */
  int n_arena;
  size_t arena_floats, arena_chunk;
  int guard;
  cl_mem *inputs;       /* owned input buffers */
  int n_inputs;
  cld_launch *launches;
  int n_launches, cap_launches;
  cld_store *store;     /* the store the params come from (one per graph) */
  uint64_t seed, run;
  uint64_t rng_slab; /* cld_graph_set_rng_slab */
  bool training;
  int lowering_node;
  int build_gate;       /* the gate of nodes created now (cld_graph_set_gate) */
  int gate_limit;       /* compute skips nodes with gate >= this (cld_graph_set_gate_limit) */
  double *prof_s;       /* CLDIFF_PROFILE: seconds per op kind */
  int64_t *prof_n;
  struct prof_gemm { int64_t m, n, k, batch, panels; int ta, tb; double s; int64_t calls; } *prof_g; /* panels: the summed NT kernel's P */
  int n_prof_g;
  int conv_algo;        /* cld_conv_algo */
  int wino_panel;       /* Winograd V/M layout: 0 plain (K,1,C,T), else panels (K,P,C,wino_panel) stored
                           tile-interleaved (T_TILES); -1 one such panel of all T tiles (rounded up
                           to a multiple of 16) */
  int wino_tile;        /* Winograd output tile: 4 F(4x4,3x3) (K = 36 products), 2 F(2x2,3x3) (K = 16) */
  bool shapes_only;     /* planned under cld_plan_shapes_only: launches without kernels, not computable */
  bool fuse;            /* autodiff may fuse backward kernels (group norm's dx and parameter sums);
                           CLDIFF_FUSE=0 keeps every node's own kernel, the reference the fused ones are tested against */
  cld_launch_hook hook; /* cld_graph_set_launch_hook */
  void *hook_user;
};

/* graph.c */
cld_tensor *cld_node_new(cld_graph *g, cld_op op, int ndim, const int64_t *shape);
cld_tensor *cld_graph_fail(cld_graph *g, cld_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cld_shape4(const cld_tensor *t, int64_t out[4]); /* left-padded with 1s */
cld_tensor *cld_view_root(cld_tensor *t);              /* the tensor whose memory a view shows */
bool cld_same_shape(const cld_tensor *a, const cld_tensor *b);
/* ops.c: internal constructors used by autodiff */
cld_tensor *cld_binary(cld_graph *g, cld_op op, cld_tensor *a, cld_tensor *b);
cld_tensor *cld_unary(cld_graph *g, cld_op op, cld_tensor *x);
cld_tensor *cld_sum_to(cld_graph *g, cld_tensor *x, int ndim, const int64_t *shape);
cld_tensor *cld_pad_into(cld_graph *g, cld_tensor *x, cld_tensor *like, int axis4, int64_t start);
/* zeros before/after x along axis (x's own dims) */
cld_tensor *cld_pad_axis(cld_graph *g, cld_tensor *x, int axis, int64_t before, int64_t after);
cld_tensor *cld_affine(cld_graph *g, cld_tensor *x, float s, float c);
cld_tensor *cld_norm_rows(cld_graph *g, cld_tensor *x, int64_t rows, int64_t len, float eps);
cld_tensor *cld_copy(cld_graph *g, cld_tensor *x);
/* profile.c (CLDIFF_PROFILE) */
void cld_profile_charge(cld_graph *g, const cld_launch *l, double dt);
cld_status cld_profile_fail(cld_graph *g, const cld_launch *l, cl_int e);
void cld_profile_report(cld_graph *g);
/* exec.c */
cld_status cld_exec_lower(cld_graph *g);
void cld_exec_release(cld_graph *g);
cld_status cld_store_alloc(cld_store *s);
/* the hook compute calls (NULL: none); the graph's launches are fixed once planned */
void cld_graph_set_launch_hook(cld_graph *g, cld_launch_hook hook, void *user);
/* the index of the last launch that writes the store gradient of parameter store_id (its value is
 * final once that launch has run; launches write only their own node), -1 when none does */
int cld_graph_grad_last_launch(const cld_graph *g, int store_id);
#endif
