/* The one training-step graph: q_sample -> model -> target -> per-sample (weighted) loss ->
 * backward. The enabled methods plug in through their slots (methods/train_method.h): the noise
 * that enters x_t, the targets, an extra loss term; the trainer's own branches are the objective
 * (eps/x0/v, EDM preconditioning, iDDPM's learned variance). The graph runs one micro-batch
 * (t->Bm samples: the whole batch without gradient accumulation or ranks). */
#include "graph/graph_internal.h"
#include "train/train_internal.h"
#include "diffusion/objective.h"

/* each enabled method's input slot, in registry order: the noise that enters x_t */
static cld_tensor *method_noise(cld_trainer *t, cld_method_graph *b, cld_tensor *noise) {
  for (int i = 0; i < t->n_methods; i++)
    if (t->method[i]->input) noise = t->method[i]->input(t->method_state[i], b, noise);
  return noise;
}
static void method_targets(cld_trainer *t, cld_method_graph *b, cld_tensor **x0_target, cld_tensor **eps_target) {
  for (int i = 0; i < t->n_methods; i++)
    if (t->method[i]->target) t->method[i]->target(t->method_state[i], b, x0_target, eps_target);
}
static cld_tensor *method_regularisers(cld_trainer *t, cld_method_graph *b, cld_tensor *loss) {
  for (int i = 0; i < t->n_methods; i++)
    if (t->method[i]->regulariser) loss = cld_add(b->g, loss, t->method[i]->regulariser(t->method_state[i], b));
  return loss;
}

/* ADM's hybrid loss per sample: L_simple (weighted by wm under a method weight) + L_vlb * T/1000 */
static cld_tensor *learned_sigma_loss(cld_trainer *t, cld_tensor *pred, cld_tensor *eps_target, cld_tensor *xt) {
  cld_graph *g = t->g;
  int64_t B = t->Bm, C = t->data->c, b4[4] = {B, 1, 1, 1}, xs[4] = {B, C, t->data->h, t->data->w};
  cld_tensor *eps_hat = cld_slice(g, pred, 1, 0, C), *vraw = cld_slice(g, pred, 1, C, C);
  t->lbt = cld_input(g, "log_beta_tilde", 4, b4);
  t->dlog = cld_input(g, "log_beta_minus_log_beta_tilde", 4, b4);
  t->inv_sab = cld_input(g, "inv_sqrt_alpha_bar", 4, b4);
  t->pc1 = cld_input(g, "posterior_c1", 4, b4);
  t->pc2 = cld_input(g, "posterior_c2", 4, b4);
  t->is0 = cld_input(g, "t_is_zero", 1, (int64_t[]){B});
  t->m_lo = cld_input(g, "x_below", 4, xs);
  t->m_hi = cld_input(g, "x_above", 4, xs);
  t->m_mid = cld_input(g, "x_inside", 4, xs);
  cld_vlb_inputs vi = {t->lbt, t->dlog, t->inv_sab, t->s1mab, t->pc1, t->pc2, t->is0, t->m_lo, t->m_hi, t->m_mid};
  cld_tensor *vb = cld_vlb_terms(g, eps_hat, vraw, t->x0, xt, &vi);
  cld_tensor *mse = cld_mse_per_sample(g, eps_hat, eps_target);
  if (t->weighted) { /* the weight is on the MSE; L_vlb joins unweighted (Debias's code, METHODS 6.1) */
    t->wm = cld_input(g, "mse_weights", 1, (int64_t[]){B});
    mse = cld_mul(g, mse, t->wm);
  }
  return cld_add(g, mse, cld_scale(g, vb, (float)t->p.T / 1000.0f));
}

/* the model's prediction and its regression target */
static void prediction_and_target(cld_trainer *t, cld_tensor *xt, cld_tensor *x0_target, cld_tensor *eps_target,
                                  cld_tensor **pred, cld_tensor **target) {
  cld_graph *g = t->g;
  int64_t B = t->Bm;
  if (t->p.prediction == CLD_PRED_EDM) {
    t->c_in = cld_input_4d(g, "c_in", B, 1, 1, 1);
    t->c_skip = cld_input_4d(g, "c_skip", B, 1, 1, 1);
    t->c_out = cld_input_4d(g, "c_out", B, 1, 1, 1);
    cld_tensor *F = cld_model_forward_cond(t->m, g, cld_mul(g, xt, t->c_in), t->tt, t->cond); /* t carries c_noise */
    *pred = cld_add(g, cld_mul(g, xt, t->c_skip), cld_mul(g, F, t->c_out));    /* D(x, sigma) */
    *target = x0_target;
    return;
  }
  *pred = cld_model_forward_cond(t->m, g, xt, t->tt, t->cond);
  *target = t->p.prediction == CLD_PRED_EPS ? eps_target
            : t->p.prediction == CLD_PRED_X0 ? x0_target
                                             : cld_sub(g, cld_mul(g, eps_target, t->sab), cld_mul(g, x0_target, t->s1mab));
}

cld_status cld_trainer_build_graph(cld_trainer *t) {
  const cld_dataset *data = t->data;
  int64_t B = t->Bm;
  cld_graph *g = t->g = cld_graph_create(t->ctx);
  if (!g) return cld_seterr(t->ctx, CLD_ERR_NOMEM, "train: out of host memory for the step graph");
  t->x0 = cld_input_4d(g, "x0", B, data->c, data->h, data->w);
  t->tt = cld_input(g, "t", 1, (int64_t[]){B});
  t->sab = cld_input_4d(g, "sqrt_alpha_bar", B, 1, 1, 1);
  t->s1mab = cld_input_4d(g, "sqrt_one_minus_alpha_bar", B, 1, 1, 1);
  t->w = cld_input(g, "weights", 1, (int64_t[]){B});
  if (cld_model_class_kind(t->m) != CLD_CLASS_NONE) t->cond = cld_model_class_input(t->m, g, B); /* labels, after dropout */
  cld_method_graph b = {g, t->m, &t->p, {B, data->c, data->h, data->w}, t->x0, NULL, NULL, t->cond};
  b.eps = cld_randn(g, 4, b.shape, 3);
  cld_tensor *noise = method_noise(t, &b, b.eps);
  b.xt = cld_add(g, cld_mul(g, t->x0, t->sab), cld_mul(g, noise, t->s1mab)); /* q_sample; EDM: x0 + sigma eps */
  cld_tensor *x0_target = t->x0, *eps_target = b.eps, *pred, *target;
  method_targets(t, &b, &x0_target, &eps_target);
  prediction_and_target(t, b.xt, x0_target, eps_target, &pred, &target);
  t->per_sample = t->p.learn_sigma ? learned_sigma_loss(t, pred, eps_target, b.xt) : cld_mse_per_sample(g, pred, target); /* (B) */
  t->loss = method_regularisers(t, &b, cld_mean_all(g, cld_mul(g, t->per_sample, t->w)));
  if (!t->loss && !cld_graph_status(g)) cld_graph_fail(g, CLD_ERR_NOMEM, "train: out of memory");
  cld_graph_keep(g, t->loss);
  cld_graph_keep(g, t->per_sample);
  cld_status st = cld_graph_backward(g, t->loss);
  if (!st) st = cld_graph_plan(g, NULL);
  if (st) return cld_seterr(t->ctx, st, "train: building the step graph: %s", cld_graph_status(g) ? cld_graph_errmsg(g) : cld_ctx_errmsg(t->ctx));
  cld_graph_set_seed(g, t->p.seed);
  return CLD_OK;
}
