/*
 * fuzz_api_valid.c - random but valid API programs over every plugin,
 * against a sequential model of their results, under a watchdog.
 *
 * The input is decoded as a program over several streams on the devices
 * of every plugin the build makes (CPU, NPU, OpenCL): fills, writes,
 * copies (within and across plugins), ADD operators, host functions,
 * events recorded, re-recorded and waited across streams and plugins,
 * host waits and synchronizations. Every program is valid by
 * construction: each buffer and each host-side counter ("token") has an
 * owner stream, only the owner touches it, and ownership passes from one
 * stream to another only through an event the old owner records and the
 * new owner waits on. So every access to a buffer or token is ordered
 * after the previous one, the results equal running the steps one by one
 * in program order (the model), and, since a wait binds to a record made
 * before it, no valid program can deadlock.
 *
 * Invariants: every call returns XHAL_OK (a valid program has nothing to
 * refuse; an operator a device does not implement may say so), every host
 * function sees its token at the value the model predicts, every buffer
 * reads back as the model says, and the program completes: a watchdog
 * thread aborts with the decoded program when it stalls for
 * kWatchdogSeconds.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <xhal/xhal.h>

#include "fuzz.h"

#ifndef XHAL_CPU_PLUGIN_PATH
#error "XHAL_CPU_PLUGIN_PATH must name libxhal_cpu.so"
#endif

enum {
  kMaxDevices = 3,
  kStreams = 4,
  kEventsPerStream = 2,
  kBuffers = 6,
  kFloats = 64, /* per buffer */
  kTokens = 3,
  kMaxSteps = 64,
  kWatchdogSeconds = 5,
};
#define BUFFER_BYTES (kFloats * sizeof(float))

static const char* const kPaths[] = {
    XHAL_CPU_PLUGIN_PATH,
#ifdef XHAL_NPU_PLUGIN_PATH
    XHAL_NPU_PLUGIN_PATH,
#endif
#ifdef XHAL_OPENCL_PLUGIN_PATH
    XHAL_OPENCL_PLUGIN_PATH,
#endif
};
enum { kPlugins = sizeof(kPaths) / sizeof(kPaths[0]) };

/* ------------------------------------------------------------ watchdog */

static pthread_mutex_t g_text_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_text[16384]; /* the decoded program so far */
static size_t g_text_len;
static atomic_ullong g_deadline_ns; /* 0: no program running */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pthread_mutex_lock(&g_text_lock);
  if (g_text_len < sizeof(g_text)) {
    int n =
        vsnprintf(g_text + g_text_len, sizeof(g_text) - g_text_len, fmt, ap);
    if (n > 0) g_text_len += (size_t)n;
    if (g_text_len > sizeof(g_text)) g_text_len = sizeof(g_text);
  }
  pthread_mutex_unlock(&g_text_lock);
  va_end(ap);
}

static void dump_program(const char* why) {
  pthread_mutex_lock(&g_text_lock);
  fprintf(stderr, "fuzz_api_valid: %s\nthe program:\n%.*s\n", why,
          (int)g_text_len, g_text);
  pthread_mutex_unlock(&g_text_lock);
}

/* A broken invariant: the program, then the abort libFuzzer records. */
#define VALID_CHECK(cond, ...)          \
  do {                                  \
    if (!(cond)) {                      \
      dump_program("invariant failed"); \
      FUZZ_CHECK(cond, __VA_ARGS__);    \
    }                                   \
  } while (0)

static void* watchdog_main(void* unused) {
  (void)unused;
  for (;;) {
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    uint64_t deadline = atomic_load(&g_deadline_ns);
    if (deadline && now_ns() > deadline) {
      dump_program(
          "watchdog: the program stalled (a valid program cannot "
          "deadlock)");
      abort();
    }
  }
  return NULL;
}

/* --------------------------------------------------------------- setup */

static xhal_instance_t g_instance;
static uint32_t g_device_count;
static xhal_device_t g_devices[kMaxDevices]; /* the first of each plugin */
static xhal_stream_t g_check[kMaxDevices];   /* reads back results */
static xhal_buffer_t g_buffers[kBuffers];    /* buffer b on device b % D */

