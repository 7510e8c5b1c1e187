/*
 * test_stderr.h - captures what libxhal writes to stderr (its log) during
 * a test. Include after defining _GNU_SOURCE (mkstemp).
 */
#ifndef XHAL_HAL_TEST_STDERR_H_
#define XHAL_HAL_TEST_STDERR_H_

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Sends stderr to a fresh file until test_stderr_end; returns the saved
 * descriptor of the real stderr. */
static inline int test_stderr_begin(char* path, size_t path_size) {
  snprintf(path, path_size, "/tmp/xhal-stderr-XXXXXX");
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  fflush(stderr);
  int saved = dup(2);
  ck_assert_int_ge(saved, 0);
  ck_assert_int_ge(dup2(fd, 2), 0);
  close(fd);
  return saved;
}

/* Restores stderr and returns what was written meanwhile (malloc'ed). */
static inline char* test_stderr_end(int saved, const char* path) {
  fflush(stderr);
  ck_assert_int_ge(dup2(saved, 2), 0);
  close(saved);
  FILE* f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  char* text = calloc(1, 65536);
  ck_assert_ptr_nonnull(text);
  size_t n = fread(text, 1, 65535, f);
  text[n] = '\0';
  fclose(f);
  unlink(path);
  return text;
}

#endif /* XHAL_HAL_TEST_STDERR_H_ */
