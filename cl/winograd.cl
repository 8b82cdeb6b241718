/* Winograd F(2x2, 3x3) convolution, stride 1, padding 1 (Lavin & Gray 2016). OpenCL C 1.2.
 * The output is cut into T = N * TH * TW tiles of 2x2 pixels (TH = ceil(H/2), TW = ceil(W/2));
 * tile (ty, tx) reads the 4x4 input patch whose corner is (2ty-1, 2tx-1), zero outside the image.
 * The convolution is then 16 independent products M[k] = U[k] V[k] of (O x C) by (C x T)
 * matrices (one batched GEMM), between these transforms:
 *   k_wino_w       w (O,C,3,3)            -> U (16,O,C)   U = G w G^T
 *   k_wino_in      x (N,C,H,W)            -> V (16,C,T)   V = B^T d B
 *   k_wino_out     M (16,O,T), bias (O) or (N,O) (has_bias 1 or 2), residual r (N,O,H,W) when has_res
 *                  -> y (N,O,H,W)  y = A^T M A + bias (+ r)
 * and their adjoints (the backward pass; the GEMM's own gradient is two more batched GEMMs):
 *   k_wino_w_bwd   dU -> dw = G^T dU G
 *   k_wino_in_bwd  dV -> dx, the sum of B dV B^T over the (up to 3x3) tiles covering a 2x2 block
 *   k_wino_out_bwd dy -> dM = A dy A^T
 * Index k of the 16 is 4 i + j for row i, column j of the 4x4 tile. Grids: (1, TH, N*C or N*O)
 * for the tile kernels, each work-item a row of tiles that it walks four tiles at a time with
 * float4 lanes = tiles (contiguous vector loads and stores; the last group overlaps the one before
 * it, recomputing up to three tiles, so no store is masked), with checked loads and stores only
 * where a group touches the image's edge; rows narrower than four tiles take a scalar path (one
 * scalar item per tile was far slower on PoCL). (O*C) items for the weight kernels. */

/* B^T v and B v (B^T rows: 1 0 -1 0 / 0 1 1 0 / 0 -1 1 0 / 0 1 0 -1) */
static inline float4 bt4(float4 v) { return (float4)(v.x - v.z, v.y + v.z, v.z - v.y, v.y - v.w); }
static inline float4 b4(float4 v) { return (float4)(v.x, v.y - v.z + v.w, v.y + v.z - v.x, -v.w); }
/* G g (G rows: 1 0 0 / .5 .5 .5 / .5 -.5 .5 / 0 0 1) and G^T v */
static inline float4 g4(float a, float b, float c) { return (float4)(a, 0.5f * (a + b + c), 0.5f * (a - b + c), c); }
static inline float3 gt3(float4 v) { return (float3)(v.x + 0.5f * (v.y + v.z), 0.5f * (v.y - v.z), 0.5f * (v.y + v.z) + v.w); }

__kernel void k_wino_w(__global const float *w, ulong wo, __global float *u, ulong uo, int OC) {
  int i = get_global_id(0);
  if (i >= OC) return;
  __global const float *g = w + wo + (ulong)i * 9;
  float4 r0 = g4(g[0], g[1], g[2]), r1 = g4(g[3], g[4], g[5]), r2 = g4(g[6], g[7], g[8]);
  /* U = (G g) G^T: column j of (G g) is (r0[j], r1[j], r2[j]); G applied to it gives U's column j */
  float4 c0 = g4(r0.x, r1.x, r2.x), c1 = g4(r0.y, r1.y, r2.y), c2 = g4(r0.z, r1.z, r2.z), c3 = g4(r0.w, r1.w, r2.w);
  __global float *d = u + uo + i;
  ulong s = (ulong)OC;
  d[0 * s] = c0.x; d[1 * s] = c1.x; d[2 * s] = c2.x; d[3 * s] = c3.x;
  d[4 * s] = c0.y; d[5 * s] = c1.y; d[6 * s] = c2.y; d[7 * s] = c3.y;
  d[8 * s] = c0.z; d[9 * s] = c1.z; d[10 * s] = c2.z; d[11 * s] = c3.z;
  d[12 * s] = c0.w; d[13 * s] = c1.w; d[14 * s] = c2.w; d[15 * s] = c3.w;
}

