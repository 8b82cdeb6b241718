#!/usr/bin/env bash
# The cost of data parallelism on this machine, in one run: the time of one gradient all-reduce of
# the fmnist-s and cifar10-ddpm parameters over 2 ranks (shared memory), and the seconds per
# training step of fmnist-xs at global batch 32 with --accum 1, 2, 4 in one process and with
# 2 ranks (mpirun, one PoCL thread each) against one process with one thread and --accum 2.
#   tools/bench_parallel.sh BIN [STEPS]     (median of the steps after the first two)
set -euo pipefail
bin=$(realpath "$1"); steps=${2:-8}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mpi() { mpirun -np 2 --oversubscribe --allow-run-as-root --bind-to none -x POCL_MAX_PTHREAD_COUNT -x CLDIFF_CACHE_DIR "$@"; }
median() { python3 -c "import json,sys,statistics as s; r=[json.loads(l) for l in open(sys.argv[1])]; r=[x['seconds'] for x in r if 'seconds' in x][2:]; print(f'{s.median(r):.3f}')" "$1"; }
run() { # name [mpi] flags...
  local name=$1; shift
  "$@" --data fmnist --model fmnist-xs --steps "$steps" --batch 32 --seed 1 --save-every 100000 --log-every 100000 \
    --out "$work/$name" >/dev/null 2>&1
  echo "$name: $(median "$work/$name/log.jsonl") s/step"
}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%FT%TZ)"
export POCL_MAX_PTHREAD_COUNT=1
for m in fmnist-s cifar10-ddpm; do mpi "$bin" bench allreduce --model "$m" --reps 7; done
"$bin" train --data fmnist --model fmnist-xs --steps 2 --batch 32 --out "$work/warm" >/dev/null 2>&1 # kernels cached
run "1 process, 1 thread, accum 2" "$bin" train --accum 2
run "2 ranks x 1 thread" mpi "$bin" train
unset POCL_MAX_PTHREAD_COUNT
for k in 1 2 4; do run "1 process, 2 threads, accum $k" "$bin" train --accum "$k"; done
