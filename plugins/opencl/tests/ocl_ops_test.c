/*
 * ocl_ops_test.c - every operator the OpenCL plugin registers, against the
 * reference implementation (conformance/reference) with the catalog's
 * tolerances.
 *
 * Each call gets random operands (plus NaN and infinities where the
 * catalog defines what they do), operands placed at odd element offsets
 * in their buffers, and goes through xhal_registry_lookup, which must pick
 * the plugin's implementation, then xhal_stream_enqueue_op. One test per
 * operator program (f32, f16, i32, i8, layout) keeps each test process to
 * one or two program builds.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal.h>
#include <xhal_reference.h>

#include "ocl_test_util.h"

static xhal_instance_t g_inst;
static xhal_device_t g_dev;
static xhal_stream_t g_stream;
static int g_cases;

static void setup(void) {
  g_inst = ocl_test_instance();
  g_dev = ocl_test_device(g_inst);
  g_stream = ocl_test_stream(g_dev);
  g_cases = 0;
}

static void teardown(void) {
  if (getenv("OCL_TEST_VERBOSE") != NULL) printf("%d cases\n", g_cases);
  xhal_stream_release(g_stream);
  xhal_instance_release(g_inst);
}

/* How operands are drawn. */
typedef struct fill_spec {
  double lo;
  double hi;
  int specials; /* put NaN, +inf, -inf (floats) at the first elements */
} fill_spec_t;

static const fill_spec_t kUnit = {-1.0, 1.0, 0};
static const fill_spec_t kWide = {-3.0, 3.0, 1};

static void set_input(xhal_plugin_op_call_t* c, xhal_dtype_t dt, uint32_t rank,
                      const uint64_t* dims) {
  c->inputs[c->num_inputs].desc = xhal_ref_desc(dt, rank, dims);
  c->num_inputs++;
}

static int is_float(xhal_dtype_t dt) {
  return dt == XHAL_DTYPE_F32 || dt == XHAL_DTYPE_F16;
}

static void fill_operand(xhal_dtype_t dt, void* data, uint64_t n, uint64_t seed,
                         const fill_spec_t* f) {
  ck_assert_int_eq(xhal_ref_fill_random(dt, data, n, seed, f->lo, f->hi),
                   XHAL_OK);
  if (f->specials && is_float(dt) && n >= 6) {
    xhal_ref_set(dt, data, 0, NAN);
    xhal_ref_set(dt, data, 2, INFINITY);
    xhal_ref_set(dt, data, 5, -INFINITY);
  }
}

/* Runs `pc` (descs and attrs set, output dtype set for cast) on the
 * device and on the reference, and compares. */
