#!/usr/bin/env bash
# `cldiff plot` through the command line: a CSV with error-bar columns and a training log draw a
# PNG; wrong --err counts, missing columns or files and non-numeric x values are refused with
# exit 2, the culprit named, and no PNG written.
#   Args: <cldiff binary>
# shellcheck source=tests/cli_common.sh
source "$(dirname "$0")/cli_common.sh"
png() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e47 ]; }

printf 'steps,a,b,a_std,b_std\n10,60,30,5,2\n20,55,28,4,nan\n50,50,25,6,1\n100,52,24,3,2\n' >"$tmp/m.csv"
"$B" plot --csv "$tmp/m.csv" --x steps --y a,b --err a_std,b_std --logy --out "$tmp/m.png" >"$tmp/m.txt" 2>&1 ||
  fail "plot with --err: exit $?, $(cat "$tmp/m.txt")"
png "$tmp/m.png" || fail "plot with --err wrote no PNG"
printf '{"step":1,"loss":0.5}\n{"step":2,"loss":0.25}\n' >"$tmp/log.jsonl"
"$B" plot --log "$tmp/log.jsonl" --out "$tmp/l.png" >"$tmp/l.txt" 2>&1 || fail "plot --log: exit $?, $(cat "$tmp/l.txt")"
png "$tmp/l.png" || fail "plot --log wrote no PNG"

bad() { # expected-substring args...
  local want=$1 rc=0
  shift
  "$B" plot "$@" --out "$tmp/bad.png" >"$tmp/bad.txt" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "plot $*: exit $rc, expected 2"
  grep -q -- "$want" "$tmp/bad.txt" || { fail "plot $*: message does not name $want"; cat "$tmp/bad.txt" >&2; }
  [ ! -e "$tmp/bad.png" ] || { fail "plot $*: wrote $tmp/bad.png"; rm -f "$tmp/bad.png"; }
}
bad --err --csv "$tmp/m.csv" --x steps --y a,b --err a_std
bad c_std --csv "$tmp/m.csv" --x steps --y a --err c_std
bad --err --log "$tmp/log.jsonl" --err a_std
bad nope --csv "$tmp/m.csv" --x steps --y nope
bad missing.csv --csv "$tmp/missing.csv" --x steps --y a
printf 'steps,a\nten,1\n' >"$tmp/x.csv"
bad "'ten'" --csv "$tmp/x.csv" --x steps --y a

finish "cli plot"
