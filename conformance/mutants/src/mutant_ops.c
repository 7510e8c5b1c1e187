/*
 * mutant_ops.c - one f32 implementation of every operator family of
 * docs/ops.md (elementwise binary and unary, matmul, conv2d, softmax,
 * layer_norm, reduce_sum/max, transpose) and casts between f32, f16, i8
 * and i32, registered with the host's registry from init().
 *
 * Written plainly from the catalog, as a vendor's first host-side
 * kernels would be. Each MUTANT_* block swaps in one mistake such a
 * kernel could ship with (conformance/mutants/CMakeLists.txt lists them
 * and the CTS tests aimed at each).
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <xhal/xhal_half.h>

#include "mutant_internal.h"

/* ------------------------------------------------------------- helpers */

static uint64_t element_count(const xhal_tensor_desc_t* desc) {
  uint64_t n = 1;
  uint32_t d;
  for (d = 0; d < desc->rank; ++d) n *= desc->dims[d];
  return n;
}

static const float* in_f32(const mutant_op_args_t* args, uint32_t i) {
  return (const float*)(const void*)args->inputs[i];
}

static float* out_f32(const mutant_op_args_t* args) {
  return (float*)(void*)args->output;
}

/* Element strides of `in` as seen from an output of rank `out_rank`:
 * shapes align at their last dim, a missing leading dim or a dim of 1 is
 * broadcast (stride 0). */
static void broadcast_strides(const xhal_tensor_desc_t* in, uint32_t out_rank,
                              uint64_t strides[XHAL_MAX_RANK]) {
  uint64_t stride = 1;
  uint32_t d = out_rank;
  while (d-- > 0) {
    uint32_t lead = out_rank - in->rank;
    if (d < lead) {
      strides[d] = 0;
      continue;
    }
    strides[d] = in->dims[d - lead] == 1 ? 0 : stride;
    stride *= in->dims[d - lead];
  }
}

/* The axis as a dim index, and the sizes before, along and after it. */
static void split_axis(const xhal_tensor_desc_t* x, int32_t axis,
                       uint64_t* outer, uint64_t* len, uint64_t* inner) {
  uint32_t a = axis < 0 ? (uint32_t)((int32_t)x->rank + axis) : (uint32_t)axis;
  uint32_t d;
#ifdef MUTANT_SOFTMAX_LAST_AXIS
  if (x->rank > 0) a = x->rank - 1; /* (reduce uses its own split) */
#endif
  *outer = 1;
  *inner = 1;
  for (d = 0; d < a; ++d) *outer *= x->dims[d];
  *len = x->dims[a];
  for (d = a + 1; d < x->rank; ++d) *inner *= x->dims[d];
}

/* ---------------------------------------------------- elementwise binary */

static float binary_apply(xhal_op_t op, float a, float b) {
  switch (op) {
    case XHAL_OP_ADD:
      return a + b;
    case XHAL_OP_SUB:
      return a - b;
    case XHAL_OP_MUL:
      return a * b;
    case XHAL_OP_DIV:
#ifdef MUTANT_DIV_GUARD_ZERO
      /* "avoid the division fault": x / 0 becomes 0 */
      if (b == 0.0f) return 0.0f;
#endif
      return a / b;
    case XHAL_OP_MAX:
#ifdef MUTANT_MAX_DROPS_NAN
      return fmaxf(a, b); /* fmaxf returns the number, not the NaN */
#else
      if (a != a || b != b) return a + b;
      return a > b ? a : b;
#endif
    case XHAL_OP_MIN:
      if (a != a || b != b) return a + b;
      return a < b ? a : b;
    default:
      return NAN;
  }
}

