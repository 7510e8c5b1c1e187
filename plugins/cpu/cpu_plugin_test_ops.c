/*
 * cpu_plugin_test_ops.c - operators through the implementations the
 * plugin registered with the (fake) host, checked against the reference
 * implementation of conformance/reference/ with the catalog's tolerances.
 * Operands sit at odd element offsets inside their buffers, and the bytes
 * around the output are checked to be untouched.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xhal_reference.h>

#include "cpu_plugin_test.h"

#define GUARD 64u
#define SENTINEL 0xCD

typedef struct operand {
  xhal_plugin_buffer_t buffer;
  uint8_t* host; /* GUARD + bytes + GUARD */
  uint64_t bytes;
  uint64_t offset;
} operand_t;

static int operand_make(xhal_plugin_stream_t s, xhal_plugin_tensor_t* t,
                        operand_t* o, uint64_t seed, int random) {
  uint32_t esize = xhal_dtype_size(t->desc.dtype);
  uint64_t total;
  o->bytes = xhal_ref_bytes(&t->desc);
  if (o->bytes == UINT64_MAX) return 0;
  o->offset = GUARD + 3u * esize; /* element aligned, not 64-aligned */
  total = o->offset + o->bytes + GUARD;
  o->host = malloc(total);
  if (o->host == NULL) return 0;
  memset(o->host, SENTINEL, total);
  if (random) {
    int is_int =
        t->desc.dtype == XHAL_DTYPE_I8 || t->desc.dtype == XHAL_DTYPE_I32;
    if (xhal_ref_fill_random(
            t->desc.dtype, o->host + o->offset, xhal_ref_numel(&t->desc), seed,
            is_int ? -100.0 : -2.0, is_int ? 100.0 : 2.0) != XHAL_OK)
      return 0;
  }
  if (T->buffer_alloc(g_dev, total, 0, &o->buffer) != XHAL_OK) return 0;
  if (T->enqueue_write(s, o->buffer, 0, o->host, total) != XHAL_OK) return 0;
  t->buffer = o->buffer;
  t->offset = o->offset;
  return 1;
}

static void operand_free(operand_t* o) {
  if (o->buffer != NULL) T->buffer_free(g_dev, o->buffer);
  free(o->host);
}

/* Runs `call` (descriptors and attrs set; output desc derived here) on
 * stream `s` through the registered implementation and compares with the
 * reference. Thread-safe: reports through `err` instead of asserting. */
static int run_op(xhal_plugin_stream_t s, xhal_plugin_op_call_t* call,
                  uint64_t seed, char* err, size_t err_size) {
  operand_t in[XHAL_MAX_OP_INPUTS];
  operand_t out;
  const void* ref_inputs[XHAL_MAX_OP_INPUTS] = {NULL, NULL, NULL, NULL};
  const xhal_plugin_op_impl_t* impl;
  uint8_t* got = NULL;
  uint8_t* want = NULL;
  uint64_t numel, bad, i;
  xhal_status_t status;
  int ok = 0;
  uint32_t k;
  memset(in, 0, sizeof(in));
  memset(&out, 0, sizeof(out));
  impl = fake_find_impl(&g_host, call->op, call->inputs[0].desc.dtype);
  if (impl == NULL) {
    snprintf(err, err_size, "no implementation of op %u", call->op);
    return 0;
  }
  if (xhal_ref_output_desc(call, &call->outputs[0].desc) != XHAL_OK) {
    snprintf(err, err_size, "bad test call");
    return 0;
  }
  for (k = 0; k < call->num_inputs; ++k) {
    if (!operand_make(s, &call->inputs[k], &in[k], seed + k, 1)) goto done;
    ref_inputs[k] = in[k].host + in[k].offset;
  }
  if (!operand_make(s, &call->outputs[0], &out, seed + 99, 1)) goto done;
  got = malloc(out.offset + out.bytes + GUARD);
  want = malloc(out.bytes + 1);
  if (got == NULL || want == NULL) goto done;
  memcpy(want, out.host + out.offset, out.bytes); /* the prior output */
  status = impl->enqueue(impl->user_data, s, call);
  if (status != XHAL_OK) {
    snprintf(err, err_size, "enqueue: status %d: %s", (int)status,
             fake_last_error());
    goto done;
  }
  if (T->enqueue_read(s, out.buffer, 0, got, out.offset + out.bytes + GUARD) !=
          XHAL_OK ||
      T->stream_synchronize(s) != XHAL_OK) {
    snprintf(err, err_size, "read/synchronize failed: %s", fake_last_error());
    goto done;
  }
  status = xhal_ref_run(call, ref_inputs, want);
  if (status != XHAL_OK) {
    snprintf(err, err_size, "reference: status %d", (int)status);
    goto done;
  }
  numel = xhal_ref_numel(&call->outputs[0].desc);
  bad = xhal_ref_compare(call->outputs[0].desc.dtype, got + out.offset, want,
                         numel, xhal_ref_tolerance(call));
  if (bad != numel) {
    char line[256];
    xhal_ref_describe_mismatch(call->outputs[0].desc.dtype, got + out.offset,
                               want, bad, xhal_ref_tolerance(call), line,
                               sizeof(line));
    snprintf(err, err_size, "op %u: %s", call->op, line);
    goto done;
  }
  for (i = 0; i < out.offset; ++i)
    if (got[i] != SENTINEL) break;
  if (i != out.offset) {
    snprintf(err, err_size, "wrote before the output at byte %llu",
             (unsigned long long)i);
    goto done;
  }
  for (i = 0; i < GUARD; ++i)
    if (got[out.offset + out.bytes + i] != SENTINEL) break;
  if (i != GUARD) {
    snprintf(err, err_size, "wrote past the output");
    goto done;
  }
  ok = 1;
done:
  /* Nothing may still be reading or writing the memory freed below. */
  (void)T->stream_synchronize(s);
  for (k = 0; k < call->num_inputs; ++k) operand_free(&in[k]);
  operand_free(&out);
  free(got);
  free(want);
  return ok;
}

