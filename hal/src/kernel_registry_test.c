/*
 * kernel_registry_test.c - the registry through the CPU plugin: lookup,
 * priorities and overrides, supports() predicates, selection with CPU
 * fallback, framework-registered kernels, and operator enqueue with its
 * validation.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static xhal_instance_t g_instance;
static xhal_device_t g_device;
static xhal_stream_t g_stream;

static void setup(void) {
  g_instance = test_cpu_instance(&g_device);
  ck_assert_int_eq(xhal_stream_create(g_device, &g_stream), XHAL_OK);
}
static void teardown(void) {
  xhal_stream_release(g_stream);
  xhal_instance_release(g_instance);
}

static void set_tensor(xhal_tensor_t* t, xhal_dtype_t dtype, uint32_t rank,
                       const uint64_t* dims, xhal_buffer_t buffer) {
  memset(t, 0, sizeof(*t));
  t->desc.dtype = dtype;
  t->desc.rank = rank;
  for (uint32_t i = 0; i < rank; ++i) t->desc.dims[i] = dims[i];
  t->buffer = buffer;
}

static xhal_buffer_t upload(const float* data, uint64_t count) {
  xhal_buffer_t buffer;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, count * 4, 0, &buffer), XHAL_OK);
  ck_assert_int_eq(
      xhal_stream_enqueue_write(g_stream, buffer, 0, data, count * 4), XHAL_OK);
  return buffer;
}

START_TEST(test_lookup_plugin_kernels) {
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_MATMUL);
  call.num_inputs = 2;
  set_tensor(&call.inputs[0], XHAL_DTYPE_F32, 2, (uint64_t[]){4, 3}, NULL);
  set_tensor(&call.inputs[1], XHAL_DTYPE_F32, 2, (uint64_t[]){3, 5}, NULL);
  set_tensor(&call.outputs[0], XHAL_DTYPE_F32, 2, (uint64_t[]){4, 5}, NULL);
  xhal_op_impl_t impl;
  ck_assert_int_eq(xhal_registry_lookup(g_device, &call, &impl), XHAL_OK);
  xhal_op_impl_info_t info;
  ck_assert_int_eq(xhal_op_impl_info(impl, &info), XHAL_OK);
  ck_assert_uint_eq(info.op, XHAL_OP_MATMUL);
  ck_assert_uint_eq(info.from_plugin, 1);
  ck_assert_ptr_eq(info.device, g_device);
  /* Mixed dtypes break the catalog before any lookup. */
  call.inputs[1].desc.dtype = XHAL_DTYPE_F16;
  ck_assert_status_msg(xhal_registry_lookup(g_device, &call, &impl),
                       XHAL_ERROR_DTYPE_MISMATCH, "");
  /* So do shapes. */
  call.inputs[1].desc.dtype = XHAL_DTYPE_F32;
  call.inputs[1].desc.dims[0] = 4;
  ck_assert_int_eq(xhal_registry_lookup(g_device, &call, &impl),
                   XHAL_ERROR_SHAPE_MISMATCH);
  /* Unknown op ids are not found. */
  call.op = 999;
  ck_assert_int_eq(xhal_registry_lookup(g_device, &call, &impl),
                   XHAL_ERROR_NOT_FOUND);
}
END_TEST

typedef struct add_impl {
  int calls;
  int supports_calls;
  uint64_t max_elems;
} add_impl_t;

static xhal_status_t add_supports(void* user_data, xhal_device_t device,
                                  const xhal_op_call_t* call) {
  add_impl_t* self = user_data;
  (void)device;
  self->supports_calls++;
  return call->outputs[0].desc.dims[0] <= self->max_elems
             ? XHAL_OK
             : XHAL_ERROR_UNSUPPORTED;
}

/* A framework kernel: computes add through host-visible mappings. */
typedef struct add_job {
  const xhal_op_call_t* call;
} add_job_t;

