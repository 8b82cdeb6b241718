#!/usr/bin/env bash
# The baseline tuned before any method (issue 25 item 1): fmnist-xs trained at several learning
# rates (linear warmup, constant after it, batch B), each checkpoint kept every EVERY steps, then
# FID (the same noise, seed 0, in every row) with DDIM 10 and DDPM 50 at every checkpoint, every
# sampler of SAMPLERS and the raw (non-EMA) weights at the last one. Trainings run side by side (one PoCL thread each
# on a 2-core CPU); a killed run resumes exactly (`cldiff train --resume`) and rows whose JSON
# exists are kept, so the script can be stopped and started again. Longer curves: raise STEPS
# (the learning rate is constant after warmup, so a resumed run is the longer run).
#   tools/baseline_sweep.sh [OUT]          (default OUT docs/results/baseline)
#   env: LRS ["2e-3 4e-3"] WARMUP [200] BATCH [32] STEPS [3000] EVERY [1000] SEED [0]
#        N [1000] images per FID  SAMPLERS ["ddim10 ddim50 fpndm10 ddpm50"]  RUNS [runs/baseline]
#        CLS [tools/demo/classifier] CLDIFF [build/cldiff] THREADS [1] PoCL threads per training
#        FROM [0] checkpoints before this step are not evaluated (a longer curve whose earlier points
#        were measured by an earlier run)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/results/baseline}
B=${CLDIFF:-build/cldiff} N=${N:-1000} CLS=${CLS:-tools/demo/classifier}
LRS=${LRS:-"2e-3 4e-3"} WARMUP=${WARMUP:-200} BATCH=${BATCH:-32} STEPS=${STEPS:-3000} EVERY=${EVERY:-1000}
SEED=${SEED:-0} FROM=${FROM:-0} SAMPLERS=${SAMPLERS:-"ddim10 ddim50 fpndm10 ddpm50"} RUNS=${RUNS:-runs/baseline}
work=${WORK:-/tmp/cldiff-baseline}
mkdir -p "$out" "$work" "$RUNS"
# shellcheck source=tools/fid_rows.sh
. tools/fid_rows.sh

train() { # lr: train (or resume) runs/baseline/lrLR-bBATCH to STEPS; the loss log lands in $out
  local name="lr$1-b$BATCH" dir="$RUNS/lr$1-b$BATCH" resume=""
  [ -d "$dir/ckpt-$STEPS" ] && return 0
  ls -d "$dir"/ckpt-* >/dev/null 2>&1 && resume=--resume
  POCL_MAX_PTHREAD_COUNT=${THREADS:-1} "$B" train --data fmnist --model fmnist-xs --out "$dir" --steps "$STEPS" \
    --batch "$BATCH" --lr "$1" --warmup "$WARMUP" --seed "$SEED" --save-every "$EVERY" --keep 0 --log-every 10 \
    $resume >>"$work/$name.train.log" 2>&1
  python3 tools/thin_log.py "$dir/log.jsonl" "$out/$name.loss.jsonl" 5
  cp "$dir/ckpt-$STEPS/trainer.json" "$out/$name.trainer.json"
}

pids=()
for lr in $LRS; do train "$lr" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done

sampler_opts() { case $1 in ddim*) echo "--sampler ddim" ;; fpndm*) echo "--sampler fpndm" ;; ddpm*) echo "--sampler ddpm" ;; esac; }
STEPS_SAVED=$STEPS
for lr in $LRS; do
  dir="$RUNS/lr$lr-b$BATCH"
  for ck in "$dir"/ckpt-*; do
    step=${ck##*-}
    [ "$step" -ge "$FROM" ] || continue
    for s in $SAMPLERS; do
      # the intermediate checkpoints get DDIM 10 and DDPM 50 (the curve); the last gets every sampler
      # and keeps its images
      [ "$step" = "$STEPS_SAVED" ] || [ "$s" = ddim10 ] || [ "$s" = ddpm50 ] || continue
      # shellcheck disable=SC2046
      KEEP_SAMPLES=$([ "$step" = "$STEPS_SAVED" ] && echo 1 || echo 0) STEPS=${s//[a-z]/} \
        row "$ck/ema" "lr$lr-b$BATCH-$step-$s" $(sampler_opts "$s")
    done
  done
  STEPS=10 row "$dir/ckpt-$STEPS_SAVED/model" "lr$lr-b$BATCH-$STEPS_SAVED-raw-ddim10" --sampler ddim
done
write_csv
# FID against training steps: one CSV per (learning rate, sampler) and their chart
args=()
for lr in $LRS; do
  for s in $SAMPLERS; do
    f="$out/curve_lr$lr-b$BATCH-$s.csv"
    python3 - "$out" "lr$lr-b$BATCH" "$s" "$f" <<'PY'
import glob, json, os, sys
out, run, s, f = sys.argv[1:]
rows = []
for p in glob.glob(os.path.join(out, f"{run}-*-{s}.json")):
    r = json.load(open(p))
    step = r["name"][len(run) + 1:].split("-")[0]
    if step.isdigit() and r["name"] == f"{run}-{step}-{s}":  # not the raw-weights row
        rows.append((int(step), r["fid"]))
with open(f, "w") as o:
    o.write("step,fid\n")
    for step, fid in sorted(rows):
        o.write(f"{step},{fid:.3f}\n")
PY
    if [ "$(wc -l <"$f")" -gt 2 ]; then args+=(--csv "$f" --label "lr $lr, $s"); else rm -f "$f"; fi
  done
done
[ ${#args[@]} -eq 0 ] || "$B" plot --out "$out/fid_over_training.png" "${args[@]}" --x step --y fid \
  --title "fmnist-xs baseline, batch $BATCH: FID ($N samples) against training steps" --xlabel "training step" --ylabel FID >/dev/null
echo "baseline_sweep: $out/fid.csv"
