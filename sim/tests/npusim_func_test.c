/*
 * npusim_func_test.c - functional results of the model: GEMM in every
 * dtype and layout, strided DMA, fills, the vector unit (including a
 * softmax and a layer-norm built from its primitives), and dtype
 * conversion, each against a plain loop in double.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npusim/npusim.h"
#include "npusim_runner.h"

static runner_t g_run;

static void setup(void) {
  npusim_config_t cfg;
  npusim_config_default(&cfg);
  cfg.rows = 8;
  cfg.cols = 8;
  cfg.dram_bytes = 4u << 20;
  cfg.spad_bytes = 4u << 20;
  ck_assert_int_eq(runner_open(&g_run, &cfg), NPUSIM_OK);
}

static void teardown(void) { runner_close(&g_run); }

static void submit(npusim_cmd_t cmd) {
  ck_assert_int_eq(runner_submit(&g_run, &cmd), 0);
}

static void finish(void) { ck_assert_int_eq(runner_wait(&g_run, 60000), 0); }

static float frand(unsigned* s) {
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) % 2001u) / 1000.0f - 1.0f;
}

static void spad_write(uint64_t addr, const void* src, uint64_t bytes) {
  uint64_t iova;
  ck_assert_int_eq(
      npusim_host_map(g_run.sim, (void*)(uintptr_t)src, bytes, 0, &iova), 0);
  submit(runner_dma(NPUSIM_SPACE_HOST, iova, NPUSIM_SPACE_SPAD, addr, bytes));
  finish();
  ck_assert_int_eq(npusim_host_unmap(g_run.sim, iova), 0);
}

static void spad_read(uint64_t addr, void* dst, uint64_t bytes) {
  uint64_t iova;
  ck_assert_int_eq(npusim_host_map(g_run.sim, dst, bytes, 1, &iova), 0);
  submit(runner_dma(NPUSIM_SPACE_SPAD, addr, NPUSIM_SPACE_HOST, iova, bytes));
  finish();
  ck_assert_int_eq(npusim_host_unmap(g_run.sim, iova), 0);
}

/* f32 GEMM with every transpose combination and accumulation. */
START_TEST(gemm_f32_all_layouts) {
  const uint64_t m = 13, k = 29, n = 7;
  float a[13 * 29], b[29 * 7], c[13 * 7], c0[13 * 7];
  unsigned seed = 5;
  int ta = _i & 1, tb = (_i >> 1) & 1, acc = (_i >> 2) & 1;
  uint64_t i, j, p;
  for (i = 0; i < m * k; ++i) a[i] = frand(&seed);
  for (i = 0; i < k * n; ++i) b[i] = frand(&seed);
  for (i = 0; i < m * n; ++i) c0[i] = frand(&seed);
  spad_write(0, a, sizeof(a));
  spad_write(4096, b, sizeof(b));
  spad_write(8192, c0, sizeof(c0));
  submit(runner_gemm(NPUSIM_DT_F32, 0,
                     (ta ? NPUSIM_GEMM_TRANS_A : 0u) |
                         (tb ? NPUSIM_GEMM_TRANS_B : 0u) |
                         (acc ? NPUSIM_GEMM_ACCUMULATE : 0u),
                     0, 4096, 8192, m, k, n));
  finish();
  spad_read(8192, c, sizeof(c));
  for (i = 0; i < m; ++i) {
    for (j = 0; j < n; ++j) {
      double want = acc ? c0[i * n + j] : 0.0;
      for (p = 0; p < k; ++p) {
        want += (double)(ta ? a[p * m + i] : a[i * k + p]) *
                (tb ? b[j * k + p] : b[p * n + j]);
      }
      ck_assert_double_eq_tol(c[i * n + j], want, 1e-4);
    }
  }
}
END_TEST

