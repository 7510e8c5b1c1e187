/*
 * device.c - the device: register file, host aperture, host windows, the
 * interrupt line, and the device thread that executes the command ring
 * the way firmware would (fetch, check, execute, charge cycles, complete).
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "npusim_internal.h"

uint32_t npusim_dtype_size(uint32_t dtype) {
  switch (dtype) {
    case NPUSIM_DT_F32:
    case NPUSIM_DT_I32:
      return 4;
    case NPUSIM_DT_F16:
      return 2;
    case NPUSIM_DT_I8:
      return 1;
    default:
      return 0;
  }
}

const npusim_config_t* npusim_get_config(const npusim_t* sim) {
  return &sim->cfg;
}

/* ------------------------------------------------------------- timing */

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint64_t sat_add(uint64_t a, uint64_t b) {
  uint64_t r;
  return npusim_add_ok(a, b, &r) ? r : UINT64_MAX;
}

static uint64_t wait_time(const npusim_t* sim, const npusim_cmd_t* cmd) {
  uint64_t t = 0;
  unsigned i;
  for (i = 0; i < NPUSIM_NUM_SEMS; ++i) {
    if (cmd->wait_mask & (1u << i)) t = max_u64(t, sim->tl.sem[i]);
  }
  return t;
}

static void trace_push(npusim_t* sim, const npusim_trace_event_t* ev) {
  if (!sim->trace_on) return;
  if (sim->trace_len == sim->trace_cap) {
    uint64_t cap = sim->trace_cap ? sim->trace_cap * 2 : 256;
    npusim_trace_event_t* t;
    uint64_t bytes;
    if (!npusim_mul_ok(cap, sizeof(*t), &bytes) || bytes > SIZE_MAX) return;
    t = realloc(sim->trace, (size_t)bytes);
    if (!t) return; /* tracing is best effort; the model goes on */
    sim->trace = t;
    sim->trace_cap = cap;
  }
  sim->trace[sim->trace_len++] = *ev;
}

/* Places a finished command on its engine's timeline: it starts when the
 * engine is free and every semaphore it waits on has been signalled, runs
 * `cycles`, and signals its semaphore at the end. Called with mu held. */
static void charge(npusim_t* sim, const npusim_cmd_t* cmd,
                   const npusim_exec_t* ex) {
  npusim_counters_t* c = &sim->counters;
  uint64_t free_at = sim->tl.engine_free[ex->engine];
  uint64_t start = max_u64(free_at, wait_time(sim, cmd));
  uint64_t end = sat_add(start, ex->cycles);
  npusim_trace_event_t ev;
  sim->tl.engine_free[ex->engine] = end;
  if (cmd->signal > 0 && cmd->signal <= NPUSIM_NUM_SEMS) {
    sim->tl.sem[cmd->signal - 1] = end;
  }
  if (ex->engine == ENGINE_COMPUTE) {
    c->stall = sat_add(c->stall, start - free_at);
    c->compute = sat_add(c->compute, ex->cycles);
    if (cmd->opcode == NPUSIM_OP_GEMM) {
      c->gemm = sat_add(c->gemm, ex->cycles);
      c->macs = sat_add(c->macs, ex->macs);
    } else {
      c->vector = sat_add(c->vector, ex->cycles);
    }
  } else {
    c->dma = sat_add(c->dma, ex->cycles);
    if (ex->src_space == NPUSIM_SPACE_HOST) {
      c->h2d = sat_add(c->h2d, ex->bytes);
    } else if (ex->dst_space == NPUSIM_SPACE_HOST) {
      c->d2h = sat_add(c->d2h, ex->bytes);
    } else if (ex->src_space == NPUSIM_SPACE_DRAM &&
               ex->dst_space == NPUSIM_SPACE_SPAD) {
      c->dram_to_spad = sat_add(c->dram_to_spad, ex->bytes);
    } else if (ex->src_space == NPUSIM_SPACE_SPAD &&
               ex->dst_space == NPUSIM_SPACE_DRAM) {
      c->spad_to_dram = sat_add(c->spad_to_dram, ex->bytes);
    } else {
      c->local = sat_add(c->local, ex->bytes);
    }
  }
  c->total = max_u64(c->total, end);
  ev.start = start;
  ev.cycles = ex->cycles;
  ev.engine = ex->engine;
  ev.opcode = cmd->opcode;
  ev.func = cmd->func;
  ev.reserved = 0;
  ev.bytes = cmd->opcode == NPUSIM_OP_GEMM ? ex->macs : ex->bytes;
  trace_push(sim, &ev);
}

