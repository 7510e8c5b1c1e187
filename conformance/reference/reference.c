/*
 * reference.c - xhal_ref_run: validates a call, then hands it to the loop
 * nest of its operator family.
 */
#include "ref_internal.h"

xhal_status_t xhal_ref_run(const xhal_plugin_op_call_t* call,
                           const void* const inputs[], void* output) {
  xhal_status_t st = xref_validate(call, inputs, output);
  if (st != XHAL_OK) return st;
  switch (call->op) {
    case XHAL_OP_ADD:
    case XHAL_OP_SUB:
    case XHAL_OP_MUL:
    case XHAL_OP_DIV:
    case XHAL_OP_MAX:
    case XHAL_OP_MIN:
      xref_binary(call, inputs, output);
      break;
    case XHAL_OP_RELU:
    case XHAL_OP_GELU:
    case XHAL_OP_SIGMOID:
    case XHAL_OP_TANH:
    case XHAL_OP_EXP:
      xref_unary(call, inputs, output);
      break;
    case XHAL_OP_MATMUL:
      xref_matmul(call, inputs, output);
      break;
    case XHAL_OP_CONV2D:
      xref_conv2d(call, inputs, output);
      break;
    case XHAL_OP_SOFTMAX:
      xref_softmax(call, inputs, output);
      break;
    case XHAL_OP_LAYER_NORM:
      xref_layer_norm(call, inputs, output);
      break;
    case XHAL_OP_REDUCE_SUM:
    case XHAL_OP_REDUCE_MAX:
      xref_reduce(call, inputs, output);
      break;
    case XHAL_OP_TRANSPOSE:
      xref_transpose(call, inputs, output);
      break;
    case XHAL_OP_CAST:
      xref_cast(call, inputs, output);
      break;
    default: /* xref_validate knows the same ops; unreachable */
      return XHAL_ERROR_NOT_FOUND;
  }
  return XHAL_OK;
}
