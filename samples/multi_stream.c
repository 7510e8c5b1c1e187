/*
 * multi_stream: several streams with events between them.
 *
 * Fan-out / fan-in on each device: stream 0 uploads x and records an
 * event; streams 1..3 wait on it, each fills its own constant k and adds
 * it to x (out_k = x + k), and records an event; stream 0 waits on all
 * three events and sums the results, so y = 3x + 6 is right only if every
 * wait held.
 *
 * A relay across devices (when there are several): the first device's
 * stream uploads x; each next device's stream waits on the previous
 * device's event, copies the tensor over (across plugins the HAL stages
 * through host memory) and doubles it; the first stream waits on the last
 * event and copies the result home: x * 2^(devices-1), exactly.
 *
 * Exits 0 when every result matches plain C, 1 otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xhal/xhal.h>

enum { N = 1 << 16, FAN = 3, MAX_DEVICES = 16 };

static float x[N], y[N];

static int check(xhal_status_t status, const char* what) {
  if (status == XHAL_OK) return 0;
  fprintf(stderr, "multi_stream: %s: %s: %s\n", what, xhal_status_name(status),
          xhal_last_error());
  return 1;
}

static void vector(xhal_tensor_t* t, xhal_buffer_t buffer) {
  memset(t, 0, sizeof(*t));
  t->desc.dtype = XHAL_DTYPE_F32;
  t->desc.rank = 1;
  t->desc.dims[0] = N;
  t->buffer = buffer;
}

/* Enqueues out = a + b on `stream`. */
static int add(xhal_stream_t stream, xhal_buffer_t a, xhal_buffer_t b,
               xhal_buffer_t out) {
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_ADD);
  call.num_inputs = 2;
  call.num_outputs = 1;
  vector(&call.inputs[0], a);
  vector(&call.inputs[1], b);
  vector(&call.outputs[0], out);
  return check(xhal_stream_enqueue_op(stream, NULL, &call), "add");
}

static int compare(const char* what, double (*want)(double, double),
                   double arg) {
  int bad = 0;
  for (int i = 0; i < N; ++i) {
    if ((double)y[i] != want((double)x[i], arg)) {
      if (!bad) {
        fprintf(stderr, "multi_stream: %s: y[%d] = %g, want %g\n", what, i,
                (double)y[i], want((double)x[i], arg));
      }
      bad = 1;
    }
  }
  return bad;
}

static double fan_in_want(double v, double unused) {
  (void)unused;
  return 3.0 * v + 6.0;
}

static double relay_want(double v, double factor) { return v * factor; }

static int fan_out_fan_in(xhal_device_t dev) {
  xhal_stream_t streams[FAN + 1] = {NULL};
  xhal_event_t events[FAN + 1] = {NULL};
  xhal_buffer_t dx = NULL, k[FAN] = {NULL}, out[FAN] = {NULL}, s = NULL,
                dy = NULL;
  xhal_device_properties_t props;
  int rc = 1;

  if (check(xhal_device_properties(dev, &props), "properties")) return 1;
  for (int i = 0; i <= FAN; ++i) {
    if (check(xhal_stream_create(dev, &streams[i]), "stream") ||
        check(xhal_event_create(dev, &events[i]), "event"))
      goto done;
  }
  if (check(xhal_buffer_alloc(dev, sizeof(x), 0, &dx), "alloc") ||
      check(xhal_buffer_alloc(dev, sizeof(x), 0, &s), "alloc") ||
      check(xhal_buffer_alloc(dev, sizeof(x), 0, &dy), "alloc"))
    goto done;
  for (int i = 0; i < FAN; ++i) {
    if (check(xhal_buffer_alloc(dev, sizeof(x), 0, &k[i]), "alloc") ||
        check(xhal_buffer_alloc(dev, sizeof(x), 0, &out[i]), "alloc"))
      goto done;
  }
  if (check(xhal_stream_enqueue_write(streams[0], dx, 0, x, sizeof(x)),
            "write") ||
      check(xhal_stream_record_event(streams[0], events[0]), "record"))
    goto done;
  for (int i = 0; i < FAN; ++i) {
    xhal_stream_t st = streams[i + 1];
    float value = (float)(i + 1);
    if (check(xhal_stream_enqueue_fill(st, k[i], 0, sizeof(x), &value,
                                       sizeof(value)),
              "fill") ||
        check(xhal_stream_wait_event(st, events[0]), "wait") ||
        add(st, dx, k[i], out[i]) ||
        check(xhal_stream_record_event(st, events[i + 1]), "record"))
      goto done;
  }
  for (int i = 1; i <= FAN; ++i) {
    if (check(xhal_stream_wait_event(streams[0], events[i]), "wait")) goto done;
  }
  memset(y, 0, sizeof(y));
  if (add(streams[0], out[0], out[1], s) || add(streams[0], s, out[2], dy) ||
      check(xhal_stream_enqueue_read(streams[0], dy, 0, y, sizeof(y)),
            "read") ||
      check(xhal_stream_synchronize(streams[0]), "synchronize"))
    goto done;
  rc = compare("fan-in", fan_in_want, 0.0);
  printf("%-40.40s (%s): %d streams, fan-out/fan-in over events: %s\n",
         props.name, xhal_device_plugin_name(dev), FAN + 1,
         rc ? "WRONG" : "ok");

done:
  for (int i = 0; i < FAN; ++i) {
    xhal_buffer_release(k[i]);
    xhal_buffer_release(out[i]);
  }
  xhal_buffer_release(dx);
  xhal_buffer_release(s);
  xhal_buffer_release(dy);
  for (int i = 0; i <= FAN; ++i) {
    xhal_stream_release(streams[i]);
    xhal_event_release(events[i]);
  }
  return rc;
}

