/* `cldiff plot`: PNG line charts from training logs (JSONL) and metric / exposure CSVs. */
#include "cli.h"
#include "opts.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 8
#define MAX_COLS 8

typedef struct { double *x, *y; int n, cap; } series_buf;

static int push(series_buf *b, double x, double y) {
  if (b->n == b->cap) {
    int cap = b->cap ? 2 * b->cap : 256;
    double *nx = realloc(b->x, (size_t)cap * sizeof *nx);
    if (nx) b->x = nx;
    double *ny = realloc(b->y, (size_t)cap * sizeof *ny);
    if (ny) b->y = ny;
    if (!nx || !ny) return -1;
    b->cap = cap;
  }
  b->x[b->n] = x;
  b->y[b->n++] = y;
  return 0;
}

static int read_log(const char *path, const char *key, int smooth, series_buf *b) {
  FILE *f = fopen(path, "r");
  if (!f) { fprintf(stderr, "cldiff plot: --log %s: cannot open\n", path); return 2; }
  char line[4096];
  long lineno = 0;
  double acc = 0;
  double *win = calloc((size_t)smooth, sizeof *win);
  int have = 0, rc = 0;
  while (win && fgets(line, sizeof line, f)) {
    lineno++;
    cJSON *j = cJSON_Parse(line);
    const cJSON *s = j ? cJSON_GetObjectItemCaseSensitive(j, "step") : NULL, *v = j ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
    if (!cJSON_IsNumber(s) || !cJSON_IsNumber(v)) {
      fprintf(stderr, "cldiff plot: %s line %ld: no numeric \"step\" and \"%s\"\n", path, lineno, key);
      cJSON_Delete(j);
      rc = 2;
      break;
    }
    double val = v->valuedouble;
    acc += val - win[have % smooth];
    win[have % smooth] = val;
    have++;
    int k = have < smooth ? have : smooth;
    if (push(b, s->valuedouble, acc / k)) rc = 1;
    cJSON_Delete(j);
    if (rc) break;
  }
  free(win);
  fclose(f);
  if (!rc && b->n == 0) { fprintf(stderr, "cldiff plot: %s: no records\n", path); rc = 2; }
  return rc;
}

static int split_line(char *line, char **fields, int max) {
  int n = 0;
  for (char *tok = strtok(line, ",\r\n"); tok && n < max; tok = strtok(NULL, ",\r\n")) fields[n++] = tok;
  return n;
}

