/* The training loop of cldiff: one step graph (q_sample -> UNet -> target -> per-sample weighted
 * MSE -> backward), AdamW with warmup and clipping, EMA. Randomness is counter-based:
 *   data order: permutation of epoch e from Philox(seed, stream 0x100 + e)
 *   flips:      Philox(seed, stream 1) at the sample's global position
 *   timesteps:  Philox(seed, stream 2) at the sample's global position
 *   noise:      graph randn, stream 3, run counter = step; dropout: run counter = step
 * Checkpoints are in checkpoint.c. */
#include "graph/graph_internal.h"
#include "diffusion/train_internal.h"
#include "diffusion/objective.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cld_prediction_parse(const char *s) {
  if (!s) return -1;
  if (!strcmp(s, "eps")) return CLD_PRED_EPS;
  if (!strcmp(s, "x0")) return CLD_PRED_X0;
  if (!strcmp(s, "v")) return CLD_PRED_V;
  if (!strcmp(s, "edm")) return CLD_PRED_EDM;
  return -1;
}
const char *cld_prediction_name(cld_prediction p) {
  return p == CLD_PRED_X0 ? "x0" : p == CLD_PRED_V ? "v" : p == CLD_PRED_EDM ? "edm" : "eps";
}

cld_train_params cld_train_params_default(void) {
  cld_train_params p;
  memset(&p, 0, sizeof p);
  p.batch = 32;
  p.lr = 2e-4f;
  p.clip_norm = 1.0f;
  p.ema_decay = 0.999f;
  p.warmup = 100;
  p.seed = 0;
  p.schedule = CLD_BETA_LINEAR;
  p.T = 1000;
  p.prediction = CLD_PRED_EPS;
  p.hflip = false;
  p.edm_p_mean = -1.2f;
  p.edm_p_std = 1.2f;
  p.edm_sigma_data = 0.5f;
  p.methods = cld_methods_default();
  return p;
}

void cld_trainer_destroy(cld_trainer *t) {
  if (!t) return;
  cld_graph_destroy(t->g);
  cld_optim_destroy(t->opt);
  cld_ema_destroy(t->ema);
  cld_schedule_destroy(t->sched);
  free(t->perm);
  free(t->xb);
  free(t->lsm_hist);
  free(t->lsm_count);
  free(t->mask_buf);
  free(t->stf_buf);
  cld_ep_free(t);
  free(t);
}

