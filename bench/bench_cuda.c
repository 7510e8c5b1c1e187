/*
 * bench_cuda.c - the CUDA plugin's figures against the same work done
 * with the CUDA driver API and cuBLAS directly, in one run on the same
 * GPU (the device's primary context on both sides):
 *
 *   cuda.launch_latency      empty kernel + synchronize vs cuLaunchKernel
 *                            + cuStreamSynchronize
 *   cuda.launch_throughput   back-to-back launches, one synchronize
 *   cuda.copy_h2d_pinned     64 MiB from xhal_host_alloc memory vs
 *   cuda.copy_d2h_pinned     cuMemcpyHtoDAsync/DtoHAsync from
 *                            cuMemHostAlloc memory, + synchronize
 *   cuda.alloc_free          1 MiB xhal_pool_alloc_async + free_async vs
 *                            cuMemAllocAsync + cuMemFreeAsync, same stream
 *   cuda.matmul_f32_4096     xhal matmul vs cublasGemmEx with the same
 *   cuda.matmul_f16_8192     arguments on buffers of the same size
 *
 * The bench opens libcuda and libcublas with dlopen, as the plugin does,
 * so it starts (and skips these figures) on machines without them. The
 * raw empty kernel is PTX loaded by the driver; the xhal one is CUDA C
 * built through xhal_program_build: both compile to an empty kernel.
 */
#define _GNU_SOURCE

#include <cuda.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal_pool.h>

#include "bench.h"

#ifndef XHAL_CUDA_MAJOR
#define XHAL_CUDA_MAJOR "13"
#endif
#ifndef XHAL_CUDA_LIBDIR
#define XHAL_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

enum { kCopyBytes = 64 << 20, kPoolBytes = 1 << 20, kLaunches = 20000 };

typedef struct raw_cuda {
  void* lib;
  void* blas_lib;
  __typeof__(cuInit)* Init;
  __typeof__(cuDeviceGet)* DeviceGet;
  __typeof__(cuDeviceGetName)* DeviceGetName;
  __typeof__(cuDevicePrimaryCtxRetain)* DevicePrimaryCtxRetain;
  __typeof__(cuDevicePrimaryCtxRelease)* DevicePrimaryCtxRelease;
  __typeof__(cuCtxSetCurrent)* CtxSetCurrent;
  __typeof__(cuStreamCreate)* StreamCreate;
  __typeof__(cuStreamDestroy)* StreamDestroy;
  __typeof__(cuStreamSynchronize)* StreamSynchronize;
  __typeof__(cuModuleLoadData)* ModuleLoadData;
  __typeof__(cuModuleUnload)* ModuleUnload;
  __typeof__(cuModuleGetFunction)* ModuleGetFunction;
  __typeof__(cuLaunchKernel)* LaunchKernel;
  __typeof__(cuMemAlloc)* MemAlloc;
  __typeof__(cuMemFree)* MemFree;
  __typeof__(cuMemAllocAsync)* MemAllocAsync;
  __typeof__(cuMemFreeAsync)* MemFreeAsync;
  __typeof__(cuMemHostAlloc)* MemHostAlloc;
  __typeof__(cuMemFreeHost)* MemFreeHost;
  __typeof__(cuMemcpyHtoDAsync)* MemcpyHtoDAsync;
  __typeof__(cuMemcpyDtoHAsync)* MemcpyDtoHAsync;
  __typeof__(cuMemsetD32Async)* MemsetD32Async;
  int (*BlasCreate)(void** handle);
  int (*BlasDestroy)(void* handle);
  int (*BlasSetStream)(void* handle, CUstream stream);
  int (*GemmEx)(void* handle, int transa, int transb, int m, int n, int k,
                const void* alpha, const void* A, int Atype, int lda,
                const void* B, int Btype, int ldb, const void* beta, void* C,
                int Ctype, int ldc, int computeType, int algo);
  CUdevice dev;
  CUcontext ctx;
  CUstream stream;
  CUmodule module;
  CUfunction empty;
  void* blas;
} raw_cuda_t;

