/*
 * ocl_runtime_test.c - the OpenCL plugin's runtime through libxhal:
 * device properties, buffers and mapping, transfers at odd sizes and
 * offsets, fills, stream order with host functions, events (timeouts,
 * elapsed time, cross-stream waits), failure propagation, and unloading
 * while the OpenCL runtime may still be calling the plugin back.
 */
#define _GNU_SOURCE /* RTLD_NOLOAD */

#include <check.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xhal/xhal.h>

#include "ocl_test_util.h"

static xhal_instance_t g_inst;
static xhal_device_t g_dev;

static void setup(void) {
  g_inst = ocl_test_instance();
  g_dev = ocl_test_device(g_inst);
}

static void teardown(void) { xhal_instance_release(g_inst); }

/* ---------------------------------------------------------- properties */

START_TEST(test_properties) {
  xhal_device_properties_t p;
  uint32_t i;
  int nonzero = 0;
  ck_assert_int_eq(xhal_device_properties(g_dev, &p), XHAL_OK);
  ck_assert_uint_eq(p.struct_size, sizeof(p));
  ck_assert_msg(p.name[0] != '\0', "empty name");
  ck_assert_msg(p.vendor[0] != '\0', "empty vendor");
  ck_assert_msg(strstr(p.driver_version, "OpenCL") != NULL,
                "driver_version '%s' lacks the OpenCL version",
                p.driver_version);
  ck_assert_msg(p.kind == XHAL_DEVICE_KIND_CPU ||
                    p.kind == XHAL_DEVICE_KIND_GPU ||
                    p.kind == XHAL_DEVICE_KIND_OTHER,
                "kind %u", p.kind);
  ck_assert_uint_gt(p.memory_bytes, 0);
  ck_assert_uint_gt(p.max_alloc_bytes, 0);
  ck_assert_uint_le(p.max_alloc_bytes, p.memory_bytes);
  ck_assert_uint_ge(p.alignment, 1);
  ck_assert_uint_eq(p.alignment & (p.alignment - 1), 0);
  ck_assert_uint_gt(p.compute_units, 0);
  ck_assert_uint_gt(p.max_work_group_size, 0);
  ck_assert_uint_gt(p.local_memory_bytes, 0);
  ck_assert(p.capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY);
  ck_assert(p.capabilities & XHAL_CAP_PROFILING);
  ck_assert(p.capabilities & XHAL_CAP_KERNEL_LANG_OPENCL_C);
  ck_assert(p.capabilities & XHAL_CAP_HOST_FUNC);
  ck_assert(!(p.capabilities & XHAL_CAP_PEER_COPY));
  ck_assert(p.dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_F32));
  ck_assert(p.dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_F16));
  ck_assert(p.dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_I8));
  ck_assert(p.dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_I32));
  ck_assert_uint_eq(p.timer_numerator, 1);
  ck_assert_uint_eq(p.timer_denominator, 1);
  for (i = 0; i < XHAL_UUID_SIZE; ++i) nonzero |= p.uuid[i];
  ck_assert_msg(nonzero, "uuid is all zero");
  /* CPU devices' sizes come from host memory and are reported with at
   * most three significant bits, so they agree across processes. */
  if (p.kind == XHAL_DEVICE_KIND_CPU) {
    int top = 63 - __builtin_clzll(p.memory_bytes);
    ck_assert_msg(
        top < 3 || (p.memory_bytes & ((UINT64_C(1) << (top - 2)) - 1)) == 0,
        "memory_bytes %llu is not rounded", (unsigned long long)p.memory_bytes);
    top = 63 - __builtin_clzll(p.max_alloc_bytes);
    ck_assert_msg(
        top < 3 || (p.max_alloc_bytes & ((UINT64_C(1) << (top - 2)) - 1)) == 0,
        "max_alloc_bytes %llu is not rounded",
        (unsigned long long)p.max_alloc_bytes);
  }
}
END_TEST

