#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang, ASan + UBSan + LSan) and runs each for
# SECONDS (default 30) on its seed corpus (tests/fuzz/corpus/NAME: real files) and regression
# corpus (tests/fuzz/regress/NAME: every input that ever failed, kept forever). New inputs go to
# a scratch corpus under the build directory, never into the tree. LeakSanitizer is on; the only
# suppressions are the OpenCL driver's own (tests/lsan.supp, each explained). A crash leaves
# the input in build-fuzz/findings/NAME and the script fails; copy it into tests/fuzz/regress/NAME
# with the fix.
#   tools/fuzz.sh [SECONDS] [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLDIFF_FUZZ=ON -DCLDIFF_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(safetensors config npy idx png jpeg tuning cli_opts resume cache cifar)
export CLDIFF_CACHE_DIR=${CLDIFF_CACHE_DIR:-$PWD/build-fuzz/cache}
status=0
for n in "${names[@]}"; do
  work=build-fuzz/corpus/$n findings=build-fuzz/findings/$n
  mkdir -p "$work" "$findings" "tests/fuzz/regress/$n"
  # fuzz_cache and fuzz_resume make PoCL compile (resume trains a step on an empty kernel cache):
  # full stacks, so the driver's own leaks match tests/lsan.supp
  asan=detect_leaks=1
  [ "$n" != cache ] && [ "$n" != resume ] || asan=$asan:fast_unwind_on_malloc=0
  if ASAN_OPTIONS=$asan LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp "build-fuzz/fuzz_$n" -max_total_time="$secs" -rss_limit_mb=4096 -max_len=65536 \
      -artifact_prefix="$findings/" -print_final_stats=1 "$work" "tests/fuzz/corpus/$n" "tests/fuzz/regress/$n" \
      >"build-fuzz/fuzz_$n.log" 2>&1; then
    echo "fuzz_$n: $(grep -E '^stat::number_of_executed_units' "build-fuzz/fuzz_$n.log" | awk '{print $2}') executions in ${secs}s," \
         "$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "build-fuzz/fuzz_$n.log" | tail -1), nothing found"
  else
    echo "fuzz_$n: FAILED, see build-fuzz/fuzz_$n.log and $findings"; grep -E "ERROR|SUMMARY" "build-fuzz/fuzz_$n.log" | head -5
    status=1
  fi
done
exit $status
