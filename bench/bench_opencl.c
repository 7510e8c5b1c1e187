/*
 * bench_opencl.c - the OpenCL plugin's figures, against the same calls
 * made directly on OpenCL, on the same device (matched by name), in the
 * same process:
 *
 *   opencl.launch_latency     empty kernel (built with xhal_program_build)
 *                             launched and the stream synchronised (us),
 *                             against clEnqueueNDRangeKernel + clFinish;
 *   opencl.launch_throughput  10 000 back-to-back empty launches, then one
 *                             synchronise (ns per launch);
 *   opencl.launch_throughput_timed
 *                             the same on a default stream, whose events
 *                             carry timestamps, against a raw queue with
 *                             CL_QUEUE_PROFILING_ENABLE;
 *   opencl.copy_h2d/_d2h      64 MiB write/read + synchronise (GB/s),
 *                             against clEnqueueWrite/ReadBuffer + clFinish,
 *                             each side over three contexts of its own;
 *   opencl.copy_*_ctx_spread  the slowest raw context against the fastest:
 *                             how far identical programs differ;
 *   opencl.copy_*_pinned      the same transfers from and to page-locked
 *                             host memory: xhal_host_alloc against a
 *                             mapped CL_MEM_ALLOC_HOST_PTR buffer;
 *   opencl.matmul_f32_1024    the registry's matmul (GFLOPS), against
 *                             CLBlast's CLBlastSgemm.
 *
 * The raw queue is in order without profiling: the fastest queue a
 * program that needs no timestamps would use. The xhal side of those
 * figures is a stream created with XHAL_STREAM_NO_TIMING, which asks the
 * same of the device; the _timed figure compares the two with timestamps.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#ifdef XHAL_BENCH_CLBLAST
#include <clblast_c.h>
#endif

#include "bench.h"

#define MIB (1024u * 1024u)

enum { kCopyBytes = 64 * MIB, kLaunches = 10000, kMatmulN = 1024 };

static const char kEmptySource[] = "__kernel void empty(void) {}\n";

typedef struct raw_cl {
  cl_device_id device;
  cl_context context;
  cl_command_queue queue;       /* no profiling */
  cl_command_queue timed_queue; /* CL_QUEUE_PROFILING_ENABLE, or NULL */
  cl_program program;
  cl_kernel empty;
} raw_cl_t;

typedef struct hal_cl {
  xhal_device_t device;
  xhal_stream_t stream;       /* XHAL_STREAM_NO_TIMING */
  xhal_stream_t timed_stream; /* default: events carry timestamps */
  xhal_program_t program;
  xhal_kernel_t empty;
} hal_cl_t;

static int failed(xhal_status_t status, const char* what) {
  if (status == XHAL_OK) return 0;
  fprintf(stderr, "xhal-bench: opencl: %s: %s\n", what, xhal_last_error());
  return 1;
}

/* ------------------------------------------------------------ set-up */

/* The OpenCL device whose name is the xhal device's. */
static int raw_open(const char* name, raw_cl_t* raw) {
  cl_platform_id platforms[16];
  cl_uint np = 0;
  cl_int err = CL_SUCCESS;
  memset(raw, 0, sizeof(*raw));
  if (clGetPlatformIDs(16, platforms, &np) != CL_SUCCESS) return -1;
  for (cl_uint p = 0; p < np && p < 16 && !raw->device; ++p) {
    cl_device_id devices[16];
    cl_uint nd = 0;
    if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 16, devices, &nd) !=
        CL_SUCCESS) {
      continue;
    }
    for (cl_uint d = 0; d < nd && d < 16; ++d) {
      char dn[256] = {0};
      clGetDeviceInfo(devices[d], CL_DEVICE_NAME, sizeof(dn) - 1, dn, NULL);
      if (strcmp(dn, name) == 0) {
        raw->device = devices[d];
        break;
      }
    }
  }
  if (!raw->device) return -1;
  raw->context = clCreateContext(NULL, 1, &raw->device, NULL, NULL, &err);
  if (err != CL_SUCCESS) return -1;
  raw->queue = clCreateCommandQueue(raw->context, raw->device, 0, &err);
  if (err != CL_SUCCESS) return -1;
  raw->timed_queue = clCreateCommandQueue(raw->context, raw->device,
                                          CL_QUEUE_PROFILING_ENABLE, &err);
  if (err != CL_SUCCESS) raw->timed_queue = NULL;
  const char* src = kEmptySource;
  raw->program = clCreateProgramWithSource(raw->context, 1, &src, NULL, &err);
  if (err != CL_SUCCESS || clBuildProgram(raw->program, 1, &raw->device, NULL,
                                          NULL, NULL) != CL_SUCCESS) {
    return -1;
  }
  raw->empty = clCreateKernel(raw->program, "empty", &err);
  return err == CL_SUCCESS ? 0 : -1;
}

