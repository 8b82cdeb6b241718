/* `cldiff train`: trains a diffusion model with a progress bar, a JSONL log and checkpoints
 * (every --save-every steps, at the end, and on SIGINT/SIGTERM). */
#include "cli.h"
#include "fs/fs.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) { stop_requested = sig; }

/* On --resume, drops the log lines of steps after the checkpoint (a run killed between checkpoints
 * logged steps that are trained again), so log.jsonl holds each step once. Rewrites the log
 * atomically (cld_fs_write_atomic); 0 on success or when there is no log yet, else -1 after
 * printing what failed. */
static int trim_log(cld_ctx *ctx, const char *path, long long upto) {
  FILE *in = fopen(path, "r");
  if (!in) {
    if (errno == ENOENT) return 0;
    fprintf(stderr, "cldiff train: %s: %s\n", path, strerror(errno));
    return -1;
  }
  char *line = NULL, *kept = NULL;
  size_t lcap = 0, len = 0, cap = 0;
  ssize_t n;
  bool ok = true;
  /* a run killed mid-write leaves a last line without its newline: dropped, so that the resumed
   * run's first line does not run into it; steps after the checkpoint are dropped too */
  while (ok && (n = getline(&line, &lcap, in)) > 0) {
    long long step;
    if (line[n - 1] != '\n' || (sscanf(line, "{\"step\":%lld", &step) == 1 && step > upto)) continue;
    if (len + (size_t)n > cap) {
      char *nk = realloc(kept, cap = 2 * (len + (size_t)n) + 4096);
      if (!nk) { ok = false; break; }
      kept = nk;
    }
    memcpy(kept + len, line, (size_t)n);
    len += (size_t)n;
  }
  ok = ok && !ferror(in);
  fclose(in);
  free(line);
  char err[1400];
  if (!ok) fprintf(stderr, "cldiff train: %s: cannot read the log to trim it\n", path);
  else if (cld_fs_write_atomic(path, kept ? kept : "", len, err, sizeof err)) {
    fprintf(stderr, "cldiff train: cannot trim the steps after the checkpoint: %s\n", err);
    ok = false;
  }
  free(kept);
  return ok ? 0 : -1;
}

static void usage(void) {
  printf("usage: cldiff train --data SPEC --model PRESET|config.json --out DIR [options]\n\n"
         "Trains a diffusion UNet; checkpoints go to DIR/ckpt-STEP (model/ and ema/ are diffusers\n"
         "UNet2DModel directories), the log to DIR/log.jsonl.\n\n"
         "  --data SPEC         fmnist[:DIR] (default DIR /usr/share/datasets/fashion-mnist), mnist:DIR,\n"
         "                      cifar10:DIR (binary batches), png:DIR (resized/cropped to the model),\n"
         "                      toy:NAME (8gaussians, 25gaussians, moons, swissroll, checkerboard)\n"
         "  --model M           preset fmnist-s, fmnist-xs, cifar10-ddpm, tiny, toy-mlp; or a config.json\n"
         "  --out DIR           run directory\n"
         "  --steps N           total steps of the run (default 1000); with --resume, continue up to N\n"
         "  --batch B           batch size (default 32)\n"
         "  --lr LR             AdamW learning rate (default 2e-4), --warmup N steps (default 100)\n"
         "  --weight-decay W    decoupled weight decay (default 0)\n"
         "  --clip X            global gradient-norm clip (default 1; 0 disables)\n"
         "  --ema-decay D       EMA decay (default 0.999), warmed up as min(D, (1+step)/(10+step))\n"
         "  --seed S            seed of every random choice (default 0)\n"
         "  --schedule NAME     linear (default), scaled-linear, cosine, sigmoid; --T N (default 1000)\n"
         "  --prediction P      eps (default), x0, v, or edm (Karras preconditioning, ln sigma ~ N(-1.2, 1.2^2),\n"
         "                      --sigma-data S (default 0.5); sample with --sampler euler|heun)\n"
         "  --hflip             random horizontal flips\n"
         "  --timestep-sampling uniform (default) or loss-second-moment (iDDPM importance sampling)\n"
         "  --learn-sigma       iDDPM learned-range variance with the hybrid loss (eps prediction; presets\n"
         "                      get 2x output channels, a config.json must declare them); ddpm sampling\n"
         "                      then uses the learned variance\n"
         "methods (shared/METHODS.md; combine freely):\n"
         "  --ip-gamma G        Input Perturbation: x_t built from eps + G xi, target eps (paper: 0.1; 0.15\n"
         "                      for CIFAR-10); --ip-ramp uses gamma_t = linspace(0.01 G, G, T)[t]\n"
         "  --weighting W       const (default), debias (1/sqrt(SNR)), min-snr (min(5/SNR, 1)), p2 (1/(1+SNR));\n"
         "                      --snr-clamp X clamps SNR at X first (default off)\n"
         "  --ep-lambda L       error-propagation regulariser weight (default 0 = off; paper code 1);\n"
         "                      --ep-k K longest bootstrapped chain (default 5); needs an even --batch;\n"
         "                      a step runs the L ~ U{1..K} chain steps it draws (log: ep_chain_steps)\n"
         "  --stf-ref R         Stable Target Field with R reference images per step (>= --batch; 0 = off)\n"
         "  --save-every N      checkpoint every N steps (default 500), --keep K newest (default 3)\n"
         "  --resume            continue the run in DIR from its newest checkpoint\n"
         "  --log-every N       progress/log line every N steps (default 1)\n"
         "  --device D, --gemm P  as for every command\n");
}

