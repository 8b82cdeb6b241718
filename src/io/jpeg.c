/* JPEG reading through libjpeg-turbo (the IJG API): baseline and progressive, gray or color, as
 * 8-bit gray or RGB. The only file that includes jpeglib.h. libjpeg reports a corrupt file by
 * calling error_exit, which must not return: it longjmps back here, so every local assigned
 * after setjmp and read after the jump is volatile (C11 7.13.2.1). Warnings (a truncated scan
 * that libjpeg pads with gray) are treated as errors, so a damaged file is never a dataset image. */
#include "runtime/runtime.h"
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_error(j_common_ptr cinfo) {
  jpeg_err *e = (jpeg_err *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, e->msg);
  longjmp(e->jump, 1);
}

/* a warning (corrupt data that libjpeg would paper over) is an error here */
static void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_error(cinfo);
}

/* the largest image accepted: 2^15 on a side, as for PNG */
#define JPEG_MAX_SIDE (1 << 15)

cld_status cld_jpeg_read(cld_ctx *ctx, const char *path, float **pixels, int *w, int *h, int *c) {
  FILE *f = fopen(path, "rb");
  if (!f) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct jpeg_decompress_struct cinfo;
  jpeg_err err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_error;
  err.mgr.emit_message = on_message;
  unsigned char *volatile row = NULL;
  float *volatile px = NULL;
  volatile cld_status st = CLD_OK;
  if (setjmp(err.jump)) {
    st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: corrupt or truncated JPEG (%s)", path, err.msg);
  } else {
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    J_COLOR_SPACE in = cinfo.jpeg_color_space;
    if (in == JCS_CMYK || in == JCS_YCCK) {
      st = cld_seterr(ctx, CLD_ERR_UNSUPPORTED, "%s: CMYK JPEG is not supported (convert it to RGB)", path);
    } else {
      cinfo.out_color_space = in == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
      jpeg_calc_output_dimensions(&cinfo);
      int W = (int)cinfo.output_width, H = (int)cinfo.output_height, C = cinfo.output_components;
      if (W < 1 || H < 1 || W > JPEG_MAX_SIDE || H > JPEG_MAX_SIDE || (C != 1 && C != 3)) {
        st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: unsupported size %dx%d or %d channels", path, W, H, C);
      } else if (!pixels) { /* header only */
        *w = W;
        *h = H;
        *c = C;
      } else {
        jpeg_start_decompress(&cinfo);
        if (!(row = malloc((size_t)W * C)) || !(px = malloc((size_t)W * H * C * sizeof(float)))) {
          st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
        } else {
          while (cinfo.output_scanline < cinfo.output_height) {
            size_t y = cinfo.output_scanline;
            JSAMPROW rp = row;
            jpeg_read_scanlines(&cinfo, &rp, 1);
            for (size_t k = 0; k < (size_t)W * C; k++) px[y * (size_t)W * C + k] = row[k];
          }
          jpeg_finish_decompress(&cinfo);
          *pixels = px;
          px = NULL;
          *w = W;
          *h = H;
          *c = C;
        }
      }
    }
  }
  jpeg_destroy_decompress(&cinfo);
  free((void *)row);
  free((void *)px);
  fclose(f);
  return st;
}
