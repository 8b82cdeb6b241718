/* The CLI's table-driven option parser: each option is declared once, with its type, range and
 * help line, and both --help and the error messages come from that declaration. */
#ifndef CLDIFF_CLI_OPTS_H
#define CLDIFF_CLI_OPTS_H
#include "cli.h"
#include <stdbool.h>
#include <stdio.h>

typedef enum { CLI_FLAG, CLI_STR, CLI_LONG, CLI_INT, CLI_FLOAT, CLI_LIST } cli_kind;
/* a repeatable option's values, in order (CLI_LIST): at most max of them */
typedef struct cli_list { const char **v; int n, max; } cli_list;

typedef struct cli_opt {
  const char *name; /* "--steps"; NULL ends a table; "" is a section heading (help only) */
  const char *meta; /* the value's name in --help ("N"), NULL for flags */
  cli_kind kind;
  void *dst;        /* bool *, const char **, long *, int *, float *, cli_list * by kind */
  double lo, hi;    /* the accepted range of numbers */
  const char *help; /* the help text; '\n' starts an aligned continuation line */
} cli_opt;

/* Parses argv[1..argc-1] against the NULL-terminated list of tables and the common --device /
 * --gemm options. Returns 0 when everything parsed, 1 after printing help for --help/-h
 * (synopsis, then every table), 2 after printing an error that names the option. */
int cli_parse(const char *cmd, const char *synopsis, const cli_opt *const *tables, cli_common *co, int argc, char **argv);
/* The help of one table (the lines cli_parse prints for --help). */
void cli_print_opts(FILE *f, const cli_opt *opts);
/* The option named a in the tables, or NULL. */
const cli_opt *cli_find(const cli_opt *const *tables, const char *a);
/* Stores the value v of option o; 0, or 2 after printing "cldiff CMD: --opt: ..." */
int cli_set(const char *cmd, const cli_opt *o, const char *v);
#endif
