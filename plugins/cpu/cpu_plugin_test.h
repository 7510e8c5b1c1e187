/*
 * cpu_plugin_test.h - harness of the CPU plugin's isolation test: the
 * plugin module is dlopen()ed and driven through its dispatch table, with a
 * fake host-services table standing in for libxhal. Each Check test runs
 * in its own forked process with a fresh context (plugin_setup /
 * plugin_teardown).
 */
#ifndef XHAL_CPU_PLUGIN_TEST_H_
#define XHAL_CPU_PLUGIN_TEST_H_

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <xhal/xhal_plugin.h>

#define FAKE_MAX_IMPLS 256

/* What the plugin sees as its host. Records registered implementations,
 * counts live allocations and remembers the last error per thread. */
typedef struct fake_host {
  xhal_host_services_t services;
  pthread_mutex_t mu;
  xhal_plugin_op_impl_t impls[FAKE_MAX_IMPLS];
  uint32_t impl_count;
  _Atomic int64_t live_allocs;
} fake_host_t;

void fake_host_init(fake_host_t* host);
void fake_host_destroy(fake_host_t* host);
/* The implementation registered for `op` whose signature starts with
 * `dtype`, or NULL. */
const xhal_plugin_op_impl_t* fake_find_impl(fake_host_t* host, xhal_op_t op,
                                            xhal_dtype_t dtype);
/* Last set_error message / status on the calling thread ("" / OK). */
const char* fake_last_error(void);
xhal_status_t fake_last_error_status(void);
void fake_clear_error(void);

/* The plugin under test, set up per test. */
extern const xhal_plugin_dispatch_t* T;
extern fake_host_t g_host;
extern xhal_plugin_context_t g_ctx;
extern xhal_plugin_device_t g_dev;

void plugin_setup(void);
void plugin_teardown(void);

/* A host function that blocks its stream until the gate opens. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
} gate_t;
void gate_init(gate_t* gate);
void gate_open(gate_t* gate);
void gate_destroy(gate_t* gate);
xhal_status_t gate_wait_fn(void* gate);

/* Create or fail the test. */
xhal_plugin_stream_t new_stream(void);
xhal_plugin_event_t new_event(void);
/* A host function that counts its calls in an _Atomic uint32_t. */
xhal_status_t count_fn(void* counter);
uint64_t now_ns(void);
void sleep_ms(long ms);

/* Allocates a buffer or fails the test. */
xhal_plugin_buffer_t test_alloc(uint64_t size);
/* Synchronises or fails the test. */
void test_sync(xhal_plugin_stream_t stream);

Suite* cpu_events_suite(void);
Suite* cpu_ops_suite(void);

#endif /* XHAL_CPU_PLUGIN_TEST_H_ */
