/* The MLP denoiser for 2-D data (toy-mlp): x (N, 2) and a sinusoidal time embedding,
 * concatenated, through `layers` SiLU layers of `hidden` units to 2 outputs. Inputs arrive as
 * (N, 2, 1, 1) "images" so the trainer and the samplers treat it like any other model.
 * Parameter names: time_embedding.linear_1, layers.{i}, out (weight/bias, PyTorch layout). */
#include "graph/graph_internal.h"
#include "nn/model_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cld_tensor *P(cld_model *m, cld_graph *g, int nd, const int64_t *shape, const char *name, cld_status *st) {
  if (*st) return NULL;
  if (!g) {
    int id = cld_store_add(m->store, name, nd, shape);
    if (id < 0) *st = id;
    else {
      int64_t n = 1;
      for (int i = 0; i < nd; i++) n *= shape[i];
      m->n_params += n;
    }
    return NULL;
  }
  int id = cld_store_find(m->store, name);
  if (id < 0) { *st = cld_seterr(m->ctx, CLD_ERR_STATE, "mlp: parameter '%s' is not in the store", name); return NULL; }
  return cld_param(g, m->store, id);
}

static cld_tensor *lin(cld_model *m, cld_graph *g, cld_tensor *x, int in, int out, const char *pre, cld_status *st) {
  char wn[96], bn[96];
  snprintf(wn, sizeof wn, "%s.weight", pre);
  snprintf(bn, sizeof bn, "%s.bias", pre);
  int64_t ws[2] = {out, in}, bs[1] = {out};
  cld_tensor *w = P(m, g, 2, ws, wn, st), *b = P(m, g, 1, bs, bn, st);
  return cld_linear(g, x, w, b);
}

/* g == NULL: register parameters */
cld_tensor *cld_mlp_walk(cld_model *m, cld_graph *g, cld_tensor *x, cld_tensor *t, cld_status *st) {
  const cld_mlp_config *c = &m->mlp;
  int64_t N = x ? cld_tensor_dim(x, 0) : 1;
  cld_tensor *x2 = x ? cld_reshape(g, x, 2, (int64_t[]){N, c->dim}) : NULL;
  cld_tensor *te = t ? cld_timestep_embedding(g, t, c->temb_dim, true, 0.0f, 10000.0f) : NULL;
  te = cld_silu(g, lin(m, g, te, c->temb_dim, c->temb_dim, "time_embedding.linear_1", st));
  cld_tensor *h = g ? cld_concat(g, x2, te, 1) : NULL;
  int in = c->dim + c->temb_dim;
  for (int l = 0; l < c->layers; l++) {
    char n[32];
    snprintf(n, sizeof n, "layers.%d", l);
    h = cld_silu(g, lin(m, g, h, in, c->hidden, n, st));
    in = c->hidden;
  }
  cld_tensor *y = lin(m, g, h, c->hidden, c->dim, "out", st);
  return g && y ? cld_reshape(g, y, 4, (int64_t[]){N, c->dim, 1, 1}) : NULL;
}
