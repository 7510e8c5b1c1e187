/*
 * fuzz_npu_ring.c - the NPU model's command-ring decoder.
 *
 * The input is a sequence of 64-byte command descriptors (a short tail is
 * zero-padded; at most 32 commands). They are written into the ring of a
 * small model through the aperture and the doorbell is rung once.
 * Invariants: every command completes or halts the device with an
 * NPUSIM_ERR_* code (RESUME skips it); the ring drains within a bounded
 * wall time (no hang); the device is never lost; host memory outside the
 * mapped window is untouched (ASan proves the model's own accesses stay
 * inside its DRAM and scratchpad).
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "npusim/npusim.h"

#define RING_ENTRIES 64u
#define MAX_COMMANDS 32u
#define GUARD 64u
#define WINDOW 64u
/* Far above what the largest command the small model accepts needs. */
#define HANG_LIMIT_NS 5000000000ull

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pause_briefly(void) {
  struct timespec ts = {0, 20000};
  nanosleep(&ts, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  npusim_config_t cfg;
  npusim_t* sim = NULL;
  uint8_t host[GUARD + WINDOW + GUARD];
  uint64_t iova = 0;
  size_t count = (size + sizeof(npusim_cmd_t) - 1) / sizeof(npusim_cmd_t);
  if (count == 0 || count > MAX_COMMANDS) return 0;

  npusim_config_default(&cfg);
  cfg.rows = 4;
  cfg.cols = 4;
  cfg.dram_bytes = 64u << 10;
  cfg.spad_bytes = 16u << 10;
  FUZZ_CHECK(npusim_create(&cfg, &sim) == NPUSIM_OK, "create");
  memset(host, 0xC3, sizeof(host));
  FUZZ_CHECK(npusim_host_map(sim, host + GUARD, WINDOW, 1, &iova) == NPUSIM_OK,
             "map");
  /* WAIT_HOST commands proceed at once. */
  npusim_reg_write(sim, NPUSIM_REG_HOST_SEM, UINT64_MAX);
  npusim_reg_write(sim, NPUSIM_REG_RING_BASE, 0);
  npusim_reg_write(sim, NPUSIM_REG_RING_SIZE, RING_ENTRIES);
  for (size_t i = 0; i < count; ++i) {
    npusim_cmd_t cmd;
    size_t off = i * sizeof(cmd);
    size_t n = size - off < sizeof(cmd) ? size - off : sizeof(cmd);
    memset(&cmd, 0, sizeof(cmd));
    memcpy(&cmd, data + off, n);
    FUZZ_CHECK(npusim_aperture_write(sim, off, &cmd, sizeof(cmd)) == NPUSIM_OK,
               "aperture");
  }
  npusim_reg_write(sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_ENABLE);
  npusim_reg_write(sim, NPUSIM_REG_DOORBELL, count);

  uint64_t start = now_ns();
  uint32_t faults = 0;
  for (;;) {
    uint64_t st = npusim_reg_read(sim, NPUSIM_REG_STATUS);
    FUZZ_CHECK(st != NPUSIM_REG_DEAD, "device lost");
    if (st == NPUSIM_STATUS_HALTED) {
      uint64_t code = npusim_reg_read(sim, NPUSIM_REG_ERROR_CODE);
      uint64_t at = npusim_reg_read(sim, NPUSIM_REG_ERROR_CMD);
      FUZZ_CHECK(code >= NPUSIM_ERR_BAD_OPCODE && code <= NPUSIM_ERR_OVERLAP,
                 "halted with error code %llu", (unsigned long long)code);
      FUZZ_CHECK(at < count, "faulting command %llu of %zu",
                 (unsigned long long)at, count);
      ++faults;
      npusim_reg_write(sim, NPUSIM_REG_IRQ_STATUS, NPUSIM_IRQ_FAULT);
      npusim_reg_write(sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_RESUME);
      continue;
    }
    if (npusim_reg_read(sim, NPUSIM_REG_RING_HEAD) == count &&
        st == NPUSIM_STATUS_IDLE) {
      break;
    }
    FUZZ_CHECK(now_ns() - start < HANG_LIMIT_NS,
               "ring not drained: head %llu of %zu, status %llu",
               (unsigned long long)npusim_reg_read(sim, NPUSIM_REG_RING_HEAD),
               count, (unsigned long long)st);
    pause_briefly();
  }
  FUZZ_CHECK(faults <= count, "%u faults for %zu commands", faults, count);
  FUZZ_CHECK(npusim_reg_read(sim, NPUSIM_REG_CNT_FAULTS) == faults,
             "fault counter disagrees");
  npusim_destroy(sim);
  for (size_t i = 0; i < GUARD; ++i) {
    FUZZ_CHECK(host[i] == 0xC3 && host[GUARD + WINDOW + i] == 0xC3,
               "write outside the host window at %zu", i);
  }
  return 0;
}
