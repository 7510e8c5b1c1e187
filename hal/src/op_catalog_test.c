/*
 * op_catalog_test.c - every rule of docs/ops.md that op_catalog_check
 * enforces, accepted once and rejected once with its documented status,
 * for every operator; plus the message naming the operand at fault.
 */
#include "op_catalog.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const xhal_dtype_t F32 = XHAL_DTYPE_F32;
static const xhal_dtype_t F16 = XHAL_DTYPE_F16;
static const xhal_dtype_t I8 = XHAL_DTYPE_I8;
static const xhal_dtype_t I32 = XHAL_DTYPE_I32;

/* Short names for the statuses this file expects over and over. */
static const xhal_status_t BAD_ARG = XHAL_ERROR_INVALID_ARGUMENT;
static const xhal_status_t BAD_DTYPE = XHAL_ERROR_DTYPE_MISMATCH;
static const xhal_status_t BAD_SHAPE = XHAL_ERROR_SHAPE_MISMATCH;

/* ------------------------------------------------------------- helpers */

static xhal_tensor_desc_t dn(xhal_dtype_t dt, uint32_t rank,
                             const uint64_t* dims) {
  xhal_tensor_desc_t d;
  uint32_t i;
  memset(&d, 0, sizeof(d));
  d.dtype = dt;
  d.rank = rank;
  for (i = 0; i < rank && i < XHAL_MAX_RANK; ++i) d.dims[i] = dims[i];
  return d;
}
static xhal_tensor_desc_t d0(xhal_dtype_t dt) { return dn(dt, 0, NULL); }
static xhal_tensor_desc_t d1(xhal_dtype_t dt, uint64_t a) {
  uint64_t v[] = {a};
  return dn(dt, 1, v);
}
static xhal_tensor_desc_t d2(xhal_dtype_t dt, uint64_t a, uint64_t b) {
  uint64_t v[] = {a, b};
  return dn(dt, 2, v);
}
static xhal_tensor_desc_t d3(xhal_dtype_t dt, uint64_t a, uint64_t b,
                             uint64_t c) {
  uint64_t v[] = {a, b, c};
  return dn(dt, 3, v);
}
static xhal_tensor_desc_t d4(xhal_dtype_t dt, uint64_t a, uint64_t b,
                             uint64_t c, uint64_t e) {
  uint64_t v[] = {a, b, c, e};
  return dn(dt, 4, v);
}

static xhal_op_attrs_t defaults(void) {
  xhal_op_attrs_t a;
  xhal_op_attrs_default(&a);
  return a;
}

/* The message of the last check, for assertions on its content. */
static char g_msg[512];

static xhal_status_t check_attrs(xhal_op_t op, uint32_t nin,
                                 const xhal_tensor_desc_t* in,
                                 xhal_tensor_desc_t out,
                                 const xhal_op_attrs_t* attrs) {
  memset(g_msg, 'x', sizeof(g_msg));
  return op_catalog_check(op, nin, in, 1, &out, attrs, g_msg, sizeof(g_msg));
}

static xhal_status_t check1(xhal_op_t op, xhal_tensor_desc_t x,
                            xhal_tensor_desc_t out) {
  xhal_op_attrs_t a = defaults();
  return check_attrs(op, 1, &x, out, &a);
}

static xhal_status_t check2(xhal_op_t op, xhal_tensor_desc_t x,
                            xhal_tensor_desc_t y, xhal_tensor_desc_t out) {
  xhal_tensor_desc_t in[2] = {x, y};
  xhal_op_attrs_t a = defaults();
  return check_attrs(op, 2, in, out, &a);
}

#define EXPECT(call, status) expect_status((call), (status), __LINE__)
#define EXPECT_MSG(needle) expect_msg((needle), __LINE__)

static void expect_status(xhal_status_t got, xhal_status_t want, int line) {
  ck_assert_msg(got == want, "line %d: status %d, want %d (msg: %s)", line,
                (int)got, (int)want, g_msg);
  if (want == XHAL_OK) {
    ck_assert_msg(g_msg[0] == '\0', "line %d: OK must clear msg", line);
  }
}

static void expect_msg(const char* needle, int line) {
  ck_assert_msg(memchr(g_msg, '\0', sizeof(g_msg)) != NULL,
                "line %d: msg not terminated", line);
  ck_assert_msg(strstr(g_msg, needle) != NULL, "line %d: msg '%s' lacks '%s'",
                line, g_msg, needle);
}

static const xhal_op_t kBinary[] = {XHAL_OP_ADD, XHAL_OP_SUB, XHAL_OP_MUL,
                                    XHAL_OP_DIV, XHAL_OP_MAX, XHAL_OP_MIN};
static const xhal_op_t kUnary[] = {XHAL_OP_RELU, XHAL_OP_GELU, XHAL_OP_SIGMOID,
                                   XHAL_OP_TANH, XHAL_OP_EXP};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* --------------------------------------------------------- general */

