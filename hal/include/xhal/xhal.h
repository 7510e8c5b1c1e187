/*
 * xhal.h - the framework API of libxhal.
 *
 * A framework creates an xhal_instance_t, which loads device plugins and
 * enumerates their devices. On a device it allocates buffers, creates
 * streams (in-order asynchronous queues) and events, enqueues copies,
 * fills, operators from the kernel registry and custom kernels, and waits.
 *
 * Objects and lifetime: every handle is opaque and owned by libxhal.
 * Instances, buffers, streams, events, programs and kernels are reference
 * counted: a create call returns one reference, xhal_*_release drops one,
 * and release(NULL) is a no-op. Devices and registry implementations are
 * owned by their instance and live until it is destroyed. An object keeps
 * the objects it was made from alive (a buffer keeps its device's instance),
 * so releases may come in any order.
 *
 * Errors: every fallible call returns xhal_status_t and never aborts. The
 * message for the last failure on the calling thread comes from
 * xhal_last_error(); messages name the argument, the object and the plugin.
 *
 * Thread-safety: every call is thread-safe except that one stream must not
 * be enqueued to from two threads at once without external ordering (the
 * result would be correct but the order undefined), and an object must not
 * be released while another thread still uses it.
 */
#ifndef XHAL_H_
#define XHAL_H_

#include <xhal/xhal_handles.h>
#include <xhal/xhal_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Wait forever. */
#define XHAL_TIMEOUT_INFINITE UINT64_MAX

/* ---------------------------------------------------------------- status */

/* A static string naming `status` ("XHAL_ERROR_OUT_OF_RANGE"); never NULL. */
XHAL_API const char* xhal_status_name(xhal_status_t status);

/* The message of the last failing xhal call on this thread ("" if none).
 * Valid until the next failing call on this thread. */
XHAL_API const char* xhal_last_error(void);

/* Version of the ABI libxhal speaks. */
XHAL_API void xhal_abi_version(uint32_t* out_major, uint32_t* out_minor);

/* -------------------------------------------------------------- instance */

/* Options for xhal_instance_create. Start from
 * xhal_instance_options_default(). */
typedef struct xhal_instance_options {
  uint32_t struct_size;
  /* Explicit plugin files (absolute paths; no NULL or empty entry). When
   * non-empty they are the only plugins considered: search_dirs must be
   * empty, and neither XHAL_PLUGIN_PATH nor the default directories are
   * searched. Only XHAL_PLUGINS, the user's own explicit list, replaces
   * them (unless ignore_environment). */
  const char* const* plugin_paths;
  uint32_t plugin_path_count;
  /* Directories searched first, before XHAL_PLUGIN_PATH and the default
   * directories (absolute paths; no NULL or empty entry); must be empty
   * when plugin_paths is not. Order: docs/framework-guide.md. */
  const char* const* search_dirs;
  uint32_t search_dir_count;
  /* 1: the options alone configure the instance (tests, sandboxes): no
   * XHAL_* variable is read (XHAL_PLUGINS, XHAL_PLUGIN_PATH, XHAL_LOG,
   * XHAL_VALIDATION, XHAL_TRACE, XHAL_ALLOW_INSECURE_PLUGINS; each one
   * set is named in a warning) and the default directories are not
   * searched: only plugin_paths or search_dirs are considered. */
  uint32_t ignore_environment;
  /* 1: enable the validation layer (also XHAL_VALIDATION=1): misuse such
   * as stale handles, double releases, unordered cross-stream access and
   * leaks is reported as XHAL_ERROR_VALIDATION (docs/reliability.md). */
  uint32_t validation;
  /* Log threshold (XHAL_LOG_*); XHAL_LOG (error, warn, info or debug)
   * overrides it. */
  xhal_log_level_t log_level;
  /* Chrome trace-event JSON output file, or NULL. A file named here that
   * cannot be opened fails xhal_instance_create (INVALID_ARGUMENT); when
   * NULL, XHAL_TRACE names the file, and if that cannot be opened the
   * instance logs a warning and runs untraced. */
  const char* trace_file;
} xhal_instance_options_t;

XHAL_API void xhal_instance_options_default(xhal_instance_options_t* options);

