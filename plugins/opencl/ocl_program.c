/*
 * ocl_program.c - programs built from OpenCL C source, their kernels, and
 * launches with arguments passed at launch.
 *
 * The ABI passes arguments with each launch, while OpenCL keeps them as
 * state of the cl_kernel and clSetKernelArg is not thread-safe on one
 * kernel. Setting the arguments and enqueueing therefore happen together
 * under a per-kernel mutex; OpenCL captures argument values at enqueue,
 * so the lock is held only for those calls.
 *
 * Buffer arguments: an argument that starts at offset 0 of its buffer
 * binds the cl_mem itself; one at another offset binds a sub-buffer
 * (cached on the buffer), which requires the offset to be a multiple of
 * the device's base address alignment (xhal_device_properties_t.
 * alignment). Other offsets are refused with XHAL_ERROR_INVALID_ARGUMENT;
 * a kernel that needs them takes the whole buffer and an offset scalar.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

/* The most arguments one launch may pass (libxhal passes at most 64). */
#define OCL_MAX_KERNEL_ARGS 128

xhal_status_t ocl_program_build(xhal_plugin_device_t dev,
                                const xhal_plugin_program_desc_t* desc,
                                xhal_plugin_program_t* out) {
  struct xhal_plugin_program* prog;
  const char* sources[1];
  size_t lengths[1];
  cl_program p = NULL;
  xhal_status_t status;
  if (dev == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (out == NULL || desc == NULL || desc->struct_size < sizeof(*desc) ||
      desc->source == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: program_build: out, desc or desc->source is "
                     "NULL, or desc->struct_size is too small");
  *out = NULL;
  if (desc->log != NULL && desc->log_capacity > 0) desc->log[0] = '\0';
  if (desc->language != XHAL_KERNEL_LANGUAGE_OPENCL_C)
    return ocl_error(dev->ctx, XHAL_ERROR_UNSUPPORTED,
                     "opencl: program_build: language %u is not OpenCL C",
                     desc->language);
  if (!dev->info->compiler)
    return ocl_error(dev->ctx, XHAL_ERROR_UNSUPPORTED,
                     "opencl: program_build: '%s' has no compiler",
                     dev->info->props.name);
  if (desc->source_size > (uint64_t)SIZE_MAX)
    return ocl_error(dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: program_build: source_size too large");
  prog = calloc(1, sizeof(*prog));
  if (prog == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: program_build: out of host memory");
  sources[0] = desc->source;
  /* 0 tells OpenCL the source is NUL-terminated. */
  lengths[0] = (size_t)desc->source_size;
  status = ocl_build_program(dev, sources, lengths, 1, desc->options, desc->log,
                             desc->log != NULL ? desc->log_capacity : 0, &p);
  if (status != XHAL_OK) {
    free(prog);
    return status;
  }
  prog->dev = dev;
  prog->program = p;
  *out = prog;
  return XHAL_OK;
}

void ocl_program_destroy(xhal_plugin_program_t prog) {
  if (prog == NULL) return;
  /* Kernels made from it keep the cl_program alive on their own. */
  clReleaseProgram(prog->program);
  free(prog);
}

xhal_status_t ocl_kernel_create(xhal_plugin_program_t prog, const char* name,
                                xhal_plugin_kernel_t* out) {
  struct xhal_plugin_kernel* k;
  cl_int err = CL_SUCCESS;
  if (prog == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (name == NULL || out == NULL)
    return ocl_error(prog->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: kernel_create: name or out_kernel is NULL");
  *out = NULL;
  k = calloc(1, sizeof(*k));
  if (k == NULL || pthread_mutex_init(&k->mu, NULL) != 0) {
    free(k);
    return ocl_error(prog->dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: kernel_create: out of host memory");
  }
  k->kernel = clCreateKernel(prog->program, name, &err);
  if (k->kernel == NULL || err != CL_SUCCESS) {
    pthread_mutex_destroy(&k->mu);
    free(k);
    if (err == CL_INVALID_KERNEL_NAME)
      return ocl_error(prog->dev->ctx, XHAL_ERROR_NOT_FOUND,
                       "opencl: the program has no kernel named '%s'", name);
    return ocl_cl_error(prog->dev->ctx, err, "clCreateKernel");
  }
  if (clGetKernelInfo(k->kernel, CL_KERNEL_NUM_ARGS, sizeof(k->num_args),
                      &k->num_args, NULL) != CL_SUCCESS)
    k->num_args = UINT32_MAX; /* unknown: leave the check to OpenCL */
  snprintf(k->name, sizeof(k->name), "%s", name);
  k->dev = prog->dev;
  atomic_init(&k->refs, 1);
  *out = k;
  return XHAL_OK;
}

void ocl_kernel_destroy(xhal_plugin_kernel_t k) { ocl_kernel_unref(k); }

/* The last reference goes with kernel_destroy or with the last deferred
 * launch of the kernel. */
void ocl_kernel_unref(struct xhal_plugin_kernel* k) {
  if (k == NULL) return;
  if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1) return;
  clReleaseKernel(k->kernel);
  pthread_mutex_destroy(&k->mu);
  free(k);
}

/* Checks the geometry and converts it to size_t arrays. */
static xhal_status_t launch_sizes(const struct xhal_plugin_context* ctx,
                                  const xhal_launch_t* launch, size_t global[3],
                                  size_t local[3], int* has_local) {
  uint32_t d;
  int set = 0;
  if (launch == NULL || launch->struct_size < sizeof(*launch) ||
      launch->work_dim < 1 || launch->work_dim > 3)
    return ocl_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_kernel: launch is NULL, too small, or "
                     "its work_dim is not 1..3");
  for (d = 0; d < launch->work_dim; ++d) {
    if (launch->global_size[d] == 0 ||
        launch->global_size[d] > (uint64_t)SIZE_MAX)
      return ocl_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                       "opencl: enqueue_kernel: global_size[%u] = %llu", d,
                       (unsigned long long)launch->global_size[d]);
    if (launch->local_size[d] != 0) set = 1;
    global[d] = (size_t)launch->global_size[d];
  }
  for (d = 0; d < launch->work_dim; ++d) {
    uint64_t l = launch->local_size[d];
    if (set && (l == 0 || launch->global_size[d] % l != 0))
      return ocl_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                       "opencl: enqueue_kernel: local_size[%u] = %llu must be "
                       "non-zero and divide global_size %llu",
                       d, (unsigned long long)l,
                       (unsigned long long)launch->global_size[d]);
    local[d] = (size_t)l;
  }
  *has_local = set;
  return XHAL_OK;
}

/* What each argument binds: a cl_mem for buffers (maybe a launch-only
 * sub-buffer), nothing for the others. */
static xhal_status_t resolve_args(struct xhal_plugin_stream* s,
                                  const xhal_plugin_kernel_arg_t* args,
                                  uint32_t n, cl_mem* mems, int* release) {
  uint32_t i;
  xhal_status_t status;
  for (i = 0; i < n; ++i) {
    const xhal_plugin_kernel_arg_t* a = &args[i];
    mems[i] = NULL;
    release[i] = 0;
    switch (a->kind) {
      case XHAL_KERNEL_ARG_BUFFER:
        if (a->buffer == NULL || a->buffer->dev->context != s->dev->context) {
          status = ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                             "opencl: enqueue_kernel: argument %u: buffer is "
                             "NULL or on another device",
                             i);
          goto fail;
        }
        status = ocl_buffer_arg_mem(a->buffer, a->offset, a->range, &mems[i],
                                    &release[i]);
        if (status != XHAL_OK) goto fail;
        break;
      case XHAL_KERNEL_ARG_SCALAR:
        if (a->value == NULL || a->size == 0) {
          status = ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                             "opencl: enqueue_kernel: argument %u: scalar "
                             "needs a value and a size",
                             i);
          goto fail;
        }
        break;
      case XHAL_KERNEL_ARG_LOCAL:
        if (a->size == 0) {
          status = ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                             "opencl: enqueue_kernel: argument %u: local "
                             "memory size is 0",
                             i);
          goto fail;
        }
        break;
      default:
        status = ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                           "opencl: enqueue_kernel: argument %u: unknown "
                           "kind %u",
                           i, a->kind);
        goto fail;
    }
  }
  return XHAL_OK;

