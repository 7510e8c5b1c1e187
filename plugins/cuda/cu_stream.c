/*
 * cu_stream.c - streams: a non-blocking CUstream each, submission in
 * order, and the host thread that runs host functions and the commands
 * deferred behind them (see "Deferred submission" in cu_internal.h).
 *
 * Fast path: while no host-thread job is in flight, every enqueue goes
 * straight to CUDA under the stream's mutex (uncontended: the host
 * serialises the entries of one stream), so a launch costs one driver
 * call plus the argument translation.
 */
#define _GNU_SOURCE

#include <stdlib.h>
#include <string.h>

#include "cu_internal.h"

/* ------------------------------------------------------------ failure */

void cu_stream_fail(struct xhal_plugin_stream* s, xhal_status_t status) {
  int expected = 0;
  if (status == XHAL_OK || status == XHAL_ERROR_TIMEOUT ||
      status == XHAL_ERROR_NOT_READY)
    status = XHAL_ERROR_EXECUTION_FAILED;
  atomic_compare_exchange_strong(&s->failed, &expected, (int)status);
}

static xhal_status_t failed_status(const struct xhal_plugin_stream* s) {
  return (xhal_status_t)atomic_load_explicit(&s->failed, memory_order_acquire);
}

/* ------------------------------------------------------------ commands */

void cu_cmd_release(cu_cmd_t* cmd) {
  if (cmd == NULL) return;
  cu_buffer_release(cmd->src);
  cu_buffer_release(cmd->dst);
  if (cmd->rec) cu_record_release(cmd->rec);
  if (cmd->kernel) {
    for (uint32_t i = 0; i < cmd->num_params; ++i)
      cu_buffer_release(cmd->arg_bufs ? cmd->arg_bufs[i] : NULL);
    cu_kernel_unref(cmd->kernel);
  }
  if (cmd->kind == CU_CMD_OP) {
    for (uint32_t i = 0; i < cmd->call.num_inputs; ++i)
      cu_buffer_release(cmd->call.inputs[i].buffer);
    for (uint32_t i = 0; i < cmd->call.num_outputs; ++i)
      cu_buffer_release(cmd->call.outputs[i].buffer);
  }
  free(cmd->arg_bytes);
  free(cmd->arg_offsets);
  free(cmd->arg_bufs);
  free(cmd);
}

/* A heap copy of `src` that owns a reference to everything it names. */
static cu_cmd_t* cmd_clone(const cu_cmd_t* src) {
  cu_cmd_t* c = malloc(sizeof(*c));
  if (c == NULL) return NULL;
  *c = *src;
  c->next = NULL;
  c->arg_bytes = NULL;
  c->arg_offsets = NULL;
  c->arg_bufs = NULL;
  if (src->kind == CU_CMD_KERNEL) {
    uint32_t n = src->num_params;
    uint32_t bytes = src->arg_bytes_size;
    c->arg_bytes = malloc(bytes ? bytes : 1);
    c->arg_offsets = malloc((n ? n : 1) * sizeof(uint32_t));
    c->arg_bufs = calloc(n ? n : 1, sizeof(*c->arg_bufs));
    if (!c->arg_bytes || !c->arg_offsets || !c->arg_bufs) {
      free(c->arg_bytes);
      free(c->arg_offsets);
      free(c->arg_bufs);
      free(c);
      return NULL;
    }
    memcpy(c->arg_bytes, src->arg_bytes, bytes);
    memcpy(c->arg_offsets, src->arg_offsets, n * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; ++i) {
      c->arg_bufs[i] = src->arg_bufs[i];
      if (c->arg_bufs[i]) cu_buffer_retain(c->arg_bufs[i]);
    }
    atomic_fetch_add(&c->kernel->refs, 1);
  }
  if (src->kind == CU_CMD_OP) {
    for (uint32_t i = 0; i < c->call.num_inputs; ++i)
      if (c->call.inputs[i].buffer) cu_buffer_retain(c->call.inputs[i].buffer);
    for (uint32_t i = 0; i < c->call.num_outputs; ++i)
      if (c->call.outputs[i].buffer)
        cu_buffer_retain(c->call.outputs[i].buffer);
  }
  if (c->src) cu_buffer_retain(c->src);
  if (c->dst) cu_buffer_retain(c->dst);
  if (c->rec) atomic_fetch_add(&c->rec->refs, 1);
  return c;
}

