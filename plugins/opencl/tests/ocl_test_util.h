/*
 * ocl_test_util.h - helpers of the OpenCL plugin's tests: an instance on
 * the plugin alone (environment ignored) and its first device, buffers,
 * streams and events that fail the test when they cannot be made.
 *
 * The tests run through libxhal's public API, as frameworks use the
 * plugin. CTest points XHAL_OPENCL_CACHE_DIR into the build tree so that
 * the program binaries one test process compiles serve the next.
 */
#ifndef XHAL_OCL_TEST_UTIL_H_
#define XHAL_OCL_TEST_UTIL_H_

#include <check.h>
#include <string.h>
#include <time.h>
#include <xhal/xhal.h>

static inline xhal_instance_t ocl_test_instance(void) {
  static const char* const kPaths[] = {XHAL_OPENCL_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_t inst = NULL;
  xhal_instance_options_default(&options);
  options.plugin_paths = kPaths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  ck_assert_msg(xhal_instance_create(&options, &inst) == XHAL_OK, "%s",
                xhal_last_error());
  return inst;
}

/* The first OpenCL device (PoCL's CPU device on the CI machines). */
static inline xhal_device_t ocl_test_device(xhal_instance_t inst) {
  uint32_t count = 0;
  xhal_device_t dev = NULL;
  ck_assert_int_eq(xhal_instance_device_count(inst, &count), XHAL_OK);
  ck_assert_msg(count >= 1, "no OpenCL device found");
  ck_assert_int_eq(xhal_instance_device(inst, 0, &dev), XHAL_OK);
  ck_assert_str_eq(xhal_device_plugin_name(dev), "opencl");
  return dev;
}

static inline xhal_stream_t ocl_test_stream(xhal_device_t dev) {
  xhal_stream_t s = NULL;
  ck_assert_msg(xhal_stream_create(dev, &s) == XHAL_OK, "%s",
                xhal_last_error());
  return s;
}

static inline xhal_event_t ocl_test_event(xhal_device_t dev) {
  xhal_event_t e = NULL;
  ck_assert_msg(xhal_event_create(dev, &e) == XHAL_OK, "%s", xhal_last_error());
  return e;
}

static inline xhal_buffer_t ocl_test_buffer(xhal_device_t dev, uint64_t size,
                                            uint32_t flags) {
  xhal_buffer_t b = NULL;
  ck_assert_msg(xhal_buffer_alloc(dev, size, flags, &b) == XHAL_OK, "%s",
                xhal_last_error());
  return b;
}

static inline void ocl_test_sync(xhal_stream_t s) {
  xhal_status_t st = xhal_stream_synchronize(s);
  ck_assert_msg(st == XHAL_OK, "synchronize: %s: %s", xhal_status_name(st),
                xhal_last_error());
}

/* Asserts `expr` returns `status`, naming both on failure. */
#define ocl_assert_status(expr, status)                                       \
  do {                                                                        \
    xhal_status_t st_ = (expr);                                               \
    ck_assert_msg(st_ == (status), "%s returned %s, expected %s (%s)", #expr, \
                  xhal_status_name(st_), xhal_status_name(status),            \
                  xhal_last_error());                                         \
  } while (0)

static inline uint64_t ocl_test_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void ocl_test_sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

#endif /* XHAL_OCL_TEST_UTIL_H_ */
