/*
 * suite_device.c - devices and their properties: sane, stable across
 * calls, contexts and processes, consistent with what libxhal reports
 * (docs/abi.md, R-DEV-*).
 */
#include <string.h>

#include "cts.h"

/* Properties of device `index` read straight from the plugin. */
static xhal_device_properties_t props_of(cts_direct_t* d, uint32_t index) {
  xhal_device_properties_t p;
  memset(&p, 0, sizeof(p));
  p.struct_size = (uint32_t)sizeof(p);
  cts_step("device_properties(%u)", index);
  cts_ok(d->table.device_properties(d->context, index, &p),
         "device_properties(%u)", index);
  return p;
}

static int terminated(const char* s, size_t size) {
  return memchr(s, '\0', size) != NULL;
}

static void test_count(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  uint32_t count = 0;
  cts_ok(d->table.device_count(d->context, &count), "device_count");
  cts_check(count >= 1, "device_count reports %u devices", count);
}

static void test_properties_valid(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  for (uint32_t i = 0; i < d->device_count; ++i) {
    xhal_device_properties_t p = props_of(d, i);
    cts_check(p.kind <= XHAL_DEVICE_KIND_NPU, "device %u: kind %u is unknown",
              i, p.kind);
    cts_check(terminated(p.name, sizeof(p.name)) &&
                  terminated(p.vendor, sizeof(p.vendor)) &&
                  terminated(p.driver_version, sizeof(p.driver_version)),
              "device %u: name, vendor or driver_version is not "
              "NUL-terminated within its array",
              i);
    cts_check(p.name[0] != '\0', "device %u: empty name", i);
    cts_check(p.vendor[0] != '\0', "device %u: empty vendor", i);
  }
}

static void test_memory_sizes(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  for (uint32_t i = 0; i < d->device_count; ++i) {
    xhal_device_properties_t p = props_of(d, i);
    cts_check(p.memory_bytes > 0, "device %u: memory_bytes is 0", i);
    cts_check(p.max_alloc_bytes > 0 && p.max_alloc_bytes <= p.memory_bytes,
              "device %u: max_alloc_bytes %llu must be in 1..memory_bytes "
              "%llu",
              i, (unsigned long long)p.max_alloc_bytes,
              (unsigned long long)p.memory_bytes);
  }
}

static void test_alignment(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  for (uint32_t i = 0; i < d->device_count; ++i) {
    xhal_device_properties_t p = props_of(d, i);
    cts_check(p.alignment != 0 && (p.alignment & (p.alignment - 1)) == 0,
              "device %u: alignment %llu is not a power of two", i,
              (unsigned long long)p.alignment);
  }
}

static void test_masks_known(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  uint32_t known_dtypes = 0;
  for (uint32_t dt = XHAL_DTYPE_F32; dt < XHAL_DTYPE_COUNT; ++dt)
    known_dtypes |= XHAL_DTYPE_BIT(dt);
  const uint32_t known_caps =
      XHAL_CAP_HOST_VISIBLE_MEMORY | XHAL_CAP_PROFILING |
      XHAL_CAP_KERNEL_LANG_OPENCL_C | XHAL_CAP_PEER_COPY | XHAL_CAP_HOST_FUNC |
      XHAL_CAP_STREAM_NO_TIMING | XHAL_CAP_HOST_ALLOC |
      XHAL_CAP_KERNEL_LANG_CUDA_C;
  for (uint32_t i = 0; i < d->device_count; ++i) {
    xhal_device_properties_t p = props_of(d, i);
    cts_check(p.dtypes != 0, "device %u: the dtypes mask is empty", i);
    cts_check((p.dtypes & ~known_dtypes) == 0,
              "device %u: dtypes mask 0x%x has bits of no dtype (known 0x%x)",
              i, p.dtypes, known_dtypes);
    cts_check((p.capabilities & ~known_caps) == 0,
              "device %u: capabilities 0x%x has unknown bits (known 0x%x)", i,
              p.capabilities, known_caps);
  }
}

