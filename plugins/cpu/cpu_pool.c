/*
 * cpu_pool.c - the kernel thread pool (see cpu_pool.h for the model).
 *
 * Protocol between the caller of parallel_for() and the helpers:
 *   1. The caller (holding run_lock) writes the job fields, resets `next`
 *      and opens the job by storing an odd `state`.
 *   2. A helper that sees a new odd state takes a reference (`refs`), then
 *      re-reads `state`: only if the job is still open may it read the job
 *      fields and claim chunks from `next`.
 *   3. When every chunk is claimed the caller closes the job (even
 *      `state`) and waits for `refs` to drop to 0 before it releases
 *      run_lock and the fields can be reused.
 * Steps 2 and 3 are a store-then-load on each side (refs/state), done
 * with sequentially consistent atomics, so either the caller sees the
 * helper's reference and waits for it, or the helper sees the closed job
 * and backs off without touching the fields.
 */
#define _POSIX_C_SOURCE 200809L

#include "cpu_pool.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "cpu_fence.h"
#include "cpu_spin.h"

/* Chunks per lane: more than one so that a lane that got preempted or
 * drew a slower chunk does not hold up the rest; few enough that the
 * per-chunk claim (one atomic add) stays negligible. */
#define CPU_POOL_CHUNKS_PER_LANE 4u

static void pool_run_chunks(cpu_pool_t* pool) {
  for (;;) {
    uint64_t i =
        atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed);
    uint64_t begin;
    uint64_t end;
    if (i >= pool->num_chunks) return;
    begin = i * pool->chunk;
    end = pool->n - begin < pool->chunk ? pool->n : begin + pool->chunk;
    pool->fn(pool->fn_ctx, begin, end);
  }
}

/* Parks the helper until `state` moves away from `seen_state` or the pool
 * stops. The parked count is raised before the re-check under park_mu, so
 * a dispatcher that opens a job after our check sees parked != 0 and
 * signals, and one that opened it before is caught by the re-check. */
static void pool_park(cpu_pool_t* pool, uint64_t seen_state) {
  pthread_mutex_lock(&pool->park_mu);
  atomic_fetch_add(&pool->parked, 1);
  cpu_fence_parker(pool->asymmetric_fence);
  while (atomic_load(&pool->state) == seen_state && !atomic_load(&pool->stop)) {
    pthread_cond_wait(&pool->park_cv, &pool->park_mu);
  }
  atomic_fetch_sub(&pool->parked, 1);
  pthread_mutex_unlock(&pool->park_mu);
}

static void* pool_helper_main(void* arg) {
  cpu_pool_t* pool = arg;
  uint64_t done_state = 0;
  for (;;) {
    uint64_t s = atomic_load_explicit(&pool->state, memory_order_acquire);
    cpu_spinner_t spinner;
    if ((s & 1u) != 0 && s != done_state) {
      atomic_fetch_add(&pool->refs, 1);
      if (atomic_load(&pool->state) == s) pool_run_chunks(pool);
      atomic_fetch_sub_explicit(&pool->refs, 1, memory_order_release);
      done_state = s;
      continue;
    }
    if (atomic_load_explicit(&pool->stop, memory_order_acquire)) break;
    cpu_spinner_init(&spinner, CPU_SPIN_BUDGET_NS);
    while (atomic_load_explicit(&pool->state, memory_order_acquire) == s &&
           !atomic_load_explicit(&pool->stop, memory_order_relaxed)) {
      if (!cpu_spinner_pause(&spinner)) {
        pool_park(pool, s);
        break;
      }
    }
  }
  return NULL;
}

int cpu_pool_init(cpu_pool_t* pool, uint32_t max_helpers,
                  int asymmetric_fence) {
  int rc;
  pool->max_helpers = max_helpers;
  pool->asymmetric_fence = asymmetric_fence;
  pool->started = 0;
  pool->num_helpers = 0;
  pool->threads = NULL;
  pool->seq = 0;
  pool->fn = NULL;
  pool->fn_ctx = NULL;
  pool->n = 0;
  pool->chunk = 0;
  pool->num_chunks = 0;
  atomic_init(&pool->next, 0);
  atomic_init(&pool->state, 0);
  atomic_init(&pool->refs, 0);
  atomic_init(&pool->parked, 0);
  atomic_init(&pool->stop, 0);
  rc = pthread_mutex_init(&pool->run_lock, NULL);
  if (rc != 0) return rc;
  rc = pthread_mutex_init(&pool->park_mu, NULL);
  if (rc != 0) {
    pthread_mutex_destroy(&pool->run_lock);
    return rc;
  }
  rc = pthread_cond_init(&pool->park_cv, NULL);
  if (rc != 0) {
    pthread_mutex_destroy(&pool->park_mu);
    pthread_mutex_destroy(&pool->run_lock);
    return rc;
  }
  return 0;
}

