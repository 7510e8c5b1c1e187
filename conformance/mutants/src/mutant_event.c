/*
 * mutant_event.c - events: a point in a stream that the host can wait on
 * (with a timeout), query, and measure the time between.
 *
 * event_record (mutant_stream.c) queues an MUTANT_CMD_RECORD carrying the
 * next generation number; when the stream worker reaches it, it calls
 * mutant_event_complete with the stream's status, so a failed stream fails
 * its events instead of leaving their waiters hanging.
 *
 * VENDOR: on hardware the record command is a "write fence value"
 * packet; waiting means sleeping on the device's interrupt (or polling
 * the fence in memory), and the timestamp comes from the device clock.
 *
 * Thread-safety: every entry may be called from any thread while the
 * event lives; the state is guarded by the event's mutex.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "mutant_internal.h"

xhal_status_t mutant_event_create(xhal_plugin_device_t device,
                                  xhal_plugin_event_t* out_event) {
  struct xhal_plugin_context* ctx;
  struct xhal_plugin_event* event;
  pthread_condattr_t attr;
  int rc;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_event == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "event_create: out_event is NULL");
  *out_event = NULL;
  event = calloc(1, sizeof(*event));
  if (event == NULL)
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                        "event_create: no memory for the event");
  if (pthread_mutex_init(&event->mu, NULL) != 0) {
    free(event);
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                        "event_create: cannot create its mutex");
  }
  /* Timed waits use CLOCK_MONOTONIC: a wall-clock jump must not stretch
   * or cut a timeout. */
  rc = pthread_condattr_init(&attr);
  if (rc == 0) {
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(&event->cv, &attr);
    pthread_condattr_destroy(&attr);
  }
  if (rc != 0) {
    pthread_mutex_destroy(&event->mu);
    free(event);
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                        "event_create: cannot create its condition variable");
  }
  event->ctx = ctx;
  atomic_init(&event->refs, 1); /* the host's reference */
  event->status = XHAL_OK;
  *out_event = event;
  return XHAL_OK;
}

void mutant_event_retain(struct xhal_plugin_event* event) {
  atomic_fetch_add_explicit(&event->refs, 1, memory_order_relaxed);
}

void mutant_event_release(struct xhal_plugin_event* event) {
  if (atomic_fetch_sub_explicit(&event->refs, 1, memory_order_acq_rel) != 1)
    return;
  pthread_cond_destroy(&event->cv);
  pthread_mutex_destroy(&event->mu);
  free(event);
}

/* Queued records and waits hold their own references, so destroying an
 * event whose record has not run yet is safe. */
void mutant_event_destroy(xhal_plugin_event_t event) {
  if (event != NULL) mutant_event_release(event);
}

uint64_t mutant_event_next_gen(struct xhal_plugin_event* event) {
  uint64_t gen;
  pthread_mutex_lock(&event->mu);
  gen = ++event->record_gen;
  pthread_mutex_unlock(&event->mu);
  return gen;
}

uint64_t mutant_event_current_gen(struct xhal_plugin_event* event) {
  uint64_t gen;
  pthread_mutex_lock(&event->mu);
  gen = event->record_gen;
  pthread_mutex_unlock(&event->mu);
  return gen;
}

void mutant_event_set_stamp(struct xhal_plugin_event* event, uint64_t ns) {
  pthread_mutex_lock(&event->mu);
  event->enqueue_stamp_ns = ns;
  pthread_mutex_unlock(&event->mu);
}

int mutant_event_done_any(struct xhal_plugin_event* event) {
  int done;
  pthread_mutex_lock(&event->mu);
  done = event->done_gen > 0 && event->status == XHAL_OK;
  pthread_mutex_unlock(&event->mu);
  return done;
}

void mutant_event_complete(struct xhal_plugin_event* event, uint64_t gen,
                           xhal_status_t status) {
  uint64_t now = mutant_now_ns();
#ifdef MUTANT_EVT_RECORD_OK_ON_FAILED
  status = XHAL_OK; /* the record itself ran fine */
#endif
  pthread_mutex_lock(&event->mu);
  /* Recorded on two streams, generations can finish out of order; an
   * older one finishing late must not overwrite a newer result. */
  if (gen > event->done_gen) {
    event->done_gen = gen;
    event->status = status;
    event->stamp_ns = now;
#ifdef MUTANT_EVT_STAMP_AT_ENQUEUE
    event->stamp_ns = event->enqueue_stamp_ns;
#endif
#ifdef MUTANT_EVT_SIGNAL_ONE
    pthread_cond_signal(&event->cv); /* "there is one waiter" */
#else
    pthread_cond_broadcast(&event->cv);
#endif
  }
  pthread_mutex_unlock(&event->mu);
}

