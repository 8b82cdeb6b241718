#!/usr/bin/env bash
# The methods' switches through the `cldiff` command line (the C API is tested in test_methods):
# every training switch alone and all at once trains; gamma = 0 / lambda = 0 / R = B = 1 reproduce the
# baseline's checkpoint byte for byte and each method changes it; bad values are refused with the
# flag named and nothing written; an interrupted run resumed with --resume ends byte-identical to
# an uninterrupted one (methods on) and its log holds each step once; EP logs its chain length and
# skipping unused chain steps changes no weight; Time-Shift runs on every
# sampler that supports it (singlestep DPM-Solver too), a window of 0 changes nothing;
# --respacing (guided-diffusion's specs and TS-DPM's released grid) runs and refuses bad uses;
# CLDIFF_PROFILE lists the Winograd weight gradient's products with the GEMM shapes.
#   Args: <cldiff binary>
# shellcheck source=tests/cli_common.sh
source "$(dirname "$0")/cli_common.sh"

# toy-mlp on moons: 20 steps at batch 64, one checkpoint at the end
train() { # out-dir flags...
  local out=$1
  shift
  "$B" train --data toy:moons --model toy-mlp --out "$tmp/$out" --steps 20 --batch 64 --seed 3 --save-every 10 \
    --log-every 10 "$@" >"$tmp/$out.txt" 2>&1 || { fail "train $out $*: exit $?"; cat "$tmp/$out.txt" >&2; return 0; }
}
weights() { echo "$tmp/$1/ckpt-20/model/diffusion_pytorch_model.safetensors"; }
same() { cmp -s "$(weights "$1")" "$(weights "$2")"; }

# --- every training switch, alone and together
train base
train ip --ip-gamma 0.1
train ipramp --ip-gamma 0.1 --ip-ramp
train debias --weighting debias
train minsnr --weighting min-snr --snr-clamp 20
train p2 --weighting p2
train stf --stf-ref 256
train ep --ep-lambda 1 --ep-k 2
train all --ip-gamma 0.1 --weighting debias --stf-ref 256 --ep-lambda 1 --ep-k 2
for r in ip ipramp debias minsnr p2 stf ep all; do
  [ -f "$(weights "$r")" ] || { fail "$r: no checkpoint"; continue; }
  ! same base "$r" || fail "$r trains the same weights as the baseline"
done
! same ip ipramp || fail "--ip-ramp changes nothing"
# EP logs the chain steps it ran (1..K, both lengths over 20 steps at K = 2); skipping the steps
# past the drawn length trains the weights of running all K
[ "$(grep -c '"ep_chain_steps":[12]}' "$tmp/ep/log.jsonl")" = 20 ] || fail "ep: log.jsonl lacks ep_chain_steps 1..2 on each step"
grep -q '"ep_chain_steps":1}' "$tmp/ep/log.jsonl" && grep -q '"ep_chain_steps":2}' "$tmp/ep/log.jsonl" ||
  fail "ep: 20 steps at K = 2 never ran one of the lengths"
! grep -q ep_chain_steps "$tmp/base/log.jsonl" || fail "base: ep_chain_steps logged without EP"
CLDIFF_EP_FULL_CHAIN=1 train epfull --ep-lambda 1 --ep-k 2
same ep epfull || fail "EP skipping unused chain steps changes the weights"

# --- identity settings give the baseline's bytes
train ip0 --ip-gamma 0
train ep0 --ep-lambda 0 --ep-k 3
train const --weighting const
for r in ip0 ep0 const; do same base "$r" || fail "$r differs from the baseline"; done
# STF with R = B = 1 averages over the one image itself: the baseline again
train base1 --batch 1
train stf1 --batch 1 --stf-ref 1
same base1 stf1 || fail "--stf-ref 1 at --batch 1 differs from the baseline"

# --- bad values: exit 2, the flag named, no run directory
bad() { # expected-substring flags...
  local want=$1 rc=0
  shift
  "$B" train --data toy:moons --model toy-mlp --out "$tmp/bad" --steps 2 --batch 64 "$@" >"$tmp/bad.txt" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "train $*: exit $rc, expected 2"
  grep -q -- "$want" "$tmp/bad.txt" || { fail "train $*: message does not name $want"; cat "$tmp/bad.txt" >&2; }
  [ ! -e "$tmp/bad" ] || { fail "train $*: left $tmp/bad behind"; rm -rf "$tmp/bad"; }
}
bad --ip-gamma --ip-gamma -0.1
bad --ip-gamma --ip-gamma abc
bad --weighting --weighting snr
bad --snr-clamp --snr-clamp -1
bad --ep-k --ep-lambda 1 --ep-k 0
bad --ep-lambda --ep-lambda -1
bad --stf-ref --stf-ref 32
bad batch --ep-lambda 1 --batch 63

