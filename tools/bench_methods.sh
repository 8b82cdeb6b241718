#!/usr/bin/env bash
# Cost of each method: the median training-step time (steps 3..N of `cldiff train`, from its
# log.jsonl) of the baseline and of each method alone, and Time-Shift's sampling overhead (DDIM,
# the same images with and without --ts-window). Prints a markdown table.
#   tools/bench_methods.sh [MODEL] [DATA] [BATCH] [STEPS]   (default fmnist-xs fmnist 32 12)
set -euo pipefail
cd "$(dirname "$0")/.."
B=./build/cldiff
model=${1:-fmnist-xs}; data=${2:-fmnist}; batch=${3:-32}; steps=${4:-12}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
median_step() { # log.jsonl -> median seconds of steps >= 3
  python3 - "$1" <<'PY'
import json, sys, statistics
s = [json.loads(l)["seconds"] for l in open(sys.argv[1]) if json.loads(l)["step"] >= 3]
print(f"{statistics.median(s):.4f}")
PY
}
declare -a names=("baseline" "IP (--ip-gamma 0.1)" "debias (--weighting debias)" "STF (--stf-ref 128)"
                  "EP K=1 (--ep-lambda 1 --ep-k 1)" "EP K=3" "EP K=5 (default)")
declare -a flags=("" "--ip-gamma 0.1" "--weighting debias" "--stf-ref 128"
                  "--ep-lambda 1 --ep-k 1" "--ep-lambda 1 --ep-k 3" "--ep-lambda 1 --ep-k 5")
echo "| training ($model, batch $batch) | s/step | x baseline |"
echo "|---|---|---|"
base=""
for i in "${!names[@]}"; do
  # shellcheck disable=SC2086
  $B train --data "$data" --model "$model" --out "$out/r$i" --steps "$steps" --batch "$batch" --save-every 100000 --log-every 100000 ${flags[$i]} >/dev/null 2>&1
  m=$(median_step "$out/r$i/log.jsonl")
  [ -z "$base" ] && base=$m
  echo "| ${names[$i]} | $m | $(python3 -c "print(f'{$m/$base:.2f}')") |"
done
# Time-Shift: sampling time of the same 64 images, 50 DDIM steps, best of 3
ts() { local best=1e9; for _ in 1 2 3; do
  t=$($B sample --ckpt "$out/r0" --steps 50 --n 64 --batch 64 --out "$out/s.png" "$@" 2>&1 | sed -n 's/.* in \([0-9.]*\) s .*/\1/p')
  best=$(python3 -c "print(min($best, $t))"); done; echo "$best"; }
t0=$(ts); t1=$(ts --ts-window 20 --ts-cutoff 200)
echo
echo "| sampling (DDIM 50 steps, 64 images) | s | overhead |"
echo "|---|---|---|"
echo "| baseline | $t0 | |"
echo "| Time-Shift (--ts-window 20 --ts-cutoff 200) | $t1 | $(python3 -c "print(f'{100*($t1-$t0)/$t0:+.1f}%')") |"
