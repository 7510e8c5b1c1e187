/*
 * cpu_kernels_test.c - every entry of cpu_kernel_table() against the
 * reference kernels (conformance/reference) with the catalog's tolerances.
 *
 * Each entry runs a list of cases (random shapes, edge shapes: size 1, odd
 * sizes, zero-sized dims, broadcasting with leading 1s, negative axes,
 * transposes with alpha/beta/bias, conv2d with groups, dilation, stride
 * and padding) under four ways of running a parallel-for:
 *   - no parallel-for at all (par == NULL),
 *   - one serial call while claiming 4 threads (the threaded code paths run
 *     with a single chunk),
 *   - every chunk exactly `grain` long, run in reverse order,
 *   - real threads (a tiny pthread fork-join pool).
 * Outputs carry a guard zone that must stay untouched, and an output that
 * an operator must not read (matmul with beta == 0) is poisoned with NaN.
 * The same file also tests the build without OpenBLAS.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal_half.h>
#include <xhal_reference.h>

#include "cpu_kernels.h"
#include "cpu_kernels_internal.h"
#include "cpu_kernels_test.h"

/* ------------------------------------------------------- parallel-fors */

typedef struct pt_job {
  uint64_t n;
  uint64_t chunk;
  cpu_range_fn fn;
  void* ctx;
  atomic_uint_fast64_t next;
} pt_job_t;

static void* pt_worker(void* arg) {
  pt_job_t* j = (pt_job_t*)arg;
  for (;;) {
    uint64_t c = atomic_fetch_add(&j->next, 1);
    uint64_t b;
    if (c > j->n / j->chunk) break;
    b = c * j->chunk;
    if (b >= j->n) break;
    j->fn(j->ctx, b, b + j->chunk < j->n ? b + j->chunk : j->n);
  }
  return NULL;
}

enum { PT_THREADS = 4 };

/* Fork-join over PT_THREADS threads (the caller is one). Chunks are a
 * multiple of grain, about two per thread, claimed dynamically. */
static void pthread_for(void* pool, uint64_t n, uint64_t grain, cpu_range_fn fn,
                        void* ctx) {
  pthread_t th[PT_THREADS - 1];
  int started[PT_THREADS - 1];
  pt_job_t j;
  uint64_t target = (n + 2 * PT_THREADS - 1) / (2 * PT_THREADS);
  int i;
  (void)pool;
  if (grain == 0) grain = 1;
  j.n = n;
  j.chunk = (target + grain - 1) / grain * grain;
  if (j.chunk == 0) j.chunk = grain;
  j.fn = fn;
  j.ctx = ctx;
  atomic_init(&j.next, 0);
  for (i = 0; i < PT_THREADS - 1; ++i) {
    started[i] = pthread_create(&th[i], NULL, pt_worker, &j) == 0;
  }
  pt_worker(&j);
  for (i = 0; i < PT_THREADS - 1; ++i) {
    if (started[i]) pthread_join(th[i], NULL);
  }
}

static void serial_for(void* pool, uint64_t n, uint64_t grain, cpu_range_fn fn,
                       void* ctx) {
  (void)pool;
  (void)grain;
  fn(ctx, 0, n);
}

/* Smallest legal chunks, last one first: catches kernels that depend on
 * chunk order or size. */
static void reverse_for(void* pool, uint64_t n, uint64_t grain, cpu_range_fn fn,
                        void* ctx) {
  uint64_t chunks;
  (void)pool;
  if (grain == 0) grain = 1;
  chunks = (n + grain - 1) / grain;
  while (chunks-- > 0) {
    uint64_t b = chunks * grain;
    fn(ctx, b, b + grain < n ? b + grain : n);
  }
}

enum { NUM_MODES = 4 };
static const cpu_parallel_t kModes[NUM_MODES - 1] = {
    {NULL, 4, serial_for},
    {NULL, 3, reverse_for},
    {NULL, PT_THREADS, pthread_for},
};
static const char* const kModeNames[NUM_MODES] = {"null", "serial", "reverse",
                                                  "pthread"};

static const cpu_parallel_t* mode_par(int mode) {
  return mode == 0 ? NULL : &kModes[mode - 1];
}

/* ----------------------------------------------------------- filling */

static const double kSpecials[] = {NAN,  INFINITY, -INFINITY, 0.0,
                                   -0.0, 1e30,     -1e30,     1e-30};

