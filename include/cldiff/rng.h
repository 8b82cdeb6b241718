/* cldiff random numbers: Philox4x32-10 (Salmon et al. 2011), counter-based and identical on
 * every device. A stream of numbers is keyed by (seed, stream); element i of it is a pure
 * function of (seed, stream, offset + i), so results never depend on batch size or device. */
#ifndef CLDIFF_RNG_H
#define CLDIFF_RNG_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cld_ctx cld_ctx;

/* The raw block function: 10 rounds over a 4x32 counter with a 2x32 key. */
CLD_API void cld_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* Host versions of the device generators (same bits for uniform; normals within a few ulp). */
CLD_API void cld_rng_uniform_host(uint64_t seed, uint32_t stream, uint64_t offset, size_t n, float *out);
CLD_API void cld_rng_normal_host(uint64_t seed, uint32_t stream, uint64_t offset, size_t n, float *out);
/* A permutation of 0..n-1 (Fisher-Yates on Philox(seed, stream) uniforms); 0, or -1 when out of memory. */
CLD_API int cld_rng_permutation_host(uint64_t seed, uint32_t stream, int64_t n, int64_t *perm);
/* Device generation into a host array through the context (tests, tools). */
CLD_API cld_status cld_rng_uniform(cld_ctx *ctx, uint64_t seed, uint32_t stream, uint64_t offset, size_t n, float *out);
CLD_API cld_status cld_rng_normal(cld_ctx *ctx, uint64_t seed, uint32_t stream, uint64_t offset, size_t n, float *out);
#ifdef __cplusplus
}
#endif
#endif
