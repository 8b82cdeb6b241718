#!/usr/bin/env python3
"""The lr 1e-3 baseline's FID against training steps, one CSV per sampler, and their chart.

Steps 1000-3000 of a sampler come from the tuned protocol's seed-0 baseline where the sweep has no
row (the same seed and recipe: at 3000 steps both score DDIM 10 45.09), steps after 3000 from
baseline_sweep.sh's rows of the run continued to 6000 steps (constant lr, so resuming with a longer
--steps changes nothing before 3000).

usage: baseline_curve.py BASELINE_DIR PROTOCOL_METRICS_DIR CLDIFF
  e.g. baseline_curve.py docs/results/baseline docs/results_tuned/metrics build/cldiff
"""
import json, os, subprocess, sys

RUN = "lr1e-3-b32"
SAMPLERS = [("ddim10", "DDIM 10"), ("ddim50", "DDIM 50"), ("ddim50-clip", "DDIM 50, x0 clipped"),
            ("fpndm10", "F-PNDM 10"), ("ddpm50", "DDPM 50")]


def fid(path):
    return json.load(open(path))["fid"] if os.path.exists(path) else None


def point(base, proto, step, s):
    swept = fid(os.path.join(base, f"{RUN}-{step}-{s}.json"))
    if swept is not None:
        return swept
    at = "" if step == 3000 else f"@{step}"
    return fid(os.path.join(proto, f"fm.baseline.s0.{s}{at}.json"))


def main():
    base, proto, cldiff = sys.argv[1:4]
    args = []
    for s, label in SAMPLERS:
        rows = [(st, point(base, proto, st, s)) for st in range(1000, 7000, 1000)]
        rows = [(st, f) for st, f in rows if f is not None]
        if len(rows) < 2:
            continue
        path = os.path.join(base, f"curve6000_{s}.csv")
        with open(path, "w") as o:
            o.write("step,fid\n")
            o.writelines(f"{st},{f:.3f}\n" for st, f in rows)
        args += ["--csv", path, "--label", label]
    subprocess.run([cldiff, "plot", "--out", os.path.join(base, "fid_lr1e-3_6000.png"), *args,
                    "--x", "step", "--y", "fid", "--logy", "--xlabel", "training step", "--ylabel", "FID (log)",
                    "--title", "fmnist-xs baseline, lr 1e-3, batch 32, seed 0: FID (1000 samples) against steps"],
                   check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
