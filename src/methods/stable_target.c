/* Stable Target Field (Xu, Tong, Jaakkola 2023; METHODS.md 7 and decision 5): the regression
 * target of a sample becomes the posterior-weighted average of a reference batch,
 * w_ij = softmax_j(-||x_i - s_i y_j||^2 / (2 sigma_i^2)), computed as one GEMM through the
 * pairwise-distance op on x_i / s_i, max-subtracted by the softmax, fp32, no gradient.
 * As a training method it fills the target slot: the reference set is the (global) batch plus
 * stf_ref - B extra dataset images per step (a micro-batch's graph takes the batch's other images
 * as extra references first) (Philox(seed, stream 6) picks them; with hflip,
 * stream 10 mirrors each with probability 1/2, independently of the batch, as STF's code does);
 * the eps (and so v) target follows from the x0 target, so IP's xi stays out of it. */
#include "methods/train_method.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

cld_tensor *cld_stf_x0_target(cld_graph *g, cld_tensor *x, cld_tensor *y, cld_tensor *inv_s, cld_tensor *half_snr) {
  x = cld_detach(g, x);
  y = cld_detach(g, y);
  /* ||x_i - s y_j||^2 / (2 sigma^2) = ||x_i / s - y_j||^2 * s^2 / (2 sigma^2) */
  cld_tensor *d = cld_pairwise_sqdist(g, cld_mul(g, x, inv_s), y);   /* (B, R) */
  cld_tensor *w = cld_softmax(g, cld_scale(g, cld_mul(g, d, half_snr), -1.0f));
  return cld_matmul(g, w, y, false, false);                           /* (B, D) */
}

typedef struct stf_state {
  cld_tensor *extra;      /* (R - Bm, D) references beyond the micro-batch: the rest of the global
                             batch, then the picks; NULL when R = Bm */
  cld_tensor *inv_s;      /* (B, 1) 1/s */
  cld_tensor *half_snr;   /* (B, 1) s^2 / (2 sigma^2) */
  cld_tensor *snr_sqrt;   /* (B, 1, 1, 1) sqrt(SNR), VP only */
  float *extra_buf;       /* (R - Bm, D) */
  float *host;            /* (3B): the three per-sample inputs */
  float *u;               /* (2 (R - B)): picks and flips (B: the global batch) */
} stf_state;

static const char *stf_check(const cld_train_params *p) {
  int r = p->methods.stf_ref;
  return r < 0 || (r > 0 && r < p->batch) ? "stf_ref (--stf-ref) must be 0 (off) or at least the batch size (--batch): the reference set includes the batch"
         : r > 65536                      ? "stf_ref (--stf-ref) must be at most 65536"
                                          : NULL;
}
static bool stf_enabled(const cld_train_params *p) { return p->methods.stf_ref > 0; }

static void stf_destroy(void *self) {
  stf_state *s = self;
  if (s) { free(s->extra_buf); free(s->host); free(s->u); }
  free(s);
}
static void *stf_create(const cld_train_params *p, const int64_t shape[4]) {
  stf_state *s = calloc(1, sizeof *s);
  size_t extra = (size_t)(p->methods.stf_ref - shape[0]), D = (size_t)(shape[1] * shape[2] * shape[3]); /* beyond the micro-batch */
  size_t picks = (size_t)(p->methods.stf_ref - p->batch);
  if (s && (!(s->host = malloc((size_t)3 * (size_t)p->batch * sizeof(float))) ||
            (picks && !(s->u = malloc(2 * picks * sizeof(float)))) ||
            (extra && !(s->extra_buf = malloc(extra * D * sizeof(float)))))) {
    stf_destroy(s);
    return NULL;
  }
  return s;
}

