/*
 * ref_linalg.c - matmul and conv2d as the catalog writes them: one sum per
 * output element, in double for floats, in wrapping int32 for int8.
 */
#include "ref_internal.h"

/* int8 products accumulate in int32 with two's-complement wrap
 * (docs/ops.md); uint32_t arithmetic wraps by definition. */
static uint32_t mac_i8(uint32_t acc, const void* a, uint64_t ia, const void* b,
                       uint64_t ib) {
  int32_t prod = (int32_t)xhal_ref_get(XHAL_DTYPE_I8, a, ia) *
                 (int32_t)xhal_ref_get(XHAL_DTYPE_I8, b, ib);
  return acc + (uint32_t)prod;
}

void xref_matmul(const xhal_plugin_op_call_t* call, const void* const inputs[],
                 void* output) {
  const xhal_op_attrs_t* at = &call->attrs;
  const xhal_tensor_desc_t* a = &call->inputs[0].desc;
  xhal_dtype_t in_dt = a->dtype;
  xhal_dtype_t out_dt = call->outputs[0].desc.dtype;
  const void* bias = call->num_inputs > 2 ? inputs[2] : NULL;
  uint64_t m_dim = call->outputs[0].desc.dims[0];
  uint64_t n_dim = call->outputs[0].desc.dims[1];
  uint64_t k_dim = a->dims[at->transpose_a ? 0 : 1];
  uint64_t m, n, k;
  for (m = 0; m < m_dim; ++m) {
    for (n = 0; n < n_dim; ++n) {
      uint64_t y = m * n_dim + n;
      double acc = 0.0;
      uint32_t iacc = 0;
      for (k = 0; k < k_dim; ++k) {
        /* op(A)[m, k]: A is [M, K], or [K, M] with transpose_a. */
        uint64_t ia = at->transpose_a ? k * m_dim + m : m * k_dim + k;
        /* op(B)[k, n]: B is [K, N], or [N, K] with transpose_b. */
        uint64_t ib = at->transpose_b ? n * k_dim + k : k * n_dim + n;
        if (in_dt == XHAL_DTYPE_I8) {
          iacc = mac_i8(iacc, inputs[0], ia, inputs[1], ib);
        } else {
          acc += xhal_ref_get(in_dt, inputs[0], ia) *
                 xhal_ref_get(in_dt, inputs[1], ib);
        }
      }
      if (in_dt == XHAL_DTYPE_I8) {
        if (bias != NULL) iacc += (uint32_t)xref_get_i32(bias, n);
        xref_put_i32(output, y, xref_wrap_i32(iacc));
        continue;
      }
      {
        double v = (double)at->alpha * acc;
        /* beta == 0 must not read the prior output: NaN there must not
         * propagate (docs/ops.md). */
        if (at->beta != 0.0f) {
          v += (double)at->beta * xhal_ref_get(out_dt, output, y);
        }
        if (bias != NULL) v += xhal_ref_get(out_dt, bias, n);
        xhal_ref_set(out_dt, output, y, v);
      }
    }
  }
}

/* Input row (or column) hit by output position `o`, kernel tap `r`:
 * o*stride - pad + r*dil, or -1 when it falls in the zero padding. The
 * sum is computed before subtracting the padding so that nothing goes
 * negative in unsigned arithmetic; it cannot overflow because the output
 * size was derived from in + 2*pad. */
static int64_t input_pos(uint64_t o, uint64_t r, uint32_t stride, uint32_t pad,
                         uint32_t dil, uint64_t in) {
  uint64_t p = o * stride + r * dil;
  if (p < pad || p - pad >= in) return -1;
  return (int64_t)(p - pad);
}

void xref_conv2d(const xhal_plugin_op_call_t* call, const void* const inputs[],
                 void* output) {
  const xhal_op_attrs_t* at = &call->attrs;
  const xhal_tensor_desc_t* xd = &call->inputs[0].desc;
  const xhal_tensor_desc_t* wd = &call->inputs[1].desc;
  const xhal_tensor_desc_t* yd = &call->outputs[0].desc;
  xhal_dtype_t in_dt = xd->dtype;
  xhal_dtype_t out_dt = yd->dtype;
  const void* bias = call->num_inputs > 2 ? inputs[2] : NULL;
  uint64_t nn = xd->dims[0], cc = xd->dims[1], hh = xd->dims[2],
           ww = xd->dims[3];
  uint64_t kk = wd->dims[0], cg = wd->dims[1], rr = wd->dims[2],
           ss = wd->dims[3];
  uint64_t oh_dim = yd->dims[2], ow_dim = yd->dims[3];
  uint64_t k_per_group = kk / at->groups;
  uint64_t n, k, oh, ow, c, r, s;
  for (n = 0; n < nn; ++n) {
    for (k = 0; k < kk; ++k) {
      uint64_t g = k / k_per_group;
      for (oh = 0; oh < oh_dim; ++oh) {
        for (ow = 0; ow < ow_dim; ++ow) {
          uint64_t y = ((n * kk + k) * oh_dim + oh) * ow_dim + ow;
          double acc = 0.0;
          uint32_t iacc = 0;
          for (c = 0; c < cg; ++c) {
            for (r = 0; r < rr; ++r) {
              int64_t ih = input_pos(oh, r, at->stride[0], at->padding[0],
                                     at->dilation[0], hh);
              if (ih < 0) continue;
              for (s = 0; s < ss; ++s) {
                int64_t iw = input_pos(ow, s, at->stride[1], at->padding[1],
                                       at->dilation[1], ww);
                uint64_t ix, iwt;
                if (iw < 0) continue;
                ix = ((n * cc + g * cg + c) * hh + (uint64_t)ih) * ww +
                     (uint64_t)iw;
                iwt = ((k * cg + c) * rr + r) * ss + s;
                if (in_dt == XHAL_DTYPE_I8) {
                  iacc = mac_i8(iacc, inputs[0], ix, inputs[1], iwt);
                } else {
                  acc += xhal_ref_get(in_dt, inputs[0], ix) *
                         xhal_ref_get(in_dt, inputs[1], iwt);
                }
              }
            }
          }
          if (in_dt == XHAL_DTYPE_I8) {
            if (bias != NULL) iacc += (uint32_t)xref_get_i32(bias, k);
            xref_put_i32(output, y, xref_wrap_i32(iacc));
          } else {
            if (bias != NULL) acc += xhal_ref_get(out_dt, bias, k);
            xhal_ref_set(out_dt, output, y, acc);
          }
        }
      }
    }
  }
}
