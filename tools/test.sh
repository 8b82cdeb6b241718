#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds with -Werror, runs ctest,
# then builds and runs the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/deps.sh"
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCLDIFF_WERROR=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
# the layout: no call cycle between folders or files (but the dataset readers' registry)
if command -v python3 >/dev/null; then python3 tools/deps_graph.py build; else echo "python3 missing: layout check skipped"; fi
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCLDIFF_WERROR=ON -DCLDIFF_SANITIZE=ON
cmake --build build-asan -j"$jobs"
# LeakSanitizer on: the suite is leak-free, the OpenCL driver included (no suppressions needed on PoCL 3.1);
# a test whose only failure is LSan's tracer crashing at exit is run once more (tools/ctest_lsan.sh)
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tools/ctest_lsan.sh build-asan -j"$jobs"
# every parser under libFuzzer for a short fixed time, on its seed and regression corpora
tools/fuzz.sh 30
echo "all tests passed (Release, ASan+UBSan+LSan, fuzzing)"
