/*
 * acme_stream.c - streams: an in-order queue of commands and the worker
 * thread that runs them, plus every enqueue entry of the dispatch table.
 *
 * Enqueue entries check their arguments, build one command, and return
 * at once; the stream's worker runs the commands one after another in
 * submission order. That is the whole ordering contract of a stream
 * (R-STR-*, docs/abi.md): work runs in the order it was enqueued, and an
 * event recorded after some work completes only after that work.
 *
 * Failure: the first command that fails (a host function returning an
 * error, a wait on a failed event, a kernel that faults) fails the
 * stream. Its later work is skipped, except event records, which still
 * complete and hand the failure to their waiters, so nothing hangs. The
 * failure is sticky: stream_synchronize keeps returning it.
 *
 * VENDOR: on hardware, enqueue writes a packet into the device's command
 * ring and rings a doorbell; the device's command processor replaces the
 * worker thread, and completion arrives by interrupt. Keep the same
 * skeleton: check arguments here, never in the worker, so that every
 * invalid call fails at enqueue with a status and a message.
 *
 * Thread-safety: the host serialises entries on one stream, but a
 * stream's worker, other streams and the host's waiting threads run
 * concurrently; the queue is guarded by the stream's mutex.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "acme_internal.h"

/* -------------------------------------------------------------- commands */

acme_cmd_t* acme_cmd_new(struct xhal_plugin_stream* stream, const char* entry) {
  acme_cmd_t* cmd;
  /* Finished commands are recycled, so a stream in steady state does not
   * call malloc per enqueue. */
  pthread_mutex_lock(&stream->mu);
  cmd = stream->free_cmds;
  if (cmd != NULL) stream->free_cmds = cmd->next;
  pthread_mutex_unlock(&stream->mu);
  if (cmd == NULL) cmd = malloc(sizeof(*cmd));
  if (cmd == NULL) {
    acme_error(stream->ctx, XHAL_ERROR_OUT_OF_MEMORY,
               "%s: no memory for the command", entry);
    return NULL;
  }
  memset(cmd, 0, sizeof(*cmd));
  return cmd;
}

void acme_cmd_hold(acme_cmd_t* cmd, struct xhal_plugin_buffer* buffer) {
  acme_buffer_retain(buffer);
  cmd->buffers[cmd->num_buffers++] = buffer;
}

/* Drops what a command holds; called once it ran or was skipped. */
static void cmd_release(acme_cmd_t* cmd) {
  uint32_t i;
  for (i = 0; i < cmd->num_buffers; ++i) acme_buffer_release(cmd->buffers[i]);
  cmd->num_buffers = 0;
  if (cmd->kind == ACME_CMD_RECORD || cmd->kind == ACME_CMD_WAIT)
    acme_event_release(cmd->u.event.event);
}

void acme_cmd_submit(struct xhal_plugin_stream* stream, acme_cmd_t* cmd) {
  cmd->next = NULL;
  pthread_mutex_lock(&stream->mu);
  if (stream->tail != NULL)
    stream->tail->next = cmd;
  else
    stream->head = cmd;
  stream->tail = cmd;
  stream->submitted++;
  pthread_cond_signal(&stream->work_cv);
  pthread_mutex_unlock(&stream->mu);
}

/* Repeats a 1, 2 or 4 byte pattern over `size` bytes. */
static void fill_pattern(uint8_t* dst, uint64_t size, const uint8_t* pattern,
                         uint32_t pattern_size) {
  uint64_t i;
  if (pattern_size == 1) {
    memset(dst, pattern[0], (size_t)size);
    return;
  }
  for (i = 0; i < size; ++i) dst[i] = pattern[i % pattern_size];
}

/* A host function's failure becomes the stream's status; a value that is
 * not a status at all is reported as a failed execution. */
static xhal_status_t host_func_status(xhal_status_t status) {
  if (status < 0 || status >= XHAL_STATUS_COUNT)
    return XHAL_ERROR_EXECUTION_FAILED;
  return status;
}

/* Runs one command. `status` is the stream's status so far; returns the
 * stream's status afterwards. */
