/*
 * acme_ops.c - the operators the acme device offers, registered with the
 * host's kernel registry from init(): add (f32, with numpy broadcasting)
 * and relu (f32).
 *
 * How an operator reaches the device: a framework calls
 * xhal_stream_enqueue_op (or lets xhal_registry_select place it); libxhal
 * checks the call against the operator catalog (docs/ops.md: operand
 * counts, dtypes, shapes, the output shape, every buffer range), picks the
 * highest-priority implementation whose dtype signature matches and whose
 * supports() accepts, and calls its enqueue() with the plugin's own
 * buffer handles. enqueue() queues a command; the stream worker runs the
 * kernel in stream order.
 *
 * To add an operator: write a kernel with the acme_kernel_fn signature,
 * add a row to kOps below, and run xhal-cts: its kernel suite checks
 * every registered implementation against the reference kernels on
 * random and edge-case shapes, with the catalog's tolerances.
 */
#include <string.h>

#include "acme_internal.h"

/* ------------------------------------------------------------- kernels */

static uint64_t element_count(const xhal_tensor_desc_t* desc) {
  uint64_t n = 1;
  uint32_t d;
  for (d = 0; d < desc->rank; ++d) n *= desc->dims[d];
  return n;
}

/* Element strides of `in` as seen from an output of rank `out_rank`:
 * shapes align at their last dim, a missing leading dim or a dim of 1 is
 * broadcast (stride 0). */
static void broadcast_strides(const xhal_tensor_desc_t* in, uint32_t out_rank,
                              uint64_t strides[XHAL_MAX_RANK]) {
  uint64_t stride = 1;
  uint32_t d = out_rank;
  while (d-- > 0) {
    uint32_t lead = out_rank - in->rank;
    if (d < lead) {
      strides[d] = 0;
      continue;
    }
    strides[d] = in->dims[d - lead] == 1 ? 0 : stride;
    stride *= in->dims[d - lead];
  }
}

/* out = a + b. VENDOR: this loop is what your device's vector unit (or a
 * compiled kernel) does; the enqueue side stays the same. */
static xhal_status_t kernel_add_f32(const acme_op_args_t* args) {
  const xhal_tensor_desc_t* out = &args->output_desc;
  const float* a = (const float*)(const void*)args->inputs[0];
  const float* b = (const float*)(const void*)args->inputs[1];
  float* y = (float*)(void*)args->output;
  uint64_t n = element_count(out);
  uint64_t sa[XHAL_MAX_RANK];
  uint64_t sb[XHAL_MAX_RANK];
  uint64_t idx[XHAL_MAX_RANK];
  uint64_t ia = 0;
  uint64_t ib = 0;
  uint64_t i;
  if (n == 0) return XHAL_OK;
  /* Same shapes: one flat loop. */
  if (element_count(&args->input_descs[0]) == n &&
      element_count(&args->input_descs[1]) == n) {
    for (i = 0; i < n; ++i) y[i] = a[i] + b[i];
    return XHAL_OK;
  }
  broadcast_strides(&args->input_descs[0], out->rank, sa);
  broadcast_strides(&args->input_descs[1], out->rank, sb);
  memset(idx, 0, sizeof(idx));
  for (i = 0; i < n; ++i) {
    uint32_t d;
    y[i] = a[ia] + b[ib];
    /* Advance the output index like an odometer, moving each input's
     * offset along with it. */
    for (d = out->rank; d-- > 0;) {
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < out->dims[d]) break;
      ia -= sa[d] * idx[d];
      ib -= sb[d] * idx[d];
      idx[d] = 0;
    }
  }
  return XHAL_OK;
}

/* y = max(x, 0); NaN stays NaN (docs/ops.md), which `x < 0` gives. */
static xhal_status_t kernel_relu_f32(const acme_op_args_t* args) {
  const float* x = (const float*)(const void*)args->inputs[0];
  float* y = (float*)(void*)args->output;
  uint64_t n = element_count(&args->output_desc);
  uint64_t i;
  for (i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
  return XHAL_OK;
}

/* ------------------------------------------------------------- enqueue */

/* One row per registered implementation. */
struct acme_op_entry {
  xhal_op_t op;
  const char* name;
  uint32_t num_dtypes; /* inputs then the output */
  xhal_dtype_t dtypes[3];
  acme_kernel_fn kernel;
};
typedef struct acme_op_entry acme_op_entry_t;

static const acme_op_entry_t kOps[] = {
    {XHAL_OP_ADD,
     "acme.add.f32",
     3,
     {XHAL_DTYPE_F32, XHAL_DTYPE_F32, XHAL_DTYPE_F32},
     kernel_add_f32},
    {XHAL_OP_RELU,
     "acme.relu.f32",
     2,
     {XHAL_DTYPE_F32, XHAL_DTYPE_F32, XHAL_DTYPE_INVALID},
     kernel_relu_f32},
};
_Static_assert(sizeof(kOps) / sizeof(kOps[0]) == ACME_OP_COUNT,
               "ACME_OP_COUNT (acme_internal.h) must count the rows of kOps");

/* Resolves one operand to its address after checking that its bytes lie
 * in its buffer. libxhal has checked this already; a plugin still never
 * trusts a pointer it is about to write through (xhal-cts calls plugins
 * directly, without libxhal in between). */
static xhal_status_t resolve(struct xhal_plugin_context* ctx,
                             const xhal_plugin_tensor_t* t, const char* role,
                             uint8_t** out_ptr) {
  uint64_t bytes = xhal_dtype_size(t->desc.dtype);
  uint32_t d;
  if (t->buffer == NULL)
    return acme_error(ctx, XHAL_ERROR_INVALID_HANDLE,
                      "enqueue_op: %s has a NULL buffer", role);
  if (t->desc.rank > XHAL_MAX_RANK)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_op: %s has rank %u", role, t->desc.rank);
  for (d = 0; d < t->desc.rank; ++d) {
    if (__builtin_mul_overflow(bytes, t->desc.dims[d], &bytes))
      return acme_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                        "enqueue_op: %s is too large", role);
  }
  if (acme_buffer_check_range(ctx, "enqueue_op", role, t->buffer, t->offset,
                              bytes) != XHAL_OK)
    return XHAL_ERROR_OUT_OF_RANGE;
  *out_ptr = t->buffer->base + t->offset;
  return XHAL_OK;
}

