/* `cldiff bench ops|gemm`: per-op bandwidth and GEMM throughput on the chosen device. Timing
 * is the median of repeated runs after a warm-up, with the queue drained around each run. */
#include "cli.h"
#include "opts.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bench_usage(void) {
  printf("usage: cldiff bench ops  [--json] [--size N] [--reps R] [--device D]\n"
         "       cldiff bench gemm [--json] [--shape M,N,K[,BATCH[,TA,TB[,A_BATCH]]]]... [--model PRESET [--batch B]\n"
         "                         [--forward]] [--reps R]\n"
         "                         [--gemm auto|tiled|clblast|host] [--device D]\n"
         "       cldiff bench peak [--json] [--device D]\n"
         "       cldiff bench train|forward [--model PRESET] [--batch B] [--reps R] [--json] [--device D]\n"
         "       mpirun -np N cldiff bench allreduce [--model PRESET | --size N] [--reps R] [--json]\n\n"
         "ops:  times elementwise, broadcast, reduction, normalisation and layout ops on N floats\n"
         "      (default 16777216, rounded to whole 64x28x28 images) and prints the median time,\n"
         "      effective GB/s (bytes read + written) and GB/s of the fastest repetition.\n"
         "gemm: times C = op(A) op(B) at the given shapes (--shape, or every shape of a preset's\n"
         "      training step with --model; default: the fmnist-s UNet forward, backward and\n"
         "      attention shapes) and prints GFLOP/s and the provider used. A_BATCH > 0:\n"
         "      only that many distinct A matrices, batch entry b using number b / (BATCH / A_BATCH)\n"
         "      (the grouped GEMMs of Winograd convolutions on CPUs).\n"
         "peak: the device's float FMA throughput from a register-only kernel (the GEMM ceiling).\n"
         "train: seconds per training step (forward, backward, AdamW, EMA) of a preset (default\n"
         "      fmnist-s, batch 32) on synthetic data; forward: seconds per forward pass.\n"
         "allreduce: under mpirun, the time of one gradient all-reduce as training runs it (sum in\n"
         "      rank order along a chain of the ranks, then broadcast) over a preset's parameter\n"
         "      count or N floats.\n"
         "--json prints one JSON object per line; for gemm the keys are m, n, k, batch, a_batch,\n"
         "trans_a, trans_b, provider, config, seconds (median), gflops (median), gflops_best (fastest\n"
         "repetition), max_rel_err (sampled entries against a double host reference).\n");
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct { const char *name; int kind; double bytes_per_elem; } op_spec;

static cld_tensor *build_op(cld_graph *g, int kind, int64_t n, cld_tensor **inputs, int *n_in) {
  int64_t s1[1] = {n};
  cld_tensor *a = cld_input(g, "a", 1, s1), *b = NULL;
  inputs[0] = a;
  *n_in = 1;
  int64_t rows = n / 1024, s2[2] = {rows, 1024};
  switch (kind) {
  case 0: b = cld_input(g, "b", 1, s1); inputs[1] = b; *n_in = 2; return cld_add(g, a, b);
  case 1: b = cld_input(g, "b", 1, s1); inputs[1] = b; *n_in = 2; return cld_mul(g, a, b);
  case 2: return cld_scale(g, a, 1.5f);
  case 3: return cld_silu(g, a);
  case 4: return cld_exp(g, a);
  case 5: { /* bias add with channel broadcast: (N, C, HW) + (C, 1) */
    int64_t s3[3] = {n / (64 * 784), 64, 784}, sb[2] = {64, 1};
    b = cld_input(g, "b", 2, sb); inputs[1] = b; *n_in = 2;
    return cld_add(g, cld_reshape(g, a, 3, s3), b);
  }
  case 6: return cld_sum(g, cld_reshape(g, a, 2, s2), 2u, false);
  case 7: return cld_softmax(g, cld_reshape(g, a, 2, s2));
  case 8: { int64_t s4[4] = {n / (64 * 784), 64, 28, 28}; return cld_group_norm(g, cld_reshape(g, a, 4, s4), 32, 1e-5f, NULL, NULL); }
  case 11: { int64_t s4[4] = {n / (64 * 784), 64, 28, 28}; return cld_group_norm_silu(g, cld_reshape(g, a, 4, s4), 32, 1e-5f, NULL, NULL); }
  case 9: { int64_t s3[3] = {64, n / (64 * 784), 784}; int p[3] = {1, 0, 2}; return cld_permute(g, cld_reshape(g, a, 3, s3), p); }
  default: { int64_t s4[4] = {n / (64 * 784 * 4) * 4, 64, 28, 28}; (void)s4; return cld_randn(g, 1, s1, 1); }
  }
}

