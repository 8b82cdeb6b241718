#!/usr/bin/env bash
# The evidence protocol: the baseline against each training method alone and all four
# combined (same model, data, steps and seeds), and Time-Shift at sampling time, on the five 2-D
# toys and on Fashion-MNIST, evaluated with `cldiff eval`.
#
#   tools/results.sh [run|report|all]       (default all)
#
# run    trains, samples and evaluates into $W (default runs/results); everything the report needs
#        lands in $W/metrics (small: JSON, CSV, PNG), so a run made elsewhere (a GPU machine) can
#        be copied back and reported here.
# report writes docs/RESULTS_first.md and docs/results/*.png from $W/metrics: the first protocol's
#        page, these defaults' (tools/results_report.py, plus docs/results_first_preface.md and
#        docs/results_first_discussion.md, its hand-written parts). The tuned protocol, the page
#        docs/RESULTS.md, is tools/results_tuned.sh: this script with its knobs.
#        From the committed metrics alone: python3 tools/results_report.py docs/results/metrics
#        docs/RESULTS_first.md docs/results build/cldiff (edit the .md parts, never the page).
#
# Knobs (environment; defaults in brackets):
#   W [runs/results]  SEEDS ["0 1 2"]  JOBS [2] parallel runs (TOY_JOBS for the toys)
#   PARTS ["toy fmnist"] (and ts-sweep: Time-Shift settings on the trained Fashion-MNIST baseline)
#   TOY_STEPS [2000] TOY_BATCH [512]  FM_MODEL [fmnist-xs] FM_STEPS [3000] FM_BATCH [32]
#   FM_SAVE [500] checkpoint interval of the Fashion-MNIST trainings
#   FM_LR [2e-4] FM_WARMUP [100] the Fashion-MNIST trainings' learning rate and its linear warmup
#   FM_CURVE [0] the first seed keeps a checkpoint every FM_CURVE steps and evaluates FM_CURVE_SAMPLERS
#     ["ddim10 ddim50"] at each (FID over training; "NAME@STEP" in the metrics); 0: off
#   FM_CLIP [""] also evaluate these samplers with x0 clipping (e.g. "ddim10 ddim50": "NAME-clip")
#   FM_KEEP_SAMPLES [1] keep the first seed's evaluated images as uint8 $M/samples/CFG.NAME.npz
#   POCL_MAX_PTHREAD_COUNT [cores / JOBS] PoCL threads per parallel run
#   FM_N [1000] images per FID evaluation  FID_REF_N [all 10000 test images]  SAMPLE_BATCH [250]  EP_K [5]
#   SEED0 [first of SEEDS] the seed that draws the curves, keeps its images, grids and exposure curves
#   CLS [runs/cls] the `cldiff train-classifier` directory (trained first when absent)
#   TS ["--ts-window 80 --ts-cutoff 300"] the Time-Shift setting (TS-DPM's CIFAR-10 example)
#   TS_COEFFS [shifted] the Time-Shift reading of the "+ts" rows (`released`: cldiff's default)
#   TS_SWEEP ["5:550 10:300 20:300 40:300 20:550 80:300"] window:cutoff pairs of PARTS=ts-sweep
#   FM_ONLY [all] evaluate only these sampler settings (names as in the metrics: ddim10 ... dpm10+tsda)
#   CLDIFF [build/cldiff]
# Finished trainings (a run directory with its final checkpoint) are reused, not retrained; an
# interrupted Fashion-MNIST training resumes from its newest checkpoint (`cldiff train --resume`,
# exact), and evaluations whose metrics file exists are skipped, so `run` can be stopped and
# started again (several sessions on a slow machine).
set -euo pipefail
cd "$(dirname "$0")/.."
export W=${W:-runs/results} SEEDS=${SEEDS:-"0 1 2"} JOBS=${JOBS:-2} PARTS=${PARTS:-"toy fmnist"}
export TOY_STEPS=${TOY_STEPS:-2000} TOY_BATCH=${TOY_BATCH:-512}
export FM_MODEL=${FM_MODEL:-fmnist-xs} FM_STEPS=${FM_STEPS:-3000} FM_BATCH=${FM_BATCH:-32} FM_N=${FM_N:-1000}
export FM_SAVE=${FM_SAVE:-500} FM_LR=${FM_LR:-2e-4} FM_WARMUP=${FM_WARMUP:-100} FM_CURVE=${FM_CURVE:-0}
export FM_CURVE_SAMPLERS=${FM_CURVE_SAMPLERS:-"ddim10 ddim50"} FM_CLIP=${FM_CLIP:-} FM_KEEP_SAMPLES=${FM_KEEP_SAMPLES:-1}
# parallel runs on a CPU device share its cores: each gets its share (PoCL reads this; GPUs ignore it)
export POCL_MAX_PTHREAD_COUNT=${POCL_MAX_PTHREAD_COUNT:-$(( $(nproc) / JOBS > 0 ? $(nproc) / JOBS : 1 ))}
export SAMPLE_BATCH=${SAMPLE_BATCH:-250} EP_K=${EP_K:-5} CLS=${CLS:-runs/cls}
export TS=${TS:-"--ts-window 80 --ts-cutoff 300"} B=${CLDIFF:-build/cldiff}
# the reading of the "+ts" rows: shifted, as they were measured (cldiff's default reading is now the
# released one, `released`; the "+tstgt" rows of the sweep are that reading on DDIM/PNDM)
export TS_COEFFS=${TS_COEFFS:-shifted}
export TS_SWEEP=${TS_SWEEP:-"5:550 10:300 20:300 40:300 20:550 80:300"}
export TOYS=${TOYS:-"8gaussians 25gaussians moons swissroll checkerboard"}
export CONFIGS=${CONFIGS:-"baseline ip debias stf ep all"}
export M=$W/metrics
# the first seed: curves, kept images, grids and exposure curves (set SEED0=0 with SEEDS="1 2" to go
# on with the later seeds where seed 0's metrics came back from git but its runs did not)
export SEED0=${SEED0:-${SEEDS%% *}}

