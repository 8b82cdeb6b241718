/* Line charts as PNG through libgd (its line drawing, built-in bitmap fonts and PNG encoder):
 * white background, framed plot area with "nice" tick values (1, 2, 5 x 10^k; decades on a log
 * axis), light grid, up to 8 distinguishable colours, legend in the upper right. Only this file
 * includes gd.h. */
#include "runtime/runtime.h"
#include "cldiff/plot.h"
#include <gd.h>
#include <gdfontmb.h>
#include <gdfonts.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const int palette[8][3] = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {255, 127, 14},
                                  {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {23, 190, 207}};

static double nice_step(double range, int target) {
  double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void fmt_tick(char *buf, size_t n, double v, double step) {
  if (v == 0) { snprintf(buf, n, "0"); return; }
  double a = fabs(v);
  if (a >= 1e5 || a < 1e-3) snprintf(buf, n, "%.0e", v);
  else {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", dec > 6 ? 6 : dec, v);
  }
}

cld_status cld_plot_lines(cld_ctx *ctx, const char *path, const cld_plot_params *p, const cld_plot_series *s, int ns) {
  if (!ctx || !path || !p || !s || ns < 1) return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "plot: nothing to draw") : CLD_ERR_INVALID_ARG;
  int W = p->width > 0 ? p->width : 900, H = p->height > 0 ? p->height : 560;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (int k = 0; k < ns; k++)
    for (int i = 0; i < s[k].n; i++) {
      double x = s[k].x[i], y = s[k].y[i];
      if (!isfinite(x) || !isfinite(y) || (p->log_y && y <= 0)) continue;
      if (p->log_y) y = log10(y);
      x0 = fmin(x0, x); x1 = fmax(x1, x); y0 = fmin(y0, y); y1 = fmax(y1, y);
    }
  if (!(x0 <= x1 && y0 <= y1)) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "plot %s: no finite points to draw", path);
  if (x1 == x0) { x0 -= 1; x1 += 1; }
  if (y1 == y0) { y0 -= p->log_y ? 0.5 : fabs(y0) * 0.1 + 1e-9; y1 += p->log_y ? 0.5 : fabs(y1) * 0.1 + 1e-9; }
  double pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  gdImagePtr im = gdImageCreateTrueColor(W, H);
  if (!im) return cld_seterr(ctx, CLD_ERR_NOMEM, "plot: out of memory");
  int white = gdTrueColor(255, 255, 255), black = gdTrueColor(0, 0, 0), grid = gdTrueColor(225, 225, 225);
  gdImageFilledRectangle(im, 0, 0, W - 1, H - 1, white);
  gdFontPtr fs = gdFontGetSmall(), fb = gdFontGetMediumBold();
  int L = 80, R = W - 20, T = 40, B = H - 55;
  /* ticks and grid */
  char buf[64];
  double xs = nice_step(x1 - x0, 8);
  for (double v = ceil(x0 / xs) * xs; v <= x1 + 1e-9 * xs; v += xs) {
    int px = L + (int)((v - x0) / (x1 - x0) * (R - L));
    gdImageLine(im, px, T, px, B, grid);
    gdImageLine(im, px, B, px, B + 5, black);
    fmt_tick(buf, sizeof buf, v, xs);
    gdImageString(im, fs, px - (int)strlen(buf) * fs->w / 2, B + 8, (unsigned char *)buf, black);
  }
  double ys = p->log_y ? fmax(1.0, floor((y1 - y0) / 6)) : nice_step(y1 - y0, 6);
  for (double v = ceil(y0 / ys) * ys; v <= y1 + 1e-9 * ys; v += ys) {
    int py = B - (int)((v - y0) / (y1 - y0) * (B - T));
    gdImageLine(im, L, py, R, py, grid);
    gdImageLine(im, L - 5, py, L, py, black);
    if (p->log_y) snprintf(buf, sizeof buf, "1e%d", (int)lround(v));
    else fmt_tick(buf, sizeof buf, fabs(v) < ys * 1e-9 ? 0 : v, ys);
    gdImageString(im, fs, L - 8 - (int)strlen(buf) * fs->w, py - fs->h / 2, (unsigned char *)buf, black);
  }
  gdImageRectangle(im, L, T, R, B, black);
  /* curves */
  gdImageSetClip(im, L + 1, T + 1, R - 1, B - 1);
  gdImageSetThickness(im, 2);
  for (int k = 0; k < ns; k++) {
    const int *c = palette[k % 8];
    int col = gdTrueColor(c[0], c[1], c[2]), have = 0, lx = 0, ly = 0;
    for (int i = 0; i < s[k].n; i++) {
      double x = s[k].x[i], y = s[k].y[i];
      if (!isfinite(x) || !isfinite(y) || (p->log_y && y <= 0)) { have = 0; continue; }
      if (p->log_y) y = log10(y);
      int px = L + (int)lround((x - x0) / (x1 - x0) * (R - L)), py = B - (int)lround((y - y0) / (y1 - y0) * (B - T));
      if (have && (!s[k].dashed || i % 2)) gdImageLine(im, lx, ly, px, py, col);
      if (s[k].n == 1) gdImageFilledEllipse(im, px, py, 6, 6, col);
      lx = px; ly = py; have = 1;
    }
  }
  gdImageSetThickness(im, 1);
  gdImageSetClip(im, 0, 0, W - 1, H - 1);
  /* legend */
  int lw = 0;
  for (int k = 0; k < ns; k++) {
    int len = s[k].label ? (int)strlen(s[k].label) : 0;
    if (len > lw) lw = len;
  }
  if (lw > 0) {
    int bw = lw * fs->w + 40, bh = ns * (fs->h + 4) + 8, bx = R - bw - 8, by = T + 8;
    gdImageFilledRectangle(im, bx, by, bx + bw, by + bh, white);
    gdImageRectangle(im, bx, by, bx + bw, by + bh, gdTrueColor(150, 150, 150));
    for (int k = 0; k < ns; k++) {
      const int *c = palette[k % 8];
      int col = gdTrueColor(c[0], c[1], c[2]), yy = by + 6 + k * (fs->h + 4) + fs->h / 2;
      gdImageSetThickness(im, 2);
      gdImageLine(im, bx + 6, yy, bx + 28, yy, col);
      gdImageSetThickness(im, 1);
      if (s[k].label) gdImageString(im, fs, bx + 34, yy - fs->h / 2, (unsigned char *)s[k].label, black);
    }
  }
  if (p->title) gdImageString(im, fb, (W - (int)strlen(p->title) * fb->w) / 2, 12, (unsigned char *)p->title, black);
  if (p->xlabel) gdImageString(im, fb, (L + R - (int)strlen(p->xlabel) * fb->w) / 2, H - 24, (unsigned char *)p->xlabel, black);
  if (p->ylabel) gdImageStringUp(im, fb, 10, (T + B + (int)strlen(p->ylabel) * fb->w) / 2, (unsigned char *)p->ylabel, black);
  int size = 0;
  void *png = gdImagePngPtr(im, &size);
  gdImageDestroy(im);
  if (!png) return cld_seterr(ctx, CLD_ERR_NOMEM, "plot %s: PNG encoding failed", path);
  cld_status st = cld_file_write_atomic(ctx, path, png, (size_t)size);
  gdFree(png);
  return st;
}
