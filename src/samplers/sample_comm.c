/* Sharded sampling (cld_sample_comm): rank r samples images first + r*share .. of a run, rank 0
 * gathers them in rank order. Padding to equal shares keeps the gather one collective. */
#include "runtime/runtime.h"
#include <stdlib.h>
#include <string.h>

cld_status cld_sample_comm(cld_ctx *ctx, cld_model *m, const cld_sample_params *p, const cld_comm *comm, int64_t first,
                           int64_t n, int h, int w, float *out, cld_sample_progress progress, void *user) {
  if (!comm || comm->size <= 1) return cld_sample(ctx, m, p, first, n, h, w, out, progress, user);
  if (!ctx || !m || !p || n < 0 || (comm->rank == 0 && !out) || !comm->gather || !comm->broadcast) return CLD_ERR_INVALID_ARG;
  int64_t share = (n + comm->size - 1) / comm->size, lo = (int64_t)comm->rank * share;
  int64_t mine = lo >= n ? 0 : (n - lo < share ? n - lo : share);
  size_t per = (size_t)cld_model_channels(m) * (size_t)h * (size_t)w, bytes = (size_t)share * per * sizeof(float);
  float *part = calloc(share > 0 ? (size_t)share * per : 1, sizeof(float));
  float *all = comm->rank == 0 ? malloc(bytes * (size_t)comm->size + 1) : NULL;
  int st = (!part || (comm->rank == 0 && !all)) ? CLD_ERR_NOMEM : CLD_OK;
  if (!st && mine > 0) st = cld_sample(ctx, m, p, first + lo, mine, h, w, part, comm->rank == 0 ? progress : NULL, user);
  /* one rank's failure is every rank's: agree before the gather (statuses are small negatives,
   * so the sum of their magnitudes is nonzero exactly when some rank failed) */
  int worst = st;
  float f = (float)-st;
  if (comm->allreduce_sum(comm->user, &f, 1)) worst = CLD_ERR_IO;
  else if (f != 0 && !st) worst = CLD_ERR_STATE;
  if (!worst && comm->gather(comm->user, part, bytes, all, 0)) worst = CLD_ERR_IO;
  if (!worst && comm->rank == 0) memcpy(out, all, (size_t)n * per * sizeof(float));
  if (worst && !st) cld_seterr(ctx, (cld_status)worst, "sample: another rank failed (see its message)");
  free(part);
  free(all);
  return (cld_status)worst;
}
