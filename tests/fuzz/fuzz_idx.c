/* IDX images (raw; the gzip path is zlib's): magic, dims, payload. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cld_dataset *d = NULL;
  if (cld_idx_load(fuzz_ctx(), fuzz_file(data, size, ".idx"), NULL, &d) == CLD_OK) cld_dataset_free(d);
  return 0;
}
