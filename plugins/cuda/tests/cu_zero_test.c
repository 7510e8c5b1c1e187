/*
 * cu_zero_test.c - the CUDA plugin on a machine without a driver
 * (XHAL_CUDA_DRIVER names a file that does not exist): it loads, init
 * succeeds with zero devices, the reason reaches the host's log, and
 * libxhal lists the plugin loaded with no device.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal.h>
#include <xhal/xhal_plugin.h>

static char g_log[4096];

static void host_log(void* host, xhal_log_level_t level, const char* msg) {
  (void)host;
  (void)level;
  size_t used = strlen(g_log);
  snprintf(g_log + used, sizeof(g_log) - used, "%s\n", msg);
}

static void* host_alloc(void* host, uint64_t size, uint64_t alignment) {
  void* p = NULL;
  (void)host;
  return posix_memalign(&p, (size_t)alignment, (size_t)size) == 0 ? p : NULL;
}

static void host_free(void* host, void* p) {
  (void)host;
  free(p);
}

static xhal_status_t host_register(void* host,
                                   const xhal_plugin_op_impl_t* impl) {
  (void)host;
  (void)impl;
  return XHAL_OK;
}

static void host_lost(void* host, uint32_t index, const char* reason) {
  (void)host;
  (void)index;
  (void)reason;
}

static void host_set_error(void* host, xhal_status_t status, const char* m) {
  (void)host;
  (void)status;
  (void)m;
}

START_TEST(test_direct_zero_devices_with_reason) {
  void* lib = dlopen(XHAL_CUDA_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(lib != NULL, "dlopen: %s", dlerror());
  xhal_plugin_query_fn query;
  *(void**)&query = dlsym(lib, XHAL_PLUGIN_QUERY_SYMBOL);
  ck_assert_ptr_nonnull(query);
  const xhal_plugin_dispatch_t* t = NULL;
  ck_assert_int_eq(query(XHAL_ABI_VERSION_MAJOR, XHAL_ABI_VERSION_MINOR, &t),
                   XHAL_OK);
  ck_assert_str_eq(t->name, "cuda");
  xhal_host_services_t host = {
      .struct_size = (uint32_t)sizeof(host),
      .abi_minor = XHAL_ABI_VERSION_MINOR,
      .host_context = NULL,
      .log = host_log,
      .alloc_aligned = host_alloc,
      .free_aligned = host_free,
      .register_op_impl = host_register,
      .report_device_lost = host_lost,
      .set_error = host_set_error,
  };
  xhal_plugin_context_t ctx = NULL;
  g_log[0] = '\0';
  ck_assert_int_eq(t->init(&host, &ctx), XHAL_OK);
  ck_assert_ptr_nonnull(ctx);
  uint32_t count = 99;
  ck_assert_int_eq(t->device_count(ctx, &count), XHAL_OK);
  ck_assert_uint_eq(count, 0);
  /* The reason names the library that could not be loaded. */
  ck_assert_msg(strstr(g_log, "0 devices") != NULL &&
                    strstr(g_log, XHAL_CUDA_NO_DRIVER) != NULL,
                "log does not say why there is no device: '%s'", g_log);
  xhal_device_properties_t props;
  props.struct_size = (uint32_t)sizeof(props);
  ck_assert_int_eq(t->device_properties(ctx, 0, &props),
                   XHAL_ERROR_OUT_OF_RANGE);
  xhal_plugin_device_t dev = NULL;
  ck_assert_int_eq(t->device_open(ctx, 0, &dev), XHAL_ERROR_OUT_OF_RANGE);
  t->shutdown(ctx);
  dlclose(lib);
}
END_TEST

START_TEST(test_libxhal_lists_loaded_plugin) {
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  const char* paths[] = {XHAL_CUDA_PLUGIN_PATH};
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  xhal_instance_t inst = NULL;
  ck_assert_int_eq(xhal_instance_create(&options, &inst), XHAL_OK);
  uint32_t plugins = 0;
  ck_assert_int_eq(xhal_instance_plugin_count(inst, &plugins), XHAL_OK);
  ck_assert_uint_eq(plugins, 1);
  xhal_plugin_info_t info;
  info.struct_size = (uint32_t)sizeof(info);
  ck_assert_int_eq(xhal_instance_plugin_info(inst, 0, &info), XHAL_OK);
  ck_assert_msg(info.state == XHAL_PLUGIN_STATE_LOADED, "rejected: %s",
                info.reason);
  ck_assert_str_eq(info.name, "cuda");
  ck_assert_uint_eq(info.device_count, 0);
  uint32_t devices = 99;
  ck_assert_int_eq(xhal_instance_device_count(inst, &devices), XHAL_OK);
  ck_assert_uint_eq(devices, 0);
  xhal_instance_release(inst);
}
END_TEST

int main(void) {
  Suite* s = suite_create("cuda_zero");
  TCase* tc = tcase_create("zero");
  SRunner* sr;
  int failed;
  /* Also when the test is run by hand, outside CTest. */
  setenv("XHAL_CUDA_DRIVER", XHAL_CUDA_NO_DRIVER, 1);
  tcase_add_test(tc, test_direct_zero_devices_with_reason);
  tcase_add_test(tc, test_libxhal_lists_loaded_plugin);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
