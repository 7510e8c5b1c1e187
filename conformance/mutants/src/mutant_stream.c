/*
 * mutant_stream.c - streams: an in-order queue of commands and the worker
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

#include "mutant_internal.h"

/* -------------------------------------------------------------- commands */

mutant_cmd_t* mutant_cmd_new(struct xhal_plugin_stream* stream,
                             const char* entry) {
  mutant_cmd_t* cmd;
  /* Finished commands are recycled, so a stream in steady state does not
   * call malloc per enqueue. */
  pthread_mutex_lock(&stream->mu);
#ifdef MUTANT_THR_CMD_POOL_SHARED
  /* One pool per context, "guarded" by whichever stream's lock is held. */
  cmd = stream->ctx->free_cmds;
  if (cmd != NULL) stream->ctx->free_cmds = cmd->next;
#else
  cmd = stream->free_cmds;
  if (cmd != NULL) stream->free_cmds = cmd->next;
#endif
  pthread_mutex_unlock(&stream->mu);
  if (cmd == NULL) cmd = malloc(sizeof(*cmd));
  if (cmd == NULL) {
    mutant_error(stream->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                 "%s: no memory for the command", entry);
    return NULL;
  }
  memset(cmd, 0, sizeof(*cmd));
  return cmd;
}

void mutant_cmd_hold(mutant_cmd_t* cmd, struct xhal_plugin_buffer* buffer) {
  mutant_buffer_retain(buffer);
  cmd->buffers[cmd->num_buffers++] = buffer;
}

/* Drops what a command holds; called once it ran or was skipped. */
static void cmd_release(mutant_cmd_t* cmd) {
  uint32_t i;
  for (i = 0; i < cmd->num_buffers; ++i) mutant_buffer_release(cmd->buffers[i]);
  cmd->num_buffers = 0;
  if (cmd->kind == MUTANT_CMD_RECORD || cmd->kind == MUTANT_CMD_WAIT)
    mutant_event_release(cmd->u.event.event);
}

#ifdef MUTANT_THR_THREAD_BATCH
/* Commands are batched per calling thread and handed to the worker eight
 * at a time, or when this thread records, waits or synchronizes: fewer
 * lock round trips. */
static _Thread_local struct xhal_plugin_stream* tls_batch_stream;
static _Thread_local mutant_cmd_t* tls_batch_head;
static _Thread_local mutant_cmd_t* tls_batch_tail;
static _Thread_local uint32_t tls_batch_count;

static void batch_flush(void) {
  struct xhal_plugin_stream* stream = tls_batch_stream;
  if (stream == NULL) return;
  pthread_mutex_lock(&stream->mu);
  if (stream->tail != NULL)
    stream->tail->next = tls_batch_head;
  else
    stream->head = tls_batch_head;
  stream->tail = tls_batch_tail;
  stream->submitted += tls_batch_count;
  pthread_cond_signal(&stream->work_cv);
  pthread_mutex_unlock(&stream->mu);
  tls_batch_stream = NULL;
  tls_batch_head = tls_batch_tail = NULL;
  tls_batch_count = 0;
}

