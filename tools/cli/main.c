/* cldiff command-line entry: dispatches to one file per subcommand. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f,
          "cldiff %s - train and sample diffusion models on any OpenCL device\n\n"
          "usage: cldiff <command> [options]\n\n"
          "commands:\n"
          "  train                train a diffusion model (progress bar, JSONL log, checkpoints)\n"
          "  sample               sample images from a checkpoint into a PNG grid / .npy\n"
          "  info DIR             describe a run, checkpoint or diffusers model directory\n"
          "  train-classifier     train the feature network of `eval fid` on a labelled dataset\n"
          "  eval fid|toy|exposure  FID/KID/precision/recall, 2-D toy metrics, exposure-bias curves\n"
          "  plot                 PNG charts of training logs and metric / exposure CSVs\n"
          "  devices              list OpenCL platforms and devices and what cldiff can use\n"
          "  bench ops|gemm|peak  time ops (GB/s), GEMM shapes (GFLOP/s) or the device FMA peak\n"
          "  tune                 measure GEMM candidates on this device and store the winners\n"
          "  cache                the kernel and tuning cache: where it is, --verify, --clear\n\n"
          "common options:\n"
          "  --device D         device index or name substring (default: $CLDIFF_DEVICE, else a GPU,\n"
          "                     else the first usable device)\n"
          "  --gemm P           GEMM provider: auto (tuned, default), tiled, clblast, host (CPU\n"
          "                     devices: the host's BLAS on the shared memory)\n\n"
          "environment: CLDIFF_DEVICE, CLDIFF_CACHE_DIR (kernel and tuning cache),\n"
          "             CLDIFF_CL_DIR (load cl/*.cl from disk while developing)\n"
          "several devices or hosts: mpirun -np N cldiff train|sample ... (one rank per device, by\n"
          "             local rank unless --device; README: \"Several GPUs\")\n"
          "Run `cldiff <command> --help` for a command's options.\n",
          cld_version());
}

static int dispatch(int argc, char **argv) {
  const char *cmd = argv[1];
  if (!strcmp(cmd, "devices")) return cmd_devices(argc - 1, argv + 1);
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
  if (!strcmp(cmd, "tune")) return cmd_tune(argc - 1, argv + 1);
  if (!strcmp(cmd, "cache")) return cmd_cache(argc - 1, argv + 1);
  if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
  if (!strcmp(cmd, "sample")) return cmd_sample(argc - 1, argv + 1);
  if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
  if (!strcmp(cmd, "train-classifier")) return cmd_train_classifier(argc - 1, argv + 1);
  if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
  if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
  fprintf(stderr, "cldiff: unknown command '%s' (see cldiff --help)\n", cmd);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version")) {
    printf("cldiff %s\n", cld_version());
    return 0;
  }
  cli_mpi_start(&argc, &argv); /* under mpirun: one rank of a job */
  return cli_mpi_end(dispatch(argc, argv));
}
