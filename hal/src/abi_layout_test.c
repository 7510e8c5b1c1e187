/*
 * abi_layout_test.c - the ABI's layout is pinned: sizes and offsets of
 * every struct that crosses the plugin boundary. A change here breaks
 * every plugin built against ABI 1.0 (docs/abi.md, R-ABI-4).
 */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <xhal/xhal.h>
#include <xhal/xhal_plugin.h>

#define OFF(type, field) ((long)offsetof(type, field))

START_TEST(test_types_layout) {
  ck_assert_int_eq(sizeof(xhal_status_t), 4);
  ck_assert_int_eq(sizeof(xhal_dtype_t), 4);
  ck_assert_int_eq(sizeof(xhal_tensor_desc_t), 72);
  ck_assert_int_eq(OFF(xhal_tensor_desc_t, dims), 8);
  ck_assert_int_eq(sizeof(xhal_op_attrs_t), 88);
  ck_assert_int_eq(OFF(xhal_op_attrs_t, axis), 4);
  ck_assert_int_eq(OFF(xhal_op_attrs_t, alpha), 16);
  ck_assert_int_eq(OFF(xhal_op_attrs_t, epsilon), 24);
  ck_assert_int_eq(OFF(xhal_op_attrs_t, stride), 28);
  ck_assert_int_eq(OFF(xhal_op_attrs_t, groups), 52);
  ck_assert_int_eq(OFF(xhal_op_attrs_t, perm), 56);
  ck_assert_int_eq(sizeof(xhal_device_properties_t), 464);
  ck_assert_int_eq(OFF(xhal_device_properties_t, name), 8);
  ck_assert_int_eq(OFF(xhal_device_properties_t, uuid), 392);
  ck_assert_int_eq(OFF(xhal_device_properties_t, memory_bytes), 408);
  ck_assert_int_eq(OFF(xhal_device_properties_t, compute_units), 440);
  ck_assert_int_eq(OFF(xhal_device_properties_t, timer_denominator), 460);
}
END_TEST

START_TEST(test_plugin_structs_layout) {
  ck_assert_int_eq(sizeof(xhal_plugin_tensor_t), 88);
  ck_assert_int_eq(OFF(xhal_plugin_tensor_t, buffer), 72);
  ck_assert_int_eq(sizeof(xhal_plugin_op_call_t), 544);
  ck_assert_int_eq(OFF(xhal_plugin_op_call_t, inputs), 16);
  ck_assert_int_eq(OFF(xhal_plugin_op_call_t, outputs), 368);
  ck_assert_int_eq(OFF(xhal_plugin_op_call_t, attrs), 456);
  /* ABI 1.4 appended `limits`; the 1.0 fields keep their offsets. */
  ck_assert_int_eq(sizeof(xhal_plugin_op_impl_t), 80);
  ck_assert_int_eq(XHAL_PLUGIN_OP_IMPL_SIZE_1_0, 72);
  ck_assert_int_eq(OFF(xhal_plugin_op_impl_t, name), 40);
  ck_assert_int_eq(OFF(xhal_plugin_op_impl_t, enqueue), 64);
  ck_assert_int_eq(OFF(xhal_plugin_op_impl_t, limits), 72);
  ck_assert_int_eq(sizeof(xhal_op_limits_t), 40);
  ck_assert_int_eq(OFF(xhal_op_limits_t, max_rank), 16);
  ck_assert_int_eq(OFF(xhal_op_limits_t, max_dim), 24);
  ck_assert_int_eq(OFF(xhal_op_limits_t, max_row), 32);
  /* The framework's view of an implementation (xhal.h, ABI 1.4). */
  ck_assert_int_eq(sizeof(xhal_op_support_t), 216);
  ck_assert_int_eq(OFF(xhal_op_support_t, has_limits), 44);
  ck_assert_int_eq(OFF(xhal_op_support_t, limits), 48);
  ck_assert_int_eq(OFF(xhal_op_support_t, name), 88);
  ck_assert_int_eq(sizeof(xhal_plugin_kernel_arg_t), 40);
  ck_assert_int_eq(sizeof(xhal_launch_t), 56);
  ck_assert_int_eq(sizeof(xhal_plugin_program_desc_t), 48);
  ck_assert_int_eq(sizeof(xhal_host_services_t), 64);
  ck_assert_int_eq(OFF(xhal_host_services_t, set_error), 56);
}
END_TEST

START_TEST(test_dispatch_layout) {
  /* Append-only: each entry keeps its 1.0 offset forever. */
  ck_assert_int_eq(sizeof(xhal_plugin_dispatch_t), 296);
  ck_assert_int_eq(XHAL_PLUGIN_DISPATCH_SIZE_1_0, 280);
  ck_assert_int_eq(XHAL_PLUGIN_DISPATCH_SIZE_1_2, 296);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, name), 16);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, init), 32);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, buffer_alloc), 80);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, stream_create), 112);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, enqueue_host_func), 184);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, event_create), 192);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, stream_wait_event), 240);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, kernel_destroy), 272);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, host_alloc), 280);
  ck_assert_int_eq(OFF(xhal_plugin_dispatch_t, host_free), 288);
}
END_TEST

START_TEST(test_status_values_stable) {
  ck_assert_int_eq(XHAL_OK, 0);
  ck_assert_int_eq(XHAL_ERROR_INVALID_ARGUMENT, 1);
  ck_assert_int_eq(XHAL_ERROR_ABI_MISMATCH, 6);
  ck_assert_int_eq(XHAL_ERROR_DEVICE_LOST, 15);
  ck_assert_int_eq(XHAL_ERROR_VALIDATION, 18);
  ck_assert_int_eq(XHAL_STATUS_COUNT, 19);
  for (xhal_status_t s = 0; s < XHAL_STATUS_COUNT; ++s) {
    ck_assert_str_ne(xhal_status_name(s), "XHAL_ERROR_UNKNOWN");
  }
  ck_assert_str_eq(xhal_status_name(XHAL_STATUS_COUNT), "XHAL_ERROR_UNKNOWN");
  ck_assert_str_eq(xhal_status_name(-1), "XHAL_ERROR_UNKNOWN");
}
END_TEST

int main(void) {
  Suite* s = suite_create("abi_layout");
  TCase* tc = tcase_create("layout");
  tcase_add_test(tc, test_types_layout);
  tcase_add_test(tc, test_plugin_structs_layout);
  tcase_add_test(tc, test_dispatch_layout);
  tcase_add_test(tc, test_status_values_stable);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
