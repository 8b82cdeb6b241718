/* UNet equivalent to diffusers' UNet2DModel (unets/unet_2d.py with resnet.py, attention
 * processor AttnProcessor, Downsample2D/Upsample2D, Timesteps/TimestepEmbedding), with the
 * same parameter names. One walker describes the architecture; it either registers parameters
 * in a store (graph NULL: every op returns NULL harmlessly) or builds the forward graph, so the
 * parameter list and the forward pass cannot disagree. Config parsing lives in unet_config.c. */
#include "graph/graph_internal.h"
#include "cldiff/models.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cld_unet {
  cld_ctx *ctx;
  cld_unet_config cfg;
  cld_store *store;
  int64_t n_params;
};

typedef struct {
  cld_unet *u;
  cld_graph *g; /* NULL: register parameters */
  cld_status st;
  int64_t batch;
  int first_param, n_registered;
} walker;

/* A parameter by name: registered (with its shape) or fetched. */
static cld_tensor *P(walker *w, int nd, const int64_t *shape, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static cld_tensor *P(walker *w, int nd, const int64_t *shape, const char *fmt, ...) {
  if (w->st) return NULL;
  char name[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  if (!w->g) {
    int id = cld_store_add(w->u->store, name, nd, shape);
    if (id < 0) w->st = id;
    else {
      w->n_registered++;
      int64_t n = 1;
      for (int i = 0; i < nd; i++) n *= shape[i];
      w->u->n_params += n;
    }
    return NULL;
  }
  int id = cld_store_find(w->u->store, name);
  if (id < 0) {
    w->st = cld_seterr(w->u->ctx, CLD_ERR_STATE, "unet: parameter '%s' is not in the store", name);
    return NULL;
  }
  return cld_param(w->g, w->u->store, id);
}

/* a convolution's weight (cout, cin, k, k) and bias (cout) */
static void conv_params(walker *w, const char *pre, int cin, int cout, int k, cld_tensor **wt, cld_tensor **bt) {
  int64_t ws[4] = {cout, cin, k, k}, bs[1] = {cout};
  *wt = P(w, 4, ws, "%s.weight", pre);
  *bt = P(w, 1, bs, "%s.bias", pre);
}

static cld_tensor *conv(walker *w, const char *pre, cld_tensor *x, int cin, int cout, int k, int stride, int pad) {
  cld_tensor *wt, *bt;
  conv_params(w, pre, cin, cout, k, &wt, &bt);
  return cld_conv2d(w->g, x, wt, bt, stride, pad);
}

static cld_tensor *linear(walker *w, const char *pre, cld_tensor *x, int cin, int cout) {
  int64_t ws[2] = {cout, cin}, bs[1] = {cout};
  cld_tensor *wt = P(w, 2, ws, "%s.weight", pre), *bt = P(w, 1, bs, "%s.bias", pre);
  return cld_linear(w->g, x, wt, bt);
}

/* a (ch -> ch) linear layer applied channels-first: W (ch, ch) times x (B, ch, L), plus bias;
 * scale != 1 multiplies the weight and bias (ch x ch values) instead of the (B, ch, L) output */
static cld_tensor *linear_cf(walker *w, const char *pre, cld_tensor *x, int ch, float scale) {
  int64_t ws[2] = {ch, ch}, bs[1] = {ch}, sb[2] = {ch, 1};
  cld_tensor *wt = P(w, 2, ws, "%s.weight", pre), *bt = P(w, 1, bs, "%s.bias", pre);
  if (scale != 1.0f) {
    wt = cld_scale(w->g, wt, scale);
    bt = cld_scale(w->g, bt, scale);
  }
  return cld_add(w->g, cld_matmul(w->g, wt, x, false, false), cld_reshape(w->g, bt, 2, sb));
}

/* GroupNorm, with the SiLU that follows it fused in when silu */
static cld_tensor *gnorm(walker *w, const char *pre, cld_tensor *x, int c, bool silu) {
  int64_t s[1] = {c};
  cld_tensor *gw = P(w, 1, s, "%s.weight", pre), *gb = P(w, 1, s, "%s.bias", pre);
  return (silu ? cld_group_norm_silu : cld_group_norm)(w->g, x, w->u->cfg.norm_num_groups, w->u->cfg.norm_eps, gw, gb);
}

/* ResnetBlock2D: out = (shortcut(x) + conv2(drop(act(norm2(conv1(act(norm1 x)) + temb))))) / scale */
static cld_tensor *resnet(walker *w, const char *pre, cld_tensor *x, cld_tensor *temb, int cin, int cout, float out_scale) {
  const cld_unet_config *c = &w->u->cfg;
  char n[96];
  cld_graph *g = w->g;
  snprintf(n, sizeof n, "%s.norm1", pre);
  cld_tensor *h = gnorm(w, n, x, cin, true);
  int temb_ch = c->block_out_channels[0] * 4, tch = c->scale_shift ? 2 * cout : cout;
  char tn[96];
  snprintf(tn, sizeof tn, "%s.time_emb_proj", pre);
  snprintf(n, sizeof n, "%s.conv1", pre);
  if (!c->scale_shift) {
    /* conv1's bias and the time embedding as one bias per (image, channel): the convolution
     * adds it while writing its output, instead of a separate pass over h (parameters are
     * still created in diffusers' order: conv1, then time_emb_proj) */
    int64_t b2[2] = {1, cout};
    cld_tensor *wt, *bt;
    conv_params(w, n, cin, cout, 3, &wt, &bt);
    cld_tensor *tp = linear(w, tn, cld_silu(g, temb), temb_ch, tch); /* (B, cout) */
    h = cld_conv2d(g, h, wt, cld_add(g, tp, cld_reshape(g, bt, 2, b2)), 1, 1);
    snprintf(n, sizeof n, "%s.norm2", pre);
    h = gnorm(w, n, h, cout, true);
  } else {
    h = conv(w, n, h, cin, cout, 3, 1, 1);
    cld_tensor *tp = linear(w, tn, cld_silu(g, temb), temb_ch, tch); /* (B, 2 cout) */
    snprintf(n, sizeof n, "%s.norm2", pre);
    int64_t s4[4] = {w->batch, cout, 1, 1};
    cld_tensor *scale = cld_reshape(g, cld_slice(g, tp, 1, 0, cout), 4, s4);
    cld_tensor *shift = cld_reshape(g, cld_slice(g, tp, 1, cout, cout), 4, s4);
    h = gnorm(w, n, h, cout, false);
    h = cld_silu(g, cld_add(g, cld_mul(g, h, cld_add_scalar(g, scale, 1.0f)), shift));
  }
  if (c->dropout > 0) h = cld_dropout(g, h, c->dropout);
  /* the shortcut added by conv2 itself (Winograd adds it while writing its output); parameters
   * still in diffusers' order: conv2, then conv_shortcut */
  snprintf(n, sizeof n, "%s.conv2", pre);
  cld_tensor *wt, *bt, *sc = x;
  conv_params(w, n, cout, cout, 3, &wt, &bt);
  if (cin != cout) {
    snprintf(n, sizeof n, "%s.conv_shortcut", pre);
    sc = conv(w, n, x, cin, cout, 1, 1, 0);
  }
  cld_tensor *out = cld_conv2d_residual(g, h, wt, bt, 1, 1, sc);
  return out_scale != 1.0f ? cld_scale(g, out, 1.0f / out_scale) : out;
}

/* Attention over pixels (diffusers Attention with group_norm, residual, rescale) */
static cld_tensor *attention(walker *w, const char *pre, cld_tensor *x, int ch, bool group_norm, float rescale) {
  const cld_unet_config *c = &w->u->cfg;
  cld_graph *g = w->g;
  char n[96];
  int heads = c->attention_head_dim > 0 ? ch / c->attention_head_dim : 1;
  if (heads < 1 || ch % heads) {
    w->st = cld_seterr(w->u->ctx, CLD_ERR_INVALID_ARG, "unet: %d channels do not split into heads of %d", ch, c->attention_head_dim);
    return NULL;
  }
  int d = ch / heads;
  int64_t B = w->batch, H = x ? cld_tensor_dim(x, 2) : 1, W = x ? cld_tensor_dim(x, 3) : 1, L = H * W;
  cld_tensor *h = x;
  if (group_norm) {
    snprintf(n, sizeof n, "%s.group_norm", pre);
    h = gnorm(w, n, x, ch, false);
  }
  /* Channels-first throughout, so that no token-major copy is made: each projection is
   * W (ch, ch) times h (B, ch, L), giving q^T, k^T, v^T (B*heads, d, L) by a reshape (channel
   * head*d + j is head h's j); scores q k^T = (q^T)^T k^T, o^T = v^T att^T, out = W_o o^T. */
  int64_t s3[3] = {B, ch, L}, sh[3] = {B * heads, d, L};
  cld_tensor *hc = cld_reshape(g, h, 3, s3);
  cld_tensor *qkv[3];
  static const char *names[3] = {"to_q", "to_k", "to_v"};
  for (int i = 0; i < 3; i++) {
    snprintf(n, sizeof n, "%s.%s", pre, names[i]);
    /* the scores' 1/sqrt(d) folded into q's projection: a scale of 2 ch^2 values instead of
     * a pass over the (B*heads, L, L) scores */
    qkv[i] = cld_reshape(g, linear_cf(w, n, hc, ch, i == 0 ? 1.0f / sqrtf((float)d) : 1.0f), 3, sh);
  }
  cld_tensor *o = cld_reshape(g, cld_attention(g, qkv[0], qkv[1], qkv[2]), 3, s3); /* o^T (B, ch, L) */
  int64_t s4[4] = {B, ch, H, W};
  snprintf(n, sizeof n, "%s.to_out.0", pre);
  o = cld_reshape(g, linear_cf(w, n, o, ch, 1.0f), 4, s4);
  o = cld_add(g, o, x);
  return rescale != 1.0f ? cld_scale(g, o, 1.0f / rescale) : o;
}

static cld_tensor *downsample(walker *w, const char *pre, cld_tensor *x, int ch) {
  char n[128];
  snprintf(n, sizeof n, "%s.conv", pre);
  int pad = w->u->cfg.downsample_padding;
  if (pad == 0) /* diffusers pads (0, 1, 0, 1) and convolves without padding */
    x = cld_pad_axis(w->g, cld_pad_axis(w->g, x, 2, 0, 1), 3, 0, 1);
  return conv(w, n, x, ch, ch, 3, 2, pad);
}

/* the class embedding added to the time embedding (diffusers: emb = emb + class_embedding(labels));
 * a table lookup is the one-hot rows (B, K) times the table (K, temb), exact in float */
static cld_tensor *class_embedding(walker *w, cld_tensor *temb, cld_tensor *cond) {
  const cld_unet_config *c = &w->u->cfg;
  cld_graph *g = w->g;
  int c0 = c->block_out_channels[0], temb_ch = 4 * c0;
  cld_tensor *e = NULL;
  if (c->class_embed == CLD_CLASS_TABLE) {
    int64_t s[2] = {c->num_class_embeds, temb_ch};
    e = cld_matmul(g, cond, P(w, 2, s, "class_embedding.weight"), false, false);
  } else if (c->class_embed == CLD_CLASS_TIMESTEP) {
    e = cld_timestep_embedding(g, cond, c0, c->flip_sin_to_cos, c->freq_shift, 10000.0f);
    e = linear(w, "class_embedding.linear_1", e, c0, temb_ch);
    e = linear(w, "class_embedding.linear_2", cld_silu(g, e), temb_ch, temb_ch);
  } else {
    e = cond; /* IDENTITY */
  }
  return cld_add(g, temb, e);
}

/* the whole architecture */
static cld_tensor *walk(walker *w, cld_tensor *x, cld_tensor *tsteps, cld_tensor *cond) {
  const cld_unet_config *c = &w->u->cfg;
  cld_graph *g = w->g;
  char n[96];
  int L = c->n_levels, c0 = c->block_out_channels[0], temb_ch = 4 * c0;
  if (c->center_input_sample) x = cld_add_scalar(g, cld_scale(g, x, 2.0f), -1.0f);
  cld_tensor *temb = cld_timestep_embedding(g, tsteps, c0, c->flip_sin_to_cos, c->freq_shift, 10000.0f);
  temb = linear(w, "time_embedding.linear_1", temb, c0, temb_ch);
  temb = linear(w, "time_embedding.linear_2", cld_silu(g, temb), temb_ch, temb_ch);
  if (c->class_embed != CLD_CLASS_NONE) temb = class_embedding(w, temb, cond);
  cld_tensor *h = conv(w, "conv_in", x, c->in_channels, c0, 3, 1, 1);
  cld_tensor *skips[64];
  int skip_ch[64], ns = 0;
  skips[ns] = h;
  skip_ch[ns++] = c0;
  int out_ch = c0;
  for (int i = 0; i < L; i++) {
    int in_ch = out_ch;
    out_ch = c->block_out_channels[i];
    for (int l = 0; l < c->layers_per_block; l++) {
      snprintf(n, sizeof n, "down_blocks.%d.resnets.%d", i, l);
      h = resnet(w, n, h, temb, l == 0 ? in_ch : out_ch, out_ch, 1.0f);
      if (c->down_attn[i]) {
        snprintf(n, sizeof n, "down_blocks.%d.attentions.%d", i, l);
        h = attention(w, n, h, out_ch, true, 1.0f);
      }
      if (ns < 64) { skips[ns] = h; skip_ch[ns++] = out_ch; }
    }
    if (i < L - 1) {
      snprintf(n, sizeof n, "down_blocks.%d.downsamplers.0", i);
      h = downsample(w, n, h, out_ch);
      if (ns < 64) { skips[ns] = h; skip_ch[ns++] = out_ch; }
    }
  }
  int cl = c->block_out_channels[L - 1];
  h = resnet(w, "mid_block.resnets.0", h, temb, cl, cl, c->mid_block_scale_factor);
  if (c->add_attention) h = attention(w, "mid_block.attentions.0", h, cl, !c->scale_shift, c->mid_block_scale_factor);
  h = resnet(w, "mid_block.resnets.1", h, temb, cl, cl, c->mid_block_scale_factor);
  out_ch = c->block_out_channels[L - 1];
  for (int i = 0; i < L; i++) {
    int prev_out = out_ch;
    out_ch = c->block_out_channels[L - 1 - i];
    int in_ch = c->block_out_channels[L - 1 - (i + 1 < L ? i + 1 : L - 1)];
    int nl = c->layers_per_block + 1;
    for (int l = 0; l < nl; l++) {
      int res_in = l == 0 ? prev_out : out_ch, skip_c = l == nl - 1 ? in_ch : out_ch;
      if (ns <= 0) { w->st = cld_seterr(w->u->ctx, CLD_ERR_STATE, "unet: skip stack underflow"); return NULL; }
      ns--;
      if (skip_ch[ns] != skip_c) {
        w->st = cld_seterr(w->u->ctx, CLD_ERR_STATE, "unet: skip of %d channels where %d expected", skip_ch[ns], skip_c);
        return NULL;
      }
      h = cld_concat(g, h, skips[ns], 1);
      snprintf(n, sizeof n, "up_blocks.%d.resnets.%d", i, l);
      h = resnet(w, n, h, temb, res_in + skip_c, out_ch, 1.0f);
      if (c->up_attn[i]) {
        snprintf(n, sizeof n, "up_blocks.%d.attentions.%d", i, l);
        h = attention(w, n, h, out_ch, true, 1.0f);
      }
    }
    if (i < L - 1) {
      snprintf(n, sizeof n, "up_blocks.%d.upsamplers.0.conv", i);
      h = conv(w, n, cld_upsample_nearest2x(g, h), out_ch, out_ch, 3, 1, 1);
    }
  }
  h = gnorm(w, "conv_norm_out", h, c0, true);
  return conv(w, "conv_out", h, c0, c->out_channels, 3, 1, 1);
}

cld_status cld_unet_create(cld_ctx *ctx, const cld_unet_config *c, cld_store *store, cld_unet **out) {
  if (!ctx || !c || !store || !out) return CLD_ERR_INVALID_ARG;
  if (c->n_levels < 1 || c->n_levels > CLD_UNET_MAX_LEVELS || c->layers_per_block < 1 || c->norm_num_groups < 1 ||
      c->in_channels < 1 || c->out_channels < 1)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "unet: config has no levels, layers, groups or channels");
  if ((unsigned)c->class_embed > CLD_CLASS_IDENTITY || (c->class_embed == CLD_CLASS_TABLE && c->num_class_embeds < 1))
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "unet: a class table needs num_class_embeds >= 1");
  for (int i = 0; i < c->n_levels; i++)
    if (c->block_out_channels[i] % c->norm_num_groups)
      return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "unet: block_out_channels[%d] = %d is not divisible by norm_num_groups %d", i,
                        c->block_out_channels[i], c->norm_num_groups);
  cld_unet *u = calloc(1, sizeof *u);
  if (!u) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  u->ctx = ctx;
  u->cfg = *c;
  u->store = store;
  walker w = {u, NULL, CLD_OK, 1, cld_store_count(store), 0};
  walk(&w, NULL, NULL, NULL);
  if (w.st) { free(u); return w.st; }
  *out = u;
  return CLD_OK;
}

