#!/usr/bin/env bash
# Concurrent use of one cache directory: two training runs start together on an empty kernel
# cache (both compile and store every program), and two `cldiff tune` runs write the same tuning
# table at once; afterwards `cldiff cache --verify` finds every entry whole, a third run on the
# warm cache gives the same weights as the two, and a damaged entry is a miss, not an error.
# (Two runs pointed at one output directory: tests/test_cli.sh, the second is refused.)
source "$(dirname "$0")/cli_common.sh" "$1"
export CLDIFF_CACHE_DIR="$tmp/cache"
# in the sanitizer build: the tune runs make PoCL compile new kernels, whose LLVM allocations are
# the driver's own (tests/lsan.supp says which and why); full stacks so the suppressions match
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp"
run() { "$B" train --data toy:moons --model toy-mlp --out "$tmp/$1" --steps 6 --batch 64 --seed 2 --log-every 6 >"$tmp/$1.txt" 2>&1; }
run a & pa=$!
run b & pb=$!
wait $pa || fail "first concurrent run: $(cat "$tmp/a.txt")"
wait $pb || fail "second concurrent run: $(cat "$tmp/b.txt")"
tune() { "$B" tune --shape 48,40,56 --shape 64,32,16 --no-clblast --max-seconds 2 >"$tmp/tune$1.txt" 2>&1; }
tune 1 & p1=$!
tune 2 & p2=$!
wait $p1 || fail "first concurrent tune: $(cat "$tmp/tune1.txt")"
wait $p2 || fail "second concurrent tune: $(cat "$tmp/tune2.txt")"
"$B" cache --verify >"$tmp/v.txt" 2>&1 || fail "cache --verify after concurrent writers: $(cat "$tmp/v.txt")"
grep -q " 0 damaged" "$tmp/v.txt" && ! grep -q ": 0 entries" "$tmp/v.txt" || fail "cache --verify: $(cat "$tmp/v.txt")"
ls "$CLDIFF_CACHE_DIR"/gemm-tune-*.json >/dev/null 2>&1 || fail "no tuning table was written"
run c || fail "a run on the warm cache: $(cat "$tmp/c.txt")"
w=ckpt-6/model/diffusion_pytorch_model.safetensors
cmp -s "$tmp/a/$w" "$tmp/b/$w" && cmp -s "$tmp/a/$w" "$tmp/c/$w" || fail "the concurrent runs and the warm-cache run differ"
# a damaged entry (one byte of its payload flipped) is found by --verify and is only a miss
f=$(ls "$CLDIFF_CACHE_DIR"/*.bin | head -1)
printf '\377' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
rc=0; "$B" cache --verify >"$tmp/v2.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "1 damaged" "$tmp/v2.txt" || fail "a damaged entry: exit $rc, $(cat "$tmp/v2.txt")"
run d || fail "a run over a damaged entry: $(cat "$tmp/d.txt")"
cmp -s "$tmp/a/$w" "$tmp/d/$w" || fail "a run over a damaged entry gives other weights"
"$B" cache --verify >/dev/null 2>&1 || fail "the damaged entry was not rewritten by the run that missed it"
"$B" cache --clear >/dev/null && [ ! -e "$CLDIFF_CACHE_DIR" ] || fail "cache --clear left the directory"
finish test_concurrent
