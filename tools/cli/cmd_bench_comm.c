/* `mpirun -np N cldiff bench allreduce`: the time of one gradient all-reduce (cld_comm's sum in
 * rank order, as data-parallel training runs it) over a buffer the size of a model's parameters. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* the parameter count of a preset (a context only to build it) */
static int64_t preset_params(cli_common *co, const char *model) {
  cld_ctx *ctx = cli_ctx(co);
  cld_store *s = NULL;
  cld_model *m = NULL;
  int64_t n = -1;
  if (ctx && !cld_store_create(ctx, &s) && !cld_model_create(ctx, model, s, &m)) n = cld_model_param_count(m);
  else if (ctx) fprintf(stderr, "cldiff bench allreduce: --model: %s\n", cld_ctx_errmsg(ctx));
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
  return n;
}

int bench_allreduce(cli_common *co, const char *model, long size, int reps, bool json) {
  const cld_comm *c = cli_comm();
  if (!c) { fprintf(stderr, "cldiff bench allreduce: run it under mpirun -np N (N >= 2)\n"); return 2; }
  int64_t n = model ? preset_params(co, model) : size;
  if (n < 1) return 1;
  float *buf = malloc((size_t)n * sizeof(float));
  double *t = malloc((size_t)reps * sizeof(double));
  if (!buf || !t) { free(buf); free(t); fprintf(stderr, "cldiff bench allreduce: out of memory\n"); return 1; }
  for (int64_t i = 0; i < n; i++) buf[i] = 1e-3f * (float)(i % 1000);
  int rc = c->allreduce_sum(c->user, buf, (size_t)n); /* warm-up: connections, pages */
  for (int r = 0; r < reps && !rc; r++) {
    c->any(c->user, false); /* every rank starts together */
    double t0 = cli_now();
    rc = c->allreduce_sum(c->user, buf, (size_t)n);
    t[r] = cli_now() - t0;
  }
  if (!rc && c->rank == 0) {
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double mb = (double)n * sizeof(float) / 1e6, med = t[reps / 2];
    if (json)
      printf("{\"ranks\":%d,\"floats\":%lld,\"mb\":%.2f,\"median_ms\":%.3f,\"min_ms\":%.3f,\"gb_per_s\":%.2f}\n", c->size,
             (long long)n, mb, med * 1e3, t[0] * 1e3, mb / 1e3 / med);
    else
      printf("all-reduce over %d ranks of %lld floats (%.1f MB%s%s): median %.2f ms, min %.2f ms (%.2f GB/s of buffer)\n",
             c->size, (long long)n, mb, model ? ", the parameters of " : "", model ? model : "", med * 1e3, t[0] * 1e3,
             mb / 1e3 / med);
  }
  free(buf);
  free(t);
  if (rc) fprintf(stderr, "cldiff bench allreduce: the all-reduce failed\n");
  return rc ? 1 : 0;
}
