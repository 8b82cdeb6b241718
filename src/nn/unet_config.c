/* UNet2DModel configuration: diffusers config.json keys in and out, and cldiff's presets.
 * Values cldiff does not implement fail with the key named, never silently. */
#include "cldiff/cldiff.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

static void defaults(cld_unet_config *c) {
  memset(c, 0, sizeof *c);
  /* diffusers UNet2DModel.__init__ defaults */
  c->in_channels = 3;
  c->out_channels = 3;
  c->flip_sin_to_cos = true;
  c->freq_shift = 0;
  c->n_levels = 4;
  static const int boc[4] = {224, 448, 672, 896};
  for (int i = 0; i < 4; i++) c->block_out_channels[i] = boc[i];
  c->down_attn[1] = c->down_attn[2] = c->down_attn[3] = true;
  c->up_attn[0] = c->up_attn[1] = c->up_attn[2] = true;
  c->layers_per_block = 2;
  c->mid_block_scale_factor = 1;
  c->downsample_padding = 1;
  c->attention_head_dim = 8;
  c->norm_num_groups = 32;
  c->norm_eps = 1e-5f;
  c->add_attention = true;
}

cld_status cld_unet_preset(const char *name, cld_unet_config *c) {
  if (!name || !c) return CLD_ERR_INVALID_ARG;
  /* "-cond": the preset with a class table of 10 classes + the null class of label dropout */
  size_t nl = strlen(name);
  if (nl > 5 && !strcmp(name + nl - 5, "-cond")) {
    char base[64];
    if (nl - 5 >= sizeof base) return CLD_ERR_INVALID_ARG;
    memcpy(base, name, nl - 5);
    base[nl - 5] = 0;
    if (strcmp(base, "fmnist-xs") && strcmp(base, "cifar10-ddpm")) return CLD_ERR_INVALID_ARG;
    cld_status st = cld_unet_preset(base, c);
    if (st) return st;
    c->class_embed = CLD_CLASS_TABLE;
    c->num_class_embeds = 11;
    return CLD_OK;
  }
  defaults(c);
  if (!strcmp(name, "fmnist-s")) {
    c->sample_size = 28;
    c->in_channels = c->out_channels = 1;
    c->n_levels = 3;
    c->block_out_channels[0] = 64;
    c->block_out_channels[1] = 128;
    c->block_out_channels[2] = 128;
    memset(c->down_attn, 0, sizeof c->down_attn);
    memset(c->up_attn, 0, sizeof c->up_attn);
    c->down_attn[1] = true; /* attention at 14x14 */
    c->up_attn[1] = true;
    c->attention_head_dim = 64;
    c->dropout = 0.1f;
    return CLD_OK;
  }
  if (!strcmp(name, "fmnist-xs")) { /* the README's few-minute demo: 32/64 channels, 1 res block */
    c->sample_size = 28;
    c->in_channels = c->out_channels = 1;
    c->n_levels = 3;
    c->block_out_channels[0] = 32;
    c->block_out_channels[1] = 64;
    c->block_out_channels[2] = 64;
    memset(c->down_attn, 0, sizeof c->down_attn);
    memset(c->up_attn, 0, sizeof c->up_attn);
    c->down_attn[1] = true;
    c->up_attn[1] = true;
    c->layers_per_block = 1;
    c->attention_head_dim = 32;
    c->norm_num_groups = 16;
    return CLD_OK;
  }
  if (!strcmp(name, "cifar10-ddpm")) { /* google/ddpm-cifar10-32 */
    c->sample_size = 32;
    c->block_out_channels[0] = 128;
    c->block_out_channels[1] = c->block_out_channels[2] = c->block_out_channels[3] = 256;
    memset(c->down_attn, 0, sizeof c->down_attn);
    memset(c->up_attn, 0, sizeof c->up_attn);
    c->down_attn[1] = true;
    c->up_attn[2] = true;
    c->downsample_padding = 0;
    c->flip_sin_to_cos = false;
    c->freq_shift = 1;
    c->attention_head_dim = 0;
    c->norm_eps = 1e-6f;
    c->dropout = 0.1f;
    return CLD_OK;
  }
  if (!strcmp(name, "tiny")) {
    c->sample_size = 8;
    c->n_levels = 2;
    c->block_out_channels[0] = 16;
    c->block_out_channels[1] = 32;
    memset(c->down_attn, 0, sizeof c->down_attn);
    memset(c->up_attn, 0, sizeof c->up_attn);
    c->down_attn[1] = true;
    c->up_attn[0] = true;
    c->layers_per_block = 1;
    c->attention_head_dim = 8;
    c->norm_num_groups = 4;
    return CLD_OK;
  }
  return CLD_ERR_INVALID_ARG;
}