START_TEST(test_names_and_arity) {
  static const struct {
    xhal_op_t op;
    const char* name;
    uint32_t lo, hi;
  } kWant[] = {{XHAL_OP_ADD, "add", 2, 2},
               {XHAL_OP_SUB, "sub", 2, 2},
               {XHAL_OP_MUL, "mul", 2, 2},
               {XHAL_OP_DIV, "div", 2, 2},
               {XHAL_OP_MAX, "max", 2, 2},
               {XHAL_OP_MIN, "min", 2, 2},
               {XHAL_OP_RELU, "relu", 1, 1},
               {XHAL_OP_GELU, "gelu", 1, 1},
               {XHAL_OP_SIGMOID, "sigmoid", 1, 1},
               {XHAL_OP_TANH, "tanh", 1, 1},
               {XHAL_OP_EXP, "exp", 1, 1},
               {XHAL_OP_MATMUL, "matmul", 2, 3},
               {XHAL_OP_CONV2D, "conv2d", 2, 3},
               {XHAL_OP_SOFTMAX, "softmax", 1, 1},
               {XHAL_OP_LAYER_NORM, "layer_norm", 1, 3},
               {XHAL_OP_REDUCE_SUM, "reduce_sum", 1, 1},
               {XHAL_OP_REDUCE_MAX, "reduce_max", 1, 1},
               {XHAL_OP_TRANSPOSE, "transpose", 1, 1},
               {XHAL_OP_CAST, "cast", 1, 1}};
  size_t i;
  uint32_t lo = 99, hi = 99;
  for (i = 0; i < COUNT(kWant); ++i) {
    ck_assert_str_eq(op_catalog_name(kWant[i].op), kWant[i].name);
    ck_assert_int_eq(op_catalog_known(kWant[i].op), 1);
    ck_assert_int_eq(op_catalog_arity(kWant[i].op, &lo, &hi), XHAL_OK);
    ck_assert_uint_eq(lo, kWant[i].lo);
    ck_assert_uint_eq(hi, kWant[i].hi);
  }
  ck_assert_ptr_null(op_catalog_name(XHAL_OP_INVALID));
  ck_assert_ptr_null(op_catalog_name(7));
  ck_assert_ptr_null(op_catalog_name(XHAL_OP_CUSTOM_BASE));
  ck_assert_int_eq(op_catalog_known(XHAL_OP_INVALID), 0);
  ck_assert_int_eq(op_catalog_known(XHAL_OP_CUSTOM_BASE + 3), 0);
  ck_assert_int_eq(op_catalog_arity(7, &lo, &hi), XHAL_ERROR_NOT_FOUND);
  ck_assert_int_eq(op_catalog_arity(XHAL_OP_CUSTOM_BASE + 3, &lo, &hi),
                   XHAL_OK);
  ck_assert_uint_eq(lo, 0);
  ck_assert_uint_eq(hi, XHAL_MAX_OP_INPUTS);
  ck_assert_int_eq(op_catalog_arity(XHAL_OP_ADD, NULL, &hi), BAD_ARG);
  ck_assert_int_eq(op_catalog_arity(XHAL_OP_ADD, &lo, NULL), BAD_ARG);
}
END_TEST

START_TEST(test_unknown_op) {
  static const xhal_op_t kBad[] = {XHAL_OP_INVALID, 7, 31, 1000,
                                   XHAL_OP_CUSTOM_BASE - 1};
  xhal_tensor_desc_t x = d1(F32, 4);
  size_t i;
  for (i = 0; i < COUNT(kBad); ++i) {
    EXPECT(check1(kBad[i], x, x), XHAL_ERROR_NOT_FOUND);
    EXPECT_MSG("unknown operator");
  }
}
END_TEST

START_TEST(test_attrs_header) {
  xhal_tensor_desc_t x = d1(F32, 4);
  xhal_op_attrs_t a = defaults();
  EXPECT(check_attrs(XHAL_OP_RELU, 1, &x, x, NULL), BAD_ARG);
  EXPECT_MSG("attrs is NULL");
  a.struct_size = 0;
  EXPECT(check_attrs(XHAL_OP_RELU, 1, &x, x, &a), BAD_ARG);
  EXPECT_MSG("struct_size 0");
  a.struct_size = 87;
  EXPECT(check_attrs(XHAL_OP_RELU, 1, &x, x, &a), BAD_ARG);
  a.struct_size = 1u << 20; /* uninitialised memory, not a real size */
  EXPECT(check_attrs(XHAL_OP_RELU, 1, &x, x, &a), BAD_ARG);
  a.struct_size = 88;
  EXPECT(check_attrs(XHAL_OP_RELU, 1, &x, x, &a), XHAL_OK);
  a.struct_size = 120; /* a later minor version's larger struct */
  EXPECT(check_attrs(XHAL_OP_RELU, 1, &x, x, &a), XHAL_OK);
  /* Custom ops get the attrs too, so the header matters for them. */
  a.struct_size = 4;
  EXPECT(check_attrs(XHAL_OP_CUSTOM_BASE, 1, &x, x, &a), BAD_ARG);
}
END_TEST

START_TEST(test_message_buffer) {
  xhal_tensor_desc_t in[2] = {d1(F32, 3), d1(F32, 4)};
  xhal_tensor_desc_t out = d1(F32, 3);
  xhal_op_attrs_t a = defaults();
  char small[8];
  /* No buffer at all still gives the status. */
  ck_assert_int_eq(op_catalog_check(XHAL_OP_ADD, 2, in, 1, &out, &a, NULL, 0),
                   BAD_SHAPE);
  memset(small, 'x', sizeof(small));
  ck_assert_int_eq(
      op_catalog_check(XHAL_OP_ADD, 2, in, 1, &out, &a, small, sizeof(small)),
      BAD_SHAPE);
  ck_assert_int_eq(small[sizeof(small) - 1], '\0');
  ck_assert_str_eq(small, "add: in"); /* truncated, NUL-terminated */
  memset(small, 'x', sizeof(small));
  ck_assert_int_eq(op_catalog_check(XHAL_OP_ADD, 2, in, 1, &out, &a, small, 1),
                   BAD_SHAPE);
  ck_assert_int_eq(small[0], '\0');
  ck_assert_int_eq(small[1], 'x');
}
END_TEST

START_TEST(test_operand_arrays) {
  xhal_tensor_desc_t x = d1(F32, 4);
  xhal_tensor_desc_t outs[2] = {x, x};
  xhal_op_attrs_t a = defaults();
  EXPECT(
      op_catalog_check(XHAL_OP_RELU, 1, NULL, 1, &x, &a, g_msg, sizeof(g_msg)),
      BAD_ARG);
  EXPECT_MSG("input array is NULL");
  EXPECT(
      op_catalog_check(XHAL_OP_RELU, 1, &x, 1, NULL, &a, g_msg, sizeof(g_msg)),
      BAD_ARG);
  EXPECT(
      op_catalog_check(XHAL_OP_RELU, 1, &x, 0, outs, &a, g_msg, sizeof(g_msg)),
      BAD_ARG);
  EXPECT_MSG("outputs, got 0");
  EXPECT(
      op_catalog_check(XHAL_OP_RELU, 1, &x, 2, outs, &a, g_msg, sizeof(g_msg)),
      BAD_ARG);
}
END_TEST

