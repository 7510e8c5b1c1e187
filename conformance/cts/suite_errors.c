/*
 * suite_errors.c - every documented invalid input gets its documented
 * status, from the plugin itself (direct calls: libxhal would catch most
 * of these first and hide a plugin that does not check) and from libxhal
 * on the plugin's devices (docs/abi.md, R-ERR-*).
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cts.h"

static xhal_plugin_device_t dev0(cts_direct_t* d) {
  xhal_plugin_device_t dev = NULL;
  cts_ok(cts_direct_device(d, d->device_under_test, &dev), "device_open(%u)",
         d->device_under_test);
  return dev;
}

/* --------------------------------------------------------- plugin level */

static void test_null_handles(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = dev0(d);
  xhal_plugin_buffer_t buf = NULL;
  xhal_plugin_stream_t stream = NULL;
  xhal_plugin_event_t event = NULL;
  uint32_t count = 0;
  uint8_t byte = 0;
  xhal_device_properties_t props;
  props.struct_size = (uint32_t)sizeof(props);
  cts_ok(t->buffer_alloc(dev, 16, 0, &buf), "buffer_alloc");
  cts_ok(t->stream_create(dev, 0, &stream), "stream_create");
  cts_ok(t->event_create(dev, &event), "event_create");
  const xhal_status_t want = XHAL_ERROR_INVALID_HANDLE;
  cts_expect(t->device_count(NULL, &count), want, "device_count(NULL ctx)");
  cts_expect(t->device_properties(NULL, 0, &props), want,
             "device_properties(NULL ctx)");
  xhal_plugin_device_t other = NULL;
  cts_expect(t->device_open(NULL, 0, &other), want, "device_open(NULL ctx)");
  xhal_plugin_buffer_t b2 = NULL;
  cts_expect(t->buffer_alloc(NULL, 16, 0, &b2), want,
             "buffer_alloc(NULL device)");
  xhal_plugin_stream_t s2 = NULL;
  cts_expect(t->stream_create(NULL, 0, &s2), want,
             "stream_create(NULL device)");
  xhal_plugin_event_t e2 = NULL;
  cts_expect(t->event_create(NULL, &e2), want, "event_create(NULL device)");
  cts_expect(t->stream_synchronize(NULL), want, "stream_synchronize(NULL)");
  cts_expect(t->enqueue_write(NULL, buf, 0, &byte, 1), want,
             "enqueue_write(NULL stream)");
  cts_expect(t->enqueue_write(stream, NULL, 0, &byte, 1), want,
             "enqueue_write(NULL buffer)");
  cts_expect(t->enqueue_read(stream, NULL, 0, &byte, 1), want,
             "enqueue_read(NULL buffer)");
  cts_expect(t->enqueue_copy(stream, NULL, 0, buf, 0, 1), want,
             "enqueue_copy(NULL src)");
  cts_expect(t->enqueue_copy(stream, buf, 0, NULL, 0, 1), want,
             "enqueue_copy(NULL dst)");
  cts_expect(t->enqueue_fill(stream, NULL, 0, 1, &byte, 1), want,
             "enqueue_fill(NULL buffer)");
  cts_expect(t->event_record(NULL, stream), want, "event_record(NULL event)");
  cts_expect(t->event_record(event, NULL), want, "event_record(NULL stream)");
  cts_expect(t->event_wait(NULL, 0), want, "event_wait(NULL)");
  cts_expect(t->event_query(NULL), want, "event_query(NULL)");
  cts_ok(t->stream_synchronize(stream),
         "the stream after calls with NULL handles");
  t->event_destroy(event);
  t->stream_destroy(stream);
  t->buffer_free(dev, buf);
}

