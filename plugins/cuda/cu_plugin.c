/*
 * cu_plugin.c - entry point of the CUDA plugin: xhal_plugin_query, the
 * dispatch table, context init/shutdown and the device entries.
 *
 * init opens the driver (cu_loader.c) and enumerates devices without
 * creating contexts; device_open retains the device's primary context,
 * the one the CUDA runtime and libraries such as cuBLAS use too, so
 * memory and streams are shared with code that calls CUDA directly.
 * Without a driver, init still succeeds with zero devices and logs why.
 */
#define _GNU_SOURCE

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_internal.h"

#ifndef XHAL_CUDA_VERSION
#define XHAL_CUDA_VERSION "0.0.0"
#endif

/* ------------------------------------------------------------ devices */

static xhal_status_t cu_device_count(xhal_plugin_context_t ctx,
                                     uint32_t* out_count) {
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_count == NULL)
    return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: device_count: out_count is NULL");
  *out_count = ctx->device_count;
  return XHAL_OK;
}

static xhal_status_t cu_device_properties(xhal_plugin_context_t ctx,
                                          uint32_t index,
                                          xhal_device_properties_t* out) {
  uint32_t size;
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out == NULL)
    return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: device_properties: out_props is NULL");
  if (index >= ctx->device_count)
    return cu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                    "cuda: device_properties: index %u past the %u devices",
                    index, ctx->device_count);
  /* Never write past the record the host gave (R-DEV-9). */
  size = out->struct_size;
  if (size == 0 || size > sizeof(*out)) size = (uint32_t)sizeof(*out);
  memcpy(out, &ctx->devices[index].props, size);
  out->struct_size = size;
  return XHAL_OK;
}

static xhal_status_t cu_device_open(xhal_plugin_context_t ctx, uint32_t index,
                                    xhal_plugin_device_t* out_device) {
  struct xhal_plugin_device* dev;
  CUresult r;
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_device == NULL)
    return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: device_open: out_device is NULL");
  *out_device = NULL;
  if (index >= ctx->device_count)
    return cu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                    "cuda: device_open: index %u past the %u devices", index,
                    ctx->device_count);
  dev = calloc(1, sizeof(*dev));
  if (dev == NULL)
    return cu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "cuda: device_open: out of memory");
  dev->ctx = ctx;
  dev->info = &ctx->devices[index];
  dev->index = index;
  if (pthread_mutex_init(&dev->mu, NULL) != 0) {
    free(dev);
    return cu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "cuda: device_open: cannot create a mutex");
  }
  r = ctx->cu.DevicePrimaryCtxRetain(&dev->cuctx, dev->info->dev);
  if (r != CUDA_SUCCESS) {
    xhal_status_t status = cu_check(ctx, r, "cuDevicePrimaryCtxRetain");
    pthread_mutex_destroy(&dev->mu);
    free(dev);
    return status;
  }
  *out_device = dev;
  return XHAL_OK;
}

static void cu_device_close(xhal_plugin_device_t dev) {
  if (dev == NULL) return;
  if (cu_use(dev) == XHAL_OK) cu_ops_release(dev);
  dev->ctx->cu.DevicePrimaryCtxRelease(dev->info->dev);
  pthread_mutex_destroy(&dev->mu);
  free(dev);
}

/* ------------------------------------------------------------ context */

static int attr(struct xhal_plugin_context* ctx, CUdevice d,
                CUdevice_attribute a) {
  int v = 0;
  if (ctx->cu.DeviceGetAttribute(&v, a, d) != CUDA_SUCCESS) return 0;
  return v;
}

