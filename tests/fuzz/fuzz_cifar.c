/* CIFAR-10 binary batches (3073-byte records: label, 3072 pixels): the input is the test batch
 * of a directory (train = false reads test_batch.bin). A size that is not a whole number of
 * records, a label above 9 or an empty file must be refused with the file named. */
#include "fuzz_common.h"
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char dir[200], path[260];
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/cldiff-fuzz-cifar-%ld", (long)getpid());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
  }
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  cld_dataset *d = NULL;
  if (cld_cifar10_load(fuzz_ctx(), dir, false, &d) == CLD_OK) cld_dataset_free(d);
  return 0;
}
