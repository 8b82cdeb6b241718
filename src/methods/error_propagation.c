/* Error-propagation regulariser (Li & van der Schaar 2024; METHODS.md 5.2 and decision 3): the
 * multi-bandwidth RBF MMD^2 between the output of a learned ancestral chain and forward-process
 * samples at the chain's tail, added to the loss with weight lambda (the regulariser slot).
 *
 * Per step: one head ~ U{1..T-1} for the batch and a chain length L ~ U{1..K} (Philox(seed,
 * stream 9) at the step), tail = max(head - L, 0). The first half of the batch is noised to the
 * head and run down the learned ancestral chain with gradients (posterior mean from the model's
 * x0-prediction, unclipped; fixed-small variance; fresh noise at every step); the second half is
 * noised directly to the tail. The graph is static and holds K chain steps: a step past the drawn
 * length is an identity (x' = 1 x + 0 pred + 0 z) and a one-hot selector picks the state after L
 * steps. Chain step l (l >= 1) is built under graph gate l and each step sets the gate limit to
 * the steps taken, so the steps past it are skipped: their contributions would be exact zeros,
 * which the executor fills in instead. A step costs min(L, head) chain evaluations, not K.
 * CLDIFF_EP_FULL_CHAIN=1 (read when the trainer is built) runs all K: the same numbers, which the
 * tests check. */
#include "methods/train_method.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cld_tensor *cld_mmd2_multi_rbf(cld_graph *g, cld_tensor *x, cld_tensor *y) {
  int64_t n = cld_tensor_dim(x, 0);
  cld_tensor *z = cld_concat(g, x, y, 0);                   /* (2n, D) */
  cld_tensor *d = cld_pairwise_sqdist(g, z, z);             /* (2n, 2n) */
  double m = (double)(2 * n);
  /* bandwidth: sum of all pairwise squared distances / (m^2 - m), detached */
  cld_tensor *bw = cld_scale(g, cld_detach(g, cld_sum_all(g, d)), (float)(1.0 / (m * m - m)));
  cld_tensor *kern = NULL;
  for (int k = -2; k <= 2; k++) {
    float mult = k < 0 ? 1.0f / (float)(1 << -k) : (float)(1 << k);
    cld_tensor *e = cld_exp(g, cld_scale(g, cld_div(g, d, cld_scale(g, bw, mult)), -1.0f));
    kern = kern ? cld_add(g, kern, e) : e;
  }
  cld_tensor *kxx = cld_slice(g, cld_slice(g, kern, 0, 0, n), 1, 0, n);
  cld_tensor *kyy = cld_slice(g, cld_slice(g, kern, 0, n, n), 1, n, n);
  cld_tensor *kxy = cld_slice(g, cld_slice(g, kern, 0, 0, n), 1, n, n);
  return cld_add(g, cld_sub(g, cld_mean_all(g, kxx), cld_scale(g, cld_mean_all(g, kxy), 2.0f)), cld_mean_all(g, kyy));
}

typedef struct ep_state {
  int K, H;
  int last_len; /* chain steps of the last fed step */
  bool full;    /* CLDIFF_EP_FULL_CHAIN: no gate limit */
  cld_tensor *head_sab, *head_s1, *tail_sab, *tail_s1; /* (1,1,1,1) */
  cld_tensor **tl, **P, **Q, **sd, **sel;              /* per chain step: model time (H), coefficients, selector */
  float *tv;                                           /* (H) */
} ep_state;

static const char *ep_check(const cld_train_params *p) {
  const cld_methods *m = &p->methods;
  return !(m->ep_lambda >= 0) ? "ep_lambda (--ep-lambda) must be >= 0"
         : m->ep_lambda > 0 && (m->ep_k < 1 || m->ep_k > 50) ? "ep_k (--ep-k) must be in 1..50"
         : m->ep_lambda > 0 && (cld_train_micro_batch(p) < 2 || cld_train_micro_batch(p) % 2)
             ? "the EP regulariser (--ep-lambda) needs an even micro-batch >= 2 (--batch / (--accum x ranks)): half of it runs the chain"
         : m->ep_lambda > 0 && (p->prediction == CLD_PRED_EDM || p->learn_sigma)
             ? "the EP regulariser (--ep-lambda) needs an eps, x0 or v model without learned variance"
             : NULL;
}
static bool ep_enabled(const cld_train_params *p) { return p->methods.ep_lambda > 0; }

