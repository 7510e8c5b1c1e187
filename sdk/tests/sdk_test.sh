#!/usr/bin/env bash
# sdk_test.sh MODE [ARGS] - the SDK's install-tree tests (CTest runs them;
# sdk/CMakeLists.txt sets the XHAL_SDK_* environment).
#   install                  install the build tree to $XHAL_SDK_TEST_DIR/prefix
#   out_of_tree HAVE_INFO HAVE_CTS
#                            new-plugin.sh -> out-of-tree plugin build ->
#                            exports check -> libxhal loads it -> xhal-cts
#   find_package             framework programs via find_package(xhal),
#                            one of them checked by xhal::reference
#   pkg_config               the same via pkg-config xhal (xhal-reference)
# Every mode but install runs against the installed prefix with no XHAL_*
# variables set, as a user's program would.
set -euo pipefail

: "${XHAL_SDK_TEST_DIR:?}" "${XHAL_SDK_BUILD_DIR:?}" "${XHAL_SDK_CMAKE:?}"
prefix=$XHAL_SDK_TEST_DIR/prefix
mode=${1:?mode}
shift

# Nothing from the caller's environment may steer discovery or the build.
unset XHAL_PLUGINS XHAL_PLUGIN_PATH XHAL_LOG XHAL_VALIDATION XHAL_TRACE \
  LD_LIBRARY_PATH CMAKE_PREFIX_PATH PKG_CONFIG_PATH

fresh_dir() {
  rm -rf "$1"
  mkdir -p "$1"
}

configure_and_build() { # SRC BUILD [CMAKE ARGS...]
  local src=$1 build=$2
  shift 2
  "$XHAL_SDK_CMAKE" -S "$src" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$XHAL_SDK_CC" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  "$XHAL_SDK_CMAKE" --build "$build" -j2
}