static xhal_status_t kernel_binary(const mutant_op_args_t* args) {
  const xhal_tensor_desc_t* out = &args->output_desc;
  const float* a = in_f32(args, 0);
  const float* b = in_f32(args, 1);
  float* y = out_f32(args);
  uint64_t n = element_count(out);
  uint64_t sa[XHAL_MAX_RANK];
  uint64_t sb[XHAL_MAX_RANK];
  uint64_t idx[XHAL_MAX_RANK];
  uint64_t ia = 0;
  uint64_t ib = 0;
  uint64_t i;
  if (n == 0) return XHAL_OK;
#ifdef MUTANT_BCAST_MODULO
  /* Broadcasting as "repeat the smaller operand": right for a trailing
   * suffix shape, wrong for a dim of 1 in the middle. */
  {
    uint64_t na = element_count(&args->input_descs[0]);
    uint64_t nb = element_count(&args->input_descs[1]);
    for (i = 0; i < n; ++i) y[i] = binary_apply(args->op, a[i % na], b[i % nb]);
    return XHAL_OK;
  }
#endif
  if (element_count(&args->input_descs[0]) == n &&
      element_count(&args->input_descs[1]) == n) {
    for (i = 0; i < n; ++i) y[i] = binary_apply(args->op, a[i], b[i]);
    return XHAL_OK;
  }
  broadcast_strides(&args->input_descs[0], out->rank, sa);
  broadcast_strides(&args->input_descs[1], out->rank, sb);
  memset(idx, 0, sizeof(idx));
  for (i = 0; i < n; ++i) {
    uint32_t d;
    y[i] = binary_apply(args->op, a[ia], b[ib]);
    for (d = out->rank; d-- > 0;) {
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < out->dims[d]) break;
      ia -= sa[d] * idx[d];
      ib -= sb[d] * idx[d];
      idx[d] = 0;
    }
  }
  return XHAL_OK;
}

/* ----------------------------------------------------- elementwise unary */