START_TEST(gemm_f16_accumulates_in_f32) {
  /* 1 + 2^-11 * 4096 terms: f16 accumulation would stall at 1 + ... ; f32
   * accumulation keeps every small term. */
  enum { K = 4096 };
  static uint16_t a[K], b[K];
  float c = 0;
  uint64_t i;
  for (i = 0; i < K; ++i) {
    a[i] = 0x3C00; /* 1.0 */
    b[i] = 0x1000; /* 2^-11 */
  }
  b[0] = 0x3C00;
  spad_write(0, a, sizeof(a));
  spad_write(16384, b, sizeof(b));
  submit(runner_gemm(NPUSIM_DT_F16, 0, 0, 0, 16384, 32768, 1, K, 1));
  finish();
  spad_read(32768, &c, sizeof(c));
  ck_assert_float_eq(c, 1.0f + (float)(K - 1) / 2048.0f);
}
END_TEST

START_TEST(gemm_int8_wraps_in_int32) {
  const uint64_t m = 3, k = 5, n = 4;
  int8_t a[15], b[20];
  int32_t c[12];
  uint64_t i, j, p;
  for (i = 0; i < 15; ++i) a[i] = (int8_t)(i * 37 - 128);
  for (i = 0; i < 20; ++i) b[i] = (int8_t)(127 - i * 29);
  spad_write(0, a, sizeof(a));
  spad_write(64, b, sizeof(b));
  submit(runner_gemm(NPUSIM_DT_I8, NPUSIM_DATAFLOW_WS, NPUSIM_GEMM_TRANS_B, 0,
                     64, 128, m, k, n));
  finish();
  spad_read(128, c, sizeof(c));
  for (i = 0; i < m; ++i) {
    for (j = 0; j < n; ++j) {
      int32_t want = 0;
      for (p = 0; p < k; ++p) want += a[i * k + p] * b[j * k + p];
      ck_assert_int_eq(c[i * n + j], want);
    }
  }
  /* Wrap-around: a sum past 2^31 through accumulation stays defined. */
  {
    static int8_t big_a[140000], big_b[140000];
    int32_t out = 0;
    memset(big_a, -128, sizeof(big_a));
    memset(big_b, -128, sizeof(big_b));
    spad_write(0, big_a, sizeof(big_a));
    spad_write(262144, big_b, sizeof(big_b));
    submit(runner_gemm(NPUSIM_DT_I8, 0, 0, 0, 262144, 524288, 1, 140000, 1));
    finish();
    spad_read(524288, &out, sizeof(out));
    ck_assert_int_eq(out, (int32_t)(uint32_t)(140000ull * 16384ull));
  }
}
END_TEST

START_TEST(dma_strided_gather_and_fill) {
  float src[6 * 5], dst[3 * 2];
  uint64_t i;
  npusim_cmd_t cmd;
  for (i = 0; i < 30; ++i) src[i] = (float)i;
  spad_write(0, src, sizeof(src));
  /* Column gather: rows 1,3,5 (stride 2 rows), columns 0 and 2. */
  submit(runner_dma2d(NPUSIM_SPACE_SPAD, 5 * 4, NPUSIM_SPACE_DRAM,
                      RUNNER_DATA_BASE, 4, 2, 3, 8, 40, 4, 8));
  submit(runner_dma(NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE, NPUSIM_SPACE_SPAD,
                    1024, 24));
  finish();
  spad_read(1024, dst, sizeof(dst));
  ck_assert_float_eq(dst[0], 5);
  ck_assert_float_eq(dst[1], 7);
  ck_assert_float_eq(dst[2], 15);
  ck_assert_float_eq(dst[3], 17);
  ck_assert_float_eq(dst[4], 25);
  ck_assert_float_eq(dst[5], 27);
  /* Fill a 4-byte pattern into DRAM and read it back through the
   * aperture. */
  memset(&cmd, 0, sizeof(cmd));
  cmd.opcode = NPUSIM_OP_FILL;
  cmd.func = NPUSIM_SPACE_DRAM;
  cmd.a[0] = RUNNER_DATA_BASE + 4;
  cmd.a[1] = 20;
  cmd.a[2] = 0xA1B2C3D4u;
  cmd.a[3] = 4;
  submit(cmd);
  finish();
  {
    uint32_t words[7];
    ck_assert_int_eq(
        npusim_aperture_read(g_run.sim, RUNNER_DATA_BASE, words, sizeof(words)),
        0);
    for (i = 1; i < 6; ++i) ck_assert_uint_eq(words[i], 0xA1B2C3D4u);
    ck_assert_uint_ne(words[6], 0xA1B2C3D4u);
  }
}
END_TEST