void cld_unet_destroy(cld_unet *u) { free(u); }
const cld_unet_config *cld_unet_get_config(const cld_unet *u) { return u ? &u->cfg : NULL; }
int64_t cld_unet_param_count(const cld_unet *u) { return u ? u->n_params : 0; }

cld_tensor *cld_unet_forward(cld_unet *u, cld_graph *g, cld_tensor *x, cld_tensor *t) {
  return cld_unet_forward_cond(u, g, x, t, NULL);
}

/* whether cond fits this model and batch: none, or (N, K) one-hot, (N) labels, (N, temb) vectors;
 * a misfit marks the graph failed */
static bool cond_fits(cld_unet *u, cld_graph *g, cld_tensor *cond, int64_t N) {
  const cld_unet_config *c = &u->cfg;
  if (c->class_embed == CLD_CLASS_NONE && cond)
    return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "unet: class labels given to a model without class conditioning") != NULL;
  if (c->class_embed == CLD_CLASS_NONE) return true;
  if (!cond)
    return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "unet: the model is class-conditional (%s) and needs class labels",
                          c->class_embed == CLD_CLASS_TABLE ? "num_class_embeds" : c->class_embed == CLD_CLASS_TIMESTEP
                                                                                      ? "class_embed_type \"timestep\""
                                                                                      : "class_embed_type \"identity\"") != NULL;
  int64_t width = c->class_embed == CLD_CLASS_TABLE ? c->num_class_embeds : 4 * c->block_out_channels[0];
  bool ok = c->class_embed == CLD_CLASS_TIMESTEP
                ? cld_tensor_ndim(cond) == 1 && cld_tensor_dim(cond, 0) == N
                : cld_tensor_ndim(cond) == 2 && cld_tensor_dim(cond, 0) == N && cld_tensor_dim(cond, 1) == width;
  if (!ok && c->class_embed == CLD_CLASS_TIMESTEP)
    cld_graph_fail(g, CLD_ERR_SHAPE, "unet: the class input must be (%lld) labels", (long long)N);
  else if (!ok)
    cld_graph_fail(g, CLD_ERR_SHAPE, "unet: the class input must be (%lld, %lld)", (long long)N, (long long)width);
  return ok;
}