case $mode in
  install)
    fresh_dir "$XHAL_SDK_TEST_DIR"
    "$XHAL_SDK_CMAKE" --install "$XHAL_SDK_BUILD_DIR" --prefix "$prefix"
    for f in include/xhal/xhal.h include/xhal/xhal_plugin.h \
      lib/cmake/xhal/xhalConfig.cmake lib/pkgconfig/xhal.pc \
      lib/pkgconfig/xhal-plugin.pc lib/pkgconfig/xhal-reference.pc \
      include/xhal/xhal_reference.h lib/libxhal_reference.a \
      share/xhal/new-plugin.sh \
      share/xhal/template/CMakeLists.txt; do
      [ -e "$prefix/$f" ] || { echo "missing from the install: $f" >&2; exit 1; }
    done
    soname=$(objdump -p "$prefix/lib/libxhal.so" | awk '$1 == "SONAME" {print $2}')
    [ "$soname" = "libxhal.so.1" ] || {
      echo "libxhal SONAME is '$soname', expected libxhal.so.1" >&2
      exit 1
    }
    ;;

  out_of_tree)
    have_info=${1:-0}
    have_cts=${2:-0}
    work=$XHAL_SDK_TEST_DIR/plugin
    fresh_dir "$work"
    # The installed generator, as a vendor runs it; bad names are refused.
    for bad in Bad-Name 9lives cpu cuda acme; do
      if "$prefix/share/xhal/new-plugin.sh" "$bad" "$work/bad" 2>/dev/null; then
        echo "new-plugin.sh accepted the bad name '$bad'" >&2
        exit 1
      fi
    done
    "$prefix/share/xhal/new-plugin.sh" sdkcheck "$work/src"
    if grep -rIl -i acme "$work/src"; then
      echo "new-plugin.sh left the placeholder in the files above" >&2
      exit 1
    fi
    configure_and_build "$work/src" "$work/build"
    plugin=$work/build/libxhal_sdkcheck.so
    [ -f "$plugin" ] || { echo "no $plugin" >&2; exit 1; }

    # Exactly one exported symbol (version script + hidden visibility).
    exports=$(nm -D --defined-only "$plugin" | awk '{print $2 ":" $3}')
    [ "$exports" = "T:xhal_plugin_query" ] || {
      echo "the plugin exports [$exports], expected only xhal_plugin_query" >&2
      exit 1
    }

    if [ "$have_info" = 1 ]; then
      # libxhal loads the plugin (XHAL_PLUGINS replaces discovery).
      info=$(XHAL_PLUGINS=$plugin "$prefix/bin/xhal-info")
      echo "$info"
      grep -Eq '^ *\[[0-9]+\] sdkcheck +loaded' <<<"$info" || {
        echo "xhal-info does not list the sdkcheck plugin as loaded" >&2
        exit 1
      }
      # With no environment, the installed libxhal finds the installed CPU
      # plugin next to itself: this prefix is not the one compiled in, so
      # only the <dir of libxhal>/xhal/plugins rule reaches it. (A CPU
      # plugin in the compiled-in prefix, if one is installed there, loads
      # first and this one is listed as its duplicate.)
      info=$("$prefix/bin/xhal-info")
      echo "$info"
      if ! grep -Eq '^ *\[[0-9]+\] cpu +loaded' <<<"$info" ||
        ! grep -Fq "$prefix/lib/xhal/plugins/libxhal_cpu.so" <<<"$info"; then
        echo "xhal-info from the install does not load its CPU plugin" >&2
        exit 1
      fi
    else
      echo "xhal-info is not built (XHAL_BUILD_SAMPLES=OFF): load check skipped"
    fi

    if [ "$have_cts" = 1 ]; then
      cts=$prefix/bin/xhal-cts
      [ -x "$cts" ] || {
        echo "xhal-cts is built but not installed to bin/ (its CMakeLists" \
          "needs install(TARGETS xhal-cts RUNTIME DESTINATION" \
          "\${CMAKE_INSTALL_BINDIR}))" >&2
        exit 1
      }
      "$cts" --plugin "$plugin" --profile core
    else
      echo "xhal-cts is not built yet: conformance run skipped"
    fi
    ;;

  find_package)
    work=$XHAL_SDK_TEST_DIR/find_package
    fresh_dir "$work"
    configure_and_build "$XHAL_SDK_SOURCE_DIR/tests/consumer" "$work" \
      -DXHAL_QUICKSTART_SOURCE="$XHAL_SDK_SOURCE_DIR/../samples/quickstart.c"
    "$work/xhal_consumer"
    # The installed reference checker judges a matmul computed through
    # xhal, and rejects a perturbed copy of it.
    "$work/xhal_reference_check"
    # matmul + softmax on the installed CPU plugin, found by default
    # discovery; the sample exits 1 on a wrong result.
    "$work/xhal_quickstart"
    ;;

  pkg_config)
    work=$XHAL_SDK_TEST_DIR/pkg_config
    fresh_dir "$work"
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    pc=${XHAL_SDK_PKG_CONFIG:-pkg-config}
    # Word splitting of the flags is intended, as in a user's Makefile.
    # shellcheck disable=SC2046
    "$XHAL_SDK_CC" -std=c11 -Wall -Wextra -Werror \
      "$XHAL_SDK_SOURCE_DIR/tests/consumer/main.c" -o "$work/xhal_consumer" \
      $("$pc" --cflags --libs xhal)
    # A plugin author's flags: headers only, no library.
    [ -z "$("$pc" --libs xhal-plugin)" ] || {
      echo "xhal-plugin.pc must not link anything" >&2
      exit 1
    }
    # shellcheck disable=SC2046
    "$XHAL_SDK_CC" -std=c11 -fsyntax-only -Wall -Werror -x c - \
      $("$pc" --cflags xhal-plugin) <<<'#include <xhal/xhal_plugin.h>
int main(void) { return XHAL_ABI_VERSION_MAJOR == 1 ? 0 : 1; }'
    # shellcheck disable=SC2046
    "$XHAL_SDK_CC" -std=c11 -Wall -Wextra -Werror \
      "$XHAL_SDK_SOURCE_DIR/../samples/quickstart.c" -o "$work/xhal_quickstart" \
      $("$pc" --cflags --libs xhal) -lm
    # The reference checker: xhal-reference brings its header (through
    # xhal-plugin) and the static library with libm.
    # shellcheck disable=SC2046
    "$XHAL_SDK_CC" -std=c11 -Wall -Wextra -Werror \
      "$XHAL_SDK_SOURCE_DIR/tests/consumer/reference_check.c" \
      -o "$work/xhal_reference_check" \
      $("$pc" --cflags --libs xhal xhal-reference)
    # The programs have no rpath: the loader finds libxhal the usual way.
    LD_LIBRARY_PATH=$prefix/lib "$work/xhal_consumer"
    LD_LIBRARY_PATH=$prefix/lib "$work/xhal_reference_check"
    LD_LIBRARY_PATH=$prefix/lib "$work/xhal_quickstart"
    ;;

  *)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
