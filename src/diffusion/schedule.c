/* The shared schedule module: beta schedules, alpha_bar, SNR, sigma, log-SNR, DDPM posterior
 * coefficients, respacing (guided-diffusion and diffusers spacings), DPM-Solver's continuous
 * time for discrete schedules and the EDM sigma grid and preconditioning. Host, double
 * precision, no dependency on the rest of cldiff; every sampler and method reads from here. */
#include "cldiff/cldiff.h"
#include "cldiff/schedule.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

int cld_beta_schedule_parse(const char *name) {
  if (!name) return -1;
  if (!strcmp(name, "linear")) return CLD_BETA_LINEAR;
  if (!strcmp(name, "scaled-linear") || !strcmp(name, "scaled_linear")) return CLD_BETA_SCALED_LINEAR;
  if (!strcmp(name, "cosine") || !strcmp(name, "squaredcos_cap_v2")) return CLD_BETA_COSINE;
  if (!strcmp(name, "sigmoid")) return CLD_BETA_SIGMOID;
  return -1;
}

const char *cld_beta_schedule_name(cld_beta_schedule kind) {
  switch (kind) {
  case CLD_BETA_LINEAR: return "linear";
  case CLD_BETA_SCALED_LINEAR: return "scaled-linear";
  case CLD_BETA_COSINE: return "cosine";
  case CLD_BETA_SIGMOID: return "sigmoid";
  default: return "unknown";
  }
}

static double cosine_f(double u) {
  double c = cos((u + 0.008) / 1.008 * M_PI / 2);
  return c * c;
}
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

cld_schedule *cld_schedule_from_betas(const double *beta, int T) {
  errno = EINVAL;
  if (!beta || T < 2) return NULL;
  for (int t = 0; t < T; t++)
    if (!(beta[t] > 0.0 && beta[t] < 1.0)) return NULL;
  errno = ENOMEM;
  cld_schedule *s = calloc(1, sizeof *s);
  double *buf = calloc((size_t)T * 6, sizeof(double));
  if (!s || !buf) { free(s); free(buf); return NULL; }
  s->T = T;
  s->beta = buf;
  s->alpha_bar = buf + T;
  s->beta_tilde = buf + 2 * T;
  s->post_c1 = buf + 3 * T;
  s->post_c2 = buf + 4 * T;
  s->post_log_var_clipped = buf + 5 * T;
  double ab = 1.0;
  for (int t = 0; t < T; t++) {
    s->beta[t] = beta[t];
    ab *= 1.0 - beta[t];
    s->alpha_bar[t] = ab;
  }
  for (int t = 0; t < T; t++) {
    double abar_prev = t > 0 ? s->alpha_bar[t - 1] : 1.0, abar = s->alpha_bar[t];
    s->beta_tilde[t] = s->beta[t] * (1.0 - abar_prev) / (1.0 - abar);
    s->post_c1[t] = s->beta[t] * sqrt(abar_prev) / (1.0 - abar);
    s->post_c2[t] = (1.0 - abar_prev) * sqrt(1.0 - s->beta[t]) / (1.0 - abar);
  }
  for (int t = 0; t < T; t++) s->post_log_var_clipped[t] = log(t == 0 ? s->beta_tilde[1] : s->beta_tilde[t]);
  return s;
}

