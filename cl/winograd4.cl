/* Winograd F(4x4, 3x3) convolution, stride 1, padding 1 (Lavin & Gray 2016, interpolation points
 * 0, 1, -1, 2, -2 and infinity). OpenCL C 1.2. The same scheme as winograd.cl's F(2x2, 3x3) with
 * 4x4 output tiles read from 6x6 input patches: T = N * TH * TW tiles (TH = ceil(H/4),
 * TW = ceil(W/4)), tile (ty, tx) reads the patch whose corner is (4ty-1, 4tx-1), zero outside the
 * image; 36 products M[k] = U[k] V[k] of (O x C) by (C x T) matrices; index k = 6 i + j for row i,
 * column j of the 6x6 tile. 2.25 transformed values per output pixel instead of 4, and 36 GEMM
 * products per 16 pixels instead of 16 per 4 (0.56x the multiply-adds).
 *   k_wino4_w       w (O,C,3,3)            -> U (36,O,C)   U = G w G^T
 *   k_wino4_in      x (N,C,H,W)            -> V (36,C,T)   V = B^T d B
 *   k_wino4_out     M (36,O,T), bias (O) or (N,O) (has_bias 1 or 2), residual r (N,O,H,W) when has_res
 *                   -> y (N,O,H,W)  y = A^T M A + bias (+ r)
 *   k_wino4_w_bwd   dU -> dw = G^T dU G
 *   k_wino4_in_bwd  dV -> dx, the sum of B dV B^T over the (up to 3x3) tiles covering a 4x4 block
 *   k_wino4_out_bwd dy -> dM = A dy A^T
 * Grids: (O*C) items for the weight kernels; (tiles, channels) for the tile kernels, one
 * work-item per tile, so neighbouring items touch neighbouring tiles (the input and output
 * transforms' grids also cover the panel layout's padding tiles, which they write as zeros).
 * -D parameters: PW and TPAD, the tile layout (wino_tiles.cl). */
/* the small fixed loops over a tile's rows and columns, unrolled so that the arrays stay in
 * registers (PoCL left the weight kernels' loops rolled: 4x slower) */
#define UNROLL _Pragma("unroll")
/* the tile layout (-DPW, -DTPAD) and the accessors shared with winograd.cl */
#define WK 36
//@include wino_tiles

/* The 1-D transforms, in place or 6 <-> 4, for one tile (float) or four tiles as lanes (float4). */
#define DEF_TRANSFORMS(T, sfx)                                                                     \
  /* B^T v: the input transform of six values */                                               \
  static inline void bt6##sfx(T *v) {                                                          \
    T a0 = v[0], a1 = v[1], a2 = v[2], a3 = v[3], a4 = v[4], a5 = v[5];                       \
    v[0] = 4.0f * a0 - 5.0f * a2 + a4;                                                         \
    v[1] = -4.0f * (a1 + a2) + a3 + a4;                                                        \
    v[2] = 4.0f * (a1 - a2) - a3 + a4;                                                         \
    v[3] = 2.0f * (a3 - a1) - a2 + a4;                                                         \
    v[4] = 2.0f * (a1 - a3) - a2 + a4;                                                         \
    v[5] = 4.0f * a1 - 5.0f * a3 + a5;                                                         \
  }                                                                                            \
  /* B v, its adjoint */                                                                       \
  static inline void b6##sfx(T *v) {                                                           \
    T a0 = v[0], a1 = v[1], a2 = v[2], a3 = v[3], a4 = v[4], a5 = v[5];                       \
    v[0] = 4.0f * a0;                                                                          \
    v[1] = 4.0f * (a2 - a1 + a5) + 2.0f * (a4 - a3);                                           \
    v[2] = -5.0f * a0 - 4.0f * (a1 + a2) - a3 - a4;                                            \
    v[3] = a1 - a2 + 2.0f * (a3 - a4) - 5.0f * a5;                                             \
    v[4] = a0 + a1 + a2 + a3 + a4;                                                             \
    v[5] = a5;                                                                                 \
  }                                                                                            \
  /* A^T m: six values to four */                                                              \
  static inline void at6##sfx(const T *m, T *y) {                                              \
    T s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];              \
    y[0] = m[0] + s12 + s34;                                                                   \
    y[1] = d12 + 2.0f * d34;                                                                   \
    y[2] = s12 + 4.0f * s34;                                                                   \
    y[3] = d12 + 8.0f * d34 + m[5];                                                            \
  }                                                                                            \
  /* A y, its adjoint: four values to six */                                                   \
  static inline void a6##sfx(const T *y, T *m) {                                               \
    T s02 = y[0] + y[2], s13 = y[1] + y[3];                                                    \
    m[0] = y[0];                                                                               \
    m[1] = s02 + s13;                                                                          \
    m[2] = s02 - s13;                                                                          \
    m[3] = y[0] + 2.0f * y[1] + 4.0f * y[2] + 8.0f * y[3];                                     \
    m[4] = y[0] - 2.0f * y[1] + 4.0f * y[2] - 8.0f * y[3];                                     \
    m[5] = y[3];                                                                               \
  }
