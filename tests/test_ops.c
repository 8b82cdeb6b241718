/* Every op: forward against a plain double-precision C reference on odd shapes (sizes that are
 * no multiple of any work-group size), with guard bands around every output; backward against
 * central finite differences of the loss sum(out * R) for a fixed random R. */
#include "test_util.h"
#include "graph/graph_internal.h" /* the launch count and the fusion switch of test_group_norm_bwd_fused */
#include "runtime/gemm.h"            /* whether the host GEMM runs on oneDNN (test_wino_layout_default) */

typedef struct op_case op_case;
typedef cld_tensor *(*build_fn)(cld_graph *g, cld_tensor **in, const op_case *c);
/* in: inputs as doubles; out: output; os: output shape padded to 4-D */
typedef void (*ref_fn)(const op_case *c, double **in, double *out, const int64_t os[4]);

struct op_case {
  const char *name;
  int n_in;
  int ndim[3];
  int64_t shape[3][4];
  float lo[3], hi[3];
  build_fn build;
  ref_fn ref;
  int ip[8];
  float fp[4];
  bool no_grad[3];
  double rtol, grad_tol;
};

static void shape4(const op_case *c, int i, int64_t s[4]) {
  int pad = 4 - c->ndim[i];
  for (int k = 0; k < 4; k++) s[k] = k < pad ? 1 : c->shape[i][k - pad];
}
static int64_t numel_of(const op_case *c, int i) {
  int64_t n = 1;
  for (int k = 0; k < c->ndim[i]; k++) n *= c->shape[i][k];
  return n;
}
static int64_t idx4(const int64_t s[4], int64_t a, int64_t b, int64_t cc, int64_t d) {
  return ((a * s[1] + b) * s[2] + cc) * s[3] + d;
}
/* value of input i at output coords with broadcasting */
static double bc_at(const op_case *c, double **in, int i, const int64_t o[4]) {
  int64_t s[4];
  shape4(c, i, s);
  int64_t q[4];
  for (int k = 0; k < 4; k++) q[k] = s[k] == 1 ? 0 : o[k];
  return in[i][idx4(s, q[0], q[1], q[2], q[3])];
}
#define FOR4(os, ...)                                                          \
  for (int64_t a0 = 0; a0 < os[0]; a0++)                                        \
    for (int64_t a1 = 0; a1 < os[1]; a1++)                                      \
      for (int64_t a2 = 0; a2 < os[2]; a2++)                                    \
        for (int64_t a3 = 0; a3 < os[3]; a3++) {                                \
          int64_t o[4] = {a0, a1, a2, a3};                                      \
          int64_t oi = idx4(os, a0, a1, a2, a3);                                \
          (void)o; (void)oi;                                                    \
          __VA_ARGS__;                                                          \
        }

/* ---- builders and references ------------------------------------------------------------ */
static cld_tensor *b_add(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_add(g, x[0], x[1]); }
static cld_tensor *b_sub(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_sub(g, x[0], x[1]); }
static cld_tensor *b_mul(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_mul(g, x[0], x[1]); }
static cld_tensor *b_div(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_div(g, x[0], x[1]); }
static void r_binary(const op_case *c, double **in, double *out, const int64_t os[4]) {
  FOR4(os, {
    double u = bc_at(c, in, 0, o), v = bc_at(c, in, 1, o);
    out[oi] = c->ip[0] == 0 ? u + v : c->ip[0] == 1 ? u - v : c->ip[0] == 2 ? u * v : u / v;
  });
}

static cld_tensor *b_unary(cld_graph *g, cld_tensor **x, const op_case *c) {
  switch (c->ip[0]) {
  case 0: return cld_scale(g, x[0], c->fp[0]);
  case 1: return cld_add_scalar(g, x[0], c->fp[0]);
  case 2: return cld_silu(g, x[0]);
  case 3: return cld_relu(g, x[0]);
  case 4: return cld_tanh(g, x[0]);
  case 5: return cld_exp(g, x[0]);
  case 6: return cld_log(g, x[0]);
  case 7: return cld_sqrt(g, x[0]);
  case 9: return cld_clamp_min(g, x[0], c->fp[0]);
  case 10: return cld_add(g, cld_square(g, x[0]), cld_detach(g, cld_scale(g, x[0], 3.0f))); /* grad 2x only */
  default: return cld_square(g, x[0]);
  }
}
static void r_unary(const op_case *c, double **in, double *out, const int64_t os[4]) {
  FOR4(os, {
    double v = in[0][oi];
    double r;
    switch (c->ip[0]) {
    case 0: r = c->fp[0] * v; break;
    case 1: r = v + c->fp[0]; break;
    case 2: r = v / (1 + exp(-v)); break;
    case 3: r = v > 0 ? v : 0; break;
    case 4: r = tanh(v); break;
    case 5: r = exp(v); break;
    case 6: r = log(v); break;
    case 7: r = sqrt(v); break;
    case 9: r = v > c->fp[0] ? v : c->fp[0]; break;
    case 10: r = v * v + 3 * v; break;
    default: r = v * v; break;
    }
    out[oi] = r;
  });
}

static cld_tensor *b_permute(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_permute(g, x[0], c->ip); }
static void r_permute(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t s[4];
  shape4(c, 0, s);
  int pad = 4 - c->ndim[0], p4[4];
  for (int k = 0; k < 4; k++) p4[k] = k < pad ? k : pad + c->ip[k - pad];
  FOR4(os, {
    int64_t q[4];
    for (int k = 0; k < 4; k++) q[p4[k]] = o[k];
    out[oi] = in[0][idx4(s, q[0], q[1], q[2], q[3])];
  });
}

static cld_tensor *b_slice(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_slice(g, x[0], c->ip[0], c->ip[1], c->ip[2]); }
static void r_slice(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t s[4];
  shape4(c, 0, s);
  int ax = c->ip[0] + 4 - c->ndim[0];
  FOR4(os, {
    int64_t q[4] = {o[0], o[1], o[2], o[3]};
    q[ax] += c->ip[1];
    out[oi] = in[0][idx4(s, q[0], q[1], q[2], q[3])];
  });
}

static cld_tensor *b_concat(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_concat(g, x[0], x[1], c->ip[0]); }
static void r_concat(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t s0[4], s1[4];
  shape4(c, 0, s0);
  shape4(c, 1, s1);
  int ax = c->ip[0] + 4 - c->ndim[0];
  FOR4(os, {
    int64_t q[4] = {o[0], o[1], o[2], o[3]};
    if (q[ax] < s0[ax]) out[oi] = in[0][idx4(s0, q[0], q[1], q[2], q[3])];
    else { q[ax] -= s0[ax]; out[oi] = in[1][idx4(s1, q[0], q[1], q[2], q[3])]; }
  });
}

static cld_tensor *b_bcast(cld_graph *g, cld_tensor **x, const op_case *c) {
  int64_t s[4] = {3, 5, 7, 9};
  return cld_broadcast_to(g, x[0], 4, s);
}
static void r_bcast(const op_case *c, double **in, double *out, const int64_t os[4]) { FOR4(os, out[oi] = bc_at(c, in, 0, o)); }

static cld_tensor *b_sum(cld_graph *g, cld_tensor **x, const op_case *c) {
  return c->ip[2] ? cld_mean(g, x[0], (unsigned)c->ip[0], c->ip[1]) : cld_sum(g, x[0], (unsigned)c->ip[0], c->ip[1]);
}
static void r_sum(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t s[4];
  shape4(c, 0, s);
  int pad = 4 - c->ndim[0];
  int64_t total = 1;
  for (int i = 0; i < 4; i++) total *= os[i];
  memset(out, 0, (size_t)total * sizeof *out);
  double cnt = 1;
  for (int k = 0; k < c->ndim[0]; k++) if ((c->ip[0] >> k) & 1) cnt *= (double)c->shape[0][k];
  FOR4(s, {
    int64_t r = 0;
    for (int k = pad; k < 4; k++) {
      if ((c->ip[0] >> (k - pad)) & 1) continue;
      r = r * s[k] + o[k];
    }
    out[r] += in[0][oi] / (c->ip[2] ? cnt : 1.0);
  });
}

