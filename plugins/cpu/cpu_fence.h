/*
 * cpu_fence.h - the "publish, then check whether the other side parked"
 * handshake, made cheap for the side that runs on every launch.
 *
 * Every hand-off in the plugin (enqueue -> stream worker, worker ->
 * synchronizer, job -> pool helper) is a Dekker pair: the publisher
 * stores its data and then reads the other side's "parked" flag; the
 * parker stores its flag and then re-reads the data. Both sides need a
 * store-load barrier, but only the parker is rare (it parks after a spin
 * budget). With an asymmetric fence the frequent side pays nothing but a
 * compiler barrier, and the parker pays a membarrier() system call, which
 * makes every running thread of the process execute a full barrier. Where
 * the kernel lacks expedited private membarrier, both sides fall back to
 * sequentially consistent atomics (a locked instruction per publish).
 *
 * Whichever mode a context runs in is decided once at init; every
 * handshake of that context uses the same mode on both sides.
 */
#ifndef XHAL_CPU_FENCE_H_
#define XHAL_CPU_FENCE_H_

#include <stdatomic.h>
#include <stdint.h>

/* Registers the process for expedited private membarrier (idempotent,
 * per process). Returns 1 when the asymmetric mode is usable, 0 when the
 * fallback must be used. */
int cpu_fence_asymmetric_available(void);

/* The parker's side: a full barrier on every thread of the process. Only
 * called in asymmetric mode. */
void cpu_fence_heavy(void);

/* The publisher's side: stores `value` (release), then the fence that
 * orders it before the publisher's next load of the parked flag. */
static inline void cpu_publish_u64(_Atomic uint64_t* where, uint64_t value,
                                   int asymmetric) {
  if (asymmetric) {
    atomic_store_explicit(where, value, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
  } else {
    atomic_store(where, value);
  }
}

/* The publisher's read of the other side's parked flag or wake mark. */
static inline uint32_t cpu_peek_u32(_Atomic uint32_t* where, int asymmetric) {
  return asymmetric ? atomic_load_explicit(where, memory_order_relaxed)
                    : atomic_load(where);
}
static inline uint64_t cpu_peek_u64(_Atomic uint64_t* where, int asymmetric) {
  return asymmetric ? atomic_load_explicit(where, memory_order_relaxed)
                    : atomic_load(where);
}

/* The parker's side, between storing its flag (seq_cst) and re-reading
 * the data (seq_cst). */
static inline void cpu_fence_parker(int asymmetric) {
  if (asymmetric) cpu_fence_heavy();
}

#endif /* XHAL_CPU_FENCE_H_ */
