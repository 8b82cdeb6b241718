/* Row-wise normalisation kernels, one work-item per row. OpenCL C 1.2.
 *   k_norm_rows (x, xo, y, yo, rows, len, eps)       y = (x - mean) / sqrt(var + eps), biased var
 *   k_norm_rows_bwd (x, xo, dy, dyo, dx, dxo, rows, len, eps)
 *       dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
 *   k_softmax_rows (x, xo, y, yo, rows, len)
 *   k_softmax_rows_bwd (y, yo, dy, dyo, dx, dxo, rows, len)   dx = y * (dy - sum(dy * y))
 * group_norm uses rows = N*groups, len = (C/groups)*H*W; layer_norm rows over the last dim.
 * No -D parameters. */

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
  float s = 0.0f;
  for (int i = 0; i < len; i++) s += p[i] * g[i];
  for (int i = 0; i < len; i++) q[i] = p[i] * (g[i] - s);
}
