/*
 * cts_run.c - plans a plugin's tests and runs each one under Check in a
 * forked child with a timeout.
 *
 * Every test runs in its own SRunner: Check gives no per-test timing and
 * no way to decide "skipped" inside a child, so the parent drives one test
 * at a time, times it, turns a CTS skip message into a skip, and adds the
 * child's last recorded step to the message of a crash or a timeout.
 */
#define _GNU_SOURCE

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cts_run.h"
#include "kernel_cases.h"
#include "xfail.h"

/* ----------------------------------------------------------------- plan */

static const cts_suite_t* const kSuites[] = {
    &cts_suite_abi,         &cts_suite_device, &cts_suite_memory,
    &cts_suite_stream,      &cts_suite_event,  &cts_suite_kernels,
    &cts_suite_concurrency, &cts_suite_errors,
};

/* Why a plugin cannot run a test needing `need`, or NULL if it can. The
 * capabilities are those of the device under test (run->device). */
static const char* missing_need(const cts_plugin_run_t* run, cts_need_t need) {
  const cts_probe_t* p = run->probe;
  if (need == CTS_NEED_PARTNER) {
    return run->partner_path ? NULL : cts_need_name(need);
  }
  /* A plugin the probe could not load gets every test: each one then
   * fails with the load error, which is the truth. */
  if (!p->direct_ok || p->device_count == 0) return NULL;
  const uint32_t dev = run->device < CTS_MAX_DEVICES ? run->device : 0;
  uint32_t caps = p->props[dev].capabilities;
  int have = 1;
  switch (need) {
    case CTS_NEED_NONE:
      have = 1;
      break;
    case CTS_NEED_HOST_VISIBLE:
      have = (caps & XHAL_CAP_HOST_VISIBLE_MEMORY) != 0;
      break;
    case CTS_NEED_PROFILING:
      have = (caps & XHAL_CAP_PROFILING) != 0;
      break;
    case CTS_NEED_HOST_FUNC:
      have = (caps & XHAL_CAP_HOST_FUNC) != 0;
      break;
    case CTS_NEED_KERNEL_LANG:
      have = (caps & (XHAL_CAP_KERNEL_LANG_OPENCL_C |
                      XHAL_CAP_KERNEL_LANG_CUDA_C)) != 0;
      break;
    case CTS_NEED_FLUSH:
      have = p->has_flush;
      break;
    case CTS_NEED_WAIT_EVENT:
      have = p->has_wait_event;
      break;
    case CTS_NEED_NULL_ENTRY:
      have = p->null_optional;
      break;
    case CTS_NEED_TWO_DEVICES:
      have = p->device_count >= 2;
      break;
    case CTS_NEED_NO_TIMING:
      have = (caps & XHAL_CAP_STREAM_NO_TIMING) != 0;
      break;
    case CTS_NEED_HOST_ALLOC:
      have = (caps & XHAL_CAP_HOST_ALLOC) != 0;
      break;
    case CTS_NEED_IMPL:
      have = p->impl_count > 0;
      break;
    case CTS_NEED_SUPPORTS_IMPL:
    case CTS_NEED_PLAIN_IMPL:
      have = 0;
      for (uint32_t i = 0; i < p->impl_count && !have; ++i) {
        const cts_probe_impl_t* impl = &p->impls[i];
        if (need == CTS_NEED_SUPPORTS_IMPL) {
          have = impl->has_supports && kc_op_known(impl->op);
        } else {
          have = kc_op_known(impl->op) &&
                 (impl->device_index == run->device ||
                  impl->device_index == XHAL_PLUGIN_ALL_DEVICES);
        }
      }
      break;
    default:
      have = 1;
      break;
  }
  return have ? NULL : cts_need_name(need);
}

static int wanted(cts_profile_t test_profile, cts_profile_t profile,
                  const char* test_suite, const char* suite) {
  if (test_profile == CTS_PROFILE_OPTIONAL && profile == CTS_PROFILE_CORE)
    return 0;
  return suite == NULL || strcmp(suite, test_suite) == 0;
}

