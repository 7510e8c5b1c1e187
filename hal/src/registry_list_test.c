/*
 * registry_list_test.c - what a device supports, asked without trial and
 * error: xhal_registry_list, xhal_op_impl_support and declared limits
 * (xhal_op_limits_t), through the CPU plugin and framework-registered
 * implementations; every documented error of the three calls.
 */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static xhal_instance_t g_instance;
static xhal_device_t g_device;

static void setup(void) { g_instance = test_cpu_instance(&g_device); }
static void teardown(void) { xhal_instance_release(g_instance); }

/* The whole listing of g_device (caller frees). */
static xhal_op_impl_t* list_all(uint32_t* out_count) {
  uint32_t count = 0;
  ck_assert_int_eq(xhal_registry_list(g_device, 0, NULL, &count), XHAL_OK);
  ck_assert_uint_gt(count, 0);
  xhal_op_impl_t* impls = calloc(count, sizeof(*impls));
  uint32_t again = 0;
  ck_assert_int_eq(xhal_registry_list(g_device, count, impls, &again), XHAL_OK);
  ck_assert_uint_eq(again, count);
  *out_count = count;
  return impls;
}

static xhal_op_support_t support_of(xhal_op_impl_t impl) {
  xhal_op_support_t s;
  memset(&s, 0xEE, sizeof(s));
  s.struct_size = sizeof(s);
  ck_assert_int_eq(xhal_op_impl_support(impl, &s), XHAL_OK);
  return s;
}

static xhal_status_t never_enqueue(void* user_data, xhal_stream_t stream,
                                   const xhal_op_call_t* call) {
  (void)user_data;
  (void)stream;
  (void)call;
  return XHAL_ERROR_INTERNAL;
}

static xhal_op_impl_desc_t add_desc(int32_t priority, const char* name) {
  xhal_op_impl_desc_t desc;
  memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.op = XHAL_OP_ADD;
  desc.priority = priority;
  desc.num_dtypes = 3;
  desc.dtypes[0] = desc.dtypes[1] = desc.dtypes[2] = XHAL_DTYPE_F32;
  desc.name = name;
  desc.enqueue = never_enqueue;
  return desc;
}

START_TEST(test_cpu_listing_is_the_catalog) {
  uint32_t count = 0;
  xhal_op_impl_t* impls = list_all(&count);
  int seen_matmul_f32 = 0, seen_matmul_i8 = 0, seen_softmax_f16 = 0;
  xhal_op_t last_op = 0;
  for (uint32_t i = 0; i < count; ++i) {
    xhal_op_support_t s = support_of(impls[i]);
    ck_assert_uint_eq(s.struct_size, sizeof(s));
    ck_assert_msg(s.op >= last_op, "listing not sorted by op at %u", i);
    last_op = s.op;
    ck_assert_ptr_nonnull(xhal_op_name(s.op));
    ck_assert_uint_eq(s.from_plugin, 1);
    /* The CPU plugin takes every call of its signatures. */
    ck_assert_uint_eq(s.has_supports, 0);
    ck_assert_uint_eq(s.has_limits, 0);
    ck_assert_uint_eq(s.limits.flags, 0);
    ck_assert_uint_ge(s.num_dtypes, 2);
    /* The same record through xhal_op_impl_info. */
    xhal_op_impl_info_t info;
    ck_assert_int_eq(xhal_op_impl_info(impls[i], &info), XHAL_OK);
    ck_assert_str_eq(info.name, s.name);
    ck_assert_int_eq(info.priority, s.priority);
    if (s.op == XHAL_OP_MATMUL && s.dtypes[0] == XHAL_DTYPE_F32) {
      seen_matmul_f32 = 1;
    }
    if (s.op == XHAL_OP_MATMUL && s.dtypes[0] == XHAL_DTYPE_I8) {
      ck_assert_uint_eq(s.dtypes[s.num_dtypes - 1], XHAL_DTYPE_I32);
      seen_matmul_i8 = 1;
    }
    if (s.op == XHAL_OP_SOFTMAX && s.dtypes[0] == XHAL_DTYPE_F16) {
      seen_softmax_f16 = 1;
    }
  }
  ck_assert(seen_matmul_f32 && seen_matmul_i8 && seen_softmax_f16);
  ck_assert_str_eq(xhal_op_name(XHAL_OP_LAYER_NORM), "layer_norm");
  ck_assert_ptr_null(xhal_op_name(XHAL_OP_CUSTOM_BASE));
  ck_assert_ptr_null(xhal_op_name(7));
  free(impls);
}
END_TEST

