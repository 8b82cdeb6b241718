/* The ground floor of the public headers: the export macro, cld_status and its codes, and the
 * opaque handle types, so that every header of cldiff compiles on its own (in C and C++). */
#ifndef CLDIFF_BASE_H
#define CLDIFF_BASE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifndef CLD_API
#if defined(CLDIFF_BUILDING_SHARED)
#define CLD_API __attribute__((visibility("default")))
#else
#define CLD_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef int cld_status;
enum {
  CLD_OK = 0,
  CLD_ERR_INVALID_ARG = -1, /* a bad argument: NULL, out of range, unknown name */
  CLD_ERR_NO_DEVICE = -2,   /* no OpenCL platform/device, or none matches --device */
  CLD_ERR_UNSUPPORTED = -3, /* the device lacks something cldiff needs (e.g. OpenCL 1.2) */
  CLD_ERR_BUILD = -4,       /* an OpenCL program failed to build; the message holds the log */
  CLD_ERR_CL = -5,          /* an OpenCL call failed */
  CLD_ERR_NOMEM = -6,       /* host or device allocation failed */
  CLD_ERR_IO = -7,          /* a file could not be read or written */
  CLD_ERR_SHAPE = -8,       /* tensor shapes do not fit the op */
  CLD_ERR_FORMAT = -9,      /* a file is truncated, corrupt or foreign */
  CLD_ERR_STATE = -10,      /* call out of order (e.g. compute before plan) */
  CLD_ERR_GEMM = -11,       /* the GEMM provider failed */
  CLD_ERR_NONFINITE = -12   /* a training step's loss or gradient is NaN or Inf: the step was not applied */
};

/* opaque handles (each module's header documents its own) */
typedef struct cld_ctx cld_ctx;
typedef struct cld_store cld_store;
typedef struct cld_graph cld_graph;
typedef struct cld_tensor cld_tensor;
typedef struct cld_model cld_model;
typedef struct cld_schedule cld_schedule;
typedef struct cld_dataset cld_dataset;

#ifdef __cplusplus
}
#endif
#endif
