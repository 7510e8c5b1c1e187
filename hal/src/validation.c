/*
 * validation.c - the validation layer: checks that cost nothing but one
 * branch when off (XHAL_VALIDATION=1 or options.validation turn it on).
 *
 * With it on, every object that holds the instance is numbered and linked
 * into the instance's live list together with the caller of the API entry
 * that created it, released objects are quarantined rather than reused
 * (so a stale handle is always recognised), and streams, buffers and
 * events carry positions in stream order so that hazards the application
 * never ordered are reported. Every violation returns (or, from a void
 * entry, leaves in xhal_last_error) XHAL_ERROR_VALIDATION and is logged.
 * The state is guarded by instance->vlock; see docs/reliability.md.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------ objects */

void validation_init(xhal_instance_t instance) {
  pthread_mutex_init(&instance->vlock, NULL);
}

void validation_destroy(xhal_instance_t instance) {
  pthread_mutex_destroy(&instance->vlock);
}

void validation_track(xhal_object_t* obj) {
  xhal_instance_t instance = obj->instance;
  pthread_mutex_lock(&instance->vlock);
  obj->seq = ++instance->v_next_seq;
  obj->live_prev = NULL;
  obj->live_next = instance->v_live;
  if (instance->v_live) instance->v_live->live_prev = obj;
  instance->v_live = obj;
  ++instance->v_live_count;
  pthread_mutex_unlock(&instance->vlock);
}

void validation_untrack(xhal_object_t* obj) {
  xhal_instance_t instance = obj->instance;
  pthread_mutex_lock(&instance->vlock);
  if (obj->live_prev) {
    obj->live_prev->live_next = obj->live_next;
  } else if (instance->v_live == obj) {
    instance->v_live = obj->live_next;
  }
  if (obj->live_next) obj->live_next->live_prev = obj->live_prev;
  obj->live_prev = obj->live_next = NULL;
  --instance->v_live_count;
  pthread_mutex_unlock(&instance->vlock);
}

static const char* type_name(unsigned tag) {
  switch (tag & 0xFFu) {
    case OBJ_INSTANCE & 0xFFu:
      return "instance";
    case OBJ_BUFFER & 0xFFu:
      return "buffer";
    case OBJ_STREAM & 0xFFu:
      return "stream";
    case OBJ_EVENT & 0xFFu:
      return "event";
    case OBJ_PROGRAM & 0xFFu:
      return "program";
    case OBJ_KERNEL & 0xFFu:
      return "kernel";
    case OBJ_DEVICE & 0xFFu:
      return "device";
    case OBJ_OP_IMPL & 0xFFu:
      return "op implementation";
    case OBJ_POOL & 0xFFu:
      return "pool";
    default:
      return "object";
  }
}

/* "symbol+0xoff (module)", "module+0xoff" or the bare address. */
static void format_site(const void* site, char* buf, size_t size) {
  Dl_info info;
  if (!site) {
    snprintf(buf, size, "an unknown site");
    return;
  }
  if (dladdr(site, &info) == 0 || !info.dli_fname) {
    snprintf(buf, size, "%p", site);
    return;
  }
  const char* module = strrchr(info.dli_fname, '/');
  module = module ? module + 1 : info.dli_fname;
  if (info.dli_sname && info.dli_saddr) {
    snprintf(buf, size, "%s+0x%lx (%s)", info.dli_sname,
             (unsigned long)((const char*)site - (const char*)info.dli_saddr),
             module);
  } else {
    snprintf(buf, size, "%s+0x%lx", module,
             (unsigned long)((const char*)site - (const char*)info.dli_fbase));
  }
}

void validation_describe(const void* ptr, char* buf, size_t size) {
  const xhal_object_t* obj = ptr;
  char site[256];
  format_site(obj->site, site, sizeof(site));
  unsigned tag = atomic_load_explicit(&obj->tag, memory_order_relaxed);
  unsigned type = (tag >> 8) == (0x58480000u >> 8) ? tag : ~tag;
  snprintf(buf, size, "%s %p (#%llu, created at %s)", type_name(type), ptr,
           (unsigned long long)obj->seq, site);
}

xhal_status_t validation_report(xhal_instance_t instance, const char* fmt,
                                ...) {
  char message[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof(message), fmt, ap);
  va_end(ap);
  hal_log(instance, XHAL_LOG_ERROR, "validation: %s", message);
  return error_set(XHAL_ERROR_VALIDATION, "%s", message);
}

