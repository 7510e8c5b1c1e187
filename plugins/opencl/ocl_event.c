/*
 * ocl_event.c - events: a marker per recording, host waits with a
 * timeout, profiling-based elapsed time, and stream waits.
 *
 * Recording enqueues a marker and flushes the queue, so threads waiting
 * on the event (and other queues) see it progress. An infinite wait is a
 * plain clWaitForEvents; a timed one sleeps on a condition variable that
 * a CL_COMPLETE callback on the marker signals, registered once per
 * recording, so repeated short waits cost no more callbacks.
 *
 * Status of a completed recording: a negative execution status is a
 * device-side failure; otherwise the stream's failure record decides
 * (work before the recording's point may have failed in a host job).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ocl_internal.h"

/* ------------------------------------------------------------- signals */

static ocl_signal_t* signal_new(void) {
  pthread_condattr_t attr;
  ocl_signal_t* sig = calloc(1, sizeof(*sig));
  int ok;
  if (sig == NULL) return NULL;
  if (pthread_mutex_init(&sig->mu, NULL) != 0) {
    free(sig);
    return NULL;
  }
  ok = pthread_condattr_init(&attr) == 0;
  if (ok) {
    ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&sig->cv, &attr) == 0;
    pthread_condattr_destroy(&attr);
  }
  if (!ok) {
    pthread_mutex_destroy(&sig->mu);
    free(sig);
    return NULL;
  }
  atomic_init(&sig->refs, 1);
  return sig;
}

static void signal_unref(ocl_signal_t* sig) {
  if (sig == NULL) return;
  if (atomic_fetch_sub_explicit(&sig->refs, 1, memory_order_acq_rel) != 1)
    return;
  pthread_cond_destroy(&sig->cv);
  pthread_mutex_destroy(&sig->mu);
  free(sig);
}

static void CL_CALLBACK on_complete(cl_event ev, cl_int status, void* data) {
  ocl_signal_t* sig = data;
  (void)ev;
  (void)status;
  pthread_mutex_lock(&sig->mu);
  sig->done = 1;
  pthread_cond_broadcast(&sig->cv);
  pthread_mutex_unlock(&sig->mu);
  signal_unref(sig);
}

/* -------------------------------------------------------------- records */

void ocl_record_release(ocl_record_t* rec) {
  if (rec->marker != NULL) clReleaseEvent(rec->marker);
  ocl_fail_release(rec->fail);
  if (rec->stamp != NULL &&
      atomic_fetch_sub_explicit(&rec->stamp->refs, 1, memory_order_acq_rel) ==
          1)
    free(rec->stamp);
  rec->marker = NULL;
  rec->fail = NULL;
  rec->stamp = NULL;
}

/* Takes the references a copy of `rec` holds. */
static void record_retain(const ocl_record_t* rec) {
  clRetainEvent(rec->marker);
  if (rec->fail != NULL) atomic_fetch_add(&rec->fail->refs, 1);
  if (rec->stamp != NULL) atomic_fetch_add(&rec->stamp->refs, 1);
}

/* A referenced copy of the event's latest recording. */
static xhal_status_t snapshot(struct xhal_plugin_event* e, const char* call,
                              ocl_record_t* out) {
  pthread_mutex_lock(&e->mu);
  if (e->rec.marker == NULL) {
    pthread_mutex_unlock(&e->mu);
    return ocl_error(e->dev->ctx, XHAL_ERROR_INVALID_STATE,
                     "opencl: %s: the event was never recorded", call);
  }
  *out = e->rec;
  record_retain(out);
  pthread_mutex_unlock(&e->mu);
  return XHAL_OK;
}

/* XHAL_OK, XHAL_ERROR_NOT_READY, or the failure of the captured work. */
static xhal_status_t record_status(const struct xhal_plugin_context* ctx,
                                   const ocl_record_t* rec) {
  cl_int st = CL_QUEUED;
  cl_int err = clGetEventInfo(rec->marker, CL_EVENT_COMMAND_EXECUTION_STATUS,
                              sizeof(st), &st, NULL);
  if (err != CL_SUCCESS) return ocl_cl_error(ctx, err, "clGetEventInfo");
  if (st < 0) {
    /* Work before the marker failed on the device. */
    char cause[96];
    snprintf(cause, sizeof(cause),
             "work before an event record failed on the device (OpenCL "
             "execution status %d)",
             (int)st);
    ocl_fail_set(rec->fail, rec->seq - 1, XHAL_ERROR_EXECUTION_FAILED, cause);
    return ocl_fail_check(rec->fail, rec->seq);
  }
  if (st != CL_COMPLETE) return XHAL_ERROR_NOT_READY;
  return ocl_fail_check(rec->fail, rec->seq);
}

