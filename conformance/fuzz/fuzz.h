/*
 * fuzz.h - the entry point every harness defines (libFuzzer's), and the
 * check that turns a broken invariant into a crash the fuzzer records.
 */
#ifndef XHAL_FUZZ_H_
#define XHAL_FUZZ_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

/* An invariant the code under test must keep: abort (a finding) if not. */
#define FUZZ_CHECK(cond, ...)                                              \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, \
              #cond);                                                      \
      fprintf(stderr, __VA_ARGS__);                                        \
      fputc('\n', stderr);                                                 \
      abort();                                                             \
    }                                                                      \
  } while (0)

#endif /* XHAL_FUZZ_H_ */
