/* safetensors: header JSON, offsets, dtypes, shapes; every tensor a successful open lists is read. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cld_ctx *ctx = fuzz_ctx();
  cld_safetensors *st = NULL;
  if (cld_safetensors_open(ctx, fuzz_file(data, size, ".safetensors"), &st) == CLD_OK) {
    for (int i = 0; i < cld_safetensors_count(st); i++) {
      int64_t n = cld_safetensors_numel(st, i);
      float *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
      if (buf) cld_safetensors_read(st, i, buf);
      free(buf);
    }
    cld_safetensors_metadata(st, "format");
    cld_safetensors_close(st);
  }
  return 0;
}
