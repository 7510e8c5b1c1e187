/*
 * faulty_plugin.c - a small, correct host-memory plugin that the build
 * compiles once per defect, planting exactly one (XHAL_FAULT_<X>), to
 * prove that xhal-cts catches each defect with the test aimed at it
 * (docs/conformance.md, "Faulty plugins"). Without a XHAL_FAULT_* define
 * it passes the core profile, which proves the suite is not failing it for
 * some other reason.
 *
 * The plugin: two devices backed by host memory (device 0 says CPU,
 * device 1 OTHER, so cross-device paths get exercised), buffers with
 * mapping, one worker thread per stream running an in-order command
 * queue, events with timestamps, host functions, stream waits, and two
 * operators registered with the host: matmul f32 and add f32 (with
 * broadcasting, in faulty_ops.c). Commands hold references to the buffers and
 * events they use, so either may be released while work is pending.
 *
 * The defects (each one line or two, marked DEFECT below):
 *   XHAL_FAULT_WRONG_MATMUL   matmul drops the last product when K is odd
 *   XHAL_FAULT_EARLY_EVENT    event_record signals at once, before the work
 *   XHAL_FAULT_COPY_OVERRUN   enqueue_copy writes one byte past its range
 *   XHAL_FAULT_STRUCT_SIZE    the table's struct_size is too small
 *   XHAL_FAULT_NULL_ENTRY     a required entry (event_query) is NULL
 *   XHAL_FAULT_CRASH_LAUNCH   launching add dereferences NULL
 *   XHAL_FAULT_HANG_SYNC      stream_synchronize never returns
 *   XHAL_FAULT_SWALLOW_ERROR  buffer_alloc of size 0 returns XHAL_OK
 *   XHAL_FAULT_LEAK           buffer_free leaks the buffer's memory
 *   XHAL_FAULT_NO_TIMING_FLAG claims XHAL_CAP_STREAM_NO_TIMING, then
 *                             rejects XHAL_STREAM_NO_TIMING
 *   XHAL_FAULT_HOST_ALLOC_OVERLAP host_alloc hands out one arena to every
 *                             small allocation
 *   XHAL_FAULT_HOST_ALLOC_MISALIGNED host_alloc returns memory 8 bytes off
 *                             the 64-byte alignment
 *   XHAL_FAULT_HANG_CLOSE     device_close never returns
 *   XHAL_FAULT_NO_OPS         no defect: registers no operator implementation
 *                             (must pass the core profile)
 *   XHAL_FAULT_SECOND_DEVICE_FILL on device 1 only, enqueue_fill leaves the
 *                             last pattern unit of a range unwritten
 *   XHAL_FAULT_LYING_LIMITS   add declares max_rank 5 but supports()
 *                             takes rank 6
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <xhal/xhal_plugin.h>

#include "faulty_internal.h"

#ifndef FAULTY_NAME
#define FAULTY_NAME "faulty_none"
#endif

enum {
  kDevices = kFaultyDevices,
  kAlignment = 64,
  /* Device memory past each buffer's end, as real memory has: a write one
   * byte past a range lands somewhere, and does not corrupt the host. */
  kSlack = 64,
  kMaxMaps = kFaultyMaxMaps,
};
static const uint64_t kMemoryBytes = 1ull << 30;
static const uint64_t kMaxAlloc = 256ull << 20;

/* -------------------------------------------------------------- helpers */

