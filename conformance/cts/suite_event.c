/*
 * suite_event.c - events: waits that cover exactly the captured work,
 * queries, timeouts, re-recording, waits across streams, devices and
 * plugins, elapsed time, failure propagation (docs/abi.md, R-EVT-*).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cts.h"

/* ------------------------------------------------------------- helpers */

typedef struct waiter {
  xhal_event_t event;
  uint64_t timeout_ns;
  xhal_status_t status;
  atomic_int done;
  pthread_t thread;
} waiter_t;

static void* waiter_main(void* p) {
  waiter_t* w = p;
  w->status = xhal_event_wait(w->event, w->timeout_ns);
  atomic_store(&w->done, 1);
  return NULL;
}

static void waiter_start(waiter_t* w, xhal_event_t event, uint64_t timeout) {
  w->event = event;
  w->timeout_ns = timeout;
  w->status = XHAL_ERROR_INTERNAL;
  atomic_init(&w->done, 0);
  if (pthread_create(&w->thread, NULL, waiter_main, w) != 0)
    cts_fail("cannot start a waiting thread");
}

/* Waits up to timeout_ms for the waiter; 1 if it returned. */
static int waiter_join(waiter_t* w, uint32_t timeout_ms) {
  uint64_t end = cts_now_ns() + (uint64_t)timeout_ms * 1000000ull;
  while (!atomic_load(&w->done) && cts_now_ns() < end) cts_sleep_ms(1);
  if (!atomic_load(&w->done)) return 0;
  pthread_join(w->thread, NULL);
  return 1;
}

typedef struct flag_func {
  atomic_int value;
} flag_func_t;

static xhal_status_t set_flag(void* p) {
  atomic_store(&((flag_func_t*)p)->value, 1);
  return XHAL_OK;
}

/* Records into `seen` whether `flag` was set when the function ran. */
typedef struct observe {
  flag_func_t* flag;
  atomic_int seen;
  atomic_int ran;
} observe_t;

static xhal_status_t observe_flag(void* p) {
  observe_t* o = p;
  atomic_store(&o->seen, atomic_load(&o->flag->value));
  atomic_store(&o->ran, 1);
  return XHAL_OK;
}

static xhal_status_t sleep_30ms(void* unused) {
  (void)unused;
  cts_sleep_ms(30);
  return XHAL_OK;
}

/* ---------------------------------------------------------------- tests */

static void test_wait_covers_prior_work(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 4096, 0);
  uint8_t data[4096], back[4096];
  cts_rand_bytes(ctx, data, sizeof(data));
  cts_gate_t* gate = cts_gate_new();
  flag_func_t flag = {0};
  xhal_event_t event = cts_event(dev);
  cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
  cts_ok(xhal_stream_enqueue_write(stream, buf, 0, data, sizeof(data)),
         "write");
  cts_ok(xhal_stream_enqueue_host_func(stream, set_flag, &flag), "flag");
  cts_ok(xhal_stream_record_event(stream, event), "record");
  waiter_t w;
  waiter_start(&w, event, XHAL_TIMEOUT_INFINITE);
  cts_step("event_wait (infinite) while the captured work is gated");
  int returned = waiter_join(&w, 200);
  cts_check(!returned,
            "event_wait returned %s while the work it captured was still "
            "blocked (event signalled before its work completed)",
            xhal_status_name(w.status));
  cts_gate_open(gate);
  cts_check(waiter_join(&w, 10000),
            "event_wait did not return within 10 s after the work could run");
  cts_ok(w.status, "event_wait after the work completed");
  cts_check(atomic_load(&flag.value),
            "event_wait returned before the last host function before the "
            "record ran");
  /* The write is visible to another stream without synchronising. */
  xhal_stream_t other = cts_stream(dev);
  cts_read_sync(other, buf, 0, back, sizeof(back));
  cts_check(memcmp(back, data, sizeof(data)) == 0,
            "after event_wait the write before the record is not visible");
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  cts_gate_free(gate);
  xhal_event_release(event);
  xhal_stream_release(other);
  xhal_stream_release(stream);
  xhal_buffer_release(buf);
}

