/*
 * npu_device.c - bring-up of the simulated NPU and everything that talks
 * to its hardware interface: the ring (submission batches, fences), host
 * windows, the interrupt relay, the service thread (faults, device loss,
 * the hang watchdog) and the stream workers.
 *
 * Failure model: the device halts on a faulting command. The service
 * thread finds the stream that owns the faulting ring slot, marks it
 * failed after the last completed fence, turns the stream's later commands
 * still in the ring into NOPs (its fences stay, so fence values keep
 * advancing and its events complete as failed), fails streams that wait
 * on it, and resumes the device. A command that runs past the watchdog is
 * aborted through CONTROL.ABORT (then handled as a fault); a device that
 * stops answering is declared lost.
 *
 * Held streams: host functions and waits for events not yet in the ring
 * never go into the ring (which would block every stream behind them).
 * The stream is held instead: its later work is captured into its
 * software queue, and its worker thread runs the host function (once the
 * stream's earlier work completed) or resolves the wait, then pushes the
 * queued work into the ring and releases the hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npu_internal.h"

/* The ring occupies the bottom of DRAM; the heap starts after it. */
#define NPU_RING_BASE 0u
#define NPU_RING_BYTES ((uint64_t)NPU_RING_ENTRIES * sizeof(npusim_cmd_t))

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Absolute CLOCK_MONOTONIC deadline `ns` from now, for timed waits. */
static struct timespec deadline_in(uint64_t ns) {
  struct timespec ts;
  uint64_t t = now_ns() + ns;
  ts.tv_sec = (time_t)(t / 1000000000ull);
  ts.tv_nsec = (long)(t % 1000000000ull);
  return ts;
}

static void log_msg(npu_dev_t* dev, xhal_log_level_t level, const char* msg) {
  const xhal_host_services_t* h = dev->ctx->host;
  if (h && h->log) h->log(h->host_context, level, msg);
}

void npu_set_error(npu_dev_t* dev, xhal_status_t status, const char* msg) {
  const xhal_host_services_t* h = dev->ctx->host;
  if (h && h->set_error) h->set_error(h->host_context, status, msg);
}

/* ------------------------------------------------------------ interrupts */

/* The interrupt relay: the model calls the handler on its own thread,
 * possibly from inside a register write the driver makes with `mu` held,
 * so the handler takes only the leaf lock `irq_mu` and wakes the service
 * thread, which does the real work. */
static pthread_mutex_t* irq_mu_of(npu_dev_t* dev);
typedef struct irq_relay {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t pending;
} irq_relay_t;

typedef struct npu_dev_private {
  npu_dev_t pub;
  irq_relay_t irq;
  uint64_t wd_head;
  uint64_t wd_since;
  uint64_t wd_pass; /* when the service thread last looked */
  int wd_aborted;
  uint64_t window_fence_unbound;
} npu_dev_private_t;

static npu_dev_private_t* priv(npu_dev_t* dev) {
  return (npu_dev_private_t*)(void*)dev;
}
static pthread_mutex_t* irq_mu_of(npu_dev_t* dev) { return &priv(dev)->irq.mu; }

static void irq_handler(void* user, uint64_t bits) {
  npu_dev_t* dev = user;
  irq_relay_t* irq = &priv(dev)->irq;
  pthread_mutex_lock(irq_mu_of(dev));
  irq->pending |= bits;
  pthread_cond_signal(&irq->cv);
  pthread_mutex_unlock(irq_mu_of(dev));
}

/* ---------------------------------------------------------------- faults */

static npu_failure_t* find_failure(npu_dev_t* dev, uint64_t sid) {
  uint32_t i;
  for (i = 0; i < dev->num_failures; ++i) {
    if (dev->failures[i].stream_id == sid) return &dev->failures[i];
  }
  return NULL;
}

xhal_status_t npu_stream_failure(npu_dev_t* dev, uint64_t sid) {
  const npu_failure_t* f;
  if (dev->lost) return XHAL_ERROR_DEVICE_LOST;
  f = find_failure(dev, sid);
  return f ? f->status : XHAL_OK;
}

void npu_failure_cause(npu_dev_t* dev, uint64_t sid, char* buf, size_t size) {
  const npu_failure_t* f;
  pthread_mutex_lock(&dev->mu);
  f = find_failure(dev, sid);
  if (dev->lost) {
    snprintf(buf, size, "device lost: %s", dev->lost_reason);
  } else if (f) {
    snprintf(buf, size, "%s", f->cause);
  } else {
    snprintf(buf, size, "stream %llu has no recorded failure",
             (unsigned long long)sid);
  }
  pthread_mutex_unlock(&dev->mu);
}

/* Why a stream that waited on stream `target` failed. mu held. */
static const char* target_cause(npu_dev_t* dev, uint64_t target, char* buf,
                                size_t size) {
  const npu_failure_t* f = find_failure(dev, target);
  snprintf(buf, size, "waited on stream %llu, which failed: %s",
           (unsigned long long)target, f ? f->cause : "(cause unknown)");
  return buf;
}

static void mark_lost(npu_dev_t* dev, const char* reason) {
  const xhal_host_services_t* h = dev->ctx->host;
  char msg[192];
  if (dev->lost) return;
  dev->lost = 1;
  snprintf(dev->lost_reason, sizeof(dev->lost_reason), "%s", reason);
  snprintf(msg, sizeof(msg), "npu: device lost: %s", reason);
  log_msg(dev, XHAL_LOG_ERROR, msg);
  if (h && h->report_device_lost) {
    h->report_device_lost(h->host_context, 0, reason);
  }
  pthread_cond_broadcast(&dev->cv);
}

