/* Optimizer kernels over a whole parameter store (flat buffers). OpenCL C 1.2.
 *   k_sumsq_partial (g, n, partial)       work-group w sums g[i]^2 over its strided share;
 *                                         launched with NPART groups of WG items (-D WG, default 64)
 *   k_norm_finalize (partial, nparts, out)  out[0] = sqrt(sum partial) (fixed order: deterministic)
 *   k_adamw (p, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2, norm, clip)
 *        clip > 0 scales g by min(1, clip / (norm + 1e-6)); decoupled weight decay p -= lr*wd*p;
 *        bc1 = 1 - b1^t, bc2 = 1 - b2^t
 *   k_ema (ema, p, n, decay)               ema = decay*ema + (1-decay)*p */
#ifndef WG
#define WG 64
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void k_sumsq_partial(__global const float *g, int n, __global float *partial) {
  __local float sh[WG];
  int lid = get_local_id(0), grp = get_group_id(0), ngrp = get_num_groups(0);
  int chunk = (n + ngrp - 1) / ngrp;
  int start = grp * chunk, end = min(n, start + chunk);
  float s = 0.0f;
  for (int i = start + lid; i < end; i += WG) s += g[i] * g[i];
  sh[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int w = WG / 2; w > 0; w >>= 1) {
    if (lid < w) sh[lid] += sh[lid + w];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) partial[grp] = sh[0];
}

__kernel void k_norm_finalize(__global const float *partial, int nparts, __global float *out) {
  if (get_global_id(0) != 0) return;
  float s = 0.0f;
  for (int i = 0; i < nparts; i++) s += partial[i];
  out[0] = sqrt(s);
}

__kernel void k_adamw(__global float *p, __global const float *g, __global float *m, __global float *v, int n,
                      float lr, float b1, float b2, float eps, float wd, float bc1, float bc2,
                      __global const float *norm, float clip) {
  int i = get_global_id(0);
  if (i >= n) return;
  float scale = 1.0f;
  if (clip > 0.0f) scale = fmin(1.0f, clip / (norm[0] + 1e-6f));
  float gi = g[i] * scale;
  float mi = b1 * m[i] + (1.0f - b1) * gi;
  float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  float pi = p[i] * (1.0f - lr * wd);
  p[i] = pi - lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
}

__kernel void k_ema(__global float *ema, __global const float *p, int n, float decay) {
  int i = get_global_id(0);
  if (i < n) ema[i] = decay * ema[i] + (1.0f - decay) * p[i];
}
