#!/usr/bin/env bash
# ctest for the sanitizer build, with one allowance: LeakSanitizer's own stop-the-world tracer
# sometimes segfaults at process exit after a test has passed ("Tracer caught signal 11",
# google/sanitizers#1353, a runtime flake, not a leak). A failed test whose log shows that
# signature is run once more; any other failure fails at once, and so does a second failure.
# usage: tools/ctest_lsan.sh BUILD_DIR [ctest args...]
set -uo pipefail
dir=$1; shift
ctest --test-dir "$dir" --output-on-failure "$@" && exit 0
log="$dir/Testing/Temporary/LastTest.log"
failed="$dir/Testing/Temporary/LastTestsFailed.log"
[ -s "$failed" ] || { echo "ctest_lsan: ctest failed and $failed names no test" >&2; exit 1; }
# the failed tests' names, then the ones whose own log block lacks the tracer signature
names=$(cut -d: -f2- "$failed")
other=""
for n in $names; do
  if ! awk -v n="$n" '/^[0-9]+\/[0-9]+ Testing: /{on=($3==n)} on' "$log" | grep -q "Tracer caught signal"; then
    other="$other $n"
  fi
done
if [ -n "$other" ]; then echo "ctest_lsan: failed:$other" >&2; exit 1; fi
echo "ctest_lsan: LeakSanitizer's tracer crashed at exit in:" $names "- running once more" >&2
ctest --test-dir "$dir" --output-on-failure --rerun-failed