/* the widest level cldiff builds (diffusers models use up to 1280); the most rows of a class table
 * (ImageNet-21k has 21,841 classes) */
#define CLD_UNET_MAX_CHANNELS 8192
#define CLD_UNET_MAX_CLASSES 100000

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); cJSON_Delete(root); return CLD_ERR_FORMAT; } while (0)

cld_status cld_unet_config_parse(const char *json, cld_unet_config *out, char *err, size_t errlen) {
  char dummy[8];
  if (!err) { err = dummy; errlen = sizeof dummy; }
  if (!json || !out) { snprintf(err, errlen, "no config text"); return CLD_ERR_INVALID_ARG; }
  cJSON *root = cJSON_Parse(json);
  if (!cJSON_IsObject(root)) FAIL("config.json is not a JSON object");
  cld_unet_config c;
  defaults(&c);
  const cJSON *v;
#define NUM(key, field, lo, hi)                                                                 \
  if ((v = cJSON_GetObjectItemCaseSensitive(root, key)) && !cJSON_IsNull(v)) {                  \
    if (!cJSON_IsNumber(v) || v->valuedouble < (lo) || v->valuedouble > (hi))                   \
      FAIL("config.json: \"%s\" must be a number in [%g, %g]", key, (double)(lo), (double)(hi)); \
    c.field = (__typeof__(c.field))v->valuedouble;                                              \
  }
/* an integer-valued number in [lo, hi]: checked before it becomes a size (no 1e300 -> int) */
#define INT(key, field, lo, hi)                                                                 \
  if ((v = cJSON_GetObjectItemCaseSensitive(root, key)) && !cJSON_IsNull(v)) {                  \
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= (lo) && v->valuedouble <= (hi)) ||             \
        v->valuedouble != floor(v->valuedouble))                                                \
      FAIL("config.json: \"%s\" must be an integer in [%d, %d]", key, (int)(lo), (int)(hi));     \
    c.field = (int)v->valuedouble;                                                              \
  }
#define BOOL(key, field)                                                                        \
  if ((v = cJSON_GetObjectItemCaseSensitive(root, key)) && !cJSON_IsNull(v)) {                  \
    if (!cJSON_IsBool(v)) FAIL("config.json: \"%s\" must be true or false", key);               \
    c.field = cJSON_IsTrue(v);                                                                  \
  }
