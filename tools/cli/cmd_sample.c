/* `cldiff sample`: images from a checkpoint into a PNG grid, optionally per-image PNGs and .npy. */
#include "cli.h"
#include "fs/fs.h"
#include "ckpt_resolve.h"
#include "sample_opts.h"
#include "opts.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char SAMPLE_SYNOPSIS[] =
    "usage: cldiff sample --ckpt DIR --out FILE.png [options]\n\n"
    "Image i depends only on (seed, i): the same with any --batch.\n";

typedef struct { int64_t batch; double t0; int total; } sample_progress; /* total: the steps the sampler reported */

/* "images A-B of N, step s/S, ETA": the fraction done counts finished batches and the steps of the
 * current one */
static void progress(void *user, int step, int total, int64_t done, int64_t n) {
  sample_progress *sp = user;
  sp->total = total;
  int64_t last = done + sp->batch > n ? n : done + sp->batch;
  double frac = ((double)done + (double)(last - done) * step / (total > 0 ? total : 1)) / (double)n;
  double el = cli_now() - sp->t0, eta = frac > 0 ? el / frac - el : 0;
  fprintf(stderr, "\rsampling: images %lld-%lld of %lld, step %d/%d, ETA %.0f s   ", (long long)done + 1, (long long)last,
          (long long)n, step, total, eta);
  fflush(stderr);
}

/* an output file path is usable: not a directory, in a directory that exists and is writable;
 * checked before sampling, so that a bad --npy does not fail after the grid was written */
static int check_out_file(const char *flag, const char *path) {
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) { fprintf(stderr, "cldiff sample: %s %s: is a directory (give a file name)\n", flag, path); return 2; }
  char dir[1100];
  cld_fs_dirname(path, dir, sizeof dir);
  if (access(dir, W_OK) != 0) { fprintf(stderr, "cldiff sample: %s %s: cannot write into %s: %s\n", flag, path, dir, strerror(errno)); return 2; }
  return 0;
}

/* --class all: image i is of class i mod K; the grid shows one row per class (row r, column c is
 * image c K + r) */
static cld_status write_class_rows(cld_ctx *ctx, const char *path, const float *imgs, int n, int K, int C, int H, int W) {
  size_t per = (size_t)C * H * W;
  int cols = n / K;
  float *grid = malloc((size_t)n * per * sizeof *grid);
  if (!grid) { fprintf(stderr, "cldiff sample: out of memory for the grid\n"); return CLD_ERR_NOMEM; }
  for (int r = 0; r < K; r++)
    for (int c = 0; c < cols; c++) memcpy(grid + ((size_t)r * cols + c) * per, imgs + ((size_t)c * K + r) * per, per * sizeof *grid);
  cld_status st = cld_png_write_grid(ctx, path, grid, n, C, H, W, cols);
  free(grid);
  return st;
}

