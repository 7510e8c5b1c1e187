/*
 * cpu_elementwise.c - binary ops with numpy broadcasting (add, sub, mul,
 * div, max, min) and unary activations (relu, gelu, sigmoid, tanh, exp).
 *
 * Broadcasting is reduced to one shape: the output's dims with size-1 dims
 * dropped and neighbours merged wherever both operands walk them
 * contiguously (or both repeat them). What remains ends in a run along
 * which each operand either advances by one element or stays put, so the
 * innermost loop is always one of three dense forms (vector-vector,
 * vector-scalar, scalar-vector) that the compiler vectorises. Equal shapes
 * and scalar operands collapse to a single run.
 */
#include <math.h>
#include <string.h>
#include <xhal/xhal_half.h>

#include "cpu_kernels_internal.h"

/* ------------------------------------------------------ the op itself */

static inline float f32_binary(xhal_op_t op, float x, float y) {
  switch (op) {
    case XHAL_OP_ADD:
      return x + y;
    case XHAL_OP_SUB:
      return x - y;
    case XHAL_OP_MUL:
      return x * y;
    case XHAL_OP_DIV:
      return x / y;
    case XHAL_OP_MAX:
      /* A NaN in either operand gives NaN (the catalog's rule). */
      return x != x ? x : (y != y ? y : (x > y ? x : y));
    default: /* XHAL_OP_MIN */
      return x != x ? x : (y != y ? y : (x < y ? x : y));
  }
}

/* i32 add/sub/mul wrap: compute in uint32 where overflow is defined. */
static inline int32_t i32_binary(xhal_op_t op, int32_t x, int32_t y) {
  switch (op) {
    case XHAL_OP_ADD:
      return (int32_t)((uint32_t)x + (uint32_t)y);
    case XHAL_OP_SUB:
      return (int32_t)((uint32_t)x - (uint32_t)y);
    case XHAL_OP_MUL:
      return (int32_t)((uint32_t)x * (uint32_t)y);
    case XHAL_OP_MAX:
      return x > y ? x : y;
    default: /* XHAL_OP_MIN; the table has no i32 div */
      return x < y ? x : y;
  }
}

/* One run of n outputs; sa/sb are 1 (advance) or 0 (repeat). The op is a
 * constant after inlining, so each case becomes its own tight loop. */
static inline __attribute__((always_inline)) void run_f32(
    xhal_op_t op, float* restrict o, const float* restrict a, uint64_t sa,
    const float* restrict b, uint64_t sb, uint64_t n) {
  uint64_t i;
  if (sa && sb) {
    for (i = 0; i < n; ++i) o[i] = f32_binary(op, a[i], b[i]);
  } else if (sa) {
    const float y = b[0];
    for (i = 0; i < n; ++i) o[i] = f32_binary(op, a[i], y);
  } else if (sb) {
    const float x = a[0];
    for (i = 0; i < n; ++i) o[i] = f32_binary(op, x, b[i]);
  } else {
    const float v = f32_binary(op, a[0], b[0]);
    for (i = 0; i < n; ++i) o[i] = v;
  }
}

static inline __attribute__((always_inline)) void run_i32(
    xhal_op_t op, int32_t* restrict o, const int32_t* restrict a, uint64_t sa,
    const int32_t* restrict b, uint64_t sb, uint64_t n) {
  uint64_t i;
  if (sa && sb) {
    for (i = 0; i < n; ++i) o[i] = i32_binary(op, a[i], b[i]);
  } else if (sa) {
    const int32_t y = b[0];
    for (i = 0; i < n; ++i) o[i] = i32_binary(op, a[i], y);
  } else if (sb) {
    const int32_t x = a[0];
    for (i = 0; i < n; ++i) o[i] = i32_binary(op, x, b[i]);
  } else {
    const int32_t v = i32_binary(op, a[0], b[0]);
    for (i = 0; i < n; ++i) o[i] = v;
  }
}

static void run_f32_any(xhal_op_t op, float* o, const float* a, uint64_t sa,
                        const float* b, uint64_t sb, uint64_t n) {
  switch (op) {
    case XHAL_OP_ADD:
      run_f32(XHAL_OP_ADD, o, a, sa, b, sb, n);
      break;
    case XHAL_OP_SUB:
      run_f32(XHAL_OP_SUB, o, a, sa, b, sb, n);
      break;
    case XHAL_OP_MUL:
      run_f32(XHAL_OP_MUL, o, a, sa, b, sb, n);
      break;
    case XHAL_OP_DIV:
      run_f32(XHAL_OP_DIV, o, a, sa, b, sb, n);
      break;
    case XHAL_OP_MAX:
      run_f32(XHAL_OP_MAX, o, a, sa, b, sb, n);
      break;
    default:
      run_f32(XHAL_OP_MIN, o, a, sa, b, sb, n);
      break;
  }
}

