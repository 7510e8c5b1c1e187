/*
 * report.c - console, JSON and JUnit XML reports of a run.
 *
 * Messages come from plugins (through set_error and libxhal) and may hold
 * anything, so every string is escaped, and bytes that are not valid
 * UTF-8 are replaced: a report that a CI system cannot parse is worse
 * than a '?' in a message.
 */
#include "report.h"

#include <stdio.h>
#include <string.h>

static const char* const kResultNames[] = {"pass", "fail", "skip", "xfail"};

/* ------------------------------------------------------------- escaping */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_length(const unsigned char* s) {
  unsigned char c = s[0];
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  for (size_t i = 1; i < n; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

void cts_json_escape(FILE* out, const char* in) {
  const unsigned char* s = (const unsigned char*)(in ? in : "");
  while (*s) {
    unsigned char c = *s;
    if (c == '"' || c == '\\') {
      fputc('\\', out);
      fputc(c, out);
      ++s;
    } else if (c == '\n') {
      fputs("\\n", out);
      ++s;
    } else if (c == '\t') {
      fputs("\\t", out);
      ++s;
    } else if (c < 0x20 || c == 0x7F) {
      fprintf(out, "\\u%04x", c);
      ++s;
    } else {
      size_t n = utf8_length(s);
      if (n == 0) {
        fputc('?', out);
        ++s;
      } else {
        fwrite(s, 1, n, out);
        s += n;
      }
    }
  }
}

void cts_xml_escape(FILE* out, const char* in) {
  const unsigned char* s = (const unsigned char*)(in ? in : "");
  while (*s) {
    unsigned char c = *s;
    switch (c) {
      case '&':
        fputs("&amp;", out);
        ++s;
        continue;
      case '<':
        fputs("&lt;", out);
        ++s;
        continue;
      case '>':
        fputs("&gt;", out);
        ++s;
        continue;
      case '"':
        fputs("&quot;", out);
        ++s;
        continue;
      case '\'':
        fputs("&apos;", out);
        ++s;
        continue;
      case '\n':
        fputs("&#10;", out);
        ++s;
        continue;
      case '\t':
        fputs("&#9;", out);
        ++s;
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      fputc('?', out);
      ++s;
      continue;
    }
    size_t n = utf8_length(s);
    if (n == 0) {
      fputc('?', out);
      ++s;
    } else {
      fwrite(s, 1, n, out);
      s += n;
    }
  }
}

/* -------------------------------------------------------------- console */

typedef struct suite_row {
  const char* name;
  uint32_t counts[4];
} suite_row_t;

static uint32_t suite_rows(const cts_plugin_run_t* run, suite_row_t* rows,
                           uint32_t max_rows) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < run->test_count; ++i) {
    const char* suite = run->tests[i].suite;
    uint32_t r = 0;
    while (r < n && strcmp(rows[r].name, suite) != 0) ++r;
    if (r == n) {
      if (n == max_rows) continue;
      memset(&rows[n], 0, sizeof(rows[n]));
      rows[n].name = suite;
      ++n;
    }
    rows[r].counts[run->results[i].outcome]++;
  }
  return n;
}

/* The run's name: the plugin's, with "@N" when --device chose devices
 * (a report built by hand may leave the label empty). */
static const char* run_label(const cts_plugin_run_t* run) {
  return run->label[0] ? run->label : run->probe->name;
}

static const char* device_name(const cts_plugin_run_t* run) {
  return run->device < CTS_MAX_DEVICES ? run->probe->props[run->device].name
                                       : "";
}

