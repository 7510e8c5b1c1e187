/*
 * ocl_cache.c - program builds, through an on-disk cache of program
 * binaries.
 *
 * Compiling OpenCL C takes from tens of milliseconds (GPU drivers, which
 * keep caches of their own) to seconds (PoCL). The cache keeps the
 * binary that clGetProgramInfo returns after a successful build, keyed by
 * a 128-bit hash of the platform/device/driver identity, the build
 * options and the sources, so a second process starts fast and a driver
 * update misses the cache instead of loading a stale binary.
 *
 * Location: $XHAL_OPENCL_CACHE_DIR when set (an empty value turns the
 * cache off), else $XDG_CACHE_HOME/xhal/opencl, else ~/.cache/xhal/opencl.
 * Relative paths are ignored (the XDG rule), so the cache never lands in
 * whatever the current directory happens to be.
 *
 * Safety: an entry is written to a temporary file in the same directory
 * and renamed into place, which is atomic, so concurrent writers (threads
 * or processes) never expose a partial file. Each entry carries its key
 * and a checksum of the binary; an entry that fails either check, or that
 * the driver rejects, is deleted and the program is built from source.
 * Sources that include other files (#include, -I) are not cached: their
 * key would not cover the included files.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocl_internal.h"

#define CACHE_MAGIC "XHALOCB1"
/* A cached binary larger than this is treated as corrupt. */
#define CACHE_MAX_BYTES (512ull << 20)

typedef struct cache_header {
  char magic[8];
  uint64_t key[2];
  uint64_t payload_size;
  uint64_t payload_hash;
} cache_header_t;

/* ---------------------------------------------------------------- keys */

/* FNV-1a, 64-bit. */
uint64_t ocl_hash64(uint64_t h, const void* data, size_t n) {
  const uint8_t* p = data;
  size_t i;
  for (i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

typedef struct key_state {
  uint64_t h[2];
} key_state_t;

/* Two FNV-1a lanes with different seeds; each part is length-prefixed so
 * that ("ab", "c") and ("a", "bc") hash differently. */
static void key_add(key_state_t* k, const void* data, size_t n) {
  uint64_t len = n;
  k->h[0] = ocl_hash64(k->h[0], &len, sizeof(len));
  k->h[0] = ocl_hash64(k->h[0], data, n);
  k->h[1] = ocl_hash64(k->h[1], data, n);
  k->h[1] = ocl_hash64(k->h[1], &len, sizeof(len));
  k->h[1] ^= k->h[1] >> 29;
}

void ocl_cache_dir_init(struct xhal_plugin_context* ctx) {
  const char* override = secure_getenv("XHAL_OPENCL_CACHE_DIR");
  const char* base;
  int n = -1;
  ctx->cache_dir[0] = '\0';
  if (override != NULL) {
    if (override[0] == '\0') return; /* explicitly off */
    if (override[0] != '/') {
      ocl_log(ctx, XHAL_LOG_WARN,
              "opencl: XHAL_OPENCL_CACHE_DIR '%s' is not an absolute path; "
              "program cache off",
              override);
      return;
    }
    n = snprintf(ctx->cache_dir, sizeof(ctx->cache_dir), "%s", override);
  } else if ((base = secure_getenv("XDG_CACHE_HOME")) != NULL &&
             base[0] == '/') {
    n = snprintf(ctx->cache_dir, sizeof(ctx->cache_dir), "%s/xhal/opencl",
                 base);
  } else if ((base = secure_getenv("HOME")) != NULL && base[0] == '/') {
    n = snprintf(ctx->cache_dir, sizeof(ctx->cache_dir),
                 "%s/.cache/xhal/opencl", base);
  }
  if (n < 0 || (size_t)n >= sizeof(ctx->cache_dir) - 48)
    ctx->cache_dir[0] = '\0'; /* no room for the entry names */
}

/* ---------------------------------------------------------- file I/O */

/* Creates `dir` and its parents (mode 0700). 0 on success. */
static int mkdir_p(const char* dir) {
  char path[OCL_PATH_MAX];
  size_t i;
  int n = snprintf(path, sizeof(path), "%s", dir);
  if (n < 0 || (size_t)n >= sizeof(path)) return -1;
  for (i = 1; path[i] != '\0'; ++i) {
    if (path[i] != '/') continue;
    path[i] = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST) return -1;
    path[i] = '/';
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST) return -1;
  return 0;
}

static int write_all(int fd, const void* data, size_t n) {
  const uint8_t* p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void* data, size_t n) {
  uint8_t* p = data;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Reads and checks an entry. Returns 1 with the binary in *out (the
 * caller frees it), 0 when there is no entry, -1 when it is corrupt. */
static int cache_read(const char* path, const uint64_t key[2], uint8_t** out,
                      size_t* out_size) {
  cache_header_t h;
  struct stat st;
  uint8_t* payload;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(h) ||
      (uint64_t)st.st_size > CACHE_MAX_BYTES + sizeof(h) ||
      read_all(fd, &h, sizeof(h)) != 0 ||
      memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) != 0 ||
      h.key[0] != key[0] || h.key[1] != key[1] || h.payload_size == 0 ||
      h.payload_size != (uint64_t)st.st_size - sizeof(h)) {
    close(fd);
    return -1;
  }
  payload = malloc((size_t)h.payload_size);
  if (payload == NULL) {
    close(fd);
    return 0; /* not corrupt, just no memory: build from source */
  }
  if (read_all(fd, payload, (size_t)h.payload_size) != 0 ||
      ocl_hash64(0xcbf29ce484222325ull, payload, (size_t)h.payload_size) !=
          h.payload_hash) {
    free(payload);
    close(fd);
    return -1;
  }
  close(fd);
  *out = payload;
  *out_size = (size_t)h.payload_size;
  return 1;
}

