#!/usr/bin/env bash
# The GPU figures of docs/PERFORMANCE.md ("On an NVIDIA GPU") in one run, on a machine that has an
# OpenCL driver and PyTorch but no package access (the lent GPU machines).
#
#   here:  cmake --build build && tools/bundle.sh .gpu --tests
#          python3 -m pip download --no-deps diffusers==V -d .gpu/whl   (when the target lacks it)
#          tar -cJf .gpu.tar.xz .gpu/lib .gpu/whl .gpu/cldiff.sh build   (the lent machines take 64 MiB)
#   there: tar -xJf .gpu.tar.xz && mkdir -p .gpu/bin && cp build/cldiff build/tests/test_* .gpu/bin/ &&
#          tools/device_check.sh .gpu OUTDIR
# (.gpu/fashion-mnist, when carried, is installed where the tests look for the dataset; CTEST_JOBS
# [3] sets ctest's parallelism)
#
# OUTDIR gets log.txt: the driver, `cldiff devices`, the ctest suite (ctest's files name this
# checkout's absolute path, so that path is made to point at the copy), three runs of
# tools/bench_vs_torch.py --torch-device cuda, the GEMM table of fmnist-s's training shapes, and
# CLDIFF_PROFILE's breakdown of the training step and of the batch-64 forward.
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=$(cd "${1:?usage: tools/device_check.sh BUNDLE OUTDIR}" && pwd) out=${2:?usage: tools/device_check.sh BUNDLE OUTDIR}
mkdir -p "$out"
exec > >(tee "$out/log.txt") 2>&1
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' build/CMakeCache.txt)
if [ -n "$src" ] && [ ! -e "$src" ]; then mkdir -p "$(dirname "$src")" && ln -s "$PWD" "$src"; fi
if compgen -G "$bundle/whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$bundle"/whl/*.whl &&
    export PYTHONPATH=/tmp/site
fi
# the tests that train on or score Fashion-MNIST read the Debian package's path: a bundle may carry
# the four files (30 MB; the lent machines' 64 MiB transfer rarely leaves room for them)
fm=/usr/share/datasets/fashion-mnist
if [ -d "$bundle/fashion-mnist" ] && [ ! -e "$fm" ]; then mkdir -p "$(dirname "$fm")" && cp -r "$bundle/fashion-mnist" "$fm"; fi
c="$bundle/cldiff.sh"
step() { echo; echo "== $* ($(date -u +%T))"; }
step driver
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python3 -c 'import torch, diffusers; print("torch", torch.__version__, "diffusers", diffusers.__version__)'
step devices
"$c" devices
step ctest
if command -v ctest >/dev/null; then
  # at -j 8 on the H200 (2026-12-04) context creation failed (CL_OUT_OF_HOST_MEMORY) once the fault
  # suites' many short processes and the MPI tests overlapped; the same tests passed one at a time
  # (through the wrapper: the bundled libraries and NVIDIA's ICD for the test binaries too)
  "$c" --exec ctest --test-dir build --output-on-failure -j "${CTEST_JOBS:-3}" --timeout 240 -E test_install
else # no ctest there: the C suites alone
  for t in build/tests/test_*; do [ -x "$t" ] && { "$c" --bin "${t##*/}" >"$out/${t##*/}.txt" 2>&1; echo "${t##*/}: exit $?"; }; done
fi
for run in 1 2 3; do
  step "bench_vs_torch run $run"
  python3 tools/bench_vs_torch.py --cldiff "$c" --torch-device cuda --reps 7
done
step "gemm, fmnist-s training shapes"
"$c" bench gemm --model fmnist-s --batch 32 --reps 7
step "profile: training step, batch 32"
CLDIFF_PROFILE=1 "$c" bench train --model fmnist-s --batch 32 --reps 5
step "profile: forward, batch 64"
CLDIFF_PROFILE=1 "$c" bench forward --model fmnist-s --batch 64 --reps 5
step done