/* The UUID and every other property are the same in a second instance. */
START_TEST(test_properties_stable) {
  xhal_device_properties_t a;
  xhal_device_properties_t b;
  xhal_instance_t other = ocl_test_instance();
  xhal_device_t dev = ocl_test_device(other);
  ck_assert_int_eq(xhal_device_properties(g_dev, &a), XHAL_OK);
  ck_assert_int_eq(xhal_device_properties(dev, &b), XHAL_OK);
  ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);
  xhal_instance_release(other);
}
END_TEST

START_TEST(test_plugin_info) {
  uint32_t count = 0;
  xhal_plugin_info_t info;
  ck_assert_int_eq(xhal_instance_plugin_count(g_inst, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1);
  ck_assert_int_eq(xhal_instance_plugin_info(g_inst, 0, &info), XHAL_OK);
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_LOADED);
  ck_assert_str_eq(info.name, "opencl");
  ck_assert_uint_ge(info.device_count, 1);
}
END_TEST

/* ------------------------------------------------------------- buffers */

START_TEST(test_alloc_limits) {
  xhal_device_properties_t p;
  xhal_buffer_t b = NULL;
  ck_assert_int_eq(xhal_device_properties(g_dev, &p), XHAL_OK);
  ocl_assert_status(xhal_buffer_alloc(g_dev, 0, 0, &b),
                    XHAL_ERROR_INVALID_ARGUMENT);
  ocl_assert_status(xhal_buffer_alloc(g_dev, p.max_alloc_bytes + 1, 0, &b),
                    XHAL_ERROR_OUT_OF_RANGE);
  ocl_assert_status(xhal_buffer_alloc(g_dev, 16, 0x80, &b),
                    XHAL_ERROR_INVALID_ARGUMENT);
  b = ocl_test_buffer(g_dev, 1, 0);
  xhal_buffer_release(b);
}
END_TEST

START_TEST(test_map_roundtrip) {
  xhal_buffer_t b = ocl_test_buffer(g_dev, 4099, XHAL_MEMORY_HOST_VISIBLE);
  xhal_buffer_t dl = ocl_test_buffer(g_dev, 64, XHAL_MEMORY_DEVICE_LOCAL);
  xhal_stream_t s = ocl_test_stream(g_dev);
  uint8_t back[100];
  uint8_t* p = NULL;
  int i;
  ck_assert_int_eq(xhal_buffer_map(b, 3, 100, XHAL_MAP_WRITE, (void**)&p),
                   XHAL_OK);
  for (i = 0; i < 100; ++i) p[i] = (uint8_t)(i * 7 + 1);
  ck_assert_int_eq(xhal_buffer_unmap(b, p), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(s, b, 3, back, sizeof(back)),
                   XHAL_OK);
  ocl_test_sync(s);
  for (i = 0; i < 100; ++i) ck_assert_uint_eq(back[i], (uint8_t)(i * 7 + 1));
  /* A device write is visible through a later read mapping. */
  ck_assert_int_eq(xhal_stream_enqueue_fill(s, b, 4000, 99, "\x5a", 1),
                   XHAL_OK);
  ocl_test_sync(s);
  ck_assert_int_eq(xhal_buffer_map(b, 3999, 100, XHAL_MAP_READ, (void**)&p),
                   XHAL_OK);
  ck_assert_uint_ne(p[0], 0x5a);
  for (i = 1; i < 100; ++i) ck_assert_uint_eq(p[i], 0x5a);
  ck_assert_int_eq(xhal_buffer_unmap(b, p), XHAL_OK);
  ocl_assert_status(xhal_buffer_map(dl, 0, 8, XHAL_MAP_READ, (void**)&p),
                    XHAL_ERROR_UNSUPPORTED);
  ocl_assert_status(xhal_buffer_map(b, 4000, 100, XHAL_MAP_READ, (void**)&p),
                    XHAL_ERROR_OUT_OF_RANGE);
  /* Unmapping what is not (or no longer) a mapping is refused. */
  ck_assert_int_eq(xhal_buffer_map(b, 0, 16, XHAL_MAP_READ, (void**)&p),
                   XHAL_OK);
  ck_assert_int_eq(xhal_buffer_unmap(b, p), XHAL_OK);
  ocl_assert_status(xhal_buffer_unmap(b, p), XHAL_ERROR_INVALID_STATE);
  ocl_assert_status(xhal_buffer_unmap(b, back), XHAL_ERROR_INVALID_STATE);
  xhal_stream_release(s);
  xhal_buffer_release(dl);
  xhal_buffer_release(b);
}
END_TEST

