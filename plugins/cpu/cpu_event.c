/*
 * cpu_event.c - events: a record is a ring command (cpu_stream.c) that,
 * when the stream worker reaches it, stamps CLOCK_MONOTONIC and marks its
 * generation complete with the stream's status.
 *
 * Generations make re-recording safe: every record takes the next
 * generation, the event is complete once the latest one has run, and a
 * waiter that started on an older generation is released by that
 * generation's completion (or a later one) instead of being stranded by
 * the re-record. Completions can arrive out of order when an event is
 * recorded on two streams; an older generation finishing after a newer
 * one is ignored, so the captured point is always the latest that ran.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpu_internal.h"
#include "cpu_spin.h"

xhal_status_t cpu_event_create(xhal_plugin_device_t device,
                               xhal_plugin_event_t* out_event) {
  struct xhal_plugin_context* ctx;
  struct xhal_plugin_event* event;
  pthread_condattr_t attr;
  int rc;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_event == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: event_create: out_event is NULL");
  *out_event = NULL;
  event = calloc(1, sizeof(*event));
  if (event == NULL)
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "cpu: event_create: no memory for the event");
  if (pthread_mutex_init(&event->mu, NULL) != 0) {
    free(event);
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "cpu: event_create: cannot create its mutex");
  }
  rc = pthread_condattr_init(&attr);
  if (rc == 0) {
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(&event->cv, &attr);
    pthread_condattr_destroy(&attr);
  }
  if (rc != 0) {
    pthread_mutex_destroy(&event->mu);
    free(event);
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "cpu: event_create: cannot create its condition variable");
  }
  event->ctx = ctx;
  atomic_init(&event->refs, 1);
  atomic_init(&event->record_gen, 0);
  atomic_init(&event->done_gen, 0);
  atomic_init(&event->status, XHAL_OK);
  atomic_init(&event->stamp_ns, 0);
  atomic_init(&event->waiters, 0);
  *out_event = event;
  return XHAL_OK;
}

void cpu_event_retain(struct xhal_plugin_event* event) {
  atomic_fetch_add_explicit(&event->refs, 1, memory_order_relaxed);
}

void cpu_event_release(struct xhal_plugin_event* event) {
  if (atomic_fetch_sub_explicit(&event->refs, 1, memory_order_acq_rel) != 1)
    return;
  pthread_cond_destroy(&event->cv);
  pthread_mutex_destroy(&event->mu);
  free(event);
}

void cpu_event_destroy(xhal_plugin_event_t event) {
  if (event != NULL) cpu_event_release(event);
}

void cpu_event_complete(struct xhal_plugin_event* event, uint64_t gen,
                        xhal_status_t status, const char* failure,
                        uint64_t stamp_ns) {
  pthread_mutex_lock(&event->mu);
  if (gen > atomic_load_explicit(&event->done_gen, memory_order_relaxed)) {
    if (status != XHAL_OK) {
      snprintf(event->failure, sizeof(event->failure), "%s",
               failure ? failure : "the captured work failed");
    }
    atomic_store_explicit(&event->status, status, memory_order_relaxed);
    atomic_store_explicit(&event->stamp_ns, stamp_ns, memory_order_relaxed);
    atomic_store_explicit(&event->done_gen, gen, memory_order_release);
    if (atomic_load_explicit(&event->waiters, memory_order_relaxed) != 0)
      pthread_cond_broadcast(&event->cv);
  }
  pthread_mutex_unlock(&event->mu);
}

static struct timespec timespec_from_ns(uint64_t ns) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ns / 1000000000u);
  ts.tv_nsec = (long)(ns % 1000000000u);
  return ts;
}

xhal_status_t cpu_event_wait_gen(struct xhal_plugin_event* event, uint64_t gen,
                                 uint64_t timeout_ns) {
  cpu_spinner_t spinner;
  uint64_t deadline_ns = UINT64_MAX;
  int timed_out = 0;
  xhal_status_t status;
  if (atomic_load_explicit(&event->done_gen, memory_order_acquire) >= gen) {
    pthread_mutex_lock(&event->mu);
    status = atomic_load_explicit(&event->status, memory_order_relaxed);
    pthread_mutex_unlock(&event->mu);
    return status;
  }
  if (timeout_ns == 0) return XHAL_ERROR_TIMEOUT;
  if (timeout_ns != UINT64_MAX) {
    uint64_t now = cpu_now_ns();
    if (__builtin_add_overflow(now, timeout_ns, &deadline_ns))
      deadline_ns = UINT64_MAX;
  }

  /* Spin no longer than the caller is willing to wait. */
  cpu_spinner_init(&spinner, timeout_ns < event->ctx->spin_ns
                                 ? timeout_ns
                                 : event->ctx->spin_ns);
  while (atomic_load_explicit(&event->done_gen, memory_order_acquire) < gen) {
    if (!cpu_spinner_pause(&spinner)) break;
  }

  pthread_mutex_lock(&event->mu);
  atomic_fetch_add_explicit(&event->waiters, 1, memory_order_relaxed);
  while (atomic_load_explicit(&event->done_gen, memory_order_relaxed) < gen) {
    if (deadline_ns == UINT64_MAX) {
      pthread_cond_wait(&event->cv, &event->mu);
    } else {
      struct timespec ts = timespec_from_ns(deadline_ns);
      int rc = pthread_cond_timedwait(&event->cv, &event->mu, &ts);
      if (rc == ETIMEDOUT &&
          atomic_load_explicit(&event->done_gen, memory_order_relaxed) < gen) {
        timed_out = 1;
        break;
      }
    }
  }
  atomic_fetch_sub_explicit(&event->waiters, 1, memory_order_relaxed);
  status = atomic_load_explicit(&event->status, memory_order_relaxed);
  pthread_mutex_unlock(&event->mu);
  return timed_out ? XHAL_ERROR_TIMEOUT : status;
}

