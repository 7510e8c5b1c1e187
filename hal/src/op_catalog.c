/*
 * op_catalog.c - the operator catalog's rules (docs/ops.md) as code.
 *
 * One table row per operator says how many inputs it takes, what its
 * operands are called (for messages) and which dtype and shape rule family
 * it follows; the check walks the same steps for every call so that a
 * broken call always gets the same status for the same defect:
 *   op id -> attrs header -> operand counts -> each descriptor (rank, dtype
 *   known, byte size) -> dtype signature -> attributes and shapes.
 * Messages name the operand ("input 1 (B)", "output"), the rule and the
 * values, because they are what a framework author sees when a call fails.
 */
#include "op_catalog.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The ABI 1.0 size of xhal_op_attrs_t. A caller built against a later
 * minor version may pass a larger struct (appended fields are ignored
 * here), never a smaller one. */
#define OP_ATTRS_SIZE_1_0 88u
/* No minor version will grow the attributes this far; a larger
 * struct_size means the struct was never initialised. */
#define OP_ATTRS_SIZE_MAX 4096u

_Static_assert(sizeof(xhal_op_attrs_t) >= OP_ATTRS_SIZE_1_0, "attrs only grow");

typedef enum sig_kind {
  SIG_FP_I32,     /* all operands one dtype: f32, f16 or i32 */
  SIG_FP,         /* all operands one dtype: f32 or f16 */
  SIG_FP_INT8,    /* fp, or (i8, i8, [i32]) -> i32 */
  SIG_SAME_ANY,   /* one input, output of the same (any known) dtype */
  SIG_ANY_TO_ANY, /* one input, output of any known dtype */
} sig_kind_t;

typedef enum shape_kind {
  SHAPE_BROADCAST,
  SHAPE_SAME, /* output has the shape of input 0 */
  SHAPE_MATMUL,
  SHAPE_CONV2D,
  SHAPE_SOFTMAX,
  SHAPE_LAYER_NORM,
  SHAPE_REDUCE,
  SHAPE_TRANSPOSE,
} shape_kind_t;

typedef struct op_entry {
  xhal_op_t op;
  const char* name;
  uint32_t min_inputs;
  uint32_t max_inputs;
  const char* operands[XHAL_MAX_OP_INPUTS];
  sig_kind_t sig;
  shape_kind_t shape;
} op_entry_t;

static const op_entry_t kOps[] = {
    {XHAL_OP_ADD, "add", 2, 2, {"A", "B"}, SIG_FP_I32, SHAPE_BROADCAST},
    {XHAL_OP_SUB, "sub", 2, 2, {"A", "B"}, SIG_FP_I32, SHAPE_BROADCAST},
    {XHAL_OP_MUL, "mul", 2, 2, {"A", "B"}, SIG_FP_I32, SHAPE_BROADCAST},
    {XHAL_OP_DIV, "div", 2, 2, {"A", "B"}, SIG_FP, SHAPE_BROADCAST},
    {XHAL_OP_MAX, "max", 2, 2, {"A", "B"}, SIG_FP_I32, SHAPE_BROADCAST},
    {XHAL_OP_MIN, "min", 2, 2, {"A", "B"}, SIG_FP_I32, SHAPE_BROADCAST},
    {XHAL_OP_RELU, "relu", 1, 1, {"X"}, SIG_FP, SHAPE_SAME},
    {XHAL_OP_GELU, "gelu", 1, 1, {"X"}, SIG_FP, SHAPE_SAME},
    {XHAL_OP_SIGMOID, "sigmoid", 1, 1, {"X"}, SIG_FP, SHAPE_SAME},
    {XHAL_OP_TANH, "tanh", 1, 1, {"X"}, SIG_FP, SHAPE_SAME},
    {XHAL_OP_EXP, "exp", 1, 1, {"X"}, SIG_FP, SHAPE_SAME},
    {XHAL_OP_MATMUL,
     "matmul",
     2,
     3,
     {"A", "B", "bias"},
     SIG_FP_INT8,
     SHAPE_MATMUL},
    {XHAL_OP_CONV2D,
     "conv2d",
     2,
     3,
     {"X", "W", "bias"},
     SIG_FP_INT8,
     SHAPE_CONV2D},
    {XHAL_OP_SOFTMAX, "softmax", 1, 1, {"X"}, SIG_FP, SHAPE_SOFTMAX},
    {XHAL_OP_LAYER_NORM,
     "layer_norm",
     1,
     3,
     {"X", "gamma", "beta"},
     SIG_FP,
     SHAPE_LAYER_NORM},
    {XHAL_OP_REDUCE_SUM, "reduce_sum", 1, 1, {"X"}, SIG_FP_I32, SHAPE_REDUCE},
    {XHAL_OP_REDUCE_MAX, "reduce_max", 1, 1, {"X"}, SIG_FP_I32, SHAPE_REDUCE},
    {XHAL_OP_TRANSPOSE,
     "transpose",
     1,
     1,
     {"X"},
     SIG_SAME_ANY,
     SHAPE_TRANSPOSE},
    {XHAL_OP_CAST, "cast", 1, 1, {"X"}, SIG_ANY_TO_ANY, SHAPE_SAME},
};

