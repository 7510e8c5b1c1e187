/**
 * @file
 * xhal_plugin.h - the plugin ABI: what a device plugin implements.
 *
 * A plugin is a shared library that exports exactly one symbol,
 * xhal_plugin_query(). The host (libxhal, or any program that loads plugins,
 * such as xhal-cts) calls it with the ABI version it speaks and receives the
 * plugin's dispatch table. Everything the plugin needs from the host (logging,
 * aligned allocation, registering operator implementations, reporting a lost
 * device or an error message) arrives through the host-services table passed
 * to init(). A plugin never links libxhal.
 *
 * Lifetime: query() may be called any number of times and must return the
 * same immutable table. init() creates one plugin context per host instance;
 * several contexts of one plugin may live side by side in one process and
 * must share no mutable state. Every other entry takes an object derived
 * from a context.
 *
 * Thread-safety required of a plugin (R-THR-*, docs/abi.md): every entry may
 * be called concurrently from several threads on different objects; entries
 * on one stream are serialised by the host; event wait/query may be called
 * from any thread at any time while the event lives.
 *
 * ABI rules (R-ABI-*): the major version must match; tables and structs only
 * grow by appending at a minor version; every table and crossing struct
 * starts with `uint32_t struct_size`; a NULL entry means "not implemented"
 * and the host answers XHAL_ERROR_UNSUPPORTED (or falls back) instead of
 * calling it.
 */
#ifndef XHAL_PLUGIN_H_
#define XHAL_PLUGIN_H_

#include <stddef.h>

#include <xhal/xhal_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Plugin-defined objects. The host treats them as opaque pointers. */
typedef struct xhal_plugin_context* xhal_plugin_context_t;
/** A device the plugin opened (device_open). */
typedef struct xhal_plugin_device* xhal_plugin_device_t;
/** Device memory the plugin allocated (buffer_alloc). */
typedef struct xhal_plugin_buffer* xhal_plugin_buffer_t;
/** A stream of the plugin (stream_create). */
typedef struct xhal_plugin_stream* xhal_plugin_stream_t;
/** An event of the plugin (event_create). */
typedef struct xhal_plugin_event* xhal_plugin_event_t;
/** A program the plugin built (program_build). */
typedef struct xhal_plugin_program* xhal_plugin_program_t;
/** A kernel of a program (kernel_create). */
typedef struct xhal_plugin_kernel* xhal_plugin_kernel_t;

/* ------------------------------------------------------ operator calls */

/** One tensor operand as the plugin sees it: its shape, the plugin buffer
 * that holds it and the byte offset of element 0 in that buffer. The host
 * has checked that offset + size lies inside the buffer. */
typedef struct xhal_plugin_tensor {
  xhal_tensor_desc_t desc; /**< shape and dtype */
  xhal_plugin_buffer_t
      buffer;      /**< the plugin buffer holding it (NULL in supports()) */
  uint64_t offset; /**< byte offset of element 0 in the buffer */
} xhal_plugin_tensor_t;

/** One operator invocation. The host has validated shapes and dtypes against
 * docs/ops.md before an implementation sees the call. In a supports() query
 * the buffers are NULL and offsets 0: only shapes, dtypes and attrs count. */
typedef struct xhal_plugin_op_call {
  uint32_t struct_size; /**< sizeof the host's record */
  xhal_op_t op;         /**< the operator */
  uint32_t num_inputs;  /**< operands used in inputs */
  uint32_t num_outputs; /**< operands used in outputs */
  xhal_plugin_tensor_t inputs[XHAL_MAX_OP_INPUTS];   /**< input operands */
  xhal_plugin_tensor_t outputs[XHAL_MAX_OP_OUTPUTS]; /**< output operands */
  xhal_op_attrs_t attrs; /**< attributes (docs/ops.md per op) */
} xhal_plugin_op_call_t;

/** An operator implementation a plugin registers with the host (through
 * xhal_host_services_t.register_op_impl, normally from init()). The host
 * copies the record; `name` must stay valid while the context lives. */
