/*
 * host_func_test.c - what a host function may call, on every in-tree
 * plugin (CPU, NPU, OpenCL where built): calls that would wait for the
 * host function's own stream to pass it return XHAL_ERROR_INVALID_STATE
 * instead of hanging; enqueueing on its own stream and waiting for work
 * before it are fine; a value outside xhal_status_t becomes
 * XHAL_ERROR_EXECUTION_FAILED with a message that keeps the value.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

static const char* const kPaths[] = {
    XHAL_CPU_PLUGIN_PATH,
#ifdef XHAL_NPU_PLUGIN_PATH
    XHAL_NPU_PLUGIN_PATH,
#endif
#ifdef XHAL_OPENCL_PLUGIN_PATH
    XHAL_OPENCL_PLUGIN_PATH,
#endif
};
enum { kPlugins = sizeof(kPaths) / sizeof(kPaths[0]) };

static const uint64_t kWaitNs = 10ull * 1000 * 1000 * 1000;

static xhal_instance_t g_instance;
static xhal_device_t g_device;

/* Loop index _i: the plugin under test, alone in the instance. */
static void open_plugin(int index) {
  g_instance = test_instance_on(&kPaths[index], 1);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_device_count(g_instance, &count), XHAL_OK);
  ck_assert_msg(count > 0, "plugin %s has no device", kPaths[index]);
  ck_assert_int_eq(xhal_instance_device(g_instance, 0, &g_device), XHAL_OK);
}

static void close_plugin(void) { xhal_instance_release(g_instance); }

/* What a host function saw when it called back into the API. */
typedef struct {
  xhal_stream_t stream;
  xhal_event_t event;
  xhal_buffer_t buffer;
  xhal_status_t status;
  char message[512];
  atomic_int ran;
  atomic_int armed; /* set by the test once the stream holds what it needs */
} probe_t;

static void probe_done(probe_t* probe, xhal_status_t status) {
  probe->status = status;
  snprintf(probe->message, sizeof(probe->message), "%s", xhal_last_error());
  atomic_store(&probe->ran, 1);
}

static xhal_status_t sync_own_stream(void* user_data) {
  probe_t* probe = user_data;
  probe_done(probe, xhal_stream_synchronize(probe->stream));
  return XHAL_OK;
}

static xhal_status_t wait_event(void* user_data) {
  probe_t* probe = user_data;
  probe_done(probe, xhal_event_wait(probe->event, XHAL_TIMEOUT_INFINITE));
  return XHAL_OK;
}

/* Waits on the event only once the test has enqueued the record after
 * this host function: a host function may start before the enqueue that
 * follows it returns, and would then see only the earlier record. */
static xhal_status_t wait_event_when_armed(void* user_data) {
  probe_t* probe = user_data;
  struct timespec pause = {0, 1000 * 1000};
  for (int i = 0; i < 10000 && !atomic_load(&probe->armed); ++i)
    nanosleep(&pause, NULL);
  return wait_event(user_data);
}

static xhal_status_t release_own_stream(void* user_data) {
  probe_t* probe = user_data;
  xhal_stream_release(probe->stream);
  probe_done(probe, XHAL_OK);
  return XHAL_OK;
}

static xhal_status_t set_flag(void* user_data) {
  atomic_store((atomic_int*)user_data, 1);
  return XHAL_OK;
}

static xhal_status_t enqueue_on_own_stream(void* user_data) {
  probe_t* probe = user_data;
  probe_done(probe, xhal_stream_enqueue_host_func(probe->stream, set_flag,
                                                  (void*)&probe->ran));
  atomic_store(&probe->ran, 0); /* set again by set_flag, after us */
  return XHAL_OK;
}

static void expect_refused(const probe_t* probe, const char* call) {
  ck_assert_msg(probe->status == XHAL_ERROR_INVALID_STATE,
                "%s from a host function of its stream on %s returned %s "
                "(%s)",
                call, xhal_device_plugin_name(g_device),
                xhal_status_name(probe->status), probe->message);
  ck_assert_msg(
      strstr(probe->message, call) && strstr(probe->message, "host function"),
      "message '%s'", probe->message);
}