void cts_report_console(FILE* out, const cts_plugin_run_t* runs,
                        uint32_t count) {
  for (uint32_t p = 0; p < count; ++p) {
    const cts_plugin_run_t* run = &runs[p];
    fprintf(out, "\n== plugin %s %s (%s), device %u (%s)\n", run_label(run),
            run->probe->version, run->path, run->device, device_name(run));
    suite_row_t rows[16];
    uint32_t n = suite_rows(run, rows, 16);
    fprintf(out, "  %-13s %6s %6s %6s %6s\n", "suite", "pass", "fail", "skip",
            "xfail");
    for (uint32_t r = 0; r < n; ++r) {
      fprintf(out, "  %-13s %6u %6u %6u %6u\n", rows[r].name,
              rows[r].counts[CTS_PASS], rows[r].counts[CTS_FAIL],
              rows[r].counts[CTS_SKIP], rows[r].counts[CTS_XFAIL]);
    }
    fprintf(out, "  %-13s %6u %6u %6u %6u\n", "total", run->counts[CTS_PASS],
            run->counts[CTS_FAIL], run->counts[CTS_SKIP],
            run->counts[CTS_XFAIL]);
    for (uint32_t i = 0; i < run->test_count; ++i) {
      const cts_result_t* r = &run->results[i];
      const cts_planned_t* t = &run->tests[i];
      if (r->outcome == CTS_FAIL || r->outcome == CTS_XFAIL || r->xpass) {
        fprintf(out, "  %s %s.%s [%s%s]: %s\n",
                r->xpass                 ? "XPASS"
                : r->outcome == CTS_FAIL ? "FAIL "
                                         : "XFAIL",
                t->suite, t->name, t->requirement,
                t->profile == CTS_PROFILE_CORE ? ", core" : "", r->message);
      }
    }
    /* Skips grouped by what is missing: one line per capability. */
    for (uint32_t i = 0; i < run->test_count; ++i) {
      const cts_result_t* r = &run->results[i];
      if (r->outcome != CTS_SKIP) continue;
      int seen = 0;
      for (uint32_t j = 0; j < i && !seen; ++j) {
        seen = run->results[j].outcome == CTS_SKIP &&
               strcmp(run->results[j].message, r->message) == 0;
      }
      if (seen) continue;
      uint32_t same = 0;
      for (uint32_t j = i; j < run->test_count; ++j) {
        same += run->results[j].outcome == CTS_SKIP &&
                strcmp(run->results[j].message, r->message) == 0;
      }
      fprintf(out, "  skipped %u test%s, %s\n", same, same == 1 ? "" : "s",
              r->message);
    }
    fprintf(out, "  core conformant: %s\n",
            run->core_conformant ? "YES" : "NO");
  }
  fprintf(out, "\n== compliance\n  %-20s %-6s %6s %6s %6s %6s\n", "plugin",
          "core", "pass", "fail", "skip", "xfail");
  for (uint32_t p = 0; p < count; ++p) {
    const cts_plugin_run_t* run = &runs[p];
    fprintf(out, "  %-20s %-6s %6u %6u %6u %6u\n", run_label(run),
            run->core_conformant ? "PASS" : "FAIL", run->counts[CTS_PASS],
            run->counts[CTS_FAIL], run->counts[CTS_SKIP],
            run->counts[CTS_XFAIL]);
  }
}

/* ----------------------------------------------------------------- JSON */

static int finish(FILE* f, const char* path) {
  int bad = ferror(f);
  if (fclose(f) != 0) bad = 1;
  if (bad) {
    fprintf(stderr, "xhal-cts: error writing %s\n", path);
    return -1;
  }
  return 0;
}

int cts_report_json(const char* path, const cts_plugin_run_t* runs,
                    uint32_t count) {
  FILE* f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "xhal-cts: cannot write %s\n", path);
    return -1;
  }
  fputs("{\"plugins\": [", f);
  for (uint32_t p = 0; p < count; ++p) {
    const cts_plugin_run_t* run = &runs[p];
    fputs(p ? ",\n  {" : "\n  {", f);
    fputs("\"plugin\": \"", f);
    cts_json_escape(f, run->probe->name);
    fputs("\", \"path\": \"", f);
    cts_json_escape(f, run->path);
    fprintf(f, "\", \"device\": %u, \"device_name\": \"", run->device);
    cts_json_escape(f, device_name(run));
    fprintf(f,
            "\", \"passed\": %u, \"failed\": %u, \"skipped\": %u, "
            "\"xfailed\": %u, \"core_conformant\": %s,\n   \"tests\": [",
            run->counts[CTS_PASS], run->counts[CTS_FAIL], run->counts[CTS_SKIP],
            run->counts[CTS_XFAIL], run->core_conformant ? "true" : "false");
    for (uint32_t i = 0; i < run->test_count; ++i) {
      const cts_planned_t* t = &run->tests[i];
      const cts_result_t* r = &run->results[i];
      fputs(i ? ",\n    {\"suite\": \"" : "\n    {\"suite\": \"", f);
      cts_json_escape(f, t->suite);
      fputs("\", \"name\": \"", f);
      cts_json_escape(f, t->name);
      fputs("\", \"requirement\": \"", f);
      cts_json_escape(f, t->requirement);
      fprintf(f, "\", \"result\": \"%s\", \"message\": \"",
              kResultNames[r->outcome]);
      cts_json_escape(f, r->message);
      fputs("\"}", f);
    }
    fputs("]}", f);
  }
  fputs("\n]}\n", f);
  return finish(f, path);
}