static int bench_ops(cli_common *co, bool json, int64_t n, int reps) {
  static const op_spec ops[] = {
      {"add", 0, 12}, {"mul", 1, 12}, {"scale", 2, 8}, {"silu", 3, 8}, {"exp", 4, 8},
      {"add_bias_bcast", 5, 8}, {"sum_rows", 6, 4}, {"softmax_rows", 7, 8}, {"group_norm", 8, 8},
      {"group_norm_silu", 11, 8}, {"permute", 9, 8}, {"randn", 10, 4},
  };
  n = n / (64 * 784) * (64 * 784);
  if (n <= 0) { fprintf(stderr, "cldiff bench ops: --size too small\n"); return 2; }
  cld_ctx *ctx = cli_ctx(co);
  if (!ctx) return 1;
  if (!json) printf("device: %s\nelements: %lld\n%-16s %10s %10s %10s\n", cld_ctx_device(ctx)->name, (long long)n, "op", "ms",
                    "GB/s", "best GB/s");
  float *host = malloc((size_t)n * sizeof(float));
  if (!host) { cld_ctx_destroy(ctx); return 1; }
  cld_rng_uniform_host(1, 0, 0, (size_t)n, host);
  int rc = 0;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !rc; i++) {
    cld_graph *g = cld_graph_create(ctx);
    cld_tensor *in[2];
    int n_in = 0;
    cld_tensor *y = build_op(g, ops[i].kind, n, in, &n_in);
    if (!y || cld_graph_plan(g, NULL)) {
      fprintf(stderr, "cldiff bench ops: %s: %s\n", ops[i].name, cld_graph_status(g) ? cld_graph_errmsg(g) : cld_ctx_errmsg(ctx));
      cld_graph_destroy(g);
      rc = 1;
      break;
    }
    for (int k = 0; k < n_in; k++) cld_tensor_write(g, in[k], host);
    cld_graph_compute(g);
    cld_ctx_finish(ctx);
    double ts[64];
    for (int r = 0; r < reps; r++) {
      double t0 = cli_now();
      cld_graph_compute(g);
      cld_ctx_finish(ctx);
      ts[r] = cli_now() - t0;
    }
    qsort(ts, (size_t)reps, sizeof ts[0], cmp_d);
    double t = ts[reps / 2], gbs = ops[i].bytes_per_elem * (double)n / t * 1e-9;
    double best = ops[i].bytes_per_elem * (double)n / ts[0] * 1e-9;
    if (json)
      printf("{\"op\":\"%s\",\"elements\":%lld,\"seconds\":%.6g,\"gbps\":%.2f,\"gbps_best\":%.2f}\n", ops[i].name,
             (long long)n, t, gbs, best);
    else printf("%-16s %10.3f %10.1f %10.1f\n", ops[i].name, t * 1e3, gbs, best);
    cld_graph_destroy(g);
  }
  /* host reference: a plain C triad on the same buffers (one thread) */
  if (!rc) {
    float *b = malloc((size_t)n * sizeof(float)), *c = malloc((size_t)n * sizeof(float));
    if (b && c) {
      memcpy(b, host, (size_t)n * sizeof(float));
      double best = 1e30;
      for (int r = 0; r < reps; r++) {
        double t0 = cli_now();
        for (int64_t k = 0; k < n; k++) c[k] = host[k] + 1.5f * b[k];
        double t = cli_now() - t0;
        if (t < best) best = t;
      }
      volatile float sink = c[n / 2];
      (void)sink;
      double gbs = 12.0 * (double)n / best * 1e-9;
      if (json) printf("{\"op\":\"host_c_triad_1thread\",\"elements\":%lld,\"seconds\":%.6g,\"gbps\":%.2f}\n", (long long)n, best, gbs);
      else printf("%-16s %10.3f %10.1f   (host C triad, 1 thread, for reference)\n", "c_triad", best * 1e3, gbs);
    }
    free(b);
    free(c);
  }
  free(host);
  cld_ctx_destroy(ctx);
  return rc;
}