static xhal_status_t cmd_execute(const acme_cmd_t* cmd, xhal_status_t status) {
  if (cmd->kind == ACME_CMD_RECORD) {
    acme_event_complete(cmd->u.event.event, cmd->u.event.gen, status);
    return status;
  }
  if (status != XHAL_OK) return status; /* a failed stream skips work */
  switch (cmd->kind) {
    case ACME_CMD_COPY:
      /* memmove: a copy within one buffer may overlap. VENDOR: a DMA
       * transfer on hardware. */
      memmove(cmd->u.copy.dst, cmd->u.copy.src, (size_t)cmd->u.copy.size);
      return XHAL_OK;
    case ACME_CMD_FILL:
      fill_pattern(cmd->u.fill.dst, cmd->u.fill.size, cmd->u.fill.pattern,
                   cmd->u.fill.pattern_size);
      return XHAL_OK;
    case ACME_CMD_HOST_FUNC:
      return host_func_status(cmd->u.host_func.fn(cmd->u.host_func.user_data));
    case ACME_CMD_WAIT:
      /* The event may belong to another stream of this context; its
       * failure becomes ours. */
      return acme_event_wait_gen(cmd->u.event.event, cmd->u.event.gen,
                                 UINT64_MAX);
    case ACME_CMD_OP:
      return cmd->u.op.kernel(&cmd->u.op.args);
    default:
      return XHAL_ERROR_INTERNAL;
  }
}

/* --------------------------------------------------------------- worker */

static void* stream_worker(void* arg) {
  struct xhal_plugin_stream* stream = arg;
  xhal_status_t status = XHAL_OK;
  pthread_mutex_lock(&stream->mu);
  for (;;) {
    acme_cmd_t* cmd;
    while (stream->head == NULL && !stream->stop)
      pthread_cond_wait(&stream->work_cv, &stream->mu);
    if (stream->head == NULL) break; /* stopped and drained */
    cmd = stream->head;
    stream->head = cmd->next;
    if (stream->head == NULL) stream->tail = NULL;
    pthread_mutex_unlock(&stream->mu);

    /* Run without the lock: a host function may block for long, and
     * enqueues must go on meanwhile. */
    status = cmd_execute(cmd, status);
    cmd_release(cmd);

    pthread_mutex_lock(&stream->mu);
    stream->status = status;
    cmd->next = stream->free_cmds;
    stream->free_cmds = cmd;
    stream->completed++;
    if (stream->completed == stream->submitted)
      pthread_cond_broadcast(&stream->idle_cv);
  }
  pthread_mutex_unlock(&stream->mu);
  return NULL;
}

/* --------------------------------------------------------------- entries */

xhal_status_t acme_stream_create(xhal_plugin_device_t device, uint32_t flags,
                                 xhal_plugin_stream_t* out_stream) {
  struct xhal_plugin_context* ctx;
  struct xhal_plugin_stream* stream;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_stream == NULL)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "stream_create: out_stream is NULL");
  *out_stream = NULL;
  /* Refuse flag bits we do not know. XHAL_STREAM_NO_TIMING comes only to
   * a device claiming XHAL_CAP_STREAM_NO_TIMING, which acme does not. */
  if (flags != 0)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "stream_create: unknown flags 0x%x", flags);
  stream = calloc(1, sizeof(*stream));
  if (stream == NULL)
    return acme_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                      "stream_create: no memory for the stream");
  stream->ctx = ctx;
  stream->status = XHAL_OK;
  if (pthread_mutex_init(&stream->mu, NULL) != 0) goto fail_mutex;
  if (pthread_cond_init(&stream->work_cv, NULL) != 0) goto fail_work_cv;
  if (pthread_cond_init(&stream->idle_cv, NULL) != 0) goto fail_idle_cv;
  if (pthread_create(&stream->worker, NULL, stream_worker, stream) != 0)
    goto fail_thread;
  *out_stream = stream;
  return XHAL_OK;

fail_thread:
  pthread_cond_destroy(&stream->idle_cv);
fail_idle_cv:
  pthread_cond_destroy(&stream->work_cv);
fail_work_cv:
  pthread_mutex_destroy(&stream->mu);
fail_mutex:
  free(stream);
  return acme_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "stream_create: cannot start the stream's worker");
}