xhal_status_t faulty_fail(struct xhal_plugin_context* ctx, xhal_status_t s,
                          const char* fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (ctx && ctx->host.set_error) {
    ctx->host.set_error(ctx->host.host_context, s, msg);
  }
  return s;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int range_bad(uint64_t off, uint64_t size, uint64_t limit) {
  uint64_t end;
  return __builtin_add_overflow(off, size, &end) || end > limit;
}

static void buffer_release(struct xhal_plugin_buffer* b) {
  if (atomic_fetch_sub(&b->refs, 1u) != 1u) return;
  struct xhal_plugin_context* ctx = b->ctx;
  atomic_fetch_sub(&ctx->used_bytes, b->size);
#ifndef XHAL_FAULT_LEAK
  ctx->host.free_aligned(ctx->host.host_context, b->data);
#endif /* DEFECT (LEAK): the memory is never returned */
  pthread_mutex_destroy(&b->map_mu);
  free(b);
}

static void event_release(struct xhal_plugin_event* e) {
  if (atomic_fetch_sub(&e->refs, 1u) != 1u) return;
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
  free(e);
}

static void event_complete(struct xhal_plugin_event* e, uint64_t gen,
                           xhal_status_t status) {
  pthread_mutex_lock(&e->mu);
  if (gen > e->done_gen) {
    e->done_gen = gen;
    e->status = status;
    e->stamp_ns = now_ns();
    pthread_cond_broadcast(&e->cv);
  }
  pthread_mutex_unlock(&e->mu);
}

/* Waits for record `gen` of `e`; UINT64_MAX waits forever, 0 polls. */
static xhal_status_t event_wait_gen(struct xhal_plugin_event* e, uint64_t gen,
                                    uint64_t timeout_ns) {
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  uint64_t ns = (uint64_t)deadline.tv_nsec + timeout_ns % 1000000000ull;
  uint64_t secs = timeout_ns / 1000000000ull + ns / 1000000000ull;
  /* Beyond a day, a finite timeout is as good as forever here. */
  if (secs > 86400u) timeout_ns = UINT64_MAX;
  deadline.tv_sec += (time_t)secs;
  deadline.tv_nsec = (long)(ns % 1000000000ull);
  xhal_status_t status = XHAL_OK;
  pthread_mutex_lock(&e->mu);
  while (e->done_gen < gen && status == XHAL_OK) {
    if (timeout_ns == 0) {
      status = XHAL_ERROR_TIMEOUT;
    } else if (timeout_ns == UINT64_MAX) {
      pthread_cond_wait(&e->cv, &e->mu);
    } else if (pthread_cond_timedwait(&e->cv, &e->mu, &deadline) != 0 &&
               e->done_gen < gen) {
      status = XHAL_ERROR_TIMEOUT;
    }
  }
  if (status == XHAL_OK) status = e->status;
  pthread_mutex_unlock(&e->mu);
  return status;
}

/* ---------------------------------------------------------------- worker */

static xhal_status_t execute(cmd_t* c, xhal_status_t status) {
  if (c->kind == CMD_RECORD) {
    event_complete(c->event, c->gen, status);
    return status;
  }
  if (status != XHAL_OK) return status; /* a failed stream skips work */
  switch (c->kind) {
    case CMD_WRITE:
    case CMD_READ:
    case CMD_COPY:
      memmove(c->dst, c->src, (size_t)c->size);
      return XHAL_OK;
    case CMD_FILL:
      for (uint64_t i = 0; i < c->size; ++i)
        c->dst[i] = c->pattern[i % c->pattern_size];
      return XHAL_OK;
    case CMD_HOST_FUNC: {
      xhal_status_t s = c->fn(c->user_data);
      if (s == XHAL_OK) return XHAL_OK;
      return s > 0 && s < XHAL_STATUS_COUNT ? s : XHAL_ERROR_EXECUTION_FAILED;
    }
    case CMD_WAIT:
      return event_wait_gen(c->event, c->gen, UINT64_MAX);
    case CMD_OP:
      return c->op(&c->call);
    default:
      return XHAL_ERROR_INTERNAL;
  }
}

static void* worker_main(void* arg) {
  struct xhal_plugin_stream* s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stop) pthread_cond_wait(&s->work_cv, &s->mu);
    if (!s->head) break;
    cmd_t* c = s->head;
    s->head = c->next;
    if (!s->head) s->tail = NULL;
    xhal_status_t status = s->status;
    pthread_mutex_unlock(&s->mu);
    status = execute(c, status);
    for (uint32_t i = 0; i < c->num_bufs; ++i) buffer_release(c->bufs[i]);
    if (c->event) event_release(c->event);
    free(c);
    pthread_mutex_lock(&s->mu);
    s->status = status;
    s->completed++;
    pthread_cond_broadcast(&s->idle_cv);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

cmd_t* faulty_cmd_new(struct xhal_plugin_stream* s, cmd_kind_t kind) {
  cmd_t* c = calloc(1, sizeof(*c));
  if (!c) {
    faulty_fail(s->ctx, XHAL_ERROR_OUT_OF_MEMORY, "no memory for a command");
    return NULL;
  }
  c->kind = kind;
  return c;
}

void faulty_cmd_hold(cmd_t* c, struct xhal_plugin_buffer* b) {
  atomic_fetch_add(&b->refs, 1u);
  c->bufs[c->num_bufs++] = b;
}

xhal_status_t faulty_submit(struct xhal_plugin_stream* s, cmd_t* c) {
  pthread_mutex_lock(&s->mu);
  if (s->tail) {
    s->tail->next = c;
  } else {
    s->head = c;
  }
  s->tail = c;
  s->submitted++;
  pthread_cond_signal(&s->work_cv);
  pthread_mutex_unlock(&s->mu);
  return XHAL_OK;
}

/* ------------------------------------------------------ context, devices */

static xhal_status_t f_init(const xhal_host_services_t* host,
                            xhal_plugin_context_t* out) {
  if (!host || !out) return XHAL_ERROR_INVALID_ARGUMENT;
  *out = NULL;
  struct xhal_plugin_context* ctx = calloc(1, sizeof(*ctx));
  if (!ctx) return XHAL_ERROR_OUT_OF_MEMORY;
  /* An older host's table is shorter: what it lacks stays NULL. */
  memcpy(&ctx->host, host,
         host->struct_size < sizeof(ctx->host) ? host->struct_size
                                               : sizeof(ctx->host));
  for (uint32_t i = 0; i < kDevices; ++i) {
    ctx->devices[i].ctx = ctx;
    ctx->devices[i].index = i;
  }
  if (!ctx->host.alloc_aligned || !ctx->host.free_aligned) {
    free(ctx);
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  xhal_status_t s = faulty_register_ops(ctx);
  if (s != XHAL_OK) {
    free(ctx);
    return s;
  }
  *out = ctx;
  return XHAL_OK;
}

static void f_shutdown(xhal_plugin_context_t ctx) { free(ctx); }

static xhal_status_t f_device_count(xhal_plugin_context_t ctx, uint32_t* out) {
  if (!ctx) return XHAL_ERROR_INVALID_HANDLE;
  if (!out)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "out_count is NULL");
  *out = kDevices;
  return XHAL_OK;
}

static xhal_status_t f_device_properties(xhal_plugin_context_t ctx,
                                         uint32_t index,
                                         xhal_device_properties_t* out) {
  if (!ctx) return XHAL_ERROR_INVALID_HANDLE;
  if (!out)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "out_props is NULL");
  if (index >= kDevices)
    return faulty_fail(ctx, XHAL_ERROR_OUT_OF_RANGE, "device %u of %d", index,
                       kDevices);
  xhal_device_properties_t p;
  memset(&p, 0, sizeof(p));
  p.struct_size = (uint32_t)sizeof(p);
  p.kind = index == 0 ? XHAL_DEVICE_KIND_CPU : XHAL_DEVICE_KIND_OTHER;
  snprintf(p.name, sizeof(p.name), "faulty host-memory device %u", index);
  snprintf(p.vendor, sizeof(p.vendor), "xhal conformance");
  snprintf(p.driver_version, sizeof(p.driver_version), "%s", FAULTY_NAME);
  memcpy(p.uuid, "xhal-faulty-dev", 15);
  p.uuid[15] = (uint8_t)index;
  p.memory_bytes = kMemoryBytes;
  p.max_alloc_bytes = kMaxAlloc;
  p.alignment = kAlignment;
  p.compute_units = 1;
  p.dtypes = XHAL_DTYPE_BIT(XHAL_DTYPE_F32);
  /* XHAL_STREAM_NO_TIMING is accepted and ignored: events stay timed,
   * which R-STR-11 allows. */
  p.capabilities = XHAL_CAP_HOST_VISIBLE_MEMORY | XHAL_CAP_PROFILING |
                   XHAL_CAP_HOST_FUNC | XHAL_CAP_STREAM_NO_TIMING |
                   XHAL_CAP_HOST_ALLOC;
  p.timer_numerator = 1;
  p.timer_denominator = 1;
  /* Never write past what the host's record holds. */
  uint32_t n =
      out->struct_size < sizeof(p) ? out->struct_size : (uint32_t)sizeof(p);
  p.struct_size = n;
  memcpy(out, &p, n);
  return XHAL_OK;
}

