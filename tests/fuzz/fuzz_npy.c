/* .npy: magic, header dict, shape, dtype, data size. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  float *x = NULL;
  int nd;
  int64_t shape[8];
  if (cld_npy_read(fuzz_ctx(), fuzz_file(data, size, ".npy"), &x, &nd, shape) == CLD_OK) free(x);
  return 0;
}
