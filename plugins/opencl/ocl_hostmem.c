/*
 * ocl_hostmem.c - host memory for transfers (host_alloc, host_free).
 *
 * OpenCL 1.2 has no call that allocates page-locked host memory. The
 * portable way, and the one NVIDIA's OpenCL guide gives, is a buffer
 * created with CL_MEM_ALLOC_HOST_PTR and kept mapped: the implementation
 * backs it with memory its DMA engines reach directly (pinned memory on a
 * discrete GPU), and a clEnqueueWriteBuffer or clEnqueueReadBuffer whose
 * host pointer lies in such a mapping skips the staging copy that
 * ordinary (pageable) memory needs. On a CPU device (PoCL) the mapping is
 * plain host memory. The allocation is the mapping; free unmaps it and
 * releases the buffer.
 */
#include <stdlib.h>

#include "ocl_internal.h"

struct ocl_host_alloc {
  struct ocl_host_alloc* next;
  void* ptr;
  cl_mem mem;
};

static void unmap_and_release(struct xhal_plugin_device* dev,
                              struct ocl_host_alloc* a) {
  if (clEnqueueUnmapMemObject(dev->aux, a->mem, a->ptr, 0, NULL, NULL) ==
      CL_SUCCESS)
    clFinish(dev->aux);
  clReleaseMemObject(a->mem);
  free(a);
}

xhal_status_t ocl_host_alloc(xhal_plugin_device_t dev, uint64_t size,
                             void** out_ptr) {
  struct ocl_host_alloc* a;
  cl_int err = CL_SUCCESS;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_ptr == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: host_alloc: out_ptr is NULL");
  *out_ptr = NULL;
  if (size == 0)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: host_alloc: size is 0");
  if (size > dev->info->props.max_alloc_bytes || size > (uint64_t)SIZE_MAX)
    return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "opencl: host_alloc: %llu bytes exceed the device's "
                     "largest allocation (%llu)",
                     (unsigned long long)size,
                     (unsigned long long)dev->info->props.max_alloc_bytes);
  a = calloc(1, sizeof(*a));
  if (a == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: host_alloc: out of host memory");
  a->mem =
      clCreateBuffer(dev->context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                     (size_t)size, NULL, &err);
  if (a->mem == NULL || err != CL_SUCCESS) {
    free(a);
    return ocl_cl_error(dev->ctx, err, "clCreateBuffer(CL_MEM_ALLOC_HOST_PTR)");
  }
  a->ptr =
      clEnqueueMapBuffer(dev->aux, a->mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE,
                         0, (size_t)size, 0, NULL, NULL, &err);
  if (a->ptr == NULL || err != CL_SUCCESS) {
    clReleaseMemObject(a->mem);
    free(a);
    return ocl_cl_error(dev->ctx, err != CL_SUCCESS ? err : CL_MAP_FAILURE,
                        "clEnqueueMapBuffer");
  }
  pthread_mutex_lock(&dev->host_mu);
  a->next = dev->host;
  dev->host = a;
  pthread_mutex_unlock(&dev->host_mu);
  *out_ptr = a->ptr;
  return XHAL_OK;
}

void ocl_host_free(xhal_plugin_device_t dev, void* ptr) {
  struct ocl_host_alloc** link;
  struct ocl_host_alloc* a = NULL;
  if (dev == NULL || ptr == NULL) return;
  pthread_mutex_lock(&dev->host_mu);
  for (link = &dev->host; *link != NULL; link = &(*link)->next) {
    if ((*link)->ptr == ptr) {
      a = *link;
      *link = a->next;
      break;
    }
  }
  pthread_mutex_unlock(&dev->host_mu);
  /* Not ours: the ABI rules it out (the host checks), and freeing a
   * pointer we did not map would corrupt another buffer's state. */
  if (a != NULL) unmap_and_release(dev, a);
}

void ocl_host_release_all(struct xhal_plugin_device* dev) {
  while (dev->host != NULL) {
    struct ocl_host_alloc* a = dev->host;
    dev->host = a->next;
    unmap_and_release(dev, a);
  }
}
