/*
 * cu_event.c - events: each recording is a cu_record_t holding a CUevent
 * (with timing), shared by the event, the deferred command that gives it
 * to CUDA, and waiters. A recording made behind host-thread jobs is not
 * in CUDA yet: waiters first wait for the host thread to resolve it
 * (give it to CUDA, or drop it with the stream's failure).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cu_internal.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static cu_record_t* record_new(struct xhal_plugin_device* dev,
                               xhal_status_t* out_status) {
  cu_record_t* rec = calloc(1, sizeof(*rec));
  CUresult r;
  if (rec == NULL) {
    *out_status = cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                           "cuda: event_record: out of memory");
    return NULL;
  }
  if (pthread_mutex_init(&rec->mu, NULL) != 0) {
    free(rec);
    *out_status = cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                           "cuda: event_record: cannot create a mutex");
    return NULL;
  }
  if (pthread_cond_init(&rec->cv, NULL) != 0) {
    pthread_mutex_destroy(&rec->mu);
    free(rec);
    *out_status = cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                           "cuda: event_record: cannot create a condition");
    return NULL;
  }
  r = dev->ctx->cu.EventCreate(&rec->ev, CU_EVENT_DEFAULT);
  if (r != CUDA_SUCCESS) {
    pthread_cond_destroy(&rec->cv);
    pthread_mutex_destroy(&rec->mu);
    free(rec);
    *out_status = cu_check(dev->ctx, r, "cuEventCreate");
    return NULL;
  }
  rec->dev = dev;
  atomic_init(&rec->refs, 1);
  return rec;
}

void cu_record_release(cu_record_t* rec) {
  if (rec == NULL) return;
  if (atomic_fetch_sub_explicit(&rec->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (cu_use(rec->dev) == XHAL_OK) rec->dev->ctx->cu.EventDestroy(rec->ev);
  pthread_cond_destroy(&rec->cv);
  pthread_mutex_destroy(&rec->mu);
  free(rec);
}

void cu_record_resolve(cu_record_t* rec, xhal_status_t status) {
  pthread_mutex_lock(&rec->mu);
  rec->status = status;
  rec->resolved = 1;
  pthread_cond_broadcast(&rec->cv);
  pthread_mutex_unlock(&rec->mu);
}

/* Waits until the recording is resolved or `deadline` (monotonic ns,
 * UINT64_MAX: forever) passes. Returns its status, or TIMEOUT. */
static xhal_status_t resolved_wait(cu_record_t* rec, uint64_t deadline) {
  xhal_status_t status;
  pthread_mutex_lock(&rec->mu);
  while (!rec->resolved) {
    if (deadline == UINT64_MAX) {
      pthread_cond_wait(&rec->cv, &rec->mu);
    } else {
      struct timespec ts;
      uint64_t now = now_ns();
      uint64_t left;
      if (now >= deadline) break;
      /* The condition uses CLOCK_REALTIME: wait in short slices and
       * check the monotonic deadline each time. */
      left = deadline - now;
      if (left > 2000000) left = 2000000;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += (long)left;
      ts.tv_sec += ts.tv_nsec / 1000000000L;
      ts.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&rec->cv, &rec->mu, &ts);
    }
  }
  status = rec->resolved ? rec->status : XHAL_ERROR_TIMEOUT;
  pthread_mutex_unlock(&rec->mu);
  return status;
}

xhal_status_t cu_record_wait(cu_record_t* rec) {
  xhal_status_t status = resolved_wait(rec, UINT64_MAX);
  if (status != XHAL_OK) return status;
  if (cu_use(rec->dev) != XHAL_OK) return XHAL_ERROR_DEVICE_LOST;
  return cu_status(rec->dev->ctx->cu.EventSynchronize(rec->ev));
}

/* The event's current recording with a reference, or NULL. */
static cu_record_t* current(struct xhal_plugin_event* e) {
  cu_record_t* rec;
  pthread_mutex_lock(&e->mu);
  rec = e->rec;
  if (rec) atomic_fetch_add(&rec->refs, 1);
  pthread_mutex_unlock(&e->mu);
  return rec;
}

