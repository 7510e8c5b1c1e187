/*
 * reference_values_test.c - the reference's conversions (cast, binary16
 * rounding), tolerances, comparison, sizes, random fill and call checks,
 * against values worked out by hand.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <xhal/xhal_half.h>

#include "reference_test.h"

static const xhal_dtype_t F32 = XHAL_DTYPE_F32;
static const xhal_dtype_t F16 = XHAL_DTYPE_F16;
static const xhal_dtype_t I8 = XHAL_DTYPE_I8;
static const xhal_dtype_t I32 = XHAL_DTYPE_I32;

/* Runs cast of `n` elements from `src` (dtype from) into `dst` (to). */
static void cast(xhal_dtype_t from, const void* src, xhal_dtype_t to, void* dst,
                 uint64_t n) {
  xhal_tensor_desc_t in = t_desc(from, 1, n, 0, 0, 0);
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_CAST, 1, &in, t_desc(to, 1, n, 0, 0, 0));
  const void* ins[1] = {src};
  ck_assert_int_eq(xhal_ref_run(&c, ins, dst), XHAL_OK);
}

/* ------------------------------------------------------------- cast */

START_TEST(test_cast_float_to_int) {
  static const float x[] = {300.7f,   -300.0f,   -1.9f,  1.9f,    NAN,
                            INFINITY, -INFINITY, 127.9f, -128.9f, -0.5f};
  static const int8_t want8[] = {127, -128, -1, 1, 0, 127, -128, 127, -128, 0};
  /* 2147483520 is the largest float below 2^31. */
  static const float x32[] = {-1e10f,        1e10f,          2147483520.0f,
                              2147483648.0f, -2147483648.0f, NAN,
                              -0.5f,         -7.99f};
  static const int32_t want32[] = {INT32_MIN, INT32_MAX, 2147483520, INT32_MAX,
                                   INT32_MIN, 0,         0,          -7};
  int8_t y8[10];
  int32_t y32[8];
  size_t i;
  cast(F32, x, I8, y8, 10);
  for (i = 0; i < 10; ++i) ck_assert_int_eq(y8[i], want8[i]);
  cast(F32, x32, I32, y32, 8);
  for (i = 0; i < 8; ++i) ck_assert_int_eq(y32[i], want32[i]);
  {
    /* f16 sources follow the same rules: 255 -> 127, -inf -> INT32_MIN,
     * NaN -> 0, -2.5 -> -2. */
    uint16_t h[4] = {xhal_float_to_half(255.0f), 0xFC00u, 0x7E00u,
                     xhal_float_to_half(-2.5f)};
    cast(F16, h, I8, y8, 4);
    ck_assert_int_eq(y8[0], 127);
    ck_assert_int_eq(y8[1], -128);
    ck_assert_int_eq(y8[2], 0);
    ck_assert_int_eq(y8[3], -2);
    cast(F16, h, I32, y32, 4);
    ck_assert_int_eq(y32[1], INT32_MIN);
    ck_assert_int_eq(y32[2], 0);
  }
}
END_TEST

START_TEST(test_cast_to_half) {
  /* 65504 is the largest half; 65520 is the tie with 2^16 and goes to
   * inf (65504 has an odd mantissa). 2^-25 ties 0 and 2^-24: 0.
   * 3*2^-25 ties 2^-24 and 2^-23: 2^-23 (even). 1+2^-11+2^-22 lies above
   * the tie: rounds up. */
  static const float x[] = {65504.0f,   65519.99f,    65520.0f,   1e6f,
                            -1e6f,      0x1.0p-25f,   0x1.8p-24f, 0x1.0p-24f,
                            0x1.002p0f, 0x1.00201p0f, -0.0f,      NAN};
  static const uint16_t want[] = {0x7BFFu, 0x7BFFu, 0x7C00u, 0x7C00u,
                                  0xFC00u, 0x0000u, 0x0002u, 0x0001u,
                                  0x3C00u, 0x3C01u, 0x8000u};
  uint16_t y[12];
  size_t i;
  cast(F32, x, F16, y, 12);
  for (i = 0; i < 11; ++i) {
    ck_assert_msg(y[i] == want[i], "element %zu: 0x%04x, want 0x%04x", i, y[i],
                  want[i]);
  }
  ck_assert((y[11] & 0x7C00u) == 0x7C00u && (y[11] & 0x3FFu) != 0);
}
END_TEST

