/* The GEMM tuning table's JSON (the per-device file in the cache directory). */
#include "fuzz_common.h"
#include "runtime/gemm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_text(data, size);
  struct cld_gemm_tuning t = {0};
  cld_gemm_tuning_parse(&t, text);
  free(t.e);
  free(text);
  return 0;
}
