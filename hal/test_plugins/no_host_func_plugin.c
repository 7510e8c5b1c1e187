/*
 * no_host_func_plugin.c - the CPU plugin without host functions: its
 * table with enqueue_host_func NULL and XHAL_CAP_HOST_FUNC cleared, so
 * that libxhal runs host functions in place and waits on other plugins'
 * events on the host (tests of those paths; not a plugin to ship).
 */
#include <dlfcn.h>
#include <string.h>
#include <xhal/xhal_plugin.h>

#ifndef XHAL_CPU_PLUGIN_PATH
#error "XHAL_CPU_PLUGIN_PATH must name libxhal_cpu.so"
#endif

static xhal_plugin_dispatch_t g_table;
static const xhal_plugin_dispatch_t* g_cpu;

static xhal_status_t properties(xhal_plugin_context_t context, uint32_t index,
                                xhal_device_properties_t* out_props) {
  xhal_status_t status = g_cpu->device_properties(context, index, out_props);
  if (status == XHAL_OK) out_props->capabilities &= ~XHAL_CAP_HOST_FUNC;
  return status;
}

XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query(uint32_t host_major, uint32_t host_minor,
                  const xhal_plugin_dispatch_t** out_table) {
  if (!g_cpu) {
    void* dl = dlopen(XHAL_CPU_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!dl) return XHAL_ERROR_PLUGIN_LOAD;
    xhal_plugin_query_fn query =
        (xhal_plugin_query_fn)dlsym(dl, XHAL_PLUGIN_QUERY_SYMBOL);
    if (!query) return XHAL_ERROR_PLUGIN_LOAD;
    const xhal_plugin_dispatch_t* cpu = NULL;
    xhal_status_t status = query(host_major, host_minor, &cpu);
    if (status != XHAL_OK) return status;
    size_t n =
        cpu->struct_size < sizeof(g_table) ? cpu->struct_size : sizeof(g_table);
    memcpy(&g_table, cpu, n);
    g_table.name = "cpu_no_host_func";
    g_table.enqueue_host_func = NULL;
    g_table.device_properties = properties;
    g_cpu = cpu;
  }
  *out_table = &g_table;
  return XHAL_OK;
}
