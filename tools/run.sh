#!/usr/bin/env bash
# The main job (README): installs dependencies, builds, lists the OpenCL devices, tunes GEMM for
# this device (once; the result is cached), and runs the op and GEMM benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
./build/cldiff devices
tunefile=$(ls "${CLDIFF_CACHE_DIR:-$HOME/.cache/cldiff}"/gemm-tune-*.json 2>/dev/null | head -1 || true)
[ -n "$tunefile" ] || ./build/cldiff tune
./build/cldiff bench ops
./build/cldiff bench gemm
