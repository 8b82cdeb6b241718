/* `cldiff tune`: measures GEMM candidates on the device and stores the winners. */
#include "cli.h"
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

int cmd_tune(int argc, char **argv) {
  cli_common co = {0};
  bool clblast = true, forward = false;
  cld_gemm_shape shapes[128];
  int ns = 0, batch = 32;
  const char *model = NULL;
  double max_seconds = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--max-seconds")) {
      double v;
      if (i + 1 >= argc || cli_double("--max-seconds", argv[++i], 0, 1e6, &v)) return 2;
      max_seconds = v;
      continue;
    }
    if (!strcmp(argv[i], "--no-clblast")) { clblast = false; continue; }
    if (!strcmp(argv[i], "--forward")) { forward = true; continue; }
    if (!strcmp(argv[i], "--shape")) {
      if (i + 1 >= argc || ns == 64 || cli_shape("cldiff tune", argv[++i], &shapes[ns++])) return 2;
      continue;
    }
    if (!strcmp(argv[i], "--model")) {
      if (i + 1 >= argc) { fprintf(stderr, "cldiff tune: --model needs a preset name\n"); return 2; }
      model = argv[++i];
      continue;
    }
    if (!strcmp(argv[i], "--batch")) {
      long v;
      if (i + 1 >= argc || cli_int("--batch", argv[++i], 1, 4096, &v)) return 2;
      batch = (int)v;
      continue;
    }
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: cldiff tune [--shape M,N,K[,BATCH[,TA,TB[,A_BATCH]]]]... [--model PRESET [--batch B] [--forward]]\n"
             "                   [--no-clblast] [--max-seconds S] [--device D]\n\n"
             "Times the built-in tiled GEMM (tile sizes, work-group shapes, grid order) and CLBlast\n"
             "Xgemm parameter sets on the chosen device and stores the fastest per shape in the\n"
             "cache directory. Later runs on this device use them (a shape not tuned takes the\n"
             "nearest tuned shape's choice); without a tuning file the defaults apply.\n"
             "Shapes: the UNet/attention shapes `cldiff bench gemm` uses, unless --shape or\n"
             "--model name others (added to the stored table).\n"
             "--model tunes every GEMM shape of one training step of that preset (fmnist-s,\n"
             "fmnist-xs, cifar10-ddpm, toy-mlp, ...) at batch B (default 32), forward pass\n"
             "included: 79 shapes for fmnist-s, 9-13 minutes with --no-clblast on a 2-core CPU.\n"
             "--forward tunes only the forward pass's shapes at batch B: what sampling runs\n"
             "(`cldiff sample --batch B`).\n"
             "--no-clblast skips the CLBlast parameter search (slow: every set recompiles\n"
             "CLBlast) and compares against the stored set, if any.\n"
             "--max-seconds S: a time box; the shapes are tuned largest first (by FLOPs) and\n"
             "those not started when S seconds have passed keep the nearest tuned choice.\n");
      return 0;
    }
    int k = cli_common_opt(&co, argc, argv, i);
    if (k < 0) return 2;
    if (k == 0) { fprintf(stderr, "cldiff tune: unknown option '%s'\n", argv[i]); return 2; }
    i += k - 1;
  }
  if (forward && !model) { fprintf(stderr, "cldiff tune: --forward goes with --model\n"); return 2; }
  if (model) {
    int nm = 0;
    int rc = model_gemm_shapes(&co, model, batch, forward, shapes + ns, 128 - ns, &nm);
    if (rc) return rc;
    printf("%s %s at batch %d: %d GEMM shapes\n", model, forward ? "forward pass" : "training step", batch, nm);
    ns += nm;
  }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  printf("tuning GEMM on %s (this takes a few minutes)\n", cld_ctx_device(ctx)->name);
  double t0 = cli_now();
  if (max_seconds > 0) qsort(shapes, (size_t)ns, sizeof shapes[0], by_flops_desc);
  cld_status st = cld_gemm_tune_budget(ctx, ns ? shapes : NULL, ns, clblast, max_seconds, progress, NULL);
  if (st) {
    fprintf(stderr, "cldiff tune: %s\n", cld_ctx_errmsg(ctx));
    cld_ctx_destroy(ctx);
    return 1;
  }
  printf("stored %s (%.0f s)\n", cld_gemm_tune_file(ctx), cli_now() - t0);
  cld_ctx_destroy(ctx);
  return 0;
}
