/*
 * bench_cpu.c - the CPU plugin's figures.
 *
 *   cpu.launch_latency     an empty host function enqueued, then the
 *                          stream synchronised (us), against one empty
 *                          task handed to a spin-then-park worker and
 *                          waited for (raw_handoff.h);
 *   cpu.launch_throughput  10 000 empty host functions back to back, then
 *                          one synchronise (ns per launch), against the
 *                          same tasks pushed to a raw single-worker queue;
 *   cpu.copy_h2d/_d2h      64 MiB write/read + synchronise (GB/s), against
 *                          memcpy between the same host buffer and the
 *                          device buffer's own memory (mapped), on the CPU
 *                          the stream's worker ran the copy on;
 *   cpu.matmul_f32_1024    the registry's matmul on the stream (GFLOPS),
 *                          against cblas_sgemm on the same buffers.
 */
#define _GNU_SOURCE

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "raw_handoff.h"

#define MIB (1024u * 1024u)

enum {
  kLatencySamples = 200,
  kLatencyWarmup = 20,
  kLaunches = 10000,
  kCopyBytes = 64 * MIB,
  kMatmulN = 1024,
};

static xhal_status_t noop_host_func(void* user_data) {
  (void)user_data;
  return XHAL_OK;
}

static void noop_task(void* arg) { (void)arg; }

static int failed(xhal_status_t status, const char* what) {
  if (status == XHAL_OK) return 0;
  fprintf(stderr, "xhal-bench: %s: %s\n", what, xhal_last_error());
  return 1;
}

/* ------------------------------------------------------------ launches */

/* Median latency (ns) of one trial. */
static double xhal_latency_trial(xhal_stream_t stream) {
  double samples[kLatencySamples];
  for (int i = 0; i < kLatencyWarmup + kLatencySamples; ++i) {
    double t0 = bench_now_ns();
    if (failed(xhal_stream_enqueue_host_func(stream, noop_host_func, NULL),
               "enqueue_host_func") ||
        failed(xhal_stream_synchronize(stream), "synchronize")) {
      return NAN;
    }
    if (i >= kLatencyWarmup) samples[i - kLatencyWarmup] = bench_now_ns() - t0;
  }
  return bench_median(samples, kLatencySamples);
}

static double raw_latency_trial(raw_handoff_t* raw) {
  double samples[kLatencySamples];
  for (int i = 0; i < kLatencyWarmup + kLatencySamples; ++i) {
    double t0 = bench_now_ns();
    raw_handoff_run(raw, noop_task, NULL);
    if (i >= kLatencyWarmup) samples[i - kLatencyWarmup] = bench_now_ns() - t0;
  }
  return bench_median(samples, kLatencySamples);
}

/* ns per launch of one trial. */
static double xhal_throughput_trial(xhal_stream_t stream) {
  double t0 = bench_now_ns();
  for (int i = 0; i < kLaunches; ++i) {
    if (failed(xhal_stream_enqueue_host_func(stream, noop_host_func, NULL),
               "enqueue_host_func")) {
      return NAN;
    }
  }
  if (failed(xhal_stream_synchronize(stream), "synchronize")) return NAN;
  return (bench_now_ns() - t0) / kLaunches;
}

static double raw_throughput_trial(raw_handoff_t* raw) {
  double t0 = bench_now_ns();
  for (int i = 0; i < kLaunches; ++i) raw_handoff_push(raw, noop_task, NULL);
  raw_handoff_wait(raw);
  return (bench_now_ns() - t0) / kLaunches;
}

/* Alternates trials of the two sides; each side's figure is the median
 * of its trials. The first trial of each is a warm-up. */
typedef double (*xhal_trial_fn)(xhal_stream_t stream);
typedef double (*raw_trial_fn)(raw_handoff_t* raw);

static void alternate(int trials, xhal_trial_fn xf, xhal_stream_t stream,
                      raw_trial_fn rf, raw_handoff_t* raw, double* out_xhal,
                      double* out_raw) {
  double xs[64], rs[64];
  if (trials > 64) trials = 64;
  for (int i = -1; i < trials; ++i) {
    bench_settle();
    double x = xf(stream);
    bench_settle();
    double r = rf(raw);
    if (i >= 0) {
      xs[i] = x;
      rs[i] = r;
    }
  }
  *out_xhal = bench_median(xs, trials);
  *out_raw = bench_median(rs, trials);
}