/* Creates an instance: discovers and loads plugins, opens their devices.
 * A plugin that fails to load is recorded (see xhal_instance_plugin_info)
 * and skipped; it is not an error. options may be NULL for defaults.
 * Returns XHAL_ERROR_INVALID_ARGUMENT (bad options), XHAL_ERROR_OUT_OF_MEMORY.
 * The caller releases the instance with xhal_instance_release. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_instance_create(
    const xhal_instance_options_t* options, xhal_instance_t* out_instance);
XHAL_API void xhal_instance_retain(xhal_instance_t instance);
/* Drops a reference; the last one unloads the plugins once every object
 * made from the instance is released. A release past the references the
 * program holds (create + retains), or of a destroyed instance, is refused
 * and leaves XHAL_ERROR_INVALID_HANDLE in xhal_last_error(). */
XHAL_API void xhal_instance_release(xhal_instance_t instance);

typedef uint32_t xhal_plugin_state_t;
enum {
  XHAL_PLUGIN_STATE_LOADED = 1,
  XHAL_PLUGIN_STATE_REJECTED = 2,
};

/* One plugin the instance considered. */
typedef struct xhal_plugin_info {
  uint32_t struct_size;
  xhal_plugin_state_t state;
  xhal_status_t status; /* why it was rejected; XHAL_OK when loaded */
  uint32_t device_count;
  uint32_t abi_major;
  uint32_t abi_minor;
  char name[XHAL_NAME_MAX];
  char path[1024];
  char reason[512]; /* "" when loaded */
} xhal_plugin_info_t;

XHAL_API XHAL_MUST_USE xhal_status_t
xhal_instance_plugin_count(xhal_instance_t instance, uint32_t* out_count);
/* Returns XHAL_ERROR_OUT_OF_RANGE for an index past the count. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_instance_plugin_info(
    xhal_instance_t instance, uint32_t index, xhal_plugin_info_t* out_info);
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_instance_device_count(xhal_instance_t instance, uint32_t* out_count);
/* Borrowed device handle, valid while the instance lives. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_instance_device(
    xhal_instance_t instance, uint32_t index, xhal_device_t* out_device);

/* ---------------------------------------------------------------- device */

XHAL_API XHAL_MUST_USE xhal_status_t xhal_device_properties(
    xhal_device_t device, xhal_device_properties_t* out_props);
/* Index of the device's plugin in xhal_instance_plugin_info order. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_device_plugin_index(xhal_device_t device, uint32_t* out_index);
/* Name of the device's plugin ("cpu"); static for the instance's life. */
XHAL_API const char* xhal_device_plugin_name(xhal_device_t device);
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_device_instance(xhal_device_t device, xhal_instance_t* out_instance);

/* ---------------------------------------------------------------- buffer */

/* Allocates `size` bytes of device memory with XHAL_MEMORY_* flags.
 * Returns XHAL_ERROR_INVALID_ARGUMENT (size 0, unknown flags),
 * XHAL_ERROR_OUT_OF_RANGE (size past max_alloc_bytes),
 * XHAL_ERROR_UNSUPPORTED (HOST_VISIBLE without the capability),
 * XHAL_ERROR_OUT_OF_MEMORY. The caller releases the buffer. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_buffer_alloc(xhal_device_t device, uint64_t size, uint32_t memory_flags,
                  xhal_buffer_t* out_buffer);
/* A view of [offset, offset+size) of `buffer`, sharing its memory and
 * keeping it alive. Returns XHAL_ERROR_OUT_OF_RANGE past the end. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_buffer_subrange(xhal_buffer_t buffer, uint64_t offset, uint64_t size,
                     xhal_buffer_t* out_view);
XHAL_API void xhal_buffer_retain(xhal_buffer_t buffer);
XHAL_API void xhal_buffer_release(xhal_buffer_t buffer);
XHAL_API XHAL_MUST_USE xhal_status_t xhal_buffer_size(xhal_buffer_t buffer,
                                                      uint64_t* out_size);
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_buffer_device(xhal_buffer_t buffer, xhal_device_t* out_device);
/* Maps [offset, offset+size) of a host-visible buffer. The caller must
 * have synchronised the streams that write it. Returns
 * XHAL_ERROR_UNSUPPORTED (not host-visible), XHAL_ERROR_OUT_OF_RANGE. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_buffer_map(xhal_buffer_t buffer,
                                                     uint64_t offset,
                                                     uint64_t size,
                                                     uint32_t map_flags,
                                                     void** out_ptr);
/* Returns XHAL_ERROR_INVALID_STATE if `ptr` is not a live mapping. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_buffer_unmap(xhal_buffer_t buffer,
                                                       void* ptr);

/* ----------------------------------------------------------- host memory */