static void test_query_not_ready(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  cts_gate_t* gate = cts_gate_new();
  xhal_event_t event = cts_event(dev);
  cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
  cts_ok(xhal_stream_record_event(stream, event), "record");
  cts_sleep_ms(20);
  cts_expect(xhal_event_query(event), XHAL_ERROR_NOT_READY,
             "event_query while the captured work is gated");
  cts_gate_open(gate);
  cts_ok(xhal_event_wait(event, 10000000000ull), "event_wait");
  cts_ok(xhal_event_query(event), "event_query after completion");
  cts_gate_free(gate);
  xhal_event_release(event);
  xhal_stream_release(stream);
}

static void test_wait_timeout(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  cts_gate_t* gate = cts_gate_new();
  xhal_event_t event = cts_event(dev);
  cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
  cts_ok(xhal_stream_record_event(stream, event), "record");
  const uint64_t timeouts_ms[] = {1, 50};
  for (size_t i = 0; i < 2; ++i) {
    uint64_t t0 = cts_now_ns();
    cts_step("event_wait with a %llu ms timeout on gated work",
             (unsigned long long)timeouts_ms[i]);
    cts_expect(xhal_event_wait(event, timeouts_ms[i] * 1000000ull),
               XHAL_ERROR_TIMEOUT, "event_wait(%llu ms) on gated work",
               (unsigned long long)timeouts_ms[i]);
    uint64_t took = cts_now_ns() - t0;
    cts_check(took >= timeouts_ms[i] * 1000000ull,
              "event_wait(%llu ms) timed out after %.3f ms, before its timeout",
              (unsigned long long)timeouts_ms[i], (double)took / 1e6);
    cts_check(took < timeouts_ms[i] * 1000000ull + 2000000000ull,
              "event_wait(%llu ms) took %.0f ms to time out",
              (unsigned long long)timeouts_ms[i], (double)took / 1e6);
  }
  cts_gate_open(gate);
  cts_ok(xhal_event_wait(event, 10000000000ull),
         "the work completes after a timed-out wait");
  cts_gate_free(gate);
  xhal_event_release(event);
  xhal_stream_release(stream);
}

static void test_wait_zero_polls(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_device_properties_t props;
  cts_ok(xhal_device_properties(dev, &props), "properties");
  xhal_stream_t stream = cts_stream(dev);
  xhal_event_t event = cts_event(dev);
  cts_gate_t* gate = cts_gate_new();
  if (props.capabilities & XHAL_CAP_HOST_FUNC) {
    cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
    cts_ok(xhal_stream_record_event(stream, event), "record");
    uint64_t t0 = cts_now_ns();
    cts_step("event_wait(0) on gated work");
    xhal_status_t s = xhal_event_wait(event, 0);
    uint64_t took = cts_now_ns() - t0;
    cts_expect(s, XHAL_ERROR_TIMEOUT, "event_wait(0) on pending work");
    cts_check(took < 100000000ull, "event_wait(0) took %.1f ms",
              (double)took / 1e6);
    cts_gate_open(gate);
  } else {
    cts_ok(xhal_stream_record_event(stream, event), "record");
  }
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  uint64_t t0 = cts_now_ns();
  cts_ok(xhal_event_wait(event, 0), "event_wait(0) on completed work");
  cts_check(cts_now_ns() - t0 < 100000000ull,
            "event_wait(0) on completed work took more than 100 ms");
  cts_gate_free(gate);
  xhal_event_release(event);
  xhal_stream_release(stream);
}

static void test_rerecord(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_event_t event = cts_event(dev);
  cts_ok(xhal_stream_record_event(stream, event), "first record");
  cts_ok(xhal_event_wait(event, 10000000000ull), "wait on the first record");
  cts_gate_t* gate = cts_gate_new();
  cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
  cts_ok(xhal_stream_record_event(stream, event), "second record");
  cts_sleep_ms(20);
  cts_expect(xhal_event_query(event), XHAL_ERROR_NOT_READY,
             "event_query after re-recording behind gated work (the event "
             "still answers for its first record)");
  cts_expect(xhal_event_wait(event, 1000000ull), XHAL_ERROR_TIMEOUT,
             "event_wait(1 ms) after re-recording behind gated work");
  cts_gate_open(gate);
  cts_ok(xhal_event_wait(event, 10000000000ull), "wait on the second record");
  cts_gate_free(gate);
  xhal_event_release(event);
  xhal_stream_release(stream);
}

/* Stream `a` runs gated work then sets a flag and records `event`;
 * stream `b` waits on the event, then observes the flag. */