/* The registry's enqueue entry; `user_data` is the implementation's
 * binding in the context that registered it. */
static xhal_status_t acme_enqueue_op(void* user_data,
                                     xhal_plugin_stream_t stream,
                                     const xhal_plugin_op_call_t* call) {
  const acme_op_binding_t* binding = user_data;
  const acme_op_entry_t* entry = binding->entry;
  struct xhal_plugin_context* ctx;
  acme_op_args_t args;
  acme_cmd_t* cmd;
  xhal_status_t status;
  uint8_t* ptr = NULL;
  uint32_t i;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = stream->ctx;
  if (binding->ctx != ctx)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_op: %s belongs to another context than the "
                      "stream",
                      entry->name);
  if (call == NULL || call->struct_size < sizeof(*call))
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_op: call is NULL or its struct_size is too "
                      "small");
  if (call->num_inputs != entry->num_dtypes - 1 || call->num_outputs != 1)
    return acme_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                      "enqueue_op: %s takes %u inputs and 1 output, got %u "
                      "and %u",
                      entry->name, entry->num_dtypes - 1, call->num_inputs,
                      call->num_outputs);
  memset(&args, 0, sizeof(args));
  args.num_inputs = call->num_inputs;
  for (i = 0; i < call->num_inputs; ++i) {
    status = resolve(ctx, &call->inputs[i], "input", &ptr);
    if (status != XHAL_OK) return status;
    args.input_descs[i] = call->inputs[i].desc;
    args.inputs[i] = ptr;
  }
  status = resolve(ctx, &call->outputs[0], "output", &ptr);
  if (status != XHAL_OK) return status;
  args.output_desc = call->outputs[0].desc;
  args.output = ptr;

  cmd = acme_cmd_new(stream, "enqueue_op");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  cmd->kind = ACME_CMD_OP;
  cmd->u.op.kernel = entry->kernel;
  cmd->u.op.args = args; /* the call is only valid during this function */
  for (i = 0; i < call->num_inputs; ++i)
    acme_cmd_hold(cmd, call->inputs[i].buffer);
  acme_cmd_hold(cmd, call->outputs[0].buffer);
  acme_cmd_submit(stream, cmd);
  return XHAL_OK;
}

xhal_status_t acme_register_ops(struct xhal_plugin_context* ctx) {
  size_t i;
  /* An older host without a registry: the device still works for copies
   * and host functions. */
  if (ctx->host.register_op_impl == NULL) {
    acme_log(ctx, XHAL_LOG_WARN, "host has no registry; no operators");
    return XHAL_OK;
  }
  for (i = 0; i < sizeof(kOps) / sizeof(kOps[0]); ++i) {
    xhal_plugin_op_impl_t impl;
    xhal_status_t status;
    uint32_t d;
    memset(&impl, 0, sizeof(impl));
    impl.struct_size = (uint32_t)sizeof(impl);
    impl.op = kOps[i].op;
    impl.device_index = 0;
    /* Priority only orders implementations on the same device; 0 is the
     * usual value for a device's own kernels. */
    impl.priority = 0;
    impl.num_dtypes = kOps[i].num_dtypes;
    for (d = 0; d < XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS; ++d)
      impl.dtypes[d] =
          d < kOps[i].num_dtypes ? kOps[i].dtypes[d] : XHAL_DTYPE_INVALID;
    impl.name = kOps[i].name; /* static: outlives the context */
    ctx->ops[i].ctx = ctx;
    ctx->ops[i].entry = &kOps[i];
    impl.user_data = &ctx->ops[i];
    /* NULL: takes every call matching the dtype signature. An
     * accelerator that handles only some shapes (a maximum rank, sizes
     * that fit its on-chip memory) declines the others from supports(),
     * and the registry moves on to the next device or the CPU. */
    impl.supports = NULL;
    impl.enqueue = acme_enqueue_op;
    status = ctx->host.register_op_impl(ctx->host.host_context, &impl);
    if (status == XHAL_ERROR_OUT_OF_MEMORY) return status;
    /* Anything else: the host refused this one signature (logged); the
     * device still works for the rest. */
    if (status != XHAL_OK)
      acme_log(ctx, XHAL_LOG_WARN, "host refused %s (status %d)", kOps[i].name,
               (int)status);
  }
  return XHAL_OK;
}
