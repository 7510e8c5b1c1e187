/**
 * @file
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

/** Wait forever. */
#define XHAL_TIMEOUT_INFINITE UINT64_MAX

/* ---------------------------------------------------------------- status */

/**
 * A static string naming `status` ("XHAL_ERROR_OUT_OF_RANGE"), or
 * "XHAL_ERROR_UNKNOWN" for a value outside xhal_status_t; never NULL.
 * Ownership: the string is static; the caller never frees it.
 * Thread-safety: thread-safe. Lifetime: valid for the life of the process.
 * @return the name; this call cannot fail.
 */
XHAL_API const char* xhal_status_name(xhal_status_t status);

/**
 * The message of the last failing xhal call on the calling thread ("" if
 * none): the status name, then what failed, which argument, object and
 * plugin.
 * Ownership: the string belongs to libxhal's per-thread record.
 * Thread-safety: thread-safe; each thread sees its own message.
 * Lifetime: valid until the next failing xhal call on this thread.
 * @return the message; this call cannot fail.
 */
XHAL_API const char* xhal_last_error(void);

/**
 * Stores the ABI version libxhal speaks in `*out_major` / `*out_minor`.
 * Ownership: the outputs are the caller's; either may be NULL (not written).
 * Thread-safety: thread-safe. Lifetime: no object is involved.
 * Returns nothing; this call cannot fail.
 */
XHAL_API void xhal_abi_version(uint32_t* out_major, uint32_t* out_minor);

/* -------------------------------------------------------------- instance */

/** Options for xhal_instance_create. Start from
 * xhal_instance_options_default(). */
typedef struct xhal_instance_options {
  uint32_t struct_size; /**< sizeof the caller's record; set by
                           xhal_instance_options_default */
  /** Explicit plugin files (absolute paths; no NULL or empty entry). When
   * non-empty they are the only plugins considered: search_dirs must be
   * empty, and neither XHAL_PLUGIN_PATH nor the default directories are
   * searched. Only XHAL_PLUGINS, the user's own explicit list, replaces
   * them (unless ignore_environment). */
  const char* const* plugin_paths;
  uint32_t plugin_path_count; /**< entries in plugin_paths */
  /** Directories searched first, before XHAL_PLUGIN_PATH and the default
   * directories (absolute paths; no NULL or empty entry); must be empty
   * when plugin_paths is not. Order: docs/framework-guide.md. */
  const char* const* search_dirs;
  uint32_t search_dir_count; /**< entries in search_dirs */
  /** 1: the options alone configure the instance (tests, sandboxes): no
   * XHAL_* variable is read (XHAL_PLUGINS, XHAL_PLUGIN_PATH, XHAL_LOG,
   * XHAL_VALIDATION, XHAL_TRACE, XHAL_ALLOW_INSECURE_PLUGINS; each one
   * set is named in a warning) and the default directories are not
   * searched: only plugin_paths or search_dirs are considered. */
  uint32_t ignore_environment;
  /** 1: enable the validation layer (also XHAL_VALIDATION=1): misuse such
   * as stale handles, double releases, unordered cross-stream access and
   * leaks is reported as XHAL_ERROR_VALIDATION (docs/reliability.md). */
  uint32_t validation;
  /** Log threshold (XHAL_LOG_*); XHAL_LOG (error, warn, info or debug)
   * overrides it. */
  xhal_log_level_t log_level;
  /** Chrome trace-event JSON output file, or NULL. A file named here that
   * cannot be opened fails xhal_instance_create (INVALID_ARGUMENT); when
   * NULL, XHAL_TRACE names the file, and if that cannot be opened the
   * instance logs a warning and runs untraced. */
  const char* trace_file;
} xhal_instance_options_t;

/**
 * Fills `options` with the defaults: struct_size set, no plugin paths or
 * search directories, environment read, validation off, XHAL_LOG_WARN, no
 * trace file. NULL is ignored.
 * Ownership: `options` is the caller's record, written in full.
 * Thread-safety: thread-safe. Lifetime: no object is involved.
 * Returns nothing; this call cannot fail.
 */
XHAL_API void xhal_instance_options_default(xhal_instance_options_t* options);

/**
 * Creates an instance: discovers and loads plugins, opens their devices.
 * A plugin that fails to load is recorded (see xhal_instance_plugin_info)
 * and skipped; that is not an error. `options` may be NULL for the
 * defaults; a record from an older header is read up to its struct_size,
 * with defaults past it.
 * Ownership: `options` and the strings it points to are borrowed for the
 * call; the caller owns the one reference in `*out_instance` and drops it
 * with xhal_instance_release.
 * Thread-safety: thread-safe; instances share no state.
 * Lifetime: the instance lives until its last reference is dropped and
 * every object made from it is released.
 * @return XHAL_OK; XHAL_ERROR_INVALID_ARGUMENT (out_instance NULL, bad
 * options, struct_size below the 1.0 size, a trace file that cannot be
 * opened); XHAL_ERROR_OUT_OF_MEMORY. On failure `*out_instance` is NULL.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_instance_create(
    const xhal_instance_options_t* options, xhal_instance_t* out_instance);
/**
 * Adds a reference to `instance`.
 * Ownership: the caller owns the new reference.
 * Thread-safety: thread-safe (atomic count).
 * Lifetime: the instance lives while any reference or object holds it.
 * Returns nothing; a NULL or stale handle is ignored.
 */
XHAL_API void xhal_instance_retain(xhal_instance_t instance);
/**
 * Drops a reference; the last one unloads the plugins once every object
 * made from the instance is released. release(NULL) is a no-op.
 * Ownership: consumes one of the caller's references.
 * Thread-safety: thread-safe; no other thread may use the reference
 * dropped.
 * Lifetime: devices and registry implementations die with the instance.
 * Returns nothing; a release past the references the program holds, or of
 * a destroyed instance, is refused and leaves XHAL_ERROR_INVALID_HANDLE in
 * xhal_last_error().
 */
XHAL_API void xhal_instance_release(xhal_instance_t instance);

/** Whether a plugin the instance considered was loaded (XHAL_PLUGIN_STATE_*).
 */
