/*
 * cpu_pool.h - the kernel thread pool of one CPU-plugin context.
 *
 * Kernels split their outer loops with parallel_for(); the stream worker
 * that runs the operator takes part, so a pool of H helper threads gives
 * H + 1 lanes. The plugin sizes H as online CPUs - 1: together with the
 * calling worker that is one lane per CPU, and a busy operator never
 * oversubscribes the machine with its own threads.
 *
 * Helpers start lazily, on the first job that is worth splitting, so a
 * context that never runs an operator owns no threads beyond its streams.
 * Helpers spin briefly after a job and then park (cpu_spin.h).
 *
 * One job runs at a time. A stream worker that calls parallel_for() while
 * another stream's job holds the pool runs its own range serially instead
 * of queueing: its CPU is then busy on its own work rather than blocked,
 * and no stream waits behind another stream's large operator.
 *
 * Thread-safety: parallel_for() may be called from any number of threads
 * at once. init/destroy are not concurrent with anything else.
 */
#ifndef XHAL_CPU_POOL_H_
#define XHAL_CPU_POOL_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cpu_spin.h"
#include "kernels/cpu_kernels.h"

typedef struct cpu_pool {
  /* Set at init, read-only afterwards. */
  uint32_t max_helpers;
  int asymmetric_fence; /* cpu_fence.h mode of the owning context */

  /* Owned by whoever holds run_lock. */
  pthread_mutex_t run_lock;
  uint32_t started;     /* helpers have been created */
  uint32_t num_helpers; /* helpers actually running */
  pthread_t* threads;
  uint64_t seq; /* job counter */

  /* The job being run, published by the release of `state`. */
  cpu_range_fn fn;
  void* fn_ctx;
  uint64_t n;
  uint64_t chunk;
  uint64_t num_chunks;

  /* Next chunk index to claim. */
  _Alignas(CPU_FALSE_SHARING_BYTES) _Atomic uint64_t next;
  /* (job seq << 1) | 1 while a job is open to helpers, (seq << 1) once
   * its last chunk is claimed. */
  _Alignas(CPU_FALSE_SHARING_BYTES) _Atomic uint64_t state;
  /* Helpers currently inside a job: the caller may not reuse the job
   * fields until this drops to 0 after the job closed. */
  _Atomic uint32_t refs;
  /* Helpers parked on park_cv; a dispatcher signals only when non-zero. */
  _Atomic uint32_t parked;
  _Atomic uint32_t stop;
  pthread_mutex_t park_mu;
  pthread_cond_t park_cv;
} cpu_pool_t;

/* Prepares a pool of up to `max_helpers` helper threads (none started),
 * whose wake-ups use the given cpu_fence.h mode. Returns 0, or an errno
 * value when the mutex/condvar cannot be made. */
int cpu_pool_init(cpu_pool_t* pool, uint32_t max_helpers, int asymmetric_fence);

/* Stops and joins the helpers. No job may be running. */
void cpu_pool_destroy(cpu_pool_t* pool);

/* The cpu_parallel_t entry: runs fn(ctx, begin, end) over [0, n) in
 * chunks of at least `grain` items and returns when all are done. */
void cpu_pool_parallel_for(void* pool, uint64_t n, uint64_t grain,
                           cpu_range_fn fn, void* ctx);

/* Lanes a job can use: helpers + the calling thread. */
uint32_t cpu_pool_lanes(const cpu_pool_t* pool);

#endif /* XHAL_CPU_POOL_H_ */