# method flags of a configuration; $1 = config, $2 = batch (STF's reference set is 4 batches).
# CONFIGS may add the follow-ups ip+stf+ep, ip05 (IP at gamma 0.05) and debias+stf+ep.
flags() {
  local ip="--ip-gamma 0.1" db="--weighting debias" stf="--stf-ref $((4 * $2))" ep="--ep-lambda 1 --ep-k $EP_K"
  case $1 in
    baseline) echo "" ;; ip) echo "$ip" ;; debias) echo "$db" ;; stf) echo "$stf" ;; ep) echo "$ep" ;;
    all) echo "$ip $db $stf $ep" ;;
    ip+stf+ep) echo "$ip $stf $ep" ;; # all but debias (a follow-up: debias is what hurts "all" here)
    ip05) echo "--ip-gamma 0.05" ;; # IP at half the default gamma (a follow-up: gamma 0.1 hurt Fashion-MNIST)
    debias+stf+ep) echo "$db $stf $ep" ;; # all but IP (a follow-up: IP takes back part of debias's gain there)
  esac
}
export -f flags
# shellcheck source=tools/fid_rows.sh
. tools/fid_rows.sh # keep_npz
export -f keep_npz

# final training loss: mean of the last 10 logged losses
final_loss() { # log [up to step]
  awk -v s="${2:-}" 's == "" || match($0, /"step":[0-9]+/) && substr($0, RSTART + 7, RLENGTH - 7) + 0 <= s + 0' "$1" | tail -n 10 | sed -n 's/.*"loss":\([-0-9.e]*\).*/\1/p' | awk '{s+=$1; n++} END {printf "%.5f", s/n}'; }
export -f final_loss

