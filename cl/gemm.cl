/* Built-in register-tiled GEMM. OpenCL C 1.2, no local memory.
 *   gemm_tiled (M, N, K, A, ao, lda, sa, B, bo, ldb, sb, sbg, C, co, ldc, sc, scg, adiv, nbatch)
 *     C[b] = op(A[b / adiv]) * B[b] for batch b = get_global_id(2) < nbatch; A/B/C offsets and
 *     batch strides in floats (stride 0 broadcasts; adiv > 1 shares each A among adiv consecutive
 *     batch entries, so a work-group that spans the batch dimension reuses one A). Entry b of B
 *     starts at bo + (b / adiv) sbg + (b % adiv) sb, and of C likewise (sbg = adiv sb for evenly
 *     strided batches; Winograd's tile-interleaved operands have their own). B is row-major
 *     (K, N). A is (M, K) row-major, or (K, M) when TA=1. TC=1 stores the result transposed (C is then (N, M) row-major). Each work-item owns a
 *     TM x TN tile held in float16 registers; full tiles take the vector path, edge tiles a
 *     bounds-checked scalar path, so any M, N, K works.
 * -D parameters (defaults below): TM rows per item (1..8), NV 16-wide vectors per row (1..4),
 *   TA, TC as above, MF=1 swaps the grid: dimension 0 walks row tiles (M) and 1 column tiles, so
 *   the items that share one block of B run back to back (tall outputs with a short K). TN = 16*NV. */
#ifndef TM
#define TM 8
#endif
#ifndef NV
#define NV 2
#endif
#ifndef TA
#define TA 0
#endif
#ifndef TC
#define TC 0
#endif
#ifndef MF
#define MF 0
#endif
#define TN (16 * NV)

#if TA
#define AAT(m, k) A[(k) * lda + (m)]
#else
#define AAT(m, k) A[(m) * lda + (k)]
#endif
#if TC
#define CAT(m, n) C[(n) * ldc + (m)]
#else
#define CAT(m, n) C[(m) * ldc + (n)]
#endif

__kernel void gemm_tiled(int M, int N, int K, __global const float *A, ulong ao, int lda, ulong sa,
                         __global const float *B, ulong bo, int ldb, ulong sb, ulong sbg,
                         __global float *C, ulong co, int ldc, ulong sc, ulong scg, int adiv, int nbatch) {
#if MF
  int n0 = get_global_id(1) * TN, m0 = get_global_id(0) * TM;
#else
  int n0 = get_global_id(0) * TN, m0 = get_global_id(1) * TM;
#endif
  ulong b = get_global_id(2);
  if (m0 >= M || n0 >= N || b >= (ulong)nbatch) return;
  ulong grp = b / (ulong)adiv, in = b - grp * (ulong)adiv;
  A += ao + grp * sa;
  B += bo + grp * sbg + in * sb;
  C += co + grp * scg + in * sc;
  if (N < 16) { /* too narrow for one vector: scalar */
    int mi = min(TM, M - m0), nj = min(TN, N - n0);
    for (int i = 0; i < mi; i++)
      for (int j = 0; j < nj; j++) {
        float s = 0.0f;
        for (int k = 0; k < K; k++) s = fma(AAT(m0 + i, k), B[k * ldb + n0 + j], s);
        CAT(m0 + i, n0 + j) = s;
      }
    return;
  }
  /* Edge tiles run the same vector code: rows past M re-read row M-1, and a vector that would
   * cross N is shifted left to end at N; the stores below write each element exactly once. */
  int rows[TM], nb[NV];
#pragma unroll
  for (int i = 0; i < TM; i++) rows[i] = min(m0 + i, M - 1);
#pragma unroll
  for (int j = 0; j < NV; j++) nb[j] = min(n0 + 16 * j, N - 16);
  float16 acc[TM][NV];
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < NV; j++) acc[i][j] = (float16)(0.0f);
  int k = 0;
