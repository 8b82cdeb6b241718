#!/usr/bin/env python3
"""Side-by-side speed: cldiff (OpenCL, this machine's device) against PyTorch CPU with 2 threads,
in one run on the same machine. Prints a markdown table with the time ratio cldiff / PyTorch.

  fmnist-s training step (forward, backward, AdamW) at batch 32
  fmnist-s forward at batch 64
  toy MLP training step at batch 1024 (the toy-mlp preset: sinusoidal time embedding of 64,
  Linear+SiLU, concatenated with x, 3 x (Linear 256 + SiLU), Linear to 2)
The PyTorch model is diffusers' UNet2DModel with the same config as cldiff's fmnist-s preset
(parameter counts are compared). Needs torch + diffusers from PyPI and a built ./build/cldiff.
Usage: python3 tools/bench_vs_torch.py [--cldiff build/cldiff] [--reps 5] [--torch-device cpu|cuda]
                                     [--threads 2] [--tune] [--runs N]
--tune first runs the README's tuning commands (what a user runs: the quick search of every GEMM
shape of the three workloads) and prints how long each took; --runs N prints the table N times,
each a fresh measurement of both sides.
With --torch-device cuda the PyTorch side runs on the CUDA GPU (for a GPU whose OpenCL cldiff uses);
timings then synchronise the GPU before reading the clock.
"""
import argparse
import json
import platform
import subprocess
import time

import torch
from diffusers import UNet2DModel

DEV = "cpu"


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()

FMNIST_S = dict(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(64, 128, 128), layers_per_block=2,
                down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), attention_head_dim=64, norm_num_groups=32,
                dropout=0.0)


def median(fn, reps):
    fn()
    fn()
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def torch_train_step(batch, reps):
    model = UNet2DModel(**FMNIST_S).to(DEV)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.0)
    x = torch.randn(batch, 1, 28, 28, device=DEV)
    t = torch.randint(0, 1000, (batch,), device=DEV)
    eps = torch.randn_like(x)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(x, t).sample - eps) ** 2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return median(step, reps), sum(p.numel() for p in model.parameters())


def torch_forward(batch, reps):
    model = UNet2DModel(**FMNIST_S).to(DEV).eval()
    x = torch.randn(batch, 1, 28, 28, device=DEV)
    t = torch.full((batch,), 500, device=DEV)

    def fwd():
        with torch.no_grad():
            model(x, t)

    return median(fwd, reps)


class ToyMLP(torch.nn.Module):
    """cldiff's toy-mlp: the same layers, names and sizes"""

    def __init__(self, dim=2, hidden=256, layers=3, temb=64):
        super().__init__()
        self.temb = temb
        self.time_linear = torch.nn.Linear(temb, temb)
        self.layers = torch.nn.ModuleList(
            [torch.nn.Linear(dim + temb if i == 0 else hidden, hidden) for i in range(layers)])
        self.out = torch.nn.Linear(hidden, dim)

    def forward(self, x, t):
        half = self.temb // 2
        freq = torch.exp(-torch.log(torch.tensor(10000.0)) * torch.arange(half, device=t.device) / half)
        arg = t[:, None].float() * freq[None]
        e = torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)  # flip_sin_to_cos
        h = torch.cat([x, torch.nn.functional.silu(self.time_linear(e))], dim=1)
        for lin in self.layers:
            h = torch.nn.functional.silu(lin(h))
        return self.out(h)


def torch_mlp_step(batch, reps):
    model = ToyMLP().to(DEV)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    x = torch.randn(batch, 2, device=DEV)
    t, eps = torch.randint(0, 1000, (batch,), device=DEV), torch.randn(batch, 2, device=DEV)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(x, t) - eps) ** 2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return median(step, reps), sum(p.numel() for p in model.parameters())


def cldiff(binary, what, batch, reps, model="fmnist-s"):
    out = subprocess.run([binary, "bench", what, "--model", model, "--batch", str(batch), "--reps", str(reps), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cldiff", default="build/cldiff")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--torch-device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads (default 2, this machine's cores)")
    ap.add_argument("--tune", action="store_true", help="run the README's tuning commands first, timed")
    ap.add_argument("--runs", type=int, default=1, help="measure and print the table this many times")
    a = ap.parse_args()
    global DEV
    DEV = a.torch_device
    torch.set_num_threads(a.threads)
    if a.tune:
        tune(a.cldiff)
    for r in range(a.runs):
        if a.runs > 1:
            print(f"\nrun {r + 1} of {a.runs}, {time.strftime('%H:%M:%S')}")
        table(a)


TUNES = (["--model", "fmnist-s", "--batch", "32"], ["--model", "fmnist-s", "--batch", "64", "--forward"],
         ["--model", "toy-mlp", "--batch", "1024"])


def tune(binary):
    """the README's tuning commands, timed"""
    for args in TUNES:
        t = time.perf_counter()
        subprocess.run([binary, "tune", *args, "--no-clblast"], check=True, capture_output=True)
        print(f"cldiff tune {' '.join(args)} --no-clblast: {time.perf_counter() - t:.0f} s", flush=True)


def table(a):
    rows = []
    tt, nparams = torch_train_step(32, a.reps)
    ct = cldiff(a.cldiff, "train", 32, a.reps)
    if ct["params"] != nparams:
        raise SystemExit(f"parameter counts differ: cldiff {ct['params']} vs torch {nparams}")
    rows.append(("fmnist-s training step, batch 32", ct["seconds"], tt))
    tf = torch_forward(64, a.reps)
    cf = cldiff(a.cldiff, "forward", 64, a.reps)
    rows.append(("fmnist-s forward, batch 64", cf["seconds"], tf))
    # a toy step takes about 10 ms: 12x the repetitions (60, near `cldiff bench`'s cap of 64), so
    # that the medians ride out this machine's noise (with 4x the ratio ranged 0.56-1.32)
    tm, mparams = torch_mlp_step(1024, min(12 * a.reps, 64))
    cm = cldiff(a.cldiff, "train", 1024, min(12 * a.reps, 64), "toy-mlp")
    if cm["params"] != mparams:
        raise SystemExit(f"toy-mlp parameter counts differ: cldiff {cm['params']} vs torch {mparams}")
    rows.append((f"toy MLP training step, batch 1024 ({mparams} params)", cm["seconds"], tm))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    where = torch.cuda.get_device_name() if DEV == "cuda" else f"CPU ({cpu}), {torch.get_num_threads()} threads"
    print(f"fmnist-s: {nparams} parameters in both; PyTorch {torch.__version__} {where}\n")
    print("| workload | cldiff (s) | PyTorch (s) | cldiff / PyTorch |")
    print("|---|---|---|---|")
    for name, c, t in rows:
        print(f"| {name} | {c:.3f} | {t:.3f} | {c / t:.2f} |")


if __name__ == "__main__":
    main()
