/*
 * buffer_test.c - buffers and views through the CPU plugin: limits,
 * ranges, map/unmap, reference counting and stale handles.
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

START_TEST(test_alloc_rejects_bad_input) {
  xhal_buffer_t buffer = (xhal_buffer_t)0x1;
  ck_assert_status_msg(xhal_buffer_alloc(g_device, 0, 0, &buffer),
                       XHAL_ERROR_INVALID_ARGUMENT, "size is 0");
  ck_assert_ptr_null(buffer);
  ck_assert_status_msg(xhal_buffer_alloc(g_device, 16, 0x80, &buffer),
                       XHAL_ERROR_INVALID_ARGUMENT, "memory_flags");
  xhal_device_properties_t props;
  ck_assert_int_eq(xhal_device_properties(g_device, &props), XHAL_OK);
  ck_assert_status_msg(
      xhal_buffer_alloc(g_device, props.max_alloc_bytes + 1, 0, &buffer),
      XHAL_ERROR_OUT_OF_RANGE, "max_alloc_bytes");
  ck_assert_status_msg(xhal_buffer_alloc(g_device, UINT64_MAX, 0, &buffer),
                       XHAL_ERROR_OUT_OF_RANGE, "max_alloc_bytes");
  ck_assert_status_msg(xhal_buffer_alloc(NULL, 16, 0, &buffer),
                       XHAL_ERROR_INVALID_HANDLE, "device is NULL");
  ck_assert_status_msg(xhal_buffer_alloc(g_device, 16, 0, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_buffer");
  /* A handle of the wrong type is caught. */
  ck_assert_status_msg(
      xhal_buffer_alloc((xhal_device_t)(void*)g_instance, 16, 0, &buffer),
      XHAL_ERROR_INVALID_HANDLE, "not a live handle");
}
END_TEST

START_TEST(test_alignment_and_size) {
  xhal_device_properties_t props;
  ck_assert_int_eq(xhal_device_properties(g_device, &props), XHAL_OK);
  ck_assert_uint_gt(props.alignment, 0);
  ck_assert_uint_eq(props.alignment & (props.alignment - 1), 0);
  for (uint64_t size = 1; size < 5000; size = size * 3 + 1) {
    xhal_buffer_t buffer;
    ck_assert_int_eq(
        xhal_buffer_alloc(g_device, size, XHAL_MEMORY_HOST_VISIBLE, &buffer),
        XHAL_OK);
    uint64_t got = 0;
    ck_assert_int_eq(xhal_buffer_size(buffer, &got), XHAL_OK);
    ck_assert_uint_eq(got, size);
    void* ptr;
    ck_assert_int_eq(xhal_buffer_map(buffer, 0, size, XHAL_MAP_READ, &ptr),
                     XHAL_OK);
    ck_assert_uint_eq((uintptr_t)ptr % props.alignment, 0);
    ck_assert_int_eq(xhal_buffer_unmap(buffer, ptr), XHAL_OK);
    xhal_buffer_release(buffer);
  }
}
END_TEST

START_TEST(test_subrange_views) {
  xhal_buffer_t buffer, view, inner;
  ck_assert_int_eq(
      xhal_buffer_alloc(g_device, 1000, XHAL_MEMORY_HOST_VISIBLE, &buffer),
      XHAL_OK);
  ck_assert_status_msg(xhal_buffer_subrange(buffer, 900, 101, &view),
                       XHAL_ERROR_OUT_OF_RANGE, "past the buffer");
  ck_assert_status_msg(xhal_buffer_subrange(buffer, UINT64_MAX, 2, &view),
                       XHAL_ERROR_OUT_OF_RANGE, "past the buffer");
  ck_assert_status_msg(xhal_buffer_subrange(buffer, 10, 0, &view),
                       XHAL_ERROR_INVALID_ARGUMENT, "size is 0");
  ck_assert_int_eq(xhal_buffer_subrange(buffer, 100, 500, &view), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_subrange(view, 10, 20, &inner), XHAL_OK);
  /* The view keeps the allocation alive after the owner is released. */
  xhal_buffer_release(buffer);
  xhal_stream_t stream;
  ck_assert_int_eq(xhal_stream_create(g_device, &stream), XHAL_OK);
  uint8_t pattern = 0xAB;
  ck_assert_int_eq(xhal_stream_enqueue_fill(stream, view, 0, 500, &pattern, 1),
                   XHAL_OK);
  uint8_t seven = 7;
  ck_assert_int_eq(xhal_stream_enqueue_fill(stream, inner, 0, 20, &seven, 1),
                   XHAL_OK);
  uint8_t out[500];
  ck_assert_int_eq(xhal_stream_enqueue_read(stream, view, 0, out, 500),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(stream), XHAL_OK);
  for (int i = 0; i < 500; ++i) {
    ck_assert_uint_eq(out[i], (i >= 10 && i < 30) ? 7 : 0xAB);
  }
  /* Mapping a view maps the right bytes of the allocation. */
  uint8_t* ptr;
  ck_assert_int_eq(xhal_buffer_map(inner, 0, 20, XHAL_MAP_READ, (void**)&ptr),
                   XHAL_OK);
  ck_assert_uint_eq(ptr[0], 7);
  ck_assert_int_eq(xhal_buffer_unmap(inner, ptr), XHAL_OK);
  xhal_stream_release(stream);
  xhal_buffer_release(inner);
  xhal_buffer_release(view);
}
END_TEST

