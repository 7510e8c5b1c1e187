/*
 * ref_elementwise.c - elementwise operators: binary with numpy
 * broadcasting, unary activations, and cast.
 *
 * Floating-point results are computed in double from exactly widened
 * operands and rounded once to the output dtype by xhal_ref_set, which is
 * what "rounds the result once" in docs/ops.md means.
 */
#include <math.h>

#include "ref_internal.h"

/* Strides of `in` laid against the output's dims (aligned at the last
 * dim): 0 where `in` broadcasts (a missing or size-1 dim). */
static void broadcast_strides(const xhal_tensor_desc_t* in, uint32_t out_rank,
                              uint64_t strides[XHAL_MAX_RANK]) {
  uint64_t own[XHAL_MAX_RANK];
  uint32_t lead = out_rank - in->rank;
  uint32_t i;
  xref_strides(in, own);
  for (i = 0; i < out_rank; ++i) {
    if (i < lead || in->dims[i - lead] == 1) {
      strides[i] = 0;
    } else {
      strides[i] = own[i - lead];
    }
  }
}

/* Offset in elements of output element `flat` in a tensor with `strides`
 * (the output's dims give the multi-index). */
static uint64_t offset_of(uint64_t flat, const xhal_tensor_desc_t* out,
                          const uint64_t strides[XHAL_MAX_RANK]) {
  uint64_t off = 0;
  uint32_t i;
  for (i = out->rank; i > 0; --i) {
    uint64_t dim = out->dims[i - 1];
    off += (flat % dim) * strides[i - 1];
    flat /= dim;
  }
  return off;
}

static double binary_fp(xhal_op_t op, double a, double b) {
  switch (op) {
    case XHAL_OP_ADD:
      return a + b;
    case XHAL_OP_SUB:
      return a - b;
    case XHAL_OP_MUL:
      return a * b;
    case XHAL_OP_DIV:
      return a / b;
    case XHAL_OP_MAX:
      if (isnan(a) || isnan(b)) return NAN;
      return a > b ? a : b;
    default: /* min */
      if (isnan(a) || isnan(b)) return NAN;
      return a < b ? a : b;
  }
}

/* i32 add/sub/mul wrap (two's complement): computed on uint32_t, where
 * wrapping is defined. */
static int32_t binary_i32(xhal_op_t op, int32_t a, int32_t b) {
  uint32_t ua = (uint32_t)a;
  uint32_t ub = (uint32_t)b;
  switch (op) {
    case XHAL_OP_ADD:
      return xref_wrap_i32(ua + ub);
    case XHAL_OP_SUB:
      return xref_wrap_i32(ua - ub);
    case XHAL_OP_MUL:
      return xref_wrap_i32((uint32_t)((uint64_t)ua * ub));
    case XHAL_OP_MAX:
      return a > b ? a : b;
    default: /* min */
      return a < b ? a : b;
  }
}

void xref_binary(const xhal_plugin_op_call_t* call, const void* const inputs[],
                 void* output) {
  const xhal_tensor_desc_t* out = &call->outputs[0].desc;
  xhal_dtype_t dt = out->dtype;
  uint64_t sa[XHAL_MAX_RANK];
  uint64_t sb[XHAL_MAX_RANK];
  uint64_t n = xhal_ref_numel(out);
  uint64_t i;
  broadcast_strides(&call->inputs[0].desc, out->rank, sa);
  broadcast_strides(&call->inputs[1].desc, out->rank, sb);
  for (i = 0; i < n; ++i) {
    uint64_t ia = offset_of(i, out, sa);
    uint64_t ib = offset_of(i, out, sb);
    if (dt == XHAL_DTYPE_I32) {
      xref_put_i32(output, i,
                   binary_i32(call->op, xref_get_i32(inputs[0], ia),
                              xref_get_i32(inputs[1], ib)));
    } else {
      xhal_ref_set(dt, output, i,
                   binary_fp(call->op, xhal_ref_get(dt, inputs[0], ia),
                             xhal_ref_get(dt, inputs[1], ib)));
    }
  }
}

static double unary(xhal_op_t op, double x) {
  switch (op) {
    case XHAL_OP_RELU:
      if (isnan(x)) return x;
      return x > 0.0 ? x : 0.0;
    case XHAL_OP_GELU:
      /* The limits at the infinities (the formula gives -inf * 0 = NaN
       * at -inf): gelu(-inf) = 0, gelu(+inf) = +inf. */
      if (isinf(x)) return x > 0.0 ? x : 0.0;
      return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case XHAL_OP_SIGMOID:
      return 1.0 / (1.0 + exp(-x));
    case XHAL_OP_TANH:
      return tanh(x);
    default: /* exp */
      return exp(x);
  }
}

void xref_unary(const xhal_plugin_op_call_t* call, const void* const inputs[],
                void* output) {
  xhal_dtype_t dt = call->outputs[0].desc.dtype;
  uint64_t n = xhal_ref_numel(&call->outputs[0].desc);
  uint64_t i;
  for (i = 0; i < n; ++i) {
    xhal_ref_set(dt, output, i,
                 unary(call->op, xhal_ref_get(dt, inputs[0], i)));
  }
}

void xref_cast(const xhal_plugin_op_call_t* call, const void* const inputs[],
               void* output) {
  xhal_dtype_t from = call->inputs[0].desc.dtype;
  xhal_dtype_t to = call->outputs[0].desc.dtype;
  uint64_t n = xhal_ref_numel(&call->outputs[0].desc);
  uint64_t i;
  /* Every source value is exact in double (i32 included), so the one
   * conversion xhal_ref_set makes is the cast: round-to-nearest-even into
   * floats, truncate-and-saturate into integers, NaN -> 0. */
  for (i = 0; i < n; ++i) {
    xhal_ref_set(to, output, i, xhal_ref_get(from, inputs[0], i));
  }
}
