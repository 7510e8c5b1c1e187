/*
 * cts.h - the conformance suite's shared types: tests, plans, results,
 * and the helpers every suite uses inside a test.
 *
 * Process model: the parent (cts_main.c) never loads a plugin. It probes
 * each plugin in a forked child (cts_probe.c), plans the tests that apply
 * (cts_plan.c), and runs every test through Check in fork mode with a
 * timeout (cts_run.c), so a plugin that crashes, aborts or hangs fails the
 * test it was in and the run goes on. Inside a test (a forked child), a
 * suite opens what it needs through the cts_ctx_t helpers below: a
 * libxhal instance on the plugin under test (what frameworks see), or the
 * plugin's dispatch table directly (cts_direct.h: what the plugin itself
 * answers, with no host validation in between).
 *
 * Requirement ids (R-ABI-1, ...) are defined in docs/abi.md; every test
 * cites one.
 */
#ifndef XHAL_CTS_H_
#define XHAL_CTS_H_

#include <stdint.h>
#include <xhal/xhal.h>

#include "cts_direct.h"

/* ------------------------------------------------------------ limits */

#define CTS_MAX_DEVICES 8
#define CTS_MAX_IMPLS 1024
#define CTS_MAX_PLUGINS 32
#define CTS_NAME_SIZE 160
#define CTS_MESSAGE_SIZE 2048

/* ------------------------------------------------------------- tests */

/* core: every plugin must pass it (where its capability applies).
 * optional: extended checks run by --profile full. */
typedef enum cts_profile {
  CTS_PROFILE_CORE = 0,
  CTS_PROFILE_OPTIONAL = 1,
} cts_profile_t;

/* What a test needs beyond the core ABI; without it the test is skipped
 * and the report names the missing item. */
typedef enum cts_need {
  CTS_NEED_NONE = 0,
  CTS_NEED_HOST_VISIBLE, /* XHAL_CAP_HOST_VISIBLE_MEMORY */
  CTS_NEED_PROFILING,    /* XHAL_CAP_PROFILING */
  CTS_NEED_HOST_FUNC,    /* XHAL_CAP_HOST_FUNC */
  CTS_NEED_KERNEL_LANG,  /* a XHAL_CAP_KERNEL_LANG_* bit */
  CTS_NEED_FLUSH,        /* a stream_flush entry */
  CTS_NEED_WAIT_EVENT,   /* a stream_wait_event entry */
  CTS_NEED_NULL_ENTRY,   /* at least one optional entry left NULL */
  CTS_NEED_TWO_DEVICES,  /* a second device of the plugin */
  CTS_NEED_PARTNER,      /* a second plugin under test (--plugin) */
  CTS_NEED_NO_TIMING,    /* XHAL_CAP_STREAM_NO_TIMING */
  CTS_NEED_HOST_ALLOC,   /* XHAL_CAP_HOST_ALLOC */
  /* What the plugin registered (the probe knows it before planning, so
   * --list --plugin predicts these skips too): */
  CTS_NEED_IMPL,          /* any operator implementation */
  CTS_NEED_SUPPORTS_IMPL, /* one with a supports() predicate */
  CTS_NEED_PLAIN_IMPL,    /* a catalog one on the device under test */
  CTS_NEED_COUNT
} cts_need_t;

typedef struct cts_ctx cts_ctx_t;
typedef void (*cts_test_fn)(cts_ctx_t* ctx);

/* A test as a suite declares it. */
typedef struct cts_test {
  const char* name; /* unique within its suite */
  const char* requirement;
  cts_profile_t profile;
  cts_need_t need;
  cts_test_fn fn;
  double timeout_scale; /* 0 = 1: multiplies --timeout */
} cts_test_t;

typedef struct cts_suite {
  const char* name;
  const cts_test_t* tests;
  uint32_t count;
} cts_suite_t;

/* The static suites, in run order (cts_plan.c); the kernels suite adds
 * one test per registered implementation (suite_kernels.c). */
