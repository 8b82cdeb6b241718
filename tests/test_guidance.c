/* Class-conditional sampling and classifier-free guidance (src/samplers/guidance.c), on the golden
 * class-table UNet (5 rows: classes 0..3, row 4 taken as the null class):
 *   W = 1 is the plain conditional model: bit-identical to a hand-made conditional denoiser;
 *   W != 1 is out_u + W (out_c - out_u) of two separate forwards (to rounding: the doubled batch);
 *   no class is the null class; images do not depend on the batch size; the misuses are refused. */
#include "test_util.h"
#include "samplers/sampler.h"

#define GOLDEN CLDIFF_SOURCE_DIR "/tests/golden/unet_class_table"
enum { N = 7, S = 8, C = 3, PER = C * S * S };

typedef struct { cld_model *m; cld_graph *g; cld_tensor *x, *t, *cond, *y; int B; const int *labels; } hand;

/* a conditional denoiser made from the public API, independent of guidance.c */
static void hand_init(cld_ctx *ctx, cld_model *m, int B, hand *h) {
  h->m = m;
  h->B = B;
  h->g = cld_graph_create(ctx);
  h->x = cld_input_4d(h->g, "x", B, C, S, S);
  h->t = cld_input(h->g, "t", 1, (int64_t[]){B});
  h->cond = cld_model_class_input(m, h->g, B);
  h->y = cld_model_forward_cond(m, h->g, h->x, h->t, h->cond);
  assert_non_null(h->y);
  cld_graph_keep(h->g, h->y);
  cld_graph_set_training(h->g, false);
  TU_OK(ctx, cld_graph_plan(h->g, NULL));
}
static cld_status hand_run(hand *h, const float *x, const float *t, const int *labels, float *out) {
  cld_status st;
  if ((st = cld_tensor_write(h->g, h->x, x)) || (st = cld_tensor_write(h->g, h->t, t)) ||
      (st = cld_model_class_write(h->m, h->g, h->cond, labels, h->B)) || (st = cld_graph_compute(h->g)))
    return st;
  return cld_tensor_read(h->g, h->y, out);
}
/* one image at a time (batch 1), conditional on labels[image] */
typedef struct { hand c, u; float W; const int *labels; int64_t next; } guide_ref;
static cld_status ref_denoise(void *user, const float *x, const float *t, int batch, float *out) {
  guide_ref *r = user;
  (void)batch;
  float yc[PER], yu[PER];
  int lc = r->labels[r->next], lu = 4;
  cld_status st;
  if ((st = hand_run(&r->c, x, t, &lc, yc))) return st;
  if (r->W == 1.0f) { memcpy(out, yc, sizeof yc); return CLD_OK; }
  if ((st = hand_run(&r->u, x, t, &lu, yu))) return st;
  for (int k = 0; k < PER; k++) out[k] = yu[k] + r->W * (yc[k] - yu[k]);
  return CLD_OK;
}

/* the reference: image by image through cld_sample_with (batch 1), so no batching is shared */
static void reference(cld_ctx *ctx, cld_model *m, const cld_sample_params *p, const int *labels, float W, float *out) {
  guide_ref r = {.W = W, .labels = labels};
  hand_init(ctx, m, 1, &r.c);
  hand_init(ctx, m, 1, &r.u);
  cld_sample_params q = *p;
  q.batch = 1;
  q.classes = NULL;
  q.guidance = 1.0f;
  for (int64_t i = 0; i < N; i++) {
    r.next = i;
    TU_OK(ctx, cld_sample_with(ctx, ref_denoise, &r, C, S, S, &q, i, 1, out + i * PER, NULL, NULL));
  }
  cld_graph_destroy(r.c.g);
  cld_graph_destroy(r.u.g);
}

static double max_rel(const float *a, const float *b, int n) {
  double worst = 0, scale = 0;
  for (int i = 0; i < n; i++) {
    worst = fmax(worst, fabs((double)a[i] - b[i]));
    scale = fmax(scale, fabs((double)b[i]));
  }
  return worst / scale;
}

