/*
 * cpu_stream.c - streams: an in-order command ring drained by one worker
 * thread per stream, and every enqueue entry that fills it.
 *
 * The ring is single-producer / single-consumer. The host serialises
 * enqueues on one stream (R-THR), so the enqueuing thread is the only
 * producer; the stream's worker is the only consumer. Sequence numbers
 * are 64-bit and never wrap in practice; slot = seq & mask.
 *
 *   producer: fill slot[seq & mask], then publish its `ready` = seq + 1,
 *             then signal work_cv only if the worker parked.
 *   worker:   wait until slot[tail & mask].ready == tail + 1, execute,
 *             publish tail, then wake synchronizers only if one parked on
 *             a tail it reached.
 *
 * The worker polls the slot it needs next instead of a shared head index,
 * so handing a small command to an awake worker moves one cache line, and
 * an enqueue is a slot write plus one store: no allocation, no lock, no
 * syscall, not even a locked instruction. Each "publish, then look at the
 * other side's parked flag" pairs with the parker's "set parked flag,
 * fence, re-check" under the mutex (cpu_fence.h), so no wake-up is lost.
 *
 * Workers spin ctx->spin_ns after their last command, then park on
 * work_cv; synchronizers spin the same budget on `tail`, then park on
 * done_cv (cpu_spin.h says why).
 *
 * The ring grows only when full: the producer copies the live slots into
 * a ring twice the size and publishes the new ring pointer; later
 * commands go only to the new ring, and the worker re-reads the ring
 * pointer while it polls, so it follows. The old ring is kept (not freed)
 * until the stream is destroyed because the worker may still be reading a
 * slot in it; rings double, so the kept ones add up to less than the live
 * one.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_fence.h"
#include "cpu_internal.h"
#include "cpu_spin.h"

/* Slots of a new stream's ring: enough for typical bursts of launches
 * between two synchronisations without ever growing. */
#define CPU_RING_INITIAL_SLOTS 64u

typedef struct cpu_ring {
  struct cpu_ring* retired_next; /* older rings kept until destroy */
  uint64_t mask;
  cpu_cmd_t slots[];
} cpu_ring_t;

/* Fields are grouped by which thread writes them, one 128-byte block per
 * group (CPU_FALSE_SHARING_BYTES), so the producer's per-enqueue stores
 * and the worker's per-command stores never invalidate a line the other
 * side polls. */
struct xhal_plugin_stream {
  /* Written by the producer on every enqueue; read by synchronizers
   * (normally the same thread). */
  _Alignas(CPU_FALSE_SHARING_BYTES) cpu_ring_t* prod_ring;
  uint64_t prod_seq;   /* sequence number of the next slot to fill */
  uint64_t tail_cache; /* a tail seen earlier, to avoid reading the
                          worker's line on every enqueue */
  cpu_ring_t* retired;
  _Atomic uint64_t head; /* prod_seq, for synchronizers on other threads */

  /* Read on every command or enqueue, written rarely. */
  _Alignas(CPU_FALSE_SHARING_BYTES) struct xhal_plugin_context* ctx;
  _Atomic(cpu_ring_t*) ring; /* changes when the ring grows */
  _Atomic uint32_t worker_parked;
  _Atomic uint32_t stop;
  /* ctx->streams links and drain pins, guarded by ctx->streams_mu. */
  struct xhal_plugin_stream* prev;
  struct xhal_plugin_stream* next;
  uint32_t pins;

  /* Written by the worker after every command. */
  _Alignas(CPU_FALSE_SHARING_BYTES) _Atomic uint64_t tail;
  _Atomic int32_t status; /* first failure, sticky */
  /* Cause of the first failure: written by the worker before it
   * publishes the status (release), read after an acquire of it. */
  char failure[CPU_FAILURE_MAX];
  /* The smallest tail some parked synchronizer waits for (UINT64_MAX:
   * none parked). */
  _Atomic uint64_t wake_at;

