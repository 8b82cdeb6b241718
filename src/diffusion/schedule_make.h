/* Internal: cld_schedule_create with the failure reported on a context. */
#ifndef CLDIFF_SCHEDULE_MAKE_H
#define CLDIFF_SCHEDULE_MAKE_H
#include "cldiff/cldiff.h"

/* *out = the schedule, or an error naming who asked: a bad kind or T, or out of host memory */
cld_status cld_schedule_make(cld_ctx *ctx, const char *who, int kind, int T, cld_schedule **out);
#endif
