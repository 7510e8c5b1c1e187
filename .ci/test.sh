#!/usr/bin/env bash
# The test job: build once with tests and run CTest in parallel, then the
# sanitizer builds on the subsets that need them, then bounded fuzzing.
# docs/reliability.md says what each stage proves.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/deps.sh
JOBS=${XHAL_JOBS:-2}
BUILD=${XHAL_BUILD_DIR:-build-test}
# OpenBLAS's own threads are invisible to the sanitizers' bookkeeping
# (TSan reports them as races) and add nothing to what is tested here.
export OPENBLAS_NUM_THREADS=1

echo "== build and CTest (unit tests, CTS core on every plugin, samples,"
echo "   fuzz corpus replays, stress, valgrind, SDK install)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$JOBS"
(cd "$BUILD" && ctest -j"$JOBS" --output-on-failure)

echo "== ASan+UBSan: unit tests and CTS core on the CPU, NPU and OpenCL plugins"
ASAN="$BUILD-asan"
cmake -S . -B "$ASAN" -DCMAKE_BUILD_TYPE=Debug -DXHAL_SANITIZE="address;undefined" \
  -DXHAL_BUILD_SAMPLES=OFF -DXHAL_BUILD_BENCH=OFF >/dev/null
cmake --build "$ASAN" -j"$JOBS"
# The faulty-plugin tests prove the suite's verdicts, not memory safety,
# and the SDK tests install and rebuild; the plain build runs both.
(cd "$ASAN" && ASAN_OPTIONS=detect_leaks=1 \
  LSAN_OPTIONS=suppressions=$PWD/../plugins/opencl/lsan.supp \
  CK_TIMEOUT_MULTIPLIER=4 ctest -j"$JOBS" --output-on-failure -E '^(cts_faulty_|sdk_)')

echo "== TSan: the concurrency tests (stress, streams, events, pool, loader, CTS core,"
echo "   failure causes, plugin calls outside shared locks)"
TSAN="$BUILD-tsan"
cmake -S . -B "$TSAN" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXHAL_SANITIZE=thread \
  -DXHAL_BUILD_OPENCL=OFF -DXHAL_BUILD_SAMPLES=OFF -DXHAL_BUILD_BENCH=OFF >/dev/null
cmake --build "$TSAN" -j"$JOBS"
(cd "$TSAN" && TSAN_OPTIONS=halt_on_error=1 CK_TIMEOUT_MULTIPLIER=4 \
  ctest -j"$JOBS" --output-on-failure \
  -R '^(stress_test|stream_test|event_test|cross_plugin_test|host_func_test|mem_pool_test|loader_test|cpu_plugin_test|npu_plugin_test|cts_cpu_core|cts_npu_core|cts_cross_plugin|cts_cross_plugin_intree|failure_cause_test|plugin_lock_test)$')

echo "== libFuzzer: every harness for a bounded time (clang, ASan+UBSan)"
bash conformance/fuzz/run_fuzz.sh "${XHAL_FUZZ_SECONDS:-20}" "$BUILD-fuzz"