  _Alignas(CPU_FALSE_SHARING_BYTES) pthread_mutex_t mu;
  pthread_cond_t work_cv; /* the worker parks here */
  pthread_cond_t done_cv; /* synchronizers park here */
  pthread_t worker;
};

/* -------------------------------------------------------------- ring */

static cpu_ring_t* ring_alloc(uint64_t slots) {
  void* mem = NULL;
  uint64_t bytes;
  uint64_t i;
  cpu_ring_t* ring;
  if (__builtin_mul_overflow(slots, (uint64_t)sizeof(cpu_cmd_t), &bytes) ||
      __builtin_add_overflow(bytes, (uint64_t)offsetof(cpu_ring_t, slots),
                             &bytes) ||
      bytes > SIZE_MAX)
    return NULL;
  if (posix_memalign(&mem, CPU_FALSE_SHARING_BYTES, (size_t)bytes) != 0)
    return NULL;
  ring = mem;
  ring->retired_next = NULL;
  ring->mask = slots - 1;
  /* 0 never matches a wanted sequence number + 1. */
  for (i = 0; i < slots; ++i) atomic_init(&ring->slots[i].ready, 0);
  return ring;
}

static void ring_free_all(cpu_ring_t* ring) {
  while (ring != NULL) {
    cpu_ring_t* next = ring->retired_next;
    free(ring);
    ring = next;
  }
}

/* Doubles the ring; called by the producer when it is full. The live
 * slots keep their `ready` values, so the worker finds them in either
 * ring. */
static cpu_ring_t* stream_grow(struct xhal_plugin_stream* s) {
  cpu_ring_t* old = s->prod_ring;
  uint64_t slots;
  uint64_t seq;
  cpu_ring_t* ring;
  if (__builtin_mul_overflow(old->mask + 1, (uint64_t)2, &slots)) return NULL;
  ring = ring_alloc(slots);
  if (ring == NULL) return NULL;
  for (seq = s->tail_cache; seq != s->prod_seq; ++seq) {
    cpu_cmd_t* to = &ring->slots[seq & ring->mask];
    const cpu_cmd_t* from = &old->slots[seq & old->mask];
    to->kind = from->kind;
    to->u = from->u;
    if (from->kind == CPU_CMD_OP)
      memcpy(to->op_packed, from->op_packed, sizeof(to->op_packed));
    atomic_store_explicit(&to->ready, seq + 1, memory_order_relaxed);
  }
  old->retired_next = s->retired;
  s->retired = old;
  s->prod_ring = ring;
  atomic_store_explicit(&s->ring, ring, memory_order_release);
  return ring;
}

/* The slot for the next command, or NULL when the ring is full and cannot
 * grow. Nothing is visible to the worker until stream_publish(). */
static cpu_cmd_t* stream_reserve(struct xhal_plugin_stream* s) {
  cpu_ring_t* ring = s->prod_ring;
  if (s->prod_seq - s->tail_cache > ring->mask) {
    s->tail_cache = atomic_load_explicit(&s->tail, memory_order_acquire);
    if (s->prod_seq - s->tail_cache > ring->mask) {
      ring = stream_grow(s);
      if (ring == NULL) return NULL;
    }
  }
  return &ring->slots[s->prod_seq & ring->mask];
}

/* Makes the command in `cmd` (from stream_reserve) visible to the worker. */
static void stream_publish(struct xhal_plugin_stream* s, cpu_cmd_t* cmd) {
  uint64_t seq = ++s->prod_seq;
  int asymmetric = s->ctx->asymmetric_fence;
  cpu_publish_u64(&cmd->ready, seq, asymmetric);
  atomic_store_explicit(&s->head, seq, memory_order_release);
  if (cpu_peek_u32(&s->worker_parked, asymmetric) != 0) {
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
  }
}

static xhal_status_t stream_full(struct xhal_plugin_stream* s,
                                 const char* entry) {
  return cpu_error(s->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                   "cpu: %s: the command ring is full and cannot grow", entry);
}

