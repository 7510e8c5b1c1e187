/*
 * npu_internal.h - the driver for the simulated NPU (libxhal_npu.so).
 *
 * The driver talks to the model (sim/, libxhal_npusim) only through its
 * hardware interface: registers, the command ring in device DRAM written
 * through the aperture, host windows for DMA, and the interrupt line.
 *
 * Objects: a context (one per host instance) owns the config and at most
 * one opened device. The device owns the model, the ring, the DRAM
 * allocator and a service thread (faults, device loss, the watchdog).
 * Streams submit into the one ring, tagged with the stream that owns each
 * slot. A stream that waits (in a host function, or on an event whose
 * point is not in the ring yet) is "held": its later work is captured
 * into the stream's software queue, and the stream's worker thread runs
 * the host function off the ring and then pushes the queued work into the
 * ring, so the ring never blocks and other streams keep going. Events are
 * points (fence values with simulated timestamps) that get their fence
 * when the stream's work reaches the ring.
 *
 * Locking: `submit_mu` serialises whole submissions (an operator's command
 * sequence stays contiguous in the ring, since each operator uses the
 * whole scratchpad) and a stream's switch between held and direct; `mu`
 * guards everything else and is never held while waiting for the device
 * except through `cv`. Lock order: submit_mu, mu, then the model's own
 * locks.
 */
#ifndef NPU_INTERNAL_H_
#define NPU_INTERNAL_H_

#include <pthread.h>
#include <stdint.h>
#include <xhal/xhal_plugin.h>

#include "npusim/npusim.h"

#define NPU_RING_ENTRIES 4096u
#define NPU_RECORDS 4096u
#define NPU_MAX_FAILURES 256u
#define NPU_MAX_DEPS 256u
#define NPU_MAX_WINDOWS 512u
#define NPU_ALIGN 64u

typedef struct npu_dev npu_dev_t;
typedef struct npu_stream npu_stream_t;

typedef struct npu_ctx {
  const xhal_host_services_t* host;
  npusim_config_t cfg;
  uint32_t watchdog_ms;
  pthread_mutex_t mu;
  npu_dev_t* dev;
  int open_count;
  /* What supports() takes, as registered with the implementations
   * (xhal_op_limits_t, ABI 1.4); filled before registration and read by
   * supports(), so the declared limits and the answers cannot drift. */
  xhal_op_limits_t lim_binary, lim_unary, lim_softmax, lim_norm, lim_matmul,
      lim_conv;
} npu_ctx_t;

/* A free block of device DRAM (first-fit list, sorted by address). */
typedef struct npu_block {
  uint64_t addr, size;
  struct npu_block* next;
} npu_block_t;

struct xhal_plugin_buffer {
  npu_dev_t* dev;
  uint64_t addr;
  uint64_t size;     /* what the host asked for: the valid range */
  uint64_t reserved; /* what the heap gave (size rounded to NPU_ALIGN) */
};

/* A stream that failed: its fences after `after_fence` fail with status. */
typedef struct npu_failure {
  uint64_t stream_id;
  uint64_t after_fence;
  xhal_status_t status;
  char cause[192]; /* what failed first: the command and the fault */
} npu_failure_t;

/* Stream `waiter` waits for fence `fence` of stream `target`; if target
 * fails before it, waiter fails from ring index `ring_pos` on. */
typedef struct npu_dep {
  uint64_t waiter, target, fence, ring_pos, waiter_fence;
} npu_dep_t;

/* A host window to unmap once fence `fence` completed. */
typedef struct npu_window {
  uint64_t iova, fence;
} npu_window_t;

/* A position in a stream (an event record, a synchronize): the fence
 * that marks it once the stream's work before it is in the ring.
 * Reference-counted under mu. */
typedef struct npu_point {
  int refs;
  uint64_t stream_id;
  uint64_t fence; /* 0: not in the ring yet */
} npu_point_t;

/* Work of a held stream, queued in software until the stream's worker
 * pushes it into the ring. */
typedef enum npu_item_kind {
  NPU_ITEM_CMDS, /* captured commands (fences with their points) */
  NPU_ITEM_XFER, /* a host transfer: mapped when it reaches the ring */
  NPU_ITEM_HOST, /* a host function */
  NPU_ITEM_WAIT  /* a wait for another stream's point */
} npu_item_kind_t;

typedef struct npu_item {
  npu_item_kind_t kind;
  npusim_cmd_t* cmds;  /* CMDS */
  npu_point_t** pts;   /* CMDS: the point of each FENCE, or NULL */
  uint32_t n, cap;     /* CMDS */
  uint64_t dram, size; /* XFER */
  void* host;          /* XFER */
  int to_device;       /* XFER */
  xhal_host_func_t fn; /* HOST */
  void* user_data;     /* HOST */
  npu_point_t* wait;   /* WAIT */
  struct npu_item* next;
} npu_item_t;

