#!/usr/bin/env bash
# Run every Go fuzz target in the repository, one after another, for FUZZTIME each
# (default 10m), and print per target the exec count and whether it crashed.
#
#   hack/fuzz.sh [FUZZTIME]                      # e.g. hack/fuzz.sh 30s
#   FUZZ_PKGS="./internal/oci/... ./internal/wasm/..." nice -n 19 hack/fuzz.sh 10m
#
# Targets are found with `go test -list '^Fuzz'` in each package whose test files
# declare one. Each runs as `go test -run '^$' -fuzz '^Name$' -fuzztime FUZZTIME
# -parallel 1 PKG` (one worker: the machine is shared; set GOMAXPROCS to cap it further).
# A crash makes go write the failing input to PKG/testdata/fuzz/Name/<hash>; commit it
# with the fix so that plain `go test` replays it.
#
# Environment:
#   FUZZ_PKGS   package patterns to search (default ./...)
#   FUZZ_LOGS   directory for one log per target, <Name>.log (<pkg>_<Name>.log when two
#               packages share a name); default tmp/fuzz
# Exit status: 0 when no target crashed, 1 otherwise (also when interrupted).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
FUZZTIME=${1:-10m}
LOGS=${FUZZ_LOGS:-$ROOT/tmp/fuzz}
read -r -a PKGS <<<"${FUZZ_PKGS:-./...}"
mkdir -p "$LOGS"

# targets prints "<import path> <target>" for every fuzz target in PKGS.
targets() {
  local pkg dir
  go list -f '{{.ImportPath}} {{.Dir}}' "${PKGS[@]}" | while read -r pkg dir; do
    grep -qs '^func Fuzz' "$dir"/*_test.go || continue
    go test -list '^Fuzz' "$pkg" | sed -n "s|^\(Fuzz[A-Za-z0-9_]*\)$|$pkg \1|p"
  done
}

interrupted=0
trap 'interrupted=1' INT TERM

listed=$(targets) || { echo "fuzz.sh: listing the fuzz targets failed" >&2; exit 1; }
mapfile -t found <<<"$listed"
if [ -z "$listed" ]; then
  echo "fuzz.sh: no fuzz targets in ${PKGS[*]}" >&2
  exit 1
fi
declare -A count=()
for t in "${found[@]}"; do count[${t#* }]=$((${count[${t#* }]:-0} + 1)); done

echo "fuzz.sh: ${#found[@]} targets, $FUZZTIME each, logs in $LOGS"
module=$(go list -m)
results=()
failed=0
for t in "${found[@]}"; do
  pkg=${t% *} name=${t#* }
  rel=${pkg#"$module"/}
  log=$LOGS/$name.log
  [ "${count[$name]}" -gt 1 ] && log=$LOGS/${rel//\//_}_$name.log
  start=$(date +%s)
  rc=0
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -parallel 1 "$pkg" >"$log" 2>&1 || rc=$?
  # go prints "fuzz: elapsed: 10m0s, execs: 1234 (2/sec), new interesting: ..." every 3s.
  execs=$(sed -n 's/^fuzz: elapsed: .*, execs: \([0-9]*\) .*/\1/p' "$log" | tail -n 1)
  crasher=$(sed -n 's/^ *Failing input written to \(.*\)$/\1/p' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    result=ok
  elif [ -n "$crasher" ]; then
    result="CRASH ($rel/$crasher)"
    failed=1
  else
    result="FAILED (exit $rc, see $log)"
    failed=1
  fi
  line=$(printf '%-40s %-28s %12s execs %5ss  %s' "$name" "$rel" "${execs:-0}" "$(($(date +%s) - start))" "$result")
  echo "$line"
  results+=("$line")
  if [ "$interrupted" -eq 1 ]; then
    echo "fuzz.sh: interrupted" >&2
    failed=1
    break
  fi
done

echo
echo "summary ($FUZZTIME per target):"
printf '%s\n' "${results[@]}"
exit "$failed"
