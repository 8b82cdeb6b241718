/* The CLI's shared helpers (cli.h): the common --device/--gemm options, the context they make,
 * a monotonic clock (numbers are parsed by the option table, opts.c). Every command file uses them; they call no command. */
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    if (strcmp(v, "auto") && strcmp(v, "tiled") && strcmp(v, "clblast") && strcmp(v, "host")) {
      fprintf(stderr, "cldiff: --gemm: '%s' is not one of auto, tiled, clblast, host\n", v);
      return -1;
    }
    c->gemm = v;
  }
  return 2;
}

/* under MPI without --device (or $CLDIFF_DEVICE): the local rank's usable device, round robin */
static const char *rank_device(char *buf, size_t n) {
  if (!cli_comm() || getenv("CLDIFF_DEVICE")) return NULL;
  cld_device_info info[64];
  int count = 0, usable[64], nu = 0;
  cld_devices_list(info, 64, &count);
  for (int i = 0; i < count && i < 64; i++)
    if (info[i].usable) usable[nu++] = info[i].index;
  if (nu == 0) return NULL;
  snprintf(buf, n, "%d", usable[cli_local_rank() % nu]);
  return buf;
}

cld_ctx *cli_ctx(const cli_common *c) {
  cld_ctx_params p = cld_ctx_params_default();
  char dev[16];
  p.device = c->device ? c->device : rank_device(dev, sizeof dev);
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

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

