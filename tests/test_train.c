/* Training: N steps, checkpoint, resume in a fresh trainer, N more steps gives the same bytes
 * (parameters, EMA, moments) as 2N uninterrupted steps; a damaged checkpoint fails with the
 * file named and leaves the model untouched; keep-last-K. Tiny UNet with dropout on. */
#include "test_util.h"
#include "diffusion/train_internal.h"
#include <sys/stat.h>
#include <unistd.h>

static cld_dataset *toy_images(void) {
  cld_dataset *d = calloc(1, sizeof *d);
  d->n = 40;
  d->c = 1;
  d->h = d->w = 8;
  d->x = malloc(40 * 64 * sizeof(float));
  tu_fill(d->x, 40 * 64, 77, -1, 1);
  snprintf(d->name, sizeof d->name, "toy-images");
  return d;
}

typedef struct { cld_ctx *ctx; cld_store *s; cld_model *u; cld_trainer *t; } rig;

static int rig_lsm = 0, rig_T = 1000, rig_sched = CLD_BETA_LINEAR;

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

static void test_resume_bit_exact(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = toy_images();
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
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
}

static void test_damaged_checkpoint(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_dataset *d = toy_images();
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
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
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
  cld_dataset *d = toy_images();
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
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  cld_dataset_free(d);
  cld_ctx_destroy(ctx);
  rig_lsm = 0;
  rig_T = 1000;
  rig_sched = CLD_BETA_LINEAR;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lsm_resume),
      cmocka_unit_test(test_resume_bit_exact),
      cmocka_unit_test(test_damaged_checkpoint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
