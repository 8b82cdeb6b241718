#!/usr/bin/env bash
# The main job (README): installs dependencies, builds, lists the OpenCL devices, tunes the demo
# model's GEMM shapes once (time-boxed, cached), samples Fashion-MNIST garments from the shipped
# fmnist-xs model (tools/demo/fmnist-xs, trained by cldiff), then trains a new fmnist-xs for a few
# minutes with a progress bar and samples that one too.
#   out/demo/shipped.png   64 samples of the shipped model (EMA weights, DDPM 50 steps: the sampler it suits)
#   out/demo/samples.png   64 samples of the model trained here
# STEPS (default 120; rerunning resumes, so STEPS=3000 continues the same run), OUT (default
# out/demo) and TUNE_SECONDS (default 20) can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
"$(dirname "$0")/deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target cldiff_cli >/dev/null # the tool only: the tests build with tools/test.sh
echo "built in $(( $(date +%s) - t0 )) s"
./build/cldiff devices
cache=${CLDIFF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cldiff}
ls "$cache"/gemm-tune-*.json >/dev/null 2>&1 ||
  ./build/cldiff tune --model fmnist-xs --batch 32 --no-clblast --max-seconds "${TUNE_SECONDS:-20}"
out=${OUT:-out/demo}
steps=${STEPS:-120}
mkdir -p "$out"
echo "== sampling the shipped model (tools/demo/fmnist-xs) =="
./build/cldiff sample --ckpt tools/demo/fmnist-xs --sampler ddpm --steps 50 --n 64 --batch 32 --seed 0 \
  --out "$out/shipped.png"
echo "== training a new fmnist-xs for $steps steps =="
resume=""
ls -d "$out"/run/ckpt-* >/dev/null 2>&1 && resume="--resume"
./build/cldiff train --data fmnist --model fmnist-xs --out "$out/run" --steps "$steps" --batch 32 --lr 1e-3 \
  --warmup 50 --save-every 50 --log-every 10 $resume
./build/cldiff sample --ckpt "$out/run" --ema --sampler ddim --steps 25 --n 64 --batch 32 --clip --seed 0 \
  --out "$out/samples.png"
./build/cldiff info "$out/run"
echo "shipped model's samples: $out/shipped.png; this run's: $out/samples.png ($(( $(date +%s) - t0 )) s in all)"
