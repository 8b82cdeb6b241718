/* See ckpt_resolve.c. */
#ifndef CLDIFF_CLI_CKPT_RESOLVE_H
#define CLDIFF_CLI_CKPT_RESOLVE_H
#include "cldiff/cldiff.h"
typedef struct {
  char model_dir[1200], ckpt_dir[1100], dataset[256];
  int schedule, T, prediction;
  long long step;
  double data_var, sigma_data;
  bool from_trainer;
  bool clip;               /* the scheduler config asks for clip_sample */
  char sched_source[1300]; /* where schedule, T and prediction came from */
  char spacing[16];        /* a scheduler config's timestep_spacing ("" without one) and steps_offset */
  int steps_offset;
  int num_classes;         /* a class-conditional run's classes (trainer.json), 0 if unknown */
  int null_class;          /* its label-dropout class, -1 if none */
  char class_names[4096];  /* the names, '\n'-separated (as many as fit) */
} ckpt_info;
/* 0 on success, 2 (message printed) when arg names nothing usable. */
int ckpt_resolve(cld_ctx *ctx, const char *arg, bool ema, ckpt_info *out);
#endif