#if !TA
  /* four k-steps per iteration: one vload4 of A per row instead of four scalar loads */
  for (; k + 4 <= K; k += 4) {
    float4 av[TM];
#pragma unroll
    for (int i = 0; i < TM; i++) av[i] = vload4(0, A + rows[i] * lda + k);
#define KSTEP(kk, comp)                                                                          \
    {                                                                                            \
      float16 bv[NV];                                                                            \
      _Pragma("unroll") for (int j = 0; j < NV; j++) bv[j] = vload16(0, B + (k + (kk)) * ldb + nb[j]); \
      _Pragma("unroll") for (int i = 0; i < TM; i++)                                             \
        _Pragma("unroll") for (int j = 0; j < NV; j++) acc[i][j] = fma((float16)(av[i].comp), bv[j], acc[i][j]); \
    }
    KSTEP(0, s0) KSTEP(1, s1) KSTEP(2, s2) KSTEP(3, s3)
#undef KSTEP
  }
#endif
#if TA && (TM == 4 || TM == 8)
  /* A^T rows are contiguous in m: one vector load per k on full-height tiles */
  if (m0 + TM <= M) {
    for (; k < K; k++) {
      float16 bv[NV];
#pragma unroll
      for (int j = 0; j < NV; j++) bv[j] = vload16(0, B + k * ldb + nb[j]);
#if TM == 8
      float8 av = vload8(0, A + k * lda + m0);
      float as[8] = {av.s0, av.s1, av.s2, av.s3, av.s4, av.s5, av.s6, av.s7};
#else
      float4 av = vload4(0, A + k * lda + m0);
      float as[4] = {av.s0, av.s1, av.s2, av.s3};
#endif
#pragma unroll
      for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < NV; j++) acc[i][j] = fma((float16)(as[i]), bv[j], acc[i][j]);
    }
  }
#endif
  for (; k < K; k++) {
    float16 bv[NV];
#pragma unroll
    for (int j = 0; j < NV; j++) bv[j] = vload16(0, B + k * ldb + nb[j]);
#pragma unroll
    for (int i = 0; i < TM; i++) {
      float a = AAT(rows[i], k);
#pragma unroll
      for (int j = 0; j < NV; j++) acc[i][j] = fma((float16)(a), bv[j], acc[i][j]);
    }
  }
  bool full = m0 + TM <= M && n0 + TN <= N;
#pragma unroll
  for (int i = 0; i < TM; i++) {
    if (m0 + i >= M) break;
#pragma unroll
    for (int j = 0; j < NV; j++) {
      int lo = n0 + 16 * j; /* first column this vector owns */
      if (lo >= N) break;
#if !TC
      if (full) {
        vstore16(acc[i][j], 0, &CAT(m0 + i, lo));
        continue;
      }
#endif
      float tmp[16];
      vstore16(acc[i][j], 0, tmp);
      for (int l = 0; l < 16; l++) {
        int col = nb[j] + l;
        if (col >= lo && col < N) CAT(m0 + i, col) = tmp[l];
      }
    }
  }
}

/* out (cols, rows) = in (rows, cols)^T, batched by get_global_id(2) with strides sin/sout; each
 * work-item moves a 4x4 block (four row loads, four column stores: whole float4s both ways when
 * rows and cols are multiples of 4) */
__kernel void k_transpose(__global const float *in, ulong io, ulong sin, __global float *out, ulong oo,
                          ulong sout, int rows, int cols) {
  int c0 = get_global_id(0) * 4, r0 = get_global_id(1) * 4;
  ulong b = get_global_id(2);
  if (r0 >= rows || c0 >= cols) return;
  __global const float *p = in + io + b * sin;
  __global float *q = out + oo + b * sout;
  if (r0 + 4 <= rows && c0 + 4 <= cols && !((rows | cols) & 3)) {
    float4 a0 = vload4(0, p + (ulong)r0 * cols + c0), a1 = vload4(0, p + (ulong)(r0 + 1) * cols + c0);
    float4 a2 = vload4(0, p + (ulong)(r0 + 2) * cols + c0), a3 = vload4(0, p + (ulong)(r0 + 3) * cols + c0);
    vstore4((float4)(a0.x, a1.x, a2.x, a3.x), 0, q + (ulong)c0 * rows + r0);
    vstore4((float4)(a0.y, a1.y, a2.y, a3.y), 0, q + (ulong)(c0 + 1) * rows + r0);
    vstore4((float4)(a0.z, a1.z, a2.z, a3.z), 0, q + (ulong)(c0 + 2) * rows + r0);
    vstore4((float4)(a0.w, a1.w, a2.w, a3.w), 0, q + (ulong)(c0 + 3) * rows + r0);
    return;
  }
  for (int r = r0; r < min(r0 + 4, rows); r++)
    for (int c = c0; c < min(c0 + 4, cols); c++) q[(ulong)c * rows + r] = p[(ulong)r * cols + c];
}

