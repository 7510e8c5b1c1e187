/*
 * internal.h - libxhal's object layouts and shared helpers. Not installed.
 *
 * Every handle starts with an xhal_object_t header: a type tag, an atomic
 * reference count and the owning instance. A released object's tag is
 * poisoned and its memory parked on the instance's free list for its type,
 * so a stale handle is answered with XHAL_ERROR_INVALID_HANDLE instead of a
 * read of freed memory. Parked memory is reused for new objects of the same
 * type unless the validation layer is on (then it is kept until the
 * instance dies, so every stale handle is caught).
 */
#ifndef XHAL_HAL_INTERNAL_H_
#define XHAL_HAL_INTERNAL_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <xhal/xhal.h>
#include <xhal/xhal_plugin.h>

#include "error.h"
#include "trace.h"

/* Type tags. The low byte is the type; a released object carries the
 * tag's complement. */
typedef enum object_type {
  OBJ_INSTANCE = 0x58480001u,
  OBJ_BUFFER = 0x58480002u,
  OBJ_STREAM = 0x58480003u,
  OBJ_EVENT = 0x58480004u,
  OBJ_PROGRAM = 0x58480005u,
  OBJ_KERNEL = 0x58480006u,
  OBJ_DEVICE = 0x58480007u,
  OBJ_OP_IMPL = 0x58480008u,
  OBJ_POOL = 0x58480009u,
} object_type_t;
#define OBJ_TYPE_SLOTS 10

typedef struct xhal_object {
  atomic_uint tag;
  atomic_uint refs;
  struct xhal_instance* instance;
  struct xhal_object* next_free;
  /* Validation layer (validation.c): the caller of the creating API entry,
   * the creation sequence number (validation on only) and the links of
   * the instance's live-object list (guarded by instance->vlock). */
  const void* site;
  uint64_t seq;
  struct xhal_object* live_prev;
  struct xhal_object* live_next;
} xhal_object_t;

/* One plugin the instance considered, loaded or not. */
typedef struct plugin {
  struct xhal_instance* instance;
  uint32_t index;
  void* dl;
  xhal_plugin_dispatch_t table; /* zero-extended copy of the plugin's */
  xhal_plugin_context_t context;
  xhal_host_services_t host; /* host_context points back here */
  xhal_plugin_info_t info;
  char* path;            /* the whole path (info.path may be cut short) */
  uint64_t path_hash;    /* of path, for the loader's duplicate check */
  uint32_t first_device; /* index of its first device in the instance */
  uint32_t initialized;  /* init() succeeded: shutdown() is owed */
} plugin_t;

struct xhal_device {
  xhal_object_t obj;
  plugin_t* plugin;
  uint32_t plugin_device_index;
  xhal_plugin_device_t handle;
  xhal_device_properties_t props;
  atomic_uint lost;
  /* Lazily made stream for host-staged copies (guarded by staging_lock). */
  pthread_mutex_t staging_lock;
  xhal_plugin_stream_t staging_stream;
  /* Live xhal_host_alloc allocations (host_memory.c), guarded by
   * host_lock. */
  pthread_mutex_t host_lock;
  struct host_alloc* host_allocs;
  /* Guards the live-mapping tables of the device's buffers; never held
   * across a plugin call. */
  pthread_mutex_t map_lock;
};

/* The first failure a stream or event reported, kept so that every later
 * report of it gives the same cause (failure_report). */
typedef struct failure_record {
  atomic_uint state; /* 0 none, 1 being written, 2 kept */
  xhal_status_t status;
  char cause[512];
} failure_record_t;

/* Validation layer: a point in a stream's submission order (1-based;
 * stream NULL: none). */
struct stream_pos {
  struct xhal_stream* stream;
  uint64_t pos;
};

struct xhal_buffer {
  xhal_object_t obj;
  xhal_device_t device;
  struct xhal_buffer* root; /* NULL for an allocation, the owner for views */
  xhal_plugin_buffer_t handle;
  uint64_t offset; /* from the start of the root allocation */
  uint64_t size;
  uint32_t memory_flags;
  /* The pool that made this view (mem_pool.c), or NULL: tells a second
   * xhal_pool_free_async of a dropped view from a foreign buffer. */
  const void* pool_owner;
  /* Validation layer (root only, guarded by instance->vlock): the last
   * write and the latest use per stream, as stream positions. */
  struct stream_pos v_writer;
  struct stream_pos v_uses[4];
  /* Live mappings (root only), guarded by the device's map_lock;
   * map_pending counts maps in flight in the plugin, holding a slot. */
  uint32_t map_count;
  uint32_t map_pending;
  void* maps[8];
};

