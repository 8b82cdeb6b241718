#!/usr/bin/env bash
# Time-Shift as released (issue 25 item 3): FID of one model with and without Time-Shift in its
# default reading (`--ts-coeffs released`: the released TS-DPM code path of each sampler), at the
# TS-DPM README's settings per sampler (F-PNDM w 5 c 550, DPM-Solver w 30 c 300; DDIM shares
# F-PNDM's code path and takes its setting), with x0 clipping off and on for DDIM, plus a small window
# sweep on F-PNDM. Every row uses the same noise (seed 0); its samples are kept as uint8 .npz (about
# 0.6 MB per 1000 images) for re-scoring elsewhere. Resumes: a row whose JSON exists is kept.
#   tools/ts_released.sh [OUT [CKPT]]   (default OUT docs/results/ts_released, CKPT the shipped model)
#   env: N [1000] images per FID, CLS [tools/demo/classifier], CLDIFF [build/cldiff], STEPS [10]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/results/ts_released} ckpt=${2:-tools/demo/fmnist-xs}
B=${CLDIFF:-build/cldiff} N=${N:-1000} CLS=${CLS:-tools/demo/classifier} STEPS=${STEPS:-10}
work=${WORK:-/tmp/cldiff-ts-released}
mkdir -p "$out" "$work"
row() { # name, then sample options
  local name=$1; shift
  [ -s "$out/$name.json" ] && return 0
  local t0=$SECONDS
  "$B" sample --ckpt "$ckpt" --n "$N" --batch 250 --seed 0 --steps "$STEPS" --npy "$work/$name.npy" \
    --out "$work/$name.png" "$@" >"$work/$name.log" 2>&1 || { echo "ts_released: $name failed: $(tail -n 2 "$work/$name.log")" >&2; return 1; }
  local ts=$((SECONDS - t0))
  "$B" eval fid --features "$CLS" --ref fmnist --samples "$work/$name.npy" --json >"$work/$name.fid" 2>>"$work/$name.log"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d.update(name=sys.argv[2], args=sys.argv[3], sample_seconds=int(sys.argv[4])); json.dump(d, open(sys.argv[5], 'w'))" \
    "$work/$name.fid" "$name" "$*" "$ts" "$out/$name.json"
  keep_npz "$name"
  echo "$name: FID $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['fid'], 2))" "$out/$name.json") ($ts s sampling)"
}
keep_npz() { # the evaluated samples as uint8 (N,C,H,W), as cldiff writes PNGs: $out/samples/NAME.npz
  mkdir -p "$out/samples"
  python3 -c "import numpy as np, sys; x = np.load(sys.argv[1]); np.savez_compressed(sys.argv[2], images=np.floor(np.clip((x + 1) * 127.5, 0, 255) + 0.5).astype(np.uint8))" \
    "$work/$1.npy" "$out/samples/$1.npz"
}
declare -A setting=([ddim]="--ts-window 5 --ts-cutoff 550" [fpndm]="--ts-window 5 --ts-cutoff 550" [dpm-solver]="--ts-window 30 --ts-cutoff 300")
for s in ddim fpndm dpm-solver; do
  for clip in "" --clip; do
    [ -z "$clip" ] || [ "$s" = ddim ] || continue # x0 clipping: DDIM's (PNDM and DPM-Solver step on eps)
    c=${clip:+-clip}
    row "$s$STEPS$c" --sampler "$s" $clip
    # shellcheck disable=SC2086
    row "$s$STEPS$c+ts" --sampler "$s" $clip ${setting[$s]}
  done
done
for w in 20 80; do row "fpndm$STEPS+ts-w${w}c550" --sampler fpndm --ts-window "$w" --ts-cutoff 550; done
row "fpndm$STEPS+ts-w5c300" --sampler fpndm --ts-window 5 --ts-cutoff 300
row "fpndm$STEPS+ts-shifted" --sampler fpndm --ts-window 5 --ts-cutoff 550 --ts-coeffs shifted
# one CSV of every row
python3 - "$out" <<'EOF'
import glob, json, os, sys
rows = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))]
with open(os.path.join(sys.argv[1], "fid.csv"), "w") as f:
    f.write("name,fid,kid,precision,recall,clamped,sample_seconds,args\n")
    for r in rows:
        f.write(f"{r['name']},{r['fid']:.3f},{r.get('kid', float('nan')):.5f},{r.get('precision', float('nan')):.4f},"
                f"{r.get('recall', float('nan')):.4f},{r.get('clamped_fraction', float('nan'))},{r['sample_seconds']},\"{r['args']}\"\n")
EOF
echo "ts_released: $out/fid.csv"
