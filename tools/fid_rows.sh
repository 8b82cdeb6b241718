# Sourced by the evidence scripts (tools/ts_released.sh, tools/ip_mechanism.sh,
# tools/baseline_sweep.sh; tools/results.sh takes keep_npz): one FID row =
# sample N images of a model with the given options (noise seed NOISE_SEED, default 0: the same
# noise in every row), score
# them with `cldiff eval fid` against the Fashion-MNIST test set, write $out/NAME.json (the metrics,
# the options, the sampling time) and keep the images as uint8 $out/samples/NAME.npz (not with
# KEEP_SAMPLES=0). A row whose
# JSON exists is kept (the scripts resume). Needs: out, work, B, N, CLS, STEPS set by the caller.

keep_npz() { # SRC.npy DST.npz: the evaluated samples as uint8 (N,C,H,W), as cldiff writes PNGs
  mkdir -p "$(dirname "$2")"
  python3 -c "import numpy as np, sys; x = np.load(sys.argv[1]); np.savez_compressed(sys.argv[2], images=np.floor(np.clip((x + 1) * 127.5, 0, 255) + 0.5).astype(np.uint8))" \
    "$1" "$2"
}

row() { # ckpt, name, then sample options
  local ckpt=$1 name=$2; shift 2
  [ -s "$out/$name.json" ] && return 0
  local t0=$SECONDS
  "$B" sample --ckpt "$ckpt" --n "$N" --batch 250 --seed "${NOISE_SEED:-0}" --steps "$STEPS" --npy "$work/$name.npy" \
    --out "$work/$name.png" "$@" >"$work/$name.log" 2>&1 || { echo "$name failed: $(tail -n 2 "$work/$name.log")" >&2; return 1; }
  local ts=$((SECONDS - t0))
  "$B" eval fid --features "$CLS" --ref fmnist --samples "$work/$name.npy" --json >"$work/$name.fid" 2>>"$work/$name.log"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d.update(name=sys.argv[2], args=sys.argv[3], ckpt=sys.argv[6], sample_seconds=int(sys.argv[4]), samples=sys.argv[2] + '.npz'); json.dump(d, open(sys.argv[5], 'w'))" \
    "$work/$name.fid" "$name" "$*" "$ts" "$out/$name.json" "$ckpt"
  [ "${KEEP_SAMPLES:-1}" = 0 ] || keep_npz "$work/$name.npy" "$out/samples/$name.npz"
  echo "$name: FID $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['fid'], 2))" "$out/$name.json") ($ts s sampling)"
}

write_csv() { # every row of $out as $out/fid.csv
  python3 - "$out" <<'EOF'
import glob, json, os, sys
rows = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))]
rows = [r for r in rows if "fid" in r and "name" in r]  # not the other JSON files kept beside the rows
with open(os.path.join(sys.argv[1], "fid.csv"), "w") as f:
    f.write("name,fid,kid,precision,recall,clamped,sample_seconds,args\n")
    for r in rows:
        f.write(f"{r['name']},{r['fid']:.3f},{r.get('kid', float('nan')):.5f},{r.get('precision', float('nan')):.4f},"
                f"{r.get('recall', float('nan')):.4f},{r.get('clamped_fraction', float('nan'))},{r['sample_seconds']},\"{r['args']}\"\n")
EOF
}