static const char kEmptyPtx[] =
    ".version 7.0\n.target sm_50\n.address_size 64\n"
    ".visible .entry empty()\n{\n  ret;\n}\n";
static const char kEmptyCuda[] = "extern \"C\" __global__ void empty() {}\n";

typedef CUresult (*get_proc_fn)(const char*, void**, int, cuuint64_t,
                                CUdriverProcAddressQueryResult*);

static int sym(get_proc_fn get, const char* name, void* out) {
  void* fn = NULL;
  CUdriverProcAddressQueryResult qs;
  if (get(name, &fn, CUDA_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &qs) !=
          CUDA_SUCCESS ||
      fn == NULL)
    return 0;
  memcpy(out, &fn, sizeof(fn));
  return 1;
}

static int lsym(void* lib, const char* name, void* out) {
  void* fn = dlsym(lib, name);
  memcpy(out, &fn, sizeof(fn));
  return fn != NULL;
}

/* Opens the driver and cuBLAS and the device named `name`. */
static int raw_open(raw_cuda_t* r, const char* name, const char** why) {
  get_proc_fn get = NULL;
  int count = 0;
  memset(r, 0, sizeof(*r));
  r->lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!r->lib || !lsym(r->lib, "cuGetProcAddress_v2", &get)) {
    *why = "raw side: cannot load libcuda.so.1";
    return -1;
  }
  if (!sym(get, "cuInit", &r->Init) ||
      !sym(get, "cuDeviceGet", &r->DeviceGet) ||
      !sym(get, "cuDeviceGetName", &r->DeviceGetName) ||
      !sym(get, "cuDevicePrimaryCtxRetain", &r->DevicePrimaryCtxRetain) ||
      !sym(get, "cuDevicePrimaryCtxRelease", &r->DevicePrimaryCtxRelease) ||
      !sym(get, "cuCtxSetCurrent", &r->CtxSetCurrent) ||
      !sym(get, "cuStreamCreate", &r->StreamCreate) ||
      !sym(get, "cuStreamDestroy", &r->StreamDestroy) ||
      !sym(get, "cuStreamSynchronize", &r->StreamSynchronize) ||
      !sym(get, "cuModuleLoadData", &r->ModuleLoadData) ||
      !sym(get, "cuModuleUnload", &r->ModuleUnload) ||
      !sym(get, "cuModuleGetFunction", &r->ModuleGetFunction) ||
      !sym(get, "cuLaunchKernel", &r->LaunchKernel) ||
      !sym(get, "cuMemAlloc", &r->MemAlloc) ||
      !sym(get, "cuMemFree", &r->MemFree) ||
      !sym(get, "cuMemAllocAsync", &r->MemAllocAsync) ||
      !sym(get, "cuMemFreeAsync", &r->MemFreeAsync) ||
      !sym(get, "cuMemHostAlloc", &r->MemHostAlloc) ||
      !sym(get, "cuMemFreeHost", &r->MemFreeHost) ||
      !sym(get, "cuMemcpyHtoDAsync", &r->MemcpyHtoDAsync) ||
      !sym(get, "cuMemcpyDtoHAsync", &r->MemcpyDtoHAsync) ||
      !sym(get, "cuMemsetD32Async", &r->MemsetD32Async)) {
    *why = "raw side: the driver lacks an entry point";
    return -1;
  }
  if (r->Init(0) != CUDA_SUCCESS) {
    *why = "raw side: cuInit failed";
    return -1;
  }
  /* The plugin's device of the same name (the first such). */
  for (int i = 0; i < 64; ++i) {
    char dev_name[256];
    CUdevice d;
    if (r->DeviceGet(&d, i) != CUDA_SUCCESS) break;
    if (r->DeviceGetName(dev_name, sizeof(dev_name), d) == CUDA_SUCCESS &&
        strcmp(dev_name, name) == 0) {
      r->dev = d;
      ++count;
      break;
    }
  }
  if (count == 0) {
    *why = "raw side: no CUDA device of the plugin device's name";
    return -1;
  }
  if (r->DevicePrimaryCtxRetain(&r->ctx, r->dev) != CUDA_SUCCESS ||
      r->CtxSetCurrent(r->ctx) != CUDA_SUCCESS ||
      r->StreamCreate(&r->stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
      r->ModuleLoadData(&r->module, kEmptyPtx) != CUDA_SUCCESS ||
      r->ModuleGetFunction(&r->empty, r->module, "empty") != CUDA_SUCCESS) {
    *why = "raw side: cannot set up a stream and an empty kernel";
    return -1;
  }
  char path[600];
  snprintf(path, sizeof(path), "libcublas.so.%s", XHAL_CUDA_MAJOR);
  r->blas_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!r->blas_lib) {
    snprintf(path, sizeof(path), "%s/libcublas.so.%s", XHAL_CUDA_LIBDIR,
             XHAL_CUDA_MAJOR);
    r->blas_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  }
  if (r->blas_lib && lsym(r->blas_lib, "cublasCreate_v2", &r->BlasCreate) &&
      lsym(r->blas_lib, "cublasDestroy_v2", &r->BlasDestroy) &&
      lsym(r->blas_lib, "cublasSetStream_v2", &r->BlasSetStream) &&
      lsym(r->blas_lib, "cublasGemmEx", &r->GemmEx) &&
      r->BlasCreate(&r->blas) == 0 && r->BlasSetStream(r->blas, r->stream) == 0)
    return 0;
  r->blas = NULL;
  return 0;
}

