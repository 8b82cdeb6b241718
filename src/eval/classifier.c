/* The feature classifier of `cldiff eval fid`: a small CNN trained with cldiff's own graph and
 * AdamW. x (N, C, S, S) -> conv3x3 32 -> conv3x3/2 64 -> conv3x3/2 128 -> conv3x3 128 (SiLU after
 * each) -> mean over H, W = the 128-d feature -> linear -> logits. Parameter names conv{1..4} and
 * head (PyTorch layout); DIR/classifier.safetensors carries channels, size and classes in its
 * metadata. Data order and flips come from Philox(seed, stream 0x200 + epoch / stream 0x201). */
#include "runtime/runtime.h"
#include "cldiff/eval.h"
#include "cldiff/data.h"
#include "cldiff/graph.h"
#include "cldiff/io.h"
#include "cldiff/optim.h"
#include "cldiff/rng.h"
#include "cldiff/train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_BATCH 250
static const int widths[4] = {32, 64, 128, CLD_CLASSIFIER_FEATURES}, strides[4] = {1, 2, 2, 1};

typedef struct net_graph {
  cld_graph *g;
  int B;
  cld_tensor *x, *onehot, *feat, *logits, *loss;
} net_graph;

struct cld_classifier {
  cld_ctx *ctx;
  cld_store *s;
  int c, size, classes;
  net_graph eval;
};

static const char *pname(char *buf, size_t n, const char *layer, const char *what) {
  snprintf(buf, n, "%s.%s", layer, what);
  return buf;
}

static cld_tensor *param(cld_classifier *c, cld_graph *g, const char *layer, const char *what) {
  char n[64];
  return cld_param(g, c->s, cld_store_find(c->s, pname(n, sizeof n, layer, what)));
}

/* x: (B, C, S, S) -> features (B, 128), logits (B, classes) */
static void forward(cld_classifier *c, cld_graph *g, cld_tensor *x, cld_tensor **feat, cld_tensor **logits) {
  cld_tensor *h = x;
  for (int l = 0; l < 4; l++) {
    char layer[16];
    snprintf(layer, sizeof layer, "conv%d", l + 1);
    h = cld_silu(g, cld_conv2d(g, h, param(c, g, layer, "weight"), param(c, g, layer, "bias"), strides[l], 1));
  }
  *feat = cld_mean(g, h, 0xC, false); /* (B, 128) */
  *logits = cld_linear(g, *feat, param(c, g, "head", "weight"), param(c, g, "head", "bias"));
}

