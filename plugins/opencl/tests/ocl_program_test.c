/*
 * ocl_program_test.c - custom OpenCL C programs through libxhal: build
 * failures and their log, kernel lookup, launches with buffer, scalar and
 * local arguments, buffer arguments at offsets, launches from several
 * threads, and the on-disk program cache (hits, corrupt entries, off).
 */
#define _GNU_SOURCE

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xhal/xhal.h>

#include "ocl_test_util.h"

static xhal_instance_t g_inst;
static xhal_device_t g_dev;

static void setup(void) {
  /* The cache tests look at this directory, whatever the caller set. */
  setenv("XHAL_OPENCL_CACHE_DIR", XHAL_OPENCL_TEST_CACHE, 1);
  g_inst = ocl_test_instance();
  g_dev = ocl_test_device(g_inst);
}

static void teardown(void) { xhal_instance_release(g_inst); }

static const char kSource[] =
    "__kernel void axpy(float a, __global const float* x,\n"
    "                   __global float* y, uint n) {\n"
    "  size_t i = get_global_id(0);\n"
    "  if (i < n) y[i] = a * x[i] + y[i];\n"
    "}\n"
    "/* Sums each group's inputs through local memory. */\n"
    "__kernel void group_sum(__global const int* x, __global int* out,\n"
    "                        __local int* scratch) {\n"
    "  size_t l = get_local_id(0);\n"
    "  scratch[l] = x[get_global_id(0)];\n"
    "  barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  if (l == 0) {\n"
    "    int s = 0;\n"
    "    for (size_t i = 0; i < get_local_size(0); ++i) s += scratch[i];\n"
    "    out[get_group_id(0)] = s;\n"
    "  }\n"
    "}\n";

static xhal_program_t build(xhal_device_t dev, const char* source,
                            const char* options) {
  xhal_program_desc_t desc;
  xhal_program_t p = NULL;
  char log[4096];
  xhal_status_t st;
  xhal_program_desc_default(&desc);
  desc.source = source;
  desc.options = options;
  desc.log = log;
  desc.log_capacity = sizeof(log);
  st = xhal_program_build(dev, &desc, &p);
  ck_assert_msg(st == XHAL_OK, "build: %s: %s\n%s", xhal_status_name(st),
                xhal_last_error(), log);
  return p;
}

static xhal_kernel_t kernel(xhal_program_t p, const char* name) {
  xhal_kernel_t k = NULL;
  ck_assert_msg(xhal_kernel_create(p, name, &k) == XHAL_OK, "%s",
                xhal_last_error());
  return k;
}

static xhal_kernel_arg_t buf_arg(xhal_buffer_t b) {
  xhal_kernel_arg_t a;
  memset(&a, 0, sizeof(a));
  a.kind = XHAL_KERNEL_ARG_BUFFER;
  a.buffer = b;
  return a;
}

static xhal_kernel_arg_t scalar_arg(const void* value, uint32_t size) {
  xhal_kernel_arg_t a;
  memset(&a, 0, sizeof(a));
  a.kind = XHAL_KERNEL_ARG_SCALAR;
  a.value = value;
  a.size = size;
  return a;
}

static xhal_launch_t launch_1d(uint64_t global, uint64_t local) {
  xhal_launch_t l;
  memset(&l, 0, sizeof(l));
  l.struct_size = (uint32_t)sizeof(l);
  l.work_dim = 1;
  l.global_size[0] = global;
  l.local_size[0] = local;
  return l;
}

/* Runs axpy(a, x, y, n) on the given (possibly sub-range) buffers. */
static xhal_status_t run_axpy(xhal_stream_t s, xhal_kernel_t k, float a,
                              xhal_buffer_t x, xhal_buffer_t y, uint32_t n) {
  xhal_kernel_arg_t args[4];
  xhal_launch_t l = launch_1d(n, 0);
  args[0] = scalar_arg(&a, sizeof(a));
  args[1] = buf_arg(x);
  args[2] = buf_arg(y);
  args[3] = scalar_arg(&n, sizeof(n));
  return xhal_stream_enqueue_kernel(s, k, &l, args, 4);
}

/* -------------------------------------------------------------- builds */

