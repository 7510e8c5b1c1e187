/*
 * cpu_plugin_test_events.c - events (timeouts, elapsed time, re-recording,
 * destruction while pending), host functions, cross-stream waits and the
 * propagation of failures to later work, events and waiting streams.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "cpu_plugin_test.h"

/* -------------------------------------------------------------- events */

START_TEST(test_event_timeout) {
  xhal_plugin_stream_t s = new_stream();
  xhal_plugin_event_t e = new_event();
  gate_t gate;
  uint64_t t0, t1;
  gate_init(&gate);
  ck_assert_int_eq(T->enqueue_host_func(s, gate_wait_fn, &gate), XHAL_OK);
  ck_assert_int_eq(T->event_record(e, s), XHAL_OK);
  ck_assert_int_eq(T->event_query(e), XHAL_ERROR_NOT_READY);
  ck_assert_int_eq(T->event_wait(e, 0), XHAL_ERROR_TIMEOUT);
  t0 = now_ns();
  ck_assert_int_eq(T->event_wait(e, 2000000), XHAL_ERROR_TIMEOUT);
  t1 = now_ns();
  ck_assert_uint_ge(t1 - t0, 2000000);
  ck_assert_uint_lt(t1 - t0, 500000000); /* "quickly", even sanitized */
  ck_assert_int_eq(fake_last_error_status(), XHAL_ERROR_TIMEOUT);
  gate_open(&gate);
  ck_assert_int_eq(T->event_wait(e, UINT64_MAX), XHAL_OK);
  ck_assert_int_eq(T->event_query(e), XHAL_OK);
  T->event_destroy(e);
  T->stream_destroy(s);
  gate_destroy(&gate);
}
END_TEST

static xhal_status_t sleep_fn(void* p) {
  sleep_ms((long)(uintptr_t)p);
  return XHAL_OK;
}

START_TEST(test_event_elapsed) {
  xhal_plugin_stream_t s = new_stream();
  xhal_plugin_event_t e1 = new_event();
  xhal_plugin_event_t e2 = new_event();
  xhal_plugin_event_t never = new_event();
  uint64_t ns = 0;
  gate_t gate;
  gate_init(&gate);
  ck_assert_int_eq(T->event_elapsed(e1, never, &ns), XHAL_ERROR_INVALID_STATE);
  ck_assert_int_eq(T->event_record(e1, s), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(s, sleep_fn, (void*)(uintptr_t)3),
                   XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(s, gate_wait_fn, &gate), XHAL_OK);
  ck_assert_int_eq(T->event_record(e2, s), XHAL_OK);
  ck_assert_int_eq(T->event_elapsed(e1, e2, &ns), XHAL_ERROR_NOT_READY);
  gate_open(&gate);
  test_sync(s);
  ck_assert_int_eq(T->event_elapsed(e1, e2, &ns), XHAL_OK);
  ck_assert_uint_ge(ns, 3000000);
  ck_assert_uint_lt(ns, 5000000000ull);
  ck_assert_int_eq(T->event_elapsed(e1, e1, &ns), XHAL_OK);
  ck_assert_uint_eq(ns, 0);
  ck_assert_int_ne(T->event_elapsed(e2, e1, &ns), XHAL_OK);
  ck_assert_int_eq(T->event_elapsed(e1, e2, NULL), XHAL_ERROR_INVALID_ARGUMENT);
  T->event_destroy(e1);
  T->event_destroy(e2);
  T->event_destroy(never);
  T->stream_destroy(s);
  gate_destroy(&gate);
}
END_TEST

typedef struct waiter {
  xhal_plugin_event_t event;
  _Atomic int done;
  xhal_status_t status;
} waiter_t;

static void* waiter_main(void* p) {
  waiter_t* w = p;
  w->status = T->event_wait(w->event, UINT64_MAX);
  atomic_store(&w->done, 1);
  return NULL;
}

/* A waiter that started on one recording is released when that recording
 * completes, even if the event was re-recorded meanwhile; the event itself
 * reflects the latest recording. */