DEF_TRANSFORMS(float, )
DEF_TRANSFORMS(float4, v)

/* G g: three values to six */
static inline void g6(float a, float b, float c, float *u) {
  u[0] = 0.25f * a;
  u[1] = (a + b + c) * (-1.0f / 6.0f);
  u[2] = (a - b + c) * (-1.0f / 6.0f);
  u[3] = a * (1.0f / 24.0f) + b * (1.0f / 12.0f) + c * (1.0f / 6.0f);
  u[4] = a * (1.0f / 24.0f) - b * (1.0f / 12.0f) + c * (1.0f / 6.0f);
  u[5] = c;
}
/* G^T u: six values to three */
static inline float3 gt6(const float *u) {
  float s12 = u[1] + u[2], d12 = u[2] - u[1], s34 = u[3] + u[4], d34 = u[3] - u[4];
  return (float3)(0.25f * u[0] - s12 * (1.0f / 6.0f) + s34 * (1.0f / 24.0f), d12 * (1.0f / 6.0f) + d34 * (1.0f / 12.0f),
                  (s34 - s12) * (1.0f / 6.0f) + u[5]);
}

__kernel void k_wino4_w(__global const float *w, ulong wo, __global float *u, ulong uo, int OC) {
  int i = get_global_id(0);
  if (i >= OC) return;
  __global const float *g = w + wo + (ulong)i * 9;
  float r[3][6], c[6], col[6];
  UNROLL for (int a = 0; a < 3; a++) g6(g[3 * a], g[3 * a + 1], g[3 * a + 2], r[a]); /* rows of g G^T */
  __global float *d = u + uo + i;
  UNROLL for (int j = 0; j < 6; j++) { /* column j of G (g G^T) */
    g6(r[0][j], r[1][j], r[2][j], col);
    UNROLL for (int a = 0; a < 6; a++) d[(ulong)(6 * a + j) * OC] = col[a];
  }
}

__kernel void k_wino4_w_bwd(__global const float *du, ulong duo, __global float *dw, ulong dwo, int OC) {
  int i = get_global_id(0);
  if (i >= OC) return;
  __global const float *s = du + duo + i;
  float q[6][3], row[6], col[6];
  UNROLL for (int a = 0; a < 6; a++) { /* dU G, row by row */
    UNROLL for (int j = 0; j < 6; j++) row[j] = s[(ulong)(6 * a + j) * OC];
    float3 r = gt6(row);
    q[a][0] = r.x; q[a][1] = r.y; q[a][2] = r.z;
  }
  __global float *d = dw + dwo + (ulong)i * 9;
  UNROLL for (int j = 0; j < 3; j++) { /* G^T (dU G), column by column */
    UNROLL for (int a = 0; a < 6; a++) col[a] = q[a][j];
    float3 r = gt6(col);
    d[j] = r.x; d[3 + j] = r.y; d[6 + j] = r.z;
  }
}

/* 16 floats of a row from column c (c may be negative); columns outside [0, W) read as 0 */
static inline float16 row16(__global const float *row, int c, int W) {
  if (c >= 0 && c + 16 <= W) return vload16(0, row + c);
  if (c == -1 && W >= 15) { /* the input transform's left edge, column -1 a zero: vector loads
                               (the per-element path below cost 8-13% of a 28-wide transform) */
    float8 a = vload8(0, row);
    float4 b = vload4(0, row + 8);
    float3 d = vload3(0, row + 12);
    return (float16)(0.0f, a, b, d);
  }
  float v[16];
  UNROLL for (int e = 0; e < 16; e++) v[e] = c + e >= 0 && c + e < W ? row[c + e] : 0.0f;
  return vload16(0, v);
}
/* 16 floats to a row from column c; those at columns >= W are dropped */
static inline void store16(float16 v, __global float *row, int c, int W) {
  if (c + 16 <= W) { vstore16(v, 0, row + c); return; }
  float e[16];
  vstore16(v, 0, e);
  for (int k = 0; c + k < W; k++) row[c + k] = e[k];
}
/* pixels 4l+q of four tiles' output row from q[0..3] (lanes l = tiles) */
static inline float16 interleave(const float4 *q) {
  return (float16)(q[0].x, q[1].x, q[2].x, q[3].x, q[0].y, q[1].y, q[2].y, q[3].y, q[0].z, q[1].z, q[2].z, q[3].z,
                   q[0].w, q[1].w, q[2].w, q[3].w);
}