/* Writes, reads and copies at every small offset/size combination agree
 * with a host model of the buffers. */
START_TEST(test_transfers_odd) {
  enum { kSize = 1031 };
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_buffer_t a = ocl_test_buffer(g_dev, kSize, 0);
  xhal_buffer_t b = ocl_test_buffer(g_dev, kSize, XHAL_MEMORY_HOST_VISIBLE);
  static uint8_t model_a[kSize], model_b[kSize], src[kSize], got[kSize];
  static const uint64_t kOffsets[] = {0, 1, 3, 7, 64, 129, 1000};
  static const uint64_t kSizes[] = {1, 2, 5, 31, 256, 300};
  size_t i;
  size_t j;
  for (i = 0; i < kSize; ++i) {
    model_a[i] = (uint8_t)(i * 13 + 5);
    model_b[i] = (uint8_t)(i * 3 + 1);
  }
  ck_assert_int_eq(xhal_stream_enqueue_write(s, a, 0, model_a, kSize), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, b, 0, model_b, kSize), XHAL_OK);
  ocl_test_sync(s);
  for (i = 0; i < sizeof(kOffsets) / sizeof(kOffsets[0]); ++i) {
    for (j = 0; j < sizeof(kSizes) / sizeof(kSizes[0]); ++j) {
      uint64_t off = kOffsets[i];
      uint64_t size = kSizes[j];
      uint64_t off2 = (off * 7 + 11) % (kSize - size);
      size_t k;
      if (off + size > kSize) continue;
      for (k = 0; k < size; ++k) src[k] = (uint8_t)(off + size + k * 29);
      ck_assert_int_eq(xhal_stream_enqueue_write(s, a, off, src, size),
                       XHAL_OK);
      ocl_test_sync(s); /* src is reused: the write must be done */
      memcpy(model_a + off, src, size);
      ck_assert_int_eq(xhal_stream_enqueue_copy(s, a, off, b, off2, size),
                       XHAL_OK);
      memmove(model_b + off2, model_a + off, size);
      /* Overlapping copy inside one buffer has memmove semantics. */
      ck_assert_int_eq(
          xhal_stream_enqueue_copy(s, b, off2, b, off2 / 2 + 1, size), XHAL_OK);
      memmove(model_b + off2 / 2 + 1, model_b + off2, size);
    }
  }
  ck_assert_int_eq(xhal_stream_enqueue_read(s, a, 0, got, kSize), XHAL_OK);
  ocl_test_sync(s);
  ck_assert_int_eq(memcmp(got, model_a, kSize), 0);
  ck_assert_int_eq(xhal_stream_enqueue_read(s, b, 0, got, kSize), XHAL_OK);
  ocl_test_sync(s);
  for (i = 0; i < kSize; ++i)
    ck_assert_msg(got[i] == model_b[i], "b[%zu] = %u, want %u", i, got[i],
                  model_b[i]);
  ocl_assert_status(xhal_stream_enqueue_read(s, a, kSize - 3, got, 4),
                    XHAL_ERROR_OUT_OF_RANGE);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_stream_release(s);
}
END_TEST

/* Fills of 1, 2 and 4 byte patterns at aligned and unaligned buffer
 * offsets repeat the pattern from the fill's own offset. */
