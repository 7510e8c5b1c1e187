/*
 * raw_handoff.h - the raw baselines of the CPU plugin's launch figures:
 * one worker thread fed directly through shared memory, with no HAL in
 * between.
 *
 * The worker spins briefly when idle, then parks on a condition variable,
 * and the producer signals it only when it has parked: on 2-vCPU VMs
 * waking a parked thread costs tens of microseconds and a spinning one
 * notices work in well under one, so this is the best honest version of
 * a hand-off (docs/performance.md). Its spin budget is the CPU plugin's.
 *
 *  - raw_handoff_run: one task, then wait for it (launch latency);
 *  - raw_handoff_push + raw_handoff_wait: a single-producer ring of
 *    tasks, as a thread-pool queue drains them (launch throughput).
 */
#ifndef XHAL_BENCH_RAW_HANDOFF_H_
#define XHAL_BENCH_RAW_HANDOFF_H_

#include <stdint.h>

typedef void (*raw_task_fn)(void* arg);

typedef struct raw_handoff raw_handoff_t;

/* Starts the worker; NULL when it cannot. */
raw_handoff_t* raw_handoff_create(void);
/* Stops and joins the worker. */
void raw_handoff_destroy(raw_handoff_t* h);

/* Queues fn(arg). At most raw_handoff_capacity() tasks may be queued
 * between two waits. */
void raw_handoff_push(raw_handoff_t* h, raw_task_fn fn, void* arg);
/* Waits until every queued task has run (spin, then park). */
void raw_handoff_wait(raw_handoff_t* h);
/* Queues one task and waits for it. */
void raw_handoff_run(raw_handoff_t* h, raw_task_fn fn, void* arg);
uint32_t raw_handoff_capacity(void);

#endif /* XHAL_BENCH_RAW_HANDOFF_H_ */
