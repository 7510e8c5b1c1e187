/*
 * ocl_stream.c - streams (in-order command queues), their failure record,
 * and the transfers: write, read, copy, fill.
 *
 * Transfers are non-blocking: the ABI keeps host memory valid until the
 * operation completes in stream order, which is exactly what OpenCL asks
 * of non-blocking reads and writes. Once a stream has failed, later
 * enqueues are skipped (they return XHAL_OK; the failure is reported by
 * stream_synchronize and by every event recorded after it). Behind a
 * pending host job, transfers are deferred (ocl_hostfn.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

/* -------------------------------------------------------- failure record */

static ocl_fail_t* fail_new(void) {
  ocl_fail_t* f = calloc(1, sizeof(*f));
  if (f == NULL) return NULL;
  if (pthread_mutex_init(&f->mu, NULL) != 0) {
    free(f);
    return NULL;
  }
  atomic_init(&f->refs, 1);
  atomic_init(&f->failed, 0);
  f->point = UINT64_MAX;
  f->status = XHAL_OK;
  return f;
}

void ocl_fail_release(ocl_fail_t* f) {
  if (f == NULL) return;
  if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) return;
  pthread_mutex_destroy(&f->mu);
  free(f);
}

void ocl_fail_set(ocl_fail_t* f, uint64_t point, xhal_status_t status,
                  const char* cause) {
  pthread_mutex_lock(&f->mu);
  if (f->status == XHAL_OK || point < f->point) {
    f->point = point;
    f->status = status;
    snprintf(f->cause, sizeof(f->cause), "%s", cause);
  }
  atomic_store_explicit(&f->failed, 1, memory_order_release);
  pthread_mutex_unlock(&f->mu);
}

xhal_status_t ocl_fail_check(ocl_fail_t* f, uint64_t seq) {
  xhal_status_t status = XHAL_OK;
  if (!atomic_load_explicit(&f->failed, memory_order_acquire)) return XHAL_OK;
  pthread_mutex_lock(&f->mu);
  if (f->point < seq) status = f->status;
  pthread_mutex_unlock(&f->mu);
  return status;
}

void ocl_fail_cause(ocl_fail_t* f, char* buf, size_t size) {
  pthread_mutex_lock(&f->mu);
  snprintf(buf, size, "%s",
           f->status != XHAL_OK ? f->cause : "no failure was recorded");
  pthread_mutex_unlock(&f->mu);
}

static xhal_status_t fail_status(ocl_fail_t* f) {
  xhal_status_t status;
  pthread_mutex_lock(&f->mu);
  status = f->status;
  pthread_mutex_unlock(&f->mu);
  return status;
}

/* ------------------------------------------------------------ streams */

xhal_status_t ocl_stream_create(xhal_plugin_device_t dev, uint32_t flags,
                                xhal_plugin_stream_t* out) {
  struct xhal_plugin_stream* s;
  cl_int err = CL_SUCCESS;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: stream_create: out_stream is NULL");
  *out = NULL;
  if (flags & ~(uint32_t)XHAL_STREAM_NO_TIMING)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: stream_create: unknown flags 0x%x",
                     flags & ~(uint32_t)XHAL_STREAM_NO_TIMING);
  s = calloc(1, sizeof(*s));
  if (s == NULL) goto no_memory;
  s->dev = dev;
  s->fail = fail_new();
  if (s->fail == NULL) goto no_memory_free;
  if (pthread_mutex_init(&s->mu, NULL) != 0) goto no_memory_fail;
  if (pthread_cond_init(&s->cv, NULL) != 0) goto no_memory_mutex;
  if (pthread_cond_init(&s->idle_cv, NULL) != 0) goto no_memory_cv;
  atomic_init(&s->seq, 0);
  atomic_init(&s->inflight, 0);
  /* Without timestamps a queue skips the profiling bookkeeping that the
   * device does per command (PoCL: about 0.1 us per launch). */
  s->queue_props = dev->queue_props;
  if (flags & XHAL_STREAM_NO_TIMING)
    s->queue_props &= ~(cl_command_queue_properties)CL_QUEUE_PROFILING_ENABLE;
  s->queue =
      clCreateCommandQueue(dev->context, dev->info->id, s->queue_props, &err);
  if (s->queue == NULL || err != CL_SUCCESS) {
    pthread_cond_destroy(&s->idle_cv);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    ocl_fail_release(s->fail);
    free(s);
    return ocl_cl_error(dev->ctx, err, "clCreateCommandQueue");
  }
  *out = s;
  return XHAL_OK;

