/* `cldiff train`: trains a diffusion model with a progress bar, a JSONL log and checkpoints
 * (every --save-every steps, at the end, and on SIGINT/SIGTERM). */
#include "cli.h"
#include "fs/fs.h"
#include "opts.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/file.h>

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

static void fmt_time(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0) { snprintf(buf, n, "?"); return; }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, n, "%lds", t);
}

/* every option of `cldiff train`, its value and its default */
typedef struct train_args {
  cli_common co;
  const char *data, *model, *out, *sched, *pred, *tsamp, *weighting;
  long steps, batch, save_every, keep, warmup, T, log_every, seed, accum;
  float lr, wd, clip, ema, sigma_data, cond_drop, bucket_mb;
  bool resume, hflip, learn_sigma, skip_nonfinite;
  cld_methods meth;
} train_args;

static const char TRAIN_SYNOPSIS[] =
    "usage: cldiff train --data SPEC --model PRESET|config.json --out DIR [options]\n\n"
    "Trains a diffusion UNet; checkpoints go to DIR/ckpt-STEP (model/ and ema/ are diffusers\n"
    "UNet2DModel directories), the log to DIR/log.jsonl.\n";

/* parses argv into a (defaults first); 0, 1 after --help, 2 on a bad option */
static int parse_train(train_args *a, int argc, char **argv) {
  *a = (train_args){.sched = "linear", .pred = "eps", .tsamp = "uniform", .weighting = "const", .steps = 1000, .batch = 32, .accum = 1,
                    .save_every = 500, .keep = 3, .warmup = 100, .T = 1000, .log_every = 1, .lr = 2e-4f, .clip = 1,
                    .ema = 0.999f, .sigma_data = 0.5f, .bucket_mb = -1, .meth = cld_methods_default()};
  const cli_opt opts[] = {
      {"--data", "SPEC", CLI_STR, &a->data, 0, 0, "fmnist[:DIR] (default DIR /usr/share/datasets/fashion-mnist), mnist:DIR,\n"
       "cifar10:DIR (binary batches), folder:DIR (PNG/JPEG, resized/cropped to the\nmodel; one subfolder per class gives labels), toy:NAME (8gaussians,\n"
       "25gaussians, moons, swissroll, checkerboard)"},
      {"--model", "M", CLI_STR, &a->model, 0, 0, "preset fmnist-s, fmnist-xs, cifar10-ddpm, tiny, toy-mlp; fmnist-xs-cond,\n"
       "cifar10-ddpm-cond (class-conditional, 10 classes + null); or a config.json"},
      {"--cond-drop", "P", CLI_FLOAT, &a->cond_drop, 0, 0.999, "class-conditional models: train on the null class with probability P\n"
       "(classifier-free guidance needs it; 0.1 is usual; default 0)"},
      {"--out", "DIR", CLI_STR, &a->out, 0, 0, "run directory"},
      {"--steps", "N", CLI_LONG, &a->steps, 1, 1099511627776.0, "total steps of the run (default 1000); with --resume, continue up to N"},
      {"--batch", "B", CLI_LONG, &a->batch, 1, 1 << 20, "batch size of one optimizer step (default 32); under mpirun the global\n"
       "batch, split evenly over the ranks"},
      {"--accum", "K", CLI_LONG, &a->accum, 1, 4096, "gradient accumulation: each step's batch in K micro-batches (default 1)"},
      {"--bucket-mb", "M", CLI_FLOAT, &a->bucket_mb, 0, 4096, "under mpirun: all-reduce the gradients in buckets of M MiB, each as soon as\n"
       "the backward pass has written it; 0: one all-reduce after it (default 4 on\nGPUs, 0 on CPU devices, where it measured slower)"},
      {"--lr", "LR", CLI_FLOAT, &a->lr, 0, 10, "AdamW learning rate (default 2e-4)"},
      {"--warmup", "N", CLI_LONG, &a->warmup, 0, 1099511627776.0, "linear learning-rate warmup steps (default 100)"},
      {"--weight-decay", "W", CLI_FLOAT, &a->wd, 0, 10, "decoupled weight decay (default 0)"},
      {"--clip", "X", CLI_FLOAT, &a->clip, 0, 1e9, "global gradient-norm clip (default 1; 0 disables)"},
      {"--ema-decay", "D", CLI_FLOAT, &a->ema, 0, 1, "EMA decay (default 0.999), warmed up as min(D, (1+step)/(10+step))"},
      {"--seed", "S", CLI_LONG, &a->seed, 0, 9.2233720368547748e18, "seed of every random choice (default 0)"},
      {"--schedule", "NAME", CLI_STR, &a->sched, 0, 0, "linear (default), scaled-linear, cosine, sigmoid"},
      {"--T", "N", CLI_LONG, &a->T, 2, 100000, "diffusion steps (default 1000)"},
      {"--prediction", "P", CLI_STR, &a->pred, 0, 0, "eps (default), x0, v, or edm (Karras preconditioning, ln sigma ~ N(-1.2, 1.2^2);\n"
       "sample with --sampler euler|heun)"},
      {"--sigma-data", "S", CLI_FLOAT, &a->sigma_data, 1e-6, 1e6, "EDM's sigma_data (default 0.5)"},
      {"--hflip", NULL, CLI_FLAG, &a->hflip, 0, 0, "random horizontal flips"},
      {"--timestep-sampling", "S", CLI_STR, &a->tsamp, 0, 0, "uniform (default) or loss-second-moment (iDDPM importance sampling)"},
      {"--learn-sigma", NULL, CLI_FLAG, &a->learn_sigma, 0, 0, "iDDPM learned-range variance with the hybrid loss (eps prediction; presets\n"
       "get 2x output channels, a config.json must declare them); ddpm sampling\nthen uses the learned variance"},
      {"", NULL, CLI_FLAG, NULL, 0, 0, "methods (shared/METHODS.md; combine freely):"},
      {"--ip-gamma", "G", CLI_FLOAT, &a->meth.ip_gamma, 0, 10, "Input Perturbation: x_t built from eps + G xi, target eps (paper: 0.1; 0.15\nfor CIFAR-10)"},
      {"--ip-ramp", NULL, CLI_FLAG, &a->meth.ip_ramp, 0, 0, "IP with gamma_t = linspace(0.01 G, G, T)[t]"},
      {"--weighting", "W", CLI_STR, &a->weighting, 0, 0, "const (default), debias (1/sqrt(SNR)), min-snr (min(5/SNR, 1)), p2 (1/(1+SNR))"},
      {"--snr-clamp", "X", CLI_FLOAT, &a->meth.snr_clamp, 0, 1e12, "clamps SNR at X before the weighting (default off)"},
      {"--ep-lambda", "L", CLI_FLOAT, &a->meth.ep_lambda, 0, 1e6, "error-propagation regulariser weight (default 0 = off; paper code 1);\n"
       "needs an even micro-batch (--batch / (--accum x ranks)); a step runs the\nL ~ U{1..K} chain steps it draws (log: ep_chain_steps)"},
      {"--ep-k", "K", CLI_INT, &a->meth.ep_k, 1, 50, "longest bootstrapped chain (default 5)"},
      {"--stf-ref", "R", CLI_INT, &a->meth.stf_ref, 0, 65536, "Stable Target Field with R reference images per step (>= --batch; 0 = off)"},
      {"", NULL, CLI_FLAG, NULL, 0, 0, "run:"},
      {"--save-every", "N", CLI_LONG, &a->save_every, 1, 1099511627776.0, "checkpoint every N steps (default 500)"},
      {"--keep", "K", CLI_LONG, &a->keep, 0, 1 << 20, "keep the K newest checkpoints (default 3; 0 keeps all)"},
      {"--resume", NULL, CLI_FLAG, &a->resume, 0, 0, "continue the run in DIR from its newest checkpoint"},
      {"--log-every", "N", CLI_LONG, &a->log_every, 1, 1 << 30, "progress line every N steps (default 1)"},
      {"--skip-nonfinite", NULL, CLI_FLAG, &a->skip_nonfinite, 0, 0, "skip a step whose loss or gradient is NaN/Inf (logged, warned)\n"
       "instead of stopping; no such step is ever applied"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt *const tables[] = {opts, NULL};
  int rc = cli_parse("train", TRAIN_SYNOPSIS, tables, &a->co, argc, argv);
  if (rc) return rc;
  if ((a->meth.weighting = cld_weighting_parse(a->weighting)) < 0) {
    fprintf(stderr, "cldiff train: --weighting: '%s' is not const, debias, min-snr or p2\n", a->weighting);
    return 2;
  }
  if (strcmp(a->tsamp, "uniform") && strcmp(a->tsamp, "loss-second-moment")) {
    fprintf(stderr, "cldiff train: --timestep-sampling: '%s' is not uniform or loss-second-moment\n", a->tsamp);
    return 2;
  }
  if (!a->data || !a->model || !a->out) { fprintf(stderr, "cldiff train: --data, --model and --out are required (see --help)\n"); return 2; }
  return 0;
}

/* the library's parameters from the options; 2 after printing what is wrong */
static int train_params(const train_args *a, cld_train_params *tp) {
  int sk = cld_beta_schedule_parse(a->sched), pk = cld_prediction_parse(a->pred);
  if (sk < 0) { fprintf(stderr, "cldiff train: --schedule: '%s' is not linear, scaled-linear, cosine or sigmoid\n", a->sched); return 2; }
  if (pk < 0) { fprintf(stderr, "cldiff train: --prediction: '%s' is not eps, x0, v or edm\n", a->pred); return 2; }
  *tp = cld_train_params_default();
  tp->batch = (int)a->batch;
  tp->lr = a->lr;
  tp->weight_decay = a->wd;
  tp->clip_norm = a->clip;
  tp->ema_decay = a->ema;
  tp->warmup = (int)a->warmup;
  tp->seed = (uint64_t)a->seed;
  tp->schedule = sk;
  tp->T = (int)a->T;
  tp->prediction = (cld_prediction)pk;
  tp->hflip = a->hflip;
  tp->skip_nonfinite = a->skip_nonfinite;
  tp->accum = (int)a->accum;
  tp->bucket_mb = a->bucket_mb;
  tp->comm = cli_comm();
  tp->timestep_sampling = strcmp(a->tsamp, "uniform") != 0;
  tp->methods = a->meth;
  tp->edm_sigma_data = a->sigma_data;
  tp->learn_sigma = a->learn_sigma;
  tp->cond_drop = a->cond_drop;
  const char *why = cld_train_params_check(tp); /* the library's rules, with the flags named */
  if (why) { fprintf(stderr, "cldiff train: %s\n", why); return 2; }
  return 0;
}

/* the progress line of a step (the bar, loss, rate, ETA) */
static void progress_line(bool tty, int64_t done_steps, long steps, float loss, double step_s) {
  char eta[32], bar[32];
  fmt_time(step_s * (double)(steps - done_steps), eta, sizeof eta);
  int width = 24, fill = (int)(width * done_steps / steps);
  for (int b = 0; b < width; b++) bar[b] = b < fill ? '#' : '.';
  bar[width] = 0;
  fprintf(stderr, "%s[%s] step %lld/%ld loss %.4f %.2f it/s ETA %s%s", tty ? "\r" : "", bar, (long long)done_steps, steps, loss,
          1.0 / step_s, eta, tty ? "   " : "\n");
  fflush(stderr);
}

/* divergence, from the logged loss: its running mean 100x above the lowest it reached; true (and
 * a warning) the first time */
typedef struct { double ema, best; bool diverged; } loss_watch;
static bool watch_loss(loss_watch *w, float loss, int64_t step) {
  w->ema = w->ema == 0 ? loss : 0.9 * w->ema + 0.1 * loss;
  if (w->ema < w->best) w->best = w->ema;
  if (w->diverged || w->ema <= 100 * w->best) return false;
  w->diverged = true;
  fprintf(stderr, "\ncldiff train: warning: the loss diverges (running mean %.3g at step %lld, %.3g at its lowest); no "
          "checkpoint is pruned from here on (lower --lr, or --clip)\n", w->ema, (long long)step, w->best);
  return true;
}

/* one line of loss.jsonl */
static void log_step(FILE *log, const cld_trainer *t, float loss, double dt, double elapsed) {
  int ep_steps = cld_trainer_ep_chain_steps(t);
  fprintf(log, "{\"step\":%lld,\"loss\":%.6g,\"seconds\":%.4f,\"elapsed\":%.2f", (long long)cld_trainer_steps_done(t), loss,
          dt, elapsed);
  if (ep_steps > 0) fprintf(log, ",\"ep_chain_steps\":%d", ep_steps);
  fputs("}\n", log);
}

/* a step skipped as non-finite under --skip-nonfinite: logged, and warned about on the 1st, 2nd,
 * 4th, 8th, ... */
static void skipped_step(FILE *log, const cld_trainer *t) {
  long long step = (long long)cld_trainer_steps_done(t), k = (long long)cld_trainer_skipped_steps(t);
  fprintf(log, "{\"step\":%lld,\"skipped\":\"non-finite loss or gradient\"}\n", step);
  if ((k & (k - 1)) == 0)
    fprintf(stderr, "\ncldiff train: warning: step %lld skipped: non-finite loss or gradient (%lld skipped so far)\n", step, k);
}

/* ", 2 ranks x 2 micro-batches of 8" when the batch is split */
static const char *ranks_note(const cld_train_params *tp) {
  static char buf[96];
  int ranks = tp->comm ? tp->comm->size : 1;
  buf[0] = 0;
  if (ranks > 1 || tp->accum > 1)
    snprintf(buf, sizeof buf, ", %d rank(s) x %d micro-batch(es) of %d", ranks, tp->accum, cld_train_micro_batch(tp));
  return buf;
}

/* the training loop: steps, the log, progress, checkpoints; 0, 1 on failure, 130 after a signal */
static int train_loop(const train_args *a, cld_ctx *ctx, cld_trainer *t, FILE *log) {
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  bool tty = isatty(2);
  int64_t start = cld_trainer_steps_done(t);
  double t0 = cli_now(), ema_rate = 0;
  loss_watch lw = {0, INFINITY, false};
  int rc = 0, keep = (int)a->keep;
  bool no_final_save = false; /* after a non-finite step or a failed save */
  const cld_comm *comm = cli_comm();
  bool rank0 = cli_rank() == 0;
  /* every rank stops at the same step: a signal on one (mpirun forwards Ctrl-C to all) stops all */
  bool stop = false;
  while (cld_trainer_steps_done(t) < a->steps && !(stop = comm ? comm->any(comm->user, stop_requested != 0) : stop_requested != 0)) {
    float loss;
    double ts = cli_now();
    cld_status st = cld_trainer_step(t, &loss);
    if (st == CLD_ERR_NONFINITE) { /* not applied; stopping without a save keeps the last checkpoint the newest */
      fprintf(stderr, "\ncldiff train: %s; stopping without saving (the last checkpoint is the newest good one; "
              "--skip-nonfinite skips such steps)\n", cld_ctx_errmsg(ctx));
      rc = 1;
      no_final_save = true;
      break;
    }
    if (st) { fprintf(stderr, "\ncldiff train: %s\n", cld_ctx_errmsg(ctx)); rc = 1; break; }
    double dt = cli_now() - ts;
    ema_rate = ema_rate == 0 ? dt : 0.9 * ema_rate + 0.1 * dt;
    int64_t done_steps = cld_trainer_steps_done(t);
    if (isfinite(loss)) {
      if (!lw.diverged && watch_loss(&lw, loss, done_steps)) keep = 0; /* the checkpoints from before it stay */
      log_step(log, t, loss, dt, cli_now() - t0);
    } else {
      skipped_step(log, t);
    }
    if (rank0 && (done_steps % a->log_every == 0 || done_steps == a->steps)) progress_line(tty, done_steps, a->steps, loss, ema_rate);
    if (done_steps % a->save_every == 0 && done_steps < a->steps) {
      fflush(log);
      if (cld_trainer_save(t, a->out, keep)) {
        fprintf(stderr, "\ncldiff train: checkpoint: %s\n", cld_ctx_errmsg(ctx));
        rc = 1;
        no_final_save = true; /* not saved again on the way out: the same write would fail the same way */
        break;
      }
    }
  }
  if (tty) fprintf(stderr, "\n");
  if (!no_final_save && (cld_trainer_steps_done(t) > start || (stop && !rc))) {
    fflush(log);
    if (cld_trainer_save(t, a->out, keep)) { fprintf(stderr, "cldiff train: checkpoint: %s\n", cld_ctx_errmsg(ctx)); rc = 1; }
    else if (rank0) fprintf(stderr, "saved %s/ckpt-%lld (%.1f s)\n", a->out, (long long)cld_trainer_steps_done(t), cli_now() - t0);
  }
  if (stop) {
    if (stop_requested) fprintf(stderr, "stopped by signal %d; resume with --resume\n", (int)stop_requested);
    else if (rank0) fprintf(stderr, "stopped: another rank got a signal; resume with --resume\n");
    rc = 130;
  }
  return rc;
}

/* the model (presets get 2C outputs with --learn-sigma), initialised from the seed */
static int make_model(const train_args *a, cld_ctx *ctx, cld_store **s, cld_model **u) {
  cld_unet_config pc;
  bool preset_2x = a->learn_sigma && cld_unet_preset(a->model, &pc) == CLD_OK;
  if (preset_2x) pc.out_channels = 2 * pc.in_channels;
  if (cld_store_create(ctx, s) || (preset_2x ? cld_model_from_unet_config(ctx, &pc, *s, u) : cld_model_create(ctx, a->model, *s, u)) ||
      cld_model_init(*u, (uint64_t)a->seed)) {
    fprintf(stderr, "cldiff train: --model: %s\n", cld_ctx_errmsg(ctx));
    return 1;
  }
  return 0;
}

/* One run per directory: an exclusive lock on DIR/.lock held for the whole run (released by the
 * kernel when the process ends, also on SIGKILL). Returns the descriptor, or -1 after printing
 * why (another run holds it, or the directory cannot take the file). */
static int lock_run_dir(const char *out) {
  char path[1100];
  snprintf(path, sizeof path, "%s/.lock", out);
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) { fprintf(stderr, "cldiff train: %s: %s\n", path, strerror(errno)); return -1; }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = "";
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    pid[n > 0 ? n : 0] = 0;
    fprintf(stderr, "cldiff train: --out %s: another cldiff train is running there (pid %s); one run per directory\n", out,
            *pid ? strtok(pid, "\n") : "?");
    close(fd);
    return -1;
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n) { /* the pid is informative only */ }
  return fd;
}

