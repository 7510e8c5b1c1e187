#!/usr/bin/env bash
# flake_rate.sh - runs xhal-cts N times on each plugin and counts, per
# test, how many runs failed it. On a plugin without defects every count
# must be 0: a test that fails a correct plugin now and then is a defect
# of the suite (docs/conformance.md, "False failures").
#
# usage: flake_rate.sh [-n RUNS] [-c XHAL_CTS] [-l LOAD] PLUGIN... [-- CTS ARGS]
#   -n RUNS   runs per plugin (default 50)
#   -c PATH   the xhal-cts binary (default: xhal-cts on PATH)
#   -l LOAD   also run LOAD busy loops beside the suite, to stress the
#             timing the counters depend on (default 0)
#   PLUGIN    plugin files (.so) to test, one after the other
#   CTS ARGS  passed to every run, e.g. --suite abi or --profile core
#
# Prints one table per plugin: every test that failed at least once, with
# its failure count, and the total of failed runs; the first message of
# each failing test follows the table. Exit status 0 when no run failed,
# 1 otherwise, 2 on a usage error. Run it under nice on a shared machine.
set -euo pipefail

runs=50
cts=xhal-cts
load=0
plugins=()
while [ $# -gt 0 ]; do
  case $1 in
    -n) runs=$2; shift 2 ;;
    -c) cts=$2; shift 2 ;;
    -l) load=$2; shift 2 ;;
    --) shift; break ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "flake_rate.sh: unknown option $1" >&2; exit 2 ;;
    *) plugins+=("$1"); shift ;;
  esac
done
cts_args=("$@")
if [ ${#plugins[@]} -eq 0 ] || ! [[ $runs =~ ^[1-9][0-9]*$ ]] ||
  ! [[ $load =~ ^[0-9]+$ ]]; then
  echo "usage: flake_rate.sh [-n RUNS] [-c XHAL_CTS] [-l LOAD] PLUGIN..." \
    "[-- CTS ARGS]" >&2
  exit 2
fi

work=$(mktemp -d)
loaders=()
cleanup() {
  for pid in "${loaders[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
for ((i = 0; i < load; ++i)); do
  (while :; do :; done) &
  loaders+=("$!")
done

status=0
for plugin in "${plugins[@]}"; do
  failed_runs=0
  : >"$work/fails"
  start=$(date +%s)
  for ((r = 1; r <= runs; ++r)); do
    rc=0
    "$cts" --plugin "$plugin" "${cts_args[@]}" >"$work/out" 2>&1 || rc=$?
    # A failing test prints "  FAIL  suite.test [R-...] 0.01s: message".
    grep -E '^  (FAIL|XPASS) ' "$work/out" >>"$work/fails" || true
    if [ "$rc" -ne 0 ]; then
      failed_runs=$((failed_runs + 1))
      if ! grep -qE '^  (FAIL|XPASS) ' "$work/out"; then
        echo "  FAIL  (run) [-] exit status $rc: $(tail -n 1 "$work/out")" \
          >>"$work/fails"
      fi
    fi
  done
  secs=$(($(date +%s) - start))
  echo "== $plugin: $runs runs of xhal-cts ${cts_args[*]} (${secs}s)"
  printf '  %-52s %8s %8s\n' TEST FAILURES RUNS
  if [ -s "$work/fails" ]; then
    awk '{print $2}' "$work/fails" | sort | uniq -c | sort -rn |
      while read -r count test; do
        printf '  %-52s %8d %8d\n' "$test" "$count" "$runs"
      done
  else
    printf '  %-52s %8d %8d\n' "(every test)" 0 "$runs"
  fi
  echo "  failed runs: $failed_runs of $runs"
  if [ -s "$work/fails" ]; then
    echo "  first message of each failing test:"
    sort -u -k2,2 "$work/fails" | cut -c1-300 | sed 's/^/  /'
    status=1
  fi
  [ "$failed_runs" -eq 0 ] || status=1
done
exit $status
