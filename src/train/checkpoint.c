/* Training checkpoints: DIR/ckpt-STEP/{model/, ema/, optimizer.safetensors, trainer.json}.
 * Written under DIR/.ckpt-STEP.tmp and renamed into place, so a checkpoint directory is either
 * complete or absent; every file inside is written temp + fsync + rename. model/ and ema/ are
 * diffusers UNet2DModel directories. Resume restores parameters, EMA, AdamW moments and the
 * step; with counter-based randomness that is the whole state. */
#include "graph/graph_internal.h"
#include "train/train_internal.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every ckpt-N in dir, ascending. Returns the count (<= max). */
static int list_ckpts(const char *dir, int64_t *steps, int max) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < max) {
    char *end;
    if (strncmp(e->d_name, "ckpt-", 5)) continue;
    long long v = strtoll(e->d_name + 5, &end, 10);
    if (*end || v < 0) continue;
    char tj[1200];
    snprintf(tj, sizeof tj, "%s/%s/trainer.json", dir, e->d_name);
    if (access(tj, R_OK) == 0) steps[n++] = v;
  }
  closedir(d);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && steps[j] < steps[j - 1]; j--) { int64_t x = steps[j]; steps[j] = steps[j - 1]; steps[j - 1] = x; }
  return n;
}

cld_status cld_checkpoint_latest(cld_ctx *ctx, const char *dir, char *out, size_t n) {
  int64_t steps[4096];
  int k = list_ckpts(dir, steps, 4096);
  if (k == 0) return cld_seterr(ctx, CLD_ERR_IO, "%s: no complete checkpoint (ckpt-N/trainer.json)", dir);
  snprintf(out, n, "%s/ckpt-%lld", dir, (long long)steps[k - 1]);
  return CLD_OK;
}

static cld_status write_named(cld_store *s, const char *path, const char *prefix, const float *all) {
  cld_st_entry *e = calloc((size_t)(s->n ? s->n : 1), sizeof *e);
  char (*names)[112] = calloc((size_t)(s->n ? s->n : 1), sizeof *names);
  cld_status st = (!e || !names) ? cld_seterr(s->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__) : CLD_OK;
  for (int i = 0; i < s->n && !st; i++) {
    snprintf(names[i], sizeof names[i], "%s%s", prefix, s->p[i].name);
    e[i] = (cld_st_entry){names[i], s->p[i].ndim, s->p[i].shape, all + s->p[i].off};
  }
  if (!st) st = cld_safetensors_write(s->ctx, path, e, s->n, (const char *const[]){"format", "pt", NULL});
  free(e);
  free(names);
  return st;
}

static cld_status read_named(cld_store *s, cld_safetensors *f, const char *path, const char *prefix, float *all) {
  for (int i = 0; i < s->n; i++) {
    char name[112];
    snprintf(name, sizeof name, "%s%s", prefix, s->p[i].name);
    int j = cld_safetensors_find(f, name);
    if (j < 0 || cld_safetensors_numel(f, j) != s->p[i].numel)
      return cld_seterr(s->ctx, CLD_ERR_FORMAT, "%s: tensor '%s' missing or of the wrong size", path, name);
    cld_status st = cld_safetensors_read(f, j, all + s->p[i].off);
    if (st) return st;
  }
  return CLD_OK;
}

static cld_status write_json(cld_ctx *ctx, const char *path, cJSON *root) {
  char *text = cJSON_Print(root);
  if (!text) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cld_status st = cld_write_text_atomic(ctx, path, text);
  free(text);
  return st;
}

/* a diffusers pipeline over the checkpoint: model_index.json, scheduler/scheduler_config.json and
 * unet -> ema (a relative link), so DDIMPipeline.from_pretrained(ckpt) samples the EMA weights
 * with the training schedule. Nothing for what a DDIMScheduler cannot express (EDM, cldiff's
 * sigmoid schedule) or the MLP. */
