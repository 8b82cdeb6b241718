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
  bool ema, clip, no_clip, singlestep, karras;
  float threshold, threshold_max;
  long ts_window, ts_cutoff;
  const char *ts_coeffs;
  bool ts_data_aware;
} sample_opts;

void sample_opts_init(sample_opts *o);
/* The sampler options as an option table (opts.h) writing into o: each declared once with its
 * type, range and help; out must hold SAMPLE_OPTS_MAX entries (the last is the terminator). */
#define SAMPLE_OPTS_MAX 32
void sample_opts_table(sample_opts *o, cli_opt *out);
/* Checks the options and fills p (schedule, T, prediction from ci unless overridden): 0, or 2
 * after printing an error. */
int sample_opts_apply(const sample_opts *o, const char *who, ckpt_info *ci, cld_sample_params *p);
#endif
