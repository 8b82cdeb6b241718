/* Gradient accumulation (grad_accum.h): one extra device buffer the size of the store's
 * gradients. Sums are taken in micro-batch order on the device and in rank order over the
 * communicator, in float, so N ranks of one micro-batch each sum exactly as one process of N
 * micro-batches does. */
#include "train/grad_accum.h"
#include "graph/graph_internal.h"
#include <stdlib.h>

struct cld_grad_accum {
  cld_store *s;
  cl_mem acc;
  cl_kernel k_acc, k_scale;
  float *host; /* staging for the communicator, allocated on first use */
};

void cld_grad_accum_destroy(cld_grad_accum *a) {
  if (!a) return;
  if (a->acc) clReleaseMemObject(a->acc);
  if (a->k_acc) clReleaseKernel(a->k_acc);
  if (a->k_scale) clReleaseKernel(a->k_scale);
  free(a->host);
  free(a);
}

cld_status cld_grad_accum_create(cld_store *s, cld_grad_accum **out) {
  cld_ctx *ctx = s->ctx;
  cld_grad_accum *a = calloc(1, sizeof *a);
  if (!a) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  a->s = s;
  cl_int e;
  cld_status st;
  a->acc = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, (s->total ? s->total : 1) * sizeof(float), NULL, &e);
  if (e != CL_SUCCESS) st = cld_clerr(ctx, e, "allocating the gradient accumulator");
  else if (!(st = cld_kernel_create(ctx, "grad_accum", "-cl-std=CL1.2", "k_accum", &a->k_acc)))
    st = cld_kernel_create(ctx, "grad_accum", "-cl-std=CL1.2", "k_scale_into", &a->k_scale);
  if (st) { cld_grad_accum_destroy(a); return st; }
  *out = a;
  return CLD_OK;
}

static cld_status launch(cld_grad_accum *a, cl_kernel k, cl_mem x, cl_mem y, const void *last, size_t last_size,
                         const char *what) {
  cld_ctx *ctx = a->s->ctx;
  cl_int n = (cl_int)a->s->total, e = CL_SUCCESS;
  e |= clSetKernelArg(k, 0, sizeof(cl_mem), &x);
  e |= clSetKernelArg(k, 1, sizeof(cl_mem), &y);
  e |= clSetKernelArg(k, 2, sizeof n, &n);
  e |= clSetKernelArg(k, 3, last_size, last);
  size_t gws = ((size_t)n + 255) / 256 * 256;
  if (e == CL_SUCCESS) e = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &gws, NULL, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, what);
}

cld_status cld_grad_accum_add(cld_grad_accum *a, bool first) {
  cl_int f = first;
  return launch(a, a->k_acc, a->acc, a->s->grads, &f, sizeof f, "accumulating gradients");
}

cld_status cld_grad_accum_finish(cld_grad_accum *a, float scale) {
  return launch(a, a->k_scale, a->s->grads, a->acc, &scale, sizeof scale, "scaling accumulated gradients");
}

cld_status cld_grad_accum_allreduce(cld_grad_accum *a, const cld_comm *c) {
  cld_ctx *ctx = a->s->ctx;
  size_t n = a->s->total, bytes = n * sizeof(float);
  if (!a->host && !(a->host = malloc(bytes ? bytes : 1))) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cl_int e = clEnqueueReadBuffer(ctx->queue, a->acc, CL_TRUE, 0, bytes, a->host, 0, NULL, NULL);
  if (e != CL_SUCCESS) return cld_clerr(ctx, e, "reading gradients for the all-reduce");
  if (c->allreduce_sum(c->user, a->host, n))
    return cld_seterr(ctx, CLD_ERR_IO, "train: the gradient all-reduce over %d ranks failed (rank %d)", c->size, c->rank);
  e = clEnqueueWriteBuffer(ctx->queue, a->acc, CL_TRUE, 0, bytes, a->host, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "writing all-reduced gradients");
}