static float unary_apply(xhal_op_t op, float x) {
  switch (op) {
    case XHAL_OP_RELU:
#ifdef MUTANT_RELU_NAN_ZERO
      return x > 0.0f ? x : 0.0f; /* NaN > 0 is false: NaN becomes 0 */
#else
      return x < 0.0f ? 0.0f : x;
#endif
    case XHAL_OP_GELU:
#ifndef MUTANT_GELU_TANH_APPROX
      /* The formula gives -inf * 0 at -inf: the catalog takes the
       * limits. */
      if (isinf(x)) return x > 0 ? x : 0.0f;
      return (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
#else
    {
      double t = tanh(0.7978845608028654 * (x + 0.044715 * x * x * x));
      return (float)(0.5 * x * (1.0 + t));
    }
#endif
    case XHAL_OP_SIGMOID:
#ifdef MUTANT_SIGMOID_OVERFLOW
      return expf(x) / (1.0f + expf(x)); /* inf / inf past x = 88 */
#else
      if (x >= 0) return (float)(1.0 / (1.0 + exp(-(double)x)));
      return (float)(exp((double)x) / (1.0 + exp((double)x)));
#endif
    case XHAL_OP_TANH:
#ifdef MUTANT_TANH_EXP_FORM
    {
      float e = expf(2.0f * x);
      return (e - 1.0f) / (e + 1.0f);
    }
#else
      return tanhf(x);
#endif
    case XHAL_OP_EXP:
#ifdef MUTANT_EXP_SATURATE
    {
      float e = expf(x);
      return isinf(e) && e > 0 ? FLT_MAX : e;
    }
#else
      return expf(x);
#endif
    default:
      return NAN;
  }
}

static xhal_status_t kernel_unary(const mutant_op_args_t* args) {
  const float* x = in_f32(args, 0);
  float* y = out_f32(args);
  uint64_t n = element_count(&args->output_desc);
  uint64_t i;
#ifdef MUTANT_UNARY_EMPTY_WRITES
  /* A loop written for "at least one element". */
  i = 0;
  do {
    y[i] = unary_apply(args->op, x[i]);
  } while (++i < n);
#else
  for (i = 0; i < n; ++i) y[i] = unary_apply(args->op, x[i]);
#endif
  return XHAL_OK;
}

/* ---------------------------------------------------------------- matmul */

static xhal_status_t kernel_matmul(const mutant_op_args_t* args) {
  const xhal_op_attrs_t* at = &args->attrs;
  const float* a = in_f32(args, 0);
  const float* b = in_f32(args, 1);
  const float* bias = args->num_inputs > 2 ? in_f32(args, 2) : NULL;
  float* y = out_f32(args);
  uint64_t m_count = args->output_desc.dims[0];
  uint64_t n_count = args->output_desc.dims[1];
  uint64_t k_count = at->transpose_a ? args->input_descs[0].dims[0]
                                     : args->input_descs[0].dims[1];
  uint64_t m, n, k;
#ifdef MUTANT_MATMUL_K0_SKIPS
  if (k_count == 0) return XHAL_OK; /* "nothing to multiply" */
#endif
  for (m = 0; m < m_count; ++m) {
    for (n = 0; n < n_count; ++n) {
      double acc = 0.0;
      double v;
      for (k = 0; k < k_count; ++k) {
        double av = at->transpose_a ? a[k * m_count + m] : a[m * k_count + k];
#ifdef MUTANT_MATMUL_TB_SQUARE
        /* transpose_b honoured only for non-square B */
        double bv = at->transpose_b && n_count != k_count ? b[n * k_count + k]
                                                          : b[k * n_count + n];
#else
        double bv = at->transpose_b ? b[n * k_count + k] : b[k * n_count + n];
#endif
        acc += av * bv;
      }
      v = (double)at->alpha * acc;
#ifdef MUTANT_MATMUL_BETA0_READS
      v += (double)at->beta * y[m * n_count + n];
#else
      if (at->beta != 0.0f) v += (double)at->beta * y[m * n_count + n];
#endif
#ifdef MUTANT_MATMUL_BIAS_ROW
      if (bias != NULL) v += bias[m < n_count ? m : n_count - 1];
#else
      if (bias != NULL) v += bias[n];
#endif
      y[m * n_count + n] = (float)v;
    }
  }
  return XHAL_OK;
}

/* ---------------------------------------------------------------- conv2d */

static xhal_status_t kernel_conv2d(const mutant_op_args_t* args) {
  const xhal_op_attrs_t* at = &args->attrs;
  const xhal_tensor_desc_t* xd = &args->input_descs[0];
  const xhal_tensor_desc_t* wd = &args->input_descs[1];
  const xhal_tensor_desc_t* yd = &args->output_desc;
  const float* x = in_f32(args, 0);
  const float* w = in_f32(args, 1);
  const float* bias = args->num_inputs > 2 ? in_f32(args, 2) : NULL;
  float* y = out_f32(args);
  uint64_t nn = xd->dims[0], cc = xd->dims[1], hh = xd->dims[2];
  uint64_t ww = xd->dims[3];
  uint64_t kk = wd->dims[0], cg = wd->dims[1], rr = wd->dims[2];
  uint64_t ss = wd->dims[3];
  uint64_t oh_count = yd->dims[2], ow_count = yd->dims[3];
  uint64_t k_per_group = kk / at->groups;
  uint64_t n, k, oh, ow, c, r, s;
  for (n = 0; n < nn; ++n)
    for (k = 0; k < kk; ++k)
      for (oh = 0; oh < oh_count; ++oh)
        for (ow = 0; ow < ow_count; ++ow) {
          uint64_t g = k / k_per_group;
          double acc = bias != NULL ? bias[k] : 0.0;
          for (c = 0; c < cg; ++c)
            for (r = 0; r < rr; ++r)
              for (s = 0; s < ss; ++s) {
                int64_t ih =
                    (int64_t)(oh * at->stride[0] + r * at->dilation[0]) -
                    (int64_t)at->padding[0];
#ifdef MUTANT_CONV_DILATION_W
                int64_t iw =
                    (int64_t)(ow * at->stride[1] + s) - (int64_t)at->padding[1];
#else
                int64_t iw =
                    (int64_t)(ow * at->stride[1] + s * at->dilation[1]) -
                    (int64_t)at->padding[1];
#endif
                uint64_t ch = g * cg + c;
#ifdef MUTANT_CONV_GROUP_CHANNEL
                ch = c; /* every group reads the first group's channels */
#endif
                (void)cc;
                if (ih < 0 || iw < 0 || ih >= (int64_t)hh || iw >= (int64_t)ww)
                  continue;
                acc += (double)x[((n * cc + ch) * hh + (uint64_t)ih) * ww +
                                 (uint64_t)iw] *
                       w[((k * cg + c) * rr + r) * ss + s];
              }
          y[((n * kk + k) * oh_count + oh) * ow_count + ow] = (float)acc;
        }
  return XHAL_OK;
}

/* --------------------------------------------------------------- softmax */

static xhal_status_t kernel_softmax(const mutant_op_args_t* args) {
#ifdef MUTANT_SOFTMAX_IN_PLACE
  float* x = (float*)(uintptr_t)in_f32(args, 0); /* scratch in the input */
#else
  const float* x = in_f32(args, 0);
#endif
  float* y = out_f32(args);
  uint64_t outer, len, inner, o, i, j;
  split_axis(&args->input_descs[0], args->attrs.axis, &outer, &len, &inner);
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      uint64_t base = o * len * inner + i;
      float mx = -INFINITY;
      double sum = 0.0;
      int nan = 0;
      for (j = 0; j < len; ++j) {
        float v = x[base + j * inner];
        if (v != v) nan = 1;
        if (v > mx) mx = v;
      }
      if (nan) mx = NAN;
#ifdef MUTANT_SOFTMAX_NO_MAX
      mx = 0.0f; /* "inputs are logits of moderate size" */
      for (j = 0; j < len; ++j) sum += expf(x[base + j * inner]);
      for (j = 0; j < len; ++j)
        y[base + j * inner] = (float)(expf(x[base + j * inner]) / sum);
      continue;
#endif
      for (j = 0; j < len; ++j) {
#ifdef MUTANT_SOFTMAX_IN_PLACE
        x[base + j * inner] -= mx;
        sum += exp((double)x[base + j * inner]);
#else
        sum += exp((double)x[base + j * inner] - mx);
#endif
      }
      for (j = 0; j < len; ++j) {
#ifdef MUTANT_SOFTMAX_IN_PLACE
        y[base + j * inner] = (float)(exp((double)x[base + j * inner]) / sum);
#else
        y[base + j * inner] =
            (float)(exp((double)x[base + j * inner] - mx) / sum);
#endif
      }
    }
  }
  return XHAL_OK;
}