xhal_status_t mutant_event_wait_gen(struct xhal_plugin_event* event,
                                    uint64_t gen, uint64_t timeout_ns) {
  struct timespec deadline;
  uint64_t deadline_ns = UINT64_MAX;
  xhal_status_t status;
#ifdef MUTANT_EVT_TIMEOUT_UNITS
  /* Timeouts taken as microseconds by the lower layer. */
  if (timeout_ns != UINT64_MAX) timeout_ns /= 1000;
#endif
#ifdef MUTANT_EVT_ZERO_TIMEOUT_BLOCKS
  if (timeout_ns == 0) timeout_ns = UINT64_MAX; /* 0 = "no timeout" */
#endif
  if (timeout_ns != UINT64_MAX &&
      __builtin_add_overflow(mutant_now_ns(), timeout_ns, &deadline_ns))
    deadline_ns = UINT64_MAX; /* so far away that it means forever */
  deadline.tv_sec = (time_t)(deadline_ns / 1000000000u);
  deadline.tv_nsec = (long)(deadline_ns % 1000000000u);

  pthread_mutex_lock(&event->mu);
  while (event->done_gen < gen) {
    int rc;
    if (deadline_ns == UINT64_MAX) {
      pthread_cond_wait(&event->cv, &event->mu);
      continue;
    }
    rc = pthread_cond_timedwait(&event->cv, &event->mu, &deadline);
    if (rc == ETIMEDOUT && event->done_gen < gen) {
      pthread_mutex_unlock(&event->mu);
      return XHAL_ERROR_TIMEOUT;
    }
  }
  status = event->status;
  pthread_mutex_unlock(&event->mu);
  return status;
}

xhal_status_t mutant_event_wait(xhal_plugin_event_t event,
                                uint64_t timeout_ns) {
  uint64_t gen;
  xhal_status_t status;
  if (event == NULL) return XHAL_ERROR_INVALID_HANDLE;
  gen = mutant_event_current_gen(event);
#ifdef MUTANT_EVT_NEVER_RECORDED_OK
  if (gen == 0) return XHAL_OK; /* nothing to wait for */
#endif
  if (gen == 0)
    return mutant_error(event->ctx, XHAL_ERROR_INVALID_STATE,
                        "event_wait: the event was never recorded");
#ifdef MUTANT_EVT_WAIT_FIRST_GEN
  gen = 1; /* "signalled" means signalled once */
#endif
  status = mutant_event_wait_gen(event, gen, timeout_ns);
  if (status == XHAL_ERROR_TIMEOUT)
    return mutant_error(event->ctx, status,
                        "event_wait: not complete after %llu ns",
                        (unsigned long long)timeout_ns);
  if (status != XHAL_OK)
    return mutant_error(event->ctx, status,
                        "event_wait: the captured work failed (status %d)",
                        (int)status);
  return XHAL_OK;
}

xhal_status_t mutant_event_query(xhal_plugin_event_t event) {
  xhal_status_t status;
#ifndef MUTANT_ERR_NULL_EVENT_CRASH
  if (event == NULL) return XHAL_ERROR_INVALID_HANDLE;
#endif
  pthread_mutex_lock(&event->mu);
  if (event->record_gen == 0) status = XHAL_ERROR_INVALID_STATE;
#ifdef MUTANT_EVT_QUERY_ANY_DONE
  else if (event->done_gen == 0)
#else
  else if (event->done_gen < event->record_gen)
#endif
    status = XHAL_ERROR_NOT_READY;
  else
    status = event->status;
  pthread_mutex_unlock(&event->mu);
  if (status == XHAL_ERROR_INVALID_STATE)
    return mutant_error(event->ctx, status,
                        "event_query: the event was never recorded");
  return status;
}

/* The completion stamp of the event's latest record, once it completed
 * successfully. `which` names the event in messages. */
static xhal_status_t event_stamp(struct xhal_plugin_event* event,
                                 const char* which, uint64_t* out_ns) {
  xhal_status_t status;
  pthread_mutex_lock(&event->mu);
  if (event->record_gen == 0)
    status = XHAL_ERROR_INVALID_STATE;
  else if (event->done_gen < event->record_gen)
    status = XHAL_ERROR_NOT_READY;
  else
    status = event->status;
  *out_ns = event->stamp_ns;
  pthread_mutex_unlock(&event->mu);
  if (status == XHAL_ERROR_INVALID_STATE)
    return mutant_error(event->ctx, status,
                        "event_elapsed: %s was never recorded", which);
  if (status == XHAL_ERROR_NOT_READY)
    return mutant_error(event->ctx, status,
                        "event_elapsed: %s has not completed", which);
  if (status != XHAL_OK)
    return mutant_error(event->ctx, status,
                        "event_elapsed: %s completed with failure %d", which,
                        (int)status);
  return XHAL_OK;
}

xhal_status_t mutant_event_elapsed(xhal_plugin_event_t start,
                                   xhal_plugin_event_t end, uint64_t* out_ns) {
  uint64_t t0 = 0;
  uint64_t t1 = 0;
  xhal_status_t status;
  if (start == NULL || end == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_ns == NULL)
    return mutant_error(start->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "event_elapsed: out_ns is NULL");
  status = event_stamp(start, "start", &t0);
  if (status != XHAL_OK) return status;
  status = event_stamp(end, "end", &t1);
  if (status != XHAL_OK) return status;
    /* Events of two streams may complete in either order; a negative span
     * has no uint64_t answer. */
#ifdef MUTANT_EVT_ELAPSED_SWAPPED
  {
    uint64_t t = t0;
    t0 = t1;
    t1 = t;
  }
#endif
  if (t1 < t0)
    return mutant_error(start->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "event_elapsed: end completed %llu ns before start",
                        (unsigned long long)(t0 - t1));
  *out_ns = t1 - t0;
  return XHAL_OK;
}
