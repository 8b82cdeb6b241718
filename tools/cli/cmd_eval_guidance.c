/* `cldiff eval guidance`: a class-conditional model over a sweep of guidance weights. For each W
 * it samples N images of every requested class (image i of class LIST[i mod K], so the run is the
 * same whatever the batch or the number of ranks), and measures in the feature classifier's space:
 * FID / KID / precision / recall of all the samples against the whole reference split, FID of each
 * class's samples against that class's reference images, and the classifier's accuracy on each
 * class's samples (did W make the images look like their class?). Writes DIR/guidance.csv,
 * DIR/guidance.json, DIR/fid_vs_guidance.png and DIR/precision_recall.png. */
#include "cli.h"
#include "ckpt_resolve.h"
#include "sample_opts.h"
#include "opts.h"
#include "fs/fs.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_W 32

/* prints a failure (a library call's message when msg is NULL) and returns st */
static cld_status say(cld_ctx *ctx, cld_status st, const char *msg) {
  fprintf(stderr, "cldiff eval guidance: %s\n", msg ? msg : cld_ctx_errmsg(ctx));
  return st;
}

typedef struct {
  double w, fid, kid, precision, recall, acc;
  double *class_fid, *class_acc; /* (K) */
} w_result;

/* "1,2,4" into ws (at most MAX_W); the count, or -1 */
static int parse_weights(const char *s, double *ws) {
  int n = 0;
  while (*s && n < MAX_W) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || (*end && *end != ',') || !(v >= 0 && v <= 1000)) return -1;
    ws[n++] = v;
    s = *end ? end + 1 : end;
  }
  return *s ? -1 : n;
}

/* the reference images of class k: their features' rows copied out (n_k of them) */
static float *class_rows(const float *f, const int *labels, int64_t n, int k, int64_t *nk) {
  *nk = 0;
  for (int64_t i = 0; i < n; i++) *nk += labels[i] == k;
  float *out = malloc((size_t)(*nk > 0 ? *nk : 1) * CLD_CLASSIFIER_FEATURES * sizeof *out);
  if (!out) return NULL;
  int64_t j = 0;
  for (int64_t i = 0; i < n; i++)
    if (labels[i] == k) memcpy(out + (size_t)(j++) * CLD_CLASSIFIER_FEATURES, f + (size_t)i * CLD_CLASSIFIER_FEATURES,
                               CLD_CLASSIFIER_FEATURES * sizeof *out);
  return out;
}

typedef struct {
  cld_ctx *ctx;
  cld_model *m;
  cld_classifier *cl;
  const cld_dataset *ref;
  const float *ref_f;            /* (ref->n, 128) */
  cld_sample_params sp;
  const int *classes;            /* the K requested classes */
  int K;
  int64_t per_class;
  int H, W, C;
  cld_fid_params fp;
} sweep;

