/* `cldiff bench train|forward`: seconds per training step (forward, backward, AdamW, EMA) and
 * per forward pass of a model preset on synthetic data, after warm-up; median of --reps. */
#include "cli.h"
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* rec: record the GEMM shapes of a step or forward pass (planned, not run) instead of timing it */
static int run_model(cli_common *co, bool train, const char *preset, int batch, int reps, bool json, cld_gemm_shape *rec,
                     int cap, int *nrec) {
  cld_unet_config cfg;
  bool mlp = !strcmp(preset, "toy-mlp");
  if (!mlp && cld_unet_preset(preset, &cfg)) {
    fprintf(stderr, "cldiff %s: --model: unknown preset '%s'\n", rec ? "tune" : "bench", preset);
    return 2;
  }
  if (mlp) cld_unet_preset("tiny", &cfg); /* unused but initialised */
  cfg.dropout = 0; /* as the PyTorch side */
  cld_ctx *ctx = cli_ctx(co);
  if (!ctx) return 1;
  if (rec) { /* the shapes alone: no program is built */
    cld_gemm_record(ctx, rec, cap, nrec);
    cld_plan_shapes_only(ctx, true);
  }
  int rc = 1, S = mlp ? 1 : cfg.sample_size > 0 ? cfg.sample_size : 32, C = mlp ? 2 : cfg.in_channels;
  cld_store *s = NULL;
  cld_model *u = NULL;
  cld_trainer *t = NULL;
  cld_graph *g = NULL;
  cld_dataset ds = {0};
  double ts[64];
  if (cld_store_create(ctx, &s) || (mlp ? cld_model_create(ctx, preset, s, &u) : cld_model_from_unet_config(ctx, &cfg, s, &u)) ||
      cld_model_init(u, 1))
    goto fail;
  if (train) {
    ds.n = 256;
    ds.c = C;
    ds.h = ds.w = S;
    ds.x = malloc((size_t)ds.n * ds.c * S * S * sizeof(float));
    if (!ds.x) goto fail;
    cld_rng_uniform_host(5, 0, 0, (size_t)ds.n * ds.c * S * S, ds.x);
    snprintf(ds.name, sizeof ds.name, "synthetic");
    cld_train_params tp = cld_train_params_default();
    tp.batch = batch;
    if (cld_trainer_create(ctx, u, &ds, &tp, &t)) goto fail;
    if (rec) { /* the step's GEMM shapes, read from the planned graph: nothing runs or compiles */
      if (cld_trainer_record_gemms(t)) goto fail;
      rc = 0;
      goto done;
    }
    for (int r = -2; r < reps; r++) { /* two warm-up steps */
      float loss;
      double t0 = cli_now();
      if (cld_trainer_step(t, &loss)) goto fail;
      if (r >= 0) ts[r] = cli_now() - t0;
    }
  } else {
    g = cld_graph_create(ctx);
    cld_tensor *x = cld_input_4d(g, "x", batch, C, S, S), *tt = cld_input(g, "t", 1, (int64_t[]){batch});
    cld_graph_set_training(g, false); /* as the samplers build it */
    cld_tensor *y = cld_model_forward(u, g, x, tt);
    if (!y) goto fail;
    cld_graph_keep(g, y);
    if (cld_graph_plan(g, NULL)) goto fail;
    if (rec) {
      if (cld_graph_record_gemms(g)) goto fail;
      rc = 0;
      goto done;
    }
    size_t n = (size_t)batch * C * S * S;
    float *xv = malloc(n * sizeof(float)), *yv = malloc(n * sizeof(float) * 2), tv[4096];
    if (!xv || !yv || batch > 4096) { free(xv); free(yv); goto fail; }
    cld_rng_normal_host(1, 0, 0, n, xv);
    for (int i = 0; i < batch; i++) tv[i] = 500.0f;
    for (int r = -2; r < reps; r++) {
      double t0 = cli_now();
      if (cld_tensor_write(g, x, xv) || cld_tensor_write(g, tt, tv) || cld_graph_compute(g) || cld_tensor_read(g, y, yv)) {
        free(xv); free(yv);
        goto fail;
      }
      if (r >= 0) ts[r] = cli_now() - t0;
    }
    free(xv);
    free(yv);
  }
  rc = 0;
  qsort(ts, (size_t)reps, sizeof ts[0], cmp_d);
  size_t arena = train ? cld_trainer_arena_bytes(t) : cld_graph_arena_bytes(g);
  struct rusage ru; /* the process's peak resident set: on a CPU device the device's buffers are in it */
  double rss = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss * 1024.0 : 0;
  if (json)
    printf("{\"bench\":\"%s\",\"model\":\"%s\",\"batch\":%d,\"params\":%lld,\"seconds\":%.4f,\"seconds_best\":%.4f,"
           "\"arena_bytes\":%zu,\"peak_rss_bytes\":%.0f}\n",
           train ? "train_step" : "forward", preset, batch, (long long)cld_model_param_count(u), ts[reps / 2], ts[0], arena, rss);
  else
    printf("%s %s batch %d (%lld params): %.3f s median, %.3f s best of %d; arena %.1f MiB, peak RSS %.1f MiB\n", preset,
           train ? "training step" : "forward", batch, (long long)cld_model_param_count(u), ts[reps / 2], ts[0], reps,
           (double)arena / 1048576.0, rss / 1048576.0);
  goto done;
fail:
  rc = 1;
  fprintf(stderr, "cldiff %s: %s\n", rec ? "tune" : "bench", g && cld_graph_status(g) ? cld_graph_errmsg(g) : cld_ctx_errmsg(ctx));
done:
  cld_graph_destroy(g);
  cld_trainer_destroy(t);
  free(ds.x);
  cld_model_destroy(u);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
  return rc;
}

int bench_model(cli_common *co, bool train, const char *preset, int batch, int reps, bool json) {
  return run_model(co, train, preset, batch, reps, json, NULL, 0, NULL);
}

int model_gemm_shapes(cli_common *co, const char *preset, int batch, bool forward, cld_gemm_shape *out, int cap, int *n) {
  return run_model(co, !forward, preset, batch, 1, false, out, cap, n);
}
