/* Training: N steps, checkpoint, resume in a fresh trainer, N more steps gives the same bytes
 * (parameters, EMA, moments) as 2N uninterrupted steps; a damaged checkpoint fails with the
 * file named and leaves the model untouched; keep-last-K. Tiny UNet with dropout on. */
#include "test_util.h"
#include "graph/graph_internal.h"
#include "train/train_internal.h"
#include <sys/stat.h>
#include <unistd.h>


typedef struct { cld_ctx *ctx; cld_store *s; cld_model *u; cld_trainer *t; } rig;

static int rig_lsm = 0, rig_T = 1000, rig_sched = CLD_BETA_LINEAR;
static cld_methods *rig_methods = NULL;
static int rig_skip = 0;

static rig make_rig(cld_ctx *ctx, cld_dataset *d) {
  rig r = {ctx, NULL, NULL, NULL};
  cld_unet_config c;
  assert_int_equal(cld_unet_preset("tiny", &c), CLD_OK);
  c.in_channels = c.out_channels = 1;
  c.dropout = 0.1f;
  TU_OK(ctx, cld_store_create(ctx, &r.s));
  TU_OK(ctx, cld_model_from_unet_config(ctx, &c, r.s, &r.u));
  TU_OK(ctx, cld_model_init(r.u, 3));
  cld_train_params p = cld_train_params_default();
  p.batch = 4;
  p.lr = 1e-3f;
  p.warmup = 2;
  p.seed = 11;
  p.hflip = true;
  p.prediction = CLD_PRED_V;
  p.timestep_sampling = rig_lsm;
  p.T = rig_T;
  p.schedule = rig_sched;
  if (rig_methods) p.methods = *rig_methods;
  p.skip_nonfinite = rig_skip;
  TU_OK(ctx, cld_trainer_create(ctx, r.u, d, &p, &r.t));
  return r;
}

static void free_rig(rig *r) {
  cld_trainer_destroy(r->t);
  cld_model_destroy(r->u);
  cld_store_destroy(r->s);
}

static float *snapshot(rig *r, size_t *n) {
  int64_t tot = cld_store_total(r->s);
  float *v = tu_alloc((size_t)tot);
  for (int i = 0; i < cld_store_count(r->s); i++) {
    int64_t off = 0;
    for (int j = 0; j < i; j++) off += (cld_store_numel(r->s, j) + 15) / 16 * 16;
    TU_OK(r->ctx, cld_store_read(r->s, i, v + off));
  }
  *n = (size_t)tot;
  return v;
}

/* EP on the UNet (Winograd and im2col convolutions, group norm, attention, dropout): skipping the
 * chain steps past the drawn length gives the parameters of running all K, bit for bit */