/* The tile kernels below run on the grid (1, TH, N * C), dimension 2 the plane in plane_of's order
 * (wino_tiles.cl): each work-item walks one row of tiles of one plane four tiles at a time (float4 lanes = tiles; the last group overlaps the one before it
 * so no store is masked); rows narrower than four tiles go one tile at a time. */

/* one tile of the input transform: 6x6 patch at (h0, w0) of img -> 36 values at o (stride plane) */
static void in_tile(__global const float *img, int H, int W, int h0, int w0, __global float *o, ulong plane) {
  float d[6][6], col[6];
  UNROLL for (int i = 0; i < 6; i++) {
    int h = h0 + i;
    UNROLL for (int j = 0; j < 6; j++) d[i][j] = h >= 0 && h < H && w0 + j >= 0 && w0 + j < W ? img[h * W + w0 + j] : 0.0f;
    bt6(d[i]); /* d B, row by row */
  }
  UNROLL for (int j = 0; j < 6; j++) { /* B^T (d B), column by column */
    UNROLL for (int i = 0; i < 6; i++) col[i] = d[i][j];
    bt6(col);
    UNROLL for (int i = 0; i < 6; i++) o[(ulong)(6 * i + j) * plane] = col[i];
  }
}

__kernel void k_wino4_in(__global const float *x, ulong xo, __global float *v, ulong vo, int C, int H, int W, int TH,
                         int TW, int T) {
  int ty = get_global_id(1), nc = plane_of(get_global_id(2), C, T / (TH * TW));
  int n = nc / C, c = nc - n * C;
  __global const float *img = x + xo + (ulong)nc * H * W;
  ulong cpw = CPW(C), plane = PLANE(C, T);
  __global float *o = v + vo + CHAN(c);
  ulong t0 = ((ulong)n * TH + ty) * TW;
  if (ty == TH - 1 && (n + 1) * TH * TW == T) zero_tail(o, plane, cpw, T);
  int h0 = 4 * ty - 1;
  for (int tx = 0; TW < 4 && tx < TW; tx++) in_tile(img, H, W, h0, 4 * tx - 1, o + TO(t0 + tx), plane);
  __global const float *rp[6];
  float rv[6]; /* rows h0 .. h0+5: pointers clamped into the image, factor 0 outside it */
  UNROLL for (int i = 0; i < 6; i++) {
    int h = h0 + i;
    rv[i] = h >= 0 && h < H ? 1.0f : 0.0f;
    rp[i] = img + clamp(h, 0, H - 1) * W;
  }
  for (int tx = TW >= 4 ? 0 : -1; tx >= 0; tx = next_group(tx, TW)) { /* columns 4tx-1 .. 4tx+16 */
    float4 d[6][6], col[6];
    UNROLL for (int i = 0; i < 6; i++) {
      float16 a = row16(rp[i], 4 * tx - 1, W) * rv[i];
      float2 e = row2(rp[i], 4 * tx + 15, W) * rv[i];
      d[i][0] = a.s048c; d[i][1] = a.s159d; d[i][2] = a.s26ae; d[i][3] = a.s37bf;
      d[i][4] = (float4)(a.s48c, e.x); d[i][5] = (float4)(a.s59d, e.y);
      bt6v(d[i]);
    }
    UNROLL for (int j = 0; j < 6; j++) {
      UNROLL for (int i = 0; i < 6; i++) col[i] = d[i][j];
      bt6v(col);
      UNROLL for (int i = 0; i < 6; i++) st4(col[i], o + (ulong)(6 * i + j) * plane, t0 + tx, cpw);
    }
  }
}