static void fmt_time(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0) { snprintf(buf, n, "?"); return; }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, n, "%lds", t);
}

static int parse_float(const char *flag, const char *v, double lo, double hi, float *out) {
  char *end;
  errno = 0;
  double x = v ? strtod(v, &end) : 0;
  if (!v || !*v || *end || errno || !(x >= lo && x <= hi)) {
    fprintf(stderr, "cldiff train: %s: '%s' is not a number in [%g, %g]\n", flag, v ? v : "", lo, hi);
    return 2;
  }
  *out = (float)x;
  return 0;
}

int cmd_train(int argc, char **argv) {
  cli_common co = {0};
  const char *data = NULL, *model = NULL, *out = NULL, *sched = "linear", *pred = "eps";
  long steps = 1000, batch = 32, save_every = 500, keep = 3, warmup = 100, T = 1000, log_every = 1, seed = 0;
  float lr = 2e-4f, wd = 0, clip = 1, ema = 0.999f, sigma_data = 0.5f;
  bool resume = false, hflip = false, learn_sigma = false;
  const char *tsamp = "uniform";
  cld_methods meth = cld_methods_default();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(); return 0; }
    if (!strcmp(a, "--resume")) { resume = true; continue; }
    if (!strcmp(a, "--ip-ramp")) { meth.ip_ramp = true; continue; }
    if (!strcmp(a, "--hflip")) { hflip = true; continue; }
    if (!strcmp(a, "--learn-sigma")) { learn_sigma = true; continue; }
    int k = cli_common_opt(&co, argc, argv, i);
    if (k < 0) return 2;
    if (k > 0) { i += k - 1; continue; }
    if (i + 1 >= argc) { fprintf(stderr, "cldiff train: %s needs a value (or is unknown; see --help)\n", a); return 2; }
    const char *v = argv[++i];
    int bad = 0;
    if (!strcmp(a, "--data")) data = v;
    else if (!strcmp(a, "--model")) model = v;
    else if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--schedule")) sched = v;
    else if (!strcmp(a, "--prediction")) pred = v;
    else if (!strcmp(a, "--timestep-sampling")) tsamp = v;
    else if (!strcmp(a, "--steps")) bad = cli_int(a, v, 1, 1L << 40, &steps);
    else if (!strcmp(a, "--batch")) bad = cli_int(a, v, 1, 1 << 20, &batch);
    else if (!strcmp(a, "--save-every")) bad = cli_int(a, v, 1, 1L << 40, &save_every);
    else if (!strcmp(a, "--keep")) bad = cli_int(a, v, 0, 1 << 20, &keep);
    else if (!strcmp(a, "--warmup")) bad = cli_int(a, v, 0, 1L << 40, &warmup);
    else if (!strcmp(a, "--T")) bad = cli_int(a, v, 2, 100000, &T);
    else if (!strcmp(a, "--log-every")) bad = cli_int(a, v, 1, 1L << 30, &log_every);
    else if (!strcmp(a, "--seed")) bad = cli_int(a, v, 0, 0x7fffffffffffffffL, &seed);
    else if (!strcmp(a, "--lr")) bad = parse_float(a, v, 0, 10, &lr);
    else if (!strcmp(a, "--weight-decay")) bad = parse_float(a, v, 0, 10, &wd);
    else if (!strcmp(a, "--clip")) bad = parse_float(a, v, 0, 1e9, &clip);
    else if (!strcmp(a, "--ema-decay")) bad = parse_float(a, v, 0, 1, &ema);
    else if (!strcmp(a, "--sigma-data")) bad = parse_float(a, v, 1e-6, 1e6, &sigma_data);
    else if (!strcmp(a, "--ip-gamma")) bad = parse_float(a, v, 0, 10, &meth.ip_gamma);
    else if (!strcmp(a, "--snr-clamp")) bad = parse_float(a, v, 0, 1e12, &meth.snr_clamp);
    else if (!strcmp(a, "--ep-lambda")) bad = parse_float(a, v, 0, 1e6, &meth.ep_lambda);
    else if (!strcmp(a, "--ep-k")) { long kv; bad = cli_int(a, v, 1, 50, &kv); meth.ep_k = (int)kv; }
    else if (!strcmp(a, "--stf-ref")) { long rv; bad = cli_int(a, v, 0, 65536, &rv); meth.stf_ref = (int)rv; }
    else if (!strcmp(a, "--weighting")) {
      if ((meth.weighting = cld_weighting_parse(v)) < 0) { fprintf(stderr, "cldiff train: --weighting: '%s' is not const, debias, min-snr or p2\n", v); return 2; }
    }
    else { fprintf(stderr, "cldiff train: unknown option '%s' (see --help)\n", a); return 2; }
    if (bad) return 2;
  }
  if (strcmp(tsamp, "uniform") && strcmp(tsamp, "loss-second-moment")) {
    fprintf(stderr, "cldiff train: --timestep-sampling: '%s' is not uniform or loss-second-moment\n", tsamp);
    return 2;
  }
  if (!data || !model || !out) { fprintf(stderr, "cldiff train: --data, --model and --out are required (see --help)\n"); return 2; }
  int sk = cld_beta_schedule_parse(sched), pk = cld_prediction_parse(pred);
  if (sk < 0) { fprintf(stderr, "cldiff train: --schedule: '%s' is not linear, scaled-linear, cosine or sigmoid\n", sched); return 2; }
  if (pk < 0) {
    fprintf(stderr, "cldiff train: --prediction: '%s' is not eps, x0, v or edm\n", pred);
    return 2;
  }
  cld_train_params tp = cld_train_params_default();
  tp.batch = (int)batch;
  tp.lr = lr;
  tp.weight_decay = wd;
  tp.clip_norm = clip;
  tp.ema_decay = ema;
  tp.warmup = (int)warmup;
  tp.seed = (uint64_t)seed;
  tp.schedule = sk;
  tp.T = (int)T;
  tp.prediction = (cld_prediction)pk;
  tp.hflip = hflip;
  tp.timestep_sampling = strcmp(tsamp, "uniform") != 0;
  tp.methods = meth;
  tp.edm_sigma_data = sigma_data;
  tp.learn_sigma = learn_sigma;
  const char *why = cld_train_params_check(&tp); /* the library's rules, with the flags named */
  if (why) { fprintf(stderr, "cldiff train: %s\n", why); return 2; }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  int rc = 1;
  cld_dataset *ds = NULL;
  cld_store *s = NULL;
  cld_model *u = NULL;
  cld_trainer *t = NULL;
  FILE *log = NULL;
  char latest[1100];
  bool has_ckpt = cld_checkpoint_latest(ctx, out, latest, sizeof latest) == CLD_OK;
  if (has_ckpt && !resume) {
    fprintf(stderr, "cldiff train: %s already holds checkpoints (%s); pass --resume to continue it or choose another --out\n", out, latest);
    cld_ctx_destroy(ctx);
    return 2;
  }
  cld_unet_config pc;
  bool preset_2x = learn_sigma && cld_unet_preset(model, &pc) == CLD_OK; /* presets get 2C outputs */
  if (preset_2x) pc.out_channels = 2 * pc.in_channels;
  if (cld_store_create(ctx, &s) || (preset_2x ? cld_model_from_unet_config(ctx, &pc, s, &u) : cld_model_create(ctx, model, s, &u)) ||
      cld_model_init(u, (uint64_t)seed)) {
    fprintf(stderr, "cldiff train: --model: %s\n", cld_ctx_errmsg(ctx));
    goto done;
  }
  if (cld_dataset_open_sized(ctx, data, "train", cld_model_sample_size(u), &ds)) {
    fprintf(stderr, "cldiff train: --data: %s\n", cld_ctx_errmsg(ctx));
    goto done;
  }
  int ss = cld_model_sample_size(u);
  if (ss > 0 && (ss != ds->h || ss != ds->w))
    fprintf(stderr, "cldiff train: note: model sample_size %d, data %dx%d (training at the data size)\n", ss, ds->h, ds->w);
  if (cld_trainer_create(ctx, u, ds, &tp, &t)) { fprintf(stderr, "cldiff train: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  if (cld_fs_mkdirs(out) != 0) { fprintf(stderr, "cldiff train: --out %s: %s\n", out, strerror(errno)); goto done; }
  if (resume && has_ckpt) {
    if (cld_trainer_resume(t, out)) { fprintf(stderr, "cldiff train: --resume: %s\n", cld_ctx_errmsg(ctx)); goto done; }
    fprintf(stderr, "resumed %s at step %lld\n", latest, (long long)cld_trainer_steps_done(t));
  }
  char logpath[1100];
  snprintf(logpath, sizeof logpath, "%s/log.jsonl", out);
  if (resume && has_ckpt && trim_log(ctx, logpath, (long long)cld_trainer_steps_done(t)) != 0) goto done;
  log = fopen(logpath, "a");
  if (!log) { fprintf(stderr, "cldiff train: %s: %s\n", logpath, strerror(errno)); goto done; }
  fprintf(stderr, "training %lld parameters on %s (%lld items %dx%dx%d), device %s\n", (long long)cld_model_param_count(u),
          ds->name, (long long)ds->n, ds->c, ds->h, ds->w, cld_ctx_device(ctx)->name);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  bool tty = isatty(2);
  int64_t start = cld_trainer_steps_done(t);
  double t0 = cli_now(), ema_rate = 0;
  rc = 0;
  while (cld_trainer_steps_done(t) < steps && !stop_requested) {
    float loss;
    double ts = cli_now();
    if (cld_trainer_step(t, &loss)) { fprintf(stderr, "\ncldiff train: %s\n", cld_ctx_errmsg(ctx)); rc = 1; break; }
    if (!isfinite(loss)) { fprintf(stderr, "\ncldiff train: loss is %f at step %lld; stopping\n", loss, (long long)cld_trainer_steps_done(t)); rc = 1; break; }
    double dt = cli_now() - ts;
    ema_rate = ema_rate == 0 ? dt : 0.9 * ema_rate + 0.1 * dt;
    int64_t done_steps = cld_trainer_steps_done(t);
    int ep_steps = cld_trainer_ep_chain_steps(t);
    fprintf(log, "{\"step\":%lld,\"loss\":%.6g,\"seconds\":%.4f,\"elapsed\":%.2f", (long long)done_steps, loss, dt, cli_now() - t0);
    if (ep_steps > 0) fprintf(log, ",\"ep_chain_steps\":%d", ep_steps);
    fputs("}\n", log);
    if (done_steps % log_every == 0 || done_steps == steps) {
      char eta[32];
      fmt_time(ema_rate * (double)(steps - done_steps), eta, sizeof eta);
      int width = 24, fill = (int)(width * done_steps / steps);
      char bar[32];
      for (int b = 0; b < width; b++) bar[b] = b < fill ? '#' : '.';
      bar[width] = 0;
      fprintf(stderr, "%s[%s] step %lld/%ld loss %.4f %.2f it/s ETA %s%s", tty ? "\r" : "", bar, (long long)done_steps, steps, loss,
              1.0 / ema_rate, eta, tty ? "   " : "\n");
      fflush(stderr);
    }
    if (done_steps % save_every == 0 && done_steps < steps) {
      fflush(log);
      if (cld_trainer_save(t, out, (int)keep)) { fprintf(stderr, "\ncldiff train: checkpoint: %s\n", cld_ctx_errmsg(ctx)); rc = 1; break; }
    }
  }
  if (tty) fprintf(stderr, "\n");
  if (cld_trainer_steps_done(t) > start || (stop_requested && !rc)) {
    fflush(log);
    if (cld_trainer_save(t, out, (int)keep)) { fprintf(stderr, "cldiff train: checkpoint: %s\n", cld_ctx_errmsg(ctx)); rc = 1; }
    else fprintf(stderr, "saved %s/ckpt-%lld (%.1f s)\n", out, (long long)cld_trainer_steps_done(t), cli_now() - t0);
  }
  if (stop_requested) { fprintf(stderr, "stopped by signal %d; resume with --resume\n", (int)stop_requested); rc = 130; }
done:
  if (log) fclose(log);
  cld_trainer_destroy(t);
  cld_model_destroy(u);
  cld_store_destroy(s);
  cld_dataset_free(ds);
  cld_ctx_destroy(ctx);
  return rc;
}
