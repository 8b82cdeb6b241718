/* The model abstraction's internals (model.c): one handle over the UNet and the MLP. */
#ifndef CLDIFF_MODEL_INTERNAL_H
#define CLDIFF_MODEL_INTERNAL_H
#include "cldiff/cldiff.h"

typedef struct cld_mlp_config { int dim, hidden, layers, temb_dim; } cld_mlp_config;

struct cld_model {
  cld_ctx *ctx;
  cld_model_kind kind;
  cld_store *store;
  cld_unet *unet;       /* kind UNET (owned) */
  cld_mlp_config mlp;   /* kind MLP */
  int64_t n_params;
};

cld_tensor *cld_mlp_walk(cld_model *m, cld_graph *g, cld_tensor *x, cld_tensor *t, cld_status *st);
#endif