/* softmax over rows, composed from vector primitives as the driver does. */
START_TEST(vector_softmax_and_layer_norm) {
  enum { R = 5, C = 37 };
  float x[R * C], y[R * C];
  unsigned seed = 9;
  uint64_t r, c;
  npusim_cmd_t cmd;
  const uint64_t X = 0, T = 8192, S = 16384;
  for (r = 0; r < R * C; ++r) x[r] = frand(&seed) * 20.0f;
  spad_write(X, x, sizeof(x));
  submit(runner_vector(NPUSIM_VF_ROW_MAX, NPUSIM_DT_F32, 0, X, 0, S, R, C));
  submit(runner_vector(NPUSIM_VF_SUB, NPUSIM_DT_F32, NPUSIM_VB_COL, X, S, T, R,
                       C));
  submit(runner_vector(NPUSIM_VF_EXP, NPUSIM_DT_F32, 0, T, 0, T, R, C));
  submit(runner_vector(NPUSIM_VF_ROW_SUM, NPUSIM_DT_F32, 0, T, 0, S, R, C));
  submit(runner_vector(NPUSIM_VF_DIV, NPUSIM_DT_F32, NPUSIM_VB_COL, T, S, T, R,
                       C));
  finish();
  spad_read(T, y, sizeof(y));
  for (r = 0; r < R; ++r) {
    double mx = -INFINITY, sum = 0;
    for (c = 0; c < C; ++c) mx = fmax(mx, x[r * C + c]);
    for (c = 0; c < C; ++c) sum += exp(x[r * C + c] - mx);
    for (c = 0; c < C; ++c) {
      double want = exp(x[r * C + c] - mx) / sum;
      ck_assert_double_eq_tol(y[r * C + c], want, 1e-6 + 1e-5 * want);
    }
  }
  /* layer_norm: mean, centre, variance, rsqrt, scale. */
  submit(runner_vector(NPUSIM_VF_ROW_SUM, NPUSIM_DT_F32, 0, X, 0, S, R, C));
  cmd = runner_vector(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_SCALAR, S, 0, S,
                      R, 1);
  {
    float inv = 1.0f / C;
    uint32_t bits;
    memcpy(&bits, &inv, 4);
    cmd.a[6] = bits;
  }
  submit(cmd);
  submit(runner_vector(NPUSIM_VF_SUB, NPUSIM_DT_F32, NPUSIM_VB_COL, X, S, T, R,
                       C));
  submit(runner_vector(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_FULL, T, T,
                       T + 4096, R, C));
  submit(
      runner_vector(NPUSIM_VF_ROW_SUM, NPUSIM_DT_F32, 0, T + 4096, 0, S, R, C));
  {
    float inv = 1.0f / C, eps = 1e-5f;
    uint32_t b1, b2;
    memcpy(&b1, &inv, 4);
    memcpy(&b2, &eps, 4);
    cmd = runner_vector(NPUSIM_VF_AXPBY, NPUSIM_DT_F32, 0, S, S, S, R, 1);
    /* var = inv * sum + 0 * sum; then + eps via a scalar add. */
    cmd.a[6] = b1;
    submit(cmd);
    cmd = runner_vector(NPUSIM_VF_ADD, NPUSIM_DT_F32, NPUSIM_VB_SCALAR, S, 0, S,
                        R, 1);
    cmd.a[6] = b2;
    submit(cmd);
  }
  submit(runner_vector(NPUSIM_VF_RSQRT, NPUSIM_DT_F32, 0, S, 0, S, R, 1));
  submit(runner_vector(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_COL, T, S, T, R,
                       C));
  finish();
  spad_read(T, y, sizeof(y));
  for (r = 0; r < R; ++r) {
    double mean = 0, var = 0;
    for (c = 0; c < C; ++c) mean += x[r * C + c];
    mean /= C;
    for (c = 0; c < C; ++c)
      var += (x[r * C + c] - mean) * (x[r * C + c] - mean);
    var /= C;
    for (c = 0; c < C; ++c) {
      double want = (x[r * C + c] - mean) / sqrt(var + 1e-5);
      ck_assert_double_eq_tol(y[r * C + c], want, 1e-5 + 1e-4 * fabs(want));
    }
  }
}
END_TEST