/* Writes head + body to `path` through a temporary file renamed into
 * place. 0 on success. */
static int write_atomic(const struct xhal_plugin_context* ctx, const char* path,
                        const void* head, size_t head_size, const void* body,
                        size_t body_size) {
  char tmp[OCL_PATH_MAX];
  int fd;
  int n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
  if (n < 0 || (size_t)n >= sizeof(tmp)) return -1;
  if (mkdir_p(ctx->cache_dir) != 0) {
    ocl_log(ctx, XHAL_LOG_DEBUG, "opencl: cannot create cache dir %s: %s",
            ctx->cache_dir, strerror(errno));
    return -1;
  }
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) return -1;
  if (write_all(fd, head, head_size) != 0 ||
      write_all(fd, body, body_size) != 0 || close(fd) != 0) {
    unlink(tmp);
    return -1;
  }
  if (rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

static void cache_write(const struct xhal_plugin_context* ctx, const char* path,
                        const uint64_t key[2], const uint8_t* payload,
                        size_t size) {
  cache_header_t h;
  memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));
  h.key[0] = key[0];
  h.key[1] = key[1];
  h.payload_size = size;
  h.payload_hash = ocl_hash64(0xcbf29ce484222325ull, payload, size);
  write_atomic(ctx, path, &h, sizeof(h), payload, size);
}

static int entry_path(const struct xhal_plugin_context* ctx, const char* name,
                      char* path, size_t cap) {
  int n;
  if (ctx->cache_dir[0] == '\0' || strchr(name, '/') != NULL) return -1;
  n = snprintf(path, cap, "%s/%s", ctx->cache_dir, name);
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int ocl_cache_read_text(const struct xhal_plugin_context* ctx, const char* name,
                        char* buf, size_t cap) {
  char path[OCL_PATH_MAX];
  ssize_t r;
  int fd;
  if (cap == 0 || entry_path(ctx, name, path, sizeof(path)) != 0) return -1;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  r = read(fd, buf, cap - 1);
  close(fd);
  if (r < 0) return -1;
  buf[r] = '\0';
  return 0;
}

int ocl_cache_write_text(const struct xhal_plugin_context* ctx,
                         const char* name, const char* text) {
  char path[OCL_PATH_MAX];
  if (entry_path(ctx, name, path, sizeof(path)) != 0) return -1;
  return write_atomic(ctx, path, text, strlen(text), "", 0);
}

/* ---------------------------------------------------------- binaries */

/* The device binary of a built program (caller frees), or NULL. */
static uint8_t* program_binary(cl_program program, size_t* out_size) {
  size_t size = 0;
  uint8_t* bin;
  unsigned char* bins[1];
  cl_uint devices = 0;
  if (clGetProgramInfo(program, CL_PROGRAM_NUM_DEVICES, sizeof(devices),
                       &devices, NULL) != CL_SUCCESS ||
      devices != 1)
    return NULL;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size,
                       NULL) != CL_SUCCESS ||
      size == 0 || size > CACHE_MAX_BYTES)
    return NULL;
  bin = malloc(size);
  if (bin == NULL) return NULL;
  bins[0] = bin;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(bins), bins,
                       NULL) != CL_SUCCESS) {
    free(bin);
    return NULL;
  }
  *out_size = size;
  return bin;
}

static cl_program build_from_binary(struct xhal_plugin_device* dev,
                                    const uint8_t* bin, size_t size,
                                    const char* options) {
  cl_int err = CL_SUCCESS;
  cl_int bin_status = CL_SUCCESS;
  const unsigned char* bins[1] = {bin};
  cl_program p = clCreateProgramWithBinary(dev->context, 1, &dev->info->id,
                                           &size, bins, &bin_status, &err);
  if (p == NULL || err != CL_SUCCESS || bin_status != CL_SUCCESS) {
    if (p != NULL) clReleaseProgram(p);
    return NULL;
  }
  if (clBuildProgram(p, 1, &dev->info->id, options, NULL, NULL) != CL_SUCCESS) {
    clReleaseProgram(p);
    return NULL;
  }
  return p;
}

/* ------------------------------------------------------------- builds */

