#!/bin/sh
# run_fuzz.sh - builds the libFuzzer harnesses with clang (ASan + UBSan)
# and runs each for a bounded time, starting from the checked-in corpus.
#
# Usage: conformance/fuzz/run_fuzz.sh [SECONDS] [BUILD_DIR] [HARNESS...]
#   SECONDS    per harness (default 30)
#   BUILD_DIR  default <repo>/build-fuzz
#   HARNESS    default: loader_env npu_ring xfail api_seq api_valid
# Prints executions and findings per harness; a finding's reproducer is
# left in BUILD_DIR/fuzz-artifacts/<harness>/ (replay it with
# BUILD_DIR/conformance/fuzz/fuzz_<harness> FILE, or with the gcc-built
# replay_<harness> FILE). Exits 1 if any harness found a crash, leak or
# timeout, 2 if the build failed.
set -u
seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${2:-$root/build-fuzz}
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
harnesses=${*:-loader_env npu_ring xfail api_seq api_valid}
jobs=${XHAL_FUZZ_JOBS:-2}

if [ ! -f "$build/CMakeCache.txt" ]; then
  # The -z undefs: libxhal and the plugins are instrumented but, built by
  # clang, carry no sanitizer runtime; the harness executable provides it.
  CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DXHAL_FUZZ=ON -DXHAL_SANITIZE="address;undefined" \
    -DXHAL_BUILD_OPENCL=OFF -DXHAL_BUILD_BENCH=OFF -DXHAL_BUILD_SAMPLES=OFF \
    -DCMAKE_C_STANDARD_LIBRARIES="-Wl,-z,undefs" >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; exit 2; }
fi
targets=""
for h in $harnesses; do targets="$targets fuzz_$h"; done
# The plugins the API harnesses load are named here: they are modules
# the harnesses open at run time, not link dependencies.
cmake --build "$build" -j"$jobs" --target $targets xhal_cpu xhal_npu >"$build/fuzz-build.log" 2>&1 ||
  { tail -40 "$build/fuzz-build.log"; exit 2; }

export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
printf '%-12s %10s %8s %9s  %s\n' harness execs exec/s findings result
for h in $harnesses; do
  bin="$build/conformance/fuzz/fuzz_$h"
  work="$build/fuzz-corpus/$h"
  art="$build/fuzz-artifacts/$h"
  log="$build/fuzz-$h.log"
  mkdir -p "$work" "$art"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -print_final_stats=1 -artifact_prefix="$art/" \
    "$work" "$here/corpus/$h" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  findings=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' \
    -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  if [ "$rc" -eq 0 ] && [ "$findings" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc; see $log)"
    status=1
  fi
  printf '%-12s %10s %8s %9s  %s\n' "$h" "${execs:-?}" "${rate:-?}" \
    "$findings" "$result"
done
exit $status
