/* cldiff datasets and images. Images are float (N, C, H, W) in [-1, 1]. Errors go to the
 * context's message naming the file and the problem. */
#ifndef CLDIFF_DATA_H
#define CLDIFF_DATA_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cld_ctx cld_ctx;

typedef struct cld_dataset {
  int64_t n;          /* images */
  int c, h, w;        /* 0 for 2-D toy points: then c = 2, h = w = 1 */
  float *x;           /* (n, c, h, w) in [-1, 1] */
  int *labels;        /* (n) or NULL: the class of each image, 0..n_classes-1 */
  int n_classes;      /* classes of a labelled dataset (0: unlabelled) */
  char **class_names; /* (n_classes) names, or NULL (malloc'd; cld_dataset_free frees them) */
  char name[128];
  int n_skipped;      /* folder readers: files skipped as unreadable (corrupt, truncated), and the first */
  char skipped_first[256];
} cld_dataset;

/* Reads an IDX image file (raw or .gz), optionally its labels file (NULL to skip). */
CLD_API cld_status cld_idx_load(cld_ctx *ctx, const char *images, const char *labels, cld_dataset **out);
/* "fmnist[:DIR]" (default DIR /usr/share/datasets/fashion-mnist), "mnist:DIR" (both labelled when
 * the labels file is there, with the class names), "cifar10:DIR" (labelled), "folder:DIR" /
 * "png:DIR" (cld_image_folder_load; needs a size: cld_dataset_open_sized), "toy:NAME"
 * (100000 points as (n, 2, 1, 1); the train split from Philox stream 0, test from stream 1);
 * split "train" or "test". */
CLD_API cld_status cld_dataset_open(cld_ctx *ctx, const char *spec, const char *split, cld_dataset **out);
CLD_API void cld_dataset_free(cld_dataset *d);
/* Mean over images of each image's pixel variance (the data-aware Time-Shift statistic). */
CLD_API double cld_dataset_pixel_variance(const cld_dataset *d);
/* Image i of d (c * h * w floats) into dst, mirrored left-right when flip. */
CLD_API void cld_dataset_copy_image(const cld_dataset *d, int64_t i, bool flip, float *dst);

/* Writes n images (n, c, h, w) in [-1, 1] as one PNG grid with cols columns (0: square-ish),
 * 2-pixel gaps; c = 1 gray, 3 RGB. Atomic (temp file + rename). */
CLD_API cld_status cld_png_write_grid(cld_ctx *ctx, const char *path, const float *x, int n, int c, int h, int w, int cols);
/* Reads a PNG (8-bit after expansion): *pixels (malloc'd, h*w*c floats in 0..255, interleaved;
 * NULL to query only), width, height, channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA). */
CLD_API cld_status cld_png_read(cld_ctx *ctx, const char *path, float **pixels, int *w, int *h, int *c);
/* CIFAR-10 binary batches in DIR (or DIR/cifar-10-batches-bin). */
CLD_API cld_status cld_cifar10_load(cld_ctx *ctx, const char *dir, bool train, cld_dataset **out);
/* A folder of PNG and JPEG images, shorter side resized to size then center-cropped; with one
 * subfolder per class (DIR/CLASS/IMAGE, ImageFolder's layout) the images are labelled, classes
 * sorted by name (see image_folder.c). cld_png_folder_load is the same (its older name). */
CLD_API cld_status cld_image_folder_load(cld_ctx *ctx, const char *dir, int size, cld_dataset **out);
CLD_API cld_status cld_png_folder_load(cld_ctx *ctx, const char *dir, int size, cld_dataset **out);
/* Reads a JPEG (baseline or progressive; gray or color, CMYK refused) as png_read does: *pixels
 * (malloc'd, h*w*c floats in 0..255, interleaved; NULL to query only), c 1 (gray) or 3 (RGB). */
CLD_API cld_status cld_jpeg_read(cld_ctx *ctx, const char *path, float **pixels, int *w, int *h, int *c);
/* cld_dataset_open with an image size for specs that need one (png:DIR); 0 = none given. */
CLD_API cld_status cld_dataset_open_sized(cld_ctx *ctx, const char *spec, const char *split, int size, cld_dataset **out);
/* 2-D toys: 8gaussians, 25gaussians, moons, swissroll, checkerboard (definitions in
 * src/io/toy2d.c). n points (x, y) into out (2n floats), from Philox(seed, stream). */
CLD_API int cld_toy_parse(const char *name); /* index or -1 */
CLD_API cld_status cld_toy_sample(cld_ctx *ctx, const char *name, uint64_t seed, uint32_t stream, size_t n, float *out);
/* A scatter plot of n 2-D points on [-range, range]^2 as a 512x512 PNG. */
CLD_API cld_status cld_png_write_scatter(cld_ctx *ctx, const char *path, const float *xy, int n, float range);
/* Reads a rows x cols grid written by cld_png_write_grid back into *out (malloc'd, (n, c, h, w) in
 * [-1, 1]); the tile size follows from the image size. */
CLD_API cld_status cld_png_read_grid(cld_ctx *ctx, const char *path, int rows, int cols, float **out, int *n, int *c, int *h, int *w);
/* Reads a float32/float64 C-order .npy into *data (malloc'd float32), its ndim and shape. */
CLD_API cld_status cld_npy_read(cld_ctx *ctx, const char *path, float **data, int *ndim, int64_t shape[8]);
/* Writes a float32 array as a NumPy .npy file (format 1.0), atomically. */
CLD_API cld_status cld_npy_write(cld_ctx *ctx, const char *path, const float *data, int ndim, const int64_t *shape);
#ifdef __cplusplus
}
#endif
#endif
