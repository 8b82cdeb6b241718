/* The denoising error of a model as a function of t (eval.h): at `bins` timesteps spread evenly
 * over 0..T-1, n real samples are noised to that t with fresh noise (Philox stream 0x3300 + bin)
 * and the model's output, turned into an eps and an x0 prediction whatever it predicts, is
 * compared with the truth, unweighted. A loss weighting moves where this error is: 1/sqrt(SNR)
 * puts little weight on the low-t (high-SNR) end, which the last sampling steps need. */
#include "diffusion/prediction.h"
#include "diffusion/schedule_make.h"
#include "runtime/runtime.h"
#include "samplers/sampler.h"
#include "cldiff/data.h"
#include "cldiff/eval.h"
#include "cldiff/graph.h"
#include "cldiff/models.h"
#include "cldiff/rng.h"
#include "cldiff/sample.h"
#include "cldiff/schedule.h"
#include <math.h>
#include <stdlib.h>

/* the squared errors of one bin's batch, summed: eps and x0 */
static void bin_errors(int prediction, double ab, const float *x0, const float *eps, const float *xt, const float *o,
                       int64_t n, size_t per, size_t oper, double *se_eps, double *se_x0) {
  double sa = sqrt(ab), s1 = sqrt(1 - ab);
  for (int64_t i = 0; i < n; i++)
    for (size_t j = 0; j < per; j++) {
      double e, x;
      size_t at = (size_t)i * per + j;
      cld_output_eps_x0(prediction, sa, s1, xt[at], o[(size_t)i * oper + j], &e, &x);
      *se_eps += (e - eps[at]) * (e - eps[at]);
      *se_x0 += (x - x0[at]) * (x - x0[at]);
    }
}

cld_status cld_loss_per_t(cld_ctx *ctx, cld_model *m, const cld_dataset *real, const cld_sample_params *p, int64_t n,
                          int bins, cld_loss_row **rows_out) {
  if (!ctx || !m || !real || !p || !rows_out) return CLD_ERR_INVALID_ARG;
  if (p->prediction == CLD_PRED_EDM) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "loss per t: needs a discrete-time model");
  int C = cld_model_channels(m), S = cld_model_sample_size(m);
  if (real->c != C || real->h != S || real->w != S)
    return cld_seterr(ctx, CLD_ERR_SHAPE, "loss per t: %s is %dx%dx%d, the model takes %dx%dx%d", real->name, real->c, real->h,
                      real->w, C, S, S);
  if (n < 1 || n > 65536 || n > real->n || bins < 1 || bins > 1000)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "loss per t: n = %lld must be in 1..65536 and at most the %lld real samples, bins in 1..1000",
                      (long long)n, (long long)real->n);
  size_t per = (size_t)C * S * S, oper = (size_t)cld_model_out_channels(m) * S * S;
  cld_schedule *sch = NULL;
  cld_model_denoiser net = {0};
  cld_status st = cld_schedule_make(ctx, "loss per t", p->schedule, p->T, &sch);
  if (!st) st = cld_model_denoiser_init(ctx, m, (int)n, S, S, &net);
  float *eps = malloc(n * per * sizeof *eps), *xt = malloc(n * per * sizeof *xt), *o = malloc(n * oper * sizeof *o);
  float *tv = malloc((size_t)n * sizeof *tv);
  cld_loss_row *rows = calloc((size_t)bins, sizeof *rows);
  if (!st && (!eps || !xt || !o || !tv || !rows)) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int b = 0; b < bins && !st; b++) {
    int t = bins == 1 ? 0 : (int)lround((double)b * (sch->T - 1) / (bins - 1));
    double ab = sch->alpha_bar[t], sa = sqrt(ab), s1 = sqrt(1 - ab);
    cld_rng_normal_host(p->seed, 0x3300u + (uint32_t)b, 0, n * per, eps);
    for (size_t j = 0; j < n * per; j++) xt[j] = (float)(sa * real->x[j] + s1 * eps[j]);
    for (int64_t i = 0; i < n; i++) tv[i] = (float)t;
    if ((st = cld_model_denoise(&net, xt, tv, (int)n, o))) break;
    double se_eps = 0, se_x0 = 0;
    bin_errors(p->prediction, ab, real->x, eps, xt, o, n, per, oper, &se_eps, &se_x0);
    rows[b] = (cld_loss_row){t, ab / (1 - ab), se_eps / (double)(n * per), se_x0 / (double)(n * per)};
  }
  if (!st) *rows_out = rows;
  else free(rows);
  free(eps); free(xt); free(o); free(tv);
  cld_graph_destroy(net.g);
  cld_schedule_destroy(sch);
  return st;
}
