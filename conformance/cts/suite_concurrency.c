/*
 * suite_concurrency.c - threads x streams: no lost or duplicated work,
 * events polled while recorded, one stream fed by several threads,
 * objects created and destroyed concurrently, two contexts at once
 * (docs/abi.md, R-THR-*).
 *
 * Worker threads never call the failing helpers (Check's failure path is
 * for the test's main thread): they record the first problem in their
 * job, and the main thread reports it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cts.h"

typedef struct job {
  cts_ctx_t* ctx;
  xhal_device_t dev;
  uint32_t id;
  uint64_t seed;
  char error[512];
  pthread_t thread;
} job_t;

static void job_error(job_t* j, const char* what, xhal_status_t s) {
  if (j->error[0]) return;
  snprintf(j->error, sizeof(j->error), "thread %u: %s: %s (%s)", j->id, what,
           xhal_status_name(s), xhal_last_error());
}

static void start_jobs(job_t* jobs, uint32_t n, void* (*fn)(void*)) {
  for (uint32_t i = 0; i < n; ++i) {
    if (pthread_create(&jobs[i].thread, NULL, fn, &jobs[i]) != 0)
      cts_fail("cannot start thread %u", i);
  }
}

static void join_jobs(job_t* jobs, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    cts_step("joining worker thread %u", i);
    pthread_join(jobs[i].thread, NULL);
  }
  for (uint32_t i = 0; i < n; ++i) {
    cts_check(jobs[i].error[0] == '\0', "%s", jobs[i].error);
  }
}

static uint8_t next_byte(uint64_t* state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint8_t)(*state >> 56);
}

/* ------------------------------------------------------ threads x streams */

enum { kThreads = 4, kStreamsPerThread = 3, kIterations = 25, kChunk = 777 };

static void* streams_main(void* p) {
  job_t* j = p;
  xhal_stream_t streams[kStreamsPerThread] = {NULL};
  xhal_buffer_t a = NULL, b = NULL;
  uint8_t* src = malloc(kChunk * kStreamsPerThread);
  uint8_t* back = malloc(kChunk * kStreamsPerThread);
  _Atomic uint32_t counts[kStreamsPerThread][kIterations];
  memset(counts, 0, sizeof(counts));
  xhal_status_t s;
  if (!src || !back) {
    snprintf(j->error, sizeof(j->error), "thread %u: out of memory", j->id);
    goto done;
  }
  for (int i = 0; i < kStreamsPerThread; ++i) {
    if ((s = xhal_stream_create(j->dev, &streams[i])) != XHAL_OK) {
      job_error(j, "stream_create", s);
      goto done;
    }
  }
  if ((s = xhal_buffer_alloc(j->dev, kChunk * kStreamsPerThread, 0, &a)) ||
      (s = xhal_buffer_alloc(j->dev, kChunk * kStreamsPerThread, 0, &b))) {
    job_error(j, "buffer_alloc", s);
    goto done;
  }
  for (int it = 0; it < kIterations && !j->error[0]; ++it) {
    for (int i = 0; i < kStreamsPerThread; ++i) {
      uint64_t off = (uint64_t)i * kChunk;
      for (int k = 0; k < kChunk; ++k) src[off + k] = next_byte(&j->seed);
      xhal_stream_t st = streams[i];
      if ((s = xhal_stream_enqueue_write(st, a, off, src + off, kChunk)) ||
          (s = xhal_stream_enqueue_copy(st, a, off, b, off, kChunk)) ||
          (s = xhal_stream_enqueue_host_func(st, cts_count_func,
                                             &counts[i][it])) ||
          (s = xhal_stream_enqueue_read(st, b, off, back + off, kChunk))) {
        job_error(j, "enqueue", s);
        break;
      }
    }
    for (int i = 0; i < kStreamsPerThread; ++i) {
      if ((s = xhal_stream_synchronize(streams[i])) != XHAL_OK) {
        job_error(j, "synchronize", s);
        break;
      }
    }
    if (!j->error[0] && memcmp(src, back, kChunk * kStreamsPerThread) != 0) {
      snprintf(j->error, sizeof(j->error),
               "thread %u, iteration %d: a write+copy+read chain gave other "
               "bytes (byte %llu)",
               j->id, it,
               (unsigned long long)cts_first_diff(src, back,
                                                  kChunk * kStreamsPerThread));
    }
  }
  for (int i = 0; i < kStreamsPerThread && !j->error[0]; ++i) {
    for (int it = 0; it < kIterations; ++it) {
      if (counts[i][it] != 1) {
        snprintf(j->error, sizeof(j->error),
                 "thread %u: host function (stream %d, iteration %d) ran %u "
                 "times",
                 j->id, i, it, (unsigned)counts[i][it]);
        break;
      }
    }
  }
done:
  for (int i = 0; i < kStreamsPerThread; ++i) xhal_stream_release(streams[i]);
  xhal_buffer_release(a);
  xhal_buffer_release(b);
  free(src);
  free(back);
  return NULL;
}

