/* UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of
 * Diffusion Models") as diffusers' UniPCMultistepScheduler with predict_x0, solver_type "bh2"
 * (B(h) = e^-h - 1) or "bh1" (B(h) = -h), solver_order 1-3, lower_order_final,
 * no disabled corrector, final_sigmas_type "zero", on DPM-Solver++'s grid (cld_pp_grid: linspace,
 * Karras or exponential sigmas). N model evaluations: at step i the model's data prediction at
 * the predictor's x first corrects that x (UniC, of the previous step's order, using the new
 * prediction: no extra evaluation), then the predictor (UniP) takes the corrected x to sigma i+1.
 * Orders warm up (1, 2, ...) and fall at the end (min(order, N - i)); the last step to sigma 0 is
 * the data prediction itself (diffusers' bh1 computes -inf * 0 there and returns NaN).
 * The coefficients solve the small system R rho = b of the paper's Theorem (R_ij = r_j^(i-1),
 * b_i = h phi_{i+1}(h) i! / B(h)), with rho = 1/2 where diffusers uses that simplification. */
#include "samplers/sampler.h"
#include "diffusion/schedule_make.h"
#include "runtime/runtime.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* solves the n x n system A x = b (n <= 3) by Gaussian elimination with partial pivoting */
static void solve_small(int n, double A[3][3], double *b, double *x) {
  for (int c = 0; c < n; c++) {
    int piv = c;
    for (int r = c + 1; r < n; r++)
      if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
    for (int k = 0; k < n; k++) { double t = A[c][k]; A[c][k] = A[piv][k]; A[piv][k] = t; }
    double t = b[c]; b[c] = b[piv]; b[piv] = t;
    for (int r = c + 1; r < n; r++) {
      double f = A[r][c] / A[c][c];
      for (int k = c; k < n; k++) A[r][k] -= f * A[c][k];
      b[r] -= f * b[c];
    }
  }
  for (int r = n - 1; r >= 0; r--) {
    double s = b[r];
    for (int k = r + 1; k < n; k++) s -= A[r][k] * x[k];
    x[r] = s / A[r][r];
  }
}

/* the coefficients of one UniP or UniC update of `order` from grid sigma s (index is) to t, the
 * earlier predictions at sigma indices is - 1, is - 2: r_k, B(h), h phi_1 and rho */
typedef struct { double rk[3], Bh, hphi1, rho[3], ratio, at; int nd; } u_coeffs;

static u_coeffs coeffs(const double *sig, int is, double st, int order, bool bh1, bool corrector) {
  u_coeffs c = {{0}, 0, 0, {0}, 0, 0, order - 1};
  double ss = sig[is], at = cld_pp_alpha(st), as = cld_pp_alpha(ss), h = cld_pp_lambda(st) - cld_pp_lambda(ss), hh = -h;
  c.at = at;
  c.ratio = (st * at) / (ss * as);
  double rks[3];
  for (int k = 1; k < order; k++) rks[k - 1] = c.rk[k - 1] = (cld_pp_lambda(sig[is - k]) - cld_pp_lambda(ss)) / h;
  rks[order - 1] = 1.0;
  c.hphi1 = expm1(hh);
  c.Bh = bh1 ? hh : expm1(hh);
  double hphik = c.hphi1 / hh - 1.0, fact = 1.0, R[3][3], b[3];
  for (int i = 1; i <= order; i++) {
    for (int k = 0; k < order; k++) R[i - 1][k] = pow(rks[k], i - 1);
    b[i - 1] = hphik * fact / c.Bh;
    fact *= i + 1;
    hphik = hphik / hh - 1.0 / fact;
  }
  if (corrector) {
    if (order == 1) c.rho[0] = 0.5;
    else solve_small(order, R, b, c.rho);
  } else if (order == 2) {
    c.rho[0] = 0.5;
  } else if (order == 3) {
    solve_small(2, R, b, c.rho);
  }
  return c;
}

/* x_t = sigma_t/sigma_s x - alpha_t h phi_1 m0 - alpha_t B(h) (sum_k rho_k D1_k [+ rho_last (mt - m0)]),
 * D1_k = (m_k - m0) / r_k; m[0] the prediction at s, m[k] the earlier ones, mt (corrector) the new */
static void u_apply(const u_coeffs *c, double *x, const double *xs, size_t per, const double *const m[3], const double *mt) {
  for (size_t q = 0; q < per; q++) {
    double res = 0;
    for (int k = 0; k < c->nd; k++) res += c->rho[k] * (m[k + 1][q] - m[0][q]) / c->rk[k];
    if (mt) res += c->rho[c->nd] * (mt[q] - m[0][q]);
    x[q] = c->ratio * xs[q] - c->at * c->hphi1 * m[0][q] - c->at * c->Bh * res;
  }
}