xhal_status_t ocl_record_wait(const struct xhal_plugin_context* ctx,
                              const ocl_record_t* rec) {
  /* Errors of clWaitForEvents (a failed event in the list) are decided
   * by the status read afterwards. */
  clWaitForEvents(1, &rec->marker);
  return record_status(ctx, rec);
}

/* ------------------------------------------------------------ lifecycle */

xhal_status_t ocl_event_create(xhal_plugin_device_t dev,
                               xhal_plugin_event_t* out) {
  struct xhal_plugin_event* e;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: event_create: out_event is NULL");
  *out = NULL;
  e = calloc(1, sizeof(*e));
  if (e == NULL || pthread_mutex_init(&e->mu, NULL) != 0) {
    free(e);
    return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: event_create: out of host memory");
  }
  e->dev = dev;
  *out = e;
  return XHAL_OK;
}

void ocl_event_destroy(xhal_plugin_event_t e) {
  if (e == NULL) return;
  ocl_record_release(&e->rec);
  signal_unref(e->signal);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

xhal_status_t ocl_event_record(xhal_plugin_event_t e, xhal_plugin_stream_t s) {
  ocl_record_t rec = {0};
  ocl_record_t old;
  ocl_signal_t* old_signal;
  cl_int err;
  if (e == NULL || s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (e->dev->context != s->dev->context)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: event_record: the event belongs to another "
                     "device");
  memset(&rec, 0, sizeof(rec));
  if (ocl_submit_begin(s)) {
    /* Behind host-thread jobs: a user event stands for the marker, and
     * the host thread completes it in order (ocl_hostfn.c). */
    ocl_cmd_t cmd;
    xhal_status_t status;
    err = CL_SUCCESS;
    rec.marker = clCreateUserEvent(s->dev->context, &err);
    if (rec.marker == NULL || err != CL_SUCCESS) {
      ocl_submit_end(s);
      return ocl_cl_error(s->dev->ctx, err, "clCreateUserEvent");
    }
    rec.stamp = calloc(1, sizeof(*rec.stamp));
    if (rec.stamp == NULL) {
      ocl_submit_end(s);
      clSetUserEventStatus(rec.marker, CL_COMPLETE);
      clReleaseEvent(rec.marker);
      return ocl_error(s->dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                       "opencl: event_record: out of host memory");
    }
    atomic_init(&rec.stamp->refs, 2); /* the recording's and the job's */
    atomic_init(&rec.stamp->end_ns, 0);
    rec.seq = atomic_fetch_add(&s->seq, 1) + 1;
    rec.may_fail_later = 1;
    memset(&cmd, 0, sizeof(cmd));
    cmd.kind = OCL_CMD_RECORD;
    cmd.rec.seq = rec.seq;
    cmd.rec.stamp = rec.stamp;
    cmd.user = rec.marker;
    clRetainEvent(cmd.user);
    status = ocl_submit_defer(s, &cmd);
    ocl_submit_end(s);
    if (status != XHAL_OK) {
      ocl_cmd_release(&cmd);
      ocl_record_release(&rec);
      return status;
    }
  } else {
    err = clEnqueueMarkerWithWaitList(s->queue, 0, NULL, &rec.marker);
    if (err != CL_SUCCESS) {
      ocl_submit_end(s);
      return ocl_cl_error(s->dev->ctx, err, "clEnqueueMarkerWithWaitList");
    }
    /* Waiters may be other threads and other queues: submit now. */
    clFlush(s->queue);
    rec.seq = atomic_fetch_add(&s->seq, 1) + 1;
    rec.may_fail_later = 0;
    ocl_submit_end(s);
  }
  rec.fail = s->fail;
  atomic_fetch_add(&rec.fail->refs, 1);
  pthread_mutex_lock(&e->mu);
  old = e->rec;
  old_signal = e->signal;
  e->rec = rec;
  e->signal = NULL;
  pthread_mutex_unlock(&e->mu);
  ocl_record_release(&old);
  signal_unref(old_signal);
  return XHAL_OK;
}

/* ---------------------------------------------------------------- waits */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The signal of recording `rec` with a reference for the caller, or NULL
 * (re-recorded meanwhile, or the callback could not be registered: the
 * caller then polls). */
static ocl_signal_t* signal_for(struct xhal_plugin_event* e,
                                const ocl_record_t* rec) {
  ocl_signal_t* sig = NULL;
  pthread_mutex_lock(&e->mu);
  if (e->rec.marker == rec->marker) {
    if (e->signal == NULL) {
      ocl_signal_t* fresh = signal_new();
      if (fresh != NULL) {
        atomic_fetch_add(&fresh->refs, 1); /* the callback's reference */
        if (clSetEventCallback(rec->marker, CL_COMPLETE, on_complete, fresh) ==
            CL_SUCCESS) {
          e->signal = fresh;
        } else {
          atomic_fetch_sub(&fresh->refs, 1);
          signal_unref(fresh);
        }
      }
    }
    sig = e->signal;
    if (sig != NULL) atomic_fetch_add(&sig->refs, 1);
  }
  pthread_mutex_unlock(&e->mu);
  return sig;
}

/* Sleeps until `sig` fires or `deadline` (monotonic ns) passes. */
static void sleep_on(ocl_signal_t* sig, uint64_t deadline) {
  struct timespec ts;
  ts.tv_sec = (time_t)(deadline / 1000000000ull);
  ts.tv_nsec = (long)(deadline % 1000000000ull);
  pthread_mutex_lock(&sig->mu);
  while (!sig->done) {
    if (pthread_cond_timedwait(&sig->cv, &sig->mu, &ts) == ETIMEDOUT) break;
  }
  pthread_mutex_unlock(&sig->mu);
}

/* Polls with a growing sleep: the fallback without a callback. */
static void poll_until(const struct xhal_plugin_context* ctx,
                       const ocl_record_t* rec, uint64_t deadline) {
  uint64_t nap = 20000;
  while (record_status(ctx, rec) == XHAL_ERROR_NOT_READY) {
    uint64_t t = now_ns();
    struct timespec ts;
    if (t >= deadline) return;
    if (nap > deadline - t) nap = deadline - t;
    ts.tv_sec = (time_t)(nap / 1000000000ull);
    ts.tv_nsec = (long)(nap % 1000000000ull);
    nanosleep(&ts, NULL);
    if (nap < 1000000) nap *= 2;
  }
}

static xhal_status_t timed_wait(struct xhal_plugin_event* e,
                                const ocl_record_t* rec, uint64_t timeout_ns) {
  const struct xhal_plugin_context* ctx = e->dev->ctx;
  xhal_status_t status = record_status(ctx, rec);
  uint64_t start;
  uint64_t deadline;
  ocl_signal_t* sig;
  if (status != XHAL_ERROR_NOT_READY || timeout_ns == 0) return status;
  start = now_ns();
  deadline = timeout_ns > UINT64_MAX - start ? UINT64_MAX : start + timeout_ns;
  sig = signal_for(e, rec);
  if (sig != NULL) {
    sleep_on(sig, deadline);
    signal_unref(sig);
  } else {
    poll_until(ctx, rec, deadline);
  }
  return record_status(ctx, rec);
}

xhal_status_t ocl_event_wait(xhal_plugin_event_t e, uint64_t timeout_ns) {
  ocl_record_t rec = {0};
  xhal_status_t status;
  if (e == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = snapshot(e, "event_wait", &rec);
  if (status != XHAL_OK) return status;
  if (timeout_ns == UINT64_MAX)
    status = ocl_record_wait(e->dev->ctx, &rec);
  else
    status = timed_wait(e, &rec, timeout_ns);
  char cause[256] = "";
  if (status != XHAL_OK && status != XHAL_ERROR_NOT_READY)
    ocl_fail_cause(rec.fail, cause, sizeof(cause));
  ocl_record_release(&rec);
  if (status == XHAL_ERROR_NOT_READY)
    return ocl_error(e->dev->ctx, XHAL_ERROR_TIMEOUT,
                     "opencl: event_wait: not complete after %llu ns",
                     (unsigned long long)timeout_ns);
  if (status != XHAL_OK)
    return ocl_error(e->dev->ctx, status, "opencl: %s", cause);
  return XHAL_OK;
}

xhal_status_t ocl_event_query(xhal_plugin_event_t e) {
  ocl_record_t rec = {0};
  xhal_status_t status;
  if (e == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = snapshot(e, "event_query", &rec);
  if (status != XHAL_OK) return status;
  status = record_status(e->dev->ctx, &rec);
  ocl_record_release(&rec);
  return status;
}

/* ------------------------------------------------------------- elapsed */

static xhal_status_t end_stamp(struct xhal_plugin_event* e, const char* which,
                               uint64_t* out_ns) {
  ocl_record_t rec = {0};
  cl_ulong t = 0;
  cl_int err;
  xhal_status_t status = snapshot(e, "event_elapsed", &rec);
  if (status != XHAL_OK) return status;
  status = record_status(e->dev->ctx, &rec);
  if (status == XHAL_OK && rec.stamp != NULL) {
    /* Recorded behind host-thread jobs (ocl_hostfn.c); complete means
     * the host thread wrote the stamp. */
    t = atomic_load(&rec.stamp->end_ns);
    if (t == 0)
      status = ocl_error(e->dev->ctx, XHAL_ERROR_UNSUPPORTED,
                         "opencl: event_elapsed: %s has no timestamp", which);
  } else if (status == XHAL_OK) {
    err = clGetEventProfilingInfo(rec.marker, CL_PROFILING_COMMAND_END,
                                  sizeof(t), &t, NULL);
    if (err == CL_PROFILING_INFO_NOT_AVAILABLE)
      status = ocl_error(e->dev->ctx, XHAL_ERROR_UNSUPPORTED,
                         "opencl: event_elapsed: %s was recorded on a "
                         "stream without timestamps (XHAL_STREAM_NO_TIMING)",
                         which);
    else if (err != CL_SUCCESS)
      status = ocl_cl_error(e->dev->ctx, err, "clGetEventProfilingInfo");
  } else if (status == XHAL_ERROR_NOT_READY) {
    status = ocl_error(e->dev->ctx, status,
                       "opencl: event_elapsed: %s has not completed", which);
  } else {
    status = ocl_error(e->dev->ctx, status,
                       "opencl: event_elapsed: %s completed with failure %d",
                       which, (int)status);
  }
  ocl_record_release(&rec);
  *out_ns = t;
  return status;
}

xhal_status_t ocl_event_elapsed(xhal_plugin_event_t start,
                                xhal_plugin_event_t end, uint64_t* out_ns) {
  uint64_t t0 = 0;
  uint64_t t1 = 0;
  xhal_status_t status;
  if (start == NULL || end == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out_ns == NULL)
    return ocl_error(start->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: event_elapsed: out_ns is NULL");
  if (start->dev->context != end->dev->context)
    return ocl_error(start->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: event_elapsed: events of different devices");
  status = end_stamp(start, "start", &t0);
  if (status == XHAL_OK) status = end_stamp(end, "end", &t1);
  if (status != XHAL_OK) return status;
  /* Events of two streams can complete in either order; a negative span
   * has no uint64_t answer. */
  if (t1 < t0)
    return ocl_error(start->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: event_elapsed: end completed %llu ns before "
                     "start",
                     (unsigned long long)(t0 - t1));
  *out_ns = t1 - t0;
  return XHAL_OK;
}

/* ---------------------------------------------------------- stream wait */

xhal_status_t ocl_stream_wait_event(xhal_plugin_stream_t s,
                                    xhal_plugin_event_t e) {
  ocl_record_t rec = {0};
  xhal_status_t status;
  int deferring;
  cl_int err;
  if (s == NULL || e == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = snapshot(e, "stream_wait_event", &rec);
  if (status != XHAL_OK) return status;
  if (ocl_stream_failed(s)) {
    ocl_record_release(&rec);
    return XHAL_OK; /* skipped: the stream already failed */
  }
  deferring = ocl_submit_begin(s);
  status = record_status(s->dev->ctx, &rec);
  if (status == XHAL_OK) {
    /* Already complete and successful: nothing to wait for. */
  } else if (status != XHAL_ERROR_NOT_READY) {
    /* Already failed: the stream fails from here on, in order. */
    char cause[256], waited[192];
    ocl_fail_cause(rec.fail, waited, sizeof(waited));
    snprintf(cause, sizeof(cause), "waited on an event whose work failed: %s",
             waited);
    ocl_fail_set(s->fail, atomic_fetch_add(&s->seq, 1) + 1, status, cause);
    status = XHAL_OK;
  } else if (!deferring && e->dev->context == s->dev->context &&
             !rec.may_fail_later) {
    /* The common case: the device orders the queues itself. */
    err = clEnqueueBarrierWithWaitList(s->queue, 1, &rec.marker, NULL);
    status = err == CL_SUCCESS ? XHAL_OK
                               : ocl_cl_error(s->dev->ctx, err,
                                              "clEnqueueBarrierWithWaitList");
  } else {
    /* Another context, a failure that only a host job of the other
     * stream can still report, or work of this stream deferred behind
     * host jobs: wait on the host thread. */
    ocl_cmd_t cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.kind = OCL_CMD_WAIT;
    cmd.rec = rec;
    record_retain(&cmd.rec);
    status = ocl_submit_defer(s, &cmd);
    if (status != XHAL_OK) ocl_cmd_release(&cmd);
  }
  ocl_submit_end(s);
  ocl_record_release(&rec);
  return status;
}
