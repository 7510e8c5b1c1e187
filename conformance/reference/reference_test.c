/*
 * reference_test.c - the reference operators against values computed by
 * hand (the comments show the arithmetic), so that a wrong reference
 * fails here rather than passing a wrong plugin.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal_half.h>

#include "reference_test.h"

xhal_tensor_desc_t t_desc(xhal_dtype_t dtype, uint32_t rank, uint64_t d0,
                          uint64_t d1, uint64_t d2, uint64_t d3) {
  uint64_t dims[4] = {d0, d1, d2, d3};
  return xhal_ref_desc(dtype, rank, dims);
}

xhal_plugin_op_call_t t_call(xhal_op_t op, uint32_t nin,
                             const xhal_tensor_desc_t* in,
                             xhal_tensor_desc_t out) {
  xhal_plugin_op_call_t c;
  uint32_t i;
  xhal_ref_call_init(&c, op);
  c.num_inputs = nin;
  for (i = 0; i < nin; ++i) c.inputs[i].desc = in[i];
  c.outputs[0].desc = out;
  return c;
}

void t_expect_near(const float* got, const double* want, size_t n, double tol,
                   int line) {
  size_t i;
  for (i = 0; i < n; ++i) {
    ck_assert_msg(fabs((double)got[i] - want[i]) <= tol,
                  "line %d: element %zu is %.9g, want %.9g", line, i,
                  (double)got[i], want[i]);
  }
}

#define NEAR(got, want, tol)                                            \
  t_expect_near((got), (want), sizeof(want) / sizeof((want)[0]), (tol), \
                __LINE__)

static const xhal_dtype_t F32 = XHAL_DTYPE_F32;
static const xhal_dtype_t F16 = XHAL_DTYPE_F16;
static const xhal_dtype_t I8 = XHAL_DTYPE_I8;
static const xhal_dtype_t I32 = XHAL_DTYPE_I32;

/* ------------------------------------------------------------ matmul */

/* A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]]:
 * A@B = [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]]
 *     = [[58, 64], [139, 154]]. */
static const float kA[] = {1, 2, 3, 4, 5, 6};
static const float kAt[] = {1, 4, 2, 5, 3, 6}; /* A stored [3, 2] */
static const float kB[] = {7, 8, 9, 10, 11, 12};
static const float kBt[] = {7, 9, 11, 8, 10, 12}; /* B stored [2, 3] */
static const double kAB[] = {58, 64, 139, 154};

START_TEST(test_matmul_transposes) {
  int ta, tb;
  for (ta = 0; ta < 2; ++ta) {
    for (tb = 0; tb < 2; ++tb) {
      xhal_tensor_desc_t in[2] = {
          ta ? t_desc(F32, 2, 3, 2, 0, 0) : t_desc(F32, 2, 2, 3, 0, 0),
          tb ? t_desc(F32, 2, 2, 3, 0, 0) : t_desc(F32, 2, 3, 2, 0, 0)};
      xhal_plugin_op_call_t c =
          t_call(XHAL_OP_MATMUL, 2, in, t_desc(F32, 2, 2, 2, 0, 0));
      const void* ins[2] = {ta ? kAt : kA, tb ? kBt : kB};
      float y[4];
      c.attrs.transpose_a = (uint32_t)ta;
      c.attrs.transpose_b = (uint32_t)tb;
      ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
      NEAR(y, kAB, 0.0);
    }
  }
}
END_TEST

START_TEST(test_matmul_alpha_beta_bias) {
  xhal_tensor_desc_t in[3] = {t_desc(F32, 2, 2, 3, 0, 0),
                              t_desc(F32, 2, 3, 2, 0, 0),
                              t_desc(F32, 1, 2, 0, 0, 0)};
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_MATMUL, 3, in, t_desc(F32, 2, 2, 2, 0, 0));
  static const float bias[] = {10, 20};
  const void* ins[3] = {kA, kB, bias};
  float y[4] = {1, 2, 3, 4}; /* the prior output */
  /* 2*[[58,64],[139,154]] + 0.5*[[1,2],[3,4]] + [10,20] */
  static const double want[] = {126.5, 149, 289.5, 330};
  /* beta == 0: a NaN prior does not propagate. */
  static const double want_b0[] = {126, 148, 288, 328};
  c.attrs.alpha = 2.0f;
  c.attrs.beta = 0.5f;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, want, 0.0);
  c.attrs.beta = 0.0f;
  y[0] = y[1] = y[2] = y[3] = NAN;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, want_b0, 0.0);
}
END_TEST