cld_status cld_unipc_sample(cld_ctx *ctx, cld_denoiser_fn model, void *model_user, int C, int h, int w, const cld_sample_params *p,
                            int64_t first, int64_t n, float *out, cld_sample_progress progress, void *user) {
  int N = p->steps, B = (int)(p->batch < n ? p->batch : n), P = p->unipc_order ? p->unipc_order : 2;
  cld_schedule *sch;
  cld_status st = cld_schedule_make(ctx, "sample", p->schedule, p->T, &sch);
  if (st) return st;
  size_t per = (size_t)C * h * w, tot = (size_t)B * per;
  double *ts = malloc((size_t)N * sizeof *ts), *sig = malloc((size_t)(N + 1) * sizeof *sig);
  double *x = malloc(tot * sizeof *x), *last = malloc(tot * sizeof *last), *eps = malloc(tot * sizeof *eps), *mt = malloc(tot * sizeof *mt);
  double *m[3] = {malloc(tot * sizeof(double)), malloc(tot * sizeof(double)), malloc(tot * sizeof(double))};
  float *z = malloc(per * sizeof *z);
  cld_eps_eval ev;
  st = cld_eps_eval_init(&ev, model, model_user, p, B, per);
  if (st || !ts || !sig || !x || !last || !eps || !mt || !m[0] || !m[1] || !m[2] || !z)
    st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  if (!st) cld_pp_grid(sch, N, p->karras, p->exp_sigmas, p->schedule != CLD_BETA_COSINE, ts, sig);
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = ev.nb = (int)(n - b0 < B ? n - b0 : B), prev_order = 0, warm = 0;
    size_t cnt = (size_t)nb * per;
    cld_sample_start(p, first, b0, nb, per, 1.0, x, z);
    for (int i = 0; i < N && !st; i++) {
      double a = cld_pp_alpha(sig[i]), s = sig[i] * a;
      if ((st = cld_eps_eval_run(&ev, x, ts[i], a, s, eps))) break;
      for (size_t q = 0; q < cnt; q++) mt[q] = (x[q] - s * eps[q]) / a; /* the data prediction at x */
      for (int k = 0; k < nb && p->dyn_threshold > 0; k++) cld_pp_threshold(mt + (size_t)k * per, per, p->dyn_threshold, p->dyn_max, eps);
      if (i > 0) { /* UniC: correct x (the last predictor's output) with the prediction made there */
        u_coeffs cc = coeffs(sig, i - 1, sig[i], prev_order, p->unipc_bh1, true);
        for (int k = 0; k < nb; k++) {
          const double *const mk[3] = {m[0] + (size_t)k * per, m[1] + (size_t)k * per, m[2] + (size_t)k * per};
          u_apply(&cc, x + (size_t)k * per, last + (size_t)k * per, per, mk, mt + (size_t)k * per);
        }
      }
      double *oldest = m[2]; /* the history, m[0] newest */
      m[2] = m[1];
      m[1] = m[0];
      m[0] = oldest;
      memcpy(m[0], mt, cnt * sizeof *mt);
      int order = P < N - i ? P : N - i;
      if (order > warm + 1) order = warm + 1;
      memcpy(last, x, cnt * sizeof *x);
      if (sig[i + 1] == 0.0) { /* the last step, to sigma 0: the data prediction */
        memcpy(x, m[0], cnt * sizeof *x);
      } else { /* UniP to sigma i + 1 */
        u_coeffs pc = coeffs(sig, i, sig[i + 1], order, p->unipc_bh1, false);
        for (int k = 0; k < nb; k++) {
          const double *const mk[3] = {m[0] + (size_t)k * per, m[1] + (size_t)k * per, m[2] + (size_t)k * per};
          u_apply(&pc, x + (size_t)k * per, last + (size_t)k * per, per, mk, NULL);
        }
      }
      if (warm < P) warm++;
      prev_order = order;
      if (p->trajectory)
        for (size_t q = 0; q < cnt; q++) p->trajectory[((size_t)(i + 1) * (size_t)n + (size_t)b0) * per + q] = (float)x[q];
      if (progress) progress(user, i + 1, N, b0, n);
    }
    for (size_t q = 0; q < cnt && !st; q++) out[(size_t)b0 * per + q] = (float)x[q];
  }
  free(ts); free(sig); free(x); free(last); free(eps); free(mt); free(m[0]); free(m[1]); free(m[2]); free(z);
  cld_eps_eval_free(&ev);
  cld_schedule_destroy(sch);
  return st;
}
