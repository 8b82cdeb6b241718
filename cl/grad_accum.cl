/* Gradient accumulation over micro-batches (src/train/grad_accum.c). OpenCL C 1.2.
 *   k_accum (acc, g, n, first)      acc = g when first, else acc + g (one rounding, as a host add)
 *   k_scale_into (g, acc, n, s)     g = acc * s */
__kernel void k_accum(__global float *acc, __global const float *g, int n, int first) {
  int i = get_global_id(0);
  if (i < n) acc[i] = first ? g[i] : acc[i] + g[i];
}

__kernel void k_scale_into(__global float *g, __global const float *acc, int n, float s) {
  int i = get_global_id(0);
  if (i < n) g[i] = acc[i] * s;
}
