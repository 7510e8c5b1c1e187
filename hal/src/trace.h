/*
 * trace.h - Chrome trace-event JSON output (XHAL_TRACE=file or the
 * instance option trace_file), readable by Perfetto and chrome://tracing.
 *
 * Process 1 ("host") has one track per host thread with a complete event
 * per API call; process 2 ("streams") has one track per stream with a
 * complete event per enqueued operation, timed in stream order on the host
 * clock by host functions placed around it. Off by default: every hook
 * is one predictable branch on a NULL tracer.
 */
#ifndef XHAL_HAL_TRACE_H_
#define XHAL_HAL_TRACE_H_

#include <stdint.h>
#include <xhal/xhal_types.h>

typedef struct tracer tracer_t;

/* Opens `path` for writing without blocking on it (a FIFO nobody reads
 * fails with ENXIO); NULL with errno set on failure (the caller says
 * so). */
tracer_t* tracer_open(const char* path);
/* Writes the closing bracket and closes the file. NULL is a no-op. */
void tracer_close(tracer_t* tracer);
/* Monotonic nanoseconds. */
uint64_t tracer_now_ns(void);
/* One API call on the calling thread's track. */
void tracer_api(tracer_t* tracer, const char* name, uint64_t start_ns,
                uint64_t end_ns);
/* A new stream track named `name`; returns its track id. */
uint32_t tracer_new_track(tracer_t* tracer, const char* name);
/* One operation on a stream track. */
void tracer_op(tracer_t* tracer, uint32_t track, const char* name,
               uint64_t start_ns, uint64_t end_ns);

#endif /* XHAL_HAL_TRACE_H_ */