xhal_status_t cu_event_create(xhal_plugin_device_t dev,
                              xhal_plugin_event_t* out) {
  struct xhal_plugin_event* e;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out == NULL)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: event_create: out_event is NULL");
  *out = NULL;
  e = calloc(1, sizeof(*e));
  if (e == NULL || pthread_mutex_init(&e->mu, NULL) != 0) {
    free(e);
    return cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "cuda: event_create: out of memory");
  }
  e->dev = dev;
  *out = e;
  return XHAL_OK;
}

void cu_event_destroy(xhal_plugin_event_t e) {
  if (e == NULL) return;
  cu_record_release(e->rec);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

xhal_status_t cu_event_record(xhal_plugin_event_t e, xhal_plugin_stream_t s) {
  cu_record_t* rec;
  cu_cmd_t cmd;
  xhal_status_t status = XHAL_OK;
  if (e == NULL || s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = cu_use(s->dev);
  if (status != XHAL_OK) return status;
  pthread_mutex_lock(&e->mu);
  rec = e->rec;
  if (rec != NULL && atomic_load(&rec->refs) == 1 && rec->dev == s->dev) {
    /* Nobody else holds the previous recording: record its CUevent
     * again (CUDA replaces the captured point). */
    rec->resolved = 0;
    rec->status = XHAL_OK;
  } else {
    rec = record_new(s->dev, &status);
    if (rec == NULL) {
      pthread_mutex_unlock(&e->mu);
      return status;
    }
    cu_record_release(e->rec);
    e->rec = rec;
  }
  atomic_fetch_add(&rec->refs, 1);
  pthread_mutex_unlock(&e->mu);
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = CU_CMD_RECORD;
  cmd.rec = rec;
  status = cu_submit(s, &cmd);
  if (status != XHAL_OK) {
    pthread_mutex_lock(&rec->mu);
    if (!rec->resolved) {
      rec->resolved = 1;
      rec->status = status;
      pthread_cond_broadcast(&rec->cv);
    }
    pthread_mutex_unlock(&rec->mu);
  }
  cu_record_release(rec);
  return status;
}

xhal_status_t cu_event_query(xhal_plugin_event_t e) {
  cu_record_t* rec;
  xhal_status_t status;
  if (e == NULL) return XHAL_ERROR_INVALID_HANDLE;
  rec = current(e);
  if (rec == NULL)
    return cu_error(e->dev->ctx, XHAL_ERROR_INVALID_STATE,
                    "cuda: event_query: the event was never recorded");
  status = resolved_wait(rec, 0);
  if (status == XHAL_ERROR_TIMEOUT) {
    status = XHAL_ERROR_NOT_READY;
  } else if (status == XHAL_OK) {
    CUresult r;
    status = cu_use(rec->dev);
    if (status == XHAL_OK) {
      r = rec->dev->ctx->cu.EventQuery(rec->ev);
      status = r == CUDA_ERROR_NOT_READY
                   ? XHAL_ERROR_NOT_READY
                   : cu_check(rec->dev->ctx, r, "cuEventQuery");
    }
  } else {
    cu_error(e->dev->ctx, status,
             "cuda: event_query: the work before the recording failed");
  }
  cu_record_release(rec);
  return status;
}

xhal_status_t cu_event_wait(xhal_plugin_event_t e, uint64_t timeout_ns) {
  cu_record_t* rec;
  xhal_status_t status;
  uint64_t deadline;
  if (e == NULL) return XHAL_ERROR_INVALID_HANDLE;
  rec = current(e);
  if (rec == NULL)
    return cu_error(e->dev->ctx, XHAL_ERROR_INVALID_STATE,
                    "cuda: event_wait: the event was never recorded");
  deadline = timeout_ns == UINT64_MAX ? UINT64_MAX : now_ns() + timeout_ns;
  if (deadline < timeout_ns) deadline = UINT64_MAX;
  status = resolved_wait(rec, deadline);
  if (status == XHAL_OK) status = cu_use(rec->dev);
  if (status == XHAL_OK) {
    const cu_driver_t* cu = &rec->dev->ctx->cu;
    if (deadline == UINT64_MAX) {
      status = cu_check(rec->dev->ctx, cu->EventSynchronize(rec->ev),
                        "cuEventSynchronize");
    } else {
      /* cuEventSynchronize has no timeout: poll, backing off from a
       * spin to 100 us sleeps. */
      uint32_t spins = 0;
      for (;;) {
        CUresult r = cu->EventQuery(rec->ev);
        if (r != CUDA_ERROR_NOT_READY) {
          status = cu_check(rec->dev->ctx, r, "cuEventQuery");
          break;
        }
        if (now_ns() >= deadline) {
          status = XHAL_ERROR_TIMEOUT;
          break;
        }
        if (++spins > 64) {
          struct timespec ts = {0, spins > 1024 ? 100000 : 5000};
          nanosleep(&ts, NULL);
        }
      }
    }
  }
  if (status == XHAL_ERROR_TIMEOUT)
    cu_error(e->dev->ctx, status, "cuda: event_wait: timed out");
  else if (status != XHAL_OK)
    cu_error(e->dev->ctx, status,
             "cuda: event_wait: the work before the recording failed");
  cu_record_release(rec);
  return status;
}

xhal_status_t cu_event_elapsed(xhal_plugin_event_t start,
                               xhal_plugin_event_t end, uint64_t* out_ns) {
  cu_record_t* a;
  cu_record_t* b;
  xhal_status_t status;
  float ms = 0;
  if (start == NULL || end == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_ns == NULL)
    return cu_error(start->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: event_elapsed: out_ns is NULL");
  a = current(start);
  b = current(end);
  if (a == NULL || b == NULL) {
    status = cu_error(start->dev->ctx, XHAL_ERROR_INVALID_STATE,
                      "cuda: event_elapsed: an event was never recorded");
  } else if (resolved_wait(a, 0) != XHAL_OK || resolved_wait(b, 0) != XHAL_OK) {
    status = cu_error(start->dev->ctx, XHAL_ERROR_NOT_READY,
                      "cuda: event_elapsed: a recording has not completed");
  } else if (a == b) {
    *out_ns = 0;
    status = XHAL_OK;
  } else {
    status = cu_use(start->dev);
    if (status == XHAL_OK) {
      CUresult r = start->dev->ctx->cu.EventElapsedTime(&ms, a->ev, b->ev);
      status = cu_check(start->dev->ctx, r, "cuEventElapsedTime");
    }
    if (status == XHAL_OK) *out_ns = ms <= 0 ? 0 : (uint64_t)(ms * 1e6);
  }
  cu_record_release(a);
  cu_record_release(b);
  return status;
}

xhal_status_t cu_stream_wait_event(xhal_plugin_stream_t s,
                                   xhal_plugin_event_t e) {
  cu_record_t* rec;
  xhal_status_t status;
  cu_cmd_t cmd;
  if (s == NULL || e == NULL) return XHAL_ERROR_INVALID_HANDLE;
  rec = current(e);
  if (rec == NULL)
    return cu_error(s->dev->ctx, XHAL_ERROR_INVALID_STATE,
                    "cuda: stream_wait_event: the event was never recorded");
  memset(&cmd, 0, sizeof(cmd));
  cmd.rec = rec;
  pthread_mutex_lock(&rec->mu);
  int in_cuda = rec->resolved && rec->status == XHAL_OK;
  pthread_mutex_unlock(&rec->mu);
  /* A recording CUDA has (of this context): the device waits for it.
   * Otherwise (still deferred on its stream, or failed) the stream's
   * host thread waits, and a failure fails the stream in order. */
  cmd.kind = in_cuda && rec->dev->cuctx == s->dev->cuctx ? CU_CMD_EVENT_WAIT
                                                         : CU_CMD_WAIT;
  status = cu_submit(s, &cmd);
  cu_record_release(rec);
  return status;
}