static void launches(xhal_stream_t stream) {
  raw_handoff_t* raw = raw_handoff_create();
  if (!raw) {
    bench_skip("cpu.launch", "cannot start the raw worker thread");
    return;
  }
  double x, r;
  if (bench_wants("cpu.launch_latency")) {
    alternate(bench_trials(41, 9), xhal_latency_trial, stream,
              raw_latency_trial, raw, &x, &r);
    bench_report("cpu.launch_latency", x * 1e-3, "us",
                 "empty task handed to a spin-then-park pthread worker",
                 r * 1e-3, BENCH_LOWER, (bench_target_t){.max_ratio = 1.5});
  }
  if (bench_wants("cpu.launch_throughput")) {
    alternate(bench_trials(41, 9), xhal_throughput_trial, stream,
              raw_throughput_trial, raw, &x, &r);
    bench_report("cpu.launch_throughput", x, "ns",
                 "10k empty tasks pushed to a raw spin-then-park queue", r,
                 BENCH_LOWER,
                 (bench_target_t){.max_ratio = 1.5, .max_value = 250});
  }
  raw_handoff_destroy(raw);
}

/* ------------------------------------------------------------ copies */

/* Where a copy ran: the two vCPUs of a VM need not move memory equally
 * fast (a memcpy on one can be a third slower than on the other, with no
 * HAL involved), so the raw memcpy runs on the CPU that ran the stream's
 * copy, and the ratio compares the same work on the same CPU. */
static xhal_status_t record_cpu(void* user_data) {
  *(int*)user_data = sched_getcpu();
  return XHAL_OK;
}

/* Runs memcpy on `cpu` (any CPU when negative) and returns its ns. */
static double memcpy_on(int cpu, void* dst, const void* src, size_t bytes) {
  cpu_set_t old_set, one;
  int pinned = 0;
  if (cpu >= 0 &&
      pthread_getaffinity_np(pthread_self(), sizeof(old_set), &old_set) == 0) {
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned = pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
  }
  double t0 = bench_now_ns();
  memcpy(dst, src, bytes);
  double t = bench_now_ns() - t0;
  if (pinned) pthread_setaffinity_np(pthread_self(), sizeof(old_set), &old_set);
  return t;
}

static void copies(xhal_device_t device, xhal_stream_t stream) {
  xhal_buffer_t buffer = NULL;
  void* mapped = NULL;
  uint8_t* host = malloc(kCopyBytes);
  if (!host ||
      failed(xhal_buffer_alloc(device, kCopyBytes, XHAL_MEMORY_HOST_VISIBLE,
                               &buffer),
             "buffer_alloc") ||
      failed(xhal_buffer_map(buffer, 0, kCopyBytes,
                             XHAL_MAP_READ | XHAL_MAP_WRITE, &mapped),
             "buffer_map")) {
    bench_skip("cpu.copy", "cannot allocate 64 MiB");
    free(host);
    xhal_buffer_release(buffer);
    return;
  }
  /* Touch every page of both sides once, outside the timing. */
  memset(host, 1, kCopyBytes);
  memset(mapped, 2, kCopyBytes);
  const int trials = bench_trials(41, 7);
  for (int dir = 0; dir < 2; ++dir) {
    const char* name = dir == 0 ? "cpu.copy_h2d" : "cpu.copy_d2h";
    if (!bench_wants(name)) continue;
    double xs[64], rs[64];
    for (int i = -1; i < trials; ++i) {
      int cpu = -1;
      double t0 = bench_now_ns();
      xhal_status_t status =
          dir == 0
              ? xhal_stream_enqueue_write(stream, buffer, 0, host, kCopyBytes)
              : xhal_stream_enqueue_read(stream, buffer, 0, host, kCopyBytes);
      if (failed(status, name) ||
          failed(xhal_stream_enqueue_host_func(stream, record_cpu, &cpu),
                 "enqueue_host_func") ||
          failed(xhal_stream_synchronize(stream), "synchronize")) {
        break;
      }
      double t = bench_now_ns() - t0;
      bench_settle(); /* the worker's spin ends before memcpy takes its CPU */
      double r = dir == 0 ? memcpy_on(cpu, mapped, host, kCopyBytes)
                          : memcpy_on(cpu, host, mapped, kCopyBytes);
      if (i >= 0) {
        xs[i] = kCopyBytes / t; /* bytes per ns = GB/s */
        rs[i] = kCopyBytes / r;
      }
    }
    bench_report(name, bench_median(xs, trials), "GB/s",
                 "memcpy of the same bytes on the CPU that ran the copy",
                 bench_median(rs, trials), BENCH_HIGHER,
                 (bench_target_t){.min_ratio = 0.9});
  }
  if (failed(xhal_buffer_unmap(buffer, mapped), "unmap")) return;
  xhal_buffer_release(buffer);
  free(host);
}

