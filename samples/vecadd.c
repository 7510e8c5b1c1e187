/*
 * vecadd: c = a + b on every device of every loaded plugin, through the
 * standard operator XHAL_OP_ADD and the kernel registry. For each device it
 * uploads a and b, enqueues the add with the implementation the registry
 * picks for that device, reads c back, checks it against the same sum on
 * the host and prints one line.
 *
 * usage: vecadd [elements]     (default 1048576)
 * Exits 0 when every device that has an add implementation got the right
 * result (and at least one did), 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xhal/xhal.h>

static const char* kind_name(xhal_device_kind_t kind) {
  switch (kind) {
    case XHAL_DEVICE_KIND_CPU:
      return "CPU";
    case XHAL_DEVICE_KIND_GPU:
      return "GPU";
    case XHAL_DEVICE_KIND_NPU:
      return "NPU";
    default:
      return "OTHER";
  }
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void vector(xhal_tensor_t* t, uint64_t n, xhal_buffer_t buffer) {
  memset(t, 0, sizeof(*t));
  t->desc.dtype = XHAL_DTYPE_F32;
  t->desc.rank = 1;
  t->desc.dims[0] = n;
  t->buffer = buffer;
}

/* Runs the add on `dev`. Returns 0 (right), 1 (failure), 2 (the device has
 * no add implementation: reported, not an error). */
static int run_on(xhal_device_t dev, uint32_t index, const float* a,
                  const float* b, float* c, uint64_t n) {
  xhal_device_properties_t props;
  xhal_stream_t stream = NULL;
  xhal_buffer_t da = NULL, db = NULL, dc = NULL;
  xhal_op_call_t add;
  xhal_op_impl_t impl = NULL;
  xhal_op_impl_info_t info;
  xhal_status_t st;
  const char* what = "properties";
  uint64_t bytes = n * sizeof(float), bad = 0;
  double worst = 0.0, t0, ms;
  int rc = 1;

  memset(&props, 0, sizeof(props));
  st = xhal_device_properties(dev, &props);
  if (st != XHAL_OK) goto done;
  xhal_op_call_init(&add, XHAL_OP_ADD);
  add.num_inputs = 2;
  add.num_outputs = 1;
  vector(&add.inputs[0], n, NULL);
  vector(&add.inputs[1], n, NULL);
  vector(&add.outputs[0], n, NULL);
  what = "lookup";
  st = xhal_registry_lookup(dev, &add, &impl);
  if (st == XHAL_ERROR_NOT_FOUND) {
    printf("device %u: %-28s (%s, %s) no f32 add implementation\n", index,
           props.name, xhal_device_plugin_name(dev), kind_name(props.kind));
    return 2;
  }
  if (st != XHAL_OK) goto done;
  what = "impl info";
  if ((st = xhal_op_impl_info(impl, &info)) != XHAL_OK) goto done;
  what = "stream";
  if ((st = xhal_stream_create(dev, &stream)) != XHAL_OK) goto done;
  what = "alloc";
  if ((st = xhal_buffer_alloc(dev, bytes, 0, &da)) != XHAL_OK ||
      (st = xhal_buffer_alloc(dev, bytes, 0, &db)) != XHAL_OK ||
      (st = xhal_buffer_alloc(dev, bytes, 0, &dc)) != XHAL_OK)
    goto done;
  add.inputs[0].buffer = da;
  add.inputs[1].buffer = db;
  add.outputs[0].buffer = dc;
  memset(c, 0, bytes);
  t0 = now_ms();
  what = "enqueue";
  if ((st = xhal_stream_enqueue_write(stream, da, 0, a, bytes)) != XHAL_OK ||
      (st = xhal_stream_enqueue_write(stream, db, 0, b, bytes)) != XHAL_OK ||
      (st = xhal_stream_enqueue_op(stream, impl, &add)) != XHAL_OK ||
      (st = xhal_stream_enqueue_read(stream, dc, 0, c, bytes)) != XHAL_OK)
    goto done;
  what = "synchronize";
  if ((st = xhal_stream_synchronize(stream)) != XHAL_OK) goto done;
  ms = now_ms() - t0;

  /* f32 add is correctly rounded: 1 ulp (ops.md) covers any device. */
  for (uint64_t i = 0; i < n; ++i) {
    float want = a[i] + b[i];
    double err = fabs((double)c[i] - (double)want);
    if (err > 1.2e-7 * fabs((double)want) + 1.18e-38 || isnan(c[i])) ++bad;
    if (err > worst) worst = err;
  }
  printf(
      "device %u: %-28s (%s, %s) impl %-16s %llu elements  %.2f ms  "
      "max abs err %.3g  %s\n",
      index, props.name, xhal_device_plugin_name(dev), kind_name(props.kind),
      info.name, (unsigned long long)n, ms, worst, bad ? "WRONG" : "ok");
  rc = bad ? 1 : 0;
  st = XHAL_OK;

done:
  if (st != XHAL_OK) {
    fprintf(stderr, "vecadd: device %u (%s): %s: %s: %s\n", index, props.name,
            what, xhal_status_name(st), xhal_last_error());
  }
  xhal_buffer_release(da);
  xhal_buffer_release(db);
  xhal_buffer_release(dc);
  xhal_stream_release(stream);
  return rc;
}

int main(int argc, char** argv) {
  uint64_t n = 1u << 20;
  if (argc > 1) {
    char* end = NULL;
    unsigned long long v = strtoull(argv[1], &end, 10);
    if (!end || *end || v == 0 || v > (1ull << 28)) {
      fprintf(stderr, "usage: vecadd [elements: 1 .. 2^28]\n");
      return 1;
    }
    n = v;
  }
  float* a = malloc(n * sizeof(float));
  float* b = malloc(n * sizeof(float));
  float* c = malloc(n * sizeof(float));
  xhal_instance_t instance = NULL;
  uint32_t count = 0, ran = 0, failures = 0;
  int rc = 1;
  if (!a || !b || !c) {
    fprintf(stderr, "vecadd: out of host memory\n");
    goto done;
  }
  for (uint64_t i = 0; i < n; ++i) {
    a[i] = (float)(i % 1000) * 0.5f - 250.0f;
    b[i] = (float)((i * 7) % 997) * 0.25f;
  }
  if (xhal_instance_create(NULL, &instance) != XHAL_OK ||
      xhal_instance_device_count(instance, &count) != XHAL_OK) {
    fprintf(stderr, "vecadd: %s\n", xhal_last_error());
    goto done;
  }
  for (uint32_t i = 0; i < count; ++i) {
    xhal_device_t dev;
    if (xhal_instance_device(instance, i, &dev) != XHAL_OK) {
      fprintf(stderr, "vecadd: %s\n", xhal_last_error());
      ++failures;
      continue;
    }
    int r = run_on(dev, i, a, b, c, n);
    if (r != 2) ++ran;
    if (r == 1) ++failures;
  }
  printf("vecadd: %u device(s), %u ran, %u failed: %s\n", count, ran, failures,
         ran > 0 && failures == 0 ? "OK" : "FAILED");
  rc = ran > 0 && failures == 0 ? 0 : 1;

done:
  xhal_instance_release(instance);
  free(a);
  free(b);
  free(c);
  return rc;
}
