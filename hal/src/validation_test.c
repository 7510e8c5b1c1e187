/*
 * validation_test.c - the validation layer over the CPU plugin: each
 * violation class provoked once, its status and message checked, and the
 * same misuse checked to behave as before with the layer off.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static xhal_instance_t g_instance;
static xhal_device_t g_device;
static xhal_stream_t g_stream;

/* An instance on the CPU plugin with validation on (or off). */
static xhal_instance_t cpu_instance(uint32_t validation,
                                    xhal_device_t* out_device) {
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  options.validation = validation;
  xhal_instance_t instance = NULL;
  xhal_status_t status = xhal_instance_create(&options, &instance);
  ck_assert_msg(status == XHAL_OK, "instance: %s", xhal_last_error());
  ck_assert_int_eq(xhal_instance_device(instance, 0, out_device), XHAL_OK);
  return instance;
}

static void setup(void) {
  g_instance = cpu_instance(1, &g_device);
  ck_assert_int_eq(xhal_stream_create(g_device, &g_stream), XHAL_OK);
}
static void teardown(void) {
  xhal_stream_release(g_stream);
  xhal_instance_release(g_instance);
}

/* Asserts the last message is a validation report mentioning `needle`. */
static void assert_reported(const char* needle) {
  const char* message = xhal_last_error();
  ck_assert_msg(strncmp(message, "XHAL_ERROR_VALIDATION: ", 23) == 0,
                "message '%s' is not a validation report", message);
  ck_assert_msg(strstr(message, needle) != NULL, "message '%s' lacks '%s'",
                message, needle);
}

/* Leaves a known, unrelated message behind. */
static void clear_message(void) {
  ck_assert_int_eq(xhal_buffer_size(NULL, NULL), XHAL_ERROR_INVALID_HANDLE);
}

