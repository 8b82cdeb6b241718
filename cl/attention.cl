/* Attention over a short sequence as one kernel: o = v softmax(q^T k)^T for channels-first
 * q, k, v, o (BH, AD, AL), i.e. o[c][i] = sum_j v[c][j] p[i][j] with p[i] = softmax_j(sum_c
 * q[c][i] k[c][j]) (the 1/sqrt(d) is the caller's, folded into q). The scores never leave the
 * work-item: each one owns 16 consecutive queries, one float16 lane each, and keeps their rows of
 * scores transposed in private memory (AL float16s), so that the row max, exp and sum, and the
 * weighted sum of v, run across lanes without a horizontal reduction. The score pass walks JB
 * keys at a time (per channel one q vector and JB broadcast k values feed JB FMAs), the weighted
 * sum CB channels at a time (per key one score vector and CB broadcast v values feed CB FMAs).
 * -D AL (sequence length, >= 16), AD (channels per head, a multiple of CB). Grid (ceil(AL/16),
 * BH); the last query block is shifted left to end at AL and stores only the queries it owns. */
#ifndef AL
#define AL 196
#endif
#ifndef AD
#define AD 64
#endif
#ifndef JB
#define JB 8
#endif
#ifndef CB
#define CB 8
#endif

__kernel void k_attention(__global const float *q, ulong qo, __global const float *k, ulong ko,
                          __global const float *v, ulong vo, __global float *o, ulong oo) {
  int blk = get_global_id(0), i0 = min(blk * 16, AL - 16);
  ulong h = get_global_id(1) * (ulong)(AD * AL);
  __global const float *Q = q + qo + h + i0, *K = k + ko + h, *V = v + vo + h;
  float16 s[AL];
  float16 mx = (float16)(-INFINITY);
  for (int j0 = 0; j0 < AL; j0 += JB) {
    float16 acc[JB];
#pragma unroll
    for (int jj = 0; jj < JB; jj++) acc[jj] = (float16)(0.0f);
    if (j0 + JB <= AL) {
      for (int c = 0; c < AD; c++) {
        float16 qv = vload16(0, Q + c * AL);
        __global const float *kc = K + c * AL + j0;
#pragma unroll
        for (int jj = 0; jj < JB; jj++) acc[jj] = fma(qv, (float16)(kc[jj]), acc[jj]);
      }
    } else { /* the last keys: fewer than JB */
      for (int c = 0; c < AD; c++) {
        float16 qv = vload16(0, Q + c * AL);
        for (int jj = 0; jj < AL - j0; jj++) acc[jj] = fma(qv, (float16)(K[c * AL + j0 + jj]), acc[jj]);
      }
    }
    for (int jj = 0; jj < JB && j0 + jj < AL; jj++) {
      s[j0 + jj] = acc[jj];
      mx = fmax(mx, acc[jj]);
    }
  }
  float16 sum = (float16)(0.0f);
  for (int j = 0; j < AL; j++) {
    float16 p = exp(s[j] - mx);
    s[j] = p;
    sum += p;
  }
  float16 inv = (float16)(1.0f) / sum;
  __global float *O = o + oo + h + i0;
  int own = blk * 16 - i0; /* lanes below this belong to the previous block */
  for (int c0 = 0; c0 < AD; c0 += CB) {
    float16 acc[CB];
#pragma unroll
    for (int cc = 0; cc < CB; cc++) acc[cc] = (float16)(0.0f);
    __global const float *vc = V + c0 * AL;
    for (int j = 0; j < AL; j++) {
      float16 p = s[j];
#pragma unroll
      for (int cc = 0; cc < CB; cc++) acc[cc] = fma((float16)(vc[cc * AL + j]), p, acc[cc]);
    }
#pragma unroll
    for (int cc = 0; cc < CB; cc++) {
      float16 r = acc[cc] * inv;
      if (!own) {
        vstore16(r, 0, O + (c0 + cc) * AL);
      } else {
        float t[16];
        vstore16(r, 0, t);
        for (int l = own; l < 16; l++) O[(c0 + cc) * AL + l] = t[l];
      }
    }
  }
}
