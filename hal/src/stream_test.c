/*
 * stream_test.c - streams through the CPU plugin: transfers at odd sizes
 * and offsets (every byte checked, nothing outside the range touched),
 * ordering, fills, host functions, failure, and copies across plugins.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static xhal_instance_t g_instance;
static xhal_device_t g_device;
static xhal_stream_t g_stream;

static void setup(void) {
  g_instance = test_cpu_instance(&g_device);
  ck_assert_int_eq(xhal_stream_create(g_device, &g_stream), XHAL_OK);
}
static void teardown(void) {
  xhal_stream_release(g_stream);
  xhal_instance_release(g_instance);
}

static uint8_t pattern_byte(uint64_t i) { return (uint8_t)(i * 131u + 7u); }

START_TEST(test_write_read_odd_ranges) {
  enum { kSize = 4099 };
  static const uint64_t offsets[] = {0, 1, 3, 63, 64, 1025};
  static const uint64_t sizes[] = {1, 2, 7, 255, 1000, 3000};
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, kSize, 0, &buffer), XHAL_OK);
  uint8_t* src = malloc(kSize);
  uint8_t* back = malloc(kSize);
  for (size_t o = 0; o < sizeof(offsets) / sizeof(offsets[0]); ++o) {
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); ++s) {
      uint64_t off = offsets[o], n = sizes[s];
      if (off + n > kSize) continue;
      uint8_t zero = 0xEE;
      ck_assert_int_eq(
          xhal_stream_enqueue_fill(g_stream, buffer, 0, kSize, &zero, 1),
          XHAL_OK);
      for (uint64_t i = 0; i < n; ++i) src[i] = pattern_byte(i + off);
      ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, buffer, off, src, n),
                       XHAL_OK);
      ck_assert_int_eq(
          xhal_stream_enqueue_read(g_stream, buffer, 0, back, kSize), XHAL_OK);
      ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
      for (uint64_t i = 0; i < kSize; ++i) {
        uint8_t want = (i >= off && i < off + n) ? pattern_byte(i) : 0xEE;
        ck_assert_msg(back[i] == want, "off %llu size %llu: byte %llu",
                      (unsigned long long)off, (unsigned long long)n,
                      (unsigned long long)i);
      }
    }
  }
  free(src);
  free(back);
  xhal_buffer_release(buffer);
}
END_TEST

START_TEST(test_range_errors) {
  xhal_buffer_t buffer, other;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 100, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 100, 0, &other), XHAL_OK);
  uint8_t data[128] = {0};
  ck_assert_status_msg(
      xhal_stream_enqueue_write(g_stream, buffer, 90, data, 11),
      XHAL_ERROR_OUT_OF_RANGE, "past the buffer");
  ck_assert_status_msg(
      xhal_stream_enqueue_read(g_stream, buffer, UINT64_MAX - 2, data, 8),
      XHAL_ERROR_OUT_OF_RANGE, "past the buffer");
  ck_assert_status_msg(
      xhal_stream_enqueue_copy(g_stream, buffer, 0, other, 50, 51),
      XHAL_ERROR_OUT_OF_RANGE, "dst");
  ck_assert_status_msg(xhal_stream_enqueue_write(g_stream, buffer, 0, NULL, 4),
                       XHAL_ERROR_INVALID_ARGUMENT, "src is NULL");
  uint32_t pat = 1;
  ck_assert_status_msg(
      xhal_stream_enqueue_fill(g_stream, buffer, 0, 8, &pat, 3),
      XHAL_ERROR_INVALID_ARGUMENT, "pattern_size 3");
  ck_assert_status_msg(
      xhal_stream_enqueue_fill(g_stream, buffer, 2, 8, &pat, 4),
      XHAL_ERROR_INVALID_ARGUMENT, "multiples of pattern_size");
  /* Nothing above touched the buffer. */
  uint8_t back[100];
  memset(data, 0x11, 100);
  ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, buffer, 0, data, 100),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, buffer, 0, back, 100),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  for (int i = 0; i < 100; ++i) ck_assert_uint_eq(back[i], 0x11);
  /* Zero-size transfers are valid no-ops. */
  ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, buffer, 100, data, 0),
                   XHAL_OK);
  xhal_buffer_release(buffer);
  xhal_buffer_release(other);
}
END_TEST