/* The instance an object of a known type tag (live or released) belongs
 * to, when it runs validation; NULL otherwise. */
static xhal_instance_t validating_owner(const xhal_object_t* obj,
                                        unsigned tag) {
  if ((tag >> 8) != (0x58480000u >> 8) && (~tag >> 8) != (0x58480000u >> 8))
    return NULL;
  unsigned type = (tag >> 8) == (0x58480000u >> 8) ? tag : ~tag;
  if ((type & 0xFFu) == 0 || (type & 0xFFu) >= OBJ_TYPE_SLOTS) return NULL;
  if (type == OBJ_INSTANCE) return NULL; /* released: freed memory */
  xhal_instance_t instance = obj->instance;
  return instance && validating(instance) ? instance : NULL;
}

/* Slow path of object_check (instance.c): explains a bad handle. */
xhal_status_t object_check_failed(const void* ptr, object_type_t type,
                                  const char* what, int releasing) {
  const xhal_object_t* obj = ptr;
  unsigned tag = atomic_load_explicit(&obj->tag, memory_order_relaxed);
  xhal_instance_t instance = validating_owner(obj, tag);
  if (instance) {
    char desc[384];
    validation_describe(obj, desc, sizeof(desc));
    if (tag == ~(unsigned)type) {
      return validation_report(
          instance,
          releasing ? "%s: %s released twice (it was already released)"
                    : "%s: %s used after release (it was already released)",
          what, desc);
    }
    return validation_report(
        instance, "%s: expected a %s, got %s%s", what, type_name(type), desc,
        (tag >> 8) == (0x58480000u >> 8) ? "" : " (already released)");
  }
  if (tag == ~(unsigned)type) {
    return error_set(XHAL_ERROR_INVALID_HANDLE, "%s was already released",
                     what);
  }
  return error_set(XHAL_ERROR_INVALID_HANDLE,
                   "%s is not a live handle of the expected type", what);
}

xhal_status_t validation_same_instance(xhal_stream_t stream, const void* ptr,
                                       const char* what) {
  const xhal_object_t* obj = ptr;
  if (obj->instance == stream->obj.instance) return XHAL_OK;
  char desc[384], sdesc[384];
  validation_describe(obj, desc, sizeof(desc));
  validation_describe(stream, sdesc, sizeof(sdesc));
  return validation_report(
      stream->obj.instance,
      "%s: %s belongs to instance %p, but %s belongs to instance %p", what,
      desc, (void*)obj->instance, sdesc, (void*)stream->obj.instance);
}

/* ------------------------------------------------------ stream order */

static int stream_alive(const struct xhal_stream* stream) {
  return atomic_load_explicit(&stream->obj.tag, memory_order_relaxed) ==
         (unsigned)OBJ_STREAM;
}

/* Position of `other` that `stream` is known to run after. vlock held. */
static uint64_t waited_pos(const struct xhal_stream* stream,
                           const struct xhal_stream* other) {
  for (unsigned i = 0;
       i < sizeof(stream->v_waited) / sizeof(stream->v_waited[0]); ++i) {
    if (stream->v_waited[i].stream == other) return stream->v_waited[i].pos;
  }
  return 0;
}

/* The entry of `table` for `stream`: its own, a free one, or the oldest.
 * vlock held. */
static struct stream_pos* pos_slot(struct stream_pos* table, unsigned count,
                                   struct xhal_stream* stream) {
  struct stream_pos* pick = &table[0];
  for (unsigned i = 0; i < count; ++i) {
    if (table[i].stream == stream) return &table[i];
  }
  for (unsigned i = 0; i < count; ++i) {
    if (!table[i].stream) return &table[i];
    if (table[i].pos < pick->pos) pick = &table[i];
  }
  return pick;
}

/* Whether the last write of `root` is unordered with work on `stream`.
 * vlock held. */
static int unordered_write(const struct xhal_buffer* root,
                           const struct xhal_stream* stream) {
  const struct xhal_stream* writer = root->v_writer.stream;
  if (!writer || writer == stream || !stream_alive(writer)) return 0;
  if (writer->v_completed >= root->v_writer.pos) return 0;
  return waited_pos(stream, writer) < root->v_writer.pos;
}

