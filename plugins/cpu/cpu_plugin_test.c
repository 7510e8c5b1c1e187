/*
 * cpu_plugin_test.c - the CPU plugin in isolation: the fake host and the
 * harness, then query and table, device properties, memory, transfers at
 * odd sizes and offsets, stream ordering, many streams on many threads and
 * two contexts side by side. Events, host functions and failures are in
 * cpu_plugin_test_events.c, operators in cpu_plugin_test_ops.c.
 */
#define _POSIX_C_SOURCE 200809L

#include "cpu_plugin_test.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------- fake host */

static _Thread_local char tls_error[512];
static _Thread_local xhal_status_t tls_error_status;

static void fake_log(void* hc, xhal_log_level_t level, const char* message) {
  (void)hc;
  if (level <= XHAL_LOG_WARN) fprintf(stderr, "plugin log: %s\n", message);
}

static void* fake_alloc(void* hc, uint64_t size, uint64_t alignment) {
  fake_host_t* host = hc;
  void* ptr = NULL;
  if (size > SIZE_MAX || posix_memalign(&ptr, (size_t)alignment, (size_t)size))
    return NULL;
  atomic_fetch_add(&host->live_allocs, 1);
  return ptr;
}

static void fake_free(void* hc, void* ptr) {
  fake_host_t* host = hc;
  if (ptr == NULL) return;
  atomic_fetch_sub(&host->live_allocs, 1);
  free(ptr);
}

static xhal_status_t fake_register(void* hc,
                                   const xhal_plugin_op_impl_t* impl) {
  fake_host_t* host = hc;
  xhal_status_t status = XHAL_OK;
  pthread_mutex_lock(&host->mu);
  if (host->impl_count == FAKE_MAX_IMPLS)
    status = XHAL_ERROR_OUT_OF_MEMORY;
  else
    host->impls[host->impl_count++] = *impl;
  pthread_mutex_unlock(&host->mu);
  return status;
}

static void fake_device_lost(void* hc, uint32_t index, const char* reason) {
  (void)hc;
  fprintf(stderr, "device %u lost: %s\n", index, reason);
}

static void fake_set_error(void* hc, xhal_status_t status,
                           const char* message) {
  (void)hc;
  tls_error_status = status;
  snprintf(tls_error, sizeof(tls_error), "%s", message);
}

void fake_host_init(fake_host_t* host) {
  memset(host, 0, sizeof(*host));
  host->services.struct_size = (uint32_t)sizeof(host->services);
  host->services.abi_minor = XHAL_ABI_VERSION_MINOR;
  host->services.host_context = host;
  host->services.log = fake_log;
  host->services.alloc_aligned = fake_alloc;
  host->services.free_aligned = fake_free;
  host->services.register_op_impl = fake_register;
  host->services.report_device_lost = fake_device_lost;
  host->services.set_error = fake_set_error;
  pthread_mutex_init(&host->mu, NULL);
  atomic_init(&host->live_allocs, 0);
}

void fake_host_destroy(fake_host_t* host) { pthread_mutex_destroy(&host->mu); }

const xhal_plugin_op_impl_t* fake_find_impl(fake_host_t* host, xhal_op_t op,
                                            xhal_dtype_t dtype) {
  uint32_t i;
  for (i = 0; i < host->impl_count; ++i)
    if (host->impls[i].op == op && host->impls[i].dtypes[0] == dtype)
      return &host->impls[i];
  return NULL;
}

const char* fake_last_error(void) { return tls_error; }
xhal_status_t fake_last_error_status(void) { return tls_error_status; }
void fake_clear_error(void) {
  tls_error[0] = '\0';
  tls_error_status = XHAL_OK;
}

/* ------------------------------------------------------------ harness */

const xhal_plugin_dispatch_t* T;
fake_host_t g_host;
xhal_plugin_context_t g_ctx;
xhal_plugin_device_t g_dev;
static void* g_module;