static void copy_build_log(struct xhal_plugin_device* dev, cl_program p,
                           char* log, uint64_t cap, char* first_line,
                           size_t first_cap) {
  size_t size = 0;
  char* text;
  size_t i;
  first_line[0] = '\0';
  if (clGetProgramBuildInfo(p, dev->info->id, CL_PROGRAM_BUILD_LOG, 0, NULL,
                            &size) != CL_SUCCESS ||
      size == 0)
    return;
  text = calloc(1, size + 1);
  if (text == NULL) return;
  if (clGetProgramBuildInfo(p, dev->info->id, CL_PROGRAM_BUILD_LOG, size, text,
                            NULL) == CL_SUCCESS) {
    if (log != NULL && cap > 0) {
      size_t n = strlen(text);
      if ((uint64_t)n >= cap) n = (size_t)(cap - 1);
      memcpy(log, text, n);
      log[n] = '\0';
    }
    /* The first non-empty line names the first error. */
    for (i = 0; text[i] == '\n' || text[i] == ' '; ++i) {
    }
    snprintf(first_line, first_cap, "%s", text + i);
    first_line[strcspn(first_line, "\n")] = '\0';
  }
  free(text);
}

static int cacheable(const char* const* sources, const size_t* lengths,
                     uint32_t count, const char* options) {
  uint32_t i;
  if (options != NULL && strstr(options, "-I") != NULL) return 0;
  for (i = 0; i < count; ++i) {
    const char* s = sources[i];
    size_t n = lengths != NULL && lengths[i] ? lengths[i] : strlen(s);
    if (memmem(s, n, "#include", 8) != NULL) return 0;
  }
  return 1;
}

xhal_status_t ocl_build_program(struct xhal_plugin_device* dev,
                                const char* const* sources,
                                const size_t* lengths, uint32_t count,
                                const char* options, char* log,
                                uint64_t log_capacity, cl_program* out) {
  const struct xhal_plugin_context* ctx = dev->ctx;
  char path[OCL_PATH_MAX];
  uint64_t key[2] = {0, 0};
  int use_cache =
      ctx->cache_dir[0] != '\0' && cacheable(sources, lengths, count, options);
  cl_program p;
  cl_int err = CL_SUCCESS;
  uint32_t i;
  *out = NULL;
  if (log != NULL && log_capacity > 0) log[0] = '\0';
  if (use_cache) {
    key_state_t k = {{0xcbf29ce484222325ull, 0x6c62272e07bb0142ull}};
    uint8_t* bin = NULL;
    size_t size = 0;
    int found;
    int n;
    key_add(&k, "xhal-opencl-cache-1", 19);
    key_add(&k, dev->info->identity, strlen(dev->info->identity));
    key_add(&k, options != NULL ? options : "", options ? strlen(options) : 0);
    for (i = 0; i < count; ++i)
      key_add(&k, sources[i],
              lengths != NULL && lengths[i] ? lengths[i] : strlen(sources[i]));
    key[0] = k.h[0];
    key[1] = k.h[1];
    n = snprintf(path, sizeof(path), "%s/%016llx%016llx.bin", ctx->cache_dir,
                 (unsigned long long)key[0], (unsigned long long)key[1]);
    if (n < 0 || (size_t)n >= sizeof(path)) use_cache = 0;
    found = use_cache ? cache_read(path, key, &bin, &size) : 0;
    if (found == 1) {
      p = build_from_binary(dev, bin, size, options);
      free(bin);
      if (p != NULL) {
        *out = p;
        return XHAL_OK;
      }
      found = -1; /* the driver rejected it */
    }
    if (found == -1) {
      ocl_log(ctx, XHAL_LOG_DEBUG, "opencl: dropping unusable cache entry %s",
              path);
      unlink(path);
    }
  }

  p = clCreateProgramWithSource(dev->context, count, (const char**)sources,
                                lengths, &err);
  if (p == NULL || err != CL_SUCCESS)
    return ocl_cl_error(ctx, err, "clCreateProgramWithSource");
  err = clBuildProgram(p, 1, &dev->info->id, options, NULL, NULL);
  if (err != CL_SUCCESS) {
    char first[200];
    xhal_status_t status = ocl_cl_status(err);
    copy_build_log(dev, p, log, log_capacity, first, sizeof(first));
    clReleaseProgram(p);
    if (err == CL_BUILD_PROGRAM_FAILURE || err == CL_INVALID_BUILD_OPTIONS ||
        err == CL_COMPILE_PROGRAM_FAILURE)
      status = XHAL_ERROR_BUILD_FAILED;
    return ocl_error(ctx, status, "opencl: clBuildProgram failed: %s%s%s",
                     ocl_cl_error_name(err), first[0] ? ": " : "", first);
  }
  if (use_cache) {
    size_t size = 0;
    uint8_t* bin = program_binary(p, &size);
    if (bin != NULL) {
      cache_write(ctx, path, key, bin, size);
      free(bin);
    }
  }
  *out = p;
  return XHAL_OK;
}
