/*
 * suite_stream.c - streams: order of mixed work, synchronisation, flush,
 * many streams, asynchrony, independence, host functions, sticky
 * failure and streams without timestamps (docs/abi.md, R-STR-*).
 *
 * Where a test must see work that is provably still pending, it puts a
 * gate (a host function that blocks until the test opens it) in front of
 * that work; calls that might block on the gated work run on a helper
 * thread with a deadline, so a plugin that blocks fails the test instead
 * of hanging it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cts.h"

/* ------------------------------------------------------------- helpers */

/* Runs fn(arg) on a thread and waits up to timeout_ms for it. Returns 1
 * if it finished; 0 means it is still blocked (the test then fails; the
 * thread is left to the process's end). */
typedef struct bounded {
  void (*fn)(void*);
  void* arg;
  atomic_int done;
  pthread_t thread;
} bounded_t;

static void* bounded_main(void* p) {
  bounded_t* b = p;
  b->fn(b->arg);
  atomic_store(&b->done, 1);
  return NULL;
}

static int run_bounded(bounded_t* b, void (*fn)(void*), void* arg,
                       uint32_t timeout_ms) {
  b->fn = fn;
  b->arg = arg;
  atomic_init(&b->done, 0);
  if (pthread_create(&b->thread, NULL, bounded_main, b) != 0)
    cts_fail("cannot start a helper thread");
  uint64_t end = cts_now_ns() + (uint64_t)timeout_ms * 1000000ull;
  while (!atomic_load(&b->done) && cts_now_ns() < end) cts_sleep_ms(1);
  if (!atomic_load(&b->done)) return 0;
  pthread_join(b->thread, NULL);
  return 1;
}

typedef struct sleep_flag {
  uint32_t ms;
  atomic_int set;
} sleep_flag_t;

static xhal_status_t sleep_then_set(void* p) {
  sleep_flag_t* s = p;
  cts_sleep_ms(s->ms);
  atomic_store(&s->set, 1);
  return XHAL_OK;
}

/* ---------------------------------------------------------------- tests */

static void test_create_destroy_waits(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  enum { kSize = 4 << 20 };
  xhal_buffer_t buf = cts_buffer(ctx, dev, kSize, 0);
  uint8_t* data = cts_alloc(kSize);
  cts_rand_bytes(ctx, data, 4096);
  for (uint64_t i = 4096; i < kSize; ++i)
    data[i] = data[i % 4096] ^ (uint8_t)(i >> 12);
  xhal_stream_t stream = cts_stream(dev);
  sleep_flag_t flag = {50, 0};
  cts_ok(xhal_stream_enqueue_host_func(stream, sleep_then_set, &flag),
         "host function");
  cts_ok(xhal_stream_enqueue_write(stream, buf, 0, data, kSize), "write 4 MiB");
  cts_step("stream_destroy with pending work");
  xhal_stream_release(stream);
  cts_check(atomic_load(&flag.set),
            "stream_destroy returned before a pending host function ran");
  xhal_stream_t other = cts_stream(dev);
  uint8_t* back = cts_alloc(kSize);
  cts_read_sync(other, buf, 0, back, kSize);
  cts_check(memcmp(back, data, kSize) == 0,
            "a write pending at stream_destroy is not in the buffer (byte "
            "%llu)",
            (unsigned long long)cts_first_diff(back, data, kSize));
  free(back);
  free(data);
  xhal_stream_release(other);
  xhal_buffer_release(buf);
}

typedef struct order_rec {
  _Atomic uint32_t* next;
  uint32_t* order;
  uint32_t id;
} order_rec_t;

static xhal_status_t record_order(void* p) {
  order_rec_t* r = p;
  uint32_t slot = atomic_fetch_add(r->next, 1u);
  if (slot < 1024) r->order[slot] = r->id;
  return XHAL_OK;
}

/* A chain of writes, copies, fills, host functions and (when the plugin
 * has f32 add) operators on one stream, each reading what the previous
 * one left, checked against a host model of the same chain. */
