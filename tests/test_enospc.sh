#!/usr/bin/env bash
# A full disk loses nothing: training into a 4 MiB tmpfs (room for one toy checkpoint, not two)
# fails at the second checkpoint with the file and ENOSPC named, exit 1, no temp directory left,
# and the first checkpoint intact and loadable. Needs mount (root); says so and passes without.
source "$(dirname "$0")/cli_common.sh" "$1"
mnt="$tmp/small"
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=4m tmpfs "$mnt" 2>/dev/null; then
  echo "test_enospc: skipped (cannot mount a tmpfs here)"
  exit 0
fi
trap 'umount "$mnt" 2>/dev/null; rm -rf "$tmp"' EXIT
rc=0
"$B" train --data toy:moons --model toy-mlp --out "$mnt/run" --steps 40 --batch 64 --save-every 10 --keep 0 --log-every 40 \
  >"$tmp/t.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a full disk: exit $rc, expected 1"
grep -q "No space left on device" "$tmp/t.txt" || fail "no ENOSPC message: $(cat "$tmp/t.txt")"
[ "$(grep -c "No space left" "$tmp/t.txt")" = 1 ] || fail "the failed save was retried: $(cat "$tmp/t.txt")"
[ -d "$mnt/run/ckpt-10" ] || fail "the first checkpoint is gone"
! ls -d "$mnt"/run/.ckpt-* >/dev/null 2>&1 || fail "a temporary checkpoint directory was left behind"
"$B" sample --ckpt "$mnt/run" --n 4 --steps 2 --out "$tmp/x.png" >/dev/null 2>&1 || fail "the checkpoint left does not load"
finish test_enospc
