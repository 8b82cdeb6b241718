/* Elementwise kernels. OpenCL C 1.2. Every tensor is (buffer, offset in floats).
 *   k_affine k_silu k_relu k_tanh k_exp k_log k_sqrt k_square k_clamp_min (x, xo, y, yo, n, s, c)
 *       unary y = f(x); k_affine is y = s*x + c (scale, add-scalar, copy); k_clamp_min y = max(x, c)
 *   k_clamp_min_bwd (x, xo, dy, dyo, dx, dxo, n, lo)
 *   k_add k_sub k_mul k_div (a, ao, b, bo, y, yo, n)            same-shape binary
 *   k_add_bc k_sub_bc k_mul_bc k_div_bc (a, ao, b, bo, y, yo, shape, sa, sb)
 *       broadcasting binary over a 3-D grid (shape.w, shape.z, shape.x*shape.y): shape is the
 *       4-D output shape, sa/sb the operands' strides (0 on stretched dims)
 *   k_silu_bwd k_relu_bwd (x, xo, dy, dyo, dx, dxo, n); k_tanh_bwd takes y instead of x
 *   k_silu k_tanh k_exp k_log k_silu_bwd: VW (16) elements a work-item (UNARY_V below)
 * -D parameters: SA3, SB3 = the operands' innermost stride when known at build time (1 or 0),
 *   -1 (default) reads it from sa.w / sb.w; known strides let the compiler vectorize. */
#ifndef SA3
#define SA3 -1
#endif
#ifndef SB3
#define SB3 -1
#endif
#if SA3 >= 0
#define A_IN(i3) ((i3) * SA3)
#else
#define A_IN(i3) ((i3) * sa.w)
#endif
#if SB3 >= 0
#define B_IN(i3) ((i3) * SB3)
#else
#define B_IN(i3) ((i3) * sb.w)
#endif

#define UNARY(name, expr)                                                                       \
  __kernel void name(__global const float *x, ulong xo, __global float *y, ulong yo, int n,    \
                     float s, float c) {                                                        \
    int i = get_global_id(0);                                                                   \
    if (i < n) {                                                                                \
      float v = x[xo + i];                                                                      \
      y[yo + i] = (expr);                                                                       \
    }                                                                                           \
  }
/* The transcendental ones take VW consecutive elements a work-item as one vector, so that exp, tanh
 * and log run as the vector math library's calls (PoCL left the per-element calls scalar: SiLU at
 * a sixth of an add's bandwidth); the tail of fewer than VW is scalar. Grid: ceil(n / VW) items. */
#define VW 16
#define UNARY_V(name, expr)                                                                     \
  __kernel void name(__global const float *x, ulong xo, __global float *y, ulong yo, int n,    \
                     float s, float c) {                                                        \
    int i = get_global_id(0) * VW;                                                              \
    if (i + VW <= n) {                                                                          \
      float16 v = vload16(0, x + xo + i);                                                       \
      vstore16((expr), 0, y + yo + i);                                                          \
    } else                                                                                      \
      for (; i < n; i++) {                                                                      \
        float v = x[xo + i];                                                                    \
        y[yo + i] = (expr);                                                                     \
      }                                                                                         \
  }
UNARY(k_affine, s * v + c)
UNARY_V(k_silu, v / (1.0f + exp(-v)))
UNARY(k_relu, fmax(v, 0.0f))
UNARY_V(k_tanh, tanh(v))
UNARY_V(k_exp, exp(v))
UNARY_V(k_log, log(v))
UNARY(k_sqrt, sqrt(v))
UNARY(k_square, v * v)
UNARY(k_clamp_min, fmax(v, c))

/* d/dx max(x, lo): dy where x > lo */
__kernel void k_clamp_min_bwd(__global const float *x, ulong xo, __global const float *dy, ulong dyo, __global float *dx,
                              ulong dxo, int n, float lo) {
  int i = get_global_id(0);
  if (i < n) dx[dxo + i] = x[xo + i] > lo ? dy[dyo + i] : 0.0f;
}

#define BINARY(name, expr)                                                                      \
  __kernel void name(__global const float *a, ulong ao, __global const float *b, ulong bo,     \
                     __global float *y, ulong yo, int n) {                                      \
    int i = get_global_id(0);                                                                   \
    if (i < n) {                                                                                \
      float u = a[ao + i], v = b[bo + i];                                                       \
      y[yo + i] = (expr);                                                                       \
    }                                                                                           \
  }                                                                                             \
  __kernel void name##_bc(__global const float *a, ulong ao, __global const float *b, ulong bo, \
                          __global float *y, ulong yo, int4 shape, int4 sa, int4 sb) {          \
    int i3 = get_global_id(0), i2 = get_global_id(1), i01 = get_global_id(2);                  \
    int i1 = i01 % shape.y, i0 = i01 / shape.y;                                                 \
    float u = a[ao + i0 * sa.x + i1 * sa.y + i2 * sa.z + A_IN(i3)];                            \
    float v = b[bo + i0 * sb.x + i1 * sb.y + i2 * sb.z + B_IN(i3)];                            \
    y[yo + ((i01 * shape.z) + i2) * shape.w + i3] = (expr);                                     \
  }
BINARY(k_add, u + v)
BINARY(k_sub, u - v)
BINARY(k_mul, u * v)
BINARY(k_div, u / v)
/* backward helpers: u is x (or y for tanh), v is dy; SiLU's as UNARY_V's vectors, VW a work-item */
__kernel void k_silu_bwd(__global const float *a, ulong ao, __global const float *b, ulong bo, __global float *y,
                         ulong yo, int n) {
#define SILU_BWD(u, v) ((v) * (1.0f / (1.0f + exp(-(u)))) * (1.0f + (u) * (1.0f - 1.0f / (1.0f + exp(-(u))))))
  int i = get_global_id(0) * VW;
  if (i + VW <= n) {
    float16 u = vload16(0, a + ao + i), v = vload16(0, b + bo + i);
    vstore16(SILU_BWD(u, v), 0, y + yo + i);
  } else
    for (; i < n; i++) y[yo + i] = SILU_BWD(a[ao + i], b[bo + i]);
}
BINARY(k_relu_bwd, u > 0.0f ? v : 0.0f)
BINARY(k_tanh_bwd, v * (1.0f - u * u))
