#!/usr/bin/env python3
"""Golden values for cldiff's learned-range variational bound (src/diffusion/objective.c), from
guided-diffusion's formulas (gaussian_diffusion._vb_terms_bpd with model_var_type LEARNED_RANGE,
losses.normal_kl, discretized_gaussian_log_likelihood, approx_standard_normal_cdf), written out
here in float64 NumPy. Linear schedule, T=1000; samples at t = 0, 1, 500, 999 (t = 0 uses the
decoder NLL); x0 on the 8-bit grid including -1 and +1. Writes tests/golden/vlb.safetensors.
Run: python3 tools/golden/make_vlb_golden.py
"""
import os

import numpy as np
import torch
from safetensors.torch import save_file

T = 1000
betas = np.linspace(1e-4, 0.02, T)
ab = np.cumprod(1 - betas)
ab_prev = np.append(1.0, ab[:-1])
post_var = betas * (1 - ab_prev) / (1 - ab)
post_logvar_clipped = np.log(np.append(post_var[1], post_var[1:]))
c1 = betas * np.sqrt(ab_prev) / (1 - ab)
c2 = (1 - ab_prev) * np.sqrt(1 - betas) / (1 - ab)


def normal_kl(mean1, logvar1, mean2, logvar2):
    return 0.5 * (-1.0 + logvar2 - logvar1 + np.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * np.exp(-logvar2))


def approx_standard_normal_cdf(x):
    return 0.5 * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def discretized_gaussian_log_likelihood(x, means, log_scales):
    centered = x - means
    inv_stdv = np.exp(-log_scales)
    cdf_plus = approx_standard_normal_cdf(inv_stdv * (centered + 1.0 / 255.0))
    cdf_min = approx_standard_normal_cdf(inv_stdv * (centered - 1.0 / 255.0))
    log_cdf_plus = np.log(np.maximum(cdf_plus, 1e-12))
    log_one_minus_cdf_min = np.log(np.maximum(1.0 - cdf_min, 1e-12))
    cdf_delta = cdf_plus - cdf_min
    return np.where(x < -0.999, log_cdf_plus,
                    np.where(x > 0.999, log_one_minus_cdf_min, np.log(np.maximum(cdf_delta, 1e-12))))


def main():
    rng = np.random.default_rng(5)
    t = np.array([0, 1, 500, 999])
    B, shape = len(t), (4, 1, 4, 4)
    x0 = rng.integers(0, 256, size=shape) / 127.5 - 1.0
    x0[0, 0, 0, 0], x0[0, 0, 0, 1], x0[1, 0, 1, 1] = -1.0, 1.0, 1.0
    eps = rng.standard_normal(shape)
    xt = np.sqrt(ab[t])[:, None, None, None] * x0 + np.sqrt(1 - ab[t])[:, None, None, None] * eps
    eps_hat = eps + 0.3 * rng.standard_normal(shape)
    v = rng.uniform(-1, 1, size=shape)
    r = lambda a: a[t][:, None, None, None]
    frac = (v + 1) / 2
    model_logvar = frac * np.log(r(betas)) + (1 - frac) * r(post_logvar_clipped)
    pred_x0 = (xt - np.sqrt(1 - r(ab)) * eps_hat) / np.sqrt(r(ab))
    mean_p = r(c1) * pred_x0 + r(c2) * xt
    mean_q = r(c1) * x0 + r(c2) * xt
    kl = normal_kl(mean_q, r(post_logvar_clipped), mean_p, model_logvar).mean(axis=(1, 2, 3)) / np.log(2.0)
    nll = -discretized_gaussian_log_likelihood(x0, mean_p, 0.5 * model_logvar).mean(axis=(1, 2, 3)) / np.log(2.0)
    vb = np.where(t == 0, nll, kl)
    f = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    out = {"t": f(t), "x0": f(x0), "eps": f(eps), "xt": f(xt), "eps_hat": f(eps_hat), "v": f(v), "vb": f(vb)}
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "vlb.safetensors")
    save_file(out, path)
    print("vb bits per dim:", vb)


if __name__ == "__main__":
    main()