static void test_properties_stable(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const cts_probe_t* probe = ctx->run->probe;
  /* A second context in this process. */
  cts_direct_t* d2 = NULL;
  char why[512];
  if (cts_direct_load(ctx->run->path, &d2, why, sizeof(why)) != XHAL_OK ||
      cts_direct_init(d2, 0, why, sizeof(why)) != XHAL_OK) {
    cts_fail("second context: %s", why);
  }
  cts_check(d2->device_count == d->device_count,
            "a second context counts %u devices, the first %u",
            d2->device_count, d->device_count);
  for (uint32_t i = 0; i < d->device_count && i < CTS_MAX_DEVICES; ++i) {
    xhal_device_properties_t a = props_of(d, i);
    xhal_device_properties_t b = props_of(d, i);
    xhal_device_properties_t c = props_of(d2, i);
    cts_check(memcmp(&a, &b, sizeof(a)) == 0,
              "device %u: two calls give different properties (byte %llu)", i,
              (unsigned long long)cts_first_diff(&a, &b, sizeof(a)));
    cts_check(memcmp(&a, &c, sizeof(a)) == 0,
              "device %u: a second context sees different properties (byte "
              "%llu)",
              i, (unsigned long long)cts_first_diff(&a, &c, sizeof(a)));
    /* The probe ran in another process before this test. */
    if (probe->direct_ok && i < probe->device_count) {
      cts_check(
          memcmp(&a, &probe->props[i], sizeof(a)) == 0,
          "device %u: another process saw different properties (byte "
          "%llu; the UUID must be stable across processes)",
          i,
          (unsigned long long)cts_first_diff(&a, &probe->props[i], sizeof(a)));
    }
  }
  cts_direct_close(d2);
}

static void test_uuid_distinct(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  static const uint8_t zero[XHAL_UUID_SIZE];
  for (uint32_t i = 0; i < d->device_count && i < CTS_MAX_DEVICES; ++i) {
    xhal_device_properties_t a = props_of(d, i);
    cts_check(memcmp(a.uuid, zero, sizeof(zero)) != 0,
              "device %u: the UUID is all zero", i);
    for (uint32_t j = 0; j < i; ++j) {
      xhal_device_properties_t b = props_of(d, j);
      cts_check(memcmp(a.uuid, b.uuid, sizeof(a.uuid)) != 0,
                "devices %u and %u have the same UUID", j, i);
    }
  }
}

static void test_timer_ratio(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  for (uint32_t i = 0; i < d->device_count; ++i) {
    xhal_device_properties_t p = props_of(d, i);
    if (!(p.capabilities & XHAL_CAP_PROFILING)) continue;
    cts_check(p.timer_numerator != 0 && p.timer_denominator != 0,
              "device %u: timer ratio %u/%u with XHAL_CAP_PROFILING", i,
              p.timer_numerator, p.timer_denominator);
  }
}

static void test_properties_no_overwrite(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  struct {
    xhal_device_properties_t props;
    uint8_t guard[256];
  } rec;
  for (uint32_t i = 0; i < d->device_count; ++i) {
    memset(&rec, 0xCD, sizeof(rec));
    memset(&rec.props, 0, sizeof(rec.props));
    rec.props.struct_size = (uint32_t)sizeof(rec.props);
    cts_step("device_properties(%u) into a record with guard bytes", i);
    cts_ok(d->table.device_properties(d->context, i, &rec.props),
           "device_properties(%u)", i);
    for (size_t g = 0; g < sizeof(rec.guard); ++g) {
      cts_check(rec.guard[g] == 0xCD,
                "device %u: device_properties wrote byte %zu past the "
                "record's struct_size %zu",
                i, g, sizeof(rec.props));
    }
    /* The struct_size written back says which fields the plugin filled:
     * never more than the record the host handed over. */
    cts_check(rec.props.struct_size <= sizeof(rec.props),
              "device %u: device_properties wrote back struct_size %u, past "
              "the host's record of %zu bytes",
              i, rec.props.struct_size, sizeof(rec.props));
  }
}

static void test_open_close_reopen(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  for (uint32_t i = 0; i < d->device_count && i < CTS_DIRECT_MAX_DEVICES; ++i) {
    xhal_plugin_device_t dev = NULL;
    cts_ok(cts_direct_device(d, i, &dev), "device_open(%u)", i);
    cts_check(dev != NULL, "device_open(%u) returned XHAL_OK and no handle", i);
    cts_step("device_close(%u)", i);
    cts_teardown_guard();
    cts_call(t->device_close(dev));
    d->devices[i] = NULL;
    cts_ok(cts_direct_device(d, i, &dev), "device_open(%u) after close", i);
    xhal_plugin_buffer_t buf = NULL;
    xhal_plugin_stream_t stream = NULL;
    uint8_t in[64], out[64];
    cts_rand_bytes(ctx, in, sizeof(in));
    cts_ok(t->buffer_alloc(dev, sizeof(in), 0, &buf),
           "buffer_alloc on reopened device %u", i);
    cts_ok(t->stream_create(dev, 0, &stream),
           "stream_create on reopened device %u", i);
    cts_ok(t->enqueue_write(stream, buf, 0, in, sizeof(in)), "write");
    cts_ok(t->enqueue_read(stream, buf, 0, out, sizeof(out)), "read");
    cts_step("stream_synchronize on reopened device %u", i);
    cts_ok(t->stream_synchronize(stream), "synchronize");
    cts_check(memcmp(in, out, sizeof(in)) == 0,
              "reopened device %u reads back other bytes", i);
    t->stream_destroy(stream);
    t->buffer_free(dev, buf);
  }
}

