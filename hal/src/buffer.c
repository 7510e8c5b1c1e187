/* buffer.c - device memory allocations and views of them. */
#include <string.h>

#include "internal.h"

xhal_status_t buffer_check_range(xhal_buffer_t buffer, uint64_t offset,
                                 uint64_t size, const char* what,
                                 int allow_empty) {
  uint64_t end;
  if (size == 0 && !allow_empty) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "%s: size is 0", what);
  }
  if (add_overflows(offset, size, &end) || end > buffer->size) {
    return error_set(XHAL_ERROR_OUT_OF_RANGE,
                     "%s: range [%llu, +%llu) is past the buffer's %llu bytes",
                     what, (unsigned long long)offset, (unsigned long long)size,
                     (unsigned long long)buffer->size);
  }
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_buffer_alloc(xhal_device_t device, uint64_t size,
                                         uint32_t memory_flags,
                                         xhal_buffer_t* out_buffer) {
  xhal_status_t status = device_check(device, "device");
  if (status != XHAL_OK) return status;
  if (!out_buffer) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_buffer is NULL");
  }
  *out_buffer = NULL;
  if (size == 0) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "size is 0");
  }
  if (memory_flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "memory_flags 0x%x has unknown bits", memory_flags);
  }
  if (size > device->props.max_alloc_bytes) {
    return error_set(XHAL_ERROR_OUT_OF_RANGE,
                     "size %llu is past device '%s' max_alloc_bytes %llu",
                     (unsigned long long)size, device->props.name,
                     (unsigned long long)device->props.max_alloc_bytes);
  }
  if ((memory_flags & (XHAL_MEMORY_HOST_VISIBLE | XHAL_MEMORY_HOST_CACHED)) &&
      !(device->props.capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY)) {
    return error_set(XHAL_ERROR_UNSUPPORTED,
                     "device '%s' has no host-visible memory",
                     device->props.name);
  }
  xhal_buffer_t buffer = (xhal_buffer_t)object_new(
      device->obj.instance, OBJ_BUFFER, sizeof(struct xhal_buffer));
  if (!buffer) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "buffer allocation failed");
  }
  uint64_t t0 = trace_begin(device->obj.instance);
  status = device->plugin->table.buffer_alloc(device->handle, size,
                                              memory_flags, &buffer->handle);
  trace_end(device->obj.instance, "xhal_buffer_alloc", t0);
  if (status != XHAL_OK) {
    object_free(buffer, OBJ_BUFFER);
    return plugin_result(device->plugin, "buffer_alloc", status);
  }
  buffer->device = device;
  buffer->size = size;
  buffer->memory_flags = memory_flags;
  object_set_site(buffer, __builtin_return_address(0));
  *out_buffer = buffer;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_buffer_subrange(xhal_buffer_t buffer,
                                            uint64_t offset, uint64_t size,
                                            xhal_buffer_t* out_view) {
  xhal_status_t status = object_check(buffer, OBJ_BUFFER, "buffer");
  if (status != XHAL_OK) return status;
  if (!out_view) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_view is NULL");
  }
  *out_view = NULL;
  status = buffer_check_range(buffer, offset, size, "subrange", 0);
  if (status != XHAL_OK) return status;
  xhal_buffer_t root = buffer->root ? buffer->root : buffer;
  xhal_buffer_t view = (xhal_buffer_t)object_new(
      buffer->obj.instance, OBJ_BUFFER, sizeof(struct xhal_buffer));
  if (!view) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "view allocation failed");
  }
  object_retain(root);
  view->device = buffer->device;
  view->root = root;
  view->handle = root->handle;
  view->offset = buffer->offset + offset;
  view->size = size;
  view->memory_flags = root->memory_flags;
  object_set_site(view, __builtin_return_address(0));
  *out_view = view;
  return XHAL_OK;
}

XHAL_API void xhal_buffer_retain(xhal_buffer_t buffer) {
  if (object_check(buffer, OBJ_BUFFER, "buffer") == XHAL_OK) {
    object_retain(buffer);
  }
}

XHAL_API void xhal_buffer_release(xhal_buffer_t buffer) {
  if (!buffer || object_check_release(buffer, OBJ_BUFFER, "buffer") != XHAL_OK)
    return;
  if (!object_unref(buffer)) return;
  if (buffer->root) {
    xhal_buffer_t root = buffer->root;
    object_free(buffer, OBJ_BUFFER);
    xhal_buffer_release(root);
    return;
  }
  xhal_device_t device = buffer->device;
  if (validating(buffer->obj.instance)) validation_buffer_free(buffer);
  device->plugin->table.buffer_free(device->handle, buffer->handle);
  object_free(buffer, OBJ_BUFFER);
}