START_TEST(test_cast_int_to_float) {
  /* Ties to even: 2049 between 2048 and 2050 -> 2048; 2051 -> 2052;
   * 65519 -> 65504; 65520 and beyond overflow f16 to inf. */
  static const int32_t x[] = {2049, 2051, 65519, 65520, -70000, -128};
  static const uint16_t want16[] = {0x6800u, 0x6802u, 0x7BFFu,
                                    0x7C00u, 0xFC00u, 0xD800u};
  /* f32 has 24 bits: 2^24+1 -> 2^24, 2^24+3 -> 2^24+4. */
  static const int32_t x32[] = {16777217, 16777219, INT32_MAX, INT32_MIN};
  static const float want32[] = {16777216.0f, 16777220.0f, 2147483648.0f,
                                 -2147483648.0f};
  static const int8_t x8[] = {-128, 127, -1};
  uint16_t y16[6];
  float y32[4];
  int32_t yi[3];
  size_t i;
  cast(I32, x, F16, y16, 6);
  for (i = 0; i < 6; ++i) {
    ck_assert_msg(y16[i] == want16[i], "element %zu: 0x%04x", i, y16[i]);
  }
  cast(I32, x32, F32, y32, 4);
  for (i = 0; i < 4; ++i) ck_assert(y32[i] == want32[i]);
  cast(I8, x8, F16, y16, 3);
  ck_assert_uint_eq(y16[0], 0xD800u); /* -128 */
  ck_assert_uint_eq(y16[2], 0xBC00u); /* -1 */
  cast(I8, x8, I32, yi, 3);
  ck_assert_int_eq(yi[0], -128);
  ck_assert_int_eq(yi[1], 127);
}
END_TEST

START_TEST(test_cast_int_to_int_and_same) {
  static const int32_t x[] = {300, -300, 5, -128};
  static const float f[] = {1.5f, NAN, -INFINITY};
  int8_t y[4];
  float fy[3];
  uint16_t h[2] = {0x0001u, 0x7BFFu};
  float hf[2];
  cast(I32, x, I8, y, 4);
  ck_assert_int_eq(y[0], 127);
  ck_assert_int_eq(y[1], -128);
  ck_assert_int_eq(y[2], 5);
  ck_assert_int_eq(y[3], -128);
  cast(F32, f, F32, fy, 3);
  ck_assert(fy[0] == 1.5f && isnan(fy[1]) && isinf(fy[2]) && fy[2] < 0);
  cast(F16, h, F32, hf, 2); /* exact widening */
  ck_assert(hf[0] == 0x1.0p-24f);
  ck_assert(hf[1] == 65504.0f);
}
END_TEST

START_TEST(test_double_to_half_agrees_with_float_path) {
  /* For inputs that are floats, one rounding from double and
   * xhal_float_to_half (one rounding from float) must agree bit for bit,
   * across normals, subnormals and overflow. */
  xhal_ref_rng_t rng;
  int i;
  xhal_ref_rng_seed(&rng, 7);
  for (i = 0; i < 200000; ++i) {
    uint32_t bits = (uint32_t)xhal_ref_rng_next(&rng);
    float f;
    memcpy(&f, &bits, sizeof(f));
    if (isnan(f)) continue;
    ck_assert_msg(xhal_ref_double_to_half(f) == xhal_float_to_half(f), "0x%08x",
                  bits);
  }
}
END_TEST

/* ------------------------------------------------- tolerance, compare */