START_TEST(test_build_failure_log) {
  xhal_program_desc_t desc;
  xhal_program_t p = NULL;
  char log[4096];
  xhal_program_desc_default(&desc);
  desc.source = "__kernel void broken(__global float* x) { x[0] = y; }\n";
  desc.log = log;
  desc.log_capacity = sizeof(log);
  ocl_assert_status(xhal_program_build(g_dev, &desc, &p),
                    XHAL_ERROR_BUILD_FAILED);
  ck_assert_ptr_null(p);
  ck_assert_msg(strlen(log) > 0, "empty build log");
  ck_assert_msg(strstr(log, "error") != NULL, "log lacks 'error': %s", log);
  ck_assert_msg(strstr(xhal_last_error(), "CL_BUILD_PROGRAM_FAILURE") != NULL,
                "message: %s", xhal_last_error());
  /* A tiny log buffer is filled and terminated, not overrun. */
  memset(log, 'x', sizeof(log));
  desc.log_capacity = 8;
  ocl_assert_status(xhal_program_build(g_dev, &desc, &p),
                    XHAL_ERROR_BUILD_FAILED);
  ck_assert_uint_eq(strlen(log), 7);
  ck_assert_int_eq(log[8], 'x');
}
END_TEST

START_TEST(test_build_bad_options) {
  xhal_program_desc_t desc;
  xhal_program_t p = NULL;
  xhal_program_desc_default(&desc);
  desc.source = kSource;
  desc.options = "-this-is-not-an-option";
  ocl_assert_status(xhal_program_build(g_dev, &desc, &p),
                    XHAL_ERROR_BUILD_FAILED);
}
END_TEST

START_TEST(test_kernel_not_found) {
  xhal_program_t p = build(g_dev, kSource, NULL);
  xhal_kernel_t k = NULL;
  ocl_assert_status(xhal_kernel_create(p, "no_such_kernel", &k),
                    XHAL_ERROR_NOT_FOUND);
  ck_assert_ptr_null(k);
  xhal_program_release(p);
}
END_TEST

/* ------------------------------------------------------------- launches */

START_TEST(test_launch_axpy) {
  enum { kN = 1000 };
  xhal_program_t p = build(g_dev, kSource, "-cl-mad-enable");
  xhal_kernel_t k = kernel(p, "axpy");
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_buffer_t x = ocl_test_buffer(g_dev, kN * 4, 0);
  xhal_buffer_t y = ocl_test_buffer(g_dev, kN * 4, 0);
  float hx[kN];
  float hy[kN];
  int i;
  for (i = 0; i < kN; ++i) {
    hx[i] = (float)i;
    hy[i] = 1.0f;
  }
  ck_assert_int_eq(xhal_stream_enqueue_write(s, x, 0, hx, sizeof(hx)), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, y, 0, hy, sizeof(hy)), XHAL_OK);
  ck_assert_msg(run_axpy(s, k, 2.0f, x, y, kN) == XHAL_OK, "%s",
                xhal_last_error());
  ck_assert_int_eq(xhal_stream_enqueue_read(s, y, 0, hy, sizeof(hy)), XHAL_OK);
  ocl_test_sync(s);
  for (i = 0; i < kN; ++i) ck_assert_float_eq(hy[i], 2.0f * (float)i + 1.0f);
  xhal_kernel_release(k);
  xhal_program_release(p);
  xhal_buffer_release(x);
  xhal_buffer_release(y);
  xhal_stream_release(s);
}
END_TEST

