/*
 * host_memory.c - host memory for a device's transfers (xhal_host_alloc,
 * xhal_host_free).
 *
 * On a device that claims XHAL_CAP_HOST_ALLOC the memory comes from the
 * plugin (page-locked on a discrete GPU, so writes and reads from it skip
 * the driver's staging copy); on any other device it is page-aligned
 * memory from the C library. Either way the device keeps a record of each
 * live allocation: a pointer freed on the wrong device, freed twice or
 * never allocated is answered with an error and a message, and never
 * reaches a plugin; what is left when the instance goes is freed before
 * its device closes, as the plugin ABI promises.
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

/* Alignment of the C-library fallback: a page, so a caller may lock or
 * register the memory itself. */
#define HOST_FALLBACK_ALIGNMENT 4096u
/* Alignment every allocation has, whoever made it (the ABI's minimum). */
#define HOST_MIN_ALIGNMENT 64u

struct host_alloc {
  void* ptr;
  uint64_t size;
  int from_plugin;
  struct host_alloc* next;
};

static int device_has_host_alloc(xhal_device_t device) {
  return (device->props.capabilities & XHAL_CAP_HOST_ALLOC) &&
         device->plugin->table.host_alloc && device->plugin->table.host_free;
}

static void host_memory_free(xhal_device_t device, struct host_alloc* rec) {
  if (rec->from_plugin)
    device->plugin->table.host_free(device->handle, rec->ptr);
  else
    free(rec->ptr);
  free(rec);
}

/* A live allocation that `rec`'s memory overlaps, or NULL (host_lock
 * held): a plugin that hands out memory twice is caught here, before two
 * owners write it. */
static const struct host_alloc* overlap(xhal_device_t device,
                                        const struct host_alloc* rec) {
  uintptr_t a = (uintptr_t)rec->ptr;
  for (const struct host_alloc* r = device->host_allocs; r; r = r->next) {
    uintptr_t b = (uintptr_t)r->ptr;
    if (a < b + r->size && b < a + rec->size) return r;
  }
  return NULL;
}

/* The plugin's allocation, checked: what it returns must be usable. */
static xhal_status_t plugin_host_alloc(xhal_device_t device, uint64_t size,
                                       void** out_ptr) {
  const plugin_t* plugin = device->plugin;
  void* ptr = NULL;
  uint64_t t0 = trace_begin(device->obj.instance);
  xhal_status_t status = plugin->table.host_alloc(device->handle, size, &ptr);
  trace_end(device->obj.instance, "xhal_host_alloc", t0);
  if (status != XHAL_OK) return plugin_result(plugin, "host_alloc", status);
  if (!ptr || ((uintptr_t)ptr % HOST_MIN_ALIGNMENT) != 0) {
    if (ptr) plugin->table.host_free(device->handle, ptr);
    return error_set(XHAL_ERROR_INTERNAL,
                     "plugin '%s': host_alloc returned %s pointer %p (the "
                     "ABI asks for %u-byte alignment)",
                     plugin->info.name, ptr ? "a misaligned" : "a NULL", ptr,
                     HOST_MIN_ALIGNMENT);
  }
  *out_ptr = ptr;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_host_alloc(xhal_device_t device, uint64_t size,
                                       void** out_ptr) {
  xhal_status_t status = device_check(device, "device");
  if (status != XHAL_OK) return status;
  if (!out_ptr) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_ptr is NULL");
  }
  *out_ptr = NULL;
  if (size == 0) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "size is 0");
  }
  int from_plugin = device_has_host_alloc(device);
  if (from_plugin && size > device->props.max_alloc_bytes) {
    return error_set(XHAL_ERROR_OUT_OF_RANGE,
                     "size %llu is past device '%s' max_alloc_bytes %llu",
                     (unsigned long long)size, device->props.name,
                     (unsigned long long)device->props.max_alloc_bytes);
  }
  if (size > (uint64_t)PTRDIFF_MAX) {
    return error_set(XHAL_ERROR_OUT_OF_RANGE,
                     "size %llu is past what this host can address",
                     (unsigned long long)size);
  }
  struct host_alloc* rec = calloc(1, sizeof(*rec));
  if (!rec) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "host allocation record failed");
  }
  if (from_plugin) {
    status = plugin_host_alloc(device, size, &rec->ptr);
    if (status != XHAL_OK) {
      free(rec);
      return status;
    }
  } else if (posix_memalign(&rec->ptr, HOST_FALLBACK_ALIGNMENT, (size_t)size) !=
             0) {
    free(rec);
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "no host memory for %llu bytes",
                     (unsigned long long)size);
  }
  rec->size = size;
  rec->from_plugin = from_plugin;
  pthread_mutex_lock(&device->host_lock);
  const struct host_alloc* live = from_plugin ? overlap(device, rec) : NULL;
  if (live) {
    pthread_mutex_unlock(&device->host_lock);
    /* Not freed: host_free of this pointer would take the live
     * allocation's memory with it. */
    status = error_set(XHAL_ERROR_INTERNAL,
                       "plugin '%s': host_alloc returned %llu bytes at %p, "
                       "overlapping the live allocation of %llu bytes at %p",
                       device->plugin->info.name, (unsigned long long)size,
                       rec->ptr, (unsigned long long)live->size, live->ptr);
    free(rec);
    return status;
  }
  rec->next = device->host_allocs;
  device->host_allocs = rec;
  pthread_mutex_unlock(&device->host_lock);
  *out_ptr = rec->ptr;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_host_free(xhal_device_t device, void* ptr) {
  /* A lost device still frees: its host memory is the host's. */
  xhal_status_t status = object_check(device, OBJ_DEVICE, "device");
  if (status != XHAL_OK) return status;
  if (!ptr) return XHAL_OK;
  pthread_mutex_lock(&device->host_lock);
  struct host_alloc** link = &device->host_allocs;
  while (*link && (*link)->ptr != ptr) link = &(*link)->next;
  struct host_alloc* rec = *link;
  if (rec) *link = rec->next;
  pthread_mutex_unlock(&device->host_lock);
  if (!rec) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "ptr %p is not a live xhal_host_alloc allocation of "
                     "device '%s' (another device's, freed already, or "
                     "never allocated)",
                     ptr, device->props.name);
  }
  host_memory_free(device, rec);
  return XHAL_OK;
}

void host_memory_release_all(xhal_device_t device) {
  uint32_t count = 0;
  uint64_t bytes = 0;
  struct host_alloc* rec = device->host_allocs;
  device->host_allocs = NULL;
  while (rec) {
    struct host_alloc* next = rec->next;
    ++count;
    bytes += rec->size;
    host_memory_free(device, rec);
    rec = next;
  }
  if (count) {
    hal_log(device->obj.instance, XHAL_LOG_WARN,
            "device '%s': %u host allocation(s), %llu bytes, were never "
            "freed; freed them with the instance",
            device->props.name, count, (unsigned long long)bytes);
  }
}
