# Runs xhal-cts --profile core on one mutant and records whether a test
# aimed at its defect failed (cmake -P; conformance/mutants/CMakeLists.txt).
#
#   -DCTS=path -DPLUGIN=path  xhal-cts and the mutant's plugin file
#   -DNAME=name               the mutant (none: the clean build)
#   -DAIMED=a;b               tests aimed at the defect; * in a name is a glob
#   -DEXPECT=pass|caught|survives
#                             pass: the clean build passes the core profile;
#                             caught: an aimed test must fail;
#                             survives: a known survivor, recorded either way
#   -DOUT=dir                 <dir>/<name>.json (the report) and
#                             <dir>/<name>.result ("caught" or "missed", then
#                             the failed tests) for score.cmake

foreach(var CTS PLUGIN NAME EXPECT OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_mutant.cmake: -D${var}=... is required")
  endif()
endforeach()

file(MAKE_DIRECTORY ${OUT})
set(json_file ${OUT}/${NAME}.json)
set(result_file ${OUT}/${NAME}.result)
file(REMOVE ${json_file} ${result_file})

execute_process(
  COMMAND ${CTS} --plugin ${PLUGIN} --profile core --json ${json_file}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
message(STATUS "xhal-cts exit status: ${rc}")

if(EXPECT STREQUAL "pass")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the clean build must pass the core profile; "
      "xhal-cts exited ${rc}")
  endif()
  return()
endif()

if(NOT EXISTS ${json_file})
  message(FATAL_ERROR "no JSON report at ${json_file} (xhal-cts exited ${rc})")
endif()
file(READ ${json_file} json)
string(JSON ntests ERROR_VARIABLE jerr LENGTH "${json}" plugins 0 tests)
if(jerr)
  message(FATAL_ERROR "JSON report: ${jerr}")
endif()

set(failed "")
if(ntests GREATER 0)
  math(EXPR last "${ntests} - 1")
  foreach(i RANGE ${last})
    string(JSON result GET "${json}" plugins 0 tests ${i} result)
    if(result STREQUAL "fail")
      string(JSON suite GET "${json}" plugins 0 tests ${i} suite)
      string(JSON tname GET "${json}" plugins 0 tests ${i} name)
      list(APPEND failed "${suite}.${tname}")
    endif()
  endforeach()
endif()

set(caught_by "")
foreach(test ${failed})
  foreach(aim ${AIMED})
    # A glob: * matches any run of characters.
    string(REPLACE "." "\\." re "${aim}")
    string(REPLACE "*" ".*" re "${re}")
    if(test MATCHES "^${re}$")
      list(APPEND caught_by ${test})
    endif()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES caught_by)

string(REPLACE ";" " " failed_words "${failed}")
if(caught_by)
  file(WRITE ${result_file} "caught ${failed_words}\n")
  string(REPLACE ";" ", " by "${caught_by}")
  message(STATUS "mutant ${NAME}: CAUGHT by ${by}")
else()
  file(WRITE ${result_file} "missed ${failed_words}\n")
  string(REPLACE ";" ", " aims "${AIMED}")
  if(failed)
    set(why "only unrelated tests failed: ${failed_words}")
  else()
    set(why "every test passed")
  endif()
  if(EXPECT STREQUAL "survives")
    message(STATUS "mutant ${NAME}: survives (known), ${why}")
  else()
    message(FATAL_ERROR "mutant ${NAME}: MISSED: no aimed test (${aims}) "
      "failed; ${why}")
  endif()
endif()