typedef struct xhal_plugin_op_impl {
  uint32_t struct_size; /**< sizeof the plugin's record */
  xhal_op_t op;         /**< the operator implemented */
  /** Plugin device index this implementation runs on, or
   * XHAL_PLUGIN_ALL_DEVICES. */
  uint32_t device_index;
  /** Higher wins among implementations that support a call. */
  int32_t priority;
  /** Dtype signature: input dtypes then output dtype. Entries past the
   * operator's operand count are XHAL_DTYPE_INVALID. An optional input
   * (a bias) that is absent in a call does not take part in matching. */
  uint32_t num_dtypes;
  xhal_dtype_t
      dtypes[XHAL_MAX_OP_INPUTS +
             XHAL_MAX_OP_OUTPUTS]; /**< input dtypes, then the output's */
  const char* name; /**< implementation name, valid while the context lives */
  void* user_data;  /**< first argument of the callbacks */
  /**
   * Optional: XHAL_OK if this implementation takes the call (shapes,
   * attrs), XHAL_ERROR_UNSUPPORTED otherwise. NULL = supports every call
   * matching the dtype signature. Must not block; `call` is borrowed for the
   * call. Thread-safety: called from any thread.
   * @return XHAL_OK or XHAL_ERROR_UNSUPPORTED.
   */
  xhal_status_t (*supports)(void* user_data, xhal_plugin_device_t device,
                            const xhal_plugin_op_call_t* call);
  /**
   * Enqueues the operator on `stream`, in stream order; `call` is read
   * during the call, its buffers borrowed until completion. Returns once the
   * work is enqueued; failures during execution fail the stream.
   * Thread-safety: serialised with the stream's other calls by the host.
   * @return XHAL_OK or the failure status, with a set_error message.
   */
  xhal_status_t (*enqueue)(void* user_data, xhal_plugin_stream_t stream,
                           const xhal_plugin_op_call_t* call);
  /** ABI 1.4, optional: what supports() takes, stated as data so that
   * frameworks can read it (xhal_registry_list, xhal-info); NULL when the
   * implementation has no limits beyond its signature or does not say.
   * The host copies the record during register_op_impl. A 1.0-1.3 host reads
   * the record only up to enqueue and never sees this field. */
  const xhal_op_limits_t* limits;
} xhal_plugin_op_impl_t;

/** Size of the ABI 1.0 record (up to `enqueue`): the smallest one a host
 * accepts. */
#define XHAL_PLUGIN_OP_IMPL_SIZE_1_0 72u

/** device_index of an implementation that runs on every device. */
#define XHAL_PLUGIN_ALL_DEVICES 0xFFFFFFFFu

/* ------------------------------------------------------ custom kernels */

/** One kernel argument, passed at launch (no stateful set-arg calls). */
typedef struct xhal_plugin_kernel_arg {
  xhal_kernel_arg_kind_t kind; /**< XHAL_KERNEL_ARG_* */
  uint32_t size;               /**< scalar or local size in bytes */
  const void* value;           /**< scalar bytes, read during the call only */
  xhal_plugin_buffer_t buffer; /**< buffer args */
  uint64_t offset;             /**< buffer args: byte offset of the range */
  uint64_t range;              /**< buffer args: byte size of the range */
} xhal_plugin_kernel_arg_t;

/** Program build request. */
typedef struct xhal_plugin_program_desc {
  uint32_t struct_size;            /**< sizeof the host's record */
  xhal_kernel_language_t language; /**< XHAL_KERNEL_LANGUAGE_* */
  const char* source;              /**< program text, read during the call */
  uint64_t source_size;            /**< bytes of source */
  const char* options;             /**< NUL-terminated, may be NULL */
  /** Where to write the build log (NUL-terminated, truncated to fit). */
  char* log;
  uint64_t log_capacity; /**< bytes at log (0: no log) */
} xhal_plugin_program_desc_t;

/* ------------------------------------------------------- host services */

/** What the host offers a plugin. Valid from init() until shutdown()
 * returns. Every entry is thread-safe. */
