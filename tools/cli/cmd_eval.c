/* `cldiff eval fid|toy|exposure`: the metrics of cldiff/eval.h from the command line. */
#include "cli.h"
#include "fs/fs.h"
#include "ckpt_resolve.h"
#include "sample_opts.h"
#include "opts.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(void) {
  printf("usage: cldiff eval fid|toy|exposure|guidance|loss [options]\n\n"
         "  fid       FID, KID and improved precision/recall in a feature classifier's space\n"
         "  toy       sliced Wasserstein-2, MMD^2, NLL and support for 2-D toy samples\n"
         "  exposure  the exposure-bias curves of a sampling run\n"
         "  guidance  a class-conditional model over guidance weights: FID and accuracy per class\n"
         "  loss      the denoising error against t on real data (where a loss weighting left it)\n\n"
         "`cldiff eval METRIC --help` lists each metric's options.\n");
}

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

/* generated images from .npy, a PNG folder or a PNG grid; size = the classifier's */
static int load_samples(cld_ctx *ctx, const char *path, const char *grid, int size, float **x, int64_t *n, int *c,
                        int64_t *clamped) {
  if (!strncmp(path, "data:", 5)) { /* data:SPEC[@train|@test]: a dataset split as the "samples" (reference figures) */
    char spec[512];
    snprintf(spec, sizeof spec, "%s", path + 5);
    char *at = strrchr(spec, '@');
    const char *split = "train";
    if (at) { *at = 0; split = at + 1; }
    if (strcmp(split, "train") && strcmp(split, "test")) { fprintf(stderr, "cldiff eval: --samples %s: split must be @train or @test\n", path); return 2; }
    cld_dataset *d;
    if (cld_dataset_open_sized(ctx, spec, split, size, &d)) { fprintf(stderr, "cldiff eval: --samples %s: %s\n", path, cld_ctx_errmsg(ctx)); return 2; }
    *x = d->x;
    *n = d->n;
    *c = d->c;
    d->x = NULL;
    cld_dataset_free(d);
    return 0;
  }
  struct stat sb;
  if (stat(path, &sb)) { fprintf(stderr, "cldiff eval: --samples %s: no such file or directory\n", path); return 2; }
  int h, w;
  if (S_ISDIR(sb.st_mode)) {
    cld_dataset *d;
    if (cld_png_folder_load(ctx, path, size, &d)) { fprintf(stderr, "cldiff eval: --samples: %s\n", cld_ctx_errmsg(ctx)); return 2; }
    *x = d->x;
    *n = d->n;
    *c = d->c;
    d->x = NULL;
    cld_dataset_free(d);
    return 0;
  }
  if (ends_with(path, ".npy")) {
    int nd;
    int64_t sh[8];
    if (cld_npy_read(ctx, path, x, &nd, sh)) { fprintf(stderr, "cldiff eval: --samples: %s\n", cld_ctx_errmsg(ctx)); return 2; }
    if (nd != 4 || sh[2] != size || sh[3] != size) {
      fprintf(stderr, "cldiff eval: --samples %s: expected (N, C, %d, %d) images, got a %d-d array\n", path, size, size, nd);
      free(*x);
      return 2;
    }
    *n = sh[0];
    *c = (int)sh[1];
    /* images are [-1, 1]: values outside are clamped, as writing the samples as images would
     * (FID protocols score saved images; an unclipped outlier would otherwise dominate) */
    size_t total = (size_t)(sh[0] * sh[1] * sh[2] * sh[3]);
    for (size_t i = 0; i < total; i++) {
      float v = (*x)[i];
      if (v > 1.0f || v < -1.0f || v != v) { (*x)[i] = v > 1.0f ? 1.0f : -1.0f; (*clamped)++; }
    }
    return 0;
  }
  int rows, cols, ni;
  if (!grid || sscanf(grid, "%dx%d", &rows, &cols) != 2 || rows < 1 || cols < 1) {
    fprintf(stderr, "cldiff eval: --samples %s is a PNG: pass --grid RxC (rows x columns of the grid)\n", path);
    return 2;
  }
  if (cld_png_read_grid(ctx, path, rows, cols, x, &ni, c, &h, &w)) { fprintf(stderr, "cldiff eval: --samples: %s\n", cld_ctx_errmsg(ctx)); return 2; }
  if (h != size || w != size) {
    fprintf(stderr, "cldiff eval: --samples %s: grid tiles are %dx%d, the classifier takes %dx%d\n", path, h, w, size, size);
    free(*x);
    return 2;
  }
  *n = ni;
  return 0;
}

