/*
 * cu_memory.c - device buffers (cuMemAlloc) and page-locked host memory
 * (cuMemHostAlloc) for xhal_host_alloc.
 *
 * Buffers come from cuMemAlloc rather than the stream-ordered allocator:
 * a buffer is not tied to a stream, and cuMemFree waits for the device
 * work that may still use it (R-MEM-15). Frameworks that allocate in
 * stream order use xhal_pool_t, which reuses these allocations without a
 * driver call (docs/performance.md compares it with cuMemAllocAsync).
 */
#include <stdlib.h>

#include "cu_internal.h"

xhal_status_t cu_buffer_alloc(xhal_plugin_device_t dev, uint64_t size,
                              uint32_t flags, xhal_plugin_buffer_t* out) {
  struct xhal_plugin_buffer* b;
  xhal_status_t status;
  CUresult r;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out == NULL)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: buffer_alloc: out_buffer is NULL");
  *out = NULL;
  if (size == 0)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: buffer_alloc: size is 0");
  if (flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: buffer_alloc: unknown memory flags 0x%x",
                    flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL);
  if (flags & (XHAL_MEMORY_HOST_VISIBLE | XHAL_MEMORY_HOST_CACHED))
    return cu_error(dev->ctx, XHAL_ERROR_UNSUPPORTED,
                    "cuda: buffer_alloc: host-visible buffers are not "
                    "supported (use xhal_host_alloc)");
  if (size > dev->info->props.max_alloc_bytes)
    return cu_error(dev->ctx, XHAL_ERROR_OUT_OF_RANGE,
                    "cuda: buffer_alloc: %llu bytes exceed the device's "
                    "%llu",
                    (unsigned long long)size,
                    (unsigned long long)dev->info->props.max_alloc_bytes);
  b = calloc(1, sizeof(*b));
  if (b == NULL)
    return cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "cuda: buffer_alloc: out of host memory");
  status = cu_use(dev);
  if (status != XHAL_OK) {
    free(b);
    return status;
  }
  r = dev->ctx->cu.MemAlloc(&b->ptr, (size_t)size);
  if (r != CUDA_SUCCESS) {
    free(b);
    if (r == CUDA_ERROR_OUT_OF_MEMORY)
      return cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                      "cuda: buffer_alloc: the device has no %llu bytes left",
                      (unsigned long long)size);
    return cu_check(dev->ctx, r, "cuMemAlloc");
  }
  b->dev = dev;
  b->size = size;
  atomic_init(&b->refs, 1);
  *out = b;
  return XHAL_OK;
}

void cu_buffer_retain(struct xhal_plugin_buffer* b) {
  atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void cu_buffer_release(struct xhal_plugin_buffer* b) {
  if (b == NULL) return;
  if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
  /* cuMemFree waits for device work still using the memory. */
  if (cu_use(b->dev) == XHAL_OK) b->dev->ctx->cu.MemFree(b->ptr);
  free(b);
}

void cu_buffer_free(xhal_plugin_device_t dev, xhal_plugin_buffer_t b) {
  (void)dev;
  cu_buffer_release(b);
}

xhal_status_t cu_host_alloc(xhal_plugin_device_t dev, uint64_t size,
                            void** out_ptr) {
  xhal_status_t status;
  CUresult r;
  void* p = NULL;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_ptr == NULL)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: host_alloc: out_ptr is NULL");
  *out_ptr = NULL;
  if (size == 0)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: host_alloc: size is 0");
  status = cu_use(dev);
  if (status != XHAL_OK) return status;
  /* Portable: page-locked for every context, so transfers of other
   * devices and of code calling CUDA directly run at full rate too. */
  r = dev->ctx->cu.MemHostAlloc(&p, (size_t)size, CU_MEMHOSTALLOC_PORTABLE);
  if (r != CUDA_SUCCESS) {
    if (r == CUDA_ERROR_OUT_OF_MEMORY)
      return cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                      "cuda: host_alloc: cannot page-lock %llu bytes",
                      (unsigned long long)size);
    return cu_check(dev->ctx, r, "cuMemHostAlloc");
  }
  *out_ptr = p;
  return XHAL_OK;
}

void cu_host_free(xhal_plugin_device_t dev, void* ptr) {
  if (dev == NULL || ptr == NULL) return;
  if (cu_use(dev) == XHAL_OK) dev->ctx->cu.MemFreeHost(ptr);
}
