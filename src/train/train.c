/* The training loop of cldiff: one step graph (q_sample -> UNet -> target -> per-sample weighted
 * MSE -> backward), AdamW with warmup and clipping, EMA. Randomness is counter-based:
 *   data order: permutation of epoch e from Philox(seed, stream 0x100 + e)
 *   flips:      Philox(seed, stream 1) at the sample's global position
 *   timesteps:  Philox(seed, stream 2) at the sample's global position
 *   noise:      graph randn, stream 3, run counter = step; dropout: run counter = step
 * Checkpoints are in checkpoint.c. */
#include "diffusion/schedule_make.h"
#include "graph/graph_internal.h"
#include "train/train_internal.h"
#include "diffusion/objective.h"
#include "train/grad_accum.h"
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
  p.accum = 1;
  p.bucket_mb = -1.0f;
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
  free(t->host_buf);
  free(t->micro_loss);
  cld_grad_accum_destroy(t->acc);
  for (int i = 0; i < t->n_methods; i++)
    if (t->method[i]->destroy) t->method[i]->destroy(t->method_state[i]);
  free(t);
}

const char *cld_train_params_check(const cld_train_params *p) {
  if (!p) return "no parameters";
  if (p->batch < 1) return "batch (--batch) must be at least 1";
  int ranks = p->comm ? p->comm->size : 1;
  if (p->accum < 1 || p->accum > 4096) return "accum (--accum) must be in 1..4096";
  if (!(p->bucket_mb == -1.0f || (p->bucket_mb >= 0 && p->bucket_mb <= 4096)))
    return "bucket_mb (--bucket-mb) must be in 0..4096 (or -1: chosen by the device)";
  if (ranks < 1 || (p->comm && !(p->comm->allreduce_sum && p->comm->broadcast && p->comm->rank >= 0 && p->comm->rank < ranks)))
    return "comm: a communicator needs rank in 0..size-1, allreduce_sum and broadcast";
  if (p->batch % (p->accum * ranks))
    return "batch (--batch) must be a multiple of accum (--accum) x the number of ranks: each rank's micro-batches are equal";
  if (!(p->cond_drop >= 0 && p->cond_drop < 1)) return "label dropout (--cond-drop) must be in [0, 1)";
  if (p->learn_sigma && p->prediction != CLD_PRED_EPS) return "learned variance (--learn-sigma) needs eps prediction (--prediction eps)";
  if (p->prediction == CLD_PRED_EDM && p->timestep_sampling)
    return "loss-second-moment time-step sampling (--timestep-sampling) needs discrete time steps (not --prediction edm)";
  return cld_train_methods_check(p);
}

/* the per-step host arrays, (B) each, in one block */
static bool alloc_step_host(cld_trainer *t) {
  size_t B = (size_t)t->p.batch, nf = 18;
  char *m = t->host_buf = malloc(B * (nf * sizeof(float) + 2 * sizeof(int) + 2 * sizeof(double)));
  if (!m) return false;
  cld_step_host *h = &t->h;
  double *d = (double *)m;
  h->alpha_bar = d;
  h->sigma = d + B;
  float *f = (float *)(d + 2 * B);
  float **fs[] = {&h->t, &h->sab, &h->s1, &h->uflip, &h->ut, &h->w, &h->wm, &h->c_in, &h->c_skip, &h->c_out,
                  &h->lbt, &h->dlog, &h->isab, &h->c1, &h->c2, &h->is0, &h->per_sample, &h->ucond};
  for (size_t i = 0; i < nf; i++) *fs[i] = f + i * B;
  h->ti = (int *)(f + nf * B);
  h->label = h->ti + B;
  return true;
}

/* the enabled methods, in registry order, each with its state */
static cld_status add_methods(cld_trainer *t) {
  int64_t shape[4] = {t->Bm, t->data->c, t->data->h, t->data->w};
  for (int i = 0; cld_train_methods[i]; i++) {
    const cld_train_method *m = cld_train_methods[i];
    if (!m->enabled(&t->p)) continue;
    if (t->n_methods == CLD_MAX_TRAIN_METHODS) return cld_seterr(t->ctx, CLD_ERR_INVALID_ARG, "train: too many methods");
    void *self = m->create ? m->create(&t->p, shape) : NULL;
    if (m->create && !self) return cld_seterr(t->ctx, CLD_ERR_NOMEM, "train: %s: out of host memory", m->name);
    t->method[t->n_methods] = m;
    t->method_state[t->n_methods++] = self;
    t->weighted |= m->weight != NULL;
  }
  return CLD_OK;
}

