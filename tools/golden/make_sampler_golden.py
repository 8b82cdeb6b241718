#!/usr/bin/env python3
"""Golden trajectories for cldiff's samplers from diffusers' schedulers (PyPI), driven by a fixed
analytic denoiser: the exact eps-prediction of Gaussian data N(MU, SD^2) per value,
eps(x, t) = sqrt(1-ab) (x - sqrt(ab) MU) / (ab SD^2 + 1 - ab).
The starting noise and every step's noise are cldiff's Philox4x32-10 streams, reimplemented here
(x_T: stream 0x1000, step k: stream 0x2000 + k, offset image*C*H*W), so diffusers and cldiff see
the same numbers: DDIM through step(variance_noise=...), DDPM by patching its randn_tensor.
Writes tests/golden/samplers.safetensors: for each case the trajectory (steps+1, n, C*H*W).
Run: python3 tools/golden/make_sampler_golden.py
"""
import os

import numpy as np
import torch
import diffusers.schedulers.scheduling_ddpm as ddpm_mod
from diffusers import DDIMScheduler, DDPMScheduler, EDMEulerScheduler
from safetensors.torch import save_file

MU, SD = 0.3, 0.5
N_IMG, PER, SEED = 3, 16, 7
M32 = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    c0, c1, c2, c3 = (int(v) for v in ctr)
    k0, k1 = (int(v) for v in key)
    for r in range(10):
        if r:
            k0 = (k0 + 0x9E3779B9) & M32
            k1 = (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
    return c0, c1, c2, c3


def normal(seed, stream, offset, n):
    """cld_rng_normal_host: Box-Muller on lane pairs, float32 arithmetic"""
    out = np.empty(n, np.float32)
    i = 0
    while i < n:
        e = offset + i
        b = e // 4
        x = philox4x32_10((b & M32, b >> 32, stream, 0), (seed & M32, seed >> 32))
        z = []
        for p in range(2):
            u1 = np.float32(((x[2 * p] >> 8) + 1) * 2.0 ** -24)
            u2 = np.float32((x[2 * p + 1] >> 8) * 2.0 ** -24)
            r = np.sqrt(np.float32(-2.0) * np.log(u1))
            th = np.float32(6.283185307179586) * u2
            z += [r * np.cos(th), r * np.sin(th)]
        for lane in range(e % 4, 4):
            if i >= n:
                break
            out[i] = z[lane]
            i += 1
    return out


def start_noise():
    return torch.from_numpy(np.stack([normal(SEED, 0x1000, i * PER, PER) for i in range(N_IMG)]))


def step_noise(k):
    return torch.from_numpy(np.stack([normal(SEED, 0x2000 + k, i * PER, PER) for i in range(N_IMG)]))


def denoiser(sched, x, t):
    ab = float(sched.alphas_cumprod[int(t)])
    return np.sqrt(1 - ab) * (x - np.sqrt(ab) * MU) / (ab * SD * SD + 1 - ab)


def run(sched, steps, stepper):
    sched.set_timesteps(steps)
    x = start_noise().double()
    traj = [x.clone()]
    K = len(sched.timesteps)
    for j, t in enumerate(sched.timesteps):
        k = K - 1 - j  # cldiff's step index (position in the ascending grid)
        x = stepper(sched, x, t, k)
        traj.append(x.clone())
    return torch.stack(traj).float(), [int(t) for t in sched.timesteps]


def ddim_stepper(eta):
    def f(sched, x, t, k):
        eps = denoiser(sched, x, t)
        return sched.step(eps, t, x, eta=eta, variance_noise=step_noise(k).double()).prev_sample
    return f


def ddpm_stepper(sched, x, t, k):
    ddpm_mod.randn_tensor = lambda *a, **kw: step_noise(k).double()
    eps = denoiser(sched, x, t)
    return sched.step(eps, t, x).prev_sample


def main():
    out = {}
    for eta in (0.0, 0.5):
        s = DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False, set_alpha_to_one=True,
                          steps_offset=0, timestep_spacing="leading")
        traj, ts = run(s, 10, ddim_stepper(eta))
        out[f"ddim_eta{eta}"] = traj
        print("ddim eta", eta, "timesteps", ts)
    for var in ("fixed_small", "fixed_large"):
        s = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False, variance_type=var,
                          timestep_spacing="linspace")
        traj, ts = run(s, 10, ddpm_stepper)
        out[f"ddpm_{var}"] = traj
        print("ddpm", var, "timesteps", ts)
    # EDM Euler (S_churn = 0) on the Karras grid: the model F sees c_in x and c_noise; F is chosen so
    # that D(x, s) = c_skip x + c_out F is the exact denoiser of N(MU, SD^2)
    s = EDMEulerScheduler(sigma_min=0.002, sigma_max=80.0, sigma_data=0.5, rho=7.0, num_train_timesteps=1000,
                          prediction_type="epsilon")
    s.set_timesteps(10)
    x = (start_noise().double() * float(s.sigmas[0]))
    traj = [x.clone()]
    for i, t in enumerate(s.timesteps):
        sigma = float(s.sigmas[i])
        inp = s.scale_model_input(x, t)  # c_in x
        c_in = 1 / np.sqrt(sigma ** 2 + 0.25)
        xs = inp / c_in
        D = (SD ** 2 * xs + sigma ** 2 * MU) / (sigma ** 2 + SD ** 2)
        c_skip = 0.25 / (sigma ** 2 + 0.25)
        c_out = sigma * 0.5 / np.sqrt(sigma ** 2 + 0.25)
        F = (D - c_skip * xs) / c_out
        x = s.step(F, t, x).prev_sample
        traj.append(x.clone())
    out["edm_euler"] = torch.stack(traj).float()
    print("edm euler sigmas", [round(float(v), 6) for v in s.sigmas])
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "samplers.safetensors")
    save_file({k: v.contiguous() for k, v in out.items()}, path)
    print("wrote", path)


if __name__ == "__main__":
    main()