static void run_i32_any(xhal_op_t op, int32_t* o, const int32_t* a, uint64_t sa,
                        const int32_t* b, uint64_t sb, uint64_t n) {
  switch (op) {
    case XHAL_OP_ADD:
      run_i32(XHAL_OP_ADD, o, a, sa, b, sb, n);
      break;
    case XHAL_OP_SUB:
      run_i32(XHAL_OP_SUB, o, a, sa, b, sb, n);
      break;
    case XHAL_OP_MUL:
      run_i32(XHAL_OP_MUL, o, a, sa, b, sb, n);
      break;
    case XHAL_OP_MAX:
      run_i32(XHAL_OP_MAX, o, a, sa, b, sb, n);
      break;
    default:
      run_i32(XHAL_OP_MIN, o, a, sa, b, sb, n);
      break;
  }
}

/* f16 computes each element in f32 and rounds once. */
static void run_f16_any(xhal_op_t op, uint16_t* o, const uint16_t* a,
                        uint64_t sa, const uint16_t* b, uint64_t sb,
                        uint64_t n) {
  uint64_t i;
  for (i = 0; i < n; ++i) {
    float x = xhal_half_to_float(a[i * sa]);
    float y = xhal_half_to_float(b[i * sb]);
    o[i] = xhal_float_to_half(f32_binary(op, x, y));
  }
}

/* -------------------------------------------------------- broadcasting */

typedef struct bcast {
  uint32_t rank; /* >= 1 after collapsing */
  uint64_t dims[XHAL_MAX_RANK];
  uint64_t sa[XHAL_MAX_RANK]; /* element strides in A, 0 = repeated */
  uint64_t sb[XHAL_MAX_RANK];
} bcast_t;

/* Strides of `in` seen through the output's dims (aligned at the last
 * dim; a missing or size-1 dim repeats). */
static int operand_strides(const xhal_tensor_desc_t* in,
                           const xhal_tensor_desc_t* out, uint64_t* strides) {
  uint64_t stride = 1;
  uint32_t r = out->rank;
  uint32_t i;
  if (in->rank > r) return 0;
  for (i = r; i-- > 0;) {
    uint32_t shift = r - in->rank;
    if (i < shift) {
      strides[i] = 0;
      continue;
    }
    uint64_t d = in->dims[i - shift];
    if (d == out->dims[i]) {
      strides[i] = d == 1 ? 0 : stride;
    } else if (d == 1) {
      strides[i] = 0;
    } else {
      return 0;
    }
    stride *= d;
  }
  return 1;
}

static int make_bcast(const xhal_tensor_desc_t* a, const xhal_tensor_desc_t* b,
                      const xhal_tensor_desc_t* out, bcast_t* bc) {
  uint64_t sa[XHAL_MAX_RANK];
  uint64_t sb[XHAL_MAX_RANK];
  uint32_t i;
  if (!operand_strides(a, out, sa) || !operand_strides(b, out, sb)) return 0;
  bc->rank = 0;
  for (i = 0; i < out->rank; ++i) {
    uint64_t d = out->dims[i];
    if (d == 1) continue; /* contributes nothing to any index */
    if (bc->rank > 0) {
      uint32_t p = bc->rank - 1;
      /* Merge into the previous dim when both operands continue through
       * it exactly as a longer dim would. */
      if (bc->sa[p] == sa[i] * d && bc->sb[p] == sb[i] * d) {
        bc->dims[p] *= d;
        bc->sa[p] = sa[i];
        bc->sb[p] = sb[i];
        continue;
      }
    }
    bc->dims[bc->rank] = d;
    bc->sa[bc->rank] = sa[i];
    bc->sb[bc->rank] = sb[i];
    bc->rank++;
  }
  if (bc->rank == 0) {
    bc->rank = 1;
    bc->dims[0] = 1;
    bc->sa[0] = 0;
    bc->sb[0] = 0;
  }
  return 1;
}

typedef struct binary_ctx {
  xhal_op_t op;
  xhal_dtype_t dtype;
  const bcast_t* bc;
  const void* a;
  const void* b;
  void* out;
} binary_ctx_t;

static void run_span(const binary_ctx_t* c, uint64_t o, uint64_t oa,
                     uint64_t ob, uint64_t sa, uint64_t sb, uint64_t n) {
  switch (c->dtype) {
    case XHAL_DTYPE_F32:
      run_f32_any(c->op, (float*)c->out + o, (const float*)c->a + oa, sa,
                  (const float*)c->b + ob, sb, n);
      break;
    case XHAL_DTYPE_F16:
      run_f16_any(c->op, (uint16_t*)c->out + o, (const uint16_t*)c->a + oa, sa,
                  (const uint16_t*)c->b + ob, sb, n);
      break;
    default:
      run_i32_any(c->op, (int32_t*)c->out + o, (const int32_t*)c->a + oa, sa,
                  (const int32_t*)c->b + ob, sb, n);
      break;
  }
}

/* Output elements [begin, end): find the multi-index of `begin` once, then
 * walk runs of the innermost dim with an odometer over the outer dims. */
