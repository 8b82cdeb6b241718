#!/usr/bin/env python3
"""Golden trajectories of DPM-Solver++ 2M and 3M (also with Karras sigmas) and 2M SDE from diffusers' DPMSolverMultistepScheduler
(algorithm_type "dpmsolver++", solver_order 2 and 3, solver_type "midpoint", lower_order_final,
final_sigmas_type "zero", timestep_spacing "linspace"), driven by the same exact Gaussian denoiser
and Philox starting noise as make_sampler_golden.py (an eps model; and a v model: the same
denoiser's v = sqrt(ab) eps - sqrt(1 - ab) x0). Writes tests/golden/samplers_dpmpp.safetensors:
for each case the trajectory (steps+1, n, C*H*W).
Run: python3 tools/golden/make_dpmpp_golden.py
"""
import os
import sys

import numpy as np
import torch
from diffusers import DPMSolverMultistepScheduler
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from make_sampler_golden import MU, SD, denoiser, run, step_noise  # noqa: E402


def v_model(sched, x, t):
    ab = float(sched.alphas_cumprod[int(t)])
    eps = denoiser(sched, x, t)
    x0 = (x - np.sqrt(1 - ab) * eps) / np.sqrt(ab)
    return np.sqrt(ab) * eps - np.sqrt(1 - ab) * x0


def make(prediction, order=2, karras=False, algorithm="dpmsolver++", **kw):
    return DPMSolverMultistepScheduler(num_train_timesteps=1000, beta_schedule="linear", algorithm_type=algorithm, **kw,
                                       use_karras_sigmas=karras,
                                       solver_order=order, solver_type="midpoint", lower_order_final=True,
                                       final_sigmas_type="zero", timestep_spacing="linspace", prediction_type=prediction)


def main():
    out = {}
    for steps in (10, 4, 25):
        traj, ts = run(make("epsilon"), steps, lambda s, x, t, k: s.step(denoiser(s, x, t), t, x).prev_sample)
        out[f"dpmpp2m_eps_{steps}"] = traj
        print("dpm++ 2M eps", steps, "timesteps", ts)
    traj, ts = run(make("v_prediction"), 10, lambda s, x, t, k: s.step(v_model(s, x, t), t, x).prev_sample)
    out["dpmpp2m_v_10"] = traj
    for steps in (10, 5, 20):  # 3M: below 15 steps the one before the last is second order
        traj, ts = run(make("epsilon", 3), steps, lambda s, x, t, k: s.step(denoiser(s, x, t), t, x).prev_sample)
        out[f"dpmpp3m_eps_{steps}"] = traj
    for steps in (10, 20):  # Karras sigmas, the model at the rounded schedule time of each
        traj, ts = run(make("epsilon", 2, True), steps, lambda s, x, t, k: s.step(denoiser(s, x, t), t, x).prev_sample)
        out[f"dpmpp2m_karras_{steps}"] = traj
        print("dpm++ 2M karras", steps, "timesteps", ts)
    for steps in (10, 20):  # the SDE variant, fed cldiff's step-k noise (k: place in the ascending grid)
        traj, ts = run(make("epsilon", 2, False, "sde-dpmsolver++"), steps,
                       lambda s, x, t, k: s.step(denoiser(s, x, t), t, x, variance_noise=step_noise(k).double()).prev_sample)
        out[f"dpmpp2m_sde_{steps}"] = traj
    # dynamic thresholding of the data prediction (ratio 0.9, max 1.2: the late steps' x0 of this
    # data reach past 1, where it bites)
    traj, ts = run(make("epsilon", 2, thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1.2), 10,
                   lambda s, x, t, k: s.step(denoiser(s, x, t).reshape(-1, 1, 4, 4), t, x.reshape(-1, 1, 4, 4))
                   .prev_sample.reshape(x.shape))  # thresholding wants (batch, channels, H, W)
    out["dpmpp2m_threshold_10"] = traj
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "samplers_dpmpp.safetensors")
    save_file({k: v.contiguous() for k, v in out.items()}, path)
    print("wrote", path, "(MU", MU, "SD", SD, ")")


if __name__ == "__main__":
    main()
