/*
 * failure_cause_test.c - an asynchronous failure reaches the caller with
 * its cause: xhal_stream_synchronize, xhal_event_wait and
 * xhal_event_query on failed work set a message that names what failed
 * (the command or operation), the device and the plugin, with the
 * plugin's own words, and keep the first failure's cause on later calls.
 * On the CPU plugin (a failing host function), the NPU plugin (a DMA
 * fault injected from its config, and a stream that waited on it) and
 * the OpenCL plugin (a failing host function).
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xhal/xhal.h>

#include "test_util.h"

static xhal_status_t fail_fn(void* user_data) {
  (void)user_data;
  return XHAL_ERROR_EXECUTION_FAILED;
}

/* Asserts the thread's message names every needle. */
static void expect_message(const char* what, const char* const* needles,
                           unsigned count) {
  const char* msg = xhal_last_error();
  for (unsigned i = 0; i < count; ++i) {
    ck_assert_msg(strstr(msg, needles[i]) != NULL,
                  "%s: message '%s' does not name '%s'", what, msg, needles[i]);
  }
}

static xhal_device_t first_device(xhal_instance_t instance,
                                  xhal_device_properties_t* props) {
  xhal_device_t device = NULL;
  ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
  props->struct_size = sizeof(*props);
  ck_assert_int_eq(xhal_device_properties(device, props), XHAL_OK);
  return device;
}

/* A host function fails on `plugin_path`'s first device: the stream,
 * an event recorded behind it and a second synchronize all report the
 * host function, the device, the plugin and the plugin's message. */
static void host_func_failure_on(const char* plugin_path,
                                 const char* plugin_name) {
  const char* paths[] = {plugin_path};
  xhal_instance_t instance = test_instance_on(paths, 1);
  xhal_device_properties_t props;
  xhal_device_t device = first_device(instance, &props);
  xhal_stream_t stream = NULL;
  xhal_event_t event = NULL;
  xhal_buffer_t buffer = NULL;
  uint32_t v = 7;
  ck_assert_int_eq(xhal_stream_create(device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(device, &event), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, buffer, 0, &v, 4),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(stream, fail_fn, NULL),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, buffer, 4, &v, 4),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(stream, event), XHAL_OK);

  char plugin[64];
  snprintf(plugin, sizeof(plugin), "plugin '%s'", plugin_name);
  char prefix[64];
  snprintf(prefix, sizeof(prefix), "%s: host function", plugin_name);
  const char* needles[] = {"XHAL_ERROR_EXECUTION_FAILED", props.name, plugin,
                           prefix, "returned status 14"};
  ck_assert_int_eq(xhal_stream_synchronize(stream),
                   XHAL_ERROR_EXECUTION_FAILED);
  expect_message("xhal_stream_synchronize", needles, 5);
  char first[1024];
  snprintf(first, sizeof(first), "%s", xhal_last_error());

  ck_assert_int_eq(xhal_event_wait(event, XHAL_TIMEOUT_INFINITE),
                   XHAL_ERROR_EXECUTION_FAILED);
  expect_message("xhal_event_wait", needles, 5);
  ck_assert_int_eq(xhal_event_query(event), XHAL_ERROR_EXECUTION_FAILED);
  expect_message("xhal_event_query", needles, 5);

  /* The failure stays, with its first cause. */
  ck_assert_int_eq(xhal_stream_synchronize(stream),
                   XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_str_eq(xhal_last_error(), first);

  xhal_buffer_release(buffer);
  xhal_event_release(event);
  xhal_stream_release(stream);
  xhal_instance_release(instance);
}

START_TEST(cpu_host_function_failure_keeps_its_cause) {
  host_func_failure_on(XHAL_CPU_PLUGIN_PATH, "cpu");
}
END_TEST

#ifdef XHAL_OPENCL_PLUGIN_PATH
START_TEST(opencl_host_function_failure_keeps_its_cause) {
  host_func_failure_on(XHAL_OPENCL_PLUGIN_PATH, "opencl");
}
END_TEST
#endif

#ifdef XHAL_NPU_PLUGIN_PATH
/* The NPU's second DMA faults (fault.dma_error_at = 2): the stream and
 * its event name the faulting DMA command, the fault, the device and the
 * plugin; a stream that waited on the event names the stream it waited
 * on and the same cause. */
START_TEST(npu_injected_dma_fault_keeps_its_cause) {
  char path[] = "/tmp/xhal_failure_cause_XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ne(fd, -1);
  FILE* f = fdopen(fd, "w");
  ck_assert_ptr_nonnull(f);
  fputs("fault.dma_error_at = 2\n", f);
  fclose(f);
  ck_assert_int_eq(setenv("XHAL_NPU_CONFIG", path, 1), 0);
  /* The plugin reads XHAL_NPU_CONFIG itself when it starts. */
  const char* paths[] = {XHAL_NPU_PLUGIN_PATH};
  xhal_instance_t instance = test_instance_on(paths, 1);
  xhal_device_properties_t props;
  xhal_device_t device = first_device(instance, &props);
  xhal_stream_t stream = NULL, waiter = NULL;
  xhal_event_t event = NULL, waited = NULL;
  xhal_buffer_t buffer = NULL;
  uint32_t v = 7;
  ck_assert_int_eq(xhal_stream_create(device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(device, &waiter), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(device, &event), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(device, &waited), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, buffer, 0, &v, 4),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, buffer, 4, &v, 4),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(stream, event), XHAL_OK);
  ck_assert_int_eq(xhal_stream_wait_event(waiter, event), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(waiter, waited), XHAL_OK);

  const char* needles[] = {"XHAL_ERROR_EXECUTION_FAILED", props.name,
                           "plugin 'npu'", "npu: DMA command",
                           "faulted: error 6 (DMA fault)"};
  ck_assert_int_eq(xhal_stream_synchronize(stream),
                   XHAL_ERROR_EXECUTION_FAILED);
  expect_message("xhal_stream_synchronize", needles, 5);
  ck_assert_int_eq(xhal_event_wait(event, XHAL_TIMEOUT_INFINITE),
                   XHAL_ERROR_EXECUTION_FAILED);
  expect_message("xhal_event_wait", needles, 5);

  const char* waiter_needles[] = {props.name, "plugin 'npu'",
                                  "waited on stream", "DMA command",
                                  "DMA fault"};
  ck_assert_int_eq(xhal_stream_synchronize(waiter),
                   XHAL_ERROR_EXECUTION_FAILED);
  expect_message("waiting stream's synchronize", waiter_needles, 5);
  ck_assert_int_eq(xhal_event_wait(waited, XHAL_TIMEOUT_INFINITE),
                   XHAL_ERROR_EXECUTION_FAILED);
  expect_message("waiting stream's event", waiter_needles, 5);

  xhal_buffer_release(buffer);
  xhal_event_release(waited);
  xhal_event_release(event);
  xhal_stream_release(waiter);
  xhal_stream_release(stream);
  xhal_instance_release(instance);
  unlink(path);
}
END_TEST
#endif

int main(void) {
  Suite* s = suite_create("failure_cause");
  TCase* tc = tcase_create("async");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, cpu_host_function_failure_keeps_its_cause);
#ifdef XHAL_OPENCL_PLUGIN_PATH
  tcase_add_test(tc, opencl_host_function_failure_keeps_its_cause);
#endif
#ifdef XHAL_NPU_PLUGIN_PATH
  tcase_add_test(tc, npu_injected_dma_fault_keeps_its_cause);
#endif
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