# --- an interrupted run resumed: same bytes as one straight run, each step logged once
"$B" train --data toy:moons --model toy-mlp --out "$tmp/part" --steps 10 --batch 64 --seed 3 --save-every 10 \
  --log-every 10 --ip-gamma 0.1 --stf-ref 256 --ep-lambda 1 --ep-k 2 >"$tmp/part.txt" 2>&1 || fail "train part"
# a run killed between checkpoints has logged steps it will train again, the last one cut off
# mid-write (no newline)
echo '{"step":11,"loss":9,"seconds":0,"elapsed":0}' >>"$tmp/part/log.jsonl"
printf '{"step":1' >>"$tmp/part/log.jsonl"
"$B" train --data toy:moons --model toy-mlp --out "$tmp/part" --steps 20 --batch 64 --seed 3 --save-every 10 \
  --log-every 10 --ip-gamma 0.1 --stf-ref 256 --ep-lambda 1 --ep-k 2 --resume >>"$tmp/part.txt" 2>&1 || fail "train --resume"
train whole --ip-gamma 0.1 --stf-ref 256 --ep-lambda 1 --ep-k 2
same part whole || fail "interrupted + --resume differs from one straight run"
steps=$(sed -n 's/^{"step":\([0-9]*\),.*/\1/p' "$tmp/part/log.jsonl" | tr '\n' ' ')
[ "$steps" = "$(seq -s ' ' 1 20) " ] || fail "resumed log steps: $steps"
! grep -q '"loss":9,' "$tmp/part/log.jsonl" || fail "the stale step 11 line survived the resume"
[ "$(grep -c '^{"step":[0-9]*,"loss":[^{]*}$' "$tmp/part/log.jsonl")" = 20 ] || fail "the resumed log has a malformed line"
rc=0
"$B" train --data toy:moons --model toy-mlp --out "$tmp/part" --steps 30 --batch 64 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "training into a run directory without --resume: exit $rc, expected 2"
# resuming at another batch is refused with both batches named (the message once read freed
# memory: ASan catches a relapse) and the checkpoint is left as it was
before=$(find "$tmp/part" -type f -not -name .lock -exec sha256sum {} + | sort)
rc=0
"$B" train --data toy:moons --model toy-mlp --out "$tmp/part" --steps 30 --batch 32 --seed 3 --ip-gamma 0.1 --stf-ref 256 \
  --ep-lambda 1 --ep-k 2 --resume >"$tmp/rb.txt" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "trained with batch 64, resuming with 32" "$tmp/rb.txt" || fail "--resume --batch 32: exit $rc, $(cat "$tmp/rb.txt")"
[ "$before" = "$(find "$tmp/part" -type f -not -name .lock -exec sha256sum {} + | sort)" ] || fail "a refused --resume changed the run directory"
# two runs on one directory: the second is refused while the first holds it
"$B" train --data toy:moons --model toy-mlp --out "$tmp/busy" --steps 100000 --batch 64 --save-every 100000 >/dev/null 2>&1 &
busy=$!
for _ in $(seq 50); do [ -s "$tmp/busy/.lock" ] && break; sleep 0.2; done
rc=0
"$B" train --data toy:moons --model toy-mlp --out "$tmp/busy" --steps 10 --batch 64 --resume >"$tmp/busy.txt" 2>&1 || rc=$?
kill -TERM "$busy" 2>/dev/null; wait "$busy" 2>/dev/null || true
[ "$rc" = 2 ] && grep -q "another cldiff train is running there" "$tmp/busy.txt" || fail "a second run on a busy directory: exit $rc, $(cat "$tmp/busy.txt")"

