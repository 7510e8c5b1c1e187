# Shared build rules: warnings, sanitizers, plugins and tests.

# The warning set every target compiles with.
set(XHAL_WARNINGS -Wall -Wextra -Werror -Wshadow -Wconversion
    -Wstrict-prototypes -Wmissing-prototypes -Wno-sign-conversion)

set(XHAL_SANITIZE_FLAGS "")
if(XHAL_SANITIZE)
  string(REPLACE ";" "," _xhal_san "${XHAL_SANITIZE}")
  set(XHAL_SANITIZE_FLAGS -fsanitize=${_xhal_san} -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
endif()

# Applies the project's compile options to a target.
function(xhal_target_defaults target)
  target_compile_options(${target} PRIVATE ${XHAL_WARNINGS} ${XHAL_SANITIZE_FLAGS})
  if(XHAL_SANITIZE_FLAGS)
    target_link_options(${target} PRIVATE ${XHAL_SANITIZE_FLAGS})
  endif()
  # ASan's defaults for every program of the build (cmake/asan_defaults.c).
  get_target_property(_xhal_type ${target} TYPE)
  if("address" IN_LIST XHAL_SANITIZE AND _xhal_type STREQUAL "EXECUTABLE")
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/cmake/asan_defaults.c)
    # GCC's ASan runtime is a shared library: it finds the program's
    # definition only in the dynamic symbol table.
    target_link_options(${target} PRIVATE
      -Wl,--export-dynamic-symbol=__asan_default_options)
  endif()
endfunction()

# xhal_add_plugin(NAME SOURCES src... [LIBS lib...])
# Builds lib/xhal/plugins/libxhal_<NAME>.so, a module that exports exactly
# xhal_plugin_query (version script), against the SDK headers only.
function(xhal_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS;INCLUDES" ${ARGN})
  set(target xhal_${name})
  add_library(${target} MODULE ${P_SOURCES})
  xhal_target_defaults(${target})
  target_link_libraries(${target} PRIVATE xhal_plugin_sdk Threads::Threads ${P_LIBS})
  target_include_directories(${target} PRIVATE ${P_INCLUDES})
  target_link_options(${target} PRIVATE
    -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/plugin.map -Wl,--no-undefined)
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY ${XHAL_BUILD_PLUGIN_DIR})
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/${XHAL_PLUGIN_SUBDIR})
endfunction()

# xhal_add_test(NAME SOURCES src... [LIBS lib...] [TIMEOUT s] [ENV k=v...])
# A Check test executable run by CTest.
function(xhal_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;ENV;INCLUDES" ${ARGN})
  if(NOT XHAL_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  xhal_target_defaults(${name})
  target_link_libraries(${name} PRIVATE PkgConfig::CHECK Threads::Threads m ${T_LIBS})
  target_include_directories(${name} PRIVATE ${T_INCLUDES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "CK_DEFAULT_TIMEOUT=30;${T_ENV}")
endfunction()
