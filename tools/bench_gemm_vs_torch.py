#!/usr/bin/env python3
"""GEMM at every shape of a model's training step: cldiff's chosen provider (`cldiff bench gemm
--model P --batch B`, after whatever tuning the cache holds) against torch.matmul (MKL on x86
CPUs: the host's best BLAS here) at the same shapes, in one run on the same machine. A grouped
(Winograd) shape - G groups of P entries sharing one A - is for PyTorch what it is mathematically,
G products (M, K) x (K, P N), the form a BLAS user would call (a broadcast matmul over the P
entries runs 4-5x slower); cldiff's interleaved layout is its own. Both sides report the fastest of --reps repetitions.
Prints a markdown table per model and how many shapes reach 0.9x the BLAS, weighted by time.

  python3 tools/bench_gemm_vs_torch.py [--cldiff build/cldiff] [--models fmnist-s:32,cifar10-ddpm:32]
                                      [--reps 7] [--threads 2]
"""
import argparse
import json
import subprocess
import time

import torch


def torch_best(s, reps):
    m, n, k, b, ab = s["m"], s["n"], s["k"], s["batch"], s["a_batch"]
    ta, tb = s["trans_a"], s["trans_b"]
    if ab > 0:  # b = G * P entries, A shared by the P of a group: G products with n = P N
        g, p = ab, b // ab
        a = torch.randn(g, k, m) if ta else torch.randn(g, m, k)
        x = torch.randn(g, p * n, k) if tb else torch.randn(g, k, p * n)
    else:
        a = torch.randn(b, k, m) if ta else torch.randn(b, m, k)
        x = torch.randn(b, n, k) if tb else torch.randn(b, k, n)
    a = a.transpose(-1, -2) if ta else a
    x = x.transpose(-1, -2) if tb else x
    if b == 1 and ab == 0:
        a, x = a[0], x[0]
    torch.matmul(a, x)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.matmul(a, x)
        best = min(best, time.perf_counter() - t)
    return 2.0 * m * n * k * b / best * 1e-9, best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cldiff", default="build/cldiff")
    ap.add_argument("--models", default="fmnist-s:32,cifar10-ddpm:32")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d %H:%M')}")
    for spec in a.models.split(","):
        model, batch = spec.split(":")
        out = subprocess.run([a.cldiff, "bench", "gemm", "--model", model, "--batch", batch, "--reps", str(a.reps), "--json"],
                             check=True, capture_output=True, text=True).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        print(f"\n{model} training step at batch {batch}: {len(rows)} GEMM shapes\n")
        print("| m | n | k | batch | a_batch | op | cldiff provider | cldiff GFLOP/s | torch GFLOP/s | ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        met = 0
        t_c = t_t = 0.0
        for s in rows:
            tg, tsec = torch_best(s, a.reps)
            cg = s["gflops_best"]
            r = cg / tg
            met += r >= 0.9
            t_c += 2.0 * s["m"] * s["n"] * s["k"] * s["batch"] / (cg * 1e9)
            t_t += tsec
            op = ("T" if s["trans_a"] else "N") + ("T" if s["trans_b"] else "N")
            print(f"| {s['m']} | {s['n']} | {s['k']} | {s['batch']} | {s['a_batch']} | {op} | {s['provider']} | "
                  f"{cg:.1f} | {tg:.1f} | {r:.2f} |", flush=True)
        print(f"\n{model}: {met} of {len(rows)} shapes at >= 0.9x torch.matmul; summed over the shapes (one call each) "
              f"cldiff {t_c * 1e3:.1f} ms, torch {t_t * 1e3:.1f} ms ({t_c / t_t:.2f}x)")


if __name__ == "__main__":
    main()