/* ---------------------------------------------------------------- JUnit */

static double suite_seconds(const cts_plugin_run_t* run, const char* suite) {
  double s = 0;
  for (uint32_t i = 0; i < run->test_count; ++i) {
    if (!suite || strcmp(run->tests[i].suite, suite) == 0)
      s += run->results[i].seconds;
  }
  return s;
}

static void junit_suite(FILE* f, const cts_plugin_run_t* run,
                        const suite_row_t* row) {
  uint32_t tests =
      row->counts[0] + row->counts[1] + row->counts[2] + row->counts[3];
  fputs("  <testsuite name=\"", f);
  cts_xml_escape(f, run_label(run));
  fprintf(f, ".%s\" tests=\"%u\" failures=\"%u\" errors=\"0\" ", row->name,
          tests, row->counts[CTS_FAIL]);
  fprintf(f, "skipped=\"%u\" time=\"%.3f\">\n",
          row->counts[CTS_SKIP] + row->counts[CTS_XFAIL],
          suite_seconds(run, row->name));
  fputs("    <properties>\n      <property name=\"plugin\" value=\"", f);
  cts_xml_escape(f, run->probe->name);
  fputs("\"/>\n      <property name=\"path\" value=\"", f);
  cts_xml_escape(f, run->path);
  fprintf(f, "\"/>\n      <property name=\"device\" value=\"%u", run->device);
  fputs("\"/>\n      <property name=\"device_name\" value=\"", f);
  cts_xml_escape(f, device_name(run));
  fprintf(f,
          "\"/>\n      <property name=\"core_conformant\" value=\"%s\"/>\n"
          "    </properties>\n",
          run->core_conformant ? "true" : "false");
  for (uint32_t i = 0; i < run->test_count; ++i) {
    const cts_planned_t* t = &run->tests[i];
    const cts_result_t* r = &run->results[i];
    if (strcmp(t->suite, row->name) != 0) continue;
    fputs("    <testcase name=\"", f);
    cts_xml_escape(f, t->name);
    fputs("\" classname=\"", f);
    cts_xml_escape(f, run_label(run));
    fprintf(f, ".%s\" time=\"%.3f\">\n", t->suite, r->seconds);
    if (r->outcome == CTS_FAIL) {
      fputs("      <failure message=\"", f);
      cts_xml_escape(f, r->message);
      fputs("\" type=\"", f);
      cts_xml_escape(f, t->requirement);
      fputs("\">", f);
      cts_xml_escape(f, r->message);
      fputs("</failure>\n", f);
    } else if (r->outcome == CTS_SKIP || r->outcome == CTS_XFAIL) {
      /* JUnit has no expected-failure result; CI systems show skipped
       * tests with their message, which says it was expected. */
      fputs("      <skipped message=\"", f);
      cts_xml_escape(f, r->message);
      fputs("\"/>\n", f);
    }
    fputs("      <system-out>requirement ", f);
    cts_xml_escape(f, t->requirement);
    fprintf(f, ", profile %s",
            t->profile == CTS_PROFILE_CORE ? "core" : "optional");
    if (r->xpass) {
      fputs(", ", f);
      cts_xml_escape(f, r->message);
    }
    fputs("</system-out>\n    </testcase>\n", f);
  }
  fputs("  </testsuite>\n", f);
}

int cts_report_junit(const char* path, const cts_plugin_run_t* runs,
                     uint32_t count) {
  FILE* f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "xhal-cts: cannot write %s\n", path);
    return -1;
  }
  uint32_t totals[4] = {0, 0, 0, 0};
  double seconds = 0;
  for (uint32_t p = 0; p < count; ++p) {
    for (int k = 0; k < 4; ++k) totals[k] += runs[p].counts[k];
    seconds += suite_seconds(&runs[p], NULL);
  }
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
  fprintf(f,
          "<testsuites name=\"xhal-cts\" tests=\"%u\" failures=\"%u\" "
          "errors=\"0\" skipped=\"%u\" time=\"%.3f\">\n",
          totals[0] + totals[1] + totals[2] + totals[3], totals[CTS_FAIL],
          totals[CTS_SKIP] + totals[CTS_XFAIL], seconds);
  for (uint32_t p = 0; p < count; ++p) {
    suite_row_t rows[16];
    uint32_t n = suite_rows(&runs[p], rows, 16);
    for (uint32_t r = 0; r < n; ++r) junit_suite(f, &runs[p], &rows[r]);
  }
  fputs("</testsuites>\n", f);
  return finish(f, path);
}