struct xhal_stream {
  xhal_object_t obj;
  xhal_device_t device;
  xhal_plugin_stream_t handle;
  uint32_t flags; /* XHAL_STREAM_* as the application asked */
  /* Serialises entries on this stream, as the plugin ABI promises. */
  pthread_mutex_t lock;
  /* The stream's first failure and its cause. */
  failure_record_t failure;
  /* Tracing only: the stream's track and its timed operations. */
  uint32_t trace_track;
  struct op_span* spans;
  /* Validation layer (guarded by instance->vlock): operations submitted,
   * how many the application has seen complete, and the positions of
   * other streams this one waited for through events. */
  uint64_t v_submitted;
  uint64_t v_completed;
  struct stream_pos v_waited[8];
  uint64_t v_waited_at[8]; /* this stream's position at each wait */
  /* Host functions and event records in submission order (guarded by
   * lock): lets a host function tell a record made after it. */
  uint64_t order;
  /* Wrappers of the application's host functions (stream.c); free ones
   * are taken under lock, returned by the plugin's threads. */
  struct host_call* host_free;
  _Atomic(struct host_call*) host_returned;
  struct host_call_chunk* host_chunks;
  /* The first value outside xhal_status_t a host function returned
   * (0: none), for the message of the failure it became. */
  atomic_llong bad_host_value;
};

/* One record of an event: the plugin event that carries it. A stream
 * waiting across plugins holds the record it waits for, so a later
 * record of the same event goes to a fresh plugin event and the wait
 * still binds to the record that preceded it. */
struct event_record {
  xhal_plugin_event_t handle;
  atomic_uint refs;
  struct xhal_event* owner;
};

struct xhal_event {
  xhal_object_t obj;
  xhal_device_t device;
  /* The current record's plugin event (mem_pool.c reads it directly: its
   * events are private and never waited across plugins). */
  xhal_plugin_event_t handle;
  /* Guards current, handle and the record's position. */
  pthread_mutex_t lock;
  struct event_record* current;
  /* Where it was last recorded: the stream and its `order` there. */
  struct xhal_stream* recorded_on;
  uint64_t recorded_order;
  atomic_uint recorded;
  /* 1 when last recorded on a stream created with XHAL_STREAM_NO_TIMING. */
  atomic_uint untimed;
  /* The first failure of captured work a wait or query saw, its cause. */
  failure_record_t failure;
  /* Validation layer (guarded by instance->vlock): where it was last
   * recorded. */
  struct stream_pos v_recorded_at;
};

struct xhal_program {
  xhal_object_t obj;
  xhal_device_t device;
  xhal_plugin_program_t handle;
};

struct xhal_kernel {
  xhal_object_t obj;
  xhal_program_t program;
  xhal_plugin_kernel_t handle;
};

struct xhal_op_impl {
  xhal_object_t obj;
  xhal_op_t op;
  int32_t priority;
  uint32_t num_dtypes;
  xhal_dtype_t dtypes[XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS];
  char name[XHAL_NAME_MAX];
  void* user_data;
  /* Plugin implementations: bound to a plugin and a device index. */
  plugin_t* plugin;
  uint32_t plugin_device_index;
  xhal_plugin_op_impl_t pimpl;
  /* Framework implementations: bound to a device or to all (NULL). */
  xhal_device_t device;
  xhal_op_impl_desc_t fimpl;
  uint64_t sequence;       /* registration order, breaks priority ties */
  xhal_op_limits_t limits; /* declared limits (flags 0: none) */
};

typedef struct registry {
  pthread_rwlock_t lock;
  struct xhal_op_impl** impls; /* sorted: priority desc, then sequence */
  uint32_t count;
  uint32_t capacity;
  uint64_t next_sequence;
} registry_t;

struct xhal_instance {
  xhal_object_t obj;    /* obj.refs: the program's references + objects' */
  atomic_uint app_refs; /* the program's: create + retains - releases */
  pthread_mutex_t lock;
  xhal_log_level_t log_level;
  uint32_t validation;
  plugin_t** plugins;
  uint32_t plugin_count;
  struct xhal_device** devices;
  uint32_t device_count;
  registry_t registry;
  xhal_object_t* free_lists[OBJ_TYPE_SLOTS];
  tracer_t* tracer; /* NULL unless tracing */
  /* Validation layer state (validation.c), used only with validation on. */
  pthread_mutex_t vlock;
  uint64_t v_next_seq;
  uint32_t v_live_count;
  uint32_t v_leaks_reported;
  xhal_object_t* v_live; /* live objects that hold the instance */
};

/* ---------------------------------------------------------- objects */

/* Allocates (or reuses) a zeroed object of `size` bytes with one
 * reference; retains the instance unless type is OBJ_INSTANCE. */
xhal_object_t* object_new(xhal_instance_t instance, object_type_t type,
                          size_t size);
