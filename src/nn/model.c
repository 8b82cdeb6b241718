/* One handle over cldiff's models (UNet2DModel-compatible UNet, MLP denoiser for 2-D data):
 * creation from a preset or config.json, model directories (config.json + safetensors),
 * initialisation and the forward graph. The trainer, the samplers and the CLI use only this. */
#include "graph/graph_internal.h"
#include "nn/model_internal.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cld_status mlp_create(cld_ctx *ctx, const cld_mlp_config *c, cld_store *s, cld_model **out) {
  if (c->dim < 1 || c->hidden < 1 || c->layers < 1 || c->temb_dim < 2)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "mlp: dim, hidden, layers and temb_dim must be positive");
  cld_model *m = calloc(1, sizeof *m);
  if (!m) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  *m = (cld_model){ctx, CLD_MODEL_MLP, s, NULL, *c, 0};
  cld_status st = CLD_OK;
  cld_mlp_walk(m, NULL, NULL, NULL, &st);
  if (st) { free(m); return st; }
  *out = m;
  return CLD_OK;
}

static cld_status wrap_unet(cld_ctx *ctx, cld_unet *u, cld_store *s, cld_model **out) {
  cld_model *m = calloc(1, sizeof *m);
  if (!m) { cld_unet_destroy(u); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  *m = (cld_model){ctx, CLD_MODEL_UNET, s, u, {0}, cld_unet_param_count(u)};
  *out = m;
  return CLD_OK;
}

static cld_status mlp_parse(cld_ctx *ctx, cJSON *r, const char *what, cld_mlp_config *c) {
  *c = (cld_mlp_config){2, 256, 3, 64};
  const char *keys[4] = {"dim", "hidden", "layers", "temb_dim"};
  int *vals[4] = {&c->dim, &c->hidden, &c->layers, &c->temb_dim};
  for (int i = 0; i < 4; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, keys[i]);
    if (!v) continue;
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 65536)
      return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: \"%s\" must be a positive number", what, keys[i]);
    *vals[i] = (int)v->valuedouble;
  }
  return CLD_OK;
}

/* config text of either kind */
static cld_status from_config_text(cld_ctx *ctx, const char *text, const char *what, cld_store *s, cld_model **out) {
  cJSON *r = cJSON_Parse(text);
  if (!cJSON_IsObject(r)) { cJSON_Delete(r); return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: not a JSON object", what); }
  const cJSON *cls = cJSON_GetObjectItemCaseSensitive(r, "_class_name");
  cld_status st;
  if (cJSON_IsString(cls) && !strcmp(cls->valuestring, "MLPDenoiser")) {
    cld_mlp_config c;
    st = mlp_parse(ctx, r, what, &c);
    cJSON_Delete(r);
    return st ? st : mlp_create(ctx, &c, s, out);
  }
  cJSON_Delete(r);
  cld_unet_config c;
  char err[256];
  if ((st = cld_unet_config_parse(text, &c, err, sizeof err))) return cld_seterr(ctx, st, "%s: %s", what, err);
  cld_unet *u;
  if ((st = cld_unet_create(ctx, &c, s, &u))) return st;
  return wrap_unet(ctx, u, s, out);
}

cld_status cld_model_from_unet_config(cld_ctx *ctx, const cld_unet_config *c, cld_store *s, cld_model **out) {
  if (!ctx || !c || !s || !out) return CLD_ERR_INVALID_ARG;
  cld_unet *u;
  cld_status st = cld_unet_create(ctx, c, s, &u);
  return st ? st : wrap_unet(ctx, u, s, out);
}

cld_status cld_model_create(cld_ctx *ctx, const char *name, cld_store *s, cld_model **out) {
  if (!ctx || !name || !s || !out) return CLD_ERR_INVALID_ARG;
  if (!strcmp(name, "toy-mlp")) {
    cld_mlp_config c = {2, 256, 3, 64};
    return mlp_create(ctx, &c, s, out);
  }
  cld_unet_config uc;
  if (cld_unet_preset(name, &uc) == CLD_OK) {
    cld_unet *u;
    cld_status st = cld_unet_create(ctx, &uc, s, &u);
    return st ? st : wrap_unet(ctx, u, s, out);
  }
  char *text = cld_fs_read_text(name);
  if (!text && errno == ENOMEM) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", name);
  if (!text)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "model '%s' is neither a preset (fmnist-s, fmnist-xs, fmnist-xs-cond, "
                      "cifar10-ddpm, cifar10-ddpm-cond, tiny, toy-mlp) nor a readable config.json", name);
  cld_status st = from_config_text(ctx, text, name, s, out);
  free(text);
  return st;
}

