/* device.c - devices: properties and lifetime (owned by the instance). */
#include <stdio.h>
#include <string.h>

#include "abi_record.h"
#include "internal.h"

_Static_assert(XHAL_DEVICE_PROPERTIES_SIZE_1_0 <=
                   sizeof(xhal_device_properties_t),
               "device properties only grow");

xhal_status_t device_check(xhal_device_t device, const char* what) {
  xhal_status_t status = object_check(device, OBJ_DEVICE, what);
  if (status != XHAL_OK) return status;
  if (atomic_load_explicit(&device->lost, memory_order_relaxed)) {
    return error_set(XHAL_ERROR_DEVICE_LOST, "%s '%s' (plugin '%s') is lost",
                     what, device->props.name, device->plugin->info.name);
  }
  return XHAL_OK;
}

void device_destroy(xhal_device_t device) {
  const xhal_plugin_dispatch_t* table = &device->plugin->table;
  host_memory_release_all(device);
  if (device->staging_stream) table->stream_destroy(device->staging_stream);
  table->device_close(device->handle);
  pthread_mutex_destroy(&device->staging_lock);
  pthread_mutex_destroy(&device->host_lock);
  pthread_mutex_destroy(&device->map_lock);
  object_free(device, OBJ_DEVICE);
}

XHAL_API xhal_status_t xhal_device_properties(
    xhal_device_t device, xhal_device_properties_t* out_props) {
  xhal_status_t status = object_check(device, OBJ_DEVICE, "device");
  if (status != XHAL_OK) return status;
  if (!out_props) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_props is NULL");
  }
  record_copy_out(out_props, &device->props, XHAL_DEVICE_PROPERTIES_SIZE_1_0,
                  (uint32_t)sizeof(*out_props));
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_device_plugin_index(xhal_device_t device,
                                                uint32_t* out_index) {
  xhal_status_t status = object_check(device, OBJ_DEVICE, "device");
  if (status != XHAL_OK) return status;
  if (!out_index) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_index is NULL");
  }
  *out_index = device->plugin->index;
  return XHAL_OK;
}

XHAL_API const char* xhal_device_plugin_name(xhal_device_t device) {
  if (object_check(device, OBJ_DEVICE, "device") != XHAL_OK) return "";
  return device->plugin->info.name;
}

XHAL_API xhal_status_t xhal_device_instance(xhal_device_t device,
                                            xhal_instance_t* out_instance) {
  xhal_status_t status = object_check(device, OBJ_DEVICE, "device");
  if (status != XHAL_OK) return status;
  if (!out_instance) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_instance is NULL");
  }
  *out_instance = device->obj.instance;
  return XHAL_OK;
}

xhal_status_t failure_report(failure_record_t* record, xhal_device_t device,
                             const char* what, xhal_status_t status) {
  char cause[sizeof(record->cause)];
  if (atomic_load_explicit(&record->state, memory_order_acquire) == 2u) {
    snprintf(cause, sizeof(cause), "%s", record->cause);
  } else {
    if (!error_take_plugin_text(status, cause, sizeof(cause))) {
      snprintf(cause, sizeof(cause), "%s (the plugin gave no cause)",
               xhal_status_name(status));
    }
    unsigned expected = 0u;
    if (atomic_compare_exchange_strong(&record->state, &expected, 1u)) {
      record->status = status;
      snprintf(record->cause, sizeof(record->cause), "%s", cause);
      atomic_store_explicit(&record->state, 2u, memory_order_release);
    }
  }
  return error_set(status, "%s on device '%s' (plugin '%s') failed: %s", what,
                   device->props.name, device->plugin->info.name, cause);
}
