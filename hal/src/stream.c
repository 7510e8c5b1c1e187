/*
 * stream.c - in-order streams: transfers, fills, host functions, and
 * copies across devices and plugins (staged through host memory when no
 * peer path exists).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Staged copies move at most this much host memory at a time. */
enum { kStagingChunk = 64u << 20 };

/* ------------------------------------------------------------ tracing */

/* One traced operation. The start and end host functions run on the
 * plugin's thread; the span list (guarded by stream->lock) owns them, so
 * spans whose end never ran (a failed stream skips it) are still freed. */
struct op_span {
  struct op_span* next;
  tracer_t* tracer;
  uint32_t track;
  const char* name;
  uint64_t start_ns;
  atomic_uint done;
};

static xhal_status_t span_start(void* user_data) {
  ((struct op_span*)user_data)->start_ns = tracer_now_ns();
  return XHAL_OK;
}

static xhal_status_t span_end(void* user_data) {
  struct op_span* span = user_data;
  tracer_op(span->tracer, span->track, span->name, span->start_ns,
            tracer_now_ns());
  atomic_store(&span->done, 1u);
  return XHAL_OK;
}

struct op_span* stream_trace_begin(xhal_stream_t stream, const char* name) {
  tracer_t* tracer = stream->obj.instance->tracer;
  const plugin_t* plugin = stream->device->plugin;
  if (__builtin_expect(tracer == NULL, 1) || !plugin->table.enqueue_host_func)
    return NULL;
  struct op_span* span = calloc(1, sizeof(*span));
  if (!span) return NULL;
  span->tracer = tracer;
  span->track = stream->trace_track;
  span->name = name;
  if (plugin->table.enqueue_host_func(stream->handle, span_start, span) !=
      XHAL_OK) {
    free(span);
    return NULL;
  }
  span->next = stream->spans;
  stream->spans = span;
  return span;
}

void stream_trace_end(xhal_stream_t stream, struct op_span* span) {
  if (!span) return;
  xhal_status_t status = stream->device->plugin->table.enqueue_host_func(
      stream->handle, span_end, span);
  if (status != XHAL_OK) atomic_store(&span->done, 1u); /* never emitted */
}

/* Frees spans already emitted (or all, when `all`). stream->lock held. */
static void free_spans(xhal_stream_t stream, int all) {
  struct op_span** link = &stream->spans;
  while (*link) {
    struct op_span* span = *link;
    if (all || atomic_load(&span->done)) {
      *link = span->next;
      free(span);
    } else {
      link = &span->next;
    }
  }
}

/* Names a stream's trace track after its device. */
static void open_track(xhal_stream_t stream) {
  tracer_t* tracer = stream->obj.instance->tracer;
  if (!tracer) return;
  char name[XHAL_NAME_MAX + 32];
  snprintf(name, sizeof(name), "stream %p on %s", (void*)stream,
           stream->device->props.name);
  for (char* c = name; *c; ++c) {
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '_';
  }
  stream->trace_track = tracer_new_track(tracer, name);
}

/* ------------------------------------------------------ host functions */

/* The application's host function, wrapped so that libxhal knows, on the
 * thread that runs it, which stream and point it runs at, and can map a
 * value outside xhal_status_t. */
struct host_call {
  struct host_call* next;
  struct xhal_stream* stream;
  xhal_host_func_t fn;
  void* user_data;
  uint64_t order;
};

enum { kHostCallChunk = 32 };
struct host_call_chunk {
  struct host_call_chunk* next;
  struct host_call calls[kHostCallChunk];
};

static _Thread_local const struct host_call_ctx* tls_host_call;

const struct host_call_ctx* host_call_current(void) { return tls_host_call; }

xhal_status_t host_call_check_wait(const struct xhal_stream* stream,
                                   uint64_t order, const char* what) {
  if (__builtin_expect(tls_host_call == NULL, 1) || !stream) return XHAL_OK;
  for (const struct host_call_ctx* ctx = tls_host_call; ctx; ctx = ctx->outer) {
    if (ctx->stream == stream && order > ctx->order) {
      return error_set(XHAL_ERROR_INVALID_STATE,
                       "%s from a host function of stream %p would wait for "
                       "work enqueued on that stream after the host function "
                       "(itself included): it can never complete",
                       what, (const void*)stream);
    }
  }
  return XHAL_OK;
}

