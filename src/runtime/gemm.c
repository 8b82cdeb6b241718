/* GEMM dispatch: one entry point over the providers, choosing per call from the tuning table
 * (`cldiff tune` results stored per device as JSON in the cache directory). A shape that was not
 * tuned takes the nearest tuned shape of the same transpose class; with no table at all the
 * built-in tiled kernel is used on every device except GPUs, where CLBlast's own tuning database
 * applies, and CPUs where the host provider runs on oneDNN (cld_gemm_host_preferred), which take
 * that. The table itself, the tiled provider's transpose scratch and their release are in
 * gemm_table.c. */
#include "runtime/gemm.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double shape_dist(const cld_gemm_shape *a, const cld_gemm_shape *b) {
  return fabs(log((double)a->m / b->m)) + fabs(log((double)a->n / b->n)) + fabs(log((double)a->k / b->k)) +
         fabs(log((double)a->batch / b->batch));
}

static int64_t a_batch_of(const cld_gemm_call *c) { return c->a_div > 1 ? c->batch / c->a_div : 0; }

/* The tuned choice for a call (nearest tuned shape of the same transpose class, grouped or not). */
static const cld_tune_entry *lookup(struct cld_gemm_tuning *t, const cld_gemm_call *c) {
  cld_gemm_shape s = {c->m, c->n, c->k, c->batch, c->trans_a, c->trans_b, a_batch_of(c)};
  const cld_tune_entry *best = NULL;
  double bd = 1e30;
  for (int i = 0; t && i < t->n; i++) {
    const cld_tune_entry *e = &t->e[i];
    if (e->shape.trans_a != s.trans_a || e->shape.trans_b != s.trans_b || (e->shape.a_batch > 0) != (s.a_batch > 0))
      continue; /* grouped (Winograd panel) GEMMs take only grouped entries, else the default below */
    double d = shape_dist(&e->shape, &s);
    if (d < bd) { bd = d; best = e; }
  }
  return best;
}

void cld_gemm_record(cld_ctx *ctx, cld_gemm_shape *out, int cap, int *count) {
  if (!ctx) return;
  ctx->rec = out && count && cap > 0 ? out : NULL;
  ctx->rec_cap = ctx->rec ? cap : 0;
  ctx->rec_n = ctx->rec ? count : NULL;
  if (ctx->rec) *count = 0;
}

void cld_gemm_record_call(cld_ctx *ctx, const cld_gemm_call *c) {
  if (!ctx->rec) return;
  for (int i = 0; i < *ctx->rec_n; i++) {
    const cld_gemm_shape *r = &ctx->rec[i];
    if (r->m == c->m && r->n == c->n && r->k == c->k && r->batch == c->batch && r->trans_a == c->trans_a &&
        r->trans_b == c->trans_b && r->a_batch == a_batch_of(c))
      return;
  }
  if (*ctx->rec_n < ctx->rec_cap)
    ctx->rec[(*ctx->rec_n)++] = (cld_gemm_shape){c->m, c->n, c->k, c->batch, c->trans_a, c->trans_b, a_batch_of(c)};
}

cld_status cld_gemm_run(cld_ctx *ctx, const cld_gemm_call *c, cld_gemm_provider p) {
  cld_gemm_record_call(ctx, c);
  if (c->lda) { /* a strided A: the host provider alone takes it, whatever the table says */
    if (cld_gemm_host_available(ctx)) return cld_gemm_host_run(ctx, c);
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "gemm: a strided A (lda) needs the host-BLAS provider");
  }
  struct cld_gemm_tuning *t = cld_gemm_tuning_get(ctx);
  if (!t) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  cld_tiled_cfg cfg = cld_tiled_default();
  /* untuned grouped GEMMs (N = 32 panels): 8x32 tiles, a work-group over 16 panels sharing A */
  if (c->a_div > 1) cfg = (cld_tiled_cfg){8, 2, 1, 1, 1, 16, 1};
  if (p == CLD_GEMM_AUTO) {
    const cld_tune_entry *e = lookup(t, c);
    if (e) { p = e->provider; cfg = e->tiled; }
    else if (ctx->info.is_gpu) p = CLD_GEMM_CLBLAST;
    else p = cld_gemm_host_preferred(ctx) ? CLD_GEMM_HOST : CLD_GEMM_TILED;
  } else if (p == CLD_GEMM_TILED) {
    const cld_tune_entry *e = lookup(t, c);
    if (e && e->provider == CLD_GEMM_TILED) cfg = e->tiled;
  }
  if (p == CLD_GEMM_CLBLAST && cld_gemm_interleaved(c)) p = CLD_GEMM_TILED; /* CLBlast has no such layout */
  if (p == CLD_GEMM_HOST && cld_gemm_host_available(ctx)) return cld_gemm_host_run(ctx, c);
  if (p == CLD_GEMM_HOST) p = CLD_GEMM_TILED; /* a table entry from a device that had it */
  if (p == CLD_GEMM_CLBLAST) {
    if (t->clblast.set && !t->clblast_applied) {
      cld_status st = cld_gemm_clblast_apply(ctx, &t->clblast);
      if (st) return st;
      t->clblast_applied = true;
    }
    return cld_gemm_clblast_run(ctx, c);
  }
  return cld_gemm_tiled_run(ctx, c, &cfg);
}

