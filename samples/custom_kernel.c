/*
 * custom_kernel: a framework's own OpenCL C kernels through xhal. Finds a
 * device that builds OpenCL C, shows what a failed build returns (the
 * status and the compiler's log), builds a program with two kernels,
 * launches them through a stream with arguments passed at launch
 * (buffers, a scalar, local memory), times the work with events where the
 * device has profiling timers, and checks the results against plain C.
 *
 * Exits 0 when the results are right, 1 on any failure, and
 * CUSTOM_KERNEL_SKIPPED (77, the automake/CTest skip convention) with a
 * note when no device builds OpenCL C (a machine without OpenCL), so a
 * test harness reports it as skipped rather than passed.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xhal/xhal.h>

enum { N = 1 << 16, GROUP = 64, CUSTOM_KERNEL_SKIPPED = 77 };

static const char kSource[] =
    "/* y = a * x + y */\n"
    "__kernel void saxpy(float a, __global const float* x,\n"
    "                    __global float* y, uint n) {\n"
    "  size_t i = get_global_id(0);\n"
    "  if (i < n) y[i] = a * x[i] + y[i];\n"
    "}\n"
    "/* One partial sum per work-group, through local memory. */\n"
    "__kernel void partial_sums(__global const float* x,\n"
    "                           __global float* sums,\n"
    "                           __local float* scratch) {\n"
    "  size_t l = get_local_id(0);\n"
    "  scratch[l] = x[get_global_id(0)];\n"
    "  barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  for (size_t w = get_local_size(0) / 2; w > 0; w /= 2) {\n"
    "    if (l < w) scratch[l] += scratch[l + w];\n"
    "    barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  }\n"
    "  if (l == 0) sums[get_group_id(0)] = scratch[0];\n"
    "}\n";

/* Prints the failure and returns 1 when `status` is not XHAL_OK. */
static int failed(xhal_status_t status, const char* what) {
  if (status == XHAL_OK) return 0;
  fprintf(stderr, "custom_kernel: %s: %s\n", what, xhal_last_error());
  return 1;
}

static xhal_kernel_arg_t buffer_arg(xhal_buffer_t b) {
  xhal_kernel_arg_t a;
  memset(&a, 0, sizeof(a));
  a.kind = XHAL_KERNEL_ARG_BUFFER;
  a.buffer = b;
  return a;
}

static xhal_kernel_arg_t scalar_arg(const void* value, uint32_t size) {
  xhal_kernel_arg_t a;
  memset(&a, 0, sizeof(a));
  a.kind = XHAL_KERNEL_ARG_SCALAR;
  a.value = value;
  a.size = size;
  return a;
}

static xhal_launch_t launch_1d(uint64_t global, uint64_t local) {
  xhal_launch_t l;
  memset(&l, 0, sizeof(l));
  l.struct_size = (uint32_t)sizeof(l);
  l.work_dim = 1;
  l.global_size[0] = global;
  l.local_size[0] = local;
  return l;
}

/* A build that fails returns XHAL_ERROR_BUILD_FAILED and the log. */
static int show_build_failure(xhal_device_t dev) {
  char log[2048];
  xhal_program_desc_t desc;
  xhal_program_t program = NULL;
  xhal_status_t st;
  xhal_program_desc_default(&desc);
  desc.source = "__kernel void oops(__global float* x) { x[0] = undefined; }";
  desc.log = log;
  desc.log_capacity = sizeof(log);
  st = xhal_program_build(dev, &desc, &program);
  if (st != XHAL_ERROR_BUILD_FAILED) {
    fprintf(stderr, "custom_kernel: a broken program built (%s)\n",
            xhal_status_name(st));
    return 1;
  }
  printf("broken program: %s\n  %.*s\n", xhal_status_name(st),
         (int)strcspn(log, "\n"), log);
  return 0;
}

