#!/usr/bin/env python3
"""Golden trajectories of UniPC (diffusers' UniPCMultistepScheduler: predict_x0, solver_type "bh2"
and "bh1", solver_order 2 and 3, lower_order_final, final_sigmas_type "zero", timestep_spacing
"linspace"; also with Karras and with exponential sigmas) and of DPM-Solver++ 2M with exponential
sigmas (DPMSolverMultistepScheduler, use_exponential_sigmas), and of DPM-Solver++(2S)
(DPMSolverSinglestepScheduler: dpmsolver++, solver_order 2, midpoint, lower_order_final,
final_sigmas_type "zero"; 10 and 9 steps, a v model, Karras sigmas), and of DDIM (eta 0) with
timestep_spacing "trailing" and "leading" with steps_offset 1 (cldiff's --respacing trailing10 and
leading10+1, the grid a scheduler_config.json asks for), driven by the same exact Gaussian
denoiser and Philox starting noise as make_sampler_golden.py (an eps model; and a v model).
Writes tests/golden/samplers_unipc.safetensors: for each case the trajectory (steps+1, n, C*H*W),
and the model times of the exponential cases ("<case>.t").
Note: diffusers' bh1 with final_sigmas_type "zero" ends in NaN (its last step multiplies B(h) =
-inf by a zero residual); cldiff's last step to sigma 0 is the data prediction for both variants,
so the bh1 case is compared on every state but the last.
Run: python3 tools/golden/make_unipc_golden.py
"""
import os
import sys

import numpy as np
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, DPMSolverSinglestepScheduler, UniPCMultistepScheduler
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from make_sampler_golden import MU, SD, denoiser, run  # noqa: E402
from make_dpmpp_golden import v_model  # noqa: E402


def unipc(prediction="epsilon", order=2, solver="bh2", **kw):
    return UniPCMultistepScheduler(num_train_timesteps=1000, beta_schedule="linear", solver_order=order, solver_type=solver,
                                   predict_x0=True, lower_order_final=True, final_sigmas_type="zero",
                                   timestep_spacing="linspace", prediction_type=prediction, **kw)


def eps_step(s, x, t, k):
    return s.step(denoiser(s, x, t), t, x).prev_sample


def main():
    out = {}
    for steps in (10, 4, 25):
        out[f"unipc_bh2_{steps}"], ts = run(unipc(), steps, eps_step)
        print("unipc bh2", steps, "timesteps", ts)
    out["unipc_bh1_10"], _ = run(unipc(solver="bh1"), 10, eps_step)
    for steps in (10, 20):
        out[f"unipc3_bh2_{steps}"], _ = run(unipc(order=3), steps, eps_step)
    out["unipc_v_10"], _ = run(unipc("v_prediction"), 10, lambda s, x, t, k: s.step(v_model(s, x, t), t, x).prev_sample)
    out["unipc_karras_10"], ts = run(unipc(use_karras_sigmas=True), 10, eps_step)
    print("unipc karras timesteps", ts)
    out["unipc_exp_10"], ts = run(unipc(use_exponential_sigmas=True), 10, eps_step)
    out["unipc_exp_10.t"] = torch.tensor(ts, dtype=torch.float32)
    print("unipc exponential timesteps", ts)
    dpm = DPMSolverMultistepScheduler(num_train_timesteps=1000, beta_schedule="linear", algorithm_type="dpmsolver++",
                                      solver_order=2, solver_type="midpoint", lower_order_final=True,
                                      final_sigmas_type="zero", timestep_spacing="linspace", use_exponential_sigmas=True)
    out["dpmpp2m_exp_10"], ts = run(dpm, 10, eps_step)
    out["dpmpp2m_exp_10.t"] = torch.tensor(ts, dtype=torch.float32)
    print("dpm++ 2M exponential timesteps", ts)
    def single(prediction="epsilon", **kw):
        return DPMSolverSinglestepScheduler(num_train_timesteps=1000, beta_schedule="linear", solver_order=2,
                                            algorithm_type="dpmsolver++", solver_type="midpoint", lower_order_final=True,
                                            final_sigmas_type="zero", prediction_type=prediction, **kw)
    for steps in (10, 9):
        out[f"dpmpp2s_{steps}"], ts = run(single(), steps, eps_step)
        print("dpm++ 2S", steps, "timesteps", ts)
    out["dpmpp2s_v_10"], _ = run(single("v_prediction"), 10, lambda s, x, t, k: s.step(v_model(s, x, t), t, x).prev_sample)
    out["dpmpp2s_karras_10"], _ = run(single(use_karras_sigmas=True), 10, eps_step)
    for name, kw in (("ddim_trailing_10", dict(timestep_spacing="trailing")),
                     ("ddim_leading1_10", dict(timestep_spacing="leading", steps_offset=1))):
        ddim = DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False, set_alpha_to_one=True, **kw)
        out[name], ts = run(ddim, 10, lambda s, x, t, k: s.step(denoiser(s, x, t), t, x, eta=0.0).prev_sample)
        print(name, "timesteps", ts)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "samplers_unipc.safetensors")
    save_file({k: v.contiguous() for k, v in out.items()}, path)
    print("wrote", path, "(MU", MU, "SD", SD, ")")


if __name__ == "__main__":
    main()
