/* Graph-level behaviour: memory reuse, and an arena split into chunks (as on devices whose largest
 * buffer is smaller than the arena), give bit-identical results to no reuse (forward and all
 * parameter gradients of a small UNet-like block), a built graph reruns with new inputs, and an
 * MLP trained through the graph with AdamW gets below a fixed loss on a regression problem. */
#include "test_util.h"

typedef struct { cld_graph *g; cld_tensor *x, *out, *loss; } net;

/* x (2,4,9,9) -> conv -> group_norm -> silu -> attention over pixels -> downsample conv ->
 * upsample -> concat skip -> conv -> mse to zero. Exercises most ops and their backward. */
static net build_net(cld_ctx *ctx, cld_store *s, const int *ids) {
  net n;
  cld_graph *g = n.g = cld_graph_create(ctx);
  n.x = cld_input_4d(g, "x", 2, 4, 10, 10);
  cld_tensor *h = cld_conv2d(g, n.x, cld_param(g, s, ids[0]), cld_param(g, s, ids[1]), 1, 1); /* (2,8,10,10) */
  h = cld_silu(g, cld_group_norm(g, h, 4, 1e-5f, cld_param(g, s, ids[2]), cld_param(g, s, ids[3])));
  int64_t s3[3] = {2, 8, 100};
  int p[3] = {0, 2, 1};
  cld_tensor *tok = cld_permute(g, cld_reshape(g, h, 3, s3), p); /* (2,100,8) */
  cld_tensor *att = cld_softmax(g, cld_scale(g, cld_matmul(g, tok, tok, false, true), 0.35f));
  cld_tensor *o = cld_matmul(g, att, tok, false, false); /* (2,100,8) */
  int p2[3] = {0, 2, 1};
  int64_t s4[4] = {2, 8, 10, 10};
  h = cld_add(g, h, cld_reshape(g, cld_permute(g, o, p2), 4, s4));
  cld_tensor *d = cld_conv2d(g, h, cld_param(g, s, ids[4]), NULL, 2, 1); /* (2,8,5,5) */
  cld_tensor *u = cld_upsample_nearest2x(g, cld_dropout(g, d, 0.2f)); /* (2,8,10,10) */
  cld_tensor *c = cld_concat(g, u, h, 1);                              /* (2,16,10,10) */
  n.out = cld_conv2d(g, c, cld_param(g, s, ids[5]), NULL, 1, 1);       /* (2,4,10,10) */
  cld_tensor *t = cld_input_4d(g, "target", 2, 4, 10, 10);
  (void)t;
  n.loss = cld_mean_all(g, cld_square(g, n.out));
  cld_graph_keep(g, n.out);
  cld_graph_keep(g, n.loss);
  return n;
}

static void init_store(cld_store *s) {
  for (int i = 0; i < cld_store_count(s); i++) {
    int64_t k = cld_store_numel(s, i);
    float *w = tu_alloc((size_t)k);
    tu_fill(w, (size_t)k, 50 + (uint32_t)i, -0.4f, 0.4f);
    assert_int_equal(cld_store_write(s, i, w), CLD_OK);
    free(w);
  }
}

