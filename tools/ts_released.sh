#!/usr/bin/env bash
# Time-Shift as released (issue 25 item 3): FID of one model with and without Time-Shift in its
# default reading (`--ts-coeffs released`: the released TS-DPM code path of each sampler), at the
# TS-DPM README's settings per sampler (F-PNDM w 5 c 550, DPM-Solver w 30 c 300; DDIM shares
# F-PNDM's code path and takes its setting), with x0 clipping off and on for DDIM, plus a small window
# sweep on F-PNDM, and DDIM 20's exposure curves with and without it. Every row uses the same noise (seed 0); its samples are kept as uint8 .npz (about
# 0.6 MB per 1000 images) for re-scoring elsewhere. Resumes: a row whose JSON exists is kept.
#   tools/ts_released.sh [OUT [CKPT]]   (default OUT docs/results/ts_released, CKPT the shipped model)
#   env: N [1000] images per FID, CLS [tools/demo/classifier], CLDIFF [build/cldiff], STEPS [10]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/results/ts_released} ckpt=${2:-tools/demo/fmnist-xs}
B=${CLDIFF:-build/cldiff} N=${N:-1000} CLS=${CLS:-tools/demo/classifier} STEPS=${STEPS:-10}
work=${WORK:-/tmp/cldiff-ts-released}
mkdir -p "$out" "$work"
# shellcheck source=tools/fid_rows.sh
. tools/fid_rows.sh
declare -A setting=([ddim]="--ts-window 5 --ts-cutoff 550" [fpndm]="--ts-window 5 --ts-cutoff 550" [dpm-solver]="--ts-window 30 --ts-cutoff 300")
for s in ddim fpndm dpm-solver; do
  for clip in "" --clip; do
    [ -z "$clip" ] || [ "$s" = ddim ] || continue # x0 clipping: DDIM's (PNDM and DPM-Solver step on eps)
    c=${clip:+-clip}
    row "$ckpt" "$s$STEPS$c" --sampler "$s" $clip
    # shellcheck disable=SC2086
    row "$ckpt" "$s$STEPS$c+ts" --sampler "$s" $clip ${setting[$s]}
  done
done
for w in 20 80; do row "$ckpt" "fpndm$STEPS+ts-w${w}c550" --sampler fpndm --ts-window "$w" --ts-cutoff 550; done
row "$ckpt" "fpndm$STEPS+ts-w5c300" --sampler fpndm --ts-window 5 --ts-cutoff 300
row "$ckpt" "ddim$STEPS+ts-w80c300" --sampler ddim --ts-window 80 --ts-cutoff 300 # TS-DPM-ADM's CIFAR-10 example
row "$ckpt" "fpndm$STEPS+ts-shifted" --sampler fpndm --ts-window 5 --ts-cutoff 550 --ts-coeffs shifted
# the exposure curves (DDIM 20, 64 images) without and with it, and their plot
for r in "plain|" "ts-w5c550|--ts-window 5 --ts-cutoff 550" "ts-w80c300|--ts-window 80 --ts-cutoff 300" \
  "ts-w80c300-shifted|--ts-window 80 --ts-cutoff 300 --ts-coeffs shifted"; do
  name=${r%%|*} opts=${r#*|}
  [ -s "$out/exposure_$name.csv" ] && continue
  # shellcheck disable=SC2086
  "$B" eval exposure --ckpt "$ckpt" --data fmnist --sampler ddim --steps 20 --n 64 $opts --out "$work/exp_$name" >/dev/null
  cp "$work/exp_$name/exposure.csv" "$out/exposure_$name.csv"
done
"$B" plot --out "$out/exposure_var.png" --csv "$out/exposure_plain.csv" --label plain --csv "$out/exposure_ts-w5c550.csv" \
  --label "TS released w5 c550" --csv "$out/exposure_ts-w80c300.csv" --label "TS released w80 c300" \
  --csv "$out/exposure_ts-w80c300-shifted.csv" --label "TS shifted w80 c300" --x t --y var_sampled,var_forward --logy \
  --title "DDIM 20, shipped fmnist-xs: variance of x_t, sampled and forward" --xlabel t --ylabel "var(x_t)" >/dev/null
write_csv
echo "ts_released: $out/fid.csv"
