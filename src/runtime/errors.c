/* The runtime's ground floor: status names and the per-context error message (printf-style, and
 * for failed OpenCL calls with the error's name). Everything in cldiff reports through these. */
#include "runtime/runtime.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cld_status_str(cld_status s) {
  switch (s) {
  case CLD_OK: return "ok";
  case CLD_ERR_INVALID_ARG: return "invalid argument";
  case CLD_ERR_NO_DEVICE: return "no device";
  case CLD_ERR_UNSUPPORTED: return "unsupported device";
  case CLD_ERR_BUILD: return "kernel build failed";
  case CLD_ERR_CL: return "OpenCL error";
  case CLD_ERR_NOMEM: return "out of memory";
  case CLD_ERR_IO: return "I/O error";
  case CLD_ERR_SHAPE: return "bad shape";
  case CLD_ERR_FORMAT: return "bad file format";
  case CLD_ERR_STATE: return "bad state";
  case CLD_ERR_GEMM: return "GEMM failed";
  case CLD_ERR_NONFINITE: return "non-finite loss or gradient";
  default: return "unknown status";
  }
}

cld_status cld_seterr(cld_ctx *ctx, cld_status st, const char *fmt, ...) {
  if (!ctx) return st;
  char msg[sizeof ctx->errmsg]; /* an argument may be the current message ("...: %s", errmsg) */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  memcpy(ctx->errmsg, msg, sizeof msg);
  return st;
}

cld_status cld_clerr(cld_ctx *ctx, cl_int e, const char *what) {
  return cld_seterr(ctx, e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_HOST_MEMORY ||
                                 e == CL_OUT_OF_RESOURCES ? CLD_ERR_NOMEM : CLD_ERR_CL,
                    "%s: %s (%d)", what, cld_cl_errstr(e), (int)e);
}

const char *cld_cl_errstr(cl_int e) {
  switch (e) {
#define E(x) case x: return #x;
  E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
  E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
  E(CL_BUILD_PROGRAM_FAILURE) E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE) E(CL_INVALID_BINARY)
  E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM) E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL)
  E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS)
  E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
  E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_BUFFER_SIZE)
  E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_CONTEXT) E(CL_INVALID_PLATFORM)
  E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
#undef E
  default: return "CL_UNKNOWN_ERROR";
  }
}