/* A barrier: every engine waits for every other (and for the semaphores
 * the command names). Returns the time at which all work before it is
 * done. Called with mu held. */
static uint64_t barrier(npusim_t* sim, const npusim_cmd_t* cmd) {
  uint64_t t = wait_time(sim, cmd);
  int e;
  for (e = 0; e < ENGINE_COUNT; ++e) t = max_u64(t, sim->tl.engine_free[e]);
  for (e = 0; e < ENGINE_COUNT; ++e) sim->tl.engine_free[e] = t;
  if (cmd->signal > 0 && cmd->signal <= NPUSIM_NUM_SEMS) {
    sim->tl.sem[cmd->signal - 1] = t;
  }
  sim->counters.total = max_u64(sim->counters.total, t);
  return t;
}

/* ----------------------------------------------------------- interrupts */

/* Latches IRQ bits; returns the bits to deliver (enabled ones). mu held. */
static uint64_t raise_irq(npusim_t* sim, uint64_t bits) {
  sim->irq_status |= bits;
  return bits & sim->irq_enable;
}

static void deliver_irq(npusim_t* sim, uint64_t bits) {
  npusim_irq_fn fn;
  void* user;
  if (!bits) return;
  pthread_mutex_lock(&sim->mu);
  fn = sim->irq_fn;
  user = sim->irq_user;
  pthread_mutex_unlock(&sim->mu);
  if (fn) fn(user, bits);
}

void npusim_set_irq_handler(npusim_t* sim, npusim_irq_fn fn, void* user) {
  if (!sim) return;
  pthread_mutex_lock(&sim->mu);
  sim->irq_fn = fn;
  sim->irq_user = user;
  pthread_mutex_unlock(&sim->mu);
}

/* ------------------------------------------------------- device thread */

/* Reads the command at ring index `idx` from DRAM. The ring was checked
 * when it was enabled, so the slot lies inside DRAM. */
static void fetch(npusim_t* sim, uint64_t idx, npusim_cmd_t* cmd) {
  uint64_t slot = idx & (sim->ring_size - 1);
  memcpy(cmd, sim->dram + sim->ring_base + slot * sizeof(*cmd), sizeof(*cmd));
}

static void exec_fence(npusim_t* sim, const npusim_cmd_t* cmd,
                       npusim_exec_t* ex, uint64_t* irq) {
  npusim_fence_record_t rec;
  uint64_t t;
  if (cmd->flags & ~(uint32_t)(NPUSIM_FENCE_IRQ | NPUSIM_FENCE_RECORD)) {
    ex->error = NPUSIM_ERR_BAD_ARG;
    return;
  }
  pthread_mutex_lock(&sim->mu);
  t = barrier(sim, cmd);
  pthread_mutex_unlock(&sim->mu);
  if (cmd->flags & NPUSIM_FENCE_RECORD) {
    rec.value = cmd->a[0];
    rec.cycles = t;
    ex->error = npusim_host_write(sim, cmd->a[1], &rec, sizeof(rec));
    if (ex->error) {
      ex->error_addr = cmd->a[1];
      return;
    }
  }
  if (cmd->flags & NPUSIM_FENCE_IRQ) *irq |= NPUSIM_IRQ_FENCE;
}

/* Blocks while the injected hang holds the command; an ABORT or shutdown
 * releases it. mu held. */
static void hang(npusim_t* sim, npusim_exec_t* ex) {
  while (!sim->stop && !sim->abort_req) {
    pthread_cond_wait(&sim->cv, &sim->mu);
  }
  ex->error = NPUSIM_ERR_ABORTED;
}