static void test_threads_streams(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  job_t jobs[kThreads];
  memset(jobs, 0, sizeof(jobs));
  for (uint32_t i = 0; i < kThreads; ++i) {
    jobs[i].ctx = ctx;
    jobs[i].dev = dev;
    jobs[i].id = i;
    jobs[i].seed = cts_rand(ctx);
  }
  start_jobs(jobs, kThreads, streams_main);
  join_jobs(jobs, kThreads);
}

/* -------------------------------------------- events polled while recorded */

typedef struct poll_shared {
  xhal_event_t event;
  atomic_int stop;
} poll_shared_t;

typedef struct poll_job {
  job_t base;
  poll_shared_t* shared;
  uint64_t polls;
} poll_job_t;

static void* poll_main(void* p) {
  poll_job_t* j = p;
  while (!atomic_load(&j->shared->stop)) {
    xhal_status_t q = xhal_event_query(j->shared->event);
    xhal_status_t w = xhal_event_wait(j->shared->event, 100000ull);
    if ((q != XHAL_OK && q != XHAL_ERROR_NOT_READY) ||
        (w != XHAL_OK && w != XHAL_ERROR_TIMEOUT)) {
      job_error(&j->base, "query/wait while another thread records",
                q != XHAL_OK && q != XHAL_ERROR_NOT_READY ? q : w);
      return NULL;
    }
    ++j->polls;
  }
  return NULL;
}

static void test_event_wait_while_recording(cts_ctx_t* ctx) {
  enum { kPollers = 3, kRecords = 500 };
  xhal_device_t dev = cts_device(ctx);
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t buf = cts_buffer(ctx, dev, 4096, 0);
  uint8_t data[4096];
  cts_rand_bytes(ctx, data, sizeof(data));
  poll_shared_t shared;
  shared.event = cts_event(dev);
  atomic_init(&shared.stop, 0);
  cts_ok(xhal_stream_record_event(stream, shared.event), "first record");
  poll_job_t jobs[kPollers];
  memset(jobs, 0, sizeof(jobs));
  for (uint32_t i = 0; i < kPollers; ++i) {
    jobs[i].base.id = i;
    jobs[i].shared = &shared;
    if (pthread_create(&jobs[i].base.thread, NULL, poll_main, &jobs[i]) != 0)
      cts_fail("cannot start a polling thread");
  }
  for (int r = 0; r < kRecords; ++r) {
    cts_ok(xhal_stream_enqueue_write(stream, buf, 0, data, sizeof(data)),
           "write %d", r);
    cts_ok(xhal_stream_record_event(stream, shared.event), "record %d", r);
    if (r % 50 == 0) cts_ok(xhal_stream_synchronize(stream), "synchronize");
  }
  cts_ok(xhal_stream_synchronize(stream), "synchronize");
  atomic_store(&shared.stop, 1);
  for (uint32_t i = 0; i < kPollers; ++i) {
    cts_step("joining polling thread %u", i);
    pthread_join(jobs[i].base.thread, NULL);
    cts_check(jobs[i].base.error[0] == '\0', "%s", jobs[i].base.error);
  }
  cts_ok(xhal_event_wait(shared.event, 0),
         "the event after its last record completed");
  xhal_event_release(shared.event);
  xhal_buffer_release(buf);
  xhal_stream_release(stream);
}

/* --------------------------------------------- many waiters, one event */

