/*
 * ocl_bench.c - the OpenCL plugin against raw OpenCL on the same device,
 * in the same run:
 *
 *   launch_latency_us   empty-kernel launch + wait, median
 *   launch_throughput   back-to-back empty launches, per launch
 *   write_64mib_gbps    host -> device, 64 MiB, median
 *   read_64mib_gbps     device -> host, 64 MiB, median
 *   matmul_1024_gflops  f32 1024^3: the plugin's matmul operator against
 *                       CLBlast's SGEMM (when built with CLBlast)
 *
 * The raw side is the best honest version of the same work: its queue has
 * the same properties as a plugin stream (in-order, profiling on where the
 * device supports it), launches reuse one kernel whose arguments are set
 * once, and waits are clFinish. Each figure is printed with its ratio
 * (xhal / raw for rates, raw / xhal for times, so above 1 means xhal is
 * faster) as one JSON object per line.
 *
 *   xhal-opencl-bench [plugin.so] [device-index] [all|matmul] [n]
 *
 * "matmul" measures only the matmul (n^3, default 1024), to compare tile
 * choices through XHAL_OPENCL_GEMM_TILES.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xhal/xhal.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#ifdef XHAL_BENCH_CLBLAST
#include <clblast_c.h>
#endif

#define BENCH_MIB (1024u * 1024u)

static const char kEmptySource[] = "__kernel void empty(void) {}\n";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a;
  double y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return v[n / 2];
}

static void report(const char* name, const char* unit, double raw, double xh,
                   int higher_is_better) {
  double ratio = higher_is_better ? xh / raw : raw / xh;
  printf(
      "{\"name\": \"%s\", \"unit\": \"%s\", \"raw\": %.4g, \"xhal\": %.4g, "
      "\"ratio\": %.3f}\n",
      name, unit, raw, xh, ratio);
  fflush(stdout);
}

/* ------------------------------------------------------------ raw side */

typedef struct raw_env {
  cl_device_id device;
  cl_context context;
  cl_command_queue queue;
  cl_command_queue plain; /* without profiling, for reference */
  cl_program program;
  cl_kernel empty;
} raw_env_t;

/* The OpenCL device whose name matches the xhal device's. */
static int raw_open(const char* name, raw_env_t* env) {
  cl_platform_id platforms[16];
  cl_uint np = 0;
  cl_uint p;
  cl_int err;
  const char* src = kEmptySource;
  memset(env, 0, sizeof(*env));
  if (clGetPlatformIDs(16, platforms, &np) != CL_SUCCESS) return -1;
  for (p = 0; p < np && env->device == NULL; ++p) {
    cl_device_id devs[16];
    cl_uint nd = 0;
    cl_uint d;
    if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 16, devs, &nd) !=
        CL_SUCCESS)
      continue;
    for (d = 0; d < nd; ++d) {
      char dn[256] = {0};
      clGetDeviceInfo(devs[d], CL_DEVICE_NAME, sizeof(dn) - 1, dn, NULL);
      if (strstr(dn, name) != NULL || strstr(name, dn) != NULL) {
        env->device = devs[d];
        break;
      }
    }
  }
  if (env->device == NULL) return -1;
  env->context = clCreateContext(NULL, 1, &env->device, NULL, NULL, &err);
  if (err != CL_SUCCESS) return -1;
  env->queue = clCreateCommandQueue(env->context, env->device,
                                    CL_QUEUE_PROFILING_ENABLE, &err);
  if (err != CL_SUCCESS) return -1;
  env->plain = clCreateCommandQueue(env->context, env->device, 0, &err);
  if (err != CL_SUCCESS) return -1;
  env->program = clCreateProgramWithSource(env->context, 1, &src, NULL, &err);
  if (err != CL_SUCCESS || clBuildProgram(env->program, 1, &env->device, NULL,
                                          NULL, NULL) != CL_SUCCESS)
    return -1;
  env->empty = clCreateKernel(env->program, "empty", &err);
  return err == CL_SUCCESS ? 0 : -1;
}

