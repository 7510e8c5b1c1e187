/*
 * npu_hal_test.c - the NPU plugin as a framework sees it, through libxhal
 * (xhal.h): discovery, operators picked by the registry and checked
 * against the reference, and injected faults arriving as failed events.
 */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xhal/xhal.h>

#ifdef NPU_TEST_HAVE_REFERENCE
#include "xhal_reference.h"
#endif

static xhal_instance_t g_inst;
static xhal_device_t g_dev;

static void write_config(const char* name, const char* text) {
  const char* dir = getenv("NPU_TEST_CONFIG_DIR");
  char path[1024];
  FILE* f;
  snprintf(path, sizeof(path), "%s/hal_%s.cfg", dir ? dir : "/tmp", name);
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  setenv("XHAL_NPU_CONFIG", path, 1);
}

static void open_instance(const char* cfg_name, const char* cfg) {
  xhal_instance_options_t o;
  const char* paths[1];
  uint32_t n = 0;
  write_config(cfg_name, cfg);
  paths[0] = getenv("NPU_PLUGIN_PATH");
  ck_assert_ptr_nonnull(paths[0]);
  xhal_instance_options_default(&o);
  o.plugin_paths = paths;
  o.plugin_path_count = 1;
  o.ignore_environment = 1;
  ck_assert_int_eq(xhal_instance_create(&o, &g_inst), XHAL_OK);
  ck_assert_int_eq(xhal_instance_device_count(g_inst, &n), XHAL_OK);
  ck_assert_uint_eq(n, 1);
  ck_assert_int_eq(xhal_instance_device(g_inst, 0, &g_dev), XHAL_OK);
}

static void close_instance(void) {
  xhal_instance_release(g_inst);
  g_inst = NULL;
  g_dev = NULL;
}

START_TEST(discovered_as_npu) {
  xhal_device_properties_t p;
  open_instance("basic", "spad_bytes = 512K\n");
  ck_assert_int_eq(xhal_device_properties(g_dev, &p), XHAL_OK);
  ck_assert_uint_eq(p.kind, XHAL_DEVICE_KIND_NPU);
  ck_assert_str_eq(xhal_device_plugin_name(g_dev), "npu");
  close_instance();
}
END_TEST

/* The support record of the NPU's implementation of `op` for the f32
 * signature. */
static xhal_op_support_t npu_support(xhal_op_t op) {
  xhal_op_impl_t impls[256];
  uint32_t count = 0;
  ck_assert_int_eq(xhal_registry_list(g_dev, 256, impls, &count), XHAL_OK);
  ck_assert_uint_le(count, 256);
  for (uint32_t i = 0; i < count; ++i) {
    xhal_op_support_t s;
    s.struct_size = sizeof(s);
    ck_assert_int_eq(xhal_op_impl_support(impls[i], &s), XHAL_OK);
    if (s.op == op && s.dtypes[0] == XHAL_DTYPE_F32) return s;
  }
  ck_abort_msg("no f32 implementation of op %u listed", op);
  xhal_op_support_t none;
  memset(&none, 0, sizeof(none));
  return none;
}

static void set_desc(xhal_tensor_t* t, uint32_t rank, const uint64_t* dims) {
  memset(t, 0, sizeof(*t));
  t->desc.dtype = XHAL_DTYPE_F32;
  t->desc.rank = rank;
  memcpy(t->desc.dims, dims, rank * sizeof(uint64_t));
}

/* XHAL_OK when the NPU takes the call, XHAL_ERROR_NOT_FOUND when not. */
static xhal_status_t npu_takes(const xhal_op_call_t* call) {
  xhal_op_impl_t impl;
  return xhal_registry_lookup(g_dev, call, &impl);
}

static xhal_status_t binary(uint32_t ra, const uint64_t* a, uint32_t rb,
                            const uint64_t* b, uint32_t ro, const uint64_t* o) {
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_ADD);
  call.num_inputs = 2;
  set_desc(&call.inputs[0], ra, a);
  set_desc(&call.inputs[1], rb, b);
  set_desc(&call.outputs[0], ro, o);
  return npu_takes(&call);
}

/* The limits the NPU declares are the ones its supports() applies: each
 * declared boundary is taken on one side and refused on the other. */