static xhal_tensor_desc_t desc2(xhal_dtype_t dt, uint64_t a, uint64_t b) {
  uint64_t dims[2] = {a, b};
  return xhal_ref_desc(dt, 2, dims);
}

static void matmul_call(xhal_plugin_op_call_t* call, xhal_dtype_t dt,
                        xhal_dtype_t acc, uint64_t m, uint64_t k, uint64_t n,
                        uint32_t ta, uint32_t tb, float alpha, float beta,
                        int bias) {
  xhal_ref_call_init(call, XHAL_OP_MATMUL);
  call->num_inputs = bias ? 3 : 2;
  call->inputs[0].desc = ta ? desc2(dt, k, m) : desc2(dt, m, k);
  call->inputs[1].desc = tb ? desc2(dt, n, k) : desc2(dt, k, n);
  if (bias) call->inputs[2].desc = xhal_ref_desc(acc, 1, &n);
  call->outputs[0].desc.dtype = acc;
  call->attrs.transpose_a = ta;
  call->attrs.transpose_b = tb;
  call->attrs.alpha = alpha;
  call->attrs.beta = beta;
}

static void check_op(xhal_plugin_op_call_t* call, uint64_t seed) {
  char err[512] = "";
  xhal_plugin_stream_t s = NULL;
  ck_assert_int_eq(T->stream_create(g_dev, 0, &s), XHAL_OK);
  ck_assert_msg(run_op(s, call, seed, err, sizeof(err)), "%s", err);
  T->stream_destroy(s);
}

START_TEST(test_registration) {
  uint32_t i;
  ck_assert_uint_gt(g_host.impl_count, 0);
  for (i = 0; i < g_host.impl_count; ++i) {
    const xhal_plugin_op_impl_t* impl = &g_host.impls[i];
    ck_assert_uint_eq(impl->struct_size, sizeof(*impl));
    ck_assert_uint_eq(impl->device_index, 0);
    ck_assert_ptr_nonnull(impl->name);
    ck_assert_ptr_nonnull(impl->enqueue);
    ck_assert_ptr_null(impl->supports);
    ck_assert_ptr_eq(impl->user_data, g_ctx);
    ck_assert_uint_ge(impl->num_dtypes, 2);
  }
  ck_assert_ptr_nonnull(
      fake_find_impl(&g_host, XHAL_OP_MATMUL, XHAL_DTYPE_F32));
  ck_assert_ptr_nonnull(
      fake_find_impl(&g_host, XHAL_OP_SOFTMAX, XHAL_DTYPE_F32));
}
END_TEST