static void raw_close(raw_cl_t* raw) {
  if (raw->empty) clReleaseKernel(raw->empty);
  if (raw->program) clReleaseProgram(raw->program);
  if (raw->queue) clReleaseCommandQueue(raw->queue);
  if (raw->timed_queue) clReleaseCommandQueue(raw->timed_queue);
  if (raw->context) clReleaseContext(raw->context);
}

static int hal_open(xhal_device_t device, hal_cl_t* hal) {
  xhal_program_desc_t desc;
  memset(hal, 0, sizeof(*hal));
  hal->device = device;
  xhal_program_desc_default(&desc);
  desc.source = kEmptySource;
  if (failed(xhal_stream_create_with_flags(device, XHAL_STREAM_NO_TIMING,
                                           &hal->stream),
             "stream_create_with_flags") ||
      failed(xhal_stream_create(device, &hal->timed_stream), "stream_create") ||
      failed(xhal_program_build(device, &desc, &hal->program),
             "program_build") ||
      failed(xhal_kernel_create(hal->program, "empty", &hal->empty),
             "kernel_create")) {
    return -1;
  }
  return 0;
}

static void hal_close(hal_cl_t* hal) {
  xhal_kernel_release(hal->empty);
  xhal_program_release(hal->program);
  xhal_stream_release(hal->stream);
  xhal_stream_release(hal->timed_stream);
}

/* ------------------------------------------------------------ launches */

static xhal_launch_t one_item(void) {
  xhal_launch_t l;
  memset(&l, 0, sizeof(l));
  l.struct_size = (uint32_t)sizeof(l);
  l.work_dim = 1;
  l.global_size[0] = 1;
  return l;
}

/* Median latency (ns) of `samples` launches after a few warm-ups. */
static double hal_latency(hal_cl_t* hal, int samples) {
  double t[64];
  xhal_launch_t l = one_item();
  if (samples > 64) samples = 64;
  for (int i = -3; i < samples; ++i) {
    double t0 = bench_now_ns();
    if (failed(xhal_stream_enqueue_kernel(hal->stream, hal->empty, &l, NULL, 0),
               "enqueue_kernel") ||
        failed(xhal_stream_synchronize(hal->stream), "synchronize")) {
      return NAN;
    }
    if (i >= 0) t[i] = bench_now_ns() - t0;
  }
  return bench_median(t, samples);
}

static double raw_latency(raw_cl_t* raw, int samples) {
  double t[64];
  size_t global = 1;
  if (samples > 64) samples = 64;
  for (int i = -3; i < samples; ++i) {
    double t0 = bench_now_ns();
    if (clEnqueueNDRangeKernel(raw->queue, raw->empty, 1, NULL, &global, NULL,
                               0, NULL, NULL) != CL_SUCCESS ||
        clFinish(raw->queue) != CL_SUCCESS) {
      return NAN;
    }
    if (i >= 0) t[i] = bench_now_ns() - t0;
  }
  return bench_median(t, samples);
}

static double hal_throughput(hal_cl_t* hal, xhal_stream_t stream,
                             int launches) {
  xhal_launch_t l = one_item();
  double t0 = bench_now_ns();
  for (int i = 0; i < launches; ++i) {
    if (failed(xhal_stream_enqueue_kernel(stream, hal->empty, &l, NULL, 0),
               "enqueue_kernel")) {
      return NAN;
    }
  }
  if (failed(xhal_stream_synchronize(stream), "synchronize")) return NAN;
  return (bench_now_ns() - t0) / launches;
}