START_TEST(test_matmul_k0) {
  /* K = 0: the sum is 0, so Y = bias; A and B have no data at all. */
  xhal_tensor_desc_t in[3] = {t_desc(F32, 2, 2, 0, 0, 0),
                              t_desc(F32, 2, 0, 2, 0, 0),
                              t_desc(F32, 1, 2, 0, 0, 0)};
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_MATMUL, 3, in, t_desc(F32, 2, 2, 2, 0, 0));
  static const float bias[] = {1, 2};
  const void* ins[3] = {NULL, NULL, bias};
  float y[4] = {NAN, NAN, NAN, NAN};
  static const double want[] = {1, 2, 1, 2};
  c.attrs.alpha = 3.0f;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, want, 0.0);
}
END_TEST

START_TEST(test_matmul_int8) {
  /* [[1,-2],[3,4]] @ [[5,6],[-7,8]] = [[5+14, 6-16], [15-28, 18+32]]
   * = [[19,-10],[-13,50]]; + bias [100,-100]. */
  static const int8_t a[] = {1, -2, 3, 4};
  static const int8_t b[] = {5, 6, -7, 8};
  static const int32_t bias[] = {100, -100};
  xhal_tensor_desc_t in[3] = {t_desc(I8, 2, 2, 2, 0, 0),
                              t_desc(I8, 2, 2, 2, 0, 0),
                              t_desc(I32, 1, 2, 0, 0, 0)};
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_MATMUL, 3, in, t_desc(I32, 2, 2, 2, 0, 0));
  const void* ins[3] = {a, b, bias};
  int32_t y[4];
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  ck_assert_int_eq(y[0], 119);
  ck_assert_int_eq(y[1], -110);
  ck_assert_int_eq(y[2], 87);
  ck_assert_int_eq(y[3], -50);
  c.attrs.alpha = 2.0f; /* int8 has no scaling */
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_ERROR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_matmul_int8_wraps) {
  /* 140000 * 127 * 127 = 2258060000 = 2^32 - 2036907296: wraps. */
  enum { K = 140000 };
  int8_t* a = malloc(K);
  int8_t* b = malloc(K);
  xhal_tensor_desc_t in[2] = {t_desc(I8, 2, 1, K, 0, 0),
                              t_desc(I8, 2, K, 1, 0, 0)};
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_MATMUL, 2, in, t_desc(I32, 2, 1, 1, 0, 0));
  const void* ins[2];
  int32_t y = 0;
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  memset(a, 127, K);
  memset(b, 127, K);
  ins[0] = a;
  ins[1] = b;
  ck_assert_int_eq(xhal_ref_run(&c, ins, &y), XHAL_OK);
  ck_assert_int_eq(y, -2036907296);
  free(a);
  free(b);
}
END_TEST

START_TEST(test_matmul_f16_rounds_once) {
  /* 1*1 + 2^-11*1 + 2^-15*2^-15 = 1 + 2^-11 + 2^-30: just above the tie
   * between 1 and 1 + 2^-10, so it rounds up. An f32 accumulator would
   * drop 2^-30 and round the tie to even (1.0). */
  uint16_t a[3] = {xhal_float_to_half(1.0f), xhal_float_to_half(0x1.0p-11f),
                   xhal_float_to_half(0x1.0p-15f)};
  uint16_t b[3] = {xhal_float_to_half(1.0f), xhal_float_to_half(1.0f),
                   xhal_float_to_half(0x1.0p-15f)};
  xhal_tensor_desc_t in[2] = {t_desc(F16, 2, 1, 3, 0, 0),
                              t_desc(F16, 2, 3, 1, 0, 0)};
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_MATMUL, 2, in, t_desc(F16, 2, 1, 1, 0, 0));
  const void* ins[2] = {a, b};
  uint16_t y = 0;
  ck_assert_int_eq(xhal_ref_run(&c, ins, &y), XHAL_OK);
  ck_assert_uint_eq(y, 0x3C01u);
}
END_TEST

/* ------------------------------------------------------------ conv2d */

