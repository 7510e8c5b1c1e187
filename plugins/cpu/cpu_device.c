/*
 * cpu_device.c - what the CPU device is: its name and vendor from
 * /proc/cpuinfo, memory and core counts from sysconf, and a UUID that is
 * stable across processes for the same processor model.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cpu_internal.h"

#ifndef XHAL_CPU_VERSION
#define XHAL_CPU_VERSION "0.0.0"
#endif

/* Copies the value of a "key : value" line into out (trimmed). */
static void cpuinfo_value(const char* line, char* out, size_t out_size) {
  const char* colon = strchr(line, ':');
  size_t len;
  if (colon == NULL) return;
  colon++;
  while (*colon == ' ' || *colon == '\t') colon++;
  len = strcspn(colon, "\r\n");
  while (len > 0 && (colon[len - 1] == ' ' || colon[len - 1] == '\t')) len--;
  if (len == 0) return;
  if (len >= out_size) len = out_size - 1;
  memcpy(out, colon, len);
  out[len] = '\0';
}

/* 1 if `line` is the key `key` (followed by blanks and a colon). */
static int cpuinfo_is_key(const char* line, const char* key) {
  size_t n = strlen(key);
  if (strncmp(line, key, n) != 0) return 0;
  line += n;
  while (*line == ' ' || *line == '\t') line++;
  return *line == ':';
}

/* Reads the first "model name" and "vendor_id" of /proc/cpuinfo. Lines
 * longer than the buffer (the flags line) arrive in pieces; only pieces
 * that start a line are looked at. */
static void cpuinfo_read(char* model, size_t model_size, char* vendor_id,
                         size_t vendor_size) {
  char line[512];
  int at_line_start = 1;
  FILE* f = fopen("/proc/cpuinfo", "r");
  if (f == NULL) return;
  while (fgets(line, sizeof(line), f) != NULL) {
    int starts_line = at_line_start;
    at_line_start = strchr(line, '\n') != NULL;
    if (!starts_line) continue;
    if (model[0] == '\0' && cpuinfo_is_key(line, "model name"))
      cpuinfo_value(line, model, model_size);
    else if (vendor_id[0] == '\0' && cpuinfo_is_key(line, "vendor_id"))
      cpuinfo_value(line, vendor_id, vendor_size);
    if (model[0] != '\0' && vendor_id[0] != '\0') break;
  }
  fclose(f);
}

static const char* vendor_name(const char* vendor_id) {
  if (strcmp(vendor_id, "GenuineIntel") == 0) return "Intel";
  if (strcmp(vendor_id, "AuthenticAMD") == 0) return "AMD";
  if (strcmp(vendor_id, "HygonGenuine") == 0) return "Hygon";
  if (vendor_id[0] != '\0') return vendor_id;
  return "Unknown";
}

/* FNV-1a over a NUL-separated list of strings, from `basis`. */
static uint64_t fnv1a(uint64_t basis, const char* const* parts, size_t n) {
  uint64_t h = basis;
  size_t i;
  for (i = 0; i < n; ++i) {
    const unsigned char* p = (const unsigned char*)parts[i];
    for (; *p != '\0'; ++p) {
      h ^= *p;
      h *= 1099511628211ull;
    }
    h *= 1099511628211ull; /* a 0 separator byte: xor with 0 is a no-op */
  }
  return h;
}

/* A name-based UUID: the same processor model gives the same UUID in
 * every process, so a framework can key caches or placement on it. The
 * version/variant bits mark it as an RFC 9562 "custom" (version 8) UUID. */
static void make_uuid(const char* model, const char* vendor,
                      uint8_t uuid[XHAL_UUID_SIZE]) {
  const char* parts[3] = {"xhal-cpu", vendor, model};
  uint64_t hi = fnv1a(14695981039346656037ull, parts, 3);
  uint64_t lo = fnv1a(hi ^ 0x9e3779b97f4a7c15ull, parts, 3);
  int i;
  for (i = 0; i < 8; ++i) {
    uuid[i] = (uint8_t)(hi >> (56 - 8 * i));
    uuid[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
  }
  uuid[6] = (uint8_t)((uuid[6] & 0x0Fu) | 0x80u);
  uuid[8] = (uint8_t)((uuid[8] & 0x3Fu) | 0x80u);
}

static void copy_name(char* dst, const char* src) {
  snprintf(dst, XHAL_NAME_MAX, "%s", src);
}

void cpu_device_query(struct xhal_plugin_context* ctx) {
  xhal_device_properties_t* p = &ctx->props;
  char model[XHAL_NAME_MAX] = "";
  char vendor_id[64] = "";
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  uint64_t memory = 0;

  cpuinfo_read(model, sizeof(model), vendor_id, sizeof(vendor_id));
  if (model[0] == '\0') copy_name(model, "Host CPU");

  memset(p, 0, sizeof(*p));
  p->struct_size = (uint32_t)sizeof(*p);
  p->kind = XHAL_DEVICE_KIND_CPU;
  copy_name(p->name, model);
  copy_name(p->vendor, vendor_name(vendor_id));
  copy_name(p->driver_version, "xhal-cpu " XHAL_CPU_VERSION);
  make_uuid(p->name, p->vendor, p->uuid);
  if (pages > 0 && page_size > 0 &&
      __builtin_mul_overflow((uint64_t)pages, (uint64_t)page_size, &memory))
    memory = UINT64_MAX;
  p->memory_bytes = memory;
  /* Half of RAM: one buffer must leave room for the framework and the
   * rest of the process, and the kernel's overcommit would otherwise let
   * an allocation succeed that the first touch then cannot back. */
  p->max_alloc_bytes = memory / 2;
  p->alignment = CPU_BUFFER_ALIGNMENT;
  p->local_memory_bytes = 0;
  p->compute_units = cpus > 0 ? (uint32_t)cpus : 1u;
  p->dtypes = XHAL_DTYPE_BIT(XHAL_DTYPE_F32) | XHAL_DTYPE_BIT(XHAL_DTYPE_F16) |
              XHAL_DTYPE_BIT(XHAL_DTYPE_I8) | XHAL_DTYPE_BIT(XHAL_DTYPE_I32);
  p->capabilities =
      XHAL_CAP_HOST_VISIBLE_MEMORY | XHAL_CAP_PROFILING | XHAL_CAP_HOST_FUNC;
  p->max_work_group_size = 0;
  /* Event stamps are CLOCK_MONOTONIC nanoseconds. */
  p->timer_numerator = 1;
  p->timer_denominator = 1;
}
