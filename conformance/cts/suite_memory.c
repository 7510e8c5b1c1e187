/*
 * suite_memory.c - buffers: allocation limits, transfers at odd sizes and
 * unaligned offsets with every byte checked, no writes outside the range,
 * mapping (docs/abi.md, R-MEM-*).
 *
 * Transfer tests keep a host model of each buffer and compare the whole
 * buffer after every operation, so a byte written one past the range (or
 * anywhere else) is caught, not only wrong bytes inside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cts.h"

/* Sizes and offsets chosen to miss every power-of-two fast path. */
static const uint64_t kOddSizes[] = {1,  2,  3,  5,   7,   8,   13,   31,
                                     63, 64, 65, 127, 255, 257, 1000, 4093};
static const uint64_t kOddOffsets[] = {0, 1, 3, 5, 7, 61, 255, 1021};
enum { kModelBytes = 8192 };

/* Reads the whole buffer and compares it with the model. */
static void check_model(xhal_stream_t stream, xhal_buffer_t buf,
                        const uint8_t* model, uint64_t size, const char* op) {
  uint8_t* back = cts_alloc(size);
  cts_read_sync(stream, buf, 0, back, size);
  uint64_t at = cts_first_diff(back, model, size);
  if (at != size) {
    cts_fail(
        "after %s: byte %llu of the %llu-byte buffer is 0x%02x, want "
        "0x%02x",
        op, (unsigned long long)at, (unsigned long long)size, back[at],
        model[at]);
  }
  free(back);
}

static xhal_plugin_device_t direct_device(cts_direct_t* d) {
  xhal_plugin_device_t dev = NULL;
  cts_ok(cts_direct_device(d, d->device_under_test, &dev), "device_open(%u)",
         d->device_under_test);
  return dev;
}

static xhal_device_properties_t direct_props(cts_direct_t* d) {
  xhal_device_properties_t p;
  memset(&p, 0, sizeof(p));
  p.struct_size = (uint32_t)sizeof(p);
  cts_ok(d->table.device_properties(d->context, d->device_under_test, &p),
         "device_properties(%u)", d->device_under_test);
  return p;
}

/* ---------------------------------------------------------- allocation */

static void test_alloc_sizes(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_device_properties_t p;
  cts_ok(xhal_device_properties(dev, &p), "properties");
  uint32_t flag_sets[4] = {0, XHAL_MEMORY_DEVICE_LOCAL, 0, 0};
  uint32_t nflags = 2;
  if (p.capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY) {
    flag_sets[nflags++] = XHAL_MEMORY_HOST_VISIBLE;
    flag_sets[nflags++] = XHAL_MEMORY_HOST_VISIBLE | XHAL_MEMORY_HOST_CACHED;
  }
  const uint64_t sizes[] = {
      1, 2, 3, 7, 63, 64, 65, 4095, 4096, 4097, (1u << 20) + 3};
  xhal_stream_t stream = cts_stream(dev);
  for (uint32_t f = 0; f < nflags; ++f) {
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); ++s) {
      if (sizes[s] > p.max_alloc_bytes) continue;
      xhal_buffer_t buf = cts_buffer(ctx, dev, sizes[s], flag_sets[f]);
      /* The last byte is usable: the allocation is at least that big. */
      uint8_t in = (uint8_t)(s * 31 + f), out = 0;
      cts_ok(xhal_stream_enqueue_write(stream, buf, sizes[s] - 1, &in, 1),
             "write the last byte of a %llu-byte buffer (flags 0x%x)",
             (unsigned long long)sizes[s], flag_sets[f]);
      cts_read_sync(stream, buf, sizes[s] - 1, &out, 1);
      cts_check(in == out, "last byte of a %llu-byte buffer reads back wrong",
                (unsigned long long)sizes[s]);
      xhal_buffer_release(buf);
    }
  }
  xhal_stream_release(stream);
}

static void test_alloc_zero_rejected(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  xhal_plugin_buffer_t buf = NULL;
  cts_step("buffer_alloc(size 0)");
  xhal_status_t s = d->table.buffer_alloc(direct_device(d), 0, 0, &buf);
  if (s == XHAL_OK) d->table.buffer_free(direct_device(d), buf);
  cts_expect(s, XHAL_ERROR_INVALID_ARGUMENT, "buffer_alloc of size 0");
}

static void test_alloc_too_large(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  xhal_device_properties_t p = direct_props(d);
  const uint64_t sizes[] = {p.max_alloc_bytes + 1u, UINT64_MAX};
  for (size_t i = 0; i < 2; ++i) {
    if (sizes[i] <= p.max_alloc_bytes) continue; /* max is UINT64_MAX */
    xhal_plugin_buffer_t buf = NULL;
    cts_step("buffer_alloc(%llu)", (unsigned long long)sizes[i]);
    xhal_status_t s =
        d->table.buffer_alloc(direct_device(d), sizes[i], 0, &buf);
    if (s == XHAL_OK) d->table.buffer_free(direct_device(d), buf);
    cts_expect(s, XHAL_ERROR_OUT_OF_RANGE,
               "buffer_alloc of %llu bytes (max_alloc_bytes %llu)",
               (unsigned long long)sizes[i],
               (unsigned long long)p.max_alloc_bytes);
  }
}

static void test_alloc_unknown_flags(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const uint32_t flags[] = {1u << 3, 1u << 31, 0xFFFFFFFFu};
  for (size_t i = 0; i < 3; ++i) {
    xhal_plugin_buffer_t buf = NULL;
    xhal_status_t s =
        d->table.buffer_alloc(direct_device(d), 64, flags[i], &buf);
    if (s == XHAL_OK) d->table.buffer_free(direct_device(d), buf);
    cts_expect(s, XHAL_ERROR_INVALID_ARGUMENT,
               "buffer_alloc with memory flags 0x%x", flags[i]);
  }
}