static xhal_status_t add_enqueue(void* user_data, xhal_stream_t stream,
                                 const xhal_op_call_t* call) {
  add_impl_t* self = user_data;
  self->calls++;
  uint64_t n = call->outputs[0].desc.dims[0];
  float* a = malloc(n * 4);
  float* b = malloc(n * 4);
  xhal_status_t status =
      xhal_stream_enqueue_read(stream, call->inputs[0].buffer, 0, a, n * 4);
  if (status == XHAL_OK) {
    status =
        xhal_stream_enqueue_read(stream, call->inputs[1].buffer, 0, b, n * 4);
  }
  if (status == XHAL_OK) status = xhal_stream_synchronize(stream);
  for (uint64_t i = 0; status == XHAL_OK && i < n; ++i) a[i] += b[i] + 100.f;
  if (status == XHAL_OK) {
    status =
        xhal_stream_enqueue_write(stream, call->outputs[0].buffer, 0, a, n * 4);
  }
  if (status == XHAL_OK) status = xhal_stream_synchronize(stream);
  free(a);
  free(b);
  return status;
}

static xhal_op_impl_desc_t add_desc(add_impl_t* self, int32_t priority) {
  xhal_op_impl_desc_t desc;
  memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.op = XHAL_OP_ADD;
  desc.priority = priority;
  desc.num_dtypes = 3;
  desc.dtypes[0] = desc.dtypes[1] = desc.dtypes[2] = XHAL_DTYPE_F32;
  desc.name = "framework.add.f32";
  desc.user_data = self;
  desc.supports = add_supports;
  desc.enqueue = add_enqueue;
  return desc;
}

static void add_call(xhal_op_call_t* call, uint64_t n, xhal_buffer_t a,
                     xhal_buffer_t b, xhal_buffer_t out) {
  xhal_op_call_init(call, XHAL_OP_ADD);
  call->num_inputs = 2;
  set_tensor(&call->inputs[0], XHAL_DTYPE_F32, 1, &n, a);
  set_tensor(&call->inputs[1], XHAL_DTYPE_F32, 1, &n, b);
  set_tensor(&call->outputs[0], XHAL_DTYPE_F32, 1, &n, out);
}

START_TEST(test_framework_override_by_priority) {
  add_impl_t self = {.max_elems = 8};
  xhal_op_impl_desc_t desc = add_desc(&self, 10);
  xhal_op_impl_t mine;
  ck_assert_int_eq(xhal_registry_register(g_instance, &desc, &mine), XHAL_OK);
  float av[4] = {1, 2, 3, 4}, bv[4] = {10, 20, 30, 40};
  xhal_buffer_t a = upload(av, 4), b = upload(bv, 4), out;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 16, 0, &out), XHAL_OK);
  xhal_op_call_t call;
  add_call(&call, 4, a, b, out);
  xhal_op_impl_t found;
  ck_assert_int_eq(xhal_registry_lookup(g_device, &call, &found), XHAL_OK);
  ck_assert_ptr_eq(found, mine);
  ck_assert_int_eq(xhal_stream_enqueue_op(g_stream, NULL, &call), XHAL_OK);
  float back[4];
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, out, 0, back, 16),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_int_eq(self.calls, 1);
  for (int i = 0; i < 4; ++i) ck_assert_float_eq(back[i], av[i] + bv[i] + 100);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_buffer_release(out);
}
END_TEST

START_TEST(test_supports_predicate_falls_through) {
  /* Above max_elems the framework kernel declines; the plugin's add runs. */
  add_impl_t self = {.max_elems = 2};
  xhal_op_impl_desc_t desc = add_desc(&self, 10);
  ck_assert_int_eq(xhal_registry_register(g_instance, &desc, NULL), XHAL_OK);
  float av[4] = {1, 2, 3, 4}, bv[4] = {10, 20, 30, 40};
  xhal_buffer_t a = upload(av, 4), b = upload(bv, 4), out;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 16, 0, &out), XHAL_OK);
  xhal_op_call_t call;
  add_call(&call, 4, a, b, out);
  xhal_op_impl_t found;
  ck_assert_int_eq(xhal_registry_lookup(g_device, &call, &found), XHAL_OK);
  xhal_op_impl_info_t info;
  ck_assert_int_eq(xhal_op_impl_info(found, &info), XHAL_OK);
  ck_assert_uint_eq(info.from_plugin, 1);
  ck_assert_int_gt(self.supports_calls, 0);
  ck_assert_int_eq(xhal_stream_enqueue_op(g_stream, found, &call), XHAL_OK);
  float back[4];
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, out, 0, back, 16),
                   XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  ck_assert_int_eq(self.calls, 0);
  for (int i = 0; i < 4; ++i) ck_assert_float_eq(back[i], av[i] + bv[i]);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_buffer_release(out);
}
END_TEST

