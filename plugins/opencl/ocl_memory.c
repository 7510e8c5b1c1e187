/*
 * ocl_memory.c - buffers: allocation, host mapping, and the sub-buffers
 * that kernel arguments with an offset bind.
 *
 * A host-visible buffer is created with CL_MEM_ALLOC_HOST_PTR, which lets
 * the implementation place it in memory the host can map cheaply (pinned
 * memory on discrete GPUs). Maps go through the device's auxiliary queue
 * and block: the ABI requires the caller to have synchronised the streams
 * that write the buffer, so nothing else needs ordering against them.
 */
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

/* Sub-buffers kept per buffer for reuse; past this, an argument's
 * sub-buffer lives for one launch only (bounded memory whatever the
 * caller does). */
#define OCL_MAX_CACHED_SUBBUFFERS 32

xhal_status_t ocl_buffer_alloc(xhal_plugin_device_t dev, uint64_t size,
                               uint32_t flags, xhal_plugin_buffer_t* out) {
  struct xhal_plugin_buffer* b;
  cl_mem_flags cl_flags = CL_MEM_READ_WRITE;
  cl_int err = CL_SUCCESS;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: buffer_alloc: out_buffer is NULL");
  *out = NULL;
  if (size == 0)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: buffer_alloc: size is 0");
  if (flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: buffer_alloc: unknown memory flags 0x%x", flags);
  if (size > dev->info->props.max_alloc_bytes || size > (uint64_t)SIZE_MAX)
    return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "opencl: buffer_alloc: %llu bytes exceed the device's "
                     "largest allocation (%llu)",
                     (unsigned long long)size,
                     (unsigned long long)dev->info->props.max_alloc_bytes);
  if (flags & XHAL_MEMORY_HOST_VISIBLE) cl_flags |= CL_MEM_ALLOC_HOST_PTR;
  b = calloc(1, sizeof(*b));
  if (b == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: buffer_alloc: out of host memory");
  if (pthread_mutex_init(&b->sub_mu, NULL) != 0) {
    free(b);
    return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: buffer_alloc: cannot create a mutex");
  }
  b->mem = clCreateBuffer(dev->context, cl_flags, (size_t)size, NULL, &err);
  if (b->mem == NULL || err != CL_SUCCESS) {
    pthread_mutex_destroy(&b->sub_mu);
    free(b);
    return ocl_cl_error(dev->ctx, err, "clCreateBuffer");
  }
  b->dev = dev;
  b->size = size;
  b->flags = flags;
  atomic_init(&b->refs, 1);
  *out = b;
  return XHAL_OK;
}

void ocl_buffer_free(xhal_plugin_device_t dev, xhal_plugin_buffer_t b) {
  (void)dev;
  ocl_buffer_release(b);
}

void ocl_buffer_retain(struct xhal_plugin_buffer* b) {
  if (b != NULL) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

/* The last reference goes with buffer_free or with the last deferred
 * command that names the buffer (R-MEM-15: work enqueued before a free
 * still runs). */
void ocl_buffer_release(struct xhal_plugin_buffer* b) {
  if (b == NULL) return;
  if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
  /* Mappings the caller left behind: OpenCL wants them unmapped before
   * the memory object goes. */
  while (b->maps != NULL) {
    ocl_mapping_t* m = b->maps;
    b->maps = m->next;
    if (clEnqueueUnmapMemObject(b->dev->aux, b->mem, m->ptr, 0, NULL, NULL) ==
        CL_SUCCESS)
      clFinish(b->dev->aux);
    free(m);
  }
  while (b->subs != NULL) {
    ocl_subbuf_t* s = b->subs;
    b->subs = s->next;
    clReleaseMemObject(s->mem);
    free(s);
  }
  /* OpenCL defers the release until enqueued commands using it finish. */
  clReleaseMemObject(b->mem);
  pthread_mutex_destroy(&b->sub_mu);
  free(b);
}

static xhal_status_t check_range(const struct xhal_plugin_buffer* b,
                                 uint64_t offset, uint64_t size,
                                 const char* call) {
  if (offset > b->size || size > b->size - offset)
    return ocl_error(b->dev->ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "opencl: %s: range [%llu, +%llu) outside the %llu-byte "
                     "buffer",
                     call, (unsigned long long)offset, (unsigned long long)size,
                     (unsigned long long)b->size);
  return XHAL_OK;
}

xhal_status_t ocl_buffer_map(xhal_plugin_device_t dev, xhal_plugin_buffer_t b,
                             uint64_t offset, uint64_t size, uint32_t map_flags,
                             void** out_ptr) {
  cl_map_flags cl_flags = 0;
  cl_int err = CL_SUCCESS;
  void* ptr;
  ocl_mapping_t* m;
  xhal_status_t status;
  if (dev == NULL || b == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_ptr == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: buffer_map: out_ptr is NULL");
  *out_ptr = NULL;
  if (size == 0 || map_flags == 0 ||
      (map_flags & ~(uint32_t)(XHAL_MAP_READ | XHAL_MAP_WRITE)))
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: buffer_map: size %llu, flags 0x%x",
                     (unsigned long long)size, map_flags);
  if (!(b->flags & XHAL_MEMORY_HOST_VISIBLE))
    return ocl_error(dev->ctx, XHAL_ERROR_UNSUPPORTED,
                     "opencl: buffer_map: the buffer is not host-visible");
  status = check_range(b, offset, size, "buffer_map");
  if (status != XHAL_OK) return status;
  if (map_flags & XHAL_MAP_READ) cl_flags |= CL_MAP_READ;
  if (map_flags & XHAL_MAP_WRITE) cl_flags |= CL_MAP_WRITE;
  ptr = clEnqueueMapBuffer(dev->aux, b->mem, CL_TRUE, cl_flags, (size_t)offset,
                           (size_t)size, 0, NULL, NULL, &err);
  if (ptr == NULL || err != CL_SUCCESS)
    return ocl_cl_error(dev->ctx, err != CL_SUCCESS ? err : CL_MAP_FAILURE,
                        "clEnqueueMapBuffer");
  m = malloc(sizeof(*m));
  if (m == NULL) {
    if (clEnqueueUnmapMemObject(dev->aux, b->mem, ptr, 0, NULL, NULL) ==
        CL_SUCCESS)
      clFinish(dev->aux);
    return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: buffer_map: out of host memory");
  }
  m->ptr = ptr;
  pthread_mutex_lock(&b->sub_mu);
  m->next = b->maps;
  b->maps = m;
  pthread_mutex_unlock(&b->sub_mu);
  *out_ptr = ptr;
  return XHAL_OK;
}

/* Takes one live mapping at `ptr` off the buffer's list; NULL if `ptr`
 * is not one. */
static ocl_mapping_t* take_mapping(struct xhal_plugin_buffer* b, void* ptr) {
  ocl_mapping_t** link;
  ocl_mapping_t* m = NULL;
  pthread_mutex_lock(&b->sub_mu);
  for (link = &b->maps; *link != NULL; link = &(*link)->next) {
    if ((*link)->ptr == ptr) {
      m = *link;
      *link = m->next;
      break;
    }
  }
  pthread_mutex_unlock(&b->sub_mu);
  return m;
}

static void put_mapping_back(struct xhal_plugin_buffer* b, ocl_mapping_t* m) {
  pthread_mutex_lock(&b->sub_mu);
  m->next = b->maps;
  b->maps = m;
  pthread_mutex_unlock(&b->sub_mu);
}

xhal_status_t ocl_buffer_unmap(xhal_plugin_device_t dev, xhal_plugin_buffer_t b,
                               void* ptr) {
  cl_event done = NULL;
  ocl_mapping_t* m;
  cl_int err;
  if (dev == NULL || b == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (ptr == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: buffer_unmap: ptr is NULL");
  m = take_mapping(b, ptr);
  if (m == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_STATE,
                     "opencl: buffer_unmap: %p is not a live mapping of the "
                     "buffer",
                     ptr);
  err = clEnqueueUnmapMemObject(dev->aux, b->mem, ptr, 0, NULL, &done);
  if (err != CL_SUCCESS) {
    put_mapping_back(b, m);
    return ocl_cl_error(dev->ctx, err, "clEnqueueUnmapMemObject");
  }
  free(m);
  /* Writes through the mapping must be in the buffer before any stream
   * uses it, and streams are other queues: wait for the unmap. */
  err = clWaitForEvents(1, &done);
  clReleaseEvent(done);
  if (err != CL_SUCCESS) return ocl_cl_error(dev->ctx, err, "clWaitForEvents");
  return XHAL_OK;
}

xhal_status_t ocl_buffer_arg_mem(struct xhal_plugin_buffer* b, uint64_t offset,
                                 uint64_t range, cl_mem* out_mem,
                                 int* out_release) {
  const struct xhal_plugin_device* dev = b->dev;
  cl_buffer_region region;
  ocl_subbuf_t* s;
  cl_mem mem;
  cl_int err = CL_SUCCESS;
  xhal_status_t status;
  *out_release = 0;
  if (range == 0) range = b->size > offset ? b->size - offset : 0;
  status = check_range(b, offset, range, "enqueue_kernel");
  if (status != XHAL_OK) return status;
  if (offset == 0) {
    *out_mem = b->mem;
    return XHAL_OK;
  }
  /* OpenCL binds buffers by handle; a range that does not start at the
   * buffer's base needs a sub-buffer, whose origin must be aligned to
   * CL_DEVICE_MEM_BASE_ADDR_ALIGN. Other offsets cannot be expressed
   * without changing the kernel, so they are refused clearly. */
  if (offset % dev->info->base_align != 0)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_kernel: a buffer argument at offset "
                     "%llu is not aligned to the device's %llu-byte base "
                     "alignment (pass the whole buffer and an offset "
                     "argument instead)",
                     (unsigned long long)offset,
                     (unsigned long long)dev->info->base_align);
  pthread_mutex_lock(&b->sub_mu);
  for (s = b->subs; s != NULL; s = s->next) {
    if (s->offset == offset && s->size == range) {
      *out_mem = s->mem;
      pthread_mutex_unlock(&b->sub_mu);
      return XHAL_OK;
    }
  }
  region.origin = (size_t)offset;
  region.size = (size_t)range;
  mem = clCreateSubBuffer(b->mem, CL_MEM_READ_WRITE,
                          CL_BUFFER_CREATE_TYPE_REGION, &region, &err);
  if (mem == NULL || err != CL_SUCCESS) {
    pthread_mutex_unlock(&b->sub_mu);
    return ocl_cl_error(dev->ctx, err, "clCreateSubBuffer");
  }
  s = b->sub_count < OCL_MAX_CACHED_SUBBUFFERS ? calloc(1, sizeof(*s)) : NULL;
  if (s != NULL) {
    s->offset = offset;
    s->size = range;
    s->mem = mem;
    s->next = b->subs;
    b->subs = s;
    b->sub_count++;
  } else {
    *out_release = 1;
  }
  pthread_mutex_unlock(&b->sub_mu);
  *out_mem = mem;
  return XHAL_OK;
}