START_TEST(test_matmul_f32) {
  static const struct {
    uint64_t m, k, n;
    uint32_t ta, tb;
    float alpha, beta;
    int bias;
  } kCases[] = {
      {1, 1, 1, 0, 0, 1.0f, 0.0f, 0},       {7, 13, 5, 1, 0, 1.0f, 0.0f, 0},
      {33, 17, 65, 0, 1, 0.5f, 2.0f, 1},    {128, 96, 200, 1, 1, 1.0f, 0.0f, 1},
      {64, 0, 8, 0, 0, 1.0f, 0.0f, 1},      {0, 5, 3, 0, 0, 1.0f, 0.0f, 0},
      {257, 129, 263, 0, 0, 1.0f, 1.0f, 0},
  };
  size_t i;
  for (i = 0; i < sizeof(kCases) / sizeof(kCases[0]); ++i) {
    xhal_plugin_op_call_t call;
    matmul_call(&call, XHAL_DTYPE_F32, XHAL_DTYPE_F32, kCases[i].m, kCases[i].k,
                kCases[i].n, kCases[i].ta, kCases[i].tb, kCases[i].alpha,
                kCases[i].beta, kCases[i].bias);
    check_op(&call, 100 + i);
  }
}
END_TEST

START_TEST(test_matmul_f16_i8) {
  xhal_plugin_op_call_t call;
  matmul_call(&call, XHAL_DTYPE_F16, XHAL_DTYPE_F16, 19, 31, 23, 0, 1, 1.0f,
              0.0f, 1);
  check_op(&call, 7);
  matmul_call(&call, XHAL_DTYPE_I8, XHAL_DTYPE_I32, 17, 40, 9, 1, 0, 1.0f, 0.0f,
              1);
  check_op(&call, 8);
}
END_TEST

static void softmax_call(xhal_plugin_op_call_t* call, xhal_dtype_t dt,
                         uint32_t rank, const uint64_t* dims, int32_t axis) {
  xhal_ref_call_init(call, XHAL_OP_SOFTMAX);
  call->num_inputs = 1;
  call->inputs[0].desc = xhal_ref_desc(dt, rank, dims);
  call->attrs.axis = axis;
}

START_TEST(test_softmax) {
  static const uint64_t d1[] = {3, 5};
  static const uint64_t d2[] = {4, 1, 7};
  static const uint64_t d3[] = {2, 3, 40000};
  static const uint64_t d4[] = {5, 9};
  static const uint64_t d5[] = {1000, 301};
  xhal_plugin_op_call_t call;
  softmax_call(&call, XHAL_DTYPE_F32, 2, d1, -1);
  check_op(&call, 1);
  softmax_call(&call, XHAL_DTYPE_F32, 3, d2, 0);
  check_op(&call, 2);
  softmax_call(&call, XHAL_DTYPE_F32, 3, d3, 1);
  check_op(&call, 3);
  softmax_call(&call, XHAL_DTYPE_F32, 2, d5, -1);
  check_op(&call, 5);
  softmax_call(&call, XHAL_DTYPE_F16, 2, d4, 1);
  check_op(&call, 4);
}
END_TEST

/* Large enough to be split over the pool. */
START_TEST(test_add_broadcast_pool) {
  static const uint64_t a[] = {600, 500};
  static const uint64_t b[] = {500};
  xhal_plugin_op_call_t call;
  xhal_ref_call_init(&call, XHAL_OP_ADD);
  call.num_inputs = 2;
  call.inputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, a);
  call.inputs[1].desc = xhal_ref_desc(XHAL_DTYPE_F32, 1, b);
  check_op(&call, 11);
}
END_TEST