/* X = [[1,2,3],[4,5,6],[7,8,9]], W = [[1,2],[3,4]]. */
static const float kX33[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const float kW22[] = {1, 2, 3, 4};

static xhal_status_t conv(const float* x, xhal_tensor_desc_t xd, const float* w,
                          xhal_tensor_desc_t wd, const float* bias,
                          xhal_op_attrs_t* attrs, float* y) {
  xhal_tensor_desc_t in[3] = {xd, wd, t_desc(F32, 1, wd.dims[0], 0, 0, 0)};
  xhal_plugin_op_call_t c = t_call(XHAL_OP_CONV2D, bias ? 3 : 2, in, xd);
  const void* ins[3] = {x, w, bias};
  if (attrs) c.attrs = *attrs;
  if (xhal_ref_output_desc(&c, &c.outputs[0].desc) != XHAL_OK) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  return xhal_ref_run(&c, ins, y);
}

START_TEST(test_conv2d_plain) {
  /* y[0,0] = 1*1+2*2+3*4+4*5 = 37, y[0,1] = 2+6+15+24 = 47,
   * y[1,0] = 4+10+21+32 = 67, y[1,1] = 5+12+24+36 = 77. */
  static const double want[] = {37, 47, 67, 77};
  float y[4];
  ck_assert_int_eq(conv(kX33, t_desc(F32, 4, 1, 1, 3, 3), kW22,
                        t_desc(F32, 4, 1, 1, 2, 2), NULL, NULL, y),
                   XHAL_OK);
  NEAR(y, want, 0.0);
}
END_TEST

START_TEST(test_conv2d_stride_pad) {
  /* stride 2, pad 1: OH = (3+2-2)/2+1 = 2; ih = 2*oh - 1 + r.
   * (0,0): only x[0][0]*W[1][1] = 4
   * (0,1): x[0][1]*W[1][0] + x[0][2]*W[1][1] = 6 + 12 = 18
   * (1,0): x[1][0]*W[0][1] + x[2][0]*W[1][1] = 8 + 28 = 36
   * (1,1): 5*1 + 6*2 + 8*3 + 9*4 = 77 */
  static const double want[] = {4, 18, 36, 77};
  xhal_op_attrs_t a;
  float y[4];
  xhal_op_attrs_default(&a);
  a.stride[0] = a.stride[1] = 2;
  a.padding[0] = a.padding[1] = 1;
  ck_assert_int_eq(conv(kX33, t_desc(F32, 4, 1, 1, 3, 3), kW22,
                        t_desc(F32, 4, 1, 1, 2, 2), NULL, &a, y),
                   XHAL_OK);
  NEAR(y, want, 0.0);
}
END_TEST

START_TEST(test_conv2d_dilation) {
  /* dilation 2 spreads W over the corners: 1*1 + 2*3 + 3*7 + 4*9 = 64. */
  static const double want[] = {64};
  xhal_op_attrs_t a;
  float y[1];
  xhal_op_attrs_default(&a);
  a.dilation[0] = a.dilation[1] = 2;
  ck_assert_int_eq(conv(kX33, t_desc(F32, 4, 1, 1, 3, 3), kW22,
                        t_desc(F32, 4, 1, 1, 2, 2), NULL, &a, y),
                   XHAL_OK);
  NEAR(y, want, 0.0);
  /* Height-only dilation with width padding: OH = 1, OW = (3+2-2)+1 = 4.
   * Row taps are x rows 0 and 2; columns ow-1 and ow.
   * ow=0: W01*x00 + W11*x20 = 2*1 + 4*7 = 30
   * ow=1: 1*1 + 2*2 + 3*7 + 4*8 = 58;  ow=2: 2 + 6 + 24 + 36 = 68
   * ow=3: W00*x02 + W10*x22 = 3 + 27 = 30 */
  {
    static const double want2[] = {30, 58, 68, 30};
    float y2[4];
    a.dilation[1] = 1;
    a.padding[1] = 1;
    ck_assert_int_eq(conv(kX33, t_desc(F32, 4, 1, 1, 3, 3), kW22,
                          t_desc(F32, 4, 1, 1, 2, 2), NULL, &a, y2),
                     XHAL_OK);
    NEAR(y2, want2, 0.0);
  }
}
END_TEST

START_TEST(test_conv2d_groups_bias) {
  /* C = 2 channels [1,2,3,4] and [5,6,7,8] (2x2), K = 4, groups = 2:
   * outputs 0,1 read channel 0, outputs 2,3 read channel 1 (g = k / 2).
   * 1x1 weights [1,2,3,4], bias [0,100,0,-1]. */
  static const float x[] = {1, 2, 3, 4, 5, 6, 7, 8};
  static const float w[] = {1, 2, 3, 4};
  static const float bias[] = {0, 100, 0, -1};
  static const double want[] = {1,  2,  3,  4,  102, 104, 106, 108,
                                15, 18, 21, 24, 19,  23,  27,  31};
  xhal_op_attrs_t a;
  float y[16];
  xhal_op_attrs_default(&a);
  a.groups = 2;
  ck_assert_int_eq(conv(x, t_desc(F32, 4, 1, 2, 2, 2), w,
                        t_desc(F32, 4, 4, 1, 1, 1), bias, &a, y),
                   XHAL_OK);
  NEAR(y, want, 0.0);
}
END_TEST

START_TEST(test_conv2d_channels_batch) {
  /* N = 2, C = 2, 2x2 images, one 2x2 all-ones filter per channel: each
   * output is the sum of all 8 values of its image. */
  static const float x[] = {1,  2,  3,  4,  5,    6,    7,    8,
                            -1, -1, -1, -1, 0.5f, 0.5f, 0.5f, 0.5f};
  static const float w[] = {1, 1, 1, 1, 1, 1, 1, 1};
  static const double want[] = {36, -2};
  float y[2];
  ck_assert_int_eq(conv(x, t_desc(F32, 4, 2, 2, 2, 2), w,
                        t_desc(F32, 4, 1, 2, 2, 2), NULL, NULL, y),
                   XHAL_OK);
  NEAR(y, want, 0.0);
}
END_TEST

START_TEST(test_conv2d_int8) {
  /* 4 * 100 * 127 = 50800; bias -800 -> 50000 (beyond int16). */
  static const int8_t x[] = {100, 100, 100, 100};
  static const int8_t w[] = {127, 127, 127, 127};
  static const int32_t bias[] = {-800};
  xhal_tensor_desc_t in[3] = {t_desc(I8, 4, 1, 1, 2, 2),
                              t_desc(I8, 4, 1, 1, 2, 2),
                              t_desc(I32, 1, 1, 0, 0, 0)};
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_CONV2D, 3, in, t_desc(I32, 4, 1, 1, 1, 1));
  const void* ins[3] = {x, w, bias};
  int32_t y = 0;
  ck_assert_int_eq(xhal_ref_run(&c, ins, &y), XHAL_OK);
  ck_assert_int_eq(y, 50000);
}
END_TEST