static void check_wait_chain(xhal_stream_t a, xhal_stream_t b,
                             xhal_event_t event, const char* what) {
  cts_gate_t* gate = cts_gate_new();
  flag_func_t flag = {0};
  observe_t obs;
  obs.flag = &flag;
  atomic_init(&obs.seen, 0);
  atomic_init(&obs.ran, 0);
  /* A device without asynchronous host functions runs the gate (and a
   * host without an asynchronous wait path waits) right here, so the
   * gate opens from another thread. */
  cts_gate_open_after(gate, 100);
  cts_ok(xhal_stream_enqueue_host_func(a, cts_gate_func, gate), "%s: gate",
         what);
  cts_ok(xhal_stream_enqueue_host_func(a, set_flag, &flag), "%s: flag", what);
  cts_ok(xhal_stream_record_event(a, event), "%s: record", what);
  cts_step("%s: stream_wait_event", what);
  cts_ok(xhal_stream_wait_event(b, event), "%s: stream_wait_event", what);
  cts_ok(xhal_stream_enqueue_host_func(b, observe_flag, &obs), "%s: observer",
         what);
  cts_step("%s: synchronize the waiting stream", what);
  cts_ok(xhal_stream_synchronize(b), "%s: synchronize the waiting stream",
         what);
  cts_ok(xhal_stream_synchronize(a), "%s: synchronize the gated stream", what);
  cts_check(atomic_load(&obs.ran), "%s: the waiting stream's work never ran",
            what);
  cts_check(atomic_load(&obs.seen),
            "%s: work after stream_wait_event ran before the event's work "
            "completed",
            what);
  cts_gate_free(gate);
}

static void test_cross_stream(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_device_properties_t props;
  cts_ok(xhal_device_properties(dev, &props), "properties");
  if (!(props.capabilities & XHAL_CAP_HOST_FUNC))
    cts_skip("XHAL_CAP_HOST_FUNC");
  xhal_stream_t a = cts_stream(dev);
  xhal_stream_t b = cts_stream(dev);
  xhal_event_t event = cts_event(dev);
  check_wait_chain(a, b, event, "cross-stream");
  xhal_event_release(event);
  xhal_stream_release(a);
  xhal_stream_release(b);
}

static void test_cross_device(cts_ctx_t* ctx) {
  xhal_device_t d0 = cts_device(ctx);
  xhal_device_t d1 = cts_device2(ctx);
  xhal_stream_t s0 = cts_stream(d0);
  xhal_stream_t s1 = cts_stream(d1);
  xhal_event_t e1 = cts_event(d1);
  xhal_event_t e0 = cts_event(d0);
  check_wait_chain(s1, s0, e1, "device 1 -> device 0");
  check_wait_chain(s0, s1, e0, "device 0 -> device 1");
  xhal_event_release(e0);
  xhal_event_release(e1);
  xhal_stream_release(s0);
  xhal_stream_release(s1);
}

static void test_cross_plugin(cts_ctx_t* ctx) {
  xhal_device_t ours = cts_device(ctx);
  xhal_device_t theirs = cts_partner_device(ctx);
  xhal_stream_t s0 = cts_stream(ours);
  xhal_stream_t s1 = cts_stream(theirs);
  xhal_event_t e0 = cts_event(ours);
  xhal_event_t e1 = cts_event(theirs);
  check_wait_chain(s1, s0, e1, "partner plugin -> this plugin");
  check_wait_chain(s0, s1, e0, "this plugin -> partner plugin");
  xhal_event_release(e0);
  xhal_event_release(e1);
  xhal_stream_release(s0);
  xhal_stream_release(s1);
}

/* Appends a letter to a log in stream order. */
typedef struct letter_log {
  char text[64];
  atomic_uint length;
} letter_log_t;

typedef struct letter {
  letter_log_t* log;
  char value;
} letter_t;

static xhal_status_t append_letter(void* p) {
  letter_t* l = p;
  unsigned n = atomic_fetch_add(&l->log->length, 1u);
  if (n < sizeof(l->log->text) - 1) l->log->text[n] = l->value;
  return XHAL_OK;
}

/* Streams `a` and `b` ping-pong through `ea` (of a's device) and `eb`:
 * each event is recorded again before the other stream (held back by a
 * gate at first) has reached its wait on the previous record. Every wait
 * must bind to the record before it, else the program waits on its own
 * future. */
