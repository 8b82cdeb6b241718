#!/usr/bin/env bash
# Epsilon Scaling as a method of its own (issue 25 item 4): FID rows of one model sampled with
# eps divided by L (`--eps-scale L`), over a list of L, and with the linear-in-t schedule
# (`--eps-scale-k K`), 1000 samples each from the same noise (seed 0, batch 250: the noise of
# tools/results.sh's seed-0 rows and of tools/ip_mechanism.sh's, so those rows are this sweep's
# L = 1 and L = 0.990099 points). Rows whose JSON exists are kept: the script resumes.
#   tools/eps_sweep.sh [CKPT] [OUT]     (default tools/demo/fmnist-xs, docs/results/eps_sweep)
#   env: ROWS ["ddim:10:0.98 fpndm:10:0.98 ddim:50:0.990099"] sampler:steps:L[:K] (K: the linear
#        schedule's slope, default 0), N [1000], CLS [tools/demo/classifier], CLDIFF [build/cldiff],
#        KEEP_SAMPLES [0]: 1 keeps each row's images as OUT/samples/NAME.npz (0.65 MB a row; the
#        JSON's "samples" names that file either way)
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:-tools/demo/fmnist-xs} out=${2:-docs/results/eps_sweep}
B=${CLDIFF:-build/cldiff} N=${N:-1000} CLS=${CLS:-tools/demo/classifier}
export KEEP_SAMPLES=${KEEP_SAMPLES:-0}
ROWS=${ROWS:-"ddim:10:0.98 fpndm:10:0.98 ddim:50:0.990099"}
work=${WORK:-/tmp/cldiff-eps-sweep}
mkdir -p "$out" "$work"
# shellcheck source=tools/fid_rows.sh
. tools/fid_rows.sh
for r in $ROWS; do
  IFS=: read -r s STEPS L K <<<"$r"
  K=${K:-0}
  name="$s$STEPS-es$L"
  [ "$K" = 0 ] || name="$name-k$K"
  row "$ckpt" "$name" --sampler "$s" --eps-scale "$L" --eps-scale-k "$K"
done
write_csv
echo "eps_sweep: $out/fid.csv"