/* ------------------------------------------------- softmax, layer_norm */

START_TEST(test_softmax) {
  /* [1,2,3]: e^-2, e^-1, 1 over their sum 1.5032147244. */
  static const float x[] = {1, 2, 3};
  static const double want[] = {0.0900305732, 0.2447284711, 0.6652409558};
  /* Without subtracting the max, exp(1000) overflows to inf and the
   * result is NaN. */
  static const float big[] = {1000, 1000, -1000};
  static const double want_big[] = {0.5, 0.5, 0.0};
  xhal_tensor_desc_t d = t_desc(F32, 1, 3, 0, 0, 0);
  xhal_plugin_op_call_t c = t_call(XHAL_OP_SOFTMAX, 1, &d, d);
  const void* ins[1] = {x};
  float y[3];
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, want, 1e-7);
  ins[0] = big;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, want_big, 0.0);
}
END_TEST

START_TEST(test_softmax_axis0) {
  /* [[1,1],[1,3]] along axis 0: column 0 -> [0.5, 0.5];
   * column 1 -> [1/(1+e^2), e^2/(1+e^2)] = [0.1192029220, 0.8807970780]. */
  static const float x[] = {1, 1, 1, 3};
  static const double want[] = {0.5, 0.1192029220, 0.5, 0.8807970780};
  xhal_tensor_desc_t d = t_desc(F32, 2, 2, 2, 0, 0);
  xhal_plugin_op_call_t c = t_call(XHAL_OP_SOFTMAX, 1, &d, d);
  const void* ins[1] = {x};
  float y[4];
  c.attrs.axis = -2;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, want, 1e-7);
}
END_TEST