/* Values at the edges of every cast rule. */
static const double kCastEdges[] = {NAN,
                                    INFINITY,
                                    -INFINITY,
                                    0.0,
                                    -0.0,
                                    0.5,
                                    -0.5,
                                    1.5,
                                    2.5,
                                    -2.5,
                                    0.9999999,
                                    -0.9999999,
                                    126.9,
                                    127.0,
                                    127.5,
                                    128.0,
                                    -127.9,
                                    -128.0,
                                    -128.9,
                                    -129.0,
                                    255.0,
                                    2048.0,
                                    2049.0,
                                    2051.0,
                                    65504.0,
                                    65519.0,
                                    65520.0,
                                    65535.0,
                                    -65520.0,
                                    16777217.0,
                                    16777219.0,
                                    2147483520.0,
                                    2147483647.0,
                                    2147483648.0,
                                    -2147483648.0,
                                    -2147483904.0,
                                    1e10,
                                    -1e10,
                                    3e-8,
                                    -3e-8,
                                    6e-8,
                                    1e-10,
                                    5.960464477539063e-8,
                                    2.9802322387695312e-8,
                                    1e38,
                                    3.4028234663852886e38};

static void fill_input(const tcase_t* c, uint32_t i, void* data, uint64_t count,
                       uint64_t seed) {
  xhal_dtype_t dt = c->call.inputs[i].desc.dtype;
  double lo = c->lo;
  double hi = c->hi;
  uint64_t k;
  if (c->fill == FILL_ALL) {
    for (k = 0; k < count; ++k) {
      if (dt == XHAL_DTYPE_F16) {
        ((uint16_t*)data)[k] = (uint16_t)k;
      } else {
        ((uint8_t*)data)[k] = (uint8_t)k;
      }
    }
    return;
  }
  if (c->fill == FILL_CONST) {
    for (k = 0; k < count; ++k) xhal_ref_set(dt, data, k, lo);
    return;
  }
  if (!is_float(dt)) {
    /* Integers: the whole range, so i32 sums and products wrap. */
    lo = dt == XHAL_DTYPE_I8 ? -128.0 : -2147483648.0;
    hi = dt == XHAL_DTYPE_I8 ? 127.0 : 2147483647.0;
  }
  ck_assert_int_eq(xhal_ref_fill_random(dt, data, count, seed, lo, hi),
                   XHAL_OK);
  if (c->fill == FILL_SPECIALS && is_float(dt)) {
    /* A sum holding +1e30 and -1e30 depends on the order of its terms;
     * sums get the non-finite and zero specials only. */
    size_t n = c->call.op == XHAL_OP_REDUCE_SUM
                   ? 5
                   : sizeof(kSpecials) / sizeof(kSpecials[0]);
    for (k = 3; k < count; k += 7) {
      xhal_ref_set(dt, data, k, kSpecials[(k / 7 + i) % n]);
    }
  }
  if (c->fill == FILL_CAST) {
    size_t n = sizeof(kCastEdges) / sizeof(kCastEdges[0]);
    for (k = 0; k < count && k < 2 * n; ++k) {
      double v = kCastEdges[k % n];
      xhal_ref_set(dt, data, k, k < n ? v : -v);
    }
  }
}

/* ------------------------------------------------------------ running */

enum { GUARD = 64 };

static void* xmalloc(uint64_t bytes) {
  void* p = malloc((size_t)(bytes ? bytes : 1));
  ck_assert_ptr_nonnull(p);
  return p;
}

static void describe(const tcase_t* c, char* buf, size_t size) {
  const xhal_plugin_op_call_t* call = &c->call;
  size_t used = 0;
  uint32_t i;
  uint32_t d;
  for (i = 0; i < call->num_inputs && used < size; ++i) {
    const xhal_tensor_desc_t* t = &call->inputs[i].desc;
    used += (size_t)snprintf(buf + used, size - used, "%s[",
                             xhal_ref_dtype_name(t->dtype));
    for (d = 0; d < t->rank && used < size; ++d) {
      used += (size_t)snprintf(buf + used, size - used, d ? ",%llu" : "%llu",
                               (unsigned long long)t->dims[d]);
    }
    if (used < size) used += (size_t)snprintf(buf + used, size - used, "] ");
  }
  if (used < size) {
    snprintf(buf + used, size - used,
             "axis %d ta %u tb %u alpha %g beta %g stride %u,%u pad %u,%u "
             "dil %u,%u groups %u",
             call->attrs.axis, call->attrs.transpose_a, call->attrs.transpose_b,
             (double)call->attrs.alpha, (double)call->attrs.beta,
             call->attrs.stride[0], call->attrs.stride[1],
             call->attrs.padding[0], call->attrs.padding[1],
             call->attrs.dilation[0], call->attrs.dilation[1],
             call->attrs.groups);
  }
}