/* ------------------------------------------------------------ worker */

/* The command with sequence number `seq` once it is published, else NULL.
 * The ring pointer is re-read so that a ring that grew is followed. */
static const cpu_cmd_t* stream_ready(struct xhal_plugin_stream* s,
                                     uint64_t seq) {
  cpu_ring_t* ring = atomic_load_explicit(&s->ring, memory_order_acquire);
  const cpu_cmd_t* cmd = &ring->slots[seq & ring->mask];
  /* An operator's descriptors start on the slot's second line: ask for it
   * while polling the first, so that both arrive together instead of one
   * after the other once the command is seen. */
  __builtin_prefetch(cmd->op_packed);
  if (atomic_load(&cmd->ready) != seq + 1) return NULL;
  return cmd;
}

/* Wakes every parked synchronizer; they re-register what they still wait
 * for. */
static void stream_wake_synchronizers(struct xhal_plugin_stream* s) {
  pthread_mutex_lock(&s->mu);
  atomic_store(&s->wake_at, UINT64_MAX);
  pthread_cond_broadcast(&s->done_cv);
  pthread_mutex_unlock(&s->mu);
}

/* Waits for command `seq`. Returns NULL when the stream stops with an
 * empty ring. */
static const cpu_cmd_t* stream_idle(struct xhal_plugin_stream* s,
                                    uint64_t seq) {
  cpu_spinner_t spinner;
  const cpu_cmd_t* cmd;
  cpu_spinner_init(&spinner, s->ctx->spin_ns);
  while ((cmd = stream_ready(s, seq)) == NULL) {
    if (atomic_load_explicit(&s->stop, memory_order_acquire)) return NULL;
    if (cpu_spinner_pause(&spinner)) continue;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->worker_parked, 1);
    cpu_fence_parker(s->ctx->asymmetric_fence);
    while (stream_ready(s, seq) == NULL && !atomic_load(&s->stop))
      pthread_cond_wait(&s->work_cv, &s->mu);
    atomic_store(&s->worker_parked, 0);
    pthread_mutex_unlock(&s->mu);
  }
  return cmd;
}

static void* stream_worker_main(void* arg) {
  struct xhal_plugin_stream* s = arg;
  struct xhal_plugin_context* ctx = s->ctx;
  int asymmetric = ctx->asymmetric_fence;
  uint64_t tail = 0;
  xhal_status_t status = XHAL_OK;
  for (;;) {
    const cpu_cmd_t* cmd = stream_ready(s, tail);
    xhal_status_t after;
    if (cmd == NULL) {
      cmd = stream_idle(s, tail);
      if (cmd == NULL) break;
    }
    after = cpu_cmd_execute(ctx, cmd, status, s->failure);
    if (after != status) {
      if (status == XHAL_OK)
        cpu_cmd_describe_failure(cmd, after, s->failure, sizeof(s->failure));
      status = after;
      atomic_store_explicit(&s->status, status, memory_order_release);
    }
    ++tail;
    cpu_publish_u64(&s->tail, tail, asymmetric);
    if (tail >= cpu_peek_u64(&s->wake_at, asymmetric))
      stream_wake_synchronizers(s);
  }
  return NULL;
}

