/*
 * cu_error.c - CUDA driver results as xhal statuses, and the plugin's
 * messages to the host (set_error, log).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cu_internal.h"

xhal_status_t cu_status(CUresult r) {
  switch (r) {
    case CUDA_SUCCESS:
      return XHAL_OK;
    case CUDA_ERROR_NOT_READY:
      return XHAL_ERROR_NOT_READY;
    case CUDA_ERROR_OUT_OF_MEMORY:
      return XHAL_ERROR_OUT_OF_MEMORY;
    case CUDA_ERROR_INVALID_VALUE:
      return XHAL_ERROR_INVALID_ARGUMENT;
    case CUDA_ERROR_NOT_FOUND:
      return XHAL_ERROR_NOT_FOUND;
    case CUDA_ERROR_NOT_SUPPORTED:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
      return XHAL_ERROR_UNSUPPORTED;
    case CUDA_ERROR_INVALID_IMAGE:
    case CUDA_ERROR_INVALID_PTX:
      return XHAL_ERROR_BUILD_FAILED;
    case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
      return XHAL_ERROR_OUT_OF_RANGE;
    /* Faults of device work: the context is unusable afterwards. */
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
      return XHAL_ERROR_EXECUTION_FAILED;
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_DEVICE_UNAVAILABLE:
    case CUDA_ERROR_NO_DEVICE:
    case CUDA_ERROR_DEINITIALIZED:
    case CUDA_ERROR_CONTEXT_IS_DESTROYED:
      return XHAL_ERROR_DEVICE_LOST;
    default:
      return XHAL_ERROR_INTERNAL;
  }
}

static void vmessage(const struct xhal_plugin_context* ctx, char* buf,
                     size_t cap, const char* fmt, va_list ap) {
  (void)ctx;
  vsnprintf(buf, cap, fmt, ap);
}

xhal_status_t cu_error(const struct xhal_plugin_context* ctx,
                       xhal_status_t status, const char* fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vmessage(ctx, msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (ctx && ctx->host.set_error)
    ctx->host.set_error(ctx->host.host_context, status, msg);
  return status;
}

xhal_status_t cu_check(const struct xhal_plugin_context* ctx, CUresult r,
                       const char* call) {
  const char* name = NULL;
  const char* text = NULL;
  if (r == CUDA_SUCCESS) return XHAL_OK;
  if (ctx && ctx->cu.GetErrorName) ctx->cu.GetErrorName(r, &name);
  if (ctx && ctx->cu.GetErrorString) ctx->cu.GetErrorString(r, &text);
  return cu_error(ctx, cu_status(r), "cuda: %s failed: %s (%s)", call,
                  name ? name : "CUDA_ERROR_?", text ? text : "no text");
}

void cu_log(const struct xhal_plugin_context* ctx, xhal_log_level_t level,
            const char* fmt, ...) {
  char msg[768];
  va_list ap;
  if (!ctx || !ctx->host.log) return;
  va_start(ap, fmt);
  vmessage(ctx, msg, sizeof(msg), fmt, ap);
  va_end(ap);
  ctx->host.log(ctx->host.host_context, level, msg);
}