static void test_alloc_at_limit(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_device_properties_t p = direct_props(d);
  xhal_plugin_device_t dev = direct_device(d);
  xhal_plugin_buffer_t buf = NULL;
  cts_step("buffer_alloc(max_alloc_bytes = %llu)",
           (unsigned long long)p.max_alloc_bytes);
  xhal_status_t s = t->buffer_alloc(dev, p.max_alloc_bytes, 0, &buf);
  if (s == XHAL_ERROR_OUT_OF_MEMORY) return;
  cts_ok(s,
         "buffer_alloc of max_alloc_bytes (%llu) must succeed or report "
         "XHAL_ERROR_OUT_OF_MEMORY",
         (unsigned long long)p.max_alloc_bytes);
  xhal_plugin_stream_t stream = NULL;
  cts_ok(t->stream_create(dev, 0, &stream), "stream_create");
  uint8_t in[2] = {0x5A, 0xA5}, out[2] = {0, 0};
  uint64_t last = p.max_alloc_bytes - 1u;
  cts_ok(t->enqueue_write(stream, buf, 0, &in[0], 1), "write the first byte");
  cts_ok(t->enqueue_write(stream, buf, last, &in[1], 1), "write the last byte");
  cts_ok(t->enqueue_read(stream, buf, 0, &out[0], 1), "read the first byte");
  cts_ok(t->enqueue_read(stream, buf, last, &out[1], 1), "read the last byte");
  cts_step("stream_synchronize on the largest buffer");
  cts_ok(t->stream_synchronize(stream), "synchronize");
  cts_check(in[0] == out[0] && in[1] == out[1],
            "first/last byte of the largest buffer read back wrong");
  t->stream_destroy(stream);
  t->buffer_free(dev, buf);
}

/* ----------------------------------------------------------- transfers */

static void test_write_read_roundtrip(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, kModelBytes, 0);
  uint8_t* model = cts_alloc(kModelBytes);
  cts_rand_bytes(ctx, model, kModelBytes);
  cts_write_sync(stream, buf, 0, model, kModelBytes);
  uint8_t src[4096];
  uint8_t dst[4096 + 2];
  for (size_t s = 0; s < sizeof(kOddSizes) / sizeof(kOddSizes[0]); ++s) {
    for (size_t o = 0; o < sizeof(kOddOffsets) / sizeof(kOddOffsets[0]); ++o) {
      uint64_t size = kOddSizes[s];
      uint64_t off = kOddOffsets[o];
      if (off + size > kModelBytes) continue;
      cts_rand_bytes(ctx, src, size);
      cts_ok(xhal_stream_enqueue_write(stream, buf, off, src, size),
             "write %llu bytes at %llu", (unsigned long long)size,
             (unsigned long long)off);
      memcpy(model + off, src, size);
      /* Guard bytes around the host destination catch reads that write
       * too much host memory. */
      memset(dst, 0xEE, sizeof(dst));
      cts_read_sync(stream, buf, off, dst + 1, size);
      cts_check(dst[0] == 0xEE && dst[size + 1] == 0xEE,
                "enqueue_read of %llu bytes wrote host memory outside the "
                "destination",
                (unsigned long long)size);
      uint64_t at = cts_first_diff(dst + 1, src, size);
      cts_check(at == size,
                "%llu bytes written at offset %llu read back wrong at byte "
                "%llu",
                (unsigned long long)size, (unsigned long long)off,
                (unsigned long long)at);
    }
  }
  check_model(stream, buf, model, kModelBytes, "odd-sized writes");
  free(model);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

static void test_copy_bounds(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t src = cts_buffer(ctx, dev, kModelBytes, 0);
  xhal_buffer_t dst = cts_buffer(ctx, dev, kModelBytes, 0);
  uint8_t* src_model = cts_alloc(kModelBytes);
  uint8_t* dst_model = cts_alloc(kModelBytes);
  cts_rand_bytes(ctx, src_model, kModelBytes);
  memset(dst_model, 0x5A, kModelBytes);
  cts_write_sync(stream, src, 0, src_model, kModelBytes);
  cts_write_sync(stream, dst, 0, dst_model, kModelBytes);
  for (size_t s = 0; s < sizeof(kOddSizes) / sizeof(kOddSizes[0]); ++s) {
    uint64_t size = kOddSizes[s];
    uint64_t src_off = kOddOffsets[s % 8];
    uint64_t dst_off = kOddOffsets[(s + 3) % 8] + 7u * s;
    /* Every range ends inside the buffer, so a byte past it lands in
     * memory the model sees. */
    if (src_off + size >= kModelBytes || dst_off + size >= kModelBytes)
      continue;
    cts_ok(xhal_stream_enqueue_copy(stream, src, src_off, dst, dst_off, size),
           "copy %llu bytes %llu -> %llu", (unsigned long long)size,
           (unsigned long long)src_off, (unsigned long long)dst_off);
    memcpy(dst_model + dst_off, src_model + src_off, size);
    char op[96];
    snprintf(op, sizeof(op), "a copy of %llu bytes from %llu to %llu",
             (unsigned long long)size, (unsigned long long)src_off,
             (unsigned long long)dst_off);
    check_model(stream, dst, dst_model, kModelBytes, op);
  }
  check_model(stream, src, src_model, kModelBytes, "copies (source buffer)");
  free(src_model);
  free(dst_model);
  xhal_buffer_release(src);
  xhal_buffer_release(dst);
  xhal_stream_release(stream);
}

