/*
 * cpu_layout.c - transpose (any rank, any permutation, any dtype) and cast
 * (every pair of f32, f16, i8, i32).
 *
 * transpose first simplifies the permutation: size-1 dims are dropped and
 * output dims that stay neighbours in the input are merged, so e.g. a
 * [B, H, S, D] -> [B, S, H, D] permute becomes a batch of row copies. What
 * remains is either row copies (the output's last dim is contiguous in the
 * input) or a batch of 2-D transposes, which are done in square tiles so
 * both the reads and the writes stay in cache.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <xhal/xhal_half.h>

#include "cpu_kernels_internal.h"

/* ------------------------------------------------------------ transpose */

enum { TB = 32 }; /* tile edge for 2-D transposes */

typedef struct tp_job {
  uint32_t rank;                  /* collapsed, >= 1 */
  uint64_t dims[XHAL_MAX_RANK];   /* output dims */
  uint64_t in_st[XHAL_MAX_RANK];  /* input stride of each output dim */
  uint64_t out_st[XHAL_MAX_RANK]; /* output stride of each output dim */
  uint32_t t;       /* output dim whose input stride is 1 (tiled case) */
  uint64_t tiles_t; /* tiles along dim t and along the last dim */
  uint64_t tiles_l;
  uint32_t es; /* element size in bytes */
  const uint8_t* x;
  uint8_t* y;
} tp_job_t;

/* Input and output offsets (in elements) of the outer multi-index `rest`:
 * row-major over the output dims other than skip_a and skip_b, which the
 * caller walks itself. */
static void outer_offsets(const tp_job_t* j, uint64_t rest, uint32_t skip_a,
                          uint32_t skip_b, uint64_t* in_off,
                          uint64_t* out_off) {
  uint32_t d;
  *in_off = 0;
  *out_off = 0;
  for (d = j->rank; d-- > 0;) {
    uint64_t idx;
    if (d == skip_a || d == skip_b) continue;
    idx = rest % j->dims[d];
    rest /= j->dims[d];
    *in_off += idx * j->in_st[d];
    *out_off += idx * j->out_st[d];
  }
}

/* The output's last dim is contiguous in the input: one memcpy per row. */
static void tp_rows(void* ctx, uint64_t begin, uint64_t end) {
  const tp_job_t* j = (const tp_job_t*)ctx;
  uint32_t last = j->rank - 1;
  size_t row_bytes = (size_t)(j->dims[last] * j->es);
  uint64_t row;
  for (row = begin; row < end; ++row) {
    uint64_t in_off;
    uint64_t out_off;
    outer_offsets(j, row, last, last, &in_off, &out_off);
    memcpy(j->y + out_off * j->es, j->x + in_off * j->es, row_bytes);
  }
}

/* Transposes one tile of h rows (input stride in_ld) by w contiguous
 * elements into w rows (output stride out_ld) of h contiguous elements,
 * through a buffer: every input and output cache line is touched once,
 * which matters when both strides are large powers of two (the lines of a
 * direct strided walk would all fall into the same L1 set). */
static void tile_transpose(uint32_t es, const uint8_t* src, uint64_t in_ld,
                           uint8_t* dst, uint64_t out_ld, uint64_t h,
                           uint64_t w) {
  uint32_t buf[TB * TB];
  uint64_t r;
  uint64_t c;
  for (r = 0; r < h; ++r) {
    memcpy((uint8_t*)buf + r * TB * es, src + r * in_ld * es, (size_t)(w * es));
  }
  for (c = 0; c < w; ++c) {
    uint8_t* d = dst + c * out_ld * es;
    switch (es) {
      case 1:
        for (r = 0; r < h; ++r) d[r] = ((const uint8_t*)buf)[r * TB + c];
        break;
      case 2:
        for (r = 0; r < h; ++r) {
          ((uint16_t*)d)[r] = ((const uint16_t*)buf)[r * TB + c];
        }
        break;
      default:
        for (r = 0; r < h; ++r) ((uint32_t*)d)[r] = buf[r * TB + c];
        break;
    }
  }
}

/* One TB x TB tile of a 2-D transpose between dim t (contiguous in the
 * input) and the last dim (contiguous in the output). */
