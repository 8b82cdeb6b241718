#!/usr/bin/env bash
# The main job (README): installs dependencies, builds, lists the OpenCL devices, tunes GEMM for
# this device once (cached), trains the small fmnist-xs UNet on Fashion-MNIST for a few minutes
# with a progress bar, and samples a grid: out/demo/samples.png.
# STEPS (default 200, ~3 min on a 2-core CPU) and OUT (default out/demo) can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
./build/cldiff devices
cache=${CLDIFF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cldiff}
ls "$cache"/gemm-tune-*.json >/dev/null 2>&1 || ./build/cldiff tune --no-clblast
out=${OUT:-out/demo}
steps=${STEPS:-200}
resume=""
ls -d "$out"/ckpt-* >/dev/null 2>&1 && resume="--resume"
./build/cldiff train --data fmnist --model fmnist-xs --out "$out" --steps "$steps" --batch 32 --lr 1e-3 \
  --warmup 50 --save-every 100 $resume
./build/cldiff sample --ckpt "$out" --ema --sampler ddim --steps 50 --n 64 --batch 32 --clip --out "$out/samples.png" \
  --npy "$out/samples.npy"
./build/cldiff info "$out"
echo "samples: $out/samples.png"