cld_status cld_model_load(cld_ctx *ctx, const char *dir, cld_store *s, cld_model **out) {
  if (!ctx || !dir || !s || !out) return CLD_ERR_INVALID_ARG;
  char path[1200];
  snprintf(path, sizeof path, "%s/config.json", dir);
  char *text = cld_fs_read_text(path);
  if (!text) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
  cld_model *m;
  cld_status st = from_config_text(ctx, text, path, s, &m);
  free(text);
  if (st) return st;
  snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
  char bin[1200];
  snprintf(bin, sizeof bin, "%s/diffusion_pytorch_model.bin", dir);
  if (access(path, F_OK) != 0 && access(bin, F_OK) == 0) { /* refused on purpose: unpickling runs code from the file */
    cld_model_destroy(m);
    return cld_seterr(ctx, CLD_ERR_UNSUPPORTED, "%s: PyTorch pickle weights are refused on purpose (loading a pickle can run "
                      "code); convert them once with diffusers: UNet2DModel.from_pretrained(DIR).save_pretrained(DIR, "
                      "safe_serialization=True)", bin);
  }
  if ((st = cld_store_load(s, path, NULL))) { cld_model_destroy(m); return st; }
  *out = m;
  return CLD_OK;
}

char *cld_model_config_json(const cld_model *m) {
  if (!m) return NULL;
  if (m->kind == CLD_MODEL_UNET) return cld_unet_config_json(cld_unet_get_config(m->unet));
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "_class_name", "MLPDenoiser");
  cJSON_AddNumberToObject(r, "dim", m->mlp.dim);
  cJSON_AddNumberToObject(r, "hidden", m->mlp.hidden);
  cJSON_AddNumberToObject(r, "layers", m->mlp.layers);
  cJSON_AddNumberToObject(r, "temb_dim", m->mlp.temb_dim);
  char *s = cJSON_Print(r);
  cJSON_Delete(r);
  return s;
}