START_TEST(test_tolerance) {
  xhal_tensor_desc_t in[3] = {t_desc(F32, 2, 8, 64, 0, 0),
                              t_desc(F32, 2, 64, 4, 0, 0),
                              t_desc(F32, 1, 4, 0, 0, 0)};
  xhal_plugin_op_call_t c = t_call(XHAL_OP_MATMUL, 2, in, in[0]);
  xhal_ref_tolerance_t t = xhal_ref_tolerance(&c);
  ck_assert(fabs(t.abs - 64e-5) < 1e-12 && t.rel == 1e-4);
  c.attrs.transpose_a = 1; /* A is [K, M] = [8, 64]: K = 8 */
  t = xhal_ref_tolerance(&c);
  ck_assert(fabs(t.abs - 8e-5) < 1e-12);
  c.inputs[0].desc.dtype = c.inputs[1].desc.dtype = F16;
  t = xhal_ref_tolerance(&c);
  ck_assert(fabs(t.abs - 8e-3) < 1e-12 && t.rel == 1e-2);
  c.inputs[0].desc.dtype = c.inputs[1].desc.dtype = I8;
  t = xhal_ref_tolerance(&c);
  ck_assert(t.abs == 0.0 && t.rel == 0.0);
  /* conv2d: Cg*R*S = 2*3*3 = 18. */
  in[0] = t_desc(F32, 4, 1, 4, 8, 8);
  in[1] = t_desc(F32, 4, 6, 2, 3, 3);
  c = t_call(XHAL_OP_CONV2D, 2, in, in[0]);
  c.attrs.groups = 2;
  t = xhal_ref_tolerance(&c);
  ck_assert(fabs(t.abs - 18e-5) < 1e-12 && t.rel == 1e-4);
  /* reduce_sum over axis 0 of [5, 3]: K = 5. */
  in[0] = t_desc(F16, 2, 5, 3, 0, 0);
  c = t_call(XHAL_OP_REDUCE_SUM, 1, in, in[0]);
  c.attrs.axis = -2;
  t = xhal_ref_tolerance(&c);
  ck_assert(fabs(t.abs - 5e-3) < 1e-12 && t.rel == 1e-2);
  c.op = XHAL_OP_REDUCE_MAX;
  t = xhal_ref_tolerance(&c);
  ck_assert(t.abs == 0.0 && t.rel == 0.0);
  /* Elementwise and the rest. */
  in[0] = in[1] = t_desc(F32, 1, 4, 0, 0, 0);
  c = t_call(XHAL_OP_ADD, 2, in, in[0]);
  t = xhal_ref_tolerance(&c);
  ck_assert(t.rel == 1.2e-7 && t.abs <= FLT_MIN);
  c.op = XHAL_OP_DIV;
  ck_assert(xhal_ref_tolerance(&c).rel == 2.4e-7);
  c.op = XHAL_OP_GELU;
  t = xhal_ref_tolerance(&c);
  ck_assert(t.abs == 1e-6 && t.rel == 1e-5);
  c.op = XHAL_OP_LAYER_NORM;
  t = xhal_ref_tolerance(&c);
  ck_assert(t.abs == 1e-5 && t.rel == 1e-4);
  c.inputs[0].desc.dtype = F16;
  t = xhal_ref_tolerance(&c);
  ck_assert(t.abs == 2e-3 && t.rel == 4e-3);
  c.op = XHAL_OP_SOFTMAX;
  t = xhal_ref_tolerance(&c);
  ck_assert(t.abs == 1e-3 && t.rel == 2e-3);
  c.op = XHAL_OP_CAST;
  t = xhal_ref_tolerance(&c);
  ck_assert(t.abs == 0.0 && t.rel == 0.0);
}
END_TEST