static void test_null_outputs(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = dev0(d);
  const xhal_status_t want = XHAL_ERROR_INVALID_ARGUMENT;
  cts_expect(t->device_count(d->context, NULL), want, "device_count(NULL)");
  cts_expect(t->device_properties(d->context, 0, NULL), want,
             "device_properties(NULL)");
  cts_expect(t->device_open(d->context, 0, NULL), want, "device_open(NULL)");
  cts_expect(t->buffer_alloc(dev, 16, 0, NULL), want, "buffer_alloc(NULL)");
  cts_expect(t->stream_create(dev, 0, NULL), want, "stream_create(NULL)");
  cts_expect(t->event_create(dev, NULL), want, "event_create(NULL)");
  if (t->buffer_map) {
    xhal_plugin_buffer_t buf = NULL;
    cts_ok(t->buffer_alloc(dev, 16, XHAL_MEMORY_HOST_VISIBLE, &buf),
           "buffer_alloc host-visible");
    cts_expect(t->buffer_map(dev, buf, 0, 16, XHAL_MAP_READ, NULL), want,
               "buffer_map(NULL out_ptr)");
    t->buffer_free(dev, buf);
  }
}

static void test_device_index(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  const uint32_t bad[] = {d->device_count, d->device_count + 1u, UINT32_MAX};
  for (size_t i = 0; i < 3; ++i) {
    xhal_device_properties_t props;
    props.struct_size = (uint32_t)sizeof(props);
    cts_expect(t->device_properties(d->context, bad[i], &props),
               XHAL_ERROR_OUT_OF_RANGE, "device_properties(%u) of %u devices",
               bad[i], d->device_count);
    xhal_plugin_device_t dev = NULL;
    cts_expect(t->device_open(d->context, bad[i], &dev),
               XHAL_ERROR_OUT_OF_RANGE, "device_open(%u) of %u devices", bad[i],
               d->device_count);
  }
}

static void test_transfer_out_of_range(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = dev0(d);
  enum { kSize = 64 };
  xhal_plugin_buffer_t a = NULL, b = NULL;
  xhal_plugin_stream_t stream = NULL;
  cts_ok(t->buffer_alloc(dev, kSize, 0, &a), "buffer_alloc");
  cts_ok(t->buffer_alloc(dev, kSize, 0, &b), "buffer_alloc");
  cts_ok(t->stream_create(dev, 0, &stream), "stream_create");
  uint8_t data[kSize], host[kSize + 16], back[kSize];
  cts_rand_bytes(ctx, data, sizeof(data));
  cts_ok(t->enqueue_write(stream, a, 0, data, kSize), "write");
  cts_ok(t->enqueue_write(stream, b, 0, data, kSize), "write");
  cts_ok(t->stream_synchronize(stream), "synchronize");
  const struct {
    uint64_t off, size;
  } bad[] = {{60, 8}, {64, 1}, {0, 65}, {UINT64_MAX, 2}, {2, UINT64_MAX}};
  const xhal_status_t want = XHAL_ERROR_OUT_OF_RANGE;
  memset(host, 0x3C, sizeof(host));
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    uint64_t off = bad[i].off, size = bad[i].size;
    /* The host pointers are never read or written: the range check comes
     * first. */
    cts_step("out-of-range transfers [%llu, +%llu)", (unsigned long long)off,
             (unsigned long long)size);
    cts_expect(t->enqueue_write(stream, a, off, host, size), want,
               "enqueue_write [%llu, +%llu) of a %d-byte buffer",
               (unsigned long long)off, (unsigned long long)size, kSize);
    cts_expect(t->enqueue_read(stream, a, off, host, size), want,
               "enqueue_read [%llu, +%llu)", (unsigned long long)off,
               (unsigned long long)size);
    cts_expect(t->enqueue_copy(stream, a, off, b, 0, size), want,
               "enqueue_copy from [%llu, +%llu)", (unsigned long long)off,
               (unsigned long long)size);
    cts_expect(t->enqueue_copy(stream, a, 0, b, off, size), want,
               "enqueue_copy to [%llu, +%llu)", (unsigned long long)off,
               (unsigned long long)size);
    uint8_t pattern = 0x77;
    cts_expect(t->enqueue_fill(stream, a, off, size, &pattern, 1), want,
               "enqueue_fill [%llu, +%llu)", (unsigned long long)off,
               (unsigned long long)size);
  }
  cts_step("synchronize after refused transfers");
  cts_ok(t->stream_synchronize(stream), "the stream after refused transfers");
  for (size_t i = 0; i < sizeof(host); ++i) {
    cts_check(host[i] == 0x3C, "a refused enqueue_read wrote host byte %zu", i);
  }
  cts_ok(t->enqueue_read(stream, a, 0, back, kSize), "read a");
  cts_ok(t->stream_synchronize(stream), "synchronize");
  cts_check(memcmp(back, data, kSize) == 0,
            "refused transfers changed the buffer (byte %llu)",
            (unsigned long long)cts_first_diff(back, data, kSize));
  cts_ok(t->enqueue_read(stream, b, 0, back, kSize), "read b");
  cts_ok(t->stream_synchronize(stream), "synchronize");
  cts_check(memcmp(back, data, kSize) == 0,
            "refused copies changed the destination (byte %llu)",
            (unsigned long long)cts_first_diff(back, data, kSize));
  t->stream_destroy(stream);
  t->buffer_free(dev, a);
  t->buffer_free(dev, b);
}