/* a conditional model has labelled data, classes that fit its table (and a null row under label
 * dropout); label dropout needs a conditional model */
static cld_status check_classes(cld_ctx *ctx, cld_model *m, const cld_dataset *data, const cld_train_params *p) {
  cld_class_embed kind = cld_model_class_kind(m);
  if (kind == CLD_CLASS_NONE) {
    if (p->cond_drop > 0)
      return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: label dropout (--cond-drop) needs a class-conditional model "
                        "(num_class_embeds in config.json, or a -cond preset)");
    return CLD_OK;
  }
  if (kind == CLD_CLASS_IDENTITY)
    return cld_seterr(ctx, CLD_ERR_UNSUPPORTED, "train: class_embed_type \"identity\" takes embedding vectors, which cldiff's "
                      "datasets do not provide (use num_class_embeds)");
  if (!data->labels || data->n_classes < 1)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: the model is class-conditional but %s has no labels (a folder needs one "
                      "subfolder per class)", data->name);
  int need = data->n_classes + (p->cond_drop > 0), rows = cld_model_class_count(m);
  if (kind == CLD_CLASS_TABLE && rows < need)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: %s has %d classes%s: the model's class table needs %d rows "
                      "(num_class_embeds), it has %d", data->name, data->n_classes, p->cond_drop > 0 ? " plus the null class of label dropout" : "",
                      need, rows);
  return CLD_OK;
}

/* the data and the model agree, and the parameters are valid */
static cld_status check_setup(cld_ctx *ctx, cld_model *m, const cld_dataset *data, const cld_train_params *p) {
  if (data->c != cld_model_channels(m))
    return cld_seterr(ctx, CLD_ERR_SHAPE, "train: %s has %d channels, the model takes %d", data->name, data->c, cld_model_channels(m));
  if (data->n < 1) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: empty dataset");
  const char *bad = cld_train_params_check(p);
  if (bad) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: %s", bad);
  if (p->learn_sigma && cld_model_out_channels(m) != 2 * data->c)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: learned variance needs eps prediction and a model with %d output channels "
                      "(2 x %d), this one has %d", 2 * data->c, data->c, cld_model_out_channels(m));
  if (!p->learn_sigma && cld_model_out_channels(m) != data->c)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "train: the model outputs %d channels for %d-channel data (2x needs learned variance)",
                      cld_model_out_channels(m), data->c);
  return check_classes(ctx, m, data, p);
}

/* everything the trainer holds on the host */
static bool alloc_host(cld_trainer *t) {
  const cld_train_params *p = &t->p;
  size_t per = (size_t)t->data->c * t->data->h * t->data->w;
  t->perm = malloc((size_t)t->data->n * sizeof *t->perm);
  t->xb = malloc((size_t)p->batch * per * sizeof(float));
  t->perm_epoch = -1;
  if (p->learn_sigma && !(t->mask_buf = malloc(3 * (size_t)p->batch * per * sizeof(float)))) return false;
  if (p->timestep_sampling) {
    t->lsm_hist = calloc((size_t)p->T * CLD_LSM_HISTORY, sizeof(float));
    t->lsm_count = calloc((size_t)p->T, sizeof(int));
    if (!t->lsm_hist || !t->lsm_count) return false;
  }
  return t->perm && t->xb && alloc_step_host(t);
}

