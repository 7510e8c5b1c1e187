/*
 * cpu_hal_test.c - the CPU plugin as frameworks use it: loaded by libxhal
 * (explicit plugin path, environment ignored) and driven only through the
 * public API of xhal.h. Covers discovery and properties, buffers and
 * sub-ranges, transfers at odd sizes and offsets, stream ordering, events,
 * failure propagation, registry operators against the reference, threads
 * and two instances side by side.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xhal/xhal.h>
#include <xhal_reference.h>

static xhal_instance_t g_inst;
static xhal_device_t g_dev;

static xhal_instance_t open_instance(void) {
  static const char* const kPaths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_t inst = NULL;
  xhal_instance_options_default(&options);
  options.plugin_paths = kPaths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  ck_assert_msg(xhal_instance_create(&options, &inst) == XHAL_OK, "%s",
                xhal_last_error());
  return inst;
}

static void setup(void) {
  uint32_t count = 0;
  g_inst = open_instance();
  ck_assert_int_eq(xhal_instance_device_count(g_inst, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1);
  ck_assert_int_eq(xhal_instance_device(g_inst, 0, &g_dev), XHAL_OK);
}

static void teardown(void) { xhal_instance_release(g_inst); }

static xhal_stream_t new_stream(void) {
  xhal_stream_t s = NULL;
  ck_assert_int_eq(xhal_stream_create(g_dev, &s), XHAL_OK);
  return s;
}

static xhal_event_t new_event(void) {
  xhal_event_t e = NULL;
  ck_assert_int_eq(xhal_event_create(g_dev, &e), XHAL_OK);
  return e;
}

static xhal_buffer_t new_buffer(uint64_t size) {
  xhal_buffer_t b = NULL;
  ck_assert_int_eq(xhal_buffer_alloc(g_dev, size, XHAL_MEMORY_HOST_VISIBLE, &b),
                   XHAL_OK);
  return b;
}

static void sync_ok(xhal_stream_t s) {
  ck_assert_msg(xhal_stream_synchronize(s) == XHAL_OK, "%s", xhal_last_error());
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static uint64_t rnd(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A host function that blocks its stream until the gate opens. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
} gate_t;

static void gate_init(gate_t* g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->open = 0;
}

static void gate_open(gate_t* g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static xhal_status_t gate_wait_fn(void* arg) {
  gate_t* g = arg;
  pthread_mutex_lock(&g->mu);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  return XHAL_OK;
}

static xhal_status_t count_fn(void* p) {
  atomic_fetch_add((_Atomic uint32_t*)p, 1);
  return XHAL_OK;
}

static xhal_status_t fail_fn(void* p) {
  (void)p;
  return XHAL_ERROR_EXECUTION_FAILED;
}

static xhal_status_t sleep_fn(void* p) {
  sleep_ms((long)(uintptr_t)p);
  return XHAL_OK;
}

/* ---------------------------------------------------------- discovery */

START_TEST(test_discovery) {
  xhal_plugin_info_t info;
  xhal_device_properties_t p;
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(g_inst, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1);
  ck_assert_int_eq(xhal_instance_plugin_info(g_inst, 0, &info), XHAL_OK);
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_LOADED);
  ck_assert_str_eq(info.name, "cpu");
  ck_assert_uint_eq(info.device_count, 1);
  ck_assert_str_eq(xhal_device_plugin_name(g_dev), "cpu");
  ck_assert_int_eq(xhal_device_properties(g_dev, &p), XHAL_OK);
  ck_assert_uint_eq(p.kind, XHAL_DEVICE_KIND_CPU);
  ck_assert_uint_eq(p.alignment, 64);
  ck_assert_uint_eq(p.compute_units, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
  ck_assert(p.capabilities & XHAL_CAP_PROFILING);
  ck_assert(p.capabilities & XHAL_CAP_HOST_FUNC);
  ck_assert(p.capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY);
  ck_assert(p.name[0] != '\0');
}
END_TEST

/* ----------------------------------------------------- buffers, copies */

