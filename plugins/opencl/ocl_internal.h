/*
 * ocl_internal.h - objects of the OpenCL plugin and the functions its
 * files share. Nothing here is exported: the plugin's only public symbol
 * is xhal_plugin_query (ocl_plugin.c).
 *
 * Object map:
 *   context  one per host instance: the devices init() found, the host
 *            services, the disk cache directory.
 *   device   one per device_open: a cl_context of its own, an auxiliary
 *            queue for map/unmap, and the operator programs, built lazily
 *            and cached in memory (and on disk, ocl_cache.c).
 *   buffer   a cl_mem (CL_MEM_ALLOC_HOST_PTR when host-visible) plus the
 *            sub-buffers that kernel arguments with offsets needed.
 *   stream   an in-order cl_command_queue, a failure record, and a host
 *            thread started on the first host function.
 *   event    the marker of its latest recording and what is needed to
 *            tell whether the work before it failed.
 *
 * Failure tracking: a stream counts the points it hands out (host
 * functions, event records) in `seq`. When work fails at point p, every
 * event recorded after p reports the failure and later enqueues are
 * skipped. This is done in the plugin rather than with negative user
 * event statuses because implementations differ on what a negative status
 * does to dependent commands (PoCL 3.1 aborts the process).
 *
 * Deferred submission: while a stream has host-thread jobs in flight
 * (host functions, waits the device cannot express), its later commands
 * are not given to OpenCL at once but queued, as ocl_cmd_t records, behind
 * those jobs; the stream's host thread submits them in order, or drops
 * them once the stream failed (R-STR-9). OpenCL offers no way to cancel a
 * command already enqueued behind a user event, so this is the only
 * portable way to keep work after a failed host function from running.
 */
#ifndef XHAL_OCL_INTERNAL_H_
#define XHAL_OCL_INTERNAL_H_

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <xhal/xhal_plugin.h>

#define OCL_PATH_MAX 1024

/* ------------------------------------------------------------ devices */

/* The two tile variants of each operator program with matmul/conv2d. */
enum { OCL_TILES_LARGE = 0, OCL_TILES_SMALL = 1 };

/* Tile configuration of the matmul/conv2d kernels (kernels/gemm.cl). */
typedef struct ocl_tiles {
  uint32_t tsm, tsn, tsk; /* output tile M x N, reduction step K */
  uint32_t wptm, wptn;    /* outputs per work-item in M and N */
} ocl_tiles_t;

/* What init() learns about one device; needs no cl_context. */
typedef struct ocl_device_info {
  cl_platform_id platform;
  cl_device_id id;
  xhal_device_properties_t props;
  /* Platform, device and driver strings: keys the disk cache. */
  char identity[1024];
  cl_device_type type;
  uint64_t base_align; /* bytes; sub-buffer offsets must be multiples */
  uint64_t max_wg;
  uint64_t max_item[3];
  uint64_t local_mem;
  uint32_t compiler;  /* a compiler is available: programs, operators */
  uint32_t exact_div; /* CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT */
  uint32_t fp16;      /* cl_khr_fp16 (informational, see ocl_device.c) */
} ocl_device_info_t;

struct xhal_plugin_context {
  xhal_host_services_t host;
  uint32_t device_count;
  ocl_device_info_t* devices;
  char cache_dir[OCL_PATH_MAX]; /* "" when the disk cache is off */
  /* XHAL_OPENCL_GEMM_TILES, for tuning on new devices; all zero if unset. */
  ocl_tiles_t tiles_override;
  uint32_t autotune; /* 0 when XHAL_OPENCL_AUTOTUNE=0 */
};

/* Operator programs: per operand family (kernels/common.cl), the
 * matmul/conv2d kernels apart from the elementwise and row kernels, so
 * that a device's first add does not compile the tiled products nor wait
 * for their tile autotune (ocl_tune.c). */
typedef enum ocl_prog_id {
  OCL_PROG_F32 = 0,
  OCL_PROG_F16,
  OCL_PROG_I32,
  OCL_PROG_F32_GEMM,
  OCL_PROG_F16_GEMM,
  OCL_PROG_I8_GEMM,
  OCL_PROG_MISC,
  OCL_PROG_COUNT
} ocl_prog_id_t;

