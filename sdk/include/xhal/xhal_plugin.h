/*
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

/* Plugin-defined objects. The host treats them as opaque pointers. */
typedef struct xhal_plugin_context* xhal_plugin_context_t;
typedef struct xhal_plugin_device* xhal_plugin_device_t;
typedef struct xhal_plugin_buffer* xhal_plugin_buffer_t;
typedef struct xhal_plugin_stream* xhal_plugin_stream_t;
typedef struct xhal_plugin_event* xhal_plugin_event_t;
typedef struct xhal_plugin_program* xhal_plugin_program_t;
typedef struct xhal_plugin_kernel* xhal_plugin_kernel_t;

/* ------------------------------------------------------ operator calls */

/* One tensor operand as the plugin sees it: its shape, the plugin buffer
 * that holds it and the byte offset of element 0 in that buffer. The host
 * has checked that offset + size lies inside the buffer. */
typedef struct xhal_plugin_tensor {
  xhal_tensor_desc_t desc;
  xhal_plugin_buffer_t buffer;
  uint64_t offset;
} xhal_plugin_tensor_t;

/* One operator invocation. The host has validated shapes and dtypes against
 * docs/ops.md before an implementation sees the call. In a supports() query
 * the buffers are NULL and offsets 0: only shapes, dtypes and attrs count. */
typedef struct xhal_plugin_op_call {
  uint32_t struct_size;
  xhal_op_t op;
  uint32_t num_inputs;
  uint32_t num_outputs;
  xhal_plugin_tensor_t inputs[XHAL_MAX_OP_INPUTS];
  xhal_plugin_tensor_t outputs[XHAL_MAX_OP_OUTPUTS];
  xhal_op_attrs_t attrs;
} xhal_plugin_op_call_t;

/* An operator implementation a plugin registers with the host (through
 * xhal_host_services_t.register_op_impl, normally from init()). The host
 * copies the record; `name` must stay valid while the context lives. */
typedef struct xhal_plugin_op_impl {
  uint32_t struct_size;
  xhal_op_t op;
  /* Plugin device index this implementation runs on, or
   * XHAL_PLUGIN_ALL_DEVICES. */
  uint32_t device_index;
  /* Higher wins among implementations that support a call. */
  int32_t priority;
  /* Dtype signature: input dtypes then output dtype. Entries past the
   * operator's operand count are XHAL_DTYPE_INVALID. An optional input
   * (a bias) that is absent in a call does not take part in matching. */
  uint32_t num_dtypes;
  xhal_dtype_t dtypes[XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS];
  const char* name;
  void* user_data;
  /* Optional: XHAL_OK if this implementation takes the call (shapes,
   * attrs), XHAL_ERROR_UNSUPPORTED otherwise. NULL = supports every call
   * matching the dtype signature. Must not block. */
  xhal_status_t (*supports)(void* user_data, xhal_plugin_device_t device,
                            const xhal_plugin_op_call_t* call);
  /* Enqueue the operator on `stream`, in stream order. Returns once the
   * work is enqueued; failures during execution fail the stream. */
  xhal_status_t (*enqueue)(void* user_data, xhal_plugin_stream_t stream,
                           const xhal_plugin_op_call_t* call);
  /* ABI 1.4, optional: what supports() takes, stated as data so that
   * frameworks can read it (xhal_registry_list, xhal-info); NULL when the
   * implementation has no limits beyond its signature or does not say.
   * The host copies the record during register_op_impl. A 1.0-1.3 host reads
   * the record only up to enqueue and never sees this field. */
  const xhal_op_limits_t* limits;
} xhal_plugin_op_impl_t;

/* Size of the ABI 1.0 record (up to `enqueue`): the smallest one a host
 * accepts. */
#define XHAL_PLUGIN_OP_IMPL_SIZE_1_0 72u

#define XHAL_PLUGIN_ALL_DEVICES 0xFFFFFFFFu

/* ------------------------------------------------------ custom kernels */

/* One kernel argument, passed at launch (no stateful set-arg calls). */
typedef struct xhal_plugin_kernel_arg {
  xhal_kernel_arg_kind_t kind;
  uint32_t size;               /* scalar or local size in bytes */
  const void* value;           /* scalar bytes, read during the call only */
  xhal_plugin_buffer_t buffer; /* buffer args */
  uint64_t offset;             /* buffer args: byte offset of the range */
  uint64_t range;              /* buffer args: byte size of the range */
} xhal_plugin_kernel_arg_t;

/* Program build request. */
typedef struct xhal_plugin_program_desc {
  uint32_t struct_size;
  xhal_kernel_language_t language;
  const char* source;
  uint64_t source_size;
  const char* options; /* NUL-terminated, may be NULL */
  /* Where to write the build log (NUL-terminated, truncated to fit). */
  char* log;
  uint64_t log_capacity;
} xhal_plugin_program_desc_t;