static void run_call(xhal_plugin_op_call_t* pc, const fill_spec_t* fill,
                     const char* label) {
  void* host_in[XHAL_MAX_OP_INPUTS] = {NULL, NULL, NULL, NULL};
  xhal_buffer_t bufs[XHAL_MAX_OP_INPUTS + 1] = {NULL, NULL, NULL, NULL, NULL};
  xhal_op_call_t call;
  xhal_op_impl_t impl = NULL;
  xhal_op_impl_info_t info;
  xhal_tensor_desc_t out_desc;
  xhal_ref_tolerance_t tol;
  uint64_t out_n;
  uint64_t out_bytes;
  uint64_t bad;
  uint8_t* got;
  uint8_t* want;
  uint32_t i;
  int beta_prior = pc->op == XHAL_OP_MATMUL && pc->attrs.beta != 0.0f;
  xhal_status_t st;

  ck_assert_int_eq(xhal_ref_output_desc(pc, &out_desc), XHAL_OK);
  pc->outputs[0].desc = out_desc;
  pc->num_outputs = 1;
  xhal_op_call_init(&call, pc->op);
  call.attrs = pc->attrs;
  call.num_inputs = pc->num_inputs;
  call.num_outputs = 1;

  for (i = 0; i <= pc->num_inputs; ++i) {
    int is_out = i == pc->num_inputs;
    const xhal_tensor_desc_t* d = is_out ? &out_desc : &pc->inputs[i].desc;
    xhal_tensor_t* t = is_out ? &call.outputs[0] : &call.inputs[i];
    uint64_t n = xhal_ref_numel(d);
    uint64_t bytes = xhal_ref_bytes(d);
    /* Odd element offsets: the kernels must honour them. */
    uint64_t offset = (1 + 2 * (uint64_t)i) * xhal_dtype_size(d->dtype);
    bufs[i] = ocl_test_buffer(g_dev, offset + bytes + 1, 0);
    t->desc = *d;
    t->buffer = bufs[i];
    t->offset = offset;
    if (is_out) continue;
    host_in[i] = malloc(bytes ? (size_t)bytes : 1);
    ck_assert_ptr_nonnull(host_in[i]);
    fill_operand(d->dtype, host_in[i], n, 1000u * (uint64_t)g_cases + i, fill);
    if (bytes)
      ck_assert_int_eq(xhal_stream_enqueue_write(g_stream, bufs[i], offset,
                                                 host_in[i], bytes),
                       XHAL_OK);
  }

  out_n = xhal_ref_numel(&out_desc);
  out_bytes = xhal_ref_bytes(&out_desc);
  got = malloc((size_t)out_bytes);
  want = malloc((size_t)out_bytes);
  ck_assert_ptr_nonnull(got);
  ck_assert_ptr_nonnull(want);
  if (beta_prior) {
    fill_operand(out_desc.dtype, want, out_n, 999u + (uint64_t)g_cases, &kUnit);
  } else {
    /* Garbage (NaN for floats) that must not leak into the result. */
    memset(want, 0xFF, (size_t)out_bytes);
  }
  ck_assert_int_eq(
      xhal_stream_enqueue_write(g_stream, bufs[pc->num_inputs],
                                call.outputs[0].offset, want, out_bytes),
      XHAL_OK);

  st = xhal_registry_lookup(g_dev, &call, &impl);
  ck_assert_msg(st == XHAL_OK, "%s: no implementation: %s", label,
                xhal_last_error());
  ck_assert_int_eq(xhal_op_impl_info(impl, &info), XHAL_OK);
  ck_assert_msg(strncmp(info.name, "opencl.", 7) == 0,
                "%s: picked '%s', not the plugin's", label, info.name);
  st = xhal_stream_enqueue_op(g_stream, impl, &call);
  ck_assert_msg(st == XHAL_OK, "%s: enqueue_op: %s: %s", label,
                xhal_status_name(st), xhal_last_error());
  ck_assert_int_eq(
      xhal_stream_enqueue_read(g_stream, bufs[pc->num_inputs],
                               call.outputs[0].offset, got, out_bytes),
      XHAL_OK);
  ocl_test_sync(g_stream);

  ck_assert_int_eq(xhal_ref_run(pc, (const void* const*)host_in, want),
                   XHAL_OK);
  tol = xhal_ref_tolerance(pc);
  bad = xhal_ref_compare(out_desc.dtype, got, want, out_n, tol);
  if (bad != out_n) {
    char msg[256];
    xhal_ref_describe_mismatch(out_desc.dtype, got, want, bad, tol, msg,
                               sizeof(msg));
    ck_abort_msg("%s (%s): %s", label, info.name, msg);
  }
  for (i = 0; i <= pc->num_inputs; ++i) xhal_buffer_release(bufs[i]);
  for (i = 0; i < pc->num_inputs; ++i) free(host_in[i]);
  free(got);
  free(want);
  ++g_cases;
}

/* ------------------------------------------------------------- builders */

static const xhal_op_t kBinaryOps[] = {XHAL_OP_ADD, XHAL_OP_SUB, XHAL_OP_MUL,
                                       XHAL_OP_DIV, XHAL_OP_MAX, XHAL_OP_MIN};
static const xhal_op_t kUnaryOps[] = {
    XHAL_OP_RELU, XHAL_OP_GELU, XHAL_OP_SIGMOID, XHAL_OP_TANH, XHAL_OP_EXP};