static void test_copy_overlap(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, kModelBytes, 0);
  uint8_t* model = cts_alloc(kModelBytes);
  cts_rand_bytes(ctx, model, kModelBytes);
  cts_write_sync(stream, buf, 0, model, kModelBytes);
  /* Forward and backward overlaps, small and large shifts. */
  const struct {
    uint64_t src, dst, size;
  } cases[] = {{0, 1, 1000},    {1, 0, 1000},     {100, 103, 777},
               {103, 100, 777}, {10, 2000, 3000}, {2000, 10, 3000},
               {5, 5, 64}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    cts_ok(xhal_stream_enqueue_copy(stream, buf, cases[i].src, buf,
                                    cases[i].dst, cases[i].size),
           "overlapping copy %llu -> %llu of %llu bytes",
           (unsigned long long)cases[i].src, (unsigned long long)cases[i].dst,
           (unsigned long long)cases[i].size);
    memmove(model + cases[i].dst, model + cases[i].src, cases[i].size);
    char op[96];
    snprintf(op, sizeof(op), "an overlapping copy %llu -> %llu of %llu bytes",
             (unsigned long long)cases[i].src, (unsigned long long)cases[i].dst,
             (unsigned long long)cases[i].size);
    check_model(stream, buf, model, kModelBytes, op);
  }
  free(model);
  xhal_buffer_release(buf);
  /* Overlaps longer than any transfer chunk a device splits copies into
   * (page, DMA descriptor): each chunk must read its source before an
   * earlier chunk overwrote it. */
  enum { kLarge = 600000 };
  buf = cts_buffer(ctx, dev, kLarge, 0);
  model = cts_alloc(kLarge);
  cts_rand_bytes(ctx, model, kLarge);
  cts_write_sync(stream, buf, 0, model, kLarge);
  const struct {
    uint64_t src, dst, size;
  } large[] = {{0, 1, 300000},      {1, 0, 300000},      {0, 65536, 400000},
               {65536, 0, 400000},  {3, 131075, 262144}, {131075, 3, 262144},
               {4096, 8192, 520000}};
  for (size_t i = 0; i < sizeof(large) / sizeof(large[0]); ++i) {
    cts_ok(xhal_stream_enqueue_copy(stream, buf, large[i].src, buf,
                                    large[i].dst, large[i].size),
           "overlapping copy %llu -> %llu of %llu bytes",
           (unsigned long long)large[i].src, (unsigned long long)large[i].dst,
           (unsigned long long)large[i].size);
    memmove(model + large[i].dst, model + large[i].src, large[i].size);
    char op[96];
    snprintf(op, sizeof(op), "an overlapping copy %llu -> %llu of %llu bytes",
             (unsigned long long)large[i].src, (unsigned long long)large[i].dst,
             (unsigned long long)large[i].size);
    check_model(stream, buf, model, kLarge, op);
  }
  free(model);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

/* ------------------------------------- sizes at page and chunk borders */

/* Sizes and offsets at, one before and one past the borders where
 * devices split transfers: 4 KiB pages, 64 KiB DMA chunks, 1 MiB blocks,
 * and offsets that put a transfer across each border. */
static const uint64_t kBorderSizes[] = {
    4095, 4096, 4097, 65535, 65536, 65537, 131072, 1048575, 1048576, 1048577};
static const uint64_t kBorderOffsets[] = {0,    1,     63,    4095,
                                          4096, 65535, 65536, 131071};
enum { kBorderBytes = (1 << 20) + (1 << 18) };

static void test_transfer_boundaries(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, kBorderBytes, 0);
  uint8_t* model = cts_alloc(kBorderBytes);
  uint8_t* src = cts_alloc(1048577);
  uint8_t* dst = cts_alloc(1048577 + 2);
  cts_rand_bytes(ctx, model, kBorderBytes);
  cts_write_sync(stream, buf, 0, model, kBorderBytes);
  const size_t nsizes = sizeof(kBorderSizes) / sizeof(kBorderSizes[0]);
  const size_t noffs = sizeof(kBorderOffsets) / sizeof(kBorderOffsets[0]);
  for (size_t i = 0; i < 2 * nsizes; ++i) {
    uint64_t size = kBorderSizes[i % nsizes];
    uint64_t off = kBorderOffsets[(i + i / nsizes * 3) % noffs];
    cts_rand_bytes(ctx, src, size);
    cts_ok(xhal_stream_enqueue_write(stream, buf, off, src, size),
           "write %llu bytes at %llu", (unsigned long long)size,
           (unsigned long long)off);
    memcpy(model + off, src, size);
    memset(dst, 0xEE, size + 2);
    cts_read_sync(stream, buf, off, dst + 1, size);
    cts_check(dst[0] == 0xEE && dst[size + 1] == 0xEE,
              "enqueue_read of %llu bytes at %llu wrote host memory outside "
              "the destination",
              (unsigned long long)size, (unsigned long long)off);
    uint64_t at = cts_first_diff(dst + 1, src, size);
    cts_check(at == size,
              "%llu bytes written at offset %llu read back wrong at byte "
              "%llu",
              (unsigned long long)size, (unsigned long long)off,
              (unsigned long long)at);
    char op[96];
    snprintf(op, sizeof(op), "a write of %llu bytes at %llu",
             (unsigned long long)size, (unsigned long long)off);
    check_model(stream, buf, model, kBorderBytes, op);
  }
  free(model);
  free(src);
  free(dst);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

