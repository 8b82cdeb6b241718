/* `cldiff sample`: images from a checkpoint into a PNG grid, optionally per-image PNGs and .npy. */
#include "cli.h"
#include "ckpt_resolve.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(void) {
  printf("usage: cldiff sample --ckpt DIR --out FILE.png [options]\n\n"
         "  --ckpt DIR        a run directory (its newest checkpoint), a ckpt-N directory, or a diffusers\n"
         "                    UNet2DModel directory (config.json + diffusion_pytorch_model.safetensors)\n"
         "  --ema             use the EMA weights of a cldiff checkpoint\n"
         "  --sampler S       ddim (default), ddpm, spndm, fpndm or dpm-solver for eps/x0/v models; euler or\n"
         "                    heun for edm models. PNDM runs on the ddimN grid (F-PNDM: steps + 9 evaluations).\n"
         "                    models. DPM-Solver (noise-prediction form): --order 2|3 multistep (default 2),\n"
         "                    --singlestep for singlestep orders 1-3, --grid time-uniform|logsnr|time-quadratic;\n"
         "                    --steps is the number of model evaluations\n"
         "                    (EDM Algorithm 2: --churn S_churn (default 0), --sigma-min 0.002, --sigma-max 80,\n"
         "                    --rho 7; --steps is the grid size N, Heun uses 2N-1 evaluations)\n"
         "  --steps N         sampling steps (default 50; ddim uses the \"ddimN\" stride, ddpm \"N\")\n"
         "  --eta E           DDIM eta (default 0)\n"
         "  --var small|large DDPM fixed-small (default) or fixed-large variance\n"
         "  --clip            clamp the x0 prediction to [-1, 1]\n"
         "  --n COUNT         images (default 64), --batch B (default 16), --seed S (default 0)\n"
         "  --size HxW        image size (default the model's sample_size)\n"
         "  --schedule NAME, --T N, --prediction P  override what the checkpoint's trainer.json says\n"
         "                    (defaults for a plain diffusers directory: linear, 1000, eps)\n"
         "  --out FILE.png    the grid (a scatter plot on [-4,4]^2 for 2-D models); --npy FILE all samples as\n"
         "                    (N,C,H,W) float32 ((N,2) for 2-D models); --dir DIR one PNG per image\n"
         "  --device D, --gemm P\n\n"
         "Image i depends only on (seed, i): the same with any --batch.\n");
}

static void progress(void *user, int step, int total, int64_t done, int64_t n) {
  (void)user;
  fprintf(stderr, "\rsampling: images %lld-%lld of %lld, step %d/%d   ", (long long)done + 1,
          (long long)(done + 16 > n ? n : done + 16), (long long)n, step, total);
  fflush(stderr);
}

