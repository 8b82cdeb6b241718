#!/usr/bin/env bash
# How far a FID moves with the sampling noise alone: one model (default the shipped demo model,
# the tuned protocol's seed-0 baseline) sampled with noise seeds 0..K-1, N images each, for each
# sampler of SAMPLERS, scored like every other row (tools/fid_rows.sh). Rows resume (a JSON that
# exists is kept); the summary (mean, std, range per sampler) is OUT/summary.csv.
#   tools/fid_noise.sh [OUT]       (default docs/results/fid_noise)
#   env: CKPT [tools/demo/fmnist-xs] NOISE_SEEDS ["0 1 2 3"] N [1000] SAMPLERS ["ddim10 ddpm50"]
#        CLS [tools/demo/classifier] CLDIFF [build/cldiff]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/results/fid_noise}
B=${CLDIFF:-build/cldiff} N=${N:-1000} CLS=${CLS:-tools/demo/classifier} CKPT=${CKPT:-tools/demo/fmnist-xs}
NOISE_SEEDS=${NOISE_SEEDS:-"0 1 2 3"} SAMPLERS=${SAMPLERS:-"ddim10 ddpm50"}
work=${WORK:-/tmp/cldiff-fid-noise}
mkdir -p "$out" "$work"
# shellcheck source=tools/fid_rows.sh
. tools/fid_rows.sh
for s in $SAMPLERS; do
  case $s in ddim*) opt=ddim ;; fpndm*) opt=fpndm ;; ddpm*) opt=ddpm ;; *) echo "fid_noise: unknown sampler $s" >&2; exit 2 ;; esac
  for k in $NOISE_SEEDS; do
    NOISE_SEED=$k KEEP_SAMPLES=0 STEPS=${s//[a-z]/} row "$CKPT" "$s-noise$k" --sampler "$opt"
  done
done
write_csv
python3 - "$out" <<'PY'
import csv, os, statistics, sys
rows = list(csv.DictReader(open(os.path.join(sys.argv[1], "fid.csv"))))
by = {}
for r in rows:
    by.setdefault(r["name"].rsplit("-noise", 1)[0], []).append(float(r["fid"]))
with open(os.path.join(sys.argv[1], "summary.csv"), "w") as f:
    f.write("sampler,draws,mean,std,min,max\n")
    for s, v in sorted(by.items()):
        sd = statistics.stdev(v) if len(v) > 1 else float("nan")
        f.write(f"{s},{len(v)},{statistics.mean(v):.3f},{sd:.3f},{min(v):.3f},{max(v):.3f}\n")
        print(f"{s}: {len(v)} draws, FID {statistics.mean(v):.2f} +- {sd:.2f} ({min(v):.2f}-{max(v):.2f})")
PY