static void test_copy_boundaries(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t src = cts_buffer(ctx, dev, kBorderBytes, 0);
  xhal_buffer_t dst = cts_buffer(ctx, dev, kBorderBytes, 0);
  uint8_t* src_model = cts_alloc(kBorderBytes);
  uint8_t* dst_model = cts_alloc(kBorderBytes);
  cts_rand_bytes(ctx, src_model, kBorderBytes);
  memset(dst_model, 0x5A, kBorderBytes);
  cts_write_sync(stream, src, 0, src_model, kBorderBytes);
  cts_write_sync(stream, dst, 0, dst_model, kBorderBytes);
  const size_t nsizes = sizeof(kBorderSizes) / sizeof(kBorderSizes[0]);
  const size_t noffs = sizeof(kBorderOffsets) / sizeof(kBorderOffsets[0]);
  for (size_t i = 0; i < nsizes; ++i) {
    uint64_t size = kBorderSizes[i];
    uint64_t src_off = kBorderOffsets[i % noffs];
    uint64_t dst_off = kBorderOffsets[(i + 3) % noffs];
    cts_ok(xhal_stream_enqueue_copy(stream, src, src_off, dst, dst_off, size),
           "copy %llu bytes %llu -> %llu", (unsigned long long)size,
           (unsigned long long)src_off, (unsigned long long)dst_off);
    memcpy(dst_model + dst_off, src_model + src_off, size);
    char op[96];
    snprintf(op, sizeof(op), "a copy of %llu bytes from %llu to %llu",
             (unsigned long long)size, (unsigned long long)src_off,
             (unsigned long long)dst_off);
    check_model(stream, dst, dst_model, kBorderBytes, op);
  }
  check_model(stream, src, src_model, kBorderBytes, "copies (source buffer)");
  free(src_model);
  free(dst_model);
  xhal_buffer_release(src);
  xhal_buffer_release(dst);
  xhal_stream_release(stream);
}

/* Fills at the same borders, with every pattern size. */
static void test_fill_boundaries(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, kBorderBytes, 0);
  uint8_t* model = cts_alloc(kBorderBytes);
  cts_rand_bytes(ctx, model, kBorderBytes);
  cts_write_sync(stream, buf, 0, model, kBorderBytes);
  const uint32_t psizes[] = {1, 2, 4};
  const size_t nsizes = sizeof(kBorderSizes) / sizeof(kBorderSizes[0]);
  const size_t noffs = sizeof(kBorderOffsets) / sizeof(kBorderOffsets[0]);
  for (size_t i = 0; i < 2 * nsizes; ++i) {
    uint32_t ps = psizes[i % 3];
    uint64_t size = kBorderSizes[i % nsizes] / ps * ps;
    /* Offsets of a fill are multiples of its pattern (xhal.h). */
    uint64_t off = kBorderOffsets[(i + 5) % noffs] / ps * ps;
    uint8_t pattern[4];
    cts_rand_bytes(ctx, pattern, sizeof(pattern));
    cts_ok(xhal_stream_enqueue_fill(stream, buf, off, size, pattern, ps),
           "fill %llu bytes at %llu with a %u-byte pattern",
           (unsigned long long)size, (unsigned long long)off, ps);
    for (uint64_t b = 0; b < size; ++b) model[off + b] = pattern[b % ps];
    char op[96];
    snprintf(op, sizeof(op), "a %u-byte-pattern fill of %llu bytes at %llu", ps,
             (unsigned long long)size, (unsigned long long)off);
    check_model(stream, buf, model, kBorderBytes, op);
  }
  free(model);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

/* ------------------------------------------------ alloc and free cycles */

/* Memory comes back when a buffer is freed, also when work still used it
 * at the free: cycling more bytes than the device has keeps working. */
static void test_alloc_free_cycles(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_device_properties_t p;
  cts_ok(xhal_device_properties(dev, &p), "properties");
  xhal_stream_t stream = cts_stream(dev);
  int gated = (p.capabilities & XHAL_CAP_HOST_FUNC) != 0;
  uint64_t size =
      p.max_alloc_bytes < (256u << 20) ? p.max_alloc_bytes : (256u << 20);
  /* The largest size that allocates at all (R-MEM-5 lets the very
   * largest fail with XHAL_ERROR_OUT_OF_MEMORY). */
  for (;;) {
    xhal_buffer_t probe = NULL;
    xhal_status_t s = xhal_buffer_alloc(dev, size, 0, &probe);
    if (s == XHAL_OK) {
      xhal_buffer_release(probe);
      break;
    }
    cts_check(s == XHAL_ERROR_OUT_OF_MEMORY && size > (1u << 20),
              "buffer_alloc(%llu) failed with %s", (unsigned long long)size,
              xhal_status_name(s));
    size /= 2;
  }
  uint64_t cycles = p.memory_bytes / size + 3u;
  if (cycles > 64) cycles = 64;
  uint8_t byte = 0x3C, back = 0;
  for (uint64_t c = 0; c < cycles; ++c) {
    xhal_buffer_t buf = NULL;
    cts_step("alloc/free cycle %llu of %llu (%llu bytes each)",
             (unsigned long long)c, (unsigned long long)cycles,
             (unsigned long long)size);
    xhal_status_t s = xhal_buffer_alloc(dev, size, 0, &buf);
    cts_check(s == XHAL_OK,
              "buffer_alloc(%llu) failed with %s in cycle %llu of %llu "
              "(each cycle frees its buffer, %llu bytes cycled so far, the "
              "device has %llu): %s",
              (unsigned long long)size, xhal_status_name(s),
              (unsigned long long)c, (unsigned long long)cycles,
              (unsigned long long)(c * size),
              (unsigned long long)p.memory_bytes, xhal_last_error());
    cts_gate_t* gate = NULL;
    if (gated && c % 2 == 1) {
      /* Freed while a write to it waits behind a gate. */
      gate = cts_gate_new();
      cts_gate_open_after(gate, 1);
      cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate),
             "gate");
    }
    cts_ok(xhal_stream_enqueue_write(stream, buf, size - 1, &byte, 1),
           "write the last byte");
    cts_ok(xhal_stream_enqueue_read(stream, buf, size - 1, &back, 1),
           "read the last byte");
    xhal_buffer_release(buf);
    cts_ok(xhal_stream_synchronize(stream), "synchronize");
    cts_check(back == byte, "the last byte read back 0x%02x", back);
    back = 0;
    if (gate) cts_gate_free(gate);
  }
  xhal_stream_release(stream);
}

