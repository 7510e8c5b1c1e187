/*
 * blocking_plugin.c - the CPU plugin with gates in buffer_alloc and
 * buffer_map, for hal/src/plugin_lock_test.c: while a gate is closed the
 * entry waits in the plugin, as a driver waiting on its device would, and
 * the test checks that other devices' calls go on meanwhile.
 *
 * The table is the CPU plugin's (dlopen'ed from BLOCKING_CPU_PLUGIN_PATH)
 * under the name "blocking", with the two entries wrapped. The test reaches
 * the gates through blocking_gate(), which this test module exports besides
 * xhal_plugin_query.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <xhal/xhal_plugin.h>

enum { kGateAlloc = 0, kGateMap = 1, kGates = 2 };

/* closed[g]: entry g waits; inside[g]: how many calls wait there now. */
static atomic_int g_closed[kGates];
static atomic_int g_inside[kGates];
static const xhal_plugin_dispatch_t* g_cpu;
static xhal_plugin_dispatch_t g_table;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Closes (1) or opens (0; -1 leaves it) gate `gate`; returns how many
 * calls wait in it. */
__attribute__((visibility("default"))) int blocking_gate(int gate, int closed);
int blocking_gate(int gate, int closed) {
  if (gate < 0 || gate >= kGates) return -1;
  if (closed >= 0) atomic_store(&g_closed[gate], closed);
  return atomic_load(&g_inside[gate]);
}

static void pass_gate(int gate) {
  struct timespec nap = {0, 200000};
  atomic_fetch_add(&g_inside[gate], 1);
  while (atomic_load(&g_closed[gate])) nanosleep(&nap, NULL);
  atomic_fetch_sub(&g_inside[gate], 1);
}

static xhal_status_t blocking_alloc(xhal_plugin_device_t device, uint64_t size,
                                    uint32_t memory_flags,
                                    xhal_plugin_buffer_t* out_buffer) {
  pass_gate(kGateAlloc);
  return g_cpu->buffer_alloc(device, size, memory_flags, out_buffer);
}

static xhal_status_t blocking_map(xhal_plugin_device_t device,
                                  xhal_plugin_buffer_t buffer, uint64_t offset,
                                  uint64_t size, uint32_t map_flags,
                                  void** out_ptr) {
  pass_gate(kGateMap);
  return g_cpu->buffer_map(device, buffer, offset, size, map_flags, out_ptr);
}

static void load_cpu(void) {
  void* dl = dlopen(BLOCKING_CPU_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!dl) return;
  xhal_plugin_query_fn query =
      (xhal_plugin_query_fn)dlsym(dl, XHAL_PLUGIN_QUERY_SYMBOL);
  const xhal_plugin_dispatch_t* table = NULL;
  if (!query ||
      query(XHAL_ABI_VERSION_MAJOR, XHAL_ABI_VERSION_MINOR, &table) !=
          XHAL_OK ||
      !table || table->struct_size > sizeof(g_table)) {
    return;
  }
  memcpy(&g_table, table, table->struct_size);
  g_table.name = "blocking";
  g_table.buffer_alloc = blocking_alloc;
  g_table.buffer_map = blocking_map;
  g_cpu = table;
}

XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query(uint32_t host_major, uint32_t host_minor,
                  const xhal_plugin_dispatch_t** out_table) {
  (void)host_minor;
  if (host_major != XHAL_ABI_VERSION_MAJOR) return XHAL_ERROR_ABI_MISMATCH;
  pthread_once(&g_once, load_cpu);
  if (!g_cpu) return XHAL_ERROR_PLUGIN_LOAD;
  *out_table = &g_table;
  return XHAL_OK;
}
