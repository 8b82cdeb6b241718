/* cldiff models: a UNet equivalent to diffusers' UNet2DModel (DownBlock2D, AttnDownBlock2D,
 * UpBlock2D, AttnUpBlock2D, UNetMidBlock2D; positional time embedding) configured from
 * diffusers' config.json keys, with diffusers' parameter names, so checkpoints interoperate. */
#ifndef CLDIFF_MODELS_H
#define CLDIFF_MODELS_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cld_ctx cld_ctx;
typedef struct cld_graph cld_graph;
typedef struct cld_tensor cld_tensor;
typedef struct cld_store cld_store;

#define CLD_UNET_MAX_LEVELS 8
/* diffusers UNet2DModel's class conditioning, added to the time embedding:
 *   TABLE     class_embed_type null + num_class_embeds: nn.Embedding(num_class_embeds, 4 c0)
 *   TIMESTEP  "timestep": the label through the sinusoidal time projection and its own
 *             TimestepEmbedding (class_embedding.linear_1/2)
 *   IDENTITY  "identity": the caller's (N, 4 c0) vector is added as it is (no labels) */
typedef enum { CLD_CLASS_NONE = 0, CLD_CLASS_TABLE = 1, CLD_CLASS_TIMESTEP = 2, CLD_CLASS_IDENTITY = 3 } cld_class_embed;
typedef struct cld_unet_config {
  int sample_size, in_channels, out_channels;
  bool center_input_sample;
  bool flip_sin_to_cos;
  float freq_shift;
  int n_levels;
  int block_out_channels[CLD_UNET_MAX_LEVELS];
  bool down_attn[CLD_UNET_MAX_LEVELS]; /* AttnDownBlock2D (else DownBlock2D) */
  bool up_attn[CLD_UNET_MAX_LEVELS];   /* AttnUpBlock2D (else UpBlock2D), in up order */
  int layers_per_block;
  float mid_block_scale_factor;
  int downsample_padding;
  float dropout;
  int attention_head_dim;              /* 0: null in config.json (one head per block) */
  int norm_num_groups;
  float norm_eps;
  bool scale_shift;                    /* resnet_time_scale_shift == "scale_shift" */
  bool add_attention;                  /* attention in the mid block */
  cld_class_embed class_embed;
  int num_class_embeds;                /* TABLE: rows of the table (classes, + 1 for a null class) */
} cld_unet_config;

/* Presets: "fmnist-s" (28x28x1, 64 channels x (1,2,2), 2 res blocks, attention at 14x14),
 * "fmnist-xs" (28x28x1, 32 channels x (1,2,2), 1 res block, attention at 14x14: the demo),
 * "cifar10-ddpm" (the DDPM paper's 35.7M CIFAR-10 model = google/ddpm-cifar10-32's config),
 * "tiny" (a small test model); "fmnist-xs-cond" and "cifar10-ddpm-cond" are fmnist-xs and
 * cifar10-ddpm with a class table of 11 rows (10 classes and the null class of label dropout). */
CLD_API cld_status cld_unet_preset(const char *name, cld_unet_config *out);
/* Parses diffusers' UNet2DModel config.json text; unsupported values fail naming the key. */
CLD_API cld_status cld_unet_config_parse(const char *json, cld_unet_config *out, char *err, size_t errlen);
/* The config as diffusers config.json text (malloc'd; free() it). */
CLD_API char *cld_unet_config_json(const cld_unet_config *c);

typedef struct cld_unet cld_unet;
/* Registers the model's parameters (diffusers names and shapes) in the store. */
CLD_API cld_status cld_unet_create(cld_ctx *ctx, const cld_unet_config *c, cld_store *store, cld_unet **out);
CLD_API void cld_unet_destroy(cld_unet *u);
CLD_API const cld_unet_config *cld_unet_get_config(const cld_unet *u);
CLD_API int64_t cld_unet_param_count(const cld_unet *u);
/* Initialises parameters as PyTorch's defaults do in distribution (kaiming-uniform weights,
 * uniform biases, norms at 1/0), from Philox(seed): deterministic on every device. */
CLD_API cld_status cld_unet_init(cld_unet *u, uint64_t seed);
/* Checkpoint directory as diffusers: config.json + diffusion_pytorch_model.safetensors. Save
 * writes both atomically; load parses the config, registers the parameters in the (empty)
 * store and loads them, failing with the file and tensor named. */