static cld_status build(cld_classifier *c, net_graph *ng, int B, bool train) {
  ng->B = B;
  cld_graph *g = ng->g = cld_graph_create(c->ctx);
  if (!g) return cld_seterr(c->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  ng->x = cld_input_4d(g, "x", B, c->c, c->size, c->size);
  forward(c, g, ng->x, &ng->feat, &ng->logits);
  cld_graph_keep(g, ng->feat);
  cld_graph_keep(g, ng->logits);
  cld_status st = CLD_OK;
  if (train) { /* cross-entropy: -mean_b sum_k onehot log softmax(logits) */
    ng->onehot = cld_input(g, "onehot", 2, (int64_t[]){B, c->classes});
    cld_tensor *logp = cld_log(g, cld_clamp_min(g, cld_softmax(g, ng->logits), 1e-12f));
    ng->loss = cld_scale(g, cld_sum_all(g, cld_mul(g, ng->onehot, logp)), -1.0f / (float)B);
    cld_graph_keep(g, ng->loss);
    st = cld_graph_backward(g, ng->loss);
  }
  cld_graph_set_training(g, train);
  if (!st) st = cld_graph_plan(g, NULL);
  if (st) {
    st = cld_seterr(c->ctx, st, "classifier: building the graph: %s", cld_graph_status(g) ? cld_graph_errmsg(g) : cld_ctx_errmsg(c->ctx));
    cld_graph_destroy(g);
    ng->g = NULL;
  }
  return st;
}

static cld_status add_params(cld_classifier *c) {
  int in = c->c;
  char n[64];
  for (int l = 0; l < 4; l++) {
    char layer[16];
    snprintf(layer, sizeof layer, "conv%d", l + 1);
    if (cld_store_add(c->s, pname(n, sizeof n, layer, "weight"), 4, (int64_t[]){widths[l], in, 3, 3}) < 0 ||
        cld_store_add(c->s, pname(n, sizeof n, layer, "bias"), 1, (int64_t[]){widths[l]}) < 0)
      return cld_seterr(c->ctx, CLD_ERR_NOMEM, "classifier: cannot add parameters");
    in = widths[l];
  }
  if (cld_store_add(c->s, "head.weight", 2, (int64_t[]){c->classes, CLD_CLASSIFIER_FEATURES}) < 0 ||
      cld_store_add(c->s, "head.bias", 1, (int64_t[]){c->classes}) < 0)
    return cld_seterr(c->ctx, CLD_ERR_NOMEM, "classifier: cannot add parameters");
  return CLD_OK;
}

static cld_status make(cld_ctx *ctx, int channels, int size, int classes, cld_classifier **out) {
  if (channels != 1 && channels != 3) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "classifier: channels must be 1 or 3, got %d", channels);
  if (size < 8 || size > 256) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "classifier: image size %d out of range 8..256", size);
  if (classes < 2 || classes > 1000) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "classifier: classes %d out of range 2..1000", classes);
  cld_classifier *c = calloc(1, sizeof *c);
  if (!c) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  c->ctx = ctx;
  c->c = channels;
  c->size = size;
  c->classes = classes;
  cld_status st = cld_store_create(ctx, &c->s);
  if (!st) st = add_params(c);
  if (st) { cld_classifier_destroy(c); return st; }
  *out = c;
  return CLD_OK;
}

cld_status cld_classifier_create(cld_ctx *ctx, int channels, int size, int classes, uint64_t seed, cld_classifier **out) {
  if (!ctx || !out) return CLD_ERR_INVALID_ARG;
  cld_classifier *c;
  cld_status st = make(ctx, channels, size, classes, &c);
  if (st) return st;
  /* He-uniform weights (bound sqrt(6 / fan_in)) for the SiLU convolutions, 1/sqrt(fan_in) for the head, zero biases */
  for (int id = 0; id < cld_store_count(c->s) && !st; id++) {
    int64_t shape[4], n = cld_store_numel(c->s, id);
    int nd = cld_store_shape(c->s, id, shape);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) { st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); break; }
    if (nd == 1) memset(v, 0, (size_t)n * sizeof *v);
    else {
      double fan_in = (double)(n / shape[0]), bound = nd == 4 ? sqrt(6.0 / fan_in) : 1.0 / sqrt(fan_in);
      cld_rng_uniform_host(seed, 0x400u + (uint32_t)id, 0, (size_t)n, v);
      for (int64_t i = 0; i < n; i++) v[i] = (float)((2.0 * v[i] - 1.0) * bound);
    }
    st = cld_store_write(c->s, id, v);
    free(v);
  }
  if (st) { cld_classifier_destroy(c); return st; }
  *out = c;
  return CLD_OK;
}

cld_status cld_classifier_load(cld_ctx *ctx, const char *dir, cld_classifier **out) {
  if (!ctx || !dir || !out) return CLD_ERR_INVALID_ARG;
  char path[4096];
  snprintf(path, sizeof path, "%s/classifier.safetensors", dir);
  cld_safetensors *f;
  cld_status st = cld_safetensors_open(ctx, path, &f);
  if (st) return st;
  const char *mc = cld_safetensors_metadata(f, "channels"), *ms = cld_safetensors_metadata(f, "size"),
             *mk = cld_safetensors_metadata(f, "classes");
  if (!mc || !ms || !mk) {
    cld_safetensors_close(f);
    return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: not a cldiff classifier (metadata channels/size/classes missing)", path);
  }
  int channels = atoi(mc), size = atoi(ms), classes = atoi(mk);
  cld_safetensors_close(f);
  cld_classifier *c;
  if ((st = make(ctx, channels, size, classes, &c))) return cld_seterr(ctx, st, "%s: %s", path, cld_ctx_errmsg(ctx));
  if ((st = cld_store_load(c->s, path, NULL))) { cld_classifier_destroy(c); return st; }
  *out = c;
  return CLD_OK;
}

