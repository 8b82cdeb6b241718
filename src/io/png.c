/* PNG writing through libpng: sample grids. The only file that includes png.h. */
#include "runtime/runtime.h"
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cld_status write_png(cld_ctx *ctx, const char *path, unsigned char *img, int W, int H, int c);

cld_status cld_png_read(cld_ctx *ctx, const char *path, float **pixels, int *w, int *h, int *c) {
  FILE *f = fopen(path, "rb");
  if (!f) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char sig[8];
  if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) { fclose(f); return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: not a PNG file", path); }
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  /* assigned after setjmp and read after libpng's longjmp: volatile, as C11 7.13.2.1 requires */
  png_bytep *volatile rows = NULL;
  unsigned char *volatile buf = NULL;
  volatile cld_status st = CLD_OK;
  if (!png || !info) st = cld_seterr(ctx, CLD_ERR_NOMEM, "png: cannot create reader");
  else if (setjmp(png_jmpbuf(png))) st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: corrupt or truncated PNG", path);
  else {
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_set_expand(png);           /* palette -> RGB, low-bit gray -> 8 bits, tRNS -> alpha */
    png_set_strip_16(png);
    png_read_update_info(png, info);
    int W = (int)png_get_image_width(png, info), H = (int)png_get_image_height(png, info);
    int C = png_get_channels(png, info);
    size_t rb = png_get_rowbytes(png, info);
    if (W < 1 || H < 1 || W > 1 << 15 || H > 1 << 15 || C < 1 || C > 4) st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: unsupported size or channels", path);
    else if (!(buf = malloc(rb * (size_t)H)) || !(rows = malloc((size_t)H * sizeof *rows))) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    else {
      for (int y = 0; y < H; y++) rows[y] = buf + rb * (size_t)y;
      png_read_image(png, rows);
      float *px = pixels ? malloc((size_t)W * H * C * sizeof *px) : NULL;
      if (pixels && !px) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
      else { /* out-parameters only on success */
        for (int y = 0; px && y < H; y++)
          for (int k = 0; k < W * C; k++) px[(size_t)y * W * C + k] = rows[y][k];
        if (pixels) *pixels = px;
        *w = W;
        *h = H;
        *c = C;
      }
    }
  }
  png_destroy_read_struct(&png, &info, NULL);
  free((void *)rows);
  free((void *)buf);
  fclose(f);
  return st;
}

cld_status cld_png_write_scatter(cld_ctx *ctx, const char *path, const float *xy, int n, float range) {
  if (!ctx || !path || !xy || n < 1 || !(range > 0)) return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "png: bad scatter arguments") : CLD_ERR_INVALID_ARG;
  const int S = 512;
  unsigned char *img = malloc((size_t)S * S);
  if (!img) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  memset(img, 255, (size_t)S * S);
  for (int i = 0; i < S; i++) img[(size_t)(S / 2) * S + i] = img[(size_t)i * S + S / 2] = 200; /* axes */
  for (int i = 0; i < n; i++) {
    int px = (int)((xy[2 * i] + range) / (2 * range) * S), py = (int)((range - xy[2 * i + 1]) / (2 * range) * S);
    for (int dy = 0; dy < 2; dy++)
      for (int dx = 0; dx < 2; dx++)
        if (px + dx >= 0 && px + dx < S && py + dy >= 0 && py + dy < S) img[(size_t)(py + dy) * S + px + dx] = 0;
  }
  cld_status st = write_png(ctx, path, img, S, S, 1);
  free(img);
  return st;
}

