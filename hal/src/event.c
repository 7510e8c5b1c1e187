/*
 * event.c - events: record, host wait, query, elapsed time, and stream
 * waits on events of any device or plugin.
 */
#include <stdlib.h>

#include "internal.h"

/* ------------------------------------------------------------ records */

/* A fresh plugin event for a record of `event`, with one reference. */
static xhal_status_t record_new(xhal_event_t event, struct event_record** out) {
  const plugin_t* plugin = event->device->plugin;
  struct event_record* rec = calloc(1, sizeof(*rec));
  if (!rec)
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "event allocation failed");
  xhal_status_t status =
      plugin->table.event_create(event->device->handle, &rec->handle);
  if (status != XHAL_OK) {
    free(rec);
    return plugin_result(plugin, "event_create", status);
  }
  atomic_init(&rec->refs, 1u);
  rec->owner = event;
  *out = rec;
  return XHAL_OK;
}

static void record_put(struct event_record* rec) {
  if (atomic_fetch_sub_explicit(&rec->refs, 1u, memory_order_acq_rel) != 1u)
    return;
  rec->owner->device->plugin->table.event_destroy(rec->handle);
  free(rec);
}

/* The event's current record, with a reference, and where it was made. */
static struct event_record* record_get(xhal_event_t event,
                                       struct xhal_stream** out_stream,
                                       uint64_t* out_order) {
  pthread_mutex_lock(&event->lock);
  struct event_record* rec = event->current;
  atomic_fetch_add_explicit(&rec->refs, 1u, memory_order_relaxed);
  if (out_stream) *out_stream = event->recorded_on;
  if (out_order) *out_order = event->recorded_order;
  pthread_mutex_unlock(&event->lock);
  return rec;
}

/* The message of a failure that came from a host function returning a
 * value outside xhal_status_t on `stream` (NULL: none known). */
xhal_status_t stream_failure_message(const struct xhal_stream* stream,
                                     xhal_status_t status) {
  if (status != XHAL_ERROR_EXECUTION_FAILED || !stream) return status;
  long long value = atomic_load(&stream->bad_host_value);
  if (value == 0) return status;
  return error_set(status,
                   "a host function on stream %p returned %lld, which is not "
                   "an xhal_status_t",
                   (const void*)stream, value);
}

/* ------------------------------------------------------------- events */

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
  event->device = device;
  status = record_new(event, &event->current);
  if (status != XHAL_OK) {
    object_free(event, OBJ_EVENT);
    return status;
  }
  event->handle = event->current->handle;
  pthread_mutex_init(&event->lock, NULL);
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
  record_put(event->current);
  pthread_mutex_destroy(&event->lock);
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
  int locked = stream_lock(stream);
  pthread_mutex_lock(&event->lock);
  /* A stream of another plugin still waits for the current record: this
   * record goes to a fresh plugin event, so that wait keeps its own. */
  struct event_record* rec = event->current;
  if (atomic_load_explicit(&rec->refs, memory_order_acquire) > 1u) {
    status = record_new(event, &rec);
  }
  if (status == XHAL_OK) {
    status = plugin->table.event_record(rec->handle, stream->handle);
    if (status != XHAL_OK) {
      status = plugin_result(plugin, "event_record", status);
      if (rec != event->current) record_put(rec);
    } else {
      if (rec != event->current) {
        record_put(event->current);
        event->current = rec;
        event->handle = rec->handle;
      }
      event->recorded_on = stream;
      event->recorded_order = ++stream->order;
    }
  }
  pthread_mutex_unlock(&event->lock);
  stream_unlock(stream, locked);
  trace_end(stream->obj.instance, "xhal_stream_record_event", t0);
  if (status != XHAL_OK) return status;
  if (validating(stream->obj.instance)) {
    validation_event_recorded(event, stream);
  }
  atomic_store_explicit(&event->untimed,
                        (stream->flags & XHAL_STREAM_NO_TIMING) ? 1u : 0u,
                        memory_order_relaxed);
  /* New work: a cause kept from the work captured before is stale. */
  if (atomic_load_explicit(&event->failure.state, memory_order_relaxed)) {
    atomic_store_explicit(&event->failure.state, 0u, memory_order_relaxed);
  }
  atomic_store_explicit(&event->recorded, 1u, memory_order_release);
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_event_wait(xhal_event_t event,
                                       uint64_t timeout_ns) {
  xhal_status_t status = recorded_check(event, "event");
  if (status != XHAL_OK) return status;
  const plugin_t* plugin = event->device->plugin;
  struct xhal_stream* on;
  uint64_t order;
  struct event_record* rec = record_get(event, &on, &order);
  if (timeout_ns != 0) {
    status = host_call_check_wait(on, order, "xhal_event_wait");
    if (status != XHAL_OK) {
      record_put(rec);
      return status;
    }
  }
  uint64_t t0 = trace_begin(event->obj.instance);
  status = plugin->table.event_wait(rec->handle, timeout_ns);
  record_put(rec);
  trace_end(event->obj.instance, "xhal_event_wait", t0);
  if (status == XHAL_ERROR_TIMEOUT) {
    return error_set(status, "event not complete after %llu ns",
                     (unsigned long long)timeout_ns);
  }
  if (status == XHAL_OK) {
    if (validating(event->obj.instance)) validation_event_completed(event);
    return XHAL_OK;
  }
  status =
      failure_report(&event->failure, event->device, "event's work", status);
  return stream_failure_message(on, status);
}