static void test_in_order_mixed(cts_ctx_t* ctx) {
  enum { kSize = 4096, kSteps = 300, kFloats = 64 };
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, kSize, 0);
  xhal_buffer_t fbuf = cts_buffer(ctx, dev, kFloats * 4, 0);
  uint8_t model[kSize];
  float fmodel[kFloats];
  memset(model, 0, sizeof(model));
  memset(fmodel, 0, sizeof(fmodel));
  cts_ok(xhal_stream_enqueue_fill(stream, buf, 0, kSize, &model[0], 1),
         "zero fill");
  /* The source of a write must stay unchanged until the stream ran it,
   * and fmodel changes below before any synchronisation. */
  static const float zeros[kFloats];
  cts_ok(xhal_stream_enqueue_write(stream, fbuf, 0, zeros, sizeof(zeros)),
         "zero floats");
  /* An add over 16 floats if the registry has one on this device. */
  xhal_op_call_t add;
  xhal_op_call_init(&add, XHAL_OP_ADD);
  add.num_inputs = 2;
  for (int i = 0; i < 3; ++i) {
    xhal_tensor_t* t = i < 2 ? &add.inputs[i] : &add.outputs[0];
    t->desc.dtype = XHAL_DTYPE_F32;
    t->desc.rank = 1;
    t->desc.dims[0] = 16;
    t->buffer = fbuf;
    t->offset = (uint64_t)i * 64u;
  }
  xhal_op_impl_t impl = NULL;
  int have_add = xhal_registry_lookup(dev, &add, &impl) == XHAL_OK;
  /* Sources of writes must stay unchanged until the stream ran them. */
  uint8_t* sources = cts_alloc((uint64_t)kSteps * 64u);
  float* fsources = cts_alloc((uint64_t)kSteps * 16u * sizeof(float));
  _Atomic uint32_t next = 0;
  uint32_t order[1024];
  order_rec_t recs[kSteps];
  uint32_t host_funcs = 0;
  for (uint32_t step = 0; step < kSteps; ++step) {
    uint32_t kind = (uint32_t)cts_rand_range(ctx, 0, have_add ? 5 : 3);
    uint64_t size = cts_rand_range(ctx, 1, 64);
    uint64_t a = cts_rand_range(ctx, 0, kSize - size);
    uint64_t b = cts_rand_range(ctx, 0, kSize - size);
    if (kind == 0) {
      uint8_t* src = sources + (uint64_t)step * 64u;
      cts_rand_bytes(ctx, src, size);
      cts_ok(xhal_stream_enqueue_write(stream, buf, a, src, size),
             "step %u: write", step);
      memcpy(model + a, src, size);
    } else if (kind == 1) {
      cts_ok(xhal_stream_enqueue_copy(stream, buf, a, buf, b, size),
             "step %u: copy", step);
      memmove(model + b, model + a, size);
    } else if (kind == 2) {
      uint8_t value = (uint8_t)cts_rand(ctx);
      cts_ok(xhal_stream_enqueue_fill(stream, buf, a, size, &value, 1),
             "step %u: fill", step);
      memset(model + a, value, size);
    } else if (kind == 3) {
      recs[host_funcs].next = &next;
      recs[host_funcs].order = order;
      recs[host_funcs].id = host_funcs;
      cts_ok(xhal_stream_enqueue_host_func(stream, record_order,
                                           &recs[host_funcs]),
             "step %u: host function", step);
      ++host_funcs;
    } else if (kind == 4) {
      /* Small integers add exactly in f32, so the model is exact. */
      float* src = fsources + (uint64_t)step * 16u;
      uint64_t at = cts_rand_range(ctx, 0, 1) * 16u;
      for (int i = 0; i < 16; ++i) src[i] = (float)cts_rand_range(ctx, 0, 64);
      cts_ok(xhal_stream_enqueue_write(stream, fbuf, at * 4u, src, 64),
             "step %u: write floats", step);
      memcpy(fmodel + at, src, 64);
    } else {
      cts_ok(xhal_stream_enqueue_op(stream, impl, &add), "step %u: add", step);
      for (int i = 0; i < 16; ++i) fmodel[32 + i] = fmodel[i] + fmodel[16 + i];
      /* Feed the sum back so the next add depends on this one. */
      cts_ok(xhal_stream_enqueue_copy(stream, fbuf, 128, fbuf, 0, 64),
             "step %u: copy the sum", step);
      memcpy(fmodel, fmodel + 32, 64);
    }
  }
  uint8_t back[kSize];
  float fback[kFloats];
  cts_ok(xhal_stream_enqueue_read(stream, buf, 0, back, kSize), "read");
  cts_ok(xhal_stream_enqueue_read(stream, fbuf, 0, fback, sizeof(fback)),
         "read floats");
  cts_step("synchronize after %d mixed steps", kSteps);
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  uint64_t at = cts_first_diff(back, model, kSize);
  cts_check(at == kSize,
            "after %d mixed steps byte %llu is 0x%02x, in-order execution "
            "gives 0x%02x",
            kSteps, (unsigned long long)at, back[at < kSize ? at : 0],
            model[at < kSize ? at : 0]);
  cts_check(
      memcmp(fback, fmodel, sizeof(fback)) == 0,
      "operators interleaved with copies gave other values than "
      "in-order execution (float %llu)",
      (unsigned long long)cts_first_diff(fback, fmodel, sizeof(fback)) / 4u);
  cts_check(atomic_load(&next) == host_funcs, "%u host functions ran, want %u",
            (unsigned)atomic_load(&next), host_funcs);
  for (uint32_t i = 0; i < host_funcs; ++i) {
    cts_check(order[i] == i, "host function %u ran in position %u", order[i],
              i);
  }
  free(sources);
  free(fsources);
  xhal_buffer_release(buf);
  xhal_buffer_release(fbuf);
  xhal_stream_release(stream);
}

