/*
 * event.c - events: record, host wait, query, elapsed time, and stream
 * waits on events of any device or plugin.
 */
#include "internal.h"

XHAL_API xhal_status_t xhal_event_create(xhal_device_t device,
                                         xhal_event_t* out_event) {
  xhal_status_t status = device_check(device, "device");
  if (status != XHAL_OK) return status;
  if (!out_event) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_event is NULL");
  }
  *out_event = NULL;
  xhal_event_t event = (xhal_event_t)object_new(device->obj.instance, OBJ_EVENT,
                                                sizeof(struct xhal_event));
  if (!event) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "event allocation failed");
  }
  status = device->plugin->table.event_create(device->handle, &event->handle);
  if (status != XHAL_OK) {
    object_free(event, OBJ_EVENT);
    return plugin_result(device->plugin, "event_create", status);
  }
  event->device = device;
  object_set_site(event, __builtin_return_address(0));
  *out_event = event;
  return XHAL_OK;
}

XHAL_API void xhal_event_retain(xhal_event_t event) {
  if (object_check(event, OBJ_EVENT, "event") == XHAL_OK) object_retain(event);
}

XHAL_API void xhal_event_release(xhal_event_t event) {
  if (!event || object_check_release(event, OBJ_EVENT, "event") != XHAL_OK)
    return;
  if (!object_unref(event)) return;
  event->device->plugin->table.event_destroy(event->handle);
  object_free(event, OBJ_EVENT);
}

/* Checks an event handle and that it was recorded. */
static xhal_status_t recorded_check(xhal_event_t event, const char* what) {
  xhal_status_t status = object_check(event, OBJ_EVENT, what);
  if (status != XHAL_OK) return status;
  if (!atomic_load_explicit(&event->recorded, memory_order_acquire)) {
    if (validating(event->obj.instance)) {
      return validation_unrecorded_event(event, what);
    }
    return error_set(XHAL_ERROR_INVALID_STATE, "%s was never recorded", what);
  }
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_stream_record_event(xhal_stream_t stream,
                                                xhal_event_t event) {
  xhal_status_t status = object_check(stream, OBJ_STREAM, "stream");
  if (status != XHAL_OK) return status;
  status = object_check(event, OBJ_EVENT, "event");
  if (status != XHAL_OK) return status;
  status = device_check(stream->device, "stream's device");
  if (status != XHAL_OK) return status;
  if (validating(stream->obj.instance)) {
    status = validation_same_instance(stream, event, "event");
    if (status != XHAL_OK) return status;
  }
  if (event->device != stream->device) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "event belongs to device '%s', the stream to '%s'",
                     event->device->props.name, stream->device->props.name);
  }
  const plugin_t* plugin = stream->device->plugin;
  uint64_t t0 = trace_begin(stream->obj.instance);
  pthread_mutex_lock(&stream->lock);
  status = plugin->table.event_record(event->handle, stream->handle);
  pthread_mutex_unlock(&stream->lock);
  trace_end(stream->obj.instance, "xhal_stream_record_event", t0);
  if (status != XHAL_OK) return plugin_result(plugin, "event_record", status);
  if (validating(stream->obj.instance)) {
    validation_event_recorded(event, stream);
  }
  atomic_store_explicit(&event->untimed,
                        (stream->flags & XHAL_STREAM_NO_TIMING) ? 1u : 0u,
                        memory_order_relaxed);
  atomic_store_explicit(&event->recorded, 1u, memory_order_release);
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_event_wait(xhal_event_t event,
                                       uint64_t timeout_ns) {
  xhal_status_t status = recorded_check(event, "event");
  if (status != XHAL_OK) return status;
  const plugin_t* plugin = event->device->plugin;
  uint64_t t0 = trace_begin(event->obj.instance);
  status = plugin->table.event_wait(event->handle, timeout_ns);
  trace_end(event->obj.instance, "xhal_event_wait", t0);
  if (status == XHAL_ERROR_TIMEOUT) {
    return error_set(status, "event not complete after %llu ns",
                     (unsigned long long)timeout_ns);
  }
  if (status == XHAL_OK && validating(event->obj.instance)) {
    validation_event_completed(event);
  }
  return plugin_result(plugin, "event_wait", status);
}

