/* Row-wise normalisation kernels, one work-item per row (or a work-group: *_wg). OpenCL C 1.2.
 *   k_norm_rows (x, xo, y, yo, rows, len, eps)       y = (x - mean) / sqrt(var + eps), biased var
 *   k_norm_rows_bwd (x, xo, dy, dyo, dx, dxo, rows, len, eps)
 *       dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
 *   k_softmax_rows (x, xo, y, yo, rows, len)
 *   k_softmax_rows_bwd (y, yo, dy, dyo, dx, dxo, rows, len)   dx = y * (dy - sum(dy * y))
 *   k_norm_rows_wg, k_norm_rows_bwd_wg: the same with one work-group of RW (64) items per row,
 *       for long rows (the executor picks them by row length alone, so every device sums in
 *       the same order); one item per long row starves a GPU.
 * layer_norm uses the row kernels over the last dim; group_norm has its own fused kernels below.
 * No -D parameters. */
#define RW 64

__kernel void k_norm_rows(__global const float *x, ulong xo, __global float *y, ulong yo, int rows, int len, float eps) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global const float *p = x + xo + (ulong)r * len;
  __global float *q = y + yo + (ulong)r * len;
  float s = 0.0f;
  for (int i = 0; i < len; i++) s += p[i];
  float mean = s / len, v = 0.0f;
  for (int i = 0; i < len; i++) { float d = p[i] - mean; v += d * d; }
  float rstd = rsqrt(v / len + eps);
  for (int i = 0; i < len; i++) q[i] = (p[i] - mean) * rstd;
}

__kernel void k_norm_rows_bwd(__global const float *x, ulong xo, __global const float *dy, ulong dyo,
                              __global float *dx, ulong dxo, int rows, int len, float eps) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global const float *p = x + xo + (ulong)r * len;
  __global const float *g = dy + dyo + (ulong)r * len;
  __global float *q = dx + dxo + (ulong)r * len;
  float s = 0.0f;
  for (int i = 0; i < len; i++) s += p[i];
  float mean = s / len, v = 0.0f;
  for (int i = 0; i < len; i++) { float d = p[i] - mean; v += d * d; }
  float rstd = rsqrt(v / len + eps);
  float sg = 0.0f, sgx = 0.0f;
  for (int i = 0; i < len; i++) { float xh = (p[i] - mean) * rstd; sg += g[i]; sgx += g[i] * xh; }
  sg /= len;
  sgx /= len;
  for (int i = 0; i < len; i++) { float xh = (p[i] - mean) * rstd; q[i] = rstd * (g[i] - sg - xh * sgx); }
}

__kernel void k_softmax_rows(__global const float *x, ulong xo, __global float *y, ulong yo, int rows, int len) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global const float *p = x + xo + (ulong)r * len;
  __global float *q = y + yo + (ulong)r * len;
  if ((len & 3) == 0) { /* rows of 4k (attention's 196, 784): float4 lanes, vector exp */
    int n4 = len >> 2;
    float4 m4 = vload4(0, p);
    for (int i = 1; i < n4; i++) m4 = fmax(m4, vload4(i, p));
    float m = fmax(fmax(m4.x, m4.y), fmax(m4.z, m4.w));
    float4 s4 = (float4)(0.0f);
    int i = 0;
    for (; i + 4 <= n4; i += 4) { /* exp on 16 lanes (the vector math library's widest call), summed */
      float16 e = exp(vload16(0, p + 4 * i) - m); /* in the float4 loop's order */
      vstore16(e, 0, q + 4 * i);
      s4 += e.lo.lo;
      s4 += e.lo.hi;
      s4 += e.hi.lo;
      s4 += e.hi.hi;
    }
    for (; i < n4; i++) { float4 e = exp(vload4(i, p) - m); vstore4(e, i, q); s4 += e; }
    float inv = 1.0f / ((s4.x + s4.y) + (s4.z + s4.w));
    for (int i = 0; i < n4; i++) vstore4(vload4(i, q) * inv, i, q);
    return;
  }
  float m = p[0];
  for (int i = 1; i < len; i++) m = fmax(m, p[i]);
  float s = 0.0f;
  for (int i = 0; i < len; i++) { float e = exp(p[i] - m); q[i] = e; s += e; }
  float inv = 1.0f / s;
  for (int i = 0; i < len; i++) q[i] *= inv;
}

