/* The error-propagation regulariser's place in the training step (METHODS.md 5.2, decision 3).
 * Per step: one head ~ U{1..T-1} for the batch and a chain length L ~ U{1..K} (Philox(seed,
 * stream 9) at the step), tail = max(head - L, 0). The first half of the batch is noised to the
 * head and run down the learned ancestral chain with gradients (posterior mean from the model's
 * x0-prediction, unclipped; fixed-small variance; fresh noise at every step); the second half is
 * noised directly to the tail; the loss gains lambda * MMD^2 of the two (methods/consistency.c).
 * The graph is static and holds K chain steps: a step past the drawn length is an identity
 * (x' = 1 x + 0 pred + 0 z) and a one-hot selector picks the state after L steps. Chain step l
 * (l >= 1) is built under graph gate l and each compute sets the gate limit to the steps taken,
 * so the steps past it are skipped: their contributions (the selector's terms, the gradients
 * they pass back) would be exact zeros, and the executor fills those in instead. A step costs
 * min(L, head) chain evaluations, not K. CLDIFF_EP_FULL_CHAIN=1 (read when the trainer is built)
 * runs all K, as before the gates: the same numbers, which the tests check. */
#include "graph/graph_internal.h"
#include "diffusion/train_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cld_ep_chain {
  int K, H;
  int last_len; /* chain steps of the last fed step */
  bool full; /* CLDIFF_EP_FULL_CHAIN: no gate limit */
  cld_tensor *head_sab, *head_s1, *tail_sab, *tail_s1; /* (1,1,1,1) */
  cld_tensor **tl, **P, **Q, **sd, **sel;              /* per chain step: model time (H), coefficients, selector */
} cld_ep_chain;

void cld_ep_free(cld_trainer *t) {
  if (!t || !t->ep) return;
  free(t->ep->tl);
  free(t->ep->P);
  free(t->ep->Q);
  free(t->ep->sd);
  free(t->ep->sel);
  free(t->ep);
  t->ep = NULL;
}

static cld_tensor *scalar_in(cld_graph *g, const char *name, int l) {
  char n[48];
  snprintf(n, sizeof n, "%s_%d", name, l);
  return cld_input_4d(g, n, 1, 1, 1, 1);
}

cld_tensor *cld_ep_build(cld_trainer *t, cld_tensor *x0) {
  cld_graph *g = t->g;
  int K = t->p.methods.ep_k, B = t->p.batch, H = B / 2;
  cld_ep_chain *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  t->ep = e;
  e->K = K;
  e->H = H;
  const char *full = getenv("CLDIFF_EP_FULL_CHAIN");
  e->full = full && *full && strcmp(full, "0") != 0;
  e->tl = calloc((size_t)K, sizeof(cld_tensor *));
  e->P = calloc((size_t)K, sizeof(cld_tensor *));
  e->Q = calloc((size_t)K, sizeof(cld_tensor *));
  e->sd = calloc((size_t)K, sizeof(cld_tensor *));
  e->sel = calloc((size_t)K, sizeof(cld_tensor *));
  if (!e->tl || !e->P || !e->Q || !e->sd || !e->sel) return NULL;
  int64_t hs[4] = {H, cld_tensor_dim(x0, 1), cld_tensor_dim(x0, 2), cld_tensor_dim(x0, 3)};
  e->head_sab = scalar_in(g, "ep_head_sab", 0);
  e->head_s1 = scalar_in(g, "ep_head_s1", 0);
  e->tail_sab = scalar_in(g, "ep_tail_sab", 0);
  e->tail_s1 = scalar_in(g, "ep_tail_s1", 0);
  cld_tensor *xa = cld_slice(g, x0, 0, 0, H), *xb = cld_slice(g, x0, 0, H, H);
  cld_tensor *x = cld_add(g, cld_mul(g, xa, e->head_sab), cld_mul(g, cld_randn(g, 4, hs, 5), e->head_s1));
  cld_tensor *picked = NULL;
  for (int l = 0; l < K; l++) {
    char n[32];
    cld_graph_set_gate(g, l); /* step 0 is always taken */
    snprintf(n, sizeof n, "ep_t_%d", l);
    e->tl[l] = cld_input(g, n, 1, (int64_t[]){H});
    e->P[l] = scalar_in(g, "ep_P", l);
    e->Q[l] = scalar_in(g, "ep_Q", l);
    e->sd[l] = scalar_in(g, "ep_sd", l);
    e->sel[l] = scalar_in(g, "ep_sel", l);
    cld_tensor *pred = cld_model_forward(t->m, g, x, e->tl[l]);
    /* x' = P x + Q pred + sd z: the posterior mean c1 x0_hat + c2 x with x0_hat = a x + b pred */
    x = cld_add(g, cld_add(g, cld_mul(g, x, e->P[l]), cld_mul(g, pred, e->Q[l])), cld_mul(g, cld_randn(g, 4, hs, 16 + l), e->sd[l]));
    cld_tensor *term = cld_mul(g, x, e->sel[l]);
    cld_graph_set_gate(g, 0);
    picked = picked ? cld_add(g, picked, term) : term;
  }
  cld_tensor *tail = cld_add(g, cld_mul(g, xb, e->tail_sab), cld_mul(g, cld_randn(g, 4, hs, 7), e->tail_s1));
  int64_t D = hs[1] * hs[2] * hs[3];
  return cld_mmd2_multi_rbf(g, cld_reshape(g, picked, 2, (int64_t[]){H, D}), cld_reshape(g, tail, 2, (int64_t[]){H, D}));
}