static xhal_status_t f_device_open(xhal_plugin_context_t ctx, uint32_t index,
                                   xhal_plugin_device_t* out) {
  if (!ctx) return XHAL_ERROR_INVALID_HANDLE;
  if (!out)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "out_device is NULL");
  if (index >= kDevices)
    return faulty_fail(ctx, XHAL_ERROR_OUT_OF_RANGE, "device %u of %d", index,
                       kDevices);
  *out = &ctx->devices[index];
  return XHAL_OK;
}

static void f_device_close(xhal_plugin_device_t dev) {
  (void)dev;
#ifdef XHAL_FAULT_HANG_CLOSE
  for (;;) sleep(1); /* DEFECT: device_close never returns */
#endif
}

/* --------------------------------------------------------------- memory */

static xhal_status_t f_buffer_alloc(xhal_plugin_device_t dev, uint64_t size,
                                    uint32_t flags, xhal_plugin_buffer_t* out) {
  if (!dev) return XHAL_ERROR_INVALID_HANDLE;
  struct xhal_plugin_context* ctx = dev->ctx;
  if (!out)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "out_buffer is NULL");
  *out = NULL;
#ifdef XHAL_FAULT_SWALLOW_ERROR
  if (size == 0) size = 1; /* DEFECT: size 0 is accepted */