static void test_fill_patterns(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, kModelBytes, 0);
  uint8_t* model = cts_alloc(kModelBytes);
  cts_rand_bytes(ctx, model, kModelBytes);
  cts_write_sync(stream, buf, 0, model, kModelBytes);
  const uint32_t psizes[] = {1, 2, 4};
  for (size_t p = 0; p < 3; ++p) {
    uint32_t ps = psizes[p];
    for (size_t s = 0; s < sizeof(kOddSizes) / sizeof(kOddSizes[0]); ++s) {
      uint64_t size = kOddSizes[s] * ps;
      uint64_t off = kOddOffsets[(s + p) % 8] * ps;
      if (off + size >= kModelBytes) continue;
      uint8_t pattern[4];
      cts_rand_bytes(ctx, pattern, sizeof(pattern));
      cts_ok(xhal_stream_enqueue_fill(stream, buf, off, size, pattern, ps),
             "fill %llu bytes at %llu with a %u-byte pattern",
             (unsigned long long)size, (unsigned long long)off, ps);
      for (uint64_t i = 0; i < size; ++i) model[off + i] = pattern[i % ps];
      char op[96];
      snprintf(op, sizeof(op), "a %u-byte-pattern fill of %llu bytes at %llu",
               ps, (unsigned long long)size, (unsigned long long)off);
      check_model(stream, buf, model, kModelBytes, op);
    }
  }
  free(model);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

static void test_buffers_independent(cts_ctx_t* ctx) {
  enum { kBuffers = 16 };
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t bufs[kBuffers];
  uint8_t* models[kBuffers];
  uint64_t sizes[kBuffers];
  for (int i = 0; i < kBuffers; ++i) {
    sizes[i] = 1u + (uint64_t)(i * 397) % 3000u;
    bufs[i] = cts_buffer(ctx, dev, sizes[i], 0);
    models[i] = cts_alloc(sizes[i]);
    cts_rand_bytes(ctx, models[i], sizes[i]);
    cts_ok(xhal_stream_enqueue_write(stream, bufs[i], 0, models[i], sizes[i]),
           "write buffer %d", i);
  }
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  /* Overwrite each buffer whole, then check every other one. */
  for (int i = 0; i < kBuffers; ++i) {
    uint8_t value = (uint8_t)(0x11 * (i + 1));
    cts_ok(xhal_stream_enqueue_fill(stream, bufs[i], 0, sizes[i], &value, 1),
           "fill buffer %d", i);
    memset(models[i], value, sizes[i]);
  }
  for (int i = 0; i < kBuffers; ++i) {
    char op[64];
    snprintf(op, sizeof(op), "filling 16 buffers (buffer %d)", i);
    check_model(stream, bufs[i], models[i], sizes[i], op);
    xhal_buffer_release(bufs[i]);
    free(models[i]);
  }
  xhal_stream_release(stream);
}

/* --------------------------------------------------------------- maps */

static void test_map_coherent(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  enum { kSize = 4099 };
  xhal_buffer_t buf = cts_buffer(ctx, dev, kSize, XHAL_MEMORY_HOST_VISIBLE);
  uint8_t* data = cts_alloc(kSize);
  cts_rand_bytes(ctx, data, kSize);
  cts_write_sync(stream, buf, 0, data, kSize);
  void* ptr = NULL;
  cts_ok(xhal_buffer_map(buf, 0, kSize, XHAL_MAP_READ | XHAL_MAP_WRITE, &ptr),
         "map the whole buffer");
  cts_check(memcmp(ptr, data, kSize) == 0,
            "the mapping shows other bytes than the stream wrote (byte %llu)",
            (unsigned long long)cts_first_diff(ptr, data, kSize));
  cts_rand_bytes(ctx, data, kSize);
  memcpy(ptr, data, kSize);
  cts_ok(xhal_buffer_unmap(buf, ptr), "unmap");
  uint8_t* back = cts_alloc(kSize);
  cts_read_sync(stream, buf, 0, back, kSize);
  cts_check(memcmp(back, data, kSize) == 0,
            "bytes written through the mapping are not seen by a read "
            "(byte %llu)",
            (unsigned long long)cts_first_diff(back, data, kSize));
  free(back);
  free(data);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

static void test_map_offset_alignment(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_device_properties_t p;
  cts_ok(xhal_device_properties(dev, &p), "properties");
  xhal_stream_t stream = cts_stream(dev);
  enum { kSize = 8191 };
  xhal_buffer_t buf = cts_buffer(ctx, dev, kSize, XHAL_MEMORY_HOST_VISIBLE);
  uint8_t* data = cts_alloc(kSize);
  cts_rand_bytes(ctx, data, kSize);
  cts_write_sync(stream, buf, 0, data, kSize);
  void* ptr = NULL;
  cts_ok(xhal_buffer_map(buf, 0, kSize, XHAL_MAP_READ, &ptr), "map at 0");
  cts_check((uintptr_t)ptr % p.alignment == 0,
            "a mapping at offset 0 is at %p, not aligned to the device's "
            "alignment %llu",
            ptr, (unsigned long long)p.alignment);
  cts_ok(xhal_buffer_unmap(buf, ptr), "unmap");
  const uint64_t offs[] = {1, 3, 64, 1001, kSize - 1};
  for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); ++i) {
    uint64_t size = kSize - offs[i] < 100 ? kSize - offs[i] : 100;
    cts_ok(xhal_buffer_map(buf, offs[i], size, XHAL_MAP_READ, &ptr),
           "map [%llu, +%llu)", (unsigned long long)offs[i],
           (unsigned long long)size);
    cts_check(memcmp(ptr, data + offs[i], size) == 0,
              "a mapping at offset %llu does not point at byte %llu",
              (unsigned long long)offs[i], (unsigned long long)offs[i]);
    cts_ok(xhal_buffer_unmap(buf, ptr), "unmap");
  }
  free(data);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