START_TEST(test_buffers_and_map) {
  xhal_buffer_t b = NULL;
  void* ptr = NULL;
  ck_assert_int_eq(xhal_buffer_alloc(g_dev, 0, 0, &b),
                   XHAL_ERROR_INVALID_ARGUMENT);
  b = new_buffer(4099);
  ck_assert_int_eq(xhal_buffer_map(b, 3, 100, XHAL_MAP_WRITE, &ptr), XHAL_OK);
  memset(ptr, 0x42, 100);
  ck_assert_int_eq(xhal_buffer_unmap(b, ptr), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_unmap(b, ptr), XHAL_ERROR_INVALID_STATE);
  ck_assert_int_eq(xhal_buffer_map(b, 4000, 100, XHAL_MAP_READ, &ptr),
                   XHAL_ERROR_OUT_OF_RANGE);
  xhal_buffer_release(b);
}
END_TEST

/* A framework releases a temporary right after enqueuing work on it. */
START_TEST(test_release_pending) {
  xhal_stream_t s = new_stream();
  xhal_buffer_t tmp = new_buffer(1 << 16);
  xhal_buffer_t keep = new_buffer(1 << 16);
  static uint8_t host[1 << 16], back[1 << 16];
  memset(host, 0x5D, sizeof(host));
  ck_assert_int_eq(
      xhal_stream_enqueue_host_func(s, sleep_fn, (void*)(uintptr_t)20),
      XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, tmp, 0, host, sizeof(host)),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_copy(s, tmp, 0, keep, 0, sizeof(host)),
                   XHAL_OK);
  xhal_buffer_release(tmp);
  ck_assert_int_eq(xhal_stream_enqueue_read(s, keep, 0, back, sizeof(back)),
                   XHAL_OK);
  sync_ok(s);
  ck_assert_mem_eq(back, host, sizeof(host));
  xhal_buffer_release(keep);
  xhal_stream_release(s);
}
END_TEST

#define ODD 4099u

static void expect_contents(xhal_stream_t s, xhal_buffer_t b,
                            const uint8_t* model, uint64_t size) {
  uint8_t* got = malloc(size);
  uint64_t i;
  ck_assert_ptr_nonnull(got);
  memset(got, 0xEE, size);
  ck_assert_int_eq(xhal_stream_enqueue_read(s, b, 0, got, size), XHAL_OK);
  sync_ok(s);
  for (i = 0; i < size; ++i)
    ck_assert_msg(got[i] == model[i], "byte %llu: got 0x%02x want 0x%02x",
                  (unsigned long long)i, got[i], model[i]);
  free(got);
}

/* Writes, overlapping copies, copies into a sub-range view and fills, at
 * odd offsets and sizes, checked byte by byte against a host model. */
START_TEST(test_transfers_odd) {
  static const uint64_t kOffsets[] = {0, 1, 3, 63, 65, 1027, 3990};
  static const uint64_t kSizes[] = {1, 2, 3, 5, 64, 67, 109};
  xhal_stream_t s = new_stream();
  xhal_buffer_t a = new_buffer(ODD);
  xhal_buffer_t b = new_buffer(ODD);
  xhal_buffer_t view = NULL;
  static uint8_t model_a[ODD], model_b[ODD], src[ODD];
  uint64_t seed = 3;
  size_t i, j;
  for (i = 0; i < ODD; ++i) src[i] = (uint8_t)rnd(&seed);
  memset(model_a, 0, ODD);
  memset(model_b, 0, ODD);
  ck_assert_int_eq(xhal_stream_enqueue_fill(s, a, 0, ODD, "\0", 1), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_fill(s, b, 0, ODD, "\0", 1), XHAL_OK);
  /* A view of b starting at byte 7. */
  ck_assert_int_eq(xhal_buffer_subrange(b, 7, 3000, &view), XHAL_OK);
  for (i = 0; i < sizeof(kOffsets) / sizeof(kOffsets[0]); ++i) {
    for (j = 0; j < sizeof(kSizes) / sizeof(kSizes[0]); ++j) {
      uint64_t off = kOffsets[i], size = kSizes[j];
      uint64_t voff = (off * 5 + j) % (3000 - size);
      uint64_t dst = off + 2 + size <= ODD ? off + 2 : off - 2;
      uint32_t pattern = (uint32_t)rnd(&seed);
      uint32_t psize = 1u << (j % 3);
      uint64_t foff = (voff + 7) - (voff + 7) % psize;
      uint64_t fsize = size - size % psize;
      uint64_t k;
      ck_assert_int_eq(xhal_stream_enqueue_write(s, a, off, src + i * 7, size),
                       XHAL_OK);
      memcpy(model_a + off, src + i * 7, size);
      ck_assert_int_eq(xhal_stream_enqueue_copy(s, a, off, a, dst, size),
                       XHAL_OK);
      memmove(model_a + dst, model_a + off, size);
      ck_assert_int_eq(xhal_stream_enqueue_copy(s, a, off, view, voff, size),
                       XHAL_OK);
      memmove(model_b + 7 + voff, model_a + off, size);
      if (fsize > 0) {
        ck_assert_int_eq(
            xhal_stream_enqueue_fill(s, b, foff, fsize, &pattern, psize),
            XHAL_OK);
        for (k = 0; k < fsize; ++k)
          model_b[foff + k] = ((const uint8_t*)&pattern)[k % psize];
      }
    }
    expect_contents(s, a, model_a, ODD);
    expect_contents(s, b, model_b, ODD);
  }
  ck_assert_int_eq(xhal_stream_enqueue_write(s, view, 2999, src, 2),
                   XHAL_ERROR_OUT_OF_RANGE);
  xhal_buffer_release(view);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_stream_release(s);
}
END_TEST