/* One kernel of an operator program. clSetKernelArg is not thread-safe
 * on one cl_kernel, so argument setting and enqueue happen under `mu`. */
typedef struct ocl_op_kernel {
  cl_kernel kernel;
  pthread_mutex_t mu;
} ocl_op_kernel_t;

typedef struct ocl_op_program {
  int state;            /* 0 not built, 1 ready, -1 failed (prog_mu) */
  xhal_status_t status; /* why it failed */
  cl_program program;
  uint32_t kernel_count;
  ocl_op_kernel_t* kernels;
  /* Tiles of the matmul/conv2d variants: OCL_TILES_LARGE, _SMALL. */
  ocl_tiles_t tiles[2];
} ocl_op_program_t;

struct xhal_plugin_device {
  struct xhal_plugin_context* ctx;
  const ocl_device_info_t* info;
  uint32_t index;
  cl_context context;
  cl_command_queue aux; /* map/unmap and internal blocking work */
  cl_command_queue_properties queue_props;
  uint32_t ew_wg;         /* work-group size of elementwise kernels */
  uint64_t ew_max_groups; /* grid bound of grid-stride kernels */
  uint32_t row_wg;        /* XK_ROW_WG of the row kernels */
  pthread_mutex_t prog_mu;
  /* Tiles measured fastest on this device (ocl_tune.c); prog_mu. */
  uint32_t tune_done;
  uint32_t has_tuned;
  ocl_tiles_t tuned[2];
  ocl_op_program_t progs[OCL_PROG_COUNT];
  /* Live host allocations (ocl_hostmem.c), guarded by host_mu. */
  pthread_mutex_t host_mu;
  struct ocl_host_alloc* host;
};

/* ------------------------------------------------------------ buffers */

typedef struct ocl_subbuf {
  struct ocl_subbuf* next;
  uint64_t offset;
  uint64_t size;
  cl_mem mem;
} ocl_subbuf_t;

/* One live host mapping (buffer_map), so that unmapping a pointer that
 * is not one can be refused before OpenCL sees it. */
typedef struct ocl_mapping {
  struct ocl_mapping* next;
  void* ptr;
} ocl_mapping_t;

struct xhal_plugin_buffer {
  struct xhal_plugin_device* dev;
  cl_mem mem;
  uint64_t size;
  uint32_t flags;
  pthread_mutex_t sub_mu; /* subs, sub_count and maps */
  ocl_subbuf_t* subs;
  uint32_t sub_count;
  ocl_mapping_t* maps;
  /* buffer_free's reference plus one per deferred command using it. */
  atomic_uint refs;
};

/* ------------------------------------------------------------ streams */

/* The failure record of a stream, shared with the events recorded on it
 * (they may outlive it). */
typedef struct ocl_fail {
  atomic_uint refs;
  atomic_int failed; /* set once; lets enqueues check without the lock */
  pthread_mutex_t mu;
  uint64_t point; /* events recorded after this point fail */
  xhal_status_t status;
  char cause[256]; /* what failed at `point` */
} ocl_fail_t;

/* The completion time of a recording made behind host-thread jobs,
 * whose marker is a user event without profiling data: the host thread
 * writes the end time of the real marker it enqueued in its place. */
typedef struct ocl_stamp {
  atomic_uint refs;
  _Atomic uint64_t end_ns; /* 0 until known (or without profiling) */
} ocl_stamp_t;

/* One recording, copied out of the event so a waiter needs no lock. */
typedef struct ocl_record {
  cl_event marker;
  ocl_fail_t* fail;
  ocl_stamp_t* stamp; /* NULL unless recorded behind host-thread jobs */
  uint64_t seq;
  uint32_t may_fail_later; /* host jobs were in flight when recorded */
} ocl_record_t;

typedef struct ocl_job ocl_job_t;

/* What a host-thread job does (ocl_hostfn.c). */
typedef enum ocl_cmd_kind {
  OCL_CMD_HOST_FUNC = 1, /* run a host function after earlier work */
  OCL_CMD_WAIT,          /* wait for a recording on the host */
  OCL_CMD_WRITE,
  OCL_CMD_READ,
  OCL_CMD_COPY,
  OCL_CMD_FILL,
  OCL_CMD_KERNEL,
  OCL_CMD_OP,
  OCL_CMD_RECORD /* complete `user` once earlier work completed */
} ocl_cmd_kind_t;

