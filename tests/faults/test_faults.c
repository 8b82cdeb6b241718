/* Driver and allocation faults, SQLite-style: for every N, the Nth host allocation (malloc,
 * calloc, realloc, strdup in cldiff's own code) or the Nth OpenCL call (context, queue, buffer,
 * program, kernel creation, program build, every enqueue, map and unmap, clFlush, clFinish,
 * clWaitForEvents) fails, over each workload:
 * context creation, a checkpoint load, a sampling run, a guided one, a training run (two steps, a
 * save, a resume) and data-parallel training's bucketed all-reduce (rank 0 of two). Each run must end in CLD_OK with output bit-identical to the fault-free run (the
 * failure was absorbed, e.g. the disk cache falls back to a build) or in an error with a
 * message that says what ran out (host memory, or the OpenCL call's CL_ error); never a crash. After an error the context, when one was made, must still run the
 * workload to the fault-free result; then everything is destroyed (LeakSanitizer at exit in the
 * sanitizer build checks that nothing leaked).
 *   test_faults [RUNS] [WORKLOAD...]   at most RUNS values of N per workload and kind, evenly spread
 *   (N = 1, 1+k, 1+2k, ... for the stride k that fits); 0 or absent: every N
 *   FAULTS_VERBOSE=1 prints every failed run's message, FAULTS_FROM=N starts the sweeps at N,
 *   FAULTS_SHARD=i/n runs every n-th of the sweep's runs from the i-th (shards of one sweep on
 *   several cores: together they are the whole sweep), FAULTS_TRACE=1 prints the stack of each call made to fail (link with -rdynamic for names). */
#include "cldiff/cldiff.h"
#include "fault_shim.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMG 8
typedef struct {
  cld_ctx *ctx;
  float out[64 * IMG * IMG]; /* the workload's result (samples, or parameters after training) */
  size_t n_out;
} run;

static const char *tmpdir;

/* the tiny UNet on 1-channel IMG x IMG images; class_rows > 0: with a class table of that many rows */
static cld_status tiny_model_classes(cld_ctx *ctx, int class_rows, cld_store **s, cld_model **m) {
  cld_unet_config c;
  cld_status st = cld_unet_preset("tiny", &c);
  c.in_channels = c.out_channels = 1;
  c.sample_size = IMG;
  if (class_rows > 0) {
    c.class_embed = CLD_CLASS_TABLE;
    c.num_class_embeds = class_rows;
  }
  if (!st) st = cld_store_create(ctx, s);
  if (!st) st = cld_model_from_unet_config(ctx, &c, *s, m);
  if (!st) st = cld_model_init(*m, 5);
  return st;
}
static cld_status tiny_model(cld_ctx *ctx, cld_store **s, cld_model **m) { return tiny_model_classes(ctx, 0, s, m); }

/* ---- the workloads: each works on r->ctx and fills r->out ---- */
static cld_status w_ctx(run *r) { (void)r; return CLD_OK; }

static cld_status w_load(run *r) {
  cld_store *s = NULL;
  cld_model *m = NULL;
  cld_status st = cld_store_create(r->ctx, &s);
  if (!st) st = cld_model_load(r->ctx, CLDIFF_SOURCE_DIR "/tools/demo/fmnist-xs", s, &m);
  if (!st) { r->n_out = 64; st = cld_store_read(s, 0, r->out); }
  cld_model_destroy(m);
  cld_store_destroy(s);
  return st;
}

static cld_status w_sample(run *r) {
  cld_store *s = NULL;
  cld_model *m = NULL;
  cld_status st = tiny_model(r->ctx, &s, &m);
  cld_sample_params p = cld_sample_params_default();
  p.steps = 3;
  p.batch = 2;
  r->n_out = 3 * IMG * IMG;
  if (!st) st = cld_sample(r->ctx, m, &p, 0, 3, IMG, IMG, r->out, NULL, NULL);
  cld_model_destroy(m);
  cld_store_destroy(s);
  return st;
}

/* class-conditional sampling with guidance: the tiny UNet with a class table (3 classes + null) */
static cld_status w_guided(run *r) {
  cld_store *s = NULL;
  cld_model *m = NULL;
  cld_status st = tiny_model_classes(r->ctx, 4, &s, &m);
  static const int classes[2] = {2, 0};
  cld_sample_params p = cld_sample_params_default();
  p.steps = 2;
  p.batch = 2;
  p.classes = classes;
  p.n_classes = 2;
  p.null_class = 3;
  p.guidance = 2.0f;
  r->n_out = 3 * IMG * IMG;
  if (!st) st = cld_sample(r->ctx, m, &p, 0, 3, IMG, IMG, r->out, NULL, NULL);
  cld_model_destroy(m);
  cld_store_destroy(s);
  return st;
}

static cld_dataset *toy_data(void) {
  cld_dataset *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->n = 8;
  d->c = 1;
  d->h = d->w = IMG;
  if (!(d->x = malloc(8 * IMG * IMG * sizeof(float)))) { free(d); return NULL; }
  cld_rng_uniform_host(9, 1, 0, 8 * IMG * IMG, d->x);
  snprintf(d->name, sizeof d->name, "toy");
  return d;
}

