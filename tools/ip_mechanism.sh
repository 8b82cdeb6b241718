#!/usr/bin/env bash
# IP's mechanism, tested with Epsilon Scaling (issue 25 item 4): if an Input-Perturbation-trained
# network behaves like the baseline's with eps_hat / (1 + gamma^2), then sampling the baseline with
# eps divided by 1 + gamma^2 (`--eps-scale 1.01` at gamma 0.1) should reproduce IP's change, and the
# IP model sampled with the inverse (`--eps-scale 0.990099`) should undo it. FID rows (1000 samples,
# seed 0: the same noise in every row) with DDIM 10 and F-PNDM 10, and the exposure curves.
#   tools/ip_mechanism.sh BASE_CKPT IP_CKPT [OUT]   (OUT default docs/results/ip_mechanism)
#   BASE_CKPT: the baseline (e.g. tools/demo/fmnist-xs); IP_CKPT: the same recipe with --ip-gamma 0.1
#   env: N [1000], CLS [tools/demo/classifier], CLDIFF [build/cldiff], STEPS [10], GAMMA [0.1]
set -euo pipefail
cd "$(dirname "$0")/.."
base=$1 ip=$2 out=${3:-docs/results/ip_mechanism}
B=${CLDIFF:-build/cldiff} N=${N:-1000} CLS=${CLS:-tools/demo/classifier} STEPS=${STEPS:-10} GAMMA=${GAMMA:-0.1}
work=${WORK:-/tmp/cldiff-ip-mechanism}
mkdir -p "$out" "$work"
# shellcheck source=tools/fid_rows.sh
. tools/fid_rows.sh
up=$(python3 -c "print(f'{1 + $GAMMA ** 2:.6g}')") down=$(python3 -c "print(f'{1 / (1 + $GAMMA ** 2):.6g}')")
ema=() # a cldiff run or checkpoint samples its EMA weights, as the shipped baseline holds them
if [ -d "$ip/ema" ] || compgen -G "$ip/ckpt-*/ema" >/dev/null; then ema=(--ema); fi
for s in ddim fpndm; do
  row "$base" "base-$s$STEPS" --sampler "$s"
  row "$base" "base-$s$STEPS-es$up" --sampler "$s" --eps-scale "$up"
  row "$base" "base-$s$STEPS-es$down" --sampler "$s" --eps-scale "$down"
done
[ -e "$ip" ] || { echo "ip_mechanism: $ip does not exist (the baseline's rows are done)" >&2; exit 1; }
for s in ddim fpndm; do
  row "$ip" "ip-$s$STEPS" --sampler "$s" "${ema[@]}"
  row "$ip" "ip-$s$STEPS-es$down" --sampler "$s" --eps-scale "$down" "${ema[@]}"
done
for r in "base|$base|" "base-es$up|$base|--eps-scale $up" "ip|$ip|${ema[*]}" "ip-es$down|$ip|--eps-scale $down ${ema[*]}"; do
  IFS='|' read -r name ck opts <<<"$r"
  [ -s "$out/exposure_$name.csv" ] && continue
  # shellcheck disable=SC2086
  "$B" eval exposure --ckpt "$ck" --data fmnist --sampler ddim --steps 20 --n 64 $opts --out "$work/exp_$name" >/dev/null 2>&1
  cp "$work/exp_$name/exposure.csv" "$out/exposure_$name.csv"
done
write_csv
echo "ip_mechanism: $out/fid.csv"