cld_schedule *cld_schedule_create(cld_beta_schedule kind, int T) {
  errno = EINVAL;
  if (T < 2) return NULL;
  double *b = malloc((size_t)T * sizeof *b);
  if (!b) { errno = ENOMEM; return NULL; }
  switch (kind) {
  case CLD_BETA_LINEAR: {
    double scale = 1000.0 / T, b0 = 1e-4 * scale, b1 = 0.02 * scale;
    for (int t = 0; t < T; t++) b[t] = b0 + (b1 - b0) * t / (T - 1);
    break;
  }
  case CLD_BETA_SCALED_LINEAR: {
    double r0 = sqrt(0.00085), r1 = sqrt(0.012);
    for (int t = 0; t < T; t++) { double r = r0 + (r1 - r0) * t / (T - 1); b[t] = r * r; }
    break;
  }
  case CLD_BETA_COSINE:
    for (int t = 0; t < T; t++) b[t] = fmin(1.0 - cosine_f((double)(t + 1) / T) / cosine_f((double)t / T), 0.999);
    break;
  case CLD_BETA_SIGMOID: {
    const double start = -3, end = 3, tau = 1;
    double vs = sigmoid(start / tau), ve = sigmoid(end / tau), prev = 0;
    for (int i = 0; i <= T; i++) {
      double u = (double)i / T;
      double abar = (-sigmoid((u * (end - start) + start) / tau) + ve) / (ve - vs);
      if (i > 0) b[i - 1] = fmin(fmax(1.0 - abar / prev, 0.0), 0.999);
      prev = abar;
    }
    /* abar(0) = 1 exactly after normalisation, so no extra division is needed; a beta of 0 is
     * not allowed by from_betas, so lift exact zeros to the smallest positive double */
    for (int t = 0; t < T; t++) if (b[t] <= 0) b[t] = 1e-300;
    break;
  }
  default:
    free(b);
    errno = EINVAL;
    return NULL;
  }
  cld_schedule *s = cld_schedule_from_betas(b, T);
  free(b);
  return s;
}

void cld_schedule_destroy(cld_schedule *s) {
  if (!s) return;
  free(s->beta);
  free(s);
}

static int clamp_t(const cld_schedule *s, int t) { return t < 0 ? 0 : t >= s->T ? s->T - 1 : t; }

double cld_schedule_snr(const cld_schedule *s, int t) {
  double a = s->alpha_bar[clamp_t(s, t)];
  return a / (1.0 - a);
}
double cld_schedule_log_snr(const cld_schedule *s, int t) {
  double a = s->alpha_bar[clamp_t(s, t)];
  return log(a) - log1p(-a);
}
double cld_schedule_sigma(const cld_schedule *s, int t) {
  double a = s->alpha_bar[clamp_t(s, t)];
  return sqrt((1.0 - a) / a);
}
double cld_schedule_learned_var(const cld_schedule *s, int t, double v) {
  t = clamp_t(s, t);
  double f = (v + 1.0) / 2.0;
  return exp(f * log(s->beta[t]) + (1.0 - f) * s->post_log_var_clipped[t]);
}

/* ---- respacing ------------------------------------------------------------------------- */
static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int cld_respace(int T, const char *spec, int *out, int max) {
  if (!spec || !out || T < 1) return -1;
  if (!strncmp(spec, "tsdpm", 5)) { /* TS-DPM's pnm_solver: range(0, T, T // S) + 1, the last dropped, then 0 */
    char *end;
    long S = strtol(spec + 5, &end, 10);
    if (*end || S < 2 || S > T) return -1;
    int skip = T / (int)S, n = 0;
    out[n++] = 0;
    for (int t = 0; t + skip < T; t += skip) {
      if (n >= max) return -1;
      out[n++] = t + 1;
    }
    return n;
  }
  /* diffusers' timestep_spacing for N steps: "leadingN" (+K: steps_offset), "trailingN", "linspaceN" */
  static const char *const spacings[3] = {"leading", "trailing", "linspace"};
  for (int s = 0; s < 3; s++) {
    size_t l = strlen(spacings[s]);
    if (strncmp(spec, spacings[s], l) || !(spec[l] >= '0' && spec[l] <= '9')) continue;
    char *end;
    long N = strtol(spec + l, &end, 10), off = 0;
    if (s == 0 && *end == '+') off = strtol(end + 1, &end, 10);
    if (*end || N < 1 || N > T || N > max || off < 0 || off >= T) return -1;
    int *desc = malloc((size_t)N * sizeof *desc);
    if (!desc || cld_diffusers_timesteps(T, (int)N, spacings[s], (int)off, desc) != N) { free(desc); return -1; }
    int n = 0;
    for (int i = (int)N - 1; i >= 0; i--) /* ascending, a set, inside the schedule */
      if (desc[i] >= 0 && desc[i] < T && (n == 0 || out[n - 1] != desc[i])) out[n++] = desc[i];
    free(desc);
    return n;
  }
  if (!strncmp(spec, "ddim", 4)) {
    char *end;
    long want = strtol(spec + 4, &end, 10);
    if (*end || want < 1) return -1;
    for (int stride = 1; stride < T; stride++) {
      int n = (T + stride - 1) / stride;
      if (n == want) {
        if (n > max) return -1;
        for (int i = 0; i < n; i++) out[i] = i * stride;
        return n;
      }
    }
    return -1;
  }
  /* comma-separated section counts */
  int counts[64], ns = 0;
  const char *p = spec;
  while (*p) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 0 || ns == 64) return -1;
    counts[ns++] = (int)v;
    p = end;
    if (*p == ',') p++;
    else if (*p) return -1;
  }
  if (ns == 0) return -1;
  int size_per = T / ns, extra = T % ns, start = 0, n = 0;
  for (int i = 0; i < ns; i++) {
    int size = size_per + (i < extra ? 1 : 0);
    if (size < counts[i]) return -1;
    double stride = counts[i] <= 1 ? 1.0 : (double)(size - 1) / (counts[i] - 1);
    double cur = 0.0;
    for (int k = 0; k < counts[i]; k++) {
      if (n >= max) return -1;
      out[n++] = start + (int)nearbyint(cur); /* round half to even, as Python's round */
      cur += stride;
    }
    start += size;
  }
  qsort(out, (size_t)n, sizeof *out, cmp_int);
  int m = 0; /* a set: drop duplicates */
  for (int i = 0; i < n; i++)
    if (m == 0 || out[m - 1] != out[i]) out[m++] = out[i];
  return m;
}

