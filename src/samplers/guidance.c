/* Sampling a class-conditional model, with classifier-free guidance (Ho & Salimans): the model as
 * a cld_denoiser_fn that adds the class input, and for a guidance weight W != 1 runs the batch
 * twice in one forward (rows 0..B-1 with the images' classes, rows B..2B-1 with the null class)
 * and returns out_u + W (out_c - out_u). The samplers never know: they see one denoiser, so
 * every sampler and Time-Shift take guidance. Images are sampled in chunks of one batch, each
 * chunk's classes set before its loop; image i still depends only on (seed, i) and its class.
 * cld_sample, the public entry over a model, lives here: it hands a conditional model to
 * cld_sample_cond and any other to the plain denoiser (sampler.c), so calls go one way. */
#include "samplers/sampler.h"
#include "runtime/runtime.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  cld_graph *g;
  cld_tensor *x, *t, *cond, *y;
  cld_model *mod;
  int B;              /* images per call; the graph runs 2B rows when guided */
  bool guided;
  float W;
  size_t per, oper;   /* floats per image in and out */
  int C;              /* image channels (the guided half of a learned-variance output) */
  int *labels;        /* (2B) the rows' classes: the chunk's, then the null class */
  float *xb, *tb, *yb; /* (R = B, or 2B when guided) staging: the padded, doubled rows */
} cond_denoiser;

static void cond_free(cond_denoiser *d) {
  cld_graph_destroy(d->g);
  free(d->labels);
  free(d->xb);
  free(d->tb);
  free(d->yb);
}

static cld_status cond_init(cld_ctx *ctx, cld_model *mod, int B, int h, int w, const cld_sample_params *p, cond_denoiser *d) {
  memset(d, 0, sizeof *d);
  d->mod = mod;
  d->B = B;
  d->W = p->guidance;
  d->guided = p->guidance != 1.0f;
  d->C = cld_model_channels(mod);
  d->per = (size_t)d->C * h * w;
  d->oper = (size_t)cld_model_out_channels(mod) * h * w;
  int R = d->guided ? 2 * B : B;
  d->labels = malloc((size_t)R * sizeof *d->labels);
  d->xb = malloc((size_t)R * d->per * sizeof(float));
  d->tb = malloc((size_t)R * sizeof(float));
  d->yb = malloc((size_t)R * d->oper * sizeof(float));
  if (!(d->g = cld_graph_create(ctx)) || !d->labels || !d->xb || !d->tb || !d->yb)
    return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int i = B; i < R; i++) d->labels[i] = p->null_class;
  d->x = cld_input_4d(d->g, "x", R, d->C, h, w);
  d->t = cld_input(d->g, "t", 1, (int64_t[]){R});
  d->cond = cld_model_class_input(mod, d->g, R);
  cld_graph_set_training(d->g, false); /* before the build: forward-only kernels (fused attention) */
  d->y = cld_model_forward_cond(mod, d->g, d->x, d->t, d->cond);
  if (!d->y) return cld_seterr(ctx, cld_graph_status(d->g) ? cld_graph_status(d->g) : CLD_ERR_STATE, "sample: %s", cld_graph_errmsg(d->g));
  cld_graph_keep(d->g, d->y);
  return cld_graph_plan(d->g, NULL);
}

/* the cld_denoiser_fn: out = the conditional output, or out_u + W (out_c - out_u) */
static cld_status cond_denoise(void *user, const float *x, const float *t, int batch, float *out) {
  cond_denoiser *d = user;
  int B = d->B, R = d->guided ? 2 * B : B;
  if (batch < 1 || batch > B) return CLD_ERR_INVALID_ARG;
  /* rows: the batch, padded to B with its first image (a sampler's last, partial batch), then
   * the same again for the null class when guided */
  for (int r = 0; r < R; r++) {
    int i = r % B < batch ? r % B : 0;
    memcpy(d->xb + (size_t)r * d->per, x + (size_t)i * d->per, d->per * sizeof(float));
    d->tb[r] = t[i];
  }
  cld_status st;
  if ((st = cld_tensor_write(d->g, d->x, d->xb)) || (st = cld_tensor_write(d->g, d->t, d->tb)) ||
      (st = cld_model_class_write(d->mod, d->g, d->cond, d->labels, R)) || (st = cld_graph_compute(d->g)) ||
      (st = cld_tensor_read(d->g, d->y, d->yb)))
    return st;
  if (!d->guided) {
    memcpy(out, d->yb, (size_t)batch * d->oper * sizeof(float));
    return CLD_OK;
  }
  /* a learned-variance output guides its first C channels and keeps the conditional variance */
  size_t guided = d->oper == 2 * d->per ? d->per : d->oper;
  for (int i = 0; i < batch; i++) {
    const float *c = d->yb + (size_t)i * d->oper, *u = d->yb + (size_t)(B + i) * d->oper;
    float *o = out + (size_t)i * d->oper;
    for (size_t k = 0; k < guided; k++) o[k] = u[k] + d->W * (c[k] - u[k]);
    for (size_t k = guided; k < d->oper; k++) o[k] = c[k];
  }
  return CLD_OK;
}

