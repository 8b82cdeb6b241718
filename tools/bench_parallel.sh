#!/usr/bin/env bash
# The cost of data parallelism on this machine, in one run: the time of one gradient all-reduce of
# the fmnist-s and cifar10-ddpm parameters over 2 ranks (shared memory), and the seconds per
# training step of fmnist-xs at global batch 32 with --accum 1, 2, 4 in one process and with
# 2 ranks (mpirun, one PoCL thread each) against one process with one thread and --accum 2, and
# 2 ranks with the all-reduce overlapped in buckets (the default) against one all-reduce after the
# backward pass (--bucket-mb 0), for fmnist-xs and fmnist-s.
#   tools/bench_parallel.sh BIN [STEPS]     (median of the steps after the first two)
set -euo pipefail
bin=$(realpath "$1"); steps=${2:-8}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mpi() { mpirun -np 2 --oversubscribe --allow-run-as-root --bind-to none -x POCL_MAX_PTHREAD_COUNT -x CLDIFF_CACHE_DIR "$@"; }
median() { python3 -c "import json,sys,statistics as s; r=[json.loads(l) for l in open(sys.argv[1])]; r=[x['seconds'] for x in r if 'seconds' in x][2:]; print(f'{s.median(r):.3f}')" "$1"; }
run() { # name model [mpi] flags...
  local name=$1 model=$2; shift 2
  "$@" --data fmnist --model "$model" --steps "$steps" --batch 32 --seed 1 --save-every 100000 --log-every 100000 \
    --out "$work/$name" >/dev/null 2>&1
  echo "$name: $(median "$work/$name/log.jsonl") s/step"
}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%FT%TZ)"
export POCL_MAX_PTHREAD_COUNT=1
for m in fmnist-s cifar10-ddpm; do mpi "$bin" bench allreduce --model "$m" --reps 7; done
for m in fmnist-xs fmnist-s; do # kernels cached
  "$bin" train --data fmnist --model "$m" --steps 2 --batch 32 --accum 2 --out "$work/warm-$m" >/dev/null 2>&1
done
run "fmnist-xs, 1 process, 1 thread, accum 2" fmnist-xs "$bin" train --accum 2
run "fmnist-xs, 2 ranks x 1 thread" fmnist-xs mpi "$bin" train
for m in fmnist-xs fmnist-s; do
  run "$m, 2 ranks x 1 thread, buckets of 4 MiB" "$m" mpi "$bin" train --bucket-mb 4
  run "$m, 2 ranks x 1 thread, one all-reduce after the backward pass" "$m" mpi "$bin" train --bucket-mb 0
done
unset POCL_MAX_PTHREAD_COUNT
for k in 1 2 4; do run "fmnist-xs, 1 process, 2 threads, accum $k" fmnist-xs "$bin" train --accum "$k"; done
