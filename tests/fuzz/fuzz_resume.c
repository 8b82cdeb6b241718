/* The resume state: a real checkpoint of a small MLP run (trainer.json, optimizer.safetensors, the
 * model's and the EMA's weights, the importance sampler's loss history), with one of its files
 * replaced by the input. cld_trainer_resume must restore it or refuse it with a message, and the
 * trainer must still take a step afterwards. Input: one byte choosing the file, then its bytes. */
#include "fuzz_common.h"
#include <string.h>
#include <sys/stat.h>

static const char *const files[] = {"trainer.json", "optimizer.safetensors", "timestep_sampler.safetensors",
                                    "model/diffusion_pytorch_model.safetensors", "ema/diffusion_pytorch_model.safetensors"};
enum { N_FILES = sizeof files / sizeof *files };

static char base[200], work[200];
static cld_trainer *trainer;
static cld_store *store; /* kept for the whole run with the trainer (reachable: not a leak) */
static cld_model *model;
static cld_dataset *data_set;

static void copy_file(const char *from, const char *to) {
  char *t = NULL;
  size_t n = 0;
  FILE *f = fopen(from, "rb");
  if (!f) abort();
  if (fseek(f, 0, SEEK_END) || (n = (size_t)ftell(f), fseek(f, 0, SEEK_SET)) || !(t = malloc(n + 1)) || fread(t, 1, n, f) != n) abort();
  fclose(f);
  if (!(f = fopen(to, "wb")) || fwrite(t, 1, n, f) != n) abort();
  fclose(f);
  free(t);
}

/* a one-step run of a 2-layer MLP (T = 100, importance sampling on) saved as base/ckpt-1, once */
static void setup(void) {
  cld_ctx *ctx = fuzz_ctx();
  snprintf(base, sizeof base, "/tmp/cldiff-fuzz-resume-%ld", (long)getpid());
  snprintf(work, sizeof work, "%s/work", base);
  char cfg[300];
  snprintf(cfg, sizeof cfg, "%s.json", base);
  FILE *f = fopen(cfg, "w");
  if (!f) abort();
  fputs("{\"_class_name\": \"MLPDenoiser\", \"dim\": 2, \"hidden\": 8, \"layers\": 2, \"temb_dim\": 4}", f);
  fclose(f);
  cld_train_params p = cld_train_params_default();
  p.batch = 4;
  p.T = 100;
  p.timestep_sampling = 1;
  float loss;
  if (cld_store_create(ctx, &store) || cld_model_create(ctx, cfg, store, &model) || cld_model_init(model, 1) ||
      cld_dataset_open(ctx, "toy:moons", NULL, &data_set) || cld_trainer_create(ctx, model, data_set, &p, &trainer) ||
      cld_trainer_step(trainer, &loss) || cld_trainer_save(trainer, base, 0)) {
    fprintf(stderr, "fuzz_resume setup: %s\n", cld_ctx_errmsg(ctx));
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!trainer) setup();
  if (size < 1) return 0;
  char from[400], to[400];
  snprintf(to, sizeof to, "%s/ckpt-1", work);
  mkdir(work, 0755);
  mkdir(to, 0755);
  snprintf(to, sizeof to, "%s/ckpt-1/model", work);
  mkdir(to, 0755);
  snprintf(to, sizeof to, "%s/ckpt-1/ema", work);
  mkdir(to, 0755);
  int pick = data[0] % N_FILES;
  for (int i = 0; i < N_FILES; i++) {
    snprintf(to, sizeof to, "%s/ckpt-1/%s", work, files[i]);
    if (i == pick) {
      FILE *f = fopen(to, "wb");
      if (!f || (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)) abort();
      fclose(f);
    } else {
      snprintf(from, sizeof from, "%s/ckpt-1/%s", base, files[i]);
      copy_file(from, to);
    }
  }
  for (int i = 0; i < 2; i++) { /* the configs, which resume does not read, as they were */
    const char *sub = i ? "ema" : "model";
    snprintf(to, sizeof to, "%s/ckpt-1/%s/config.json", work, sub);
    snprintf(from, sizeof from, "%s/ckpt-1/%s/config.json", base, sub);
    copy_file(from, to);
  }
  float loss;
  if (cld_trainer_resume(trainer, work) == CLD_OK) (void)cld_trainer_step(trainer, &loss);
  return 0;
}
