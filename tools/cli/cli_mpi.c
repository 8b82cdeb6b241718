/* The CLI under an MPI launcher (mpirun -np N cldiff train|sample ...): one communicator for the
 * whole process, rank -> device by local rank, and a job that ends on every rank when one fails.
 * Without MPI built in (or not launched by mpirun) the CLI is one process and cli_comm() is NULL. */
#include "cli.h"
#include <stdio.h>
#ifdef CLDIFF_HAVE_MPI
#include "comm_mpi.h"
static cld_comm world;
static bool started;
#endif

void cli_mpi_start(int *argc, char ***argv) {
#ifdef CLDIFF_HAVE_MPI
  if (!cld_mpi_launched()) return;
  if (cld_mpi_init(argc, argv, &world) != 0) {
    fprintf(stderr, "cldiff: MPI_Init failed; running as one process\n");
    return;
  }
  started = true;
#else
  (void)argc;
  (void)argv;
#endif
}

int cli_mpi_end(int rc) {
#ifdef CLDIFF_HAVE_MPI
  /* 130: every rank stopped together after a signal (the step agreed on, rank 0 saved): a clean end */
  if (started && rc != 0 && rc != 130 && world.size > 1) {
    fprintf(stderr, "cldiff: rank %d failed (exit %d); ending every rank of the job\n", world.rank, rc);
    cld_mpi_abort(rc);
  }
  if (started) cld_mpi_finalize();
#endif
  return rc;
}

const cld_comm *cli_comm(void) {
#ifdef CLDIFF_HAVE_MPI
  return started && world.size > 1 ? &world : NULL;
#else
  return NULL;
#endif
}

int cli_rank(void) { return cli_comm() ? cli_comm()->rank : 0; }

int cli_local_rank(void) {
#ifdef CLDIFF_HAVE_MPI
  return cli_comm() ? cld_mpi_local_rank() : 0;
#else
  return 0;
#endif
}