cld_status cld_trainer_create(cld_ctx *ctx, cld_model *m, const cld_dataset *data, const cld_train_params *p,
                              cld_trainer **out) {
  if (!ctx || !m || !data || !p || !out) return CLD_ERR_INVALID_ARG;
  cld_status st = check_setup(ctx, m, data, p);
  if (st) return st;
  cld_trainer *t = calloc(1, sizeof *t);
  if (!t) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  t->ctx = ctx;
  t->m = m;
  t->s = cld_model_store(m);
  t->data = data;
  t->p = *p;
  t->n_micro = p->accum * (p->comm ? p->comm->size : 1);
  t->Bm = p->batch / t->n_micro;
  t->micro0 = (p->comm ? p->comm->rank : 0) * p->accum;
  st = cld_schedule_make(ctx, "train", p->schedule, p->T, &t->sched);
  if (!st && !alloc_host(t)) st = cld_seterr(ctx, CLD_ERR_NOMEM, "train: out of host memory for the batch's buffers");
  if (!st) st = add_methods(t);
  if (!st) st = cld_trainer_build_graph(t);
  cld_adamw_params ap = cld_adamw_params_default();
  ap.lr = p->lr;
  ap.weight_decay = p->weight_decay;
  ap.clip_norm = p->clip_norm;
  if (!st) st = cld_optim_create(t->s, &ap, &t->opt);
  if (!st) st = cld_ema_create(t->s, &t->ema);
  if (!st && t->n_micro > 1 && !(t->micro_loss = calloc((size_t)t->n_micro, sizeof(float))))
    st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  if (!st && t->n_micro > 1) st = cld_grad_accum_create(t->s, &t->acc);
  if (st) {
    cld_trainer_destroy(t);
    return st;
  }
  *out = t;
  return CLD_OK;
}