static void raw_close(raw_cuda_t* r) {
  if (!r->ctx) return;
  r->CtxSetCurrent(r->ctx);
  if (r->blas) r->BlasDestroy(r->blas);
  if (r->module) r->ModuleUnload(r->module);
  if (r->stream) r->StreamDestroy(r->stream);
  r->DevicePrimaryCtxRelease(r->dev);
}

static int failed(xhal_status_t status, const char* what) {
  if (status == XHAL_OK) return 0;
  fprintf(stderr, "xhal-bench: cuda: %s: %s\n", what, xhal_last_error());
  return 1;
}

/* ------------------------------------------------------------ launches */

typedef struct hal_cuda {
  xhal_device_t device;
  xhal_stream_t stream;
  xhal_program_t program;
  xhal_kernel_t empty;
} hal_cuda_t;

static xhal_launch_t one_item(void) {
  xhal_launch_t l;
  memset(&l, 0, sizeof(l));
  l.struct_size = (uint32_t)sizeof(l);
  l.work_dim = 1;
  l.global_size[0] = 1;
  return l;
}

static double hal_latency(hal_cuda_t* h, int samples) {
  double t[64];
  xhal_launch_t l = one_item();
  for (int i = -3; i < samples; ++i) {
    double t0 = bench_now_ns();
    if (failed(xhal_stream_enqueue_kernel(h->stream, h->empty, &l, NULL, 0),
               "enqueue_kernel") ||
        failed(xhal_stream_synchronize(h->stream), "synchronize"))
      return NAN;
    if (i >= 0) t[i] = bench_now_ns() - t0;
  }
  return bench_median(t, samples);
}

static double raw_latency(raw_cuda_t* r, int samples) {
  double t[64];
  r->CtxSetCurrent(r->ctx);
  for (int i = -3; i < samples; ++i) {
    double t0 = bench_now_ns();
    if (r->LaunchKernel(r->empty, 1, 1, 1, 1, 1, 1, 0, r->stream, NULL, NULL) !=
            CUDA_SUCCESS ||
        r->StreamSynchronize(r->stream) != CUDA_SUCCESS)
      return NAN;
    if (i >= 0) t[i] = bench_now_ns() - t0;
  }
  return bench_median(t, samples);
}

