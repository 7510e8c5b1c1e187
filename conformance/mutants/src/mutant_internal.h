/*
 * The base of the mutation tests (conformance/mutants/CMakeLists.txt): a
 * copy of the SDK template (sdk/template, made with sdk/new-plugin.sh
 * mutant) grown to every operator family of docs/ops.md, compiled once
 * per MUTANT_* defect. Without a MUTANT_* macro it is a correct plugin
 * that passes the core profile. The template's comments are kept.
 */
/*
 * mutant_internal.h - the objects of the mutant plugin and how its files talk
 * to each other. Nothing here is visible outside the plugin: the build
 * compiles with -fvisibility=hidden and links with mutant.map, so the only
 * exported symbol is xhal_plugin_query (mutant_plugin.c).
 *
 * The mutant device is made up: its "device memory" is host memory and its
 * "command processor" is one worker thread per stream. Every place where
 * a real device would do something different is marked "VENDOR:". The
 * files, one per concern:
 *
 *   mutant_plugin.c  xhal_plugin_query, the dispatch table, init/shutdown,
 *                  the device entries (count, properties, open, close)
 *   mutant_memory.c  buffers: alloc, free, map, unmap
 *   mutant_stream.c  streams: the command queue, its worker, every enqueue
 *   mutant_event.c   events: record, wait with timeout, query, elapsed
 *   mutant_ops.c     the operators registered with the host's registry
 *
 * Object ownership: the host owns every handle it receives and gives it
 * back exactly once to the matching destroy/free entry. Buffers and
 * events are also referenced by queued commands, so they carry an atomic
 * reference count: the host's reference plus one per queued command. The
 * memory goes away when the last reference does, so the host may free a
 * buffer right after enqueuing the work that uses it.
 */
#ifndef MUTANT_INTERNAL_H_
#define MUTANT_INTERNAL_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <xhal/xhal_plugin.h>

/* The plugin's short name: the dispatch table's `name`, the prefix of
 * every message, and the input of the device UUID. new-plugin.sh
 * replaces it with the name you choose. */
#define MUTANT_PLUGIN_NAME "mutant"
#define MUTANT_PLUGIN_VERSION "0.1.0"

/* VENDOR: the real figures of your device. Memory is counted per device
 * so that allocations past MUTANT_MEMORY_BYTES fail with OUT_OF_MEMORY, as
 * they would on hardware. */
#define MUTANT_MEMORY_BYTES (1024ull * 1024ull * 1024ull)
#define MUTANT_MAX_ALLOC_BYTES (256ull * 1024ull * 1024ull)
#define MUTANT_BUFFER_ALIGNMENT 64u

/* ------------------------------------------------------------ context */

struct xhal_plugin_device {
  struct xhal_plugin_context* ctx;
  uint32_t index;
  /* Bytes of live buffers; guards MUTANT_MEMORY_BYTES. */
  _Atomic uint64_t allocated;
  int closed;                    /* MUTANT_DEV_REOPEN_REFUSED */
  pthread_mutex_t exec_mu;       /* MUTANT_STR_DEVICE_LOCK */
  _Atomic uint32_t live_streams; /* MUTANT_STR_LIMIT_32 */
};

/* Number of operator implementations mutant_ops.c registers. */
#define MUTANT_OP_COUNT 23

/* What an operator's registry entry points at (its user_data): the row
 * of the operator table, and the context that registered it, so that an
 * implementation can refuse a stream of another context and can reach
 * per-context state (compiled kernels, scratch memory). */
typedef struct mutant_op_binding {
  struct xhal_plugin_context* ctx;
  const struct mutant_op_entry* entry;
} mutant_op_binding_t;

/* One per host instance (init() makes it, shutdown() frees it). Several
 * contexts may live in one process, so there is no global state: every
 * object points back to its context. */
struct xhal_plugin_context {
  /* A copy of the host's table, zero-extended: an older host's shorter
   * table leaves the entries it lacks NULL, which callers check. */
  xhal_host_services_t host;
  xhal_device_properties_t props;
  struct xhal_plugin_device device; /* the mutant board has one device */
  mutant_op_binding_t ops[MUTANT_OP_COUNT];
  struct mutant_cmd* free_cmds; /* MUTANT_THR_CMD_POOL_SHARED */
};

/* Reports `status` with a printf-style message, prefixed with the plugin
 * name, through the host's set_error service and returns `status`, so
 * error paths read `return mutant_error(ctx, XHAL_ERROR_..., "...")`. */
