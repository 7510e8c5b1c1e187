/*
 * xhal_reference.h - plain, obviously-correct implementations of every
 * operator in the catalog (docs/ops.md), on host memory.
 *
 * These are the ground truth for the conformance suite and for every
 * plugin's kernel tests. They favour clarity over speed: one loop nest per
 * operator, double-precision accumulation for floating point, no
 * threading. A call must already be valid (xhal_op_validate semantics);
 * the reference re-checks what it relies on and returns a status instead of
 * reading out of bounds.
 */
#ifndef XHAL_REFERENCE_H_
#define XHAL_REFERENCE_H_

#include <stddef.h>
#include <xhal/xhal_plugin.h>

/* Runs `call` on host memory. inputs[i] points to element 0 of input i
 * (dense row-major, layout from call->inputs[i].desc); output to element 0
 * of the output. The buffer/offset fields of the call are ignored.
 * Returns XHAL_OK, XHAL_ERROR_NOT_FOUND (unknown op),
 * XHAL_ERROR_UNSUPPORTED (dtype signature outside the catalog) or
 * XHAL_ERROR_INVALID_ARGUMENT/SHAPE_MISMATCH (malformed call). */
xhal_status_t xhal_ref_run(const xhal_plugin_op_call_t* call,
                           const void* const inputs[], void* output);

/* Tolerance a result must meet against the reference for `call` (the
 * catalog's figures, docs/ops.md): |got - want| <= abs + rel * |want|. */
typedef struct xhal_ref_tolerance {
  double abs;
  double rel;
} xhal_ref_tolerance_t;
xhal_ref_tolerance_t xhal_ref_tolerance(const xhal_plugin_op_call_t* call);

/* Compares `count` elements of `dtype`; returns the index of the first
 * element out of tolerance, or count if all match. NaN matches NaN. */
uint64_t xhal_ref_compare(xhal_dtype_t dtype, const void* got,
                          const void* want, uint64_t count,
                          xhal_ref_tolerance_t tol);

/* Number of elements of a tensor (product of dims; 1 for rank 0). */
uint64_t xhal_ref_numel(const xhal_tensor_desc_t* desc);

#endif /* XHAL_REFERENCE_H_ */