/* Starts the helpers; called with run_lock held. A helper that cannot be
 * created only shrinks the pool: the job still runs on the lanes we have. */
static void pool_start(cpu_pool_t* pool) {
  uint32_t i;
  pool->started = 1;
  pool->threads = calloc(pool->max_helpers, sizeof(*pool->threads));
  if (pool->threads == NULL) return;
  for (i = 0; i < pool->max_helpers; ++i) {
    if (pthread_create(&pool->threads[i], NULL, pool_helper_main, pool) != 0)
      break;
    pool->num_helpers++;
  }
}

void cpu_pool_destroy(cpu_pool_t* pool) {
  uint32_t i;
  atomic_store(&pool->stop, 1);
  pthread_mutex_lock(&pool->park_mu);
  pthread_cond_broadcast(&pool->park_cv);
  pthread_mutex_unlock(&pool->park_mu);
  for (i = 0; i < pool->num_helpers; ++i) pthread_join(pool->threads[i], NULL);
  free(pool->threads);
  pool->threads = NULL;
  pool->num_helpers = 0;
  pthread_cond_destroy(&pool->park_cv);
  pthread_mutex_destroy(&pool->park_mu);
  pthread_mutex_destroy(&pool->run_lock);
}

uint32_t cpu_pool_lanes(const cpu_pool_t* pool) {
  return pool->max_helpers + 1;
}

/* Chunk length: a multiple of `grain` near n / (lanes * chunks per lane),
 * so kernels that block their loops by `grain` keep whole blocks. */
static uint64_t pool_chunk_for(uint64_t n, uint64_t grain, uint32_t lanes) {
  uint64_t target = n / ((uint64_t)lanes * CPU_POOL_CHUNKS_PER_LANE);
  uint64_t blocks = target / grain + (target % grain != 0);
  uint64_t chunk;
  if (blocks == 0) blocks = 1;
  if (__builtin_mul_overflow(blocks, grain, &chunk)) return n;
  return chunk;
}

void cpu_pool_parallel_for(void* pool_ptr, uint64_t n, uint64_t grain,
                           cpu_range_fn fn, void* ctx) {
  cpu_pool_t* pool = pool_ptr;
  uint64_t chunk;
  uint64_t num_chunks;
  cpu_spinner_t spinner;
  if (n == 0 || fn == NULL) return;
  if (grain == 0) grain = 1;
  /* Too small to split, or the pool is busy with another stream's job
   * (or with the job this call is nested in): run here. */
  if (pool == NULL || pool->max_helpers == 0 || n <= grain ||
      pthread_mutex_trylock(&pool->run_lock) != 0) {
    fn(ctx, 0, n);
    return;
  }
  if (!pool->started) pool_start(pool);
  chunk = pool_chunk_for(n, grain, pool->num_helpers + 1);
  num_chunks = n / chunk + (n % chunk != 0);
  if (pool->num_helpers == 0 || num_chunks < 2) {
    pthread_mutex_unlock(&pool->run_lock);
    fn(ctx, 0, n);
    return;
  }

  pool->fn = fn;
  pool->fn_ctx = ctx;
  pool->n = n;
  pool->chunk = chunk;
  pool->num_chunks = num_chunks;
  atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
  pool->seq++;
  cpu_publish_u64(&pool->state, (pool->seq << 1) | 1u, pool->asymmetric_fence);
  if (cpu_peek_u32(&pool->parked, pool->asymmetric_fence) != 0) {
    pthread_mutex_lock(&pool->park_mu);
    pthread_cond_broadcast(&pool->park_cv);
    pthread_mutex_unlock(&pool->park_mu);
  }

  pool_run_chunks(pool);

  /* Every chunk is claimed; close the job and wait for helpers still
   * finishing theirs. Their chunks are short by construction, so spin, and
   * yield after the budget in case a helper was preempted mid-chunk. */
  atomic_store(&pool->state, pool->seq << 1);
  cpu_spinner_init(&spinner, CPU_SPIN_BUDGET_NS);
  while (atomic_load(&pool->refs) != 0) {
    if (!cpu_spinner_pause(&spinner)) sched_yield();
  }
  pthread_mutex_unlock(&pool->run_lock);
}