typedef uint32_t xhal_plugin_state_t;
enum {
  XHAL_PLUGIN_STATE_LOADED = 1,
  XHAL_PLUGIN_STATE_REJECTED = 2,
};

/** One plugin the instance considered. */
typedef struct xhal_plugin_info {
  uint32_t struct_size; /**< set by the caller to its sizeof; libxhal sets the
                           bytes it wrote */
  xhal_plugin_state_t state; /**< XHAL_PLUGIN_STATE_* */
  xhal_status_t status;      /**< why it was rejected; XHAL_OK when loaded */
  uint32_t device_count;     /**< devices it opened (0 when rejected) */
  uint32_t abi_major; /**< ABI major version of its table (0 when unknown) */
  uint32_t abi_minor; /**< ABI minor version of its table (0 when unknown) */
  char name[XHAL_NAME_MAX]; /**< the table's name, or the file name when
                               rejected early */
  char path[1024];          /**< the file considered */
  char reason[512];         /**< "" when loaded */
} xhal_plugin_info_t;

/**
 * Stores in `*out_count` how many plugins the instance considered,
 * loaded and rejected.
 * Ownership: `instance` is borrowed; `*out_count` is the caller's.
 * Thread-safety: thread-safe. Lifetime: fixed for the instance's life.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (instance);
 * XHAL_ERROR_INVALID_ARGUMENT (out_count NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_instance_plugin_count(xhal_instance_t instance, uint32_t* out_count);
/**
 * Copies what the instance knows of plugin `index` into `*out_info`:
 * state, status and reason of a rejection, name, path, ABI, devices.
 * Set out_info->struct_size to sizeof(xhal_plugin_info_t) first: libxhal
 * writes no byte past it and sets it to the bytes written.
 * Ownership: `instance` is borrowed; `*out_info` is the caller's record.
 * Thread-safety: thread-safe. Lifetime: the record is a copy.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (instance);
 * XHAL_ERROR_INVALID_ARGUMENT (out_info NULL); XHAL_ERROR_OUT_OF_RANGE
 * (index past the count).
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_instance_plugin_info(
    xhal_instance_t instance, uint32_t index, xhal_plugin_info_t* out_info);
/**
 * Stores in `*out_count` the number of devices of all loaded plugins.
 * Ownership: `instance` is borrowed; `*out_count` is the caller's.
 * Thread-safety: thread-safe. Lifetime: fixed for the instance's life.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (instance);
 * XHAL_ERROR_INVALID_ARGUMENT (out_count NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_instance_device_count(xhal_instance_t instance, uint32_t* out_count);
/**
 * Stores device `index` in `*out_device`.
 * Ownership: the device handle is borrowed from the instance; it is never
 * released.
 * Thread-safety: thread-safe.
 * Lifetime: valid while the instance lives.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (instance);
 * XHAL_ERROR_INVALID_ARGUMENT (out_device NULL); XHAL_ERROR_OUT_OF_RANGE
 * (index past the count).
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_instance_device(
    xhal_instance_t instance, uint32_t index, xhal_device_t* out_device);

/* ---------------------------------------------------------------- device */

/**
 * Copies the device's properties into `*out_props`. Set
 * out_props->struct_size to sizeof(xhal_device_properties_t) first:
 * libxhal writes no byte past it and sets it to the bytes written (a value
 * below the ABI 1.0 size counts as the 1.0 size).
 * Ownership: `device` is borrowed; `*out_props` is the caller's record.
 * Thread-safety: thread-safe. Lifetime: the record is a copy; properties
 * never change while the instance lives.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_props NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_device_properties(
    xhal_device_t device, xhal_device_properties_t* out_props);
/**
 * Stores the index of the device's plugin, in xhal_instance_plugin_info
 * order, in `*out_index`.
 * Ownership: `device` is borrowed; `*out_index` is the caller's.
 * Thread-safety: thread-safe. Lifetime: fixed for the instance's life.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_index NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_device_plugin_index(xhal_device_t device, uint32_t* out_index);
/**
 * The name of the device's plugin ("cpu"), or "" for a bad handle.
 * Ownership: the string belongs to the instance; never freed by the caller.
 * Thread-safety: thread-safe.
 * Lifetime: valid while the instance lives.
 * @return the name; a bad handle gives "" and sets xhal_last_error().
 */
XHAL_API const char* xhal_device_plugin_name(xhal_device_t device);
/**
 * Stores the device's instance in `*out_instance`.
 * Ownership: borrowed: no reference is added (xhal_instance_retain adds
 * one).
 * Thread-safety: thread-safe. Lifetime: the instance outlives its devices.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_instance NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_device_instance(xhal_device_t device, xhal_instance_t* out_instance);

/* ---------------------------------------------------------------- buffer */

/**
 * Allocates `size` bytes of device memory with XHAL_MEMORY_* flags.
 * Ownership: the caller owns the one reference in `*out_buffer` and drops
 * it with xhal_buffer_release; `device` is borrowed.
 * Thread-safety: thread-safe; no lock other devices need is held while the
 * plugin allocates.
 * Lifetime: the buffer keeps its device's instance alive; its memory is
 * freed when the last reference (views included) is dropped.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_buffer NULL, size 0, unknown flags);
 * XHAL_ERROR_OUT_OF_RANGE (size past max_alloc_bytes);
 * XHAL_ERROR_UNSUPPORTED (HOST_VISIBLE without the capability);
 * XHAL_ERROR_OUT_OF_MEMORY; XHAL_ERROR_DEVICE_LOST.
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_buffer_alloc(xhal_device_t device, uint64_t size, uint32_t memory_flags,
                  xhal_buffer_t* out_buffer);
/**
 * Creates a view of [offset, offset+size) of `buffer`, sharing its memory.
 * Ownership: the caller owns the one reference in `*out_view`; the view
 * holds a reference to the allocation it views.
 * Thread-safety: thread-safe.
 * Lifetime: the memory lives while the buffer or any view of it does.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (buffer);
 * XHAL_ERROR_INVALID_ARGUMENT (out_view NULL, size 0);
 * XHAL_ERROR_OUT_OF_RANGE (past the end, or offset + size overflows).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_buffer_subrange(xhal_buffer_t buffer, uint64_t offset, uint64_t size,
                     xhal_buffer_t* out_view);
/**
 * Adds a reference to `buffer`.
 * Ownership: the caller owns the new reference.
 * Thread-safety: thread-safe (atomic count).
 * Lifetime: the buffer lives while any reference or view holds it.
 * Returns nothing; a NULL or stale handle is ignored.
 */