#define OP_COUNT (sizeof(kOps) / sizeof(kOps[0]))

/* Operand index that stands for the output in messages. */
#define OUTPUT_INDEX UINT32_MAX

/* Everything one check needs, so helpers take a single pointer. */
typedef struct check {
  const op_entry_t* entry; /* NULL for a custom op */
  xhal_op_t op;
  uint32_t num_inputs;
  const xhal_tensor_desc_t* in;
  const xhal_tensor_desc_t* out; /* NULL when there is no output */
  const xhal_op_attrs_t* attrs;
  char* msg;
  size_t msg_size;
} check_t;

static const op_entry_t* find_op(xhal_op_t op) {
  size_t i;
  for (i = 0; i < OP_COUNT; ++i) {
    if (kOps[i].op == op) return &kOps[i];
  }
  return NULL;
}

const char* op_catalog_name(xhal_op_t op) {
  const op_entry_t* e = find_op(op);
  return e ? e->name : NULL;
}

int op_catalog_known(xhal_op_t op) { return find_op(op) != NULL; }

xhal_status_t op_catalog_arity(xhal_op_t op, uint32_t* out_min_inputs,
                               uint32_t* out_max_inputs) {
  const op_entry_t* e = find_op(op);
  uint32_t lo = 0;
  uint32_t hi = XHAL_MAX_OP_INPUTS;
  if (out_min_inputs == NULL || out_max_inputs == NULL) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (e != NULL) {
    lo = e->min_inputs;
    hi = e->max_inputs;
  } else if (op < XHAL_OP_CUSTOM_BASE) {
    return XHAL_ERROR_NOT_FOUND;
  }
  *out_min_inputs = lo;
  *out_max_inputs = hi;
  return XHAL_OK;
}

/* ------------------------------------------------------------ messages */

static const char* dtype_name(xhal_dtype_t dt) {
  switch (dt) {
    case XHAL_DTYPE_F32:
      return "f32";
    case XHAL_DTYPE_F16:
      return "f16";
    case XHAL_DTYPE_I8:
      return "i8";
    case XHAL_DTYPE_I32:
      return "i32";
    default:
      return "unknown";
  }
}

const char* op_catalog_dtype_name(xhal_dtype_t dt) { return dtype_name(dt); }