extern const cts_suite_t cts_suite_abi;
extern const cts_suite_t cts_suite_device;
extern const cts_suite_t cts_suite_memory;
extern const cts_suite_t cts_suite_stream;
extern const cts_suite_t cts_suite_event;
extern const cts_suite_t cts_suite_kernels;
extern const cts_suite_t cts_suite_concurrency;
extern const cts_suite_t cts_suite_errors;

/* Per-implementation kernel tests: names are "<impl name>.<variant>". */
typedef struct cts_kernel_variant {
  const char* variant;
  const char* requirement;
  cts_profile_t profile;
  void (*fn)(cts_ctx_t* ctx, uint32_t impl_index);
  double timeout_scale;
} cts_kernel_variant_t;
extern const cts_kernel_variant_t cts_kernel_variants[];
extern const uint32_t cts_kernel_variant_count;

/* ------------------------------------------------------------- probe */

/* One implementation the plugin registered, as the probe saw it. */
typedef struct cts_probe_impl {
  xhal_op_t op;
  uint32_t device_index;
  int32_t priority;
  uint32_t num_dtypes;
  xhal_dtype_t dtypes[XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS];
  uint32_t struct_size;
  uint32_t has_supports;
  uint32_t has_enqueue;
  char name[96];
} cts_probe_impl_t;

/* What the parent knows about a plugin before it plans tests: gathered
 * in a forked child, so a plugin that crashes in init cannot take the
 * suite down. */
typedef struct cts_probe {
  uint32_t completed;       /* the probe child reported back */
  uint32_t direct_ok;       /* query + init + device_count worked */
  char direct_error[512];   /* why not */
  char name[XHAL_NAME_MAX]; /* table name, or the file name */
  char version[64];
  uint32_t table_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t has_map, has_flush, has_host_func, has_elapsed, has_wait_event,
      has_program, null_optional;
  uint32_t device_count;
  xhal_device_properties_t props[CTS_MAX_DEVICES];
  uint32_t impl_count;
  uint32_t impls_truncated;
  cts_probe_impl_t impls[CTS_MAX_IMPLS];
  uint32_t libxhal_loaded;
  char libxhal_reason[512];
  uint32_t libxhal_devices;
  char running[256];       /* the call the probe child was in */
  char teardown_hang[256]; /* set when it hung in a teardown entry */
} cts_probe_t;

/* ------------------------------------------------------- plan, results */

typedef enum cts_outcome {
  CTS_PASS = 0,
  CTS_FAIL = 1,
  CTS_SKIP = 2,
  CTS_XFAIL = 3,
} cts_outcome_t;

/* One test planned for one plugin. */
typedef struct cts_planned {
  char suite[32];
  char name[CTS_NAME_SIZE];
  const char* requirement;
  cts_profile_t profile;
  cts_need_t need;
  cts_test_fn fn;                          /* static tests */
  void (*kernel_fn)(cts_ctx_t*, uint32_t); /* per-implementation tests */
  uint32_t impl_index;
  double timeout_scale;
  char skip_reason[160]; /* non-empty: not run, skipped */
  char fail_reason[160]; /* non-empty: not run, failed */
} cts_planned_t;

typedef struct cts_result {
  cts_outcome_t outcome;
  uint32_t xpass; /* listed as an expected failure, but passed */
  double seconds;
  char message[CTS_MESSAGE_SIZE];
} cts_result_t;

/* Everything about one plugin's run. */
typedef struct cts_plugin_run {
  char path[1024];
  const char* partner_path; /* another plugin under test, or NULL */
  /* The device under test (--device): the tests use it where they use
   * "the device", and another one of the plugin as its second. */
  uint32_t device;
  /* 1 when --device chose the device(s): an implementation registered
   * for one device is then tested only in that device's run. */
  uint32_t device_selected;
  /* Non-empty once a teardown entry hung (in the probe or a test): where.
   * Later tests then skip teardown (cts_teardown_guard). */
  char teardown_hang[400];
  /* "cpu", or "cpu@1" when the plugin is tested on several devices or on
   * one other than its first (--device): the run's name in reports. */
  char label[XHAL_NAME_MAX + 16];
  cts_probe_t* probe;
  cts_planned_t* tests;
  cts_result_t* results;
  uint32_t test_count;
  struct cts_xfail_list* xfails;
  uint32_t core_conformant;
  uint32_t counts[4]; /* by cts_outcome_t */
} cts_plugin_run_t;

