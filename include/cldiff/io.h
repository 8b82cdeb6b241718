/* cldiff file formats: safetensors (parameters, checkpoints, golden data). Errors name the file
 * and the problem (tensor, field or byte offset) in the context's message. */
#ifndef CLDIFF_IO_H
#define CLDIFF_IO_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cld_ctx cld_ctx;
typedef struct cld_store cld_store;

/* ---- safetensors files ------------------------------------------------------------------ */
typedef struct cld_safetensors cld_safetensors;
/* Opens and validates a file (header JSON, dtypes, shapes, offsets inside the file, no
 * overlaps). Supported dtypes: F32, F16, BF16, F64 (read as float). ctx receives the error. */
CLD_API cld_status cld_safetensors_open(cld_ctx *ctx, const char *path, cld_safetensors **out);
CLD_API void cld_safetensors_close(cld_safetensors *st);
CLD_API int cld_safetensors_count(const cld_safetensors *st);
CLD_API const char *cld_safetensors_name(const cld_safetensors *st, int i);
CLD_API int cld_safetensors_find(const cld_safetensors *st, const char *name);
/* ndim, and the shape into shape[0..7]; -1 if i is out of range */
CLD_API int cld_safetensors_shape(const cld_safetensors *st, int i, int64_t shape[8]);
CLD_API int64_t cld_safetensors_numel(const cld_safetensors *st, int i);
/* Converts tensor i to float32 into out (numel floats). */
CLD_API cld_status cld_safetensors_read(cld_safetensors *st, int i, float *out);
/* The "__metadata__" value for key, or NULL. */
CLD_API const char *cld_safetensors_metadata(const cld_safetensors *st, const char *key);

/* Writes F32 tensors atomically (temp file, fsync, rename). metadata: NULL-terminated
 * key/value pairs or NULL. */
typedef struct cld_st_entry { const char *name; int ndim; const int64_t *shape; const float *data; } cld_st_entry;
CLD_API cld_status cld_safetensors_write(cld_ctx *ctx, const char *path, const cld_st_entry *entries, int n,
                                         const char *const *metadata);

/* ---- parameter stores ------------------------------------------------------------------- */
/* Saves every parameter of the store under its name. */
CLD_API cld_status cld_store_save(cld_store *s, const char *path, const char *const *metadata);
/* Loads every parameter of the store from the file; a missing tensor or a shape mismatch fails
 * naming both, and nothing is written to the store unless every tensor checks out. Tensors in
 * the file that the store does not have are ignored (reported through *n_unused if non-NULL). */
CLD_API cld_status cld_store_load(cld_store *s, const char *path, int *n_unused);
#ifdef __cplusplus
}
#endif
#endif