static void test_fill_pattern(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = dev0(d);
  xhal_plugin_buffer_t buf = NULL;
  xhal_plugin_stream_t stream = NULL;
  cts_ok(t->buffer_alloc(dev, 64, 0, &buf), "buffer_alloc");
  cts_ok(t->stream_create(dev, 0, &stream), "stream_create");
  uint8_t pattern[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const struct {
    uint64_t off, size;
    uint32_t psize;
  } bad[] = {{0, 6, 3}, {0, 8, 0}, {0, 16, 8}, {0, 6, 4}, {0, 3, 2}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    cts_expect(t->enqueue_fill(stream, buf, bad[i].off, bad[i].size, pattern,
                               bad[i].psize),
               XHAL_ERROR_INVALID_ARGUMENT,
               "enqueue_fill offset %llu size %llu pattern_size %u",
               (unsigned long long)bad[i].off, (unsigned long long)bad[i].size,
               bad[i].psize);
  }
  cts_ok(t->stream_synchronize(stream), "synchronize");
  t->stream_destroy(stream);
  t->buffer_free(dev, buf);
}

static void test_stream_flags(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const uint32_t bad[] = {1u << 31, 0xFFFFFFFFu};
  for (size_t i = 0; i < 2; ++i) {
    xhal_plugin_stream_t stream = NULL;
    xhal_status_t s = d->table.stream_create(dev0(d), bad[i], &stream);
    if (s == XHAL_OK) d->table.stream_destroy(stream);
    cts_expect(s, XHAL_ERROR_INVALID_ARGUMENT, "stream_create(flags 0x%x)",
               bad[i]);
  }
}

static void test_map_flags(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = dev0(d);
  xhal_plugin_buffer_t buf = NULL;
  cts_ok(t->buffer_alloc(dev, 64, XHAL_MEMORY_HOST_VISIBLE, &buf),
         "buffer_alloc host-visible");
  const uint32_t bad[] = {1u << 2, XHAL_MAP_READ | (1u << 7), 0xFFFFFFFFu};
  for (size_t i = 0; i < 3; ++i) {
    void* ptr = NULL;
    xhal_status_t s = t->buffer_map(dev, buf, 0, 64, bad[i], &ptr);
    if (s == XHAL_OK) t->buffer_unmap(dev, buf, ptr);
    cts_expect(s, XHAL_ERROR_INVALID_ARGUMENT, "buffer_map(flags 0x%x)",
               bad[i]);
  }
  t->buffer_free(dev, buf);
}

/* Provokes a failure and checks the plugin reported it via set_error. */
static void expect_message(xhal_status_t got, xhal_status_t want,
                           const char* what) {
  cts_expect(got, want, "%s", what);
  xhal_status_t reported = XHAL_OK;
  const char* msg = cts_direct_last_message(&reported);
  cts_check(cts_direct_message_count() > 0 && msg[0] != '\0',
            "%s failed with %s without a message through set_error", what,
            xhal_status_name(got));
  cts_check(reported == got, "%s returned %s but reported %s through set_error",
            what, xhal_status_name(got), xhal_status_name(reported));
  cts_direct_clear_message();
}

static void test_messages(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = dev0(d);
  xhal_plugin_buffer_t buf = NULL;
  xhal_plugin_stream_t stream = NULL;
  xhal_plugin_event_t event = NULL;
  cts_ok(t->buffer_alloc(dev, 64, 0, &buf), "buffer_alloc");
  cts_ok(t->stream_create(dev, 0, &stream), "stream_create");
  cts_ok(t->event_create(dev, &event), "event_create");
  cts_direct_clear_message();
  xhal_plugin_buffer_t b2 = NULL;
  expect_message(t->buffer_alloc(dev, 0, 0, &b2), XHAL_ERROR_INVALID_ARGUMENT,
                 "buffer_alloc(size 0)");
  expect_message(t->buffer_alloc(dev, 16, 1u << 30, &b2),
                 XHAL_ERROR_INVALID_ARGUMENT, "buffer_alloc(unknown flags)");
  xhal_plugin_device_t other = NULL;
  expect_message(t->device_open(d->context, d->device_count, &other),
                 XHAL_ERROR_OUT_OF_RANGE, "device_open(count)");
  uint8_t host[8] = {0};
  expect_message(t->enqueue_write(stream, buf, 60, host, 8),
                 XHAL_ERROR_OUT_OF_RANGE, "enqueue_write past the end");
  expect_message(t->enqueue_fill(stream, buf, 0, 6, host, 4),
                 XHAL_ERROR_INVALID_ARGUMENT,
                 "enqueue_fill(size 6, pattern 4)");
  expect_message(t->event_query(event), XHAL_ERROR_INVALID_STATE,
                 "event_query of an event never recorded");
  t->event_destroy(event);
  t->stream_destroy(stream);
  t->buffer_free(dev, buf);
}

/* --------------------------------------------------------- libxhal level */

static void test_hal_buffer_args(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_device_properties_t p;
  cts_ok(xhal_device_properties(dev, &p), "properties");
  xhal_buffer_t buf = NULL;
  cts_expect(xhal_buffer_alloc(dev, 0, 0, &buf), XHAL_ERROR_INVALID_ARGUMENT,
             "xhal_buffer_alloc(size 0)");
  cts_expect(xhal_buffer_alloc(dev, 16, 1u << 30, &buf),
             XHAL_ERROR_INVALID_ARGUMENT, "xhal_buffer_alloc(unknown flags)");
  cts_expect(xhal_buffer_alloc(dev, 16, 0, NULL), XHAL_ERROR_INVALID_ARGUMENT,
             "xhal_buffer_alloc(NULL out)");
  if (p.max_alloc_bytes < UINT64_MAX) {
    cts_expect(xhal_buffer_alloc(dev, p.max_alloc_bytes + 1u, 0, &buf),
               XHAL_ERROR_OUT_OF_RANGE, "xhal_buffer_alloc(max + 1)");
  }
  if (!(p.capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY)) {
    cts_expect(xhal_buffer_alloc(dev, 16, XHAL_MEMORY_HOST_VISIBLE, &buf),
               XHAL_ERROR_UNSUPPORTED,
               "xhal_buffer_alloc(HOST_VISIBLE) without the capability");
  }
  xhal_buffer_t ok = cts_buffer(ctx, dev, 64, 0);
  void* ptr = NULL;
  if (p.capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY) {
    cts_expect(xhal_buffer_map(ok, 0, 64, XHAL_MAP_READ, &ptr),
               XHAL_ERROR_UNSUPPORTED,
               "xhal_buffer_map of a buffer allocated without HOST_VISIBLE");
    xhal_buffer_t hv = cts_buffer(ctx, dev, 64, XHAL_MEMORY_HOST_VISIBLE);
    cts_expect(xhal_buffer_map(hv, 60, 8, XHAL_MAP_READ, &ptr),
               XHAL_ERROR_OUT_OF_RANGE, "xhal_buffer_map past the end");
    uint8_t stray[4];
    cts_expect(xhal_buffer_unmap(hv, stray), XHAL_ERROR_INVALID_STATE,
               "xhal_buffer_unmap of a pointer never mapped");
    xhal_buffer_release(hv);
  }
  xhal_buffer_t view = NULL;
  cts_expect(xhal_buffer_subrange(ok, 60, 8, &view), XHAL_ERROR_OUT_OF_RANGE,
             "xhal_buffer_subrange past the end");
  xhal_buffer_release(ok);
}

static void test_hal_released_handles(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 16, 0);
  xhal_stream_t stream = cts_stream(dev);
  xhal_event_t event = cts_event(dev);
  xhal_buffer_release(buf);
  xhal_event_release(event);
  uint8_t byte = 0;
  uint64_t size = 0;
  cts_expect(xhal_buffer_size(buf, &size), XHAL_ERROR_INVALID_HANDLE,
             "xhal_buffer_size of a released buffer");
  cts_expect(xhal_stream_enqueue_write(stream, buf, 0, &byte, 1),
             XHAL_ERROR_INVALID_HANDLE, "enqueue_write to a released buffer");
  cts_expect(xhal_event_query(event), XHAL_ERROR_INVALID_HANDLE,
             "xhal_event_query of a released event");
  cts_expect(xhal_stream_synchronize(NULL), XHAL_ERROR_INVALID_HANDLE,
             "xhal_stream_synchronize(NULL)");
  xhal_stream_release(stream);
  cts_expect(xhal_stream_synchronize(stream), XHAL_ERROR_INVALID_HANDLE,
             "xhal_stream_synchronize of a released stream");
}