START_TEST(test_layer_norm) {
  /* Row [1,2,3,4]: mean 2.5, population variance (2.25+0.25+0.25+2.25)/4
   * = 1.25 (the sample variance would be 5/3); y = (x-2.5)/sqrt(1.25),
   * then *2 + 1. Row [5,5,5,5] with epsilon 0 would divide 0 by 0; with
   * epsilon 1 it gives (x - 5)/1 = 0, then + beta = 1. */
  static const float x[] = {1, 2, 3, 4, 5, 5, 5, 5};
  static const float gamma[] = {2, 2, 2, 2};
  static const float beta[] = {1, 1, 1, 1};
  static const double want[] = {-1.3416407865 * 2 + 1, -0.4472135955 * 2 + 1,
                                0.4472135955 * 2 + 1, 1.3416407865 * 2 + 1};
  xhal_tensor_desc_t in[3] = {t_desc(F32, 2, 2, 4, 0, 0),
                              t_desc(F32, 1, 4, 0, 0, 0),
                              t_desc(F32, 1, 4, 0, 0, 0)};
  xhal_plugin_op_call_t c = t_call(XHAL_OP_LAYER_NORM, 3, in, in[0]);
  const void* ins[3] = {x, gamma, beta};
  float y[8];
  c.attrs.epsilon = 0.0f;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, want, 1e-6);
  c.attrs.epsilon = 1.0f;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  ck_assert(y[4] == 1.0f && y[5] == 1.0f && y[6] == 1.0f && y[7] == 1.0f);
  /* Without gamma and beta: the plain normalised row. */
  c.num_inputs = 1;
  c.attrs.epsilon = 0.0f;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  ck_assert(fabs(y[0] + 1.3416407865) < 1e-6);
  ck_assert(fabs(y[3] - 1.3416407865) < 1e-6);
}
END_TEST

/* ------------------------------------------------------------ reduce */

START_TEST(test_reduce_sum) {
  /* [[1,2,3],[4,5,6]]: rows sum to [6,15], columns to [5,7,9]. */
  static const float x[] = {1, 2, 3, 4, 5, 6};
  static const double rows[] = {6, 15};
  static const double cols[] = {5, 7, 9};
  xhal_tensor_desc_t d = t_desc(F32, 2, 2, 3, 0, 0);
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_REDUCE_SUM, 1, &d, t_desc(F32, 2, 2, 1, 0, 0));
  const void* ins[1] = {x};
  float y[3];
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, rows, 0.0);
  c.attrs.axis = -2;
  c.outputs[0].desc = t_desc(F32, 2, 1, 3, 0, 0);
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, cols, 0.0);
}
END_TEST

START_TEST(test_reduce_middle_axis) {
  /* x[i][j][k] = 100i + 10j + k, shape [2,3,2]; summing j gives
   * 300i + 30 + 3k: [30, 33, 330, 333]. Max over j: 100i + 20 + k. */
  float x[12];
  static const double sum[] = {30, 33, 330, 333};
  static const double mx[] = {20, 21, 120, 121};
  xhal_tensor_desc_t d = t_desc(F32, 3, 2, 3, 2, 0);
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_REDUCE_SUM, 1, &d, t_desc(F32, 3, 2, 1, 2, 0));
  const void* ins[1] = {x};
  float y[4];
  int i, j, k;
  for (i = 0; i < 2; ++i) {
    for (j = 0; j < 3; ++j) {
      for (k = 0; k < 2; ++k)
        x[(i * 3 + j) * 2 + k] = (float)(100 * i + 10 * j + k);
    }
  }
  c.attrs.axis = 1;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, sum, 0.0);
  c.op = XHAL_OP_REDUCE_MAX;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, mx, 0.0);
}
END_TEST

START_TEST(test_reduce_edges) {
  /* A zero-sized axis sums to 0. */
  xhal_tensor_desc_t d = t_desc(F32, 2, 2, 0, 0, 0);
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_REDUCE_SUM, 1, &d, t_desc(F32, 2, 2, 1, 0, 0));
  const void* ins[1] = {NULL};
  float y[2] = {7, 7};
  static const float nan_row[] = {1, NAN, 3, -4, -5, -6};
  static const int32_t iv[] = {INT32_MAX, 1, -7, -3};
  int32_t iy[2];
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  ck_assert(y[0] == 0.0f && y[1] == 0.0f);
  /* reduce_max: NaN propagates; negatives are not lost to a 0 start. */
  d = t_desc(F32, 2, 2, 3, 0, 0);
  c = t_call(XHAL_OP_REDUCE_MAX, 1, &d, t_desc(F32, 2, 2, 1, 0, 0));
  ins[0] = nan_row;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  ck_assert(isnan(y[0]));
  ck_assert(y[1] == -4.0f);
  /* i32: sums wrap, max is exact. */
  d = t_desc(I32, 2, 2, 2, 0, 0);
  c = t_call(XHAL_OP_REDUCE_SUM, 1, &d, t_desc(I32, 2, 2, 1, 0, 0));
  ins[0] = iv;
  ck_assert_int_eq(xhal_ref_run(&c, ins, iy), XHAL_OK);
  ck_assert_int_eq(iy[0], INT32_MIN);
  ck_assert_int_eq(iy[1], -10);
  c.op = XHAL_OP_REDUCE_MAX;
  ck_assert_int_eq(xhal_ref_run(&c, ins, iy), XHAL_OK);
  ck_assert_int_eq(iy[0], INT32_MAX);
  ck_assert_int_eq(iy[1], -3);
}
END_TEST

