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

static cld_status write_text_atomic(cld_ctx *ctx, const char *path, const char *text) {
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
  size_t n = strlen(text);
  int bad = write(fd, text, n) != (ssize_t)n || fsync(fd) != 0;
  bad = close(fd) != 0 || bad;
  if (bad || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return cld_seterr(ctx, CLD_ERR_IO, "%s: write failed: %s", path, strerror(e));
  }
  return CLD_OK;
}

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
    st = write_text_atomic(cld_store_ctx(s), path, json);
  }
  free(json);
  return st;
}

cld_status cld_unet_load(cld_ctx *ctx, const char *dir, cld_store *s, cld_unet **out) {
  if (!ctx || !dir || !s || !out) return CLD_ERR_INVALID_ARG;
  char path[1024];
  snprintf(path, sizeof path, "%s/config.json", dir);
  FILE *f = fopen(path, "rb");
  if (!f) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  char *text = NULL;
  long n = 0;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1))) {
    if (fread(text, 1, (size_t)n, f) != (size_t)n) { free(text); text = NULL; }
    else text[n] = 0;
  }
  fclose(f);
  if (!text) return cld_seterr(ctx, CLD_ERR_IO, "%s: read failed", path);
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