static void run_case(const cpu_kernel_entry_t* e, tcase_t* c, int index) {
  xhal_plugin_op_call_t* call = &c->call;
  const xhal_tensor_desc_t* out;
  void* in[XHAL_MAX_OP_INPUTS] = {NULL, NULL, NULL, NULL};
  const void* cin[XHAL_MAX_OP_INPUTS];
  uint64_t out_bytes;
  uint64_t out_count;
  void* prior;
  void* want;
  void* got;
  uint32_t i;
  int mode;
  char what[512];
  int reads_prior = e->op == XHAL_OP_MATMUL && call->attrs.beta != 0.0f;
  describe(c, what, sizeof(what));
  ck_assert_msg(xhal_ref_output_desc(call, &call->outputs[0].desc) == XHAL_OK,
                "%s case %d: reference rejects the call: %s", e->name, index,
                what);
  out = &call->outputs[0].desc;
  for (i = 0; i < call->num_inputs; ++i) {
    uint64_t bytes = xhal_ref_bytes(&call->inputs[i].desc);
    in[i] = xmalloc(bytes);
    fill_input(
        c, i, in[i], xhal_ref_numel(&call->inputs[i].desc),
        (uint64_t)index * 131u + i * 7u + e->op * 1009u + e->dtypes[0] * 17u);
    cin[i] = in[i];
  }
  out_bytes = xhal_ref_bytes(out);
  out_count = xhal_ref_numel(out);
  prior = xmalloc(out_bytes + GUARD);
  want = xmalloc(out_bytes + GUARD);
  got = xmalloc(out_bytes + GUARD);
  if (reads_prior) {
    /* The prior output takes part: any finite values. */
    ck_assert_int_eq(
        xhal_ref_fill_random(out->dtype, prior, out_count, 99, -1.0, 1.0),
        XHAL_OK);
  } else {
    /* Not to be read: all-ones bytes are NaN in f32 and f16. */
    memset(prior, 0xFF, (size_t)out_bytes);
  }
  memset((uint8_t*)prior + out_bytes, 0xA5, GUARD);
  memcpy(want, prior, (size_t)(out_bytes + GUARD));
  ck_assert_msg(xhal_ref_run(call, cin, want) == XHAL_OK,
                "%s case %d: reference failed: %s", e->name, index, what);

  for (mode = 0; mode < NUM_MODES; ++mode) {
    xhal_ref_tolerance_t tol = xhal_ref_tolerance(call);
    xhal_status_t st;
    uint64_t bad;
    memcpy(got, prior, (size_t)(out_bytes + GUARD));
    st = cpu_kernel_run(call, cin, got, mode_par(mode));
    ck_assert_msg(st == XHAL_OK, "%s case %d (%s): status %d: %s", e->name,
                  index, kModeNames[mode], (int)st, what);
    bad = xhal_ref_compare(out->dtype, got, want, out_count, tol);
    if (bad != out_count) {
      char msg[256];
      xhal_ref_describe_mismatch(out->dtype, got, want, bad, tol, msg,
                                 sizeof(msg));
      ck_abort_msg("%s case %d (%s): %s; call: %s", e->name, index,
                   kModeNames[mode], msg, what);
    }
    ck_assert_msg(memcmp((uint8_t*)got + out_bytes, (uint8_t*)prior + out_bytes,
                         GUARD) == 0,
                  "%s case %d (%s): wrote past the output: %s", e->name, index,
                  kModeNames[mode], what);
  }
  for (i = 0; i < call->num_inputs; ++i) free(in[i]);
  free(prior);
  free(want);
  free(got);
}

/* --------------------------------------------------------------- tests */

/* One table entry: all of its cases, every parallel mode. */
START_TEST(test_entry) {
  uint32_t count = 0;
  const cpu_kernel_entry_t* table = cpu_kernel_table(&count);
  static case_list_t list;
  int i;
  ck_assert_int_lt(_i, (int)count);
  build_cases(&table[_i], &list);
  ck_assert_msg(list.count > 0, "%s has no test cases", table[_i].name);
  for (i = 0; i < list.count; ++i) run_case(&table[_i], &list.c[i], i);
}
END_TEST