/* Allocates `size` bytes of host memory for transfers with `device`. The
 * host reads and writes it directly; on a device that claims
 * XHAL_CAP_HOST_ALLOC it comes from the plugin (page-locked on a discrete
 * GPU), so xhal_stream_enqueue_write/_read on the device's streams move it
 * without the driver's staging copy. On other devices it is ordinary
 * page-aligned host memory. Either way it is at least 64-byte aligned,
 * works as the source or destination of any device's transfers, and is
 * freed with xhal_host_free on the same device; what is left when the
 * instance goes is freed then (with a warning in the log). Returns
 * XHAL_ERROR_INVALID_ARGUMENT (out_ptr NULL, size 0),
 * XHAL_ERROR_OUT_OF_RANGE (size past max_alloc_bytes on a device with
 * XHAL_CAP_HOST_ALLOC, or past what the host can address),
 * XHAL_ERROR_OUT_OF_MEMORY. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_host_alloc(xhal_device_t device,
                                                     uint64_t size,
                                                     void** out_ptr);
/* Frees an allocation of xhal_host_alloc on `device`; NULL is a no-op. No
 * write or read that uses the memory may be pending. Returns
 * XHAL_ERROR_INVALID_ARGUMENT when `ptr` is not a live allocation of this
 * device (another device's, freed already, or never allocated); nothing
 * is freed then. */
XHAL_API xhal_status_t xhal_host_free(xhal_device_t device, void* ptr);

/* ---------------------------------------------------------------- stream */

/* Creates an in-order stream on `device`; the caller releases it. Release
 * waits for the stream's enqueued work. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_create(xhal_device_t device, xhal_stream_t* out_stream);
/* The same with XHAL_STREAM_* flags. XHAL_STREAM_NO_TIMING: the program
 * reads no elapsed times from this stream's events, so a device that can
 * (XHAL_CAP_STREAM_NO_TIMING) skips per-command timestamps, which makes
 * each launch cheaper; xhal_event_elapsed on an event last recorded here
 * returns XHAL_ERROR_UNSUPPORTED on every device. Unknown bits:
 * XHAL_ERROR_INVALID_ARGUMENT. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_create_with_flags(
    xhal_device_t device, uint32_t flags, xhal_stream_t* out_stream);
XHAL_API void xhal_stream_retain(xhal_stream_t stream);
XHAL_API void xhal_stream_release(xhal_stream_t stream);
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_device(xhal_stream_t stream, xhal_device_t* out_device);

/* Transfers of 0 bytes (write, read, copy, fill with size 0) are valid
 * and do nothing: after the same argument checks as any other size
 * (handles, non-NULL host pointers, offsets at most the buffer's size,
 * fill pattern rules) they return XHAL_OK without enqueueing anything,
 * so they neither order nor wait for other work. */

/* Host -> device. `src` must stay valid and unchanged until the write
 * completes (synchronize the stream or wait on a later event).
 * Returns XHAL_ERROR_OUT_OF_RANGE past the buffer's end. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_enqueue_write(xhal_stream_t stream, xhal_buffer_t dst,
                          uint64_t dst_offset, const void* src, uint64_t size);
/* Device -> host; `dst` is written once the read completes. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_enqueue_read(xhal_stream_t stream, xhal_buffer_t src,
                         uint64_t src_offset, void* dst, uint64_t size);
/* Device -> device, in `stream` order. The buffers may live on any
 * devices of any plugins, neither of them necessarily the stream's. When
 * one buffer is on the stream's device and the other on a device of the
 * same plugin with XHAL_CAP_PEER_COPY (or both on the stream's device),
 * the copy is enqueued like any other work. Otherwise the HAL copies
 * before the call returns: it waits for the stream's earlier work (and
 * so for the events the stream waits on), then copies on the buffers'
 * devices, through host memory where no peer path exists, so the
 * stream's later work sees the result. Work of other streams that
 * writes `src` or uses `dst` must be ordered before the copy through the
 * stream (xhal_stream_wait_event). */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_copy(
    xhal_stream_t stream, xhal_buffer_t src, uint64_t src_offset,
    xhal_buffer_t dst, uint64_t dst_offset, uint64_t size);
