/* cld_comm over MPI (comm_mpi.h). The gradient sum is taken in rank order, in float, at rank 0
 * (chunk by chunk: receive rank r's part, add it), then broadcast, so N ranks sum exactly as one
 * process summing N micro-batches does; MPI_Reduce's order is the implementation's and is not
 * used. */
#include "comm_mpi.h"
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK ((size_t)1 << 20) /* floats per message of the all-reduce: bounds rank 0's buffer */

static int mpi_allreduce(void *user, float *buf, size_t n) {
  (void)user;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  float *tmp = rank == 0 ? malloc((n < CHUNK ? n : CHUNK) * sizeof(float) + 1) : NULL;
  if (rank == 0 && !tmp) return -1;
  int rc = MPI_SUCCESS;
  for (size_t off = 0; off < n && rc == MPI_SUCCESS; off += CHUNK) {
    int len = (int)(n - off < CHUNK ? n - off : CHUNK);
    if (rank == 0) {
      for (int r = 1; r < size && rc == MPI_SUCCESS; r++) {
        rc = MPI_Recv(tmp, len, MPI_FLOAT, r, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        for (int i = 0; i < len; i++) buf[off + (size_t)i] += tmp[i];
      }
    } else {
      rc = MPI_Send(buf + off, len, MPI_FLOAT, 0, 7, MPI_COMM_WORLD);
    }
    if (rc == MPI_SUCCESS) rc = MPI_Bcast(buf + off, len, MPI_FLOAT, 0, MPI_COMM_WORLD);
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
