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
  o->steps = 50;
  o->order = 2;
  o->smin = 0.002f;
  o->smax = 80.0f;
  o->rho = 7.0f;
}

static int num(const char *who, const char *flag, const char *v, float lo, float hi, float *out) {
  char *end;
  float f = strtof(v, &end);
  if (!*v || *end || !(f >= lo && f <= hi)) {
    fprintf(stderr, "cldiff %s: %s: '%s' is not a number in [%g, %g]\n", who, flag, v, lo, hi);
    return -1;
  }
  *out = f;
  return 1;
}

int sample_opts_parse(sample_opts *o, const char *who, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (!strcmp(a, "--ema")) { o->ema = true; return 1; }
  if (!strcmp(a, "--clip")) { o->clip = true; return 1; }
  if (!strcmp(a, "--singlestep")) { o->singlestep = true; return 1; }
  if (!strcmp(a, "--ts-data-aware")) { o->ts_data_aware = true; return 1; }
  static const char *const valued[] = {"--sampler", "--var", "--grid", "--schedule", "--prediction", "--steps", "--seed", "--T",
                                       "--order", "--eta", "--churn", "--sigma-min", "--sigma-max", "--rho",
                                       "--ts-window", "--ts-cutoff", "--ts-coeffs", "--respacing", NULL};
  int known = 0;
  for (int k = 0; valued[k]; k++) known |= !strcmp(a, valued[k]);
  if (!known) return 0;
  if (*i + 1 >= argc) { fprintf(stderr, "cldiff %s: %s needs a value\n", who, a); return -1; }
  const char *v = argv[++*i];
  if (!strcmp(a, "--sampler")) o->sampler = v;
  else if (!strcmp(a, "--var")) o->var = v;
  else if (!strcmp(a, "--grid")) o->grid = v;
  else if (!strcmp(a, "--schedule")) o->sched = v;
  else if (!strcmp(a, "--prediction")) o->pred = v;
  else if (!strcmp(a, "--steps")) { o->steps_set = true; return cli_int(a, v, 1, 100000, &o->steps) ? -1 : 1; }
  else if (!strcmp(a, "--seed")) return cli_int(a, v, 0, 0x7fffffffffffffffL, &o->seed) ? -1 : 1;
  else if (!strcmp(a, "--ts-window")) return cli_int(a, v, 0, 100000, &o->ts_window) ? -1 : 1;
  else if (!strcmp(a, "--ts-cutoff")) return cli_int(a, v, 0, 100000, &o->ts_cutoff) ? -1 : 1;
  else if (!strcmp(a, "--ts-coeffs")) o->ts_coeffs = v;
  else if (!strcmp(a, "--respacing")) o->respacing = v;
  else if (!strcmp(a, "--T")) return cli_int(a, v, 2, 100000, &o->T) ? -1 : 1;
  else if (!strcmp(a, "--order")) return cli_int(a, v, 1, 3, &o->order) ? -1 : 1;
  else if (!strcmp(a, "--eta")) return num(who, a, v, 0, 10, &o->eta);
  else if (!strcmp(a, "--churn")) return num(who, a, v, 0, 1e6f, &o->churn);
  else if (!strcmp(a, "--sigma-min")) return num(who, a, v, 0, 1e6f, &o->smin);
  else if (!strcmp(a, "--sigma-max")) return num(who, a, v, 0, 1e6f, &o->smax);
  else if (!strcmp(a, "--rho")) return num(who, a, v, 0, 1e6f, &o->rho);
  return 1;
}

int sample_opts_apply(const sample_opts *o, const char *who, ckpt_info *ci, cld_sample_params *sp) {
  int sk = cld_sampler_parse(o->sampler);
  if (sk < 0) {
    fprintf(stderr, "cldiff %s: --sampler: '%s' is not ddim, ddpm, spndm, fpndm, dpm-solver, euler or heun\n", who, o->sampler);
    return 2;
  }
  int gk = !strcmp(o->grid, "time-uniform") ? CLD_DPM_TIME_UNIFORM : !strcmp(o->grid, "logsnr") ? CLD_DPM_LOGSNR
           : !strcmp(o->grid, "time-quadratic") ? CLD_DPM_TIME_QUADRATIC : -1;
  if (gk < 0) { fprintf(stderr, "cldiff %s: --grid: '%s' is not time-uniform, logsnr or time-quadratic\n", who, o->grid); return 2; }
  if (strcmp(o->var, "small") && strcmp(o->var, "large")) { fprintf(stderr, "cldiff %s: --var: '%s' is not small or large\n", who, o->var); return 2; }
  if (o->sched && (ci->schedule = cld_beta_schedule_parse(o->sched)) < 0) { fprintf(stderr, "cldiff %s: --schedule: '%s' unknown\n", who, o->sched); return 2; }
  if (o->pred && (ci->prediction = cld_prediction_parse(o->pred)) < 0) { fprintf(stderr, "cldiff %s: --prediction: '%s' unknown\n", who, o->pred); return 2; }
  if (o->T) ci->T = (int)o->T;
  int tc = !o->ts_coeffs || !strcmp(o->ts_coeffs, "shifted") ? CLD_TS_SHIFTED : !strcmp(o->ts_coeffs, "nominal") ? CLD_TS_NOMINAL
           : !strcmp(o->ts_coeffs, "target") ? CLD_TS_TARGET : !strcmp(o->ts_coeffs, "adm") ? CLD_TS_ADM : -1;
  if (tc < 0) {
    fprintf(stderr, "cldiff %s: --ts-coeffs: '%s' is not shifted, nominal, target or adm\n", who, o->ts_coeffs);
    return 2;
  }
  if (o->respacing) {
    if (o->steps_set) {
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
  cld_sample_params p = cld_sample_params_default();
  p.sampler = sk;
  p.steps = (int)o->steps;
  p.eta = o->eta;
  p.var_type = !strcmp(o->var, "large") ? CLD_VAR_FIXED_LARGE : CLD_VAR_FIXED_SMALL;
  p.clip_x0 = o->clip;
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
  p.respacing = o->respacing; /* argv outlives the sampling */
  const char *why = cld_sample_params_check(&p, NULL); /* which sampler takes which option: the library's rules */
  if (why) { fprintf(stderr, "cldiff %s: %s\n", who, why); return 2; }
  *sp = p;
  return 0;
}