static void test_reuse_bit_identical(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_store *s;
  assert_int_equal(cld_store_create(ctx, &s), CLD_OK);
  int ids[6];
  ids[0] = cld_store_add(s, "c1.w", 4, (int64_t[]){8, 4, 3, 3});
  ids[1] = cld_store_add(s, "c1.b", 1, (int64_t[]){8});
  ids[2] = cld_store_add(s, "gn.w", 1, (int64_t[]){8});
  ids[3] = cld_store_add(s, "gn.b", 1, (int64_t[]){8});
  ids[4] = cld_store_add(s, "down.w", 4, (int64_t[]){8, 8, 3, 3});
  ids[5] = cld_store_add(s, "out.w", 4, (int64_t[]){4, 16, 3, 3});
  init_store(s);
  float *x = tu_alloc(2 * 4 * 100);
  tu_fill(x, 800, 3, -1, 1);
  float *outs[3], *grads[3];
  size_t arena[3];
  int64_t total = cld_store_total(s);
  for (int reuse = 0; reuse < 3; reuse++) { /* 0: no reuse, 1: reuse, 2: reuse in 32768-float chunks */
    net n = build_net(ctx, s, ids);
    TU_OK(ctx, cld_graph_backward(n.g, n.loss));
    cld_plan_params pp = cld_plan_params_default();
    pp.reuse_memory = reuse > 0;
    if (reuse == 2) pp.chunk_floats = 32768; /* the largest tensor (im2col of the concat) is 28800 */
    TU_OK(ctx, cld_graph_plan(n.g, &pp));
    arena[reuse] = cld_graph_arena_bytes(n.g);
    TU_OK(ctx, cld_tensor_write(n.g, n.x, x));
    cld_graph_set_seed(n.g, 5);
    TU_OK(ctx, cld_graph_compute(n.g));
    TU_OK(ctx, cld_graph_compute(n.g)); /* run twice: the second run must not see stale state */
    outs[reuse] = tu_alloc(800);
    TU_OK(ctx, cld_tensor_read(n.g, n.out, outs[reuse]));
    grads[reuse] = tu_alloc((size_t)total);
    for (int i = 0, off = 0; i < cld_store_count(s); off += (int)cld_store_numel(s, i), i++)
      TU_OK(ctx, cld_store_read_grad(s, i, grads[reuse] + off));
    cld_graph_destroy(n.g);
  }
  assert_true(arena[1] < arena[0]); /* reuse actually shares memory */
  assert_true(arena[2] > 3 * 32768 * sizeof(float)); /* several chunks */
  assert_memory_equal(outs[0], outs[1], 800 * sizeof(float));
  assert_memory_equal(outs[0], outs[2], 800 * sizeof(float));
  int64_t used = 0;
  for (int i = 0; i < cld_store_count(s); i++) used += cld_store_numel(s, i);
  assert_memory_equal(grads[0], grads[1], (size_t)used * sizeof(float));
  assert_memory_equal(grads[0], grads[2], (size_t)used * sizeof(float));
  double gsum = 0;
  for (int64_t i = 0; i < used; i++) gsum += fabs(grads[0][i]);
  assert_true(gsum > 0); /* gradients reached every parameter */
  for (int r = 0; r < 3; r++) { free(outs[r]); free(grads[r]); }
  /* a tensor larger than a chunk is refused, naming the node */
  net n = build_net(ctx, s, ids);
  cld_plan_params pp = cld_plan_params_default();
  pp.chunk_floats = 1024;
  assert_int_equal(cld_graph_plan(n.g, &pp), CLD_ERR_NOMEM);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "allows per buffer"));
  cld_graph_destroy(n.g);
  free(x);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

/* y = sin(2 x0) * x1 + 0.5 x2^2 on [-1,1]^3, MLP 3-64-64-1 with SiLU, AdamW 1e-2, 400 steps */
static void target_fn(const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = sinf(2 * x[3 * i]) * x[3 * i + 1] + 0.5f * x[3 * i + 2] * x[3 * i + 2];
}