__kernel void k_wino4_out(__global const float *m, ulong mo, __global const float *bias, ulong bo, __global const float *res,
                          ulong ro, __global float *y, ulong yo, int O, int H, int W, int TH, int TW, int T, int has_bias,
                          int has_res) {
  int ty = get_global_id(1), no = plane_of(get_global_id(2), O, T / (TH * TW));
  int n = no / O, o = no - n * O;
  ulong cpw = CPW(O), plane = PLANE(O, T), t0 = ((ulong)n * TH + ty) * TW;
  __global const float *p = m + mo + CHAN(o);
  float b = has_bias == 2 ? bias[bo + no] : has_bias ? bias[bo + o] : 0.0f; /* 2: per (image, channel) */
  __global float *out = y + yo + (ulong)no * H * W;
  __global const float *rs = res + ro + (ulong)no * H * W; /* the residual, when has_res */
  for (int tx = 0; TW < 4 && tx < TW; tx++) {
    float r[6][4], col[6], q[4];
    UNROLL for (int j = 0; j < 6; j++) { /* A^T M, column by column */
      UNROLL for (int i = 0; i < 6; i++) col[i] = p[(ulong)(6 * i + j) * plane + TO(t0 + tx)];
      at6(col, r[j]);
    }
    UNROLL for (int i = 0; i < 4 && 4 * ty + i < H; i++) { /* (A^T M) A, row by row */
      UNROLL for (int j = 0; j < 6; j++) col[j] = r[j][i];
      at6(col, q);
      UNROLL for (int k = 0; k < 4 && 4 * tx + k < W; k++) {
        int e = (4 * ty + i) * W + 4 * tx + k;
        out[e] = q[k] + b + (has_res ? rs[e] : 0.0f);
      }
    }
  }
  for (int tx = TW >= 4 ? 0 : -1; tx >= 0; tx = next_group(tx, TW)) {
    float4 r[6][4], col[6], q[4];
    UNROLL for (int j = 0; j < 6; j++) {
      UNROLL for (int i = 0; i < 6; i++) col[i] = ld4(p + (ulong)(6 * i + j) * plane, t0 + tx, cpw);
      at6v(col, r[j]);
    }
    UNROLL for (int i = 0; i < 4 && 4 * ty + i < H; i++) {
      UNROLL for (int j = 0; j < 6; j++) col[j] = r[j][i];
      at6v(col, q);
      float16 rr = has_res ? row16(rs + (4 * ty + i) * W, 4 * tx, W) : (float16)(0.0f);
      store16(interleave(q) + b + rr, out + (4 * ty + i) * W, 4 * tx, W);
    }
  }
}

/* bsum (when has_bsum): the item's four rows of dy summed, at (n, o, ty), for the bias gradient
 * (a group of four tiles that overlaps the one before it counts only the columns that one did not) */
__kernel void k_wino4_out_bwd(__global const float *dy, ulong dyo, __global float *dm, ulong dmo, int O, int H, int W,
                              int TH, int TW, int T, __global float *bsum, ulong bso, int has_bsum) {
  int ty = get_global_id(1), no = plane_of(get_global_id(2), O, T / (TH * TW));
  int n = no / O, o = no - n * O;
  ulong cpw = CPW(O), plane = PLANE(O, T), t0 = ((ulong)n * TH + ty) * TW;
  __global const float *src = dy + dyo + (ulong)no * H * W;
  __global float *d = dm + dmo + CHAN(o);
  float tot = 0.0f;
  float16 vtot = (float16)(0.0f);
  const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  if (ty == TH - 1 && (n + 1) * TH * TW == T) zero_tail(d, plane, cpw, T);
  for (int tx = 0; TW < 4 && tx < TW; tx++) {
    float s[4][6], col[6], y4[4];
    UNROLL for (int i = 0; i < 4; i++) { /* dy A^T, row by row (zero outside the image) */
      int h = 4 * ty + i;
      UNROLL for (int k = 0; k < 4; k++) y4[k] = h < H && 4 * tx + k < W ? src[h * W + 4 * tx + k] : 0.0f;
      tot += (y4[0] + y4[1]) + (y4[2] + y4[3]);
      a6(y4, s[i]);
    }
    UNROLL for (int j = 0; j < 6; j++) { /* A (dy A^T), column by column */
      UNROLL for (int i = 0; i < 4; i++) y4[i] = s[i][j];
      a6(y4, col);
      UNROLL for (int i = 0; i < 6; i++) d[(ulong)(6 * i + j) * plane + TO(t0 + tx)] = col[i];
    }
  }
  int summed = 0; /* columns of the rows already in vtot */
  for (int tx = TW >= 4 ? 0 : -1; tx >= 0; tx = next_group(tx, TW)) {
    float4 s[4][6], col[6], y4[4];
    int16 fresh = lane >= (int16)(summed - 4 * tx);
    UNROLL for (int i = 0; i < 4; i++) {
      int h = 4 * ty + i;
      float16 a = h < H ? row16(src + h * W, 4 * tx, W) : (float16)(0.0f);
      vtot += select((float16)(0.0f), a, fresh);
      y4[0] = a.s048c; y4[1] = a.s159d; y4[2] = a.s26ae; y4[3] = a.s37bf;
      a6v(y4, s[i]);
    }
    summed = 4 * tx + 16;
    UNROLL for (int j = 0; j < 6; j++) {
      UNROLL for (int i = 0; i < 4; i++) y4[i] = s[i][j];
      a6v(y4, col);
      UNROLL for (int i = 0; i < 6; i++) st4(col[i], d + (ulong)(6 * i + j) * plane, t0 + tx, cpw);
    }
  }
  if (has_bsum) {
    float8 h8 = vtot.lo + vtot.hi;
    float4 h4 = h8.lo + h8.hi;
    bsum[bso + (ulong)no * TH + ty] = tot + (h4.x + h4.y) + (h4.z + h4.w);
  }
}

