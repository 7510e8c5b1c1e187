/*
 * acme_memory.c - acme buffers: "device memory" that is host memory from
 * the host's aligned allocator, mapped in place.
 *
 * VENDOR: on a real device, alloc reserves device memory (through your
 * kernel driver), `base` becomes a device address, and map either returns
 * a CPU mapping of a host-visible BAR/aperture or fails with
 * XHAL_ERROR_UNSUPPORTED for device-local memory. Copies between host
 * and device then go through DMA commands in acme_stream.c.
 *
 * Thread-safety: alloc/free/map/unmap may be called from any thread on
 * any buffer; the per-device byte count is atomic and each buffer's map
 * list has its own mutex.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "acme_internal.h"

xhal_status_t acme_buffer_check_range(const struct xhal_plugin_context* ctx,
                                      const char* entry, const char* what,
                                      const struct xhal_plugin_buffer* buffer,
                                      uint64_t offset, uint64_t size) {
  uint64_t end;
  if (buffer == NULL)
    return acme_error(ctx, XHAL_ERROR_INVALID_HANDLE, "%s: %s is NULL", entry,
                      what);
  /* Overflow-checked: offset + size may wrap with hostile values. */
  if (__builtin_add_overflow(offset, size, &end) || end > buffer->size)
    return acme_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                      "%s: %s range [%llu, +%llu) exceeds its size %llu", entry,
                      what, (unsigned long long)offset,
                      (unsigned long long)size,
                      (unsigned long long)buffer->size);
  return XHAL_OK;
}

/* Takes `size` bytes of the device's memory, or fails if that would pass
 * memory_bytes. A compare-and-swap loop keeps concurrent allocations
 * from overshooting together. */
static int reserve_bytes(struct xhal_plugin_device* device, uint64_t size) {
  uint64_t used = atomic_load(&device->allocated);
  uint64_t want;
  do {
    if (__builtin_add_overflow(used, size, &want) ||
        want > device->ctx->props.memory_bytes)
      return 0;
  } while (!atomic_compare_exchange_weak(&device->allocated, &used, want));
  return 1;
}

static void* host_alloc(const struct xhal_plugin_context* ctx, uint64_t size) {
  void* ptr = NULL;
  if (ctx->host.alloc_aligned != NULL)
    return ctx->host.alloc_aligned(ctx->host.host_context, size,
                                   ACME_BUFFER_ALIGNMENT);
  /* An older host without the allocator service: use the C library. */
  if (size > SIZE_MAX) return NULL;
  if (posix_memalign(&ptr, ACME_BUFFER_ALIGNMENT, (size_t)size) != 0)
    return NULL;
  return ptr;
}

static void host_free(const struct xhal_plugin_context* ctx, void* ptr) {
  if (ctx->host.alloc_aligned != NULL) {
    if (ctx->host.free_aligned != NULL)
      ctx->host.free_aligned(ctx->host.host_context, ptr);
    return;
  }
  free(ptr);
}

xhal_status_t acme_buffer_alloc(xhal_plugin_device_t device, uint64_t size,
                                uint32_t memory_flags,
                                xhal_plugin_buffer_t* out_buffer) {
  struct xhal_plugin_context* ctx;
  struct xhal_plugin_buffer* buffer;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_buffer == NULL)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "buffer_alloc: out_buffer is NULL");
  *out_buffer = NULL;
  if (size == 0)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "buffer_alloc: size is 0");
  /* Unknown bits may mean something in a later ABI: refuse rather than
   * silently give different memory. */
  if ((memory_flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL) != 0)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "buffer_alloc: unknown memory_flags bits 0x%x",
                      memory_flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL);
  if (size > ctx->props.max_alloc_bytes)
    return acme_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                      "buffer_alloc: size %llu exceeds max_alloc_bytes %llu",
                      (unsigned long long)size,
                      (unsigned long long)ctx->props.max_alloc_bytes);
  if (!reserve_bytes(device, size))
    return acme_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                      "buffer_alloc: %llu bytes do not fit in the device's "
                      "free memory",
                      (unsigned long long)size);
  buffer = calloc(1, sizeof(*buffer));
  if (buffer == NULL) goto no_memory;
  buffer->base = host_alloc(ctx, size);
  if (buffer->base == NULL) goto no_memory;
  if (pthread_mutex_init(&buffer->map_mu, NULL) != 0) goto no_memory;
  buffer->ctx = ctx;
  atomic_init(&buffer->refs, 1); /* the host's reference */
  buffer->size = size;
  buffer->flags = memory_flags;
  *out_buffer = buffer;
  return XHAL_OK;