#endif
  if (size == 0)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "size is 0");
  if (flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "unknown flags 0x%x",
                       flags);
  if (size > kMaxAlloc)
    return faulty_fail(ctx, XHAL_ERROR_OUT_OF_RANGE,
                       "size past max_alloc_bytes");
  if (atomic_fetch_add(&ctx->used_bytes, size) + size > kMemoryBytes) {
    atomic_fetch_sub(&ctx->used_bytes, size);
    return faulty_fail(ctx, XHAL_ERROR_OUT_OF_MEMORY, "device memory is full");
  }
  struct xhal_plugin_buffer* b = calloc(1, sizeof(*b));
  uint8_t* data = b ? ctx->host.alloc_aligned(ctx->host.host_context,
                                              size + kSlack, kAlignment)
                    : NULL;
  if (!data) {
    free(b);
    atomic_fetch_sub(&ctx->used_bytes, size);
    return faulty_fail(ctx, XHAL_ERROR_OUT_OF_MEMORY, "no host memory");
  }
  b->ctx = ctx;
  atomic_init(&b->refs, 1u);
  b->data = data;
  b->size = size;
  b->flags = flags;
  pthread_mutex_init(&b->map_mu, NULL);
  *out = b;
  return XHAL_OK;
}

static void f_buffer_free(xhal_plugin_device_t dev, xhal_plugin_buffer_t b) {
  (void)dev;
  if (b) buffer_release(b); /* pending commands hold their own references */
}

/* Host memory for transfers: this plugin's devices are host memory, so
 * the host's aligned allocation is what they transfer fastest from. */
#ifdef XHAL_FAULT_HOST_ALLOC_OVERLAP
static _Alignas(64) uint8_t g_arena[1u << 16];
#endif
#ifdef XHAL_FAULT_HOST_ALLOC_MISALIGNED
enum { kMisalign = 8 }; /* DEFECT: the ABI asks for 64-byte alignment */
#else
enum { kMisalign = 0 };
#endif

static xhal_status_t f_host_alloc(xhal_plugin_device_t dev, uint64_t size,
                                  void** out) {
  if (!dev) return XHAL_ERROR_INVALID_HANDLE;
  struct xhal_plugin_context* ctx = dev->ctx;
  if (!out)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "out_ptr is NULL");
  *out = NULL;
  if (size == 0)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "size is 0");
#ifdef XHAL_FAULT_HOST_ALLOC_OVERLAP
  if (size <= sizeof(g_arena)) {
    *out = g_arena; /* DEFECT: every small allocation is the same memory */
    return XHAL_OK;
  }
#endif
  uint8_t* p = ctx->host.alloc_aligned(ctx->host.host_context, size + kMisalign,
                                       kAlignment);
  if (!p) return faulty_fail(ctx, XHAL_ERROR_OUT_OF_MEMORY, "no host memory");
  *out = p + kMisalign;
  return XHAL_OK;
}

static void f_host_free(xhal_plugin_device_t dev, void* ptr) {
  if (!dev || !ptr) return;
#ifdef XHAL_FAULT_HOST_ALLOC_OVERLAP
  if (ptr == (void*)g_arena) return;
#endif
  dev->ctx->host.free_aligned(dev->ctx->host.host_context,
                              (uint8_t*)ptr - kMisalign);
}