START_TEST(test_descriptors) {
  xhal_tensor_desc_t x = d1(F32, 4);
  xhal_tensor_desc_t bad = x;
  uint64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1};
  xhal_tensor_desc_t r8 = dn(F32, 8, nine);
  xhal_tensor_desc_t in[2];
  bad.rank = 9;
  EXPECT(check1(XHAL_OP_RELU, bad, x), BAD_ARG);
  EXPECT_MSG("input 0 (X) has rank 9");
  EXPECT(check1(XHAL_OP_RELU, x, bad), BAD_ARG);
  EXPECT_MSG("output has rank 9");
  EXPECT(check1(XHAL_OP_RELU, r8, r8), XHAL_OK); /* rank 8 is the limit */
  bad = x;
  bad.dtype = XHAL_DTYPE_INVALID;
  EXPECT(check1(XHAL_OP_RELU, bad, x), BAD_DTYPE);
  EXPECT_MSG("unknown dtype 0");
  bad.dtype = XHAL_DTYPE_COUNT;
  EXPECT(check1(XHAL_OP_CAST, x, bad), BAD_DTYPE);
  EXPECT_MSG("output has unknown dtype 5");
  /* 2^62 * 8 elements of 4 bytes: 2^67 bytes. */
  in[0] = d2(F32, 1ull << 62, 8);
  EXPECT(check1(XHAL_OP_RELU, in[0], in[0]), BAD_ARG);
  EXPECT_MSG("2^64 - 1 bytes");
  /* 2^61 f32 elements are 2^63 bytes: representable. */
  in[0] = d2(F32, 1ull << 60, 2);
  EXPECT(check1(XHAL_OP_RELU, in[0], in[0]), XHAL_OK);
  /* A zero dim empties the tensor, but the other dims must still fit
   * (numpy's rule): [2^63, 0, 2^63] is refused here, once, with the
   * status of any other oversized tensor. */
  in[0] = d3(F32, 1ull << 63, 0, 1ull << 63);
  EXPECT(check1(XHAL_OP_RELU, in[0], in[0]), BAD_ARG);
  EXPECT_MSG("non-zero dims");
  in[0] = d3(F32, 1ull << 63, 1ull << 63, 0);
  in[1] = d3(F32, 1, 1, 0);
  EXPECT(check1(XHAL_OP_RELU, in[0], in[1]), BAD_ARG);
  EXPECT_MSG("input 0 (X)");
  /* Within 64 bits, an empty tensor is fine however large the rest. */
  in[0] = d3(F32, 1ull << 30, 0, 1ull << 31);
  EXPECT(check1(XHAL_OP_RELU, in[0], in[0]), XHAL_OK);
  /* Rank 0 is one element. */
  in[0] = d0(F32);
  in[1] = d0(F32);
  EXPECT(check2(XHAL_OP_ADD, in[0], in[1], d0(F32)), XHAL_OK);
}
END_TEST

START_TEST(test_custom_ops) {
  xhal_tensor_desc_t in[5] = {d1(I8, 3), d4(F16, 9, 1, 2, 3), d0(I32),
                              d1(F32, 0), d1(F32, 1)};
  xhal_tensor_desc_t out = d2(F32, 7, 7);
  xhal_op_attrs_t a = defaults();
  xhal_op_t op = XHAL_OP_CUSTOM_BASE + 5;
  a.axis = 99; /* attributes are the implementation's business */
  EXPECT(op_catalog_check(op, 0, NULL, 1, &out, &a, g_msg, sizeof(g_msg)),
         XHAL_OK);
  EXPECT(op_catalog_check(op, 4, in, 1, &out, &a, g_msg, sizeof(g_msg)),
         XHAL_OK);
  EXPECT(op_catalog_check(op, 4, in, 0, NULL, &a, g_msg, sizeof(g_msg)),
         XHAL_OK);
  EXPECT(
      op_catalog_check(0xFFFFFFFFu, 1, in, 1, &out, &a, g_msg, sizeof(g_msg)),
      XHAL_OK);
  EXPECT(op_catalog_check(op, 5, in, 1, &out, &a, g_msg, sizeof(g_msg)),
         BAD_ARG);
  EXPECT_MSG("op 0x10005");
  EXPECT(op_catalog_check(op, 1, in, 2, &out, &a, g_msg, sizeof(g_msg)),
         BAD_ARG);
  in[2].dtype = 42;
  EXPECT(op_catalog_check(op, 4, in, 1, &out, &a, g_msg, sizeof(g_msg)),
         BAD_DTYPE);
  EXPECT_MSG("input 2 has unknown dtype 42");
  in[2].dtype = I32;
  out.rank = 9;
  EXPECT(op_catalog_check(op, 4, in, 1, &out, &a, g_msg, sizeof(g_msg)),
         BAD_ARG);
}
END_TEST

/* ------------------------------------------------------------ binary */

START_TEST(test_binary_dtypes) {
  size_t i;
  for (i = 0; i < COUNT(kBinary); ++i) {
    xhal_op_t op = kBinary[i];
    xhal_tensor_desc_t x32 = d2(F32, 2, 3);
    xhal_tensor_desc_t x16 = d2(F16, 2, 3);
    xhal_tensor_desc_t xi32 = d2(I32, 2, 3);
    xhal_tensor_desc_t xi8 = d2(I8, 2, 3);
    EXPECT(check2(op, x32, x32, x32), XHAL_OK);
    EXPECT(check2(op, x16, x16, x16), XHAL_OK);
    EXPECT(check2(op, xi32, xi32, xi32),
           op == XHAL_OP_DIV ? BAD_DTYPE : XHAL_OK);
    EXPECT(check2(op, xi8, xi8, xi8), BAD_DTYPE);
    EXPECT_MSG("input 0 (A) is i8");
    EXPECT(check2(op, x32, x16, x32), BAD_DTYPE);
    EXPECT_MSG("input 1 (B) is f16 but input 0 (A) is f32");
    EXPECT(check2(op, x16, x16, x32), BAD_DTYPE);
    EXPECT_MSG("output is f32");
  }
}
END_TEST

START_TEST(test_binary_counts) {
  xhal_tensor_desc_t in[3] = {d1(F32, 2), d1(F32, 2), d1(F32, 2)};
  xhal_op_attrs_t a = defaults();
  size_t i;
  for (i = 0; i < COUNT(kBinary); ++i) {
    EXPECT(check_attrs(kBinary[i], 1, in, in[0], &a), BAD_ARG);
    EXPECT_MSG("takes 2 inputs, got 1");
    EXPECT(check_attrs(kBinary[i], 3, in, in[0], &a), BAD_ARG);
    EXPECT(check_attrs(kBinary[i], 0, NULL, in[0], &a), BAD_ARG);
  }
}
END_TEST

