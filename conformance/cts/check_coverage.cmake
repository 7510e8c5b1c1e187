# Checks that `xhal-cts --list` cites every requirement defined in
# docs/abi.md, and cites nothing that is not defined there (cmake -P).
#
#   -DCTS=path   xhal-cts
#   -DABI=path   docs/abi.md

foreach(var CTS ABI)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_coverage.cmake: -D${var}=... is required")
  endif()
endforeach()

# Definitions are list items that start with the bold id: "- **R-MEM-3**".
file(STRINGS ${ABI} lines REGEX "^- \\*\\*R-[A-Z]+-[0-9]+\\*\\*")
set(defined "")
foreach(line ${lines})
  string(REGEX MATCH "R-[A-Z]+-[0-9]+" id "${line}")
  list(FIND defined ${id} dup)
  if(NOT dup EQUAL -1)
    message(FATAL_ERROR "${ABI} defines ${id} twice")
  endif()
  list(APPEND defined ${id})
endforeach()
list(LENGTH defined ndefined)
if(ndefined EQUAL 0)
  message(FATAL_ERROR "no requirement found in ${ABI}")
endif()

execute_process(COMMAND ${CTS} --list RESULT_VARIABLE rc OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "xhal-cts --list failed (${rc}): ${err}")
endif()
string(REGEX MATCHALL "R-[A-Z]+-[0-9]+" cited "${out}")
list(REMOVE_DUPLICATES cited)

set(missing "")
foreach(id ${defined})
  list(FIND cited ${id} at)
  if(at EQUAL -1)
    list(APPEND missing ${id})
  endif()
endforeach()
set(unknown "")
foreach(id ${cited})
  list(FIND defined ${id} at)
  if(at EQUAL -1)
    list(APPEND unknown ${id})
  endif()
endforeach()
list(LENGTH cited ncited)
message(STATUS "${ndefined} requirements defined, ${ncited} cited by tests")
if(missing)
  message(FATAL_ERROR "requirements no test cites: ${missing}")
endif()
if(unknown)
  message(FATAL_ERROR "tests cite requirements docs/abi.md does not define: ${unknown}")
endif()