# --- Time-Shift from the command line
sample() { # name flags... (10 steps unless the flags give --respacing)
  local name=$1 steps=(--steps 10)
  shift
  [[ " $* " != *" --respacing "* ]] || steps=()
  "$B" sample --ckpt "$tmp/base" --ema --n 32 --batch 16 --seed 1 "${steps[@]}" --npy "$tmp/$name.npy" \
    --out "$tmp/$name.png" "$@" >"$tmp/$name.txt" 2>&1 || { fail "sample $name $*: exit $?"; cat "$tmp/$name.txt" >&2; }
}
for s in ddpm ddim spndm fpndm dpm-solver; do
  sample "$s" --sampler "$s"
  sample "$s.w0" --sampler "$s" --ts-window 0 --ts-cutoff 300
  cmp -s "$tmp/$s.npy" "$tmp/$s.w0.npy" || fail "$s: --ts-window 0 changes the samples"
  sample "$s.ts" --sampler "$s" --ts-window 200 --ts-cutoff 100 --ts-coeffs shifted
  ! cmp -s "$tmp/$s.npy" "$tmp/$s.ts.npy" || fail "$s: --ts-window 200 changes nothing"
  sample "$s.rel" --sampler "$s" --ts-window 200 --ts-cutoff 100
  ! cmp -s "$tmp/$s.npy" "$tmp/$s.rel.npy" || fail "$s: --ts-window 200 (the released reading) changes nothing"
  sample "$s.da" --sampler "$s" --ts-window 200 --ts-cutoff 100 --ts-data-aware
  sample "$s.nom" --sampler "$s" --ts-window 200 --ts-cutoff 100 --ts-coeffs nominal
  if [ "$s" = dpm-solver ]; then cmp -s "$tmp/$s.ts.npy" "$tmp/$s.rel.npy" || fail "$s: the default reading is not shifted"; continue; fi
  sample "$s.tgt" --sampler "$s" --ts-window 200 --ts-cutoff 100 --ts-coeffs target
  cmp -s "$tmp/$s.tgt.npy" "$tmp/$s.rel.npy" || fail "$s: the default reading is not target"
  ! cmp -s "$tmp/$s.npy" "$tmp/$s.tgt.npy" || fail "$s: --ts-coeffs target changes nothing"
  ! cmp -s "$tmp/$s.ts.npy" "$tmp/$s.tgt.npy" || fail "$s: --ts-coeffs target gives the shifted samples"
done
rc=0
"$B" sample --ckpt "$tmp/base" --n 4 --sampler dpm-solver --ts-window 20 --ts-coeffs target --out "$tmp/x.png" >"$tmp/tg.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--ts-coeffs target" "$tmp/tg.txt" || fail "dpm-solver with --ts-coeffs target: exit $rc, $(cat "$tmp/tg.txt")"
sample ddim.adm --sampler ddim --ts-window 200 --ts-cutoff 100 --ts-coeffs adm
! cmp -s "$tmp/ddim.npy" "$tmp/ddim.adm.npy" || fail "ddim: --ts-coeffs adm changes nothing"
! cmp -s "$tmp/ddim.tgt.npy" "$tmp/ddim.adm.npy" || fail "ddim: --ts-coeffs adm gives the target-mode samples"
rc=0
"$B" sample --ckpt "$tmp/base" --n 4 --sampler fpndm --ts-window 20 --ts-coeffs adm --out "$tmp/x.png" >"$tmp/ta.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--ts-coeffs adm" "$tmp/ta.txt" || fail "fpndm with --ts-coeffs adm: exit $rc, $(cat "$tmp/ta.txt")"
rc=0
"$B" sample --ckpt "$tmp/base" --n 4 --ts-window 20 --ts-coeffs adm --ts-data-aware --out "$tmp/x.png" >"$tmp/ta.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--ts-data-aware" "$tmp/ta.txt" || fail "--ts-coeffs adm --ts-data-aware: exit $rc, $(cat "$tmp/ta.txt")"
rc=0
"$B" sample --ckpt "$tmp/base" --n 4 --ts-window 20 --ts-coeffs later --out "$tmp/x.png" >"$tmp/tl.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--ts-coeffs" "$tmp/tl.txt" || fail "--ts-coeffs later: exit $rc, $(cat "$tmp/tl.txt")"
sample dpm1 --sampler dpm-solver --singlestep --order 2
# DPM-Solver++ 2M and 3M: sample, and differ from DPM-Solver and each other; Time-Shift and
# respacing refused by name
sample dpmpp --sampler dpm++2m
sample dpmpp3 --sampler dpm++3m
! cmp -s "$tmp/dpmpp.npy" "$tmp/dpm-solver.npy" || fail "dpm++2m gives dpm-solver's samples"
! cmp -s "$tmp/dpmpp.npy" "$tmp/dpmpp3.npy" || fail "dpm++3m gives dpm++2m's samples"
sample dpmpps --sampler dpm++2m-sde
! cmp -s "$tmp/dpmpp.npy" "$tmp/dpmpps.npy" || fail "dpm++2m-sde gives dpm++2m's samples"
sample dpmpps2 --sampler dpm++2m-sde --batch 5
cmp -s "$tmp/dpmpps.npy" "$tmp/dpmpps2.npy" || fail "dpm++2m-sde depends on the batch size"
sample dpmppt --sampler dpm++2m --threshold 0.9 --threshold-max 1.5
rc=0; "$B" sample --ckpt "$tmp/base" --n 4 --threshold 0.9 --out "$tmp/x.png" >"$tmp/td.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--threshold" "$tmp/td.txt" || fail "--threshold with ddim: exit $rc, $(cat "$tmp/td.txt")"
sample dpmppk --sampler dpm++2m --karras
! cmp -s "$tmp/dpmpp.npy" "$tmp/dpmppk.npy" || fail "--karras changes nothing"
rc=0; "$B" sample --ckpt "$tmp/base" --n 4 --karras --out "$tmp/x.png" >"$tmp/kd.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--karras" "$tmp/kd.txt" || fail "--karras with ddim: exit $rc, $(cat "$tmp/kd.txt")"
for bad in "--ts-window 20" "--respacing 10"; do
  rc=0
  # shellcheck disable=SC2086
  "$B" sample --ckpt "$tmp/base" --n 4 --sampler dpm++2m $bad --out "$tmp/x.png" >"$tmp/pp.txt" 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q -- "${bad%% *}" "$tmp/pp.txt" && grep -q "dpm++2m" "$tmp/pp.txt" || fail "dpm++2m $bad: exit $rc, $(cat "$tmp/pp.txt")"
