/*
 * program.c - programs built from source, their kernels, and kernel
 * launches with arguments passed at launch.
 */
#include <string.h>

#include "abi_record.h"
#include "internal.h"

_Static_assert(XHAL_PROGRAM_DESC_SIZE_1_0 <= sizeof(xhal_program_desc_t),
               "program descriptions only grow");
_Static_assert(XHAL_LAUNCH_SIZE_1_0 <= sizeof(xhal_launch_t),
               "launch geometry only grows");

/* Launch arguments are translated on the stack: no allocation per launch. */
enum { kMaxKernelArgs = 64 };

XHAL_API void xhal_program_desc_default(xhal_program_desc_t* desc) {
  if (!desc) return;
  memset(desc, 0, sizeof(*desc));
  desc->struct_size = (uint32_t)sizeof(*desc);
  desc->language = XHAL_KERNEL_LANGUAGE_OPENCL_C;
}

static uint32_t language_cap(xhal_kernel_language_t language) {
  switch (language) {
    case XHAL_KERNEL_LANGUAGE_OPENCL_C:
      return (uint32_t)XHAL_CAP_KERNEL_LANG_OPENCL_C;
    case XHAL_KERNEL_LANGUAGE_CUDA_C:
      return (uint32_t)XHAL_CAP_KERNEL_LANG_CUDA_C;
    default:
      return 0u;
  }
}

XHAL_API xhal_status_t xhal_program_build(xhal_device_t device,
                                          const xhal_program_desc_t* desc,
                                          xhal_program_t* out_program) {
  xhal_status_t status = device_check(device, "device");
  if (status != XHAL_OK) return status;
  if (!out_program) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_program is NULL");
  }
  *out_program = NULL;
  if (!desc) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "desc is NULL");
  xhal_program_desc_t local;
  xhal_program_desc_default(&local);
  const xhal_program_desc_t* given = desc;
  desc = record_read_in(given, &local, XHAL_PROGRAM_DESC_SIZE_1_0,
                        (uint32_t)sizeof(local));
  if (!desc) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "desc->struct_size is %u, below the ABI 1.0 size %u "
                     "(call xhal_program_desc_default)",
                     given->struct_size, XHAL_PROGRAM_DESC_SIZE_1_0);
  }
  if (!desc->source) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "desc->source is NULL");
  }
  if (desc->log && desc->log_capacity) desc->log[0] = '\0';
  uint32_t cap = language_cap(desc->language);
  const plugin_t* plugin = device->plugin;
  if (!cap || !(device->props.capabilities & cap) ||
      !plugin->table.program_build) {
    return error_set(XHAL_ERROR_UNSUPPORTED,
                     "device '%s' cannot build programs in language %u",
                     device->props.name, desc->language);
  }
  xhal_program_t program = (xhal_program_t)object_new(
      device->obj.instance, OBJ_PROGRAM, sizeof(struct xhal_program));
  if (!program) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "program allocation failed");
  }
  xhal_plugin_program_desc_t pdesc = {
      .struct_size = (uint32_t)sizeof(pdesc),
      .language = desc->language,
      .source = desc->source,
      .source_size = desc->source_size ? desc->source_size
                                       : (uint64_t)strlen(desc->source),
      .options = desc->options,
      .log = desc->log,
      .log_capacity = desc->log ? desc->log_capacity : 0,
  };
  uint64_t t0 = trace_begin(device->obj.instance);
  status =
      plugin->table.program_build(device->handle, &pdesc, &program->handle);
  trace_end(device->obj.instance, "xhal_program_build", t0);
  if (status != XHAL_OK) {
    object_free(program, OBJ_PROGRAM);
    return plugin_result(plugin, "program_build", status);
  }
  program->device = device;
  object_set_site(program, __builtin_return_address(0));
  *out_program = program;
  return XHAL_OK;
}

XHAL_API void xhal_program_release(xhal_program_t program) {
  if (!program ||
      object_check_release(program, OBJ_PROGRAM, "program") != XHAL_OK) {
    return;
  }
  if (!object_unref(program)) return;
  const plugin_t* plugin = program->device->plugin;
  if (plugin->table.program_destroy) {
    plugin->table.program_destroy(program->handle);
  }
  object_free(program, OBJ_PROGRAM);
}

XHAL_API xhal_status_t xhal_kernel_create(xhal_program_t program,
                                          const char* name,
                                          xhal_kernel_t* out_kernel) {
  xhal_status_t status = object_check(program, OBJ_PROGRAM, "program");
  if (status != XHAL_OK) return status;
  if (!name || !out_kernel) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "%s is NULL",
                     !name ? "name" : "out_kernel");
  }
  *out_kernel = NULL;
  const plugin_t* plugin = program->device->plugin;
  if (!plugin->table.kernel_create) {
    return error_set(XHAL_ERROR_UNSUPPORTED, "plugin '%s' has no kernels",
                     plugin->info.name);
  }
  xhal_kernel_t kernel = (xhal_kernel_t)object_new(
      program->obj.instance, OBJ_KERNEL, sizeof(struct xhal_kernel));
  if (!kernel) {
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "kernel allocation failed");
  }
  status = plugin->table.kernel_create(program->handle, name, &kernel->handle);
  if (status != XHAL_OK) {
    object_free(kernel, OBJ_KERNEL);
    return plugin_result(plugin, "kernel_create", status);
  }
  object_retain(program);
  kernel->program = program;
  object_set_site(kernel, __builtin_return_address(0));
  *out_kernel = kernel;
  return XHAL_OK;
}

