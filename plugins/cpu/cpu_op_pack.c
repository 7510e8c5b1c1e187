/*
 * cpu_op_pack.c - the ring's compact form of an operator call.
 *
 * xhal_plugin_op_call_t is 544 bytes whatever the operator, mostly unused
 * dims and operand slots. Copying it whole into a ring slot would make
 * every launch drag about nine cache lines from the enqueuing core to the
 * worker's; the packed form carries only what kernels read:
 *
 *   for each input, then the output: uint32 dtype, uint32 rank,
 *                                    rank x uint64 dims
 *   then, unless the operator has no attributes: xhal_op_attrs_t
 *
 * The worker unpacks it into a full call on its own stack before calling
 * the kernel, which costs a few local stores.
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>

#include "cpu_internal.h"

/* Operators whose kernels read no attribute (docs/ops.md): their
 * attributes are not carried, and the kernel sees the defaults. */
static int op_has_attrs(xhal_op_t op) {
  switch (op) {
    case XHAL_OP_ADD:
    case XHAL_OP_SUB:
    case XHAL_OP_MUL:
    case XHAL_OP_DIV:
    case XHAL_OP_MAX:
    case XHAL_OP_MIN:
    case XHAL_OP_RELU:
    case XHAL_OP_GELU:
    case XHAL_OP_SIGMOID:
    case XHAL_OP_TANH:
    case XHAL_OP_EXP:
    case XHAL_OP_CAST:
      return 0;
    default:
      return 1;
  }
}

static uint8_t* pack_desc(uint8_t* p, const xhal_tensor_desc_t* desc) {
  uint32_t head[2];
  head[0] = desc->dtype;
  head[1] = desc->rank;
  memcpy(p, head, sizeof(head));
  p += sizeof(head);
  memcpy(p, desc->dims, (size_t)desc->rank * sizeof(desc->dims[0]));
  return p + (size_t)desc->rank * sizeof(desc->dims[0]);
}

static const uint8_t* unpack_desc(const uint8_t* p, xhal_tensor_desc_t* desc) {
  uint32_t head[2];
  memcpy(head, p, sizeof(head));
  p += sizeof(head);
  memset(desc, 0, sizeof(*desc));
  desc->dtype = head[0];
  desc->rank = head[1];
  memcpy(desc->dims, p, (size_t)desc->rank * sizeof(desc->dims[0]));
  return p + (size_t)desc->rank * sizeof(desc->dims[0]);
}

/* The caller has checked num_inputs <= XHAL_MAX_OP_INPUTS, one output and
 * every rank <= XHAL_MAX_RANK, so the packed bytes fit CPU_OP_PACKED_MAX. */
void cpu_op_pack(cpu_cmd_t* cmd, const xhal_plugin_op_call_t* call) {
  uint8_t* p = cmd->op_packed;
  uint32_t i;
  cmd->u.op.op = call->op;
  cmd->u.op.num_inputs = (uint8_t)call->num_inputs;
  cmd->u.op.has_attrs = (uint8_t)op_has_attrs(call->op);
  for (i = 0; i < call->num_inputs; ++i)
    p = pack_desc(p, &call->inputs[i].desc);
  p = pack_desc(p, &call->outputs[0].desc);
  if (cmd->u.op.has_attrs) memcpy(p, &call->attrs, sizeof(call->attrs));
}

void cpu_op_unpack(const cpu_cmd_t* cmd, xhal_plugin_op_call_t* call) {
  const uint8_t* p = cmd->op_packed;
  uint32_t i;
  call->struct_size = (uint32_t)sizeof(*call);
  call->op = cmd->u.op.op;
  call->num_inputs = cmd->u.op.num_inputs;
  call->num_outputs = 1;
  for (i = 0; i < call->num_inputs; ++i) {
    p = unpack_desc(p, &call->inputs[i].desc);
    call->inputs[i].buffer = NULL;
    call->inputs[i].offset = 0;
  }
  p = unpack_desc(p, &call->outputs[0].desc);
  call->outputs[0].buffer = NULL;
  call->outputs[0].offset = 0;
  if (cmd->u.op.has_attrs)
    memcpy(&call->attrs, p, sizeof(call->attrs));
  else
    xhal_op_attrs_default(&call->attrs);
}