START_TEST(test_launch_local_memory) {
  enum { kGroups = 8, kLocal = 16 };
  xhal_program_t p = build(g_dev, kSource, NULL);
  xhal_kernel_t k = kernel(p, "group_sum");
  xhal_stream_t s = ocl_test_stream(g_dev);
  xhal_buffer_t x = ocl_test_buffer(g_dev, kGroups * kLocal * 4, 0);
  xhal_buffer_t out = ocl_test_buffer(g_dev, kGroups * 4, 0);
  int32_t hx[kGroups * kLocal];
  int32_t sums[kGroups];
  xhal_kernel_arg_t args[3];
  xhal_launch_t l = launch_1d(kGroups * kLocal, kLocal);
  int i;
  for (i = 0; i < kGroups * kLocal; ++i) hx[i] = i;
  ck_assert_int_eq(xhal_stream_enqueue_write(s, x, 0, hx, sizeof(hx)), XHAL_OK);
  args[0] = buf_arg(x);
  args[1] = buf_arg(out);
  memset(&args[2], 0, sizeof(args[2]));
  args[2].kind = XHAL_KERNEL_ARG_LOCAL;
  args[2].size = kLocal * 4;
  ck_assert_msg(xhal_stream_enqueue_kernel(s, k, &l, args, 3) == XHAL_OK, "%s",
                xhal_last_error());
  ck_assert_int_eq(xhal_stream_enqueue_read(s, out, 0, sums, sizeof(sums)),
                   XHAL_OK);
  ocl_test_sync(s);
  for (i = 0; i < kGroups; ++i) {
    int32_t want = 0;
    int j;
    for (j = 0; j < kLocal; ++j) want += i * kLocal + j;
    ck_assert_int_eq(sums[i], want);
  }
  /* Wrong argument count and a local size that does not divide. */
  ocl_assert_status(xhal_stream_enqueue_kernel(s, k, &l, args, 2),
                    XHAL_ERROR_INVALID_ARGUMENT);
  l.local_size[0] = 3;
  ocl_assert_status(xhal_stream_enqueue_kernel(s, k, &l, args, 3),
                    XHAL_ERROR_INVALID_ARGUMENT);
  xhal_kernel_release(k);
  xhal_program_release(p);
  xhal_buffer_release(x);
  xhal_buffer_release(out);
  xhal_stream_release(s);
}
END_TEST

/* A sub-range starting at a multiple of the device alignment binds as a
 * sub-buffer; other offsets are refused with a clear status. */
START_TEST(test_launch_subrange) {
  xhal_device_properties_t props;
  xhal_program_t p = build(g_dev, kSource, NULL);
  xhal_kernel_t k = kernel(p, "axpy");
  xhal_stream_t s = ocl_test_stream(g_dev);
  uint64_t align;
  uint32_t n = 64;
  xhal_buffer_t x;
  xhal_buffer_t y;
  xhal_buffer_t yv = NULL;
  xhal_buffer_t bad = NULL;
  float ones[64];
  float* hy;
  uint64_t total;
  uint64_t i;
  ck_assert_int_eq(xhal_device_properties(g_dev, &props), XHAL_OK);
  align = props.alignment;
  total = align * 2 + n * 4;
  hy = calloc(1, (size_t)total);
  ck_assert_ptr_nonnull(hy);
  x = ocl_test_buffer(g_dev, n * 4, 0);
  y = ocl_test_buffer(g_dev, total, 0);
  for (i = 0; i < n; ++i) ones[i] = 1.0f;
  ck_assert_int_eq(xhal_stream_enqueue_write(s, x, 0, ones, sizeof(ones)),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_fill(s, y, 0, total, "\0\0\0\0", 4),
                   XHAL_OK);
  ck_assert_int_eq(xhal_buffer_subrange(y, align, n * 4, &yv), XHAL_OK);
  /* Twice: the second launch reuses the cached sub-buffer. */
  ck_assert_msg(run_axpy(s, k, 3.0f, x, yv, n) == XHAL_OK, "%s",
                xhal_last_error());
  ck_assert_msg(run_axpy(s, k, 3.0f, x, yv, n) == XHAL_OK, "%s",
                xhal_last_error());
  ck_assert_int_eq(xhal_stream_enqueue_read(s, y, 0, hy, total), XHAL_OK);
  ocl_test_sync(s);
  for (i = 0; i < total / 4; ++i) {
    float want = (i >= align / 4 && i < align / 4 + n) ? 6.0f : 0.0f;
    ck_assert_msg(hy[i] == want, "y[%llu] = %g, want %g", (unsigned long long)i,
                  (double)hy[i], (double)want);
  }
  if (align > 4) {
    ck_assert_int_eq(xhal_buffer_subrange(y, 4, n * 4, &bad), XHAL_OK);
    ocl_assert_status(run_axpy(s, k, 3.0f, x, bad, n),
                      XHAL_ERROR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(xhal_last_error(), "alignment") != NULL, "%s",
                  xhal_last_error());
    xhal_buffer_release(bad);
  }
  free(hy);
  xhal_buffer_release(yv);
  xhal_buffer_release(x);
  xhal_buffer_release(y);
  xhal_kernel_release(k);
  xhal_program_release(p);
  xhal_stream_release(s);
}
END_TEST

