/*
 * bench_pool.c - pool.alloc_free: one 1 MiB xhal_pool_alloc_async plus
 * xhal_pool_free_async on a CPU stream (ns per pair, steady state),
 * against the plugin's raw allocation and free of the same size through
 * xhal_buffer_alloc and xhal_buffer_release. The same figure on the
 * OpenCL and NPU plugins (pool.alloc_free_opencl, _npu) shows the pool
 * where raw allocation is a driver call.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <xhal/xhal_pool.h>

#include "bench.h"

enum { kBytes = 1024 * 1024 };

static double pool_trial(xhal_pool_t pool, xhal_stream_t stream, int pairs) {
  double t0 = bench_now_ns();
  for (int i = 0; i < pairs; ++i) {
    xhal_buffer_t buffer = NULL;
    if (xhal_pool_alloc_async(pool, stream, kBytes, &buffer) != XHAL_OK ||
        xhal_pool_free_async(pool, stream, buffer) != XHAL_OK) {
      fprintf(stderr, "xhal-bench: pool: %s\n", xhal_last_error());
      return NAN;
    }
  }
  return (bench_now_ns() - t0) / pairs;
}

static double raw_trial(xhal_device_t device, int pairs) {
  double t0 = bench_now_ns();
  for (int i = 0; i < pairs; ++i) {
    xhal_buffer_t buffer = NULL;
    if (xhal_buffer_alloc(device, kBytes, 0, &buffer) != XHAL_OK) {
      fprintf(stderr, "xhal-bench: buffer_alloc: %s\n", xhal_last_error());
      return NAN;
    }
    xhal_buffer_release(buffer);
  }
  return (bench_now_ns() - t0) / pairs;
}

/* One pool figure on the device of `plugin`. */
static void pool_figure(xhal_instance_t instance, const char* plugin,
                        const char* name, bench_target_t target) {
  if (!bench_wants(name)) return;
  xhal_device_t device = bench_device(instance, plugin);
  xhal_stream_t stream = NULL;
  xhal_pool_t pool = NULL;
  if (!device) {
    bench_skip(name, "the plugin did not load or has no device");
    return;
  }
  if (xhal_stream_create(device, &stream) != XHAL_OK ||
      xhal_pool_create(device, NULL, &pool) != XHAL_OK) {
    bench_skip(name, xhal_last_error());
    xhal_stream_release(stream);
    return;
  }
  const int trials = bench_trials(31, 7);
  double xs[32], rs[32];
  for (int i = -1; i < trials; ++i) {
    double x = pool_trial(pool, stream, 20000);
    double r = raw_trial(device, 1000);
    if (isnan(x) || isnan(r)) break;
    if (i >= 0) {
      xs[i] = x;
      rs[i] = r;
    }
    if (i == trials - 1) {
      bench_report(name, bench_median(xs, trials), "ns",
                   "xhal_buffer_alloc + xhal_buffer_release of 1 MiB (the "
                   "plugin's raw allocation)",
                   bench_median(rs, trials), BENCH_LOWER, target);
    }
  }
  xhal_pool_release(pool);
  xhal_stream_release(stream);
}

void bench_pool(xhal_instance_t instance) {
  pool_figure(instance, "cpu", "pool.alloc_free",
              (bench_target_t){.max_ratio = 0.1, .max_value = 100});
}

void bench_pool_others(xhal_instance_t instance) {
  /* Where the raw allocation is a driver call rather than a malloc. */
  pool_figure(instance, "opencl", "pool.alloc_free_opencl",
              (bench_target_t){0});
  pool_figure(instance, "npu", "pool.alloc_free_npu", (bench_target_t){0});
}