/* Turns stream `sid`'s commands in ring slots [from, tail) into NOPs,
 * keeping its fences. The device is halted or blocked before `from`. */
static void patch_ring(npu_dev_t* dev, uint64_t sid, uint64_t from) {
  uint64_t i;
  npusim_cmd_t cmd, nop;
  memset(&nop, 0, sizeof(nop));
  for (i = from; i < dev->tail; ++i) {
    uint64_t slot = i % NPU_RING_ENTRIES;
    uint64_t addr = NPU_RING_BASE + slot * sizeof(cmd);
    if (dev->owner[slot] != sid) continue;
    if (npusim_aperture_read(dev->sim, addr, &cmd, sizeof(cmd)) != NPUSIM_OK) {
      continue;
    }
    if (cmd.opcode == NPUSIM_OP_FENCE) continue;
    (void)npusim_aperture_write(dev->sim, addr, &nop, sizeof(nop));
  }
}

/* Fails stream `sid` after fence `after` with `status`, skipping its
 * commands from ring index `from`, and fails the streams waiting on it.
 * mu held. */
static void fail_stream(npu_dev_t* dev, uint64_t sid, uint64_t after,
                        xhal_status_t status, uint64_t from,
                        const char* cause) {
  uint32_t i;
  const npu_failure_t* f;
  char waited[sizeof(f->cause) + 64];
  if (sid == 0) return;
  if (!find_failure(dev, sid)) {
    if (dev->num_failures == NPU_MAX_FAILURES) {
      /* The table only grows with distinct failed streams; past its size
       * the device is in no state worth continuing. */
      mark_lost(dev, "too many failed streams");
      return;
    }
    dev->failures[dev->num_failures].stream_id = sid;
    dev->failures[dev->num_failures].after_fence = after;
    dev->failures[dev->num_failures].status = status;
    snprintf(dev->failures[dev->num_failures].cause,
             sizeof(dev->failures[dev->num_failures].cause), "%s", cause);
    dev->num_failures++;
  }
  f = find_failure(dev, sid);
  snprintf(waited, sizeof(waited), "waited on stream %llu, which failed: %s",
           (unsigned long long)sid, f ? f->cause : cause);
  patch_ring(dev, sid, from);
  for (i = 0; i < dev->num_deps;) {
    npu_dep_t d = dev->deps[i];
    if (d.target == sid && d.fence > after) {
      dev->deps[i] = dev->deps[--dev->num_deps];
      fail_stream(dev, d.waiter, d.waiter_fence, status, d.ring_pos, waited);
    } else {
      ++i;
    }
  }
}

static void handle_fault(npu_dev_t* dev) {
  uint64_t code = npusim_reg_read(dev->sim, NPUSIM_REG_ERROR_CODE);
  uint64_t idx = npusim_reg_read(dev->sim, NPUSIM_REG_ERROR_CMD);
  uint64_t addr = npusim_reg_read(dev->sim, NPUSIM_REG_ERROR_ADDR);
  uint64_t done = npusim_reg_read(dev->sim, NPUSIM_REG_FENCE);
  uint64_t sid = dev->owner[idx % NPU_RING_ENTRIES];
  static const char* const kOps[] = {"NOP",    "DMA",   "FILL",    "GEMM",
                                     "VECTOR", "FENCE", "BARRIER", "WAIT_HOST"};
  static const char* const kErrors[] = {
      "none",       "bad opcode",       "bad argument",
      "DRAM range", "scratchpad range", "host range",
      "DMA fault",  "aborted",          "ring",
      "overlap"};
  npusim_cmd_t cmd;
  const char* op = "?";
  if (npusim_aperture_read(
          dev->sim, NPU_RING_BASE + (idx % NPU_RING_ENTRIES) * sizeof(cmd),
          &cmd, sizeof(cmd)) == NPUSIM_OK &&
      cmd.opcode < sizeof(kOps) / sizeof(kOps[0])) {
    op = kOps[cmd.opcode];
  }
  char cause[192];
  snprintf(cause, sizeof(cause),
           "%s command %llu of stream %llu faulted: error %llu (%s) at "
           "0x%llx",
           op, (unsigned long long)idx, (unsigned long long)sid,
           (unsigned long long)code,
           code < sizeof(kErrors) / sizeof(kErrors[0]) ? kErrors[code] : "?",
           (unsigned long long)addr);
  char msg[200];
  snprintf(msg, sizeof(msg), "npu: %s", cause);
  log_msg(dev, XHAL_LOG_WARN, msg);
  fail_stream(dev, sid, done, XHAL_ERROR_EXECUTION_FAILED, idx + 1, cause);
  npusim_reg_write(dev->sim, NPUSIM_REG_IRQ_STATUS, NPUSIM_IRQ_FAULT);
  npusim_reg_write(dev->sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_RESUME);
}

/* The hang watchdog: a command that makes no progress for watchdog_ms is
 * aborted; if the abort does not take effect either, the device is lost.
 * Only time it watched counts: after a gap between two looks of half the
 * limit, and at least a quarter second (the service thread looks every
 * 20 ms unless it starved on a loaded host), it starts over. mu held. */
