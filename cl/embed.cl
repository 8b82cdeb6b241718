/* Sinusoidal timestep embedding as diffusers' get_timestep_embedding. OpenCL C 1.2.
 *   k_timestep_emb (t, to, y, yo, N, dim, flip, shift, max_period)
 *     hd = dim/2; freq_j = exp(-ln(max_period) * j / (hd - shift)); arg = t * freq_j;
 *     y = [sin(arg), cos(arg)] ([cos, sin] when flip), zero-padded when dim is odd.
 * Grid (hd (at least 1), ceil(N / EMB_ROWS)): each work-item owns frequency j for up to EMB_ROWS
 * batch rows, so the exp is paid once per frequency. sin and cos come from one quadrant
 * reduction and two short polynomials (Cephes sinf/cosf, about 1 ulp for |arg| < 8192): PoCL's
 * sin/cos/sincos took about 60 ns an element here, most of a toy training step's embedding time.
 * -D parameters: EMB_ROWS, the rows per work-item (the host sizes the grid with the same value). */
#ifndef EMB_ROWS
#define EMB_ROWS 32
#endif

/* sin and cos of a: j = nearest integer to a / (pi/2), r = a - j pi/2 in three parts (exact
 * products for |j| < 2^15), then the polynomials on [-pi/4, pi/4] and the quadrant's signs */
static inline float2 sin_cos(float a) {
  float j = rint(a * 0.636619772367581343f);
  float r = fma(-j, 1.5703125f, a);
  r = fma(-j, 4.837512969970703125e-4f, r);
  r = fma(-j, 7.54978995489188216e-8f, r);
  float z = r * r;
  float s = fma(fma(fma(-1.9515295891e-4f, z, 8.3321608736e-3f), z, -1.6666654611e-1f), z * r, r);
  float c = fma(fma(fma(2.443315711809948e-5f, z, -1.388731625493765e-3f), z, 4.166664568298827e-2f), z * z,
                fma(-0.5f, z, 1.0f));
  int q = (int)j & 3;
  float sa = (q & 1) ? c : s, ca = (q & 1) ? s : c;
  return (float2)((q == 2 || q == 3) ? -sa : sa, (q == 1 || q == 2) ? -ca : ca);
}

__kernel void k_timestep_emb(__global const float *t, ulong to, __global float *y, ulong yo, int N, int dim,
                             int flip, float shift, float max_period) {
  int j = get_global_id(0), b0 = get_global_id(1) * EMB_ROWS, hd = dim / 2;
  if (b0 >= N) return;
  int b1 = min(b0 + EMB_ROWS, N);
  if (j >= hd) { /* hd = 0: only the odd dimension's zero column */
    if (dim % 2)
      for (int b = b0; b < b1; b++) y[yo + (ulong)b * dim + dim - 1] = 0.0f;
    return;
  }
  float freq = exp(-log(max_period) * (float)j / ((float)hd - shift));
  int js = flip ? j + hd : j, jc = flip ? j : j + hd; /* columns of sin and cos */
  for (int b = b0; b < b1; b++) {
    float2 sc = sin_cos(t[to + b] * freq);
    __global float *row = y + yo + (ulong)b * dim;
    row[js] = sc.x;
    row[jc] = sc.y;
    if (dim % 2 && j == 0) row[dim - 1] = 0.0f;
  }
}
