/* cldiff line plots: PNG charts of curves (training loss, metrics against steps, exposure-bias
 * curves) with axes, ticks, axis labels, a title and a legend. */
#ifndef CLDIFF_PLOT_H
#define CLDIFF_PLOT_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cld_ctx cld_ctx;
typedef struct cld_plot_series {
  const char *label;
  const double *x, *y; /* n points; non-finite y values (and y <= 0 on a log axis) are skipped */
  int n;
  bool dashed;
  const double *err; /* optional: n half-widths, drawn as error bars y - err .. y + err (non-finite or <= 0: none) */
} cld_plot_series;
typedef struct cld_plot_params {
  const char *title, *xlabel, *ylabel;
  bool log_y;
  int width, height; /* 0: 900 x 560 */
} cld_plot_params;
/* Writes the chart as a PNG, atomically (temp file, fsync, rename). Series of at most 20 points
 * mark each point; a log y axis labels 1, 2, 5 (or 1..9) x 10^k when it spans few decades. */
CLD_API cld_status cld_plot_lines(cld_ctx *ctx, const char *path, const cld_plot_params *p, const cld_plot_series *s, int ns);
#ifdef __cplusplus
}
#endif
#endif
