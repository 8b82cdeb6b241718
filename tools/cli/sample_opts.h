/* Sampler options shared by `cldiff sample` and `cldiff eval exposure`: one parser, one help
 * text, one place that turns them into cld_sample_params. */
#ifndef CLDIFF_CLI_SAMPLE_OPTS_H
#define CLDIFF_CLI_SAMPLE_OPTS_H
#include "cldiff/cldiff.h"
#include "ckpt_resolve.h"
#include "opts.h"
#include <stdbool.h>

typedef struct sample_opts {
  const char *sampler, *var, *grid, *sched, *pred, *respacing;
  long steps, seed, T, order;
  float eta, churn, smin, smax, rho;
  bool ema, clip, no_clip, singlestep, karras, exp_sigmas, bh1;
  float threshold, threshold_max, eps_scale, eps_scale_k;
  long ts_window, ts_cutoff;
  const char *ts_coeffs;
  bool ts_data_aware;
  const char *cls;        /* --class K | K1,K2,... | all */
  float guidance;         /* --guidance W (1: none) */
  long null_class;        /* --null-class N (-1: the checkpoint's) */
  int class_buf[4096];    /* the parsed --class list (sample_opts_classes) */
} sample_opts;

void sample_opts_init(sample_opts *o);
/* The sampler options as an option table (opts.h) writing into o: each declared once with its
 * type, range and help; out must hold SAMPLE_OPTS_MAX entries (the last is the terminator). */
#define SAMPLE_OPTS_MAX 40
void sample_opts_table(sample_opts *o, cli_opt *out);
/* Checks the options and fills p (schedule, T, prediction from ci unless overridden): 0, or 2
 * after printing an error. */
int sample_opts_apply(const sample_opts *o, const char *who, ckpt_info *ci, cld_sample_params *p);
/* After the model is loaded: --class, --null-class and --guidance into p, checked against the
 * model and the checkpoint's classes; 0, or 2 after printing an error. *all is set for --class all. */
int sample_opts_classes(sample_opts *o, const char *who, const ckpt_info *ci, const cld_model *m, cld_sample_params *p, bool *all);
#endif
