/*
 * diag_test.c - what a failure message says (cts_util.c): a failed
 * expectation quotes the plugin's message from that call only, never one
 * an earlier call left; a crash inside a call leaves that call named in
 * the running note the parent reports; a crash outside any call leaves
 * none. Each case runs as a Check test of its own, and its message or
 * the shared note is inspected here.
 */
#define _GNU_SOURCE

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cts.h"
#include "cts_run.h"

static cts_direct_t* g_direct;
static xhal_plugin_device_t g_dev;

static void open_plugin(void) {
  char why[256];
  ck_assert_int_eq(
      cts_direct_load(XHAL_DIAG_PLUGIN, &g_direct, why, sizeof(why)), XHAL_OK);
  ck_assert_int_eq(cts_direct_init(g_direct, 0, why, sizeof(why)), XHAL_OK);
  ck_assert_int_eq(cts_direct_device(g_direct, 0, &g_dev), XHAL_OK);
}

static xhal_status_t give(xhal_status_t status) { return status; }

static xhal_status_t crash_now(void) {
  raise(SIGSEGV);
  return XHAL_OK;
}

/* An expected error leaves the plugin's message; a later failure that
 * sets none must not quote it. */
START_TEST(inner_stale) {
  open_plugin();
  xhal_plugin_buffer_t b = NULL;
  cts_expect(g_direct->table.buffer_alloc(g_dev, 0, 0, &b),
             XHAL_ERROR_INVALID_ARGUMENT, "buffer_alloc of 0 bytes");
  cts_ok(give(XHAL_ERROR_TIMEOUT), "a call that sets no message");
}
END_TEST

/* A failing call that sets a message is quoted. */
START_TEST(inner_fresh) {
  open_plugin();
  xhal_plugin_buffer_t b = NULL;
  cts_ok(g_direct->table.buffer_alloc(g_dev, 0, 0, &b),
         "buffer_alloc of 0 bytes");
}
END_TEST

START_TEST(inner_crash_in_call) { cts_ok(crash_now(), "a call that crashes"); }
END_TEST

START_TEST(inner_crash_outside) {
  cts_ok(give(XHAL_OK), "a call that returns");
  raise(SIGSEGV);
}
END_TEST

/* Runs one inner test in a forked child; returns its message (static). */
static const char* run_inner(const TTest* test) {
  static char msg[2048];
  Suite* s = suite_create("inner");
  TCase* tc = tcase_create("inner");
  tcase_add_test(tc, test);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_SILENT);
  TestResult** results = srunner_results(sr);
  snprintf(msg, sizeof(msg), "%s",
           results && tr_msg(results[0]) ? tr_msg(results[0]) : "");
  free(results);
  srunner_free(sr);
  return msg;
}

/* The outer checks are plain code: Check's runners do not nest. */
static int g_failed;

static void expect(int cond, const char* what, const char* detail) {
  printf("%s: %s%s%s\n", cond ? "ok" : "FAIL", what, detail ? ": " : "",
         detail ? detail : "");
  if (!cond) g_failed = 1;
}

int main(void) {
  const char* msg = run_inner(inner_stale);
  expect(strstr(msg, "a call that sets no message") != NULL,
         "the failed expectation is reported", msg);
  expect(strstr(msg, "(plugin:") == NULL,
         "no earlier call's plugin message is quoted", msg);
  msg = run_inner(inner_fresh);
  expect(strstr(msg, "(plugin:") != NULL,
         "the failing call's own plugin message is quoted", msg);

  char* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return 2;
  memset(page, 0, 4096);
  cts_step_attach(page, 4096);
  run_inner(inner_crash_in_call);
  expect(strcmp(page + 2048, "crash_now()") == 0,
         "a crash inside a call leaves the call named", page + 2048);
  run_inner(inner_crash_outside);
  expect(page[2048] == '\0', "a crash outside any call names none",
         page + 2048);
  cts_step_attach(NULL, 0);
  munmap(page, 4096);
  return g_failed;
}