/* Threads launching one kernel object with different arguments never
 * see each other's arguments. */
typedef struct launch_worker {
  xhal_device_t dev;
  xhal_kernel_t kernel;
  float a;
  int ok;
} launch_worker_t;

static void* launch_thread(void* arg) {
  launch_worker_t* w = arg;
  enum { kN = 256 };
  float hx[kN];
  float hy[kN];
  xhal_stream_t s = NULL;
  xhal_buffer_t x = NULL;
  xhal_buffer_t y = NULL;
  int iter;
  int i;
  w->ok = 0;
  if (xhal_stream_create(w->dev, &s) != XHAL_OK ||
      xhal_buffer_alloc(w->dev, sizeof(hx), 0, &x) != XHAL_OK ||
      xhal_buffer_alloc(w->dev, sizeof(hy), 0, &y) != XHAL_OK)
    return NULL;
  for (i = 0; i < kN; ++i) hx[i] = 1.0f;
  for (iter = 0; iter < 40; ++iter) {
    memset(hy, 0, sizeof(hy));
    if (xhal_stream_enqueue_write(s, x, 0, hx, sizeof(hx)) != XHAL_OK ||
        xhal_stream_enqueue_write(s, y, 0, hy, sizeof(hy)) != XHAL_OK ||
        run_axpy(s, w->kernel, w->a, x, y, kN) != XHAL_OK ||
        xhal_stream_enqueue_read(s, y, 0, hy, sizeof(hy)) != XHAL_OK ||
        xhal_stream_synchronize(s) != XHAL_OK)
      return NULL;
    for (i = 0; i < kN; ++i)
      if (hy[i] != w->a) return NULL;
  }
  xhal_buffer_release(x);
  xhal_buffer_release(y);
  xhal_stream_release(s);
  w->ok = 1;
  return NULL;
}

START_TEST(test_launch_threads) {
  xhal_program_t p = build(g_dev, kSource, NULL);
  xhal_kernel_t k = kernel(p, "axpy");
  pthread_t th[4];
  launch_worker_t w[4];
  int i;
  for (i = 0; i < 4; ++i) {
    w[i].dev = g_dev;
    w[i].kernel = k;
    w[i].a = (float)(i + 2);
    ck_assert_int_eq(pthread_create(&th[i], NULL, launch_thread, &w[i]), 0);
  }
  for (i = 0; i < 4; ++i) {
    pthread_join(th[i], NULL);
    ck_assert_msg(w[i].ok, "thread %d saw wrong results", i);
  }
  xhal_kernel_release(k);
  xhal_program_release(p);
}
END_TEST

/* ---------------------------------------------------------- disk cache */

static int count_entries(const char* dir) {
  DIR* d = opendir(dir);
  struct dirent* e;
  int n = 0;
  if (d == NULL) return 0;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len > 4 && strcmp(e->d_name + len - 4, ".bin") == 0) ++n;
  }
  closedir(d);
  return n;
}

/* The newest entry of the cache directory (a fresh build's). */
static void newest_entry(const char* dir, char* out, size_t cap) {
  DIR* d = opendir(dir);
  struct dirent* e;
  struct timespec best = {0, 0};
  out[0] = '\0';
  ck_assert_ptr_nonnull(d);
  while ((e = readdir(d)) != NULL) {
    char path[1024];
    struct stat st;
    size_t len = strlen(e->d_name);
    if (len <= 4 || strcmp(e->d_name + len - 4, ".bin") != 0) continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (stat(path, &st) != 0) continue;
    if (st.st_mtim.tv_sec > best.tv_sec ||
        (st.st_mtim.tv_sec == best.tv_sec &&
         st.st_mtim.tv_nsec > best.tv_nsec)) {
      best = st.st_mtim;
      snprintf(out, cap, "%s", path);
    }
  }
  closedir(d);
}