/* the metrics of the n = K x per_class samples x (their features f, their classes lab) */
static cld_status measure(sweep *s, float *x, const float *f, int *lab, w_result *r) {
  int64_t n = (int64_t)s->K * s->per_class;
  size_t per = (size_t)s->C * s->H * s->W;
  cld_fid_result fr;
  cld_status st = cld_fid_metrics(s->ctx, s->ref_f, s->ref->n, f, n, CLD_CLASSIFIER_FEATURES, &s->fp, &fr);
  if (st) return say(s->ctx, st, NULL);
  r->fid = fr.fid, r->kid = fr.kid, r->precision = fr.precision, r->recall = fr.recall;
  cld_dataset all = {.n = n, .c = s->C, .h = s->H, .w = s->W, .x = x, .labels = lab};
  if ((st = cld_classifier_accuracy(s->cl, &all, &r->acc))) return say(s->ctx, st, NULL);
  float *gen = malloc((size_t)s->per_class * per * sizeof *gen), *gf = malloc((size_t)s->per_class * CLD_CLASSIFIER_FEATURES * sizeof *gf);
  int *gl = malloc((size_t)s->per_class * sizeof *gl);
  if (!gen || !gf || !gl) st = say(s->ctx, CLD_ERR_NOMEM, "out of host memory");
  for (int k = 0; k < s->K && !st; k++) {
    for (int64_t j = 0; j < s->per_class; j++) { /* image i = j K + k is of class classes[k] */
      int64_t i = j * s->K + k;
      memcpy(gen + (size_t)j * per, x + (size_t)i * per, per * sizeof *gen);
      memcpy(gf + (size_t)j * CLD_CLASSIFIER_FEATURES, f + (size_t)i * CLD_CLASSIFIER_FEATURES, CLD_CLASSIFIER_FEATURES * sizeof *gf);
      gl[j] = s->classes[k];
    }
    cld_dataset one = {.n = s->per_class, .c = s->C, .h = s->H, .w = s->W, .x = gen, .labels = gl};
    if ((st = cld_classifier_accuracy(s->cl, &one, &r->class_acc[k]))) { say(s->ctx, st, NULL); break; }
    int64_t nk;
    float *rk = class_rows(s->ref_f, s->ref->labels, s->ref->n, s->classes[k], &nk);
    if (!rk) { st = say(s->ctx, CLD_ERR_NOMEM, "out of host memory"); break; }
    if (nk < 2) {
      fprintf(stderr, "cldiff eval guidance: the reference split has %lld images of class %d\n", (long long)nk, s->classes[k]);
      st = CLD_ERR_INVALID_ARG;
    }
    cld_fid_params fp = s->fp;
    fp.kid_subsets = 1; /* per class only the FID is reported; k fits the smaller sets */
    int64_t small = nk < s->per_class ? nk : s->per_class;
    if (fp.pr_k > small - 1) fp.pr_k = small - 1 > 0 ? (int)(small - 1) : 1;
    if (!st && (st = cld_fid_metrics(s->ctx, rk, nk, gf, s->per_class, CLD_CLASSIFIER_FEATURES, &fp, &fr))) say(s->ctx, st, NULL);
    if (!st) r->class_fid[k] = fr.fid;
    free(rk);
  }
  free(gen);
  free(gf);
  free(gl);
  return st;
}

/* sample at guidance w (every rank its share; rank 0 gets them all), then measure on rank 0 */
static cld_status run_weight(sweep *s, double w, w_result *r) {
  int64_t n = (int64_t)s->K * s->per_class;
  size_t per = (size_t)s->C * s->H * s->W;
  bool rank0 = cli_rank() == 0;
  float *x = rank0 ? malloc((size_t)n * per * sizeof *x) : NULL, *f = rank0 ? malloc((size_t)n * CLD_CLASSIFIER_FEATURES * sizeof *f) : NULL;
  int *lab = rank0 ? malloc((size_t)n * sizeof *lab) : NULL;
  cld_status st = rank0 && (!x || !f || !lab) ? say(s->ctx, CLD_ERR_NOMEM, "out of host memory") : CLD_OK;
  cld_sample_params sp = s->sp;
  sp.guidance = (float)w;
  double t0 = cli_now();
  if (!st && (st = cld_sample_comm(s->ctx, s->m, &sp, cli_comm(), 0, n, s->H, s->W, x, NULL, NULL))) say(s->ctx, st, NULL);
  if (!st && rank0) {
    for (size_t q = 0; q < (size_t)n * per; q++) x[q] = x[q] < -1 ? -1 : x[q] > 1 ? 1 : x[q]; /* as saved images would be */
    for (int64_t i = 0; i < n; i++) lab[i] = s->classes[i % s->K];
    r->w = w;
    if ((st = cld_classifier_features(s->cl, x, n, f))) say(s->ctx, st, NULL);
    else st = measure(s, x, f, lab, r);
    if (!st)
      fprintf(stderr, "guidance %g: FID %.3f precision %.3f recall %.3f accuracy %.3f (%lld images, %.0f s)\n", w, r->fid, r->precision,
              r->recall, r->acc, (long long)n, cli_now() - t0);
  }
  free(x);
  free(f);
  free(lab);
  return st;
}

