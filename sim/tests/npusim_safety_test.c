/*
 * npusim_safety_test.c - the model's IOMMU-like checks, fault handling,
 * fault injection, config parsing, and a fuzzer proving that random
 * command words never reach memory outside the model (run it under ASan).
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "npusim/npusim.h"
#include "npusim_internal.h"
#include "npusim_runner.h"

static void small_config(npusim_config_t* cfg) {
  npusim_config_default(cfg);
  cfg->rows = 4;
  cfg->cols = 4;
  cfg->dram_bytes = 256u << 10;
  cfg->spad_bytes = 64u << 10;
}

/* Submits one command and expects it to fault with `code`, then resumes. */
static void expect_fault(runner_t* r, npusim_cmd_t cmd, int code) {
  ck_assert_int_eq(runner_submit(r, &cmd), 0);
  ck_assert_int_eq(runner_wait(r, 10000), code);
  ck_assert_uint_eq(npusim_reg_read(r->sim, NPUSIM_REG_ERROR_CMD), r->tail - 1);
  ck_assert_uint_ne(
      npusim_reg_read(r->sim, NPUSIM_REG_IRQ_STATUS) & NPUSIM_IRQ_FAULT, 0);
  npusim_reg_write(r->sim, NPUSIM_REG_IRQ_STATUS, NPUSIM_IRQ_FAULT);
  npusim_reg_write(r->sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_RESUME);
  ck_assert_int_eq(runner_wait(r, 10000), 0);
}

START_TEST(dma_outside_memories_is_rejected) {
  npusim_config_t cfg;
  runner_t r;
  uint8_t host[64], guard[64], back[64];
  uint64_t iova, ro;
  small_config(&cfg);
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  memset(host, 0x5A, sizeof(host));
  memset(guard, 0x77, sizeof(guard));
  ck_assert_int_eq(npusim_host_map(r.sim, host, 32, 1, &iova), 0);
  ck_assert_int_eq(npusim_host_map(r.sim, guard, 64, 0, &ro), 0);
  /* DRAM: last byte one past the end. */
  expect_fault(&r,
               runner_dma(NPUSIM_SPACE_SPAD, 0, NPUSIM_SPACE_DRAM,
                          cfg.dram_bytes - 63, 64),
               NPUSIM_ERR_DRAM_RANGE);
  /* Scratchpad source past the end. */
  expect_fault(&r,
               runner_dma(NPUSIM_SPACE_SPAD, cfg.spad_bytes, NPUSIM_SPACE_DRAM,
                          RUNNER_DATA_BASE, 1),
               NPUSIM_ERR_SPAD_RANGE);
  /* Host: past the 32 mapped bytes of a 64-byte array. */
  expect_fault(&r,
               runner_dma(NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE,
                          NPUSIM_SPACE_HOST, iova, 33),
               NPUSIM_ERR_HOST_RANGE);
  ck_assert_uint_eq(host[32], 0x5A);
  /* Host: the device may not write a read-only window. */
  expect_fault(
      &r,
      runner_dma(NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE, NPUSIM_SPACE_HOST, ro, 8),
      NPUSIM_ERR_HOST_RANGE);
  memset(back, 0x77, sizeof(back));
  ck_assert_mem_eq(guard, back, sizeof(guard));
  /* Host: an unmapped window is gone. */
  ck_assert_int_eq(npusim_host_unmap(r.sim, iova), 0);
  expect_fault(&r,
               runner_dma(NPUSIM_SPACE_HOST, iova, NPUSIM_SPACE_DRAM,
                          RUNNER_DATA_BASE, 4),
               NPUSIM_ERR_HOST_RANGE);
  ck_assert_int_eq(npusim_host_unmap(r.sim, iova), NPUSIM_E_INVAL);
  /* Strides whose footprint overflows 64 bits. */
  expect_fault(&r,
               runner_dma2d(NPUSIM_SPACE_DRAM, 0, NPUSIM_SPACE_SPAD, 0, 4, 2,
                            UINT64_MAX / 2, 4, 0xFFFFFFFFu, 4, 8),
               NPUSIM_ERR_BAD_ARG);
  /* Overlapping destination elements. */
  expect_fault(&r,
               runner_dma2d(NPUSIM_SPACE_DRAM, 0, NPUSIM_SPACE_SPAD, 0, 4, 4, 1,
                            4, 0, 2, 0),
               NPUSIM_ERR_BAD_ARG);
  /* Unknown address space. */
  expect_fault(&r, runner_dma(7, 0, NPUSIM_SPACE_SPAD, 0, 4),
               NPUSIM_ERR_BAD_ARG);
  /* The aperture is bounds-checked too. */
  ck_assert_int_eq(npusim_aperture_write(r.sim, cfg.dram_bytes - 1, back, 2),
                   NPUSIM_E_RANGE);
  ck_assert_int_eq(npusim_aperture_read(r.sim, UINT64_MAX, back, 2),
                   NPUSIM_E_RANGE);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_CNT_FAULTS), 8);
  runner_close(&r);
}
END_TEST