START_TEST(synchronize_own_stream_is_refused) {
  open_plugin(_i);
  probe_t probe = {0};
  ck_assert_int_eq(xhal_stream_create(g_device, &probe.stream), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_host_func(probe.stream, sync_own_stream, &probe),
      XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(probe.stream), XHAL_OK);
  ck_assert_int_eq(atomic_load(&probe.ran), 1);
  expect_refused(&probe, "xhal_stream_synchronize");
  xhal_stream_release(probe.stream);
  close_plugin();
}
END_TEST

START_TEST(wait_on_later_record_is_refused) {
  open_plugin(_i);
  probe_t probe = {0};
  ck_assert_int_eq(xhal_stream_create(g_device, &probe.stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &probe.event), XHAL_OK);
  /* Recorded once before, so the wait is not refused as unrecorded. */
  ck_assert_int_eq(xhal_stream_record_event(probe.stream, probe.event),
                   XHAL_OK);
  ck_assert_int_eq(xhal_event_wait(probe.event, kWaitNs), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(probe.stream,
                                                 wait_event_when_armed, &probe),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(probe.stream, probe.event),
                   XHAL_OK);
  atomic_store(&probe.armed, 1);
  ck_assert_int_eq(xhal_stream_synchronize(probe.stream), XHAL_OK);
  ck_assert_int_eq(atomic_load(&probe.ran), 1);
  expect_refused(&probe, "xhal_event_wait");
  xhal_event_release(probe.event);
  xhal_stream_release(probe.stream);
  close_plugin();
}
END_TEST

/* The record before the host function has completed when it runs. */
START_TEST(wait_on_earlier_record_is_fine) {
  open_plugin(_i);
  probe_t probe = {0};
  ck_assert_int_eq(xhal_stream_create(g_device, &probe.stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &probe.event), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(probe.stream, probe.event),
                   XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_host_func(probe.stream, wait_event, &probe), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(probe.stream), XHAL_OK);
  ck_assert_int_eq(atomic_load(&probe.ran), 1);
  ck_assert_msg(probe.status == XHAL_OK, "%s", probe.message);
  xhal_event_release(probe.event);
  xhal_stream_release(probe.stream);
  close_plugin();
}
END_TEST

/* Releasing the last reference of its own stream would wait for the host
 * function itself: refused (logged), the stream stays usable. */
START_TEST(release_own_stream_is_refused) {
  open_plugin(_i);
  probe_t probe = {0};
  ck_assert_int_eq(xhal_stream_create(g_device, &probe.stream), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_host_func(probe.stream, release_own_stream, &probe),
      XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(probe.stream), XHAL_OK);
  ck_assert_int_eq(atomic_load(&probe.ran), 1);
  atomic_int flag = 0;
  ck_assert_int_eq(xhal_stream_enqueue_host_func(probe.stream, set_flag, &flag),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(probe.stream), XHAL_OK);
  ck_assert_int_eq(atomic_load(&flag), 1);
  xhal_stream_release(probe.stream);
  close_plugin();
}
END_TEST

START_TEST(enqueue_on_own_stream_runs_after) {
  open_plugin(_i);
  probe_t probe = {0};
  ck_assert_int_eq(xhal_stream_create(g_device, &probe.stream), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(probe.stream,
                                                 enqueue_on_own_stream, &probe),
                   XHAL_OK);
  /* Two synchronizations: the second covers what the first's host
   * function enqueued, should the first have returned before it. */
  ck_assert_int_eq(xhal_stream_synchronize(probe.stream), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(probe.stream), XHAL_OK);
  ck_assert_msg(probe.status == XHAL_OK, "%s", probe.message);
  ck_assert_int_eq(atomic_load(&probe.ran), 1);
  xhal_stream_release(probe.stream);
  close_plugin();
}
END_TEST

#ifdef XHAL_NPU_PLUGIN_PATH
/* Enqueues a fill on its own stream once the test thread is inside a
 * copy staged through host memory on that stream. */
static xhal_status_t fill_own_stream_later(void* user_data) {
  probe_t* probe = user_data;
  struct timespec pause = {0, 200 * 1000 * 1000};
  nanosleep(&pause, NULL);
  static const uint8_t zero = 0;
  probe_done(probe, xhal_stream_enqueue_fill(probe->stream, probe->buffer, 0,
                                             64, &zero, 1));
  return XHAL_OK;
}