static void test_synchronize_waits(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  cts_step("stream_synchronize on an empty stream");
  cts_ok(xhal_stream_synchronize(stream), "synchronize an empty stream");
  enum { kSize = 4 << 20 };
  xhal_buffer_t buf = cts_buffer(ctx, dev, kSize, 0);
  uint8_t* data = cts_alloc(kSize);
  cts_rand_bytes(ctx, data, kSize);
  sleep_flag_t flag = {100, 0};
  cts_ok(xhal_stream_enqueue_host_func(stream, sleep_then_set, &flag),
         "host function");
  cts_ok(xhal_stream_enqueue_write(stream, buf, 0, data, kSize), "write");
  cts_step("stream_synchronize with a 100 ms host function and a write");
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  cts_check(atomic_load(&flag.set),
            "stream_synchronize returned before a host function ran");
  /* Another stream sees the write without synchronising the first. */
  xhal_stream_t other = cts_stream(dev);
  uint8_t* back = cts_alloc(kSize);
  cts_read_sync(other, buf, 0, back, kSize);
  cts_check(memcmp(back, data, kSize) == 0,
            "stream_synchronize returned before a write completed (byte "
            "%llu)",
            (unsigned long long)cts_first_diff(back, data, kSize));
  free(back);
  free(data);
  xhal_stream_release(other);
  xhal_stream_release(stream);
  xhal_buffer_release(buf);
}

typedef struct flush_job {
  xhal_stream_t stream;
  xhal_status_t status;
} flush_job_t;

static void flush_call(void* p) {
  flush_job_t* j = p;
  j->status = xhal_stream_flush(j->stream);
}

static void test_flush(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_device_properties_t props;
  cts_ok(xhal_device_properties(dev, &props), "properties");
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 256, 0);
  uint8_t data[256], back[256];
  cts_rand_bytes(ctx, data, sizeof(data));
  cts_gate_t* gate = cts_gate_new();
  int gated = (props.capabilities & XHAL_CAP_HOST_FUNC) != 0;
  if (gated) {
    cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
  }
  cts_ok(xhal_stream_enqueue_write(stream, buf, 0, data, sizeof(data)),
         "write");
  /* flush must not wait for the (gated) work. */
  flush_job_t call = {stream, XHAL_ERROR_INTERNAL};
  bounded_t b;
  cts_step("stream_flush with gated work");
  const uint32_t bound = cts_progress_ms(ctx);
  if (!run_bounded(&b, flush_call, &call, bound)) {
    cts_fail("stream_flush waited for pending work (blocked more than %.1f s)",
             bound / 1000.0);
  }
  cts_ok(call.status, "stream_flush");
  cts_gate_open(gate);
  cts_read_sync(stream, buf, 0, back, sizeof(back));
  cts_check(memcmp(back, data, sizeof(data)) == 0,
            "flushed work did not complete");
  cts_gate_free(gate);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

