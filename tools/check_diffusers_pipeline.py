#!/usr/bin/env python3
"""Checks that a cldiff checkpoint is a diffusers pipeline: DDIMPipeline.from_pretrained(CKPT) and
DDPMPipeline.from_pretrained(CKPT) load it (model_index.json, scheduler/, unet -> ema), their
schedulers carry trainer.json's schedule (betas, T, prediction type), and both sample finite images
of the model's size. The C suite never needs Python; run this by hand after a change to what
checkpoints write:

    python3 tools/check_diffusers_pipeline.py runs/a/ckpt-3000        (pip install torch diffusers)
"""
import json
import math
import sys

import torch
from diffusers import DDIMPipeline, DDPMPipeline


def cldiff_betas(schedule, T):
    if schedule == "linear":
        s = 1000.0 / T
        return [1e-4 * s + (0.02 * s - 1e-4 * s) * t / (T - 1) for t in range(T)]
    if schedule == "scaled-linear":
        r0, r1 = math.sqrt(0.00085), math.sqrt(0.012)
        return [(r0 + (r1 - r0) * t / (T - 1)) ** 2 for t in range(T)]
    if schedule == "cosine":
        f = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
        return [min(1 - f((t + 1) / T) / f(t / T), 0.999) for t in range(T)]
    raise SystemExit(f"schedule {schedule}: no diffusers equivalent")


def main(ckpt):
    tj = json.load(open(f"{ckpt}/trainer.json"))
    want = torch.tensor(cldiff_betas(tj["schedule"], tj["T"]), dtype=torch.float32)
    pred = {"eps": "epsilon", "v": "v_prediction", "x0": "sample"}[tj["prediction"]]
    for cls in (DDIMPipeline, DDPMPipeline):
        pipe = cls.from_pretrained(ckpt)
        sc = pipe.scheduler
        assert sc.config.num_train_timesteps == tj["T"], (cls.__name__, sc.config.num_train_timesteps)
        assert sc.config.prediction_type == pred, (cls.__name__, sc.config.prediction_type)
        err = (sc.betas - want).abs().max().item()
        assert err < 1e-7, f"{cls.__name__}: betas differ from trainer.json's by {err}"
        out = pipe(batch_size=2, num_inference_steps=3, generator=torch.Generator().manual_seed(0), output_type="np")
        img = out.images
        size = pipe.unet.config.sample_size
        assert img.shape[0] == 2 and img.shape[1] == size and img.shape[2] == size, img.shape
        assert (img == img).all(), "NaN in the samples"
        print(f"{cls.__name__}.from_pretrained({ckpt}): {type(sc).__name__}, T={tj['T']}, {pred}, "
              f"betas within {err:.1e} of trainer.json's, sampled {img.shape}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