static xhal_status_t f_buffer_map(xhal_plugin_device_t dev,
                                  xhal_plugin_buffer_t b, uint64_t off,
                                  uint64_t size, uint32_t flags, void** out) {
  if (!dev || !b) return XHAL_ERROR_INVALID_HANDLE;
  struct xhal_plugin_context* ctx = dev->ctx;
  if (!out)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "out_ptr is NULL");
  *out = NULL;
  if (flags & ~(uint32_t)(XHAL_MAP_READ | XHAL_MAP_WRITE))
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "unknown map flags");
  if (range_bad(off, size, b->size))
    return faulty_fail(ctx, XHAL_ERROR_OUT_OF_RANGE, "map range past the end");
  if (!(b->flags & XHAL_MEMORY_HOST_VISIBLE))
    return faulty_fail(ctx, XHAL_ERROR_UNSUPPORTED,
                       "buffer is not host-visible");
  pthread_mutex_lock(&b->map_mu);
  if (b->map_count == kMaxMaps) {
    pthread_mutex_unlock(&b->map_mu);
    return faulty_fail(ctx, XHAL_ERROR_OUT_OF_MEMORY, "too many live mappings");
  }
  b->maps[b->map_count++] = b->data + off;
  pthread_mutex_unlock(&b->map_mu);
  *out = b->data + off;
  return XHAL_OK;
}

static xhal_status_t f_buffer_unmap(xhal_plugin_device_t dev,
                                    xhal_plugin_buffer_t b, void* ptr) {
  if (!dev || !b) return XHAL_ERROR_INVALID_HANDLE;
  pthread_mutex_lock(&b->map_mu);
  for (uint32_t i = 0; i < b->map_count; ++i) {
    if (b->maps[i] == ptr) {
      b->maps[i] = b->maps[--b->map_count];
      pthread_mutex_unlock(&b->map_mu);
      return XHAL_OK;
    }
  }
  pthread_mutex_unlock(&b->map_mu);
  return faulty_fail(dev->ctx, XHAL_ERROR_INVALID_STATE, "not a live mapping");
}

/* -------------------------------------------------------------- streams */

static xhal_status_t f_stream_create(xhal_plugin_device_t dev, uint32_t flags,
                                     xhal_plugin_stream_t* out) {
  if (!dev) return XHAL_ERROR_INVALID_HANDLE;
  struct xhal_plugin_context* ctx = dev->ctx;
  if (!out)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "out_stream is NULL");
  *out = NULL;
#ifdef XHAL_FAULT_NO_TIMING_FLAG
  const uint32_t known = 0; /* DEFECT: the claimed flag is refused */
#else
  const uint32_t known = XHAL_STREAM_NO_TIMING;
#endif
  if (flags & ~known)
    return faulty_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT, "unknown flags");
  struct xhal_plugin_stream* s = calloc(1, sizeof(*s));
  if (!s) return faulty_fail(ctx, XHAL_ERROR_OUT_OF_MEMORY, "no memory");
  s->ctx = ctx;
  s->device_index = dev->index;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->work_cv, NULL);
  pthread_cond_init(&s->idle_cv, NULL);
  if (pthread_create(&s->worker, NULL, worker_main, s) != 0) {
    free(s);
    return faulty_fail(ctx, XHAL_ERROR_OUT_OF_MEMORY, "cannot start a worker");
  }
  *out = s;
  return XHAL_OK;
}

static xhal_status_t f_stream_synchronize(xhal_plugin_stream_t s) {
  if (!s) return XHAL_ERROR_INVALID_HANDLE;
  pthread_mutex_lock(&s->mu);
#ifdef XHAL_FAULT_HANG_SYNC
  for (;;) pthread_cond_wait(&s->idle_cv, &s->mu); /* DEFECT: never returns */
#endif
  while (s->completed != s->submitted) pthread_cond_wait(&s->idle_cv, &s->mu);
  xhal_status_t status = s->status;
  pthread_mutex_unlock(&s->mu);
  if (status != XHAL_OK)
    return faulty_fail(s->ctx, status, "the stream failed earlier");
  return XHAL_OK;
}

static void f_stream_destroy(xhal_plugin_stream_t s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_signal(&s->work_cv);
  pthread_mutex_unlock(&s->mu);
  /* The worker drains the queue before it sees stop. */
  pthread_join(s->worker, NULL);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->work_cv);
  pthread_cond_destroy(&s->idle_cv);
  free(s);
}