static void test_hal_ranges(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 64, 0);
  xhal_buffer_t other = cts_buffer(ctx, dev, 64, 0);
  xhal_stream_t stream = cts_stream(dev);
  uint8_t host[64] = {0};
  const xhal_status_t want = XHAL_ERROR_OUT_OF_RANGE;
  cts_expect(xhal_stream_enqueue_write(stream, buf, 60, host, 8), want,
             "xhal_stream_enqueue_write past the end");
  cts_expect(xhal_stream_enqueue_read(stream, buf, UINT64_MAX, host, 2), want,
             "xhal_stream_enqueue_read at an overflowing offset");
  cts_expect(xhal_stream_enqueue_copy(stream, buf, 0, other, 1, 64), want,
             "xhal_stream_enqueue_copy past the destination's end");
  cts_expect(xhal_stream_enqueue_fill(stream, buf, 32, 64, host, 1), want,
             "xhal_stream_enqueue_fill past the end");
  cts_expect(xhal_stream_enqueue_fill(stream, buf, 0, 6, host, 4),
             XHAL_ERROR_INVALID_ARGUMENT,
             "xhal_stream_enqueue_fill(size 6, pattern 4)");
  cts_expect(xhal_stream_enqueue_fill(stream, buf, 2, 8, host, 4),
             XHAL_ERROR_INVALID_ARGUMENT,
             "xhal_stream_enqueue_fill(offset 2, pattern 4)");
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  xhal_stream_release(stream);
  xhal_buffer_release(buf);
  xhal_buffer_release(other);
}