/* Blocks until every command submitted so far has run. */
static void stream_wait_idle(struct xhal_plugin_stream* stream) {
  pthread_mutex_lock(&stream->mu);
  while (stream->completed != stream->submitted)
    pthread_cond_wait(&stream->idle_cv, &stream->mu);
  pthread_mutex_unlock(&stream->mu);
}

/* Waits for the queued work (the ABI says destroy does), then stops the
 * worker. */
void acme_stream_destroy(xhal_plugin_stream_t stream) {
  acme_cmd_t* cmd;
  if (stream == NULL) return;
  stream_wait_idle(stream);
  pthread_mutex_lock(&stream->mu);
  stream->stop = 1;
  pthread_cond_signal(&stream->work_cv);
  pthread_mutex_unlock(&stream->mu);
  pthread_join(stream->worker, NULL);
  while ((cmd = stream->free_cmds) != NULL) {
    stream->free_cmds = cmd->next;
    free(cmd);
  }
  pthread_cond_destroy(&stream->idle_cv);
  pthread_cond_destroy(&stream->work_cv);
  pthread_mutex_destroy(&stream->mu);
  free(stream);
}

/* The worker sees work as soon as it is submitted, so there is nothing to
 * flush. VENDOR: a driver that batches packets rings the doorbell here. */
xhal_status_t acme_stream_flush(xhal_plugin_stream_t stream) {
  return stream == NULL ? XHAL_ERROR_INVALID_HANDLE : XHAL_OK;
}

xhal_status_t acme_stream_synchronize(xhal_plugin_stream_t stream) {
  xhal_status_t status;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  stream_wait_idle(stream);
  pthread_mutex_lock(&stream->mu);
  status = stream->status;
  pthread_mutex_unlock(&stream->mu);
  if (status != XHAL_OK)
    return acme_error(stream->ctx, status,
                      "stream_synchronize: the stream failed with status %d; "
                      "its later work was skipped",
                      (int)status);
  return XHAL_OK;
}

/* Queues a memmove of `size` bytes holding `a` and `b` (either may be
 * NULL for host memory). */
static xhal_status_t enqueue_move(struct xhal_plugin_stream* stream,
                                  const char* entry, uint8_t* dst,
                                  const uint8_t* src, uint64_t size,
                                  struct xhal_plugin_buffer* a,
                                  struct xhal_plugin_buffer* b) {
  acme_cmd_t* cmd;
  /* Nothing to move, but still a valid call: it succeeds and needs no
   * place in the queue, since it has no effect to order. */
  if (size == 0) return XHAL_OK;
  cmd = acme_cmd_new(stream, entry);
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  cmd->kind = ACME_CMD_COPY;
  cmd->u.copy.dst = dst;
  cmd->u.copy.src = src;
  cmd->u.copy.size = size;
  if (a != NULL) acme_cmd_hold(cmd, a);
  if (b != NULL) acme_cmd_hold(cmd, b);
  acme_cmd_submit(stream, cmd);
  return XHAL_OK;
}

/* The host keeps `src` valid and unchanged until the write completes, so
 * the command reads it in place (no staging copy). */
xhal_status_t acme_enqueue_write(xhal_plugin_stream_t stream,
                                 xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                 const void* src, uint64_t size) {
  xhal_status_t status;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = acme_buffer_check_range(stream->ctx, "enqueue_write", "dst", dst,
                                   dst_offset, size);
  if (status != XHAL_OK) return status;
  if (src == NULL && size != 0)
    return acme_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_write: src is NULL");
  return enqueue_move(stream, "enqueue_write", dst->base + dst_offset, src,
                      size, dst, NULL);
}

xhal_status_t acme_enqueue_read(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t src, uint64_t src_offset,
                                void* dst, uint64_t size) {
  xhal_status_t status;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = acme_buffer_check_range(stream->ctx, "enqueue_read", "src", src,
                                   src_offset, size);
  if (status != XHAL_OK) return status;
  if (dst == NULL && size != 0)
    return acme_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_read: dst is NULL");
  return enqueue_move(stream, "enqueue_read", dst, src->base + src_offset, size,
                      src, NULL);
}