done
sample dpm1.ts --sampler dpm-solver --singlestep --order 2 --ts-window 200 --ts-cutoff 100
! cmp -s "$tmp/dpm1.npy" "$tmp/dpm1.ts.npy" || fail "singlestep dpm-solver: --ts-window 200 changes nothing"
rc=0
"$B" sample --ckpt "$tmp/base" --n 4 --ts-window -3 --out "$tmp/x.png" >"$tmp/neg.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--ts-window" "$tmp/neg.txt" || fail "--ts-window -3: exit $rc, $(cat "$tmp/neg.txt")"

# --- --respacing: guided-diffusion's specs give the --steps grids; TS-DPM's released grid (tsdpmS)
# runs for ddim and PNDM and differs from them; the refusals name the flag
sample ddim.gd --sampler ddim --respacing ddim10
cmp -s "$tmp/ddim.npy" "$tmp/ddim.gd.npy" || fail "--respacing ddim10 differs from --steps 10"
sample ddpm.gd --sampler ddpm --respacing 10
cmp -s "$tmp/ddpm.npy" "$tmp/ddpm.gd.npy" || fail "ddpm --respacing 10 differs from --steps 10"
for s in ddim spndm fpndm; do
  sample "$s.rel" --sampler "$s" --respacing tsdpm10
  ! cmp -s "$tmp/$s.npy" "$tmp/$s.rel.npy" || fail "$s: --respacing tsdpm10 gives the ddim10 grid's samples"
done
for bad in "--sampler ddpm --respacing tsdpm10" "--respacing tsdpm1" "--sampler dpm-solver --respacing 10" "--respacing ddim10x" \
  "--steps 20 --respacing ddim10"; do
  rc=0
  # shellcheck disable=SC2086
  "$B" sample --ckpt "$tmp/base" --n 4 $bad --out "$tmp/x.png" >"$tmp/rs.txt" 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--respacing" "$tmp/rs.txt" || fail "$bad: exit $rc, $(cat "$tmp/rs.txt")"
done

# --- a diverging run (--lr 10 --clip 0) is warned about from its logged loss, and from then on no
# checkpoint is pruned, so the ones from before the divergence stay
"$B" train --data toy:moons --model toy-mlp --out "$tmp/div" --steps 60 --batch 64 --lr 10 --clip 0 --save-every 10 \
  --keep 2 --log-every 60 >"$tmp/div.txt" 2>&1 || fail "diverging run: exit $?"