static void test_hal_events(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_event_t event = cts_event(dev);
  xhal_stream_t stream = cts_stream(dev);
  cts_expect(xhal_event_wait(event, 0), XHAL_ERROR_INVALID_STATE,
             "xhal_event_wait of an unrecorded event");
  cts_expect(xhal_event_query(event), XHAL_ERROR_INVALID_STATE,
             "xhal_event_query of an unrecorded event");
  cts_expect(xhal_stream_wait_event(stream, event), XHAL_ERROR_INVALID_STATE,
             "xhal_stream_wait_event on an unrecorded event");
  xhal_device_properties_t p;
  cts_ok(xhal_device_properties(dev, &p), "properties");
  if (!(p.capabilities & XHAL_CAP_PROFILING)) {
    xhal_event_t b = cts_event(dev);
    cts_ok(xhal_stream_record_event(stream, event), "record");
    cts_ok(xhal_stream_record_event(stream, b), "record");
    cts_ok(xhal_stream_synchronize(stream), "synchronize");
    uint64_t ns = 0;
    cts_expect(xhal_event_elapsed(event, b, &ns), XHAL_ERROR_UNSUPPORTED,
               "xhal_event_elapsed without XHAL_CAP_PROFILING");
    xhal_event_release(b);
  }
  xhal_event_release(event);
  xhal_stream_release(stream);
}