typedef struct shape {
  uint32_t rank;
  uint64_t dims[4];
} shape_t;

static void binary_cases(xhal_dtype_t dt, const fill_spec_t* fill) {
  static const shape_t kPairs[][2] = {
      {{2, {37, 129}}, {2, {37, 129}}}, {{3, {4, 1, 5}}, {2, {3, 1}}},
      {{0, {0}}, {2, {7, 3}}},          {{4, {2, 3, 4, 5}}, {1, {5}}},
      {{3, {2, 1, 6}}, {3, {2, 5, 1}}}, {{1, {1}}, {1, {1}}},
  };
  size_t o;
  size_t p;
  for (o = 0; o < sizeof(kBinaryOps) / sizeof(kBinaryOps[0]); ++o) {
    if (dt == XHAL_DTYPE_I32 && kBinaryOps[o] == XHAL_OP_DIV) continue;
    for (p = 0; p < sizeof(kPairs) / sizeof(kPairs[0]); ++p) {
      xhal_plugin_op_call_t c;
      char label[64];
      xhal_ref_call_init(&c, kBinaryOps[o]);
      set_input(&c, dt, kPairs[p][0].rank, kPairs[p][0].dims);
      set_input(&c, dt, kPairs[p][1].rank, kPairs[p][1].dims);
      snprintf(label, sizeof(label), "binary op %u pair %zu", kBinaryOps[o], p);
      run_call(&c, fill, label);
    }
  }
}

static void unary_cases(xhal_dtype_t dt) {
  static const shape_t kShapes[] = {{1, {1000}}, {2, {3, 17}}, {0, {0}}};
  size_t o;
  size_t p;
  for (o = 0; o < sizeof(kUnaryOps) / sizeof(kUnaryOps[0]); ++o) {
    for (p = 0; p < sizeof(kShapes) / sizeof(kShapes[0]); ++p) {
      xhal_plugin_op_call_t c;
      char label[64];
      fill_spec_t wide = {-12.0, 12.0, 1};
      xhal_ref_call_init(&c, kUnaryOps[o]);
      set_input(&c, dt, kShapes[p].rank, kShapes[p].dims);
      snprintf(label, sizeof(label), "unary op %u shape %zu", kUnaryOps[o], p);
      run_call(&c, &wide, label);
    }
  }
}

static void matmul_case(xhal_dtype_t in, xhal_dtype_t acc, uint64_t m,
                        uint64_t k, uint64_t n, uint32_t ta, uint32_t tb,
                        int bias, float alpha, float beta) {
  xhal_plugin_op_call_t c;
  uint64_t a_dims[2] = {ta ? k : m, ta ? m : k};
  uint64_t b_dims[2] = {tb ? n : k, tb ? k : n};
  char label[96];
  fill_spec_t fill = in == XHAL_DTYPE_I8 ? (fill_spec_t){-128, 127, 0} : kUnit;
  xhal_ref_call_init(&c, XHAL_OP_MATMUL);
  set_input(&c, in, 2, a_dims);
  set_input(&c, in, 2, b_dims);
  if (bias) set_input(&c, acc, 1, &n);
  c.attrs.transpose_a = ta;
  c.attrs.transpose_b = tb;
  c.attrs.alpha = alpha;
  c.attrs.beta = beta;
  snprintf(label, sizeof(label),
           "matmul %llux%llux%llu ta=%u tb=%u bias=%d alpha=%g beta=%g",
           (unsigned long long)m, (unsigned long long)k, (unsigned long long)n,
           ta, tb, bias, (double)alpha, (double)beta);
  run_call(&c, &fill, label);
}

