/* UNet parity with diffusers' UNet2DModel, from golden files made by
 * tools/golden/make_unet_golden.py: outputs (error <= 1e-4 of the output's scale) and, for the
 * small models, every parameter gradient of an MSE loss; the google/ddpm-cifar10-32 config with
 * formula weights; a checkpoint written by cldiff and run by diffusers. Also config errors. */
#include "test_util.h"
#include <sys/stat.h>

#define GOLDEN CLDIFF_SOURCE_DIR "/tests/golden"

static float *read_named(cld_ctx *ctx, cld_safetensors *io, const char *name, int64_t *n) {
  int i = cld_safetensors_find(io, name);
  if (i < 0) fprintf(stderr, "golden tensor '%s' missing\n", name);
  assert_true(i >= 0);
  *n = cld_safetensors_numel(io, i);
  float *v = tu_alloc((size_t)*n);
  TU_OK(ctx, cld_safetensors_read(io, i, v));
  return v;
}

static double max_abs(const float *v, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
  return m;
}

/* |got - want| <= rel * max(max|want|, floor) for every element */
static void close_scaled_floor(const float *got, const float *want, int64_t n, double rel, double floor, const char *what) {
  double scale = fmax(max_abs(want, n), floor), worst = 0;
  for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
  if (getenv("CLDIFF_TEST_VERBOSE")) fprintf(stderr, "%s: max error %.3g of scale\n", what, worst / scale);
  if (!(worst <= rel * scale)) {
    fprintf(stderr, "%s: max error %.3g vs scale %.3g (allowed %.1g of scale)\n", what, worst, scale, rel);
    fail();
  }
}
static void close_scaled(const float *got, const float *want, int64_t n, double rel, const char *what) {
  close_scaled_floor(got, want, n, rel, 0.0, what);
}

typedef struct { cld_graph *g; cld_tensor *x, *t, *cond, *out, *target, *loss; } fwd;

/* the class input of a conditional model, made here by hand (the model API's is tested on its own) */
static cld_tensor *class_input(cld_graph *g, const cld_unet_config *c, int64_t n) {
  switch (c->class_embed) {
  case CLD_CLASS_TABLE: return cld_input(g, "onehot", 2, (int64_t[]){n, c->num_class_embeds});
  case CLD_CLASS_TIMESTEP: return cld_input(g, "labels", 1, (int64_t[]){n});
  case CLD_CLASS_IDENTITY: return cld_input(g, "vectors", 2, (int64_t[]){n, 4 * c->block_out_channels[0]});
  default: return NULL;
  }
}

static fwd build(cld_ctx *ctx, cld_unet *u, int64_t n, int64_t c, int64_t h, int64_t w, bool with_loss) {
  fwd f = {0};
  f.g = cld_graph_create(ctx);
  f.x = cld_input_4d(f.g, "x", n, c, h, w);
  f.t = cld_input(f.g, "t", 1, (int64_t[]){n});
  f.cond = class_input(f.g, cld_unet_get_config(u), n);
  /* a forward-only graph is built as the samplers build it (training off first), so that its
   * attention takes the fused kernel where that applies (cifar10-ddpm's 16x16, 256 channels) */
  if (!with_loss) cld_graph_set_training(f.g, false);
  f.out = cld_unet_forward_cond(u, f.g, f.x, f.t, f.cond);
  if (!f.out) fprintf(stderr, "forward: %s\n", cld_graph_errmsg(f.g));
  assert_non_null(f.out);
  cld_graph_keep(f.g, f.out);
  if (with_loss) {
    f.target = cld_input(f.g, "target", 4, (int64_t[]){n, cld_tensor_dim(f.out, 1), h, w});
    f.loss = cld_weighted_mse(f.g, f.out, f.target, NULL);
    cld_graph_keep(f.g, f.loss);
    TU_OK(ctx, cld_graph_backward(f.g, f.loss));
  }
  TU_OK(ctx, cld_graph_plan(f.g, NULL));
  return f;
}