START_TEST(test_compare) {
  static const float want[] = {1.0f, NAN, INFINITY, -2.0f, 0.0f};
  float got[5] = {1.0f, NAN, INFINITY, -2.0f, -0.0f};
  xhal_ref_tolerance_t exact = {0.0, 0.0};
  xhal_ref_tolerance_t loose = {1e30, 1e30};
  xhal_ref_tolerance_t rel = {0.0, 1e-3};
  char msg[160];
  ck_assert_uint_eq(xhal_ref_compare(F32, got, want, 5, exact), 5);
  got[1] = 0.0f; /* NaN only matches NaN */
  ck_assert_uint_eq(xhal_ref_compare(F32, got, want, 5, loose), 1);
  got[1] = NAN;
  got[2] = FLT_MAX; /* no tolerance reaches an infinity */
  ck_assert_uint_eq(xhal_ref_compare(F32, got, want, 5, loose), 2);
  got[2] = -INFINITY;
  ck_assert_uint_eq(xhal_ref_compare(F32, got, want, 5, loose), 2);
  got[2] = INFINITY;
  got[3] = -2.0019f; /* |diff| 0.0019 <= 1e-3 * |-2| */
  ck_assert_uint_eq(xhal_ref_compare(F32, got, want, 5, rel), 5);
  got[3] = -2.003f;
  ck_assert_uint_eq(xhal_ref_compare(F32, got, want, 5, rel), 3);
  xhal_ref_describe_mismatch(F32, got, want, 3, rel, msg, sizeof(msg));
  ck_assert_msg(strstr(msg, "element 3") && strstr(msg, "-2.003"), "%s", msg);
  ck_assert_uint_eq(xhal_ref_compare(F32, NULL, want, 5, rel), 0);
  ck_assert_uint_eq(xhal_ref_compare(F32, NULL, NULL, 0, rel), 0);
  {
    static const int32_t a[] = {5, INT32_MIN, 7};
    static const int32_t b[] = {5, INT32_MIN, 8};
    static const uint16_t h1[] = {0x3C00u, 0x7E00u};
    static const uint16_t h2[] = {0x3C01u, 0x7E01u};
    ck_assert_uint_eq(xhal_ref_compare(I32, a, b, 3, exact), 2);
    ck_assert_uint_eq(xhal_ref_compare(I32, a, b, 2, exact), 2);
    /* 1 ulp of f16 at 1.0 is 2^-10 ~ 9.8e-4: within rel 1e-3. */
    ck_assert_uint_eq(xhal_ref_compare(F16, h1, h2, 2, rel), 2);
    ck_assert_uint_eq(xhal_ref_compare(F16, h1, h2, 2, exact), 0);
  }
}
END_TEST

/* --------------------------------------------------- sizes and calls */

START_TEST(test_numel_bytes) {
  xhal_tensor_desc_t d = t_desc(F16, 0, 0, 0, 0, 0);
  ck_assert_uint_eq(xhal_ref_numel(&d), 1);
  ck_assert_uint_eq(xhal_ref_bytes(&d), 2);
  d = t_desc(F32, 3, 2, 3, 4, 0);
  ck_assert_uint_eq(xhal_ref_numel(&d), 24);
  ck_assert_uint_eq(xhal_ref_bytes(&d), 96);
  d = t_desc(F32, 3, UINT64_MAX, 0, 5, 0);
  ck_assert_uint_eq(xhal_ref_numel(&d), 0);
  d = t_desc(I8, 2, 1ull << 32, 1ull << 32, 0, 0);
  ck_assert_uint_eq(xhal_ref_numel(&d), UINT64_MAX);
  d = t_desc(I32, 2, 1ull << 31, 1ull << 31, 0, 0); /* 2^62 * 4 bytes */
  ck_assert_uint_eq(xhal_ref_numel(&d), 1ull << 62);
  ck_assert_uint_eq(xhal_ref_bytes(&d), UINT64_MAX);
  d.rank = 9;
  ck_assert_uint_eq(xhal_ref_numel(&d), UINT64_MAX);
  ck_assert_uint_eq(xhal_ref_numel(NULL), UINT64_MAX);
  ck_assert_str_eq(xhal_ref_dtype_name(F16), "f16");
  ck_assert_str_eq(xhal_ref_dtype_name(99), "invalid");
}
END_TEST