int cmd_sample(int argc, char **argv) {
  cli_common co = {0};
  sample_opts so;
  sample_opts_init(&so);
  const char *ckpt = NULL, *out = NULL, *npy = NULL, *dir = NULL, *size = NULL;
  long n = 64, batch = 16;
  int H = 0, W = 0;
  const cli_opt own[] = {
      {"--ckpt", "DIR", CLI_STR, &ckpt, 0, 0, "a run directory (its newest checkpoint), a ckpt-N directory, or a diffusers\n"
       "UNet2DModel directory (config.json + diffusion_pytorch_model.safetensors)"},
      {"--out", "FILE.png", CLI_STR, &out, 0, 0, "the grid (a scatter plot on [-4,4]^2 for 2-D models)"},
      {"--npy", "FILE", CLI_STR, &npy, 0, 0, "all samples as (N,C,H,W) float32 ((N,2) for 2-D models)"},
      {"--dir", "DIR", CLI_STR, &dir, 0, 0, "one PNG per image"},
      {"--n", "COUNT", CLI_LONG, &n, 1, 1 << 24, "images (default 64)"},
      {"--batch", "B", CLI_LONG, &batch, 1, 4096, "images per model call (default 16)"},
      {"--size", "HxW", CLI_STR, &size, 0, 0, "image size (default the model's sample_size)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  cli_opt sampler_opts[SAMPLE_OPTS_MAX];
  sample_opts_table(&so, sampler_opts);
  const cli_opt *const tables[] = {own, sampler_opts, NULL};
  int prc = cli_parse("sample", SAMPLE_SYNOPSIS, tables, &co, argc, argv);
  if (prc) return prc == 1 ? 0 : 2;
  if (size && (sscanf(size, "%dx%d", &H, &W) != 2 || H < 1 || W < 1)) { fprintf(stderr, "cldiff sample: --size: '%s' is not HxW\n", size); return 2; }
  if ((out && check_out_file("--out", out)) || (npy && check_out_file("--npy", npy))) return 2;
  struct stat dsb;
  if (dir && stat(dir, &dsb) == 0 && !S_ISDIR(dsb.st_mode)) { fprintf(stderr, "cldiff sample: --dir %s: exists and is not a directory\n", dir); return 2; }
  if (!ckpt || !out) { fprintf(stderr, "cldiff sample: --ckpt and --out are required (see --help)\n"); return 2; }
  if (cld_sampler_parse(so.sampler) < 0) {
    fprintf(stderr, "cldiff sample: --sampler: '%s' is not ddim, ddpm, spndm, fpndm, dpm-solver, dpm++2m, dpm++3m, dpm++2m-sde, dpm++2s, unipc, euler or heun\n", so.sampler);
    return 2;
  }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  int rc = 1;
  ckpt_info ci;
  cld_store *s = NULL;
  cld_model *u = NULL;
  float *imgs = NULL;
  cld_sample_params sp;
  if (ckpt_resolve(ctx, ckpt, so.ema, &ci) || sample_opts_apply(&so, "sample", &ci, &sp)) { rc = 2; goto done; }
  if (cld_store_create(ctx, &s) || cld_model_load(ctx, ci.model_dir, s, &u)) { fprintf(stderr, "cldiff sample: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  bool all_classes;
  if (sample_opts_classes(&so, "sample", &ci, u, &sp, &all_classes)) { rc = 2; goto done; }
  int C = cld_model_channels(u);
  if (!H) H = W = cld_model_sample_size(u);
  if (H < 1) { fprintf(stderr, "cldiff sample: the model has no sample_size; pass --size HxW\n"); rc = 2; goto done; }
  sp.batch = (int)batch;
  const char *sampler = so.sampler;
  size_t per = (size_t)C * H * W;
  imgs = malloc((size_t)n * per * sizeof(float));
  if (!imgs) { fprintf(stderr, "cldiff sample: out of memory for %ld images\n", n); goto done; }
  double t0 = cli_now();
  sample_progress prog = {batch, t0, (int)so.steps};
  /* under mpirun each rank samples its share of the indices, rank 0 gathers and writes */
  if (cld_sample_comm(ctx, u, &sp, cli_comm(), 0, n, H, W, imgs, progress, &prog)) {
    fprintf(stderr, "\ncldiff sample: %s\n", cld_ctx_errmsg(ctx));
    goto done;
  }
  if (cli_rank() != 0) { rc = 0; goto done; }
  fprintf(stderr, "\nsampled %ld images with %s%s%s, %d steps in %.1f s (%s)\n", n, sampler, so.respacing ? " on " : "",
          so.respacing ? so.respacing : "", prog.total, cli_now() - t0, ci.model_dir);
  bool points = cld_model_get_kind(u) == CLD_MODEL_MLP;
  cld_status wst = points ? cld_png_write_scatter(ctx, out, imgs, (int)n, 4.0f)
                   : all_classes && n % sp.n_classes == 0 ? write_class_rows(ctx, out, imgs, (int)n, sp.n_classes, C, H, W)
                                                          : cld_png_write_grid(ctx, out, imgs, (int)n, C, H, W, 0);
  if (wst) { if (wst != CLD_ERR_NOMEM) fprintf(stderr, "cldiff sample: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  if (npy) {
    int64_t shape[4] = {n, C, H, W};
    if (cld_npy_write(ctx, npy, imgs, points ? 2 : 4, shape)) { fprintf(stderr, "cldiff sample: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  }
  if (dir) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) { fprintf(stderr, "cldiff sample: --dir %s: %s\n", dir, strerror(errno)); goto done; }
    for (long i = 0; i < n && !points; i++) {
      char p[1200];
      snprintf(p, sizeof p, "%s/%06ld.png", dir, i);
      if (cld_png_write_grid(ctx, p, imgs + (size_t)i * per, 1, C, H, W, 1)) { fprintf(stderr, "cldiff sample: %s\n", cld_ctx_errmsg(ctx)); goto done; }
    }
  }
  rc = 0;
done:
  free(imgs);
  cld_model_destroy(u);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
  return rc;
}