typedef struct waiter_job {
  job_t base;
  xhal_event_t event;
  uint64_t timeout_ns;
  xhal_status_t status;
} waiter_job_t;

static void* waiter_main(void* p) {
  waiter_job_t* w = p;
  w->status = xhal_event_wait(w->event, w->timeout_ns);
  if (w->status != XHAL_OK) job_error(&w->base, "event_wait", w->status);
  return NULL;
}

/* Threads and streams all wait on one pending event at once: its
 * completion must release every one of them, not only the first. */
static void test_event_many_waiters(cts_ctx_t* ctx) {
  enum { kWaiters = 4, kStreams = 2 };
  xhal_device_t dev = cts_device(ctx);
  xhal_device_properties_t p;
  cts_ok(xhal_device_properties(dev, &p), "properties");
  if (!(p.capabilities & XHAL_CAP_HOST_FUNC)) cts_skip("XHAL_CAP_HOST_FUNC");
  xhal_stream_t producer = cts_stream(dev);
  xhal_stream_t waiting[kStreams];
  _Atomic uint32_t ran = 0;
  xhal_event_t event = cts_event(dev);
  cts_gate_t* gate = cts_gate_new();
  cts_gate_open_after(gate, 200);
  cts_ok(xhal_stream_enqueue_host_func(producer, cts_gate_func, gate), "gate");
  cts_ok(xhal_stream_record_event(producer, event), "record behind the gate");
  for (uint32_t i = 0; i < kStreams; ++i) {
    waiting[i] = cts_stream(dev);
    cts_ok(xhal_stream_wait_event(waiting[i], event), "stream_wait_event %u",
           i);
    cts_ok(
        xhal_stream_enqueue_host_func(waiting[i], cts_count_func, (void*)&ran),
        "host function behind the wait %u", i);
  }
  waiter_job_t jobs[kWaiters];
  memset(jobs, 0, sizeof(jobs));
  for (uint32_t i = 0; i < kWaiters; ++i) {
    jobs[i].base.id = i;
    jobs[i].event = event;
    jobs[i].timeout_ns = 5000000000ull;
    if (pthread_create(&jobs[i].base.thread, NULL, waiter_main, &jobs[i]) != 0)
      cts_fail("cannot start waiting thread %u", i);
  }
  for (uint32_t i = 0; i < kWaiters; ++i) {
    cts_step("joining waiting thread %u", i);
    pthread_join(jobs[i].base.thread, NULL);
  }
  for (uint32_t i = 0; i < kWaiters; ++i) {
    cts_check(jobs[i].base.error[0] == '\0',
              "%s (%u threads waited on one event; the event completed 200 ms "
              "in, the wait allowed 5 s)",
              jobs[i].base.error, kWaiters);
  }
  for (uint32_t i = 0; i < kStreams; ++i) {
    cts_step("synchronize waiting stream %u", i);
    cts_ok(xhal_stream_synchronize(waiting[i]), "synchronize waiting stream");
    xhal_stream_release(waiting[i]);
  }
  cts_check(atomic_load(&ran) == kStreams,
            "%u of %d streams waiting on the event ran the work behind the "
            "wait",
            atomic_load(&ran), kStreams);
  cts_ok(xhal_stream_synchronize(producer), "synchronize the producer");
  cts_gate_free(gate);
  xhal_event_release(event);
  xhal_stream_release(producer);
}

/* --------------------------------------------- one stream, many threads */

typedef struct turn_shared {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint32_t turn;
  xhal_stream_t stream;
  xhal_buffer_t scratch; /* 4 bytes: each data turn writes its number */
  xhal_buffer_t seen;    /* 4 bytes per turn: copied from scratch */
  uint32_t order[1024];
  _Atomic uint32_t next;
} turn_shared_t;

typedef struct turn_job {
  job_t base;
  turn_shared_t* shared;
  uint32_t threads;
  uint32_t rounds;
} turn_job_t;

typedef struct append_rec {
  turn_shared_t* shared;
  uint32_t value;
} append_rec_t;

static xhal_status_t append_value(void* p) {
  append_rec_t* r = p;
  uint32_t slot = atomic_fetch_add(&r->shared->next, 1u);
  if (slot < 1024) r->shared->order[slot] = r->value;
  return XHAL_OK;
}