/* Fills with a 1, 2 or 4 byte pattern; size must be a multiple of it. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_fill(
    xhal_stream_t stream, xhal_buffer_t dst, uint64_t offset, uint64_t size,
    const void* pattern, uint32_t pattern_size);
/* Runs fn(user_data) on a host thread in stream order. A non-OK return
 * fails the stream; a value that is not an xhal_status_t fails it with
 * XHAL_ERROR_EXECUTION_FAILED (the message names the value). On devices
 * without XHAL_CAP_HOST_FUNC the call waits for the stream and runs fn
 * before it returns.
 * Inside fn, the whole API may be called (enqueue on any stream, its own
 * included: with XHAL_CAP_HOST_FUNC that work runs after fn; without, fn
 * runs in place and what it enqueues may start before fn returns),
 * except what would wait for fn's own
 * stream to pass fn: xhal_stream_synchronize of that stream, a waiting
 * xhal_event_wait on an event recorded on it after fn was enqueued, a
 * copy staged through host memory on it, and xhal_stream_wait_event on a
 * device that waits on the host. These return XHAL_ERROR_INVALID_STATE;
 * releasing the stream's last reference is refused (logged, the stream
 * stays). Waits on other streams are the program's to keep acyclic. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_host_func(
    xhal_stream_t stream, xhal_host_func_t fn, void* user_data);
/* Submits batched work without waiting. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_flush(xhal_stream_t stream);
/* Waits for all enqueued work. Returns XHAL_OK or the status the stream
 * failed with (a failed stream stays failed: its later work is skipped);
 * XHAL_ERROR_INVALID_STATE from a host function of `stream` itself. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_synchronize(xhal_stream_t stream);

/* ----------------------------------------------------------------- event */

/* Creates an unrecorded event on `device`; the caller releases it. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_event_create(xhal_device_t device,
                                                       xhal_event_t* out_event);
XHAL_API void xhal_event_retain(xhal_event_t event);
XHAL_API void xhal_event_release(xhal_event_t event);
/* Captures the work enqueued on `stream` so far; the stream must be on the
 * event's device (else XHAL_ERROR_INVALID_ARGUMENT). Recording again
 * replaces the point for later waits only: a wait already enqueued keeps
 * the record that preceded it. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_record_event(xhal_stream_t stream, xhal_event_t event);
/* Later work of `stream` waits for `event`, which may belong to any device
 * of any plugin. The wait binds to the event's latest record at this call,
 * even if the event is recorded again before `stream` reaches the wait. A
 * failed event fails the stream. Returns XHAL_ERROR_INVALID_STATE if the
 * event was never recorded. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_wait_event(xhal_stream_t stream, xhal_event_t event);
/* Blocks until the event's latest record completes or `timeout_ns` passes.
 * Returns XHAL_OK, XHAL_ERROR_TIMEOUT, XHAL_ERROR_INVALID_STATE (never
 * recorded, or, with a timeout other than 0, called from a host function
 * of the stream the event was last recorded on after that host function)
 * or the failure status of the captured work. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_event_wait(xhal_event_t event,
                                                     uint64_t timeout_ns);
/* XHAL_OK (complete), XHAL_ERROR_NOT_READY, XHAL_ERROR_INVALID_STATE, or the
 * failure status. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_event_query(xhal_event_t event);
/* Device time between two completed events of one device, in ns. Returns
 * XHAL_ERROR_UNSUPPORTED without XHAL_CAP_PROFILING. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_event_elapsed(xhal_event_t start,
                                                        xhal_event_t end,
                                                        uint64_t* out_ns);

/* ------------------------------------------------- programs and kernels */

/* Program build request; start from xhal_program_desc_default(). */
typedef struct xhal_program_desc {
  uint32_t struct_size;
  xhal_kernel_language_t language;
  const char* source;
  uint64_t source_size; /* 0: source is NUL-terminated */
  const char* options;  /* compiler options, may be NULL */
  char* log;            /* receives the build log, may be NULL */
  uint64_t log_capacity;
} xhal_program_desc_t;

XHAL_API void xhal_program_desc_default(xhal_program_desc_t* desc);
/* Builds a program for `device`. Returns XHAL_ERROR_UNSUPPORTED (no such
 * language on the device), XHAL_ERROR_BUILD_FAILED (log filled in). */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_program_build(xhal_device_t device, const xhal_program_desc_t* desc,
                   xhal_program_t* out_program);
