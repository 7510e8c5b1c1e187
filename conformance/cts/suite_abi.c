/*
 * suite_abi.c - the plugin as a binary: exported symbols, version
 * negotiation, the dispatch table, init/shutdown hygiene, loading in
 * libxhal (docs/abi.md, R-ABI-*).
 *
 * Most tests here dlopen the file themselves and read the raw table the
 * plugin returns, before any host has checked or copied it.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "cts.h"
#include "elf_exports.h"

/* ------------------------------------------------------------- helpers */

typedef struct raw_plugin {
  void* dl;
  xhal_plugin_query_fn query;
  const xhal_plugin_dispatch_t* table;
} raw_plugin_t;

/* dlopen + dlsym only: no check that could hide what the test looks at. */
static raw_plugin_t raw_open(cts_ctx_t* ctx) {
  raw_plugin_t p;
  memset(&p, 0, sizeof(p));
  cts_step("dlopen %s", ctx->run->path);
  p.dl = dlopen(ctx->run->path, RTLD_NOW | RTLD_LOCAL);
  if (!p.dl) cts_fail("dlopen failed: %s", dlerror());
  void* sym = dlsym(p.dl, XHAL_PLUGIN_QUERY_SYMBOL);
  if (!sym) cts_fail("the plugin defines no xhal_plugin_query");
  memcpy(&p.query, &sym, sizeof(p.query));
  return p;
}

/* Queries with the host's own version; fails the test on error. */
static const xhal_plugin_dispatch_t* raw_table(raw_plugin_t* p) {
  cts_step("xhal_plugin_query(%u, %u)", XHAL_ABI_VERSION_MAJOR,
           XHAL_ABI_VERSION_MINOR);
  cts_ok(p->query(XHAL_ABI_VERSION_MAJOR, XHAL_ABI_VERSION_MINOR, &p->table),
         "xhal_plugin_query(%u, %u)", XHAL_ABI_VERSION_MAJOR,
         XHAL_ABI_VERSION_MINOR);
  cts_check(p->table != NULL,
            "xhal_plugin_query returned XHAL_OK and no table");
  return p->table;
}

/* A little work on an initialised plugin: a buffer, a stream, a write, a
 * read, an event. Proves the context is usable, and exercises what a
 * leak would come from. */
static void small_workload(cts_direct_t* d, uint32_t iteration) {
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = NULL;
  cts_ok(cts_direct_device(d, d->device_under_test, &dev), "device_open(%u)",
         d->device_under_test);
  xhal_plugin_buffer_t buf = NULL;
  xhal_plugin_stream_t stream = NULL;
  xhal_plugin_event_t event = NULL;
  uint8_t out[256];
  uint8_t in[256];
  for (uint32_t i = 0; i < sizeof(in); ++i)
    in[i] = (uint8_t)(i * 7 + iteration);
  cts_ok(t->buffer_alloc(dev, 1u << 20, 0, &buf), "buffer_alloc(1 MiB)");
  cts_ok(t->stream_create(dev, 0, &stream), "stream_create");
  cts_ok(t->event_create(dev, &event), "event_create");
  cts_ok(t->enqueue_write(stream, buf, 1000, in, sizeof(in)), "enqueue_write");
  cts_ok(t->enqueue_read(stream, buf, 1000, out, sizeof(out)), "enqueue_read");
  cts_ok(t->event_record(event, stream), "event_record");
  cts_step("event_wait after a write and a read");
  cts_ok(t->event_wait(event, UINT64_MAX), "event_wait");
  cts_step("stream_synchronize");
  cts_ok(t->stream_synchronize(stream), "stream_synchronize");
  cts_check(memcmp(in, out, sizeof(in)) == 0,
            "bytes read back differ from the bytes written");
  /* Buffers from 1 byte up, so that a leak in whatever serves small
   * allocations shows as well. */
  static const uint64_t kSmall[] = {1, 63, 256, 4097};
  for (uint32_t i = 0; i < sizeof(kSmall) / sizeof(kSmall[0]); ++i) {
    xhal_plugin_buffer_t small = NULL;
    cts_ok(t->buffer_alloc(dev, kSmall[i], 0, &small), "buffer_alloc(%llu)",
           (unsigned long long)kSmall[i]);
    cts_ok(t->enqueue_write(stream, small, 0, in, 1), "enqueue_write");
    cts_ok(t->stream_synchronize(stream), "stream_synchronize");
    t->buffer_free(dev, small);
  }
  t->event_destroy(event);
  cts_step("stream_destroy");
  t->stream_destroy(stream);
  t->buffer_free(dev, buf);
}

