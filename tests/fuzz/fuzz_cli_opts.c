/* The CLI's option parser (tools/cli/opts.c): the input split at NUL bytes is argv, parsed against
 * a table with every kind of option (flag, string, long, int, float, repeatable list). */
#include "fuzz_common.h"
#include "opts.h"
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1), *argv[64];
  if (!text) abort();
  memcpy(text, data, size);
  text[size] = 0;
  int argc = 0;
  argv[argc++] = "fuzz";
  for (size_t i = 0; i <= size && argc < 63; i++) { /* NUL-separated words */
    argv[argc++] = text + i;
    while (i < size && text[i]) i++;
  }
  argv[argc] = NULL;
  bool flag = false;
  const char *str = NULL, *items[4];
  long l = 0;
  int n = 0;
  float f = 0;
  cli_list list = {items, 0, 4};
  cli_common co = {0};
  const cli_opt opts[] = {{"--flag", NULL, CLI_FLAG, &flag, 0, 0, "a flag"},
                          {"--str", "S", CLI_STR, &str, 0, 0, "a string"},
                          {"--long", "N", CLI_LONG, &l, 0, 1e12, "a long"},
                          {"--int", "N", CLI_INT, &n, -5, 50, "an int"},
                          {"--float", "X", CLI_FLOAT, &f, 0, 1, "a float"},
                          {"--list", "X", CLI_LIST, &list, 0, 0, "repeatable"},
                          {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt *const tables[] = {opts, NULL};
  FILE *saved = stdout, *sink = fopen("/dev/null", "w"); /* --help prints */
  if (sink) stdout = sink;
  cli_parse("fuzz", "usage: fuzz", tables, &co, argc, argv);
  if (sink) { stdout = saved; fclose(sink); }
  free(text);
  return 0;
}
