/*
 * ocl_hostfn.c - host functions in stream order, on a host thread per
 * stream.
 *
 * A host job splits the queue in two: a marker M captures the work before
 * it, and a barrier waiting on a user event U holds back the work after
 * it. The stream's host thread waits for M, runs the function, then
 * completes U, releasing the rest of the queue. The function may block
 * (libxhal uses host functions to wait on other plugins' events), which is
 * why it runs on a thread of its own rather than in an OpenCL event
 * callback, where blocking would stall the implementation.
 *
 * U is always completed with CL_COMPLETE, even when the function fails:
 * a negative user event status is handled inconsistently across
 * implementations (at least one aborts the process when dependent
 * commands exist). The failure is recorded in the stream's failure record
 * instead, which fails every later event and skips later enqueues
 * (ocl_internal.h).
 *
 * The same machinery makes a stream wait for an event that a plain
 * barrier cannot express: one of another cl_context, or one whose stream
 * may still fail through a pending host job (ocl_event.c).
 */
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

struct ocl_job {
  struct ocl_job* next;
  xhal_host_func_t fn; /* NULL: a wait job */
  void* user_data;
  cl_event before;  /* host function: marker of the earlier work */
  ocl_record_t rec; /* wait job: the recording to wait for */
  cl_event user;    /* holds back the later work */
  uint64_t seq;     /* the job's point in the stream */
};

/* Statuses outside the ABI's range (a host function returning garbage)
 * are reported as failed execution. */
static xhal_status_t normalize(xhal_status_t status) {
  if (status <= XHAL_OK || status >= XHAL_STATUS_COUNT)
    return XHAL_ERROR_EXECUTION_FAILED;
  return status;
}

static void run_job(struct xhal_plugin_stream* s, ocl_job_t* job) {
  xhal_status_t status;
  if (job->fn != NULL) {
    cl_int st = CL_COMPLETE;
    cl_int err = clWaitForEvents(1, &job->before);
    if (err == CL_SUCCESS)
      err = clGetEventInfo(job->before, CL_EVENT_COMMAND_EXECUTION_STATUS,
                           sizeof(st), &st, NULL);
    if (err != CL_SUCCESS || st < 0)
      ocl_fail_set(s->fail, job->seq - 1, XHAL_ERROR_EXECUTION_FAILED);
    clReleaseEvent(job->before);
    job->before = NULL;
    if (!ocl_stream_failed(s)) {
      status = job->fn(job->user_data);
      if (status != XHAL_OK) ocl_fail_set(s->fail, job->seq, normalize(status));
    }
  } else {
    if (!ocl_stream_failed(s)) {
      status = ocl_record_wait(s->dev->ctx, &job->rec);
      if (status != XHAL_OK) ocl_fail_set(s->fail, job->seq, normalize(status));
    }
    ocl_record_release(&job->rec);
  }
  clSetUserEventStatus(job->user, CL_COMPLETE);
  clReleaseEvent(job->user);
  job->user = NULL;
}