START_TEST(test_fill_patterns) {
  enum { kSize = 200 };
  static const uint8_t kPattern[4] = {0x11, 0x22, 0x33, 0x44};
  static const uint32_t kPatternSizes[] = {1, 2, 4};
  static const uint64_t kOffsets[] = {0, 1, 2, 3, 5, 8};
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_buffer_t b = ocl_test_buffer(g_dev, kSize, 0);
  uint8_t model[kSize];
  uint8_t got[kSize];
  size_t i;
  size_t j;
  for (i = 0; i < 3; ++i) {
    for (j = 0; j < sizeof(kOffsets) / sizeof(kOffsets[0]); ++j) {
      uint32_t ps = kPatternSizes[i];
      uint64_t off = kOffsets[j];
      uint64_t size = ps * (uint64_t)(17 + j);
      uint64_t k;
      memset(model, 0xEE, sizeof(model));
      ck_assert_int_eq(xhal_stream_enqueue_fill(s, b, 0, kSize, "\xEE", 1),
                       XHAL_OK);
      xhal_buffer_t view = NULL;
      /* libxhal wants the offset aligned to the pattern; a view that
       * starts at an odd byte still reaches the plugin unaligned. */
      ck_assert_int_eq(xhal_buffer_subrange(b, off, kSize - off, &view),
                       XHAL_OK);
      ck_assert_int_eq(xhal_stream_enqueue_fill(s, view, 0, size, kPattern, ps),
                       XHAL_OK);
      xhal_buffer_release(view);
      for (k = 0; k < size; ++k) model[off + k] = kPattern[k % ps];
      ck_assert_int_eq(xhal_stream_enqueue_read(s, b, 0, got, kSize), XHAL_OK);
      ocl_test_sync(s);
      for (k = 0; k < kSize; ++k)
        ck_assert_msg(got[k] == model[k],
                      "pattern %u at offset %llu: byte %llu = %02x, want %02x",
                      ps, (unsigned long long)off, (unsigned long long)k,
                      got[k], model[k]);
    }
  }
  ocl_assert_status(xhal_stream_enqueue_fill(s, b, 0, 6, kPattern, 4),
                    XHAL_ERROR_INVALID_ARGUMENT);
  xhal_buffer_release(b);
  xhal_stream_release(s);
}
END_TEST

/* ------------------------------------------------------- host functions */

/* A gate a host function blocks on until the test opens it. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
  atomic_int entered;
} gate_t;

static void gate_init(gate_t* g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->open = 0;
  atomic_init(&g->entered, 0);
}

static void gate_open(gate_t* g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static xhal_status_t gate_fn(void* user_data) {
  gate_t* g = user_data;
  atomic_store(&g->entered, 1);
  pthread_mutex_lock(&g->mu);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  return XHAL_OK;
}

static xhal_status_t fail_fn(void* user_data) {
  (void)user_data;
  return XHAL_ERROR_EXECUTION_FAILED;
}

/* Each step records the value the earlier read delivered. */
typedef struct order_log {
  int32_t host_value; /* written by enqueue_read */
  int32_t seen[4];
  atomic_int steps;
} order_log_t;

static xhal_status_t log_fn(void* user_data) {
  order_log_t* log = user_data;
  int step = atomic_fetch_add(&log->steps, 1);
  if (step < 4) log->seen[step] = log->host_value;
  return XHAL_OK;
}

/* Host functions run after the work before them and before the work
 * after them. */
START_TEST(test_host_func_order) {
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_buffer_t b = ocl_test_buffer(g_dev, 4, 0);
  order_log_t log;
  int32_t i;
  memset(&log, 0, sizeof(log));
  atomic_init(&log.steps, 0);
  for (i = 1; i <= 4; ++i) {
    ck_assert_int_eq(xhal_stream_enqueue_fill(s, b, 0, 4, &i, 4), XHAL_OK);
    ck_assert_int_eq(xhal_stream_enqueue_read(s, b, 0, &log.host_value, 4),
                     XHAL_OK);
    ck_assert_int_eq(xhal_stream_enqueue_host_func(s, log_fn, &log), XHAL_OK);
  }
  ocl_test_sync(s);
  ck_assert_int_eq(atomic_load(&log.steps), 4);
  for (i = 0; i < 4; ++i) ck_assert_int_eq(log.seen[i], i + 1);
  xhal_buffer_release(b);
  xhal_stream_release(s);
}
END_TEST

/* ---------------------------------------------------------------- events */