static void test_hal_op_calls(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_op_call_t call;
  xhal_op_call_init(&call, 0x7FFFu); /* below the custom base, not in it */
  xhal_op_impl_t impl = NULL;
  cts_expect(xhal_registry_lookup(dev, &call, &impl), XHAL_ERROR_NOT_FOUND,
             "lookup of an unknown operator id");
  xhal_op_call_init(&call, XHAL_OP_ADD);
  call.num_inputs = 2;
  for (int i = 0; i < 3; ++i) {
    xhal_tensor_t* t = i < 2 ? &call.inputs[i] : &call.outputs[0];
    t->desc.dtype = XHAL_DTYPE_F32;
    t->desc.rank = 1;
    t->desc.dims[0] = 4;
  }
  call.inputs[1].desc.dtype = XHAL_DTYPE_I32;
  cts_expect(xhal_op_validate(&call), XHAL_ERROR_DTYPE_MISMATCH,
             "add of f32 and i32");
  call.inputs[1].desc.dtype = XHAL_DTYPE_F32;
  call.inputs[1].desc.dims[0] = 3;
  cts_expect(xhal_op_validate(&call), XHAL_ERROR_SHAPE_MISMATCH,
             "add of [4] and [3]");
  call.inputs[1].desc.dims[0] = 4;
  call.num_inputs = 3;
  cts_expect(xhal_op_validate(&call), XHAL_ERROR_INVALID_ARGUMENT,
             "add with three inputs");
  call.num_inputs = 2;
  cts_ok(xhal_op_validate(&call), "a valid add");
  /* A valid call on a buffer too small for it. */
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t small = cts_buffer(ctx, dev, 8, 0);
  for (int i = 0; i < 2; ++i) call.inputs[i].buffer = small;
  call.outputs[0].buffer = small;
  xhal_status_t s = xhal_stream_enqueue_op(stream, NULL, &call);
  cts_check(s == XHAL_ERROR_OUT_OF_RANGE || s == XHAL_ERROR_NOT_FOUND,
            "enqueue_op with 16-byte tensors in an 8-byte buffer returned %s",
            xhal_status_name(s));
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  xhal_buffer_release(small);
  xhal_stream_release(stream);
}

