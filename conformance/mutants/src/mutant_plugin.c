/*
 * mutant_plugin.c - the entry point of the mutant plugin: xhal_plugin_query,
 * the dispatch table, context init/shutdown and the device entries.
 *
 * Start reading here. The host (libxhal, or xhal-cts) dlopen()s the .so,
 * calls xhal_plugin_query for the table, checks it, then calls init()
 * once per host instance, then the device entries. docs/plugin-guide.md
 * walks through every entry; docs/abi.md numbers the rules (R-*) that
 * xhal-cts checks.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef MUTANT_ABI_QUERY_OPENS_FD
#include <fcntl.h>
#endif

#include "mutant_internal.h"

/* -------------------------------------------------------------- helpers */

xhal_status_t mutant_error(const struct xhal_plugin_context* ctx,
                           xhal_status_t status, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  /* The message reaches the framework through xhal_last_error() (and the
   * CTS report), so say which entry failed, on what, and why. */
  int prefix;
  if (ctx == NULL || ctx->host.set_error == NULL) return status;
  prefix = snprintf(msg, sizeof(msg), "%s: ", MUTANT_PLUGIN_NAME);
  if (prefix < 0 || (size_t)prefix >= sizeof(msg)) prefix = 0;
  va_start(ap, fmt);
  vsnprintf(msg + prefix, sizeof(msg) - (size_t)prefix, fmt, ap);
  va_end(ap);
  ctx->host.set_error(ctx->host.host_context, status, msg);
  return status;
}

void mutant_log(const struct xhal_plugin_context* ctx, xhal_log_level_t level,
                const char* fmt, ...) {
  char msg[512];
  va_list ap;
  int prefix;
  if (ctx == NULL || ctx->host.log == NULL) return;
  prefix = snprintf(msg, sizeof(msg), "%s: ", MUTANT_PLUGIN_NAME);
  if (prefix < 0 || (size_t)prefix >= sizeof(msg)) prefix = 0;
  va_start(ap, fmt);
  vsnprintf(msg + prefix, sizeof(msg) - (size_t)prefix, fmt, ap);
  va_end(ap);
  ctx->host.log(ctx->host.host_context, level, msg);
}

uint64_t mutant_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------- devices */

/* FNV-1a of the plugin name and device index. VENDOR: derive the UUID
 * from something the hardware reports (serial number, PCI address): it
 * must be the same for the same physical device in every process, and
 * differ between devices, because frameworks key caches on it. */
