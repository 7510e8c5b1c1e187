/*
 * fuzz_api_seq.c - sequences of public API calls on the CPU plugin.
 *
 * The input is decoded as a program: each step is an opcode byte and
 * argument bytes naming slots of small handle tables (buffers, streams,
 * events), sizes, offsets, flags and patterns. Only misuse the API
 * contract says must come back as a status is generated: zero, huge and
 * overflowing sizes, out-of-range offsets, NULL handles and pointers,
 * unknown flags, bad fill patterns, malformed operator calls. A slot is
 * released only once (no stale handles). Invariants: every call returns
 * a defined status, a failing call leaves a message, and results of
 * accepted writes and fills read back.
 *
 * When XHAL_SECOND_PLUGIN_PATH names another plugin (the NPU's), its
 * device is a second device: objects land on either, so calls that mix
 * devices (an event recorded on another device's stream, an operator whose
 * operands live elsewhere) are exercised too.
 */
#include <string.h>
#include <xhal/xhal.h>

#include "fuzz.h"

#ifndef XHAL_CPU_PLUGIN_PATH
#error "XHAL_CPU_PLUGIN_PATH must name libxhal_cpu.so"
#endif

#define SLOTS 4u
#define HOST_BYTES 4096u
#define MAX_STEPS 64u

typedef struct reader {
  const uint8_t* data;
  size_t size;
  size_t pos;
} reader_t;

static uint8_t next_byte(reader_t* r) {
  return r->pos < r->size ? r->data[r->pos++] : 0;
}

/* A size or offset: mostly small, sometimes at or past every limit. */
static uint64_t next_size(reader_t* r) {
  uint8_t kind = next_byte(r);
  uint8_t v = next_byte(r);
  switch (kind % 8) {
    case 0:
      return 0;
    case 1:
      return UINT64_MAX - v;
    case 2:
      return (uint64_t)1 << (40 + v % 24);
    case 3:
      return (uint64_t)v * 16u;
    default:
      return v;
  }
}

static xhal_instance_t g_instance;
static xhal_device_t g_device;
static xhal_device_t g_other; /* a second device, or the first */
static uint8_t g_host[HOST_BYTES];
static uint8_t g_back[HOST_BYTES];

static void check_status(xhal_status_t s, const char* call) {
  FUZZ_CHECK(s >= XHAL_OK && s < XHAL_STATUS_COUNT, "%s returned %d", call,
             (int)s);
  if (s != XHAL_OK) {
    const char* msg = xhal_last_error();
    FUZZ_CHECK(msg && msg[0], "%s failed with %s and no message", call,
               xhal_status_name(s));
  }
}

static void setup(void) {
  if (g_instance) return;
#ifdef XHAL_SECOND_PLUGIN_PATH
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH,
                                      XHAL_SECOND_PLUGIN_PATH};
#else
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
#endif
  xhal_instance_options_t opt;
  xhal_instance_options_default(&opt);
  opt.ignore_environment = 1;
  opt.plugin_paths = paths;
  opt.plugin_path_count = (uint32_t)(sizeof(paths) / sizeof(paths[0]));
  opt.log_level = XHAL_LOG_ERROR;
  FUZZ_CHECK(xhal_instance_create(&opt, &g_instance) == XHAL_OK, "instance: %s",
             xhal_last_error());
  FUZZ_CHECK(xhal_instance_device(g_instance, 0, &g_device) == XHAL_OK,
             "no CPU device: %s", xhal_last_error());
  FUZZ_CHECK(!strcmp(xhal_device_plugin_name(g_device), "cpu"),
             "device 0 is not the CPU's");
  /* The second plugin may be absent or refuse to load: then one device. */
  if (xhal_instance_device(g_instance, 1, &g_other) != XHAL_OK) {
    g_other = g_device;
  }
  for (size_t i = 0; i < HOST_BYTES; ++i) g_host[i] = (uint8_t)(i * 7u + 1u);
}

typedef struct tables {
  xhal_buffer_t buffers[SLOTS];
  uint64_t sizes[SLOTS];
  xhal_stream_t streams[SLOTS];
  xhal_event_t events[SLOTS];
} tables_t;

/* Enqueues ADD with shapes from the input; operands may mismatch, overrun
 * their buffers or be missing. */
/* The device a new object goes to: the first, the second, or NULL. */
static xhal_device_t pick_device(reader_t* r) {
  uint8_t v = next_byte(r);
  if (v == 0xFF) return NULL;
  return v % 2 ? g_other : g_device;
}

