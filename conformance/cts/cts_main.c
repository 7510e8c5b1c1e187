/*
 * cts_main.c - xhal-cts: command line, plugin selection, the run over
 * every plugin, reports and the exit status.
 *
 * Exit status: 0 when every test that ran passed (skips allowed), 1 when
 * a test failed that no expected-failure list names, 2 when every failure
 * was expected (the plugin is still not conformant), 3 on a usage or I/O
 * error or when there is no plugin to test.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cts_run.h"
#include "report.h"
#include "xfail.h"

static const cts_suite_t* const kAllSuites[] = {
    &cts_suite_abi,         &cts_suite_device, &cts_suite_memory,
    &cts_suite_stream,      &cts_suite_event,  &cts_suite_kernels,
    &cts_suite_concurrency, &cts_suite_errors,
};
enum { kSuiteCount = sizeof(kAllSuites) / sizeof(kAllSuites[0]) };

static void usage(FILE* out) {
  fputs(
      "usage: xhal-cts [options]\n"
      "  --plugin PATH    plugin file to test (repeatable; default: every\n"
      "                   plugin libxhal discovers)\n"
      "  --profile P      core (default) or full (core + optional tests)\n"
      "  --suite NAME     run one suite: abi device memory stream event\n"
      "                   kernels concurrency errors\n"
      "  --device N|all   test the plugin's device N (default 0), or each\n"
      "                   of its devices in turn\n"
      "  --list           print every test with its requirement and exit\n"
      "  --json FILE      write the JSON report\n"
      "  --junit FILE     write a JUnit XML report\n"
      "  --xfail FILE     expected failures (repeatable; after --plugin:\n"
      "                   for that plugin only)\n"
      "  --seed N         seed of the random data (default 1)\n"
      "  --timeout S      seconds per test before it fails (default 30)\n"
      "  --verbose        print every test as it runs\n",
      out);
}

typedef struct args {
  char plugins[CTS_MAX_PLUGINS][1024];
  cts_xfail_list_t plugin_xfails[CTS_MAX_PLUGINS];
  uint32_t plugin_count;
  cts_xfail_list_t global_xfails;
  const char* suite;
  const char* json;
  const char* junit;
  int list;
  int device_mode; /* 0: first device, 1: device_index, 2: every device */
  uint32_t device_index;
  cts_options_t options;
} args_t;