static void binary_range(void* ctx, uint64_t begin, uint64_t end) {
  const binary_ctx_t* c = (const binary_ctx_t*)ctx;
  const bcast_t* bc = c->bc;
  uint32_t last = bc->rank - 1;
  uint64_t idx[XHAL_MAX_RANK];
  uint64_t oa = 0;
  uint64_t ob = 0;
  uint64_t rest = begin;
  uint64_t i = begin;
  uint32_t d;
  for (d = bc->rank; d-- > 0;) {
    idx[d] = rest % bc->dims[d];
    rest /= bc->dims[d];
    oa += idx[d] * bc->sa[d];
    ob += idx[d] * bc->sb[d];
  }
  while (i < end) {
    uint64_t n = bc->dims[last] - idx[last];
    if (n > end - i) n = end - i;
    run_span(c, i, oa, ob, bc->sa[last], bc->sb[last], n);
    i += n;
    /* Step to the start of the next run. */
    oa -= idx[last] * bc->sa[last];
    ob -= idx[last] * bc->sb[last];
    idx[last] = 0;
    for (d = last; d-- > 0;) {
      oa += bc->sa[d];
      ob += bc->sb[d];
      if (++idx[d] < bc->dims[d]) break;
      oa -= bc->dims[d] * bc->sa[d];
      ob -= bc->dims[d] * bc->sb[d];
      idx[d] = 0;
    }
  }
}

xhal_status_t cpu_op_binary(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], void* output,
                            const cpu_parallel_t* par) {
  const xhal_tensor_desc_t* out = &call->outputs[0].desc;
  bcast_t bc;
  binary_ctx_t ctx;
  uint64_t cost = call->inputs[0].desc.dtype == XHAL_DTYPE_F16 ? 8 : 1;
  if (call->num_inputs != 2) return XHAL_ERROR_INVALID_ARGUMENT;
  if (!make_bcast(&call->inputs[0].desc, &call->inputs[1].desc, out, &bc)) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  ctx.op = call->op;
  ctx.dtype = out->dtype;
  ctx.bc = &bc;
  ctx.a = inputs[0];
  ctx.b = inputs[1];
  ctx.out = output;
  cpu_par_for(par, cpu_numel(out), cpu_grain_for(cost), binary_range, &ctx);
  return XHAL_OK;
}

/* --------------------------------------------------------------- unary */

static inline float f32_unary(xhal_op_t op, float x) {
  switch (op) {
    case XHAL_OP_RELU:
      return x < 0.0f ? 0.0f : x; /* keeps NaN */
    case XHAL_OP_GELU:
      /* gelu(-inf) = 0, its limit (the formula gives -inf * 0 = NaN). */
      if (isinf(x)) return x > 0.0f ? x : 0.0f;
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case XHAL_OP_SIGMOID:
      return 1.0f / (1.0f + expf(-x));
    case XHAL_OP_TANH:
      return tanhf(x);
    default: /* XHAL_OP_EXP */
      return expf(x);
  }
}

typedef struct unary_ctx {
  xhal_op_t op;
  xhal_dtype_t dtype;
  const void* in;
  void* out;
} unary_ctx_t;

static void unary_f32(xhal_op_t op, float* restrict o, const float* restrict x,
                      uint64_t n) {
  uint64_t i;
  switch (op) {
    case XHAL_OP_RELU:
      for (i = 0; i < n; ++i) o[i] = f32_unary(XHAL_OP_RELU, x[i]);
      break;
    case XHAL_OP_GELU:
      for (i = 0; i < n; ++i) o[i] = f32_unary(XHAL_OP_GELU, x[i]);
      break;
    case XHAL_OP_SIGMOID:
      for (i = 0; i < n; ++i) o[i] = f32_unary(XHAL_OP_SIGMOID, x[i]);
      break;
    case XHAL_OP_TANH:
      for (i = 0; i < n; ++i) o[i] = tanhf(x[i]);
      break;
    default:
      for (i = 0; i < n; ++i) o[i] = expf(x[i]);
      break;
  }
}

static void unary_range(void* ctx, uint64_t begin, uint64_t end) {
  const unary_ctx_t* c = (const unary_ctx_t*)ctx;
  uint64_t i;
  if (c->dtype == XHAL_DTYPE_F32) {
    unary_f32(c->op, (float*)c->out + begin, (const float*)c->in + begin,
              end - begin);
    return;
  }
  for (i = begin; i < end; ++i) {
    float x = xhal_half_to_float(((const uint16_t*)c->in)[i]);
    ((uint16_t*)c->out)[i] = xhal_float_to_half(f32_unary(c->op, x));
  }
}

xhal_status_t cpu_op_unary(const xhal_plugin_op_call_t* call,
                           const void* const inputs[], void* output,
                           const cpu_parallel_t* par) {
  unary_ctx_t ctx;
  uint64_t n = cpu_numel(&call->outputs[0].desc);
  /* relu is a copy-speed op; the transcendental ones cost ~10-20x more. */
  uint64_t cost = call->op == XHAL_OP_RELU ? 1 : 16;
  if (call->num_inputs != 1 || cpu_numel(&call->inputs[0].desc) != n) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  ctx.op = call->op;
  ctx.dtype = call->outputs[0].desc.dtype;
  ctx.in = inputs[0];
  ctx.out = output;
  cpu_par_for(par, n, cpu_grain_for(cost), unary_range, &ctx);
  return XHAL_OK;
}
