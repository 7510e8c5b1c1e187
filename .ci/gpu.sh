#!/usr/bin/env bash
# The GPU job (a machine with an NVIDIA GPU, its driver and the CUDA
# toolkit): builds Release, lists plugins and devices, runs the
# conformance suite's core profile on the CUDA plugin and prints its
# compliance table, then the CUDA figures of xhal-bench beside the
# OpenCL plugin's on the same GPU. Exits nonzero if the build, the suite
# or a figure's run fails (a figure missing its target is reported in
# the table, not an exit status: pass --check through XHAL_BENCH_ARGS).
#
#   XHAL_BUILD_DIR=dir   build directory (default build-gpu)
#   XHAL_SKIP_BUILD=1    use an existing build in XHAL_BUILD_DIR
#   XHAL_BENCH_ARGS=...  extra xhal-bench arguments (--quick, --check)
#   XHAL_BENCH_RUNS=n    run the bench n times (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${XHAL_BUILD_DIR:-build-gpu}
if [ "${XHAL_SKIP_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DXHAL_BUILD_TESTS=OFF \
    | grep -E "plugins/cuda|bench" || true
  cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
PLUGIN="$BUILD/lib/xhal/plugins/libxhal_cuda.so"
if [ ! -e "$PLUGIN" ]; then
  echo "gpu.sh: $PLUGIN was not built (no CUDA toolkit?)" >&2
  exit 1
fi
echo "== machine"
date -u +"%Y-%m-%d %H:%M UTC"
git rev-parse --short HEAD 2>/dev/null || cat REVISION 2>/dev/null \
  || echo "(no git revision)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  || echo "(nvidia-smi not available)"
echo "== xhal-info"
"$BUILD"/bin/xhal-info
echo "== xhal-cts --profile core --plugin libxhal_cuda.so"
# The figures are worth seeing also when the suite fails: its status is
# the script's, at the end.
cts_rc=0
"$BUILD"/bin/xhal-cts --plugin "$PLUGIN" --profile core \
  --json "$BUILD"/cts-cuda-core.json --junit "$BUILD"/cts-cuda-core.xml \
  || cts_rc=$?
runs=${XHAL_BENCH_RUNS:-1}
for ((i = 1; i <= runs; ++i)); do
  echo "== xhal-bench --only cuda. --only opencl.launch --only opencl.copy (run $i of $runs)"
  # shellcheck disable=SC2086
  "$BUILD"/bin/xhal-bench --only cuda. --only opencl.launch \
    --only opencl.copy ${XHAL_BENCH_ARGS:-}
done
exit "$cts_rc"