cld_tensor *cld_unet_forward_cond(cld_unet *u, cld_graph *g, cld_tensor *x, cld_tensor *t, cld_tensor *cond) {
  if (!u || !g || !x || !t || cld_graph_status(g)) return NULL;
  if (cld_tensor_ndim(x) != 4 || cld_tensor_dim(x, 1) != u->cfg.in_channels || cld_tensor_ndim(t) != 1 ||
      cld_tensor_dim(t, 0) != cld_tensor_dim(x, 0))
    return cld_graph_fail(g, CLD_ERR_SHAPE, "unet: x must be (N, %d, H, W) and t (N)", u->cfg.in_channels);
  int64_t H = cld_tensor_dim(x, 2), W = cld_tensor_dim(x, 3), f = 1 << (u->cfg.n_levels - 1);
  if (H % f || W % f)
    return cld_graph_fail(g, CLD_ERR_SHAPE, "unet: %lldx%lld input is not divisible by %lld (%d levels)", (long long)H,
                          (long long)W, (long long)f, u->cfg.n_levels);
  if (!cond_fits(u, g, cond, cld_tensor_dim(x, 0))) return NULL;
  walker w = {u, g, CLD_OK, cld_tensor_dim(x, 0), 0, 0};
  cld_tensor *y = walk(&w, x, t, cond);
  if (w.st && !cld_graph_status(g)) cld_graph_fail(g, w.st, "%s", cld_ctx_errmsg(u->ctx));
  return w.st ? NULL : y;
}