/* ------------------------------------------------------------ ordering */

typedef struct seq_log {
  uint32_t seen[1000];
  uint32_t count;
} seq_log_t;

typedef struct seq_arg {
  seq_log_t* log;
  uint32_t index;
} seq_arg_t;

static xhal_status_t log_fn(void* p) {
  seq_arg_t* arg = p;
  arg->log->seen[arg->log->count++] = arg->index;
  return XHAL_OK;
}

START_TEST(test_ordering_mixed) {
  enum { kCommands = 1000, kSize = 1024 };
  xhal_stream_t s = new_stream();
  xhal_buffer_t a = new_buffer(kSize);
  static uint8_t src[kCommands][32], reads[kCommands][32], want[kCommands][32];
  static seq_arg_t args[kCommands];
  static seq_log_t log;
  uint8_t model[kSize];
  uint32_t lens[kCommands] = {0};
  uint32_t funcs = 0, i;
  uint64_t seed = 11;
  gate_t gate;
  gate_init(&gate);
  memset(model, 0, sizeof(model));
  ck_assert_int_eq(xhal_stream_enqueue_fill(s, a, 0, kSize, "\0", 1), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(s, gate_wait_fn, &gate),
                   XHAL_OK);
  for (i = 0; i < kCommands; ++i) {
    uint64_t size = 1 + rnd(&seed) % 32;
    uint64_t off = rnd(&seed) % (kSize - size);
    uint64_t off2 = rnd(&seed) % (kSize - size);
    uint32_t k;
    switch (rnd(&seed) % 4) {
      case 0:
        for (k = 0; k < size; ++k) src[i][k] = (uint8_t)rnd(&seed);
        ck_assert_int_eq(xhal_stream_enqueue_write(s, a, off, src[i], size),
                         XHAL_OK);
        memcpy(model + off, src[i], size);
        break;
      case 1:
        ck_assert_int_eq(xhal_stream_enqueue_copy(s, a, off, a, off2, size),
                         XHAL_OK);
        memmove(model + off2, model + off, size);
        break;
      case 2:
        args[funcs].log = &log;
        args[funcs].index = funcs;
        ck_assert_int_eq(xhal_stream_enqueue_host_func(s, log_fn, &args[funcs]),
                         XHAL_OK);
        funcs++;
        break;
      default:
        ck_assert_int_eq(xhal_stream_enqueue_read(s, a, off, reads[i], size),
                         XHAL_OK);
        memcpy(want[i], model + off, size);
        lens[i] = (uint32_t)size;
        break;
    }
  }
  gate_open(&gate);
  sync_ok(s);
  for (i = 0; i < kCommands; ++i)
    ck_assert_msg(memcmp(reads[i], want[i], lens[i]) == 0, "read %u", i);
  ck_assert_uint_eq(log.count, funcs);
  for (i = 0; i < funcs; ++i) ck_assert_uint_eq(log.seen[i], i);
  expect_contents(s, a, model, kSize);
  xhal_buffer_release(a);
  xhal_stream_release(s);
}
END_TEST

