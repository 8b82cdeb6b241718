/* `cldiff cache`: where the kernel and tuning cache is, what it holds, whether every entry is
 * whole, and clearing it. */
#include "cli.h"
#include "opts.h"
#include "fs/fs.h"
#include <stdio.h>
#include <unistd.h>

static const char CACHE_SYNOPSIS[] =
    "usage: cldiff cache [--verify] [--clear] [--device D]\n\n"
    "Prints the cache directory ($CLDIFF_CACHE_DIR, else $XDG_CACHE_HOME/cldiff, else\n"
    "~/.cache/cldiff): compiled OpenCL programs, reference-image features and GEMM tuning\n"
    "tables, shared by every cldiff process on this machine. A damaged entry is only ever a\n"
    "miss (rebuilt on use), never read as valid.\n";

int cmd_cache(int argc, char **argv) {
  cli_common co = {0};
  bool verify = false, clear = false;
  const cli_opt opts[] = {
      {"--verify", NULL, CLI_FLAG, &verify, 0, 0, "read every entry and check it (header, key, length, hash; a tuning\n"
       "table parses); exit 1 if any is damaged"},
      {"--clear", NULL, CLI_FLAG, &clear, 0, 0, "remove the cache directory (everything in it is rebuilt on use)"},
      {NULL, NULL, CLI_FLAG, NULL, 0, 0, NULL}};
  const cli_opt *const tables[] = {opts, NULL};
  int prc = cli_parse("cache", CACHE_SYNOPSIS, tables, &co, argc, argv);
  if (prc) return prc == 1 ? 0 : 2;
  cld_ctx *ctx = cli_ctx(&co);
  if (!ctx) return 1;
  const char *dir = cld_ctx_cache_dir(ctx);
  int entries = 0, bad = 0, rc = 0;
  char first[1200];
  if (cld_ctx_cache_verify(ctx, &entries, &bad, first, sizeof first)) {
    fprintf(stderr, "cldiff cache: %s\n", cld_ctx_errmsg(ctx));
    rc = 1;
  } else if (clear) {
    cld_fs_rm_tree(dir);
    if (access(dir, F_OK) == 0) { fprintf(stderr, "cldiff cache: cannot remove %s\n", dir); rc = 1; }
    else printf("%s: removed (%d entries)\n", dir, entries);
  } else if (verify) {
    printf("%s: %d entries, %d damaged%s%s\n", dir, entries, bad, bad ? ", the first: " : "", bad ? first : "");
    rc = bad ? 1 : 0;
  } else {
    printf("%s: %d entries\n", dir, entries);
  }
  cld_ctx_destroy(ctx);
  return rc;
}