/* A free record (stream->lock held); NULL when out of memory. */
static struct host_call* host_call_take(xhal_stream_t stream) {
  if (!stream->host_free) {
    stream->host_free = atomic_exchange_explicit(&stream->host_returned, NULL,
                                                 memory_order_acquire);
  }
  if (!stream->host_free) {
    struct host_call_chunk* chunk = malloc(sizeof(*chunk));
    if (!chunk) return NULL;
    chunk->next = stream->host_chunks;
    stream->host_chunks = chunk;
    for (int i = 0; i < kHostCallChunk; ++i) {
      chunk->calls[i].stream = stream;
      chunk->calls[i].next =
          i + 1 < kHostCallChunk ? &chunk->calls[i + 1] : NULL;
    }
    stream->host_free = &chunk->calls[0];
  }
  struct host_call* call = stream->host_free;
  stream->host_free = call->next;
  return call;
}

/* Runs on the plugin's thread. The record goes back before fn runs (its
 * fields are copied), so a host function that enqueues more finds it. */
static xhal_status_t host_call_run(void* user_data) {
  struct host_call* call = user_data;
  struct xhal_stream* stream = call->stream;
  xhal_host_func_t fn = call->fn;
  void* fn_data = call->user_data;
  struct host_call_ctx ctx = {stream, call->order, 0, tls_host_call};
  struct host_call* head =
      atomic_load_explicit(&stream->host_returned, memory_order_relaxed);
  do {
    call->next = head;
  } while (!atomic_compare_exchange_weak_explicit(&stream->host_returned, &head,
                                                  call, memory_order_release,
                                                  memory_order_relaxed));
  tls_host_call = &ctx;
  xhal_status_t status = fn(fn_data);
  tls_host_call = ctx.outer;
  xhal_status_t defined = status_defined(status);
  if (defined != status) {
    long long none = 0;
    atomic_compare_exchange_strong(&stream->bad_host_value, &none,
                                   (long long)status);
  }
  return defined;
}

/* `site`: the application's call site, for the validation layer's leak
 * reports. */
static xhal_status_t stream_create(xhal_device_t device, uint32_t flags,
                                   xhal_stream_t* out_stream, const void* site) {
  xhal_status_t status = device_check(device, "device");
  if (status != XHAL_OK) return status;
  if (!out_stream) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_stream is NULL");
  }
  *out_stream = NULL;
  if (flags & ~(uint32_t)XHAL_STREAM_FLAGS_ALL) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "flags 0x%x: unknown bits 0x%x (known: "
                     "XHAL_STREAM_NO_TIMING)",
                     flags, flags & ~(uint32_t)XHAL_STREAM_FLAGS_ALL);
  }
  /* A plugin learns of a flag only through the capability that says it
   * understands it; elsewhere the stream keeps its timestamps and
   * libxhal alone answers for the flag. */
  uint32_t plugin_flags = 0;
  if ((flags & XHAL_STREAM_NO_TIMING) &&
      (device->props.capabilities & XHAL_CAP_STREAM_NO_TIMING)) {
    plugin_flags |= XHAL_STREAM_NO_TIMING;
  }
  xhal_stream_t stream = (xhal_stream_t)object_new(
      device->obj.instance, OBJ_STREAM, sizeof(struct xhal_stream));
  if (!stream) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "stream allocation failed");
  }
  status = device->plugin->table.stream_create(device->handle, plugin_flags,
                                               &stream->handle);
  if (status != XHAL_OK) {
    object_free(stream, OBJ_STREAM);
    return plugin_result(device->plugin, "stream_create", status);
  }
  stream->device = device;
  stream->flags = flags;
  pthread_mutex_init(&stream->lock, NULL);
  open_track(stream);
  object_set_site(stream, site);
  *out_stream = stream;
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_stream_create(xhal_device_t device,
                                          xhal_stream_t* out_stream) {
  return stream_create(device, 0, out_stream, __builtin_return_address(0));
}