static double hal_throughput(hal_cuda_t* h, int n) {
  xhal_launch_t l = one_item();
  double t0 = bench_now_ns();
  for (int i = 0; i < n; ++i)
    if (failed(xhal_stream_enqueue_kernel(h->stream, h->empty, &l, NULL, 0),
               "enqueue_kernel"))
      return NAN;
  if (failed(xhal_stream_synchronize(h->stream), "synchronize")) return NAN;
  return (bench_now_ns() - t0) / n;
}

static double raw_throughput(raw_cuda_t* r, int n) {
  r->CtxSetCurrent(r->ctx);
  double t0 = bench_now_ns();
  for (int i = 0; i < n; ++i)
    if (r->LaunchKernel(r->empty, 1, 1, 1, 1, 1, 1, 0, r->stream, NULL, NULL) !=
        CUDA_SUCCESS)
      return NAN;
  if (r->StreamSynchronize(r->stream) != CUDA_SUCCESS) return NAN;
  return (bench_now_ns() - t0) / n;
}

static void launches(hal_cuda_t* h, raw_cuda_t* r) {
  const int trials = bench_trials(21, 5);
  double xs[32], rs[32];
  if (bench_wants("cuda.launch_latency")) {
    for (int i = 0; i < trials; ++i) {
      if (bench_raw_first(i)) rs[i] = raw_latency(r, 40);
      xs[i] = hal_latency(h, 40);
      if (!bench_raw_first(i)) rs[i] = raw_latency(r, 40);
    }
    bench_report("cuda.launch_latency", bench_median(xs, trials) * 1e-3, "us",
                 "cuLaunchKernel + cuStreamSynchronize, same device",
                 bench_median(rs, trials) * 1e-3, BENCH_LOWER,
                 (bench_target_t){.max_ratio = 1.10});
  }
  if (bench_wants("cuda.launch_throughput")) {
    const int n = g_bench->quick ? 2000 : kLaunches;
    for (int i = -1; i < trials; ++i) {
      double rv = bench_raw_first(i) ? raw_throughput(r, n) : NAN;
      double xv = hal_throughput(h, n);
      if (!bench_raw_first(i)) rv = raw_throughput(r, n);
      if (i >= 0) {
        xs[i] = xv;
        rs[i] = rv;
      }
    }
    bench_report("cuda.launch_throughput", bench_median(xs, trials), "ns",
                 "back-to-back cuLaunchKernel, one cuStreamSynchronize",
                 bench_median(rs, trials), BENCH_LOWER,
                 (bench_target_t){.max_ratio = 1.10});
  }
}

/* ------------------------------------------------------------ copies */