static void test_unmap_not_mapped(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = direct_device(d);
  xhal_plugin_buffer_t buf = NULL;
  cts_ok(t->buffer_alloc(dev, 256, XHAL_MEMORY_HOST_VISIBLE, &buf),
         "buffer_alloc host-visible");
  uint8_t stray[16];
  cts_expect(t->buffer_unmap(dev, buf, stray), XHAL_ERROR_INVALID_STATE,
             "buffer_unmap of a pointer that was never mapped");
  void* ptr = NULL;
  cts_ok(t->buffer_map(dev, buf, 0, 256, XHAL_MAP_READ, &ptr), "buffer_map");
  cts_ok(t->buffer_unmap(dev, buf, ptr), "buffer_unmap");
  cts_expect(t->buffer_unmap(dev, buf, ptr), XHAL_ERROR_INVALID_STATE,
             "a second buffer_unmap of the same pointer");
  t->buffer_free(dev, buf);
}

static void test_map_not_host_visible(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = direct_device(d);
  xhal_plugin_buffer_t buf = NULL;
  cts_ok(t->buffer_alloc(dev, 256, XHAL_MEMORY_DEVICE_LOCAL, &buf),
         "buffer_alloc device-local");
  void* ptr = NULL;
  cts_step("buffer_map of a device-local buffer");
  xhal_status_t s = t->buffer_map(dev, buf, 0, 256, XHAL_MAP_READ, &ptr);
  if (s == XHAL_OK) {
    cts_check(ptr != NULL, "buffer_map returned XHAL_OK and a NULL pointer");
    cts_ok(t->buffer_unmap(dev, buf, ptr), "unmap");
  } else {
    cts_expect(s, XHAL_ERROR_UNSUPPORTED,
               "buffer_map of a buffer allocated without "
               "XHAL_MEMORY_HOST_VISIBLE");
  }
  t->buffer_free(dev, buf);
}

static void test_free_while_in_use(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  enum { kSize = 1 << 16 };
  xhal_buffer_t a = cts_buffer(ctx, dev, kSize, 0);
  xhal_buffer_t b = cts_buffer(ctx, dev, kSize, 0);
  uint8_t* data = cts_alloc(kSize);
  cts_rand_bytes(ctx, data, kSize);
  cts_write_sync(stream, a, 0, data, kSize);
  cts_gate_t* gate = cts_gate_new();
  cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
  cts_ok(xhal_stream_enqueue_copy(stream, a, 0, b, 0, kSize), "copy a -> b");
  /* The copy has not run (the gate is closed); a is released now. A
   * plugin may wait for the stream here, so the gate opens from
   * another thread. */
  cts_step("buffer_free of a buffer pending work still reads");
  cts_gate_open_after(gate, 100);
  xhal_buffer_release(a);
  cts_step("synchronize after freeing a buffer in use");
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  uint8_t* back = cts_alloc(kSize);
  cts_read_sync(stream, b, 0, back, kSize);
  cts_check(memcmp(back, data, kSize) == 0,
            "a copy from a buffer freed while the copy was pending gave "
            "other bytes (byte %llu)",
            (unsigned long long)cts_first_diff(back, data, kSize));
  cts_gate_join(gate);
  cts_gate_free(gate);
  free(back);
  free(data);
  xhal_buffer_release(b);
  xhal_stream_release(stream);
}

static void test_map_out_of_range(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = direct_device(d);
  xhal_plugin_buffer_t buf = NULL;
  cts_ok(t->buffer_alloc(dev, 256, XHAL_MEMORY_HOST_VISIBLE, &buf),
         "buffer_alloc host-visible");
  const struct {
    uint64_t off, size;
  } cases[] = {{256, 1}, {255, 2}, {0, 257}, {UINT64_MAX, 2}, {2, UINT64_MAX}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    void* ptr = NULL;
    xhal_status_t s = t->buffer_map(dev, buf, cases[i].off, cases[i].size,
                                    XHAL_MAP_READ, &ptr);
    if (s == XHAL_OK) t->buffer_unmap(dev, buf, ptr);
    cts_expect(s, XHAL_ERROR_OUT_OF_RANGE,
               "buffer_map [%llu, +%llu) of a 256-byte buffer",
               (unsigned long long)cases[i].off,
               (unsigned long long)cases[i].size);
  }
  t->buffer_free(dev, buf);
}

/* ---------------------------------------------------------- host memory */

/* host_alloc (ABI 1.2): live allocations are big enough, aligned, apart
 * from each other, keep their bytes, and serve the device's transfers in
 * both directions. */
