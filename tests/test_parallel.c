/* Data parallelism without MPI: gradient accumulation, and two ranks as two threads of this
 * process joined by a communicator over a barrier (the sum in rank order, as cldiff_mpi's).
 *  - N ranks at global batch B give, bit for bit, the parameters, EMA and losses of one process
 *    with accum N at batch B, for the plain objective, each training method and all four at once;
 *  - accumulation is the same math as the whole batch: the first step's loss agrees to rounding
 *    (every random draw is keyed by the global sample index, not by the micro-batch);
 *  - a checkpoint written under 2 ranks (rank 0 writes) resumes in one process with accum 2 and
 *    continues bit for bit. Tiny UNet with dropout, 8x8 images. */
#include "test_util.h"
#include <pthread.h>
#include <unistd.h>


/* ---- a two-thread communicator ---- */
typedef struct {
  pthread_barrier_t bar;
  void *slot[2];
  float *sum;
  size_t cap;
} shared_t;
typedef struct { shared_t *sh; int rank; } rank_t;

static int th_allreduce(void *user, float *buf, size_t n) {
  rank_t *r = user;
  shared_t *sh = r->sh;
  sh->slot[r->rank] = buf;
  pthread_barrier_wait(&sh->bar);
  if (r->rank == 0) {
    if (n > sh->cap) { free(sh->sum); sh->sum = malloc(n * sizeof(float)); sh->cap = n; }
    const float *a = sh->slot[0], *b = sh->slot[1];
    for (size_t i = 0; i < n; i++) sh->sum[i] = a[i] + b[i];
  }
  pthread_barrier_wait(&sh->bar);
  memcpy(buf, sh->sum, n * sizeof(float));
  pthread_barrier_wait(&sh->bar);
  return 0;
}
static int th_broadcast(void *user, void *buf, size_t bytes, int root) {
  rank_t *r = user;
  shared_t *sh = r->sh;
  if (r->rank == root) sh->slot[root] = buf;
  pthread_barrier_wait(&sh->bar);
  if (r->rank != root) memcpy(buf, sh->slot[root], bytes);
  pthread_barrier_wait(&sh->bar);
  return 0;
}

/* ---- one training run ---- */
typedef struct {
  cld_methods methods;
  int accum;
  const cld_comm *comm;
  const cld_dataset *d;
  int steps;
  const char *save_dir, *resume_dir; /* optional */
  float *params; /* out: the parameters (n floats, the store's layout) */
  int64_t n;
  float loss[8];
  cld_status st;
  char err[512];
  int classes;     /* > 0: a class table of classes + 1 rows, label dropout cond_drop */
  float cond_drop;
  float bucket_mb; /* > 0: all-reduce buckets of this size (else the default 4 MiB) */
  bool whole;      /* one all-reduce after the backward pass (bucket_mb 0) */
} job;

static cld_status run_job(job *j) {
  cld_ctx *ctx = NULL;
  cld_store *s = NULL;
  cld_model *m = NULL;
  cld_trainer *t = NULL;
  cld_unet_config c;
  cld_status st = cld_ctx_create(NULL, &ctx, j->err, sizeof j->err);
  if (st) return st;
  cld_unet_preset("tiny", &c);
  c.in_channels = c.out_channels = 1;
  c.dropout = 0.1f;
  if (j->classes > 0) {
    c.class_embed = CLD_CLASS_TABLE;
    c.num_class_embeds = j->classes + 1;
  }
  cld_train_params p = cld_train_params_default();
  p.cond_drop = j->cond_drop;
  p.batch = 8;
  p.lr = 1e-3f;
  p.warmup = 2;
  p.seed = 11;
  p.hflip = true;
  p.methods = j->methods;
  p.accum = j->accum;
  p.comm = j->comm;
  if (j->bucket_mb > 0) p.bucket_mb = j->bucket_mb;
  if (j->whole) p.bucket_mb = 0;
  if (!(st = cld_store_create(ctx, &s)) && !(st = cld_model_from_unet_config(ctx, &c, s, &m)) && !(st = cld_model_init(m, 3)))
    st = cld_trainer_create(ctx, m, j->d, &p, &t);
  if (!st && j->resume_dir) st = cld_trainer_resume(t, j->resume_dir);
  for (int i = 0; i < j->steps && !st; i++) st = cld_trainer_step(t, &j->loss[i]);
  if (!st && j->save_dir) st = cld_trainer_save(t, j->save_dir, 0);
  j->n = s ? cld_store_total(s) : 0;
  j->params = calloc((size_t)j->n + 1, sizeof(float));
  for (int i = 0; !st && i < cld_store_count(s); i++) {
    int64_t off = 0;
    for (int k = 0; k < i; k++) off += (cld_store_numel(s, k) + 15) / 16 * 16;
    st = cld_store_read(s, i, j->params + off);
  }
  if (st) snprintf(j->err, sizeof j->err, "%s", cld_ctx_errmsg(ctx));
  cld_trainer_destroy(t);
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
  return st;
}
static void *run_thread(void *arg) {
  job *j = arg;
  j->st = run_job(j);
  return NULL;
}
static void free_job(job *j) { free(j->params); }