cld_status cld_classifier_save(cld_classifier *c, const char *dir) {
  if (!c || !dir) return CLD_ERR_INVALID_ARG;
  if (cld_fs_mkdirs(dir)) return cld_seterr(c->ctx, CLD_ERR_IO, "%s: cannot create the directory", dir);
  char path[4096], ch[16], sz[16], cl[16];
  snprintf(path, sizeof path, "%s/classifier.safetensors", dir);
  snprintf(ch, sizeof ch, "%d", c->c);
  snprintf(sz, sizeof sz, "%d", c->size);
  snprintf(cl, sizeof cl, "%d", c->classes);
  const char *meta[] = {"format", "cldiff-classifier", "channels", ch, "size", sz, "classes", cl, NULL};
  return cld_store_save(c->s, path, meta);
}

void cld_classifier_destroy(cld_classifier *c) {
  if (!c) return;
  cld_graph_destroy(c->eval.g);
  cld_store_destroy(c->s);
  free(c);
}

int cld_classifier_size(const cld_classifier *c) { return c ? c->size : 0; }
int cld_classifier_channels(const cld_classifier *c) { return c ? c->c : 0; }

cld_classifier_train_params cld_classifier_train_params_default(void) {
  cld_classifier_train_params p = {6, 128, 2e-3f, 1e-4f, 0, false};
  return p;
}

static cld_status check_data(cld_classifier *c, const cld_dataset *d, bool labels) {
  if (!d || d->n < 1) return cld_seterr(c->ctx, CLD_ERR_INVALID_ARG, "classifier: empty dataset");
  if (d->c != c->c || d->h != c->size || d->w != c->size)
    return cld_seterr(c->ctx, CLD_ERR_SHAPE, "classifier: %s is %dx%dx%d, the classifier takes %dx%dx%d", d->name, d->c, d->h, d->w,
                      c->c, c->size, c->size);
  if (labels && !d->labels) return cld_seterr(c->ctx, CLD_ERR_INVALID_ARG, "classifier: %s has no labels", d->name);
  if (labels)
    for (int64_t i = 0; i < d->n; i++)
      if (d->labels[i] < 0 || d->labels[i] >= c->classes)
        return cld_seterr(c->ctx, CLD_ERR_INVALID_ARG, "classifier: %s: label %d of image %lld is outside 0..%d", d->name,
                          d->labels[i], (long long)i, c->classes - 1);
  return CLD_OK;
}

