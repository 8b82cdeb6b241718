/* A folder of images as a dataset (torchvision's ImageFolder layout): either every image in DIR
 * (unlabelled), or one subfolder per class (DIR/CLASS/IMAGE; classes sorted by name, labels 0..K-1,
 * the class names kept). Images are PNG (png.c) or JPEG (jpeg.c), chosen by extension; gray or RGB
 * (alpha is dropped; gray is repeated to RGB when the folder mixes both), the shorter side resized
 * to SIZE with an area-averaging (box) filter, then center-cropped to SIZE x SIZE. A file that does
 * not decode is skipped and counted, never fatal; a class folder with no image is an error. */
#include "runtime/runtime.h"
#include <dirent.h>
#include <strings.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char *path; int label; } entry;
typedef struct { entry *e; int n, cap; char **classes; int n_classes, cap_classes; } listing;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_image(const char *name) {
  size_t l = strlen(name);
  return (l > 4 && (!strcasecmp(name + l - 4, ".png") || !strcasecmp(name + l - 4, ".jpg"))) ||
         (l > 5 && !strcasecmp(name + l - 5, ".jpeg"));
}
static bool is_jpeg(const char *path) {
  size_t l = strlen(path);
  return (l > 4 && !strcasecmp(path + l - 4, ".jpg")) || (l > 5 && !strcasecmp(path + l - 5, ".jpeg"));
}

/* the sorted names in dir that are images (want_dirs false) or subfolders (true); NULL on OOM */
static char **names_in(const char *dir, bool want_dirs, int *n, bool *oom) {
  *n = 0;
  *oom = false;
  DIR *dd = opendir(dir);
  if (!dd) return NULL;
  char **names = NULL;
  int cap = 0;
  struct dirent *e;
  while ((e = readdir(dd))) {
    if (e->d_name[0] == '.') continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat sb;
    bool isdir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (want_dirs ? !isdir : (isdir || !is_image(e->d_name))) continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nn = realloc(names, (size_t)cap * sizeof *nn);
      if (!nn) { *oom = true; break; }
      names = nn;
    }
    if (!(names[*n] = strdup(e->d_name))) { *oom = true; break; }
    (*n)++;
  }
  closedir(dd);
  if (*n > 1) qsort(names, (size_t)*n, sizeof *names, cmp_str);
  return names;
}
static void free_names(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* the images of one folder into the listing, with label */
static cld_status add_images(cld_ctx *ctx, listing *L, const char *dir, int label) {
  int n;
  bool oom;
  char **names = names_in(dir, false, &n, &oom);
  cld_status st = oom ? cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__) : CLD_OK;
  for (int i = 0; i < n && !st; i++) {
    if (L->n == L->cap) {
      int cap = L->cap ? 2 * L->cap : 256;
      entry *ne = realloc(L->e, (size_t)cap * sizeof *ne);
      if (!ne) { st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); break; }
      L->e = ne;
      L->cap = cap;
    }
    size_t len = strlen(dir) + strlen(names[i]) + 2;
    char *p = malloc(len);
    if (!p) { st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); break; }
    snprintf(p, len, "%s/%s", dir, names[i]);
    L->e[L->n++] = (entry){p, label};
  }
  free_names(names, n);
  return st;
}

static void listing_free(listing *L) {
  for (int i = 0; i < L->n; i++) free(L->e[i].path);
  free(L->e);
  free_names(L->classes, L->n_classes);
}

/* every image of DIR, or of each class subfolder of DIR */
static cld_status list_folder(cld_ctx *ctx, const char *dir, listing *L) {
  DIR *probe = opendir(dir);
  if (!probe) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot open the folder", dir);
  closedir(probe);
  bool oom;
  L->classes = names_in(dir, true, &L->n_classes, &oom);
  if (oom) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  if (L->n_classes == 0) {
    cld_status st = add_images(ctx, L, dir, -1);
    if (!st && L->n == 0) st = cld_seterr(ctx, CLD_ERR_IO, "%s: no .png, .jpg or .jpeg files and no class folders", dir);
    return st;
  }
  int loose;
  char **top = names_in(dir, false, &loose, &oom);
  if (loose > 0) {
    cld_status st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: holds both class folders (%s, ...) and images (%s, ...); put every image in "
                               "its class's folder, or use a folder without subfolders", dir, L->classes[0], top[0]);
    free_names(top, loose);
    return st;
  }
  free(top);
  if (oom) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int k = 0; k < L->n_classes; k++) {
    char sub[2048];
    snprintf(sub, sizeof sub, "%s/%s", dir, L->classes[k]);
    int before = L->n;
    cld_status st = add_images(ctx, L, sub, k);
    if (st) return st;
    if (L->n == before) return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: class folder '%s' holds no .png, .jpg or .jpeg file", dir, L->classes[k]);
  }
  return CLD_OK;
}

static cld_status read_image(cld_ctx *ctx, const char *path, float **px, int *w, int *h, int *c) {
  return is_jpeg(path) ? cld_jpeg_read(ctx, path, px, w, h, c) : cld_png_read(ctx, path, px, w, h, c);
}

