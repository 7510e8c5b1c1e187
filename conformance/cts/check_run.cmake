# Runs xhal-cts and checks its verdict and reports (cmake -P).
#
#   -DCTS=path            xhal-cts
#   -DPLUGIN=a[,b...]     plugin files, comma-separated
#   -DOUT=prefix          reports go to <prefix>.json and <prefix>.xml
#   -DEXPECT=pass|fail    pass: exit 0 and every plugin core conformant;
#                         fail: exit 1 and the test EXPECT_TEST failed
#   -DEXPECT_TEST=s.name  (fail) the test that must be among the failures
#   -DEXPECT_MESSAGE=re   (fail) its message matches this regex
#   -DEXPECT_NO_SKIP=a,b  tests that must have run (not been skipped) on at
#                         least one of the plugins
#   -DEXPECT_SKIPPED=a,b  tests that must be skipped on every plugin
#   -DARGS=a,b            extra xhal-cts arguments, comma-separated
#   -DEXPECT_DEVICES=N    (with --device all) the report has one run per
#                         device of the plugin, devices 0 .. N-1, each
#                         named
#   -DXSD=junit.xsd       validate the JUnit report with xmllint (required)
#
# The JSON report is checked against the schema of docs/conformance.md:
# keys, result values, and counts that agree with the test list.