static void test_many_streams(cts_ctx_t* ctx) {
  enum { kStreams = 64, kRegion = 512 };
  xhal_device_t dev = cts_device(ctx);
  xhal_buffer_t buf = cts_buffer(ctx, dev, kStreams * kRegion, 0);
  xhal_stream_t streams[kStreams];
  uint8_t* model = cts_alloc(kStreams * kRegion);
  uint8_t* src = cts_alloc(kStreams * kRegion);
  cts_rand_bytes(ctx, src, kStreams * kRegion);
  for (int s = 0; s < kStreams; ++s) streams[s] = cts_stream(dev);
  for (int s = 0; s < kStreams; ++s) {
    uint64_t base = (uint64_t)s * kRegion;
    /* Write, then copy the first half over the second, then fill a
     * stripe: only in-order execution gives the model. */
    cts_ok(
        xhal_stream_enqueue_write(streams[s], buf, base, src + base, kRegion),
        "stream %d: write", s);
    cts_ok(xhal_stream_enqueue_copy(streams[s], buf, base, buf,
                                    base + kRegion / 2, kRegion / 2),
           "stream %d: copy", s);
    uint8_t v = (uint8_t)s;
    cts_ok(xhal_stream_enqueue_fill(streams[s], buf, base + 100, 50, &v, 1),
           "stream %d: fill", s);
    memcpy(model + base, src + base, kRegion);
    memcpy(model + base + kRegion / 2, src + base, kRegion / 2);
    memset(model + base + 100, v, 50);
  }
  for (int s = 0; s < kStreams; ++s) {
    cts_step("synchronize stream %d of %d", s, kStreams);
    cts_ok(xhal_stream_synchronize(streams[s]), "synchronize stream %d", s);
  }
  uint8_t* back = cts_alloc(kStreams * kRegion);
  cts_read_sync(streams[0], buf, 0, back, kStreams * kRegion);
  uint64_t at = cts_first_diff(back, model, kStreams * kRegion);
  cts_check(at == kStreams * kRegion,
            "with %d streams, byte %llu (stream %llu's region) is wrong",
            kStreams, (unsigned long long)at,
            (unsigned long long)(at / kRegion));
  for (int s = 0; s < kStreams; ++s) xhal_stream_release(streams[s]);
  free(back);
  free(model);
  free(src);
  xhal_buffer_release(buf);
}

typedef struct enqueue_job {
  xhal_stream_t stream;
  xhal_buffer_t buf;
  const uint8_t* data;
  xhal_status_t status;
} enqueue_job_t;

static void enqueue_many(void* p) {
  enqueue_job_t* j = p;
  j->status = XHAL_OK;
  for (uint64_t i = 0; i < 20 && j->status == XHAL_OK; ++i) {
    j->status =
        xhal_stream_enqueue_write(j->stream, j->buf, i * 16, j->data, 16);
    if (j->status == XHAL_OK) {
      j->status = xhal_stream_enqueue_copy(j->stream, j->buf, i * 16, j->buf,
                                           512 + i * 16, 16);
    }
  }
}

/* Enqueues a gate, then the work of enqueue_many behind it: the host
 * function's own enqueue is an enqueue entry, and may not run a blocking
 * host function on the caller's thread either (R-STR-6). */
typedef struct gated_job {
  enqueue_job_t* job;
  cts_gate_t* gate;
} gated_job_t;

static void enqueue_gate_then_many(void* p) {
  gated_job_t* g = p;
  g->job->status =
      xhal_stream_enqueue_host_func(g->job->stream, cts_gate_func, g->gate);
  if (g->job->status == XHAL_OK) enqueue_many(g->job);
}

static void test_enqueue_async(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 1024, 0);
  uint8_t data[16];
  cts_rand_bytes(ctx, data, sizeof(data));
  cts_gate_t* gate = cts_gate_new();
  enqueue_job_t job = {stream, buf, data, XHAL_ERROR_INTERNAL};
  gated_job_t gated = {&job, gate};
  bounded_t b;
  cts_step("enqueueing a blocking host function and 40 operations behind it");
  const uint32_t bound = cts_progress_ms(ctx);
  int finished = run_bounded(&b, enqueue_gate_then_many, &gated, bound);
  if (!finished) cts_gate_open(gate);
  cts_check(finished,
            "enqueueing a blocking host function and work behind it blocked "
            "the caller (more than %.1f s)",
            bound / 1000.0);
  cts_ok(job.status, "enqueue behind a blocked host function");
  cts_gate_open(gate);
  uint8_t back[1024];
  cts_read_sync(stream, buf, 0, back, sizeof(back));
  for (int i = 0; i < 20; ++i) {
    cts_check(memcmp(back + i * 16, data, 16) == 0 &&
                  memcmp(back + 512 + i * 16, data, 16) == 0,
              "work enqueued behind the gate is missing (chunk %d)", i);
  }
  cts_gate_free(gate);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

typedef struct side_job {
  xhal_stream_t stream;
  xhal_buffer_t buf;
  uint8_t in[64];
  uint8_t out[64];
  xhal_status_t status;
} side_job_t;

static void side_work(void* p) {
  side_job_t* j = p;
  j->status = xhal_stream_enqueue_write(j->stream, j->buf, 0, j->in, 64);
  if (j->status == XHAL_OK)
    j->status = xhal_stream_enqueue_read(j->stream, j->buf, 0, j->out, 64);
  if (j->status == XHAL_OK) j->status = xhal_stream_synchronize(j->stream);
}