/* ------------------------------------------------------- host services */

/* What the host offers a plugin. Valid from init() until shutdown()
 * returns. Every entry is thread-safe. */
typedef struct xhal_host_services {
  uint32_t struct_size;
  uint32_t abi_minor; /* the minor version the host speaks */
  void* host_context; /* first argument of every entry below */
  void (*log)(void* host_context, xhal_log_level_t level, const char* message);
  /* Aligned host memory; alignment is a power of two. NULL on failure. */
  void* (*alloc_aligned)(void* host_context, uint64_t size, uint64_t alignment);
  void (*free_aligned)(void* host_context, void* ptr);
  /* Adds an implementation to the host's kernel registry. libxhal
   * answers XHAL_ERROR_DTYPE_MISMATCH for a dtype signature of a catalog
   * operator that docs/ops.md does not list, XHAL_ERROR_INVALID_ARGUMENT
   * for a malformed record, with a message; the implementation is then
   * not registered. */
  xhal_status_t (*register_op_impl)(void* host_context,
                                    const xhal_plugin_op_impl_t* impl);
  /* Tells the host a device is lost; later calls on it fail with
   * XHAL_ERROR_DEVICE_LOST. */
  void (*report_device_lost)(void* host_context, uint32_t device_index,
                             const char* reason);
  /* Sets the message that goes with the status the plugin is about to
   * return from the current entry, on the calling thread. */
  void (*set_error)(void* host_context, xhal_status_t status,
                    const char* message);
} xhal_host_services_t;

/* -------------------------------------------------------- dispatch table */

/* The plugin's dispatch table. Entries marked [required] must be non-NULL
 * in ABI 1.0; the host rejects a plugin that leaves one NULL. Every other
 * entry may be NULL. Handles returned by an entry belong to the host until
 * it passes them back to the matching destroy entry. */