/* Pixel (4ty+p, 4tx+q) is row 1+p, column 1+q of tile (ty, tx), row 5 of the tile above (p = 0),
 * row 0 of the one below (p = 3), and likewise for columns. D = B dV B^T, and B's first row is
 * (4 0 0 0 0 0), its last (0 0 0 0 0 1), so: row 5 of D is b6 of dV's row 5, row 0 is 4 b6 of
 * dV's row 0, column 5 is b6 of dV's column 5, column 0 is 4 b6 of dV's column 0, and the
 * corners are D[5][5] = dV[5][5], D[5][0] = 4 dV[5][0], D[0][5] = 4 dV[0][5], D[0][0] = 16 dV[0][0]. */
#define DV(tt, i, j) p[(ulong)(6 * (i) + (j)) * plane + TO(tt)]
/* one tile's 4x4 block of dx (rows narrower than four tiles) */
static void in_bwd_tile(__global const float *p, ulong plane, ulong cpw, ulong t, int ty, int tx, int TH, int TW,
                        __global float *out, int H, int W) {
  float y[4][4], r[6][6], v[6];
  UNROLL for (int j = 0; j < 6; j++) { /* B dV, column by column */
    UNROLL for (int i = 0; i < 6; i++) v[i] = DV(t, i, j);
    b6(v);
    UNROLL for (int i = 0; i < 6; i++) r[i][j] = v[i];
  }
  UNROLL for (int i = 0; i < 4; i++) { /* (B dV) B^T, rows 1-4 */
    b6(r[i + 1]);
    UNROLL for (int j = 0; j < 4; j++) y[i][j] = r[i + 1][j + 1];
  }
  bool up = ty > 0, down = ty + 1 < TH, left = tx > 0, right = tx + 1 < TW;
  if (up) {
    UNROLL for (int j = 0; j < 6; j++) v[j] = DV(t - TW, 5, j);
    b6(v);
    UNROLL for (int j = 0; j < 4; j++) y[0][j] += v[j + 1];
  }
  if (down) {
    UNROLL for (int j = 0; j < 6; j++) v[j] = DV(t + TW, 0, j);
    b6(v);
    UNROLL for (int j = 0; j < 4; j++) y[3][j] += 4.0f * v[j + 1];
  }
  if (left) {
    UNROLL for (int i = 0; i < 6; i++) v[i] = DV(t - 1, i, 5);
    b6(v);
    UNROLL for (int i = 0; i < 4; i++) y[i][0] += v[i + 1];
  }
  if (right) {
    UNROLL for (int i = 0; i < 6; i++) v[i] = DV(t + 1, i, 0);
    b6(v);
    UNROLL for (int i = 0; i < 4; i++) y[i][3] += 4.0f * v[i + 1];
  }
  if (up && left) y[0][0] += DV(t - TW - 1, 5, 5);
  if (up && right) y[0][3] += 4.0f * DV(t - TW + 1, 5, 0);
  if (down && left) y[3][0] += 4.0f * DV(t + TW - 1, 0, 5);
  if (down && right) y[3][3] += 16.0f * DV(t + TW + 1, 0, 0);
  UNROLL for (int i = 0; i < 4 && 4 * ty + i < H; i++)
    UNROLL for (int k = 0; k < 4 && 4 * tx + k < W; k++) out[(4 * ty + i) * W + 4 * tx + k] = y[i][k];
}
/* element (i, j) of the four tiles t+s .. t+s+3 of a row (tile tx+s .. of TW); lanes whose tile
 * lies outside the row read 0 */
