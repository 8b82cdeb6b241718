/* Built against an installed cldiff (find_package and pkg-config); runs one tiny graph. */
#include <cldiff/cldiff.h>
#include <stdio.h>

int main(void) {
  cld_ctx *ctx;
  char err[512];
  if (cld_ctx_create(NULL, &ctx, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  cld_graph *g = cld_graph_create(ctx);
  cld_tensor *x = cld_input(g, "x", 1, (int64_t[]){4});
  cld_tensor *y = cld_scale(g, x, 3.0f);
  cld_graph_keep(g, y);
  float in[4] = {1, 2, 3, 4}, out[4] = {0};
  if (cld_graph_plan(g, NULL) || cld_tensor_write(g, x, in) || cld_graph_compute(g) || cld_tensor_read(g, y, out)) {
    fprintf(stderr, "%s\n", cld_ctx_errmsg(ctx));
    return 1;
  }
  cld_graph_destroy(g);
  cld_ctx_destroy(ctx);
  printf("%g %g %g %g\n", out[0], out[1], out[2], out[3]);
  return out[3] == 12.0f ? 0 : 1;
}