grep -q "warning: the loss diverges" "$tmp/div.txt" || fail "no divergence warning: $(cat "$tmp/div.txt")"
[ "$(ls -d "$tmp/div"/ckpt-* | wc -l)" -gt 2 ] || fail "a diverging run pruned to --keep 2"
train calm --lr 1e-3
! grep -q "diverges" "$tmp/calm.txt" || fail "a calm run was warned about divergence"

# --- a step whose loss is not finite is never applied: training stops naming the step and saves
# nothing, or, with --skip-nonfinite, skips such steps (logged) and the weights stay the last good
# ones. A first weight of 1e38 makes every loss inf.
for m in stop skip; do
  cp -r "$tmp/base" "$tmp/inf$m"
  f="$tmp/inf$m/ckpt-20/model/diffusion_pytorch_model.safetensors"
  hl=$(od -An -t u4 -N 4 "$f" | tr -d ' ')
  printf '\231\166\226\176' | dd of="$f" bs=1 seek=$((8 + hl)) conv=notrunc 2>/dev/null
done
rc=0; "$B" train --data toy:moons --model toy-mlp --out "$tmp/infstop" --steps 30 --batch 64 --seed 3 --resume \
  >"$tmp/infstop.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "step 21: the loss is inf; the step was not applied" "$tmp/infstop.txt" || fail "inf loss: exit $rc, $(cat "$tmp/infstop.txt")"
[ ! -e "$tmp/infstop/ckpt-30" ] || fail "inf loss: a checkpoint was written after it"
"$B" train --data toy:moons --model toy-mlp --out "$tmp/infskip" --steps 30 --batch 64 --seed 3 --resume --skip-nonfinite \
  >"$tmp/infskip.txt" 2>&1 || fail "--skip-nonfinite: exit $?, $(cat "$tmp/infskip.txt")"
grep -q "step 21 skipped" "$tmp/infskip.txt" && grep -q '"step":30,"skipped"' "$tmp/infskip/log.jsonl" || fail "--skip-nonfinite: no warning or log line"
cmp -s "$tmp/infskip/ckpt-20/model/diffusion_pytorch_model.safetensors" "$tmp/infskip/ckpt-30/model/diffusion_pytorch_model.safetensors" ||
  fail "--skip-nonfinite: a skipped step changed the weights"

# --- a model whose weights hold a NaN is refused on load, the tensor named; a directory given
# where the weights file should be is named as such
mkdir -p "$tmp/nan"
cp "$tmp/base/ckpt-20/model/config.json" "$(weights base)" "$tmp/nan/"
hl=$(od -An -t u4 -N 4 "$tmp/nan/diffusion_pytorch_model.safetensors" | tr -d ' ')
printf '\377\377\377\177' | dd of="$tmp/nan/diffusion_pytorch_model.safetensors" bs=1 seek=$((8 + hl + 16)) conv=notrunc 2>/dev/null
rc=0
"$B" sample --ckpt "$tmp/nan" --n 4 --out "$tmp/x.png" >"$tmp/nan.txt" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "holds NaN" "$tmp/nan.txt" && grep -q "parameter '" "$tmp/nan.txt" || fail "NaN weights: exit $rc, $(cat "$tmp/nan.txt")"
[ ! -e "$tmp/x.png" ] || fail "NaN weights: a grid was written"
mkdir -p "$tmp/dirw/diffusion_pytorch_model.safetensors"
cp "$tmp/base/ckpt-20/model/config.json" "$tmp/dirw/"
rc=0
"$B" sample --ckpt "$tmp/dirw" --n 4 --out "$tmp/x.png" >"$tmp/dirw.txt" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "a directory" "$tmp/dirw.txt" || fail "a directory as the weights: exit $rc, $(cat "$tmp/dirw.txt")"