static void setup(void) {
  if (g_instance) return;
  xhal_instance_options_t opt;
  xhal_instance_options_default(&opt);
  opt.ignore_environment = 1;
  opt.plugin_paths = kPaths;
  opt.plugin_path_count = kPlugins;
  opt.log_level = XHAL_LOG_ERROR;
  FUZZ_CHECK(xhal_instance_create(&opt, &g_instance) == XHAL_OK, "instance: %s",
             xhal_last_error());
  uint32_t count = 0;
  FUZZ_CHECK(xhal_instance_device_count(g_instance, &count) == XHAL_OK,
             "device count");
  const char* last = NULL;
  for (uint32_t i = 0; i < count && g_device_count < kMaxDevices; ++i) {
    xhal_device_t d;
    FUZZ_CHECK(xhal_instance_device(g_instance, i, &d) == XHAL_OK, "device");
    const char* name = xhal_device_plugin_name(d);
    if (!last || strcmp(last, name) != 0) g_devices[g_device_count++] = d;
    last = name;
  }
  FUZZ_CHECK(g_device_count == kPlugins, "%u of %u plugins have a device",
             g_device_count, (unsigned)kPlugins);
  for (uint32_t d = 0; d < g_device_count; ++d) {
    FUZZ_CHECK(xhal_stream_create(g_devices[d], &g_check[d]) == XHAL_OK,
               "check stream: %s", xhal_last_error());
  }
  for (uint32_t b = 0; b < kBuffers; ++b) {
    FUZZ_CHECK(xhal_buffer_alloc(g_devices[b % g_device_count], BUFFER_BYTES, 0,
                                 &g_buffers[b]) == XHAL_OK,
               "buffer: %s", xhal_last_error());
  }
  pthread_t thread;
  FUZZ_CHECK(pthread_create(&thread, NULL, watchdog_main, NULL) == 0,
             "watchdog");
  pthread_detach(thread);
}

/* ------------------------------------------------------------- program */

/* A host function's record: a token to advance, the value the model
 * predicts it finds, and a sleep that shakes the streams' timing. */
typedef struct host_step {
  struct program* program;
  uint32_t step;
  uint32_t token; /* kTokens: none */
  uint32_t expect;
  uint32_t sleep_us;
} host_step_t;

typedef struct program {
  xhal_stream_t streams[kStreams]; /* stream s on device s % D */
  xhal_event_t events[kStreams][kEventsPerStream];
  int recorded[kStreams][kEventsPerStream];
  uint32_t buffer_owner[kBuffers];
  uint32_t token_owner[kTokens];
  float model[kBuffers][kFloats];
  uint32_t token_model[kTokens];
  atomic_uint tokens[kTokens];
  atomic_uint bad_step; /* 1 + step of a host function that saw a bad token */
  atomic_uint bad_value;
  host_step_t host[kMaxSteps];
  float writes[kMaxSteps][kFloats]; /* sources of writes, live to the end */
  uint32_t steps;
} program_t;

typedef struct reader {
  const uint8_t* data;
  size_t size;
  size_t pos;
} reader_t;

static uint8_t next_byte(reader_t* r) {
  return r->pos < r->size ? r->data[r->pos++] : 0;
}

static uint32_t dev_of_stream(uint32_t s) { return s % g_device_count; }
static uint32_t dev_of_buffer(uint32_t b) { return b % g_device_count; }

static void expect_ok(xhal_status_t status, const char* call) {
  VALID_CHECK(status == XHAL_OK, "%s returned %s in a valid program: %s", call,
              xhal_status_name(status), xhal_last_error());
}

static xhal_status_t run_host_step(void* user_data) {
  host_step_t* h = user_data;
  program_t* p = h->program;
  if (h->sleep_us) {
    struct timespec ts = {0, (long)h->sleep_us * 1000L};
    nanosleep(&ts, NULL);
  }
  if (h->token < kTokens) {
    unsigned seen = atomic_load(&p->tokens[h->token]);
    if (seen != h->expect) {
      unsigned none = 0;
      if (atomic_compare_exchange_strong(&p->bad_step, &none, h->step + 1))
        atomic_store(&p->bad_value, seen);
    }
    atomic_store(&p->tokens[h->token], seen + 1);
  }
  return XHAL_OK;
}

