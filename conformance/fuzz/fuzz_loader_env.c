/*
 * fuzz_loader_env.c - the loader's environment parsing: XHAL_PLUGINS and
 * XHAL_PLUGIN_PATH splitting and XHAL_LOG.
 *
 * The input is up to three NUL-separated fields: XHAL_PLUGINS,
 * XHAL_PLUGIN_PATH and XHAL_LOG. Every absolute entry is moved under a
 * directory that does not exist, so no real file is ever loaded or
 * scanned; libxhal is compiled into this program (see CMakeLists.txt) so
 * its default directories hold no plugins either.
 *
 * Invariants: creation succeeds; no device appears; every record is a
 * rejected plugin whose path is (a prefix of) one of the XHAL_PLUGINS
 * entries; one record per distinct non-empty entry among the first 256,
 * plus one for the first entry past that bound; an entry longer than 4095
 * bytes has a record that says so; a value without an entry (empty, only
 * separators) means unset.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal.h>

#include "fuzz.h"

#define FAKE_ROOT "/nonexistent-xhal-fuzz"

/* Rewrites a colon list so that absolute entries start under FAKE_ROOT. */
static char* confine(const char* field, size_t len) {
  size_t cap = len * (sizeof(FAKE_ROOT) + 1) + sizeof(FAKE_ROOT) + 1;
  char* out = malloc(cap);
  if (!out) return NULL;
  size_t o = 0;
  int at_start = 1;
  for (size_t i = 0; i < len; ++i) {
    if (at_start && field[i] == '/') {
      memcpy(out + o, FAKE_ROOT, sizeof(FAKE_ROOT) - 1);
      o += sizeof(FAKE_ROOT) - 1;
    }
    out[o++] = field[i];
    at_start = field[i] == ':';
  }
  out[o] = '\0';
  return out;
}

/* The loader's bounds (docs/reliability.md). */
#define MAX_LISTED_FILES 256
#define MAX_PATH_BYTES 4095

/* The records the loader makes for an XHAL_PLUGINS value: one per
 * distinct non-empty entry among the first MAX_LISTED_FILES non-empty
 * ones, plus one for the first entry past that bound, if any. Sets
 * *out_any when the list holds a non-empty entry at all. */
static long expected_records(const char* list, int* out_any) {
  const char* starts[MAX_LISTED_FILES];
  size_t lens[MAX_LISTED_FILES];
  long count = 0;
  size_t taken = 0;
  const char* p = list;
  *out_any = 0;
  while (*p) {
    const char* colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    if (len > 0) {
      *out_any = 1;
      if (taken == MAX_LISTED_FILES) return count + 1;
      int seen = 0;
      for (size_t i = 0; i < taken && !seen; ++i) {
        seen = lens[i] == len && memcmp(starts[i], p, len) == 0;
      }
      count += !seen;
      starts[taken] = p;
      lens[taken] = len;
      ++taken;
    }
    if (!colon) break;
    p = colon + 1;
  }
  return count;
}

/* The longest entry of `list` that starts with `prefix` (a record's path,
 * possibly cut short); 0 when none does. */
static size_t longest_entry(const char* list, const char* prefix) {
  size_t plen = strlen(prefix), longest = 0;
  const char* p = list;
  while (*p) {
    const char* colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    if (len >= plen && memcmp(p, prefix, plen) == 0 && len > longest)
      longest = len;
    if (!colon) break;
    p = colon + 1;
  }
  return longest;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const names[3] = {"XHAL_PLUGINS", "XHAL_PLUGIN_PATH",
                                       "XHAL_LOG"};
  char* values[3] = {NULL, NULL, NULL};
  size_t start = 0;
  int field = 0;
  if (size > 16384) return 0;
  unsetenv("XHAL_TRACE");
  unsetenv("XHAL_VALIDATION");
  unsetenv("XHAL_ALLOW_INSECURE_PLUGINS");
  for (size_t i = 0; i <= size && field < 3; ++i) {
    if (i == size || data[i] == 0) {
      const char* text = (const char*)data + start;
      values[field] =
          field < 2 ? confine(text, i - start) : strndup(text, i - start);
      FUZZ_CHECK(values[field], "out of memory");
      ++field;
      start = i + 1;
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (values[i]) {
      setenv(names[i], values[i], 1);
    } else {
      unsetenv(names[i]);
    }
  }

  xhal_instance_t instance = NULL;
  xhal_status_t status = xhal_instance_create(NULL, &instance);
  FUZZ_CHECK(status == XHAL_OK, "create: %s (%s)", xhal_status_name(status),
             xhal_last_error());
  uint32_t devices = 99, plugins = 0;
  FUZZ_CHECK(xhal_instance_device_count(instance, &devices) == XHAL_OK,
             "count");
  FUZZ_CHECK(devices == 0, "%u devices from fake paths", devices);
  FUZZ_CHECK(xhal_instance_plugin_count(instance, &plugins) == XHAL_OK,
             "count");
  const char* list = values[0] ? values[0] : "";
  for (uint32_t i = 0; i < plugins; ++i) {
    xhal_plugin_info_t info;
    memset(&info, 0, sizeof(info));
    info.struct_size = (uint32_t)sizeof(info);
    FUZZ_CHECK(xhal_instance_plugin_info(instance, i, &info) == XHAL_OK,
               "info");
    FUZZ_CHECK(info.state == XHAL_PLUGIN_STATE_REJECTED, "plugin %u loaded", i);
    FUZZ_CHECK(info.status != XHAL_OK && info.reason[0] != '\0',
               "rejected plugin %u without status or reason", i);
    FUZZ_CHECK(memchr(info.path, '\0', sizeof(info.path)) != NULL,
               "unterminated path");
    FUZZ_CHECK(info.path[0] != '\0', "empty entry recorded");
    FUZZ_CHECK(strchr(info.path, ':') == NULL, "entry '%s' not split",
               info.path);
    FUZZ_CHECK(strstr(list, info.path) != NULL,
               "recorded path '%s' is not an XHAL_PLUGINS entry", info.path);
    size_t longest = longest_entry(list, info.path);
    FUZZ_CHECK(longest > 0, "no entry starts with '%s'", info.path);
    if (strstr(info.reason, "longer than the limit")) {
      FUZZ_CHECK(longest > MAX_PATH_BYTES,
                 "entry '%.64s' of at most %zu "
                 "bytes refused as too long",
                 info.path, longest);
    }
    if (strlen(info.path) < sizeof(info.path) - 1 &&
        !strstr(info.reason, "more than 256 files")) {
      /* Not cut short: the record names a whole entry. */
      FUZZ_CHECK(strstr(info.reason, "longer than the limit") == NULL,
                 "entry '%s' refused as too long", info.path);
    }
  }
  int any = 0;
  long expected = expected_records(list, &any);
  if (any) {
    FUZZ_CHECK((long)plugins == expected, "%u records for %ld expected",
               plugins, expected);
  } else {
    /* Unset, empty or only separators: discovery of directories that do
     * not exist, so no record. */
    FUZZ_CHECK(plugins == 0, "%u records without an XHAL_PLUGINS entry",
               plugins);
  }
  xhal_instance_release(instance);
  for (int i = 0; i < 3; ++i) free(values[i]);
  return 0;
}