START_TEST(test_binary_broadcast) {
  size_t i;
  for (i = 0; i < COUNT(kBinary); ++i) {
    xhal_op_t op = kBinary[i];
    EXPECT(check2(op, d2(F32, 3, 1), d2(F32, 1, 4), d2(F32, 3, 4)), XHAL_OK);
    EXPECT(check2(op, d1(F32, 4), d3(F32, 2, 3, 4), d3(F32, 2, 3, 4)), XHAL_OK);
    EXPECT(check2(op, d3(F32, 2, 1, 4), d2(F32, 3, 1), d3(F32, 2, 3, 4)),
           XHAL_OK);
    EXPECT(check2(op, d0(F32), d1(F32, 5), d1(F32, 5)), XHAL_OK);
    EXPECT(check2(op, d1(F32, 5), d0(F32), d1(F32, 5)), XHAL_OK);
    /* A 1 broadcasts against 0: the result is empty. */
    EXPECT(check2(op, d1(F32, 1), d1(F32, 0), d1(F32, 0)), XHAL_OK);
    EXPECT(check2(op, d2(F32, 2, 3), d1(F32, 4), d2(F32, 2, 3)), BAD_SHAPE);
    EXPECT_MSG("input 0 (A) [2, 3] and input 1 (B) [4] do not broadcast");
    EXPECT_MSG("3 vs 4");
    EXPECT(check2(op, d1(F32, 2), d1(F32, 0), d1(F32, 0)), BAD_SHAPE);
    /* The output is exactly the broadcast shape. */
    EXPECT(check2(op, d2(F32, 3, 1), d2(F32, 1, 4), d2(F32, 4, 3)), BAD_SHAPE);
    EXPECT_MSG("output shape [4, 3] must be [3, 4]");
    EXPECT(check2(op, d2(F32, 3, 1), d2(F32, 1, 4), d3(F32, 1, 3, 4)),
           BAD_SHAPE);
    EXPECT(check2(op, d2(F32, 3, 1), d2(F32, 1, 4), d2(F32, 3, 1)), BAD_SHAPE);
    EXPECT(check2(op, d0(F32), d0(F32), d1(F32, 1)), BAD_SHAPE);
  }
}
END_TEST

/* ------------------------------------------------------------- unary */

START_TEST(test_unary) {
  xhal_tensor_desc_t in[2] = {d2(F32, 2, 3), d2(F32, 2, 3)};
  xhal_op_attrs_t a = defaults();
  size_t i;
  for (i = 0; i < COUNT(kUnary); ++i) {
    xhal_op_t op = kUnary[i];
    EXPECT(check1(op, d2(F32, 2, 3), d2(F32, 2, 3)), XHAL_OK);
    EXPECT(check1(op, d3(F16, 2, 0, 3), d3(F16, 2, 0, 3)), XHAL_OK);
    EXPECT(check1(op, d0(F16), d0(F16)), XHAL_OK);
    EXPECT(check1(op, d1(I32, 3), d1(I32, 3)), BAD_DTYPE);
    EXPECT(check1(op, d1(I8, 3), d1(I8, 3)), BAD_DTYPE);
    EXPECT(check1(op, d1(F32, 3), d1(F16, 3)), BAD_DTYPE);
    EXPECT_MSG("output is f16 but input 0 (X) is f32");
    EXPECT(check1(op, d2(F32, 2, 3), d2(F32, 3, 2)), BAD_SHAPE);
    EXPECT_MSG("output shape [3, 2] must be [2, 3]");
    EXPECT(check1(op, d1(F32, 6), d2(F32, 2, 3)), BAD_SHAPE);
    EXPECT(check_attrs(op, 2, in, in[0], &a), BAD_ARG);
    EXPECT_MSG("takes 1 input, got 2");
  }
}
END_TEST

/* ------------------------------------------------------------ matmul */

static xhal_status_t mm(xhal_tensor_desc_t a_desc, xhal_tensor_desc_t b_desc,
                        const xhal_tensor_desc_t* bias, xhal_tensor_desc_t out,
                        uint32_t ta, uint32_t tb) {
  xhal_tensor_desc_t in[3] = {a_desc, b_desc, {0}};
  xhal_op_attrs_t a = defaults();
  a.transpose_a = ta;
  a.transpose_b = tb;
  if (bias) in[2] = *bias;
  return check_attrs(XHAL_OP_MATMUL, bias ? 3 : 2, in, out, &a);
}

START_TEST(test_matmul_shapes) {
  xhal_tensor_desc_t bias4 = d1(F32, 4);
  xhal_tensor_desc_t bias3 = d1(F32, 3);
  xhal_tensor_desc_t bias_2d = d2(F32, 4, 1); /* N elements, wrong rank */
  EXPECT(mm(d2(F32, 2, 3), d2(F32, 3, 4), NULL, d2(F32, 2, 4), 0, 0), XHAL_OK);
  EXPECT(mm(d2(F32, 3, 2), d2(F32, 3, 4), NULL, d2(F32, 2, 4), 1, 0), XHAL_OK);
  EXPECT(mm(d2(F32, 2, 3), d2(F32, 4, 3), NULL, d2(F32, 2, 4), 0, 1), XHAL_OK);
  EXPECT(mm(d2(F32, 3, 2), d2(F32, 4, 3), NULL, d2(F32, 2, 4), 1, 1), XHAL_OK);
  EXPECT(mm(d2(F32, 2, 3), d2(F32, 3, 4), &bias4, d2(F32, 2, 4), 0, 0),
         XHAL_OK);
  /* K = 0 sums nothing; M or N = 0 is an empty output. */
  EXPECT(mm(d2(F32, 2, 0), d2(F32, 0, 4), &bias4, d2(F32, 2, 4), 0, 0),
         XHAL_OK);
  EXPECT(mm(d2(F32, 0, 3), d2(F32, 3, 4), NULL, d2(F32, 0, 4), 0, 0), XHAL_OK);
  /* Inner dims. */
  EXPECT(mm(d2(F32, 2, 3), d2(F32, 4, 5), NULL, d2(F32, 2, 5), 0, 0),
         BAD_SHAPE);
  EXPECT_MSG("op(A) is [2, 3] and op(B) is [4, 5]: K differs");
  /* Without the flag, a transposed A no longer fits. */
  EXPECT(mm(d2(F32, 3, 2), d2(F32, 3, 4), NULL, d2(F32, 2, 4), 0, 0),
         BAD_SHAPE);
  EXPECT(mm(d2(F32, 2, 3), d2(F32, 3, 4), NULL, d2(F32, 2, 4), 0, 1),
         BAD_SHAPE);
  /* Output. */
  EXPECT(mm(d2(F32, 2, 3), d2(F32, 3, 4), NULL, d2(F32, 4, 2), 0, 0),
         BAD_SHAPE);
  EXPECT_MSG("output shape [4, 2] must be [2, 4]");
  EXPECT(mm(d2(F32, 3, 2), d2(F32, 4, 3), NULL, d2(F32, 3, 3), 1, 1),
         BAD_SHAPE);
  /* Ranks. */
  EXPECT(mm(d3(F32, 1, 2, 3), d2(F32, 3, 4), NULL, d2(F32, 2, 4), 0, 0),
         BAD_SHAPE);
  EXPECT_MSG("rank 2, got 3 and 2");
  EXPECT(mm(d2(F32, 2, 3), d1(F32, 3), NULL, d1(F32, 2), 0, 0), BAD_SHAPE);
  /* Bias is [N]. */
  EXPECT(mm(d2(F32, 2, 3), d2(F32, 3, 4), &bias3, d2(F32, 2, 4), 0, 0),
         BAD_SHAPE);
  EXPECT_MSG("input 2 (bias) [3] must be [4]");
  EXPECT(mm(d2(F32, 2, 3), d2(F32, 3, 4), &bias_2d, d2(F32, 2, 4), 0, 0),
         BAD_SHAPE);
}
END_TEST