/* ---------------------------------------------------------------- tests */

static void test_exports_only_query(cts_ctx_t* ctx) {
  cts_exports_t ex;
  char err[256];
  if (cts_elf_exports(ctx->run->path, &ex, err, sizeof(err)) != 0) {
    cts_fail("cannot read the dynamic symbols of %s: %s", ctx->run->path, err);
  }
  char list[1024] = "";
  size_t used = 0;
  int has_query = 0;
  for (uint32_t i = 0; i < ex.count; ++i) {
    if (strcmp(ex.symbols[i].name, XHAL_PLUGIN_QUERY_SYMBOL) == 0) {
      has_query = ex.symbols[i].is_function;
    }
    int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                     ex.symbols[i].name);
    if (n > 0 && (size_t)n < sizeof(list) - used) used += (size_t)n;
  }
  cts_check(has_query, "xhal_plugin_query is not exported as a function");
  cts_check(ex.count == 1 && !ex.truncated,
            "the plugin exports %u symbols, only xhal_plugin_query is "
            "allowed: %s%s",
            ex.count, list, ex.truncated ? ", ..." : "");
}

static void test_query_current(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  raw_table(&p);
  dlclose(p.dl);
}

static void test_query_wrong_major(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  const uint32_t majors[] = {0u, XHAL_ABI_VERSION_MAJOR + 1u, 0xFFFFFFFFu};
  for (size_t i = 0; i < sizeof(majors) / sizeof(majors[0]); ++i) {
    const xhal_plugin_dispatch_t* table = NULL;
    cts_step("xhal_plugin_query(%u, 0)", majors[i]);
    cts_expect(p.query(majors[i], 0, &table), XHAL_ERROR_ABI_MISMATCH,
               "xhal_plugin_query with host major %u", majors[i]);
  }
  dlclose(p.dl);
}

static void test_table_struct_size(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  const xhal_plugin_dispatch_t* t = raw_table(&p);
  cts_check(t->struct_size >= XHAL_PLUGIN_DISPATCH_SIZE_1_0,
            "dispatch table struct_size is %u, the ABI 1.0 table is %u bytes",
            t->struct_size, XHAL_PLUGIN_DISPATCH_SIZE_1_0);
  /* A table that claims to be bigger than anything a 1.x plugin could
   * mean is an uninitialised field, not a future minor version. */
  cts_check(t->struct_size <= 65536,
            "dispatch table struct_size %u is not a plausible size",
            t->struct_size);
  dlclose(p.dl);
}

static void test_query_newer_minor(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  const xhal_plugin_dispatch_t* current = raw_table(&p);
  const uint32_t minors[] = {XHAL_ABI_VERSION_MINOR + 1u, 0xFFFFu};
  for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); ++i) {
    const xhal_plugin_dispatch_t* table = NULL;
    cts_ok(p.query(XHAL_ABI_VERSION_MAJOR, minors[i], &table),
           "xhal_plugin_query with a newer host minor %u", minors[i]);
    cts_check(table == current,
              "a newer host minor %u got another table than the current one",
              minors[i]);
  }
  dlclose(p.dl);
}

static void test_query_older_minor(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  const xhal_plugin_dispatch_t* table = NULL;
  cts_ok(p.query(XHAL_ABI_VERSION_MAJOR, 0, &table),
         "xhal_plugin_query with host minor 0");
  cts_check(table != NULL, "no table for host minor 0");
  dlclose(p.dl);
}

