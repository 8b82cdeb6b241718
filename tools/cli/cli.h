/* Shared pieces of the cldiff CLI: one file per subcommand, each a thin layer over the API. */
#ifndef CLDIFF_CLI_H
#define CLDIFF_CLI_H
#include "cldiff/cldiff.h"
#include <stdbool.h>

int cmd_devices(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train_classifier(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int eval_guidance(int argc, char **argv); /* `cldiff eval guidance` (cmd_eval_guidance.c) */
int eval_loss(int argc, char **argv);     /* `cldiff eval loss` (cmd_eval_loss.c) */
int cmd_plot(int argc, char **argv);

/* Parses --device D / --gemm P common options in place; returns 0, or 2 after printing an error. */
typedef struct cli_common { const char *device; const char *gemm; } cli_common;
/* Returns how many argv entries it consumed at i (0 if argv[i] is not a common option, -1 on error). */
int cli_common_opt(cli_common *c, int argc, char **argv, int i);
/* Creates a context from the common options, printing the error on failure. */
cld_ctx *cli_ctx(const cli_common *c);
double cli_now(void);
/* MPI (cli_mpi.c): started in main when an MPI launcher ran cldiff; cli_mpi_end finalizes, or
 * after a failure (rc != 0) aborts every rank so none waits forever; returns rc */
void cli_mpi_start(int *argc, char ***argv);
int cli_mpi_end(int rc);
const cld_comm *cli_comm(void); /* NULL for one process */
int cli_rank(void);             /* 0 for one process */
int cli_local_rank(void);       /* this rank's index on its host: its default device */
/* Parses M,N,K[,BATCH[,TA,TB]]; prints an error naming `who` and returns 2 when malformed. */
int cli_shape(const char *who, const char *v, cld_gemm_shape *s);
int bench_model(cli_common *co, bool train, const char *preset, int batch, int reps, bool json);
/* `mpirun -np N cldiff bench allreduce`: one gradient all-reduce of a preset's parameter count */
int bench_allreduce(cli_common *co, const char *model, long size, int reps, bool json);
/* the distinct GEMM shapes of one training step (forward: one forward pass) of a preset at a batch size (`cldiff tune --model`) */
int model_gemm_shapes(cli_common *co, const char *preset, int batch, bool forward, cld_gemm_shape *out, int cap, int *n);
#endif