int cmd_sample(int argc, char **argv) {
  cli_common co = {0};
  const char *ckpt = NULL, *out = NULL, *npy = NULL, *dir = NULL, *sampler = "ddim", *var = "small", *sched = NULL, *pred = NULL;
  long steps = 50, n = 64, batch = 16, seed = 0, T = 0;
  int H = 0, W = 0;
  float eta = 0, churn = 0, smin = 0.002f, smax = 80.0f, rho = 7.0f;
  bool ema = false, clip = false, singlestep = false;
  long order = 2;
  const char *grid = "time-uniform";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(); return 0; }
    if (!strcmp(a, "--ema")) { ema = true; continue; }
    if (!strcmp(a, "--clip")) { clip = true; continue; }
    if (!strcmp(a, "--singlestep")) { singlestep = true; continue; }
    int k = cli_common_opt(&co, argc, argv, i);
    if (k < 0) return 2;
    if (k > 0) { i += k - 1; continue; }
    if (i + 1 >= argc) { fprintf(stderr, "cldiff sample: %s needs a value (or is unknown; see --help)\n", a); return 2; }
    const char *v = argv[++i];
    int bad = 0;
    if (!strcmp(a, "--ckpt")) ckpt = v;
    else if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--npy")) npy = v;
    else if (!strcmp(a, "--dir")) dir = v;
    else if (!strcmp(a, "--sampler")) sampler = v;
    else if (!strcmp(a, "--var")) var = v;
    else if (!strcmp(a, "--schedule")) sched = v;
    else if (!strcmp(a, "--prediction")) pred = v;
    else if (!strcmp(a, "--steps")) bad = cli_int(a, v, 1, 100000, &steps);
    else if (!strcmp(a, "--n")) bad = cli_int(a, v, 1, 1L << 24, &n);
    else if (!strcmp(a, "--batch")) bad = cli_int(a, v, 1, 4096, &batch);
    else if (!strcmp(a, "--seed")) bad = cli_int(a, v, 0, 0x7fffffffffffffffL, &seed);
    else if (!strcmp(a, "--T")) bad = cli_int(a, v, 2, 100000, &T);
    else if (!strcmp(a, "--order")) bad = cli_int(a, v, 1, 3, &order);
    else if (!strcmp(a, "--grid")) grid = v;
    else if (!strcmp(a, "--eta")) {
      char *end;
      eta = strtof(v, &end);
      if (*end || !(eta >= 0 && eta <= 10)) { fprintf(stderr, "cldiff sample: --eta: '%s' is not a number in [0, 10]\n", v); return 2; }
    } else if (!strcmp(a, "--churn") || !strcmp(a, "--sigma-min") || !strcmp(a, "--sigma-max") || !strcmp(a, "--rho")) {
      char *end;
      float f = strtof(v, &end);
      if (*end || !(f >= 0 && f <= 1e6)) { fprintf(stderr, "cldiff sample: %s: '%s' is not a non-negative number\n", a, v); return 2; }
      if (!strcmp(a, "--churn")) churn = f;
      else if (!strcmp(a, "--sigma-min")) smin = f;
      else if (!strcmp(a, "--sigma-max")) smax = f;
      else rho = f;
    } else if (!strcmp(a, "--size")) {
      if (sscanf(v, "%dx%d", &H, &W) != 2 || H < 1 || W < 1) { fprintf(stderr, "cldiff sample: --size: '%s' is not HxW\n", v); return 2; }
    } else { fprintf(stderr, "cldiff sample: unknown option '%s' (see --help)\n", a); return 2; }
    if (bad) return 2;
  }
  if (!ckpt || !out) { fprintf(stderr, "cldiff sample: --ckpt and --out are required (see --help)\n"); return 2; }
  int sk = cld_sampler_parse(sampler);
  if (sk < 0) {
    fprintf(stderr, "cldiff sample: --sampler: '%s' is not ddim, ddpm, spndm, fpndm, dpm-solver, euler or heun\n", sampler);
    return 2;
  }
  int gk = !strcmp(grid, "time-uniform") ? CLD_DPM_TIME_UNIFORM : !strcmp(grid, "logsnr") ? CLD_DPM_LOGSNR
           : !strcmp(grid, "time-quadratic") ? CLD_DPM_TIME_QUADRATIC : -1;
  if (gk < 0) { fprintf(stderr, "cldiff sample: --grid: '%s' is not time-uniform, logsnr or time-quadratic\n", grid); return 2; }
  if (!singlestep && order < 2 && sk == CLD_SAMPLER_DPM_SOLVER) { fprintf(stderr, "cldiff sample: --order 1 needs --singlestep\n"); return 2; }
  if (strcmp(var, "small") && strcmp(var, "large")) { fprintf(stderr, "cldiff sample: --var: '%s' is not small or large\n", var); return 2; }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  int rc = 1;
  ckpt_info ci;
  cld_store *s = NULL;
  cld_model *u = NULL;
  float *imgs = NULL;
  if (ckpt_resolve(ctx, ckpt, ema, &ci)) { rc = 2; goto done; }
  if (sched && (ci.schedule = cld_beta_schedule_parse(sched)) < 0) { fprintf(stderr, "cldiff sample: --schedule: '%s' unknown\n", sched); rc = 2; goto done; }
  if (pred && (ci.prediction = cld_prediction_parse(pred)) < 0) { fprintf(stderr, "cldiff sample: --prediction: '%s' unknown\n", pred); rc = 2; goto done; }
  if (T) ci.T = (int)T;
  if (cld_store_create(ctx, &s) || cld_model_load(ctx, ci.model_dir, s, &u)) { fprintf(stderr, "cldiff sample: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  int C = cld_model_channels(u);
  if (!H) H = W = cld_model_sample_size(u);
  if (H < 1) { fprintf(stderr, "cldiff sample: the model has no sample_size; pass --size HxW\n"); rc = 2; goto done; }
  cld_sample_params sp = cld_sample_params_default();
  sp.sampler = sk;
  sp.steps = (int)steps;
  sp.eta = eta;
  sp.var_type = !strcmp(var, "large") ? CLD_VAR_FIXED_LARGE : CLD_VAR_FIXED_SMALL;
  sp.clip_x0 = clip;
  sp.seed = (uint64_t)seed;
  sp.batch = (int)batch;
  sp.schedule = ci.schedule;
  sp.T = ci.T;
  sp.prediction = ci.prediction;
  sp.s_churn = churn;
  sp.dpm_order = (int)order;
  sp.dpm_multistep = !singlestep;
  sp.dpm_grid = gk;
  sp.sigma_data = (float)ci.sigma_data;
  sp.edm_sigma_min = smin;
  sp.edm_sigma_max = smax;
  sp.edm_rho = rho;
  size_t per = (size_t)C * H * W;
  imgs = malloc((size_t)n * per * sizeof(float));
  if (!imgs) { fprintf(stderr, "cldiff sample: out of memory for %ld images\n", n); goto done; }
  double t0 = cli_now();
  if (cld_sample(ctx, u, &sp, 0, n, H, W, imgs, progress, NULL)) { fprintf(stderr, "\ncldiff sample: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  fprintf(stderr, "\nsampled %ld images with %s, %ld steps in %.1f s (%s)\n", n, sampler, steps, cli_now() - t0, ci.model_dir);
  bool points = cld_model_get_kind(u) == CLD_MODEL_MLP;
  cld_status wst = points ? cld_png_write_scatter(ctx, out, imgs, (int)n, 4.0f) : cld_png_write_grid(ctx, out, imgs, (int)n, C, H, W, 0);
  if (wst) { fprintf(stderr, "cldiff sample: %s\n", cld_ctx_errmsg(ctx)); goto done; }
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