fail:
  while (i-- > 0)
    if (release[i]) clReleaseMemObject(mems[i]);
  return status;
}

/* Sets the arguments and enqueues the launch. */
static xhal_status_t launch_now(struct xhal_plugin_stream* s,
                                struct xhal_plugin_kernel* k, uint32_t work_dim,
                                const size_t* global, const size_t* local,
                                const xhal_plugin_kernel_arg_t* args,
                                uint32_t num_args, const cl_mem* mems) {
  xhal_status_t status = XHAL_OK;
  cl_int err = CL_SUCCESS;
  uint32_t i;
  pthread_mutex_lock(&k->mu);
  for (i = 0; i < num_args && err == CL_SUCCESS; ++i) {
    const xhal_plugin_kernel_arg_t* a = &args[i];
    if (a->kind == XHAL_KERNEL_ARG_BUFFER)
      err = clSetKernelArg(k->kernel, i, sizeof(cl_mem), &mems[i]);
    else if (a->kind == XHAL_KERNEL_ARG_SCALAR)
      err = clSetKernelArg(k->kernel, i, a->size, a->value);
    else
      err = clSetKernelArg(k->kernel, i, a->size, NULL);
  }
  if (err != CL_SUCCESS) {
    pthread_mutex_unlock(&k->mu);
    return ocl_error(s->dev->ctx, ocl_cl_status(err),
                     "opencl: enqueue_kernel: argument %u of '%s': "
                     "clSetKernelArg failed: %s",
                     i - 1, k->name, ocl_cl_error_name(err));
  }
  err = clEnqueueNDRangeKernel(s->queue, k->kernel, work_dim, NULL, global,
                               local, 0, NULL, NULL);
  pthread_mutex_unlock(&k->mu);
  if (err != CL_SUCCESS)
    status = ocl_cl_error(s->dev->ctx, err, "clEnqueueNDRangeKernel");
  return status;
}