static void test_mlp_trains(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_store *s;
  assert_int_equal(cld_store_create(ctx, &s), CLD_OK);
  int w1 = cld_store_add(s, "l1.weight", 2, (int64_t[]){64, 3}), b1 = cld_store_add(s, "l1.bias", 1, (int64_t[]){64});
  int w2 = cld_store_add(s, "l2.weight", 2, (int64_t[]){64, 64}), b2 = cld_store_add(s, "l2.bias", 1, (int64_t[]){64});
  int w3 = cld_store_add(s, "l3.weight", 2, (int64_t[]){1, 64}), b3 = cld_store_add(s, "l3.bias", 1, (int64_t[]){1});
  int ws[3] = {w1, w2, w3}, fan[3] = {3, 64, 64};
  for (int i = 0; i < 3; i++) {
    int64_t k = cld_store_numel(s, ws[i]);
    float *w = tu_alloc((size_t)k), lim = 1.0f / sqrtf((float)fan[i]);
    tu_fill(w, (size_t)k, 60 + (uint32_t)i, -lim, lim);
    assert_int_equal(cld_store_write(s, ws[i], w), CLD_OK);
    free(w);
  }
  enum { B = 128 };
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *x = cld_input(g, "x", 2, (int64_t[]){B, 3}), *y = cld_input(g, "y", 2, (int64_t[]){B, 1});
  cld_tensor *h = cld_silu(g, cld_linear(g, x, cld_param(g, s, w1), cld_param(g, s, b1)));
  h = cld_silu(g, cld_linear(g, h, cld_param(g, s, w2), cld_param(g, s, b2)));
  cld_tensor *pred = cld_linear(g, h, cld_param(g, s, w3), cld_param(g, s, b3));
  cld_tensor *loss = cld_weighted_mse(g, pred, y, NULL);
  cld_graph_keep(g, loss);
  TU_OK(ctx, cld_graph_backward(g, loss));
  TU_OK(ctx, cld_graph_plan(g, NULL));
  cld_adamw_params ap = cld_adamw_params_default();
  ap.lr = 1e-2f;
  cld_optim *opt;
  TU_OK(ctx, cld_optim_create(s, &ap, &opt));
  float xb[B * 3], yb[B], l = 0, first = 0;
  for (int step = 0; step < 400; step++) {
    cld_rng_uniform_host(3, 9, (uint64_t)step * B * 3, B * 3, xb);
    for (int i = 0; i < B * 3; i++) xb[i] = 2 * xb[i] - 1;
    target_fn(xb, yb, B);
    TU_OK(ctx, cld_tensor_write(g, x, xb));
    TU_OK(ctx, cld_tensor_write(g, y, yb));
    TU_OK(ctx, cld_graph_compute(g));
    TU_OK(ctx, cld_optim_step(opt, ap.lr * (step < 300 ? 1.0f : 0.1f)));
    if (step == 0 || step >= 390) {
      TU_OK(ctx, cld_tensor_read(g, loss, &l));
      if (step == 0) first = l;
    }
  }
  fprintf(stderr, "mlp: loss %.4f -> %.5f\n", first, l);
  assert_true(first > 0.05f);
  assert_true(l < 0.004f);
  cld_optim_destroy(opt);
  cld_graph_destroy(g);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

/* stop-gradient: d/dx sum(x^2 + detach(3x)) = 2x exactly, while the value includes 3x */
static void test_detach(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *x = cld_input(g, "x", 1, (int64_t[]){37});
  cld_set_requires_grad(x, true);
  cld_tensor *y = cld_sum_all(g, cld_add(g, cld_square(g, x), cld_detach(g, cld_scale(g, x, 3.0f))));
  cld_graph_keep(g, y);
  TU_OK(ctx, cld_graph_backward(g, y));
  TU_OK(ctx, cld_graph_plan(g, NULL));
  float xv[37], gv[37], yv;
  tu_fill(xv, 37, 8, -1, 1);
  TU_OK(ctx, cld_tensor_write(g, x, xv));
  TU_OK(ctx, cld_graph_compute(g));
  TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(x), gv));
  TU_OK(ctx, cld_tensor_read(g, y, &yv));
  double want = 0;
  for (int i = 0; i < 37; i++) {
    assert_true(gv[i] == 2 * xv[i]);
    want += (double)xv[i] * xv[i] + 3.0 * xv[i];
  }
  assert_true(fabs(yv - want) < 1e-4);
  cld_graph_destroy(g);
  cld_ctx_destroy(ctx);
}

/* gates: y = sum(3x [gate 1, kept] + x^2 [gate 2] + 2x [gate 0]); a skipped gate's part reads as
 * zeros in the value, in x's gradient (accumulated at x's gate 0) and in the kept tensor */