int cli_shape(const char *who, const char *v, cld_gemm_shape *s) {
  long long m, n, k, b = 1, ab = 0;
  int ta = 0, tb = 0;
  int got = sscanf(v, "%lld,%lld,%lld,%lld,%d,%d,%lld", &m, &n, &k, &b, &ta, &tb, &ab);
  if ((got != 3 && got != 4 && got != 6 && got != 7) || m <= 0 || n <= 0 || k <= 0 || b <= 0 || (ta & ~1) || (tb & ~1) ||
      ab < 0 || (ab > 0 && (b % ab || tb))) {
    fprintf(stderr, "%s: --shape '%s' is not M,N,K[,BATCH[,TA,TB[,A_BATCH]]] with positive sizes (A_BATCH dividing BATCH, TB 0)\n", who, v);
    return 2;
  }
  *s = (cld_gemm_shape){m, n, k, b, ta != 0, tb != 0, ab};
  return 0;
}

static int bench_gemm(cli_common *co, bool json, cld_gemm_shape *shapes, int ns, int reps) {
  cld_ctx *ctx = cli_ctx(co);
  if (!ctx) return 1;
  cld_gemm_provider p = CLD_GEMM_AUTO;
  if (co->gemm && !strcmp(co->gemm, "tiled")) p = CLD_GEMM_TILED;
  if (co->gemm && !strcmp(co->gemm, "clblast")) p = CLD_GEMM_CLBLAST;
  if (co->gemm && !strcmp(co->gemm, "host")) p = CLD_GEMM_HOST;
  if (!json) printf("device: %s\n%6s %6s %6s %5s %3s %8s %10s %9s %9s  %s\n", cld_ctx_device(ctx)->name, "m", "n", "k", "batch",
                    "op", "provider", "ms", "GFLOP/s", "best", "config");
  int rc = 0;
  for (int i = 0; i < ns; i++) {
    cld_gemm_result r;
    cld_status st = cld_gemm_bench(ctx, &shapes[i], p, reps, &r);
    if (st) {
      fprintf(stderr, "cldiff bench gemm: %s\n", cld_ctx_errmsg(ctx));
      rc = 1;
      break;
    }
    const cld_gemm_shape *s = &shapes[i];
    if (json)
      printf("{\"m\":%lld,\"n\":%lld,\"k\":%lld,\"batch\":%lld,\"a_batch\":%lld,\"trans_a\":%s,\"trans_b\":%s,\"provider\":\"%s\","
             "\"config\":\"%s\",\"seconds\":%.6g,\"gflops\":%.2f,\"gflops_best\":%.2f,\"max_rel_err\":%.3g}\n",
             (long long)s->m, (long long)s->n, (long long)s->k, (long long)s->batch, (long long)s->a_batch, s->trans_a ? "true" : "false",
             s->trans_b ? "true" : "false", cld_gemm_provider_name(r.provider), r.config, r.seconds, r.gflops, r.gflops_best,
             r.max_rel_err);
    else
      printf("%6lld %6lld %6lld %5lld  %c%c %8s %10.3f %9.1f %9.1f  %s\n", (long long)s->m, (long long)s->n, (long long)s->k,
             (long long)s->batch, s->trans_a ? 'T' : 'N', s->trans_b ? 'T' : 'N', cld_gemm_provider_name(r.provider),
             r.seconds * 1e3, r.gflops, r.gflops_best, r.config);
    fflush(stdout);
  }
  cld_ctx_destroy(ctx);
  return rc;
}

