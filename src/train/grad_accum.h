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
/* The overlapped all-reduce of a rank's last micro-batch: begin installs a launch hook on g that,
 * as each bucket's gradients are written, adds them into acc (acc = them when first) and starts
 * their read-back; after cld_graph_compute(g), end (with compute's status) takes each bucket's
 * sum over the ranks in the buckets' order, writes it back and removes the hook. Every rank's
 * graph is the same, so are the buckets and their order. */
cld_status cld_grad_accum_overlap_begin(cld_grad_accum *a, cld_graph *g, bool first, float bucket_mb);
cld_status cld_grad_accum_overlap_end(cld_grad_accum *a, cld_graph *g, const cld_comm *c, cld_status st);
/* the store's gradients = acc * scale */
cld_status cld_grad_accum_finish(cld_grad_accum *a, float scale);
#endif