START_TEST(test_fill_patterns) {
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &buffer), XHAL_OK);
  uint8_t zero = 0;
  uint16_t p16 = 0xBEEF;
  uint32_t p32 = 0x01020304;
  ck_assert_int_eq(xhal_stream_enqueue_fill(g_stream, buffer, 0, 64, &zero, 1),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_fill(g_stream, buffer, 2, 6, &p16, 2),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_fill(g_stream, buffer, 12, 8, &p32, 4),
                   XHAL_OK);
  uint8_t back[64];
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, buffer, 0, back, 64),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_uint_eq(back[0], 0);
  ck_assert_uint_eq(back[1], 0);
  for (int i = 2; i < 8; i += 2) {
    uint16_t v;
    memcpy(&v, back + i, 2);
    ck_assert_uint_eq(v, 0xBEEF);
  }
  ck_assert_uint_eq(back[8], 0);
  for (int i = 12; i < 20; i += 4) {
    uint32_t v;
    memcpy(&v, back + i, 4);
    ck_assert_uint_eq(v, 0x01020304);
  }
  ck_assert_uint_eq(back[20], 0);
  xhal_buffer_release(buffer);
}
END_TEST

typedef struct order_log {
  atomic_int next;
  int seen[64];
} order_log_t;

typedef struct order_step {
  order_log_t* log;
  int id;
} order_step_t;

static xhal_status_t record_step(void* user_data) {
  order_step_t* step = user_data;
  int at = atomic_fetch_add(&step->log->next, 1);
  if (at < 64) step->log->seen[at] = step->id;
  return XHAL_OK;
}

START_TEST(test_ordering_mixed_work) {
  /* Copies, fills and host functions run in enqueue order. */
  enum { kCount = 32 };
  xhal_buffer_t a, b;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 4 * kCount, 0, &a), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 4 * kCount, 0, &b), XHAL_OK);
  order_log_t log = {0};
  order_step_t steps[kCount];
  uint32_t values[kCount];
  for (int i = 0; i < kCount; ++i) {
    values[i] = (uint32_t)i * 3u;
    steps[i].log = &log;
    steps[i].id = i;
    ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, a, 0, &values[i], 4),
                     XHAL_OK);
    ck_assert_int_eq(
        xhal_stream_enqueue_copy(g_stream, a, 0, b, 4u * (uint64_t)i, 4),
        XHAL_OK);
    ck_assert_int_eq(
        xhal_stream_enqueue_host_func(g_stream, record_step, &steps[i]),
        XHAL_OK);
  }
  uint32_t back[kCount];
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, b, 0, back, sizeof(back)),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_int_eq(atomic_load(&log.next), kCount);
  for (int i = 0; i < kCount; ++i) {
    ck_assert_int_eq(log.seen[i], i);
    ck_assert_uint_eq(back[i], (uint32_t)i * 3u);
  }
  xhal_buffer_release(a);
  xhal_buffer_release(b);
}
END_TEST

static xhal_status_t fail_func(void* user_data) {
  (void)user_data;
  return XHAL_ERROR_EXECUTION_FAILED;
}

START_TEST(test_failed_stream_stays_failed) {
  order_log_t log = {0};
  order_step_t step = {&log, 1};
  ck_assert_int_eq(xhal_stream_enqueue_host_func(g_stream, fail_func, NULL),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(g_stream, record_step, &step),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream),
                   XHAL_ERROR_EXECUTION_FAILED);
  /* Later work is skipped, not run. */
  ck_assert_int_eq(atomic_load(&log.next), 0);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream),
                   XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_status_msg(xhal_stream_enqueue_host_func(g_stream, NULL, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "fn is NULL");
}
END_TEST

/* XHAL_STREAM_NO_TIMING on the CPU plugin, which does not claim
 * XHAL_CAP_STREAM_NO_TIMING: libxhal keeps the flag to itself (the plugin
 * rejects every flag bit), the stream works, and elapsed time on its
 * events is refused by libxhal although the device has timers. */