bool cld_respace_ends_on_grid(const char *spec) { return spec && !strncmp(spec, "tsdpm", 5); }

void cld_respaced_betas(const cld_schedule *s, const int *taus, int n, double *beta_out) {
  double last = 1.0;
  for (int k = 0; k < n; k++) {
    double a = s->alpha_bar[clamp_t(s, taus[k])];
    beta_out[k] = 1.0 - a / last;
    last = a;
  }
}

int cld_diffusers_timesteps(int T, int n, const char *spacing, int steps_offset, int *out) {
  if (!spacing || !out || n < 1 || n > T) return -1;
  if (!strcmp(spacing, "linspace")) {
    for (int i = 0; i < n; i++) {
      double v = n == 1 ? 0.0 : (double)(T - 1) * i / (n - 1);
      out[n - 1 - i] = (int)nearbyint(v);
    }
  } else if (!strcmp(spacing, "leading")) {
    int ratio = T / n;
    for (int i = 0; i < n; i++) out[n - 1 - i] = i * ratio + steps_offset;
  } else if (!strcmp(spacing, "trailing")) {
    double ratio = (double)T / n;
    for (int i = 0; i < n; i++) out[i] = (int)nearbyint((double)T - i * ratio) - 1;
  } else {
    return -1;
  }
  return n;
}

/* ---- DPM-Solver continuous time ----------------------------------------------------------- */
/* piecewise-linear y(x) through (xs[i], ys[i]), xs ascending, extrapolating the end segments */
static double interp(double x, const double *xs, const double *ys, int n) {
  int i = 0;
  if (x <= xs[0]) i = 0;
  else if (x >= xs[n - 1]) i = n - 2;
  else {
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
      int mid = (lo + hi) / 2;
      if (xs[mid] <= x) lo = mid;
      else hi = mid;
    }
    i = lo;
  }
  return ys[i] + (ys[i + 1] - ys[i]) * (x - xs[i]) / (xs[i + 1] - xs[i]);
}