static void test_ep_gates(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = tu_toy_images();
  cld_methods m = cld_methods_default();
  m.ep_lambda = 1.0f;
  m.ep_k = 3;
  rig_methods = &m;
  float *v[2], loss[2];
  size_t n[2];
  for (int full = 0; full < 2; full++) {
    if (full) setenv("CLDIFF_EP_FULL_CHAIN", "1", 1);
    rig r = make_rig(ctx, d);
    for (int i = 0; i < 5; i++) TU_OK(ctx, cld_trainer_step(r.t, &loss[full]));
    v[full] = snapshot(&r, &n[full]);
    free_rig(&r);
    unsetenv("CLDIFF_EP_FULL_CHAIN");
  }
  rig_methods = NULL;
  assert_true(isfinite(loss[0]) && loss[0] == loss[1]);
  assert_int_equal(n[0], n[1]);
  assert_memory_equal(v[0], v[1], n[0] * sizeof(float));
  free(v[0]);
  free(v[1]);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

/* STF with --hflip: the reference images beyond the batch are dataset images, each mirrored with
 * probability 1/2 (augmented like the batch, independently of it) */
static void test_stf_hflip(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = tu_toy_images();
  cld_methods m = cld_methods_default();
  m.stf_ref = 16; /* 12 extra images at batch 4 */
  rig_methods = &m;
  rig r = make_rig(ctx, d);
  rig_methods = NULL;
  int flipped = 0, plain = 0;
  cld_tensor *extra = NULL; /* the STF method's input of the extra reference images */
  for (int i = 0; i < r.t->g->n && !extra; i++)
    if (!strcmp(r.t->g->nodes[i]->name, "stf_extra")) extra = r.t->g->nodes[i];
  assert_non_null(extra);
  float stf_buf[12 * 64];
  for (int step = 0; step < 2; step++) {
    TU_OK(ctx, cld_trainer_step(r.t, NULL));
    TU_OK(ctx, cld_tensor_read(r.t->g, extra, stf_buf));
    for (int e = 0; e < 12; e++) {
      const float *x = stf_buf + e * 64;
      int found = 0;
      for (int i = 0; i < 40 && !found; i++) {
        const float *y = d->x + i * 64;
        bool same = true, mirror = true;
        for (int p = 0; p < 64; p++) {
          same &= x[p] == y[p];
          mirror &= x[p] == y[(p / 8) * 8 + 7 - p % 8];
        }
        found = same ? 1 : mirror ? 2 : 0;
      }
      assert_true(found > 0);
      plain += found == 1;
      flipped += found == 2;
    }
  }
  assert_true(plain > 0 && flipped > 0);
  free_rig(&r);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

static void test_resume_bit_exact(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = tu_toy_images();
  char dir[] = "/tmp/cldiff-train-XXXXXX";
  assert_non_null(mkdtemp(dir));
  /* 2N uninterrupted (N = 7: the epoch of 40 images ends inside the run) */
  rig a = make_rig(ctx, d);
  float loss;
  for (int i = 0; i < 14; i++) TU_OK(ctx, cld_trainer_step(a.t, &loss));
  assert_true(isfinite(loss));
  /* N, save, fresh rig, resume, N */
  rig b = make_rig(ctx, d);
  for (int i = 0; i < 7; i++) TU_OK(ctx, cld_trainer_step(b.t, NULL));
  TU_OK(ctx, cld_trainer_save(b.t, dir, 2));
  free_rig(&b);
  rig c = make_rig(ctx, d);
  TU_OK(ctx, cld_trainer_resume(c.t, dir));
  assert_int_equal(cld_trainer_steps_done(c.t), 7);
  for (int i = 0; i < 7; i++) TU_OK(ctx, cld_trainer_step(c.t, NULL));
  size_t na, nc;
  float *pa = snapshot(&a, &na), *pc = snapshot(&c, &nc);
  assert_int_equal(na, nc);
  assert_memory_equal(pa, pc, na * sizeof(float));
  /* EMA too */
  TU_OK(ctx, cld_trainer_save(a.t, dir, 2));
  TU_OK(ctx, cld_trainer_save(c.t, dir, 2)); /* same step: replaces it */
  char latest[1100];
  TU_OK(ctx, cld_checkpoint_latest(ctx, dir, latest, sizeof latest));
  assert_non_null(strstr(latest, "ckpt-14"));
  /* keep = 2: ckpt-7 and ckpt-14 remain */
  char p7[1200];
  snprintf(p7, sizeof p7, "%s/ckpt-7/trainer.json", dir);
  assert_int_equal(access(p7, R_OK), 0);
  free(pa);
  free(pc);
  free_rig(&a);
  free_rig(&c);
  assert_int_equal(tu_rmtree(dir), 0);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

static void test_damaged_checkpoint(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = tu_toy_images();
  char dir[] = "/tmp/cldiff-train-XXXXXX";
  assert_non_null(mkdtemp(dir));
  rig a = make_rig(ctx, d);
  for (int i = 0; i < 2; i++) TU_OK(ctx, cld_trainer_step(a.t, NULL));
  TU_OK(ctx, cld_trainer_save(a.t, dir, 0));
  char path[1200];
  snprintf(path, sizeof path, "%s/ckpt-2/optimizer.safetensors", dir);
  assert_int_equal(truncate(path, 100), 0);
  rig b = make_rig(ctx, d);
  size_t n0, n1;
  float *before = snapshot(&b, &n0);
  assert_int_equal(cld_trainer_resume(b.t, dir), CLD_ERR_FORMAT);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "optimizer.safetensors"));
  float *after = snapshot(&b, &n1);
  assert_memory_equal(before, after, n0 * sizeof(float)); /* nothing was overwritten */
  assert_int_equal(cld_trainer_steps_done(b.t), 0);
  /* no checkpoint at all */
  assert_int_equal(cld_trainer_resume(b.t, "/nonexistent-cldiff-dir"), CLD_ERR_IO);
  free(before);
  free(after);
  free_rig(&a);
  free_rig(&b);
  assert_int_equal(tu_rmtree(dir), 0);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

/* --resume falls back: the newest checkpoint's optimizer file truncated, the one before resumes
 * and the note names the damaged file; a directory being pruned (.ckpt-N.del) is never listed */
static void test_resume_fallback(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = tu_toy_images();
  char dir[] = "/tmp/cldiff-train-XXXXXX";
  assert_non_null(mkdtemp(dir));
  rig a = make_rig(ctx, d);
  for (int i = 0; i < 2; i++) TU_OK(ctx, cld_trainer_step(a.t, NULL));
  TU_OK(ctx, cld_trainer_save(a.t, dir, 0));
  size_t n2;
  float *at2 = snapshot(&a, &n2);
  for (int i = 0; i < 2; i++) TU_OK(ctx, cld_trainer_step(a.t, NULL));
  TU_OK(ctx, cld_trainer_save(a.t, dir, 0));
  char path[1200];
  snprintf(path, sizeof path, "%s/ckpt-4/optimizer.safetensors", dir);
  assert_int_equal(truncate(path, 100), 0);
  snprintf(path, sizeof path, "%s/.ckpt-9.del", dir); /* a kill mid-prune left this behind */
  assert_int_equal(mkdir(path, 0755), 0);
  snprintf(path, sizeof path, "%s/.ckpt-9.del/trainer.json", dir);
  FILE *f = fopen(path, "w");
  fputs("{\"step\": 9}", f);
  fclose(f);
  rig b = make_rig(ctx, d);
  TU_OK(ctx, cld_trainer_resume(b.t, dir));
  assert_int_equal(cld_trainer_steps_done(b.t), 2);
  assert_non_null(strstr(cld_trainer_resumed_from(b.t), "ckpt-2"));
  assert_non_null(strstr(cld_trainer_resume_note(b.t), "ckpt-4/optimizer.safetensors"));
  size_t nb;
  float *got = snapshot(&b, &nb);
  assert_int_equal(n2, nb);
  assert_memory_equal(at2, got, n2 * sizeof(float)); /* exactly the state saved at step 2 */
  free(at2);
  free(got);
  free_rig(&a);
  free_rig(&b);
  assert_int_equal(tu_rmtree(dir), 0);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

/* loss-second-moment sampling (T = 20 so every t has 10 losses early): the importance sampler is
 * warm before the checkpoint, and resume stays bit-exact with its history restored */
static void test_lsm_resume(void **state) {
  (void)state;
  rig_lsm = 1;
  rig_T = 20;
  rig_sched = CLD_BETA_COSINE; /* linear at T=20 would reach beta = 1 */
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = tu_toy_images();
  char dir[] = "/tmp/cldiff-train-XXXXXX";
  assert_non_null(mkdtemp(dir));
  const int N = 120; /* 480 samples over 20 time steps: every t gets its 10 losses */
  rig a = make_rig(ctx, d);
  for (int i = 0; i < 2 * N; i++) TU_OK(ctx, cld_trainer_step(a.t, NULL));
  rig b = make_rig(ctx, d);
  for (int i = 0; i < N; i++) TU_OK(ctx, cld_trainer_step(b.t, NULL));
  int warm = 1;
  for (int i = 0; i < 20; i++) warm &= b.t->lsm_count[i] == CLD_LSM_HISTORY;
  assert_true(warm); /* importance sampling is active in the second half */
  TU_OK(ctx, cld_trainer_save(b.t, dir, 1));
  free_rig(&b);
  rig c = make_rig(ctx, d);
  TU_OK(ctx, cld_trainer_resume(c.t, dir));
  for (int i = 0; i < N; i++) TU_OK(ctx, cld_trainer_step(c.t, NULL));
  size_t na, nc;
  float *pa = snapshot(&a, &na), *pc = snapshot(&c, &nc);
  assert_memory_equal(pa, pc, na * sizeof(float));
  assert_memory_equal(a.t->lsm_hist, c.t->lsm_hist, 20 * CLD_LSM_HISTORY * sizeof(float));
  free(pa);
  free(pc);
  free_rig(&a);
  free_rig(&c);
  assert_int_equal(tu_rmtree(dir), 0);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
  rig_lsm = 0;
  rig_T = 1000;
  rig_sched = CLD_BETA_LINEAR;
}

/* a model that outputs eps = 0.1 x and, when 2C channels are read, v = +1 */
static cld_status eps_v_plus_one(void *user, const float *x, const float *t, int batch, float *out) {
  int stride = *(const int *)user; /* 128 when (eps, v) are read, 64 for eps only */
  (void)t;
  for (int i = 0; i < batch; i++)
    for (int j = 0; j < 64; j++) {
      out[i * stride + j] = 0.1f * x[i * 64 + j];
      if (stride == 128) out[i * stride + 64 + j] = 1.0f;
    }
  return CLD_OK;
}

/* iDDPM learned range + hybrid loss: trains (finite, falling loss), the variance half of the output
 * gets gradient, and DDPM sampling uses the learned variance (different from fixed-small) */
static void test_learned_sigma(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = tu_toy_images();
  cld_unet_config c;
  assert_int_equal(cld_unet_preset("tiny", &c), CLD_OK);
  c.in_channels = 1;
  c.out_channels = 2;
  cld_store *s;
  cld_model *m;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_from_unet_config(ctx, &c, s, &m));
  TU_OK(ctx, cld_model_init(m, 4));
  cld_train_params p = cld_train_params_default();
  p.batch = 8;
  p.lr = 1e-3f;
  p.warmup = 5;
  cld_trainer *t;
  assert_int_equal(cld_trainer_create(ctx, m, d, &p, &t), CLD_ERR_INVALID_ARG); /* 2 outputs without learn_sigma */
  p.learn_sigma = true;
  TU_OK(ctx, cld_trainer_create(ctx, m, d, &p, &t));
  double first = 0, last = 0;
  for (int i = 0; i < 120; i++) {
    float l;
    TU_OK(ctx, cld_trainer_step(t, &l));
    assert_true(isfinite(l));
    if (i < 20) first += l / 20;
    if (i >= 100) last += l / 20;
  }
  fprintf(stderr, "learned sigma hybrid loss %.4f -> %.4f\n", first, last);
  assert_true(last < first);
  /* conv_out's bias for the variance channel (index 1) received gradient */
  float gb[2];
  TU_OK(ctx, cld_store_read_grad(s, cld_store_find(s, "conv_out.bias"), gb));
  assert_true(gb[1] != 0.0f);
  cld_sample_params sp = cld_sample_params_default();
  sp.sampler = CLD_SAMPLER_DDPM;
  sp.steps = 10;
  sp.batch = 4;
  float a[4 * 64], b[4 * 64];
  TU_OK(ctx, cld_sample(ctx, m, &sp, 0, 4, 8, 8, a, NULL, NULL));
  for (int i = 0; i < 4 * 64; i++) assert_true(isfinite(a[i]));
  /* v = +1 everywhere makes the learned variance beta: the fixed-large trajectory */
  int both = 128, eps_only = 64;
  sp.learned_sigma = true;
  TU_OK(ctx, cld_sample_with(ctx, eps_v_plus_one, &both, 1, 8, 8, &sp, 0, 4, a, NULL, NULL));
  sp.learned_sigma = false;
  sp.var_type = CLD_VAR_FIXED_LARGE;
  TU_OK(ctx, cld_sample_with(ctx, eps_v_plus_one, &eps_only, 1, 8, 8, &sp, 0, 4, b, NULL, NULL));
  for (int i = 0; i < 4 * 64; i++) assert_true(fabsf(a[i] - b[i]) <= 1e-5f * (1 + fabsf(b[i])));
  sp.var_type = CLD_VAR_FIXED_SMALL;
  TU_OK(ctx, cld_sample_with(ctx, eps_v_plus_one, &eps_only, 1, 8, 8, &sp, 0, 4, b, NULL, NULL));
  int differ = 0;
  for (int i = 0; i < 4 * 64; i++) differ += fabsf(a[i] - b[i]) > 1e-3f;
  assert_true(differ > 100);
  cld_trainer_destroy(t);
  /* with a weighting, the vb term joins unweighted (Debias's code): from the same start, debias's
   * per-sample loss is w mse + vb against the constant weighting's mse + vb, not w (mse + vb) */
  float per[2][8], wts[8], tt[8];
  for (int k = 0; k < 2; k++) {
    TU_OK(ctx, cld_model_init(m, 4));
    p.methods = cld_methods_default();
    p.methods.weighting = k ? CLD_WEIGHT_DEBIAS : CLD_WEIGHT_CONST;
    TU_OK(ctx, cld_trainer_create(ctx, m, d, &p, &t));
    TU_OK(ctx, cld_trainer_step(t, NULL));
    TU_OK(ctx, cld_tensor_read(t->g, t->per_sample, per[k]));
    TU_OK(ctx, cld_tensor_read(t->g, t->w, wts)); /* the weights of the whole per-sample loss */
    for (int i = 0; i < 8; i++) per[k][i] *= wts[i];
    TU_OK(ctx, cld_tensor_read(t->g, t->tt, tt));
    if (k) {
      int vb_seen = 0;
      for (int i = 0; i < 8; i++) {
        double w = cld_loss_weight(&p.methods, t->sched->alpha_bar[(int)tt[i]]);
        if (fabs(w - 1) < 0.05) continue;
        double mse = (per[1][i] - per[0][i]) / (w - 1), vb = per[0][i] - mse;
        assert_true(mse > -1e-4 && vb > -1e-4 * (1 + per[0][i]));
        vb_seen += fabs(per[1][i] - w * per[0][i]) > 1e-3 * fabs(per[1][i]);
      }
      assert_true(vb_seen > 0);
    }
    cld_trainer_destroy(t);
  }
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

/* a step whose loss is NaN (one image of the data is NaN) is never applied: by default the step
 * fails with CLD_ERR_NONFINITE and the step named, with skip_nonfinite it is skipped; either way
 * the parameters are bit-identical to before it */
/* class conditioning: after one step exactly the class-table rows of the labels the batch drew
 * (data order from Philox stream 0x100, label dropout to the null row from stream 4, as documented
 * in train.h) have moved (AdamW leaves a row with zero gradient where it was); the setup errors */
static void test_conditional(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  const int K = 3, B = 8;
  cld_dataset *d = tu_toy_labelled(K), *plain = tu_toy_images();
  cld_unet_config c;
  assert_int_equal(cld_unet_preset("tiny", &c), CLD_OK);
  c.in_channels = c.out_channels = 1;
  c.class_embed = CLD_CLASS_TABLE;
  c.num_class_embeds = K + 2; /* one row more than needed: it must never move */
  cld_store *s;
  cld_model *m;
  TU_OK(ctx, cld_store_create(ctx, &s));
  TU_OK(ctx, cld_model_from_unet_config(ctx, &c, s, &m));
  TU_OK(ctx, cld_model_init(m, 3));
  cld_train_params p = cld_train_params_default();
  p.batch = B;
  p.seed = 5;
  p.cond_drop = 0.3f;
  p.warmup = 0;
  cld_trainer *t;
  /* unlabelled data, and a table too small for the classes + the null row, are refused */
  assert_int_equal(cld_trainer_create(ctx, m, plain, &p, &t), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "has no labels"));
  d->n_classes = K + 2;
  assert_int_equal(cld_trainer_create(ctx, m, d, &p, &t), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "num_class_embeds"));
  d->n_classes = K;
  TU_OK(ctx, cld_trainer_create(ctx, m, d, &p, &t));
  int id = cld_store_find(s, "class_embedding.weight");
  assert_true(id >= 0);
  int64_t n = cld_store_numel(s, id), width = n / (K + 2);
  float *before = tu_alloc((size_t)n), *after = tu_alloc((size_t)n);
  TU_OK(ctx, cld_store_read(s, id, before));
  float loss;
  TU_OK(ctx, cld_trainer_step(t, &loss));
  TU_OK(ctx, cld_store_read(s, id, after));
  /* the rows the first step's samples saw */
  int64_t *perm = malloc((size_t)d->n * sizeof *perm);
  float u[8];
  assert_int_equal(cld_rng_permutation_host(p.seed, 0x100, d->n, perm), 0);
  cld_rng_uniform_host(p.seed, 4, 0, B, u);
  bool seen[5] = {false};
  int dropped = 0;
  for (int b = 0; b < B; b++) {
    bool drop = u[b] < p.cond_drop;
    dropped += drop;
    seen[drop ? K : d->labels[perm[b]]] = true;
  }
  assert_true(dropped > 0 && dropped < B); /* the seed exercises both */
  for (int r = 0; r < K + 2; r++) {
    bool moved = memcmp(before + r * width, after + r * width, (size_t)width * sizeof(float)) != 0;
    if (moved != seen[r]) fprintf(stderr, "class row %d: moved %d, drawn %d\n", r, moved, seen[r]);
    assert_true(moved == seen[r]);
  }
  free(perm);
  free(before);
  free(after);
  cld_trainer_destroy(t);
  /* label dropout on an unconditional model is refused */
  cld_model_destroy(m);
  cld_store_destroy(s);
  TU_OK(ctx, cld_store_create(ctx, &s));
  c.class_embed = CLD_CLASS_NONE;
  TU_OK(ctx, cld_model_from_unet_config(ctx, &c, s, &m));
  assert_int_equal(cld_trainer_create(ctx, m, d, &p, &t), CLD_ERR_INVALID_ARG);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "--cond-drop"));
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_dataset_free(d);
  cld_dataset_free(plain);
  cld_ctx_destroy(ctx);
}

