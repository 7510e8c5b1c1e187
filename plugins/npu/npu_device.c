/*
 * npu_device.c - bring-up of the simulated NPU and everything that talks
 * to its hardware interface: the ring (submission batches, fences), host
 * windows, the interrupt relay, the service thread (faults, device loss,
 * the hang watchdog) and the host-function thread.
 *
 * Failure model: the device halts on a faulting command. The service
 * thread finds the stream that owns the faulting ring slot, marks it
 * failed after the last completed fence, turns the stream's later commands
 * still in the ring into NOPs (its fences stay, so fence values keep
 * advancing and its events complete as failed), fails streams that wait
 * on it, and resumes the device. A command that runs past the watchdog is
 * aborted through CONTROL.ABORT (then handled as a fault); a device that
 * stops answering is declared lost.
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
                        xhal_status_t status, uint64_t from) {
  uint32_t i;
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
    dev->num_failures++;
  }
  patch_ring(dev, sid, from);
  for (i = 0; i < dev->num_deps;) {
    npu_dep_t d = dev->deps[i];
    if (d.target == sid && d.fence > after) {
      dev->deps[i] = dev->deps[--dev->num_deps];
      fail_stream(dev, d.waiter, d.waiter_fence, status, d.ring_pos);
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
  char msg[192];
  snprintf(msg, sizeof(msg),
           "npu: command %llu of stream %llu faulted: error %llu at 0x%llx",
           (unsigned long long)idx, (unsigned long long)sid,
           (unsigned long long)code, (unsigned long long)addr);
  log_msg(dev, XHAL_LOG_WARN, msg);
  fail_stream(dev, sid, done, XHAL_ERROR_EXECUTION_FAILED, idx + 1);
  npusim_reg_write(dev->sim, NPUSIM_REG_IRQ_STATUS, NPUSIM_IRQ_FAULT);
  npusim_reg_write(dev->sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_RESUME);
}

/* The hang watchdog: a command that makes no progress for watchdog_ms is
 * aborted; if the abort does not take effect either, the device is lost.
 * Blocking on the host semaphore is not a hang. mu held. */
