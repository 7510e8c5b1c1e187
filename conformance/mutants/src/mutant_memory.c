/*
 * mutant_memory.c - mutant buffers: "device memory" that is host memory from
 * the host's aligned allocator, mapped in place.
 *
 * VENDOR: on a real device, alloc reserves device memory (through your
 * kernel driver), `base` becomes a device address, and map either returns
 * a CPU mapping of a host-visible BAR/aperture or fails with
 * XHAL_ERROR_UNSUPPORTED for device-local memory. Copies between host
 * and device then go through DMA commands in mutant_stream.c.
 *
 * Thread-safety: alloc/free/map/unmap may be called from any thread on
 * any buffer; the per-device byte count is atomic and each buffer's map
 * list has its own mutex.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "mutant_internal.h"

xhal_status_t mutant_buffer_check_range(const struct xhal_plugin_context* ctx,
                                        const char* entry, const char* what,
                                        const struct xhal_plugin_buffer* buffer,
                                        uint64_t offset, uint64_t size) {
  uint64_t end;
  if (buffer == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_HANDLE, "%s: %s is NULL", entry,
                        what);
    /* Overflow-checked: offset + size may wrap with hostile values. */
#ifdef MUTANT_ERR_RANGE_OVERFLOW
  end = offset + size; /* wraps for hostile values */
  if (end > buffer->size)
#else
  if (__builtin_add_overflow(offset, size, &end) || end > buffer->size)
#endif
#ifdef MUTANT_ERR_RANGE_NO_MESSAGE
    return XHAL_ERROR_OUT_OF_RANGE;
#else
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                        "%s: %s range [%llu, +%llu) exceeds its size %llu",
                        entry, what, (unsigned long long)offset,
                        (unsigned long long)size,
                        (unsigned long long)buffer->size);
#endif
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
                                   MUTANT_BUFFER_ALIGNMENT);
  /* An older host without the allocator service: use the C library. */
  if (size > SIZE_MAX) return NULL;
  if (posix_memalign(&ptr, MUTANT_BUFFER_ALIGNMENT, (size_t)size) != 0)
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

xhal_status_t mutant_buffer_alloc(xhal_plugin_device_t device, uint64_t size,
                                  uint32_t memory_flags,
                                  xhal_plugin_buffer_t* out_buffer) {
  struct xhal_plugin_context* ctx;
  struct xhal_plugin_buffer* buffer;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_buffer == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "buffer_alloc: out_buffer is NULL");
  *out_buffer = NULL;
  if (size == 0)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "buffer_alloc: size is 0");
    /* Unknown bits may mean something in a later ABI: refuse rather than
     * silently give different memory. */
#ifdef MUTANT_MEM_UNKNOWN_FLAGS_IGNORED
  if (0)
#else
  if ((memory_flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL) != 0)
#endif
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "buffer_alloc: unknown memory_flags bits 0x%x",
                        memory_flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL);
#ifdef MUTANT_MEM_LIMIT_EXCLUSIVE
  if (size >= ctx->props.max_alloc_bytes)
#else
  if (size > ctx->props.max_alloc_bytes)
#endif
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                        "buffer_alloc: size %llu exceeds max_alloc_bytes %llu",
                        (unsigned long long)size,
                        (unsigned long long)ctx->props.max_alloc_bytes);
  if (!reserve_bytes(device, size))
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
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
  return mutant_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                      "buffer_alloc: cannot allocate %llu bytes",
                      (unsigned long long)size);
}

void mutant_buffer_retain(struct xhal_plugin_buffer* buffer) {
  atomic_fetch_add_explicit(&buffer->refs, 1, memory_order_relaxed);
}

void mutant_buffer_release(struct xhal_plugin_buffer* buffer) {
  struct xhal_plugin_context* ctx = buffer->ctx;
  if (atomic_fetch_sub_explicit(&buffer->refs, 1, memory_order_acq_rel) != 1)
    return;
#ifdef MUTANT_MEM_LEAK_SMALL
  /* Small buffers come from a sub-allocator that never gives back. */
  if (buffer->size > 256) host_free(ctx, buffer->base);
#else
  if (!buffer->base_freed) host_free(ctx, buffer->base);
#endif
#ifdef MUTANT_MEM_ACCOUNT_DEFERRED
  /* Only a free by the host gives the bytes back to the device count. */
  if (!buffer->freed_by_command)
#endif
    atomic_fetch_sub(&ctx->device.allocated, buffer->size);
  pthread_mutex_destroy(&buffer->map_mu);
  free(buffer->maps);
  free(buffer);
}

