/*
 * vector.c - the vector unit: elementwise arithmetic with row, column and
 * scalar broadcast, activations, exp, rsqrt, dtype conversion and row
 * reductions, on rows x cols tiles in the scratchpad.
 *
 * Arithmetic is f32 or i32 (wrapping); f16 and int8 data enter and leave
 * through COPY, which converts with the catalog's cast rules. Row
 * reductions of f32 accumulate in a wider register (double), as a
 * reduction tree with extended accumulators would, so a softmax or a
 * layer-norm over a long row keeps f32 accuracy. Transcendentals are
 * evaluated in double and rounded once to f32.
 *
 * Timing: latency + ceil(rows * cols / lanes) * cost(func) for
 * elementwise work; reductions pay ceil(cols / lanes) + ceil(log2(lanes))
 * per row for the lane tree. cost is 1 for add/sub/mul/max/min/relu/copy/
 * axpby and 4 for div, exp, tanh, sigmoid, gelu and rsqrt (a multi-cycle
 * special-function unit).
 */
#include <math.h>
#include <string.h>

#include "npusim_internal.h"

static int is_binary(uint32_t f) {
  return f >= NPUSIM_VF_ADD && f <= NPUSIM_VF_MIN;
}
static int is_unary(uint32_t f) {
  return f >= NPUSIM_VF_RELU && f <= NPUSIM_VF_RSQRT;
}
static int is_reduce(uint32_t f) {
  return f == NPUSIM_VF_ROW_SUM || f == NPUSIM_VF_ROW_MAX;
}

static uint64_t func_cost(uint32_t f) {
  switch (f) {
    case NPUSIM_VF_DIV:
    case NPUSIM_VF_GELU:
    case NPUSIM_VF_SIGMOID:
    case NPUSIM_VF_TANH:
    case NPUSIM_VF_EXP:
    case NPUSIM_VF_RSQRT:
      return 4;
    default:
      return 1;
  }
}

static uint64_t log2_ceil(uint64_t v) {
  uint64_t r = 0;
  while ((1ull << r) < v && r < 63) r++;
  return r;
}

/* Is the function defined for arithmetic dtype `dt`? */
static int func_ok(uint32_t f, uint32_t dt) {
  if (f == NPUSIM_VF_COPY) return npusim_dtype_size(dt) != 0;
  if (dt == NPUSIM_DT_F32) {
    return is_binary(f) || is_unary(f) || is_reduce(f) || f == NPUSIM_VF_AXPBY;
  }
  if (dt == NPUSIM_DT_I32) {
    return (is_binary(f) && f != NPUSIM_VF_DIV) || f == NPUSIM_VF_RELU ||
           is_reduce(f);
  }
  return 0;
}

/* ----------------------------------------------------------- conversion */

static float load_f32(const uint8_t* p, uint64_t i) {
  float v;
  memcpy(&v, p + i * 4, 4);
  return v;
}
static void store_f32(uint8_t* p, uint64_t i, float v) {
  memcpy(p + i * 4, &v, 4);
}
static int32_t load_i32(const uint8_t* p, uint64_t i) {
  int32_t v;
  memcpy(&v, p + i * 4, 4);
  return v;
}
static void store_i32(uint8_t* p, uint64_t i, int32_t v) {
  memcpy(p + i * 4, &v, 4);
}

/* Float to integer: truncate toward zero, saturate, NaN -> 0. */
static int64_t float_to_int(double v, int64_t lo, int64_t hi) {
  if (isnan(v)) return 0;
  if (v <= (double)lo) return lo;
  if (v >= (double)hi) return hi;
  return (int64_t)v;
}