XHAL_API void xhal_buffer_retain(xhal_buffer_t buffer);
/**
 * Drops a reference; the last one frees the memory (after the allocation's
 * last view). release(NULL) is a no-op.
 * Ownership: consumes one of the caller's references.
 * Thread-safety: thread-safe; work still queued on the buffer must have
 * been waited for.
 * Lifetime: the handle is invalid once the caller's references are gone.
 * Returns nothing; a stale handle leaves XHAL_ERROR_INVALID_HANDLE (or, with
 * validation on, XHAL_ERROR_VALIDATION) in xhal_last_error().
 */
XHAL_API void xhal_buffer_release(xhal_buffer_t buffer);
/**
 * Stores the buffer's (or view's) size in bytes in `*out_size`.
 * Ownership: `buffer` is borrowed; `*out_size` is the caller's.
 * Thread-safety: thread-safe. Lifetime: fixed for the buffer's life.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (buffer);
 * XHAL_ERROR_INVALID_ARGUMENT (out_size NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_buffer_size(xhal_buffer_t buffer,
                                                      uint64_t* out_size);
/**
 * Stores the buffer's device in `*out_device`.
 * Ownership: the device handle is borrowed from the instance.
 * Thread-safety: thread-safe. Lifetime: valid while the instance lives.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (buffer);
 * XHAL_ERROR_INVALID_ARGUMENT (out_device NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_buffer_device(xhal_buffer_t buffer, xhal_device_t* out_device);
/**
 * Maps [offset, offset+size) of a host-visible buffer and stores the host
 * address in `*out_ptr`. The caller must have synchronised the streams
 * that write it. At most eight mappings of one allocation are live.
 * Ownership: the mapping belongs to the buffer; end it with
 * xhal_buffer_unmap.
 * Thread-safety: thread-safe; the plugin is called without any lock that
 * other devices or threads need.
 * Lifetime: the address is valid until xhal_buffer_unmap.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (buffer);
 * XHAL_ERROR_INVALID_ARGUMENT (out_ptr NULL, map_flags not READ and/or
 * WRITE); XHAL_ERROR_OUT_OF_RANGE; XHAL_ERROR_UNSUPPORTED (not
 * host-visible); XHAL_ERROR_INVALID_STATE (eight mappings live);
 * XHAL_ERROR_DEVICE_LOST; a plugin's failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_buffer_map(xhal_buffer_t buffer,
                                                     uint64_t offset,
                                                     uint64_t size,
                                                     uint32_t map_flags,
                                                     void** out_ptr);
/**
 * Ends the mapping at `ptr` (an address xhal_buffer_map returned for this
 * buffer or a view of its allocation).
 * Ownership: `ptr` is invalid afterwards.
 * Thread-safety: thread-safe; a mapping is unmapped once (a second unmap is
 * refused).
 * Lifetime: ends the mapping's life.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (buffer);
 * XHAL_ERROR_INVALID_ARGUMENT (ptr NULL); XHAL_ERROR_INVALID_STATE (not a
 * live mapping); a plugin's failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_buffer_unmap(xhal_buffer_t buffer,
                                                       void* ptr);

/* ----------------------------------------------------------- host memory */

/**
 * Allocates `size` bytes of host memory for transfers with `device`. The
 * host reads and writes it directly; on a device that claims
 * XHAL_CAP_HOST_ALLOC it comes from the plugin (page-locked on a discrete
 * GPU), so xhal_stream_enqueue_write/_read on the device's streams move it
 * without the driver's staging copy. On other devices it is ordinary
 * page-aligned host memory. Either way it is at least 64-byte aligned and
 * works as the source or destination of any device's transfers.
 * Ownership: the caller owns the memory and frees it with xhal_host_free
 * on the same device.
 * Thread-safety: thread-safe.
 * Lifetime: what is left when the instance goes is freed then (with a
 * warning in the log).
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_ptr NULL, size 0);
 * XHAL_ERROR_OUT_OF_RANGE (size past max_alloc_bytes on a device with
 * XHAL_CAP_HOST_ALLOC, or past what the host can address);
 * XHAL_ERROR_OUT_OF_MEMORY.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_host_alloc(xhal_device_t device,
                                                     uint64_t size,
                                                     void** out_ptr);
/**
 * Frees an allocation of xhal_host_alloc on `device`; NULL is a no-op.
 * No write or read that uses the memory may be pending.
 * Ownership: takes the memory back from the caller.
 * Thread-safety: thread-safe.
 * Lifetime: `ptr` is invalid afterwards.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT when `ptr` is not a live allocation of this
 * device (another device's, freed already, or never allocated): nothing
 * is freed then.
 */
XHAL_API xhal_status_t xhal_host_free(xhal_device_t device, void* ptr);

/* ---------------------------------------------------------------- stream */

/**
 * Creates an in-order stream on `device`.
 * Ownership: the caller owns the one reference in `*out_stream`; `device`
 * is borrowed.
 * Thread-safety: thread-safe.
 * Lifetime: release waits for the stream's enqueued work; the stream keeps
 * its device's instance alive.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_stream NULL); XHAL_ERROR_OUT_OF_MEMORY;
 * XHAL_ERROR_DEVICE_LOST.
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_create(xhal_device_t device, xhal_stream_t* out_stream);
/**
 * Creates a stream as xhal_stream_create does, with XHAL_STREAM_* flags.
 * XHAL_STREAM_NO_TIMING: the program reads no elapsed times from this
 * stream's events, so a device that can (XHAL_CAP_STREAM_NO_TIMING) skips
 * per-command timestamps, which makes each launch cheaper;
 * xhal_event_elapsed on an event last recorded here returns
 * XHAL_ERROR_UNSUPPORTED on every device.
 * Ownership, thread-safety and lifetime: as xhal_stream_create.
 * @return as xhal_stream_create, and XHAL_ERROR_INVALID_ARGUMENT for
 * unknown flag bits.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_create_with_flags(
    xhal_device_t device, uint32_t flags, xhal_stream_t* out_stream);
/**
 * Adds a reference to `stream`.
 * Ownership: the caller owns the new reference.
 * Thread-safety: thread-safe (atomic count).
 * Lifetime: the stream lives while any reference holds it.
 * Returns nothing; a NULL or stale handle is ignored.
 */