static void check_rerecord_ping_pong(xhal_stream_t a, xhal_stream_t b,
                                     xhal_event_t ea, xhal_event_t eb,
                                     const char* what) {
  enum { kRounds = 4 };
  cts_gate_t* gate = cts_gate_new();
  letter_log_t log;
  memset(&log, 0, sizeof(log));
  letter_t la = {&log, 'A'}, lb = {&log, 'B'};
  cts_gate_open_after(gate, 100);
  cts_ok(xhal_stream_enqueue_host_func(b, cts_gate_func, gate), "%s: gate",
         what);
  for (int round = 0; round < kRounds; ++round) {
    cts_ok(xhal_stream_enqueue_host_func(a, append_letter, &la), "%s: A", what);
    cts_ok(xhal_stream_record_event(a, ea), "%s: record A's event", what);
    cts_ok(xhal_stream_wait_event(b, ea), "%s: B waits on A's event", what);
    cts_ok(xhal_stream_enqueue_host_func(b, append_letter, &lb), "%s: B", what);
    cts_ok(xhal_stream_record_event(b, eb), "%s: record B's event", what);
    cts_ok(xhal_stream_wait_event(a, eb), "%s: A waits on B's event", what);
  }
  cts_ok(xhal_stream_record_event(a, ea), "%s: last record", what);
  cts_step("%s: wait for the last records", what);
  xhal_status_t wa = xhal_event_wait(ea, 10000000000ull);
  xhal_status_t wb = xhal_event_wait(eb, 10000000000ull);
  if (wa == XHAL_ERROR_TIMEOUT || wb == XHAL_ERROR_TIMEOUT) {
    cts_gate_open(gate);
    cts_fail(
        "%s: the ping-pong deadlocked: a wait bound to a record made "
        "after it (event of A: %s, event of B: %s)",
        what, xhal_status_name(wa), xhal_status_name(wb));
  }
  cts_ok(wa, "%s: wait on A's last record", what);
  cts_ok(wb, "%s: wait on B's last record", what);
  cts_ok(xhal_stream_synchronize(a), "%s: synchronize A", what);
  cts_ok(xhal_stream_synchronize(b), "%s: synchronize B", what);
  cts_check(strcmp(log.text, "ABABABAB") == 0,
            "%s: the streams ran '%s', not alternately ABABABAB", what,
            log.text);
  cts_gate_free(gate);
}

static void test_cross_plugin_rerecord(cts_ctx_t* ctx) {
  xhal_device_t ours = cts_device(ctx);
  xhal_device_t theirs = cts_partner_device(ctx);
  xhal_stream_t s0 = cts_stream(ours);
  xhal_stream_t s1 = cts_stream(theirs);
  xhal_event_t e0 = cts_event(ours);
  xhal_event_t e1 = cts_event(theirs);
  check_rerecord_ping_pong(s0, s1, e0, e1, "this plugin records first");
  check_rerecord_ping_pong(s1, s0, e1, e0, "partner plugin records first");
  xhal_event_release(e0);
  xhal_event_release(e1);
  xhal_stream_release(s0);
  xhal_stream_release(s1);
}

/* Records a, b, c around `between` (a host function, or a fill of
 * `fill_bytes` when NULL) and returns elapsed(a, a), (a, b), (a, c). */
static void elapsed_triplet(cts_ctx_t* ctx, xhal_host_func_t between,
                            uint64_t fill_bytes, uint64_t out[3],
                            uint64_t* wall_ns) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = fill_bytes ? cts_buffer(ctx, dev, fill_bytes, 0) : NULL;
  xhal_event_t e[3] = {cts_event(dev), cts_event(dev), cts_event(dev)};
  uint8_t pattern = 0x5A;
  uint64_t t0 = cts_now_ns();
  for (int i = 0; i < 3; ++i) {
    cts_ok(xhal_stream_record_event(stream, e[i]), "record %c", 'a' + i);
    if (i == 2) break;
    if (between) {
      cts_ok(xhal_stream_enqueue_host_func(stream, between, NULL), "sleep");
    } else {
      cts_ok(xhal_stream_enqueue_fill(stream, buf, 0, fill_bytes, &pattern, 1),
             "fill %llu bytes", (unsigned long long)fill_bytes);
    }
  }
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  *wall_ns = cts_now_ns() - t0;
  for (int i = 0; i < 3; ++i) {
    cts_ok(xhal_event_elapsed(e[0], e[i], &out[i]), "elapsed(a, %c)", 'a' + i);
  }
  for (int i = 0; i < 3; ++i) xhal_event_release(e[i]);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