static cts_planned_t* add_planned(cts_plugin_run_t* run, uint32_t* capacity) {
  if (run->test_count == *capacity) {
    uint32_t grown = *capacity ? *capacity * 2u : 128u;
    cts_planned_t* tests = realloc(run->tests, grown * sizeof(*tests));
    if (!tests) {
      fprintf(stderr, "xhal-cts: out of memory planning tests\n");
      exit(3);
    }
    run->tests = tests;
    *capacity = grown;
  }
  cts_planned_t* t = &run->tests[run->test_count++];
  memset(t, 0, sizeof(*t));
  return t;
}

/* 1 if an earlier implementation already has this name (a plugin may
 * register one name for several signatures). */
static int name_taken(const cts_probe_t* p, uint32_t index) {
  for (uint32_t i = 0; i < index; ++i) {
    if (strcmp(p->impls[i].name, p->impls[index].name) == 0) return 1;
  }
  return 0;
}

static void plan_kernel_impls(cts_plugin_run_t* run, cts_profile_t profile,
                              uint32_t* capacity) {
  const cts_probe_t* p = run->probe;
  for (uint32_t i = 0; i < p->impl_count; ++i) {
    const cts_probe_impl_t* impl = &p->impls[i];
    /* With --device, an implementation bound to another device is tested
     * in that device's run, or not at all; without it, on its own device. */
    if (run->device_selected && impl->device_index != XHAL_PLUGIN_ALL_DEVICES &&
        impl->device_index != run->device)
      continue;
    char base[CTS_NAME_SIZE - 16];
    if (name_taken(p, i)) {
      snprintf(base, sizeof(base), "%.100s#%u", impl->name, i);
    } else {
      snprintf(base, sizeof(base), "%.100s", impl->name);
    }
    for (uint32_t v = 0; v < cts_kernel_variant_count; ++v) {
      const cts_kernel_variant_t* kv = &cts_kernel_variants[v];
      if (!wanted(kv->profile, profile, "kernels", "kernels")) continue;
      cts_planned_t* t = add_planned(run, capacity);
      snprintf(t->suite, sizeof(t->suite), "kernels");
      snprintf(t->name, sizeof(t->name), "%s.%s", base, kv->variant);
      t->requirement = kv->requirement;
      t->profile = kv->profile;
      t->need = CTS_NEED_NONE;
      t->kernel_fn = kv->fn;
      t->impl_index = i;
      t->timeout_scale = kv->timeout_scale;
      if (impl->op >= XHAL_OP_CUSTOM_BASE) {
        snprintf(t->skip_reason, sizeof(t->skip_reason),
                 "a reference for custom operator %u (none exists)", impl->op);
      }
    }
  }
}

void cts_plan(cts_plugin_run_t* run, cts_profile_t profile, const char* suite) {
  uint32_t capacity = 0;
  run->tests = NULL;
  run->test_count = 0;
  for (size_t s = 0; s < sizeof(kSuites) / sizeof(kSuites[0]); ++s) {
    const cts_suite_t* st = kSuites[s];
    if (suite && strcmp(suite, st->name) != 0) continue;
    for (uint32_t i = 0; i < st->count; ++i) {
      const cts_test_t* test = &st->tests[i];
      if (!wanted(test->profile, profile, st->name, suite)) continue;
      cts_planned_t* t = add_planned(run, &capacity);
      snprintf(t->suite, sizeof(t->suite), "%s", st->name);
      snprintf(t->name, sizeof(t->name), "%s", test->name);
      t->requirement = test->requirement;
      t->profile = test->profile;
      t->need = test->need;
      t->fn = test->fn;
      t->timeout_scale = test->timeout_scale;
      const char* missing = missing_need(run, test->need);
      if (missing) {
        snprintf(t->skip_reason, sizeof(t->skip_reason), "%s", missing);
      }
    }
    if (st == &cts_suite_kernels) plan_kernel_impls(run, profile, &capacity);
  }
  /* A plugin that crashed or hung while the probe loaded it would do the
   * same in every test, each costing a timeout: only the abi suite runs
   * (it says what is wrong), the rest fail at once. */
  if (!run->probe->completed && run->probe->teardown_hang[0]) {
    /* It loaded and answered; only its teardown hung: every test runs,
     * none calls teardown again. */
    snprintf(run->teardown_hang, sizeof(run->teardown_hang), "%s",
             run->probe->teardown_hang);
  } else if (!run->probe->completed) {
    for (uint32_t i = 0; i < run->test_count; ++i) {
      cts_planned_t* t = &run->tests[i];
      if (strcmp(t->suite, "abi") == 0 || t->skip_reason[0]) continue;
      snprintf(t->fail_reason, sizeof(t->fail_reason), "not run: %.140s",
               run->probe->direct_error);
    }
  }
  run->results =
      calloc(run->test_count ? run->test_count : 1u, sizeof(*run->results));
  if (!run->results) {
    fprintf(stderr, "xhal-cts: out of memory planning tests\n");
    exit(3);
  }
}