/* A copy within one buffer whose ranges overlap: CUDA's copies have no
 * memmove semantics, so it goes through stream-ordered scratch memory. */
static xhal_status_t copy_overlapping(struct xhal_plugin_stream* s,
                                      const cu_cmd_t* c) {
  const cu_driver_t* cu = &s->dev->ctx->cu;
  CUdeviceptr tmp = 0;
  CUresult r = cu->MemAllocAsync(&tmp, (size_t)c->size, s->cu);
  if (r != CUDA_SUCCESS) return cu_check(s->dev->ctx, r, "cuMemAllocAsync");
  r = cu->MemcpyDtoDAsync(tmp, c->src->ptr + c->src_offset, (size_t)c->size,
                          s->cu);
  if (r == CUDA_SUCCESS)
    r = cu->MemcpyDtoDAsync(c->dst->ptr + c->dst_offset, tmp, (size_t)c->size,
                            s->cu);
  cu->MemFreeAsync(tmp, s->cu);
  return cu_check(s->dev->ctx, r, "cuMemcpyDtoDAsync");
}

/* A 1, 2 or 4 byte pattern from p: the bytes before the first address
 * aligned to the pattern size and after the last one are set one by
 * one, the aligned middle with a 16 or 32-bit memset of the pattern
 * rotated to start there. */
static xhal_status_t fill_run(struct xhal_plugin_stream* s,
                              const cu_cmd_t* c) {
  const cu_driver_t* cu = &s->dev->ctx->cu;
  const CUdeviceptr p = c->dst->ptr + c->dst_offset;
  const CUdeviceptr end = p + c->size;
  const uint32_t ps = c->pattern_size;
  CUdeviceptr a0 = (p + ps - 1) / ps * ps;
  CUdeviceptr a1 = end / ps * ps;
  uint8_t word[4];
  int uniform = 1;
  CUresult r = CUDA_SUCCESS;
  for (uint32_t i = 1; i < ps; ++i) uniform &= c->pattern[i] == c->pattern[0];
  if (uniform || ps == 1) {
    r = cu->MemsetD8Async(p, c->pattern[0], (size_t)c->size, s->cu);
    return cu_check(s->dev->ctx, r, "cuMemsetD8Async");
  }
  if (a0 > a1) a0 = a1 = end; /* no aligned word inside */
  for (CUdeviceptr q = p; q < a0 && r == CUDA_SUCCESS; ++q)
    r = cu->MemsetD8Async(q, c->pattern[(q - p) % ps], 1, s->cu);
  for (uint32_t k = 0; k < ps; ++k) word[k] = c->pattern[(a0 - p + k) % ps];
  if (r == CUDA_SUCCESS && a1 > a0) {
    if (ps == 2) {
      uint16_t v;
      memcpy(&v, word, 2);
      r = cu->MemsetD16Async(a0, v, (size_t)((a1 - a0) / 2), s->cu);
    } else {
      uint32_t v;
      memcpy(&v, word, 4);
      r = cu->MemsetD32Async(a0, v, (size_t)((a1 - a0) / 4), s->cu);
    }
  }
  for (CUdeviceptr q = a1 > a0 ? a1 : a0; q < end && r == CUDA_SUCCESS; ++q)
    r = cu->MemsetD8Async(q, c->pattern[(q - p) % ps], 1, s->cu);
  return cu_check(s->dev->ctx, r, "cuMemset");
}