START_TEST(test_matmul_attrs) {
  xhal_tensor_desc_t in[2] = {d2(F32, 2, 3), d2(F32, 3, 4)};
  xhal_tensor_desc_t out = d2(F32, 2, 4);
  xhal_op_attrs_t a = defaults();
  EXPECT(mm(in[0], in[1], NULL, out, 2, 0), BAD_ARG);
  EXPECT_MSG("transpose_a (2)");
  EXPECT(mm(in[0], in[1], NULL, out, 0, 7), BAD_ARG);
  /* Float matmul takes any alpha and beta. */
  a.alpha = 2.5f;
  a.beta = -1.0f;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 2, in, out, &a), XHAL_OK);
  /* Operand counts. */
  EXPECT(check_attrs(XHAL_OP_MATMUL, 1, in, out, &a), BAD_ARG);
  EXPECT_MSG("takes 2 to 3 inputs, got 1");
}
END_TEST

START_TEST(test_matmul_dtypes) {
  xhal_tensor_desc_t in[3] = {d2(I8, 2, 3), d2(I8, 3, 4), d1(I32, 4)};
  xhal_tensor_desc_t out = d2(I32, 2, 4);
  xhal_op_attrs_t a = defaults();
  EXPECT(check_attrs(XHAL_OP_MATMUL, 2, in, out, &a), XHAL_OK);
  EXPECT(check_attrs(XHAL_OP_MATMUL, 3, in, out, &a), XHAL_OK);
  /* int8 runs with alpha 1, beta 0 only. */
  a.alpha = 2.0f;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 2, in, out, &a), BAD_ARG);
  EXPECT_MSG("alpha == 1 and beta == 0");
  a.alpha = 1.0f;
  a.beta = 0.5f;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 2, in, out, &a), BAD_ARG);
  a.beta = 0.0f;
  out.dtype = I8;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 2, in, out, &a), BAD_DTYPE);
  EXPECT_MSG("output is i8 but must be i32");
  out.dtype = I32;
  in[2].dtype = I8;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 3, in, out, &a), BAD_DTYPE);
  EXPECT_MSG("input 2 (bias) is i8 but must be i32");
  in[2].dtype = I32;
  in[1].dtype = F32;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 2, in, out, &a), BAD_DTYPE);
  EXPECT_MSG("input 1 (B) is f32 but must be i8");
  /* i32 operands are not a matmul signature. */
  in[0].dtype = I32;
  in[1].dtype = I32;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 2, in, out, &a), BAD_DTYPE);
  /* fp: every operand, bias included, one dtype. */
  in[0].dtype = F16;
  in[1].dtype = F16;
  in[2].dtype = F16;
  out.dtype = F16;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 3, in, out, &a), XHAL_OK);
  in[2].dtype = F32;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 3, in, out, &a), BAD_DTYPE);
  EXPECT_MSG("input 2 (bias) is f32 but input 0 (A) is f16");
  in[2].dtype = F16;
  out.dtype = I32;
  EXPECT(check_attrs(XHAL_OP_MATMUL, 3, in, out, &a), BAD_DTYPE);
}
END_TEST

/* ------------------------------------------------------------ conv2d */

typedef struct conv_case {
  uint32_t stride[2], pad[2], dil[2], groups;
} conv_case_t;

static xhal_status_t conv(xhal_tensor_desc_t x, xhal_tensor_desc_t w,
                          const xhal_tensor_desc_t* bias,
                          xhal_tensor_desc_t out, conv_case_t p) {
  xhal_tensor_desc_t in[3] = {x, w, {0}};
  xhal_op_attrs_t a = defaults();
  memcpy(a.stride, p.stride, sizeof(a.stride));
  memcpy(a.padding, p.pad, sizeof(a.padding));
  memcpy(a.dilation, p.dil, sizeof(a.dilation));
  a.groups = p.groups;
  if (bias) in[2] = *bias;
  return check_attrs(XHAL_OP_CONV2D, bias ? 3 : 2, in, out, &a);
}

static const conv_case_t kPlain = {{1, 1}, {0, 0}, {1, 1}, 1};