/* Checks `obj` is a live object of `type`; sets the error otherwise. */
xhal_status_t object_check(const void* obj, object_type_t type,
                           const char* what);
void object_retain(void* obj);
/* Drops one reference; returns 1 when it was the last (the caller then
 * destroys the object's contents and calls object_free). */
int object_unref(void* obj);
/* Poisons the tag and parks the memory; releases the instance ref. */
void object_free(void* obj, object_type_t type);
/* Drops an object's hold on its instance (object_free); the last
 * reference destroys it. xhal_instance_release drops the program's. */
void instance_drop_hold(xhal_instance_t instance);
/* Frees every parked object of the instance (at instance destruction). */
void object_free_lists_drain(xhal_instance_t instance);
/* Slow path of object_check: sets the error for a bad handle. */
xhal_status_t object_check_failed(const void* obj, object_type_t type,
                                  const char* what, int releasing);
/* Like object_check, for a release entry: with validation on, a second
 * release is reported as such. */
xhal_status_t object_check_release(const void* obj, object_type_t type,
                                   const char* what);
/* Records the caller of a creating API entry (validation messages). */
static inline void object_set_site(void* obj, const void* site) {
  ((xhal_object_t*)obj)->site = site;
}

/* ---------------------------------------------------------- logging */

void hal_log(xhal_instance_t instance, xhal_log_level_t level, const char* fmt,
             ...) __attribute__((format(printf, 3, 4)));

/* The value of the XHAL_* variable `name` the instance honours: NULL when
 * unset or empty, and (with a warning naming it) when the options say
 * ignore_environment. Read with secure_getenv. */
const char* hal_env(xhal_instance_t instance,
                    const xhal_instance_options_t* options, const char* name);

/* ---------------------------------------------------------- plugins */

/* Discovers and loads plugins per the options (plugin_loader.c). */
xhal_status_t loader_load_all(xhal_instance_t instance,
                              const xhal_instance_options_t* options);
/* Closes devices, shuts plugins down, unloads them. */
void loader_unload_all(xhal_instance_t instance);

/* Result of a plugin entry: on failure, makes sure the thread's message
 * says which plugin and entry failed (keeping the plugin's own message
 * when it set one). Returns `status`. */
xhal_status_t plugin_result(const plugin_t* plugin, const char* entry,
                            xhal_status_t status);

/* Reports the failure `status` of earlier work, which the plugin entry
 * just returned for `what` ("stream", "event") on `device`: keeps the
 * plugin's message as the cause on the first failure, and sets the
 * thread's message to "<what> on device '<name>' (plugin '<p>') failed:
 * <cause of the first failure>". Returns `status`. */
xhal_status_t failure_report(failure_record_t* record, xhal_device_t device,
                             const char* what, xhal_status_t status);

/* ---------------------------------------------------------- devices */

xhal_status_t device_check(xhal_device_t device, const char* what);
void device_destroy(xhal_device_t device);
/* Frees the device's host allocations still live, with a warning (at
 * device destruction, before the plugin closes the device). */
void host_memory_release_all(xhal_device_t device);

/* ---------------------------------------------------------- buffers */

/* Checks [offset, offset+size) lies in `buffer`; sets the error naming
 * `what`. size may be 0 only when allow_empty. */
xhal_status_t buffer_check_range(xhal_buffer_t buffer, uint64_t offset,
                                 uint64_t size, const char* what,
                                 int allow_empty);

/* ---------------------------------------------------------- registry */

void registry_init(registry_t* registry);
void registry_destroy(registry_t* registry);
/* Removes a plugin's implementations (its init failed). */
void registry_remove_plugin(registry_t* registry, const plugin_t* plugin);
xhal_status_t registry_add_plugin_impl(plugin_t* plugin,
                                       const xhal_plugin_op_impl_t* impl);

/* ---------------------------------------------------------- tracing */

/* Start time of a traced API call, or 0 with tracing off. */
static inline uint64_t trace_begin(xhal_instance_t instance) {
  return __builtin_expect(instance->tracer != NULL, 0) ? tracer_now_ns() : 0;
}
/* Emits the call `name` started at `start_ns` (tracing on only). */
static inline void trace_end(xhal_instance_t instance, const char* name,
                             uint64_t start_ns) {
  if (__builtin_expect(instance->tracer != NULL, 0)) {
    tracer_api(instance->tracer, name, start_ns, tracer_now_ns());
  }
}

/* Tracing only: brackets one stream operation with host functions that
 * time it in stream order. Called with stream->lock held; begin returns
 * NULL when tracing is off or the device has no host functions. */
struct op_span* stream_trace_begin(xhal_stream_t stream, const char* name);
void stream_trace_end(xhal_stream_t stream, struct op_span* span);

/* ---------------------------------------------------- host functions */