static void raw_close(raw_env_t* env) {
  clReleaseKernel(env->empty);
  clReleaseProgram(env->program);
  clReleaseCommandQueue(env->queue);
  clReleaseCommandQueue(env->plain);
  clReleaseContext(env->context);
}

static double raw_launch_latency(raw_env_t* env, cl_command_queue q,
                                 int iters) {
  double* t = calloc((size_t)iters, sizeof(double));
  size_t global = 1;
  double m;
  int i;
  for (i = 0; i < iters; ++i) {
    double t0 = now_s();
    clEnqueueNDRangeKernel(q, env->empty, 1, NULL, &global, NULL, 0, NULL,
                           NULL);
    clFinish(q);
    t[i] = now_s() - t0;
  }
  m = median(t, iters);
  free(t);
  return m;
}

static double raw_launch_throughput(raw_env_t* env, cl_command_queue q,
                                    int launches) {
  size_t global = 1;
  double t0 = now_s();
  int i;
  for (i = 0; i < launches; ++i)
    clEnqueueNDRangeKernel(q, env->empty, 1, NULL, &global, NULL, 0, NULL,
                           NULL);
  clFinish(q);
  return (now_s() - t0) / launches;
}

/* Seconds of one transfer of `bytes` between `host` and `buf`. */
static double raw_transfer_once(raw_env_t* env, cl_mem buf, int write,
                                void* host, size_t bytes) {
  double t0 = now_s();
  if (write)
    clEnqueueWriteBuffer(env->queue, buf, CL_FALSE, 0, bytes, host, 0, NULL,
                         NULL);
  else
    clEnqueueReadBuffer(env->queue, buf, CL_FALSE, 0, bytes, host, 0, NULL,
                        NULL);
  clFinish(env->queue);
  return now_s() - t0;
}

