/*
 * cu_internal.h - objects of the CUDA plugin and the functions its files
 * share. Nothing here is exported: the plugin's only public symbol is
 * xhal_plugin_query (cu_plugin.c).
 *
 * The plugin links no CUDA library. init() opens the driver
 * (libcuda.so.1) with dlopen and resolves its entry points through
 * cuGetProcAddress; cuBLAS and NVRTC are opened the same way on first
 * use. A machine without a driver gets a plugin with zero devices and
 * the reason in the log (cu_loader.c).
 *
 * Object map:
 *   context  one per host instance: the driver table, the devices found.
 *   device   one per device_open: the device's primary CUDA context, the
 *            operator module (NVRTC, built on first use) and a cuBLAS
 *            handle per stream.
 *   buffer   a cuMemAlloc allocation.
 *   stream   a CUstream (non-blocking) plus, once a host function was
 *            enqueued, a host thread of its own (cu_stream.c).
 *   event    its latest recording (cu_record_t), shared with waiters.
 *
 * Deferred submission: while a stream has host-thread jobs in flight
 * (host functions, waits on recordings not yet given to CUDA), its later
 * commands are queued in the plugin and submitted by the stream's host
 * thread in order, or dropped once the stream failed. A CUDA stream
 * cannot skip work already enqueued behind a host callback, and CUDA
 * runs every host callback of a process on one driver thread, so a
 * blocking host function there would hold back every other stream's
 * host functions (R-STR-7): neither is acceptable, hence the host thread.
 */
#ifndef XHAL_CU_INTERNAL_H_
#define XHAL_CU_INTERNAL_H_

#include <cuda.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <xhal/xhal_plugin.h>

/* ------------------------------------------------------------ driver */

/* Driver entry points, resolved by cuGetProcAddress at the header's
 * CUDA_VERSION so each pointer matches the prototype it is called
 * through. */
typedef struct cu_driver {
  void* lib; /* dlopen handle of libcuda.so.1 */
  int version;
  __typeof__(cuInit)* Init;
  __typeof__(cuDriverGetVersion)* DriverGetVersion;
  __typeof__(cuGetErrorName)* GetErrorName;
  __typeof__(cuGetErrorString)* GetErrorString;
  __typeof__(cuDeviceGetCount)* DeviceGetCount;
  __typeof__(cuDeviceGet)* DeviceGet;
  __typeof__(cuDeviceGetName)* DeviceGetName;
  __typeof__(cuDeviceGetAttribute)* DeviceGetAttribute;
  __typeof__(cuDeviceTotalMem)* DeviceTotalMem;
  __typeof__(cuDeviceGetUuid)* DeviceGetUuid;
  __typeof__(cuDevicePrimaryCtxRetain)* DevicePrimaryCtxRetain;
  __typeof__(cuDevicePrimaryCtxRelease)* DevicePrimaryCtxRelease;
  __typeof__(cuCtxSetCurrent)* CtxSetCurrent;
  __typeof__(cuMemAlloc)* MemAlloc;
  __typeof__(cuMemFree)* MemFree;
  __typeof__(cuMemAllocAsync)* MemAllocAsync;
  __typeof__(cuMemFreeAsync)* MemFreeAsync;
  __typeof__(cuMemHostAlloc)* MemHostAlloc;
  __typeof__(cuMemFreeHost)* MemFreeHost;
  __typeof__(cuMemcpyHtoDAsync)* MemcpyHtoDAsync;
  __typeof__(cuMemcpyDtoHAsync)* MemcpyDtoHAsync;
  __typeof__(cuMemcpyDtoDAsync)* MemcpyDtoDAsync;
  __typeof__(cuMemsetD8Async)* MemsetD8Async;
  __typeof__(cuMemsetD16Async)* MemsetD16Async;
  __typeof__(cuMemsetD32Async)* MemsetD32Async;
  __typeof__(cuMemsetD2D8Async)* MemsetD2D8Async;
  __typeof__(cuStreamCreate)* StreamCreate;
  __typeof__(cuStreamDestroy)* StreamDestroy;
  __typeof__(cuStreamSynchronize)* StreamSynchronize;
  __typeof__(cuStreamWaitEvent)* StreamWaitEvent;
  __typeof__(cuEventCreate)* EventCreate;
  __typeof__(cuEventDestroy)* EventDestroy;
  __typeof__(cuEventRecord)* EventRecord;
  __typeof__(cuEventQuery)* EventQuery;
  __typeof__(cuEventSynchronize)* EventSynchronize;
  __typeof__(cuEventElapsedTime)* EventElapsedTime;
  __typeof__(cuModuleLoadData)* ModuleLoadData;
  __typeof__(cuModuleUnload)* ModuleUnload;
  __typeof__(cuModuleGetFunction)* ModuleGetFunction;
  __typeof__(cuFuncGetAttribute)* FuncGetAttribute;
  __typeof__(cuFuncSetAttribute)* FuncSetAttribute;
  __typeof__(cuLaunchKernel)* LaunchKernel;
} cu_driver_t;