struct npu_dev {
  npu_ctx_t* ctx;
  npusim_t* sim;
  uint64_t spad_bytes;
  uint32_t rows, cols, clock_mhz;

  pthread_mutex_t submit_mu;
  pthread_mutex_t mu;
  pthread_cond_t cv;

  /* Ring (mu). */
  uint64_t tail;
  uint64_t owner[NPU_RING_ENTRIES]; /* stream id per slot */
  uint64_t next_fence;
  uint64_t next_stream_id;
  int batch_pending; /* commands written since the last doorbell */

  /* Failure state (mu). */
  int lost;
  char lost_reason[128];
  npu_failure_t failures[NPU_MAX_FAILURES];
  uint32_t num_failures;
  npu_dep_t deps[NPU_MAX_DEPS];
  uint32_t num_deps;

  /* Fence records written by the device into host memory. */
  npusim_fence_record_t* records;
  uint64_t records_iova;

  /* Host windows awaiting unmap (mu). */
  npu_window_t windows[NPU_MAX_WINDOWS];
  uint32_t num_windows;

  /* DRAM allocator (mu). */
  npu_block_t* free_list;
  uint64_t heap_base, heap_size;

  /* Threads. */
  pthread_t service;
  int threads_started;
  int stop; /* read and written with __atomic builtins */
};

struct xhal_plugin_stream {
  npu_dev_t* dev;
  uint64_t id;
  /* Software queue (mu; `held` changes with submit_mu held too). */
  int held; /* work is queued or in progress: new work is captured */
  npu_item_t* head;
  npu_item_t* tail;
  pthread_t worker;
  int worker_started;
  int stopping;
};

struct xhal_plugin_event {
  npu_dev_t* dev;
  npu_point_t* point; /* NULL: never recorded */
};

/* Submission batch: an operator's or transfer's commands, written into the
 * ring with submit_mu held, or captured into `item` while the stream is
 * held. */
typedef struct npu_batch {
  npu_dev_t* dev;
  struct xhal_plugin_stream* stream;
  uint64_t stream_id;
  npu_item_t* item; /* non-NULL: capturing */
  xhal_status_t status;
} npu_batch_t;

/* ---- npu_device.c */
xhal_status_t npu_dev_open(npu_ctx_t* ctx, npu_dev_t** out);
void npu_dev_close(npu_dev_t* dev);
/* Starts a batch (takes submit_mu). Fails with the device's status. If
 * the stream is held the batch captures its commands (b->item set) into
 * the stream's queue instead of the ring. */
xhal_status_t npu_batch_begin(npu_batch_t* b, struct xhal_plugin_stream* s);
/* Appends a command (waits for ring space). Errors stick in b->status. */
void npu_emit(npu_batch_t* b, const npusim_cmd_t* cmd);
/* Appends a fence; `pt` (optional) learns its value once it is in the
 * ring. Returns the value, or 0 while capturing. */
uint64_t npu_emit_fence(npu_batch_t* b, int irq, int record, npu_point_t* pt);
/* Rings the doorbell (or queues the captured item) and releases
 * submit_mu; returns b->status. */
xhal_status_t npu_batch_end(npu_batch_t* b);
/* Maps host memory for DMA until fence-completion; returns its IOVA. */
xhal_status_t npu_map_host(npu_batch_t* b, const void* ptr, uint64_t size,
                           int writable, uint64_t* out_iova);
/* Binds the windows mapped in this batch to `fence`. */
void npu_windows_bind(npu_dev_t* dev, uint64_t fence);
/* Writes a host transfer into the ring (stream not held, submit_mu held
 * through `b`). */
void npu_emit_host_transfer(npu_batch_t* b, uint64_t dram, void* host,
                            uint64_t size, int to_device);
/* Points. */
npu_point_t* npu_point_new(npu_dev_t* dev, uint64_t stream_id);
void npu_point_unref(npu_dev_t* dev, npu_point_t* p);
/* Status of a point: XHAL_OK, XHAL_ERROR_NOT_READY or the failure. */
xhal_status_t npu_point_status(npu_dev_t* dev, const npu_point_t* p);
xhal_status_t npu_point_wait(npu_dev_t* dev, const npu_point_t* p,
                             uint64_t timeout_ns);
/* Stops a stream's worker once its queue is empty. */
void npu_stream_stop_worker(struct xhal_plugin_stream* s);
/* Status of work of stream `stream_id` up to fence `fence`: XHAL_OK,
 * XHAL_ERROR_NOT_READY, or the failure status. mu held. */