static void ep_destroy(void *self) {
  ep_state *e = self;
  if (!e) return;
  free(e->tl);
  free(e->P);
  free(e->Q);
  free(e->sd);
  free(e->sel);
  free(e->tv);
  free(e);
}
static void *ep_create(const cld_train_params *p, const int64_t shape[4]) {
  ep_state *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  size_t K = (size_t)p->methods.ep_k;
  e->K = (int)K;
  e->H = (int)(shape[0] / 2); /* the micro-batch */
  const char *full = getenv("CLDIFF_EP_FULL_CHAIN");
  e->full = full && *full && strcmp(full, "0") != 0;
  e->tl = calloc(K, sizeof(cld_tensor *));
  e->P = calloc(K, sizeof(cld_tensor *));
  e->Q = calloc(K, sizeof(cld_tensor *));
  e->sd = calloc(K, sizeof(cld_tensor *));
  e->sel = calloc(K, sizeof(cld_tensor *));
  e->tv = malloc((size_t)e->H * sizeof *e->tv);
  if (!e->tl || !e->P || !e->Q || !e->sd || !e->sel || !e->tv) { ep_destroy(e); return NULL; }
  return e;
}

static cld_tensor *scalar_in(cld_graph *g, const char *name, int l) {
  char n[48];
  snprintf(n, sizeof n, "%s_%d", name, l);
  return cld_input_4d(g, n, 1, 1, 1, 1);
}

/* the learned chain from x (gated steps), and the selector sum picking the state after L steps */
static cld_tensor *ep_chain(ep_state *e, const cld_method_graph *b, cld_tensor *x, const int64_t hs[4]) {
  cld_graph *g = b->g;
  cld_tensor *picked = NULL;
  for (int l = 0; l < e->K; l++) {
    char n[32];
    cld_graph_set_gate(g, l); /* step 0 is always taken */
    snprintf(n, sizeof n, "ep_t_%d", l);
    e->tl[l] = cld_input(g, n, 1, (int64_t[]){e->H});
    e->P[l] = scalar_in(g, "ep_P", l);
    e->Q[l] = scalar_in(g, "ep_Q", l);
    e->sd[l] = scalar_in(g, "ep_sd", l);
    e->sel[l] = scalar_in(g, "ep_sel", l);
    /* a conditional model's chain sees the first half's classes (as dropped for the main loss) */
    cld_tensor *cond = b->cond ? cld_slice(g, b->cond, 0, 0, e->H) : NULL;
    cld_tensor *pred = cld_model_forward_cond(b->model, g, x, e->tl[l], cond);
    /* x' = P x + Q pred + sd z: the posterior mean c1 x0_hat + c2 x with x0_hat = a x + b pred */
    x = cld_add(g, cld_add(g, cld_mul(g, x, e->P[l]), cld_mul(g, pred, e->Q[l])), cld_mul(g, cld_randn(g, 4, hs, 16 + l), e->sd[l]));
    cld_tensor *term = cld_mul(g, x, e->sel[l]);
    cld_graph_set_gate(g, 0);
    picked = picked ? cld_add(g, picked, term) : term;
  }
  return picked;
}

static cld_tensor *ep_regulariser(void *self, const cld_method_graph *b) {
  ep_state *e = self;
  cld_graph *g = b->g;
  int H = e->H;
  int64_t hs[4] = {H, b->shape[1], b->shape[2], b->shape[3]};
  e->head_sab = scalar_in(g, "ep_head_sab", 0);
  e->head_s1 = scalar_in(g, "ep_head_s1", 0);
  e->tail_sab = scalar_in(g, "ep_tail_sab", 0);
  e->tail_s1 = scalar_in(g, "ep_tail_s1", 0);
  cld_tensor *xa = cld_slice(g, b->x0, 0, 0, H), *xb = cld_slice(g, b->x0, 0, H, H);
  cld_tensor *x = cld_add(g, cld_mul(g, xa, e->head_sab), cld_mul(g, cld_randn(g, 4, hs, 5), e->head_s1));
  cld_tensor *picked = ep_chain(e, b, x, hs);
  cld_tensor *tail = cld_add(g, cld_mul(g, xb, e->tail_sab), cld_mul(g, cld_randn(g, 4, hs, 7), e->tail_s1));
  int64_t D = hs[1] * hs[2] * hs[3];
  cld_tensor *mmd = cld_mmd2_multi_rbf(g, cld_reshape(g, picked, 2, (int64_t[]){H, D}), cld_reshape(g, tail, 2, (int64_t[]){H, D}));
  return cld_scale(g, mmd, b->p->methods.ep_lambda);
}

