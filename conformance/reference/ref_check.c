/*
 * ref_check.c - the output shape and dtype each operator call implies, and
 * the checks the reference's loops rely on.
 *
 * This restates the catalog's rules independently of libxhal's validator
 * (hal/src/op_catalog.c): the reference must not trust the code it is the
 * ground truth for. It reports statuses only, no messages; the detailed
 * messages are libxhal's job.
 */
#include <math.h>
#include <string.h>

#include "ref_internal.h"

static int is_fp(xhal_dtype_t dt) {
  return dt == XHAL_DTYPE_F32 || dt == XHAL_DTYPE_F16;
}

static int is_known(xhal_dtype_t dt) { return xhal_dtype_size(dt) != 0; }

/* [min, max] inputs of each catalog op; 0 when the op is unknown. */
static int arity(xhal_op_t op, uint32_t* lo, uint32_t* hi) {
  switch (op) {
    case XHAL_OP_ADD:
    case XHAL_OP_SUB:
    case XHAL_OP_MUL:
    case XHAL_OP_DIV:
    case XHAL_OP_MAX:
    case XHAL_OP_MIN:
      *lo = *hi = 2;
      return 1;
    case XHAL_OP_RELU:
    case XHAL_OP_GELU:
    case XHAL_OP_SIGMOID:
    case XHAL_OP_TANH:
    case XHAL_OP_EXP:
    case XHAL_OP_SOFTMAX:
    case XHAL_OP_REDUCE_SUM:
    case XHAL_OP_REDUCE_MAX:
    case XHAL_OP_TRANSPOSE:
    case XHAL_OP_CAST:
      *lo = *hi = 1;
      return 1;
    case XHAL_OP_MATMUL:
    case XHAL_OP_CONV2D:
      *lo = 2;
      *hi = 3;
      return 1;
    case XHAL_OP_LAYER_NORM:
      *lo = 1;
      *hi = 3;
      return 1;
    default:
      return 0;
  }
}

/* All inputs share input 0's dtype, which is in the allowed set. */
static int all_inputs_are(const xhal_plugin_op_call_t* call, int allow_i32) {
  xhal_dtype_t dt = call->inputs[0].desc.dtype;
  uint32_t i;
  if (!is_fp(dt) && !(allow_i32 && dt == XHAL_DTYPE_I32)) return 0;
  for (i = 1; i < call->num_inputs; ++i) {
    if (call->inputs[i].desc.dtype != dt) return 0;
  }
  return 1;
}

/* The output dtype of the call's signature, or INVALID outside the
 * catalog. */
static xhal_dtype_t output_dtype(const xhal_plugin_op_call_t* call) {
  xhal_dtype_t x = call->inputs[0].desc.dtype;
  switch (call->op) {
    case XHAL_OP_ADD:
    case XHAL_OP_SUB:
    case XHAL_OP_MUL:
    case XHAL_OP_MAX:
    case XHAL_OP_MIN:
    case XHAL_OP_REDUCE_SUM:
    case XHAL_OP_REDUCE_MAX:
      return all_inputs_are(call, 1) ? x : XHAL_DTYPE_INVALID;
    case XHAL_OP_MATMUL:
    case XHAL_OP_CONV2D:
      if (x == XHAL_DTYPE_I8) {
        if (call->inputs[1].desc.dtype != XHAL_DTYPE_I8) break;
        if (call->num_inputs > 2 &&
            call->inputs[2].desc.dtype != XHAL_DTYPE_I32) {
          break;
        }
        return XHAL_DTYPE_I32;
      }
      return all_inputs_are(call, 0) ? x : XHAL_DTYPE_INVALID;
    case XHAL_OP_TRANSPOSE:
      return is_known(x) ? x : XHAL_DTYPE_INVALID;
    case XHAL_OP_CAST:
      if (!is_known(x) || call->num_outputs < 1) break;
      return is_known(call->outputs[0].desc.dtype) ? call->outputs[0].desc.dtype
                                                   : XHAL_DTYPE_INVALID;
    default: /* div, unary, softmax, layer_norm: fp only */
      return all_inputs_are(call, 0) ? x : XHAL_DTYPE_INVALID;
  }
  return XHAL_DTYPE_INVALID;
}

static int axis_ok(int32_t axis, uint32_t rank) {
  return (int64_t)axis >= -(int64_t)rank && (int64_t)axis < (int64_t)rank;
}

static xhal_status_t broadcast_shape(const xhal_tensor_desc_t* a,
                                     const xhal_tensor_desc_t* b,
                                     xhal_tensor_desc_t* out) {
  uint32_t r = a->rank > b->rank ? a->rank : b->rank;
  uint32_t i;
  out->rank = r;
  for (i = 0; i < r; ++i) {
    uint64_t da = i < a->rank ? a->dims[a->rank - 1 - i] : 1;
    uint64_t db = i < b->rank ? b->dims[b->rank - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) return XHAL_ERROR_SHAPE_MISMATCH;
    out->dims[r - 1 - i] = da == 1 ? db : da;
  }
  return XHAL_OK;
}

