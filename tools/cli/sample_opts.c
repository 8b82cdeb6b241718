/* See sample_opts.h. */
#include "sample_opts.h"
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sample_opts_init(sample_opts *o) {
  memset(o, 0, sizeof *o);
  o->sampler = "ddim";
  o->var = "small";
  o->grid = "time-uniform";
  o->steps = 0; /* 0: not given (50, unless --respacing sets the grid) */
  o->order = 2;
  o->smin = 0.002f;
  o->smax = 80.0f;
  o->rho = 7.0f;
  o->guidance = 1.0f;
  o->null_class = -1;
}

void sample_opts_table(sample_opts *o, cli_opt *out) {
  const cli_opt t[] = {
      {"", NULL, CLI_FLAG, NULL, 0, 0, "sampler:"},
      {"--ema", NULL, CLI_FLAG, &o->ema, 0, 0, "use the EMA weights of a cldiff checkpoint"},
      {"--sampler", "S", CLI_STR, &o->sampler, 0, 0, "ddim (default), ddpm, spndm, fpndm, dpm-solver, dpm++2m, dpm++3m, dpm++2m-sde,\n"
       "dpm++2s or unipc for eps/x0/v models; euler or heun for edm models. PNDM runs on the\n"
       "ddimN grid (F-PNDM: steps + 9 evaluations); dpm++2m/3m/2m-sde: DPM-Solver++ as diffusers'\n"
       "DPMSolverMultistepScheduler, dpm++2s as DPMSolverSinglestepScheduler; unipc: UniPC as\n"
       "UniPCMultistepScheduler (bh2, order 2)"},
      {"--steps", "N", CLI_LONG, &o->steps, 1, 100000, "sampling steps (default 50; ddim uses the \"ddimN\" stride, ddpm \"N\"; dpm-solver:\n"
       "model evaluations; euler/heun: the grid size N, Heun uses 2N-1 evaluations)"},
      {"--respacing", "SPEC", CLI_STR, &o->respacing, 0, 0, "the grid instead of --steps (ddpm, ddim, spndm, fpndm): guided-diffusion's \"N\",\n"
       "\"N1,N2,...\" or \"ddimN\", or \"tsdpmS\", TS-DPM's released pnm_solver grid (not\n"
       "ddpm): S - 1 steps 801 -> 701 -> ... -> 1 -> 0 at S = 10, ending at abar_0"},
      {"--eta", "E", CLI_FLOAT, &o->eta, 0, 10, "DDIM eta (default 0)"},
      {"--var", "small|large", CLI_STR, &o->var, 0, 0, "DDPM fixed-small (default) or fixed-large variance"},
      {"--clip", NULL, CLI_FLAG, &o->clip, 0, 0, "ddpm, ddim: clamp the x0 prediction to [-1, 1] (a diffusers\n"
       "scheduler_config.json with clip_sample true turns it on)"},
      {"--no-clip", NULL, CLI_FLAG, &o->no_clip, 0, 0, "do not clamp, whatever the scheduler config says"},
      {"--karras", NULL, CLI_FLAG, &o->karras, 0, 0, "dpm++*, unipc: Karras sigma spacing (diffusers' use_karras_sigmas)"},
      {"--exp-sigmas", NULL, CLI_FLAG, &o->exp_sigmas, 0, 0, "dpm++*, unipc: exponential sigma spacing (use_exponential_sigmas)"},
      {"--bh1", NULL, CLI_FLAG, &o->bh1, 0, 0, "unipc: the B(h) = h variant (solver_type bh1; default bh2)"},
      {"--threshold", "R", CLI_FLOAT, &o->threshold, 0, 0.999999, "dpm++*, unipc: dynamic thresholding of x0 at the R quantile of |x0| (Imagen)"},
      {"--threshold-max", "M", CLI_FLOAT, &o->threshold_max, 1, 1e6, "with --threshold: the largest threshold (default 1: plain clipping)"},
      {"--seed", "S", CLI_LONG, &o->seed, 0, 9.2233720368547748e18, "noise seed (default 0)"},
      {"--order", "K", CLI_LONG, &o->order, 1, 3, "DPM-Solver (noise-prediction form) order: 2|3 multistep (default 2), 1-3 with\n--singlestep; unipc: 1-3 (default 2)"},
      {"--singlestep", NULL, CLI_FLAG, &o->singlestep, 0, 0, "singlestep DPM-Solver"},
      {"--grid", "G", CLI_STR, &o->grid, 0, 0, "DPM-Solver's grid: time-uniform (default), logsnr or time-quadratic"},
      {"--churn", "S", CLI_FLOAT, &o->churn, 0, 1e6, "EDM Algorithm 2's S_churn (default 0)"},
      {"--sigma-min", "S", CLI_FLOAT, &o->smin, 0, 1e6, "EDM grid's smallest sigma (default 0.002)"},
      {"--sigma-max", "S", CLI_FLOAT, &o->smax, 0, 1e6, "EDM grid's largest sigma (default 80)"},
      {"--rho", "R", CLI_FLOAT, &o->rho, 0, 1e6, "EDM grid's rho (default 7)"},
      {"--ts-window", "W", CLI_LONG, &o->ts_window, 0, 100000, "Time-Shift (ddpm, ddim, spndm, fpndm, dpm-solver): each image's network time is\n"
       "the tau in [t - W/2, t + W/2] whose 1 - abar matches the state's variance\n(default 0 = off)"},
      {"--ts-cutoff", "C", CLI_LONG, &o->ts_cutoff, 0, 100000, "shift only while t > C (default 0)"},
      {"--ts-coeffs", "M", CLI_STR, &o->ts_coeffs, 0, 0, "released (default: the sampler's released code path - target on ddpm, ddim,\n"
       "spndm and fpndm, shifted on dpm-solver), target (the released DDIM/PNDM code:\n"
       "network at t, the step ends at the tau around the next grid time that matches,\n"
       "while that time > C; not dpm-solver), shifted (cldiff's reading of the paper's\n"
       "figure: network and the step's start at the shifted time), nominal (network at\n"
       "t_s, coefficients at t) or adm (TS-DPM-ADM's DDIM, as released: flipped abar list,\nend offset by T/(S-1); ddim only)"},
      {"--eps-scale", "L", CLI_FLOAT, &o->eps_scale, 0.5, 2, "Epsilon Scaling (ADM-ES): the network's eps divided by L (ADM-ES's CIFAR-10:\n"
       "1.017; default off), discrete-time samplers"},
      {"--eps-scale-k", "K", CLI_FLOAT, &o->eps_scale_k, -0.1, 0.1, "its linear schedule L + K (i - (N-1)/2), i the step's respaced index (default 0)"},
      {"--ts-data-aware", NULL, CLI_FLAG, &o->ts_data_aware, 0, 0, "compare with abar v_data + 1 - abar, v_data from the checkpoint's trainer.json"},
      {"", NULL, CLI_FLAG, NULL, 0, 0, "class-conditional models:"},
      {"--class", "K|LIST|all", CLI_STR, &o->cls, 0, 0, "class K for every image, image i of class LIST[i mod len] (\"3,1,4\"), or all:\n"
       "image i of class i mod K (the grid gets one row per class). Without it a model\n"
       "trained with --cond-drop samples unconditionally (the null class)"},
      {"--guidance", "W", CLI_FLOAT, &o->guidance, 0, 1000, "classifier-free guidance eps_u + W (eps_c - eps_u) (default 1: the plain\n"
       "conditional model; needs a model trained with --cond-drop)"},
      {"--null-class", "N", CLI_LONG, &o->null_class, 0, 1000000, "the unconditional class of a model without cldiff's trainer.json (a diffusers\n"
       "directory)"},
      {"--schedule", "NAME", CLI_STR, &o->sched, 0, 0, "override the checkpoint's schedule (a plain diffusers directory: linear)"},
      {"--T", "N", CLI_LONG, &o->T, 2, 100000, "override the checkpoint's T (a plain diffusers directory: 1000)"},
      {"--prediction", "P", CLI_STR, &o->pred, 0, 0, "override the checkpoint's prediction (a plain diffusers directory: eps)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  _Static_assert(sizeof t / sizeof t[0] <= SAMPLE_OPTS_MAX, "SAMPLE_OPTS_MAX too small");
  memcpy(out, t, sizeof t);
}

int sample_opts_apply(const sample_opts *o, const char *who, ckpt_info *ci, cld_sample_params *sp) {
  bool steps_set = o->steps > 0;
  int sk = cld_sampler_parse(o->sampler);
  if (sk < 0) {
    fprintf(stderr, "cldiff %s: --sampler: '%s' is not ddim, ddpm, spndm, fpndm, dpm-solver, dpm++2m, dpm++3m, dpm++2m-sde, dpm++2s, unipc, euler or heun\n", who, o->sampler);
    return 2;
  }
  int gk = !strcmp(o->grid, "time-uniform") ? CLD_DPM_TIME_UNIFORM : !strcmp(o->grid, "logsnr") ? CLD_DPM_LOGSNR
           : !strcmp(o->grid, "time-quadratic") ? CLD_DPM_TIME_QUADRATIC : -1;
  if (gk < 0) { fprintf(stderr, "cldiff %s: --grid: '%s' is not time-uniform, logsnr or time-quadratic\n", who, o->grid); return 2; }
  if (strcmp(o->var, "small") && strcmp(o->var, "large")) { fprintf(stderr, "cldiff %s: --var: '%s' is not small or large\n", who, o->var); return 2; }
  if (o->sched && (ci->schedule = cld_beta_schedule_parse(o->sched)) < 0) { fprintf(stderr, "cldiff %s: --schedule: '%s' unknown\n", who, o->sched); return 2; }
  if (o->pred && (ci->prediction = cld_prediction_parse(o->pred)) < 0) { fprintf(stderr, "cldiff %s: --prediction: '%s' unknown\n", who, o->pred); return 2; }
  if (o->T) ci->T = (int)o->T;
  int tc = !o->ts_coeffs || !strcmp(o->ts_coeffs, "released") ? CLD_TS_RELEASED : !strcmp(o->ts_coeffs, "shifted") ? CLD_TS_SHIFTED : !strcmp(o->ts_coeffs, "nominal") ? CLD_TS_NOMINAL
           : !strcmp(o->ts_coeffs, "target") ? CLD_TS_TARGET : !strcmp(o->ts_coeffs, "adm") ? CLD_TS_ADM : -1;
  if (tc < 0) {
    fprintf(stderr, "cldiff %s: --ts-coeffs: '%s' is not released, shifted, nominal, target or adm\n", who, o->ts_coeffs);
    return 2;
  }
  if (o->respacing) {
    if (steps_set) {
      fprintf(stderr, "cldiff %s: --respacing and --steps both set the grid: give one\n", who);
      return 2;
    }
    int *taus = malloc((size_t)ci->T * sizeof *taus);
    int K = taus ? cld_respace(ci->T, o->respacing, taus, ci->T) : -1;
    free(taus);
    if (K < 1) {
      fprintf(stderr, "cldiff %s: --respacing: '%s' is not \"N\", \"N1,N2,...\", \"ddimN\" or \"tsdpmS\" within T = %d\n", who,
              o->respacing, ci->T);
      return 2;
    }
  }
  if (o->ts_data_aware && !(ci->data_var > 0)) {
    fprintf(stderr, "cldiff %s: --ts-data-aware: the checkpoint records no training-set pixel variance (trainer.json data_pixel_variance)\n", who);
    return 2;
  }
  /* a diffusers scheduler config's spacing sets the discrete-time grid unless the flags do */
  static char spacing_spec[48];
  const char *respacing = o->respacing;
  bool grid_sampler = sk == CLD_SAMPLER_DDIM || sk == CLD_SAMPLER_DDPM || sk == CLD_SAMPLER_SPNDM || sk == CLD_SAMPLER_FPNDM;
  if (!respacing && ci->spacing[0] && grid_sampler) {
    long N = steps_set ? o->steps : 50;
    if (!strcmp(ci->spacing, "leading") && ci->steps_offset) snprintf(spacing_spec, sizeof spacing_spec, "leading%ld+%d", N, ci->steps_offset);
    else snprintf(spacing_spec, sizeof spacing_spec, "%s%ld", ci->spacing, N);
    respacing = spacing_spec;
  }
  cld_sample_params p = cld_sample_params_default();
  p.sampler = sk;
  p.steps = steps_set ? (int)o->steps : 50;
  p.eta = o->eta;
  p.var_type = !strcmp(o->var, "large") ? CLD_VAR_FIXED_LARGE : CLD_VAR_FIXED_SMALL;
  if (o->clip && o->no_clip) { fprintf(stderr, "cldiff %s: --clip and --no-clip contradict each other\n", who); return 2; }
  /* a scheduler config's clip_sample applies where the sampler clips (as diffusers' PNDM and
   * DPM-Solver schedulers have no clip_sample); an explicit --clip elsewhere is refused */
  p.clip_x0 = o->clip || (ci->clip && !o->no_clip && cld_sampler_clips_x0(sk));
  p.karras = o->karras;
  p.eps_scale = (cld_eps_scale){o->eps_scale, o->eps_scale_k};
  if (o->eps_scale_k != 0 && o->eps_scale == 0) { fprintf(stderr, "cldiff %s: --eps-scale-k needs --eps-scale\n", who); return 2; }
  p.exp_sigmas = o->exp_sigmas;
  p.unipc_order = (int)o->order;
  p.unipc_bh1 = o->bh1;
  if (o->bh1 && sk != CLD_SAMPLER_UNIPC) { fprintf(stderr, "cldiff %s: --bh1 is for --sampler unipc\n", who); return 2; }
  p.dyn_threshold = o->threshold;
  p.dyn_max = o->threshold_max > 0 ? o->threshold_max : 1.0f;
  p.seed = (uint64_t)o->seed;
  p.schedule = ci->schedule;
  p.T = ci->T;
  p.prediction = ci->prediction;
  p.s_churn = o->churn;
  p.dpm_order = (int)o->order;
  p.dpm_multistep = !o->singlestep;
  p.dpm_grid = gk;
  p.sigma_data = (float)ci->sigma_data;
  p.edm_sigma_min = o->smin;
  p.edm_sigma_max = o->smax;
  p.edm_rho = o->rho;
  p.ts.window = (int)o->ts_window;
  p.ts.cutoff = (int)o->ts_cutoff;
  p.ts.coeffs = (cld_ts_coeffs)tc;
  p.ts.data_aware = o->ts_data_aware;
  p.ts.data_var = ci->data_var;
  p.respacing = respacing; /* argv (or the static spec) outlives the sampling */
  const char *why = cld_sample_params_check(&p, NULL); /* which sampler takes which option: the library's rules */
  if (why) { fprintf(stderr, "cldiff %s: %s\n", who, why); return 2; }
  *sp = p;
  return 0;
}

int sample_opts_classes(sample_opts *o, const char *who, const ckpt_info *ci, const cld_model *m, cld_sample_params *p, bool *all) {
  *all = false;
  cld_class_embed kind = cld_model_class_kind(m);
  int rows = cld_model_class_count(m);
  p->null_class = o->null_class >= 0 ? (int)o->null_class : ci->null_class;
  /* the labels a user may ask for: the trained classes (trainer.json), else the table's rows */
  int K = ci->num_classes > 0 ? ci->num_classes : rows > 0 ? rows - (p->null_class >= 0 && p->null_class == rows - 1) : 0;
  p->guidance = o->guidance;
  if (kind == CLD_CLASS_NONE) {
    if (o->cls || o->guidance != 1.0f || o->null_class >= 0) {
      fprintf(stderr, "cldiff %s: --class, --guidance and --null-class are for class-conditional models; %s has no class "
              "conditioning\n", who, ci->model_dir);
      return 2;
    }
    return 0;
  }
  if (p->null_class >= 0 && rows > 0 && p->null_class >= rows) {
    fprintf(stderr, "cldiff %s: --null-class %d: the model's class table has rows 0..%d\n", who, p->null_class, rows - 1);
    return 2;
  }
  if (!o->cls) return 0; /* unconditional: the library refuses it when there is no null class */
  int n = 0;
  if (!strcmp(o->cls, "all")) {
    if (K < 1) { fprintf(stderr, "cldiff %s: --class all: the number of classes is unknown (no trainer.json); list them\n", who); return 2; }
    if (K > (int)(sizeof o->class_buf / sizeof o->class_buf[0])) { fprintf(stderr, "cldiff %s: --class all: %d classes is too many\n", who, K); return 2; }
    for (n = 0; n < K; n++) o->class_buf[n] = n;
    *all = true;
  } else {
    for (const char *s = o->cls; *s;) {
      char *end;
      long k = strtol(s, &end, 10);
      if (end == s || (*end && *end != ',') || k < 0 || (K > 0 && k >= K) || k > 1000000 ||
          n == (int)(sizeof o->class_buf / sizeof o->class_buf[0])) {
        if (K > 0) fprintf(stderr, "cldiff %s: --class %s: classes are 0..%d%s\n", who, o->cls, K - 1,
                           ci->class_names[0] ? " (see cldiff info)" : "");
        else fprintf(stderr, "cldiff %s: --class %s: not a class number, a comma-separated list of them, or all\n", who, o->cls);
        return 2;
      }
      o->class_buf[n++] = (int)k;
      s = *end ? end + 1 : end;
    }
    if (n == 0) { fprintf(stderr, "cldiff %s: --class: empty\n", who); return 2; }
  }
  p->classes = o->class_buf;
  p->n_classes = n;
  return 0;
}
