/* Data-movement kernels. OpenCL C 1.2. Tensors are (buffer, offset in floats).
 *   k_copy4 (src, so, dst, do, shape, sstr, dstr)      strided 4-D copy: permute, slice, concat,
 *                                                      pad, broadcast (stride 0); 3-D grid
 *                                                      (shape.w, shape.z, shape.x*shape.y)
 *   k_fill (dst, do, n, value)
 *   k_sum_to (src, so, dst, do, in_shape, out_shape, n_out)   sum over dims where out is 1
 *   k_upsample2x (x, xo, y, yo, H, W, n_out)           nearest, (.., H, W) -> (.., 2H, 2W)
 *   k_upsample2x_bwd (dy, dyo, dx, dxo, H, W, n_out)   sums 2x2 blocks; H, W of dx
 *   k_im2col (x, xo, col, co, N, C, H, W, KH, KW, stride, pad, OH, OW, n)
 *        col: (C*KH*KW, N*OH*OW), row r = (c*KH + kh)*KW + kw, column (n*OH + oh)*OW + ow
 *   k_col2im (col, co, x, xo, same ints)                gather form, no atomics
 * -D parameters: SS3 = k_copy4's source innermost stride when known at build time (1 or 0),
 *   -1 (default) reads ss.w. The destination's innermost stride is always 1. */
#ifndef SS3
#define SS3 -1
#endif
#if SS3 >= 0
#define S_IN(i3) ((i3) * SS3)
#else
#define S_IN(i3) ((i3) * ss.w)
#endif

__kernel void k_copy4(__global const float *src, ulong so, __global float *dst, ulong dof,
                      int4 shape, int4 ss, int4 ds) {
  int i3 = get_global_id(0), i2 = get_global_id(1), i01 = get_global_id(2);
  int i1 = i01 % shape.y, i0 = i01 / shape.y;
  dst[dof + i0 * ds.x + i1 * ds.y + i2 * ds.z + i3] = src[so + i0 * ss.x + i1 * ss.y + i2 * ss.z + S_IN(i3)];
}

__kernel void k_fill(__global float *dst, ulong dof, int n, float value) {
  int i = get_global_id(0);
  if (i < n) dst[dof + i] = value;
}

__kernel void k_sum_to(__global const float *src, ulong so, __global float *dst, ulong dof,
                       int4 is, int4 os, int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  int r = i;
  int o3 = r % os.w; r /= os.w;
  int o2 = r % os.z; r /= os.z;
  int o1 = r % os.y; int o0 = r / os.y;
  int e0 = os.x == is.x ? 1 : is.x, e1 = os.y == is.y ? 1 : is.y;
  int e2 = os.z == is.z ? 1 : is.z, e3 = os.w == is.w ? 1 : is.w;
  float acc = 0.0f;
  for (int a = 0; a < e0; a++)
    for (int b = 0; b < e1; b++)
      for (int c = 0; c < e2; c++) {
        int base = (((e0 == 1 ? o0 : a) * is.y + (e1 == 1 ? o1 : b)) * is.z + (e2 == 1 ? o2 : c)) * is.w;
        if (e3 == 1) acc += src[so + base + o3];
        else for (int d = 0; d < e3; d++) acc += src[so + base + d];
      }
  dst[dof + i] = acc;
}

__kernel void k_upsample2x(__global const float *x, ulong xo, __global float *y, ulong yo, int H, int W, int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  int W2 = 2 * W, H2 = 2 * H;
  int ow = i % W2, oh = (i / W2) % H2, nc = i / (W2 * H2);
  y[yo + i] = x[xo + (nc * H + oh / 2) * W + ow / 2];
}

__kernel void k_upsample2x_bwd(__global const float *dy, ulong dyo, __global float *dx, ulong dxo, int H, int W, int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  int w = i % W, h = (i / W) % H, nc = i / (W * H);
  __global const float *p = dy + dyo + (nc * 2 * H + 2 * h) * 2 * W + 2 * w;
  dx[dxo + i] = (p[0] + p[1]) + (p[2 * W] + p[2 * W + 1]);
}

__kernel void k_im2col(__global const float *x, ulong xo, __global float *col, ulong co, int N, int C, int H,
                       int W, int KH, int KW, int stride, int pad, int OH, int OW, int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  int ncols = N * OH * OW;
  int j = i % ncols, row = i / ncols;
  int ow = j % OW, oh = (j / OW) % OH, b = j / (OW * OH);
  int kw = row % KW, kh = (row / KW) % KH, c = row / (KW * KH);
  int h = oh * stride - pad + kh, w = ow * stride - pad + kw;
  float v = 0.0f;
  if (h >= 0 && h < H && w >= 0 && w < W) v = x[xo + ((b * C + c) * H + h) * W + w];
  col[co + i] = v;
}

__kernel void k_col2im(__global const float *col, ulong co, __global float *x, ulong xo, int N, int C, int H,
                       int W, int KH, int KW, int stride, int pad, int OH, int OW, int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  int w = i % W, h = (i / W) % H, c = (i / (W * H)) % C, b = i / (W * H * C);
  int ncols = N * OH * OW;
  float acc = 0.0f;
  for (int kh = 0; kh < KH; kh++) {
    int th = h + pad - kh;
    if (th < 0 || th % stride) continue;
    int oh = th / stride;
    if (oh >= OH) continue;
    for (int kw = 0; kw < KW; kw++) {
      int tw = w + pad - kw;
      if (tw < 0 || tw % stride) continue;
      int ow = tw / stride;
      if (ow >= OW) continue;
      acc += col[co + ((c * KH + kh) * KW + kw) * ncols + (b * OH + oh) * OW + ow];
    }
  }
  x[xo + i] = acc;
}
