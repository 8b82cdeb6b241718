/* See opts.h. */
#include "opts.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const cli_opt *cli_find(const cli_opt *const *tables, const char *a) {
  for (int t = 0; tables[t]; t++)
    for (const cli_opt *o = tables[t]; o->name; o++)
      if (*o->name && !strcmp(o->name, a)) return o;
  return NULL;
}

int cli_set(const char *cmd, const cli_opt *o, const char *v) {
  char *end;
  errno = 0;
  switch (o->kind) {
  case CLI_FLAG: *(bool *)o->dst = true; return 0;
  case CLI_STR: *(const char **)o->dst = v; return 0;
  case CLI_LIST: {
    cli_list *l = o->dst;
    if (l->n == l->max) { fprintf(stderr, "cldiff %s: %s: at most %d of them\n", cmd, o->name, l->max); return 2; }
    l->v[l->n++] = v;
    return 0;
  }
  case CLI_LONG: case CLI_INT: {
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < o->lo || x > o->hi) {
      fprintf(stderr, "cldiff %s: %s: '%s' is not an integer in [%.0f, %.0f]\n", cmd, o->name, v, o->lo, o->hi);
      return 2;
    }
    if (o->kind == CLI_LONG) *(long *)o->dst = x;
    else *(int *)o->dst = (int)x;
    return 0;
  }
  case CLI_FLOAT: {
    double x = strtod(v, &end);
    if (!*v || *end || errno || !(x >= o->lo && x <= o->hi)) {
      fprintf(stderr, "cldiff %s: %s: '%s' is not a number in [%g, %g]\n", cmd, o->name, v, o->lo, o->hi);
      return 2;
    }
    *(float *)o->dst = (float)x;
    return 0;
  }
  }
  return 2;
}

void cli_print_opts(FILE *f, const cli_opt *opts) {
  for (const cli_opt *o = opts; o->name; o++) {
    if (!*o->name) { fprintf(f, "%s\n", o->help); continue; }
    char head[64];
    snprintf(head, sizeof head, "%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
    fprintf(f, "  %-19s ", head);
    for (const char *h = o->help; *h; h++) {
      fputc(*h, f);
      if (*h == '\n') fprintf(f, "  %-19s ", "");
    }
    fputc('\n', f);
  }
}

int cli_parse(const char *cmd, const char *synopsis, const cli_opt *const *tables, cli_common *co, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("%s\n", synopsis);
      for (int t = 0; tables[t]; t++) cli_print_opts(stdout, tables[t]);
      printf("  %-19s as for every command (cldiff devices lists them)\n", "--device D, --gemm P");
      return 1;
    }
    int k = cli_common_opt(co, argc, argv, i);
    if (k < 0) return 2;
    if (k > 0) { i += k - 1; continue; }
    const cli_opt *o = cli_find(tables, a);
    if (!o) { fprintf(stderr, "cldiff %s: unknown option '%s' (see --help)\n", cmd, a); return 2; }
    if (o->kind != CLI_FLAG && i + 1 >= argc) { fprintf(stderr, "cldiff %s: %s needs a value (%s)\n", cmd, a, o->meta); return 2; }
    if (cli_set(cmd, o, o->kind == CLI_FLAG ? NULL : argv[++i])) return 2;
  }
  return 0;
}