/* "[2, 3]"; rank is clamped so a malformed descriptor cannot overrun. */
static const char* fmt_shape(const xhal_tensor_desc_t* d, char* buf,
                             size_t size) {
  uint32_t rank = d->rank <= XHAL_MAX_RANK ? d->rank : XHAL_MAX_RANK;
  size_t used = 0;
  uint32_t i;
  int n = snprintf(buf, size, "[");
  if (n > 0) used = (size_t)n;
  for (i = 0; i < rank && used < size; ++i) {
    n = snprintf(buf + used, size - used, "%s%llu", i ? ", " : "",
                 (unsigned long long)d->dims[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
  if (used < size) snprintf(buf + used, size - used, "]");
  return buf;
}

/* "input 1 (B)", "input 3" (custom ops have no operand names) or
 * "output". */
static const char* operand_label(const check_t* c, uint32_t index, char* buf,
                                 size_t size) {
  if (index == OUTPUT_INDEX) {
    snprintf(buf, size, "output");
  } else if (c->entry != NULL && index < XHAL_MAX_OP_INPUTS &&
             c->entry->operands[index] != NULL) {
    snprintf(buf, size, "input %u (%s)", index, c->entry->operands[index]);
  } else {
    snprintf(buf, size, "input %u", index);
  }
  return buf;
}

static const xhal_tensor_desc_t* operand(const check_t* c, uint32_t index) {
  return index == OUTPUT_INDEX ? c->out : &c->in[index];
}

/* Writes "<op>: <text>" into the caller's buffer and returns `status`. */
__attribute__((format(printf, 3, 4))) static xhal_status_t fail(
    const check_t* c, xhal_status_t status, const char* fmt, ...) {
  va_list ap;
  size_t used = 0;
  int n;
  if (c->msg == NULL || c->msg_size == 0) return status;
  if (c->entry != NULL) {
    n = snprintf(c->msg, c->msg_size, "%s: ", c->entry->name);
  } else {
    n = snprintf(c->msg, c->msg_size, "op 0x%x: ", (unsigned)c->op);
  }
  if (n > 0) used = (size_t)n;
  if (used < c->msg_size) {
    va_start(ap, fmt);
    vsnprintf(c->msg + used, c->msg_size - used, fmt, ap);
    va_end(ap);
  }
  return status;
}

/* --------------------------------------------------------- descriptors */

static int dtype_known(xhal_dtype_t dt) { return xhal_dtype_size(dt) != 0; }

/* Rank within limits, dtype known, and element count times element size
 * representable: later arithmetic on this tensor cannot overflow. */
static xhal_status_t check_descriptor(const check_t* c, uint32_t index) {
  const xhal_tensor_desc_t* d = operand(c, index);
  char label[32];
  uint64_t bytes = xhal_dtype_size(d->dtype);
  uint32_t i;
  if (d->rank > XHAL_MAX_RANK) {
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT, "%s has rank %u, above %d",
                operand_label(c, index, label, sizeof(label)), d->rank,
                XHAL_MAX_RANK);
  }
  if (!dtype_known(d->dtype)) {
    return fail(c, XHAL_ERROR_DTYPE_MISMATCH, "%s has unknown dtype %u",
                operand_label(c, index, label, sizeof(label)),
                (unsigned)d->dtype);
  }
  /* The zero dims aside, the dims and the element size must multiply
   * within 64 bits, also for a tensor with zero elements: every partial
   * product an implementation or libxhal forms (row counts, strides,
   * byte sizes) is then representable, and [2^63, 2^63, 0] gets this
   * status here, not a different one at enqueue. */
  for (i = 0; i < d->rank; ++i) {
    if (d->dims[i] == 0) continue;
    if (__builtin_mul_overflow(bytes, d->dims[i], &bytes)) {
      char shape[256];
      return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                  "%s %s: its non-zero dims times the element size pass "
                  "2^64 - 1 bytes",
                  operand_label(c, index, label, sizeof(label)),
                  fmt_shape(d, shape, sizeof(shape)));
    }
  }
  return XHAL_OK;
}

/* ------------------------------------------------------------- dtypes */

static int is_fp(xhal_dtype_t dt) {
  return dt == XHAL_DTYPE_F32 || dt == XHAL_DTYPE_F16;
}

/* Every operand but input 0 must have input 0's dtype. */
static xhal_status_t check_all_same(const check_t* c) {
  xhal_dtype_t want = c->in[0].dtype;
  char label[32];
  char first[32];
  uint32_t i;
  for (i = 1; i <= c->num_inputs; ++i) {
    uint32_t index = i < c->num_inputs ? i : OUTPUT_INDEX;
    xhal_dtype_t got = operand(c, index)->dtype;
    if (got != want) {
      return fail(c, XHAL_ERROR_DTYPE_MISMATCH,
                  "%s is %s but %s is %s: all operands share one dtype",
                  operand_label(c, index, label, sizeof(label)),
                  dtype_name(got), operand_label(c, 0, first, sizeof(first)),
                  dtype_name(want));
    }
  }
  return XHAL_OK;
}

/* The int8 signature (i8, i8, [i32]) -> i32. */
static xhal_status_t check_int8(const check_t* c) {
  static const xhal_dtype_t kWant[] = {XHAL_DTYPE_I8, XHAL_DTYPE_I8,
                                       XHAL_DTYPE_I32};
  char label[32];
  uint32_t i;
  for (i = 1; i <= c->num_inputs; ++i) {
    uint32_t index = i < c->num_inputs ? i : OUTPUT_INDEX;
    xhal_dtype_t want = i < c->num_inputs ? kWant[i] : XHAL_DTYPE_I32;
    xhal_dtype_t got = operand(c, index)->dtype;
    if (got != want) {
      return fail(c, XHAL_ERROR_DTYPE_MISMATCH,
                  "%s is %s but must be %s: the int8 signature is "
                  "(i8, i8, [i32]) -> i32",
                  operand_label(c, index, label, sizeof(label)),
                  dtype_name(got), dtype_name(want));
    }
  }
  return XHAL_OK;
}

static xhal_status_t check_dtypes(const check_t* c) {
  xhal_dtype_t first = c->in[0].dtype;
  char label[32];
  switch (c->entry->sig) {
    case SIG_FP_I32:
      if (!is_fp(first) && first != XHAL_DTYPE_I32) {
        return fail(c, XHAL_ERROR_DTYPE_MISMATCH,
                    "%s is %s; the op takes f32, f16 or i32",
                    operand_label(c, 0, label, sizeof(label)),
                    dtype_name(first));
      }
      return check_all_same(c);
    case SIG_FP:
      if (!is_fp(first)) {
        return fail(
            c, XHAL_ERROR_DTYPE_MISMATCH, "%s is %s; the op takes f32 or f16",
            operand_label(c, 0, label, sizeof(label)), dtype_name(first));
      }
      return check_all_same(c);
    case SIG_FP_INT8:
      if (first == XHAL_DTYPE_I8) return check_int8(c);
      if (!is_fp(first)) {
        return fail(c, XHAL_ERROR_DTYPE_MISMATCH,
                    "%s is %s; the op takes f32, f16 or i8 (with i32 "
                    "output)",
                    operand_label(c, 0, label, sizeof(label)),
                    dtype_name(first));
      }
      return check_all_same(c);
    case SIG_SAME_ANY:
      return check_all_same(c);
    case SIG_ANY_TO_ANY:
      return XHAL_OK; /* every known dtype pair; known-ness checked */
  }
  return XHAL_ERROR_INTERNAL;
}

/* ------------------------------------------------------------- shapes */

static void set_shape(xhal_tensor_desc_t* d, uint32_t rank,
                      const uint64_t* dims) {
  memset(d, 0, sizeof(*d));
  d->rank = rank;
  if (rank > 0) memcpy(d->dims, dims, rank * sizeof(dims[0]));
}

/* The output must have exactly the derived shape. */
static xhal_status_t check_output_shape(const check_t* c,
                                        const xhal_tensor_desc_t* want) {
  char got_s[256];
  char want_s[256];
  int same = c->out->rank == want->rank;
  uint32_t i;
  for (i = 0; same && i < want->rank; ++i) {
    same = c->out->dims[i] == want->dims[i];
  }
  if (same) return XHAL_OK;
  return fail(c, XHAL_ERROR_SHAPE_MISMATCH, "output shape %s must be %s",
              fmt_shape(c->out, got_s, sizeof(got_s)),
              fmt_shape(want, want_s, sizeof(want_s)));
}

/* An operand that must be a vector of `len` elements (bias, gamma, beta).
 * `what` says where len comes from, for the message. */
static xhal_status_t check_vector(const check_t* c, uint32_t index,
                                  uint64_t len, const char* what) {
  const xhal_tensor_desc_t* d = &c->in[index];
  char label[32];
  char shape[256];
  if (d->rank == 1 && d->dims[0] == len) return XHAL_OK;
  return fail(c, XHAL_ERROR_SHAPE_MISMATCH, "%s %s must be [%llu] (%s)",
              operand_label(c, index, label, sizeof(label)),
              fmt_shape(d, shape, sizeof(shape)), (unsigned long long)len,
              what);
}

static xhal_status_t check_min_rank(const check_t* c, uint32_t index,
                                    uint32_t min_rank) {
  char label[32];
  if (c->in[index].rank >= min_rank) return XHAL_OK;
  return fail(c, XHAL_ERROR_SHAPE_MISMATCH, "%s has rank %u, needs >= %u",
              operand_label(c, index, label, sizeof(label)), c->in[index].rank,
              min_rank);
}

/* Resolves attrs->axis against input 0's rank into *out_axis. */
static xhal_status_t resolve_axis(const check_t* c, uint32_t* out_axis) {
  int64_t rank = c->in[0].rank;
  int64_t axis = c->attrs->axis;
  if (axis < -rank || axis >= rank) {
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                "axis %d is outside [%lld, %lld] for rank %lld",
                (int)c->attrs->axis, (long long)-rank, (long long)(rank - 1),
                (long long)rank);
  }
  *out_axis = (uint32_t)(axis < 0 ? axis + rank : axis);
  return XHAL_OK;
}