XHAL_API xhal_status_t xhal_buffer_size(xhal_buffer_t buffer,
                                        uint64_t* out_size) {
  xhal_status_t status = object_check(buffer, OBJ_BUFFER, "buffer");
  if (status != XHAL_OK) return status;
  if (!out_size)
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_size is NULL");
  *out_size = buffer->size;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_buffer_device(xhal_buffer_t buffer,
                                          xhal_device_t* out_device) {
  xhal_status_t status = object_check(buffer, OBJ_BUFFER, "buffer");
  if (status != XHAL_OK) return status;
  if (!out_device) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_device is NULL");
  }
  *out_device = buffer->device;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_buffer_map(xhal_buffer_t buffer, uint64_t offset,
                                       uint64_t size, uint32_t map_flags,
                                       void** out_ptr) {
  xhal_status_t status = object_check(buffer, OBJ_BUFFER, "buffer");
  if (status != XHAL_OK) return status;
  if (!out_ptr)
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_ptr is NULL");
  *out_ptr = NULL;
  xhal_device_t device = buffer->device;
  status = device_check(device, "buffer's device");
  if (status != XHAL_OK) return status;
  if (map_flags == 0 ||
      (map_flags & ~(uint32_t)(XHAL_MAP_READ | XHAL_MAP_WRITE))) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "map_flags 0x%x must be XHAL_MAP_READ and/or WRITE",
                     map_flags);
  }
  status = buffer_check_range(buffer, offset, size, "map", 0);
  if (status != XHAL_OK) return status;
  if (!(buffer->memory_flags & XHAL_MEMORY_HOST_VISIBLE) ||
      !device->plugin->table.buffer_map) {
    return error_set(XHAL_ERROR_UNSUPPORTED,
                     "buffer was not allocated XHAL_MEMORY_HOST_VISIBLE on a "
                     "device that maps memory");
  }
  xhal_buffer_t root = buffer->root ? buffer->root : buffer;
  /* A slot is taken under the device's map lock; the plugin is called
   * without it, so a slow map blocks no other thread's call. */
  pthread_mutex_lock(&device->map_lock);
  uint32_t slots = (uint32_t)(sizeof(root->maps) / sizeof(root->maps[0]));
  if (root->map_count + root->map_pending >= slots) {
    pthread_mutex_unlock(&device->map_lock);
    return error_set(XHAL_ERROR_INVALID_STATE,
                     "buffer already has %u live mappings", slots);
  }
  root->map_pending++;
  pthread_mutex_unlock(&device->map_lock);
  void* ptr = NULL;
  status = device->plugin->table.buffer_map(device->handle, root->handle,
                                            buffer->offset + offset, size,
                                            map_flags, &ptr);
  pthread_mutex_lock(&device->map_lock);
  root->map_pending--;
  if (status == XHAL_OK && ptr) root->maps[root->map_count++] = ptr;
  pthread_mutex_unlock(&device->map_lock);
  if (status != XHAL_OK)
    return plugin_result(device->plugin, "buffer_map", status);
  if (!ptr) {
    return error_set(XHAL_ERROR_INTERNAL,
                     "plugin '%s': buffer_map returned NULL",
                     device->plugin->info.name);
  }
  *out_ptr = ptr;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_buffer_unmap(xhal_buffer_t buffer, void* ptr) {
  xhal_status_t status = object_check(buffer, OBJ_BUFFER, "buffer");
  if (status != XHAL_OK) return status;
  if (!ptr) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "ptr is NULL");
  xhal_buffer_t root = buffer->root ? buffer->root : buffer;
  xhal_device_t device = buffer->device;
  /* The mapping leaves the table first (a second unmap of it is refused
   * at once); the plugin is called without the lock. */
  pthread_mutex_lock(&device->map_lock);
  uint32_t i = 0;
  while (i < root->map_count && root->maps[i] != ptr) ++i;
  if (i == root->map_count) {
    pthread_mutex_unlock(&device->map_lock);
    return error_set(XHAL_ERROR_INVALID_STATE,
                     "ptr %p is not a live mapping of this buffer", ptr);
  }
  root->maps[i] = root->maps[--root->map_count];
  pthread_mutex_unlock(&device->map_lock);
  status = device->plugin->table.buffer_unmap
               ? device->plugin->table.buffer_unmap(device->handle,
                                                    root->handle, ptr)
               : XHAL_OK;
  return plugin_result(device->plugin, "buffer_unmap", status);
}
