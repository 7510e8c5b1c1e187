/*
 * mem_pool_test.c - stream-ordered pools through the CPU plugin: reuse
 * counted as hits, stream-order hazards (a stream held by a gated host
 * function), exhaustion and recovery after a trim, statistics, the large
 * block path, bad arguments, and lifetimes across threads and releases.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xhal/xhal_pool.h>

#include "test_util.h"

#define KIB (1024ull)
#define MIB (1024ull * 1024ull)

static xhal_instance_t g_instance;
static xhal_device_t g_device;
static xhal_stream_t g_stream;
static xhal_pool_t g_pool;

/* A host function that holds its stream until the test opens the gate. */
static atomic_int g_gate_open;

static xhal_status_t gate_fn(void* user_data) {
  (void)user_data;
  struct timespec nap = {0, 100000};
  while (!atomic_load(&g_gate_open)) nanosleep(&nap, NULL);
  return XHAL_OK;
}

static void close_gate_on(xhal_stream_t stream) {
  atomic_store(&g_gate_open, 0);
  ck_assert_int_eq(xhal_stream_enqueue_host_func(stream, gate_fn, NULL),
                   XHAL_OK);
}

static xhal_pool_t make_pool(uint64_t max_reserved) {
  xhal_pool_options_t options;
  xhal_pool_options_default(&options);
  options.memory_flags = XHAL_MEMORY_HOST_VISIBLE;
  options.max_reserved_bytes = max_reserved;
  xhal_pool_t pool = NULL;
  ck_assert_int_eq(xhal_pool_create(g_device, &options, &pool), XHAL_OK);
  return pool;
}

static void setup(void) {
  atomic_store(&g_gate_open, 1);
  g_instance = test_cpu_instance(&g_device);
  ck_assert_int_eq(xhal_stream_create(g_device, &g_stream), XHAL_OK);
  g_pool = make_pool(0);
}

static void teardown(void) {
  atomic_store(&g_gate_open, 1); /* never leave a stream held */
  xhal_pool_release(g_pool);
  xhal_stream_release(g_stream);
  xhal_instance_release(g_instance);
}

/* Host address of a pool allocation: which block backs it. */
static void* address_of(xhal_buffer_t buffer) {
  void* ptr = NULL;
  ck_assert_int_eq(xhal_buffer_map(buffer, 0, 1, XHAL_MAP_READ, &ptr), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_unmap(buffer, ptr), XHAL_OK);
  return ptr;
}

static xhal_buffer_t alloc_on(xhal_pool_t pool, xhal_stream_t stream,
                              uint64_t size) {
  xhal_buffer_t buffer = NULL;
  xhal_status_t status = xhal_pool_alloc_async(pool, stream, size, &buffer);
  ck_assert_msg(status == XHAL_OK, "alloc %llu: %s", (unsigned long long)size,
                xhal_last_error());
  return buffer;
}

static void free_on(xhal_pool_t pool, xhal_stream_t stream,
                    xhal_buffer_t buffer) {
  xhal_status_t status = xhal_pool_free_async(pool, stream, buffer);
  ck_assert_msg(status == XHAL_OK, "free: %s", xhal_last_error());
}

static xhal_pool_stats_t stats_of(xhal_pool_t pool) {
  xhal_pool_stats_t stats;
  memset(&stats, 0xA5, sizeof(stats));
  ck_assert_int_eq(xhal_pool_stats(pool, &stats), XHAL_OK);
  ck_assert_uint_eq(stats.struct_size, sizeof(stats));
  return stats;
}