static xhal_status_t check_broadcast(const check_t* c) {
  const xhal_tensor_desc_t* a = &c->in[0];
  const xhal_tensor_desc_t* b = &c->in[1];
  uint32_t rank = a->rank > b->rank ? a->rank : b->rank;
  uint64_t dims[XHAL_MAX_RANK];
  xhal_tensor_desc_t want;
  uint32_t i;
  /* Align at the last dim; a missing leading dim counts as 1. */
  for (i = 0; i < rank; ++i) {
    uint64_t da = i < a->rank ? a->dims[a->rank - 1 - i] : 1;
    uint64_t db = i < b->rank ? b->dims[b->rank - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) {
      char sa[256];
      char sb[256];
      return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                  "input 0 (A) %s and input 1 (B) %s do not broadcast: "
                  "dim -%u is %llu vs %llu (must be equal or 1)",
                  fmt_shape(a, sa, sizeof(sa)), fmt_shape(b, sb, sizeof(sb)),
                  i + 1, (unsigned long long)da, (unsigned long long)db);
    }
    dims[rank - 1 - i] = da == 1 ? db : da;
  }
  set_shape(&want, rank, dims);
  return check_output_shape(c, &want);
}

static xhal_status_t check_matmul(const check_t* c) {
  const xhal_op_attrs_t* at = c->attrs;
  const xhal_tensor_desc_t* a = &c->in[0];
  const xhal_tensor_desc_t* b = &c->in[1];
  uint64_t m, ka, kb, n;
  uint64_t dims[2];
  xhal_tensor_desc_t want;
  xhal_status_t st;
  if (at->transpose_a > 1 || at->transpose_b > 1) {
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                "transpose_a (%u) and transpose_b (%u) must be 0 or 1",
                at->transpose_a, at->transpose_b);
  }
  if (a->dtype == XHAL_DTYPE_I8 && (at->alpha != 1.0f || at->beta != 0.0f)) {
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                "int8 needs alpha == 1 and beta == 0, got alpha %g beta %g",
                (double)at->alpha, (double)at->beta);
  }
  if (a->rank != 2 || b->rank != 2) {
    return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                "input 0 (A) and input 1 (B) must have rank 2, got %u and %u",
                a->rank, b->rank);
  }
  m = at->transpose_a ? a->dims[1] : a->dims[0];
  ka = at->transpose_a ? a->dims[0] : a->dims[1];
  kb = at->transpose_b ? b->dims[1] : b->dims[0];
  n = at->transpose_b ? b->dims[0] : b->dims[1];
  if (ka != kb) {
    return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                "op(A) is [%llu, %llu] and op(B) is [%llu, %llu]: K differs "
                "(transpose_a %u, transpose_b %u)",
                (unsigned long long)m, (unsigned long long)ka,
                (unsigned long long)kb, (unsigned long long)n, at->transpose_a,
                at->transpose_b);
  }
  if (c->num_inputs > 2 && (st = check_vector(c, 2, n, "N")) != XHAL_OK) {
    return st;
  }
  dims[0] = m;
  dims[1] = n;
  set_shape(&want, 2, dims);
  return check_output_shape(c, &want);
}

