#!/usr/bin/env bash
# The main job: build everything, list plugins and devices, run a sample
# and the conformance suite over every plugin, print the compliance table.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/deps.sh
BUILD=${XHAL_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DXHAL_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
echo "== xhal-info"
"$BUILD"/bin/xhal-info
for sample in quickstart; do
  echo "== sample: $sample"
  "$BUILD"/bin/"$sample"
done