static void test_independent_streams(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t blocked = cts_stream(dev);
  xhal_stream_t free_stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 64, 0);
  cts_gate_t* gate = cts_gate_new();
  cts_ok(xhal_stream_enqueue_host_func(blocked, cts_gate_func, gate), "gate");
  const uint32_t bound = cts_progress_ms(ctx);
  cts_check(cts_gate_wait_reached(gate, bound),
            "the gated stream did not start its host function in %.1f s",
            bound / 1000.0);
  side_job_t job;
  memset(&job, 0, sizeof(job));
  job.stream = free_stream;
  job.buf = buf;
  cts_rand_bytes(ctx, job.in, sizeof(job.in));
  bounded_t b;
  cts_step("work on a second stream while the first is blocked");
  int finished = run_bounded(&b, side_work, &job, bound);
  cts_check(finished,
            "a stream blocked in a host function held back another stream "
            "(no progress in %.1f s)",
            bound / 1000.0);
  cts_ok(job.status, "work on the second stream");
  cts_check(memcmp(job.in, job.out, 64) == 0,
            "the second stream read back other bytes");
  cts_gate_open(gate);
  cts_ok(xhal_stream_synchronize(blocked), "synchronize the gated stream");
  cts_gate_free(gate);
  xhal_buffer_release(buf);
  xhal_stream_release(blocked);
  xhal_stream_release(free_stream);
}

typedef struct check_read {
  const uint8_t* host; /* a read's destination */
  const uint8_t* want;
  uint32_t size;
  _Atomic uint32_t* next;
  uint32_t id;
  uint32_t position;
  int saw_read;
  atomic_int runs;
} check_read_t;

static xhal_status_t check_read_func(void* p) {
  check_read_t* c = p;
  atomic_fetch_add(&c->runs, 1);
  c->position = atomic_fetch_add(c->next, 1u);
  c->saw_read = memcmp(c->host, c->want, c->size) == 0;
  return XHAL_OK;
}

static void test_host_func_order(cts_ctx_t* ctx) {
  enum { kFuncs = 50, kChunk = 32 };
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, kFuncs * kChunk, 0);
  uint8_t* data = cts_alloc(kFuncs * kChunk);
  uint8_t* host = cts_alloc(kFuncs * kChunk);
  cts_rand_bytes(ctx, data, kFuncs * kChunk);
  memset(host, 0, kFuncs * kChunk);
  _Atomic uint32_t next = 0;
  check_read_t* checks = cts_alloc(sizeof(check_read_t) * kFuncs);
  for (uint32_t i = 0; i < kFuncs; ++i) {
    uint64_t off = (uint64_t)i * kChunk;
    checks[i].host = host + off;
    checks[i].want = data + off;
    checks[i].size = kChunk;
    checks[i].next = &next;
    checks[i].id = i;
    checks[i].position = UINT32_MAX;
    checks[i].saw_read = 0;
    atomic_init(&checks[i].runs, 0);
    /* The host function must see the read enqueued before it done. */
    cts_ok(xhal_stream_enqueue_write(stream, buf, off, data + off, kChunk),
           "write %u", i);
    cts_ok(xhal_stream_enqueue_read(stream, buf, off, host + off, kChunk),
           "read %u", i);
    cts_ok(xhal_stream_enqueue_host_func(stream, check_read_func, &checks[i]),
           "host function %u", i);
  }
  cts_step("synchronize %d host functions", kFuncs);
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  for (uint32_t i = 0; i < kFuncs; ++i) {
    cts_check(atomic_load(&checks[i].runs) == 1,
              "host function %u ran %d times", i, atomic_load(&checks[i].runs));
    cts_check(checks[i].position == i, "host function %u ran in position %u", i,
              checks[i].position);
    cts_check(checks[i].saw_read,
              "host function %u ran before the read enqueued before it "
              "completed",
              i);
  }
  free(checks);
  free(host);
  free(data);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

