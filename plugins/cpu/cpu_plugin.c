/*
 * cpu_plugin.c - entry point of the CPU plugin: xhal_plugin_query, the
 * dispatch table, context init/shutdown, the device entries and the
 * registration of the kernels with the host's registry.
 *
 * The CPU has no kernel language, so the program entries and
 * enqueue_kernel stay NULL (the host answers XHAL_ERROR_UNSUPPORTED);
 * operators reach the CPU through the registry instead.
 */
#define _GNU_SOURCE

#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_fence.h"
#include "cpu_internal.h"
#include "kernels/cpu_kernels.h"

#ifndef XHAL_CPU_VERSION
#define XHAL_CPU_VERSION "0.0.0"
#endif

/* ------------------------------------------------------------- errors */

xhal_status_t cpu_error(const struct xhal_plugin_context* ctx,
                        xhal_status_t status, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  if (ctx == NULL || ctx->host.set_error == NULL) return status;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  ctx->host.set_error(ctx->host.host_context, status, msg);
  return status;
}

void cpu_log(const struct xhal_plugin_context* ctx, xhal_log_level_t level,
             const char* fmt, ...) {
  char msg[512];
  va_list ap;
  if (ctx == NULL || ctx->host.log == NULL) return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  ctx->host.log(ctx->host.host_context, level, msg);
}

/* ------------------------------------------------------------ devices */

static xhal_status_t cpu_device_count(xhal_plugin_context_t ctx,
                                      uint32_t* out_count) {
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_count == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: device_count: out_count is NULL");
  *out_count = 1;
  return XHAL_OK;
}

static xhal_status_t cpu_device_properties(
    xhal_plugin_context_t ctx, uint32_t index,
    xhal_device_properties_t* out_props) {
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_props == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: device_properties: out_props is NULL");
  if (index != 0)
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "cpu: device_properties: index %u past the 1 device",
                     index);
  *out_props = ctx->props;
  return XHAL_OK;
}

/* The device lives inside the context, so open hands out the embedded
 * object and close has nothing to release. */
static xhal_status_t cpu_device_open(xhal_plugin_context_t ctx, uint32_t index,
                                     xhal_plugin_device_t* out_device) {
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_device == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: device_open: out_device is NULL");
  if (index != 0)
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "cpu: device_open: index %u past the 1 device", index);
  *out_device = &ctx->device;
  return XHAL_OK;
}

static void cpu_device_close(xhal_plugin_device_t device) { (void)device; }

/* ----------------------------------------------------- registration */

/* Registers every kernel signature with the host's registry. A signature
 * the host refuses is logged and skipped (the device still works for the
 * rest); running out of memory fails init. */
static xhal_status_t cpu_register_kernels(struct xhal_plugin_context* ctx) {
  uint32_t count = 0;
  uint32_t i;
  const cpu_kernel_entry_t* table = cpu_kernel_table(&count);
  if (ctx->host.register_op_impl == NULL) {
    cpu_log(ctx, XHAL_LOG_WARN,
            "cpu: host has no register_op_impl; no operators registered");
    return XHAL_OK;
  }
  for (i = 0; i < count && table != NULL; ++i) {
    xhal_plugin_op_impl_t impl;
    xhal_status_t status;
    uint32_t d;
    memset(&impl, 0, sizeof(impl));
    impl.struct_size = (uint32_t)sizeof(impl);
    impl.op = table[i].op;
    impl.device_index = 0;
    impl.priority = 0;
    impl.num_dtypes = table[i].num_dtypes;
    for (d = 0; d < XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS; ++d)
      impl.dtypes[d] = table[i].dtypes[d];
    impl.name = table[i].name;
    impl.user_data = ctx;
    impl.supports = NULL;
    impl.enqueue = cpu_enqueue_op;
    status = ctx->host.register_op_impl(ctx->host.host_context, &impl);
    if (status == XHAL_ERROR_OUT_OF_MEMORY) return status;
    if (status != XHAL_OK)
      cpu_log(ctx, XHAL_LOG_WARN, "cpu: host refused kernel %s (status %d)",
              table[i].name != NULL ? table[i].name : "?", (int)status);
  }
  return XHAL_OK;
}

/* ------------------------------------------------------------ context */

/* The hand-off fence mode (cpu_fence.h). XHAL_CPU_FENCE=seq_cst forces the
 * portable mode, to test it or to rule the asymmetric one out when
 * diagnosing a problem. */
static int cpu_fence_mode(void) {
  const char* forced = secure_getenv("XHAL_CPU_FENCE");
  if (forced != NULL && strcmp(forced, "seq_cst") == 0) return 0;
  return cpu_fence_asymmetric_available();
}

/* CPUs this process may run on: the pool is sized to them, not to every
 * online CPU, so a process pinned to a few cores (a container's cpuset, a
 * taskset) does not oversubscribe them with spinning helpers. */
static uint32_t usable_cpus(uint32_t online) {
  cpu_set_t set;
  int count;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return online;
  count = CPU_COUNT(&set);
  return count > 0 && (uint32_t)count < online ? (uint32_t)count : online;
}

