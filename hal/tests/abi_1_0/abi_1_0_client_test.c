/*
 * abi_1_0_client_test.c - a framework built against the ABI 1.0 headers
 * runs against today's libxhal.
 *
 * This file is compiled with include/ of this folder only: a frozen copy
 * of the public headers as they were at ABI 1.0 (git show
 * 55fa74a:hal/include/xhal/xhal.h and the three others; the last revision
 * with XHAL_ABI_VERSION_MINOR 0). It never sees today's headers, so every
 * record it passes has its 1.0 size and layout, as a framework compiled in
 * the 1.0 days would pass it.
 *
 * Every record that crosses the framework API is exercised: the inputs
 * (instance options, pool options, program description, launch geometry,
 * operator call with its attributes and tensors, implementation
 * description, kernel arguments) are allocated at exactly their 1.0 size,
 * so an ASan build reports any read past them; the outputs (plugin info,
 * device properties, implementation info, pool statistics) are written
 * into records followed by canary bytes that must come back untouched,
 * both with struct_size set to the 1.0 size and left 0 as 1.0 callers
 * were allowed to. CI runs it in the plain and the ASan+UBSan builds.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal.h>

#ifndef XHAL_ABI_VERSION_MINOR
#error "the fixture headers define the ABI version"
#endif
_Static_assert(XHAL_ABI_VERSION_MAJOR == 1 && XHAL_ABI_VERSION_MINOR == 0,
               "this test must see the frozen ABI 1.0 headers only");

/* libxhal's own record of the 1.0 sizes (hal/src/abi_record.h, which
 * includes no xhal header) agrees with the frozen headers. */
#include "abi_record.h"
_Static_assert(sizeof(xhal_instance_options_t) ==
                   XHAL_INSTANCE_OPTIONS_SIZE_1_0,
               "1.0 instance options");
_Static_assert(sizeof(xhal_plugin_info_t) == XHAL_PLUGIN_INFO_SIZE_1_0,
               "1.0 plugin info");
_Static_assert(sizeof(xhal_program_desc_t) == XHAL_PROGRAM_DESC_SIZE_1_0,
               "1.0 program description");
_Static_assert(sizeof(xhal_launch_t) == XHAL_LAUNCH_SIZE_1_0, "1.0 launch");
_Static_assert(sizeof(xhal_op_call_t) == XHAL_OP_CALL_SIZE_1_0,
               "1.0 operator call");
_Static_assert(sizeof(xhal_op_impl_desc_t) == XHAL_OP_IMPL_DESC_SIZE_1_0,
               "1.0 implementation description");
_Static_assert(sizeof(xhal_op_impl_info_t) == XHAL_OP_IMPL_INFO_SIZE_1_0,
               "1.0 implementation info");
_Static_assert(sizeof(xhal_device_properties_t) ==
                   XHAL_DEVICE_PROPERTIES_SIZE_1_0,
               "1.0 device properties");
_Static_assert(sizeof(xhal_pool_options_t) == XHAL_POOL_OPTIONS_SIZE_1_0,
               "1.0 pool options");
_Static_assert(sizeof(xhal_pool_stats_t) == XHAL_POOL_STATS_SIZE_1_0,
               "1.0 pool statistics");

enum { kCanary = 64, kCanaryByte = 0xA5 };

/* A record of `size` bytes followed by kCanary canary bytes; the record
 * itself is filled with 0x5A (a struct_size is then set by the test). */
static void* canary_new(size_t size) {
  unsigned char* p = malloc(size + kCanary);
  ck_assert_ptr_nonnull(p);
  memset(p, 0x5A, size);
  memset(p + size, kCanaryByte, kCanary);
  return p;
}

static void canary_check(const void* record, size_t size, const char* what) {
  const unsigned char* p = (const unsigned char*)record + size;
  for (size_t i = 0; i < kCanary; ++i) {
    ck_assert_msg(p[i] == kCanaryByte,
                  "%s: byte %zu past the 1.0 record (%zu bytes) was written",
                  what, i, size);
  }
}

/* An input record of exactly `size` bytes on the heap, so ASan reports a
 * read past it. */