static void enqueue_add(reader_t* r, tables_t* t, xhal_stream_t stream) {
  xhal_op_call_t call;
  uint8_t op = next_byte(r);
  xhal_op_call_init(&call, op < 200 ? XHAL_OP_ADD : (xhal_op_t)op);
  call.num_inputs = next_byte(r) % 6u;
  call.num_outputs = next_byte(r) % 3u;
  if (call.num_inputs > XHAL_MAX_OP_INPUTS) call.num_inputs = 2;
  if (call.num_outputs > XHAL_MAX_OP_OUTPUTS) call.num_outputs = 1;
  xhal_tensor_t* all[] = {&call.inputs[0], &call.inputs[1], &call.outputs[0]};
  for (size_t i = 0; i < 3; ++i) {
    xhal_tensor_t* x = all[i];
    x->desc.dtype = next_byte(r) % 8u == 0 ? next_byte(r) % 7u : XHAL_DTYPE_F32;
    x->desc.rank = next_byte(r) % 4u;
    if (next_byte(r) == 0xFF) x->desc.rank = XHAL_MAX_RANK + 1u;
    for (uint32_t d = 0; d < x->desc.rank && d < XHAL_MAX_RANK; ++d) {
      x->desc.dims[d] = next_byte(r) % 9u;
      if (x->desc.dims[d] == 8) x->desc.dims[d] = UINT64_MAX / 2;
    }
    x->buffer = t->buffers[next_byte(r) % SLOTS];
    x->offset = next_size(r);
  }
  check_status(xhal_stream_enqueue_op(stream, NULL, &call),
               "xhal_stream_enqueue_op");
}