/* The generation a host-side wait or query refers to: the latest record,
 * or 0 with an error set when there has been none. */
static uint64_t event_latest_gen(struct xhal_plugin_event* event,
                                 const char* entry) {
  uint64_t gen = atomic_load_explicit(&event->record_gen, memory_order_acquire);
  if (gen == 0)
    cpu_error(event->ctx, XHAL_ERROR_INVALID_STATE,
              "cpu: %s: the event was never recorded", entry);
  return gen;
}

xhal_status_t cpu_event_wait(xhal_plugin_event_t event, uint64_t timeout_ns) {
  uint64_t gen;
  xhal_status_t status;
  if (event == NULL) return XHAL_ERROR_INVALID_HANDLE;
  gen = event_latest_gen(event, "event_wait");
  if (gen == 0) return XHAL_ERROR_INVALID_STATE;
  status = cpu_event_wait_gen(event, gen, timeout_ns);
  if (status == XHAL_ERROR_TIMEOUT)
    return cpu_error(event->ctx, status,
                     "cpu: event_wait: not complete after %llu ns",
                     (unsigned long long)timeout_ns);
  if (status != XHAL_OK) {
    char failure[CPU_FAILURE_MAX];
    pthread_mutex_lock(&event->mu);
    snprintf(failure, sizeof(failure), "%s", event->failure);
    pthread_mutex_unlock(&event->mu);
    return cpu_error(event->ctx, status, "cpu: %s", failure);
  }
  return XHAL_OK;
}

xhal_status_t cpu_event_query(xhal_plugin_event_t event) {
  uint64_t gen;
  xhal_status_t status;
  if (event == NULL) return XHAL_ERROR_INVALID_HANDLE;
  gen = event_latest_gen(event, "event_query");
  if (gen == 0) return XHAL_ERROR_INVALID_STATE;
  if (atomic_load_explicit(&event->done_gen, memory_order_acquire) < gen)
    return XHAL_ERROR_NOT_READY;
  pthread_mutex_lock(&event->mu);
  status = atomic_load_explicit(&event->status, memory_order_relaxed);
  pthread_mutex_unlock(&event->mu);
  return status;
}

/* Stamp of the latest recording, once it completed successfully. */
static xhal_status_t event_stamp(struct xhal_plugin_event* event,
                                 const char* which, uint64_t* out_ns) {
  uint64_t gen = atomic_load_explicit(&event->record_gen, memory_order_acquire);
  xhal_status_t status = XHAL_OK;
  if (gen == 0)
    return cpu_error(event->ctx, XHAL_ERROR_INVALID_STATE,
                     "cpu: event_elapsed: %s was never recorded", which);
  pthread_mutex_lock(&event->mu);
  if (atomic_load_explicit(&event->done_gen, memory_order_relaxed) < gen)
    status = XHAL_ERROR_NOT_READY;
  else
    status = atomic_load_explicit(&event->status, memory_order_relaxed);
  *out_ns = atomic_load_explicit(&event->stamp_ns, memory_order_relaxed);
  pthread_mutex_unlock(&event->mu);
  if (status == XHAL_ERROR_NOT_READY)
    return cpu_error(event->ctx, status,
                     "cpu: event_elapsed: %s has not completed", which);
  if (status != XHAL_OK)
    return cpu_error(event->ctx, status,
                     "cpu: event_elapsed: %s completed with failure %d", which,
                     (int)status);
  return XHAL_OK;
}

xhal_status_t cpu_event_elapsed(xhal_plugin_event_t start,
                                xhal_plugin_event_t end, uint64_t* out_ns) {
  uint64_t t0 = 0;
  uint64_t t1 = 0;
  xhal_status_t status;
  if (start == NULL || end == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_ns == NULL)
    return cpu_error(start->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: event_elapsed: out_ns is NULL");
  status = event_stamp(start, "start", &t0);
  if (status != XHAL_OK) return status;
  status = event_stamp(end, "end", &t1);
  if (status != XHAL_OK) return status;
  /* Events of two streams can complete in either order; a negative span
   * has no uint64_t answer. */
  if (t1 < t0)
    return cpu_error(start->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: event_elapsed: end completed %llu ns before start",
                     (unsigned long long)(t0 - t1));
  *out_ns = t1 - t0;
  return XHAL_OK;
}