__kernel void k_wino_w_bwd(__global const float *du, ulong duo, __global float *dw, ulong dwo, int OC) {
  int i = get_global_id(0);
  if (i >= OC) return;
  __global const float *s = du + duo + i;
  ulong n = (ulong)OC;
  float4 r0 = (float4)(s[0 * n], s[1 * n], s[2 * n], s[3 * n]), r1 = (float4)(s[4 * n], s[5 * n], s[6 * n], s[7 * n]);
  float4 r2 = (float4)(s[8 * n], s[9 * n], s[10 * n], s[11 * n]), r3 = (float4)(s[12 * n], s[13 * n], s[14 * n], s[15 * n]);
  /* dw = G^T dU G: rows first (each row of dU times G), then the columns of that 4x3 */
  float3 q0 = gt3(r0), q1 = gt3(r1), q2 = gt3(r2), q3 = gt3(r3);
  float3 c0 = gt3((float4)(q0.x, q1.x, q2.x, q3.x)), c1 = gt3((float4)(q0.y, q1.y, q2.y, q3.y));
  float3 c2 = gt3((float4)(q0.z, q1.z, q2.z, q3.z));
  __global float *d = dw + dwo + (ulong)i * 9;
  d[0] = c0.x; d[1] = c1.x; d[2] = c2.x;
  d[3] = c0.y; d[4] = c1.y; d[5] = c2.y;
  d[6] = c0.z; d[7] = c1.z; d[8] = c2.z;
}

/* the tile layout (-DPW, -DTPAD) and the accessors shared with winograd4.cl */
#define WK 16
//@include wino_tiles
/* element (i, j) of tile t's 4x4 block; four consecutive tiles from t as lanes */
#define AT(p, t, i, j) (p)[(ulong)(4 * (i) + (j)) * plane + TO(t)]
#define AT4(p, t, i, j) ld4((p) + (ulong)(4 * (i) + (j)) * plane, (t), cpw)
/* interleave even and odd output columns: (e.x, o.x, e.y, o.y, ...) */
#define ZIP(e, o) shuffle2((e), (o), (uint8)(0, 4, 1, 5, 2, 6, 3, 7))
static inline float4 row4(__global const float *p, ulong plane, ulong cpw, ulong t, int i) {
  return (float4)(AT(p, t, i, 0), AT(p, t, i, 1), AT(p, t, i, 2), AT(p, t, i, 3));
}
static inline float4 col4(__global const float *p, ulong plane, ulong cpw, ulong t, int j) {
  return (float4)(AT(p, t, 0, j), AT(p, t, 1, j), AT(p, t, 2, j), AT(p, t, 3, j));
}

/* element (i, j) of the four tiles t+s .. t+s+3 of a row (tile tx+s .. of TW); lanes whose tile
 * lies outside the row read 0 */
static inline float4 lanes4(__global const float *p, ulong plane, ulong cpw, ulong t, int tx, int s, int TW, int i, int j) {
  if (tx + s >= 0 && tx + s + 4 <= TW) return AT4(p, (ulong)((long)t + s), i, j);
  float v[4];
  for (int l = 0; l < 4; l++) v[l] = tx + s + l >= 0 && tx + s + l < TW ? AT(p, (ulong)((long)t + s + l), i, j) : 0.0f;
  return (float4)(v[0], v[1], v[2], v[3]);
}
/* n floats of a row from column c (c may be negative); columns outside [0, W) read as 0 */
static inline float8 row8(__global const float *row, int c, int W) {
  if (c >= 0 && c + 8 <= W) return vload8(0, row + c);
  float v[8];
  for (int e = 0; e < 8; e++) v[e] = c + e >= 0 && c + e < W ? row[c + e] : 0.0f;
  return vload8(0, v);
}
/* 8 floats to a row from column c; those at columns >= W are dropped */
static inline void store8(float8 v, __global float *row, int c, int W) {
  if (c + 8 <= W) { vstore8(v, 0, row + c); return; }
  float e[8];
  vstore8(v, 0, e);
  for (int k = 0; c + k < W; k++) row[c + k] = e[k];
}