START_TEST(test_options_and_create) {
  xhal_pool_options_t options;
  memset(&options, 0xFF, sizeof(options));
  xhal_pool_options_default(&options);
  ck_assert_uint_eq(options.struct_size, sizeof(options));
  ck_assert_uint_eq(options.memory_flags, 0);
  ck_assert_uint_eq(options.max_reserved_bytes, 0);

  xhal_pool_t pool = NULL;
  ck_assert_int_eq(xhal_pool_create(g_device, NULL, &pool), XHAL_OK);
  xhal_pool_stats_t stats = stats_of(pool);
  ck_assert_uint_eq(stats.reserved_bytes, 0);
  ck_assert_uint_eq(stats.hits + stats.misses, 0);
  xhal_pool_retain(pool);
  xhal_pool_release(pool);
  ck_assert_int_eq(xhal_pool_stats(pool, &stats), XHAL_OK);
  xhal_pool_release(pool);
  xhal_pool_release(NULL);

  options.struct_size = 4;
  ck_assert_status_msg(xhal_pool_create(g_device, &options, &pool),
                       XHAL_ERROR_INVALID_ARGUMENT, "struct_size");
  ck_assert_ptr_null(pool);
  xhal_pool_options_default(&options);
  options.memory_flags = 0x80000000u;
  ck_assert_status_msg(xhal_pool_create(g_device, &options, &pool),
                       XHAL_ERROR_INVALID_ARGUMENT, "unknown bits");
  ck_assert_status_msg(xhal_pool_create(g_device, NULL, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_pool is NULL");
  ck_assert_status_msg(xhal_pool_create(NULL, NULL, &pool),
                       XHAL_ERROR_INVALID_HANDLE, "device is NULL");
}
END_TEST

START_TEST(test_reuse_counts_hits) {
  xhal_buffer_t a = alloc_on(g_pool, g_stream, 1000);
  uint64_t size = 0;
  ck_assert_int_eq(xhal_buffer_size(a, &size), XHAL_OK);
  ck_assert_uint_eq(size, 1000);
  xhal_pool_stats_t stats = stats_of(g_pool);
  ck_assert_uint_eq(stats.misses, 1);
  ck_assert_uint_eq(stats.hits, 0);
  ck_assert_uint_eq(stats.used_bytes, 1 * KIB);
  /* A 1 KiB class shares one 64 KiB chunk among 64 blocks. */
  ck_assert_uint_eq(stats.reserved_bytes, 64 * KIB);
  void* first = address_of(a);
  free_on(g_pool, g_stream, a);

  xhal_buffer_t b = alloc_on(g_pool, g_stream, 700);
  ck_assert_ptr_eq(address_of(b), first);
  ck_assert_int_eq(xhal_buffer_size(b, &size), XHAL_OK);
  ck_assert_uint_eq(size, 700);
  xhal_buffer_t c = alloc_on(g_pool, g_stream, 1024);
  ck_assert_ptr_ne(address_of(c), first);
  stats = stats_of(g_pool);
  ck_assert_uint_eq(stats.misses, 1);
  ck_assert_uint_eq(stats.hits, 2);
  ck_assert_uint_eq(stats.reserved_bytes, 64 * KIB);
  free_on(g_pool, g_stream, b);
  free_on(g_pool, g_stream, c);
  ck_assert_uint_eq(stats_of(g_pool).used_bytes, 0);
}
END_TEST

START_TEST(test_data_round_trip) {
  enum { kSize = 300000 };
  uint8_t* src = malloc(kSize);
  uint8_t* back = calloc(1, kSize);
  for (uint32_t i = 0; i < kSize; ++i) src[i] = (uint8_t)(i * 7u + 3u);
  xhal_buffer_t a = alloc_on(g_pool, g_stream, kSize);
  ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, a, 0, src, kSize),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, a, 0, back, kSize),
                   XHAL_OK);
  /* The view is exactly the requested size, whatever its block's. */
  ck_assert_status_msg(xhal_stream_enqueue_read(g_stream, a, 1, back, kSize),
                       XHAL_ERROR_OUT_OF_RANGE, "past the buffer");
  free_on(g_pool, g_stream, a);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_mem_eq(src, back, kSize);
  free(src);
  free(back);
}
END_TEST

/* The stream has not passed the free (it is held), yet the same stream
 * reuses the block at once: later work on it runs after earlier work. */
START_TEST(test_same_stream_reuse_is_immediate) {
  enum { kSize = 4096 };
  uint8_t back[kSize];
  memset(back, 0, sizeof(back));
  close_gate_on(g_stream);
  xhal_buffer_t a = alloc_on(g_pool, g_stream, kSize);
  void* first = address_of(a);
  uint8_t one = 0x11, two = 0x22;
  ck_assert_int_eq(xhal_stream_enqueue_fill(g_stream, a, 0, kSize, &one, 1),
                   XHAL_OK);
  free_on(g_pool, g_stream, a);
  xhal_buffer_t b = alloc_on(g_pool, g_stream, kSize);
  ck_assert_ptr_eq(address_of(b), first);
  ck_assert_int_eq(xhal_stream_enqueue_fill(g_stream, b, 0, kSize, &two, 1),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, b, 0, back, kSize),
                   XHAL_OK);
  ck_assert_uint_eq(stats_of(g_pool).hits, 1);
  atomic_store(&g_gate_open, 1);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  for (uint32_t i = 0; i < kSize; ++i) ck_assert_uint_eq(back[i], two);
  free_on(g_pool, g_stream, b);
}
END_TEST