static double raw_throughput(raw_cl_t* raw, cl_command_queue queue,
                             int launches) {
  size_t global = 1;
  double t0 = bench_now_ns();
  for (int i = 0; i < launches; ++i) {
    if (clEnqueueNDRangeKernel(queue, raw->empty, 1, NULL, &global, NULL, 0,
                               NULL, NULL) != CL_SUCCESS) {
      return NAN;
    }
  }
  if (clFinish(queue) != CL_SUCCESS) return NAN;
  return (bench_now_ns() - t0) / launches;
}

/* Median back-to-back launch cost of an xhal stream and a raw queue,
 * trials alternating which goes first. */
static void throughput_pair(hal_cl_t* hal, xhal_stream_t stream, raw_cl_t* raw,
                            cl_command_queue queue, int trials,
                            double* x_median, double* r_median) {
  const int n = g_bench->quick ? 2000 : kLaunches;
  double xs[32], rs[32];
  for (int i = -1; i < trials; ++i) {
    double r = bench_raw_first(i) ? raw_throughput(raw, queue, n) : NAN;
    double x = hal_throughput(hal, stream, n);
    if (!bench_raw_first(i)) r = raw_throughput(raw, queue, n);
    if (i >= 0) {
      xs[i] = x;
      rs[i] = r;
    }
  }
  *x_median = bench_median(xs, trials);
  *r_median = bench_median(rs, trials);
}

static void launches(hal_cl_t* hal, raw_cl_t* raw) {
  const int trials = bench_trials(21, 5);
  double xs[32], rs[32];
  if (bench_wants("opencl.launch_latency")) {
    for (int i = 0; i < trials; ++i) {
      if (bench_raw_first(i)) rs[i] = raw_latency(raw, 40);
      xs[i] = hal_latency(hal, 40);
      if (!bench_raw_first(i)) rs[i] = raw_latency(raw, 40);
    }
    bench_report("opencl.launch_latency", bench_median(xs, trials) * 1e-3, "us",
                 "clEnqueueNDRangeKernel + clFinish, same device",
                 bench_median(rs, trials) * 1e-3, BENCH_LOWER,
                 (bench_target_t){.max_ratio = 1.10});
  }
  if (bench_wants("opencl.launch_throughput")) {
    double x, r;
    throughput_pair(hal, hal->stream, raw, raw->queue, trials, &x, &r);
    bench_report("opencl.launch_throughput", x, "ns",
                 "back-to-back clEnqueueNDRangeKernel, one clFinish", r,
                 BENCH_LOWER, (bench_target_t){.max_ratio = 1.10});
  }
  if (bench_wants("opencl.launch_throughput_timed")) {
    if (!raw->timed_queue) {
      bench_skip("opencl.launch_throughput_timed",
                 "the device cannot profile a queue");
      return;
    }
    double x, r;
    throughput_pair(hal, hal->timed_stream, raw, raw->timed_queue, trials, &x,
                    &r);
    bench_report("opencl.launch_throughput_timed", x, "ns",
                 "the same on a queue with CL_QUEUE_PROFILING_ENABLE", r,
                 BENCH_LOWER, (bench_target_t){.max_ratio = 1.10});
  }
}

/* ------------------------------------------------------------ copies */

/* Nanoseconds for one 64 MiB transfer and synchronise through xhal. */
static double hal_copy(xhal_stream_t stream, xhal_buffer_t buffer,
                       uint8_t* host, int to_device) {
  double t0 = bench_now_ns();
  xhal_status_t status =
      to_device ? xhal_stream_enqueue_write(stream, buffer, 0, host, kCopyBytes)
                : xhal_stream_enqueue_read(stream, buffer, 0, host, kCopyBytes);
  if (failed(status, to_device ? "enqueue_write" : "enqueue_read") ||
      failed(xhal_stream_synchronize(stream), "synchronize")) {
    return NAN;
  }
  return bench_now_ns() - t0;
}

