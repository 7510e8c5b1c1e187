/* trace.c - the Chrome trace-event JSON writer (see trace.h). */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct tracer {
  pthread_mutex_t lock;
  FILE* file;
  uint64_t origin_ns;
  uint32_t next_track;
  int first; /* no event written yet: no comma before the next */
};

enum { kHostPid = 1, kStreamPid = 2 };

uint64_t tracer_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Writes one event object; called with the lock held. */
static void emit(tracer_t* tracer, const char* json) {
  fprintf(tracer->file, "%s\n%s", tracer->first ? "" : ",", json);
  tracer->first = 0;
}

tracer_t* tracer_open(const char* path) {
  tracer_t* tracer = calloc(1, sizeof(*tracer));
  if (!tracer) return NULL;
  /* O_NONBLOCK: a FIFO nobody reads fails with ENXIO instead of
   * blocking the caller; blocking writes are restored once open. */
  int fd = open(
      path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
      0666);
  int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
  if (flags >= 0) flags = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  tracer->file = flags >= 0 ? fdopen(fd, "w") : NULL;
  if (!tracer->file) {
    int err = errno;
    if (fd >= 0) close(fd);
    free(tracer);
    errno = err;
    return NULL;
  }
  pthread_mutex_init(&tracer->lock, NULL);
  tracer->origin_ns = tracer_now_ns();
  tracer->next_track = 1;
  tracer->first = 1;
  fputs("{\"displayTimeUnit\": \"ns\", \"traceEvents\": [", tracer->file);
  char line[160];
  snprintf(line, sizeof(line),
           "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": %d, "
           "\"args\": {\"name\": \"host\"}}",
           kHostPid);
  emit(tracer, line);
  snprintf(line, sizeof(line),
           "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": %d, "
           "\"args\": {\"name\": \"streams\"}}",
           kStreamPid);
  emit(tracer, line);
  return tracer;
}

void tracer_close(tracer_t* tracer) {
  if (!tracer) return;
  fputs("\n]}\n", tracer->file);
  fclose(tracer->file);
  pthread_mutex_destroy(&tracer->lock);
  free(tracer);
}

static double us_since(const tracer_t* tracer, uint64_t ns) {
  return ns >= tracer->origin_ns ? (double)(ns - tracer->origin_ns) / 1000.0
                                 : 0.0;
}

static void complete_event(tracer_t* tracer, int pid, long tid,
                           const char* category, const char* name,
                           uint64_t start_ns, uint64_t end_ns) {
  char line[384];
  if (end_ns < start_ns) end_ns = start_ns;
  snprintf(line, sizeof(line),
           "{\"name\": \"%s\", \"cat\": \"%s\", \"ph\": \"X\", \"pid\": %d, "
           "\"tid\": %ld, \"ts\": %.3f, \"dur\": %.3f}",
           name, category, pid, tid, us_since(tracer, start_ns),
           (double)(end_ns - start_ns) / 1000.0);
  pthread_mutex_lock(&tracer->lock);
  emit(tracer, line);
  pthread_mutex_unlock(&tracer->lock);
}

void tracer_api(tracer_t* tracer, const char* name, uint64_t start_ns,
                uint64_t end_ns) {
  complete_event(tracer, kHostPid, (long)syscall(SYS_gettid), "api", name,
                 start_ns, end_ns);
}

uint32_t tracer_new_track(tracer_t* tracer, const char* name) {
  char line[384];
  pthread_mutex_lock(&tracer->lock);
  uint32_t track = tracer->next_track++;
  snprintf(line, sizeof(line),
           "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": %d, "
           "\"tid\": %u, \"args\": {\"name\": \"%s\"}}",
           kStreamPid, track, name);
  emit(tracer, line);
  pthread_mutex_unlock(&tracer->lock);
  return track;
}

void tracer_op(tracer_t* tracer, uint32_t track, const char* name,
               uint64_t start_ns, uint64_t end_ns) {
  complete_event(tracer, kStreamPid, (long)track, "op", name, start_ns, end_ns);
}
