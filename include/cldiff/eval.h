/* cldiff evaluation: feature-space metrics (FID, KID, improved precision/recall), 2-D toy metrics
 * (sliced Wasserstein-2, RBF MMD, mixture NLL, checkerboard support), the feature classifier, and
 * exposure-bias curves. Host computations run in double precision; the linear algebra (symmetric
 * eigendecomposition, Gram matrices) goes through LAPACK/BLAS. Errors go to the context's message. */
#ifndef CLDIFF_EVAL_H
#define CLDIFF_EVAL_H
#include "cldiff/base.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct cld_ctx cld_ctx;
typedef struct cld_model cld_model;
typedef struct cld_dataset cld_dataset;
typedef struct cld_sample_params cld_sample_params;

/* ---- Frechet distance ------------------------------------------------------------------------ */
/* Mean (d) and covariance (d x d, unbiased, divisor n - 1) of n feature rows (n x d). */
CLD_API cld_status cld_feature_stats(cld_ctx *ctx, const float *x, int64_t n, int d, double *mu, double *cov);
/* ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2), with symmetric eigendecompositions
 * (LAPACK dsyevd); negative eigenvalues from round-off are clamped to 0. */
CLD_API cld_status cld_frechet_distance(cld_ctx *ctx, int d, const double *mu1, const double *cov1, const double *mu2,
                                        const double *cov2, double *out);

/* ---- metrics between two feature sets (real x: nx rows, generated y: ny rows, d columns) ------- */
typedef struct cld_fid_result {
  double fid;
  double kid, kid_std;     /* unbiased MMD^2 with the cubic polynomial kernel (x.y/d + 1)^3, mean and
                              std over subsets */
  double precision, recall; /* improved precision/recall (Kynkaanniemi et al. 2019) with k-NN radii */
  int64_t nx, ny;
} cld_fid_result;
typedef struct cld_fid_params {
  int kid_subsets;      /* 100 */
  int kid_subset_size;  /* 1000, capped at min(nx, ny) */
  int pr_k;             /* 3 */
  uint64_t seed;        /* subset draws (Philox stream 0x3000) */
} cld_fid_params;
CLD_API cld_fid_params cld_fid_params_default(void);
CLD_API cld_status cld_fid_metrics(cld_ctx *ctx, const float *x, int64_t nx, const float *y, int64_t ny, int d,
                                   const cld_fid_params *p, cld_fid_result *out);

/* ---- 2-D toy metrics --------------------------------------------------------------------------- */
/* Sliced Wasserstein-2 between point sets a (na x 2) and b (nb x 2): sqrt of the mean over
 * `projections` random directions (Philox(seed, 0x3100)) of W2^2 between the 1-D projections,
 * computed from matched quantiles. */
CLD_API cld_status cld_sliced_w2(cld_ctx *ctx, const float *a, int64_t na, const float *b, int64_t nb, int projections,
                                 uint64_t seed, double *out);
/* Biased MMD^2 with an RBF kernel exp(-||u - v||^2 / (2 bw^2)); bw <= 0: median pairwise distance
 * of the union (the returned *bw_used says which). */
CLD_API cld_status cld_mmd_rbf(cld_ctx *ctx, const float *a, int64_t na, const float *b, int64_t nb, double bw, double *out,
                               double *bw_used);
/* Mean negative log-likelihood of points under the true density of 8gaussians / 25gaussians;
 * CLD_ERR_INVALID_ARG for the other toys. */
CLD_API cld_status cld_toy_nll(cld_ctx *ctx, const char *toy, const float *xy, int64_t n, double *out);
/* Fraction of points on the checkerboard's support. */
CLD_API double cld_checkerboard_support(const float *xy, int64_t n);

/* ---- the feature classifier ------------------------------------------------------------------- */
/* A small CNN (conv3x3 32 -> conv3x3/2 64 -> conv3x3/2 128 -> conv3x3 128, SiLU, global mean) whose
 * 128-d penultimate layer is the feature space of `cldiff eval fid`; a linear head gives the
 * class logits. Saved as DIR/classifier.safetensors (metadata: channels, size, classes). */