static void watchdog(npu_dev_t* dev, uint64_t status, uint64_t head) {
  npu_dev_private_t* p = priv(dev);
  uint64_t t = now_ns(), limit = (uint64_t)dev->ctx->watchdog_ms * 1000000ull;
  if (status != NPUSIM_STATUS_BUSY || head != p->wd_head) {
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
    priv(dev)->wd_since = now_ns();
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

xhal_status_t npu_fence_wait(npu_dev_t* dev, uint64_t sid, uint64_t fence,
                             uint64_t timeout_ns) {
  xhal_status_t st;
  uint64_t start = now_ns();
  pthread_mutex_lock(&dev->mu);
  for (;;) {
    uint64_t waited, slice = 50 * 1000000ull;
    struct timespec until;
    st = npu_fence_status(dev, sid, fence);
    if (st != XHAL_ERROR_NOT_READY) break;
    waited = now_ns() - start;
    if (timeout_ns != UINT64_MAX && waited >= timeout_ns) {
      st = XHAL_ERROR_TIMEOUT;
      break;
    }
    if (timeout_ns != UINT64_MAX && timeout_ns - waited < slice) {
      slice = timeout_ns - waited;
    }
    /* Wakeups come from the service thread; the slice bounds the wait if
     * one is missed. */
    until = deadline_in(slice);
    pthread_cond_timedwait(&dev->cv, &dev->mu, &until);
  }
  pthread_mutex_unlock(&dev->mu);
  return st;
}

/* ----------------------------------------------------------- submission */

xhal_status_t npu_batch_begin(npu_batch_t* b, npu_dev_t* dev, uint64_t sid) {
  b->dev = dev;
  b->stream_id = sid;
  b->status = XHAL_OK;
  pthread_mutex_lock(&dev->submit_mu);
  pthread_mutex_lock(&dev->mu);
  if (dev->lost) b->status = XHAL_ERROR_DEVICE_LOST;
  pthread_mutex_unlock(&dev->mu);
  if (b->status != XHAL_OK) {
    pthread_mutex_unlock(&dev->submit_mu);
    npu_set_error(dev, b->status, "npu: the device is lost");
  }
  return b->status;
}

static void ring_doorbell(npu_dev_t* dev) {
  if (!dev->batch_pending) return;
  npusim_reg_write(dev->sim, NPUSIM_REG_DOORBELL, dev->tail);
  dev->batch_pending = 0;
}

void npu_emit(npu_batch_t* b, const npusim_cmd_t* cmd) {
  npu_dev_t* dev = b->dev;
  uint64_t slot;
  if (b->status != XHAL_OK) return;
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

uint64_t npu_emit_fence(npu_batch_t* b, int irq, int record) {
  npu_dev_t* dev = b->dev;
  npusim_cmd_t cmd;
  uint64_t value;
  memset(&cmd, 0, sizeof(cmd));
  pthread_mutex_lock(&dev->mu);
  value = dev->next_fence++;
  pthread_mutex_unlock(&dev->mu);
  cmd.opcode = NPUSIM_OP_FENCE;
  cmd.flags = (uint8_t)((irq ? NPUSIM_FENCE_IRQ : 0u) |
                        (record ? NPUSIM_FENCE_RECORD : 0u));
  cmd.a[0] = value;
  cmd.a[1] =
      dev->records_iova + (value % NPU_RECORDS) * sizeof(npusim_fence_record_t);
  npu_emit(b, &cmd);
  return value;
}

xhal_status_t npu_batch_end(npu_batch_t* b) {
  npu_dev_t* dev = b->dev;
  pthread_mutex_lock(&dev->mu);
  ring_doorbell(dev);
  pthread_mutex_unlock(&dev->mu);
  pthread_mutex_unlock(&dev->submit_mu);
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

xhal_status_t npu_add_dependency(npu_dev_t* dev, uint64_t waiter,
                                 uint64_t target, uint64_t fence) {
  npu_batch_t b;
  xhal_status_t st;
  uint32_t i;
  int lost = 0;
  st = npu_batch_begin(&b, dev, waiter);
  if (st != XHAL_OK) return st;
  pthread_mutex_lock(&dev->mu);
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
    fail_stream(dev, waiter, dev->next_fence - 1, st, dev->tail);
    st = XHAL_OK;
  }
  pthread_mutex_unlock(&dev->mu);
  npu_batch_end(&b);
  if (st == XHAL_ERROR_NOT_READY) {
    /* No room to track it: wait here instead, which is always correct. */
    st = npu_fence_wait(dev, target, fence, UINT64_MAX);
    if (st != XHAL_OK && st != XHAL_ERROR_DEVICE_LOST) {
      pthread_mutex_lock(&dev->mu);
      fail_stream(dev, waiter, dev->next_fence - 1, st, dev->tail);
      pthread_mutex_unlock(&dev->mu);
      st = XHAL_OK;
    }
  }
  return st;
}

/* -------------------------------------------------------- host functions */

xhal_status_t npu_queue_host_func(npu_dev_t* dev, uint64_t sid,
                                  xhal_host_func_t fn, void* user_data) {
  npu_batch_t b;
  npu_host_func_t* hf;
  npusim_cmd_t wait;
  xhal_status_t st;
  int failed;
  hf = calloc(1, sizeof(*hf));
  if (!hf) return XHAL_ERROR_OUT_OF_MEMORY;
  st = npu_batch_begin(&b, dev, sid);
  if (st != XHAL_OK) {
    free(hf);
    return st;
  }
  pthread_mutex_lock(&dev->mu);
  failed = find_failure(dev, sid) != NULL;
  pthread_mutex_unlock(&dev->mu);
  if (failed) { /* skipped like any later work of a failed stream */
    free(hf);
    return npu_batch_end(&b);
  }
  hf->stream_id = sid;
  hf->fn = fn;
  hf->user_data = user_data;
  hf->trigger_fence = npu_emit_fence(&b, 1, 0);
  memset(&wait, 0, sizeof(wait));
  wait.opcode = NPUSIM_OP_WAIT_HOST;
  pthread_mutex_lock(&dev->mu);
  hf->sem_value = dev->next_sem++;
  pthread_mutex_unlock(&dev->mu);
  wait.a[0] = hf->sem_value;
  npu_emit(&b, &wait);
  pthread_mutex_lock(&dev->mu);
  hf->ring_pos = dev->tail;
  if (b.status == XHAL_OK) {
    if (dev->hf_tail) {
      dev->hf_tail->next = hf;
    } else {
      dev->hf_head = hf;
    }
    dev->hf_tail = hf;
    hf = NULL;
    pthread_cond_broadcast(&dev->cv);
  }
  pthread_mutex_unlock(&dev->mu);
  free(hf);
  return npu_batch_end(&b);
}

/* Runs host functions in submission order, each once the device reached
 * it, then releases the device's WAIT_HOST. Host functions may block
 * (waiting on another plugin's event), which is why they have their own
 * thread rather than the service thread. */
static void* host_func_main(void* arg) {
  npu_dev_t* dev = arg;
  pthread_mutex_lock(&dev->mu);
  for (;;) {
    npu_host_func_t* hf = dev->hf_head;
    int lost = 0;
    struct timespec until;
    if (__atomic_load_n(&dev->stop, __ATOMIC_ACQUIRE)) break;
    if (hf &&
        (dev->lost || fence_done(dev, hf->trigger_fence, &lost) || lost)) {
      dev->hf_head = hf->next;
      if (!dev->hf_head) dev->hf_tail = NULL;
      if (!dev->lost && !lost && !find_failure(dev, hf->stream_id)) {
        xhal_status_t st;
        pthread_mutex_unlock(&dev->mu);
        st = hf->fn(hf->user_data);
        pthread_mutex_lock(&dev->mu);
        if (st != XHAL_OK) {
          fail_stream(dev, hf->stream_id, hf->trigger_fence, st, hf->ring_pos);
        }
      }
      npusim_reg_write(dev->sim, NPUSIM_REG_HOST_SEM, hf->sem_value);
      free(hf);
      pthread_cond_broadcast(&dev->cv);
      continue;
    }
    until = deadline_in(20 * 1000000ull);
    pthread_cond_timedwait(&dev->cv, &dev->mu, &until);
  }
  pthread_mutex_unlock(&dev->mu);
  return NULL;
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
  pthread_join(dev->host_thread, NULL);
  dev->threads_started = 0;
}

void npu_dev_close(npu_dev_t* dev) {
  npu_host_func_t* hf;
  if (!dev) return;
  stop_threads(dev);
  /* The model's thread goes first so nothing calls back into us. */
  npusim_destroy(dev->sim);
  while ((hf = dev->hf_head) != NULL) {
    dev->hf_head = hf->next;
    free(hf);
  }
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
  dev->next_fence = 1;
  dev->next_stream_id = 1;
  dev->next_sem = 1;
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
  if (pthread_create(&dev->host_thread, NULL, host_func_main, dev) != 0) {
    __atomic_store_n(&dev->stop, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(irq_mu_of(dev));
    pthread_cond_signal(&p->irq.cv);
    pthread_mutex_unlock(irq_mu_of(dev));
    pthread_join(dev->service, NULL);
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