cld_status cld_model_save(cld_model *m, const char *dir) {
  if (!m || !dir) return CLD_ERR_INVALID_ARG;
  if (m->kind == CLD_MODEL_UNET) return cld_unet_save(m->unet, m->store, dir);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return cld_seterr(m->ctx, CLD_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
  char path[1200];
  snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
  cld_status st = cld_store_save(m->store, path, NULL);
  if (st) return st;
  char *json = cld_model_config_json(m);
  if (!json) return cld_seterr(m->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  snprintf(path, sizeof path, "%s/config.json", dir);
  st = cld_write_text_atomic(m->ctx, path, json);
  free(json);
  return st;
}

void cld_model_destroy(cld_model *m) {
  if (!m) return;
  cld_unet_destroy(m->unet);
  free(m);
}

cld_model_kind cld_model_get_kind(const cld_model *m) { return m ? m->kind : CLD_MODEL_UNET; }
cld_unet *cld_model_unet(cld_model *m) { return m ? m->unet : NULL; }
cld_store *cld_model_store(cld_model *m) { return m ? m->store : NULL; }
int cld_model_channels(const cld_model *m) {
  return !m ? 0 : m->kind == CLD_MODEL_UNET ? cld_unet_get_config(m->unet)->in_channels : m->mlp.dim;
}
int cld_model_out_channels(const cld_model *m) {
  return !m ? 0 : m->kind == CLD_MODEL_UNET ? cld_unet_get_config(m->unet)->out_channels : m->mlp.dim;
}
int cld_model_sample_size(const cld_model *m) {
  return !m ? 0 : m->kind == CLD_MODEL_UNET ? cld_unet_get_config(m->unet)->sample_size : 1;
}
int64_t cld_model_param_count(const cld_model *m) { return m ? m->n_params : 0; }

cld_status cld_model_init(cld_model *m, uint64_t seed) {
  if (!m) return CLD_ERR_INVALID_ARG;
  if (m->kind == CLD_MODEL_UNET) return cld_unet_init(m->unet, seed);
  /* PyTorch Linear defaults in distribution: U(-1/sqrt(fan_in), +) for weights and biases */
  cld_store *s = m->store;
  for (int id = 0; id < cld_store_count(s); id++) {
    int64_t shape[4], n = cld_store_numel(s, id);
    int nd = cld_store_shape(s, id, shape);
    int64_t fan_in = nd == 2 ? shape[1] : 0;
    if (nd == 1) { /* bias: the weight of the same layer */
      char wn[112];
      const char *name = cld_store_name(s, id), *dot = strrchr(name, '.');
      snprintf(wn, sizeof wn, "%.*s.weight", (int)(dot - name), name);
      int64_t ws[4];
      int wid = cld_store_find(s, wn);
      fan_in = wid >= 0 && cld_store_shape(s, wid, ws) == 2 ? ws[1] : 1;
    }
    float *v = malloc((size_t)n * sizeof *v), bound = 1.0f / sqrtf((float)(fan_in > 0 ? fan_in : 1));
    if (!v) return cld_seterr(m->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    cld_rng_uniform_host(seed, (uint32_t)id, 0, (size_t)n, v);
    for (int64_t i = 0; i < n; i++) v[i] = (2.0f * v[i] - 1.0f) * bound;
    cld_status st = cld_store_write(s, id, v);
    free(v);
    if (st) return st;
  }
  return CLD_OK;
}

cld_class_embed cld_model_class_kind(const cld_model *m) {
  return m && m->kind == CLD_MODEL_UNET ? cld_unet_get_config(m->unet)->class_embed : CLD_CLASS_NONE;
}
int cld_model_class_count(const cld_model *m) {
  return cld_model_class_kind(m) == CLD_CLASS_TABLE ? cld_unet_get_config(m->unet)->num_class_embeds : 0;
}

cld_tensor *cld_model_class_input(cld_model *m, cld_graph *g, int64_t n) {
  if (!m || !g) return NULL;
  switch (cld_model_class_kind(m)) {
  case CLD_CLASS_TABLE: return cld_input(g, "class_onehot", 2, (int64_t[]){n, cld_model_class_count(m)});
  case CLD_CLASS_TIMESTEP: return cld_input(g, "class_labels", 1, (int64_t[]){n});
  case CLD_CLASS_IDENTITY: return cld_input(g, "class_vectors", 2, (int64_t[]){n, 4 * cld_unet_get_config(m->unet)->block_out_channels[0]});
  default: return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "the model has no class conditioning");
  }
}

cld_status cld_model_class_write(cld_model *m, cld_graph *g, cld_tensor *cond, const int *labels, int64_t n) {
  if (!m || !g || !cond || !labels || n < 1) return CLD_ERR_INVALID_ARG;
  cld_class_embed kind = cld_model_class_kind(m);
  int K = cld_model_class_count(m);
  if (kind == CLD_CLASS_IDENTITY || kind == CLD_CLASS_NONE)
    return cld_seterr(m->ctx, CLD_ERR_INVALID_ARG, "%s", kind == CLD_CLASS_NONE ? "the model has no class conditioning"
                      : "class_embed_type \"identity\" takes embedding vectors, not class labels");
  for (int64_t i = 0; i < n; i++) {
    if (labels[i] < 0 || (kind == CLD_CLASS_TABLE && labels[i] >= K)) {
      if (kind == CLD_CLASS_TABLE)
        return cld_seterr(m->ctx, CLD_ERR_INVALID_ARG, "class label %d of sample %lld is out of range (the model's class table has rows 0..%d)",
                          labels[i], (long long)i, K - 1);
      return cld_seterr(m->ctx, CLD_ERR_INVALID_ARG, "class label %d of sample %lld is negative", labels[i], (long long)i);
    }
  }
  size_t width = kind == CLD_CLASS_TABLE ? (size_t)K : 1;
  float *buf = calloc((size_t)n * width, sizeof *buf);
  if (!buf) return cld_seterr(m->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int64_t i = 0; i < n; i++) {
    if (kind == CLD_CLASS_TABLE) buf[(size_t)i * width + (size_t)labels[i]] = 1.0f;
    else buf[i] = (float)labels[i];
  }
  cld_status st = cld_tensor_write(g, cond, buf);
  free(buf);
  return st;
}

cld_tensor *cld_model_forward(cld_model *m, cld_graph *g, cld_tensor *x, cld_tensor *t) {
  return cld_model_forward_cond(m, g, x, t, NULL);
}

cld_tensor *cld_model_forward_cond(cld_model *m, cld_graph *g, cld_tensor *x, cld_tensor *t, cld_tensor *cond) {
  if (!m || !g || !x || !t) return NULL;
  if (m->kind == CLD_MODEL_UNET) return cld_unet_forward_cond(m->unet, g, x, t, cond);
  if (cond) return cld_graph_fail(g, CLD_ERR_INVALID_ARG, "mlp: the MLP denoiser has no class conditioning");
  if (cld_tensor_ndim(x) != 4 || cld_tensor_dim(x, 1) != m->mlp.dim || cld_tensor_dim(x, 2) != 1 || cld_tensor_dim(x, 3) != 1)
    return cld_graph_fail(g, CLD_ERR_SHAPE, "mlp: x must be (N, %d, 1, 1)", m->mlp.dim);
  cld_status st = CLD_OK;
  cld_tensor *y = cld_mlp_walk(m, g, x, t, &st);
  if (st && !cld_graph_status(g)) cld_graph_fail(g, st, "%s", cld_ctx_errmsg(m->ctx));
  return st ? NULL : y;
}