/* A block freed on a held stream A must not reach stream B until A has
 * passed the free; afterwards B reuses it. */
START_TEST(test_cross_stream_waits_for_the_free) {
  xhal_stream_t other;
  ck_assert_int_eq(xhal_stream_create(g_device, &other), XHAL_OK);
  close_gate_on(g_stream);
  xhal_buffer_t a = alloc_on(g_pool, g_stream, 1 * MIB);
  void* first = address_of(a);
  free_on(g_pool, g_stream, a);

  xhal_buffer_t held[3];
  for (int i = 0; i < 3; ++i) {
    held[i] = alloc_on(g_pool, other, 1 * MIB);
    ck_assert_ptr_ne(address_of(held[i]), first);
  }
  xhal_pool_stats_t stats = stats_of(g_pool);
  ck_assert_uint_eq(stats.misses, 4);
  ck_assert_uint_eq(stats.hits, 0);

  atomic_store(&g_gate_open, 1);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  xhal_buffer_t b = alloc_on(g_pool, other, 1 * MIB);
  ck_assert_ptr_eq(address_of(b), first);
  ck_assert_uint_eq(stats_of(g_pool).hits, 1);

  free_on(g_pool, other, b);
  for (int i = 0; i < 3; ++i) free_on(g_pool, other, held[i]);
  xhal_stream_release(other);
}
END_TEST

START_TEST(test_exhaustion_then_recovery) {
  xhal_pool_t pool = make_pool(1 * MIB);
  xhal_buffer_t a = alloc_on(pool, g_stream, 1 * MIB);
  xhal_buffer_t b = NULL;
  ck_assert_status_msg(xhal_pool_alloc_async(pool, g_stream, 256 * KIB, &b),
                       XHAL_ERROR_OUT_OF_MEMORY, "max_reserved_bytes");
  ck_assert_ptr_null(b);
  ck_assert_uint_eq(stats_of(pool).reserved_bytes, 1 * MIB);

  /* The pool waits for the free to complete, trims the 1 MiB block and
   * makes room for a request of another class. */
  free_on(pool, g_stream, a);
  b = alloc_on(pool, g_stream, 256 * KIB);
  xhal_pool_stats_t stats = stats_of(pool);
  ck_assert_uint_eq(stats.reserved_bytes, 256 * KIB);
  ck_assert_uint_eq(stats.peak_reserved_bytes, 1 * MIB);
  ck_assert_uint_eq(stats.misses, 2);

  /* A trim never takes memory in use. */
  ck_assert_int_eq(xhal_pool_trim(pool, 0), XHAL_OK);
  ck_assert_uint_eq(stats_of(pool).reserved_bytes, 256 * KIB);
  free_on(pool, g_stream, b);
  ck_assert_int_eq(xhal_pool_trim(pool, 0), XHAL_OK);
  ck_assert_uint_eq(stats_of(pool).reserved_bytes, 0);
  xhal_buffer_t c = alloc_on(pool, g_stream, 1 * MIB);
  free_on(pool, g_stream, c);
  xhal_pool_release(pool);
}
END_TEST

START_TEST(test_trim_keeps_bytes) {
  xhal_buffer_t blocks[4];
  for (int i = 0; i < 4; ++i) blocks[i] = alloc_on(g_pool, g_stream, 1 * MIB);
  /* Frees still in flight: the trim waits for them. */
  for (int i = 0; i < 4; ++i) free_on(g_pool, g_stream, blocks[i]);
  ck_assert_uint_eq(stats_of(g_pool).reserved_bytes, 4 * MIB);
  ck_assert_int_eq(xhal_pool_trim(g_pool, 2 * MIB), XHAL_OK);
  ck_assert_uint_eq(stats_of(g_pool).reserved_bytes, 2 * MIB);
  ck_assert_status_msg(xhal_pool_trim(NULL, 0), XHAL_ERROR_INVALID_HANDLE,
                       "pool is NULL");
}
END_TEST

