/*
 * fuzz_xfail.c - the xhal-cts expected-failure list parser.
 *
 * The input is the text of a list file. Invariants: the parser returns 0
 * or -1; on -1 the message names the file and a line; on 0 every entry
 * has a non-empty pattern without blanks, a non-empty reason, a line
 * inside the text and NUL-terminated fields, and matching never crashes.
 */
#include <string.h>

#include "../cts/xfail.h"
#include "fuzz.h"

#define FILE_NAME "fuzz.txt"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const tests[] = {"memory.copy_bounds", "kernels.npu.gemm",
                                      "", "a", "stream.order*"};
  static const char* const plugins[] = {"cpu", "npu", "", "*"};
  if (size > 65536) return 0;
  char* text = malloc(size + 1);
  FUZZ_CHECK(text, "out of memory");
  memcpy(text, data, size);
  text[size] = '\0';
  uint32_t lines = 1;
  for (const char* p = text; *p; ++p) lines += *p == '\n';

  cts_xfail_list_t list;
  memset(&list, 0, sizeof(list));
  char err[256];
  err[0] = '\0';
  int rc = cts_xfail_parse(&list, text, FILE_NAME, err, sizeof(err));
  FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
  if (rc != 0) {
    FUZZ_CHECK(strncmp(err, FILE_NAME ":", sizeof(FILE_NAME)) == 0,
               "message '%s' does not name the file", err);
  }
  for (uint32_t i = 0; i < list.count; ++i) {
    const cts_xfail_entry_t* e = &list.entries[i];
    FUZZ_CHECK(memchr(e->pattern, '\0', sizeof(e->pattern)) &&
                   memchr(e->reason, '\0', sizeof(e->reason)) &&
                   memchr(e->plugin, '\0', sizeof(e->plugin)),
               "unterminated field in entry %u", i);
    FUZZ_CHECK(e->pattern[0] != '\0' && e->reason[0] != '\0',
               "entry %u without pattern or reason", i);
    FUZZ_CHECK(strpbrk(e->pattern, " \t\n") == NULL,
               "pattern '%s' holds a blank", e->pattern);
    FUZZ_CHECK(e->line >= 1 && e->line <= lines, "line %u of %u", e->line,
               lines);
    FUZZ_CHECK(strcmp(e->file, FILE_NAME) == 0, "file '%s'", e->file);
  }
  for (size_t p = 0; p < sizeof(plugins) / sizeof(plugins[0]); ++p) {
    for (size_t t = 0; t < sizeof(tests) / sizeof(tests[0]); ++t) {
      const cts_xfail_entry_t* e = cts_xfail_match(&list, plugins[p], tests[t]);
      FUZZ_CHECK(!e || (e >= list.entries && e < list.entries + list.count),
                 "match outside the list");
    }
  }
  cts_xfail_free(&list);
  free(text);
  return 0;
}