/* ------------------------------------------------------------- children */

uint64_t cts_test_seed(uint64_t seed, const char* suite, const char* name) {
  uint64_t h = 1469598103934665603ull;
  for (const char* c = suite; *c; ++c) h = (h ^ (uint8_t)*c) * 1099511628211ull;
  h = (h ^ '.') * 1099511628211ull;
  for (const char* c = name; *c; ++c) h = (h ^ (uint8_t)*c) * 1099511628211ull;
  return seed ^ h;
}

/* What a forked test child needs; set by the parent before srunner_run
 * and inherited through fork. */
static struct {
  const cts_plugin_run_t* run;
  const cts_options_t* options;
} g_child;

int cts_is_teardown_call(const char* running) {
  return strncmp(running, "device_close", 12) == 0 ||
         strncmp(running, "shutdown", 8) == 0 ||
         strncmp(running, "xhal_instance_release", 21) == 0 ||
         strstr(running, "device_close(") != NULL ||
         strstr(running, "shutdown(") != NULL;
}

START_TEST(cts_trampoline) {
  const cts_planned_t* t = &g_child.run->tests[_i];
  cts_ctx_t ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.run = g_child.run;
  ctx.test = t;
  ctx.options = g_child.options;
  ctx.seed = cts_test_seed(g_child.options->seed, t->suite, t->name);
  cts_direct_set_device_under_test(g_child.run->device);
  cts_direct_set_teardown_hang(g_child.run->teardown_hang,
                               cts_teardown_skip_fail);
  if (t->fn) {
    t->fn(&ctx);
  } else {
    t->kernel_fn(&ctx, t->impl_index);
  }
  cts_ctx_close(&ctx);
}
END_TEST

/* ------------------------------------------------------------- running */

enum { kStepPageSize = 4096 };

static void run_one(cts_plugin_run_t* run, uint32_t index,
                    const cts_options_t* options, char* step_page) {
  cts_planned_t* t = &run->tests[index];
  cts_result_t* r = &run->results[index];
  memset(step_page, 0, kStepPageSize);
  Suite* suite = suite_create("xhal-cts");
  TCase* tc = tcase_create(t->name);
  const double timeout_s = cts_test_timeout_s(t, options);
  tcase_set_timeout(tc, timeout_s);
  tcase_add_loop_test(tc, cts_trampoline, (int)index, (int)index + 1);
  suite_add_tcase(suite, tc);
  SRunner* sr = srunner_create(suite);
  srunner_set_fork_status(sr, CK_FORK);
  g_child.run = run;
  g_child.options = options;
  uint64_t t0 = cts_now_ns();
  fflush(NULL);
  srunner_run(sr, "xhal-cts", t->name, CK_SILENT);
  r->seconds = (double)(cts_now_ns() - t0) / 1e9;
  int n = srunner_ntests_run(sr);
  TestResult** results = srunner_results(sr);
  if (n != 1 || !results) {
    r->outcome = CTS_FAIL;
    snprintf(r->message, sizeof(r->message),
             "the test did not run (Check ran %d tests)", n);
  } else {
    TestResult* tr = results[0];
    const char* msg = tr_msg(tr) ? tr_msg(tr) : "";
    size_t skip_len = strlen(CTS_SKIP_PREFIX);
    if (tr_rtype(tr) == CK_PASS) {
      r->outcome = CTS_PASS;
      r->message[0] = '\0';
    } else if (strncmp(msg, CTS_SKIP_PREFIX, skip_len) == 0) {
      r->outcome = CTS_SKIP;
      snprintf(r->message, sizeof(r->message), "missing: %s", msg + skip_len);
    } else if (tr_rtype(tr) == CK_ERROR) {
      /* A signal, an exit or a timeout: the child could not say where,
       * its last step does. */
      r->outcome = CTS_FAIL;
      char what[160];
      const int timed_out = strstr(msg, "timeout") != NULL;
      if (timed_out) {
        snprintf(what, sizeof(what), "timed out after %.1f s (hang?)",
                 timeout_s);
      } else {
        snprintf(what, sizeof(what), "%.150s", msg);
      }
      const char* running = step_page + kStepPageSize / 2;
      char where[600];
      if (running[0]) {
        snprintf(where, sizeof(where), " in %.500s", running);
      } else {
        snprintf(where, sizeof(where),
                 " with no plugin call running on the test's thread");
      }
      snprintf(r->message, sizeof(r->message), "%s%s%s%.1200s", what, where,
               step_page[0] ? "; last step: " : "", step_page);
      /* A hang in teardown would repeat in every later test: the later
       * children skip teardown, and tests that tear down themselves fail
       * at once, naming this one. */
      if (timed_out && cts_is_teardown_call(running) &&
          !run->teardown_hang[0]) {
        snprintf(run->teardown_hang, sizeof(run->teardown_hang),
                 "%.200s hung in %s.%.100s", running, t->suite, t->name);
      }
    } else {
      r->outcome = CTS_FAIL;
      snprintf(r->message, sizeof(r->message), "%s", msg);
    }
  }
  free(results);
  srunner_free(sr);
}