static cld_dataset *train_data; /* made once, before any fault is armed: the test's own allocation */

static cld_status w_train(run *r) {
  cld_store *s = NULL, *s2 = NULL;
  cld_model *m = NULL, *m2 = NULL;
  cld_trainer *t = NULL, *t2 = NULL;
  const cld_dataset *d = train_data;
  float loss = 0;
  cld_status st = tiny_model(r->ctx, &s, &m);
  cld_train_params p = cld_train_params_default();
  p.batch = 2;
  p.seed = 3;
  char dir[600];
  snprintf(dir, sizeof dir, "%s/run", tmpdir);
  if (!st) st = cld_trainer_create(r->ctx, m, d, &p, &t);
  for (int i = 0; i < 2 && !st; i++) st = cld_trainer_step(t, &loss);
  if (!st) st = cld_trainer_save(t, dir, 2);
  if (!st) st = tiny_model(r->ctx, &s2, &m2);
  if (!st) st = cld_trainer_create(r->ctx, m2, d, &p, &t2);
  if (!st) st = cld_trainer_resume(t2, dir);
  if (!st) st = cld_trainer_step(t2, &loss);
  r->n_out = 64;
  if (!st) st = cld_store_read(s2, 0, r->out);
  cld_trainer_destroy(t2);
  cld_trainer_destroy(t);
  cld_model_destroy(m2);
  cld_model_destroy(m);
  cld_store_destroy(s2);
  cld_store_destroy(s);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd)) return CLD_ERR_IO;
  return st;
}

/* rank 0 of two whose partner contributes nothing: the sum over the ranks is rank 0's own part */
static int alone_allreduce(void *user, float *buf, size_t n) { (void)user; (void)buf; (void)n; return 0; }
static int alone_broadcast(void *user, void *buf, size_t bytes, int root) { (void)user; (void)buf; (void)bytes; (void)root; return 0; }

/* data-parallel training's all-reduce in buckets during the backward pass (a bucket per parameter):
 * rank 0 of two, two steps */
static cld_status w_ranks(run *r) {
  cld_store *s = NULL;
  cld_model *m = NULL;
  cld_trainer *t = NULL;
  float loss = 0;
  const cld_comm comm = {0, 2, NULL, alone_allreduce, alone_broadcast, NULL, NULL};
  cld_status st = tiny_model(r->ctx, &s, &m);
  cld_train_params p = cld_train_params_default();
  p.batch = 4;
  p.seed = 3;
  p.comm = &comm;
  p.bucket_mb = 1e-6f;
  if (!st) st = cld_trainer_create(r->ctx, m, train_data, &p, &t);
  for (int i = 0; i < 2 && !st; i++) st = cld_trainer_step(t, &loss);
  r->n_out = 64;
  if (!st) st = cld_store_read(s, 0, r->out);
  cld_trainer_destroy(t);
  cld_model_destroy(m);
  cld_store_destroy(s);
  return st;
}

typedef struct { const char *name; cld_status (*fn)(run *); } workload;
static const workload workloads[] = {{"ctx", w_ctx},       {"load", w_load},   {"sample", w_sample},
                                     {"guided", w_guided}, {"train", w_train}, {"ranks", w_ranks}};

/* a context, then the workload; the status and, on failure, the message */
static cld_status attempt(const workload *w, run *r, char *msg, size_t n) {
  char err[512] = "";
  r->ctx = NULL;
  cld_status st = cld_ctx_create(NULL, &r->ctx, err, sizeof err);
  if (st) { snprintf(msg, n, "%s", err); return st; }
  st = w->fn(r);
  if (st) snprintf(msg, n, "%s", cld_ctx_errmsg(r->ctx));
  return st;
}

/* a sweep's counts, and its absorbed runs by the call that failed (printed after the sweep) */
#define MAX_ABSORBED_KINDS 16
typedef struct { long runs, errors, absorbed, unreached, bad; char *what[MAX_ABSORBED_KINDS]; long count[MAX_ABSORBED_KINDS]; int kinds; } tally;

static void count_absorbed(tally *tl, const char *what) {
  int i = 0;
  while (i < tl->kinds && strcmp(tl->what[i], what)) i++;
  if (i == tl->kinds && tl->kinds < MAX_ABSORBED_KINDS) tl->what[tl->kinds++] = strdup(what);
  if (i < tl->kinds) tl->count[i]++;
}

/* the message tells what ran out: host memory, or the OpenCL call's error (its CL_ name) */
static bool names_fault(fault_kind k, const char *msg) {
  if (k == FAULT_HOST) return strstr(msg, "memory") != NULL;
  return strstr(msg, "CL_") != NULL || strstr(msg, "memory") != NULL;
}