/* --------------------------------------------------------- transpose */

START_TEST(test_transpose) {
  /* x[i][j][k] = 100i + 10j + k, shape [2,3,4]; perm (2,0,1) gives
   * out[k][i][j] = x[i][j][k], shape [4,2,3]. */
  int8_t x[24];
  int8_t y[24];
  xhal_tensor_desc_t d = t_desc(I8, 3, 2, 3, 4, 0);
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_TRANSPOSE, 1, &d, t_desc(I8, 3, 4, 2, 3, 0));
  const void* ins[1] = {x};
  int i, j, k;
  for (i = 0; i < 2; ++i) {
    for (j = 0; j < 3; ++j) {
      for (k = 0; k < 4; ++k)
        x[(i * 3 + j) * 4 + k] = (int8_t)(50 * i + 10 * j + k);
    }
  }
  c.attrs.perm[0] = 2;
  c.attrs.perm[1] = 0;
  c.attrs.perm[2] = 1;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  for (k = 0; k < 4; ++k) {
    for (i = 0; i < 2; ++i) {
      for (j = 0; j < 3; ++j) {
        ck_assert_int_eq(y[(k * 2 + i) * 3 + j], 50 * i + 10 * j + k);
      }
    }
  }
  /* 2-D: [[1,2,3],[4,5,6]] -> [[1,4],[2,5],[3,6]]. */
  {
    static const float m[] = {1, 2, 3, 4, 5, 6};
    static const double want[] = {1, 4, 2, 5, 3, 6};
    float my[6];
    xhal_tensor_desc_t md = t_desc(F32, 2, 2, 3, 0, 0);
    c = t_call(XHAL_OP_TRANSPOSE, 1, &md, t_desc(F32, 2, 3, 2, 0, 0));
    c.attrs.perm[0] = 1;
    c.attrs.perm[1] = 0;
    ins[0] = m;
    ck_assert_int_eq(xhal_ref_run(&c, ins, my), XHAL_OK);
    NEAR(my, want, 0.0);
  }
}
END_TEST

/* ------------------------------------------------------- elementwise */

START_TEST(test_broadcast_add_sub) {
  /* [3,1] + [1,4]: out[i][j] = a[i] + b[j]. */
  static const float a[] = {1, 2, 3};
  static const float b[] = {10, 20, 30, 40};
  static const double sum[] = {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43};
  static const double diff[] = {-9,  -19, -29, -39, -8,  -18,
                                -28, -38, -7,  -17, -27, -37};
  xhal_tensor_desc_t in[2] = {t_desc(F32, 2, 3, 1, 0, 0),
                              t_desc(F32, 2, 1, 4, 0, 0)};
  xhal_plugin_op_call_t c =
      t_call(XHAL_OP_ADD, 2, in, t_desc(F32, 2, 3, 4, 0, 0));
  const void* ins[2] = {a, b};
  float y[12];
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, sum, 0.0);
  c.op = XHAL_OP_SUB;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, diff, 0.0);
  /* Rank-0 B against [3,1]: out[i] = a[i] * 2. */
  {
    static const float two[] = {2};
    static const double want[] = {2, 4, 6};
    in[1] = t_desc(F32, 0, 0, 0, 0, 0);
    c = t_call(XHAL_OP_MUL, 2, in, t_desc(F32, 2, 3, 1, 0, 0));
    ins[1] = two;
    ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
    NEAR(y, want, 0.0);
  }
}
END_TEST

