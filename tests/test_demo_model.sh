#!/usr/bin/env bash
# The shipped demo model (tools/demo/fmnist-xs, trained by cldiff) still samples garments: 100
# DDIM-20 samples scored by `cldiff eval fid` in the shipped classifier's feature space
# (tools/demo/classifier) against 2000 Fashion-MNIST test images stay below FID_MAX, recorded in
# tools/demo/README.md from this very command (with a margin for other devices' rounding). A
# one-step DDIM from the same model - a stand-in for a sampler that broke - must score above
# FID_MAX, so the check can fail. Usage: test_demo_model.sh CLDIFF TOOLS_DEMO_DIR
source "$(dirname "$0")/cli_common.sh" "$1"
demo=$2
FID_MAX=${FID_MAX:-60} # measured 37.3 on PoCL (tools/demo/README.md); 1-step DDIM: 880
fid_of() { # samples.npy -> FID
  "$B" eval fid --features "$demo/classifier" --ref fmnist --ref-n 2000 --samples "$1" --json |
    sed -n 's/.*"fid": *\([0-9.eE+-]*\).*/\1/p'
}
"$B" sample --ckpt "$demo/fmnist-xs" --sampler ddim --steps 20 --n 100 --batch 50 --seed 0 --clip \
  --out "$tmp/good.png" --npy "$tmp/good.npy" >/dev/null || fail "sampling the demo model"
"$B" sample --ckpt "$demo/fmnist-xs" --sampler ddim --steps 1 --n 100 --batch 50 --seed 0 --clip \
  --out "$tmp/bad.png" --npy "$tmp/bad.npy" >/dev/null || fail "sampling the demo model (1 step)"
good=$(fid_of "$tmp/good.npy"); bad=$(fid_of "$tmp/bad.npy")
echo "demo model: FID $good at DDIM 20, $bad at DDIM 1 (limit $FID_MAX)"
[ -n "$good" ] && awk -v f="$good" -v m="$FID_MAX" 'BEGIN { exit !(f < m) }' || fail "DDIM-20 FID '$good' is not below $FID_MAX"
[ -n "$bad" ] && awk -v f="$bad" -v m="$FID_MAX" 'BEGIN { exit !(f > m) }' || fail "1-step FID '$bad' is not above $FID_MAX: the check cannot tell"
finish test_demo_model