/* The application's host function this thread is running, if any: its
 * stream and its `order` there. `locked` when the thread holds the
 * stream's lock around it (devices without XHAL_CAP_HOST_FUNC). */
struct host_call_ctx {
  struct xhal_stream* stream;
  uint64_t order;
  int locked;
  const struct host_call_ctx* outer;
};
const struct host_call_ctx* host_call_current(void);

/* Sets XHAL_ERROR_INVALID_STATE and returns it when a host function of
 * `stream` on this thread would wait for `stream` to pass the point
 * `order` (UINT64_MAX: all its work); `what` names the call. */
xhal_status_t host_call_check_wait(const struct xhal_stream* stream,
                                   uint64_t order, const char* what);

/* Entries serialise on a stream with its lock, except on the thread that
 * already holds it to run a host function in place. */
static inline int stream_lock(struct xhal_stream* stream) {
  const struct host_call_ctx* ctx = host_call_current();
  for (; ctx; ctx = ctx->outer) {
    if (ctx->stream == stream && ctx->locked) return 0;
  }
  pthread_mutex_lock(&stream->lock);
  return 1;
}
static inline void stream_unlock(struct xhal_stream* stream, int locked) {
  if (locked) pthread_mutex_unlock(&stream->lock);
}

/* For a failure `status` seen through `stream` (may be NULL): when it
 * came from a host function returning a value outside xhal_status_t,
 * sets a message naming that value. Returns `status`. */
xhal_status_t stream_failure_message(const struct xhal_stream* stream,
                                     xhal_status_t status);

/* Maps a value outside xhal_status_t (from a host function or a plugin)
 * to XHAL_ERROR_EXECUTION_FAILED; other values pass. */
static inline xhal_status_t status_defined(xhal_status_t status) {
  return (status < 0 || status >= XHAL_STATUS_COUNT)
             ? XHAL_ERROR_EXECUTION_FAILED
             : status;
}

/* ---------------------------------------------------------- validation */

/* 1 when `instance` runs the validation layer: the one predictable branch
 * a validated entry pays when it is off. */
static inline int validating(const struct xhal_instance* instance) {
  return (int)__builtin_expect(instance->validation != 0, 0);
}

/* The rest lives in validation.c and runs with validation on only. */
void validation_init(xhal_instance_t instance);
void validation_destroy(xhal_instance_t instance);
/* Links a new object into / out of the live list, numbering it. */
void validation_track(xhal_object_t* obj);
void validation_untrack(xhal_object_t* obj);
/* Describes `obj` as "<type> 0x.. (#seq, created at sym+0xoff)". */
void validation_describe(const void* obj, char* buf, size_t size);
/* Sets XHAL_ERROR_VALIDATION with the message, logs it, returns it. */
xhal_status_t validation_report(xhal_instance_t instance, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Handle of instance `instance` used with an object of another. */
xhal_status_t validation_same_instance(xhal_stream_t stream, const void* obj,
                                       const char* what);
/* Checks ordering hazards of one stream operation reading `read` and
 * writing `write` (either may be NULL) and records its uses. */
xhal_status_t validation_enqueue(xhal_stream_t stream, const char* op,
                                 xhal_buffer_t read, xhal_buffer_t write);
/* The same for operations with several operands (registry operators). */
xhal_status_t validation_enqueue_buffers(xhal_stream_t stream, const char* op,
                                         const xhal_buffer_t* reads,
                                         uint32_t num_reads,
                                         const xhal_buffer_t* writes,
                                         uint32_t num_writes);
/* The application saw every operation submitted so far complete. */
void validation_stream_synced(xhal_stream_t stream, uint64_t submitted);
uint64_t validation_stream_submitted(xhal_stream_t stream);
void validation_event_recorded(xhal_event_t event, xhal_stream_t stream);
/* Host saw the event complete / a stream waits for it. */
void validation_event_completed(xhal_event_t event);
void validation_stream_waits(xhal_stream_t stream, xhal_event_t event);
/* Reports use of an event never recorded. */
xhal_status_t validation_unrecorded_event(xhal_event_t event, const char* what);
/* Before a root buffer's memory goes: reports streams still using it
 * (and waits for them so the plugin never frees memory in use). */
void validation_buffer_free(xhal_buffer_t buffer);
/* Before an instance reference is dropped: 1 (reported) when every
 * remaining reference belongs to a live object, so the caller holds none. */
int validation_instance_overreleased(xhal_instance_t instance);
/* The application dropped an instance reference: reports leaks when
 * only live objects hold it now. */
void validation_instance_released(xhal_instance_t instance);

/* ---------------------------------------------------------- helpers */

static inline int add_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_add_overflow(a, b, out);
}

#endif /* XHAL_HAL_INTERNAL_H_ */