cld_status cld_classifier_train(cld_classifier *c, const cld_dataset *d, const cld_classifier_train_params *p,
                                cld_classifier_progress progress, void *user) {
  if (!c || !p) return CLD_ERR_INVALID_ARG;
  cld_status st = check_data(c, d, true);
  if (st) return st;
  if (p->batch < 1 || p->batch > d->n || p->epochs < 1)
    return cld_seterr(c->ctx, CLD_ERR_INVALID_ARG, "classifier: batch %d / epochs %d out of range for %lld images", p->batch, p->epochs,
                      (long long)d->n);
  net_graph ng = {0};
  if ((st = build(c, &ng, p->batch, true))) return st;
  cld_graph_set_seed(ng.g, p->seed);
  cld_adamw_params ap = cld_adamw_params_default();
  ap.lr = p->lr;
  ap.weight_decay = p->weight_decay;
  ap.clip_norm = 0;
  cld_optim *opt = NULL;
  int64_t per = (int64_t)d->c * d->h * d->w, B = p->batch, steps_per_epoch = d->n / B, total = steps_per_epoch * p->epochs;
  float *xb = malloc((size_t)(B * per) * sizeof *xb), *oh = malloc((size_t)(B * c->classes) * sizeof *oh);
  float *uf = malloc((size_t)B * sizeof *uf);
  int64_t *perm = malloc((size_t)d->n * sizeof *perm);
  if (!xb || !oh || !uf || !perm) st = cld_seterr(c->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  if (!st) st = cld_optim_create(c->s, &ap, &opt);
  for (int64_t step = 0; step < total && !st; step++) {
    int64_t e = step / steps_per_epoch, k0 = (step % steps_per_epoch) * B;
    if (k0 == 0 && cld_rng_permutation_host(p->seed, 0x200u + (uint32_t)e, d->n, perm)) { /* new epoch */
      st = cld_seterr(c->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
      break;
    }
    cld_rng_uniform_host(p->seed, 0x201u, (uint64_t)step * (uint64_t)B, (size_t)B, uf);
    memset(oh, 0, (size_t)(B * c->classes) * sizeof *oh);
    for (int64_t b = 0; b < B; b++) {
      int64_t idx = perm[k0 + b];
      const float *src = d->x + idx * per;
      float *dst = xb + b * per;
      if (p->hflip && uf[b] < 0.5f) {
        for (int64_t r = 0; r < (int64_t)d->c * d->h; r++)
          for (int x = 0; x < d->w; x++) dst[r * d->w + x] = src[r * d->w + d->w - 1 - x];
      } else memcpy(dst, src, (size_t)per * sizeof *dst);
      oh[b * c->classes + d->labels[idx]] = 1.0f;
    }
    if ((st = cld_tensor_write(ng.g, ng.x, xb)) || (st = cld_tensor_write(ng.g, ng.onehot, oh))) break;
    cld_graph_set_run_counter(ng.g, (uint64_t)step);
    if ((st = cld_graph_compute(ng.g))) break;
    float lr = (float)(p->lr * 0.5 * (1.0 + cos(3.14159265358979 * (double)step / (double)total))); /* cosine decay */
    if ((st = cld_optim_step(opt, lr))) break;
    if (progress && (step % 20 == 0 || step == total - 1)) {
      float loss = 0;
      if ((st = cld_tensor_read(ng.g, ng.loss, &loss))) break;
      progress(user, step + 1, total, loss);
    }
  }
  cld_optim_destroy(opt);
  cld_graph_destroy(ng.g);
  free(xb); free(oh); free(uf); free(perm);
  return st;
}

/* runs the eval graph over n images; per batch, hands features and logits to the caller */
typedef void (*batch_fn)(void *user, int64_t b0, int nb, const float *feat, const float *logits, int classes);

static cld_status run_eval(cld_classifier *c, const float *x, int64_t n, batch_fn fn, void *user) {
  cld_status st = CLD_OK;
  if (!c->eval.g && (st = build(c, &c->eval, EVAL_BATCH, false))) return st;
  int64_t per = (int64_t)c->c * c->size * c->size, B = c->eval.B;
  float *xb = malloc((size_t)(B * per) * sizeof *xb), *f = malloc((size_t)B * CLD_CLASSIFIER_FEATURES * sizeof *f);
  float *lg = malloc((size_t)(B * c->classes) * sizeof *lg);
  if (!xb || !f || !lg) st = cld_seterr(c->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = (int)(n - b0 < B ? n - b0 : B);
    memcpy(xb, x + b0 * per, (size_t)(nb * per) * sizeof *xb);
    for (int64_t i = nb; i < B; i++) memcpy(xb + i * per, x + b0 * per, (size_t)per * sizeof *xb); /* padding */
    if ((st = cld_tensor_write(c->eval.g, c->eval.x, xb)) || (st = cld_graph_compute(c->eval.g)) ||
        (st = cld_tensor_read(c->eval.g, c->eval.feat, f)) || (st = cld_tensor_read(c->eval.g, c->eval.logits, lg)))
      break;
    fn(user, b0, nb, f, lg, c->classes);
  }
  free(xb); free(f); free(lg);
  return st;
}

static void copy_features(void *user, int64_t b0, int nb, const float *feat, const float *logits, int classes) {
  (void)logits; (void)classes;
  memcpy((float *)user + b0 * CLD_CLASSIFIER_FEATURES, feat, (size_t)nb * CLD_CLASSIFIER_FEATURES * sizeof(float));
}

cld_status cld_classifier_features(cld_classifier *c, const float *x, int64_t n, float *out) {
  if (!c || !x || !out || n < 1) return c ? cld_seterr(c->ctx, CLD_ERR_INVALID_ARG, "classifier: no images") : CLD_ERR_INVALID_ARG;
  return run_eval(c, x, n, copy_features, out);
}

uint64_t cld_classifier_fingerprint(cld_classifier *c) {
  if (!c) return 0;
  int shape[3] = {c->c, c->size, c->classes};
  uint64_t h = cld_hash64(shape, sizeof shape, 0);
  for (int i = 0; i < cld_store_count(c->s); i++) {
    int64_t n = cld_store_numel(c->s, i);
    float *w = malloc((size_t)n * sizeof *w);
    const char *name = cld_store_name(c->s, i);
    if (!w || cld_store_read(c->s, i, w)) { free(w); return 0; }
    h = cld_hash64(name, strlen(name) + 1, h);
    h = cld_hash64(w, (size_t)n * sizeof *w, h);
    free(w);
  }
  return h;
}

cld_status cld_classifier_features_cached(cld_classifier *c, const float *x, int64_t n, float *out, bool *hit) {
  if (hit) *hit = false;
  if (!c || !x || !out || n < 1) return c ? cld_seterr(c->ctx, CLD_ERR_INVALID_ARG, "classifier: no images") : CLD_ERR_INVALID_ARG;
  const cld_device_info *d = &c->ctx->info;
  size_t bytes = (size_t)n * CLD_CLASSIFIER_FEATURES * sizeof *out;
  uint64_t key = cld_classifier_fingerprint(c), fmt = 1;
  key = cld_hash64(&fmt, sizeof fmt, key);
  key = cld_hash64(&n, sizeof n, key);
  key = cld_hash64(x, (size_t)n * (size_t)c->c * (size_t)c->size * (size_t)c->size * sizeof *x, key);
  key = cld_hash64(d->platform, strlen(d->platform) + 1, key);
  key = cld_hash64(d->name, strlen(d->name) + 1, key);
  key = cld_hash64(d->driver, strlen(d->driver) + 1, key);
  size_t len = 0;
  float *cached = cld_cache_load(c->ctx, "features", key, &len);
  if (cached && len == bytes) {
    memcpy(out, cached, bytes);
    free(cached);
    if (hit) *hit = true;
    return CLD_OK;
  }
  free(cached);
  cld_status st = cld_classifier_features(c, x, n, out);
  if (!st) cld_cache_store(c->ctx, "features", key, out, bytes);
  return st;
}

typedef struct { const int *labels; int64_t correct; } acc_state;

static void count_correct(void *user, int64_t b0, int nb, const float *feat, const float *logits, int classes) {
  acc_state *a = user;
  (void)feat;
  for (int i = 0; i < nb; i++) {
    int best = 0;
    for (int k = 1; k < classes; k++)
      if (logits[i * classes + k] > logits[i * classes + best]) best = k;
    a->correct += best == a->labels[b0 + i];
  }
}

cld_status cld_classifier_accuracy(cld_classifier *c, const cld_dataset *d, double *acc) {
  if (!c || !acc) return CLD_ERR_INVALID_ARG;
  cld_status st = check_data(c, d, true);
  if (st) return st;
  acc_state a = {d->labels, 0};
  if ((st = run_eval(c, d->x, d->n, count_correct, &a))) return st;
  *acc = (double)a.correct / (double)d->n;
  return CLD_OK;
}
