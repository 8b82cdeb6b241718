/* cldiff_mpi: a cld_comm (cldiff/comm.h) over MPI_COMM_WORLD, with standard MPI calls only (Open
 * MPI, MPICH). Built when CMake finds MPI; the library itself links no MPI. */
#ifndef CLDIFF_COMM_MPI_H
#define CLDIFF_COMM_MPI_H
#include "cldiff/comm.h"

/* True when this process was started by an MPI launcher (mpirun, mpiexec, srun). */
bool cld_mpi_launched(void);
/* MPI_Init and the communicator in *out; 0 on success. */
int cld_mpi_init(int *argc, char ***argv, cld_comm *out);
/* this rank's index among the ranks on its host (to pick a device), 0 without one */
int cld_mpi_local_rank(void);
void cld_mpi_finalize(void);
/* ends every rank of the job (after a failure on this one, so that none waits forever) */
void cld_mpi_abort(int code);
#endif