/* Blocks until HOST_SEM reaches the command's value. mu held. */
static void wait_host(npusim_t* sim, const npusim_cmd_t* cmd,
                      npusim_exec_t* ex) {
  uint64_t irq = 0;
  if (sim->host_sem < cmd->a[0]) {
    sim->status = NPUSIM_STATUS_WAIT_HOST;
    irq = raise_irq(sim, NPUSIM_IRQ_WAIT);
    if (irq) {
      pthread_mutex_unlock(&sim->mu);
      deliver_irq(sim, irq);
      pthread_mutex_lock(&sim->mu);
    }
  }
  while (!sim->stop && !sim->abort_req && sim->host_sem < cmd->a[0]) {
    pthread_cond_wait(&sim->cv, &sim->mu);
  }
  if (sim->host_sem < cmd->a[0]) ex->error = NPUSIM_ERR_ABORTED;
  sim->status = NPUSIM_STATUS_BUSY;
}

/* Executes one command outside mu (except the blocking kinds). */
static void execute(npusim_t* sim, const npusim_cmd_t* cmd, npusim_exec_t* ex,
                    uint64_t* irq) {
  switch (cmd->opcode) {
    case NPUSIM_OP_NOP:
      break;
    case NPUSIM_OP_DMA:
      npusim_exec_dma(sim, cmd, ex);
      break;
    case NPUSIM_OP_FILL:
      npusim_exec_fill(sim, cmd, ex);
      break;
    case NPUSIM_OP_GEMM:
      npusim_exec_gemm(sim, cmd, ex);
      break;
    case NPUSIM_OP_VECTOR:
      npusim_exec_vector(sim, cmd, ex);
      break;
    case NPUSIM_OP_FENCE:
      exec_fence(sim, cmd, ex, irq);
      break;
    case NPUSIM_OP_BARRIER:
      pthread_mutex_lock(&sim->mu);
      (void)barrier(sim, cmd);
      pthread_mutex_unlock(&sim->mu);
      break;
    case NPUSIM_OP_WAIT_HOST:
      pthread_mutex_lock(&sim->mu);
      wait_host(sim, cmd, ex);
      pthread_mutex_unlock(&sim->mu);
      break;
    default:
      ex->error = NPUSIM_ERR_BAD_OPCODE;
      break;
  }
}

static int has_timeline_cost(uint8_t opcode) {
  return opcode == NPUSIM_OP_DMA || opcode == NPUSIM_OP_FILL ||
         opcode == NPUSIM_OP_GEMM || opcode == NPUSIM_OP_VECTOR;
}

/* Runs one fetched command through fault injection and execution, then
 * completes or faults it. Called and returns with mu held. */
static void run_one(npusim_t* sim, uint64_t idx) {
  npusim_cmd_t cmd;
  npusim_exec_t ex;
  uint64_t irq = 0;
  memset(&ex, 0, sizeof(ex));
  ex.src_space = ex.dst_space = -1;
  fetch(sim, idx, &cmd);
  sim->cmd_seen++;
  sim->running = 1;
  if (sim->cfg.fault_device_lost_at &&
      sim->cmd_seen == sim->cfg.fault_device_lost_at) {
    sim->lost = 1;
    sim->running = 0;
    irq = raise_irq(sim, NPUSIM_IRQ_LOST);
    pthread_mutex_unlock(&sim->mu);
    deliver_irq(sim, irq);
    pthread_mutex_lock(&sim->mu);
    return;
  }
  if (sim->cfg.fault_hang_at && sim->cmd_seen == sim->cfg.fault_hang_at) {
    hang(sim, &ex);
  } else {
    pthread_mutex_unlock(&sim->mu);
    execute(sim, &cmd, &ex, &irq);
    pthread_mutex_lock(&sim->mu);
  }
  sim->running = 0;
  if (sim->abort_req && !ex.error) ex.error = NPUSIM_ERR_ABORTED;
  sim->abort_req = 0;
  sim->counters.commands++;
  if (ex.error) {
    sim->counters.faults++;
    sim->err_code = ex.error;
    sim->err_cmd = idx;
    sim->err_addr = ex.error_addr;
    sim->status = NPUSIM_STATUS_HALTED;
    irq = raise_irq(sim, NPUSIM_IRQ_FAULT);
  } else {
    if (has_timeline_cost(cmd.opcode)) charge(sim, &cmd, &ex);
    if (cmd.opcode == NPUSIM_OP_FENCE) sim->fence = cmd.a[0];
    sim->head = idx + 1;
    irq = raise_irq(sim, irq);
  }
  if (irq) {
    pthread_mutex_unlock(&sim->mu);
    deliver_irq(sim, irq);
    pthread_mutex_lock(&sim->mu);
  }
}

