#!/usr/bin/env bash
# The test job: build once with tests, run CTest in parallel, then the
# sanitizer build on the subset that needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/deps.sh
JOBS=${XHAL_JOBS:-2}
BUILD=${XHAL_BUILD_DIR:-build-test}

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$JOBS"
(cd "$BUILD" && ctest -j"$JOBS" --output-on-failure)

# ASan+UBSan: libxhal, the CPU plugin and their tests.
ASAN="$BUILD-asan"
cmake -S . -B "$ASAN" -DCMAKE_BUILD_TYPE=Debug -DXHAL_SANITIZE="address;undefined" \
  -DXHAL_BUILD_OPENCL=OFF -DXHAL_BUILD_NPU=OFF -DXHAL_BUILD_SAMPLES=OFF -DXHAL_BUILD_BENCH=OFF >/dev/null
cmake --build "$ASAN" -j"$JOBS"
(cd "$ASAN" && ASAN_OPTIONS=detect_leaks=1 ctest -j"$JOBS" --output-on-failure)
