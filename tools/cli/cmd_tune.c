/* `cldiff tune`: measures GEMM candidates on the device and stores the winners. */
#include "cli.h"
#include "opts.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void progress(void *user, const char *line) {
  (void)user;
  printf("  %s\n", line);
  fflush(stdout);
}

/* larger GEMMs first: under a time box they are where tuning pays */
static int by_flops_desc(const void *a, const void *b) {
  const cld_gemm_shape *x = a, *y = b;
  double fx = (double)x->m * (double)x->n * (double)x->k * (double)(x->batch > 0 ? x->batch : 1);
  double fy = (double)y->m * (double)y->n * (double)y->k * (double)(y->batch > 0 ? y->batch : 1);
  return fx < fy ? 1 : fx > fy ? -1 : 0;
}

static const char TUNE_SYNOPSIS[] =
    "usage: cldiff tune [--shape M,N,K[,BATCH[,TA,TB[,A_BATCH]]]]... [--model PRESET [--batch B] [--forward]]\n"
    "                   [--no-clblast] [--thorough] [--max-seconds S] [--device D]\n\n"
    "Times the built-in tiled GEMM (tile sizes, work-group shapes, grid order; for a single\n"
    "product with K >= 1024 also K split into 2-16 slices summed afterwards), the host's\n"
    "BLAS (CPU devices) and CLBlast Xgemm parameter sets on the chosen device and stores the\n"
    "fastest per shape in the cache directory. Later runs on this device use them (a shape\n"
    "not tuned takes the nearest tuned shape's choice); without a tuning file the defaults\n"
    "apply. Shapes: the UNet/attention shapes `cldiff bench gemm` uses, unless --shape or\n"
    "--model name others (added to the stored table; the model's shapes are read from its\n"
    "planned graph, which builds none of its kernels). The quick search (default) times ten\n"
    "tiled configurations per shape (five where the host's BLAS is oneDNN), and the host's\n"
    "BLAS against the fastest in turn: --model fmnist-s --batch 32 --no-clblast took 13-14 s\n"
    "on a 2-core CPU with oneDNN and the kernel caches warm, 56 s from empty ones (most of it\n"
    "compiling the tiled candidates); --thorough times all 84 (about five times as long).\n"
    "Each shape's line starts with [shapes done/shapes, seconds so far, estimated seconds left].\n";

int cmd_tune(int argc, char **argv) {
  cli_common co = {0};
  bool no_clblast = false, forward = false, thorough = false;
  cld_gemm_shape shapes[128];
  int ns = 0;
  long batch = 32;
  const char *model = NULL;
  float max_seconds = 0;
  const char *shape_arg[64];
  cli_list shape_list = {shape_arg, 0, 64};
  const cli_opt opts[] = {
      {"--model", "PRESET", CLI_STR, &model, 0, 0, "tunes every GEMM shape of one training step of that preset (fmnist-s,\n"
       "fmnist-xs, cifar10-ddpm, toy-mlp, ...), forward pass included: 80 shapes for\nfmnist-s at batch 32"},
      {"--batch", "B", CLI_LONG, &batch, 1, 4096, "the batch of --model (default 32)"},
      {"--forward", NULL, CLI_FLAG, &forward, 0, 0, "with --model: only the forward pass's shapes (what `cldiff sample --batch B` runs)"},
      {"--no-clblast", NULL, CLI_FLAG, &no_clblast, 0, 0, "skip the CLBlast parameter search (slow: every set recompiles CLBlast) and\n"
       "compare against the stored set, if any"},
      {"--thorough", NULL, CLI_FLAG, &thorough, 0, 0, "every tiled configuration per shape (84) instead of the ten that win most\n"
       "often"},
      {"--max-seconds", "S", CLI_FLOAT, &max_seconds, 0, 1e6, "a time box: the shapes are tuned largest first (by FLOPs) and those not\n"
       "started when S seconds have passed keep the nearest tuned choice"},
      {"--shape", "M,N,K[,BATCH[,TA,TB[,A_BATCH]]]", CLI_LIST, &shape_list, 0, 0, "a shape to tune (repeatable)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt *const tables[] = {opts, NULL};
  int prc = cli_parse("tune", TUNE_SYNOPSIS, tables, &co, argc, argv);
  if (prc) return prc == 1 ? 0 : 2;
  for (int i = 0; i < shape_list.n; i++)
    if (cli_shape("cldiff tune", shape_arg[i], &shapes[ns++])) return 2;
  bool clblast = !no_clblast;
  if (forward && !model) { fprintf(stderr, "cldiff tune: --forward goes with --model\n"); return 2; }
  if (model) {
    int nm = 0;
    int rc = model_gemm_shapes(&co, model, (int)batch, forward, shapes + ns, 128 - ns, &nm);
    if (rc) return rc;
    printf("%s %s at batch %ld: %d GEMM shapes\n", model, forward ? "forward pass" : "training step", batch, nm);
    ns += nm;
  }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  printf("tuning GEMM on %s (%s search%s)\n", cld_ctx_device(ctx)->name, thorough ? "thorough" : "quick",
         clblast ? ", CLBlast's parameter sets too: minutes" : "");
  double t0 = cli_now();
  if (max_seconds > 0) qsort(shapes, (size_t)ns, sizeof shapes[0], by_flops_desc);
  cld_status st = thorough ? cld_gemm_tune_budget(ctx, ns ? shapes : NULL, ns, clblast, max_seconds, progress, NULL)
                           : cld_gemm_tune_quick(ctx, ns ? shapes : NULL, ns, clblast, max_seconds, progress, NULL);
  if (st) {
    fprintf(stderr, "cldiff tune: %s\n", cld_ctx_errmsg(ctx));
    cld_ctx_destroy(ctx);
    return 1;
  }
  printf("stored %s (%.0f s)\n", cld_gemm_tune_file(ctx), cli_now() - t0);
  cld_ctx_destroy(ctx);
  return 0;
}