START_TEST(test_use_after_release) {
  xhal_buffer_t buffer;
  xhal_stream_t stream;
  xhal_event_t event;
  uint64_t size = 0;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(g_device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  xhal_buffer_release(buffer);
  xhal_stream_release(stream);
  xhal_event_release(event);
  ck_assert_status_msg(xhal_buffer_size(buffer, &size), XHAL_ERROR_VALIDATION,
                       "used after release");
  assert_reported("buffer: buffer 0x");
  /* The creation site is this test executable. */
  assert_reported("created at validation_test");
  ck_assert_status_msg(xhal_stream_synchronize(stream), XHAL_ERROR_VALIDATION,
                       "stream: stream 0x");
  assert_reported("used after release");
  ck_assert_status_msg(xhal_event_query(event), XHAL_ERROR_VALIDATION,
                       "event: event 0x");
  assert_reported("used after release");
  uint8_t byte = 1;
  ck_assert_status_msg(xhal_stream_enqueue_write(g_stream, buffer, 0, &byte, 1),
                       XHAL_ERROR_VALIDATION, "dst: buffer");
}
END_TEST

START_TEST(test_double_release) {
  xhal_buffer_t buffer;
  xhal_stream_t stream;
  xhal_event_t event;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(g_device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  xhal_buffer_release(buffer);
  clear_message();
  xhal_buffer_release(buffer);
  assert_reported("released twice");
  assert_reported("buffer: buffer 0x");
  xhal_stream_release(stream);
  clear_message();
  xhal_stream_release(stream);
  assert_reported("stream: stream 0x");
  assert_reported("released twice");
  xhal_event_release(event);
  clear_message();
  xhal_event_release(event);
  assert_reported("event: event 0x");
  assert_reported("released twice");
}
END_TEST

START_TEST(test_wrong_type) {
  xhal_event_t event;
  uint64_t size = 0;
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  ck_assert_status_msg(xhal_buffer_size((xhal_buffer_t)(void*)event, &size),
                       XHAL_ERROR_VALIDATION, "expected a buffer, got event");
  uint8_t byte = 1;
  ck_assert_status_msg(xhal_stream_enqueue_write(
                           g_stream, (xhal_buffer_t)(void*)event, 0, &byte, 1),
                       XHAL_ERROR_VALIDATION,
                       "dst: expected a buffer, got event");
  assert_reported("created at");
  xhal_event_release(event);
}
END_TEST

START_TEST(test_foreign_instance) {
  xhal_device_t other_device;
  xhal_instance_t other = cpu_instance(1, &other_device);
  xhal_stream_t other_stream;
  xhal_event_t event;
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_stream_create(other_device, &other_stream), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  uint8_t data[64] = {0};
  ck_assert_status_msg(
      xhal_stream_enqueue_write(other_stream, buffer, 0, data, 64),
      XHAL_ERROR_VALIDATION, "belongs to instance");
  assert_reported("dst: buffer 0x");
  ck_assert_status_msg(
      xhal_stream_enqueue_read(other_stream, buffer, 0, data, 64),
      XHAL_ERROR_VALIDATION, "belongs to instance");
  ck_assert_status_msg(xhal_stream_record_event(other_stream, event),
                       XHAL_ERROR_VALIDATION, "event: event 0x");
  xhal_event_release(event);
  xhal_buffer_release(buffer);
  xhal_stream_release(other_stream);
  xhal_instance_release(other);
}
END_TEST

START_TEST(test_release_with_pending_work) {
  xhal_buffer_t buffer;
  uint8_t pattern = 0x5A;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 1 << 20, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_fill(g_stream, buffer, 0, 1 << 20, &pattern, 1),
      XHAL_OK);
  clear_message();
  xhal_buffer_release(buffer);
  assert_reported("released while stream");
  assert_reported("1 enqueued operation(s)");

  /* Work the application waited for is no hazard. */
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_fill(g_stream, buffer, 0, 64, &pattern, 1), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  clear_message();
  xhal_buffer_release(buffer);
  ck_assert_str_eq(xhal_last_error(),
                   "XHAL_ERROR_INVALID_HANDLE: buffer is NULL");

  /* Nor is work an event wait showed complete. */
  xhal_event_t event;
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_fill(g_stream, buffer, 0, 64, &pattern, 1), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(g_stream, event), XHAL_OK);
  ck_assert_int_eq(xhal_event_wait(event, XHAL_TIMEOUT_INFINITE), XHAL_OK);
  clear_message();
  xhal_buffer_release(buffer);
  ck_assert_str_eq(xhal_last_error(),
                   "XHAL_ERROR_INVALID_HANDLE: buffer is NULL");

  /* Nor is work of a stream another one waited for (fan-in), once the
   * waiting stream is synchronized. */
  xhal_stream_t worker;
  ck_assert_int_eq(xhal_stream_create(g_device, &worker), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_fill(worker, buffer, 0, 64, &pattern, 1),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(worker, event), XHAL_OK);
  ck_assert_int_eq(xhal_stream_wait_event(g_stream, event), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  clear_message();
  xhal_buffer_release(buffer);
  ck_assert_str_eq(xhal_last_error(),
                   "XHAL_ERROR_INVALID_HANDLE: buffer is NULL");
  xhal_stream_release(worker);
  xhal_event_release(event);
}
END_TEST

START_TEST(test_unordered_read_after_write) {
  xhal_stream_t reader;
  xhal_event_t written;
  xhal_buffer_t buffer;
  uint8_t data[256], back[256];
  memset(data, 0x33, sizeof(data));
  ck_assert_int_eq(xhal_stream_create(g_device, &reader), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &written), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 256, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, buffer, 0, data, 256),
                   XHAL_OK);
  ck_assert_status_msg(xhal_stream_enqueue_read(reader, buffer, 0, back, 256),
                       XHAL_ERROR_VALIDATION, "no event ordering");
  assert_reported("xhal_stream_enqueue_read: source buffer 0x");
  /* Ordered through an event, the same read is fine and sees the data. */
  ck_assert_int_eq(xhal_stream_record_event(g_stream, written), XHAL_OK);
  ck_assert_int_eq(xhal_stream_wait_event(reader, written), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(reader, buffer, 0, back, 256),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(reader), XHAL_OK);
  ck_assert_int_eq(memcmp(back, data, 256), 0);
  /* A later unordered write on the first stream is caught again. */
  ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, buffer, 0, data, 256),
                   XHAL_OK);
  ck_assert_status_msg(xhal_stream_enqueue_read(reader, buffer, 0, back, 256),
                       XHAL_ERROR_VALIDATION, "no event ordering");
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(reader, buffer, 0, back, 256),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(reader), XHAL_OK);
  xhal_buffer_release(buffer);
  xhal_event_release(written);
  xhal_stream_release(reader);
}
END_TEST

