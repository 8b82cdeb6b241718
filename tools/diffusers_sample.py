#!/usr/bin/env python3
"""Samples a cldiff-trained UNet2DModel directory with diffusers' own schedulers, for an outside check
of cldiff's samplers at the level of FID (the bitwise checks are the golden tests): if a model's FID
with diffusers matches cldiff's within the noise of the sample size, a surprising figure is the model's,
not cldiff's sampler. Writes (N, C, H, W) float32 .npy like `cldiff sample --npy`; score it with
`cldiff eval fid --features tools/demo/classifier --ref fmnist --samples OUT.npy`. The noise comes from
torch's generator, so the images differ from cldiff's; compare FIDs, not images.
   python3 tools/diffusers_sample.py MODEL_DIR ddim|pndm|ddpm STEPS N OUT.npy [--clip]"""
import sys

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, PNDMScheduler, UNet2DModel


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    model_dir, kind, steps, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    clip = "--clip" in sys.argv[6:]
    torch.set_num_threads(2)
    model = UNet2DModel.from_pretrained(model_dir).eval()
    # cldiff's training schedule (linear, 1e-4 .. 0.02 over 1000 steps) and its DDIM grid ("leading")
    kw = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")
    sched = {"ddim": lambda: DDIMScheduler(**kw, clip_sample=clip, set_alpha_to_one=False, timestep_spacing="leading"),
             "pndm": lambda: PNDMScheduler(**kw, skip_prk_steps=False),
             "ddpm": lambda: DDPMScheduler(**kw, clip_sample=clip)}[kind]()
    sched.set_timesteps(steps)
    g = torch.Generator().manual_seed(0)
    shape = (model.config.in_channels, model.config.sample_size, model.config.sample_size)
    xs = []
    with torch.no_grad():
        for b in range(0, n, 250):
            x = torch.randn(min(250, n - b), *shape, generator=g)
            for t in sched.timesteps:
                eps = model(x, t).sample
                x = sched.step(eps, t, x, generator=g).prev_sample if kind == "ddpm" else sched.step(eps, t, x).prev_sample
            xs.append(x.numpy())
    x = np.concatenate(xs).astype(np.float32)
    print(f"{out}: {n} images, {(np.abs(x) > 1).mean():.3f} of pixels outside [-1, 1], range {x.min():.2f} .. {x.max():.2f}")
    np.save(out, x)


if __name__ == "__main__":
    main()