int cmd_train(int argc, char **argv) {
  train_args a;
  cld_train_params tp;
  int prc = parse_train(&a, argc, argv);
  if (prc) return prc == 1 ? 0 : 2;
  if (train_params(&a, &tp)) return 2;
  cld_ctx *ctx = cli_ctx(&a.co);
  if (!ctx) return 1;
  int rc = 1;
  cld_dataset *ds = NULL;
  cld_store *s = NULL;
  cld_model *u = NULL;
  cld_trainer *t = NULL;
  FILE *log = NULL;
  int lock_fd = -1;
  char latest[1100], logpath[1100];
  bool has_ckpt = cld_checkpoint_latest(ctx, a.out, latest, sizeof latest) == CLD_OK;
  if (has_ckpt && !a.resume) {
    fprintf(stderr, "cldiff train: %s already holds checkpoints (%s); pass --resume to continue it or choose another --out\n", a.out, latest);
    cld_ctx_destroy(ctx);
    return 2;
  }
  if (make_model(&a, ctx, &s, &u)) goto done;
  if (cld_dataset_open_sized(ctx, a.data, "train", cld_model_sample_size(u), &ds)) {
    fprintf(stderr, "cldiff train: --data: %s\n", cld_ctx_errmsg(ctx));
    goto done;
  }
  if (ds->n_skipped)
    fprintf(stderr, "cldiff train: warning: --data %s: %d unreadable file(s) skipped, the first: %s\n", a.data, ds->n_skipped,
            ds->skipped_first);
  if (cli_rank() == 0 && ds->n_classes && cld_model_class_kind(u) != CLD_CLASS_NONE)
    fprintf(stderr, "class-conditional: %d classes (%s%s%s ...)%s\n", ds->n_classes, ds->class_names ? ds->class_names[0] : "0",
            ds->n_classes > 1 ? ", " : "", ds->n_classes > 1 && ds->class_names ? ds->class_names[1] : "",
            a.cond_drop > 0 ? ", label dropout to the null class" : ", no label dropout (no unconditional sampling, no guidance)");
  int ss = cld_model_sample_size(u);
  if (ss > 0 && (ss != ds->h || ss != ds->w))
    fprintf(stderr, "cldiff train: note: model sample_size %d, data %dx%d (training at the data size)\n", ss, ds->h, ds->w);
  if (cld_trainer_create(ctx, u, ds, &tp, &t)) { fprintf(stderr, "cldiff train: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  if (cld_fs_mkdirs(a.out) != 0) { fprintf(stderr, "cldiff train: --out %s: %s\n", a.out, strerror(errno)); goto done; }
  bool rank0 = cli_rank() == 0; /* under mpirun rank 0 alone holds the lock, writes the log and talks */
  if (rank0 && (lock_fd = lock_run_dir(a.out)) < 0) { rc = 2; goto done; }
  if (a.resume && has_ckpt) {
    if (cld_trainer_resume(t, a.out)) { fprintf(stderr, "cldiff train: --resume: %s\n", cld_ctx_errmsg(ctx)); goto done; }
    if (rank0) fprintf(stderr, "resumed %s at step %lld\n", cld_trainer_resumed_from(t), (long long)cld_trainer_steps_done(t));
    if (rank0 && *cld_trainer_resume_note(t)) fprintf(stderr, "cldiff train: warning: --resume %s\n", cld_trainer_resume_note(t));
  }
  snprintf(logpath, sizeof logpath, "%s/log.jsonl", a.out);
  if (rank0 && a.resume && has_ckpt && trim_log(ctx, logpath, (long long)cld_trainer_steps_done(t)) != 0) goto done;
  log = fopen(rank0 ? logpath : "/dev/null", "a");
  if (!log) { fprintf(stderr, "cldiff train: %s: %s\n", logpath, strerror(errno)); goto done; }
  if (rank0)
    fprintf(stderr, "training %lld parameters on %s (%lld items %dx%dx%d), device %s%s\n", (long long)cld_model_param_count(u),
            ds->name, (long long)ds->n, ds->c, ds->h, ds->w, cld_ctx_device(ctx)->name, ranks_note(&tp));
  rc = train_loop(&a, ctx, t, log);
done:
  if (log) fclose(log);
  if (lock_fd >= 0) close(lock_fd);
  cld_trainer_destroy(t);
  cld_model_destroy(u);
  cld_store_destroy(s);
  cld_dataset_free(ds);
  cld_ctx_destroy(ctx);
  return rc;
}