static int relay(xhal_device_t* devs, uint32_t count) {
  xhal_stream_t streams[MAX_DEVICES] = {NULL};
  xhal_event_t events[MAX_DEVICES] = {NULL};
  xhal_buffer_t in[MAX_DEVICES] = {NULL}, out[MAX_DEVICES] = {NULL};
  xhal_buffer_t home = NULL;
  int rc = 1;

  for (uint32_t d = 0; d < count; ++d) {
    if (check(xhal_stream_create(devs[d], &streams[d]), "stream") ||
        check(xhal_event_create(devs[d], &events[d]), "event") ||
        check(xhal_buffer_alloc(devs[d], sizeof(x), 0, &in[d]), "alloc") ||
        check(xhal_buffer_alloc(devs[d], sizeof(x), 0, &out[d]), "alloc"))
      goto done;
  }
  if (check(xhal_buffer_alloc(devs[0], sizeof(x), 0, &home), "alloc")) {
    goto done;
  }
  /* Device 0 holds x in out[0]; device d doubles what device d-1 made. */
  if (check(xhal_stream_enqueue_write(streams[0], out[0], 0, x, sizeof(x)),
            "write") ||
      check(xhal_stream_record_event(streams[0], events[0]), "record"))
    goto done;
  for (uint32_t d = 1; d < count; ++d) {
    if (check(xhal_stream_wait_event(streams[d], events[d - 1]), "wait") ||
        check(xhal_stream_enqueue_copy(streams[d], out[d - 1], 0, in[d], 0,
                                       sizeof(x)),
              "copy") ||
        add(streams[d], in[d], in[d], out[d]) ||
        check(xhal_stream_record_event(streams[d], events[d]), "record"))
      goto done;
  }
  memset(y, 0, sizeof(y));
  if (check(xhal_stream_wait_event(streams[0], events[count - 1]), "wait") ||
      check(xhal_stream_enqueue_copy(streams[0], out[count - 1], 0, home, 0,
                                     sizeof(x)),
            "copy home") ||
      check(xhal_stream_enqueue_read(streams[0], home, 0, y, sizeof(y)),
            "read") ||
      check(xhal_stream_synchronize(streams[0]), "synchronize"))
    goto done;
  rc = compare("relay", relay_want, ldexp(1.0, (int)count - 1));
  printf("relay across %u devices, one stream each, events between: %s\n",
         count, rc ? "WRONG" : "ok");

done:
  for (uint32_t d = 0; d < count; ++d) {
    xhal_buffer_release(in[d]);
    xhal_buffer_release(out[d]);
    xhal_stream_release(streams[d]);
    xhal_event_release(events[d]);
  }
  xhal_buffer_release(home);
  return rc;
}

int main(void) {
  xhal_instance_t instance = NULL;
  xhal_device_t devs[MAX_DEVICES];
  uint32_t count = 0, used = 0;
  int failures = 0;

  for (int i = 0; i < N; ++i) x[i] = (float)(i % 251) * 0.5f - 60.0f;
  if (check(xhal_instance_create(NULL, &instance), "instance") ||
      check(xhal_instance_device_count(instance, &count), "devices")) {
    xhal_instance_release(instance);
    return 1;
  }
  for (uint32_t i = 0; i < count && used < MAX_DEVICES; ++i) {
    xhal_op_call_t probe;
    xhal_op_impl_t impl;
    if (check(xhal_instance_device(instance, i, &devs[used]), "device")) {
      ++failures;
      continue;
    }
    /* Only devices that can add take part. */
    xhal_op_call_init(&probe, XHAL_OP_ADD);
    probe.num_inputs = 2;
    probe.num_outputs = 1;
    vector(&probe.inputs[0], NULL);
    vector(&probe.inputs[1], NULL);
    vector(&probe.outputs[0], NULL);
    if (xhal_registry_lookup(devs[used], &probe, &impl) != XHAL_OK) continue;
    failures += fan_out_fan_in(devs[used]);
    ++used;
  }
  if (used > 1) failures += relay(devs, used);
  printf("multi_stream: %u device(s): %s\n", used,
         used > 0 && failures == 0 ? "OK" : "FAILED");
  xhal_instance_release(instance);
  return used > 0 && failures == 0 ? 0 : 1;
}
