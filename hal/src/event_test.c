/*
 * event_test.c - events through the CPU plugin: record, host wait with
 * timeout, query, elapsed time, stream waits across streams and across
 * plugins, and failure propagation instead of hangs.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "test_util.h"

static xhal_instance_t g_instance;
static xhal_device_t g_device;

static void setup(void) { g_instance = test_cpu_instance(&g_device); }
static void teardown(void) { xhal_instance_release(g_instance); }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A host function that holds its stream until the gate opens. */
static xhal_status_t wait_gate(void* user_data) {
  atomic_int* gate = user_data;
  while (!atomic_load(gate)) sleep_ms(1);
  return XHAL_OK;
}

static xhal_status_t set_flag(void* user_data) {
  atomic_store((atomic_int*)user_data, 1);
  return XHAL_OK;
}

static xhal_status_t sleep_2ms(void* user_data) {
  (void)user_data;
  sleep_ms(2);
  return XHAL_OK;
}

static xhal_status_t fail_func(void* user_data) {
  (void)user_data;
  return XHAL_ERROR_EXECUTION_FAILED;
}

START_TEST(test_unrecorded_event) {
  xhal_event_t event;
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  ck_assert_status_msg(xhal_event_wait(event, 0), XHAL_ERROR_INVALID_STATE,
                       "never recorded");
  ck_assert_status_msg(xhal_event_query(event), XHAL_ERROR_INVALID_STATE,
                       "never recorded");
  xhal_stream_t stream;
  ck_assert_int_eq(xhal_stream_create(g_device, &stream), XHAL_OK);
  ck_assert_status_msg(xhal_stream_wait_event(stream, event),
                       XHAL_ERROR_INVALID_STATE, "never recorded");
  xhal_stream_release(stream);
  xhal_event_release(event);
}
END_TEST