static void make_uuid(uint32_t index, uint8_t uuid[XHAL_UUID_SIZE]) {
  const char* p = MUTANT_PLUGIN_NAME;
  uint64_t hi = 14695981039346656037ull;
  uint64_t lo;
  int i;
  for (; *p != '\0'; ++p) {
    hi ^= (uint8_t)*p;
    hi *= 1099511628211ull;
  }
  hi ^= index;
  hi *= 1099511628211ull;
  lo = (hi ^ 0x9e3779b97f4a7c15ull) * 1099511628211ull;
  for (i = 0; i < 8; ++i) {
    uuid[i] = (uint8_t)(hi >> (56 - 8 * i));
    uuid[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
  }
  /* RFC 9562 version 8 ("custom") and variant bits. */
  uuid[6] = (uint8_t)((uuid[6] & 0x0Fu) | 0x80u);
  uuid[8] = (uint8_t)((uuid[8] & 0x3Fu) | 0x80u);
}

/* VENDOR: query the hardware (or its kernel driver) for these. */
static void query_device(struct xhal_plugin_context* ctx) {
  xhal_device_properties_t* p = &ctx->props;
  memset(p, 0, sizeof(*p));
  p->struct_size = (uint32_t)sizeof(*p);
  /* OTHER, not CPU: the registry falls back to the first CPU device, and
   * an accelerator must not be mistaken for that fallback. */
  p->kind = XHAL_DEVICE_KIND_OTHER;
  snprintf(p->name, sizeof(p->name), "%s", "Mutant Accelerator 1");
  snprintf(p->vendor, sizeof(p->vendor), "%s", "Mutant Corporation");
  snprintf(p->driver_version, sizeof(p->driver_version), "%s",
           MUTANT_PLUGIN_NAME " " MUTANT_PLUGIN_VERSION);
  make_uuid(0, p->uuid);
#ifdef MUTANT_DEV_UUID_RANDOM
  /* A fresh UUID per context, "unique enough". */
  {
    uint64_t t = mutant_now_ns() ^ (uint64_t)(uintptr_t)ctx;
    memcpy(p->uuid, &t, sizeof(t));
  }
#endif
  p->memory_bytes = MUTANT_MEMORY_BYTES;
#ifdef MUTANT_DEV_MAX_ALLOC_OVER_MEMORY
  /* The largest DMA window, not bounded by the memory size. */
  p->max_alloc_bytes = 2 * MUTANT_MEMORY_BYTES;
#else
  p->max_alloc_bytes = MUTANT_MAX_ALLOC_BYTES;
#endif
  p->alignment = MUTANT_BUFFER_ALIGNMENT;
  p->local_memory_bytes = 0; /* no kernel language, no work-group memory */
  p->compute_units = 1;
  /* Buffers are untyped; this says which dtypes the operators take. */
  p->dtypes = XHAL_DTYPE_BIT(XHAL_DTYPE_F32) | XHAL_DTYPE_BIT(XHAL_DTYPE_F16) |
              XHAL_DTYPE_BIT(XHAL_DTYPE_I8) | XHAL_DTYPE_BIT(XHAL_DTYPE_I32);
  /* Every capability bit is a promise the CTS checks: claim only what
   * works. Host functions run on the stream worker (asynchronously) and
   * events carry timestamps, so both are claimed. */
  p->capabilities =
      XHAL_CAP_HOST_VISIBLE_MEMORY | XHAL_CAP_HOST_FUNC | XHAL_CAP_PROFILING;
  p->max_work_group_size = 0;
  /* Event stamps are nanoseconds (mutant_now_ns). A device whose timer
   * ticks at, say, 25 MHz would say 40/1. */
  p->timer_numerator = 1;
#ifdef MUTANT_DEV_TIMER_RATIO_ZERO
  p->timer_denominator = 0; /* "1:1 is the default, leave it unset" */
#else
  p->timer_denominator = 1;
#endif
}

static xhal_status_t mutant_device_count(xhal_plugin_context_t ctx,
                                         uint32_t* out_count) {
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_count == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "device_count: out_count is NULL");
  /* VENDOR: the number of boards found at init. Zero is legal: the
   * plugin loads and offers no device. */
  *out_count = 1;
  return XHAL_OK;
}

static xhal_status_t mutant_device_properties(
    xhal_plugin_context_t ctx, uint32_t index,
    xhal_device_properties_t* out_props) {
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_props == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "device_properties: out_props is NULL");
#ifdef MUTANT_ERR_DEVICE_INDEX
  if (index > 1) /* off by one: the count is 1 */
#else
  if (index != 0)
#endif
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                        "device_properties: index %u past the 1 device", index);
    /* The whole 1.0 record, whatever the caller left in struct_size. Once a
     * later minor version appends fields, write the appended ones only when
     * ctx->host.abi_minor says the host knows them: an older host's record
     * ends where its version's did. */
#if defined(MUTANT_DEV_PROPS_PAST_RECORD)
  /* The record with its vendor extension behind it. */
  {
    struct {
      xhal_device_properties_t props;
      uint64_t vendor_ext[4];
    } full;
    memset(&full, 0, sizeof(full));
    full.props = ctx->props;
    full.vendor_ext[0] = MUTANT_MEMORY_BYTES;
    memcpy(out_props, &full, sizeof(full));
  }
