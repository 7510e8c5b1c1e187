/*
 * npu_stream.c - streams and events: transfers as DMA commands, host
 * functions, fences with simulated timestamps.
 *
 * Every transfer that touches host memory maps it as a host window for
 * the duration of the transfer (read-only for writes to the device) and
 * ends its batch with a fence that retires the window.
 */
#include <stdlib.h>
#include <string.h>

#include "npu_internal.h"

/* Largest single DMA row: the descriptor's element count is 32-bit. */
#define NPU_DMA_CHUNK (1ull << 30)

static npu_dev_t* stream_dev(xhal_plugin_stream_t s) { return s->dev; }

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

xhal_status_t npu_stream_create(xhal_plugin_device_t device, uint32_t flags,
                                xhal_plugin_stream_t* out) {
  npu_dev_t* dev = (npu_dev_t*)(void*)device;
  struct xhal_plugin_stream* s;
  if (!dev || !out) return XHAL_ERROR_INVALID_ARGUMENT;
  (void)flags; /* no stream flags are defined */
  s = calloc(1, sizeof(*s));
  if (!s) return XHAL_ERROR_OUT_OF_MEMORY;
  s->dev = dev;
  pthread_mutex_lock(&dev->mu);
  s->id = dev->next_stream_id++;
  pthread_mutex_unlock(&dev->mu);
  *out = s;
  return XHAL_OK;
}

xhal_status_t npu_stream_synchronize(xhal_plugin_stream_t s) {
  npu_batch_t b;
  uint64_t f;
  xhal_status_t st;
  if (!s) return XHAL_ERROR_INVALID_HANDLE;
  st = npu_batch_begin(&b, s->dev, s->id);
  if (st != XHAL_OK) return st;
  f = npu_emit_fence(&b, 1, 0);
  st = npu_batch_end(&b);
  if (st != XHAL_OK) return st;
  st = npu_fence_wait(s->dev, s->id, f, UINT64_MAX);
  if (st != XHAL_OK) npu_set_error(s->dev, st, "npu: stream work failed");
  return st;
}

void npu_stream_destroy(xhal_plugin_stream_t s) {
  if (!s) return;
  (void)npu_stream_synchronize(s);
  free(s);
}

xhal_status_t npu_stream_flush(xhal_plugin_stream_t s) {
  /* Every batch rings the doorbell when it ends: nothing is held back. */
  return s ? XHAL_OK : XHAL_ERROR_INVALID_HANDLE;
}

/* Host <-> DRAM transfer through a host window. */
static xhal_status_t host_transfer(xhal_plugin_stream_t s, uint64_t dram,
                                   void* host, uint64_t size, int to_device) {
  npu_batch_t b;
  uint64_t iova, f;
  xhal_status_t st;
  if (size == 0) return XHAL_OK;
  st = npu_batch_begin(&b, stream_dev(s), s->id);
  if (st != XHAL_OK) return st;
  st = npu_map_host(&b, host, size, !to_device, &iova);
  if (st != XHAL_OK) {
    b.status = st;
    return npu_batch_end(&b);
  }
  if (to_device) {
    emit_copy(&b, NPUSIM_SPACE_HOST, iova, NPUSIM_SPACE_DRAM, dram, size);
  } else {
    emit_copy(&b, NPUSIM_SPACE_DRAM, dram, NPUSIM_SPACE_HOST, iova, size);
  }
  f = npu_emit_fence(&b, 0, 0);
  npu_windows_bind(b.dev, f);
  return npu_batch_end(&b);
}

static int range_ok(xhal_plugin_buffer_t buf, uint64_t off, uint64_t size) {
  return buf && off <= buf->size && size <= buf->size - off;
}

xhal_status_t npu_enqueue_write(xhal_plugin_stream_t s,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size) {
  if (!s || !dst || (!src && size)) return XHAL_ERROR_INVALID_ARGUMENT;
  if (!range_ok(dst, dst_offset, size)) return XHAL_ERROR_OUT_OF_RANGE;
  return host_transfer(s, dst->addr + dst_offset, (void*)(uintptr_t)src, size,
                       1);
}

xhal_status_t npu_enqueue_read(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, void* dst, uint64_t size) {
  if (!s || !src || (!dst && size)) return XHAL_ERROR_INVALID_ARGUMENT;
  if (!range_ok(src, src_offset, size)) return XHAL_ERROR_OUT_OF_RANGE;
  return host_transfer(s, src->addr + src_offset, dst, size, 0);
}