XHAL_API xhal_status_t xhal_stream_create_with_flags(
    xhal_device_t device, uint32_t flags, xhal_stream_t* out_stream) {
  return stream_create(device, flags, out_stream, __builtin_return_address(0));
}

XHAL_API void xhal_stream_retain(xhal_stream_t stream) {
  if (object_check(stream, OBJ_STREAM, "stream") == XHAL_OK) {
    object_retain(stream);
  }
}

XHAL_API void xhal_stream_release(xhal_stream_t stream) {
  if (!stream || object_check_release(stream, OBJ_STREAM, "stream") != XHAL_OK)
    return;
  if (atomic_load(&stream->obj.refs) == 1u &&
      host_call_check_wait(stream, UINT64_MAX, "xhal_stream_release") !=
          XHAL_OK) {
    /* Destroying waits for the stream's work: refused, the stream lives. */
    hal_log(stream->obj.instance, XHAL_LOG_ERROR, "%s", xhal_last_error());
    return;
  }
  if (!object_unref(stream)) return;
  stream->device->plugin->table.stream_destroy(stream->handle);
  free_spans(stream, 1);
  while (stream->host_chunks) {
    struct host_call_chunk* chunk = stream->host_chunks;
    stream->host_chunks = chunk->next;
    free(chunk);
  }
  pthread_mutex_destroy(&stream->lock);
  object_free(stream, OBJ_STREAM);
}

XHAL_API xhal_status_t xhal_stream_device(xhal_stream_t stream,
                                          xhal_device_t* out_device) {
  xhal_status_t status = object_check(stream, OBJ_STREAM, "stream");
  if (status != XHAL_OK) return status;
  if (!out_device) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_device is NULL");
  }
  *out_device = stream->device;
  return XHAL_OK;
}

/* Checks the stream is usable for an enqueue. */
static xhal_status_t stream_check(xhal_stream_t stream) {
  xhal_status_t status = object_check(stream, OBJ_STREAM, "stream");
  if (status != XHAL_OK) return status;
  return device_check(stream->device, "stream's device");
}

/* Checks a buffer operand of a stream operation. */
static xhal_status_t operand_check(xhal_stream_t stream, xhal_buffer_t buffer,
                                   uint64_t offset, uint64_t size,
                                   const char* what, int same_device) {
  xhal_status_t status = object_check(buffer, OBJ_BUFFER, what);
  if (status != XHAL_OK) return status;
  if (validating(stream->obj.instance)) {
    status = validation_same_instance(stream, buffer, what);
    if (status != XHAL_OK) return status;
  }
  if (same_device && buffer->device != stream->device) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "%s lives on device '%s', the stream on '%s'", what,
                     buffer->device->props.name, stream->device->props.name);
  }
  return buffer_check_range(buffer, offset, size, what, 1);
}

XHAL_API xhal_status_t xhal_stream_enqueue_write(xhal_stream_t stream,
                                                 xhal_buffer_t dst,
                                                 uint64_t dst_offset,
                                                 const void* src,
                                                 uint64_t size) {
  xhal_status_t status = stream_check(stream);
  if (status != XHAL_OK) return status;
  status = operand_check(stream, dst, dst_offset, size, "dst", 1);
  if (status != XHAL_OK) return status;
  if (!src) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "src is NULL");
  if (size == 0) return XHAL_OK;
  if (validating(stream->obj.instance)) {
    status = validation_enqueue(stream, "xhal_stream_enqueue_write", NULL, dst);
    if (status != XHAL_OK) return status;
  }
  const plugin_t* plugin = stream->device->plugin;
  uint64_t t0 = trace_begin(stream->obj.instance);
  int locked = stream_lock(stream);
  struct op_span* span = stream_trace_begin(stream, "write");
  status = plugin->table.enqueue_write(stream->handle, dst->handle,
                                       dst->offset + dst_offset, src, size);
  stream_trace_end(stream, span);
  stream_unlock(stream, locked);
  trace_end(stream->obj.instance, "xhal_stream_enqueue_write", t0);
  return plugin_result(plugin, "enqueue_write", status);
}