static void matmul_cases(xhal_dtype_t in, xhal_dtype_t acc) {
  static const uint64_t kMkn[][3] = {
      {1, 1, 1}, {17, 33, 29}, {64, 64, 64}, {130, 70, 150}, {3, 300, 5}};
  size_t i;
  uint32_t t;
  for (i = 0; i < sizeof(kMkn) / sizeof(kMkn[0]); ++i)
    for (t = 0; t < 4; ++t)
      matmul_case(in, acc, kMkn[i][0], kMkn[i][1], kMkn[i][2], t & 1, t >> 1,
                  (int)(t == 3 || i == 1), 1.0f, 0.0f);
  matmul_case(in, acc, 5, 0, 7, 0, 0, 1, 1.0f, 0.0f); /* K = 0 */
  if (in != XHAL_DTYPE_I8) {
    matmul_case(in, acc, 19, 23, 31, 0, 1, 1, 0.5f, 2.0f);
    matmul_case(in, acc, 8, 9, 10, 1, 0, 0, -1.5f, 0.25f);
  }
}

typedef struct conv_spec {
  uint64_t n, c, h, w, k, r, s;
  uint32_t stride, pad, dil, groups;
  int bias;
} conv_spec_t;

static void conv_cases(xhal_dtype_t in, xhal_dtype_t acc) {
  static const conv_spec_t kSpecs[] = {
      {2, 3, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1},
      {1, 3, 11, 8, 5, 3, 2, 2, 0, 1, 1, 0},
      {1, 2, 10, 10, 3, 3, 3, 1, 2, 2, 1, 1},
      {2, 4, 7, 7, 4, 3, 3, 1, 1, 1, 4, 1}, /* depthwise */
      {1, 4, 6, 5, 6, 1, 1, 1, 0, 1, 2, 0}, /* grouped 1x1 */
      {1, 16, 8, 8, 24, 3, 3, 1, 1, 1, 1, 1},
  };
  size_t i;
  for (i = 0; i < sizeof(kSpecs) / sizeof(kSpecs[0]); ++i) {
    const conv_spec_t* p = &kSpecs[i];
    xhal_plugin_op_call_t c;
    uint64_t x_dims[4] = {p->n, p->c, p->h, p->w};
    uint64_t w_dims[4] = {p->k, p->c / p->groups, p->r, p->s};
    char label[64];
    fill_spec_t fill =
        in == XHAL_DTYPE_I8 ? (fill_spec_t){-128, 127, 0} : kUnit;
    xhal_ref_call_init(&c, XHAL_OP_CONV2D);
    set_input(&c, in, 4, x_dims);
    set_input(&c, in, 4, w_dims);
    if (p->bias) set_input(&c, acc, 1, &p->k);
    c.attrs.stride[0] = c.attrs.stride[1] = p->stride;
    c.attrs.padding[0] = p->pad;
    c.attrs.padding[1] = p->pad + (p->pad ? 1 : 0);
    c.attrs.dilation[0] = c.attrs.dilation[1] = p->dil;
    c.attrs.groups = p->groups;
    snprintf(label, sizeof(label), "conv2d spec %zu", i);
    run_call(&c, &fill, label);
  }
}

static void axis_cases(xhal_op_t op, xhal_dtype_t dt, const fill_spec_t* f) {
  static const struct {
    shape_t shape;
    int32_t axis;
  } kCases[] = {
      {{2, {5, 37}}, -1},  {{3, {4, 6, 7}}, 1}, {{1, {1000}}, 0},
      {{3, {3, 5, 2}}, 0}, {{2, {1, 1}}, -2},
  };
  size_t i;
  for (i = 0; i < sizeof(kCases) / sizeof(kCases[0]); ++i) {
    xhal_plugin_op_call_t c;
    char label[64];
    xhal_ref_call_init(&c, op);
    set_input(&c, dt, kCases[i].shape.rank, kCases[i].shape.dims);
    c.attrs.axis = kCases[i].axis;
    snprintf(label, sizeof(label), "op %u case %zu", op, i);
    run_call(&c, f, label);
  }
}

