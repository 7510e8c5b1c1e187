/*
 * cu_program.c - custom kernels in CUDA C (XHAL_CAP_KERNEL_LANG_CUDA_C):
 * NVRTC compiles the source to a cubin for the device's architecture
 * (with a disk cache keyed by source, options, architecture and NVRTC
 * version), the driver loads it as a module, and launches take their
 * arguments with them.
 *
 * Launch mapping: xhal's global size counts threads, as in OpenCL, and
 * is rounded up to whole blocks of `local_size` threads (a kernel checks
 * its bounds); local size 0 lets the plugin choose the block. Buffer
 * arguments arrive as device pointers to the start of their range,
 * scalars by value, and XHAL_KERNEL_ARG_LOCAL sizes add up to the
 * launch's dynamic shared memory (`extern __shared__`), so they take no
 * parameter slot.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cu_internal.h"

enum { kMaxArgs = 64, kMaxArgBytes = 4096, kMaxOptions = 32 };

/* ------------------------------------------------------------ cache */

static uint64_t hash64(uint64_t h, const void* data, size_t n) {
  const uint8_t* p = data;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

static int mkdirs(const char* path) {
  char tmp[1024];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(tmp)) return -1;
  memcpy(tmp, path, n + 1);
  for (size_t i = 1; i < n; ++i) {
    if (tmp[i] != '/') continue;
    tmp[i] = '\0';
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
    tmp[i] = '/';
  }
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
  return 0;
}

static void* cache_read(const char* path, size_t* out_size) {
  FILE* f = fopen(path, "rb");
  void* data = NULL;
  long n;
  if (f == NULL) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
      fseek(f, 0, SEEK_SET) == 0) {
    data = malloc((size_t)n);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
      free(data);
      data = NULL;
    }
    *out_size = (size_t)n;
  }
  fclose(f);
  return data;
}

/* Written to a temporary name and renamed, so readers never see half. */
static void cache_write(const char* dir, const char* path, const void* data,
                        size_t size) {
  char tmp[1200];
  FILE* f;
  if (mkdirs(dir) != 0) return;
  snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
  f = fopen(tmp, "wb");
  if (f == NULL) return;
  if (fwrite(data, 1, size, f) != size) {
    fclose(f);
    unlink(tmp);
    return;
  }
  if (fclose(f) != 0 || rename(tmp, path) != 0) unlink(tmp);
}

/* ------------------------------------------------------------ compile */

static void log_copy(char* log, uint64_t cap, const char* text) {
  if (log == NULL || cap == 0) return;
  snprintf(log, (size_t)(cap > 1u << 30 ? 1u << 30 : cap), "%s", text);
}

