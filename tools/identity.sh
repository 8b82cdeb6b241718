#!/usr/bin/env bash
# Behaviour fingerprint of a cldiff binary: short fixed-seed trainings (every training method alone,
# all four at once, the other objectives) and samples from every sampler with and without
# Time-Shift, then one sha256 line per checkpoint file and sample file. Run it with the binaries
# from before and after a refactor and diff the outputs: they must be identical.
#   tools/identity.sh BIN OUTDIR > hashes.txt
set -euo pipefail
bin=$(realpath "$1"); out=$2
rm -rf "$out"; mkdir -p "$out"; cd "$out"
common="--data fmnist --model fmnist-xs --steps 3 --batch 8 --lr 1e-3 --warmup 2 --save-every 3 --seed 5 --log-every 1"
train() { name=$1; shift; "$bin" train $common --out "t_$name" "$@" >/dev/null 2>&1 || echo "train $name failed" >&2; }
train base
train ip --ip-gamma 0.1
train ipramp --ip-gamma 0.2 --ip-ramp
train debias --weighting debias
train minsnr --weighting min-snr --snr-clamp 20
train p2 --weighting p2 --prediction v
train stf --stf-ref 16
train stfflip --stf-ref 12 --hflip
train ep --ep-lambda 1 --ep-k 3
train all4 --ip-gamma 0.1 --weighting debias --stf-ref 16 --ep-lambda 1 --ep-k 2
train sigma --learn-sigma --weighting debias
train edm --prediction edm --stf-ref 16
train x0 --prediction x0 --ip-gamma 0.1 --stf-ref 16
train lsm --timestep-sampling loss-second-moment --schedule cosine
tcommon="--data toy:moons --model toy-mlp --steps 20 --batch 64 --lr 1e-3 --warmup 2 --save-every 20 --seed 5"
"$bin" train $tcommon --out toy_all4 --ip-gamma 0.1 --weighting debias --stf-ref 128 --ep-lambda 1 --ep-k 4 >/dev/null 2>&1 || echo "toy failed" >&2
s() { name=$1; ck=$2; shift 2; "$bin" sample --ckpt "$ck" --n 5 --batch 3 --seed 3 --out "s_$name.png" --npy "s_$name.npy" "$@" >/dev/null 2>&1 || echo "sample $name failed" >&2; }
s ddim t_base --ema --steps 4
s ddimeta t_base --steps 4 --eta 0.5 --clip
s ddpm t_base --sampler ddpm --steps 4 --var large
s spndm t_base --sampler spndm --steps 6
s fpndm t_base --sampler fpndm --steps 12
s dpm2 t_base --sampler dpm-solver --steps 5
s dpm3 t_base --sampler dpm-solver --order 3 --steps 6 --grid logsnr
s dpms t_base --sampler dpm-solver --singlestep --order 3 --steps 6
s tsddim t_base --steps 5 --ts-window 200 --ts-cutoff 100 --ts-coeffs shifted
s tsddimn t_base --steps 5 --ts-window 200 --ts-coeffs nominal
s tsddimt t_base --steps 5 --ts-window 200 --ts-coeffs target
s tsadm t_base --steps 5 --ts-window 200 --ts-coeffs adm
s tsddpm t_base --sampler ddpm --steps 5 --ts-window 100 --ts-coeffs shifted
s tsspndm t_base --sampler spndm --steps 6 --ts-window 100 --ts-coeffs target
s tsfpndm t_base --sampler fpndm --steps 12 --ts-window 100 --ts-coeffs shifted
s tsdpm t_base --sampler dpm-solver --steps 5 --ts-window 100
s tsdpms t_base --sampler dpm-solver --singlestep --order 2 --steps 6 --ts-window 100
s tsdata t_base --steps 5 --ts-window 100 --ts-data-aware --ts-coeffs shifted
s resp t_base --respacing tsdpm6
s sigma t_sigma --sampler ddpm --steps 4
s euler t_edm --sampler euler --steps 4
s heun t_edm --sampler heun --steps 4 --churn 10
s toy toy_all4 --steps 6 --n 20
find . -type f \( -name '*.safetensors' -o -name '*.npy' -o -name '*.png' -o -name 'trainer.json' -o -name '*.bin' \) | sort | xargs sha256sum