/* rows 2ty-1 .. 2ty+2 of a plane: pointers clamped into the image, factor 0 outside it */
static inline void patch_rows(__global const float *img, int ty, int H, int W, __global const float *rp[4], float rv[4]) {
  for (int i = 0; i < 4; i++) {
    int h = 2 * ty - 1 + i;
    rv[i] = h >= 0 && h < H ? 1.0f : 0.0f;
    rp[i] = img + clamp(h, 0, H - 1) * W;
  }
}

__kernel void k_wino_in(__global const float *x, ulong xo, __global float *v, ulong vo, int C, int H, int W, int TH,
                        int TW, int T) {
  int ty = get_global_id(1), nc = plane_of(get_global_id(2), C, T / (TH * TW));
  int n = nc / C, c = nc - n * C;
  __global const float *rp[4];
  float rv[4];
  patch_rows(x + xo + (ulong)nc * H * W, ty, H, W, rp, rv);
  ulong cpw = CPW(C), plane = PLANE(C, T);
  __global float *o = v + vo + CHAN(c);
  ulong t0 = ((ulong)n * TH + ty) * TW;
  if (ty == TH - 1 && (n + 1) * TH * TW == T) zero_tail(o, plane, cpw, T);
  for (int tx = TW >= 4 ? 0 : -1; tx >= 0; tx = next_group(tx, TW)) { /* columns 2tx-1 .. 2tx+8 */
    float4 d[4][4];
    for (int i = 0; i < 4; i++) {
      float8 a = row8(rp[i], 2 * tx - 1, W);
      float2 b = row2(rp[i], 2 * tx + 7, W);
      float4 c0 = a.even, c1 = a.odd, c2 = (float4)(a.s246, b.x), c3 = (float4)(a.s357, b.y);
      d[i][0] = (c0 - c2) * rv[i]; d[i][1] = (c1 + c2) * rv[i]; d[i][2] = (c2 - c1) * rv[i]; d[i][3] = (c1 - c3) * rv[i];
    }
    for (int j = 0; j < 4; j++) {
      st4(d[0][j] - d[2][j], o + (ulong)j * plane, t0 + tx, cpw);
      st4(d[1][j] + d[2][j], o + (ulong)(4 + j) * plane, t0 + tx, cpw);
      st4(d[2][j] - d[1][j], o + (ulong)(8 + j) * plane, t0 + tx, cpw);
      st4(d[1][j] - d[3][j], o + (ulong)(12 + j) * plane, t0 + tx, cpw);
    }
  }
  for (int tx = 0; TW < 4 && tx < TW; tx++) { /* narrow rows: one tile at a time */
    int w0 = 2 * tx - 1;
    float4 d[4];
    for (int i = 0; i < 4; i++) {
      float4 r = (float4)(w0 >= 0 ? rp[i][w0] : 0.0f, rp[i][w0 + 1], w0 + 2 < W ? rp[i][w0 + 2] : 0.0f,
                          w0 + 3 < W ? rp[i][w0 + 3] : 0.0f);
      d[i] = bt4(r) * rv[i]; /* d B: B^T applied to each row */
    }
    /* B^T (d B): combine the rows */
    float4 e0 = d[0] - d[2], e1 = d[1] + d[2], e2 = d[2] - d[1], e3 = d[1] - d[3];
    __global float *q = o + TO(t0 + tx);
    q[0 * plane] = e0.x; q[1 * plane] = e0.y; q[2 * plane] = e0.z; q[3 * plane] = e0.w;
    q[4 * plane] = e1.x; q[5 * plane] = e1.y; q[6 * plane] = e1.z; q[7 * plane] = e1.w;
    q[8 * plane] = e2.x; q[9 * plane] = e2.y; q[10 * plane] = e2.z; q[11 * plane] = e2.w;
    q[12 * plane] = e3.x; q[13 * plane] = e3.y; q[14 * plane] = e3.z; q[15 * plane] = e3.w;
  }
}