/* Passes ownership from stream `from` to `to` through event k of `from`. */
static void hand_over(program_t* p, uint32_t from, uint32_t to, uint32_t k) {
  if (from == to) return;
  say("  s%u records e%u.%u; s%u waits on it\n", from, from, k, to);
  expect_ok(xhal_stream_record_event(p->streams[from], p->events[from][k]),
            "xhal_stream_record_event");
  p->recorded[from][k] = 1;
  expect_ok(xhal_stream_wait_event(p->streams[to], p->events[from][k]),
            "xhal_stream_wait_event");
}

static void host_func(program_t* p, uint32_t s, uint32_t token,
                      uint32_t sleep_us) {
  host_step_t* h = &p->host[p->steps];
  h->program = p;
  h->step = p->steps;
  h->token = token;
  h->expect = token < kTokens ? p->token_model[token]++ : 0;
  h->sleep_us = sleep_us;
  expect_ok(xhal_stream_enqueue_host_func(p->streams[s], run_host_step, h),
            "xhal_stream_enqueue_host_func");
}

static void step(program_t* p, reader_t* r) {
  uint8_t op = next_byte(r);
  uint8_t a = next_byte(r), b = next_byte(r), c = next_byte(r);
  uint32_t n = p->steps;
  switch (op % 12) {
    case 0: { /* buffer a changes hands to stream b */
      uint32_t buf = a % kBuffers, to = b % kStreams;
      say("%u: buffer %u to s%u\n", n, buf, to);
      hand_over(p, p->buffer_owner[buf], to, c % kEventsPerStream);
      p->buffer_owner[buf] = to;
      break;
    }
    case 1: { /* token a changes hands to stream b */
      uint32_t t = a % kTokens, to = b % kStreams;
      say("%u: token %u to s%u\n", n, t, to);
      hand_over(p, p->token_owner[t], to, c % kEventsPerStream);
      p->token_owner[t] = to;
      break;
    }
    case 2: { /* fill, on the owner, when the buffer is on its device */
      uint32_t buf = a % kBuffers, s = p->buffer_owner[buf];
      if (dev_of_buffer(buf) != dev_of_stream(s)) break;
      float v = (float)(b % 16);
      say("%u: s%u fills buffer %u with %g\n", n, s, buf, (double)v);
      expect_ok(xhal_stream_enqueue_fill(p->streams[s], g_buffers[buf], 0,
                                         BUFFER_BYTES, &v, 4),
                "xhal_stream_enqueue_fill");
      for (int i = 0; i < kFloats; ++i) p->model[buf][i] = v;
      break;
    }
    case 3: { /* write part of a buffer from host memory */
      uint32_t buf = a % kBuffers, s = p->buffer_owner[buf];
      if (dev_of_buffer(buf) != dev_of_stream(s)) break;
      uint32_t first = b % kFloats, count = 1 + c % (kFloats - first);
      float* src = p->writes[n];
      for (uint32_t i = 0; i < count; ++i) src[i] = (float)((n + i) % 32);
      say("%u: s%u writes buffer %u [%u, +%u)\n", n, s, buf, first, count);
      expect_ok(xhal_stream_enqueue_write(p->streams[s], g_buffers[buf],
                                          first * 4u, src, count * 4u),
                "xhal_stream_enqueue_write");
      memcpy(&p->model[buf][first], src, count * 4u);
      break;
    }
    case 4: { /* copy part of a buffer to another, on src's owner */
      uint32_t src = a % kBuffers, dst = b % kBuffers;
      if (src == dst) break;
      uint32_t s = p->buffer_owner[src];
      say("%u: copy buffer %u to %u on s%u\n", n, src, dst, s);
      hand_over(p, p->buffer_owner[dst], s, c % kEventsPerStream);
      p->buffer_owner[dst] = s;
      uint32_t first = c % kFloats, count = kFloats - first;
      expect_ok(
          xhal_stream_enqueue_copy(p->streams[s], g_buffers[src], first * 4u,
                                   g_buffers[dst], first * 4u, count * 4u),
          "xhal_stream_enqueue_copy");
      memcpy(&p->model[dst][first], &p->model[src][first], count * 4u);
      break;
    }
    case 5: { /* out = x + y, all on one device, on out's owner */
      uint32_t x = a % kBuffers, y = b % kBuffers, out = c % kBuffers;
      uint32_t s = p->buffer_owner[out];
      if (out == x || out == y) break; /* no aliased output */
      if (dev_of_buffer(x) != dev_of_stream(s) ||
          dev_of_buffer(y) != dev_of_stream(s) ||
          dev_of_buffer(out) != dev_of_stream(s))
        break;
      say("%u: s%u adds buffers %u + %u into %u\n", n, s, x, y, out);
      hand_over(p, p->buffer_owner[x], s, 0);
      p->buffer_owner[x] = s;
      hand_over(p, p->buffer_owner[y], s, 1);
      p->buffer_owner[y] = s;
      xhal_op_call_t call;
      xhal_op_call_init(&call, XHAL_OP_ADD);
      call.num_inputs = 2;
      call.num_outputs = 1;
      xhal_tensor_t* all[] = {&call.inputs[0], &call.inputs[1],
                              &call.outputs[0]};
      xhal_buffer_t bufs[] = {g_buffers[x], g_buffers[y], g_buffers[out]};
      for (int i = 0; i < 3; ++i) {
        all[i]->desc.dtype = XHAL_DTYPE_F32;
        all[i]->desc.rank = 1;
        all[i]->desc.dims[0] = kFloats;
        all[i]->buffer = bufs[i];
        all[i]->offset = 0;
      }
      xhal_status_t status = xhal_stream_enqueue_op(p->streams[s], NULL, &call);
      if (status == XHAL_ERROR_UNSUPPORTED || status == XHAL_ERROR_NOT_FOUND) {
        say("   (not implemented on this device)\n");
        break;
      }
      expect_ok(status, "xhal_stream_enqueue_op(add)");
      for (int i = 0; i < kFloats; ++i)
        p->model[out][i] = p->model[x][i] + p->model[y][i];
      break;
    }
    case 6: { /* a host function on token a's owner */
      uint32_t t = a % kTokens, s = p->token_owner[t];
      uint32_t sleep_us = b % 4 == 0 ? (c % 8) * 250u : 0;
      say("%u: s%u host function on token %u (expects %u, sleeps %u us)\n", n,
          s, t, p->token_model[t], sleep_us);
      host_func(p, s, t, sleep_us);
      break;
    }
    case 7: { /* a sleeping host function: shakes the timing */
      uint32_t s = a % kStreams, sleep_us = (b % 12) * 250u;
      say("%u: s%u sleeps %u us\n", n, s, sleep_us);
      host_func(p, s, kTokens, sleep_us);
      break;
    }
    case 8: { /* an extra record (a re-record, often) */
      uint32_t s = a % kStreams, k = b % kEventsPerStream;
      say("%u: s%u records e%u.%u\n", n, s, s, k);
      expect_ok(xhal_stream_record_event(p->streams[s], p->events[s][k]),
                "xhal_stream_record_event");
      p->recorded[s][k] = 1;
      break;
    }
    case 9: { /* an extra wait on a recorded event */
      uint32_t s = a % kStreams, from = b % kStreams, k = c % kEventsPerStream;
      if (!p->recorded[from][k]) break;
      say("%u: s%u waits on e%u.%u\n", n, s, from, k);
      expect_ok(xhal_stream_wait_event(p->streams[s], p->events[from][k]),
                "xhal_stream_wait_event");
      break;
    }
    case 10: { /* the host waits on a recorded event, or polls it */
      uint32_t from = a % kStreams, k = b % kEventsPerStream;
      if (!p->recorded[from][k]) break;
      if (c % 2) {
        say("%u: host waits on e%u.%u\n", n, from, k);
        expect_ok(xhal_event_wait(p->events[from][k], XHAL_TIMEOUT_INFINITE),
                  "xhal_event_wait");
      } else {
        say("%u: host polls e%u.%u\n", n, from, k);
        xhal_status_t status = xhal_event_query(p->events[from][k]);
        VALID_CHECK(status == XHAL_OK || status == XHAL_ERROR_NOT_READY,
                    "xhal_event_query returned %s: %s",
                    xhal_status_name(status), xhal_last_error());
      }
      break;
    }
    default: { /* the host synchronizes a stream */
      uint32_t s = a % kStreams;
      say("%u: host synchronizes s%u\n", n, s);
      expect_ok(xhal_stream_synchronize(p->streams[s]),
                "xhal_stream_synchronize");
      break;
    }
  }
}