toy_job() { # toy config seed
  local toy=$1 cfg=$2 seed=$3 d=$W/runs/toy/$1/$2/s$3
  if [ ! -d "$d/ckpt-$TOY_STEPS" ]; then # a finished training is reused
    rm -rf "$d"
    mkdir -p "$(dirname "$d")"
    # shellcheck disable=SC2046
    $B train --data "toy:$toy" --model toy-mlp --out "$d" --steps "$TOY_STEPS" --batch "$TOY_BATCH" --lr 1e-3 \
      --seed "$seed" --save-every "$TOY_STEPS" --log-every 50 $(flags "$cfg" "$TOY_BATCH") >"$d.train.txt" 2>&1 || {
      echo "toy $toy $cfg $seed: training failed, see $d.train.txt" >&2; return 1; }
  fi
  $B sample --ckpt "$d" --ema --steps 50 --n 5000 --batch 2500 --seed "$seed" --npy "$d/s.npy" --out "$d/s.png" \
    >>"$d.train.txt" 2>&1
  $B eval toy --toy "$toy" --samples "$d/s.npy" --json |
    sed "s/^{/{\"part\": \"toy\", \"config\": \"$cfg\", \"seed\": $seed, \"loss\": $(final_loss "$d/log.jsonl"), /" \
      >"$M/toy.$toy.$cfg.s$seed.json"
  [ "$seed" != "$SEED0" ] || cp "$d/s.png" "$M/toy_$toy.$cfg.png"
  rm -f "$d/s.npy"
}
export -f toy_job

# samplers evaluated on every Fashion-MNIST model: name and flags
FM_SAMPLERS=("ddim10|--sampler ddim --steps 10" "ddim20|--sampler ddim --steps 20" "ddim50|--sampler ddim --steps 50"
  "ddim100|--sampler ddim --steps 100" "fpndm10|--sampler fpndm --steps 10" "dpm10|--sampler dpm-solver --steps 10"
  "ddpm50|--sampler ddpm --steps 50" "ddpm100|--sampler ddpm --steps 100")
# with Time-Shift, on the baseline and IP models
FM_TS_SAMPLERS=("ddim10+ts|--sampler ddim --steps 10 $TS --ts-coeffs $TS_COEFFS" "ddim20+ts|--sampler ddim --steps 20 $TS --ts-coeffs $TS_COEFFS"
  "fpndm10+ts|--sampler fpndm --steps 10 $TS --ts-coeffs $TS_COEFFS" "dpm10+ts|--sampler dpm-solver --steps 10 $TS --ts-coeffs $TS_COEFFS"
  "ddim10+tsda|--sampler ddim --steps 10 $TS --ts-data-aware --ts-coeffs $TS_COEFFS" "fpndm10+tsda|--sampler fpndm --steps 10 $TS --ts-data-aware --ts-coeffs $TS_COEFFS"
  "dpm10+tsda|--sampler dpm-solver --steps 10 $TS --ts-data-aware --ts-coeffs $TS_COEFFS")
FM_SAMPLERS_S=$(printf '%s\n' "${FM_SAMPLERS[@]}") FM_TS_SAMPLERS_S=$(printf '%s\n' "${FM_TS_SAMPLERS[@]}")
export FM_SAMPLERS_S FM_TS_SAMPLERS_S

# stdin into $1 through a temp file, so that an interrupted run never leaves a half file that a
# later run would take as done
put() { cat >"$1.tmp" && mv "$1.tmp" "$1"; }
export -f put