static void watchdog(npu_dev_t* dev, uint64_t status, uint64_t head) {
  npu_dev_private_t* p = priv(dev);
  uint64_t t = now_ns(), limit = (uint64_t)dev->ctx->watchdog_ms * 1000000ull;
  uint64_t max_gap = limit / 2 > 250000000ull ? limit / 2 : 250000000ull;
  int unwatched = t - p->wd_pass > max_gap;
  p->wd_pass = t;
  if (status != NPUSIM_STATUS_BUSY || head != p->wd_head || unwatched) {
    p->wd_head = head;
    p->wd_since = t;
    p->wd_aborted = 0;
    return;
  }
  if (t - p->wd_since < limit) return;
  if (!p->wd_aborted) {
    log_msg(dev, XHAL_LOG_WARN, "npu: command timed out; aborting it");
    npusim_reg_write(dev->sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_ABORT);
    p->wd_aborted = 1;
    p->wd_since = t;
  } else {
    mark_lost(dev, "the device hung and did not recover after an abort");
  }
}

static void gc_windows(npu_dev_t* dev, uint64_t done) {
  uint32_t i;
  for (i = 0; i < dev->num_windows;) {
    if (dev->windows[i].fence <= done || dev->lost) {
      (void)npusim_host_unmap(dev->sim, dev->windows[i].iova);
      dev->windows[i] = dev->windows[--dev->num_windows];
    } else {
      ++i;
    }
  }
}

/* One pass over the device state. mu held. */
static void service(npu_dev_t* dev) {
  uint64_t status, head;
  if (dev->lost) return;
  status = npusim_reg_read(dev->sim, NPUSIM_REG_STATUS);
  if (status == NPUSIM_REG_DEAD) {
    mark_lost(dev, "the device stopped responding (registers read ~0)");
    gc_windows(dev, 0);
    return;
  }
  if (status == NPUSIM_STATUS_HALTED) handle_fault(dev);
  head = npusim_reg_read(dev->sim, NPUSIM_REG_RING_HEAD);
  if (head != dev->tail) {
    watchdog(dev, status, head);
  } else {
    priv(dev)->wd_head = head;
    priv(dev)->wd_since = priv(dev)->wd_pass = now_ns();
  }
  gc_windows(dev, npusim_reg_read(dev->sim, NPUSIM_REG_FENCE));
}

static void* service_main(void* arg) {
  npu_dev_t* dev = arg;
  irq_relay_t* irq = &priv(dev)->irq;
  for (;;) {
    struct timespec until = deadline_in(20 * 1000000ull);
    pthread_mutex_lock(&irq->mu);
    while (!irq->pending && !__atomic_load_n(&dev->stop, __ATOMIC_ACQUIRE)) {
      if (pthread_cond_timedwait(&irq->cv, &irq->mu, &until) == ETIMEDOUT) {
        break;
      }
    }
    irq->pending = 0;
    pthread_mutex_unlock(&irq->mu);
    pthread_mutex_lock(&dev->mu);
    if (__atomic_load_n(&dev->stop, __ATOMIC_ACQUIRE)) {
      pthread_mutex_unlock(&dev->mu);
      break;
    }
    service(dev);
    pthread_cond_broadcast(&dev->cv);
    pthread_mutex_unlock(&dev->mu);
  }
  return NULL;
}

/* ------------------------------------------------------------- fences */

static int fence_done(npu_dev_t* dev, uint64_t fence, int* lost) {
  uint64_t v = npusim_reg_read(dev->sim, NPUSIM_REG_FENCE);
  if (v == NPUSIM_REG_DEAD) {
    *lost = 1;
    return 0;
  }
  return v >= fence;
}

xhal_status_t npu_fence_status(npu_dev_t* dev, uint64_t sid, uint64_t fence) {
  const npu_failure_t* f;
  int lost = 0;
  if (dev->lost) return XHAL_ERROR_DEVICE_LOST;
  f = find_failure(dev, sid);
  if (f && fence > f->after_fence) return f->status;
  if (fence_done(dev, fence, &lost)) return XHAL_OK;
  return lost ? XHAL_ERROR_DEVICE_LOST : XHAL_ERROR_NOT_READY;
}

npu_point_t* npu_point_new(npu_dev_t* dev, uint64_t sid) {
  npu_point_t* p = calloc(1, sizeof(*p));
  (void)dev;
  if (!p) return NULL;
  p->refs = 1;
  p->stream_id = sid;
  return p;
}

void npu_point_unref(npu_dev_t* dev, npu_point_t* p) {
  int left;
  if (!p) return;
  pthread_mutex_lock(&dev->mu);
  left = --p->refs;
  pthread_mutex_unlock(&dev->mu);
  if (left == 0) free(p);
}

/* A point not in the ring yet is pending, unless its stream already failed
 * (its fence will come after the failure). mu held. */
xhal_status_t npu_point_status(npu_dev_t* dev, const npu_point_t* p) {
  xhal_status_t st;
  if (dev->lost) return XHAL_ERROR_DEVICE_LOST;
  if (p->fence) return npu_fence_status(dev, p->stream_id, p->fence);
  st = npu_stream_failure(dev, p->stream_id);
  return st != XHAL_OK ? st : XHAL_ERROR_NOT_READY;
}

xhal_status_t npu_point_wait(npu_dev_t* dev, const npu_point_t* p,
                             uint64_t timeout_ns) {
  xhal_status_t st;
  uint64_t start = now_ns();
  pthread_mutex_lock(&dev->mu);
  for (;;) {
    uint64_t waited, slice = 50 * 1000000ull;
    struct timespec until;
    st = npu_point_status(dev, p);
    if (st != XHAL_ERROR_NOT_READY) break;
    waited = now_ns() - start;
    if (timeout_ns != UINT64_MAX && waited >= timeout_ns) {
      st = XHAL_ERROR_TIMEOUT;
      break;
    }
    if (timeout_ns != UINT64_MAX && timeout_ns - waited < slice) {
      slice = timeout_ns - waited;
    }
    /* Wakeups come from the service thread and the stream workers; the
     * slice bounds the wait if one is missed. */
    until = deadline_in(slice);
    pthread_cond_timedwait(&dev->cv, &dev->mu, &until);
  }
  pthread_mutex_unlock(&dev->mu);
  return st;
}