START_TEST(test_conv2d_shapes) {
  conv_case_t p = kPlain;
  xhal_tensor_desc_t x = d4(F32, 1, 3, 5, 5);
  xhal_tensor_desc_t w = d4(F32, 4, 3, 3, 3);
  xhal_tensor_desc_t bias = d1(F32, 4);
  EXPECT(conv(x, w, NULL, d4(F32, 1, 4, 3, 3), p), XHAL_OK);
  EXPECT(conv(x, w, &bias, d4(F32, 1, 4, 3, 3), p), XHAL_OK);
  p.pad[0] = p.pad[1] = 1;
  EXPECT(conv(x, w, NULL, d4(F32, 1, 4, 5, 5), p), XHAL_OK);
  p.stride[0] = p.stride[1] = 2; /* (5 + 2 - 3) / 2 + 1 = 3 */
  EXPECT(conv(x, w, NULL, d4(F32, 1, 4, 3, 3), p), XHAL_OK);
  p = kPlain;
  p.dil[0] = p.dil[1] = 2; /* window spans 5: one output */
  EXPECT(conv(x, w, NULL, d4(F32, 1, 4, 1, 1), p), XHAL_OK);
  /* Height and width are independent; floor division. */
  p = kPlain;
  p.stride[1] = 2;
  p.pad[0] = 2;
  EXPECT(conv(d4(F32, 2, 3, 6, 6), w, NULL, d4(F32, 2, 4, 8, 2), p), XHAL_OK);
  EXPECT(conv(d4(F32, 2, 3, 6, 6), w, NULL, d4(F32, 2, 4, 8, 3), p), BAD_SHAPE);
  EXPECT_MSG("output shape [2, 4, 8, 3] must be [2, 4, 8, 2]");
  /* The window must fit the padded input. */
  p = kPlain;
  EXPECT(conv(d4(F32, 1, 3, 2, 5), w, NULL, d4(F32, 1, 4, 1, 3), p), BAD_SHAPE);
  EXPECT_MSG("height: padded input 2");
  p.pad[0] = 1; /* 2 + 2 - 3 = 1: two rows */
  EXPECT(conv(d4(F32, 1, 3, 2, 5), w, NULL, d4(F32, 1, 4, 2, 3), p), XHAL_OK);
  p = kPlain;
  p.dil[1] = 3; /* width window 7 > 5 */
  EXPECT(conv(x, w, NULL, d4(F32, 1, 4, 3, 1), p), BAD_SHAPE);
  EXPECT_MSG("width");
  /* Bias is [K]. */
  p = kPlain;
  bias = d1(F32, 3);
  EXPECT(conv(x, w, &bias, d4(F32, 1, 4, 3, 3), p), BAD_SHAPE);
  EXPECT_MSG("input 2 (bias) [3] must be [4]");
  /* Ranks. */
  EXPECT(conv(d3(F32, 3, 5, 5), w, NULL, d4(F32, 1, 4, 3, 3), p), BAD_SHAPE);
  EXPECT(conv(x, d3(F32, 4, 3, 9), NULL, d4(F32, 1, 4, 3, 3), p), BAD_SHAPE);
  /* W's dim 1 is C/groups. */
  EXPECT(conv(x, d4(F32, 4, 2, 3, 3), NULL, d4(F32, 1, 4, 3, 3), p), BAD_SHAPE);
  EXPECT_MSG("input 1 (W) dim 1 is 2 but must be C/groups = 3/1 = 3");
}
END_TEST

START_TEST(test_conv2d_zero_dims) {
  uint32_t i;
  for (i = 0; i < 4; ++i) {
    uint64_t xd[4] = {1, 2, 4, 4};
    uint64_t wd[4] = {2, 2, 1, 1};
    xd[i] = 0;
    EXPECT(conv(dn(F32, 4, xd), d4(F32, 2, 2, 1, 1), NULL, d4(F32, 1, 2, 4, 4),
                kPlain),
           BAD_SHAPE);
    EXPECT_MSG("input 0 (X) dim");
    wd[i] = 0;
    EXPECT(conv(d4(F32, 1, 2, 4, 4), dn(F32, 4, wd), NULL, d4(F32, 1, 2, 4, 4),
                kPlain),
           BAD_SHAPE);
    EXPECT_MSG("input 1 (W) dim");
  }
}
END_TEST

START_TEST(test_conv2d_groups) {
  conv_case_t p = kPlain;
  p.groups = 2;
  EXPECT(conv(d4(F32, 1, 4, 5, 5), d4(F32, 6, 2, 3, 3), NULL,
              d4(F32, 1, 6, 3, 3), p),
         XHAL_OK);
  EXPECT(conv(d4(F32, 1, 4, 5, 5), d4(F32, 6, 4, 3, 3), NULL,
              d4(F32, 1, 6, 3, 3), p),
         BAD_SHAPE);
  EXPECT_MSG("C/groups = 4/2 = 2");
  /* groups must divide K as well as C. */
  EXPECT(conv(d4(F32, 1, 4, 5, 5), d4(F32, 5, 2, 3, 3), NULL,
              d4(F32, 1, 5, 3, 3), p),
         BAD_SHAPE);
  EXPECT_MSG("groups 2 must divide C (4) and K (5)");
  p.groups = 3;
  EXPECT(conv(d4(F32, 1, 4, 5, 5), d4(F32, 6, 1, 3, 3), NULL,
              d4(F32, 1, 6, 3, 3), p),
         BAD_SHAPE);
  /* Depthwise: groups = C = K. */
  p.groups = 4;
  EXPECT(conv(d4(F32, 1, 4, 5, 5), d4(F32, 4, 1, 3, 3), NULL,
              d4(F32, 1, 4, 3, 3), p),
         XHAL_OK);
}
END_TEST

START_TEST(test_conv2d_attrs) {
  xhal_tensor_desc_t x = d4(F32, 1, 3, 5, 5);
  xhal_tensor_desc_t w = d4(F32, 4, 3, 3, 3);
  xhal_tensor_desc_t out = d4(F32, 1, 4, 3, 3);
  uint32_t i;
  for (i = 0; i < 2; ++i) {
    conv_case_t p = kPlain;
    p.stride[i] = 0;
    EXPECT(conv(x, w, NULL, out, p), BAD_ARG);
    EXPECT_MSG("stride");
    p = kPlain;
    p.dil[i] = 0;
    EXPECT(conv(x, w, NULL, out, p), BAD_ARG);
    EXPECT_MSG("dilation");
  }
  {
    conv_case_t p = kPlain;
    p.groups = 0;
    EXPECT(conv(x, w, NULL, out, p), BAD_ARG);
    EXPECT_MSG("groups must be >= 1");
  }
  {
    /* Huge padding and dilation are shape errors, not overflows. */
    conv_case_t p = kPlain;
    p.dil[0] = 0xFFFFFFFFu;
    EXPECT(conv(x, d4(F32, 4, 3, 0xFFFFFFFFull * 4, 3), NULL, out, p),
           BAD_SHAPE);
    p = kPlain;
    p.pad[0] = 0xFFFFFFFFu;
    EXPECT(conv(d4(I8, 1, 1, UINT64_MAX - 1, 1), d4(I8, 1, 1, 1, 1), NULL,
                d4(I32, 1, 1, 1, 1), p),
           BAD_SHAPE);
    EXPECT_MSG("overflow");
  }
}
END_TEST