typedef xhal_status_t (*ocl_op_fn_t)(struct xhal_plugin_stream* s,
                                     const xhal_plugin_op_call_t* call);

/* One deferred command. It owns a reference to every buffer, kernel,
 * event and allocation it names (released by ocl_cmd_release). */
typedef struct ocl_cmd {
  ocl_cmd_kind_t kind;
  /* host function */
  xhal_host_func_t fn;
  void* user_data;
  /* wait: the recording waited for; record: its point and stamp */
  ocl_record_t rec;
  /* transfers: src/dst buffers (NULL for the host side) */
  struct xhal_plugin_buffer* src;
  struct xhal_plugin_buffer* dst;
  uint64_t src_offset;
  uint64_t dst_offset;
  uint64_t size;
  const void* host_src;
  void* host_dst;
  uint8_t pattern[4];
  uint32_t pattern_size;
  /* kernel: arguments resolved, scalar bytes copied into `arg_bytes` */
  struct xhal_plugin_kernel* kernel;
  uint32_t work_dim;
  int has_local;
  size_t global[3];
  size_t local[3];
  uint32_t num_args;
  xhal_plugin_kernel_arg_t* args;
  cl_mem* mems; /* each retained */
  uint8_t* arg_bytes;
  /* operator */
  ocl_op_fn_t op_fn;
  xhal_plugin_op_call_t call;
  /* record */
  cl_event user;
} ocl_cmd_t;

struct xhal_plugin_stream {
  struct xhal_plugin_device* dev;
  cl_command_queue queue;
  cl_command_queue_properties queue_props; /* the device's, less profiling
                                              with XHAL_STREAM_NO_TIMING */
  ocl_fail_t* fail;
  _Atomic uint64_t seq; /* last point handed out */
  /* Host thread (ocl_hostfn.c), started on the first host job. `mu`
   * also orders submission: commands are given to OpenCL, or deferred,
   * under it. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_cond_t idle_cv; /* inflight dropped to 0 */
  pthread_t thread;
  int thread_started;
  int stop;
  ocl_job_t* head;
  ocl_job_t* tail;
  ocl_job_t* free_jobs;
  atomic_uint inflight; /* jobs queued and not yet finished (mu) */
};

/* ------------------------------------------------------------- events */

/* Completion of one marker, signalled by a CL event callback; timed
 * waits sleep on it. Shared by the event and the callback. */
typedef struct ocl_signal {
  atomic_uint refs;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
} ocl_signal_t;

struct xhal_plugin_event {
  struct xhal_plugin_device* dev;
  pthread_mutex_t mu;
  ocl_record_t rec; /* marker NULL until recorded */
  ocl_signal_t* signal;
};

/* ------------------------------------------------- programs, kernels */

struct xhal_plugin_program {
  struct xhal_plugin_device* dev;
  cl_program program;
};

struct xhal_plugin_kernel {
  struct xhal_plugin_device* dev;
  atomic_uint refs; /* kernel_destroy's plus deferred launches' */
  cl_kernel kernel;
  pthread_mutex_t mu; /* argument setting + enqueue */
  cl_uint num_args;
  char name[128];
};

/* ------------------------------------------------------------ helpers */

