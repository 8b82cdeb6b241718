/* Shared by winograd.cl (F(2x2,3x3), WK = 16 components) and winograd4.cl (F(4x4,3x3), WK = 36),
 * which define WK and splice this file in (//@include, see src/runtime/program.c): the layout of
 * the transformed tiles V, M and their gradients, and the row and tile accessors both use.
 * Layout: -DPW=0 (plain) (WK, C, T); -DPW=32 (panels, for CPUs; -DPW=-1 one panel, below) logically (WK, P, C, PW) with
 * P = ceil(T / PW) panels of PW consecutive tiles, stored tile-interleaved as (P, C, WK PW + TPAD):
 * the WK components of one channel's panel are one contiguous block for the transforms (WK
 * streams P*C*PW floats apart ran 2x slower), each GEMM operand (C x PW) has rows WK PW + TPAD
 * apart (TPAD, one cache line, keeps that stride off a multiple of 512 bytes, which reached a
 * quarter of L1's sets); tiles T .. P*PW-1 are zero in V and dM. Element k of channel c, tile t
 * is at k plane + CHAN(c) + TO(t): plane, the stride of the WK (PW, or C*T); cpw, the stride of a
 * panel (CPW(C)); CHAN(c), channel c of tile 0. */
#ifndef PW
#define PW 0
#endif
#ifndef TPAD
#define TPAD 16
#endif
#if PW > 0
#define TO(t) ((ulong)(t) / PW * cpw + (ulong)(t) % PW)
#define WHOLE4(t) ((ulong)(t) % PW <= PW - 4)
#define CHAN(c) ((ulong)(c) * (WK * PW + TPAD))
#define CPW(C) ((ulong)(C) * (WK * PW + TPAD))
#define PLANE(C, T) ((ulong)PW)
#elif PW < 0
/* -DPW=-1: one panel of all T tiles, rounded up to 16 (the same layout as -DPW=PWA(T), without a
 * program per tile count); T is the kernel's argument */
#define PWA ((ulong)(T + 15) / 16 * 16)
#define TO(t) ((ulong)(t))
#define WHOLE4(t) true
#define CHAN(c) ((ulong)(c) * (WK * PWA + TPAD))
#define CPW(C) ((ulong)(C) * (WK * PWA + TPAD))
#define PLANE(C, T) PWA
#else
#define TO(t) ((ulong)(t))
#define WHOLE4(t) true
#define CHAN(c) ((ulong)(c) * T)
#define CPW(C) ((ulong)0)
#define PLANE(C, T) ((ulong)(C) * (T))
#endif

/* Four consecutive tiles as float4 lanes, from tile t of a plane (panels: the four may straddle
 * two panels) */
static inline float4 ld4(__global const float *p, ulong t, ulong cpw) {
  if (WHOLE4(t)) return vload4(0, p + TO(t));
  return (float4)(p[TO(t)], p[TO(t + 1)], p[TO(t + 2)], p[TO(t + 3)]);
}
static inline void st4(float4 v, __global float *p, ulong t, ulong cpw) {
  if (WHOLE4(t)) { vstore4(v, 0, p + TO(t)); return; }
  p[TO(t)] = v.x; p[TO(t + 1)] = v.y; p[TO(t + 2)] = v.z; p[TO(t + 3)] = v.w;
}
/* zero tiles T .. (the next multiple of PW)-1 of the WK planes of one channel (the panels' padding) */
static inline void zero_tail(__global float *p, ulong plane, ulong cpw, int T) {
#if PW > 0
  _Pragma("unroll") for (int k = 0; k < WK; k++)
    for (int t = T; t % PW; t++) p[(ulong)k * plane + TO(t)] = 0.0f;
#elif PW < 0
  _Pragma("unroll") for (int k = 0; k < WK; k++)
    for (int t = T; t % 16; t++) p[(ulong)k * plane + TO(t)] = 0.0f;
#endif
}
/* the image plane n C + c that the tile kernels' grid index g (dimension 2, N images x C channels)
 * works on: image-major (g itself), or with -DCMAJ=1 channel-major, so that the small images whose
 * tiles share one channel's panel follow one another: image-major, a kernel that writes tiles
 * finishes each panel cache line over work-groups C apart, and once C panels outgrow L2 every line
 * leaves the cache between its partial writes (the program chooses, src/graph/exec.c) */
#ifndef CMAJ
#define CMAJ 0
#endif
static inline int plane_of(size_t g, int C, int N) {
  if (!CMAJ) return (int)g;
  int c = (int)(g / (size_t)N);
  return ((int)g - c * N) * C + c;
}
/* start of the next group of four tiles: 0, 4, 8, ..., and TW - 4 last; -1 when done */
static inline int next_group(int tx, int TW) { return tx + 4 >= TW ? -1 : min(tx + 4, TW - 4); }
/* 2 floats of a row from column c; columns outside [0, W) read as 0 */
static inline float2 row2(__global const float *row, int c, int W) {
  return (float2)(c >= 0 && c < W ? row[c] : 0.0f, c + 1 >= 0 && c + 1 < W ? row[c + 1] : 0.0f);
}