XHAL_API void xhal_stream_retain(xhal_stream_t stream);
/**
 * Drops a reference; the last one waits for the stream's enqueued work
 * and destroys it. release(NULL) is a no-op.
 * Ownership: consumes one of the caller's references.
 * Thread-safety: thread-safe; no other thread may enqueue through the
 * reference dropped.
 * Lifetime: the handle is invalid once the caller's references are gone.
 * Returns nothing; a stale handle leaves XHAL_ERROR_INVALID_HANDLE (or, with
 * validation on, XHAL_ERROR_VALIDATION) in xhal_last_error().
 */
XHAL_API void xhal_stream_release(xhal_stream_t stream);
/**
 * Stores the stream's device in `*out_device`.
 * Ownership: the device handle is borrowed from the instance.
 * Thread-safety: thread-safe. Lifetime: valid while the instance lives.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream);
 * XHAL_ERROR_INVALID_ARGUMENT (out_device NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_device(xhal_stream_t stream, xhal_device_t* out_device);

/* Transfers of 0 bytes (write, read, copy, fill with size 0) are valid
 * and do nothing: after the same argument checks as any other size
 * (handles, non-NULL host pointers, offsets at most the buffer's size,
 * fill pattern rules) they return XHAL_OK without enqueueing anything,
 * so they neither order nor wait for other work. */

/**
 * Enqueues a host -> device copy of `size` bytes from `src` to `dst` at
 * `dst_offset`. A size of 0 enqueues nothing.
 * Ownership: `src` stays the caller's and must stay valid and unchanged
 * until the write completes (synchronize the stream or wait on a later
 * event); `dst` is borrowed and must stay alive until then.
 * Thread-safety: thread-safe; calls on one stream are applied in the order
 * the caller makes them.
 * Lifetime: the operation completes in stream order.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream, dst);
 * XHAL_ERROR_INVALID_ARGUMENT (src NULL with a size, a buffer of another
 * device); XHAL_ERROR_OUT_OF_RANGE (past the buffer's end);
 * XHAL_ERROR_DEVICE_LOST; a plugin's failure status. Failures during
 * execution are reported by xhal_stream_synchronize.
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_enqueue_write(xhal_stream_t stream, xhal_buffer_t dst,
                          uint64_t dst_offset, const void* src, uint64_t size);
/**
 * Enqueues a device -> host copy of `size` bytes from `src` at
 * `src_offset` to `dst`; `dst` is written once the read completes.
 * Ownership: `dst` stays the caller's and must stay valid until the read
 * completes; `src` is borrowed and must stay alive until then.
 * Thread-safety: as xhal_stream_enqueue_write.
 * Lifetime: the operation completes in stream order.
 * @return as xhal_stream_enqueue_write (dst NULL with a size:
 * XHAL_ERROR_INVALID_ARGUMENT).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_enqueue_read(xhal_stream_t stream, xhal_buffer_t src,
                         uint64_t src_offset, void* dst, uint64_t size);
/**
 * Enqueues a device -> device copy, in `stream` order. The buffers may
 * live on any devices of any plugins, neither of them necessarily the
 * stream's. When one buffer is on the stream's device and the other on a
 * device of the same plugin with XHAL_CAP_PEER_COPY (or both on the
 * stream's device), the copy is enqueued like any other work. Otherwise
 * the HAL copies before the call returns: it waits for the stream's
 * earlier work (and so for the events the stream waits on), then copies on
 * the buffers' devices, through host memory where no peer path exists, so
 * the stream's later work sees the result. Work of other streams that
 * writes `src` or uses `dst` must be ordered before the copy through the
 * stream (xhal_stream_wait_event).
 * Ownership: both buffers are borrowed and must stay alive until the copy
 * completes.
 * Thread-safety: as xhal_stream_enqueue_write.
 * Lifetime: the operation completes in stream order.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream, src, dst);
 * XHAL_ERROR_INVALID_ARGUMENT; XHAL_ERROR_OUT_OF_RANGE;
 * XHAL_ERROR_OUT_OF_MEMORY (staging); XHAL_ERROR_DEVICE_LOST; a plugin's
 * failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_copy(
    xhal_stream_t stream, xhal_buffer_t src, uint64_t src_offset,
    xhal_buffer_t dst, uint64_t dst_offset, uint64_t size);
/**
 * Enqueues a fill of [offset, offset+size) of `dst` with a 1, 2 or 4 byte
 * pattern; size must be a multiple of pattern_size.
 * Ownership: `pattern` is copied during the call; `dst` is borrowed and
 * must stay alive until the fill completes.
 * Thread-safety: as xhal_stream_enqueue_write.
 * Lifetime: the operation completes in stream order.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream, dst);
 * XHAL_ERROR_INVALID_ARGUMENT (pattern NULL, pattern_size not 1, 2 or 4,
 * size not a multiple of it); XHAL_ERROR_OUT_OF_RANGE;
 * XHAL_ERROR_DEVICE_LOST; a plugin's failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_fill(
    xhal_stream_t stream, xhal_buffer_t dst, uint64_t offset, uint64_t size,
    const void* pattern, uint32_t pattern_size);
/**
 * Runs fn(user_data) on a host thread in stream order. A status other than
 * XHAL_OK fails the stream (a value outside xhal_status_t counts as
 * XHAL_ERROR_EXECUTION_FAILED). On devices without XHAL_CAP_HOST_FUNC the
 * call waits for the stream and runs fn before it returns.
 * Inside fn, the whole API may be called (enqueue on any stream, its own
 * included: with XHAL_CAP_HOST_FUNC that work runs after fn; without, fn
 * runs in place and what it enqueues may start before fn returns), except
 * what would wait for fn's own stream to pass fn: xhal_stream_synchronize
 * of that stream, a waiting xhal_event_wait on an event recorded on it
 * after fn was enqueued, a copy staged through host memory on it, and
 * xhal_stream_wait_event on a device that waits on the host. These return
 * XHAL_ERROR_INVALID_STATE; releasing the stream's last reference is
 * refused (logged, the stream stays). Waits on other streams are the
 * program's to keep acyclic.
 * Ownership: `user_data` stays the caller's; it must stay valid until fn
 * has run.
 * Thread-safety: as xhal_stream_enqueue_write; fn runs on a thread of the
 * plugin (or the caller's) and must not wait for the stream it runs on.
 * Lifetime: fn runs once, unless the stream failed before it.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream);
 * XHAL_ERROR_INVALID_ARGUMENT (fn NULL); XHAL_ERROR_DEVICE_LOST; fn's
 * status when it runs synchronously; a plugin's failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_host_func(
    xhal_stream_t stream, xhal_host_func_t fn, void* user_data);
/**
 * Submits batched work to the device without waiting.
 * Ownership: `stream` is borrowed.
 * Thread-safety: thread-safe.
 * Lifetime: no object changes hands.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream);
 * XHAL_ERROR_DEVICE_LOST; a plugin's failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_flush(xhal_stream_t stream);
/**
 * Waits for all work enqueued on `stream` so far. A failed stream stays
 * failed (its later work is skipped) and keeps reporting its first
 * failure: xhal_last_error() names the failed command or operation, the
 * device, the plugin and the plugin's message.
 * Ownership: `stream` is borrowed.
 * Thread-safety: thread-safe; any thread may wait on any stream.
 * Lifetime: host memory and buffers used by the completed work are free
 * for the caller again.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream);
 * XHAL_ERROR_INVALID_STATE from a host function of `stream` itself; the
 * failure status of the stream's work (XHAL_ERROR_EXECUTION_FAILED,
 * XHAL_ERROR_DEVICE_LOST, a host function's status).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_synchronize(xhal_stream_t stream);

/* ----------------------------------------------------------------- event */