/* one workload under one kind of fault for N = 1, 1+stride, ...: the bad outcomes counted */
static void sweep(const workload *w, fault_kind k, long max_runs, const run *ref, long total, tally *tl) {
  long stride = max_runs > 0 && total > max_runs ? (total + max_runs - 1) / max_runs : 1;
  static run r, again;
  long from = getenv("FAULTS_FROM") ? atol(getenv("FAULTS_FROM")) : 1; /* debugging: start at that N */
  long shard = 0, shards = 1; /* FAULTS_SHARD=i/n: only the runs i, i+n, ... (a long sweep split over cores) */
  if (getenv("FAULTS_SHARD") && (sscanf(getenv("FAULTS_SHARD"), "%ld/%ld", &shard, &shards) != 2 || shards < 1 ||
                                 shard < 0 || shard >= shards)) {
    fprintf(stderr, "FAULTS_SHARD must be i/n with 0 <= i < n\n");
    exit(2);
  }
  long run_index = 0;
  for (long nth = from > 0 ? from : 1; nth <= total; nth += stride) {
    if (run_index++ % shards != shard) continue;
    char msg[512] = "";
    fault_arm(k, nth);
    cld_status st = attempt(w, &r, msg, sizeof msg);
    fault_disarm();
    tl->runs++;
    const char *what = fault_what();
    if (!st) {
      if (!fault_fired()) {
        tl->unreached++; /* this run made fewer calls than the fault-free one (whose kernel cache was cold) */
      } else {
        tl->absorbed++;
        char where[160];
        snprintf(where, sizeof where, "%s in %s", what, fault_caller());
        count_absorbed(tl, where);
      }
      if (r.n_out != ref->n_out || memcmp(r.out, ref->out, ref->n_out * sizeof(float))) {
        fprintf(stderr, "%s: %s #%ld failed, the run returned OK with a different result\n", w->name, what, nth);
        tl->bad++;
      }
    } else {
      tl->errors++;
      if (!names_fault(k, msg)) {
        fprintf(stderr, "%s: %s #%ld failed, and the message does not say so: '%s'\n", w->name, what, nth, msg);
        tl->bad++;
      }
      if (r.ctx) { /* the context survived: it must still do the work */
        again.ctx = r.ctx;
        cld_status st2 = w->fn(&again);
        if (st2 || again.n_out != ref->n_out || memcmp(again.out, ref->out, ref->n_out * sizeof(float))) {
          fprintf(stderr, "%s: after %s #%ld failed (%s), the context no longer works (%s)\n", w->name, what, nth, msg,
                  st2 ? cld_ctx_errmsg(r.ctx) : "different result");
          tl->bad++;
        }
      }
      if (getenv("FAULTS_VERBOSE")) printf("  %s %s #%ld (%s): %s\n", w->name, k == FAULT_HOST ? "host" : "cl", nth, what, msg);
    }
    cld_ctx_destroy(r.ctx);
  }
}

int main(int argc, char **argv) {
  long max_runs = argc > 1 ? atol(argv[1]) : 0;
  setvbuf(stdout, NULL, _IOLBF, 0); /* a line per sweep as it ends: the full sweep takes hours */
  char tmpl[] = "/tmp/cldiff-faults-XXXXXX";
  if (!(tmpdir = mkdtemp(tmpl)) || !(train_data = toy_data())) { perror("setup"); return 1; }
  int bad = 0;
  for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++) {
    const workload *w = &workloads[i];
    bool chosen = argc <= 2;
    for (int a = 2; a < argc; a++) chosen |= !strcmp(argv[a], w->name);
    if (!chosen) continue;
    static run ref;
    char msg[512];
    long total[FAULT_KINDS];
    for (int k = 0; k < FAULT_KINDS; k++) { /* the fault-free run: its result and its call counts */
      fault_arm((fault_kind)k, 0);
      cld_status st = attempt(w, &ref, msg, sizeof msg);
      total[k] = fault_count((fault_kind)k);
      fault_disarm();
      cld_ctx_destroy(ref.ctx);
      if (st) { fprintf(stderr, "%s: the fault-free run failed: %s\n", w->name, msg); return 1; }
    }
    for (int k = 0; k < FAULT_KINDS; k++) {
      tally tl = {0};
      sweep(w, (fault_kind)k, max_runs, &ref, total[k], &tl);
      printf("%-6s %-4s calls %6ld, runs %5ld: %5ld errors, %4ld absorbed, %ld bad", w->name,
             k == FAULT_HOST ? "host" : "cl", total[k], tl.runs, tl.errors, tl.absorbed, tl.bad);
      if (tl.unreached) printf(" (%ld runs made fewer calls than N: nothing failed)", tl.unreached);
      if (getenv("FAULTS_CALL") && *getenv("FAULTS_CALL")) printf(" [only %s counted]", getenv("FAULTS_CALL"));
      printf("\n");
      for (int a = 0; a < tl.kinds; a++) {
        printf("         absorbed: %ld x a failed %s\n", tl.count[a], tl.what[a]);
        free(tl.what[a]);
      }
      bad += tl.bad > 0;
    }
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  cld_dataset_free(train_data);
  if (system(cmd)) return 1;
  return bad ? 1 : 0;
}