CLD_API cld_status cld_unet_save(cld_unet *u, cld_store *s, const char *dir);
CLD_API cld_status cld_unet_load(cld_ctx *ctx, const char *dir, cld_store *s, cld_unet **out);
/* Builds the forward graph: x (N, C, H, W), t (N) float timesteps -> (N, out_channels, H, W).
 * Dropout nodes are added when the config's dropout > 0 (active while the graph trains). */
CLD_API cld_tensor *cld_unet_forward(cld_unet *u, cld_graph *g, cld_tensor *x, cld_tensor *t);
/* The same with class conditioning: cond is what cld_model_class_input makes, (N, num_class_embeds)
 * one-hot rows for TABLE, (N) labels as floats for TIMESTEP, (N, 4 c0) vectors for IDENTITY.
 * A class-conditional model fails without cond, an unconditional one with it. */
CLD_API cld_tensor *cld_unet_forward_cond(cld_unet *u, cld_graph *g, cld_tensor *x, cld_tensor *t, cld_tensor *cond);
/* ---- any model: the UNet or the MLP denoiser for 2-D data ------------------------------- */
typedef enum { CLD_MODEL_UNET = 0, CLD_MODEL_MLP = 1 } cld_model_kind;
typedef struct cld_model cld_model;
/* A preset ("fmnist-s", "fmnist-xs", "cifar10-ddpm", "tiny", "toy-mlp") or a config.json path
 * (diffusers UNet2DModel, or cldiff's "MLPDenoiser"); registers the parameters in the store. */
CLD_API cld_status cld_model_create(cld_ctx *ctx, const char *preset_or_config, cld_store *s, cld_model **out);
/* Loads a model directory (config.json + diffusion_pytorch_model.safetensors) of either kind. */
/* A UNet model from an explicit configuration (e.g. a preset with changes). */
CLD_API cld_status cld_model_from_unet_config(cld_ctx *ctx, const cld_unet_config *c, cld_store *s, cld_model **out);
CLD_API cld_status cld_model_load(cld_ctx *ctx, const char *dir, cld_store *s, cld_model **out);
CLD_API cld_status cld_model_save(cld_model *m, const char *dir);
CLD_API void cld_model_destroy(cld_model *m);
CLD_API cld_model_kind cld_model_get_kind(const cld_model *m);
CLD_API cld_unet *cld_model_unet(cld_model *m); /* NULL unless a UNet */
CLD_API cld_store *cld_model_store(cld_model *m);
CLD_API int cld_model_channels(const cld_model *m);    /* image channels, or 2 for 2-D points */
CLD_API int cld_model_out_channels(const cld_model *m); /* 2x channels for learned-variance models */
CLD_API int cld_model_sample_size(const cld_model *m); /* 1 for 2-D points */
CLD_API int64_t cld_model_param_count(const cld_model *m);
CLD_API cld_status cld_model_init(cld_model *m, uint64_t seed);
/* x (N, C, H, W) (points as (N, 2, 1, 1)), t (N) -> output of x's shape */
CLD_API cld_tensor *cld_model_forward(cld_model *m, cld_graph *g, cld_tensor *x, cld_tensor *t);
/* Class conditioning. cld_model_class_kind: the UNet's cld_class_embed (NONE for the MLP);
 * cld_model_class_count: rows of a TABLE model's class table, 0 for other kinds (TIMESTEP takes
 * any label >= 0). cld_model_class_input makes the graph input a conditional forward takes for a
 * batch of n; cld_model_class_write fills it from n labels (TABLE: 0..count-1; TIMESTEP: >= 0;
 * IDENTITY takes vectors, not labels: write those with cld_tensor_write), failing with the first
 * bad label and its index named. */
CLD_API cld_class_embed cld_model_class_kind(const cld_model *m);
CLD_API int cld_model_class_count(const cld_model *m);
CLD_API cld_tensor *cld_model_class_input(cld_model *m, cld_graph *g, int64_t n);
CLD_API cld_status cld_model_class_write(cld_model *m, cld_graph *g, cld_tensor *cond, const int *labels, int64_t n);
/* cld_model_forward with class conditioning (cond NULL: none) */
CLD_API cld_tensor *cld_model_forward_cond(cld_model *m, cld_graph *g, cld_tensor *x, cld_tensor *t, cld_tensor *cond);
/* The model's config.json text (malloc'd). */
CLD_API char *cld_model_config_json(const cld_model *m);
#ifdef __cplusplus
}
#endif
#endif