xhal_status_t acme_enqueue_copy(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t src, uint64_t src_offset,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                uint64_t size) {
  xhal_status_t status;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = acme_buffer_check_range(stream->ctx, "enqueue_copy", "src", src,
                                   src_offset, size);
  if (status != XHAL_OK) return status;
  status = acme_buffer_check_range(stream->ctx, "enqueue_copy", "dst", dst,
                                   dst_offset, size);
  if (status != XHAL_OK) return status;
  return enqueue_move(stream, "enqueue_copy", dst->base + dst_offset,
                      src->base + src_offset, size, src, dst);
}

xhal_status_t acme_enqueue_fill(xhal_plugin_stream_t stream,
                                xhal_plugin_buffer_t dst, uint64_t offset,
                                uint64_t size, const void* pattern,
                                uint32_t pattern_size) {
  xhal_status_t status;
  acme_cmd_t* cmd;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (pattern == NULL)
    return acme_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_fill: pattern is NULL");
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4)
    return acme_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_fill: pattern_size %u is not 1, 2 or 4",
                      pattern_size);
  if (size % pattern_size != 0)
    return acme_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_fill: size %llu is not a multiple of "
                      "pattern_size %u",
                      (unsigned long long)size, pattern_size);
  status = acme_buffer_check_range(stream->ctx, "enqueue_fill", "dst", dst,
                                   offset, size);
  if (status != XHAL_OK) return status;
  if (size == 0) return XHAL_OK;
  cmd = acme_cmd_new(stream, "enqueue_fill");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  cmd->kind = ACME_CMD_FILL;
  cmd->u.fill.dst = dst->base + offset;
  cmd->u.fill.size = size;
  /* The pattern is read during this call only: copy it. */
  memcpy(cmd->u.fill.pattern, pattern, pattern_size);
  cmd->u.fill.pattern_size = pattern_size;
  acme_cmd_hold(cmd, dst);
  acme_cmd_submit(stream, cmd);
  return XHAL_OK;
}

/* fn runs on the worker thread, in stream order; it may block (the host
 * uses this to make a stream wait for another plugin's event). */
xhal_status_t acme_enqueue_host_func(xhal_plugin_stream_t stream,
                                     xhal_host_func_t fn, void* user_data) {
  acme_cmd_t* cmd;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (fn == NULL)
    return acme_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_host_func: fn is NULL");
  cmd = acme_cmd_new(stream, "enqueue_host_func");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  cmd->kind = ACME_CMD_HOST_FUNC;
  cmd->u.host_func.fn = fn;
  cmd->u.host_func.user_data = user_data;
  acme_cmd_submit(stream, cmd);
  return XHAL_OK;
}

xhal_status_t acme_event_record(xhal_plugin_event_t event,
                                xhal_plugin_stream_t stream) {
  acme_cmd_t* cmd;
  if (event == NULL || stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  /* Allocate before taking a generation: a record that cannot be queued
   * must not leave waiters waiting for a generation that never runs. */
  cmd = acme_cmd_new(stream, "event_record");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  acme_event_retain(event);
  cmd->kind = ACME_CMD_RECORD;
  cmd->u.event.event = event;
  cmd->u.event.gen = acme_event_next_gen(event);
  acme_cmd_submit(stream, cmd);
  return XHAL_OK;
}

xhal_status_t acme_stream_wait_event(xhal_plugin_stream_t stream,
                                     xhal_plugin_event_t event) {
  acme_cmd_t* cmd;
  uint64_t gen;
  if (event == NULL || stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  /* The wait is for the work captured by the latest record *now*; a
   * later re-record does not move it. */
  gen = acme_event_current_gen(event);
  if (gen == 0)
    return acme_error(stream->ctx, XHAL_ERROR_INVALID_STATE,
                      "stream_wait_event: the event was never recorded");
  /* Queued even when the event already completed: it may have failed,
   * and that must fail this stream at this point of its order. */
  cmd = acme_cmd_new(stream, "stream_wait_event");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  acme_event_retain(event);
  cmd->kind = ACME_CMD_WAIT;
  cmd->u.event.event = event;
  cmd->u.event.gen = gen;
  acme_cmd_submit(stream, cmd);
  return XHAL_OK;
}