static void convert(uint8_t* dst, uint32_t ddt, const uint8_t* src,
                    uint32_t sdt, uint64_t n) {
  uint64_t i;
  for (i = 0; i < n; ++i) {
    int is_float = sdt == NPUSIM_DT_F32 || sdt == NPUSIM_DT_F16;
    double fv = 0;
    int64_t iv = 0;
    switch (sdt) {
      case NPUSIM_DT_F32:
        fv = load_f32(src, i);
        break;
      case NPUSIM_DT_F16: {
        uint16_t h;
        memcpy(&h, src + i * 2, 2);
        fv = npusim_half_to_float(h);
        break;
      }
      case NPUSIM_DT_I8:
        iv = (int8_t)src[i];
        break;
      default:
        iv = load_i32(src, i);
        break;
    }
    switch (ddt) {
      case NPUSIM_DT_F32:
        store_f32(dst, i, is_float ? (float)fv : (float)iv);
        break;
      case NPUSIM_DT_F16: {
        /* i32 -> f32 is exact below 2^24, and anything larger is inf in
         * f16, so going through f32 rounds once. */
        uint16_t h = npusim_float_to_half(is_float ? (float)fv : (float)iv);
        memcpy(dst + i * 2, &h, 2);
        break;
      }
      case NPUSIM_DT_I8: {
        int64_t v = is_float ? float_to_int(fv, INT8_MIN, INT8_MAX) : iv;
        if (v < INT8_MIN) v = INT8_MIN;
        if (v > INT8_MAX) v = INT8_MAX;
        dst[i] = (uint8_t)(int8_t)v;
        break;
      }
      default: {
        int64_t v = is_float ? float_to_int(fv, INT32_MIN, INT32_MAX) : iv;
        store_i32(dst, i, (int32_t)v);
        break;
      }
    }
  }
}

/* ----------------------------------------------------------- arithmetic */

static float binary_f32(uint32_t f, float a, float b) {
  switch (f) {
    case NPUSIM_VF_ADD:
      return a + b;
    case NPUSIM_VF_SUB:
      return a - b;
    case NPUSIM_VF_MUL:
      return a * b;
    case NPUSIM_VF_DIV:
      return a / b;
    case NPUSIM_VF_MAX:
      if (isnan(a) || isnan(b)) return NAN;
      return a > b ? a : b;
    default:
      if (isnan(a) || isnan(b)) return NAN;
      return a < b ? a : b;
  }
}

static int32_t binary_i32(uint32_t f, int32_t a, int32_t b) {
  switch (f) {
    case NPUSIM_VF_ADD:
      return (int32_t)((uint32_t)a + (uint32_t)b);
    case NPUSIM_VF_SUB:
      return (int32_t)((uint32_t)a - (uint32_t)b);
    case NPUSIM_VF_MUL:
      return (int32_t)((uint32_t)a * (uint32_t)b);
    case NPUSIM_VF_MAX:
      return a > b ? a : b;
    default:
      return a < b ? a : b;
  }
}

static float unary_f32(uint32_t f, float x) {
  double d = x;
  switch (f) {
    case NPUSIM_VF_RELU:
      return x > 0.0f ? x : (isnan(x) ? x : 0.0f);
    case NPUSIM_VF_GELU:
      /* gelu(-inf) = 0, its limit (the formula gives -inf * 0 = NaN). */
      if (isinf(d)) return d > 0.0 ? x : 0.0f;
      return (float)(0.5 * d * (1.0 + erf(d / sqrt(2.0))));
    case NPUSIM_VF_SIGMOID:
      return (float)(1.0 / (1.0 + exp(-d)));
    case NPUSIM_VF_TANH:
      return (float)tanh(d);
    case NPUSIM_VF_EXP:
      return (float)exp(d);
    default:
      return (float)(1.0 / sqrt(d));
  }
}

/* Index of src1's element for element (r, c) under broadcast `mode`. */
static uint64_t bcast_index(uint32_t mode, uint64_t r, uint64_t c,
                            uint64_t cols) {
  switch (mode) {
    case NPUSIM_VB_ROW:
      return c;
    case NPUSIM_VB_COL:
      return r;
    case NPUSIM_VB_SCALAR:
      return 0;
    default:
      return r * cols + c;
  }
}