/**
 * Creates an unrecorded event on `device`.
 * Ownership: the caller owns the one reference in `*out_event`.
 * Thread-safety: thread-safe.
 * Lifetime: the event keeps its device's instance alive.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_event NULL); XHAL_ERROR_OUT_OF_MEMORY;
 * XHAL_ERROR_DEVICE_LOST.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_event_create(xhal_device_t device,
                                                       xhal_event_t* out_event);
/**
 * Adds a reference to `event`.
 * Ownership: the caller owns the new reference.
 * Thread-safety: thread-safe (atomic count).
 * Lifetime: the event lives while any reference holds it.
 * Returns nothing; a NULL or stale handle is ignored.
 */
XHAL_API void xhal_event_retain(xhal_event_t event);
/**
 * Drops a reference; the last one destroys the event (a stream waiting on
 * it still sees it complete). release(NULL) is a no-op.
 * Ownership: consumes one of the caller's references.
 * Thread-safety: thread-safe; no other thread may use the reference
 * dropped.
 * Lifetime: the handle is invalid once the caller's references are gone.
 * Returns nothing; a stale handle leaves XHAL_ERROR_INVALID_HANDLE (or, with
 * validation on, XHAL_ERROR_VALIDATION) in xhal_last_error().
 */
XHAL_API void xhal_event_release(xhal_event_t event);
/**
 * Captures the work enqueued on `stream` so far in `event`. Recording
 * again replaces the point for later waits only: a wait already enqueued
 * keeps the record that preceded it. The stream must be on the event's
 * device.
 * Ownership: both handles are borrowed.
 * Thread-safety: thread-safe; record and wait of one event must not race.
 * Lifetime: the event completes when the captured work has.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream, event);
 * XHAL_ERROR_INVALID_ARGUMENT (a stream of another device);
 * XHAL_ERROR_DEVICE_LOST; a plugin's failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_record_event(xhal_stream_t stream, xhal_event_t event);
/**
 * Makes later work of `stream` wait for `event`, which may belong to any
 * device of any plugin. A failed event fails the stream.
 * Ownership: both handles are borrowed; the event may be released after
 * the call.
 * Thread-safety: thread-safe.
 * Lifetime: the wait binds to the event's latest record at this call, even
 * if the event is recorded again before `stream` reaches the wait.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream, event);
 * XHAL_ERROR_INVALID_STATE (never recorded); XHAL_ERROR_OUT_OF_MEMORY;
 * XHAL_ERROR_DEVICE_LOST; a plugin's failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_stream_wait_event(xhal_stream_t stream, xhal_event_t event);
/**
 * Blocks until the event's latest record completes or `timeout_ns` passes
 * (XHAL_TIMEOUT_INFINITE: forever). On failed work, xhal_last_error() names
 * the first failure's command or operation, the device, the plugin and the
 * plugin's message, on every call until the event is recorded again.
 * Ownership: `event` is borrowed.
 * Thread-safety: thread-safe; several threads may wait on one event.
 * Lifetime: no object changes hands.
 * @return XHAL_OK; XHAL_ERROR_TIMEOUT (the work goes on);
 * XHAL_ERROR_INVALID_HANDLE (event); XHAL_ERROR_INVALID_STATE (never
 * recorded, or, with a timeout other than 0, called from a host function
 * of the stream the event was last recorded on after that host function); the
 * failure status of the captured work.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_event_wait(xhal_event_t event,
                                                     uint64_t timeout_ns);
/**
 * Reports whether the event has completed, without waiting.
 * Ownership: `event` is borrowed.
 * Thread-safety: thread-safe.
 * Lifetime: no object changes hands.
 * @return XHAL_OK (complete); XHAL_ERROR_NOT_READY;
 * XHAL_ERROR_INVALID_HANDLE (event); XHAL_ERROR_INVALID_STATE (never
 * recorded); the failure status of the captured work, with its cause as
 * xhal_event_wait gives it.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_event_query(xhal_event_t event);
/**
 * Stores the device time between two completed events of one device, in
 * ns, in `*out_ns`.
 * Ownership: both events are borrowed; `*out_ns` is the caller's.
 * Thread-safety: thread-safe.
 * Lifetime: no object changes hands.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (start, end);
 * XHAL_ERROR_INVALID_ARGUMENT (out_ns NULL, events of two devices);
 * XHAL_ERROR_INVALID_STATE (never recorded); XHAL_ERROR_NOT_READY;
 * XHAL_ERROR_UNSUPPORTED (no XHAL_CAP_PROFILING, or an event last recorded
 * on an XHAL_STREAM_NO_TIMING stream); a plugin's failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_event_elapsed(xhal_event_t start,
                                                        xhal_event_t end,
                                                        uint64_t* out_ns);

/* ------------------------------------------------- programs and kernels */