START_TEST(test_event_timeout) {
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_event_t e = ocl_test_event(g_dev);
  gate_t g;
  uint64_t t0;
  gate_init(&g);
  ocl_assert_status(xhal_event_wait(e, 0), XHAL_ERROR_INVALID_STATE);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(s, gate_fn, &g), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(s, e), XHAL_OK);
  ocl_assert_status(xhal_event_query(e), XHAL_ERROR_NOT_READY);
  ocl_assert_status(xhal_event_wait(e, 0), XHAL_ERROR_TIMEOUT);
  t0 = ocl_test_now_ns();
  ocl_assert_status(xhal_event_wait(e, 20000000), XHAL_ERROR_TIMEOUT);
  ck_assert_uint_ge(ocl_test_now_ns() - t0, 19000000);
  /* Repeated short waits on one recording stay cheap and correct. */
  for (int i = 0; i < 50; ++i)
    ocl_assert_status(xhal_event_wait(e, 1000), XHAL_ERROR_TIMEOUT);
  gate_open(&g);
  ck_assert_int_eq(xhal_event_wait(e, 5000000000ull), XHAL_OK);
  ck_assert_int_eq(xhal_event_query(e), XHAL_OK);
  ocl_test_sync(s);
  xhal_event_release(e);
  xhal_stream_release(s);
}
END_TEST

/* A waiter sleeping with a timeout wakes when the event completes, long
 * before the timeout. */
static void* open_later(void* arg) {
  ocl_test_sleep_ms(30);
  gate_open(arg);
  return NULL;
}

START_TEST(test_event_wakeup) {
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_event_t e = ocl_test_event(g_dev);
  pthread_t th;
  gate_t g;
  uint64_t t0;
  gate_init(&g);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(s, gate_fn, &g), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(s, e), XHAL_OK);
  ck_assert_int_eq(pthread_create(&th, NULL, open_later, &g), 0);
  t0 = ocl_test_now_ns();
  ck_assert_int_eq(xhal_event_wait(e, 10000000000ull), XHAL_OK);
  ck_assert_uint_lt(ocl_test_now_ns() - t0, 5000000000ull);
  pthread_join(th, NULL);
  ocl_test_sync(s);
  xhal_event_release(e);
  xhal_stream_release(s);
}
END_TEST

/* An event released while a timed wait's completion callback is still
 * pending: the callback must not touch freed memory (ASan checks). */
START_TEST(test_event_release_pending) {
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_event_t e = ocl_test_event(g_dev);
  gate_t g;
  gate_init(&g);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(s, gate_fn, &g), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(s, e), XHAL_OK);
  ocl_assert_status(xhal_event_wait(e, 1000000), XHAL_ERROR_TIMEOUT);
  /* Re-recording replaces the pending recording and its callback. */
  ck_assert_int_eq(xhal_stream_record_event(s, e), XHAL_OK);
  ocl_assert_status(xhal_event_wait(e, 1000000), XHAL_ERROR_TIMEOUT);
  xhal_event_release(e);
  gate_open(&g);
  ocl_test_sync(s);
  xhal_stream_release(s);
}
END_TEST

START_TEST(test_event_elapsed) {
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_event_t e0 = ocl_test_event(g_dev);
  xhal_event_t e1 = ocl_test_event(g_dev);
  xhal_buffer_t b = ocl_test_buffer(g_dev, 16u << 20, 0);
  uint64_t ns = 0;
  ck_assert_int_eq(xhal_stream_record_event(s, e0), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_fill(s, b, 0, 16u << 20, "\1", 1),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(s, e1), XHAL_OK);
  ck_assert_int_eq(xhal_event_wait(e1, XHAL_TIMEOUT_INFINITE), XHAL_OK);
  ck_assert_msg(xhal_event_elapsed(e0, e1, &ns) == XHAL_OK, "%s",
                xhal_last_error());
  ck_assert_uint_gt(ns, 0);
  ck_assert_uint_lt(ns, 10000000000ull);
  ocl_assert_status(xhal_event_elapsed(e1, e0, &ns),
                    XHAL_ERROR_INVALID_ARGUMENT);
  xhal_buffer_release(b);
  xhal_event_release(e0);
  xhal_event_release(e1);
  xhal_stream_release(s);
}
END_TEST

