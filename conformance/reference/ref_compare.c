/*
 * ref_compare.c - the catalog's tolerances (docs/ops.md) and the
 * comparison that applies them.
 *
 * The figures live here and in docs/ops.md only; a kernel test asks for
 * the tolerance of its call instead of restating them, so a change to the
 * catalog is one change.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "ref_internal.h"

/* Smallest positive binary16 subnormal: one rounding step of a subnormal
 * f16 result. */
#define HALF_SUBNORMAL_STEP 0x1.0p-24

static xhal_ref_tolerance_t tol(double abs, double rel) {
  xhal_ref_tolerance_t t;
  t.abs = abs;
  t.rel = rel;
  return t;
}

/* Tolerance of a float reduction over `len` terms (matmul, conv2d,
 * reduce_sum): the absolute part grows with the number of roundings. */
static xhal_ref_tolerance_t reduction(xhal_dtype_t dt, double len) {
  if (dt == XHAL_DTYPE_F32) return tol(1e-5 * len, 1e-4);
  if (dt == XHAL_DTYPE_F16) return tol(1e-3 * len, 1e-2);
  return tol(0.0, 0.0); /* integer results are exact */
}

xhal_ref_tolerance_t xhal_ref_tolerance(const xhal_plugin_op_call_t* call) {
  xhal_dtype_t dt;
  const xhal_tensor_desc_t* x;
  if (call == NULL || call->num_inputs < 1) return tol(0.0, 0.0);
  x = &call->inputs[0].desc;
  dt = x->dtype;
  switch (call->op) {
    case XHAL_OP_ADD:
    case XHAL_OP_SUB:
    case XHAL_OP_MUL:
    case XHAL_OP_DIV:
    case XHAL_OP_MAX:
    case XHAL_OP_MIN:
      /* One correctly rounded operation. The f32 abs term admits devices
       * that flush subnormal results to zero; the f16 one admits a
       * subnormal result rounded twice (via f32). */
      if (dt == XHAL_DTYPE_F32) {
        return tol(FLT_MIN, call->op == XHAL_OP_DIV ? 2.4e-7 : 1.2e-7);
      }
      if (dt == XHAL_DTYPE_F16) return tol(HALF_SUBNORMAL_STEP, 1e-3);
      return tol(0.0, 0.0);
    case XHAL_OP_RELU:
    case XHAL_OP_GELU:
    case XHAL_OP_SIGMOID:
    case XHAL_OP_TANH:
    case XHAL_OP_EXP:
    case XHAL_OP_SOFTMAX:
      return dt == XHAL_DTYPE_F16 ? tol(1e-3, 2e-3) : tol(1e-6, 1e-5);
    case XHAL_OP_LAYER_NORM:
      return dt == XHAL_DTYPE_F16 ? tol(2e-3, 4e-3) : tol(1e-5, 1e-4);
    case XHAL_OP_MATMUL: {
      uint64_t k;
      if (x->rank != 2) return tol(0.0, 0.0);
      k = x->dims[call->attrs.transpose_a ? 0 : 1];
      return reduction(dt, (double)k);
    }
    case XHAL_OP_CONV2D: {
      const xhal_tensor_desc_t* w;
      if (call->num_inputs < 2) return tol(0.0, 0.0);
      w = &call->inputs[1].desc;
      if (w->rank != 4) return tol(0.0, 0.0);
      /* Reduction length Cg*R*S: W is [K, C/groups, R, S]. */
      return reduction(
          dt, (double)w->dims[1] * (double)w->dims[2] * (double)w->dims[3]);
    }
    case XHAL_OP_REDUCE_SUM: {
      int64_t rank = x->rank;
      int64_t axis = call->attrs.axis;
      if (axis < -rank || axis >= rank) return tol(0.0, 0.0);
      return reduction(dt,
                       (double)x->dims[xref_axis(call->attrs.axis, x->rank)]);
    }
    default: /* reduce_max, transpose, cast: exact */
      return tol(0.0, 0.0);
  }
}

/* Whether one element passes: NaN only matches NaN, an infinity only the
 * same infinity, everything else the catalog's abs + rel bound. */
static int element_ok(double got, double want, xhal_ref_tolerance_t t) {
  if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
  if (isinf(want) || isinf(got)) return got == want;
  return fabs(got - want) <= t.abs + t.rel * fabs(want);
}

uint64_t xhal_ref_compare(xhal_dtype_t dtype, const void* got, const void* want,
                          uint64_t count, xhal_ref_tolerance_t tol_) {
  uint64_t i;
  if (count > 0 && (got == NULL || want == NULL)) return 0;
  for (i = 0; i < count; ++i) {
    if (!element_ok(xhal_ref_get(dtype, got, i), xhal_ref_get(dtype, want, i),
                    tol_)) {
      return i;
    }
  }
  return count;
}

void xhal_ref_describe_mismatch(xhal_dtype_t dtype, const void* got,
                                const void* want, uint64_t index,
                                xhal_ref_tolerance_t t, char* msg,
                                size_t msg_size) {
  double g;
  double w;
  if (msg == NULL || msg_size == 0) return;
  if (got == NULL || want == NULL) {
    snprintf(msg, msg_size, "element %llu: NULL data",
             (unsigned long long)index);
    return;
  }
  g = xhal_ref_get(dtype, got, index);
  w = xhal_ref_get(dtype, want, index);
  /* %.9g round-trips f32; integers print exactly. */
  snprintf(msg, msg_size,
           "element %llu (%s): got %.9g, want %.9g, |diff| %.3g > %.3g + "
           "%.3g*|want|",
           (unsigned long long)index, xhal_ref_dtype_name(dtype), g, w,
           fabs(g - w), t.abs, t.rel);
}