/** Program build request; start from xhal_program_desc_default(). */
typedef struct xhal_program_desc {
  uint32_t struct_size;            /**< sizeof the caller's record; set by
                                      xhal_program_desc_default */
  xhal_kernel_language_t language; /**< XHAL_KERNEL_LANGUAGE_* */
  const char* source;    /**< the program text, borrowed for the call */
  uint64_t source_size;  /**< 0: source is NUL-terminated */
  const char* options;   /**< compiler options, may be NULL */
  char* log;             /**< receives the build log, may be NULL */
  uint64_t log_capacity; /**< bytes at log */
} xhal_program_desc_t;

/**
 * Fills `desc` with the defaults: struct_size set, OpenCL C, no source,
 * options or log. NULL is ignored.
 * Ownership: `desc` is the caller's record, written in full.
 * Thread-safety: thread-safe. Lifetime: no object is involved.
 * Returns nothing; this call cannot fail.
 */
XHAL_API void xhal_program_desc_default(xhal_program_desc_t* desc);
/**
 * Builds a program for `device` from `desc`'s source; a record from an
 * older header is read up to its struct_size, with defaults past it.
 * Ownership: `desc` and its strings are borrowed for the call; the build
 * log is written into desc->log (NUL-terminated, truncated to fit); the
 * caller owns the one reference in `*out_program`.
 * Thread-safety: thread-safe.
 * Lifetime: the program keeps its device's instance alive.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_program or desc NULL, struct_size below
 * the 1.0 size, source NULL); XHAL_ERROR_UNSUPPORTED (no such language on
 * the device); XHAL_ERROR_BUILD_FAILED (log filled in);
 * XHAL_ERROR_OUT_OF_MEMORY; XHAL_ERROR_DEVICE_LOST.
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_program_build(xhal_device_t device, const xhal_program_desc_t* desc,
                   xhal_program_t* out_program);
/**
 * Drops the caller's reference to `program`; the program goes once its
 * kernels are released too. release(NULL) is a no-op.
 * Ownership: consumes the caller's reference.
 * Thread-safety: thread-safe.
 * Lifetime: kernels created from it keep it alive.
 * Returns nothing; a stale handle leaves XHAL_ERROR_INVALID_HANDLE in
 * xhal_last_error().
 */
XHAL_API void xhal_program_release(xhal_program_t program);
/**
 * Looks up kernel `name` in `program`.
 * Ownership: `name` is borrowed for the call; the caller owns the one
 * reference in `*out_kernel`, which keeps the program alive.
 * Thread-safety: thread-safe.
 * Lifetime: until xhal_kernel_release.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (program);
 * XHAL_ERROR_INVALID_ARGUMENT (name or out_kernel NULL);
 * XHAL_ERROR_NOT_FOUND (no kernel of that name); XHAL_ERROR_OUT_OF_MEMORY.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_kernel_create(
    xhal_program_t program, const char* name, xhal_kernel_t* out_kernel);
/**
 * Drops the caller's reference to `kernel`. release(NULL) is a no-op.
 * Ownership: consumes the caller's reference.
 * Thread-safety: thread-safe; launches already enqueued are unaffected.
 * Lifetime: the kernel's program goes with its last kernel and reference.
 * Returns nothing; a stale handle leaves XHAL_ERROR_INVALID_HANDLE in
 * xhal_last_error().
 */
XHAL_API void xhal_kernel_release(xhal_kernel_t kernel);

/** One kernel argument at launch. */
typedef struct xhal_kernel_arg {
  xhal_kernel_arg_kind_t kind; /**< XHAL_KERNEL_ARG_* */
  uint32_t size;               /**< scalar or local bytes */
  const void* value;           /**< scalar bytes, copied during the call */
  xhal_buffer_t buffer; /**< buffer args: the whole buffer or a subrange */
} xhal_kernel_arg_t;

/**
 * Enqueues a launch of `kernel` with `launch`'s geometry and `num_args`
 * arguments, passed at launch (no stateful set-arg calls).
 * Ownership: `launch`, `args` and scalar values are copied during the
 * call; buffers named by the arguments are borrowed and must stay alive
 * until the launch completes.
 * Thread-safety: as xhal_stream_enqueue_write; one kernel may be launched
 * from several threads at once.
 * Lifetime: the operation completes in stream order.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream, kernel, a buffer
 * argument); XHAL_ERROR_INVALID_ARGUMENT (a kernel of another device,
 * launch NULL or below its 1.0 size, bad geometry, more than 64 arguments,
 * an argument kind unknown); XHAL_ERROR_OUT_OF_RANGE;
 * XHAL_ERROR_UNSUPPORTED; XHAL_ERROR_DEVICE_LOST; a plugin's failure
 * status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_kernel(
    xhal_stream_t stream, xhal_kernel_t kernel, const xhal_launch_t* launch,
    const xhal_kernel_arg_t* args, uint32_t num_args);

/* ------------------------------------------------------- kernel registry */