/* OH (or OW) of conv2d, or a failure when the window does not fit. */
static xhal_status_t conv_out_dim(const check_t* c, const char* axis,
                                  uint64_t in, uint32_t pad, uint32_t dil,
                                  uint64_t kernel, uint32_t stride,
                                  uint64_t* out) {
  uint64_t padded;
  uint64_t span; /* dil*(kernel-1) + 1: the window's extent */
  if (__builtin_mul_overflow((uint64_t)dil, kernel - 1, &span) ||
      __builtin_add_overflow(span, 1, &span) ||
      __builtin_add_overflow(in, 2 * (uint64_t)pad, &padded)) {
    return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                "%s: input %llu, padding %u, dilation %u, kernel %llu "
                "overflow 64 bits",
                axis, (unsigned long long)in, pad, dil,
                (unsigned long long)kernel);
  }
  if (padded < span) {
    return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                "%s: padded input %llu (%llu + 2*%u) is smaller than the "
                "dilated kernel %llu (dilation %u * (%llu - 1) + 1)",
                axis, (unsigned long long)padded, (unsigned long long)in, pad,
                (unsigned long long)span, dil, (unsigned long long)kernel);
  }
  *out = (padded - span) / stride + 1;
  return XHAL_OK;
}

static xhal_status_t check_conv2d(const check_t* c) {
  static const char* const kXDims[] = {"N", "C", "H", "W"};
  static const char* const kWDims[] = {"K", "C/groups", "R", "S"};
  const xhal_op_attrs_t* at = c->attrs;
  const xhal_tensor_desc_t* x = &c->in[0];
  const xhal_tensor_desc_t* w = &c->in[1];
  uint64_t dims[4];
  uint64_t cg;
  xhal_tensor_desc_t want;
  xhal_status_t st;
  uint32_t i;
  for (i = 0; i < 2; ++i) {
    if (at->stride[i] < 1 || at->dilation[i] < 1) {
      return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                  "stride (%u, %u) and dilation (%u, %u) must be >= 1",
                  at->stride[0], at->stride[1], at->dilation[0],
                  at->dilation[1]);
    }
  }
  if (at->groups < 1) {
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT, "groups must be >= 1, got 0");
  }
  if (x->rank != 4 || w->rank != 4) {
    return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                "input 0 (X) [N, C, H, W] and input 1 (W) [K, C/groups, R, "
                "S] must have rank 4, got %u and %u",
                x->rank, w->rank);
  }
  for (i = 0; i < 4; ++i) {
    if (x->dims[i] == 0) {
      return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                  "input 0 (X) dim %u (%s) is 0; must be >= 1", i, kXDims[i]);
    }
    if (w->dims[i] == 0) {
      return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                  "input 1 (W) dim %u (%s) is 0; must be >= 1", i, kWDims[i]);
    }
  }
  if (x->dims[1] % at->groups != 0 || w->dims[0] % at->groups != 0) {
    return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                "groups %u must divide C (%llu) and K (%llu)", at->groups,
                (unsigned long long)x->dims[1], (unsigned long long)w->dims[0]);
  }
  cg = x->dims[1] / at->groups;
  if (w->dims[1] != cg) {
    return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                "input 1 (W) dim 1 is %llu but must be C/groups = %llu/%u = "
                "%llu",
                (unsigned long long)w->dims[1], (unsigned long long)x->dims[1],
                at->groups, (unsigned long long)cg);
  }
  if (c->num_inputs > 2 &&
      (st = check_vector(c, 2, w->dims[0], "K")) != XHAL_OK) {
    return st;
  }
  dims[0] = x->dims[0];
  dims[1] = w->dims[0];
  st = conv_out_dim(c, "height", x->dims[2], at->padding[0], at->dilation[0],
                    w->dims[2], at->stride[0], &dims[2]);
  if (st != XHAL_OK) return st;
  st = conv_out_dim(c, "width", x->dims[3], at->padding[1], at->dilation[1],
                    w->dims[3], at->stride[1], &dims[3]);
  if (st != XHAL_OK) return st;
  set_shape(&want, 4, dims);
  return check_output_shape(c, &want);
}