START_TEST(test_create_with_flags) {
  xhal_device_properties_t props;
  ck_assert_int_eq(xhal_device_properties(g_device, &props), XHAL_OK);
  ck_assert(props.capabilities & XHAL_CAP_PROFILING);
  ck_assert(!(props.capabilities & XHAL_CAP_STREAM_NO_TIMING));
  xhal_stream_t stream = NULL;
  ck_assert_status_msg(
      xhal_stream_create_with_flags(g_device, 1u << 7, &stream),
      XHAL_ERROR_INVALID_ARGUMENT, "unknown bits 0x80");
  ck_assert_ptr_null(stream);
  ck_assert_status_msg(
      xhal_stream_create_with_flags(g_device, XHAL_STREAM_NO_TIMING, NULL),
      XHAL_ERROR_INVALID_ARGUMENT, "out_stream is NULL");
  ck_assert_status_msg(xhal_stream_create_with_flags(NULL, 0, &stream),
                       XHAL_ERROR_INVALID_HANDLE, "device");
  ck_assert_int_eq(
      xhal_stream_create_with_flags(g_device, XHAL_STREAM_NO_TIMING, &stream),
      XHAL_OK);
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 256, 0, &buffer), XHAL_OK);
  uint8_t src[256], back[256];
  for (int i = 0; i < 256; ++i) src[i] = pattern_byte((uint64_t)i);
  xhal_event_t start, end, timed_start, timed_end;
  ck_assert_int_eq(xhal_event_create(g_device, &start), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &end), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &timed_start), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &timed_end), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(stream, start), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, buffer, 0, src, 256),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(stream, buffer, 0, back, 256),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(stream, end), XHAL_OK);
  ck_assert_int_eq(xhal_event_wait(end, UINT64_MAX), XHAL_OK);
  ck_assert_mem_eq(back, src, 256);
  uint64_t ns = 0;
  ck_assert_status_msg(xhal_event_elapsed(start, end, &ns),
                       XHAL_ERROR_UNSUPPORTED, "XHAL_STREAM_NO_TIMING");
  /* Mixed: one end on a timed stream is still refused. */
  ck_assert_int_eq(xhal_stream_record_event(g_stream, timed_start), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_status_msg(xhal_event_elapsed(timed_start, end, &ns),
                       XHAL_ERROR_UNSUPPORTED, "end was recorded");
  /* Recorded again on a timed stream, the event has timestamps again. */
  ck_assert_int_eq(xhal_stream_record_event(g_stream, start), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(g_stream, timed_end), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_elapsed(start, timed_end, &ns), XHAL_OK);
  xhal_event_release(start);
  xhal_event_release(end);
  xhal_event_release(timed_start);
  xhal_event_release(timed_end);
  xhal_buffer_release(buffer);
  xhal_stream_release(stream);
}
END_TEST

START_TEST(test_many_streams) {
  enum { kStreams = 16 };
  xhal_stream_t streams[kStreams];
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 4 * kStreams, 0, &buffer),
                   XHAL_OK);
  uint32_t values[kStreams];
  for (int i = 0; i < kStreams; ++i) {
    values[i] = 1000u + (uint32_t)i;
    ck_assert_int_eq(xhal_stream_create(g_device, &streams[i]), XHAL_OK);
    ck_assert_int_eq(xhal_stream_enqueue_write(streams[i], buffer,
                                               4u * (uint64_t)i, &values[i], 4),
                     XHAL_OK);
    ck_assert_int_eq(xhal_stream_flush(streams[i]), XHAL_OK);
  }
  for (int i = 0; i < kStreams; ++i) {
    ck_assert_int_eq(xhal_stream_synchronize(streams[i]), XHAL_OK);
  }
  uint32_t back[kStreams];
  ck_assert_int_eq(
      xhal_stream_enqueue_read(g_stream, buffer, 0, back, sizeof(back)),
      XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  for (int i = 0; i < kStreams; ++i) {
    ck_assert_uint_eq(back[i], 1000u + (uint32_t)i);
    xhal_stream_release(streams[i]);
  }
  xhal_buffer_release(buffer);
}
END_TEST