static void* exact_copy(const void* record, size_t size) {
  void* p = malloc(size);
  ck_assert_ptr_nonnull(p);
  memcpy(p, record, size);
  return p;
}

static xhal_instance_t g_instance;
static xhal_device_t g_cpu;

static xhal_instance_t make_instance(const char* const* paths, uint32_t n) {
  xhal_instance_options_t defaults;
  xhal_instance_options_default(&defaults);
  ck_assert_uint_eq(defaults.struct_size, sizeof(xhal_instance_options_t));
  defaults.plugin_paths = paths;
  defaults.plugin_path_count = n;
  defaults.ignore_environment = 1;
  xhal_instance_options_t* options = exact_copy(&defaults, sizeof(defaults));
  xhal_instance_t instance = NULL;
  xhal_status_t status = xhal_instance_create(options, &instance);
  free(options);
  ck_assert_msg(status == XHAL_OK, "instance: %s", xhal_last_error());
  return instance;
}

static void setup(void) {
  static const char* const paths[] = {XHAL_CPU_PLUGIN_PATH};
  g_instance = make_instance(paths, 1);
  ck_assert_int_eq(xhal_instance_device(g_instance, 0, &g_cpu), XHAL_OK);
}

static void teardown(void) { xhal_instance_release(g_instance); }

/* struct_size values a 1.0 caller may leave in an output record, as
 * variants 0..2: the 1.0 size; whatever the memory held (the 1.0 headers
 * did not ask callers to set it); 0. */
static uint32_t out_size(unsigned variant, size_t size_1_0) {
  switch (variant) {
    case 0:
      return (uint32_t)size_1_0;
    case 1:
      return 0x5A5A5A5Au;
    default:
      return 0;
  }
}

START_TEST(plugin_info_stays_in_its_record) {
  for (unsigned v = 0; v < 3; ++v) {
    xhal_plugin_info_t* info = canary_new(sizeof(*info));
    info->struct_size = out_size(v, sizeof(*info));
    ck_assert_int_eq(xhal_instance_plugin_info(g_instance, 0, info), XHAL_OK);
    canary_check(info, sizeof(*info), "xhal_instance_plugin_info");
    ck_assert_uint_eq(info->struct_size, sizeof(*info));
    ck_assert_uint_eq(info->state, XHAL_PLUGIN_STATE_LOADED);
    ck_assert_str_eq(info->name, "cpu");
    ck_assert_uint_eq(info->device_count, 1);
    ck_assert_str_eq(info->reason, "");
    free(info);
  }
}
END_TEST

START_TEST(device_properties_stay_in_their_record) {
  for (unsigned v = 0; v < 3; ++v) {
    xhal_device_properties_t* props = canary_new(sizeof(*props));
    props->struct_size = out_size(v, sizeof(*props));
    ck_assert_int_eq(xhal_device_properties(g_cpu, props), XHAL_OK);
    canary_check(props, sizeof(*props), "xhal_device_properties");
    ck_assert_uint_eq(props->struct_size, sizeof(*props));
    ck_assert_uint_eq(props->kind, XHAL_DEVICE_KIND_CPU);
    ck_assert(props->name[0] != '\0');
    ck_assert(props->memory_bytes > 0);
    ck_assert(props->max_alloc_bytes > 0);
    ck_assert(props->dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_F32));
    ck_assert(props->capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY);
    free(props);
  }
}
END_TEST

