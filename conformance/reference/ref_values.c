/*
 * ref_values.c - elements and tensors as values: element access under the
 * catalog's conversion rules, sizes, and the deterministic random fill.
 *
 * Every conversion the reference makes goes through xhal_ref_set, so the
 * cast operator and every operator's final rounding share one
 * implementation of the rules in docs/ops.md.
 */
#include <math.h>
#include <string.h>
#include <xhal/xhal_half.h>

#include "ref_internal.h"

const char* xhal_ref_dtype_name(xhal_dtype_t dtype) {
  switch (dtype) {
    case XHAL_DTYPE_F32:
      return "f32";
    case XHAL_DTYPE_F16:
      return "f16";
    case XHAL_DTYPE_I8:
      return "i8";
    case XHAL_DTYPE_I32:
      return "i32";
    default:
      return "invalid";
  }
}

xhal_tensor_desc_t xhal_ref_desc(xhal_dtype_t dtype, uint32_t rank,
                                 const uint64_t* dims) {
  xhal_tensor_desc_t d;
  uint32_t i;
  memset(&d, 0, sizeof(d));
  d.dtype = dtype;
  d.rank = rank <= XHAL_MAX_RANK ? rank : XHAL_MAX_RANK;
  for (i = 0; i < d.rank && dims != NULL; ++i) d.dims[i] = dims[i];
  return d;
}

uint64_t xhal_ref_numel(const xhal_tensor_desc_t* desc) {
  uint64_t n = 1;
  uint32_t i;
  if (desc == NULL || desc->rank > XHAL_MAX_RANK) return UINT64_MAX;
  /* A zero dim empties the tensor whatever the other dims are. */
  for (i = 0; i < desc->rank; ++i) {
    if (desc->dims[i] == 0) return 0;
  }
  for (i = 0; i < desc->rank; ++i) {
    if (__builtin_mul_overflow(n, desc->dims[i], &n)) return UINT64_MAX;
  }
  return n;
}

uint64_t xhal_ref_bytes(const xhal_tensor_desc_t* desc) {
  uint64_t n = xhal_ref_numel(desc);
  uint64_t bytes;
  if (n == UINT64_MAX || xhal_dtype_size(desc->dtype) == 0) return UINT64_MAX;
  if (__builtin_mul_overflow(n, (uint64_t)xhal_dtype_size(desc->dtype),
                             &bytes)) {
    return UINT64_MAX;
  }
  return bytes;
}

void xhal_ref_call_init(xhal_plugin_op_call_t* call, xhal_op_t op) {
  memset(call, 0, sizeof(*call));
  call->struct_size = (uint32_t)sizeof(*call);
  call->op = op;
  call->num_outputs = 1;
  xhal_op_attrs_default(&call->attrs);
}

void xref_strides(const xhal_tensor_desc_t* desc,
                  uint64_t strides[XHAL_MAX_RANK]) {
  uint64_t s = 1;
  uint32_t i;
  for (i = desc->rank; i > 0; --i) {
    strides[i - 1] = s;
    s *= desc->dims[i - 1]; /* cannot overflow: byte size was checked */
  }
}

uint32_t xref_axis(int32_t axis, uint32_t rank) {
  return axis < 0 ? (uint32_t)((int64_t)rank + axis) : (uint32_t)axis;
}

int32_t xref_wrap_i32(uint32_t bits) {
  if (bits <= (uint32_t)INT32_MAX) return (int32_t)bits;
  /* bits - 2^32, computed without overflow: -(2^32 - 1 - bits) - 1. */
  return -(int32_t)(UINT32_MAX - bits) - 1;
}

int32_t xref_get_i32(const void* data, uint64_t index) {
  int32_t v;
  memcpy(&v, (const char*)data + index * sizeof(v), sizeof(v));
  return v;
}

void xref_put_i32(void* data, uint64_t index, int32_t value) {
  memcpy((char*)data + index * sizeof(value), &value, sizeof(value));
}

double xhal_ref_get(xhal_dtype_t dtype, const void* data, uint64_t index) {
  const char* p = data;
  switch (dtype) {
    case XHAL_DTYPE_F32: {
      float f;
      memcpy(&f, p + index * 4, sizeof(f));
      return f;
    }
    case XHAL_DTYPE_F16: {
      uint16_t h;
      memcpy(&h, p + index * 2, sizeof(h));
      return xhal_half_to_float(h);
    }
    case XHAL_DTYPE_I8: {
      int8_t v;
      memcpy(&v, p + index, sizeof(v));
      return v;
    }
    case XHAL_DTYPE_I32:
      return xref_get_i32(data, index);
    default:
      return 0.0;
  }
}

/* Truncation toward zero with saturation; NaN -> 0 (docs/ops.md, cast).
 * Comparing before converting keeps the conversion defined. */