static void copies(hal_cuda_t* h, raw_cuda_t* r) {
  xhal_buffer_t buf = NULL;
  void* xhost = NULL;
  void* rhost = NULL;
  CUdeviceptr dptr = 0;
  const int trials = bench_trials(21, 3);
  if (!bench_wants("cuda.copy_h2d_pinned") &&
      !bench_wants("cuda.copy_d2h_pinned"))
    return;
  r->CtxSetCurrent(r->ctx);
  if (failed(xhal_buffer_alloc(h->device, kCopyBytes, 0, &buf),
             "buffer_alloc") ||
      failed(xhal_host_alloc(h->device, kCopyBytes, &xhost), "host_alloc") ||
      r->MemHostAlloc(&rhost, kCopyBytes, CU_MEMHOSTALLOC_PORTABLE) !=
          CUDA_SUCCESS ||
      r->MemAlloc(&dptr, kCopyBytes) != CUDA_SUCCESS) {
    bench_skip("cuda.copy_", "cannot allocate 64 MiB and its host memory");
    goto done;
  }
  memset(xhost, 3, kCopyBytes);
  memset(rhost, 3, kCopyBytes);
  for (int to_device = 1; to_device >= 0; --to_device) {
    const char* name =
        to_device ? "cuda.copy_h2d_pinned" : "cuda.copy_d2h_pinned";
    double xs[32], rs[32];
    if (!bench_wants(name)) continue;
    for (int i = -1; i < trials; ++i) {
      double x = 0, rv = 0;
      for (int side = 0; side < 2; ++side) {
        int raw_side = (side == 0) == (bench_raw_first(i) != 0);
        double t0 = bench_now_ns();
        if (raw_side) {
          r->CtxSetCurrent(r->ctx);
          CUresult e =
              to_device
                  ? r->MemcpyHtoDAsync(dptr, rhost, kCopyBytes, r->stream)
                  : r->MemcpyDtoHAsync(rhost, dptr, kCopyBytes, r->stream);
          if (e != CUDA_SUCCESS ||
              r->StreamSynchronize(r->stream) != CUDA_SUCCESS) {
            bench_skip(name, "a raw transfer failed");
            goto done;
          }
          rv = kCopyBytes / (bench_now_ns() - t0);
        } else {
          xhal_status_t s = to_device
                                ? xhal_stream_enqueue_write(h->stream, buf, 0,
                                                            xhost, kCopyBytes)
                                : xhal_stream_enqueue_read(h->stream, buf, 0,
                                                           xhost, kCopyBytes);
          if (failed(s, "transfer") ||
              failed(xhal_stream_synchronize(h->stream), "synchronize")) {
            bench_skip(name, "an xhal transfer failed");
            goto done;
          }
          x = kCopyBytes / (bench_now_ns() - t0);
        }
      }
      if (i >= 0) {
        xs[i] = x;
        rs[i] = rv;
      }
    }
    bench_report(name, bench_median(xs, trials), "GB/s",
                 to_device ? "cuMemcpyHtoDAsync from cuMemHostAlloc memory "
                             "+ cuStreamSynchronize"
                           : "cuMemcpyDtoHAsync into cuMemHostAlloc memory "
                             "+ cuStreamSynchronize",
                 bench_median(rs, trials), BENCH_HIGHER,
                 (bench_target_t){.min_ratio = 0.97});
  }
done:
  r->CtxSetCurrent(r->ctx);
  if (dptr) r->MemFree(dptr);
  if (rhost) r->MemFreeHost(rhost);
  if (xhost) (void)failed(xhal_host_free(h->device, xhost), "host_free");
  xhal_buffer_release(buf);
}

/* ------------------------------------------------------------ pool */

static double pool_trial(xhal_pool_t pool, xhal_stream_t stream, int pairs) {
  double t0 = bench_now_ns();
  for (int i = 0; i < pairs; ++i) {
    xhal_buffer_t b = NULL;
    if (failed(xhal_pool_alloc_async(pool, stream, kPoolBytes, &b),
               "pool_alloc_async") ||
        failed(xhal_pool_free_async(pool, stream, b), "pool_free_async"))
      return NAN;
  }
  if (failed(xhal_stream_synchronize(stream), "synchronize")) return NAN;
  return (bench_now_ns() - t0) / pairs;
}

static double raw_pool_trial(raw_cuda_t* r, int pairs) {
  r->CtxSetCurrent(r->ctx);
  double t0 = bench_now_ns();
  for (int i = 0; i < pairs; ++i) {
    CUdeviceptr p = 0;
    if (r->MemAllocAsync(&p, kPoolBytes, r->stream) != CUDA_SUCCESS ||
        r->MemFreeAsync(p, r->stream) != CUDA_SUCCESS)
      return NAN;
  }
  if (r->StreamSynchronize(r->stream) != CUDA_SUCCESS) return NAN;
  return (bench_now_ns() - t0) / pairs;
}