static int parse_u64(const char* s, uint64_t* out) {
  char* end = NULL;
  errno = 0;
  if (!s || !*s || *s == '-') return -1;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

static int parse_seconds(const char* s, double* out) {
  char* end = NULL;
  errno = 0;
  if (!s || !*s) return -1;
  double v = strtod(s, &end);
  if (errno || *end || !(v > 0) || v > 86400) return -1;
  *out = v;
  return 0;
}

static int known_suite(const char* name) {
  for (int i = 0; i < kSuiteCount; ++i) {
    if (strcmp(kAllSuites[i]->name, name) == 0) return 1;
  }
  return 0;
}

/* Returns 0 to go on, or the exit status to stop with. */
static int parse_args(int argc, char** argv, args_t* a) {
  a->options.seed = 1;
  a->options.timeout_s = 30.0;
  a->options.profile = CTS_PROFILE_CORE;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : NULL;
    int takes_value = 1;
    char err[512];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      usage(stdout);
      return -1;
    } else if (strcmp(arg, "--list") == 0) {
      a->list = 1;
      takes_value = 0;
    } else if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
      a->options.verbose = 1;
      takes_value = 0;
    } else if (!value) {
      fprintf(stderr, "xhal-cts: %s needs a value (or is unknown)\n", arg);
      usage(stderr);
      return 3;
    } else if (strcmp(arg, "--plugin") == 0) {
      if (a->plugin_count == CTS_MAX_PLUGINS) {
        fprintf(stderr, "xhal-cts: at most %d plugins\n", CTS_MAX_PLUGINS);
        return 3;
      }
      /* libxhal takes absolute paths only (the current directory is never
       * searched), so a relative command-line path is resolved here. */
      char resolved[PATH_MAX];
      if (!realpath(value, resolved)) {
        fprintf(stderr, "xhal-cts: --plugin %s: %s\n", value, strerror(errno));
        return 3;
      }
      size_t len = strlen(resolved);
      if (len >= sizeof(a->plugins[0])) {
        fprintf(stderr, "xhal-cts: --plugin %s: path too long\n", value);
        return 3;
      }
      memcpy(a->plugins[a->plugin_count++], resolved, len + 1);
    } else if (strcmp(arg, "--profile") == 0) {
      if (strcmp(value, "core") == 0) {
        a->options.profile = CTS_PROFILE_CORE;
      } else if (strcmp(value, "full") == 0) {
        a->options.profile = CTS_PROFILE_OPTIONAL;
      } else {
        fprintf(stderr, "xhal-cts: --profile is core or full\n");
        return 3;
      }
    } else if (strcmp(arg, "--suite") == 0) {
      if (!known_suite(value)) {
        fprintf(stderr, "xhal-cts: unknown suite '%s'\n", value);
        usage(stderr);
        return 3;
      }
      a->suite = value;
    } else if (strcmp(arg, "--device") == 0) {
      uint64_t index = 0;
      if (strcmp(value, "all") == 0) {
        a->device_mode = 2;
      } else if (parse_u64(value, &index) == 0 && index < CTS_MAX_DEVICES) {
        a->device_mode = 1;
        a->device_index = (uint32_t)index;
      } else {
        fprintf(stderr, "xhal-cts: --device takes an index below %d or all\n",
                CTS_MAX_DEVICES);
        return 3;
      }
    } else if (strcmp(arg, "--json") == 0) {
      a->json = value;
    } else if (strcmp(arg, "--junit") == 0) {
      a->junit = value;
    } else if (strcmp(arg, "--xfail") == 0) {
      cts_xfail_list_t* list = a->plugin_count
                                   ? &a->plugin_xfails[a->plugin_count - 1]
                                   : &a->global_xfails;
      if (cts_xfail_load(list, value, err, sizeof(err)) != 0) {
        fprintf(stderr, "xhal-cts: %s\n", err);
        return 3;
      }
    } else if (strcmp(arg, "--seed") == 0) {
      if (parse_u64(value, &a->options.seed) != 0) {
        fprintf(stderr, "xhal-cts: --seed takes an unsigned integer\n");
        return 3;
      }
    } else if (strcmp(arg, "--timeout") == 0) {
      if (parse_seconds(value, &a->options.timeout_s) != 0) {
        fprintf(stderr, "xhal-cts: --timeout takes seconds (0 < S <= 86400)\n");
        return 3;
      }
    } else {
      fprintf(stderr, "xhal-cts: unknown option %s\n", arg);
      usage(stderr);
      return 3;
    }
    if (takes_value) ++i;
  }
  return 0;
}

/* ----------------------------------------------------------------- list */

static void list_row(const char* suite, const char* name, const char* req,
                     cts_profile_t profile, const char* needs) {
  char full[CTS_NAME_SIZE + 40];
  snprintf(full, sizeof(full), "%s.%s", suite, name);
  printf("%-52s %-10s %-8s %s\n", full, req,
         profile == CTS_PROFILE_CORE ? "core" : "optional", needs);
}

/* Without plugins: every static test, and the per-implementation kernel
 * tests as templates. With plugins: what would run on each. */