cld_status cld_trainer_create(cld_ctx *ctx, cld_model *m, const cld_dataset *data, const cld_train_params *p,
                              cld_trainer **out) {
  if (!ctx || !m || !data || !p || !out) return CLD_ERR_INVALID_ARG;
  cld_store *s = cld_model_store(m);
  if (data->c != cld_model_channels(m))
    return cld_seterr(ctx, CLD_ERR_SHAPE, "train: %s has %d channels, the model takes %d", data->name, data->c, cld_model_channels(m));
  if (p->batch < 1 || p->batch > 4096) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: batch %d out of range", p->batch);
  if (data->n < 1) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: empty dataset");
  cld_trainer *t = calloc(1, sizeof *t);
  if (!t) return cld_seterr(ctx, CLD_ERR_NOMEM, "out of host memory");
  t->ctx = ctx;
  t->m = m;
  t->s = s;
  t->data = data;
  t->p = *p;
  t->sched = cld_schedule_create((cld_beta_schedule)p->schedule, p->T);
  t->perm = malloc((size_t)data->n * sizeof *t->perm);
  int64_t per = (int64_t)data->c * data->h * data->w;
  t->xb = malloc((size_t)(p->batch * per) * sizeof(float));
  t->perm_epoch = -1;
  if (p->learn_sigma && (p->prediction != CLD_PRED_EPS || cld_model_out_channels(m) != 2 * data->c)) {
    cld_trainer_destroy(t);
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: learned variance needs eps prediction and a model with %d output channels "
                      "(2 x %d), this one has %d", 2 * data->c, data->c, cld_model_out_channels(m));
  }
  if (!p->learn_sigma && cld_model_out_channels(m) != data->c) {
    cld_trainer_destroy(t);
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: the model outputs %d channels for %d-channel data (2x needs learned variance)",
                      cld_model_out_channels(m), data->c);
  }
  if (p->learn_sigma && !(t->mask_buf = malloc((size_t)(3 * p->batch * per) * sizeof(float)))) {
    cld_trainer_destroy(t);
    return cld_seterr(ctx, CLD_ERR_NOMEM, "out of host memory");
  }
  if (p->prediction == CLD_PRED_EDM && p->timestep_sampling) {
    cld_trainer_destroy(t);
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: loss-second-moment time-step sampling needs discrete time steps (not edm)");
  }
  const cld_methods *mt = &p->methods;
  const char *bad = !(mt->ip_gamma >= 0 && mt->ip_gamma <= 10) ? "ip_gamma must be in [0, 10]"
                    : mt->weighting < 0 || mt->weighting > CLD_WEIGHT_P2 ? "unknown weighting"
                    : mt->weighting && p->prediction == CLD_PRED_EDM ? "loss weighting is for eps/x0/v training (EDM has its own lambda(sigma))"
                    : !(mt->ep_lambda >= 0) ? "ep_lambda must be >= 0"
                    : mt->ep_lambda > 0 && (mt->ep_k < 1 || mt->ep_k > 50) ? "ep_k must be in 1..50"
                    : mt->ep_lambda > 0 && (p->batch < 2 || p->batch % 2) ? "the EP regulariser needs an even batch >= 2"
                    : mt->ep_lambda > 0 && (p->prediction == CLD_PRED_EDM || p->learn_sigma) ? "the EP regulariser needs an eps, x0 or v model without learned variance"
                    : mt->stf_ref < 0 || (mt->stf_ref > 0 && mt->stf_ref < p->batch) ? "stf_ref must be 0 (off) or at least the batch size"
                    : mt->stf_ref > 65536 ? "stf_ref must be at most 65536" : NULL;
  if (bad) {
    cld_trainer_destroy(t);
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: %s", bad);
  }
  if (p->timestep_sampling) {
    t->lsm_hist = calloc((size_t)p->T * CLD_LSM_HISTORY, sizeof(float));
    t->lsm_count = calloc((size_t)p->T, sizeof(int));
  }
  if (!t->sched || !t->perm || !t->xb || (p->timestep_sampling && (!t->lsm_hist || !t->lsm_count))) { cld_trainer_destroy(t); return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: bad schedule or out of memory"); }

  /* the step graph */
  int64_t B = p->batch;
  cld_graph *g = t->g = cld_graph_create(ctx);
  t->x0 = cld_input_4d(g, "x0", B, data->c, data->h, data->w);
  t->tt = cld_input(g, "t", 1, (int64_t[]){B});
  t->sab = cld_input_4d(g, "sqrt_alpha_bar", B, 1, 1, 1);
  t->s1mab = cld_input_4d(g, "sqrt_one_minus_alpha_bar", B, 1, 1, 1);
  t->w = cld_input(g, "weights", 1, (int64_t[]){B});
  int64_t xs[4] = {B, data->c, data->h, data->w};
  cld_tensor *eps = cld_randn(g, 4, xs, 3), *noise = eps;
  if (mt->ip_gamma > 0) { /* Input Perturbation: eps + gamma xi enters x_t, the target keeps eps */
    t->ip_gamma = cld_input_4d(g, "ip_gamma", B, 1, 1, 1);
    noise = cld_ip_noise(g, eps, t->ip_gamma);
  }
  cld_tensor *xt = cld_add(g, cld_mul(g, t->x0, t->sab), cld_mul(g, noise, t->s1mab)); /* q_sample; EDM: x0 + sigma eps */
  cld_tensor *x0_target = t->x0, *eps_target = eps;
  if (mt->stf_ref > 0) { /* Stable Target Field: reference-batch average of x0, eps and v derived from it */
    int64_t D = per, R = mt->stf_ref;
    cld_tensor *xf = cld_reshape(g, xt, 2, (int64_t[]){B, D}), *yf = cld_reshape(g, t->x0, 2, (int64_t[]){B, D});
    if (R > B) {
      t->stf_extra = cld_input(g, "stf_extra", 2, (int64_t[]){R - B, D});
      yf = cld_concat(g, yf, t->stf_extra, 0);
      t->stf_buf = malloc((size_t)((R - B) * D) * sizeof(float));
    }
    t->stf_inv_s = cld_input(g, "stf_inv_s", 2, (int64_t[]){B, 1});
    t->stf_half_snr = cld_input(g, "stf_half_snr", 2, (int64_t[]){B, 1});
    x0_target = cld_reshape(g, cld_stf_x0_target(g, xf, yf, t->stf_inv_s, t->stf_half_snr), 4, xs);
    if (p->prediction != CLD_PRED_EDM) { /* eps + sqrt(SNR)(x0 - x0_stf): IP's xi stays out of the target */
      t->stf_snr_sqrt = cld_input_4d(g, "stf_snr_sqrt", B, 1, 1, 1);
      eps_target = cld_add(g, eps, cld_mul(g, cld_sub(g, t->x0, x0_target), t->stf_snr_sqrt));
    }
  }
  cld_tensor *pred, *target;
  if (p->prediction == CLD_PRED_EDM) {
    t->c_in = cld_input_4d(g, "c_in", B, 1, 1, 1);
    t->c_skip = cld_input_4d(g, "c_skip", B, 1, 1, 1);
    t->c_out = cld_input_4d(g, "c_out", B, 1, 1, 1);
    cld_tensor *F = cld_model_forward(m, g, cld_mul(g, xt, t->c_in), t->tt); /* t carries c_noise */
    pred = cld_add(g, cld_mul(g, xt, t->c_skip), cld_mul(g, F, t->c_out));  /* D(x, sigma) */
    target = x0_target;
  } else {
    pred = cld_model_forward(m, g, xt, t->tt);
    target = p->prediction == CLD_PRED_EPS ? eps_target
             : p->prediction == CLD_PRED_X0 ? x0_target
                                            : cld_sub(g, cld_mul(g, eps_target, t->sab), cld_mul(g, x0_target, t->s1mab));
  }
  if (p->learn_sigma) { /* ADM hybrid loss: L_simple + L_vlb * T/1000 */
    int64_t C = data->c, b4[4] = {B, 1, 1, 1};
    cld_tensor *eps_hat = cld_slice(g, pred, 1, 0, C), *vraw = cld_slice(g, pred, 1, C, C);
    t->lbt = cld_input(g, "log_beta_tilde", 4, b4);
    t->dlog = cld_input(g, "log_beta_minus_log_beta_tilde", 4, b4);
    t->inv_sab = cld_input(g, "inv_sqrt_alpha_bar", 4, b4);
    t->pc1 = cld_input(g, "posterior_c1", 4, b4);
    t->pc2 = cld_input(g, "posterior_c2", 4, b4);
    t->is0 = cld_input(g, "t_is_zero", 1, (int64_t[]){B});
    t->m_lo = cld_input(g, "x_below", 4, xs);
    t->m_hi = cld_input(g, "x_above", 4, xs);
    t->m_mid = cld_input(g, "x_inside", 4, xs);
    cld_vlb_inputs vi = {t->lbt, t->dlog, t->inv_sab, t->s1mab, t->pc1, t->pc2, t->is0, t->m_lo, t->m_hi, t->m_mid};
    cld_tensor *vb = cld_vlb_terms(g, eps_hat, vraw, t->x0, xt, &vi);
    target = eps_target;
    cld_tensor *mse = cld_mse_per_sample(g, eps_hat, target);
    if (mt->weighting) { /* the weighting is on the MSE; L_vlb joins unweighted (Debias's code, METHODS 6.1) */
      t->wm = cld_input(g, "mse_weights", 1, (int64_t[]){B});
      mse = cld_mul(g, mse, t->wm);
    }
    t->per_sample = cld_add(g, mse, cld_scale(g, vb, (float)p->T / 1000.0f));
  } else
    t->per_sample = cld_mse_per_sample(g, pred, target); /* (B) */
  t->loss = cld_mean_all(g, cld_mul(g, t->per_sample, t->w));
  if (mt->ep_lambda > 0) t->loss = cld_add(g, t->loss, cld_scale(g, cld_ep_build(t, t->x0), mt->ep_lambda));
  if (!t->loss && !cld_graph_status(g)) cld_graph_fail(g, CLD_ERR_NOMEM, "train: out of memory");
  cld_graph_keep(g, t->loss);
  cld_graph_keep(g, t->per_sample);
  cld_status st = cld_graph_backward(g, t->loss);
  if (!st) st = cld_graph_plan(g, NULL);
  if (st) {
    cld_seterr(ctx, st, "train: building the step graph: %s", cld_graph_status(g) ? cld_graph_errmsg(g) : cld_ctx_errmsg(ctx));
    cld_trainer_destroy(t);
    return st;
  }
  cld_graph_set_seed(g, p->seed);
  cld_adamw_params ap = cld_adamw_params_default();
  ap.lr = p->lr;
  ap.weight_decay = p->weight_decay;
  ap.clip_norm = p->clip_norm;
  if ((st = cld_optim_create(s, &ap, &t->opt)) || (st = cld_ema_create(s, &t->ema))) { cld_trainer_destroy(t); return st; }
  *out = t;
  return CLD_OK;
}

