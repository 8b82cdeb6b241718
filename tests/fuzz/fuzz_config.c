/* diffusers config.json (UNet2DModel): the parsed config is also turned back into JSON. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_text(data, size);
  cld_unet_config c;
  char err[256];
  if (cld_unet_config_parse(text, &c, err, sizeof err) == CLD_OK) free(cld_unet_config_json(&c));
  free(text);
  return 0;
}