fm_eval() { # run-dir (or one of its ckpt-N) config seed name flags...
  local d=$1 cfg=$2 seed=$3 name=$4 run=$1 upto=""
  shift 4
  [ ! -s "$M/fm.$cfg.s$seed.$name.json" ] || return 0 # evaluated by an earlier, interrupted run
  if [[ $(basename "$d") == ckpt-* ]]; then run=$(dirname "$d") upto=${d##*-}; fi
  $B sample --ckpt "$d" --ema --n "$FM_N" --batch "$SAMPLE_BATCH" --seed "$seed" "$@" --npy "$run/$name.npy" \
    --out "$run/$name.png" >>"$run.train.txt" 2>&1 || { echo "fmnist $cfg $seed $name: sampling failed, see $run.train.txt" >&2; return 1; }
  # shellcheck disable=SC2086
  $B eval fid --features "$CLS" --ref fmnist ${FID_REF_N:+--ref-n $FID_REF_N} --samples "$run/$name.npy" --json |
    sed "s/^{/{\"part\": \"fmnist\", \"config\": \"$cfg\", \"seed\": $seed, \"sampler\": \"$name\", \"loss\": $(final_loss "$run/log.jsonl" "$upto"), /" \
      | put "$M/fm.$cfg.s$seed.$name.json"
  # re-scorable elsewhere
  [ "$FM_KEEP_SAMPLES" = 0 ] || [ "$seed" != "$SEED0" ] || keep_npz "$run/$name.npy" "$M/samples/$cfg.$name.npz"
  rm -f "$run/$name.npy" "$run/$name.png"
}
export -f fm_eval

# the sampler settings a model of config $1 is evaluated with: "name|flags" lines
fm_lines() {
  { echo "$FM_SAMPLERS_S"; for cs in $FM_CLIP; do echo "$FM_SAMPLERS_S" | sed -n "s/^$cs|\(.*\)/$cs-clip|\1 --clip/p"; done
    if [ "$1" = baseline ] || [ "$1" = ip ]; then echo "$FM_TS_SAMPLERS_S"; fi; } |
    while IFS= read -r line; do
      [ -z "${FM_ONLY:-}" ] || [[ " $FM_ONLY " == *" ${line%%|*} "* ]] || continue
      echo "$line"
    done
}
export -f fm_lines

# true when every metrics file of config $1, seed $2 is already in $M (restored from git on a
# fresh machine): such a model is not trained again only to be skipped at every evaluation
fm_done() {
  local cfg=$1 seed=$2 line step name
  [ -s "$M/fm_log.$cfg.s$seed.jsonl" ] || return 1
  while IFS= read -r line; do [ -s "$M/fm.$cfg.s$seed.${line%%|*}.json" ] || return 1; done < <(fm_lines "$cfg")
  [ "$seed" = "$SEED0" ] || return 0
  [ -s "$M/fm_grid.$cfg.png" ] || return 1
  if [ "$FM_CURVE" != 0 ]; then
    for ((step = FM_CURVE; step < FM_STEPS; step += FM_CURVE)); do
      for name in $FM_CURVE_SAMPLERS; do [ -s "$M/fm.$cfg.s$seed.$name@$step.json" ] || return 1; done
    done
  fi
  if [ "$cfg" = baseline ] || [ "$cfg" = ip ]; then
    [ -s "$M/fm_exposure.$cfg.csv" ] && [ -s "$M/fm_exposure.$cfg+ts.csv" ] || return 1
  fi
}
export -f fm_done

fm_job() { # config seed
  local cfg=$1 seed=$2 d=$W/runs/fm/$1/s$2 line
  if fm_done "$cfg" "$seed"; then
    echo "fmnist $cfg $seed: every evaluation is in $M already; not trained again" >&2
    return 0
  fi
  if [ ! -d "$d/ckpt-$FM_STEPS" ]; then # a finished training is reused, an interrupted one resumed
    local resume="" keep=()
    if compgen -G "$d/ckpt-*" >/dev/null; then resume=--resume; else rm -rf "$d"; fi
    mkdir -p "$(dirname "$d")"
    # the first seed keeps every checkpoint for the FID-over-training curve (FM_CURVE a multiple of FM_SAVE)
    [ "$FM_CURVE" = 0 ] || [ "$seed" != "$SEED0" ] || keep=(--keep 0)
    # shellcheck disable=SC2046
    $B train --data fmnist --model "$FM_MODEL" --out "$d" --steps "$FM_STEPS" --batch "$FM_BATCH" --seed "$seed" \
      --lr "$FM_LR" --warmup "$FM_WARMUP" --save-every "$FM_SAVE" --log-every 50 "${keep[@]}" $resume \
      $(flags "$cfg" "$FM_BATCH") >>"$d.train.txt" 2>&1 || {
      echo "fmnist $cfg $seed: training failed, see $d.train.txt" >&2; return 1; }
  fi
  python3 tools/thin_log.py "$d/log.jsonl" "$M/fm_log.$cfg.s$seed.jsonl" 20 # the curve, not every step
  fm_lines "$cfg" | while IFS= read -r line; do
    # shellcheck disable=SC2086
    fm_eval "$d" "$cfg" "$seed" "${line%%|*}" ${line#*|}
  done
  if [ "$FM_CURVE" != 0 ] && [ "$seed" = "$SEED0" ]; then # FID over training
    local step
    for ((step = FM_CURVE; step < FM_STEPS; step += FM_CURVE)); do
      [ -d "$d/ckpt-$step" ] || { echo "fmnist $cfg $seed: no $d/ckpt-$step for the curve (FM_CURVE a multiple of FM_SAVE?)" >&2; continue; }
      echo "$FM_SAMPLERS_S" | while IFS= read -r line; do
        [[ " $FM_CURVE_SAMPLERS " == *" ${line%%|*} "* ]] || continue
        # shellcheck disable=SC2086
        FM_KEEP_SAMPLES=0 fm_eval "$d/ckpt-$step" "$cfg" "$seed" "${line%%|*}@$step" ${line#*|}
      done
    done
  fi
  if [ "$seed" = "$SEED0" ]; then # sample grid and exposure curves of the first seed
    [ -s "$M/fm_grid.$cfg.png" ] ||
      $B sample --ckpt "$d" --ema --n 64 --batch 64 --seed 0 --sampler ddim --steps 50 --out "$M/fm_grid.$cfg.png" >>"$d.train.txt" 2>&1
    if [ "$cfg" = baseline ] || [ "$cfg" = ip ]; then
      for v in "" +ts; do # without and with Time-Shift
        [ ! -s "$M/fm_exposure.$cfg$v.csv" ] || continue
        # shellcheck disable=SC2086
        $B eval exposure --ckpt "$d" --ema --data fmnist --sampler ddim --steps 20 --n 64 ${v:+$TS --ts-coeffs $TS_COEFFS} --out "$d/exp$v" >>"$d.train.txt" 2>&1
        put "$M/fm_exposure.$cfg$v.csv" <"$d/exp$v/exposure.csv"
      done
    fi
  fi
  # what the protocol has cost so far (the report's first lines): core-hours from the logs
  python3 tools/protocol_cost.py "$W/runs" "$POCL_MAX_PTHREAD_COUNT" "$M/cost.json"
}
export -f fm_job

# Time-Shift settings tried on the first seed's baseline model (PARTS=ts-sweep, after the fmnist
# part trained it): window:cutoff pairs, each with DDIM 10 and F-PNDM 10, plain and data-aware,
# DDIM 10 with --ts-coeffs nominal, and DDIM 10 and F-PNDM 10 with --ts-coeffs target, on cldiff's
# ddim10 grid and on the released code's own (--respacing tsdpm10: 9 steps from 801 to abar_0)
ts_sweep() {
  local s0 d setting w c sm
  s0=$SEED0
  d=$W/runs/fm/baseline/s$s0
  [ -d "$d/ckpt-$FM_STEPS" ] || { echo "results: ts-sweep needs the trained $d/ckpt-$FM_STEPS (PARTS=fmnist first)" >&2; return 1; }
  local rel=("ddim10r|--sampler ddim --respacing tsdpm10" "fpndm10r|--sampler fpndm --respacing tsdpm10")
  for sm in "${rel[@]}"; do
    # shellcheck disable=SC2086
    fm_eval "$d" baseline "$s0" "${sm%%|*}" ${sm#*|}
  done
  for setting in $TS_SWEEP; do
    w=${setting%%:*} c=${setting#*:} at=@w${w}c$c
    [ "--ts-window $w --ts-cutoff $c" != "$TS" ] || at= # the main setting: the fmnist part's names
    for sm in "ddim10|--sampler ddim --steps 10" "fpndm10|--sampler fpndm --steps 10"; do
      # shellcheck disable=SC2086
      fm_eval "$d" baseline "$s0" "${sm%%|*}+ts$at" ${sm#*|} --ts-window "$w" --ts-cutoff "$c" --ts-coeffs "$TS_COEFFS"
      # shellcheck disable=SC2086
      fm_eval "$d" baseline "$s0" "${sm%%|*}+tsda$at" ${sm#*|} --ts-window "$w" --ts-cutoff "$c" --ts-data-aware --ts-coeffs "$TS_COEFFS"
      # the released DDIM/PNDM code's reading: network at t, the step ends at the matched time near the next one
      # shellcheck disable=SC2086
      fm_eval "$d" baseline "$s0" "${sm%%|*}+tstgt@w${w}c$c" ${sm#*|} --ts-window "$w" --ts-cutoff "$c" --ts-coeffs target
    done
    # the other reading of the paper: network at t_s, the step's coefficients at the nominal t
    fm_eval "$d" baseline "$s0" "ddim10+tsnom@w${w}c$c" --sampler ddim --steps 10 --ts-window "$w" --ts-cutoff "$c" --ts-coeffs nominal
    for sm in "${rel[@]}"; do # the released path as released: target mode on its grid
      # shellcheck disable=SC2086
      fm_eval "$d" baseline "$s0" "${sm%%|*}+tstgt@w${w}c$c" ${sm#*|} --ts-window "$w" --ts-cutoff "$c" --ts-coeffs target
    done
  done
}

write_setup() { # file (a protocol that moved machines keeps the earlier ones' names in "devices")
  local dev devs
  dev=$($B devices 2>/dev/null | sed -n 's/^\[[0-9]*\] (default) //p' | head -1)
  devs=$(python3 -c 'import json, os, sys
old = json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
seen = old.get("devices", [old["device"]] if old.get("device") else [])
print(json.dumps(seen + [d for d in [sys.argv[2]] if d and d not in seen]))' "$1" "$dev")
  {
    echo "{\"date\": \"$(date -u +%F)\", \"device\": \"$dev\", \"devices\": $devs,"
    echo " \"seeds\": \"$SEEDS\", \"seed0\": $SEED0, \"toy_steps\": $TOY_STEPS, \"toy_batch\": $TOY_BATCH, \"fm_model\": \"$FM_MODEL\","
    echo " \"fm_steps\": $FM_STEPS, \"fm_batch\": $FM_BATCH, \"fm_n\": $FM_N, \"fid_ref_n\": ${FID_REF_N:-0}, \"ep_k\": $EP_K, \"ts\": \"$TS\", \"ts_coeffs\": \"$TS_COEFFS\","
    echo " \"fm_lr\": \"$FM_LR\", \"fm_warmup\": $FM_WARMUP, \"fm_curve\": $FM_CURVE,"
    echo " \"classifier\": \"$CLS\", \"parts\": \"$PARTS\", \"note\": \"${NOTE:-}\"}"
  } >"$1"
}

run() {
  [ -x "$B" ] || { echo "results: $B not built (cmake -B build && cmake --build build)" >&2; exit 1; }
  mkdir -p "$M"
  # each part records its own setup (the parts may run on different machines)
  [[ " $PARTS " != *" toy "* ]] || write_setup "$M/setup.json"
  [[ " $PARTS " != *" fmnist "* ]] || write_setup "$M/setup.fmnist.json"
  local t0=$SECONDS
  if [[ " $PARTS " == *" toy "* ]]; then
    for toy in $TOYS; do for cfg in $CONFIGS; do for s in $SEEDS; do echo "$toy $cfg $s"; done; done; done |
      xargs -P "${TOY_JOBS:-$JOBS}" -L 1 bash -c 'set -euo pipefail; toy_job "$@"' _
    echo "results: toys done ($((SECONDS - t0)) s)"
  fi
  if [[ " $PARTS " == *" fmnist "* ]]; then
    if [ ! -f "$CLS/classifier.safetensors" ]; then
      $B train-classifier --data fmnist --out "$CLS"
    fi
    cp "$CLS/metrics.json" "$M/classifier.json" 2>/dev/null || true
    # the floor: FM_N real training images against the same reference
    # shellcheck disable=SC2086
    [ -s "$M/fm_reference.json" ] || $B eval fid --features "$CLS" --ref fmnist ${FID_REF_N:+--ref-n $FID_REF_N} \
      --samples data:fmnist@train --samples-n "$FM_N" --json | put "$M/fm_reference.json"
    # seed by seed, so that a run cut short still compares every configuration
    for s in $SEEDS; do for cfg in $CONFIGS; do echo "$cfg $s"; done; done |
      xargs -P "$JOBS" -L 1 bash -c 'set -euo pipefail; fm_job "$@"' _
    echo "results: fmnist done ($((SECONDS - t0)) s)"
  fi
  if [[ " $PARTS " == *" ts-sweep "* ]]; then
    ts_sweep
    echo "results: ts-sweep done ($((SECONDS - t0)) s)"
  fi
}

report() {
  python3 tools/results_report.py "$M" docs/RESULTS_first.md docs/results "$B"
}

case ${1:-all} in
  run) run ;;
  report) report ;;
  all) run && report ;;
  *) echo "usage: tools/results.sh [run|report|all]" >&2; exit 2 ;;
esac