static void test_host_alloc(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = direct_device(d);
  enum { kCount = 6, kBig = (1 << 20) + 3 };
  const uint64_t sizes[kCount] = {1, 63, 4097, 65536, kBig, kBig};
  uint8_t* ptr[kCount] = {NULL};
  for (int i = 0; i < kCount; ++i) {
    void* p = NULL;
    cts_ok(t->host_alloc(dev, sizes[i], &p), "host_alloc(%llu)",
           (unsigned long long)sizes[i]);
    cts_check(p != NULL, "host_alloc(%llu) returned XHAL_OK and NULL",
              (unsigned long long)sizes[i]);
    cts_check((uintptr_t)p % 64 == 0,
              "host_alloc(%llu) returned %p, not 64-byte aligned",
              (unsigned long long)sizes[i], p);
    ptr[i] = p;
  }
  for (int i = 0; i < kCount; ++i) {
    for (int j = i + 1; j < kCount; ++j) {
      uintptr_t a = (uintptr_t)ptr[i], b = (uintptr_t)ptr[j];
      cts_check(a + sizes[i] <= b || b + sizes[j] <= a,
                "live host allocations overlap: %llu bytes at %p and %llu "
                "bytes at %p",
                (unsigned long long)sizes[i], ptr[i],
                (unsigned long long)sizes[j], ptr[j]);
    }
  }
  /* Every byte is the host's: fill all, then check all. */
  for (int i = 0; i < kCount; ++i) memset(ptr[i], 0x11 * (i + 1), sizes[i]);
  for (int i = 0; i < kCount; ++i) {
    for (uint64_t k = 0; k < sizes[i]; ++k) {
      if (ptr[i][k] != (uint8_t)(0x11 * (i + 1))) {
        cts_fail(
            "byte %llu of host allocation %d (%llu bytes) is 0x%02x "
            "after the others were filled, want 0x%02x",
            (unsigned long long)k, i, (unsigned long long)sizes[i], ptr[i][k],
            (uint8_t)(0x11 * (i + 1)));
      }
    }
  }
  /* Host allocation -> device -> another host allocation. */
  uint8_t* src = ptr[kCount - 2];
  uint8_t* dst = ptr[kCount - 1];
  cts_rand_bytes(ctx, src, kBig);
  xhal_plugin_buffer_t buf = NULL;
  xhal_plugin_stream_t stream = NULL;
  cts_ok(t->buffer_alloc(dev, kBig, 0, &buf), "buffer_alloc");
  cts_ok(t->stream_create(dev, 0, &stream), "stream_create");
  cts_ok(t->enqueue_write(stream, buf, 0, src, kBig),
         "enqueue_write from a host allocation");
  cts_ok(t->enqueue_read(stream, buf, 0, dst, kBig),
         "enqueue_read into a host allocation");
  cts_ok(t->stream_synchronize(stream), "stream_synchronize");
  uint64_t at = cts_first_diff(dst, src, kBig);
  cts_check(at == kBig,
            "%d bytes written from one host allocation and read into "
            "another differ at byte %llu",
            kBig, (unsigned long long)at);
  t->stream_destroy(stream);
  t->buffer_free(dev, buf);
  for (int i = 0; i < kCount; ++i) t->host_free(dev, ptr[i]);
}

/* xhal_host_alloc on any device (the plugin's memory or libxhal's) and
 * the errors libxhal answers for it. */
static void test_host_alloc_api(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  enum { kSize = 3 * 4096 + 5 };
  void* a = NULL;
  void* b = NULL;
  cts_ok(xhal_host_alloc(dev, kSize, &a), "xhal_host_alloc(a)");
  cts_ok(xhal_host_alloc(dev, kSize, &b), "xhal_host_alloc(b)");
  cts_check(a && b && (uintptr_t)a % 64 == 0 && (uintptr_t)b % 64 == 0,
            "xhal_host_alloc returned %p and %p (non-NULL, 64-byte "
            "aligned wanted)",
            a, b);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, kSize, 0);
  cts_rand_bytes(ctx, a, kSize);
  memset(b, 0, kSize);
  cts_write_sync(stream, buf, 0, a, kSize);
  cts_read_sync(stream, buf, 0, b, kSize);
  cts_check(memcmp(a, b, kSize) == 0,
            "a round trip between two host allocations differs at byte "
            "%llu",
            (unsigned long long)cts_first_diff(a, b, kSize));

  void* p = (void*)1;
  cts_expect(xhal_host_alloc(dev, 0, &p), XHAL_ERROR_INVALID_ARGUMENT,
             "xhal_host_alloc of size 0");
  cts_check(p == NULL, "a failed xhal_host_alloc left *out_ptr at %p", p);
  cts_expect(xhal_host_alloc(dev, 64, NULL), XHAL_ERROR_INVALID_ARGUMENT,
             "xhal_host_alloc with out_ptr NULL");
  cts_expect(xhal_host_alloc(NULL, 64, &p), XHAL_ERROR_INVALID_HANDLE,
             "xhal_host_alloc on a NULL device");
  uint8_t not_ours[64];
  cts_expect(xhal_host_free(dev, not_ours), XHAL_ERROR_INVALID_ARGUMENT,
             "xhal_host_free of memory xhal_host_alloc did not return");
  cts_expect(xhal_host_free(dev, (uint8_t*)a + 64), XHAL_ERROR_INVALID_ARGUMENT,
             "xhal_host_free of a pointer inside an allocation");
  cts_ok(xhal_host_free(dev, NULL), "xhal_host_free(NULL)");
  cts_ok(xhal_host_free(dev, a), "xhal_host_free(a)");
  cts_expect(xhal_host_free(dev, a), XHAL_ERROR_INVALID_ARGUMENT,
             "xhal_host_free of an allocation freed already");
  /* b stays live: the instance frees it when it goes. */
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

/* R-MEM-19: libxhal never passes a transfer of 0 bytes to a plugin
 * (xhal.h answers it itself), but another host may: the plugin must not
 * crash, change a byte or fail the stream. */
static void zero_ok(xhal_status_t got, const char* what, uint64_t offset) {
  cts_check(got == XHAL_OK || got == XHAL_ERROR_INVALID_ARGUMENT,
            "%s of 0 bytes at offset %llu returned %s (want XHAL_OK, or "
            "XHAL_ERROR_INVALID_ARGUMENT)",
            what, (unsigned long long)offset, xhal_status_name(got));
}