START_TEST(test_listing_has_framework_impls_in_lookup_order) {
  uint32_t before = 0;
  ck_assert_int_eq(xhal_registry_list(g_device, 0, NULL, &before), XHAL_OK);
  xhal_op_limits_t limits;
  memset(&limits, 0, sizeof(limits));
  limits.struct_size = sizeof(limits);
  limits.flags = XHAL_OP_LIMIT_BROADCASTS | XHAL_OP_LIMIT_ROW |
                 XHAL_OP_LIMIT_RANK | XHAL_OP_LIMIT_PARTIAL;
  limits.broadcasts = XHAL_BROADCAST_SAME | XHAL_BROADCAST_ROW;
  limits.max_rank = 4;
  limits.max_row = 4096;
  limits.max_dim = 77; /* its bit is clear: reported as 0 */
  xhal_op_impl_desc_t high = add_desc(1000, "framework.add.high");
  high.limits = &limits;
  xhal_op_impl_t high_impl = NULL, low_impl = NULL;
  ck_assert_int_eq(xhal_registry_register(g_instance, &high, &high_impl),
                   XHAL_OK);
  /* The record is copied: changing it afterwards changes nothing. */
  limits.max_row = 1;
  xhal_op_impl_desc_t low = add_desc(-1000, "framework.add.low");
  ck_assert_int_eq(xhal_registry_register(g_instance, &low, &low_impl),
                   XHAL_OK);

  uint32_t count = 0;
  xhal_op_impl_t* impls = list_all(&count);
  ck_assert_uint_eq(count, before + 2);
  /* Among the add implementations: high first, the plugin's, low last. */
  uint32_t first_add = count, last_add = 0;
  for (uint32_t i = 0; i < count; ++i) {
    xhal_op_support_t s = support_of(impls[i]);
    if (s.op != XHAL_OP_ADD) continue;
    if (first_add == count) first_add = i;
    last_add = i;
  }
  ck_assert_ptr_eq(impls[first_add], high_impl);
  ck_assert_ptr_eq(impls[last_add], low_impl);
  xhal_op_support_t s = support_of(high_impl);
  ck_assert_uint_eq(s.from_plugin, 0);
  ck_assert_uint_eq(s.has_limits, 1);
  ck_assert_int_eq(s.priority, 1000);
  ck_assert_str_eq(s.name, "framework.add.high");
  ck_assert_uint_eq(s.limits.flags, limits.flags);
  ck_assert_uint_eq(s.limits.broadcasts,
                    XHAL_BROADCAST_SAME | XHAL_BROADCAST_ROW);
  ck_assert_uint_eq(s.limits.max_rank, 4);
  ck_assert_uint_eq(s.limits.max_row, 4096);
  ck_assert_uint_eq(s.limits.max_dim, 0);
  ck_assert_uint_eq(s.limits.axes, 0);
  /* The listing's first entry agrees with what a lookup picks. */
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_ADD);
  call.num_inputs = 2;
  for (int i = 0; i < 3; ++i) {
    xhal_tensor_t* t = i < 2 ? &call.inputs[i] : &call.outputs[0];
    t->desc.dtype = XHAL_DTYPE_F32;
    t->desc.rank = 1;
    t->desc.dims[0] = 8;
  }
  xhal_op_impl_t picked = NULL;
  ck_assert_int_eq(xhal_registry_lookup(g_device, &call, &picked), XHAL_OK);
  ck_assert_ptr_eq(picked, high_impl);

  /* A short array gets the first entries and the full count. */
  xhal_op_impl_t two[2] = {NULL, NULL};
  uint32_t total = 0;
  ck_assert_int_eq(xhal_registry_list(g_device, 2, two, &total), XHAL_OK);
  ck_assert_uint_eq(total, count);
  ck_assert_ptr_eq(two[0], impls[0]);
  ck_assert_ptr_eq(two[1], impls[1]);
  free(impls);
}
END_TEST