static xhal_status_t report_hazard(xhal_stream_t stream, const char* op,
                                   const char* role, xhal_buffer_t buffer,
                                   const struct xhal_buffer* root) {
  char bdesc[384], sdesc[384], wdesc[384];
  validation_describe(buffer, bdesc, sizeof(bdesc));
  validation_describe(stream, sdesc, sizeof(sdesc));
  validation_describe(root->v_writer.stream, wdesc, sizeof(wdesc));
  return validation_report(
      stream->obj.instance,
      "%s: %s %s is written by %s (operation %llu) with no event ordering it "
      "before %s; record an event after the write and wait for it",
      op, role, bdesc, wdesc, (unsigned long long)root->v_writer.pos, sdesc);
}

static struct xhal_buffer* root_of(xhal_buffer_t buffer) {
  return buffer->root ? buffer->root : buffer;
}

xhal_status_t validation_enqueue_buffers(xhal_stream_t stream, const char* op,
                                         const xhal_buffer_t* reads,
                                         uint32_t num_reads,
                                         const xhal_buffer_t* writes,
                                         uint32_t num_writes) {
  xhal_instance_t instance = stream->obj.instance;
  xhal_status_t status = XHAL_OK;
  pthread_mutex_lock(&instance->vlock);
  for (uint32_t i = 0; i < num_reads && status == XHAL_OK; ++i) {
    if (unordered_write(root_of(reads[i]), stream)) {
      status = report_hazard(stream, op, "source", reads[i], root_of(reads[i]));
    }
  }
  for (uint32_t i = 0; i < num_writes && status == XHAL_OK; ++i) {
    if (unordered_write(root_of(writes[i]), stream)) {
      status = report_hazard(stream, op, "destination", writes[i],
                             root_of(writes[i]));
    }
  }
  if (status == XHAL_OK) {
    struct stream_pos at = {stream, ++stream->v_submitted};
    unsigned n =
        (unsigned)(sizeof(reads[0]->v_uses) / sizeof(reads[0]->v_uses[0]));
    for (uint32_t i = 0; i < num_reads; ++i) {
      struct xhal_buffer* root = root_of(reads[i]);
      *pos_slot(root->v_uses, n, stream) = at;
    }
    for (uint32_t i = 0; i < num_writes; ++i) {
      struct xhal_buffer* root = root_of(writes[i]);
      *pos_slot(root->v_uses, n, stream) = at;
      root->v_writer = at;
    }
  }
  pthread_mutex_unlock(&instance->vlock);
  return status;
}

xhal_status_t validation_enqueue(xhal_stream_t stream, const char* op,
                                 xhal_buffer_t read, xhal_buffer_t write) {
  return validation_enqueue_buffers(stream, op, &read, read ? 1u : 0u, &write,
                                    write ? 1u : 0u);
}

/* The application saw `stream` complete up to `pos`, and with it the work
 * of every stream it waited for before that point. vlock held. */
static void mark_completed(struct xhal_stream* stream, uint64_t pos,
                           unsigned depth) {
  if (!stream_alive(stream) || stream->v_completed >= pos) return;
  stream->v_completed = pos;
  if (depth >= 8) return; /* a longer chain stays conservative */
  unsigned n =
      (unsigned)(sizeof(stream->v_waited) / sizeof(stream->v_waited[0]));
  for (unsigned i = 0; i < n; ++i) {
    if (stream->v_waited[i].stream && stream->v_waited_at[i] <= pos) {
      mark_completed(stream->v_waited[i].stream, stream->v_waited[i].pos,
                     depth + 1);
    }
  }
}

uint64_t validation_stream_submitted(xhal_stream_t stream) {
  pthread_mutex_lock(&stream->obj.instance->vlock);
  uint64_t submitted = stream->v_submitted;
  pthread_mutex_unlock(&stream->obj.instance->vlock);
  return submitted;
}

void validation_stream_synced(xhal_stream_t stream, uint64_t submitted) {
  pthread_mutex_lock(&stream->obj.instance->vlock);
  mark_completed(stream, submitted, 0);
  pthread_mutex_unlock(&stream->obj.instance->vlock);
}

void validation_event_recorded(xhal_event_t event, xhal_stream_t stream) {
  pthread_mutex_lock(&stream->obj.instance->vlock);
  event->v_recorded_at = (struct stream_pos){stream, stream->v_submitted};
  pthread_mutex_unlock(&stream->obj.instance->vlock);
}

void validation_event_completed(xhal_event_t event) {
  pthread_mutex_lock(&event->obj.instance->vlock);
  struct xhal_stream* stream = event->v_recorded_at.stream;
  if (stream) mark_completed(stream, event->v_recorded_at.pos, 0);
  pthread_mutex_unlock(&event->obj.instance->vlock);
}