/* Options that reach every test. */
typedef struct cts_options {
  uint64_t seed;
  double timeout_s;
  cts_profile_t profile;
  uint32_t verbose;
} cts_options_t;

/* ---------------------------------------------------- inside a test */

struct cts_ctx {
  const cts_plugin_run_t* run;
  const cts_planned_t* test;
  const cts_options_t* options;
  uint64_t seed; /* options->seed mixed with the test's name */
  /* Opened on demand by the helpers below; closed after the test. */
  xhal_instance_t instance;
  xhal_device_t device;  /* the plugin's device under test (run->device) */
  xhal_device_t device2; /* another device of the plugin, if any */
  xhal_device_t partner; /* the partner plugin's first device */
  cts_direct_t* direct;
};

/* The libxhal instance on the plugin under test (plugin_paths = {path},
 * environment ignored), and its device under test. Fails the test with
 * libxhal's rejection reason if the plugin does not load. */
xhal_instance_t cts_instance(cts_ctx_t* ctx);
xhal_device_t cts_device(cts_ctx_t* ctx);
/* Another device of the plugin (the first one after the device under
 * test, wrapping around), or a skip naming it. */
xhal_device_t cts_device2(cts_ctx_t* ctx);
/* The partner plugin's device in the same instance, or a skip. */
xhal_device_t cts_partner_device(cts_ctx_t* ctx);
/* The plugin's table, initialised on a CTS host (cts_direct.h), with
 * the device under test open (d->device_under_test). */
cts_direct_t* cts_direct(cts_ctx_t* ctx);

/* Records what the test is doing, so a crash or a timeout can say
 * where it happened ("last step: ..."). Cheap: call it before each call
 * into the plugin that could hang or crash. */