/* Stream B waits for an event of stream A: B's later work runs only
 * after A's work before the event. */
START_TEST(test_cross_stream_wait) {
  xhal_stream_t a = ocl_test_stream(g_dev);
  xhal_stream_t b = ocl_test_stream(g_dev);
  xhal_event_t ea = ocl_test_event(g_dev);
  xhal_event_t eb = ocl_test_event(g_dev);
  xhal_buffer_t buf = ocl_test_buffer(g_dev, 4, 0);
  int32_t v = 7;
  int32_t got = 0;
  gate_t g;
  gate_init(&g);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(a, gate_fn, &g), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_fill(a, buf, 0, 4, &v, 4), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(a, ea), XHAL_OK);
  ck_assert_int_eq(xhal_stream_wait_event(b, ea), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(b, buf, 0, &got, 4), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(b, eb), XHAL_OK);
  ocl_test_sleep_ms(20);
  ocl_assert_status(xhal_event_query(eb), XHAL_ERROR_NOT_READY);
  gate_open(&g);
  ck_assert_int_eq(xhal_event_wait(eb, 10000000000ull), XHAL_OK);
  ck_assert_int_eq(got, 7);
  /* Waiting on a completed event is immediate and harmless. */
  ck_assert_int_eq(xhal_stream_wait_event(b, ea), XHAL_OK);
  ocl_test_sync(b);
  ocl_test_sync(a);
  xhal_buffer_release(buf);
  xhal_event_release(ea);
  xhal_event_release(eb);
  xhal_stream_release(a);
  xhal_stream_release(b);
}
END_TEST

/* ---------------------------------------------------------------- failure */

/* A failing host function fails the stream: events after it report the
 * failure, events before it do not, later work is skipped and
 * synchronize reports it. */