/* Queues the launch behind the stream's host-thread jobs: copies the
 * arguments and scalar bytes, and takes references to the kernel and to
 * every bound cl_mem. s->mu held. */
static xhal_status_t defer_launch(struct xhal_plugin_stream* s,
                                  struct xhal_plugin_kernel* k,
                                  uint32_t work_dim, const size_t* global,
                                  const size_t* local,
                                  const xhal_plugin_kernel_arg_t* args,
                                  uint32_t num_args, const cl_mem* mems) {
  ocl_cmd_t cmd;
  size_t bytes = 0;
  size_t at = 0;
  uint32_t i;
  xhal_status_t status;
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = OCL_CMD_KERNEL;
  cmd.work_dim = work_dim;
  for (i = 0; i < 3; ++i) {
    cmd.global[i] = global[i];
    cmd.local[i] = local != NULL ? local[i] : 0;
  }
  cmd.has_local = local != NULL;
  for (i = 0; i < num_args; ++i)
    if (args[i].kind == XHAL_KERNEL_ARG_SCALAR) bytes += args[i].size;
  if (num_args > 0) {
    cmd.args = calloc(num_args, sizeof(*cmd.args));
    cmd.mems = calloc(num_args, sizeof(*cmd.mems));
  }
  cmd.arg_bytes = bytes > 0 ? malloc(bytes) : NULL;
  if ((num_args > 0 && (cmd.args == NULL || cmd.mems == NULL)) ||
      (bytes > 0 && cmd.arg_bytes == NULL)) {
    ocl_cmd_release(&cmd);
    return ocl_error(s->dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: enqueue_kernel: out of host memory");
  }
  cmd.num_args = num_args;
  for (i = 0; i < num_args; ++i) {
    cmd.args[i] = args[i];
    cmd.args[i].buffer = NULL; /* bound through mems[i] */
    if (args[i].kind == XHAL_KERNEL_ARG_SCALAR) {
      memcpy(cmd.arg_bytes + at, args[i].value, args[i].size);
      cmd.args[i].value = cmd.arg_bytes + at;
      at += args[i].size;
    }
    if (mems[i] != NULL) {
      /* The command's own reference; a launch-only sub-buffer's first
       * reference stays the caller's. */
      clRetainMemObject(mems[i]);
      cmd.mems[i] = mems[i];
    }
  }
  atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
  cmd.kernel = k;
  status = ocl_submit_defer(s, &cmd);
  if (status != XHAL_OK) ocl_cmd_release(&cmd);
  return status;
}

xhal_status_t ocl_enqueue_kernel(xhal_plugin_stream_t s, xhal_plugin_kernel_t k,
                                 const xhal_launch_t* launch,
                                 const xhal_plugin_kernel_arg_t* args,
                                 uint32_t num_args) {
  size_t global[3] = {1, 1, 1};
  size_t local[3] = {1, 1, 1};
  cl_mem mems[OCL_MAX_KERNEL_ARGS];
  int release[OCL_MAX_KERNEL_ARGS];
  int has_local = 0;
  uint32_t i;
  xhal_status_t status;
  if (s == NULL || k == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (k->dev->context != s->dev->context)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_kernel: kernel '%s' was built for "
                     "another device",
                     k->name);
  status = launch_sizes(s->dev->ctx, launch, global, local, &has_local);
  if (status != XHAL_OK) return status;
  if (num_args > OCL_MAX_KERNEL_ARGS || (num_args > 0 && args == NULL))
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_kernel: %u arguments at %p", num_args,
                     (const void*)args);
  if (k->num_args != UINT32_MAX && num_args != k->num_args)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: enqueue_kernel: kernel '%s' takes %u "
                     "arguments, %u given",
                     k->name, k->num_args, num_args);
  if (ocl_stream_failed(s)) return XHAL_OK; /* skipped */
  status = resolve_args(s, args, num_args, mems, release);
  if (status != XHAL_OK) return status;
  if (ocl_submit_begin(s))
    status = defer_launch(s, k, launch->work_dim, global,
                          has_local ? local : NULL, args, num_args, mems);
  else
    status = launch_now(s, k, launch->work_dim, global,
                        has_local ? local : NULL, args, num_args, mems);
  ocl_submit_end(s);
  for (i = 0; i < num_args; ++i)
    if (release[i]) clReleaseMemObject(mems[i]);
  return status;
}

xhal_status_t ocl_kernel_run(struct xhal_plugin_stream* s,
                             const ocl_cmd_t* cmd) {
  return launch_now(s, cmd->kernel, cmd->work_dim, cmd->global,
                    cmd->has_local ? cmd->local : NULL, cmd->args,
                    cmd->num_args, cmd->mems);
}