static void test_table_version(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  const xhal_plugin_dispatch_t* t = raw_table(&p);
  cts_check(t->abi_major == XHAL_ABI_VERSION_MAJOR,
            "table abi_major is %u, the host speaks %u", t->abi_major,
            XHAL_ABI_VERSION_MAJOR);
  dlclose(p.dl);
}

static void test_query_stable(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  const xhal_plugin_dispatch_t* t = raw_table(&p);
  uint32_t size = t->struct_size < 65536 ? t->struct_size : 65536;
  uint8_t* snapshot = cts_alloc(size);
  memcpy(snapshot, t, size);
  for (int i = 0; i < 3; ++i) {
    const xhal_plugin_dispatch_t* again = NULL;
    cts_ok(p.query(XHAL_ABI_VERSION_MAJOR, XHAL_ABI_VERSION_MINOR, &again),
           "xhal_plugin_query, call %d", i + 2);
    cts_check(again == t, "xhal_plugin_query returned another table on call %d",
              i + 2);
  }
  /* The table must stay immutable while contexts live and work. */
  cts_direct_t* d = cts_direct(ctx);
  small_workload(d, 0);
  cts_check(memcmp(snapshot, t, size) == 0,
            "the table's bytes changed after init and use (byte %llu)",
            (unsigned long long)cts_first_diff(snapshot, t, size));
  free(snapshot);
  dlclose(p.dl);
}

/* The table as a host reads it: entries past a short table's struct_size
 * are NULL. */
static xhal_plugin_dispatch_t zero_extended(const xhal_plugin_dispatch_t* raw) {
  xhal_plugin_dispatch_t t;
  memset(&t, 0, sizeof(t));
  memcpy(&t, raw, raw->struct_size < sizeof(t) ? raw->struct_size : sizeof(t));
  return t;
}

static void test_required_entries(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  /* Entries past a short table are missing too. */
  xhal_plugin_dispatch_t t = zero_extended(raw_table(&p));
  char missing[512] = "";
  size_t used = 0;
  for (uint32_t i = 0; i < cts_direct_required_count(); ++i) {
    if (cts_direct_required_present(&t, i)) continue;
    int n = snprintf(missing + used, sizeof(missing) - used, "%s%s",
                     used ? ", " : "", cts_direct_required_name(i));
    if (n > 0 && (size_t)n < sizeof(missing) - used) used += (size_t)n;
  }
  cts_check(used == 0, "required entries are NULL: %s", missing);
  dlclose(p.dl);
}

static void test_table_strings(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  const xhal_plugin_dispatch_t* t = raw_table(&p);
  cts_check(t->name != NULL, "table name is NULL");
  size_t len = strnlen(t->name, XHAL_NAME_MAX);
  cts_check(len > 0 && len < XHAL_NAME_MAX,
            "table name is empty or longer than %d characters",
            XHAL_NAME_MAX - 1);
  for (size_t i = 0; i < len; ++i) {
    char c = t->name[i];
    cts_check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_',
              "table name '%.*s' has character %d at %zu (lowercase letters, "
              "digits and '_' only)",
              (int)len, t->name, c, i);
  }
  cts_check(t->version != NULL, "table version is NULL");
  dlclose(p.dl);
}

static void test_optional_groups(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  const xhal_plugin_dispatch_t* t = raw_table(&p);
  cts_check(!t->buffer_map == !t->buffer_unmap,
            "buffer_map and buffer_unmap must both be set or both NULL");
  /* A table shorter than 1.2's has neither. */
  xhal_plugin_dispatch_t full = zero_extended(t);
  cts_check(!full.host_alloc == !full.host_free,
            "host_alloc and host_free must both be set or both NULL");
  int program[5] = {t->program_build != NULL, t->program_destroy != NULL,
                    t->kernel_create != NULL, t->kernel_destroy != NULL,
                    t->enqueue_kernel != NULL};
  int set = program[0] + program[1] + program[2] + program[3] + program[4];
  cts_check(set == 0 || set == 5,
            "program entries are incomplete: program_build %d, "
            "program_destroy %d, kernel_create %d, kernel_destroy %d, "
            "enqueue_kernel %d (1 = set)",
            program[0], program[1], program[2], program[3], program[4]);
  dlclose(p.dl);
}