static int write_outputs(cld_ctx *ctx, const char *out, const sweep *s, const w_result *r, int nw) {
  char path[1200];
  snprintf(path, sizeof path, "%s/guidance.csv", out);
  FILE *f = fopen(path, "w");
  if (!f) { fprintf(stderr, "cldiff eval guidance: %s: %s\n", path, strerror(errno)); return 1; }
  fprintf(f, "guidance,fid,kid,precision,recall,accuracy");
  for (int k = 0; k < s->K; k++) fprintf(f, ",fid_class%d,accuracy_class%d", s->classes[k], s->classes[k]);
  fprintf(f, "\n");
  for (int i = 0; i < nw; i++) {
    fprintf(f, "%g,%.6g,%.6g,%.5f,%.5f,%.5f", r[i].w, r[i].fid, r[i].kid, r[i].precision, r[i].recall, r[i].acc);
    for (int k = 0; k < s->K; k++) fprintf(f, ",%.6g,%.5f", r[i].class_fid[k], r[i].class_acc[k]);
    fprintf(f, "\n");
  }
  if (fclose(f)) { fprintf(stderr, "cldiff eval guidance: %s: %s\n", path, strerror(errno)); return 1; }
  snprintf(path, sizeof path, "%s/guidance.json", out);
  if (!(f = fopen(path, "w"))) { fprintf(stderr, "cldiff eval guidance: %s: %s\n", path, strerror(errno)); return 1; }
  fprintf(f, "{\"per_class\": %lld, \"classes\": [", (long long)s->per_class);
  for (int k = 0; k < s->K; k++) fprintf(f, "%s%d", k ? ", " : "", s->classes[k]);
  fprintf(f, "], \"sweep\": [");
  for (int i = 0; i < nw; i++) {
    fprintf(f, "%s\n  {\"guidance\": %g, \"fid\": %.6g, \"kid\": %.6g, \"precision\": %.5f, \"recall\": %.5f, \"accuracy\": %.5f, "
            "\"class_fid\": [", i ? "," : "", r[i].w, r[i].fid, r[i].kid, r[i].precision, r[i].recall, r[i].acc);
    for (int k = 0; k < s->K; k++) fprintf(f, "%s%.6g", k ? ", " : "", r[i].class_fid[k]);
    fprintf(f, "], \"class_accuracy\": [");
    for (int k = 0; k < s->K; k++) fprintf(f, "%s%.5f", k ? ", " : "", r[i].class_acc[k]);
    fprintf(f, "]}");
  }
  fprintf(f, "\n]}\n");
  if (fclose(f)) { fprintf(stderr, "cldiff eval guidance: %s: %s\n", path, strerror(errno)); return 1; }
  double wx[MAX_W], fid[MAX_W], prec[MAX_W], rec[MAX_W];
  for (int i = 0; i < nw; i++) wx[i] = r[i].w, fid[i] = r[i].fid, prec[i] = r[i].precision, rec[i] = r[i].recall;
  cld_plot_series sf = {"FID (all classes)", wx, fid, nw, false, NULL};
  cld_plot_params pf = {"FID against the guidance weight", "guidance weight W", "FID (classifier features)", false, 0, 0};
  snprintf(path, sizeof path, "%s/fid_vs_guidance.png", out);
  if (cld_plot_lines(ctx, path, &pf, &sf, 1)) { fprintf(stderr, "cldiff eval guidance: %s\n", cld_ctx_errmsg(ctx)); return 1; }
  cld_plot_series sa[2] = {{"precision", wx, prec, nw, false, NULL}, {"recall", wx, rec, nw, true, NULL}};
  cld_plot_series pr = {"precision against recall (one point per W, W rising left to right in the CSV)", rec, prec, nw, false, NULL};
  cld_plot_params pp = {"Precision against recall over the guidance sweep", "recall", "precision", false, 0, 0};
  snprintf(path, sizeof path, "%s/precision_recall.png", out);
  if (cld_plot_lines(ctx, path, &pp, &pr, 1)) { fprintf(stderr, "cldiff eval guidance: %s\n", cld_ctx_errmsg(ctx)); return 1; }
  cld_plot_params pw = {"Precision and recall against the guidance weight", "guidance weight W", "precision / recall", false, 0, 0};
  snprintf(path, sizeof path, "%s/precision_recall_vs_guidance.png", out);
  if (cld_plot_lines(ctx, path, &pw, sa, 2)) { fprintf(stderr, "cldiff eval guidance: %s\n", cld_ctx_errmsg(ctx)); return 1; }
  return 0;
}