/* two ranks (threads) of one micro-batch each; jobs r[0], r[1] */
static void run_two_ranks(job r[2]) {
  static shared_t sh;
  pthread_barrier_init(&sh.bar, NULL, 2);
  rank_t rk[2] = {{&sh, 0}, {&sh, 1}};
  cld_comm comm[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    comm[i] = (cld_comm){i, 2, &rk[i], th_allreduce, th_broadcast, NULL, NULL};
    r[i].comm = &comm[i];
    assert_int_equal(pthread_create(&th[i], NULL, run_thread, &r[i]), 0);
  }
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&sh.bar);
  free(sh.sum);
  sh.sum = NULL;
  sh.cap = 0;
  for (int i = 0; i < 2; i++)
    if (r[i].st) { fprintf(stderr, "rank %d: %s\n", i, r[i].err); fail(); }
}

/* the same losses and parameters, bit for bit */
static void expect_same(const job *a, const job *b, int steps, const char *what) {
  if (memcmp(a->loss, b->loss, (size_t)steps * sizeof(float))) {
    for (int i = 0; i < steps; i++) fprintf(stderr, "%s: step %d loss %.9g vs %.9g\n", what, i + 1, a->loss[i], b->loss[i]);
    fail();
  }
  assert_true(a->n == b->n && a->n > 0);
  if (memcmp(a->params, b->params, (size_t)a->n * sizeof(float))) {
    fprintf(stderr, "%s: different parameters\n", what);
    fail();
  }
}

#define JOB(meth, acc, steps) {meth, acc, NULL, d, steps, NULL, NULL, NULL, 0, {0}, 0, "", 0, 0, 0, false}

static void test_ranks_equal_accum(void **state) {
  (void)state;
  cld_dataset *d = tu_toy_images();
  cld_methods cases[6];
  const char *names[6] = {"plain", "ip", "debias", "stf", "ep", "all four"};
  for (int i = 0; i < 6; i++) cases[i] = cld_methods_default();
  cases[1].ip_gamma = 0.1f;
  cases[2].weighting = CLD_WEIGHT_DEBIAS;
  cases[3].stf_ref = 16;
  cases[4].ep_lambda = 1.0f;
  cases[4].ep_k = 2;
  cases[5].ip_gamma = 0.1f;
  cases[5].weighting = CLD_WEIGHT_DEBIAS;
  cases[5].stf_ref = 16;
  cases[5].ep_lambda = 1.0f;
  cases[5].ep_k = 2;
  for (int c = 0; c < 6; c++) {
    job one = JOB(cases[c], 2, 3), r[2] = {JOB(cases[c], 1, 3), JOB(cases[c], 1, 3)};
    TU_OK(NULL, run_job(&one));
    run_two_ranks(r);
    expect_same(&one, &r[0], 3, names[c]);
    expect_same(&one, &r[1], 3, names[c]);
    free_job(&one);
    free_job(&r[0]);
    free_job(&r[1]);
  }
  cld_dataset_free(d);
}

/* class-conditional with label dropout and every method: the labels and their dropout are keyed
 * by the global sample index, so two ranks are still accum 2, bit for bit */
static void test_ranks_equal_accum_conditional(void **state) {
  (void)state;
  cld_dataset *d = tu_toy_labelled(3);
  cld_methods m = cld_methods_default();
  m.ip_gamma = 0.1f;
  m.stf_ref = 16;
  m.ep_lambda = 1.0f;
  m.ep_k = 2;
  job one = JOB(m, 2, 3), r[2] = {JOB(m, 1, 3), JOB(m, 1, 3)};
  one.classes = r[0].classes = r[1].classes = 3;
  one.cond_drop = r[0].cond_drop = r[1].cond_drop = 0.3f;
  TU_OK(NULL, run_job(&one));
  run_two_ranks(r);
  expect_same(&one, &r[0], 3, "conditional");
  expect_same(&one, &r[1], 3, "conditional");
  free_job(&one);
  free_job(&r[0]);
  free_job(&r[1]);
  cld_dataset_free(d);
}

/* two ranks with buckets of the given size (0: one all-reduce after the backward pass), accum
 * micro-batches each */
static void run_two_ranks_buckets(job r[2], cld_methods m, int accum, float bucket_mb, const cld_dataset *d) {
  for (int i = 0; i < 2; i++) {
    r[i] = (job)JOB(m, accum, 2);
    r[i].bucket_mb = bucket_mb;
    r[i].whole = bucket_mb == 0;
  }
  run_two_ranks(r);
}

/* the all-reduce in buckets started during the backward pass (one per parameter, a few
 * parameters each, one for all) sums exactly what one all-reduce after it sums: with one
 * micro-batch per rank every split equals one process with accum 2; with two per rank (the first
 * accumulated whole, the second overlapped) every split equals the one all-reduce after the
 * backward pass */