START_TEST(commands_outside_scratchpad_are_rejected) {
  npusim_config_t cfg;
  runner_t r;
  npusim_cmd_t cmd;
  small_config(&cfg);
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  /* C runs past the scratchpad. */
  expect_fault(
      &r,
      runner_gemm(NPUSIM_DT_F32, 0, 0, 0, 1024, cfg.spad_bytes - 60, 4, 4, 4),
      NPUSIM_ERR_SPAD_RANGE);
  /* M * K overflows. */
  expect_fault(
      &r, runner_gemm(NPUSIM_DT_F32, 0, 0, 0, 0, 0, 0x7FFFFFFF, 0x7FFFFFFF, 1),
      NPUSIM_ERR_SPAD_RANGE);
  /* C overlaps A. */
  expect_fault(&r, runner_gemm(NPUSIM_DT_F32, 0, 0, 0, 4096, 32, 4, 4, 4),
               NPUSIM_ERR_OVERLAP);
  /* Bad dtype, misaligned operand, unknown flags. */
  expect_fault(&r, runner_gemm(9, 0, 0, 0, 4096, 8192, 4, 4, 4),
               NPUSIM_ERR_BAD_ARG);
  expect_fault(&r, runner_gemm(NPUSIM_DT_F32, 0, 0, 2, 4096, 8192, 4, 4, 4),
               NPUSIM_ERR_BAD_ARG);
  expect_fault(&r, runner_gemm(NPUSIM_DT_F32, 0, 0x80, 0, 4096, 8192, 4, 4, 4),
               NPUSIM_ERR_BAD_ARG);
  /* Vector: destination past the end, partial overlap, bad function. */
  expect_fault(&r,
               runner_vector(NPUSIM_VF_ADD, NPUSIM_DT_F32, 0, 0, 0,
                             cfg.spad_bytes - 4, 1, 2),
               NPUSIM_ERR_SPAD_RANGE);
  expect_fault(&r,
               runner_vector(NPUSIM_VF_EXP, NPUSIM_DT_F32, 0, 0, 0, 4, 1, 8),
               NPUSIM_ERR_OVERLAP);
  expect_fault(&r, runner_vector(99, NPUSIM_DT_F32, 0, 0, 0, 64, 1, 8),
               NPUSIM_ERR_BAD_ARG);
  expect_fault(&r,
               runner_vector(NPUSIM_VF_EXP, NPUSIM_DT_I32, 0, 0, 0, 64, 1, 8),
               NPUSIM_ERR_BAD_ARG);
  /* Unknown opcode. */
  memset(&cmd, 0, sizeof(cmd));
  cmd.opcode = 0xEE;
  expect_fault(&r, cmd, NPUSIM_ERR_BAD_OPCODE);
  /* Fence record to an unmapped host address. */
  cmd = runner_fence(3);
  cmd.flags = NPUSIM_FENCE_RECORD;
  cmd.a[1] = 0x1234;
  expect_fault(&r, cmd, NPUSIM_ERR_HOST_RANGE);
  /* The device still works after faults. */
  cmd = runner_fence(4);
  ck_assert_int_eq(runner_submit(&r, &cmd), 0);
  ck_assert_int_eq(runner_wait(&r, 10000), 0);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_FENCE), 4);
  runner_close(&r);
}
END_TEST

