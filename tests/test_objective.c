/* The learned-range variational bound (objective.c) against guided-diffusion's formulas
 * (golden from tools/golden/make_vlb_golden.py): decoder NLL at t = 0 (all three x0 regions)
 * and the KL at t = 1, 500, 999, in bits per dimension. */
#include "test_util.h"
#include "diffusion/objective.h"

static float *golden(cld_ctx *ctx, cld_safetensors *f, const char *name, int64_t want) {
  int i = cld_safetensors_find(f, name);
  assert_true(i >= 0);
  assert_int_equal(cld_safetensors_numel(f, i), want);
  float *v = tu_alloc((size_t)want);
  TU_OK(ctx, cld_safetensors_read(f, i, v));
  return v;
}

static void test_vlb(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_safetensors *f;
  TU_OK(ctx, cld_safetensors_open(ctx, CLDIFF_SOURCE_DIR "/tests/golden/vlb.safetensors", &f));
  enum { B = 4, N = 64 };
  float *tv = golden(ctx, f, "t", B), *x0 = golden(ctx, f, "x0", N), *xt = golden(ctx, f, "xt", N);
  float *eh = golden(ctx, f, "eps_hat", N), *v = golden(ctx, f, "v", N), *want = golden(ctx, f, "vb", B);
  cld_graph *g = cld_graph_create(ctx);
  int64_t xs[4] = {B, 1, 4, 4}, b4[4] = {B, 1, 1, 1};
  cld_tensor *teh = cld_input(g, "eps_hat", 4, xs), *tv_ = cld_input(g, "v", 4, xs), *tx0 = cld_input(g, "x0", 4, xs);
  cld_tensor *txt = cld_input(g, "xt", 4, xs);
  cld_vlb_inputs in = {cld_input(g, "lbt", 4, b4), cld_input(g, "dlog", 4, b4), cld_input(g, "inv_sab", 4, b4),
                       cld_input(g, "s1", 4, b4),  cld_input(g, "c1", 4, b4),   cld_input(g, "c2", 4, b4),
                       cld_input(g, "is0", 1, (int64_t[]){B}), cld_input(g, "lo", 4, xs), cld_input(g, "hi", 4, xs),
                       cld_input(g, "mid", 4, xs)};
  cld_tensor *vb = cld_vlb_terms(g, teh, tv_, tx0, txt, &in);
  assert_non_null(vb);
  cld_graph_keep(g, vb);
  TU_OK(ctx, cld_graph_plan(g, NULL));
  cld_schedule *s = cld_schedule_create(CLD_BETA_LINEAR, 1000);
  float lbt[B], dlog[B], isab[B], s1[B], c1[B], c2[B], is0[B], lo[N], hi[N], mid[N];
  for (int b = 0; b < B; b++) {
    int t = (int)tv[b];
    cld_vlb_host_values(s, t, &lbt[b], &dlog[b], &isab[b], &c1[b], &c2[b], &is0[b]);
    s1[b] = (float)sqrt(1.0 - s->alpha_bar[t]);
  }
  for (int i = 0; i < N; i++) {
    lo[i] = x0[i] < -0.999f;
    hi[i] = x0[i] > 0.999f;
    mid[i] = !(lo[i] || hi[i]);
  }
  TU_OK(ctx, cld_tensor_write(g, teh, eh));
  TU_OK(ctx, cld_tensor_write(g, tv_, v));
  TU_OK(ctx, cld_tensor_write(g, tx0, x0));
  TU_OK(ctx, cld_tensor_write(g, txt, xt));
  const float *vals[10] = {lbt, dlog, isab, s1, c1, c2, is0, lo, hi, mid};
  cld_tensor *ts[10] = {in.lbt, in.dlog, in.inv_sab, in.s1mab, in.pc1, in.pc2, in.is0, in.m_lo, in.m_hi, in.m_mid};
  for (int i = 0; i < 10; i++) TU_OK(ctx, cld_tensor_write(g, ts[i], vals[i]));
  TU_OK(ctx, cld_graph_compute(g));
  float got[B];
  TU_OK(ctx, cld_tensor_read(g, vb, got));
  for (int b = 0; b < B; b++) {
    fprintf(stderr, "t=%d: vb %.7g bits/dim, guided-diffusion %.7g\n", (int)tv[b], got[b], want[b]);
    assert_true(fabs(got[b] - want[b]) <= 2e-4 * fabs(want[b]) + 1e-6);
  }
  cld_schedule_destroy(s);
  cld_graph_destroy(g);
  cld_safetensors_close(f);
  free(tv); free(x0); free(xt); free(eh); free(v); free(want);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_vlb)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
