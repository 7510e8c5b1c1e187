/*
 * bench_npu.c - npu.matmul_f32_1024: wall time of one 1024^3 f32 matmul
 * through the registry on the simulated NPU (enqueue + synchronise, ms),
 * against the same call on the CPU plugin. The simulator computes results
 * functionally and times them analytically, so this figure is the cost of
 * simulating the layer, not the modelled chip's speed (npusim reports
 * that in simulated cycles).
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { kN = 1024 };

typedef struct side {
  xhal_stream_t stream;
  xhal_buffer_t buf[3];
  xhal_op_call_t call;
} side_t;

static void tensor(xhal_tensor_t* t, xhal_buffer_t buffer) {
  memset(t, 0, sizeof(*t));
  t->desc.dtype = XHAL_DTYPE_F32;
  t->desc.rank = 2;
  t->desc.dims[0] = kN;
  t->desc.dims[1] = kN;
  t->buffer = buffer;
}

static int side_open(xhal_device_t device, const float* host, side_t* s) {
  const uint64_t bytes = (uint64_t)kN * kN * sizeof(float);
  memset(s, 0, sizeof(*s));
  if (xhal_stream_create(device, &s->stream) != XHAL_OK) return -1;
  for (int i = 0; i < 3; ++i) {
    if (xhal_buffer_alloc(device, bytes, 0, &s->buf[i]) != XHAL_OK ||
        xhal_stream_enqueue_write(s->stream, s->buf[i], 0, host, bytes) !=
            XHAL_OK) {
      return -1;
    }
  }
  xhal_op_call_init(&s->call, XHAL_OP_MATMUL);
  s->call.num_inputs = 2;
  s->call.num_outputs = 1;
  tensor(&s->call.inputs[0], s->buf[0]);
  tensor(&s->call.inputs[1], s->buf[1]);
  tensor(&s->call.outputs[0], s->buf[2]);
  return xhal_stream_synchronize(s->stream) == XHAL_OK ? 0 : -1;
}

static void side_close(side_t* s) {
  for (int i = 0; i < 3; ++i) xhal_buffer_release(s->buf[i]);
  xhal_stream_release(s->stream);
}

/* Milliseconds of one matmul, NAN when it fails. */
static double side_run(side_t* s) {
  double t0 = bench_now_ns();
  if (xhal_stream_enqueue_op(s->stream, NULL, &s->call) != XHAL_OK ||
      xhal_stream_synchronize(s->stream) != XHAL_OK) {
    fprintf(stderr, "xhal-bench: npu: matmul: %s\n", xhal_last_error());
    return NAN;
  }
  return (bench_now_ns() - t0) * 1e-6;
}

void bench_npu(xhal_instance_t instance) {
  const char* name = "npu.matmul_f32_1024";
  xhal_device_t npu = bench_device(instance, "npu");
  xhal_device_t cpu = bench_device(instance, "cpu");
  if (!bench_wants(name)) return;
  if (!npu) {
    bench_skip("npu.", "the NPU plugin did not load or has no device");
    return;
  }
  if (!cpu) {
    bench_skip("npu.", "no CPU plugin to compare with");
    return;
  }
  float* host = malloc((size_t)kN * kN * sizeof(float));
  side_t ns, cs;
  memset(&ns, 0, sizeof(ns));
  memset(&cs, 0, sizeof(cs));
  if (!host) return;
  srand(5);
  for (size_t i = 0; i < (size_t)kN * kN; ++i) {
    host[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  }
  if (side_open(npu, host, &ns) != 0 || side_open(cpu, host, &cs) != 0) {
    bench_skip("npu.", xhal_last_error());
  } else {
    const int trials = bench_trials(9, 3);
    double xs[16], rs[16];
    for (int i = -1; i < trials; ++i) {
      double x = side_run(&ns);
      double r = side_run(&cs);
      if (isnan(x) || isnan(r)) break;
      if (i >= 0) {
        xs[i] = x;
        rs[i] = r;
      }
      if (i == trials - 1) {
        bench_report(name, bench_median(xs, trials), "ms",
                     "the same matmul on the CPU plugin",
                     bench_median(rs, trials), BENCH_LOWER,
                     (bench_target_t){.max_ratio = 3.0});
      }
    }
  }
  side_close(&ns);
  side_close(&cs);
  free(host);
}