static cld_tensor *b_up(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_upsample_nearest2x(g, x[0]); }
static void r_up(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t s[4];
  shape4(c, 0, s);
  FOR4(os, out[oi] = in[0][idx4(s, o[0], o[1], o[2] / 2, o[3] / 2)]);
}

/* matmul: ip0 ta, ip1 tb */
static cld_tensor *b_matmul(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_matmul(g, x[0], x[1], c->ip[0], c->ip[1]); }
static void r_matmul(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t sa[4], sb[4];
  shape4(c, 0, sa);
  shape4(c, 1, sb);
  int64_t M = os[2], N = os[3], K = c->ip[0] ? sa[2] : sa[3];
  for (int64_t b = 0; b < os[1]; b++)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = 0;
        const double *A = in[0] + (sa[1] == 1 ? 0 : b) * sa[2] * sa[3], *B = in[1] + (sb[1] == 1 ? 0 : b) * sb[2] * sb[3];
        for (int64_t k = 0; k < K; k++)
          s += (c->ip[0] ? A[k * sa[3] + i] : A[i * sa[3] + k]) * (c->ip[1] ? B[j * sb[3] + k] : B[k * sb[3] + j]);
        out[(b * M + i) * N + j] = s;
      }
}

/* grouped: a (G,1,M,K) (or (G,1,K,M) transposed) over b (G,P,K,N) -> (G,P,M,N) */
static void r_matmul_grouped(const op_case *c, double **in, double *out, const int64_t os[4]) {
  const int64_t *sa = c->shape[0], *sb = c->shape[1];
  int64_t G = os[0], P = os[1], M = os[2], N = os[3], K = sb[2];
  for (int64_t g = 0; g < G; g++)
    for (int64_t p = 0; p < P; p++)
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
          const double *A = in[0] + g * sa[2] * sa[3], *B = in[1] + (g * P + p) * K * N;
          double s = 0;
          for (int64_t k = 0; k < K; k++) s += (c->ip[0] ? A[k * M + i] : A[i * K + k]) * B[k * N + j];
          out[((g * P + p) * M + i) * N + j] = s;
        }
}

static cld_tensor *b_linear(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_linear(g, x[0], x[1], x[2]); }
static void r_linear(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t O = c->shape[1][0], I = c->shape[1][1], rows = numel_of(c, 0) / I;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < O; o++) {
      double s = in[2][o];
      for (int64_t i = 0; i < I; i++) s += in[0][r * I + i] * in[1][o * I + i];
      out[r * O + o] = s;
    }
}

/* conv: ip0 stride, ip1 pad, ip2 has bias, ip3 cld_conv_algo */
static cld_tensor *b_conv(cld_graph *g, cld_tensor **x, const op_case *c) {
  cld_graph_set_conv_algo(g, (cld_conv_algo)c->ip[3]);
  return cld_conv2d(g, x[0], x[1], c->ip[2] ? x[2] : NULL, c->ip[0], c->ip[1]);
}
static void r_conv(const op_case *c, double **in, double *out, const int64_t os[4]) {
  const int64_t *xs = c->shape[0], *ws = c->shape[1];
  int S = c->ip[0], P = c->ip[1];
  FOR4(os, {
    double s = !c->ip[2] ? 0.0 : c->ndim[2] == 2 ? in[2][o[0] * ws[0] + o[1]] : in[2][o[1]]; /* bias (O) or (N, O) */
    for (int64_t ci = 0; ci < xs[1]; ci++)
      for (int64_t kh = 0; kh < ws[2]; kh++)
        for (int64_t kw = 0; kw < ws[3]; kw++) {
          int64_t h = o[2] * S - P + kh, w = o[3] * S - P + kw;
          if (h < 0 || h >= xs[2] || w < 0 || w >= xs[3]) continue;
          s += in[0][((o[0] * xs[1] + ci) * xs[2] + h) * xs[3] + w] * in[1][((o[1] * ws[1] + ci) * ws[2] + kh) * ws[3] + kw];
        }
    out[oi] = s;
  });
}

/* conv plus a residual of the output's shape: x[0] input, x[1] weight, x[2] residual (no bias) */
static cld_tensor *b_conv_res(cld_graph *g, cld_tensor **x, const op_case *c) {
  cld_graph_set_conv_algo(g, (cld_conv_algo)c->ip[3]);
  return cld_conv2d_residual(g, x[0], x[1], NULL, c->ip[0], c->ip[1], x[2]);
}
static void r_conv_res(const op_case *c, double **in, double *out, const int64_t os[4]) {
  r_conv(c, in, out, os); /* ip[2] = 0: no bias */
  FOR4(os, out[oi] += in[2][oi]);
}

/* norms: ip0 = 0 group (ip1 groups, ip2 fused SiLU), 1 layer; one input: no affine */
static cld_tensor *b_norm(cld_graph *g, cld_tensor **x, const op_case *c) {
  cld_tensor *gm = c->n_in > 1 ? x[1] : NULL, *bt = c->n_in > 2 ? x[2] : NULL;
  if (c->ip[0] == 1) return cld_layer_norm(g, x[0], c->fp[0], gm, bt);
  return (c->ip[2] ? cld_group_norm_silu : cld_group_norm)(g, x[0], c->ip[1], c->fp[0], gm, bt);
}
static void r_norm(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t n = numel_of(c, 0), rows, len, C;
  if (c->ip[0] == 0) { rows = c->shape[0][0] * c->ip[1]; C = c->shape[0][1]; }
  else { len = c->shape[0][c->ndim[0] - 1]; rows = n / len; C = len; }
  len = n / rows;
  int64_t inner = c->ip[0] == 0 ? n / (c->shape[0][0] * C) : 1;
  for (int64_t r = 0; r < rows; r++) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < len; i++) m += in[0][r * len + i];
    m /= len;
    for (int64_t i = 0; i < len; i++) v += (in[0][r * len + i] - m) * (in[0][r * len + i] - m);
    v /= len;
    for (int64_t i = 0; i < len; i++) {
      int64_t e = r * len + i, ch = (e / inner) % C;
      double z = (in[0][e] - m) / sqrt(v + c->fp[0]) * (c->n_in > 1 ? in[1][ch] : 1.0) + (c->n_in > 2 ? in[2][ch] : 0.0);
      out[e] = c->ip[2] ? z / (1 + exp(-z)) : z;
    }
  }
}

static cld_tensor *b_softmax(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_softmax(g, x[0]); }
static void r_softmax(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t len = os[3], rows = os[0] * os[1] * os[2];
  for (int64_t r = 0; r < rows; r++) {
    double m = -1e300, s = 0;
    for (int64_t i = 0; i < len; i++) m = fmax(m, in[0][r * len + i]);
    for (int64_t i = 0; i < len; i++) s += exp(in[0][r * len + i] - m);
    for (int64_t i = 0; i < len; i++) out[r * len + i] = exp(in[0][r * len + i] - m) / s;
  }
}

/* attention, channels-first q, k, v (BH, D, L): o[c][i] = sum_j v[c][j] softmax_j(sum_c q[c][i] k[c][j]) */
/* ip0 = 1: built as the samplers build it (training off), which lets it fuse */
static cld_tensor *b_attention(cld_graph *g, cld_tensor **x, const op_case *c) {
  cld_graph_set_training(g, !c->ip[0]);
  return cld_attention(g, x[0], x[1], x[2]);
}
static void r_attention(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t BH = os[1], D = os[2], L = os[3];
  double *p = malloc((size_t)L * sizeof *p);
  for (int64_t h = 0; h < BH; h++) {
    const double *q = in[0] + h * D * L, *k = in[1] + h * D * L, *v = in[2] + h * D * L;
    for (int64_t i = 0; i < L; i++) {
      double m = -1e300, s = 0;
      for (int64_t j = 0; j < L; j++) {
        p[j] = 0;
        for (int64_t ch = 0; ch < D; ch++) p[j] += q[ch * L + i] * k[ch * L + j];
        m = fmax(m, p[j]);
      }
      for (int64_t j = 0; j < L; j++) s += (p[j] = exp(p[j] - m));
      for (int64_t ch = 0; ch < D; ch++) {
        double o = 0;
        for (int64_t j = 0; j < L; j++) o += v[ch * L + j] * p[j] / s;
        out[(h * D + ch) * L + i] = o;
      }
    }
  }
  free(p);
}