void plugin_setup(void) {
  xhal_plugin_query_fn query;
  g_module = dlopen(XHAL_CPU_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(g_module != NULL, "dlopen: %s", dlerror());
  *(void**)&query = dlsym(g_module, XHAL_PLUGIN_QUERY_SYMBOL);
  ck_assert_ptr_nonnull(query);
  ck_assert_int_eq(query(XHAL_ABI_VERSION_MAJOR, XHAL_ABI_VERSION_MINOR, &T),
                   XHAL_OK);
  fake_host_init(&g_host);
  ck_assert_int_eq(T->init(&g_host.services, &g_ctx), XHAL_OK);
  ck_assert_int_eq(T->device_open(g_ctx, 0, &g_dev), XHAL_OK);
}

void plugin_teardown(void) {
  T->device_close(g_dev);
  T->shutdown(g_ctx);
  ck_assert_int_eq(atomic_load(&g_host.live_allocs), 0);
  fake_host_destroy(&g_host);
  dlclose(g_module);
}

void gate_init(gate_t* gate) {
  pthread_mutex_init(&gate->mu, NULL);
  pthread_cond_init(&gate->cv, NULL);
  gate->open = 0;
}

void gate_open(gate_t* gate) {
  pthread_mutex_lock(&gate->mu);
  gate->open = 1;
  pthread_cond_broadcast(&gate->cv);
  pthread_mutex_unlock(&gate->mu);
}

void gate_destroy(gate_t* gate) {
  pthread_cond_destroy(&gate->cv);
  pthread_mutex_destroy(&gate->mu);
}

xhal_status_t gate_wait_fn(void* arg) {
  gate_t* gate = arg;
  pthread_mutex_lock(&gate->mu);
  while (!gate->open) pthread_cond_wait(&gate->cv, &gate->mu);
  pthread_mutex_unlock(&gate->mu);
  return XHAL_OK;
}

xhal_plugin_buffer_t test_alloc(uint64_t size) {
  xhal_plugin_buffer_t buffer = NULL;
  ck_assert_int_eq(
      T->buffer_alloc(g_dev, size, XHAL_MEMORY_HOST_VISIBLE, &buffer), XHAL_OK);
  return buffer;
}

void test_sync(xhal_plugin_stream_t stream) {
  ck_assert_int_eq(T->stream_synchronize(stream), XHAL_OK);
}

xhal_plugin_stream_t new_stream(void) {
  xhal_plugin_stream_t s = NULL;
  ck_assert_int_eq(T->stream_create(g_dev, 0, &s), XHAL_OK);
  return s;
}

xhal_plugin_event_t new_event(void) {
  xhal_plugin_event_t e = NULL;
  ck_assert_int_eq(T->event_create(g_dev, &e), XHAL_OK);
  return e;
}

uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Small deterministic generator for test data. */
static uint64_t rnd(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* --------------------------------------------------------- the table */

START_TEST(test_query_and_table) {
  xhal_plugin_query_fn query;
  const xhal_plugin_dispatch_t* table = NULL;
  *(void**)&query = dlsym(g_module, XHAL_PLUGIN_QUERY_SYMBOL);
  ck_assert_int_eq(query(XHAL_ABI_VERSION_MAJOR + 1, 0, &table),
                   XHAL_ERROR_ABI_MISMATCH);
  ck_assert_ptr_null(table);
  ck_assert_int_eq(query(XHAL_ABI_VERSION_MAJOR, 0, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(query(XHAL_ABI_VERSION_MAJOR, 7, &table), XHAL_OK);
  ck_assert_ptr_eq(table, T);
  ck_assert_uint_eq(T->struct_size, XHAL_PLUGIN_DISPATCH_SIZE_1_2);
  ck_assert_uint_eq(T->abi_major, XHAL_ABI_VERSION_MAJOR);
  ck_assert_str_eq(T->name, "cpu");
  ck_assert_ptr_nonnull(T->enqueue_host_func);
  ck_assert_ptr_nonnull(T->event_elapsed);
  ck_assert_ptr_nonnull(T->stream_wait_event);
  /* No kernel language on the CPU. */
  ck_assert_ptr_null(T->enqueue_kernel);
  ck_assert_ptr_null(T->program_build);
  ck_assert_ptr_null(T->kernel_create);
  /* Only the query symbol is exported. */
  ck_assert_ptr_null(dlsym(g_module, "cpu_kernel_run"));
  ck_assert_ptr_null(dlsym(g_module, "cpu_pool_parallel_for"));
}
END_TEST

START_TEST(test_properties) {
  xhal_device_properties_t p;
  uint32_t count = 0;
  ck_assert_int_eq(T->device_count(g_ctx, &count), XHAL_OK);
  ck_assert_uint_eq(count, 1);
  ck_assert_int_eq(T->device_properties(g_ctx, 0, &p), XHAL_OK);
  ck_assert_uint_eq(p.struct_size, sizeof(p));
  ck_assert_uint_eq(p.kind, XHAL_DEVICE_KIND_CPU);
  ck_assert(p.name[0] != '\0' && memchr(p.name, 0, sizeof(p.name)) != NULL);
  ck_assert(p.vendor[0] != '\0');
  ck_assert_uint_eq(p.alignment, 64);
  ck_assert_uint_gt(p.memory_bytes, 0);
  ck_assert(p.max_alloc_bytes > 0 && p.max_alloc_bytes <= p.memory_bytes);
  ck_assert_uint_eq(p.compute_units, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
  ck_assert_uint_eq(p.capabilities, XHAL_CAP_HOST_VISIBLE_MEMORY |
                                        XHAL_CAP_PROFILING |
                                        XHAL_CAP_HOST_FUNC);
  ck_assert(p.dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_F32));
  ck_assert(p.dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_F16));
  ck_assert(p.dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_I8));
  ck_assert(p.dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_I32));
  ck_assert_uint_eq(p.timer_numerator, 1);
  ck_assert_uint_eq(p.timer_denominator, 1);
  {
    static const uint8_t zero[XHAL_UUID_SIZE];
    ck_assert(memcmp(p.uuid, zero, sizeof(zero)) != 0);
  }
  fake_clear_error();
  ck_assert_int_eq(T->device_properties(g_ctx, 1, &p), XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_ptr_nonnull(strstr(fake_last_error(), "index"));
  ck_assert_int_eq(T->device_properties(g_ctx, 0, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(fake_last_error(), "out_props"));
}
END_TEST

/* ------------------------------------------------------------ memory */

START_TEST(test_alloc_map) {
  xhal_plugin_buffer_t b = NULL;
  xhal_device_properties_t p;
  void* ptr = NULL;
  void* ptr2 = NULL;
  ck_assert_int_eq(T->device_properties(g_ctx, 0, &p), XHAL_OK);
  fake_clear_error();
  ck_assert_int_eq(T->buffer_alloc(g_dev, 0, 0, &b),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(fake_last_error(), "size"));
  ck_assert_int_eq(T->buffer_alloc(g_dev, p.max_alloc_bytes + 1, 0, &b),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(T->buffer_alloc(g_dev, 16, 1u << 20, &b),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(fake_last_error(), "memory_flags"));
  ck_assert_int_eq(atomic_load(&g_host.live_allocs), 0);

  b = test_alloc(1000);
  ck_assert_int_eq(atomic_load(&g_host.live_allocs), 1);
  ck_assert_int_eq(T->buffer_map(g_dev, b, 0, 1000, XHAL_MAP_WRITE, &ptr),
                   XHAL_OK);
  ck_assert_uint_eq((uintptr_t)ptr % 64, 0);
  memset(ptr, 0x5A, 1000);
  ck_assert_int_eq(T->buffer_map(g_dev, b, 999, 1, XHAL_MAP_READ, &ptr2),
                   XHAL_OK);
  ck_assert_ptr_eq(ptr2, (uint8_t*)ptr + 999);
  ck_assert_uint_eq(*(uint8_t*)ptr2, 0x5A);
  ck_assert_int_eq(T->buffer_map(g_dev, b, 999, 2, XHAL_MAP_READ, &ptr2),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(T->buffer_map(g_dev, b, UINT64_MAX, 2, XHAL_MAP_READ, &ptr2),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(T->buffer_unmap(g_dev, b, (uint8_t*)ptr + 999), XHAL_OK);
  ck_assert_int_eq(T->buffer_unmap(g_dev, b, (uint8_t*)ptr + 999),
                   XHAL_ERROR_INVALID_STATE);
  ck_assert_int_eq(T->buffer_unmap(g_dev, b, (uint8_t*)ptr + 3),
                   XHAL_ERROR_INVALID_STATE);
  ck_assert_int_eq(T->buffer_unmap(g_dev, b, ptr), XHAL_OK);
  ck_assert_int_eq(T->buffer_unmap(g_dev, b, ptr), XHAL_ERROR_INVALID_STATE);
  T->buffer_free(g_dev, b);
  T->buffer_free(g_dev, NULL);
  ck_assert_int_eq(atomic_load(&g_host.live_allocs), 0);
}
END_TEST

typedef struct free_arg {
  xhal_plugin_buffer_t buffer;
  _Atomic int done;
} free_arg_t;

static void* free_main(void* p) {
  free_arg_t* arg = p;
  T->buffer_free(g_dev, arg->buffer);
  atomic_store(&arg->done, 1);
  return NULL;
}

static xhal_status_t free_fn(void* p) {
  T->buffer_free(g_dev, p);
  return XHAL_OK;
}

/* Freeing a buffer that queued work still uses waits for that work (the
 * sanitizer build would catch the use after free otherwise), and a host
 * function may free a buffer without waiting for itself. */
START_TEST(test_free_waits_for_work) {
  xhal_plugin_stream_t s = new_stream();
  xhal_plugin_stream_t idle = new_stream();
  uint8_t src[256];
  free_arg_t arg;
  pthread_t thread;
  gate_t gate;
  gate_init(&gate);
  memset(src, 0x3C, sizeof(src));
  arg.buffer = test_alloc(sizeof(src));
  atomic_init(&arg.done, 0);
  ck_assert_int_eq(T->enqueue_host_func(s, gate_wait_fn, &gate), XHAL_OK);
  ck_assert_int_eq(T->enqueue_write(s, arg.buffer, 0, src, sizeof(src)),
                   XHAL_OK);
  ck_assert_int_eq(pthread_create(&thread, NULL, free_main, &arg), 0);
  sleep_ms(30);
  ck_assert_int_eq(atomic_load(&arg.done), 0);
  gate_open(&gate);
  pthread_join(thread, NULL);
  ck_assert_int_eq(atomic_load(&arg.done), 1);
  ck_assert_int_eq(T->enqueue_host_func(s, free_fn, test_alloc(64)), XHAL_OK);
  test_sync(s);
  T->stream_destroy(s);
  T->stream_destroy(idle);
  gate_destroy(&gate);
}
END_TEST

#define ODD_SIZE 4099u

/* Reads the whole buffer back and compares every byte with the model. */
static void check_buffer(xhal_plugin_stream_t s, xhal_plugin_buffer_t b,
                         const uint8_t* model, uint64_t size) {
  uint8_t* got = malloc(size);
  uint64_t i;
  ck_assert_ptr_nonnull(got);
  memset(got, 0xEE, size);
  ck_assert_int_eq(T->enqueue_read(s, b, 0, got, size), XHAL_OK);
  test_sync(s);
  for (i = 0; i < size; ++i)
    ck_assert_msg(got[i] == model[i], "byte %llu: got 0x%02x want 0x%02x",
                  (unsigned long long)i, got[i], model[i]);
  free(got);
}

START_TEST(test_transfers_odd) {
  static const uint64_t kOffsets[] = {0, 1, 3, 63, 64, 65, 1023, 4000};
  static const uint64_t kSizes[] = {1, 2, 3, 7, 63, 65, 99};
  xhal_plugin_stream_t s = new_stream();
  xhal_plugin_buffer_t a = test_alloc(ODD_SIZE);
  xhal_plugin_buffer_t b = test_alloc(ODD_SIZE);
  uint8_t model_a[ODD_SIZE];
  uint8_t model_b[ODD_SIZE];
  uint8_t src[ODD_SIZE];
  uint64_t seed = 1;
  size_t i, j;
  for (i = 0; i < ODD_SIZE; ++i) src[i] = (uint8_t)rnd(&seed);
  memset(model_a, 0, sizeof(model_a));
  memset(model_b, 0, sizeof(model_b));
  ck_assert_int_eq(T->enqueue_fill(s, a, 0, ODD_SIZE, "\0", 1), XHAL_OK);
  ck_assert_int_eq(T->enqueue_fill(s, b, 0, ODD_SIZE, "\0", 1), XHAL_OK);
  for (i = 0; i < sizeof(kOffsets) / sizeof(kOffsets[0]); ++i) {
    for (j = 0; j < sizeof(kSizes) / sizeof(kSizes[0]); ++j) {
      uint64_t off = kOffsets[i], size = kSizes[j];
      uint64_t off2 = (off * 7 + 5) % (ODD_SIZE - size);
      uint32_t pat = (uint32_t)rnd(&seed);
      uint32_t psize = 1u << (j % 3);
      uint64_t fsize = size - size % psize;
      uint64_t foff = off2 - off2 % psize;
      uint64_t k;
      ck_assert_int_eq(T->enqueue_write(s, a, off, src + j, size), XHAL_OK);
      memcpy(model_a + off, src + j, size);
      /* Overlapping copy within one buffer: memmove semantics. */
      ck_assert_int_eq(
          T->enqueue_copy(s, a, off, a,
                          off + 1 < ODD_SIZE - size ? off + 1 : off - 1, size),
          XHAL_OK);
      memmove(model_a + (off + 1 < ODD_SIZE - size ? off + 1 : off - 1),
              model_a + off, size);
      ck_assert_int_eq(T->enqueue_copy(s, a, off, b, off2, size), XHAL_OK);
      memmove(model_b + off2, model_a + off, size);
      ck_assert_int_eq(T->enqueue_fill(s, b, foff, fsize, &pat, psize),
                       XHAL_OK);
      for (k = 0; k < fsize; ++k)
        model_b[foff + k] = ((const uint8_t*)&pat)[k % psize];
    }
    check_buffer(s, a, model_a, ODD_SIZE);
    check_buffer(s, b, model_b, ODD_SIZE);
  }
  /* A fill at an offset that is not a multiple of the pattern starts the
   * pattern at that offset. */
  ck_assert_int_eq(T->enqueue_fill(s, b, 3, 130, "\x11\x22", 2), XHAL_OK);
  for (i = 0; i < 130; ++i) model_b[3 + i] = (i % 2) ? 0x22 : 0x11;
  check_buffer(s, b, model_b, ODD_SIZE);
  T->stream_destroy(s);
  T->buffer_free(g_dev, a);
  T->buffer_free(g_dev, b);
}
END_TEST

START_TEST(test_bad_arguments) {
  xhal_plugin_stream_t s = NULL;
  xhal_plugin_buffer_t b = test_alloc(100);
  xhal_plugin_event_t e = new_event();
  uint8_t host[200];
  uint32_t pat = 0;
  ck_assert_int_eq(T->stream_create(g_dev, 1, &s), XHAL_ERROR_INVALID_ARGUMENT);
  s = new_stream();
  fake_clear_error();
  ck_assert_int_eq(T->enqueue_write(s, b, 50, host, 51),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_ptr_nonnull(strstr(fake_last_error(), "dst"));
  ck_assert_int_eq(T->enqueue_read(s, b, UINT64_MAX, host, 2),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(T->enqueue_copy(s, b, 0, b, 99, 2), XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(T->enqueue_write(s, b, 0, NULL, 4),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(T->enqueue_write(s, NULL, 0, host, 4),
                   XHAL_ERROR_INVALID_HANDLE);
  ck_assert_int_eq(T->enqueue_fill(s, b, 0, 12, &pat, 3),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(fake_last_error(), "pattern_size"));
  ck_assert_int_eq(T->enqueue_fill(s, b, 0, 10, &pat, 4),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(T->enqueue_fill(s, b, 0, 8, NULL, 4),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(T->enqueue_host_func(s, NULL, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(T->stream_wait_event(s, e), XHAL_ERROR_INVALID_STATE);
  ck_assert_ptr_nonnull(strstr(fake_last_error(), "never recorded"));
  ck_assert_int_eq(T->event_wait(e, 0), XHAL_ERROR_INVALID_STATE);
  ck_assert_int_eq(T->event_query(e), XHAL_ERROR_INVALID_STATE);
  /* Zero-sized transfers are accepted no-ops. */
  ck_assert_int_eq(T->enqueue_write(s, b, 100, host, 0), XHAL_OK);
  test_sync(s);
  T->event_destroy(e);
  T->stream_destroy(s);
  T->buffer_free(g_dev, b);
}
END_TEST

/* ---------------------------------------------------------- ordering */

#define MIX_COMMANDS 1000
#define MIX_BUF 2048u

typedef struct order_log {
  uint32_t seen[MIX_COMMANDS];
  uint32_t count;
} order_log_t;

typedef struct order_arg {
  order_log_t* log;
  uint32_t index;
} order_arg_t;

static xhal_status_t order_fn(void* p) {
  order_arg_t* arg = p;
  arg->log->seen[arg->log->count++] = arg->index;
  return XHAL_OK;
}

/* 1000 mixed commands enqueued behind a closed gate (so the ring has to
 * grow past its initial size while the worker is busy), checked against a
 * host model byte by byte, with host functions logging their order. */
START_TEST(test_ordering_mixed) {
  xhal_plugin_stream_t s = new_stream();
  xhal_plugin_buffer_t a = test_alloc(MIX_BUF);
  xhal_plugin_event_t events[10];
  static uint8_t src[MIX_COMMANDS][64];
  static uint8_t reads[MIX_COMMANDS][64];
  static uint8_t expect[MIX_COMMANDS][64];
  static order_arg_t args[MIX_COMMANDS];
  static order_log_t log;
  uint8_t model[MIX_BUF];
  uint32_t read_len[MIX_COMMANDS] = {0};
  uint32_t host_funcs = 0;
  uint64_t seed = 7;
  gate_t gate;
  uint32_t i;
  gate_init(&gate);
  memset(model, 0, sizeof(model));
  ck_assert_int_eq(T->enqueue_fill(s, a, 0, MIX_BUF, "\0", 1), XHAL_OK);
  ck_assert_int_eq(T->enqueue_host_func(s, gate_wait_fn, &gate), XHAL_OK);
  for (i = 0; i < 10; ++i) events[i] = new_event();
  for (i = 0; i < MIX_COMMANDS; ++i) {
    uint64_t size = 1 + rnd(&seed) % 64;
    uint64_t off = rnd(&seed) % (MIX_BUF - size);
    uint64_t off2 = rnd(&seed) % (MIX_BUF - size);
    uint32_t k;
    switch (rnd(&seed) % 5) {
      case 0:
        for (k = 0; k < size; ++k) src[i][k] = (uint8_t)rnd(&seed);
        ck_assert_int_eq(T->enqueue_write(s, a, off, src[i], size), XHAL_OK);
        memcpy(model + off, src[i], size);
        break;
      case 1: {
        uint32_t psize = 1u << (rnd(&seed) % 3);
        uint32_t pat = (uint32_t)rnd(&seed);
        uint64_t fsize = size - size % psize;
        ck_assert_int_eq(T->enqueue_fill(s, a, off, fsize, &pat, psize),
                         XHAL_OK);
        for (k = 0; k < fsize; ++k)
          model[off + k] = ((const uint8_t*)&pat)[k % psize];
        break;
      }
      case 2:
        ck_assert_int_eq(T->enqueue_copy(s, a, off, a, off2, size), XHAL_OK);
        memmove(model + off2, model + off, size);
        break;
      case 3:
        args[host_funcs].log = &log;
        args[host_funcs].index = host_funcs;
        ck_assert_int_eq(T->enqueue_host_func(s, order_fn, &args[host_funcs]),
                         XHAL_OK);
        host_funcs++;
        break;
      default:
        ck_assert_int_eq(T->enqueue_read(s, a, off, reads[i], size), XHAL_OK);
        memcpy(expect[i], model + off, size);
        read_len[i] = (uint32_t)size;
        break;
    }
    if (i % 100 == 99)
      ck_assert_int_eq(T->event_record(events[i / 100], s), XHAL_OK);
  }
  ck_assert_int_eq(T->event_query(events[0]), XHAL_ERROR_NOT_READY);
  gate_open(&gate);
  test_sync(s);
  for (i = 0; i < MIX_COMMANDS; ++i)
    ck_assert_msg(memcmp(reads[i], expect[i], read_len[i]) == 0,
                  "read %u differs", i);
  ck_assert_uint_eq(log.count, host_funcs);
  for (i = 0; i < host_funcs; ++i) ck_assert_uint_eq(log.seen[i], i);
  for (i = 0; i < 10; ++i) {
    ck_assert_int_eq(T->event_query(events[i]), XHAL_OK);
    T->event_destroy(events[i]);
  }
  check_buffer(s, a, model, MIX_BUF);
  T->stream_destroy(s);
  T->buffer_free(g_dev, a);
  gate_destroy(&gate);
}
END_TEST

xhal_status_t count_fn(void* p) {
  atomic_fetch_add((_Atomic uint32_t*)p, 1);
  return XHAL_OK;
}

/* Destroying a stream runs what was enqueued first. */
START_TEST(test_destroy_drains) {
  _Atomic uint32_t count = 0;
  xhal_plugin_stream_t s = new_stream();
  int i;
  for (i = 0; i < 300; ++i)
    ck_assert_int_eq(T->enqueue_host_func(s, count_fn, &count), XHAL_OK);
  T->stream_destroy(s);
  ck_assert_uint_eq(atomic_load(&count), 300);
}
END_TEST

/* ------------------------------------------------ threads and streams */

#define WORKERS 4
#define STREAMS_PER_WORKER 3
#define ITERATIONS 300

static void* stream_worker(void* arg) {
  uint32_t id = (uint32_t)(uintptr_t)arg;
  xhal_plugin_stream_t s[STREAMS_PER_WORKER];
  xhal_plugin_buffer_t b[STREAMS_PER_WORKER];
  uint32_t in[64], out[64];
  uint32_t it, k, j;
  for (j = 0; j < STREAMS_PER_WORKER; ++j) {
    if (T->stream_create(g_dev, 0, &s[j]) != XHAL_OK) return "stream_create";
    if (T->buffer_alloc(g_dev, 512, 0, &b[j]) != XHAL_OK) return "alloc";
  }
  for (it = 0; it < ITERATIONS; ++it) {
    j = it % STREAMS_PER_WORKER;
    for (k = 0; k < 64; ++k) in[k] = id * 1000000u + it * 100u + k;
    if (T->enqueue_write(s[j], b[j], 0, in, sizeof(in)) != XHAL_OK ||
        T->enqueue_copy(s[j], b[j], 0, b[j], 256, sizeof(in)) != XHAL_OK ||
        T->enqueue_fill(s[j], b[j], 0, 256, "\0\0\0\0", 4) != XHAL_OK ||
        T->enqueue_read(s[j], b[j], 256, out, sizeof(out)) != XHAL_OK ||
        T->stream_synchronize(s[j]) != XHAL_OK)
      return "enqueue";
    if (memcmp(in, out, sizeof(in)) != 0) return "data";
  }
  for (j = 0; j < STREAMS_PER_WORKER; ++j) {
    T->stream_destroy(s[j]);
    T->buffer_free(g_dev, b[j]);
  }
  return NULL;
}

START_TEST(test_many_streams_threads) {
  pthread_t threads[WORKERS];
  uintptr_t i;
  for (i = 0; i < WORKERS; ++i)
    ck_assert_int_eq(pthread_create(&threads[i], NULL, stream_worker, (void*)i),
                     0);
  for (i = 0; i < WORKERS; ++i) {
    void* result = NULL;
    pthread_join(threads[i], &result);
    ck_assert_msg(result == NULL, "worker %u: %s", (unsigned)i,
                  (const char*)result);
  }
}
END_TEST

/* ------------------------------------------------------ two contexts */

START_TEST(test_two_contexts) {
  fake_host_t host2;
  xhal_plugin_context_t ctx2 = NULL;
  xhal_plugin_device_t dev2 = NULL;
  xhal_plugin_stream_t s1 = new_stream(), s2 = NULL;
  xhal_plugin_buffer_t b1 = test_alloc(64), b2 = NULL;
  xhal_device_properties_t p1, p2;
  uint8_t in[64], out1[64], out2[64];
  int i;
  fake_host_init(&host2);
  ck_assert_int_eq(T->init(&host2.services, &ctx2), XHAL_OK);
  ck_assert_ptr_ne(ctx2, g_ctx);
  ck_assert_int_eq(T->device_open(ctx2, 0, &dev2), XHAL_OK);
  ck_assert_int_eq(T->device_properties(g_ctx, 0, &p1), XHAL_OK);
  ck_assert_int_eq(T->device_properties(ctx2, 0, &p2), XHAL_OK);
  ck_assert_mem_eq(p1.uuid, p2.uuid, XHAL_UUID_SIZE);
  ck_assert_uint_eq(host2.impl_count, g_host.impl_count);
  if (host2.impl_count > 0) {
    ck_assert_ptr_eq(host2.impls[0].user_data, ctx2);
    /* An implementation of one context refuses the other's stream. */
    ck_assert_int_eq(host2.impls[0].enqueue(host2.impls[0].user_data, s1, NULL),
                     XHAL_ERROR_INVALID_ARGUMENT);
  }
  ck_assert_int_eq(T->stream_create(dev2, 0, &s2), XHAL_OK);
  ck_assert_int_eq(T->buffer_alloc(dev2, 64, 0, &b2), XHAL_OK);
  ck_assert_int_eq(atomic_load(&host2.live_allocs), 1);
  for (i = 0; i < 64; ++i) in[i] = (uint8_t)i;
  for (i = 0; i < 50; ++i) {
    ck_assert_int_eq(T->enqueue_write(s1, b1, 0, in, 64), XHAL_OK);
    ck_assert_int_eq(T->enqueue_write(s2, b2, 0, in, 64), XHAL_OK);
    ck_assert_int_eq(T->enqueue_read(s1, b1, 0, out1, 64), XHAL_OK);
    ck_assert_int_eq(T->enqueue_read(s2, b2, 0, out2, 64), XHAL_OK);
    test_sync(s2);
    test_sync(s1);
  }
  ck_assert_mem_eq(out1, in, 64);
  ck_assert_mem_eq(out2, in, 64);
  /* Shutting the second context down leaves the first working. */
  T->stream_destroy(s2);
  T->buffer_free(dev2, b2);
  T->device_close(dev2);
  T->shutdown(ctx2);
  ck_assert_int_eq(atomic_load(&host2.live_allocs), 0);
  fake_host_destroy(&host2);
  memset(out1, 0, sizeof(out1));
  ck_assert_int_eq(T->enqueue_read(s1, b1, 0, out1, 64), XHAL_OK);
  test_sync(s1);
  ck_assert_mem_eq(out1, in, 64);
  T->stream_destroy(s1);
  T->buffer_free(g_dev, b1);
}
END_TEST

/* ----------------------------------------------------------------- main */

static Suite* core_suite(void) {
  Suite* suite = suite_create("cpu_plugin");
  TCase* tc = tcase_create("core");
  tcase_add_checked_fixture(tc, plugin_setup, plugin_teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_query_and_table);
  tcase_add_test(tc, test_properties);
  tcase_add_test(tc, test_alloc_map);
  tcase_add_test(tc, test_free_waits_for_work);
  tcase_add_test(tc, test_transfers_odd);
  tcase_add_test(tc, test_bad_arguments);
  tcase_add_test(tc, test_ordering_mixed);
  tcase_add_test(tc, test_destroy_drains);
  tcase_add_test(tc, test_many_streams_threads);
  tcase_add_test(tc, test_two_contexts);
  suite_add_tcase(suite, tc);
  return suite;
}

int main(void) {
  SRunner* runner = srunner_create(core_suite());
  int failed;
  srunner_add_suite(runner, cpu_events_suite());
  srunner_add_suite(runner, cpu_ops_suite());
  srunner_run_all(runner, CK_ENV);
  failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