static xhal_status_t check_layer_norm(const check_t* c) {
  const xhal_tensor_desc_t* x = &c->in[0];
  uint64_t d;
  uint32_t i;
  xhal_status_t st;
  /* A negative or NaN epsilon makes sqrt(var + epsilon) NaN for constant
   * rows, which is never what a caller meant. */
  if (!(c->attrs->epsilon >= 0.0f) || isinf(c->attrs->epsilon)) {
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                "epsilon %g must be finite and >= 0",
                (double)c->attrs->epsilon);
  }
  if ((st = check_min_rank(c, 0, 1)) != XHAL_OK) return st;
  d = x->dims[x->rank - 1];
  if (d == 0) {
    return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                "input 0 (X) last dim D is 0; must be >= 1");
  }
  for (i = 1; i < c->num_inputs; ++i) {
    if ((st = check_vector(c, i, d, "D, the last dim of X")) != XHAL_OK) {
      return st;
    }
  }
  return check_output_shape(c, x);
}

static xhal_status_t check_reduce(const check_t* c) {
  const xhal_tensor_desc_t* x = &c->in[0];
  xhal_tensor_desc_t want;
  uint32_t axis = 0;
  xhal_status_t st;
  if ((st = check_min_rank(c, 0, 1)) != XHAL_OK) return st;
  if ((st = resolve_axis(c, &axis)) != XHAL_OK) return st;
  if (c->op == XHAL_OP_REDUCE_MAX && x->dims[axis] == 0) {
    return fail(c, XHAL_ERROR_SHAPE_MISMATCH,
                "input 0 (X) dim %u (the axis) is 0; the max of nothing is "
                "undefined",
                axis);
  }
  want = *x;
  want.dims[axis] = 1;
  return check_output_shape(c, &want);
}

