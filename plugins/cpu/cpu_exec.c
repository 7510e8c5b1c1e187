/*
 * cpu_exec.c - what the stream worker does with each ring command.
 *
 * A stream that has failed skips its later commands, with two
 * exceptions that keep failures from turning into hangs: an event record
 * still completes (carrying the failure to every waiter), and every
 * command still drops the event references it holds.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_spin.h"
#include "kernels/cpu_kernels.h"

/* Repeats a 2- or 4-byte pattern: builds one 64-byte block (the pattern
 * size divides 64, so the block is seamless) and stores it repeatedly,
 * which the compiler turns into wide stores. */
static void fill_pattern(uint8_t* dst, uint64_t size, const uint8_t* pattern,
                         uint32_t pattern_size) {
  uint8_t block[64];
  uint32_t i;
  if (pattern_size == 1) {
    memset(dst, pattern[0], (size_t)size);
    return;
  }
  for (i = 0; i < sizeof(block); ++i) block[i] = pattern[i % pattern_size];
  while (size >= sizeof(block)) {
    memcpy(dst, block, sizeof(block));
    dst += sizeof(block);
    size -= sizeof(block);
  }
  memcpy(dst, block, (size_t)size);
}

/* A host function's failure becomes the stream's status; values outside
 * the status range are reported as a failed execution. */
static xhal_status_t host_func_status(xhal_status_t status) {
  if (status < 0 || status >= XHAL_STATUS_COUNT)
    return XHAL_ERROR_EXECUTION_FAILED;
  return status;
}

void cpu_cmd_discard(const cpu_cmd_t* cmd) {
  if (cmd->kind == CPU_CMD_EVENT_RECORD || cmd->kind == CPU_CMD_EVENT_WAIT)
    cpu_event_release(cmd->u.event.event);
}

void cpu_cmd_describe_failure(const cpu_cmd_t* cmd, xhal_status_t status,
                              char* buf, size_t size) {
  switch (cmd->kind) {
    case CPU_CMD_OP:
      snprintf(buf, size, "operator %u failed with status %d", cmd->u.op.op,
               (int)status);
      break;
    case CPU_CMD_HOST_FUNC:
      snprintf(buf, size, "host function %p (user_data %p) returned status %d",
               (void*)(uintptr_t)cmd->u.host_func.fn,
               cmd->u.host_func.user_data, (int)status);
      break;
    case CPU_CMD_EVENT_WAIT:
      snprintf(buf, size,
               "a wait on an event failed with status %d: the work it "
               "waited for failed",
               (int)status);
      break;
    default:
      snprintf(buf, size, "command kind %d failed with status %d",
               (int)cmd->kind, (int)status);
      break;
  }
}

xhal_status_t cpu_cmd_execute(struct xhal_plugin_context* ctx,
                              const cpu_cmd_t* cmd, xhal_status_t status,
                              const char* failure) {
  if (cmd->kind == CPU_CMD_EVENT_RECORD) {
    cpu_event_complete(cmd->u.event.event, cmd->u.event.gen, status, failure,
                       cpu_now_ns());
    cpu_event_release(cmd->u.event.event);
    return status;
  }
  if (status != XHAL_OK) {
    cpu_cmd_discard(cmd);
    return status;
  }
  switch (cmd->kind) {
    case CPU_CMD_COPY:
      memmove(cmd->u.copy.dst, cmd->u.copy.src, (size_t)cmd->u.copy.size);
      return XHAL_OK;
    case CPU_CMD_FILL:
      fill_pattern(cmd->u.fill.dst, cmd->u.fill.size, cmd->u.fill.pattern,
                   cmd->u.fill.pattern_size);
      return XHAL_OK;
    case CPU_CMD_OP: {
      cpu_parallel_t par;
      xhal_plugin_op_call_t call;
      if (cmd->u.op.empty) return XHAL_OK;
      cpu_op_unpack(cmd, &call);
      par.pool = &ctx->pool;
      par.num_threads = cpu_pool_lanes(&ctx->pool);
      par.parallel_for = cpu_pool_parallel_for;
      return cpu_kernel_run(&call, cmd->u.op.inputs, cmd->u.op.output, &par);
    }
    case CPU_CMD_HOST_FUNC:
      return host_func_status(cmd->u.host_func.fn(cmd->u.host_func.user_data));
    case CPU_CMD_EVENT_WAIT: {
      xhal_status_t waited =
          cpu_event_wait_gen(cmd->u.event.event, cmd->u.event.gen, UINT64_MAX);
      cpu_event_release(cmd->u.event.event);
      return waited;
    }
    default:
      return XHAL_ERROR_INTERNAL;
  }
}