static xhal_status_t f_stream_flush(xhal_plugin_stream_t s) {
  return s ? XHAL_OK : XHAL_ERROR_INVALID_HANDLE;
}

static xhal_status_t f_enqueue_write(xhal_plugin_stream_t s,
                                     xhal_plugin_buffer_t dst, uint64_t off,
                                     const void* src, uint64_t size) {
  if (!s || !dst) return XHAL_ERROR_INVALID_HANDLE;
  if (!src)
    return faulty_fail(s->ctx, XHAL_ERROR_INVALID_ARGUMENT, "src is NULL");
  if (range_bad(off, size, dst->size))
    return faulty_fail(s->ctx, XHAL_ERROR_OUT_OF_RANGE, "write past the end");
  cmd_t* c = faulty_cmd_new(s, CMD_WRITE);
  if (!c) return XHAL_ERROR_OUT_OF_MEMORY;
  faulty_cmd_hold(c, dst);
  c->dst = dst->data + off;
  c->src = src;
  c->size = size;
  return faulty_submit(s, c);
}

static xhal_status_t f_enqueue_read(xhal_plugin_stream_t s,
                                    xhal_plugin_buffer_t src, uint64_t off,
                                    void* dst, uint64_t size) {
  if (!s || !src) return XHAL_ERROR_INVALID_HANDLE;
  if (!dst)
    return faulty_fail(s->ctx, XHAL_ERROR_INVALID_ARGUMENT, "dst is NULL");
  if (range_bad(off, size, src->size))
    return faulty_fail(s->ctx, XHAL_ERROR_OUT_OF_RANGE, "read past the end");
  cmd_t* c = faulty_cmd_new(s, CMD_READ);
  if (!c) return XHAL_ERROR_OUT_OF_MEMORY;
  faulty_cmd_hold(c, src);
  c->dst = dst;
  c->src = src->data + off;
  c->size = size;
  return faulty_submit(s, c);
}

static xhal_status_t f_enqueue_copy(xhal_plugin_stream_t s,
                                    xhal_plugin_buffer_t src, uint64_t src_off,
                                    xhal_plugin_buffer_t dst, uint64_t dst_off,
                                    uint64_t size) {
  if (!s || !src || !dst) return XHAL_ERROR_INVALID_HANDLE;
  if (range_bad(src_off, size, src->size) ||
      range_bad(dst_off, size, dst->size))
    return faulty_fail(s->ctx, XHAL_ERROR_OUT_OF_RANGE, "copy past an end");
  cmd_t* c = faulty_cmd_new(s, CMD_COPY);
  if (!c) return XHAL_ERROR_OUT_OF_MEMORY;
  faulty_cmd_hold(c, src);
  faulty_cmd_hold(c, dst);
  c->dst = dst->data + dst_off;
  c->src = src->data + src_off;
  c->size = size;
#ifdef XHAL_FAULT_COPY_OVERRUN
  if (size) c->size = size + 1; /* DEFECT: one byte past the range */
#endif
  return faulty_submit(s, c);
}

static xhal_status_t f_enqueue_fill(xhal_plugin_stream_t s,
                                    xhal_plugin_buffer_t dst, uint64_t off,
                                    uint64_t size, const void* pattern,
                                    uint32_t psize) {
  if (!s || !dst) return XHAL_ERROR_INVALID_HANDLE;
  if (!pattern)
    return faulty_fail(s->ctx, XHAL_ERROR_INVALID_ARGUMENT, "pattern is NULL");
  if ((psize != 1 && psize != 2 && psize != 4) || size % psize)
    return faulty_fail(s->ctx, XHAL_ERROR_INVALID_ARGUMENT, "bad pattern size");
  if (range_bad(off, size, dst->size))
    return faulty_fail(s->ctx, XHAL_ERROR_OUT_OF_RANGE, "fill past the end");
  cmd_t* c = faulty_cmd_new(s, CMD_FILL);
  if (!c) return XHAL_ERROR_OUT_OF_MEMORY;
  faulty_cmd_hold(c, dst);
  c->dst = dst->data + off;
  c->size = size;
#ifdef XHAL_FAULT_SECOND_DEVICE_FILL
  /* DEFECT: the second device's fill stops one pattern unit short. */
  if (s->device_index == 1 && size >= 2u * psize) c->size = size - psize;
#endif
  memcpy(c->pattern, pattern, psize);
  c->pattern_size = psize;
  return faulty_submit(s, c);
}