START_TEST(test_event_rerecord) {
  xhal_plugin_stream_t a = new_stream();
  xhal_plugin_stream_t b = new_stream();
  xhal_plugin_event_t e = new_event();
  gate_t g1, g2;
  waiter_t w;
  pthread_t thread;
  uint64_t ns = 0;
  gate_init(&g1);
  gate_init(&g2);
  ck_assert_int_eq(T->enqueue_host_func(a, gate_wait_fn, &g1), XHAL_OK);
  ck_assert_int_eq(T->event_record(e, a), XHAL_OK);
  w.event = e;
  atomic_init(&w.done, 0);
  w.status = -1;
  ck_assert_int_eq(pthread_create(&thread, NULL, waiter_main, &w), 0);
  sleep_ms(50); /* lets the waiter capture the first recording */
  ck_assert_int_eq(atomic_load(&w.done), 0);
  ck_assert_int_eq(T->enqueue_host_func(a, gate_wait_fn, &g2), XHAL_OK);
  ck_assert_int_eq(T->event_record(e, a), XHAL_OK);
  gate_open(&g1);
  {
    /* Poll rather than join: if the waiter were stranded on the second
     * recording, joining would hang instead of failing. */
    int waited_ms = 0;
    while (!atomic_load(&w.done) && waited_ms < 10000) {
      sleep_ms(1);
      waited_ms++;
    }
    ck_assert_msg(atomic_load(&w.done), "waiter not released by its record");
  }
  pthread_join(thread, NULL);
  ck_assert_int_eq(w.status, XHAL_OK);
  ck_assert_int_eq(T->event_query(e), XHAL_ERROR_NOT_READY);
  /* Re-recorded on an idle stream: completes first; the older recording
   * on `a` completing later must not replace it. */
  ck_assert_int_eq(T->event_record(e, b), XHAL_OK);
  test_sync(b);
  ck_assert_int_eq(T->event_query(e), XHAL_OK);
  gate_open(&g2);
  test_sync(a);
  ck_assert_int_eq(T->event_query(e), XHAL_OK);
  ck_assert_int_eq(T->event_elapsed(e, e, &ns), XHAL_OK);
  T->event_destroy(e);
  T->stream_destroy(a);
  T->stream_destroy(b);
  gate_destroy(&g1);
  gate_destroy(&g2);
}
END_TEST

/* The event is destroyed by the host while its record is still queued. */
START_TEST(test_event_destroy_pending) {
  xhal_plugin_stream_t s = new_stream();
  xhal_plugin_event_t e = new_event();
  gate_t gate;
  gate_init(&gate);
  ck_assert_int_eq(T->enqueue_host_func(s, gate_wait_fn, &gate), XHAL_OK);
  ck_assert_int_eq(T->event_record(e, s), XHAL_OK);
  T->event_destroy(e);
  gate_open(&gate);
  test_sync(s);
  T->stream_destroy(s);
  gate_destroy(&gate);
}
END_TEST

/* ---------------------------------------- host functions and failures */

static xhal_status_t fail_fn(void* p) {
  (void)p;
  return XHAL_ERROR_EXECUTION_FAILED;
}