/* the samples' features; under mpirun each rank its share of the rows, gathered in order on rank
 * 0 (the others get none). 0, or 1 after printing why (every rank fails together). */
static int features_comm(cld_ctx *ctx, cld_classifier *cl, const float *x, int64_t n, size_t per, float *out) {
  const cld_comm *c = cli_comm();
  if (!c) {
    if (!cld_classifier_features(cl, x, n, out)) return 0;
    fprintf(stderr, "cldiff eval fid: %s\n", cld_ctx_errmsg(ctx));
    return 1;
  }
  const size_t F = CLD_CLASSIFIER_FEATURES;
  int64_t share = (n + c->size - 1) / c->size, lo = (int64_t)c->rank * share;
  int64_t mine = lo >= n ? 0 : (n - lo < share ? n - lo : share);
  float *part = calloc((size_t)share * F + 1, sizeof(float)), *all = c->rank == 0 ? malloc((size_t)share * F * c->size * sizeof(float) + 1) : NULL;
  int st = !part || (c->rank == 0 && !all) ? 1 : 0;
  if (st) fprintf(stderr, "cldiff eval fid: rank %d: out of memory\n", c->rank);
  if (!st && mine > 0 && cld_classifier_features(cl, x + (size_t)lo * per, mine, part)) {
    fprintf(stderr, "cldiff eval fid: rank %d: %s\n", c->rank, cld_ctx_errmsg(ctx));
    st = 1;
  }
  float bad = (float)st;
  if (c->allreduce_sum(c->user, &bad, 1) || bad != 0 || c->gather(c->user, part, (size_t)share * F * sizeof(float), all, 0)) st = 1;
  else if (c->rank == 0) memcpy(out, all, (size_t)n * F * sizeof(float));
  free(part);
  free(all);
  return st;
}