/* A source no earlier run has built, so the test sees a cache miss. */
static void unique_source(char* out, size_t cap) {
  snprintf(out, cap, "/* %ld-%ld */\n%s", (long)getpid(),
           (long)ocl_test_now_ns(), kSource);
}

/* Checks that a program built from `source` computes axpy correctly. */
static void check_program_works(xhal_device_t dev, const char* source) {
  xhal_program_t p = build(dev, source, NULL);
  xhal_kernel_t k = kernel(p, "axpy");
  xhal_stream_t s = ocl_test_stream(dev);
  xhal_buffer_t x = ocl_test_buffer(dev, 16, 0);
  xhal_buffer_t y = ocl_test_buffer(dev, 16, 0);
  float v[4] = {1, 2, 3, 4};
  float z[4] = {0, 0, 0, 0};
  int i;
  ck_assert_int_eq(xhal_stream_enqueue_write(s, x, 0, v, 16), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, y, 0, z, 16), XHAL_OK);
  ck_assert_int_eq(run_axpy(s, k, 2.0f, x, y, 4), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(s, y, 0, z, 16), XHAL_OK);
  ocl_test_sync(s);
  for (i = 0; i < 4; ++i) ck_assert_float_eq(z[i], 2.0f * v[i]);
  xhal_buffer_release(x);
  xhal_buffer_release(y);
  xhal_stream_release(s);
  xhal_kernel_release(k);
  xhal_program_release(p);
}

START_TEST(test_cache_entry_and_corruption) {
  char source[2048];
  char entry[1024];
  int before = count_entries(XHAL_OPENCL_TEST_CACHE);
  int fd;
  unique_source(source, sizeof(source));
  check_program_works(g_dev, source);
  ck_assert_int_eq(count_entries(XHAL_OPENCL_TEST_CACHE), before + 1);
  newest_entry(XHAL_OPENCL_TEST_CACHE, entry, sizeof(entry));
  /* A hit in a new instance. */
  {
    xhal_instance_t other = ocl_test_instance();
    check_program_works(ocl_test_device(other), source);
    xhal_instance_release(other);
  }
  ck_assert_int_eq(count_entries(XHAL_OPENCL_TEST_CACHE), before + 1);
  /* Flip bytes in the middle of the entry: the checksum catches it and
   * the program is rebuilt from source (and the entry rewritten). */
  fd = open(entry, O_WRONLY);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(pwrite(fd, "garbage!", 8, 200), 8);
  close(fd);
  {
    xhal_instance_t other = ocl_test_instance();
    check_program_works(ocl_test_device(other), source);
    xhal_instance_release(other);
  }
  /* A truncated entry is handled the same way. */
  ck_assert_int_eq(truncate(entry, 20), 0);
  {
    xhal_instance_t other = ocl_test_instance();
    check_program_works(ocl_test_device(other), source);
    xhal_instance_release(other);
  }
  ck_assert_int_eq(count_entries(XHAL_OPENCL_TEST_CACHE), before + 1);
}
END_TEST

START_TEST(test_cache_disabled) {
  char source[2048];
  int before;
  xhal_instance_t other;
  unique_source(source, sizeof(source));
  setenv("XHAL_OPENCL_CACHE_DIR", "", 1);
  before = count_entries(XHAL_OPENCL_TEST_CACHE);
  other = ocl_test_instance();
  check_program_works(ocl_test_device(other), source);
  xhal_instance_release(other);
  ck_assert_int_eq(count_entries(XHAL_OPENCL_TEST_CACHE), before);
}
END_TEST

static Suite* program_suite(void) {
  Suite* s = suite_create("opencl_program");
  TCase* tc = tcase_create("program");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_build_failure_log);
  tcase_add_test(tc, test_build_bad_options);
  tcase_add_test(tc, test_kernel_not_found);
  tcase_add_test(tc, test_launch_axpy);
  tcase_add_test(tc, test_launch_local_memory);
  tcase_add_test(tc, test_launch_subrange);
  tcase_add_test(tc, test_launch_threads);
  tcase_add_test(tc, test_cache_entry_and_corruption);
  tcase_add_test(tc, test_cache_disabled);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(program_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