/* Blocks until the worker has completed `target` commands. */
static void stream_wait_tail(struct xhal_plugin_stream* s, uint64_t target) {
  cpu_spinner_t spinner;
  cpu_spinner_init(&spinner, s->ctx->spin_ns);
  while (atomic_load_explicit(&s->tail, memory_order_acquire) < target) {
    if (cpu_spinner_pause(&spinner)) continue;
    pthread_mutex_lock(&s->mu);
    while (atomic_load(&s->tail) < target) {
      if (target < atomic_load(&s->wake_at)) atomic_store(&s->wake_at, target);
      cpu_fence_parker(s->ctx->asymmetric_fence);
      if (atomic_load(&s->tail) >= target) break;
      pthread_cond_wait(&s->done_cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
  }
}

/* ----------------------------------------------------- create/destroy */

xhal_status_t cpu_stream_create(xhal_plugin_device_t device, uint32_t flags,
                                xhal_plugin_stream_t* out_stream) {
  struct xhal_plugin_context* ctx;
  struct xhal_plugin_stream* s = NULL;
  void* mem = NULL;
  int have_mu = 0, have_work = 0, have_done = 0;
  xhal_status_t status = XHAL_ERROR_OUT_OF_MEMORY;
  if (device == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = device->ctx;
  if (out_stream == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: stream_create: out_stream is NULL");
  *out_stream = NULL;
  if (flags != 0)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: stream_create: unknown flags 0x%x", flags);
  if (posix_memalign(&mem, CPU_FALSE_SHARING_BYTES, sizeof(*s)) != 0)
    return cpu_error(ctx, status, "cpu: stream_create: no memory");
  s = mem;
  memset(s, 0, sizeof(*s));
  s->ctx = ctx;
  s->prod_ring = ring_alloc(CPU_RING_INITIAL_SLOTS);
  if (s->prod_ring == NULL) goto fail;
  atomic_init(&s->head, 0);
  atomic_init(&s->ring, s->prod_ring);
  atomic_init(&s->worker_parked, 0);
  atomic_init(&s->stop, 0);
  atomic_init(&s->tail, 0);
  atomic_init(&s->status, XHAL_OK);
  atomic_init(&s->wake_at, UINT64_MAX);
  have_mu = pthread_mutex_init(&s->mu, NULL) == 0;
  if (!have_mu) goto fail;
  have_work = pthread_cond_init(&s->work_cv, NULL) == 0;
  if (!have_work) goto fail;
  have_done = pthread_cond_init(&s->done_cv, NULL) == 0;
  if (!have_done) goto fail;
  if (pthread_create(&s->worker, NULL, stream_worker_main, s) != 0) goto fail;
  pthread_mutex_lock(&ctx->streams_mu);
  s->next = ctx->streams;
  if (ctx->streams != NULL) ctx->streams->prev = s;
  ctx->streams = s;
  pthread_mutex_unlock(&ctx->streams_mu);
  *out_stream = s;
  return XHAL_OK;

fail:
  if (have_done) pthread_cond_destroy(&s->done_cv);
  if (have_work) pthread_cond_destroy(&s->work_cv);
  if (have_mu) pthread_mutex_destroy(&s->mu);
  ring_free_all(s->prod_ring);
  free(s);
  return cpu_error(ctx, status,
                   "cpu: stream_create: cannot create the stream's ring, "
                   "locks or worker thread");
}

void cpu_stream_destroy(xhal_plugin_stream_t s) {
  struct xhal_plugin_context* ctx;
  if (s == NULL) return;
  ctx = s->ctx;
  stream_wait_tail(s, atomic_load(&s->head));
  /* A drain may still hold a pointer to this stream (it is done with it
   * as soon as it sees the tail we just waited for). */
  pthread_mutex_lock(&ctx->streams_mu);
  while (s->pins != 0) pthread_cond_wait(&ctx->streams_cv, &ctx->streams_mu);
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    ctx->streams = s->next;
  if (s->next != NULL) s->next->prev = s->prev;
  pthread_mutex_unlock(&ctx->streams_mu);
  atomic_store(&s->stop, 1);
  pthread_mutex_lock(&s->mu);
  pthread_cond_signal(&s->work_cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->worker, NULL);
  pthread_cond_destroy(&s->done_cv);
  pthread_cond_destroy(&s->work_cv);
  pthread_mutex_destroy(&s->mu);
  ring_free_all(s->prod_ring);
  ring_free_all(s->retired);
  free(s);
}

void cpu_streams_drain(struct xhal_plugin_context* ctx) {
  struct xhal_plugin_stream* s;
  pthread_mutex_lock(&ctx->streams_mu);
  for (s = ctx->streams; s != NULL; s = s->next) {
    uint64_t target = atomic_load(&s->head);
    /* A host function running on this stream's worker: everything before
     * it is done, nothing after it has started. */
    if (pthread_equal(s->worker, pthread_self()) ||
        atomic_load_explicit(&s->tail, memory_order_acquire) >= target)
      continue;
    /* Wait without the lock (other streams come and go meanwhile); the
     * pin keeps `s` linked, so s->next is valid afterwards. */
    s->pins++;
    pthread_mutex_unlock(&ctx->streams_mu);
    stream_wait_tail(s, target);
    pthread_mutex_lock(&ctx->streams_mu);
    s->pins--;
    pthread_cond_broadcast(&ctx->streams_cv);
  }
  pthread_mutex_unlock(&ctx->streams_mu);
}

/* Work is visible to the worker as soon as it is enqueued. */
xhal_status_t cpu_stream_flush(xhal_plugin_stream_t s) {
  return s == NULL ? XHAL_ERROR_INVALID_HANDLE : XHAL_OK;
}

xhal_status_t cpu_stream_synchronize(xhal_plugin_stream_t s) {
  xhal_status_t status;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  /* head, not prod_seq: the host may synchronise from a thread other than
   * the one enqueuing. */
  stream_wait_tail(s, atomic_load_explicit(&s->head, memory_order_acquire));
  status = atomic_load_explicit(&s->status, memory_order_acquire);
  if (status != XHAL_OK)
    return cpu_error(s->ctx, status,
                     "cpu: %s; the stream's later work was skipped",
                     s->failure);
  return XHAL_OK;
}

/* ---------------------------------------------------------- enqueues */

static xhal_status_t enqueue_memmove(struct xhal_plugin_stream* s,
                                     const char* entry, void* dst,
                                     const void* src, uint64_t size) {
  cpu_cmd_t* cmd;
  if (size == 0) return XHAL_OK;
  cmd = stream_reserve(s);
  if (cmd == NULL) return stream_full(s, entry);
  cmd->kind = CPU_CMD_COPY;
  cmd->u.copy.dst = dst;
  cmd->u.copy.src = src;
  cmd->u.copy.size = size;
  stream_publish(s, cmd);
  return XHAL_OK;
}

xhal_status_t cpu_enqueue_write(xhal_plugin_stream_t s,
                                xhal_plugin_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size) {
  xhal_status_t status;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = cpu_buffer_check_range(s->ctx, "enqueue_write", "dst", dst,
                                  dst_offset, size);
  if (status != XHAL_OK) return status;
  if (src == NULL && size != 0)
    return cpu_error(s->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_write: src is NULL");
  return enqueue_memmove(s, "enqueue_write", dst->base + dst_offset, src, size);
}

xhal_status_t cpu_enqueue_read(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, void* dst, uint64_t size) {
  xhal_status_t status;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = cpu_buffer_check_range(s->ctx, "enqueue_read", "src", src,
                                  src_offset, size);
  if (status != XHAL_OK) return status;
  if (dst == NULL && size != 0)
    return cpu_error(s->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_read: dst is NULL");
  return enqueue_memmove(s, "enqueue_read", dst, src->base + src_offset, size);
}

/* memmove semantics: src and dst ranges of one buffer may overlap. */
xhal_status_t cpu_enqueue_copy(xhal_plugin_stream_t s, xhal_plugin_buffer_t src,
                               uint64_t src_offset, xhal_plugin_buffer_t dst,
                               uint64_t dst_offset, uint64_t size) {
  xhal_status_t status;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  status = cpu_buffer_check_range(s->ctx, "enqueue_copy", "src", src,
                                  src_offset, size);
  if (status != XHAL_OK) return status;
  status = cpu_buffer_check_range(s->ctx, "enqueue_copy", "dst", dst,
                                  dst_offset, size);
  if (status != XHAL_OK) return status;
  return enqueue_memmove(s, "enqueue_copy", dst->base + dst_offset,
                         src->base + src_offset, size);
}

xhal_status_t cpu_enqueue_fill(xhal_plugin_stream_t s, xhal_plugin_buffer_t dst,
                               uint64_t offset, uint64_t size,
                               const void* pattern, uint32_t pattern_size) {
  xhal_status_t status;
  cpu_cmd_t* cmd;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (pattern == NULL)
    return cpu_error(s->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_fill: pattern is NULL");
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4)
    return cpu_error(s->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_fill: pattern_size %u is not 1, 2 or 4",
                     pattern_size);
  if (size % pattern_size != 0)
    return cpu_error(s->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_fill: size %llu is not a multiple of "
                     "pattern_size %u",
                     (unsigned long long)size, pattern_size);
  status =
      cpu_buffer_check_range(s->ctx, "enqueue_fill", "dst", dst, offset, size);
  if (status != XHAL_OK) return status;
  if (size == 0) return XHAL_OK;
  cmd = stream_reserve(s);
  if (cmd == NULL) return stream_full(s, "enqueue_fill");
  cmd->kind = CPU_CMD_FILL;
  cmd->u.fill.dst = dst->base + offset;
  cmd->u.fill.size = size;
  memcpy(cmd->u.fill.pattern, pattern, pattern_size);
  cmd->u.fill.pattern_size = pattern_size;
  stream_publish(s, cmd);
  return XHAL_OK;
}

xhal_status_t cpu_enqueue_host_func(xhal_plugin_stream_t s, xhal_host_func_t fn,
                                    void* user_data) {
  cpu_cmd_t* cmd;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (fn == NULL)
    return cpu_error(s->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_host_func: fn is NULL");
  cmd = stream_reserve(s);
  if (cmd == NULL) return stream_full(s, "enqueue_host_func");
  cmd->kind = CPU_CMD_HOST_FUNC;
  cmd->u.host_func.fn = fn;
  cmd->u.host_func.user_data = user_data;
  stream_publish(s, cmd);
  return XHAL_OK;
}

xhal_status_t cpu_event_record(xhal_plugin_event_t event,
                               xhal_plugin_stream_t s) {
  cpu_cmd_t* cmd;
  if (event == NULL || s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  /* Reserve before taking a generation: a record that cannot be enqueued
   * must not leave the event waiting for a generation that never runs. */
  cmd = stream_reserve(s);
  if (cmd == NULL) return stream_full(s, "event_record");
  cpu_event_retain(event);
  cmd->kind = CPU_CMD_EVENT_RECORD;
  cmd->u.event.event = event;
  cmd->u.event.gen = atomic_fetch_add(&event->record_gen, 1) + 1;
  stream_publish(s, cmd);
  return XHAL_OK;
}

xhal_status_t cpu_stream_wait_event(xhal_plugin_stream_t s,
                                    xhal_plugin_event_t event) {
  cpu_cmd_t* cmd;
  uint64_t gen;
  if (event == NULL || s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  gen = atomic_load_explicit(&event->record_gen, memory_order_acquire);
  if (gen == 0)
    return cpu_error(s->ctx, XHAL_ERROR_INVALID_STATE,
                     "cpu: stream_wait_event: the event was never recorded");
  /* Queued even when the event already completed: its status may be a
   * failure, which must fail this stream in order. */
  cmd = stream_reserve(s);
  if (cmd == NULL) return stream_full(s, "stream_wait_event");
  cpu_event_retain(event);
  cmd->kind = CPU_CMD_EVENT_WAIT;
  cmd->u.event.event = event;
  cmd->u.event.gen = gen;
  stream_publish(s, cmd);
  return XHAL_OK;
}

/* ----------------------------------------------------------- operators */

/* Resolves one operand to its host address after checking that its bytes
 * lie inside its buffer. `role` and `index` name it in errors. */
static xhal_status_t op_operand(struct xhal_plugin_context* ctx,
                                const xhal_plugin_tensor_t* t, const char* role,
                                uint32_t index, uint8_t** out_ptr,
                                uint64_t* out_numel) {
  uint64_t numel = 1;
  uint64_t bytes;
  uint64_t end;
  uint32_t esize = xhal_dtype_size(t->desc.dtype);
  uint32_t d;
  if (t->buffer == NULL)
    return cpu_error(ctx, XHAL_ERROR_INVALID_HANDLE,
                     "cpu: enqueue_op: %s %u has a NULL buffer", role, index);
  if (esize == 0)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_op: %s %u has unknown dtype %u", role, index,
                     t->desc.dtype);
  if (t->desc.rank > XHAL_MAX_RANK)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_op: %s %u has rank %u > %u", role, index,
                     t->desc.rank, XHAL_MAX_RANK);
  for (d = 0; d < t->desc.rank; ++d) {
    if (__builtin_mul_overflow(numel, t->desc.dims[d], &numel))
      return cpu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                       "cpu: enqueue_op: %s %u has too many elements", role,
                       index);
  }
  if (__builtin_mul_overflow(numel, (uint64_t)esize, &bytes) ||
      __builtin_add_overflow(t->offset, bytes, &end) || end > t->buffer->size)
    return cpu_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                     "cpu: enqueue_op: %s %u (offset %llu) runs past its "
                     "buffer of %llu bytes",
                     role, index, (unsigned long long)t->offset,
                     (unsigned long long)t->buffer->size);
  *out_ptr = t->buffer->base + t->offset;
  *out_numel = numel;
  return XHAL_OK;
}

xhal_status_t cpu_enqueue_op(void* user_data, xhal_plugin_stream_t s,
                             const xhal_plugin_op_call_t* call) {
  struct xhal_plugin_context* ctx;
  const void* inputs[XHAL_MAX_OP_INPUTS] = {NULL, NULL, NULL, NULL};
  uint8_t* output = NULL;
  uint64_t out_numel = 0;
  uint64_t numel;
  xhal_status_t status;
  cpu_cmd_t* cmd;
  uint32_t i;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = s->ctx;
  if (user_data != ctx)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_op: the implementation belongs to another "
                     "context than the stream");
  if (call == NULL || call->struct_size < sizeof(*call))
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_op: call is NULL or its struct_size is too "
                     "small");
  if (call->num_inputs > XHAL_MAX_OP_INPUTS || call->num_outputs != 1)
    return cpu_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "cpu: enqueue_op: %u inputs / %u outputs (at most %u "
                     "inputs and exactly 1 output)",
                     call->num_inputs, call->num_outputs, XHAL_MAX_OP_INPUTS);
  for (i = 0; i < call->num_inputs; ++i) {
    uint8_t* ptr = NULL;
    status = op_operand(ctx, &call->inputs[i], "input", i, &ptr, &numel);
    if (status != XHAL_OK) return status;
    inputs[i] = ptr;
  }
  status = op_operand(ctx, &call->outputs[0], "output", 0, &output, &out_numel);
  if (status != XHAL_OK) return status;

  cmd = stream_reserve(s);
  if (cmd == NULL) return stream_full(s, "enqueue_op");
  cmd->kind = CPU_CMD_OP;
  cmd->u.op.empty = out_numel == 0;
  /* An empty op only has to complete in order: leave the descriptor lines
   * alone so that the worker, which prefetches them, keeps its copy. */
  if (!cmd->u.op.empty) {
    cpu_op_pack(cmd, call);
    for (i = 0; i < XHAL_MAX_OP_INPUTS; ++i) cmd->u.op.inputs[i] = inputs[i];
    cmd->u.op.output = output;
  }
  stream_publish(s, cmd);
  return XHAL_OK;
}