int eval_guidance(int argc, char **argv) {
  cli_common co = {0};
  sample_opts so;
  sample_opts_init(&so);
  const char *ckpt = NULL, *features = NULL, *ref = NULL, *out = NULL, *weights = "1,2,4", *split = "test";
  long per_class = 100, ref_n = 0, k = 3, seed = 0;
  const cli_opt own[] = {
      {"--ckpt", "DIR", CLI_STR, &ckpt, 0, 0, "a class-conditional run or checkpoint trained with --cond-drop"},
      {"--features", "DIR", CLI_STR, &features, 0, 0, "the classifier directory (`cldiff train-classifier` on the same data)"},
      {"--ref", "SPEC", CLI_STR, &ref, 0, 0, "the labelled reference dataset (as `cldiff train --data`)"},
      {"--split", "S", CLI_STR, &split, 0, 0, "the reference split: test (default) or train"},
      {"--ref-n", "N", CLI_LONG, &ref_n, 2, 40000, "only the reference set's first N images (default all)"},
      {"--weights", "W1,W2,...", CLI_STR, &weights, 0, 0, "the guidance weights (default 1,2,4; 1 is the plain conditional model)"},
      {"--per-class", "N", CLI_LONG, &per_class, 2, 100000, "samples of each class at each weight (default 100)"},
      {"--out", "DIR", CLI_STR, &out, 0, 0, "guidance.csv, guidance.json and the plots go here"},
      {"--k", "K", CLI_LONG, &k, 1, 15, "precision/recall neighbourhood (default 3)"},
      {"--kid-seed", "S", CLI_LONG, &seed, 0, 9.2233720368547748e18, "KID subset draws (default 0)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  cli_opt sampler_opts[SAMPLE_OPTS_MAX];
  sample_opts_table(&so, sampler_opts);
  const cli_opt *const tables[] = {own, sampler_opts, NULL};
  int prc = cli_parse("eval guidance", "usage: cldiff eval guidance --ckpt DIR --features DIR --ref SPEC --out DIR [options]\n\n"
                      "A class-conditional model over a sweep of classifier-free guidance weights: FID, KID,\n"
                      "precision and recall of all samples, FID and the classifier's accuracy per class (--class\n"
                      "picks the classes: default all). Sampler options as `cldiff sample`.\n", tables, &co, argc - 1, argv + 1);
  if (prc) return prc == 1 ? 0 : 2;
  double ws[MAX_W];
  int nw = parse_weights(weights, ws);
  if (nw < 1) { fprintf(stderr, "cldiff eval guidance: --weights: '%s' is not a list of up to %d numbers in [0, 1000]\n", weights, MAX_W); return 2; }
  if (!ckpt || !features || !ref || !out) { fprintf(stderr, "cldiff eval guidance: --ckpt, --features, --ref and --out are required (see --help)\n"); return 2; }
  if (!so.cls) so.cls = "all";
  if (so.guidance != 1.0f) { fprintf(stderr, "cldiff eval guidance: give the weights with --weights, not --guidance\n"); return 2; }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  int rc = 2;
  ckpt_info ci;
  cld_store *st = NULL;
  cld_model *m = NULL;
  cld_classifier *cl = NULL;
  cld_dataset *rd = NULL;
  float *rf = NULL;
  w_result res[MAX_W] = {{0}};
  sweep s = {0};
  bool all;
  if (ckpt_resolve(ctx, ckpt, so.ema, &ci) || sample_opts_apply(&so, "eval guidance", &ci, &s.sp)) goto done;
  if (cld_store_create(ctx, &st) || cld_model_load(ctx, ci.model_dir, st, &m)) { fprintf(stderr, "cldiff eval guidance: %s\n", cld_ctx_errmsg(ctx)); rc = 1; goto done; }
  if (sample_opts_classes(&so, "eval guidance", &ci, m, &s.sp, &all)) goto done;
  if (cld_classifier_load(ctx, features, &cl)) { fprintf(stderr, "cldiff eval guidance: --features: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  s.H = s.W = cld_model_sample_size(m);
  s.C = cld_model_channels(m);
  if (cld_dataset_open_sized(ctx, ref, split, s.H, &rd)) { fprintf(stderr, "cldiff eval guidance: --ref %s: %s\n", ref, cld_ctx_errmsg(ctx)); goto done; }
  if (!rd->labels) { fprintf(stderr, "cldiff eval guidance: --ref %s has no labels\n", ref); goto done; }
  if (ref_n && ref_n < rd->n) rd->n = ref_n;
  if (cld_classifier_size(cl) != s.H || cld_classifier_channels(cl) != s.C || rd->c != s.C) {
    fprintf(stderr, "cldiff eval guidance: the model (%dx%dx%d), the classifier and the reference differ in size or channels\n", s.C, s.H, s.W);
    goto done;
  }
  rc = 1;
  if (cld_fs_mkdirs(out) != 0) { fprintf(stderr, "cldiff eval guidance: --out %s: %s\n", out, strerror(errno)); goto done; }
  if (cli_rank() == 0) {
    if (!(rf = malloc((size_t)rd->n * CLD_CLASSIFIER_FEATURES * sizeof *rf))) { fprintf(stderr, "cldiff eval guidance: out of memory\n"); goto done; }
    if (cld_classifier_features_cached(cl, rd->x, rd->n, rf, NULL)) { fprintf(stderr, "cldiff eval guidance: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  }
  s.ctx = ctx, s.m = m, s.cl = cl, s.ref = rd, s.ref_f = rf, s.classes = s.sp.classes, s.K = s.sp.n_classes, s.per_class = per_class;
  s.fp = cld_fid_params_default();
  s.fp.pr_k = (int)k;
  s.fp.seed = (uint64_t)seed;
  for (int i = 0; i < nw; i++) {
    res[i].class_fid = calloc((size_t)s.K, sizeof(double));
    res[i].class_acc = calloc((size_t)s.K, sizeof(double));
    if (!res[i].class_fid || !res[i].class_acc) { fprintf(stderr, "cldiff eval guidance: out of memory\n"); goto done; }
  }
  for (int i = 0; i < nw; i++)
    if (run_weight(&s, ws[i], &res[i])) goto done; /* the failure was printed */
  rc = cli_rank() == 0 ? write_outputs(ctx, out, &s, res, nw) : 0;
  if (!rc && cli_rank() == 0) printf("wrote %s/guidance.csv, guidance.json, fid_vs_guidance.png, precision_recall.png\n", out);
done:
  for (int i = 0; i < nw && i < MAX_W; i++) { free(res[i].class_fid); free(res[i].class_acc); }
  free(rf);
  cld_dataset_free(rd);
  cld_classifier_destroy(cl);
  cld_model_destroy(m);
  cld_store_destroy(st);
  cld_ctx_destroy(ctx);
  return rc;
}