static xhal_status_t never(void* user_data, xhal_device_t device,
                           const xhal_op_call_t* call) {
  (void)user_data, (void)device, (void)call;
  return XHAL_ERROR_UNSUPPORTED;
}

START_TEST(test_select_and_fallback) {
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_RELU);
  call.num_inputs = 1;
  set_tensor(&call.inputs[0], XHAL_DTYPE_F32, 1, (uint64_t[]){7}, NULL);
  set_tensor(&call.outputs[0], XHAL_DTYPE_F32, 1, (uint64_t[]){7}, NULL);
  xhal_device_t chosen;
  xhal_op_impl_t impl;
  /* No preference at all: the CPU fallback. */
  ck_assert_int_eq(
      xhal_registry_select(g_instance, &call, NULL, 0, &chosen, &impl),
      XHAL_OK);
  ck_assert_ptr_eq(chosen, g_device);
  ck_assert_int_eq(
      xhal_registry_select(g_instance, &call, &g_device, 1, &chosen, &impl),
      XHAL_OK);
  ck_assert_ptr_eq(chosen, g_device);
  /* A custom op that no device takes is not found anywhere. */
  xhal_op_impl_desc_t desc = add_desc(NULL, 0);
  desc.op = XHAL_OP_CUSTOM_BASE + 7;
  desc.supports = never;
  ck_assert_int_eq(xhal_registry_register(g_instance, &desc, NULL), XHAL_OK);
  call.op = XHAL_OP_CUSTOM_BASE + 7;
  ck_assert_status_msg(
      xhal_registry_select(g_instance, &call, &g_device, 1, &chosen, &impl),
      XHAL_ERROR_NOT_FOUND, "no preferred device and no CPU device");
  ck_assert_ptr_null(chosen);
  ck_assert_status_msg(
      xhal_registry_select(g_instance, &call, NULL, 3, &chosen, &impl),
      XHAL_ERROR_INVALID_ARGUMENT, "preference is NULL");
}
END_TEST