/* box-filter resample of one channel plane (sh, sw) -> (dh, dw) */
static void resample(const float *src, int sh, int sw, float *dst, int dh, int dw) {
  double fy = (double)sh / dh, fx = (double)sw / dw;
  for (int y = 0; y < dh; y++)
    for (int x = 0; x < dw; x++) {
      double y0 = y * fy, y1 = (y + 1) * fy, x0 = x * fx, x1 = (x + 1) * fx, acc = 0, wsum = 0;
      for (int sy = (int)floor(y0); sy < (int)ceil(y1) && sy < sh; sy++) {
        double wy = fmin(y1, sy + 1) - fmax(y0, sy);
        for (int sx = (int)floor(x0); sx < (int)ceil(x1) && sx < sw; sx++) {
          double w = wy * (fmin(x1, sx + 1) - fmax(x0, sx));
          acc += w * src[(size_t)sy * sw + sx];
          wsum += w;
        }
      }
      dst[(size_t)y * dw + x] = (float)(wsum > 0 ? acc / wsum : 0);
    }
}

/* image (h, w, c interleaved, 0..255) -> dst (channels, size, size) in [-1, 1] */
static cld_status place(cld_ctx *ctx, const float *img, int w, int h, int c, int channels, int size, float *dst) {
  int rh = h <= w ? size : (int)lround((double)h * size / w), rw = w <= h ? size : (int)lround((double)w * size / h);
  float *plane = malloc((size_t)h * w * sizeof *plane), *rs = malloc((size_t)rh * rw * sizeof *rs);
  if (!plane || !rs) { free(plane); free(rs); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  int oy = (rh - size) / 2, ox = (rw - size) / 2;
  for (int ch = 0; ch < channels; ch++) {
    int src_ch = c >= 3 ? ch : 0; /* gray repeats into RGB; alpha (c = 2 or 4) is dropped */
    for (int k = 0; k < h * w; k++) plane[k] = img[(size_t)k * c + src_ch];
    resample(plane, h, w, rs, rh, rw);
    float *d = dst + (size_t)ch * size * size;
    for (int y = 0; y < size; y++)
      for (int x = 0; x < size; x++) d[(size_t)y * size + x] = rs[(size_t)(y + oy) * rw + x + ox] / 127.5f - 1.0f;
  }
  free(plane);
  free(rs);
  return CLD_OK;
}

/* first pass: drop the files that do not decode (counted, the first named); RGB if any has color */
static cld_status probe_all(cld_ctx *ctx, listing *L, int *channels, int *skipped, char *first_bad, size_t fbn) {
  *channels = 1;
  *skipped = 0;
  int kept = 0;
  for (int i = 0; i < L->n; i++) {
    int w, h, c;
    cld_status r = read_image(ctx, L->e[i].path, NULL, &w, &h, &c);
    if (r == CLD_ERR_NOMEM) { /* the listing stays whole for listing_free */
      memmove(L->e + kept, L->e + i, (size_t)(L->n - i) * sizeof *L->e);
      L->n = kept + (L->n - i);
      return r;
    }
    if (r) {
      if (!(*skipped)++) snprintf(first_bad, fbn, "%s", cld_ctx_errmsg(ctx));
      free(L->e[i].path);
      continue;
    }
    if (c >= 3) *channels = 3;
    L->e[kept++] = L->e[i];
  }
  L->n = kept;
  return CLD_OK;
}

static cld_status set_classes(cld_ctx *ctx, cld_dataset *d, listing *L) {
  if (L->n_classes == 0) return CLD_OK;
  if (!(d->labels = malloc((size_t)L->n * sizeof *d->labels))) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int i = 0; i < L->n; i++) d->labels[i] = L->e[i].label;
  d->class_names = L->classes; /* the dataset owns them now */
  d->n_classes = L->n_classes;
  L->classes = NULL;
  L->n_classes = 0;
  return CLD_OK;
}

cld_status cld_image_folder_load(cld_ctx *ctx, const char *dir, int size, cld_dataset **out) {
  if (!ctx || !dir || !out) return CLD_ERR_INVALID_ARG;
  if (size < 1) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "folder:%s: an image size is needed (the model's sample_size)", dir);
  listing L = {0};
  cld_status st = list_folder(ctx, dir, &L);
  int channels = 1, skipped = 0, n_listed = L.n;
  char first_bad[256] = "";
  if (!st) st = probe_all(ctx, &L, &channels, &skipped, first_bad, sizeof first_bad);
  if (!st && L.n == 0) st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: none of the %d images reads (%s)", dir, n_listed, first_bad);
  cld_dataset *d = st ? NULL : calloc(1, sizeof *d);
  if (!st && (!d || !(d->x = malloc((size_t)L.n * channels * size * size * sizeof(float)))))
    st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int i = 0; i < L.n && !st; i++) {
    int w, h, c;
    float *img = NULL;
    if ((st = read_image(ctx, L.e[i].path, &img, &w, &h, &c))) break;
    st = place(ctx, img, w, h, c, channels, size, d->x + (size_t)i * channels * size * size);
    free(img);
  }
  if (!st) st = set_classes(ctx, d, &L);
  if (!st) {
    d->n = L.n;
    d->n_skipped = skipped;
    snprintf(d->skipped_first, sizeof d->skipped_first, "%s", first_bad);
    d->c = channels;
    d->h = d->w = size;
    snprintf(d->name, sizeof d->name, "folder:%s", dir);
  }
  listing_free(&L);
  if (st) { cld_dataset_free(d); return st; }
  *out = d;
  return CLD_OK;
}

cld_status cld_png_folder_load(cld_ctx *ctx, const char *dir, int size, cld_dataset **out) {
  return cld_image_folder_load(ctx, dir, size, out);
}