static cld_status write_pipeline(cld_trainer *t, const char *tmp) {
  cld_ctx *ctx = t->ctx;
  cld_scheduler_config sc = {t->p.schedule, t->p.T, t->p.prediction, CLD_VAR_FIXED_SMALL, t->p.learn_sigma, false, "", "", 0};
  char *json = t->p.prediction == CLD_PRED_EDM || !cld_model_unet(t->m) ? NULL : cld_scheduler_config_json(&sc, "DDIMScheduler");
  if (!json) return CLD_OK;
  char path[1200];
  cJSON *cfg = cJSON_Parse(json);
  free(json);
  snprintf(path, sizeof path, "%s/scheduler", tmp);
  cld_status st = mkdir(path, 0755) == 0 ? CLD_OK : cld_seterr(ctx, CLD_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  snprintf(path, sizeof path, "%s/scheduler/scheduler_config.json", tmp);
  if (!st) st = cfg ? write_json(ctx, path, cfg) : cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cJSON_Delete(cfg);
  cJSON *mi = cJSON_CreateObject(), *u = cJSON_CreateArray(), *sch = cJSON_CreateArray();
  if (mi && u && sch) {
    cJSON_AddStringToObject(mi, "_class_name", "DDIMPipeline");
    cJSON_AddStringToObject(mi, "_diffusers_version", "0.30.0");
    cJSON_AddItemToArray(u, cJSON_CreateString("diffusers"));
    cJSON_AddItemToArray(u, cJSON_CreateString("UNet2DModel"));
    cJSON_AddItemToArray(sch, cJSON_CreateString("diffusers"));
    cJSON_AddItemToArray(sch, cJSON_CreateString("DDIMScheduler"));
    cJSON_AddItemToObject(mi, "scheduler", sch);
    cJSON_AddItemToObject(mi, "unet", u);
    u = sch = NULL;
  }
  snprintf(path, sizeof path, "%s/model_index.json", tmp);
  if (!st) st = mi && !u ? write_json(ctx, path, mi) : cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cJSON_Delete(mi);
  cJSON_Delete(u);
  cJSON_Delete(sch);
  snprintf(path, sizeof path, "%s/unet", tmp);
  if (!st && symlink("ema", path) != 0) st = cld_seterr(ctx, CLD_ERR_IO, "%s: cannot link to ema/: %s", path, strerror(errno));
  return st;
}

static cld_status save_here(cld_trainer *t, const char *dir, int keep) {
  cld_ctx *ctx = t->ctx;
  if (cld_fs_mkdirs(dir) != 0) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
  char tmp[1100], fin[1100], path[1200];
  snprintf(tmp, sizeof tmp, "%s/.ckpt-%lld.tmp", dir, (long long)t->step);
  snprintf(fin, sizeof fin, "%s/ckpt-%lld", dir, (long long)t->step);
  cld_fs_rm_tree(tmp);
  if (mkdir(tmp, 0755) != 0) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
  cld_store *s = t->s;
  size_t total = s->total ? s->total : 1;
  float *a = malloc(total * sizeof(float)), *b = malloc(total * sizeof(float));
  cld_status st = (!a || !b) ? cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__) : CLD_OK;
  snprintf(path, sizeof path, "%s/model", tmp);
  if (!st) st = cld_model_save(t->m, path);
  /* ema/: a diffusers directory too */
  if (!st) {
    snprintf(path, sizeof path, "%s/ema", tmp);
    if (mkdir(path, 0755) != 0) st = cld_seterr(ctx, CLD_ERR_IO, "%s: cannot create", path);
  }
  if (!st) st = cld_ema_read(t->ema, a);
  if (!st) {
    snprintf(path, sizeof path, "%s/ema/diffusion_pytorch_model.safetensors", tmp);
    st = write_named(s, path, "", a);
  }
  if (!st) {
    char *json = cld_model_config_json(t->m);
    cJSON *cfg = json ? cJSON_Parse(json) : NULL;
    free(json);
    snprintf(path, sizeof path, "%s/ema/config.json", tmp);
    st = cfg ? write_json(ctx, path, cfg) : cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    cJSON_Delete(cfg);
  }
  if (!st) st = write_pipeline(t, tmp);
  if (!st) st = cld_optim_read_moments(t->opt, a, b);
  if (!st) {
    /* m and v in one file: write both name sets */
    cld_st_entry *e = calloc((size_t)(2 * s->n + 1), sizeof *e);
    char (*names)[112] = calloc((size_t)(2 * s->n + 1), sizeof *names);
    if (!e || !names) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    for (int i = 0; i < s->n && !st; i++) {
      snprintf(names[2 * i], sizeof names[0], "m.%s", s->p[i].name);
      snprintf(names[2 * i + 1], sizeof names[0], "v.%s", s->p[i].name);
      e[2 * i] = (cld_st_entry){names[2 * i], s->p[i].ndim, s->p[i].shape, a + s->p[i].off};
      e[2 * i + 1] = (cld_st_entry){names[2 * i + 1], s->p[i].ndim, s->p[i].shape, b + s->p[i].off};
    }
    snprintf(path, sizeof path, "%s/optimizer.safetensors", tmp);
    if (!st) st = cld_safetensors_write(ctx, path, e, 2 * s->n, NULL);
    free(e);
    free(names);
  }
  if (!st) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "format", 1);
    cJSON_AddNumberToObject(r, "step", (double)t->step);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->p.seed);
    cJSON_AddStringToObject(r, "seed", seed);
    cJSON_AddNumberToObject(r, "batch", t->p.batch);
    cJSON_AddNumberToObject(r, "accum", t->p.accum); /* how the batch was split: informational, any split resumes */
    cJSON_AddNumberToObject(r, "ranks", t->p.comm ? t->p.comm->size : 1);
    cJSON_AddNumberToObject(r, "lr", t->p.lr);
    cJSON_AddNumberToObject(r, "weight_decay", t->p.weight_decay);
    cJSON_AddNumberToObject(r, "clip_norm", t->p.clip_norm);
    cJSON_AddNumberToObject(r, "ema_decay", t->p.ema_decay);
    cJSON_AddNumberToObject(r, "warmup", t->p.warmup);
    cJSON_AddStringToObject(r, "schedule", cld_beta_schedule_name((cld_beta_schedule)t->p.schedule));
    cJSON_AddNumberToObject(r, "T", t->p.T);
    cJSON_AddStringToObject(r, "prediction", cld_prediction_name(t->p.prediction));
    cJSON_AddBoolToObject(r, "hflip", t->p.hflip);
    if (t->p.prediction == CLD_PRED_EDM) {
      cJSON_AddNumberToObject(r, "edm_sigma_data", t->p.edm_sigma_data);
      cJSON_AddNumberToObject(r, "edm_p_mean", t->p.edm_p_mean);
      cJSON_AddNumberToObject(r, "edm_p_std", t->p.edm_p_std);
    }
    cJSON_AddBoolToObject(r, "learn_sigma", t->p.learn_sigma);
    cJSON_AddStringToObject(r, "timestep_sampling", t->p.timestep_sampling ? "loss-second-moment" : "uniform");
    cJSON *mj = cJSON_AddObjectToObject(r, "methods");
    for (int i = 0; cld_train_methods[i]; i++)
      if (cld_train_methods[i]->record) cld_train_methods[i]->record(&t->p, mj);
    cJSON_AddStringToObject(r, "dataset", t->data->name);
    if (t->cond) { /* what sampling needs: the classes, their names, the null class if trained with one */
      cJSON_AddNumberToObject(r, "num_classes", t->data->n_classes);
      cJSON_AddNumberToObject(r, "cond_drop", t->p.cond_drop);
      if (t->p.cond_drop > 0) cJSON_AddNumberToObject(r, "null_class", t->data->n_classes);
      else cJSON_AddNullToObject(r, "null_class");
      cJSON *names = cJSON_AddArrayToObject(r, "class_names");
      for (int k = 0; k < t->data->n_classes && names; k++)
        cJSON_AddItemToArray(names, cJSON_CreateString(t->data->class_names ? t->data->class_names[k] : ""));
    }
    cJSON_AddNumberToObject(r, "data_pixel_variance", cld_dataset_pixel_variance(t->data));
    snprintf(path, sizeof path, "%s/trainer.json", tmp);
    st = write_json(ctx, path, r);
    cJSON_Delete(r);
  }
  if (!st && t->p.timestep_sampling) { /* the importance sampler's loss history */
    float *cnt = malloc((size_t)t->p.T * sizeof *cnt);
    if (!cnt) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
    for (int i = 0; cnt && i < t->p.T; i++) cnt[i] = (float)t->lsm_count[i];
    int64_t hs[2] = {t->p.T, CLD_LSM_HISTORY}, cs[1] = {t->p.T};
    cld_st_entry e[2] = {{"loss_history", 2, hs, t->lsm_hist}, {"loss_history_count", 1, cs, cnt}};
    snprintf(path, sizeof path, "%s/timestep_sampler.safetensors", tmp);
    if (!st) st = cld_safetensors_write(ctx, path, e, 2, NULL);
    free(cnt);
  }
  free(a);
  free(b);
  if (!st) {
    cld_fs_rm_tree(fin);
    if (rename(tmp, fin) != 0) st = cld_seterr(ctx, CLD_ERR_IO, "%s: cannot rename into %s: %s", tmp, fin, strerror(errno));
    else cld_fs_sync_dir(dir); /* the rename survives a power cut */
  }
  if (st) { cld_fs_rm_tree(tmp); return st; }
  if (keep > 0) {
    int64_t steps[4096];
    int k = list_ckpts(dir, steps, 4096);
    for (int i = 0; i + keep < k; i++) {
      /* out of the listing first (one rename), then removed: a kill in between leaves a
       * .ckpt-N.del directory that no listing takes for a checkpoint */
      char del[1200];
      snprintf(path, sizeof path, "%s/ckpt-%lld", dir, (long long)steps[i]);
      snprintf(del, sizeof del, "%s/.ckpt-%lld.del", dir, (long long)steps[i]);
      cld_fs_rm_tree(del);
      if (rename(path, del) == 0) cld_fs_rm_tree(del);
    }
  }
  return CLD_OK;
}

