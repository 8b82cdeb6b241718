/* Philox4x32-10 random numbers (Salmon et al., SC'11), counter-based. OpenCL C 1.2.
 * Element e of the stream keyed (seed, stream, substream) comes from block e/4, lane e%4, of
 *   philox(ctr = {lo(e/4), hi(e/4), stream, substream}, key = {lo(seed), hi(seed)}).
 * Uniform: (x >> 8) * 2^-24 in [0, 1). Normal: Box-Muller on lane pairs (0,1) and (2,3):
 *   u1 = ((x0 >> 8) + 1) * 2^-24 in (0, 1], u2 = (x1 >> 8) * 2^-24, r = sqrt(-2 ln u1),
 *   z0 = r cos(2 pi u2), z1 = r sin(2 pi u2).
 *   k_rng_uniform / k_rng_normal (y, yo, n, key = (seed lo, seed hi, stream, substream), offset)
 *   k_dropout (x, xo, y, yo, n, key, p, boff)  inverted dropout: keep when uniform >= p; blocks of 4
 *                                         numbered from boff
 * One work-item per 4-element block. No -D parameters. */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* scalar state so that the compiler can vectorize across work-items */
uint4 philox4x32_10(uint4 c, uint2 k) {
  uint c0 = c.x, c1 = c.y, c2 = c.z, c3 = c.w, k0 = k.x, k1 = k.y;
#pragma unroll
  for (int r = 0; r < 10; r++) {
    ulong p0 = (ulong)PHILOX_M0 * c0, p1 = (ulong)PHILOX_M1 * c2;
    uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
    uint n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  return (uint4)(c0, c1, c2, c3);
}

float u01(uint x) { return (float)(x >> 8) * 0x1.0p-24f; }

float4 uniform4(uint4 key, uint blo, uint bhi) {
  uint4 x = philox4x32_10((uint4)(blo, bhi, key.z, key.w), key.xy);
  return (float4)(u01(x.x), u01(x.y), u01(x.z), u01(x.w));
}

float4 normal4(uint4 key, uint blo, uint bhi) {
  uint4 x = philox4x32_10((uint4)(blo, bhi, key.z, key.w), key.xy);
  float u1 = (float)((x.x >> 8) + 1u) * 0x1.0p-24f, u2 = u01(x.y);
  float u3 = (float)((x.z >> 8) + 1u) * 0x1.0p-24f, u4 = u01(x.w);
  float r1 = sqrt(-2.0f * log(u1)), r2 = sqrt(-2.0f * log(u3));
  float t1 = 6.283185307179586f * u2, t2 = 6.283185307179586f * u4;
  return (float4)(r1 * cos(t1), r1 * sin(t1), r2 * cos(t2), r2 * sin(t2));
}

#define RNG_KERNEL(name, gen)                                                                   \
  __kernel void name(__global float *y, ulong yo, int n, uint4 key, ulong offset) {            \
    ulong block = offset / 4 + get_global_id(0);                                               \
    float4 v = gen(key, (uint)block, (uint)(block >> 32));                                     \
    long base = (long)(block * 4) - (long)offset;                                              \
    if (base >= 0 && base + 4 <= n) {                                                          \
      vstore4(v, 0, y + yo + base);                                                            \
    } else {                                                                                   \
      if (base >= 0 && base < n) y[yo + base] = v.x;                                           \
      if (base + 1 >= 0 && base + 1 < n) y[yo + base + 1] = v.y;                               \
      if (base + 2 >= 0 && base + 2 < n) y[yo + base + 2] = v.z;                               \
      if (base + 3 >= 0 && base + 3 < n) y[yo + base + 3] = v.w;                               \
    }                                                                                          \
  }
RNG_KERNEL(k_rng_uniform, uniform4)
RNG_KERNEL(k_rng_normal, normal4)

__kernel void k_dropout(__global const float *x, ulong xo, __global float *y, ulong yo, int n, uint4 key, float p,
                        ulong boff) {
  int b = get_global_id(0);
  ulong block = boff + (ulong)b;
  float4 u = uniform4(key, (uint)block, (uint)(block >> 32));
  float us[4] = {u.x, u.y, u.z, u.w};
  float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  for (int l = 0; l < 4; l++) {
    int i = 4 * b + l;
    if (i < n) y[yo + i] = us[l] >= p ? x[xo + i] * scale : 0.0f;
  }
}
