/*
 * stress_test.c - threads x streams x mixed work across every loaded
 * plugin, for a bounded time and a bounded count, with every result
 * checked (docs/reliability.md, "Sanitizers, fuzzing and stress").
 *
 * Each thread owns `streams` streams, spread over all devices of all
 * plugins the build made (CPU always; NPU and OpenCL when present). It
 * enqueues work items in batches of DEPTH: a copy, an ADD operator, a
 * fill, or a cross-stream event hand-off (write on one stream, record an
 * event, wait for it on another stream, possibly of another device, copy
 * across). Every item writes a pattern unique to its id into its own
 * slot, and a host function appends the id to the stream's log. After
 * each batch the thread waits (bounded) and checks every slot and the
 * log: no lost, duplicated or reordered work.
 *
 * A watchdog thread fails the test when the count of checked items stops
 * moving for `stall` seconds: it prints what each thread was waiting on
 * (phase, device, stream, item) and exits with status 2, never hanging.
 *
 * Options (argv, or the environment when absent):
 *   --seconds S   XHAL_STRESS_SECONDS   run time bound (default 20)
 *   --items N     XHAL_STRESS_ITEMS     total item bound (default 200000)
 *   --threads T   XHAL_STRESS_THREADS   worker threads (default 4)
 *   --streams M   XHAL_STRESS_STREAMS   streams per thread (default 2)
 *   --stall W     XHAL_STRESS_STALL     watchdog seconds (default 20)
 *   --plugins L   XHAL_STRESS_PLUGINS   comma list of plugin names to use
 *                                       (default: every loaded plugin)
 * Exit status: 0 pass, 1 a wrong result or a failed call, 2 a stall.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xhal/xhal.h>

#define DEPTH 4u   /* items in flight per stream */
#define ELEMS 256u /* 32-bit elements per slot */
#define MAX_DEVICES 16u
#define MAX_STREAMS 16u
#define WAIT_SLICE_NS 100000000ull
#define LOG_CAP 64u

enum kind { KIND_COPY, KIND_ADD, KIND_FILL, KIND_EVENT, KIND_COUNT };
static const char* const kKindName[KIND_COUNT] = {"copy", "add", "fill",
                                                  "event"};

enum phase {
  PHASE_SETUP,
  PHASE_ENQUEUE,
  PHASE_WAIT_EVENT,
  PHASE_SYNC,
  PHASE_CHECK,
  PHASE_DONE,
};
static const char* const kPhaseName[] = {"setting up",
                                         "enqueueing",
                                         "waiting on the batch's event",
                                         "synchronizing the stream",
                                         "checking results",
                                         "done"};

typedef struct options {
  double seconds;
  uint64_t items;
  unsigned threads;
  unsigned streams;
  double stall;
  const char* plugins;
} options_t;

/* One stream of a worker and the buffers its items use. */
typedef struct lane {
  xhal_device_t device;
  uint32_t device_index;
  int has_add;
  xhal_stream_t stream;
  xhal_event_t event;
  xhal_buffer_t a, b, c; /* DEPTH slots of ELEMS each */
  uint32_t host_in[DEPTH][ELEMS];
  uint32_t host_out[DEPTH][ELEMS];
  /* Ids appended by host functions, in stream order. */
  pthread_mutex_t log_lock;
  uint64_t log[LOG_CAP];
  uint32_t log_count;
} lane_t;

typedef struct worker {
  unsigned index;
  pthread_t thread;
  lane_t lanes[MAX_STREAMS];
  unsigned lane_count;
  /* What the worker is doing, for the watchdog's dump. */
  _Atomic int phase;
  _Atomic unsigned lane;
  _Atomic uint64_t item;
  _Atomic int kind;
  uint64_t checked[KIND_COUNT];
  int failed;
} worker_t;