#elif defined(MUTANT_DEV_STRUCT_SIZE_BACK)
  *out_props = ctx->props;
  /* Claims the record with the vendor extension it did not write. */
  out_props->struct_size = (uint32_t)sizeof(*out_props) + 32u;
#else
  *out_props = ctx->props;
#endif
  return XHAL_OK;
}

/* The device lives inside the context, so open hands out the embedded
 * object. VENDOR: open is where a real driver maps the device's
 * registers and brings it out of reset. */
static xhal_status_t mutant_device_open(xhal_plugin_context_t ctx,
                                        uint32_t index,
                                        xhal_plugin_device_t* out_device) {
  if (ctx == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_device == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "device_open: out_device is NULL");
  if (index != 0)
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                        "device_open: index %u past the 1 device", index);
#ifdef MUTANT_DEV_REOPEN_REFUSED
  if (ctx->device.closed)
    return mutant_error(ctx, XHAL_ERROR_INVALID_STATE,
                        "device_open: the device was closed");
#endif
  *out_device = &ctx->device;
  return XHAL_OK;
}

static void mutant_device_close(xhal_plugin_device_t device) {
#ifdef MUTANT_DEV_REOPEN_REFUSED
  /* Powered down on close, never brought back up. */
  if (device != NULL) device->closed = 1;
#else
  (void)device;
#endif
}

/* -------------------------------------------------------------- context */

/* One context per host instance. Must not touch any global state: two
 * instances in one process get two independent contexts. */