static void run_binary(uint32_t f, uint32_t dt, uint32_t flags,
                       const uint8_t* s0, const uint8_t* s1, uint8_t* d,
                       uint64_t rows, uint64_t cols, uint64_t imm) {
  uint32_t mode = flags & NPUSIM_VB_MASK;
  int swap = (flags & NPUSIM_VF_SWAP) != 0;
  uint8_t imm_bytes[4];
  uint64_t r, c;
  memcpy(imm_bytes, &imm, 4); /* little-endian low word */
  if (mode == NPUSIM_VB_SCALAR) s1 = imm_bytes;
  for (r = 0; r < rows; ++r) {
    for (c = 0; c < cols; ++c) {
      uint64_t i = r * cols + c, j = bcast_index(mode, r, c, cols);
      if (dt == NPUSIM_DT_F32) {
        float a = load_f32(s0, i), b = load_f32(s1, j);
        store_f32(d, i, swap ? binary_f32(f, b, a) : binary_f32(f, a, b));
      } else {
        int32_t a = load_i32(s0, i), b = load_i32(s1, j);
        store_i32(d, i, swap ? binary_i32(f, b, a) : binary_i32(f, a, b));
      }
    }
  }
}

static void run_reduce(uint32_t f, uint32_t dt, const uint8_t* s, uint8_t* d,
                       uint64_t rows, uint64_t cols) {
  uint64_t r, c;
  for (r = 0; r < rows; ++r) {
    const uint8_t* row = s + r * cols * 4;
    if (dt == NPUSIM_DT_F32) {
      double acc = f == NPUSIM_VF_ROW_SUM ? 0.0 : -INFINITY;
      int nan = 0;
      for (c = 0; c < cols; ++c) {
        float v = load_f32(row, c);
        if (isnan(v)) nan = 1;
        if (f == NPUSIM_VF_ROW_SUM) {
          acc += v;
        } else if (v > acc) {
          acc = v;
        }
      }
      store_f32(d, r, nan ? NAN : (float)acc);
    } else {
      uint32_t sum = 0;
      int32_t mx = INT32_MIN;
      for (c = 0; c < cols; ++c) {
        int32_t v = load_i32(row, c);
        sum += (uint32_t)v;
        if (v > mx) mx = v;
      }
      store_i32(d, r, f == NPUSIM_VF_ROW_SUM ? (int32_t)sum : mx);
    }
  }
}

/* ----------------------------------------------------------- the command */

/* Checks one spad operand; returns 0 and sets the fault if it is bad. */
static int operand_ok(const npusim_t* sim, uint64_t addr, uint64_t bytes,
                      uint32_t align, npusim_exec_t* ex) {
  if (!npusim_in_range(addr, bytes, sim->cfg.spad_bytes)) {
    ex->error = NPUSIM_ERR_SPAD_RANGE;
    ex->error_addr = addr;
    return 0;
  }
  if (align > 1 && addr % align) {
    ex->error = NPUSIM_ERR_BAD_ARG;
    ex->error_addr = addr;
    return 0;
  }
  return 1;
}

/* The output may be exactly an input (in place, same element size) or
 * disjoint from it; a partial overlap would read half-written data. */
static int alias_ok(uint64_t d, uint64_t ds, uint64_t s, uint64_t ss,
                    int exact_ok) {
  if (!ds || !ss || d + ds <= s || s + ss <= d) return 1;
  return exact_ok && d == s && ds == ss;
}

