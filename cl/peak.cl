/* Device FMA throughput probe for `cldiff bench peak`. OpenCL C 1.2.
 *   k_fma_peak (out, iters): 16 independent float16 FMA chains per work-item, no memory traffic
 *   inside the loop; 512 flops per iteration per work-item. No -D parameters. */
__kernel void k_fma_peak(__global float *out, int iters) {
  float16 a0 = (float16)((float)get_global_id(0)), m = (float16)(0.999f), c = (float16)(0.001f);
  float16 a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7;
  float16 a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11, a12 = a0 + 12, a13 = a0 + 13, a14 = a0 + 14, a15 = a0 + 15;
  for (int i = 0; i < iters; i++) {
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
    a8 = fma(a8, m, c); a9 = fma(a9, m, c); a10 = fma(a10, m, c); a11 = fma(a11, m, c);
    a12 = fma(a12, m, c); a13 = fma(a13, m, c); a14 = fma(a14, m, c); a15 = fma(a15, m, c);
  }
  float16 s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
  /* every lane reaches the store, or a compiler drops the dead lanes (NVIDIA's did: 8x the peak) */
  float8 h = s.lo + s.hi;
  float4 q = h.lo + h.hi;
  out[get_global_id(0)] = (q.x + q.y) + (q.z + q.w);
}