XHAL_API void xhal_program_release(xhal_program_t program);
/* Returns XHAL_ERROR_NOT_FOUND for an unknown kernel name. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_kernel_create(
    xhal_program_t program, const char* name, xhal_kernel_t* out_kernel);
XHAL_API void xhal_kernel_release(xhal_kernel_t kernel);

/* One kernel argument at launch. */
typedef struct xhal_kernel_arg {
  xhal_kernel_arg_kind_t kind;
  uint32_t size;        /* scalar or local bytes */
  const void* value;    /* scalar bytes, copied during the call */
  xhal_buffer_t buffer; /* buffer args: the whole buffer or a subrange */
} xhal_kernel_arg_t;

XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_kernel(
    xhal_stream_t stream, xhal_kernel_t kernel, const xhal_launch_t* launch,
    const xhal_kernel_arg_t* args, uint32_t num_args);

/* ------------------------------------------------------- kernel registry */

/* One tensor operand: shape + dtype, and where its data lives. */
typedef struct xhal_tensor {
  xhal_tensor_desc_t desc;
  xhal_buffer_t buffer; /* NULL in lookups */
  uint64_t offset;      /* byte offset of element 0 */
} xhal_tensor_t;

/* One operator invocation (docs/ops.md gives operands per op). */
typedef struct xhal_op_call {
  uint32_t struct_size;
  xhal_op_t op;
  uint32_t num_inputs;
  uint32_t num_outputs;
  xhal_tensor_t inputs[XHAL_MAX_OP_INPUTS];
  xhal_tensor_t outputs[XHAL_MAX_OP_OUTPUTS];
  xhal_op_attrs_t attrs;
} xhal_op_call_t;

/* Zeroes `call` and sets op, struct_size and default attrs. */
XHAL_API void xhal_op_call_init(xhal_op_call_t* call, xhal_op_t op);

/* Checks a call against the catalog (operand count, dtypes, shapes,
 * attrs). Returns XHAL_ERROR_NOT_FOUND (unknown op), XHAL_ERROR_DTYPE_MISMATCH,
 * XHAL_ERROR_SHAPE_MISMATCH, XHAL_ERROR_INVALID_ARGUMENT. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_op_validate(const xhal_op_call_t* call);

/* A framework-side implementation: enqueues the operator on `stream` using
 * the public API (host funcs, custom kernels, other ops). */
typedef struct xhal_op_impl_desc {
  uint32_t struct_size;
  xhal_op_t op;
  xhal_device_t device; /* NULL: every device */
  int32_t priority;
  uint32_t num_dtypes;
  xhal_dtype_t dtypes[XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS];
  const char* name; /* copied */
  void* user_data;
  /* Optional: XHAL_OK if the call is taken, XHAL_ERROR_UNSUPPORTED not. */
  xhal_status_t (*supports)(void* user_data, xhal_device_t device,
                            const xhal_op_call_t* call);
  xhal_status_t (*enqueue)(void* user_data, xhal_stream_t stream,
                           const xhal_op_call_t* call);
  /* ABI 1.4, optional: the limits supports() applies, as data (see
   * xhal_op_limits_t; copied). A desc whose struct_size ends before this
   * field (built against 1.0-1.3) is accepted and has no limits. */
  const xhal_op_limits_t* limits;
} xhal_op_impl_desc_t;

/* Registers an implementation; it lives as long as the instance. For a
 * catalog operator the dtypes are its inputs' then its output's, and
 * must be one of the operator's signatures in docs/ops.md. Returns
 * XHAL_ERROR_INVALID_ARGUMENT (NULL desc, enqueue or name, unknown
 * dtypes, a dtype count outside 1..5 or outside the operator's input
 * count plus the output, op id unknown and below XHAL_OP_CUSTOM_BASE,
 * malformed limits: see docs/framework-guide.md section 6),
 * XHAL_ERROR_DTYPE_MISMATCH (a signature the catalog does not have, as
 * xhal_op_validate answers a call with those dtypes; the message names
 * the operand). out_impl is optional: with NULL the implementation is
 * registered all the same, and lookups find it. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_registry_register(
    xhal_instance_t instance, const xhal_op_impl_desc_t* desc,
    xhal_op_impl_t* out_impl);

/* The highest-priority implementation on `device` that matches the call's
 * dtypes and supports it. Buffers in `call` may be NULL. Returns
 * XHAL_ERROR_NOT_FOUND when none does. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_registry_lookup(
    xhal_device_t device, const xhal_op_call_t* call, xhal_op_impl_t* out_impl);

/* The first device in `preference` with an implementation for the call,
 * then, if none, the first CPU device of the instance (the fallback).
 * Returns XHAL_ERROR_NOT_FOUND when no device can run it. */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_registry_select(xhal_instance_t instance, const xhal_op_call_t* call,
                     const xhal_device_t* preference, uint32_t preference_count,
                     xhal_device_t* out_device, xhal_op_impl_t* out_impl);