static void* device_main(void* arg) {
  npusim_t* sim = arg;
  pthread_mutex_lock(&sim->mu);
  while (!sim->stop) {
    if (sim->lost) {
      pthread_cond_wait(&sim->cv, &sim->mu);
      continue;
    }
    if (sim->status == NPUSIM_STATUS_HALTED) {
      pthread_cond_wait(&sim->cv, &sim->mu);
      continue;
    }
    if (!sim->enabled || sim->head == sim->tail) {
      sim->status = sim->enabled ? NPUSIM_STATUS_IDLE : NPUSIM_STATUS_DISABLED;
      pthread_cond_wait(&sim->cv, &sim->mu);
      continue;
    }
    sim->status = NPUSIM_STATUS_BUSY;
    run_one(sim, sim->head);
  }
  pthread_mutex_unlock(&sim->mu);
  return NULL;
}

/* ------------------------------------------------------------ registers */

uint64_t npusim_reg_read(npusim_t* sim, uint32_t off) {
  uint64_t v = 0;
  const npusim_counters_t* c;
  if (!sim) return NPUSIM_REG_DEAD;
  pthread_mutex_lock(&sim->mu);
  c = &sim->counters;
  if (sim->lost) {
    pthread_mutex_unlock(&sim->mu);
    return NPUSIM_REG_DEAD;
  }
  switch (off) {
    case NPUSIM_REG_ID:
      v = NPUSIM_ID;
      break;
    case NPUSIM_REG_VERSION:
      v = (NPUSIM_VERSION_MAJOR << 16) | NPUSIM_VERSION_MINOR;
      break;
    case NPUSIM_REG_STATUS:
      v = sim->status;
      break;
    case NPUSIM_REG_RING_BASE:
      v = sim->ring_base;
      break;
    case NPUSIM_REG_RING_SIZE:
      v = sim->ring_size;
      break;
    case NPUSIM_REG_RING_HEAD:
      v = sim->head;
      break;
    case NPUSIM_REG_DOORBELL:
      v = sim->tail;
      break;
    case NPUSIM_REG_FENCE:
      v = sim->fence;
      break;
    case NPUSIM_REG_ERROR_CODE:
      v = sim->err_code;
      break;
    case NPUSIM_REG_ERROR_CMD:
      v = sim->err_cmd;
      break;
    case NPUSIM_REG_ERROR_ADDR:
      v = sim->err_addr;
      break;
    case NPUSIM_REG_IRQ_STATUS:
      v = sim->irq_status;
      break;
    case NPUSIM_REG_IRQ_ENABLE:
      v = sim->irq_enable;
      break;
    case NPUSIM_REG_HOST_SEM:
      v = sim->host_sem;
      break;
    case NPUSIM_REG_CYCLES:
      v = c->total;
      break;
    case NPUSIM_REG_CAP_ROWS:
      v = sim->cfg.rows;
      break;
    case NPUSIM_REG_CAP_COLS:
      v = sim->cfg.cols;
      break;
    case NPUSIM_REG_CAP_CLOCK_MHZ:
      v = sim->cfg.clock_mhz;
      break;
    case NPUSIM_REG_CAP_DRAM_BYTES:
      v = sim->cfg.dram_bytes;
      break;
    case NPUSIM_REG_CAP_SPAD_BYTES:
      v = sim->cfg.spad_bytes;
      break;
    case NPUSIM_REG_CAP_VECTOR_LANES:
      v = sim->cfg.vector_lanes;
      break;
    case NPUSIM_REG_CAP_DMA_BPC:
      v = sim->cfg.dma_bytes_per_cycle;
      break;
    case NPUSIM_REG_CAP_DATAFLOW:
      v = sim->cfg.dataflow;
      break;
    case NPUSIM_REG_CNT_TOTAL:
      v = c->total;
      break;
    case NPUSIM_REG_CNT_COMPUTE:
      v = c->compute;
      break;
    case NPUSIM_REG_CNT_GEMM:
      v = c->gemm;
      break;
    case NPUSIM_REG_CNT_VECTOR:
      v = c->vector;
      break;
    case NPUSIM_REG_CNT_DMA:
      v = c->dma;
      break;
    case NPUSIM_REG_CNT_STALL:
      v = c->stall;
      break;
    case NPUSIM_REG_CNT_MACS:
      v = c->macs;
      break;
    case NPUSIM_REG_CNT_H2D_BYTES:
      v = c->h2d;
      break;
    case NPUSIM_REG_CNT_D2H_BYTES:
      v = c->d2h;
      break;
    case NPUSIM_REG_CNT_DRAM_TO_SPAD_BYTES:
      v = c->dram_to_spad;
      break;
    case NPUSIM_REG_CNT_SPAD_TO_DRAM_BYTES:
      v = c->spad_to_dram;
      break;
    case NPUSIM_REG_CNT_LOCAL_BYTES:
      v = c->local;
      break;
    case NPUSIM_REG_CNT_COMMANDS:
      v = c->commands;
      break;
    case NPUSIM_REG_CNT_FAULTS:
      v = c->faults;
      break;
    default:
      v = 0;
      break; /* unmapped and write-only registers read 0 */
  }
  pthread_mutex_unlock(&sim->mu);
  return v;
}