/* ------------------------------------------------------------ layer_norm */

static xhal_status_t kernel_layer_norm(const mutant_op_args_t* args) {
  const xhal_tensor_desc_t* xd = &args->input_descs[0];
  const float* x = in_f32(args, 0);
  const float* gamma = args->num_inputs > 1 ? in_f32(args, 1) : NULL;
  const float* beta = args->num_inputs > 2 ? in_f32(args, 2) : NULL;
  float* y = out_f32(args);
  uint64_t d_count = xd->dims[xd->rank - 1];
  uint64_t rows = d_count == 0 ? 0 : element_count(xd) / d_count;
  uint64_t r, d;
  for (r = 0; r < rows; ++r) {
    const float* row = x + r * d_count;
    double mean, var, inv;
#ifdef MUTANT_LAYERNORM_ONE_PASS
    /* One pass in f32: E[x^2] - E[x]^2 cancels badly on rows far from
     * zero. */
    float s = 0.0f, s2 = 0.0f;
    for (d = 0; d < d_count; ++d) {
      s += row[d];
      s2 += row[d] * row[d];
    }
    mean = s / (float)d_count;
    var = s2 / (float)d_count - (float)mean * (float)mean;
    if (var < 0) var = 0;
#else
    double s = 0.0, s2 = 0.0;
    for (d = 0; d < d_count; ++d) s += row[d];
    mean = s / (double)d_count;
    for (d = 0; d < d_count; ++d) s2 += (row[d] - mean) * (row[d] - mean);
#ifdef MUTANT_LAYERNORM_SAMPLE_VAR
    var = d_count > 1 ? s2 / (double)(d_count - 1) : 0.0;
#else
    var = s2 / (double)d_count;
#endif
#endif
    inv = 1.0 / sqrt(var + (double)args->attrs.epsilon);
    for (d = 0; d < d_count; ++d) {
      double v = (row[d] - mean) * inv;
      if (gamma != NULL) v *= gamma[d];
      if (beta != NULL) v += beta[d];
      y[r * d_count + d] = (float)v;
    }
  }
  return XHAL_OK;
}

/* ---------------------------------------------------------------- reduce */