/* What an implementation is. */
typedef struct xhal_op_impl_info {
  uint32_t struct_size;
  xhal_op_t op;
  int32_t priority;
  uint32_t from_plugin; /* 1: registered by a plugin, 0: by the framework */
  xhal_device_t device; /* NULL: every device */
  char name[XHAL_NAME_MAX];
} xhal_op_impl_info_t;

XHAL_API XHAL_MUST_USE xhal_status_t
xhal_op_impl_info(xhal_op_impl_t impl, xhal_op_impl_info_t* out_info);

/* ------------------------------------------- what a device supports */

/* A static name for a catalog operator id ("matmul"), or NULL for an id
 * the catalog does not define (custom ids included). */
XHAL_API const char* xhal_op_name(xhal_op_t op);

/* Lists every implementation the registry holds for `device` (the
 * plugin's, and the framework's for this device or for every device), in
 * the order xhal_registry_lookup tries them: by operator id, then by
 * priority, highest first (among equal priorities the latest registered
 * first). Writes min(capacity, total) handles to out_impls and the total
 * to *out_count: call with capacity 0 (out_impls may then be NULL) to
 * size the array. The handles live as long as the instance; read each
 * with xhal_op_impl_support. Implementations registered later are not in
 * a list taken earlier. Whether one implementation takes one concrete
 * call (its supports() predicate) is xhal_registry_lookup's answer.
 * Returns XHAL_ERROR_INVALID_HANDLE (device),
 * XHAL_ERROR_INVALID_ARGUMENT (out_count NULL, or out_impls NULL with a
 * capacity above 0). */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_registry_list(xhal_device_t device, uint32_t capacity,
                   xhal_op_impl_t* out_impls, uint32_t* out_count);

/* What an implementation takes: operator, dtype signature, priority and
 * the limits it declared. The caller sets struct_size (to
 * sizeof(xhal_op_support_t)); libxhal writes no byte past it, so the
 * record can grow at a minor version. */
typedef struct xhal_op_support {
  uint32_t struct_size;
  xhal_op_t op;
  int32_t priority;
  uint32_t from_plugin; /* 1: registered by a plugin, 0: by the framework */
  /* The dtype signature: input dtypes, then the output's (the last one).
   * An optional input (a bias) absent from a call does not count. */
  uint32_t num_dtypes;
  xhal_dtype_t dtypes[XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS];
  /* 1: a supports() predicate decides per call; `limits` says what it
   * checks as far as the implementation declared it, and
   * xhal_registry_lookup answers for one call. 0: every call of the
   * signature that the catalog allows is taken. */
  uint32_t has_supports;
  /* 1: the implementation declared its limits (a record with flags 0
   * declares that it takes every call of its signature); 0: it did not
   * say, and `limits` is all zero. */
  uint32_t has_limits;
  xhal_op_limits_t limits;
  char name[XHAL_NAME_MAX];
} xhal_op_support_t;

/* Fills `out_support` for `impl`. Returns XHAL_ERROR_INVALID_HANDLE
 * (impl), XHAL_ERROR_INVALID_ARGUMENT (out_support NULL, or its
 * struct_size below the ABI 1.4 size of the record). */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_op_impl_support(xhal_op_impl_t impl, xhal_op_support_t* out_support);

/* Enqueues an operator. impl may be NULL: the registry picks the best on
 * the stream's device. Every buffer must be on the stream's device.
 * Validates the call first (see xhal_op_validate); returns
 * XHAL_ERROR_NOT_FOUND when no implementation takes it. */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_op(
    xhal_stream_t stream, xhal_op_impl_t impl, const xhal_op_call_t* call);

#ifdef __cplusplus
}
#endif

/* The stream-ordered memory pool (xhal_pool_*). */
#include <xhal/xhal_pool.h>

#endif /* XHAL_H_ */
