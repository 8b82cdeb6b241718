#!/usr/bin/env bash
# Class-conditional work through the `cldiff` command line: an ImageFolder of JPEGs and PNGs (one
# subfolder per class) trains a class-table UNet with label dropout; `cldiff info` names the
# classes; `sample --class all --guidance W` writes one grid row per class, --guidance 1 gives the
# plain conditional model's bytes, no --class samples the null class; the misuses exit with the
# problem named: a class out of range, guidance or no --class on a run trained without label
# dropout, --cond-drop on an unconditional model, a conditional model on unlabelled data.
#   Args: <cldiff binary>
# shellcheck source=tests/cli_common.sh
source "$(dirname "$0")/cli_common.sh"
G=$(dirname "$0")/golden/jpeg
# a 2-class folder: 3 JPEGs and 1 PNG (sorted: cat = 0, dog = 1)
mkdir -p "$tmp/data/cat" "$tmp/data/dog" "$tmp/flat"
cp "$G/rgb.jpg" "$tmp/data/cat/a.jpg"; cp "$G/prog.jpg" "$tmp/data/cat/b.jpeg"
cp "$G/gray.jpg" "$tmp/data/dog/c.jpg"; cp "$G/rgb.jpg" "$tmp/flat/a.jpg"
cp "$(dirname "$0")/fuzz/corpus/png/gray.png" "$tmp/data/dog/d.png"
# the tiny UNet with a class table of 3 rows (2 classes + the null class)
cat >"$tmp/cond.json" <<'JSON'
{"_class_name": "UNet2DModel", "sample_size": 8, "in_channels": 3, "out_channels": 3, "block_out_channels": [16, 32],
 "down_block_types": ["DownBlock2D", "AttnDownBlock2D"], "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
 "layers_per_block": 1, "attention_head_dim": 8, "norm_num_groups": 4, "num_class_embeds": 3}
JSON
run() { # name expected-exit expected-substring command...
  local name=$1 want=$2 msg=$3 rc=0
  shift 3
  "$@" >"$tmp/$name.txt" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { fail "$name: exit $rc, expected $want"; cat "$tmp/$name.txt" >&2; }
  [ -z "$msg" ] || grep -q -- "$msg" "$tmp/$name.txt" || { fail "$name: output does not say '$msg'"; cat "$tmp/$name.txt" >&2; }
}
tr() { "$B" train --data "folder:$tmp/data" --model "$tmp/cond.json" --steps 4 --batch 4 --save-every 4 "$@"; }
run train 0 "2 classes" tr --out "$tmp/run" --cond-drop 0.5
run info 0 "class 1: dog" "$B" info "$tmp/run"
grep -q "null class 2" "$tmp/info.txt" || fail "info: no null class 2"
grep -Eq "\"null_class\":[[:space:]]*2" "$tmp/run/ckpt-4/trainer.json" || fail "trainer.json: no null_class"
S=("$B" sample --ckpt "$tmp/run" --n 6 --steps 5 --batch 4)
run all 0 "" "${S[@]}" --out "$tmp/all.png" --class all --guidance 3 --npy "$tmp/all.npy"
# the PNG header's width and height (bytes 16-23): 3 columns and 2 rows of 8-pixel images with 2-pixel gaps
wh=$(od -An -tu1 -j16 -N8 "$tmp/all.png" | awk '{print $3 * 256 + $4, $7 * 256 + $8}')
[ "$wh" = "32 22" ] || fail "--class all: the grid is $wh, not 2 rows of 3 (32 x 22)"
run w1 0 "" "${S[@]}" --out "$tmp/w1.png" --class 0,1 --guidance 1 --npy "$tmp/w1.npy"
run plain 0 "" "${S[@]}" --out "$tmp/plain.png" --class 0,1 --npy "$tmp/plain.npy"
cmp -s "$tmp/w1.npy" "$tmp/plain.npy" || fail "--guidance 1 is not the plain conditional model's bytes"
cmp -s "$tmp/w1.npy" "$tmp/all.npy" && fail "--guidance 3 changed nothing"
run null 0 "" "${S[@]}" --out "$tmp/null.png" --npy "$tmp/null.npy"
# the null class is not a class to ask for by number
run null2 2 "classes are 0..1" "${S[@]}" --out "$tmp/null2.png" --class 2 --null-class 2
run range 2 "classes are 0..1" "${S[@]}" --out "$tmp/x.png" --class 2
run dpmpp 0 "" "${S[@]}" --out "$tmp/pp.png" --class 1 --guidance 2 --sampler dpm++2m
run unipc 0 "" "${S[@]}" --out "$tmp/uni.png" --class 1 --guidance 2 --sampler unipc --karras
# a run without label dropout: a class is needed, guidance is refused
run train0 0 "no label dropout" tr --out "$tmp/run0"
S0=("$B" sample --ckpt "$tmp/run0" --n 2 --steps 3)
run noclass 1 "--class" "${S0[@]}" --out "$tmp/y.png"
run noguide 1 "label dropout" "${S0[@]}" --out "$tmp/y.png" --class 1 --guidance 2
run classok 0 "" "${S0[@]}" --out "$tmp/y.png" --class 1
# a guidance sweep: the CSV has a row per weight and a FID and accuracy column per class, the plots exist
run cls 0 "" "$B" train-classifier --data "folder:$tmp/data" --out "$tmp/cls" --epochs 1 --batch 4 --size 8
run sweep 0 "guidance.csv" "$B" eval guidance --ckpt "$tmp/run" --features "$tmp/cls" --ref "folder:$tmp/data" --weights 1,3 \
  --per-class 3 --steps 3 --out "$tmp/sweep"
[ "$(wc -l <"$tmp/sweep/guidance.csv")" = 3 ] || fail "eval guidance: guidance.csv does not have a header and 2 rows"
head -1 "$tmp/sweep/guidance.csv" | grep -q "fid_class1,accuracy_class1" || fail "eval guidance: no per-class columns"
for f in fid_vs_guidance.png precision_recall.png guidance.json; do [ -s "$tmp/sweep/$f" ] || fail "eval guidance: no $f"; done
run sweep0 1 "label dropout" "$B" eval guidance --ckpt "$tmp/run0" --features "$tmp/cls" --ref "folder:$tmp/data" --weights 2 \
  --per-class 2 --steps 2 --out "$tmp/sweep0"
# training misuses
run nolabels 1 "has no labels" "$B" train --data "folder:$tmp/flat" --model "$tmp/cond.json" --out "$tmp/r2" --steps 1 --batch 1
run uncond 1 "--cond-drop" "$B" train --data "folder:$tmp/data" --model tiny --out "$tmp/r3" --steps 1 --batch 1 --cond-drop 0.1
run badp 2 "--cond-drop" "$B" train --data "folder:$tmp/data" --model "$tmp/cond.json" --out "$tmp/r4" --steps 1 --cond-drop 1.5
run uncls 2 "no class conditioning" "$B" sample --ckpt "$(dirname "$0")/golden/unet_tiny" --out "$tmp/z.png" --n 1 --steps 2 --class 1
finish test_cli_cond