static void test_capabilities_backed(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  for (uint32_t i = 0; i < d->device_count; ++i) {
    xhal_device_properties_t props;
    memset(&props, 0, sizeof(props));
    props.struct_size = (uint32_t)sizeof(props);
    cts_ok(t->device_properties(d->context, i, &props), "device_properties(%u)",
           i);
    uint32_t caps = props.capabilities;
    cts_check(!(caps & XHAL_CAP_HOST_VISIBLE_MEMORY) ||
                  (t->buffer_map && t->buffer_unmap),
              "device %u claims XHAL_CAP_HOST_VISIBLE_MEMORY without "
              "buffer_map/buffer_unmap",
              i);
    cts_check(!(caps & XHAL_CAP_PROFILING) || t->event_elapsed,
              "device %u claims XHAL_CAP_PROFILING without event_elapsed", i);
    cts_check(!(caps & XHAL_CAP_HOST_ALLOC) || (t->host_alloc && t->host_free),
              "device %u claims XHAL_CAP_HOST_ALLOC without "
              "host_alloc/host_free",
              i);
    cts_check(!(caps & XHAL_CAP_HOST_FUNC) || t->enqueue_host_func,
              "device %u claims XHAL_CAP_HOST_FUNC without enqueue_host_func",
              i);
    cts_check(!(caps & (XHAL_CAP_KERNEL_LANG_OPENCL_C |
                        XHAL_CAP_KERNEL_LANG_CUDA_C)) ||
                  (t->program_build && t->kernel_create && t->enqueue_kernel),
              "device %u claims a kernel language without the program "
              "entries",
              i);
  }
}

static void test_null_entries_unsupported(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  if (!t->buffer_map) {
    xhal_buffer_t buf = cts_buffer(ctx, dev, 64, 0);
    void* ptr = NULL;
    cts_expect(xhal_buffer_map(buf, 0, 64, XHAL_MAP_READ, &ptr),
               XHAL_ERROR_UNSUPPORTED, "xhal_buffer_map with buffer_map NULL");
    xhal_buffer_release(buf);
  }
  if (!t->event_elapsed) {
    xhal_event_t a = cts_event(dev);
    xhal_event_t b = cts_event(dev);
    cts_ok(xhal_stream_record_event(stream, a), "record a");
    cts_ok(xhal_stream_record_event(stream, b), "record b");
    cts_ok(xhal_stream_synchronize(stream), "synchronize");
    uint64_t ns = 0;
    cts_expect(xhal_event_elapsed(a, b, &ns), XHAL_ERROR_UNSUPPORTED,
               "xhal_event_elapsed with event_elapsed NULL");
    xhal_event_release(a);
    xhal_event_release(b);
  }
  if (!t->program_build) {
    xhal_program_desc_t desc;
    xhal_program_desc_default(&desc);
    desc.language = XHAL_KERNEL_LANGUAGE_OPENCL_C;
    desc.source = "__kernel void k(__global int* p) { p[0] = 1; }";
    xhal_program_t program = NULL;
    cts_expect(xhal_program_build(dev, &desc, &program), XHAL_ERROR_UNSUPPORTED,
               "xhal_program_build with program_build NULL");
  }
  if (!t->enqueue_host_func) {
    _Atomic uint32_t count = 0;
    cts_ok(xhal_stream_enqueue_host_func(stream, cts_count_func, &count),
           "xhal_stream_enqueue_host_func falls back without the entry");
    cts_ok(xhal_stream_synchronize(stream), "synchronize");
    cts_check(count == 1, "the host function ran %u times, want 1",
              (unsigned)count);
  }
  if (!t->stream_wait_event) {
    xhal_stream_t other = cts_stream(dev);
    xhal_event_t e = cts_event(dev);
    cts_ok(xhal_stream_record_event(other, e), "record on another stream");
    cts_ok(xhal_stream_wait_event(stream, e),
           "xhal_stream_wait_event falls back without the entry");
    cts_ok(xhal_stream_synchronize(stream), "synchronize");
    xhal_event_release(e);
    xhal_stream_release(other);
  }
  if (!t->stream_flush) {
    cts_ok(xhal_stream_flush(stream), "xhal_stream_flush without the entry");
  }
  if (!t->host_alloc) {
    void* ptr = NULL;
    cts_ok(xhal_host_alloc(dev, 4096, &ptr),
           "xhal_host_alloc falls back without the entry");
    if (ptr) memset(ptr, 0x5A, 4096);
    cts_ok(xhal_host_free(dev, ptr), "xhal_host_free of the fallback");
  }
  xhal_stream_release(stream);
}