/* timestep embedding: ip0 dim, ip1 flip, fp0 shift */
static cld_tensor *b_temb(cld_graph *g, cld_tensor **x, const op_case *c) {
  return cld_timestep_embedding(g, x[0], c->ip[0], c->ip[1], c->fp[0], 10000.0f);
}
static void r_temb(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int dim = c->ip[0], half = dim / 2;
  for (int64_t b = 0; b < c->shape[0][0]; b++)
    for (int j = 0; j < dim; j++) {
      double v = 0;
      if (j < 2 * half) {
        int f = j < half ? j : j - half;
        bool first = j < half, use_sin = c->ip[1] ? !first : first;
        /* diffusers computes the frequencies and the product in float32 */
        float freq = (float)exp(-log(10000.0) * f / (half - c->fp[0]));
        float arg = (float)in[0][b] * freq;
        v = use_sin ? sin((double)arg) : cos((double)arg);
      }
      out[b * dim + j] = v;
    }
}

static cld_tensor *b_wmse(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_weighted_mse(g, x[0], x[1], x[2]); }
static void r_wmse(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t N = c->shape[0][0], per = numel_of(c, 0) / N;
  double tot = 0;
  for (int64_t b = 0; b < N; b++) {
    double s = 0;
    for (int64_t i = 0; i < per; i++) { double d = in[0][b * per + i] - in[1][b * per + i]; s += d * d; }
    tot += in[2][b] * s / per;
  }
  out[0] = tot / N;
}

static cld_tensor *b_pdist(cld_graph *g, cld_tensor **x, const op_case *c) { return cld_pairwise_sqdist(g, x[0], x[1]); }
static void r_pdist(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t N = c->shape[0][0], M = c->shape[1][0], D = c->shape[0][1];
  for (int64_t i = 0; i < N; i++)
    for (int64_t j = 0; j < M; j++) {
      double s = 0;
      for (int64_t d = 0; d < D; d++) { double t = in[0][i * D + d] - in[1][j * D + d]; s += t * t; }
      out[i * M + j] = s;
    }
}

/* dropout with fp0 = p; the node's stream is 0x40000000 | node id (id of the dropout node) */
static int dropout_node_id;
static cld_tensor *b_dropout(cld_graph *g, cld_tensor **x, const op_case *c) {
  dropout_node_id = cld_graph_n_nodes(g);
  return cld_dropout(g, x[0], c->fp[0]);
}
static void r_dropout(const op_case *c, double **in, double *out, const int64_t os[4]) {
  int64_t n = numel_of(c, 0);
  float *u = tu_alloc((size_t)n);
  cld_rng_uniform_host(77, 0x40000000u | (uint32_t)dropout_node_id, 0, (size_t)n, u);
  for (int64_t i = 0; i < n; i++) out[i] = u[i] >= c->fp[0] ? in[0][i] / (1.0 - c->fp[0]) : 0.0;
  free(u);
}

