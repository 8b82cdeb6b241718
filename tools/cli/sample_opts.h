/* Sampler options shared by `cldiff sample` and `cldiff eval exposure`: one parser, one help
 * text, one place that turns them into cld_sample_params. */
#ifndef CLDIFF_CLI_SAMPLE_OPTS_H
#define CLDIFF_CLI_SAMPLE_OPTS_H
#include "cldiff/cldiff.h"
#include "ckpt_resolve.h"
#include <stdbool.h>

typedef struct sample_opts {
  const char *sampler, *var, *grid, *sched, *pred, *respacing;
  long steps, seed, T, order;
  float eta, churn, smin, smax, rho;
  bool ema, clip, singlestep, steps_set;
  long ts_window, ts_cutoff;
  const char *ts_coeffs;
  bool ts_data_aware;
} sample_opts;

#define SAMPLE_OPTS_HELP \
  "  --ema             use the EMA weights of a cldiff checkpoint\n" \
  "  --sampler S       ddim (default), ddpm, spndm, fpndm or dpm-solver for eps/x0/v models; euler or\n" \
  "                    heun for edm models. PNDM runs on the ddimN grid (F-PNDM: steps + 9 evaluations).\n" \
  "                    DPM-Solver (noise-prediction form): --order 2|3 multistep (default 2),\n" \
  "                    --singlestep for singlestep orders 1-3, --grid time-uniform|logsnr|time-quadratic;\n" \
  "                    --steps is the number of model evaluations\n" \
  "                    (EDM Algorithm 2: --churn S_churn (default 0), --sigma-min 0.002, --sigma-max 80,\n" \
  "                    --rho 7; --steps is the grid size N, Heun uses 2N-1 evaluations)\n" \
  "  --steps N         sampling steps (default 50; ddim uses the \"ddimN\" stride, ddpm \"N\")\n" \
  "  --respacing SPEC  the grid instead of --steps (ddpm, ddim, spndm, fpndm): guided-diffusion's \"N\",\n" \
  "                    \"N1,N2,...\" or \"ddimN\", or \"tsdpmS\", TS-DPM's released pnm_solver grid (not\n" \
  "                    ddpm): S - 1 steps 801 -> 701 -> ... -> 1 -> 0 at S = 10, ending at abar_0\n" \
  "  --eta E           DDIM eta (default 0)\n" \
  "  --var small|large DDPM fixed-small (default) or fixed-large variance\n" \
  "  --clip            clamp the x0 prediction to [-1, 1]\n" \
  "  --seed S          noise seed (default 0)\n" \
  "  --ts-window W     Time-Shift (ddpm, ddim, spndm, fpndm, dpm-solver): each image's network time is the tau in [t - W/2, t + W/2]\n" \
  "                    whose 1 - abar matches the state's variance (default 0 = off); --ts-cutoff C shifts\n" \
  "                    only while t > C (default 0); --ts-coeffs shifted (default: the step starts at the\n" \
  "                    shifted time), nominal (network at t_s, coefficients at t) or target (the released\n" \
  "                    DDIM/PNDM code: network at t, the step ends at the tau around the next grid time\n" \
  "                    that matches, while that time > C; not dpm-solver) or adm (TS-DPM-ADM's DDIM, as\n" \
  "                    released: flipped abar list, end offset by T/(S-1); ddim only); --ts-data-aware\n" \
  "                    compares with abar v_data + 1 - abar, v_data from the checkpoint's trainer.json\n" \
  "  --schedule NAME, --T N, --prediction P  override what the checkpoint's trainer.json says\n" \
  "                    (defaults for a plain diffusers directory: linear, 1000, eps)\n"

void sample_opts_init(sample_opts *o);
/* argv[*i] is one of the options above: consumes it (and its value, advancing *i) and returns 1;
 * 0 if it is not a sampler option; -1 after printing an error naming the flag. */
int sample_opts_parse(sample_opts *o, const char *who, int argc, char **argv, int *i);
/* Checks the options and fills p (schedule, T, prediction from ci unless overridden): 0, or 2
 * after printing an error. */
int sample_opts_apply(const sample_opts *o, const char *who, ckpt_info *ci, cld_sample_params *p);
#endif