static xhal_status_t kernel_reduce(const mutant_op_args_t* args) {
  const float* x = in_f32(args, 0);
  float* y = out_f32(args);
  const xhal_tensor_desc_t* xd = &args->input_descs[0];
  int32_t axis = args->attrs.axis;
  uint32_t a = axis < 0 ? (uint32_t)((int32_t)xd->rank + axis) : (uint32_t)axis;
  uint64_t outer = 1, inner = 1, len, o, i, j, d;
  for (d = 0; d < a; ++d) outer *= xd->dims[d];
  len = xd->dims[a];
  for (d = a + 1; d < xd->rank; ++d) inner *= xd->dims[d];
#ifdef MUTANT_REDUCE_EMPTY_SKIPS
  if (len == 0) return XHAL_OK; /* "no input, no work" */
#endif
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      const float* p = x + o * len * inner + i;
      if (args->op == XHAL_OP_REDUCE_SUM) {
        double s = 0.0;
#ifdef MUTANT_REDUCE_SUM_F32_ACC
        float fs = 0.0f;
        for (j = 0; j < len; ++j) fs += p[j * inner] * 1.0f;
        s = fs;
#else
        for (j = 0; j < len; ++j) s += p[j * inner];
#endif
        y[o * inner + i] = (float)s;
      } else {
        float m = p[0];
        for (j = 1; j < len; ++j) {
          float v = p[j * inner];
#ifdef MUTANT_REDUCE_MAX_SKIPS_NAN
          if (v > m) m = v;
#else
          if (v > m || v != v) m = v;
          if (m != m) break;
#endif
        }
        y[o * inner + i] = m;
      }
    }
  }
  return XHAL_OK;
}

/* ------------------------------------------------------------- transpose */

static xhal_status_t kernel_transpose(const mutant_op_args_t* args) {
  const xhal_tensor_desc_t* xd = &args->input_descs[0];
  const xhal_tensor_desc_t* yd = &args->output_desc;
  const uint32_t* perm = args->attrs.perm;
  uint64_t in_strides[XHAL_MAX_RANK];
  uint64_t idx[XHAL_MAX_RANK];
  uint64_t n = element_count(yd);
  uint64_t stride = 1, i;
  uint32_t r = xd->rank, d;
  uint32_t esize = xhal_dtype_size(xd->dtype);
  for (d = r; d-- > 0;) {
    in_strides[d] = stride;
    stride *= xd->dims[d];
  }
  memset(idx, 0, sizeof(idx));
  for (i = 0; i < n; ++i) {
    uint64_t src = 0;
    for (d = 0; d < r; ++d) {
#ifdef MUTANT_TRANSPOSE_INVERSE_PERM
      /* perm read the other way round: right for a swap or a reversal,
       * wrong for a rotation */
      uint32_t q;
      for (q = 0; q < r; ++q)
        if (perm[q] == d) break;
      src += idx[d] * in_strides[q < r ? q : d];
#else
      src += idx[d] * in_strides[perm[d]];
#endif
    }
    memcpy(args->output + i * esize, args->inputs[0] + src * esize, esize);
    for (d = r; d-- > 0;) {
      if (++idx[d] < yd->dims[d]) break;
      idx[d] = 0;
    }
  }
  return XHAL_OK;
}

/* ------------------------------------------------------------------ cast */

static double load(xhal_dtype_t dt, const uint8_t* p, uint64_t i) {
  switch (dt) {
    case XHAL_DTYPE_F32: {
      float v;
      memcpy(&v, p + 4 * i, 4);
      return v;
    }
    case XHAL_DTYPE_F16: {
      uint16_t h;
      memcpy(&h, p + 2 * i, 2);
      return xhal_half_to_float(h);
    }
    case XHAL_DTYPE_I8:
      return (int8_t)p[i];
    default: {
      int32_t v;
      memcpy(&v, p + 4 * i, 4);
      return v;
    }
  }
}

/* Float to an integer range: truncate, saturate, NaN to 0. */
static int64_t to_int(double v, int64_t lo, int64_t hi) {
#ifdef MUTANT_CAST_NO_SATURATE
  /* What the conversion instruction gives: the "integer indefinite"
   * value for NaN and out-of-range inputs, then the low bits. */
  if (v != v || v >= 2147483648.0 || v < -2147483648.0) return INT32_MIN;
  (void)lo;
  (void)hi;
  return (int64_t)(int32_t)v;
#else
  if (v != v) return 0;
  if (v <= (double)lo) return lo;
  if (v >= (double)hi) return hi;
  return (int64_t)v;
#endif
}