static void step(reader_t* r, tables_t* t) {
  uint8_t op = next_byte(r);
  uint8_t a = next_byte(r) % SLOTS, b = next_byte(r) % SLOTS;
  xhal_buffer_t buf = t->buffers[a];
  xhal_stream_t stream = t->streams[b];
  xhal_event_t event = t->events[a];
  xhal_status_t s;
  switch (op % 16) {
    case 0: { /* alloc, maybe with bad size or flags */
      uint64_t size = next_size(r);
      uint8_t f = next_byte(r);
      uint32_t flags = f < 200 ? (uint32_t)f % 8u : (uint32_t)f << 3;
      xhal_buffer_t out = NULL;
      s = xhal_buffer_alloc(pick_device(r), size, flags, &out);
      check_status(s, "xhal_buffer_alloc");
      if (s == XHAL_OK) {
        FUZZ_CHECK(out && size > 0, "alloc of %llu bytes accepted",
                   (unsigned long long)size);
        xhal_buffer_release(t->buffers[a]);
        t->buffers[a] = out;
        t->sizes[a] = size;
      }
      break;
    }
    case 1:
      xhal_buffer_release(buf);
      t->buffers[a] = NULL;
      break;
    case 2: { /* write; a host range past HOST_BYTES is never accepted */
      uint64_t off = next_size(r), size = next_size(r);
      if (size > HOST_BYTES && size <= t->sizes[a]) size = HOST_BYTES;
      s = xhal_stream_enqueue_write(stream, buf, off,
                                    next_byte(r) == 0xFF ? NULL : g_host, size);
      check_status(s, "xhal_stream_enqueue_write");
      break;
    }
    case 3: {
      uint64_t off = next_size(r), size = next_size(r);
      if (size > HOST_BYTES && size <= t->sizes[a]) size = HOST_BYTES;
      s = xhal_stream_enqueue_read(stream, buf, off,
                                   next_byte(r) == 0xFF ? NULL : g_back, size);
      check_status(s, "xhal_stream_enqueue_read");
      break;
    }
    case 4: {
      uint64_t so = next_size(r), d = next_size(r), size = next_size(r);
      s = xhal_stream_enqueue_copy(stream, buf, so, t->buffers[b], d, size);
      check_status(s, "xhal_stream_enqueue_copy");
      break;
    }
    case 5: {
      uint32_t pattern = 0xA5A5A5A5u;
      uint64_t off = next_size(r), size = next_size(r);
      uint32_t psize = next_byte(r) % 6u;
      s = xhal_stream_enqueue_fill(stream, buf, off, size,
                                   next_byte(r) == 0xFF ? NULL : &pattern,
                                   psize);
      check_status(s, "xhal_stream_enqueue_fill");
      break;
    }
    case 6:
      enqueue_add(r, t, stream);
      break;
    case 7: {
      xhal_event_t out = NULL;
      s = xhal_event_create(pick_device(r), &out);
      check_status(s, "xhal_event_create");
      if (s == XHAL_OK) {
        xhal_event_release(t->events[a]);
        t->events[a] = out;
      }
      break;
    }
    case 8:
      xhal_event_release(event);
      t->events[a] = NULL;
      break;
    case 9:
      check_status(xhal_stream_record_event(stream, event),
                   "xhal_stream_record_event");
      break;
    case 10:
      check_status(xhal_stream_wait_event(stream, event),
                   "xhal_stream_wait_event");
      break;
    case 11:
      check_status(xhal_event_wait(event, next_byte(r) % 2 ? 0 : 1000000000ull),
                   "xhal_event_wait");
      check_status(xhal_event_query(event), "xhal_event_query");
      break;
    case 12: {
      xhal_stream_t out = NULL;
      s = xhal_stream_create(pick_device(r), &out);
      check_status(s, "xhal_stream_create");
      if (s == XHAL_OK) {
        xhal_stream_release(t->streams[b]);
        t->streams[b] = out;
      }
      break;
    }
    case 13:
      check_status(xhal_stream_synchronize(stream), "xhal_stream_synchronize");
      break;
    case 14: {
      uint64_t off = next_size(r), size = next_size(r);
      xhal_buffer_t view = NULL;
      s = xhal_buffer_subrange(buf, off, size, &view);
      check_status(s, "xhal_buffer_subrange");
      if (s == XHAL_OK) {
        FUZZ_CHECK(off <= t->sizes[a] && size <= t->sizes[a] - off,
                   "view [%llu,+%llu) of %llu bytes accepted",
                   (unsigned long long)off, (unsigned long long)size,
                   (unsigned long long)t->sizes[a]);
        xhal_buffer_release(t->buffers[b]);
        t->buffers[b] = view;
        t->sizes[b] = size;
      }
      break;
    }
    default: { /* map/unmap, with bad ranges and flags */
      uint64_t off = next_size(r), size = next_size(r);
      uint32_t flags = next_byte(r);
      void* ptr = NULL;
      if (stream) check_status(xhal_stream_synchronize(stream), "sync");
      s = xhal_buffer_map(buf, off, size, flags, &ptr);
      check_status(s, "xhal_buffer_map");
      if (s == XHAL_OK) {
        FUZZ_CHECK(ptr != NULL, "map returned NULL");
        check_status(xhal_buffer_unmap(buf, ptr), "xhal_buffer_unmap");
      }
      check_status(xhal_buffer_unmap(buf, g_back), "xhal_buffer_unmap(bogus)");
      break;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tables_t t;
  reader_t r = {data, size, 0};
  setup();
  memset(&t, 0, sizeof(t));
  /* One valid stream so most steps reach the plugin. */
  FUZZ_CHECK(xhal_stream_create(g_device, &t.streams[0]) == XHAL_OK, "stream");
  for (unsigned n = 0; n < MAX_STEPS && r.pos < r.size; ++n) step(&r, &t);

  for (unsigned i = 0; i < SLOTS; ++i) {
    if (t.streams[i])
      check_status(xhal_stream_synchronize(t.streams[i]), "sync");
  }

  /* Data check: after any sequence, a fresh stream's fill and write on a
   * fresh buffer read back exactly. */
  xhal_buffer_t probe = NULL;
  xhal_stream_t fresh = NULL;
  uint8_t got[128];
  uint32_t pattern = 0x5A5A5A5Au;
  FUZZ_CHECK(xhal_buffer_alloc(g_device, 128, 0, &probe) == XHAL_OK, "probe");
  FUZZ_CHECK(xhal_stream_create(g_device, &fresh) == XHAL_OK, "stream");
  FUZZ_CHECK(
      xhal_stream_enqueue_fill(fresh, probe, 0, 128, &pattern, 4) == XHAL_OK,
      "fill: %s", xhal_last_error());
  FUZZ_CHECK(xhal_stream_enqueue_write(fresh, probe, 64, g_host, 64) == XHAL_OK,
             "write: %s", xhal_last_error());
  FUZZ_CHECK(xhal_stream_enqueue_read(fresh, probe, 0, got, 128) == XHAL_OK,
             "read: %s", xhal_last_error());
  FUZZ_CHECK(xhal_stream_synchronize(fresh) == XHAL_OK, "sync: %s",
             xhal_last_error());
  for (size_t i = 0; i < 64; ++i) FUZZ_CHECK(got[i] == 0x5A, "fill lost");
  FUZZ_CHECK(memcmp(got + 64, g_host, 64) == 0, "write lost");
  xhal_stream_release(fresh);
  xhal_buffer_release(probe);
  for (unsigned i = 0; i < SLOTS; ++i) {
    xhal_stream_release(t.streams[i]);
    xhal_event_release(t.events[i]);
    xhal_buffer_release(t.buffers[i]);
  }
  return 0;
}