typedef struct xhal_plugin_dispatch {
  uint32_t struct_size;
  uint32_t abi_major; /* must equal XHAL_ABI_VERSION_MAJOR */
  uint32_t abi_minor; /* the minor version this table was built against */
  uint32_t reserved;
  const char* name;    /* short plugin name, e.g. "cpu" */
  const char* version; /* plugin version string */

  /* -- context [required] */
  xhal_status_t (*init)(const xhal_host_services_t* host,
                        xhal_plugin_context_t* out_context);
  void (*shutdown)(xhal_plugin_context_t context);

  /* -- devices [required] */
  xhal_status_t (*device_count)(xhal_plugin_context_t context,
                                uint32_t* out_count);
  xhal_status_t (*device_properties)(xhal_plugin_context_t context,
                                     uint32_t index,
                                     xhal_device_properties_t* out_props);
  xhal_status_t (*device_open)(xhal_plugin_context_t context, uint32_t index,
                               xhal_plugin_device_t* out_device);
  void (*device_close)(xhal_plugin_device_t device);

  /* -- memory [required: alloc, free] */
  xhal_status_t (*buffer_alloc)(xhal_plugin_device_t device, uint64_t size,
                                uint32_t memory_flags,
                                xhal_plugin_buffer_t* out_buffer);
  void (*buffer_free)(xhal_plugin_device_t device, xhal_plugin_buffer_t buffer);
  xhal_status_t (*buffer_map)(xhal_plugin_device_t device,
                              xhal_plugin_buffer_t buffer, uint64_t offset,
                              uint64_t size, uint32_t map_flags,
                              void** out_ptr);
  xhal_status_t (*buffer_unmap)(xhal_plugin_device_t device,
                                xhal_plugin_buffer_t buffer, void* ptr);

  /* -- streams [required: create, destroy, synchronize, write, read,
   *    copy, fill] */
  xhal_status_t (*stream_create)(xhal_plugin_device_t device, uint32_t flags,
                                 xhal_plugin_stream_t* out_stream);
  /* Waits for enqueued work, then frees the stream. */
  void (*stream_destroy)(xhal_plugin_stream_t stream);
  /* Submits batched work to the device without waiting. */
  xhal_status_t (*stream_flush)(xhal_plugin_stream_t stream);
  /* Blocks until all enqueued work completes; returns the stream's failure
   * status if any work failed. */
  xhal_status_t (*stream_synchronize)(xhal_plugin_stream_t stream);
  /* Host memory passed to write/read must stay valid and unchanged until
   * the operation completes in stream order. */
  xhal_status_t (*enqueue_write)(xhal_plugin_stream_t stream,
                                 xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                 const void* src, uint64_t size);
  xhal_status_t (*enqueue_read)(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t src, uint64_t src_offset,
                                void* dst, uint64_t size);
  /* Both buffers belong to the stream's plugin; to different devices only
   * when the device has XHAL_CAP_PEER_COPY. */
  xhal_status_t (*enqueue_copy)(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t src, uint64_t src_offset,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                uint64_t size);
  /* Repeats a 1, 2 or 4 byte pattern; size is a multiple of pattern_size. */
  xhal_status_t (*enqueue_fill)(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t dst, uint64_t offset,
                                uint64_t size, const void* pattern,
                                uint32_t pattern_size);
  xhal_status_t (*enqueue_kernel)(xhal_plugin_stream_t stream,
                                  xhal_plugin_kernel_t kernel,
                                  const xhal_launch_t* launch,
                                  const xhal_plugin_kernel_arg_t* args,
                                  uint32_t num_args);
  /* Runs fn(user_data) on a plugin thread once all earlier work of the
   * stream completed; later work starts after fn returns. fn may block
   * (the host uses it to wait on events of other plugins). A status other
   * than XHAL_OK fails the stream. */
  xhal_status_t (*enqueue_host_func)(xhal_plugin_stream_t stream,
                                     xhal_host_func_t fn, void* user_data);

  /* -- events [required: create, destroy, record, wait, query] */
  xhal_status_t (*event_create)(xhal_plugin_device_t device,
                                xhal_plugin_event_t* out_event);
  void (*event_destroy)(xhal_plugin_event_t event);
  /* Captures all work enqueued on `stream` so far. Re-recording replaces
   * the captured point. */
  xhal_status_t (*event_record)(xhal_plugin_event_t event,
                                xhal_plugin_stream_t stream);
  /* Blocks until the recorded work completes or timeout_ns passes
   * (UINT64_MAX: forever). Returns XHAL_OK, XHAL_ERROR_TIMEOUT, or the
   * failure status the captured work ended with. */
  xhal_status_t (*event_wait)(xhal_plugin_event_t event, uint64_t timeout_ns);
  /* XHAL_OK when complete, XHAL_ERROR_NOT_READY while pending, or the
   * failure status. */
  xhal_status_t (*event_query)(xhal_plugin_event_t event);
  /* Device time from `start` to `end` in nanoseconds (XHAL_CAP_PROFILING). */
  xhal_status_t (*event_elapsed)(xhal_plugin_event_t start,
                                 xhal_plugin_event_t end, uint64_t* out_ns);
  /* Later work of `stream` waits for `event` (same plugin context). A
   * failed event fails the stream. */
  xhal_status_t (*stream_wait_event)(xhal_plugin_stream_t stream,
                                     xhal_plugin_event_t event);

  /* -- programs (devices with a kernel language) */
  xhal_status_t (*program_build)(xhal_plugin_device_t device,
                                 const xhal_plugin_program_desc_t* desc,
                                 xhal_plugin_program_t* out_program);
  void (*program_destroy)(xhal_plugin_program_t program);
  xhal_status_t (*kernel_create)(xhal_plugin_program_t program,
                                 const char* name,
                                 xhal_plugin_kernel_t* out_kernel);
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
  xhal_status_t (*host_alloc)(xhal_plugin_device_t device, uint64_t size,
                              void** out_ptr);
  void (*host_free)(xhal_plugin_device_t device, void* ptr);
} xhal_plugin_dispatch_t;

/* Size of the ABI 1.0 table (also 1.1's): the smallest table a 1.x host
 * accepts. Entries past a plugin's struct_size are NULL to the host. */
#define XHAL_PLUGIN_DISPATCH_SIZE_1_0 280u
/* Size of the ABI 1.2 table, which added host_alloc and host_free. */
#define XHAL_PLUGIN_DISPATCH_SIZE_1_2 \
  ((uint32_t)(sizeof(xhal_plugin_dispatch_t)))

/* The one symbol a plugin exports.
 *
 * host_major/host_minor: the ABI version the host speaks. A plugin whose
 * major differs returns XHAL_ERROR_ABI_MISMATCH. Otherwise it stores a
 * pointer to its static, immutable table in *out_table and returns XHAL_OK.
 * Must not allocate, start threads or touch devices (that is init's job). */
typedef xhal_status_t (*xhal_plugin_query_fn)(
    uint32_t host_major, uint32_t host_minor,
    const xhal_plugin_dispatch_t** out_table);
#define XHAL_PLUGIN_QUERY_SYMBOL "xhal_plugin_query"

#if defined(__GNUC__) || defined(__clang__)
#define XHAL_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define XHAL_PLUGIN_EXPORT
#endif

/* Declaration for plugins to define. */
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
