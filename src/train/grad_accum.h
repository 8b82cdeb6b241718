/* Internal: gradients summed over micro-batches on the device, and over ranks through a
 * communicator (host staging), then scaled back into the store's gradient buffer. */
#ifndef CLDIFF_GRAD_ACCUM_H
#define CLDIFF_GRAD_ACCUM_H
#include "cldiff/cldiff.h"
#include "cldiff/comm.h"

typedef struct cld_grad_accum cld_grad_accum;
cld_status cld_grad_accum_create(cld_store *s, cld_grad_accum **out);
void cld_grad_accum_destroy(cld_grad_accum *a);
/* acc = the store's gradients (first) or acc + them */
cld_status cld_grad_accum_add(cld_grad_accum *a, bool first);
/* acc = its sum over the communicator's ranks (read back, reduced in rank order, written back) */
cld_status cld_grad_accum_allreduce(cld_grad_accum *a, const cld_comm *c);
/* the store's gradients = acc * scale */
cld_status cld_grad_accum_finish(cld_grad_accum *a, float scale);
#endif
