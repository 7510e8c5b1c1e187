# check_public_headers.cmake - the public headers' include contracts
# (test public_headers, registered in hal/CMakeLists.txt).
#
#   cmake -DCC=<compiler> -DHAL_INCLUDE=<dir> -DSDK_INCLUDE=<dir>
#         -DWORK=<scratch dir> -P check_public_headers.cmake
#
# Each public header is compiled alone as C11 with warnings as errors, and
# the compiler's own dependency list (-M) of each is checked:
# - xhal/xhal.h does not pull in the plugin ABI, xhal/xhal_plugin.h;
# - no header is reached from a header it includes (no include cycle):
#   xhal/xhal_pool.h and xhal/xhal_handles.h do not reach xhal/xhal.h;
# - the SDK headers reach no framework header.
# It also compiles a translation unit that uses the pool API with only
# xhal/xhal.h included, as 1.x sources do.
cmake_minimum_required(VERSION 3.16)
foreach(v CC HAL_INCLUDE SDK_INCLUDE WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check_public_headers: -D${v}= is required")
  endif()
endforeach()
file(MAKE_DIRECTORY ${WORK})

set(failures 0)
# deps_of(header out): compiles `#include <xhal/header>` alone and stores
# the xhal headers the compiler read, by file name, in ${out}.
function(deps_of header out)
  string(REPLACE "." "_" stem ${header})
  set(src ${WORK}/${stem}.c)
  file(WRITE ${src} "#include <xhal/${header}>\nint xhal_header_check;\n")
  execute_process(
    COMMAND ${CC} -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only
      -I${HAL_INCLUDE} -I${SDK_INCLUDE} ${src}
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(SEND_ERROR "xhal/${header} does not compile alone:\n${err}")
  endif()
  execute_process(
    COMMAND ${CC} -std=c11 -M -I${HAL_INCLUDE} -I${SDK_INCLUDE} ${src}
    RESULT_VARIABLE rc OUTPUT_VARIABLE deps ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "dependency scan of xhal/${header} failed:\n${err}")
  endif()
  string(REGEX MATCHALL "xhal/[a-z_]+\\.h" names "${deps}")
  list(REMOVE_DUPLICATES names)
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

# expect_not(header forbidden...): header compiles alone and reaches none
# of the forbidden headers.
function(expect_not header)
  deps_of(${header} deps)
  message(STATUS "xhal/${header} reads: ${deps}")
  foreach(f ${ARGN})
    if("xhal/${f}" IN_LIST deps)
      message(SEND_ERROR "xhal/${header} pulls in xhal/${f}")
    endif()
  endforeach()
endfunction()

expect_not(xhal.h xhal_plugin.h)
expect_not(xhal_pool.h xhal.h xhal_plugin.h)
expect_not(xhal_handles.h xhal.h xhal_pool.h xhal_plugin.h)
expect_not(xhal_types.h xhal.h xhal_pool.h xhal_handles.h xhal_plugin.h)
expect_not(xhal_plugin.h xhal.h xhal_pool.h xhal_handles.h)
expect_not(xhal_half.h xhal.h xhal_pool.h xhal_handles.h xhal_plugin.h)

# xhal/xhal.h alone still declares the pool API, and declares none of the
# plugin ABI: a program may name its own type xhal_plugin_dispatch_t.
set(src ${WORK}/xhal_h_surface.c)
file(WRITE ${src} "#include <xhal/xhal.h>
typedef int xhal_plugin_dispatch_t;
typedef int xhal_host_services_t;
xhal_status_t use_pool(xhal_device_t d, xhal_pool_t* p);
xhal_status_t use_pool(xhal_device_t d, xhal_pool_t* p) {
  return xhal_pool_create(d, 0, p);
}
")
execute_process(
  COMMAND ${CC} -std=c11 -Wall -Wextra -Werror -fsyntax-only
    -I${HAL_INCLUDE} -I${SDK_INCLUDE} ${src}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(SEND_ERROR "xhal/xhal.h: pool API missing or plugin ABI "
    "declared:\n${err}")
endif()
