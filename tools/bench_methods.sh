#!/usr/bin/env bash
# Cost of each method: the training-step time (mean of steps 3..N of `cldiff train`, from its
# log.jsonl: EP's steps differ with the chain length each draws, which the table shows as the
# mean `ep_chain_steps` of those steps) of the baseline and of each method alone, and Time-Shift's sampling overhead (DDIM,
# the same images with and without --ts-window). The configurations run interleaved, ROUNDS times
# (default 3), and each figure is the median over the rounds, so a burst of load on a shared
# machine moves one round, not one row. Prints markdown tables.
#   tools/bench_methods.sh [MODEL] [DATA] [BATCH] [STEPS]   (default fmnist-xs fmnist 32 12)
set -euo pipefail
cd "$(dirname "$0")/.."
B=./build/cldiff
model=${1:-fmnist-xs}; data=${2:-fmnist}; batch=${3:-32}; steps=${4:-12}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mean_step() { # log.jsonl -> "mean seconds of steps >= 3" "their mean EP chain steps (or -)"
  python3 - "$1" <<'PY'
import json, sys, statistics
r = [json.loads(l) for l in open(sys.argv[1])]
r = [x for x in r if x["step"] >= 3]
e = [x["ep_chain_steps"] for x in r if "ep_chain_steps" in x]
print(f"{statistics.mean(x['seconds'] for x in r):.4f} {statistics.mean(e):.2f}" if e else
      f"{statistics.mean(x['seconds'] for x in r):.4f} -")
PY
}
declare -a names=("baseline" "IP (--ip-gamma 0.1)" "debias (--weighting debias)" "STF (--stf-ref 128)"
                  "EP K=1 (--ep-lambda 1 --ep-k 1)" "EP K=3" "EP K=5 (default)")
declare -a flags=("" "--ip-gamma 0.1" "--weighting debias" "--stf-ref 128"
                  "--ep-lambda 1 --ep-k 1" "--ep-lambda 1 --ep-k 3" "--ep-lambda 1 --ep-k 5")
rounds=${ROUNDS:-3}
declare -A t e
for _ in $(seq "$rounds"); do
  for i in "${!names[@]}"; do
    rm -rf "$out/r$i"
    # shellcheck disable=SC2086
    $B train --data "$data" --model "$model" --out "$out/r$i" --steps "$steps" --batch "$batch" --save-every 100000 --log-every 100000 ${flags[$i]} >/dev/null 2>&1
    read -r secs len < <(mean_step "$out/r$i/log.jsonl")
    t[$i]="${t[$i]:-} $secs"
    e[$i]=$len # the same draws every round (same seed)
  done
done
med() { python3 -c "import statistics, sys; print(f'{statistics.median(map(float, sys.argv[1:])):.4f}')" "$@"; }
echo "| training ($model, batch $batch; median of $rounds interleaved rounds) | s/step | x baseline | EP chain steps | rounds |"
echo "|---|---|---|---|---|"
# shellcheck disable=SC2086
base=$(med ${t[0]})
for i in "${!names[@]}"; do
  # shellcheck disable=SC2086
  m=$(med ${t[$i]})
  echo "| ${names[$i]} | $m | $(python3 -c "print(f'{$m/$base:.2f}')") | ${e[$i]} |${t[$i]} |"
done
# Time-Shift: sampling time of the same 64 images, 50 DDIM steps; without and with, alternated
stime() { $B sample --ckpt "$out/r0" --steps 50 --n 64 --batch 64 --out "$out/s.png" "$@" 2>&1 | sed -n 's/.* in \([0-9.]*\) s .*/\1/p'; }
a="" b=""
for _ in $(seq "$rounds"); do a="$a $(stime)"; b="$b $(stime --ts-window 20 --ts-cutoff 200)"; done
# shellcheck disable=SC2086
t0=$(med $a) t1=$(med $b)
echo
echo "| sampling (DDIM 50 steps, 64 images; median of $rounds alternated pairs) | s | overhead | rounds |"
echo "|---|---|---|---|"
echo "| baseline | $t0 | |$a |"
echo "| Time-Shift (--ts-window 20 --ts-cutoff 200) | $t1 | $(python3 -c "print(f'{100*($t1-$t0)/$t0:+.1f}%')") |$b |"