xhal_status_t npu_fence_wait(npu_dev_t* dev, uint64_t sid, uint64_t fence,
                             uint64_t timeout_ns) {
  npu_point_t p;
  memset(&p, 0, sizeof(p));
  p.refs = 1;
  p.stream_id = sid;
  p.fence = fence;
  return npu_point_wait(dev, &p, timeout_ns);
}

/* ----------------------------------------------------------- submission */

static void item_free(npu_dev_t* dev, npu_item_t* it) {
  uint32_t i;
  if (!it) return;
  for (i = 0; i < it->n; ++i) npu_point_unref(dev, it->pts[i]);
  npu_point_unref(dev, it->wait);
  free(it->cmds);
  free(it->pts);
  free(it);
}

static void* stream_worker(void* arg);

/* Appends an item to a stream's queue and holds the stream. submit_mu and
 * mu held. */
static xhal_status_t stream_push(struct xhal_plugin_stream* s, npu_item_t* it) {
  npu_dev_t* dev = s->dev;
  if (!s->worker_started) {
    if (pthread_create(&s->worker, NULL, stream_worker, s) != 0) {
      return XHAL_ERROR_OUT_OF_MEMORY;
    }
    s->worker_started = 1;
  }
  it->next = NULL;
  if (s->tail) {
    s->tail->next = it;
  } else {
    s->head = it;
  }
  s->tail = it;
  s->held = 1;
  pthread_cond_broadcast(&dev->cv);
  return XHAL_OK;
}

/* A batch that writes into the ring; submit_mu held by the caller. */
static void batch_direct(npu_batch_t* b, struct xhal_plugin_stream* s) {
  b->dev = s->dev;
  b->stream = s;
  b->stream_id = s->id;
  b->item = NULL;
  b->status = XHAL_OK;
}

xhal_status_t npu_batch_begin(npu_batch_t* b, struct xhal_plugin_stream* s) {
  npu_dev_t* dev = s->dev;
  batch_direct(b, s);
  pthread_mutex_lock(&dev->submit_mu);
  pthread_mutex_lock(&dev->mu);
  if (dev->lost) b->status = XHAL_ERROR_DEVICE_LOST;
  pthread_mutex_unlock(&dev->mu);
  /* `held` only changes with submit_mu held, which this batch holds. */
  if (b->status == XHAL_OK && s->held) {
    b->item = calloc(1, sizeof(*b->item));
    if (b->item) {
      b->item->kind = NPU_ITEM_CMDS;
    } else {
      b->status = XHAL_ERROR_OUT_OF_MEMORY;
    }
  }
  if (b->status != XHAL_OK) {
    pthread_mutex_unlock(&dev->submit_mu);
    npu_set_error(dev, b->status,
                  b->status == XHAL_ERROR_DEVICE_LOST
                      ? "npu: the device is lost"
                      : "npu: out of host memory for a held stream's queue");
  }
  return b->status;
}

static void ring_doorbell(npu_dev_t* dev) {
  if (!dev->batch_pending) return;
  npusim_reg_write(dev->sim, NPUSIM_REG_DOORBELL, dev->tail);
  dev->batch_pending = 0;
}

/* Keeps a command (and the point of a fence) in the captured item. */
static void capture(npu_batch_t* b, const npusim_cmd_t* cmd, npu_point_t* pt) {
  npu_item_t* it = b->item;
  if (b->status != XHAL_OK) return;
  if (it->n == it->cap) {
    uint32_t cap = it->cap ? it->cap * 2 : 16;
    npusim_cmd_t* cmds = realloc(it->cmds, cap * sizeof(*cmds));
    npu_point_t** pts;
    if (!cmds) {
      b->status = XHAL_ERROR_OUT_OF_MEMORY;
      return;
    }
    it->cmds = cmds;
    pts = realloc(it->pts, cap * sizeof(*pts));
    if (!pts) {
      b->status = XHAL_ERROR_OUT_OF_MEMORY;
      return;
    }
    it->pts = pts;
    it->cap = cap;
  }
  it->cmds[it->n] = *cmd;
  it->pts[it->n] = pt;
  if (pt) {
    pthread_mutex_lock(&b->dev->mu);
    pt->refs++;
    pthread_mutex_unlock(&b->dev->mu);
  }
  it->n++;
}

void npu_emit(npu_batch_t* b, const npusim_cmd_t* cmd) {
  npu_dev_t* dev = b->dev;
  uint64_t slot;
  if (b->status != XHAL_OK) return;
  if (b->item) {
    capture(b, cmd, NULL);
    return;
  }
  pthread_mutex_lock(&dev->mu);
  /* Work of a failed stream is skipped; its fences still go in so its
   * events complete (as failed) in order. */
  if (cmd->opcode != NPUSIM_OP_FENCE && find_failure(dev, b->stream_id)) {
    pthread_mutex_unlock(&dev->mu);
    return;
  }
  for (;;) {
    uint64_t head;
    struct timespec until;
    if (dev->lost) {
      b->status = XHAL_ERROR_DEVICE_LOST;
      pthread_mutex_unlock(&dev->mu);
      return;
    }
    head = npusim_reg_read(dev->sim, NPUSIM_REG_RING_HEAD);
    if (head != NPUSIM_REG_DEAD && dev->tail - head < NPU_RING_ENTRIES) break;
    ring_doorbell(dev);
    until = deadline_in(200000ull);
    pthread_cond_timedwait(&dev->cv, &dev->mu, &until);
  }
  slot = dev->tail % NPU_RING_ENTRIES;
  (void)npusim_aperture_write(
      dev->sim, NPU_RING_BASE + slot * sizeof(npusim_cmd_t), cmd, sizeof(*cmd));
  dev->owner[slot] = b->stream_id;
  dev->tail++;
  /* Ring the doorbell every few commands so the device starts on a long
   * operator while the rest is still being written. */
  if (++dev->batch_pending >= 16) ring_doorbell(dev);
  pthread_mutex_unlock(&dev->mu);
}