static void test_query_no_side_effects(cts_ctx_t* ctx) {
  raw_plugin_t p = raw_open(ctx);
  cts_thread_warmup();
  const uint32_t threads = cts_thread_count();
  const uint32_t fds = cts_fd_count();
  for (int i = 0; i < 3; ++i) raw_table(&p);
  /* Threads would start asynchronously; give them a moment to show. */
  cts_sleep_ms(20);
  const uint32_t threads_after = cts_thread_count();
  const uint32_t fds_after = cts_fd_count_settled(fds, 200);
  cts_check(threads_after <= threads,
            "xhal_plugin_query started threads (%u before, %u after)", threads,
            threads_after);
  cts_check(fds_after <= fds,
            "xhal_plugin_query opened file descriptors (%u before, %u after)",
            fds, fds_after);
  dlclose(p.dl);
}

/* One context's life: init, a small workload, every device closed,
 * shutdown. */
static void context_cycle(cts_direct_t* d) {
  char why[512];
  cts_step("init");
  xhal_status_t status = cts_direct_init(d, 0, why, sizeof(why));
  if (status != XHAL_OK) cts_fail("%s", why);
  small_workload(d, 1);
  cts_teardown_guard();
  for (uint32_t i = 0; i < CTS_DIRECT_MAX_DEVICES; ++i) {
    if (d->devices[i]) cts_call(d->table.device_close(d->devices[i]));
    d->devices[i] = NULL;
  }
  cts_step("shutdown");
  cts_call(d->table.shutdown(d->context));
  d->initialized = 0;
}

static void test_init_shutdown(cts_ctx_t* ctx) {
  cts_direct_t* d = NULL;
  char why[512];
  xhal_status_t status = cts_direct_load(ctx->run->path, &d, why, sizeof(why));
  if (status != XHAL_OK) cts_fail("the plugin does not load: %s", why);
  /* A first context comes and goes before anything is counted: a driver
   * under the plugin (an OpenCL ICD, a GPU runtime) may start threads and
   * open files once per process, on first use, and keep them until exit.
   * Those are not the context's. What the second context leaves behind
   * is. */
  cts_step("first context (not counted)");
  context_cycle(d);
  cts_thread_warmup();
  uint32_t threads = cts_thread_count();
  uint32_t fds = cts_fd_count();
  context_cycle(d);
  const uint32_t threads_after = cts_thread_count();
  const uint32_t fds_after = cts_fd_count_settled(fds, 200);
  cts_check(threads_after <= threads,
            "threads after shutdown: %u, before init: %u (a thread the "
            "plugin started outlived its context)",
            threads_after, threads);
  cts_check(fds_after <= fds,
            "file descriptors after shutdown: %u, before init: %u", fds_after,
            fds);
  long live = atomic_load(&d->live_host_allocs);
  cts_check(live == 0,
            "%ld host allocations (alloc_aligned) were not freed by shutdown",
            live);
  cts_direct_close(d);
}

static void test_init_newer_host(cts_ctx_t* ctx) {
  cts_direct_t* d = NULL;
  char why[512];
  xhal_status_t status = cts_direct_load(ctx->run->path, &d, why, sizeof(why));
  if (status != XHAL_OK) cts_fail("the plugin does not load: %s", why);
  cts_step("init with a host-services table 64 bytes larger");
  status = cts_direct_init(d, 64, why, sizeof(why));
  if (status != XHAL_OK) cts_fail("a newer host's table: %s", why);
  small_workload(d, 2);
  uint32_t registered = atomic_load(&d->impl_count);
  cts_check(registered == ctx->run->probe->impl_count,
            "with a newer host the plugin registered %u implementations, "
            "with a 1.0 host %u",
            registered, ctx->run->probe->impl_count);
  cts_direct_close(d);
}