START_TEST(declared_limits_match_lookups) {
  open_instance("limits", "spad_bytes = 256K\n");
  xhal_op_support_t add = npu_support(XHAL_OP_ADD);
  ck_assert_uint_eq(add.has_supports, 1);
  ck_assert_uint_eq(add.limits.flags,
                    XHAL_OP_LIMIT_BROADCASTS | XHAL_OP_LIMIT_ROW);
  ck_assert_uint_eq(add.limits.broadcasts,
                    XHAL_BROADCAST_SAME | XHAL_BROADCAST_SCALAR |
                        XHAL_BROADCAST_ROW | XHAL_BROADCAST_COLUMN);
  uint64_t row = add.limits.max_row;
  ck_assert_uint_gt(row, 1000);
  ck_assert_uint_lt(row, 256 * 1024 / 12);
  /* ROW: a trailing block of `row` elements, then one more. */
  ck_assert_int_eq(binary(2, (uint64_t[]){3, row}, 1, (uint64_t[]){row}, 2,
                          (uint64_t[]){3, row}),
                   XHAL_OK);
  ck_assert_int_eq(binary(2, (uint64_t[]){3, row + 1}, 1, (uint64_t[]){row + 1},
                          2, (uint64_t[]){3, row + 1}),
                   XHAL_ERROR_NOT_FOUND);
  /* COLUMN: the same bound on the output's last dim. */
  ck_assert_int_eq(binary(2, (uint64_t[]){3, row}, 2, (uint64_t[]){3, 1}, 2,
                          (uint64_t[]){3, row}),
                   XHAL_OK);
  ck_assert_int_eq(binary(2, (uint64_t[]){3, row + 1}, 2, (uint64_t[]){3, 1}, 2,
                          (uint64_t[]){3, row + 1}),
                   XHAL_ERROR_NOT_FOUND);
  /* SAME has no row: far past max_row still runs flat. */
  ck_assert_int_eq(binary(1, (uint64_t[]){4 * row}, 1, (uint64_t[]){4 * row}, 1,
                          (uint64_t[]){4 * row}),
                   XHAL_OK);
  /* GENERAL (both operands broadcast) is not declared, and refused. */
  ck_assert_int_eq(binary(2, (uint64_t[]){3, 1}, 2, (uint64_t[]){1, 4}, 2,
                          (uint64_t[]){3, 4}),
                   XHAL_ERROR_NOT_FOUND);

  xhal_op_support_t sm = npu_support(XHAL_OP_SOFTMAX);
  ck_assert_uint_eq(sm.limits.flags, XHAL_OP_LIMIT_AXES | XHAL_OP_LIMIT_ROW);
  ck_assert_uint_eq(sm.limits.axes, XHAL_AXIS_INNERMOST);
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_SOFTMAX);
  call.num_inputs = 1;
  set_desc(&call.inputs[0], 3, (uint64_t[]){4, 8, 1});
  set_desc(&call.outputs[0], 3, (uint64_t[]){4, 8, 1});
  call.attrs.axis = 1; /* only a size-1 dim after it: innermost */
  ck_assert_int_eq(npu_takes(&call), XHAL_OK);
  call.attrs.axis = 0; /* an OUTER axis */
  ck_assert_int_eq(npu_takes(&call), XHAL_ERROR_NOT_FOUND);
  call.attrs.axis = -1;
  set_desc(&call.inputs[0], 2, (uint64_t[]){2, sm.limits.max_row});
  set_desc(&call.outputs[0], 2, (uint64_t[]){2, sm.limits.max_row});
  ck_assert_int_eq(npu_takes(&call), XHAL_OK);
  set_desc(&call.inputs[0], 2, (uint64_t[]){2, sm.limits.max_row + 1});
  set_desc(&call.outputs[0], 2, (uint64_t[]){2, sm.limits.max_row + 1});
  ck_assert_int_eq(npu_takes(&call), XHAL_ERROR_NOT_FOUND);
  ck_assert_uint_eq(npu_support(XHAL_OP_LAYER_NORM).limits.max_row,
                    sm.limits.max_row);

  xhal_op_support_t mm = npu_support(XHAL_OP_MATMUL);
  ck_assert_uint_eq(mm.limits.flags, XHAL_OP_LIMIT_DIM);
  uint64_t big = mm.limits.max_dim;
  xhal_op_call_init(&call, XHAL_OP_MATMUL);
  call.num_inputs = 2;
  set_desc(&call.inputs[0], 2, (uint64_t[]){big, 1});
  set_desc(&call.inputs[1], 2, (uint64_t[]){1, 1});
  set_desc(&call.outputs[0], 2, (uint64_t[]){big, 1});
  ck_assert_int_eq(npu_takes(&call), XHAL_OK);
  set_desc(&call.inputs[0], 2, (uint64_t[]){big + 1, 1});
  set_desc(&call.outputs[0], 2, (uint64_t[]){big + 1, 1});
  ck_assert_int_eq(npu_takes(&call), XHAL_ERROR_NOT_FOUND);

  ck_assert_uint_eq(npu_support(XHAL_OP_CONV2D).limits.flags,
                    XHAL_OP_LIMIT_PARTIAL);
  xhal_op_support_t relu = npu_support(XHAL_OP_RELU);
  ck_assert_uint_eq(relu.has_limits, 1); /* declared: no limit */
  ck_assert_uint_eq(relu.limits.flags, 0);
  close_instance();
}
END_TEST

