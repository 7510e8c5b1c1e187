/*
 * cts_util.c - helpers used inside a test: failing and skipping with a
 * message, opening the plugin through libxhal or directly, gates, random
 * data, process statistics.
 */
#define _GNU_SOURCE

#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xhal_reference.h>

#include "cts.h"
#include "cts_run.h"

/* ------------------------------------------------------ steps, failures */

/* Shared with the parent (MAP_SHARED, cts_run.c), so the parent can say
 * what a test was doing when it crashed or timed out. */
static char* g_step_page;
static size_t g_step_size;

/* The page's first half holds the last step, the second the call that
 * is running (cts_direct_note_running). */
void cts_step_attach(char* page, size_t size) {
  g_step_page = page;
  g_step_size = size / 2;
  cts_direct_attach_running(page ? page + size / 2 : NULL, size / 2);
}

/* Where a call's messages begin, on this thread. */
static _Thread_local uint32_t tls_mark;
static _Thread_local char tls_hal_before[512];

void cts_call_begin(const char* call) {
  /* A plain variable is a status an earlier line stored: its call's
   * window stays. */
  if (!strchr(call, '(')) return;
  tls_mark = cts_direct_message_seq();
  snprintf(tls_hal_before, sizeof(tls_hal_before), "%s", xhal_last_error());
  char note[400];
  snprintf(note, sizeof(note), "%s", call);
  cts_direct_note_running(note);
}

void cts_call_end(void) { cts_direct_note_running(NULL); }

void cts_teardown_skip_fail(const char* reason) {
  cts_fail(
      "not run to its end: %s, and would hang again (the CTS calls no "
      "teardown entry of this plugin after one hung)",
      reason);
}

void cts_teardown_guard(void) {
  const char* hang = cts_direct_teardown_hang();
  if (hang[0]) cts_teardown_skip_fail(hang);
}

void cts_step(const char* fmt, ...) {
  if (!g_step_page || g_step_size == 0) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  /* One writer (this process); the parent reads only after the child is
   * gone, so a plain copy is enough. */
  snprintf(g_step_page, g_step_size, "%s", buf);
}

static void vfail(const char* prefix, const char* fmt, va_list ap)
    __attribute__((noreturn, format(printf, 2, 0)));

static void vfail(const char* prefix, const char* fmt, va_list ap) {
  char buf[CTS_MESSAGE_SIZE - 64];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  ck_abort_msg("%s%s", prefix, buf);
  /* ck_abort_msg does not return in fork mode; this keeps the compiler
   * and the noreturn contract honest if it ever did. */
  abort();
}

void cts_fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail("", fmt, ap);
}

void cts_skip(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(CTS_SKIP_PREFIX, fmt, ap);
}

void cts_check(int cond, const char* fmt, ...) {
  if (cond) return;
  va_list ap;
  va_start(ap, fmt);
  vfail("", fmt, ap);
}

static void vexpect(xhal_status_t got, xhal_status_t want, const char* fmt,
                    va_list ap) __attribute__((format(printf, 3, 0)));

static void vexpect(xhal_status_t got, xhal_status_t want, const char* fmt,
                    va_list ap) {
  cts_call_end();
  if (got == want) return;
  char what[512];
  vsnprintf(what, sizeof(what), fmt, ap);
  /* The messages this call left: libxhal's (for framework calls) if it
   * changed while the call ran, the plugin's own (through the CTS host)
   * if one arrived; never one an earlier call left behind. */
  xhal_status_t plugin_status = XHAL_OK;
  const char* plugin_msg = cts_direct_last_message(&plugin_status);
  if (cts_direct_message_seq() == tls_mark) plugin_msg = "";
  const char* hal_msg = xhal_last_error();
  if (strncmp(hal_msg, tls_hal_before, sizeof(tls_hal_before) - 1) == 0)
    hal_msg = "";
  cts_fail("%s: got %s, want %s%s%s%s%s%.300s%s", what, xhal_status_name(got),
           xhal_status_name(want), hal_msg[0] ? " (libxhal: " : "", hal_msg,
           hal_msg[0] ? ")" : "", plugin_msg[0] ? " (plugin: " : "", plugin_msg,
           plugin_msg[0] ? ")" : "");
}

void cts_expect_(xhal_status_t got, xhal_status_t want, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vexpect(got, want, fmt, ap);
  va_end(ap);
}