XHAL_API xhal_status_t xhal_event_query(xhal_event_t event) {
  xhal_status_t status = recorded_check(event, "event");
  if (status != XHAL_OK) return status;
  const plugin_t* plugin = event->device->plugin;
  status = plugin->table.event_query(event->handle);
  if (status == XHAL_ERROR_NOT_READY) return status;
  if (status == XHAL_OK && validating(event->obj.instance)) {
    validation_event_completed(event);
  }
  return plugin_result(plugin, "event_query", status);
}

XHAL_API xhal_status_t xhal_event_elapsed(xhal_event_t start, xhal_event_t end,
                                          uint64_t* out_ns) {
  xhal_status_t status = recorded_check(start, "start");
  if (status != XHAL_OK) return status;
  status = recorded_check(end, "end");
  if (status != XHAL_OK) return status;
  if (!out_ns) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_ns is NULL");
  if (start->device != end->device) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "start and end belong to different devices");
  }
  if (atomic_load_explicit(&start->untimed, memory_order_relaxed) ||
      atomic_load_explicit(&end->untimed, memory_order_relaxed)) {
    return error_set(XHAL_ERROR_UNSUPPORTED,
                     "%s was recorded on a stream created with "
                     "XHAL_STREAM_NO_TIMING",
                     atomic_load_explicit(&start->untimed, memory_order_relaxed)
                         ? "start"
                         : "end");
  }
  const plugin_t* plugin = start->device->plugin;
  if (!(start->device->props.capabilities & XHAL_CAP_PROFILING) ||
      !plugin->table.event_elapsed) {
    return error_set(XHAL_ERROR_UNSUPPORTED,
                     "device '%s' has no profiling timers",
                     start->device->props.name);
  }
  status = plugin->table.event_elapsed(start->handle, end->handle, out_ns);
  return plugin_result(plugin, "event_elapsed", status);
}

/* Host function run on the waiting stream's plugin thread: blocks on an
 * event of another plugin and hands its status to the stream. */
static xhal_status_t wait_foreign_event(void* user_data) {
  xhal_event_t event = user_data;
  xhal_status_t status = event->device->plugin->table.event_wait(
      event->handle, XHAL_TIMEOUT_INFINITE);
  xhal_event_release(event);
  return status;
}

XHAL_API xhal_status_t xhal_stream_wait_event(xhal_stream_t stream,
                                              xhal_event_t event) {
  xhal_status_t status = object_check(stream, OBJ_STREAM, "stream");
  if (status != XHAL_OK) return status;
  status = recorded_check(event, "event");
  if (status != XHAL_OK) return status;
  status = device_check(stream->device, "stream's device");
  if (status != XHAL_OK) return status;
  if (validating(stream->obj.instance)) {
    status = validation_same_instance(stream, event, "event");
    if (status != XHAL_OK) return status;
    validation_stream_waits(stream, event);
  }
  const plugin_t* plugin = stream->device->plugin;
  const plugin_t* source = event->device->plugin;
  uint64_t t0 = trace_begin(stream->obj.instance);
  pthread_mutex_lock(&stream->lock);
  if (plugin == source && plugin->table.stream_wait_event) {
    status = plugin->table.stream_wait_event(stream->handle, event->handle);
    status = plugin_result(plugin, "stream_wait_event", status);
  } else if (plugin->table.enqueue_host_func) {
    /* Another plugin's event: this plugin cannot see it, so one of its
     * threads waits on it in stream order. */
    object_retain(event);
    status = plugin->table.enqueue_host_func(stream->handle, wait_foreign_event,
                                             event);
    if (status != XHAL_OK) {
      xhal_event_release(event);
      status = plugin_result(plugin, "enqueue_host_func", status);
    }
  } else {
    /* No asynchronous path: wait on the host now. */
    status = source->table.event_wait(event->handle, XHAL_TIMEOUT_INFINITE);
    if (status != XHAL_OK) {
      status = error_set(status, "waited event failed");
    }
  }
  pthread_mutex_unlock(&stream->lock);
  trace_end(stream->obj.instance, "xhal_stream_wait_event", t0);
  return status;
}