static void test_elapsed_monotonic(cts_ctx_t* ctx) {
  /* Device work between the records: its time shows on any timer, a
   * simulator's included. */
  xhal_device_properties_t p;
  cts_ok(xhal_device_properties(cts_device(ctx), &p), "properties");
  uint64_t bytes =
      p.max_alloc_bytes < (4u << 20) ? p.max_alloc_bytes : (4u << 20);
  uint64_t t[3], wall = 0;
  elapsed_triplet(ctx, NULL, bytes, t, &wall);
  cts_check(t[0] == 0, "elapsed(a, a) is %llu ns", (unsigned long long)t[0]);
  cts_check(t[1] > 0,
            "elapsed(a, b) is 0 around a %llu-byte fill (the device timer "
            "does not advance with device work)",
            (unsigned long long)bytes);
  cts_check(t[1] < t[2],
            "elapsed(a, b) %llu ns is not below elapsed(a, c) %llu ns with "
            "a fill between b and c",
            (unsigned long long)t[1], (unsigned long long)t[2]);
}

static void test_elapsed_real_time(cts_ctx_t* ctx) {
  uint64_t t[3], wall = 0;
  elapsed_triplet(ctx, sleep_30ms, 0, t, &wall);
  /* 30 ms of stream time between a and b, 60 ms between a and c; 1 ms
   * of slack for timer granularity. */
  cts_check(t[1] >= 29000000ull,
            "elapsed(a, b) is %.3f ms around 30 ms of stream time",
            (double)t[1] / 1e6);
  cts_check(t[2] >= 59000000ull,
            "elapsed(a, c) is %.3f ms around 60 ms of stream time",
            (double)t[2] / 1e6);
  cts_check(t[2] <= wall + 5000000ull,
            "elapsed(a, c) %.3f ms exceeds the %.3f ms the host waited "
            "(timer ratio wrong?)",
            (double)t[2] / 1e6, (double)wall / 1e6);
}

/* Device time is the time the work took: timestamps taken when work is
 * queued rather than when it completes, or a timer ratio off by a
 * factor, break it. Two checks that hold on any timer, a simulator's
 * included: moving 32 MiB takes longer than moving four single bytes
 * (best of three tries, as a host thread may be descheduled in the
 * middle of any of them), and no device writes host memory faster than
 * 1 TB/s. A gate holds the stream while everything is queued, so the
 * work runs after all the records were enqueued. */
static void test_elapsed_covers_work(cts_ctx_t* ctx) {
  enum { kTries = 3, kTiny = 4 };
  xhal_device_t dev = cts_device(ctx);
  xhal_device_properties_t p;
  cts_ok(xhal_device_properties(dev, &p), "properties");
  uint64_t bytes =
      p.max_alloc_bytes < (32u << 20) ? p.max_alloc_bytes : (32u << 20);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, bytes, 0);
  uint8_t* data = cts_alloc(bytes);
  cts_rand_bytes(ctx, data, bytes < 4096 ? bytes : 4096);
  for (uint64_t i = 4096; i < bytes; ++i) data[i] = (uint8_t)(i * 131u);
  xhal_event_t e[3] = {cts_event(dev), cts_event(dev), cts_event(dev)};
  uint64_t big = 0, tiny = 0;
  int ordered = 0;
  for (int t = 0; t < kTries && !ordered; ++t) {
    cts_gate_t* gate = cts_gate_new();
    cts_gate_open_after(gate, 20);
    cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
    cts_ok(xhal_stream_record_event(stream, e[0]), "record a");
    cts_ok(xhal_stream_enqueue_write(stream, buf, 0, data, bytes),
           "write %llu bytes", (unsigned long long)bytes);
    cts_ok(xhal_stream_record_event(stream, e[1]), "record b");
    for (int i = 0; i < kTiny; ++i) {
      cts_ok(xhal_stream_enqueue_write(stream, buf, (uint64_t)i, data + i, 1),
             "write 1 byte");
    }
    cts_ok(xhal_stream_record_event(stream, e[2]), "record c");
    cts_step("synchronize after timed writes, try %d", t);
    cts_ok(xhal_stream_synchronize(stream), "synchronize");
    cts_gate_free(gate);
    cts_ok(xhal_event_elapsed(e[0], e[1], &big), "elapsed(a, b)");
    cts_ok(xhal_event_elapsed(e[1], e[2], &tiny), "elapsed(b, c)");
    ordered = big > tiny;
  }
  cts_check(ordered,
            "elapsed time around a write of %llu bytes (%llu ns) is not "
            "above the time around %d writes of 1 byte (%llu ns) in %d "
            "tries: are timestamps taken when the work completes?",
            (unsigned long long)bytes, (unsigned long long)big, kTiny,
            (unsigned long long)tiny, kTries);
  uint64_t floor_ns = bytes / 1000u; /* 1 TB/s = 1000 bytes per ns */
  cts_check(big >= floor_ns,
            "elapsed time around a write of %llu bytes from host memory is "
            "%llu ns, faster than 1 TB/s (at least %llu ns): is the timer "
            "ratio %u/%u right?",
            (unsigned long long)bytes, (unsigned long long)big,
            (unsigned long long)floor_ns, p.timer_numerator,
            p.timer_denominator);
  for (int i = 0; i < 3; ++i) xhal_event_release(e[i]);
  free(data);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