/* Gives a command to CUDA on s->cu (the caller orders submissions). */
static xhal_status_t run_cmd(struct xhal_plugin_stream* s, const cu_cmd_t* c) {
  const cu_driver_t* cu = &s->dev->ctx->cu;
  CUresult r;
  switch (c->kind) {
    case CU_CMD_WRITE:
      r = cu->MemcpyHtoDAsync(c->dst->ptr + c->dst_offset, c->host_src,
                              (size_t)c->size, s->cu);
      return cu_check(s->dev->ctx, r, "cuMemcpyHtoDAsync");
    case CU_CMD_READ:
      r = cu->MemcpyDtoHAsync(c->host_dst, c->src->ptr + c->src_offset,
                              (size_t)c->size, s->cu);
      return cu_check(s->dev->ctx, r, "cuMemcpyDtoHAsync");
    case CU_CMD_COPY:
      if (c->src == c->dst && c->src_offset != c->dst_offset &&
          c->src_offset < c->dst_offset + c->size &&
          c->dst_offset < c->src_offset + c->size)
        return copy_overlapping(s, c);
      r = cu->MemcpyDtoDAsync(c->dst->ptr + c->dst_offset,
                              c->src->ptr + c->src_offset, (size_t)c->size,
                              s->cu);
      return cu_check(s->dev->ctx, r, "cuMemcpyDtoDAsync");
    case CU_CMD_FILL:
      return fill_run(s, c);
    case CU_CMD_KERNEL:
      return cu_kernel_run(s, c);
    case CU_CMD_OP:
      return c->op_fn(s, &c->call);
    case CU_CMD_RECORD:
      r = cu->EventRecord(c->rec->ev, s->cu);
      cu_record_resolve(c->rec, cu_status(r));
      return cu_check(s->dev->ctx, r, "cuEventRecord");
    case CU_CMD_EVENT_WAIT:
      r = cu->StreamWaitEvent(s->cu, c->rec->ev, 0);
      return cu_check(s->dev->ctx, r, "cuStreamWaitEvent");
    default:
      return XHAL_ERROR_INTERNAL;
  }
}

/* ---------------------------------------------------------- host thread */

static xhal_status_t host_func_run(struct xhal_plugin_stream* s,
                                   const cu_cmd_t* c) {
  CUresult r = s->dev->ctx->cu.StreamSynchronize(s->cu);
  if (r != CUDA_SUCCESS) return cu_status(r);
  return c->fn(c->user_data);
}

static void deferred_run(struct xhal_plugin_stream* s, cu_cmd_t* c) {
  xhal_status_t failed = failed_status(s);
  xhal_status_t status = XHAL_OK;
  switch (c->kind) {
    case CU_CMD_HOST_FUNC:
      if (!failed) status = host_func_run(s, c);
      break;
    case CU_CMD_WAIT:
      if (!failed) status = cu_record_wait(c->rec);
      break;
    case CU_CMD_RECORD:
      if (failed)
        cu_record_resolve(c->rec, failed);
      else
        status = run_cmd(s, c);
      break;
    default:
      if (!failed) status = run_cmd(s, c);
      break;
  }
  if (status != XHAL_OK) cu_stream_fail(s, status);
}