XHAL_API void xhal_kernel_release(xhal_kernel_t kernel) {
  if (!kernel || object_check_release(kernel, OBJ_KERNEL, "kernel") != XHAL_OK)
    return;
  if (!object_unref(kernel)) return;
  xhal_program_t program = kernel->program;
  const plugin_t* plugin = program->device->plugin;
  if (plugin->table.kernel_destroy)
    plugin->table.kernel_destroy(kernel->handle);
  object_free(kernel, OBJ_KERNEL);
  xhal_program_release(program);
}

/* Reads `*launch` per abi_record.h (an older header's shorter record into
 * `local`, with defaults past it) and checks the geometry. */
static xhal_status_t check_launch(const xhal_launch_t** launch_io,
                                  xhal_launch_t* scratch) {
  const xhal_launch_t* launch = *launch_io;
  if (!launch) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "launch is NULL");
  if (launch->struct_size < sizeof(*launch)) {
    memset(scratch, 0, sizeof(*scratch));
    launch = record_read_in(launch, scratch, XHAL_LAUNCH_SIZE_1_0,
                            (uint32_t)sizeof(*scratch));
    if (!launch) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "launch->struct_size is %u, below the ABI 1.0 size %u",
                       (*launch_io)->struct_size, XHAL_LAUNCH_SIZE_1_0);
    }
    *launch_io = launch;
  }
  if (launch->work_dim < 1 || launch->work_dim > 3) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "launch->work_dim %u is not 1..3", launch->work_dim);
  }
  int local_set = 0;
  for (uint32_t d = 0; d < launch->work_dim; ++d) {
    if (launch->global_size[d] == 0) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "launch->global_size[%u] is 0", d);
    }
    if (launch->local_size[d]) local_set = 1;
  }
  for (uint32_t d = 0; local_set && d < launch->work_dim; ++d) {
    uint64_t local = launch->local_size[d];
    if (local == 0 || launch->global_size[d] % local) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "launch->local_size[%u] %llu must be non-zero and "
                       "divide global_size %llu",
                       d, (unsigned long long)local,
                       (unsigned long long)launch->global_size[d]);
    }
  }
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_stream_enqueue_kernel(xhal_stream_t stream,
                                                  xhal_kernel_t kernel,
                                                  const xhal_launch_t* launch,
                                                  const xhal_kernel_arg_t* args,
                                                  uint32_t num_args) {
  xhal_status_t status = object_check(stream, OBJ_STREAM, "stream");
  if (status != XHAL_OK) return status;
  status = object_check(kernel, OBJ_KERNEL, "kernel");
  if (status != XHAL_OK) return status;
  status = device_check(stream->device, "stream's device");
  if (status != XHAL_OK) return status;
  if (kernel->program->device != stream->device) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "kernel was built for device '%s', the stream is on '%s'",
                     kernel->program->device->props.name,
                     stream->device->props.name);
  }
  xhal_launch_t local_launch;
  status = check_launch(&launch, &local_launch);
  if (status != XHAL_OK) return status;
  if (num_args > kMaxKernelArgs || (num_args && !args)) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "num_args %u with args %p (at most %d arguments)",
                     num_args, (const void*)args, kMaxKernelArgs);
  }
  xhal_plugin_kernel_arg_t pargs[kMaxKernelArgs];
  for (uint32_t i = 0; i < num_args; ++i) {
    const xhal_kernel_arg_t* a = &args[i];
    memset(&pargs[i], 0, sizeof(pargs[i]));
    pargs[i].kind = a->kind;
    pargs[i].size = a->size;
    switch (a->kind) {
      case XHAL_KERNEL_ARG_BUFFER:
        status = object_check(a->buffer, OBJ_BUFFER, "buffer argument");
        if (status != XHAL_OK) return status;
        if (validating(stream->obj.instance)) {
          status =
              validation_same_instance(stream, a->buffer, "buffer argument");
          if (status != XHAL_OK) return status;
        }
        if (a->buffer->device != stream->device) {
          return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                           "argument %u: buffer lives on another device", i);
        }
        pargs[i].buffer = a->buffer->handle;
        pargs[i].offset = a->buffer->offset;
        pargs[i].range = a->buffer->size;
        break;
      case XHAL_KERNEL_ARG_SCALAR:
        if (!a->value || a->size == 0) {
          return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                           "argument %u: scalar needs a value and a size", i);
        }
        pargs[i].value = a->value;
        break;
      case XHAL_KERNEL_ARG_LOCAL:
        if (a->size == 0) {
          return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                           "argument %u: local memory size is 0", i);
        }
        break;
      default:
        return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                         "argument %u: unknown kind %u", i, a->kind);
    }
  }
  const plugin_t* plugin = stream->device->plugin;
  if (!plugin->table.enqueue_kernel) {
    return error_set(XHAL_ERROR_UNSUPPORTED,
                     "plugin '%s' cannot launch kernels", plugin->info.name);
  }
  uint64_t t0 = trace_begin(stream->obj.instance);
  int locked = stream_lock(stream);
  struct op_span* span = stream_trace_begin(stream, "kernel");
  status = plugin->table.enqueue_kernel(stream->handle, kernel->handle, launch,
                                        pargs, num_args);
  stream_trace_end(stream, span);
  stream_unlock(stream, locked);
  trace_end(stream->obj.instance, "xhal_stream_enqueue_kernel", t0);
  return plugin_result(plugin, "enqueue_kernel", status);
}