START_TEST(test_stats) {
  xhal_buffer_t a = alloc_on(g_pool, g_stream, 1 * MIB);
  xhal_buffer_t b = alloc_on(g_pool, g_stream, 3000);
  xhal_pool_stats_t stats = stats_of(g_pool);
  ck_assert_uint_eq(stats.used_bytes, 1 * MIB + 4 * KIB);
  /* 4 KiB blocks come 64 to a chunk. */
  ck_assert_uint_eq(stats.reserved_bytes, 1 * MIB + 256 * KIB);
  ck_assert_uint_eq(stats.misses, 2);
  free_on(g_pool, g_stream, a);
  stats = stats_of(g_pool);
  ck_assert_uint_eq(stats.used_bytes, 4 * KIB);
  ck_assert_uint_eq(stats.peak_used_bytes, 1 * MIB + 4 * KIB);
  ck_assert_uint_eq(stats.peak_reserved_bytes, 1 * MIB + 256 * KIB);
  ck_assert_uint_eq(stats.reserved0, 0);
  free_on(g_pool, g_stream, b);
  ck_assert_uint_eq(stats_of(g_pool).used_bytes, 0);
  ck_assert_status_msg(xhal_pool_stats(g_pool, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_stats is NULL");
}
END_TEST

START_TEST(test_large_blocks) {
  xhal_buffer_t a = alloc_on(g_pool, g_stream, 20 * MIB + 5);
  void* first = address_of(a);
  ck_assert_uint_eq(stats_of(g_pool).reserved_bytes, 21 * MIB);
  free_on(g_pool, g_stream, a);
  /* At most a quarter larger than the request: reused. */
  xhal_buffer_t b = alloc_on(g_pool, g_stream, 18 * MIB);
  ck_assert_ptr_eq(address_of(b), first);
  free_on(g_pool, g_stream, b);
  /* Twice the request: not reused. */
  xhal_buffer_t c = alloc_on(g_pool, g_stream, 10 * MIB);
  ck_assert_ptr_ne(address_of(c), first);
  xhal_pool_stats_t stats = stats_of(g_pool);
  ck_assert_uint_eq(stats.hits, 1);
  ck_assert_uint_eq(stats.misses, 2);
  ck_assert_uint_eq(stats.used_bytes, 10 * MIB);
  free_on(g_pool, g_stream, c);
}
END_TEST

START_TEST(test_bad_arguments) {
  xhal_buffer_t out = NULL;
  xhal_device_properties_t props;
  ck_assert_int_eq(xhal_device_properties(g_device, &props), XHAL_OK);
  ck_assert_status_msg(xhal_pool_alloc_async(NULL, g_stream, 64, &out),
                       XHAL_ERROR_INVALID_HANDLE, "pool is NULL");
  ck_assert_status_msg(xhal_pool_alloc_async(g_pool, NULL, 64, &out),
                       XHAL_ERROR_INVALID_HANDLE, "stream is NULL");
  ck_assert_status_msg(xhal_pool_alloc_async(g_pool, g_stream, 0, &out),
                       XHAL_ERROR_INVALID_ARGUMENT, "size is 0");
  ck_assert_status_msg(xhal_pool_alloc_async(g_pool, g_stream, 64, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_buffer is NULL");
  ck_assert_status_msg(
      xhal_pool_alloc_async(g_pool, g_stream, props.max_alloc_bytes + 1, &out),
      XHAL_ERROR_OUT_OF_RANGE, "max_alloc_bytes");
  ck_assert_ptr_null(out);

  /* Buffers the pool did not hand out. */
  xhal_buffer_t plain;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &plain), XHAL_OK);
  ck_assert_status_msg(xhal_pool_free_async(g_pool, g_stream, plain),
                       XHAL_ERROR_INVALID_ARGUMENT, "not allocated from");
  xhal_buffer_t a = alloc_on(g_pool, g_stream, 4096);
  xhal_buffer_t part;
  ck_assert_int_eq(xhal_buffer_subrange(a, 0, 16, &part), XHAL_OK);
  ck_assert_status_msg(xhal_pool_free_async(g_pool, g_stream, part),
                       XHAL_ERROR_INVALID_ARGUMENT, "not allocated from");
  xhal_pool_t other_pool = make_pool(0);
  ck_assert_status_msg(xhal_pool_free_async(other_pool, g_stream, a),
                       XHAL_ERROR_INVALID_ARGUMENT, "not allocated from");
  ck_assert_status_msg(xhal_pool_free_async(g_pool, g_stream, NULL),
                       XHAL_ERROR_INVALID_HANDLE, "buffer is NULL");

  /* A stream of another device (a second instance's CPU device). */
  xhal_device_t foreign_device;
  xhal_instance_t foreign = test_cpu_instance(&foreign_device);
  xhal_stream_t foreign_stream;
  ck_assert_int_eq(xhal_stream_create(foreign_device, &foreign_stream),
                   XHAL_OK);
  ck_assert_status_msg(xhal_pool_alloc_async(g_pool, foreign_stream, 64, &out),
                       XHAL_ERROR_INVALID_ARGUMENT, "stream is on device");
  ck_assert_status_msg(xhal_pool_free_async(g_pool, foreign_stream, a),
                       XHAL_ERROR_INVALID_ARGUMENT, "stream is on device");

  /* Freed twice. */
  free_on(g_pool, g_stream, a);
  ck_assert_status_msg(xhal_pool_free_async(g_pool, g_stream, a),
                       XHAL_ERROR_INVALID_STATE, "already freed");
  /* Freed twice while the program holds a second reference: the pool
   * drops that view at the first free, and the second is still
   * recognised as a second free, before and after the block's reuse. */
  xhal_buffer_t held = alloc_on(g_pool, g_stream, 512);
  xhal_buffer_retain(held);
  free_on(g_pool, g_stream, held);
  ck_assert_status_msg(xhal_pool_free_async(g_pool, g_stream, held),
                       XHAL_ERROR_INVALID_STATE, "already freed");
  xhal_buffer_t reuse = alloc_on(g_pool, g_stream, 512);
  ck_assert_ptr_ne(reuse, held);
  ck_assert_status_msg(xhal_pool_free_async(g_pool, g_stream, held),
                       XHAL_ERROR_INVALID_STATE, "already freed");
  free_on(g_pool, g_stream, reuse);
  xhal_buffer_release(held);

  /* A released pool. */
  xhal_pool_release(other_pool);
  ck_assert_status_msg(xhal_pool_alloc_async(other_pool, g_stream, 64, &out),
                       XHAL_ERROR_INVALID_HANDLE, "already released");

  xhal_buffer_release(part);
  xhal_buffer_release(plain);
  xhal_stream_release(foreign_stream);
  xhal_instance_release(foreign);
}
END_TEST

/* With the validation layer, a handle used after its free is reported as
 * released instead of silently naming the block's next allocation. */
START_TEST(test_validation_catches_stale_views) {
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  options.validation = 1;
  xhal_instance_t instance;
  xhal_device_t device;
  xhal_stream_t stream;
  xhal_pool_t pool;
  ck_assert_int_eq(xhal_instance_create(&options, &instance), XHAL_OK);
  ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_pool_create(device, NULL, &pool), XHAL_OK);
  xhal_buffer_t a = alloc_on(pool, stream, 512);
  free_on(pool, stream, a);
  uint64_t size;
  ck_assert_status_msg(xhal_buffer_size(a, &size), XHAL_ERROR_VALIDATION,
                       "already released");
  ck_assert_status_msg(xhal_pool_free_async(pool, stream, a),
                       XHAL_ERROR_VALIDATION, "already released");
  xhal_buffer_t b = alloc_on(pool, stream, 512);
  ck_assert_uint_eq(stats_of(pool).hits, 1);
  free_on(pool, stream, b);
  xhal_pool_release(pool);
  xhal_stream_release(stream);
  xhal_instance_release(instance);
}
END_TEST

/* A view someone still holds after its free is not handed out again. */
START_TEST(test_retained_view_is_not_reused) {
  xhal_buffer_t a = alloc_on(g_pool, g_stream, 2048);
  void* first = address_of(a);
  xhal_buffer_retain(a);
  free_on(g_pool, g_stream, a);
  xhal_buffer_t b = alloc_on(g_pool, g_stream, 2048);
  ck_assert_ptr_eq(address_of(b), first); /* same block */
  ck_assert_ptr_ne(b, a);                 /* another handle */
  uint64_t size;
  ck_assert_int_eq(xhal_buffer_size(a, &size), XHAL_OK);
  xhal_buffer_release(a);
  free_on(g_pool, g_stream, b);
}
END_TEST

/* Releasing the pool leaves live allocations usable; releasing a stream
 * the pool still tracks is safe. */
START_TEST(test_lifetimes) {
  enum { kSize = 5000 };
  uint8_t src[kSize], back[kSize];
  memset(src, 0x5A, sizeof(src));
  memset(back, 0, sizeof(back));
  xhal_pool_t pool = make_pool(0);
  xhal_stream_t temp;
  ck_assert_int_eq(xhal_stream_create(g_device, &temp), XHAL_OK);
  xhal_buffer_t t = alloc_on(pool, temp, 1 * MIB);
  void* first = address_of(t);
  free_on(pool, temp, t);
  ck_assert_int_eq(xhal_stream_synchronize(temp), XHAL_OK);
  xhal_stream_release(temp);
  xhal_buffer_t reused = alloc_on(pool, g_stream, 1 * MIB);
  ck_assert_ptr_eq(address_of(reused), first);

  xhal_buffer_t live = alloc_on(pool, g_stream, kSize);
  xhal_pool_release(pool);
  ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, live, 0, src, kSize),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, live, 0, back, kSize),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_mem_eq(src, back, kSize);
  xhal_buffer_release(live);
  xhal_buffer_release(reused);
}
END_TEST