/* PyTorch's default init in distribution: conv/linear weight U(-1/sqrt(fan_in), +), bias the
 * same bound; GroupNorm weight 1, bias 0 (the names end in norm*.weight/bias). */
cld_status cld_unet_init(cld_unet *u, uint64_t seed) {
  if (!u) return CLD_ERR_INVALID_ARG;
  cld_store *s = u->store;
  cld_status st = CLD_OK;
  for (int id = 0; id < cld_store_count(s) && !st; id++) {
    const char *name = cld_store_name(s, id);
    int64_t shape[4], n = cld_store_numel(s, id);
    int nd = cld_store_shape(s, id, shape);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return cld_seterr(u->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    bool is_norm = strstr(name, "norm") != NULL;
    const char *last = strrchr(name, '.');
    bool is_bias = last && !strcmp(last, ".bias");
    if (is_norm) {
      for (int64_t i = 0; i < n; i++) v[i] = is_bias ? 0.0f : 1.0f;
    } else {
      int64_t fan_in = 1;
      if (is_bias) {
        /* the matching weight's fan-in */
        char wname[112];
        snprintf(wname, sizeof wname, "%.*s.weight", (int)(last - name), name);
        int wid = cld_store_find(s, wname);
        int64_t ws[4];
        int wnd = wid >= 0 ? cld_store_shape(s, wid, ws) : 0;
        for (int i = 1; i < wnd; i++) fan_in *= ws[i];
      } else {
        for (int i = 1; i < nd; i++) fan_in *= shape[i];
      }
      float bound = 1.0f / sqrtf((float)fan_in);
      cld_rng_uniform_host(seed, (uint32_t)id, 0, (size_t)n, v);
      for (int64_t i = 0; i < n; i++) v[i] = (2.0f * v[i] - 1.0f) * bound;
    }
    st = cld_store_write(s, id, v);
    free(v);
  }
  return st;
}