static void store(xhal_dtype_t dt, xhal_dtype_t from, uint8_t* p, uint64_t i,
                  double v) {
  switch (dt) {
    case XHAL_DTYPE_F32: {
      float f = (float)v;
      memcpy(p + 4 * i, &f, 4);
      break;
    }
    case XHAL_DTYPE_F16: {
#ifdef MUTANT_CAST_F16_TRUNCATE
      /* Round toward zero: drop the 13 low mantissa bits. */
      float f = (float)v;
      uint32_t bits;
      uint16_t h;
      memcpy(&bits, &f, 4);
      if (f != f || fabsf(f) >= 65520.0f || fabsf(f) < 6.2e-5f) {
        h = xhal_float_to_half(f);
      } else {
        bits &= ~0x1FFFu;
        memcpy(&f, &bits, 4);
        h = xhal_float_to_half(f);
      }
#else
      uint16_t h = xhal_float_to_half((float)v);
#endif
      memcpy(p + 2 * i, &h, 2);
      break;
    }
    case XHAL_DTYPE_I8: {
      int64_t q = from == XHAL_DTYPE_I32 ? (v < -128  ? -128
                                            : v > 127 ? 127
                                                      : (int64_t)v)
                                         : to_int(v, -128, 127);
#ifdef MUTANT_CAST_NO_SATURATE
      q = (int8_t)q;
#endif
      p[i] = (uint8_t)(int8_t)q;
      break;
    }
    default: {
      int32_t q = (int32_t)to_int(v, INT32_MIN, INT32_MAX);
      memcpy(p + 4 * i, &q, 4);
      break;
    }
  }
}

static xhal_status_t kernel_cast(const mutant_op_args_t* args) {
  xhal_dtype_t from = args->input_descs[0].dtype;
  xhal_dtype_t to = args->output_desc.dtype;
  uint64_t n = element_count(&args->output_desc);
  uint64_t i;
  for (i = 0; i < n; ++i) {
    double v = load(from, args->inputs[0], i);
    if (from == XHAL_DTYPE_I32 && to == XHAL_DTYPE_F16) v = (float)v;
    store(to, from, args->output, i, v);
  }
  return XHAL_OK;
}

/* ------------------------------------------------------------- enqueue */

/* One row per registered implementation. */
struct mutant_op_entry {
  xhal_op_t op;
  const char* name;
  uint32_t num_dtypes; /* inputs then the output */
  xhal_dtype_t dtypes[4];
  mutant_kernel_fn kernel;
};
typedef struct mutant_op_entry mutant_op_entry_t;

#define F32 XHAL_DTYPE_F32
#define F16 XHAL_DTYPE_F16
#define I8 XHAL_DTYPE_I8
#define I32 XHAL_DTYPE_I32
#define NONE XHAL_DTYPE_INVALID