static void test_buckets_same_sums(void **state) {
  (void)state;
  cld_dataset *d = tu_toy_images();
  cld_methods m = cld_methods_default();
  m.ip_gamma = 0.1f;
  job one = JOB(m, 2, 2), whole[2];
  TU_OK(NULL, run_job(&one));
  run_two_ranks_buckets(whole, m, 2, 0, d);
  const float sizes[] = {1e-6f, 2e-3f, 0.05f};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    char what[64];
    for (int accum = 1; accum <= 2; accum++) {
      job r[2];
      run_two_ranks_buckets(r, m, accum, sizes[k], d);
      snprintf(what, sizeof what, "buckets of %g MiB, accum %d", (double)sizes[k], accum);
      const job *ref = accum == 1 ? &one : &whole[0];
      expect_same(ref, &r[0], 2, what);
      expect_same(ref, &r[1], 2, what);
      free_job(&r[0]);
      free_job(&r[1]);
    }
  }
  free_job(&one);
  free_job(&whole[0]);
  free_job(&whole[1]);
  cld_dataset_free(d);
}

/* accum 2 is the whole batch's math: the first step's loss to rounding, the parameters close */
static void test_accum_same_math(void **state) {
  (void)state;
  cld_dataset *d = tu_toy_images();
  cld_methods m = cld_methods_default();
  job whole = JOB(m, 1, 1), split = JOB(m, 2, 1);
  TU_OK(NULL, run_job(&whole));
  TU_OK(NULL, run_job(&split));
  assert_true(fabsf(whole.loss[0] - split.loss[0]) <= 1e-5f * fabsf(whole.loss[0]));
  assert_int_equal(whole.n, split.n);
  double worst = 0;
  for (int64_t i = 0; i < whole.n; i++) worst = fmax(worst, fabs((double)whole.params[i] - split.params[i]));
  if (worst > 5e-5) { fprintf(stderr, "accum 2 vs the whole batch: max |dp| %.3g\n", worst); fail(); } /* 0.1 lr: Adam's first step is about lr sign(g) */
  free_job(&whole);
  free_job(&split);
  cld_dataset_free(d);
}

/* a checkpoint of 2 ranks (rank 0 writes it) resumes in one process with accum 2, bit for bit */
static void test_resume_across_ranks(void **state) {
  (void)state;
  cld_dataset *d = tu_toy_images();
  cld_methods m = cld_methods_default();
  m.ip_gamma = 0.1f;
  char dir[] = "/tmp/cldiff-parallel-XXXXXX";
  assert_non_null(mkdtemp(dir));
  job r[2] = {JOB(m, 1, 2), JOB(m, 1, 2)};
  r[0].save_dir = r[1].save_dir = dir;
  run_two_ranks(r);
  job cont = JOB(m, 2, 1), straight = JOB(m, 2, 3);
  cont.resume_dir = dir;
  TU_OK(NULL, run_job(&cont));
  TU_OK(NULL, run_job(&straight));
  straight.loss[0] = straight.loss[2]; /* compare the third step's loss */
  expect_same(&straight, &cont, 1, "resumed from 2 ranks");
  free_job(&r[0]);
  free_job(&r[1]);
  free_job(&cont);
  free_job(&straight);
  assert_int_equal(tu_rmtree(dir), 0);
  cld_dataset_free(d);
}

/* the one-process communicator is the same as none */
static void test_comm_single(void **state) {
  (void)state;
  cld_dataset *d = tu_toy_images();
  cld_methods m = cld_methods_default();
  const cld_comm *one = cld_comm_single();
  assert_int_equal(one->rank, 0);
  assert_int_equal(one->size, 1);
  float v[3] = {1, 2, 3}, g[3] = {0};
  assert_int_equal(one->allreduce_sum(one->user, v, 3), 0);
  assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3);
  assert_int_equal(one->gather(one->user, v, sizeof v, g, 0), 0);
  assert_memory_equal(v, g, sizeof v);
  assert_true(one->any(one->user, true) && !one->any(one->user, false));
  job a = JOB(m, 1, 2), b = JOB(m, 1, 2);
  b.comm = one;
  TU_OK(NULL, run_job(&a));
  TU_OK(NULL, run_job(&b));
  expect_same(&a, &b, 2, "cld_comm_single");
  free_job(&a);
  free_job(&b);
  cld_dataset_free(d);
}

/* batch sizes that do not split evenly are refused with the flags named */
static void test_bad_split(void **state) {
  (void)state;
  cld_train_params p = cld_train_params_default();
  p.batch = 6;
  p.accum = 4;
  const char *why = cld_train_params_check(&p);
  assert_non_null(why);
  assert_non_null(strstr(why, "--accum"));
  p.accum = 0;
  assert_non_null(cld_train_params_check(&p));
  p.accum = 3;
  assert_null(cld_train_params_check(&p));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_split),
      cmocka_unit_test(test_comm_single),
      cmocka_unit_test(test_accum_same_math),
      cmocka_unit_test(test_ranks_equal_accum),
      cmocka_unit_test(test_ranks_equal_accum_conditional),
      cmocka_unit_test(test_buckets_same_sums),
      cmocka_unit_test(test_resume_across_ranks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