static int run(xhal_device_t dev, const xhal_device_properties_t* props) {
  static float x[N], y[N], sums[N / GROUP];
  char log[4096];
  xhal_program_desc_t desc;
  xhal_program_t program = NULL;
  xhal_kernel_t saxpy = NULL, partial = NULL;
  xhal_stream_t stream = NULL;
  xhal_buffer_t dx = NULL, dy = NULL, dsums = NULL;
  xhal_event_t start = NULL, end = NULL;
  float a = 2.0f;
  uint32_t n = N;
  double total = 0.0, want = 0.0;
  uint64_t ns = 0;
  int rc = 1;

  for (int i = 0; i < N; ++i) {
    x[i] = (float)(i % 17) * 0.25f;
    y[i] = 1.0f;
  }
  xhal_program_desc_default(&desc);
  desc.source = kSource;
  desc.log = log;
  desc.log_capacity = sizeof(log);
  if (failed(xhal_program_build(dev, &desc, &program), "build")) {
    fprintf(stderr, "%s\n", log);
    return 1;
  }
  if (failed(xhal_kernel_create(program, "saxpy", &saxpy), "saxpy") ||
      failed(xhal_kernel_create(program, "partial_sums", &partial),
             "partial_sums") ||
      failed(xhal_stream_create(dev, &stream), "stream") ||
      failed(xhal_buffer_alloc(dev, sizeof(x), 0, &dx), "alloc x") ||
      failed(xhal_buffer_alloc(dev, sizeof(y), 0, &dy), "alloc y") ||
      failed(xhal_buffer_alloc(dev, sizeof(sums), 0, &dsums), "alloc sums") ||
      failed(xhal_event_create(dev, &start), "event") ||
      failed(xhal_event_create(dev, &end), "event"))
    goto done;

  if (failed(xhal_stream_enqueue_write(stream, dx, 0, x, sizeof(x)), "write") ||
      failed(xhal_stream_enqueue_write(stream, dy, 0, y, sizeof(y)), "write") ||
      failed(xhal_stream_record_event(stream, start), "record"))
    goto done;
  {
    /* Arguments travel with each launch: launches are thread-safe. */
    xhal_kernel_arg_t args[4] = {scalar_arg(&a, sizeof(a)), buffer_arg(dx),
                                 buffer_arg(dy), scalar_arg(&n, sizeof(n))};
    xhal_launch_t l = launch_1d(N, 0); /* the device picks the group */
    if (failed(xhal_stream_enqueue_kernel(stream, saxpy, &l, args, 4),
               "launch saxpy"))
      goto done;
  }
  {
    xhal_kernel_arg_t args[3] = {buffer_arg(dy), buffer_arg(dsums),
                                 buffer_arg(NULL)};
    xhal_launch_t l = launch_1d(N, GROUP);
    args[2].kind = XHAL_KERNEL_ARG_LOCAL;
    args[2].size = GROUP * sizeof(float);
    if (failed(xhal_stream_enqueue_kernel(stream, partial, &l, args, 3),
               "launch partial_sums"))
      goto done;
  }
  if (failed(xhal_stream_record_event(stream, end), "record") ||
      failed(xhal_stream_enqueue_read(stream, dsums, 0, sums, sizeof(sums)),
             "read") ||
      failed(xhal_stream_synchronize(stream), "synchronize"))
    goto done;

  for (int g = 0; g < N / GROUP; ++g) total += sums[g];
  for (int i = 0; i < N; ++i) want += (double)(a * x[i] + y[i]);
  printf("sum of a*x+y over %d elements: %.1f (want %.1f)\n", N, total, want);
  if (fabs(total - want) > 1e-4 * fabs(want)) {
    fprintf(stderr, "custom_kernel: wrong result\n");
    goto done;
  }
  if ((props->capabilities & XHAL_CAP_PROFILING) &&
      xhal_event_elapsed(start, end, &ns) == XHAL_OK)
    printf("two kernels took %.1f us of device time\n", (double)ns / 1e3);
  rc = 0;

done:
  xhal_event_release(start);
  xhal_event_release(end);
  xhal_buffer_release(dx);
  xhal_buffer_release(dy);
  xhal_buffer_release(dsums);
  xhal_stream_release(stream);
  xhal_kernel_release(saxpy);
  xhal_kernel_release(partial);
  xhal_program_release(program);
  return rc;
}

int main(void) {
  xhal_instance_t instance = NULL;
  uint32_t count = 0;
  int rc = 0;
  if (failed(xhal_instance_create(NULL, &instance), "instance") ||
      failed(xhal_instance_device_count(instance, &count), "devices")) {
    xhal_instance_release(instance);
    return 1;
  }
  for (uint32_t i = 0; i < count; ++i) {
    xhal_device_t dev = NULL;
    xhal_device_properties_t props;
    if (failed(xhal_instance_device(instance, i, &dev), "device") ||
        failed(xhal_device_properties(dev, &props), "properties")) {
      rc = 1;
      break;
    }
    if (!(props.capabilities & XHAL_CAP_KERNEL_LANG_OPENCL_C)) continue;
    printf("device: %s (%s plugin)\n", props.name,
           xhal_device_plugin_name(dev));
    rc = show_build_failure(dev) || run(dev, &props);
    xhal_instance_release(instance);
    return rc;
  }
  xhal_instance_release(instance);
  if (rc != 0) return rc;
  printf("no device builds OpenCL C: skipped\n");
  return CUSTOM_KERNEL_SKIPPED;
}