/* The same transfer with raw OpenCL calls. */
static double raw_copy(raw_cl_t* raw, cl_mem mem, uint8_t* host,
                       int to_device) {
  double t0 = bench_now_ns();
  cl_int err = to_device ? clEnqueueWriteBuffer(raw->queue, mem, CL_FALSE, 0,
                                                kCopyBytes, host, 0, NULL, NULL)
                         : clEnqueueReadBuffer(raw->queue, mem, CL_FALSE, 0,
                                               kCopyBytes, host, 0, NULL, NULL);
  if (err != CL_SUCCESS || clFinish(raw->queue) != CL_SUCCESS) return NAN;
  return bench_now_ns() - t0;
}

/* Contexts per side in the copy figures. A driver stages pageable host
 * memory through buffers of its own per context, and on some machines
 * (the H100 one) one context's transfers run a third faster or slower
 * than another's for its whole life, with the same calls. Each side
 * therefore spreads its trials over several contexts (the xhal side over
 * instances of its own, each with its own plugin context) and reports
 * the median of them all. */
enum { kCopyContexts = 3 };

typedef struct copy_ctx {
  xhal_instance_t instance; /* owned; NULL for the bench's own */
  xhal_device_t device;
  xhal_stream_t stream; /* owned unless instance is NULL */
  xhal_buffer_t buffer;
  raw_cl_t raw; /* owned when index > 0 */
  cl_mem mem;
  /* Host memory of each side: the shared pageable block, or page-locked
   * memory of this context (xhal_host_alloc; a mapped
   * CL_MEM_ALLOC_HOST_PTR buffer on the raw side). */
  int pinned;
  uint8_t* xhost;
  uint8_t* rhost;
  cl_mem rpinned;
} copy_ctx_t;

static xhal_device_t opencl_device(xhal_instance_t instance);

/* Page-locked host memory for both sides of context `c`. */
static int copy_ctx_pin(copy_ctx_t* c) {
  cl_int err = CL_SUCCESS;
  c->pinned = 1;
  if (failed(xhal_host_alloc(c->device, kCopyBytes, (void**)&c->xhost),
             "host_alloc"))
    return -1;
  c->rpinned =
      clCreateBuffer(c->raw.context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                     kCopyBytes, NULL, &err);
  if (err != CL_SUCCESS || !c->rpinned) return -1;
  c->rhost = clEnqueueMapBuffer(c->raw.queue, c->rpinned, CL_TRUE,
                                CL_MAP_READ | CL_MAP_WRITE, 0, kCopyBytes, 0,
                                NULL, NULL, &err);
  if (err != CL_SUCCESS || !c->rhost) {
    c->rhost = NULL;
    return -1;
  }
  memset(c->xhost, 3, kCopyBytes);
  memset(c->rhost, 3, kCopyBytes);
  return 0;
}

static int copy_ctx_open(copy_ctx_t* c, int index, hal_cl_t* hal,
                         const raw_cl_t* raw, uint8_t* pageable) {
  cl_int err = CL_SUCCESS;
  memset(c, 0, sizeof(*c));
  c->device = hal->device;
  if (index == 0) {
    c->stream = hal->stream;
    c->raw = *raw;
  } else {
    xhal_device_properties_t want, got;
    if (failed(xhal_instance_create(NULL, &c->instance), "instance_create"))
      return -1;
    c->device = opencl_device(c->instance);
    if (!c->device ||
        failed(xhal_device_properties(hal->device, &want), "properties") ||
        failed(xhal_device_properties(c->device, &got), "properties") ||
        strcmp(want.name, got.name) != 0 ||
        failed(xhal_stream_create_with_flags(c->device, XHAL_STREAM_NO_TIMING,
                                             &c->stream),
               "stream_create_with_flags")) {
      return -1;
    }
    c->raw.device = raw->device;
    c->raw.context = clCreateContext(NULL, 1, &c->raw.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) return -1;
    c->raw.queue = clCreateCommandQueue(c->raw.context, c->raw.device, 0, &err);
    if (err != CL_SUCCESS) return -1;
  }
  c->mem =
      clCreateBuffer(c->raw.context, CL_MEM_READ_WRITE, kCopyBytes, NULL, &err);
  if (err != CL_SUCCESS || !c->mem) return -1;
  if (failed(xhal_buffer_alloc(c->device, kCopyBytes, 0, &c->buffer),
             "buffer_alloc"))
    return -1;
  if (!pageable) return copy_ctx_pin(c);
  c->xhost = c->rhost = pageable;
  return 0;
}