# --- diffusers pipelines: a DDPMPipeline.save_pretrained layout (model_index.json, unet/,
# scheduler/) is read with its scheduler_config.json (here clip_sample true: the same samples as
# --clip), `info` names where the schedule came from, a config cldiff cannot follow is refused with
# the key named; cldiff's checkpoints carry model_index.json, scheduler/ and unet -> ema
demo=$(cd "$(dirname "$0")/../tools/demo" && pwd)
mkdir -p "$tmp/pipe/unet" "$tmp/pipe/scheduler"
cp "$demo/fmnist-xs/config.json" "$demo/fmnist-xs/diffusion_pytorch_model.safetensors" "$tmp/pipe/unet/"
echo '{"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"], "scheduler": ["diffusers", "DDPMScheduler"]}' >"$tmp/pipe/model_index.json"
echo '{"_class_name": "DDPMScheduler", "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02, "num_train_timesteps": 1000, "clip_sample": true}' \
  >"$tmp/pipe/scheduler/scheduler_config.json"
"$B" info "$tmp/pipe" >"$tmp/pipe.txt" 2>&1 || fail "info on a pipeline: $(cat "$tmp/pipe.txt")"
grep -q "x0 clipped to \[-1, 1\] (from .*scheduler_config.json; DDPMScheduler" "$tmp/pipe.txt" || fail "info does not say where the schedule came from: $(cat "$tmp/pipe.txt")"
"$B" info "$demo/fmnist-xs" | grep -q "assumed: no trainer.json or scheduler_config.json" || fail "info does not say the schedule is assumed"
"$B" sample --ckpt "$tmp/pipe" --n 4 --steps 3 --npy "$tmp/pipe.npy" --out "$tmp/pipe.png" >/dev/null 2>&1 || fail "sample a pipeline"
# the scheduler's timestep_spacing (leading, diffusers' default) sets the grid: leading3 = 0, 333, 666
"$B" sample --ckpt "$demo/fmnist-xs" --n 4 --respacing leading3 --clip --npy "$tmp/pclip.npy" --out "$tmp/pclip.png" >/dev/null 2>&1 || fail "sample --clip"
cmp -s "$tmp/pipe.npy" "$tmp/pclip.npy" || fail "a clip_sample pipeline does not sample as --clip on its leading grid"
grep -q "timestep_spacing leading, steps_offset 0: the ddpm/ddim/pndm grid" "$tmp/pipe.txt" || fail "info does not name the spacing"
"$B" sample --ckpt "$tmp/pipe" --no-clip --n 4 --steps 3 --npy "$tmp/pnc.npy" --out "$tmp/pnc.png" >/dev/null 2>&1 || fail "--no-clip"
! cmp -s "$tmp/pipe.npy" "$tmp/pnc.npy" || fail "--no-clip still clips"
# x0 clipping is DDPM's and DDIM's: an explicit --clip elsewhere is refused by name, a config's
# clip_sample does not stop PNDM (diffusers' PNDMScheduler has none)
rc=0
"$B" sample --ckpt "$demo/fmnist-xs" --n 2 --steps 3 --sampler fpndm --clip --out "$tmp/x.png" >"$tmp/fc.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--clip" "$tmp/fc.txt" || fail "fpndm --clip: exit $rc, $(cat "$tmp/fc.txt")"
"$B" sample --ckpt "$tmp/pipe" --n 2 --steps 3 --sampler fpndm --out "$tmp/pf.png" >"$tmp/pf.txt" 2>&1 || fail "fpndm on a clip_sample pipeline: $(cat "$tmp/pf.txt")"
echo '{"_class_name": "DDIMScheduler", "timestep_spacing": "trailing", "clip_sample": false}' >"$tmp/pipe/scheduler/scheduler_config.json"
"$B" sample --ckpt "$tmp/pipe" --n 4 --steps 3 --npy "$tmp/ptr.npy" --out "$tmp/ptr.png" >/dev/null 2>&1 || fail "sample a trailing pipeline"
"$B" sample --ckpt "$demo/fmnist-xs" --n 4 --respacing trailing3 --npy "$tmp/ptr2.npy" --out "$tmp/ptr2.png" >/dev/null 2>&1 || fail "--respacing trailing3"
cmp -s "$tmp/ptr.npy" "$tmp/ptr2.npy" || fail "a trailing pipeline does not sample on the trailing grid"
# eval loss: the shipped (trained) model denoises - at t = 500 its eps error is far below the 1 of
# predicting nothing - and the CSV and the plot are written
"$B" eval loss --ckpt "$demo/fmnist-xs" --data fmnist --n 32 --bins 3 --csv "$tmp/loss.csv" --plot "$tmp/loss.png" >/dev/null 2>&1 ||
  fail "eval loss"