static void alloc_free(hal_cuda_t* h, raw_cuda_t* r) {
  xhal_pool_t pool = NULL;
  const int trials = bench_trials(21, 5);
  const int pairs = g_bench->quick ? 2000 : 20000;
  double xs[32], rs[32];
  if (!bench_wants("cuda.alloc_free")) return;
  if (failed(xhal_pool_create(h->device, NULL, &pool), "pool_create")) {
    bench_skip("cuda.alloc_free", xhal_last_error());
    return;
  }
  for (int i = -1; i < trials; ++i) {
    double rv = bench_raw_first(i) ? raw_pool_trial(r, pairs) : NAN;
    double x = pool_trial(pool, h->stream, pairs);
    if (!bench_raw_first(i)) rv = raw_pool_trial(r, pairs);
    if (isnan(x) || isnan(rv)) {
      bench_skip("cuda.alloc_free", "an allocation failed");
      xhal_pool_release(pool);
      return;
    }
    if (i >= 0) {
      xs[i] = x;
      rs[i] = rv;
    }
  }
  bench_report("cuda.alloc_free", bench_median(xs, trials), "ns",
               "cuMemAllocAsync + cuMemFreeAsync of 1 MiB on one stream "
               "(the driver's stream-ordered pool)",
               bench_median(rs, trials), BENCH_LOWER,
               (bench_target_t){.max_ratio = 1.2});
  xhal_pool_release(pool);
}

/* ------------------------------------------------------------ matmul */

static void matmul(hal_cuda_t* h, raw_cuda_t* r, const char* name,
                   xhal_dtype_t dtype, uint64_t n) {
  const uint64_t esize = xhal_dtype_size(dtype);
  const uint64_t bytes = n * n * esize;
  xhal_buffer_t buf[3] = {NULL, NULL, NULL};
  CUdeviceptr raw[3] = {0, 0, 0};
  const int trials = bench_trials(9, 3);
  const double flop = 2.0 * (double)n * (double)n * (double)n;
  const int type = dtype == XHAL_DTYPE_F16 ? 2 : 0; /* CUDA_R_16F/32F */
  double xs[16], rs[16];
  float alpha = 1.0f, beta = 0.0f;
  if (!bench_wants(name)) return;
  if (!r->blas) {
    bench_skip(name, "raw side: cannot load cuBLAS");
    return;
  }
  /* The same bytes on both sides: a constant pattern of small values
   * (0x3C00 is 1.0 in f16, 0x3A000000 about 4.9e-4 in f32). */
  uint32_t pattern = dtype == XHAL_DTYPE_F16 ? 0x3C003C00u : 0x3A000000u;
  for (int i = 0; i < 3; ++i) {
    r->CtxSetCurrent(r->ctx);
    if (failed(xhal_buffer_alloc(h->device, bytes, 0, &buf[i]),
               "buffer_alloc") ||
        failed(
            xhal_stream_enqueue_fill(h->stream, buf[i], 0, bytes, &pattern, 4),
            "fill") ||
        r->MemAlloc(&raw[i], bytes) != CUDA_SUCCESS ||
        r->MemsetD32Async(raw[i], pattern, bytes / 4, r->stream) !=
            CUDA_SUCCESS) {
      bench_skip(name, "cannot set up the operands");
      goto done;
    }
  }
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_MATMUL);
  call.num_inputs = 2;
  call.num_outputs = 1;
  for (int i = 0; i < 3; ++i) {
    xhal_tensor_t* t = i < 2 ? &call.inputs[i] : &call.outputs[0];
    memset(t, 0, sizeof(*t));
    t->desc.dtype = dtype;
    t->desc.rank = 2;
    t->desc.dims[0] = n;
    t->desc.dims[1] = n;
    t->buffer = buf[i];
  }
  for (int i = -1; i < trials; ++i) {
    double x = 0, rv = 0;
    for (int side = 0; side < 2; ++side) {
      int raw_side = (side == 0) == (bench_raw_first(i) != 0);
      double t0 = bench_now_ns();
      if (raw_side) {
        r->CtxSetCurrent(r->ctx);
        if (r->GemmEx(r->blas, 0, 0, (int)n, (int)n, (int)n, &alpha,
                      (const void*)(uintptr_t)raw[1], type, (int)n,
                      (const void*)(uintptr_t)raw[0], type, (int)n, &beta,
                      (void*)(uintptr_t)raw[2], type, (int)n, 68, -1) != 0 ||
            r->StreamSynchronize(r->stream) != CUDA_SUCCESS) {
          bench_skip(name, "cublasGemmEx failed");
          goto done;
        }
        rv = flop / (bench_now_ns() - t0);
      } else {
        if (failed(xhal_stream_enqueue_op(h->stream, NULL, &call), "matmul") ||
            failed(xhal_stream_synchronize(h->stream), "synchronize")) {
          bench_skip(name, "the xhal matmul failed");
          goto done;
        }
        x = flop / (bench_now_ns() - t0);
      }
    }
    if (i >= 0) {
      xs[i] = x;
      rs[i] = rv;
    }
  }
  bench_report(name, bench_median(xs, trials), "GFLOPS",
               "cublasGemmEx (CUBLAS_COMPUTE_32F, default algorithm) on "
               "buffers of the same size and contents, same stream kind",
               bench_median(rs, trials), BENCH_HIGHER,
               (bench_target_t){.min_ratio = 0.95});