XHAL_API xhal_status_t xhal_stream_enqueue_read(xhal_stream_t stream,
                                                xhal_buffer_t src,
                                                uint64_t src_offset, void* dst,
                                                uint64_t size) {
  xhal_status_t status = stream_check(stream);
  if (status != XHAL_OK) return status;
  status = operand_check(stream, src, src_offset, size, "src", 1);
  if (status != XHAL_OK) return status;
  if (!dst) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "dst is NULL");
  if (size == 0) return XHAL_OK;
  if (validating(stream->obj.instance)) {
    status = validation_enqueue(stream, "xhal_stream_enqueue_read", src, NULL);
    if (status != XHAL_OK) return status;
  }
  const plugin_t* plugin = stream->device->plugin;
  uint64_t t0 = trace_begin(stream->obj.instance);
  int locked = stream_lock(stream);
  struct op_span* span = stream_trace_begin(stream, "read");
  status = plugin->table.enqueue_read(stream->handle, src->handle,
                                      src->offset + src_offset, dst, size);
  stream_trace_end(stream, span);
  stream_unlock(stream, locked);
  trace_end(stream->obj.instance, "xhal_stream_enqueue_read", t0);
  return plugin_result(plugin, "enqueue_read", status);
}

XHAL_API xhal_status_t xhal_stream_synchronize(xhal_stream_t stream) {
  xhal_status_t status = stream_check(stream);
  if (status != XHAL_OK) return status;
  status = host_call_check_wait(stream, UINT64_MAX, "xhal_stream_synchronize");
  if (status != XHAL_OK) return status;
  const plugin_t* plugin = stream->device->plugin;
  uint64_t submitted = validating(stream->obj.instance)
                           ? validation_stream_submitted(stream)
                           : 0;
  uint64_t t0 = trace_begin(stream->obj.instance);
  status = plugin->table.stream_synchronize(stream->handle);
  if (submitted && status == XHAL_OK) {
    validation_stream_synced(stream, submitted);
  }
  if (__builtin_expect(stream->spans != NULL, 0)) {
    int locked = stream_lock(stream);
    free_spans(stream, 0);
    stream_unlock(stream, locked);
  }
  trace_end(stream->obj.instance, "xhal_stream_synchronize", t0);
  if (status == XHAL_OK) return XHAL_OK;
  status = failure_report(&stream->failure, stream->device, "stream", status);
  return stream_failure_message(stream, status);
}

XHAL_API xhal_status_t xhal_stream_flush(xhal_stream_t stream) {
  xhal_status_t status = stream_check(stream);
  if (status != XHAL_OK) return status;
  const plugin_t* plugin = stream->device->plugin;
  if (!plugin->table.stream_flush) return XHAL_OK; /* nothing batched */
  int locked = stream_lock(stream);
  status = plugin->table.stream_flush(stream->handle);
  stream_unlock(stream, locked);
  return plugin_result(plugin, "stream_flush", status);
}

/* The device's internal stream for staged copies; created on first use.
 * Called with device->staging_lock held. */
static xhal_status_t staging_stream(xhal_device_t device,
                                    xhal_plugin_stream_t* out) {
  if (!device->staging_stream) {
    xhal_status_t status = device->plugin->table.stream_create(
        device->handle, 0, &device->staging_stream);
    if (status != XHAL_OK) {
      device->staging_stream = NULL;
      return plugin_result(device->plugin, "stream_create", status);
    }
  }
  *out = device->staging_stream;
  return XHAL_OK;
}

/* One chunk of a staged copy: src -> host -> dst, each side on its own
 * device's stream, synchronously. `stream` is one of the two sides. */