static int same_float(float x, float y) {
  return x == y || (isnan(x) && isnan(y));
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static program_t prog;
  program_t* p = &prog;
  reader_t r = {data, size, 0};
  setup();
  memset(p, 0, sizeof(*p));
  pthread_mutex_lock(&g_text_lock);
  g_text_len = 0;
  pthread_mutex_unlock(&g_text_lock);
  say("devices:");
  for (uint32_t d = 0; d < g_device_count; ++d)
    say(" %s", xhal_device_plugin_name(g_devices[d]));
  say("; stream s on device s %% %u, buffer b on device b %% %u\n",
      g_device_count, g_device_count);
  atomic_store(&g_deadline_ns,
               now_ns() + (uint64_t)kWatchdogSeconds * 1000000000ull);

  /* Known contents; every stream may start on any buffer. */
  float zero = 0.0f;
  for (uint32_t b = 0; b < kBuffers; ++b) {
    expect_ok(xhal_stream_enqueue_fill(g_check[dev_of_buffer(b)], g_buffers[b],
                                       0, BUFFER_BYTES, &zero, 4),
              "initial fill");
    p->buffer_owner[b] = b % kStreams;
  }
  for (uint32_t d = 0; d < g_device_count; ++d)
    expect_ok(xhal_stream_synchronize(g_check[d]), "initial synchronize");
  for (uint32_t t = 0; t < kTokens; ++t) p->token_owner[t] = t % kStreams;
  for (uint32_t s = 0; s < kStreams; ++s) {
    xhal_device_t dev = g_devices[dev_of_stream(s)];
    expect_ok(xhal_stream_create(dev, &p->streams[s]), "xhal_stream_create");
    for (uint32_t k = 0; k < kEventsPerStream; ++k)
      expect_ok(xhal_event_create(dev, &p->events[s][k]), "xhal_event_create");
  }

  while (p->steps < kMaxSteps && r.pos < r.size) {
    step(p, &r);
    p->steps++;
  }

  say("end: host synchronizes every stream\n");
  for (uint32_t s = 0; s < kStreams; ++s)
    expect_ok(xhal_stream_synchronize(p->streams[s]), "final synchronize");
  unsigned bad = atomic_load(&p->bad_step);
  VALID_CHECK(bad == 0,
              "the host function of step %u ran out of order: its token "
              "was %u, the model says %u",
              bad - 1, atomic_load(&p->bad_value), p->host[bad - 1].expect);
  for (uint32_t t = 0; t < kTokens; ++t) {
    VALID_CHECK(atomic_load(&p->tokens[t]) == p->token_model[t],
                "token %u ran %u host functions, the model %u", t,
                atomic_load(&p->tokens[t]), p->token_model[t]);
  }
  for (uint32_t b = 0; b < kBuffers; ++b) {
    float got[kFloats];
    xhal_stream_t check = g_check[dev_of_buffer(b)];
    expect_ok(
        xhal_stream_enqueue_read(check, g_buffers[b], 0, got, BUFFER_BYTES),
        "read back");
    expect_ok(xhal_stream_synchronize(check), "read back synchronize");
    for (int i = 0; i < kFloats; ++i) {
      VALID_CHECK(same_float(got[i], p->model[b][i]),
                  "buffer %u [%d] is %g, the model says %g", b, i,
                  (double)got[i], (double)p->model[b][i]);
    }
  }
  for (uint32_t s = 0; s < kStreams; ++s) {
    for (uint32_t k = 0; k < kEventsPerStream; ++k)
      xhal_event_release(p->events[s][k]);
    xhal_stream_release(p->streams[s]);
  }
  atomic_store(&g_deadline_ns, 0);
  return 0;
}
