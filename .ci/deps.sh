#!/usr/bin/env bash
# Installs the Debian 12 packages xhal builds and tests with, when missing.
# Sourced by .ci/main.sh and .ci/test.sh; safe to run again.
set -euo pipefail
XHAL_DEPS=(gcc make cmake pkg-config check libsubunit-dev
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
  libopenblas-dev libclblast-dev python3 libxml2-utils clang valgrind doxygen)
missing=()
for pkg in "${XHAL_DEPS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "xhal: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
