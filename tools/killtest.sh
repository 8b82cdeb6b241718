#!/usr/bin/env bash
# Kill -9 anywhere, lose nothing: trains the toy MLP with a checkpoint every 5 steps (--keep 2),
# SIGKILLs it at a random moment, then checks that every listed checkpoint is complete, that the
# newest loads, and that --resume from it reaches a final checkpoint byte-identical to an
# uninterrupted run. Repeats TRIALS times and prints the counts.
#   tools/killtest.sh BIN [TRIALS=200] [WORKDIR=/tmp/cldiff-killtest]
set -uo pipefail
bin=$(realpath "$1"); trials=${2:-200}; work=${3:-/tmp/cldiff-killtest}
rm -rf "$work"; mkdir -p "$work"; cd "$work" || exit 2
args=(--data toy:moons --model toy-mlp --steps 60 --batch 64 --seed 3 --save-every 5 --keep 2 --log-every 60 --ip-gamma 0.1)
"$bin" train "${args[@]}" --out ref >ref.txt 2>&1 || { echo "the reference run failed"; cat ref.txt; exit 1; }
want=$(sha256sum ref/ckpt-60/model/diffusion_pytorch_model.safetensors ref/ckpt-60/ema/diffusion_pytorch_model.safetensors \
  ref/ckpt-60/optimizer.safetensors | awk '{print $1}' | tr '\n' ' ')
t0=$(date +%s.%N); "$bin" train "${args[@]}" --out timing >/dev/null 2>&1; t1=$(date +%s.%N)
dur=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
fail=0 mid_save=0 none_yet=0 fell_back=0
for i in $(seq "$trials"); do
  rm -rf run
  "$bin" train "${args[@]}" --out run >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v d="$dur" -v s="$RANDOM" 'BEGIN { srand(s); printf "%.3f", rand() * d * 1.1 }')"
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  ls -d run/.ckpt-*.tmp >/dev/null 2>&1 && mid_save=$((mid_save + 1))
  for ck in run/ckpt-*; do
    [ -e "$ck" ] || { none_yet=$((none_yet + 1)); break; }
    for f in model/diffusion_pytorch_model.safetensors model/config.json ema/diffusion_pytorch_model.safetensors \
      optimizer.safetensors trainer.json; do
      [ -s "$ck/$f" ] || { echo "trial $i: $ck is listed but has no $f"; fail=$((fail + 1)); }
    done
  done
  if ls -d run/ckpt-* >/dev/null 2>&1; then
    "$bin" sample --ckpt run --n 4 --steps 2 --out "$work/s.png" >/dev/null 2>&1 || { echo "trial $i: the newest checkpoint does not load"; fail=$((fail + 1)); }
  fi
  resume=""; [ -d run ] && resume=--resume
  "$bin" train "${args[@]}" --out run $resume >resume.txt 2>&1 || { echo "trial $i: resume failed: $(tail -2 resume.txt)"; fail=$((fail + 1)); continue; }
  grep -q "warning: --resume" resume.txt && fell_back=$((fell_back + 1))
  got=$(sha256sum run/ckpt-60/model/diffusion_pytorch_model.safetensors run/ckpt-60/ema/diffusion_pytorch_model.safetensors \
    run/ckpt-60/optimizer.safetensors | awk '{print $1}' | tr '\n' ' ')
  [ "$got" = "$want" ] || { echo "trial $i: the resumed run's final checkpoint differs from the uninterrupted one"; fail=$((fail + 1)); }
done
echo "kill -9 trials: $trials (run length ${dur}s; $mid_save killed mid-save, $none_yet before the first checkpoint, $fell_back resumes fell back): $fail failures"
[ "$fail" = 0 ]