uint64_t npu_emit_fence(npu_batch_t* b, int irq, int record, npu_point_t* pt) {
  npu_dev_t* dev = b->dev;
  npusim_cmd_t cmd;
  uint64_t value;
  memset(&cmd, 0, sizeof(cmd));
  cmd.opcode = NPUSIM_OP_FENCE;
  cmd.flags = (uint8_t)((irq ? NPUSIM_FENCE_IRQ : 0u) |
                        (record ? NPUSIM_FENCE_RECORD : 0u));
  if (b->item) { /* the value is given when the item reaches the ring */
    capture(b, &cmd, pt);
    return 0;
  }
  pthread_mutex_lock(&dev->mu);
  value = dev->next_fence++;
  pthread_mutex_unlock(&dev->mu);
  cmd.a[0] = value;
  cmd.a[1] =
      dev->records_iova + (value % NPU_RECORDS) * sizeof(npusim_fence_record_t);
  npu_emit(b, &cmd);
  if (pt) {
    pthread_mutex_lock(&dev->mu);
    pt->fence = value;
    pthread_cond_broadcast(&dev->cv);
    pthread_mutex_unlock(&dev->mu);
  }
  return value;
}

/* Ends a direct batch: rings the doorbell and releases submit_mu. */
static void batch_direct_end(npu_batch_t* b) {
  pthread_mutex_lock(&b->dev->mu);
  ring_doorbell(b->dev);
  pthread_mutex_unlock(&b->dev->mu);
  pthread_mutex_unlock(&b->dev->submit_mu);
}

xhal_status_t npu_batch_end(npu_batch_t* b) {
  npu_dev_t* dev = b->dev;
  npu_item_t* it = b->item;
  b->item = NULL;
  pthread_mutex_lock(&dev->mu);
  if (it && b->status == XHAL_OK) {
    b->status = stream_push(b->stream, it);
    if (b->status == XHAL_OK) it = NULL;
  }
  ring_doorbell(dev);
  pthread_mutex_unlock(&dev->mu);
  pthread_mutex_unlock(&dev->submit_mu);
  item_free(dev, it);
  if (b->status != XHAL_OK) {
    npu_set_error(dev, b->status, "npu: submission failed");
  }
  return b->status;
}

xhal_status_t npu_map_host(npu_batch_t* b, const void* ptr, uint64_t size,
                           int writable, uint64_t* out_iova) {
  npu_dev_t* dev = b->dev;
  int rc;
  pthread_mutex_lock(&dev->mu);
  for (;;) {
    struct timespec until;
    if (dev->lost) {
      pthread_mutex_unlock(&dev->mu);
      return XHAL_ERROR_DEVICE_LOST;
    }
    if (dev->num_windows < NPU_MAX_WINDOWS) {
      rc = npusim_host_map(dev->sim, (void*)(uintptr_t)ptr, size, writable,
                           out_iova);
      if (rc == NPUSIM_OK) break;
      if (rc != NPUSIM_E_NOSPC) {
        pthread_mutex_unlock(&dev->mu);
        return XHAL_ERROR_INVALID_ARGUMENT;
      }
    }
    /* Every window is in use by queued transfers: let some complete. */
    ring_doorbell(dev);
    gc_windows(dev, npusim_reg_read(dev->sim, NPUSIM_REG_FENCE));
    until = deadline_in(200000ull);
    pthread_cond_timedwait(&dev->cv, &dev->mu, &until);
  }
  dev->windows[dev->num_windows].iova = *out_iova;
  dev->windows[dev->num_windows].fence = UINT64_MAX; /* bound at batch end */
  dev->num_windows++;
  pthread_mutex_unlock(&dev->mu);
  return XHAL_OK;
}

void npu_windows_bind(npu_dev_t* dev, uint64_t fence) {
  uint32_t i;
  pthread_mutex_lock(&dev->mu);
  for (i = 0; i < dev->num_windows; ++i) {
    if (dev->windows[i].fence == UINT64_MAX) dev->windows[i].fence = fence;
  }
  pthread_mutex_unlock(&dev->mu);
}

/* --------------------------------------------------------- dependencies */

/* Records that `waiter` waits for `target`'s fence, which is in the ring.
 * Returns XHAL_ERROR_NOT_READY when there is no room to track it.
 * submit_mu and mu held. */