static xhal_status_t fail_func(void* unused) {
  (void)unused;
  return XHAL_ERROR_EXECUTION_FAILED;
}

static void test_two_contexts(cts_ctx_t* ctx) {
  cts_direct_t* d[2] = {NULL, NULL};
  char why[512];
  for (int i = 0; i < 2; ++i) {
    if (cts_direct_load(ctx->run->path, &d[i], why, sizeof(why)) != XHAL_OK)
      cts_fail("load %d: %s", i, why);
    cts_step("init of context %d", i);
    if (cts_direct_init(d[i], 0, why, sizeof(why)) != XHAL_OK)
      cts_fail("init of context %d: %s", i, why);
  }
  cts_check(d[0]->context != d[1]->context || d[0]->context == NULL,
            "two inits returned the same context");
  xhal_plugin_device_t dev[2];
  xhal_plugin_buffer_t buf[2];
  xhal_plugin_stream_t stream[2];
  uint8_t data[2][512];
  for (int i = 0; i < 2; ++i) {
    const xhal_plugin_dispatch_t* t = &d[i]->table;
    cts_ok(cts_direct_device(d[i], d[i]->device_under_test, &dev[i]),
           "device_open in context %d", i);
    cts_ok(t->buffer_alloc(dev[i], sizeof(data[i]), 0, &buf[i]),
           "buffer_alloc in context %d", i);
    cts_ok(t->stream_create(dev[i], 0, &stream[i]),
           "stream_create in context %d", i);
    cts_rand_bytes(ctx, data[i], sizeof(data[i]));
    cts_ok(t->enqueue_write(stream[i], buf[i], 0, data[i], sizeof(data[i])),
           "write in context %d", i);
  }
  /* A failure in context 0 must not show in context 1. */
  if (d[0]->table.enqueue_host_func) {
    cts_ok(d[0]->table.enqueue_host_func(stream[0], fail_func, NULL),
           "failing host function in context 0");
    cts_step("synchronize the failed stream of context 0");
    cts_check(d[0]->table.stream_synchronize(stream[0]) != XHAL_OK,
              "a failing host function did not fail its stream");
  }
  const xhal_plugin_dispatch_t* t1 = &d[1]->table;
  uint8_t back[512];
  cts_ok(t1->enqueue_read(stream[1], buf[1], 0, back, sizeof(back)),
         "read in context 1");
  cts_step("synchronize context 1 while context 0 failed");
  cts_ok(t1->stream_synchronize(stream[1]),
         "stream of context 1 after a failure in context 0");
  cts_check(memcmp(back, data[1], sizeof(back)) == 0,
            "context 1 reads back other bytes than it wrote");
  for (int i = 0; i < 2; ++i) {
    d[i]->table.stream_destroy(stream[i]);
    d[i]->table.buffer_free(dev[i], buf[i]);
    cts_direct_close(d[i]);
  }
}

static void test_loads_in_libxhal(cts_ctx_t* ctx) {
  xhal_instance_t instance = cts_instance(ctx);
  uint32_t devices = 0;
  cts_ok(xhal_instance_device_count(instance, &devices), "device count");
  xhal_plugin_info_t info;
  cts_ok(xhal_instance_plugin_info(instance, 0, &info), "plugin info 0");
  cts_check(info.state == XHAL_PLUGIN_STATE_LOADED,
            "libxhal did not load the plugin: %s", info.reason);
  cts_check(info.device_count == ctx->run->probe->device_count,
            "libxhal opened %u devices, device_count reports %u",
            info.device_count, ctx->run->probe->device_count);
  cts_check(info.abi_major == XHAL_ABI_VERSION_MAJOR,
            "libxhal records ABI major %u", info.abi_major);
}

/* Heap bytes in use, including large blocks glibc serves with mmap. */
static uint64_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