XHAL_API xhal_status_t xhal_event_query(xhal_event_t event) {
  xhal_status_t status = recorded_check(event, "event");
  if (status != XHAL_OK) return status;
  const plugin_t* plugin = event->device->plugin;
  struct xhal_stream* on;
  struct event_record* rec = record_get(event, &on, NULL);
  status = plugin->table.event_query(rec->handle);
  record_put(rec);
  if (status == XHAL_ERROR_NOT_READY) return status;
  if (status == XHAL_OK) {
    if (validating(event->obj.instance)) validation_event_completed(event);
    return XHAL_OK;
  }
  status =
      failure_report(&event->failure, event->device, "event's work", status);
  return stream_failure_message(on, status);
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
  struct event_record* a = record_get(start, NULL, NULL);
  struct event_record* b = record_get(end, NULL, NULL);
  status = plugin->table.event_elapsed(a->handle, b->handle, out_ns);
  record_put(a);
  record_put(b);
  return plugin_result(plugin, "event_elapsed", status);
}

/* Host function run on the waiting stream's plugin thread: blocks on the
 * record of another plugin's event that preceded the wait, and hands its
 * status to the stream. */
static xhal_status_t wait_foreign_event(void* user_data) {
  struct event_record* rec = user_data;
  xhal_event_t event = rec->owner;
  xhal_status_t status = status_defined(event->device->plugin->table.event_wait(
      rec->handle, XHAL_TIMEOUT_INFINITE));
  record_put(rec);
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
  int locked = stream_lock(stream);
  struct xhal_stream* on;
  uint64_t order;
  struct event_record* rec = record_get(event, &on, &order);
  if (plugin == source && plugin->table.stream_wait_event) {
    status = plugin->table.stream_wait_event(stream->handle, rec->handle);
    status = plugin_result(plugin, "stream_wait_event", status);
    record_put(rec);
  } else if (plugin->table.enqueue_host_func) {
    /* Another plugin's event: this plugin cannot see it, so one of its
     * threads waits in stream order on the record made before this call
     * (the reference taken on it keeps later records off it). */
    object_retain(event);
    status = plugin->table.enqueue_host_func(stream->handle, wait_foreign_event,
                                             rec);
    if (status != XHAL_OK) {
      record_put(rec);
      xhal_event_release(event);
      status = plugin_result(plugin, "enqueue_host_func", status);
    }
  } else {
    /* No asynchronous path: wait on the host now. */
    status = host_call_check_wait(on, order, "xhal_stream_wait_event");
    if (status == XHAL_OK) {
      status = status_defined(
          source->table.event_wait(rec->handle, XHAL_TIMEOUT_INFINITE));
      if (status != XHAL_OK) {
        status = error_set(status, "waited event failed");
      }
    }
    record_put(rec);
  }
  stream_unlock(stream, locked);
  trace_end(stream->obj.instance, "xhal_stream_wait_event", t0);
  return status;
}