static float frand(unsigned* s) {
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) % 20001u) / 10000.0f - 1.0f;
}

/* matmul and softmax picked by the registry on the NPU, checked against
 * the reference. */
START_TEST(registry_ops_match_reference) {
  enum { M = 100, K = 300, N = 70 };
  static float a[M * K], b[K * N], y[M * N], want[M * N];
  xhal_buffer_t ba, bb, by;
  xhal_stream_t s;
  xhal_op_call_t call;
  xhal_op_impl_t impl;
  xhal_op_impl_info_t info;
  unsigned seed = 3;
  int i;
  open_instance("ops", "spad_bytes = 512K\n");
  for (i = 0; i < M * K; ++i) a[i] = frand(&seed);
  for (i = 0; i < K * N; ++i) b[i] = frand(&seed);
  ck_assert_int_eq(xhal_buffer_alloc(g_dev, sizeof(a), 0, &ba), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_dev, sizeof(b), 0, &bb), XHAL_OK);
  ck_assert_int_eq(xhal_buffer_alloc(g_dev, sizeof(y), 0, &by), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(g_dev, &s), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, ba, 0, a, sizeof(a)), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, bb, 0, b, sizeof(b)), XHAL_OK);
  xhal_op_call_init(&call, XHAL_OP_MATMUL);
  call.num_inputs = 2;
  call.num_outputs = 1;
  call.inputs[0].desc.dtype = XHAL_DTYPE_F32;
  call.inputs[0].desc.rank = 2;
  call.inputs[0].desc.dims[0] = M;
  call.inputs[0].desc.dims[1] = K;
  call.inputs[0].buffer = ba;
  call.inputs[1].desc = call.inputs[0].desc;
  call.inputs[1].desc.dims[0] = K;
  call.inputs[1].desc.dims[1] = N;
  call.inputs[1].buffer = bb;
  call.outputs[0].desc = call.inputs[0].desc;
  call.outputs[0].desc.dims[1] = N;
  call.outputs[0].buffer = by;
  ck_assert_int_eq(xhal_registry_lookup(g_dev, &call, &impl), XHAL_OK);
  ck_assert_int_eq(xhal_op_impl_info(impl, &info), XHAL_OK);
  ck_assert_str_eq(info.name, "npu.matmul.f32");
  ck_assert_int_eq(xhal_stream_enqueue_op(s, NULL, &call), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_read(s, by, 0, y, sizeof(y)), XHAL_OK);
  ck_assert_int_eq(xhal_stream_synchronize(s), XHAL_OK);
#ifdef NPU_TEST_HAVE_REFERENCE
  {
    xhal_plugin_op_call_t pc;
    const void* ins[2] = {a, b};
    memset(&pc, 0, sizeof(pc));
    pc.struct_size = (uint32_t)sizeof(pc);
    pc.op = XHAL_OP_MATMUL;
    pc.num_inputs = 2;
    pc.num_outputs = 1;
    pc.inputs[0].desc = call.inputs[0].desc;
    pc.inputs[1].desc = call.inputs[1].desc;
    pc.outputs[0].desc = call.outputs[0].desc;
    pc.attrs = call.attrs;
    ck_assert_int_eq(xhal_ref_run(&pc, ins, want), XHAL_OK);
    ck_assert_uint_eq(xhal_ref_compare(XHAL_DTYPE_F32, y, want, M * N,
                                       xhal_ref_tolerance(&pc)),
                      M * N);
    /* softmax of the product, in place on the device. */
    xhal_op_call_init(&call, XHAL_OP_SOFTMAX);
    call.num_inputs = 1;
    call.num_outputs = 1;
    call.inputs[0].desc = pc.outputs[0].desc;
    call.inputs[0].buffer = by;
    call.outputs[0].desc = pc.outputs[0].desc;
    call.outputs[0].buffer = ba; /* reuse: M*N <= M*K */
    ck_assert_int_eq(xhal_stream_enqueue_op(s, NULL, &call), XHAL_OK);
    ck_assert_int_eq(xhal_stream_enqueue_read(s, ba, 0, y, sizeof(y)), XHAL_OK);
    ck_assert_int_eq(xhal_stream_synchronize(s), XHAL_OK);
    pc.op = XHAL_OP_SOFTMAX;
    pc.num_inputs = 1;
    pc.inputs[0].desc = call.inputs[0].desc;
    pc.attrs = call.attrs;
    ins[0] = want;
    {
      static float sm[M * N];
      ck_assert_int_eq(xhal_ref_run(&pc, ins, sm), XHAL_OK);
      ck_assert_uint_eq(xhal_ref_compare(XHAL_DTYPE_F32, y, sm, M * N,
                                         xhal_ref_tolerance(&pc)),
                        M * N);
    }
  }