int cld_trainer_ep_chain_steps(const cld_trainer *t) { return t && t->ep ? t->ep->last_len : 0; }

cld_status cld_ep_feed(cld_trainer *t) {
  cld_ep_chain *e = t->ep;
  const cld_schedule *s = t->sched;
  int T = t->p.T, K = e->K;
  float u[2];
  cld_rng_uniform_host(t->p.seed, 9, 2 * (uint64_t)t->step, 2, u);
  int head = 1 + (int)(u[0] * (float)(T - 1)), L = 1 + (int)(u[1] * (float)K);
  if (head > T - 1) head = T - 1;
  if (L > K) L = K;
  int tail = head - L > 0 ? head - L : 0, len = head - tail; /* chain steps actually taken */
  cld_graph_set_gate_limit(t->g, e->full ? 0 : len);
  e->last_len = len;
  float one = 1.0f, zero = 0.0f, v;
  cld_status st;
  float hsab = (float)sqrt(s->alpha_bar[head]), hs1 = (float)sqrt(1 - s->alpha_bar[head]);
  float tsab = (float)sqrt(s->alpha_bar[tail]), ts1 = (float)sqrt(1 - s->alpha_bar[tail]);
  if ((st = cld_tensor_write(t->g, e->head_sab, &hsab)) || (st = cld_tensor_write(t->g, e->head_s1, &hs1)) ||
      (st = cld_tensor_write(t->g, e->tail_sab, &tsab)) || (st = cld_tensor_write(t->g, e->tail_s1, &ts1)))
    return st;
  float tv[4096];
  for (int l = 0; l < K; l++) {
    int step = head - l; /* this chain step goes from `step` to `step - 1` */
    bool active = l < len;
    float P = 1, Q = 0, sd = 0;
    if (active) {
      double ab = s->alpha_bar[step], sa = sqrt(ab), s1 = sqrt(1 - ab), a, b;
      if (t->p.prediction == CLD_PRED_X0) { a = 0; b = 1; }
      else if (t->p.prediction == CLD_PRED_V) { a = sa; b = -s1; }
      else { a = 1 / sa; b = -s1 / sa; }
      double c1 = s->post_c1[step], c2 = s->post_c2[step];
      P = (float)(c1 * a + c2);
      Q = (float)(c1 * b);
      sd = (float)sqrt(fmax(s->beta_tilde[step], 1e-20));
    }
    for (int i = 0; i < e->H; i++) tv[i] = (float)(active ? step : 0);
    v = l == len - 1 ? one : zero;
    if ((st = cld_tensor_write(t->g, e->tl[l], tv)) || (st = cld_tensor_write(t->g, e->P[l], &P)) ||
        (st = cld_tensor_write(t->g, e->Q[l], &Q)) || (st = cld_tensor_write(t->g, e->sd[l], &sd)) ||
        (st = cld_tensor_write(t->g, e->sel[l], &v)))
      return st;
  }
  return CLD_OK;
}
