/*
 * elementwise.cl - binary operators with numpy broadcasting and unary
 * operators, for the f32, f16 and i32 programs.
 *
 * Every kernel walks its elements with a grid-stride loop, so the host
 * launches a bounded grid whatever the tensor size. The operator arrives
 * as a code (XK_OP_*, ocl_ops.h) rather than as one kernel per operator:
 * the branch is uniform across the grid and the kernels are memory bound,
 * while fewer kernels make the program build faster.
 */

#define XK_OP_ADD 0
#define XK_OP_SUB 1
#define XK_OP_MUL 2
#define XK_OP_DIV 3
#define XK_OP_MAX 4
#define XK_OP_MIN 5

#define XK_OP_RELU 0
#define XK_OP_GELU 1
#define XK_OP_SIGMOID 2
#define XK_OP_TANH 3
#define XK_OP_EXP 4

#if defined(XK_FLOAT)

inline float xk_binary(int op, float a, float b) {
  switch (op) {
    case XK_OP_ADD:
      return a + b;
    case XK_OP_SUB:
      return a - b;
    case XK_OP_MUL:
      return a * b;
    case XK_OP_DIV:
      return XK_DIV(a, b);
    case XK_OP_MAX:
      return xk_maxf(a, b);
    default:
      return xk_minf(a, b);
  }
}

inline float xk_unary(int op, float x) {
  switch (op) {
    case XK_OP_RELU:
      /* NaN < 0 is false, so NaN passes through. */
      return x < 0.0f ? 0.0f : x;
    case XK_OP_GELU:
      /* gelu(-inf) = 0, its limit (the formula gives -inf * 0 = NaN). */
      if (isinf(x)) return x > 0.0f ? x : 0.0f;
      /* 1 + erf(z) written as erfc(-z): for negative x it keeps relative
       * accuracy where 1 + erf(z) would cancel. */
      return 0.5f * x * erfc(-x * M_SQRT1_2_F);
    case XK_OP_SIGMOID:
      return 1.0f / (1.0f + exp(-x));
    case XK_OP_TANH:
      return tanh(x);
    default:
      return exp(x);
  }
}

__kernel void unary(int op, __global const ST_T* x, ulong xoff,
                    __global ST_T* y, ulong yoff, ulong n) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    STV(y, yoff + i, xk_unary(op, LD(x, xoff + i)));
  }
}

#define XK_BIN_T float

#elif defined(XK_INT)

/* Wrapping add/sub/mul: two's complement through uint. */
inline int xk_binary(int op, int a, int b) {
  switch (op) {
    case XK_OP_ADD:
      return as_int(as_uint(a) + as_uint(b));
    case XK_OP_SUB:
      return as_int(as_uint(a) - as_uint(b));
    case XK_OP_MUL:
      return as_int(as_uint(a) * as_uint(b));
    case XK_OP_MAX:
      return max(a, b);
    default:
      return min(a, b);
  }
}

#define XK_BIN_T int

#endif

#if defined(XK_FLOAT) || defined(XK_INT)

/* Both inputs have the output's shape. */
__kernel void binary_same(int op, __global const ST_T* a, ulong aoff,
                          __global const ST_T* b, ulong boff,
                          __global ST_T* y, ulong yoff, ulong n) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    XK_BIN_T va = LD(a, aoff + i);
    XK_BIN_T vb = LD(b, boff + i);
    STV(y, yoff + i, xk_binary(op, va, vb));
  }
}

/* General broadcasting. */
__kernel void binary_bcast(int op, uint rank, xk_bshape sh,
                           __global const ST_T* a, ulong aoff,
                           __global const ST_T* b, ulong boff,
                           __global ST_T* y, ulong yoff, ulong n) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    ulong ia, ib;
    xk_bcast_offsets(rank, &sh, i, n, &ia, &ib);
    XK_BIN_T va = LD(a, aoff + ia);
    XK_BIN_T vb = LD(b, boff + ib);
    STV(y, yoff + i, xk_binary(op, va, vb));
  }
}

#endif
