/* AdamW with global gradient-norm clipping, and parameter EMA, over a whole parameter store in
 * single kernel launches (the store keeps all parameters and gradients in two flat buffers).
 * The gradient norm is reduced on the device in a fixed order and read by the AdamW kernel
 * directly, so a step needs no host synchronisation. */
#include "graph/graph_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NORM_PARTS 64
#define NORM_WG 64

struct cld_optim {
  cld_store *s;
  cld_adamw_params p;
  cl_mem m, v, partial, norm;
  cl_kernel k_partial, k_final, k_adamw;
  int64_t t;
};

struct cld_ema {
  cld_store *s;
  cl_mem ema;
  cl_kernel k;
};

cld_adamw_params cld_adamw_params_default(void) {
  cld_adamw_params p = {1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f};
  return p;
}

static cl_mem zeros(cld_ctx *ctx, size_t floats, cl_int *e) {
  cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, floats * sizeof(float), NULL, e);
  if (*e != CL_SUCCESS) return NULL;
  float z = 0.0f;
  *e = clEnqueueFillBuffer(ctx->queue, m, &z, sizeof z, 0, floats * sizeof(float), 0, NULL, NULL);
  return m;
}

void cld_optim_destroy(cld_optim *o) {
  if (!o) return;
  cl_mem ms[4] = {o->m, o->v, o->partial, o->norm};
  for (int i = 0; i < 4; i++) if (ms[i]) clReleaseMemObject(ms[i]);
  cl_kernel ks[3] = {o->k_partial, o->k_final, o->k_adamw};
  for (int i = 0; i < 3; i++) if (ks[i]) clReleaseKernel(ks[i]);
  free(o);
}

cld_status cld_optim_create(cld_store *s, const cld_adamw_params *p, cld_optim **out) {
  if (!s || !out) return CLD_ERR_INVALID_ARG;
  cld_ctx *ctx = s->ctx;
  cld_adamw_params def = cld_adamw_params_default();
  if (!p) p = &def;
  if (!(p->beta1 >= 0 && p->beta1 < 1 && p->beta2 >= 0 && p->beta2 < 1 && p->eps > 0))
    return cld_seterr(ctx, CLD_ERR_INVALID_ARG, "adamw: betas must be in [0,1) and eps > 0");
  cld_status st = cld_store_alloc(s);
  if (st) return st;
  cld_optim *o = calloc(1, sizeof *o);
  if (!o) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  o->s = s;
  o->p = *p;
  size_t n = s->total ? s->total : 16;
  cl_int e = CL_SUCCESS;
  if (!(o->m = zeros(ctx, n, &e)) || e || !(o->v = zeros(ctx, n, &e)) || e ||
      !(o->partial = zeros(ctx, NORM_PARTS, &e)) || e || !(o->norm = zeros(ctx, 1, &e)) || e) {
    cld_optim_destroy(o);
    return cld_clerr(ctx, e, "allocating optimizer state");
  }
  const char *opts = "-cl-std=CL1.2 -DWG=64";
  if ((st = cld_kernel_create(ctx, "optim", opts, "k_sumsq_partial", &o->k_partial)) ||
      (st = cld_kernel_create(ctx, "optim", opts, "k_norm_finalize", &o->k_final)) ||
      (st = cld_kernel_create(ctx, "optim", opts, "k_adamw", &o->k_adamw))) {
    cld_optim_destroy(o);
    return st;
  }
  *out = o;
  return CLD_OK;
}

