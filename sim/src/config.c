/*
 * config.c - the model's figures: defaults, the key = value file format
 * (docs/npu.md, "Config reference") and validation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npusim_internal.h"

/* Defaults describe a small inference NPU: a 128 x 128 array at 1 GHz,
 * 8 MiB of scratchpad (enough for double-buffered 512-wide f32 tiles) and
 * 512 MiB of DRAM, mapped lazily (pages cost memory once written). */
void npusim_config_default(npusim_config_t* c) {
  memset(c, 0, sizeof(*c));
  c->rows = 128;
  c->cols = 128;
  c->dataflow = NPUSIM_DATAFLOW_OS;
  c->clock_mhz = 1000;
  c->dram_bytes = 512ull << 20;
  c->spad_bytes = 8ull << 20;
  c->dma_bytes_per_cycle = 64;
  c->dma_latency_cycles = 100;
  c->vector_lanes = 128;
  c->vector_latency_cycles = 8;
}

static void set_err(char* err, size_t size, const char* msg, unsigned line,
                    const char* key) {
  if (err && size) snprintf(err, size, "line %u: %s: %s", line, msg, key);
}

/* Parses an unsigned decimal or 0x-hex number with an optional K/M/G
 * (binary) suffix. Returns 0 on success. */
static int parse_u64(const char* s, uint64_t* out) {
  char* end = NULL;
  uint64_t mult = 1;
  unsigned long long v;
  if (*s == '-' || *s == '\0') return -1;
  errno = 0;
  v = strtoull(s, &end, 0);
  if (errno != 0 || end == s) return -1;
  if (*end == 'K' || *end == 'k') {
    mult = 1ull << 10;
    end++;
  } else if (*end == 'M' || *end == 'm') {
    mult = 1ull << 20;
    end++;
  } else if (*end == 'G' || *end == 'g') {
    mult = 1ull << 30;
    end++;
  }
  if (*end != '\0') return -1;
  return npusim_mul_ok((uint64_t)v, mult, out) ? 0 : -1;
}

static int parse_u32(const char* s, uint32_t* out) {
  uint64_t v;
  if (parse_u64(s, &v) != 0 || v > UINT32_MAX) return -1;
  *out = (uint32_t)v;
  return 0;
}

static char* trim(char* s) {
  char* e;
  while (*s == ' ' || *s == '\t') s++;
  e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = 0;
  return s;
}

/* Applies one key; returns 0, 1 for an unknown key, -1 for a bad value. */
static int apply_key(npusim_config_t* c, const char* key, const char* value) {
  struct u32_key {
    const char* name;
    uint32_t* field;
  } u32_keys[] = {
      {"array.rows", &c->rows},
      {"array.cols", &c->cols},
      {"clock_mhz", &c->clock_mhz},
      {"dma.bytes_per_cycle", &c->dma_bytes_per_cycle},
      {"dma.latency_cycles", &c->dma_latency_cycles},
      {"vector.lanes", &c->vector_lanes},
      {"vector.latency_cycles", &c->vector_latency_cycles},
  };
  struct u64_key {
    const char* name;
    uint64_t* field;
  } u64_keys[] = {
      {"dram_bytes", &c->dram_bytes},
      {"spad_bytes", &c->spad_bytes},
      {"fault.dma_error_at", &c->fault_dma_error_at},
      {"fault.hang_at", &c->fault_hang_at},
      {"fault.device_lost_at", &c->fault_device_lost_at},
  };
  size_t i;
  if (strcmp(key, "array.dataflow") == 0) {
    if (strcmp(value, "os") == 0) {
      c->dataflow = NPUSIM_DATAFLOW_OS;
    } else if (strcmp(value, "ws") == 0) {
      c->dataflow = NPUSIM_DATAFLOW_WS;
    } else {
      return -1;
    }
    return 0;
  }
  for (i = 0; i < sizeof(u32_keys) / sizeof(u32_keys[0]); ++i) {
    if (strcmp(key, u32_keys[i].name) == 0) {
      return parse_u32(value, u32_keys[i].field);
    }
  }
  for (i = 0; i < sizeof(u64_keys) / sizeof(u64_keys[0]); ++i) {
    if (strcmp(key, u64_keys[i].name) == 0) {
      return parse_u64(value, u64_keys[i].field);
    }
  }
  return 1;
}