static void test_failure_sticky(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 64, 0);
  uint8_t zeros[64], data[64], back[64];
  memset(zeros, 0, sizeof(zeros));
  cts_rand_bytes(ctx, data, sizeof(data));
  data[0] = 1;
  cts_write_sync(stream, buf, 0, zeros, sizeof(zeros));
  cts_ok(xhal_stream_enqueue_host_func(stream, cts_failing_func, NULL),
         "enqueue a failing host function");
  /* Enqueueing on a failed stream may itself report the failure. */
  xhal_status_t s = xhal_stream_enqueue_write(stream, buf, 0, data, 64);
  _Atomic uint32_t later = 0;
  xhal_status_t h =
      xhal_stream_enqueue_host_func(stream, cts_count_func, (void*)&later);
  cts_step("synchronize a failed stream");
  xhal_status_t first = xhal_stream_synchronize(stream);
  cts_check(first != XHAL_OK,
            "stream_synchronize returned XHAL_OK after a host function "
            "failed");
  cts_check(first != XHAL_ERROR_TIMEOUT && first != XHAL_ERROR_NOT_READY,
            "a failed stream synchronizes with %s", xhal_status_name(first));
  cts_check(xhal_stream_synchronize(stream) != XHAL_OK,
            "the stream's failure did not stick (a second synchronize "
            "returned XHAL_OK)");
  (void)s;
  (void)h;
  cts_check(atomic_load(&later) == 0,
            "a host function enqueued after the failure ran anyway (later "
            "work of a failed stream is skipped, host functions included)");
  xhal_stream_t other = cts_stream(dev);
  cts_read_sync(other, buf, 0, back, sizeof(back));
  cts_check(memcmp(back, zeros, sizeof(back)) == 0,
            "a write enqueued after a failure ran anyway");
  xhal_stream_release(other);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

/* A host function that waits on a gate, then rewrites host memory that
 * work enqueued after it reads. */
typedef struct rewrite {
  cts_gate_t* gate;
  uint8_t* dst;
  const uint8_t* src;
  uint64_t size;
} rewrite_t;

static xhal_status_t gate_then_rewrite(void* p) {
  rewrite_t* r = p;
  xhal_status_t s = cts_gate_func(r->gate);
  if (s == XHAL_OK) memcpy(r->dst, r->src, (size_t)r->size);
  return s;
}

/* A host function that checks what an earlier read delivered. */
typedef struct expect_bytes {
  const uint8_t* got;
  const uint8_t* want;
  uint64_t size;
  atomic_int ran;
  atomic_int matched;
} expect_bytes_t;

static xhal_status_t check_bytes(void* p) {
  expect_bytes_t* e = p;
  atomic_store(&e->matched, memcmp(e->got, e->want, (size_t)e->size) == 0);
  atomic_store(&e->ran, 1);
  return XHAL_OK;
}

/* Work queued behind a blocked host function: writes whose source the
 * host function fills, chains of dependent copies (small ones, which a
 * plugin might be tempted to run at once, and large ones), and a read
 * that a later host function checks. Each must run after the host
 * function and in its own order. */
static void test_order_behind_host_func(cts_ctx_t* ctx) {
  enum { kSmall = 64, kBytes = 300000 };
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t a = cts_buffer(ctx, dev, kBytes, 0);
  xhal_buffer_t b = cts_buffer(ctx, dev, kBytes, 0);
  xhal_buffer_t c = cts_buffer(ctx, dev, kBytes, 0);
  uint8_t* staged = cts_alloc(kBytes);
  uint8_t* want = cts_alloc(kBytes);
  uint8_t* mid = cts_alloc(kBytes);
  uint8_t* back = cts_alloc(kBytes);
  memset(staged, 0, kBytes);
  cts_write_sync(stream, a, 0, staged, kBytes);
  cts_write_sync(stream, b, 0, staged, kBytes);
  cts_write_sync(stream, c, 0, staged, kBytes);
  cts_rand_bytes(ctx, staged, kBytes); /* what the writes must not see */
  cts_rand_bytes(ctx, want, kBytes);
  memset(mid, 0xEE, kBytes);
  cts_gate_t* gate = cts_gate_new();
  rewrite_t rw = {gate, staged, want, kBytes};
  expect_bytes_t seen = {mid, want, kBytes, 0, 0};
  /* A plugin that runs host functions on the caller's thread blocks the
   * first enqueue: the gate opens from another thread after a while. */
  cts_gate_open_after(gate, 2000);
  cts_step("enqueue behind a blocked host function");
  cts_ok(xhal_stream_enqueue_host_func(stream, gate_then_rewrite, &rw),
         "host function that fills the source of the writes behind it");
  /* The work below is enqueued while the host function runs: the
   * stream's queue may then look empty, and it must still wait. */
  cts_gate_wait_reached(gate, 2000);
  cts_ok(xhal_stream_enqueue_write(stream, a, 0, staged, kSmall),
         "small write");
  cts_ok(xhal_stream_enqueue_copy(stream, a, 0, b, 0, kSmall), "copy a -> b");
  cts_ok(xhal_stream_enqueue_copy(stream, b, 0, c, 0, kSmall), "copy b -> c");
  cts_ok(xhal_stream_enqueue_write(stream, a, kSmall, staged + kSmall,
                                   kBytes - kSmall),
         "large write");
  cts_ok(
      xhal_stream_enqueue_copy(stream, a, kSmall, b, kSmall, kBytes - kSmall),
      "large copy a -> b");
  cts_ok(
      xhal_stream_enqueue_copy(stream, b, kSmall, c, kSmall, kBytes - kSmall),
      "large copy b -> c");
  cts_ok(xhal_stream_enqueue_read(stream, c, 0, mid, kBytes), "read c");
  cts_ok(xhal_stream_enqueue_host_func(stream, check_bytes, &seen),
         "host function that checks the read");
  cts_gate_open(gate);
  cts_step("synchronize after work behind a blocked host function");
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  cts_read_sync(stream, c, 0, back, kBytes);
  uint64_t at = cts_first_diff(back, want, kBytes);
  cts_check(at == kBytes,
            "writes and dependent copies queued behind a blocked host "
            "function gave other bytes (byte %llu of %u): they ran before "
            "the host function or out of order",
            (unsigned long long)at, (unsigned)kBytes);
  cts_check(atomic_load(&seen.ran), "the last host function never ran");
  cts_check(atomic_load(&seen.matched),
            "a host function saw the destination of a read enqueued before "
            "it incomplete (byte %llu)",
            (unsigned long long)cts_first_diff(mid, want, kBytes));
  cts_gate_free(gate);
  free(staged);
  free(want);
  free(mid);
  free(back);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  xhal_buffer_release(c);
  xhal_stream_release(stream);
}