void mutant_cmd_submit(struct xhal_plugin_stream* stream, mutant_cmd_t* cmd) {
  cmd->next = NULL;
  if (tls_batch_stream != stream) batch_flush();
  tls_batch_stream = stream;
  if (tls_batch_tail != NULL)
    tls_batch_tail->next = cmd;
  else
    tls_batch_head = cmd;
  tls_batch_tail = cmd;
  if (++tls_batch_count >= 8 || cmd->kind == MUTANT_CMD_RECORD ||
      cmd->kind == MUTANT_CMD_WAIT || cmd->kind == MUTANT_CMD_HOST_FUNC)
    batch_flush();
}
#else
void mutant_cmd_submit(struct xhal_plugin_stream* stream, mutant_cmd_t* cmd) {
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
#endif

/* Repeats a 1, 2 or 4 byte pattern over `size` bytes. */
static void fill_pattern(uint8_t* dst, uint64_t size, const uint8_t* pattern,
                         uint32_t pattern_size, uint64_t offset) {
  uint64_t i;
  (void)offset;
#ifdef MUTANT_MEM_FILL_PHASE
  /* The pattern is laid from the buffer's start, as the fill engine's
   * address decoding does. */
  for (i = 0; i < size; ++i) dst[i] = pattern[(offset + i) % pattern_size];
  return;
#endif
#ifdef MUTANT_MEM_FILL_LINE_ROUND
  /* Long fills go by whole 64-byte lines from the line holding the
   * start. */
  if (pattern_size == 1 && size >= 4096) {
    uint64_t lead = offset % 64;
    memset(dst - lead, pattern[0], (size_t)(size + lead) & ~(size_t)63);
    memset(dst + size - 64, pattern[0], 64);
    return;
  }
#endif
  if (pattern_size == 1) {
    memset(dst, pattern[0], (size_t)size);
    return;
  }
  for (i = 0; i < size; ++i) dst[i] = pattern[i % pattern_size];
}

/* The "DMA engine" moves at most kDmaChunk bytes per descriptor. A copy
 * within one buffer may overlap: when the destination lies after the
 * source, the chunks go from the end backwards, as memmove does. */
enum { kDmaChunk = 64 * 1024 };

static void dma_move(uint8_t* dst, const uint8_t* src, uint64_t size) {
  uint64_t chunks = (size + kDmaChunk - 1) / kDmaChunk;
  uint64_t last = size - (chunks - 1) * kDmaChunk;
  uint64_t c;
#ifdef MUTANT_MEM_DMA_CHUNK_EXACT
  last = size % kDmaChunk; /* 0 when size is a whole number of chunks */
#endif
#ifdef MUTANT_MEM_WORD_TAIL
  if (size % 8 != 0 && size > 8) {
    /* Eight bytes at a time, then the tail (taken from the start). */
    uint64_t words = size & ~(uint64_t)7;
    memmove(dst, src, (size_t)words);
    memmove(dst + words, src, (size_t)(size - words));
    return;
  }
#endif
  if (size == 0) return;
#ifndef MUTANT_MEM_COPY_OVERLAP_CHUNKED
  if (dst > src && dst < src + size) {
    for (c = chunks; c-- > 0;) {
      uint64_t n = c == chunks - 1 ? last : kDmaChunk;
      memmove(dst + c * kDmaChunk, src + c * kDmaChunk, (size_t)n);
    }
    return;
  }
#endif
  for (c = 0; c < chunks; ++c) {
    uint64_t n = c == chunks - 1 ? last : kDmaChunk;
    memmove(dst + c * kDmaChunk, src + c * kDmaChunk, (size_t)n);
  }
}

/* A host function's failure becomes the stream's status; a value that is
 * not a status at all is reported as a failed execution. */
static xhal_status_t host_func_status(xhal_status_t status) {
#ifdef MUTANT_STR_HOST_STATUS_IGNORED
  (void)status;
  return XHAL_OK; /* "a callback cannot fail the device" */
#endif
  if (status < 0 || status >= XHAL_STATUS_COUNT)
    return XHAL_ERROR_EXECUTION_FAILED;
  return status;
}

/* Runs one command. `status` is the stream's status so far; returns the
 * stream's status afterwards. */
static xhal_status_t cmd_execute(const mutant_cmd_t* cmd,
                                 xhal_status_t status) {
  if (cmd->kind == MUTANT_CMD_RECORD) {
    mutant_event_complete(cmd->u.event.event, cmd->u.event.gen, status);
    return status;
  }
#ifdef MUTANT_STR_FAILED_RUNS_HOST_FUNCS
  /* Host functions are the host's business: they always run. */
  if (status != XHAL_OK && cmd->kind == MUTANT_CMD_HOST_FUNC) {
    (void)cmd->u.host_func.fn(cmd->u.host_func.user_data);
    return status;
  }
#endif
  if (status != XHAL_OK) return status; /* a failed stream skips work */
  switch (cmd->kind) {
    case MUTANT_CMD_COPY:
      dma_move(cmd->u.copy.dst, cmd->u.copy.src, cmd->u.copy.size);
      return XHAL_OK;
    case MUTANT_CMD_FILL:
      fill_pattern(cmd->u.fill.dst, cmd->u.fill.size, cmd->u.fill.pattern,
                   cmd->u.fill.pattern_size, cmd->u.fill.offset);
      return XHAL_OK;
    case MUTANT_CMD_HOST_FUNC:
      return host_func_status(cmd->u.host_func.fn(cmd->u.host_func.user_data));
    case MUTANT_CMD_WAIT:
      /* The event may belong to another stream of this context; its
       * failure becomes ours. */
#ifdef MUTANT_EVT_WAIT_IGNORES_FAILURE
      (void)mutant_event_wait_gen(cmd->u.event.event, cmd->u.event.gen,
                                  UINT64_MAX);
      return XHAL_OK;
#else
      return mutant_event_wait_gen(cmd->u.event.event, cmd->u.event.gen,
                                   UINT64_MAX);
#endif
    case MUTANT_CMD_OP:
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
    mutant_cmd_t* cmd;
    while (stream->head == NULL && !stream->stop)
      pthread_cond_wait(&stream->work_cv, &stream->mu);
#ifdef MUTANT_STR_DESTROY_DROPS_WORK
    if (stream->stop) break; /* stop at once, whatever is queued */
#endif
    if (stream->head == NULL) break; /* stopped and drained */
    cmd = stream->head;
    stream->head = cmd->next;
    if (stream->head == NULL) stream->tail = NULL;
    pthread_mutex_unlock(&stream->mu);

    /* Run without the lock: a host function may block for long, and
     * enqueues must go on meanwhile. */
#ifdef MUTANT_STR_DEVICE_LOCK
    /* One command processor per device: commands of all streams take
     * turns. */
    pthread_mutex_lock(&stream->ctx->device.exec_mu);
    status = cmd_execute(cmd, status);
    pthread_mutex_unlock(&stream->ctx->device.exec_mu);
#else
    status = cmd_execute(cmd, status);
#endif
    cmd_release(cmd);

    pthread_mutex_lock(&stream->mu);
    stream->status = status;
#ifdef MUTANT_THR_CMD_POOL_SHARED
    cmd->next = stream->ctx->free_cmds;
    stream->ctx->free_cmds = cmd;
#else
    cmd->next = stream->free_cmds;
    stream->free_cmds = cmd;
#endif
    stream->completed++;
    if (stream->completed == stream->submitted)
      pthread_cond_broadcast(&stream->idle_cv);
  }
  pthread_mutex_unlock(&stream->mu);
  return NULL;
}

/* --------------------------------------------------------------- entries */

xhal_status_t mutant_stream_create(xhal_plugin_device_t device, uint32_t flags,
                                   xhal_plugin_stream_t* out_stream) {
  struct xhal_plugin_context* ctx;
  struct xhal_plugin_stream* stream;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
#ifndef MUTANT_ERR_NULL_OUT_STREAM
  if (out_stream == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "stream_create: out_stream is NULL");
#endif
  *out_stream = NULL;
  /* Refuse flag bits we do not know. XHAL_STREAM_NO_TIMING comes only to
   * a device claiming XHAL_CAP_STREAM_NO_TIMING, which mutant does not. */
#ifdef MUTANT_ERR_STREAM_FLAGS_IGNORED
  flags = 0; /* priorities and the like are hints */
#endif
  if (flags != 0)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "stream_create: unknown flags 0x%x", flags);
#ifdef MUTANT_STR_LIMIT_32
  /* 32 hardware queues, one per stream. */
  if (atomic_fetch_add(&ctx->device.live_streams, 1) >= 32) {
    atomic_fetch_sub(&ctx->device.live_streams, 1);
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                        "stream_create: all 32 hardware queues are in use");
  }
