/*
 * bench.h - what the parts of xhal-bench share: the run's settings, the
 * result table, timing and statistics helpers.
 *
 * Every figure is measured twice in the same run on the same device:
 * through xhal and through the raw baseline (the best honest direct
 * version of the same work). Trials of the two alternate, so drift of the
 * machine (clock, other tenants) affects both alike, and each figure is
 * the median of its trials after warm-up.
 */
#ifndef XHAL_BENCH_H_
#define XHAL_BENCH_H_

#include <stdint.h>
#include <xhal/xhal.h>

/* Settings of one run (command line). */
typedef struct bench_config {
  int quick;            /* fewer trials and iterations */
  int json;             /* --json output */
  const char* only[16]; /* name prefixes to run; none: everything */
  int only_count;
  const char* opencl_device; /* name substring; NULL: prefer a GPU */
} bench_config_t;

/* Which way a figure is better. */
typedef enum bench_better { BENCH_LOWER = 0, BENCH_HIGHER = 1 } bench_better_t;

/* The target a figure should meet; a zero limit is no limit.
 * For BENCH_LOWER: ratio <= max_ratio and value <= max_value;
 * for BENCH_HIGHER: ratio >= min_ratio. */
typedef struct bench_target {
  double max_ratio;
  double min_ratio;
  double max_value;
} bench_target_t;

extern const bench_config_t* g_bench;

/* 1 when a figure called `name` is selected by --only. */
int bench_wants(const char* name);
/* 1 when any figure starting with `prefix` is selected. */
int bench_wants_prefix(const char* prefix);

/* Records a figure; ratio = value / baseline_value. */
void bench_report(const char* name, double value, const char* unit,
                  const char* baseline, double baseline_value,
                  bench_better_t better, bench_target_t target);
/* Records that the figures starting with `prefix` were not measured. */
void bench_skip(const char* prefix, const char* reason);

/* Monotonic clock in nanoseconds. */
double bench_now_ns(void);
/* Median of v[0..n) (reorders v). */
double bench_median(double* v, int n);
/* Sleeps long enough for every spinning worker (the CPU plugin's, the
 * raw baselines', OpenBLAS's) to park, so that the next measurement does
 * not compete with a thread spinning for the previous one. */
void bench_settle(void);
/* Trial counts: full or quick. */
int bench_trials(int full, int quick);
/* 1 when trial `i` of an xhal/raw pair runs the raw side first: the order
 * alternates, so neither side always runs on the state (caches, clocks,
 * driver pools) the other left behind. */
int bench_raw_first(int trial);

/* An instance's device of plugin `plugin` ("cpu", "opencl", "npu"), or
 * NULL. */
xhal_device_t bench_device(xhal_instance_t instance, const char* plugin);

/* The parts: each measures its figures or records why it skipped them. */
void bench_cpu(xhal_instance_t instance);
void bench_cpu_matmul(xhal_instance_t instance);
void bench_pool(xhal_instance_t instance);
void bench_pool_others(xhal_instance_t instance);
void bench_opencl(xhal_instance_t instance);
void bench_cuda(xhal_instance_t instance);
void bench_npu(xhal_instance_t instance);

#endif /* XHAL_BENCH_H_ */
