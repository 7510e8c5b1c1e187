/*
 * npusim_runner.c - see npusim_runner.h.
 */
#define _POSIX_C_SOURCE 200809L

#include "npusim_runner.h"

#include <string.h>
#include <time.h>

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

int runner_open(runner_t* r, const npusim_config_t* config) {
  int rc;
  memset(r, 0, sizeof(*r));
  rc = npusim_create(config, &r->sim);
  if (rc != NPUSIM_OK) return rc;
  npusim_reg_write(r->sim, NPUSIM_REG_RING_BASE, 0);
  npusim_reg_write(r->sim, NPUSIM_REG_RING_SIZE, RUNNER_RING_ENTRIES);
  npusim_reg_write(r->sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_ENABLE);
  return NPUSIM_OK;
}

void runner_close(runner_t* r) {
  npusim_destroy(r->sim);
  r->sim = NULL;
}

int runner_submit(runner_t* r, const npusim_cmd_t* cmd) {
  uint64_t slot;
  while (r->tail - npusim_reg_read(r->sim, NPUSIM_REG_RING_HEAD) >=
         RUNNER_RING_ENTRIES) {
    uint64_t st = npusim_reg_read(r->sim, NPUSIM_REG_STATUS);
    if (st == NPUSIM_STATUS_HALTED || st == NPUSIM_REG_DEAD) return -1;
    sleep_us(50);
  }
  slot = r->tail % RUNNER_RING_ENTRIES;
  if (npusim_aperture_write(r->sim, slot * sizeof(*cmd), cmd, sizeof(*cmd)) !=
      NPUSIM_OK) {
    return -1;
  }
  r->tail++;
  npusim_reg_write(r->sim, NPUSIM_REG_DOORBELL, r->tail);
  return 0;
}

int runner_wait(runner_t* r, int timeout_ms) {
  long waited_us = 0;
  for (;;) {
    uint64_t st = npusim_reg_read(r->sim, NPUSIM_REG_STATUS);
    if (st == NPUSIM_REG_DEAD) return -2;
    if (st == NPUSIM_STATUS_HALTED) {
      return (int)npusim_reg_read(r->sim, NPUSIM_REG_ERROR_CODE);
    }
    if (npusim_reg_read(r->sim, NPUSIM_REG_RING_HEAD) == r->tail) return 0;
    if (waited_us / 1000 >= timeout_ms) return -1;
    sleep_us(100);
    waited_us += 100;
  }
}

npusim_cmd_t runner_dma(uint32_t src_space, uint64_t src, uint32_t dst_space,
                        uint64_t dst, uint64_t bytes) {
  npusim_cmd_t c;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_DMA;
  c.func = (uint8_t)(src_space | dst_space << 4);
  c.a[0] = src;
  c.a[1] = dst;
  /* One row of `bytes` one-byte elements keeps any size expressible. */
  c.a[2] = 1 | bytes << 32;
  c.a[3] = 1;
  c.a[4] = 1;
  c.a[5] = 1;
  return c;
}

npusim_cmd_t runner_dma2d(uint32_t src_space, uint64_t src, uint32_t dst_space,
                          uint64_t dst, uint32_t elem, uint32_t nx, uint64_t ny,
                          uint32_t src_sx, uint32_t src_sy, uint32_t dst_sx,
                          uint32_t dst_sy) {
  npusim_cmd_t c;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_DMA;
  c.func = (uint8_t)(src_space | dst_space << 4);
  c.a[0] = src;
  c.a[1] = dst;
  c.a[2] = elem | (uint64_t)nx << 32;
  c.a[3] = ny;
  c.a[4] = src_sx | (uint64_t)src_sy << 32;
  c.a[5] = dst_sx | (uint64_t)dst_sy << 32;
  return c;
}

npusim_cmd_t runner_gemm(uint32_t dtype, uint32_t dataflow, uint32_t flags,
                         uint64_t a, uint64_t b, uint64_t c_addr, uint64_t m,
                         uint64_t k, uint64_t n) {
  npusim_cmd_t c;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_GEMM;
  c.dtype = (uint8_t)dtype;
  c.func = (uint8_t)dataflow;
  c.flags = (uint8_t)flags;
  c.a[0] = a;
  c.a[1] = b;
  c.a[2] = c_addr;
  c.a[3] = m;
  c.a[4] = k;
  c.a[5] = n;
  return c;
}

npusim_cmd_t runner_vector(uint32_t func, uint32_t dtype, uint32_t flags,
                           uint64_t src0, uint64_t src1, uint64_t dst,
                           uint64_t rows, uint64_t cols) {
  npusim_cmd_t c;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_VECTOR;
  c.dtype = (uint8_t)dtype;
  c.func = (uint8_t)func;
  c.flags = (uint8_t)flags;
  c.a[0] = src0;
  c.a[1] = src1;
  c.a[2] = dst;
  c.a[3] = rows;
  c.a[4] = cols;
  c.a[5] = dtype;
  return c;
}

npusim_cmd_t runner_fence(uint64_t value) {
  npusim_cmd_t c;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_FENCE;
  c.a[0] = value;
  return c;
}