static void stf_target(void *self, const cld_method_graph *b, cld_tensor **x0_target, cld_tensor **eps_target) {
  stf_state *s = self;
  cld_graph *g = b->g;
  int64_t B = b->shape[0], D = b->shape[1] * b->shape[2] * b->shape[3], R = b->p->methods.stf_ref;
  cld_tensor *xf = cld_reshape(g, b->xt, 2, (int64_t[]){B, D}), *yf = cld_reshape(g, b->x0, 2, (int64_t[]){B, D});
  if (R > B) {
    s->extra = cld_input(g, "stf_extra", 2, (int64_t[]){R - B, D});
    yf = cld_concat(g, yf, s->extra, 0);
  }
  s->inv_s = cld_input(g, "stf_inv_s", 2, (int64_t[]){B, 1});
  s->half_snr = cld_input(g, "stf_half_snr", 2, (int64_t[]){B, 1});
  *x0_target = cld_reshape(g, cld_stf_x0_target(g, xf, yf, s->inv_s, s->half_snr), 4, b->shape);
  if (b->p->prediction != CLD_PRED_EDM) { /* eps + sqrt(SNR)(x0 - x0_stf) */
    s->snr_sqrt = cld_input_4d(g, "stf_snr_sqrt", B, 1, 1, 1);
    *eps_target = cld_add(g, *eps_target, cld_mul(g, cld_sub(g, b->x0, *x0_target), s->snr_sqrt));
  }
}

/* the references beyond the micro-batch into extra_buf: the global batch's other images in
 * order, then the R - B picks of this step */
static void stf_pick_extra(stf_state *s, const cld_method_step *st) {
  const cld_dataset *d = st->data;
  int64_t extra = st->p->methods.stf_ref - st->global_batch, per = (int64_t)d->c * d->h * d->w;
  int64_t others = (int64_t)st->global_batch - st->batch, before = (int64_t)st->micro * st->batch;
  memcpy(s->extra_buf, st->batch_x, (size_t)(before * per) * sizeof(float));
  memcpy(s->extra_buf + before * per, st->batch_x + (before + st->batch) * per, (size_t)((others - before) * per) * sizeof(float));
  if (extra == 0) return;
  float *u = s->u, *fl = u + extra, *picks = s->extra_buf + others * per;
  uint64_t pos = (uint64_t)st->step * (uint64_t)extra;
  cld_rng_uniform_host(st->p->seed, 6, pos, (size_t)extra, u);
  if (st->p->hflip) cld_rng_uniform_host(st->p->seed, 10, pos, (size_t)extra, fl);
  for (int64_t r = 0; r < extra; r++) {
    int64_t idx = (int64_t)(u[r] * (float)d->n);
    if (idx >= d->n) idx = d->n - 1;
    cld_dataset_copy_image(d, idx, st->p->hflip && fl[r] < 0.5f, picks + r * per);
  }
}

static cld_status stf_feed(void *self, const cld_method_step *st) {
  stf_state *s = self;
  int B = st->batch;
  float *is = s->host, *hs = is + B, *ss = hs + B;
  for (int b = 0; b < B; b++) {
    if (st->sigma) { /* EDM: x = y + sigma n, s = 1 */
      is[b] = 1.0f;
      hs[b] = (float)(1.0 / (2.0 * st->sigma[b] * st->sigma[b]));
      continue;
    }
    double ab = st->alpha_bar[b];
    is[b] = (float)(1.0 / sqrt(ab));
    hs[b] = (float)(ab / (2.0 * (1.0 - ab)));
    ss[b] = (float)sqrt(ab / (1.0 - ab));
  }
  cld_status e;
  if ((e = cld_tensor_write(st->g, s->inv_s, is)) || (e = cld_tensor_write(st->g, s->half_snr, hs)) ||
      (s->snr_sqrt && (e = cld_tensor_write(st->g, s->snr_sqrt, ss))))
    return e;
  if (!s->extra) return CLD_OK;
  stf_pick_extra(s, st);
  return cld_tensor_write(st->g, s->extra, s->extra_buf);
}

static void stf_record(const cld_train_params *p, cJSON *j) { cJSON_AddNumberToObject(j, "stf_ref", p->methods.stf_ref); }

const cld_train_method cld_method_stable_target = {
  .name = "stable_target", .check = stf_check, .enabled = stf_enabled, .create = stf_create,
  .destroy = stf_destroy, .target = stf_target, .feed = stf_feed, .record = stf_record,
};