START_TEST(bad_ring_is_rejected) {
  npusim_config_t cfg;
  npusim_t* sim;
  small_config(&cfg);
  ck_assert_int_eq(npusim_create(&cfg, &sim), NPUSIM_OK);
  npusim_reg_write(sim, NPUSIM_REG_RING_BASE, cfg.dram_bytes - 64);
  npusim_reg_write(sim, NPUSIM_REG_RING_SIZE, 4);
  npusim_reg_write(sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_ENABLE);
  ck_assert_uint_eq(npusim_reg_read(sim, NPUSIM_REG_STATUS),
                    NPUSIM_STATUS_HALTED);
  ck_assert_uint_eq(npusim_reg_read(sim, NPUSIM_REG_ERROR_CODE),
                    NPUSIM_ERR_RING);
  npusim_reg_write(sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_RESUME);
  npusim_reg_write(sim, NPUSIM_REG_RING_SIZE, 3); /* not a power of two */
  npusim_reg_write(sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_ENABLE);
  ck_assert_uint_eq(npusim_reg_read(sim, NPUSIM_REG_ERROR_CODE),
                    NPUSIM_ERR_RING);
  /* Identity registers. */
  ck_assert_uint_eq(npusim_reg_read(sim, NPUSIM_REG_ID), NPUSIM_ID);
  ck_assert_uint_eq(npusim_reg_read(sim, NPUSIM_REG_CAP_SPAD_BYTES),
                    cfg.spad_bytes);
  npusim_destroy(sim);
}
END_TEST

START_TEST(injected_dma_error) {
  npusim_config_t cfg;
  runner_t r;
  uint8_t src[16], dst[16];
  uint64_t is, id;
  small_config(&cfg);
  cfg.fault_dma_error_at = 2;
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  memset(src, 1, sizeof(src));
  memset(dst, 0, sizeof(dst));
  npusim_host_map(r.sim, src, 16, 0, &is);
  npusim_host_map(r.sim, dst, 16, 1, &id);
  {
    npusim_cmd_t c1 = runner_dma(NPUSIM_SPACE_HOST, is, NPUSIM_SPACE_DRAM,
                                 RUNNER_DATA_BASE, 16);
    ck_assert_int_eq(runner_submit(&r, &c1), 0);
    ck_assert_int_eq(runner_wait(&r, 10000), 0);
  }
  expect_fault(&r,
               runner_dma(NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE,
                          NPUSIM_SPACE_HOST, id, 16),
               NPUSIM_ERR_DMA_FAULT);
  ck_assert_uint_eq(dst[0], 0); /* the failed transfer moved nothing */
  {
    npusim_cmd_t c3 = runner_dma(NPUSIM_SPACE_DRAM, RUNNER_DATA_BASE,
                                 NPUSIM_SPACE_HOST, id, 16);
    ck_assert_int_eq(runner_submit(&r, &c3), 0);
    ck_assert_int_eq(runner_wait(&r, 10000), 0);
  }
  ck_assert_uint_eq(dst[15], 1);
  runner_close(&r);
}
END_TEST

START_TEST(injected_hang_is_aborted) {
  npusim_config_t cfg;
  runner_t r;
  npusim_cmd_t cmd = runner_fence(1);
  small_config(&cfg);
  cfg.fault_hang_at = 2;
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  runner_submit(&r, &cmd);
  cmd = runner_fence(2);
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 200), -1);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_STATUS),
                    NPUSIM_STATUS_BUSY);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_FENCE), 1);
  npusim_reg_write(r.sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_ABORT);
  ck_assert_int_eq(runner_wait(&r, 10000), NPUSIM_ERR_ABORTED);
  npusim_reg_write(r.sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_RESUME);
  cmd = runner_fence(3);
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 10000), 0);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_FENCE), 3);
  runner_close(&r);
}
END_TEST

