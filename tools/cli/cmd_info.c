/* `cldiff info DIR`: what a run, checkpoint or diffusers model directory holds. Needs no device. */
#include "cli.h"
#include "ckpt_resolve.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_info(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    printf("usage: cldiff info DIR\n\nDescribes a run directory (newest checkpoint), a ckpt-N directory or a diffusers\n"
           "UNet2DModel directory or pipeline directory: architecture, parameter count, the schedule and\n"
           "where it comes from (trainer.json, scheduler_config.json, or assumed), training facts.\n");
    return argc < 2 ? 2 : 0;
  }
  if (argc > 2) { fprintf(stderr, "cldiff info: one directory expected\n"); return 2; }
  cld_ctx *ctx = cli_ctx(&(cli_common){0});
  if (!ctx) return 1;
  ckpt_info ci;
  int rc = ckpt_resolve(ctx, argv[1], false, &ci);
  cld_store *s = NULL;
  cld_model *m = NULL;
  if (!rc && (cld_store_create(ctx, &s) || cld_model_load(ctx, ci.model_dir, s, &m))) {
    fprintf(stderr, "cldiff info: %s\n", cld_ctx_errmsg(ctx));
    rc = 1;
  }
  cld_unet *u = rc ? NULL : cld_model_unet(m);
  if (!rc) printf("model:       %s\n", ci.model_dir);
  if (!rc && !u) printf("MLPDenoiser: %lld parameters, 2-D points\n", (long long)cld_model_param_count(m));
  if (u) {
    const cld_unet_config *c = cld_unet_get_config(u);
    printf("UNet2DModel: %lld parameters, %d->%d channels, sample_size %d\n", (long long)cld_unet_param_count(u), c->in_channels,
           c->out_channels, c->sample_size);
    printf("levels:      ");
    for (int i = 0; i < c->n_levels; i++) printf("%s%d%s", i ? ", " : "", c->block_out_channels[i], c->down_attn[i] ? "+attn" : "");
    printf(" (x%d res blocks, dropout %g, heads of %d)\n", c->layers_per_block, c->dropout, c->attention_head_dim);
    if (c->class_embed == CLD_CLASS_TABLE) printf("classes:     a class table of %d rows (num_class_embeds)\n", c->num_class_embeds);
    else if (c->class_embed == CLD_CLASS_TIMESTEP) printf("classes:     labels through a timestep embedding (class_embed_type \"timestep\")\n");
    else if (c->class_embed == CLD_CLASS_IDENTITY) printf("classes:     embedding vectors added as given (class_embed_type \"identity\")\n");
  }
  if (!rc && ci.num_classes > 0) {
    printf("trained on:  %d classes, ", ci.num_classes);
    if (ci.null_class >= 0) printf("null class %d (label dropout: unconditional sampling and guidance work)\n", ci.null_class);
    else printf("no null class (no label dropout: sample with --class, no guidance)\n");
    int k = 0;
    for (const char *p = ci.class_names; *p && k < ci.num_classes; k++) {
      const char *nl = strchr(p, '\n');
      int len = nl ? (int)(nl - p) : (int)strlen(p);
      printf("  class %d: %.*s\n", k, len, p);
      p = nl ? nl + 1 : p + len;
    }
  }
  if (!rc) {
    printf("schedule:    %s, T=%d, %s prediction%s (%s)\n", cld_beta_schedule_name((cld_beta_schedule)ci.schedule), ci.T,
           cld_prediction_name((cld_prediction)ci.prediction), ci.clip ? ", x0 clipped to [-1, 1]" : "", ci.sched_source);
    if (ci.from_trainer) {
      printf("checkpoint:  %s (step %lld)\n", ci.ckpt_dir, ci.step);
      printf("training:    %s schedule, T=%d, %s prediction, data %s (pixel variance %.4f)\n",
             cld_beta_schedule_name((cld_beta_schedule)ci.schedule), ci.T, cld_prediction_name((cld_prediction)ci.prediction),
             ci.dataset, ci.data_var);
    }
  }
  cld_model_destroy(m);
  cld_store_destroy(s);
  cld_ctx_destroy(ctx);
  return rc;
}