/* Checks the ring registers when fetching is enabled. mu held. */
static int ring_ok(const npusim_t* sim) {
  uint64_t bytes;
  if (sim->ring_size == 0 || (sim->ring_size & (sim->ring_size - 1))) {
    return 0;
  }
  if (sim->ring_base % sizeof(npusim_cmd_t)) return 0;
  if (!npusim_mul_ok(sim->ring_size, sizeof(npusim_cmd_t), &bytes)) return 0;
  return npusim_in_range(sim->ring_base, bytes, sim->cfg.dram_bytes);
}

static void control(npusim_t* sim, uint64_t v, uint64_t* irq) {
  if (v & NPUSIM_CTRL_ENABLE) {
    if (ring_ok(sim)) {
      sim->enabled = 1;
    } else {
      sim->err_code = NPUSIM_ERR_RING;
      sim->err_addr = sim->ring_base;
      sim->status = NPUSIM_STATUS_HALTED;
      *irq |= raise_irq(sim, NPUSIM_IRQ_FAULT);
    }
  }
  if ((v & NPUSIM_CTRL_RESUME) && sim->status == NPUSIM_STATUS_HALTED) {
    /* Resume skips the faulting command, as its effects are undefined
     * and replaying it would fault again; a bad ring never fetched one. */
    if (sim->err_code != NPUSIM_ERR_RING) sim->head++;
    sim->err_code = NPUSIM_ERR_NONE;
    sim->status = sim->enabled ? NPUSIM_STATUS_IDLE : NPUSIM_STATUS_DISABLED;
  }
  if ((v & NPUSIM_CTRL_ABORT) && sim->running) sim->abort_req = 1;
  if (v & NPUSIM_CTRL_RESET_COUNTERS) {
    memset(&sim->counters, 0, sizeof(sim->counters));
    memset(&sim->tl, 0, sizeof(sim->tl));
  }
}

void npusim_reg_write(npusim_t* sim, uint32_t off, uint64_t v) {
  uint64_t irq = 0;
  if (!sim) return;
  pthread_mutex_lock(&sim->mu);
  if (sim->lost) {
    pthread_mutex_unlock(&sim->mu);
    return;
  }
  switch (off) {
    case NPUSIM_REG_CONTROL:
      control(sim, v, &irq);
      break;
    case NPUSIM_REG_RING_BASE:
      if (!sim->enabled) sim->ring_base = v;
      break;
    case NPUSIM_REG_RING_SIZE:
      if (!sim->enabled) sim->ring_size = v;
      break;
    case NPUSIM_REG_DOORBELL:
      /* A tail behind the head or more than a ring ahead is ignored: the
       * device never runs commands that were not written. */
      if (v >= sim->head && v - sim->head <= sim->ring_size) sim->tail = v;
      break;
    case NPUSIM_REG_IRQ_STATUS:
      sim->irq_status &= ~v;
      break;
    case NPUSIM_REG_IRQ_ENABLE:
      sim->irq_enable = v;
      break;
    case NPUSIM_REG_HOST_SEM:
      sim->host_sem = v;
      break;
    default:
      break; /* read-only or unmapped: writes are dropped */
  }
  pthread_cond_broadcast(&sim->cv);
  pthread_mutex_unlock(&sim->mu);
  if (irq) deliver_irq(sim, irq);
}