/* epoch permutation: Fisher-Yates driven by Philox(seed, 0x100 + epoch) */
static void ensure_perm(cld_trainer *t, int64_t epoch) {
  if (t->perm_epoch == epoch) return;
  if (cld_rng_permutation_host(t->p.seed, 0x100u + (uint32_t)epoch, t->data->n, t->perm) == 0) t->perm_epoch = epoch;
}

/* one image of d into dst, mirrored left-right when flip */
static void copy_image(const cld_dataset *d, const float *src, float *dst, bool flip) {
  if (!flip) {
    memcpy(dst, src, (size_t)d->c * d->h * d->w * sizeof(float));
    return;
  }
  for (int c = 0; c < d->c; c++)
    for (int y = 0; y < d->h; y++)
      for (int x = 0; x < d->w; x++) dst[((int64_t)c * d->h + y) * d->w + x] = src[((int64_t)c * d->h + y) * d->w + (d->w - 1 - x)];
}

/* loss-second-moment weights, or false while some t has fewer than CLD_LSM_HISTORY losses */
static bool lsm_weights(const cld_trainer *t, double *w) {
  int T = t->p.T;
  double sum = 0;
  for (int i = 0; i < T; i++) {
    if (t->lsm_count[i] < CLD_LSM_HISTORY) return false;
    double m2 = 0;
    for (int k = 0; k < CLD_LSM_HISTORY; k++) {
      double l = t->lsm_hist[(size_t)i * CLD_LSM_HISTORY + k];
      m2 += l * l;
    }
    w[i] = sqrt(m2 / CLD_LSM_HISTORY);
    sum += w[i];
  }
  for (int i = 0; i < T; i++) w[i] = w[i] / sum * (1.0 - 0.001) + 0.001 / T;
  return true;
}

