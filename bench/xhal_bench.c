/*
 * xhal_bench.c - xhal-bench: what xhal costs over the raw way of doing the
 * same work, as ratios measured in one run on the same device.
 *
 *   xhal-bench [--json] [--quick] [--only PREFIX]... [--check]
 *              [--opencl-device NAME]
 *
 * --json prints {"results": [{"name", "value", "unit", "baseline",
 * "baseline_value", "ratio", "better"}...], "skipped": [...]} with
 * ratio = value / baseline_value; otherwise a table. --quick runs fewer
 * trials (for the main CI job). --only runs the figures whose name starts
 * with PREFIX ("cpu.", "pool.alloc_free"). --check exits 1 when a figure
 * misses its target (docs/performance.md lists them). --opencl-device
 * picks the OpenCL plugin's device whose name contains NAME; without it
 * the first GPU, else the plugin's first device.
 *
 * Plugins are discovered as for any xhal program (XHAL_PLUGINS,
 * XHAL_PLUGIN_PATH, the install and build-tree directories); figures of a
 * plugin that did not load, or has no device, are reported as skipped.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

enum { kMaxResults = 64 };

typedef struct result {
  char name[64];
  double value;
  const char* unit;
  char baseline[128];
  double baseline_value;
  bench_better_t better;
  bench_target_t target;
} result_t;

typedef struct skip {
  char prefix[64];
  char reason[256];
} skip_t;

static bench_config_t g_config;
const bench_config_t* g_bench = &g_config;
static result_t g_results[kMaxResults];
static int g_result_count;
static skip_t g_skips[kMaxResults];
static int g_skip_count;

/* ------------------------------------------------------------ helpers */

static int starts_with(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int bench_wants(const char* name) {
  if (g_config.only_count == 0) return 1;
  for (int i = 0; i < g_config.only_count; ++i) {
    if (starts_with(name, g_config.only[i])) return 1;
  }
  return 0;
}

int bench_wants_prefix(const char* prefix) {
  if (g_config.only_count == 0) return 1;
  for (int i = 0; i < g_config.only_count; ++i) {
    /* Either names the other's subset: "cpu." and "cpu.copy" meet. */
    if (starts_with(prefix, g_config.only[i]) ||
        starts_with(g_config.only[i], prefix)) {
      return 1;
    }
  }
  return 0;
}

double bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a;
  double y = *(const double*)b;
  return x < y ? -1 : x > y;
}