/* ---- the cases -------------------------------------------------------------------------- */
#define S4(a, b, c, d) {a, b, c, d}
static const op_case cases[] = {
    {"add", 2, {4, 4}, {S4(3, 5, 7, 9), S4(3, 5, 7, 9)}, {-2, -2}, {2, 2}, b_add, r_binary, {0}},
    {"add_bcast", 2, {4, 3}, {S4(3, 5, 7, 9), S4(5, 1, 1, 0)}, {-2, -2}, {2, 2}, b_add, r_binary, {0}},
    {"sub_bcast", 2, {4, 3}, {S4(3, 1, 7, 9), S4(5, 7, 1, 0)}, {-2, -2}, {2, 2}, b_sub, r_binary, {1}},
    {"mul_bcast", 2, {2, 4}, {S4(7, 9, 0, 0), S4(3, 5, 7, 9)}, {-2, -2}, {2, 2}, b_mul, r_binary, {2}},
    {"div_bcast", 2, {4, 4}, {S4(3, 5, 7, 9), S4(1, 5, 1, 1)}, {-2, 0.5f}, {2, 2}, b_div, r_binary, {3}},
    {"scale", 1, {3}, {S4(5, 7, 11, 0)}, {-2}, {2}, b_unary, r_unary, {0}, {-1.7f}},
    {"add_scalar", 1, {3}, {S4(5, 7, 11, 0)}, {-2}, {2}, b_unary, r_unary, {1}, {0.3f}},
    {"silu", 1, {3}, {S4(5, 7, 11, 0)}, {-4}, {4}, b_unary, r_unary, {2}},
    {"relu", 1, {3}, {S4(5, 7, 11, 0)}, {0.05f}, {2}, b_unary, r_unary, {3}},
    {"relu_neg", 1, {3}, {S4(5, 7, 11, 0)}, {-2}, {-0.05f}, b_unary, r_unary, {3}},
    {"tanh", 1, {3}, {S4(5, 7, 11, 0)}, {-2}, {2}, b_unary, r_unary, {4}},
    {"exp", 1, {3}, {S4(5, 7, 11, 0)}, {-2}, {2}, b_unary, r_unary, {5}},
    {"log", 1, {3}, {S4(5, 7, 11, 0)}, {0.5f}, {3}, b_unary, r_unary, {6}},
    {"sqrt", 1, {3}, {S4(5, 7, 11, 0)}, {0.5f}, {3}, b_unary, r_unary, {7}},
    {"square", 1, {3}, {S4(5, 7, 11, 0)}, {-2}, {2}, b_unary, r_unary, {8}},
    {"clamp_min", 1, {3}, {S4(5, 7, 11, 0)}, {-2}, {2}, b_unary, r_unary, {9}, {0.25f}},
    {"permute", 1, {4}, {S4(3, 5, 7, 9)}, {-2}, {2}, b_permute, r_permute, {2, 0, 3, 1}},
    {"permute3", 1, {3}, {S4(5, 7, 9, 0)}, {-2}, {2}, b_permute, r_permute, {0, 2, 1, 3}},
    {"slice", 1, {4}, {S4(3, 5, 7, 9)}, {-2}, {2}, b_slice, r_slice, {2, 2, 4}},
    {"concat", 2, {4, 4}, {S4(3, 5, 7, 9), S4(3, 2, 7, 9)}, {-2, -2}, {2, 2}, b_concat, r_concat, {1}},
    {"broadcast_to", 1, {3}, {S4(5, 1, 9, 0)}, {-2}, {2}, b_bcast, r_bcast, {0}},
    {"sum_keep", 1, {4}, {S4(3, 5, 7, 9)}, {-2}, {2}, b_sum, r_sum, {0xA, 1, 0}},
    {"mean_drop", 1, {4}, {S4(3, 5, 7, 9)}, {-2}, {2}, b_sum, r_sum, {0x5, 0, 1}},
    {"sum_all", 1, {3}, {S4(5, 7, 9, 0)}, {-2}, {2}, b_sum, r_sum, {0x7, 0, 0}},
    /* reductions of >= 256 elements take the work-group kernels */
    {"sum_keep_long", 1, {4}, {S4(4, 3, 20, 24)}, {-2}, {2}, b_sum, r_sum, {0xD, 1, 0}},
    {"mean_inner_long", 1, {3}, {S4(3, 4, 300, 0)}, {-2}, {2}, b_sum, r_sum, {0x4, 0, 1}},
    /* leading dims reduced, the rest kept: k_sum_rows (float4 columns, then a 2-column tail) */
    {"sum_rows", 1, {3}, {S4(6, 50, 10, 0)}, {-2}, {2}, b_sum, r_sum, {0x3, 0, 0}},
    {"mean_rows_keep", 1, {2}, {S4(70, 12, 0, 0)}, {-2}, {2}, b_sum, r_sum, {0x1, 1, 1}},
    {"upsample2x", 1, {4}, {S4(2, 3, 5, 7)}, {-2}, {2}, b_up, r_up, {0}},
    {"matmul_nn", 2, {2, 2}, {S4(13, 17, 0, 0), S4(17, 19, 0, 0)}, {-1, -1}, {1, 1}, b_matmul, r_matmul, {0, 0}},
    {"matmul_tn", 2, {2, 2}, {S4(17, 13, 0, 0), S4(17, 19, 0, 0)}, {-1, -1}, {1, 1}, b_matmul, r_matmul, {1, 0}},
    {"matmul_nt", 2, {2, 2}, {S4(13, 17, 0, 0), S4(19, 17, 0, 0)}, {-1, -1}, {1, 1}, b_matmul, r_matmul, {0, 1}},
    {"matmul_tt", 2, {2, 2}, {S4(17, 13, 0, 0), S4(19, 17, 0, 0)}, {-1, -1}, {1, 1}, b_matmul, r_matmul, {1, 1}},
    {"matmul_batched", 2, {3, 3}, {S4(3, 13, 17, 0), S4(3, 17, 19, 0)}, {-1, -1}, {1, 1}, b_matmul, r_matmul, {0, 0}},
    {"matmul_bcast_nn", 2, {2, 3}, {S4(13, 17, 0, 0), S4(3, 17, 19, 0)}, {-1, -1}, {1, 1}, b_matmul, r_matmul, {0, 0}},
    {"matmul_bcast_nt", 2, {2, 3}, {S4(13, 17, 0, 0), S4(3, 19, 17, 0)}, {-1, -1}, {1, 1}, b_matmul, r_matmul, {0, 1}},
    {"matmul_grouped", 2, {4, 4}, {S4(3, 1, 13, 17), S4(3, 5, 17, 19)}, {-1, -1}, {1, 1}, b_matmul, r_matmul_grouped, {0, 0}},
    {"matmul_grouped_tn", 2, {4, 4}, {S4(2, 1, 17, 13), S4(2, 4, 17, 32)}, {-1, -1}, {1, 1}, b_matmul, r_matmul_grouped, {1, 0}},
    {"matmul_grouped_p1", 2, {4, 4}, {S4(3, 1, 13, 17), S4(3, 1, 17, 19)}, {-1, -1}, {1, 1}, b_matmul, r_matmul_grouped, {0, 0}},
    {"matmul_big_nn", 2, {2, 2}, {S4(37, 70, 0, 0), S4(70, 97, 0, 0)}, {-1, -1}, {1, 1}, b_matmul, r_matmul, {0, 0}},
    {"linear", 3, {3, 2, 1}, {S4(5, 7, 11, 0), S4(13, 11, 0, 0), S4(13, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_linear, r_linear},
    {"conv3x3", 3, {4, 4, 1}, {S4(2, 3, 9, 11), S4(5, 3, 3, 3), S4(5, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 1, 1}},
    {"conv3x3_s2", 3, {4, 4, 1}, {S4(2, 3, 9, 11), S4(5, 3, 3, 3), S4(5, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {2, 1, 1}},
    {"conv1x1_nobias", 2, {4, 4}, {S4(3, 4, 5, 7), S4(6, 4, 1, 1)}, {-1, -1}, {1, 1}, b_conv, r_conv, {1, 0, 0}},
    /* taps that fall wholly outside narrow images (W=3 with a 5-wide kernel), stride 2, no pad */
    {"conv5x5_p2_s2", 3, {4, 4, 1}, {S4(2, 2, 4, 3), S4(3, 2, 5, 5), S4(3, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {2, 2, 1}},
    {"conv3x3_p0_s2", 3, {4, 4, 1}, {S4(2, 3, 8, 7), S4(4, 3, 3, 3), S4(4, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {2, 0, 1}},
    {"conv_n1", 3, {4, 4, 1}, {S4(1, 3, 6, 5), S4(4, 3, 3, 3), S4(4, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 1, 1}},
    /* Winograd F(2x2,3x3): odd sizes (partial tiles), a one-row image, auto's channel threshold */
    {"conv3x3_wino", 3, {4, 4, 1}, {S4(2, 3, 9, 11), S4(5, 3, 3, 3), S4(5, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 1, 1, CLD_CONV_WINOGRAD}},
    {"conv3x3_wino_auto", 3, {4, 4, 1}, {S4(3, 8, 6, 4), S4(9, 8, 3, 3), S4(9, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 1, 1, CLD_CONV_AUTO}},
    {"conv3x3_wino_row", 2, {4, 4}, {S4(2, 4, 1, 5), S4(3, 4, 3, 3)}, {-1, -1}, {1, 1}, b_conv, r_conv, {1, 1, 0, CLD_CONV_WINOGRAD}},
    /* 1x1 convolutions: one batched GEMM (auto) or im2col; and Winograd with one output channel */
    {"conv1x1_bias", 3, {4, 4, 1}, {S4(2, 5, 4, 6), S4(3, 5, 1, 1), S4(3, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 0, 1}},
    {"conv1x1_im2col", 3, {4, 4, 1}, {S4(2, 5, 4, 6), S4(3, 5, 1, 1), S4(3, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 0, 1, CLD_CONV_IM2COL}},
    {"conv3x3_wino_o1", 3, {4, 4, 1}, {S4(2, 8, 6, 9), S4(1, 8, 3, 3), S4(1, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 1, 1, CLD_CONV_AUTO}},
    /* a bias per (image, channel): the Winograd output transform's per-image mode, im2col, 1x1 */
    {"conv3x3_wino_bias_ni", 3, {4, 4, 2}, {S4(2, 8, 6, 9), S4(5, 8, 3, 3), S4(2, 5, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 1, 1, CLD_CONV_WINOGRAD}},
    {"conv3x3_im2col_bias_ni", 3, {4, 4, 2}, {S4(2, 8, 6, 9), S4(5, 8, 3, 3), S4(2, 5, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 1, 1, CLD_CONV_IM2COL}},
    {"conv1x1_bias_ni", 3, {4, 4, 2}, {S4(3, 5, 4, 6), S4(2, 5, 1, 1), S4(3, 2, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 0, 1}},
    /* a residual added by the convolution (Winograd: in its output transform) */
    {"conv3x3_wino_res", 3, {4, 4, 4}, {S4(2, 8, 6, 9), S4(5, 8, 3, 3), S4(2, 5, 6, 9)}, {-1, -1, -1}, {1, 1, 1}, b_conv_res, r_conv_res, {1, 1, 0, CLD_CONV_WINOGRAD}},
    {"conv3x3_wino_res_wide", 3, {4, 4, 4}, {S4(1, 8, 5, 21), S4(3, 8, 3, 3), S4(1, 3, 5, 21)}, {-1, -1, -1}, {1, 1, 1}, b_conv_res, r_conv_res, {1, 1, 0, CLD_CONV_WINOGRAD}},
    {"conv3x3_wino_res_narrow", 3, {4, 4, 4}, {S4(2, 8, 5, 5), S4(3, 8, 3, 3), S4(2, 3, 5, 5)}, {-1, -1, -1}, {1, 1, 1}, b_conv_res, r_conv_res, {1, 1, 0, CLD_CONV_WINOGRAD}},
    {"conv3x3_im2col_res", 3, {4, 4, 4}, {S4(2, 8, 6, 9), S4(5, 8, 3, 3), S4(2, 5, 6, 9)}, {-1, -1, -1}, {1, 1, 1}, b_conv_res, r_conv_res, {1, 1, 0, CLD_CONV_IM2COL}},
    {"conv3x3_im2col", 3, {4, 4, 1}, {S4(3, 8, 6, 4), S4(9, 8, 3, 3), S4(9, 0, 0, 0)}, {-1, -1, -1}, {1, 1, 1}, b_conv, r_conv, {1, 1, 1, CLD_CONV_IM2COL}},
    {"group_norm", 3, {4, 1, 1}, {S4(3, 6, 5, 7), S4(6, 0, 0, 0), S4(6, 0, 0, 0)}, {-2, 0.5f, -1}, {2, 1.5f, 1}, b_norm, r_norm, {0, 3}, {1e-5f}},
    {"group_norm_long", 3, {4, 1, 1}, {S4(2, 4, 16, 18), S4(4, 0, 0, 0), S4(4, 0, 0, 0)}, {-2, 0.5f, -1}, {2, 1.5f, 1}, b_norm, r_norm, {0, 2}, {1e-5f}},
    {"group_norm_silu", 3, {4, 1, 1}, {S4(3, 6, 5, 7), S4(6, 0, 0, 0), S4(6, 0, 0, 0)}, {-2, 0.5f, -1}, {2, 1.5f, 1}, b_norm, r_norm, {0, 3, 1}, {1e-5f}},
    {"group_norm_silu_long", 3, {4, 1, 1}, {S4(2, 8, 13, 11), S4(8, 0, 0, 0), S4(8, 0, 0, 0)}, {-2, -1.5f, -1}, {2, 1.5f, 1}, b_norm, r_norm, {0, 2, 1}, {1e-5f}},
    /* channels of 575 pixels: each item's share of a channel takes the 8-wide path in every kernel */
    {"group_norm_silu_wide", 3, {4, 1, 1}, {S4(2, 4, 23, 25), S4(4, 0, 0, 0), S4(4, 0, 0, 0)}, {-2, -1.5f, -1}, {2, 1.5f, 1}, b_norm, r_norm, {0, 2, 1}, {1e-5f}},
    {"group_norm_plain", 1, {3}, {S4(4, 6, 9, 0)}, {-2}, {2}, b_norm, r_norm, {0, 2}, {1e-5f}},
    {"group_norm_silu_plain", 1, {4}, {S4(2, 4, 3, 5)}, {-2}, {2}, b_norm, r_norm, {0, 4, 1}, {1e-5f}},
    {"layer_norm", 3, {3, 1, 1}, {S4(5, 7, 13, 0), S4(13, 0, 0, 0), S4(13, 0, 0, 0)}, {-2, 0.5f, -1}, {2, 1.5f, 1}, b_norm, r_norm, {1}, {1e-5f}},
    {"softmax", 1, {3}, {S4(5, 7, 13, 0)}, {-3}, {3}, b_softmax, r_softmax, .grad_tol = 3e-3},
    {"softmax_len4k", 1, {3}, {S4(3, 5, 20, 0)}, {-3}, {3}, b_softmax, r_softmax, .grad_tol = 3e-3}, /* float4 path */
    /* attention: fused in an inference graph on a CPU (L >= 16, D % 8 == 0; its gradient recomputes
     * the scores): a shifted last query block (L = 20), key tails (L = 37), the mid block's 7x7 and
     * the UNet's 14x14 with 64 channels a head; L = 12 and a training graph take the GEMMs and softmax */
    {"attention_fused", 3, {3, 3, 3}, {S4(3, 8, 20, 0), S4(3, 8, 20, 0), S4(3, 8, 20, 0)}, {-1, -1, -1}, {1, 1, 1}, b_attention, r_attention, {1}, .grad_tol = 3e-3},
    {"attention_tails", 3, {3, 3, 3}, {S4(2, 16, 37, 0), S4(2, 16, 37, 0), S4(2, 16, 37, 0)}, {-0.6f, -0.6f, -1}, {0.6f, 0.6f, 1}, b_attention, r_attention, {1}, .grad_tol = 3e-3},
    {"attention_49", 3, {3, 3, 3}, {S4(2, 8, 49, 0), S4(2, 8, 49, 0), S4(2, 8, 49, 0)}, {-1, -1, -1}, {1, 1, 1}, b_attention, r_attention, {1}, .grad_tol = 3e-3},
    {"attention_196", 3, {3, 3, 3}, {S4(2, 64, 196, 0), S4(2, 64, 196, 0), S4(2, 64, 196, 0)}, {-0.3f, -0.3f, -1}, {0.3f, 0.3f, 1}, b_attention, r_attention, {1}, .grad_tol = 3e-3},
    {"attention_unfused", 3, {3, 3, 3}, {S4(3, 8, 12, 0), S4(3, 8, 12, 0), S4(3, 8, 12, 0)}, {-1, -1, -1}, {1, 1, 1}, b_attention, r_attention, {1}, .grad_tol = 3e-3},
    {"attention_training", 3, {3, 3, 3}, {S4(3, 8, 20, 0), S4(3, 8, 20, 0), S4(3, 8, 20, 0)}, {-1, -1, -1}, {1, 1, 1}, b_attention, r_attention, {0}, .grad_tol = 3e-3},
    {"timestep_emb_flip", 1, {1}, {S4(5, 0, 0, 0)}, {0}, {999}, b_temb, r_temb, {33, 1}, {0.0f}, {true}, 2e-4},
    {"timestep_emb_shift", 1, {1}, {S4(7, 0, 0, 0)}, {0}, {999}, b_temb, r_temb, {64, 0}, {1.0f}, {true}, 2e-4},
    /* 70 rows: three row blocks of the kernel's grid, the last one partial */
    {"timestep_emb_rows", 1, {1}, {S4(70, 0, 0, 0)}, {0}, {999}, b_temb, r_temb, {9, 1}, {0.0f}, {true}, 2e-4},
    {"weighted_mse", 3, {4, 4, 1}, {S4(4, 3, 5, 7), S4(4, 3, 5, 7), S4(4, 0, 0, 0)}, {-1, -1, 0.1f}, {1, 1, 2}, b_wmse, r_wmse},
    {"pairwise_sqdist", 2, {2, 2}, {S4(7, 5, 0, 0), S4(9, 5, 0, 0)}, {-1, -1}, {1, 1}, b_pdist, r_pdist},
    {"dropout", 1, {3}, {S4(5, 7, 11, 0)}, {-2}, {2}, b_dropout, r_dropout, {0}, {0.3f}},
};

/* Builds the case; returns the output. in[] gets the input tensors. */
static cld_tensor *build_case(cld_graph *g, const op_case *c, cld_tensor **in, bool grads) {
  for (int i = 0; i < c->n_in; i++) {
    char name[16];
    snprintf(name, sizeof name, "in%d", i % 10);
    in[i] = cld_input(g, name, c->ndim[i], c->shape[i]);
    if (grads && !c->no_grad[i]) cld_set_requires_grad(in[i], true);
  }
  return c->build(g, in, c);
}

static float *make_input(const op_case *c, int i) {
  int64_t n = numel_of(c, i);
  float *x = tu_alloc((size_t)n);
  tu_fill(x, (size_t)n, (uint32_t)(100 + i), c->lo[i], c->hi[i]);
  return x;
}

static void run_forward(const op_case *c) {
  cld_ctx *ctx = tu_ctx();
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *in[3];
  cld_tensor *out = build_case(g, c, in, false);
  if (!out) fprintf(stderr, "%s: build failed: %s\n", c->name, cld_graph_errmsg(g));
  assert_non_null(out);
  cld_graph_keep(g, out);
  cld_plan_params pp = cld_plan_params_default();
  pp.guard_floats = 64;
  TU_OK(ctx, cld_graph_plan(g, &pp));
  float *x[3] = {0};
  double *xd[3] = {0};
  for (int i = 0; i < c->n_in; i++) {
    x[i] = make_input(c, i);
    int64_t n = numel_of(c, i);
    xd[i] = malloc((size_t)n * sizeof(double));
    for (int64_t k = 0; k < n; k++) xd[i][k] = x[i][k];
    TU_OK(ctx, cld_tensor_write(g, in[i], x[i]));
  }
  cld_graph_set_seed(g, 77);
  TU_OK(ctx, cld_graph_compute(g));
  int64_t n = cld_tensor_numel(out), os[4] = {1, 1, 1, 1};
  int nd = cld_tensor_ndim(out);
  for (int k = 0; k < nd; k++) os[4 - nd + k] = cld_tensor_dim(out, k);
  float *y = tu_alloc((size_t)n);
  double *ref = calloc((size_t)n, sizeof(double));
  TU_OK(ctx, cld_tensor_read(g, out, y));
  c->ref(c, xd, ref, os);
  double rtol = c->rtol > 0 ? c->rtol : 2e-5;
  tu_close(y, ref, (size_t)n, rtol, c->rtol > 0 ? c->rtol : 2e-5, c->name);
  TU_OK(ctx, cld_graph_check_guards(g));
  for (int i = 0; i < c->n_in; i++) { free(x[i]); free(xd[i]); }
  free(y);
  free(ref);
  cld_graph_destroy(g);
  cld_ctx_destroy(ctx);
}

static double loss_of(cld_ctx *ctx, cld_graph *g, cld_tensor *out, const float *R) {
  int64_t n = cld_tensor_numel(out);
  float *y = tu_alloc((size_t)n);
  cld_graph_set_run_counter(g, 0);
  TU_OK(ctx, cld_graph_compute(g));
  TU_OK(ctx, cld_tensor_read(g, out, y));
  double L = 0;
  for (int64_t i = 0; i < n; i++) L += (double)y[i] * R[i];
  free(y);
  return L;
}

static void run_backward(const op_case *c) {
  bool any = false;
  for (int i = 0; i < c->n_in; i++) any |= !c->no_grad[i];
  if (!any) return;
  cld_ctx *ctx = tu_ctx();
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *in[3];
  cld_tensor *out = build_case(g, c, in, true);
  assert_non_null(out);
  int64_t n = cld_tensor_numel(out);
  cld_tensor *R = cld_input(g, "R", cld_tensor_ndim(out), (int64_t[]){cld_tensor_dim(out, 0), cld_tensor_dim(out, 1),
                                                                      cld_tensor_dim(out, 2), cld_tensor_dim(out, 3)});
  cld_tensor *loss = cld_sum_all(g, cld_mul(g, out, R));
  cld_graph_keep(g, out);
  TU_OK(ctx, cld_graph_backward(g, loss));
  TU_OK(ctx, cld_graph_plan(g, NULL));
  float *Rv = tu_alloc((size_t)n);
  tu_fill(Rv, (size_t)n, 999, -1, 1);
  TU_OK(ctx, cld_tensor_write(g, R, Rv));
  float *x[3] = {0};
  for (int i = 0; i < c->n_in; i++) {
    x[i] = make_input(c, i);
    TU_OK(ctx, cld_tensor_write(g, in[i], x[i]));
  }
  cld_graph_set_seed(g, 77);
  loss_of(ctx, g, out, Rv);
  for (int i = 0; i < c->n_in; i++) {
    if (c->no_grad[i]) continue;
    int64_t ni = numel_of(c, i);
    float *gr = tu_alloc((size_t)ni);
    cld_tensor *gt = cld_tensor_grad(in[i]);
    assert_non_null(gt);
    TU_OK(ctx, cld_tensor_read(g, gt, gr));
    float probe[8];
    tu_fill(probe, 8, 4242 + (uint32_t)i, 0, 1);
    double tol = c->grad_tol > 0 ? c->grad_tol : 2e-2;
    for (int p = 0; p < 8; p++) {
      int64_t j = (int64_t)(probe[p] * (float)ni) % ni;
      float x0 = x[i][j], h = 1e-2f * fmaxf(1.0f, fabsf(x0));
      x[i][j] = x0 + h;
      TU_OK(ctx, cld_tensor_write(g, in[i], x[i]));
      double lp = loss_of(ctx, g, out, Rv);
      x[i][j] = x0 - h;
      TU_OK(ctx, cld_tensor_write(g, in[i], x[i]));
      double lm = loss_of(ctx, g, out, Rv);
      x[i][j] = x0;
      TU_OK(ctx, cld_tensor_write(g, in[i], x[i]));
      double fd = (lp - lm) / (2.0 * ((double)(x0 + h) - (double)x0));
      double an = gr[j];
      if (!(fabs(fd - an) <= tol * (1.0 + fabs(fd)))) {
        fprintf(stderr, "%s: d/d in%d[%lld]: analytic %.6g, finite difference %.6g\n", c->name, i, (long long)j, an, fd);
        fail();
      }
    }
    free(gr);
  }
  for (int i = 0; i < c->n_in; i++) free(x[i]);
  free(Rv);
  cld_graph_destroy(g);
  cld_ctx_destroy(ctx);
}

static void test_case(void **state) {
  const op_case *c = *state;
  run_forward(c);
  run_backward(c);
}

static int setup_case(void **state) { (void)state; return 0; }

/* x, w, b and R of a convolution test from Philox streams stream .. stream + 3, uniform in [-1, 1) */
static void conv_feed(cld_ctx *ctx, cld_graph *g, cld_tensor *const in[4], uint32_t stream) {
  for (int i = 0; i < 4; i++) {
    float *h = tu_alloc((size_t)in[i]->numel);
    tu_fill(h, (size_t)in[i]->numel, stream + (uint32_t)i, -1, 1);
    TU_OK(ctx, cld_tensor_write(g, in[i], h));
    free(h);
  }
}

/* Winograd (both tile sizes) against im2col in full (the cases above probe 8 gradient entries): output and every
 * entry of the input, weight and bias gradients, on shapes whose tiles take both the four-tile
 * vector path and the edge path of each transform. */
static void conv_run(cld_conv_algo algo, const int64_t xs[4], const int64_t ws[4], float *y, float *gx, float *gw, float *gb) {
  cld_ctx *ctx = tu_ctx();
  cld_graph *g = cld_graph_create(ctx);
  cld_graph_set_conv_algo(g, algo);
  int64_t bs[1] = {ws[0]};
  cld_tensor *x = cld_input(g, "x", 4, xs), *w = cld_input(g, "w", 4, ws), *b = cld_input(g, "b", 1, bs);
  cld_set_requires_grad(x, true);
  cld_set_requires_grad(w, true);
  cld_set_requires_grad(b, true);
  cld_tensor *out = cld_conv2d(g, x, w, b, 1, 1);
  assert_non_null(out);
  int64_t os[4] = {xs[0], ws[0], xs[2], xs[3]};
  cld_tensor *R = cld_input(g, "R", 4, os);
  cld_graph_keep(g, out);
  TU_OK(ctx, cld_graph_backward(g, cld_sum_all(g, cld_mul(g, out, R))));
  cld_plan_params pp = cld_plan_params_default();
  pp.guard_floats = 64; /* catches a tile tensor written past its (padded) extent */
  TU_OK(ctx, cld_graph_plan(g, &pp));
  conv_feed(ctx, g, (cld_tensor *[4]){x, w, b, R}, 1);
  TU_OK(ctx, cld_graph_compute(g));
  TU_OK(ctx, cld_tensor_read(g, out, y));
  TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(x), gx));
  TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(w), gw));
  TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(b), gb));
  TU_OK(ctx, cld_graph_check_guards(g));
  cld_graph_destroy(g);
  cld_ctx_destroy(ctx);
}

static void expect_same(const float *got, const float *want, int64_t n, const char *what) {
  double *w = malloc((size_t)n * sizeof *w), scale = 0;
  for (int64_t i = 0; i < n; i++) { w[i] = want[i]; scale = fmax(scale, fabs(want[i])); }
  tu_close(got, w, (size_t)n, 0, 2e-5 * scale, what);
  free(w);
}

static void test_winograd_vs_im2col(void **state) {
  (void)state;
  static const int64_t shapes[][2][4] = {{{2, 8, 9, 11}, {5, 8, 3, 3}}, {{1, 16, 14, 14}, {8, 16, 3, 3}},
                                         {{3, 8, 7, 20}, {9, 8, 3, 3}}, {{2, 8, 1, 12}, {4, 8, 3, 3}},
                                         /* F(4x4): 40 tiles, a group of four straddles the 32-tile panels */
                                         {{2, 8, 16, 20}, {5, 8, 3, 3}},
                                         /* F(4x4): 9 images of 4 tiles, walked channel-major (CMAJ) */
                                         {{9, 8, 7, 7}, {6, 8, 3, 3}}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const int64_t *xs = shapes[s][0], *ws = shapes[s][1];
    int64_t nx = xs[0] * xs[1] * xs[2] * xs[3], nw = ws[0] * ws[1] * 9, ny = xs[0] * ws[0] * xs[2] * xs[3];
    /* im2col, then Winograd F(4x4) and F(2x2), each in the three tile layouts: panels of 32
     * (CPUs), plain (GPUs) and one panel of all tiles (CPUs with oneDNN) */
    enum { L = 7 };
    static const char *const layout[L] = {NULL, "32", "0", "all", "32", "0", "all"};
    static const char *const tile[L] = {NULL, "4", "4", "4", "2", "2", "2"};
    float *r[L][4];
    for (int a = 0; a < L; a++) {
      r[a][0] = tu_alloc((size_t)ny); r[a][1] = tu_alloc((size_t)nx); r[a][2] = tu_alloc((size_t)nw); r[a][3] = tu_alloc((size_t)ws[0]);
      if (layout[a]) setenv("CLDIFF_WINO_PANEL", layout[a], 1);
      if (tile[a]) setenv("CLDIFF_WINO_TILE", tile[a], 1);
      conv_run(a ? CLD_CONV_WINOGRAD : CLD_CONV_IM2COL, xs, ws, r[a][0], r[a][1], r[a][2], r[a][3]);
      unsetenv("CLDIFF_WINO_PANEL");
      unsetenv("CLDIFF_WINO_TILE");
    }
    for (int a = 1; a < L; a++) {
      fprintf(stderr, "winograd F(%sx%s), tile layout CLDIFF_WINO_PANEL=%s, input %lldx%lldx%lldx%lld\n", tile[a], tile[a],
              layout[a], (long long)xs[0], (long long)xs[1], (long long)xs[2], (long long)xs[3]);
      expect_same(r[a][0], r[0][0], ny, "winograd output");
      expect_same(r[a][1], r[0][1], nx, "winograd input gradient");
      expect_same(r[a][2], r[0][2], nw, "winograd weight gradient");
      expect_same(r[a][3], r[0][3], ws[0], "winograd bias gradient");
    }
    for (int a = 0; a < L; a++) for (int k = 0; k < 4; k++) free(r[a][k]);
  }
}

/* Group norm's fused backward (dx and gamma's/beta's per-sample sums in one kernel, the default)
 * against the two kernels it replaces (CLDIFF_FUSE=0), on every entry of the three gradients:
 * short rows (7x7 pixels, chunks that end mid-vector), the UNet's 14x14, long rows, gamma or beta
 * alone, SiLU on and off, 32 channels a group (the most it takes) and 40 (left to the two kernels).
 * The fused graph must also launch one kernel fewer. */
static void gn_run(const int64_t xs[4], int groups, bool silu, bool has_g, bool has_b, float *gx, float *gg, float *gb,
                   int *launches) {
  cld_ctx *ctx = tu_ctx();
  cld_graph *g = cld_graph_create(ctx);
  int64_t cs[1] = {xs[1]}, nx = xs[0] * xs[1] * xs[2] * xs[3];
  cld_tensor *x = cld_input(g, "x", 4, xs), *gm = has_g ? cld_input(g, "gamma", 1, cs) : NULL,
             *bt = has_b ? cld_input(g, "beta", 1, cs) : NULL, *R = cld_input(g, "R", 4, xs);
  cld_set_requires_grad(x, true);
  if (gm) cld_set_requires_grad(gm, true);
  if (bt) cld_set_requires_grad(bt, true);
  cld_tensor *y = (silu ? cld_group_norm_silu : cld_group_norm)(g, x, groups, 1e-5f, gm, bt);
  assert_non_null(y);
  TU_OK(ctx, cld_graph_backward(g, cld_sum_all(g, cld_mul(g, y, R))));
  cld_plan_params pp = cld_plan_params_default();
  pp.guard_floats = 64;
  TU_OK(ctx, cld_graph_plan(g, &pp));
  float *hx = tu_alloc((size_t)nx), *hr = tu_alloc((size_t)nx), *hc = tu_alloc((size_t)xs[1]);
  tu_fill(hx, (size_t)nx, 11, -2, 3);
  tu_fill(hr, (size_t)nx, 12, -1, 1);
  TU_OK(ctx, cld_tensor_write(g, x, hx));
  TU_OK(ctx, cld_tensor_write(g, R, hr));
  tu_fill(hc, (size_t)xs[1], 13, 0.5f, 1.5f);
  if (gm) TU_OK(ctx, cld_tensor_write(g, gm, hc));
  tu_fill(hc, (size_t)xs[1], 14, -1, 1);
  if (bt) TU_OK(ctx, cld_tensor_write(g, bt, hc));
  TU_OK(ctx, cld_graph_compute(g));
  TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(x), gx));
  if (gm) TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(gm), gg));
  if (bt) TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(bt), gb));
  TU_OK(ctx, cld_graph_check_guards(g));
  *launches = g->n_launches;
  free(hx); free(hr); free(hc);
  cld_graph_destroy(g);
  cld_ctx_destroy(ctx);
}

static void test_group_norm_bwd_fused(void **state) {
  (void)state;
  static const struct { int64_t xs[4]; int groups; bool silu, g, b; } cs[] = {
      {{2, 8, 7, 7}, 4, true, true, true},    {{3, 6, 5, 7}, 3, false, true, false},
      {{2, 32, 14, 14}, 8, true, true, true}, {{1, 4, 40, 41}, 2, false, false, true},
      {{2, 12, 3, 3}, 1, true, true, true},   {{1, 64, 5, 5}, 2, true, true, true},
      /* 40 channels a group: more than the fused kernel's local sums take, so two kernels either way */
      {{2, 40, 3, 3}, 1, true, true, true}};
  for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    const int64_t *xs = cs[k].xs;
    int64_t nx = xs[0] * xs[1] * xs[2] * xs[3], C = xs[1];
    float *r[2][3];
    int launches[2];
    for (int f = 0; f < 2; f++) { /* 0: fused (the default), 1: CLDIFF_FUSE=0 */
      r[f][0] = tu_alloc((size_t)nx); r[f][1] = tu_alloc((size_t)C); r[f][2] = tu_alloc((size_t)C);
      if (f) setenv("CLDIFF_FUSE", "0", 1);
      gn_run(xs, cs[k].groups, cs[k].silu, cs[k].g, cs[k].b, r[f][0], r[f][1], r[f][2], &launches[f]);
      unsetenv("CLDIFF_FUSE");
    }
    fprintf(stderr, "group norm backward, input %lldx%lldx%lldx%lld, %d groups: %d launches fused, %d not\n",
            (long long)xs[0], (long long)xs[1], (long long)xs[2], (long long)xs[3], cs[k].groups, launches[0], launches[1]);
    assert_int_equal(launches[0], launches[1] - (xs[1] / cs[k].groups <= GN_FUSED_MAX_CPG));
    expect_same(r[0][0], r[1][0], nx, "group norm input gradient");
    if (cs[k].g) expect_same(r[0][1], r[1][1], C, "group norm gamma gradient");
    if (cs[k].b) expect_same(r[0][2], r[1][2], C, "group norm beta gradient");
    for (int f = 0; f < 2; f++) for (int i = 0; i < 3; i++) free(r[f][i]);
  }
}

/* F(4x4)'s output adjoint also sums dy over each row of tiles for the bias gradient (the default)
 * against the sum over dy itself (CLDIFF_FUSE=0), on every entry of the three gradients: a bias
 * per channel and per image (N, O), rows of 1-3 tiles (the scalar path), 4 tiles, and 5 and 7 (the
 * last group of four overlaps the one before it), heights that end mid-tile, both tile layouts. */
static void wino_bias_run(const int64_t xs[4], int64_t O, bool per_image, float *gx, float *gw, float *gb) {
  cld_ctx *ctx = tu_ctx();
  cld_graph *g = cld_graph_create(ctx);
  cld_graph_set_conv_algo(g, CLD_CONV_WINOGRAD);
  int64_t ws[4] = {O, xs[1], 3, 3}, bs[2] = {per_image ? xs[0] : O, O}, os[4] = {xs[0], O, xs[2], xs[3]};
  cld_tensor *x = cld_input(g, "x", 4, xs), *w = cld_input(g, "w", 4, ws);
  cld_tensor *b = per_image ? cld_input(g, "b", 2, bs) : cld_input(g, "b", 1, bs + 1), *R = cld_input(g, "R", 4, os);
  cld_set_requires_grad(x, true);
  cld_set_requires_grad(w, true);
  cld_set_requires_grad(b, true);
  cld_tensor *out = cld_conv2d(g, x, w, b, 1, 1);
  assert_non_null(out);
  TU_OK(ctx, cld_graph_backward(g, cld_sum_all(g, cld_mul(g, out, R))));
  cld_plan_params pp = cld_plan_params_default();
  pp.guard_floats = 64;
  TU_OK(ctx, cld_graph_plan(g, &pp));
  conv_feed(ctx, g, (cld_tensor *[4]){x, w, b, R}, 21);
  TU_OK(ctx, cld_graph_compute(g));
  TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(x), gx));
  TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(w), gw));
  TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(b), gb));
  TU_OK(ctx, cld_graph_check_guards(g));
  bool fused = false;
  for (int i = 0; i < g->n; i++) fused |= g->nodes[i]->op == OP_WINO_OUT_BSUM;
  assert_true(fused == (getenv("CLDIFF_FUSE") == NULL));
  cld_graph_destroy(g);
  cld_ctx_destroy(ctx);
}

