/*
 * cpu_spin.h - the spin-then-park policy shared by the CPU plugin's
 * threads (stream workers, pool helpers, host threads waiting in
 * stream_synchronize or event_wait).
 *
 * Why spin at all: on the machines this plugin targets, waking a thread
 * parked on a condition variable costs tens of microseconds, while a
 * spinning thread notices new work in well under a microsecond. Every
 * waiter therefore polls for a short budget first and only then parks, and
 * every producer signals a condition variable only when it sees that the
 * other side has actually parked (so the common, awake case costs no
 * syscall at all).
 *
 * The budget is about the cost of one park/wake round trip: spinning
 * longer than that cannot win back more than it burns (the classic
 * competitive-spinning bound), spinning much less makes every short gap
 * between two launches pay the full wake-up cost.
 */
#ifndef XHAL_CPU_SPIN_H_
#define XHAL_CPU_SPIN_H_

#include <stdint.h>
#include <time.h>

/* Data one thread writes while another polls it must not share a cache
 * line with the poller's other data, nor the neighbouring line: x86 cores
 * prefetch lines in aligned 128-byte pairs, so a hot line's pair partner
 * moves along with it. */
#define CPU_FALSE_SHARING_BYTES 128

/* How long an idle thread polls before it parks, in nanoseconds. */
#define CPU_SPIN_BUDGET_NS 50000u

/* Pauses checked between two clock reads: reading the clock on every
 * iteration would dominate a pause, and the budget need not be exact. */
#define CPU_SPIN_CLOCK_EVERY 64u

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  __asm__ __volatile__("" ::: "memory");
#endif
}

static inline uint64_t cpu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One bounded spin. The clock is first read only after
 * CPU_SPIN_CLOCK_EVERY pauses, so a wait that ends quickly (the hot case)
 * never reads it. */
typedef struct cpu_spinner {
  uint32_t iter;
  uint64_t start_ns;
  uint64_t budget_ns;
} cpu_spinner_t;

static inline void cpu_spinner_init(cpu_spinner_t* spinner,
                                    uint64_t budget_ns) {
  spinner->iter = 0;
  spinner->start_ns = 0;
  spinner->budget_ns = budget_ns;
}

/* Pauses once. Returns 1 while the budget lasts, 0 once it is spent. */
static inline int cpu_spinner_pause(cpu_spinner_t* spinner) {
  uint64_t now;
  cpu_relax();
  if ((++spinner->iter % CPU_SPIN_CLOCK_EVERY) != 0) return 1;
  now = cpu_now_ns();
  if (spinner->start_ns == 0) {
    spinner->start_ns = now;
    return spinner->budget_ns != 0;
  }
  return now - spinner->start_ns < spinner->budget_ns;
}

#endif /* XHAL_CPU_SPIN_H_ */