START_TEST(test_host_func_failure) {
  xhal_plugin_stream_t a = new_stream();
  xhal_plugin_stream_t b = new_stream();
  xhal_plugin_stream_t c = new_stream();
  xhal_plugin_event_t before = new_event();
  xhal_plugin_event_t after = new_event();
  xhal_plugin_event_t on_b = new_event();
  xhal_plugin_buffer_t buf = test_alloc(16);
  _Atomic uint32_t ran = 0;
  _Atomic uint32_t ran_b = 0;
  uint8_t host[16];
  memset(host, 0x77, sizeof(host));
  ck_assert_int_eq(T->enqueue_fill(a, buf, 0, 16, "\x01", 1), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(a, count_fn, &ran), XHAL_OK);
  ck_assert_int_eq(T->event_record(before, a), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(a, fail_fn, NULL), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(a, count_fn, &ran), XHAL_OK);
  ck_assert_int_eq(T->enqueue_fill(a, buf, 0, 16, "\x02", 1), XHAL_OK);
  ck_assert_int_eq(T->enqueue_read(a, buf, 0, host, 16), XHAL_OK);
  ck_assert_int_eq(T->event_record(after, a), XHAL_OK);
  ck_assert_int_eq(T->stream_synchronize(a), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(fake_last_error_status(), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_uint_eq(atomic_load(&ran), 1);
  ck_assert_uint_eq(host[0], 0x77); /* the read after the failure skipped */
  ck_assert_int_eq(T->event_query(before), XHAL_OK);
  ck_assert_int_eq(T->event_query(after), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(T->event_wait(after, UINT64_MAX),
                   XHAL_ERROR_EXECUTION_FAILED);
  /* A failed stream stays failed. */
  ck_assert_int_eq(T->enqueue_host_func(a, count_fn, &ran), XHAL_OK);
  ck_assert_int_eq(T->stream_synchronize(a), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_uint_eq(atomic_load(&ran), 1);

  /* A stream waiting on the failed event fails; its events carry it. */
  ck_assert_int_eq(T->stream_wait_event(b, after), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(b, count_fn, &ran_b), XHAL_OK);
  ck_assert_int_eq(T->event_record(on_b, b), XHAL_OK);
  ck_assert_int_eq(T->stream_synchronize(b), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_uint_eq(atomic_load(&ran_b), 0);
  ck_assert_int_eq(T->event_wait(on_b, 1000000000ull),
                   XHAL_ERROR_EXECUTION_FAILED);
  /* Waiting on the good event is fine. */
  ck_assert_int_eq(T->stream_wait_event(c, before), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(c, count_fn, &ran_b), XHAL_OK);
  test_sync(c);
  ck_assert_uint_eq(atomic_load(&ran_b), 1);
  T->event_destroy(before);
  T->event_destroy(after);
  T->event_destroy(on_b);
  T->stream_destroy(a);
  T->stream_destroy(b);
  T->stream_destroy(c);
  T->buffer_free(g_dev, buf);
}
END_TEST

typedef struct flag_arg {
  _Atomic int* flag;
  int expect;
  _Atomic int* bad;
} flag_arg_t;

static xhal_status_t check_flag_fn(void* p) {
  flag_arg_t* arg = p;
  if (atomic_load(arg->flag) != arg->expect) atomic_store(arg->bad, 1);
  return XHAL_OK;
}

static xhal_status_t set_flag_fn(void* p) {
  atomic_store((_Atomic int*)p, 1);
  return XHAL_OK;
}

/* Work after a cross-stream wait starts only after the recorded work. */
START_TEST(test_cross_stream_wait) {
  xhal_plugin_stream_t a = new_stream();
  xhal_plugin_stream_t b = new_stream();
  xhal_plugin_event_t e = new_event();
  _Atomic int flag = 0, bad = 0, b_done = 0;
  flag_arg_t arg = {&flag, 1, &bad};
  gate_t gate;
  gate_init(&gate);
  ck_assert_int_eq(T->enqueue_host_func(a, gate_wait_fn, &gate), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(a, set_flag_fn, &flag), XHAL_OK);
  ck_assert_int_eq(T->event_record(e, a), XHAL_OK);
  ck_assert_int_eq(T->stream_wait_event(b, e), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(b, check_flag_fn, &arg), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(b, set_flag_fn, &b_done), XHAL_OK);
  sleep_ms(20);
  ck_assert_int_eq(atomic_load(&b_done), 0);
  gate_open(&gate);
  test_sync(b);
  ck_assert_int_eq(atomic_load(&b_done), 1);
  ck_assert_int_eq(atomic_load(&bad), 0);
  T->event_destroy(e);
  T->stream_destroy(a);
  T->stream_destroy(b);
  gate_destroy(&gate);
}
END_TEST

Suite* cpu_events_suite(void) {
  Suite* suite = suite_create("cpu_plugin_events");
  TCase* tc = tcase_create("events");
  tcase_add_checked_fixture(tc, plugin_setup, plugin_teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_event_timeout);
  tcase_add_test(tc, test_event_elapsed);
  tcase_add_test(tc, test_event_rerecord);
  tcase_add_test(tc, test_event_destroy_pending);
  tcase_add_test(tc, test_host_func_failure);
  tcase_add_test(tc, test_cross_stream_wait);
  suite_add_tcase(suite, tc);
  return suite;
}