static xhal_status_t mutant_init(const xhal_host_services_t* host,
                                 xhal_plugin_context_t* out_context) {
  struct xhal_plugin_context* ctx;
  xhal_status_t status;
  uint32_t copy_size;
  if (host == NULL || out_context == NULL) return XHAL_ERROR_INVALID_ARGUMENT;
  *out_context = NULL;
  /* A table too short to hold even the context pointer is not a host. */
  if (host->struct_size < offsetof(xhal_host_services_t, log))
    return XHAL_ERROR_INVALID_ARGUMENT;
#ifdef MUTANT_ABI_HOST_TABLE_EXACT
  /* "Version check": a table of another size is another ABI. */
  if (host->struct_size != sizeof(xhal_host_services_t))
    return XHAL_ERROR_ABI_MISMATCH;
#endif
  ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  copy_size = host->struct_size < sizeof(ctx->host)
                  ? host->struct_size
                  : (uint32_t)sizeof(ctx->host);
  memcpy(&ctx->host, host, copy_size);
  ctx->device.ctx = ctx;
  ctx->device.index = 0;
  atomic_init(&ctx->device.allocated, 0);
  atomic_init(&ctx->device.live_streams, 0);
  if (pthread_mutex_init(&ctx->device.exec_mu, NULL) != 0) {
    free(ctx);
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  /* VENDOR: probe the hardware here. If nothing answers, return an error
   * with a message (mutant_error): the host records the plugin as rejected
   * with that reason and goes on with the other plugins. */
  query_device(ctx);

  status = mutant_register_ops(ctx);
  if (status != XHAL_OK) {
    pthread_mutex_destroy(&ctx->device.exec_mu);
    free(ctx);
    return status;
  }
  mutant_log(ctx, XHAL_LOG_INFO, "%s ready, %llu MiB", ctx->props.name,
             (unsigned long long)(ctx->props.memory_bytes >> 20));
  *out_context = ctx;
  return XHAL_OK;
}

/* The host has destroyed every stream, event and buffer of the context
 * by now, so there is nothing left to wait for. */
static void mutant_shutdown(xhal_plugin_context_t ctx) {
  struct mutant_cmd* cmd;
  if (ctx == NULL) return;
  while ((cmd = ctx->free_cmds) != NULL) {
    ctx->free_cmds = cmd->next;
    free(cmd);
  }
  pthread_mutex_destroy(&ctx->device.exec_mu);
  free(ctx);
}

/* ---------------------------------------------------------------- table */

/* Static and immutable: query() may be called many times and must return
 * the same table. Entries left NULL are "not implemented": the host
 * answers XHAL_ERROR_UNSUPPORTED for them and never calls through NULL.
 * Use designated initialisers so that a field added by a later minor ABI
 * version starts out NULL here. */
static const xhal_plugin_dispatch_t kMutantDispatch = {
    .struct_size = (uint32_t)sizeof(xhal_plugin_dispatch_t),
    .abi_major = XHAL_ABI_VERSION_MAJOR,
    .abi_minor = XHAL_ABI_VERSION_MINOR,
    .reserved = 0,
#ifdef MUTANT_ABI_NAME_CASE
    .name = "Mutant",
#else
    .name = MUTANT_PLUGIN_NAME,
#endif
    .version = MUTANT_PLUGIN_VERSION,
    .init = mutant_init,
    .shutdown = mutant_shutdown,
    .device_count = mutant_device_count,
    .device_properties = mutant_device_properties,
    .device_open = mutant_device_open,
    .device_close = mutant_device_close,
    .buffer_alloc = mutant_buffer_alloc,
    .buffer_free = mutant_buffer_free,
    .buffer_map = mutant_buffer_map,
    .buffer_unmap = mutant_buffer_unmap,
    .stream_create = mutant_stream_create,
    .stream_destroy = mutant_stream_destroy,
    .stream_flush = mutant_stream_flush,
    .stream_synchronize = mutant_stream_synchronize,
    .enqueue_write = mutant_enqueue_write,
    .enqueue_read = mutant_enqueue_read,
    .enqueue_copy = mutant_enqueue_copy,
    .enqueue_fill = mutant_enqueue_fill,
    /* No kernel language: programs and kernels stay NULL. A device that
     * compiles source (OpenCL C, ...) fills these four and enqueue_kernel
     * and sets a XHAL_CAP_KERNEL_LANG_* capability. */
    .enqueue_kernel = NULL,
    .enqueue_host_func = mutant_enqueue_host_func,
    .event_create = mutant_event_create,
    .event_destroy = mutant_event_destroy,
    .event_record = mutant_event_record,
    .event_wait = mutant_event_wait,
    .event_query = mutant_event_query,
#ifdef MUTANT_ABI_PROFILING_NO_ELAPSED
    .event_elapsed = NULL, /* claimed in the capabilities all the same */
#else
    .event_elapsed = mutant_event_elapsed,
#endif
    .stream_wait_event = mutant_stream_wait_event,
    .program_build = NULL,
    .program_destroy = NULL,
    .kernel_create = NULL,
    .kernel_destroy = NULL,
    /* ABI 1.2. Mutant's device memory is host memory, so pinned host memory
     * would buy nothing: libxhal serves xhal_host_alloc itself. A device
     * with a DMA engine that reads page-locked memory directly implements
     * both and claims XHAL_CAP_HOST_ALLOC. */
    .host_alloc = NULL,
    .host_free = NULL,
};

/* The one exported symbol. No allocation, threads or device access here:
 * the host may call it only to read the version and then unload. */
XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query(uint32_t host_major, uint32_t host_minor,
                  const xhal_plugin_dispatch_t** out_table) {
  /* Any minor of our major works: a newer host reads only the entries
   * our struct_size covers, an older one ignores what it does not know. */
  (void)host_minor;
  if (out_table == NULL) return XHAL_ERROR_INVALID_ARGUMENT;
  *out_table = NULL;
#ifdef MUTANT_ABI_ANY_MAJOR
  /* "Be liberal in what you accept." */
  (void)host_major;
#else
  if (host_major != XHAL_ABI_VERSION_MAJOR) return XHAL_ERROR_ABI_MISMATCH;
#endif
#ifdef MUTANT_ABI_QUERY_OPENS_FD
  /* Probes for the board at query time and keeps the handle. */
  {
    static int probe_fd = -1;
    (void)probe_fd;
    probe_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
#endif
  *out_table = &kMutantDispatch;
  return XHAL_OK;
}