static const mutant_op_entry_t kOps[] = {
    {XHAL_OP_ADD, "mutant.add.f32", 3, {F32, F32, F32, NONE}, kernel_binary},
    {XHAL_OP_SUB, "mutant.sub.f32", 3, {F32, F32, F32, NONE}, kernel_binary},
    {XHAL_OP_MUL, "mutant.mul.f32", 3, {F32, F32, F32, NONE}, kernel_binary},
    {XHAL_OP_DIV, "mutant.div.f32", 3, {F32, F32, F32, NONE}, kernel_binary},
    {XHAL_OP_MAX, "mutant.max.f32", 3, {F32, F32, F32, NONE}, kernel_binary},
    {XHAL_OP_MIN, "mutant.min.f32", 3, {F32, F32, F32, NONE}, kernel_binary},
    {XHAL_OP_RELU, "mutant.relu.f32", 2, {F32, F32, NONE, NONE}, kernel_unary},
    {XHAL_OP_GELU, "mutant.gelu.f32", 2, {F32, F32, NONE, NONE}, kernel_unary},
    {XHAL_OP_SIGMOID,
     "mutant.sigmoid.f32",
     2,
     {F32, F32, NONE, NONE},
     kernel_unary},
    {XHAL_OP_TANH, "mutant.tanh.f32", 2, {F32, F32, NONE, NONE}, kernel_unary},
    {XHAL_OP_EXP, "mutant.exp.f32", 2, {F32, F32, NONE, NONE}, kernel_unary},
    {XHAL_OP_MATMUL,
     "mutant.matmul.f32",
     4,
     {F32, F32, F32, F32},
     kernel_matmul},
    {XHAL_OP_CONV2D,
     "mutant.conv2d.f32",
     4,
     {F32, F32, F32, F32},
     kernel_conv2d},
    {XHAL_OP_SOFTMAX,
     "mutant.softmax.f32",
     2,
     {F32, F32, NONE, NONE},
     kernel_softmax},
    {XHAL_OP_LAYER_NORM,
     "mutant.layer_norm.f32",
     4,
     {F32, F32, F32, F32},
     kernel_layer_norm},
    {XHAL_OP_REDUCE_SUM,
     "mutant.reduce_sum.f32",
     2,
     {F32, F32, NONE, NONE},
     kernel_reduce},
    {XHAL_OP_REDUCE_MAX,
     "mutant.reduce_max.f32",
     2,
     {F32, F32, NONE, NONE},
     kernel_reduce},
    {XHAL_OP_TRANSPOSE,
     "mutant.transpose.f32",
     2,
     {F32, F32, NONE, NONE},
     kernel_transpose},
    {XHAL_OP_CAST,
     "mutant.cast.f32_f16",
     2,
     {F32, F16, NONE, NONE},
     kernel_cast},
    {XHAL_OP_CAST,
     "mutant.cast.f16_f32",
     2,
     {F16, F32, NONE, NONE},
     kernel_cast},
    {XHAL_OP_CAST,
     "mutant.cast.f32_i32",
     2,
     {F32, I32, NONE, NONE},
     kernel_cast},
    {XHAL_OP_CAST, "mutant.cast.f32_i8", 2, {F32, I8, NONE, NONE}, kernel_cast},
    {XHAL_OP_CAST,
     "mutant.cast.i32_f32",
     2,
     {I32, F32, NONE, NONE},
     kernel_cast},
};
_Static_assert(sizeof(kOps) / sizeof(kOps[0]) == MUTANT_OP_COUNT,
               "MUTANT_OP_COUNT (mutant_internal.h) must count the rows of "
               "kOps");

/* The number of inputs an operator may take, given its signature of
 * `num_dtypes` (inputs then the output): matmul, conv2d and layer_norm
 * have optional trailing inputs. */
static uint32_t min_inputs(const mutant_op_entry_t* entry) {
  switch (entry->op) {
    case XHAL_OP_MATMUL:
    case XHAL_OP_CONV2D:
      return 2;
    case XHAL_OP_LAYER_NORM:
      return 1;
    default:
      return entry->num_dtypes - 1;
  }
}

/* Resolves one operand to its address after checking that its bytes lie
 * in its buffer. */
static xhal_status_t resolve(struct xhal_plugin_context* ctx,
                             const xhal_plugin_tensor_t* t, const char* role,
                             uint8_t** out_ptr) {
  uint64_t bytes = xhal_dtype_size(t->desc.dtype);
  uint32_t d;
  if (t->buffer == NULL)
    return mutant_error(ctx, XHAL_ERROR_INVALID_HANDLE,
                        "enqueue_op: %s has a NULL buffer", role);
  if (t->desc.rank > XHAL_MAX_RANK)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_op: %s has rank %u", role, t->desc.rank);
  for (d = 0; d < t->desc.rank; ++d) {
    if (__builtin_mul_overflow(bytes, t->desc.dims[d], &bytes))
      return mutant_error(ctx, XHAL_ERROR_OUT_OF_RANGE,
                          "enqueue_op: %s is too large", role);
  }
  if (mutant_buffer_check_range(ctx, "enqueue_op", role, t->buffer, t->offset,
                                bytes) != XHAL_OK)
    return XHAL_ERROR_OUT_OF_RANGE;
#ifdef MUTANT_OP_OFFSET_ALIGN
  /* The "DMA engine" wants 16-byte aligned operands. */
  *out_ptr = t->buffer->base + (t->offset & ~(uint64_t)15);
#else
  *out_ptr = t->buffer->base + t->offset;
#endif
  return XHAL_OK;
}