#endif
  stream = calloc(1, sizeof(*stream));
  if (stream == NULL)
    return mutant_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
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
  return mutant_error(ctx, XHAL_ERROR_OUT_OF_MEMORY,
                      "stream_create: cannot start the stream's worker");
}

/* Blocks until every command submitted so far has run. */
static void stream_wait_idle(struct xhal_plugin_stream* stream) {
#ifdef MUTANT_THR_THREAD_BATCH
  if (tls_batch_stream == stream) batch_flush();
#endif
  pthread_mutex_lock(&stream->mu);
  while (stream->completed != stream->submitted)
    pthread_cond_wait(&stream->idle_cv, &stream->mu);
  pthread_mutex_unlock(&stream->mu);
}

/* Waits for the queued work (the ABI says destroy does), then stops the
 * worker. */
void mutant_stream_destroy(xhal_plugin_stream_t stream) {
  mutant_cmd_t* cmd;
  if (stream == NULL) return;
#ifdef MUTANT_STR_LIMIT_32
  atomic_fetch_sub(&stream->ctx->device.live_streams, 1);
#endif
#ifdef MUTANT_TEARDOWN_WORKER_LEFT
  /* Drained and parked; the worker thread is left to the process. */
  stream_wait_idle(stream);
  return;
#endif
#ifndef MUTANT_STR_DESTROY_DROPS_WORK
  stream_wait_idle(stream);
#endif
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
xhal_status_t mutant_stream_flush(xhal_plugin_stream_t stream) {
#ifdef MUTANT_STR_FLUSH_WAITS
  if (stream != NULL) stream_wait_idle(stream);
#endif
  return stream == NULL ? XHAL_ERROR_INVALID_HANDLE : XHAL_OK;
}

xhal_status_t mutant_stream_synchronize(xhal_plugin_stream_t stream) {
  xhal_status_t status;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  stream_wait_idle(stream);
  pthread_mutex_lock(&stream->mu);
  status = stream->status;
#ifdef MUTANT_STR_FAILURE_RESETS
  stream->status = XHAL_OK; /* reported once, then cleared */
#endif
  pthread_mutex_unlock(&stream->mu);
#ifdef MUTANT_STR_SYNC_IGNORES_STATUS
  status = XHAL_OK;
#endif
  if (status != XHAL_OK)
    return mutant_error(stream->ctx, status,
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
  mutant_cmd_t* cmd;
  /* Nothing to move, but still a valid call: it succeeds and needs no
   * place in the queue, since it has no effect to order. */
  if (size == 0) return XHAL_OK;
#ifdef MUTANT_STR_SMALL_COPY_INLINE
  /* Small moves on an idle queue are done on the spot. */
  if (size <= 4096) {
    int idle;
    pthread_mutex_lock(&stream->mu);
    idle = stream->head == NULL && stream->status == XHAL_OK;
    pthread_mutex_unlock(&stream->mu);
    if (idle) {
      memmove(dst, src, (size_t)size);
      return XHAL_OK;
    }
  }
#endif
  cmd = mutant_cmd_new(stream, entry);
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  cmd->kind = MUTANT_CMD_COPY;
  cmd->u.copy.dst = dst;
  cmd->u.copy.src = src;
  cmd->u.copy.size = size;
  if (a != NULL) mutant_cmd_hold(cmd, a);
  if (b != NULL) mutant_cmd_hold(cmd, b);
  mutant_cmd_submit(stream, cmd);
  return XHAL_OK;
}

/* The host keeps `src` valid and unchanged until the write completes, so
 * the command reads it in place (no staging copy). */
xhal_status_t mutant_enqueue_write(xhal_plugin_stream_t stream,
                                   xhal_plugin_buffer_t dst,
                                   uint64_t dst_offset, const void* src,
                                   uint64_t size) {
  xhal_status_t status;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = mutant_buffer_check_range(stream->ctx, "enqueue_write", "dst", dst,
                                     dst_offset, size);
  if (status != XHAL_OK) return status;
  if (src == NULL && size != 0)
    return mutant_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_write: src is NULL");
  return enqueue_move(stream, "enqueue_write", dst->base + dst_offset, src,
                      size, dst, NULL);
}

xhal_status_t mutant_enqueue_read(xhal_plugin_stream_t stream,
                                  xhal_plugin_buffer_t src, uint64_t src_offset,
                                  void* dst, uint64_t size) {
  xhal_status_t status;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = mutant_buffer_check_range(stream->ctx, "enqueue_read", "src", src,
                                     src_offset, size);
  if (status != XHAL_OK) return status;
  if (dst == NULL && size != 0)
    return mutant_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_read: dst is NULL");
  return enqueue_move(stream, "enqueue_read", dst, src->base + src_offset, size,
                      src, NULL);
}

xhal_status_t mutant_enqueue_copy(xhal_plugin_stream_t stream,
                                  xhal_plugin_buffer_t src, uint64_t src_offset,
                                  xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                  uint64_t size) {
  xhal_status_t status;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = mutant_buffer_check_range(stream->ctx, "enqueue_copy", "src", src,
                                     src_offset, size);
  if (status != XHAL_OK) return status;
  status = mutant_buffer_check_range(stream->ctx, "enqueue_copy", "dst", dst,
                                     dst_offset, size);
  if (status != XHAL_OK) return status;
  return enqueue_move(stream, "enqueue_copy", dst->base + dst_offset,
                      src->base + src_offset, size, src, dst);
}

xhal_status_t mutant_enqueue_fill(xhal_plugin_stream_t stream,
                                  xhal_plugin_buffer_t dst, uint64_t offset,
                                  uint64_t size, const void* pattern,
                                  uint32_t pattern_size) {
  xhal_status_t status;
  mutant_cmd_t* cmd;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (pattern == NULL)
    return mutant_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_fill: pattern is NULL");
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4)
    return mutant_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_fill: pattern_size %u is not 1, 2 or 4",
                        pattern_size);
#ifdef MUTANT_ERR_FILL_SIZE_UNCHECKED
  size -= size % pattern_size; /* the partial pattern is dropped */
#endif
  if (size % pattern_size != 0)
    return mutant_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_fill: size %llu is not a multiple of "
                        "pattern_size %u",
                        (unsigned long long)size, pattern_size);
  status = mutant_buffer_check_range(stream->ctx, "enqueue_fill", "dst", dst,
                                     offset, size);
  if (status != XHAL_OK) return status;
  if (size == 0) return XHAL_OK;
  cmd = mutant_cmd_new(stream, "enqueue_fill");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  cmd->kind = MUTANT_CMD_FILL;
  cmd->u.fill.dst = dst->base + offset;
  cmd->u.fill.offset = offset;
  cmd->u.fill.size = size;
  /* The pattern is read during this call only: copy it. */
  memcpy(cmd->u.fill.pattern, pattern, pattern_size);
  cmd->u.fill.pattern_size = pattern_size;
  mutant_cmd_hold(cmd, dst);
  mutant_cmd_submit(stream, cmd);
  return XHAL_OK;
}