int npusim_config_parse(npusim_config_t* config, const char* text,
                        npusim_config_unknown_fn unknown, void* user, char* err,
                        size_t err_size) {
  const char* p = text;
  unsigned line_no = 0;
  if (!config || !text) return NPUSIM_E_INVAL;
  while (*p) {
    char line[512];
    const char* nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char *key, *value, *eq, *hash;
    int rc;
    line_no++;
    if (len >= sizeof(line)) {
      set_err(err, err_size, "line too long", line_no, "");
      return NPUSIM_E_PARSE;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    p = nl ? nl + 1 : p + len;
    hash = strchr(line, '#');
    if (hash) *hash = '\0';
    key = trim(line);
    if (*key == '\0') continue;
    eq = strchr(key, '=');
    if (!eq) {
      set_err(err, err_size, "expected key = value", line_no, key);
      return NPUSIM_E_PARSE;
    }
    *eq = '\0';
    value = trim(eq + 1);
    key = trim(key);
    rc = apply_key(config, key, value);
    if (rc < 0) {
      set_err(err, err_size, "bad value for", line_no, key);
      return NPUSIM_E_PARSE;
    }
    if (rc > 0 && (!unknown || unknown(user, key, value) != 0)) {
      set_err(err, err_size, "unknown key", line_no, key);
      return NPUSIM_E_PARSE;
    }
  }
  return NPUSIM_OK;
}

int npusim_config_load(npusim_config_t* config, const char* path,
                       npusim_config_unknown_fn unknown, void* user, char* err,
                       size_t err_size) {
  FILE* f;
  char* text;
  size_t n;
  int rc;
  /* Config files are small; a cap keeps a wrong path (a device node, a
   * huge file) from eating memory. */
  const size_t cap = 1u << 20;
  if (!config || !path) return NPUSIM_E_INVAL;
  f = fopen(path, "r");
  if (!f) {
    if (err && err_size) snprintf(err, err_size, "cannot open %s", path);
    return NPUSIM_E_IO;
  }
  text = malloc(cap + 1);
  if (!text) {
    fclose(f);
    return NPUSIM_E_NOMEM;
  }
  n = fread(text, 1, cap, f);
  if (ferror(f) || (n == cap && fgetc(f) != EOF)) {
    if (err && err_size) snprintf(err, err_size, "cannot read %s", path);
    fclose(f);
    free(text);
    return NPUSIM_E_IO;
  }
  fclose(f);
  text[n] = '\0';
  rc = npusim_config_parse(config, text, unknown, user, err, err_size);
  free(text);
  return rc;
}

int npusim_config_validate(const npusim_config_t* c, char* err,
                           size_t err_size) {
  const char* why = NULL;
  if (!c) return NPUSIM_E_INVAL;
  if (c->rows == 0 || c->cols == 0 || c->rows > 4096 || c->cols > 4096) {
    why = "array.rows/array.cols must be 1..4096";
  } else if (c->dataflow != NPUSIM_DATAFLOW_OS &&
             c->dataflow != NPUSIM_DATAFLOW_WS) {
    why = "array.dataflow must be os or ws";
  } else if (c->clock_mhz == 0) {
    why = "clock_mhz must be > 0";
  } else if (c->dram_bytes < 4096 || c->dram_bytes > (64ull << 30)) {
    why = "dram_bytes must be 4K..64G";
  } else if (c->spad_bytes < 1024 || c->spad_bytes > (4ull << 30)) {
    why = "spad_bytes must be 1K..4G";
  } else if (c->dma_bytes_per_cycle == 0) {
    why = "dma.bytes_per_cycle must be > 0";
  } else if (c->vector_lanes == 0) {
    why = "vector.lanes must be > 0";
  }
  if (why) {
    if (err && err_size) snprintf(err, err_size, "%s", why);
    return NPUSIM_E_INVAL;
  }
  return NPUSIM_OK;
}
