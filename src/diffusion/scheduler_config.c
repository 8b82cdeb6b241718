/* diffusers' scheduler_config.json (DDPMScheduler, DDIMScheduler and the other discrete-time
 * schedulers' shared keys) into the schedule cldiff samples with. Every key that changes the
 * forward process or the model's output is either followed or refused with the key named; keys
 * that only choose a sampler's own settings are recorded (spacing) or ignored (the sampler is
 * cldiff's, chosen by its flags). */
#include "cldiff/cldiff.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool near(double a, double b) { return fabs(a - b) <= 1e-9 * fabs(b); }

/* beta_schedule + beta_start/beta_end -> a cldiff schedule kind, or a message */
static const char *parse_betas(const cJSON *r, int T, int *kind) {
  const cJSON *bs = cJSON_GetObjectItemCaseSensitive(r, "beta_schedule"), *b0 = cJSON_GetObjectItemCaseSensitive(r, "beta_start"),
              *b1 = cJSON_GetObjectItemCaseSensitive(r, "beta_end"), *tb = cJSON_GetObjectItemCaseSensitive(r, "trained_betas");
  if (tb && !cJSON_IsNull(tb)) return "\"trained_betas\": explicit betas are not supported (cldiff's schedules are named)";
  const char *name = cJSON_IsString(bs) ? bs->valuestring : "linear";
  double start = cJSON_IsNumber(b0) ? b0->valuedouble : 0.0001, end = cJSON_IsNumber(b1) ? b1->valuedouble : 0.02;
  if (!strcmp(name, "linear")) { /* cldiff's linear is guided-diffusion's: 1e-4 and 0.02 scaled by 1000/T */
    if (!near(start, 1e-4 * 1000.0 / T) || !near(end, 0.02 * 1000.0 / T))
      return "\"beta_start\"/\"beta_end\": a linear schedule other than 1e-4..0.02 at 1000 steps (scaled by 1000/T) is not supported";
    *kind = CLD_BETA_LINEAR;
  } else if (!strcmp(name, "scaled_linear")) {
    if (!near(start, 0.00085) || !near(end, 0.012))
      return "\"beta_start\"/\"beta_end\": scaled_linear other than 0.00085..0.012 is not supported";
    *kind = CLD_BETA_SCALED_LINEAR;
  } else if (!strcmp(name, "squaredcos_cap_v2")) {
    *kind = CLD_BETA_COSINE;
  } else {
    return "\"beta_schedule\": only linear, scaled_linear and squaredcos_cap_v2 are supported (diffusers' sigmoid differs from cldiff's)";
  }
  return NULL;
}

static const char *parse_output(const cJSON *r, cld_scheduler_config *c) {
  const cJSON *pt = cJSON_GetObjectItemCaseSensitive(r, "prediction_type"), *vt = cJSON_GetObjectItemCaseSensitive(r, "variance_type");
  const char *p = cJSON_IsString(pt) ? pt->valuestring : "epsilon";
  c->prediction = !strcmp(p, "epsilon") ? CLD_PRED_EPS : !strcmp(p, "v_prediction") ? CLD_PRED_V : !strcmp(p, "sample") ? CLD_PRED_X0 : -1;
  if (c->prediction < 0) return "\"prediction_type\": only epsilon, v_prediction and sample are supported";
  const char *v = cJSON_IsString(vt) ? vt->valuestring : "fixed_small";
  c->var_type = !strcmp(v, "fixed_small") || !strcmp(v, "fixed_small_log") ? CLD_VAR_FIXED_SMALL
                : !strcmp(v, "fixed_large") || !strcmp(v, "fixed_large_log") ? CLD_VAR_FIXED_LARGE
                : !strcmp(v, "learned_range") ? CLD_VAR_FIXED_SMALL : -1;
  c->learned_range = !strcmp(v, "learned_range");
  if (c->var_type < 0) return "\"variance_type\": only fixed_small, fixed_large and learned_range are supported";
  return NULL;
}

static const char *parse_clipping(const cJSON *r, cld_scheduler_config *c) {
  const cJSON *cs = cJSON_GetObjectItemCaseSensitive(r, "clip_sample"), *cr = cJSON_GetObjectItemCaseSensitive(r, "clip_sample_range"),
              *th = cJSON_GetObjectItemCaseSensitive(r, "thresholding");
  if (cJSON_IsTrue(th)) return "\"thresholding\": dynamic thresholding is not supported";
  c->clip_sample = cs ? cJSON_IsTrue(cs) : true; /* diffusers' DDPM/DDIM default */
  if (c->clip_sample && cr && !(cJSON_IsNumber(cr) && cr->valuedouble == 1.0))
    return "\"clip_sample_range\": clipping to a range other than [-1, 1] is not supported";
  return NULL;
}

