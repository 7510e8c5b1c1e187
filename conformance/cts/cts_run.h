/*
 * cts_run.h - the parent's side: probing plugins, planning their tests
 * and running each test in a forked child under Check with a timeout.
 */
#ifndef XHAL_CTS_RUN_H_
#define XHAL_CTS_RUN_H_

#include <stddef.h>

#include "cts.h"

/* A test that skips itself at run time fails with a message carrying this
 * prefix; the parent turns it into a skip. Only CTS code writes it. */
#define CTS_SKIP_PREFIX "@cts-skip: "

/* Probes `path` in a forked child (at most timeout_s): table, devices,
 * registered implementations, and whether libxhal loads it. Always fills
 * `out`; out->completed is 0 if the child crashed or hung. */
void cts_probe(const char* path, double timeout_s, cts_probe_t* out);

/* Lists every plugin file libxhal considers with default options (in a
 * forked child). Returns the number of paths written. */
uint32_t cts_discover(char (*paths)[1024], uint32_t max_paths);

/* Builds run->tests from the suites for run->probe: only tests of the
 * profile (core, or core + optional for full) and of `suite` (NULL: all);
 * tests whose need the plugin lacks get a skip reason. */
void cts_plan(cts_plugin_run_t* run, cts_profile_t profile, const char* suite);

/* Runs every planned test of `run` (fills run->results), printing one
 * line per test that did not pass when `progress` is set. */
void cts_run_plugin(cts_plugin_run_t* run, const cts_options_t* options,
                    int progress);

/* Used inside a child: where cts_step writes, and closing what a test
 * opened. */
void cts_step_attach(char* page, size_t size);
void cts_ctx_close(cts_ctx_t* ctx);

/* 1 if a running note (cts_direct_note_running) names a teardown entry:
 * device_close, shutdown, or the libxhal release that calls them. */
int cts_is_teardown_call(const char* running);

/* FNV-1a of a string mixed into a seed: each test gets its own stream
 * of random numbers, independent of which other tests run. */
uint64_t cts_test_seed(uint64_t seed, const char* suite, const char* name);

#endif /* XHAL_CTS_RUN_H_ */