static void apply_xfail(cts_plugin_run_t* run, uint32_t index) {
  cts_planned_t* t = &run->tests[index];
  cts_result_t* r = &run->results[index];
  if (!run->xfails) return;
  char full[CTS_NAME_SIZE + 40];
  snprintf(full, sizeof(full), "%s.%s", t->suite, t->name);
  const cts_xfail_entry_t* e =
      cts_xfail_match(run->xfails, run->probe->name, full);
  if (!e) return;
  if (r->outcome == CTS_FAIL) {
    char msg[CTS_MESSAGE_SIZE];
    snprintf(msg, sizeof(msg), "expected failure (%.400s): %.1500s", e->reason,
             r->message);
    snprintf(r->message, sizeof(r->message), "%s", msg);
    r->outcome = CTS_XFAIL;
  } else if (r->outcome == CTS_PASS) {
    r->xpass = 1;
    snprintf(r->message, sizeof(r->message),
             "listed as an expected failure (%s, %s:%u) but passed: remove "
             "the entry",
             e->reason, e->file, e->line);
  }
}

static const char* kOutcomeNames[] = {"PASS", "FAIL", "SKIP", "XFAIL"};

void cts_run_plugin(cts_plugin_run_t* run, const cts_options_t* options,
                    int progress) {
  char* step_page = mmap(NULL, kStepPageSize, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (step_page == MAP_FAILED) {
    fprintf(stderr, "xhal-cts: cannot map the step page\n");
    exit(3);
  }
  cts_step_attach(step_page, kStepPageSize);
  memset(run->counts, 0, sizeof(run->counts));
  run->core_conformant = 1;
  for (uint32_t i = 0; i < run->test_count; ++i) {
    cts_planned_t* t = &run->tests[i];
    cts_result_t* r = &run->results[i];
    if (t->skip_reason[0]) {
      r->outcome = CTS_SKIP;
      snprintf(r->message, sizeof(r->message), "missing: %s", t->skip_reason);
    } else if (t->fail_reason[0]) {
      r->outcome = CTS_FAIL;
      snprintf(r->message, sizeof(r->message), "%s", t->fail_reason);
    } else {
      run_one(run, i, options, step_page);
    }
    apply_xfail(run, i);
    run->counts[r->outcome]++;
    if (t->profile == CTS_PROFILE_CORE &&
        (r->outcome == CTS_FAIL || r->outcome == CTS_XFAIL)) {
      run->core_conformant = 0;
    }
    if (progress && (options->verbose || r->outcome == CTS_FAIL || r->xpass)) {
      printf("  %-5s %s.%s [%s] %.2fs%s%s\n",
             r->xpass ? "XPASS" : kOutcomeNames[r->outcome], t->suite, t->name,
             t->requirement, r->seconds, r->message[0] ? ": " : "", r->message);
      fflush(stdout);
    }
  }
  cts_step_attach(NULL, 0);
  munmap(step_page, kStepPageSize);
}