static xhal_status_t staged_chunk(xhal_stream_t stream, xhal_buffer_t src,
                                  uint64_t src_offset, xhal_buffer_t dst,
                                  uint64_t dst_offset, uint64_t size,
                                  void* host) {
  xhal_device_t other =
      src->device == stream->device ? dst->device : src->device;
  const plugin_t* sp = src->device->plugin;
  const plugin_t* dp = dst->device->plugin;
  xhal_plugin_stream_t other_stream = NULL;
  pthread_mutex_lock(&other->staging_lock);
  xhal_status_t status = staging_stream(other, &other_stream);
  if (status != XHAL_OK) goto done;
  xhal_plugin_stream_t read_on =
      src->device == stream->device ? stream->handle : other_stream;
  xhal_plugin_stream_t write_on =
      dst->device == stream->device ? stream->handle : other_stream;
  status = sp->table.enqueue_read(read_on, src->handle,
                                  src->offset + src_offset, host, size);
  if (status == XHAL_OK) status = sp->table.stream_synchronize(read_on);
  if (status != XHAL_OK) {
    status = plugin_result(sp, "staged copy read", status);
    goto done;
  }
  status = dp->table.enqueue_write(write_on, dst->handle,
                                   dst->offset + dst_offset, host, size);
  if (status == XHAL_OK) status = dp->table.stream_synchronize(write_on);
  if (status != XHAL_OK)
    status = plugin_result(dp, "staged copy write", status);
done:
  pthread_mutex_unlock(&other->staging_lock);
  return status;
}

static xhal_status_t staged_copy(xhal_stream_t stream, xhal_buffer_t src,
                                 uint64_t src_offset, xhal_buffer_t dst,
                                 uint64_t dst_offset, uint64_t size) {
  uint64_t chunk = size < kStagingChunk ? size : kStagingChunk;
  void* host = malloc((size_t)chunk);
  if (!host) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY,
                     "staging buffer of %llu bytes for a cross-device copy",
                     (unsigned long long)chunk);
  }
  /* The caller has finished the stream's earlier work. */
  xhal_status_t status = XHAL_OK;
  for (uint64_t done = 0; status == XHAL_OK && done < size; done += chunk) {
    uint64_t n = size - done < chunk ? size - done : chunk;
    status = staged_chunk(stream, src, src_offset + done, dst,
                          dst_offset + done, n, host);
  }
  free(host);
  return status;
}

/* A copy where neither buffer lives on the stream's device: once the
 * caller has finished the stream's earlier work (which may include waits
 * on the producers of src), the copy runs on the buffers' own devices'
 * internal streams, and completes before the call returns, so the
 * stream's later work sees it. */
static xhal_status_t third_party_copy(xhal_buffer_t src, uint64_t src_offset,
                                      xhal_buffer_t dst, uint64_t dst_offset,
                                      uint64_t size) {
  xhal_device_t sd = src->device;
  xhal_device_t dd = dst->device;
  xhal_status_t status = XHAL_OK;
  int direct = sd == dd || (sd->plugin == dd->plugin &&
                            (sd->props.capabilities & XHAL_CAP_PEER_COPY) &&
                            (dd->props.capabilities & XHAL_CAP_PEER_COPY));
  if (direct) {
    const plugin_t* plugin = sd->plugin;
    xhal_plugin_stream_t on = NULL;
    pthread_mutex_lock(&sd->staging_lock);
    status = staging_stream(sd, &on);
    if (status == XHAL_OK) {
      status = plugin->table.enqueue_copy(on, src->handle,
                                          src->offset + src_offset, dst->handle,
                                          dst->offset + dst_offset, size);
      if (status == XHAL_OK) status = plugin->table.stream_synchronize(on);
      status = plugin_result(plugin, "enqueue_copy", status);
    }
    pthread_mutex_unlock(&sd->staging_lock);
    return status;
  }
  uint64_t chunk = size < kStagingChunk ? size : kStagingChunk;
  void* host = malloc((size_t)chunk);
  if (!host) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY,
                     "staging buffer of %llu bytes for a cross-device copy",
                     (unsigned long long)chunk);
  }
  /* One device's staging lock at a time, never nested. */
  for (uint64_t done = 0; status == XHAL_OK && done < size; done += chunk) {
    uint64_t n = size - done < chunk ? size - done : chunk;
    xhal_plugin_stream_t on = NULL;
    pthread_mutex_lock(&sd->staging_lock);
    status = staging_stream(sd, &on);
    if (status == XHAL_OK) {
      status = sd->plugin->table.enqueue_read(
          on, src->handle, src->offset + src_offset + done, host, n);
      if (status == XHAL_OK) status = sd->plugin->table.stream_synchronize(on);
      status = plugin_result(sd->plugin, "staged copy read", status);
    }
    pthread_mutex_unlock(&sd->staging_lock);
    if (status != XHAL_OK) break;
    pthread_mutex_lock(&dd->staging_lock);
    status = staging_stream(dd, &on);
    if (status == XHAL_OK) {
      status = dd->plugin->table.enqueue_write(
          on, dst->handle, dst->offset + dst_offset + done, host, n);
      if (status == XHAL_OK) status = dd->plugin->table.stream_synchronize(on);
      status = plugin_result(dd->plugin, "staged copy write", status);
    }
    pthread_mutex_unlock(&dd->staging_lock);
  }
  free(host);
  return status;
}