static void copy_ctx_close(copy_ctx_t* c) {
  if (c->pinned) {
    if (c->rhost && clEnqueueUnmapMemObject(c->raw.queue, c->rpinned, c->rhost,
                                            0, NULL, NULL) == CL_SUCCESS)
      clFinish(c->raw.queue);
    if (c->rpinned) clReleaseMemObject(c->rpinned);
    if (c->xhost)
      (void)failed(xhal_host_free(c->device, c->xhost), "host_free");
  }
  if (c->mem) clReleaseMemObject(c->mem);
  xhal_buffer_release(c->buffer);
  if (c->instance) {
    xhal_stream_release(c->stream);
    xhal_instance_release(c->instance);
    if (c->raw.queue) clReleaseCommandQueue(c->raw.queue);
    if (c->raw.context) clReleaseContext(c->raw.context);
  }
}

/* The slowest and the fastest of the contexts' medians. */
static void context_range(double samples[kCopyContexts][32], int trials,
                          double* lo, double* hi) {
  *lo = INFINITY;
  *hi = 0;
  for (int k = 0; k < kCopyContexts; ++k) {
    double m = bench_median(samples[k], trials);
    *lo = m < *lo ? m : *lo;
    *hi = m > *hi ? m : *hi;
  }
}

/* The copy figures, from pageable host memory (one malloc'd block both
 * sides share) or from page-locked memory of each context. */
static void copies(hal_cl_t* hal, raw_cl_t* raw, int pinned) {
  static const char* const kNames[2][2] = {
      {"opencl.copy_d2h", "opencl.copy_h2d"},
      {"opencl.copy_d2h_pinned", "opencl.copy_h2d_pinned"}};
  copy_ctx_t ctx[kCopyContexts];
  int opened = 0;
  int ok = 1;
  uint8_t* host = NULL;
  if (!bench_wants(kNames[pinned][0]) && !bench_wants(kNames[pinned][1]))
    return;
  if (!pinned) {
    host = malloc(kCopyBytes);
    if (host) memset(host, 3, kCopyBytes);
    ok = host != NULL;
  }
  /* A context that fails half-way is still closed below. */
  while (ok && opened < kCopyContexts) {
    ok = copy_ctx_open(&ctx[opened], opened, hal, raw, host) == 0;
    ++opened;
  }
  if (!ok) {
    bench_skip(kNames[pinned][1],
               "cannot open three contexts with 64 MiB (and its host "
               "memory) each");
    goto done;
  }
  const int trials = bench_trials(21, 3);
  for (int to_device = 1; to_device >= 0; --to_device) {
    const char* name = kNames[pinned][to_device];
    const char* spread_name =
        to_device ? "opencl.copy_h2d_ctx_spread" : "opencl.copy_d2h_ctx_spread";
    if (!bench_wants(name)) continue;
    double xs[kCopyContexts][32], rs[kCopyContexts][32];
    double xall[kCopyContexts * 32], rall[kCopyContexts * 32];
    int n = 0;
    for (int i = -1; i < trials; ++i) {
      /* Six transfers per trial (three contexts a side), each taking its
       * turn at going first. */
      for (int j = 0; j < 2 * kCopyContexts; ++j) {
        int slot = (j + i + 2 * kCopyContexts) % (2 * kCopyContexts);
        copy_ctx_t* c = &ctx[slot % kCopyContexts];
        double t = slot < kCopyContexts
                       ? hal_copy(c->stream, c->buffer, c->xhost, to_device)
                       : raw_copy(&c->raw, c->mem, c->rhost, to_device);
        if (isnan(t)) {
          bench_skip(name, "a transfer failed");
          goto done;
        }
        if (i < 0) continue;
        if (slot < kCopyContexts)
          xs[slot][i] = kCopyBytes / t;
        else
          rs[slot - kCopyContexts][i] = kCopyBytes / t;
      }
    }
    for (int k = 0; k < kCopyContexts; ++k) {
      for (int i = 0; i < trials; ++i) {
        xall[n] = xs[k][i];
        rall[n++] = rs[k][i];
      }
    }
    double raw_median = bench_median(rall, n);
    const char* what =
        pinned ? (to_device ? "clEnqueueWriteBuffer from a mapped "
                              "CL_MEM_ALLOC_HOST_PTR buffer + clFinish"
                            : "clEnqueueReadBuffer into a mapped "
                              "CL_MEM_ALLOC_HOST_PTR buffer + clFinish")
               : (to_device ? "clEnqueueWriteBuffer + clFinish, same device"
                            : "clEnqueueReadBuffer + clFinish, same device");
    bench_report(name, bench_median(xall, n), "GB/s", what, raw_median,
                 BENCH_HIGHER, (bench_target_t){.min_ratio = 0.95});
    if (!pinned && bench_wants(spread_name)) {
      double lo, hi;
      context_range(rs, trials, &lo, &hi);
      bench_report(spread_name, lo, "GB/s",
                   "slowest raw context against the fastest of three: the "
                   "spread between identical programs",
                   hi, BENCH_HIGHER, (bench_target_t){0});
    }
  }
done:
  for (int k = 0; k < opened; ++k) copy_ctx_close(&ctx[k]);
  free(host);
}

