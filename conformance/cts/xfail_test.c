/*
 * xfail_test.c - the expected-failure list parser: entries, comments,
 * sections, globs, errors with file and line, and files on disk.
 */
#define _GNU_SOURCE

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xfail.h"

static int parse(cts_xfail_list_t* list, const char* text, char* err) {
  return cts_xfail_parse(list, text, "list.txt", err, 256);
}

START_TEST(test_entries_and_comments) {
  cts_xfail_list_t list = {0};
  char err[256] = "";
  const char* text =
      "# expected failures of the acme plugin\n"
      "\n"
      "memory.copy_bounds   copies overrun by one byte (ticket 12)\n"
      "   event.wait_timeout\tthe timer is coarse  \r\n"
      "kernels.acme.matmul.*  odd sizes unsupported\n";
  ck_assert_int_eq(parse(&list, text, err), 0);
  ck_assert_uint_eq(list.count, 3);
  ck_assert_str_eq(list.entries[0].pattern, "memory.copy_bounds");
  ck_assert_str_eq(list.entries[0].reason,
                   "copies overrun by one byte (ticket 12)");
  ck_assert_uint_eq(list.entries[0].line, 3);
  ck_assert_str_eq(list.entries[1].pattern, "event.wait_timeout");
  ck_assert_str_eq(list.entries[1].reason, "the timer is coarse");
  ck_assert_str_eq(list.entries[1].file, "list.txt");
  ck_assert_str_eq(list.entries[2].plugin, "");
  cts_xfail_free(&list);
}
END_TEST

START_TEST(test_match_exact_and_glob) {
  cts_xfail_list_t list = {0};
  char err[256];
  ck_assert_int_eq(parse(&list,
                         "memory.copy_bounds reason one\n"
                         "kernels.acme.matmul.* reason two\n",
                         err),
                   0);
  const cts_xfail_entry_t* e =
      cts_xfail_match(&list, "acme", "memory.copy_bounds");
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e->reason, "reason one");
  ck_assert_ptr_null(cts_xfail_match(&list, "acme", "memory.copy_bound"));
  ck_assert_ptr_null(cts_xfail_match(&list, "acme", "memory.copy_bounds2"));
  e = cts_xfail_match(&list, "acme", "kernels.acme.matmul.f32.edge");
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e->reason, "reason two");
  ck_assert_ptr_null(cts_xfail_match(&list, "acme", "kernels.acme.add.f32"));
  ck_assert_uint_eq(list.entries[0].matches, 1);
  ck_assert_uint_eq(list.entries[1].matches, 1);
  cts_xfail_free(&list);
}
END_TEST

START_TEST(test_sections_scope_plugins) {
  cts_xfail_list_t list = {0};
  char err[256];
  const char* text =
      "abi.no_leaks every plugin\n"
      "[npu]\n"
      "event.elapsed_monotonic simulated clock\n"
      "[ opencl ]\n"
      "memory.map_coherent pocl quirk\n"
      "[*]\n"
      "stream.flush every plugin again\n";
  ck_assert_int_eq(parse(&list, text, err), 0);
  ck_assert_uint_eq(list.count, 4);
  ck_assert_ptr_nonnull(cts_xfail_match(&list, "cpu", "abi.no_leaks"));
  ck_assert_ptr_null(cts_xfail_match(&list, "cpu", "event.elapsed_monotonic"));
  ck_assert_ptr_nonnull(
      cts_xfail_match(&list, "npu", "event.elapsed_monotonic"));
  ck_assert_ptr_nonnull(
      cts_xfail_match(&list, "opencl", "memory.map_coherent"));
  ck_assert_ptr_null(cts_xfail_match(&list, "npu", "memory.map_coherent"));
  ck_assert_ptr_nonnull(cts_xfail_match(&list, "cpu", "stream.flush"));
  cts_xfail_free(&list);
}
END_TEST

START_TEST(test_errors_name_file_and_line) {
  cts_xfail_list_t list = {0};
  char err[256] = "";
  ck_assert_int_eq(parse(&list, "ok.test fine\nmemory.copy_bounds\n", err), -1);
  ck_assert_ptr_nonnull(strstr(err, "list.txt:2"));
  ck_assert_ptr_nonnull(strstr(err, "reason"));
  cts_xfail_free(&list);
  ck_assert_int_eq(parse(&list, "[unterminated\n", err), -1);
  ck_assert_ptr_nonnull(strstr(err, "list.txt:1"));
  cts_xfail_free(&list);
  ck_assert_int_eq(parse(&list, "[]\n", err), -1);
  cts_xfail_free(&list);
  char long_name[400];
  memset(long_name, 'a', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = '\0';
  char text[512];
  snprintf(text, sizeof(text), "%s reason\n", long_name);
  ck_assert_int_eq(parse(&list, text, err), -1);
  ck_assert_uint_eq(list.count, 0);
  cts_xfail_free(&list);
}
END_TEST

START_TEST(test_empty_and_no_final_newline) {
  cts_xfail_list_t list = {0};
  char err[256];
  ck_assert_int_eq(parse(&list, "", err), 0);
  ck_assert_uint_eq(list.count, 0);
  ck_assert_int_eq(parse(&list, "# only a comment", err), 0);
  ck_assert_uint_eq(list.count, 0);
  ck_assert_int_eq(parse(&list, "a.b last line", err), 0);
  ck_assert_uint_eq(list.count, 1);
  ck_assert_str_eq(list.entries[0].reason, "last line");
  cts_xfail_free(&list);
}
END_TEST

START_TEST(test_many_entries_grow) {
  cts_xfail_list_t list = {0};
  char err[256];
  char line[64];
  for (int i = 0; i < 100; ++i) {
    snprintf(line, sizeof(line), "suite.test_%d reason %d\n", i, i);
    ck_assert_int_eq(parse(&list, line, err), 0);
  }
  ck_assert_uint_eq(list.count, 100);
  ck_assert_str_eq(list.entries[99].pattern, "suite.test_99");
  ck_assert_ptr_nonnull(cts_xfail_match(&list, "x", "suite.test_42"));
  cts_xfail_free(&list);
}
END_TEST

START_TEST(test_load_file) {
  char path[] = "/tmp/xfail-test-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  const char* text = "[cpu]\nmemory.alloc_at_limit overcommit disabled\n";
  ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
  close(fd);
  cts_xfail_list_t list = {0};
  char err[256];
  ck_assert_int_eq(cts_xfail_load(&list, path, err, sizeof(err)), 0);
  ck_assert_uint_eq(list.count, 1);
  ck_assert_str_eq(list.entries[0].plugin, "cpu");
  ck_assert_str_eq(list.entries[0].file, path);
  unlink(path);
  ck_assert_int_eq(cts_xfail_load(&list, path, err, sizeof(err)), -1);
  ck_assert_ptr_nonnull(strstr(err, "cannot open"));
  cts_xfail_free(&list);
}
END_TEST

int main(void) {
  Suite* s = suite_create("xfail");
  TCase* tc = tcase_create("parse");
  tcase_add_test(tc, test_entries_and_comments);
  tcase_add_test(tc, test_match_exact_and_glob);
  tcase_add_test(tc, test_sections_scope_plugins);
  tcase_add_test(tc, test_errors_name_file_and_line);
  tcase_add_test(tc, test_empty_and_no_final_newline);
  tcase_add_test(tc, test_many_entries_grow);
  tcase_add_test(tc, test_load_file);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
