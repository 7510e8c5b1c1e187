/*
 * npusim_timing_test.c - the model's cycle counts against the documented
 * formulas (docs/npu.md), on hand-worked cases.
 *
 * The GEMM expectations were produced by running SCALE-Sim v2's own
 * compute and memory modules (systolic_compute_{os,ws}.py and
 * double_buffered_scratchpad_mem.py, no stalls) on the same shapes; the
 * last case is SCALE-Sim's own golden test (AlexNet conv1, 32 x 32, ws:
 * 112283 cycles, test/golden_trace/COMPUTE_REPORT.csv).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "npusim/npusim.h"
#include "npusim_runner.h"

typedef struct gemm_case {
  uint32_t dataflow;
  uint64_t m, k, n, rows, cols, cycles;
} gemm_case_t;

static const gemm_case_t kCases[] = {
    /* os: ceil(M/R) * ceil(N/C) * (K + R + C - 2) - 1 */
    {NPUSIM_DATAFLOW_OS, 1, 1, 1, 1, 1, 0},
    {NPUSIM_DATAFLOW_OS, 4, 4, 4, 2, 2, 23},
    {NPUSIM_DATAFLOW_OS, 5, 3, 7, 2, 4, 41},
    {NPUSIM_DATAFLOW_OS, 1, 8, 8, 4, 4, 27},  /* M = 1 */
    {NPUSIM_DATAFLOW_OS, 8, 1, 8, 4, 4, 27},  /* K = 1 */
    {NPUSIM_DATAFLOW_OS, 8, 8, 1, 4, 4, 27},  /* N = 1 */
    {NPUSIM_DATAFLOW_OS, 7, 9, 5, 3, 2, 107}, /* nothing divides */
    {NPUSIM_DATAFLOW_OS, 16, 16, 16, 4, 8, 207},
    {NPUSIM_DATAFLOW_OS, 33, 20, 17, 8, 8, 509},
    /* ws: ceil(K/R) * ceil(N/C) * (M + 2R + C - 2) - 1 */
    {NPUSIM_DATAFLOW_WS, 1, 1, 1, 1, 1, 1},
    {NPUSIM_DATAFLOW_WS, 4, 4, 4, 2, 2, 31},
    {NPUSIM_DATAFLOW_WS, 5, 3, 7, 2, 4, 43},
    {NPUSIM_DATAFLOW_WS, 1, 8, 8, 4, 4, 43},
    {NPUSIM_DATAFLOW_WS, 8, 1, 8, 4, 4, 35},
    {NPUSIM_DATAFLOW_WS, 8, 8, 1, 4, 4, 35},
    {NPUSIM_DATAFLOW_WS, 7, 9, 5, 3, 2, 116},
    {NPUSIM_DATAFLOW_WS, 16, 16, 16, 4, 8, 239},
    {NPUSIM_DATAFLOW_WS, 33, 20, 17, 8, 8, 494},
    {NPUSIM_DATAFLOW_WS, 3025, 363, 96, 32, 32, 112283},
};
#define NUM_CASES (sizeof(kCases) / sizeof(kCases[0]))

START_TEST(formula_matches_hand_worked_cases) {
  const gemm_case_t* c = &kCases[_i];
  ck_assert_uint_eq(
      npusim_gemm_cycles(c->dataflow, c->rows, c->cols, c->m, c->k, c->n),
      c->cycles);
}
END_TEST

START_TEST(formula_zero_dims_cost_nothing) {
  ck_assert_uint_eq(npusim_gemm_cycles(NPUSIM_DATAFLOW_OS, 4, 4, 0, 4, 4), 0);
  ck_assert_uint_eq(npusim_gemm_cycles(NPUSIM_DATAFLOW_WS, 4, 4, 4, 0, 4), 0);
  ck_assert_uint_eq(npusim_gemm_cycles(NPUSIM_DATAFLOW_OS, 4, 4, 4, 4, 0), 0);
  /* Saturates instead of wrapping. */
  ck_assert_uint_eq(npusim_gemm_cycles(NPUSIM_DATAFLOW_OS, 1, 1, UINT64_MAX,
                                       UINT64_MAX, UINT64_MAX),
                    UINT64_MAX - 1);
}
END_TEST

