/*
 * elf_exports.h - the global symbols a shared object defines (R-ABI-1).
 */
#ifndef XHAL_CTS_ELF_EXPORTS_H_
#define XHAL_CTS_ELF_EXPORTS_H_

#include <stddef.h>
#include <stdint.h>

#define CTS_MAX_EXPORTS 64

typedef struct cts_export {
  char name[128];
  uint32_t is_function;
} cts_export_t;

typedef struct cts_exports {
  uint32_t count;
  uint32_t truncated; /* more than CTS_MAX_EXPORTS */
  cts_export_t symbols[CTS_MAX_EXPORTS];
} cts_exports_t;

/* Lists the defined global and weak symbols of default or protected
 * visibility in the file's dynamic symbol table. Returns 0, or -1 with a
 * reason in `err`. */
int cts_elf_exports(const char* path, cts_exports_t* out, char* err,
                    size_t err_size);

#endif /* XHAL_CTS_ELF_EXPORTS_H_ */