cld_status cld_trainer_step(cld_trainer *t, float *loss) {
  if (!t) return CLD_ERR_INVALID_ARG;
  const cld_dataset *d = t->data;
  int B = t->p.batch;
  int64_t per = (int64_t)d->c * d->h * d->w, step = t->step;
  float tv[4096], sab[4096], s1[4096], uflip[4096], ut[4096], wv[4096], wmv[4096], cin[4096], cskip[4096], cout[4096];
  float lbt[4096], dlog[4096], isab[4096], c1v[4096], c2v[4096], is0[4096];
  float ipg[4096], stf_is[4096], stf_hs[4096], stf_ss[4096];
  const cld_methods *mt = &t->p.methods;
  bool edm = t->p.prediction == CLD_PRED_EDM;
  double *lsm_w = t->p.timestep_sampling ? malloc((size_t)t->p.T * sizeof *lsm_w) : NULL;
  bool lsm_ready = lsm_w && lsm_weights(t, lsm_w);
  uint64_t pos0 = (uint64_t)step * (uint64_t)B;
  cld_rng_uniform_host(t->p.seed, 1, pos0, (size_t)B, uflip);
  cld_rng_uniform_host(t->p.seed, 2, pos0, (size_t)B, ut);
  if (edm) cld_rng_normal_host(t->p.seed, 2, pos0, (size_t)B, ut); /* ln sigma = P_mean + P_std z */
  for (int b = 0; b < B; b++) {
    uint64_t pos = pos0 + (uint64_t)b;
    int64_t epoch = (int64_t)(pos / (uint64_t)d->n), k = (int64_t)(pos % (uint64_t)d->n);
    ensure_perm(t, epoch);
    copy_image(d, d->x + t->perm[k] * per, t->xb + (int64_t)b * per, t->p.hflip && uflip[b] < 0.5f);
    if (edm) {
      double sigma = exp(t->p.edm_p_mean + t->p.edm_p_std * (double)ut[b]);
      cld_edm_precond pc = cld_edm_precond_at(sigma, t->p.edm_sigma_data);
      tv[b] = (float)pc.c_noise;
      sab[b] = 1.0f;
      s1[b] = (float)sigma;
      cin[b] = (float)pc.c_in;
      cskip[b] = (float)pc.c_skip;
      cout[b] = (float)pc.c_out;
      wv[b] = (float)pc.weight;
      ipg[b] = mt->ip_gamma;
      stf_is[b] = 1.0f;
      stf_hs[b] = (float)(1.0 / (2.0 * sigma * sigma));
      continue;
    }
    int ti = (int)(ut[b] * (float)t->p.T);
    if (ti >= t->p.T) ti = t->p.T - 1;
    wv[b] = 1.0f;
    if (lsm_ready) { /* inverse CDF of the importance distribution */
      double target = ut[b], acc = 0;
      ti = t->p.T - 1;
      for (int i = 0; i < t->p.T; i++) {
        acc += lsm_w[i];
        if (target < acc) { ti = i; break; }
      }
      wv[b] = (float)(1.0 / (t->p.T * lsm_w[ti]));
    }
    tv[b] = (float)ti;
    if (t->p.learn_sigma) cld_vlb_host_values(t->sched, ti, &lbt[b], &dlog[b], &isab[b], &c1v[b], &c2v[b], &is0[b]);
    double ab = t->sched->alpha_bar[ti];
    sab[b] = (float)sqrt(ab);
    s1[b] = (float)sqrt(1.0 - ab);
    if (mt->weighting) {
      double lw = cld_loss_weight(mt, ab) * cld_eps_mse_factor(t->p.prediction, ab);
      if (t->wm) wmv[b] = (float)lw;
      else wv[b] = (float)(wv[b] * lw);
    }
    ipg[b] = (float)cld_ip_gamma_at(mt, ti, t->p.T);
    stf_is[b] = (float)(1.0 / sqrt(ab));
    stf_hs[b] = (float)(ab / (2.0 * (1.0 - ab)));
    stf_ss[b] = (float)sqrt(ab / (1.0 - ab));
  }
  cld_status st;
  free(lsm_w);
  if ((st = cld_tensor_write(t->g, t->x0, t->xb)) || (st = cld_tensor_write(t->g, t->tt, tv)) ||
      (st = cld_tensor_write(t->g, t->sab, sab)) || (st = cld_tensor_write(t->g, t->s1mab, s1)) ||
      (st = cld_tensor_write(t->g, t->w, wv)) || (t->wm && (st = cld_tensor_write(t->g, t->wm, wmv))))
    return st;
  if (t->p.learn_sigma) {
    size_t tot = (size_t)B * per;
    float *lo = t->mask_buf, *hi = lo + tot, *mid = hi + tot;
    for (size_t i = 0; i < tot; i++) {
      float v = t->xb[i];
      lo[i] = v < -0.999f;
      hi[i] = v > 0.999f;
      mid[i] = !(lo[i] || hi[i]);
    }
    if ((st = cld_tensor_write(t->g, t->lbt, lbt)) || (st = cld_tensor_write(t->g, t->dlog, dlog)) ||
        (st = cld_tensor_write(t->g, t->inv_sab, isab)) || (st = cld_tensor_write(t->g, t->pc1, c1v)) ||
        (st = cld_tensor_write(t->g, t->pc2, c2v)) || (st = cld_tensor_write(t->g, t->is0, is0)) ||
        (st = cld_tensor_write(t->g, t->m_lo, lo)) || (st = cld_tensor_write(t->g, t->m_hi, hi)) ||
        (st = cld_tensor_write(t->g, t->m_mid, mid)))
      return st;
  }
  if (t->ip_gamma && (st = cld_tensor_write(t->g, t->ip_gamma, ipg))) return st;
  if (t->stf_inv_s && ((st = cld_tensor_write(t->g, t->stf_inv_s, stf_is)) || (st = cld_tensor_write(t->g, t->stf_half_snr, stf_hs)) ||
                       (t->stf_snr_sqrt && (st = cld_tensor_write(t->g, t->stf_snr_sqrt, stf_ss)))))
    return st;
  if (t->stf_extra) { /* the reference images beyond the batch: Philox(seed, stream 6) picks them and,
                         with --hflip, stream 10 flips each with probability 1/2 (augmented
                         independently of the batch, as STF's code does) */
    int64_t extra = mt->stf_ref - B;
    float *u = malloc((size_t)(2 * extra) * sizeof *u), *fl = u + extra;
    if (!u) return cld_seterr(t->ctx, CLD_ERR_NOMEM, "out of host memory");
    cld_rng_uniform_host(t->p.seed, 6, (uint64_t)step * (uint64_t)extra, (size_t)extra, u);
    if (t->p.hflip) cld_rng_uniform_host(t->p.seed, 10, (uint64_t)step * (uint64_t)extra, (size_t)extra, fl);
    for (int64_t r = 0; r < extra; r++) {
      int64_t idx = (int64_t)(u[r] * (float)d->n);
      if (idx >= d->n) idx = d->n - 1;
      copy_image(d, d->x + idx * per, t->stf_buf + r * per, t->p.hflip && fl[r] < 0.5f);
    }
    free(u);
    if ((st = cld_tensor_write(t->g, t->stf_extra, t->stf_buf))) return st;
  }
  if (t->ep && (st = cld_ep_feed(t))) return st;
  if (edm && ((st = cld_tensor_write(t->g, t->c_in, cin)) || (st = cld_tensor_write(t->g, t->c_skip, cskip)) ||
              (st = cld_tensor_write(t->g, t->c_out, cout))))
    return st;
  cld_graph_set_run_counter(t->g, (uint64_t)step);
  if ((st = cld_graph_compute(t->g))) return st;
  float lr = t->p.lr * (t->p.warmup > 0 && step < t->p.warmup ? (float)(step + 1) / (float)t->p.warmup : 1.0f);
  if ((st = cld_optim_step(t->opt, lr))) return st;
  /* EMA warm-up as diffusers' EMAModel: decay min(d, (1 + step)/(10 + step)), so a short run's EMA
   * is not dominated by the random initial weights */
  float decay = fminf(t->p.ema_decay, (float)(1 + step) / (float)(10 + step));
  if ((st = cld_ema_update(t->ema, decay))) return st;
  t->step++;
  if (t->p.timestep_sampling) { /* record each sample's loss at its t (FIFO of CLD_LSM_HISTORY) */
    float ps[4096];
    if ((st = cld_tensor_read(t->g, t->per_sample, ps))) return st;
    for (int b = 0; b < B; b++) {
      int ti = (int)tv[b], *cnt = &t->lsm_count[ti];
      float *h = t->lsm_hist + (size_t)ti * CLD_LSM_HISTORY;
      if (*cnt < CLD_LSM_HISTORY) h[(*cnt)++] = ps[b];
      else { memmove(h, h + 1, (CLD_LSM_HISTORY - 1) * sizeof *h); h[CLD_LSM_HISTORY - 1] = ps[b]; }
    }
  }
  if (loss && (st = cld_tensor_read(t->g, t->loss, loss))) return st;
  return CLD_OK;
}

int64_t cld_trainer_steps_done(const cld_trainer *t) { return t ? t->step : 0; }
size_t cld_trainer_arena_bytes(const cld_trainer *t) { return t ? cld_graph_arena_bytes(t->g) : 0; }

