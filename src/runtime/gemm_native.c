/* Device addresses of buffers for the host GEMM's native kernels (gemm_onednn.c). A native kernel
 * is handed its buffers' addresses by the OpenCL implementation, but PoCL 3.1 writes them in the
 * order of its own list of the command's buffers, not of the caller's (an A, B and C in two
 * buffers came out shifted by one). With one buffer per command the order cannot go wrong, so
 * each buffer's address is learnt once by a one-buffer native kernel and kept here until the
 * buffer is released (a destructor callback forgets it, so that a new buffer with the handle of a
 * freed one is learnt anew). On a CPU device sharing the host's memory a buffer lives where it was
 * first allocated, so later native kernels can take the address as a plain argument. */
#include "runtime/gemm.h"
#include <pthread.h>

#define MAX_BUFFERS 1024
typedef struct {
  cl_mem mem;
  void *addr;
} known_buffer;
static known_buffer known[MAX_BUFFERS];
static int n_known;
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;

static int find(cl_mem mem) {
  for (int i = 0; i < n_known; i++)
    if (known[i].mem == mem) return i;
  return -1;
}

static void CL_CALLBACK forget(cl_mem mem, void *unused) {
  (void)unused;
  pthread_mutex_lock(&known_lock);
  int i = find(mem);
  if (i >= 0) known[i] = known[--n_known];
  pthread_mutex_unlock(&known_lock);
}

typedef struct {
  cl_mem mem; /* the implementation writes the buffer's address here */
  void **out;
} probe_args;

static void CL_CALLBACK probe(void *p) {
  probe_args *a = p;
  *a->out = (void *)a->mem;
}

void *cld_buffer_device_addr(cld_ctx *ctx, cl_mem mem) {
  pthread_mutex_lock(&known_lock);
  int i = find(mem);
  void *addr = i >= 0 ? known[i].addr : NULL;
  bool full = n_known == MAX_BUFFERS;
  pthread_mutex_unlock(&known_lock);
  if (addr || full) return addr;
  probe_args a = {mem, &addr};
  const void *loc = &a.mem;
  if (clEnqueueNativeKernel(ctx->queue, probe, &a, sizeof a, 1, &mem, &loc, 0, NULL, NULL) != CL_SUCCESS ||
      clFinish(ctx->queue) != CL_SUCCESS || !addr ||
      clSetMemObjectDestructorCallback(mem, forget, NULL) != CL_SUCCESS)
    return NULL;
  pthread_mutex_lock(&known_lock);
  if (find(mem) < 0 && n_known < MAX_BUFFERS) known[n_known++] = (known_buffer){mem, addr};
  pthread_mutex_unlock(&known_lock);
  return addr;
}

int cld_buffer_device_addrs_known(void) {
  pthread_mutex_lock(&known_lock);
  int n = n_known;
  pthread_mutex_unlock(&known_lock);
  return n;
}