START_TEST(test_register_rejects_bad_desc) {
  add_impl_t self = {0};
  xhal_op_impl_desc_t desc = add_desc(&self, 0);
  desc.enqueue = NULL;
  ck_assert_status_msg(xhal_registry_register(g_instance, &desc, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "enqueue");
  desc = add_desc(&self, 0);
  desc.op = 999;
  ck_assert_status_msg(xhal_registry_register(g_instance, &desc, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "neither a catalog op");
  desc = add_desc(&self, 0);
  desc.dtypes[1] = 77;
  ck_assert_status_msg(xhal_registry_register(g_instance, &desc, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "dtypes[1]");
  desc = add_desc(&self, 0);
  desc.num_dtypes = 0;
  ck_assert_status_msg(xhal_registry_register(g_instance, &desc, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "num_dtypes");
  desc = add_desc(&self, 0);
  desc.struct_size = 4;
  ck_assert_status_msg(xhal_registry_register(g_instance, &desc, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "struct_size");
}
END_TEST

START_TEST(test_matmul_and_softmax_through_registry) {
  /* C = A(2x3) @ B(3x2); then softmax over C's rows. */
  float av[6] = {1, 2, 3, 4, 5, 6};
  float bv[6] = {0.5f, -1, 0.25f, 2, -0.5f, 1};
  xhal_buffer_t a = upload(av, 6), b = upload(bv, 6), c, s;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 16, 0, &c), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 16, 0, &s), XHAL_OK);
  xhal_op_call_t mm;
  xhal_op_call_init(&mm, XHAL_OP_MATMUL);
  mm.num_inputs = 2;
  set_tensor(&mm.inputs[0], XHAL_DTYPE_F32, 2, (uint64_t[]){2, 3}, a);
  set_tensor(&mm.inputs[1], XHAL_DTYPE_F32, 2, (uint64_t[]){3, 2}, b);
  set_tensor(&mm.outputs[0], XHAL_DTYPE_F32, 2, (uint64_t[]){2, 2}, c);
  ck_assert_int_eq(xhal_stream_enqueue_op(g_stream, NULL, &mm), XHAL_OK);
  xhal_op_call_t sm;
  xhal_op_call_init(&sm, XHAL_OP_SOFTMAX);
  sm.num_inputs = 1;
  set_tensor(&sm.inputs[0], XHAL_DTYPE_F32, 2, (uint64_t[]){2, 2}, c);
  set_tensor(&sm.outputs[0], XHAL_DTYPE_F32, 2, (uint64_t[]){2, 2}, s);
  ck_assert_int_eq(xhal_stream_enqueue_op(g_stream, NULL, &sm), XHAL_OK);
  float cv[4], sv[4];
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, c, 0, cv, 16), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(g_stream, s, 0, sv, 16), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  float expect[4];
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      float acc = 0;
      for (int k = 0; k < 3; ++k) acc += av[i * 3 + k] * bv[k * 2 + j];
      expect[i * 2 + j] = acc;
    }
  }
  for (int i = 0; i < 4; ++i) ck_assert_float_eq_tol(cv[i], expect[i], 1e-5f);
  for (int i = 0; i < 2; ++i) {
    float m = fmaxf(expect[2 * i], expect[2 * i + 1]);
    float e0 = expf(expect[2 * i] - m), e1 = expf(expect[2 * i + 1] - m);
    ck_assert_float_eq_tol(sv[2 * i], e0 / (e0 + e1), 1e-6f);
    ck_assert_float_eq_tol(sv[2 * i + 1], e1 / (e0 + e1), 1e-6f);
  }
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_buffer_release(c);
  xhal_buffer_release(s);
}
END_TEST

START_TEST(test_enqueue_op_validates_operands) {
  float av[4] = {0};
  xhal_buffer_t a = upload(av, 4), out;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 16, 0, &out), XHAL_OK);
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_RELU);
  call.num_inputs = 1;
  set_tensor(&call.inputs[0], XHAL_DTYPE_F32, 1, (uint64_t[]){4}, a);
  set_tensor(&call.outputs[0], XHAL_DTYPE_F32, 1, (uint64_t[]){4}, out);
  call.outputs[0].offset = 4; /* 16 bytes at 4 do not fit in 16 */
  ck_assert_status_msg(xhal_stream_enqueue_op(g_stream, NULL, &call),
                       XHAL_ERROR_OUT_OF_RANGE, "output 0");
  call.outputs[0].offset = 2;
  ck_assert_status_msg(xhal_stream_enqueue_op(g_stream, NULL, &call),
                       XHAL_ERROR_INVALID_ARGUMENT, "element size");
  call.outputs[0].offset = 0;
  call.inputs[0].buffer = NULL;
  ck_assert_status_msg(xhal_stream_enqueue_op(g_stream, NULL, &call),
                       XHAL_ERROR_INVALID_HANDLE, "input 0");
  call.inputs[0].buffer = a;
  call.num_inputs = 5;
  ck_assert_status_msg(xhal_stream_enqueue_op(g_stream, NULL, &call),
                       XHAL_ERROR_INVALID_ARGUMENT, "inputs");
  call.num_inputs = 1;
  call.struct_size = 8;
  ck_assert_status_msg(xhal_stream_enqueue_op(g_stream, NULL, &call),
                       XHAL_ERROR_INVALID_ARGUMENT, "struct_size");
  /* A buffer of another instance's device is refused. */
  xhal_device_t other_device;
  xhal_instance_t other = test_cpu_instance(&other_device);
  xhal_buffer_t far;
  ck_assert_int_eq(xhal_buffer_alloc(other_device, 16, 0, &far), XHAL_OK);
  xhal_op_call_init(&call, XHAL_OP_RELU);
  call.num_inputs = 1;
  set_tensor(&call.inputs[0], XHAL_DTYPE_F32, 1, (uint64_t[]){4}, far);
  set_tensor(&call.outputs[0], XHAL_DTYPE_F32, 1, (uint64_t[]){4}, out);
  ck_assert_status_msg(xhal_stream_enqueue_op(g_stream, NULL, &call),
                       XHAL_ERROR_INVALID_ARGUMENT, "lives on device");
  xhal_buffer_release(far);
  xhal_instance_release(other);
  xhal_buffer_release(a);
  xhal_buffer_release(out);
}
END_TEST