/* epoch permutation: Fisher-Yates driven by Philox(seed, 0x100 + epoch); false when out of memory */
static bool ensure_perm(cld_trainer *t, int64_t epoch) {
  if (t->perm_epoch == epoch) return true;
  if (cld_rng_permutation_host(t->p.seed, 0x100u + (uint32_t)epoch, t->data->n, t->perm) != 0) return false;
  t->perm_epoch = epoch;
  return true;
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

/* the time of sample b (uniform, or the importance distribution once lsm_w is ready), with its
 * importance weight in h->w[b] */
static int draw_time(const cld_trainer *t, const double *lsm_w, int b) {
  const cld_step_host *h = &t->h;
  int T = t->p.T, ti = (int)(h->ut[b] * (float)T);
  if (ti >= T) ti = T - 1;
  h->w[b] = 1.0f;
  if (!lsm_w) return ti;
  double target = h->ut[b], acc = 0; /* inverse CDF */
  ti = T - 1;
  for (int i = 0; i < T; i++) {
    acc += lsm_w[i];
    if (target < acc) { ti = i; break; }
  }
  h->w[b] = (float)(1.0 / (T * lsm_w[ti]));
  return ti;
}

/* EDM: ln sigma = P_mean + P_std z, the preconditioning and the loss weight of sample b */
static void edm_sample(cld_trainer *t, int b) {
  cld_step_host *h = &t->h;
  double sigma = exp(t->p.edm_p_mean + t->p.edm_p_std * (double)h->ut[b]);
  cld_edm_precond pc = cld_edm_precond_at(sigma, t->p.edm_sigma_data);
  h->sigma[b] = sigma;
  h->t[b] = (float)pc.c_noise;
  h->sab[b] = 1.0f;
  h->s1[b] = (float)sigma;
  h->c_in[b] = (float)pc.c_in;
  h->c_skip[b] = (float)pc.c_skip;
  h->c_out[b] = (float)pc.c_out;
  h->w[b] = (float)pc.weight;
}

/* a discrete-time sample b: t, alpha_bar, the learned-variance values, the methods' weight */
static void vp_sample(cld_trainer *t, const double *lsm_w, int b) {
  cld_step_host *h = &t->h;
  int ti = draw_time(t, lsm_w, b);
  h->ti[b] = ti;
  h->t[b] = (float)ti;
  if (t->p.learn_sigma) cld_vlb_host_values(t->sched, ti, &h->lbt[b], &h->dlog[b], &h->isab[b], &h->c1[b], &h->c2[b], &h->is0[b]);
  double ab = h->alpha_bar[b] = t->sched->alpha_bar[ti];
  h->sab[b] = (float)sqrt(ab);
  h->s1[b] = (float)sqrt(1.0 - ab);
  if (!t->weighted) return;
  double lw = 1.0;
  for (int i = 0; i < t->n_methods; i++)
    if (t->method[i]->weight) lw *= t->method[i]->weight(&t->p, ab);
  if (t->wm) h->wm[b] = (float)lw;
  else h->w[b] = (float)(h->w[b] * lw);
}

/* the batch images (data order, flips) and every per-sample host value of this step */
static cld_status draw_batch(cld_trainer *t, const double *lsm_w) {
  const cld_dataset *d = t->data;
  cld_step_host *h = &t->h;
  int B = t->p.batch;
  int64_t per = (int64_t)d->c * d->h * d->w;
  uint64_t pos0 = (uint64_t)t->step * (uint64_t)B;
  bool edm = t->p.prediction == CLD_PRED_EDM;
  cld_rng_uniform_host(t->p.seed, 1, pos0, (size_t)B, h->uflip);
  cld_rng_uniform_host(t->p.seed, 2, pos0, (size_t)B, h->ut);
  if (edm) cld_rng_normal_host(t->p.seed, 2, pos0, (size_t)B, h->ut);
  bool cond = t->cond != NULL;
  if (cond) cld_rng_uniform_host(t->p.seed, 4, pos0, (size_t)B, h->ucond);
  for (int b = 0; b < B; b++) {
    uint64_t pos = pos0 + (uint64_t)b;
    int64_t epoch = (int64_t)(pos / (uint64_t)d->n), k = (int64_t)(pos % (uint64_t)d->n);
    if (!ensure_perm(t, epoch)) return cld_seterr(t->ctx, CLD_ERR_NOMEM, "train: out of host memory for epoch %lld's data order", (long long)epoch);
    cld_dataset_copy_image(d, t->perm[k], t->p.hflip && h->uflip[b] < 0.5f, t->xb + (int64_t)b * per);
    if (cond) h->label[b] = h->ucond[b] < t->p.cond_drop ? d->n_classes : d->labels[t->perm[k]];
    if (edm) edm_sample(t, b);
    else vp_sample(t, lsm_w, b);
  }
  return CLD_OK;
}

/* iDDPM's learned-variance inputs of micro-batch mk: per-sample values and the decoder-branch masks */
static cld_status write_learned_sigma(cld_trainer *t, int mk) {
  const cld_step_host *h = &t->h;
  size_t per = (size_t)t->data->c * t->data->h * t->data->w, tot = (size_t)t->Bm * per, o = (size_t)mk * (size_t)t->Bm;
  float *lo = t->mask_buf, *hi = lo + tot, *mid = hi + tot;
  for (size_t i = 0; i < tot; i++) {
    float v = t->xb[o * per + i];
    lo[i] = v < -0.999f;
    hi[i] = v > 0.999f;
    mid[i] = !(lo[i] || hi[i]);
  }
  cld_graph *g = t->g;
  cld_status st;
  if ((st = cld_tensor_write(g, t->lbt, h->lbt + o)) || (st = cld_tensor_write(g, t->dlog, h->dlog + o)) ||
      (st = cld_tensor_write(g, t->inv_sab, h->isab + o)) || (st = cld_tensor_write(g, t->pc1, h->c1 + o)) ||
      (st = cld_tensor_write(g, t->pc2, h->c2 + o)) || (st = cld_tensor_write(g, t->is0, h->is0 + o)) ||
      (st = cld_tensor_write(g, t->m_lo, lo)) || (st = cld_tensor_write(g, t->m_hi, hi)) || (st = cld_tensor_write(g, t->m_mid, mid)))
    return st;
  return CLD_OK;
}

/* the trainer's inputs of micro-batch mk (samples mk*Bm ..), then each method's */
static cld_status write_inputs(cld_trainer *t, int mk) {
  const cld_step_host *h = &t->h;
  cld_graph *g = t->g;
  bool edm = t->p.prediction == CLD_PRED_EDM;
  size_t o = (size_t)mk * (size_t)t->Bm, per = (size_t)t->data->c * t->data->h * t->data->w;
  cld_status st;
  if ((st = cld_tensor_write(g, t->x0, t->xb + o * per)) || (st = cld_tensor_write(g, t->tt, h->t + o)) ||
      (st = cld_tensor_write(g, t->sab, h->sab + o)) || (st = cld_tensor_write(g, t->s1mab, h->s1 + o)) ||
      (st = cld_tensor_write(g, t->w, h->w + o)) || (t->wm && (st = cld_tensor_write(g, t->wm, h->wm + o))))
    return st;
  if (t->p.learn_sigma && (st = write_learned_sigma(t, mk))) return st;
  if (t->cond && (st = cld_model_class_write(t->m, g, t->cond, h->label + o, t->Bm))) return st;
  cld_method_step ms = {t->ctx, g, &t->p, t->sched, t->data, t->step, t->Bm, mk, t->p.batch, t->xb,
                        edm ? NULL : h->ti + o, edm ? NULL : h->alpha_bar + o, edm ? h->sigma + o : NULL};
  for (int i = 0; i < t->n_methods; i++)
    if (t->method[i]->feed && (st = t->method[i]->feed(t->method_state[i], &ms))) return st;
  if (edm && ((st = cld_tensor_write(g, t->c_in, h->c_in + o)) || (st = cld_tensor_write(g, t->c_skip, h->c_skip + o)) ||
              (st = cld_tensor_write(g, t->c_out, h->c_out + o))))
    return st;
  return CLD_OK;
}

/* record each sample's loss at its t (FIFO of CLD_LSM_HISTORY), from the global batch's
 * per-sample losses (read per micro-batch, summed over the ranks) */
static void record_lsm(cld_trainer *t) {
  float *ps = t->h.per_sample;
  for (int b = 0; b < t->p.batch; b++) {
    int ti = t->h.ti[b], *cnt = &t->lsm_count[ti];
    float *h = t->lsm_hist + (size_t)ti * CLD_LSM_HISTORY;
    if (*cnt < CLD_LSM_HISTORY) h[(*cnt)++] = ps[b];
    else { memmove(h, h + 1, (CLD_LSM_HISTORY - 1) * sizeof *h); h[CLD_LSM_HISTORY - 1] = ps[b]; }
  }
}

/* micro-batch mk (this rank's j-th) of the step: its inputs, the graph (its RNG draws those of
 * samples mk*Bm .. of the global batch), its gradients into the accumulator, its loss (and
 * per-sample losses) read back */
/* the all-reduce's bucket size: as asked, or by the device (-1: none on a CPU device) */
static float bucket_mb(const cld_trainer *t) {
  return t->p.bucket_mb >= 0 ? t->p.bucket_mb : cld_ctx_device(t->ctx)->is_cpu ? 0.0f : 4.0f;
}

static cld_status run_micro(cld_trainer *t, int mk, int j, bool overlap, float *l) {
  cld_status st = write_inputs(t, mk);
  if (st) return st;
  cld_graph_set_run_counter(t->g, (uint64_t)t->step);
  cld_graph_set_rng_slab(t->g, (uint64_t)mk);
  if (overlap) { /* the rank's last micro-batch: its gradients are all-reduced bucket by bucket */
    if (!(st = cld_grad_accum_overlap_begin(t->acc, t->g, j == 0, bucket_mb(t)))) st = cld_graph_compute(t->g);
    st = cld_grad_accum_overlap_end(t->acc, t->g, t->p.comm, st);
  } else if (!(st = cld_graph_compute(t->g)) && t->acc) {
    st = cld_grad_accum_add(t->acc, j == 0);
  }
  if (st || (st = cld_tensor_read(t->g, t->loss, l))) return st;
  return t->p.timestep_sampling ? cld_tensor_read(t->g, t->per_sample, t->h.per_sample + (size_t)mk * (size_t)t->Bm) : CLD_OK;
}

/* the step's gradients into the store and its loss: the one graph, or this rank's micro-batches
 * summed, then summed over the ranks (the losses too: each rank fills its own slots, zeros
 * elsewhere, so the sum is exact), scaled to the mean over the global batch */
static cld_status run_micros(cld_trainer *t, float *l) {
  if (!t->acc) return run_micro(t, 0, 0, false, l);
  const cld_comm *c = t->p.comm;
  bool ranks = c && c->size > 1, buckets = ranks && bucket_mb(t) > 0;
  cld_status st = CLD_OK;
  memset(t->micro_loss, 0, (size_t)t->n_micro * sizeof(float));
  if (ranks && t->p.timestep_sampling) memset(t->h.per_sample, 0, (size_t)t->p.batch * sizeof(float));
  for (int j = 0; j < t->p.accum && !st; j++)
    st = run_micro(t, t->micro0 + j, j, buckets && j == t->p.accum - 1, &t->micro_loss[t->micro0 + j]);
  if (!st && ranks && !buckets && (st = cld_grad_accum_allreduce(t->acc, c))) return st;
  if (!st && ranks && (c->allreduce_sum(c->user, t->micro_loss, (size_t)t->n_micro) ||
                       (t->p.timestep_sampling && c->allreduce_sum(c->user, t->h.per_sample, (size_t)t->p.batch))))
    return cld_seterr(t->ctx, CLD_ERR_IO, "train: the loss all-reduce over %d ranks failed", c->size);
  if (st) return st;
  float sum = 0;
  for (int k = 0; k < t->n_micro; k++) sum += t->micro_loss[k];
  *l = sum / (float)t->n_micro;
  return cld_grad_accum_finish(t->acc, 1.0f / (float)t->n_micro);
}

/* a step whose loss or gradient norm is not finite: not applied; skipped (it counts, nothing
 * changes) under skip_nonfinite, else an error naming the step */
static cld_status nonfinite_step(cld_trainer *t, float l, float norm, float *loss) {
  if (!t->p.skip_nonfinite)
    return cld_seterr(t->ctx, CLD_ERR_NONFINITE, "train: step %lld: the %s is %g; the step was not applied",
                      (long long)t->step + 1, isfinite(l) ? "gradient norm" : "loss", isfinite(l) ? (double)norm : (double)l);
  if (loss) *loss = NAN;
  t->step++;
  t->skipped++;
  return CLD_OK;
}

cld_status cld_trainer_step(cld_trainer *t, float *loss) {
  if (!t) return CLD_ERR_INVALID_ARG;
  int64_t step = t->step;
  double *lsm_w = t->p.timestep_sampling ? malloc((size_t)t->p.T * sizeof *lsm_w) : NULL;
  if (t->p.timestep_sampling && !lsm_w) return cld_seterr(t->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  bool lsm_ready = lsm_w && lsm_weights(t, lsm_w);
  cld_status st = draw_batch(t, lsm_ready ? lsm_w : NULL);
  free(lsm_w);
  float l = 0, norm = 0;
  if (st || (st = run_micros(t, &l)) || (st = cld_optim_grad_norm(t->opt)) || (st = cld_optim_last_grad_norm(t->opt, &norm)))
    return st;
  if (loss) *loss = l;
  if (!isfinite(l) || !isfinite(norm)) return nonfinite_step(t, l, norm, loss);
  float lr = t->p.lr * (t->p.warmup > 0 && step < t->p.warmup ? (float)(step + 1) / (float)t->p.warmup : 1.0f);
  if ((st = cld_optim_apply(t->opt, lr))) return st;
  /* EMA warm-up as diffusers' EMAModel: decay min(d, (1 + step)/(10 + step)), so a short run's EMA
   * is not dominated by the random initial weights */
  float decay = fminf(t->p.ema_decay, (float)(1 + step) / (float)(10 + step));
  if ((st = cld_ema_update(t->ema, decay))) return st;
  t->step++;
  if (t->p.timestep_sampling) record_lsm(t);
  return CLD_OK;
}

int64_t cld_trainer_skipped_steps(const cld_trainer *t) { return t ? t->skipped : 0; }

int cld_trainer_method_stat(const cld_trainer *t, const char *name) {
  for (int i = 0; t && name && i < t->n_methods; i++)
    if (t->method[i]->stat_name && !strcmp(t->method[i]->stat_name, name)) return t->method[i]->stat(t->method_state[i]);
  return 0;
}
int cld_trainer_ep_chain_steps(const cld_trainer *t) { return cld_trainer_method_stat(t, "ep_chain_steps"); }

int64_t cld_trainer_steps_done(const cld_trainer *t) { return t ? t->step : 0; }
size_t cld_trainer_arena_bytes(const cld_trainer *t) { return t ? cld_graph_arena_bytes(t->g) : 0; }
cld_status cld_trainer_record_gemms(const cld_trainer *t) { return t ? cld_graph_record_gemms(t->g) : CLD_ERR_INVALID_ARG; }