static void layer_norm_cases(xhal_dtype_t dt) {
  static const shape_t kShapes[] = {{2, {4, 33}}, {3, {2, 3, 1}}, {1, {700}}};
  size_t i;
  uint32_t extra;
  for (i = 0; i < sizeof(kShapes) / sizeof(kShapes[0]); ++i) {
    for (extra = 0; extra < 3; ++extra) {
      xhal_plugin_op_call_t c;
      uint64_t d = kShapes[i].dims[kShapes[i].rank - 1];
      char label[64];
      xhal_ref_call_init(&c, XHAL_OP_LAYER_NORM);
      set_input(&c, dt, kShapes[i].rank, kShapes[i].dims);
      if (extra >= 1) set_input(&c, dt, 1, &d);
      if (extra >= 2) set_input(&c, dt, 1, &d);
      c.attrs.epsilon = 1e-3f;
      snprintf(label, sizeof(label), "layer_norm shape %zu extra %u", i, extra);
      run_call(&c, &kUnit, label);
    }
  }
}

/* ---------------------------------------------------------------- tests */

static void float_suite(xhal_dtype_t dt) {
  binary_cases(dt, &kWide);
  unary_cases(dt);
  matmul_cases(dt, dt);
  conv_cases(dt, dt);
  axis_cases(XHAL_OP_SOFTMAX, dt, &kWide);
  axis_cases(XHAL_OP_REDUCE_SUM, dt, &kUnit);
  axis_cases(XHAL_OP_REDUCE_MAX, dt, &kWide);
  layer_norm_cases(dt);
}

START_TEST(test_ops_f32) { float_suite(XHAL_DTYPE_F32); }
END_TEST

START_TEST(test_ops_f16) { float_suite(XHAL_DTYPE_F16); }
END_TEST

START_TEST(test_ops_i32) {
  /* The full range exercises wrapping add/sub/mul and sums. */
  fill_spec_t full = {-2147483648.0, 2147483647.0, 0};
  binary_cases(XHAL_DTYPE_I32, &full);
  axis_cases(XHAL_OP_REDUCE_SUM, XHAL_DTYPE_I32, &full);
  axis_cases(XHAL_OP_REDUCE_MAX, XHAL_DTYPE_I32, &full);
}
END_TEST

START_TEST(test_ops_i8) {
  matmul_cases(XHAL_DTYPE_I8, XHAL_DTYPE_I32);
  conv_cases(XHAL_DTYPE_I8, XHAL_DTYPE_I32);
}
END_TEST

/* A sum of int8 products past INT32_MAX wraps. */
START_TEST(test_matmul_i8_wraps) {
  xhal_plugin_op_call_t c;
  uint64_t a_dims[2] = {1, 140000};
  uint64_t b_dims[2] = {140000, 1};
  fill_spec_t extreme = {-128, -128, 0};
  xhal_ref_call_init(&c, XHAL_OP_MATMUL);
  set_input(&c, XHAL_DTYPE_I8, 2, a_dims);
  set_input(&c, XHAL_DTYPE_I8, 2, b_dims);
  run_call(&c, &extreme, "matmul i8 wrap");
}
END_TEST

