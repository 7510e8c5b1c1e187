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
 *
 * Besides the operators, this library carries what kernel tests need
 * around them: the catalog's tolerances and a comparison that applies
 * them, element access with the catalog's conversion rules, the output
 * shape an operator call implies, and a deterministic random fill. Every
 * function is thread-safe (no global state); the random generator's state
 * is the caller's.
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
uint64_t xhal_ref_compare(xhal_dtype_t dtype, const void* got, const void* want,
                          uint64_t count, xhal_ref_tolerance_t tol);

/* Number of elements of a tensor (product of dims; 1 for rank 0). */
uint64_t xhal_ref_numel(const xhal_tensor_desc_t* desc);

/* ------------------------------------------------ helpers for kernel tests
 *
 * Notes on the functions above: xhal_ref_run reads the output before it
 * writes it only for matmul with beta != 0 (the prior output). A NULL
 * operand pointer is accepted only for a tensor with no elements.
 * xhal_ref_compare also requires ±inf to match exactly (a tolerance never
 * turns a finite value into inf or back) and returns 0 when count > 0 and
 * a pointer is NULL. xhal_ref_numel returns UINT64_MAX for a NULL desc, a
 * rank above XHAL_MAX_RANK or a product that overflows 64 bits (no valid
 * tensor has that many elements). */

/* Short dtype name: "f32", "f16", "i8", "i32", or "invalid". */
const char* xhal_ref_dtype_name(xhal_dtype_t dtype);

/* A descriptor of `rank` dims copied from `dims` (may be NULL for rank 0).
 * A rank above XHAL_MAX_RANK is clamped to it. */
xhal_tensor_desc_t xhal_ref_desc(xhal_dtype_t dtype, uint32_t rank,
                                 const uint64_t* dims);

/* Bytes a tensor occupies: numel * element size. UINT64_MAX when the desc
 * is invalid (see xhal_ref_numel), the dtype unknown, or it overflows. */
uint64_t xhal_ref_bytes(const xhal_tensor_desc_t* desc);

/* Zeroes `call`, sets struct_size, op, num_outputs = 1 and the default
 * attributes (xhal_op_attrs_default). */
void xhal_ref_call_init(xhal_plugin_op_call_t* call, xhal_op_t op);

/* The output descriptor the catalog derives for `call` from its inputs and
 * attributes (shape and dtype). For cast, whose output dtype is free, the
 * dtype is taken from call->outputs[0].desc.dtype. Lets a test build
 * random calls without restating each operator's shape rule. Returns
 * XHAL_OK, XHAL_ERROR_NOT_FOUND, XHAL_ERROR_UNSUPPORTED (dtypes outside
 * the catalog), XHAL_ERROR_INVALID_ARGUMENT (operand count, rank, attrs) or
 * XHAL_ERROR_SHAPE_MISMATCH. */
xhal_status_t xhal_ref_output_desc(const xhal_plugin_op_call_t* call,
                                   xhal_tensor_desc_t* out_desc);

/* Element `index` of an array of `dtype`, exactly, as a double (f16
 * widened, integers exact). Unknown dtype: 0. No alignment is required. */
double xhal_ref_get(xhal_dtype_t dtype, const void* data, uint64_t index);

/* Stores `value` as element `index` of `dtype` by the catalog's cast rules
 * (docs/ops.md, cast): floats round to nearest even once (overflow -> inf);
 * integers truncate toward zero and saturate, NaN -> 0. */
void xhal_ref_set(xhal_dtype_t dtype, void* data, uint64_t index, double value);

/* `value` rounded once to binary16, to nearest, ties to even (no detour
 * through f32, which could round twice). NaN stays NaN, |x| >= 65520
 * becomes ±inf, -0 stays -0. */
uint16_t xhal_ref_double_to_half(double value);

/* A small deterministic generator (splitmix64): the same seed gives the
 * same sequence on every platform, so a failing case can be replayed. */
typedef struct xhal_ref_rng {
  uint64_t state;
} xhal_ref_rng_t;
void xhal_ref_rng_seed(xhal_ref_rng_t* rng, uint64_t seed);
uint64_t xhal_ref_rng_next(xhal_ref_rng_t* rng);
/* Uniform in [lo, hi) (53 random bits). */
double xhal_ref_rng_uniform(xhal_ref_rng_t* rng, double lo, double hi);

/* Fills `count` elements of `dtype` from a generator seeded with `seed`.
 * Floats are uniform in [lo, hi], rounded to the dtype; integers uniform
 * over the integers of [lo, hi] that the dtype holds. Returns
 * XHAL_ERROR_INVALID_ARGUMENT for an unknown dtype, a NULL pointer with
 * count > 0, a NaN or infinite bound, lo > hi, or an integer range with no
 * integer the dtype holds. */
xhal_status_t xhal_ref_fill_random(xhal_dtype_t dtype, void* data,
                                   uint64_t count, uint64_t seed, double lo,
                                   double hi);

/* Writes one line about element `index` of a failed comparison into msg
 * ("element 5: got 1.25, want 1.5, |diff| 0.25 > 1e-06 + 1e-05*|want|"),
 * truncated to msg_size bytes and NUL-terminated. */
void xhal_ref_describe_mismatch(xhal_dtype_t dtype, const void* got,
                                const void* want, uint64_t index,
                                xhal_ref_tolerance_t tol, char* msg,
                                size_t msg_size);

#endif /* XHAL_REFERENCE_H_ */