double bench_median(double* v, int n) {
  if (n <= 0) return 0;
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void bench_settle(void) {
  /* Spinning threads give up after 50 us; OpenBLAS's after longer. */
  struct timespec nap = {0, 2000000};
  nanosleep(&nap, NULL);
}

int bench_trials(int full, int quick) { return g_config.quick ? quick : full; }

int bench_raw_first(int trial) { return (trial & 1) != 0; }

xhal_device_t bench_device(xhal_instance_t instance, const char* plugin) {
  uint32_t count = 0;
  if (xhal_instance_device_count(instance, &count) != XHAL_OK) return NULL;
  for (uint32_t i = 0; i < count; ++i) {
    xhal_device_t device = NULL;
    if (xhal_instance_device(instance, i, &device) == XHAL_OK &&
        strcmp(xhal_device_plugin_name(device), plugin) == 0) {
      return device;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ results */

static double ratio_of(const result_t* r) {
  return r->baseline_value != 0 ? r->value / r->baseline_value : NAN;
}

/* 1 met, 0 missed, -1 no target. */
static int target_met(const result_t* r) {
  const bench_target_t* t = &r->target;
  if (t->max_ratio == 0 && t->min_ratio == 0 && t->max_value == 0) return -1;
  double ratio = ratio_of(r);
  if (isnan(ratio)) return 0;
  if (t->max_ratio != 0 && ratio > t->max_ratio) return 0;
  if (t->min_ratio != 0 && ratio < t->min_ratio) return 0;
  if (t->max_value != 0 && r->value > t->max_value) return 0;
  return 1;
}

static void target_text(const result_t* r, char* out, size_t size) {
  const bench_target_t* t = &r->target;
  int n = 0;
  out[0] = '\0';
  if (t->max_ratio != 0) {
    n += snprintf(out + n, size - (size_t)n, "ratio <= %g", t->max_ratio);
  }
  if (t->min_ratio != 0 && (size_t)n < size) {
    n += snprintf(out + n, size - (size_t)n, "ratio >= %g", t->min_ratio);
  }
  if (t->max_value != 0 && (size_t)n < size) {
    snprintf(out + n, size - (size_t)n, "%svalue <= %g %s", n ? ", " : "",
             t->max_value, r->unit);
  }
}

void bench_report(const char* name, double value, const char* unit,
                  const char* baseline, double baseline_value,
                  bench_better_t better, bench_target_t target) {
  if (g_result_count == kMaxResults) return;
  result_t* r = &g_results[g_result_count++];
  snprintf(r->name, sizeof(r->name), "%s", name);
  r->value = value;
  r->unit = unit;
  snprintf(r->baseline, sizeof(r->baseline), "%s", baseline);
  r->baseline_value = baseline_value;
  r->better = better;
  r->target = target;
  if (!g_config.json) {
    fprintf(stderr, "  measured %s\n", name);
  }
}

void bench_skip(const char* prefix, const char* reason) {
  if (g_skip_count == kMaxResults || !bench_wants_prefix(prefix)) return;
  skip_t* s = &g_skips[g_skip_count++];
  snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
  snprintf(s->reason, sizeof(s->reason), "%s", reason);
  fprintf(stderr, "xhal-bench: skipping %s*: %s\n", prefix, reason);
}

/* JSON string body: the texts here are ours, but escape anyway. */
static void json_string(const char* s) {
  putchar('"');
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      printf("\\%c", c);
    } else if (c < 0x20) {
      printf("\\u%04x", c);
    } else {
      putchar(c);
    }
  }
  putchar('"');
}

static void json_number(double v) {
  if (isfinite(v)) {
    printf("%.6g", v);
  } else {
    printf("null");
  }
}

static void print_json(void) {
  printf("{\"results\": [");
  for (int i = 0; i < g_result_count; ++i) {
    const result_t* r = &g_results[i];
    printf("%s\n  {\"name\": ", i ? "," : "");
    json_string(r->name);
    printf(", \"value\": ");
    json_number(r->value);
    printf(", \"unit\": ");
    json_string(r->unit);
    printf(", \"baseline\": ");
    json_string(r->baseline);
    printf(", \"baseline_value\": ");
    json_number(r->baseline_value);
    printf(", \"ratio\": ");
    json_number(ratio_of(r));
    printf(", \"better\": \"%s\"",
           r->better == BENCH_HIGHER ? "higher" : "lower");
    int met = target_met(r);
    if (met >= 0) {
      char text[96];
      target_text(r, text, sizeof(text));
      printf(", \"target\": ");
      json_string(text);
      printf(", \"meets_target\": %s", met ? "true" : "false");
    }
    printf("}");
  }
  printf("\n], \"skipped\": [");
  for (int i = 0; i < g_skip_count; ++i) {
    printf("%s\n  {\"prefix\": ", i ? "," : "");
    json_string(g_skips[i].prefix);
    printf(", \"reason\": ");
    json_string(g_skips[i].reason);
    printf("}");
  }
  printf("%s]}\n", g_skip_count ? "\n" : "");
}

static void print_table(void) {
  printf("%-30s %10s %-6s %10s %7s  %-28s %s\n", "figure", "xhal", "unit",
         "raw", "ratio", "target", "ok");
  for (int i = 0; i < g_result_count; ++i) {
    const result_t* r = &g_results[i];
    char text[96];
    target_text(r, text, sizeof(text));
    int met = target_met(r);
    printf("%-30s %10.4g %-6s %10.4g %7.3f  %-28s %s\n", r->name, r->value,
           r->unit, r->baseline_value, ratio_of(r), text,
           met < 0 ? "" : (met ? "yes" : "NO"));
  }
  printf("\nbaselines (raw column):\n");
  for (int i = 0; i < g_result_count; ++i) {
    printf("  %-30s %s\n", g_results[i].name, g_results[i].baseline);
  }
  for (int i = 0; i < g_skip_count; ++i) {
    printf("skipped %s*: %s\n", g_skips[i].prefix, g_skips[i].reason);
  }
}

/* ------------------------------------------------------------ main */

static void usage(FILE* out) {
  fprintf(out,
          "usage: xhal-bench [--json] [--quick] [--only PREFIX]... "
          "[--check] [--opencl-device NAME]\n"
          "  --json          machine-readable results on stdout\n"
          "  --quick         fewer trials, for CI\n"
          "  --only PREFIX   only figures whose name starts with PREFIX\n"
          "  --check         exit 1 when a figure misses its target\n"
          "  --opencl-device NAME\n"
          "                  the OpenCL device whose name contains NAME\n"
          "                  (default: the first GPU, else the first)\n");
}

int main(int argc, char** argv) {
  int check = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0) {
      g_config.json = 1;
    } else if (strcmp(argv[i], "--quick") == 0) {
      g_config.quick = 1;
    } else if (strcmp(argv[i], "--check") == 0) {
      check = 1;
    } else if (strcmp(argv[i], "--opencl-device") == 0 && i + 1 < argc) {
      g_config.opencl_device = argv[++i];
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      if (g_config.only_count == 16) {
        fprintf(stderr, "xhal-bench: at most 16 --only prefixes\n");
        return 2;
      }
      g_config.only[g_config.only_count++] = argv[++i];
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "xhal-bench: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }

  double t0 = bench_now_ns();
  xhal_instance_t instance = NULL;
  if (xhal_instance_create(NULL, &instance) != XHAL_OK) {
    fprintf(stderr, "xhal-bench: no instance: %s\n", xhal_last_error());
    return 1;
  }
  /* Loading the CPU plugin starts OpenBLAS, whose threads spin for about
   * a tenth of a second before they park: let them. */
  struct timespec start_nap = {0, 300000000};
  nanosleep(&start_nap, NULL);
  /* The most timing-sensitive first, before any matmul wakes OpenBLAS's
   * threads (which keep spinning for a while after each call) or the
   * OpenCL runtime's. */
  if (bench_device(instance, "cpu")) {
    bench_cpu(instance);
    bench_pool(instance);
    if (bench_wants("cpu.matmul_f32_1024")) {
      bench_cpu_matmul(instance);
      struct timespec nap = {0, 300000000};
      nanosleep(&nap, NULL);
    }
  } else {
    bench_skip("cpu.", "the CPU plugin did not load");
    bench_skip("pool.", "the CPU plugin did not load");
  }
  if (bench_wants_prefix("opencl.")) bench_opencl(instance);
  if (bench_wants_prefix("cuda.")) bench_cuda(instance);
  if (bench_wants_prefix("pool.alloc_free_")) bench_pool_others(instance);
  if (bench_wants_prefix("npu.")) bench_npu(instance);
  xhal_instance_release(instance);

  if (g_config.json) {
    print_json();
  } else {
    print_table();
    printf("\n%d figures in %.1f s%s\n", g_result_count,
           (bench_now_ns() - t0) * 1e-9, g_config.quick ? " (quick)" : "");
  }
  if (check) {
    for (int i = 0; i < g_result_count; ++i) {
      if (target_met(&g_results[i]) == 0) return 1;
    }
  }
  return 0;
}