/* Drops the host's reference. Commands still queued on a stream hold
 * their own, so the memory outlives them (a framework commonly frees a
 * temporary right after enqueuing the work that uses it). */
void mutant_buffer_free(xhal_plugin_device_t device,
                        xhal_plugin_buffer_t buffer) {
  (void)device;
#ifdef MUTANT_MEM_FREE_IGNORES_PENDING
  /* "The host is done with it": the memory goes back at once, although
   * queued commands still point into it. */
  if (buffer != NULL) {
    host_free(buffer->ctx, buffer->base);
    buffer->base_freed = 1;
  }
#endif
#ifdef MUTANT_MEM_ACCOUNT_DEFERRED
  if (buffer != NULL &&
      atomic_load_explicit(&buffer->refs, memory_order_acquire) > 1)
    buffer->freed_by_command = 1;
#endif
  if (buffer != NULL) mutant_buffer_release(buffer);
}

xhal_status_t mutant_buffer_map(xhal_plugin_device_t device,
                                xhal_plugin_buffer_t buffer, uint64_t offset,
                                uint64_t size, uint32_t map_flags,
                                void** out_ptr) {
  struct xhal_plugin_context* ctx;
  xhal_status_t status;
  void* ptr;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_ptr == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "buffer_map: out_ptr is NULL");
  *out_ptr = NULL;
#ifdef MUTANT_ERR_MAP_FLAGS_IGNORED
  if (0)
#else
  if ((map_flags & ~(uint32_t)(XHAL_MAP_READ | XHAL_MAP_WRITE)) != 0)
#endif
    return mutant_error(
        ctx, XHAL_ERROR_INVALID_ARGUMENT,
        "buffer_map: unknown map_flags bits 0x%x",
        map_flags & ~(uint32_t)(XHAL_MAP_READ | XHAL_MAP_WRITE));
#ifdef MUTANT_MEM_MAP_NO_RANGE_CHECK
  status = buffer == NULL ? XHAL_ERROR_INVALID_HANDLE : XHAL_OK;
  (void)size;
#else
  status = mutant_buffer_check_range(ctx, "buffer_map", "buffer", buffer,
                                     offset, size);
#endif
  if (status != XHAL_OK) return status;
  /* Only memory allocated host-visible may be mapped: on hardware the
   * rest lives where the CPU cannot reach it. */
  if ((buffer->flags & XHAL_MEMORY_HOST_VISIBLE) == 0)
    return mutant_error(ctx, XHAL_ERROR_UNSUPPORTED,
                        "buffer_map: the buffer was not allocated "
                        "XHAL_MEMORY_HOST_VISIBLE");
#ifdef MUTANT_MEM_MAP_IGNORES_OFFSET
  ptr = buffer->base; /* the whole buffer is mapped anyway */
#else
  ptr = buffer->base + offset;
#endif

  pthread_mutex_lock(&buffer->map_mu);
  if (buffer->map_count == buffer->map_capacity) {
    uint32_t cap = buffer->map_capacity == 0 ? 4 : buffer->map_capacity * 2;
    void** maps = cap > buffer->map_capacity
                      ? realloc(buffer->maps, (size_t)cap * sizeof(void*))
                      : NULL;
    if (maps == NULL) {
      pthread_mutex_unlock(&buffer->map_mu);
      return mutant_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
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

xhal_status_t mutant_buffer_unmap(xhal_plugin_device_t device,
                                  xhal_plugin_buffer_t buffer, void* ptr) {
  struct xhal_plugin_context* ctx;
  uint32_t i;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (buffer == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_HANDLE,
                        "buffer_unmap: buffer is NULL");
  if (ptr == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
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
#ifdef MUTANT_MEM_UNMAP_ANY
  return XHAL_OK; /* nothing to undo for host memory */
#endif
  return mutant_error(ctx, XHAL_ERROR_INVALID_STATE,
                      "buffer_unmap: %p is not a live mapping of the buffer",
                      ptr);
}