START_TEST(test_cross_plugin_copy_staged) {
  /* Two CPU-plugin instances are two plugins to each other: a copy
   * between them must stage through the host and land every byte. */
  xhal_device_t other_device;
  xhal_instance_t other = test_cpu_instance(&other_device);
  enum { kSize = 3001 };
  xhal_buffer_t src, dst;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, kSize, 0, &src), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(other_device, kSize, 0, &dst), XHAL_OK);
  uint8_t* data = malloc(kSize);
  uint8_t* back = calloc(1, kSize);
  for (int i = 0; i < kSize; ++i) data[i] = pattern_byte((uint64_t)i);
  ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, src, 0, data, kSize),
                   XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_copy(g_stream, src, 1, dst, 3, kSize - 5), XHAL_OK);
  xhal_stream_t other_stream;
  ck_assert_int_eq(xhal_stream_create(other_device, &other_stream), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(other_stream, dst, 0, back, kSize),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(other_stream), XHAL_OK);
  for (int i = 3; i < kSize - 2; ++i) {
    ck_assert_uint_eq(back[i], data[i - 2]);
  }
  xhal_stream_release(other_stream);
  xhal_buffer_release(src);
  xhal_buffer_release(dst);
  xhal_instance_release(other);
  free(data);
  free(back);
}
END_TEST

/* A copy where neither buffer lives on the stream's device works, in the
 * stream's order: on one foreign device (its own copy engine) and across
 * two foreign plugins (staged through the host), after an event wait that
 * orders the source's producer before it. */
START_TEST(test_third_party_copy) {
  xhal_device_t dev_b, dev_c;
  xhal_instance_t inst_b = test_cpu_instance(&dev_b);
  xhal_instance_t inst_c = test_cpu_instance(&dev_c);
  enum { kSize = 4099 };
  xhal_buffer_t b1, b2, c1;
  ck_assert_int_eq(xhal_buffer_alloc(dev_b, kSize, 0, &b1), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(dev_b, kSize, 0, &b2), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(dev_c, kSize, 0, &c1), XHAL_OK);
  uint8_t* data = malloc(kSize);
  uint8_t* back = calloc(1, kSize);
  for (int i = 0; i < kSize; ++i) data[i] = pattern_byte((uint64_t)i * 7u);
  xhal_stream_t sb, sc;
  ck_assert_int_eq(xhal_stream_create(dev_b, &sb), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(dev_c, &sc), XHAL_OK);
  uint8_t zero = 0;
  ck_assert_int_eq(xhal_stream_enqueue_fill(sb, b2, 0, kSize, &zero, 1),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_fill(sc, c1, 0, kSize, &zero, 1),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(sc), XHAL_OK);
  /* The producer of b1 runs on sb; g_stream waits for it. */
  xhal_event_t written;
  ck_assert_int_eq(xhal_event_create(dev_b, &written), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(sb, b1, 0, data, kSize), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(sb, written), XHAL_OK);
  ck_assert_int_eq(xhal_stream_wait_event(g_stream, written), XHAL_OK);
  /* b1 -> b2 on device B, then b2 -> c1 across B and C, both enqueued on
   * a stream of device A. */
  ck_assert_int_eq(xhal_stream_enqueue_copy(g_stream, b1, 1, b2, 2, kSize - 3),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_copy(g_stream, b2, 0, c1, 0, kSize),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(sc, c1, 0, back, kSize), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(sc), XHAL_OK);
  ck_assert_uint_eq(back[0], 0);
  ck_assert_uint_eq(back[1], 0);
  for (int i = 2; i < kSize - 1; ++i) ck_assert_uint_eq(back[i], data[i - 1]);
  ck_assert_uint_eq(back[kSize - 1], 0);
  /* Ranges are still checked on both sides. */
  ck_assert_status_msg(xhal_stream_enqueue_copy(g_stream, b1, 1, c1, 0, kSize),
                       XHAL_ERROR_OUT_OF_RANGE, "src");
  xhal_event_release(written);
  xhal_stream_release(sb);
  xhal_stream_release(sc);
  xhal_buffer_release(b1);
  xhal_buffer_release(b2);
  xhal_buffer_release(c1);
  xhal_instance_release(inst_b);
  xhal_instance_release(inst_c);
  free(data);
  free(back);
}
END_TEST

/* A transfer of 0 bytes is valid and does nothing: write, read, copy
 * (also across plugins and as a third-party copy) and fill return XHAL_OK
 * for any offset up to the buffer's size, touch no byte, and still have
 * their arguments checked. */