static void small_config(npusim_config_t* cfg, uint32_t rows, uint32_t cols,
                         uint32_t dataflow) {
  npusim_config_default(cfg);
  cfg->rows = rows;
  cfg->cols = cols;
  cfg->dataflow = dataflow;
  cfg->dram_bytes = 1u << 20;
  cfg->spad_bytes = 1u << 20;
  cfg->dma_bytes_per_cycle = 16;
  cfg->dma_latency_cycles = 10;
}

/* The GEMM command on the model charges exactly the formula, for every
 * case, on the array it was configured with. */
START_TEST(model_charges_formula) {
  const gemm_case_t* c = &kCases[_i];
  npusim_config_t cfg;
  runner_t r;
  npusim_cmd_t cmd;
  uint64_t b_off = (c->m * c->k * 4 + 63) & ~63ull;
  uint64_t c_off = (b_off + c->k * c->n * 4 + 63) & ~63ull;
  small_config(&cfg, (uint32_t)c->rows, (uint32_t)c->cols, c->dataflow);
  cfg.spad_bytes = c_off + c->m * c->n * 4 + 64;
  if (cfg.spad_bytes < 1024) cfg.spad_bytes = 1024;
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  cmd = runner_gemm(NPUSIM_DT_F32, 0, 0, 0, b_off, c_off, c->m, c->k, c->n);
  ck_assert_int_eq(runner_submit(&r, &cmd), 0);
  ck_assert_int_eq(runner_wait(&r, 60000), 0);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_GEMM), c->cycles);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_TOTAL), c->cycles);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_MACS),
                    c->m * c->k * c->n);
  runner_close(&r);
}
END_TEST

/* DMA: latency + ceil(bytes / bandwidth). */
START_TEST(dma_cycles_formula) {
  npusim_config_t cfg;
  runner_t r;
  npusim_cmd_t cmd;
  small_config(&cfg, 4, 4, NPUSIM_DATAFLOW_OS);
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  /* 100 bytes at 16 B/cycle: 10 + 7 = 17 cycles. */
  cmd = runner_dma(NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE, NPUSIM_SPACE_SPAD, 0,
                   100);
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 10000), 0);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_DMA), 17);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_DRAM_TO_SPAD_BYTES),
                    100);
  /* A strided 2-D transfer counts its payload only: 8 rows of 3 f32. */
  cmd = runner_dma2d(NPUSIM_SPACE_SPAD, 0, NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE,
                     4, 3, 8, 4, 64, 4, 12);
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 10000), 0);
  /* 96 bytes: 10 + 6 = 16 cycles, after the first 17. */
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_DMA), 33);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_TOTAL), 33);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_SPAD_TO_DRAM_BYTES),
                    96);
  runner_close(&r);
}
END_TEST

/* Double buffering: a GEMM waits only for the DMA that fed it, so the
 * next load overlaps it; the compute engine's wait is a stall. */
START_TEST(double_buffering_overlaps_dma_and_compute) {
  npusim_config_t cfg;
  runner_t r;
  npusim_cmd_t cmd;
  const uint64_t g = npusim_gemm_cycles(NPUSIM_DATAFLOW_OS, 4, 4, 8, 8, 8);
  const uint64_t d = 10 + 256 / 16; /* 8x8 f32 = 256 bytes: 26 cycles */
  small_config(&cfg, 4, 4, NPUSIM_DATAFLOW_OS);
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  ck_assert_uint_eq(g, 4 * (8 + 4 + 4 - 2) - 1); /* 55 */
  /* load0 (sem 0), gemm0 waits sem 0, load1 (sem 1), gemm1 waits sem 1. */
  cmd = runner_dma(NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE, NPUSIM_SPACE_SPAD, 0,
                   256);
  cmd.signal = 1;
  runner_submit(&r, &cmd);
  cmd = runner_gemm(NPUSIM_DT_F32, 0, 0, 0, 0, 4096, 8, 8, 8);
  cmd.wait_mask = 1;
  runner_submit(&r, &cmd);
  cmd = runner_dma(NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE, NPUSIM_SPACE_SPAD, 256,
                   256);
  cmd.signal = 2;
  runner_submit(&r, &cmd);
  cmd = runner_gemm(NPUSIM_DT_F32, 0, NPUSIM_GEMM_ACCUMULATE, 256, 256, 4096, 8,
                    8, 8);
  cmd.wait_mask = 2;
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 10000), 0);
  /* DMA: [0, 26) and [26, 52); compute: [26, 81) and [81, 136). */
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_TOTAL), d + 2 * g);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_STALL), d);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_COMPUTE), 2 * g);
  /* Serialised (no overlap) it would have been 2 * (d + g). */
  ck_assert_uint_lt(npusim_reg_read(r.sim, NPUSIM_REG_CNT_TOTAL), 2 * (d + g));
  runner_close(&r);
}
END_TEST