void npusim_exec_vector(npusim_t* sim, const npusim_cmd_t* cmd,
                        npusim_exec_t* ex) {
  uint32_t f = cmd->func, dt = cmd->dtype, mode = cmd->flags & NPUSIM_VB_MASK;
  uint64_t rows = cmd->a[3], cols = cmd->a[4], n;
  uint32_t ddt = f == NPUSIM_VF_COPY ? (uint32_t)cmd->a[5] : dt;
  uint32_t es = npusim_dtype_size(dt), des = npusim_dtype_size(ddt);
  uint64_t s0_bytes, s1_bytes = 0, d_bytes;
  int has_s1 = is_binary(f) || f == NPUSIM_VF_AXPBY;
  uint8_t* sp = sim->spad;
  ex->engine = ENGINE_COMPUTE;
  if (!func_ok(f, dt) || des == 0 || cmd->a[5] > NPUSIM_DT_I32 ||
      (cmd->flags & ~(uint32_t)(NPUSIM_VB_MASK | NPUSIM_VF_SWAP)) ||
      (!is_binary(f) && cmd->flags != 0) || !npusim_mul_ok(rows, cols, &n)) {
    ex->error = NPUSIM_ERR_BAD_ARG;
    return;
  }
  if (!npusim_mul_ok(n, es, &s0_bytes) ||
      !npusim_mul_ok(is_reduce(f) ? rows : n, des, &d_bytes)) {
    ex->error = NPUSIM_ERR_SPAD_RANGE;
    return;
  }
  if (has_s1) {
    uint64_t count = mode == NPUSIM_VB_ROW      ? cols
                     : mode == NPUSIM_VB_COL    ? rows
                     : mode == NPUSIM_VB_SCALAR ? 0
                                                : n;
    s1_bytes = count * es; /* count <= n, and n * es did not overflow */
  }
  if (!operand_ok(sim, cmd->a[0], s0_bytes, es, ex) ||
      (has_s1 && !operand_ok(sim, cmd->a[1], s1_bytes, es, ex)) ||
      !operand_ok(sim, cmd->a[2], d_bytes, des, ex)) {
    return;
  }
  if (!alias_ok(cmd->a[2], d_bytes, cmd->a[0], s0_bytes, 1) ||
      (has_s1 && !alias_ok(cmd->a[2], d_bytes, cmd->a[1], s1_bytes,
                           mode == NPUSIM_VB_FULL))) {
    ex->error = NPUSIM_ERR_OVERLAP;
    ex->error_addr = cmd->a[2];
    return;
  }
  if (is_reduce(f)) {
    uint64_t lanes = sim->cfg.vector_lanes;
    uint64_t per_row = cols / lanes + (cols % lanes != 0) + log2_ceil(lanes);
    ex->cycles = sim->cfg.vector_latency_cycles + rows * per_row;
  } else {
    uint64_t lanes = sim->cfg.vector_lanes;
    ex->cycles = sim->cfg.vector_latency_cycles +
                 (n / lanes + (n % lanes != 0)) * func_cost(f);
  }
  if (n == 0) return;
  if (f == NPUSIM_VF_COPY) {
    convert(sp + cmd->a[2], ddt, sp + cmd->a[0], dt, n);
  } else if (is_binary(f)) {
    run_binary(f, dt, cmd->flags, sp + cmd->a[0], sp + cmd->a[1],
               sp + cmd->a[2], rows, cols, cmd->a[6]);
  } else if (is_reduce(f)) {
    run_reduce(f, dt, sp + cmd->a[0], sp + cmd->a[2], rows, cols);
  } else if (f == NPUSIM_VF_AXPBY) {
    uint32_t ab = (uint32_t)cmd->a[6], bb = (uint32_t)(cmd->a[6] >> 32);
    float alpha, beta;
    uint64_t i;
    memcpy(&alpha, &ab, 4);
    memcpy(&beta, &bb, 4);
    for (i = 0; i < n; ++i) {
      float x = load_f32(sp + cmd->a[0], i), y = load_f32(sp + cmd->a[1], i);
      store_f32(sp + cmd->a[2], i, alpha * x + beta * y);
    }
  } else if (dt == NPUSIM_DT_I32) { /* relu */
    uint64_t i;
    for (i = 0; i < n; ++i) {
      int32_t v = load_i32(sp + cmd->a[0], i);
      store_i32(sp + cmd->a[2], i, v > 0 ? v : 0);
    }
  } else {
    uint64_t i;
    for (i = 0; i < n; ++i) {
      store_f32(sp + cmd->a[2], i, unary_f32(f, load_f32(sp + cmd->a[0], i)));
    }
  }
}