foreach(var CTS PLUGIN OUT EXPECT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_run.cmake: -D${var}=... is required")
  endif()
endforeach()

string(REPLACE "," ";" plugins "${PLUGIN}")
set(cmd ${CTS})
foreach(p ${plugins})
  list(APPEND cmd --plugin ${p})
endforeach()
if(DEFINED ARGS AND NOT ARGS STREQUAL "-" AND NOT ARGS STREQUAL "")
  string(REPLACE "," ";" extra "${ARGS}")
  list(APPEND cmd ${extra})
endif()
list(APPEND cmd --json ${OUT}.json --junit ${OUT}.xml)
file(REMOVE ${OUT}.json ${OUT}.xml)

execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
message("${out}${err}")
message(STATUS "xhal-cts exit status: ${rc}")

# -------------------------------------------------------------- verdict
if(EXPECT STREQUAL "pass")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected every test to pass, xhal-cts exited ${rc}")
  endif()
elseif(EXPECT STREQUAL "fail")
  if(NOT rc EQUAL 1)
    message(FATAL_ERROR
      "expected xhal-cts to report failures (exit 1), it exited ${rc}")
  endif()
else()
  message(FATAL_ERROR "EXPECT is pass or fail, not '${EXPECT}'")
endif()

# ---------------------------------------------------------- JSON schema
if(NOT EXISTS ${OUT}.json)
  message(FATAL_ERROR "no JSON report at ${OUT}.json")
endif()
file(READ ${OUT}.json json)
string(JSON nplugins ERROR_VARIABLE jerr LENGTH "${json}" plugins)
if(jerr)
  message(FATAL_ERROR "JSON report: ${jerr}")
endif()
list(LENGTH plugins want_plugins)
if(DEFINED EXPECT_DEVICES)
  math(EXPR want_plugins "${want_plugins} * ${EXPECT_DEVICES}")
endif()
if(NOT nplugins EQUAL want_plugins)
  message(FATAL_ERROR "JSON report lists ${nplugins} runs, want ${want_plugins}")
endif()

set(found_expected FALSE)
set(ran_anywhere "")
set(failed_tests "")
math(EXPR last_plugin "${nplugins} - 1")
foreach(p RANGE ${last_plugin})
  string(JSON plugin GET "${json}" plugins ${p})
  foreach(key plugin path device device_name passed failed skipped xfailed
      core_conformant tests)
    string(JSON value ERROR_VARIABLE kerr GET "${plugin}" ${key})
    if(kerr)
      message(FATAL_ERROR "JSON report: plugin ${p} lacks '${key}'")
    endif()
  endforeach()
  string(JSON name GET "${plugin}" plugin)
  string(JSON device GET "${plugin}" device)
  string(JSON device_name GET "${plugin}" device_name)
  if(DEFINED EXPECT_DEVICES)
    math(EXPR want_device "${p} % ${EXPECT_DEVICES}")
    if(NOT device EQUAL want_device OR device_name STREQUAL "")
      message(FATAL_ERROR "run ${p} of ${name} is on device ${device} "
        "('${device_name}'), want device ${want_device}, named")
    endif()
    set(name "${name}@${device}")
  endif()
  string(JSON conformant GET "${plugin}" core_conformant)
  string(JSON ntests LENGTH "${plugin}" tests)
  set(count_pass 0)
  set(count_fail 0)
  set(count_skip 0)
  set(count_xfail 0)
  set(ran "")
  if(ntests GREATER 0)
    math(EXPR last_test "${ntests} - 1")
    foreach(t RANGE ${last_test})
      string(JSON test GET "${plugin}" tests ${t})
      foreach(key suite name requirement result message)
        string(JSON value ERROR_VARIABLE kerr GET "${test}" ${key})
        if(kerr)
          message(FATAL_ERROR "JSON report: test ${t} of ${name} lacks '${key}'")
        endif()
      endforeach()
      string(JSON suite GET "${test}" suite)
      string(JSON tname GET "${test}" name)
      string(JSON req GET "${test}" requirement)
      string(JSON result GET "${test}" result)
      if(NOT req MATCHES "^R-[A-Z]+-[0-9]+$")
        message(FATAL_ERROR "test ${suite}.${tname} cites '${req}'")
      endif()
      if(NOT result MATCHES "^(pass|fail|skip|xfail)$")
        message(FATAL_ERROR "test ${suite}.${tname} has result '${result}'")
      endif()
      math(EXPR count_${result} "${count_${result}} + 1")
      if(result STREQUAL "fail")
        list(APPEND failed_tests "${suite}.${tname}")
        if("${suite}.${tname}" STREQUAL "${EXPECT_TEST}")
          set(found_expected TRUE)
          string(JSON expected_message GET "${test}" message)
        endif()
      endif()
      if(result STREQUAL "pass" OR result STREQUAL "fail")
        list(APPEND ran "${suite}.${tname}")
      endif()
      if(result STREQUAL "skip")
        list(APPEND skipped_anywhere "${suite}.${tname}")
      endif()
    endforeach()
  endif()
  foreach(pair "passed;pass" "failed;fail" "skipped;skip" "xfailed;xfail")
    list(GET pair 0 key)
    list(GET pair 1 result)
    string(JSON reported GET "${plugin}" ${key})
    if(NOT reported EQUAL count_${result})
      message(FATAL_ERROR "${name}: '${key}' is ${reported}, the tests say ${count_${result}}")
    endif()
  endforeach()
  if(EXPECT STREQUAL "pass")
    if(NOT conformant STREQUAL "ON" AND NOT conformant STREQUAL "true")
      message(FATAL_ERROR "${name} is not core conformant")
    endif()
  endif()
  list(APPEND ran_anywhere ${ran})
endforeach()

if(DEFINED EXPECT_SKIPPED)
  string(REPLACE "," ";" must_skip "${EXPECT_SKIPPED}")
  foreach(test ${must_skip})
    list(FIND skipped_anywhere ${test} at)
    list(FIND ran_anywhere ${test} ran_at)
    if(at EQUAL -1 OR NOT ran_at EQUAL -1)
      message(FATAL_ERROR "${test} was not skipped")
    endif()
  endforeach()
endif()

if(DEFINED EXPECT_NO_SKIP)
  string(REPLACE "," ";" must_run "${EXPECT_NO_SKIP}")
  foreach(test ${must_run})
    list(FIND ran_anywhere ${test} at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${test} ran on no plugin (skipped everywhere?)")
    endif()
  endforeach()
endif()

if(EXPECT STREQUAL "fail")
  if(NOT found_expected)
    message(FATAL_ERROR
      "the run failed, but not on ${EXPECT_TEST}; failed tests: ${failed_tests}")
  endif()
  if(DEFINED EXPECT_MESSAGE AND
     NOT expected_message MATCHES "${EXPECT_MESSAGE}")
    message(FATAL_ERROR "${EXPECT_TEST} failed with '${expected_message}', "
      "which does not match '${EXPECT_MESSAGE}'")
  endif()
  message(STATUS "caught by ${EXPECT_TEST} (failures: ${failed_tests})")
endif()

# ---------------------------------------------------------------- JUnit
if(NOT EXISTS ${OUT}.xml)
  message(FATAL_ERROR "no JUnit report at ${OUT}.xml")
endif()
# The schema check is part of what this test asserts: without xmllint
# (Debian libxml2-utils, installed by .ci/deps.sh) the test fails rather
# than pass unchecked.
find_program(XMLLINT xmllint)
if(NOT XMLLINT)
  message(FATAL_ERROR "xmllint not found: install libxml2-utils to "
    "validate the JUnit report")
endif()
if(XMLLINT)
  set(schema_args "")
  if(DEFINED XSD)
    set(schema_args --schema ${XSD})
  endif()
  execute_process(COMMAND ${XMLLINT} --noout ${schema_args} ${OUT}.xml
    RESULT_VARIABLE xrc OUTPUT_VARIABLE xout ERROR_VARIABLE xerr)
  if(NOT xrc EQUAL 0)
    message(FATAL_ERROR "JUnit report does not validate:\n${xout}${xerr}")
  endif()
else()
  message(STATUS "xmllint not found: JUnit report not validated")
endif()