static xhal_status_t add_dep_locked(npu_dev_t* dev, uint64_t waiter,
                                    uint64_t target, uint64_t fence) {
  xhal_status_t st;
  uint32_t i;
  int lost = 0;
  st = npu_fence_status(dev, target, fence);
  if (st == XHAL_ERROR_NOT_READY) {
    /* The ring runs in order, so the waiter's later commands already come
     * after the target's fence; what is left is to pass on a failure. */
    for (i = 0; i < dev->num_deps;) {
      if (fence_done(dev, dev->deps[i].fence, &lost) &&
          !find_failure(dev, dev->deps[i].target)) {
        dev->deps[i] = dev->deps[--dev->num_deps];
      } else {
        ++i;
      }
    }
    if (dev->num_deps < NPU_MAX_DEPS) {
      npu_dep_t* d = &dev->deps[dev->num_deps++];
      d->waiter = waiter;
      d->target = target;
      d->fence = fence;
      d->ring_pos = dev->tail;
      d->waiter_fence = dev->next_fence - 1;
      st = XHAL_OK;
    }
  } else if (st != XHAL_OK && st != XHAL_ERROR_DEVICE_LOST) {
    char cause[sizeof(dev->failures[0].cause) + 64];
    fail_stream(dev, waiter, dev->next_fence - 1, st, dev->tail,
                target_cause(dev, target, cause, sizeof(cause)));
    st = XHAL_OK;
  }
  return st;
}

/* Falls back to waiting for the target on this thread when the dependency
 * table is full, which is always correct. */
static xhal_status_t wait_dep(npu_dev_t* dev, uint64_t waiter, uint64_t target,
                              uint64_t fence) {
  xhal_status_t st = npu_fence_wait(dev, target, fence, UINT64_MAX);
  if (st != XHAL_OK && st != XHAL_ERROR_DEVICE_LOST) {
    pthread_mutex_lock(&dev->mu);
    char cause[sizeof(dev->failures[0].cause) + 64];
    fail_stream(dev, waiter, dev->next_fence - 1, st, dev->tail,
                target_cause(dev, target, cause, sizeof(cause)));
    pthread_cond_broadcast(&dev->cv);
    pthread_mutex_unlock(&dev->mu);
    st = XHAL_OK;
  }
  return st;
}

xhal_status_t npu_add_wait(struct xhal_plugin_stream* s, npu_point_t* p) {
  npu_dev_t* dev = s->dev;
  npu_item_t* it = calloc(1, sizeof(*it));
  xhal_status_t st;
  uint64_t target = p->stream_id, fence = 0;
  if (!it) return XHAL_ERROR_OUT_OF_MEMORY;
  it->kind = NPU_ITEM_WAIT;
  pthread_mutex_lock(&dev->submit_mu);
  pthread_mutex_lock(&dev->mu);
  if (dev->lost) {
    st = XHAL_ERROR_DEVICE_LOST;
  } else if (!s->held && p->fence) {
    /* The event's fence is in the ring ahead of this stream's later work:
     * the ring's order does the waiting. */
    fence = p->fence;
    st = add_dep_locked(dev, s->id, target, fence);
  } else {
    /* The event's point is still queued on a held stream (or this stream
     * is held): the stream's worker resolves the wait. */
    it->wait = p;
    p->refs++;
    st = stream_push(s, it);
    if (st == XHAL_OK) {
      it = NULL;
    } else {
      p->refs--;
      it->wait = NULL;
    }
  }
  pthread_mutex_unlock(&dev->mu);
  pthread_mutex_unlock(&dev->submit_mu);
  free(it);
  if (st == XHAL_ERROR_NOT_READY) st = wait_dep(dev, s->id, target, fence);
  if (st != XHAL_OK) {
    npu_set_error(dev, st,
                  st == XHAL_ERROR_DEVICE_LOST
                      ? "npu: the device is lost"
                      : "npu: could not queue the wait for an event");
  }
  return st;
}

/* ---------------------------------------------------- stream workers */