static void test_nonfinite_step(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = tu_toy_images();
  for (int skip = 0; skip < 2; skip++) {
    rig_skip = skip;
    rig r = make_rig(ctx, d);
    float loss;
    TU_OK(ctx, cld_trainer_step(r.t, &loss));
    size_t n0, n1;
    float *before = snapshot(&r, &n0);
    for (size_t i = 0; i < (size_t)d->n * 64; i++) d->x[i] = NAN;
    cld_status st = cld_trainer_step(r.t, &loss);
    if (skip) {
      assert_int_equal(st, CLD_OK);
      assert_true(isnan(loss));
      assert_int_equal(cld_trainer_skipped_steps(r.t), 1);
      assert_int_equal(cld_trainer_steps_done(r.t), 2);
    } else {
      assert_int_equal(st, CLD_ERR_NONFINITE);
      assert_non_null(strstr(cld_ctx_errmsg(ctx), "step 2"));
      assert_int_equal(cld_trainer_steps_done(r.t), 1);
    }
    float *after = snapshot(&r, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0 * sizeof(float));
    tu_fill(d->x, (size_t)d->n * 64, 77, -1, 1);
    free(before);
    free(after);
    free_rig(&r);
  }
  rig_skip = 0;
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

/* cld_trainer_record_gemms: the GEMM shapes of a step without running it are those a step runs,
 * in the same order (`cldiff tune --model` tunes them without compiling the model's kernels) */
static void test_record_gemms(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = tu_toy_images();
  rig r = make_rig(ctx, d);
  cld_gemm_shape planned[128], ran[128];
  int np = -1, nr = -1;
  float loss;
  cld_gemm_record(ctx, planned, 128, &np);
  TU_OK(ctx, cld_trainer_record_gemms(r.t));
  cld_gemm_record(ctx, ran, 128, &nr);
  TU_OK(ctx, cld_trainer_step(r.t, &loss));
  cld_gemm_record(ctx, NULL, 0, NULL);
  assert_true(np > 4 && np < 128);
  assert_int_equal(np, nr);
  for (int i = 0; i < np; i++) {
    const cld_gemm_shape *a = &planned[i], *b = &ran[i];
    assert_true(a->m == b->m && a->n == b->n && a->k == b->k && a->batch == b->batch && a->trans_a == b->trans_a &&
                a->trans_b == b->trans_b && a->a_batch == b->a_batch);
  }
  assert_int_equal(cld_trainer_record_gemms(NULL), CLD_ERR_INVALID_ARG);
  /* planned under cld_plan_shapes_only: the same shapes, no kernel behind any launch, a step refused
   * with the reason; a trainer made after it is switched off trains */
  cld_gemm_shape only[128];
  int no = -1;
  cld_plan_shapes_only(ctx, true);
  rig r2 = make_rig(ctx, d);
  cld_plan_shapes_only(ctx, false);
  cld_gemm_record(ctx, only, 128, &no);
  TU_OK(ctx, cld_trainer_record_gemms(r2.t));
  cld_gemm_record(ctx, NULL, 0, NULL);
  assert_int_equal(no, np);
  for (int i = 0; i < np; i++) {
    const cld_gemm_shape *a = &only[i], *b = &planned[i];
    assert_true(a->m == b->m && a->n == b->n && a->k == b->k && a->batch == b->batch && a->trans_a == b->trans_a &&
                a->trans_b == b->trans_b && a->a_batch == b->a_batch);
  }
  int kernels = 0;
  for (int i = 0; i < r2.t->g->n_launches; i++) kernels += r2.t->g->launches[i].kernel != NULL;
  assert_true(r2.t->g->n_launches > 0);
  assert_int_equal(kernels, 0);
  assert_int_equal(cld_trainer_step(r2.t, &loss), CLD_ERR_STATE);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "shapes only"));
  free_rig(&r2);
  rig r3 = make_rig(ctx, d);
  TU_OK(ctx, cld_trainer_step(r3.t, &loss));
  assert_true(isfinite(loss));
  free_rig(&r3);
  free_rig(&r);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nonfinite_step),
      cmocka_unit_test(test_conditional),
      cmocka_unit_test(test_lsm_resume),
      cmocka_unit_test(test_learned_sigma),
      cmocka_unit_test(test_resume_bit_exact),
      cmocka_unit_test(test_ep_gates),
      cmocka_unit_test(test_stf_hflip),
      cmocka_unit_test(test_damaged_checkpoint),
      cmocka_unit_test(test_resume_fallback),
      cmocka_unit_test(test_record_gemms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
