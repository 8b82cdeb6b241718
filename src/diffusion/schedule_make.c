/* A schedule for a caller with a context: the error says whether the arguments were bad or the
 * host was out of memory (cld_schedule_create's NULL means either). */
#include "diffusion/schedule_make.h"
#include "runtime/runtime.h"
#include <errno.h>

cld_status cld_schedule_make(cld_ctx *ctx, const char *who, int kind, int T, cld_schedule **out) {
  *out = cld_schedule_create((cld_beta_schedule)kind, T);
  if (*out) return CLD_OK;
  if (errno != ENOMEM) /* cld_schedule_create sets EINVAL for a bad kind, T or betas */
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "%s: bad schedule %s with T=%d", who,
                      cld_beta_schedule_name((cld_beta_schedule)kind), T);
  return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory for a %d-step schedule", who, T);
}
