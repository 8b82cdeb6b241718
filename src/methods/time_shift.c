/* Time-Shift sampler (TS-DPM, Li et al. 2024; METHODS.md 4 and decision 2): per image, while the
 * nominal time t is above the cutoff (strict), pick the time whose noise level matches the
 * state's variance: t_s = argmin over tau in [t - w/2, t + w/2] of |var - (1 - ab_tau)| (or of
 * |var - (ab_tau v_data + 1 - ab_tau)| in the data-aware variant). The sampler loops ask this hook
 * which time the network sees and which the coefficients use; samplers do not know TS exists.
 * cld_ts_select_target is the released DDIM/PNDM code's reading (METHODS 4.2 A): the same match,
 * for the current state, over the window around the nominal *next* time, which becomes the step's
 * target. cld_ts_select_adm is the ADM backbone's DDIM reading (METHODS 4.2 D), with its flipped
 * comparison list and respacing offset kept as released. */
#include "cldiff/cldiff.h"
#include "cldiff/methods.h"
#include <math.h>

/* the same two passes for float and double states */
#define TS_VARIANCE(x, n)                                             \
  do {                                                                \
    double m = 0, v = 0;                                              \
    for (size_t i = 0; i < (n); i++) m += (x)[i];                     \
    m /= (double)(n);                                                 \
    for (size_t i = 0; i < (n); i++) v += ((x)[i] - m) * ((x)[i] - m); \
    return (n) > 1 ? v / (double)((n) - 1) : 0;                       \
  } while (0)
double cld_ts_variance(const float *x, size_t n) { TS_VARIANCE(x, n); }
double cld_ts_variance_d(const double *x, size_t n) { TS_VARIANCE(x, n); }

/* argmin over tau in [c - w/2, c + w/2] clamped to [lo_min, hi_max] of the level mismatch; c if empty */
static int ts_match(const cld_time_shift *ts, const cld_schedule *s, double var, int c, int lo_min, int hi_max) {
  int half = ts->window / 2, lo = c - half, hi = c + half;
  if (lo < lo_min) lo = lo_min;
  if (hi > hi_max) hi = hi_max;
  int best = c;
  double bd = INFINITY;
  for (int tau = lo; tau <= hi; tau++) {
    double ab = s->alpha_bar[tau], level = ts->data_aware ? ab * ts->data_var + (1 - ab) : 1 - ab, dd = fabs(var - level);
    if (dd < bd) { bd = dd; best = tau; }
  }
  return best;
}

int cld_ts_select(const cld_time_shift *ts, const cld_schedule *s, double var, int t, int t_floor) {
  if (!ts || !s || ts->window <= 0 || t <= ts->cutoff) return t;
  return ts_match(ts, s, var, t, t_floor > 0 ? t_floor : 0, s->T - 1);
}

int cld_ts_select_target(const cld_time_shift *ts, const cld_schedule *s, double var, int t, int t_next) {
  if (!ts || !s || ts->window <= 0 || t_next <= ts->cutoff || t_next >= t) return t_next;
  return ts_match(ts, s, var, t_next, 0, t - 1 < s->T - 1 ? t - 1 : s->T - 1);
}

int cld_ts_select_adm(const cld_time_shift *ts, const cld_schedule *s, double var, int t, int t_next, int S, int *tau_out) {
  if (tau_out) *tau_out = t;
  if (!ts || !s || ts->window <= 0 || ts->cutoff <= 0 || t <= ts->cutoff || S < 2) return t_next;
  int half = ts->window / 2, T = s->T, lo = t - half > 0 ? t - half : 0, hi = t - half > 0 ? t + half : ts->window;
  if (hi > T - 1) hi = T - 1;
  int best = lo;
  double bd = INFINITY;
  for (int tau = lo; tau <= hi; tau++) {
    double dd = fabs(var - s->alpha_bar[T - 1 - tau]);
    if (dd < bd) { bd = dd; best = tau; }
  }
  if (tau_out) *tau_out = best;
  int end = best - T / (S - 1) - 1;
  return end >= 0 ? end : -1;
}

cld_ts_coeffs cld_ts_resolve(cld_ts_coeffs c, bool dpm_solver) {
  return c != CLD_TS_RELEASED ? c : dpm_solver ? CLD_TS_SHIFTED : CLD_TS_TARGET;
}

cld_step_times cld_ts_times(const cld_time_shift *ts, const cld_schedule *s, double var, int t, int t_next, int step, int S) {
  cld_step_times r = {t, t, t_next};
  if (!ts || !s || ts->window <= 0) return r;
  cld_ts_coeffs c = cld_ts_resolve(ts->coeffs, false); /* the hook of the DDPM/DDIM/PNDM loops */
  bool moves_end = c == CLD_TS_TARGET || c == CLD_TS_ADM;
  if (!moves_end) r.model = cld_ts_select(ts, s, var, t, t_next >= 0 ? t_next + 1 : 0);
  r.coeff = c == CLD_TS_NOMINAL ? t : r.model;
  if (moves_end && step > 0) /* these readings move the step's end, from the second step on */
    r.end = c == CLD_TS_TARGET ? cld_ts_select_target(ts, s, var, t, t_next) : cld_ts_select_adm(ts, s, var, t, t_next, S, NULL);
  return r;
}