START_TEST(test_list_and_support_errors) {
  uint32_t count = 0;
  ck_assert_status_msg(xhal_registry_list(NULL, 0, NULL, &count),
                       XHAL_ERROR_INVALID_HANDLE, "device");
  ck_assert_status_msg(xhal_registry_list(g_device, 0, NULL, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_count");
  ck_assert_status_msg(xhal_registry_list(g_device, 3, NULL, &count),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_impls");
  xhal_op_impl_t one = NULL;
  ck_assert_int_eq(xhal_registry_list(g_device, 1, &one, &count), XHAL_OK);
  ck_assert_ptr_nonnull(one);
  xhal_op_support_t s;
  memset(&s, 0, sizeof(s));
  s.struct_size = sizeof(s);
  ck_assert_status_msg(xhal_op_impl_support(NULL, &s),
                       XHAL_ERROR_INVALID_HANDLE, "impl");
  ck_assert_status_msg(xhal_op_impl_support(one, NULL),
                       XHAL_ERROR_INVALID_ARGUMENT, "out_support");
  /* A record whose size the caller did not set is not written. */
  memset(&s, 0xAB, sizeof(s));
  s.struct_size = 0;
  ck_assert_status_msg(xhal_op_impl_support(one, &s),
                       XHAL_ERROR_INVALID_ARGUMENT, "struct_size");
  ck_assert_uint_eq(s.op, 0xABABABABu);
  s.struct_size = (uint32_t)offsetof(xhal_op_support_t, name);
  ck_assert_status_msg(xhal_op_impl_support(one, &s),
                       XHAL_ERROR_INVALID_ARGUMENT, "struct_size");
}
END_TEST

START_TEST(test_register_rejects_bad_limits) {
  uint32_t before = 0, after = 0;
  ck_assert_int_eq(xhal_registry_list(g_device, 0, NULL, &before), XHAL_OK);
  xhal_op_limits_t limits;
  xhal_op_impl_desc_t desc = add_desc(5, "framework.add.limited");
  desc.limits = &limits;
  struct {
    const char* needle;
    xhal_op_t op;
    uint32_t struct_size, flags, broadcasts, axes, max_rank, reserved;
  } bad[] = {
      {"struct_size", XHAL_OP_ADD, 8, XHAL_OP_LIMIT_ROW, 0, 0, 0, 0},
      {"unknown bits", XHAL_OP_ADD, sizeof(limits), 1u << 9, 0, 0, 0, 0},
      {"does not apply", XHAL_OP_ADD, sizeof(limits), XHAL_OP_LIMIT_AXES, 0,
       XHAL_AXIS_INNERMOST, 0, 0},
      {"does not apply", XHAL_OP_MATMUL, sizeof(limits),
       XHAL_OP_LIMIT_BROADCASTS, XHAL_BROADCAST_SAME, 0, 0, 0},
      {"does not apply", XHAL_OP_MATMUL, sizeof(limits), XHAL_OP_LIMIT_ROW, 0,
       0, 0, 0},
      {"broadcasts", XHAL_OP_ADD, sizeof(limits), XHAL_OP_LIMIT_BROADCASTS, 0,
       0, 0, 0},
      {"broadcasts", XHAL_OP_ADD, sizeof(limits), XHAL_OP_LIMIT_BROADCASTS,
       1u << 7, 0, 0, 0},
      {"axes", XHAL_OP_SOFTMAX, sizeof(limits), XHAL_OP_LIMIT_AXES, 0, 0, 0, 0},
      {"max_rank", XHAL_OP_ADD, sizeof(limits), XHAL_OP_LIMIT_RANK, 0, 0,
       XHAL_MAX_RANK + 1, 0},
      {"reserved", XHAL_OP_ADD, sizeof(limits), 0, 0, 0, 0, 1},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    memset(&limits, 0, sizeof(limits));
    limits.struct_size = bad[i].struct_size;
    limits.flags = bad[i].flags;
    limits.broadcasts = bad[i].broadcasts;
    limits.axes = bad[i].axes;
    limits.max_rank = bad[i].max_rank;
    limits.reserved = bad[i].reserved;
    desc.op = bad[i].op;
    desc.num_dtypes = bad[i].op == XHAL_OP_SOFTMAX ? 2 : 3;
    if (bad[i].op == XHAL_OP_MATMUL) desc.num_dtypes = 4;
    for (uint32_t d = 0; d < desc.num_dtypes; ++d) {
      desc.dtypes[d] = XHAL_DTYPE_F32;
    }
    xhal_op_impl_t impl = (xhal_op_impl_t)&limits;
    ck_assert_status_msg(xhal_registry_register(g_instance, &desc, &impl),
                         XHAL_ERROR_INVALID_ARGUMENT, bad[i].needle);
    ck_assert_ptr_null(impl);
  }
  ck_assert_int_eq(xhal_registry_list(g_device, 0, NULL, &after), XHAL_OK);
  ck_assert_uint_eq(after, before);
}
END_TEST

START_TEST(test_register_accepts_a_1_3_desc) {
  /* A framework built against 1.3 passes a desc that ends before
   * `limits`: accepted, and whatever lies past its size is not read. */
  struct {
    xhal_op_impl_desc_t desc;
  } padded;
  padded.desc = add_desc(3, "framework.add.v12");
  padded.desc.struct_size = (uint32_t)offsetof(xhal_op_impl_desc_t, limits);
  memset(&padded.desc.limits, 0xFF, sizeof(padded.desc.limits));
  xhal_op_impl_t impl = NULL;
  ck_assert_int_eq(xhal_registry_register(g_instance, &padded.desc, &impl),
                   XHAL_OK);
  xhal_op_support_t s = support_of(impl);
  ck_assert_uint_eq(s.has_limits, 0);
  ck_assert_uint_eq(s.limits.flags, 0);
  padded.desc.struct_size -= 8;
  ck_assert_status_msg(xhal_registry_register(g_instance, &padded.desc, &impl),
                       XHAL_ERROR_INVALID_ARGUMENT, "struct_size");
}
END_TEST

int main(void) {
  Suite* s = suite_create("registry_list");
  TCase* tc = tcase_create("list");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_cpu_listing_is_the_catalog);
  tcase_add_test(tc, test_listing_has_framework_impls_in_lookup_order);
  tcase_add_test(tc, test_list_and_support_errors);
  tcase_add_test(tc, test_register_rejects_bad_limits);
  tcase_add_test(tc, test_register_accepts_a_1_3_desc);
  suite_add_tcase(s, tc);
  SRunner* runner = srunner_create(s);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