static void print_list(const args_t* a, cts_plugin_run_t* runs,
                       uint32_t run_count) {
  printf("%-52s %-10s %-8s %s\n", "TEST", "REQUIREMENT", "PROFILE",
         "NEEDS / SKIP REASON");
  if (run_count == 0) {
    for (int s = 0; s < kSuiteCount; ++s) {
      const cts_suite_t* st = kAllSuites[s];
      if (a->suite && strcmp(a->suite, st->name) != 0) continue;
      for (uint32_t i = 0; i < st->count; ++i) {
        const cts_test_t* t = &st->tests[i];
        list_row(st->name, t->name, t->requirement, t->profile,
                 cts_need_name(t->need));
      }
      if (st != &cts_suite_kernels) continue;
      for (uint32_t v = 0; v < cts_kernel_variant_count; ++v) {
        const cts_kernel_variant_t* kv = &cts_kernel_variants[v];
        char name[64];
        snprintf(name, sizeof(name), "<impl>.%s", kv->variant);
        list_row("kernels", name, kv->requirement, kv->profile,
                 "one per implementation the plugin registers");
      }
    }
    return;
  }
  for (uint32_t p = 0; p < run_count; ++p) {
    printf("# plugin %s (%s), device %u\n", runs[p].label, runs[p].path,
           runs[p].device);
    for (uint32_t i = 0; i < runs[p].test_count; ++i) {
      const cts_planned_t* t = &runs[p].tests[i];
      list_row(t->suite, t->name, t->requirement, t->profile, t->skip_reason);
    }
  }
}

/* ----------------------------------------------------------------- main */

static void warn_unused(const cts_xfail_list_t* list) {
  for (uint32_t i = 0; i < list->count; ++i) {
    const cts_xfail_entry_t* e = &list->entries[i];
    if (e->matches == 0) {
      fprintf(stderr,
              "xhal-cts: warning: %s:%u: expected failure '%s' matched no "
              "test that ran\n",
              e->file, e->line, e->pattern);
    }
  }
}

/* Merges the global list and a plugin's own into one list. */
static cts_xfail_list_t* merged_xfails(const cts_xfail_list_t* global,
                                       const cts_xfail_list_t* own) {
  cts_xfail_list_t* list = calloc(1, sizeof(*list));
  uint32_t n = global->count + own->count;
  if (!list) return NULL;
  if (n == 0) return list;
  list->entries = calloc(n, sizeof(*list->entries));
  if (!list->entries) {
    free(list);
    return NULL;
  }
  if (own->count) {
    memcpy(list->entries, own->entries, own->count * sizeof(*own->entries));
  }
  if (global->count) {
    memcpy(list->entries + own->count, global->entries,
           global->count * sizeof(*global->entries));
  }
  list->count = list->capacity = n;
  return list;
}