done:
  r->CtxSetCurrent(r->ctx);
  for (int i = 0; i < 3; ++i) {
    if (raw[i]) r->MemFree(raw[i]);
    xhal_buffer_release(buf[i]);
  }
}

/* ------------------------------------------------------------ entry */

void bench_cuda(xhal_instance_t instance) {
  xhal_device_t device = bench_device(instance, "cuda");
  xhal_device_properties_t props;
  raw_cuda_t raw;
  hal_cuda_t hal;
  const char* why = NULL;
  memset(&hal, 0, sizeof(hal));
  if (!device) {
    bench_skip("cuda.", "the CUDA plugin did not load or has no device");
    return;
  }
  if (failed(xhal_device_properties(device, &props), "device_properties"))
    return;
  if (raw_open(&raw, props.name, &why) != 0) {
    bench_skip("cuda.", why);
    raw_close(&raw);
    return;
  }
  hal.device = device;
  xhal_program_desc_t desc;
  xhal_program_desc_default(&desc);
  desc.language = XHAL_KERNEL_LANGUAGE_CUDA_C;
  desc.source = kEmptyCuda;
  if (failed(xhal_stream_create(device, &hal.stream), "stream_create") ||
      failed(xhal_program_build(device, &desc, &hal.program),
             "program_build") ||
      failed(xhal_kernel_create(hal.program, "empty", &hal.empty),
             "kernel_create")) {
    bench_skip("cuda.", "the plugin cannot build an empty kernel");
  } else {
    if (bench_wants_prefix("cuda.launch")) launches(&hal, &raw);
    if (bench_wants_prefix("cuda.copy")) copies(&hal, &raw);
    alloc_free(&hal, &raw);
    matmul(&hal, &raw, "cuda.matmul_f32_4096", XHAL_DTYPE_F32, 4096);
    matmul(&hal, &raw, "cuda.matmul_f16_8192", XHAL_DTYPE_F16, 8192);
    if (bench_wants("cuda.matmul_bf16_8192"))
      bench_skip("cuda.matmul_bf16_8192",
                 "the operator catalog has no bf16 dtype (cuda.matmul_f16_8192 "
                 "measures the tensor-core path instead)");
  }
  xhal_kernel_release(hal.empty);
  xhal_program_release(hal.program);
  xhal_stream_release(hal.stream);
  raw_close(&raw);
}