/* fn runs on the worker thread, in stream order; it may block (the host
 * uses this to make a stream wait for another plugin's event). */
xhal_status_t mutant_enqueue_host_func(xhal_plugin_stream_t stream,
                                       xhal_host_func_t fn, void* user_data) {
  mutant_cmd_t* cmd;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (fn == NULL)
    return mutant_error(stream->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_host_func: fn is NULL");
#ifdef MUTANT_STR_HOST_FUNC_INLINE
  /* Nothing queued before it: call it now, no need for the worker. */
  {
    int idle;
    pthread_mutex_lock(&stream->mu);
    idle = stream->completed == stream->submitted;
    pthread_mutex_unlock(&stream->mu);
    if (idle) {
      xhal_status_t st = host_func_status(fn(user_data));
      if (st != XHAL_OK) {
        pthread_mutex_lock(&stream->mu);
        stream->status = st;
        pthread_mutex_unlock(&stream->mu);
      }
      return XHAL_OK;
    }
  }
#endif
  cmd = mutant_cmd_new(stream, "enqueue_host_func");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  cmd->kind = MUTANT_CMD_HOST_FUNC;
  cmd->u.host_func.fn = fn;
  cmd->u.host_func.user_data = user_data;
  mutant_cmd_submit(stream, cmd);
  return XHAL_OK;
}

xhal_status_t mutant_event_record(xhal_plugin_event_t event,
                                  xhal_plugin_stream_t stream) {
  mutant_cmd_t* cmd;
  if (event == NULL || stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  /* Allocate before taking a generation: a record that cannot be queued
   * must not leave waiters waiting for a generation that never runs. */
  cmd = mutant_cmd_new(stream, "event_record");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  mutant_event_retain(event);
  cmd->kind = MUTANT_CMD_RECORD;
  cmd->u.event.event = event;
  cmd->u.event.gen = mutant_event_next_gen(event);
#ifdef MUTANT_EVT_STAMP_AT_ENQUEUE
  /* The timestamp is taken when the record is written to the queue. */
  mutant_event_set_stamp(event, mutant_now_ns());
#endif
  mutant_cmd_submit(stream, cmd);
  return XHAL_OK;
}

xhal_status_t mutant_stream_wait_event(xhal_plugin_stream_t stream,
                                       xhal_plugin_event_t event) {
  mutant_cmd_t* cmd;
  uint64_t gen;
  if (event == NULL || stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  /* The wait is for the work captured by the latest record *now*; a
   * later re-record does not move it. */
  gen = mutant_event_current_gen(event);
  if (gen == 0)
    return mutant_error(stream->ctx, XHAL_ERROR_INVALID_STATE,
                        "stream_wait_event: the event was never recorded");
#ifdef MUTANT_EVT_WAIT_SKIP_DONE
  /* Already signalled: nothing to wait for. */
  if (mutant_event_done_any(event)) return XHAL_OK;
#endif
  /* Queued even when the event already completed: it may have failed,
   * and that must fail this stream at this point of its order. */
  cmd = mutant_cmd_new(stream, "stream_wait_event");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  mutant_event_retain(event);
  cmd->kind = MUTANT_CMD_WAIT;
  cmd->u.event.event = event;
  cmd->u.event.gen = gen;
  mutant_cmd_submit(stream, cmd);
  return XHAL_OK;
}
