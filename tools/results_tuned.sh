#!/usr/bin/env bash
# docs/RESULTS.md: the Fashion-MNIST protocol at the tuned setting (lr 1e-3 after 200 warm-up
# steps, 3000 steps of batch 32, three training seeds, 1000 samples per FID, DDPM 50 and x0-clipped
# DDIM among the samplers, FID over training for seed 0, Time-Shift read as released), next to the
# 2-D toys of the first protocol (their metrics are in docs/results_tuned/metrics too). It is
# tools/results.sh with the protocol's knobs, then the cost and the page.
#
#   tools/results_tuned.sh [run|report|all]     (default all)
#
# run     trains, samples and evaluates into $W (resumable: stop it and start it again). On a fresh
#         machine (no $W/metrics) it first copies the committed metrics and grids there and carries
#         the committed cost, so the protocol goes on from what git holds and retrains nothing that
#         is evaluated already.
# report  $W/metrics/cost.json (tools/protocol_cost.py), then docs/RESULTS.md and docs/results_tuned/
#         (tools/results_report.py, with docs/results_{preface,studies,discussion}.md).
#         From the committed metrics alone: python3 tools/results_report.py docs/results_tuned/metrics
#         docs/RESULTS.md docs/results_tuned build/cldiff
# env: W [runs/tuned] SEEDS ["0 1 2"] SEED0 [0] CLDIFF [build/cldiff] THREADS [1] (PoCL threads
#      per parallel job, for the cost: cores / 2 on a machine of more than 2 cores)
#      FM_STEPS [3000] EP_K [2]: another protocol (e.g. W=runs/long FM_STEPS=6000 EP_K=5 on a faster
#      machine); it starts from nothing, not from the committed metrics; `run` alone leaves
#      docs/RESULTS.md as it is, `all` and `report` write that protocol's page there
set -euo pipefail
cd "$(dirname "$0")/.."
export W=${W:-runs/tuned}
M=$W/metrics
FM_STEPS=${FM_STEPS:-3000} EP_K=${EP_K:-2}
run() {
  if [ ! -d "$M" ] && [ "$FM_STEPS" = 3000 ] && [ "$EP_K" = 2 ]; then # this protocol: go on from git
    mkdir -p "$M"
    cp -r docs/results_tuned/metrics/. "$M/"
    cp docs/results_tuned/fm_grid.*.png docs/results_tuned/toy_*.png "$M/"
    python3 tools/protocol_cost.py --carry docs/results_tuned/metrics/cost.json "$W/runs" "${THREADS:-1}" "$M/cost.json"
  fi
  PARTS=fmnist FM_LR=1e-3 FM_WARMUP=200 FM_STEPS=$FM_STEPS FM_CURVE=1000 FM_SAVE=250 EP_K=$EP_K \
    CLS=${CLS:-tools/demo/classifier} FM_CLIP="ddim10 ddim50" FM_CURVE_SAMPLERS="ddim10 ddpm50" \
    FM_ONLY="ddim10 ddim50 fpndm10 ddpm50 ddim10-clip ddim50-clip" TS_COEFFS=released \
    SEEDS=${SEEDS:-0 1 2} SEED0=${SEED0:-0} tools/results.sh run
}
report() {
  python3 tools/protocol_cost.py "$W/runs" "${THREADS:-1}" "$M/cost.json"
  python3 tools/results_report.py "$M" docs/RESULTS.md docs/results_tuned "${CLDIFF:-build/cldiff}"
}
case ${1:-all} in
  run) run ;;
  report) report ;;
  all) run && report ;;
  *) echo "usage: tools/results_tuned.sh [run|report|all]" >&2; exit 2 ;;
esac