static int eval_fid(int argc, char **argv) {
  cli_common co = {0};
  const char *features = NULL, *ref = NULL, *samples = NULL, *grid = NULL, *split = "test";
  long ref_n = 0, samples_n = 0, subsets = 100, kid_size = 1000, k = 3, seed = 0;
  bool json = false;
  const cli_opt opts[] = {
      {"--features", "DIR", CLI_STR, &features, 0, 0, "the classifier directory (`cldiff train-classifier`)"},
      {"--ref", "SPEC", CLI_STR, &ref, 0, 0, "reference dataset (as `cldiff train --data`)"},
      {"--split", "S", CLI_STR, &split, 0, 0, "the reference split: test (default) or train"},
      {"--ref-n", "N", CLI_LONG, &ref_n, 2, 40000, "only the reference set's first N images (default all)"},
      {"--samples", "PATH", CLI_STR, &samples, 0, 0, "generated images: a .npy (N,C,H,W) in [-1,1] (values outside are clamped, as\n"
       "saving them as images would; the output gives the clamped fraction), a folder\n"
       "of PNGs, a PNG grid written by `cldiff sample` (with --grid RxC), or\n"
       "data:SPEC[@train|@test] (a dataset split, default train: reference figures)"},
      {"--grid", "RxC", CLI_STR, &grid, 0, 0, "the rows x columns of a PNG grid given as --samples"},
      {"--samples-n", "N", CLI_LONG, &samples_n, 2, 1L << 30, "use only the first N samples"},
      {"--kid-subsets", "S", CLI_LONG, &subsets, 1, 100000, "KID subsets (default 100)"},
      {"--kid-size", "M", CLI_LONG, &kid_size, 2, 40000, "KID subset size (default 1000, at most the smaller set)"},
      {"--k", "K", CLI_LONG, &k, 1, 15, "precision/recall neighbourhood (default 3)"},
      {"--seed", "S", CLI_LONG, &seed, 0, 9.2233720368547748e18, "subset draws (default 0)"},
      {"--json", NULL, CLI_FLAG, &json, 0, 0, "print one JSON object instead of text"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt *const tables[] = {opts, NULL};
  int prc = cli_parse("eval fid", "usage: cldiff eval fid --features DIR --ref SPEC --samples PATH [options]\n\n"
                      "FID, KID (unbiased, mean and std over subsets) and improved precision/recall in the feature\n"
                      "space of a classifier trained with `cldiff train-classifier`. The reference set's features are\n"
                      "cached in the cache directory (CLDIFF_CACHE_DIR), keyed by the classifier's weights, the images\n"
                      "and the device.\n", tables, &co, argc - 1, argv + 1);
  if (prc) return prc == 1 ? 0 : 2;
  if (!features || !ref || !samples) { fprintf(stderr, "cldiff eval fid: --features, --ref and --samples are required (see --help)\n"); return 2; }
  if (strcmp(split, "test") && strcmp(split, "train")) { fprintf(stderr, "cldiff eval fid: --split: '%s' is not test or train\n", split); return 2; }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  int rc = 1, c = 0;
  cld_classifier *cl = NULL;
  cld_dataset *rd = NULL;
  float *x = NULL, *fr = NULL, *fs = NULL;
  int64_t n = 0;
  if (cld_classifier_load(ctx, features, &cl)) { fprintf(stderr, "cldiff eval fid: --features: %s\n", cld_ctx_errmsg(ctx)); rc = 2; goto done; }
  int size = cld_classifier_size(cl);
  if (cld_dataset_open_sized(ctx, ref, split, size, &rd)) { fprintf(stderr, "cldiff eval fid: --ref %s: %s\n", ref, cld_ctx_errmsg(ctx)); rc = 2; goto done; }
  int64_t clamped = 0;
  if ((rc = load_samples(ctx, samples, grid, size, &x, &n, &c, &clamped))) goto done;
  double frac = n > 0 ? (double)clamped / ((double)n * c * size * size) : 0;
  rc = 2;
  if (c != cld_classifier_channels(cl) || rd->c != c || rd->h != size) {
    fprintf(stderr, "cldiff eval fid: channels/size differ: samples %dx%dx%d, reference %dx%dx%d, classifier %dx%dx%d\n", c, size, size,
            rd->c, rd->h, rd->w, cld_classifier_channels(cl), size, size);
    goto done;
  }
  rc = 1;
  if (samples_n && samples_n < n) n = samples_n;
  if (n > 40000) { fprintf(stderr, "cldiff eval fid: %lld samples; at most 40000 (use --samples-n)\n", (long long)n); rc = 2; goto done; }
  int64_t nr = ref_n && ref_n < rd->n ? ref_n : rd->n;
  fr = malloc((size_t)nr * CLD_CLASSIFIER_FEATURES * sizeof *fr);
  fs = malloc((size_t)n * CLD_CLASSIFIER_FEATURES * sizeof *fs);
  if (!fr || !fs) { fprintf(stderr, "cldiff eval fid: out of memory\n"); goto done; }
  double t0 = cli_now();
  bool ref_cached = false; /* the reference's features come from the cache directory after the first run */
  bool rank0 = cli_rank() == 0; /* under mpirun: the samples' features over the ranks, the rest on rank 0 */
  if (rank0 && cld_classifier_features_cached(cl, rd->x, nr, fr, &ref_cached)) {
    fprintf(stderr, "cldiff eval fid: %s\n", cld_ctx_errmsg(ctx));
    goto done;
  }
  if (features_comm(ctx, cl, x, n, (size_t)c * size * size, fs)) goto done;
  if (!rank0) { rc = 0; goto done; }
  cld_fid_params fp = cld_fid_params_default();
  fp.kid_subsets = (int)subsets;
  fp.kid_subset_size = (int)kid_size;
  fp.pr_k = (int)k;
  fp.seed = (uint64_t)seed;
  cld_fid_result r;
  if (cld_fid_metrics(ctx, fr, nr, fs, n, CLD_CLASSIFIER_FEATURES, &fp, &r)) { fprintf(stderr, "cldiff eval fid: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  if (json)
    printf("{\"fid\": %.6g, \"kid\": %.6g, \"kid_std\": %.6g, \"precision\": %.4f, \"recall\": %.4f, \"n_samples\": %lld, \"n_ref\": %lld, "
           "\"clamped_fraction\": %.6f, \"ref\": \"%s\", \"split\": \"%s\", \"samples\": \"%s\", \"features\": \"%s\", "
           "\"ref_features_cached\": %s, \"seconds\": %.2f}\n",
           r.fid, r.kid, r.kid_std, r.precision, r.recall, (long long)n, (long long)nr, frac, ref, split, samples, features,
           ref_cached ? "true" : "false", cli_now() - t0);
  else
    printf("FID %.4f  KID %.5f +- %.5f  precision %.4f  recall %.4f  (%lld samples vs %lld %s %s images%s, %.1f s)\n", r.fid, r.kid,
           r.kid_std, r.precision, r.recall, (long long)n, (long long)nr, ref, split, ref_cached ? ", their features cached" : "",
           cli_now() - t0);
  if (!json && clamped) printf("(%.3f%% of the sample values were outside [-1, 1] and clamped)\n", 100 * frac);
  rc = 0;
done:
  free(x); free(fr); free(fs);
  cld_dataset_free(rd);
  cld_classifier_destroy(cl);
  cld_ctx_destroy(ctx);
  return rc;
}

static int eval_toy(int argc, char **argv) {
  cli_common co = {0};
  const char *toy = NULL, *samples = NULL;
  long seed = 0;
  bool json = false;
  const cli_opt opts[] = {
      {"--toy", "NAME", CLI_STR, &toy, 0, 0, "8gaussians, 25gaussians, moons, swissroll or checkerboard"},
      {"--samples", "FILE.npy", CLI_STR, &samples, 0, 0, "(N, 2) points"},
      {"--seed", "S", CLI_LONG, &seed, 0, 9.2233720368547748e18, "the target points' draw (default 0)"},
      {"--json", NULL, CLI_FLAG, &json, 0, 0, "print one JSON object instead of text"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt *const tables[] = {opts, NULL};
  int prc = cli_parse("eval toy", "usage: cldiff eval toy --toy NAME --samples FILE.npy [options]\n\n"
                      "Sliced Wasserstein-2 (256 projections against 50000 fresh target points), RBF MMD^2 (median\n"
                      "bandwidth, on up to 5000 points of each set), the mean NLL under the true density for\n"
                      "8gaussians/25gaussians and the support fraction for checkerboard.\n", tables, &co, argc - 1, argv + 1);
  if (prc) return prc == 1 ? 0 : 2;
  if (!toy || !samples) { fprintf(stderr, "cldiff eval toy: --toy and --samples are required (see --help)\n"); return 2; }
  if (cld_toy_parse(toy) < 0) { fprintf(stderr, "cldiff eval toy: --toy: '%s' is not 8gaussians, 25gaussians, moons, swissroll or checkerboard\n", toy); return 2; }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  int rc = 2, nd;
  int64_t sh[8];
  float *x = NULL, *ref = NULL;
  if (cld_npy_read(ctx, samples, &x, &nd, sh)) { fprintf(stderr, "cldiff eval toy: --samples: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  int64_t n = sh[0], per = 1;
  for (int i = 1; i < nd; i++) per *= sh[i];
  if (per != 2 || n < 2) { fprintf(stderr, "cldiff eval toy: --samples %s: expected (N, 2) points\n", samples); goto done; }
  rc = 1;
  const int64_t nref = 50000;
  if (!(ref = malloc((size_t)nref * 2 * sizeof *ref)) || cld_toy_sample(ctx, toy, (uint64_t)seed, 0x3300, (size_t)nref, ref)) {
    fprintf(stderr, "cldiff eval toy: %s\n", cld_ctx_errmsg(ctx));
    goto done;
  }
  double sw2, mmd, bw, nll = NAN, support = NAN;
  int64_t nm = n < 5000 ? n : 5000;
  if (cld_sliced_w2(ctx, x, n, ref, nref, 256, (uint64_t)seed, &sw2) || cld_mmd_rbf(ctx, x, nm, ref, 5000, 0, &mmd, &bw)) {
    fprintf(stderr, "cldiff eval toy: %s\n", cld_ctx_errmsg(ctx));
    goto done;
  }
  bool mix = !strcmp(toy, "8gaussians") || !strcmp(toy, "25gaussians");
  if (mix && cld_toy_nll(ctx, toy, x, n, &nll)) { fprintf(stderr, "cldiff eval toy: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  if (!strcmp(toy, "checkerboard")) support = cld_checkerboard_support(x, n);
  if (json) {
    printf("{\"toy\": \"%s\", \"n\": %lld, \"sw2\": %.6g, \"mmd\": %.6g, \"mmd_bandwidth\": %.4g", toy, (long long)n, sw2, mmd, bw);
    if (mix) printf(", \"nll\": %.6g", nll);
    if (!strcmp(toy, "checkerboard")) printf(", \"support\": %.4f", support);
    printf("}\n");
  } else {
    printf("%s, %lld points: SW2 %.4f  MMD^2 %.5f (bandwidth %.3f)", toy, (long long)n, sw2, mmd, bw);
    if (mix) printf("  NLL %.4f", nll);
    if (!strcmp(toy, "checkerboard")) printf("  support %.4f", support);
    printf("\n");
  }
  rc = 0;
done:
  free(x);
  free(ref);
  cld_ctx_destroy(ctx);
  return rc;
}

static int eval_exposure(int argc, char **argv) {
  cli_common co = {0};
  sample_opts so;
  sample_opts_init(&so);
  const char *ckpt = NULL, *data = NULL, *out = NULL;
  long n = 64;
  const cli_opt own[] = {
      {"--ckpt", "DIR", CLI_STR, &ckpt, 0, 0, "a run directory, a ckpt-N directory or a diffusers UNet2DModel directory"},
      {"--data", "SPEC", CLI_STR, &data, 0, 0, "the real images of the forward process (as `cldiff train --data`)"},
      {"--out", "DIR", CLI_STR, &out, 0, 0, "writes DIR/exposure.csv, DIR/exposure_var.png, DIR/exposure_x0err.png"},
      {"--n", "N", CLI_LONG, &n, 2, 4096, "images (default 64)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  cli_opt sampler_opts[SAMPLE_OPTS_MAX];
  sample_opts_table(&so, sampler_opts);
  const cli_opt *const tables[] = {own, sampler_opts, NULL};
  int prc = cli_parse("eval exposure", "usage: cldiff eval exposure --ckpt DIR --data SPEC --out DIR [sampler options] [--n N]\n\n"
                      "For every network evaluation of a sampling run of N images: the variance of the sampled x_t\n"
                      "against forward-process x_t from N real images at the same t, and the x0-prediction error on\n"
                      "both.\n", tables, &co, argc - 1, argv + 1);
  if (prc) return prc == 1 ? 0 : 2;
  if (!ckpt || !data || !out) { fprintf(stderr, "cldiff eval exposure: --ckpt, --data and --out are required (see --help)\n"); return 2; }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  int rc = 2;
  ckpt_info ci;
  cld_store *s = NULL;
  cld_model *m = NULL;
  cld_dataset *d = NULL;
  cld_exposure_row *rows = NULL;
  int nr = 0;
  cld_sample_params sp;
  if (ckpt_resolve(ctx, ckpt, so.ema, &ci) || sample_opts_apply(&so, "eval exposure", &ci, &sp)) goto done;
  if (cld_store_create(ctx, &s) || cld_model_load(ctx, ci.model_dir, s, &m)) { fprintf(stderr, "cldiff eval exposure: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  if (cld_dataset_open_sized(ctx, data, "test", cld_model_sample_size(m), &d)) { fprintf(stderr, "cldiff eval exposure: --data %s: %s\n", data, cld_ctx_errmsg(ctx)); goto done; }
  rc = 1;
  if (cld_fs_mkdirs(out)) { fprintf(stderr, "cldiff eval exposure: --out %s: cannot create the directory\n", out); goto done; }
  double t0 = cli_now();
  if (cld_exposure_measure(ctx, m, d, &sp, n, &rows, &nr)) { fprintf(stderr, "cldiff eval exposure: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  size_t cap = (size_t)nr * 128 + 128;
  char *csv = malloc(cap), path[1200];
  double *t = malloc((size_t)nr * 5 * sizeof *t);
  if (!csv || !t) { free(csv); free(t); fprintf(stderr, "cldiff eval exposure: out of memory\n"); goto done; }
  size_t len = (size_t)snprintf(csv, cap, "eval,t,var_sampled,var_forward,x0err_sampled,x0err_forward\n");
  for (int k = 0; k < nr; k++) {
    const cld_exposure_row *r = &rows[k];
    len += (size_t)snprintf(csv + len, cap - len, "%d,%.4f,%.6g,%.6g,%.6g,%.6g\n", r->step, r->t, r->var_sampled, r->var_forward, r->x0err_sampled,
                            r->x0err_forward);
    t[k] = r->t;
    t[nr + k] = r->var_sampled;
    t[2 * nr + k] = r->var_forward;
    t[3 * nr + k] = r->x0err_sampled;
    t[4 * nr + k] = r->x0err_forward;
  }
  snprintf(path, sizeof path, "%s/exposure.csv", out);
  char err[1400];
  if (cld_fs_write_atomic(path, csv, len, err, sizeof err)) {
    fprintf(stderr, "cldiff eval exposure: %s\n", err);
    free(csv);
    free(t);
    goto done;
  }
  cld_status st = CLD_OK;
  cld_plot_series sv[2] = {{"sampled x_t", t, t + nr, nr, false, NULL}, {"forward x_t (real data)", t, t + 2 * nr, nr, false, NULL}};
  cld_plot_series se[2] = {{"on sampled x_t (vs final sample)", t, t + 3 * nr, nr, false, NULL}, {"on forward x_t (vs real x0)", t, t + 4 * nr, nr, false, NULL}};
  cld_plot_params pv = {"Exposure bias: variance of x_t", "time step t", "per-image variance of x_t", false, 0, 0};
  cld_plot_params pe = {"x0-prediction error", "time step t", "mean squared error", true, 0, 0};
  char pv_path[1200], pe_path[1200];
  snprintf(pv_path, sizeof pv_path, "%s/exposure_var.png", out);
  snprintf(pe_path, sizeof pe_path, "%s/exposure_x0err.png", out);
  if (!st) st = cld_plot_lines(ctx, pv_path, &pv, sv, 2);
  if (!st) st = cld_plot_lines(ctx, pe_path, &pe, se, 2);
  free(csv);
  free(t);
  if (st) { fprintf(stderr, "cldiff eval exposure: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  printf("%d evaluations, %ld images, %.1f s: wrote %s, %s, %s\n", nr, n, cli_now() - t0, path, pv_path, pe_path);
  rc = 0;
done:
  free(rows);
  cld_dataset_free(d);
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
  return rc;
}

int cmd_eval(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "fid")) return eval_fid(argc, argv);
  if (!strcmp(argv[1], "toy")) return eval_toy(argc, argv);
  if (!strcmp(argv[1], "exposure")) return eval_exposure(argc, argv);
  if (!strcmp(argv[1], "guidance")) return eval_guidance(argc, argv);
  if (!strcmp(argv[1], "loss")) return eval_loss(argc, argv);
  fprintf(stderr, "cldiff eval: unknown metric '%s' (fid, toy, exposure, guidance or loss; see --help)\n", argv[1]);
  return 2;
}
