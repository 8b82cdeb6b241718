/* Loss weightings of the per-sample noise-prediction loss (METHODS.md 6 and decision 4):
 * debias w = 1/sqrt(SNR) (Debias; no clipping unless snr_clamp is set, as third-party ports do),
 * and for comparison Min-SNR-gamma (eps form, min(gamma/SNR, 1)) and P2 (1/(k + SNR)^gamma).
 * SNR = ab/(1 - ab) from the shared schedule, in double precision. They are weights of the
 * eps-MSE; cld_eps_mse_factor carries them to a v or x0 model's loss. As a training method it
 * fills the weight slot: the trainer multiplies each sample's loss weight by the factor. */
#include "methods/train_method.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

int cld_weighting_parse(const char *s) {
  if (!s) return -1;
  if (!strcmp(s, "const")) return CLD_WEIGHT_CONST;
  if (!strcmp(s, "debias")) return CLD_WEIGHT_DEBIAS;
  if (!strcmp(s, "min-snr")) return CLD_WEIGHT_MIN_SNR;
  if (!strcmp(s, "p2")) return CLD_WEIGHT_P2;
  return -1;
}

const char *cld_weighting_name(int w) {
  return w == CLD_WEIGHT_DEBIAS ? "debias" : w == CLD_WEIGHT_MIN_SNR ? "min-snr" : w == CLD_WEIGHT_P2 ? "p2" : "const";
}

double cld_loss_weight(const cld_methods *m, double ab) {
  if (!m || m->weighting == CLD_WEIGHT_CONST) return 1.0;
  double snr = ab / (1.0 - ab);
  if (m->snr_clamp > 0 && snr > m->snr_clamp) snr = m->snr_clamp;
  switch (m->weighting) {
  case CLD_WEIGHT_DEBIAS: return 1.0 / sqrt(snr);
  case CLD_WEIGHT_MIN_SNR: return fmin(m->min_snr_gamma / snr, 1.0);
  case CLD_WEIGHT_P2: return 1.0 / pow(m->p2_k + snr, m->p2_gamma);
  default: return 1.0;
  }
}

double cld_eps_mse_factor(int prediction, double ab) {
  /* eps = (x_t - sqrt(ab) x0) / sqrt(1 - ab) = sqrt(1 - ab) x_t + sqrt(ab) v: an error in x0 is
   * sqrt(SNR) times one in eps, an error in v is 1/sqrt(ab) times one in eps */
  if (prediction == CLD_PRED_V) return ab;
  if (prediction == CLD_PRED_X0) return ab / (1.0 - ab);
  return 1.0;
}

static const char *w_check(const cld_train_params *p) {
  int w = p->methods.weighting;
  return w < 0 || w > CLD_WEIGHT_P2 ? "unknown weighting (--weighting)"
         : w && p->prediction == CLD_PRED_EDM ? "loss weighting (--weighting) is for eps/x0/v training (EDM has its own lambda(sigma))"
                                              : NULL;
}
static bool w_enabled(const cld_train_params *p) { return p->methods.weighting != CLD_WEIGHT_CONST; }
static double w_weight(const cld_train_params *p, double ab) {
  return cld_loss_weight(&p->methods, ab) * cld_eps_mse_factor(p->prediction, ab);
}
static void w_record(const cld_train_params *p, cJSON *j) {
  cJSON_AddStringToObject(j, "weighting", cld_weighting_name(p->methods.weighting));
  cJSON_AddNumberToObject(j, "snr_clamp", p->methods.snr_clamp);
}

const cld_train_method cld_method_weighting = {
  .name = "weighting", .check = w_check, .enabled = w_enabled, .weight = w_weight, .record = w_record,
};
