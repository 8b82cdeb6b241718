/* A folder of PNG images as a dataset: every *.png (sorted by name), gray or RGB (alpha is
 * dropped; gray is repeated to RGB when the folder mixes both), the shorter side resized to SIZE
 * with an area-averaging (box) filter, then center-cropped to SIZE x SIZE. Decoding is png.c's. */
#include "runtime/runtime.h"
#include <dirent.h>
#include <strings.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

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

cld_status cld_png_folder_load(cld_ctx *ctx, const char *dir, int size, cld_dataset **out) {
  if (size < 1) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "png:%s: an image size is needed (the model's sample_size)", dir);
  DIR *dd = opendir(dir);
  if (!dd) return cld_seterr(ctx, CLD_ERR_IO, "png:%s: cannot open the folder", dir);
  char **names = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(dd))) {
    size_t l = strlen(e->d_name);
    if (l < 5 || strcasecmp(e->d_name + l - 4, ".png")) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      char **nn = realloc(names, (size_t)cap * sizeof *nn);
      if (!nn) break;
      names = nn;
    }
    names[n++] = strdup(e->d_name);
  }
  closedir(dd);
  if (n == 0) { free(names); return cld_seterr(ctx, CLD_ERR_IO, "png:%s: no .png files", dir); }
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  cld_status st = CLD_OK;
  /* first pass: channels (RGB if any image has color); an unreadable file is skipped, not fatal */
  int channels = 1, skipped = 0;
  char first_bad[256] = "";
  for (int i = 0; i < n; i++) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    int w, h, c;
    cld_status r = cld_png_read(ctx, path, NULL, &w, &h, &c);
    if (r == CLD_ERR_NOMEM) { st = r; break; }
    if (r) {
      if (!skipped++) snprintf(first_bad, sizeof first_bad, "%s", cld_ctx_errmsg(ctx));
      free(names[i]);
      names[i] = NULL;
      continue;
    }
    if (c >= 3) channels = 3;
  }
  int kept = 0; /* the readable names, in order */
  for (int i = 0; i < n; i++)
    if (names[i]) names[kept++] = names[i];
  if (!st && kept == 0) st = cld_seterr(ctx, CLD_ERR_FORMAT, "png:%s: none of the %d .png files reads (%s)", dir, n, first_bad);
  n = kept;
  cld_dataset *d = st ? NULL : calloc(1, sizeof *d);
  if (!st && (!d || !(d->x = malloc((size_t)n * channels * size * size * sizeof(float))))) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int i = 0; i < n && !st; i++) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    int w, h, c;
    float *img = NULL;
    if ((st = cld_png_read(ctx, path, &img, &w, &h, &c))) break;
    /* shorter side -> size, then center crop */
    int rh = h <= w ? size : (int)lround((double)h * size / w), rw = w <= h ? size : (int)lround((double)w * size / h);
    float *plane = malloc((size_t)h * w * sizeof *plane), *rs = malloc((size_t)rh * rw * sizeof *rs);
    if (!plane || !rs) { free(plane); free(rs); free(img); st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); break; }
    int oy = (rh - size) / 2, ox = (rw - size) / 2;
    for (int ch = 0; ch < channels; ch++) {
      int src_ch = c >= 3 ? ch : 0; /* gray repeats into RGB; alpha (c = 2 or 4) is dropped */
      for (int k = 0; k < h * w; k++) plane[k] = img[(size_t)k * c + src_ch];
      resample(plane, h, w, rs, rh, rw);
      float *dst = d->x + (((size_t)i * channels + ch) * size) * size;
      for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) dst[(size_t)y * size + x] = rs[(size_t)(y + oy) * rw + x + ox] / 127.5f - 1.0f;
    }
    free(plane);
    free(rs);
    free(img);
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  if (st) { cld_dataset_free(d); return st; }
  d->n = n;
  d->n_skipped = skipped;
  snprintf(d->skipped_first, sizeof d->skipped_first, "%s", first_bad);
  d->c = channels;
  d->h = d->w = size;
  snprintf(d->name, sizeof d->name, "png:%s", dir);
  *out = d;
  return CLD_OK;
}