START_TEST(test_binary_numerics) {
  static const int32_t ia[] = {INT32_MAX, INT32_MIN, 65536, -5};
  static const int32_t ib[] = {1, 1, 65536, 3};
  static const float fa[] = {1, NAN, -0.0f, 2};
  static const float fb[] = {3, 1, 5, NAN};
  xhal_tensor_desc_t in[2] = {t_desc(I32, 1, 4, 0, 0, 0),
                              t_desc(I32, 1, 4, 0, 0, 0)};
  xhal_plugin_op_call_t c = t_call(XHAL_OP_ADD, 2, in, in[0]);
  const void* ins[2] = {ia, ib};
  int32_t iy[4];
  float fy[4];
  ck_assert_int_eq(xhal_ref_run(&c, ins, iy), XHAL_OK);
  ck_assert_int_eq(iy[0], INT32_MIN); /* wraps */
  ck_assert_int_eq(iy[3], -2);
  c.op = XHAL_OP_SUB;
  ck_assert_int_eq(xhal_ref_run(&c, ins, iy), XHAL_OK);
  ck_assert_int_eq(iy[1], INT32_MAX);
  c.op = XHAL_OP_MUL;
  ck_assert_int_eq(xhal_ref_run(&c, ins, iy), XHAL_OK);
  ck_assert_int_eq(iy[2], 0); /* 2^32 wraps to 0 */
  ck_assert_int_eq(iy[3], -15);
  c.op = XHAL_OP_MIN;
  ck_assert_int_eq(xhal_ref_run(&c, ins, iy), XHAL_OK);
  ck_assert_int_eq(iy[0], 1);
  ck_assert_int_eq(iy[3], -5);
  c.op = XHAL_OP_MAX;
  ck_assert_int_eq(xhal_ref_run(&c, ins, iy), XHAL_OK);
  ck_assert_int_eq(iy[0], INT32_MAX);
  ck_assert_int_eq(iy[1], 1);
  ck_assert_int_eq(iy[3], 3);
  c.op = XHAL_OP_DIV; /* no i32 division in the catalog */
  ck_assert_int_eq(xhal_ref_run(&c, ins, iy), XHAL_ERROR_UNSUPPORTED);
  /* f32: 1/3 rounds once; max/min of NaN is NaN. */
  in[0].dtype = in[1].dtype = F32;
  c = t_call(XHAL_OP_DIV, 2, in, in[0]);
  ins[0] = fa;
  ins[1] = fb;
  ck_assert_int_eq(xhal_ref_run(&c, ins, fy), XHAL_OK);
  ck_assert(fy[0] == 1.0f / 3.0f);
  c.op = XHAL_OP_MAX;
  ck_assert_int_eq(xhal_ref_run(&c, ins, fy), XHAL_OK);
  ck_assert(fy[0] == 3.0f && isnan(fy[1]) && fy[2] == 5.0f && isnan(fy[3]));
  c.op = XHAL_OP_MIN;
  ck_assert_int_eq(xhal_ref_run(&c, ins, fy), XHAL_OK);
  ck_assert(fy[0] == 1.0f && isnan(fy[1]) && fy[2] == -0.0f && isnan(fy[3]));
}
END_TEST

START_TEST(test_binary_f16) {
  /* 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even wins (0x3C00).
   * 1 + 3*2^-11 ties between 0x3C01 and 0x3C02: even is 0x3C02. */
  uint16_t a[2] = {0x3C00u, 0x3C00u};
  uint16_t b[2] = {xhal_float_to_half(0x1.0p-11f),
                   xhal_float_to_half(0x1.8p-10f)};
  uint16_t y[2];
  xhal_tensor_desc_t in[2] = {t_desc(F16, 1, 2, 0, 0, 0),
                              t_desc(F16, 1, 2, 0, 0, 0)};
  xhal_plugin_op_call_t c = t_call(XHAL_OP_ADD, 2, in, in[0]);
  const void* ins[2] = {a, b};
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  ck_assert_uint_eq(y[0], 0x3C00u);
  ck_assert_uint_eq(y[1], 0x3C02u);
}
END_TEST

