/* Sinusoidal timestep embedding as diffusers' get_timestep_embedding. OpenCL C 1.2.
 *   k_timestep_emb (t, to, y, yo, N, dim, flip, shift, max_period, n)
 *     hd = dim/2; freq_j = exp(-ln(max_period) * j / (hd - shift)); arg = t * freq_j;
 *     y = [sin(arg), cos(arg)] ([cos, sin] when flip), zero-padded when dim is odd.
 * No -D parameters. */
__kernel void k_timestep_emb(__global const float *t, ulong to, __global float *y, ulong yo, int N, int dim,
                             int flip, float shift, float max_period, int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  int b = i / dim, j = i % dim, hd = dim / 2;
  float v = 0.0f;
  if (j < 2 * hd) {
    int f = j < hd ? j : j - hd;
    bool first = j < hd;
    bool use_sin = flip ? !first : first;
    float freq = exp(-log(max_period) * (float)f / ((float)hd - shift));
    float arg = t[to + b] * freq;
    v = use_sin ? sin(arg) : cos(arg);
  }
  y[yo + i] = v;
}