START_TEST(test_host_func_failure) {
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_event_t before = ocl_test_event(g_dev);
  xhal_event_t after = ocl_test_event(g_dev);
  xhal_buffer_t b = ocl_test_buffer(g_dev, 4, 0);
  int32_t one = 1;
  int32_t two = 2;
  int32_t got = -1;
  ck_assert_int_eq(xhal_stream_enqueue_fill(s, b, 0, 4, &one, 4), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(s, before), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(s, fail_fn, NULL), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(s, after), XHAL_OK);
  ocl_assert_status(xhal_event_wait(after, 10000000000ull),
                    XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(xhal_event_wait(before, 10000000000ull), XHAL_OK);
  ocl_assert_status(xhal_stream_synchronize(s), XHAL_ERROR_EXECUTION_FAILED);
  /* Later work is skipped. */
  ck_assert_int_eq(xhal_stream_enqueue_fill(s, b, 0, 4, &two, 4), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(s, b, 0, &got, 4), XHAL_OK);
  ocl_assert_status(xhal_stream_synchronize(s), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(got, -1);
  xhal_buffer_release(b);
  xhal_event_release(before);
  xhal_event_release(after);
  xhal_stream_release(s);
}
END_TEST

static xhal_status_t slow_fail_fn(void* user_data) {
  struct timespec ts = {0, 50 * 1000000L};
  (void)user_data;
  nanosleep(&ts, NULL);
  return XHAL_ERROR_EXECUTION_FAILED;
}

/* Work enqueued behind a host function that then fails never runs
 * (R-STR-9), whether it is a transfer, a fill or an event record. */
START_TEST(test_host_func_failure_skips_queued) {
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_stream_t other = ocl_test_stream(g_dev);
  xhal_event_t after = ocl_test_event(g_dev);
  xhal_buffer_t b = ocl_test_buffer(g_dev, 8, 0);
  int32_t one[2] = {1, 1};
  int32_t two = 2;
  int32_t got[2] = {-1, -1};
  ck_assert_int_eq(xhal_stream_enqueue_write(s, b, 0, one, sizeof(one)),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(s, slow_fail_fn, NULL),
                   XHAL_OK);
  /* Enqueued while the function still sleeps. */
  ck_assert_int_eq(xhal_stream_enqueue_fill(s, b, 0, 4, &two, 4), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, b, 4, &two, 4), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(s, after), XHAL_OK);
  ocl_assert_status(xhal_stream_synchronize(s), XHAL_ERROR_EXECUTION_FAILED);
  ocl_assert_status(xhal_event_wait(after, 10000000000ull),
                    XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(xhal_stream_enqueue_read(other, b, 0, got, sizeof(got)),
                   XHAL_OK);
  ocl_test_sync(other);
  ck_assert_int_eq(got[0], 1);
  ck_assert_int_eq(got[1], 1);
  xhal_buffer_release(b);
  xhal_event_release(after);
  xhal_stream_release(other);
  xhal_stream_release(s);
}
END_TEST

/* A failure reaches another stream that waits on an event recorded
 * after it, also when the wait was enqueued before the failure. */
START_TEST(test_failure_crosses_streams) {
  xhal_stream_t a = ocl_test_stream(g_dev);
  xhal_stream_t b = ocl_test_stream(g_dev);
  xhal_stream_t c = ocl_test_stream(g_dev);
  xhal_event_t ea = ocl_test_event(g_dev);
  xhal_event_t eb = ocl_test_event(g_dev);
  xhal_event_t ec = ocl_test_event(g_dev);
  gate_t g;
  gate_init(&g);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(a, gate_fn, &g), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(a, fail_fn, NULL), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(a, ea), XHAL_OK);
  ck_assert_int_eq(xhal_stream_wait_event(b, ea), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(b, eb), XHAL_OK);
  gate_open(&g);
  ocl_assert_status(xhal_event_wait(eb, 10000000000ull),
                    XHAL_ERROR_EXECUTION_FAILED);
  ocl_assert_status(xhal_stream_synchronize(b), XHAL_ERROR_EXECUTION_FAILED);
  /* Waiting on the already-failed event fails the waiter at once. */
  ck_assert_int_eq(xhal_stream_wait_event(c, ea), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(c, ec), XHAL_OK);
  ocl_assert_status(xhal_event_wait(ec, 10000000000ull),
                    XHAL_ERROR_EXECUTION_FAILED);
  xhal_event_release(ea);
  xhal_event_release(eb);
  xhal_event_release(ec);
  xhal_stream_release(a);
  xhal_stream_release(b);
  xhal_stream_release(c);
}
END_TEST

/* Releasing a stream waits for its host functions. */
START_TEST(test_stream_release_waits) {
  xhal_stream_t s = ocl_test_stream(g_dev);
  pthread_t th;
  gate_t g;
  gate_init(&g);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(s, gate_fn, &g), XHAL_OK);
  ck_assert_int_eq(pthread_create(&th, NULL, open_later, &g), 0);
  xhal_stream_release(s);
  ck_assert_int_eq(atomic_load(&g.entered), 1);
  pthread_join(th, NULL);
}
END_TEST

/* ------------------------------------------------------------- threads */

typedef struct worker_arg {
  xhal_device_t dev;
  int32_t id;
  int ok;
} worker_arg_t;

static void* stream_worker(void* p) {
  worker_arg_t* w = p;
  xhal_stream_t s = NULL;
  xhal_buffer_t b = NULL;
  int32_t got[64];
  int i;
  w->ok = 0;
  if (xhal_stream_create(w->dev, &s) != XHAL_OK) return NULL;
  if (xhal_buffer_alloc(w->dev, sizeof(got), 0, &b) != XHAL_OK) return NULL;
  for (i = 0; i < 50; ++i) {
    int32_t v = w->id * 1000 + i;
    int j;
    if (xhal_stream_enqueue_fill(s, b, 0, sizeof(got), &v, 4) != XHAL_OK ||
        xhal_stream_enqueue_read(s, b, 0, got, sizeof(got)) != XHAL_OK ||
        xhal_stream_synchronize(s) != XHAL_OK)
      return NULL;
    for (j = 0; j < 64; ++j)
      if (got[j] != v) return NULL;
  }
  xhal_buffer_release(b);
  xhal_stream_release(s);
  w->ok = 1;
  return NULL;
}