typedef struct xhal_host_services {
  uint32_t struct_size; /**< sizeof the host's table (may be larger) */
  uint32_t abi_minor;   /**< the minor version the host speaks */
  void* host_context;   /**< first argument of every entry below */
  /**
   * Logs `message` (copied during the call) at `level`.
   * Thread-safety: thread-safe. Cannot fail.
   */
  void (*log)(void* host_context, xhal_log_level_t level, const char* message);
  /**
   * Aligned host memory; alignment is a power of two. The plugin owns the
   * memory until free_aligned. Thread-safety: thread-safe.
   * @return the memory, or NULL on failure.
   */
  void* (*alloc_aligned)(void* host_context, uint64_t size, uint64_t alignment);
  /**
   * Frees memory of alloc_aligned; NULL is a no-op. Ownership: consumes
   * `ptr`. Thread-safety:
   * thread-safe. Cannot fail.
   */
  void (*free_aligned)(void* host_context, void* ptr);
  /**
   * Adds an implementation to the host's kernel registry. Ownership: the
   * host copies the record (`name` must stay valid while the context
   * lives).
   * Thread-safety: thread-safe (normally called from init).
   * @return XHAL_OK; XHAL_ERROR_INVALID_ARGUMENT (bad record or signature);
   * XHAL_ERROR_OUT_OF_MEMORY.
   */
  xhal_status_t (*register_op_impl)(void* host_context,
                                    const xhal_plugin_op_impl_t* impl);
  /**
   * Tells the host device `device_index` is lost (`reason` copied); later
   * calls on it fail with XHAL_ERROR_DEVICE_LOST. Thread-safety: thread-safe,
   * from any plugin thread. Cannot fail.
   */
  void (*report_device_lost)(void* host_context, uint32_t device_index,
                             const char* reason);
  /**
   * Sets the message (copied) that goes with the status the plugin is about
   * to return from the current entry, on the calling thread.
   * Thread-safety: thread-safe; per thread. Cannot fail.
   */
  void (*set_error)(void* host_context, xhal_status_t status,
                    const char* message);
} xhal_host_services_t;

/* -------------------------------------------------------- dispatch table */

/** The plugin's dispatch table. Entries marked [required] must be non-NULL
 * in ABI 1.0; the host rejects a plugin that leaves one NULL. Every other
 * entry may be NULL. Handles returned by an entry belong to the host until
 * it passes them back to the matching destroy entry. */