/* Vector unit: latency + ceil(n / lanes) * cost; reductions per row. */
START_TEST(vector_cycles_formula) {
  npusim_config_t cfg;
  runner_t r;
  npusim_cmd_t cmd;
  small_config(&cfg, 4, 4, NPUSIM_DATAFLOW_OS);
  cfg.vector_lanes = 16;
  cfg.vector_latency_cycles = 8;
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  /* add of 3 x 33 = 99 elements: 8 + 7 = 15 cycles. */
  cmd = runner_vector(NPUSIM_VF_ADD, NPUSIM_DT_F32, NPUSIM_VB_FULL, 0, 1024,
                      2048, 3, 33);
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 10000), 0);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_VECTOR), 15);
  /* exp: cost 4 per lane batch: 8 + 7 * 4 = 36. */
  cmd = runner_vector(NPUSIM_VF_EXP, NPUSIM_DT_F32, 0, 0, 0, 2048, 3, 33);
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 10000), 0);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_VECTOR), 15 + 36);
  /* row sum of 3 rows of 33: 8 + 3 * (3 + log2(16) = 4) = 29. */
  cmd = runner_vector(NPUSIM_VF_ROW_SUM, NPUSIM_DT_F32, 0, 0, 0, 2048, 3, 33);
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 10000), 0);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_VECTOR),
                    15 + 36 + 29);
  runner_close(&r);
}
END_TEST

/* The fence record carries the device time at which all earlier work of
 * both engines had completed. */
START_TEST(fence_records_device_time) {
  npusim_config_t cfg;
  runner_t r;
  npusim_cmd_t cmd;
  npusim_fence_record_t rec;
  uint64_t iova;
  small_config(&cfg, 4, 4, NPUSIM_DATAFLOW_OS);
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  memset(&rec, 0, sizeof(rec));
  ck_assert_int_eq(npusim_host_map(r.sim, &rec, sizeof(rec), 1, &iova),
                   NPUSIM_OK);
  cmd = runner_dma(NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE, NPUSIM_SPACE_SPAD, 0,
                   160); /* 10 + 10 = 20 cycles */
  runner_submit(&r, &cmd);
  cmd = runner_fence(7);
  cmd.flags = NPUSIM_FENCE_RECORD;
  cmd.a[1] = iova;
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 10000), 0);
  ck_assert_uint_eq(rec.value, 7);
  ck_assert_uint_eq(rec.cycles, 20);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_FENCE), 7);
  runner_close(&r);
}
END_TEST

static Suite* timing_suite(void) {
  Suite* s = suite_create("npusim_timing");
  TCase* tc = tcase_create("timing");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, formula_matches_hand_worked_cases, 0, (int)NUM_CASES);
  tcase_add_test(tc, formula_zero_dims_cost_nothing);
  tcase_add_loop_test(tc, model_charges_formula, 0, (int)NUM_CASES);
  tcase_add_test(tc, dma_cycles_formula);
  tcase_add_test(tc, double_buffering_overlaps_dma_and_compute);
  tcase_add_test(tc, vector_cycles_formula);
  tcase_add_test(tc, fence_records_device_time);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(timing_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