static void test_bad_plugin_file(cts_ctx_t* ctx) {
  char dir[] = "/tmp/xhal-cts-XXXXXX";
  if (!mkdtemp(dir)) cts_fail("cannot make a temporary directory");
  char bogus[sizeof(dir) + 32];
  snprintf(bogus, sizeof(bogus), "%s/libxhal_cts_bogus.so", dir);
  FILE* f = fopen(bogus, "w");
  if (!f) cts_fail("cannot write %s", bogus);
  fputs("this is not a shared object\n", f);
  fclose(f);
  chmod(bogus, 0755);
  const char* paths[2] = {ctx->run->path, bogus};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = 2;
  options.ignore_environment = 1;
  options.log_level = XHAL_LOG_ERROR;
  xhal_instance_t instance = NULL;
  cts_ok(xhal_instance_create(&options, &instance),
         "xhal_instance_create with a bogus plugin file");
  unlink(bogus);
  rmdir(dir);
  uint32_t count = 0;
  cts_ok(xhal_instance_plugin_count(instance, &count), "plugin count");
  cts_check(count == 2, "libxhal lists %u plugins, want 2", count);
  xhal_plugin_info_t info;
  cts_ok(xhal_instance_plugin_info(instance, 1, &info), "plugin info 1");
  cts_check(info.state == XHAL_PLUGIN_STATE_REJECTED,
            "the bogus file was not rejected");
  cts_check(info.status == XHAL_ERROR_PLUGIN_LOAD,
            "the bogus file was rejected with %s",
            xhal_status_name(info.status));
  cts_check(info.reason[0] != '\0', "no reason for the rejection");
  cts_ok(xhal_instance_plugin_info(instance, 0, &info), "plugin info 0");
  cts_check(info.state == XHAL_PLUGIN_STATE_LOADED,
            "the plugin did not load beside a bogus file: %s", info.reason);
  cts_check(
      xhal_instance_plugin_info(instance, 2, &info) == XHAL_ERROR_OUT_OF_RANGE,
      "plugin info past the count is not XHAL_ERROR_OUT_OF_RANGE");
  xhal_device_t dev = NULL;
  cts_ok(xhal_instance_device(instance, ctx->run->device, &dev), "device %u",
         ctx->run->device);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 32, 0);
  uint8_t in[32], out[32];
  cts_rand_bytes(ctx, in, sizeof(in));
  cts_write_sync(stream, buf, 0, in, sizeof(in));
  cts_read_sync(stream, buf, 0, out, sizeof(out));
  cts_check(memcmp(in, out, sizeof(in)) == 0,
            "the plugin beside a rejected file reads back other bytes");
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
  cts_teardown_guard();
  cts_call(xhal_instance_release(instance));
}

static const cts_test_t kTests[] = {
    {"null_handles", "R-ERR-1", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_null_handles, 0},
    {"null_outputs", "R-ERR-2", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_null_outputs, 0},
    {"device_index", "R-ERR-3", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_device_index, 0},
    {"transfer_out_of_range", "R-ERR-4", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_transfer_out_of_range, 0},
    {"fill_pattern", "R-ERR-5", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_fill_pattern, 0},
    {"stream_flags", "R-ERR-6", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_stream_flags, 0},
    {"map_flags", "R-ERR-7", CTS_PROFILE_CORE, CTS_NEED_HOST_VISIBLE,
     test_map_flags, 0},
    {"messages", "R-ERR-8", CTS_PROFILE_CORE, CTS_NEED_NONE, test_messages, 0},
    {"hal_buffer_args", "R-ERR-9", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_hal_buffer_args, 0},
    {"hal_released_handles", "R-ERR-9", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_hal_released_handles, 0},
    {"hal_ranges", "R-ERR-9", CTS_PROFILE_CORE, CTS_NEED_NONE, test_hal_ranges,
     0},
    {"hal_events", "R-ERR-9", CTS_PROFILE_CORE, CTS_NEED_NONE, test_hal_events,
     0},
    {"hal_op_calls", "R-ERR-9", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_hal_op_calls, 0},
    {"bad_plugin_file", "R-ERR-10", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_bad_plugin_file, 0},
};

const cts_suite_t cts_suite_errors = {"errors", kTests,
                                      sizeof(kTests) / sizeof(kTests[0])};