/* why the conditioning asked for cannot be done, or NULL */
static const char *cond_check(const cld_model *mod, const cld_sample_params *p) {
  cld_class_embed kind = cld_model_class_kind(mod);
  if (kind == CLD_CLASS_NONE)
    return p->classes ? "class labels (--class) given for a model without class conditioning"
                      : "guidance (--guidance) needs a class-conditional model";
  if (kind == CLD_CLASS_IDENTITY) return "class_embed_type \"identity\" takes embedding vectors, not class labels";
  if (p->classes && p->n_classes < 1) return "classes given with n_classes < 1";
  if (!p->classes && p->null_class < 0)
    return "the model is class-conditional and was not trained with label dropout (no null class): give a class (--class K|all)";
  if (p->guidance != 1.0f && p->null_class < 0)
    return "guidance (--guidance) needs the unconditional model: a model trained with label dropout (--cond-drop), whose null class is known";
  if (!(p->guidance == p->guidance) || p->guidance < 0 || p->guidance > 1000) return "guidance (--guidance) must be in [0, 1000]";
  if (p->trajectory) return "trajectories are not recorded for class-conditional sampling";
  return NULL;
}

typedef struct { cld_sample_progress fn; void *user; int64_t off, n; } chunk_progress;
static void on_chunk_progress(void *user, int step, int total, int64_t done, int64_t images) {
  chunk_progress *c = user;
  (void)images;
  if (c->fn) c->fn(c->user, step, total, c->off + done, c->n);
}

cld_status cld_sample_cond(cld_ctx *ctx, cld_model *mod, const cld_sample_params *p, int64_t first, int64_t n, int h, int w,
                           float *out, cld_sample_progress progress, void *user) {
  const char *why = cond_check(mod, p);
  if (why) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: %s", why);
  if (n < 1 || !out) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: n must be >= 1");
  int B = (int)(p->batch < n ? p->batch : n);
  cond_denoiser d;
  cld_status st = cond_init(ctx, mod, B, h, w, p, &d);
  cld_sample_params q = *p;
  q.batch = B;
  q.learned_sigma = cld_model_out_channels(mod) == 2 * cld_model_channels(mod);
  for (int64_t b0 = 0; b0 < n && !st; b0 += B) {
    int nb = (int)(n - b0 < B ? n - b0 : B);
    for (int i = 0; i < B; i++) { /* padding rows take the chunk's first image's class */
      int64_t img = first + b0 + (i < nb ? i : 0);
      d.labels[i] = p->classes ? p->classes[img % p->n_classes] : p->null_class;
    }
    if (p->x_init) q.x_init = p->x_init + (size_t)b0 * d.per;
    chunk_progress cp = {progress, user, b0, n};
    st = cld_sample_with(ctx, cond_denoise, &d, d.C, h, w, &q, first + b0, nb, out + (size_t)b0 * d.per,
                         progress ? on_chunk_progress : NULL, &cp);
  }
  cond_free(&d);
  return st;
}

cld_status cld_sample(cld_ctx *ctx, cld_model *mod, const cld_sample_params *p, int64_t first, int64_t n, int h, int w,
                      float *out, cld_sample_progress progress, void *user) {
  if (!ctx || !mod || !p || p->batch < 1) return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: bad arguments") : CLD_ERR_INVALID_ARG;
  if (cld_model_class_kind(mod) != CLD_CLASS_NONE || p->classes || p->guidance != 1.0f)
    return cld_sample_cond(ctx, mod, p, first, n, h, w, out, progress, user);
  int channels = cld_model_channels(mod);
  int B = (int)(p->batch < n ? p->batch : n);
  if (B < 1) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "sample: n must be >= 1");
  cld_model_denoiser m;
  cld_status st = cld_model_denoiser_init(ctx, mod, B, h, w, &m);
  cld_sample_params q = *p;
  q.batch = B;
  q.learned_sigma = cld_model_out_channels(mod) == 2 * channels;
  if (!st) st = cld_sample_with(ctx, cld_model_denoise, &m, channels, h, w, &q, first, n, out, progress, user);
  cld_graph_destroy(m.g);
  return st;
}