static xhal_status_t mutant_enqueue_op(void* user_data,
                                       xhal_plugin_stream_t stream,
                                       const xhal_plugin_op_call_t* call) {
  const mutant_op_binding_t* binding = user_data;
  const mutant_op_entry_t* entry = binding->entry;
  struct xhal_plugin_context* ctx;
  mutant_op_args_t args;
  mutant_cmd_t* cmd;
  xhal_status_t status;
  uint8_t* ptr = NULL;
  uint32_t i;
  if (stream == NULL) return XHAL_ERROR_INVALID_HANDLE;
  ctx = stream->ctx;
  if (binding->ctx != ctx)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_op: %s belongs to another context than the "
                        "stream",
                        entry->name);
  if (call == NULL || call->struct_size < sizeof(*call))
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_op: call is NULL or its struct_size is too "
                        "small");
  if (call->num_inputs < min_inputs(entry) ||
      call->num_inputs > entry->num_dtypes - 1 || call->num_outputs != 1)
    return mutant_error(ctx, XHAL_ERROR_INVALID_ARGUMENT,
                        "enqueue_op: %s takes up to %u inputs and 1 output, "
                        "got %u and %u",
                        entry->name, entry->num_dtypes - 1, call->num_inputs,
                        call->num_outputs);
  memset(&args, 0, sizeof(args));
  args.op = entry->op;
  args.attrs = call->attrs;
  args.num_inputs = call->num_inputs;
  for (i = 0; i < call->num_inputs; ++i) {
    status = resolve(ctx, &call->inputs[i], "input", &ptr);
    if (status != XHAL_OK) return status;
    args.input_descs[i] = call->inputs[i].desc;
    args.inputs[i] = ptr;
  }
  status = resolve(ctx, &call->outputs[0], "output", &ptr);
  if (status != XHAL_OK) return status;
  args.output_desc = call->outputs[0].desc;
  args.output = ptr;

  cmd = mutant_cmd_new(stream, "enqueue_op");
  if (cmd == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  cmd->kind = MUTANT_CMD_OP;
  cmd->u.op.kernel = entry->kernel;
  cmd->u.op.args = args;
  for (i = 0; i < call->num_inputs; ++i)
    mutant_cmd_hold(cmd, call->inputs[i].buffer);
  mutant_cmd_hold(cmd, call->outputs[0].buffer);
  mutant_cmd_submit(stream, cmd);
  return XHAL_OK;
}

xhal_status_t mutant_register_ops(struct xhal_plugin_context* ctx) {
  size_t i;
  if (ctx->host.register_op_impl == NULL) {
    mutant_log(ctx, XHAL_LOG_WARN, "host has no registry; no operators");
    return XHAL_OK;
  }
  for (i = 0; i < sizeof(kOps) / sizeof(kOps[0]); ++i) {
    xhal_plugin_op_impl_t impl;
    xhal_status_t status;
    uint32_t d;
    memset(&impl, 0, sizeof(impl));
    impl.struct_size = (uint32_t)sizeof(impl);
    impl.op = kOps[i].op;
    impl.device_index = 0;
    impl.priority = 0;
    impl.num_dtypes = kOps[i].num_dtypes;
    for (d = 0; d < XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS; ++d)
      impl.dtypes[d] =
          d < kOps[i].num_dtypes ? kOps[i].dtypes[d] : XHAL_DTYPE_INVALID;
    impl.name = kOps[i].name;
    ctx->ops[i].ctx = ctx;
    ctx->ops[i].entry = &kOps[i];
    impl.user_data = &ctx->ops[i];
    impl.supports = NULL;
    impl.enqueue = mutant_enqueue_op;
    status = ctx->host.register_op_impl(ctx->host.host_context, &impl);
    if (status == XHAL_ERROR_OUT_OF_MEMORY) return status;
    if (status != XHAL_OK)
      mutant_log(ctx, XHAL_LOG_WARN, "host refused %s (status %d)",
                 kOps[i].name, (int)status);
  }
  return XHAL_OK;
}