START_TEST(test_ops_layout) {
  static const xhal_dtype_t kTypes[] = {XHAL_DTYPE_F32, XHAL_DTYPE_F16,
                                        XHAL_DTYPE_I8, XHAL_DTYPE_I32};
  static const struct {
    shape_t shape;
    uint32_t perm[4];
  } kPerms[] = {
      {{3, {2, 3, 4}}, {2, 0, 1, 0}},    {{2, {5, 7}}, {1, 0, 0, 0}},
      {{4, {2, 3, 4, 5}}, {0, 2, 1, 3}}, {{3, {1, 6, 1}}, {2, 1, 0, 0}},
      {{0, {0}}, {0, 0, 0, 0}},
  };
  size_t i;
  size_t j;
  size_t p;
  for (i = 0; i < 4; ++i) {
    for (p = 0; p < sizeof(kPerms) / sizeof(kPerms[0]); ++p) {
      xhal_plugin_op_call_t c;
      char label[64];
      uint32_t d;
      fill_spec_t fill = {-100, 100, 0};
      xhal_ref_call_init(&c, XHAL_OP_TRANSPOSE);
      set_input(&c, kTypes[i], kPerms[p].shape.rank, kPerms[p].shape.dims);
      for (d = 0; d < kPerms[p].shape.rank; ++d)
        c.attrs.perm[d] = kPerms[p].perm[d];
      snprintf(label, sizeof(label), "transpose dtype %u perm %zu", kTypes[i],
               p);
      run_call(&c, &fill, label);
    }
  }
  /* Casts over ranges that overflow the narrow types, with NaN and
   * infinities in float sources. */
  for (i = 0; i < 4; ++i) {
    for (j = 0; j < 4; ++j) {
      xhal_plugin_op_call_t c;
      uint64_t dims[2] = {13, 31};
      char label[64];
      fill_spec_t fill = {-70000.0, 70000.0, 1};
      xhal_ref_call_init(&c, XHAL_OP_CAST);
      set_input(&c, kTypes[i], 2, dims);
      c.outputs[0].desc.dtype = kTypes[j];
      snprintf(label, sizeof(label), "cast %s -> %s",
               xhal_ref_dtype_name(kTypes[i]), xhal_ref_dtype_name(kTypes[j]));
      run_call(&c, &fill, label);
      fill.lo = -2.5;
      fill.hi = 2.5;
      run_call(&c, &fill, label);
    }
  }
}
END_TEST

/* Products large enough for the large-tile kernels (the plugin picks
 * them once there are two large tiles per compute unit), sized from the
 * device so both variants are covered everywhere. */
START_TEST(test_gemm_large_tiles) {
  xhal_device_properties_t props;
  xhal_plugin_op_call_t c;
  uint64_t side = 1;
  uint64_t m;
  uint64_t n;
  uint64_t a_dims[2];
  uint64_t b_dims[2];
  uint64_t x_dims[4];
  uint64_t w_dims[4] = {130, 4, 3, 3};
  uint64_t hw;
  ck_assert_int_eq(xhal_device_properties(g_dev, &props), XHAL_OK);
  while (side * side < 2ull * props.compute_units) ++side;
  m = side * 128 + 3;
  n = side * 128 + 5;
  a_dims[0] = m;
  a_dims[1] = 37;
  b_dims[0] = 37;
  b_dims[1] = n;
  xhal_ref_call_init(&c, XHAL_OP_MATMUL);
  set_input(&c, XHAL_DTYPE_F32, 2, a_dims);
  set_input(&c, XHAL_DTYPE_F32, 2, b_dims);
  run_call(&c, &kUnit, "matmul, large tiles");
  /* conv2d: 130 output channels make two tile rows; the columns
   * (N*OH*OW) supply the rest. */
  hw = 8;
  while (((hw * hw + 127) / 128) * 2 < 2ull * props.compute_units) hw += 8;
  x_dims[0] = 1;
  x_dims[1] = 4;
  x_dims[2] = hw;
  x_dims[3] = hw + 1;
  xhal_ref_call_init(&c, XHAL_OP_CONV2D);
  set_input(&c, XHAL_DTYPE_F32, 4, x_dims);
  set_input(&c, XHAL_DTYPE_F32, 4, w_dims);
  c.attrs.padding[0] = c.attrs.padding[1] = 1;
  run_call(&c, &kUnit, "conv2d, large tiles");
}
END_TEST

static Suite* ops_suite(void) {
  Suite* s = suite_create("opencl_ops");
  TCase* tc = tcase_create("ops");
  tcase_add_checked_fixture(tc, setup, teardown);
  /* The first run compiles the kernels (seconds on PoCL). */
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, test_ops_f32);
  tcase_add_test(tc, test_ops_f16);
  tcase_add_test(tc, test_ops_i32);
  tcase_add_test(tc, test_ops_i8);
  tcase_add_test(tc, test_matmul_i8_wraps);
  tcase_add_test(tc, test_gemm_large_tiles);
  tcase_add_test(tc, test_ops_layout);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(ops_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