START_TEST(test_conv2d_dtypes) {
  xhal_tensor_desc_t in[3] = {d4(I8, 1, 2, 3, 3), d4(I8, 2, 2, 1, 1),
                              d1(I32, 2)};
  xhal_tensor_desc_t out = d4(I32, 1, 2, 3, 3);
  xhal_op_attrs_t a = defaults();
  EXPECT(check_attrs(XHAL_OP_CONV2D, 3, in, out, &a), XHAL_OK);
  EXPECT(check_attrs(XHAL_OP_CONV2D, 2, in, out, &a), XHAL_OK);
  in[1].dtype = I32;
  EXPECT(check_attrs(XHAL_OP_CONV2D, 2, in, out, &a), BAD_DTYPE);
  EXPECT_MSG("input 1 (W) is i32 but must be i8");
  in[0].dtype = in[1].dtype = in[2].dtype = out.dtype = F16;
  EXPECT(check_attrs(XHAL_OP_CONV2D, 3, in, out, &a), XHAL_OK);
  in[1].dtype = F32;
  EXPECT(check_attrs(XHAL_OP_CONV2D, 3, in, out, &a), BAD_DTYPE);
  in[0].dtype = in[1].dtype = in[2].dtype = out.dtype = I32;
  EXPECT(check_attrs(XHAL_OP_CONV2D, 3, in, out, &a), BAD_DTYPE);
  EXPECT(check_attrs(XHAL_OP_CONV2D, 1, in, out, &a), BAD_ARG);
}
END_TEST

/* ------------------------------------------------- softmax, layer_norm */

START_TEST(test_softmax) {
  xhal_tensor_desc_t x = d3(F32, 2, 3, 4);
  xhal_op_attrs_t a = defaults();
  int32_t axis;
  for (axis = -3; axis < 3; ++axis) {
    a.axis = axis;
    EXPECT(check_attrs(XHAL_OP_SOFTMAX, 1, &x, x, &a), XHAL_OK);
  }
  a.axis = 3;
  EXPECT(check_attrs(XHAL_OP_SOFTMAX, 1, &x, x, &a), BAD_ARG);
  EXPECT_MSG("axis 3 is outside [-3, 2]");
  a.axis = -4;
  EXPECT(check_attrs(XHAL_OP_SOFTMAX, 1, &x, x, &a), BAD_ARG);
  a.axis = INT32_MIN;
  EXPECT(check_attrs(XHAL_OP_SOFTMAX, 1, &x, x, &a), BAD_ARG);
  a.axis = -1;
  x = d0(F32);
  EXPECT(check_attrs(XHAL_OP_SOFTMAX, 1, &x, x, &a), BAD_SHAPE);
  EXPECT_MSG("rank 0, needs >= 1");
  /* A zero-sized axis is allowed. */
  x = d2(F16, 3, 0);
  EXPECT(check_attrs(XHAL_OP_SOFTMAX, 1, &x, x, &a), XHAL_OK);
  EXPECT(check1(XHAL_OP_SOFTMAX, d1(I32, 3), d1(I32, 3)), BAD_DTYPE);
  EXPECT(check1(XHAL_OP_SOFTMAX, d2(F32, 2, 3), d2(F32, 2, 1)), BAD_SHAPE);
}
END_TEST

START_TEST(test_layer_norm) {
  xhal_tensor_desc_t in[4] = {d3(F32, 2, 3, 8), d1(F32, 8), d1(F32, 8),
                              d1(F32, 8)};
  xhal_tensor_desc_t out = in[0];
  xhal_op_attrs_t a = defaults();
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, out, &a), XHAL_OK);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 2, in, out, &a), XHAL_OK);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 3, in, out, &a), XHAL_OK);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 4, in, out, &a), BAD_ARG);
  EXPECT_MSG("takes 1 to 3 inputs, got 4");
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 0, in, out, &a), BAD_ARG);
  /* gamma and beta are [D]. */
  in[1] = d1(F32, 3);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 2, in, out, &a), BAD_SHAPE);
  EXPECT_MSG("input 1 (gamma) [3] must be [8]");
  in[1] = d2(F32, 8, 1);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 2, in, out, &a), BAD_SHAPE);
  in[1] = d1(F32, 8);
  in[2] = d1(F32, 7);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 3, in, out, &a), BAD_SHAPE);
  EXPECT_MSG("input 2 (beta) [7] must be [8]");
  in[2] = d1(F16, 8);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 3, in, out, &a), BAD_DTYPE);
  EXPECT_MSG("input 2 (beta) is f16");
  in[2] = d1(F32, 8);
  /* D >= 1, rank >= 1; other dims may be 0. */
  in[0] = d2(F32, 4, 0);
  in[1] = d1(F32, 0);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, in[0], &a), BAD_SHAPE);
  EXPECT_MSG("last dim D is 0");
  in[0] = d2(F32, 0, 8);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, in[0], &a), XHAL_OK);
  in[0] = d0(F32);
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, in[0], &a), BAD_SHAPE);
  /* epsilon is finite and >= 0. */
  in[0] = out;
  a.epsilon = 0.0f;
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, out, &a), XHAL_OK);
  a.epsilon = -1e-5f;
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, out, &a), BAD_ARG);
  EXPECT_MSG("epsilon");
  a.epsilon = NAN;
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, out, &a), BAD_ARG);
  a.epsilon = INFINITY;
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, out, &a), BAD_ARG);
  a.epsilon = 1e-5f;
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, d3(F32, 2, 3, 7), &a),
         BAD_SHAPE);
  in[0].dtype = I32;
  EXPECT(check_attrs(XHAL_OP_LAYER_NORM, 1, in, d3(I32, 2, 3, 8), &a),
         BAD_DTYPE);
}
END_TEST

/* ------------------------------------------------------------ reduce */