static void* turn_main(void* p) {
  turn_job_t* j = p;
  turn_shared_t* sh = j->shared;
  append_rec_t* recs = malloc(sizeof(append_rec_t) * j->rounds);
  if (!recs) return NULL;
  for (uint32_t r = 0; r < j->rounds; ++r) {
    uint32_t mine = r * j->threads + j->base.id;
    pthread_mutex_lock(&sh->mu);
    while (sh->turn != mine) pthread_cond_wait(&sh->cv, &sh->mu);
    recs[r].shared = sh;
    recs[r].value = mine;
    /* Every third turn a host function, the others a write and a copy
     * that depends on it: device work must keep the turn order too. */
    xhal_status_t s;
    if (mine % 3 == 0) {
      s = xhal_stream_enqueue_host_func(sh->stream, append_value, &recs[r]);
      if (s != XHAL_OK) job_error(&j->base, "enqueue_host_func", s);
    } else {
      s = xhal_stream_enqueue_write(sh->stream, sh->scratch, 0, &recs[r].value,
                                    4);
      if (s == XHAL_OK)
        s = xhal_stream_enqueue_copy(sh->stream, sh->scratch, 0, sh->seen,
                                     4u * mine, 4);
      if (s != XHAL_OK) job_error(&j->base, "enqueue_write/copy", s);
    }
    sh->turn++;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
  }
  /* The records must outlive the stream's use of them. */
  pthread_mutex_lock(&sh->mu);
  while (sh->turn != UINT32_MAX) pthread_cond_wait(&sh->cv, &sh->mu);
  pthread_mutex_unlock(&sh->mu);
  free(recs);
  return NULL;
}

static void test_shared_stream_ordered(cts_ctx_t* ctx) {
  enum { kT = 4, kRounds = 100 };
  xhal_device_t dev = cts_device(ctx);
  static turn_shared_t sh;
  memset(&sh, 0, sizeof(sh));
  pthread_mutex_init(&sh.mu, NULL);
  pthread_cond_init(&sh.cv, NULL);
  sh.stream = cts_stream(dev);
  sh.scratch = cts_buffer(ctx, dev, 4, 0);
  sh.seen = cts_buffer(ctx, dev, 4u * kT * kRounds, 0);
  turn_job_t jobs[kT];
  memset(jobs, 0, sizeof(jobs));
  for (uint32_t i = 0; i < kT; ++i) {
    jobs[i].base.id = i;
    jobs[i].shared = &sh;
    jobs[i].threads = kT;
    jobs[i].rounds = kRounds;
    if (pthread_create(&jobs[i].base.thread, NULL, turn_main, &jobs[i]) != 0)
      cts_fail("cannot start a thread");
  }
  pthread_mutex_lock(&sh.mu);
  while (sh.turn != kT * kRounds) pthread_cond_wait(&sh.cv, &sh.mu);
  pthread_mutex_unlock(&sh.mu);
  cts_step("synchronize a stream fed by %d threads", kT);
  xhal_status_t s = xhal_stream_synchronize(sh.stream);
  pthread_mutex_lock(&sh.mu);
  sh.turn = UINT32_MAX;
  pthread_cond_broadcast(&sh.cv);
  pthread_mutex_unlock(&sh.mu);
  for (uint32_t i = 0; i < kT; ++i) {
    pthread_join(jobs[i].base.thread, NULL);
    cts_check(jobs[i].base.error[0] == '\0', "%s", jobs[i].base.error);
  }
  cts_ok(s, "synchronize");
  const uint32_t funcs = (kT * kRounds + 2u) / 3u;
  cts_check(atomic_load(&sh.next) == funcs,
            "%u host functions ran, %u were enqueued",
            (unsigned)atomic_load(&sh.next), funcs);
  for (uint32_t i = 0; i < funcs; ++i) {
    cts_check(sh.order[i] == 3u * i,
              "position %u ran the host function of turn %u, want turn %u "
              "(enqueued in turn order)",
              i, sh.order[i], 3u * i);
  }
  uint32_t* seen = cts_alloc(4u * kT * kRounds);
  cts_read_sync(sh.stream, sh.seen, 0, seen, 4u * kT * kRounds);
  for (uint32_t i = 0; i < kT * kRounds; ++i) {
    if (i % 3 == 0) continue;
    cts_check(seen[i] == i,
              "turn %u copied %u: its write and copy did not run in turn "
              "order between the other threads' work",
              i, seen[i]);
  }
  free(seen);
  xhal_buffer_release(sh.scratch);
  xhal_buffer_release(sh.seen);
  xhal_stream_release(sh.stream);
}