START_TEST(test_unary) {
  static const float x[] = {-1, 0, 1, 2, NAN};
  xhal_tensor_desc_t d = t_desc(F32, 1, 5, 0, 0, 0);
  xhal_plugin_op_call_t c = t_call(XHAL_OP_RELU, 1, &d, d);
  const void* ins[1] = {x};
  float y[5];
  /* gelu(x) = x * Phi(x): Phi(1) = 0.8413447461, Phi(2) = 0.9772498681. */
  static const double gelu[] = {-0.1586552539, 0, 0.8413447461, 1.9544997361};
  /* sigmoid: 1/(1+e), 1/2, e/(1+e), e^2/(1+e^2). */
  static const double sig[] = {0.2689414214, 0.5, 0.7310585786, 0.8807970780};
  static const double th[] = {-0.7615941560, 0, 0.7615941560, 0.9640275801};
  static const double ex[] = {0.3678794412, 1, 2.7182818285, 7.3890560989};
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  ck_assert(y[0] == 0.0f && y[1] == 0.0f && y[2] == 1.0f && y[3] == 2.0f);
  ck_assert(isnan(y[4]));
  c.op = XHAL_OP_GELU;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, gelu, 1e-7);
  ck_assert(isnan(y[4]));
  {
    /* At the infinities gelu takes its limits: 0 and +inf. */
    static const float inf_x[] = {-INFINITY, INFINITY, -1e30f};
    xhal_tensor_desc_t d3 = t_desc(F32, 1, 3, 0, 0, 0);
    xhal_plugin_op_call_t g = t_call(XHAL_OP_GELU, 1, &d3, d3);
    const void* inf_ins[1] = {inf_x};
    float gy[3] = {1, 1, 1};
    ck_assert_int_eq(xhal_ref_run(&g, inf_ins, gy), XHAL_OK);
    ck_assert(gy[0] == 0.0f && gy[1] == INFINITY && gy[2] == 0.0f);
  }
  c.op = XHAL_OP_SIGMOID;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, sig, 1e-7);
  c.op = XHAL_OP_TANH;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, th, 1e-7);
  c.op = XHAL_OP_EXP;
  ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
  NEAR(y, ex, 1e-6);
  ck_assert(isnan(y[4]));
  {
    /* exp overflows to +inf in f32 (e^100) and in f16 (e^12). */
    static const float big[] = {100, -200};
    uint16_t h[2] = {xhal_float_to_half(12.0f), xhal_float_to_half(-30.0f)};
    uint16_t hy[2];
    ins[0] = big;
    d = t_desc(F32, 1, 2, 0, 0, 0);
    c = t_call(XHAL_OP_EXP, 1, &d, d);
    ck_assert_int_eq(xhal_ref_run(&c, ins, y), XHAL_OK);
    ck_assert(isinf(y[0]) && y[0] > 0 && y[1] == 0.0f);
    d.dtype = F16;
    c = t_call(XHAL_OP_EXP, 1, &d, d);
    ins[0] = h;
    ck_assert_int_eq(xhal_ref_run(&c, ins, hy), XHAL_OK);
    ck_assert_uint_eq(hy[0], 0x7C00u);
    ck_assert_uint_eq(hy[1], 0x0000u); /* e^-30 < 2^-25: rounds to 0 */
  }
}
END_TEST

TCase* reference_ops_tcase(void) {
  TCase* tc = tcase_create("ops");
  tcase_add_test(tc, test_matmul_transposes);
  tcase_add_test(tc, test_matmul_alpha_beta_bias);
  tcase_add_test(tc, test_matmul_k0);
  tcase_add_test(tc, test_matmul_int8);
  tcase_add_test(tc, test_matmul_int8_wraps);
  tcase_add_test(tc, test_matmul_f16_rounds_once);
  tcase_add_test(tc, test_conv2d_plain);
  tcase_add_test(tc, test_conv2d_stride_pad);
  tcase_add_test(tc, test_conv2d_dilation);
  tcase_add_test(tc, test_conv2d_groups_bias);
  tcase_add_test(tc, test_conv2d_channels_batch);
  tcase_add_test(tc, test_conv2d_int8);
  tcase_add_test(tc, test_softmax);
  tcase_add_test(tc, test_softmax_axis0);
  tcase_add_test(tc, test_layer_norm);
  tcase_add_test(tc, test_reduce_sum);
  tcase_add_test(tc, test_reduce_middle_axis);
  tcase_add_test(tc, test_reduce_edges);
  tcase_add_test(tc, test_transpose);
  tcase_add_test(tc, test_broadcast_add_sub);
  tcase_add_test(tc, test_binary_numerics);
  tcase_add_test(tc, test_binary_f16);
  tcase_add_test(tc, test_unary);
  return tc;
}

int main(void) {
  Suite* s = suite_create("reference");
  SRunner* sr;
  int failed;
  suite_add_tcase(s, reference_ops_tcase());
  suite_add_tcase(s, reference_values_tcase());
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
