# sourced by the command-line tests: B = the cldiff binary ($1), tmp = a scratch directory removed
# on exit, fail MESSAGE counts a failure, finish NAME exits 1 if any failed
set -euo pipefail
B=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
finish() {
  [ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
  echo "$1: all checks passed"
}