/* Threads, each on its own stream, allocate, fill, check and free. */
typedef struct worker {
  xhal_stream_t stream;
  int failures;
  uint64_t allocations;
} worker_t;

static void* worker_main(void* arg) {
  static const uint64_t sizes[] = {300, 5000, 70000, 1 * MIB, 9 * MIB};
  worker_t* w = arg;
  uint8_t* back = malloc(9 * MIB);
  for (uint32_t i = 0; i < 300; ++i) {
    uint64_t size = sizes[i % 5];
    uint8_t value = (uint8_t)(i + 1);
    xhal_buffer_t buffer = NULL;
    if (xhal_pool_alloc_async(g_pool, w->stream, size, &buffer) != XHAL_OK ||
        xhal_stream_enqueue_fill(w->stream, buffer, 0, size, &value, 1) !=
            XHAL_OK ||
        xhal_stream_enqueue_read(w->stream, buffer, 0, back, size) != XHAL_OK ||
        xhal_pool_free_async(g_pool, w->stream, buffer) != XHAL_OK ||
        xhal_stream_synchronize(w->stream) != XHAL_OK) {
      w->failures++;
      continue;
    }
    w->allocations++;
    if (back[0] != value || back[size - 1] != value) w->failures++;
  }
  free(back);
  return NULL;
}

