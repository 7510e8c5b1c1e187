/*
 * ocl_zero_test.c - a machine whose OpenCL has no platform: the ICD
 * loader is pointed at an empty vendor directory, so clGetPlatformIDs
 * answers CL_PLATFORM_NOT_FOUND_KHR. The plugin must still load, report
 * zero devices, and not make instance creation fail.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <stdlib.h>
#include <xhal/xhal.h>

#include "ocl_test_util.h"

START_TEST(test_zero_devices) {
  xhal_instance_t inst = ocl_test_instance();
  uint32_t plugins = 0;
  uint32_t devices = 0;
  xhal_plugin_info_t info;
  ck_assert_int_eq(xhal_instance_plugin_count(inst, &plugins), XHAL_OK);
  ck_assert_uint_eq(plugins, 1);
  ck_assert_int_eq(xhal_instance_plugin_info(inst, 0, &info), XHAL_OK);
  ck_assert_msg(info.state == XHAL_PLUGIN_STATE_LOADED, "rejected: %s",
                info.reason);
  ck_assert_str_eq(info.name, "opencl");
  ck_assert_uint_eq(info.device_count, 0);
  ck_assert_int_eq(xhal_instance_device_count(inst, &devices), XHAL_OK);
  ck_assert_uint_eq(devices, 0);
  xhal_instance_release(inst);
}
END_TEST

int main(void) {
  Suite* s = suite_create("opencl_zero");
  TCase* tc = tcase_create("zero");
  SRunner* sr;
  int failed;
  /* Before any OpenCL call: the ICD loader reads these once. */
  setenv("OCL_ICD_VENDORS", XHAL_OPENCL_EMPTY_ICDS, 1);
  unsetenv("OCL_ICD_FILENAMES");
  tcase_add_test(tc, test_zero_devices);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