START_TEST(test_output_desc) {
  xhal_tensor_desc_t in[3] = {
      t_desc(F32, 2, 5, 2, 0, 0), t_desc(F32, 2, 7, 5, 0, 0), {0}};
  xhal_plugin_op_call_t c = t_call(XHAL_OP_MATMUL, 2, in, in[0]);
  xhal_tensor_desc_t out;
  c.attrs.transpose_a = 1; /* op(A) [2, 5] */
  c.attrs.transpose_b = 1; /* op(B) [5, 7] */
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  ck_assert(out.dtype == F32 && out.rank == 2 && out.dims[0] == 2 &&
            out.dims[1] == 7 && out.dims[2] == 0);
  c.attrs.transpose_b = 0;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  /* int8 conv: i32 out, (8 + 2 - 3)/2 + 1 = 4 rows, 8 - 3 + 1 = 6 cols. */
  in[0] = t_desc(I8, 4, 2, 3, 8, 8);
  in[1] = t_desc(I8, 4, 5, 3, 3, 3);
  c = t_call(XHAL_OP_CONV2D, 2, in, in[0]);
  c.attrs.stride[0] = 2;
  c.attrs.padding[0] = 1;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  ck_assert(out.dtype == I32 && out.rank == 4 && out.dims[0] == 2 &&
            out.dims[1] == 5 && out.dims[2] == 4 && out.dims[3] == 6);
  c.attrs.groups = 0;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  /* cast takes its output dtype from the call. */
  c = t_call(XHAL_OP_CAST, 1, in, t_desc(F16, 1, 1, 0, 0, 0));
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  ck_assert(out.dtype == F16 && out.rank == 4 && out.dims[3] == 8);
  /* Broadcast, reduce, transpose. */
  in[0] = t_desc(F32, 3, 4, 1, 3, 0);
  in[1] = t_desc(F32, 2, 5, 1, 0, 0);
  c = t_call(XHAL_OP_MAX, 2, in, in[0]);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  ck_assert(out.rank == 3 && out.dims[0] == 4 && out.dims[1] == 5 &&
            out.dims[2] == 3);
  c = t_call(XHAL_OP_REDUCE_MAX, 1, in, in[0]);
  c.attrs.axis = -3;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  ck_assert(out.dims[0] == 1 && out.dims[1] == 1 && out.dims[2] == 3);
  c = t_call(XHAL_OP_TRANSPOSE, 1, in, in[0]);
  c.attrs.perm[0] = 2;
  c.attrs.perm[2] = 0;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  ck_assert(out.dims[0] == 3 && out.dims[1] == 1 && out.dims[2] == 4);
  /* Statuses. */
  c.op = 12345;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_NOT_FOUND);
  in[1] = in[0] = t_desc(I8, 1, 4, 0, 0, 0);
  c = t_call(XHAL_OP_ADD, 2, in, in[0]);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_UNSUPPORTED);
  c.num_inputs = 3;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(xhal_ref_output_desc(NULL, &out),
                   XHAL_ERROR_INVALID_ARGUMENT);
}
END_TEST

/* Each malformed call the catalog forbids, with the status the reference
 * must give instead of indexing out of bounds. */