/* Under a communicator rank 0 writes and every rank returns its status and message. */
cld_status cld_trainer_save(cld_trainer *t, const char *dir, int keep) {
  if (!t || !dir) return CLD_ERR_INVALID_ARG;
  const cld_comm *c = t->p.comm;
  if (!c || c->size <= 1) return save_here(t, dir, keep);
  int st = c->rank == 0 ? (int)save_here(t, dir, keep) : 0;
  char *msg = t->ctx->errmsg;
  if (c->broadcast(c->user, &st, sizeof st, 0) || (st && c->broadcast(c->user, msg, sizeof t->ctx->errmsg, 0)))
    return cld_seterr(t->ctx, CLD_ERR_IO, "train: broadcasting the checkpoint's status from rank 0 failed");
  return (cld_status)st;
}

/* trainer.json's step, after checking the batch it was trained with */
static cld_status read_trainer_json(cld_trainer *t, const char *ck, int64_t *step) {
  cld_ctx *ctx = t->ctx;
  char path[1200];
  snprintf(path, sizeof path, "%s/trainer.json", ck);
  char *text = cld_fs_read_text(path);
  if (!text && errno == ENOMEM) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", path);
  cJSON *r = text ? cJSON_Parse(text) : NULL;
  free(text);
  const cJSON *sv = cJSON_GetObjectItemCaseSensitive(r, "step"), *bv = cJSON_GetObjectItemCaseSensitive(r, "batch");
  if (!cJSON_IsNumber(sv) || !(sv->valuedouble >= 0 && sv->valuedouble <= 9.0e15)) {
    cJSON_Delete(r);
    return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: no valid \"step\"", path);
  }
  double saved_batch = cJSON_IsNumber(bv) ? bv->valuedouble : (double)t->p.batch; /* read before r is freed */
  *step = (int64_t)sv->valuedouble;
  cJSON_Delete(r);
  if (saved_batch != (double)t->p.batch)
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "%s: trained with batch %.0f, resuming with %d would change the data order",
                      path, saved_batch, t->p.batch);
  return CLD_OK;
}

