/* JPEG through libjpeg-turbo (cldiff's error manager and its longjmp path included): pixels are
 * decoded whenever the header reads. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  float *px = NULL;
  int w, h, c;
  if (cld_jpeg_read(fuzz_ctx(), fuzz_file(data, size, ".jpg"), &px, &w, &h, &c) == CLD_OK) free(px);
  return 0;
}