/* Pixel (2ty+p, 2tx+q) is row 1+p, column 1+q of tile (ty, tx), row 3 of the tile above (p = 0),
 * row 0 of the one below (p = 1), and likewise for columns: D = B dV B^T is needed at rows and
 * columns 1-2 of the centre tile, one row or column of the side tiles and one corner element of
 * the diagonal ones. With R = B dV: R1 = dV1 - dV2 + dV3, R2 = dV1 + dV2 - dV0, R3 = -dV3, R0 = dV0
 * (rows), and D[i][1] = R_i1 - R_i2 + R_i3, D[i][2] = R_i1 + R_i2 - R_i0, D[i][0] = R_i0,
 * D[i][3] = -R_i3. */
__kernel void k_wino_in_bwd(__global const float *dv, ulong dvo, __global float *dx, ulong dxo, int C, int H, int W,
                            int TH, int TW, int T) {
  int ty = get_global_id(1), nc = plane_of(get_global_id(2), C, T / (TH * TW));
  int n = nc / C, c = nc - n * C;
  ulong cpw = CPW(C), plane = PLANE(C, T), t0 = ((ulong)n * TH + ty) * TW;
  __global const float *p = dv + dvo + CHAN(c);
  bool up = ty > 0, down = ty + 1 < TH, two_rows = 2 * ty + 1 < H;
  __global float *out = dx + dxo + ((ulong)nc * H + 2 * ty) * W;
  for (int tx = TW >= 4 ? 0 : -1; tx >= 0; tx = next_group(tx, TW)) {
    ulong t = t0 + tx;
    float4 R1[4], R2[4];
    for (int j = 0; j < 4; j++) {
      float4 a = AT4(p, t, 0, j), b = AT4(p, t, 1, j), cc = AT4(p, t, 2, j), d = AT4(p, t, 3, j);
      R1[j] = b - cc + d;
      R2[j] = b + cc - a;
    }
    float4 y00 = R1[1] - R1[2] + R1[3], y01 = R1[1] + R1[2] - R1[0];
    float4 y10 = R2[1] - R2[2] + R2[3], y11 = R2[1] + R2[2] - R2[0];
    if (up) { /* R3 = -dV row 3 of the tiles above, and their side neighbours' corners */
      float4 u0 = AT4(p, t - TW, 3, 0), u1 = AT4(p, t - TW, 3, 1), u2 = AT4(p, t - TW, 3, 2), u3 = AT4(p, t - TW, 3, 3);
      y00 -= u1 - u2 + u3; y01 -= u1 + u2 - u0;
      y00 += lanes4(p, plane, cpw, t - TW, tx, -1, TW, 3, 3);
      y01 -= lanes4(p, plane, cpw, t - TW, tx, 1, TW, 3, 0);
    }
    if (down) { /* R0 = dV row 0 of the tiles below */
      float4 u0 = AT4(p, t + TW, 0, 0), u1 = AT4(p, t + TW, 0, 1), u2 = AT4(p, t + TW, 0, 2), u3 = AT4(p, t + TW, 0, 3);
      y10 += u1 - u2 + u3; y11 += u1 + u2 - u0;
      y10 -= lanes4(p, plane, cpw, t + TW, tx, -1, TW, 0, 3);
      y11 += lanes4(p, plane, cpw, t + TW, tx, 1, TW, 0, 0);
    }
    /* column 3 of the left tiles, column 0 of the right ones */
    float4 l0 = lanes4(p, plane, cpw, t, tx, -1, TW, 0, 3), l1 = lanes4(p, plane, cpw, t, tx, -1, TW, 1, 3);
    float4 l2 = lanes4(p, plane, cpw, t, tx, -1, TW, 2, 3), l3 = lanes4(p, plane, cpw, t, tx, -1, TW, 3, 3);
    y00 -= l1 - l2 + l3; y10 -= l1 + l2 - l0;
    float4 r0 = lanes4(p, plane, cpw, t, tx, 1, TW, 0, 0), r1 = lanes4(p, plane, cpw, t, tx, 1, TW, 1, 0);
    float4 r2 = lanes4(p, plane, cpw, t, tx, 1, TW, 2, 0), r3 = lanes4(p, plane, cpw, t, tx, 1, TW, 3, 0);
    y01 += r1 - r2 + r3; y11 += r1 + r2 - r0;
    store8(ZIP(y00, y01), out, 2 * tx, W);
    if (two_rows) store8(ZIP(y10, y11), out + W, 2 * tx, W);
  }
  for (int tx = 0; TW < 4 && tx < TW; tx++) {
    ulong t = t0 + tx;
    bool left = tx > 0, right = tx + 1 < TW;
    float4 r0 = row4(p, plane, cpw, t, 0), r1 = row4(p, plane, cpw, t, 1), r2 = row4(p, plane, cpw, t, 2), r3 = row4(p, plane, cpw, t, 3);
    float4 D1 = b4(r1 - r2 + r3), D2 = b4(r1 + r2 - r0);
    float y00 = D1.y, y01 = D1.z, y10 = D2.y, y11 = D2.z;
    if (up) {
      float4 D3 = b4(-row4(p, plane, cpw, t - TW, 3));
      y00 += D3.y; y01 += D3.z;
    }
    if (down) {
      float4 D0 = b4(row4(p, plane, cpw, t + TW, 0));
      y10 += D0.y; y11 += D0.z;
    }
    if (left) {
      float4 cc = col4(p, plane, cpw, t - 1, 3);
      y00 -= cc.y - cc.z + cc.w; y10 -= cc.y + cc.z - cc.x;
    }
    if (right) {
      float4 cc = col4(p, plane, cpw, t + 1, 0);
      y01 += cc.y - cc.z + cc.w; y11 += cc.y + cc.z - cc.x;
    }
    if (up && left) y00 += AT(p, t - TW - 1, 3, 3);
    if (up && right) y01 -= AT(p, t - TW + 1, 3, 0);
    if (down && left) y10 -= AT(p, t + TW - 1, 0, 3);
    if (down && right) y11 += AT(p, t + TW + 1, 0, 0);
    int w = 2 * tx;
    out[w] = y00;
    if (w + 1 < W) out[w + 1] = y01;
    if (two_rows) {
      out[W + w] = y10;
      if (w + 1 < W) out[W + w + 1] = y11;
    }
  }
}

