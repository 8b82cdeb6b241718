/* The GEMM tuning table of a context (loaded from and saved to the cache directory as JSON, one
 * file per device), the tiled provider's transpose scratch, and their release; below the
 * dispatch (gemm.c) and the providers, which read them. */
#include "runtime/gemm.h"
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cld_gemm_provider_name(cld_gemm_provider p) {
  switch (p) {
  case CLD_GEMM_TILED: return "tiled";
  case CLD_GEMM_CLBLAST: return "clblast";
  case CLD_GEMM_HOST: return "host";
  default: return "auto";
  }
}

cld_tiled_cfg cld_tiled_default(void) { return (cld_tiled_cfg){8, 2, 0, 0, 0, 1, 1}; }

const char *cld_tiled_cfg_str(const cld_tiled_cfg *c, char *buf, size_t n) {
  char lb[16] = "", ks[24] = "";
  if (c->lb > 1) snprintf(lb, sizeof lb, "x%d", c->lb);
  if (c->ks > 1) snprintf(ks, sizeof ks, " split-k %d", c->ks);
  snprintf(buf, n, "tm=%d nv=%d lws=%dx%d%s%s%s", c->tm, c->nv, c->lws0, c->lws1, lb, c->mf ? " m-first" : "", ks);
  return buf;
}

const char *cld_gemm_tune_file(cld_ctx *ctx) {
  if (!ctx) return NULL;
  if (!ctx->tune_file[0]) {
    uint64_t h = cld_hash64(ctx->info.platform, strlen(ctx->info.platform), 0);
    h = cld_hash64(ctx->info.name, strlen(ctx->info.name), h);
    h = cld_hash64(ctx->info.driver, strlen(ctx->info.driver), h);
    /* the operand layouts the table was timed on: tables from before Winograd's interleaved
     * tiles (timed on contiguous panels) pick configurations up to 3x slower, so they are not read */
    static const char layouts[] = "grouped: tile-interleaved, pad 16";
    h = cld_hash64(layouts, sizeof layouts - 1, h);
    snprintf(ctx->tune_file, sizeof ctx->tune_file, "%s/gemm-tune-%016llx.json", ctx->cache_dir, (unsigned long long)h);
  }
  return ctx->tune_file;
}

/* key k of o as an int: def when absent, INT_MIN (which no check accepts) when it is not an
 * integer within int's range (no undefined float-to-int conversion of 1e300) */
static int jint(const cJSON *o, const char *k, int def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!v) return def;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= -2147483647.0 && v->valuedouble <= 2147483647.0) ||
      v->valuedouble != floor(v->valuedouble))
    return INT_MIN;
  return (int)v->valuedouble;
}

bool cld_gemm_shape_eq(const cld_gemm_shape *a, const cld_gemm_shape *b) {
  return a->m == b->m && a->n == b->n && a->k == b->k && a->batch == b->batch && a->trans_a == b->trans_a &&
         a->trans_b == b->trans_b && a->a_batch == b->a_batch;
}

void cld_tune_put(struct cld_gemm_tuning *t, const cld_tune_entry *e) {
  int j = 0;
  while (j < t->n && !cld_gemm_shape_eq(&t->e[j].shape, &e->shape)) j++;
  t->e[j] = *e;
  if (j == t->n) t->n++;
}

static void tuning_load(cld_ctx *ctx, struct cld_gemm_tuning *t) {
  t->loaded = true;
  char *buf = cld_fs_read_text(cld_gemm_tune_file(ctx));
  if (!buf) return;
  cld_gemm_tuning_parse(t, buf);
  free(buf);
}

void cld_gemm_tuning_parse(struct cld_gemm_tuning *t, const char *text) {
  cJSON *root = cJSON_Parse(text);
  if (!root) return; /* unreadable table: defaults (tune again to replace it) */
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "entries"), *e;
  int cnt = cJSON_GetArraySize(arr);
  t->e = calloc((size_t)(cnt > 0 ? cnt : 1), sizeof *t->e);
  if (t->e) cJSON_ArrayForEach(e, arr) {
    cld_tune_entry *x = &t->e[t->n];
    x->shape = (cld_gemm_shape){jint(e, "m", 0), jint(e, "n", 0), jint(e, "k", 0), jint(e, "batch", 1),
                                jint(e, "trans_a", 0) != 0, jint(e, "trans_b", 0) != 0, jint(e, "a_batch", 0)};
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "provider");
    x->provider = !cJSON_IsString(p) ? CLD_GEMM_TILED
                  : !strcmp(p->valuestring, "clblast") ? CLD_GEMM_CLBLAST
                  : !strcmp(p->valuestring, "host") ? CLD_GEMM_HOST : CLD_GEMM_TILED;
    x->tiled = (cld_tiled_cfg){jint(e, "tm", 8), jint(e, "nv", 2), jint(e, "lws0", 0), jint(e, "lws1", 0), jint(e, "mf", 0) != 0,
                              jint(e, "lb", 1), jint(e, "ks", 1)};
    if (!(x->shape.m > 0 && x->shape.n > 0 && x->shape.k > 0 && x->tiled.tm >= 1 && x->tiled.tm <= 8 &&
          x->tiled.nv >= 1 && x->tiled.nv <= 4 && x->tiled.lb >= 1 && x->tiled.lb <= 64 && x->shape.a_batch >= 0 &&
          x->shape.batch >= 1 && x->tiled.lws0 >= 0 && x->tiled.lws0 <= 256 && x->tiled.lws1 >= 0 && x->tiled.lws1 <= 256 &&
          x->tiled.ks >= 1 && x->tiled.ks <= 64))
      continue;
    cld_tune_put(t, x); /* a shape listed twice (tables written before merging compared fields): the later entry */
  }
  const cJSON *cb = cJSON_GetObjectItemCaseSensitive(root, "clblast_xgemm");
  if (cJSON_IsObject(cb)) {
    t->clblast.set = true;
    for (int i = 0; i < CLD_CLBLAST_NPARAMS; i++) {
      int v = jint(cb, cld_clblast_param_names[i], -1);
      if (v < 0 || v > 4096) t->clblast.set = false; /* no parameter set of CLBlast's goes near that */
      else t->clblast.v[i] = (size_t)v;
    }
  }
  cJSON_Delete(root);
}

