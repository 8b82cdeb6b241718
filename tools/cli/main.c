/* cldiff command-line entry: dispatches to one file per subcommand. */
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
          "  tune                 measure GEMM candidates on this device and store the winners\n\n"
          "common options:\n"
          "  --device D         device index or name substring (default: $CLDIFF_DEVICE, else a GPU,\n"
          "                     else the first usable device)\n"
          "  --gemm P           GEMM provider: auto (tuned, default), tiled, clblast\n\n"
          "environment: CLDIFF_DEVICE, CLDIFF_CACHE_DIR (kernel and tuning cache),\n"
          "             CLDIFF_CL_DIR (load cl/*.cl from disk while developing)\n"
          "Run `cldiff <command> --help` for a command's options.\n",
          cld_version());
}

int cli_common_opt(cli_common *c, int argc, char **argv, int i) {
  const char *a = argv[i];
  if (strcmp(a, "--device") && strcmp(a, "--gemm")) return 0;
  if (i + 1 >= argc) {
    fprintf(stderr, "cldiff: %s needs a value\n", a);
    return -1;
  }
  if (!strcmp(a, "--device")) c->device = argv[i + 1];
  else {
    const char *v = argv[i + 1];
    if (strcmp(v, "auto") && strcmp(v, "tiled") && strcmp(v, "clblast")) {
      fprintf(stderr, "cldiff: --gemm: '%s' is not one of auto, tiled, clblast\n", v);
      return -1;
    }
    c->gemm = v;
  }
  return 2;
}

cld_ctx *cli_ctx(const cli_common *c) {
  cld_ctx_params p = cld_ctx_params_default();
  p.device = c->device;
  if (c->gemm) p.gemm_provider = c->gemm;
  cld_ctx *ctx = NULL;
  char err[512];
  cld_status st = cld_ctx_create(&p, &ctx, err, sizeof err);
  if (st) {
    fprintf(stderr, "cldiff: %s\n", err);
    return NULL;
  }
  return ctx;
}

int cli_int(const char *flag, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || !*v || *end || errno || x < lo || x > hi) {
    fprintf(stderr, "cldiff: %s: '%s' is not an integer in [%ld, %ld]\n", flag, v ? v : "", lo, hi);
    return 2;
  }
  *out = x;
  return 0;
}

int cli_double(const char *flag, const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double x = v ? strtod(v, &end) : 0;
  if (!v || !*v || *end || errno || !(x >= lo && x <= hi)) {
    fprintf(stderr, "cldiff: %s: '%s' is not a number in [%g, %g]\n", flag, v ? v : "", lo, hi);
    return 2;
  }
  *out = x;
  return 0;
}

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
  if (!strcmp(cmd, "devices")) return cmd_devices(argc - 1, argv + 1);
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
  if (!strcmp(cmd, "tune")) return cmd_tune(argc - 1, argv + 1);
  if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
  if (!strcmp(cmd, "sample")) return cmd_sample(argc - 1, argv + 1);
  if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
  if (!strcmp(cmd, "train-classifier")) return cmd_train_classifier(argc - 1, argv + 1);
  if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
  if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
  fprintf(stderr, "cldiff: unknown command '%s' (see cldiff --help)\n", cmd);
  return 2;
}