/* ------------------------------------------------------------- aperture */

int npusim_aperture_write(npusim_t* sim, uint64_t addr, const void* src,
                          uint64_t size) {
  if (!sim || (!src && size)) return NPUSIM_E_INVAL;
  if (!npusim_in_range(addr, size, sim->cfg.dram_bytes)) {
    return NPUSIM_E_RANGE;
  }
  if (size) memcpy(sim->dram + addr, src, (size_t)size);
  return NPUSIM_OK;
}

int npusim_aperture_read(npusim_t* sim, uint64_t addr, void* dst,
                         uint64_t size) {
  if (!sim || (!dst && size)) return NPUSIM_E_INVAL;
  if (!npusim_in_range(addr, size, sim->cfg.dram_bytes)) {
    return NPUSIM_E_RANGE;
  }
  if (size) memcpy(dst, sim->dram + addr, (size_t)size);
  return NPUSIM_OK;
}

/* --------------------------------------------------------- host windows */

int npusim_host_map(npusim_t* sim, void* host, uint64_t size, int writable,
                    uint64_t* out_iova) {
  int i;
  uint64_t iova;
  if (!sim || !host || size == 0 || !out_iova) return NPUSIM_E_INVAL;
  pthread_mutex_lock(&sim->win_mu);
  for (i = 0; i < NPUSIM_MAX_WINDOWS; ++i) {
    if (!sim->windows[i].used) break;
  }
  /* Page-aligned IOVAs with a guard page between windows, so an access
   * that runs off one window never lands in the next. */
  iova = sim->next_iova;
  if (i == NPUSIM_MAX_WINDOWS ||
      !npusim_add_ok(iova, (size + 8191) & ~4095ull, &sim->next_iova)) {
    pthread_mutex_unlock(&sim->win_mu);
    return NPUSIM_E_NOSPC;
  }
  sim->windows[i].iova = iova;
  sim->windows[i].size = size;
  sim->windows[i].host = host;
  sim->windows[i].writable = writable;
  sim->windows[i].used = 1;
  pthread_mutex_unlock(&sim->win_mu);
  *out_iova = iova;
  return NPUSIM_OK;
}

int npusim_host_unmap(npusim_t* sim, uint64_t iova) {
  int i, rc = NPUSIM_E_INVAL;
  if (!sim) return NPUSIM_E_INVAL;
  pthread_mutex_lock(&sim->win_mu);
  for (i = 0; i < NPUSIM_MAX_WINDOWS; ++i) {
    if (sim->windows[i].used && sim->windows[i].iova == iova) {
      sim->windows[i].used = 0;
      rc = NPUSIM_OK;
      break;
    }
  }
  pthread_mutex_unlock(&sim->win_mu);
  return rc;
}

/* ----------------------------------------------------- create / destroy */

/* DRAM is a private anonymous mapping: the kernel hands out zeroed pages
 * on first touch, so a 512 MiB device costs only the pages written to it.
 * calloc gives the same under glibc but not under every allocator:
 * ThreadSanitizer's zeroes the whole block at calloc and walks its
 * metadata at free, about a gigabyte of page faults per device. An
 * inaccessible page on each side turns a model bug that runs off either
 * end into a fault at once, as ASan's red zones did for the heap block. */
static size_t dram_span(uint64_t bytes, size_t* page) {
  *page = (size_t)sysconf(_SC_PAGESIZE);
  return ((size_t)bytes + *page - 1) / *page * *page;
}

