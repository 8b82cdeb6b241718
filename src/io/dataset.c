/* Dataset specs ("fmnist[:DIR]", "mnist:DIR") resolved to files and loaded; dataset
 * statistics, and the class names of the labelled ones. One format per file: IDX in idx.c, CIFAR-10
 * in cifar.c, image folders in image_folder.c (decoding in png.c and jpeg.c), 2-D toys in toy2d.c. */
#include "runtime/runtime.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cld_dataset_free(cld_dataset *d) {
  if (!d) return;
  free(d->x);
  free(d->labels);
  for (int i = 0; d->class_names && i < d->n_classes; i++) free(d->class_names[i]);
  free(d->class_names);
  free(d);
}

/* a labelled dataset's K classes and their names; every label must be in 0..K-1 */
static cld_status set_classes(cld_ctx *ctx, cld_dataset *d, int K, const char *const *names) {
  for (int64_t i = 0; i < d->n; i++)
    if (d->labels[i] < 0 || d->labels[i] >= K)
      return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: image %lld has label %d (%d classes: 0..%d)", d->name, (long long)i, d->labels[i], K, K - 1);
  if (!(d->class_names = calloc((size_t)K, sizeof *d->class_names))) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  d->n_classes = K;
  for (int k = 0; k < K; k++)
    if (!(d->class_names[k] = strdup(names[k]))) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  return CLD_OK;
}

static const char *const fmnist_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
static const char *const mnist_names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
static const char *const cifar10_names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                              "dog", "frog", "horse", "ship", "truck"};

/* d (loaded) gets its classes, or is freed on failure */
static cld_status with_classes(cld_ctx *ctx, cld_status st, cld_dataset **out, const char *const *names) {
  if (st || !(*out)->labels) return st;
  if ((st = set_classes(ctx, *out, 10, names))) {
    cld_dataset_free(*out);
    *out = NULL;
  }
  return st;
}

/* dir/base or dir/base.gz, whichever exists */
static void pick(char *out, size_t n, const char *dir, const char *base) {
  snprintf(out, n, "%s/%s.gz", dir, base);
  if (access(out, R_OK) == 0) return;
  snprintf(out, n, "%s/%s", dir, base);
}

cld_status cld_dataset_open(cld_ctx *ctx, const char *spec, const char *split, cld_dataset **out) {
  return cld_dataset_open_sized(ctx, spec, split, 0, out);
}

cld_status cld_dataset_open_sized(cld_ctx *ctx, const char *spec, const char *split, int size, cld_dataset **out) {
  if (!ctx || !spec || !out) return CLD_ERR_INVALID_ARG;
  if (!split) split = "train";
  bool train = !strcmp(split, "train");
  if (!train && strcmp(split, "test")) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "dataset split '%s' (train or test)", split);
  const char *colon = strchr(spec, ':');
  size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);
  const char *dir = colon ? colon + 1 : NULL;
  if ((kl == 6 && !strncmp(spec, "fmnist", 6)) || (kl == 5 && !strncmp(spec, "mnist", 5))) {
    if (!dir || !*dir) {
      if (kl == 5) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "dataset '%s': mnist needs a directory (mnist:DIR)", spec);
      dir = "/usr/share/datasets/fashion-mnist";
    }
    char img[1024], lab[1024];
    pick(img, sizeof img, dir, train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte");
    pick(lab, sizeof lab, dir, train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte");
    cld_status st = cld_idx_load(ctx, img, access(lab, R_OK) == 0 ? lab : NULL, out);
    if (st == CLD_ERR_IO && !colon)
      cld_seterr(ctx, st, "%s (install the Debian package dataset-fashion-mnist or give fmnist:DIR)", cld_ctx_errmsg(ctx));
    return with_classes(ctx, st, out, kl == 5 ? mnist_names : fmnist_names);
  }
  if (kl == 7 && !strncmp(spec, "cifar10", 7)) {
    if (!dir || !*dir) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "dataset '%s': cifar10 needs a directory (cifar10:DIR)", spec);
    return with_classes(ctx, cld_cifar10_load(ctx, dir, train, out), out, cifar10_names);
  }
  if ((kl == 3 && !strncmp(spec, "png", 3)) || (kl == 6 && !strncmp(spec, "folder", 6))) {
    if (!dir || !*dir) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "dataset '%s' needs a folder (folder:DIR)", spec);
    return cld_image_folder_load(ctx, dir, size, out);
  }
  if (kl == 3 && !strncmp(spec, "toy", 3)) {
    const size_t n = 100000;
    cld_dataset *d = calloc(1, sizeof *d);
    if (!d || !(d->x = malloc(2 * n * sizeof(float)))) { free(d); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
    cld_status st = cld_toy_sample(ctx, dir, 0, train ? 0 : 1, n, d->x);
    if (st) { cld_dataset_free(d); return st; }
    d->n = (int64_t)n;
    d->c = 2;
    d->h = d->w = 1;
    snprintf(d->name, sizeof d->name, "toy:%s", dir);
    *out = d;
    return CLD_OK;
  }
  return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "dataset spec '%s' not supported (fmnist[:DIR], mnist:DIR, cifar10:DIR, folder:DIR, png:DIR, toy:NAME)", spec);
}

double cld_dataset_pixel_variance(const cld_dataset *d) {
  if (!d || d->n == 0) return 0;
  int64_t per = (int64_t)d->c * d->h * d->w;
  double acc = 0;
  for (int64_t i = 0; i < d->n; i++) {
    const float *p = d->x + i * per;
    double m = 0, v = 0;
    for (int64_t k = 0; k < per; k++) m += p[k];
    m /= per;
    for (int64_t k = 0; k < per; k++) v += (p[k] - m) * (p[k] - m);
    acc += v / (per - 1 > 0 ? per - 1 : 1);
  }
  return acc / d->n;
}

void cld_dataset_copy_image(const cld_dataset *d, int64_t i, bool flip, float *dst) {
  int64_t per = (int64_t)d->c * d->h * d->w;
  const float *src = d->x + i * per;
  if (!flip) {
    memcpy(dst, src, (size_t)per * sizeof(float));
    return;
  }
  for (int c = 0; c < d->c; c++)
    for (int y = 0; y < d->h; y++)
      for (int x = 0; x < d->w; x++) dst[((int64_t)c * d->h + y) * d->w + x] = src[((int64_t)c * d->h + y) * d->w + (d->w - 1 - x)];
}
