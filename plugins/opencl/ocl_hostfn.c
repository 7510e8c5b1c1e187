/*
 * ocl_hostfn.c - the stream's host thread: host functions in stream
 * order, host-side waits, and the deferred submission of everything
 * enqueued behind them.
 *
 * A host function must run after the work before it and before the work
 * after it, and a failing one must keep the work after it from running
 * (R-STR-9). OpenCL can hold commands back behind a user event, but the
 * only way to cancel them is a negative user event status, which PoCL 3.1
 * answers by aborting the process and other implementations by losing
 * the context. So the plugin never lets OpenCL see work behind a host
 * job: while jobs are in flight, every command of the stream becomes a
 * job too (ocl_cmd_t), and the host thread, in order, either submits it
 * or, once the stream failed, drops it.
 *
 * The thread runs a host function after a marker on the queue (the work
 * submitted before it) completed. The function may block (libxhal uses
 * host functions to wait on other plugins' events), which is why it runs
 * on a thread of its own rather than in an OpenCL event callback, where
 * blocking would stall the implementation.
 *
 * An event recorded while jobs are in flight gets a user event as its
 * marker; the thread completes it after the work before the recording
 * completed. User events carry no profiling data, so event_elapsed of
 * such a recording reports an error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

struct ocl_job {
  struct ocl_job* next;
  uint64_t seq; /* the point after which a failure of this job counts */
  ocl_cmd_t cmd;
};

/* Statuses outside the ABI's range (a host function returning garbage)
 * are reported as failed execution. */
static xhal_status_t normalize(xhal_status_t status) {
  if (status <= XHAL_OK || status >= XHAL_STATUS_COUNT)
    return XHAL_ERROR_EXECUTION_FAILED;
  return status;
}

/* Waits for everything submitted to the queue so far; XHAL_OK or the
 * failure of that work. Host thread only (nothing else submits then). */
static xhal_status_t wait_submitted(struct xhal_plugin_stream* s,
                                    ocl_stamp_t* stamp) {
  cl_event marker = NULL;
  cl_int st = CL_COMPLETE;
  cl_ulong end = 0;
  cl_int err = clEnqueueMarkerWithWaitList(s->queue, 0, NULL, &marker);
  if (err == CL_SUCCESS) err = clFlush(s->queue);
  if (err == CL_SUCCESS) err = clWaitForEvents(1, &marker);
  if (err == CL_SUCCESS)
    err = clGetEventInfo(marker, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof(st),
                         &st, NULL);
  if (err == CL_SUCCESS && st == CL_COMPLETE && stamp != NULL &&
      (s->queue_props & CL_QUEUE_PROFILING_ENABLE) &&
      clGetEventProfilingInfo(marker, CL_PROFILING_COMMAND_END, sizeof(end),
                              &end, NULL) == CL_SUCCESS)
    atomic_store(&stamp->end_ns, (uint64_t)end);
  if (marker != NULL) clReleaseEvent(marker);
  return err != CL_SUCCESS || st < 0 ? XHAL_ERROR_EXECUTION_FAILED : XHAL_OK;
}

void ocl_cmd_release(ocl_cmd_t* cmd) {
  uint32_t i;
  ocl_buffer_release(cmd->src);
  ocl_buffer_release(cmd->dst);
  cmd->src = cmd->dst = NULL;
  ocl_record_release(&cmd->rec);
  if (cmd->kind == OCL_CMD_OP) {
    for (i = 0; i < cmd->call.num_inputs && i < XHAL_MAX_OP_INPUTS; ++i)
      ocl_buffer_release(cmd->call.inputs[i].buffer);
    for (i = 0; i < cmd->call.num_outputs && i < XHAL_MAX_OP_OUTPUTS; ++i)
      ocl_buffer_release(cmd->call.outputs[i].buffer);
    cmd->call.num_inputs = cmd->call.num_outputs = 0;
  }
  if (cmd->mems != NULL) {
    for (i = 0; i < cmd->num_args; ++i)
      if (cmd->mems[i] != NULL) clReleaseMemObject(cmd->mems[i]);
  }
  free(cmd->mems);
  free(cmd->args);
  free(cmd->arg_bytes);
  cmd->mems = NULL;
  cmd->args = NULL;
  cmd->arg_bytes = NULL;
  if (cmd->kernel != NULL) ocl_kernel_unref(cmd->kernel);
  cmd->kernel = NULL;
  if (cmd->user != NULL) {
    /* Completing it is what waiters of the recording need; a dropped
     * recording's status comes from the failure record. */
    clSetUserEventStatus(cmd->user, CL_COMPLETE);
    clReleaseEvent(cmd->user);
    cmd->user = NULL;
  }
}

/* What failed: the job's command and its status. */
static void describe_failure(const ocl_cmd_t* cmd, xhal_status_t status,
                             char* buf, size_t size) {
  static const char* const kKinds[] = {
      "?",    "host function", "event wait",    "write",    "read",
      "copy", "fill",          "kernel launch", "operator", "event record"};
  const char* kind = (size_t)cmd->kind < sizeof(kKinds) / sizeof(kKinds[0])
                         ? kKinds[cmd->kind]
                         : "?";
  if (cmd->kind == OCL_CMD_HOST_FUNC) {
    snprintf(buf, size, "host function %p (user_data %p) returned status %d",
             (void*)(uintptr_t)cmd->fn, cmd->user_data, (int)status);
  } else if (cmd->kind == OCL_CMD_WAIT) {
    char waited[192];
    ocl_fail_cause(cmd->rec.fail, waited, sizeof(waited));
    snprintf(buf, size, "waited on an event whose work failed: %s", waited);
  } else {
    snprintf(buf, size, "%s failed with status %d", kind, (int)status);
  }
}