/* ------------------------------------------------------------ matmul */

static void tensor(xhal_tensor_t* t, xhal_buffer_t buffer, uint64_t n) {
  memset(t, 0, sizeof(*t));
  t->desc.dtype = XHAL_DTYPE_F32;
  t->desc.rank = 2;
  t->desc.dims[0] = n;
  t->desc.dims[1] = n;
  t->buffer = buffer;
}

void bench_cpu_matmul(xhal_instance_t instance) {
  const char* name = "cpu.matmul_f32_1024";
  xhal_device_t device = bench_device(instance, "cpu");
  if (!bench_wants(name)) return;
  if (!device) {
    bench_skip(name, "the CPU plugin did not load");
    return;
  }
  const uint64_t n = kMatmulN;
  const uint64_t bytes = n * n * sizeof(float);
  xhal_stream_t stream = NULL;
  xhal_buffer_t buf[3] = {NULL, NULL, NULL};
  float* ptr[3] = {NULL, NULL, NULL};
  if (failed(xhal_stream_create(device, &stream), "stream_create")) return;
  for (int i = 0; i < 3; ++i) {
    if (failed(
            xhal_buffer_alloc(device, bytes, XHAL_MEMORY_HOST_VISIBLE, &buf[i]),
            "buffer_alloc") ||
        failed(xhal_buffer_map(buf[i], 0, bytes, XHAL_MAP_READ | XHAL_MAP_WRITE,
                               (void**)&ptr[i]),
               "buffer_map")) {
      goto done;
    }
  }
  srand(7);
  for (uint64_t i = 0; i < n * n; ++i) {
    ptr[0][i] = (float)rand() / (float)RAND_MAX - 0.5f;
    ptr[1][i] = (float)rand() / (float)RAND_MAX - 0.5f;
  }
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_MATMUL);
  call.num_inputs = 2;
  call.num_outputs = 1;
  tensor(&call.inputs[0], buf[0], n);
  tensor(&call.inputs[1], buf[1], n);
  tensor(&call.outputs[0], buf[2], n);

  const int trials = bench_trials(21, 5);
  const double flop = 2.0 * (double)n * (double)n * (double)n;
  double xs[32], rs[32];
  for (int i = -2; i < trials; ++i) {
    double t0 = bench_now_ns();
    if (failed(xhal_stream_enqueue_op(stream, NULL, &call), "enqueue_op") ||
        failed(xhal_stream_synchronize(stream), "synchronize")) {
      goto done;
    }
    double t1 = bench_now_ns();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n,
                (int)n, 1.0f, ptr[0], (int)n, ptr[1], (int)n, 0.0f, ptr[2],
                (int)n);
    double t2 = bench_now_ns();
    if (i >= 0) {
      xs[i] = flop / (t1 - t0); /* flop per ns = GFLOPS */
      rs[i] = flop / (t2 - t1);
    }
  }
  bench_report(name, bench_median(xs, trials), "GFLOPS",
               "cblas_sgemm (OpenBLAS) on the same buffers",
               bench_median(rs, trials), BENCH_HIGHER,
               (bench_target_t){.min_ratio = 0.9});
done:
  for (int i = 0; i < 3; ++i) {
    if (ptr[i] && xhal_buffer_unmap(buf[i], ptr[i]) != XHAL_OK) continue;
    xhal_buffer_release(buf[i]);
  }
  xhal_stream_release(stream);
}

void bench_cpu(xhal_instance_t instance) {
  xhal_device_t device = bench_device(instance, "cpu");
  xhal_stream_t stream = NULL;
  if (!bench_wants_prefix("cpu.launch") && !bench_wants_prefix("cpu.copy")) {
    return;
  }
  if (failed(xhal_stream_create(device, &stream), "stream_create")) {
    bench_skip("cpu.", "cannot create a CPU stream");
    return;
  }
  if (bench_wants_prefix("cpu.launch")) launches(stream);
  if (bench_wants_prefix("cpu.copy")) copies(device, stream);
  xhal_stream_release(stream);
}