xhal_status_t mutant_error(const struct xhal_plugin_context* ctx,
                           xhal_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs through the host's log service, prefixed with the plugin name
 * (the host filters by level: XHAL_LOG=debug shows everything). */
void mutant_log(const struct xhal_plugin_context* ctx, xhal_log_level_t level,
                const char* fmt, ...) __attribute__((format(printf, 3, 4)));

/* CLOCK_MONOTONIC in nanoseconds: the mutant "device timer". */
uint64_t mutant_now_ns(void);

/* ------------------------------------------------------------- memory */

struct xhal_plugin_buffer {
  struct xhal_plugin_context* ctx;
  _Atomic uint32_t refs;
  uint8_t* base; /* VENDOR: a device address on real hardware */
  uint64_t size;
  uint32_t flags;       /* XHAL_MEMORY_* given at allocation */
  int freed_by_command; /* MUTANT_MEM_ACCOUNT_DEFERRED */
  int base_freed;       /* MUTANT_MEM_FREE_IGNORES_PENDING */
  /* Live mappings, so that unmap can tell a mapping from a stray pointer
   * (XHAL_ERROR_INVALID_STATE). Map is not a hot path: a mutex will do. */
  pthread_mutex_t map_mu;
  void** maps;
  uint32_t map_count;
  uint32_t map_capacity;
};

/* XHAL_OK if [offset, offset + size) lies inside `buffer`, else the
 * status (INVALID_HANDLE, OUT_OF_RANGE) with a message naming `entry`. */
xhal_status_t mutant_buffer_check_range(const struct xhal_plugin_context* ctx,
                                        const char* entry, const char* what,
                                        const struct xhal_plugin_buffer* buffer,
                                        uint64_t offset, uint64_t size);
void mutant_buffer_retain(struct xhal_plugin_buffer* buffer);
void mutant_buffer_release(struct xhal_plugin_buffer* buffer);

xhal_status_t mutant_buffer_alloc(xhal_plugin_device_t device, uint64_t size,
                                  uint32_t memory_flags,
                                  xhal_plugin_buffer_t* out_buffer);
void mutant_buffer_free(xhal_plugin_device_t device,
                        xhal_plugin_buffer_t buffer);
xhal_status_t mutant_buffer_map(xhal_plugin_device_t device,
                                xhal_plugin_buffer_t buffer, uint64_t offset,
                                uint64_t size, uint32_t map_flags,
                                void** out_ptr);
xhal_status_t mutant_buffer_unmap(xhal_plugin_device_t device,
                                  xhal_plugin_buffer_t buffer, void* ptr);

/* ------------------------------------------------------------- events */

/* An event is complete once the latest record of it has run. Each record
 * takes the next generation number; a waiter waits for the generation
 * that was current when it started, so re-recording an event never
 * strands a waiter and never lets it pass early. */
struct xhal_plugin_event {
  struct xhal_plugin_context* ctx;
  _Atomic uint32_t refs;
  pthread_mutex_t mu;
  pthread_cond_t cv;         /* on CLOCK_MONOTONIC, for timed waits */
  uint64_t record_gen;       /* generations handed out by event_record */
  uint64_t done_gen;         /* the latest generation that completed */
  xhal_status_t status;      /* what done_gen's work ended with */
  uint64_t stamp_ns;         /* device time at done_gen's completion */
  uint64_t enqueue_stamp_ns; /* MUTANT_EVT_STAMP_AT_ENQUEUE */
};

void mutant_event_retain(struct xhal_plugin_event* event);
void mutant_event_release(struct xhal_plugin_event* event);
/* Takes the next generation for a record being enqueued now. */
uint64_t mutant_event_next_gen(struct xhal_plugin_event* event);
/* The generation a wait starts from; 0 if never recorded. */
uint64_t mutant_event_current_gen(struct xhal_plugin_event* event);
/* MUTANT_EVT_STAMP_AT_ENQUEUE, MUTANT_EVT_WAIT_SKIP_DONE */
void mutant_event_set_stamp(struct xhal_plugin_event* event, uint64_t ns);
int mutant_event_done_any(struct xhal_plugin_event* event);
/* Marks generation `gen` complete with `status` (stream worker). */
void mutant_event_complete(struct xhal_plugin_event* event, uint64_t gen,
                           xhal_status_t status);
/* Blocks until generation `gen` completed or `timeout_ns` passed
 * (UINT64_MAX: forever). Returns the completion status or
 * XHAL_ERROR_TIMEOUT. */
xhal_status_t mutant_event_wait_gen(struct xhal_plugin_event* event,
                                    uint64_t gen, uint64_t timeout_ns);

xhal_status_t mutant_event_create(xhal_plugin_device_t device,
                                  xhal_plugin_event_t* out_event);
void mutant_event_destroy(xhal_plugin_event_t event);
xhal_status_t mutant_event_wait(xhal_plugin_event_t event, uint64_t timeout_ns);
xhal_status_t mutant_event_query(xhal_plugin_event_t event);
xhal_status_t mutant_event_elapsed(xhal_plugin_event_t start,
                                   xhal_plugin_event_t end, uint64_t* out_ns);

/* ------------------------------------------------------------ streams */

/* What an operator kernel gets: resolved addresses and shapes. */
typedef struct mutant_op_args {
  xhal_op_t op;
  xhal_op_attrs_t attrs;
  uint32_t num_inputs;
  xhal_tensor_desc_t input_descs[XHAL_MAX_OP_INPUTS];
  const uint8_t* inputs[XHAL_MAX_OP_INPUTS];
  xhal_tensor_desc_t output_desc;
  uint8_t* output;
} mutant_op_args_t;

/* An operator kernel, run on the stream worker. */
typedef xhal_status_t (*mutant_kernel_fn)(const mutant_op_args_t* args);

typedef uint32_t mutant_cmd_kind_t;
enum {
  MUTANT_CMD_COPY = 1, /* write, read and copy: all memmoves here */
  MUTANT_CMD_FILL = 2,
  MUTANT_CMD_HOST_FUNC = 3,
  MUTANT_CMD_RECORD = 4, /* complete an event generation */
  MUTANT_CMD_WAIT = 5,   /* wait for an event generation */
  MUTANT_CMD_OP = 6,
};

/* At most every operand of an operator holds a buffer reference. */
#define MUTANT_CMD_MAX_BUFFERS (XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS)

/* One queued command. VENDOR: on hardware this is the packet you write
 * into the device's command ring; the worker thread stands in for the
 * device's command processor. */
typedef struct mutant_cmd {
  struct mutant_cmd* next;
  mutant_cmd_kind_t kind;
  /* Buffers the command touches, released once it has run. */
  uint32_t num_buffers;
  struct xhal_plugin_buffer* buffers[MUTANT_CMD_MAX_BUFFERS];
  union {
    struct {
      uint8_t* dst;
      const uint8_t* src;
      uint64_t size;
    } copy;
    struct {
      uint8_t* dst;
      uint64_t size;
      uint8_t pattern[4];
      uint32_t pattern_size;
      uint64_t offset; /* in the buffer */
    } fill;
    struct {
      xhal_host_func_t fn;
      void* user_data;
    } host_func;
    struct {
      struct xhal_plugin_event* event; /* holds a reference */
      uint64_t gen;
    } event;
    struct {
      mutant_kernel_fn kernel;
      mutant_op_args_t args;
    } op;
  } u;
} mutant_cmd_t;

/* An in-order queue with one worker thread. */
struct xhal_plugin_stream {
  struct xhal_plugin_context* ctx;
  pthread_t worker;
  pthread_mutex_t mu;
  pthread_cond_t work_cv;  /* the worker waits here for commands */
  pthread_cond_t idle_cv;  /* synchronize waits here for completion */
  mutant_cmd_t* head;      /* next command to run */
  mutant_cmd_t* tail;      /* last command queued */
  mutant_cmd_t* free_cmds; /* finished commands, reused by enqueues */
  uint64_t submitted;      /* commands queued so far */
  uint64_t completed;      /* commands the worker finished */
  /* XHAL_OK, or the first failure: a failed stream skips its later work
   * (event records still complete, carrying the failure). */
  xhal_status_t status;
  int stop;
};

/* A zeroed command to fill in and submit, or NULL (message set) when out
 * of memory. Check everything that can fail before taking one, so that
 * every command taken is submitted. */
mutant_cmd_t* mutant_cmd_new(struct xhal_plugin_stream* stream,
                             const char* entry);
/* Retains `buffer` for the command's lifetime. */
void mutant_cmd_hold(mutant_cmd_t* cmd, struct xhal_plugin_buffer* buffer);
/* Queues the command; the worker runs it after everything before it. */
void mutant_cmd_submit(struct xhal_plugin_stream* stream, mutant_cmd_t* cmd);

xhal_status_t mutant_stream_create(xhal_plugin_device_t device, uint32_t flags,
                                   xhal_plugin_stream_t* out_stream);
void mutant_stream_destroy(xhal_plugin_stream_t stream);
xhal_status_t mutant_stream_flush(xhal_plugin_stream_t stream);
xhal_status_t mutant_stream_synchronize(xhal_plugin_stream_t stream);
xhal_status_t mutant_enqueue_write(xhal_plugin_stream_t stream,
                                   xhal_plugin_buffer_t dst,
                                   uint64_t dst_offset, const void* src,
                                   uint64_t size);
xhal_status_t mutant_enqueue_read(xhal_plugin_stream_t stream,
                                  xhal_plugin_buffer_t src, uint64_t src_offset,
                                  void* dst, uint64_t size);
xhal_status_t mutant_enqueue_copy(xhal_plugin_stream_t stream,
                                  xhal_plugin_buffer_t src, uint64_t src_offset,
                                  xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                  uint64_t size);
xhal_status_t mutant_enqueue_fill(xhal_plugin_stream_t stream,
                                  xhal_plugin_buffer_t dst, uint64_t offset,
                                  uint64_t size, const void* pattern,
                                  uint32_t pattern_size);
xhal_status_t mutant_enqueue_host_func(xhal_plugin_stream_t stream,
                                       xhal_host_func_t fn, void* user_data);
xhal_status_t mutant_event_record(xhal_plugin_event_t event,
                                  xhal_plugin_stream_t stream);
xhal_status_t mutant_stream_wait_event(xhal_plugin_stream_t stream,
                                       xhal_plugin_event_t event);

/* ---------------------------------------------------------- operators */

/* Registers the mutant operators with the host's registry (from init). */
xhal_status_t mutant_register_ops(struct xhal_plugin_context* ctx);

#endif /* MUTANT_INTERNAL_H_ */
