/* 2-D toy distributions, defined exactly as the engine issue states; every draw is Philox keyed
 * (seed, stream), so a set is reproducible on any machine:
 *   8gaussians    equal weights, centres 2(cos 2 pi k/8, sin 2 pi k/8), std 0.02
 *   25gaussians   centres (i, j), i, j in {-2..2}, std 0.05
 *   moons         sklearn make_moons geometry with noise std 0.1 (in sklearn's units), then
 *                 centred by (0.5, 0.25) and scaled by 2; the moon is a fair coin and the angle
 *                 uniform on [0, pi] (i.i.d. draws instead of sklearn's even grid)
 *   swissroll     t (cos t, sin t) / 5 with t = 1.5 pi (1 + 2u), u ~ U(0,1), plus N(0, 0.1^2)
 *   checkerboard  uniform on the 8 cells (i, j), i + j even, of the 4x4 board of unit cells
 *                 covering [-2, 2]^2 */
#include "runtime/runtime.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const char *const toy_names[] = {"8gaussians", "25gaussians", "moons", "swissroll", "checkerboard"};

int cld_toy_parse(const char *name) {
  for (int i = 0; i < 5; i++)
    if (name && !strcmp(name, toy_names[i])) return i;
  return -1;
}

cld_status cld_toy_sample(cld_ctx *ctx, const char *name, uint64_t seed, uint32_t stream, size_t n, float *out) {
  int kind = cld_toy_parse(name);
  if (kind < 0)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "toy '%s' unknown (8gaussians, 25gaussians, moons, swissroll, checkerboard)",
                      name ? name : "");
  float *u = malloc(4 * n * sizeof *u), *z = malloc(2 * n * sizeof *z);
  if (!u || !z) { free(u); free(z); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  cld_rng_uniform_host(seed, stream, 0, 4 * n, u);
  cld_rng_normal_host(seed, stream + 0x10000u, 0, 2 * n, z);
  for (size_t i = 0; i < n; i++) {
    const float *ui = u + 4 * i, *zi = z + 2 * i;
    double x = 0, y = 0;
    switch (kind) {
    case 0: {
      int k = (int)(ui[0] * 8) % 8;
      x = 2 * cos(2 * M_PI * k / 8) + 0.02 * zi[0];
      y = 2 * sin(2 * M_PI * k / 8) + 0.02 * zi[1];
      break;
    }
    case 1: {
      int k = (int)(ui[0] * 25) % 25;
      x = k / 5 - 2 + 0.05 * zi[0];
      y = k % 5 - 2 + 0.05 * zi[1];
      break;
    }
    case 2: {
      double a = M_PI * ui[1];
      if (ui[0] < 0.5f) { x = cos(a); y = sin(a); }
      else { x = 1 - cos(a); y = 1 - sin(a) - 0.5; }
      x = 2 * (x + 0.1 * zi[0] - 0.5);
      y = 2 * (y + 0.1 * zi[1] - 0.25);
      break;
    }
    case 3: {
      double t = 1.5 * M_PI * (1 + 2 * ui[0]);
      x = t * cos(t) / 5 + 0.1 * zi[0];
      y = t * sin(t) / 5 + 0.1 * zi[1];
      break;
    }
    default: {
      int cell = (int)(ui[0] * 8) % 8; /* the 8 cells with i + j even, row by row */
      int row = cell / 2, col = 2 * (cell % 2) + (row % 2);
      x = -2 + col + ui[1];
      y = -2 + row + ui[2];
      break;
    }
    }
    out[2 * i] = (float)x;
    out[2 * i + 1] = (float)y;
  }
  free(u);
  free(z);
  return CLD_OK;
}
