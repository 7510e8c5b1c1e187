# Prints the mutation score from the results check_mutant.cmake wrote and
# fails when it is below MIN_PERCENT or a result is missing (cmake -P).
#
#   -DNAMES=a;b  every mutant    -DOUT=dir  the results    -DMIN_PERCENT=95

set(total 0)
set(caught 0)
set(survivors "")
foreach(name ${NAMES})
  set(file ${OUT}/${name}.result)
  if(NOT EXISTS ${file})
    message(FATAL_ERROR "no result for mutant ${name} (${file}): run every "
      "cts_mutant_* test first")
  endif()
  file(READ ${file} line)
  math(EXPR total "${total} + 1")
  if(line MATCHES "^caught")
    math(EXPR caught "${caught} + 1")
  else()
    list(APPEND survivors ${name})
  endif()
endforeach()
if(total EQUAL 0)
  message(FATAL_ERROR "no mutants")
endif()
math(EXPR tenths "${caught} * 1000 / ${total}")
math(EXPR whole "${tenths} / 10")
math(EXPR frac "${tenths} % 10")
string(REPLACE ";" ", " survivor_list "${survivors}")
message("mutation score: ${caught}/${total} caught by their aimed tests "
  "(${whole}.${frac}%)")
if(survivors)
  message("survivors: ${survivor_list}")
endif()
math(EXPR need "${MIN_PERCENT} * ${total}")
math(EXPR have "${caught} * 100")
if(have LESS need)
  message(FATAL_ERROR "mutation score below ${MIN_PERCENT}%")
endif()