static void set_vector(xhal_tensor_t* t, const uint64_t* n,
                       xhal_buffer_t buffer) {
  memset(t, 0, sizeof(*t));
  t->desc.dtype = XHAL_DTYPE_F32;
  t->desc.rank = 1;
  t->desc.dims[0] = *n;
  t->buffer = buffer;
}

START_TEST(test_operator_ordering) {
  enum { kCount = 64 };
  static const uint64_t n = kCount;
  float values[kCount];
  for (int i = 0; i < kCount; ++i) values[i] = (float)i;
  xhal_stream_t other;
  xhal_buffer_t a, b, out;
  ck_assert_int_eq(xhal_stream_create(g_device, &other), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, sizeof(values), 0, &a), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, sizeof(values), 0, &b), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, sizeof(values), 0, &out),
                   XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_write(g_stream, a, 0, values, sizeof(values)),
      XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_write(g_stream, b, 0, values, sizeof(values)),
      XHAL_OK);
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_ADD);
  call.num_inputs = 2;
  set_vector(&call.inputs[0], &n, a);
  set_vector(&call.inputs[1], &n, b);
  set_vector(&call.outputs[0], &n, out);
  /* The inputs were written on another stream, unordered. */
  ck_assert_status_msg(xhal_stream_enqueue_op(other, NULL, &call),
                       XHAL_ERROR_VALIDATION,
                       "xhal_stream_enqueue_op: source buffer");
  /* On the writing stream the operator is ordered; its output is then
   * released with the operator never waited for. */
  ck_assert_int_eq(xhal_stream_enqueue_op(g_stream, NULL, &call), XHAL_OK);
  clear_message();
  xhal_buffer_release(out);
  assert_reported("released while stream");
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_stream_release(other);
}
END_TEST

START_TEST(test_wait_unrecorded_event) {
  xhal_event_t event;
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  ck_assert_status_msg(xhal_event_wait(event, XHAL_TIMEOUT_INFINITE),
                       XHAL_ERROR_VALIDATION, "before it was ever recorded");
  assert_reported("event: event 0x");
  ck_assert_status_msg(xhal_stream_wait_event(g_stream, event),
                       XHAL_ERROR_VALIDATION, "before it was ever recorded");
  xhal_event_release(event);
}
END_TEST