cld_status cld_optim_grad_norm(cld_optim *o) {
  if (!o) return CLD_ERR_INVALID_ARG;
  cld_ctx *ctx = o->s->ctx;
  cl_int n = (cl_int)o->s->total, parts = NORM_PARTS, e = CL_SUCCESS;
  e |= clSetKernelArg(o->k_partial, 0, sizeof(cl_mem), &o->s->grads);
  e |= clSetKernelArg(o->k_partial, 1, sizeof n, &n);
  e |= clSetKernelArg(o->k_partial, 2, sizeof(cl_mem), &o->partial);
  size_t g1 = NORM_PARTS * NORM_WG, l1 = NORM_WG, one = 1;
  if (e == CL_SUCCESS) e = clEnqueueNDRangeKernel(ctx->queue, o->k_partial, 1, NULL, &g1, &l1, 0, NULL, NULL);
  if (e == CL_SUCCESS) {
    e |= clSetKernelArg(o->k_final, 0, sizeof(cl_mem), &o->partial);
    e |= clSetKernelArg(o->k_final, 1, sizeof parts, &parts);
    e |= clSetKernelArg(o->k_final, 2, sizeof(cl_mem), &o->norm);
    if (e == CL_SUCCESS) e = clEnqueueNDRangeKernel(ctx->queue, o->k_final, 1, NULL, &one, NULL, 0, NULL, NULL);
  }
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "gradient norm");
}

cld_status cld_optim_apply(cld_optim *o, float lr) {
  if (!o) return CLD_ERR_INVALID_ARG;
  cld_ctx *ctx = o->s->ctx;
  cl_int n = (cl_int)o->s->total, e = CL_SUCCESS;
  o->t++;
  float bc1 = (float)(1.0 - pow(o->p.beta1, (double)o->t)), bc2 = (float)(1.0 - pow(o->p.beta2, (double)o->t));
  cl_kernel k = o->k_adamw;
  cl_uint a = 0;
  e |= clSetKernelArg(k, a++, sizeof(cl_mem), &o->s->params);
  e |= clSetKernelArg(k, a++, sizeof(cl_mem), &o->s->grads);
  e |= clSetKernelArg(k, a++, sizeof(cl_mem), &o->m);
  e |= clSetKernelArg(k, a++, sizeof(cl_mem), &o->v);
  e |= clSetKernelArg(k, a++, sizeof n, &n);
  float fs[7] = {lr, o->p.beta1, o->p.beta2, o->p.eps, o->p.weight_decay, bc1, bc2};
  for (int i = 0; i < 7; i++) e |= clSetKernelArg(k, a++, sizeof(float), &fs[i]);
  e |= clSetKernelArg(k, a++, sizeof(cl_mem), &o->norm);
  e |= clSetKernelArg(k, a++, sizeof(float), &o->p.clip_norm);
  size_t gws = ((size_t)n + 255) / 256 * 256, lws = 256;
  if (e == CL_SUCCESS) e = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &gws, &lws, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, e, "adamw step");
}

cld_status cld_optim_step(cld_optim *o, float lr) {
  cld_status st = cld_optim_grad_norm(o);
  return st ? st : cld_optim_apply(o, lr);
}