[ "$(wc -l <"$tmp/loss.csv")" = 4 ] && [ -s "$tmp/loss.png" ] && awk -F, 'NR == 3 && $1 == 500 && $3 < 0.1 { ok = 1 } END { exit !ok }' "$tmp/loss.csv" ||
  fail "eval loss: $(cat "$tmp/loss.csv" 2>/dev/null)"
rc=0; "$B" eval loss --ckpt "$demo/fmnist-xs" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "eval loss without --data: exit $rc"
echo '{"beta_schedule": "linear", "prediction_type": "flow"}' >"$tmp/pipe/scheduler/scheduler_config.json"
rc=0; "$B" sample --ckpt "$tmp/pipe" --n 4 --out "$tmp/x.png" >"$tmp/pbad.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q '"prediction_type"' "$tmp/pbad.txt" || fail "an unsupported scheduler config: exit $rc, $(cat "$tmp/pbad.txt")"
[ ! -e "$tmp/base/ckpt-20/model_index.json" ] || fail "an MLP checkpoint got a diffusers pipeline"
"$B" train --data fmnist --model fmnist-xs --steps 1 --batch 4 --prediction v --out "$tmp/upipe" --log-every 1 >/dev/null 2>&1 || fail "fmnist-xs 1 step"
for f in model_index.json scheduler/scheduler_config.json unet/config.json unet/diffusion_pytorch_model.safetensors; do
  [ -e "$tmp/upipe/ckpt-1/$f" ] || fail "a UNet checkpoint lacks $f"
done
grep -q '"v_prediction"' "$tmp/upipe/ckpt-1/scheduler/scheduler_config.json" || fail "the checkpoint's scheduler config lost the prediction type"
"$B" info "$tmp/upipe/ckpt-1" | grep -q "v prediction (from .*trainer.json" || fail "a checkpoint's schedule is not trainer.json's"

# --- a folder with only pickle weights is refused on purpose, and says so
mkdir -p "$tmp/pickle"
cp "$tmp/base/ckpt-20/model/config.json" "$tmp/pickle/"
echo "not really a pickle" >"$tmp/pickle/diffusion_pytorch_model.bin"
rc=0
"$B" sample --ckpt "$tmp/pickle" --n 4 --out "$tmp/x.png" >"$tmp/pk.txt" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "refused on purpose" "$tmp/pk.txt" || fail "pickle weights: exit $rc, $(cat "$tmp/pk.txt")"

# --- outputs are checked before sampling: --npy naming a directory fails with nothing written
rc=0
"$B" sample --ckpt "$tmp/base" --n 4 --out "$tmp/early.png" --npy "$tmp" >"$tmp/early.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--npy" "$tmp/early.txt" || fail "--npy DIR: exit $rc, $(cat "$tmp/early.txt")"
[ ! -e "$tmp/early.png" ] || fail "--npy DIR: the grid was written before the failure"

# --- --help lists every method switch
"$B" train --help >"$tmp/help.txt"
for f in --ip-gamma --ip-ramp --weighting --snr-clamp --ep-lambda --ep-k --stf-ref --resume; do
  grep -q -- "$f" "$tmp/help.txt" || fail "train --help does not mention $f"
done
"$B" sample --help >"$tmp/help.txt"
for f in --ts-window --ts-cutoff --ts-coeffs --ts-data-aware --respacing; do
  grep -q -- "$f" "$tmp/help.txt" || fail "sample --help does not mention $f"
done

# --- CLDIFF_PROFILE lists Winograd's summed weight-gradient products among the GEMM shapes (the
# panel layout, which CPUs use where the host provider has no oneDNN)
CLDIFF_WINO_PANEL=32 CLDIFF_PROFILE=1 "$B" bench train --model fmnist-xs --batch 2 --reps 2 >"$tmp/prof.txt" 2>&1 || fail "bench train under CLDIFF_PROFILE"
grep -q '^  matmul_sum_nt ' "$tmp/prof.txt" || fail "profile: no matmul_sum_nt line"
grep -Eq '^  gemm m=64 n=64 k=128 b=36 NT summed over 4 panels: .* GFLOP/s$' "$tmp/prof.txt" ||
  fail "profile: the summed NT product of fmnist-xs at batch 2 is not listed: $(grep summed "$tmp/prof.txt")"

finish "cli"