START_TEST(test_wait_timeout_then_complete) {
  atomic_int gate = 0;
  xhal_stream_t stream;
  xhal_event_t event;
  ck_assert_int_eq(xhal_stream_create(g_device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(stream, wait_gate, &gate),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(stream, event), XHAL_OK);
  ck_assert_int_eq(xhal_event_query(event), XHAL_ERROR_NOT_READY);
  ck_assert_status_msg(xhal_event_wait(event, 20 * 1000000ull),
                       XHAL_ERROR_TIMEOUT, "not complete");
  atomic_store(&gate, 1);
  ck_assert_int_eq(xhal_event_wait(event, XHAL_TIMEOUT_INFINITE), XHAL_OK);
  ck_assert_int_eq(xhal_event_query(event), XHAL_OK);
  xhal_event_release(event);
  xhal_stream_release(stream);
}
END_TEST

START_TEST(test_elapsed_time) {
  xhal_stream_t stream;
  xhal_event_t start, end;
  ck_assert_int_eq(xhal_stream_create(g_device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &start), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &end), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(stream, start), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(stream, sleep_2ms, NULL),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(stream, end), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(stream), XHAL_OK);
  uint64_t ns = 0;
  ck_assert_int_eq(xhal_event_elapsed(start, end, &ns), XHAL_OK);
  ck_assert_uint_ge(ns, 2000000u);
  ck_assert_status_msg(xhal_event_elapsed(start, end, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_ns");
  xhal_event_release(start);
  xhal_event_release(end);
  xhal_stream_release(stream);
}
END_TEST

/* `waiter` must not pass its wait on `event` until the gate opens. */
static void check_wait_blocks(xhal_stream_t producer, xhal_stream_t waiter,
                              xhal_event_t event) {
  atomic_int gate = 0, reached = 0;
  ck_assert_int_eq(xhal_stream_enqueue_host_func(producer, wait_gate, &gate),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(producer, event), XHAL_OK);
  ck_assert_int_eq(xhal_stream_wait_event(waiter, event), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(waiter, set_flag, &reached),
                   XHAL_OK);
  sleep_ms(30);
  ck_assert_int_eq(atomic_load(&reached), 0);
  atomic_store(&gate, 1);
  ck_assert_int_eq(xhal_stream_synchronize(waiter), XHAL_OK);
  ck_assert_int_eq(atomic_load(&reached), 1);
}

START_TEST(test_cross_stream_wait) {
  xhal_stream_t a, b;
  xhal_event_t event;
  ck_assert_int_eq(xhal_stream_create(g_device, &a), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(g_device, &b), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  check_wait_blocks(a, b, event);
  xhal_event_release(event);
  xhal_stream_release(a);
  xhal_stream_release(b);
}
END_TEST

START_TEST(test_cross_plugin_wait) {
  xhal_device_t other_device;
  xhal_instance_t other = test_cpu_instance(&other_device);
  xhal_stream_t a, b;
  xhal_event_t event;
  ck_assert_int_eq(xhal_stream_create(g_device, &a), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(other_device, &b), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  check_wait_blocks(a, b, event);
  /* Recording needs the event's own device. */
  ck_assert_status_msg(xhal_stream_record_event(b, event),
                       XHAL_ERROR_INVALID_ARGUMENT, "event belongs to device");
  xhal_event_release(event);
  xhal_stream_release(a);
  xhal_stream_release(b);
  xhal_instance_release(other);
}
END_TEST

/* A failure in `producer` reaches `event` and every stream waiting on it. */
static void check_failure_propagates(xhal_stream_t producer,
                                     xhal_stream_t waiter, xhal_event_t event) {
  atomic_int reached = 0;
  ck_assert_int_eq(xhal_stream_enqueue_host_func(producer, fail_func, NULL),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(producer, event), XHAL_OK);
  ck_assert_int_eq(xhal_event_wait(event, 5000000000ull),
                   XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(xhal_event_query(event), XHAL_ERROR_EXECUTION_FAILED);
  xhal_status_t status = xhal_stream_wait_event(waiter, event);
  ck_assert(status == XHAL_OK || status == XHAL_ERROR_EXECUTION_FAILED);
  if (status == XHAL_OK) {
    ck_assert_int_eq(xhal_stream_enqueue_host_func(waiter, set_flag, &reached),
                     XHAL_OK);
    ck_assert_int_eq(xhal_stream_synchronize(waiter),
                     XHAL_ERROR_EXECUTION_FAILED);
  }
  ck_assert_int_eq(atomic_load(&reached), 0);
}

START_TEST(test_failure_propagates_same_plugin) {
  xhal_stream_t a, b;
  xhal_event_t event;
  ck_assert_int_eq(xhal_stream_create(g_device, &a), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(g_device, &b), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  check_failure_propagates(a, b, event);
  xhal_event_release(event);
  xhal_stream_release(a);
  xhal_stream_release(b);
}
END_TEST

START_TEST(test_failure_propagates_across_plugins) {
  xhal_device_t other_device;
  xhal_instance_t other = test_cpu_instance(&other_device);
  xhal_stream_t a, b;
  xhal_event_t event;
  ck_assert_int_eq(xhal_stream_create(g_device, &a), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(other_device, &b), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &event), XHAL_OK);
  check_failure_propagates(a, b, event);
  xhal_event_release(event);
  xhal_stream_release(a);
  xhal_stream_release(b);
  xhal_instance_release(other);
}
END_TEST

START_TEST(test_elapsed_needs_one_device) {
  xhal_device_t other_device;
  xhal_instance_t other = test_cpu_instance(&other_device);
  xhal_stream_t a, b;
  xhal_event_t e1, e2;
  ck_assert_int_eq(xhal_stream_create(g_device, &a), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(other_device, &b), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_device, &e1), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(other_device, &e2), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(a, e1), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(b, e2), XHAL_OK);
  uint64_t ns;
  ck_assert_status_msg(xhal_event_elapsed(e1, e2, &ns),
                       XHAL_ERROR_INVALID_ARGUMENT, "different devices");
  xhal_event_release(e1);
  xhal_event_release(e2);
  xhal_stream_release(a);
  xhal_stream_release(b);
  xhal_instance_release(other);
}
END_TEST

int main(void) {
  Suite* s = suite_create("event");
  TCase* tc = tcase_create("event");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_unrecorded_event);
  tcase_add_test(tc, test_wait_timeout_then_complete);
  tcase_add_test(tc, test_elapsed_time);
  tcase_add_test(tc, test_cross_stream_wait);
  tcase_add_test(tc, test_cross_plugin_wait);
  tcase_add_test(tc, test_failure_propagates_same_plugin);
  tcase_add_test(tc, test_failure_propagates_across_plugins);
  tcase_add_test(tc, test_elapsed_needs_one_device);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