START_TEST(pool_options_and_stats) {
  xhal_pool_options_t defaults;
  xhal_pool_options_default(&defaults);
  ck_assert_uint_eq(defaults.struct_size, sizeof(defaults));
  defaults.memory_flags = XHAL_MEMORY_HOST_VISIBLE;
  xhal_pool_options_t* options = exact_copy(&defaults, sizeof(defaults));
  xhal_pool_t pool = NULL;
  ck_assert_msg(xhal_pool_create(g_cpu, options, &pool) == XHAL_OK, "%s",
                xhal_last_error());
  free(options);
  xhal_stream_t stream = NULL;
  ck_assert_int_eq(xhal_stream_create(g_cpu, &stream), XHAL_OK);
  xhal_buffer_t buffer = NULL;
  ck_assert_int_eq(xhal_pool_alloc_async(pool, stream, 1000, &buffer), XHAL_OK);
  for (unsigned v = 0; v < 3; ++v) {
    xhal_pool_stats_t* stats = canary_new(sizeof(*stats));
    stats->struct_size = out_size(v, sizeof(*stats));
    ck_assert_int_eq(xhal_pool_stats(pool, stats), XHAL_OK);
    canary_check(stats, sizeof(*stats), "xhal_pool_stats");
    ck_assert_uint_eq(stats->struct_size, sizeof(*stats));
    ck_assert_uint_eq(stats->misses, 1);
    ck_assert(stats->used_bytes >= 1000);
    ck_assert(stats->reserved_bytes >= stats->used_bytes);
    free(stats);
  }
  ck_assert_int_eq(xhal_pool_free_async(pool, stream, buffer), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(stream), XHAL_OK);
  xhal_stream_release(stream);
  xhal_pool_release(pool);
}
END_TEST

/* An ADD through the registry: the call, its attributes and its tensors
 * at their 1.0 layout; then the plugin implementation's info. */
START_TEST(op_call_and_impl_info) {
  enum { N = 37 };
  xhal_stream_t stream = NULL;
  ck_assert_int_eq(xhal_stream_create(g_cpu, &stream), XHAL_OK);
  xhal_buffer_t a = NULL, b = NULL, c = NULL;
  ck_assert_int_eq(xhal_buffer_alloc(g_cpu, N * 4, 0, &a), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_cpu, N * 4, 0, &b), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_cpu, N * 4, 0, &c), XHAL_OK);
  float x[N], y[N], z[N];
  for (int i = 0; i < N; ++i) {
    x[i] = (float)i;
    y[i] = 0.5f * (float)i;
  }
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, a, 0, x, sizeof(x)),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(stream, b, 0, y, sizeof(y)),
                   XHAL_OK);

  xhal_op_call_t init;
  xhal_op_call_init(&init, XHAL_OP_ADD);
  ck_assert_uint_eq(init.struct_size, sizeof(init));
  ck_assert_uint_eq(init.attrs.struct_size, sizeof(init.attrs));
  init.num_inputs = 2;
  init.num_outputs = 1;
  xhal_tensor_t* operands[3] = {&init.inputs[0], &init.inputs[1],
                                &init.outputs[0]};
  xhal_buffer_t buffers[3] = {a, b, c};
  for (int i = 0; i < 3; ++i) {
    operands[i]->desc.dtype = XHAL_DTYPE_F32;
    operands[i]->desc.rank = 1;
    operands[i]->desc.dims[0] = N;
    operands[i]->buffer = buffers[i];
  }
  xhal_op_call_t* call = exact_copy(&init, sizeof(init));
  ck_assert_msg(xhal_op_validate(call) == XHAL_OK, "%s", xhal_last_error());
  xhal_op_impl_t impl = NULL;
  ck_assert_msg(xhal_registry_lookup(g_cpu, call, &impl) == XHAL_OK, "%s",
                xhal_last_error());
  xhal_device_t chosen = NULL;
  xhal_op_impl_t selected = NULL;
  ck_assert_int_eq(
      xhal_registry_select(g_instance, call, &g_cpu, 1, &chosen, &selected),
      XHAL_OK);
  ck_assert_ptr_eq(chosen, g_cpu);
  ck_assert_msg(xhal_stream_enqueue_op(stream, NULL, call) == XHAL_OK, "%s",
                xhal_last_error());
  ck_assert_int_eq(xhal_stream_enqueue_read(stream, c, 0, z, sizeof(z)),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(stream), XHAL_OK);
  for (int i = 0; i < N; ++i) ck_assert(z[i] == x[i] + y[i]);
  free(call);

  for (unsigned v = 0; v < 3; ++v) {
    xhal_op_impl_info_t* info = canary_new(sizeof(*info));
    info->struct_size = out_size(v, sizeof(*info));
    ck_assert_int_eq(xhal_op_impl_info(impl, info), XHAL_OK);
    canary_check(info, sizeof(*info), "xhal_op_impl_info");
    ck_assert_uint_eq(info->struct_size, sizeof(*info));
    ck_assert_uint_eq(info->op, XHAL_OP_ADD);
    ck_assert_uint_eq(info->from_plugin, 1);
    ck_assert(info->name[0] != '\0');
    free(info);
  }
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_buffer_release(c);
  xhal_stream_release(stream);
}
END_TEST

