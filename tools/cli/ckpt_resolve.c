/* Resolves what `--ckpt DIR` names for sample and info: a run directory (its newest ckpt-N),
 * a ckpt-N directory (model/ or ema/), a diffusers UNet2DModel directory, or a diffusers pipeline
 * directory (model_index.json, unet/, scheduler/); and reads the training facts (schedule, T,
 * prediction) from trainer.json, else from a diffusers scheduler_config.json beside the model. */
#include "cli.h"
#include "ckpt_resolve.h"
#include "fs/fs.h"
#include <stdlib.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool exists(const char *dir, const char *file) {
  char p[1400];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  return access(p, R_OK) == 0;
}

/* schedule, T, prediction and clipping from a diffusers scheduler_config.json; 0, or 2 after
 * printing why it cannot be followed */
static int read_scheduler_config(const char *path, ckpt_info *out) {
  char *text = cld_fs_read_text(path);
  cld_scheduler_config c;
  char err[256] = "cannot read it";
  cld_status st = text ? cld_scheduler_config_parse(text, &c, err, sizeof err) : CLD_ERR_IO;
  free(text);
  if (st) {
    fprintf(stderr, "cldiff: %s: %s\n", path, err);
    return 2;
  }
  out->schedule = c.schedule;
  out->T = c.T;
  out->prediction = c.prediction;
  out->clip = c.clip_sample;
  snprintf(out->spacing, sizeof out->spacing, "%s", c.spacing);
  out->steps_offset = c.steps_offset;
  snprintf(out->sched_source, sizeof out->sched_source, "from %s; %s%stimestep_spacing %s, steps_offset %d: the ddpm/ddim/pndm grid "
           "unless --respacing", path, c.class_name, *c.class_name ? ", " : "", c.spacing, c.steps_offset);
  return 0;
}

/* a diffusers model directory (config.json): its scheduler config, in it or in ../scheduler/ */
static int diffusers_model(const char *dir, ckpt_info *out) {
  snprintf(out->model_dir, sizeof out->model_dir, "%s", dir);
  char p[1300];
  snprintf(p, sizeof p, "%s/scheduler_config.json", dir);
  if (access(p, R_OK) == 0) return read_scheduler_config(p, out);
  snprintf(p, sizeof p, "%s/../scheduler/scheduler_config.json", dir);
  if (access(p, R_OK) == 0) return read_scheduler_config(p, out);
  snprintf(out->sched_source, sizeof out->sched_source, "assumed: no trainer.json or scheduler_config.json");
  return 0;
}

/* a class-conditional run's classes, null class and names (names joined by '\n'; truncated) */
static void read_classes(const cJSON *r, ckpt_info *out) {
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(r, "num_classes")) && cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 1e6)
    out->num_classes = (int)v->valuedouble;
  if ((v = cJSON_GetObjectItemCaseSensitive(r, "null_class")) && cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e6)
    out->null_class = (int)v->valuedouble;
  size_t len = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "class_names")) {
    if (!cJSON_IsString(e) || len + strlen(e->valuestring) + 2 > sizeof out->class_names) break;
    len += (size_t)snprintf(out->class_names + len, sizeof out->class_names - len, "%s%s", len ? "\n" : "", e->valuestring);
  }
}

int ckpt_resolve(cld_ctx *ctx, const char *arg, bool ema, ckpt_info *out) {
  memset(out, 0, sizeof *out);
  out->schedule = CLD_BETA_LINEAR;
  out->T = 1000;
  out->prediction = CLD_PRED_EPS;
  out->sigma_data = 0.5;
  out->null_class = -1;
  char ck[1100];
  if (!exists(arg, "trainer.json") && exists(arg, "model_index.json")) { /* DDPMPipeline.save_pretrained's layout */
    char unet[1200];
    snprintf(unet, sizeof unet, "%s/unet", arg);
    if (!exists(unet, "config.json")) {
      fprintf(stderr, "cldiff: --ckpt %s: a diffusers pipeline (model_index.json) without unet/config.json\n", arg);
      return 2;
    }
    return diffusers_model(unet, out);
  }
  if (exists(arg, "config.json")) return diffusers_model(arg, out);
  if (exists(arg, "trainer.json")) snprintf(ck, sizeof ck, "%s", arg);
  else if (cld_checkpoint_latest(ctx, arg, ck, sizeof ck)) {
    fprintf(stderr, "cldiff: --ckpt %s: neither a diffusers model directory (config.json), a checkpoint (trainer.json) "
            "nor a run directory with checkpoints\n", arg);
    return 2;
  }
  snprintf(out->ckpt_dir, sizeof out->ckpt_dir, "%s", ck);
  snprintf(out->model_dir, sizeof out->model_dir, "%s/%s", ck, ema ? "ema" : "model");
  char tj[1200];
  snprintf(tj, sizeof tj, "%s/trainer.json", ck);
  char *text = cld_fs_read_text(tj); /* whole: a trainer.json with many class names is long */
  cJSON *r = text ? cJSON_Parse(text) : NULL;
  free(text);
  if (!r) { fprintf(stderr, "cldiff: %s: not valid JSON\n", tj); return 2; }
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(r, "schedule")) && cJSON_IsString(v)) out->schedule = cld_beta_schedule_parse(v->valuestring);
  if ((v = cJSON_GetObjectItemCaseSensitive(r, "T")) && cJSON_IsNumber(v)) { /* range-checked before it becomes an int */
    if (!(v->valuedouble >= 2 && v->valuedouble <= 100000)) { fprintf(stderr, "cldiff: %s: \"T\" %g is not in [2, 100000]\n", tj, v->valuedouble); cJSON_Delete(r); return 2; }
    out->T = (int)v->valuedouble;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(r, "prediction")) && cJSON_IsString(v)) out->prediction = cld_prediction_parse(v->valuestring);
  if ((v = cJSON_GetObjectItemCaseSensitive(r, "step")) && cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9e15)
    out->step = (long long)v->valuedouble;
  if ((v = cJSON_GetObjectItemCaseSensitive(r, "dataset")) && cJSON_IsString(v)) snprintf(out->dataset, sizeof out->dataset, "%s", v->valuestring);
  if ((v = cJSON_GetObjectItemCaseSensitive(r, "data_pixel_variance")) && cJSON_IsNumber(v)) out->data_var = v->valuedouble;
  if ((v = cJSON_GetObjectItemCaseSensitive(r, "edm_sigma_data")) && cJSON_IsNumber(v)) out->sigma_data = v->valuedouble;
  read_classes(r, out);
  cJSON_Delete(r);
  if (out->schedule < 0 || out->prediction < 0 || out->T < 2) { fprintf(stderr, "cldiff: %s: bad schedule, T or prediction\n", tj); return 2; }
  out->from_trainer = true;
  snprintf(out->sched_source, sizeof out->sched_source, "from %s", tj);
  return 0;
}
