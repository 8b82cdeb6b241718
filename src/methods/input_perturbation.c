/* Input Perturbation (DDPM-IP, Ning et al. 2023; METHODS.md 3 and decision 1): the network input
 * is sqrt(ab) x0 + sqrt(1 - ab)(eps + gamma xi) with an independent xi, while the regression
 * target keeps the unperturbed eps. The constant gamma is the paper's; the ramp
 * gamma_t = linspace(0.01 gamma, gamma, T)[t] is TS-DPM-ADM's time-dependent variant.
 * As a training method it fills the input slot and feeds each sample's gamma. */
#include "methods/train_method.h"
#include <cjson/cJSON.h>
#include <stdlib.h>

double cld_ip_gamma_at(const cld_methods *m, int t, int T) {
  if (!m) return 0;
  if (!m->ip_ramp || T < 2) return m->ip_gamma;
  double g = m->ip_gamma, lo = 0.01 * g;
  return lo + (g - lo) * (double)t / (double)(T - 1);
}

cld_tensor *cld_ip_noise(cld_graph *g, cld_tensor *eps, cld_tensor *gamma) {
  int64_t shape[8];
  int nd = cld_tensor_ndim(eps);
  for (int i = 0; i < nd && i < 8; i++) shape[i] = cld_tensor_dim(eps, i);
  cld_tensor *xi = cld_randn(g, nd, shape, 4);
  return cld_add(g, eps, cld_mul(g, xi, gamma));
}

typedef struct ip_state {
  cld_tensor *gamma; /* (B, 1, 1, 1) */
  float *buf;        /* (B) */
} ip_state;

static const char *ip_check(const cld_train_params *p) {
  return !(p->methods.ip_gamma >= 0 && p->methods.ip_gamma <= 10) ? "ip_gamma (--ip-gamma) must be in [0, 10]" : NULL;
}
static bool ip_enabled(const cld_train_params *p) { return p->methods.ip_gamma > 0; }

static void ip_destroy(void *self) {
  ip_state *s = self;
  if (s) free(s->buf);
  free(s);
}
static void *ip_create(const cld_train_params *p, const int64_t shape[4]) {
  ip_state *s = calloc(1, sizeof *s);
  if (s && !(s->buf = malloc((size_t)p->batch * sizeof *s->buf))) { free(s); return NULL; }
  return s;
}

static cld_tensor *ip_input(void *self, const cld_method_graph *b, cld_tensor *noise) {
  ip_state *s = self;
  s->gamma = cld_input_4d(b->g, "ip_gamma", b->shape[0], 1, 1, 1);
  return cld_ip_noise(b->g, noise, s->gamma);
}

static cld_status ip_feed(void *self, const cld_method_step *st) {
  ip_state *s = self;
  const cld_methods *m = &st->p->methods;
  for (int b = 0; b < st->batch; b++) /* EDM has no discrete t: the constant gamma */
    s->buf[b] = st->t ? (float)cld_ip_gamma_at(m, st->t[b], st->p->T) : m->ip_gamma;
  return cld_tensor_write(st->g, s->gamma, s->buf);
}

static void ip_record(const cld_train_params *p, cJSON *j) {
  cJSON_AddNumberToObject(j, "ip_gamma", p->methods.ip_gamma);
  cJSON_AddBoolToObject(j, "ip_ramp", p->methods.ip_ramp);
}

const cld_train_method cld_method_input_perturbation = {
  .name = "input_perturbation", .check = ip_check, .enabled = ip_enabled, .create = ip_create,
  .destroy = ip_destroy, .input = ip_input, .feed = ip_feed, .record = ip_record,
};