/* ocl_error.c */
const char* ocl_cl_error_name(cl_int err);
xhal_status_t ocl_cl_status(cl_int err);
xhal_status_t ocl_error(const struct xhal_plugin_context* ctx,
                        xhal_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "<call> failed: CL_NAME" with the mapped status; returns it. */
xhal_status_t ocl_cl_error(const struct xhal_plugin_context* ctx, cl_int err,
                           const char* call);
void ocl_log(const struct xhal_plugin_context* ctx, xhal_log_level_t level,
             const char* fmt, ...) __attribute__((format(printf, 3, 4)));

/* ocl_device.c */
xhal_status_t ocl_enumerate(struct xhal_plugin_context* ctx);
/* The rank-th tile candidate (0 = best) of a variant that fits the
 * device, `preferred` (may be NULL) first; all zero past the last one. */
ocl_tiles_t ocl_tiles_for(const ocl_device_info_t* info,
                          const ocl_tiles_t* preferred, uint32_t variant,
                          uint32_t rank);
/* Whether tiles fit the device's work-group and local memory limits. */
int ocl_tiles_fit(const ocl_device_info_t* info, const ocl_tiles_t* t);
ocl_tiles_t ocl_tiles_parse(const char* text);

/* ocl_memory.c */
/* The cl_mem a kernel argument [offset, offset+range) of `b` binds:
 * the buffer itself at offset 0, otherwise a sub-buffer (cached on the
 * buffer). *out_release is set when the caller must release it after the
 * enqueue. */
xhal_status_t ocl_buffer_arg_mem(struct xhal_plugin_buffer* b, uint64_t offset,
                                 uint64_t range, cl_mem* out_mem,
                                 int* out_release);
xhal_status_t ocl_buffer_alloc(xhal_plugin_device_t device, uint64_t size,
                               uint32_t flags, xhal_plugin_buffer_t* out);
void ocl_buffer_free(xhal_plugin_device_t device, xhal_plugin_buffer_t buffer);
void ocl_buffer_retain(struct xhal_plugin_buffer* b);
void ocl_buffer_release(struct xhal_plugin_buffer* b);
xhal_status_t ocl_buffer_map(xhal_plugin_device_t device,
                             xhal_plugin_buffer_t buffer, uint64_t offset,
                             uint64_t size, uint32_t map_flags, void** out_ptr);
xhal_status_t ocl_buffer_unmap(xhal_plugin_device_t device,
                               xhal_plugin_buffer_t buffer, void* ptr);

/* ocl_hostmem.c */
xhal_status_t ocl_host_alloc(xhal_plugin_device_t device, uint64_t size,
                             void** out_ptr);
void ocl_host_free(xhal_plugin_device_t device, void* ptr);
/* Frees what the host left (device_close). */
void ocl_host_release_all(struct xhal_plugin_device* device);

/* ocl_stream.c */
void ocl_fail_release(ocl_fail_t* fail);
/* Records that work failed at `point` with `status` because of `cause`
 * (the earliest point wins). */
void ocl_fail_set(ocl_fail_t* fail, uint64_t point, xhal_status_t status,
                  const char* cause);
/* Copies the cause of the recorded failure into `buf`. */
void ocl_fail_cause(ocl_fail_t* fail, char* buf, size_t size);
/* XHAL_OK, or the failure if the stream failed before `seq`. */
xhal_status_t ocl_fail_check(ocl_fail_t* fail, uint64_t seq);
static inline int ocl_stream_failed(const struct xhal_plugin_stream* s) {
  return atomic_load_explicit(&s->fail->failed, memory_order_acquire);
}
xhal_status_t ocl_stream_create(xhal_plugin_device_t device, uint32_t flags,
                                xhal_plugin_stream_t* out);
void ocl_stream_destroy(xhal_plugin_stream_t s);
xhal_status_t ocl_stream_flush(xhal_plugin_stream_t s);
xhal_status_t ocl_stream_synchronize(xhal_plugin_stream_t s);
xhal_status_t ocl_enqueue_write(xhal_plugin_stream_t s,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size);
xhal_status_t ocl_enqueue_read(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, void* dst, uint64_t size);
xhal_status_t ocl_enqueue_copy(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, xhal_plugin_buffer_t dst,
                               uint64_t dst_offset, uint64_t size);
xhal_status_t ocl_enqueue_fill(xhal_plugin_stream_t s, xhal_plugin_buffer_t dst,
                               uint64_t offset, uint64_t size,
                               const void* pattern, uint32_t pattern_size);
/* Gives a deferred transfer to OpenCL (host thread). */
xhal_status_t ocl_transfer_run(struct xhal_plugin_stream* s,
                               const ocl_cmd_t* cmd);

/* ocl_hostfn.c */
xhal_status_t ocl_enqueue_host_func(xhal_plugin_stream_t s, xhal_host_func_t fn,
                                    void* user_data);
/* Starts a submission: locks s->mu and returns 1 when the command must
 * be deferred (ocl_submit_defer), 0 when it goes to OpenCL now. Either
 * way the caller ends with ocl_submit_end. */
int ocl_submit_begin(struct xhal_plugin_stream* s);
/* Queues `cmd` (moved into the job; the caller gives up its references
 * on success) behind the stream's host-thread jobs. s->mu held. */
xhal_status_t ocl_submit_defer(struct xhal_plugin_stream* s,
                               const ocl_cmd_t* cmd);
void ocl_submit_end(struct xhal_plugin_stream* s);
/* Releases what a command owns. */
void ocl_cmd_release(ocl_cmd_t* cmd);
/* Waits until the host thread ran every queued job. */
void ocl_hostfn_drain(struct xhal_plugin_stream* s);
/* Stops the host thread after its queued jobs ran. */
void ocl_hostfn_shutdown(struct xhal_plugin_stream* s);

/* ocl_event.c */
xhal_status_t ocl_event_create(xhal_plugin_device_t device,
                               xhal_plugin_event_t* out);
void ocl_event_destroy(xhal_plugin_event_t event);
xhal_status_t ocl_event_record(xhal_plugin_event_t event,
                               xhal_plugin_stream_t s);
xhal_status_t ocl_event_wait(xhal_plugin_event_t event, uint64_t timeout_ns);
xhal_status_t ocl_event_query(xhal_plugin_event_t event);
xhal_status_t ocl_event_elapsed(xhal_plugin_event_t start,
                                xhal_plugin_event_t end, uint64_t* out_ns);
xhal_status_t ocl_stream_wait_event(xhal_plugin_stream_t s,
                                    xhal_plugin_event_t event);
/* Waits for a recording forever and returns its status (host thread). */
xhal_status_t ocl_record_wait(const struct xhal_plugin_context* ctx,
                              const ocl_record_t* rec);
void ocl_record_release(ocl_record_t* rec);

/* ocl_cache.c */
/* Builds `count` sources for the device, through the disk cache when
 * it is on. On a compile error returns XHAL_ERROR_BUILD_FAILED with the
 * log copied to `log` (when given). */
xhal_status_t ocl_build_program(struct xhal_plugin_device* dev,
                                const char* const* sources,
                                const size_t* lengths, uint32_t count,
                                const char* options, char* log,
                                uint64_t log_capacity, cl_program* out);
/* The cache directory from the environment ("" when off). */
void ocl_cache_dir_init(struct xhal_plugin_context* ctx);
/* Small text records in the cache directory (tuning results): read into
 * buf (NUL-terminated) / written atomically. 0 on success. */
int ocl_cache_read_text(const struct xhal_plugin_context* ctx, const char* name,
                        char* buf, size_t cap);
int ocl_cache_write_text(const struct xhal_plugin_context* ctx,
                         const char* name, const char* text);
uint64_t ocl_hash64(uint64_t seed, const void* data, size_t n);

/* ocl_tune.c */
/* Measures matmul tile candidates on CPU-class devices once and keeps
 * the result in the cache directory (dev->tuned). dev->prog_mu held. */
void ocl_tune_tiles(struct xhal_plugin_device* dev);

/* ocl_program.c */
xhal_status_t ocl_program_build(xhal_plugin_device_t device,
                                const xhal_plugin_program_desc_t* desc,
                                xhal_plugin_program_t* out);
void ocl_program_destroy(xhal_plugin_program_t program);
xhal_status_t ocl_kernel_create(xhal_plugin_program_t program, const char* name,
                                xhal_plugin_kernel_t* out);
void ocl_kernel_destroy(xhal_plugin_kernel_t kernel);
void ocl_kernel_unref(struct xhal_plugin_kernel* k);
/* Gives a deferred kernel launch to OpenCL (host thread). */
xhal_status_t ocl_kernel_run(struct xhal_plugin_stream* s,
                             const ocl_cmd_t* cmd);
xhal_status_t ocl_enqueue_kernel(xhal_plugin_stream_t s,
                                 xhal_plugin_kernel_t kernel,
                                 const xhal_launch_t* launch,
                                 const xhal_plugin_kernel_arg_t* args,
                                 uint32_t num_args);

/* ocl_ops.c */
xhal_status_t ocl_register_ops(struct xhal_plugin_context* ctx);
void ocl_ops_release(struct xhal_plugin_device* dev);

#endif /* XHAL_OCL_INTERNAL_H_ */