#define STR_ONLY(key, allowed)                                                                  \
  if ((v = cJSON_GetObjectItemCaseSensitive(root, key)) && !cJSON_IsNull(v) &&                  \
      (!cJSON_IsString(v) || strcmp(v->valuestring, allowed)))                                  \
    FAIL("config.json: \"%s\" = %s is not supported (only \"%s\")", key,                       \
         cJSON_IsString(v) ? v->valuestring : "?", allowed);
  /* every key UNet2DModel takes (diffusers 0.42); anything else is a model cldiff does not know */
  static const char *const known[] = {"sample_size", "in_channels", "out_channels", "center_input_sample", "time_embedding_type",
                                      "time_embedding_dim", "freq_shift", "flip_sin_to_cos", "down_block_types", "mid_block_type",
                                      "up_block_types", "block_out_channels", "layers_per_block", "mid_block_scale_factor",
                                      "downsample_padding", "downsample_type", "upsample_type", "dropout", "act_fn",
                                      "attention_head_dim", "norm_num_groups", "attn_norm_num_groups", "norm_eps",
                                      "resnet_time_scale_shift", "add_attention", "class_embed_type", "num_class_embeds",
                                      "num_train_timesteps", NULL};
  for (const cJSON *e = root->child; e; e = e->next) {
    if (!e->string || e->string[0] == '_') continue; /* _class_name, _diffusers_version, _name_or_path */
    int k = 0;
    while (known[k] && strcmp(known[k], e->string)) k++;
    if (!known[k]) FAIL("config.json: \"%s\" is not a UNet2DModel key cldiff implements", e->string);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "sample_size")) && cJSON_IsArray(v))
    FAIL("config.json: \"sample_size\" as a (height, width) pair is not supported (square images: one integer)");
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "mid_block_type")) &&
      !(cJSON_IsString(v) && !strcmp(v->valuestring, "UNetMidBlock2D")))
    FAIL("config.json: \"mid_block_type\" = %s is not supported (only \"UNetMidBlock2D\")",
         cJSON_IsString(v) ? v->valuestring : cJSON_IsNull(v) ? "null (no middle block)" : "?");
  const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "_class_name");
  if (cls && (!cJSON_IsString(cls) || strcmp(cls->valuestring, "UNet2DModel")))
    FAIL("config.json: _class_name %s is not UNet2DModel", cJSON_IsString(cls) ? cls->valuestring : "?");
  INT("sample_size", sample_size, 0, 4096)
  INT("in_channels", in_channels, 1, 64)
  INT("out_channels", out_channels, 1, 64)
  BOOL("center_input_sample", center_input_sample)
  BOOL("flip_sin_to_cos", flip_sin_to_cos)
  NUM("freq_shift", freq_shift, -1e6, 1e6)
  INT("layers_per_block", layers_per_block, 1, 16)
  NUM("mid_block_scale_factor", mid_block_scale_factor, 1e-6, 1e6)
  INT("downsample_padding", downsample_padding, 0, 1)
  NUM("dropout", dropout, 0, 0.99)
  INT("norm_num_groups", norm_num_groups, 1, 1024)
  NUM("norm_eps", norm_eps, 0, 1)
  BOOL("add_attention", add_attention)
  STR_ONLY("act_fn", "silu")
  STR_ONLY("time_embedding_type", "positional")
  STR_ONLY("downsample_type", "conv")
  STR_ONLY("upsample_type", "conv")
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "attention_head_dim"))) {
    if (cJSON_IsNull(v)) c.attention_head_dim = 0;
    else if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= CLD_UNET_MAX_CHANNELS && v->valuedouble == floor(v->valuedouble))
      c.attention_head_dim = (int)v->valuedouble;
    else FAIL("config.json: \"attention_head_dim\" must be an integer in [1, %d] or null", CLD_UNET_MAX_CHANNELS);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "resnet_time_scale_shift")) && !cJSON_IsNull(v)) {
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "default")) c.scale_shift = false;
    else if (cJSON_IsString(v) && !strcmp(v->valuestring, "scale_shift")) c.scale_shift = true;
    else FAIL("config.json: \"resnet_time_scale_shift\" must be \"default\" or \"scale_shift\"");
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "attn_norm_num_groups")) && !cJSON_IsNull(v))
    FAIL("config.json: \"attn_norm_num_groups\" is not supported by cldiff (must be null)");
  INT("num_class_embeds", num_class_embeds, 1, CLD_UNET_MAX_CLASSES)
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "class_embed_type")) && !cJSON_IsNull(v)) {
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "timestep")) c.class_embed = CLD_CLASS_TIMESTEP;
    else if (cJSON_IsString(v) && !strcmp(v->valuestring, "identity")) c.class_embed = CLD_CLASS_IDENTITY;
    else FAIL("config.json: \"class_embed_type\" = %s is not supported (null, \"timestep\" or \"identity\")",
              cJSON_IsString(v) ? v->valuestring : "?");
  } else if (c.num_class_embeds > 0) {
    c.class_embed = CLD_CLASS_TABLE;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "block_out_channels"))) {
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n < 1 || n > CLD_UNET_MAX_LEVELS) FAIL("config.json: \"block_out_channels\" must list 1..8 numbers");
    c.n_levels = n;
    for (int i = 0; i < n; i++) {
      const cJSON *e = cJSON_GetArrayItem(v, i);
      if (!cJSON_IsNumber(e) || !(e->valuedouble >= 1 && e->valuedouble <= CLD_UNET_MAX_CHANNELS) || e->valuedouble != floor(e->valuedouble))
        FAIL("config.json: \"block_out_channels\"[%d] must be an integer in [1, %d]", i, CLD_UNET_MAX_CHANNELS);
      c.block_out_channels[i] = (int)e->valuedouble;
    }
  }
  const char *keys[2] = {"down_block_types", "up_block_types"};
  for (int k = 0; k < 2; k++) {
    v = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
    if (!v) {
      if (c.n_levels != 4) FAIL("config.json: \"%s\" missing while block_out_channels has %d entries", keys[k], c.n_levels);
      continue;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != c.n_levels)
      FAIL("config.json: \"%s\" must have one entry per block_out_channels entry (%d)", keys[k], c.n_levels);
    for (int i = 0; i < c.n_levels; i++) {
      const cJSON *e = cJSON_GetArrayItem(v, i);
      const char *s = cJSON_IsString(e) ? e->valuestring : "";
      bool *attn = k == 0 ? &c.down_attn[i] : &c.up_attn[i];
      if (!strcmp(s, k == 0 ? "DownBlock2D" : "UpBlock2D")) *attn = false;
      else if (!strcmp(s, k == 0 ? "AttnDownBlock2D" : "AttnUpBlock2D")) *attn = true;
      else FAIL("config.json: \"%s\"[%d] = \"%s\" is not supported (%s or %s)", keys[k], i, s,
                k == 0 ? "DownBlock2D" : "UpBlock2D", k == 0 ? "AttnDownBlock2D" : "AttnUpBlock2D");
    }
  }
  /* the time embedding is 4 x block_out_channels[0] wide in cldiff (diffusers' default) */
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "time_embedding_dim")) && !cJSON_IsNull(v) &&
      !(cJSON_IsNumber(v) && v->valuedouble == 4.0 * c.block_out_channels[0]))
    FAIL("config.json: \"time_embedding_dim\" other than 4 x block_out_channels[0] (%d) is not supported", 4 * c.block_out_channels[0]);
  cJSON_Delete(root);
  *out = c;
  return CLD_OK;
}