typedef struct xhal_plugin_dispatch {
  uint32_t struct_size; /**< sizeof the plugin's table, at least
                           XHAL_PLUGIN_DISPATCH_SIZE_1_0 */
  uint32_t abi_major;   /**< must equal XHAL_ABI_VERSION_MAJOR */
  uint32_t abi_minor;   /**< the minor version this table was built against */
  uint32_t reserved;    /**< 0 */
  const char* name;     /**< short plugin name, e.g. "cpu" */
  const char* version;  /**< plugin version string */

  /* -- context [required] */
  /**
   * [required] Creates one plugin context for a host instance.
   * Ownership: `host` is borrowed and stays valid until shutdown returns; the
   * context in `*out_context` belongs to the host until it passes it to
   * shutdown.
   * Thread-safety: may run concurrently with other contexts' entries;
   * contexts share no mutable state.
   * Lifetime: the context lives until shutdown.
   * @return XHAL_OK; any failure status with a set_error message (the host
   * rejects the plugin and records why).
   */
  xhal_status_t (*init)(const xhal_host_services_t* host,
                        xhal_plugin_context_t* out_context);
  /**
   * [required] Destroys a context: every object made from it has been
   * destroyed or closed by then; joins every thread and closes every
   * descriptor the context started. Ownership: consumes `context`.
   * Thread-safety: called once, with no other entry of the context running.
   * Lifetime: `host` may not be used afterwards. Cannot fail.
   */
  void (*shutdown)(xhal_plugin_context_t context);

  /* -- devices [required] */
  /**
   * [required] Stores the number of devices in `*out_count` (at least 1 to
   * be certified).
   * Ownership: `*out_count` is the host's. Thread-safety: thread-safe.
   * Lifetime: fixed for the context's life.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT.
   */
  xhal_status_t (*device_count)(xhal_plugin_context_t context,
                                uint32_t* out_count);
  /**
   * [required] Fills `*out_props` for device `index`, writing no byte past
   * the struct_size the host set in it (R-DEV-9).
   * Ownership: `*out_props` is the host's record. Thread-safety: thread-safe.
   * Lifetime: properties are stable for the context's life (R-DEV-6).
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_OUT_OF_RANGE (index past the count).
   */
  xhal_status_t (*device_properties)(xhal_plugin_context_t context,
                                     uint32_t index,
                                     xhal_device_properties_t* out_props);
  /**
   * [required] Opens device `index`. Ownership: the handle in `*out_device`
   * belongs to the host until device_close.
   * Thread-safety: thread-safe. Lifetime: until device_close; the index may
   * be opened again afterwards.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_OUT_OF_RANGE; XHAL_ERROR_OUT_OF_MEMORY;
   * XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*device_open)(xhal_plugin_context_t context, uint32_t index,
                               xhal_plugin_device_t* out_device);
  /**
   * [required] Closes a device; the host has destroyed its streams, events,
   * buffers, programs and host allocations first. Ownership: consumes
   * `device`. Thread-safety: no other entry on the device runs meanwhile.
   * Lifetime: the handle is invalid afterwards. Cannot fail.
   */
  void (*device_close)(xhal_plugin_device_t device);

  /* -- memory [required: alloc, free] */
  /**
   * [required] Allocates `size` bytes (1 and up) with XHAL_MEMORY_* flags.
   * Ownership: the handle in `*out_buffer` belongs to the host until
   * buffer_free.
   * Thread-safety: thread-safe; may block while the device reclaims memory.
   * Lifetime: until buffer_free.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT
   * (size 0, unknown flags); XHAL_ERROR_OUT_OF_RANGE (past max_alloc_bytes);
   * XHAL_ERROR_UNSUPPORTED; XHAL_ERROR_OUT_OF_MEMORY; XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*buffer_alloc)(xhal_plugin_device_t device, uint64_t size,
                                uint32_t memory_flags,
                                xhal_plugin_buffer_t* out_buffer);
  /**
   * [required] Frees a buffer. Work the plugin queued may still use it:
   * keep it alive from that work or wait here. Ownership: consumes `buffer`.
   * Thread-safety: thread-safe. Lifetime: the handle is invalid afterwards.
   * Cannot fail.
   */
  void (*buffer_free)(xhal_plugin_device_t device, xhal_plugin_buffer_t buffer);
  /**
   * [optional, with buffer_unmap; needed for XHAL_CAP_HOST_VISIBLE_MEMORY]
   * Maps [offset, offset+size) of a host-visible buffer. Ownership: the host
   * address in `*out_ptr` belongs to the mapping.
   * Thread-safety: thread-safe; the host calls it without holding locks
   * other devices need, so it may wait for the device.
   * Lifetime: the address is valid until buffer_unmap of it.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_OUT_OF_RANGE; XHAL_ERROR_UNSUPPORTED.
   */
  xhal_status_t (*buffer_map)(xhal_plugin_device_t device,
                              xhal_plugin_buffer_t buffer, uint64_t offset,
                              uint64_t size, uint32_t map_flags,
                              void** out_ptr);
  /**
   * [optional, with buffer_map] Ends the mapping at `ptr`.
   * Ownership: `ptr` is invalid afterwards. Thread-safety: thread-safe.
   * Lifetime: ends the mapping.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_STATE (not a
   * live mapping).
   */
  xhal_status_t (*buffer_unmap)(xhal_plugin_device_t device,
                                xhal_plugin_buffer_t buffer, void* ptr);

  /* -- streams [required: create, destroy, synchronize, write, read,
   *    copy, fill] */
  /**
   * [required] Creates an in-order stream with XHAL_STREAM_* flags (only
   * those the device claims; other bits: XHAL_ERROR_INVALID_ARGUMENT).
   * Ownership: the handle belongs to the host until stream_destroy.
   * Thread-safety: thread-safe. Lifetime: until stream_destroy.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_OUT_OF_MEMORY; XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*stream_create)(xhal_plugin_device_t device, uint32_t flags,
                                 xhal_plugin_stream_t* out_stream);
  /**
   * [required] Waits for the stream's enqueued work, then frees it.
   * Ownership: consumes `stream`. Thread-safety: no other entry on the stream
   * runs meanwhile. Lifetime: events recorded on it stay valid. Cannot fail.
   */
  void (*stream_destroy)(xhal_plugin_stream_t stream);
  /**
   * [optional] Submits batched work to the device without waiting.
   * Ownership: `stream` is borrowed. Thread-safety: calls on one stream are
   * serialised by the host. Lifetime: nothing changes hands.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*stream_flush)(xhal_plugin_stream_t stream);
  /**
   * [required] Blocks until all enqueued work completes. If any failed,
   * returns the first failure's status and sets, through set_error, its
   * cause: the failed command and why.
   * Ownership: `stream` is borrowed. Thread-safety: may be called from any
   * thread while another enqueues (the host serialises per stream).
   * Lifetime: host memory of completed transfers is the host's again.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; the stream's failure status.
   */
  xhal_status_t (*stream_synchronize)(xhal_plugin_stream_t stream);
  /**
   * [required] Enqueues a host -> device copy. `src` stays valid and
   * unchanged until the write completes in stream order.
   * Ownership: `src` and `dst` are borrowed until completion.
   * Thread-safety: calls on one stream are serialised by the host.
   * Lifetime: completes in stream order; failures there fail the stream.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_OUT_OF_RANGE; XHAL_ERROR_OUT_OF_MEMORY;
   * XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*enqueue_write)(xhal_plugin_stream_t stream,
                                 xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                 const void* src, uint64_t size);
  /**
   * [required] Enqueues a device -> host copy into `dst`, valid until the
   * read completes in stream order.
   * Ownership, thread-safety and lifetime: as enqueue_write.
   * @return as enqueue_write.
   */
  xhal_status_t (*enqueue_read)(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t src, uint64_t src_offset,
                                void* dst, uint64_t size);
  /**
   * [required] Enqueues a device -> device copy. Both buffers belong to the
   * stream's plugin; to different devices only when the device has
   * XHAL_CAP_PEER_COPY.
   * Ownership, thread-safety and lifetime: as enqueue_write.
   * @return as enqueue_write.
   */
  xhal_status_t (*enqueue_copy)(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t src, uint64_t src_offset,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                uint64_t size);
  /**
   * [required] Enqueues a fill repeating a 1, 2 or 4 byte pattern; size is a
   * multiple of pattern_size. `pattern` is read during the call only.
   * Ownership, thread-safety and lifetime: as enqueue_write.
   * @return as enqueue_write.
   */
  xhal_status_t (*enqueue_fill)(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t dst, uint64_t offset,
                                uint64_t size, const void* pattern,
                                uint32_t pattern_size);
  /**
   * [optional, with the program entries] Enqueues a kernel launch;
   * `launch`, `args` and scalar values are read during the call only.
   * Ownership: buffers in `args` are borrowed until completion.
   * Thread-safety: calls on one stream are serialised by the host; one
   * kernel may be launched on several streams at once.
   * Lifetime: completes in stream order.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_OUT_OF_RANGE; XHAL_ERROR_OUT_OF_MEMORY;
   * XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*enqueue_kernel)(xhal_plugin_stream_t stream,
                                  xhal_plugin_kernel_t kernel,
                                  const xhal_launch_t* launch,
                                  const xhal_plugin_kernel_arg_t* args,
                                  uint32_t num_args);
  /**
   * [optional; needed for XHAL_CAP_HOST_FUNC] Runs fn(user_data) on a
   * plugin thread once all earlier work of the stream completed; later work
   * starts after fn returns. fn may block (the host uses it to wait on
   * events of other plugins). A status other than XHAL_OK fails the stream.
   * Ownership: `user_data` is the host's.
   * Thread-safety: calls on one stream are serialised by the host.
   * Lifetime: fn runs once, unless the stream failed before it.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_OUT_OF_MEMORY; XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*enqueue_host_func)(xhal_plugin_stream_t stream,
                                     xhal_host_func_t fn, void* user_data);

  /* -- events [required: create, destroy, record, wait, query] */
  /**
   * [required] Creates an unrecorded event. Ownership: the handle belongs to
   * the host until event_destroy.
   * Thread-safety: thread-safe. Lifetime: until event_destroy.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_OUT_OF_MEMORY; XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*event_create)(xhal_plugin_device_t device,
                                xhal_plugin_event_t* out_event);
  /**
   * [required] Destroys an event; work that records or waits on it may
   * still be queued (keep it alive from there). Ownership: consumes `event`.
   * Thread-safety: no wait on it runs meanwhile. Cannot fail.
   */
  void (*event_destroy)(xhal_plugin_event_t event);
  /**
   * [required] Captures all work enqueued on `stream` so far; re-recording
   * replaces the captured point.
   * Ownership: both handles are borrowed. Thread-safety: serialised with the
   * stream's other calls by the host.
   * Lifetime: the event completes when the captured work has.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_OUT_OF_MEMORY;
   * XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*event_record)(xhal_plugin_event_t event,
                                xhal_plugin_stream_t stream);
  /**
   * [required] Blocks until the recorded work completes or timeout_ns
   * passes (UINT64_MAX: forever). On failed work, sets through set_error the
   * cause of the first failure of that work.
   * Ownership: `event` is borrowed. Thread-safety: may be called from any
   * thread at any time while the event lives.
   * Lifetime: nothing changes hands.
   * @return XHAL_OK; XHAL_ERROR_TIMEOUT; XHAL_ERROR_INVALID_STATE (never
   * recorded); the failure status the captured work ended with.
   */
  xhal_status_t (*event_wait)(xhal_plugin_event_t event, uint64_t timeout_ns);
  /**
   * [required] Reports completion without waiting; on failed work, sets the
   * cause as event_wait does.
   * Ownership, thread-safety and lifetime: as event_wait.
   * @return XHAL_OK when complete; XHAL_ERROR_NOT_READY while pending;
   * XHAL_ERROR_INVALID_STATE; the failure status.
   */
  xhal_status_t (*event_query)(xhal_plugin_event_t event);
  /**
   * [optional; needed for XHAL_CAP_PROFILING] Stores the device time from
   * `start` to `end` in nanoseconds in `*out_ns`.
   * Ownership: the events are borrowed. Thread-safety: thread-safe.
   * Lifetime: nothing changes hands.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_INVALID_STATE; XHAL_ERROR_NOT_READY; XHAL_ERROR_UNSUPPORTED
   * (an event of a stream without timing).
   */
  xhal_status_t (*event_elapsed)(xhal_plugin_event_t start,
                                 xhal_plugin_event_t end, uint64_t* out_ns);
  /**
   * [optional; the host falls back to enqueue_host_func] Makes later work
   * of `stream` wait for `event` (same plugin context). A failed event fails
   * the stream.
   * Ownership: both handles are borrowed; the event may be destroyed after
   * the call. Thread-safety: serialised with the stream's other calls.
   * Lifetime: binds to the event's current record.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_STATE;
   * XHAL_ERROR_OUT_OF_MEMORY; XHAL_ERROR_DEVICE_LOST.
   */
  xhal_status_t (*stream_wait_event)(xhal_plugin_stream_t stream,
                                     xhal_plugin_event_t event);

  /* -- programs (devices with a kernel language) */
  /**
   * [optional, with the other program entries] Builds a program from
   * `desc` (read during the call; the log is written into desc->log); the
   * handle belongs to the host until program_destroy.
   * Thread-safety: thread-safe. Lifetime: until program_destroy.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_UNSUPPORTED; XHAL_ERROR_BUILD_FAILED; XHAL_ERROR_OUT_OF_MEMORY.
   */
  xhal_status_t (*program_build)(xhal_plugin_device_t device,
                                 const xhal_plugin_program_desc_t* desc,
                                 xhal_plugin_program_t* out_program);
  /**
   * [optional, with program_build] Destroys a program after its kernels.
   * Ownership: consumes `program`. Thread-safety: thread-safe. Cannot fail.
   */
  void (*program_destroy)(xhal_plugin_program_t program);
  /**
   * [optional, with program_build] Looks up kernel `name`. Ownership:
   * `name` is read during the call; the handle belongs to the host until
   * kernel_destroy.
   * Thread-safety: thread-safe. Lifetime: until kernel_destroy.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_NOT_FOUND; XHAL_ERROR_OUT_OF_MEMORY.
   */
  xhal_status_t (*kernel_create)(xhal_plugin_program_t program,
                                 const char* name,
                                 xhal_plugin_kernel_t* out_kernel);
  /**
   * [optional, with program_build] Destroys a kernel; launches already
   * enqueued still run. Ownership: consumes `kernel`. Thread-safety:
   * thread-safe. Cannot fail.
   */
  void (*kernel_destroy)(xhal_plugin_kernel_t kernel);

  /* -- host memory (ABI 1.2) [optional: both or neither; a device that
   *    claims XHAL_CAP_HOST_ALLOC needs them]
   * host_alloc returns `size` bytes (size > 0) of host memory, aligned to
   * at least 64 bytes, that the host reads and writes directly and that
   * enqueue_write/enqueue_read of this device transfer from and to at the
   * device's full rate (page-locked memory on a discrete GPU). Live
   * allocations never overlap. The memory stays valid until host_free,
   * which the host calls for every allocation before device_close, never
   * while a transfer that uses it is pending, and never twice. */
  /**
   * [optional, ABI 1.2, with host_free; needed for XHAL_CAP_HOST_ALLOC]
   * Returns `size` bytes (size > 0) of host memory, aligned to at least 64
   * bytes, that the host reads and writes directly and that
   * enqueue_write/enqueue_read of this device transfer at the device's full
   * rate (page-locked memory on a discrete GPU). Live allocations never
   * overlap.
   * Ownership: the memory is the host's until host_free.
   * Thread-safety: thread-safe.
   * Lifetime: valid until host_free, which the host calls for every
   * allocation before device_close, never while a transfer that uses it is
   * pending, and never twice.
   * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE; XHAL_ERROR_INVALID_ARGUMENT;
   * XHAL_ERROR_OUT_OF_RANGE; XHAL_ERROR_OUT_OF_MEMORY.
   */
  xhal_status_t (*host_alloc)(xhal_plugin_device_t device, uint64_t size,
                              void** out_ptr);
  /**
   * [optional, with host_alloc] Frees memory of host_alloc.
   * Ownership: consumes `ptr`. Thread-safety: thread-safe. Cannot fail.
   */
  void (*host_free)(xhal_plugin_device_t device, void* ptr);
} xhal_plugin_dispatch_t;

