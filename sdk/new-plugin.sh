#!/usr/bin/env bash
# new-plugin.sh NAME DIR - start a device plugin from the xhal template.
#
# Copies the template (the "acme" plugin) to DIR with every "acme" renamed
# to NAME: file names, the C prefix (acme_ -> NAME_), macros (ACME_ ->
# NAME_), the plugin name the host reports, and the library file
# libxhal_NAME.so. NAME must be a lowercase C identifier (it becomes part
# of C names and of the file name libxhal discovers), 2 to 32 characters,
# and not the name of a plugin xhal ships (cpu, opencl, npu, cuda). DIR must not exist yet.
#
# Then: cmake -S DIR -B DIR/build -DCMAKE_PREFIX_PATH=<xhal prefix>
#       cmake --build DIR/build && ctest --test-dir DIR/build
set -euo pipefail

usage() {
  echo "usage: $(basename "$0") NAME DIR" >&2
  echo "  NAME  lowercase C identifier, e.g. mynpu (becomes libxhal_NAME.so)" >&2
  echo "  DIR   new directory for the plugin's sources" >&2
  exit 2
}

[ $# -eq 2 ] || usage
name=$1
dir=$2

# Lowercase letters, digits and underscores, starting with a letter: the
# name is spliced into C identifiers, macro names, a CMake target and a
# file name, and must be safe in all of them (and in the sed below).
if ! [[ $name =~ ^[a-z][a-z0-9_]{1,31}$ ]]; then
  echo "error: invalid plugin name '$name': use 2-32 lowercase letters," \
    "digits or underscores, starting with a letter" >&2
  exit 1
fi
case $name in
  cpu | opencl | npu | cuda)
    # libxhal loads one plugin per name; a second "cpu" would be rejected
    # as a duplicate of the shipped one.
    echo "error: '$name' is the name of a plugin that ships with xhal" >&2
    exit 1
    ;;
  acme)
    echo "error: '$name' is the template's own name; choose yours" >&2
    exit 1
    ;;
esac

template=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/template
if [ ! -f "$template/CMakeLists.txt" ]; then
  echo "error: template not found at $template" >&2
  exit 1
fi
if [ -e "$dir" ]; then
  echo "error: '$dir' already exists; choose a new directory" >&2
  exit 1
fi

upper=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
title=$(printf '%s' "${name:0:1}" | tr '[:lower:]' '[:upper:]')${name:1}

mkdir -p "$dir"
# Copy file by file so that renamed paths and rewritten contents come out
# together; build directories inside the template are skipped.
(cd "$template" && find . -type f ! -path './build*' -print) |
  while IFS= read -r rel; do
    rel=${rel#./}
    out=$dir/${rel//acme/$name}
    mkdir -p "$(dirname "$out")"
    sed -e "s/acme/$name/g" -e "s/ACME/$upper/g" -e "s/Acme/$title/g" \
      "$template/$rel" >"$out"
    # Keep the executable bit of scripts.
    if [ -x "$template/$rel" ]; then chmod +x "$out"; fi
  done

echo "created plugin '$name' in $dir"
echo "next: cmake -S $dir -B $dir/build -DCMAKE_PREFIX_PATH=<xhal prefix>"
echo "      cmake --build $dir/build && ctest --test-dir $dir/build"