XHAL_API xhal_status_t xhal_stream_enqueue_copy(
    xhal_stream_t stream, xhal_buffer_t src, uint64_t src_offset,
    xhal_buffer_t dst, uint64_t dst_offset, uint64_t size) {
  xhal_status_t status = stream_check(stream);
  if (status != XHAL_OK) return status;
  status = operand_check(stream, src, src_offset, size, "src", 0);
  if (status != XHAL_OK) return status;
  status = operand_check(stream, dst, dst_offset, size, "dst", 0);
  if (status != XHAL_OK) return status;
  xhal_device_t sd = src->device;
  xhal_device_t dd = dst->device;
  /* Neither side on the stream's device: a third-party copy. */
  int third_party = sd != stream->device && dd != stream->device;
  if (sd != stream->device) {
    status = device_check(sd, "src's device");
    if (status != XHAL_OK) return status;
  }
  if (dd != stream->device) {
    status = device_check(dd, "dst's device");
    if (status != XHAL_OK) return status;
  }
  if (size == 0) return XHAL_OK;
  if (validating(stream->obj.instance)) {
    status = validation_enqueue(stream, "xhal_stream_enqueue_copy", src, dst);
    if (status != XHAL_OK) return status;
  }
  const plugin_t* plugin = stream->device->plugin;
  int direct = sd == dd || (sd->plugin == dd->plugin &&
                            (sd->props.capabilities & XHAL_CAP_PEER_COPY) &&
                            (dd->props.capabilities & XHAL_CAP_PEER_COPY));
  if (third_party || !direct) {
    /* Made on the host now, behind all the stream's work. */
    status = host_call_check_wait(stream, UINT64_MAX,
                                  "a copy staged through host memory");
    if (status != XHAL_OK) return status;
    /* That work (which may produce src or consume dst) is finished before
     * either side is touched, waited for without the stream's lock: a
     * host function in it may enqueue on its own stream meanwhile. */
    status = plugin->table.stream_synchronize(stream->handle);
    if (status != XHAL_OK) {
      return plugin_result(plugin, "stream_synchronize", status);
    }
  }
  uint64_t t0 = trace_begin(stream->obj.instance);
  int locked = stream_lock(stream);
  if (third_party) {
    tracer_t* tracer = stream->obj.instance->tracer;
    uint64_t c0 = tracer ? tracer_now_ns() : 0;
    status = third_party_copy(src, src_offset, dst, dst_offset, size);
    if (tracer) {
      tracer_op(tracer, stream->trace_track, "copy", c0, tracer_now_ns());
    }
  } else if (direct) {
    struct op_span* span = stream_trace_begin(stream, "copy");
    status = plugin->table.enqueue_copy(stream->handle, src->handle,
                                        src->offset + src_offset, dst->handle,
                                        dst->offset + dst_offset, size);
    stream_trace_end(stream, span);
    status = plugin_result(plugin, "enqueue_copy", status);
  } else {
    /* Staged through host memory before this call returns: the host's
     * clock times it on the stream's track. */
    tracer_t* tracer = stream->obj.instance->tracer;
    uint64_t c0 = tracer ? tracer_now_ns() : 0;
    status = staged_copy(stream, src, src_offset, dst, dst_offset, size);
    if (tracer) {
      tracer_op(tracer, stream->trace_track, "copy", c0, tracer_now_ns());
    }
  }
  stream_unlock(stream, locked);
  trace_end(stream->obj.instance, "xhal_stream_enqueue_copy", t0);
  return status;
}

