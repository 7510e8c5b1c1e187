/*
 * ocl_plugin.c - entry point of the OpenCL plugin: xhal_plugin_query, the
 * dispatch table, context init/shutdown and the device entries.
 *
 * The plugin links the OpenCL ICD loader only, so every installed
 * platform (PoCL on CPUs, NVIDIA, AMD, Intel) is reached through it. init
 * enumerates devices without creating contexts (cheap, and xhal-info
 * needs no more); device_open creates the device's cl_context.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

#ifndef XHAL_OPENCL_VERSION
#define XHAL_OPENCL_VERSION "0.0.0"
#endif

/* ------------------------------------------------------------ devices */

static xhal_status_t ocl_device_count(xhal_plugin_context_t ctx,
                                      uint32_t* out_count) {
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_count == NULL)
    return ocl_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: device_count: out_count is NULL");
  *out_count = ctx->device_count;
  return XHAL_OK;
}

static xhal_status_t ocl_device_properties(
    xhal_plugin_context_t ctx, uint32_t index,
    xhal_device_properties_t* out_props) {
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_props == NULL)
    return ocl_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: device_properties: out_props is NULL");
  if (index >= ctx->device_count)
    return ocl_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "opencl: device_properties: index %u past the %u devices",
                     index, ctx->device_count);
  *out_props = ctx->devices[index].props;
  return XHAL_OK;
}

/* Largest power of two <= v (v >= 1). */
static uint32_t pow2_floor(uint64_t v) {
  uint32_t p = 1;
  while ((uint64_t)p * 2 <= v && p < (1u << 30)) p *= 2;
  return p;
}

/* Launch shapes of the simple kernels. GPUs want wide groups and enough
 * of them to fill every compute unit several times; CPU implementations
 * run one group per thread and vectorise across a group's work-items, so
 * modest groups suffice. */
static void choose_launch_shapes(struct xhal_plugin_device* dev) {
  const ocl_device_info_t* info = dev->info;
  int cpu = (info->type & CL_DEVICE_TYPE_CPU) != 0;
  uint64_t max_wg =
      info->max_wg < info->max_item[0] ? info->max_wg : info->max_item[0];
  uint32_t cu = info->props.compute_units ? info->props.compute_units : 1;
  if (max_wg == 0) max_wg = 1;
  dev->ew_wg =
      pow2_floor(max_wg < (cpu ? 64u : 256u) ? max_wg : (cpu ? 64u : 256u));
  dev->row_wg =
      pow2_floor(max_wg < (cpu ? 16u : 256u) ? max_wg : (cpu ? 16u : 256u));
  dev->ew_max_groups = (uint64_t)cu * (cpu ? 8u : 32u);
}

static xhal_status_t ocl_device_open(xhal_plugin_context_t ctx, uint32_t index,
                                     xhal_plugin_device_t* out_device) {
  struct xhal_plugin_device* dev;
  const ocl_device_info_t* info;
  cl_context_properties props[3];
  cl_int err = CL_SUCCESS;
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_device == NULL)
    return ocl_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: device_open: out_device is NULL");
  *out_device = NULL;
  if (index >= ctx->device_count)
    return ocl_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "opencl: device_open: index %u past the %u devices", index,
                     ctx->device_count);
  info = &ctx->devices[index];
  dev = calloc(1, sizeof(*dev));
  if (dev == NULL)
    return ocl_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: device_open: out of memory");
  dev->ctx = ctx;
  dev->info = info;
  dev->index = index;
  if (pthread_mutex_init(&dev->prog_mu, NULL) != 0) {
    free(dev);
    return ocl_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: device_open: cannot create a mutex");
  }
  if (pthread_mutex_init(&dev->host_mu, NULL) != 0) {
    pthread_mutex_destroy(&dev->prog_mu);
    free(dev);
    return ocl_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: device_open: cannot create a mutex");
  }
  props[0] = CL_CONTEXT_PLATFORM;
  props[1] = (cl_context_properties)info->platform;
  props[2] = 0;
  dev->context = clCreateContext(props, 1, &info->id, NULL, NULL, &err);
  if (dev->context == NULL || err != CL_SUCCESS) {
    pthread_mutex_destroy(&dev->host_mu);
    pthread_mutex_destroy(&dev->prog_mu);
    free(dev);
    return ocl_cl_error(ctx, err, "clCreateContext");
  }
  dev->queue_props = (info->props.capabilities & XHAL_CAP_PROFILING)
                         ? CL_QUEUE_PROFILING_ENABLE
                         : 0;
  dev->aux = clCreateCommandQueue(dev->context, info->id, 0, &err);
  if (dev->aux == NULL || err != CL_SUCCESS) {
    clReleaseContext(dev->context);
    pthread_mutex_destroy(&dev->host_mu);
    pthread_mutex_destroy(&dev->prog_mu);
    free(dev);
    return ocl_cl_error(ctx, err, "clCreateCommandQueue");
  }
  choose_launch_shapes(dev);
  *out_device = dev;
  return XHAL_OK;
}