static void tp_tiles(void* ctx, uint64_t begin, uint64_t end) {
  const tp_job_t* j = (const tp_job_t*)ctx;
  uint32_t last = j->rank - 1;
  uint64_t item;
  for (item = begin; item < end; ++item) {
    uint64_t tl = item % j->tiles_l;
    uint64_t tt = (item / j->tiles_l) % j->tiles_t;
    uint64_t outer = item / j->tiles_l / j->tiles_t;
    uint64_t a0 = tt * TB;
    uint64_t b0 = tl * TB;
    uint64_t a1 = a0 + TB < j->dims[j->t] ? a0 + TB : j->dims[j->t];
    uint64_t b1 = b0 + TB < j->dims[last] ? b0 + TB : j->dims[last];
    uint64_t in_off;
    uint64_t out_off;
    outer_offsets(j, outer, j->t, last, &in_off, &out_off);
    /* Input rows are indexed by the last output dim, output rows by t. */
    tile_transpose(j->es, j->x + (in_off + b0 * j->in_st[last] + a0) * j->es,
                   j->in_st[last],
                   j->y + (out_off + a0 * j->out_st[j->t] + b0) * j->es,
                   j->out_st[j->t], b1 - b0, a1 - a0);
  }
}

xhal_status_t cpu_op_transpose(const xhal_plugin_op_call_t* call,
                               const void* const inputs[], void* output,
                               const cpu_parallel_t* par) {
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  uint64_t in_strides[XHAL_MAX_RANK];
  uint32_t seen = 0;
  uint32_t i;
  uint64_t s = 1;
  uint64_t numel = cpu_numel(x);
  tp_job_t j;
  if (call->num_inputs != 1) return XHAL_ERROR_INVALID_ARGUMENT;
  if (call->outputs[0].desc.rank != x->rank) return XHAL_ERROR_SHAPE_MISMATCH;
  for (i = x->rank; i-- > 0;) {
    in_strides[i] = s;
    s *= x->dims[i];
  }
  memset(&j, 0, sizeof(j));
  j.es = xhal_dtype_size(x->dtype);
  j.x = (const uint8_t*)inputs[0];
  j.y = (uint8_t*)output;
  for (i = 0; i < x->rank; ++i) {
    uint32_t p = call->attrs.perm[i];
    uint64_t d;
    if (p >= x->rank || (seen & (1u << p))) return XHAL_ERROR_INVALID_ARGUMENT;
    seen |= 1u << p;
    d = x->dims[p];
    if (call->outputs[0].desc.dims[i] != d) return XHAL_ERROR_SHAPE_MISMATCH;
    if (d == 1) continue;
    /* Merge with the previous output dim when the input walks them as
     * one longer dim. */
    if (j.rank > 0 && j.in_st[j.rank - 1] == in_strides[p] * d) {
      j.dims[j.rank - 1] *= d;
      j.in_st[j.rank - 1] = in_strides[p];
      continue;
    }
    j.dims[j.rank] = d;
    j.in_st[j.rank] = in_strides[p];
    j.rank++;
  }
  if (j.rank <= 1) {
    /* The identity, up to size-1 dims. */
    memcpy(output, inputs[0], (size_t)(numel * j.es));
    return XHAL_OK;
  }
  s = 1;
  for (i = j.rank; i-- > 0;) {
    j.out_st[i] = s;
    s *= j.dims[i];
  }
  if (j.in_st[j.rank - 1] == 1) {
    uint64_t row = j.dims[j.rank - 1];
    cpu_par_for(par, numel / row, cpu_grain_for(row), tp_rows, &j);
    return XHAL_OK;
  }
  /* After dropping size-1 dims, the input's innermost dim has stride 1. */
  for (i = 0; i < j.rank && j.in_st[i] != 1; ++i) {
  }
  if (i == j.rank) return XHAL_ERROR_INTERNAL;
  j.t = i;
  j.tiles_t = (j.dims[j.t] + TB - 1) / TB;
  j.tiles_l = (j.dims[j.rank - 1] + TB - 1) / TB;
  cpu_par_for(par,
              numel / j.dims[j.t] / j.dims[j.rank - 1] * j.tiles_t * j.tiles_l,
              cpu_grain_for(TB * TB * 2), tp_tiles, &j);
  return XHAL_OK;
}

/* ----------------------------------------------------------------- cast */

/* float -> int: truncate toward zero, saturate, NaN -> 0. The comparisons
 * come first so the C conversion only ever sees in-range values. */
static inline int32_t f_to_i32(float v) {
  if (v != v) return 0;
  if (v >= 2147483648.0f) return INT32_MAX;
  if (v <= -2147483648.0f) return INT32_MIN;
  return (int32_t)v;
}

static inline int8_t f_to_i8(float v) {
  if (v != v) return 0;
  if (v >= 127.0f) return INT8_MAX;
  if (v <= -128.0f) return INT8_MIN;
  return (int8_t)(int32_t)v;
}

static inline int8_t i32_to_i8(int32_t v) {
  return (int8_t)(v > INT8_MAX ? INT8_MAX : (v < INT8_MIN ? INT8_MIN : v));
}