/* The table lists each catalog signature once, with a unique name. */
START_TEST(test_table) {
  uint32_t count = 0;
  const cpu_kernel_entry_t* t = cpu_kernel_table(&count);
  uint32_t i;
  uint32_t j;
  /* 6 binary ops (div has no i32) + 5 unary x 2 + matmul/conv2d x 3 +
   * softmax/layer_norm x 2 + reduces x 3 + transpose x 4 + cast 4 x 4. */
  ck_assert_uint_eq(count, 17 + 10 + 6 + 4 + 6 + 4 + 16);
  for (i = 0; i < count; ++i) {
    ck_assert_ptr_nonnull(t[i].name);
    ck_assert_msg(strncmp(t[i].name, "cpu.", 4) == 0, "%s", t[i].name);
    ck_assert_uint_ge(t[i].num_dtypes, 2);
    ck_assert_uint_le(t[i].num_dtypes, XHAL_MAX_OP_INPUTS + 1);
    for (j = 0; j < i; ++j) {
      ck_assert_str_ne(t[i].name, t[j].name);
      ck_assert_msg(
          t[i].op != t[j].op || t[i].num_dtypes != t[j].num_dtypes ||
              memcmp(t[i].dtypes, t[j].dtypes, sizeof(t[i].dtypes)) != 0,
          "%s repeats %s", t[i].name, t[j].name);
    }
  }
}
END_TEST

static xhal_plugin_op_call_t simple_call(xhal_op_t op, xhal_dtype_t dt,
                                         uint32_t num_inputs) {
  xhal_plugin_op_call_t call;
  uint32_t i;
  xhal_ref_call_init(&call, op);
  call.num_inputs = num_inputs;
  for (i = 0; i < num_inputs; ++i) {
    call.inputs[i].desc = xhal_ref_desc(dt, 1, DIMS(4));
  }
  call.outputs[0].desc = xhal_ref_desc(dt, 1, DIMS(4));
  return call;
}

START_TEST(test_unsupported_signatures) {
  int32_t a[4] = {1, 2, 3, 4};
  int32_t y[4];
  const void* in[2] = {a, a};
  xhal_plugin_op_call_t call = simple_call(XHAL_OP_DIV, XHAL_DTYPE_I32, 2);
  /* The catalog has no i32 div. */
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL), XHAL_ERROR_UNSUPPORTED);
  /* Mixed dtypes. */
  call = simple_call(XHAL_OP_ADD, XHAL_DTYPE_F32, 2);
  call.inputs[1].desc.dtype = XHAL_DTYPE_F16;
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL), XHAL_ERROR_UNSUPPORTED);
  /* Unknown op and custom op ids. */
  call = simple_call(999, XHAL_DTYPE_F32, 1);
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL), XHAL_ERROR_UNSUPPORTED);
  call = simple_call(XHAL_OP_CUSTOM_BASE, XHAL_DTYPE_F32, 1);
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL), XHAL_ERROR_UNSUPPORTED);
  /* int8 elementwise is not in the catalog. */
  call = simple_call(XHAL_OP_RELU, XHAL_DTYPE_I8, 1);
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL), XHAL_ERROR_UNSUPPORTED);
  /* Too many inputs for the signature. */
  call = simple_call(XHAL_OP_EXP, XHAL_DTYPE_F32, 2);
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL), XHAL_ERROR_UNSUPPORTED);
}
END_TEST