static xhal_status_t check_transpose(const check_t* c) {
  const xhal_tensor_desc_t* x = &c->in[0];
  uint32_t seen[XHAL_MAX_RANK] = {0};
  uint64_t dims[XHAL_MAX_RANK];
  xhal_tensor_desc_t want;
  uint32_t i;
  for (i = 0; i < x->rank; ++i) {
    uint32_t p = c->attrs->perm[i];
    if (p >= x->rank || seen[p]) {
      return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                  "perm[%u] = %u: the first %u entries must be a permutation "
                  "of 0..%u",
                  i, p, x->rank, x->rank - 1);
    }
    seen[p] = 1;
    dims[i] = x->dims[p];
  }
  set_shape(&want, x->rank, dims);
  return check_output_shape(c, &want);
}

static xhal_status_t check_shapes(const check_t* c) {
  xhal_status_t st;
  uint32_t axis;
  switch (c->entry->shape) {
    case SHAPE_BROADCAST:
      return check_broadcast(c);
    case SHAPE_SAME:
      return check_output_shape(c, &c->in[0]);
    case SHAPE_MATMUL:
      return check_matmul(c);
    case SHAPE_CONV2D:
      return check_conv2d(c);
    case SHAPE_SOFTMAX:
      if ((st = check_min_rank(c, 0, 1)) != XHAL_OK) return st;
      if ((st = resolve_axis(c, &axis)) != XHAL_OK) return st;
      return check_output_shape(c, &c->in[0]);
    case SHAPE_LAYER_NORM:
      return check_layer_norm(c);
    case SHAPE_REDUCE:
      return check_reduce(c);
    case SHAPE_TRANSPOSE:
      return check_transpose(c);
  }
  return XHAL_ERROR_INTERNAL;
}

/* -------------------------------------------------------------- entry */

static xhal_status_t check_counts(const check_t* c, uint32_t num_outputs,
                                  const xhal_tensor_desc_t* inputs,
                                  const xhal_tensor_desc_t* outputs) {
  uint32_t lo = c->entry ? c->entry->min_inputs : 0;
  uint32_t hi = c->entry ? c->entry->max_inputs : XHAL_MAX_OP_INPUTS;
  uint32_t out_lo = c->entry ? 1 : 0;
  if (c->num_inputs < lo || c->num_inputs > hi) {
    if (lo == hi) {
      return fail(c, XHAL_ERROR_INVALID_ARGUMENT, "takes %u input%s, got %u",
                  lo, lo == 1 ? "" : "s", c->num_inputs);
    }
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT, "takes %u to %u inputs, got %u",
                lo, hi, c->num_inputs);
  }
  if (num_outputs < out_lo || num_outputs > XHAL_MAX_OP_OUTPUTS) {
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                "takes %u to %u outputs, got %u", out_lo, XHAL_MAX_OP_OUTPUTS,
                num_outputs);
  }
  if (c->num_inputs > 0 && inputs == NULL) {
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                "%u inputs but the input array is NULL", c->num_inputs);
  }
  if (num_outputs > 0 && outputs == NULL) {
    return fail(c, XHAL_ERROR_INVALID_ARGUMENT,
                "%u outputs but the output array is NULL", num_outputs);
  }
  return XHAL_OK;
}

