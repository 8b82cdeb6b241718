/* The registry of training methods: a new method is one file in src/methods/ and one line here.
 * The order is the order of the trainer's calls within each slot, of the parameter checks and of
 * the keys in trainer.json. */
#include "methods/train_method.h"

extern const cld_train_method cld_method_input_perturbation, cld_method_weighting, cld_method_error_propagation,
    cld_method_stable_target;

const cld_train_method *const cld_train_methods[] = {
    &cld_method_input_perturbation,
    &cld_method_weighting,
    &cld_method_error_propagation,
    &cld_method_stable_target,
    NULL,
};

cld_methods cld_methods_default(void) {
  cld_methods m = {0};
  m.min_snr_gamma = 5.0f;
  m.p2_k = 1.0f;
  m.p2_gamma = 1.0f;
  m.ep_k = 5;
  return m;
}

const char *cld_train_methods_check(const cld_train_params *p) {
  for (int i = 0; cld_train_methods[i]; i++) {
    const char *why = cld_train_methods[i]->check ? cld_train_methods[i]->check(p) : NULL;
    if (why) return why;
  }
  return NULL;
}
