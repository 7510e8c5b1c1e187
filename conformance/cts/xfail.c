/*
 * xfail.c - parses expected-failure lists and matches tests against them
 * (format in xfail.h).
 */
#define _GNU_SOURCE

#include "xfail.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Files larger than this are not expected-failure lists. */
enum { kMaxFileBytes = 1 << 20 };

static int set_err(char* err, size_t err_size, const char* file, uint32_t line,
                   const char* what) {
  if (err && err_size) {
    snprintf(err, err_size, "%s:%u: %s", file, line, what);
  }
  return -1;
}

static const char* skip_space(const char* p, const char* end) {
  /* Every blank but the line's end: a test name ends at any isspace()
   * character, so a leading form feed must not start an empty name. */
  while (p < end && *p != '\n' && isspace((unsigned char)*p)) ++p;
  return p;
}

static const char* trim_end(const char* begin, const char* end) {
  while (end > begin && isspace((unsigned char)end[-1])) --end;
  return end;
}

static cts_xfail_entry_t* append(cts_xfail_list_t* list) {
  if (list->count == list->capacity) {
    uint32_t grown = list->capacity ? list->capacity * 2u : 16u;
    cts_xfail_entry_t* entries =
        realloc(list->entries, grown * sizeof(*entries));
    if (!entries) return NULL;
    list->entries = entries;
    list->capacity = grown;
  }
  cts_xfail_entry_t* e = &list->entries[list->count++];
  memset(e, 0, sizeof(*e));
  return e;
}

/* Copies [begin, end) into dst; -1 if it does not fit. */
static int copy_span(char* dst, size_t size, const char* begin,
                     const char* end) {
  size_t n = (size_t)(end - begin);
  if (n >= size) return -1;
  memcpy(dst, begin, n);
  dst[n] = '\0';
  return 0;
}

static int parse_line(cts_xfail_list_t* list, const char* begin,
                      const char* end, const char* file, uint32_t line,
                      char* section, size_t section_size, char* err,
                      size_t err_size) {
  const char* p = skip_space(begin, end);
  end = trim_end(p, end);
  if (p == end || *p == '#') return 0;
  if (*p == '[') {
    if (end[-1] != ']' || end - p < 3) {
      return set_err(err, err_size, file, line,
                     "a section is written [plugin-name]");
    }
    const char* name = skip_space(p + 1, end - 1);
    const char* name_end = trim_end(name, end - 1);
    if (name == name_end) {
      return set_err(err, err_size, file, line, "empty section name");
    }
    if (name_end - name == 1 && *name == '*') {
      section[0] = '\0';
      return 0;
    }
    if (copy_span(section, section_size, name, name_end) != 0) {
      return set_err(err, err_size, file, line, "section name too long");
    }
    return 0;
  }
  const char* test_end = p;
  while (test_end < end && !isspace((unsigned char)*test_end)) ++test_end;
  const char* reason = skip_space(test_end, end);
  if (reason == end) {
    return set_err(err, err_size, file, line,
                   "an expected failure needs a reason after the test name");
  }
  cts_xfail_entry_t* e = append(list);
  if (!e) return set_err(err, err_size, file, line, "out of memory");
  if (copy_span(e->pattern, sizeof(e->pattern), p, test_end) != 0 ||
      copy_span(e->reason, sizeof(e->reason), reason, end) != 0) {
    list->count--;
    return set_err(err, err_size, file, line, "test name or reason too long");
  }
  snprintf(e->plugin, sizeof(e->plugin), "%s", section);
  snprintf(e->file, sizeof(e->file), "%s", file);
  e->line = line;
  return 0;
}

int cts_xfail_parse(cts_xfail_list_t* list, const char* text, const char* file,
                    char* err, size_t err_size) {
  char section[128] = "";
  uint32_t line = 1;
  const char* p = text;
  while (*p) {
    const char* nl = strchr(p, '\n');
    const char* end = nl ? nl : p + strlen(p);
    if (parse_line(list, p, end, file, line, section, sizeof(section), err,
                   err_size) != 0) {
      return -1;
    }
    if (!nl) break;
    p = nl + 1;
    ++line;
  }
  return 0;
}

int cts_xfail_load(cts_xfail_list_t* list, const char* path, char* err,
                   size_t err_size) {
  FILE* f = fopen(path, "rb");
  if (!f) return set_err(err, err_size, path, 0, "cannot open the file");
  char* text = malloc((size_t)kMaxFileBytes + 1u);
  if (!text) {
    fclose(f);
    return set_err(err, err_size, path, 0, "out of memory");
  }
  size_t n = fread(text, 1, (size_t)kMaxFileBytes + 1u, f);
  int read_error = ferror(f);
  fclose(f);
  if (read_error || n > (size_t)kMaxFileBytes) {
    free(text);
    return set_err(err, err_size, path, 0,
                   read_error ? "read error" : "file larger than 1 MiB");
  }
  text[n] = '\0';
  if (memchr(text, '\0', n)) {
    free(text);
    return set_err(err, err_size, path, 0, "binary file");
  }
  int rc = cts_xfail_parse(list, text, path, err, err_size);
  free(text);
  return rc;
}

const cts_xfail_entry_t* cts_xfail_match(cts_xfail_list_t* list,
                                         const char* plugin, const char* test) {
  for (uint32_t i = 0; i < list->count; ++i) {
    cts_xfail_entry_t* e = &list->entries[i];
    if (e->plugin[0] && strcmp(e->plugin, plugin) != 0) continue;
    if (fnmatch(e->pattern, test, 0) == 0) {
      e->matches++;
      return e;
    }
  }
  return NULL;
}

void cts_xfail_free(cts_xfail_list_t* list) {
  free(list->entries);
  memset(list, 0, sizeof(*list));
}
