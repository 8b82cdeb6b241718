#!/usr/bin/env python3
"""Golden files for cldiff's UNet parity tests, made with torch + diffusers (PyPI).

Writes under tests/golden/:
  unet_tiny/, unet_ddpmopts/   diffusers save_pretrained() of small random UNet2DModels
                               (config.json + diffusion_pytorch_model.safetensors) and io.safetensors:
                               inputs x, t, target, the output, the MSE loss and every parameter's
                               gradient (names "grad.<param>").
  unet_class_table/, unet_class_timestep/, unet_class_identity/
                               class-conditional UNet2DModels (num_class_embeds; class_embed_type
                               "timestep"; "identity"), the same files plus "class_labels" (the
                               labels as floats) or "class_vectors" (identity's (N, 4 c0) input).
  unet_cifar10/                the google/ddpm-cifar10-32 config (35.7M parameters) with weights from
                               a formula the C test reproduces (no 143 MB file in the repository),
                               config.json + io.safetensors with x, t and the output.
  cldiff_written/io.safetensors  diffusers' output on the checkpoint cldiff wrote into
                               tests/golden/cldiff_written/ (run test_unet with CLDIFF_WRITE_GOLDEN set
                               first; see the README).
Run: python3 tools/golden/make_unet_golden.py [CASE...]   (the C suite never needs Python; with
names, only those cases are written: unet_tiny unet_ddpmopts unet_class unet_cifar10 cldiff_written)
"""
import json
import math
import os
import sys

import numpy as np
import torch
from diffusers import UNet2DModel
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden")
torch.manual_seed(0)


def perturb(model, scale=0.1):
    # random init leaves norms at 1/0; move everything so that every parameter matters
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))


def save_io(path, tensors):
    save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, path)


def grads_case(name, model, x, t, class_labels=None, class_key="class_labels"):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    target = torch.randn_like(x)
    out = model(x, t, class_labels=class_labels).sample
    loss = torch.mean((out - target) ** 2)
    loss.backward()
    io = {"x": x, "t": t.float(), "target": target, "out": out, "loss": loss.reshape(1)}
    if class_labels is not None:
        io[class_key] = class_labels.float()
    for n, p in model.named_parameters():
        io["grad." + n] = p.grad
    save_io(os.path.join(d, "io.safetensors"), io)
    print(name, "params", sum(p.numel() for p in model.parameters()), "out std", float(out.std()))


def formula_weights(model):
    """value[i] of the k-th parameter in sorted-name order: 0.05*sin(0.37*i + 1.3*k) (float64 -> float32)"""
    sd = model.state_dict()
    with torch.no_grad():
        for k, n in enumerate(sorted(sd.keys())):
            i = np.arange(sd[n].numel(), dtype=np.float64)
            v = (0.05 * np.sin(0.37 * i + 1.3 * k)).astype(np.float32).reshape(tuple(sd[n].shape))
            sd[n].copy_(torch.from_numpy(v))


def class_cases():
    """the three kinds of class conditioning UNet2DModel has, each on the tiny architecture"""
    arch = dict(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(8, 16), layers_per_block=1,
                down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                attention_head_dim=4, norm_num_groups=4)
    torch.manual_seed(10)
    m = UNet2DModel(num_class_embeds=5, **arch)
    perturb(m)
    # three samples, two of one class (the table's gradient sums over them), one row never used
    grads_case("unet_class_table", m, torch.randn(3, 3, 8, 8), torch.tensor([10.0, 500.0, 999.0]), torch.tensor([3, 0, 3]))
    torch.manual_seed(11)
    m = UNet2DModel(class_embed_type="timestep", **arch)
    perturb(m)
    grads_case("unet_class_timestep", m, torch.randn(2, 3, 8, 8), torch.tensor([10.0, 500.0]), torch.tensor([7, 2]))
    torch.manual_seed(12)
    m = UNet2DModel(class_embed_type="identity", **arch)
    perturb(m)
    grads_case("unet_class_identity", m, torch.randn(2, 3, 8, 8), torch.tensor([10.0, 500.0]), torch.randn(2, 32),
               "class_vectors")


def main():
    only = set(sys.argv[1:])
    if only:
        unknown = only - {"unet_tiny", "unet_ddpmopts", "unet_class", "unet_cifar10", "cldiff_written"}
        if unknown:
            sys.exit("unknown case(s): " + " ".join(sorted(unknown)))
        if "unet_class" in only:
            class_cases()
        if only - {"unet_class"}:
            sys.exit("only unet_class can be made alone (the others share one random stream; run without names)")
        return
    tiny = UNet2DModel(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(8, 16), layers_per_block=1,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                       attention_head_dim=4, norm_num_groups=4)
    perturb(tiny)
    grads_case("unet_tiny", tiny, torch.randn(2, 3, 8, 8), torch.tensor([10.0, 500.0]))

    ddpm_opts = UNet2DModel(sample_size=8, in_channels=2, out_channels=2, block_out_channels=(8, 16, 16), layers_per_block=1,
                            down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                            up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), attention_head_dim=None,
                            norm_num_groups=4, norm_eps=1e-6, downsample_padding=0, flip_sin_to_cos=False, freq_shift=1,
                            resnet_time_scale_shift="scale_shift", center_input_sample=True, mid_block_scale_factor=1.5)
    perturb(ddpm_opts)
    grads_case("unet_ddpmopts", ddpm_opts, torch.rand(2, 2, 8, 8), torch.tensor([999.0, 3.0]))
    rng = torch.get_rng_state()
    class_cases()  # seeded on their own; the stream of the cases after them is restored
    torch.set_rng_state(rng)

    cifar = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(128, 256, 256, 256),
                        layers_per_block=2, down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
                        up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), attention_head_dim=None,
                        norm_num_groups=32, norm_eps=1e-6, downsample_padding=0, flip_sin_to_cos=False, freq_shift=1)
    formula_weights(cifar)
    d = os.path.join(OUT, "unet_cifar10")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dict(cifar.config), f, indent=2, default=list)
    i = np.arange(3 * 32 * 32, dtype=np.float64)
    x = torch.from_numpy(np.sin(0.01 * i).astype(np.float32).reshape(1, 3, 32, 32))
    t = torch.tensor([500.0])
    with torch.no_grad():
        out = cifar(x, t).sample
    save_io(os.path.join(d, "io.safetensors"), {"x": x, "t": t, "out": out})
    print("unet_cifar10 params", sum(p.numel() for p in cifar.parameters()), "out std", float(out.std()))

    cw = os.path.join(OUT, "cldiff_written")
    if os.path.exists(os.path.join(cw, "config.json")):
        model = UNet2DModel.from_pretrained(cw)
        x = torch.from_numpy(np.cos(0.05 * np.arange(2 * 1 * 8 * 8)).astype(np.float32).reshape(2, 1, 8, 8))
        t = torch.tensor([7.0, 700.0])
        with torch.no_grad():
            out = model(x, t).sample
        save_io(os.path.join(cw, "io.safetensors"), {"x": x, "t": t, "out": out})
        print("cldiff_written: diffusers loaded cldiff's checkpoint; out std", float(out.std()))
    else:
        print("cldiff_written: no checkpoint yet (run test_unet with CLDIFF_WRITE_GOLDEN)", file=sys.stderr)


if __name__ == "__main__":
    main()