/* cuBLAS entry points (libcublas, opened on the first matmul). */
typedef int cu_blas_status_t;
typedef struct cu_blas {
  void* lib;
  int (*Create)(void** handle);
  int (*Destroy)(void* handle);
  int (*SetStream)(void* handle, CUstream stream);
  int (*GemmEx)(void* handle, int transa, int transb, int m, int n, int k,
                const void* alpha, const void* A, int Atype, int lda,
                const void* B, int Btype, int ldb, const void* beta, void* C,
                int Ctype, int ldc, int computeType, int algo);
} cu_blas_t;

/* NVRTC entry points (libnvrtc, opened on the first program build). */
typedef struct cu_nvrtc {
  void* lib;
  int (*Version)(int* major, int* minor);
  int (*CreateProgram)(void** prog, const char* src, const char* name,
                       int num_headers, const char* const* headers,
                       const char* const* include_names);
  int (*DestroyProgram)(void** prog);
  int (*CompileProgram)(void* prog, int num_options,
                        const char* const* options);
  int (*GetCUBINSize)(void* prog, size_t* size);
  int (*GetCUBIN)(void* prog, char* cubin);
  int (*GetProgramLogSize)(void* prog, size_t* size);
  int (*GetProgramLog)(void* prog, char* log);
  const char* (*GetErrorString)(int result);
} cu_nvrtc_t;

/* ------------------------------------------------------------ context */

typedef struct cu_device_info {
  CUdevice dev;
  xhal_device_properties_t props;
  int cc_major, cc_minor;
  int max_threads; /* per block */
  int max_smem;    /* dynamic shared memory a block may opt in to */
} cu_device_info_t;

struct xhal_plugin_context {
  xhal_host_services_t host;
  cu_driver_t cu;
  uint32_t device_count;
  cu_device_info_t* devices;
  /* Why there are no devices ("" when there are). */
  char reason[512];
  /* Toolkit libraries, opened once on first use under lib_mu. */
  pthread_mutex_t lib_mu;
  int blas_state; /* 0 untried, 1 ready, -1 missing */
  cu_blas_t blas;
  int nvrtc_state;
  cu_nvrtc_t nvrtc;
  char blas_error[512];
  char nvrtc_error[512];
  char cache_dir[1024]; /* "" when the disk cache is off */
  /* Names of the registered operator implementations. */
  char op_names[64][32];
  uint32_t op_name_count;
};

/* ------------------------------------------------------------ devices */

typedef struct cu_module cu_module_t;

struct xhal_plugin_device {
  struct xhal_plugin_context* ctx;
  const cu_device_info_t* info;
  uint32_t index;
  CUcontext cuctx;    /* the primary context, retained */
  pthread_mutex_t mu; /* ops module build, cuBLAS handle pool */
  int ops_state;      /* 0 not built, 1 ready, -1 failed */
  xhal_status_t ops_status;
  CUmodule ops_module;
  CUfunction fn[32];   /* operator kernels (cu_ops.c) */
  void* blas_free[64]; /* idle cuBLAS handles */
  uint32_t blas_free_count;
};

/* ------------------------------------------------------------ buffers */

struct xhal_plugin_buffer {
  struct xhal_plugin_device* dev;
  CUdeviceptr ptr;
  uint64_t size;
  /* buffer_free's reference plus one per deferred command using it. */
  atomic_uint refs;
};

/* ------------------------------------------------------------ records */

/* One recording of an event. The event holds one reference, and so
 * does every deferred command or waiter that needs it. */
typedef struct cu_record {
  atomic_uint refs;
  struct xhal_plugin_device* dev;
  CUevent ev;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* 0 while the recording waits in a stream's deferred queue; 1 once it
   * was given to CUDA (status XHAL_OK) or dropped because the stream had
   * failed (status = the failure). */
  int resolved;
  xhal_status_t status;
} cu_record_t;

/* ------------------------------------------------------------ streams */

typedef enum cu_cmd_kind {
  CU_CMD_HOST_FUNC = 1,
  CU_CMD_WAIT, /* wait on the host for a recording */
  CU_CMD_WRITE,
  CU_CMD_READ,
  CU_CMD_COPY,
  CU_CMD_FILL,
  CU_CMD_KERNEL,
  CU_CMD_OP,
  CU_CMD_RECORD,
  CU_CMD_EVENT_WAIT, /* the device waits for a recording in CUDA */
} cu_cmd_kind_t;