#ifdef XHAL_BENCH_CLBLAST
static double raw_sgemm(raw_env_t* env, size_t n, int reps) {
  cl_int err;
  size_t bytes = n * n * sizeof(float);
  cl_mem a = clCreateBuffer(env->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
  cl_mem b = clCreateBuffer(env->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
  cl_mem c = clCreateBuffer(env->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
  float zero = 0.0f;
  double t0;
  double s;
  int i;
  clEnqueueFillBuffer(env->queue, a, &zero, 4, 0, bytes, 0, NULL, NULL);
  clEnqueueFillBuffer(env->queue, b, &zero, 4, 0, bytes, 0, NULL, NULL);
  /* The first call compiles CLBlast's kernels. */
  CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, n,
               n, n, 1.0f, a, 0, n, b, 0, n, 0.0f, c, 0, n, &env->queue, NULL);
  clFinish(env->queue);
  t0 = now_s();
  for (i = 0; i < reps; ++i)
    CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo,
                 n, n, n, 1.0f, a, 0, n, b, 0, n, 0.0f, c, 0, n, &env->queue,
                 NULL);
  clFinish(env->queue);
  s = (now_s() - t0) / reps;
  clReleaseMemObject(a);
  clReleaseMemObject(b);
  clReleaseMemObject(c);
  return 2.0 * (double)n * (double)n * (double)n / s * 1e-9;
}
#endif

/* ----------------------------------------------------------- xhal side */

typedef struct xhal_env {
  xhal_instance_t inst;
  xhal_device_t dev;
  xhal_stream_t stream;
  xhal_program_t program;
  xhal_kernel_t empty;
} xhal_env_t;

static int xhal_open(const char* plugin, uint32_t index, xhal_env_t* env) {
  xhal_instance_options_t o;
  xhal_program_desc_t desc;
  const char* paths[1];
  memset(env, 0, sizeof(*env));
  xhal_instance_options_default(&o);
  if (plugin != NULL) {
    paths[0] = plugin;
    o.plugin_paths = paths;
    /* The environment still counts, for XHAL_LOG. */
    o.plugin_path_count = 1;
  }
  if (xhal_instance_create(&o, &env->inst) != XHAL_OK ||
      xhal_instance_device(env->inst, index, &env->dev) != XHAL_OK ||
      xhal_stream_create(env->dev, &env->stream) != XHAL_OK)
    return -1;
  xhal_program_desc_default(&desc);
  desc.source = kEmptySource;
  if (xhal_program_build(env->dev, &desc, &env->program) != XHAL_OK ||
      xhal_kernel_create(env->program, "empty", &env->empty) != XHAL_OK)
    return -1;
  return 0;
}

static void xhal_close(xhal_env_t* env) {
  xhal_kernel_release(env->empty);
  xhal_program_release(env->program);
  xhal_stream_release(env->stream);
  xhal_instance_release(env->inst);
}

static xhal_launch_t one_item(void) {
  xhal_launch_t l;
  memset(&l, 0, sizeof(l));
  l.struct_size = (uint32_t)sizeof(l);
  l.work_dim = 1;
  l.global_size[0] = 1;
  return l;
}

static double xhal_launch_latency(xhal_env_t* env, int iters) {
  double* t = calloc((size_t)iters, sizeof(double));
  xhal_launch_t l = one_item();
  double m;
  int i;
  for (i = 0; i < iters; ++i) {
    double t0 = now_s();
    if (xhal_stream_enqueue_kernel(env->stream, env->empty, &l, NULL, 0) !=
            XHAL_OK ||
        xhal_stream_synchronize(env->stream) != XHAL_OK)
      fprintf(stderr, "launch failed: %s\n", xhal_last_error());
    t[i] = now_s() - t0;
  }
  m = median(t, iters);
  free(t);
  return m;
}

static double xhal_launch_throughput(xhal_env_t* env, int launches) {
  xhal_launch_t l = one_item();
  double t0 = now_s();
  int i;
  for (i = 0; i < launches; ++i)
    if (xhal_stream_enqueue_kernel(env->stream, env->empty, &l, NULL, 0) !=
        XHAL_OK)
      fprintf(stderr, "launch failed: %s\n", xhal_last_error());
  if (xhal_stream_synchronize(env->stream) != XHAL_OK)
    fprintf(stderr, "synchronize failed: %s\n", xhal_last_error());
  return (now_s() - t0) / launches;
}

static double xhal_transfer_once(xhal_env_t* env, xhal_buffer_t buf, int write,
                                 void* host, size_t bytes) {
  double t0 = now_s();
  xhal_status_t st =
      write ? xhal_stream_enqueue_write(env->stream, buf, 0, host, bytes)
            : xhal_stream_enqueue_read(env->stream, buf, 0, host, bytes);
  if (st != XHAL_OK || xhal_stream_synchronize(env->stream) != XHAL_OK)
    fprintf(stderr, "transfer failed: %s\n", xhal_last_error());
  return now_s() - t0;
}

/* GB/s of raw and xhal transfers, alternated so that clock and cache
 * drift affect both alike; medians of `reps` each. */
static void transfers(raw_env_t* re, xhal_env_t* xe, int write, void* host,
                      size_t bytes, int reps, double* raw_gbps,
                      double* xhal_gbps) {
  double tr[32];
  double tx[32];
  cl_int err;
  cl_mem rbuf =
      clCreateBuffer(re->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
  xhal_buffer_t xbuf = NULL;
  int i;
  if (reps > 32) reps = 32;
  if (err != CL_SUCCESS ||
      xhal_buffer_alloc(xe->dev, bytes, XHAL_MEMORY_DEVICE_LOCAL, &xbuf) !=
          XHAL_OK) {
    *raw_gbps = *xhal_gbps = 0;
    return;
  }
  raw_transfer_once(re, rbuf, write, host, bytes); /* warm-up */
  xhal_transfer_once(xe, xbuf, write, host, bytes);
  for (i = 0; i < reps; ++i) {
    if (i & 1) {
      tx[i] = xhal_transfer_once(xe, xbuf, write, host, bytes);
      tr[i] = raw_transfer_once(re, rbuf, write, host, bytes);
    } else {
      tr[i] = raw_transfer_once(re, rbuf, write, host, bytes);
      tx[i] = xhal_transfer_once(xe, xbuf, write, host, bytes);
    }
  }
  *raw_gbps = (double)bytes / median(tr, reps) * 1e-9;
  *xhal_gbps = (double)bytes / median(tx, reps) * 1e-9;
  clReleaseMemObject(rbuf);
  xhal_buffer_release(xbuf);
}

static double xhal_matmul(xhal_env_t* env, uint64_t n, int reps) {
  xhal_buffer_t a = NULL;
  xhal_buffer_t b = NULL;
  xhal_buffer_t c = NULL;
  uint64_t bytes = n * n * sizeof(float);
  xhal_op_call_t call;
  double t0;
  double s;
  int i;
  if (xhal_buffer_alloc(env->dev, bytes, 0, &a) != XHAL_OK ||
      xhal_buffer_alloc(env->dev, bytes, 0, &b) != XHAL_OK ||
      xhal_buffer_alloc(env->dev, bytes, 0, &c) != XHAL_OK)
    return 0;
  if (xhal_stream_enqueue_fill(env->stream, a, 0, bytes, "\0\0\0\0", 4) !=
          XHAL_OK ||
      xhal_stream_enqueue_fill(env->stream, b, 0, bytes, "\0\0\0\0", 4) !=
          XHAL_OK)
    return 0;
  xhal_op_call_init(&call, XHAL_OP_MATMUL);
  call.num_inputs = 2;
  call.num_outputs = 1;
  call.inputs[0].desc.dtype = XHAL_DTYPE_F32;
  call.inputs[0].desc.rank = 2;
  call.inputs[0].desc.dims[0] = n;
  call.inputs[0].desc.dims[1] = n;
  call.inputs[0].buffer = a;
  call.inputs[1] = call.inputs[0];
  call.inputs[1].buffer = b;
  call.outputs[0] = call.inputs[0];
  call.outputs[0].buffer = c;
  /* The first call builds the operator program (or loads it). */
  if (xhal_stream_enqueue_op(env->stream, NULL, &call) != XHAL_OK ||
      xhal_stream_synchronize(env->stream) != XHAL_OK) {
    fprintf(stderr, "matmul failed: %s\n", xhal_last_error());
    return 0;
  }
  t0 = now_s();
  for (i = 0; i < reps; ++i)
    if (xhal_stream_enqueue_op(env->stream, NULL, &call) != XHAL_OK)
      fprintf(stderr, "matmul failed: %s\n", xhal_last_error());
  if (xhal_stream_synchronize(env->stream) != XHAL_OK)
    fprintf(stderr, "synchronize failed: %s\n", xhal_last_error());
  s = (now_s() - t0) / reps;
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_buffer_release(c);
  return 2.0 * (double)n * (double)n * (double)n / s * 1e-9;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char** argv) {
  const char* plugin =
      argc > 1 && argv[1][0] != '\0' ? argv[1] : XHAL_BENCH_OPENCL_PLUGIN;
  uint32_t index = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 0;
  int only_matmul = argc > 3 && strcmp(argv[3], "matmul") == 0;
  uint64_t mm_n = argc > 4 ? strtoull(argv[4], NULL, 10) : 1024;
  xhal_device_properties_t props;
  xhal_env_t xe;
  raw_env_t re;
  size_t bytes = 64u * BENCH_MIB;
  void* host;
  int gpu;
  if (xhal_open(plugin, index, &xe) != 0) {
    fprintf(stderr, "xhal side: %s\n", xhal_last_error());
    return 1;
  }
  if (xhal_device_properties(xe.dev, &props) != XHAL_OK ||
      raw_open(props.name, &re) != 0) {
    fprintf(stderr, "raw side: no OpenCL device named '%s'\n", props.name);
    return 1;
  }
  gpu = props.kind == XHAL_DEVICE_KIND_GPU;
  printf("{\"device\": \"%s\", \"driver\": \"%s\"}\n", props.name,
         props.driver_version);
  host = malloc(bytes);
  if (host == NULL) return 1;
  memset(host, 1, bytes);

  if (mm_n == 0 || mm_n > 16384) mm_n = 1024;
  if (only_matmul) {
    double x = xhal_matmul(&xe, mm_n, gpu ? 20 : 2);
    printf("{\"name\": \"matmul_gflops\", \"n\": %llu, \"xhal\": %.4g}\n",
           (unsigned long long)mm_n, x);
    free(host);
    raw_close(&re);
    xhal_close(&xe);
    return 0;
  }
  /* Raw and xhal alternate in blocks, so that drift (clocks, the
   * implementation's threads) affects both alike; blocks rather than
   * single launches because switching between the two contexts costs
   * more than a launch on some drivers (about 0.13 ms on NVIDIA's). */
  {
    enum { kBlocks = 10, kBlock = 200 };
    double* tr = calloc(kBlocks * kBlock, sizeof(double));
    double* tx = calloc(kBlocks * kBlock, sizeof(double));
    int i;
    int j;
    if (tr == NULL || tx == NULL) return 1;
    raw_launch_latency(&re, re.queue, 50);
    raw_launch_latency(&re, re.plain, 50);
    xhal_launch_latency(&xe, 50);
    for (i = 0; i < kBlocks; ++i) {
      for (j = 0; j < kBlock; ++j)
        tr[i * kBlock + j] = raw_launch_latency(&re, re.queue, 1);
      for (j = 0; j < kBlock; ++j)
        tx[i * kBlock + j] = xhal_launch_latency(&xe, 1);
    }
    report("launch_latency_us", "us", median(tr, kBlocks * kBlock) * 1e6,
           median(tx, kBlocks * kBlock) * 1e6, 0);
    for (i = 0; i < kBlocks; ++i) {
      for (j = 0; j < kBlock; ++j)
        tr[i * kBlock + j] = raw_launch_latency(&re, re.plain, 1);
      for (j = 0; j < kBlock; ++j)
        tx[i * kBlock + j] = xhal_launch_latency(&xe, 1);
    }
    report("launch_latency_vs_unprofiled_us", "us",
           median(tr, kBlocks * kBlock) * 1e6,
           median(tx, kBlocks * kBlock) * 1e6, 0);
    for (i = 0; i < 9; ++i) {
      tr[i] = raw_launch_throughput(&re, re.queue, 3000);
      tx[i] = xhal_launch_throughput(&xe, 3000);
    }
    report("launch_throughput_us", "us/launch", median(tr, 9) * 1e6,
           median(tx, 9) * 1e6, 0);
    /* For reference: what profiling costs the raw queue. Streams keep it
     * on, since event_elapsed reads device timestamps. */
    for (i = 0; i < 9; ++i) {
      tr[i] = raw_launch_throughput(&re, re.plain, 3000);
      tx[i] = xhal_launch_throughput(&xe, 3000);
    }
    report("launch_throughput_vs_unprofiled_us", "us/launch",
           median(tr, 9) * 1e6, median(tx, 9) * 1e6, 0);
    free(tr);
    free(tx);
  }
  {
    double r;
    double x;
    transfers(&re, &xe, 1, host, bytes, 15, &r, &x);
    report("write_64mib_gbps", "GB/s", r, x, 1);
    transfers(&re, &xe, 0, host, bytes, 15, &r, &x);
    report("read_64mib_gbps", "GB/s", r, x, 1);
  }
#ifdef XHAL_BENCH_CLBLAST
  {
    int reps = gpu ? 50 : 3;
    double r = raw_sgemm(&re, (size_t)mm_n, reps);
    double x = xhal_matmul(&xe, mm_n, reps);
    report("matmul_gflops", "GFLOPS", r, x, 1);
  }
#else
  (void)gpu;
  (void)xhal_matmul;
#endif
  free(host);
  raw_close(&re);
  xhal_close(&xe);
  return 0;
}