no_memory_cv:
  pthread_cond_destroy(&s->cv);
no_memory_mutex:
  pthread_mutex_destroy(&s->mu);
no_memory_fail:
  ocl_fail_release(s->fail);
no_memory_free:
  free(s);
no_memory:
  return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                   "opencl: stream_create: out of host memory");
}

void ocl_stream_destroy(xhal_plugin_stream_t s) {
  if (s == NULL) return;
  /* Host jobs first: work deferred behind them reaches the queue only
   * through the host thread (R-STR-10: pending work completes). */
  ocl_hostfn_shutdown(s);
  clFinish(s->queue);
  clReleaseCommandQueue(s->queue);
  pthread_cond_destroy(&s->idle_cv);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  ocl_fail_release(s->fail);
  free(s);
}

xhal_status_t ocl_stream_flush(xhal_plugin_stream_t s) {
  cl_int err;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  err = clFlush(s->queue);
  if (err != CL_SUCCESS) return ocl_cl_error(s->dev->ctx, err, "clFlush");
  return XHAL_OK;
}

xhal_status_t ocl_stream_synchronize(xhal_plugin_stream_t s) {
  cl_int err;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  /* Deferred work reaches the queue only through the host thread. */
  ocl_hostfn_drain(s);
  err = clFinish(s->queue);
  if (err != CL_SUCCESS) {
    /* clFinish reports work that failed on the device (NVIDIA says
     * CL_OUT_OF_RESOURCES for a faulting kernel): the stream failed. */
    char cause[96];
    snprintf(cause, sizeof(cause),
             "work failed on the device: clFinish returned %s",
             ocl_cl_error_name(err));
    ocl_fail_set(s->fail, atomic_load(&s->seq), XHAL_ERROR_EXECUTION_FAILED,
                 cause);
  }
  if (ocl_stream_failed(s)) {
    char cause[256];
    xhal_status_t status = fail_status(s->fail);
    ocl_fail_cause(s->fail, cause, sizeof(cause));
    return ocl_error(s->dev->ctx, status,
                     "opencl: %s; the stream's later work was skipped", cause);
  }
  return XHAL_OK;
}

/* ---------------------------------------------------------- transfers */

static xhal_status_t range_check(const struct xhal_plugin_stream* s,
                                 const struct xhal_plugin_buffer* b,
                                 uint64_t offset, uint64_t size,
                                 const char* call, const char* which) {
  if (b->dev->context != s->dev->context)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: %s: %s buffer belongs to another device", call,
                     which);
  if (offset > b->size || size > b->size - offset)
    return ocl_error(s->dev->ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "opencl: %s: %s range [%llu, +%llu) outside the "
                     "%llu-byte buffer",
                     call, which, (unsigned long long)offset,
                     (unsigned long long)size, (unsigned long long)b->size);
  return XHAL_OK;
}

static xhal_status_t copy_now(struct xhal_plugin_stream* s,
                              struct xhal_plugin_buffer* src,
                              uint64_t src_offset,
                              struct xhal_plugin_buffer* dst,
                              uint64_t dst_offset, uint64_t size);
static xhal_status_t fill_now(struct xhal_plugin_stream* s,
                              struct xhal_plugin_buffer* dst, uint64_t offset,
                              uint64_t size, const uint8_t* p,
                              uint32_t pattern_size);

xhal_status_t ocl_transfer_run(struct xhal_plugin_stream* s,
                               const ocl_cmd_t* cmd) {
  cl_int err = CL_SUCCESS;
  switch (cmd->kind) {
    case OCL_CMD_WRITE:
      err = clEnqueueWriteBuffer(s->queue, cmd->dst->mem, CL_FALSE,
                                 (size_t)cmd->dst_offset, (size_t)cmd->size,
                                 cmd->host_src, 0, NULL, NULL);
      if (err != CL_SUCCESS)
        return ocl_cl_error(s->dev->ctx, err, "clEnqueueWriteBuffer");
      return XHAL_OK;
    case OCL_CMD_READ:
      err = clEnqueueReadBuffer(s->queue, cmd->src->mem, CL_FALSE,
                                (size_t)cmd->src_offset, (size_t)cmd->size,
                                cmd->host_dst, 0, NULL, NULL);
      if (err != CL_SUCCESS)
        return ocl_cl_error(s->dev->ctx, err, "clEnqueueReadBuffer");
      return XHAL_OK;
    case OCL_CMD_COPY:
      return copy_now(s, cmd->src, cmd->src_offset, cmd->dst, cmd->dst_offset,
                      cmd->size);
    case OCL_CMD_FILL:
      return fill_now(s, cmd->dst, cmd->dst_offset, cmd->size, cmd->pattern,
                      cmd->pattern_size);
    default:
      return ocl_error(s->dev->ctx, XHAL_ERROR_INTERNAL,
                       "opencl: not a transfer: command kind %d",
                       (int)cmd->kind);
  }
}