struct xhal_plugin_stream;
typedef xhal_status_t (*cu_op_fn_t)(struct xhal_plugin_stream* s,
                                    const xhal_plugin_op_call_t* call);

/* One command, submitted at once or deferred. It owns a reference to
 * every buffer, kernel and record it names while deferred. */
typedef struct cu_cmd {
  cu_cmd_kind_t kind;
  struct cu_cmd* next;
  xhal_host_func_t fn;
  void* user_data;
  cu_record_t* rec;
  struct xhal_plugin_buffer* src;
  struct xhal_plugin_buffer* dst;
  uint64_t src_offset;
  uint64_t dst_offset;
  uint64_t size;
  const void* host_src;
  void* host_dst;
  uint8_t pattern[4];
  uint32_t pattern_size;
  /* kernel: launch shape and argument bytes (one 8-byte slot per
   * buffer argument, scalars copied) */
  struct xhal_plugin_kernel* kernel;
  uint32_t grid[3];
  uint32_t block[3];
  uint32_t smem;
  uint32_t num_params;
  uint8_t* arg_bytes; /* owned copy when deferred */
  uint32_t arg_bytes_size;
  uint32_t* arg_offsets;                /* into arg_bytes, per param */
  struct xhal_plugin_buffer** arg_bufs; /* retained, num_params entries */
  /* operator */
  cu_op_fn_t op_fn;
  xhal_plugin_op_call_t call;
} cu_cmd_t;

struct xhal_plugin_stream {
  struct xhal_plugin_device* dev;
  CUstream cu;
  /* Set once on the first failure; enqueues check it without the lock. */
  atomic_int failed;
  xhal_status_t fail_status;
  /* cuBLAS handle bound to this stream, taken from the device's pool on
   * the first matmul. */
  void* blas;
  pthread_mutex_t mu; /* everything below; also orders submission */
  pthread_cond_t cv;
  pthread_cond_t idle_cv;
  pthread_t thread;
  int thread_started;
  int stop;
  cu_cmd_t* head;
  cu_cmd_t* tail;
  uint32_t inflight; /* deferred jobs not yet finished */
};

/* ------------------------------------------------------------- events */

struct xhal_plugin_event {
  struct xhal_plugin_device* dev;
  pthread_mutex_t mu;
  cu_record_t* rec; /* NULL until recorded */
};

/* ------------------------------------------------- programs, kernels */

struct xhal_plugin_program {
  struct xhal_plugin_device* dev;
  atomic_uint refs; /* program_destroy's plus one per kernel */
  CUmodule module;
};

struct xhal_plugin_kernel {
  struct xhal_plugin_device* dev;
  struct xhal_plugin_program* program;
  atomic_uint refs; /* kernel_destroy's plus deferred launches' */
  CUfunction fn;
  int max_threads;
};

/* ------------------------------------------------------------ helpers */