static xhal_status_t cpu_init(const xhal_host_services_t* host,
                              xhal_plugin_context_t* out_context) {
  struct xhal_plugin_context* ctx;
  void* mem = NULL;
  xhal_status_t status;
  uint32_t copy_size;
  uint32_t lanes;
  uint32_t helpers;
  if (host == NULL || out_context == NULL) return XHAL_ERROR_INVALID_ARGUMENT;
  *out_context = NULL;
  if (host->struct_size < offsetof(xhal_host_services_t, log))
    return XHAL_ERROR_INVALID_ARGUMENT;
  /* Aligned: the pool inside keeps its hot fields on their own lines. */
  if (posix_memalign(&mem, CPU_FALSE_SHARING_BYTES, sizeof(*ctx)) != 0)
    return XHAL_ERROR_OUT_OF_MEMORY;
  ctx = mem;
  memset(ctx, 0, sizeof(*ctx));
  /* A smaller (older) host table leaves the entries it lacks NULL. */
  copy_size = host->struct_size < sizeof(ctx->host)
                  ? host->struct_size
                  : (uint32_t)sizeof(ctx->host);
  memcpy(&ctx->host, host, copy_size);
  ctx->device.ctx = ctx;
  cpu_device_query(ctx);

  ctx->asymmetric_fence = cpu_fence_mode();
  lanes = usable_cpus(ctx->props.compute_units);
  helpers = lanes > 1 ? lanes - 1 : 0;
  ctx->spin_ns = lanes > 1 ? CPU_SPIN_BUDGET_NS : 0;
  status = XHAL_ERROR_OUT_OF_MEMORY;
  if (pthread_mutex_init(&ctx->streams_mu, NULL) != 0) goto fail_mutex;
  if (pthread_cond_init(&ctx->streams_cv, NULL) != 0) goto fail_cond;
  if (cpu_pool_init(&ctx->pool, helpers, ctx->asymmetric_fence) != 0)
    goto fail_pool;
  status = cpu_register_kernels(ctx);
  if (status != XHAL_OK) goto fail_registry;
  cpu_log(ctx, XHAL_LOG_INFO,
          "cpu: %s, %u compute units, %u pool helpers, %s hand-off fence",
          ctx->props.name, ctx->props.compute_units, helpers,
          ctx->asymmetric_fence ? "asymmetric" : "seq_cst");
  *out_context = ctx;
  return XHAL_OK;

fail_registry:
  cpu_pool_destroy(&ctx->pool);
fail_pool:
  pthread_cond_destroy(&ctx->streams_cv);
fail_cond:
  pthread_mutex_destroy(&ctx->streams_mu);
fail_mutex:
  free(ctx);
  return status;
}

/* The host has destroyed every stream, event and buffer by now. */
static void cpu_shutdown(xhal_plugin_context_t ctx) {
  if (ctx == NULL) return;
  cpu_pool_destroy(&ctx->pool);
  pthread_cond_destroy(&ctx->streams_cv);
  pthread_mutex_destroy(&ctx->streams_mu);
  free(ctx);
}

/* ------------------------------------------------------------- table */

static const xhal_plugin_dispatch_t kCpuDispatch = {
    .struct_size = (uint32_t)sizeof(xhal_plugin_dispatch_t),
    .abi_major = XHAL_ABI_VERSION_MAJOR,
    .abi_minor = XHAL_ABI_VERSION_MINOR,
    .reserved = 0,
    .name = "cpu",
    .version = XHAL_CPU_VERSION,
    .init = cpu_init,
    .shutdown = cpu_shutdown,
    .device_count = cpu_device_count,
    .device_properties = cpu_device_properties,
    .device_open = cpu_device_open,
    .device_close = cpu_device_close,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .buffer_map = cpu_buffer_map,
    .buffer_unmap = cpu_buffer_unmap,
    .stream_create = cpu_stream_create,
    .stream_destroy = cpu_stream_destroy,
    .stream_flush = cpu_stream_flush,
    .stream_synchronize = cpu_stream_synchronize,
    .enqueue_write = cpu_enqueue_write,
    .enqueue_read = cpu_enqueue_read,
    .enqueue_copy = cpu_enqueue_copy,
    .enqueue_fill = cpu_enqueue_fill,
    .enqueue_kernel = NULL,
    .enqueue_host_func = cpu_enqueue_host_func,
    .event_create = cpu_event_create,
    .event_destroy = cpu_event_destroy,
    .event_record = cpu_event_record,
    .event_wait = cpu_event_wait,
    .event_query = cpu_event_query,
    .event_elapsed = cpu_event_elapsed,
    .stream_wait_event = cpu_stream_wait_event,
    .program_build = NULL,
    .program_destroy = NULL,
    .kernel_create = NULL,
    .kernel_destroy = NULL,
};

XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query(uint32_t host_major, uint32_t host_minor,
                  const xhal_plugin_dispatch_t** out_table) {
  (void)host_minor;
  if (out_table == NULL) return XHAL_ERROR_INVALID_ARGUMENT;
  *out_table = NULL;
  if (host_major != XHAL_ABI_VERSION_MAJOR) return XHAL_ERROR_ABI_MISMATCH;
  *out_table = &kCpuDispatch;
  return XHAL_OK;
}