static xhal_status_t f_enqueue_host_func(xhal_plugin_stream_t s,
                                         xhal_host_func_t fn, void* data) {
  if (!s) return XHAL_ERROR_INVALID_HANDLE;
  if (!fn)
    return faulty_fail(s->ctx, XHAL_ERROR_INVALID_ARGUMENT, "fn is NULL");
  cmd_t* c = faulty_cmd_new(s, CMD_HOST_FUNC);
  if (!c) return XHAL_ERROR_OUT_OF_MEMORY;
  c->fn = fn;
  c->user_data = data;
  return faulty_submit(s, c);
}

/* --------------------------------------------------------------- events */

static xhal_status_t f_event_create(xhal_plugin_device_t dev,
                                    xhal_plugin_event_t* out) {
  if (!dev) return XHAL_ERROR_INVALID_HANDLE;
  if (!out)
    return faulty_fail(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT, "out is NULL");
  struct xhal_plugin_event* e = calloc(1, sizeof(*e));
  if (!e) return faulty_fail(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY, "no memory");
  e->ctx = dev->ctx;
  atomic_init(&e->refs, 1u);
  pthread_mutex_init(&e->mu, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&e->cv, &attr);
  pthread_condattr_destroy(&attr);
  *out = e;
  return XHAL_OK;
}

static void f_event_destroy(xhal_plugin_event_t e) {
  if (e) event_release(e);
}

static xhal_status_t f_event_record(xhal_plugin_event_t e,
                                    xhal_plugin_stream_t s) {
  if (!e || !s) return XHAL_ERROR_INVALID_HANDLE;
  cmd_t* c = faulty_cmd_new(s, CMD_RECORD);
  if (!c) return XHAL_ERROR_OUT_OF_MEMORY;
  pthread_mutex_lock(&e->mu);
  uint64_t gen = ++e->record_gen;
  pthread_mutex_unlock(&e->mu);
#ifdef XHAL_FAULT_EARLY_EVENT
  event_complete(e, gen, XHAL_OK); /* DEFECT: signalled before the work */
#endif
  atomic_fetch_add(&e->refs, 1u);
  c->event = e;
  c->gen = gen;
  return faulty_submit(s, c);
}

/* The generation a host wait refers to, or 0 if never recorded. */
static uint64_t latest(struct xhal_plugin_event* e) {
  pthread_mutex_lock(&e->mu);
  uint64_t gen = e->record_gen;
  pthread_mutex_unlock(&e->mu);
  return gen;
}

static xhal_status_t f_event_wait(xhal_plugin_event_t e, uint64_t timeout_ns) {
  if (!e) return XHAL_ERROR_INVALID_HANDLE;
  uint64_t gen = latest(e);
  if (gen == 0)
    return faulty_fail(e->ctx, XHAL_ERROR_INVALID_STATE,
                       "event never recorded");
  xhal_status_t s = event_wait_gen(e, gen, timeout_ns);
  if (s != XHAL_OK) return faulty_fail(e->ctx, s, "event_wait did not succeed");
  return XHAL_OK;
}

static xhal_status_t f_event_query(xhal_plugin_event_t e) {
  if (!e) return XHAL_ERROR_INVALID_HANDLE;
  uint64_t gen = latest(e);
  if (gen == 0)
    return faulty_fail(e->ctx, XHAL_ERROR_INVALID_STATE,
                       "event never recorded");
  xhal_status_t s = event_wait_gen(e, gen, 0);
  if (s == XHAL_ERROR_TIMEOUT) return XHAL_ERROR_NOT_READY;
  if (s != XHAL_OK) return faulty_fail(e->ctx, s, "the captured work failed");
  return XHAL_OK;
}