__kernel void k_wino_out(__global const float *m, ulong mo, __global const float *bias, ulong bo, __global const float *res,
                         ulong ro, __global float *y, ulong yo, int O, int H, int W, int TH, int TW, int T, int has_bias,
                         int has_res) {
  int ty = get_global_id(1), no = plane_of(get_global_id(2), O, T / (TH * TW));
  int n = no / O, o = no - n * O;
  ulong cpw = CPW(O), plane = PLANE(O, T), t0 = ((ulong)n * TH + ty) * TW;
  __global const float *p = m + mo + CHAN(o);
  float b = has_bias == 2 ? bias[bo + no] : has_bias ? bias[bo + o] : 0.0f; /* 2: per (image, channel) */
  bool two_rows = 2 * ty + 1 < H;
  __global float *out = y + yo + ((ulong)no * H + 2 * ty) * W;
  __global const float *rs = res + ro + ((ulong)no * H + 2 * ty) * W; /* the residual's rows, when has_res */
  for (int tx = TW >= 4 ? 0 : -1; tx >= 0; tx = next_group(tx, TW)) { /* A^T M per column j, then along the row */
    ulong t = t0 + tx;
    float4 a0[4], a1[4];
    for (int j = 0; j < 4; j++) {
      float4 m0 = AT4(p, t, 0, j), m1 = AT4(p, t, 1, j), m2 = AT4(p, t, 2, j), m3 = AT4(p, t, 3, j);
      a0[j] = m0 + m1 + m2;
      a1[j] = m1 - m2 - m3;
    }
    float8 r0 = has_res ? row8(rs, 2 * tx, W) : (float8)(0.0f), r1 = has_res && two_rows ? row8(rs + W, 2 * tx, W) : r0;
    store8(ZIP((a0[0] + a0[1] + a0[2]) + b, (a0[1] - a0[2] - a0[3]) + b) + r0, out, 2 * tx, W);
    if (two_rows) store8(ZIP((a1[0] + a1[1] + a1[2]) + b, (a1[1] - a1[2] - a1[3]) + b) + r1, out + W, 2 * tx, W);
  }
  for (int tx = 0; TW < 4 && tx < TW; tx++) {
    ulong t = t0 + tx;
    float4 r0 = row4(p, plane, cpw, t, 0), r1 = row4(p, plane, cpw, t, 1), r2 = row4(p, plane, cpw, t, 2), r3 = row4(p, plane, cpw, t, 3);
    float4 a0 = r0 + r1 + r2, a1 = r1 - r2 - r3; /* A^T M */
    int w = 2 * tx;
#define RES(i) (has_res ? rs[i] : 0.0f)
    out[w] = (a0.x + a0.y + a0.z) + b + RES(w);
    if (w + 1 < W) out[w + 1] = (a0.y - a0.z - a0.w) + b + RES(w + 1);
    if (two_rows) {
      out[W + w] = (a1.x + a1.y + a1.z) + b + RES(W + w);
      if (w + 1 < W) out[W + w + 1] = (a1.y - a1.z - a1.w) + b + RES(W + w + 1);
    }
#undef RES
  }
}