static void* host_thread_main(void* arg) {
  struct xhal_plugin_stream* s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    ocl_job_t* job;
    while (s->head == NULL && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
    if (s->head == NULL) break; /* stopping, and every job ran */
    job = s->head;
    s->head = job->next;
    if (s->head == NULL) s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    run_job(s, job);
    pthread_mutex_lock(&s->mu);
    job->next = s->free_jobs;
    s->free_jobs = job;
    atomic_fetch_sub(&s->inflight, 1);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* A job from the free list or the heap, with the thread running.
 * s->mu held. */
static ocl_job_t* job_get(struct xhal_plugin_stream* s) {
  ocl_job_t* job;
  if (!s->thread_started) {
    if (pthread_create(&s->thread, NULL, host_thread_main, s) != 0) return NULL;
    s->thread_started = 1;
  }
  job = s->free_jobs;
  if (job != NULL)
    s->free_jobs = job->next;
  else
    job = malloc(sizeof(*job));
  if (job != NULL) memset(job, 0, sizeof(*job));
  return job;
}

static void job_put_back(struct xhal_plugin_stream* s, ocl_job_t* job) {
  pthread_mutex_lock(&s->mu);
  job->next = s->free_jobs;
  s->free_jobs = job;
  pthread_mutex_unlock(&s->mu);
}

/* Creates U, blocks the queue on it, takes the job's point and hands the
 * job to the thread. On failure the job is given back and nothing was
 * enqueued that could block the queue. */
static xhal_status_t job_submit(struct xhal_plugin_stream* s, ocl_job_t* job) {
  cl_int err = CL_SUCCESS;
  job->user = clCreateUserEvent(s->dev->context, &err);
  if (job->user == NULL || err != CL_SUCCESS)
    return ocl_cl_error(s->dev->ctx, err, "clCreateUserEvent");
  err = clEnqueueBarrierWithWaitList(s->queue, 1, &job->user, NULL);
  if (err != CL_SUCCESS) {
    clSetUserEventStatus(job->user, CL_COMPLETE);
    clReleaseEvent(job->user);
    return ocl_cl_error(s->dev->ctx, err, "clEnqueueBarrierWithWaitList");
  }
  /* The thread waits on the marker from another thread: the queue must
   * be submitted for the marker to ever complete. */
  clFlush(s->queue);
  job->seq = atomic_fetch_add(&s->seq, 1) + 1;
  atomic_fetch_add(&s->inflight, 1);
  pthread_mutex_lock(&s->mu);
  if (s->tail != NULL)
    s->tail->next = job;
  else
    s->head = job;
  s->tail = job;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return XHAL_OK;
}

static xhal_status_t no_job(struct xhal_plugin_stream* s, const char* call) {
  return ocl_error(s->dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                   "opencl: %s: cannot start the stream's host thread or "
                   "allocate a job",
                   call);
}

xhal_status_t ocl_enqueue_host_func(xhal_plugin_stream_t s, xhal_host_func_t fn,
                                    void* user_data) {
  ocl_job_t* job;
  xhal_status_t status;
  cl_int err;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (fn == NULL)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_host_func: fn is NULL");
  if (ocl_stream_failed(s)) return XHAL_OK; /* skipped, like other work */
  pthread_mutex_lock(&s->mu);
  job = job_get(s);
  pthread_mutex_unlock(&s->mu);
  if (job == NULL) return no_job(s, "enqueue_host_func");
  job->fn = fn;
  job->user_data = user_data;
  err = clEnqueueMarkerWithWaitList(s->queue, 0, NULL, &job->before);
  if (err != CL_SUCCESS) {
    job_put_back(s, job);
    return ocl_cl_error(s->dev->ctx, err, "clEnqueueMarkerWithWaitList");
  }
  status = job_submit(s, job);
  if (status != XHAL_OK) {
    clReleaseEvent(job->before);
    job_put_back(s, job);
  }
  return status;
}

xhal_status_t ocl_enqueue_wait_record(struct xhal_plugin_stream* s,
                                      const ocl_record_t* rec) {
  ocl_job_t* job;
  xhal_status_t status;
  pthread_mutex_lock(&s->mu);
  job = job_get(s);
  pthread_mutex_unlock(&s->mu);
  if (job == NULL) return no_job(s, "stream_wait_event");
  job->rec = *rec;
  clRetainEvent(job->rec.marker);
  atomic_fetch_add(&job->rec.fail->refs, 1);
  status = job_submit(s, job);
  if (status != XHAL_OK) {
    ocl_record_release(&job->rec);
    job_put_back(s, job);
  }
  return status;
}

void ocl_hostfn_shutdown(struct xhal_plugin_stream* s) {
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  if (s->thread_started) pthread_join(s->thread, NULL);
  s->thread_started = 0;
  while (s->free_jobs != NULL) {
    ocl_job_t* job = s->free_jobs;
    s->free_jobs = job->next;
    free(job);
  }
}