/* A stream waiting on another stream's event runs nothing of its later
 * work before the event's work completed: small and large copies that
 * depend on the data the other stream writes, and again after the event
 * was recorded a second time (the wait covers the latest record). */
static void test_cross_stream_order(cts_ctx_t* ctx) {
  enum { kSmall = 64, kBytes = 200000 };
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t producer = cts_stream(dev);
  xhal_stream_t consumer = cts_stream(dev);
  xhal_event_t event = cts_event(dev);
  xhal_buffer_t a = cts_buffer(ctx, dev, kBytes, 0);
  xhal_buffer_t b = cts_buffer(ctx, dev, kBytes, 0);
  uint8_t* zeros = cts_alloc(kBytes);
  uint8_t* data = cts_alloc(kBytes);
  uint8_t* back = cts_alloc(kBytes);
  memset(zeros, 0, kBytes);
  cts_write_sync(producer, a, 0, zeros, kBytes);
  cts_write_sync(producer, b, 0, zeros, kBytes);
  for (int round = 0; round < 2; ++round) {
    cts_rand_bytes(ctx, data, kBytes);
    cts_gate_t* gate = cts_gate_new();
    cts_gate_open_after(gate, 100);
    cts_ok(xhal_stream_enqueue_host_func(producer, cts_gate_func, gate),
           "gate (round %d)", round);
    cts_ok(xhal_stream_enqueue_write(producer, a, 0, data, kBytes),
           "write a (round %d)", round);
    cts_ok(xhal_stream_record_event(producer, event), "record (round %d)",
           round);
    cts_step("stream_wait_event, round %d", round);
    cts_ok(xhal_stream_wait_event(consumer, event),
           "stream_wait_event (round %d)", round);
    cts_ok(xhal_stream_enqueue_copy(consumer, a, 0, b, 0, kSmall),
           "small copy a -> b (round %d)", round);
    cts_ok(xhal_stream_enqueue_copy(consumer, a, kSmall, b, kSmall,
                                    kBytes - kSmall),
           "large copy a -> b (round %d)", round);
    cts_ok(xhal_stream_enqueue_read(consumer, b, 0, back, kBytes),
           "read b (round %d)", round);
    cts_step("synchronize the waiting stream, round %d", round);
    cts_ok(xhal_stream_synchronize(consumer), "synchronize the waiting stream");
    cts_ok(xhal_stream_synchronize(producer), "synchronize the producer");
    uint64_t at = cts_first_diff(back, data, kBytes);
    cts_check(at == kBytes,
              "%s: copies after stream_wait_event read the source before "
              "the other stream wrote it (byte %llu of %u differs)",
              round == 0 ? "first record" : "event recorded again",
              (unsigned long long)at, (unsigned)kBytes);
    cts_gate_free(gate);
  }
  free(zeros);
  free(data);
  free(back);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_event_release(event);
  xhal_stream_release(producer);
  xhal_stream_release(consumer);
}