START_TEST(test_reduce) {
  static const xhal_op_t kOps[] = {XHAL_OP_REDUCE_SUM, XHAL_OP_REDUCE_MAX};
  size_t i;
  for (i = 0; i < COUNT(kOps); ++i) {
    xhal_op_t op = kOps[i];
    xhal_tensor_desc_t x = d2(F32, 2, 3);
    xhal_op_attrs_t a = defaults();
    EXPECT(check_attrs(op, 1, &x, d2(F32, 2, 1), &a), XHAL_OK);
    a.axis = -2;
    EXPECT(check_attrs(op, 1, &x, d2(F32, 1, 3), &a), XHAL_OK);
    a.axis = 0;
    EXPECT(check_attrs(op, 1, &x, d2(F32, 1, 3), &a), XHAL_OK);
    /* The rank is kept. */
    EXPECT(check_attrs(op, 1, &x, d1(F32, 3), &a), BAD_SHAPE);
    EXPECT_MSG("output shape [3] must be [1, 3]");
    a.axis = 2;
    EXPECT(check_attrs(op, 1, &x, d2(F32, 2, 1), &a), BAD_ARG);
    a.axis = -3;
    EXPECT(check_attrs(op, 1, &x, d2(F32, 2, 1), &a), BAD_ARG);
    a.axis = -1;
    x = d0(F32);
    EXPECT(check_attrs(op, 1, &x, x, &a), BAD_SHAPE);
    x = d2(I32, 2, 3);
    EXPECT(check_attrs(op, 1, &x, d2(I32, 2, 1), &a), XHAL_OK);
    x = d2(F16, 2, 3);
    EXPECT(check_attrs(op, 1, &x, d2(F16, 2, 1), &a), XHAL_OK);
    EXPECT(check_attrs(op, 1, &x, d2(F32, 2, 1), &a), BAD_DTYPE);
    x = d2(I8, 2, 3);
    EXPECT(check_attrs(op, 1, &x, d2(I8, 2, 1), &a), BAD_DTYPE);
    /* Zero-sized axis: a sum of nothing is 0, a max of nothing is
     * undefined. Zero-sized other dims are fine for both. */
    x = d2(F32, 2, 0);
    EXPECT(check_attrs(op, 1, &x, d2(F32, 2, 1), &a),
           op == XHAL_OP_REDUCE_SUM ? XHAL_OK : BAD_SHAPE);
    x = d2(F32, 0, 3);
    EXPECT(check_attrs(op, 1, &x, d2(F32, 0, 1), &a), XHAL_OK);
  }
}
END_TEST

/* --------------------------------------------------- transpose, cast */

START_TEST(test_transpose) {
  static const xhal_dtype_t kAll[] = {XHAL_DTYPE_F32, XHAL_DTYPE_F16,
                                      XHAL_DTYPE_I8, XHAL_DTYPE_I32};
  xhal_tensor_desc_t x = d3(F32, 2, 3, 4);
  xhal_op_attrs_t a = defaults();
  size_t i;
  EXPECT(check_attrs(XHAL_OP_TRANSPOSE, 1, &x, x, &a), XHAL_OK);
  a.perm[0] = 2;
  a.perm[1] = 0;
  a.perm[2] = 1;
  a.perm[3] = 77; /* past the rank: ignored */
  EXPECT(check_attrs(XHAL_OP_TRANSPOSE, 1, &x, d3(F32, 4, 2, 3), &a), XHAL_OK);
  EXPECT(check_attrs(XHAL_OP_TRANSPOSE, 1, &x, x, &a), BAD_SHAPE);
  EXPECT_MSG("output shape [2, 3, 4] must be [4, 2, 3]");
  for (i = 0; i < COUNT(kAll); ++i) {
    xhal_tensor_desc_t xi = d3(kAll[i], 2, 3, 4);
    EXPECT(check_attrs(XHAL_OP_TRANSPOSE, 1, &xi, d3(kAll[i], 4, 2, 3), &a),
           XHAL_OK);
  }
  EXPECT(check_attrs(XHAL_OP_TRANSPOSE, 1, &x, d3(F16, 4, 2, 3), &a),
         BAD_DTYPE);
  a.perm[2] = 0; /* duplicate */
  EXPECT(check_attrs(XHAL_OP_TRANSPOSE, 1, &x, d3(F32, 4, 2, 2), &a), BAD_ARG);
  EXPECT_MSG("perm[2] = 0");
  a.perm[2] = 3; /* out of range */
  EXPECT(check_attrs(XHAL_OP_TRANSPOSE, 1, &x, d3(F32, 4, 2, 3), &a), BAD_ARG);
  x = d0(I8); /* rank 0: nothing to permute */
  EXPECT(check_attrs(XHAL_OP_TRANSPOSE, 1, &x, x, &a), XHAL_OK);
}
END_TEST

START_TEST(test_cast) {
  static const xhal_dtype_t kAll[] = {XHAL_DTYPE_F32, XHAL_DTYPE_F16,
                                      XHAL_DTYPE_I8, XHAL_DTYPE_I32};
  size_t i, j;
  for (i = 0; i < COUNT(kAll); ++i) {
    for (j = 0; j < COUNT(kAll); ++j) {
      EXPECT(check1(XHAL_OP_CAST, d2(kAll[i], 2, 3), d2(kAll[j], 2, 3)),
             XHAL_OK);
    }
  }
  EXPECT(check1(XHAL_OP_CAST, d2(F32, 2, 3), d2(I8, 3, 2)), BAD_SHAPE);
  EXPECT(check1(XHAL_OP_CAST, d2(F32, 2, 3), d1(I8, 6)), BAD_SHAPE);
}
END_TEST

static Suite* op_catalog_suite(void) {
  Suite* s = suite_create("op_catalog");
  TCase* tc = tcase_create("general");
  tcase_add_test(tc, test_names_and_arity);
  tcase_add_test(tc, test_unknown_op);
  tcase_add_test(tc, test_attrs_header);
  tcase_add_test(tc, test_message_buffer);
  tcase_add_test(tc, test_operand_arrays);
  tcase_add_test(tc, test_descriptors);
  tcase_add_test(tc, test_custom_ops);
  suite_add_tcase(s, tc);
  tc = tcase_create("elementwise");
  tcase_add_test(tc, test_binary_dtypes);
  tcase_add_test(tc, test_binary_counts);
  tcase_add_test(tc, test_binary_broadcast);
  tcase_add_test(tc, test_unary);
  tcase_add_test(tc, test_cast);
  suite_add_tcase(s, tc);
  tc = tcase_create("matmul_conv");
  tcase_add_test(tc, test_matmul_shapes);
  tcase_add_test(tc, test_matmul_attrs);
  tcase_add_test(tc, test_matmul_dtypes);
  tcase_add_test(tc, test_conv2d_shapes);
  tcase_add_test(tc, test_conv2d_zero_dims);
  tcase_add_test(tc, test_conv2d_groups);
  tcase_add_test(tc, test_conv2d_attrs);
  tcase_add_test(tc, test_conv2d_dtypes);
  suite_add_tcase(s, tc);
  tc = tcase_create("axis_ops");
  tcase_add_test(tc, test_softmax);
  tcase_add_test(tc, test_layer_norm);
  tcase_add_test(tc, test_reduce);
  tcase_add_test(tc, test_transpose);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(op_catalog_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