static void test_wino_bias_fused(void **state) {
  (void)state;
  static const struct { int64_t xs[4], O; bool per_image; const char *panel; } cs[] = {
      {{2, 8, 9, 11}, 5, false, "32"}, {{2, 8, 14, 14}, 6, true, "all"}, {{3, 8, 7, 20}, 4, true, "0"},
      {{2, 8, 13, 28}, 3, false, "32"}, {{1, 8, 16, 16}, 4, true, "0"},  {{2, 8, 5, 3}, 2, false, "32"},
      {{9, 8, 7, 7}, 6, true, "32"}}; /* the last: the output adjoint walks channel-major (CMAJ) */
  for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    const int64_t *xs = cs[k].xs, O = cs[k].O;
    int64_t nx = xs[0] * xs[1] * xs[2] * xs[3], nw = O * xs[1] * 9, nb = cs[k].per_image ? xs[0] * O : O;
    float *r[2][3];
    setenv("CLDIFF_WINO_PANEL", cs[k].panel, 1);
    for (int f = 0; f < 2; f++) { /* 0: fused (the default), 1: CLDIFF_FUSE=0 */
      r[f][0] = tu_alloc((size_t)nx); r[f][1] = tu_alloc((size_t)nw); r[f][2] = tu_alloc((size_t)nb);
      if (f) setenv("CLDIFF_FUSE", "0", 1);
      wino_bias_run(xs, O, cs[k].per_image, r[f][0], r[f][1], r[f][2]);
      unsetenv("CLDIFF_FUSE");
    }
    unsetenv("CLDIFF_WINO_PANEL");
    fprintf(stderr, "winograd bias gradient, input %lldx%lldx%lldx%lld, %lld outputs, bias per %s\n", (long long)xs[0],
            (long long)xs[1], (long long)xs[2], (long long)xs[3], (long long)O, cs[k].per_image ? "image" : "channel");
    expect_same(r[0][2], r[1][2], nb, "winograd bias gradient");
    expect_same(r[0][0], r[1][0], nx, "winograd input gradient");
    expect_same(r[0][1], r[1][1], nw, "winograd weight gradient");
    for (int f = 0; f < 2; f++) for (int i = 0; i < 3; i++) free(r[f][i]);
  }
}