static xhal_status_t enumerate(struct xhal_plugin_context* ctx) {
  int count = 0;
  CUresult r = ctx->cu.DeviceGetCount(&count);
  const cu_nvrtc_t* nvrtc = NULL;
  int have_nvrtc;
  if (r != CUDA_SUCCESS || count <= 0) {
    snprintf(ctx->reason, sizeof(ctx->reason),
             "the CUDA driver (%d) reports no device", ctx->cu.version);
    return XHAL_OK;
  }
  ctx->devices = calloc((size_t)count, sizeof(*ctx->devices));
  if (ctx->devices == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  /* Programs need NVRTC; claim the language only where it is present. */
  have_nvrtc = cu_nvrtc_get(ctx, &nvrtc) == XHAL_OK;
  for (int i = 0; i < count; ++i) {
    cu_device_info_t* info = &ctx->devices[ctx->device_count];
    xhal_device_properties_t* p = &info->props;
    size_t total = 0;
    CUuuid uuid;
    if (ctx->cu.DeviceGet(&info->dev, i) != CUDA_SUCCESS) continue;
    memset(p, 0, sizeof(*p));
    p->struct_size = (uint32_t)sizeof(*p);
    p->kind = XHAL_DEVICE_KIND_GPU;
    if (ctx->cu.DeviceGetName(p->name, (int)sizeof(p->name) - 1, info->dev) !=
            CUDA_SUCCESS ||
        p->name[0] == '\0')
      snprintf(p->name, sizeof(p->name), "CUDA device %d", i);
    snprintf(p->vendor, sizeof(p->vendor), "NVIDIA");
    snprintf(p->driver_version, sizeof(p->driver_version),
             "CUDA driver %d.%d, xhal cuda plugin %s", ctx->cu.version / 1000,
             (ctx->cu.version % 1000) / 10, XHAL_CUDA_VERSION);
    if (ctx->cu.DeviceGetUuid(&uuid, info->dev) == CUDA_SUCCESS)
      memcpy(p->uuid, uuid.bytes, sizeof(p->uuid));
    if (ctx->cu.DeviceTotalMem(&total, info->dev) != CUDA_SUCCESS) total = 0;
    if (total == 0) continue;
    p->memory_bytes = total;
    p->max_alloc_bytes = total;
    p->alignment = 256;
    p->local_memory_bytes = (uint64_t)attr(
        ctx, info->dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    p->compute_units = (uint32_t)attr(ctx, info->dev,
                                      CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    p->dtypes = XHAL_DTYPE_BIT(XHAL_DTYPE_F32) |
                XHAL_DTYPE_BIT(XHAL_DTYPE_F16) | XHAL_DTYPE_BIT(XHAL_DTYPE_I8) |
                XHAL_DTYPE_BIT(XHAL_DTYPE_I32);
    p->capabilities =
        XHAL_CAP_PROFILING | XHAL_CAP_HOST_FUNC | XHAL_CAP_HOST_ALLOC;
    if (have_nvrtc) p->capabilities |= XHAL_CAP_KERNEL_LANG_CUDA_C;
    info->max_threads =
        attr(ctx, info->dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    p->max_work_group_size = have_nvrtc ? (uint32_t)info->max_threads : 0;
    p->timer_numerator = 1;
    p->timer_denominator = 1;
    info->cc_major =
        attr(ctx, info->dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    info->cc_minor =
        attr(ctx, info->dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    info->max_smem = attr(
        ctx, info->dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    ctx->device_count++;
  }
  if (ctx->device_count == 0)
    snprintf(ctx->reason, sizeof(ctx->reason),
             "the CUDA driver's %d device(s) could not be queried", count);
  return XHAL_OK;
}

/* XHAL_CUDA_CACHE_DIR: where compiled operator kernels are kept ("" or
 * "0": nowhere); default $XDG_CACHE_HOME/xhal/cuda or ~/.cache/xhal/cuda. */
static void cache_dir_init(struct xhal_plugin_context* ctx) {
  const char* dir = secure_getenv("XHAL_CUDA_CACHE_DIR");
  const char* base;
  ctx->cache_dir[0] = '\0';
  if (dir != NULL) {
    if (dir[0] != '\0' && strcmp(dir, "0") != 0)
      snprintf(ctx->cache_dir, sizeof(ctx->cache_dir), "%s", dir);
    return;
  }
  base = secure_getenv("XDG_CACHE_HOME");
  if (base != NULL && base[0] == '/') {
    snprintf(ctx->cache_dir, sizeof(ctx->cache_dir), "%s/xhal/cuda", base);
    return;
  }
  base = secure_getenv("HOME");
  if (base != NULL && base[0] == '/')
    snprintf(ctx->cache_dir, sizeof(ctx->cache_dir), "%s/.cache/xhal/cuda",
             base);
}

static xhal_status_t cu_init(const xhal_host_services_t* host,
                             xhal_plugin_context_t* out_context) {
  struct xhal_plugin_context* ctx;
  xhal_status_t status = XHAL_OK;
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
  if (pthread_mutex_init(&ctx->lib_mu, NULL) != 0) {
    free(ctx);
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  cache_dir_init(ctx);
  if (cu_driver_open(ctx) == 0) {
    status = enumerate(ctx);
    if (status == XHAL_OK && ctx->device_count > 0)
      status = cu_register_ops(ctx);
  }
  if (status != XHAL_OK) {
    cu_libs_close(ctx);
    cu_driver_close(ctx);
    pthread_mutex_destroy(&ctx->lib_mu);
    free(ctx->devices);
    free(ctx);
    return status;
  }
  if (ctx->device_count == 0)
    cu_log(ctx, XHAL_LOG_INFO, "cuda: 0 devices: %s", ctx->reason);
  else
    cu_log(ctx, XHAL_LOG_INFO, "cuda: %u device(s), driver %d, cache %s",
           ctx->device_count, ctx->cu.version,
           ctx->cache_dir[0] ? ctx->cache_dir : "off");
  *out_context = ctx;
  return XHAL_OK;
}

static void cu_shutdown(xhal_plugin_context_t ctx) {
  if (ctx == NULL) return;
  cu_libs_close(ctx);
  cu_driver_close(ctx);
  pthread_mutex_destroy(&ctx->lib_mu);
  free(ctx->devices);
  free(ctx);
}

/* --------------------------------------------------------- dispatch */

static const xhal_plugin_dispatch_t kDispatch = {
    .struct_size = (uint32_t)sizeof(xhal_plugin_dispatch_t),
    .abi_major = XHAL_ABI_VERSION_MAJOR,
    .abi_minor = XHAL_ABI_VERSION_MINOR,
    .reserved = 0,
    .name = "cuda",
    .version = XHAL_CUDA_VERSION,
    .init = cu_init,
    .shutdown = cu_shutdown,
    .device_count = cu_device_count,
    .device_properties = cu_device_properties,
    .device_open = cu_device_open,
    .device_close = cu_device_close,
    .buffer_alloc = cu_buffer_alloc,
    .buffer_free = cu_buffer_free,
    .host_alloc = cu_host_alloc,
    .host_free = cu_host_free,
    .stream_create = cu_stream_create,
    .stream_destroy = cu_stream_destroy,
    .stream_synchronize = cu_stream_synchronize,
    .enqueue_write = cu_enqueue_write,
    .enqueue_read = cu_enqueue_read,
    .enqueue_copy = cu_enqueue_copy,
    .enqueue_fill = cu_enqueue_fill,
    .enqueue_kernel = cu_enqueue_kernel,
    .enqueue_host_func = cu_enqueue_host_func,
    .event_create = cu_event_create,
    .event_destroy = cu_event_destroy,
    .event_record = cu_event_record,
    .event_wait = cu_event_wait,
    .event_query = cu_event_query,
    .event_elapsed = cu_event_elapsed,
    .stream_wait_event = cu_stream_wait_event,
    .program_build = cu_program_build,
    .program_destroy = cu_program_destroy,
    .kernel_create = cu_kernel_create,
    .kernel_destroy = cu_kernel_destroy,
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
