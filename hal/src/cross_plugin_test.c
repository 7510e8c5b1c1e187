/*
 * cross_plugin_test.c - stream waits on events across every pair of the
 * in-tree plugins (CPU, NPU, OpenCL where built): a wait binds to the
 * record that precedes it even when the event is recorded again before
 * the waiting stream gets to it, so a ping-pong through re-recorded
 * events never deadlocks.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

/* The plugins of this build, by file and by the name they report. */
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

/* Long enough for any plugin, short enough to fail well inside CTest's. */
static const uint64_t kWaitNs = 10ull * 1000 * 1000 * 1000;

static xhal_instance_t g_instance;
static xhal_device_t g_devices[kPlugins]; /* the first device of each */

static void setup(void) {
  g_instance = test_instance_on(kPaths, kPlugins);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_device_count(g_instance, &count), XHAL_OK);
  /* Plugins load in the order given; each contributes its devices in a
   * row, so the first device of each plugin follows a change of name. */
  uint32_t found = 0;
  const char* last = NULL;
  for (uint32_t i = 0; i < count && found < kPlugins; ++i) {
    xhal_device_t device;
    ck_assert_int_eq(xhal_instance_device(g_instance, i, &device), XHAL_OK);
    const char* name = xhal_device_plugin_name(device);
    if (!last || strcmp(last, name) != 0) g_devices[found++] = device;
    last = name;
  }
  ck_assert_msg(found == kPlugins,
                "%u of %u plugins have a device (is an OpenCL ICD with a "
                "device installed?)",
                found, (unsigned)kPlugins);
}

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

/* Opens a gate after a delay, from its own thread (a device without
 * asynchronous host functions runs wait_gate in the enqueue call). */
typedef struct {
  atomic_int* gate;
  long ms;
} opener_t;

static void* open_later(void* arg) {
  opener_t* o = arg;
  sleep_ms(o->ms);
  atomic_store(o->gate, 1);
  return NULL;
}

/* Appends a letter to a log, in stream order. */
typedef struct {
  char text[256];
  atomic_uint length;
} step_log_t;

typedef struct {
  step_log_t* log;
  char letter;
} step_t;

static xhal_status_t log_step(void* user_data) {
  step_t* step = user_data;
  unsigned n = atomic_fetch_add(&step->log->length, 1u);
  if (n < sizeof(step->log->text) - 1) step->log->text[n] = step->letter;
  return XHAL_OK;
}

/* Pair `_i`: plugin _i / kPlugins records, plugin _i % kPlugins waits. */
static void pair(int index, xhal_device_t* a, xhal_device_t* b) {
  *a = g_devices[index / kPlugins];
  *b = g_devices[index % kPlugins];
}

/* The program: two streams ping-pong through two events, each
 * recorded again before the other stream's wait on its previous record
 * has run (the waiting stream is held at first). */
START_TEST(ping_pong_rerecord) {
  enum { kRounds = 4 };
  xhal_device_t da, db;
  pair(_i, &da, &db);
  xhal_stream_t sa, sb;
  xhal_event_t ea, eb;
  ck_assert_int_eq(xhal_stream_create(da, &sa), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(db, &sb), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(da, &ea), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(db, &eb), XHAL_OK);
  atomic_int gate = 0;
  opener_t opener = {&gate, 100};
  pthread_t thread;
  ck_assert_int_eq(pthread_create(&thread, NULL, open_later, &opener), 0);
  step_log_t log;
  memset(&log, 0, sizeof(log));
  step_t step_a = {&log, 'A'}, step_b = {&log, 'B'};
  ck_assert_int_eq(xhal_stream_enqueue_host_func(sb, wait_gate, &gate),
                   XHAL_OK);
  for (int round = 0; round < kRounds; ++round) {
    ck_assert_int_eq(xhal_stream_enqueue_host_func(sa, log_step, &step_a),
                     XHAL_OK);
    ck_assert_int_eq(xhal_stream_record_event(sa, ea), XHAL_OK);
    ck_assert_int_eq(xhal_stream_wait_event(sb, ea), XHAL_OK);
    ck_assert_int_eq(xhal_stream_enqueue_host_func(sb, log_step, &step_b),
                     XHAL_OK);
    ck_assert_int_eq(xhal_stream_record_event(sb, eb), XHAL_OK);
    ck_assert_int_eq(xhal_stream_wait_event(sa, eb), XHAL_OK);
  }
  ck_assert_int_eq(xhal_stream_record_event(sa, ea), XHAL_OK);
  xhal_status_t wa = xhal_event_wait(ea, kWaitNs);
  xhal_status_t wb = xhal_event_wait(eb, kWaitNs);
  ck_assert_msg(wa == XHAL_OK && wb == XHAL_OK,
                "%s -> %s: final waits returned %s and %s (%s)",
                xhal_device_plugin_name(da), xhal_device_plugin_name(db),
                xhal_status_name(wa), xhal_status_name(wb), xhal_last_error());
  ck_assert_str_eq(log.text, "ABABABAB");
  pthread_join(thread, NULL);
  ck_assert_int_eq(xhal_stream_synchronize(sa), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(sb), XHAL_OK);
  xhal_event_release(ea);
  xhal_event_release(eb);
  xhal_stream_release(sa);
  xhal_stream_release(sb);
}
END_TEST

