/*
 * host_memory_test.c - xhal_host_alloc / xhal_host_free: libxhal's own
 * memory on the CPU plugin (no XHAL_CAP_HOST_ALLOC), the plugin's memory
 * on a plugin that has the entries (faulty_none), and a plugin whose
 * allocations break the ABI (misaligned, overlapping) answered with
 * XHAL_ERROR_INTERNAL instead of being handed to the program.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static xhal_instance_t g_instance;
static xhal_device_t g_device;

static void setup(void) { g_instance = test_cpu_instance(&g_device); }
static void teardown(void) { xhal_instance_release(g_instance); }

static xhal_instance_t plugin_instance(const char* path,
                                       xhal_device_t* out_device) {
  const char* const paths[] = {path};
  xhal_instance_t instance = test_instance_on(paths, 1);
  ck_assert_int_eq(xhal_instance_device(instance, 0, out_device), XHAL_OK);
  return instance;
}

/* Host allocation -> device -> host allocation, every byte compared. */
static void roundtrip(xhal_device_t device, uint64_t size) {
  uint8_t* a = NULL;
  uint8_t* b = NULL;
  ck_assert_int_eq(xhal_host_alloc(device, size, (void**)&a), XHAL_OK);
  ck_assert_int_eq(xhal_host_alloc(device, size, (void**)&b), XHAL_OK);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq((uintptr_t)a % 64, 0);
  ck_assert_uint_eq((uintptr_t)b % 64, 0);
  ck_assert(a + size <= b || b + size <= a);
  for (uint64_t i = 0; i < size; ++i) a[i] = (uint8_t)(i * 7 + 3);
  memset(b, 0, size);
  xhal_buffer_t buffer;
  xhal_stream_t stream;
  ck_assert_int_eq(xhal_buffer_alloc(device, size, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(device, &stream), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, buffer, 0, a, size),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(stream, buffer, 0, b, size),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(stream), XHAL_OK);
  ck_assert_int_eq(memcmp(a, b, size), 0);
  xhal_stream_release(stream);
  xhal_buffer_release(buffer);
  ck_assert_int_eq(xhal_host_free(device, a), XHAL_OK);
  ck_assert_int_eq(xhal_host_free(device, b), XHAL_OK);
}

START_TEST(test_fallback_memory) {
  xhal_device_properties_t props;
  ck_assert_int_eq(xhal_device_properties(g_device, &props), XHAL_OK);
  ck_assert(!(props.capabilities & XHAL_CAP_HOST_ALLOC));
  /* libxhal's own memory is page-aligned. */
  void* p = NULL;
  ck_assert_int_eq(xhal_host_alloc(g_device, 1, &p), XHAL_OK);
  ck_assert_uint_eq((uintptr_t)p % 4096, 0);
  ck_assert_int_eq(xhal_host_free(g_device, p), XHAL_OK);
  roundtrip(g_device, 1);
  roundtrip(g_device, (1u << 20) + 3);
}
END_TEST

