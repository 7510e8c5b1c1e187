/*
 * elf_exports.c - the global symbols a shared object defines, read from
 * its ELF dynamic symbol table (what `nm -D --defined-only` prints).
 *
 * Reading the file, rather than probing with dlsym, sees every exported
 * name, including ones nobody thought to ask about. Only native ELF
 * files (this host's class and byte order) are read: a plugin of another
 * architecture cannot be loaded here anyway.
 */
#define _POSIX_C_SOURCE 200809L

#include "elf_exports.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
typedef Elf64_Ehdr ehdr_t;
typedef Elf64_Shdr shdr_t;
typedef Elf64_Sym sym_t;
#define ELF_CLASS ELFCLASS64
#define SYM_BIND ELF64_ST_BIND
#define SYM_TYPE ELF64_ST_TYPE
#define SYM_VIS ELF64_ST_VISIBILITY
#else
typedef Elf32_Ehdr ehdr_t;
typedef Elf32_Shdr shdr_t;
typedef Elf32_Sym sym_t;
#define ELF_CLASS ELFCLASS32
#define SYM_BIND ELF32_ST_BIND
#define SYM_TYPE ELF32_ST_TYPE
#define SYM_VIS ELF32_ST_VISIBILITY
#endif

/* Files larger than this are not plugins worth reading whole. */
enum { kMaxFileBytes = 512 << 20 };

static int set_err(char* err, size_t err_size, const char* what) {
  snprintf(err, err_size, "%s", what);
  return -1;
}

/* 1 if [off, off + size) lies inside a file of `file_size` bytes. */
static int inside(uint64_t off, uint64_t size, uint64_t file_size) {
  uint64_t end;
  return !__builtin_add_overflow(off, size, &end) && end <= file_size;
}

static unsigned char* read_file(const char* path, uint64_t* out_size, char* err,
                                size_t err_size) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    set_err(err, err_size, "cannot open the file");
    return NULL;
  }
  unsigned char* data = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size <= 0 || size > kMaxFileBytes || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    set_err(err, err_size, "cannot size the file, or it is empty or huge");
    return NULL;
  }
  data = malloc((size_t)size);
  if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
    free(data);
    fclose(f);
    set_err(err, err_size, "cannot read the file");
    return NULL;
  }
  fclose(f);
  *out_size = (uint64_t)size;
  return data;
}

static int add_name(cts_exports_t* out, const char* name, size_t len,
                    uint32_t is_function) {
  if (out->count == CTS_MAX_EXPORTS) {
    out->truncated = 1;
    return 0;
  }
  cts_export_t* e = &out->symbols[out->count++];
  if (len >= sizeof(e->name)) len = sizeof(e->name) - 1;
  memcpy(e->name, name, len);
  e->name[len] = '\0';
  e->is_function = is_function;
  return 0;
}

static int scan_dynsym(const unsigned char* data, uint64_t size,
                       const shdr_t* sym_sh, const shdr_t* str_sh,
                       cts_exports_t* out, char* err, size_t err_size) {
  if (sym_sh->sh_entsize != sizeof(sym_t) ||
      !inside(sym_sh->sh_offset, sym_sh->sh_size, size) ||
      !inside(str_sh->sh_offset, str_sh->sh_size, size)) {
    return set_err(err, err_size, "malformed dynamic symbol table");
  }
  const char* strtab = (const char*)data + str_sh->sh_offset;
  uint64_t strtab_size = str_sh->sh_size;
  uint64_t count = sym_sh->sh_size / sizeof(sym_t);
  for (uint64_t i = 1; i < count; ++i) {
    sym_t sym;
    memcpy(&sym, data + sym_sh->sh_offset + i * sizeof(sym_t), sizeof(sym));
    if (sym.st_shndx == SHN_UNDEF) continue; /* imported, not defined */
    unsigned bind = SYM_BIND(sym.st_info);
    if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
      continue;
    if (SYM_VIS(sym.st_other) != STV_DEFAULT &&
        SYM_VIS(sym.st_other) != STV_PROTECTED)
      continue;
    if (sym.st_name >= strtab_size) {
      return set_err(err, err_size, "symbol name outside the string table");
    }
    const char* name = strtab + sym.st_name;
    size_t len = strnlen(name, (size_t)(strtab_size - sym.st_name));
    add_name(out, name, len, SYM_TYPE(sym.st_info) == STT_FUNC);
  }
  return 0;
}

int cts_elf_exports(const char* path, cts_exports_t* out, char* err,
                    size_t err_size) {
  memset(out, 0, sizeof(*out));
  uint64_t size = 0;
  unsigned char* data = read_file(path, &size, err, err_size);
  if (!data) return -1;
  int rc = -1;
  ehdr_t eh;
  if (size < sizeof(eh)) {
    set_err(err, err_size, "not an ELF file (too short)");
    goto done;
  }
  memcpy(&eh, data, sizeof(eh));
  const unsigned char native_order =
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      ELFDATA2LSB;
#else
      ELFDATA2MSB;
#endif
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    set_err(err, err_size, "not an ELF file");
    goto done;
  }
  if (eh.e_ident[EI_CLASS] != ELF_CLASS ||
      eh.e_ident[EI_DATA] != native_order) {
    set_err(err, err_size, "ELF class or byte order of another machine");
    goto done;
  }
  if (eh.e_type != ET_DYN) {
    set_err(err, err_size, "not a shared object (ELF type is not ET_DYN)");
    goto done;
  }
  if (eh.e_shentsize != sizeof(shdr_t) ||
      !inside(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(shdr_t), size)) {
    set_err(err, err_size, "malformed section header table");
    goto done;
  }
  int found = 0;
  for (uint32_t i = 0; i < eh.e_shnum; ++i) {
    shdr_t sh;
    memcpy(&sh, data + eh.e_shoff + (uint64_t)i * sizeof(shdr_t), sizeof(sh));
    if (sh.sh_type != SHT_DYNSYM) continue;
    if (sh.sh_link >= eh.e_shnum) {
      set_err(err, err_size, "dynamic symbol table links no string table");
      goto done;
    }
    shdr_t str;
    memcpy(&str, data + eh.e_shoff + (uint64_t)sh.sh_link * sizeof(shdr_t),
           sizeof(str));
    if (scan_dynsym(data, size, &sh, &str, out, err, err_size) != 0) goto done;
    found = 1;
  }
  if (!found) {
    set_err(err, err_size, "no dynamic symbol table");
    goto done;
  }
  rc = 0;
done:
  free(data);
  return rc;
}