static int is_vector_of(const xhal_tensor_desc_t* d, uint64_t len) {
  return d->rank == 1 && d->dims[0] == len;
}

static xhal_status_t matmul_shape(const xhal_plugin_op_call_t* call,
                                  xhal_tensor_desc_t* out) {
  const xhal_op_attrs_t* at = &call->attrs;
  const xhal_tensor_desc_t* a = &call->inputs[0].desc;
  const xhal_tensor_desc_t* b = &call->inputs[1].desc;
  if (at->transpose_a > 1 || at->transpose_b > 1) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (a->dtype == XHAL_DTYPE_I8 && (at->alpha != 1.0f || at->beta != 0.0f)) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (a->rank != 2 || b->rank != 2) return XHAL_ERROR_SHAPE_MISMATCH;
  /* op(A) is [M, K], op(B) is [K, N]. */
  if (a->dims[at->transpose_a ? 0 : 1] != b->dims[at->transpose_b ? 1 : 0]) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  out->rank = 2;
  out->dims[0] = a->dims[at->transpose_a ? 1 : 0];
  out->dims[1] = b->dims[at->transpose_b ? 0 : 1];
  if (call->num_inputs > 2 &&
      !is_vector_of(&call->inputs[2].desc, out->dims[1])) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  return XHAL_OK;
}

/* (in + 2*pad - dil*(k-1) - 1) / stride + 1, or SHAPE_MISMATCH when the
 * numerator is negative or the terms overflow. */
static xhal_status_t conv_dim(uint64_t in, uint32_t pad, uint32_t dil,
                              uint64_t k, uint32_t stride, uint64_t* out) {
  uint64_t padded;
  uint64_t span;
  if (__builtin_add_overflow(in, 2 * (uint64_t)pad, &padded) ||
      __builtin_mul_overflow((uint64_t)dil, k - 1, &span) ||
      __builtin_add_overflow(span, 1, &span) || padded < span) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  *out = (padded - span) / stride + 1;
  return XHAL_OK;
}

static xhal_status_t conv2d_shape(const xhal_plugin_op_call_t* call,
                                  xhal_tensor_desc_t* out) {
  const xhal_op_attrs_t* at = &call->attrs;
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  const xhal_tensor_desc_t* w = &call->inputs[1].desc;
  uint32_t i;
  xhal_status_t st;
  if (at->stride[0] < 1 || at->stride[1] < 1 || at->dilation[0] < 1 ||
      at->dilation[1] < 1 || at->groups < 1) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (x->rank != 4 || w->rank != 4) return XHAL_ERROR_SHAPE_MISMATCH;
  for (i = 0; i < 4; ++i) {
    if (x->dims[i] == 0 || w->dims[i] == 0) return XHAL_ERROR_SHAPE_MISMATCH;
  }
  if (x->dims[1] % at->groups != 0 || w->dims[0] % at->groups != 0 ||
      w->dims[1] != x->dims[1] / at->groups) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  if (call->num_inputs > 2 &&
      !is_vector_of(&call->inputs[2].desc, w->dims[0])) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  out->rank = 4;
  out->dims[0] = x->dims[0];
  out->dims[1] = w->dims[0];
  st = conv_dim(x->dims[2], at->padding[0], at->dilation[0], w->dims[2],
                at->stride[0], &out->dims[2]);
  if (st != XHAL_OK) return st;
  return conv_dim(x->dims[3], at->padding[1], at->dilation[1], w->dims[3],
                  at->stride[1], &out->dims[3]);
}

