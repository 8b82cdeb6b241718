/* Data-movement kernels. OpenCL C 1.2. Tensors are (buffer, offset in floats).
 *   k_copy4 (src, so, dst, do, shape, sstr, dstr)      strided 4-D copy: permute, slice, concat,
 *                                                      pad, broadcast (stride 0); 3-D grid
 *                                                      (shape.w, shape.z, shape.x*shape.y)
 *   k_fill (dst, do, n, value)
 *   k_sum_to (src, so, dst, do, in_shape, out_shape, n_out)   sum over dims where out is 1
 *   k_sum_to_wg (same, outer n, stride, inner n, stride)   one work-group of SW (64) items per
 *                        output, tree-summed: long reductions (bias gradients over N*H*W),
 *                        chosen by the reduction length alone
 *   k_sum_rows (src, so, dst, do, R, K)   dst (K) = sum over the R rows of src (R, K): a sum_to
 *                        whose reduced dims lead (bias gradients of a Linear layer); each work-item
 *                        sums four adjacent columns down all rows in order, float4 loads
 *   k_upsample2x (x, xo, y, yo, W, n_rows)             nearest, (.., H, W) -> (.., 2H, 2W); one
 *                        work-item per row of x (n_rows of them), float4 in, two float8 rows out
 *   k_upsample2x_bwd (dy, dyo, dx, dxo, W, n_rows)     sums 2x2 blocks; W of dx, one
 *                        work-item per row of dx
 *   k_im2col (x, xo, col, co, N, C, H, W, KH, KW, stride, pad, OH, OW)   1-D grid rows*N (rounded up):
 *        one work-item writes one (row, image) plane of OH*OW floats
 *        col: (C*KH*KW, N*OH*OW), row r = (c*KH + kh)*KW + kw, column (n*OH + oh)*OW + ow
 *   k_col2im (col, co, x, xo, same ints)   2-D grid (H, N*C), gather form, no atomics
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

#define SW 64
/* The reduced dims of a 4-D sum_to form at most two runs of adjacent dims; the host passes them
 * as an outer (no, so_) and an inner (ni, si) run, the inner one the longer. */
__kernel __attribute__((reqd_work_group_size(SW, 1, 1)))
void k_sum_to_wg(__global const float *src, ulong so, __global float *dst, ulong dof, int4 is, int4 os,
                 int no, int so_, int ni, int si) {
  __local float sh[SW];
  int i = get_group_id(0), l = get_local_id(0);
  int r = i;
  int o3 = r % os.w; r /= os.w;
  int o2 = r % os.z; r /= os.z;
  int o1 = r % os.y; int o0 = r / os.y;
  int base = (((os.x == 1 ? 0 : o0) * is.y + (os.y == 1 ? 0 : o1)) * is.z + (os.z == 1 ? 0 : o2)) * is.w +
             (os.w == 1 ? 0 : o3);
  __global const float *p = src + so + base;
  float acc = 0.0f;
  for (int a = 0; a < no; a++)
    for (int k = l; k < ni; k += SW) acc += p[a * so_ + k * si];
  sh[l] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int w = SW / 2; w > 0; w >>= 1) {
    if (l < w) sh[l] += sh[l + w];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (l == 0) dst[dof + i] = sh[0];
}

__kernel void k_sum_rows(__global const float *src, ulong so, __global float *dst, ulong dof, int R, int K) {
  int k = 4 * get_global_id(0);
  if (k >= K) return;
  __global const float *p = src + so + k;
  if (k + 4 <= K) {
    float4 acc = (float4)(0.0f);
    for (int r = 0; r < R; r++) acc += vload4(0, p + (ulong)r * K);
    vstore4(acc, 0, dst + dof + k);
    return;
  }
  for (int c = 0; c < K - k; c++) { /* the last 1-3 columns */
    float acc = 0.0f;
    for (int r = 0; r < R; r++) acc += p[(ulong)r * K + c];
    dst[dof + k + c] = acc;
  }
}

__kernel void k_upsample2x(__global const float *x, ulong xo, __global float *y, ulong yo, int W, int n) {
  int r = get_global_id(0); /* row r = (plane, h) of x -> rows 2h and 2h+1 of the plane in y */
  if (r >= n) return;
  __global const float *s = x + xo + (ulong)r * W;
  __global float *d0 = y + yo + (ulong)r * 4 * W, *d1 = d0 + 2 * W;
  int c = 0;
  for (; c + 4 <= W; c += 4) {
    float8 e = vload4(0, s + c).xxyyzzww;
    vstore8(e, 0, d0 + 2 * c);
    vstore8(e, 0, d1 + 2 * c);
  }
  for (; c < W; c++) d0[2 * c] = d0[2 * c + 1] = d1[2 * c] = d1[2 * c + 1] = s[c];
}

