#!/usr/bin/env python3
"""Peak memory of the fmnist-s training step (forward, backward, AdamW) at batch 32 and 128:
cldiff's activation arena and process peak RSS (on a CPU OpenCL device the device's buffers are
host memory, so RSS is the whole footprint) next to PyTorch's peak RSS for the same step (diffusers'
UNet2DModel with the fmnist-s config, AdamW), each in its own process, and PyTorch's RSS after
import and model creation alone. Prints a markdown table.

  python3 tools/bench_memory.py [--cldiff build/cldiff] [--batches 32,128] [--threads 2]
"""
import argparse
import json
import subprocess
import sys

TORCH_STEP = r"""
import resource, sys, torch
from diffusers import UNet2DModel
torch.set_num_threads(int(sys.argv[2]))
cfg = dict(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(64, 128, 128), layers_per_block=2,
           down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
           up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), attention_head_dim=64, norm_num_groups=32)
model = UNet2DModel(**cfg)
opt = torch.optim.AdamW(model.parameters(), lr=2e-4)
b = int(sys.argv[1])
x, eps = torch.randn(b, 1, 28, 28), torch.randn(b, 1, 28, 28)
t = torch.randint(0, 1000, (b,))
if b == 0:  # the libraries alone (torch's CUDA build maps its CUDA libraries even on the CPU)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    sys.exit(0)
for _ in range(3):
    opt.zero_grad(set_to_none=True)
    loss = torch.mean((model(x, t).sample - eps) ** 2)
    loss.backward()
    opt.step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def mib(b):
    return f"{b / 1048576:.0f} MiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cldiff", default="build/cldiff")
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    def torch_rss(b):
        return int(subprocess.run([sys.executable, "-c", TORCH_STEP, str(b), str(a.threads)], check=True,
                                  capture_output=True, text=True).stdout.strip().splitlines()[-1])
    base = torch_rss(0)
    import torch
    print(f"PyTorch {torch.__version__}: import torch + diffusers and the model alone take {mib(base)} of RSS")
    print("| fmnist-s training step | cldiff arena | cldiff peak RSS | PyTorch peak RSS | RSS ratio | PyTorch peak RSS less the import |")
    print("|---|---|---|---|---|---|")
    for b in [int(x) for x in a.batches.split(",")]:
        out = subprocess.run([a.cldiff, "bench", "train", "--model", "fmnist-s", "--batch", str(b), "--reps", "2", "--json"],
                             check=True, capture_output=True, text=True).stdout
        c = json.loads(out.strip().splitlines()[-1])
        t = torch_rss(b)
        print(f"| batch {b} | {mib(c['arena_bytes'])} | {mib(c['peak_rss_bytes'])} | {mib(t)} | "
              f"{c['peak_rss_bytes'] / t:.2f} | {mib(t - base)} |", flush=True)


if __name__ == "__main__":
    main()