static void test_zero_size_direct(cts_ctx_t* ctx) {
  enum { kSize = 256 };
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = direct_device(d);
  xhal_plugin_buffer_t a = NULL;
  xhal_plugin_buffer_t b = NULL;
  xhal_plugin_stream_t s = NULL;
  cts_ok(t->buffer_alloc(dev, kSize, 0, &a), "buffer_alloc(%d)", kSize);
  cts_ok(t->buffer_alloc(dev, kSize, 0, &b), "buffer_alloc(%d)", kSize);
  cts_ok(t->stream_create(dev, 0, &s), "stream_create");
  uint8_t want_a[kSize], want_b[kSize], host[kSize], back[kSize];
  cts_rand_bytes(ctx, want_a, kSize);
  cts_rand_bytes(ctx, want_b, kSize);
  memset(host, 0xA5, kSize);
  cts_ok(t->enqueue_write(s, a, 0, want_a, kSize), "enqueue_write");
  cts_ok(t->enqueue_write(s, b, 0, want_b, kSize), "enqueue_write");
  const uint32_t pattern = 0xFFFFFFFFu;
  const uint64_t offsets[] = {0, 17, kSize};
  for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); ++i) {
    const uint64_t off = offsets[i];
    cts_step("transfers of 0 bytes at offset %llu", (unsigned long long)off);
    zero_ok(t->enqueue_write(s, a, off, host, 0), "enqueue_write", off);
    zero_ok(t->enqueue_read(s, a, off, host, 0), "enqueue_read", off);
    zero_ok(t->enqueue_copy(s, a, off, b, off, 0), "enqueue_copy", off);
    zero_ok(t->enqueue_fill(s, b, off, 0, &pattern, 4), "enqueue_fill", off);
  }
  cts_step("stream_synchronize after transfers of 0 bytes");
  cts_ok(t->stream_synchronize(s),
         "stream_synchronize after transfers of 0 bytes (they must not fail "
         "the stream)");
  cts_ok(t->enqueue_read(s, a, 0, back, kSize), "enqueue_read");
  cts_ok(t->stream_synchronize(s), "stream_synchronize");
  uint64_t at = cts_first_diff(back, want_a, kSize);
  cts_check(at == kSize,
            "a transfer of 0 bytes changed byte %llu of its source",
            (unsigned long long)at);
  cts_ok(t->enqueue_read(s, b, 0, back, kSize), "enqueue_read");
  cts_ok(t->stream_synchronize(s), "stream_synchronize");
  at = cts_first_diff(back, want_b, kSize);
  cts_check(at == kSize,
            "a copy or fill of 0 bytes changed byte %llu of its destination",
            (unsigned long long)at);
  for (uint32_t k = 0; k < kSize; ++k) {
    cts_check(host[k] == 0xA5, "a read of 0 bytes wrote host byte %u", k);
  }
  t->stream_destroy(s);
  t->buffer_free(dev, a);
  t->buffer_free(dev, b);
}

static const cts_test_t kTests[] = {
    {"zero_size_direct", "R-MEM-19", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_zero_size_direct, 0},
    {"alloc_sizes", "R-MEM-1", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_alloc_sizes, 0},
    {"alloc_zero_rejected", "R-MEM-2", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_alloc_zero_rejected, 0},
    {"alloc_too_large", "R-MEM-3", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_alloc_too_large, 0},
    {"alloc_unknown_flags", "R-MEM-4", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_alloc_unknown_flags, 0},
    {"alloc_at_limit", "R-MEM-5", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_alloc_at_limit, 0},
    {"write_read_roundtrip", "R-MEM-6", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_write_read_roundtrip, 0},
    {"copy_bounds", "R-MEM-7", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_copy_bounds, 0},
    {"copy_overlap", "R-MEM-8", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_copy_overlap, 0},
    {"fill_patterns", "R-MEM-9", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_fill_patterns, 0},
    {"buffers_independent", "R-MEM-10", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_buffers_independent, 0},
    {"map_coherent", "R-MEM-11", CTS_PROFILE_CORE, CTS_NEED_HOST_VISIBLE,
     test_map_coherent, 0},
    {"map_offset_alignment", "R-MEM-12", CTS_PROFILE_CORE,
     CTS_NEED_HOST_VISIBLE, test_map_offset_alignment, 0},
    {"unmap_not_mapped", "R-MEM-13", CTS_PROFILE_CORE, CTS_NEED_HOST_VISIBLE,
     test_unmap_not_mapped, 0},
    {"map_not_host_visible", "R-MEM-14", CTS_PROFILE_CORE,
     CTS_NEED_HOST_VISIBLE, test_map_not_host_visible, 0},
    {"free_while_in_use", "R-MEM-15", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_free_while_in_use, 0},
    {"map_out_of_range", "R-MEM-16", CTS_PROFILE_CORE, CTS_NEED_HOST_VISIBLE,
     test_map_out_of_range, 0},
    {"host_alloc", "R-MEM-17", CTS_PROFILE_CORE, CTS_NEED_HOST_ALLOC,
     test_host_alloc, 0},
    {"host_alloc_api", "R-MEM-18", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_host_alloc_api, 0},
    {"transfer_boundaries", "R-MEM-6", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_transfer_boundaries, 0},
    {"copy_boundaries", "R-MEM-7", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_copy_boundaries, 0},
    {"fill_boundaries", "R-MEM-9", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_fill_boundaries, 0},
    {"alloc_free_cycles", "R-MEM-20", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_alloc_free_cycles, 0},
};

const cts_suite_t cts_suite_memory = {"memory", kTests,
                                      sizeof(kTests) / sizeof(kTests[0])};