/** Size of the ABI 1.0 table (also 1.1's): the smallest table a 1.x host
 * accepts. Entries past a plugin's struct_size are NULL to the host. */
#define XHAL_PLUGIN_DISPATCH_SIZE_1_0 280u
/** Size of the ABI 1.2 table, which added host_alloc and host_free. */
#define XHAL_PLUGIN_DISPATCH_SIZE_1_2 \
  ((uint32_t)(sizeof(xhal_plugin_dispatch_t)))

/** The one symbol a plugin exports.
 *
 * host_major/host_minor: the ABI version the host speaks. A plugin whose
 * major differs returns XHAL_ERROR_ABI_MISMATCH. Otherwise it stores a
 * pointer to its static, immutable table in *out_table and returns XHAL_OK.
 * Must not allocate, start threads or touch devices (that is init's job). */
typedef xhal_status_t (*xhal_plugin_query_fn)(
    uint32_t host_major, uint32_t host_minor,
    const xhal_plugin_dispatch_t** out_table);
/** The name of the one symbol a plugin exports. */
#define XHAL_PLUGIN_QUERY_SYMBOL "xhal_plugin_query"

/** Marks xhal_plugin_query for export (default visibility). */
#if defined(__GNUC__) || defined(__clang__)
#define XHAL_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define XHAL_PLUGIN_EXPORT
#endif

