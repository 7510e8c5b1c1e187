/*
 * report_test.c - the report writers on a synthetic run: escaping of
 * hostile messages (quotes, control bytes, invalid UTF-8), the JSON
 * schema's keys and counts, and JUnit structure.
 */
#define _GNU_SOURCE

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

/* Runs an escaper into memory and returns the text (caller frees). */
static char* escaped(void (*fn)(FILE*, const char*), const char* in) {
  char* buf = NULL;
  size_t size = 0;
  FILE* f = open_memstream(&buf, &size);
  ck_assert_ptr_nonnull(f);
  fn(f, in);
  fclose(f);
  return buf;
}

START_TEST(test_json_escape) {
  char* s = escaped(cts_json_escape, "a\"b\\c\nd\te\x01");
  ck_assert_str_eq(s, "a\\\"b\\\\c\\nd\\te\\u0001");
  free(s);
  s = escaped(cts_json_escape, "caf\xc3\xa9 \xe2\x82\xac");
  ck_assert_str_eq(s, "caf\xc3\xa9 \xe2\x82\xac");
  free(s);
  /* A lone continuation byte, a truncated sequence, an overlong form. */
  s = escaped(cts_json_escape, "x\x80y\xc3z\xc0\xafw");
  ck_assert_str_eq(s, "x?y?z??w");
  free(s);
  s = escaped(cts_json_escape, NULL);
  ck_assert_str_eq(s, "");
  free(s);
}
END_TEST

START_TEST(test_xml_escape) {
  char* s = escaped(cts_xml_escape, "<a href=\"x\">&'</a>\n\x02");
  ck_assert_str_eq(s,
                   "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;&#10;?");
  free(s);
  s = escaped(cts_xml_escape, "\xed\xa0\x80 surrogate");
  ck_assert_str_eq(s, "??? surrogate");
  free(s);
}
END_TEST

/* A run of one plugin with one test of each outcome. */
static void fake_run(cts_plugin_run_t* run, cts_probe_t* probe,
                     cts_planned_t* tests, cts_result_t* results) {
  memset(run, 0, sizeof(*run));
  memset(probe, 0, sizeof(*probe));
  snprintf(probe->name, sizeof(probe->name), "acme");
  snprintf(run->path, sizeof(run->path), "/opt/acme/libxhal_acme.so");
  const char* names[4] = {"passes", "fails \"badly\"", "skips", "xfails"};
  for (int i = 0; i < 4; ++i) {
    memset(&tests[i], 0, sizeof(tests[i]));
    snprintf(tests[i].suite, sizeof(tests[i].suite), "%s",
             i < 2 ? "memory" : "event");
    snprintf(tests[i].name, sizeof(tests[i].name), "%s", names[i]);
    tests[i].requirement = "R-MEM-7";
    memset(&results[i], 0, sizeof(results[i]));
    results[i].outcome = (cts_outcome_t)i;
    results[i].seconds = 0.25;
  }
  snprintf(results[1].message, sizeof(results[1].message),
           "byte 5 is 0x00 <want> 0x5a & \x80 junk");
  snprintf(results[2].message, sizeof(results[2].message),
           "missing: XHAL_CAP_PROFILING");
  run->probe = probe;
  run->tests = tests;
  run->results = results;
  run->test_count = 4;
  run->counts[0] = run->counts[1] = run->counts[2] = run->counts[3] = 1;
  run->core_conformant = 0;
}

static char* slurp(const char* path) {
  FILE* f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

START_TEST(test_json_report) {
  cts_plugin_run_t run;
  cts_probe_t probe;
  cts_planned_t tests[4];
  cts_result_t results[4];
  fake_run(&run, &probe, tests, results);
  char path[] = "/tmp/report-test-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  close(fd);
  ck_assert_int_eq(cts_report_json(path, &run, 1), 0);
  const char* text = slurp(path);
  ck_assert_ptr_nonnull(strstr(text, "{\"plugins\": ["));
  ck_assert_ptr_nonnull(strstr(text, "\"plugin\": \"acme\""));
  ck_assert_ptr_nonnull(
      strstr(text, "\"path\": \"/opt/acme/libxhal_acme.so\""));
  ck_assert_ptr_nonnull(strstr(text,
                               "\"passed\": 1, \"failed\": 1, "
                               "\"skipped\": 1, \"xfailed\": 1"));
  ck_assert_ptr_nonnull(strstr(text, "\"core_conformant\": false"));
  ck_assert_ptr_nonnull(strstr(text, "\"name\": \"fails \\\"badly\\\"\""));
  ck_assert_ptr_nonnull(strstr(text, "\"result\": \"xfail\""));
  ck_assert_ptr_nonnull(strstr(text, "0x00 <want> 0x5a & ? junk"));
  unlink(path);
}
END_TEST

START_TEST(test_junit_report) {
  cts_plugin_run_t run;
  cts_probe_t probe;
  cts_planned_t tests[4];
  cts_result_t results[4];
  fake_run(&run, &probe, tests, results);
  char path[] = "/tmp/report-test-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  close(fd);
  ck_assert_int_eq(cts_report_junit(path, &run, 1), 0);
  const char* text = slurp(path);
  ck_assert_ptr_nonnull(strstr(text, "<?xml version=\"1.0\""));
  ck_assert_ptr_nonnull(strstr(text,
                               "<testsuites name=\"xhal-cts\" tests=\"4\" "
                               "failures=\"1\" errors=\"0\" "
                               "skipped=\"2\""));
  ck_assert_ptr_nonnull(strstr(text,
                               "<testsuite name=\"acme.memory\" "
                               "tests=\"2\" failures=\"1\""));
  ck_assert_ptr_nonnull(strstr(text, "name=\"fails &quot;badly&quot;\""));
  ck_assert_ptr_nonnull(strstr(text,
                               "<failure message=\"byte 5 is 0x00 "
                               "&lt;want&gt; 0x5a &amp; ? junk\""));
  ck_assert_ptr_nonnull(strstr(text,
                               "<skipped message=\"missing: "
                               "XHAL_CAP_PROFILING\"/>"));
  ck_assert_ptr_nonnull(strstr(text, "</testsuites>"));
  unlink(path);
}
END_TEST

START_TEST(test_unwritable_path) {
  cts_plugin_run_t run;
  cts_probe_t probe;
  cts_planned_t tests[4];
  cts_result_t results[4];
  fake_run(&run, &probe, tests, results);
  ck_assert_int_eq(cts_report_json("/nonexistent-dir/x.json", &run, 1), -1);
  ck_assert_int_eq(cts_report_junit("/nonexistent-dir/x.xml", &run, 1), -1);
}
END_TEST

int main(void) {
  Suite* s = suite_create("report");
  TCase* tc = tcase_create("writers");
  tcase_add_test(tc, test_json_escape);
  tcase_add_test(tc, test_xml_escape);
  tcase_add_test(tc, test_json_report);
  tcase_add_test(tc, test_junit_report);
  tcase_add_test(tc, test_unwritable_path);
  suite_add_tcase(s, tc);
  SRunner* sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