static void test_destroy_pending(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 256, 0);
  uint8_t data[256], back[256];
  cts_rand_bytes(ctx, data, sizeof(data));
  cts_gate_t* gate = cts_gate_new();
  cts_ok(xhal_stream_enqueue_host_func(stream, cts_gate_func, gate), "gate");
  cts_ok(xhal_stream_enqueue_write(stream, buf, 0, data, sizeof(data)),
         "write behind the gate");
  cts_gate_open_after(gate, 100);
  cts_step("stream_destroy while a gate holds its work");
  xhal_stream_release(stream);
  cts_check(cts_gate_reached(gate),
            "stream_destroy returned without running the pending work");
  xhal_stream_t other = cts_stream(dev);
  cts_read_sync(other, buf, 0, back, sizeof(back));
  cts_check(memcmp(back, data, sizeof(data)) == 0,
            "work pending at stream_destroy did not complete");
  cts_gate_free(gate);
  xhal_stream_release(other);
  xhal_buffer_release(buf);
}

/* XHAL_STREAM_NO_TIMING: the plugin takes the flag, the stream keeps its
 * order and completes its events, and elapsed time on its events is
 * refused rather than made up. */
static void test_no_timing(cts_ctx_t* ctx) {
  enum { kSize = 1 << 20 };
  cts_direct_t* d = cts_direct(ctx);
  xhal_plugin_device_t pdev = NULL;
  xhal_plugin_stream_t pstream = NULL;
  cts_ok(cts_direct_device(d, d->device_under_test, &pdev), "device_open(%u)",
         d->device_under_test);
  cts_step("stream_create(XHAL_STREAM_NO_TIMING) on the plugin");
  cts_ok(d->table.stream_create(pdev, XHAL_STREAM_NO_TIMING, &pstream),
         "stream_create(XHAL_STREAM_NO_TIMING)");
  cts_ok(d->table.stream_synchronize(pstream), "synchronize an empty stream");
  d->table.stream_destroy(pstream);
  pstream = NULL;
  xhal_status_t s = d->table.stream_create(
      pdev, XHAL_STREAM_NO_TIMING | (1u << 30), &pstream);
  if (s == XHAL_OK) d->table.stream_destroy(pstream);
  cts_expect(s, XHAL_ERROR_INVALID_ARGUMENT,
             "stream_create(XHAL_STREAM_NO_TIMING | an unknown bit)");

  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = NULL;
  cts_ok(xhal_stream_create_with_flags(dev, XHAL_STREAM_NO_TIMING, &stream),
         "xhal_stream_create_with_flags(XHAL_STREAM_NO_TIMING)");
  xhal_buffer_t a = cts_buffer(ctx, dev, kSize, 0);
  xhal_buffer_t b = cts_buffer(ctx, dev, kSize, 0);
  uint8_t* data = cts_alloc(kSize);
  uint8_t* back = cts_alloc(kSize);
  cts_rand_bytes(ctx, data, kSize);
  xhal_event_t start = cts_event(dev);
  xhal_event_t end = cts_event(dev);
  const uint8_t pattern = 0x5a;
  cts_ok(xhal_stream_record_event(stream, start), "record start");
  cts_ok(xhal_stream_enqueue_write(stream, a, 0, data, kSize), "write");
  cts_ok(xhal_stream_enqueue_copy(stream, a, 0, b, 0, kSize), "copy");
  cts_ok(xhal_stream_enqueue_fill(stream, b, 4096, 4096, &pattern, 1), "fill");
  cts_ok(xhal_stream_enqueue_read(stream, b, 0, back, kSize), "read");
  cts_ok(xhal_stream_record_event(stream, end), "record end");
  cts_step("event_wait on the no-timing stream's event");
  cts_ok(xhal_event_wait(end, 10ull * 1000000000ull), "event_wait(end)");
  memset(data + 4096, pattern, 4096);
  cts_check(memcmp(back, data, kSize) == 0,
            "write, copy, fill, read on a no-timing stream gave a wrong byte "
            "at %llu",
            (unsigned long long)cts_first_diff(back, data, kSize));
  uint64_t ns = 0;
  cts_expect(xhal_event_elapsed(start, end, &ns), XHAL_ERROR_UNSUPPORTED,
             "xhal_event_elapsed on events of a no-timing stream");
  xhal_event_release(start);
  xhal_event_release(end);
  xhal_stream_release(stream);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  free(data);
  free(back);
}