static xhal_status_t f_event_elapsed(xhal_plugin_event_t a,
                                     xhal_plugin_event_t b, uint64_t* out) {
  if (!a || !b) return XHAL_ERROR_INVALID_HANDLE;
  if (!out)
    return faulty_fail(a->ctx, XHAL_ERROR_INVALID_ARGUMENT, "out is NULL");
  /* R-EVT-15: never recorded, failed, pending, in that order. */
  const xhal_status_t qa = f_event_query(a);
  const xhal_status_t qb = f_event_query(b);
  if (qa == XHAL_ERROR_INVALID_STATE || qb == XHAL_ERROR_INVALID_STATE)
    return faulty_fail(a->ctx, XHAL_ERROR_INVALID_STATE,
                       "an event was never recorded");
  if (qa != XHAL_OK && qa != XHAL_ERROR_NOT_READY) return qa;
  if (qb != XHAL_OK && qb != XHAL_ERROR_NOT_READY) return qb;
  if (qa != XHAL_OK || qb != XHAL_OK)
    return faulty_fail(a->ctx, XHAL_ERROR_NOT_READY, "an event is pending");
  pthread_mutex_lock(&a->mu);
  uint64_t t0 = a->stamp_ns;
  pthread_mutex_unlock(&a->mu);
  pthread_mutex_lock(&b->mu);
  uint64_t t1 = b->stamp_ns;
  pthread_mutex_unlock(&b->mu);
  if (t1 < t0)
    return faulty_fail(a->ctx, XHAL_ERROR_INVALID_ARGUMENT, "end before start");
  *out = t1 - t0;
  return XHAL_OK;
}

static xhal_status_t f_stream_wait_event(xhal_plugin_stream_t s,
                                         xhal_plugin_event_t e) {
  if (!s || !e) return XHAL_ERROR_INVALID_HANDLE;
  uint64_t gen = latest(e);
  if (gen == 0)
    return faulty_fail(s->ctx, XHAL_ERROR_INVALID_STATE,
                       "event never recorded");
  cmd_t* c = faulty_cmd_new(s, CMD_WAIT);
  if (!c) return XHAL_ERROR_OUT_OF_MEMORY;
  atomic_fetch_add(&e->refs, 1u);
  c->event = e;
  c->gen = gen;
  return faulty_submit(s, c);
}

/* ---------------------------------------------------------------- table */

static const xhal_plugin_dispatch_t kTable = {
#ifdef XHAL_FAULT_STRUCT_SIZE
    /* DEFECT: the table claims to be smaller than ABI 1.0's */
    .struct_size = XHAL_PLUGIN_DISPATCH_SIZE_1_0 - 8u,
#else
    .struct_size = (uint32_t)sizeof(xhal_plugin_dispatch_t),
#endif
    .abi_major = XHAL_ABI_VERSION_MAJOR,
    .abi_minor = XHAL_ABI_VERSION_MINOR,
    .name = FAULTY_NAME,
    .version = "1.0.0",
    .init = f_init,
    .shutdown = f_shutdown,
    .device_count = f_device_count,
    .device_properties = f_device_properties,
    .device_open = f_device_open,
    .device_close = f_device_close,
    .buffer_alloc = f_buffer_alloc,
    .buffer_free = f_buffer_free,
    .buffer_map = f_buffer_map,
    .buffer_unmap = f_buffer_unmap,
    .stream_create = f_stream_create,
    .stream_destroy = f_stream_destroy,
    .stream_flush = f_stream_flush,
    .stream_synchronize = f_stream_synchronize,
    .enqueue_write = f_enqueue_write,
    .enqueue_read = f_enqueue_read,
    .enqueue_copy = f_enqueue_copy,
    .enqueue_fill = f_enqueue_fill,
    .enqueue_host_func = f_enqueue_host_func,
    .event_create = f_event_create,
    .event_destroy = f_event_destroy,
    .event_record = f_event_record,
    .event_wait = f_event_wait,
#ifdef XHAL_FAULT_NULL_ENTRY
    .event_query = NULL, /* DEFECT: a required entry is missing */
#else
    .event_query = f_event_query,
#endif
    .event_elapsed = f_event_elapsed,
    .stream_wait_event = f_stream_wait_event,
    .host_alloc = f_host_alloc,
    .host_free = f_host_free,
};

XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query(uint32_t host_major, uint32_t host_minor,
                  const xhal_plugin_dispatch_t** out_table) {
  (void)host_minor;
  if (!out_table) return XHAL_ERROR_INVALID_ARGUMENT;
  if (host_major != XHAL_ABI_VERSION_MAJOR) return XHAL_ERROR_ABI_MISMATCH;
  *out_table = &kTable;
  return XHAL_OK;
}