char *cld_unet_config_json(const cld_unet_config *c) {
  if (!c) return NULL;
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "_class_name", "UNet2DModel");
  cJSON_AddStringToObject(r, "_diffusers_version", "0.30.0");
  cJSON_AddStringToObject(r, "act_fn", "silu");
  cJSON_AddBoolToObject(r, "add_attention", c->add_attention);
  if (c->attention_head_dim > 0) cJSON_AddNumberToObject(r, "attention_head_dim", c->attention_head_dim);
  else cJSON_AddNullToObject(r, "attention_head_dim");
  cJSON_AddNullToObject(r, "attn_norm_num_groups");
  cJSON *boc = cJSON_CreateArray(), *down = cJSON_CreateArray(), *up = cJSON_CreateArray();
  for (int i = 0; i < c->n_levels; i++) {
    cJSON_AddItemToArray(boc, cJSON_CreateNumber(c->block_out_channels[i]));
    cJSON_AddItemToArray(down, cJSON_CreateString(c->down_attn[i] ? "AttnDownBlock2D" : "DownBlock2D"));
    cJSON_AddItemToArray(up, cJSON_CreateString(c->up_attn[i] ? "AttnUpBlock2D" : "UpBlock2D"));
  }
  cJSON_AddItemToObject(r, "block_out_channels", boc);
  cJSON_AddBoolToObject(r, "center_input_sample", c->center_input_sample);
  if (c->class_embed == CLD_CLASS_TIMESTEP) cJSON_AddStringToObject(r, "class_embed_type", "timestep");
  else if (c->class_embed == CLD_CLASS_IDENTITY) cJSON_AddStringToObject(r, "class_embed_type", "identity");
  else cJSON_AddNullToObject(r, "class_embed_type");
  cJSON_AddItemToObject(r, "down_block_types", down);
  cJSON_AddNumberToObject(r, "downsample_padding", c->downsample_padding);
  cJSON_AddStringToObject(r, "downsample_type", "conv");
  cJSON_AddNumberToObject(r, "dropout", c->dropout);
  cJSON_AddBoolToObject(r, "flip_sin_to_cos", c->flip_sin_to_cos);
  cJSON_AddNumberToObject(r, "freq_shift", c->freq_shift);
  cJSON_AddNumberToObject(r, "in_channels", c->in_channels);
  cJSON_AddNumberToObject(r, "layers_per_block", c->layers_per_block);
  cJSON_AddNumberToObject(r, "mid_block_scale_factor", c->mid_block_scale_factor);
  cJSON_AddNumberToObject(r, "norm_eps", c->norm_eps);
  cJSON_AddNumberToObject(r, "norm_num_groups", c->norm_num_groups);
  if (c->class_embed == CLD_CLASS_TABLE) cJSON_AddNumberToObject(r, "num_class_embeds", c->num_class_embeds);
  else cJSON_AddNullToObject(r, "num_class_embeds");
  cJSON_AddNumberToObject(r, "out_channels", c->out_channels);
  cJSON_AddStringToObject(r, "resnet_time_scale_shift", c->scale_shift ? "scale_shift" : "default");
  if (c->sample_size > 0) cJSON_AddNumberToObject(r, "sample_size", c->sample_size);
  else cJSON_AddNullToObject(r, "sample_size");
  cJSON_AddStringToObject(r, "time_embedding_type", "positional");
  cJSON_AddItemToObject(r, "up_block_types", up);
  cJSON_AddStringToObject(r, "upsample_type", "conv");
  char *s = cJSON_Print(r);
  cJSON_Delete(r);
  return s;
}
