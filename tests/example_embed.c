/* The README's embedding example: load a checkpoint, sample, write a PNG. Usage: example_embed DIR OUT.png */
#include <cldiff/cldiff.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s CHECKPOINT_DIR OUT.png\n", argv[0]); return 2; }
  cld_ctx *ctx;
  char err[512];
  if (cld_ctx_create(NULL, &ctx, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
  cld_store *params = NULL;
  cld_model *model = NULL;
  float *images = NULL;
  int rc = 1;
  /* a model directory (a diffusers UNet2DModel: config.json + diffusion_pytorch_model.safetensors) */
  if (cld_store_create(ctx, &params) || cld_model_load(ctx, argv[1], params, &model)) goto out;
  int n = 4, size = cld_model_sample_size(model), channels = cld_model_channels(model);
  cld_sample_params sp = cld_sample_params_default(); /* DDIM, eps prediction, linear schedule */
  sp.steps = 10;
  sp.batch = 2;
  sp.seed = 42; /* image i depends only on (seed, i) */
  images = malloc(sizeof(float) * n * channels * size * size);
  if (!images) goto out;
  if (cld_sample(ctx, model, &sp, 0, n, size, size, images, NULL, NULL)) goto out;
  if (cld_png_write_grid(ctx, argv[2], images, n, channels, size, size, 2)) goto out;
  printf("wrote %s\n", argv[2]);
  rc = 0;
out:
  if (rc) fprintf(stderr, "error: %s\n", cld_ctx_errmsg(ctx));
  free(images);
  cld_model_destroy(model);
  cld_store_destroy(params);
  cld_ctx_destroy(ctx);
  return rc;
}