void validation_stream_waits(xhal_stream_t stream, xhal_event_t event) {
  pthread_mutex_lock(&stream->obj.instance->vlock);
  struct xhal_stream* source = event->v_recorded_at.stream;
  if (!source || source->obj.instance != stream->obj.instance) {
    pthread_mutex_unlock(&stream->obj.instance->vlock);
    return;
  }
  struct stream_pos* slot = pos_slot(
      stream->v_waited,
      (unsigned)(sizeof(stream->v_waited) / sizeof(stream->v_waited[0])),
      source);
  if (slot->stream != source) *slot = (struct stream_pos){source, 0};
  if (slot->pos < event->v_recorded_at.pos)
    slot->pos = event->v_recorded_at.pos;
  /* The wait takes a position of its own, so that completion observed
   * at or after it (a synchronize, an event recorded later) covers it. */
  stream->v_waited_at[slot - stream->v_waited] = ++stream->v_submitted;
  pthread_mutex_unlock(&stream->obj.instance->vlock);
}

xhal_status_t validation_unrecorded_event(xhal_event_t event,
                                          const char* what) {
  char desc[384];
  validation_describe(event, desc, sizeof(desc));
  return validation_report(event->obj.instance,
                           "%s: %s is waited on before it was ever recorded "
                           "(xhal_stream_record_event)",
                           what, desc);
}

void validation_buffer_free(xhal_buffer_t buffer) {
  xhal_instance_t instance = buffer->obj.instance;
  unsigned n = (unsigned)(sizeof(buffer->v_uses) / sizeof(buffer->v_uses[0]));
  for (unsigned i = 0; i < n; ++i) {
    pthread_mutex_lock(&instance->vlock);
    struct xhal_stream* stream = buffer->v_uses[i].stream;
    uint64_t pos = buffer->v_uses[i].pos;
    int busy = stream && stream_alive(stream) && stream->v_completed < pos;
    uint64_t pending = busy ? pos - stream->v_completed : 0;
    pthread_mutex_unlock(&instance->vlock);
    if (!busy) continue;
    char bdesc[384], sdesc[384];
    validation_describe(buffer, bdesc, sizeof(bdesc));
    validation_describe(stream, sdesc, sizeof(sdesc));
    (void)validation_report(
        instance,
        "xhal_buffer_release: %s released while %s has %llu enqueued "
        "operation(s) using it that were never waited for; waiting for the "
        "stream before freeing",
        bdesc, sdesc, (unsigned long long)pending);
    /* Keep the plugin from freeing memory its queue still uses. */
    (void)stream->device->plugin->table.stream_synchronize(stream->handle);
    validation_stream_synced(stream, pos);
  }
}

/* ------------------------------------------------------------- leaks */

int validation_instance_overreleased(xhal_instance_t instance) {
  pthread_mutex_lock(&instance->vlock);
  uint32_t live = instance->v_live_count;
  unsigned refs = atomic_load(&instance->obj.refs);
  pthread_mutex_unlock(&instance->vlock);
  if (live == 0 || refs > live) return 0;
  (void)validation_report(instance,
                          "instance %p released twice: only its %u live "
                          "object(s) still hold it",
                          (void*)instance, live);
  return 1;
}

void validation_instance_released(xhal_instance_t instance) {
  pthread_mutex_lock(&instance->vlock);
  uint32_t live = instance->v_live_count;
  unsigned refs = atomic_load(&instance->obj.refs);
  if (live == 0 || refs != live || instance->v_leaks_reported) {
    pthread_mutex_unlock(&instance->vlock);
    return;
  }
  instance->v_leaks_reported = 1;
  char summary[700];
  size_t used = 0;
  summary[0] = '\0';
  for (xhal_object_t* obj = instance->v_live; obj; obj = obj->live_next) {
    char desc[384];
    validation_describe(obj, desc, sizeof(desc));
    hal_log(instance, XHAL_LOG_ERROR, "validation: leaked %s", desc);
    if (used < sizeof(summary)) {
      int w = snprintf(summary + used, sizeof(summary) - used, "%s%s",
                       used ? "; " : "", desc);
      if (w > 0) used += (size_t)w;
    }
  }
  pthread_mutex_unlock(&instance->vlock);
  (void)validation_report(instance,
                          "instance released with %u live object(s) still "
                          "holding it (leaked): %s",
                          live, summary);
}