static void* host_thread(void* arg) {
  struct xhal_plugin_stream* s = arg;
  (void)cu_use(s->dev);
  pthread_mutex_lock(&s->mu);
  for (;;) {
    cu_cmd_t* c;
    while (s->head == NULL && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
    if (s->head == NULL) break;
    c = s->head;
    pthread_mutex_unlock(&s->mu);
    deferred_run(s, c);
    pthread_mutex_lock(&s->mu);
    s->head = c->next;
    if (s->head == NULL) s->tail = NULL;
    if (--s->inflight == 0) pthread_cond_broadcast(&s->idle_cv);
    pthread_mutex_unlock(&s->mu);
    cu_cmd_release(c);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* Queues a copy of `cmd` behind the host-thread jobs. s->mu held. */
static xhal_status_t defer(struct xhal_plugin_stream* s, const cu_cmd_t* cmd) {
  cu_cmd_t* c;
  if (!s->thread_started) {
    if (pthread_create(&s->thread, NULL, host_thread, s) != 0)
      return cu_error(s->dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                      "cuda: cannot start the stream's host thread");
    s->thread_started = 1;
  }
  c = cmd_clone(cmd);
  if (c == NULL)
    return cu_error(s->dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "cuda: out of memory queueing a command");
  if (s->tail)
    s->tail->next = c;
  else
    s->head = c;
  s->tail = c;
  s->inflight++;
  pthread_cond_signal(&s->cv);
  return XHAL_OK;
}

xhal_status_t cu_submit(struct xhal_plugin_stream* s, cu_cmd_t* cmd) {
  xhal_status_t status;
  xhal_status_t failed;
  pthread_mutex_lock(&s->mu);
  failed = failed_status(s);
  if (failed) {
    /* Later work of a failed stream is skipped; a recording completes
     * with the failure. */
    if (cmd->kind == CU_CMD_RECORD) cu_record_resolve(cmd->rec, failed);
    pthread_mutex_unlock(&s->mu);
    return XHAL_OK;
  }
  if (s->inflight > 0 || cmd->kind == CU_CMD_HOST_FUNC ||
      cmd->kind == CU_CMD_WAIT) {
    status = defer(s, cmd);
  } else {
    /* Driver calls act on the calling thread's current context. */
    status = cu_use(s->dev);
    if (status == XHAL_OK) status = run_cmd(s, cmd);
    if (status != XHAL_OK) cu_stream_fail(s, status);
  }
  pthread_mutex_unlock(&s->mu);
  return status;
}

/* Waits until the host thread has run every deferred job. */
static void drain(struct xhal_plugin_stream* s) {
  pthread_mutex_lock(&s->mu);
  while (s->inflight > 0) pthread_cond_wait(&s->idle_cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------ entries */

xhal_status_t cu_stream_create(xhal_plugin_device_t dev, uint32_t flags,
                               xhal_plugin_stream_t* out) {
  struct xhal_plugin_stream* s;
  xhal_status_t status;
  CUresult r;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out == NULL)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: stream_create: out_stream is NULL");
  *out = NULL;
  if (flags != 0)
    return cu_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: stream_create: unknown flags 0x%x", flags);
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                    "cuda: stream_create: out of memory");
  s->dev = dev;
  atomic_init(&s->failed, 0);
  if (pthread_mutex_init(&s->mu, NULL) != 0) goto no_sync;
  if (pthread_cond_init(&s->cv, NULL) != 0) {
    pthread_mutex_destroy(&s->mu);
    goto no_sync;
  }
  if (pthread_cond_init(&s->idle_cv, NULL) != 0) {
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    goto no_sync;
  }
  status = cu_use(dev);
  if (status == XHAL_OK) {
    r = dev->ctx->cu.StreamCreate(&s->cu, CU_STREAM_NON_BLOCKING);
    status = cu_check(dev->ctx, r, "cuStreamCreate");
  }
  if (status != XHAL_OK) {
    pthread_cond_destroy(&s->idle_cv);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return status;
  }
  *out = s;
  return XHAL_OK;
no_sync:
  free(s);
  return cu_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                  "cuda: stream_create: cannot create a mutex");
}

void cu_stream_destroy(xhal_plugin_stream_t s) {
  if (s == NULL) return;
  drain(s);
  if (s->thread_started) {
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
  }
  if (cu_use(s->dev) == XHAL_OK) {
    s->dev->ctx->cu.StreamSynchronize(s->cu);
    cu_ops_stream_release(s);
    s->dev->ctx->cu.StreamDestroy(s->cu);
  }
  pthread_cond_destroy(&s->idle_cv);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

xhal_status_t cu_stream_synchronize(xhal_plugin_stream_t s) {
  xhal_status_t failed;
  CUresult r;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  drain(s);
  if (cu_use(s->dev) != XHAL_OK) return XHAL_ERROR_DEVICE_LOST;
  r = s->dev->ctx->cu.StreamSynchronize(s->cu);
  failed = failed_status(s);
  if (failed)
    return cu_error(s->dev->ctx, failed,
                    "cuda: stream_synchronize: work of the stream failed");
  if (r != CUDA_SUCCESS) {
    cu_stream_fail(s, cu_status(r));
    return cu_check(s->dev->ctx, r, "cuStreamSynchronize");
  }
  return XHAL_OK;
}

static xhal_status_t range_check(struct xhal_plugin_stream* s,
                                 const struct xhal_plugin_buffer* b,
                                 uint64_t offset, uint64_t size,
                                 const char* entry, const char* what) {
  uint64_t end;
  if (__builtin_add_overflow(offset, size, &end) || end > b->size)
    return cu_error(s->dev->ctx, XHAL_ERROR_OUT_OF_RANGE,
                    "cuda: %s: %s range [%llu, +%llu) past the buffer's %llu "
                    "bytes",
                    entry, what, (unsigned long long)offset,
                    (unsigned long long)size, (unsigned long long)b->size);
  return XHAL_OK;
}

xhal_status_t cu_enqueue_write(xhal_plugin_stream_t s, xhal_plugin_buffer_t dst,
                               uint64_t dst_offset, const void* src,
                               uint64_t size) {
  cu_cmd_t cmd;
  xhal_status_t status;
  if (s == NULL || dst == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (src == NULL && size != 0)
    return cu_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: enqueue_write: src is NULL");
  status = range_check(s, dst, dst_offset, size, "enqueue_write", "dst");
  if (status != XHAL_OK || size == 0) return status;
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = CU_CMD_WRITE;
  cmd.dst = dst;
  cmd.dst_offset = dst_offset;
  cmd.host_src = src;
  cmd.size = size;
  return cu_submit(s, &cmd);
}

xhal_status_t cu_enqueue_read(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                              uint64_t src_offset, void* dst, uint64_t size) {
  cu_cmd_t cmd;
  xhal_status_t status;
  if (s == NULL || src == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (dst == NULL && size != 0)
    return cu_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: enqueue_read: dst is NULL");
  status = range_check(s, src, src_offset, size, "enqueue_read", "src");
  if (status != XHAL_OK || size == 0) return status;
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = CU_CMD_READ;
  cmd.src = src;
  cmd.src_offset = src_offset;
  cmd.host_dst = dst;
  cmd.size = size;
  return cu_submit(s, &cmd);
}

xhal_status_t cu_enqueue_copy(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                              uint64_t src_offset, xhal_plugin_buffer_t dst,
                              uint64_t dst_offset, uint64_t size) {
  cu_cmd_t cmd;
  xhal_status_t status;
  if (s == NULL || src == NULL || dst == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = range_check(s, src, src_offset, size, "enqueue_copy", "src");
  if (status == XHAL_OK)
    status = range_check(s, dst, dst_offset, size, "enqueue_copy", "dst");
  if (status != XHAL_OK || size == 0) return status;
  if (src->dev != s->dev || dst->dev != s->dev)
    return cu_error(s->dev->ctx, XHAL_ERROR_UNSUPPORTED,
                    "cuda: enqueue_copy: buffers of another device (no peer "
                    "copy)");
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = CU_CMD_COPY;
  cmd.src = src;
  cmd.src_offset = src_offset;
  cmd.dst = dst;
  cmd.dst_offset = dst_offset;
  cmd.size = size;
  return cu_submit(s, &cmd);
}

xhal_status_t cu_enqueue_fill(xhal_plugin_stream_t s, xhal_plugin_buffer_t dst,
                              uint64_t offset, uint64_t size,
                              const void* pattern, uint32_t pattern_size) {
  cu_cmd_t cmd;
  xhal_status_t status;
  if (s == NULL || dst == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (pattern == NULL)
    return cu_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: enqueue_fill: pattern is NULL");
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4)
    return cu_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: enqueue_fill: pattern_size %u is not 1, 2 or 4",
                    pattern_size);
  if (size % pattern_size != 0)
    return cu_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: enqueue_fill: size %llu is not a multiple of the "
                    "pattern size %u",
                    (unsigned long long)size, pattern_size);
  status = range_check(s, dst, offset, size, "enqueue_fill", "dst");
  if (status != XHAL_OK || size == 0) return status;
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = CU_CMD_FILL;
  cmd.dst = dst;
  cmd.dst_offset = offset;
  cmd.size = size;
  memcpy(cmd.pattern, pattern, pattern_size);
  cmd.pattern_size = pattern_size;
  return cu_submit(s, &cmd);
}

xhal_status_t cu_enqueue_host_func(xhal_plugin_stream_t s, xhal_host_func_t fn,
                                   void* user_data) {
  cu_cmd_t cmd;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (fn == NULL)
    return cu_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: enqueue_host_func: fn is NULL");
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = CU_CMD_HOST_FUNC;
  cmd.fn = fn;
  cmd.user_data = user_data;
  return cu_submit(s, &cmd);
}