static inline float4 lanes4(__global const float *p, ulong plane, ulong cpw, ulong t, int tx, int s, int TW, int i, int j) {
  __global const float *q = p + (ulong)(6 * i + j) * plane;
  if (tx + s >= 0 && tx + s + 4 <= TW) return ld4(q, (ulong)((long)t + s), cpw);
  float v[4];
  UNROLL for (int l = 0; l < 4; l++) v[l] = tx + s + l >= 0 && tx + s + l < TW ? q[TO((long)t + s + l)] : 0.0f;
  return (float4)(v[0], v[1], v[2], v[3]);
}

__kernel void k_wino4_in_bwd(__global const float *dv, ulong dvo, __global float *dx, ulong dxo, int C, int H, int W,
                             int TH, int TW, int T) {
  int ty = get_global_id(1), nc = plane_of(get_global_id(2), C, T / (TH * TW));
  int n = nc / C, c = nc - n * C;
  ulong cpw = CPW(C), plane = PLANE(C, T), t0 = ((ulong)n * TH + ty) * TW;
  __global const float *p = dv + dvo + CHAN(c);
  __global float *out = dx + dxo + (ulong)nc * H * W;
  for (int tx = 0; TW < 4 && tx < TW; tx++) in_bwd_tile(p, plane, cpw, t0 + tx, ty, tx, TH, TW, out, H, W);
  bool up = ty > 0, down = ty + 1 < TH;
  for (int tx = TW >= 4 ? 0 : -1; tx >= 0; tx = next_group(tx, TW)) {
    ulong t = t0 + tx;
    float4 y[4][4], r[6][6], v[6];
    UNROLL for (int j = 0; j < 6; j++) {
      UNROLL for (int i = 0; i < 6; i++) v[i] = ld4(p + (ulong)(6 * i + j) * plane, t, cpw);
      b6v(v);
      UNROLL for (int i = 0; i < 6; i++) r[i][j] = v[i];
    }
    UNROLL for (int i = 0; i < 4; i++) {
      b6v(r[i + 1]);
      UNROLL for (int j = 0; j < 4; j++) y[i][j] = r[i + 1][j + 1];
    }
    if (up) {
      UNROLL for (int j = 0; j < 6; j++) v[j] = ld4(p + (ulong)(30 + j) * plane, t - TW, cpw);
      b6v(v);
      UNROLL for (int j = 0; j < 4; j++) y[0][j] += v[j + 1];
      y[0][0] += lanes4(p, plane, cpw, t - TW, tx, -1, TW, 5, 5);
      y[0][3] += 4.0f * lanes4(p, plane, cpw, t - TW, tx, 1, TW, 5, 0);
    }
    if (down) {
      UNROLL for (int j = 0; j < 6; j++) v[j] = ld4(p + (ulong)j * plane, t + TW, cpw);
      b6v(v);
      UNROLL for (int j = 0; j < 4; j++) y[3][j] += 4.0f * v[j + 1];
      y[3][0] += 4.0f * lanes4(p, plane, cpw, t + TW, tx, -1, TW, 0, 5);
      y[3][3] += 16.0f * lanes4(p, plane, cpw, t + TW, tx, 1, TW, 0, 0);
    }
    UNROLL for (int i = 0; i < 6; i++) v[i] = lanes4(p, plane, cpw, t, tx, -1, TW, i, 5); /* column 5 of the left tiles */
    b6v(v);
    UNROLL for (int i = 0; i < 4; i++) y[i][0] += v[i + 1];
    UNROLL for (int i = 0; i < 6; i++) v[i] = lanes4(p, plane, cpw, t, tx, 1, TW, i, 0); /* column 0 of the right ones */
    b6v(v);
    UNROLL for (int i = 0; i < 4; i++) y[i][3] += 4.0f * v[i + 1];
    UNROLL for (int i = 0; i < 4 && 4 * ty + i < H; i++) store16(interleave(y[i]), out + (4 * ty + i) * W, 4 * tx, W);
  }
}
#undef DV