static void ocl_device_close(xhal_plugin_device_t dev) {
  if (dev == NULL) return;
  ocl_ops_release(dev);
  ocl_host_release_all(dev);
  clReleaseCommandQueue(dev->aux);
  clReleaseContext(dev->context);
  pthread_mutex_destroy(&dev->host_mu);
  pthread_mutex_destroy(&dev->prog_mu);
  free(dev);
}

/* ------------------------------------------------------------ context */

/* Marks the already-loaded library holding `addr` RTLD_NODELETE, so that
 * dlclose no longer unmaps it; loads nothing. */
static void pin_library_of(const void* addr) {
  Dl_info info;
  void* handle;
  if (dladdr(addr, &info) == 0 || info.dli_fname == NULL) return;
  handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  if (handle != NULL) dlclose(handle);
}

/* Keeps the OpenCL ICD loader (and so the vendor runtimes it loaded) and
 * this plugin mapped for the life of the process. Hosts unload plugins
 * when an instance goes away. Neither the loader nor vendor runtimes
 * support being unloaded while their threads and global tables live, and
 * a later instance would load and initialise them all over again. The
 * plugin itself must stay because the runtime calls it back on its own
 * threads (clSetEventCallback, ocl_event.c): OpenCL has no call that
 * removes a callback or waits for one to return, so a callback that has
 * woken its waiter may still be running plugin code when the host
 * unloads the plugin. */
static void pin_libraries(void) {
  pin_library_of((const void*)(uintptr_t)&clGetPlatformIDs);
  pin_library_of((const void*)(uintptr_t)&pin_libraries);
}

/* XHAL_OPENCL_GEMM_TILES="TSM,TSN,TSK,WPTM,WPTN" replaces the first
 * matmul/conv2d tile choice, to tune a device by hand without rebuilding;
 * XHAL_OPENCL_AUTOTUNE=0 turns off the CPU tile autotune (ocl_tune.c). */
static void tuning_env_init(struct xhal_plugin_context* ctx) {
  const char* text = secure_getenv("XHAL_OPENCL_GEMM_TILES");
  const char* tune = secure_getenv("XHAL_OPENCL_AUTOTUNE");
  ctx->autotune = tune == NULL || strcmp(tune, "0") != 0;
  if (text == NULL || text[0] == '\0') return;
  ctx->tiles_override = ocl_tiles_parse(text);
  if (ctx->tiles_override.tsm == 0)
    ocl_log(ctx, XHAL_LOG_WARN,
            "opencl: ignoring XHAL_OPENCL_GEMM_TILES='%s' (want five powers "
            "of two: TSM,TSN,TSK,WPTM,WPTN)",
            text);
}

