/*
 * npusim_runner.h - a minimal polling "driver" for the model, shared by
 * the npusim CLI and the model's tests: it puts the ring at the start of
 * DRAM, writes commands through the aperture, rings the doorbell and
 * polls the registers. The real driver (plugins/npu) uses interrupts.
 */
#ifndef NPUSIM_RUNNER_H_
#define NPUSIM_RUNNER_H_

#include <stdint.h>

#include "npusim/npusim.h"

#define RUNNER_RING_ENTRIES 256u
/* DRAM below this address holds the ring; tests place data above it. */
#define RUNNER_DATA_BASE 0x10000u

typedef struct runner {
  npusim_t* sim;
  uint64_t tail;
} runner_t;

/* Creates the model and enables its ring. Returns NPUSIM_OK or an error. */
int runner_open(runner_t* r, const npusim_config_t* config);
void runner_close(runner_t* r);
/* Writes one command and rings the doorbell; waits for ring space. */
int runner_submit(runner_t* r, const npusim_cmd_t* cmd);
/* Polls until every submitted command completed (returns 0), the device
 * halted on a fault (returns the NPUSIM_ERR_* code), was lost (-2) or
 * `timeout_ms` passed (-1). */
int runner_wait(runner_t* r, int timeout_ms);

/* Command builders. */
npusim_cmd_t runner_dma(uint32_t src_space, uint64_t src, uint32_t dst_space,
                        uint64_t dst, uint64_t bytes);
npusim_cmd_t runner_dma2d(uint32_t src_space, uint64_t src, uint32_t dst_space,
                          uint64_t dst, uint32_t elem, uint32_t nx, uint64_t ny,
                          uint32_t src_sx, uint32_t src_sy, uint32_t dst_sx,
                          uint32_t dst_sy);
npusim_cmd_t runner_gemm(uint32_t dtype, uint32_t dataflow, uint32_t flags,
                         uint64_t a, uint64_t b, uint64_t c, uint64_t m,
                         uint64_t k, uint64_t n);
npusim_cmd_t runner_vector(uint32_t func, uint32_t dtype, uint32_t flags,
                           uint64_t src0, uint64_t src1, uint64_t dst,
                           uint64_t rows, uint64_t cols);
npusim_cmd_t runner_fence(uint64_t value);

#endif /* NPUSIM_RUNNER_H_ */