static xhal_status_t output_shape(const xhal_plugin_op_call_t* call,
                                  xhal_tensor_desc_t* out) {
  const xhal_op_attrs_t* at = &call->attrs;
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  uint32_t i;
  *out = *x; /* the shape of X unless the op says otherwise */
  switch (call->op) {
    case XHAL_OP_ADD:
    case XHAL_OP_SUB:
    case XHAL_OP_MUL:
    case XHAL_OP_DIV:
    case XHAL_OP_MAX:
    case XHAL_OP_MIN:
      return broadcast_shape(x, &call->inputs[1].desc, out);
    case XHAL_OP_MATMUL:
      return matmul_shape(call, out);
    case XHAL_OP_CONV2D:
      return conv2d_shape(call, out);
    case XHAL_OP_SOFTMAX:
      if (x->rank < 1) return XHAL_ERROR_SHAPE_MISMATCH;
      return axis_ok(at->axis, x->rank) ? XHAL_OK : XHAL_ERROR_INVALID_ARGUMENT;
    case XHAL_OP_LAYER_NORM:
      if (!(at->epsilon >= 0.0f) || isinf(at->epsilon)) {
        return XHAL_ERROR_INVALID_ARGUMENT;
      }
      if (x->rank < 1 || x->dims[x->rank - 1] == 0) {
        return XHAL_ERROR_SHAPE_MISMATCH;
      }
      for (i = 1; i < call->num_inputs; ++i) {
        if (!is_vector_of(&call->inputs[i].desc, x->dims[x->rank - 1])) {
          return XHAL_ERROR_SHAPE_MISMATCH;
        }
      }
      return XHAL_OK;
    case XHAL_OP_REDUCE_SUM:
    case XHAL_OP_REDUCE_MAX: {
      uint32_t axis;
      if (x->rank < 1) return XHAL_ERROR_SHAPE_MISMATCH;
      if (!axis_ok(at->axis, x->rank)) return XHAL_ERROR_INVALID_ARGUMENT;
      axis = xref_axis(at->axis, x->rank);
      if (call->op == XHAL_OP_REDUCE_MAX && x->dims[axis] == 0) {
        return XHAL_ERROR_SHAPE_MISMATCH;
      }
      out->dims[axis] = 1;
      return XHAL_OK;
    }
    case XHAL_OP_TRANSPOSE: {
      uint32_t seen[XHAL_MAX_RANK] = {0};
      for (i = 0; i < x->rank; ++i) {
        uint32_t p = at->perm[i];
        if (p >= x->rank || seen[p]) return XHAL_ERROR_INVALID_ARGUMENT;
        seen[p] = 1;
        out->dims[i] = x->dims[p];
      }
      return XHAL_OK;
    }
    default: /* unary, cast: the shape of X */
      return XHAL_OK;
  }
}

xhal_status_t xhal_ref_output_desc(const xhal_plugin_op_call_t* call,
                                   xhal_tensor_desc_t* out_desc) {
  uint32_t lo = 0;
  uint32_t hi = 0;
  uint32_t i;
  xhal_tensor_desc_t out;
  xhal_status_t st;
  if (call == NULL || out_desc == NULL) return XHAL_ERROR_INVALID_ARGUMENT;
  if (!arity(call->op, &lo, &hi)) return XHAL_ERROR_NOT_FOUND;
  if (call->num_inputs < lo || call->num_inputs > hi) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  for (i = 0; i < call->num_inputs; ++i) {
    if (call->inputs[i].desc.rank > XHAL_MAX_RANK) {
      return XHAL_ERROR_INVALID_ARGUMENT;
    }
  }
  memset(&out, 0, sizeof(out));
  out.dtype = output_dtype(call);
  if (out.dtype == XHAL_DTYPE_INVALID) return XHAL_ERROR_UNSUPPORTED;
  st = output_shape(call, &out);
  if (st != XHAL_OK) return st;
  out.dtype = output_dtype(call); /* output_shape starts from X's desc */
  for (i = out.rank; i < XHAL_MAX_RANK; ++i) out.dims[i] = 0;
  *out_desc = out;
  return XHAL_OK;
}

static int same_desc(const xhal_tensor_desc_t* a, const xhal_tensor_desc_t* b) {
  uint32_t i;
  if (a->rank != b->rank) return 0;
  for (i = 0; i < a->rank; ++i) {
    if (a->dims[i] != b->dims[i]) return 0;
  }
  return 1;
}

/* Pointer present where the tensor has elements, and its size
 * representable. */
static xhal_status_t check_operand(const xhal_tensor_desc_t* d,
                                   const void* ptr) {
  uint64_t bytes = xhal_ref_bytes(d);
  if (bytes == UINT64_MAX) return XHAL_ERROR_INVALID_ARGUMENT;
  if (bytes > 0 && ptr == NULL) return XHAL_ERROR_INVALID_ARGUMENT;
  return XHAL_OK;
}

xhal_status_t xref_validate(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], const void* output) {
  const xhal_tensor_desc_t* got;
  xhal_tensor_desc_t want;
  xhal_status_t st;
  uint32_t i;
  if (call == NULL || (inputs == NULL && call->num_inputs > 0)) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (call->num_outputs != 1) return XHAL_ERROR_INVALID_ARGUMENT;
  st = xhal_ref_output_desc(call, &want);
  if (st != XHAL_OK) return st;
  got = &call->outputs[0].desc;
  if (got->rank > XHAL_MAX_RANK) return XHAL_ERROR_INVALID_ARGUMENT;
  if (got->dtype != want.dtype) return XHAL_ERROR_UNSUPPORTED;
  if (!same_desc(got, &want)) return XHAL_ERROR_SHAPE_MISMATCH;
  for (i = 0; i < call->num_inputs; ++i) {
    st = check_operand(&call->inputs[i].desc, inputs[i]);
    if (st != XHAL_OK) return st;
  }
  return check_operand(got, output);
}