/* int32 -> f16 through f32 is exact: below 2^24 the f32 step is exact, and
 * every int32 at or above 65520 in magnitude rounds to inf either way. */
static inline uint16_t i32_to_h(int32_t v) {
  return xhal_float_to_half((float)v);
}

typedef struct cast_job {
  xhal_dtype_t from;
  xhal_dtype_t to;
  const void* x;
  void* y;
} cast_job_t;

static void cast_from_f32(const float* restrict x, xhal_dtype_t to, void* y,
                          uint64_t n) {
  uint64_t i;
  switch (to) {
    case XHAL_DTYPE_F16:
      for (i = 0; i < n; ++i) ((uint16_t*)y)[i] = xhal_float_to_half(x[i]);
      break;
    case XHAL_DTYPE_I8:
      for (i = 0; i < n; ++i) ((int8_t*)y)[i] = f_to_i8(x[i]);
      break;
    default:
      for (i = 0; i < n; ++i) ((int32_t*)y)[i] = f_to_i32(x[i]);
      break;
  }
}

static void cast_from_f16(const uint16_t* restrict x, xhal_dtype_t to, void* y,
                          uint64_t n) {
  uint64_t i;
  switch (to) {
    case XHAL_DTYPE_F32:
      for (i = 0; i < n; ++i) ((float*)y)[i] = xhal_half_to_float(x[i]);
      break;
    case XHAL_DTYPE_I8:
      for (i = 0; i < n; ++i) {
        ((int8_t*)y)[i] = f_to_i8(xhal_half_to_float(x[i]));
      }
      break;
    default:
      for (i = 0; i < n; ++i) {
        ((int32_t*)y)[i] = f_to_i32(xhal_half_to_float(x[i]));
      }
      break;
  }
}

static void cast_from_i8(const int8_t* restrict x, xhal_dtype_t to, void* y,
                         uint64_t n) {
  uint64_t i;
  switch (to) {
    case XHAL_DTYPE_F32:
      for (i = 0; i < n; ++i) ((float*)y)[i] = (float)x[i];
      break;
    case XHAL_DTYPE_F16:
      for (i = 0; i < n; ++i) ((uint16_t*)y)[i] = xhal_float_to_half(x[i]);
      break;
    default:
      for (i = 0; i < n; ++i) ((int32_t*)y)[i] = x[i];
      break;
  }
}

static void cast_from_i32(const int32_t* restrict x, xhal_dtype_t to, void* y,
                          uint64_t n) {
  uint64_t i;
  switch (to) {
    case XHAL_DTYPE_F32:
      /* The conversion rounds to nearest even (the default FP mode). */
      for (i = 0; i < n; ++i) ((float*)y)[i] = (float)x[i];
      break;
    case XHAL_DTYPE_F16:
      for (i = 0; i < n; ++i) ((uint16_t*)y)[i] = i32_to_h(x[i]);
      break;
    default:
      for (i = 0; i < n; ++i) ((int8_t*)y)[i] = i32_to_i8(x[i]);
      break;
  }
}

static void cast_range(void* ctx, uint64_t begin, uint64_t end) {
  const cast_job_t* c = (const cast_job_t*)ctx;
  uint32_t fs = xhal_dtype_size(c->from);
  uint32_t ts = xhal_dtype_size(c->to);
  const void* x = (const uint8_t*)c->x + begin * fs;
  void* y = (uint8_t*)c->y + begin * ts;
  uint64_t n = end - begin;
  if (c->from == c->to) {
    /* Bit copy: keeps NaN payloads and signed zeros. */
    memcpy(y, x, (size_t)(n * fs));
    return;
  }
  switch (c->from) {
    case XHAL_DTYPE_F32:
      cast_from_f32((const float*)x, c->to, y, n);
      break;
    case XHAL_DTYPE_F16:
      cast_from_f16((const uint16_t*)x, c->to, y, n);
      break;
    case XHAL_DTYPE_I8:
      cast_from_i8((const int8_t*)x, c->to, y, n);
      break;
    default:
      cast_from_i32((const int32_t*)x, c->to, y, n);
      break;
  }
}

xhal_status_t cpu_op_cast(const xhal_plugin_op_call_t* call,
                          const void* const inputs[], void* output,
                          const cpu_parallel_t* par) {
  cast_job_t c;
  uint64_t n = cpu_numel(&call->outputs[0].desc);
  if (call->num_inputs != 1 || cpu_numel(&call->inputs[0].desc) != n) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  c.from = call->inputs[0].desc.dtype;
  c.to = call->outputs[0].desc.dtype;
  c.x = inputs[0];
  c.y = output;
  cpu_par_for(par, n, cpu_grain_for(4), cast_range, &c);
  return XHAL_OK;
}