static void test_gates(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *x = cld_input(g, "x", 1, (int64_t[]){37});
  cld_set_requires_grad(x, true);
  cld_graph_set_gate(g, 1);
  cld_tensor *z1 = cld_scale(g, x, 3.0f);
  cld_graph_set_gate(g, 2);
  cld_tensor *z2 = cld_square(g, x);
  cld_graph_set_gate(g, 0);
  cld_tensor *a = cld_scale(g, x, 2.0f); /* built last: its gradient part comes first, the gated parts add to it */
  cld_tensor *y = cld_sum_all(g, cld_add(g, cld_add(g, a, z1), z2));
  cld_graph_keep(g, y);
  cld_graph_keep(g, z1);
  TU_OK(ctx, cld_graph_backward(g, y));
  TU_OK(ctx, cld_graph_plan(g, NULL));
  float xv[37], gv[37], zv[37], yv;
  tu_fill(xv, 37, 9, -1, 1);
  TU_OK(ctx, cld_tensor_write(g, x, xv));
  const int limits[4] = {1, 2, 0, 1}; /* 0: none; back to 1 after a full compute */
  for (int k = 0; k < 4; k++) {
    int L = limits[k];
    cld_graph_set_gate_limit(g, L);
    TU_OK(ctx, cld_graph_compute(g));
    TU_OK(ctx, cld_tensor_read(g, cld_tensor_grad(x), gv));
    TU_OK(ctx, cld_tensor_read(g, z1, zv));
    TU_OK(ctx, cld_tensor_read(g, y, &yv));
    bool g1 = L == 0 || L > 1, g2 = L == 0 || L > 2;
    double want = 0;
    for (int i = 0; i < 37; i++) {
      double d = 2.0 + (g1 ? 3.0 : 0.0) + (g2 ? 2.0 * xv[i] : 0.0);
      assert_true(fabs(gv[i] - d) <= 1e-6 * fabs(d));
      if (!g2) assert_true(gv[i] == (float)d); /* 2 or 2 + 3: exact */
      assert_true(zv[i] == (g1 ? 3.0f * xv[i] : 0.0f));
      want += 2.0 * xv[i] + (g1 ? 3.0 * xv[i] : 0.0) + (g2 ? (double)xv[i] * xv[i] : 0.0);
    }
    assert_true(fabs(yv - want) < 1e-4);
  }
  cld_graph_destroy(g);
  /* a parameter used only under a gate: its gradient lands in the store from the gated branch,
   * and reads as zeros (not the last full compute's values) while the gate is skipped */
  cld_store *st;
  TU_OK(ctx, cld_store_create(ctx, &st));
  int wid = cld_store_add(st, "w", 1, (int64_t[]){37});
  float wv[37];
  tu_fill(wv, 37, 10, -1, 1);
  TU_OK(ctx, cld_store_write(st, wid, wv));
  g = cld_graph_create(ctx);
  x = cld_input(g, "x", 1, (int64_t[]){37});
  cld_graph_set_gate(g, 1);
  cld_tensor *wx = cld_mul(g, cld_param(g, st, wid), x);
  cld_graph_set_gate(g, 0);
  y = cld_sum_all(g, cld_add(g, cld_scale(g, x, 2.0f), wx));
  TU_OK(ctx, cld_graph_backward(g, y));
  TU_OK(ctx, cld_graph_plan(g, NULL));
  TU_OK(ctx, cld_tensor_write(g, x, xv));
  for (int k = 0; k < 2; k++) {
    cld_graph_set_gate_limit(g, k ? 1 : 0);
    TU_OK(ctx, cld_graph_compute(g));
    TU_OK(ctx, cld_store_read_grad(st, wid, gv));
    for (int i = 0; i < 37; i++) assert_true(gv[i] == (k ? 0.0f : xv[i]));
  }
  cld_graph_destroy(g);
  cld_store_destroy(st);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reuse_bit_identical),
      cmocka_unit_test(test_mlp_trains),
      cmocka_unit_test(test_detach),
      cmocka_unit_test(test_gates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