/* Runs one job on the host thread. */
static void run_job(struct xhal_plugin_stream* s, ocl_job_t* job) {
  ocl_cmd_t* cmd = &job->cmd;
  xhal_status_t status = XHAL_OK;
  /* A point of its own runs unless the stream failed before it; a plain
   * command unless it failed at or before the last point ahead of it. */
  int is_point = cmd->kind == OCL_CMD_HOST_FUNC || cmd->kind == OCL_CMD_WAIT ||
                 cmd->kind == OCL_CMD_RECORD;
  if (ocl_fail_check(s->fail, is_point ? job->seq : job->seq + 1) == XHAL_OK) {
    switch (cmd->kind) {
      case OCL_CMD_HOST_FUNC:
        if (wait_submitted(s, NULL) != XHAL_OK) {
          ocl_fail_set(s->fail, job->seq - 1, XHAL_ERROR_EXECUTION_FAILED,
                       "work before a host function failed on the device");
          break;
        }
        status = cmd->fn(cmd->user_data);
        if (status != XHAL_OK) status = normalize(status);
        break;
      case OCL_CMD_WAIT:
        status = ocl_record_wait(s->dev->ctx, &cmd->rec);
        if (status != XHAL_OK) status = normalize(status);
        break;
      case OCL_CMD_RECORD:
        /* The recording's point is job->seq; work before it failing
         * fails it (and everything after). */
        if (wait_submitted(s, cmd->rec.stamp) != XHAL_OK)
          ocl_fail_set(s->fail, job->seq - 1, XHAL_ERROR_EXECUTION_FAILED,
                       "work before an event record failed on the device");
        break;
      case OCL_CMD_KERNEL:
        status = ocl_kernel_run(s, cmd);
        break;
      case OCL_CMD_OP:
        status = cmd->op_fn(s, &cmd->call);
        break;
      default:
        status = ocl_transfer_run(s, cmd);
        break;
    }
    if (status != XHAL_OK) {
      char cause[256];
      describe_failure(cmd, status, cause, sizeof(cause));
      ocl_fail_set(s->fail, job->seq, status, cause);
    }
    if (cmd->kind != OCL_CMD_HOST_FUNC && cmd->kind != OCL_CMD_WAIT)
      clFlush(s->queue);
  }
  ocl_cmd_release(cmd);
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
    /* Under mu: a submitter that sees 0 here may give work to OpenCL
     * directly, after everything this thread submitted. */
    if (atomic_fetch_sub(&s->inflight, 1) == 1)
      pthread_cond_broadcast(&s->idle_cv);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int ocl_submit_begin(struct xhal_plugin_stream* s) {
  pthread_mutex_lock(&s->mu);
  return atomic_load(&s->inflight) > 0;
}

void ocl_submit_end(struct xhal_plugin_stream* s) {
  pthread_mutex_unlock(&s->mu);
}

xhal_status_t ocl_submit_defer(struct xhal_plugin_stream* s,
                               const ocl_cmd_t* cmd) {
  ocl_job_t* job;
  if (!s->thread_started) {
    if (pthread_create(&s->thread, NULL, host_thread_main, s) != 0)
      return ocl_error(s->dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                       "opencl: cannot start the stream's host thread");
    s->thread_started = 1;
  }
  job = s->free_jobs;
  if (job != NULL)
    s->free_jobs = job->next;
  else
    job = malloc(sizeof(*job));
  if (job == NULL)
    return ocl_error(s->dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: out of host memory for a stream job");
  job->next = NULL;
  job->cmd = *cmd;
  /* Host functions and recordings are points of their own; a command
   * that fails counts after the last point handed out before it. */
  if (cmd->kind == OCL_CMD_HOST_FUNC || cmd->kind == OCL_CMD_WAIT)
    job->seq = atomic_fetch_add(&s->seq, 1) + 1;
  else if (cmd->kind == OCL_CMD_RECORD)
    job->seq = cmd->rec.seq;
  else
    job->seq = atomic_load(&s->seq);
  atomic_fetch_add(&s->inflight, 1);
  if (s->tail != NULL)
    s->tail->next = job;
  else
    s->head = job;
  s->tail = job;
  pthread_cond_signal(&s->cv);
  return XHAL_OK;
}

void ocl_hostfn_drain(struct xhal_plugin_stream* s) {
  pthread_mutex_lock(&s->mu);
  while (atomic_load(&s->inflight) > 0) pthread_cond_wait(&s->idle_cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}

xhal_status_t ocl_enqueue_host_func(xhal_plugin_stream_t s, xhal_host_func_t fn,
                                    void* user_data) {
  ocl_cmd_t cmd;
  xhal_status_t status;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (fn == NULL)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_host_func: fn is NULL");
  if (ocl_stream_failed(s)) return XHAL_OK; /* skipped, like other work */
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = OCL_CMD_HOST_FUNC;
  cmd.fn = fn;
  cmd.user_data = user_data;
  (void)ocl_submit_begin(s);
  status = ocl_submit_defer(s, &cmd);
  ocl_submit_end(s);
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