/* chain step l's coefficients P, Q, sd from `step` to `step - 1` (identity when inactive) */
static void ep_coeffs(const cld_method_step *st, int step, bool active, float *P, float *Q, float *sd) {
  *P = 1, *Q = 0, *sd = 0;
  if (!active) return;
  const cld_schedule *s = st->sched;
  double ab = s->alpha_bar[step], sa = sqrt(ab), s1 = sqrt(1 - ab), a, b;
  if (st->p->prediction == CLD_PRED_X0) { a = 0; b = 1; }
  else if (st->p->prediction == CLD_PRED_V) { a = sa; b = -s1; }
  else { a = 1 / sa; b = -s1 / sa; }
  double c1 = s->post_c1[step], c2 = s->post_c2[step];
  *P = (float)(c1 * a + c2);
  *Q = (float)(c1 * b);
  *sd = (float)sqrt(fmax(s->beta_tilde[step], 1e-20));
}

static cld_status ep_feed(void *self, const cld_method_step *st) {
  ep_state *e = self;
  const cld_schedule *s = st->sched;
  int T = st->p->T, K = e->K;
  float u[2];
  cld_rng_uniform_host(st->p->seed, 9, 2 * (uint64_t)st->step, 2, u);
  int head = 1 + (int)(u[0] * (float)(T - 1)), L = 1 + (int)(u[1] * (float)K);
  if (head > T - 1) head = T - 1;
  if (L > K) L = K;
  int tail = head - L > 0 ? head - L : 0, len = head - tail; /* chain steps actually taken */
  cld_graph_set_gate_limit(st->g, e->full ? 0 : len);
  e->last_len = len;
  cld_status r;
  float hsab = (float)sqrt(s->alpha_bar[head]), hs1 = (float)sqrt(1 - s->alpha_bar[head]);
  float tsab = (float)sqrt(s->alpha_bar[tail]), ts1 = (float)sqrt(1 - s->alpha_bar[tail]);
  if ((r = cld_tensor_write(st->g, e->head_sab, &hsab)) || (r = cld_tensor_write(st->g, e->head_s1, &hs1)) ||
      (r = cld_tensor_write(st->g, e->tail_sab, &tsab)) || (r = cld_tensor_write(st->g, e->tail_s1, &ts1)))
    return r;
  for (int l = 0; l < K; l++) {
    int step = head - l; /* this chain step goes from `step` to `step - 1` */
    bool active = l < len;
    float P, Q, sd, sel = l == len - 1 ? 1.0f : 0.0f;
    ep_coeffs(st, step, active, &P, &Q, &sd);
    for (int i = 0; i < e->H; i++) e->tv[i] = (float)(active ? step : 0);
    if ((r = cld_tensor_write(st->g, e->tl[l], e->tv)) || (r = cld_tensor_write(st->g, e->P[l], &P)) ||
        (r = cld_tensor_write(st->g, e->Q[l], &Q)) || (r = cld_tensor_write(st->g, e->sd[l], &sd)) ||
        (r = cld_tensor_write(st->g, e->sel[l], &sel)))
      return r;
  }
  return CLD_OK;
}

static void ep_record(const cld_train_params *p, cJSON *j) {
  cJSON_AddNumberToObject(j, "ep_lambda", p->methods.ep_lambda);
  cJSON_AddNumberToObject(j, "ep_k", p->methods.ep_k);
}
static int ep_stat(const void *self) { return ((const ep_state *)self)->last_len; }

const cld_train_method cld_method_error_propagation = {
  .name = "error_propagation", .check = ep_check, .enabled = ep_enabled, .create = ep_create,
  .destroy = ep_destroy, .regulariser = ep_regulariser, .feed = ep_feed, .record = ep_record,
  .stat_name = "ep_chain_steps", .stat = ep_stat,
};