static xhal_status_t ocl_init(const xhal_host_services_t* host,
                              xhal_plugin_context_t* out_context) {
  struct xhal_plugin_context* ctx;
  xhal_status_t status;
  uint32_t copy_size;
  if (host == NULL || out_context == NULL) return XHAL_ERROR_INVALID_ARGUMENT;
  *out_context = NULL;
  if (host->struct_size < offsetof(xhal_host_services_t, log))
    return XHAL_ERROR_INVALID_ARGUMENT;
  ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  /* A smaller (older) host table leaves the entries it lacks NULL. */
  copy_size = host->struct_size < sizeof(ctx->host)
                  ? host->struct_size
                  : (uint32_t)sizeof(ctx->host);
  memcpy(&ctx->host, host, copy_size);
  pin_libraries();
  ocl_cache_dir_init(ctx);
  tuning_env_init(ctx);
  status = ocl_enumerate(ctx);
  if (status == XHAL_OK) status = ocl_register_ops(ctx);
  if (status != XHAL_OK) {
    free(ctx->devices);
    free(ctx);
    return status;
  }
  ocl_log(ctx, XHAL_LOG_INFO, "opencl: %u device(s), program cache %s%s",
          ctx->device_count, ctx->cache_dir[0] ? "in " : "off", ctx->cache_dir);
  *out_context = ctx;
  return XHAL_OK;
}

static void ocl_shutdown(xhal_plugin_context_t ctx) {
  if (ctx == NULL) return;
  free(ctx->devices);
  free(ctx);
}

/* --------------------------------------------------------- dispatch */

static const xhal_plugin_dispatch_t kDispatch = {
    .struct_size = (uint32_t)sizeof(xhal_plugin_dispatch_t),
    .abi_major = XHAL_ABI_VERSION_MAJOR,
    .abi_minor = XHAL_ABI_VERSION_MINOR,
    .reserved = 0,
    .name = "opencl",
    .version = XHAL_OPENCL_VERSION,
    .init = ocl_init,
    .shutdown = ocl_shutdown,
    .device_count = ocl_device_count,
    .device_properties = ocl_device_properties,
    .device_open = ocl_device_open,
    .device_close = ocl_device_close,
    .buffer_alloc = ocl_buffer_alloc,
    .buffer_free = ocl_buffer_free,
    .buffer_map = ocl_buffer_map,
    .buffer_unmap = ocl_buffer_unmap,
    .host_alloc = ocl_host_alloc,
    .host_free = ocl_host_free,
    .stream_create = ocl_stream_create,
    .stream_destroy = ocl_stream_destroy,
    .stream_flush = ocl_stream_flush,
    .stream_synchronize = ocl_stream_synchronize,
    .enqueue_write = ocl_enqueue_write,
    .enqueue_read = ocl_enqueue_read,
    .enqueue_copy = ocl_enqueue_copy,
    .enqueue_fill = ocl_enqueue_fill,
    .enqueue_kernel = ocl_enqueue_kernel,
    .enqueue_host_func = ocl_enqueue_host_func,
    .event_create = ocl_event_create,
    .event_destroy = ocl_event_destroy,
    .event_record = ocl_event_record,
    .event_wait = ocl_event_wait,
    .event_query = ocl_event_query,
    .event_elapsed = ocl_event_elapsed,
    .stream_wait_event = ocl_stream_wait_event,
    .program_build = ocl_program_build,
    .program_destroy = ocl_program_destroy,
    .kernel_create = ocl_kernel_create,
    .kernel_destroy = ocl_kernel_destroy,
};

XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query(uint32_t host_major, uint32_t host_minor,
                  const xhal_plugin_dispatch_t** out_table) {
  (void)host_minor;
  if (out_table == NULL) return XHAL_ERROR_INVALID_ARGUMENT;
  if (host_major != XHAL_ABI_VERSION_MAJOR) return XHAL_ERROR_ABI_MISMATCH;
  *out_table = &kDispatch;
  return XHAL_OK;
}
