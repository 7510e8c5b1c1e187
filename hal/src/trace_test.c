/*
 * trace_test.c - XHAL_TRACE output: a workload on three streams writes a
 * Chrome trace that cmake/check_trace.py validates (JSON, nesting, one
 * track per stream, API calls and operations present); an unwritable
 * options.trace_file is an error, an unwritable XHAL_TRACE a warning, and
 * neither blocks on a FIFO.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_stderr.h"
#include "test_util.h"

static xhal_status_t nop(void* user_data) {
  (void)user_data;
  return XHAL_OK;
}

START_TEST(test_unwritable_trace_file) {
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  options.trace_file = "/nonexistent-dir/trace.json";
  xhal_instance_t instance;
  ck_assert_status_msg(xhal_instance_create(&options, &instance),
                       XHAL_ERROR_INVALID_ARGUMENT, "cannot open trace file");
}
END_TEST

/* An instance on the CPU plugin with XHAL_TRACE=`value`; returns what it
 * wrote to stderr. */
static char* create_with_env_trace(const char* value) {
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  unsetenv("XHAL_PLUGINS");
  unsetenv("XHAL_LOG");
  setenv("XHAL_TRACE", value, 1);
  char log[64];
  int saved = test_stderr_begin(log, sizeof(log));
  xhal_instance_t instance = NULL;
  xhal_status_t status = xhal_instance_create(&options, &instance);
  char* text = test_stderr_end(saved, log);
  unsetenv("XHAL_TRACE");
  ck_assert_msg(status == XHAL_OK, "create: %s", xhal_last_error());
  /* The instance works, without a trace. */
  xhal_device_t device;
  ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  xhal_buffer_release(buffer);
  xhal_instance_release(instance);
  return text;
}

/* Regression: an unopenable XHAL_TRACE made xhal_instance_create fail. A
 * diagnostics variable warns and the program carries on. */
START_TEST(test_env_trace_unopenable_warns) {
  char* text = create_with_env_trace("/nonexistent-dir/trace.json");
  ck_assert_msg(strstr(text, "xhal [warn] XHAL_TRACE") &&
                    strstr(text, "/nonexistent-dir/trace.json") &&
                    strstr(text, "No such file or directory") &&
                    strstr(text, "tracing is off"),
                "stderr: '%s'", text);
  free(text);
}
END_TEST

/* Regression: XHAL_TRACE naming a FIFO nobody reads blocked
 * xhal_instance_create forever in fopen. */
START_TEST(test_env_trace_fifo_warns) {
  char dir[] = "/tmp/xhal-tfifo-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char fifo[128];
  snprintf(fifo, sizeof(fifo), "%s/trace.json", dir);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  char* text = create_with_env_trace(fifo);
  ck_assert_msg(
      strstr(text, "xhal [warn] XHAL_TRACE") && strstr(text, "tracing is off"),
      "stderr: '%s'", text);
  free(text);
  /* Named by the program, the same file is an error, not a hang. */
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  options.trace_file = fifo;
  xhal_instance_t instance;
  ck_assert_status_msg(xhal_instance_create(&options, &instance),
                       XHAL_ERROR_INVALID_ARGUMENT, "cannot open trace file");
  unlink(fifo);
  rmdir(dir);
}
END_TEST

START_TEST(test_three_stream_trace_validates) {
  char path[] = "/tmp/xhal-trace-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  close(fd);
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  options.trace_file = path;
  xhal_instance_t instance;
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  xhal_device_t device;
  ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
  xhal_stream_t streams[3];
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(device, 1024, 0, &buffer), XHAL_OK);
  float data[64] = {0};
  for (int i = 0; i < 3; ++i) {
    ck_assert_int_eq(xhal_stream_create(device, &streams[i]), XHAL_OK);
  }
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 3; ++i) {
      ck_assert_int_eq(xhal_stream_enqueue_write(streams[i], buffer,
                                                 256u * (uint64_t)i, data, 256),
                       XHAL_OK);
      xhal_op_call_t relu;
      xhal_op_call_init(&relu, XHAL_OP_RELU);
      relu.num_inputs = 1;
      relu.inputs[0].desc.dtype = XHAL_DTYPE_F32;
      relu.inputs[0].desc.rank = 1;
      relu.inputs[0].desc.dims[0] = 32;
      relu.inputs[0].buffer = buffer;
      relu.inputs[0].offset = 256u * (uint64_t)i;
      relu.outputs[0] = relu.inputs[0];
      relu.outputs[0].offset += 128;
      ck_assert_int_eq(xhal_stream_enqueue_op(streams[i], NULL, &relu),
                       XHAL_OK);
      ck_assert_int_eq(xhal_stream_enqueue_host_func(streams[i], nop, NULL),
                       XHAL_OK);
    }
  }
  for (int i = 0; i < 3; ++i) {
    ck_assert_int_eq(xhal_stream_synchronize(streams[i]), XHAL_OK);
    xhal_stream_release(streams[i]);
  }
  xhal_buffer_release(buffer);
  xhal_instance_release(instance); /* closes the trace */
  char command[512];
  snprintf(command, sizeof(command),
           "%s %s %s --streams 3 --api xhal_buffer_alloc "
           "xhal_stream_enqueue_write xhal_stream_enqueue_op "
           "xhal_stream_synchronize --ops write cpu.relu.f32",
           XHAL_PYTHON, XHAL_TRACE_CHECKER, path);
  int rc = system(command);
  unlink(path);
  ck_assert_int_eq(rc, 0);
}
END_TEST

int main(void) {
  Suite* s = suite_create("trace");
  TCase* tc = tcase_create("trace");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_unwritable_trace_file);
  tcase_add_test(tc, test_env_trace_unopenable_warns);
  tcase_add_test(tc, test_three_stream_trace_validates);
  suite_add_tcase(s, tc);
  TCase* hang = tcase_create("no_hang");
  tcase_set_timeout(hang, 10);
  tcase_add_test(hang, test_env_trace_fifo_warns);
  suite_add_tcase(s, hang);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
