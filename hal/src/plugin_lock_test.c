/*
 * plugin_lock_test.c - libxhal holds no lock that other devices or threads
 * need while it calls into a plugin. The "blocking" test plugin (the CPU
 * plugin with gates, hal/test_plugins/blocking_plugin.c) keeps a
 * buffer_map or a buffer_alloc waiting inside the plugin; meanwhile every
 * call on the plain CPU plugin's device of the same instance, and other
 * buffers' maps, must complete.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <xhal/xhal.h>

#include "test_util.h"

enum { kGateAlloc = 0, kGateMap = 1 };
typedef int (*gate_fn)(int gate, int closed);

static gate_fn g_gate;
static xhal_instance_t g_instance;
static xhal_device_t g_blocking; /* device 0: the gated plugin */
static xhal_device_t g_cpu;      /* device 1: the plain CPU plugin */

static void setup(void) {
  static const char* const paths[] = {XHAL_BLOCKING_PLUGIN_PATH,
                                      XHAL_CPU_PLUGIN_PATH};
  g_instance = test_instance_on(paths, 2);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_device_count(g_instance, &count), XHAL_OK);
  ck_assert_uint_eq(count, 2);
  ck_assert_int_eq(xhal_instance_device(g_instance, 0, &g_blocking), XHAL_OK);
  ck_assert_int_eq(xhal_instance_device(g_instance, 1, &g_cpu), XHAL_OK);
  ck_assert_str_eq(xhal_device_plugin_name(g_blocking), "blocking");
  /* The module libxhal loaded; its gate is the test's handle on it. */
  void* dl = dlopen(XHAL_BLOCKING_PLUGIN_PATH, RTLD_NOW | RTLD_NOLOAD);
  ck_assert_ptr_nonnull(dl);
  g_gate = (gate_fn)(uintptr_t)dlsym(dl, "blocking_gate");
  ck_assert_ptr_nonnull(g_gate);
  dlclose(dl);
}

static void teardown(void) {
  g_gate(kGateAlloc, 0);
  g_gate(kGateMap, 0);
  xhal_instance_release(g_instance);
}

static void nap_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* Waits until `n` calls wait at `gate`. */
static void await_inside(int gate, int n) {
  for (int i = 0; i < 5000 && g_gate(gate, -1) < n; ++i) nap_ms(1);
  ck_assert_int_eq(g_gate(gate, -1), n);
}

/* ------------------------------------------------ the call held inside */

typedef struct held {
  xhal_buffer_t buffer; /* for the map */
  xhal_device_t device; /* for the alloc */
  xhal_status_t status;
  void* ptr;
  xhal_buffer_t out;
} held_t;

static void* map_thread(void* arg) {
  held_t* h = arg;
  h->status = xhal_buffer_map(h->buffer, 0, 64, XHAL_MAP_WRITE, &h->ptr);
  return NULL;
}

static void* alloc_thread(void* arg) {
  held_t* h = arg;
  h->status = xhal_buffer_alloc(h->device, 256, 0, &h->out);
  return NULL;
}

/* ---------------------------------------- what must go on meanwhile */

typedef struct probe {
  atomic_int done;
  xhal_status_t status;
  xhal_buffer_t other; /* a host-visible buffer of the plain device */
} probe_t;

/* Work on the plain CPU device: allocations, a stream with an event, a
 * map of its own buffer, releases. */
static void* probe_thread(void* arg) {
  probe_t* p = arg;
  xhal_buffer_t buffer = NULL;
  xhal_stream_t stream = NULL;
  xhal_event_t event = NULL;
  void* ptr = NULL;
  uint32_t v = 5;
  xhal_status_t st = xhal_buffer_alloc(g_cpu, 1024, 0, &buffer);
  if (st == XHAL_OK) st = xhal_stream_create(g_cpu, &stream);
  if (st == XHAL_OK) st = xhal_event_create(g_cpu, &event);
  if (st == XHAL_OK) st = xhal_stream_enqueue_write(stream, buffer, 0, &v, 4);
  if (st == XHAL_OK) st = xhal_stream_record_event(stream, event);
  if (st == XHAL_OK) st = xhal_event_wait(event, XHAL_TIMEOUT_INFINITE);
  if (st == XHAL_OK) st = xhal_buffer_map(p->other, 0, 64, XHAL_MAP_READ, &ptr);
  if (st == XHAL_OK) st = xhal_buffer_unmap(p->other, ptr);
  xhal_event_release(event);
  xhal_stream_release(stream);
  xhal_buffer_release(buffer);
  p->status = st;
  atomic_store(&p->done, 1);
  return NULL;
}