/* A framework implementation registered through a 1.0 description. */
static int g_enqueued;

static xhal_status_t custom_enqueue(void* user_data, xhal_stream_t stream,
                                    const xhal_op_call_t* call) {
  (void)stream;
  ck_assert_ptr_eq(user_data, &g_enqueued);
  ck_assert_uint_eq(call->op, XHAL_OP_CUSTOM_BASE + 7);
  g_enqueued++;
  return XHAL_OK;
}

START_TEST(op_impl_desc_registers) {
  xhal_op_impl_desc_t init;
  memset(&init, 0, sizeof(init));
  init.struct_size = sizeof(init);
  init.op = XHAL_OP_CUSTOM_BASE + 7;
  init.device = g_cpu;
  init.priority = 3;
  init.num_dtypes = 2;
  init.dtypes[0] = XHAL_DTYPE_F32;
  init.dtypes[1] = XHAL_DTYPE_F32;
  init.name = "custom_1_0";
  init.user_data = &g_enqueued;
  init.enqueue = custom_enqueue;
  xhal_op_impl_desc_t* desc = exact_copy(&init, sizeof(init));
  xhal_op_impl_t impl = NULL;
  ck_assert_msg(xhal_registry_register(g_instance, desc, &impl) == XHAL_OK,
                "%s", xhal_last_error());
  free(desc);

  xhal_op_impl_info_t* info = canary_new(sizeof(*info));
  info->struct_size = sizeof(*info);
  ck_assert_int_eq(xhal_op_impl_info(impl, info), XHAL_OK);
  canary_check(info, sizeof(*info), "xhal_op_impl_info");
  ck_assert_str_eq(info->name, "custom_1_0");
  ck_assert_int_eq(info->priority, 3);
  ck_assert_uint_eq(info->from_plugin, 0);
  ck_assert_ptr_eq(info->device, g_cpu);
  free(info);

  xhal_op_call_t init_call;
  xhal_op_call_init(&init_call, XHAL_OP_CUSTOM_BASE + 7);
  init_call.num_inputs = 1;
  init_call.num_outputs = 1;
  xhal_buffer_t scalar = NULL;
  ck_assert_int_eq(xhal_buffer_alloc(g_cpu, 4, 0, &scalar), XHAL_OK);
  init_call.inputs[0].desc.dtype = XHAL_DTYPE_F32;
  init_call.inputs[0].buffer = scalar;
  init_call.outputs[0].desc.dtype = XHAL_DTYPE_F32;
  init_call.outputs[0].buffer = scalar;
  xhal_op_call_t* call = exact_copy(&init_call, sizeof(init_call));
  xhal_stream_t stream = NULL;
  ck_assert_int_eq(xhal_stream_create(g_cpu, &stream), XHAL_OK);
  g_enqueued = 0;
  ck_assert_msg(xhal_stream_enqueue_op(stream, impl, call) == XHAL_OK, "%s",
                xhal_last_error());
  ck_assert_int_eq(g_enqueued, 1);
  free(call);
  xhal_stream_release(stream);
  xhal_buffer_release(scalar);
}
END_TEST

/* The program description is read (the CPU device has no kernel language,
 * so the build is refused after the description was checked). */
START_TEST(program_desc_read_on_cpu) {
  xhal_program_desc_t init;
  xhal_program_desc_default(&init);
  ck_assert_uint_eq(init.struct_size, sizeof(init));
  init.source = "kernel void k(global float* p) { p[0] = 1.0f; }";
  xhal_program_desc_t* desc = exact_copy(&init, sizeof(init));
  xhal_program_t program = NULL;
  ck_assert_int_eq(xhal_program_build(g_cpu, desc, &program),
                   XHAL_ERROR_UNSUPPORTED);
  free(desc);
}
END_TEST