struct cld_gemm_tuning *cld_gemm_tuning_get(cld_ctx *ctx) {
  if (!ctx->tuning) {
    ctx->tuning = calloc(1, sizeof *ctx->tuning);
    if (!ctx->tuning) return NULL;
  }
  if (!ctx->tuning->loaded) tuning_load(ctx, ctx->tuning);
  return ctx->tuning;
}

cld_status cld_gemm_tuning_save(cld_ctx *ctx) {
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  if (!t) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
  cJSON_AddStringToObject(root, "device", ctx->info.name);
  cJSON_AddStringToObject(root, "driver", ctx->info.driver);
  cJSON_AddItemToObject(root, "entries", arr);
  for (int i = 0; i < t->n; i++) {
    cld_tune_entry *x = &t->e[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "m", (double)x->shape.m);
    cJSON_AddNumberToObject(o, "n", (double)x->shape.n);
    cJSON_AddNumberToObject(o, "k", (double)x->shape.k);
    cJSON_AddNumberToObject(o, "batch", (double)x->shape.batch);
    cJSON_AddNumberToObject(o, "trans_a", x->shape.trans_a);
    cJSON_AddNumberToObject(o, "trans_b", x->shape.trans_b);
    cJSON_AddStringToObject(o, "provider", cld_gemm_provider_name(x->provider));
    cJSON_AddNumberToObject(o, "tm", x->tiled.tm);
    cJSON_AddNumberToObject(o, "nv", x->tiled.nv);
    cJSON_AddNumberToObject(o, "lws0", x->tiled.lws0);
    cJSON_AddNumberToObject(o, "lws1", x->tiled.lws1);
    cJSON_AddNumberToObject(o, "mf", x->tiled.mf);
    if (x->tiled.lb > 1) cJSON_AddNumberToObject(o, "lb", x->tiled.lb);
    if (x->tiled.ks > 1) cJSON_AddNumberToObject(o, "ks", x->tiled.ks);
    if (x->shape.a_batch) cJSON_AddNumberToObject(o, "a_batch", (double)x->shape.a_batch);
    cJSON_AddNumberToObject(o, "gflops", x->gflops);
    cJSON_AddItemToArray(arr, o);
  }
  if (t->clblast.set) {
    cJSON *cb = cJSON_CreateObject();
    for (int i = 0; i < CLD_CLBLAST_NPARAMS; i++) cJSON_AddNumberToObject(cb, cld_clblast_param_names[i], (double)t->clblast.v[i]);
    cJSON_AddItemToObject(root, "clblast_xgemm", cb);
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cld_status st = cld_write_text_atomic(ctx, cld_gemm_tune_file(ctx), text);
  free(text);
  return st;
}

size_t cld_gemm_scratch_floats(const cld_gemm_call *c) {
  if (!c->trans_b || c->trans_a) return 0;
  size_t nb_a = c->a_stride ? (size_t)c->batch : 1, nb_b = c->b_stride ? (size_t)c->batch : 1;
  size_t sa = nb_a * (size_t)(c->m * c->k), sb = nb_b * (size_t)(c->n * c->k);
  return sa > sb ? sa : sb; /* the provider transposes the smaller; reserve the larger to be safe */
}

cld_status cld_gemm_grow(cld_ctx *ctx, cl_mem *buf, size_t *have, size_t floats, const char *what) {
  size_t bytes = floats * sizeof(float);
  if (bytes <= *have) return CLD_OK;
  if (*buf) {
    clFinish(ctx->queue);
    clReleaseMemObject(*buf);
  }
  cl_int e;
  *buf = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &e);
  if (e != CL_SUCCESS) {
    *buf = NULL;
    *have = 0;
    return cld_clerr(ctx, e, what);
  }
  *have = bytes;
  return CLD_OK;
}

cld_status cld_gemm_ensure_scratch(cld_ctx *ctx, size_t floats) {
  return cld_gemm_grow(ctx, &ctx->gemm_scratch, &ctx->gemm_scratch_bytes, floats, "allocating GEMM scratch");
}

void cld_gemm_release(cld_ctx *ctx) {
  struct cld_gemm_tuning *t = ctx->tuning;
  if (t) {
    for (int i = 0; i < t->n_tiled; i++) clReleaseKernel(t->tiled_kernels[i]);
    if (t->transpose) clReleaseKernel(t->transpose);
    if (t->dot_nt) clReleaseKernel(t->dot_nt);
    if (t->sum_splits) clReleaseKernel(t->sum_splits);
    free(t->e);
    free(t);
    ctx->tuning = NULL;
  }
  cld_gemm_onednn_release(ctx);
  if (ctx->gemm_scratch) clReleaseMemObject(ctx->gemm_scratch);
  ctx->gemm_scratch = NULL;
  if (ctx->gemm_split) clReleaseMemObject(ctx->gemm_split);
  ctx->gemm_split = NULL;
  ctx->gemm_split_bytes = 0;
}