/** Declaration for plugins to define. */
XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query(uint32_t host_major, uint32_t host_minor,
                  const xhal_plugin_dispatch_t** out_table);

/* ----------------------------------------------------------- ABI pinning */

_Static_assert(sizeof(xhal_plugin_tensor_t) == 88, "plugin tensor layout");
_Static_assert(sizeof(xhal_plugin_kernel_arg_t) == 40, "kernel arg layout");
_Static_assert(sizeof(xhal_host_services_t) == 64, "host services layout");
_Static_assert(sizeof(xhal_plugin_op_call_t) == 544, "plugin op call layout");
_Static_assert(offsetof(xhal_plugin_op_impl_t, limits) ==
                   XHAL_PLUGIN_OP_IMPL_SIZE_1_0,
               "plugin op impl 1.0 layout");
_Static_assert(sizeof(xhal_plugin_op_impl_t) == 80, "plugin op impl layout");
_Static_assert(offsetof(xhal_plugin_dispatch_t, host_alloc) ==
                   XHAL_PLUGIN_DISPATCH_SIZE_1_0,
               "dispatch 1.0 layout");
_Static_assert(sizeof(xhal_plugin_dispatch_t) == 296, "dispatch 1.2 layout");

#ifdef __cplusplus
}
#endif

#endif /* XHAL_PLUGIN_H_ */