/* the importance sampler's loss history of checkpoint ck into hist (T, 10) and cnt (T) */
static cld_status read_lsm(cld_trainer *t, const char *ck, float *hist, float *cnt) {
  cld_ctx *ctx = t->ctx;
  char path[1200];
  cld_safetensors *fh = NULL;
  snprintf(path, sizeof path, "%s/timestep_sampler.safetensors", ck);
  cld_status st = cld_safetensors_open(ctx, path, &fh);
  int ih = fh ? cld_safetensors_find(fh, "loss_history") : -1, ic = fh ? cld_safetensors_find(fh, "loss_history_count") : -1;
  if (!st && (ih < 0 || ic < 0 || cld_safetensors_numel(fh, ih) != (int64_t)t->p.T * CLD_LSM_HISTORY ||
              cld_safetensors_numel(fh, ic) != t->p.T))
    st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: loss history missing or for another T", path);
  if (!st) st = cld_safetensors_read(fh, ih, hist);
  if (!st) st = cld_safetensors_read(fh, ic, cnt);
  for (int i = 0; !st && i < t->p.T; i++)
    if (!(cnt[i] >= 0 && cnt[i] <= CLD_LSM_HISTORY && cnt[i] == (float)(int)cnt[i]))
      st = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: loss_history_count[%d] is %g, not 0..%d", path, i, cnt[i], CLD_LSM_HISTORY);
  cld_safetensors_close(fh);
  return st;
}