/* ----------------------------------------- create and destroy concurrently */

typedef struct churn_job {
  job_t base;
  cts_direct_t* direct;
  xhal_plugin_device_t dev;
} churn_job_t;

static void churn_error(churn_job_t* j, const char* what, xhal_status_t s) {
  if (j->base.error[0]) return;
  snprintf(j->base.error, sizeof(j->base.error), "thread %u: %s: %s",
           j->base.id, what, xhal_status_name(s));
}

static void* churn_main(void* p) {
  churn_job_t* j = p;
  const xhal_plugin_dispatch_t* t = &j->direct->table;
  uint8_t in[64], out[64];
  for (int it = 0; it < 150 && !j->base.error[0]; ++it) {
    xhal_plugin_buffer_t buf = NULL;
    xhal_plugin_stream_t stream = NULL;
    xhal_plugin_event_t event = NULL;
    xhal_status_t s;
    memset(in, it + (int)j->base.id, sizeof(in));
    if ((s = t->buffer_alloc(j->dev, 64 + (uint64_t)it, 0, &buf)) != XHAL_OK) {
      churn_error(j, "buffer_alloc", s);
      break;
    }
    if ((s = t->stream_create(j->dev, 0, &stream)) != XHAL_OK) {
      churn_error(j, "stream_create", s);
    } else if ((s = t->event_create(j->dev, &event)) != XHAL_OK) {
      churn_error(j, "event_create", s);
    } else if ((s = t->enqueue_write(stream, buf, 0, in, 64)) ||
               (s = t->enqueue_read(stream, buf, 0, out, 64)) ||
               (s = t->event_record(event, stream)) ||
               (s = t->event_wait(event, UINT64_MAX))) {
      churn_error(j, "write/read/record/wait", s);
    } else if (memcmp(in, out, sizeof(in)) != 0) {
      snprintf(j->base.error, sizeof(j->base.error),
               "thread %u: iteration %d read back other bytes", j->base.id, it);
    }
    if (event) t->event_destroy(event);
    if (stream) t->stream_destroy(stream);
    t->buffer_free(j->dev, buf);
  }
  return NULL;
}

static void test_create_destroy(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  xhal_plugin_device_t dev = NULL;
  cts_ok(cts_direct_device(d, d->device_under_test, &dev), "device_open(%u)",
         d->device_under_test);
  long live_before = atomic_load(&d->live_host_allocs);
  churn_job_t jobs[kThreads];
  memset(jobs, 0, sizeof(jobs));
  for (uint32_t i = 0; i < kThreads; ++i) {
    jobs[i].base.id = i;
    jobs[i].direct = d;
    jobs[i].dev = dev;
    if (pthread_create(&jobs[i].base.thread, NULL, churn_main, &jobs[i]) != 0)
      cts_fail("cannot start a thread");
  }
  for (uint32_t i = 0; i < kThreads; ++i) {
    cts_step("joining create/destroy thread %u", i);
    pthread_join(jobs[i].base.thread, NULL);
    cts_check(jobs[i].base.error[0] == '\0', "%s", jobs[i].base.error);
  }
  long live_after = atomic_load(&d->live_host_allocs);
  cts_check(live_after == live_before,
            "%ld host allocations outlived the objects created and destroyed "
            "by %d threads",
            live_after - live_before, kThreads);
}

/* ------------------------------------------------ two contexts at once */

typedef struct context_job {
  job_t base;
  cts_direct_t* direct;
} context_job_t;

/* Initialises, uses and shuts down one context. Loading and unloading
 * (dlopen/dlclose) stay on the main thread: the loader's own locking is
 * not what this test is about. */