/* The catalog's signatures only: add is (f32, f32) -> f32 and the like,
 * never (f32, i8) -> f32, which xhal_op_validate would refuse for a
 * call. */
START_TEST(test_register_rejects_signature_off_catalog) {
  add_impl_t self = {0};
  xhal_op_impl_desc_t desc = add_desc(&self, 0);
  desc.dtypes[1] = XHAL_DTYPE_I8;
  xhal_op_impl_t impl = (xhal_op_impl_t)&self;
  ck_assert_status_msg(xhal_registry_register(g_instance, &desc, &impl),
                       XHAL_ERROR_DTYPE_MISMATCH, "(f32, i8) -> f32");
  ck_assert_ptr_null(impl);
  ck_assert_msg(strstr(xhal_last_error(), "input 1 (B) is i8") != NULL, "%s",
                xhal_last_error());
  /* What a call with those dtypes gets from xhal_op_validate. */
  xhal_op_call_t call;
  uint64_t n = 4;
  add_call(&call, n, NULL, NULL, NULL);
  call.inputs[1].desc.dtype = XHAL_DTYPE_I8;
  ck_assert_int_eq(xhal_op_validate(&call), XHAL_ERROR_DTYPE_MISMATCH);
  /* More cases: an i32 gelu, an int8 matmul with an f32 output, a
   * softmax without an output dtype, a cast (any pair is in the catalog)
   * and the int8 matmul with its i32 bias. */
  desc = add_desc(&self, 0);
  desc.op = XHAL_OP_GELU;
  desc.num_dtypes = 2;
  desc.dtypes[0] = desc.dtypes[1] = XHAL_DTYPE_I32;
  ck_assert_status_msg(xhal_registry_register(g_instance, &desc, NULL),
                       XHAL_ERROR_DTYPE_MISMATCH, "f32 or f16");
  desc = add_desc(&self, 0);
  desc.op = XHAL_OP_MATMUL;
  desc.dtypes[0] = desc.dtypes[1] = XHAL_DTYPE_I8;
  desc.dtypes[2] = XHAL_DTYPE_F32;
  ck_assert_status_msg(xhal_registry_register(g_instance, &desc, NULL),
                       XHAL_ERROR_DTYPE_MISMATCH, "int8 signature");
  desc = add_desc(&self, 0);
  desc.op = XHAL_OP_SOFTMAX;
  desc.num_dtypes = 1;
  ck_assert_status_msg(xhal_registry_register(g_instance, &desc, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "takes 1 to 1 inputs");
  desc = add_desc(&self, 0);
  desc.op = XHAL_OP_CAST;
  desc.num_dtypes = 2;
  desc.dtypes[0] = XHAL_DTYPE_I8;
  desc.dtypes[1] = XHAL_DTYPE_F16;
  ck_assert_int_eq(xhal_registry_register(g_instance, &desc, NULL), XHAL_OK);
  desc = add_desc(&self, 0);
  desc.op = XHAL_OP_MATMUL;
  desc.num_dtypes = 4;
  desc.dtypes[0] = desc.dtypes[1] = XHAL_DTYPE_I8;
  desc.dtypes[2] = desc.dtypes[3] = XHAL_DTYPE_I32;
  ck_assert_int_eq(xhal_registry_register(g_instance, &desc, NULL), XHAL_OK);
  /* A custom op takes any known dtypes. */
  desc = add_desc(&self, 0);
  desc.op = XHAL_OP_CUSTOM_BASE + 3;
  desc.dtypes[1] = XHAL_DTYPE_I8;
  ck_assert_int_eq(xhal_registry_register(g_instance, &desc, NULL), XHAL_OK);
}
END_TEST

/* out_impl is optional: a registration without it is in the registry all
 * the same, and lookups find it. */
START_TEST(test_register_without_out_impl) {
  add_impl_t self = {.max_elems = 8};
  xhal_op_impl_desc_t desc = add_desc(&self, 1000);
  desc.name = "framework.add.no_handle";
  ck_assert_int_eq(xhal_registry_register(g_instance, &desc, NULL), XHAL_OK);
  xhal_op_call_t call;
  add_call(&call, 4, NULL, NULL, NULL);
  xhal_op_impl_t impl = NULL;
  ck_assert_int_eq(xhal_registry_lookup(g_device, &call, &impl), XHAL_OK);
  xhal_op_impl_info_t info;
  ck_assert_int_eq(xhal_op_impl_info(impl, &info), XHAL_OK);
  ck_assert_str_eq(info.name, "framework.add.no_handle");
  ck_assert_uint_eq(info.from_plugin, 0);
}
END_TEST

/* Loads `path` alone with warnings on, with stderr captured; returns the
 * instance and what the loader wrote. */
static xhal_instance_t load_capturing(const char* path, char* log,
                                      size_t log_size) {
  fflush(stderr);
  FILE* capture = tmpfile();
  ck_assert_ptr_nonnull(capture);
  int saved = dup(STDERR_FILENO);
  ck_assert_int_ge(saved, 0);
  ck_assert_int_ge(dup2(fileno(capture), STDERR_FILENO), 0);
  const char* paths[1] = {path};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 1;
  options.ignore_environment = 1;
  options.log_level = XHAL_LOG_WARN;
  xhal_instance_t instance = NULL;
  xhal_status_t status = xhal_instance_create(&options, &instance);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  ck_assert_int_eq(status, XHAL_OK);
  rewind(capture);
  size_t n = fread(log, 1, log_size - 1, capture);
  log[n] = '\0';
  fclose(capture);
  return instance;
}

/* A plugin that registers a signature off the catalog hears
 * XHAL_ERROR_DTYPE_MISMATCH with a message (here it fails its init with
 * it, so the message is the rejection's reason), and the log names the
 * implementation. */
START_TEST(test_plugin_bad_signature_rejected) {
  char log[8192];
  xhal_instance_t instance =
      load_capturing(XHAL_BROKEN_PLUGIN_DIR "/libxhal_broken_bad_signature.so",
                     log, sizeof(log));
  xhal_plugin_info_t info;
  ck_assert_int_eq(xhal_instance_plugin_info(instance, 0, &info), XHAL_OK);
  ck_assert_uint_eq(info.state, XHAL_PLUGIN_STATE_REJECTED);
  ck_assert_int_eq(info.status, XHAL_ERROR_DTYPE_MISMATCH);
  ck_assert_msg(strstr(info.reason,
                       "registration of 'broken.add.f32_i8' "
                       "refused: signature (f32, i8) -> f32") != NULL,
                "reason: %s", info.reason);
  ck_assert_msg(strstr(log,
                       "plugin 'broken_bad_signature': registration of "
                       "'broken.add.f32_i8' refused") != NULL,
                "log: %s", log);
  xhal_instance_release(instance);
}
END_TEST

/* Every plugin built in the tree registers only catalog signatures: none
 * of its registrations is refused, and it registers some. */
START_TEST(test_in_tree_plugins_register_catalog_signatures) {
  char dir[1024];
  snprintf(dir, sizeof(dir), "%s", XHAL_CPU_PLUGIN_PATH);
  char* slash = strrchr(dir, '/');
  ck_assert_ptr_nonnull(slash);
  *slash = '\0';
  DIR* d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  uint32_t plugins = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "libxhal_", 8) != 0 || len < 4 ||
        strcmp(e->d_name + len - 3, ".so") != 0) {
      continue;
    }
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    char log[16384];
    xhal_instance_t instance = load_capturing(path, log, sizeof(log));
    ck_assert_msg(strstr(log, "refused") == NULL, "%s: %s", path, log);
    xhal_plugin_info_t info;
    ck_assert_int_eq(xhal_instance_plugin_info(instance, 0, &info), XHAL_OK);
    if (info.state == XHAL_PLUGIN_STATE_LOADED && info.device_count > 0) {
      xhal_device_t device;
      ck_assert_int_eq(xhal_instance_device(instance, 0, &device), XHAL_OK);
      /* An f32 relu exists on every in-tree plugin's device. */
      xhal_op_call_t call;
      xhal_op_call_init(&call, XHAL_OP_RELU);
      call.num_inputs = 1;
      set_tensor(&call.inputs[0], XHAL_DTYPE_F32, 1, (uint64_t[]){8}, NULL);
      set_tensor(&call.outputs[0], XHAL_DTYPE_F32, 1, (uint64_t[]){8}, NULL);
      xhal_op_impl_t impl;
      ck_assert_msg(xhal_registry_lookup(device, &call, &impl) == XHAL_OK,
                    "%s: %s", path, xhal_last_error());
      ++plugins;
    }
    xhal_instance_release(instance);
  }
  closedir(d);
  ck_assert_uint_ge(plugins, 1);
}
END_TEST

