/*
 * ref_axis.c - operators that work along one axis (softmax, layer_norm,
 * reduce_sum, reduce_max) or rearrange axes (transpose).
 *
 * An axis splits a row-major tensor into [outer, len, inner]: element
 * (o, l, i) sits at (o*len + l)*inner + i. Every axis operator here walks
 * that view, so there is one indexing scheme to get right.
 */
#include <math.h>
#include <string.h>

#include "ref_internal.h"

typedef struct axis_view {
  uint64_t outer;
  uint64_t len;
  uint64_t inner;
} axis_view_t;

static axis_view_t split_at(const xhal_tensor_desc_t* d, uint32_t axis) {
  axis_view_t v = {1, d->dims[axis], 1};
  uint32_t i;
  for (i = 0; i < axis; ++i) v.outer *= d->dims[i];
  for (i = axis + 1; i < d->rank; ++i) v.inner *= d->dims[i];
  return v;
}

static uint64_t at(const axis_view_t* v, uint64_t o, uint64_t l, uint64_t i) {
  return (o * v->len + l) * v->inner + i;
}

void xref_softmax(const xhal_plugin_op_call_t* call, const void* const inputs[],
                  void* output) {
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  xhal_dtype_t dt = x->dtype;
  axis_view_t v = split_at(x, xref_axis(call->attrs.axis, x->rank));
  uint64_t o, l, i;
  if (xhal_ref_numel(x) == 0) return; /* an empty axis: empty output */
  for (o = 0; o < v.outer; ++o) {
    for (i = 0; i < v.inner; ++i) {
      double mx = -INFINITY;
      double sum = 0.0;
      for (l = 0; l < v.len; ++l) {
        double e = xhal_ref_get(dt, inputs[0], at(&v, o, l, i));
        /* A NaN makes the whole slice NaN, whatever the maximum is. */
        if (isnan(e) || e > mx) mx = e;
        if (isnan(mx)) break;
      }
      for (l = 0; l < v.len; ++l) {
        sum += exp(xhal_ref_get(dt, inputs[0], at(&v, o, l, i)) - mx);
      }
      for (l = 0; l < v.len; ++l) {
        uint64_t j = at(&v, o, l, i);
        xhal_ref_set(dt, output, j,
                     exp(xhal_ref_get(dt, inputs[0], j) - mx) / sum);
      }
    }
  }
}

void xref_layer_norm(const xhal_plugin_op_call_t* call,
                     const void* const inputs[], void* output) {
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  xhal_dtype_t dt = x->dtype;
  uint64_t d = x->dims[x->rank - 1];
  uint64_t rows = xhal_ref_numel(x) / d; /* D >= 1 was checked */
  const void* gamma = call->num_inputs > 1 ? inputs[1] : NULL;
  const void* beta = call->num_inputs > 2 ? inputs[2] : NULL;
  double eps = (double)call->attrs.epsilon;
  uint64_t row, j;
  for (row = 0; row < rows; ++row) {
    uint64_t base = row * d;
    double mean = 0.0;
    double var = 0.0;
    for (j = 0; j < d; ++j) mean += xhal_ref_get(dt, inputs[0], base + j);
    mean /= (double)d;
    for (j = 0; j < d; ++j) {
      double dev = xhal_ref_get(dt, inputs[0], base + j) - mean;
      var += dev * dev;
    }
    var /= (double)d; /* population variance */
    for (j = 0; j < d; ++j) {
      double y =
          (xhal_ref_get(dt, inputs[0], base + j) - mean) / sqrt(var + eps);
      if (gamma != NULL) y *= xhal_ref_get(dt, gamma, j);
      if (beta != NULL) y += xhal_ref_get(dt, beta, j);
      xhal_ref_set(dt, output, base + j, y);
    }
  }
}

void xref_reduce(const xhal_plugin_op_call_t* call, const void* const inputs[],
                 void* output) {
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  xhal_dtype_t dt = x->dtype;
  axis_view_t v = split_at(x, xref_axis(call->attrs.axis, x->rank));
  int is_max = call->op == XHAL_OP_REDUCE_MAX;
  uint64_t o, l, i;
  for (o = 0; o < v.outer; ++o) {
    for (i = 0; i < v.inner; ++i) {
      uint64_t y = o * v.inner + i;
      if (dt == XHAL_DTYPE_I32) {
        /* max: dims[axis] >= 1 was checked, so element 0 exists. */
        int32_t best = is_max ? xref_get_i32(inputs[0], at(&v, o, 0, i)) : 0;
        uint32_t sum = 0; /* wraps, as i32 sums must */
        for (l = 0; l < v.len; ++l) {
          int32_t e = xref_get_i32(inputs[0], at(&v, o, l, i));
          sum += (uint32_t)e;
          if (e > best) best = e;
        }
        xref_put_i32(output, y, is_max ? best : xref_wrap_i32(sum));
      } else {
        double acc = is_max ? -INFINITY : 0.0;
        for (l = 0; l < v.len; ++l) {
          double e = xhal_ref_get(dt, inputs[0], at(&v, o, l, i));
          if (!is_max) {
            acc += e;
          } else if (isnan(e) || e > acc) {
            acc = e; /* NaN propagates, as in elementwise max */
            if (isnan(acc)) break;
          }
        }
        xhal_ref_set(dt, output, y, acc);
      }
    }
  }
}

void xref_transpose(const xhal_plugin_op_call_t* call,
                    const void* const inputs[], void* output) {
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  const xhal_tensor_desc_t* y = &call->outputs[0].desc;
  size_t esize = xhal_dtype_size(x->dtype);
  uint64_t in_strides[XHAL_MAX_RANK];
  uint64_t n = xhal_ref_numel(y);
  uint64_t j;
  uint32_t i;
  xref_strides(x, in_strides);
  for (j = 0; j < n; ++j) {
    /* Output multi-index (j_0..j_r-1); input index has idx[perm[i]] = j_i,
     * so output dim i steps by the input stride of dim perm[i]. */
    uint64_t rem = j;
    uint64_t src = 0;
    for (i = y->rank; i > 0; --i) {
      uint64_t dim = y->dims[i - 1];
      src += (rem % dim) * in_strides[call->attrs.perm[i - 1]];
      rem /= dim;
    }
    memcpy((char*)output + j * esize, (const char*)inputs[0] + src * esize,
           esize);
  }
}
