/*
 * npusim_internal.h - the model's private state, shared by the files of
 * sim/src (device, DMA engine, systolic array, vector unit, config).
 *
 * Locking: `mu` guards the register file, the control state and the
 * published counters; `win_mu` guards the host window table and is held
 * across every DMA that touches host memory, so an unmap never races a
 * transfer. Timeline state (`tl`) and scratch buffers belong to the device
 * thread alone.
 */
#ifndef NPUSIM_INTERNAL_H_
#define NPUSIM_INTERNAL_H_

#include <pthread.h>
#include <stdint.h>

#include "npusim/npusim.h"

#define NPUSIM_MAX_WINDOWS 1024
/* IOVAs start high and never repeat, so a stale address cannot alias a
 * later mapping. */
#define NPUSIM_IOVA_BASE 0x100000000000ULL

enum { ENGINE_DMA = 0, ENGINE_COMPUTE = 1, ENGINE_COUNT = 2 };

typedef struct host_window {
  uint64_t iova;
  uint64_t size;
  uint8_t* host;
  int writable;
  int used;
} host_window_t;

/* Counters published through the register file. */
typedef struct npusim_counters {
  uint64_t total, compute, gemm, vector, dma, stall, macs;
  uint64_t h2d, d2h, dram_to_spad, spad_to_dram, local;
  uint64_t commands, faults;
} npusim_counters_t;

/* The device thread's timing state: one timeline per engine plus the
 * semaphores commands signal and wait on. */
typedef struct npusim_timeline {
  uint64_t engine_free[ENGINE_COUNT];
  uint64_t sem[NPUSIM_NUM_SEMS];
} npusim_timeline_t;

/* What executing one command did, for the timing model. */
typedef struct npusim_exec {
  uint32_t error; /* NPUSIM_ERR_* */
  uint64_t error_addr;
  uint32_t engine; /* ENGINE_* */
  uint64_t cycles;
  uint64_t bytes; /* DMA payload */
  uint64_t macs;
  int src_space, dst_space; /* DMA accounting; -1 for fills */
} npusim_exec_t;

struct npusim {
  npusim_config_t cfg;
  uint8_t* dram;
  uint8_t* spad;

  pthread_t thread;
  int thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;

  /* Register file and control state (mu). */
  uint64_t ring_base, ring_size, head, tail;
  uint64_t fence, status, host_sem;
  uint64_t irq_status, irq_enable;
  uint64_t err_code, err_cmd, err_addr;
  int enabled, stop, lost, abort_req, running;
  npusim_counters_t counters;
  npusim_irq_fn irq_fn;
  void* irq_user;

  /* Host windows (win_mu). */
  pthread_mutex_t win_mu;
  host_window_t windows[NPUSIM_MAX_WINDOWS];
  uint64_t next_iova;

  /* Device-thread state. */
  npusim_timeline_t tl;
  uint64_t dma_seen; /* DMA/fill commands executed, for fault injection */
  uint64_t cmd_seen; /* commands fetched, for fault injection */
  float* tmp_a;      /* conversion scratch for f16/int8 GEMMs */
  float* tmp_b;
  uint64_t tmp_a_cap, tmp_b_cap; /* bytes */

  /* Trace (mu). */
  int trace_on;
  npusim_trace_event_t* trace;
  uint64_t trace_len, trace_cap;
};

/* Checked arithmetic: return 0 on overflow. */
static inline int npusim_mul_ok(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
static inline int npusim_add_ok(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
/* [addr, addr + size) inside [0, limit)? */
static inline int npusim_in_range(uint64_t addr, uint64_t size,
                                  uint64_t limit) {
  return addr <= limit && size <= limit - addr;
}

uint32_t npusim_dtype_size(uint32_t dtype);

/* Executors (one file each); fill in `ex`. */
void npusim_exec_dma(npusim_t* sim, const npusim_cmd_t* cmd, npusim_exec_t* ex);
void npusim_exec_fill(npusim_t* sim, const npusim_cmd_t* cmd,
                      npusim_exec_t* ex);
void npusim_exec_gemm(npusim_t* sim, const npusim_cmd_t* cmd,
                      npusim_exec_t* ex);
void npusim_exec_vector(npusim_t* sim, const npusim_cmd_t* cmd,
                        npusim_exec_t* ex);
/* Writes `size` bytes to host window address `iova` (FENCE records). */
uint32_t npusim_host_write(npusim_t* sim, uint64_t iova, const void* src,
                           uint64_t size);

/* f16 <-> f32, round to nearest even. */
float npusim_half_to_float(uint16_t h);
uint16_t npusim_float_to_half(float f);

#endif /* NPUSIM_INTERNAL_H_ */