/* Restores checkpoint ck: everything is read and checked first, then installed, so a failure
 * leaves the trainer as it was. */
static cld_status resume_from(cld_trainer *t, const char *ck) {
  cld_ctx *ctx = t->ctx;
  char path[1200], opath[1200];
  int64_t step = 0;
  cld_status st = read_trainer_json(t, ck, &step);
  if (st) return st;
  cld_store *s = t->s;
  size_t total = s->total ? s->total : 1, T = (size_t)t->p.T;
  float *a = calloc(total, sizeof(float)), *m = calloc(total, sizeof(float)), *v = calloc(total, sizeof(float));
  float *hist = t->p.timestep_sampling ? malloc(T * CLD_LSM_HISTORY * sizeof *hist) : NULL;
  float *cnt = t->p.timestep_sampling ? malloc(T * sizeof *cnt) : NULL;
  if (!a || !m || !v || (t->p.timestep_sampling && (!hist || !cnt))) st = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cld_safetensors *fe = NULL, *fo = NULL;
  snprintf(path, sizeof path, "%s/ema/diffusion_pytorch_model.safetensors", ck);
  snprintf(opath, sizeof opath, "%s/optimizer.safetensors", ck);
  if (!st) st = cld_safetensors_open(ctx, path, &fe);
  if (!st) st = read_named(s, fe, path, "", a);
  if (!st) st = cld_safetensors_open(ctx, opath, &fo);
  if (!st) st = read_named(s, fo, opath, "m.", m);
  if (!st) st = read_named(s, fo, opath, "v.", v);
  if (!st && t->p.timestep_sampling) st = read_lsm(t, ck, hist, cnt);
  snprintf(path, sizeof path, "%s/model/diffusion_pytorch_model.safetensors", ck);
  if (!st) st = cld_store_load(s, path, NULL); /* checks every tensor before it writes the store */
  if (!st) st = cld_ema_write(t->ema, a);
  if (!st) st = cld_optim_write_moments(t->opt, m, v, step);
  if (!st) t->step = step;
  if (!st && hist) {
    memcpy(t->lsm_hist, hist, T * CLD_LSM_HISTORY * sizeof *hist);
    for (size_t i = 0; i < T; i++) t->lsm_count[i] = (int)cnt[i];
  }
  free(hist);
  free(cnt);
  cld_safetensors_close(fe);
  cld_safetensors_close(fo);
  free(a); free(m); free(v);
  return st;
}

cld_status cld_trainer_resume(cld_trainer *t, const char *dir) {
  if (!t || !dir) return CLD_ERR_INVALID_ARG;
  cld_ctx *ctx = t->ctx;
  int64_t steps[4096];
  int k = list_ckpts(dir, steps, 4096);
  if (k == 0) return cld_seterr(ctx, CLD_ERR_IO, "%s: no complete checkpoint (ckpt-N/trainer.json)", dir);
  t->resume_note[0] = 0;
  char first_err[1024] = "";
  cld_status first_st = CLD_OK;
  for (int i = k - 1; i >= 0; i--) { /* newest first; a damaged one falls back to the one before */
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/ckpt-%lld", dir, (long long)steps[i]);
    cld_status st = resume_from(t, ck);
    if (!st) {
      snprintf(t->resumed_from, sizeof t->resumed_from, "%s", ck);
      if (first_st)
        snprintf(t->resume_note, sizeof t->resume_note, "skipped %d damaged newer checkpoint(s); the newest: %s", k - 1 - i, first_err);
      return CLD_OK;
    }
    if (st == CLD_ERR_INVALID_ARG || st == CLD_ERR_NOMEM) return st; /* the caller's setup, not damage: no fallback */
    if (!first_st) {
      first_st = st;
      snprintf(first_err, sizeof first_err, "%s", cld_ctx_errmsg(ctx));
    }
  }
  return cld_seterr(ctx, first_st, "%s (and no older checkpoint in %s resumes)", first_err, dir);
}

const char *cld_trainer_resume_note(const cld_trainer *t) { return t ? t->resume_note : ""; }
const char *cld_trainer_resumed_from(const cld_trainer *t) { return t ? t->resumed_from : ""; }