/** One tensor operand: shape + dtype, and where its data lives. */
typedef struct xhal_tensor {
  xhal_tensor_desc_t desc; /**< shape and dtype */
  xhal_buffer_t buffer;    /**< NULL in lookups */
  uint64_t offset;         /**< byte offset of element 0 */
} xhal_tensor_t;

/** One operator invocation (docs/ops.md gives operands per op). */
typedef struct xhal_op_call {
  uint32_t
      struct_size; /**< sizeof the caller's record; set by xhal_op_call_init */
  xhal_op_t op; /**< catalog id, or a framework id from XHAL_OP_CUSTOM_BASE */
  uint32_t num_inputs;                      /**< operands used in inputs */
  uint32_t num_outputs;                     /**< operands used in outputs (1) */
  xhal_tensor_t inputs[XHAL_MAX_OP_INPUTS]; /**< input operands */
  xhal_tensor_t outputs[XHAL_MAX_OP_OUTPUTS]; /**< output operands */
  xhal_op_attrs_t attrs; /**< attributes (docs/ops.md per op) */
} xhal_op_call_t;

/**
 * Zeroes `call` and sets op, struct_size, one output and default attrs.
 * NULL is ignored.
 * Ownership: `call` is the caller's record, written in full.
 * Thread-safety: thread-safe. Lifetime: no object is involved.
 * Returns nothing; this call cannot fail.
 */
XHAL_API void xhal_op_call_init(xhal_op_call_t* call, xhal_op_t op);

/**
 * Checks a call against the catalog (operand count, dtypes, shapes,
 * attrs); buffers are not looked at.
 * Ownership: `call` is borrowed for the call.
 * Thread-safety: thread-safe. Lifetime: no object is involved.
 * @return XHAL_OK; XHAL_ERROR_INVALID_ARGUMENT (call NULL, struct_size
 * below the 1.0 size, bad counts or attrs); XHAL_ERROR_NOT_FOUND (unknown
 * op); XHAL_ERROR_DTYPE_MISMATCH; XHAL_ERROR_SHAPE_MISMATCH.
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_op_validate(const xhal_op_call_t* call);

/** A framework-side implementation: enqueues the operator on `stream` using
 * the public API (host funcs, custom kernels, other ops). */
typedef struct xhal_op_impl_desc {
  uint32_t struct_size; /**< sizeof the caller's record */
  xhal_op_t op;         /**< the operator implemented */
  xhal_device_t device; /**< NULL: every device */
  int32_t priority;     /**< higher wins among matching implementations */
  uint32_t num_dtypes;  /**< entries used in dtypes */
  xhal_dtype_t dtypes[XHAL_MAX_OP_INPUTS +
                      XHAL_MAX_OP_OUTPUTS]; /**< signature: input dtypes, then
                                               the output's */
  const char* name;                         /**< copied */
  void* user_data; /**< first argument of the callbacks */
  /** Optional: XHAL_OK if the call is taken, XHAL_ERROR_UNSUPPORTED not. */
  xhal_status_t (*supports)(void* user_data, xhal_device_t device,
                            const xhal_op_call_t* call);
  /** Enqueues the operator on `stream` through the public API; required.
   * Called from the thread that enqueues the call. */
  xhal_status_t (*enqueue)(void* user_data, xhal_stream_t stream,
                           const xhal_op_call_t* call);
  /** ABI 1.4, optional: the limits supports() applies, as data (see
   * xhal_op_limits_t; copied). A desc whose struct_size ends before this
   * field (built against 1.0-1.3) is accepted and has no limits. */
  const xhal_op_limits_t* limits;
} xhal_op_impl_desc_t;

/**
 * Registers a framework implementation of an operator: its enqueue
 * callback enqueues the operator using the public API (host functions,
 * custom kernels, other ops). For a catalog operator the dtypes are its
 * inputs' then its output's, and must be one of the operator's signatures
 * in docs/ops.md.
 * Ownership: `desc` is copied (its name and limits too); `user_data`
 * stays the caller's and must live as long as the instance; `*out_impl`,
 * if out_impl is not NULL, is borrowed from the instance (with NULL the
 * implementation is registered all the same, and lookups find it).
 * Thread-safety: thread-safe; the callbacks may be called from any thread.
 * Lifetime: the implementation lives as long as the instance.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (instance, desc->device);
 * XHAL_ERROR_INVALID_ARGUMENT (desc NULL or below its 1.0 size, NULL
 * enqueue or name, unknown dtypes, a dtype count outside 1..5 or outside
 * the operator's input count plus the output, op id unknown and below
 * XHAL_OP_CUSTOM_BASE, malformed limits: see docs/framework-guide.md
 * section 6, a device of another instance); XHAL_ERROR_DTYPE_MISMATCH (a
 * signature the catalog does not have; the message names the operand);
 * XHAL_ERROR_OUT_OF_MEMORY.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_registry_register(
    xhal_instance_t instance, const xhal_op_impl_desc_t* desc,
    xhal_op_impl_t* out_impl);

/**
 * Finds the highest-priority implementation on `device` that matches the
 * call's dtypes and supports it. Buffers in `call` may be NULL.
 * Ownership: `call` is borrowed; `*out_impl` is borrowed from the instance.
 * Thread-safety: thread-safe.
 * Lifetime: the implementation lives as long as the instance.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_impl NULL, a bad call); the statuses of
 * xhal_op_validate; XHAL_ERROR_NOT_FOUND (no implementation takes it).
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_registry_lookup(
    xhal_device_t device, const xhal_op_call_t* call, xhal_op_impl_t* out_impl);

/**
 * Picks the first device in `preference` with an implementation for the
 * call, then, if none, the first CPU device of the instance (the
 * fallback).
 * Ownership: `call` and `preference` are borrowed; the outputs are
 * borrowed from the instance.
 * Thread-safety: thread-safe.
 * Lifetime: devices and implementations live as long as the instance.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (instance, a preference
 * entry); XHAL_ERROR_INVALID_ARGUMENT (NULL outputs, preference NULL with
 * a count, a device of another instance); the statuses of
 * xhal_op_validate; XHAL_ERROR_NOT_FOUND (no device can run it).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_registry_select(xhal_instance_t instance, const xhal_op_call_t* call,
                     const xhal_device_t* preference, uint32_t preference_count,
                     xhal_device_t* out_device, xhal_op_impl_t* out_impl);

/** What an implementation is. */
typedef struct xhal_op_impl_info {
  uint32_t struct_size; /**< set by the caller to its sizeof; libxhal sets the
                           bytes it wrote */
  xhal_op_t op;         /**< the operator implemented */
  int32_t priority;     /**< its priority */
  uint32_t from_plugin; /**< 1: registered by a plugin, 0: by the framework */
  xhal_device_t device; /**< NULL: every device */
  char name[XHAL_NAME_MAX]; /**< its name */
} xhal_op_impl_info_t;