/* A wait enqueued between two records of an event waits for the first:
 * it completes while the second record is still held back. */
START_TEST(wait_binds_to_preceding_record) {
  xhal_device_t da, db;
  pair(_i, &da, &db);
  xhal_device_properties_t props = {.struct_size = sizeof(props)};
  ck_assert_int_eq(xhal_device_properties(da, &props), XHAL_OK);
  if (!(props.capabilities & XHAL_CAP_HOST_FUNC)) {
    /* Nothing can hold the recording stream back without blocking this
     * thread: ping_pong_rerecord covers this pair. */
    return;
  }
  xhal_stream_t sa, sb;
  xhal_event_t ea, eb;
  ck_assert_int_eq(xhal_stream_create(da, &sa), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(db, &sb), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(da, &ea), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(db, &eb), XHAL_OK);
  atomic_int gate_a = 0, gate_b = 0;
  opener_t opener = {&gate_b, 50};
  pthread_t thread;
  ck_assert_int_eq(pthread_create(&thread, NULL, open_later, &opener), 0);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(sb, wait_gate, &gate_b),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(sa, ea), XHAL_OK);
  ck_assert_int_eq(xhal_stream_wait_event(sb, ea), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(sa, wait_gate, &gate_a),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(sa, ea), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(sb, eb), XHAL_OK);
  xhal_status_t status = xhal_event_wait(eb, kWaitNs);
  ck_assert_int_eq(xhal_event_query(ea), XHAL_ERROR_NOT_READY);
  atomic_store(&gate_a, 1);
  ck_assert_msg(status == XHAL_OK,
                "%s -> %s: the wait bound to a later record: %s (%s)",
                xhal_device_plugin_name(da), xhal_device_plugin_name(db),
                xhal_status_name(status), xhal_last_error());
  pthread_join(thread, NULL);
  ck_assert_int_eq(xhal_stream_synchronize(sa), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(sb), XHAL_OK);
  ck_assert_int_eq(xhal_event_query(ea), XHAL_OK);
  xhal_event_release(ea);
  xhal_event_release(eb);
  xhal_stream_release(sa);
  xhal_stream_release(sb);
}
END_TEST

/* A failed record still fails the wait bound to it after the event was
 * recorded again (on a fresh plugin event). Across plugins only: within
 * one plugin, the status a superseded record leaves is the plugin's. */
static xhal_status_t fail_func(void* user_data) {
  (void)user_data;
  return XHAL_ERROR_EXECUTION_FAILED;
}

START_TEST(failure_of_bound_record_reaches_waiter) {
  xhal_device_t da, db;
  pair(_i, &da, &db);
  if (_i / kPlugins == _i % kPlugins) return;
  xhal_stream_t sa, sa2, sb;
  xhal_event_t ea;
  ck_assert_int_eq(xhal_stream_create(da, &sa), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(da, &sa2), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(db, &sb), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(da, &ea), XHAL_OK);
  atomic_int gate = 0;
  opener_t opener = {&gate, 50};
  pthread_t thread;
  ck_assert_int_eq(pthread_create(&thread, NULL, open_later, &opener), 0);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(sb, wait_gate, &gate),
                   XHAL_OK);
  xhal_status_t status = xhal_stream_enqueue_host_func(sa, fail_func, NULL);
  ck_assert(status == XHAL_OK || status == XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(xhal_stream_record_event(sa, ea), XHAL_OK);
  status = xhal_stream_wait_event(sb, ea);
  ck_assert(status == XHAL_OK || status == XHAL_ERROR_EXECUTION_FAILED);
  /* The next record, on a healthy stream, succeeds. */
  ck_assert_int_eq(xhal_stream_record_event(sa2, ea), XHAL_OK);
  ck_assert_int_eq(xhal_event_wait(ea, kWaitNs), XHAL_OK);
  if (status == XHAL_OK) {
    ck_assert_int_eq(xhal_stream_synchronize(sb), XHAL_ERROR_EXECUTION_FAILED);
  }
  pthread_join(thread, NULL);
  xhal_event_release(ea);
  xhal_stream_release(sa);
  xhal_stream_release(sa2);
  xhal_stream_release(sb);
}
END_TEST

int main(void) {
  Suite* suite = suite_create("cross_plugin");
  TCase* tc = tcase_create("pairs");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, ping_pong_rerecord, 0, kPlugins * kPlugins);
  tcase_add_loop_test(tc, wait_binds_to_preceding_record, 0,
                      kPlugins * kPlugins);
  tcase_add_loop_test(tc, failure_of_bound_record_reaches_waiter, 0,
                      kPlugins * kPlugins);
  suite_add_tcase(suite, tc);
  SRunner* runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