int main(int argc, char** argv) {
  /* Check reads these to pick or filter tests; the CTS decides that. */
  unsetenv("CK_RUN_SUITE");
  unsetenv("CK_RUN_CASE");
  unsetenv("CK_INCLUDE_TAGS");
  unsetenv("CK_EXCLUDE_TAGS");
  unsetenv("CK_FORK");

  static args_t a;
  int rc = parse_args(argc, argv, &a);
  if (rc != 0) return rc < 0 ? 0 : rc;

  if (a.list && a.plugin_count == 0) {
    print_list(&a, NULL, 0);
    return 0;
  }
  if (a.plugin_count == 0) {
    a.plugin_count = cts_discover(a.plugins, CTS_MAX_PLUGINS);
    if (a.plugin_count == 0) {
      fprintf(stderr,
              "xhal-cts: no plugin found (give --plugin PATH, or set "
              "XHAL_PLUGINS / XHAL_PLUGIN_PATH)\n");
      return 3;
    }
  }

  cts_probe_t* probes = calloc(a.plugin_count, sizeof(*probes));
  cts_xfail_list_t** xfails = calloc(a.plugin_count, sizeof(*xfails));
  if (!probes || !xfails) {
    fprintf(stderr, "xhal-cts: out of memory\n");
    return 3;
  }
  /* One run per plugin and device under test: the first device, the one
   * --device names, or each of them. A plugin the probe could not read
   * gets one run, where every test says why. */
  uint32_t run_count = 0;
  for (uint32_t p = 0; p < a.plugin_count; ++p) {
    cts_probe(a.plugins[p], a.options.timeout_s, &probes[p]);
    uint32_t devices = probes[p].device_count;
    if (devices > CTS_MAX_DEVICES) devices = CTS_MAX_DEVICES;
    if (a.device_mode == 1 && probes[p].direct_ok &&
        a.device_index >= probes[p].device_count) {
      fprintf(stderr, "xhal-cts: --device %u: plugin %s has %u device%s\n",
              a.device_index, probes[p].name, probes[p].device_count,
              probes[p].device_count == 1 ? "" : "s");
      return 3;
    }
    run_count += a.device_mode == 2 && devices > 1 ? devices : 1u;
  }
  cts_plugin_run_t* runs = calloc(run_count, sizeof(*runs));
  if (!runs) {
    fprintf(stderr, "xhal-cts: out of memory\n");
    return 3;
  }
  uint32_t r = 0;
  for (uint32_t p = 0; p < a.plugin_count; ++p) {
    uint32_t devices = probes[p].device_count;
    if (devices > CTS_MAX_DEVICES) devices = CTS_MAX_DEVICES;
    const uint32_t first = a.device_mode == 1 ? a.device_index : 0u;
    const uint32_t n = a.device_mode == 2 && devices > 1 ? devices : 1u;
    /* The plugin's runs share one expected-failure list, so an entry is
     * "unused" only if no device's run matched it. */
    xfails[p] = merged_xfails(&a.global_xfails, &a.plugin_xfails[p]);
    for (uint32_t k = 0; k < n; ++k) {
      cts_plugin_run_t* run = &runs[r++];
      snprintf(run->path, sizeof(run->path), "%s", a.plugins[p]);
      /* The next plugin in the list is this one's partner for
       * cross-plugin tests (the previous one for the last plugin). */
      if (a.plugin_count > 1) {
        run->partner_path = a.plugins[(p + 1) % a.plugin_count];
      }
      run->probe = &probes[p];
      run->device = first + k;
      run->device_selected = a.device_mode != 0;
      if (run->device_selected) {
        snprintf(run->label, sizeof(run->label), "%s@%u", probes[p].name,
                 run->device);
      } else {
        snprintf(run->label, sizeof(run->label), "%s", probes[p].name);
      }
      cts_plan(run, a.options.profile, a.suite);
      run->xfails = xfails[p];
    }
  }
  if (a.list) {
    print_list(&a, runs, run_count);
    return 0;
  }

  int unexpected = 0;
  int expected = 0;
  for (uint32_t p = 0; p < run_count; ++p) {
    cts_plugin_run_t* run = &runs[p];
    const uint32_t dev = run->device < CTS_MAX_DEVICES ? run->device : 0;
    printf("== %s: %s, device %u (%s), %u tests (seed %llu, timeout %.0fs)\n",
           run->label, run->path, run->device, run->probe->props[dev].name,
           run->test_count, (unsigned long long)a.options.seed,
           a.options.timeout_s);
    if (!run->probe->direct_ok) {
      printf("  the plugin does not load: %s\n", run->probe->direct_error);
    }
    fflush(stdout);
    cts_run_plugin(run, &a.options, 1);
    unexpected += run->counts[CTS_FAIL] != 0;
    expected += run->counts[CTS_XFAIL] != 0;
  }
  for (uint32_t p = 0; p < a.plugin_count; ++p) {
    if (xfails[p]) warn_unused(xfails[p]);
  }
  cts_report_console(stdout, runs, run_count);
  int io_error = 0;
  if (a.json && cts_report_json(a.json, runs, run_count) != 0) io_error = 1;
  if (a.junit && cts_report_junit(a.junit, runs, run_count) != 0) io_error = 1;
  for (uint32_t p = 0; p < run_count; ++p) {
    free(runs[p].tests);
    free(runs[p].results);
  }
  for (uint32_t p = 0; p < a.plugin_count; ++p) {
    if (xfails[p]) cts_xfail_free(xfails[p]);
    free(xfails[p]);
    cts_xfail_free(&a.plugin_xfails[p]);
  }
  free(xfails);
  cts_xfail_free(&a.global_xfails);
  free(runs);
  free(probes);
  if (io_error) return 3;
  if (unexpected) return 1;
  return expected ? 2 : 0;
}
