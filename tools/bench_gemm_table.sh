#!/usr/bin/env bash
# Produces the README's GEMM before/after table on this machine: untuned CLBlast and tiled
# (fresh cache), then `cldiff tune` (both providers), then the tuned choice; plus the device
# FMA peak and OpenBLAS through numpy at the same shapes. Usage: tools/bench_gemm_table.sh [build]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/cldiff
tmp=$(mktemp -d)
export CLDIFF_CACHE_DIR=$tmp
# Each column: best repetition of 7, the better estimate on a machine shared with other load.
$bin bench gemm --json --reps 7 --gemm clblast > "$tmp/clblast_default.jsonl"
$bin bench gemm --json --reps 7 --gemm tiled > "$tmp/tiled_default.jsonl"
$bin tune > "$tmp/tune.log"
$bin bench gemm --json --reps 7 --gemm clblast > "$tmp/clblast_tuned.jsonl"
$bin bench gemm --json --reps 7 > "$tmp/auto_tuned.jsonl"
for i in 1 2 3 4 5; do $bin bench peak --json; done > "$tmp/peak.jsonl"
python3 tools/bench_reference.py > "$tmp/openblas.jsonl" 2>/dev/null || echo '{}' > "$tmp/openblas.jsonl"
python3 - "$tmp" <<'PY'
import json, sys, os
d = sys.argv[1]
def load(name):
    rows = [json.loads(l) for l in open(os.path.join(d, name)) if l.strip().startswith('{"m"')]
    return {(r["m"], r["n"], r["k"], r["batch"], r["trans_a"], r["trans_b"]): r for r in rows}
cols = ["clblast_default", "tiled_default", "clblast_tuned", "auto_tuned", "openblas"]
tabs = {c: load(c + ".jsonl") for c in cols}
peaks = [json.loads(l)["fma_peak_gflops"] for l in open(os.path.join(d, "peak.jsonl"))]
print(f"device FMA peak (`cldiff bench peak`, 5 runs): {' '.join(f'{p:.0f}' for p in peaks)} GFLOP/s\n")
print("| m | n | k | batch | op | CLBlast default | tiled default | CLBlast tuned | after `cldiff tune` (auto) | OpenBLAS (numpy) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for key in tabs["auto_tuned"]:
    m, n, k, b, ta, tb = key
    cells = []
    for c in cols:
        r = tabs[c].get(key)
        g = r.get("gflops_best", r.get("gflops")) if r else None
        cells.append(f'{g:.0f}' + (f' ({r["provider"]})' if c == "auto_tuned" else "") if r else "-")
    print(f"| {m} | {n} | {k} | {b} | {'T' if ta else 'N'}{'T' if tb else 'N'} | " + " | ".join(cells) + " |")
PY
rm -rf "$tmp"