START_TEST(vector_activations_and_i32) {
  float x[8] = {-3.0f, -1.0f, -0.5f, 0.0f, 0.25f, 1.0f, 2.0f, 4.0f}, y[8];
  int32_t ia[4] = {INT32_MAX, -5, 7, INT32_MIN}, ib[4] = {1, 5, -9, -1}, ic[4];
  uint32_t fs[5] = {NPUSIM_VF_RELU, NPUSIM_VF_GELU, NPUSIM_VF_SIGMOID,
                    NPUSIM_VF_TANH, NPUSIM_VF_EXP};
  int f, i;
  spad_write(0, x, sizeof(x));
  for (f = 0; f < 5; ++f) {
    submit(runner_vector(fs[f], NPUSIM_DT_F32, 0, 0, 0, 64, 1, 8));
    finish();
    spad_read(64, y, sizeof(y));
    for (i = 0; i < 8; ++i) {
      double v = x[i], want;
      switch (fs[f]) {
        case NPUSIM_VF_RELU:
          want = v > 0 ? v : 0;
          break;
        case NPUSIM_VF_GELU:
          want = 0.5 * v * (1 + erf(v / sqrt(2.0)));
          break;
        case NPUSIM_VF_SIGMOID:
          want = 1 / (1 + exp(-v));
          break;
        case NPUSIM_VF_TANH:
          want = tanh(v);
          break;
        default:
          want = exp(v);
          break;
      }
      ck_assert_double_eq_tol(y[i], want, 1e-6 + 1e-6 * fabs(want));
    }
  }
  spad_write(128, ia, sizeof(ia));
  spad_write(256, ib, sizeof(ib));
  submit(runner_vector(NPUSIM_VF_ADD, NPUSIM_DT_I32, 0, 128, 256, 384, 1, 4));
  finish();
  spad_read(384, ic, sizeof(ic));
  ck_assert_int_eq(ic[0], INT32_MIN); /* wraps */
  ck_assert_int_eq(ic[1], 0);
  ck_assert_int_eq(ic[2], -2);
  ck_assert_int_eq(ic[3], INT32_MAX);
}
END_TEST

START_TEST(vector_copy_converts_like_cast) {
  float x[6] = {1.0f, 65520.0f, -2.5f, 1e-8f, 300.7f, -300.7f};
  uint16_t h[6];
  int8_t i8[6];
  npusim_cmd_t cmd;
  spad_write(0, x, sizeof(x));
  cmd = runner_vector(NPUSIM_VF_COPY, NPUSIM_DT_F32, 0, 0, 0, 64, 1, 6);
  cmd.a[5] = NPUSIM_DT_F16;
  submit(cmd);
  cmd = runner_vector(NPUSIM_VF_COPY, NPUSIM_DT_F32, 0, 0, 0, 128, 1, 6);
  cmd.a[5] = NPUSIM_DT_I8;
  submit(cmd);
  finish();
  spad_read(64, h, sizeof(h));
  spad_read(128, i8, sizeof(i8));
  ck_assert_uint_eq(h[0], 0x3C00);
  ck_assert_uint_eq(h[1], 0x7C00); /* rounds up to inf */
  ck_assert_uint_eq(h[2], 0xC100);
  ck_assert_uint_eq(h[3], 0x0000); /* below the smallest subnormal / 2 */
  ck_assert_int_eq(i8[0], 1);
  ck_assert_int_eq(i8[2], -2); /* truncates toward zero */
  ck_assert_int_eq(i8[4], 127);
  ck_assert_int_eq(i8[5], -128);
}
END_TEST

static Suite* func_suite(void) {
  Suite* s = suite_create("npusim_func");
  TCase* tc = tcase_create("func");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, gemm_f32_all_layouts, 0, 8);
  tcase_add_test(tc, gemm_f16_accumulates_in_f32);
  tcase_add_test(tc, gemm_int8_wraps_in_int32);
  tcase_add_test(tc, dma_strided_gather_and_fill);
  tcase_add_test(tc, vector_softmax_and_layer_norm);
  tcase_add_test(tc, vector_activations_and_i32);
  tcase_add_test(tc, vector_copy_converts_like_cast);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(func_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