START_TEST(test_zero_size_transfers) {
  enum { kSize = 64 };
  xhal_buffer_t a, b;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, kSize, 0, &a), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, kSize, 0, &b), XHAL_OK);
  uint8_t init[kSize];
  for (int i = 0; i < kSize; ++i) init[i] = pattern_byte((uint64_t)i);
  ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, a, 0, init, kSize),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, b, 0, init, kSize),
                   XHAL_OK);
  uint8_t host[4] = {9, 9, 9, 9};
  uint32_t pattern = 0xdeadbeefu;
  for (uint64_t off = 0; off <= kSize; off += kSize / 2) {
    ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, a, off, host, 0),
                     XHAL_OK);
    ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, a, off, host, 0),
                     XHAL_OK);
    ck_assert_int_eq(xhal_stream_enqueue_copy(g_stream, a, off, b, 0, 0),
                     XHAL_OK);
    ck_assert_int_eq(xhal_stream_enqueue_fill(g_stream, b, off, 0, &pattern, 4),
                     XHAL_OK);
  }
  /* Across plugins, and with neither buffer on the stream's device. */
  xhal_device_t other_device;
  xhal_instance_t other = test_cpu_instance(&other_device);
  xhal_buffer_t far1, far2;
  ck_assert_int_eq(xhal_buffer_alloc(other_device, 8, 0, &far1), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(other_device, 8, 0, &far2), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_copy(g_stream, a, kSize, far1, 8, 0),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_copy(g_stream, far1, 0, far2, 8, 0),
                   XHAL_OK);
  /* Still checked: an offset past the end, NULL host memory, a NULL
   * buffer, a fill pattern size, a misaligned fill offset. */
  ck_assert_status_msg(
      xhal_stream_enqueue_write(g_stream, a, kSize + 1, host, 0),
      XHAL_ERROR_OUT_OF_RANGE, "dst");
  ck_assert_status_msg(
      xhal_stream_enqueue_read(g_stream, a, kSize + 1, host, 0),
      XHAL_ERROR_OUT_OF_RANGE, "src");
  ck_assert_status_msg(
      xhal_stream_enqueue_copy(g_stream, a, 0, b, kSize + 1, 0),
      XHAL_ERROR_OUT_OF_RANGE, "dst");
  ck_assert_status_msg(xhal_stream_enqueue_copy(g_stream, far1, 9, far2, 0, 0),
                       XHAL_ERROR_OUT_OF_RANGE, "src");
  ck_assert_status_msg(xhal_stream_enqueue_write(g_stream, a, 0, NULL, 0),
                       XHAL_ERROR_INVALID_ARGUMENT, "src is NULL");
  ck_assert_status_msg(xhal_stream_enqueue_read(g_stream, a, 0, NULL, 0),
                       XHAL_ERROR_INVALID_ARGUMENT, "dst is NULL");
  ck_assert_status_msg(xhal_stream_enqueue_copy(g_stream, a, 0, NULL, 0, 0),
                       XHAL_ERROR_INVALID_HANDLE, "dst");
  ck_assert_status_msg(xhal_stream_enqueue_fill(g_stream, b, 0, 0, &pattern, 3),
                       XHAL_ERROR_INVALID_ARGUMENT, "pattern_size 3");
  ck_assert_status_msg(xhal_stream_enqueue_fill(g_stream, b, 2, 0, &pattern, 4),
                       XHAL_ERROR_INVALID_ARGUMENT, "multiples");
  /* Nothing was touched. */
  uint8_t back_a[kSize], back_b[kSize];
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, a, 0, back_a, kSize),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, b, 0, back_b, kSize),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_int_eq(memcmp(back_a, init, kSize), 0);
  ck_assert_int_eq(memcmp(back_b, init, kSize), 0);
  ck_assert_uint_eq(host[0], 9);
  xhal_buffer_release(far1);
  xhal_buffer_release(far2);
  xhal_instance_release(other);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
}
END_TEST

int main(void) {
  Suite* s = suite_create("stream");
  TCase* tc = tcase_create("stream");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_write_read_odd_ranges);
  tcase_add_test(tc, test_range_errors);
  tcase_add_test(tc, test_fill_patterns);
  tcase_add_test(tc, test_ordering_mixed_work);
  tcase_add_test(tc, test_failed_stream_stays_failed);
  tcase_add_test(tc, test_many_streams);
  tcase_add_test(tc, test_create_with_flags);
  tcase_add_test(tc, test_cross_plugin_copy_staged);
  tcase_add_test(tc, test_third_party_copy);
  tcase_add_test(tc, test_zero_size_transfers);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