static void* context_main(void* p) {
  context_job_t* j = p;
  cts_direct_t* d = j->direct;
  char why[512];
  if (cts_direct_init(d, 0, why, sizeof(why)) != XHAL_OK) {
    snprintf(j->base.error, sizeof(j->base.error), "context %u: %.400s",
             j->base.id, why);
    return NULL;
  }
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = NULL;
  xhal_plugin_stream_t stream = NULL;
  xhal_plugin_buffer_t a = NULL, b = NULL;
  xhal_status_t s;
  enum { kSize = 1 << 16 };
  uint8_t* src = malloc(kSize);
  uint8_t* back = malloc(kSize);
  if (!src || !back) goto done;
  if ((s = cts_direct_device(d, d->device_under_test, &dev)) ||
      (s = t->stream_create(dev, 0, &stream)) ||
      (s = t->buffer_alloc(dev, kSize, 0, &a)) ||
      (s = t->buffer_alloc(dev, kSize, 0, &b))) {
    job_error(&j->base, "setup", s);
    goto done;
  }
  for (int it = 0; it < 40 && !j->base.error[0]; ++it) {
    for (int k = 0; k < kSize; ++k) src[k] = next_byte(&j->base.seed);
    if ((s = t->enqueue_write(stream, a, 0, src, kSize)) ||
        (s = t->enqueue_copy(stream, a, 0, b, 0, kSize)) ||
        (s = t->enqueue_read(stream, b, 0, back, kSize)) ||
        (s = t->stream_synchronize(stream))) {
      job_error(&j->base, "write/copy/read", s);
    } else if (memcmp(src, back, kSize) != 0) {
      snprintf(j->base.error, sizeof(j->base.error),
               "context %u, iteration %d: other bytes read back", j->base.id,
               it);
    }
  }
done:
  if (stream) t->stream_destroy(stream);
  if (a) t->buffer_free(dev, a);
  if (b) t->buffer_free(dev, b);
  free(src);
  free(back);
  for (uint32_t i = 0; i < CTS_DIRECT_MAX_DEVICES; ++i) {
    if (d->devices[i]) t->device_close(d->devices[i]);
    d->devices[i] = NULL;
  }
  t->shutdown(d->context);
  d->initialized = 0;
  return NULL;
}

static void test_two_contexts_threads(cts_ctx_t* ctx) {
  context_job_t jobs[2];
  memset(jobs, 0, sizeof(jobs));
  /* The context threads shut their contexts down themselves. */
  cts_teardown_guard();
  for (uint32_t i = 0; i < 2; ++i) {
    char why[512];
    if (cts_direct_load(ctx->run->path, &jobs[i].direct, why, sizeof(why)) !=
        XHAL_OK)
      cts_fail("load %u: %s", i, why);
    jobs[i].base.id = i;
    jobs[i].base.seed = cts_rand(ctx);
  }
  for (uint32_t i = 0; i < 2; ++i) {
    if (pthread_create(&jobs[i].base.thread, NULL, context_main, &jobs[i]) != 0)
      cts_fail("cannot start a thread");
  }
  for (uint32_t i = 0; i < 2; ++i) {
    cts_step("joining context thread %u", i);
    pthread_join(jobs[i].base.thread, NULL);
  }
  for (uint32_t i = 0; i < 2; ++i) {
    cts_check(jobs[i].base.error[0] == '\0', "%s", jobs[i].base.error);
    cts_direct_close(jobs[i].direct);
  }
}

static const cts_test_t kTests[] = {
    {"threads_streams", "R-THR-1", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_threads_streams, 2.0},
    {"event_wait_while_recording", "R-THR-2", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_event_wait_while_recording, 0},
    {"shared_stream_ordered", "R-THR-3", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_shared_stream_ordered, 0},
    {"create_destroy", "R-THR-4", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_create_destroy, 0},
    {"two_contexts_threads", "R-THR-5", CTS_PROFILE_CORE, CTS_NEED_NONE,
     test_two_contexts_threads, 0},
    {"event_many_waiters", "R-THR-2", CTS_PROFILE_CORE, CTS_NEED_WAIT_EVENT,
     test_event_many_waiters, 0},
};

const cts_suite_t cts_suite_concurrency = {"concurrency", kTests,
                                           sizeof(kTests) / sizeof(kTests[0])};