XHAL_API xhal_status_t xhal_stream_enqueue_fill(xhal_stream_t stream,
                                                xhal_buffer_t dst,
                                                uint64_t offset, uint64_t size,
                                                const void* pattern,
                                                uint32_t pattern_size) {
  xhal_status_t status = stream_check(stream);
  if (status != XHAL_OK) return status;
  status = operand_check(stream, dst, offset, size, "dst", 1);
  if (status != XHAL_OK) return status;
  if (!pattern)
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "pattern is NULL");
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "pattern_size %u is not 1, 2 or 4", pattern_size);
  }
  if (size % pattern_size || offset % pattern_size) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "offset %llu and size %llu must be multiples of "
                     "pattern_size %u",
                     (unsigned long long)offset, (unsigned long long)size,
                     pattern_size);
  }
  if (size == 0) return XHAL_OK;
  if (validating(stream->obj.instance)) {
    status = validation_enqueue(stream, "xhal_stream_enqueue_fill", NULL, dst);
    if (status != XHAL_OK) return status;
  }
  const plugin_t* plugin = stream->device->plugin;
  uint64_t t0 = trace_begin(stream->obj.instance);
  int locked = stream_lock(stream);
  struct op_span* span = stream_trace_begin(stream, "fill");
  status = plugin->table.enqueue_fill(stream->handle, dst->handle,
                                      dst->offset + offset, size, pattern,
                                      pattern_size);
  stream_trace_end(stream, span);
  stream_unlock(stream, locked);
  trace_end(stream->obj.instance, "xhal_stream_enqueue_fill", t0);
  return plugin_result(plugin, "enqueue_fill", status);
}

XHAL_API xhal_status_t xhal_stream_enqueue_host_func(xhal_stream_t stream,
                                                     xhal_host_func_t fn,
                                                     void* user_data) {
  xhal_status_t status = stream_check(stream);
  if (status != XHAL_OK) return status;
  if (!fn) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "fn is NULL");
  const plugin_t* plugin = stream->device->plugin;
  int locked = stream_lock(stream);
  if (plugin->table.enqueue_host_func) {
    struct host_call* call = host_call_take(stream);
    if (!call) {
      status = error_set(XHAL_ERROR_OUT_OF_MEMORY,
                         "no memory for a host function's record");
    } else {
      call->fn = fn;
      call->user_data = user_data;
      call->order = ++stream->order;
      status =
          plugin->table.enqueue_host_func(stream->handle, host_call_run, call);
      if (status != XHAL_OK) {
        call->next = stream->host_free;
        stream->host_free = call;
      }
      status = plugin_result(plugin, "enqueue_host_func", status);
    }
  } else {
    /* No asynchronous host functions: run it here, in order, holding the
     * stream (entries this thread makes on it from fn pass the lock). */
    status = plugin->table.stream_synchronize(stream->handle);
    status = plugin_result(plugin, "stream_synchronize", status);
    if (status == XHAL_OK) {
      struct host_call_ctx ctx = {stream, ++stream->order, 1, tls_host_call};
      tls_host_call = &ctx;
      xhal_status_t result = fn(user_data);
      tls_host_call = ctx.outer;
      if (result != XHAL_OK) {
        status = status_defined(result);
        if (status != result) {
          status = error_set(status,
                             "host function returned %lld, which is not an "
                             "xhal_status_t",
                             (long long)result);
        } else {
          status = error_set(status, "host function returned %s",
                             xhal_status_name(status));
        }
      }
    }
  }
  stream_unlock(stream, locked);
  return status;
}