/* A copy staged through host memory (or made on third devices) finishes
 * the stream's earlier work before it returns. A host function in that
 * work may enqueue on its own stream meanwhile: the copy must not keep
 * the stream locked while it waits, or both wait for ever. Loop index:
 * 0, the destination on another plugin (staged); 1, both buffers on
 * another plugin (a third-party copy). */
START_TEST(staged_copy_beside_host_func_enqueue) {
  const char* const paths[2] = {XHAL_CPU_PLUGIN_PATH, XHAL_NPU_PLUGIN_PATH};
  g_instance = test_instance_on(paths, 2);
  xhal_device_t cpu = NULL, npu = NULL;
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_device_count(g_instance, &count), XHAL_OK);
  for (uint32_t i = 0; i < count; ++i) {
    xhal_device_t d = NULL;
    ck_assert_int_eq(xhal_instance_device(g_instance, i, &d), XHAL_OK);
    if (strcmp(xhal_device_plugin_name(d), "cpu") == 0 && !cpu) cpu = d;
    if (strcmp(xhal_device_plugin_name(d), "npu") == 0 && !npu) npu = d;
  }
  ck_assert_msg(cpu && npu, "a CPU and an NPU device");
  probe_t probe = {0};
  xhal_buffer_t src = NULL, dst = NULL;
  ck_assert_int_eq(xhal_stream_create(cpu, &probe.stream), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(cpu, 64, 0, &probe.buffer), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(_i ? npu : cpu, 64, 0, &src), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(npu, 64, 0, &dst), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(probe.stream,
                                                 fill_own_stream_later, &probe),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_copy(probe.stream, src, 0, dst, 0, 64),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(probe.stream), XHAL_OK);
  ck_assert_int_eq(atomic_load(&probe.ran), 1);
  ck_assert_msg(probe.status == XHAL_OK, "%s", probe.message);
  xhal_buffer_release(src);
  xhal_buffer_release(dst);
  xhal_buffer_release(probe.buffer);
  xhal_stream_release(probe.stream);
  close_plugin();
}
END_TEST
#endif

/* Values outside xhal_status_t, by loop index: plugin, then the value. */
static const long long kBadValues[] = {12345, -7};

static xhal_status_t return_value(void* user_data) {
  return (xhal_status_t)(*(const long long*)user_data);
}