void cts_ok_(xhal_status_t got, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vexpect(got, XHAL_OK, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------- opening */

static int include_partner(const cts_ctx_t* ctx) {
  return ctx->run->partner_path && ctx->test->need == CTS_NEED_PARTNER;
}

xhal_instance_t cts_instance(cts_ctx_t* ctx) {
  if (ctx->instance) return ctx->instance;
  const char* paths[2] = {ctx->run->path, ctx->run->partner_path};
  xhal_instance_options_t options;
  xhal_instance_options_default(&options);
  options.plugin_paths = paths;
  options.plugin_path_count = include_partner(ctx) ? 2u : 1u;
  options.ignore_environment = 1;
  options.log_level = XHAL_LOG_ERROR;
  cts_step("xhal_instance_create on %s", ctx->run->path);
  cts_ok(xhal_instance_create(&options, &ctx->instance),
         "xhal_instance_create with the plugin");
  uint32_t plugins = 0;
  cts_ok(xhal_instance_plugin_count(ctx->instance, &plugins),
         "xhal_instance_plugin_count");
  uint32_t devices = 0;
  cts_ok(xhal_instance_device_count(ctx->instance, &devices),
         "xhal_instance_device_count");
  /* The plugin's devices in libxhal's order (the plugin's index order):
   * the device under test, then the first other one after it. */
  xhal_device_t own[CTS_MAX_DEVICES];
  uint32_t own_count = 0;
  for (uint32_t p = 0; p < plugins; ++p) {
    xhal_plugin_info_t info;
    cts_ok(xhal_instance_plugin_info(ctx->instance, p, &info),
           "xhal_instance_plugin_info");
    int ours = strcmp(info.path, ctx->run->path) == 0;
    if (info.state != XHAL_PLUGIN_STATE_LOADED) {
      cts_fail("libxhal rejected %s plugin %s: %s (%s)",
               ours ? "the" : "the partner", info.path, info.reason,
               xhal_status_name(info.status));
    }
    for (uint32_t d = 0; d < devices; ++d) {
      xhal_device_t device = NULL;
      uint32_t index = 0;
      cts_ok(xhal_instance_device(ctx->instance, d, &device),
             "xhal_instance_device");
      cts_ok(xhal_device_plugin_index(device, &index),
             "xhal_device_plugin_index");
      if (index != p) continue;
      if (ours && own_count < CTS_MAX_DEVICES) {
        own[own_count++] = device;
      } else if (!ours && !ctx->partner) {
        ctx->partner = device;
      }
    }
  }
  const uint32_t under_test = ctx->run->device;
  if (under_test < own_count) {
    ctx->device = own[under_test];
    if (own_count > 1) ctx->device2 = own[(under_test + 1) % own_count];
  } else if (own_count > 0) {
    cts_fail("libxhal lists %u devices of the plugin, no device %u", own_count,
             under_test);
  }
  return ctx->instance;
}

xhal_device_t cts_device(cts_ctx_t* ctx) {
  cts_instance(ctx);
  cts_check(ctx->device != NULL,
            "libxhal loaded the plugin but lists no device of it");
  return ctx->device;
}

xhal_device_t cts_device2(cts_ctx_t* ctx) {
  cts_device(ctx);
  if (!ctx->device2) cts_skip("a second device of the plugin");
  return ctx->device2;
}

xhal_device_t cts_partner_device(cts_ctx_t* ctx) {
  if (!ctx->run->partner_path) cts_skip("a second plugin under test");
  cts_device(ctx);
  cts_check(ctx->partner != NULL,
            "the partner plugin %s has no device in the instance",
            ctx->run->partner_path);
  return ctx->partner;
}

cts_direct_t* cts_direct(cts_ctx_t* ctx) {
  if (ctx->direct) return ctx->direct;
  char why[512] = "";
  cts_step("loading %s directly", ctx->run->path);
  xhal_status_t status =
      cts_direct_load(ctx->run->path, &ctx->direct, why, sizeof(why));
  if (status != XHAL_OK) {
    cts_fail("the plugin does not load: %s (%s)", why,
             xhal_status_name(status));
  }
  cts_step("init on the CTS host");
  status = cts_direct_init(ctx->direct, 0, why, sizeof(why));
  if (status != XHAL_OK) cts_fail("%s", why);
  cts_check(ctx->direct->device_count > 0, "device_count reports no device");
  xhal_plugin_device_t device = NULL;
  const uint32_t index = ctx->direct->device_under_test;
  cts_step("device_open(%u)", index);
  cts_ok(cts_direct_device(ctx->direct, index, &device), "device_open(%u)",
         index);
  return ctx->direct;
}

void cts_ctx_close(cts_ctx_t* ctx) {
  /* A teardown entry hung earlier in this run: leave everything to the
   * process's exit rather than hang again. */
  if (cts_direct_teardown_hang()[0]) return;
  cts_step("releasing the instance (destroys streams, unloads the plugin)");
  cts_direct_note_running(
      "xhal_instance_release (libxhal closes the devices, calls shutdown)");
  xhal_instance_release(ctx->instance);
  cts_direct_note_running(NULL);
  ctx->instance = NULL;
  cts_step("closing the directly loaded plugin (shutdown)");
  cts_direct_close(ctx->direct);
  ctx->direct = NULL;
}

/* ------------------------------------------------------ time, random */

uint64_t cts_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double cts_test_timeout_s(const cts_planned_t* test,
                          const cts_options_t* options) {
  return options->timeout_s *
         (test->timeout_scale > 0 ? test->timeout_scale : 1.0);
}

uint32_t cts_progress_ms(const cts_ctx_t* ctx) {
  double ms = cts_test_timeout_s(ctx->test, ctx->options) * 100.0;
  if (ms < 1000.0) ms = 1000.0;
  if (ms > 600000.0) ms = 600000.0;
  return (uint32_t)ms;
}

void cts_sleep_ms(uint32_t ms) {
  struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

uint64_t cts_rand(cts_ctx_t* ctx) {
  /* splitmix64 on the context's seed: the same seed replays the test. */
  xhal_ref_rng_t rng = {ctx->seed};
  uint64_t value = xhal_ref_rng_next(&rng);
  ctx->seed = rng.state;
  return value;
}

uint64_t cts_rand_range(cts_ctx_t* ctx, uint64_t lo, uint64_t hi) {
  if (hi <= lo) return lo;
  uint64_t span = hi - lo + 1u;
  return span == 0 ? cts_rand(ctx) : lo + cts_rand(ctx) % span;
}

void cts_rand_bytes(cts_ctx_t* ctx, void* data, uint64_t size) {
  uint8_t* p = data;
  for (uint64_t i = 0; i < size; ++i) p[i] = (uint8_t)(cts_rand(ctx) >> 24);
}

uint64_t cts_mul(uint64_t count, uint64_t size) {
  uint64_t out;
  if (__builtin_mul_overflow(count, size, &out))
    cts_fail("size %llu x %llu overflows", (unsigned long long)count,
             (unsigned long long)size);
  return out;
}

void* cts_alloc(uint64_t size) {
  if (size > SIZE_MAX)
    cts_fail("host allocation of %llu bytes", (unsigned long long)size);
  void* p = malloc(size ? (size_t)size : 1u);
  if (!p)
    cts_fail("host allocation of %llu bytes failed", (unsigned long long)size);
  return p;
}

uint64_t cts_first_diff(const void* a, const void* b, uint64_t size) {
  const uint8_t* x = a;
  const uint8_t* y = b;
  for (uint64_t i = 0; i < size; ++i) {
    if (x[i] != y[i]) return i;
  }
  return size;
}

/* ------------------------------------------------------------- gates */

/* Long enough that no legitimate test waits on a gate this long, short
 * enough that a broken stream gives up well within the test timeout. */
enum { kGateSafetyMs = 20000 };

struct cts_gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
  atomic_int reached;
  pthread_t opener;
  int has_opener;
  uint32_t open_after_ms;
};

cts_gate_t* cts_gate_new(void) {
  cts_gate_t* gate = cts_alloc(sizeof(*gate));
  pthread_mutex_init(&gate->mu, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&gate->cv, &attr);
  pthread_condattr_destroy(&attr);
  gate->open = 0;
  gate->has_opener = 0;
  gate->open_after_ms = 0;
  atomic_init(&gate->reached, 0);
  return gate;
}

void cts_gate_open(cts_gate_t* gate) {
  pthread_mutex_lock(&gate->mu);
  gate->open = 1;
  pthread_cond_broadcast(&gate->cv);
  pthread_mutex_unlock(&gate->mu);
}

int cts_gate_reached(cts_gate_t* gate) { return atomic_load(&gate->reached); }

int cts_gate_wait_reached(cts_gate_t* gate, uint32_t timeout_ms) {
  uint64_t end = cts_now_ns() + (uint64_t)timeout_ms * 1000000ull;
  while (!cts_gate_reached(gate)) {
    if (cts_now_ns() > end) return 0;
    cts_sleep_ms(1);
  }
  return 1;
}

static int gate_is_open(cts_gate_t* gate) {
  pthread_mutex_lock(&gate->mu);
  int open = gate->open;
  pthread_mutex_unlock(&gate->mu);
  return open;
}

/* Opens the gate after its delay, or leaves at once when the test opened
 * it first, so a long safety delay costs nothing on a prompt plugin. */
static void* opener_main(void* arg) {
  cts_gate_t* gate = arg;
  uint64_t end = cts_now_ns() + (uint64_t)gate->open_after_ms * 1000000ull;
  while (!gate_is_open(gate) && cts_now_ns() < end) cts_sleep_ms(1);
  cts_gate_open(gate);
  return NULL;
}

void cts_gate_open_after(cts_gate_t* gate, uint32_t ms) {
  gate->open_after_ms = ms;
  if (pthread_create(&gate->opener, NULL, opener_main, gate) != 0)
    cts_fail("cannot start a thread to open a gate");
  gate->has_opener = 1;
}

void cts_gate_join(cts_gate_t* gate) {
  if (!gate->has_opener) return;
  pthread_join(gate->opener, NULL);
  gate->has_opener = 0;
}

void cts_gate_free(cts_gate_t* gate) {
  /* Gates are freed only after their streams were synchronised or
   * destroyed; a gate still in use would be a CTS bug. */
  cts_gate_open(gate);
  cts_gate_join(gate);
  pthread_cond_destroy(&gate->cv);
  pthread_mutex_destroy(&gate->mu);
  free(gate);
}

xhal_status_t cts_gate_func(void* user_data) {
  cts_gate_t* gate = user_data;
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += kGateSafetyMs / 1000;
  atomic_store(&gate->reached, 1);
  pthread_mutex_lock(&gate->mu);
  int timed_out = 0;
  while (!gate->open && !timed_out) {
    timed_out = pthread_cond_timedwait(&gate->cv, &gate->mu, &deadline) != 0;
  }
  int open = gate->open;
  pthread_mutex_unlock(&gate->mu);
  return open ? XHAL_OK : XHAL_ERROR_EXECUTION_FAILED;
}

xhal_status_t cts_count_func(void* counter) {
  atomic_fetch_add((_Atomic uint32_t*)counter, 1u);
  return XHAL_OK;
}

xhal_status_t cts_failing_func(void* unused) {
  (void)unused;
  return XHAL_ERROR_EXECUTION_FAILED;
}

/* ---------------------------------------------------- libxhal helpers */

xhal_buffer_t cts_buffer(cts_ctx_t* ctx, xhal_device_t device, uint64_t size,
                         uint32_t flags) {
  (void)ctx;
  xhal_buffer_t buffer = NULL;
  cts_ok(xhal_buffer_alloc(device, size, flags, &buffer),
         "xhal_buffer_alloc(%llu bytes, flags 0x%x)", (unsigned long long)size,
         flags);
  return buffer;
}

xhal_stream_t cts_stream(xhal_device_t device) {
  xhal_stream_t stream = NULL;
  cts_ok(xhal_stream_create(device, &stream), "xhal_stream_create");
  return stream;
}

xhal_event_t cts_event(xhal_device_t device) {
  xhal_event_t event = NULL;
  cts_ok(xhal_event_create(device, &event), "xhal_event_create");
  return event;
}

void cts_write_sync(xhal_stream_t stream, xhal_buffer_t buffer, uint64_t offset,
                    const void* src, uint64_t size) {
  cts_ok(xhal_stream_enqueue_write(stream, buffer, offset, src, size),
         "enqueue_write(offset %llu, %llu bytes)", (unsigned long long)offset,
         (unsigned long long)size);
  cts_step("stream_synchronize after a write");
  cts_ok(xhal_stream_synchronize(stream), "stream_synchronize after a write");
}

void cts_read_sync(xhal_stream_t stream, xhal_buffer_t buffer, uint64_t offset,
                   void* dst, uint64_t size) {
  cts_ok(xhal_stream_enqueue_read(stream, buffer, offset, dst, size),
         "enqueue_read(offset %llu, %llu bytes)", (unsigned long long)offset,
         (unsigned long long)size);
  cts_step("stream_synchronize after a read");
  cts_ok(xhal_stream_synchronize(stream), "stream_synchronize after a read");
}

/* ------------------------------------------------- process statistics */

/* PF_EXITING in the flags field of /proc/<pid>/task/<tid>/stat: the
 * kernel sets it when the thread enters do_exit, before it wakes a
 * pthread_join waiter. */
#define CTS_PF_EXITING 0x4ul

/* 1 if the thread `tid` of this process still runs code: not gone, not a
 * zombie, not past the start of its exit. A joined thread stays listed in
 * /proc/self/task for a moment after pthread_join returns (the kernel
 * wakes the joiner before it unlinks the task); counting it made a
 * correct plugin look as if it had left a thread behind. */
static int thread_is_live(const char* tid) {
  char path[96];
  snprintf(path, sizeof(path), "/proc/self/task/%.40s/stat", tid);
  FILE* f = fopen(path, "re");
  if (!f) return 0; /* gone between readdir and open */
  char buf[1024];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The name in parentheses may hold anything: parse after the last ')'. */
  const char* close = strrchr(buf, ')');
  if (!close) return 0;
  char state = 0;
  unsigned long flags = 0;
  if (sscanf(close + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
    return 0;
  if (state == 'Z' || state == 'X' || state == 'x') return 0;
  return (flags & CTS_PF_EXITING) == 0;
}

/* One pass over `dir_path`; `live` filters thread entries. The sum of
 * the entry numbers tells two passes with the same count apart. */
static uint32_t count_pass(const char* dir_path, int threads, uint64_t* sum) {
  DIR* dir = opendir(dir_path);
  *sum = 0;
  if (!dir) return 0;
  /* The directory stream holds a descriptor of its own while listing
   * /proc/self/fd: leave that one out by number. */
  const int own = dirfd(dir);
  uint32_t n = 0;
  struct dirent* entry;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] == '.') continue;
    const long id = strtol(entry->d_name, NULL, 10);
    if (threads ? !thread_is_live(entry->d_name) : id == own) continue;
    ++n;
    *sum += (uint64_t)id * 2654435761u + 1u;
  }
  closedir(dir);
  return n;
}

/* A listing of a /proc directory can miss or repeat an entry when
 * another thread changes it meanwhile: take two passes that agree. */
static uint32_t count_stable(const char* dir_path, int threads) {
  uint64_t sum = 0;
  uint32_t n = count_pass(dir_path, threads, &sum);
  for (int i = 0; i < 50; ++i) {
    uint64_t again_sum = 0;
    const uint32_t again = count_pass(dir_path, threads, &again_sum);
    if (again == n && again_sum == sum) break;
    n = again;
    sum = again_sum;
  }
  return n;
}

uint32_t cts_thread_count(void) { return count_stable("/proc/self/task", 1); }

static void* idle_thread(void* unused) { return unused; }

void cts_thread_warmup(void) {
  /* Sanitizer runtimes start a helper thread on the first thread
   * creation; starting one here keeps it out of later counts. */
  pthread_t t;
  if (pthread_create(&t, NULL, idle_thread, NULL) == 0) pthread_join(t, NULL);
}

uint32_t cts_fd_count(void) { return count_stable("/proc/self/fd", 0); }

uint32_t cts_fd_count_settled(uint32_t want, uint32_t ms) {
  uint32_t n = cts_fd_count();
  const uint64_t end = cts_now_ns() + (uint64_t)ms * 1000000u;
  while (n > want && cts_now_ns() < end) {
    cts_sleep_ms(5);
    n = cts_fd_count();
  }
  return n;
}

const char* cts_need_name(cts_need_t need) {
  switch (need) {
    case CTS_NEED_NONE:
      return "";
    case CTS_NEED_HOST_VISIBLE:
      return "XHAL_CAP_HOST_VISIBLE_MEMORY";
    case CTS_NEED_PROFILING:
      return "XHAL_CAP_PROFILING";
    case CTS_NEED_HOST_FUNC:
      return "XHAL_CAP_HOST_FUNC";
    case CTS_NEED_KERNEL_LANG:
      return "XHAL_CAP_KERNEL_LANG_OPENCL_C or _CUDA_C";
    case CTS_NEED_FLUSH:
      return "entry stream_flush";
    case CTS_NEED_WAIT_EVENT:
      return "entry stream_wait_event";
    case CTS_NEED_NULL_ENTRY:
      return "an optional entry left NULL";
    case CTS_NEED_TWO_DEVICES:
      return "a second device of the plugin";
    case CTS_NEED_PARTNER:
      return "a second plugin under test (--plugin)";
    case CTS_NEED_NO_TIMING:
      return "XHAL_CAP_STREAM_NO_TIMING";
    case CTS_NEED_IMPL:
      return "an operator implementation registered by the plugin";
    case CTS_NEED_SUPPORTS_IMPL:
      return "an implementation with a supports() predicate";
    case CTS_NEED_PLAIN_IMPL:
      return "an operator implementation on the device under test";
    case CTS_NEED_HOST_ALLOC:
      return "XHAL_CAP_HOST_ALLOC";
    default:
      return "?";
  }
}
