#!/usr/bin/env bash
# Data-parallel training and sharded sampling over MPI (mpirun -np 2 on this one machine, one
# PoCL thread per rank):
#  - 2 ranks at global batch B write, byte for byte, the checkpoint (model, EMA, optimizer moments)
#    of one process with --accum 2 at batch B: plain, each training method, all four at once (toy
#    MLP), and the plain and all-four UNet (fmnist-xs), and with the all-reduce in buckets; 4 ranks are --accum 4 (toy MLP, IP);
#  - a checkpoint written by 2 ranks resumes in one process (--accum 2) to the same final bytes;
#  - mpirun -np 2 cldiff sample writes the grid and .npy of one process, byte for byte, and
#    cldiff eval fid prints its metrics;
#  - SIGTERM to one rank stops all at one step with a checkpoint (exit 130); a rank killed with
#    SIGKILL ends the whole job with an error; no hang either way.
source "$(dirname "$0")/cli_common.sh" "$1"
command -v mpirun >/dev/null || { echo "test_mpi: skipped (no mpirun)"; exit 0; }
export POCL_MAX_PTHREAD_COUNT=1
# Open MPI's shared-memory transport copies between processes with CMA, which containers without
# ptrace rights refuse ("Read -1, expected ..."); plain copies work everywhere
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() { timeout 600 mpirun -np 2 --oversubscribe --allow-run-as-root --bind-to none -x POCL_MAX_PTHREAD_COUNT -x CLDIFF_CACHE_DIR \
  -x OMPI_MCA_btl_vader_single_copy_mechanism "$B" "$@"; }
files="model/diffusion_pytorch_model.safetensors ema/diffusion_pytorch_model.safetensors optimizer.safetensors"
same_ckpt() { for f in $files; do cmp -s "$1/$f" "$2/$f" || return 1; done; }
toy="--data toy:moons --model toy-mlp --steps 12 --batch 64 --seed 3 --save-every 6 --log-every 12"
check() { # name model-flags...
  local name=$1; shift
  mpi train "$@" --out "$tmp/$name.mpi" >"$tmp/$name.mpi.txt" 2>&1 || { fail "$name: mpirun train: $(tail -3 "$tmp/$name.mpi.txt")"; return; }
  "$B" train "$@" --accum 2 --out "$tmp/$name.acc" >"$tmp/$name.acc.txt" 2>&1 || { fail "$name: --accum 2: $(tail -3 "$tmp/$name.acc.txt")"; return; }
  local last
  last=$(ls -d "$tmp/$name.acc"/ckpt-* | sort -t- -k2 -n | tail -1)
  same_ckpt "$tmp/$name.mpi/$(basename "$last")" "$last" || fail "$name: 2 ranks and --accum 2 differ"
}
# the kernel cache warm before two ranks compile at once
"$B" train $toy --out "$tmp/warm" >/dev/null 2>&1 || fail "warm-up run"
check base $toy
check ip $toy --ip-gamma 0.1
check debias $toy --weighting debias
check stf $toy --stf-ref 96
check ep $toy --ep-lambda 1 --ep-k 3
check all4 $toy --ip-gamma 0.1 --weighting debias --stf-ref 96 --ep-lambda 1 --ep-k 3
unet="--data fmnist --model fmnist-xs --steps 2 --batch 8 --seed 1 --save-every 2 --log-every 2"
check unet $unet
check unet_all4 $unet --ip-gamma 0.1 --weighting debias --stf-ref 12 --ep-lambda 1 --ep-k 2
check unet_buckets $unet --ip-gamma 0.1 --bucket-mb 0.05 # the all-reduce in buckets during the backward pass
# four ranks: the chain's sum is in rank order ((g0 + g1) + g2) + g3, so 4 ranks are --accum 4 (an
# unordered or ring sum differs in rounding here; with 2 ranks every order is the same)
timeout 600 mpirun -np 4 --oversubscribe --allow-run-as-root --bind-to none -x POCL_MAX_PTHREAD_COUNT -x CLDIFF_CACHE_DIR \
  -x OMPI_MCA_btl_vader_single_copy_mechanism "$B" train $toy --ip-gamma 0.1 --out "$tmp/np4.mpi" >"$tmp/np4.txt" 2>&1 ||
  fail "mpirun -np 4 train: $(tail -3 "$tmp/np4.txt")"
"$B" train $toy --ip-gamma 0.1 --accum 4 --out "$tmp/np4.acc" >/dev/null 2>&1 || fail "--accum 4"
same_ckpt "$tmp/np4.mpi/ckpt-12" "$tmp/np4.acc/ckpt-12" || fail "4 ranks and --accum 4 differ"
grep -q "2 rank(s) x 1 micro-batch(es) of 32" "$tmp/base.mpi.txt" || fail "the run does not say how the batch is split: $(cat "$tmp/base.mpi.txt")"

