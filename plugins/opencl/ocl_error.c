/*
 * ocl_error.c - OpenCL error codes as names and xhal statuses, and the
 * plugin's messages to the host (set_error, log).
 */
#include <stdarg.h>
#include <stdio.h>

#include "ocl_internal.h"

/* CL_PLATFORM_NOT_FOUND_KHR (cl_khr_icd): no platform is installed. */
#define OCL_PLATFORM_NOT_FOUND_KHR (-1001)

typedef struct cl_error_entry {
  cl_int code;
  const char* name;
  xhal_status_t status;
} cl_error_entry_t;

/* Every error of OpenCL 1.2 plus the ICD loader's. The status says what
 * a caller of xhal can do about it: CL_INVALID_<object> errors mean the
 * plugin passed something wrong, which is an internal error, while
 * size, value and work-group errors describe the caller's request. */
static const cl_error_entry_t kErrors[] = {
    {CL_SUCCESS, "CL_SUCCESS", XHAL_OK},
    {CL_DEVICE_NOT_FOUND, "CL_DEVICE_NOT_FOUND", XHAL_ERROR_DEVICE_LOST},
    {CL_DEVICE_NOT_AVAILABLE, "CL_DEVICE_NOT_AVAILABLE",
     XHAL_ERROR_DEVICE_LOST},
    {CL_COMPILER_NOT_AVAILABLE, "CL_COMPILER_NOT_AVAILABLE",
     XHAL_ERROR_UNSUPPORTED},
    {CL_MEM_OBJECT_ALLOCATION_FAILURE, "CL_MEM_OBJECT_ALLOCATION_FAILURE",
     XHAL_ERROR_OUT_OF_MEMORY},
    {CL_OUT_OF_RESOURCES, "CL_OUT_OF_RESOURCES", XHAL_ERROR_OUT_OF_MEMORY},
    {CL_OUT_OF_HOST_MEMORY, "CL_OUT_OF_HOST_MEMORY", XHAL_ERROR_OUT_OF_MEMORY},
    {CL_PROFILING_INFO_NOT_AVAILABLE, "CL_PROFILING_INFO_NOT_AVAILABLE",
     XHAL_ERROR_UNSUPPORTED},
    {CL_MEM_COPY_OVERLAP, "CL_MEM_COPY_OVERLAP", XHAL_ERROR_INVALID_ARGUMENT},
    {CL_IMAGE_FORMAT_MISMATCH, "CL_IMAGE_FORMAT_MISMATCH",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_IMAGE_FORMAT_NOT_SUPPORTED, "CL_IMAGE_FORMAT_NOT_SUPPORTED",
     XHAL_ERROR_UNSUPPORTED},
    {CL_BUILD_PROGRAM_FAILURE, "CL_BUILD_PROGRAM_FAILURE",
     XHAL_ERROR_BUILD_FAILED},
    {CL_MAP_FAILURE, "CL_MAP_FAILURE", XHAL_ERROR_OUT_OF_MEMORY},
    {CL_MISALIGNED_SUB_BUFFER_OFFSET, "CL_MISALIGNED_SUB_BUFFER_OFFSET",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST,
     "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
     XHAL_ERROR_EXECUTION_FAILED},
    {CL_COMPILE_PROGRAM_FAILURE, "CL_COMPILE_PROGRAM_FAILURE",
     XHAL_ERROR_BUILD_FAILED},
    {CL_LINKER_NOT_AVAILABLE, "CL_LINKER_NOT_AVAILABLE",
     XHAL_ERROR_UNSUPPORTED},
    {CL_LINK_PROGRAM_FAILURE, "CL_LINK_PROGRAM_FAILURE",
     XHAL_ERROR_BUILD_FAILED},
    {CL_DEVICE_PARTITION_FAILED, "CL_DEVICE_PARTITION_FAILED",
     XHAL_ERROR_UNSUPPORTED},
    {CL_KERNEL_ARG_INFO_NOT_AVAILABLE, "CL_KERNEL_ARG_INFO_NOT_AVAILABLE",
     XHAL_ERROR_UNSUPPORTED},
    {CL_INVALID_VALUE, "CL_INVALID_VALUE", XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_DEVICE_TYPE, "CL_INVALID_DEVICE_TYPE", XHAL_ERROR_INTERNAL},
    {CL_INVALID_PLATFORM, "CL_INVALID_PLATFORM", XHAL_ERROR_INTERNAL},
    {CL_INVALID_DEVICE, "CL_INVALID_DEVICE", XHAL_ERROR_INTERNAL},
    {CL_INVALID_CONTEXT, "CL_INVALID_CONTEXT", XHAL_ERROR_INTERNAL},
    {CL_INVALID_QUEUE_PROPERTIES, "CL_INVALID_QUEUE_PROPERTIES",
     XHAL_ERROR_UNSUPPORTED},
    {CL_INVALID_COMMAND_QUEUE, "CL_INVALID_COMMAND_QUEUE", XHAL_ERROR_INTERNAL},
    {CL_INVALID_HOST_PTR, "CL_INVALID_HOST_PTR", XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_MEM_OBJECT, "CL_INVALID_MEM_OBJECT",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_IMAGE_FORMAT_DESCRIPTOR, "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_IMAGE_SIZE, "CL_INVALID_IMAGE_SIZE",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_SAMPLER, "CL_INVALID_SAMPLER", XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_BINARY, "CL_INVALID_BINARY", XHAL_ERROR_BUILD_FAILED},
    {CL_INVALID_BUILD_OPTIONS, "CL_INVALID_BUILD_OPTIONS",
     XHAL_ERROR_BUILD_FAILED},
    {CL_INVALID_PROGRAM, "CL_INVALID_PROGRAM", XHAL_ERROR_INTERNAL},
    {CL_INVALID_PROGRAM_EXECUTABLE, "CL_INVALID_PROGRAM_EXECUTABLE",
     XHAL_ERROR_INVALID_STATE},
    {CL_INVALID_KERNEL_NAME, "CL_INVALID_KERNEL_NAME", XHAL_ERROR_NOT_FOUND},
    {CL_INVALID_KERNEL_DEFINITION, "CL_INVALID_KERNEL_DEFINITION",
     XHAL_ERROR_BUILD_FAILED},
    {CL_INVALID_KERNEL, "CL_INVALID_KERNEL", XHAL_ERROR_INTERNAL},
    {CL_INVALID_ARG_INDEX, "CL_INVALID_ARG_INDEX", XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_ARG_VALUE, "CL_INVALID_ARG_VALUE", XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_ARG_SIZE, "CL_INVALID_ARG_SIZE", XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_KERNEL_ARGS, "CL_INVALID_KERNEL_ARGS",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_WORK_DIMENSION, "CL_INVALID_WORK_DIMENSION",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_WORK_GROUP_SIZE, "CL_INVALID_WORK_GROUP_SIZE",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_WORK_ITEM_SIZE, "CL_INVALID_WORK_ITEM_SIZE",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_GLOBAL_OFFSET, "CL_INVALID_GLOBAL_OFFSET",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_EVENT_WAIT_LIST, "CL_INVALID_EVENT_WAIT_LIST",
     XHAL_ERROR_INTERNAL},
    {CL_INVALID_EVENT, "CL_INVALID_EVENT", XHAL_ERROR_INTERNAL},
    {CL_INVALID_OPERATION, "CL_INVALID_OPERATION", XHAL_ERROR_INVALID_STATE},
    {CL_INVALID_GL_OBJECT, "CL_INVALID_GL_OBJECT", XHAL_ERROR_INTERNAL},
    {CL_INVALID_BUFFER_SIZE, "CL_INVALID_BUFFER_SIZE",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_MIP_LEVEL, "CL_INVALID_MIP_LEVEL", XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_GLOBAL_WORK_SIZE, "CL_INVALID_GLOBAL_WORK_SIZE",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_PROPERTY, "CL_INVALID_PROPERTY", XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_IMAGE_DESCRIPTOR, "CL_INVALID_IMAGE_DESCRIPTOR",
     XHAL_ERROR_INVALID_ARGUMENT},
    {CL_INVALID_COMPILER_OPTIONS, "CL_INVALID_COMPILER_OPTIONS",
     XHAL_ERROR_BUILD_FAILED},
    {CL_INVALID_LINKER_OPTIONS, "CL_INVALID_LINKER_OPTIONS",
     XHAL_ERROR_BUILD_FAILED},
    {CL_INVALID_DEVICE_PARTITION_COUNT, "CL_INVALID_DEVICE_PARTITION_COUNT",
     XHAL_ERROR_INVALID_ARGUMENT},
    {OCL_PLATFORM_NOT_FOUND_KHR, "CL_PLATFORM_NOT_FOUND_KHR",
     XHAL_ERROR_NOT_FOUND},
};

static const cl_error_entry_t* find_error(cl_int err) {
  size_t i;
  for (i = 0; i < sizeof(kErrors) / sizeof(kErrors[0]); ++i)
    if (kErrors[i].code == err) return &kErrors[i];
  return NULL;
}

const char* ocl_cl_error_name(cl_int err) {
  const cl_error_entry_t* e = find_error(err);
  return e != NULL ? e->name : "unknown OpenCL error";
}

xhal_status_t ocl_cl_status(cl_int err) {
  const cl_error_entry_t* e = find_error(err);
  /* Vendor codes outside the table (NVIDIA reports a faulting kernel as
   * -9999, for instance) describe failed work. */
  return e != NULL ? e->status : XHAL_ERROR_EXECUTION_FAILED;
}

xhal_status_t ocl_error(const struct xhal_plugin_context* ctx,
                        xhal_status_t status, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  if (ctx == NULL || ctx->host.set_error == NULL) return status;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  ctx->host.set_error(ctx->host.host_context, status, msg);
  return status;
}

xhal_status_t ocl_cl_error(const struct xhal_plugin_context* ctx, cl_int err,
                           const char* call) {
  const cl_error_entry_t* e = find_error(err);
  if (e != NULL)
    return ocl_error(ctx, e->status, "opencl: %s failed: %s", call, e->name);
  return ocl_error(ctx, XHAL_ERROR_EXECUTION_FAILED,
                   "opencl: %s failed: OpenCL error %d", call, (int)err);
}

void ocl_log(const struct xhal_plugin_context* ctx, xhal_log_level_t level,
             const char* fmt, ...) {
  char msg[512];
  va_list ap;
  if (ctx == NULL || ctx->host.log == NULL) return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  ctx->host.log(ctx->host.host_context, level, msg);
}