/* -------------------------------------------------------------- events */

START_TEST(test_events) {
  xhal_stream_t s = new_stream();
  xhal_stream_t s2 = new_stream();
  xhal_event_t e1 = new_event(), e2 = new_event(), never = new_event();
  uint64_t ns = 0, t0, t1;
  gate_t gate;
  gate_init(&gate);
  ck_assert_int_eq(xhal_event_query(never), XHAL_ERROR_INVALID_STATE);
  ck_assert_int_eq(xhal_event_wait(never, 0), XHAL_ERROR_INVALID_STATE);
  ck_assert_int_eq(xhal_stream_wait_event(s, never), XHAL_ERROR_INVALID_STATE);
  ck_assert_int_eq(xhal_stream_record_event(s, e1), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_host_func(s, sleep_fn, (void*)(uintptr_t)2), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(s, gate_wait_fn, &gate),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(s, e2), XHAL_OK);
  ck_assert_int_eq(xhal_event_query(e2), XHAL_ERROR_NOT_READY);
  t0 = now_ns();
  ck_assert_int_eq(xhal_event_wait(e2, 3000000), XHAL_ERROR_TIMEOUT);
  t1 = now_ns();
  ck_assert_uint_ge(t1 - t0, 3000000);
  ck_assert_uint_lt(t1 - t0, 500000000);
  /* Another stream ordered after e2. */
  ck_assert_int_eq(xhal_stream_wait_event(s2, e2), XHAL_OK);
  gate_open(&gate);
  ck_assert_int_eq(xhal_event_wait(e2, XHAL_TIMEOUT_INFINITE), XHAL_OK);
  sync_ok(s2);
  ck_assert_int_eq(xhal_event_elapsed(e1, e2, &ns), XHAL_OK);
  ck_assert_uint_ge(ns, 2000000);
  ck_assert_uint_lt(ns, 5000000000ull);
  /* Re-record e1 after e2: it now captures the later point. */
  ck_assert_int_eq(xhal_stream_record_event(s, e1), XHAL_OK);
  sync_ok(s);
  ck_assert_int_eq(xhal_event_query(e1), XHAL_OK);
  ck_assert_int_eq(xhal_event_elapsed(e2, e1, &ns), XHAL_OK);
  ck_assert_uint_lt(ns, 2000000000ull);
  xhal_event_release(e1);
  xhal_event_release(e2);
  xhal_event_release(never);
  xhal_stream_release(s);
  xhal_stream_release(s2);
}
END_TEST

