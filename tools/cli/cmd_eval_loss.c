/* `cldiff eval loss`: a model's denoising error against t on real data (cld_loss_per_t), as a
 * table, a CSV and a plot: where a loss weighting left the error. */
#include "cli.h"
#include "fs/fs.h"
#include "opts.h"
#include "sample_opts.h"
#include "ckpt_resolve.h"
#include <stdio.h>
#include <stdlib.h>

/* the rows as CSV text (malloc'd) */
static char *rows_csv(const cld_loss_row *rows, int bins, size_t *len) {
  size_t cap = (size_t)bins * 96 + 64;
  char *csv = malloc(cap);
  if (!csv) return NULL;
  *len = (size_t)snprintf(csv, cap, "t,snr,mse_eps,mse_x0\n");
  for (int b = 0; b < bins; b++)
    *len += (size_t)snprintf(csv + *len, cap - *len, "%d,%.6g,%.6g,%.6g\n", rows[b].t, rows[b].snr, rows[b].mse_eps, rows[b].mse_x0);
  return csv;
}

static cld_status plot_rows(cld_ctx *ctx, const char *path, const cld_loss_row *rows, int bins) {
  double *v = malloc((size_t)bins * 3 * sizeof *v);
  if (!v) return CLD_ERR_NOMEM;
  for (int b = 0; b < bins; b++) {
    v[b] = rows[b].t;
    v[bins + b] = rows[b].mse_eps;
    v[2 * bins + b] = rows[b].mse_x0;
  }
  cld_plot_series s[2] = {{"eps-prediction MSE", v, v + bins, bins, false, NULL}, {"x0-prediction MSE", v, v + 2 * bins, bins, false, NULL}};
  cld_plot_params pp = {"Denoising error against t (real data)", "time step t", "mean squared error", true, 0, 0};
  cld_status st = cld_plot_lines(ctx, path, &pp, s, 2);
  free(v);
  return st;
}

int eval_loss(int argc, char **argv) {
  cli_common co = {0};
  sample_opts so;
  sample_opts_init(&so);
  const char *ckpt = NULL, *data = NULL, *csv_path = NULL, *plot = NULL;
  long n = 4096, bins = 20;
  const cli_opt own[] = {
      {"--ckpt", "DIR", CLI_STR, &ckpt, 0, 0, "a run directory, a ckpt-N directory or a diffusers UNet2DModel directory"},
      {"--data", "SPEC", CLI_STR, &data, 0, 0, "the real samples (as `cldiff train --data`; the test split where there is one)"},
      {"--n", "N", CLI_LONG, &n, 1, 65536, "samples per t (default 4096, at most the data's)"},
      {"--bins", "K", CLI_LONG, &bins, 1, 1000, "timesteps, evenly spread over 0..T-1 (default 20)"},
      {"--csv", "FILE", CLI_STR, &csv_path, 0, 0, "also write the rows as CSV (t, snr, mse_eps, mse_x0)"},
      {"--plot", "FILE.png", CLI_STR, &plot, 0, 0, "also plot both errors against t (log scale)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  cli_opt sampler_opts[SAMPLE_OPTS_MAX];
  sample_opts_table(&so, sampler_opts);
  const cli_opt *const tables[] = {own, sampler_opts, NULL};
  int prc = cli_parse("eval loss", "usage: cldiff eval loss --ckpt DIR --data SPEC [--ema] [--n N] [--bins K] [--csv FILE] [--plot FILE.png]\n\n"
                      "The model's denoising error against t: at K timesteps, N real samples noised to t (fresh noise,\n"
                      "--seed) and the model's eps and x0 predictions against the truth, unweighted (whatever loss\n"
                      "weighting it was trained with). Of the sampler options only the schedule's and --seed apply.\n",
                      tables, &co, argc - 1, argv + 1);
  if (prc) return prc == 1 ? 0 : 2;
  if (!ckpt || !data) { fprintf(stderr, "cldiff eval loss: --ckpt and --data are required (see --help)\n"); return 2; }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  int rc = 2;
  ckpt_info ci;
  cld_store *s = NULL;
  cld_model *m = NULL;
  cld_dataset *d = NULL;
  cld_loss_row *rows = NULL;
  cld_sample_params sp;
  char *csv = NULL;
  if (ckpt_resolve(ctx, ckpt, so.ema, &ci) || sample_opts_apply(&so, "eval loss", &ci, &sp)) goto done;
  if (cld_store_create(ctx, &s) || cld_model_load(ctx, ci.model_dir, s, &m)) { fprintf(stderr, "cldiff eval loss: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  if (cld_dataset_open_sized(ctx, data, "test", cld_model_sample_size(m), &d)) { fprintf(stderr, "cldiff eval loss: --data %s: %s\n", data, cld_ctx_errmsg(ctx)); goto done; }
  if (n > d->n) n = d->n;
  rc = 1;
  if (cld_loss_per_t(ctx, m, d, &sp, n, (int)bins, &rows)) { fprintf(stderr, "cldiff eval loss: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  printf("%5s %12s %12s %12s\n", "t", "snr", "mse_eps", "mse_x0");
  for (int b = 0; b < bins; b++) printf("%5d %12.5g %12.5g %12.5g\n", rows[b].t, rows[b].snr, rows[b].mse_eps, rows[b].mse_x0);
  size_t len = 0;
  char err[1400];
  if (csv_path && (!(csv = rows_csv(rows, (int)bins, &len)) || cld_fs_write_atomic(csv_path, csv, len, err, sizeof err))) {
    fprintf(stderr, "cldiff eval loss: --csv %s: %s\n", csv_path, csv ? err : "out of memory");
    goto done;
  }
  cld_status pst = plot ? plot_rows(ctx, plot, rows, (int)bins) : CLD_OK;
  if (pst) {
    fprintf(stderr, "cldiff eval loss: --plot %s: %s\n", plot, pst == CLD_ERR_NOMEM ? "out of host memory" : cld_ctx_errmsg(ctx));
    goto done;
  }
  rc = 0;
done:
  free(csv);
  free(rows);
  cld_dataset_free(d);
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
  return rc;
}