START_TEST(test_threads_streams) {
  pthread_t th[4];
  worker_arg_t args[4];
  int i;
  for (i = 0; i < 4; ++i) {
    args[i].dev = g_dev;
    args[i].id = i;
    ck_assert_int_eq(pthread_create(&th[i], NULL, stream_worker, &args[i]), 0);
  }
  for (i = 0; i < 4; ++i) {
    pthread_join(th[i], NULL);
    ck_assert_msg(args[i].ok, "worker %d failed: %s", i, xhal_last_error());
  }
}
END_TEST

/* ------------------------------------------------------------ unloading */

/* One instance's life: a wait that sleeps until the OpenCL runtime's own
 * thread completes the marker and calls the plugin back, then the
 * instance goes away and unloads the plugin at once. */
static void wait_then_unload(void) {
  enum { kSize = 8 << 20 };
  xhal_instance_t inst = ocl_test_instance();
  xhal_device_t dev = ocl_test_device(inst);
  xhal_stream_t s = ocl_test_stream(dev);
  xhal_event_t e = ocl_test_event(dev);
  xhal_buffer_t a = ocl_test_buffer(dev, kSize, 0);
  xhal_buffer_t b = ocl_test_buffer(dev, kSize, 0);
  uint8_t* data = calloc(1, kSize);
  ck_assert_ptr_nonnull(data);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, a, 0, data, kSize), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_copy(s, a, 0, b, 0, kSize), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(s, e), XHAL_OK);
  ck_assert_msg(xhal_event_wait(e, 10000000000ull) == XHAL_OK, "%s",
                xhal_last_error());
  xhal_event_release(e);
  xhal_stream_release(s);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_instance_release(inst);
  free(data);
}

/* The runtime calls the plugin back on threads of its own, and OpenCL
 * cannot take a callback back or wait for one to return: the plugin
 * stays mapped after the last host unloads it. */
START_TEST(test_stays_mapped_after_unload) {
  void* handle;
  wait_then_unload();
  handle = dlopen(XHAL_OPENCL_PLUGIN_PATH, RTLD_NOW | RTLD_NOLOAD);
  ck_assert_msg(handle != NULL,
                "the plugin was unmapped when its last instance went away");
  dlclose(handle);
}
END_TEST

/* Unloading right after a wait the runtime's callback ended, many times:
 * a callback still returning into an unmapped plugin crashes the test. */
START_TEST(test_unload_after_callback_wait) {
  int i;
  for (i = 0; i < 40; ++i) wait_then_unload();
}
END_TEST

static Suite* runtime_suite(void) {
  Suite* s = suite_create("opencl_runtime");
  TCase* tc = tcase_create("runtime");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_properties);
  tcase_add_test(tc, test_properties_stable);
  tcase_add_test(tc, test_plugin_info);
  tcase_add_test(tc, test_alloc_limits);
  tcase_add_test(tc, test_map_roundtrip);
  tcase_add_test(tc, test_transfers_odd);
  tcase_add_test(tc, test_fill_patterns);
  tcase_add_test(tc, test_host_func_order);
  tcase_add_test(tc, test_event_timeout);
  tcase_add_test(tc, test_event_wakeup);
  tcase_add_test(tc, test_event_release_pending);
  tcase_add_test(tc, test_event_elapsed);
  tcase_add_test(tc, test_cross_stream_wait);
  tcase_add_test(tc, test_host_func_failure);
  tcase_add_test(tc, test_host_func_failure_skips_queued);
  tcase_add_test(tc, test_failure_crosses_streams);
  tcase_add_test(tc, test_stream_release_waits);
  tcase_add_test(tc, test_threads_streams);
  suite_add_tcase(s, tc);
  tc = tcase_create("unload");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_stays_mapped_after_unload);
  tcase_add_test(tc, test_unload_after_callback_wait);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(runtime_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