START_TEST(test_bad_input) {
  void* p = (void*)0x1;
  ck_assert_status_msg(xhal_host_alloc(g_device, 0, &p),
                       XHAL_ERROR_INVALID_ARGUMENT, "size is 0");
  ck_assert_ptr_null(p);
  ck_assert_status_msg(xhal_host_alloc(g_device, 64, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_ptr");
  ck_assert_status_msg(xhal_host_alloc(NULL, 64, &p), XHAL_ERROR_INVALID_HANDLE,
                       "device");
  ck_assert_status_msg(xhal_host_alloc(g_device, UINT64_MAX, &p),
                       XHAL_ERROR_OUT_OF_RANGE, "address");
  ck_assert_status_msg(xhal_host_free(NULL, p), XHAL_ERROR_INVALID_HANDLE,
                       "device");
  /* Pointers that are not live allocations of this device. */
  int on_stack = 0;
  ck_assert_status_msg(xhal_host_free(g_device, &on_stack),
                       XHAL_ERROR_INVALID_ARGUMENT, "not a live");
  void* live = NULL;
  ck_assert_int_eq(xhal_host_alloc(g_device, 256, &live), XHAL_OK);
  ck_assert_status_msg(xhal_host_free(g_device, (char*)live + 1),
                       XHAL_ERROR_INVALID_ARGUMENT, "not a live");
  ck_assert_int_eq(xhal_host_free(g_device, NULL), XHAL_OK);
  ck_assert_int_eq(xhal_host_free(g_device, live), XHAL_OK);
  ck_assert_status_msg(xhal_host_free(g_device, live),
                       XHAL_ERROR_INVALID_ARGUMENT, "freed already");
}
END_TEST

/* Another instance's device does not free this one's memory. */
START_TEST(test_free_on_other_device) {
  xhal_device_t other_device;
  xhal_instance_t other = test_cpu_instance(&other_device);
  void* p = NULL;
  ck_assert_int_eq(xhal_host_alloc(g_device, 128, &p), XHAL_OK);
  ck_assert_status_msg(xhal_host_free(other_device, p),
                       XHAL_ERROR_INVALID_ARGUMENT, "not a live");
  memset(p, 0xAB, 128); /* still ours */
  ck_assert_int_eq(xhal_host_free(g_device, p), XHAL_OK);
  xhal_instance_release(other);
}
END_TEST

/* Allocations the program never frees go with the instance (ASan's leak
 * check fails this test otherwise). */
START_TEST(test_instance_frees_leftovers) {
  xhal_device_t device;
  xhal_instance_t instance = test_cpu_instance(&device);
  for (int i = 0; i < 4; ++i) {
    void* p = NULL;
    ck_assert_int_eq(xhal_host_alloc(device, 4096u << i, &p), XHAL_OK);
  }
  xhal_instance_release(instance);
}
END_TEST

START_TEST(test_plugin_memory) {
  xhal_device_t device;
  xhal_instance_t instance = plugin_instance(XHAL_FAULTY_NONE_PATH, &device);
  xhal_device_properties_t props;
  ck_assert_int_eq(xhal_device_properties(device, &props), XHAL_OK);
  ck_assert(props.capabilities & XHAL_CAP_HOST_ALLOC);
  roundtrip(device, 1);
  roundtrip(device, 65537);
  ck_assert_status_msg(
      xhal_host_alloc(device, props.max_alloc_bytes + 1, &(void*){NULL}),
      XHAL_ERROR_OUT_OF_RANGE, "max_alloc_bytes");
  void* left = NULL;
  ck_assert_int_eq(xhal_host_alloc(device, 100, &left), XHAL_OK);
  xhal_instance_release(instance); /* frees `left` through the plugin */
}
END_TEST

START_TEST(test_plugin_misaligned) {
  xhal_device_t device;
  xhal_instance_t instance =
      plugin_instance(XHAL_FAULTY_MISALIGNED_PATH, &device);
  void* p = (void*)0x1;
  ck_assert_status_msg(xhal_host_alloc(device, 64, &p), XHAL_ERROR_INTERNAL,
                       "misaligned");
  ck_assert_ptr_null(p);
  xhal_instance_release(instance);
}
END_TEST

START_TEST(test_plugin_overlap) {
  xhal_device_t device;
  xhal_instance_t instance = plugin_instance(XHAL_FAULTY_OVERLAP_PATH, &device);
  void* a = NULL;
  void* b = (void*)0x1;
  ck_assert_int_eq(xhal_host_alloc(device, 64, &a), XHAL_OK);
  ck_assert_status_msg(xhal_host_alloc(device, 64, &b), XHAL_ERROR_INTERNAL,
                       "overlapping the live allocation");
  ck_assert_ptr_null(b);
  ck_assert_int_eq(xhal_host_free(device, a), XHAL_OK);
  xhal_instance_release(instance);
}
END_TEST

int main(void) {
  Suite* s = suite_create("host_memory");
  TCase* tc = tcase_create("host_memory");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_fallback_memory);
  tcase_add_test(tc, test_bad_input);
  tcase_add_test(tc, test_free_on_other_device);
  tcase_add_test(tc, test_instance_frees_leftovers);
  tcase_add_test(tc, test_plugin_memory);
  tcase_add_test(tc, test_plugin_misaligned);
  tcase_add_test(tc, test_plugin_overlap);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