/* out[g] (R, S) = sum over p of x[g,p] (R, N) y[g,p]^T (S, N), for x (G, P, R, N) and y (G, P, S, N)
 * with N a multiple of 16, each addressed by its own group, panel and row strides (xg, xp, xr; yg,
 * yp, yr: row-major, or Winograd's tile-interleaved (P, R, G, N)): the gradient of a grouped GEMM's shared operand (Winograd's
 * weight gradient over its tile panels), read in place instead of permuting both operands first.
 * Each work-item owns a 4x4 block of out and keeps 16-wide partial sums along N (four row loads of
 * each side feed 16 FMAs), summed across lanes at the end. Grid (ceil(S/4), ceil(R/4), G).
 * (Splitting P into cache-sized chunks with a second summing pass was no faster on PoCL.) */
__kernel void k_gemm_sum_nt(int P, int R, int S, int N, __global const float *x, ulong xo, ulong xg, ulong xp,
                            ulong xr, __global const float *y, ulong yo, ulong yg, ulong yp, ulong yr,
                            __global float *out, ulong oo) {
  int s0 = get_global_id(0) * 4, r0 = get_global_id(1) * 4;
  ulong g = get_global_id(2);
  if (r0 >= R || s0 >= S) return;
  int rr[4], ss[4];
  for (int i = 0; i < 4; i++) { rr[i] = min(r0 + i, R - 1); ss[i] = min(s0 + i, S - 1); }
  float16 acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int k = 0; k < 4; k++) acc[i][k] = (float16)(0.0f);
  for (int p = 0; p < P; p++) {
    __global const float *xs = x + xo + g * xg + p * xp, *ys = y + yo + g * yg + p * yp;
    for (int j = 0; j < N; j += 16) {
      float16 a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; i++) { a[i] = vload16(0, xs + rr[i] * xr + j); b[i] = vload16(0, ys + ss[i] * yr + j); }
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int k = 0; k < 4; k++) acc[i][k] = fma(a[i], b[k], acc[i][k]);
    }
  }
  __global float *o = out + oo + g * (ulong)R * S;
  for (int i = 0; i < 4 && r0 + i < R; i++)
    for (int k = 0; k < 4 && s0 + k < S; k++) {
      float8 h = acc[i][k].lo + acc[i][k].hi;
      float4 q = h.lo + h.hi;
      float2 d = q.lo + q.hi;
      o[(r0 + i) * S + s0 + k] = d.x + d.y;
    }
}

/* out (rows, cols; rows ldc apart) = sum over s < S of the dense partials p[s] (rows, cols): the
 * second pass of a split-K GEMM. Each work-item sums four consecutive columns of one row. */
__kernel void k_sum_splits(__global const float *p, int S, int rows, int cols, __global float *out, ulong oo, int ldc) {
  int c0 = get_global_id(0) * 4, r = get_global_id(1);
  if (r >= rows || c0 >= cols) return;
  ulong plane = (ulong)rows * cols, at = (ulong)r * cols;
  __global float *o = out + oo + (ulong)r * ldc;
  for (int c = c0; c < min(c0 + 4, cols); c++) {
    float acc = 0.0f;
    for (int s = 0; s < S; s++) acc += p[s * plane + at + c];
    o[c] = acc;
  }
}