START_TEST(test_map_errors) {
  xhal_buffer_t local, visible;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 256, 0, &local), XHAL_OK);
  ck_assert_int_eq(
      xhal_buffer_alloc(g_device, 256, XHAL_MEMORY_HOST_VISIBLE, &visible),
      XHAL_OK);
  void* ptr;
  ck_assert_status_msg(xhal_buffer_map(local, 0, 16, XHAL_MAP_READ, &ptr),
                       XHAL_ERROR_UNSUPPORTED, "HOST_VISIBLE");
  ck_assert_status_msg(xhal_buffer_map(visible, 250, 7, XHAL_MAP_READ, &ptr),
                       XHAL_ERROR_OUT_OF_RANGE, "past the buffer");
  ck_assert_status_msg(xhal_buffer_map(visible, 0, 16, 0, &ptr),
                       XHAL_ERROR_INVALID_ARGUMENT, "map_flags");
  ck_assert_status_msg(xhal_buffer_unmap(visible, (void*)0x1000),
                       XHAL_ERROR_INVALID_STATE, "not a live mapping");
  ck_assert_int_eq(xhal_buffer_map(visible, 8, 16, XHAL_MAP_WRITE, &ptr),
                   XHAL_OK);
  memset(ptr, 0x5A, 16);
  ck_assert_int_eq(xhal_buffer_unmap(visible, ptr), XHAL_OK);
  ck_assert_status_msg(xhal_buffer_unmap(visible, ptr),
                       XHAL_ERROR_INVALID_STATE, "not a live mapping");
  xhal_buffer_release(local);
  xhal_buffer_release(visible);
}
END_TEST

START_TEST(test_released_handle_rejected) {
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &buffer), XHAL_OK);
  xhal_buffer_release(buffer);
  uint64_t size;
  ck_assert_status_msg(xhal_buffer_size(buffer, &size),
                       XHAL_ERROR_INVALID_HANDLE, "already released");
  xhal_stream_t stream;
  ck_assert_int_eq(xhal_stream_create(g_device, &stream), XHAL_OK);
  char data[8] = {0};
  ck_assert_status_msg(xhal_stream_enqueue_write(stream, buffer, 0, data, 8),
                       XHAL_ERROR_INVALID_HANDLE, "dst was already released");
  xhal_stream_release(stream);
  ck_assert_status_msg(xhal_stream_synchronize(stream),
                       XHAL_ERROR_INVALID_HANDLE, "already released");
  xhal_buffer_release(NULL); /* no-op */
}
END_TEST

START_TEST(test_retain_release_counts) {
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 64, 0, &buffer), XHAL_OK);
  xhal_buffer_retain(buffer);
  xhal_buffer_release(buffer);
  uint64_t size = 0;
  ck_assert_int_eq(xhal_buffer_size(buffer, &size), XHAL_OK);
  xhal_device_t device;
  ck_assert_int_eq(xhal_buffer_device(buffer, &device), XHAL_OK);
  ck_assert_ptr_eq(device, g_device);
  xhal_buffer_release(buffer);
  ck_assert_int_eq(xhal_buffer_size(buffer, &size), XHAL_ERROR_INVALID_HANDLE);
}
END_TEST

START_TEST(test_objects_outlive_instance_release) {
  /* Releasing the instance first is fine: objects keep it alive. */
  xhal_device_t device;
  xhal_instance_t instance = test_cpu_instance(&device);
  xhal_buffer_t buffer;
  xhal_stream_t stream;
  ck_assert_int_eq(xhal_buffer_alloc(device, 64, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(device, &stream), XHAL_OK);
  xhal_instance_release(instance);
  uint32_t word = 0xDEADBEEF, back = 0;
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, buffer, 4, &word, 4),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(stream, buffer, 4, &back, 4),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(stream), XHAL_OK);
  ck_assert_uint_eq(back, word);
  xhal_stream_release(stream);
  xhal_buffer_release(buffer);
}
END_TEST

int main(void) {
  Suite* s = suite_create("buffer");
  TCase* tc = tcase_create("buffer");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_alloc_rejects_bad_input);
  tcase_add_test(tc, test_alignment_and_size);
  tcase_add_test(tc, test_subrange_views);
  tcase_add_test(tc, test_map_errors);
  tcase_add_test(tc, test_released_handle_rejected);
  tcase_add_test(tc, test_retain_release_counts);
  tcase_add_test(tc, test_objects_outlive_instance_release);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