double cld_dpm_log_alpha(const cld_schedule *s, double t) {
  /* knots t_n = (n+1)/T; log alpha_n = 0.5 * sum_{k<=n} log(1 - beta_k) = 0.5 * log(abar_n) */
  int T = s->T;
  if (t <= 1.0 / T) {
    double x0 = 1.0 / T, x1 = 2.0 / T, y0 = 0.5 * log(s->alpha_bar[0]), y1 = 0.5 * log(s->alpha_bar[1]);
    return y0 + (y1 - y0) * (t - x0) / (x1 - x0);
  }
  if (t >= 1.0) {
    double x0 = (double)(T - 1) / T, y0 = 0.5 * log(s->alpha_bar[T - 2]), y1 = 0.5 * log(s->alpha_bar[T - 1]);
    return y0 + (y1 - y0) * (t - x0) / (1.0 - x0);
  }
  double pos = t * T - 1.0; /* fractional knot index */
  int i = (int)floor(pos);
  if (i >= T - 1) i = T - 2;
  double f = pos - i, y0 = 0.5 * log(s->alpha_bar[i]), y1 = 0.5 * log(s->alpha_bar[i + 1]);
  return y0 + (y1 - y0) * f;
}

double cld_dpm_sigma(const cld_schedule *s, double t) { return sqrt(1.0 - exp(2.0 * cld_dpm_log_alpha(s, t))); }

double cld_dpm_lambda(const cld_schedule *s, double t) {
  double la = cld_dpm_log_alpha(s, t);
  return la - 0.5 * log(-expm1(2.0 * la));
}

double cld_dpm_inverse_lambda(const cld_schedule *s, double lambda) {
  /* log alpha = -0.5 logaddexp(0, -2 lambda), then invert the (monotone) log alpha knots */
  double m = -2.0 * lambda;
  double la = -0.5 * (m > 0 ? m + log1p(exp(-m)) : log1p(exp(m)));
  int T = s->T;
  double *xs = malloc((size_t)T * sizeof *xs), *ys = malloc((size_t)T * sizeof *ys);
  if (!xs || !ys) { free(xs); free(ys); return NAN; }
  for (int n = 0; n < T; n++) { /* ascending in log alpha: reverse order of the knots */
    xs[n] = 0.5 * log(s->alpha_bar[T - 1 - n]);
    ys[n] = (double)(T - n) / T;
  }
  double t = interp(la, xs, ys, T);
  free(xs);
  free(ys);
  return t;
}

double cld_dpm_model_time(const cld_schedule *s, double t) { return (t - 1.0 / s->T) * 1000.0; }

int cld_dpm_time_grid(const cld_schedule *s, cld_dpm_grid kind, int n, double *out) {
  if (!s || !out || n < 1) return -1;
  double tT = 1.0, t0 = 1.0 / s->T;
  for (int i = 0; i <= n; i++) {
    double f = (double)i / n;
    switch (kind) {
    case CLD_DPM_TIME_UNIFORM: out[i] = tT + (t0 - tT) * f; break;
    case CLD_DPM_TIME_QUADRATIC: { double r = sqrt(tT) + (sqrt(t0) - sqrt(tT)) * f; out[i] = r * r; break; }
    case CLD_DPM_LOGSNR: {
      double lT = cld_dpm_lambda(s, tT), l0 = cld_dpm_lambda(s, t0);
      out[i] = cld_dpm_inverse_lambda(s, lT + (l0 - lT) * f);
      break;
    }
    default: return -1;
    }
  }
  return 0;
}

/* ---- EDM --------------------------------------------------------------------------------- */
void cld_edm_sigmas(int n, double sigma_min, double sigma_max, double rho, double *out) {
  double a = pow(sigma_max, 1.0 / rho), b = pow(sigma_min, 1.0 / rho);
  for (int i = 0; i < n; i++) out[i] = pow(a + (n > 1 ? (double)i / (n - 1) : 0.0) * (b - a), rho);
  out[n] = 0.0;
}

cld_edm_precond cld_edm_precond_at(double sigma, double sigma_data) {
  double s2 = sigma * sigma, d2 = sigma_data * sigma_data;
  cld_edm_precond p;
  p.c_skip = d2 / (s2 + d2);
  p.c_out = sigma * sigma_data / sqrt(s2 + d2);
  p.c_in = 1.0 / sqrt(s2 + d2);
  p.c_noise = log(sigma) / 4.0;
  p.weight = (s2 + d2) / (s2 * d2);
  return p;
}