/* the attention cases above run the fused kernel where it applies: one OP_ATTENTION node in an
 * inference graph on a CPU device; two GEMMs and a softmax with CLDIFF_FUSE=0, a sequence under
 * 16 or a training graph */
static void test_attention_path(void **state) {
  (void)state;
  static const struct { int64_t L; const char *fuse; bool training, fused; } cs[] = {
      {20, NULL, false, true}, {20, "0", false, false}, {12, NULL, false, false}, {20, NULL, true, false}};
  for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    if (cs[k].fuse) setenv("CLDIFF_FUSE", cs[k].fuse, 1);
    cld_ctx *ctx = tu_ctx();
    cld_graph *g = cld_graph_create(ctx);
    cld_graph_set_training(g, cs[k].training);
    int64_t sh[3] = {2, 8, cs[k].L};
    cld_tensor *o = cld_attention(g, cld_input(g, "q", 3, sh), cld_input(g, "k", 3, sh), cld_input(g, "v", 3, sh));
    assert_non_null(o);
    assert_int_equal(o->op == OP_ATTENTION, cs[k].fused && ctx->info.is_cpu); /* GPUs take the GEMMs */
    cld_graph_destroy(g);
    cld_ctx_destroy(ctx);
    unsetenv("CLDIFF_FUSE");
  }
}