#else
  (void)want;
#endif
  xhal_stream_release(s);
  xhal_buffer_release(ba);
  xhal_buffer_release(bb);
  xhal_buffer_release(by);
  close_instance();
}
END_TEST

START_TEST(out_of_range_write_is_rejected) {
  xhal_buffer_t buf;
  xhal_stream_t s;
  char data[64] = {0};
  open_instance("range", "");
  ck_assert_int_eq(xhal_buffer_alloc(g_dev, 32, 0, &buf), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(g_dev, &s), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, buf, 16, data, 32),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(xhal_stream_synchronize(s), XHAL_OK);
  xhal_stream_release(s);
  xhal_buffer_release(buf);
  close_instance();
}
END_TEST

/* An injected fault reaches the framework as a failed event, promptly. */
static void expect_failed_event(const char* name, const char* cfg,
                                xhal_status_t want) {
  xhal_buffer_t buf;
  xhal_stream_t s;
  xhal_event_t e;
  uint32_t v = 1;
  xhal_status_t st;
  struct timespec t0, t1;
  open_instance(name, cfg);
  ck_assert_int_eq(xhal_buffer_alloc(g_dev, 64, 0, &buf), XHAL_OK);
  ck_assert_int_eq(xhal_stream_create(g_dev, &s), XHAL_OK);
  ck_assert_int_eq(xhal_event_create(g_dev, &e), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, buf, 0, &v, 4), XHAL_OK);
  ck_assert_int_eq(xhal_stream_enqueue_write(s, buf, 4, &v, 4), XHAL_OK);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  st = xhal_stream_record_event(s, e);
  if (st == XHAL_OK) {
    ck_assert_int_eq(xhal_event_wait(e, 10ull * 1000000000ull), want);
  } else {
    /* A lost device may refuse the record itself. */
    ck_assert_int_eq(want, XHAL_ERROR_DEVICE_LOST);
    ck_assert_int_eq(st, XHAL_ERROR_DEVICE_LOST);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);
  ck_assert_int_eq(xhal_stream_synchronize(s), want);
  xhal_event_release(e);
  xhal_stream_release(s);
  xhal_buffer_release(buf);
  close_instance();
}

START_TEST(dma_fault_fails_event) {
  expect_failed_event("dma", "fault.dma_error_at = 2\n",
                      XHAL_ERROR_EXECUTION_FAILED);
}
END_TEST

START_TEST(hang_fails_event) {
  expect_failed_event("hang", "fault.hang_at = 3\ndriver.watchdog_ms = 200\n",
                      XHAL_ERROR_EXECUTION_FAILED);
}
END_TEST

START_TEST(device_loss_fails_event) {
  expect_failed_event("lost", "fault.device_lost_at = 3\n",
                      XHAL_ERROR_DEVICE_LOST);
}
END_TEST

static Suite* hal_suite(void) {
  Suite* s = suite_create("npu_hal");
  TCase* tc = tcase_create("hal");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, discovered_as_npu);
  tcase_add_test(tc, registry_ops_match_reference);
  tcase_add_test(tc, declared_limits_match_lookups);
  tcase_add_test(tc, out_of_range_write_is_rejected);
  tcase_add_test(tc, dma_fault_fails_event);
  tcase_add_test(tc, hang_fails_event);
  tcase_add_test(tc, device_loss_fails_event);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(hal_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
