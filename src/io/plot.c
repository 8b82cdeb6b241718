/* Line charts as PNG through libgd (its line drawing, built-in bitmap fonts and PNG encoder):
 * white background, framed plot area with "nice" tick values (1, 2, 5 x 10^k; on a log axis 1, 2,
 * 5 or 1..9 x 10^k over few decades, decades over many), light grid, up to 8 distinguishable
 * colours, point markers on short series, optional error bars, legend in the corner that hides
 * the least. Only this file includes gd.h. */
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

/* the y axis tick at value v (log10 of it on a log axis) with its label and grid line */
static void y_tick(gdImagePtr im, gdFontPtr fs, int L, int R, int py, const char *label, int grid, int black) {
  gdImageLine(im, L, py, R, py, grid);
  gdImageLine(im, L - 5, py, L, py, black);
  gdImageString(im, fs, L - 8 - (int)strlen(label) * fs->w, py - fs->h / 2, (unsigned char *)label, black);
}

/* log axis over [y0, y1] (log10 units): 1, 2, 5 x 10^k below three decades (1..9 x 10^k where
 * that gives fewer than 3 ticks), else every dstep-th decade */
static void log_ticks(gdImagePtr im, gdFontPtr fs, int L, int R, int T, int B, double y0, double y1, int grid, int black) {
  static const int m19[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, m125[3] = {1, 2, 5};
  double span = y1 - y0;
  const int *ms = m125;
  int nm = 1, dstep = (int)fmax(1.0, floor(span / 6));
  if (span < 3) { /* few decades: 1, 2, 5 per decade, or every mantissa if that shows fewer than 3 */
    int count = 0;
    for (int d = (int)floor(y0); d <= (int)ceil(y1); d++)
      for (int i = 0; i < 3; i++) count += log10(m125[i]) + d >= y0 && log10(m125[i]) + d <= y1;
    ms = count < 3 ? m19 : m125;
    nm = count < 3 ? 9 : 3;
    dstep = 1;
  }
  char buf[64];
  for (int d = (int)floor(y0 / dstep) * dstep; d <= (int)ceil(y1); d += dstep)
    for (int i = 0; i < nm; i++) {
      double v = log10(ms[i]) + d;
      if (v < y0 || v > y1) continue;
      double val = ms[i] * pow(10, d);
      if (val >= 1e-3 && val < 1e5) snprintf(buf, sizeof buf, "%.*f", d < 0 ? -d : 0, val);
      else snprintf(buf, sizeof buf, "%de%d", ms[i], d);
      y_tick(im, fs, L, R, B - (int)((v - y0) / (y1 - y0) * (B - T)), buf, grid, black);
    }
}

/* y of a point for the axis: log10 on a log axis, NAN where it cannot be drawn */
static double axis_y(const cld_plot_params *p, double y) {
  if (!isfinite(y) || (p->log_y && y <= 0)) return NAN;
  return p->log_y ? log10(y) : y;
}

cld_status cld_plot_lines(cld_ctx *ctx, const char *path, const cld_plot_params *p, const cld_plot_series *s, int ns) {
  if (!ctx || !path || !p || !s || ns < 1) return ctx ? cld_seterr(ctx, CLD_ERR_INVALID_ARG, "plot: nothing to draw") : CLD_ERR_INVALID_ARG;
  int W = p->width > 0 ? p->width : 900, H = p->height > 0 ? p->height : 560;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (int k = 0; k < ns; k++)
    for (int i = 0; i < s[k].n; i++) {
      double x = s[k].x[i], y = axis_y(p, s[k].y[i]), e = s[k].err ? s[k].err[i] : 0;
      if (!isfinite(x) || !isfinite(y)) continue;
      x0 = fmin(x0, x); x1 = fmax(x1, x); y0 = fmin(y0, y); y1 = fmax(y1, y);
      if (isfinite(e) && e > 0) { /* the bars fit in the plot */
        double lo = axis_y(p, s[k].y[i] - e), hi = axis_y(p, s[k].y[i] + e);
        if (isfinite(lo)) y0 = fmin(y0, lo);
        if (isfinite(hi)) y1 = fmax(y1, hi);
      }
    }
  if (!(x0 <= x1 && y0 <= y1)) return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "plot %s: no finite points to draw", path);
  if (x1 == x0) { x0 -= 1; x1 += 1; }
  bool marked = false; /* point markers and error bars are not cut by the frame */
  for (int k = 0; k < ns; k++) marked |= s[k].n <= 20 || s[k].err;
  if (marked) { double xp = (x1 - x0) * 0.02; x0 -= xp; x1 += xp; }
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
  if (p->log_y) log_ticks(im, fs, L, R, T, B, y0, y1, grid, black);
  else {
    double ys = nice_step(y1 - y0, 6);
    for (double v = ceil(y0 / ys) * ys; v <= y1 + 1e-9 * ys; v += ys) {
      fmt_tick(buf, sizeof buf, fabs(v) < ys * 1e-9 ? 0 : v, ys);
      y_tick(im, fs, L, R, B - (int)((v - y0) / (y1 - y0) * (B - T)), buf, grid, black);
    }
  }
  gdImageRectangle(im, L, T, R, B, black);
  /* curves */
  gdImageSetClip(im, L + 1, T + 1, R - 1, B - 1);
  gdImageSetThickness(im, 2);
  for (int k = 0; k < ns; k++) {
    const int *c = palette[k % 8];
    int col = gdTrueColor(c[0], c[1], c[2]), have = 0, lx = 0, ly = 0;
    for (int i = 0; i < s[k].n; i++) {
      double x = s[k].x[i], y = axis_y(p, s[k].y[i]), e = s[k].err ? s[k].err[i] : 0;
      if (!isfinite(x) || !isfinite(y)) { have = 0; continue; }
      int px = L + (int)lround((x - x0) / (x1 - x0) * (R - L)), py = B - (int)lround((y - y0) / (y1 - y0) * (B - T));
      if (have && (!s[k].dashed || i % 2)) gdImageLine(im, lx, ly, px, py, col);
      if (s[k].n <= 20) gdImageFilledEllipse(im, px, py, 7, 7, col);
      if (isfinite(e) && e > 0) { /* error bar with caps; a log axis clips a bar reaching 0 at the frame */
        double lo = axis_y(p, s[k].y[i] - e), hi = axis_y(p, s[k].y[i] + e);
        int plo = isfinite(lo) ? B - (int)lround((lo - y0) / (y1 - y0) * (B - T)) : B, phi = B - (int)lround((hi - y0) / (y1 - y0) * (B - T));
        gdImageSetThickness(im, 1);
        gdImageLine(im, px, plo, px, phi, col);
        gdImageLine(im, px - 4, plo, px + 4, plo, col);
        gdImageLine(im, px - 4, phi, px + 4, phi, col);
        gdImageSetThickness(im, 2);
      }
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
    /* the corner (upper right, upper left, lower right, lower left) hiding the fewest drawn pixels */
    int bw = lw * fs->w + 40, bh = ns * (fs->h + 4) + 8, bx = R - bw - 8, by = T + 8;
    const int cx[4] = {R - bw - 8, L + 8, R - bw - 8, L + 8}, cy[4] = {T + 8, T + 8, B - bh - 8, B - bh - 8};
    long best = -1;
    for (int q = 0; q < 4; q++) {
      long hidden = 0;
      for (int y = cy[q]; y <= cy[q] + bh; y++)
        for (int x = cx[q]; x <= cx[q] + bw; x++) {
          int v = gdImageGetTrueColorPixel(im, x, y);
          hidden += v != white && v != grid;
        }
      if (best < 0 || hidden < best) { best = hidden; bx = cx[q]; by = cy[q]; }
    }
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
