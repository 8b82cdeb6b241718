/* PNG through libpng (the decoder's error path included): pixels are read when the header is. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  float *px = NULL;
  int w, h, c;
  if (cld_png_read(fuzz_ctx(), fuzz_file(data, size, ".png"), &px, &w, &h, &c) == CLD_OK) free(px);
  return 0;
}
