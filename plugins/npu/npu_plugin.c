/*
 * npu_plugin.c - the plugin entry point and the dispatch table of the
 * simulated NPU: context, device properties, open/close.
 *
 * Configuration: the model's figures and the driver's own keys (driver.*)
 * come from one key = value file named by XHAL_NPU_CONFIG (read with
 * secure_getenv), or the defaults. docs/npu.md lists every key.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_internal.h"

#define NPU_PLUGIN_VERSION "1.0.0"

static void host_log(const xhal_host_services_t* h, xhal_log_level_t lvl,
                     const char* msg) {
  if (h && h->log) h->log(h->host_context, lvl, msg);
}

/* Driver keys living in the model's config file. */
static int driver_key(void* user, const char* key, const char* value) {
  npu_ctx_t* ctx = user;
  char* end = NULL;
  unsigned long v;
  if (strcmp(key, "driver.watchdog_ms") != 0) return 1;
  if (*value == '-' || *value == '\0') return 1;
  v = strtoul(value, &end, 10);
  if (*end != '\0' || v == 0 || v > 3600000ul) return 1;
  ctx->watchdog_ms = (uint32_t)v;
  return 0;
}

/* Reports a failing entry's message through the host and returns st. */
static xhal_status_t ctx_fail(const npu_ctx_t* ctx, xhal_status_t st,
                              const char* msg) {
  const xhal_host_services_t* h = ctx->host;
  if (h && h->set_error) h->set_error(h->host_context, st, msg);
  return st;
}

static xhal_status_t npu_init(const xhal_host_services_t* host,
                              xhal_plugin_context_t* out) {
  npu_ctx_t* ctx;
  const char* path;
  char err[256];
  xhal_status_t st;
  if (!host || !out) return XHAL_ERROR_INVALID_ARGUMENT;
  ctx = calloc(1, sizeof(*ctx));
  if (!ctx) return XHAL_ERROR_OUT_OF_MEMORY;
  ctx->host = host;
  /* Long enough for any single command of a large layer, short enough
   * that a hung device surfaces as an error within seconds. */
  ctx->watchdog_ms = 10000;
  npusim_config_default(&ctx->cfg);
  path = secure_getenv("XHAL_NPU_CONFIG");
  if (path && *path) {
    if (npusim_config_load(&ctx->cfg, path, driver_key, ctx, err,
                           sizeof(err)) != NPUSIM_OK ||
        npusim_config_validate(&ctx->cfg, err, sizeof(err)) != NPUSIM_OK) {
      char msg[400];
      snprintf(msg, sizeof(msg), "npu: bad config %s: %s", path, err);
      host_log(host, XHAL_LOG_ERROR, msg);
      if (host->set_error) {
        host->set_error(host->host_context, XHAL_ERROR_INVALID_ARGUMENT, msg);
      }
      free(ctx);
      return XHAL_ERROR_INVALID_ARGUMENT;
    }
  }
  pthread_mutex_init(&ctx->mu, NULL);
  st = npu_register_ops(ctx);
  if (st != XHAL_OK) {
    pthread_mutex_destroy(&ctx->mu);
    free(ctx);
    return st;
  }
  *out = (xhal_plugin_context_t)(void*)ctx;
  return XHAL_OK;
}

static void npu_shutdown(xhal_plugin_context_t context) {
  npu_ctx_t* ctx = (npu_ctx_t*)(void*)context;
  if (!ctx) return;
  if (ctx->dev) npu_dev_close(ctx->dev);
  pthread_mutex_destroy(&ctx->mu);
  free(ctx);
}

static xhal_status_t npu_device_count(xhal_plugin_context_t context,
                                      uint32_t* out) {
  const npu_ctx_t* ctx = (const npu_ctx_t*)(void*)context;
  if (!ctx) return XHAL_ERROR_INVALID_HANDLE;
  if (!out) {
    return ctx_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "npu: device_count: NULL output pointer");
  }
  *out = 1;
  return XHAL_OK;
}

/* FNV-1a: a stable UUID derived from the device's figures, so the same
 * configuration is the same device in every process. */
static void make_uuid(const npusim_config_t* c, uint8_t out[16]) {
  uint64_t fig[6] = {c->rows,       c->cols,      c->dram_bytes,
                     c->spad_bytes, c->clock_mhz, c->vector_lanes};
  uint64_t h1 = 1469598103934665603ull, h2 = 0x9E3779B97F4A7C15ull;
  size_t i;
  const uint8_t* p = (const uint8_t*)fig;
  for (i = 0; i < sizeof(fig); ++i) {
    h1 = (h1 ^ p[i]) * 1099511628211ull;
    h2 = (h2 ^ p[i]) * 0x100000001B3ull + 0x7F;
  }
  memcpy(out, &h1, 8);
  memcpy(out + 8, &h2, 8);
  out[6] = (uint8_t)((out[6] & 0x0F) | 0x50); /* name-based UUID */
  out[8] = (uint8_t)((out[8] & 0x3F) | 0x80);
}