static void test_failure_propagates(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t a = cts_stream(dev);
  xhal_stream_t b = cts_stream(dev);
  xhal_event_t event = cts_event(dev);
  cts_ok(xhal_stream_enqueue_host_func(a, cts_failing_func, NULL),
         "failing host function");
  cts_ok(xhal_stream_record_event(a, event), "record after the failure");
  cts_step("event_wait on an event recorded after a failure");
  xhal_status_t s = xhal_event_wait(event, 10000000000ull);
  cts_check(s != XHAL_OK && s != XHAL_ERROR_TIMEOUT,
            "event_wait on an event recorded after failed work returned %s "
            "(want the failure)",
            xhal_status_name(s));
  s = xhal_event_query(event);
  cts_check(s != XHAL_OK && s != XHAL_ERROR_NOT_READY,
            "event_query on an event recorded after failed work returned %s",
            xhal_status_name(s));
  /* A stream waiting on the failed event fails too. */
  xhal_buffer_t buf = cts_buffer(ctx, dev, 16, 0);
  uint8_t zeros[16] = {0}, ones[16], back[16];
  memset(ones, 1, sizeof(ones));
  cts_write_sync(b, buf, 0, zeros, sizeof(zeros));
  xhal_status_t w = xhal_stream_wait_event(b, event);
  if (w == XHAL_OK) {
    xhal_status_t e = xhal_stream_enqueue_write(b, buf, 0, ones, 16);
    (void)e;
    cts_step("synchronize a stream that waited on a failed event");
    cts_check(xhal_stream_synchronize(b) != XHAL_OK,
              "a stream that waited on a failed event synchronizes with "
              "XHAL_OK");
    xhal_stream_t c = cts_stream(dev);
    cts_read_sync(c, buf, 0, back, sizeof(back));
    cts_check(memcmp(back, zeros, sizeof(back)) == 0,
              "work after a wait on a failed event ran anyway");
    xhal_stream_release(c);
  }
  xhal_buffer_release(buf);
  xhal_event_release(event);
  xhal_stream_release(a);
  xhal_stream_release(b);
}

static void test_destroy_pending(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  cts_gate_t* gate = cts_gate_new();
  xhal_event_t event = cts_event(dev);
  cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
  cts_ok(xhal_stream_record_event(stream, event), "record");
  cts_gate_open_after(gate, 50);
  cts_step("event_destroy while its record is pending");
  xhal_event_release(event);
  cts_step("synchronize after destroying a pending event");
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  cts_gate_free(gate);
  xhal_stream_release(stream);
}

static void test_never_recorded(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  xhal_plugin_device_t dev = NULL;
  cts_ok(cts_direct_device(d, d->device_under_test, &dev), "device_open(%u)",
         d->device_under_test);
  xhal_plugin_event_t event = NULL;
  cts_ok(d->table.event_create(dev, &event), "event_create");
  cts_step("event_wait on a never-recorded event");
  cts_expect(d->table.event_wait(event, 0), XHAL_ERROR_INVALID_STATE,
             "event_wait(0) on an event never recorded");
  cts_expect(d->table.event_wait(event, 1000000ull), XHAL_ERROR_INVALID_STATE,
             "event_wait(1 ms) on an event never recorded");
  cts_expect(d->table.event_query(event), XHAL_ERROR_INVALID_STATE,
             "event_query on an event never recorded");
  d->table.event_destroy(event);
}

/* R-EVT-15: event_elapsed with an event never recorded is
 * XHAL_ERROR_INVALID_STATE, with one whose work is pending
 * XHAL_ERROR_NOT_READY at once (no wait), with one that failed that
 * failure's status. */