/* Gives a transfer to OpenCL now, or defers it behind the stream's
 * host-thread jobs with references to its buffers. */
static xhal_status_t submit(struct xhal_plugin_stream* s, ocl_cmd_t* cmd) {
  xhal_status_t status;
  if (ocl_submit_begin(s)) {
    if (cmd->src != NULL) ocl_buffer_retain(cmd->src);
    if (cmd->dst != NULL) ocl_buffer_retain(cmd->dst);
    status = ocl_submit_defer(s, cmd);
    if (status != XHAL_OK) ocl_cmd_release(cmd);
  } else {
    status = ocl_transfer_run(s, cmd);
  }
  ocl_submit_end(s);
  return status;
}

xhal_status_t ocl_enqueue_write(xhal_plugin_stream_t s,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size) {
  ocl_cmd_t cmd;
  xhal_status_t status;
  if (s == NULL || dst == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (src == NULL && size != 0)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_write: src is NULL");
  status = range_check(s, dst, dst_offset, size, "enqueue_write", "dst");
  if (status != XHAL_OK || size == 0 || ocl_stream_failed(s)) return status;
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = OCL_CMD_WRITE;
  cmd.dst = dst;
  cmd.dst_offset = dst_offset;
  cmd.host_src = src;
  cmd.size = size;
  return submit(s, &cmd);
}

xhal_status_t ocl_enqueue_read(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, void* dst, uint64_t size) {
  ocl_cmd_t cmd;
  xhal_status_t status;
  if (s == NULL || src == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (dst == NULL && size != 0)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_read: dst is NULL");
  status = range_check(s, src, src_offset, size, "enqueue_read", "src");
  if (status != XHAL_OK || size == 0 || ocl_stream_failed(s)) return status;
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = OCL_CMD_READ;
  cmd.src = src;
  cmd.src_offset = src_offset;
  cmd.host_dst = dst;
  cmd.size = size;
  return submit(s, &cmd);
}

/* An overlapping copy within one buffer, which clEnqueueCopyBuffer
 * refuses (CL_MEM_COPY_OVERLAP): staged through a temporary buffer, with
 * memmove semantics. The temporary is released at once; OpenCL keeps it
 * alive until the copies that use it complete. */
static xhal_status_t copy_overlapping(struct xhal_plugin_stream* s,
                                      struct xhal_plugin_buffer* b,
                                      uint64_t src_offset, uint64_t dst_offset,
                                      uint64_t size) {
  cl_int err = CL_SUCCESS;
  cl_mem tmp = clCreateBuffer(s->dev->context, CL_MEM_READ_WRITE, (size_t)size,
                              NULL, &err);
  if (tmp == NULL || err != CL_SUCCESS)
    return ocl_cl_error(s->dev->ctx, err, "clCreateBuffer");
  err = clEnqueueCopyBuffer(s->queue, b->mem, tmp, (size_t)src_offset, 0,
                            (size_t)size, 0, NULL, NULL);
  if (err == CL_SUCCESS)
    err = clEnqueueCopyBuffer(s->queue, tmp, b->mem, 0, (size_t)dst_offset,
                              (size_t)size, 0, NULL, NULL);
  clReleaseMemObject(tmp);
  if (err != CL_SUCCESS)
    return ocl_cl_error(s->dev->ctx, err, "clEnqueueCopyBuffer");
  return XHAL_OK;
}

xhal_status_t ocl_enqueue_copy(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, xhal_plugin_buffer_t dst,
                               uint64_t dst_offset, uint64_t size) {
  ocl_cmd_t cmd;
  xhal_status_t status;
  if (s == NULL || src == NULL || dst == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = range_check(s, src, src_offset, size, "enqueue_copy", "src");
  if (status == XHAL_OK)
    status = range_check(s, dst, dst_offset, size, "enqueue_copy", "dst");
  if (status != XHAL_OK || size == 0 || ocl_stream_failed(s)) return status;
  if (src == dst && src_offset == dst_offset) return XHAL_OK;
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = OCL_CMD_COPY;
  cmd.src = src;
  cmd.src_offset = src_offset;
  cmd.dst = dst;
  cmd.dst_offset = dst_offset;
  cmd.size = size;
  return submit(s, &cmd);
}

static xhal_status_t copy_now(struct xhal_plugin_stream* s,
                              struct xhal_plugin_buffer* src,
                              uint64_t src_offset,
                              struct xhal_plugin_buffer* dst,
                              uint64_t dst_offset, uint64_t size) {
  cl_int err;
  if (src == dst && src_offset < dst_offset + size &&
      dst_offset < src_offset + size)
    return copy_overlapping(s, src, src_offset, dst_offset, size);
  err = clEnqueueCopyBuffer(s->queue, src->mem, dst->mem, (size_t)src_offset,
                            (size_t)dst_offset, (size_t)size, 0, NULL, NULL);
  if (err != CL_SUCCESS)
    return ocl_cl_error(s->dev->ctx, err, "clEnqueueCopyBuffer");
  return XHAL_OK;
}

static cl_int fill_bytes(struct xhal_plugin_stream* s, cl_mem mem,
                         uint64_t offset, uint64_t size, const uint8_t* pattern,
                         uint32_t pattern_size, uint64_t phase_origin) {
  uint64_t i;
  cl_int err = CL_SUCCESS;
  for (i = 0; i < size && err == CL_SUCCESS; ++i) {
    uint8_t byte = pattern[(offset + i - phase_origin) % pattern_size];
    err = clEnqueueFillBuffer(s->queue, mem, &byte, 1, (size_t)(offset + i), 1,
                              0, NULL, NULL);
  }
  return err;
}

xhal_status_t ocl_enqueue_fill(xhal_plugin_stream_t s, xhal_plugin_buffer_t dst,
                               uint64_t offset, uint64_t size,
                               const void* pattern, uint32_t pattern_size) {
  ocl_cmd_t cmd;
  xhal_status_t status;
  if (s == NULL || dst == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (pattern == NULL ||
      (pattern_size != 1 && pattern_size != 2 && pattern_size != 4) ||
      size % pattern_size != 0)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_fill: pattern %p of %u bytes for %llu "
                     "bytes",
                     pattern, pattern_size, (unsigned long long)size);
  status = range_check(s, dst, offset, size, "enqueue_fill", "dst");
  if (status != XHAL_OK || size == 0 || ocl_stream_failed(s)) return status;
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = OCL_CMD_FILL;
  cmd.dst = dst;
  cmd.dst_offset = offset;
  cmd.size = size;
  memcpy(cmd.pattern, pattern, pattern_size);
  cmd.pattern_size = pattern_size;
  return submit(s, &cmd);
}

static xhal_status_t fill_now(struct xhal_plugin_stream* s,
                              struct xhal_plugin_buffer* dst, uint64_t offset,
                              uint64_t size, const uint8_t* p,
                              uint32_t pattern_size) {
  uint8_t rotated[4];
  uint64_t head;
  uint64_t body;
  uint64_t r;
  uint32_t j;
  cl_int err;
  r = offset % pattern_size;
  if (r == 0) {
    err = clEnqueueFillBuffer(s->queue, dst->mem, p, pattern_size,
                              (size_t)offset, (size_t)size, 0, NULL, NULL);
    if (err != CL_SUCCESS)
      return ocl_cl_error(s->dev->ctx, err, "clEnqueueFillBuffer");
    return XHAL_OK;
  }
  /* OpenCL wants the offset to be a multiple of the pattern size, while
   * the ABI repeats the pattern from `offset`. Fill the aligned middle
   * with the pattern rotated to absolute alignment, and the few bytes
   * before and after it one by one. */
  head = pattern_size - r;
  if (head > size) head = size;
  body = (size - head) - (size - head) % pattern_size;
  for (j = 0; j < pattern_size; ++j)
    rotated[j] = p[(j + pattern_size - (uint32_t)r) % pattern_size];
  err = fill_bytes(s, dst->mem, offset, head, p, pattern_size, offset);
  if (err == CL_SUCCESS && body > 0)
    err = clEnqueueFillBuffer(s->queue, dst->mem, rotated, pattern_size,
                              (size_t)(offset + head), (size_t)body, 0, NULL,
                              NULL);
  if (err == CL_SUCCESS)
    err = fill_bytes(s, dst->mem, offset + head + body, size - head - body, p,
                     pattern_size, offset);
  if (err != CL_SUCCESS)
    return ocl_cl_error(s->dev->ctx, err, "clEnqueueFillBuffer");
  return XHAL_OK;
}
