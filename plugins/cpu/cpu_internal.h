/*
 * cpu_internal.h - the CPU plugin's objects and what its files share.
 *
 * Object graph: a context (one per host instance) embeds its single
 * device, its device properties and its kernel thread pool. Buffers,
 * streams and events point back to the context. Nothing is global: two
 * contexts in one process share no mutable state (the one process-wide
 * effect is the idempotent membarrier registration of cpu_fence.c).
 *
 * Thread-safety, per object:
 *  - context/device: read-only after init, except the pool (see
 *    cpu_pool.h).
 *  - buffer: alloc/free by the host (free first waits for the context's
 *    queued work); map/unmap are serialised per buffer by its map mutex.
 *  - stream: one producer (the host serialises entries on one stream) and
 *    one consumer (the stream's worker thread); see cpu_stream.c.
 *  - event: reference counted (the host's handle plus every pending ring
 *    command that names it); wait/query from any thread.
 */
#ifndef XHAL_CPU_INTERNAL_H_
#define XHAL_CPU_INTERNAL_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <xhal/xhal_plugin.h>

#include "cpu_pool.h"
#include "cpu_spin.h"

/* Base alignment of every buffer: a cache line, and enough for any SIMD
 * load the kernels use. */
#define CPU_BUFFER_ALIGNMENT 64u

/* ------------------------------------------------------------ context */

struct xhal_plugin_device {
  struct xhal_plugin_context* ctx;
};

struct xhal_plugin_context {
  /* Copy of the host's table (missing trailing entries zeroed). */
  xhal_host_services_t host;
  struct xhal_plugin_device device;
  xhal_device_properties_t props;
  /* 1: hand-offs use the asymmetric fence (cpu_fence.h), 0: seq_cst. */
  int asymmetric_fence;
  /* How long stream workers and waiters spin before parking: 0 when the
   * process can use a single CPU, where spinning only keeps the thread it
   * waits for from running. */
  uint64_t spin_ns;
  cpu_pool_t pool;
  /* Live streams, for buffer_free (cpu_streams_drain). A stream pinned by
   * a drain stays linked; streams_cv announces unpinning. */
  pthread_mutex_t streams_mu;
  pthread_cond_t streams_cv;
  struct xhal_plugin_stream* streams;
};

/* Reports `status` with a printf-style message through host->set_error
 * and returns `status`, so error paths read `return cpu_error(...)`. */
