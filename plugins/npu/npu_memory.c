/*
 * npu_memory.c - device DRAM: a first-fit allocator over the heap (DRAM
 * above the command ring) and the buffer objects handed to the host.
 *
 * First fit over an address-ordered free list with coalescing on free is
 * plenty for a device with tens of live buffers; libxhal's stream-ordered
 * pool sits on top of it for frameworks that allocate often.
 */
#include <stdlib.h>

#include "npu_internal.h"

xhal_status_t npu_heap_init(npu_dev_t* dev, uint64_t base, uint64_t size) {
  npu_block_t* b = calloc(1, sizeof(*b));
  if (!b) return XHAL_ERROR_OUT_OF_MEMORY;
  dev->heap_base = npu_align_up(base, NPU_ALIGN);
  dev->heap_size = (size - (dev->heap_base - base)) / NPU_ALIGN * NPU_ALIGN;
  b->addr = dev->heap_base;
  b->size = dev->heap_size;
  dev->free_list = b;
  return XHAL_OK;
}

void npu_heap_destroy(npu_dev_t* dev) {
  npu_block_t* b = dev->free_list;
  while (b) {
    npu_block_t* next = b->next;
    free(b);
    b = next;
  }
  dev->free_list = NULL;
}

/* Takes `size` bytes (a multiple of NPU_ALIGN) from the first block that
 * holds them. mu held. */
static int heap_take(npu_dev_t* dev, uint64_t size, uint64_t* out) {
  npu_block_t **link = &dev->free_list, *b;
  for (b = *link; b; link = &b->next, b = *link) {
    if (b->size < size) continue;
    *out = b->addr;
    b->addr += size;
    b->size -= size;
    if (b->size == 0) {
      *link = b->next;
      free(b);
    }
    return 1;
  }
  return 0;
}

/* Returns [addr, addr + size) to the free list, merging neighbours.
 * Returns 0 if a list node could not be allocated (the range leaks, the
 * heap stays consistent). mu held. */
static int heap_give(npu_dev_t* dev, uint64_t addr, uint64_t size) {
  npu_block_t **link = &dev->free_list, *prev = NULL, *b;
  while (*link && (*link)->addr < addr) {
    prev = *link;
    link = &(*link)->next;
  }
  if (prev && prev->addr + prev->size == addr) {
    prev->size += size;
    if (prev->next && prev->addr + prev->size == prev->next->addr) {
      b = prev->next;
      prev->size += b->size;
      prev->next = b->next;
      free(b);
    }
    return 1;
  }
  if (*link && addr + size == (*link)->addr) {
    (*link)->addr = addr;
    (*link)->size += size;
    return 1;
  }
  b = calloc(1, sizeof(*b));
  if (!b) return 0;
  b->addr = addr;
  b->size = size;
  b->next = *link;
  *link = b;
  return 1;
}

xhal_status_t npu_buffer_alloc(xhal_plugin_device_t device, uint64_t size,
                               uint32_t flags, xhal_plugin_buffer_t* out) {
  npu_dev_t* dev = (npu_dev_t*)(void*)device;
  struct xhal_plugin_buffer* buf;
  uint64_t rounded, addr = 0;
  int ok;
  if (!dev) return XHAL_ERROR_INVALID_HANDLE;
  if (!out) {
    npu_set_error(dev, XHAL_ERROR_INVALID_ARGUMENT,
                  "npu: buffer_alloc: NULL output pointer");
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (size == 0 || (flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL)) {
    npu_set_error(dev, XHAL_ERROR_INVALID_ARGUMENT,
                  "npu: buffer size 0 or unknown memory flags");
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (flags & (XHAL_MEMORY_HOST_VISIBLE | XHAL_MEMORY_HOST_CACHED)) {
    npu_set_error(dev, XHAL_ERROR_UNSUPPORTED,
                  "npu: device memory is not host-visible");
    return XHAL_ERROR_UNSUPPORTED;
  }
  if (size > dev->heap_size) {
    npu_set_error(dev, XHAL_ERROR_OUT_OF_RANGE,
                  "npu: size exceeds the device's max allocation");
    return XHAL_ERROR_OUT_OF_RANGE;
  }
  rounded = npu_align_up(size, NPU_ALIGN);
  buf = calloc(1, sizeof(*buf));
  if (!buf) {
    npu_set_error(dev, XHAL_ERROR_OUT_OF_MEMORY,
                  "npu: buffer_alloc: out of host memory");
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  pthread_mutex_lock(&dev->mu);
  ok = !dev->lost && heap_take(dev, rounded, &addr);
  pthread_mutex_unlock(&dev->mu);
  if (!ok) {
    free(buf);
    npu_set_error(dev,
                  dev->lost ? XHAL_ERROR_DEVICE_LOST : XHAL_ERROR_OUT_OF_MEMORY,
                  "npu: out of device memory");
    return dev->lost ? XHAL_ERROR_DEVICE_LOST : XHAL_ERROR_OUT_OF_MEMORY;
  }
  buf->dev = dev;
  buf->addr = addr;
  buf->size = size;
  buf->reserved = rounded;
  *out = buf;
  return XHAL_OK;
}

void npu_buffer_free(xhal_plugin_device_t device, xhal_plugin_buffer_t buf) {
  npu_dev_t* dev = (npu_dev_t*)(void*)device;
  if (!dev || !buf) return;
  pthread_mutex_lock(&dev->mu);
  (void)heap_give(dev, buf->addr, buf->reserved);
  pthread_mutex_unlock(&dev->mu);
  free(buf);
}