/* the Winograd tile layout a graph takes: plain on GPUs, one panel of all tiles on CPUs whose
 * host GEMM runs on oneDNN, panels of 32 on other CPUs; CLDIFF_WINO_PANEL overrides */
static void test_wino_layout_default(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_graph *g = cld_graph_create(ctx);
  bool onednn = cld_gemm_host_available(ctx) && cld_gemm_onednn_available();
  assert_int_equal(g->wino_panel, ctx->info.is_gpu ? 0 : onednn ? -1 : 32);
  cld_graph_destroy(g);
  static const char *const env[3] = {"0", "32", "all"};
  static const int want[3] = {0, 32, -1};
  for (int i = 0; i < 3; i++) {
    setenv("CLDIFF_WINO_PANEL", env[i], 1);
    g = cld_graph_create(ctx);
    assert_int_equal(g->wino_panel, want[i]);
    cld_graph_destroy(g);
    unsetenv("CLDIFF_WINO_PANEL");
  }
  cld_ctx_destroy(ctx);
}

int main(void) {
  enum { N = sizeof cases / sizeof cases[0] };
  struct CMUnitTest tests[N + 5];
  for (int i = 0; i < N; i++) {
    tests[i] = (struct CMUnitTest){cases[i].name, test_case, setup_case, NULL, (void *)&cases[i]};
  }
  tests[N] = (struct CMUnitTest)cmocka_unit_test(test_winograd_vs_im2col);
  tests[N + 1] = (struct CMUnitTest)cmocka_unit_test(test_group_norm_bwd_fused);
  tests[N + 2] = (struct CMUnitTest)cmocka_unit_test(test_wino_bias_fused);
  tests[N + 3] = (struct CMUnitTest)cmocka_unit_test(test_attention_path);
  tests[N + 4] = (struct CMUnitTest)cmocka_unit_test(test_wino_layout_default);
  return _cmocka_run_group_tests("ops", tests, N + 5, NULL, NULL);
}