cld_status cld_optim_last_grad_norm(cld_optim *o, float *norm) {
  if (!o || !norm) return CLD_ERR_INVALID_ARG;
  cl_int e = clEnqueueReadBuffer(o->s->ctx->queue, o->norm, CL_TRUE, 0, sizeof(float), norm, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(o->s->ctx, e, "reading gradient norm");
}

int64_t cld_optim_step_count(const cld_optim *o) { return o ? o->t : 0; }

cld_status cld_optim_read_moments(cld_optim *o, float *m, float *v) {
  if (!o || !m || !v) return CLD_ERR_INVALID_ARG;
  size_t bytes = o->s->total * sizeof(float);
  cl_int e = clEnqueueReadBuffer(o->s->ctx->queue, o->m, CL_TRUE, 0, bytes, m, 0, NULL, NULL);
  if (e == CL_SUCCESS) e = clEnqueueReadBuffer(o->s->ctx->queue, o->v, CL_TRUE, 0, bytes, v, 0, NULL, NULL);
  return e == CL_SUCCESS ? CLD_OK : cld_clerr(o->s->ctx, e, "reading optimizer moments");
}

cld_status cld_optim_write_moments(cld_optim *o, const float *m, const float *v, int64_t step) {
  if (!o || !m || !v || step < 0) return CLD_ERR_INVALID_ARG;
  size_t bytes = o->s->total * sizeof(float);
  cl_int e = clEnqueueWriteBuffer(o->s->ctx->queue, o->m, CL_TRUE, 0, bytes, m, 0, NULL, NULL);
  if (e == CL_SUCCESS) e = clEnqueueWriteBuffer(o->s->ctx->queue, o->v, CL_TRUE, 0, bytes, v, 0, NULL, NULL);
  if (e != CL_SUCCESS) return cld_clerr(o->s->ctx, e, "writing optimizer moments");
  o->t = step;
  return CLD_OK;
}

/* ---- EMA -------------------------------------------------------------------------------- */
cld_status cld_ema_create(cld_store *s, cld_ema **out) {
  if (!s || !out) return CLD_ERR_INVALID_ARG;
  cld_ctx *ctx = s->ctx;
  cld_status st = cld_store_alloc(s);
  if (st) return st;
  cld_ema *e = calloc(1, sizeof *e);
  if (!e) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  e->s = s;
  size_t bytes = (s->total ? s->total : 16) * sizeof(float);
  cl_int err;
  e->ema = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
  if (err == CL_SUCCESS) err = clEnqueueCopyBuffer(ctx->queue, s->params, e->ema, 0, 0, bytes, 0, NULL, NULL);
  if (err != CL_SUCCESS) { cld_ema_destroy(e); return cld_clerr(ctx, err, "allocating EMA"); }
  if ((st = cld_kernel_create(ctx, "optim", "-cl-std=CL1.2 -DWG=64", "k_ema", &e->k))) { cld_ema_destroy(e); return st; }
  *out = e;
  return CLD_OK;
}

void cld_ema_destroy(cld_ema *e) {
  if (!e) return;
  if (e->ema) clReleaseMemObject(e->ema);
  if (e->k) clReleaseKernel(e->k);
  free(e);
}

cld_status cld_ema_update(cld_ema *e, float decay) {
  if (!e) return CLD_ERR_INVALID_ARG;
  cld_ctx *ctx = e->s->ctx;
  cl_int n = (cl_int)e->s->total, err = CL_SUCCESS;
  err |= clSetKernelArg(e->k, 0, sizeof(cl_mem), &e->ema);
  err |= clSetKernelArg(e->k, 1, sizeof(cl_mem), &e->s->params);
  err |= clSetKernelArg(e->k, 2, sizeof n, &n);
  err |= clSetKernelArg(e->k, 3, sizeof decay, &decay);
  size_t gws = ((size_t)n + 255) / 256 * 256, lws = 256;
  if (err == CL_SUCCESS) err = clEnqueueNDRangeKernel(ctx->queue, e->k, 1, NULL, &gws, &lws, 0, NULL, NULL);
  return err == CL_SUCCESS ? CLD_OK : cld_clerr(ctx, err, "ema update");
}

cld_status cld_ema_read(cld_ema *e, float *all) {
  if (!e || !all) return CLD_ERR_INVALID_ARG;
  cl_int err = clEnqueueReadBuffer(e->s->ctx->queue, e->ema, CL_TRUE, 0, e->s->total * sizeof(float), all, 0, NULL, NULL);
  return err == CL_SUCCESS ? CLD_OK : cld_clerr(e->s->ctx, err, "reading EMA");
}

cld_status cld_ema_write(cld_ema *e, const float *all) {
  if (!e || !all) return CLD_ERR_INVALID_ARG;
  cl_int err = clEnqueueWriteBuffer(e->s->ctx->queue, e->ema, CL_TRUE, 0, e->s->total * sizeof(float), all, 0, NULL, NULL);
  return err == CL_SUCCESS ? CLD_OK : cld_clerr(e->s->ctx, err, "writing EMA");
}