static void test_elapsed_states(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = NULL;
  cts_ok(cts_direct_device(d, d->device_under_test, &dev), "device_open(%u)",
         d->device_under_test);
  xhal_plugin_stream_t s = NULL;
  xhal_plugin_event_t done = NULL, never = NULL, later = NULL;
  cts_ok(t->stream_create(dev, 0, &s), "stream_create");
  cts_ok(t->event_create(dev, &done), "event_create");
  cts_ok(t->event_create(dev, &never), "event_create");
  cts_ok(t->event_create(dev, &later), "event_create");
  cts_ok(t->event_record(done, s), "event_record");
  cts_ok(t->stream_synchronize(s), "stream_synchronize");
  uint64_t ns = 0;
  cts_step("event_elapsed with an event never recorded");
  cts_expect(t->event_elapsed(done, never, &ns), XHAL_ERROR_INVALID_STATE,
             "event_elapsed(recorded, never recorded)");
  cts_expect(t->event_elapsed(never, done, &ns), XHAL_ERROR_INVALID_STATE,
             "event_elapsed(never recorded, recorded)");
  if (t->enqueue_host_func) {
    cts_gate_t* gate = cts_gate_new();
    cts_ok(t->enqueue_host_func(s, cts_gate_func, gate), "enqueue a gate");
    cts_ok(t->event_record(later, s), "event_record behind the gate");
    /* A plugin that waits here is released after the bound and fails. */
    cts_gate_open_after(gate, cts_progress_ms(ctx));
    cts_step("event_elapsed with an event whose work is pending");
    const xhal_status_t pending = t->event_elapsed(done, later, &ns);
    const int opened =
        cts_gate_reached(gate) && pending != XHAL_ERROR_NOT_READY;
    /* The gate is freed only once the stream has passed it. */
    cts_gate_join(gate);
    cts_ok(t->stream_synchronize(s), "stream_synchronize");
    cts_gate_free(gate);
    cts_check(pending == XHAL_ERROR_NOT_READY,
              "event_elapsed(recorded, pending) returned %s%s, want "
              "XHAL_ERROR_NOT_READY at once",
              xhal_status_name(pending),
              opened ? " (after the work it waited for completed)" : "");
    cts_ok(t->event_elapsed(done, later, &ns),
           "event_elapsed once the pending work completed");
    cts_ok(t->enqueue_host_func(s, cts_failing_func, NULL),
           "enqueue a failing host function");
    cts_ok(t->event_record(later, s), "event_record after the failure");
    cts_step("stream_synchronize of the failed stream");
    cts_check(t->stream_synchronize(s) != XHAL_OK,
              "a failing host function did not fail its stream");
    cts_expect(t->event_elapsed(done, later, &ns), XHAL_ERROR_EXECUTION_FAILED,
               "event_elapsed(recorded, failed) after a host function "
               "returned XHAL_ERROR_EXECUTION_FAILED");
  }
  t->event_destroy(done);
  t->event_destroy(never);
  t->event_destroy(later);
  t->stream_destroy(s);
}

static const cts_test_t kTests[] = {
    {"elapsed_states", "R-EVT-15", CTS_PROFILE_CORE, CTS_NEED_PROFILING,
     test_elapsed_states, 0},
    {"wait_covers_prior_work", "R-EVT-1", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_wait_covers_prior_work, 0},
    {"query_not_ready", "R-EVT-2", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_query_not_ready, 0},
    {"wait_timeout", "R-EVT-3", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_wait_timeout, 0},
    {"wait_zero_polls", "R-EVT-4", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_wait_zero_polls, 0},
    {"rerecord", "R-EVT-5", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC, test_rerecord,
     0},
    {"cross_stream", "R-EVT-6", CTS_PROFILE_CORE, CTS_NEED_WAIT_EVENT,
     test_cross_stream, 0},
    {"cross_device", "R-EVT-7", CTS_PROFILE_CORE, CTS_NEED_TWO_DEVICES,
     test_cross_device, 0},
    {"cross_plugin", "R-EVT-8", CTS_PROFILE_CORE, CTS_NEED_PARTNER,
     test_cross_plugin, 0},
    {"cross_plugin_rerecord", "R-EVT-14", CTS_PROFILE_CORE, CTS_NEED_PARTNER,
     test_cross_plugin_rerecord, 0},
    {"elapsed_monotonic", "R-EVT-9", CTS_PROFILE_CORE, CTS_NEED_PROFILING,
     test_elapsed_monotonic, 0},
    {"elapsed_real_time", "R-EVT-13", CTS_PROFILE_OPTIONAL, CTS_NEED_PROFILING,
     test_elapsed_real_time, 0},
    {"failure_propagates", "R-EVT-10", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_failure_propagates, 0},
    {"destroy_pending", "R-EVT-11", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_destroy_pending, 0},
    {"never_recorded", "R-EVT-12", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_never_recorded, 0},
    {"elapsed_covers_work", "R-EVT-16", CTS_PROFILE_CORE, CTS_NEED_PROFILING,
     test_elapsed_covers_work, 0},
    {"cross_stream_order", "R-EVT-6", CTS_PROFILE_CORE, CTS_NEED_WAIT_EVENT,
     test_cross_stream_order, 0},
};

const cts_suite_t cts_suite_event = {"event", kTests,
                                     sizeof(kTests) / sizeof(kTests[0])};