/* Runs the probe while a call is held in the plugin: it must finish
 * within 10 s (it takes milliseconds when nothing blocks it). */
static void probe_completes_while_held(void) {
  probe_t p = {0};
  ck_assert_int_eq(
      xhal_buffer_alloc(g_cpu, 4096, XHAL_MEMORY_HOST_VISIBLE, &p.other),
      XHAL_OK);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, probe_thread, &p), 0);
  for (int i = 0; i < 10000 && !atomic_load(&p.done); ++i) nap_ms(1);
  int done = atomic_load(&p.done);
  /* Let everything go before asserting, so no thread is left waiting. */
  g_gate(kGateAlloc, 0);
  g_gate(kGateMap, 0);
  pthread_join(t, NULL);
  xhal_buffer_release(p.other);
  ck_assert_msg(done,
                "calls on another device waited for a call held "
                "inside a plugin");
  ck_assert_int_eq(p.status, XHAL_OK);
}

START_TEST(map_held_in_plugin_blocks_no_other_device) {
  held_t h = {0};
  h.status = -1;
  ck_assert_int_eq(
      xhal_buffer_alloc(g_blocking, 4096, XHAL_MEMORY_HOST_VISIBLE, &h.buffer),
      XHAL_OK);
  g_gate(kGateMap, 1);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, map_thread, &h), 0);
  await_inside(kGateMap, 1);
  probe_completes_while_held();
  pthread_join(t, NULL);
  ck_assert_int_eq(h.status, XHAL_OK);
  ck_assert_int_eq(xhal_buffer_unmap(h.buffer, h.ptr), XHAL_OK);
  xhal_buffer_release(h.buffer);
}
END_TEST

START_TEST(alloc_held_in_plugin_blocks_no_other_device) {
  held_t h = {0};
  h.status = -1;
  h.device = g_blocking;
  g_gate(kGateAlloc, 1);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, alloc_thread, &h), 0);
  await_inside(kGateAlloc, 1);
  probe_completes_while_held();
  pthread_join(t, NULL);
  ck_assert_int_eq(h.status, XHAL_OK);
  xhal_buffer_release(h.out);
}
END_TEST

/* Two maps of one buffer, one held in the plugin: the slot accounting
 * still refuses a ninth live mapping and frees the held one's slot. */
START_TEST(map_slots_count_maps_in_flight) {
  xhal_buffer_t buffer = NULL;
  ck_assert_int_eq(
      xhal_buffer_alloc(g_blocking, 4096, XHAL_MEMORY_HOST_VISIBLE, &buffer),
      XHAL_OK);
  void* ptrs[7];
  for (int i = 0; i < 7; ++i) {
    ck_assert_int_eq(xhal_buffer_map(buffer, (uint64_t)(i + 1) * 64, 64,
                                     XHAL_MAP_READ, &ptrs[i]),
                     XHAL_OK);
  }
  held_t h = {0};
  h.status = -1;
  h.buffer = buffer;
  g_gate(kGateMap, 1);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, map_thread, &h), 0);
  await_inside(kGateMap, 1);
  void* extra = NULL;
  ck_assert_int_eq(xhal_buffer_map(buffer, 512, 64, XHAL_MAP_READ, &extra),
                   XHAL_ERROR_INVALID_STATE);
  g_gate(kGateMap, 0);
  pthread_join(t, NULL);
  ck_assert_int_eq(h.status, XHAL_OK);
  ck_assert_int_eq(xhal_buffer_unmap(buffer, h.ptr), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_unmap(buffer, h.ptr), XHAL_ERROR_INVALID_STATE);
  for (int i = 0; i < 7; ++i) {
    ck_assert_int_eq(xhal_buffer_unmap(buffer, ptrs[i]), XHAL_OK);
  }
  xhal_buffer_release(buffer);
}
END_TEST

int main(void) {
  Suite* s = suite_create("plugin_lock");
  TCase* tc = tcase_create("held");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, map_held_in_plugin_blocks_no_other_device);
  tcase_add_test(tc, alloc_held_in_plugin_blocks_no_other_device);
  tcase_add_test(tc, map_slots_count_maps_in_flight);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