cld_status cld_scheduler_config_parse(const char *json, cld_scheduler_config *c, char *err, size_t errlen) {
  if (!json || !c) return CLD_ERR_INVALID_ARG;
  memset(c, 0, sizeof *c);
  cJSON *r = cJSON_Parse(json);
  const char *why = cJSON_IsObject(r) ? NULL : "not a JSON object";
  const cJSON *nt = r ? cJSON_GetObjectItemCaseSensitive(r, "num_train_timesteps") : NULL, *cl = r ? cJSON_GetObjectItemCaseSensitive(r, "_class_name") : NULL;
  const cJSON *sp = r ? cJSON_GetObjectItemCaseSensitive(r, "timestep_spacing") : NULL;
  double T = cJSON_IsNumber(nt) ? nt->valuedouble : 1000;
  if (!why && !(T >= 2 && T <= 100000 && T == floor(T))) why = "\"num_train_timesteps\" must be an integer in [2, 100000]";
  if (!why) c->T = (int)T;
  if (!why) why = parse_betas(r, c->T, &c->schedule);
  if (!why) why = parse_output(r, c);
  if (!why) why = parse_clipping(r, c);
  snprintf(c->class_name, sizeof c->class_name, "%s", cJSON_IsString(cl) ? cl->valuestring : "");
  snprintf(c->spacing, sizeof c->spacing, "%s", cJSON_IsString(sp) ? sp->valuestring : "leading");
  if (!why && strcmp(c->spacing, "leading") && strcmp(c->spacing, "trailing") && strcmp(c->spacing, "linspace"))
    why = "\"timestep_spacing\" must be \"leading\", \"trailing\" or \"linspace\"";
  const cJSON *so = r ? cJSON_GetObjectItemCaseSensitive(r, "steps_offset") : NULL;
  if (!why && so && !cJSON_IsNull(so)) {
    if (!cJSON_IsNumber(so) || !(so->valuedouble >= 0 && so->valuedouble < c->T) || so->valuedouble != floor(so->valuedouble))
      why = "\"steps_offset\" must be an integer in [0, num_train_timesteps)";
    else c->steps_offset = (int)so->valuedouble;
  }
  cJSON_Delete(r);
  if (why && err && errlen) snprintf(err, errlen, "%s", why);
  return why ? CLD_ERR_FORMAT : CLD_OK;
}

char *cld_scheduler_config_json(const cld_scheduler_config *c, const char *class_name) {
  if (!c) return NULL;
  cJSON *r = cJSON_CreateObject();
  static const char *const kinds[] = {[CLD_BETA_LINEAR] = "linear", [CLD_BETA_SCALED_LINEAR] = "scaled_linear",
                                      [CLD_BETA_COSINE] = "squaredcos_cap_v2"};
  bool ok = r && c->schedule >= 0 && c->schedule <= CLD_BETA_COSINE && kinds[c->schedule];
  if (ok) {
    double scale = c->schedule == CLD_BETA_LINEAR ? 1000.0 / c->T : 1.0;
    cJSON_AddStringToObject(r, "_class_name", class_name ? class_name : "DDIMScheduler");
    cJSON_AddStringToObject(r, "_diffusers_version", "0.30.0");
    cJSON_AddNumberToObject(r, "num_train_timesteps", c->T);
    cJSON_AddStringToObject(r, "beta_schedule", kinds[c->schedule]);
    cJSON_AddNumberToObject(r, "beta_start", c->schedule == CLD_BETA_SCALED_LINEAR ? 0.00085 : 1e-4 * scale);
    cJSON_AddNumberToObject(r, "beta_end", c->schedule == CLD_BETA_SCALED_LINEAR ? 0.012 : 0.02 * scale);
    cJSON_AddStringToObject(r, "prediction_type", c->prediction == CLD_PRED_V ? "v_prediction" : c->prediction == CLD_PRED_X0 ? "sample" : "epsilon");
    cJSON_AddBoolToObject(r, "clip_sample", c->clip_sample);
    cJSON_AddStringToObject(r, "timestep_spacing", "leading");
    cJSON_AddNumberToObject(r, "steps_offset", 0);
    cJSON_AddBoolToObject(r, "set_alpha_to_one", false);
    cJSON_AddStringToObject(r, "variance_type", c->learned_range ? "learned_range" : c->var_type == CLD_VAR_FIXED_LARGE ? "fixed_large" : "fixed_small");
  }
  char *out = ok ? cJSON_Print(r) : NULL;
  cJSON_Delete(r);
  return out;
}
