/* Row-wise normalisation kernels, one work-item per row. OpenCL C 1.2.
 *   k_norm_rows (x, xo, y, yo, rows, len, eps)       y = (x - mean) / sqrt(var + eps), biased var
 *   k_norm_rows_bwd (x, xo, dy, dyo, dx, dxo, rows, len, eps)
 *       dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
 *   k_softmax_rows (x, xo, y, yo, rows, len)
 *   k_softmax_rows_bwd (y, yo, dy, dyo, dx, dxo, rows, len)   dx = y * (dy - sum(dy * y))
 *   k_norm_rows_wg, k_norm_rows_bwd_wg: the same with one work-group of RW (64) items per row,
 *       for long rows (the executor picks them by row length alone, so every device sums in
 *       the same order); a GPU runs the one-item-per-row form at a few GB/s on long rows.
 * group_norm uses rows = N*groups, len = (C/groups)*H*W; layer_norm rows over the last dim.
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
    for (int i = 0; i < n4; i++) { float4 e = exp(vload4(i, p) - m); vstore4(e, i, q); s4 += e; }
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

/* mean and 1/std of a row in one pass: sums of (x - x[0]) and its square, shifted by the row's
 * first value so that a large mean costs no precision */
static float2 rw_moments(__global const float *p, int len, float eps, __local float4 *sh) {
  int l = get_local_id(0);
  float sh0 = p[0];
  float4 a = (float4)(0.0f);
  for (int i = l; i < len; i += RW) { float d = p[i] - sh0; a += (float4)(d, d * d, 0.0f, 0.0f); }
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