/**
 * Describes an implementation in `*out_info`. Set out_info->struct_size
 * to sizeof(xhal_op_impl_info_t) first: libxhal writes no byte past it and
 * sets it to the bytes written.
 * Ownership: `impl` is borrowed; `*out_info` is the caller's record; its
 * device is borrowed from the instance.
 * Thread-safety: thread-safe. Lifetime: the record is a copy.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (impl);
 * XHAL_ERROR_INVALID_ARGUMENT (out_info NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_op_impl_info(xhal_op_impl_t impl, xhal_op_impl_info_t* out_info);

/* ------------------------------------------- what a device supports */

/**
 * A static name for a catalog operator id ("matmul"), or NULL for an id
 * the catalog does not define (custom ids included).
 * Ownership: the string is static; the caller never frees it.
 * Thread-safety: thread-safe. Lifetime: valid for the life of the process.
 * @return the name or NULL; this call cannot fail otherwise.
 */
XHAL_API const char* xhal_op_name(xhal_op_t op);

/**
 * Lists every implementation the registry holds for `device` (the
 * plugin's, and the framework's for this device or for every device), in
 * the order xhal_registry_lookup tries them: by operator id, then by
 * priority, highest first (among equal priorities the latest registered
 * first). Writes min(capacity, total) handles to out_impls and the total
 * to *out_count: call with capacity 0 (out_impls may then be NULL) to
 * size the array. Whether one implementation takes one concrete call (its
 * supports() predicate) is xhal_registry_lookup's answer.
 * Ownership: `out_impls` and `*out_count` are the caller's; the handles
 * are borrowed from the instance; read each with xhal_op_impl_support.
 * Thread-safety: thread-safe; implementations registered later are not in
 * a list taken earlier.
 * Lifetime: the handles live as long as the instance.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_count NULL, or out_impls NULL with a
 * capacity above 0).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_registry_list(xhal_device_t device, uint32_t capacity,
                   xhal_op_impl_t* out_impls, uint32_t* out_count);

/** What an implementation takes: operator, dtype signature, priority and
 * the limits it declared. The caller sets struct_size (to
 * sizeof(xhal_op_support_t)); libxhal writes no byte past it, so the
 * record can grow at a minor version. */
typedef struct xhal_op_support {
  uint32_t struct_size; /**< set by the caller to its sizeof */
  xhal_op_t op;         /**< the operator implemented */
  int32_t priority;     /**< its priority */
  uint32_t from_plugin; /**< 1: registered by a plugin, 0: by the framework */
  /** The dtype signature: input dtypes, then the output's (the last one).
   * An optional input (a bias) absent from a call does not count. */
  uint32_t num_dtypes;
  xhal_dtype_t
      dtypes[XHAL_MAX_OP_INPUTS +
             XHAL_MAX_OP_OUTPUTS]; /**< input dtypes, then the output's */
  /** 1: a supports() predicate decides per call; `limits` says what it
   * checks as far as the implementation declared it, and
   * xhal_registry_lookup answers for one call. 0: every call of the
   * signature that the catalog allows is taken. */
  uint32_t has_supports;
  /** 1: the implementation declared its limits (a record with flags 0
   * declares that it takes every call of its signature); 0: it did not
   * say, and `limits` is all zero. */
  uint32_t has_limits;
  xhal_op_limits_t limits;  /**< the declared limits (see has_limits) */
  char name[XHAL_NAME_MAX]; /**< its name */
} xhal_op_support_t;

/**
 * Fills `out_support` with what `impl` takes: operator, dtype signature,
 * priority and the limits it declared. The caller sets struct_size (to
 * sizeof(xhal_op_support_t)); libxhal writes no byte past it.
 * Ownership: `impl` is borrowed; `*out_support` is the caller's record.
 * Thread-safety: thread-safe. Lifetime: the record is a copy.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (impl);
 * XHAL_ERROR_INVALID_ARGUMENT (out_support NULL, or its struct_size below
 * the ABI 1.4 size of the record).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_op_impl_support(xhal_op_impl_t impl, xhal_op_support_t* out_support);

/**
 * Enqueues an operator on `stream`. `impl` may be NULL: the registry picks
 * the best on the stream's device. Every buffer must be on the stream's
 * device; the call is validated first (see xhal_op_validate); a call whose
 * output has no elements completes at once.
 * Ownership: `call` is copied during the call; its buffers are borrowed
 * and must stay alive until the operator completes.
 * Thread-safety: as xhal_stream_enqueue_write.
 * Lifetime: the operation completes in stream order.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (stream, impl, a buffer); the
 * statuses of xhal_op_validate; XHAL_ERROR_OUT_OF_RANGE (a tensor past its
 * buffer); XHAL_ERROR_UNSUPPORTED (impl does not take the call);
 * XHAL_ERROR_NOT_FOUND (no implementation takes it);
 * XHAL_ERROR_DEVICE_LOST; the implementation's failure status.
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_stream_enqueue_op(
    xhal_stream_t stream, xhal_op_impl_t impl, const xhal_op_call_t* call);

#ifdef __cplusplus
}
#endif

/** The stream-ordered memory pool (xhal_pool_*). */
#include <xhal/xhal_pool.h>

#endif /* XHAL_H_ */