xhal_status_t cu_compile(struct xhal_plugin_device* dev, const char* source,
                         uint64_t source_size, const char* options, char* log,
                         uint64_t log_capacity, void** out_image) {
  struct xhal_plugin_context* ctx = dev->ctx;
  const cu_nvrtc_t* nv = NULL;
  char arch[64];
  char opt_copy[1024];
  const char* opts[kMaxOptions + 1];
  int nopts = 0;
  char path[1200];
  char* src = NULL;
  void* prog = NULL;
  void* image = NULL;
  size_t size = 0;
  int vmaj = 0, vmin = 0;
  int r;
  xhal_status_t status = cu_nvrtc_get(ctx, &nv);
  *out_image = NULL;
  if (status != XHAL_OK) return status;
  snprintf(arch, sizeof(arch), "--gpu-architecture=sm_%d%d",
           dev->info->cc_major, dev->info->cc_minor);
  opts[nopts++] = arch;
  if (options && options[0]) {
    char* save = NULL;
    if (strlen(options) >= sizeof(opt_copy))
      return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "cuda: program_build: options longer than %zu bytes",
                      sizeof(opt_copy) - 1);
    snprintf(opt_copy, sizeof(opt_copy), "%s", options);
    for (char* t = strtok_r(opt_copy, " \t\n", &save); t;
         t = strtok_r(NULL, " \t\n", &save)) {
      if (nopts == kMaxOptions)
        return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "cuda: program_build: more than %d options",
                        kMaxOptions - 1);
      opts[nopts++] = t;
    }
  }
  nv->Version(&vmaj, &vmin);
  path[0] = '\0';
  if (ctx->cache_dir[0]) {
    uint64_t h = 1469598103934665603ull;
    h = hash64(h, source, (size_t)source_size);
    for (int i = 0; i < nopts; ++i) h = hash64(h, opts[i], strlen(opts[i]) + 1);
    h = hash64(h, &vmaj, sizeof(vmaj));
    h = hash64(h, &vmin, sizeof(vmin));
    snprintf(path, sizeof(path), "%s/%016llx.cubin", ctx->cache_dir,
             (unsigned long long)h);
    image = cache_read(path, &size);
    if (image) {
      log_copy(log, log_capacity, "");
      *out_image = image;
      return XHAL_OK;
    }
  }
  src = malloc((size_t)source_size + 1);
  if (src == NULL)
    return cu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "cuda: program_build: out of memory");
  memcpy(src, source, (size_t)source_size);
  src[source_size] = '\0';
  r = nv->CreateProgram(&prog, src, "xhal.cu", 0, NULL, NULL);
  if (r != 0) {
    status =
        cu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                 "cuda: nvrtcCreateProgram failed: %s", nv->GetErrorString(r));
    goto done;
  }
  r = nv->CompileProgram(prog, nopts, opts);
  {
    size_t n = 0;
    if (nv->GetProgramLogSize(prog, &n) == 0 && n > 0) {
      char* text = malloc(n + 1);
      if (text && nv->GetProgramLog(prog, text) == 0) {
        text[n] = '\0';
        log_copy(log, log_capacity, text);
      }
      free(text);
    }
  }
  if (r != 0) {
    if (log && log_capacity && log[0] == '\0')
      log_copy(log, log_capacity, nv->GetErrorString(r));
    status = cu_error(ctx, XHAL_ERROR_BUILD_FAILED,
                      "cuda: program_build: NVRTC: %s (see the build log)",
                      nv->GetErrorString(r));
    goto done;
  }
  if (nv->GetCUBINSize(prog, &size) != 0 || size == 0 ||
      (image = malloc(size)) == NULL || nv->GetCUBIN(prog, image) != 0) {
    status = cu_error(ctx, XHAL_ERROR_INTERNAL,
                      "cuda: program_build: NVRTC produced no cubin");
    goto done;
  }
  if (path[0]) cache_write(ctx->cache_dir, path, image, size);
  *out_image = image;
  image = NULL;
done:
  free(image);
  if (prog) nv->DestroyProgram(&prog);
  free(src);
  return status;
}

/* ------------------------------------------------------------ programs */

xhal_status_t cu_program_build(xhal_plugin_device_t dev,
                               const xhal_plugin_program_desc_t* desc,
                               xhal_plugin_program_t* out) {
  struct xhal_plugin_program* p;
  void* image = NULL;
  xhal_status_t status;
  CUresult r;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (desc == NULL || out == NULL)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: program_build: desc or out_program is NULL");
  *out = NULL;
  if (desc->source == NULL)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: program_build: source is NULL");
  if (desc->language != XHAL_KERNEL_LANGUAGE_CUDA_C)
    return cu_error(dev->ctx, XHAL_ERROR_UNSUPPORTED,
                    "cuda: program_build: language %u (the plugin builds "
                    "CUDA C only)",
                    desc->language);
  if (!(dev->info->props.capabilities & XHAL_CAP_KERNEL_LANG_CUDA_C))
    return cu_error(dev->ctx, XHAL_ERROR_UNSUPPORTED,
                    "cuda: program_build: NVRTC is not installed");
  status = cu_use(dev);
  if (status != XHAL_OK) return status;
  status = cu_compile(
      dev, desc->source,
      desc->source_size ? desc->source_size : (uint64_t)strlen(desc->source),
      desc->options, desc->log, desc->log_capacity, &image);
  if (status != XHAL_OK) return status;
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    free(image);
    return cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "cuda: program_build: out of memory");
  }
  r = dev->ctx->cu.ModuleLoadData(&p->module, image);
  free(image);
  if (r != CUDA_SUCCESS) {
    free(p);
    return cu_check(dev->ctx, r, "cuModuleLoadData");
  }
  p->dev = dev;
  atomic_init(&p->refs, 1);
  *out = p;
  return XHAL_OK;
}

static void program_unref(struct xhal_plugin_program* p) {
  if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
  if (cu_use(p->dev) == XHAL_OK) p->dev->ctx->cu.ModuleUnload(p->module);
  free(p);
}

void cu_program_destroy(xhal_plugin_program_t p) {
  if (p) program_unref(p);
}