START_TEST(test_output_desc_rejects) {
  xhal_tensor_desc_t in[3];
  xhal_plugin_op_call_t c;
  xhal_tensor_desc_t out;
  /* matmul */
  in[0] = t_desc(F32, 2, 2, 3, 0, 0);
  in[1] = t_desc(F32, 2, 3, 4, 0, 0);
  in[2] = t_desc(F32, 1, 4, 0, 0, 0);
  c = t_call(XHAL_OP_MATMUL, 3, in, in[0]);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  c.attrs.transpose_a = 2;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  c.attrs.transpose_a = 0;
  c.inputs[2].desc = t_desc(F32, 1, 3, 0, 0, 0);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.inputs[2].desc = t_desc(F16, 1, 4, 0, 0, 0);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_UNSUPPORTED);
  c.inputs[2].desc = in[2];
  c.inputs[0].desc = t_desc(F32, 3, 1, 2, 3, 0);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.inputs[0].desc.rank = 9;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  c.inputs[0].desc = t_desc(I8, 2, 2, 3, 0, 0);
  c.inputs[1].desc = t_desc(I8, 2, 3, 4, 0, 0);
  c.inputs[2].desc = t_desc(I32, 1, 4, 0, 0, 0);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  ck_assert_int_eq(out.dtype, I32);
  c.attrs.beta = 1.0f;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  c.attrs.beta = 0.0f;
  c.inputs[2].desc.dtype = I8;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_UNSUPPORTED);
  c.num_inputs = 2;
  c.inputs[1].desc.dtype = F32;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_UNSUPPORTED);
  /* conv2d */
  in[0] = t_desc(F32, 4, 1, 4, 5, 5);
  in[1] = t_desc(F32, 4, 6, 2, 3, 3);
  in[2] = t_desc(F32, 1, 6, 0, 0, 0);
  c = t_call(XHAL_OP_CONV2D, 3, in, in[0]);
  c.attrs.groups = 2;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  c.attrs.groups = 4; /* does not divide K = 6 */
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.attrs.groups = 3; /* does not divide C */
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.attrs.groups = 2;
  c.attrs.dilation[1] = 3; /* window 7 > 5 */
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.attrs.padding[1] = 1; /* 5 + 2 - 7 = 0: one column */
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  ck_assert_uint_eq(out.dims[3], 1);
  c.attrs.stride[0] = 0;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  c.attrs.stride[0] = 1;
  c.inputs[2].desc = t_desc(F32, 1, 5, 0, 0, 0);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.inputs[2].desc = in[2];
  c.inputs[0].desc.dims[0] = 0;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.inputs[0].desc = t_desc(F32, 3, 4, 5, 5, 0);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  /* layer_norm */
  in[0] = t_desc(F32, 2, 3, 4, 0, 0);
  in[1] = t_desc(F32, 1, 4, 0, 0, 0);
  c = t_call(XHAL_OP_LAYER_NORM, 2, in, in[0]);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  c.attrs.epsilon = -1.0f;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  c.attrs.epsilon = 0.0f;
  c.inputs[1].desc = t_desc(F32, 1, 3, 0, 0, 0);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.num_inputs = 1;
  c.inputs[0].desc = t_desc(F32, 2, 3, 0, 0, 0);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  /* reduce, softmax, transpose */
  in[0] = t_desc(F32, 2, 3, 0, 0, 0);
  c = t_call(XHAL_OP_REDUCE_SUM, 1, in, in[0]);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_OK);
  c.op = XHAL_OP_REDUCE_MAX; /* the max of nothing */
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.attrs.axis = 2;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  c.inputs[0].desc = t_desc(F32, 0, 0, 0, 0, 0);
  c.attrs.axis = -1;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.op = XHAL_OP_SOFTMAX;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
  c.inputs[0].desc = t_desc(I32, 1, 3, 0, 0, 0);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_UNSUPPORTED);
  c.op = XHAL_OP_TRANSPOSE;
  c.attrs.perm[0] = 1;
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  c.inputs[0].desc = t_desc(I32, 2, 3, 2, 0, 0);
  c.attrs.perm[1] = 1; /* duplicate */
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_INVALID_ARGUMENT);
  /* broadcast */
  in[0] = t_desc(F32, 2, 2, 3, 0, 0);
  in[1] = t_desc(F32, 1, 2, 0, 0, 0);
  c = t_call(XHAL_OP_SUB, 2, in, in[0]);
  ck_assert_int_eq(xhal_ref_output_desc(&c, &out), XHAL_ERROR_SHAPE_MISMATCH);
}
END_TEST

START_TEST(test_run_rejects) {
  static const float x[4] = {1, 2, 3, 4};
  float y[4];
  xhal_tensor_desc_t d = t_desc(F32, 1, 4, 0, 0, 0);
  xhal_plugin_op_call_t c = t_call(XHAL_OP_RELU, 1, &d, d);
  const void* ins[1] = {x};
  const void* none[1] = {NULL};
  c.outputs[0].desc = t_desc(F32, 1, 5, 0, 0, 0); /* would overrun y */
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_ERROR_SHAPE_MISMATCH);
  c.outputs[0].desc = t_desc(F16, 1, 4, 0, 0, 0);
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_ERROR_UNSUPPORTED);
  c.outputs[0].desc = d;
  ck_assert_int_eq(xhal_ref_run(&c, none, y), XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(xhal_ref_run(&c, ins, NULL), XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(xhal_ref_run(&c, NULL, y), XHAL_ERROR_INVALID_ARGUMENT);
  c.num_outputs = 0;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_ERROR_INVALID_ARGUMENT);
  c.num_outputs = 1;
  c.op = XHAL_OP_CUSTOM_BASE;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_ERROR_NOT_FOUND);
  c.op = XHAL_OP_SOFTMAX;
  c.attrs.axis = 1;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_ERROR_INVALID_ARGUMENT);
  /* An empty tensor needs no data. */
  d = t_desc(F32, 2, 3, 0, 0, 0);
  c = t_call(XHAL_OP_EXP, 1, &d, d);
  ck_assert_int_eq(xhal_ref_run(&c, none, NULL), XHAL_OK);
  ck_assert_int_eq(xhal_ref_run(&c, NULL, NULL), XHAL_ERROR_INVALID_ARGUMENT);
}
END_TEST

