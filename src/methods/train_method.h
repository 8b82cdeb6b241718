/* The interface through which the trainer (src/train/train.c) asks each enabled training method
 * for its part of a step, and the registry that lists the methods. A method is one file in
 * src/methods/ that fills one cld_train_method table and one line in registry.c; the trainer holds
 * a list of the enabled ones and has no method-specific fields or branches.
 *
 * The slots do not overlap, so methods compose without knowing each other:
 *   input        the noise that enters x_t = sqrt(ab) x0 + sqrt(1 - ab) noise   (IP)
 *   target       the x0 / eps targets the prediction is regressed on              (STF)
 *   weight       a per-sample factor of the loss weight                           (weightings)
 *   regulariser  a term added to the batch loss                                   (EP)
 *   feed         the method's per-step host inputs (per-sample values, reference images, draws)
 *   record       its keys in trainer.json's "methods" object
 * Graph slots are called in that order while the one step graph is built, each method in registry
 * order within a slot. Internal: not part of the public API. */
#ifndef CLDIFF_TRAIN_METHOD_H
#define CLDIFF_TRAIN_METHOD_H
#include "cldiff/cldiff.h"

struct cJSON;

/* What the trainer lends a method while it builds the step graph. */
typedef struct cld_method_graph {
  cld_graph *g;
  cld_model *model;
  const cld_train_params *p;
  int64_t shape[4];   /* the batch: (B, C, H, W) */
  cld_tensor *x0;     /* (B, C, H, W) clean images */
  cld_tensor *eps;    /* (B, C, H, W) the noise the target is built from */
  cld_tensor *xt;     /* (B, C, H, W) the network input; NULL during the input slot */
  cld_tensor *cond;   /* the class input of a conditional model (cld_model_class_input), or NULL:
                         a method's own forwards of sample i take row i */
} cld_method_graph;

/* What the trainer lends a method for one step (before the step graph runs). */
typedef struct cld_method_step {
  cld_ctx *ctx;
  cld_graph *g;
  const cld_train_params *p;
  const cld_schedule *sched;
  const cld_dataset *data;
  int64_t step;            /* the step about to run (0-based) */
  int batch;               /* the micro-batch this graph runs (the global batch without accumulation) */
  int micro;               /* its index in the global batch: samples micro*batch .. (micro+1)*batch - 1 */
  int global_batch;
  const float *batch_x;    /* (global_batch, C, H, W): the step's whole batch of images */
  const int *t;            /* (batch) discrete times of this micro-batch; NULL for EDM */
  const double *alpha_bar; /* (batch) alpha_bar at t; NULL for EDM */
  const double *sigma;     /* (batch) EDM noise levels; NULL otherwise */
} cld_method_step;

typedef struct cld_train_method {
  const char *name;
  /* why p is invalid for this method (called for every registered method), or NULL */
  const char *(*check)(const cld_train_params *p);
  bool (*enabled)(const cld_train_params *p);
  /* the method's state for one trainer whose batch is shape (B, C, H, W); NULL when out of memory */
  void *(*create)(const cld_train_params *p, const int64_t shape[4]);
  void (*destroy)(void *self);
  /* graph slots, each optional; a NULL result marks the graph out of memory */
  cld_tensor *(*input)(void *self, const cld_method_graph *b, cld_tensor *noise);
  void (*target)(void *self, const cld_method_graph *b, cld_tensor **x0_target, cld_tensor **eps_target);
  cld_tensor *(*regulariser)(void *self, const cld_method_graph *b);
  /* per-sample loss-weight factor at alpha_bar (VP only; multiplies the other methods' factors) */
  double (*weight)(const cld_train_params *p, double alpha_bar);
  cld_status (*feed)(void *self, const cld_method_step *s);
  /* trainer.json "methods" keys (called for every registered method, enabled or not) */
  void (*record)(const cld_train_params *p, struct cJSON *methods);
  /* one integer the method reports after a step (cld_trainer_method_stat), optional */
  const char *stat_name;
  int (*stat)(const void *self);
} cld_train_method;

/* The registered training methods, NULL-terminated (registry.c). */
extern const cld_train_method *const cld_train_methods[];

/* The first registered method's complaint about p, or NULL when every method accepts it. */
const char *cld_train_methods_check(const cld_train_params *p);
#endif