xhal_status_t cu_kernel_create(xhal_plugin_program_t p, const char* name,
                               xhal_plugin_kernel_t* out) {
  struct xhal_plugin_kernel* k;
  CUfunction fn = NULL;
  CUresult r;
  xhal_status_t status;
  if (p == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (name == NULL || out == NULL)
    return cu_error(p->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: kernel_create: name or out_kernel is NULL");
  *out = NULL;
  status = cu_use(p->dev);
  if (status != XHAL_OK) return status;
  r = p->dev->ctx->cu.ModuleGetFunction(&fn, p->module, name);
  if (r == CUDA_ERROR_NOT_FOUND)
    return cu_error(p->dev->ctx, XHAL_ERROR_NOT_FOUND,
                    "cuda: kernel_create: no kernel '%s' in the program "
                    "(declare kernels extern \"C\")",
                    name);
  if (r != CUDA_SUCCESS) return cu_check(p->dev->ctx, r, "cuModuleGetFunction");
  k = calloc(1, sizeof(*k));
  if (k == NULL)
    return cu_error(p->dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "cuda: kernel_create: out of memory");
  k->dev = p->dev;
  k->program = p;
  k->fn = fn;
  if (p->dev->ctx->cu.FuncGetAttribute(&k->max_threads,
                                       CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                                       fn) != CUDA_SUCCESS)
    k->max_threads = 256;
  atomic_init(&k->refs, 1);
  atomic_fetch_add(&p->refs, 1);
  *out = k;
  return XHAL_OK;
}

void cu_kernel_unref(struct xhal_plugin_kernel* k) {
  if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1) return;
  program_unref(k->program);
  free(k);
}

void cu_kernel_destroy(xhal_plugin_kernel_t k) {
  if (k) cu_kernel_unref(k);
}

/* ------------------------------------------------------------ launches */

static uint32_t min_u64(uint64_t a, uint64_t b) {
  return (uint32_t)(a < b ? a : b);
}

/* Block shape when the caller leaves it to the device. */
static void choose_block(const xhal_launch_t* l, int max_threads,
                         uint32_t block[3]) {
  uint32_t cap = max_threads > 0 ? (uint32_t)max_threads : 256;
  block[0] = block[1] = block[2] = 1;
  if (l->work_dim == 1) {
    block[0] = min_u64(l->global_size[0], cap < 256 ? cap : 256);
  } else if (l->work_dim == 2) {
    block[0] = min_u64(l->global_size[0], 32);
    block[1] = min_u64(l->global_size[1], (cap < 256 ? cap : 256) / block[0]);
  } else {
    block[0] = min_u64(l->global_size[0], 16);
    block[1] = min_u64(l->global_size[1], 8);
    block[2] = min_u64(l->global_size[2],
                       (cap < 256 ? cap : 256) / (block[0] * block[1]));
  }
  for (int d = 0; d < 3; ++d)
    if (block[d] == 0) block[d] = 1;
}

xhal_status_t cu_enqueue_kernel(xhal_plugin_stream_t s, xhal_plugin_kernel_t k,
                                const xhal_launch_t* l,
                                const xhal_plugin_kernel_arg_t* args,
                                uint32_t num_args) {
  struct xhal_plugin_context* ctx;
  uint8_t bytes[kMaxArgBytes];
  uint32_t offsets[kMaxArgs];
  struct xhal_plugin_buffer* bufs[kMaxArgs];
  uint32_t used = 0;
  uint64_t smem = 0;
  cu_cmd_t cmd;
  if (s == NULL || k == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = s->dev->ctx;
  if (l == NULL || (args == NULL && num_args > 0))
    return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: enqueue_kernel: launch or args is NULL");
  if (l->work_dim < 1 || l->work_dim > 3)
    return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: enqueue_kernel: work_dim %u is not 1, 2 or 3",
                    l->work_dim);
  if (num_args > kMaxArgs)
    return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: enqueue_kernel: %u arguments (at most %d)", num_args,
                    kMaxArgs);
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = CU_CMD_KERNEL;
  cmd.kernel = k;
  {
    int all_zero = 1;
    uint64_t threads = 1;
    for (uint32_t d = 0; d < l->work_dim; ++d) {
      if (l->global_size[d] == 0) return XHAL_OK; /* nothing to run */
      all_zero &= l->local_size[d] == 0;
    }
    if (all_zero) {
      choose_block(l, k->max_threads, cmd.block);
    } else {
      for (uint32_t d = 0; d < 3; ++d) {
        uint64_t b = d < l->work_dim ? l->local_size[d] : 1;
        if (b == 0 || b > 1024)
          return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                          "cuda: enqueue_kernel: local_size[%u] = %llu", d,
                          (unsigned long long)b);
        cmd.block[d] = (uint32_t)b;
      }
    }
    for (uint32_t d = 0; d < 3; ++d) {
      uint64_t g = d < l->work_dim ? l->global_size[d] : 1;
      uint64_t n = (g + cmd.block[d] - 1) / cmd.block[d];
      uint64_t limit = d == 0 ? 0x7FFFFFFFull : 65535ull;
      threads *= cmd.block[d];
      if (n > limit)
        return cu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                        "cuda: enqueue_kernel: %llu blocks in dimension %u "
                        "(at most %llu)",
                        (unsigned long long)n, d, (unsigned long long)limit);
      cmd.grid[d] = (uint32_t)n;
    }
    if (threads > (uint64_t)k->max_threads)
      return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "cuda: enqueue_kernel: a block of %llu threads exceeds "
                      "the kernel's %d",
                      (unsigned long long)threads, k->max_threads);
  }
  for (uint32_t i = 0; i < num_args; ++i) {
    const xhal_plugin_kernel_arg_t* a = &args[i];
    uint32_t at = (used + 7u) & ~7u;
    switch (a->kind) {
      case XHAL_KERNEL_ARG_BUFFER: {
        uint64_t end;
        CUdeviceptr p;
        if (a->buffer == NULL)
          return cu_error(ctx, XHAL_ERROR_INVALID_HANDLE,
                          "cuda: enqueue_kernel: argument %u: NULL buffer", i);
        if (__builtin_add_overflow(a->offset, a->range, &end) ||
            end > a->buffer->size)
          return cu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                          "cuda: enqueue_kernel: argument %u: range past the "
                          "buffer",
                          i);
        if (at + 8 > kMaxArgBytes) goto too_big;
        p = a->buffer->ptr + a->offset;
        memcpy(bytes + at, &p, sizeof(p));
        bufs[cmd.num_params] = a->buffer;
        offsets[cmd.num_params++] = at;
        used = at + 8;
        break;
      }
      case XHAL_KERNEL_ARG_SCALAR:
        if (a->value == NULL || a->size == 0)
          return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                          "cuda: enqueue_kernel: argument %u: scalar without "
                          "a value",
                          i);
        if (a->size > kMaxArgBytes || at + a->size > kMaxArgBytes) goto too_big;
        memcpy(bytes + at, a->value, a->size);
        bufs[cmd.num_params] = NULL;
        offsets[cmd.num_params++] = at;
        used = at + a->size;
        break;
      case XHAL_KERNEL_ARG_LOCAL:
        if (a->size == 0)
          return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                          "cuda: enqueue_kernel: argument %u: local size 0", i);
        smem = ((smem + 15u) & ~(uint64_t)15u) + a->size;
        break;
      default:
        return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "cuda: enqueue_kernel: argument %u: unknown kind %u", i,
                        a->kind);
    }
  }
  if (smem > (uint64_t)(s->dev->info->max_smem > 49152 ? s->dev->info->max_smem
                                                       : 49152))
    return cu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                    "cuda: enqueue_kernel: %llu bytes of local memory",
                    (unsigned long long)smem);
  cmd.smem = (uint32_t)smem;
  cmd.arg_bytes = bytes;
  cmd.arg_bytes_size = used;
  cmd.arg_offsets = offsets;
  cmd.arg_bufs = bufs;
  return cu_submit(s, &cmd);
too_big:
  return cu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                  "cuda: enqueue_kernel: arguments exceed %d bytes",
                  kMaxArgBytes);
}

xhal_status_t cu_kernel_run(struct xhal_plugin_stream* s, const cu_cmd_t* c) {
  const cu_driver_t* cu = &s->dev->ctx->cu;
  void* params[kMaxArgs];
  CUresult r;
  for (uint32_t i = 0; i < c->num_params; ++i)
    params[i] = c->arg_bytes + c->arg_offsets[i];
  if (c->smem > 49152) {
    r = cu->FuncSetAttribute(c->kernel->fn,
                             CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                             (int)c->smem);
    if (r != CUDA_SUCCESS)
      return cu_check(s->dev->ctx, r, "cuFuncSetAttribute");
  }
  r = cu->LaunchKernel(c->kernel->fn, c->grid[0], c->grid[1], c->grid[2],
                       c->block[0], c->block[1], c->block[2], c->smem, s->cu,
                       c->num_params ? params : NULL, NULL);
  return cu_check(s->dev->ctx, r, "cuLaunchKernel");
}