START_TEST(test_op_bad_calls) {
  const xhal_plugin_op_impl_t* impl =
      fake_find_impl(&g_host, XHAL_OP_SOFTMAX, XHAL_DTYPE_F32);
  static const uint64_t d[] = {4, 4};
  xhal_plugin_stream_t s = NULL;
  xhal_plugin_buffer_t b = test_alloc(128);
  xhal_plugin_op_call_t call;
  ck_assert_ptr_nonnull(impl);
  ck_assert_int_eq(T->stream_create(g_dev, 0, &s), XHAL_OK);
  ck_assert_int_eq(T->enqueue_fill(s, b, 0, 128, "\0", 1), XHAL_OK);
  softmax_call(&call, XHAL_DTYPE_F32, 2, d, -1);
  call.outputs[0].desc = call.inputs[0].desc;
  call.inputs[0].buffer = b;
  call.outputs[0].buffer = b;
  call.outputs[0].offset = 64;
  ck_assert_int_eq(impl->enqueue(impl->user_data, s, &call), XHAL_OK);
  call.outputs[0].offset = 68; /* 64 bytes from offset 68 overrun */
  fake_clear_error();
  ck_assert_int_eq(impl->enqueue(impl->user_data, s, &call),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_ptr_nonnull(strstr(fake_last_error(), "output"));
  call.outputs[0].offset = 64;
  call.inputs[0].buffer = NULL;
  ck_assert_int_eq(impl->enqueue(impl->user_data, s, &call),
                   XHAL_ERROR_INVALID_HANDLE);
  call.inputs[0].buffer = b;
  call.num_outputs = 0;
  ck_assert_int_eq(impl->enqueue(impl->user_data, s, &call),
                   XHAL_ERROR_INVALID_ARGUMENT);
  call.num_outputs = 1;
  call.struct_size = 8;
  ck_assert_int_eq(impl->enqueue(impl->user_data, s, &call),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(impl->enqueue(impl->user_data, s, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  test_sync(s);
  T->stream_destroy(s);
  T->buffer_free(g_dev, b);
}
END_TEST

/* A kernel that fails at execution fails the stream and later events. */
START_TEST(test_op_failure_propagates) {
  const xhal_plugin_op_impl_t* impl =
      fake_find_impl(&g_host, XHAL_OP_SOFTMAX, XHAL_DTYPE_F32);
  static const uint64_t d[] = {4, 4};
  xhal_plugin_stream_t s = NULL;
  xhal_plugin_event_t e = NULL;
  xhal_plugin_buffer_t b = test_alloc(64);
  xhal_plugin_op_call_t call;
  xhal_status_t status;
  ck_assert_int_eq(T->stream_create(g_dev, 0, &s), XHAL_OK);
  ck_assert_int_eq(T->event_create(g_dev, &e), XHAL_OK);
  softmax_call(&call, XHAL_DTYPE_F32, 2, d, -1);
  call.op = XHAL_OP_CUSTOM_BASE + 77; /* no kernel has this */
  call.outputs[0].desc = call.inputs[0].desc;
  call.inputs[0].buffer = b;
  call.outputs[0].buffer = b;
  ck_assert_int_eq(impl->enqueue(impl->user_data, s, &call), XHAL_OK);
  ck_assert_int_eq(T->event_record(e, s), XHAL_OK);
  status = T->stream_synchronize(s);
  ck_assert_int_ne(status, XHAL_OK);
  ck_assert_int_eq(T->event_query(e), status);
  T->event_destroy(e);
  T->stream_destroy(s);
  T->buffer_free(g_dev, b);
}
END_TEST

/* Several streams run operators at once: the pool is shared. */
#define OP_THREADS 3
static void* op_thread(void* arg) {
  static const uint64_t d[] = {300, 257};
  static char errs[OP_THREADS][512];
  uint32_t id = (uint32_t)(uintptr_t)arg;
  xhal_plugin_stream_t s = NULL;
  int it;
  if (T->stream_create(g_dev, 0, &s) != XHAL_OK) return "stream_create";
  for (it = 0; it < 6; ++it) {
    xhal_plugin_op_call_t call;
    if (it % 2 == 0)
      matmul_call(&call, XHAL_DTYPE_F32, XHAL_DTYPE_F32, 70, 300, 90, 0, 0,
                  1.0f, 0.0f, 1);
    else
      softmax_call(&call, XHAL_DTYPE_F32, 2, d, -1);
    if (!run_op(s, &call, id * 100u + (uint32_t)it, errs[id],
                sizeof(errs[id]))) {
      T->stream_destroy(s);
      return errs[id];
    }
  }
  T->stream_destroy(s);
  return NULL;
}

START_TEST(test_ops_concurrent_streams) {
  pthread_t threads[OP_THREADS];
  uintptr_t i;
  for (i = 0; i < OP_THREADS; ++i)
    ck_assert_int_eq(pthread_create(&threads[i], NULL, op_thread, (void*)i), 0);
  for (i = 0; i < OP_THREADS; ++i) {
    void* result = NULL;
    pthread_join(threads[i], &result);
    ck_assert_msg(result == NULL, "thread %u: %s", (unsigned)i,
                  (const char*)result);
  }
}
END_TEST

Suite* cpu_ops_suite(void) {
  Suite* suite = suite_create("cpu_plugin_ops");
  TCase* tc = tcase_create("ops");
  tcase_add_checked_fixture(tc, plugin_setup, plugin_teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_registration);
  tcase_add_test(tc, test_matmul_f32);
  tcase_add_test(tc, test_matmul_f16_i8);
  tcase_add_test(tc, test_softmax);
  tcase_add_test(tc, test_add_broadcast_pool);
  tcase_add_test(tc, test_op_bad_calls);
  tcase_add_test(tc, test_op_failure_propagates);
  tcase_add_test(tc, test_ops_concurrent_streams);
  suite_add_tcase(suite, tc);
  return suite;
}