cld_status cld_png_write_grid(cld_ctx *ctx, const char *path, const float *x, int n, int c, int h, int w, int cols) {
  if (!ctx || !path || !x || n < 1 || (c != 1 && c != 3) || h < 1 || w < 1)
    return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "png: bad grid arguments (n=%d c=%d h=%d w=%d)", n, c, h, w) : CLD_ERR_INVALID_ARG;
  if (cols <= 0) {
    cols = 1;
    while (cols * cols < n) cols++;
  }
  int rows = (n + cols - 1) / cols, gap = 2;
  int W = cols * w + (cols + 1) * gap, H = rows * h + (rows + 1) * gap;
  unsigned char *img = calloc((size_t)W * H * c, 1);
  if (!img) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int i = 0; i < n; i++) {
    int gy = i / cols, gx = i % cols, oy = gap + gy * (h + gap), ox = gap + gx * (w + gap);
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++) {
          float v = x[(((size_t)i * c + ch) * h + y) * w + xx];
          v = (v + 1.0f) * 127.5f;
          v = v < 0 ? 0 : v > 255 ? 255 : v;
          img[((size_t)(oy + y) * W + ox + xx) * c + ch] = (unsigned char)(v + 0.5f);
        }
  }
  cld_status st = write_png(ctx, path, img, W, H, c);
  free(img);
  return st;
}

/* img (H, W, c) bytes -> path, atomically */
static cld_status write_png(cld_ctx *ctx, const char *path, unsigned char *img, int W, int H, int c) {
  png_bytep *rowp = malloc((size_t)H * sizeof *rowp);
  if (!rowp) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int y = 0; y < H; y++) rowp[y] = img + (size_t)y * W * c;
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) { free(rowp); return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno)); }
  cld_status st = CLD_OK;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) st = cld_seterr(ctx, CLD_ERR_NOMEM, "png: cannot create writer");
  else if (setjmp(png_jmpbuf(png))) st = cld_seterr(ctx, CLD_ERR_IO, "%s: libpng write error", path);
  else {
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rowp);
    png_write_end(png, NULL);
  }
  png_destroy_write_struct(&png, &info);
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) st = st ? st : cld_seterr(ctx, CLD_ERR_IO, "%s: write failed", path);
  fclose(f);
  free(rowp);
  if (st || rename(tmp, path) != 0) {
    unlink(tmp);
    return st ? st : cld_seterr(ctx, CLD_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
  }
  return CLD_OK;
}

/* The inverse of cld_png_write_grid: a rows x cols grid with 2-pixel gaps (outer border included)
 * back into (rows*cols, c, h, w) floats in [-1, 1]; gray+alpha / RGBA lose their alpha. */
cld_status cld_png_read_grid(cld_ctx *ctx, const char *path, int rows, int cols, float **out, int *n, int *c, int *h, int *w) {
  if (!ctx || !path || rows < 1 || cols < 1 || !out || !n || !c || !h || !w) return CLD_ERR_INVALID_ARG;
  float *px;
  int W, H, pc;
  cld_status st = cld_png_read(ctx, path, &px, &W, &H, &pc);
  if (st) return st;
  int gap = 2, tw = (W - (cols + 1) * gap) / cols, th = (H - (rows + 1) * gap) / rows, oc = pc >= 3 ? 3 : 1;
  if (tw < 1 || th < 1 || tw * cols + (cols + 1) * gap != W || th * rows + (rows + 1) * gap != H) {
    free(px);
    return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: %dx%d pixels is not a %dx%d grid with 2-pixel gaps (as cldiff sample writes)", path, W, H,
                      rows, cols);
  }
  float *x = malloc((size_t)rows * cols * oc * th * tw * sizeof *x);
  if (!x) { free(px); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  for (int i = 0; i < rows * cols; i++) {
    int oy = gap + (i / cols) * (th + gap), ox = gap + (i % cols) * (tw + gap);
    for (int ch = 0; ch < oc; ch++)
      for (int y = 0; y < th; y++)
        for (int xx = 0; xx < tw; xx++)
          x[(((size_t)i * oc + ch) * th + y) * tw + xx] = px[((size_t)(oy + y) * W + ox + xx) * pc + ch] / 127.5f - 1.0f;
  }
  free(px);
  *out = x;
  *n = rows * cols;
  *c = oc;
  *h = th;
  *w = tw;
  return CLD_OK;
}