#ifdef XHAL_OPENCL_PLUGIN_PATH
/* Program build, kernel and launch on an OpenCL device: the description
 * with its log, the launch geometry and the kernel arguments at 1.0. */
START_TEST(program_and_launch_on_opencl) {
  static const char* const paths[] = {XHAL_OPENCL_PLUGIN_PATH};
  xhal_instance_t instance = make_instance(paths, 1);
  uint32_t count = 0;
  ck_assert_int_eq(xhal_instance_device_count(instance, &count), XHAL_OK);
  ck_assert_msg(count > 0, "the OpenCL plugin found no device");
  xhal_device_t dev = NULL;
  ck_assert_int_eq(xhal_instance_device(instance, 0, &dev), XHAL_OK);
  char* log = canary_new(256);
  xhal_program_desc_t init;
  xhal_program_desc_default(&init);
  init.source =
      "kernel void scale(global float* p, float s) {"
      "  size_t i = get_global_id(0); p[i] = p[i] * s; }";
  init.log = log;
  init.log_capacity = 256;
  xhal_program_desc_t* desc = exact_copy(&init, sizeof(init));
  xhal_program_t program = NULL;
  ck_assert_msg(xhal_program_build(dev, desc, &program) == XHAL_OK, "%s",
                xhal_last_error());
  free(desc);
  canary_check(log, 256, "build log");
  free(log);
  xhal_kernel_t kernel = NULL;
  ck_assert_int_eq(xhal_kernel_create(program, "scale", &kernel), XHAL_OK);

  enum { N = 64 };
  float data[N];
  for (int i = 0; i < N; ++i) data[i] = (float)i;
  xhal_buffer_t buffer = NULL;
  ck_assert_int_eq(xhal_buffer_alloc(dev, sizeof(data), 0, &buffer), XHAL_OK);
  xhal_stream_t stream = NULL;
  ck_assert_int_eq(xhal_stream_create(dev, &stream), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_write(stream, buffer, 0, data, sizeof(data)),
      XHAL_OK);
  xhal_launch_t launch_init = {.struct_size = sizeof(xhal_launch_t),
                               .work_dim = 1,
                               .global_size = {N, 1, 1}};
  xhal_launch_t* launch = exact_copy(&launch_init, sizeof(launch_init));
  float s = 3.0f;
  xhal_kernel_arg_t args_init[2] = {
      {.kind = XHAL_KERNEL_ARG_BUFFER, .buffer = buffer},
      {.kind = XHAL_KERNEL_ARG_SCALAR, .size = sizeof(s), .value = &s}};
  xhal_kernel_arg_t* args = exact_copy(args_init, sizeof(args_init));
  ck_assert_msg(
      xhal_stream_enqueue_kernel(stream, kernel, launch, args, 2) == XHAL_OK,
      "%s", xhal_last_error());
  free(launch);
  free(args);
  ck_assert_int_eq(
      xhal_stream_enqueue_read(stream, buffer, 0, data, sizeof(data)), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(stream), XHAL_OK);
  for (int i = 0; i < N; ++i) ck_assert(data[i] == 3.0f * (float)i);
  xhal_stream_release(stream);
  xhal_buffer_release(buffer);
  xhal_kernel_release(kernel);
  xhal_program_release(program);
  xhal_instance_release(instance);
}
END_TEST
#endif

int main(void) {
  Suite* s = suite_create("abi_1_0_client");
  TCase* tc = tcase_create("records");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, plugin_info_stays_in_its_record);
  tcase_add_test(tc, device_properties_stay_in_their_record);
  tcase_add_test(tc, pool_options_and_stats);
  tcase_add_test(tc, op_call_and_impl_info);
  tcase_add_test(tc, op_impl_desc_registers);
  tcase_add_test(tc, program_desc_read_on_cpu);
#ifdef XHAL_OPENCL_PLUGIN_PATH
  tcase_add_test(tc, program_and_launch_on_opencl);
#endif
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