no_memory:
  if (buffer != NULL && buffer->base != NULL) host_free(ctx, buffer->base);
  free(buffer);
  atomic_fetch_sub(&device->allocated, size);
  return acme_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "buffer_alloc: cannot allocate %llu bytes",
                    (unsigned long long)size);
}

void acme_buffer_retain(struct xhal_plugin_buffer* buffer) {
  atomic_fetch_add_explicit(&buffer->refs, 1, memory_order_relaxed);
}

void acme_buffer_release(struct xhal_plugin_buffer* buffer) {
  struct xhal_plugin_context* ctx = buffer->ctx;
  if (atomic_fetch_sub_explicit(&buffer->refs, 1, memory_order_acq_rel) != 1)
    return;
  host_free(ctx, buffer->base);
  atomic_fetch_sub(&ctx->device.allocated, buffer->size);
  pthread_mutex_destroy(&buffer->map_mu);
  free(buffer->maps);
  free(buffer);
}

/* Drops the host's reference. Commands still queued on a stream hold
 * their own, so the memory outlives them (a framework commonly frees a
 * temporary right after enqueuing the work that uses it). */
void acme_buffer_free(xhal_plugin_device_t device,
                      xhal_plugin_buffer_t buffer) {
  (void)device;
  if (buffer != NULL) acme_buffer_release(buffer);
}

xhal_status_t acme_buffer_map(xhal_plugin_device_t device,
                              xhal_plugin_buffer_t buffer, uint64_t offset,
                              uint64_t size, uint32_t map_flags,
                              void** out_ptr) {
  struct xhal_plugin_context* ctx;
  xhal_status_t status;
  void* ptr;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_ptr == NULL)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "buffer_map: out_ptr is NULL");
  *out_ptr = NULL;
  if ((map_flags & ~(uint32_t)(XHAL_MAP_READ | XHAL_MAP_WRITE)) != 0)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "buffer_map: unknown map_flags bits 0x%x",
                      map_flags & ~(uint32_t)(XHAL_MAP_READ | XHAL_MAP_WRITE));
  status = acme_buffer_check_range(ctx, "buffer_map", "buffer", buffer, offset,
                                   size);
  if (status != XHAL_OK) return status;
  /* Only memory allocated host-visible may be mapped: on hardware the
   * rest lives where the CPU cannot reach it. */
  if ((buffer->flags & XHAL_MEMORY_HOST_VISIBLE) == 0)
    return acme_error(ctx, XHAL_ERROR_UNSUPPORTED,
                      "buffer_map: the buffer was not allocated "
                      "XHAL_MEMORY_HOST_VISIBLE");
  ptr = buffer->base + offset;

  pthread_mutex_lock(&buffer->map_mu);
  if (buffer->map_count == buffer->map_capacity) {
    uint32_t cap = buffer->map_capacity == 0 ? 4 : buffer->map_capacity * 2;
    void** maps = cap > buffer->map_capacity
                      ? realloc(buffer->maps, (size_t)cap * sizeof(void*))
                      : NULL;
    if (maps == NULL) {
      pthread_mutex_unlock(&buffer->map_mu);
      return acme_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                        "buffer_map: no memory to track the mapping");
    }
    buffer->maps = maps;
    buffer->map_capacity = cap;
  }
  buffer->maps[buffer->map_count++] = ptr;
  pthread_mutex_unlock(&buffer->map_mu);
  *out_ptr = ptr;
  return XHAL_OK;
}

xhal_status_t acme_buffer_unmap(xhal_plugin_device_t device,
                                xhal_plugin_buffer_t buffer, void* ptr) {
  struct xhal_plugin_context* ctx;
  uint32_t i;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (buffer == NULL)
    return acme_error(ctx, XHAL_ERROR_INVALID_HANDLE,
                      "buffer_unmap: buffer is NULL");
  if (ptr == NULL)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "buffer_unmap: ptr is NULL");
  pthread_mutex_lock(&buffer->map_mu);
  for (i = 0; i < buffer->map_count; ++i) {
    if (buffer->maps[i] == ptr) {
      buffer->maps[i] = buffer->maps[--buffer->map_count];
      pthread_mutex_unlock(&buffer->map_mu);
      return XHAL_OK;
    }
  }
  pthread_mutex_unlock(&buffer->map_mu);
  return acme_error(ctx, XHAL_ERROR_INVALID_STATE,
                    "buffer_unmap: %p is not a live mapping of the buffer",
                    ptr);
}
