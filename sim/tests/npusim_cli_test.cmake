# Runs the npusim CLI and checks its JSON against the documented formulas
# (docs/npu.md): compute cycles of one GEMM, total cycles of the
# load-load-multiply-store sequence, MACs, DMA bytes; writes a trace.
# Invoked by CTest with -DNPUSIM=<path to npusim> -DOUT_DIR=<dir>
# -DEXAMPLE_CONFIG=<sim/configs/example.cfg>.

function(run_npusim out_var)
  execute_process(COMMAND ${NPUSIM} ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "npusim ${ARGN} failed (${rc}): ${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

function(expect_field json key want)
  string(JSON got GET "${json}" ${key})
  if(NOT "${got}" STREQUAL "${want}")
    message(FATAL_ERROR "${key}: got ${got}, want ${want} in ${json}")
  endif()
endfunction()

# os, 5x3x7 on 2x4: ceil(5/2)*ceil(7/4)*(3+2+4-2)-1 = 41 compute cycles.
# DMA (defaults: 100 cycles latency, 64 B/cycle): A 60 B -> 101, B 84 B ->
# 102, C 140 B -> 103; serial chain 101 + 102 + 41 + 103 = 347.
run_npusim(j gemm --m 5 --k 3 --n 7 --rows 2 --cols 4 --dataflow os --verify
           --json --trace ${OUT_DIR}/npusim_cli_trace.json)
expect_field("${j}" compute_cycles 41)
expect_field("${j}" total_cycles 347)
expect_field("${j}" macs 105)
expect_field("${j}" dma_bytes 284)
expect_field("${j}" verified ON)

# ws, same shape: ceil(3/2)*ceil(7/4)*(5+4+4-2)-1 = 43.
run_npusim(j gemm --m 5 --k 3 --n 7 --rows 2 --cols 4 --dataflow ws --json)
expect_field("${j}" compute_cycles 43)

# K = 1 and M = 1, int8 and f16.
run_npusim(j gemm --m 8 --k 1 --n 8 --rows 4 --cols 4 --dataflow os
           --dtype int8 --verify --json)
expect_field("${j}" compute_cycles 27)
run_npusim(j gemm --m 1 --k 8 --n 8 --rows 4 --cols 4 --dataflow ws
           --dtype f16 --verify --json)
expect_field("${j}" compute_cycles 43)

# 128^3 on the default 128x128 array: one fold, 128+128+128-2-1 = 381.
run_npusim(j gemm --m 128 --k 128 --n 128 --json)
expect_field("${j}" compute_cycles 381)
# utilization = 128^3 / (128 * 128 * 381) = 0.335958
string(FIND "${j}" "\"utilization\": 0.335958," at)
if(at EQUAL -1)
  message(FATAL_ERROR "utilization is not 0.335958 in ${j}")
endif()

# conv2d lowers to GEMM M = OH*OW, K = C*R*S, N = filters: 7x7x192 input,
# 3x3 filters, 384 of them, 32x32 ws -> M 25, K 1728, N 384:
# ceil(1728/32)*ceil(384/32)*(25+64+32-2)-1 = 54*12*119-1 = 77111.
run_npusim(j conv2d --h 7 --w 7 --c 192 --k 384 --r 3 --s 3 --stride 1
           --rows 32 --cols 32 --dataflow ws --verify --json)
expect_field("${j}" compute_cycles 77111)
expect_field("${j}" m 25)
run_npusim(j conv2d --h 9 --w 9 --c 3 --k 4 --r 3 --s 3 --stride 2 --pad 1
           --rows 4 --cols 4 --verify --json)
expect_field("${j}" m 25)

# The documented example config: 32 x 32, ws by default.
# ceil(64/32) * ceil(64/32) * (64 + 64 + 32 - 2) - 1 = 631.
run_npusim(j gemm --m 64 --k 64 --n 64 --config ${EXAMPLE_CONFIG} --json)
expect_field("${j}" rows 32)
expect_field("${j}" dataflow ws)
expect_field("${j}" compute_cycles 631)

file(READ ${OUT_DIR}/npusim_cli_trace.json trace)
string(JSON n LENGTH "${trace}" traceEvents)
# Two thread names + dma, dma, gemm, dma.
if(NOT n EQUAL 6)
  message(FATAL_ERROR "trace has ${n} events, want 6")
endif()
string(JSON name GET "${trace}" traceEvents 4 name)
if(NOT name STREQUAL "gemm")
  message(FATAL_ERROR "event 4 is ${name}, want gemm")
endif()

# Bad input is refused with a usage error, not a crash.
execute_process(COMMAND ${NPUSIM} gemm --m 0 --k 1 --n 1 RESULT_VARIABLE rc
  OUTPUT_QUIET ERROR_QUIET)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "gemm --m 0 returned ${rc}, want 2")
endif()
execute_process(COMMAND ${NPUSIM} gemm --m 4 --k 4 --n 4 --dataflow xx
  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "bad --dataflow returned ${rc}, want 2")
endif()
