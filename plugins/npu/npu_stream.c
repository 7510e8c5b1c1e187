/*
 * npu_stream.c - streams and events: transfers as DMA commands, host
 * functions, fences with simulated timestamps.
 *
 * Every transfer that touches host memory maps it as a host window for
 * the duration of the transfer (read-only for writes to the device) and
 * ends its batch with a fence that retires the window. A transfer queued
 * on a held stream is mapped only when it reaches the ring, so queued
 * work holds no windows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_internal.h"

/* Largest single DMA row: the descriptor's element count is 32-bit. */
#define NPU_DMA_CHUNK (1ull << 30)

npusim_cmd_t npu_cmd_dma(uint32_t src_space, uint64_t src, uint32_t dst_space,
                         uint64_t dst, uint64_t row_bytes, uint64_t rows,
                         uint64_t src_pitch, uint64_t dst_pitch) {
  npusim_cmd_t c;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_DMA;
  c.func = (uint8_t)(src_space | dst_space << 4);
  c.a[0] = src;
  c.a[1] = dst;
  /* A row is one element of row_bytes, so rows copy with one memmove. */
  c.a[2] = row_bytes | 1ull << 32;
  c.a[3] = rows;
  c.a[4] = row_bytes | src_pitch << 32;
  c.a[5] = row_bytes | dst_pitch << 32;
  return c;
}

/* Emits a contiguous copy of `size` bytes in chunks. */
static void emit_copy(npu_batch_t* b, uint32_t ss, uint64_t src, uint32_t ds,
                      uint64_t dst, uint64_t size) {
  while (size) {
    uint64_t n = size < NPU_DMA_CHUNK ? size : NPU_DMA_CHUNK;
    npusim_cmd_t c = npu_cmd_dma(ss, src, ds, dst, n, 1, n, n);
    npu_emit(b, &c);
    src += n;
    dst += n;
    size -= n;
  }
}

static xhal_status_t arg_error(npu_dev_t* dev, const char* msg) {
  npu_set_error(dev, XHAL_ERROR_INVALID_ARGUMENT, msg);
  return XHAL_ERROR_INVALID_ARGUMENT;
}

