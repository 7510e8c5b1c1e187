/*
 * cpu_fence.c - the membarrier() side of the asymmetric fence
 * (cpu_fence.h). Linux only; elsewhere the fallback is always used.
 */
#define _GNU_SOURCE

#include "cpu_fence.h"

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

int cpu_fence_asymmetric_available(void) {
#if defined(__linux__) && defined(SYS_membarrier)
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return 0;
  /* Registration is per process and idempotent: a second context, or
   * another library doing the same, changes nothing. */
  return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
                 0) == 0;
#else
  return 0;
#endif
}

void cpu_fence_heavy(void) {
#if defined(__linux__) && defined(SYS_membarrier)
  /* Cannot fail once registration succeeded. */
  (void)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#endif
}