static void test_guidance(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_store *s;
  cld_model *m;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_load(ctx, GOLDEN, s, &m));
  const int classes[3] = {2, 0, 3};
  int labels[N];
  for (int i = 0; i < N; i++) labels[i] = classes[i % 3];
  cld_sample_params p = cld_sample_params_default();
  p.steps = 4;
  p.seed = 9;
  p.batch = 3;
  p.classes = classes;
  p.n_classes = 3;
  p.null_class = 4;
  float *got = tu_alloc(N * PER), *want = tu_alloc(N * PER), *other = tu_alloc(N * PER);
  /* W = 1: the plain conditional model, bit for bit */
  TU_OK(ctx, cld_sample(ctx, m, &p, 0, N, S, S, got, NULL, NULL));
  reference(ctx, m, &p, labels, 1.0f, want);
  assert_memory_equal(got, want, N * PER * sizeof(float));
  /* W = 3: the guided combination of two forwards (the doubled batch rounds apart) */
  p.guidance = 3.0f;
  TU_OK(ctx, cld_sample(ctx, m, &p, 0, N, S, S, got, NULL, NULL));
  reference(ctx, m, &p, labels, 3.0f, want);
  double rel = max_rel(got, want, N * PER);
  if (getenv("CLDIFF_TEST_VERBOSE")) fprintf(stderr, "guided W=3: max difference %.3g of the scale\n", rel);
  assert_true(rel < 1e-5);
  /* guidance moves the images: W = 3 is far from W = 1 */
  p.guidance = 1.0f;
  TU_OK(ctx, cld_sample(ctx, m, &p, 0, N, S, S, other, NULL, NULL));
  assert_true(max_rel(got, other, N * PER) > 1e-2);
  /* the batch size does not matter, guided, with dpm++2m too */
  p.guidance = 2.5f;
  p.sampler = CLD_SAMPLER_DPMPP_2M;
  p.batch = 7;
  TU_OK(ctx, cld_sample(ctx, m, &p, 0, N, S, S, got, NULL, NULL));
  p.batch = 2;
  TU_OK(ctx, cld_sample(ctx, m, &p, 0, N, S, S, other, NULL, NULL));
  assert_memory_equal(got, other, N * PER * sizeof(float));
  /* and with Time-Shift (DDIM): every image's own model time, the same in the doubled rows */
  p.sampler = CLD_SAMPLER_DDIM;
  p.ts.window = 40;
  TU_OK(ctx, cld_sample(ctx, m, &p, 0, N, S, S, got, NULL, NULL));
  p.batch = 5;
  TU_OK(ctx, cld_sample(ctx, m, &p, 0, N, S, S, other, NULL, NULL));
  assert_memory_equal(got, other, N * PER * sizeof(float));
  p.ts.window = 0;
  /* no class: the null class for every image */
  p.guidance = 1.0f;
  p.classes = NULL;
  TU_OK(ctx, cld_sample(ctx, m, &p, 0, N, S, S, got, NULL, NULL));
  const int null_only[1] = {4};
  p.classes = null_only;
  p.n_classes = 1;
  TU_OK(ctx, cld_sample(ctx, m, &p, 0, N, S, S, other, NULL, NULL));
  assert_memory_equal(got, other, N * PER * sizeof(float));
  /* refused: no null class without a class, guidance without a null class, a label off the table */
  p.classes = NULL;
  p.null_class = -1;
  assert_int_equal(cld_sample(ctx, m, &p, 0, N, S, S, got, NULL, NULL), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "label dropout"));
  p.classes = classes;
  p.guidance = 2.0f;
  assert_int_equal(cld_sample(ctx, m, &p, 0, N, S, S, got, NULL, NULL), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "guidance"));
  const int off[1] = {5};
  p.classes = off;
  p.guidance = 1.0f;
  assert_int_equal(cld_sample(ctx, m, &p, 0, N, S, S, got, NULL, NULL), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "class label 5"));
  cld_model_destroy(m);
  cld_store_destroy(s);
  /* an unconditional model refuses classes and guidance */
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_load(ctx, CLDIFF_SOURCE_DIR "/tests/golden/unet_tiny", s, &m));
  p.classes = classes;
  assert_int_equal(cld_sample(ctx, m, &p, 0, N, S, S, got, NULL, NULL), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "without class conditioning"));
  cld_model_destroy(m);
  cld_store_destroy(s);
  free(got);
  free(want);
  free(other);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_guidance)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