START_TEST(test_failure_propagation) {
  xhal_stream_t a = new_stream(), b = new_stream();
  xhal_event_t after = new_event(), on_b = new_event();
  _Atomic uint32_t ran = 0;
  ck_assert_int_eq(xhal_stream_enqueue_host_func(a, count_fn, &ran), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(a, fail_fn, NULL), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(a, count_fn, &ran), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(a, after), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(a), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_uint_eq(atomic_load(&ran), 1);
  ck_assert_int_eq(xhal_event_wait(after, XHAL_TIMEOUT_INFINITE),
                   XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(xhal_event_query(after), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(xhal_stream_wait_event(b, after), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(b, count_fn, &ran), XHAL_OK);
  ck_assert_int_eq(xhal_stream_record_event(b, on_b), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(b), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(xhal_event_query(on_b), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_uint_eq(atomic_load(&ran), 1);
  xhal_event_release(after);
  xhal_event_release(on_b);
  xhal_stream_release(a);
  xhal_stream_release(b);
}
END_TEST

/* ------------------------------------------------------------ operators */

/* The plugin-ABI view of `call`'s shapes, for the reference. */
static void to_ref_call(const xhal_op_call_t* call, xhal_plugin_op_call_t* r) {
  uint32_t i;
  xhal_ref_call_init(r, call->op);
  r->num_inputs = call->num_inputs;
  for (i = 0; i < call->num_inputs; ++i)
    r->inputs[i].desc = call->inputs[i].desc;
  r->outputs[0].desc = call->outputs[0].desc;
  r->attrs = call->attrs;
}

/* Runs `call` (input descs, attrs set) through the registry on stream `s`
 * and compares with the reference; returns NULL or what went wrong. */
static const char* run_and_check(xhal_stream_t s, xhal_op_call_t* call,
                                 uint64_t seed, char* err, size_t err_size) {
  xhal_plugin_op_call_t ref;
  const void* ref_in[XHAL_MAX_OP_INPUTS] = {NULL, NULL, NULL, NULL};
  void* host[XHAL_MAX_OP_INPUTS + 1] = {NULL};
  xhal_buffer_t buf[XHAL_MAX_OP_INPUTS + 1] = {NULL};
  void* got = NULL;
  void* want = NULL;
  const char* result = err;
  uint64_t out_bytes, numel, bad;
  uint32_t i, n = call->num_inputs;
  xhal_status_t status;
  to_ref_call(call, &ref);
  if (xhal_ref_output_desc(&ref, &ref.outputs[0].desc) != XHAL_OK) {
    snprintf(err, err_size, "bad test call");
    return err;
  }
  call->outputs[0].desc = ref.outputs[0].desc;
  call->num_outputs = 1;
  for (i = 0; i <= n; ++i) {
    const xhal_tensor_desc_t* d =
        i < n ? &call->inputs[i].desc : &call->outputs[0].desc;
    xhal_tensor_t* t = i < n ? &call->inputs[i] : &call->outputs[0];
    uint64_t bytes = xhal_ref_bytes(d);
    uint32_t esize = xhal_dtype_size(d->dtype);
    int is_int = d->dtype == XHAL_DTYPE_I8 || d->dtype == XHAL_DTYPE_I32;
    host[i] = malloc(bytes + 1);
    if (host[i] == NULL ||
        xhal_ref_fill_random(d->dtype, host[i], xhal_ref_numel(d), seed + i,
                             is_int ? -60.0 : -2.0,
                             is_int ? 60.0 : 2.0) != XHAL_OK ||
        xhal_buffer_alloc(g_dev, bytes + 5u * esize, 0, &buf[i]) != XHAL_OK ||
        xhal_stream_enqueue_write(s, buf[i], 5u * esize, host[i], bytes) !=
            XHAL_OK) {
      snprintf(err, err_size, "operand %u setup: %s", i, xhal_last_error());
      goto done;
    }
    t->buffer = buf[i];
    t->offset = 5u * esize; /* element aligned, odd */
    if (i < n) ref_in[i] = host[i];
  }
  out_bytes = xhal_ref_bytes(&call->outputs[0].desc);
  got = malloc(out_bytes + 1);
  want = malloc(out_bytes + 1);
  if (got == NULL || want == NULL) goto done;
  memcpy(want, host[n], out_bytes); /* prior output, for beta */
  status = xhal_stream_enqueue_op(s, NULL, call);
  if (status != XHAL_OK) {
    snprintf(err, err_size, "enqueue_op: %s", xhal_last_error());
    goto done;
  }
  if (xhal_stream_enqueue_read(s, buf[n], call->outputs[0].offset, got,
                               out_bytes) != XHAL_OK ||
      xhal_stream_synchronize(s) != XHAL_OK) {
    snprintf(err, err_size, "read/sync: %s", xhal_last_error());
    goto done;
  }
  if (xhal_ref_run(&ref, ref_in, want) != XHAL_OK) {
    snprintf(err, err_size, "reference failed");
    goto done;
  }
  numel = xhal_ref_numel(&call->outputs[0].desc);
  bad = xhal_ref_compare(call->outputs[0].desc.dtype, got, want, numel,
                         xhal_ref_tolerance(&ref));
  if (bad != numel) {
    xhal_ref_describe_mismatch(call->outputs[0].desc.dtype, got, want, bad,
                               xhal_ref_tolerance(&ref), err, err_size);
    goto done;
  }
  result = NULL;
done:
  /* Nothing may still use the memory freed below; a failure was already
   * reported above. */
  status = xhal_stream_synchronize(s);
  (void)status;
  for (i = 0; i <= n; ++i) {
    xhal_buffer_release(buf[i]);
    free(host[i]);
  }
  free(got);
  free(want);
  return result;
}

static xhal_tensor_desc_t d2(xhal_dtype_t dt, uint64_t a, uint64_t b) {
  uint64_t dims[2] = {a, b};
  return xhal_ref_desc(dt, 2, dims);
}

static void make_matmul(xhal_op_call_t* call, xhal_dtype_t dt, uint64_t m,
                        uint64_t k, uint64_t n, uint32_t ta, uint32_t tb,
                        int bias) {
  xhal_op_call_init(call, XHAL_OP_MATMUL);
  call->num_inputs = bias ? 3 : 2;
  call->inputs[0].desc = ta ? d2(dt, k, m) : d2(dt, m, k);
  call->inputs[1].desc = tb ? d2(dt, n, k) : d2(dt, k, n);
  if (bias) call->inputs[2].desc = xhal_ref_desc(dt, 1, &n);
  call->attrs.transpose_a = ta;
  call->attrs.transpose_b = tb;
}

static void make_softmax(xhal_op_call_t* call, xhal_dtype_t dt, uint64_t a,
                         uint64_t b, int32_t axis) {
  xhal_op_call_init(call, XHAL_OP_SOFTMAX);
  call->num_inputs = 1;
  call->inputs[0].desc = d2(dt, a, b);
  call->attrs.axis = axis;
}

static void check_call(xhal_op_call_t* call, uint64_t seed) {
  char err[512] = "";
  xhal_stream_t s = new_stream();
  const char* what = run_and_check(s, call, seed, err, sizeof(err));
  ck_assert_msg(what == NULL, "%s", what);
  xhal_stream_release(s);
}

START_TEST(test_registry_ops) {
  xhal_op_call_t call;
  xhal_op_impl_t impl = NULL;
  xhal_op_impl_info_t info;
  make_matmul(&call, XHAL_DTYPE_F32, 8, 8, 8, 0, 0, 0);
  call.num_outputs = 1;
  call.outputs[0].desc = d2(XHAL_DTYPE_F32, 8, 8);
  ck_assert_msg(xhal_registry_lookup(g_dev, &call, &impl) == XHAL_OK, "%s",
                xhal_last_error());
  ck_assert_int_eq(xhal_op_impl_info(impl, &info), XHAL_OK);
  ck_assert_uint_eq(info.from_plugin, 1);
  ck_assert_ptr_nonnull(strstr(info.name, "matmul"));

  make_matmul(&call, XHAL_DTYPE_F32, 37, 19, 53, 0, 0, 1);
  check_call(&call, 1);
  make_matmul(&call, XHAL_DTYPE_F32, 64, 128, 33, 1, 1, 0);
  call.attrs.alpha = 0.5f;
  call.attrs.beta = 1.5f;
  check_call(&call, 2);
  make_matmul(&call, XHAL_DTYPE_F16, 9, 17, 13, 0, 1, 1);
  check_call(&call, 3);
  make_softmax(&call, XHAL_DTYPE_F32, 31, 257, -1);
  check_call(&call, 4);
  make_softmax(&call, XHAL_DTYPE_F32, 129, 6, 0);
  check_call(&call, 5);
  make_softmax(&call, XHAL_DTYPE_F16, 7, 100, 1);
  check_call(&call, 6);
}
END_TEST

/* -------------------------------------------------- threads, instances */

#define THREADS 4
static void* thread_main(void* arg) {
  static char errs[THREADS][512];
  uint32_t id = (uint32_t)(uintptr_t)arg;
  xhal_stream_t s = NULL;
  xhal_buffer_t b = NULL;
  uint32_t in[128], out[128];
  int it, k;
  if (xhal_stream_create(g_dev, &s) != XHAL_OK ||
      xhal_buffer_alloc(g_dev, sizeof(in) * 2, 0, &b) != XHAL_OK)
    return "create";
  for (it = 0; it < 200; ++it) {
    for (k = 0; k < 128; ++k) in[k] = id * 100000u + (uint32_t)(it * 128 + k);
    if (xhal_stream_enqueue_write(s, b, 0, in, sizeof(in)) != XHAL_OK ||
        xhal_stream_enqueue_copy(s, b, 0, b, sizeof(in), sizeof(in)) !=
            XHAL_OK ||
        xhal_stream_enqueue_read(s, b, sizeof(in), out, sizeof(out)) !=
            XHAL_OK ||
        xhal_stream_synchronize(s) != XHAL_OK)
      return "enqueue";
    if (memcmp(in, out, sizeof(in)) != 0) return "data";
    if (it % 50 == 0) {
      xhal_op_call_t call;
      const char* what;
      make_matmul(&call, XHAL_DTYPE_F32, 40, 50, 60, 0, 0, 1);
      what = run_and_check(s, &call, id * 1000u + (uint32_t)it, errs[id],
                           sizeof(errs[id]));
      if (what != NULL) return errs[id];
    }
  }
  xhal_buffer_release(b);
  xhal_stream_release(s);
  return NULL;
}

START_TEST(test_threads) {
  pthread_t threads[THREADS];
  uintptr_t i;
  for (i = 0; i < THREADS; ++i)
    ck_assert_int_eq(pthread_create(&threads[i], NULL, thread_main, (void*)i),
                     0);
  for (i = 0; i < THREADS; ++i) {
    void* result = NULL;
    pthread_join(threads[i], &result);
    ck_assert_msg(result == NULL, "thread %u: %s", (unsigned)i,
                  (const char*)result);
  }
}
END_TEST

START_TEST(test_two_instances) {
  xhal_instance_t other = open_instance();
  xhal_device_t dev2 = NULL;
  xhal_stream_t s1 = new_stream(), s2 = NULL;
  xhal_buffer_t b2 = NULL;
  xhal_device_properties_t p1, p2;
  uint8_t in[256], out[256];
  int i;
  ck_assert_int_eq(xhal_instance_device(other, 0, &dev2), XHAL_OK);
  ck_assert_ptr_ne(dev2, g_dev);
  ck_assert_int_eq(xhal_device_properties(g_dev, &p1), XHAL_OK);
  ck_assert_int_eq(xhal_device_properties(dev2, &p2), XHAL_OK);
  ck_assert_mem_eq(p1.uuid, p2.uuid, XHAL_UUID_SIZE);
  ck_assert_int_eq(xhal_stream_create(dev2, &s2), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(dev2, sizeof(in), 0, &b2), XHAL_OK);
  for (i = 0; i < 256; ++i) in[i] = (uint8_t)(255 - i);
  ck_assert_int_eq(xhal_stream_enqueue_write(s2, b2, 0, in, sizeof(in)),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(s2, b2, 0, out, sizeof(out)),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(s2), XHAL_OK);
  ck_assert_mem_eq(in, out, sizeof(in));
  xhal_buffer_release(b2);
  xhal_stream_release(s2);
  xhal_instance_release(other);
  /* The first instance is unaffected. */
  {
    xhal_op_call_t call;
    make_softmax(&call, XHAL_DTYPE_F32, 10, 10, -1);
    check_call(&call, 9);
  }
  xhal_stream_release(s1);
}
END_TEST

int main(void) {
  Suite* suite = suite_create("cpu_hal");
  TCase* tc = tcase_create("hal");
  SRunner* runner;
  int failed;
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_discovery);
  tcase_add_test(tc, test_buffers_and_map);
  tcase_add_test(tc, test_release_pending);
  tcase_add_test(tc, test_transfers_odd);
  tcase_add_test(tc, test_ordering_mixed);
  tcase_add_test(tc, test_events);
  tcase_add_test(tc, test_failure_propagation);
  tcase_add_test(tc, test_registry_ops);
  tcase_add_test(tc, test_threads);
  tcase_add_test(tc, test_two_instances);
  suite_add_tcase(suite, tc);
  runner = srunner_create(suite);
  srunner_run_all(runner, CK_ENV);
  failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
