/* A communicator: the collective operations that data-parallel training and sharded sampling
 * need. The library calls only these and links no MPI: cldiff_mpi.h gives one over MPI (built
 * when CMake finds MPI), an application can hand in its own (NCCL, RCCL, a socket ring). Every
 * rank makes the same calls in the same order. */
#ifndef CLDIFF_COMM_H
#define CLDIFF_COMM_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cld_comm {
  int rank, size;   /* this process and how many take part (size 1: alone) */
  void *user;       /* handed to every operation */
  /* buf (n floats) becomes the sum over the ranks on every rank. For results that do not depend
   * on the number of ranks bit for bit, the sum must be taken in rank order, ((x0 + x1) + x2) + ...,
   * in float (cldiff_mpi's is); a faster unordered one (NCCL's) gives equal results only up to
   * rounding. 0 on success. */
  int (*allreduce_sum)(void *user, float *buf, size_t n);
  /* bytes from root's buf into every other rank's; 0 on success */
  int (*broadcast)(void *user, void *buf, size_t bytes, int root);
  /* each rank's `bytes` into root's recv (size * bytes, in rank order; recv unused elsewhere) */
  int (*gather)(void *user, const void *send, size_t bytes, void *recv, int root);
  /* a stop request from this rank: true on every rank when any rank asked (a signal, a failure);
   * NULL: never */
  bool (*any)(void *user, bool mine);
} cld_comm;

/* The one-process communicator (rank 0 of 1): every operation is a copy or nothing. */
CLD_API const cld_comm *cld_comm_single(void);

#ifdef __cplusplus
}
#endif
#endif