START_TEST(test_leaks_at_instance_release) {
  xhal_device_t device;
  xhal_instance_t instance = cpu_instance(1, &device);
  xhal_buffer_t buffer;
  xhal_stream_t stream;
  xhal_event_t event;
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(device, &event), XHAL_OK);

  /* Capture the report on stderr. */
  FILE* log = tmpfile();
  ck_assert_ptr_nonnull(log);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  ck_assert_int_ge(dup2(fileno(log), STDERR_FILENO), 0);
  clear_message();
  xhal_instance_release(instance);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);

  assert_reported("3 live object(s)");
  assert_reported("buffer 0x");
  assert_reported("(#1, created at validation_test");
  assert_reported("stream 0x");
  assert_reported("event 0x");
  char text[4096] = {0};
  rewind(log);
  size_t n = fread(text, 1, sizeof(text) - 1, log);
  fclose(log);
  ck_assert_uint_gt(n, 0);
  ck_assert_msg(strstr(text, "validation: leaked buffer") != NULL, "%s", text);
  ck_assert_msg(strstr(text, "validation: leaked stream") != NULL, "%s", text);
  ck_assert_msg(strstr(text, "validation: leaked event") != NULL, "%s", text);
  ck_assert_msg(strstr(text, "created at validation_test") != NULL, "%s", text);
  /* Each object's own line names this executable, the stream's too
   * (xhal_stream_create goes through a shared helper in libxhal). */
  const char* kinds[] = {"leaked buffer", "leaked stream", "leaked event"};
  for (size_t k = 0; k < 3; ++k) {
    const char* line = strstr(text, kinds[k]);
    ck_assert_ptr_nonnull(line);
    const char* end = strchr(line, '\n');
    const char* site = strstr(line, "created at validation_test");
    ck_assert_msg(site != NULL && (end == NULL || site < end),
                  "%s: no creation site in the test: %s", kinds[k], text);
  }
  /* A second release would steal a reference the objects own. */
  xhal_instance_release(instance);
  assert_reported("released twice: only its 3 live object(s) still hold it");
  /* The leaked objects still hold the instance: releasing them ends it. */
  xhal_event_release(event);
  xhal_stream_release(stream);
  xhal_buffer_release(buffer);
}
END_TEST

START_TEST(test_off_behaves_as_before) {
  xhal_device_t device;
  xhal_instance_t instance = cpu_instance(0, &device);
  xhal_buffer_t buffer;
  xhal_event_t event;
  uint64_t size = 0;
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(device, &event), XHAL_OK);
  ck_assert_status_msg(xhal_event_wait(event, 0), XHAL_ERROR_INVALID_STATE,
                       "never recorded");
  ck_assert_status_msg(xhal_buffer_size((xhal_buffer_t)(void*)event, &size),
                       XHAL_ERROR_INVALID_HANDLE, "expected type");
  xhal_buffer_release(buffer);
  ck_assert_status_msg(xhal_buffer_size(buffer, &size),
                       XHAL_ERROR_INVALID_HANDLE, "already released");
  xhal_event_release(event);
  xhal_instance_release(instance);
}
END_TEST

START_TEST(test_enabled_by_environment) {
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  unsetenv("XHAL_PLUGINS");
  ck_assert_int_eq(setenv("XHAL_VALIDATION", "1", 1), 0);
  xhal_instance_t instance;
  xhal_device_t device;
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  xhal_buffer_release(buffer);
  xhal_buffer_release(buffer);
  assert_reported("released twice");
  xhal_instance_release(instance);

  /* ignore_environment keeps the variable out. */
  options.ignore_environment = 1;
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  xhal_buffer_release(buffer);
  xhal_buffer_release(buffer);
  ck_assert_str_eq(xhal_last_error(),
                   "XHAL_ERROR_INVALID_HANDLE: buffer was already released");
  xhal_instance_release(instance);
  unsetenv("XHAL_VALIDATION");
}
END_TEST

static Suite* validation_suite(void) {
  Suite* s = suite_create("validation");
  TCase* tc = tcase_create("layer");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_use_after_release);
  tcase_add_test(tc, test_double_release);
  tcase_add_test(tc, test_wrong_type);
  tcase_add_test(tc, test_foreign_instance);
  tcase_add_test(tc, test_release_with_pending_work);
  tcase_add_test(tc, test_unordered_read_after_write);
  tcase_add_test(tc, test_operator_ordering);
  tcase_add_test(tc, test_wait_unrecorded_event);
  tcase_add_test(tc, test_leaks_at_instance_release);
  tcase_add_test(tc, test_off_behaves_as_before);
  tcase_add_test(tc, test_enabled_by_environment);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* runner = srunner_create(validation_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