xhal_status_t op_catalog_check(xhal_op_t op, uint32_t num_inputs,
                               const xhal_tensor_desc_t* inputs,
                               uint32_t num_outputs,
                               const xhal_tensor_desc_t* outputs,
                               const xhal_op_attrs_t* attrs, char* msg,
                               size_t msg_size) {
  check_t c;
  xhal_status_t st;
  uint32_t i;
  memset(&c, 0, sizeof(c));
  c.entry = find_op(op);
  c.op = op;
  c.num_inputs = num_inputs;
  c.in = inputs;
  c.attrs = attrs;
  c.msg = msg;
  c.msg_size = msg_size;
  if (msg != NULL && msg_size > 0) msg[0] = '\0';

  if (c.entry == NULL && op < XHAL_OP_CUSTOM_BASE) {
    return fail(&c, XHAL_ERROR_NOT_FOUND,
                "unknown operator id (catalog ids are listed in "
                "xhal_types.h; custom ids start at 0x%x)",
                (unsigned)XHAL_OP_CUSTOM_BASE);
  }
  if (attrs == NULL) {
    return fail(&c, XHAL_ERROR_INVALID_ARGUMENT, "attrs is NULL");
  }
  if (attrs->struct_size < OP_ATTRS_SIZE_1_0 ||
      attrs->struct_size > OP_ATTRS_SIZE_MAX) {
    return fail(&c, XHAL_ERROR_INVALID_ARGUMENT,
                "attrs.struct_size %u is not a valid size (>= %u); start "
                "from xhal_op_attrs_default()",
                attrs->struct_size, OP_ATTRS_SIZE_1_0);
  }
  if ((st = check_counts(&c, num_outputs, inputs, outputs)) != XHAL_OK) {
    return st;
  }
  c.out = num_outputs > 0 ? &outputs[0] : NULL;
  for (i = 0; i < num_inputs; ++i) {
    if ((st = check_descriptor(&c, i)) != XHAL_OK) return st;
  }
  if (c.out != NULL && (st = check_descriptor(&c, OUTPUT_INDEX)) != XHAL_OK) {
    return st;
  }
  if (c.entry == NULL) return XHAL_OK; /* custom: the implementation rules */
  if ((st = check_dtypes(&c)) != XHAL_OK) return st;
  return check_shapes(&c);
}

xhal_status_t op_catalog_check_signature(xhal_op_t op, uint32_t num_dtypes,
                                         const xhal_dtype_t* dtypes, char* msg,
                                         size_t msg_size) {
  xhal_tensor_desc_t descs[XHAL_MAX_OP_INPUTS + 1];
  check_t c;
  uint32_t i;
  memset(&c, 0, sizeof(c));
  c.entry = find_op(op);
  c.op = op;
  c.msg = msg;
  c.msg_size = msg_size;
  if (msg != NULL && msg_size > 0) msg[0] = '\0';
  if (c.entry == NULL) {
    if (op < XHAL_OP_CUSTOM_BASE) {
      return fail(&c, XHAL_ERROR_NOT_FOUND, "unknown operator id");
    }
    return XHAL_OK; /* custom: any known dtypes */
  }
  /* A catalog operator has one output: the last dtype. */
  if (num_dtypes < c.entry->min_inputs + 1 ||
      num_dtypes > c.entry->max_inputs + 1) {
    return fail(&c, XHAL_ERROR_INVALID_ARGUMENT,
                "a signature of %u dtypes has %u inputs and an output; the "
                "op takes %u to %u inputs",
                num_dtypes, num_dtypes ? num_dtypes - 1 : 0,
                c.entry->min_inputs, c.entry->max_inputs);
  }
  for (i = 0; i < num_dtypes; ++i) {
    memset(&descs[i], 0, sizeof(descs[i]));
    descs[i].dtype = dtypes[i];
    if (!dtype_known(dtypes[i])) {
      return fail(&c, XHAL_ERROR_DTYPE_MISMATCH, "dtypes[%u] = %u is unknown",
                  i, (unsigned)dtypes[i]);
    }
  }
  c.num_inputs = num_dtypes - 1;
  c.in = descs;
  c.out = &descs[num_dtypes - 1];
  return check_dtypes(&c);
}