xhal_status_t cpu_error(const struct xhal_plugin_context* ctx,
                        xhal_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs through the host's log service, when it has one. */
void cpu_log(const struct xhal_plugin_context* ctx, xhal_log_level_t level,
             const char* fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fills ctx->props from /proc/cpuinfo and sysconf. */
void cpu_device_query(struct xhal_plugin_context* ctx);

/* ------------------------------------------------------------- buffer */

struct xhal_plugin_buffer {
  struct xhal_plugin_context* ctx;
  uint8_t* base;
  uint64_t size;
  uint32_t flags;
  /* Live mappings (map results not yet unmapped), a multiset. */
  pthread_mutex_t map_mu;
  void** maps;
  uint32_t map_count;
  uint32_t map_capacity;
};

/* Checks that [offset, offset + size) lies inside `buffer`; on failure
 * reports which argument of `entry` is wrong. */
xhal_status_t cpu_buffer_check_range(const struct xhal_plugin_context* ctx,
                                     const char* entry, const char* what,
                                     const struct xhal_plugin_buffer* buffer,
                                     uint64_t offset, uint64_t size);

xhal_status_t cpu_buffer_alloc(xhal_plugin_device_t device, uint64_t size,
                               uint32_t memory_flags,
                               xhal_plugin_buffer_t* out_buffer);
void cpu_buffer_free(xhal_plugin_device_t device, xhal_plugin_buffer_t buffer);
xhal_status_t cpu_buffer_map(xhal_plugin_device_t device,
                             xhal_plugin_buffer_t buffer, uint64_t offset,
                             uint64_t size, uint32_t map_flags, void** out_ptr);
xhal_status_t cpu_buffer_unmap(xhal_plugin_device_t device,
                               xhal_plugin_buffer_t buffer, void* ptr);

/* Bytes of a failure cause kept by a stream or an event. */
#define CPU_FAILURE_MAX 256

/* -------------------------------------------------------------- event */

struct xhal_plugin_event {
  struct xhal_plugin_context* ctx;
  /* The host's handle counts one; each pending record or wait command in
   * a stream ring counts one, so destroying an event with work still in
   * flight is safe. */
  _Atomic uint32_t refs;
  /* Generation of the latest record (0: never recorded). Each record
   * takes the next generation; a re-record replaces the captured point. */
  _Atomic uint64_t record_gen;
  /* Highest generation whose record command has executed. The event is
   * complete when done_gen >= record_gen; a wait that started on an older
   * generation is satisfied once done_gen reaches that generation. */
  _Atomic uint64_t done_gen;
  /* Status and CLOCK_MONOTONIC stamp of the done_gen completion. */
  _Atomic int32_t status;
  _Atomic uint64_t stamp_ns;
  /* Threads parked on cv; completions broadcast only when non-zero. */
  _Atomic uint32_t waiters;
  /* Cause of a failed done_gen completion (the stream's first failure),
   * guarded by mu. */
  char failure[CPU_FAILURE_MAX];
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC, for timed waits */
};

void cpu_event_retain(struct xhal_plugin_event* event);
void cpu_event_release(struct xhal_plugin_event* event);
/* Marks generation `gen` complete with `status` at `stamp_ns`; `failure`
 * is the cause when status is not XHAL_OK. */
void cpu_event_complete(struct xhal_plugin_event* event, uint64_t gen,
                        xhal_status_t status, const char* failure,
                        uint64_t stamp_ns);
/* Waits until generation `gen` completed (spin, then park) or timeout_ns
 * (UINT64_MAX: forever) passes. Returns the completion status or
 * XHAL_ERROR_TIMEOUT. */
xhal_status_t cpu_event_wait_gen(struct xhal_plugin_event* event, uint64_t gen,
                                 uint64_t timeout_ns);

xhal_status_t cpu_event_create(xhal_plugin_device_t device,
                               xhal_plugin_event_t* out_event);
void cpu_event_destroy(xhal_plugin_event_t event);
xhal_status_t cpu_event_wait(xhal_plugin_event_t event, uint64_t timeout_ns);
xhal_status_t cpu_event_query(xhal_plugin_event_t event);
xhal_status_t cpu_event_elapsed(xhal_plugin_event_t start,
                                xhal_plugin_event_t end, uint64_t* out_ns);

/* ------------------------------------------------------------- stream */

/* Kinds of ring command. */
enum {
  CPU_CMD_COPY = 1, /* write, read and copy: a memmove of host memory */
  CPU_CMD_FILL = 2,
  CPU_CMD_OP = 3,
  CPU_CMD_HOST_FUNC = 4,
  CPU_CMD_EVENT_RECORD = 5,
  CPU_CMD_EVENT_WAIT = 6,
};

/* Bytes of an operator's packed descriptors (cpu_op_pack): per operand
 * dtype, rank and rank dims, then the attributes when the operator has
 * any. */
#define CPU_OP_PACKED_MAX                                          \
  ((XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS) *                    \
       (2 * sizeof(uint32_t) + XHAL_MAX_RANK * sizeof(uint64_t)) + \
   sizeof(xhal_op_attrs_t))

/* One ring slot. Every command is resolved to host addresses when it is
 * enqueued, so the worker never looks at buffer objects.
 *
 * Layout: everything the worker needs to start a command (`ready`,
 * `kind`, the small payloads, an operator's operand addresses) sits in the
 * slot's first cache line, so handing over a copy, a host function or an
 * event moves one line. An operator's descriptors follow, packed to the
 * bytes its operands' ranks need (a 1-D binary op fits in the next line,
 * the pair partner of the first) instead of the 544-byte call record:
 * every line the producer fills is a line the worker must pull over. */
typedef struct cpu_cmd {
  /* Sequence number + 1 of the command in this slot, stored last by the
   * producer: the worker polls the slot itself rather than a shared head
   * index. */
  _Alignas(CPU_FALSE_SHARING_BYTES) _Atomic uint64_t ready;
  uint32_t kind;
  union {
    struct {
      void* dst;
      const void* src;
      uint64_t size;
    } copy;
    struct {
      uint8_t* dst;
      uint64_t size;
      uint8_t pattern[4];
      uint32_t pattern_size;
    } fill;
    struct {
      xhal_host_func_t fn;
      void* user_data;
    } host_func;
    struct {
      struct xhal_plugin_event* event;
      uint64_t gen;
    } event;
    struct {
      /* Host addresses of the operands, resolved at enqueue. */
      const void* inputs[XHAL_MAX_OP_INPUTS];
      void* output;
      xhal_op_t op;
      uint8_t num_inputs;
      uint8_t has_attrs; /* else the kernel sees default attributes */
      uint8_t empty;     /* no output elements: completes without running */
    } op;
  } u;
  /* CPU_CMD_OP only: descriptors and attributes, see cpu_op_pack(). */
  uint8_t op_packed[CPU_OP_PACKED_MAX];
} cpu_cmd_t;

_Static_assert(offsetof(cpu_cmd_t, op_packed) == 64,
               "a command's head fills exactly the slot's first cache line");

/* Packs what a kernel reads from `call` (operand descriptors, attributes
 * where the operator has any) into cmd->op_packed and the op fields of
 * cmd->u. */
void cpu_op_pack(cpu_cmd_t* cmd, const xhal_plugin_op_call_t* call);
/* Rebuilds the call a kernel expects from a packed command. Buffer and
 * offset fields are left NULL/0: kernels get host addresses instead. */
void cpu_op_unpack(const cpu_cmd_t* cmd, xhal_plugin_op_call_t* call);

/* Executes one command on the stream worker. `status` is the stream's
 * status so far and `failure` its cause; returns the stream's status
 * afterwards (the first failure sticks). */
xhal_status_t cpu_cmd_execute(struct xhal_plugin_context* ctx,
                              const cpu_cmd_t* cmd, xhal_status_t status,
                              const char* failure);
/* Describes the failure `status` of `cmd` (what the command was). */
void cpu_cmd_describe_failure(const cpu_cmd_t* cmd, xhal_status_t status,
                              char* buf, size_t size);
/* Releases what a command holds (event references) without running it;
 * used by cpu_cmd_execute for skipped commands. */
void cpu_cmd_discard(const cpu_cmd_t* cmd);

xhal_status_t cpu_stream_create(xhal_plugin_device_t device, uint32_t flags,
                                xhal_plugin_stream_t* out_stream);
void cpu_stream_destroy(xhal_plugin_stream_t stream);
xhal_status_t cpu_stream_flush(xhal_plugin_stream_t stream);
xhal_status_t cpu_stream_synchronize(xhal_plugin_stream_t stream);
xhal_status_t cpu_enqueue_write(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size);
xhal_status_t cpu_enqueue_read(xhal_plugin_stream_t stream,
                               xhal_plugin_buffer_t src, uint64_t src_offset,
                               void* dst, uint64_t size);
xhal_status_t cpu_enqueue_copy(xhal_plugin_stream_t stream,
                               xhal_plugin_buffer_t src, uint64_t src_offset,
                               xhal_plugin_buffer_t dst, uint64_t dst_offset,
                               uint64_t size);
xhal_status_t cpu_enqueue_fill(xhal_plugin_stream_t stream,
                               xhal_plugin_buffer_t dst, uint64_t offset,
                               uint64_t size, const void* pattern,
                               uint32_t pattern_size);
xhal_status_t cpu_enqueue_host_func(xhal_plugin_stream_t stream,
                                    xhal_host_func_t fn, void* user_data);
xhal_status_t cpu_event_record(xhal_plugin_event_t event,
                               xhal_plugin_stream_t stream);
xhal_status_t cpu_stream_wait_event(xhal_plugin_stream_t stream,
                                    xhal_plugin_event_t event);
/* Waits until the work enqueued so far on every stream of `ctx` has
 * completed, except on the calling stream worker's own stream (a host
 * function may free a buffer). buffer_free calls it so that memory still
 * used by queued commands is never released under them. */
void cpu_streams_drain(struct xhal_plugin_context* ctx);

/* xhal_plugin_op_impl_t.enqueue of every registered kernel; user_data is
 * the registering context. */
xhal_status_t cpu_enqueue_op(void* user_data, xhal_plugin_stream_t stream,
                             const xhal_plugin_op_call_t* call);

#endif /* XHAL_CPU_INTERNAL_H_ */