static uint8_t* dram_map(uint64_t bytes) {
  size_t page;
  size_t span = dram_span(bytes, &page);
  uint8_t* base = mmap(NULL, span + 2 * page, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return NULL;
  if (mprotect(base + page, span, PROT_READ | PROT_WRITE) != 0) {
    munmap(base, span + 2 * page);
    return NULL;
  }
  return base + page;
}

static void dram_unmap(uint8_t* dram, uint64_t bytes) {
  size_t page;
  size_t span = dram_span(bytes, &page);
  if (dram) munmap(dram - page, span + 2 * page);
}

int npusim_create(const npusim_config_t* config, npusim_t** out) {
  npusim_t* sim;
  if (!config || !out) return NPUSIM_E_INVAL;
  *out = NULL;
  if (npusim_config_validate(config, NULL, 0) != NPUSIM_OK) {
    return NPUSIM_E_INVAL;
  }
  if (config->dram_bytes > SIZE_MAX || config->spad_bytes > SIZE_MAX) {
    return NPUSIM_E_INVAL;
  }
  sim = calloc(1, sizeof(*sim));
  if (!sim) return NPUSIM_E_NOMEM;
  sim->cfg = *config;
  sim->dram = dram_map(config->dram_bytes);
  sim->spad = calloc(1, (size_t)config->spad_bytes);
  sim->next_iova = NPUSIM_IOVA_BASE;
  sim->status = NPUSIM_STATUS_DISABLED;
  if (!sim->dram || !sim->spad) {
    dram_unmap(sim->dram, config->dram_bytes);
    free(sim->spad);
    free(sim);
    return NPUSIM_E_NOMEM;
  }
  pthread_mutex_init(&sim->mu, NULL);
  pthread_mutex_init(&sim->win_mu, NULL);
  pthread_cond_init(&sim->cv, NULL);
  if (pthread_create(&sim->thread, NULL, device_main, sim) != 0) {
    npusim_destroy(sim);
    return NPUSIM_E_THREAD;
  }
  sim->thread_started = 1;
  *out = sim;
  return NPUSIM_OK;
}

void npusim_destroy(npusim_t* sim) {
  if (!sim) return;
  if (sim->thread_started) {
    pthread_mutex_lock(&sim->mu);
    sim->stop = 1;
    pthread_cond_broadcast(&sim->cv);
    pthread_mutex_unlock(&sim->mu);
    pthread_join(sim->thread, NULL);
  }
  pthread_cond_destroy(&sim->cv);
  pthread_mutex_destroy(&sim->win_mu);
  pthread_mutex_destroy(&sim->mu);
  free(sim->tmp_a);
  free(sim->tmp_b);
  free(sim->trace);
  dram_unmap(sim->dram, sim->cfg.dram_bytes);
  free(sim->spad);
  free(sim);
}

/* ---------------------------------------------------------------- trace */

void npusim_trace_enable(npusim_t* sim, int on) {
  if (!sim) return;
  pthread_mutex_lock(&sim->mu);
  sim->trace_on = on != 0;
  if (on) sim->trace_len = 0;
  pthread_mutex_unlock(&sim->mu);
}

static const char* event_name(const npusim_trace_event_t* ev) {
  switch (ev->opcode) {
    case NPUSIM_OP_DMA:
      return "dma";
    case NPUSIM_OP_FILL:
      return "fill";
    case NPUSIM_OP_GEMM:
      return "gemm";
    case NPUSIM_OP_VECTOR:
      return "vector";
    default:
      return "cmd";
  }
}

int npusim_trace_write_json(npusim_t* sim, FILE* out) {
  uint64_t i;
  double mhz;
  int ok = 1;
  if (!sim || !out) return NPUSIM_E_INVAL;
  mhz = (double)sim->cfg.clock_mhz;
  pthread_mutex_lock(&sim->mu);
  ok &= fprintf(out, "{\"traceEvents\":[\n") > 0;
  ok &= fprintf(out,
                "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":0,"
                "\"args\":{\"name\":\"DMA\"}},\n"
                "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":1,"
                "\"args\":{\"name\":\"compute\"}}") > 0;
  for (i = 0; i < sim->trace_len; ++i) {
    const npusim_trace_event_t* ev = &sim->trace[i];
    ok &= fprintf(out,
                  ",\n{\"name\":\"%s\",\"ph\":\"X\",\"pid\":0,\"tid\":%u,"
                  "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"cycles\":%llu,"
                  "\"start_cycle\":%llu,\"%s\":%llu,\"func\":%u}}",
                  event_name(ev), ev->engine, (double)ev->start / mhz,
                  (double)ev->cycles / mhz, (unsigned long long)ev->cycles,
                  (unsigned long long)ev->start,
                  ev->opcode == NPUSIM_OP_GEMM ? "macs" : "bytes",
                  (unsigned long long)ev->bytes, ev->func) > 0;
  }
  ok &= fprintf(out, "\n],\"displayTimeUnit\":\"ns\"}\n") > 0;
  pthread_mutex_unlock(&sim->mu);
  return ok ? NPUSIM_OK : NPUSIM_E_IO;
}