/* dM = A dy A^T, A's rows (1 0) (1 1) (1 -1) (0 -1): rows s_i of A dy, then dM[i] = (s_i.x,
 * s_i.x + s_i.y, s_i.x - s_i.y, -s_i.y) */
__kernel void k_wino_out_bwd(__global const float *dy, ulong dyo, __global float *dm, ulong dmo, int O, int H, int W,
                             int TH, int TW, int T) {
  int ty = get_global_id(1), no = plane_of(get_global_id(2), O, T / (TH * TW));
  int n = no / O, o = no - n * O;
  ulong cpw = CPW(O), plane = PLANE(O, T), t0 = ((ulong)n * TH + ty) * TW;
  bool two_rows = 2 * ty + 1 < H;
  __global const float *src = dy + dyo + ((ulong)no * H + 2 * ty) * W;
  __global const float *src1 = two_rows ? src + W : src; /* times 0 when there is no second row */
  float f1 = two_rows ? 1.0f : 0.0f;
  __global float *d = dm + dmo + CHAN(o);
  if (ty == TH - 1 && (n + 1) * TH * TW == T) zero_tail(d, plane, cpw, T);
  for (int tx = TW >= 4 ? 0 : -1; tx >= 0; tx = next_group(tx, TW)) {
    ulong t = t0 + tx;
    float8 q0 = row8(src, 2 * tx, W), q1 = row8(src1, 2 * tx, W) * f1;
    float4 sx[4] = {q0.even, q0.even + q1.even, q0.even - q1.even, -q1.even};
    float4 sy[4] = {q0.odd, q0.odd + q1.odd, q0.odd - q1.odd, -q1.odd};
    for (int i = 0; i < 4; i++) {
      st4(sx[i], d + (ulong)(4 * i) * plane, t, cpw);
      st4(sx[i] + sy[i], d + (ulong)(4 * i + 1) * plane, t, cpw);
      st4(sx[i] - sy[i], d + (ulong)(4 * i + 2) * plane, t, cpw);
      st4(-sy[i], d + (ulong)(4 * i + 3) * plane, t, cpw);
    }
  }
  for (int tx = 0; TW < 4 && tx < TW; tx++) {
    ulong t = t0 + tx;
    int w = 2 * tx;
    bool wr = w + 1 < W;
    float2 q0 = (float2)(src[w], wr ? src[w + 1] : 0.0f), q1 = (float2)(src1[w], wr ? src1[w + 1] : 0.0f) * f1;
    float2 s[4] = {q0, q0 + q1, q0 - q1, -q1};
    for (int i = 0; i < 4; i++) {
      d[(ulong)(4 * i) * plane + TO(t)] = s[i].x;
      d[(ulong)(4 * i + 1) * plane + TO(t)] = s[i].x + s[i].y;
      d[(ulong)(4 * i + 2) * plane + TO(t)] = s[i].x - s[i].y;
      d[(ulong)(4 * i + 3) * plane + TO(t)] = -s[i].y;
    }
  }
}
