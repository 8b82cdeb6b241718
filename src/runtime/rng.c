/* Philox4x32-10 on the host (the reference the device kernels in cl/rng.cl must match) and
 * device generation through a context. The stream layout is documented in cl/rng.cl. */
#include "runtime/runtime.h"
#include <math.h>
#include <stdlib.h>

void cld_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; r++) {
    if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static void block(uint64_t seed, uint32_t stream, uint64_t b, uint32_t x[4]) {
  uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), stream, 0}, key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  cld_philox4x32_10(ctr, key, x);
}

static float u01(uint32_t x) { return (float)(x >> 8) * 0x1.0p-24f; }

void cld_rng_uniform_host(uint64_t seed, uint32_t stream, uint64_t offset, size_t n, float *out) {
  for (size_t i = 0; i < n;) {
    uint64_t e = offset + i, b = e / 4;
    uint32_t x[4];
    block(seed, stream, b, x);
    for (unsigned l = (unsigned)(e % 4); l < 4 && i < n; l++, i++) out[i] = u01(x[l]);
  }
}

void cld_rng_normal_host(uint64_t seed, uint32_t stream, uint64_t offset, size_t n, float *out) {
  for (size_t i = 0; i < n;) {
    uint64_t e = offset + i, b = e / 4;
    uint32_t x[4];
    block(seed, stream, b, x);
    float z[4];
    for (int p = 0; p < 2; p++) {
      float u1 = (float)((x[2 * p] >> 8) + 1u) * 0x1.0p-24f, u2 = u01(x[2 * p + 1]);
      float r = sqrtf(-2.0f * logf(u1)), th = 6.283185307179586f * u2;
      z[2 * p] = r * cosf(th);
      z[2 * p + 1] = r * sinf(th);
    }
    for (unsigned l = (unsigned)(e % 4); l < 4 && i < n; l++, i++) out[i] = z[l];
  }
}

static cld_status device_fill(cld_ctx *ctx, const char *kname, uint64_t seed, uint32_t stream, uint64_t offset, size_t n,
                              float *out) {
  if (!ctx || !out || n == 0 || n > INT32_MAX) return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "rng: bad arguments") : CLD_ERR_INVALID_ARG;
  cl_kernel k;
  cld_status st = cld_kernel_create(ctx, "rng", "-cl-std=CL1.2", kname, &k);
  if (st) return st;
  cl_int e;
  cl_mem buf = clCreateBuffer(ctx->context, CL_MEM_WRITE_ONLY, n * sizeof(float), NULL, &e);
  if (e != CL_SUCCESS) { clReleaseKernel(k); return cld_clerr(ctx, e, "rng buffer"); }
  cl_ulong yo = 0, off = offset;
  cl_int ni = (cl_int)n;
  cl_uint4 key = {{(cl_uint)seed, (cl_uint)(seed >> 32), stream, 0}};
  e = clSetKernelArg(k, 0, sizeof buf, &buf);
  e |= clSetKernelArg(k, 1, sizeof yo, &yo);
  e |= clSetKernelArg(k, 2, sizeof ni, &ni);
  e |= clSetKernelArg(k, 3, sizeof key, &key);
  e |= clSetKernelArg(k, 4, sizeof off, &off);
  size_t blocks = (size_t)((offset + n + 3) / 4 - offset / 4);
  if (e == CL_SUCCESS) e = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &blocks, NULL, 0, NULL, NULL);
  if (e == CL_SUCCESS) e = clEnqueueReadBuffer(ctx->queue, buf, CL_TRUE, 0, n * sizeof(float), out, 0, NULL, NULL);
  clReleaseMemObject(buf);
  clReleaseKernel(k);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "rng kernel");
}

cld_status cld_rng_uniform(cld_ctx *ctx, uint64_t seed, uint32_t stream, uint64_t offset, size_t n, float *out) {
  return device_fill(ctx, "k_rng_uniform", seed, stream, offset, n, out);
}
cld_status cld_rng_normal(cld_ctx *ctx, uint64_t seed, uint32_t stream, uint64_t offset, size_t n, float *out) {
  return device_fill(ctx, "k_rng_normal", seed, stream, offset, n, out);
}

int cld_rng_permutation_host(uint64_t seed, uint32_t stream, int64_t n, int64_t *perm) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  float *u = malloc((size_t)(n > 0 ? n : 1) * sizeof *u);
  if (!u) return -1;
  cld_rng_uniform_host(seed, stream, 0, (size_t)n, u);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(u[i] * (float)(i + 1));
    if (j > i) j = i;
    int64_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  free(u);
  return 0;
}