START_TEST(undefined_status_becomes_execution_failed) {
  open_plugin(_i / 2);
  const long long* value = &kBadValues[_i % 2];
  char needle[32];
  snprintf(needle, sizeof(needle), "returned %lld", *value);
  xhal_stream_t stream;
  xhal_event_t event;
  ck_assert_int_eq(xhal_stream_create(g_device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_host_func(stream, return_value, (void*)value),
      XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(stream, event), XHAL_OK);
  ck_assert_status_msg(xhal_event_wait(event, kWaitNs),
                       XHAL_ERROR_EXECUTION_FAILED, needle);
  ck_assert_status_msg(xhal_event_query(event), XHAL_ERROR_EXECUTION_FAILED,
                       needle);
  ck_assert_status_msg(xhal_stream_synchronize(stream),
                       XHAL_ERROR_EXECUTION_FAILED, needle);
  xhal_event_release(event);
  xhal_stream_release(stream);
  close_plugin();
}
END_TEST

/* ------------------------------------------------ host functions in place */

/* A device without host functions runs each in the enqueue call, holding
 * the stream: the same rules hold there, and entries the host function
 * makes on its own stream pass the stream's lock instead of deadlocking
 * (a host function they enqueue runs in place, at once). */

static void open_in_place(void) {
  static const char* const path = XHAL_NO_HOST_FUNC_PLUGIN_PATH;
  g_instance = test_instance_on(&path, 1);
  ck_assert_int_eq(xhal_instance_device(g_instance, 0, &g_device), XHAL_OK);
  xhal_device_properties_t props = {.struct_size = sizeof(props)};
  ck_assert_int_eq(xhal_device_properties(g_device, &props), XHAL_OK);
  ck_assert(!(props.capabilities & XHAL_CAP_HOST_FUNC));
}

START_TEST(in_place_synchronize_own_stream_is_refused) {
  open_in_place();
  probe_t probe = {0};
  ck_assert_int_eq(xhal_stream_create(g_device, &probe.stream), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_host_func(probe.stream, sync_own_stream, &probe),
      XHAL_OK);
  ck_assert_int_eq(atomic_load(&probe.ran), 1);
  expect_refused(&probe, "xhal_stream_synchronize");
  ck_assert_int_eq(xhal_stream_synchronize(probe.stream), XHAL_OK);
  xhal_stream_release(probe.stream);
  close_plugin();
}
END_TEST

typedef struct {
  xhal_stream_t stream;
  xhal_buffer_t buffer;
  xhal_status_t write, host_func, record;
  xhal_event_t event;
  atomic_int flag;
} nested_t;

static xhal_status_t enqueue_more(void* user_data) {
  nested_t* n = user_data;
  static const uint32_t value = 0x600DF00Du;
  n->write = xhal_stream_enqueue_write(n->stream, n->buffer, 0, &value, 4);
  n->host_func = xhal_stream_enqueue_host_func(n->stream, set_flag, &n->flag);
  n->record = xhal_stream_record_event(n->stream, n->event);
  return XHAL_OK;
}

START_TEST(in_place_enqueue_on_own_stream) {
  open_in_place();
  nested_t n = {0};
  ck_assert_int_eq(xhal_stream_create(g_device, &n.stream), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &n.buffer), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &n.event), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(n.stream, enqueue_more, &n),
                   XHAL_OK);
  ck_assert_int_eq(n.write, XHAL_OK);
  ck_assert_int_eq(n.host_func, XHAL_OK);
  ck_assert_int_eq(n.record, XHAL_OK);
  ck_assert_int_eq(atomic_load(&n.flag), 1);
  ck_assert_int_eq(xhal_event_wait(n.event, kWaitNs), XHAL_OK);
  uint32_t back = 0;
  ck_assert_int_eq(xhal_stream_enqueue_read(n.stream, n.buffer, 0, &back, 4),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(n.stream), XHAL_OK);
  ck_assert_uint_eq(back, 0x600DF00Du);
  xhal_event_release(n.event);
  xhal_buffer_release(n.buffer);
  xhal_stream_release(n.stream);
  close_plugin();
}
END_TEST

START_TEST(in_place_undefined_status) {
  open_in_place();
  char needle[32];
  snprintf(needle, sizeof(needle), "returned %lld", kBadValues[_i]);
  xhal_stream_t stream;
  ck_assert_int_eq(xhal_stream_create(g_device, &stream), XHAL_OK);
  ck_assert_status_msg(xhal_stream_enqueue_host_func(stream, return_value,
                                                     (void*)&kBadValues[_i]),
                       XHAL_ERROR_EXECUTION_FAILED, needle);
  xhal_stream_release(stream);
  close_plugin();
}
END_TEST

int main(void) {
  Suite* suite = suite_create("host_func");
  TCase* tc = tcase_create("every_plugin");
  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, synchronize_own_stream_is_refused, 0, kPlugins);
  tcase_add_loop_test(tc, wait_on_later_record_is_refused, 0, kPlugins);
  tcase_add_loop_test(tc, wait_on_earlier_record_is_fine, 0, kPlugins);
  tcase_add_loop_test(tc, release_own_stream_is_refused, 0, kPlugins);
  tcase_add_loop_test(tc, enqueue_on_own_stream_runs_after, 0, kPlugins);
  tcase_add_loop_test(tc, undefined_status_becomes_execution_failed, 0,
                      2 * kPlugins);
#ifdef XHAL_NPU_PLUGIN_PATH
  tcase_add_loop_test(tc, staged_copy_beside_host_func_enqueue, 0, 2);
#endif
  suite_add_tcase(suite, tc);
  TCase* in_place = tcase_create("in_place");
  tcase_set_timeout(in_place, 30);
  tcase_add_test(in_place, in_place_synchronize_own_stream_is_refused);
  tcase_add_test(in_place, in_place_enqueue_on_own_stream);
  tcase_add_loop_test(in_place, in_place_undefined_status, 0, 2);
  suite_add_tcase(suite, in_place);
  SRunner* runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