/* cu_error.c */
xhal_status_t cu_error(const struct xhal_plugin_context* ctx,
                       xhal_status_t status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "<call> failed: CUDA_ERROR_NAME (text)" with the mapped status. */
xhal_status_t cu_check(const struct xhal_plugin_context* ctx, CUresult r,
                       const char* call);
xhal_status_t cu_status(CUresult r);
void cu_log(const struct xhal_plugin_context* ctx, xhal_log_level_t level,
            const char* fmt, ...) __attribute__((format(printf, 3, 4)));

/* cu_loader.c */
/* Opens the driver; on failure fills ctx->reason and returns nonzero. */
int cu_driver_open(struct xhal_plugin_context* ctx);
void cu_driver_close(struct xhal_plugin_context* ctx);
/* Opens cuBLAS / NVRTC once; XHAL_ERROR_UNSUPPORTED with a message when
 * the library is not installed. */
xhal_status_t cu_blas_get(struct xhal_plugin_context* ctx,
                          const cu_blas_t** out);
xhal_status_t cu_nvrtc_get(struct xhal_plugin_context* ctx,
                           const cu_nvrtc_t** out);
void cu_libs_close(struct xhal_plugin_context* ctx);

/* Makes the device's context current on the calling thread. */
static inline xhal_status_t cu_use(struct xhal_plugin_device* dev) {
  CUresult r = dev->ctx->cu.CtxSetCurrent(dev->cuctx);
  return r == CUDA_SUCCESS ? XHAL_OK : cu_check(dev->ctx, r, "cuCtxSetCurrent");
}

/* cu_memory.c */
xhal_status_t cu_buffer_alloc(xhal_plugin_device_t device, uint64_t size,
                              uint32_t flags, xhal_plugin_buffer_t* out);
void cu_buffer_free(xhal_plugin_device_t device, xhal_plugin_buffer_t buffer);
void cu_buffer_retain(struct xhal_plugin_buffer* b);
void cu_buffer_release(struct xhal_plugin_buffer* b);
xhal_status_t cu_host_alloc(xhal_plugin_device_t device, uint64_t size,
                            void** out_ptr);
void cu_host_free(xhal_plugin_device_t device, void* ptr);

/* cu_stream.c */
xhal_status_t cu_stream_create(xhal_plugin_device_t device, uint32_t flags,
                               xhal_plugin_stream_t* out);
void cu_stream_destroy(xhal_plugin_stream_t s);
xhal_status_t cu_stream_synchronize(xhal_plugin_stream_t s);
xhal_status_t cu_enqueue_write(xhal_plugin_stream_t s, xhal_plugin_buffer_t dst,
                               uint64_t dst_offset, const void* src,
                               uint64_t size);
xhal_status_t cu_enqueue_read(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                              uint64_t src_offset, void* dst, uint64_t size);
xhal_status_t cu_enqueue_copy(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                              uint64_t src_offset, xhal_plugin_buffer_t dst,
                              uint64_t dst_offset, uint64_t size);
xhal_status_t cu_enqueue_fill(xhal_plugin_stream_t s, xhal_plugin_buffer_t dst,
                              uint64_t offset, uint64_t size,
                              const void* pattern, uint32_t pattern_size);
xhal_status_t cu_enqueue_host_func(xhal_plugin_stream_t s, xhal_host_func_t fn,
                                   void* user_data);
/* Submits `cmd` now, or defers it behind the stream's host-thread jobs
 * (moving its references into the queue). Returns the stream's failure
 * when it had failed already. */
xhal_status_t cu_submit(struct xhal_plugin_stream* s, cu_cmd_t* cmd);
/* Fails the stream with `status` (the first failure stays). */
void cu_stream_fail(struct xhal_plugin_stream* s, xhal_status_t status);
/* Releases what a command owns. */
void cu_cmd_release(cu_cmd_t* cmd);

/* cu_event.c */
xhal_status_t cu_event_create(xhal_plugin_device_t device,
                              xhal_plugin_event_t* out);
void cu_event_destroy(xhal_plugin_event_t event);
xhal_status_t cu_event_record(xhal_plugin_event_t event,
                              xhal_plugin_stream_t s);
xhal_status_t cu_event_wait(xhal_plugin_event_t event, uint64_t timeout_ns);
xhal_status_t cu_event_query(xhal_plugin_event_t event);
xhal_status_t cu_event_elapsed(xhal_plugin_event_t start,
                               xhal_plugin_event_t end, uint64_t* out_ns);
xhal_status_t cu_stream_wait_event(xhal_plugin_stream_t s,
                                   xhal_plugin_event_t event);
void cu_record_release(cu_record_t* rec);
/* Marks a recording resolved (given to CUDA, or dropped with `status`). */
void cu_record_resolve(cu_record_t* rec, xhal_status_t status);
/* Waits (forever) for a recording to complete; returns its status. */
xhal_status_t cu_record_wait(cu_record_t* rec);

/* cu_program.c */
/* Compiles CUDA C for the device with NVRTC into a cubin (through the
 * disk cache when on). The caller frees *out_image. */
xhal_status_t cu_compile(struct xhal_plugin_device* dev, const char* source,
                         uint64_t source_size, const char* options, char* log,
                         uint64_t log_capacity, void** out_image);
xhal_status_t cu_program_build(xhal_plugin_device_t device,
                               const xhal_plugin_program_desc_t* desc,
                               xhal_plugin_program_t* out);
void cu_program_destroy(xhal_plugin_program_t program);
xhal_status_t cu_kernel_create(xhal_plugin_program_t program, const char* name,
                               xhal_plugin_kernel_t* out);
void cu_kernel_destroy(xhal_plugin_kernel_t kernel);
void cu_kernel_unref(struct xhal_plugin_kernel* k);
xhal_status_t cu_enqueue_kernel(xhal_plugin_stream_t s,
                                xhal_plugin_kernel_t kernel,
                                const xhal_launch_t* launch,
                                const xhal_plugin_kernel_arg_t* args,
                                uint32_t num_args);
/* Launches a kernel command (in submission order, on s->cu). */
xhal_status_t cu_kernel_run(struct xhal_plugin_stream* s, const cu_cmd_t* cmd);

/* cu_ops.c */
xhal_status_t cu_register_ops(struct xhal_plugin_context* ctx);
void cu_ops_release(struct xhal_plugin_device* dev);
/* Gives the stream's cuBLAS handle back to the device's pool. */
void cu_ops_stream_release(struct xhal_plugin_stream* s);

#endif /* XHAL_CU_INTERNAL_H_ */