START_TEST(test_threads) {
  worker_t workers[3];
  pthread_t threads[3];
  memset(workers, 0, sizeof(workers));
  for (int i = 0; i < 3; ++i) {
    ck_assert_int_eq(xhal_stream_create(g_device, &workers[i].stream), XHAL_OK);
    ck_assert_int_eq(
        pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
  }
  uint64_t total = 0;
  for (int i = 0; i < 3; ++i) {
    pthread_join(threads[i], NULL);
    ck_assert_int_eq(workers[i].failures, 0);
    total += workers[i].allocations;
    xhal_stream_release(workers[i].stream);
  }
  xhal_pool_stats_t stats = stats_of(g_pool);
  ck_assert_uint_eq(stats.hits + stats.misses, total);
  ck_assert_uint_eq(stats.used_bytes, 0);
  ck_assert_uint_gt(stats.hits, stats.misses);
}
END_TEST

static Suite* mem_pool_suite(void) {
  Suite* s = suite_create("mem_pool");
  TCase* tc = tcase_create("pool");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_options_and_create);
  tcase_add_test(tc, test_reuse_counts_hits);
  tcase_add_test(tc, test_data_round_trip);
  tcase_add_test(tc, test_same_stream_reuse_is_immediate);
  tcase_add_test(tc, test_cross_stream_waits_for_the_free);
  tcase_add_test(tc, test_exhaustion_then_recovery);
  tcase_add_test(tc, test_trim_keeps_bytes);
  tcase_add_test(tc, test_stats);
  tcase_add_test(tc, test_large_blocks);
  tcase_add_test(tc, test_bad_arguments);
  tcase_add_test(tc, test_validation_catches_stale_views);
  tcase_add_test(tc, test_retained_view_is_not_reused);
  tcase_add_test(tc, test_lifetimes);
  tcase_add_test(tc, test_threads);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* runner = srunner_create(mem_pool_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