int cmd_bench(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    bench_usage();
    return argc < 2 ? 2 : 0;
  }
  const char *what = argv[1];
  if (strcmp(what, "ops") && strcmp(what, "gemm") && strcmp(what, "peak") && strcmp(what, "train") && strcmp(what, "forward") &&
      strcmp(what, "allreduce")) {
    fprintf(stderr, "cldiff bench: unknown benchmark '%s' (ops, gemm, peak, train, forward or allreduce)\n", what);
    return 2;
  }
  cli_common co = {0};
  bool json = false;
  long size = 16777216, reps = 5, batch = 32;
  cld_gemm_shape shapes[128];
  const char *shape_arg[64], *model = "fmnist-s";
  cli_list shape_list = {shape_arg, 0, 64};
  bool is_model = !strcmp(what, "train") || !strcmp(what, "forward");
  const cli_opt common[] = {
      {"--json", NULL, CLI_FLAG, &json, 0, 0, "one JSON object per line"},
      {"--reps", "R", CLI_LONG, &reps, 1, 64, "repetitions (default 5)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt ops[] = {
      {"--size", "N", CLI_LONG, &size, 1, 1L << 30, "floats per op (default 16777216)"}, {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt models[] = {
      {"--model", "PRESET", CLI_STR, &model, 0, 0, "the preset (default fmnist-s)"},
      {"--batch", "B", CLI_LONG, &batch, 1, 4096, "batch (default 32)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const char *gemm_model = NULL;
  bool forward = false;
  const cli_opt gemm[] = {
      {"--shape", "M,N,K[,BATCH[,TA,TB[,A_BATCH]]]", CLI_LIST, &shape_list, 0, 0, "a shape (repeatable)"},
      {"--model", "PRESET", CLI_STR, &gemm_model, 0, 0, "every GEMM shape of that preset's training step (as `cldiff tune --model`)"},
      {"--batch", "B", CLI_LONG, &batch, 1, 4096, "the batch of --model (default 32)"},
      {"--forward", NULL, CLI_FLAG, &forward, 0, 0, "with --model: the forward pass's shapes only"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const char *ar_model = NULL;
  const cli_opt allreduce[] = {
      {"--model", "PRESET", CLI_STR, &ar_model, 0, 0, "a buffer the size of that preset's parameters (fmnist-s, cifar10-ddpm, ...)"},
      {"--size", "N", CLI_LONG, &size, 1, 1L << 30, "else N floats (default 16777216)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt *kind = !strcmp(what, "ops") ? ops : is_model ? models : !strcmp(what, "gemm") ? gemm
                        : !strcmp(what, "allreduce") ? allreduce : NULL;
  const cli_opt *const tables[] = {common, kind, NULL};
  char who[32];
  snprintf(who, sizeof who, "bench %s", what);
  int prc = cli_parse(who, "usage: cldiff bench ops|gemm|peak|train|forward [options] (`cldiff bench --help` describes each)",
                      tables, &co, argc - 1, argv + 1);
  if (prc) return prc == 1 ? 0 : 2;
  int ns = 0;
  for (int i = 0; i < shape_list.n; i++)
    if (cli_shape("cldiff bench gemm", shape_arg[i], &shapes[ns++])) return 2;
  if (!strcmp(what, "ops")) return bench_ops(&co, json, size, (int)reps);
  if (!strcmp(what, "allreduce")) return bench_allreduce(&co, ar_model, size, (int)reps, json);
  if (is_model) return bench_model(&co, !strcmp(what, "train"), model, (int)batch, (int)reps, json);
  if (!strcmp(what, "peak")) {
    cld_ctx *ctx = cli_ctx(&co);
    double gf = 0;
    if (!ctx) return 1;
    cld_status st = cld_device_fma_peak(ctx, &gf);
    if (st) fprintf(stderr, "cldiff bench peak: %s\n", cld_ctx_errmsg(ctx));
    else if (json) printf("{\"device\":\"%s\",\"fma_peak_gflops\":%.1f}\n", cld_ctx_device(ctx)->name, gf);
    else printf("device: %s\nFMA peak: %.1f GFLOP/s (register-only float16 FMA chains)\n", cld_ctx_device(ctx)->name, gf);
    cld_ctx_destroy(ctx);
    return st ? 1 : 0;
  }
  if (gemm_model) {
    int nm = 0, rc = model_gemm_shapes(&co, gemm_model, (int)batch, forward, shapes + ns, 128 - ns, &nm);
    if (rc) return rc;
    ns += nm;
  }
  if (ns == 0) ns = cld_gemm_default_shapes(shapes, 64);
  return bench_gemm(&co, json, shapes, ns, (int)reps);
}
