/*
 * raw_handoff.c - the raw hand-off baselines (raw_handoff.h).
 *
 * A single-producer ring of (fn, arg) slots drained by one worker. The
 * producer writes a slot and publishes `head`; the worker runs slots up
 * to `head` and publishes `tail`. Each side parks only after spinning
 * RAW_SPIN_NS, and each "publish, then look at the other side's parked
 * flag" is a sequentially consistent store followed by a load, paired
 * with the parker's "set the flag, then re-check" under the mutex, so no
 * wake-up is lost.
 *
 * Back-to-back pushes publish `head` with a plain release store and look
 * at the worker's flag only every RAW_CHECK_EVERY pushes and on wait: a
 * throughput-minded queue pays the full fence once per batch, not once
 * per task. A worker that parks in between is woken at the next check,
 * at the latest by raw_handoff_wait.
 */
#define _POSIX_C_SOURCE 200809L

#include "raw_handoff.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* The CPU plugin's spin budget (plugins/cpu/cpu_spin.h), so both sides
 * of a comparison park after the same idle time. */
#define RAW_SPIN_NS 50000u
#define RAW_SLOTS 16384u
#define RAW_CHECK_EVERY 64u
#define RAW_LINE 128

typedef struct raw_slot {
  raw_task_fn fn;
  void* arg;
} raw_slot_t;

/* Fields grouped by writer, each group on its own pair of cache lines. */
struct raw_handoff {
  _Alignas(RAW_LINE) _Atomic uint64_t head; /* producer */
  _Alignas(RAW_LINE) _Atomic uint64_t tail; /* worker */
  _Alignas(RAW_LINE) _Atomic uint32_t worker_parked;
  _Atomic uint32_t waiter_parked;
  _Atomic uint32_t stop;
  pthread_mutex_t mu;
  pthread_cond_t work_cv;
  pthread_cond_t done_cv;
  pthread_t thread;
  /* Producer-private. */
  _Alignas(RAW_LINE) uint64_t next;
  uint32_t unchecked;
  _Alignas(RAW_LINE) raw_slot_t slots[RAW_SLOTS];
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Spins until *where != value or the budget is spent; returns the last
 * value read. The clock is read every 64 pauses only. */
static uint64_t spin_while_equal(_Atomic uint64_t* where, uint64_t value) {
  uint64_t start = 0;
  for (uint32_t i = 1;; ++i) {
    uint64_t v = atomic_load_explicit(where, memory_order_acquire);
    if (v != value) return v;
    relax();
    if (i % 64 == 0) {
      uint64_t t = now_ns();
      if (start == 0) {
        start = t;
      } else if (t - start > RAW_SPIN_NS) {
        return v;
      }
    }
  }
}

static void* worker_main(void* arg) {
  raw_handoff_t* h = arg;
  uint64_t tail = 0;
  for (;;) {
    uint64_t head = spin_while_equal(&h->head, tail);
    if (head == tail) {
      pthread_mutex_lock(&h->mu);
      atomic_store(&h->worker_parked, 1);
      while ((head = atomic_load(&h->head)) == tail && !atomic_load(&h->stop)) {
        pthread_cond_wait(&h->work_cv, &h->mu);
      }
      atomic_store(&h->worker_parked, 0);
      pthread_mutex_unlock(&h->mu);
      if (head == tail) return NULL; /* stopped with nothing queued */
    }
    while (tail != head) {
      const raw_slot_t* slot = &h->slots[tail & (RAW_SLOTS - 1)];
      slot->fn(slot->arg);
      ++tail;
    }
    atomic_store(&h->tail, tail);
    if (atomic_load(&h->waiter_parked)) {
      pthread_mutex_lock(&h->mu);
      pthread_cond_broadcast(&h->done_cv);
      pthread_mutex_unlock(&h->mu);
    }
  }
}

raw_handoff_t* raw_handoff_create(void) {
  void* mem = NULL;
  if (posix_memalign(&mem, RAW_LINE, sizeof(raw_handoff_t)) != 0) return NULL;
  raw_handoff_t* h = mem;
  atomic_init(&h->head, 0);
  atomic_init(&h->tail, 0);
  atomic_init(&h->worker_parked, 0);
  atomic_init(&h->waiter_parked, 0);
  atomic_init(&h->stop, 0);
  h->next = 0;
  h->unchecked = 0;
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->work_cv, NULL);
  pthread_cond_init(&h->done_cv, NULL);
  if (pthread_create(&h->thread, NULL, worker_main, h) != 0) {
    pthread_cond_destroy(&h->done_cv);
    pthread_cond_destroy(&h->work_cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return NULL;
  }
  return h;
}

void raw_handoff_destroy(raw_handoff_t* h) {
  if (!h) return;
  raw_handoff_wait(h);
  pthread_mutex_lock(&h->mu);
  atomic_store(&h->stop, 1);
  pthread_cond_signal(&h->work_cv);
  pthread_mutex_unlock(&h->mu);
  pthread_join(h->thread, NULL);
  pthread_cond_destroy(&h->done_cv);
  pthread_cond_destroy(&h->work_cv);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

uint32_t raw_handoff_capacity(void) { return RAW_SLOTS; }

/* Publishes every pushed slot with a full fence and wakes a parked
 * worker. */
static void publish_and_wake(raw_handoff_t* h) {
  h->unchecked = 0;
  atomic_store(&h->head, h->next);
  if (atomic_load(&h->worker_parked)) {
    pthread_mutex_lock(&h->mu);
    pthread_cond_signal(&h->work_cv);
    pthread_mutex_unlock(&h->mu);
  }
}

void raw_handoff_push(raw_handoff_t* h, raw_task_fn fn, void* arg) {
  raw_slot_t* slot = &h->slots[h->next & (RAW_SLOTS - 1)];
  slot->fn = fn;
  slot->arg = arg;
  ++h->next;
  if (++h->unchecked == RAW_CHECK_EVERY) {
    publish_and_wake(h);
  } else {
    atomic_store_explicit(&h->head, h->next, memory_order_release);
  }
}

void raw_handoff_wait(raw_handoff_t* h) {
  publish_and_wake(h);
  const uint64_t target = h->next;
  uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
  while (tail != target) {
    uint64_t seen = tail;
    tail = spin_while_equal(&h->tail, seen);
    if (tail != seen) continue; /* progress: spin on */
    pthread_mutex_lock(&h->mu);
    atomic_store(&h->waiter_parked, 1);
    while ((tail = atomic_load(&h->tail)) != target) {
      pthread_cond_wait(&h->done_cv, &h->mu);
    }
    atomic_store(&h->waiter_parked, 0);
    pthread_mutex_unlock(&h->mu);
  }
}

void raw_handoff_run(raw_handoff_t* h, raw_task_fn fn, void* arg) {
  raw_handoff_push(h, fn, arg);
  raw_handoff_wait(h);
}
