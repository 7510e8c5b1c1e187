/*
 * cpu_buffer.c - CPU buffers: host memory from the host's aligned
 * allocator, always host-visible, mapped in place (map returns base +
 * offset; nothing is copied).
 *
 * Mappings are tracked per buffer only so that unmap can tell a live
 * mapping from a stray or repeated one (XHAL_ERROR_INVALID_STATE); map and
 * unmap are not hot paths, so a mutex and a small array suffice.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

xhal_status_t cpu_buffer_check_range(const struct xhal_plugin_context* ctx,
                                     const char* entry, const char* what,
                                     const struct xhal_plugin_buffer* buffer,
                                     uint64_t offset, uint64_t size) {
  uint64_t end;
  if (buffer == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_HANDLE, "cpu: %s: %s is NULL",
                     entry, what);
  if (__builtin_add_overflow(offset, size, &end) || end > buffer->size)
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "cpu: %s: %s range [%llu, +%llu) exceeds its size %llu",
                     entry, what, (unsigned long long)offset,
                     (unsigned long long)size,
                     (unsigned long long)buffer->size);
  return XHAL_OK;
}

static void* host_alloc(const struct xhal_plugin_context* ctx, uint64_t size) {
  void* ptr = NULL;
  if (ctx->host.alloc_aligned != NULL)
    return ctx->host.alloc_aligned(ctx->host.host_context, size,
                                   CPU_BUFFER_ALIGNMENT);
  /* A host without an allocator service: use the C library's. */
  if (size > SIZE_MAX) return NULL;
  if (posix_memalign(&ptr, CPU_BUFFER_ALIGNMENT, (size_t)size) != 0)
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

xhal_status_t cpu_buffer_alloc(xhal_plugin_device_t device, uint64_t size,
                               uint32_t memory_flags,
                               xhal_plugin_buffer_t* out_buffer) {
  struct xhal_plugin_context* ctx;
  struct xhal_plugin_buffer* buffer;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_buffer == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: buffer_alloc: out_buffer is NULL");
  *out_buffer = NULL;
  if (size == 0)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: buffer_alloc: size is 0");
  if ((memory_flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL) != 0)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: buffer_alloc: unknown memory_flags bits 0x%x",
                     memory_flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL);
  if (size > ctx->props.max_alloc_bytes)
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "cpu: buffer_alloc: size %llu exceeds max_alloc_bytes "
                     "%llu",
                     (unsigned long long)size,
                     (unsigned long long)ctx->props.max_alloc_bytes);
  buffer = calloc(1, sizeof(*buffer));
  if (buffer == NULL)
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "cpu: buffer_alloc: no memory for the buffer record");
  buffer->base = host_alloc(ctx, size);
  if (buffer->base == NULL) {
    free(buffer);
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "cpu: buffer_alloc: cannot allocate %llu bytes",
                     (unsigned long long)size);
  }
  if (pthread_mutex_init(&buffer->map_mu, NULL) != 0) {
    host_free(ctx, buffer->base);
    free(buffer);
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "cpu: buffer_alloc: cannot create the map mutex");
  }
  buffer->ctx = ctx;
  buffer->size = size;
  buffer->flags = memory_flags;
  *out_buffer = buffer;
  return XHAL_OK;
}

/* Like cudaFree, freeing waits for the context's queued work: commands
 * hold raw addresses into the buffer, and a framework commonly releases a
 * temporary right after enqueuing the work that uses it. */
void cpu_buffer_free(xhal_plugin_device_t device, xhal_plugin_buffer_t buffer) {
  (void)device;
  if (buffer == NULL) return;
  cpu_streams_drain(buffer->ctx);
  host_free(buffer->ctx, buffer->base);
  pthread_mutex_destroy(&buffer->map_mu);
  free(buffer->maps);
  free(buffer);
}

/* Every CPU buffer is host memory, so every buffer maps, whatever its
 * flags: the memory flags are placement hints a CPU cannot act on. */
xhal_status_t cpu_buffer_map(xhal_plugin_device_t device,
                             xhal_plugin_buffer_t buffer, uint64_t offset,
                             uint64_t size, uint32_t map_flags,
                             void** out_ptr) {
  struct xhal_plugin_context* ctx;
  xhal_status_t status;
  void* ptr;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_ptr == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: buffer_map: out_ptr is NULL");
  *out_ptr = NULL;
  if ((map_flags & ~(uint32_t)(XHAL_MAP_READ | XHAL_MAP_WRITE)) != 0)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: buffer_map: unknown map_flags bits 0x%x",
                     map_flags & ~(uint32_t)(XHAL_MAP_READ | XHAL_MAP_WRITE));
  status =
      cpu_buffer_check_range(ctx, "buffer_map", "buffer", buffer, offset, size);
  if (status != XHAL_OK) return status;
  ptr = buffer->base + offset;

  pthread_mutex_lock(&buffer->map_mu);
  if (buffer->map_count == buffer->map_capacity) {
    uint32_t cap = buffer->map_capacity == 0 ? 4 : buffer->map_capacity * 2;
    void** maps = cap > buffer->map_capacity
                      ? realloc(buffer->maps, (size_t)cap * sizeof(void*))
                      : NULL;
    if (maps == NULL) {
      pthread_mutex_unlock(&buffer->map_mu);
      return cpu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                       "cpu: buffer_map: no memory to track the mapping");
    }
    buffer->maps = maps;
    buffer->map_capacity = cap;
  }
  buffer->maps[buffer->map_count++] = ptr;
  pthread_mutex_unlock(&buffer->map_mu);
  *out_ptr = ptr;
  return XHAL_OK;
}

xhal_status_t cpu_buffer_unmap(xhal_plugin_device_t device,
                               xhal_plugin_buffer_t buffer, void* ptr) {
  struct xhal_plugin_context* ctx;
  uint32_t i;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (buffer == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_HANDLE,
                     "cpu: buffer_unmap: buffer is NULL");
  if (ptr == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: buffer_unmap: ptr is NULL");
  pthread_mutex_lock(&buffer->map_mu);
  for (i = 0; i < buffer->map_count; ++i) {
    if (buffer->maps[i] == ptr) {
      buffer->maps[i] = buffer->maps[--buffer->map_count];
      pthread_mutex_unlock(&buffer->map_mu);
      return XHAL_OK;
    }
  }
  pthread_mutex_unlock(&buffer->map_mu);
  return cpu_error(ctx, XHAL_ERROR_INVALID_STATE,
                   "cpu: buffer_unmap: ptr %p is not a live mapping of the "
                   "buffer",
                   ptr);
}
