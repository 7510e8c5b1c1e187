/*
 * xfail.h - expected-failure lists (docs/conformance.md, "Expected
 * failures").
 *
 * A list file holds one entry per line, `TEST REASON...`: TEST is a full
 * test name (`memory.copy_bounds`) or a glob of them (`kernels.npu.*`,
 * fnmatch syntax), REASON is free text and required. `#` starts a comment
 * line; blank lines are ignored. A `[NAME]` line scopes the entries after
 * it to the plugin whose table name is NAME, until the next `[...]`; `[*]`
 * returns to every plugin. Entries before any section apply to every
 * plugin the file is given for.
 *
 * Not thread-safe; used by the parent process only.
 */
#ifndef XHAL_CTS_XFAIL_H_
#define XHAL_CTS_XFAIL_H_

#include <stddef.h>
#include <stdint.h>

typedef struct cts_xfail_entry {
  char pattern[256];
  char reason[512];
  char plugin[128]; /* "" = every plugin */
  char file[256];
  uint32_t line;
  uint32_t matches; /* tests it matched so far */
} cts_xfail_entry_t;

typedef struct cts_xfail_list {
  cts_xfail_entry_t* entries;
  uint32_t count;
  uint32_t capacity;
} cts_xfail_list_t;

/* Parses `text` (the contents of `file`, used in messages) and appends
 * its entries to `list`. Returns 0, or -1 with a message naming the file
 * and line in `err`. */
int cts_xfail_parse(cts_xfail_list_t* list, const char* text, const char* file,
                    char* err, size_t err_size);

/* Reads and parses a file. Returns 0 or -1 with `err` set. */
int cts_xfail_load(cts_xfail_list_t* list, const char* path, char* err,
                   size_t err_size);

/* The first entry that applies to `plugin` and matches `test` (a full
 * "suite.name"), or NULL. Counts the match. */
const cts_xfail_entry_t* cts_xfail_match(cts_xfail_list_t* list,
                                         const char* plugin, const char* test);

void cts_xfail_free(cts_xfail_list_t* list);

#endif /* XHAL_CTS_XFAIL_H_ */