xhal_status_t npu_queue_host_func(struct xhal_plugin_stream* s,
                                  xhal_host_func_t fn, void* user_data) {
  npu_dev_t* dev = s->dev;
  npu_item_t* it = calloc(1, sizeof(*it));
  xhal_status_t st;
  if (!it) {
    npu_set_error(dev, XHAL_ERROR_OUT_OF_MEMORY,
                  "npu: out of host memory for a host function");
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  it->kind = NPU_ITEM_HOST;
  it->fn = fn;
  it->user_data = user_data;
  pthread_mutex_lock(&dev->submit_mu);
  pthread_mutex_lock(&dev->mu);
  st = dev->lost ? XHAL_ERROR_DEVICE_LOST : stream_push(s, it);
  pthread_mutex_unlock(&dev->mu);
  pthread_mutex_unlock(&dev->submit_mu);
  if (st != XHAL_OK) {
    free(it);
    npu_set_error(dev, st,
                  st == XHAL_ERROR_DEVICE_LOST
                      ? "npu: the device is lost"
                      : "npu: could not start the stream's worker thread");
  }
  return st;
}

/* Fails stream `s` from now on (its next fences fail). */
static void fail_now(struct xhal_plugin_stream* s, uint64_t after,
                     xhal_status_t st) {
  npu_dev_t* dev = s->dev;
  char cause[96];
  snprintf(cause, sizeof(cause), "a host function returned status %d", (int)st);
  pthread_mutex_lock(&dev->mu);
  fail_stream(dev, s->id, after, st, dev->tail, cause);
  pthread_cond_broadcast(&dev->cv);
  pthread_mutex_unlock(&dev->mu);
}

/* Runs a host function once the stream's work before it completed. The
 * ring never waits for it: the stream's later work stays queued. */
static void run_host(struct xhal_plugin_stream* s, const npu_item_t* it) {
  npu_dev_t* dev = s->dev;
  npu_batch_t b;
  npu_point_t pt;
  xhal_status_t st;
  memset(&pt, 0, sizeof(pt));
  pt.refs = 1;
  pt.stream_id = s->id;
  pthread_mutex_lock(&dev->submit_mu);
  batch_direct(&b, s);
  (void)npu_emit_fence(&b, 1, 0, &pt);
  batch_direct_end(&b);
  st = npu_point_wait(dev, &pt, UINT64_MAX);
  /* A failed stream skips its later host functions. */
  if (st != XHAL_OK) return;
  st = it->fn(it->user_data);
  /* A value outside the ABI's statuses is reported as failed execution,
   * as the other plugins do. */
  if (st < 0 || st >= XHAL_STATUS_COUNT) st = XHAL_ERROR_EXECUTION_FAILED;
  if (st != XHAL_OK) fail_now(s, pt.fence, st);
}

/* Waits until another stream's point is in the ring, then lets the ring's
 * order (and the dependency table, for failures) do the rest. */
static void run_wait(struct xhal_plugin_stream* s, const npu_item_t* it) {
  npu_dev_t* dev = s->dev;
  const npu_point_t* p = it->wait;
  xhal_status_t st;
  uint64_t fence;
  pthread_mutex_lock(&dev->mu);
  while (!p->fence && !dev->lost) {
    struct timespec until = deadline_in(20 * 1000000ull);
    pthread_cond_timedwait(&dev->cv, &dev->mu, &until);
  }
  fence = p->fence;
  pthread_mutex_unlock(&dev->mu);
  if (!fence) return; /* device lost */
  pthread_mutex_lock(&dev->submit_mu);
  pthread_mutex_lock(&dev->mu);
  st = add_dep_locked(dev, s->id, p->stream_id, fence);
  pthread_mutex_unlock(&dev->mu);
  pthread_mutex_unlock(&dev->submit_mu);
  if (st == XHAL_ERROR_NOT_READY)
    (void)wait_dep(dev, s->id, p->stream_id, fence);
}

static void run_item(struct xhal_plugin_stream* s, const npu_item_t* it) {
  npu_dev_t* dev = s->dev;
  npu_batch_t b;
  uint32_t i;
  switch (it->kind) {
    case NPU_ITEM_CMDS:
      pthread_mutex_lock(&dev->submit_mu);
      batch_direct(&b, s);
      for (i = 0; i < it->n; ++i) {
        const npusim_cmd_t* c = &it->cmds[i];
        if (c->opcode == NPUSIM_OP_FENCE) {
          (void)npu_emit_fence(&b, (c->flags & NPUSIM_FENCE_IRQ) != 0,
                               (c->flags & NPUSIM_FENCE_RECORD) != 0,
                               it->pts[i]);
        } else {
          npu_emit(&b, c);
        }
      }
      batch_direct_end(&b);
      break;
    case NPU_ITEM_XFER:
      pthread_mutex_lock(&dev->submit_mu);
      batch_direct(&b, s);
      npu_emit_host_transfer(&b, it->dram, it->host, it->size, it->to_device);
      batch_direct_end(&b);
      if (b.status != XHAL_OK && b.status != XHAL_ERROR_DEVICE_LOST) {
        char cause[96];
        snprintf(cause, sizeof(cause),
                 "a host transfer of %llu bytes failed with status %d",
                 (unsigned long long)it->size, (int)b.status);
        pthread_mutex_lock(&dev->mu);
        fail_stream(dev, s->id, dev->next_fence - 1, b.status, dev->tail,
                    cause);
        pthread_cond_broadcast(&dev->cv);
        pthread_mutex_unlock(&dev->mu);
      }
      break;
    case NPU_ITEM_HOST:
      run_host(s, it);
      break;
    case NPU_ITEM_WAIT:
      run_wait(s, it);
      break;
  }
}

/* A stream's worker: pushes its queued work into the ring in order, runs
 * its host functions and resolves its waits, then lets the stream submit
 * directly again once the queue is empty. */
static void* stream_worker(void* arg) {
  struct xhal_plugin_stream* s = arg;
  npu_dev_t* dev = s->dev;
  pthread_mutex_lock(&dev->mu);
  for (;;) {
    npu_item_t* it = s->head;
    if (!it) {
      if (s->held) {
        /* Releasing the hold needs submit_mu, so that no batch of this
         * stream is capturing meanwhile. */
        pthread_mutex_unlock(&dev->mu);
        pthread_mutex_lock(&dev->submit_mu);
        pthread_mutex_lock(&dev->mu);
        if (!s->head) s->held = 0;
        pthread_mutex_unlock(&dev->submit_mu);
        pthread_cond_broadcast(&dev->cv);
        continue;
      }
      if (s->stopping) break;
      {
        struct timespec until = deadline_in(50 * 1000000ull);
        pthread_cond_timedwait(&dev->cv, &dev->mu, &until);
      }
      continue;
    }
    s->head = it->next;
    if (!s->head) s->tail = NULL;
    pthread_mutex_unlock(&dev->mu);
    run_item(s, it);
    item_free(dev, it);
    pthread_mutex_lock(&dev->mu);
    pthread_cond_broadcast(&dev->cv);
  }
  pthread_mutex_unlock(&dev->mu);
  return NULL;
}

void npu_stream_stop_worker(struct xhal_plugin_stream* s) {
  npu_dev_t* dev = s->dev;
  int started;
  pthread_mutex_lock(&dev->mu);
  s->stopping = 1;
  started = s->worker_started;
  pthread_cond_broadcast(&dev->cv);
  pthread_mutex_unlock(&dev->mu);
  if (started) pthread_join(s->worker, NULL);
  s->worker_started = 0;
}

/* ------------------------------------------------------------ open/close */

static void stop_threads(npu_dev_t* dev) {
  if (!dev->threads_started) return;
  pthread_mutex_lock(&dev->mu);
  __atomic_store_n(&dev->stop, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&dev->cv);
  pthread_mutex_unlock(&dev->mu);
  pthread_mutex_lock(irq_mu_of(dev));
  pthread_cond_signal(&priv(dev)->irq.cv);
  pthread_mutex_unlock(irq_mu_of(dev));
  pthread_join(dev->service, NULL);
  dev->threads_started = 0;
}

void npu_dev_close(npu_dev_t* dev) {
  if (!dev) return;
  stop_threads(dev);
  /* The model's thread goes first so nothing calls back into us. */
  npusim_destroy(dev->sim);
  npu_heap_destroy(dev);
  free(dev->records);
  pthread_cond_destroy(&priv(dev)->irq.cv);
  pthread_mutex_destroy(&priv(dev)->irq.mu);
  pthread_cond_destroy(&dev->cv);
  pthread_mutex_destroy(&dev->mu);
  pthread_mutex_destroy(&dev->submit_mu);
  free(priv(dev));
}

xhal_status_t npu_dev_open(npu_ctx_t* ctx, npu_dev_t** out) {
  npu_dev_private_t* p = calloc(1, sizeof(*p));
  npu_dev_t* dev;
  pthread_condattr_t ca;
  xhal_status_t st = XHAL_OK;
  if (!p) return XHAL_ERROR_OUT_OF_MEMORY;
  dev = &p->pub;
  dev->ctx = ctx;
  /* The watchdog times the command at the ring's head from when it first
   * saw that head; at open that is now, not time 0 (which made a first
   * command still running at the watchdog's first look a "hang"). */
  p->wd_since = p->wd_pass = now_ns();
  dev->next_fence = 1;
  dev->next_stream_id = 1;
  pthread_mutex_init(&dev->submit_mu, NULL);
  pthread_mutex_init(&dev->mu, NULL);
  pthread_mutex_init(&p->irq.mu, NULL);
  /* Timed waits use CLOCK_MONOTONIC so wall-clock steps do not stretch a
   * timeout. */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&dev->cv, &ca);
  pthread_cond_init(&p->irq.cv, &ca);
  pthread_condattr_destroy(&ca);
  if (npusim_create(&ctx->cfg, &dev->sim) != NPUSIM_OK) {
    st = XHAL_ERROR_OUT_OF_MEMORY;
    goto fail;
  }
  /* What the driver needs to know about the hardware it reads from the
   * capability registers, as it would from silicon. */
  if (npusim_reg_read(dev->sim, NPUSIM_REG_ID) != NPUSIM_ID ||
      npusim_reg_read(dev->sim, NPUSIM_REG_VERSION) >> 16 !=
          NPUSIM_VERSION_MAJOR) {
    st = XHAL_ERROR_INTERNAL;
    goto fail;
  }
  dev->spad_bytes = npusim_reg_read(dev->sim, NPUSIM_REG_CAP_SPAD_BYTES);
  dev->rows = (uint32_t)npusim_reg_read(dev->sim, NPUSIM_REG_CAP_ROWS);
  dev->cols = (uint32_t)npusim_reg_read(dev->sim, NPUSIM_REG_CAP_COLS);
  dev->clock_mhz =
      (uint32_t)npusim_reg_read(dev->sim, NPUSIM_REG_CAP_CLOCK_MHZ);
  dev->records = calloc(NPU_RECORDS, sizeof(*dev->records));
  if (!dev->records || npusim_host_map(dev->sim, dev->records,
                                       NPU_RECORDS * sizeof(*dev->records), 1,
                                       &dev->records_iova) != NPUSIM_OK) {
    st = XHAL_ERROR_OUT_OF_MEMORY;
    goto fail;
  }
  if (npusim_reg_read(dev->sim, NPUSIM_REG_CAP_DRAM_BYTES) <=
      NPU_RING_BYTES + NPU_ALIGN) {
    st = XHAL_ERROR_INVALID_ARGUMENT;
    goto fail;
  }
  st = npu_heap_init(
      dev, NPU_RING_BYTES,
      npusim_reg_read(dev->sim, NPUSIM_REG_CAP_DRAM_BYTES) - NPU_RING_BYTES);
  if (st != XHAL_OK) goto fail;
  npusim_set_irq_handler(dev->sim, irq_handler, dev);
  npusim_reg_write(dev->sim, NPUSIM_REG_RING_BASE, NPU_RING_BASE);
  npusim_reg_write(dev->sim, NPUSIM_REG_RING_SIZE, NPU_RING_ENTRIES);
  npusim_reg_write(
      dev->sim, NPUSIM_REG_IRQ_ENABLE,
      NPUSIM_IRQ_FENCE | NPUSIM_IRQ_FAULT | NPUSIM_IRQ_LOST | NPUSIM_IRQ_WAIT);
  npusim_reg_write(dev->sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_ENABLE);
  if (npusim_reg_read(dev->sim, NPUSIM_REG_STATUS) == NPUSIM_STATUS_HALTED) {
    st = XHAL_ERROR_INTERNAL;
    goto fail;
  }
  if (pthread_create(&dev->service, NULL, service_main, dev) != 0) {
    st = XHAL_ERROR_OUT_OF_MEMORY;
    goto fail;
  }
  dev->threads_started = 1;
  *out = dev;
  return XHAL_OK;
fail:
  npu_dev_close(dev);
  return st;
}