static xhal_status_t npu_device_properties(xhal_plugin_context_t context,
                                           uint32_t index,
                                           xhal_device_properties_t* p) {
  npu_ctx_t* ctx = (npu_ctx_t*)(void*)context;
  if (!ctx) return XHAL_ERROR_INVALID_HANDLE;
  if (!p) {
    return ctx_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "npu: device_properties: NULL output pointer");
  }
  if (index != 0) {
    return ctx_fail(ctx, XHAL_ERROR_OUT_OF_RANGE,
                    "npu: device_properties: device index past the count (1)");
  }
  memset(p, 0, sizeof(*p));
  p->struct_size = (uint32_t)sizeof(*p);
  p->kind = XHAL_DEVICE_KIND_NPU;
  snprintf(p->name, sizeof(p->name), "xhal-npusim %ux%u", ctx->cfg.rows,
           ctx->cfg.cols);
  snprintf(p->vendor, sizeof(p->vendor), "xhal");
  snprintf(p->driver_version, sizeof(p->driver_version), "%s",
           NPU_PLUGIN_VERSION);
  make_uuid(&ctx->cfg, p->uuid);
  p->memory_bytes = ctx->cfg.dram_bytes;
  /* DRAM less the command ring, rounded to the allocation granule. */
  p->max_alloc_bytes = (ctx->cfg.dram_bytes - (uint64_t)NPU_RING_ENTRIES * 64) /
                       NPU_ALIGN * NPU_ALIGN;
  p->alignment = NPU_ALIGN;
  p->local_memory_bytes = 0;
  p->compute_units = 1;
  p->dtypes = XHAL_DTYPE_BIT(XHAL_DTYPE_F32) | XHAL_DTYPE_BIT(XHAL_DTYPE_F16) |
              XHAL_DTYPE_BIT(XHAL_DTYPE_I8) | XHAL_DTYPE_BIT(XHAL_DTYPE_I32);
  p->capabilities = XHAL_CAP_PROFILING | XHAL_CAP_HOST_FUNC;
  p->max_work_group_size = 0;
  p->timer_numerator = 1;
  p->timer_denominator = 1;
  return XHAL_OK;
}

static xhal_status_t npu_device_open(xhal_plugin_context_t context,
                                     uint32_t index,
                                     xhal_plugin_device_t* out) {
  npu_ctx_t* ctx = (npu_ctx_t*)(void*)context;
  xhal_status_t st = XHAL_OK;
  if (!ctx) return XHAL_ERROR_INVALID_HANDLE;
  if (!out) {
    return ctx_fail(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "npu: device_open: NULL output pointer");
  }
  if (index != 0) {
    return ctx_fail(ctx, XHAL_ERROR_OUT_OF_RANGE,
                    "npu: device_open: device index past the count (1)");
  }
  pthread_mutex_lock(&ctx->mu);
  if (!ctx->dev) st = npu_dev_open(ctx, &ctx->dev);
  if (st == XHAL_OK) {
    ctx->open_count++;
    *out = (xhal_plugin_device_t)(void*)ctx->dev;
  }
  pthread_mutex_unlock(&ctx->mu);
  if (st != XHAL_OK) {
    (void)ctx_fail(ctx, st, "npu: device_open: bring-up of the device failed");
  }
  return st;
}

static void npu_device_close(xhal_plugin_device_t device) {
  npu_dev_t* dev = (npu_dev_t*)(void*)device;
  npu_ctx_t* ctx;
  if (!dev) return;
  ctx = dev->ctx;
  pthread_mutex_lock(&ctx->mu);
  if (--ctx->open_count == 0) {
    npu_dev_close(ctx->dev);
    ctx->dev = NULL;
  }
  pthread_mutex_unlock(&ctx->mu);
}

static const xhal_plugin_dispatch_t kDispatch = {
    .struct_size = (uint32_t)sizeof(xhal_plugin_dispatch_t),
    .abi_major = XHAL_ABI_VERSION_MAJOR,
    .abi_minor = XHAL_ABI_VERSION_MINOR,
    .name = "npu",
    .version = NPU_PLUGIN_VERSION,
    .init = npu_init,
    .shutdown = npu_shutdown,
    .device_count = npu_device_count,
    .device_properties = npu_device_properties,
    .device_open = npu_device_open,
    .device_close = npu_device_close,
    .buffer_alloc = npu_buffer_alloc,
    .buffer_free = npu_buffer_free,
    .stream_create = npu_stream_create,
    .stream_destroy = npu_stream_destroy,
    .stream_flush = npu_stream_flush,
    .stream_synchronize = npu_stream_synchronize,
    .enqueue_write = npu_enqueue_write,
    .enqueue_read = npu_enqueue_read,
    .enqueue_copy = npu_enqueue_copy,
    .enqueue_fill = npu_enqueue_fill,
    .enqueue_host_func = npu_enqueue_host_func,
    .event_create = npu_event_create,
    .event_destroy = npu_event_destroy,
    .event_record = npu_event_record,
    .event_wait = npu_event_wait,
    .event_query = npu_event_query,
    .event_elapsed = npu_event_elapsed,
    .stream_wait_event = npu_stream_wait_event,
};

XHAL_PLUGIN_EXPORT xhal_status_t
xhal_plugin_query(uint32_t host_major, uint32_t host_minor,
                  const xhal_plugin_dispatch_t** out_table) {
  (void)host_minor;
  if (!out_table) return XHAL_ERROR_INVALID_ARGUMENT;
  if (host_major != XHAL_ABI_VERSION_MAJOR) return XHAL_ERROR_ABI_MISMATCH;
  *out_table = &kDispatch;
  return XHAL_OK;
}