/* An empty tensor whose other dims overflow gets one status, from the
 * catalog, before any buffer is looked at: validate and enqueue agree. */
START_TEST(test_empty_tensor_overflowing_dims) {
  xhal_buffer_t buf;
  ck_assert_int_eq(xhal_buffer_alloc(g_device, 16, 0, &buf), XHAL_OK);
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_RELU);
  call.num_inputs = 1;
  uint64_t dims[3] = {1ull << 63, 1ull << 63, 0};
  set_tensor(&call.inputs[0], XHAL_DTYPE_F32, 3, dims, buf);
  set_tensor(&call.outputs[0], XHAL_DTYPE_F32, 3, dims, buf);
  ck_assert_status_msg(xhal_op_validate(&call), XHAL_ERROR_INVALID_ARGUMENT,
                       "non-zero dims");
  ck_assert_status_msg(xhal_stream_enqueue_op(g_stream, NULL, &call),
                       XHAL_ERROR_INVALID_ARGUMENT, "non-zero dims");
  /* An empty tensor of representable dims is a no-op that completes. */
  uint64_t fine[3] = {1ull << 20, 1ull << 20, 0};
  set_tensor(&call.inputs[0], XHAL_DTYPE_F32, 3, fine, buf);
  set_tensor(&call.outputs[0], XHAL_DTYPE_F32, 3, fine, buf);
  ck_assert_int_eq(xhal_op_validate(&call), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_op(g_stream, NULL, &call), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(g_stream), XHAL_OK);
  xhal_buffer_release(buf);
}
END_TEST

int main(void) {
  Suite* s = suite_create("kernel_registry");
  TCase* tc = tcase_create("registry");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_lookup_plugin_kernels);
  tcase_add_test(tc, test_framework_override_by_priority);
  tcase_add_test(tc, test_supports_predicate_falls_through);
  tcase_add_test(tc, test_select_and_fallback);
  tcase_add_test(tc, test_register_rejects_bad_desc);
  tcase_add_test(tc, test_matmul_and_softmax_through_registry);
  tcase_add_test(tc, test_enqueue_op_validates_operands);
  tcase_add_test(tc, test_register_rejects_signature_off_catalog);
  tcase_add_test(tc, test_register_without_out_impl);
  tcase_add_test(tc, test_plugin_bad_signature_rejected);
  tcase_add_test(tc, test_in_tree_plugins_register_catalog_signatures);
  tcase_add_test(tc, test_empty_tensor_overflowing_dims);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