static void grads_case(const char *name) {
  cld_ctx *ctx = tu_ctx();
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/%s", GOLDEN, name);
  cld_store *s;
  TU_OK(ctx, cld_store_create(ctx, &s));
  cld_unet *u;
  TU_OK(ctx, cld_unet_load(ctx, dir, s, &u));
  snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
  cld_safetensors *wf, *io;
  TU_OK(ctx, cld_safetensors_open(ctx, path, &wf));
  assert_int_equal(cld_safetensors_count(wf), cld_store_count(s)); /* same parameter set, one to one */
  cld_safetensors_close(wf);
  snprintf(path, sizeof path, "%s/io.safetensors", dir);
  TU_OK(ctx, cld_safetensors_open(ctx, path, &io));
  int64_t nx, nt, ny, ntg, nl;
  float *x = read_named(ctx, io, "x", &nx), *t = read_named(ctx, io, "t", &nt), *y = read_named(ctx, io, "out", &ny);
  float *tg = read_named(ctx, io, "target", &ntg), *loss = read_named(ctx, io, "loss", &nl);
  int64_t shp[8];
  cld_safetensors_shape(io, cld_safetensors_find(io, "x"), shp);
  fwd f = build(ctx, u, shp[0], shp[1], shp[2], shp[3], true);
  TU_OK(ctx, cld_tensor_write(f.g, f.x, x));
  TU_OK(ctx, cld_tensor_write(f.g, f.t, t));
  TU_OK(ctx, cld_tensor_write(f.g, f.target, tg));
  const cld_unet_config *uc = cld_unet_get_config(u);
  if (uc->class_embed != CLD_CLASS_NONE) { /* labels as floats, or identity's vectors */
    int64_t nc;
    float *cv = read_named(ctx, io, uc->class_embed == CLD_CLASS_IDENTITY ? "class_vectors" : "class_labels", &nc);
    if (uc->class_embed == CLD_CLASS_TABLE) {
      float *oh = calloc((size_t)(shp[0] * uc->num_class_embeds), sizeof *oh);
      for (int64_t i = 0; i < shp[0]; i++) oh[i * uc->num_class_embeds + (int64_t)cv[i]] = 1.0f;
      TU_OK(ctx, cld_tensor_write(f.g, f.cond, oh));
      free(oh);
    } else {
      TU_OK(ctx, cld_tensor_write(f.g, f.cond, cv));
    }
    free(cv);
  }
  TU_OK(ctx, cld_graph_compute(f.g));
  float *got = tu_alloc((size_t)ny), gl;
  TU_OK(ctx, cld_tensor_read(f.g, f.out, got));
  close_scaled(got, y, ny, 1e-4, name);
  TU_OK(ctx, cld_tensor_read(f.g, f.loss, &gl));
  assert_true(fabs(gl - loss[0]) <= 1e-4 * loss[0]);
  /* a parameter whose true gradient is 0 (e.g. to_k.bias: softmax ignores a per-query constant)
   * holds rounding noise on both sides, so each tensor's scale has a floor of 1e-4 of the
   * largest gradient of the model */
  double global = 0;
  for (int i = 0; i < cld_store_count(s); i++) {
    char gname[160];
    snprintf(gname, sizeof gname, "grad.%s", cld_store_name(s, i));
    int64_t ng;
    float *want = read_named(ctx, io, gname, &ng);
    global = fmax(global, max_abs(want, ng));
    free(want);
  }
  for (int i = 0; i < cld_store_count(s); i++) {
    char gname[160];
    snprintf(gname, sizeof gname, "grad.%s", cld_store_name(s, i));
    int64_t ng;
    float *want = read_named(ctx, io, gname, &ng), *have = tu_alloc((size_t)ng);
    assert_int_equal(ng, cld_store_numel(s, i));
    TU_OK(ctx, cld_store_read_grad(s, i, have));
    close_scaled_floor(have, want, ng, 1e-3, 1e-4 * global, gname);
    free(want);
    free(have);
  }
  fprintf(stderr, "%s: %lld parameters, output and all gradients match diffusers\n", name, (long long)cld_unet_param_count(u));
  free(x); free(t); free(y); free(tg); free(loss); free(got);
  cld_safetensors_close(io);
  cld_graph_destroy(f.g);
  cld_unet_destroy(u);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

static void test_tiny(void **state) { (void)state; grads_case("unet_tiny"); }
static void test_ddpm_options(void **state) { (void)state; grads_case("unet_ddpmopts"); }
static void test_class_table(void **state) { (void)state; grads_case("unet_class_table"); }
static void test_class_timestep(void **state) { (void)state; grads_case("unet_class_timestep"); }
static void test_class_identity(void **state) { (void)state; grads_case("unet_class_identity"); }

/* the model API's class input (cld_model_class_input / _write) gives diffusers' output, and the
 * wrong uses fail with what is wrong named */
static void test_class_model_api(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_store *s;
  TU_OK(ctx, cld_store_create(ctx, &s));
  cld_model *m;
  TU_OK(ctx, cld_model_load(ctx, GOLDEN "/unet_class_table", s, &m));
  assert_int_equal(cld_model_class_kind(m), CLD_CLASS_TABLE);
  assert_int_equal(cld_model_class_count(m), 5);
  cld_safetensors *io;
  TU_OK(ctx, cld_safetensors_open(ctx, GOLDEN "/unet_class_table/io.safetensors", &io));
  int64_t nx, nt, ny, nc;
  float *x = read_named(ctx, io, "x", &nx), *t = read_named(ctx, io, "t", &nt), *y = read_named(ctx, io, "out", &ny);
  float *cl = read_named(ctx, io, "class_labels", &nc);
  int labels[3] = {(int)cl[0], (int)cl[1], (int)cl[2]};
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *xi = cld_input_4d(g, "x", 3, 3, 8, 8), *ti = cld_input(g, "t", 1, (int64_t[]){3});
  cld_tensor *ci = cld_model_class_input(m, g, 3), *out = cld_model_forward_cond(m, g, xi, ti, ci);
  assert_non_null(out);
  cld_graph_keep(g, out);
  TU_OK(ctx, cld_graph_plan(g, NULL));
  TU_OK(ctx, cld_tensor_write(g, xi, x));
  TU_OK(ctx, cld_tensor_write(g, ti, t));
  TU_OK(ctx, cld_model_class_write(m, g, ci, labels, 3));
  TU_OK(ctx, cld_graph_compute(g));
  float *got = tu_alloc((size_t)ny);
  TU_OK(ctx, cld_tensor_read(g, out, got));
  close_scaled(got, y, ny, 1e-4, "class model api");
  /* a label outside the table: refused with the label and the sample named */
  int bad[3] = {3, 5, 0};
  assert_int_equal(cld_model_class_write(m, g, ci, bad, 3), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "class label 5 of sample 1"));
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "0..4"));
  bad[1] = -1;
  assert_int_equal(cld_model_class_write(m, g, ci, bad, 3), CLD_ERR_INVALID_ARG);
  cld_graph_destroy(g);
  /* a conditional model without labels */
  g = cld_graph_create(ctx);
  xi = cld_input_4d(g, "x", 3, 3, 8, 8);
  ti = cld_input(g, "t", 1, (int64_t[]){3});
  assert_null(cld_model_forward(m, g, xi, ti));
  assert_non_null(strstr(cld_graph_errmsg(g), "needs class labels"));
  cld_graph_destroy(g);
  cld_model_destroy(m);
  cld_store_destroy(s);
  /* an unconditional model given labels */
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_load(ctx, GOLDEN "/unet_tiny", s, &m));
  g = cld_graph_create(ctx);
  xi = cld_input_4d(g, "x", 2, 3, 8, 8);
  ti = cld_input(g, "t", 1, (int64_t[]){2});
  assert_null(cld_model_class_input(m, g, 2));
  assert_null(cld_model_forward_cond(m, g, xi, ti, cld_input(g, "c", 2, (int64_t[]){2, 5})));
  cld_graph_destroy(g);
  cld_model_destroy(m);
  cld_store_destroy(s);
  free(x); free(t); free(y); free(cl); free(got);
  cld_safetensors_close(io);
  cld_ctx_destroy(ctx);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void test_cifar10_config(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  FILE *f = fopen(GOLDEN "/unet_cifar10/config.json", "rb");
  assert_non_null(f);
  char text[8192];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = 0;
  fclose(f);
  cld_unet_config c, preset;
  char err[256];
  assert_int_equal(cld_unet_config_parse(text, &c, err, sizeof err), CLD_OK);
  assert_int_equal(cld_unet_preset("cifar10-ddpm", &preset), CLD_OK);
  preset.dropout = c.dropout; /* the preset trains with dropout 0.1; the architecture is the same */
  assert_memory_equal(&c, &preset, sizeof c);
  cld_store *s;
  TU_OK(ctx, cld_store_create(ctx, &s));
  cld_unet *u;
  TU_OK(ctx, cld_unet_create(ctx, &c, s, &u));
  assert_int_equal(cld_unet_param_count(u), 35746307); /* the DDPM paper's 35.7M */
  /* weights: parameter k in sorted-name order, element i: 0.05 sin(0.37 i + 1.3 k) */
  int np = cld_store_count(s);
  const char **names = malloc((size_t)np * sizeof *names);
  for (int i = 0; i < np; i++) names[i] = cld_store_name(s, i);
  qsort(names, (size_t)np, sizeof *names, cmp_names);
  for (int k = 0; k < np; k++) {
    int id = cld_store_find(s, names[k]);
    int64_t m = cld_store_numel(s, id);
    float *v = tu_alloc((size_t)m);
    for (int64_t i = 0; i < m; i++) v[i] = (float)(0.05 * sin(0.37 * (double)i + 1.3 * k));
    TU_OK(ctx, cld_store_write(s, id, v));
    free(v);
  }
  free(names);
  cld_safetensors *io;
  TU_OK(ctx, cld_safetensors_open(ctx, GOLDEN "/unet_cifar10/io.safetensors", &io));
  int64_t nx, nt, ny;
  float *x = read_named(ctx, io, "x", &nx), *t = read_named(ctx, io, "t", &nt), *y = read_named(ctx, io, "out", &ny);
  fwd fw = build(ctx, u, 1, 3, 32, 32, false);
  TU_OK(ctx, cld_tensor_write(fw.g, fw.x, x));
  TU_OK(ctx, cld_tensor_write(fw.g, fw.t, t));
  TU_OK(ctx, cld_graph_compute(fw.g));
  float *got = tu_alloc((size_t)ny);
  TU_OK(ctx, cld_tensor_read(fw.g, fw.out, got));
  close_scaled(got, y, ny, 1e-4, "unet_cifar10");
  free(x); free(t); free(y); free(got);
  cld_safetensors_close(io);
  cld_graph_destroy(fw.g);
  cld_unet_destroy(u);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

/* cldiff writes a checkpoint (CLDIFF_WRITE_GOLDEN=1 regenerates it), diffusers ran it */
static void test_cldiff_written(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  const char *dir = GOLDEN "/cldiff_written";
  cld_store *s;
  TU_OK(ctx, cld_store_create(ctx, &s));
  cld_unet *u;
  if (getenv("CLDIFF_WRITE_GOLDEN")) {
    cld_unet_config c;
    assert_int_equal(cld_unet_preset("tiny", &c), CLD_OK);
    c.in_channels = c.out_channels = 1;
    TU_OK(ctx, cld_unet_create(ctx, &c, s, &u));
    TU_OK(ctx, cld_unet_init(u, 1));
    TU_OK(ctx, cld_unet_save(u, s, dir));
    fprintf(stderr, "wrote %s; now run tools/golden/make_unet_golden.py\n", dir);
  } else {
    TU_OK(ctx, cld_unet_load(ctx, dir, s, &u));
    cld_safetensors *io;
    TU_OK(ctx, cld_safetensors_open(ctx, GOLDEN "/cldiff_written/io.safetensors", &io));
    int64_t nx, nt, ny;
    float *x = read_named(ctx, io, "x", &nx), *t = read_named(ctx, io, "t", &nt), *y = read_named(ctx, io, "out", &ny);
    fwd fw = build(ctx, u, 2, 1, 8, 8, false);
    TU_OK(ctx, cld_tensor_write(fw.g, fw.x, x));
    TU_OK(ctx, cld_tensor_write(fw.g, fw.t, t));
    TU_OK(ctx, cld_graph_compute(fw.g));
    float *got = tu_alloc((size_t)ny);
    TU_OK(ctx, cld_tensor_read(fw.g, fw.out, got));
    close_scaled(got, y, ny, 1e-4, "cldiff_written");
    free(x); free(t); free(y); free(got);
    cld_safetensors_close(io);
    cld_graph_destroy(fw.g);
  }
  cld_unet_destroy(u);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

static void test_config_errors(void **state) {
  (void)state;
  cld_unet_config c;
  char err[256];
  assert_int_equal(cld_unet_config_parse("{\"act_fn\": \"gelu\"}", &c, err, sizeof err), CLD_ERR_FORMAT);
  assert_non_null(strstr(err, "act_fn"));
  assert_int_equal(cld_unet_config_parse("{\"block_out_channels\": [32, 64]}", &c, err, sizeof err), CLD_ERR_FORMAT);
  assert_non_null(strstr(err, "down_block_types"));
  assert_int_equal(cld_unet_config_parse("{\"down_block_types\": [\"CrossAttnDownBlock2D\",\"DownBlock2D\",\"DownBlock2D\",\"DownBlock2D\"]}",
                                         &c, err, sizeof err), CLD_ERR_FORMAT);
  assert_non_null(strstr(err, "CrossAttnDownBlock2D"));
  assert_int_equal(cld_unet_config_parse("not json", &c, err, sizeof err), CLD_ERR_FORMAT);
  /* diffusers' own bookkeeping keys and the default time embedding width are accepted */
  assert_int_equal(cld_unet_config_parse("{\"_name_or_path\": \"x\", \"time_embedding_dim\": 896, \"mid_block_type\": \"UNetMidBlock2D\"}",
                                         &c, err, sizeof err), CLD_OK);
  /* the three kinds of class conditioning, and a config written back keeps them */
  assert_int_equal(cld_unet_config_parse("{\"num_class_embeds\": 11}", &c, err, sizeof err), CLD_OK);
  assert_int_equal(c.class_embed, CLD_CLASS_TABLE);
  assert_int_equal(c.num_class_embeds, 11);
  char *js = cld_unet_config_json(&c);
  cld_unet_config back;
  assert_int_equal(cld_unet_config_parse(js, &back, err, sizeof err), CLD_OK);
  assert_int_equal(back.class_embed, CLD_CLASS_TABLE);
  assert_int_equal(back.num_class_embeds, 11);
  free(js);
  assert_int_equal(cld_unet_config_parse("{\"class_embed_type\": \"timestep\", \"num_class_embeds\": 4}", &c, err, sizeof err), CLD_OK);
  assert_int_equal(c.class_embed, CLD_CLASS_TIMESTEP);
  assert_int_equal(cld_unet_config_parse("{\"class_embed_type\": \"identity\"}", &c, err, sizeof err), CLD_OK);
  assert_int_equal(c.class_embed, CLD_CLASS_IDENTITY);
  assert_int_equal(cld_unet_preset("fmnist-xs-cond", &c), CLD_OK);
  assert_int_equal(c.num_class_embeds, 11);
  assert_int_equal(c.block_out_channels[0], 32);
  assert_int_equal(cld_unet_preset("tiny-cond", &c), CLD_ERR_INVALID_ARG);
  /* numbers that would become sizes are range-checked integers (1e300 was accepted for heads) */
  const char *huge[][2] = {{"{\"attention_head_dim\": 1e300}", "attention_head_dim"},
                           {"{\"attention_head_dim\": 8.5}", "attention_head_dim"},
                           {"{\"block_out_channels\": [1e20, 64, 64, 64]}", "block_out_channels"},
                           {"{\"sample_size\": 1e300}", "sample_size"},
                           {"{\"layers_per_block\": 1.5}", "layers_per_block"},
                           {"{\"norm_num_groups\": -3}", "norm_num_groups"},
                           /* keys cldiff does not implement are refused by name, not by a shape error later */
                           {"{\"time_embedding_dim\": 1024}", "time_embedding_dim"},
                           {"{\"mid_block_type\": null}", "mid_block_type"},
                           {"{\"sample_size\": [32, 32]}", "sample_size"},
                           {"{\"cross_attention_dim\": 768}", "cross_attention_dim"},
                           {"{\"class_embed_type\": \"projection\"}", "class_embed_type"},
                           {"{\"num_class_embeds\": 0}", "num_class_embeds"},
                           {"{\"num_class_embeds\": 1e12}", "num_class_embeds"}};
  for (size_t k = 0; k < sizeof huge / sizeof huge[0]; k++) {
    assert_int_equal(cld_unet_config_parse(huge[k][0], &c, err, sizeof err), CLD_ERR_FORMAT);
    assert_non_null(strstr(err, huge[k][1]));
  }
  /* a shape mismatch between file and model names the parameter */
  cld_ctx *ctx = tu_ctx();
  cld_store *s;
  TU_OK(ctx, cld_store_create(ctx, &s));
  cld_unet_config small;
  assert_int_equal(cld_unet_preset("tiny", &small), CLD_OK);
  small.block_out_channels[0] = 12; /* differs from the golden tiny model's 8 */
  cld_unet *u;
  TU_OK(ctx, cld_unet_create(ctx, &small, s, &u));
  assert_int_equal(cld_store_load(s, GOLDEN "/unet_tiny/diffusion_pytorch_model.safetensors", NULL), CLD_ERR_SHAPE);
  /* the first parameter that differs, with both shapes */
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "time_embedding.linear_1.weight"));
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "(32,8)"));
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "(48,12)"));
  cld_unet_destroy(u);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_errors), cmocka_unit_test(test_tiny),          cmocka_unit_test(test_ddpm_options),
      cmocka_unit_test(test_cldiff_written), cmocka_unit_test(test_cifar10_config),
      cmocka_unit_test(test_class_table),    cmocka_unit_test(test_class_timestep), cmocka_unit_test(test_class_identity),
      cmocka_unit_test(test_class_model_api),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
