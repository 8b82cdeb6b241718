/* UNet checkpoint directories as diffusers lays them out: config.json +
 * diffusion_pytorch_model.safetensors. Both files are written atomically; loading checks the
 * config and every parameter before anything is used. */
#include "cldiff/cldiff.h"
#include "runtime/runtime.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cld_status cld_unet_save(cld_unet *u, cld_store *s, const char *dir) {
  if (!u || !s || !dir) return CLD_ERR_INVALID_ARG;
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return cld_seterr(cld_store_ctx(s), CLD_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
  char path[1024];
  char *json = cld_unet_config_json(cld_unet_get_config(u));
  if (!json) return CLD_ERR_NOMEM;
  snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
  cld_status st = cld_store_save(s, path, (const char *const[]){"format", "pt", NULL});
  if (!st) {
    snprintf(path, sizeof path, "%s/config.json", dir);
    st = cld_write_text_atomic(cld_store_ctx(s), path, json);
  }
  free(json);
  return st;
}

cld_status cld_unet_load(cld_ctx *ctx, const char *dir, cld_store *s, cld_unet **out) {
  if (!ctx || !dir || !s || !out) return CLD_ERR_INVALID_ARG;
  char path[1024];
  snprintf(path, sizeof path, "%s/config.json", dir);
  char *text = cld_fs_read_text(path);
  if (!text) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
  cld_unet_config c;
  char err[256];
  cld_status st = cld_unet_config_parse(text, &c, err, sizeof err);
  free(text);
  if (st) return cld_seterr(ctx, st, "%s: %s", path, err);
  cld_unet *u;
  if ((st = cld_unet_create(ctx, &c, s, &u))) return st;
  snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
  if ((st = cld_store_load(s, path, NULL))) { cld_unet_destroy(u); return st; } /* extra tensors are ignored */
  *out = u;
  return CLD_OK;
}