START_TEST(test_invalid_calls) {
  float a[4] = {1, 2, 3, 4};
  float y[4];
  int8_t qa[4] = {1, 2, 3, 4};
  int32_t qy[4];
  const void* in[2] = {a, a};
  const void* qin[2] = {qa, qa};
  const void* none[2] = {NULL, NULL};
  xhal_plugin_op_call_t call = simple_call(XHAL_OP_ADD, XHAL_DTYPE_F32, 2);
  ck_assert_int_eq(cpu_kernel_run(NULL, in, y, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(cpu_kernel_run(&call, NULL, y, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(cpu_kernel_run(&call, in, NULL, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(cpu_kernel_run(&call, none, y, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  call.num_outputs = 0;
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  /* Shapes that do not broadcast. */
  call = simple_call(XHAL_OP_ADD, XHAL_DTYPE_F32, 2);
  call.inputs[1].desc = xhal_ref_desc(XHAL_DTYPE_F32, 1, DIMS(3));
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL),
                   XHAL_ERROR_SHAPE_MISMATCH);
  /* matmul with inner dims that differ. */
  xhal_ref_call_init(&call, XHAL_OP_MATMUL);
  call.num_inputs = 2;
  call.inputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, DIMS(2, 2));
  call.inputs[1].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, DIMS(1, 2));
  call.outputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, DIMS(2, 2));
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL),
                   XHAL_ERROR_SHAPE_MISMATCH);
  /* int8 matmul takes no alpha/beta. */
  call.inputs[0].desc = xhal_ref_desc(XHAL_DTYPE_I8, 2, DIMS(2, 2));
  call.inputs[1].desc = xhal_ref_desc(XHAL_DTYPE_I8, 2, DIMS(2, 2));
  call.outputs[0].desc = xhal_ref_desc(XHAL_DTYPE_I32, 2, DIMS(2, 2));
  call.attrs.alpha = 2.0f;
  ck_assert_int_eq(cpu_kernel_run(&call, qin, qy, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  call.attrs.alpha = 1.0f;
  call.attrs.beta = 1.0f;
  ck_assert_int_eq(cpu_kernel_run(&call, qin, qy, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  /* A transpose perm that is no permutation. */
  xhal_ref_call_init(&call, XHAL_OP_TRANSPOSE);
  call.num_inputs = 1;
  call.inputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, DIMS(2, 2));
  call.outputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, DIMS(2, 2));
  call.attrs.perm[0] = 1;
  call.attrs.perm[1] = 1;
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  /* transpose into an output of another rank. */
  call.outputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 1, DIMS(4));
  call.attrs.perm[1] = 0;
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL),
                   XHAL_ERROR_SHAPE_MISMATCH);
  /* layer_norm whose output holds fewer elements than its input. */
  xhal_ref_call_init(&call, XHAL_OP_LAYER_NORM);
  call.num_inputs = 1;
  call.inputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, DIMS(2, 2));
  call.outputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 1, DIMS(2));
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL),
                   XHAL_ERROR_SHAPE_MISMATCH);
  /* softmax on an axis past the rank. */
  xhal_ref_call_init(&call, XHAL_OP_SOFTMAX);
  call.num_inputs = 1;
  call.inputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 1, DIMS(4));
  call.outputs[0].desc = call.inputs[0].desc;
  call.attrs.axis = 1;
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
  /* conv2d whose groups do not divide the channels. */
  xhal_ref_call_init(&call, XHAL_OP_CONV2D);
  call.num_inputs = 2;
  call.inputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 4, DIMS(1, 3, 1, 1));
  call.inputs[1].desc = xhal_ref_desc(XHAL_DTYPE_F32, 4, DIMS(2, 1, 1, 1));
  call.outputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 4, DIMS(1, 2, 1, 1));
  call.attrs.groups = 2;
  ck_assert_int_eq(cpu_kernel_run(&call, in, y, NULL),
                   XHAL_ERROR_INVALID_ARGUMENT);
}
END_TEST

/* An empty output is a no-op that touches nothing, even with NULL data. */
START_TEST(test_empty_output_is_noop) {
  const void* none[2] = {NULL, NULL};
  xhal_plugin_op_call_t call;
  xhal_ref_call_init(&call, XHAL_OP_MATMUL);
  call.num_inputs = 2;
  call.inputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, DIMS(0, 3));
  call.inputs[1].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, DIMS(3, 4));
  call.outputs[0].desc = xhal_ref_desc(XHAL_DTYPE_F32, 2, DIMS(0, 4));
  none[1] = &call; /* any non-NULL pointer; it must not be read */
  ck_assert_int_eq(cpu_kernel_run(&call, none, NULL, NULL), XHAL_OK);
}
END_TEST

START_TEST(test_scratch_overflow) {
  void* p = (void*)&p;
  ck_assert_int_eq(cpu_scratch_alloc(UINT64_MAX, 2, &p),
                   XHAL_ERROR_OUT_OF_MEMORY);
  ck_assert_ptr_null(p);
  ck_assert_int_eq(cpu_scratch_alloc(UINT64_MAX - 8, 1, &p),
                   XHAL_ERROR_OUT_OF_MEMORY);
  ck_assert_int_eq(cpu_scratch_alloc(0, 4, &p), XHAL_OK);
  ck_assert_ptr_nonnull(p);
  cpu_scratch_free(p);
}
END_TEST

static Suite* kernels_suite(void) {
  Suite* s = suite_create("cpu_kernels");
  TCase* tc = tcase_create("api");
  TCase* ops = tcase_create("ops");
  uint32_t count = 0;
  (void)cpu_kernel_table(&count);
  tcase_add_test(tc, test_table);
  tcase_add_test(tc, test_unsupported_signatures);
  tcase_add_test(tc, test_invalid_calls);
  tcase_add_test(tc, test_empty_output_is_noop);
  tcase_add_test(tc, test_scratch_overflow);
  suite_add_tcase(s, tc);
  tcase_set_timeout(ops, 120);
  tcase_add_loop_test(ops, test_entry, 0, (int)count);
  suite_add_tcase(s, ops);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(kernels_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