static xhal_status_t return_status(void* status) {
  return *(const xhal_status_t*)status;
}

/* R-STR-12: the stream and a later event fail with the status the host
 * function returned, unchanged (libxhal hands a plugin only defined
 * statuses: it turns any other value into XHAL_ERROR_EXECUTION_FAILED
 * before the plugin sees it). */
static void test_host_func_status(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_dispatch_t* t = &d->table;
  if (!t->enqueue_host_func) cts_skip("entry enqueue_host_func");
  xhal_plugin_device_t dev = NULL;
  cts_ok(cts_direct_device(d, d->device_under_test, &dev), "device_open(%u)",
         d->device_under_test);
  static const xhal_status_t kStatuses[] = {XHAL_ERROR_OUT_OF_MEMORY,
                                            XHAL_ERROR_INVALID_STATE,
                                            XHAL_ERROR_EXECUTION_FAILED};
  for (size_t i = 0; i < sizeof(kStatuses) / sizeof(kStatuses[0]); ++i) {
    xhal_plugin_stream_t s = NULL;
    xhal_plugin_event_t e = NULL;
    cts_ok(t->stream_create(dev, 0, &s), "stream_create");
    cts_ok(t->event_create(dev, &e), "event_create");
    cts_ok(t->enqueue_host_func(s, return_status, (void*)&kStatuses[i]),
           "enqueue_host_func");
    cts_ok(t->event_record(e, s), "event_record after the host function");
    cts_step("stream_synchronize after a host function returning %s",
             xhal_status_name(kStatuses[i]));
    cts_expect(t->stream_synchronize(s), kStatuses[i],
               "stream_synchronize after a host function returned %s",
               xhal_status_name(kStatuses[i]));
    cts_expect(t->event_wait(e, UINT64_MAX), kStatuses[i],
               "event_wait on an event recorded after a host function "
               "returned %s",
               xhal_status_name(kStatuses[i]));
    t->event_destroy(e);
    t->stream_destroy(s);
  }
}

static const cts_test_t kTests[] = {
    {"host_func_status", "R-STR-12", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_host_func_status, 0},
    {"create_destroy_waits", "R-STR-1", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_create_destroy_waits, 0},
    {"in_order_mixed", "R-STR-2", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_in_order_mixed, 0},
    {"synchronize_waits", "R-STR-3", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_synchronize_waits, 0},
    {"flush", "R-STR-4", CTS_PROFILE_CORE, CTS_NEED_FLUSH, test_flush, 0},
    {"many_streams", "R-STR-5", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_many_streams, 0},
    {"enqueue_async", "R-STR-6", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_enqueue_async, 0},
    {"independent_streams", "R-STR-7", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_independent_streams, 0},
    {"host_func_order", "R-STR-8", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_host_func_order, 0},
    {"failure_sticky", "R-STR-9", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_failure_sticky, 0},
    {"destroy_pending", "R-STR-10", CTS_PROFILE_CORE, CTS_NEED_HOST_FUNC,
     test_destroy_pending, 0},
    {"no_timing", "R-STR-11", CTS_PROFILE_CORE, CTS_NEED_NO_TIMING,
     test_no_timing, 0},
    {"order_behind_host_func", "R-STR-8", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_order_behind_host_func, 0},
};

const cts_suite_t cts_suite_stream = {"stream", kTests,
                                      sizeof(kTests) / sizeof(kTests[0])};
