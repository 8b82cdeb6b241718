/* Gradient accumulation (grad_accum.h): one extra device buffer the size of the store's
 * gradients. Sums are taken in micro-batch order on the device and in rank order over the
 * communicator, in float, so N ranks of one micro-batch each sum exactly as one process of N
 * micro-batches does. Over ranks, the buffer is reduced whole after the backward pass or in
 * buckets during it (the same sums, element by element). */
#include "train/grad_accum.h"
#include "graph/graph_internal.h"
#include <stdlib.h>

/* consecutive parameters' gradients, all-reduced together once launch `ready` has run */
typedef struct {
  size_t off, n;
  int ready;
  cl_event read; /* the bucket's read-back, pending between the hook and overlap_end */
} grad_bucket;

struct cld_grad_accum {
  cld_store *s;
  cl_mem acc;
  cl_kernel k_acc, k_scale;
  float *host; /* staging for the communicator, allocated on first use */
  /* the buckets of one graph, in the order they become ready (planned on first use) */
  const cld_graph *planned;
  size_t bucket_floats;
  grad_bucket *b;
  int nb, next;
  bool first; /* the overlapped micro-batch is the rank's first: acc = its gradients */
};

void cld_grad_accum_destroy(cld_grad_accum *a) {
  if (!a) return;
  /* a bucket read may still be pending into the staging if its error path could not drain the
   * queue (a failed clFinish): wait here, before the staging is freed */
  if (a->host) clFinish(a->s->ctx->queue);
  if (a->acc) clReleaseMemObject(a->acc);
  if (a->k_acc) clReleaseKernel(a->k_acc);
  if (a->k_scale) clReleaseKernel(a->k_scale);
  for (int i = 0; i < a->nb; i++)
    if (a->b[i].read) clReleaseEvent(a->b[i].read);
  free(a->b);
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

/* kernel k over elements [off, off + n) (a global offset: the kernels index the whole buffers) */
static cld_status launch(cld_grad_accum *a, cl_kernel k, cl_mem x, cl_mem y, size_t off, size_t n, const void *last,
                         size_t last_size, const char *what) {
  cld_ctx *ctx = a->s->ctx;
  cl_int end = (cl_int)(off + n), e = CL_SUCCESS;
  e |= clSetKernelArg(k, 0, sizeof(cl_mem), &x);
  e |= clSetKernelArg(k, 1, sizeof(cl_mem), &y);
  e |= clSetKernelArg(k, 2, sizeof end, &end);
  e |= clSetKernelArg(k, 3, last_size, last);
  size_t gws = (n + 255) / 256 * 256;
  if (e == CL_SUCCESS && n) e = clEnqueueNDRangeKernel(ctx->queue, k, 1, &off, &gws, NULL, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, what);
}

cld_status cld_grad_accum_add(cld_grad_accum *a, bool first) {
  cl_int f = first;
  return launch(a, a->k_acc, a->acc, a->s->grads, 0, a->s->total, &f, sizeof f, "accumulating gradients");
}

cld_status cld_grad_accum_finish(cld_grad_accum *a, float scale) {
  return launch(a, a->k_scale, a->s->grads, a->acc, 0, a->s->total, &scale, sizeof scale,
                "scaling accumulated gradients");
}

static cld_status ensure_host(cld_grad_accum *a) {
  size_t bytes = a->s->total * sizeof(float);
  if (!a->host && !(a->host = malloc(bytes ? bytes : 1)))
    return cld_seterr(a->s->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  return CLD_OK;
}

cld_status cld_grad_accum_allreduce(cld_grad_accum *a, const cld_comm *c) {
  cld_ctx *ctx = a->s->ctx;
  size_t n = a->s->total, bytes = n * sizeof(float);
  cld_status st = ensure_host(a);
  if (st) return st;
  cl_int e = clEnqueueReadBuffer(ctx->queue, a->acc, CL_TRUE, 0, bytes, a->host, 0, NULL, NULL);
  if (e != CL_SUCCESS) return cld_clerr(ctx, e, "reading gradients for the all-reduce");
  if (c->allreduce_sum(c->user, a->host, n))
    return cld_seterr(ctx, CLD_ERR_IO, "train: the gradient all-reduce over %d ranks failed (rank %d)", c->size, c->rank);
  e = clEnqueueWriteBuffer(ctx->queue, a->acc, CL_TRUE, 0, bytes, a->host, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "writing all-reduced gradients");
}

static int by_ready(const void *x, const void *y) {
  const grad_bucket *p = x, *q = y;
  return p->ready != q->ready ? (p->ready < q->ready ? -1 : 1) : (p->off < q->off ? -1 : 1);
}

/* the buckets of graph g: consecutive parameters (store order) up to bucket_floats, each ready
 * after the last launch that writes one of its gradients, sorted by that launch */
static cld_status plan_buckets(cld_grad_accum *a, const cld_graph *g, size_t bucket_floats) {
  if (a->planned == g && a->bucket_floats == bucket_floats) return CLD_OK;
  const cld_store *s = a->s;
  free(a->b);
  a->planned = NULL;
  a->nb = 0;
  if (!(a->b = calloc((size_t)(s->n ? s->n : 1), sizeof *a->b)))
    return cld_seterr(s->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int i = 0; i < s->n; i++) {
    grad_bucket *b = &a->b[a->nb];
    if (b->n == 0) *b = (grad_bucket){s->p[i].off, 0, -1, NULL};
    b->n = (i + 1 < s->n ? s->p[i + 1].off : s->total) - b->off; /* the slot's padding too: the whole buffer is covered */
    int last = cld_graph_grad_last_launch(g, i);
    if (last > b->ready) b->ready = last;
    if (b->n > 0 && (b->n >= bucket_floats || i == s->n - 1)) a->nb++;
  }
  qsort(a->b, (size_t)a->nb, sizeof *a->b, by_ready);
  a->planned = g;
  a->bucket_floats = bucket_floats;
  return CLD_OK;
}

/* the launch hook: every bucket whose gradients are final after launch i is summed into the
 * accumulator and read back without blocking (the queue is in order: after launch i) */
static cld_status bucket_hook(void *user, int i) {
  cld_grad_accum *a = user;
  cld_ctx *ctx = a->s->ctx;
  cl_int f = a->first;
  bool any = false;
  for (; a->next < a->nb && a->b[a->next].ready <= i; a->next++) {
    grad_bucket *b = &a->b[a->next];
    cld_status st = launch(a, a->k_acc, a->acc, a->s->grads, b->off, b->n, &f, sizeof f, "accumulating gradients");
    if (st) return st;
    cl_int e = clEnqueueReadBuffer(ctx->queue, a->acc, CL_FALSE, b->off * sizeof(float), b->n * sizeof(float),
                                   a->host + b->off, 0, NULL, &b->read);
    if (e != CL_SUCCESS) return cld_clerr(ctx, e, "reading a gradient bucket for the all-reduce");
    any = true;
  }
  cl_int e = any ? clFlush(ctx->queue) : CL_SUCCESS; /* start them now, not at the next blocking call */
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "clFlush");
}

cld_status cld_grad_accum_overlap_begin(cld_grad_accum *a, cld_graph *g, bool first, float bucket_mb) {
  size_t floats = (size_t)((double)bucket_mb * (1 << 20) / sizeof(float));
  a->next = 0; /* nothing pending, whatever fails below */
  cld_status st = ensure_host(a);
  if (!st) st = plan_buckets(a, g, floats ? floats : 1);
  if (st) return st;
  a->first = first;
  cld_graph_set_launch_hook(g, bucket_hook, a);
  return CLD_OK;
}

cld_status cld_grad_accum_overlap_end(cld_grad_accum *a, cld_graph *g, const cld_comm *c, cld_status st) {
  cld_ctx *ctx = a->s->ctx;
  cld_graph_set_launch_hook(g, NULL, NULL);
  if (!st && a->next != a->nb)
    st = cld_seterr(ctx, CLD_ERR_STATE, "train: %d of %d gradient buckets were never ready", a->nb - a->next, a->nb);
  for (int k = 0; k < a->next; k++) {
    grad_bucket *b = &a->b[k];
    cl_int e = st || !b->read ? CL_SUCCESS : clWaitForEvents(1, &b->read);
    if (b->read) clReleaseEvent(b->read);
    b->read = NULL;
    if (e != CL_SUCCESS) st = cld_clerr(ctx, e, "reading a gradient bucket for the all-reduce");
    else if (!st && c->allreduce_sum(c->user, a->host + b->off, b->n))
      st = cld_seterr(ctx, CLD_ERR_IO, "train: the gradient all-reduce over %d ranks failed (rank %d)", c->size, c->rank);
    if (!st && (e = clEnqueueWriteBuffer(ctx->queue, a->acc, CL_FALSE, b->off * sizeof(float), b->n * sizeof(float),
                                         a->host + b->off, 0, NULL, NULL)) != CL_SUCCESS)
      st = cld_clerr(ctx, e, "writing all-reduced gradients");
  }
  if (st) clFinish(ctx->queue); /* nothing still reads into or writes from the staging */
  return st;
}