/* ------------------------------------------------------------ matmul */

#ifdef XHAL_BENCH_CLBLAST
static void tensor(xhal_tensor_t* t, xhal_buffer_t buffer, uint64_t n) {
  memset(t, 0, sizeof(*t));
  t->desc.dtype = XHAL_DTYPE_F32;
  t->desc.rank = 2;
  t->desc.dims[0] = n;
  t->desc.dims[1] = n;
  t->buffer = buffer;
}

/* Nanoseconds for one matmul through the registry, synchronised. */
static double hal_matmul_ns(hal_cl_t* hal, const xhal_op_call_t* call) {
  double t0 = bench_now_ns();
  if (failed(xhal_stream_enqueue_op(hal->stream, NULL, call), "matmul") ||
      failed(xhal_stream_synchronize(hal->stream), "synchronize")) {
    return NAN;
  }
  return bench_now_ns() - t0;
}

/* Nanoseconds for CLBlast's SGEMM on the raw twins of the operands. */
static double clblast_ns(raw_cl_t* raw, cl_mem* mem, size_t n) {
  double t0 = bench_now_ns();
  CLBlastStatusCode status = CLBlastSgemm(
      CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, n, n, n,
      1.0f, mem[0], 0, n, mem[1], 0, n, 0.0f, mem[2], 0, n, &raw->queue, NULL);
  if (status != CLBlastSuccess || clFinish(raw->queue) != CL_SUCCESS)
    return NAN;
  return bench_now_ns() - t0;
}