__kernel void k_softmax_rows_bwd(__global const float *y, ulong yo, __global const float *dy, ulong dyo,
                                 __global float *dx, ulong dxo, int rows, int len) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global const float *p = y + yo + (ulong)r * len;
  __global const float *g = dy + dyo + (ulong)r * len;
  __global float *q = dx + dxo + (ulong)r * len;
  if ((len & 3) == 0) {
    int n4 = len >> 2;
    float4 s4 = (float4)(0.0f);
    for (int i = 0; i < n4; i++) s4 += vload4(i, p) * vload4(i, g);
    float s = (s4.x + s4.y) + (s4.z + s4.w);
    for (int i = 0; i < n4; i++) vstore4(vload4(i, p) * (vload4(i, g) - s), i, q);
    return;
  }
  float s = 0.0f;
  for (int i = 0; i < len; i++) s += p[i] * g[i];
  for (int i = 0; i < len; i++) q[i] = p[i] * (g[i] - s);
}

/* Sum of v over the work-group: item 0 adds the RW partials in order (two barriers, a fixed order);
 * every item gets the result. sh has RW + 1 slots. */
static float4 rw_sum4(float4 v, __local float4 *sh) {
  int l = get_local_id(0);
  sh[l] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  if (l == 0) {
    float4 t = sh[0];
    for (int k = 1; k < RW; k++) t += sh[k];
    sh[RW] = t;
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  return sh[RW];
}

/* item l's contiguous share [i, e) of a row of len: whole items walk contiguous memory, which
 * PoCL's compiler vectorises (a stride-RW walk ran at a quarter of the speed there); the split,
 * so the summation order, depends on len alone; trailing items may get nothing */
#define CHUNK(i, e, len) i = get_local_id(0) * CHUNK_LEN(len), e = min((len), i + CHUNK_LEN(len))
#define CHUNK_LEN(len) (((len) + 8 * RW - 1) / (8 * RW) * 8) /* whole float8s: no scalar tail where len % 8 == 0 */
static inline float hsum8(float8 v) {
  float4 h = v.lo + v.hi;
  return (h.x + h.y) + (h.z + h.w);
}

/* mean and 1/std of a row in one pass: sums of (x - x[0]) and its square, shifted by the row's
 * first value so that a large mean costs no precision */
static float2 rw_moments(__global const float *p, int len, float eps, __local float4 *sh) {
  float sh0 = p[0];
  float4 a = (float4)(0.0f);
  float8 v1 = (float8)(0.0f), v2 = (float8)(0.0f);
  int i, e;
  for (CHUNK(i, e, len); i + 8 <= e; i += 8) { float8 d = vload8(0, p + i) - sh0; v1 += d; v2 += d * d; }
  for (; i < e; i++) { float d = p[i] - sh0; a += (float4)(d, d * d, 0.0f, 0.0f); }
  a += (float4)(hsum8(v1), hsum8(v2), 0.0f, 0.0f);
  a = rw_sum4(a, sh) / (float)len;
  float var = fmax(a.y - a.x * a.x, 0.0f);
  return (float2)(sh0 + a.x, rsqrt(var + eps));
}

__kernel __attribute__((reqd_work_group_size(RW, 1, 1)))
void k_norm_rows_wg(__global const float *x, ulong xo, __global float *y, ulong yo, int rows, int len, float eps) {
  __local float4 sh[RW + 1];
  int r = get_group_id(0), l = get_local_id(0);
  __global const float *p = x + xo + (ulong)r * len;
  __global float *q = y + yo + (ulong)r * len;
  float2 m = rw_moments(p, len, eps, sh);
  for (int i = l; i < len; i += RW) q[i] = (p[i] - m.x) * m.y;
}

/* one pass for the four sums (d, d^2, g, g*d) with d = x - x[0]; then
 * sum(g * xhat) = rstd * (sum(g d) - mean(d) sum(g)) */
__kernel __attribute__((reqd_work_group_size(RW, 1, 1)))
void k_norm_rows_bwd_wg(__global const float *x, ulong xo, __global const float *dy, ulong dyo,
                        __global float *dx, ulong dxo, int rows, int len, float eps) {
  __local float4 sh[RW + 1];
  int r = get_group_id(0), l = get_local_id(0);
  __global const float *p = x + xo + (ulong)r * len;
  __global const float *g = dy + dyo + (ulong)r * len;
  __global float *q = dx + dxo + (ulong)r * len;
  float sh0 = p[0];
  float4 a = (float4)(0.0f);
  for (int i = l; i < len; i += RW) { float d = p[i] - sh0, gi = g[i]; a += (float4)(d, d * d, gi, gi * d); }
  a = rw_sum4(a, sh) / (float)len;
  float rstd = rsqrt(fmax(a.y - a.x * a.x, 0.0f) + eps), mean = sh0 + a.x;
  float sg = a.z, sgx = rstd * (a.w - a.x * a.z);
  for (int i = l; i < len; i += RW) { float xh = (p[i] - mean) * rstd; q[i] = rstd * (g[i] - sg - xh * sgx); }
}

/* Group normalisation fused with its per-channel affine and an optional SiLU, one work-group of
 * RW items per row r = (n, group): the row is cpg channels of S pixels (len = cpg * S floats,
 * contiguous), channel c = (r % G) * cpg + ch. flags: 1 gamma given, 2 beta given, 4 SiLU.
 *   k_group_norm      x -> y = act(z), z = (x - mean) * rstd * gamma[c] + beta[c]
 *   k_group_norm_bwd  (x, dy) -> dx: dz = dy * act'(z), g = dz * gamma[c],
 *       dx = rstd * (g - mean(g) - xhat * mean(g * xhat)); g is parked in dx between the passes
 *   k_group_norm_bwd_param (x, dy) -> part (2, N, C): part[0][n][c] = sum over the pixels of
 *       dz * xhat (gamma's gradient before the sum over n), part[1][n][c] = sum of dz (beta's)
 * Each item walks its CHUNK channel by channel (SEGMENTS), eight floats at a time, then a scalar
 * tail; the element code is written once for float and float8 (the macros below). */
#define SEGMENTS(i, e, len, S, ch, se)                                                                 \
  for (CHUNK(i, e, len), ch = i / (S), se = min(e, (ch + 1) * (S)); i < e; ch++, se = min(e, (ch + 1) * (S)))
#define SILU(z) ((z) / (1.0f + exp(-(z))))
/* dz from dy at z (SiLU's derivative s (1 + z (1 - s)), s = sigmoid z) */
#define DZ(dy, z, flags) ((flags) & 4 ? (dy) * (1.0f / (1.0f + exp(-(z)))) * (1.0f + (z) * (1.0f - 1.0f / (1.0f + exp(-(z))))) : (dy))
#define GAMMA(c) ((flags & 1) ? gm[gmo + (c)] : 1.0f)
#define BETA(c) ((flags & 2) ? bt[bto + (c)] : 0.0f)

__kernel __attribute__((reqd_work_group_size(RW, 1, 1)))
void k_group_norm(__global const float *x, ulong xo, __global const float *gm, ulong gmo, __global const float *bt,
                  ulong bto, __global float *y, ulong yo, int G, int cpg, int S, float eps, int flags) {
  __local float4 sh[RW + 1];
  int r = get_group_id(0), c0 = (r % G) * cpg, len = cpg * S, i, e, ch, se;
  __global const float *p = x + xo + (ulong)r * len;
  __global float *q = y + yo + (ulong)r * len;
  float2 m = rw_moments(p, len, eps, sh);
  SEGMENTS(i, e, len, S, ch, se) {
    float a = m.y * GAMMA(c0 + ch), b = BETA(c0 + ch);
    if (flags & 4) {
      for (; i + 8 <= se; i += 8) { float8 z = (vload8(0, p + i) - m.x) * a + b; vstore8(SILU(z), 0, q + i); }
      for (; i < se; i++) { float z = (p[i] - m.x) * a + b; q[i] = SILU(z); }
    } else {
      for (; i + 8 <= se; i += 8) vstore8((vload8(0, p + i) - m.x) * a + b, 0, q + i);
      for (; i < se; i++) q[i] = (p[i] - m.x) * a + b;
    }
  }
}

/* pass 1: g = dz * gamma into dx and the row sums of g, g * xhat */
#define GN_G(T, LD, ST, n)                                                                             \
  for (; i + (n) <= se; i += (n)) {                                                                    \
    T xh = (LD(p) - m.x) * m.y, gg = DZ(LD(d), xh * ga + be, flags) * ga;                              \
    ST(gg, q);                                                                                         \
    s1 += gg;                                                                                          \
    s2 += gg * xh;                                                                                     \
  }
#define LD8(ptr) vload8(0, (ptr) + i)
#define ST8(v, ptr) vstore8((v), 0, (ptr) + i)
#define LD1(ptr) (ptr)[i]
#define ST1(v, ptr) ((ptr)[i] = (v))

__kernel __attribute__((reqd_work_group_size(RW, 1, 1)))
void k_group_norm_bwd(__global const float *x, ulong xo, __global const float *dy, ulong dyo, __global const float *gm,
                      ulong gmo, __global const float *bt, ulong bto, __global float *dx, ulong dxo, int G, int cpg,
                      int S, float eps, int flags) {
  __local float4 sh[RW + 1];
  int r = get_group_id(0), c0 = (r % G) * cpg, len = cpg * S, i, e, ch, se;
  ulong base = (ulong)r * len;
  __global const float *p = x + xo + base, *d = dy + dyo + base;
  __global float *q = dx + dxo + base;
  float2 m = rw_moments(p, len, eps, sh);
  float8 v1 = (float8)(0.0f), v2 = (float8)(0.0f);
  float t1 = 0.0f, t2 = 0.0f;
  SEGMENTS(i, e, len, S, ch, se) {
    float ga = GAMMA(c0 + ch), be = BETA(c0 + ch);
    {
      float8 s1 = v1, s2 = v2;
      GN_G(float8, LD8, ST8, 8)
      v1 = s1; v2 = s2;
    }
    float s1 = t1, s2 = t2;
    GN_G(float, LD1, ST1, 1)
    t1 = s1; t2 = s2;
  }
  float4 a = rw_sum4((float4)(t1 + hsum8(v1), t2 + hsum8(v2), 0.0f, 0.0f), sh) / (float)len;
  for (CHUNK(i, e, len); i + 8 <= e; i += 8) {
    float8 xh = (vload8(0, p + i) - m.x) * m.y;
    vstore8(m.y * (vload8(0, q + i) - a.x - xh * a.y), 0, q + i);
  }
  for (; i < e; i++) q[i] = m.y * (q[i] - a.x - (p[i] - m.x) * m.y * a.y);
}

__kernel __attribute__((reqd_work_group_size(RW, 1, 1)))
void k_group_norm_bwd_param(__global const float *x, ulong xo, __global const float *dy, ulong dyo,
                            __global const float *gm, ulong gmo, __global const float *bt, ulong bto,
                            __global float *part, ulong po, int G, int cpg, int S, float eps, int flags, int N) {
  __local float4 sh[RW + 1];
  int r = get_group_id(0), c0 = (r % G) * cpg, n = r / G, C = G * cpg, len = cpg * S, l = get_local_id(0);
  ulong base = (ulong)r * len;
  __global const float *p = x + xo + base, *d = dy + dyo + base;
  float2 m = rw_moments(p, len, eps, sh);
  /* one channel at a time over the whole work-group: each item its CHUNK of the channel's S */
  for (int c = 0; c < cpg; c++) {
    float ga = GAMMA(c0 + c), be = BETA(c0 + c);
    __global const float *pc = p + (ulong)c * S, *dc = d + (ulong)c * S;
    float8 v1 = (float8)(0.0f), v2 = (float8)(0.0f);
    float t1 = 0.0f, t2 = 0.0f;
    int i, e;
    for (CHUNK(i, e, S); i + 8 <= e; i += 8) {
      float8 xh = (vload8(0, pc + i) - m.x) * m.y, dz = DZ(vload8(0, dc + i), xh * ga + be, flags);
      v1 += dz * xh;
      v2 += dz;
    }
    for (; i < e; i++) {
      float xh = (pc[i] - m.x) * m.y, dz = DZ(dc[i], xh * ga + be, flags);
      t1 += dz * xh;
      t2 += dz;
    }
    float4 a = rw_sum4((float4)(t1 + hsum8(v1), t2 + hsum8(v2), 0.0f, 0.0f), sh);
    if (l == 0) {
      part[po + (ulong)n * C + c0 + c] = a.x;
      part[po + ((ulong)N + n) * C + c0 + c] = a.y;
    }
  }
}

/* k_group_norm_bwd with k_group_norm_bwd_param's sums from the same pass: (x, dy) -> dx and part
 * (2, N, C) as the two kernels above give them, reading x and dy once less and taking the row's
 * moments once. The items walk their CHUNKs of the row as k_group_norm_bwd does and park each
 * channel's partial sums (dz * xhat, dz) in lp (cpg * RW float2s, local, zero where an item's chunk
 * misses the channel); item c then adds channel c's RW partials in order. Since g = dz * gamma[c],
 * the row sums that dx needs are sum_c gamma[c] * (those sums), so one set of reductions serves
 * both. Each item reads back only the g it wrote itself. */
__kernel __attribute__((reqd_work_group_size(RW, 1, 1)))
void k_group_norm_bwd_fused(__global const float *x, ulong xo, __global const float *dy, ulong dyo,
                            __global const float *gm, ulong gmo, __global const float *bt, ulong bto,
                            __global float *dx, ulong dxo, __global float *part, ulong po, int G, int cpg, int S,
                            float eps, int flags, int N, __local float2 *lp) {
  __local float4 sh[RW + 1];
  int r = get_group_id(0), c0 = (r % G) * cpg, n = r / G, C = G * cpg, len = cpg * S, l = get_local_id(0), i, e, ch, se;
  ulong base = (ulong)r * len;
  __global const float *p = x + xo + base, *d = dy + dyo + base;
  __global float *q = dx + dxo + base;
  float2 m = rw_moments(p, len, eps, sh);
  for (int c = 0; c < cpg; c++) lp[c * RW + l] = (float2)(0.0f);
  SEGMENTS(i, e, len, S, ch, se) {
    float ga = GAMMA(c0 + ch), be = BETA(c0 + ch);
    float8 v1 = (float8)(0.0f), v2 = (float8)(0.0f);
    float t1 = 0.0f, t2 = 0.0f;
    for (; i + 8 <= se; i += 8) {
      float8 xh = (vload8(0, p + i) - m.x) * m.y, dz = DZ(vload8(0, d + i), xh * ga + be, flags);
      vstore8(dz * ga, 0, q + i);
      v1 += dz * xh;
      v2 += dz;
    }
    for (; i < se; i++) {
      float xh = (p[i] - m.x) * m.y, dz = DZ(d[i], xh * ga + be, flags);
      q[i] = dz * ga;
      t1 += dz * xh;
      t2 += dz;
    }
    lp[ch * RW + l] += (float2)(t1 + hsum8(v1), t2 + hsum8(v2));
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int c = l; c < cpg; c += RW) {
    float2 a = lp[c * RW];
    for (int k = 1; k < RW; k++) a += lp[c * RW + k];
    part[po + (ulong)n * C + c0 + c] = a.x;
    part[po + ((ulong)N + n) * C + c0 + c] = a.y;
    lp[c * RW] = a;
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  float sg = 0.0f, sgx = 0.0f; /* sum g, sum g * xhat over the row */
  for (int c = 0; c < cpg; c++) {
    float ga = GAMMA(c0 + c);
    sg += ga * lp[c * RW].y;
    sgx += ga * lp[c * RW].x;
  }
  float mg = sg / (float)len, mgx = sgx / (float)len;
  for (CHUNK(i, e, len); i + 8 <= e; i += 8) {
    float8 xh = (vload8(0, p + i) - m.x) * m.y;
    vstore8(m.y * (vload8(0, q + i) - mg - xh * mgx), 0, q + i);
  }
  for (; i < e; i++) q[i] = m.y * (q[i] - mg - (p[i] - m.x) * m.y * mgx);
}