__kernel void k_upsample2x_bwd(__global const float *dy, ulong dyo, __global float *dx, ulong dxo, int W, int n) {
  int r = get_global_id(0); /* row r = (plane, h) of dx <- rows 2h and 2h+1 of dy */
  if (r >= n) return;
  __global const float *p0 = dy + dyo + (ulong)r * 4 * W, *p1 = p0 + 2 * W;
  __global float *d = dx + dxo + (ulong)r * W;
  int c = 0;
  for (; c + 4 <= W; c += 4) {
    float8 a = vload8(0, p0 + 2 * c), b = vload8(0, p1 + 2 * c);
    vstore4((a.even + a.odd) + (b.even + b.odd), 0, d + c);
  }
  for (; c < W; c++) d[c] = (p0[2 * c] + p0[2 * c + 1]) + (p1[2 * c] + p1[2 * c + 1]);
}

/* One work-item per (row, image) plane: OH contiguous runs of OW floats, each a copy between its
 * zero-padded ends. Whole planes, not single output rows, keep PoCL's per-item overhead small at
 * 14x14 and 7x7 (1.5-2x faster than one item per row on the fmnist-s shapes). */
__kernel void k_im2col(__global const float *x, ulong xo, __global float *col, ulong co, int N, int C, int H,
                       int W, int KH, int KW, int stride, int pad, int OH, int OW) {
  int rb = get_global_id(0);
  if (rb >= C * KH * KW * N) return;
  int row = rb / N, b = rb - row * N;
  int kw = row % KW, kh = (row / KW) % KH, c = row / (KW * KH);
  __global float *dst = col + co + (ulong)row * ((ulong)N * OH * OW) + (ulong)b * OH * OW;
  __global const float *img = x + xo + (ulong)(b * C + c) * H * W;
  /* ow with 0 <= ow * stride - pad + kw < W */
  int lo = min(OW, (max(0, pad - kw) + stride - 1) / stride), hi = max(lo, min(OW, (W + pad - kw + stride - 1) / stride));
  for (int oh = 0; oh < OH; oh++, dst += OW) {
    int h = oh * stride - pad + kh;
    if (h < 0 || h >= H) {
      for (int ow = 0; ow < OW; ow++) dst[ow] = 0.0f;
      continue;
    }
    __global const float *src = img + h * W + kw - pad;
    for (int ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
    if (stride == 1)
      for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow];
    else
      for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow * stride];
    for (int ow = hi; ow < OW; ow++) dst[ow] = 0.0f;
  }
}

/* One work-item per input row (h, b*C + c): accumulate every (kh, kw) tap's shifted column row
 * into the output row (gather form, no atomics). */
__kernel void k_col2im(__global const float *col, ulong co, __global float *x, ulong xo, int N, int C, int H,
                       int W, int KH, int KW, int stride, int pad, int OH, int OW) {
  int h = get_global_id(0), bc = get_global_id(1);
  int b = bc / C, c = bc - b * C;
  ulong ncols = (ulong)N * OH * OW;
  __global float *dst = x + xo + ((ulong)bc * H + h) * W;
  for (int w = 0; w < W; w++) dst[w] = 0.0f;
  for (int kh = 0; kh < KH; kh++) {
    int th = h + pad - kh;
    if (th < 0 || th % stride) continue;
    int oh = th / stride;
    if (oh >= OH) continue;
    for (int kw = 0; kw < KW; kw++) {
      __global const float *crow = col + co + (ulong)((c * KH + kh) * KW + kw) * ncols + ((ulong)b * OH + oh) * OW;
      if (stride == 1) {
        int lo = max(0, kw - pad), hi = min(W, OW + kw - pad); /* w with 0 <= w + pad - kw < OW */
        __global const float *c2 = crow + pad - kw;
        for (int w = lo; w < hi; w++) dst[w] += c2[w];
      } else {
        for (int w = 0; w < W; w++) {
          int tw = w + pad - kw;
          if (tw >= 0 && tw % stride == 0 && tw / stride < OW) dst[w] += crow[tw / stride];
        }
      }
    }
  }
}