static void matmul(hal_cl_t* hal, raw_cl_t* raw) {
  const char* name = "opencl.matmul_f32_1024";
  const size_t n = kMatmulN;
  const size_t bytes = n * n * sizeof(float);
  xhal_buffer_t buf[3] = {NULL, NULL, NULL};
  cl_mem mem[3] = {NULL, NULL, NULL};
  float* host = malloc(bytes);
  if (!host) return;
  srand(11);
  for (size_t i = 0; i < n * n; ++i) {
    host[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  }
  for (int i = 0; i < 3; ++i) {
    cl_int err = CL_SUCCESS;
    mem[i] = clCreateBuffer(raw->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS ||
        failed(xhal_buffer_alloc(hal->device, bytes, 0, &buf[i]),
               "buffer_alloc") ||
        clEnqueueWriteBuffer(raw->queue, mem[i], CL_TRUE, 0, bytes, host, 0,
                             NULL, NULL) != CL_SUCCESS ||
        failed(xhal_stream_enqueue_write(hal->stream, buf[i], 0, host, bytes),
               "enqueue_write")) {
      bench_skip(name, "cannot set up the operands");
      goto done;
    }
  }
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_MATMUL);
  call.num_inputs = 2;
  call.num_outputs = 1;
  tensor(&call.inputs[0], buf[0], n);
  tensor(&call.inputs[1], buf[1], n);
  tensor(&call.outputs[0], buf[2], n);
  const int trials = bench_trials(9, 3);
  const double flop = 2.0 * (double)n * (double)n * (double)n;
  double xs[16], rs[16];
  /* The first calls build (or load) each side's kernels. */
  for (int i = -1; i < trials; ++i) {
    double r = bench_raw_first(i) ? clblast_ns(raw, mem, n) : 0;
    double x = hal_matmul_ns(hal, &call);
    if (!bench_raw_first(i)) r = clblast_ns(raw, mem, n);
    if (isnan(x)) goto done;
    if (isnan(r)) {
      bench_skip(name, "CLBlastSgemm failed on this device");
      goto done;
    }
    if (i >= 0) {
      xs[i] = flop / x;
      rs[i] = flop / r;
    }
  }
  bench_report(name, bench_median(xs, trials), "GFLOPS",
               "CLBlastSgemm on the same device", bench_median(rs, trials),
               BENCH_HIGHER, (bench_target_t){.min_ratio = 0.5});
done:
  for (int i = 0; i < 3; ++i) {
    if (mem[i]) clReleaseMemObject(mem[i]);
    xhal_buffer_release(buf[i]);
  }
  free(host);
}
#endif

/* The OpenCL plugin's device to measure: the one named by --opencl-device,
 * else its first GPU, else its first device. */
static xhal_device_t opencl_device(xhal_instance_t instance) {
  uint32_t count = 0;
  xhal_device_t first = NULL;
  if (xhal_instance_device_count(instance, &count) != XHAL_OK) return NULL;
  for (uint32_t i = 0; i < count; ++i) {
    xhal_device_t device = NULL;
    xhal_device_properties_t props;
    if (xhal_instance_device(instance, i, &device) != XHAL_OK ||
        strcmp(xhal_device_plugin_name(device), "opencl") != 0 ||
        xhal_device_properties(device, &props) != XHAL_OK) {
      continue;
    }
    if (g_bench->opencl_device) {
      if (strstr(props.name, g_bench->opencl_device)) return device;
      continue;
    }
    if (props.kind == XHAL_DEVICE_KIND_GPU) return device;
    if (!first) first = device;
  }
  return first;
}

void bench_opencl(xhal_instance_t instance) {
  xhal_device_t device = opencl_device(instance);
  xhal_device_properties_t props;
  hal_cl_t hal;
  raw_cl_t raw;
  if (!device) {
    bench_skip("opencl.", g_bench->opencl_device
                              ? "no OpenCL device matches --opencl-device"
                              : "the OpenCL plugin did not load or has no "
                                "device");
    return;
  }
  if (failed(xhal_device_properties(device, &props), "device_properties")) {
    return;
  }
  if (raw_open(props.name, &raw) != 0) {
    bench_skip("opencl.", "raw OpenCL cannot open the plugin's device");
    raw_close(&raw);
    return;
  }
  if (hal_open(device, &hal) != 0) {
    bench_skip("opencl.", "the plugin cannot build an empty kernel");
  } else {
    if (bench_wants_prefix("opencl.launch")) launches(&hal, &raw);
    if (bench_wants_prefix("opencl.copy")) {
      copies(&hal, &raw, 0);
      copies(&hal, &raw, 1);
    }
#ifdef XHAL_BENCH_CLBLAST
    if (bench_wants("opencl.matmul_f32_1024")) matmul(&hal, &raw);
#else
    bench_skip("opencl.matmul_f32_1024", "built without CLBlast");
#endif
  }
  hal_close(&hal);
  raw_close(&raw);
}
