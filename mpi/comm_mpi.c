/* cld_comm over MPI (comm_mpi.h). The gradient sum is taken in rank order, in float, as a
 * pipelined chain: chunk by chunk, rank r receives the partial sum x0 + ... + x(r-1) from rank
 * r - 1, adds its own part and passes it on; the last rank then holds ((x0 + x1) + x2) + ... and
 * broadcasts it. So N ranks sum exactly as one process summing N micro-batches does, and each
 * rank sends and receives about one buffer per all-reduce, not rank 0 the N - 1 others' (as a
 * gather would). MPI_Reduce's order is the implementation's and is not used. */
#include "comm_mpi.h"
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK ((size_t)1 << 20) /* floats per message of the all-reduce: bounds the staging buffer */

static int mpi_allreduce(void *user, float *buf, size_t n) {
  (void)user;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size == 1) return 0;
  float *tmp = rank > 0 ? malloc((n < CHUNK ? n : CHUNK) * sizeof(float) + 1) : NULL;
  if (rank > 0 && !tmp) return -1;
  int rc = MPI_SUCCESS;
  for (size_t off = 0; off < n && rc == MPI_SUCCESS; off += CHUNK) { /* the chain, chunk after chunk */
    int len = (int)(n - off < CHUNK ? n - off : CHUNK);
    if (rank > 0 && (rc = MPI_Recv(tmp, len, MPI_FLOAT, rank - 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE)) == MPI_SUCCESS)
      for (int i = 0; i < len; i++) buf[off + (size_t)i] = tmp[i] + buf[off + (size_t)i];
    if (rc == MPI_SUCCESS && rank < size - 1) rc = MPI_Send(buf + off, len, MPI_FLOAT, rank + 1, 7, MPI_COMM_WORLD);
  }
  for (size_t off = 0; off < n && rc == MPI_SUCCESS; off += CHUNK) {
    int len = (int)(n - off < CHUNK ? n - off : CHUNK);
    rc = MPI_Bcast(buf + off, len, MPI_FLOAT, size - 1, MPI_COMM_WORLD);
  }
  free(tmp);
  return rc == MPI_SUCCESS ? 0 : -1;
}

static int mpi_broadcast(void *user, void *buf, size_t bytes, int root) {
  (void)user;
  for (size_t off = 0; off < bytes; off += INT_MAX) {
    int len = (int)(bytes - off < (size_t)INT_MAX ? bytes - off : (size_t)INT_MAX);
    if (MPI_Bcast((char *)buf + off, len, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
  }
  return 0;
}

static int mpi_gather(void *user, const void *send, size_t bytes, void *recv, int root) {
  (void)user;
  if (bytes > INT_MAX) return -1;
  return MPI_Gather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

static bool mpi_any(void *user, bool mine) {
  (void)user;
  int in = mine, out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
  return out != 0;
}

bool cld_mpi_launched(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", NULL};
  for (int i = 0; vars[i]; i++)
    if (getenv(vars[i])) return true;
  return false;
}

int cld_mpi_init(int *argc, char ***argv, cld_comm *out) {
  if (MPI_Init(argc, argv) != MPI_SUCCESS) return -1;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  *out = (cld_comm){rank, size, NULL, mpi_allreduce, mpi_broadcast, mpi_gather, mpi_any};
  return 0;
}

int cld_mpi_local_rank(void) {
  MPI_Comm local;
  int rank = 0;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) != MPI_SUCCESS) return 0;
  MPI_Comm_rank(local, &rank);
  MPI_Comm_free(&local);
  return rank;
}

void cld_mpi_finalize(void) { MPI_Finalize(); }
void cld_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