static options_t g_opt;
static xhal_device_t g_devices[MAX_DEVICES];
static uint32_t g_device_count;
static atomic_uint_fast64_t g_next_item;
static atomic_uint_fast64_t g_progress;
static atomic_int g_stop;
static atomic_int g_failed;
static double g_start;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(worker_t* w, const char* fmt, const char* detail,
                 xhal_status_t s) {
  fprintf(stderr, "stress: thread %u lane %u item %llu: %s %s: %s (%s)\n",
          w->index, atomic_load(&w->lane),
          (unsigned long long)atomic_load(&w->item), fmt, detail,
          xhal_status_name(s), s == XHAL_OK ? "" : xhal_last_error());
  w->failed = 1;
  atomic_store(&g_failed, 1);
  atomic_store(&g_stop, 1);
}

#define CALL(w, expr)                       \
  do {                                      \
    xhal_status_t s_ = (expr);              \
    if (s_ != XHAL_OK) {                    \
      fail((w), "call failed:", #expr, s_); \
      return -1;                            \
    }                                       \
  } while (0)

typedef struct log_entry {
  lane_t* lane;
  uint64_t id;
} log_entry_t;

static log_entry_t g_log_args[64][MAX_STREAMS][DEPTH];

static xhal_status_t append_log(void* user) {
  log_entry_t* e = user;
  pthread_mutex_lock(&e->lane->log_lock);
  if (e->lane->log_count < LOG_CAP) e->lane->log[e->lane->log_count] = e->id;
  e->lane->log_count++;
  pthread_mutex_unlock(&e->lane->log_lock);
  return XHAL_OK;
}

/* The value element j of item `id` must hold when checked. */
static uint32_t expected(enum kind k, uint64_t id, uint32_t j) {
  switch (k) {
    case KIND_ADD: {
      float f = (float)(id % 65536u) + (float)j;
      uint32_t u;
      memcpy(&u, &f, sizeof(u));
      return u;
    }
    case KIND_FILL:
      return (uint32_t)(id * 2654435761u) | 1u;
    default:
      return (uint32_t)(id << 8) ^ (j * 40503u);
  }
}

static void set_op_tensor(xhal_tensor_t* t, xhal_buffer_t buffer,
                          uint64_t offset) {
  t->desc.dtype = XHAL_DTYPE_F32;
  t->desc.rank = 1;
  t->desc.dims[0] = ELEMS;
  t->buffer = buffer;
  t->offset = offset;
}

static xhal_status_t enqueue_add(lane_t* l, uint64_t offset) {
  xhal_op_call_t call;
  xhal_op_call_init(&call, XHAL_OP_ADD);
  call.num_inputs = 2;
  call.num_outputs = 1;
  set_op_tensor(&call.inputs[0], l->a, offset);
  set_op_tensor(&call.inputs[1], l->b, offset);
  set_op_tensor(&call.outputs[0], l->c, offset);
  return xhal_stream_enqueue_op(l->stream, NULL, &call);
}

/* Enqueues item `id` of kind `k` into slot `slot` of lane `li`. */
static int enqueue_item(worker_t* w, unsigned li, unsigned slot, uint64_t id,
                        enum kind k) {
  lane_t* l = &w->lanes[li];
  uint64_t off = (uint64_t)slot * ELEMS * 4u;
  uint64_t bytes = ELEMS * 4u;
  if (k == KIND_ADD && !l->has_add) k = KIND_COPY;
  atomic_store(&w->kind, (int)k);
  switch (k) {
    case KIND_COPY:
      for (uint32_t j = 0; j < ELEMS; ++j)
        l->host_in[slot][j] = expected(k, id, j);
      CALL(w, xhal_stream_enqueue_write(l->stream, l->a, off, l->host_in[slot],
                                        bytes));
      CALL(w, xhal_stream_enqueue_copy(l->stream, l->a, off, l->c, off, bytes));
      break;
    case KIND_ADD:
      for (uint32_t j = 0; j < ELEMS; ++j) {
        float f = (float)(id % 65536u);
        memcpy(&l->host_in[slot][j], &f, 4);
      }
      CALL(w, xhal_stream_enqueue_write(l->stream, l->a, off, l->host_in[slot],
                                        bytes));
      CALL(w, enqueue_add(l, off));
      break;
    case KIND_FILL: {
      uint32_t pattern = expected(k, id, 0);
      CALL(w,
           xhal_stream_enqueue_fill(l->stream, l->c, off, bytes, &pattern, 4));
      break;
    }
    default: {
      /* Produced on the next lane (maybe another device), handed over by
       * an event, copied across on this one. */
      lane_t* p = &w->lanes[(li + 1) % w->lane_count];
      for (uint32_t j = 0; j < ELEMS; ++j)
        l->host_in[slot][j] = expected(k, id, j);
      if (p == l) {
        CALL(w, xhal_stream_enqueue_write(l->stream, l->a, off,
                                          l->host_in[slot], bytes));
        CALL(w,
             xhal_stream_enqueue_copy(l->stream, l->a, off, l->c, off, bytes));
        break;
      }
      /* The producer's own slots are busy with its batch: use a's upper
       * copy in the producer's b buffer, which only ADD reads, after the
       * producer's earlier work (stream order). */
      CALL(w, xhal_stream_enqueue_write(p->stream, p->b, off + DEPTH * bytes,
                                        l->host_in[slot], bytes));
      xhal_event_t e = NULL;
      CALL(w, xhal_event_create(p->device, &e));
      xhal_status_t s = xhal_stream_record_event(p->stream, e);
      if (s == XHAL_OK) s = xhal_stream_wait_event(l->stream, e);
      if (s == XHAL_OK) {
        s = xhal_stream_enqueue_copy(l->stream, p->b, off + DEPTH * bytes, l->c,
                                     off, bytes);
      }
      /* The producer must not overwrite the staging slot before the copy
       * ran: it waits for an event of this lane. */
      xhal_event_t back = NULL;
      if (s == XHAL_OK) s = xhal_event_create(l->device, &back);
      if (s == XHAL_OK) s = xhal_stream_record_event(l->stream, back);
      if (s == XHAL_OK) s = xhal_stream_wait_event(p->stream, back);
      xhal_event_release(back);
      xhal_event_release(e);
      if (s != XHAL_OK) {
        fail(w, "call failed:", "event hand-off", s);
        return -1;
      }
      break;
    }
  }
  CALL(w, xhal_stream_enqueue_read(l->stream, l->c, off, l->host_out[slot],
                                   bytes));
  log_entry_t* e = &g_log_args[w->index][li][slot];
  e->lane = l;
  e->id = id;
  CALL(w, xhal_stream_enqueue_host_func(l->stream, append_log, e));
  return 0;
}

/* Waits for a lane's batch in slices, so the watchdog sees where. */
static int wait_lane(worker_t* w, lane_t* l) {
  atomic_store(&w->phase, PHASE_WAIT_EVENT);
  CALL(w, xhal_stream_record_event(l->stream, l->event));
  for (;;) {
    xhal_status_t s = xhal_event_wait(l->event, WAIT_SLICE_NS);
    if (s == XHAL_OK) break;
    if (s != XHAL_ERROR_TIMEOUT) {
      fail(w, "call failed:", "xhal_event_wait", s);
      return -1;
    }
  }
  atomic_store(&w->phase, PHASE_SYNC);
  CALL(w, xhal_stream_synchronize(l->stream));
  return 0;
}

static void* worker_main(void* arg) {
  worker_t* w = arg;
  uint64_t ids[MAX_STREAMS][DEPTH];
  enum kind kinds[MAX_STREAMS][DEPTH];
  while (!atomic_load(&g_stop)) {
    if (now_s() - g_start >= g_opt.seconds) break;
    atomic_store(&w->phase, PHASE_ENQUEUE);
    unsigned filled[MAX_STREAMS] = {0};
    for (unsigned li = 0; li < w->lane_count; ++li) {
      atomic_store(&w->lane, li);
      pthread_mutex_lock(&w->lanes[li].log_lock);
      w->lanes[li].log_count = 0;
      pthread_mutex_unlock(&w->lanes[li].log_lock);
      for (unsigned slot = 0; slot < DEPTH; ++slot) {
        uint64_t id = atomic_fetch_add(&g_next_item, 1);
        if (id >= g_opt.items) break;
        enum kind k = (enum kind)((id * 7u + li) % KIND_COUNT);
        if (k == KIND_ADD && !w->lanes[li].has_add) k = KIND_COPY;
        atomic_store(&w->item, id);
        ids[li][slot] = id;
        kinds[li][slot] = k;
        if (enqueue_item(w, li, slot, id, k) != 0) return NULL;
        filled[li] = slot + 1;
      }
    }
    unsigned total = 0;
    for (unsigned li = 0; li < w->lane_count; ++li) {
      atomic_store(&w->lane, li);
      if (wait_lane(w, &w->lanes[li]) != 0) return NULL;
      total += filled[li];
    }
    if (total == 0) break;
    atomic_store(&w->phase, PHASE_CHECK);
    for (unsigned li = 0; li < w->lane_count; ++li) {
      lane_t* l = &w->lanes[li];
      atomic_store(&w->lane, li);
      pthread_mutex_lock(&l->log_lock);
      uint32_t count = l->log_count;
      pthread_mutex_unlock(&l->log_lock);
      if (count != filled[li]) {
        fprintf(stderr,
                "stress: thread %u lane %u: %u host functions ran for %u items "
                "(lost or duplicated work)\n",
                w->index, li, count, filled[li]);
        w->failed = 1;
        atomic_store(&g_failed, 1);
        atomic_store(&g_stop, 1);
        return NULL;
      }
      for (unsigned slot = 0; slot < filled[li]; ++slot) {
        uint64_t id = ids[li][slot];
        enum kind k = kinds[li][slot];
        atomic_store(&w->item, id);
        if (l->log[slot] != id) {
          fprintf(stderr,
                  "stress: thread %u lane %u: item %llu ran in place of %llu "
                  "(reordered work)\n",
                  w->index, li, (unsigned long long)l->log[slot],
                  (unsigned long long)id);
          w->failed = 1;
          atomic_store(&g_failed, 1);
          atomic_store(&g_stop, 1);
          return NULL;
        }
        for (uint32_t j = 0; j < ELEMS; ++j) {
          uint32_t want = expected(k, id, j);
          if (l->host_out[slot][j] != want) {
            fprintf(stderr,
                    "stress: thread %u lane %u (device %u, %s): %s item %llu "
                    "element %u is 0x%08x, expected 0x%08x\n",
                    w->index, li, l->device_index,
                    xhal_device_plugin_name(l->device), kKindName[k],
                    (unsigned long long)id, j, l->host_out[slot][j], want);
            w->failed = 1;
            atomic_store(&g_failed, 1);
            atomic_store(&g_stop, 1);
            return NULL;
          }
        }
        memset(l->host_out[slot], 0, sizeof(l->host_out[slot]));
        w->checked[k]++;
        atomic_fetch_add(&g_progress, 1);
      }
    }
  }
  atomic_store(&w->phase, PHASE_DONE);
  return NULL;
}

static worker_t* g_workers;

static void* watchdog_main(void* arg) {
  (void)arg;
  uint64_t last = atomic_load(&g_progress);
  double since = now_s();
  while (!atomic_load(&g_stop)) {
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    uint64_t p = atomic_load(&g_progress);
    if (p != last) {
      last = p;
      since = now_s();
      continue;
    }
    if (now_s() - since < g_opt.stall) continue;
    fprintf(stderr,
            "stress: no progress for %.0f s (%llu items checked); what each "
            "thread waits on:\n",
            g_opt.stall, (unsigned long long)p);
    for (unsigned t = 0; t < g_opt.threads; ++t) {
      worker_t* w = &g_workers[t];
      unsigned li = atomic_load(&w->lane);
      lane_t* l = &w->lanes[li < w->lane_count ? li : 0];
      fprintf(stderr,
              "  thread %u: %s; lane %u = stream %p event %p on device %u "
              "(%s); item %llu (%s)\n",
              t, kPhaseName[atomic_load(&w->phase)], li, (void*)l->stream,
              (void*)l->event, l->device_index,
              xhal_device_plugin_name(l->device),
              (unsigned long long)atomic_load(&w->item),
              kKindName[atomic_load(&w->kind)]);
    }
    fflush(stderr);
    _exit(2);
  }
  return NULL;
}

static int plugin_selected(const char* name) {
  if (!g_opt.plugins || !*g_opt.plugins) return 1;
  size_t n = strlen(name);
  for (const char* p = g_opt.plugins; *p;) {
    const char* comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0) return 1;
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

/* Whether the device runs ADD on f32 (the NPU or OpenCL may not). */
static int probe_add(lane_t* l) {
  xhal_status_t s = enqueue_add(l, 0);
  if (s == XHAL_OK) s = xhal_stream_synchronize(l->stream);
  return s == XHAL_OK;
}

static int setup_lane(worker_t* w, lane_t* l, uint32_t device_index) {
  uint64_t bytes = (uint64_t)DEPTH * ELEMS * 4u;
  l->device = g_devices[device_index];
  l->device_index = device_index;
  pthread_mutex_init(&l->log_lock, NULL);
  CALL(w, xhal_stream_create(l->device, &l->stream));
  CALL(w, xhal_event_create(l->device, &l->event));
  CALL(w, xhal_buffer_alloc(l->device, bytes, 0, &l->a));
  CALL(w, xhal_buffer_alloc(l->device, 2 * bytes, 0, &l->b));
  CALL(w, xhal_buffer_alloc(l->device, bytes, 0, &l->c));
  /* b holds j (the ADD's second operand) in every slot. */
  static float ramp[DEPTH * ELEMS];
  for (uint32_t i = 0; i < DEPTH * ELEMS; ++i) ramp[i] = (float)(i % ELEMS);
  CALL(w, xhal_stream_enqueue_write(l->stream, l->b, 0, ramp, bytes));
  CALL(w, xhal_stream_synchronize(l->stream));
  l->has_add = probe_add(l);
  return 0;
}

static void release_lane(lane_t* l) {
  if (l->stream && xhal_stream_synchronize(l->stream) != XHAL_OK) {
    fprintf(stderr, "stress: final synchronize: %s\n", xhal_last_error());
  }
  xhal_stream_release(l->stream);
  xhal_event_release(l->event);
  xhal_buffer_release(l->a);
  xhal_buffer_release(l->b);
  xhal_buffer_release(l->c);
  pthread_mutex_destroy(&l->log_lock);
}

static double opt_number(int argc, char** argv, const char* flag,
                         const char* env, double fallback) {
  const char* v = NULL;
  for (int i = 1; i + 1 < argc; ++i) {
    if (strcmp(argv[i], flag) == 0) v = argv[i + 1];
  }
  if (!v) v = getenv(env);
  if (!v || !*v) return fallback;
  char* end = NULL;
  double d = strtod(v, &end);
  if (!end || *end || d <= 0) {
    fprintf(stderr, "stress: %s/%s: '%s' is not a positive number\n", flag, env,
            v);
    exit(1);
  }
  return d;
}

int main(int argc, char** argv) {
  g_opt.seconds =
      opt_number(argc, argv, "--seconds", "XHAL_STRESS_SECONDS", 20);
  g_opt.items =
      (uint64_t)opt_number(argc, argv, "--items", "XHAL_STRESS_ITEMS", 200000);
  g_opt.threads =
      (unsigned)opt_number(argc, argv, "--threads", "XHAL_STRESS_THREADS", 4);
  g_opt.streams =
      (unsigned)opt_number(argc, argv, "--streams", "XHAL_STRESS_STREAMS", 2);
  g_opt.stall = opt_number(argc, argv, "--stall", "XHAL_STRESS_STALL", 20);
  g_opt.plugins = getenv("XHAL_STRESS_PLUGINS");
  for (int i = 1; i + 1 < argc; ++i) {
    if (strcmp(argv[i], "--plugins") == 0) g_opt.plugins = argv[i + 1];
  }
  if (g_opt.threads > 64) g_opt.threads = 64;
  if (g_opt.streams > MAX_STREAMS) g_opt.streams = MAX_STREAMS;

  static const char* const dirs[] = {XHAL_STRESS_PLUGIN_DIR};
  xhal_instance_options_t opt;
  xhal_instance_options_default(&opt);
  opt.ignore_environment = 1;
  opt.search_dirs = dirs;
  opt.search_dir_count = 1;
  xhal_instance_t instance = NULL;
  if (xhal_instance_create(&opt, &instance) != XHAL_OK) {
    fprintf(stderr, "stress: instance: %s\n", xhal_last_error());
    return 1;
  }
  uint32_t count = 0;
  if (xhal_instance_device_count(instance, &count) != XHAL_OK) return 1;
  for (uint32_t i = 0; i < count && g_device_count < MAX_DEVICES; ++i) {
    xhal_device_t d = NULL;
    if (xhal_instance_device(instance, i, &d) != XHAL_OK) return 1;
    if (!plugin_selected(xhal_device_plugin_name(d))) continue;
    g_devices[g_device_count++] = d;
    printf("stress: device %u: %s\n", g_device_count - 1,
           xhal_device_plugin_name(d));
  }
  if (g_device_count == 0) {
    fprintf(stderr, "stress: no device (plugins '%s')\n",
            g_opt.plugins ? g_opt.plugins : "*");
    xhal_instance_release(instance);
    return 1;
  }

  g_workers = calloc(g_opt.threads, sizeof(*g_workers));
  if (!g_workers) return 1;
  unsigned next_device = 0;
  for (unsigned t = 0; t < g_opt.threads; ++t) {
    worker_t* w = &g_workers[t];
    w->index = t;
    w->lane_count = g_opt.streams;
    for (unsigned m = 0; m < w->lane_count; ++m) {
      if (setup_lane(w, &w->lanes[m], next_device++ % g_device_count) != 0) {
        return 1;
      }
    }
  }
  for (uint32_t d = 0; d < g_device_count; ++d) {
    const lane_t* seen = NULL;
    for (unsigned t = 0; t < g_opt.threads && !seen; ++t) {
      for (unsigned m = 0; m < g_workers[t].lane_count && !seen; ++m) {
        if (g_workers[t].lanes[m].device_index == d) {
          seen = &g_workers[t].lanes[m];
        }
      }
    }
    if (seen) {
      printf("stress: device %u runs ADD: %s\n", d,
             seen->has_add ? "yes" : "no (copies instead)");
    }
  }
  printf(
      "stress: %u threads x %u streams over %u devices, %.0f s or %llu "
      "items\n",
      g_opt.threads, g_opt.streams, g_device_count, g_opt.seconds,
      (unsigned long long)g_opt.items);
  fflush(stdout);

  g_start = now_s();
  pthread_t dog;
  pthread_create(&dog, NULL, watchdog_main, NULL);
  for (unsigned t = 0; t < g_opt.threads; ++t) {
    pthread_create(&g_workers[t].thread, NULL, worker_main, &g_workers[t]);
  }
  for (unsigned t = 0; t < g_opt.threads; ++t) {
    pthread_join(g_workers[t].thread, NULL);
  }
  atomic_store(&g_stop, 1);
  pthread_join(dog, NULL);

  uint64_t per_kind[KIND_COUNT] = {0}, total = 0;
  for (unsigned t = 0; t < g_opt.threads; ++t) {
    for (int k = 0; k < KIND_COUNT; ++k) per_kind[k] += g_workers[t].checked[k];
    for (unsigned m = 0; m < g_workers[t].lane_count; ++m) {
      release_lane(&g_workers[t].lanes[m]);
    }
  }
  for (int k = 0; k < KIND_COUNT; ++k) total += per_kind[k];
  double elapsed = now_s() - g_start;
  printf(
      "stress: %llu items checked in %.1f s (copy %llu, add %llu, fill "
      "%llu, event %llu), %llu bytes verified: %s\n",
      (unsigned long long)total, elapsed, (unsigned long long)per_kind[0],
      (unsigned long long)per_kind[1], (unsigned long long)per_kind[2],
      (unsigned long long)per_kind[3], (unsigned long long)(total * ELEMS * 4u),
      atomic_load(&g_failed) ? "FAILED" : "ok");
  free(g_workers);
  xhal_instance_release(instance);
  if (atomic_load(&g_failed)) return 1;
  if (total == 0) {
    fprintf(stderr, "stress: no item was checked\n");
    return 1;
  }
  return 0;
}