typedef struct cld_classifier cld_classifier;
#define CLD_CLASSIFIER_FEATURES 128
CLD_API cld_status cld_classifier_create(cld_ctx *ctx, int channels, int size, int classes, uint64_t seed, cld_classifier **out);
CLD_API cld_status cld_classifier_load(cld_ctx *ctx, const char *dir, cld_classifier **out);
CLD_API cld_status cld_classifier_save(cld_classifier *c, const char *dir);
CLD_API void cld_classifier_destroy(cld_classifier *c);
CLD_API int cld_classifier_size(const cld_classifier *c);
CLD_API int cld_classifier_channels(const cld_classifier *c);
typedef struct cld_classifier_train_params {
  int epochs, batch;
  float lr, weight_decay;
  uint64_t seed;
  bool hflip;
} cld_classifier_train_params;
CLD_API cld_classifier_train_params cld_classifier_train_params_default(void); /* 6 epochs, batch 128, lr 2e-3, wd 1e-4 */
typedef void (*cld_classifier_progress)(void *user, int64_t step, int64_t total, float loss);
/* Trains on a labelled dataset (cross-entropy, AdamW with a cosine decay). */
CLD_API cld_status cld_classifier_train(cld_classifier *c, const cld_dataset *train, const cld_classifier_train_params *p,
                                        cld_classifier_progress progress, void *user);
/* Top-1 accuracy on a labelled dataset. */
CLD_API cld_status cld_classifier_accuracy(cld_classifier *c, const cld_dataset *d, double *acc);
/* Features (n x 128) of n images (n, C, H, W) in [-1, 1] of the classifier's size. */
CLD_API cld_status cld_classifier_features(cld_classifier *c, const float *x, int64_t n, float *out);
/* A 64-bit hash of the classifier's shape and weights (0 when they cannot be read). */
CLD_API uint64_t cld_classifier_fingerprint(cld_classifier *c);
/* cld_classifier_features through the cache directory (the reference side of FID: thousands of
 * fixed images): an entry is keyed by the fingerprint, the images' bytes, n and the device, so a
 * changed classifier, image set or device is a miss. *hit (optional) says which it was. */
CLD_API cld_status cld_classifier_features_cached(cld_classifier *c, const float *x, int64_t n, float *out, bool *hit);

/* ---- exposure bias ----------------------------------------------------------------------------- */
/* One row per network evaluation k of a sampling run of n images (the time t the network saw):
 *   var_sampled: mean over images of the per-image (unbiased, over C*H*W) variance of the sampled x_t;
 *   var_forward: the same for x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps built from the first n
 *                real images (eps from Philox(seed, stream 0x3200 + k));
 *   x0err_forward: mean squared error of the network's x0-prediction against the real x0;
 *   x0err_sampled: mean squared error of the x0-prediction on the sampled x_t against the x0 that
 *                  chain finally produced (the prediction's distance from where the chain ends).
 * Discrete-time samplers only (ddpm, ddim, spndm, fpndm, dpm-solver); *rows is malloc'd. */
typedef struct cld_exposure_row {
  int step;
  double t, var_sampled, var_forward, x0err_sampled, x0err_forward;
} cld_exposure_row;
CLD_API cld_status cld_exposure_measure(cld_ctx *ctx, cld_model *m, const cld_dataset *real, const cld_sample_params *p,
                                        int64_t n, cld_exposure_row **rows, int *n_rows);

/* The denoising error as a function of t: at `bins` timesteps spread evenly over 0..T-1 (p's
 * schedule, T, prediction; seed p->seed), the first n real samples noised to t and the model's
 * output as eps and x0 predictions against the truth: mean squared errors, unweighted, with the
 * SNR alpha_bar / (1 - alpha_bar) at t. Discrete-time models; *rows (bins of them) is malloc'd. */
typedef struct cld_loss_row {
  int t;
  double snr, mse_eps, mse_x0;
} cld_loss_row;
CLD_API cld_status cld_loss_per_t(cld_ctx *ctx, cld_model *m, const cld_dataset *real, const cld_sample_params *p, int64_t n,
                                  int bins, cld_loss_row **rows);

#ifdef __cplusplus
}
#endif
#endif
