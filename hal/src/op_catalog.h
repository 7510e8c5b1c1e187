/*
 * op_catalog.h - the operator catalog's rules (docs/ops.md) as code:
 * operand counts, dtype signatures, shape rules and attribute ranges.
 *
 * libxhal checks every operator call with op_catalog_check() before an
 * implementation sees it, so implementations can rely on well-formed calls.
 */
#ifndef XHAL_OP_CATALOG_H_
#define XHAL_OP_CATALOG_H_

#include <stddef.h>
#include <xhal/xhal_types.h>

/* Checks one call. `inputs` has num_inputs descriptors, `outputs`
 * num_outputs. On failure writes a message naming the operand and the rule
 * into msg (msg_size bytes, NUL-terminated) and returns
 * XHAL_ERROR_NOT_FOUND (unknown op id), XHAL_ERROR_INVALID_ARGUMENT (operand
 * count, attrs, rank), XHAL_ERROR_DTYPE_MISMATCH or
 * XHAL_ERROR_SHAPE_MISMATCH. Custom op ids (>= XHAL_OP_CUSTOM_BASE) are not
 * checked beyond operand counts and dtypes being known. */
xhal_status_t op_catalog_check(xhal_op_t op, uint32_t num_inputs,
                               const xhal_tensor_desc_t* inputs,
                               uint32_t num_outputs,
                               const xhal_tensor_desc_t* outputs,
                               const xhal_op_attrs_t* attrs, char* msg,
                               size_t msg_size);

/* A static name for an op id ("matmul"), or NULL if unknown. */
const char* op_catalog_name(xhal_op_t op);

/* 1 if `op` is a catalog operator id. */
int op_catalog_known(xhal_op_t op);

/* Input operands an operator takes: [min, max] (optional trailing ones). */
xhal_status_t op_catalog_arity(xhal_op_t op, uint32_t* out_min_inputs,
                               uint32_t* out_max_inputs);

/* "f32", "f16", "i8", "i32", or "unknown": a dtype as messages name it. */
const char* op_catalog_dtype_name(xhal_dtype_t dt);

/* Checks a registered implementation's dtype signature (inputs, then the
 * output) against the catalog: the operator's input count and its dtype
 * rules, as op_catalog_check applies them to a call. Returns
 * XHAL_ERROR_NOT_FOUND (unknown op below XHAL_OP_CUSTOM_BASE),
 * XHAL_ERROR_INVALID_ARGUMENT (input count outside the op's range) or
 * XHAL_ERROR_DTYPE_MISMATCH (no catalog signature), with a message. A
 * custom op accepts any known dtypes. */
xhal_status_t op_catalog_check_signature(xhal_op_t op, uint32_t num_dtypes,
                                         const xhal_dtype_t* dtypes, char* msg,
                                         size_t msg_size);

#endif /* XHAL_OP_CATALOG_H_ */