xhal_status_t npu_enqueue_copy(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, xhal_plugin_buffer_t dst,
                               uint64_t dst_offset, uint64_t size) {
  npu_batch_t b;
  xhal_status_t st;
  if (!s || !src || !dst) return XHAL_ERROR_INVALID_ARGUMENT;
  if (!range_ok(src, src_offset, size) || !range_ok(dst, dst_offset, size)) {
    return XHAL_ERROR_OUT_OF_RANGE;
  }
  if (size == 0) return XHAL_OK;
  st = npu_batch_begin(&b, s->dev, s->id);
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
  if (!s || !dst || !pattern) return XHAL_ERROR_INVALID_ARGUMENT;
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (size % pattern_size) return XHAL_ERROR_INVALID_ARGUMENT;
  if (!range_ok(dst, offset, size)) return XHAL_ERROR_OUT_OF_RANGE;
  if (size == 0) return XHAL_OK;
  st = npu_batch_begin(&b, s->dev, s->id);
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
  if (!s || !fn) return XHAL_ERROR_INVALID_ARGUMENT;
  return npu_queue_host_func(s->dev, s->id, fn, user_data);
}

/* ---------------------------------------------------------------- events */

xhal_status_t npu_event_create(xhal_plugin_device_t device,
                               xhal_plugin_event_t* out) {
  struct xhal_plugin_event* e;
  if (!device || !out) return XHAL_ERROR_INVALID_ARGUMENT;
  e = calloc(1, sizeof(*e));
  if (!e) return XHAL_ERROR_OUT_OF_MEMORY;
  e->dev = (npu_dev_t*)(void*)device;
  *out = e;
  return XHAL_OK;
}

void npu_event_destroy(xhal_plugin_event_t e) { free(e); }

xhal_status_t npu_event_record(xhal_plugin_event_t e, xhal_plugin_stream_t s) {
  npu_batch_t b;
  uint64_t f;
  xhal_status_t st;
  if (!e || !s) return XHAL_ERROR_INVALID_ARGUMENT;
  if (e->dev != s->dev) return XHAL_ERROR_INVALID_ARGUMENT;
  st = npu_batch_begin(&b, s->dev, s->id);
  if (st != XHAL_OK) return st;
  f = npu_emit_fence(&b, 1, 1);
  st = npu_batch_end(&b);
  if (st == XHAL_OK) {
    /* A concurrent wait on this event sees either point; the host
     * serialises record against wait for one event per the ABI. */
    e->stream_id = s->id;
    e->fence = f;
  }
  return st;
}

xhal_status_t npu_event_wait(xhal_plugin_event_t e, uint64_t timeout_ns) {
  if (!e) return XHAL_ERROR_INVALID_HANDLE;
  if (e->fence == 0) return XHAL_ERROR_INVALID_STATE;
  return npu_fence_wait(e->dev, e->stream_id, e->fence, timeout_ns);
}

xhal_status_t npu_event_query(xhal_plugin_event_t e) {
  xhal_status_t st;
  if (!e) return XHAL_ERROR_INVALID_HANDLE;
  if (e->fence == 0) return XHAL_ERROR_INVALID_STATE;
  pthread_mutex_lock(&e->dev->mu);
  st = npu_fence_status(e->dev, e->stream_id, e->fence);
  pthread_mutex_unlock(&e->dev->mu);
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
  uint64_t c0, c1;
  npu_dev_t* dev;
  if (!start || !end || !out_ns) return XHAL_ERROR_INVALID_ARGUMENT;
  if (start->dev != end->dev) return XHAL_ERROR_INVALID_ARGUMENT;
  if (start->fence == 0 || end->fence == 0) return XHAL_ERROR_INVALID_STATE;
  dev = start->dev;
  st = npu_event_query(start);
  if (st == XHAL_OK) st = npu_event_query(end);
  if (st != XHAL_OK) return st;
  if (!fence_cycles(dev, start->fence, &c0) ||
      !fence_cycles(dev, end->fence, &c1)) {
    npu_set_error(dev, XHAL_ERROR_INVALID_STATE,
                  "npu: event timestamp no longer available");
    return XHAL_ERROR_INVALID_STATE;
  }
  /* Simulated time at the configured clock: cycles * 1000 / MHz. */
  *out_ns = c1 > c0 ? (c1 - c0) * 1000ull / dev->clock_mhz : 0;
  return XHAL_OK;
}

xhal_status_t npu_stream_wait_event(xhal_plugin_stream_t s,
                                    xhal_plugin_event_t e) {
  if (!s || !e) return XHAL_ERROR_INVALID_ARGUMENT;
  if (e->fence == 0) return XHAL_ERROR_INVALID_STATE;
  if (e->dev != s->dev) return XHAL_ERROR_INVALID_ARGUMENT;
  return npu_add_dependency(s->dev, s->id, e->stream_id, e->fence);
}