static void test_libxhal_matches(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  const cts_probe_t* probe = ctx->run->probe;
  cts_check(probe->direct_ok, "the probe could not read the plugin: %s",
            probe->direct_error);
  xhal_device_properties_t p;
  cts_ok(xhal_device_properties(dev, &p), "xhal_device_properties");
  cts_check(
      memcmp(&p, &probe->props[ctx->run->device], sizeof(p)) == 0,
      "libxhal reports other properties than the plugin for device %u (byte "
      "%llu)",
      ctx->run->device,
      (unsigned long long)cts_first_diff(&p, &probe->props[ctx->run->device],
                                         sizeof(p)));
  const char* name = xhal_device_plugin_name(dev);
  cts_check(strcmp(name, probe->name) == 0,
            "libxhal names the plugin '%s', its table '%s'", name, probe->name);
}

/* R-DEV-12: into a record larger than any the plugin knows (a newer
 * host's), device_properties writes back in struct_size the bytes it
 * filled: no more than its own record (this ABI's, for a plugin of this
 * minor or older) and no more than the host's, with the rest untouched. */
static void test_properties_struct_size_back(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  struct {
    xhal_device_properties_t props;
    uint8_t newer[64];
  } rec;
  const uint32_t host_size = (uint32_t)sizeof(rec);
  const uint32_t known = d->raw->abi_minor <= XHAL_ABI_VERSION_MINOR
                             ? (uint32_t)sizeof(rec.props)
                             : host_size;
  for (uint32_t i = 0; i < d->device_count; ++i) {
    memset(&rec, 0, sizeof(rec));
    memset(rec.newer, 0xCD, sizeof(rec.newer));
    rec.props.struct_size = host_size;
    cts_step("device_properties(%u) with struct_size %u", i, host_size);
    cts_ok(d->table.device_properties(d->context, i, &rec.props),
           "device_properties(%u) with a newer host's struct_size %u", i,
           host_size);
    const uint32_t back = rec.props.struct_size;
    cts_check(back > sizeof(uint32_t) && back <= known,
              "device %u: device_properties wrote back struct_size %u into a "
              "%u-byte record; want the bytes it filled, at most %u (the "
              "record of ABI 1.%u)",
              i, back, host_size, known, d->raw->abi_minor);
    const uint8_t* bytes = (const uint8_t*)&rec;
    for (uint32_t b = back > sizeof(rec.props) ? back
                                               : (uint32_t)sizeof(rec.props);
         b < host_size; ++b) {
      cts_check(bytes[b] == 0xCD,
                "device %u: device_properties changed byte %u of the record, "
                "past the struct_size %u it wrote back",
                i, b, back);
    }
  }
}

static const cts_test_t kTests[] = {
    {"properties_struct_size_back", "R-DEV-12", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_properties_struct_size_back, 0},
    {"count", "R-DEV-1", CTS_PROFILE_CORE, CTS_NEED_NONE, test_count, 0},
    {"properties_valid", "R-DEV-2", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_properties_valid, 0},
    {"memory_sizes", "R-DEV-3", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_memory_sizes, 0},
    {"alignment", "R-DEV-4", CTS_PROFILE_CORE, CTS_NEED_NONE, test_alignment,
     0},
    {"masks_known", "R-DEV-5", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_masks_known, 0},
    {"properties_stable", "R-DEV-6", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_properties_stable, 0},
    {"uuid_distinct", "R-DEV-7", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_uuid_distinct, 0},
    {"timer_ratio", "R-DEV-8", CTS_PROFILE_CORE, CTS_NEED_PROFILING,
     test_timer_ratio, 0},
    {"properties_no_overwrite", "R-DEV-9", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_properties_no_overwrite, 0},
    {"open_close_reopen", "R-DEV-10", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_open_close_reopen, 0},
    {"libxhal_matches", "R-DEV-11", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_libxhal_matches, 0},
};

const cts_suite_t cts_suite_device = {"device", kTests,
                                      sizeof(kTests) / sizeof(kTests[0])};