xhal_status_t npu_fence_status(npu_dev_t* dev, uint64_t stream_id,
                               uint64_t fence);
/* Waits for the fence; timeout_ns UINT64_MAX = forever. */
xhal_status_t npu_fence_wait(npu_dev_t* dev, uint64_t stream_id, uint64_t fence,
                             uint64_t timeout_ns);
/* Status of a stream as a whole: XHAL_OK or its failure. mu held. */
/* Copies why stream `sid` failed (or the device was lost) into `buf`;
 * takes dev->mu. */
void npu_failure_cause(npu_dev_t* dev, uint64_t sid, char* buf, size_t size);
xhal_status_t npu_stream_failure(npu_dev_t* dev, uint64_t stream_id);
/* Makes stream `s` wait for point `p` of another stream. */
xhal_status_t npu_add_wait(struct xhal_plugin_stream* s, npu_point_t* p);
xhal_status_t npu_queue_host_func(struct xhal_plugin_stream* s,
                                  xhal_host_func_t fn, void* user_data);
void npu_set_error(npu_dev_t* dev, xhal_status_t status, const char* msg);

/* ---- npu_memory.c */
xhal_status_t npu_heap_init(npu_dev_t* dev, uint64_t base, uint64_t size);
void npu_heap_destroy(npu_dev_t* dev);
xhal_status_t npu_buffer_alloc(xhal_plugin_device_t device, uint64_t size,
                               uint32_t flags, xhal_plugin_buffer_t* out);
void npu_buffer_free(xhal_plugin_device_t device, xhal_plugin_buffer_t buf);

/* ---- npu_stream.c: dispatch entries for streams and events. */
xhal_status_t npu_stream_create(xhal_plugin_device_t device, uint32_t flags,
                                xhal_plugin_stream_t* out);
void npu_stream_destroy(xhal_plugin_stream_t stream);
xhal_status_t npu_stream_flush(xhal_plugin_stream_t stream);
xhal_status_t npu_stream_synchronize(xhal_plugin_stream_t stream);
xhal_status_t npu_enqueue_write(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size);
xhal_status_t npu_enqueue_read(xhal_plugin_stream_t stream,
                               xhal_plugin_buffer_t src, uint64_t src_offset,
                               void* dst, uint64_t size);
xhal_status_t npu_enqueue_copy(xhal_plugin_stream_t stream,
                               xhal_plugin_buffer_t src, uint64_t src_offset,
                               xhal_plugin_buffer_t dst, uint64_t dst_offset,
                               uint64_t size);
xhal_status_t npu_enqueue_fill(xhal_plugin_stream_t stream,
                               xhal_plugin_buffer_t dst, uint64_t offset,
                               uint64_t size, const void* pattern,
                               uint32_t pattern_size);
xhal_status_t npu_enqueue_host_func(xhal_plugin_stream_t stream,
                                    xhal_host_func_t fn, void* user_data);
xhal_status_t npu_event_create(xhal_plugin_device_t device,
                               xhal_plugin_event_t* out);
void npu_event_destroy(xhal_plugin_event_t event);
xhal_status_t npu_event_record(xhal_plugin_event_t event,
                               xhal_plugin_stream_t stream);
xhal_status_t npu_event_wait(xhal_plugin_event_t event, uint64_t timeout_ns);
xhal_status_t npu_event_query(xhal_plugin_event_t event);
xhal_status_t npu_event_elapsed(xhal_plugin_event_t start,
                                xhal_plugin_event_t end, uint64_t* out_ns);
xhal_status_t npu_stream_wait_event(xhal_plugin_stream_t stream,
                                    xhal_plugin_event_t event);

/* ---- operator implementations (npu_ops_*.c) */
xhal_status_t npu_register_ops(npu_ctx_t* ctx);
xhal_status_t npu_register_matmul(npu_ctx_t* ctx);
xhal_status_t npu_register_conv2d(npu_ctx_t* ctx);
xhal_status_t npu_register_vector_ops(npu_ctx_t* ctx);

/* Helpers shared by the operator files. */
npusim_cmd_t npu_cmd_dma(uint32_t src_space, uint64_t src, uint32_t dst_space,
                         uint64_t dst, uint64_t row_bytes, uint64_t rows,
                         uint64_t src_pitch, uint64_t dst_pitch);
npusim_cmd_t npu_cmd_vec(uint32_t func, uint32_t dtype, uint32_t flags,
                         uint64_t src0, uint64_t src1, uint64_t dst,
                         uint64_t rows, uint64_t cols);
uint32_t npu_sim_dtype(xhal_dtype_t dt);
uint64_t npu_numel(const xhal_tensor_desc_t* d);
static inline uint64_t npu_align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}

#endif /* NPU_INTERNAL_H_ */