static void test_no_leaks(cts_ctx_t* ctx) {
  enum { kCycles = 12 };
  /* An extra reference keeps the library mapped between cycles, so each
   * cycle measures init/shutdown, not loading. */
  void* keep = dlopen(ctx->run->path, RTLD_NOW | RTLD_LOCAL);
  if (!keep) cts_fail("dlopen failed: %s", dlerror());
  uint32_t threads = 0;
  uint32_t fds = 0;
  uint64_t heap = 0;
  for (uint32_t cycle = 0; cycle <= kCycles; ++cycle) {
    cts_direct_t* d = NULL;
    char why[512];
    if (cts_direct_load(ctx->run->path, &d, why, sizeof(why)) != XHAL_OK)
      cts_fail("load, cycle %u: %s", cycle, why);
    cts_step("init, cycle %u", cycle);
    if (cts_direct_init(d, 0, why, sizeof(why)) != XHAL_OK)
      cts_fail("init, cycle %u: %s", cycle, why);
    for (uint32_t i = 0; i < 4; ++i) small_workload(d, cycle * 4 + i);
    cts_direct_close(d);
    /* The first cycle warms caches (thread stacks, lazy tables). */
    if (cycle == 0) {
      threads = cts_thread_count();
      fds = cts_fd_count();
      heap = heap_in_use();
    }
  }
  const uint32_t threads_after = cts_thread_count();
  const uint32_t fds_after = cts_fd_count_settled(fds, 200);
  cts_check(threads_after <= threads,
            "threads grew from %u to %u over %d init/shutdown cycles", threads,
            threads_after, kCycles);
  cts_check(fds_after <= fds,
            "file descriptors grew from %u to %u over %d cycles", fds,
            fds_after, kCycles);
  uint64_t now = heap_in_use();
  /* Each cycle allocates 4 MiB of buffers; a leak of one of them per
   * cycle is 12 MiB. 1 MiB leaves room for allocator noise. */
  cts_check(now <= heap + (1u << 20),
            "heap in use grew by %llu bytes over %d cycles of init, 4 x 1 MiB "
            "buffers and shutdown",
            (unsigned long long)(now - heap), kCycles);
  dlclose(keep);
}

static const cts_test_t kTests[] = {
    {"exports_only_query", "R-ABI-1", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_exports_only_query, 0},
    {"query_current", "R-ABI-2", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_query_current, 0},
    {"query_wrong_major", "R-ABI-3", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_query_wrong_major, 0},
    {"table_struct_size", "R-ABI-4", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_table_struct_size, 0},
    {"query_newer_minor", "R-ABI-5", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_query_newer_minor, 0},
    {"query_older_minor", "R-ABI-6", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_query_older_minor, 0},
    {"table_version", "R-ABI-7", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_table_version, 0},
    {"query_stable", "R-ABI-8", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_query_stable, 0},
    {"required_entries", "R-ABI-9", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_required_entries, 0},
    {"table_strings", "R-ABI-10", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_table_strings, 0},
    {"optional_groups", "R-ABI-11", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_optional_groups, 0},
    {"capabilities_backed", "R-ABI-12", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_capabilities_backed, 0},
    {"null_entries_unsupported", "R-ABI-13", CTS_PROFILE_CORE,
     CTS_NEED_NULL_ENTRY, test_null_entries_unsupported, 0},
    {"query_no_side_effects", "R-ABI-14", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_query_no_side_effects, 0},
    {"init_shutdown", "R-ABI-15", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_init_shutdown, 0},
    {"init_newer_host", "R-ABI-16", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_init_newer_host, 0},
    {"two_contexts", "R-ABI-17", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_two_contexts, 0},
    {"loads_in_libxhal", "R-ABI-18", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_loads_in_libxhal, 0},
    {"no_leaks", "R-ABI-19", CTS_PROFILE_CORE, CTS_NEED_NONE, test_no_leaks,
     2.0},
};

const cts_suite_t cts_suite_abi = {"abi", kTests,
                                   sizeof(kTests) / sizeof(kTests[0])};