static int read_csv(const char *path, const char *xcol, char **ycols, int ny, series_buf *b) {
  FILE *f = fopen(path, "r");
  if (!f) { fprintf(stderr, "cldiff plot: --csv %s: cannot open\n", path); return 2; }
  char line[8192], *fld[64];
  int rc = 0, xi = -1, yi[2 * MAX_COLS];
  if (!fgets(line, sizeof line, f)) { fprintf(stderr, "cldiff plot: %s: empty\n", path); fclose(f); return 2; }
  int nf = split_line(line, fld, 64);
  for (int k = 0; k < ny; k++) yi[k] = -1;
  for (int i = 0; i < nf; i++) {
    if (!strcmp(fld[i], xcol)) xi = i;
    for (int k = 0; k < ny; k++)
      if (!strcmp(fld[i], ycols[k])) yi[k] = i;
  }
  if (xi < 0) { fprintf(stderr, "cldiff plot: %s: no column '%s'\n", path, xcol); fclose(f); return 2; }
  for (int k = 0; k < ny; k++)
    if (yi[k] < 0) { fprintf(stderr, "cldiff plot: %s: no column '%s'\n", path, ycols[k]); fclose(f); return 2; }
  long lineno = 1;
  while (!rc && fgets(line, sizeof line, f)) {
    lineno++;
    int m = split_line(line, fld, 64);
    if (m == 0) continue;
    if (m < nf) { fprintf(stderr, "cldiff plot: %s line %ld: %d fields, the header has %d\n", path, lineno, m, nf); rc = 2; break; }
    char *end;
    double x = strtod(fld[xi], &end);
    if (*end) { fprintf(stderr, "cldiff plot: %s line %ld: '%s' is not a number\n", path, lineno, fld[xi]); rc = 2; break; }
    for (int k = 0; k < ny && !rc; k++) {
      double y = strtod(fld[yi[k]], &end);
      if (*end) y = NAN;
      if (push(&b[k], x, y)) rc = 1;
    }
  }
  fclose(f);
  return rc;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

int cmd_plot(int argc, char **argv) {
  const char *logs[MAX_FILES], *csvs[MAX_FILES], *labels[MAX_FILES], *out = NULL, *key = "loss", *xcol = NULL, *ycol = NULL;
  const char *title = NULL, *xlabel = NULL, *ylabel = NULL, *ecol = NULL;
  long smooth = 1;
  bool logy = false;
  cli_list log_l = {logs, 0, MAX_FILES}, csv_l = {csvs, 0, MAX_FILES}, lab_l = {labels, 0, MAX_FILES};
  const cli_opt opts[] = {
      {"--out", "FILE.png", CLI_STR, &out, 0, 0, "the chart"},
      {"--log", "FILE", CLI_LIST, &log_l, 0, 0, "a training log (DIR/log.jsonl of `cldiff train`); repeat to overlay runs"},
      {"--key", "K", CLI_STR, &key, 0, 0, "the log field plotted against \"step\" (default loss)"},
      {"--smooth", "N", CLI_LONG, &smooth, 1, 100000, "draw the running mean over N points (default 1 = raw)"},
      {"--csv", "FILE", CLI_LIST, &csv_l, 0, 0, "a CSV with a header row (e.g. exposure.csv of `cldiff eval exposure`, or a\n"
       "table of metric against steps); repeat to overlay files with the same columns"},
      {"--x", "COL", CLI_STR, &xcol, 0, 0, "the x column of the CSVs"},
      {"--y", "COLS", CLI_STR, &ycol, 0, 0, "one or more comma-separated y columns of the CSVs"},
      {"--err", "COLS", CLI_STR, &ecol, 0, 0, "error-bar half-widths (e.g. std over seeds): one column per --y column"},
      {"--label", "NAME", CLI_LIST, &lab_l, 0, 0, "legend name of the next file (default: the file name); repeat per file"},
      {"--title", "T", CLI_STR, &title, 0, 0, "the chart's title"},
      {"--xlabel", "T", CLI_STR, &xlabel, 0, 0, "the x axis label"},
      {"--ylabel", "T", CLI_STR, &ylabel, 0, 0, "the y axis label"},
      {"--logy", NULL, CLI_FLAG, &logy, 0, 0, "log-scale y axis"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt *const tables[] = {opts, NULL};
  cli_common co = {0};
  int prc = cli_parse("plot", "usage: cldiff plot --out FILE.png (--log FILE.jsonl ... | --csv FILE.csv ... --x COL --y COL[,COL...]) "
                      "[options]\n", tables, &co, argc, argv);
  if (prc) return prc == 1 ? 0 : 2;
  int nlog = log_l.n, ncsv = csv_l.n, nlab = lab_l.n;
  if (nlog + ncsv > MAX_FILES) { fprintf(stderr, "cldiff plot: at most %d files\n", MAX_FILES); return 2; }
  if (!out || (nlog == 0) == (ncsv == 0)) { fprintf(stderr, "cldiff plot: --out and either --log or --csv files are required (see --help)\n"); return 2; }
  if (ncsv && (!xcol || !ycol)) { fprintf(stderr, "cldiff plot: --csv needs --x COL and --y COL[,COL...]\n"); return 2; }
  if (ecol && !ncsv) { fprintf(stderr, "cldiff plot: --err is for --csv files\n"); return 2; }
  /* the y columns, then the error columns: cols[0..ny) and cols[ny..ny+ne) */
  char ybuf[512], ebuf[512], *cols[2 * MAX_COLS], **ycols = cols;
  int ny = 1, ne = 0;
  if (ycol) {
    snprintf(ybuf, sizeof ybuf, "%s", ycol);
    ny = 0;
    for (char *tok = strtok(ybuf, ","); tok && ny < MAX_COLS; tok = strtok(NULL, ",")) cols[ny++] = tok;
  }
  if (ecol) {
    snprintf(ebuf, sizeof ebuf, "%s", ecol);
    for (char *tok = strtok(ebuf, ","); tok && ne < MAX_COLS; tok = strtok(NULL, ",")) cols[ny + ne++] = tok;
    if (ne != ny) { fprintf(stderr, "cldiff plot: --err names %d column(s), --y %d: give one per y column\n", ne, ny); return 2; }
  }
  enum { STRIDE = 2 * MAX_COLS }; /* buffers per file */
  int nfiles = nlog + ncsv, ns = nlog ? nlog : ncsv * ny, rc = 0;
  series_buf bufs[MAX_FILES * STRIDE];
  cld_plot_series s[MAX_FILES * MAX_COLS];
  char names[MAX_FILES * MAX_COLS][160];
  memset(bufs, 0, sizeof bufs);
  for (int fi = 0; fi < nfiles && !rc; fi++) {
    const char *path = nlog ? logs[fi] : csvs[fi], *lab = fi < nlab ? labels[fi] : base_name(path);
    if (nlog) {
      rc = read_log(path, key, (int)smooth, &bufs[fi * STRIDE]);
      snprintf(names[fi], sizeof names[fi], "%s", lab);
    } else {
      rc = read_csv(path, xcol, cols, ny + ne, &bufs[fi * STRIDE]);
      for (int k = 0; k < ny; k++)
        if (nfiles > 1 && ny > 1) snprintf(names[fi * ny + k], sizeof names[0], "%s: %s", lab, ycols[k]);
        else snprintf(names[fi * ny + k], sizeof names[0], "%s", nfiles > 1 ? lab : ycols[k]);
    }
  }
  if (!rc) {
    for (int k = 0; k < ns; k++) {
      const series_buf *b = &bufs[k / ny * STRIDE + k % ny], *e = ne ? b + ny : NULL;
      s[k] = (cld_plot_series){names[k], b->x, b->y, b->n, false, e ? e->y : NULL};
    }
    char deftitle[200];
    snprintf(deftitle, sizeof deftitle, "%s", nlog ? (smooth > 1 ? "training loss (running mean)" : "training loss") : ycol);
    cld_plot_params p = {title ? title : deftitle, xlabel ? xlabel : nlog ? "step" : xcol, ylabel ? ylabel : nlog ? key : ycol, logy, 0, 0};
    cld_ctx *ctx = cli_ctx(&co);
    if (!ctx) rc = 1;
    else {
      if (cld_plot_lines(ctx, out, &p, s, ns)) { fprintf(stderr, "cldiff plot: %s\n", cld_ctx_errmsg(ctx)); rc = 1; }
      else printf("wrote %s (%d curve%s)\n", out, ns, ns > 1 ? "s" : "");
      cld_ctx_destroy(ctx);
    }
  }
  for (int k = 0; k < MAX_FILES * STRIDE; k++) { free(bufs[k].x); free(bufs[k].y); }
  return rc;
}
