/* `cldiff train-classifier`: trains the feature network of `cldiff eval fid` on a labelled
 * dataset with cldiff's own graph and AdamW, reports its test accuracy and saves it. */
#include "cli.h"
#include "opts.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { double t0; } prog_state;

static void progress(void *user, int64_t step, int64_t total, float loss) {
  prog_state *p = user;
  double el = cli_now() - p->t0, eta = el / (double)step * (double)(total - step);
  fprintf(stderr, "\rstep %lld/%lld loss %.4f %.2f it/s ETA %.0f s   ", (long long)step, (long long)total, loss, (double)step / el, eta);
  fflush(stderr);
}

int cmd_train_classifier(int argc, char **argv) {
  cli_common co = {0};
  const char *data = NULL, *out = NULL;
  long epochs = 6, batch = 128, seed = 0, size = 0;
  float lr = 2e-3f;
  bool hflip = false;
  const cli_opt opts[] = {
      {"--data", "SPEC", CLI_STR, &data, 0, 0, "a labelled dataset: fmnist[:DIR], mnist:DIR, cifar10:DIR, or folder:DIR with one\n"
       "subfolder per class (no split there: the folder is both train and test)"},
      {"--size", "N", CLI_LONG, &size, 1, 4096, "the image size a folder is resized to (the model's sample_size)"},
      {"--out", "DIR", CLI_STR, &out, 0, 0, "writes DIR/classifier.safetensors and DIR/metrics.json (test accuracy)"},
      {"--epochs", "N", CLI_LONG, &epochs, 1, 1000, "passes over the train split (default 6)"},
      {"--batch", "B", CLI_LONG, &batch, 1, 4096, "batch size (default 128)"},
      {"--lr", "LR", CLI_FLOAT, &lr, 1e-9, 0.999999, "AdamW peak learning rate, cosine decay to 0 (default 2e-3)"},
      {"--seed", "S", CLI_LONG, &seed, 0, 9.2233720368547748e18, "initialisation, data order and flips (default 0)"},
      {"--hflip", NULL, CLI_FLAG, &hflip, 0, 0, "random horizontal flips (off by default; use for CIFAR-10)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt *const tables[] = {opts, NULL};
  int prc = cli_parse("train-classifier", "usage: cldiff train-classifier --data SPEC --out DIR [options]\n\n"
                      "Trains a small CNN classifier (4 convolutions, 128-d feature layer, linear head) whose\n"
                      "penultimate layer is the feature space of `cldiff eval fid`.\n", tables, &co, argc, argv);
  if (prc) return prc == 1 ? 0 : 2;
  if (!data || !out) { fprintf(stderr, "cldiff train-classifier: --data and --out are required (see --help)\n"); return 2; }
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  int rc = 1;
  cld_dataset *tr = NULL, *te = NULL;
  cld_classifier *c = NULL;
  if (cld_dataset_open_sized(ctx, data, "train", (int)size, &tr) || cld_dataset_open_sized(ctx, data, "test", (int)size, &te)) {
    fprintf(stderr, "cldiff train-classifier: --data %s: %s\n", data, cld_ctx_errmsg(ctx));
    rc = 2;
    goto done;
  }
  if (!tr->labels || tr->h != tr->w) {
    fprintf(stderr, "cldiff train-classifier: --data %s: %s\n", data, !tr->labels ? "has no labels" : "images must be square");
    rc = 2;
    goto done;
  }
  int classes = 0;
  for (int64_t i = 0; i < tr->n; i++) classes = tr->labels[i] + 1 > classes ? tr->labels[i] + 1 : classes;
  if (cld_classifier_create(ctx, tr->c, tr->h, classes, (uint64_t)seed, &c)) { fprintf(stderr, "cldiff train-classifier: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  cld_classifier_train_params tp = cld_classifier_train_params_default();
  tp.epochs = (int)epochs;
  tp.batch = (int)batch;
  tp.lr = lr;
  tp.seed = (uint64_t)seed;
  tp.hflip = hflip;
  fprintf(stderr, "training the classifier on %s (%lld images, %d classes), %ld epochs, device %s\n", tr->name, (long long)tr->n, classes,
          epochs, cld_ctx_device(ctx)->name);
  prog_state ps = {cli_now()};
  if (cld_classifier_train(c, tr, &tp, progress, &ps)) { fprintf(stderr, "\ncldiff train-classifier: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  double train_s = cli_now() - ps.t0, acc = 0;
  if (cld_classifier_accuracy(c, te, &acc) || cld_classifier_save(c, out)) { fprintf(stderr, "\ncldiff train-classifier: %s\n", cld_ctx_errmsg(ctx)); goto done; }
  char path[1200], json[512];
  snprintf(path, sizeof path, "%s/metrics.json", out);
  snprintf(json, sizeof json, "{\"data\": \"%s\", \"test_accuracy\": %.4f, \"epochs\": %ld, \"batch\": %ld, \"lr\": %g, \"seed\": %ld, \"train_seconds\": %.1f}\n",
           data, acc, epochs, batch, (double)lr, seed, train_s);
  FILE *f = fopen(path, "w");
  if (!f || fputs(json, f) < 0 || fclose(f)) { fprintf(stderr, "\ncldiff train-classifier: cannot write %s\n", path); goto done; }
  fprintf(stderr, "\ntest accuracy %.2f%% (%lld images), trained in %.0f s; saved %s/classifier.safetensors\n", 100 * acc, (long long)te->n, train_s, out);
  rc = 0;
done:
  cld_classifier_destroy(c);
  cld_dataset_free(tr);
  cld_dataset_free(te);
  cld_ctx_destroy(ctx);
  return rc;
}
