/*
 * test_util.h - helpers for libxhal's unit tests: an instance on exactly
 * the plugins a test names, and the CPU device.
 */
#ifndef XHAL_HAL_TEST_UTIL_H_
#define XHAL_HAL_TEST_UTIL_H_

#include <check.h>
#include <string.h>
#include <xhal/xhal.h>

/* An instance on the given plugin files only (environment ignored). */
static inline xhal_instance_t test_instance_on(const char* const* paths,
                                               uint32_t count) {
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = count;
  options.ignore_environment = 1;
  xhal_instance_t instance = NULL;
  xhal_status_t status = xhal_instance_create(&options, &instance);
  ck_assert_msg(status == XHAL_OK, "instance: %s", xhal_last_error());
  return instance;
}

/* An instance on the CPU plugin, and its device. */
static inline xhal_instance_t test_cpu_instance(xhal_device_t* out_device) {
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_t instance = test_instance_on(paths, 1);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_device_count(instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1);
  ck_assert_int_eq(xhal_instance_device(instance, 0, out_device), XHAL_OK);
  return instance;
}

/* Asserts `expr` returns `status` and the message mentions `needle`. */
#define ck_assert_status_msg(expr, status, needle)                            \
  do {                                                                        \
    xhal_status_t st_ = (expr);                                               \
    ck_assert_msg(st_ == (status), "%s returned %s, expected %s (%s)", #expr, \
                  xhal_status_name(st_), xhal_status_name(status),            \
                  xhal_last_error());                                         \
    ck_assert_msg(strstr(xhal_last_error(), (needle)) != NULL,                \
                  "message '%s' lacks '%s'", xhal_last_error(), (needle));    \
  } while (0)

#endif /* XHAL_HAL_TEST_UTIL_H_ */