void cts_step(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fails the test with a formatted message (never returns). */
void cts_fail(const char* fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Skips the test at run time, naming what is missing (never returns). */
void cts_skip(const char* fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Fails unless `cond`. */
void cts_check(int cond, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Fails unless got == want; the message names both statuses, `what`,
 * and the messages libxhal and the plugin (through the CTS host) set
 * during that call, never one left by an earlier call. As macros they
 * note the call as running before it starts (a crash or a hang inside
 * names it) and mark where its messages begin; a plain variable (a
 * status stored by an earlier line) keeps the window of the call that
 * produced it. */
#define cts_expect(got, want, ...) \
  cts_expect_((cts_call_begin(#got), (got)), (want), __VA_ARGS__)
#define cts_ok(got, ...) cts_ok_((cts_call_begin(#got), (got)), __VA_ARGS__)
void cts_expect_(xhal_status_t got, xhal_status_t want, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cts_ok_(xhal_status_t got, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Runs a call whose result is not checked (a void entry), noted as
 * running while it runs. */
#define cts_call(expr)     \
  do {                     \
    cts_call_begin(#expr); \
    expr;                  \
    cts_call_end();        \
  } while (0)
void cts_call_begin(const char* call);
void cts_call_end(void);
/* Fails the test at once if a teardown entry (device_close, shutdown,
 * or libxhal's release that calls them) of the plugin already hung in
 * this run: it would hang again and cost another timeout. Call before a
 * test's own teardown calls. */
void cts_teardown_guard(void);
/* Fails the test: cts_direct_close skipped a teardown that hung before. */
void cts_teardown_skip_fail(const char* reason) __attribute__((noreturn));

/* Monotonic time in nanoseconds. */
uint64_t cts_now_ns(void);
/* How long a test waits for progress that needs no work of the device (an
 * enqueue returning, a host function starting): a tenth of the test's
 * timeout, 3 s at the default 30 s. A slow build (sanitizers) passes a
 * longer --timeout and gets longer bounds with it. */
uint32_t cts_progress_ms(const cts_ctx_t* ctx);
/* A planned test's timeout in seconds: --timeout times its scale. */
double cts_test_timeout_s(const cts_planned_t* test,
                          const cts_options_t* options);
void cts_sleep_ms(uint32_t ms);

/* A deterministic generator seeded from the test (replay with --seed). */
uint64_t cts_rand(cts_ctx_t* ctx);
/* Uniform integer in [lo, hi]. */
uint64_t cts_rand_range(cts_ctx_t* ctx, uint64_t lo, uint64_t hi);
/* Fills `size` bytes with generator output. */
void cts_rand_bytes(cts_ctx_t* ctx, void* data, uint64_t size);

/* malloc that fails the test instead of returning NULL (sizes checked). */
void* cts_alloc(uint64_t size);
/* count * size, failing the test on overflow. */
uint64_t cts_mul(uint64_t count, uint64_t size);

/* A gate: a host function that blocks a stream until the test opens it,
 * so the test can observe work that is provably pending. It gives up by
 * itself (and fails the stream) after a safety period, so a broken
 * plugin cannot make a test hang forever. */
typedef struct cts_gate cts_gate_t;
cts_gate_t* cts_gate_new(void);
void cts_gate_open(cts_gate_t* gate);
/* 1 once the host function started running (the stream reached it). */
int cts_gate_reached(cts_gate_t* gate);
/* Waits up to timeout_ms for the stream to reach the gate. */
int cts_gate_wait_reached(cts_gate_t* gate, uint32_t timeout_ms);
/* Opens the gate from a helper thread after `ms` milliseconds, for calls
 * that may legitimately block until the gated work ran (a free that
 * waits for the stream, a synchronous fallback). Join before freeing. */
void cts_gate_open_after(cts_gate_t* gate, uint32_t ms);
void cts_gate_join(cts_gate_t* gate);
/* Opens the gate if needed, joins a helper, frees. */
void cts_gate_free(cts_gate_t* gate);
xhal_status_t cts_gate_func(void* gate);

/* A host function that increments the uint32_t counter it points to,
 * atomically (for exactly-once checks). */
xhal_status_t cts_count_func(void* counter);
/* A host function that returns XHAL_ERROR_EXECUTION_FAILED. */
xhal_status_t cts_failing_func(void* unused);

/* libxhal helpers that fail the test on error. */
xhal_buffer_t cts_buffer(cts_ctx_t* ctx, xhal_device_t device, uint64_t size,
                         uint32_t flags);
xhal_stream_t cts_stream(xhal_device_t device);
xhal_event_t cts_event(xhal_device_t device);
/* Writes `size` bytes and synchronizes. */
void cts_write_sync(xhal_stream_t stream, xhal_buffer_t buffer, uint64_t offset,
                    const void* src, uint64_t size);
/* Reads `size` bytes and synchronizes. */
void cts_read_sync(xhal_stream_t stream, xhal_buffer_t buffer, uint64_t offset,
                   void* dst, uint64_t size);
/* Index of the first byte where a and b differ, or size if none. */
uint64_t cts_first_diff(const void* a, const void* b, uint64_t size);

/* Threads of this process that still run code: a thread that has begun
 * to exit (a joined one the kernel has not unlinked yet) or a zombie is
 * not counted. The listing is repeated until two passes agree. */
uint32_t cts_thread_count(void);
/* Starts and joins one thread, so that threads a runtime starts on the
 * first thread creation (sanitizers) exist before a count. */
void cts_thread_warmup(void);
/* Open file descriptors of this process (the listing's own left out). */
uint32_t cts_fd_count(void);
/* cts_fd_count, polled for up to `ms` until it is `want` or less: a
 * descriptor a driver thread holds for a moment is not a leak, one that
 * stays open is. Returns the last count. */
uint32_t cts_fd_count_settled(uint32_t want, uint32_t ms);

/* Name of a capability need for skip messages. */
const char* cts_need_name(cts_need_t need);

#endif /* XHAL_CTS_H_ */