# resume across N: 2 ranks to step 6, then one process (--accum 2) from there to 12
mkdir -p "$tmp/resume" && cp -r "$tmp/ip.mpi/ckpt-6" "$tmp/resume/"
"$B" train $toy --ip-gamma 0.1 --accum 2 --out "$tmp/resume" --resume >"$tmp/resume.txt" 2>&1 || fail "resume on 1 rank: $(tail -3 "$tmp/resume.txt")"
same_ckpt "$tmp/resume/ckpt-12" "$tmp/ip.mpi/ckpt-12" || fail "a 2-rank checkpoint resumed on 1 rank differs from the 2-rank run"

# sharded sampling: byte-identical to one process (7 images over 2 ranks: 4 + 3)
mpi sample --ckpt "$tmp/unet.acc" --ema --n 7 --batch 3 --steps 3 --seed 4 --out "$tmp/m.png" --npy "$tmp/m.npy" >"$tmp/ms.txt" 2>&1 ||
  fail "mpirun sample: $(tail -3 "$tmp/ms.txt")"
"$B" sample --ckpt "$tmp/unet.acc" --ema --n 7 --batch 5 --steps 3 --seed 4 --out "$tmp/s.png" --npy "$tmp/s.npy" >/dev/null 2>&1 ||
  fail "sample"
cmp -s "$tmp/m.npy" "$tmp/s.npy" && cmp -s "$tmp/m.png" "$tmp/s.png" || fail "2-rank sampling differs from one process"

# eval fid under mpirun: the samples' features over the ranks, the metrics those of one process
demo=$(cd "$(dirname "$0")/../tools/demo" && pwd)
fid() { sed -e 's/, "ref_features_cached.*//' "$1"; }
mpi eval fid --features "$demo/classifier" --ref fmnist --ref-n 100 --samples "$tmp/s.npy" --json >"$tmp/fm.json" 2>"$tmp/fm.err" ||
  fail "mpirun eval fid: $(tail -3 "$tmp/fm.err")"
"$B" eval fid --features "$demo/classifier" --ref fmnist --ref-n 100 --samples "$tmp/s.npy" --json >"$tmp/fs.json" 2>/dev/null || fail "eval fid"
[ -s "$tmp/fm.json" ] && [ "$(fid "$tmp/fm.json")" = "$(fid "$tmp/fs.json")" ] || fail "2-rank FID differs: $(cat "$tmp/fm.json") vs $(cat "$tmp/fs.json")"

# SIGTERM to one rank stops every rank at the same step: rank 0 saves it and says so, exit 130
mpi train --data toy:moons --model toy-mlp --steps 1000000 --batch 64 --out "$tmp/term" --log-every 100000 >"$tmp/term.txt" 2>&1 &
job=$!
for _ in $(seq 100); do [ -s "$tmp/term/log.jsonl" ] && break; sleep 0.2; done
victim=$(pgrep -f -- "^$B train .*--out $tmp/term" | tail -1)
[ -n "$victim" ] && kill -TERM "$victim" || fail "no rank to signal"
for _ in $(seq 120); do kill -0 "$job" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$job" 2>/dev/null; then fail "the job hangs after SIGTERM to one rank"; kill -9 "$job"; fi
rc=0; wait "$job" || rc=$?
[ "$rc" = 130 ] && grep -q "stopped by signal 15" "$tmp/term.txt" && ls -d "$tmp/term"/ckpt-* >/dev/null 2>&1 ||
  fail "SIGTERM to one rank: exit $rc, $(tail -3 "$tmp/term.txt")"

# a rank killed mid-run ends the job with an error (mpirun's exit status), within a minute
mpi train --data toy:moons --model toy-mlp --steps 1000000 --batch 64 --out "$tmp/kill" --log-every 100000 >"$tmp/kill.txt" 2>&1 &
job=$!
for _ in $(seq 100); do [ -e "$tmp/kill/log.jsonl" ] && [ -s "$tmp/kill/log.jsonl" ] && break; sleep 0.2; done
victim=$(pgrep -f -- "^$B train .*--out $tmp/kill" | tail -1) # a rank, not mpirun
[ -n "$victim" ] && kill -9 "$victim" || fail "no rank to kill"
rc=0
for _ in $(seq 120); do kill -0 "$job" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$job" 2>/dev/null; then fail "the job hangs after a rank was killed"; kill -9 "$job"; fi
wait "$job" || rc=$?
[ "$rc" != 0 ] || fail "a killed rank: the job exited 0"
grep -qiE "signal 9|killed" "$tmp/kill.txt" || fail "a killed rank: mpirun does not say so: $(tail -5 "$tmp/kill.txt")"
finish test_mpi
