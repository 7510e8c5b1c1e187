/*
 * cts_direct.c - loads a plugin with dlopen and drives its table on the
 * CTS's own host services (see cts_direct.h for why).
 */
#define _GNU_SOURCE

#include "cts_direct.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xhal/xhal.h>

/* ------------------------------------------------------ required entries */

typedef struct required_entry {
  size_t offset;
  const char* name;
} required_entry_t;

/* The ABI 1.0 required entries (xhal_plugin.h, docs/abi.md R-ABI-9). */
#define REQUIRED(field) \
  { offsetof(xhal_plugin_dispatch_t, field), #field }
static const required_entry_t kRequired[] = {
    REQUIRED(init),
    REQUIRED(shutdown),
    REQUIRED(device_count),
    REQUIRED(device_properties),
    REQUIRED(device_open),
    REQUIRED(device_close),
    REQUIRED(buffer_alloc),
    REQUIRED(buffer_free),
    REQUIRED(stream_create),
    REQUIRED(stream_destroy),
    REQUIRED(stream_synchronize),
    REQUIRED(enqueue_write),
    REQUIRED(enqueue_read),
    REQUIRED(enqueue_copy),
    REQUIRED(enqueue_fill),
    REQUIRED(event_create),
    REQUIRED(event_destroy),
    REQUIRED(event_record),
    REQUIRED(event_wait),
    REQUIRED(event_query),
};
#undef REQUIRED

uint32_t cts_direct_required_count(void) {
  return (uint32_t)(sizeof(kRequired) / sizeof(kRequired[0]));
}

const char* cts_direct_required_name(uint32_t i) {
  return i < cts_direct_required_count() ? kRequired[i].name : "?";
}

int cts_direct_required_present(const xhal_plugin_dispatch_t* table,
                                uint32_t i) {
  void* entry = NULL;
  if (i >= cts_direct_required_count()) return 0;
  /* Entries are function pointers; reading them as bytes avoids naming
   * twenty different types. */
  memcpy(&entry, (const char*)table + kRequired[i].offset, sizeof(entry));
  return entry != NULL;
}

const char* cts_direct_missing_required(const xhal_plugin_dispatch_t* table) {
  for (uint32_t i = 0; i < cts_direct_required_count(); ++i) {
    if (!cts_direct_required_present(table, i)) return kRequired[i].name;
  }
  return NULL;
}

/* --------------------------------------------------------- host services */

/* set_error reports "on the calling thread" (xhal_plugin.h): the record
 * is per thread, like libxhal's. */
static _Thread_local char tls_message[1024];
static _Thread_local xhal_status_t tls_status;
static _Thread_local uint32_t tls_count;
static _Thread_local uint32_t tls_seq;

uint32_t cts_direct_message_seq(void) { return tls_seq; }

/* The running note (of the call the test's thread is in). */
static char* g_running_page;
static size_t g_running_size;

void cts_direct_attach_running(char* page, size_t size) {
  g_running_page = page;
  g_running_size = size;
  if (page && size) page[0] = '\0';
}

void cts_direct_note_running(const char* call) {
  if (!g_running_page || g_running_size == 0) return;
  /* Only the process's main thread (the test's) writes the note, so
   * helper threads of a test neither race on it nor overwrite it. */
  if (gettid() != getpid()) return;
  if (call && call[0]) {
    snprintf(g_running_page, g_running_size, "%s", call);
  } else {
    g_running_page[0] = '\0';
  }
}

const char* cts_direct_running(void) {
  return g_running_page ? g_running_page : "";
}

static char g_teardown_hang[512];
static void (*g_teardown_on_skip)(const char*);

void cts_direct_set_teardown_hang(const char* reason,
                                  void (*on_skip)(const char* reason)) {
  snprintf(g_teardown_hang, sizeof(g_teardown_hang), "%s",
           reason ? reason : "");
  g_teardown_on_skip = on_skip;
}

const char* cts_direct_teardown_hang(void) { return g_teardown_hang; }

const char* cts_direct_last_message(xhal_status_t* out_status) {
  if (out_status) *out_status = tls_status;
  return tls_message;
}

void cts_direct_clear_message(void) {
  tls_message[0] = '\0';
  tls_status = XHAL_OK;
  tls_count = 0;
}

uint32_t cts_direct_message_count(void) { return tls_count; }

static void host_log(void* host_context, xhal_log_level_t level,
                     const char* message) {
  (void)host_context;
  /* Plugin logs are noise in a report unless they are errors. */
  if (level == XHAL_LOG_ERROR && message) {
    fprintf(stderr, "plugin error log: %s\n", message);
  }
}

static void* host_alloc(void* host_context, uint64_t size, uint64_t alignment) {
  cts_direct_t* direct = host_context;
  void* ptr = NULL;
  if (size == 0 || alignment == 0 || (alignment & (alignment - 1)) != 0)
    return NULL;
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  if (size > SIZE_MAX || alignment > SIZE_MAX) return NULL;
  if (posix_memalign(&ptr, (size_t)alignment, (size_t)size) != 0) return NULL;
  atomic_fetch_add(&direct->live_host_allocs, 1);
  return ptr;
}

static void host_free(void* host_context, void* ptr) {
  cts_direct_t* direct = host_context;
  if (!ptr) return;
  atomic_fetch_sub(&direct->live_host_allocs, 1);
  free(ptr);
}

static xhal_status_t host_register(void* host_context,
                                   const xhal_plugin_op_impl_t* impl) {
  cts_direct_t* direct = host_context;
  if (!impl) return XHAL_ERROR_INVALID_ARGUMENT;
  /* The record is copied as given (struct_size and all): R-KRN-1 checks
   * it, so the host must not repair it here. */
  unsigned slot = atomic_fetch_add(&direct->impl_count, 1u);
  if (slot >= CTS_DIRECT_MAX_IMPLS) {
    atomic_fetch_sub(&direct->impl_count, 1u);
    atomic_fetch_add(&direct->impls_dropped, 1u);
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  size_t n = sizeof(*impl);
  if (impl->struct_size < n) n = impl->struct_size;
  memset(&direct->impls[slot], 0, sizeof(direct->impls[slot]));
  memcpy(&direct->impls[slot], impl, n);
  return XHAL_OK;
}

static void host_device_lost(void* host_context, uint32_t index,
                             const char* reason) {
  cts_direct_t* direct = host_context;
  atomic_fetch_add(&direct->lost_devices, 1u);
  fprintf(stderr, "plugin reported device %u lost: %s\n", index,
          reason ? reason : "");
}

static void host_set_error(void* host_context, xhal_status_t status,
                           const char* message) {
  (void)host_context;
  tls_status = status;
  tls_count++;
  tls_seq++;
  snprintf(tls_message, sizeof(tls_message), "%s",
           message ? message : "(NULL message)");
}

/* ------------------------------------------------------------- loading */

static xhal_status_t fail(xhal_status_t status, char* why, size_t why_size,
                          const char* fmt, const char* arg) {
  if (why && why_size) snprintf(why, why_size, fmt, arg ? arg : "");
  return status;
}

static uint32_t g_device_under_test;

void cts_direct_set_device_under_test(uint32_t index) {
  g_device_under_test = index;
}

xhal_status_t cts_direct_load(const char* path, cts_direct_t** out, char* why,
                              size_t why_size) {
  *out = NULL;
  cts_direct_t* direct = calloc(1, sizeof(*direct));
  if (!direct) return fail(XHAL_ERROR_OUT_OF_MEMORY, why, why_size, "%s", "");
  direct->device_under_test = g_device_under_test;
  direct->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!direct->dl) {
    const char* err = dlerror();
    free(direct);
    return fail(XHAL_ERROR_PLUGIN_LOAD, why, why_size, "dlopen failed: %s",
                err);
  }
  void* sym = dlsym(direct->dl, XHAL_PLUGIN_QUERY_SYMBOL);
  if (!sym) {
    cts_direct_close(direct);
    return fail(XHAL_ERROR_PLUGIN_LOAD, why, why_size, "%s",
                "the file defines no xhal_plugin_query");
  }
  memcpy(&direct->query, &sym, sizeof(direct->query));
  const xhal_plugin_dispatch_t* table = NULL;
  xhal_status_t status =
      direct->query(XHAL_ABI_VERSION_MAJOR, XHAL_ABI_VERSION_MINOR, &table);
  if (status != XHAL_OK || !table) {
    cts_direct_close(direct);
    return fail(status != XHAL_OK ? status : XHAL_ERROR_PLUGIN_LOAD, why,
                why_size, "%s",
                "xhal_plugin_query refused the host's ABI version or "
                "returned no table");
  }
  direct->raw = table;
  if (table->abi_major != XHAL_ABI_VERSION_MAJOR) {
    cts_direct_close(direct);
    return fail(XHAL_ERROR_ABI_MISMATCH, why, why_size, "%s",
                "the table's abi_major is not the host's");
  }
  if (table->struct_size < XHAL_PLUGIN_DISPATCH_SIZE_1_0) {
    char size[32];
    snprintf(size, sizeof(size), "%u", table->struct_size);
    cts_direct_close(direct);
    return fail(XHAL_ERROR_PLUGIN_LOAD, why, why_size,
                "the table's struct_size %s is below the ABI 1.0 size 280",
                size);
  }
  memset(&direct->table, 0, sizeof(direct->table));
  memcpy(&direct->table, table,
         table->struct_size < sizeof(direct->table) ? table->struct_size
                                                    : sizeof(direct->table));
  const char* missing = cts_direct_missing_required(&direct->table);
  if (missing) {
    cts_direct_close(direct);
    return fail(XHAL_ERROR_PLUGIN_LOAD, why, why_size,
                "required entry '%s' is NULL", missing);
  }
  *out = direct;
  return XHAL_OK;
}

xhal_status_t cts_direct_init(cts_direct_t* direct, uint32_t host_extra,
                              char* why, size_t why_size) {
  cts_host_table_t* host = &direct->host;
  memset(host, 0, sizeof(*host));
  host->services.struct_size = (uint32_t)sizeof(host->services);
  if (host_extra) {
    if (host_extra > sizeof(host->future)) host_extra = sizeof(host->future);
    host->services.struct_size += host_extra;
  }
  /* A newer host speaks a newer minor as well. */
  host->services.abi_minor = XHAL_ABI_VERSION_MINOR + (host_extra ? 1u : 0u);
  host->services.host_context = direct;
  host->services.log = host_log;
  host->services.alloc_aligned = host_alloc;
  host->services.free_aligned = host_free;
  host->services.register_op_impl = host_register;
  host->services.report_device_lost = host_device_lost;
  host->services.set_error = host_set_error;
  cts_direct_clear_message();
  xhal_status_t status = direct->table.init(&host->services, &direct->context);
  if (status != XHAL_OK) {
    if (why && why_size) {
      snprintf(why, why_size, "init returned %s: %s", xhal_status_name(status),
               tls_message[0] ? tls_message : "(no message)");
    }
    return status;
  }
  direct->initialized = 1;
  uint32_t count = 0;
  status = direct->table.device_count(direct->context, &count);
  if (status != XHAL_OK) {
    if (why && why_size) {
      snprintf(why, why_size, "device_count returned %s",
               xhal_status_name(status));
    }
    return status;
  }
  direct->device_count = count;
  return XHAL_OK;
}

xhal_status_t cts_direct_device(cts_direct_t* direct, uint32_t index,
                                xhal_plugin_device_t* out) {
  *out = NULL;
  if (index >= direct->device_count || index >= CTS_DIRECT_MAX_DEVICES)
    return XHAL_ERROR_OUT_OF_RANGE;
  if (!direct->devices[index]) {
    xhal_status_t status = direct->table.device_open(direct->context, index,
                                                     &direct->devices[index]);
    if (status != XHAL_OK) {
      direct->devices[index] = NULL;
      return status;
    }
  }
  *out = direct->devices[index];
  return XHAL_OK;
}

void cts_direct_close(cts_direct_t* direct) {
  if (!direct) return;
  if (direct->initialized && g_teardown_hang[0]) {
    /* It hung before and would hang again: leave the context to the
     * process's exit. */
    if (g_teardown_on_skip) g_teardown_on_skip(g_teardown_hang);
    return;
  }
  if (direct->initialized) {
    for (uint32_t i = 0; i < CTS_DIRECT_MAX_DEVICES; ++i) {
      if (!direct->devices[i]) continue;
      char note[64];
      snprintf(note, sizeof(note), "device_close (device %u)", i);
      cts_direct_note_running(note);
      direct->table.device_close(direct->devices[i]);
      cts_direct_note_running(NULL);
    }
    cts_direct_note_running("shutdown");
    direct->table.shutdown(direct->context);
    cts_direct_note_running(NULL);
  }
  if (direct->dl) dlclose(direct->dl);
  free(direct);
}
