/*
 * cts_direct.h - the plugin's dispatch table driven directly, on a host
 * that the CTS implements itself.
 *
 * libxhal validates every argument before a plugin sees it, so a test
 * through libxhal cannot tell whether the plugin checks anything. The
 * direct harness loads the .so with dlopen, negotiates the version,
 * initialises the plugin with a host-services table of its own and hands
 * the test the raw entries. Its host records everything the plugin tells
 * it: every operator implementation registered (in order, so each one can
 * be tested, not only the highest-priority one libxhal would pick), the
 * messages given to set_error, lost devices, and the balance of aligned
 * host allocations.
 *
 * Thread-safety: the host services are thread-safe, as the ABI requires;
 * one cts_direct_t is used by one test (one process).
 */
#ifndef XHAL_CTS_DIRECT_H_
#define XHAL_CTS_DIRECT_H_

#include <stdatomic.h>
#include <stddef.h>
#include <xhal/xhal_plugin.h>

#define CTS_DIRECT_MAX_IMPLS 1024
#define CTS_DIRECT_MAX_DEVICES 8

/* The host-services table the harness hands to init: the 1.0 table plus
 * trailing space, so a test can pose as a newer host (R-ABI-16). */
typedef struct cts_host_table {
  xhal_host_services_t services;
  uint8_t future[64];
} cts_host_table_t;

typedef struct cts_direct {
  void* dl;
  xhal_plugin_query_fn query;
  /* The plugin's own table, and a zero-extended copy the harness calls
   * through (entries past a short struct_size read as NULL). */
  const xhal_plugin_dispatch_t* raw;
  xhal_plugin_dispatch_t table;
  cts_host_table_t host;
  xhal_plugin_context_t context;
  uint32_t initialized;
  uint32_t device_count;
  xhal_plugin_device_t devices[CTS_DIRECT_MAX_DEVICES];
  /* The index of the device a test works on (xhal-cts --device), from
   * cts_direct_set_device_under_test; 0 by default. */
  uint32_t device_under_test;

  /* What the plugin registered, in registration order. */
  xhal_plugin_op_impl_t impls[CTS_DIRECT_MAX_IMPLS];
  atomic_uint impl_count;
  atomic_uint impls_dropped;
  /* Host allocation balance (alloc_aligned minus free_aligned). */
  atomic_long live_host_allocs;
  atomic_uint lost_devices;
} cts_direct_t;

/* Loads the plugin file: dlopen, the entry symbol, query with the host's
 * version, and the checks libxhal makes (major, table size, required
 * entries). Returns XHAL_OK, or a status with the reason in `why`.
 * The caller frees with cts_direct_close. */
xhal_status_t cts_direct_load(const char* path, cts_direct_t** out, char* why,
                              size_t why_size);

/* init() with the harness's host (host_extra bytes of a newer host's
 * table appended when non-zero), then device_count. Returns the plugin's
 * status with `why` set on failure. */
xhal_status_t cts_direct_init(cts_direct_t* direct, uint32_t host_extra,
                              char* why, size_t why_size);

/* The device index every later cts_direct_load records as the device
 * under test (set once in a test's process). */
void cts_direct_set_device_under_test(uint32_t index);

/* Opens device `index` (once; later calls return the same handle). */
xhal_status_t cts_direct_device(cts_direct_t* direct, uint32_t index,
                                xhal_plugin_device_t* out);

/* Closes devices, shuts the plugin down, dlcloses. NULL is a no-op. */
void cts_direct_close(cts_direct_t* direct);

/* The last message the plugin passed to set_error on this thread, and
 * its status; clear before provoking an error to see whether a new one
 * arrives. */
const char* cts_direct_last_message(xhal_status_t* out_status);
void cts_direct_clear_message(void);
/* Number of set_error calls on this thread since the last clear. */
uint32_t cts_direct_message_count(void);
/* Number of set_error calls on this thread ever (never cleared): a
 * message is from a call if this grew while the call ran. */
uint32_t cts_direct_message_seq(void);

/* Where the call running now is noted (a page the parent reads after a
 * crash or a timeout); NULL: nowhere. */
void cts_direct_attach_running(char* page, size_t size);
/* Notes `call` as running on this thread (NULL or "": none). */
void cts_direct_note_running(const char* call);
/* The text noted, or "". */
const char* cts_direct_running(void);

/* Once a teardown entry of the plugin hung in this run (`reason` says
 * where), cts_direct_close calls none again: it calls `on_skip(reason)`
 * (which fails the test) instead, or just returns without it. */
void cts_direct_set_teardown_hang(const char* reason,
                                  void (*on_skip)(const char* reason));
const char* cts_direct_teardown_hang(void);

/* Name of the first NULL required entry of `table`, or NULL. */
const char* cts_direct_missing_required(const xhal_plugin_dispatch_t* table);
/* Number of required entries and their names (for reports). */
uint32_t cts_direct_required_count(void);
const char* cts_direct_required_name(uint32_t i);
int cts_direct_required_present(const xhal_plugin_dispatch_t* table,
                                uint32_t i);

#endif /* XHAL_CTS_DIRECT_H_ */
