/*
 * quickstart: the shortest useful framework program. Opens an instance,
 * takes the first CPU device, uploads two matrices, runs matmul then
 * softmax through the kernel registry, reads the result back and checks
 * it against plain C. Exits non-zero on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xhal/xhal.h>

enum { M = 64, K = 48, N = 32 };

/* Prints the failure and returns 1 when `status` is not XHAL_OK. */
static int failed(xhal_status_t status) {
  if (status == XHAL_OK) return 0;
  fprintf(stderr, "quickstart: %s\n", xhal_last_error());
  return 1;
}

static void tensor(xhal_tensor_t* t, uint64_t rows, uint64_t cols,
                   xhal_buffer_t buffer) {
  memset(t, 0, sizeof(*t));
  t->desc.dtype = XHAL_DTYPE_F32;
  t->desc.rank = 2;
  t->desc.dims[0] = rows;
  t->desc.dims[1] = cols;
  t->buffer = buffer;
}

static int run(xhal_device_t cpu) {
  static float a[M * K], b[K * N], y[M * N], want[M * N];
  for (int i = 0; i < M * K; ++i) a[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
  for (int i = 0; i < K * N; ++i) b[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;

  xhal_stream_t stream;
  xhal_buffer_t da, db, dc, dy;
  if (failed(xhal_stream_create(cpu, &stream))) return 1;
  if (failed(xhal_buffer_alloc(cpu, sizeof(a), 0, &da))) return 1;
  if (failed(xhal_buffer_alloc(cpu, sizeof(b), 0, &db))) return 1;
  if (failed(xhal_buffer_alloc(cpu, sizeof(y), 0, &dc))) return 1;
  if (failed(xhal_buffer_alloc(cpu, sizeof(y), 0, &dy))) return 1;
  if (failed(xhal_stream_enqueue_write(stream, da, 0, a, sizeof(a)))) return 1;
  if (failed(xhal_stream_enqueue_write(stream, db, 0, b, sizeof(b)))) return 1;

  xhal_op_call_t matmul, softmax;
  xhal_op_call_init(&matmul, XHAL_OP_MATMUL);
  matmul.num_inputs = 2;
  tensor(&matmul.inputs[0], M, K, da);
  tensor(&matmul.inputs[1], K, N, db);
  tensor(&matmul.outputs[0], M, N, dc);
  xhal_op_call_init(&softmax, XHAL_OP_SOFTMAX);
  softmax.num_inputs = 1;
  tensor(&softmax.inputs[0], M, N, dc);
  tensor(&softmax.outputs[0], M, N, dy);

  xhal_op_impl_t impl;
  xhal_op_impl_info_t info;
  if (failed(xhal_registry_lookup(cpu, &matmul, &impl))) return 1;
  if (failed(xhal_op_impl_info(impl, &info))) return 1;
  printf("matmul %dx%dx%d -> %s\n", M, K, N, info.name);
  if (failed(xhal_stream_enqueue_op(stream, impl, &matmul))) return 1;
  if (failed(xhal_stream_enqueue_op(stream, NULL, &softmax))) return 1;
  if (failed(xhal_stream_enqueue_read(stream, dy, 0, y, sizeof(y)))) return 1;
  if (failed(xhal_stream_synchronize(stream))) return 1;

  double worst = 0;
  for (int i = 0; i < M; ++i) {
    double row[N], max = -INFINITY, sum = 0;
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int k = 0; k < K; ++k) acc += (double)a[i * K + k] * b[k * N + j];
      row[j] = acc;
      max = fmax(max, acc);
    }
    for (int j = 0; j < N; ++j) sum += exp(row[j] - max);
    for (int j = 0; j < N; ++j) {
      want[i * N + j] = (float)(exp(row[j] - max) / sum);
      worst = fmax(worst, fabs((double)y[i * N + j] - want[i * N + j]));
    }
  }
  printf("softmax(matmul) max abs error vs plain C: %.3g\n", worst);
  xhal_buffer_release(da);
  xhal_buffer_release(db);
  xhal_buffer_release(dc);
  xhal_buffer_release(dy);
  xhal_stream_release(stream);
  return worst < 1e-5 ? 0 : 1;
}

int main(void) {
  xhal_instance_t instance;
  if (failed(xhal_instance_create(NULL, &instance))) return 1;
  uint32_t count = 0;
  if (failed(xhal_instance_device_count(instance, &count))) return 1;
  xhal_device_t cpu = NULL;
  for (uint32_t i = 0; i < count && !cpu; ++i) {
    xhal_device_t device;
    xhal_device_properties_t props;
    if (failed(xhal_instance_device(instance, i, &device))) return 1;
    if (failed(xhal_device_properties(device, &props))) return 1;
    if (props.kind == XHAL_DEVICE_KIND_CPU) cpu = device;
  }
  if (!cpu) {
    fprintf(stderr, "quickstart: no CPU device (is the CPU plugin built?)\n");
    xhal_instance_release(instance);
    return 1;
  }
  int rc = run(cpu);
  printf("quickstart: %s\n", rc == 0 ? "OK" : "FAILED");
  xhal_instance_release(instance);
  return rc;
}