static int64_t saturate_trunc(double v, int64_t lo, int64_t hi) {
  if (isnan(v)) return 0;
  if (v <= (double)lo) return lo;
  if (v >= (double)hi) return hi;
  return (int64_t)trunc(v);
}

uint16_t xhal_ref_double_to_half(double value) {
  uint16_t sign = signbit(value) ? 0x8000u : 0u;
  double mag = fabs(value);
  double quantum;
  int exp2;
  int e;
  if (isnan(value)) return (uint16_t)(sign | 0x7E00u); /* quiet NaN */
  /* 65520 is halfway between 65504 (odd mantissa) and 2^16, so ties to
   * even goes up and everything from there overflows. */
  if (mag >= 65520.0) return (uint16_t)(sign | 0x7C00u);
  if (mag == 0.0) return sign;
  frexp(mag, &exp2); /* mag in [2^(exp2-1), 2^exp2) */
  e = exp2 - 1;
  if (e < -14) e = -14; /* subnormal range: fixed quantum 2^-24 */
  /* Spacing of binary16 values (10 fraction bits) in this binade. The
   * division by a power of two is exact, so nearbyint rounds the true
   * value once, to nearest even in the default rounding mode. */
  quantum = ldexp(1.0, e - 10);
  mag = nearbyint(mag / quantum) * quantum;
  /* mag is now a binary16 value, so this conversion is exact. */
  return (uint16_t)(sign | xhal_float_to_half((float)mag));
}

void xhal_ref_set(xhal_dtype_t dtype, void* data, uint64_t index,
                  double value) {
  char* p = data;
  switch (dtype) {
    case XHAL_DTYPE_F32: {
      /* Rounds to nearest even; out-of-range magnitudes become inf
       * (IEC 60559 conversion, which gcc and clang follow). */
      float f = (float)value;
      memcpy(p + index * 4, &f, sizeof(f));
      break;
    }
    case XHAL_DTYPE_F16: {
      uint16_t h = xhal_ref_double_to_half(value);
      memcpy(p + index * 2, &h, sizeof(h));
      break;
    }
    case XHAL_DTYPE_I8: {
      int8_t v = (int8_t)saturate_trunc(value, INT8_MIN, INT8_MAX);
      memcpy(p + index, &v, sizeof(v));
      break;
    }
    case XHAL_DTYPE_I32:
      xref_put_i32(data, index,
                   (int32_t)saturate_trunc(value, INT32_MIN, INT32_MAX));
      break;
    default:
      break;
  }
}

/* ---------------------------------------------------------------- random */

void xhal_ref_rng_seed(xhal_ref_rng_t* rng, uint64_t seed) {
  rng->state = seed;
}

uint64_t xhal_ref_rng_next(xhal_ref_rng_t* rng) {
  /* splitmix64 (Steele, Lea, Flood 2014). */
  uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double xhal_ref_rng_uniform(xhal_ref_rng_t* rng, double lo, double hi) {
  /* 53 random bits fill a double's mantissa exactly: u in [0, 1). */
  double u = (double)(xhal_ref_rng_next(rng) >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * u;
}

xhal_status_t xhal_ref_fill_random(xhal_dtype_t dtype, void* data,
                                   uint64_t count, uint64_t seed, double lo,
                                   double hi) {
  xhal_ref_rng_t rng;
  uint64_t i;
  if (xhal_dtype_size(dtype) == 0 || (data == NULL && count > 0) ||
      !isfinite(lo) || !isfinite(hi) || lo > hi) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  xhal_ref_rng_seed(&rng, seed);
  if (dtype == XHAL_DTYPE_F32 || dtype == XHAL_DTYPE_F16) {
    for (i = 0; i < count; ++i) {
      xhal_ref_set(dtype, data, i, xhal_ref_rng_uniform(&rng, lo, hi));
    }
    return XHAL_OK;
  }
  {
    double tmin = dtype == XHAL_DTYPE_I8 ? INT8_MIN : INT32_MIN;
    double tmax = dtype == XHAL_DTYPE_I8 ? INT8_MAX : INT32_MAX;
    double ilo = fmax(ceil(lo), tmin);
    double ihi = fmin(floor(hi), tmax);
    uint64_t span;
    if (ilo > ihi) return XHAL_ERROR_INVALID_ARGUMENT;
    span = (uint64_t)(ihi - ilo) + 1; /* at most 2^32 */
    for (i = 0; i < count; ++i) {
      /* The modulo bias is below 2^-32 and does not matter for tests. */
      uint64_t r = xhal_ref_rng_next(&rng) % span;
      xhal_ref_set(dtype, data, i, ilo + (double)r);
    }
  }
  return XHAL_OK;
}
