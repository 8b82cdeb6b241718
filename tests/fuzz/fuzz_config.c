/* diffusers configs: the input as a UNet2DModel config.json and as a scheduler_config.json; each
 * parsed config is turned back into JSON, and a scheduler config written by cldiff must parse back
 * to the same schedule. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_text(data, size);
  cld_unet_config c;
  char err[256];
  if (cld_unet_config_parse(text, &c, err, sizeof err) == CLD_OK) free(cld_unet_config_json(&c));
  cld_scheduler_config s, back;
  if (cld_scheduler_config_parse(text, &s, err, sizeof err) == CLD_OK) {
    char *json = cld_scheduler_config_json(&s, NULL);
    if (json && (cld_scheduler_config_parse(json, &back, err, sizeof err) != CLD_OK || back.schedule != s.schedule ||
                 back.T != s.T || back.prediction != s.prediction || back.clip_sample != s.clip_sample))
      abort(); /* what cldiff writes must read back */
    free(json);
  }
  free(text);
  return 0;
}
