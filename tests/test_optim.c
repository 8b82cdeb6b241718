/* AdamW (bias correction, decoupled weight decay, global-norm clipping) and EMA against a
 * double-precision host reference over several steps. */
#include "test_util.h"

static void test_adamw_and_ema(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_store *s;
  assert_int_equal(cld_store_create(ctx, &s), CLD_OK);
  int a = cld_store_add(s, "a", 2, (int64_t[]){7, 13}), b = cld_store_add(s, "b", 1, (int64_t[]){5});
  int64_t na = 91, nb = 5, n = na + nb;
  float p0[96], x[96];
  tu_fill(p0, (size_t)n, 1, -1, 1);
  tu_fill(x, (size_t)n, 2, -2, 2);
  assert_int_equal(cld_store_write(s, a, p0), CLD_OK);
  assert_int_equal(cld_store_write(s, b, p0 + na), CLD_OK);
  /* loss = sum(p * x) + sum(p^2): gradient x + 2p, computed by the graph */
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *pa = cld_param(g, s, a), *pb = cld_param(g, s, b);
  cld_tensor *xa = cld_input(g, "xa", 2, (int64_t[]){7, 13}), *xb = cld_input(g, "xb", 1, (int64_t[]){5});
  cld_tensor *loss = cld_add(g, cld_sum_all(g, cld_add(g, cld_mul(g, pa, xa), cld_square(g, pa))),
                             cld_sum_all(g, cld_add(g, cld_mul(g, pb, xb), cld_square(g, pb))));
  TU_OK(ctx, cld_graph_backward(g, loss));
  TU_OK(ctx, cld_graph_plan(g, NULL));
  TU_OK(ctx, cld_tensor_write(g, xa, x));
  TU_OK(ctx, cld_tensor_write(g, xb, x + na));
  cld_adamw_params ap = {0.05f, 0.9f, 0.99f, 1e-6f, 0.1f, 2.0f}; /* clip 2.0 is active: |g| ~ 10 */
  cld_optim *o;
  TU_OK(ctx, cld_optim_create(s, &ap, &o));
  cld_ema *ema;
  TU_OK(ctx, cld_ema_create(s, &ema));
  double p[96], m[96] = {0}, v[96] = {0}, e[96];
  for (int i = 0; i < n; i++) p[i] = e[i] = p0[i];
  for (int t = 1; t <= 4; t++) {
    float lr = 0.05f / (float)t;
    TU_OK(ctx, cld_graph_compute(g));
    TU_OK(ctx, cld_optim_step(o, lr));
    TU_OK(ctx, cld_ema_update(ema, 0.9f));
    double gn = 0, gr[96];
    for (int i = 0; i < n; i++) { gr[i] = x[i] + 2 * p[i]; gn += gr[i] * gr[i]; }
    gn = sqrt(gn);
    float dn;
    TU_OK(ctx, cld_optim_last_grad_norm(o, &dn));
    assert_true(fabs(dn - gn) < 1e-4 * gn);
    double sc = fmin(1.0, 2.0 / (gn + 1e-6));
    for (int i = 0; i < n; i++) {
      double gi = gr[i] * sc;
      m[i] = 0.9 * m[i] + 0.1 * gi;
      v[i] = 0.99 * v[i] + 0.01 * gi * gi;
      double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.99, t));
      p[i] = p[i] * (1 - lr * 0.1) - lr * mh / (sqrt(vh) + 1e-6);
      e[i] = 0.9 * e[i] + 0.1 * p[i];
    }
  }
  float got[96], all[128];
  TU_OK(ctx, cld_store_read(s, a, got));
  TU_OK(ctx, cld_store_read(s, b, got + na));
  tu_close(got, p, (size_t)n, 1e-5, 1e-6, "adamw params");
  TU_OK(ctx, cld_ema_read(ema, all));
  float eg[96];
  memcpy(eg, all, (size_t)na * sizeof(float));
  memcpy(eg + na, all + 96, (size_t)nb * sizeof(float)); /* b's slot starts at the 64-byte aligned offset 96 */
  tu_close(eg, e, (size_t)n, 1e-5, 1e-6, "ema");
  assert_int_equal(cld_optim_step_count(o), 4);
  cld_ema_destroy(ema);
  cld_optim_destroy(o);
  cld_graph_destroy(g);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_adamw_and_ema)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
