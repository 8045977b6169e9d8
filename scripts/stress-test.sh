#!/usr/bin/env bash
# Runs the whole test suite several times in a row while every core is
# busy (stress-ng), and reports each run: a suite whose verdicts depend on
# the machine's speed fails here. Usage: scripts/stress-test.sh [runs (5)]
# Exits non-zero unless every run passed. Not part of CI (it takes a while).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
if ! command -v stress-ng >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null
fi
LOGS=$(mktemp -d)
# Build first, on a quiet machine: the load is for the tests, not rustc.
cargo nextest run --workspace --locked --no-run >"$LOGS/build.log" 2>&1 || { cat "$LOGS/build.log"; exit 1; }
stress-ng --cpu "$(nproc)" --cpu-method matrixprod --timeout 4h --quiet &
STRESS=$!
trap 'kill "$STRESS" 2>/dev/null; wait "$STRESS" 2>/dev/null; rm -rf "$LOGS"' EXIT
echo "load: stress-ng --cpu $(nproc) (pid $STRESS); $RUNS runs of scripts/test"
passed=0
for i in $(seq "$RUNS"); do
  started=$SECONDS
  if scripts/test >"$LOGS/run$i.log" 2>&1; then
    verdict=passed
    passed=$((passed + 1))
  else
    verdict=FAILED
  fi
  summary=$(grep -E '^ +Summary' "$LOGS/run$i.log" | tail -1 | sed 's/^ *//')
  echo "run $i/$RUNS: $verdict in $((SECONDS - started))s; ${summary:-no summary}"
  if [[ $verdict == FAILED ]]; then
    grep -E '^ +(FAIL|TIMEOUT|SIGSEGV|SIGABRT) ' "$LOGS/run$i.log" | sort -u | sed 's/^/    /' || true
  fi
done
echo "$passed passed, $((RUNS - passed)) failed"
[[ $passed == "$RUNS" ]]