/* ------------------------------------------------------------ random */

START_TEST(test_fill_random) {
  float a[1000], b[1000];
  int32_t iv[2000];
  int8_t i8[300];
  int seen[7] = {0};
  size_t i;
  ck_assert_int_eq(xhal_ref_fill_random(F32, a, 1000, 42, -1.0, 1.0), XHAL_OK);
  ck_assert_int_eq(xhal_ref_fill_random(F32, b, 1000, 42, -1.0, 1.0), XHAL_OK);
  ck_assert(memcmp(a, b, sizeof(a)) == 0); /* deterministic */
  ck_assert_int_eq(xhal_ref_fill_random(F32, b, 1000, 43, -1.0, 1.0), XHAL_OK);
  ck_assert(memcmp(a, b, sizeof(a)) != 0);
  {
    double lo = 1.0, hi = -1.0;
    for (i = 0; i < 1000; ++i) {
      ck_assert(a[i] >= -1.0f && a[i] <= 1.0f);
      lo = fmin(lo, a[i]);
      hi = fmax(hi, a[i]);
    }
    ck_assert(lo < -0.99 && hi > 0.99); /* spans the range */
  }
  /* Integers cover [ceil(lo), floor(hi)] exactly. */
  ck_assert_int_eq(xhal_ref_fill_random(I32, iv, 2000, 1, -2.5, 3.0), XHAL_OK);
  for (i = 0; i < 2000; ++i) {
    ck_assert(iv[i] >= -3 && iv[i] <= 3);
    seen[iv[i] + 3] = 1;
  }
  for (i = 1; i < 7; ++i) ck_assert(seen[i]);
  ck_assert(!seen[0]); /* -3 is outside [-2.5, 3] */
  /* i8 clamps the range to what it holds. */
  ck_assert_int_eq(xhal_ref_fill_random(I8, i8, 300, 9, -1000, 1000), XHAL_OK);
  ck_assert_int_eq(xhal_ref_fill_random(I8, i8, 0, 9, 200, 300),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(xhal_ref_fill_random(F32, a, 1, 9, 1, 0),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(xhal_ref_fill_random(F32, a, 1, 9, 0, INFINITY),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(xhal_ref_fill_random(F32, NULL, 1, 9, 0, 1),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(xhal_ref_fill_random(XHAL_DTYPE_INVALID, a, 1, 9, 0, 1),
                   XHAL_ERROR_INVALID_ARGUMENT);
  {
    /* The generator's first splitmix64 output for seed 0 is fixed. */
    xhal_ref_rng_t rng;
    xhal_ref_rng_seed(&rng, 0);
    ck_assert_uint_eq(xhal_ref_rng_next(&rng), 0xE220A8397B1DCDAFull);
  }
}
END_TEST

TCase* reference_values_tcase(void) {
  TCase* tc = tcase_create("values");
  tcase_add_test(tc, test_cast_float_to_int);
  tcase_add_test(tc, test_cast_to_half);
  tcase_add_test(tc, test_cast_int_to_float);
  tcase_add_test(tc, test_cast_int_to_int_and_same);
  tcase_add_test(tc, test_double_to_half_agrees_with_float_path);
  tcase_add_test(tc, test_tolerance);
  tcase_add_test(tc, test_compare);
  tcase_add_test(tc, test_numel_bytes);
  tcase_add_test(tc, test_output_desc);
  tcase_add_test(tc, test_output_desc_rejects);
  tcase_add_test(tc, test_run_rejects);
  tcase_add_test(tc, test_fill_random);
  return tc;
}