START_TEST(injected_device_lost) {
  npusim_config_t cfg;
  runner_t r;
  npusim_cmd_t cmd = runner_fence(1);
  small_config(&cfg);
  cfg.fault_device_lost_at = 2;
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  runner_submit(&r, &cmd);
  cmd = runner_fence(2);
  runner_submit(&r, &cmd);
  ck_assert_int_eq(runner_wait(&r, 10000), -2);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_ID), NPUSIM_REG_DEAD);
  ck_assert_uint_eq(npusim_reg_read(r.sim, NPUSIM_REG_FENCE), NPUSIM_REG_DEAD);
  runner_close(&r);
}
END_TEST

/* Random command words: whatever they say, the model only touches its own
 * DRAM and scratchpad and the one host window mapped here; canaries around
 * the window stay intact, and under ASan any stray access aborts. */
static uint64_t rnd(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static uint64_t fuzz_value(uint64_t* s, uint64_t iova) {
  switch (rnd(s) % 6) {
    case 0:
      return rnd(s);
    case 1:
      return rnd(s) % 64;
    case 2:
      return rnd(s) % 70000;
    case 3:
      return iova + rnd(s) % 80;
    case 4:
      return (rnd(s) % 300) | (rnd(s) % 300) << 32;
    default:
      return UINT64_MAX - rnd(s) % 8;
  }
}

START_TEST(random_commands_stay_inside_the_model) {
  npusim_config_t cfg;
  runner_t r;
  uint8_t* host = malloc(192);
  uint64_t iova, seed = 0x9E3779B97F4A7C15ull + (uint64_t)_i;
  int round, i;
  small_config(&cfg);
  ck_assert_ptr_nonnull(host);
  memset(host, 0xC3, 192);
  ck_assert_int_eq(runner_open(&r, &cfg), NPUSIM_OK);
  ck_assert_int_eq(npusim_host_map(r.sim, host + 64, 64, 1, &iova), 0);
  npusim_reg_write(r.sim, NPUSIM_REG_HOST_SEM, UINT64_MAX);
  for (round = 0; round < 400; ++round) {
    npusim_cmd_t cmd;
    uint8_t* raw = (uint8_t*)&cmd;
    int rc;
    for (i = 0; i < 64; ++i) raw[i] = (uint8_t)rnd(&seed);
    cmd.opcode = (uint8_t)(rnd(&seed) % 9);
    if (rnd(&seed) % 2) cmd.func = (uint8_t)(rnd(&seed) % 40);
    if (rnd(&seed) % 2) cmd.dtype = (uint8_t)(rnd(&seed) % 4);
    if (rnd(&seed) % 2) cmd.flags = (uint8_t)(rnd(&seed) % 8);
    for (i = 0; i < 7; ++i) {
      if (rnd(&seed) % 3) cmd.a[i] = fuzz_value(&seed, iova);
    }
    ck_assert_int_eq(runner_submit(&r, &cmd), 0);
    rc = runner_wait(&r, 30000);
    ck_assert_int_ne(rc, -1); /* never hangs */
    ck_assert_int_ne(rc, -2);
    if (rc != 0) {
      npusim_reg_write(r.sim, NPUSIM_REG_CONTROL, NPUSIM_CTRL_RESUME);
      ck_assert_int_eq(runner_wait(&r, 30000), 0);
    }
  }
  for (i = 0; i < 64; ++i) {
    ck_assert_uint_eq(host[i], 0xC3);
    ck_assert_uint_eq(host[128 + i], 0xC3);
  }
  runner_close(&r);
  free(host);
}
END_TEST

/* DRAM is fenced by an inaccessible page on each side: a model bug that
 * runs off either end faults at once instead of corrupting the host. The
 * sanitizers' SIGSEGV handlers would turn the fault into an exit, so the
 * test puts the default action back first (Check runs it in a child). */
enum { kFencedDram = 256u << 10 };

static void touch_dram(long index) {
  npusim_config_t cfg;
  npusim_t* sim = NULL;
  npusim_config_default(&cfg);
  cfg.dram_bytes = kFencedDram;
  ck_assert_int_eq(npusim_create(&cfg, &sim), NPUSIM_OK);
  volatile uint8_t* dram = sim->dram;
  dram[0] = 1; /* the ends themselves are memory */
  dram[kFencedDram - 1] = 1;
  signal(SIGSEGV, SIG_DFL);
  dram[index] = 1;
  npusim_destroy(sim); /* not reached */
}

START_TEST(dram_overrun_faults) { touch_dram(kFencedDram); }
END_TEST

START_TEST(dram_underrun_faults) { touch_dram(-1); }
END_TEST

static int accept_driver_keys(void* user, const char* key, const char* value) {
  (void)value;
  ++*(int*)user;
  return strncmp(key, "driver.", 7) == 0 ? 0 : 1;
}

START_TEST(config_file_format) {
  npusim_config_t cfg;
  char err[128];
  int seen = 0;
  npusim_config_default(&cfg);
  ck_assert_int_eq(
      npusim_config_parse(&cfg,
                          "# comment\n array.rows = 16\narray.cols=8 # x\n"
                          "array.dataflow = ws\nspad_bytes = 2M\n"
                          "dram_bytes = 0x100000\nfault.hang_at = 3\n"
                          "driver.watchdog_ms = 100\n\n",
                          accept_driver_keys, &seen, err, sizeof(err)),
      NPUSIM_OK);
  ck_assert_uint_eq(cfg.rows, 16);
  ck_assert_uint_eq(cfg.cols, 8);
  ck_assert_uint_eq(cfg.dataflow, NPUSIM_DATAFLOW_WS);
  ck_assert_uint_eq(cfg.spad_bytes, 2u << 20);
  ck_assert_uint_eq(cfg.dram_bytes, 1u << 20);
  ck_assert_uint_eq(cfg.fault_hang_at, 3);
  ck_assert_int_eq(seen, 1);
  ck_assert_int_eq(npusim_config_validate(&cfg, err, sizeof(err)), NPUSIM_OK);
  ck_assert_int_eq(
      npusim_config_parse(&cfg, "bogus = 1\n", NULL, NULL, err, sizeof(err)),
      NPUSIM_E_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "bogus"));
  ck_assert_int_eq(npusim_config_parse(&cfg, "array.rows = -3\n", NULL, NULL,
                                       err, sizeof(err)),
                   NPUSIM_E_PARSE);
  ck_assert_int_eq(npusim_config_parse(&cfg, "array.rows = 99999999999\n", NULL,
                                       NULL, err, sizeof(err)),
                   NPUSIM_E_PARSE);
  ck_assert_int_eq(npusim_config_parse(&cfg, "dram_bytes = 99999999999G\n",
                                       NULL, NULL, err, sizeof(err)),
                   NPUSIM_E_PARSE);
  ck_assert_int_eq(
      npusim_config_parse(&cfg, "array.rows\n", NULL, NULL, err, sizeof(err)),
      NPUSIM_E_PARSE);
  cfg.rows = 0;
  ck_assert_int_eq(npusim_config_validate(&cfg, err, sizeof(err)),
                   NPUSIM_E_INVAL);
  ck_assert_int_eq(npusim_config_load(&cfg, "/nonexistent/npu.cfg", NULL, NULL,
                                      err, sizeof(err)),
                   NPUSIM_E_IO);
  {
    npusim_t* sim = NULL;
    ck_assert_int_eq(npusim_create(&cfg, &sim), NPUSIM_E_INVAL);
    ck_assert_ptr_null(sim);
  }
}
END_TEST

static Suite* safety_suite(void) {
  Suite* s = suite_create("npusim_safety");
  TCase* tc = tcase_create("safety");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, dma_outside_memories_is_rejected);
  tcase_add_test(tc, commands_outside_scratchpad_are_rejected);
  tcase_add_test(tc, bad_ring_is_rejected);
  tcase_add_test(tc, injected_dma_error);
  tcase_add_test(tc, injected_hang_is_aborted);
  tcase_add_test(tc, injected_device_lost);
  tcase_add_loop_test(tc, random_commands_stay_inside_the_model, 0, 8);
  tcase_add_test(tc, config_file_format);
  tcase_add_test_raise_signal(tc, dram_overrun_faults, SIGSEGV);
  tcase_add_test_raise_signal(tc, dram_underrun_faults, SIGSEGV);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(safety_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