xhal_status_t npu_stream_create(xhal_plugin_device_t device, uint32_t flags,
                                xhal_plugin_stream_t* out) {
  npu_dev_t* dev = (npu_dev_t*)(void*)device;
  struct xhal_plugin_stream* s;
  if (!dev) return XHAL_ERROR_INVALID_HANDLE;
  if (!out) {
    npu_set_error(dev, XHAL_ERROR_INVALID_ARGUMENT,
                  "npu: stream_create: NULL output pointer");
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (flags != 0) { /* no stream flags are defined */
    npu_set_error(dev, XHAL_ERROR_INVALID_ARGUMENT,
                  "npu: stream_create: unknown flag bits");
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  s = calloc(1, sizeof(*s));
  if (!s) {
    npu_set_error(dev, XHAL_ERROR_OUT_OF_MEMORY,
                  "npu: stream_create: out of host memory");
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  s->dev = dev;
  pthread_mutex_lock(&dev->mu);
  s->id = dev->next_stream_id++;
  pthread_mutex_unlock(&dev->mu);
  *out = s;
  return XHAL_OK;
}

/* Sets the message of the failure `st` of stream `sid`'s work: the cause
 * of its first failure. */
static void report_failure(npu_dev_t* dev, uint64_t sid, xhal_status_t st) {
  char cause[192];
  char msg[224];
  npu_failure_cause(dev, sid, cause, sizeof(cause));
  snprintf(msg, sizeof(msg), "npu: %s", cause);
  npu_set_error(dev, st, msg);
}

xhal_status_t npu_stream_synchronize(xhal_plugin_stream_t s) {
  npu_batch_t b;
  npu_point_t* p;
  xhal_status_t st;
  if (!s) return XHAL_ERROR_INVALID_HANDLE;
  p = npu_point_new(s->dev, s->id);
  if (!p) {
    npu_set_error(s->dev, XHAL_ERROR_OUT_OF_MEMORY,
                  "npu: stream_synchronize: out of host memory");
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  st = npu_batch_begin(&b, s);
  if (st == XHAL_OK) {
    (void)npu_emit_fence(&b, 1, 0, p);
    st = npu_batch_end(&b);
  }
  if (st == XHAL_OK) {
    st = npu_point_wait(s->dev, p, UINT64_MAX);
    if (st != XHAL_OK) report_failure(s->dev, s->id, st);
  }
  npu_point_unref(s->dev, p);
  return st;
}

void npu_stream_destroy(xhal_plugin_stream_t s) {
  if (!s) return;
  (void)npu_stream_synchronize(s);
  /* The worker finishes what is still queued (a failed stream's skipped
   * work) before it exits. */
  npu_stream_stop_worker(s);
  free(s);
}

xhal_status_t npu_stream_flush(xhal_plugin_stream_t s) {
  /* Every batch rings the doorbell when it ends: nothing is held back. */
  return s ? XHAL_OK : XHAL_ERROR_INVALID_HANDLE;
}

void npu_emit_host_transfer(npu_batch_t* b, uint64_t dram, void* host,
                            uint64_t size, int to_device) {
  uint64_t iova, f;
  xhal_status_t st;
  if (b->status != XHAL_OK) return;
  st = npu_map_host(b, host, size, !to_device, &iova);
  if (st != XHAL_OK) {
    b->status = st;
    return;
  }
  if (to_device) {
    emit_copy(b, NPUSIM_SPACE_HOST, iova, NPUSIM_SPACE_DRAM, dram, size);
  } else {
    emit_copy(b, NPUSIM_SPACE_DRAM, dram, NPUSIM_SPACE_HOST, iova, size);
  }
  f = npu_emit_fence(b, 0, 0, NULL);
  npu_windows_bind(b->dev, f);
}

/* Host <-> DRAM transfer through a host window. */
static xhal_status_t host_transfer(xhal_plugin_stream_t s, uint64_t dram,
                                   void* host, uint64_t size, int to_device) {
  npu_batch_t b;
  xhal_status_t st;
  if (size == 0) return XHAL_OK;
  st = npu_batch_begin(&b, s);
  if (st != XHAL_OK) return st;
  if (b.item) { /* held stream: map it when it reaches the ring */
    b.item->kind = NPU_ITEM_XFER;
    b.item->dram = dram;
    b.item->host = host;
    b.item->size = size;
    b.item->to_device = to_device;
  } else {
    npu_emit_host_transfer(&b, dram, host, size, to_device);
  }
  return npu_batch_end(&b);
}

static int range_ok(xhal_plugin_buffer_t buf, uint64_t off, uint64_t size) {
  return buf && off <= buf->size && size <= buf->size - off;
}

static xhal_status_t fail_with(npu_dev_t* dev, xhal_status_t st,
                               const char* msg) {
  npu_set_error(dev, st, msg);
  return st;
}

xhal_status_t npu_enqueue_write(xhal_plugin_stream_t s,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size) {
  if (!s || !dst) return XHAL_ERROR_INVALID_HANDLE;
  if (!src && size) return arg_error(s->dev, "npu: enqueue_write: NULL source");
  if (!range_ok(dst, dst_offset, size)) {
    return fail_with(s->dev, XHAL_ERROR_OUT_OF_RANGE,
                     "npu: enqueue_write: range past the buffer's end");
  }
  return host_transfer(s, dst->addr + dst_offset, (void*)(uintptr_t)src, size,
                       1);
}

xhal_status_t npu_enqueue_read(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, void* dst, uint64_t size) {
  if (!s || !src) return XHAL_ERROR_INVALID_HANDLE;
  if (!dst && size) {
    return arg_error(s->dev, "npu: enqueue_read: NULL destination");
  }
  if (!range_ok(src, src_offset, size)) {
    return fail_with(s->dev, XHAL_ERROR_OUT_OF_RANGE,
                     "npu: enqueue_read: range past the buffer's end");
  }
  return host_transfer(s, src->addr + src_offset, dst, size, 0);
}

xhal_status_t npu_enqueue_copy(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, xhal_plugin_buffer_t dst,
                               uint64_t dst_offset, uint64_t size) {
  npu_batch_t b;
  xhal_status_t st;
  if (!s || !src || !dst) return XHAL_ERROR_INVALID_HANDLE;
  if (!range_ok(src, src_offset, size) || !range_ok(dst, dst_offset, size)) {
    return fail_with(s->dev, XHAL_ERROR_OUT_OF_RANGE,
                     "npu: enqueue_copy: range past a buffer's end");
  }
  if (size == 0) return XHAL_OK;
  st = npu_batch_begin(&b, s);
  if (st != XHAL_OK) return st;
  emit_copy(&b, NPUSIM_SPACE_DRAM, src->addr + src_offset, NPUSIM_SPACE_DRAM,
            dst->addr + dst_offset, size);
  return npu_batch_end(&b);
}

xhal_status_t npu_enqueue_fill(xhal_plugin_stream_t s, xhal_plugin_buffer_t dst,
                               uint64_t offset, uint64_t size,
                               const void* pattern, uint32_t pattern_size) {
  npu_batch_t b;
  npusim_cmd_t c;
  xhal_status_t st;
  uint64_t done = 0;
  if (!s || !dst) return XHAL_ERROR_INVALID_HANDLE;
  if (!pattern) return arg_error(s->dev, "npu: enqueue_fill: NULL pattern");
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4) {
    return arg_error(s->dev, "npu: enqueue_fill: pattern size not 1, 2 or 4");
  }
  if (size % pattern_size) {
    return arg_error(s->dev,
                     "npu: enqueue_fill: size not a multiple of the pattern");
  }
  if (!range_ok(dst, offset, size)) {
    return fail_with(s->dev, XHAL_ERROR_OUT_OF_RANGE,
                     "npu: enqueue_fill: range past the buffer's end");
  }
  if (size == 0) return XHAL_OK;
  st = npu_batch_begin(&b, s);
  if (st != XHAL_OK) return st;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_FILL;
  c.func = NPUSIM_SPACE_DRAM;
  c.a[3] = pattern_size;
  memcpy(&c.a[2], pattern, pattern_size);
  while (done < size) {
    uint64_t n = size - done < NPU_DMA_CHUNK ? size - done : NPU_DMA_CHUNK;
    c.a[0] = dst->addr + offset + done;
    c.a[1] = n;
    npu_emit(&b, &c);
    done += n;
  }
  return npu_batch_end(&b);
}

xhal_status_t npu_enqueue_host_func(xhal_plugin_stream_t s, xhal_host_func_t fn,
                                    void* user_data) {
  if (!s) return XHAL_ERROR_INVALID_HANDLE;
  if (!fn) return arg_error(s->dev, "npu: enqueue_host_func: NULL function");
  return npu_queue_host_func(s, fn, user_data);
}

/* ---------------------------------------------------------------- events */

xhal_status_t npu_event_create(xhal_plugin_device_t device,
                               xhal_plugin_event_t* out) {
  struct xhal_plugin_event* e;
  npu_dev_t* dev = (npu_dev_t*)(void*)device;
  if (!dev) return XHAL_ERROR_INVALID_HANDLE;
  if (!out) return arg_error(dev, "npu: event_create: NULL output pointer");
  e = calloc(1, sizeof(*e));
  if (!e) {
    return fail_with(dev, XHAL_ERROR_OUT_OF_MEMORY,
                     "npu: event_create: out of host memory");
  }
  e->dev = dev;
  *out = e;
  return XHAL_OK;
}

void npu_event_destroy(xhal_plugin_event_t e) {
  if (!e) return;
  npu_point_unref(e->dev, e->point);
  free(e);
}

xhal_status_t npu_event_record(xhal_plugin_event_t e, xhal_plugin_stream_t s) {
  npu_batch_t b;
  npu_point_t *p, *old;
  xhal_status_t st;
  if (!e || !s) return XHAL_ERROR_INVALID_HANDLE;
  if (e->dev != s->dev) {
    return arg_error(s->dev,
                     "npu: event_record: event and stream of other devices");
  }
  p = npu_point_new(s->dev, s->id);
  if (!p) {
    return fail_with(s->dev, XHAL_ERROR_OUT_OF_MEMORY,
                     "npu: event_record: out of host memory");
  }
  st = npu_batch_begin(&b, s);
  if (st == XHAL_OK) {
    (void)npu_emit_fence(&b, 1, 1, p);
    st = npu_batch_end(&b);
  }
  if (st != XHAL_OK) {
    npu_point_unref(s->dev, p);
    return st;
  }
  /* A concurrent wait on this event sees either point; the host
   * serialises record against wait for one event per the ABI. */
  pthread_mutex_lock(&s->dev->mu);
  old = e->point;
  e->point = p;
  pthread_mutex_unlock(&s->dev->mu);
  npu_point_unref(s->dev, old);
  return XHAL_OK;
}

static xhal_status_t never_recorded(npu_dev_t* dev, const char* entry) {
  char msg[96];
  snprintf(msg, sizeof(msg), "npu: %s: the event was never recorded", entry);
  return fail_with(dev, XHAL_ERROR_INVALID_STATE, msg);
}

/* The event's current point with a reference (a record may replace it
 * concurrently, R-THR-2), or NULL if it was never recorded. */
static npu_point_t* event_point(xhal_plugin_event_t e) {
  npu_point_t* p;
  pthread_mutex_lock(&e->dev->mu);
  p = e->point;
  if (p) p->refs++;
  pthread_mutex_unlock(&e->dev->mu);
  return p;
}

xhal_status_t npu_event_wait(xhal_plugin_event_t e, uint64_t timeout_ns) {
  xhal_status_t st;
  npu_point_t* p;
  if (!e) return XHAL_ERROR_INVALID_HANDLE;
  p = event_point(e);
  if (!p) return never_recorded(e->dev, "event_wait");
  st = npu_point_wait(e->dev, p, timeout_ns);
  uint64_t sid = p->stream_id;
  npu_point_unref(e->dev, p);
  if (st == XHAL_ERROR_TIMEOUT) {
    npu_set_error(e->dev, st, "npu: event_wait: timed out");
  } else if (st != XHAL_OK) {
    report_failure(e->dev, sid, st);
  }
  return st;
}

xhal_status_t npu_event_query(xhal_plugin_event_t e) {
  xhal_status_t st;
  int recorded;
  uint64_t sid = 0;
  if (!e) return XHAL_ERROR_INVALID_HANDLE;
  pthread_mutex_lock(&e->dev->mu);
  recorded = e->point != NULL;
  if (recorded) sid = e->point->stream_id;
  st = recorded ? npu_point_status(e->dev, e->point) : XHAL_OK;
  pthread_mutex_unlock(&e->dev->mu);
  if (!recorded) return never_recorded(e->dev, "event_query");
  if (st != XHAL_OK && st != XHAL_ERROR_NOT_READY)
    report_failure(e->dev, sid, st);
  return st;
}

/* Reads the device timestamp the fence wrote; 0 if it was overwritten by a
 * fence NPU_RECORDS later. */
static int fence_cycles(npu_dev_t* dev, uint64_t fence, uint64_t* out) {
  const npusim_fence_record_t* r = &dev->records[fence % NPU_RECORDS];
  uint64_t value = __atomic_load_n(&r->value, __ATOMIC_ACQUIRE);
  if (value != fence) return 0;
  *out = __atomic_load_n(&r->cycles, __ATOMIC_ACQUIRE);
  return 1;
}

xhal_status_t npu_event_elapsed(xhal_plugin_event_t start,
                                xhal_plugin_event_t end, uint64_t* out_ns) {
  xhal_status_t st;
  uint64_t c0, c1, f0 = 0, f1 = 0;
  npu_dev_t* dev;
  if (!start || !end) return XHAL_ERROR_INVALID_HANDLE;
  dev = start->dev;
  if (!out_ns) return arg_error(dev, "npu: event_elapsed: NULL output");
  if (start->dev != end->dev) {
    return arg_error(dev, "npu: event_elapsed: events of other devices");
  }
  pthread_mutex_lock(&dev->mu);
  if (!start->point || !end->point) {
    st = XHAL_ERROR_INVALID_STATE;
  } else {
    st = npu_point_status(dev, start->point);
    if (st == XHAL_OK) st = npu_point_status(dev, end->point);
    /* Both completed, so both points have their fences. */
    if (st == XHAL_OK) {
      f0 = start->point->fence;
      f1 = end->point->fence;
    }
  }
  pthread_mutex_unlock(&dev->mu);
  if (st == XHAL_ERROR_INVALID_STATE) {
    return never_recorded(dev, "event_elapsed");
  }
  if (st == XHAL_ERROR_NOT_READY) {
    npu_set_error(dev, st, "npu: event_elapsed: an event is still pending");
  } else if (st != XHAL_OK) {
    npu_set_error(dev, st, "npu: event_elapsed: the captured work failed");
  }
  if (st != XHAL_OK) return st;
  if (!fence_cycles(dev, f0, &c0) || !fence_cycles(dev, f1, &c1)) {
    return fail_with(dev, XHAL_ERROR_INVALID_STATE,
                     "npu: event timestamp no longer available");
  }
  /* Simulated time at the configured clock: cycles * 1000 / MHz. */
  *out_ns = c1 > c0 ? (c1 - c0) * 1000ull / dev->clock_mhz : 0;
  return XHAL_OK;
}

xhal_status_t npu_stream_wait_event(xhal_plugin_stream_t s,
                                    xhal_plugin_event_t e) {
  if (!s || !e) return XHAL_ERROR_INVALID_HANDLE;
  if (!e->point) return never_recorded(s->dev, "stream_wait_event");
  if (e->dev != s->dev) {
    return arg_error(s->dev, "npu: stream_wait_event: event of another device");
  }
  return npu_add_wait(s, e->point);
}
