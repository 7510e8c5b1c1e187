/*
 * kernel_cases.c - random, edge and large operator calls per catalog
 * operator (see kernel_cases.h).
 *
 * Edge lists aim at what kernels get wrong: size-1 and odd dimensions,
 * sizes one past a tile (33, 65, 1023), broadcasting in every direction,
 * transposed operands, empty reductions (K = 0), rank 0 and rank 8,
 * outputs with no element (the call must still write nothing), and
 * special values: NaN, infinities, zeros as divisors, magnitudes that
 * overflow exp() and f16 (softmax rows near +-1000).
 */
#include "kernel_cases.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xhal_reference.h>

enum { kRandomCases = 8, kLargeCases = 2, kEdgeMax = 16 };

uint32_t kc_case_count(kc_variant_t variant) {
  switch (variant) {
    case KC_RANDOM:
      return kRandomCases;
    case KC_LARGE:
      return kLargeCases;
    default:
      return kEdgeMax;
  }
}

const char* kc_op_name(xhal_op_t op) {
  switch (op) {
    case XHAL_OP_ADD:
      return "add";
    case XHAL_OP_SUB:
      return "sub";
    case XHAL_OP_MUL:
      return "mul";
    case XHAL_OP_DIV:
      return "div";
    case XHAL_OP_MAX:
      return "max";
    case XHAL_OP_MIN:
      return "min";
    case XHAL_OP_RELU:
      return "relu";
    case XHAL_OP_GELU:
      return "gelu";
    case XHAL_OP_SIGMOID:
      return "sigmoid";
    case XHAL_OP_TANH:
      return "tanh";
    case XHAL_OP_EXP:
      return "exp";
    case XHAL_OP_MATMUL:
      return "matmul";
    case XHAL_OP_CONV2D:
      return "conv2d";
    case XHAL_OP_SOFTMAX:
      return "softmax";
    case XHAL_OP_LAYER_NORM:
      return "layer_norm";
    case XHAL_OP_REDUCE_SUM:
      return "reduce_sum";
    case XHAL_OP_REDUCE_MAX:
      return "reduce_max";
    case XHAL_OP_TRANSPOSE:
      return "transpose";
    case XHAL_OP_CAST:
      return "cast";
    default:
      return op >= XHAL_OP_CUSTOM_BASE ? "custom" : "unknown";
  }
}

int kc_op_known(xhal_op_t op) {
  return strcmp(kc_op_name(op), "custom") != 0 &&
         strcmp(kc_op_name(op), "unknown") != 0;
}

/* ------------------------------------------------------------- helpers */

static void set_desc(xhal_tensor_desc_t* d, xhal_dtype_t dt, uint32_t rank,
                     const uint64_t* dims) {
  memset(d, 0, sizeof(*d));
  d->dtype = dt;
  d->rank = rank;
  for (uint32_t i = 0; i < rank && i < XHAL_MAX_RANK; ++i) d->dims[i] = dims[i];
}

static void default_range(xhal_dtype_t dt, double* lo, double* hi) {
  switch (dt) {
    case XHAL_DTYPE_I8:
      *lo = -128;
      *hi = 127;
      break;
    case XHAL_DTYPE_I32:
      *lo = -100000;
      *hi = 100000;
      break;
    default:
      *lo = -1;
      *hi = 1;
      break;
  }
}

static uint64_t rnd(cts_ctx_t* ctx, uint64_t lo, uint64_t hi) {
  return cts_rand_range(ctx, lo, hi);
}

/* A dimension for random shapes: mostly small, sometimes one past a
 * power of two. */
static uint64_t rnd_dim(cts_ctx_t* ctx, uint64_t max) {
  static const uint64_t kAwkward[] = {1, 3, 7, 17, 33};
  if (rnd(ctx, 0, 4) == 0) {
    uint64_t d = kAwkward[rnd(ctx, 0, 4)];
    return d <= max ? d : max;
  }
  return rnd(ctx, 1, max);
}

static void append(char* buf, size_t size, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char* buf, size_t size, const char* fmt, ...) {
  size_t used = strlen(buf);
  if (used >= size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + used, size - used, fmt, ap);
  va_end(ap);
}

static void describe_desc(char* buf, size_t size, const xhal_tensor_desc_t* d) {
  append(buf, size, "%s[", xhal_ref_dtype_name(d->dtype));
  for (uint32_t i = 0; i < d->rank; ++i)
    append(buf, size, "%s%llu", i ? "x" : "", (unsigned long long)d->dims[i]);
  append(buf, size, "]");
}

static void describe(kc_case_t* c) {
  const xhal_plugin_op_call_t* call = &c->call;
  const xhal_op_attrs_t* a = &call->attrs;
  c->desc[0] = '\0';
  append(c->desc, sizeof(c->desc), "%s(", kc_op_name(call->op));
  for (uint32_t i = 0; i < call->num_inputs; ++i) {
    if (i) append(c->desc, sizeof(c->desc), ", ");
    describe_desc(c->desc, sizeof(c->desc), &call->inputs[i].desc);
  }
  append(c->desc, sizeof(c->desc), ") -> ");
  describe_desc(c->desc, sizeof(c->desc), &call->outputs[0].desc);
  switch (call->op) {
    case XHAL_OP_MATMUL:
      append(c->desc, sizeof(c->desc), " ta=%u tb=%u alpha=%g beta=%g",
             a->transpose_a, a->transpose_b, (double)a->alpha, (double)a->beta);
      break;
    case XHAL_OP_CONV2D:
      append(c->desc, sizeof(c->desc),
             " stride=%ux%u pad=%ux%u dil=%ux%u groups=%u", a->stride[0],
             a->stride[1], a->padding[0], a->padding[1], a->dilation[0],
             a->dilation[1], a->groups);
      break;
    case XHAL_OP_SOFTMAX:
    case XHAL_OP_REDUCE_SUM:
    case XHAL_OP_REDUCE_MAX:
      append(c->desc, sizeof(c->desc), " axis=%d", a->axis);
      break;
    case XHAL_OP_TRANSPOSE:
      append(c->desc, sizeof(c->desc), " perm=");
      for (uint32_t i = 0; i < call->inputs[0].desc.rank; ++i)
        append(c->desc, sizeof(c->desc), "%s%u", i ? "," : "", a->perm[i]);
      break;
    default:
      break;
  }
  if (c->specials) append(c->desc, sizeof(c->desc), " with special values");
}

/* Completes a case: output desc from the reference, value ranges, the
 * description. Returns 0 for an invalid call or an empty output (which
 * never reaches an implementation). */
static int finish(kc_case_t* c, const xhal_dtype_t* dtypes,
                  uint32_t num_dtypes) {
  xhal_plugin_op_call_t* call = &c->call;
  call->outputs[0].desc.dtype = dtypes[num_dtypes - 1];
  xhal_tensor_desc_t out;
  if (xhal_ref_output_desc(call, &out) != XHAL_OK) return 0;
  call->outputs[0].desc = out;
  /* An output with no element still reaches the implementation: the call
   * is a valid no-op (docs/ops.md), and must write nothing. */
  for (uint32_t i = 0; i < call->num_inputs; ++i) {
    if (c->hi[i] <= c->lo[i]) {
      default_range(call->inputs[i].desc.dtype, &c->lo[i], &c->hi[i]);
    }
  }
  describe(c);
  return 1;
}

static void start(kc_case_t* c, xhal_op_t op, uint32_t num_inputs) {
  memset(c, 0, sizeof(*c));
  c->call.struct_size = (uint32_t)sizeof(c->call);
  c->call.op = op;
  c->call.num_inputs = num_inputs;
  c->call.num_outputs = 1;
  xhal_op_attrs_default(&c->call.attrs);
}

/* ---------------------------------------------------- elementwise, binary */

typedef struct binary_edge {
  uint32_t ra;
  uint64_t a[4];
  uint32_t rb;
  uint64_t b[4];
  uint32_t specials; /* kc_case_t.specials */
} binary_edge_t;

static const binary_edge_t kBinaryEdges[] = {
    {0, {0}, 0, {0}, 0},          {1, {1}, 1, {1}, 0},
    {1, {7}, 1, {1}, 0},          {1, {1}, 1, {7}, 0},
    {2, {3, 1}, 2, {1, 5}, 0},    {3, {2, 3, 4}, 1, {4}, 0},
    {1, {4}, 3, {2, 3, 4}, 0},    {4, {1, 1, 1, 1}, 4, {2, 1, 3, 1}, 0},
    {1, {1023}, 1, {1023}, 0},    {2, {33, 65}, 2, {33, 65}, 0},
    {3, {5, 1, 7}, 2, {3, 1}, 0}, {0, {0}, 2, {3, 5}, 0},
    {1, {21}, 1, {21}, 3},        {2, {3, 21}, 1, {21}, 3},
    {2, {0, 5}, 1, {5}, 0},       {2, {4, 1}, 2, {1, 0}, 0},
};

static int build_binary(cts_ctx_t* ctx, const xhal_dtype_t* dt, uint32_t n,
                        kc_variant_t v, uint32_t index, kc_case_t* c) {
  start(c, c->call.op, 2);
  if (v == KC_EDGE) {
    if (index >= sizeof(kBinaryEdges) / sizeof(kBinaryEdges[0])) return 0;
    const binary_edge_t* e = &kBinaryEdges[index];
    set_desc(&c->call.inputs[0].desc, dt[0], e->ra, e->a);
    set_desc(&c->call.inputs[1].desc, dt[1], e->rb, e->b);
    c->specials = e->specials;
  } else {
    uint64_t out[4];
    uint32_t r = (uint32_t)rnd(ctx, v == KC_LARGE ? 1 : 0, 4);
    for (uint32_t i = 0; i < r; ++i) out[i] = rnd_dim(ctx, 9);
    if (v == KC_LARGE) {
      r = 2;
      out[0] = 257;
      out[1] = 509;
    }
    uint32_t rank[2] = {r, r};
    rank[rnd(ctx, 0, 1)] = (uint32_t)rnd(ctx, 0, r);
    for (int k = 0; k < 2; ++k) {
      uint64_t dims[4];
      for (uint32_t i = 0; i < rank[k]; ++i) {
        uint64_t d = out[r - rank[k] + i];
        dims[i] = rnd(ctx, 0, 3) == 0 ? 1 : d;
      }
      set_desc(&c->call.inputs[k].desc, dt[k], rank[k], dims);
    }
  }
  if (c->call.op == XHAL_OP_DIV) {
    /* Divisors away from zero keep the quotient's tolerance meaningful. */
    c->lo[1] = 0.5;
    c->hi[1] = 2.0;
  }
  return finish(c, dt, n);
}

/* ----------------------------------------------------- elementwise, unary */

typedef struct shape {
  uint32_t rank;
  uint64_t dims[XHAL_MAX_RANK];
} shape_t;

static const shape_t kUnaryEdges[] = {
    {0, {0}},
    {1, {1}},
    {1, {1023}},
    {3, {3, 5, 7}},
    {8, {1, 1, 1, 1, 1, 1, 1, 2}},
    {1, {21}}, /* room for every special value */
    {2, {3, 0}},
};

static void random_shape(cts_ctx_t* ctx, shape_t* s, uint32_t min_rank,
                         uint32_t max_rank, uint64_t max_dim) {
  s->rank = (uint32_t)rnd(ctx, min_rank, max_rank);
  for (uint32_t i = 0; i < s->rank; ++i) s->dims[i] = rnd_dim(ctx, max_dim);
}

static int build_unary(cts_ctx_t* ctx, const xhal_dtype_t* dt, uint32_t n,
                       kc_variant_t v, uint32_t index, kc_case_t* c) {
  start(c, c->call.op, 1);
  shape_t s;
  if (v == KC_EDGE) {
    if (index >= sizeof(kUnaryEdges) / sizeof(kUnaryEdges[0])) return 0;
    s = kUnaryEdges[index];
    /* NaN, the infinities, -0 and values past f16's range: the catalog
     * defines every activation there (gelu(-inf) = 0, gelu(+inf) = +inf,
     * exp(+inf) = +inf, sigmoid(-inf) = 0, ...). */
    c->specials = dt[0] == XHAL_DTYPE_F32 || dt[0] == XHAL_DTYPE_F16 ? 1u : 0u;
  } else if (v == KC_LARGE) {
    s.rank = 1;
    s.dims[0] = (1u << 17) + 3;
  } else {
    random_shape(ctx, &s, 0, 4, 9);
  }
  set_desc(&c->call.inputs[0].desc, dt[0], s.rank, s.dims);
  c->lo[0] = -4;
  c->hi[0] = 4;
  if (c->call.op == XHAL_OP_EXP) {
    c->lo[0] = -10;
    c->hi[0] = 10;
  }
  return finish(c, dt, n);
}

/* ----------------------------------------------------------------- matmul */

typedef struct mm_edge {
  uint64_t m, k, n;
  uint32_t ta, tb, bias;
  float alpha, beta;
} mm_edge_t;

static const mm_edge_t kMatmulEdges[] = {
    {1, 1, 1, 0, 0, 0, 1, 0},        {1, 7, 1, 0, 0, 0, 1, 0},
    {3, 5, 7, 0, 0, 0, 1, 0},        {7, 3, 5, 1, 0, 0, 1, 0},
    {17, 33, 65, 0, 1, 0, 1, 0},     {64, 64, 64, 0, 0, 0, 1, 0},
    {65, 63, 31, 1, 1, 0, 1, 0},     {2, 0, 3, 0, 0, 0, 1, 0},
    {1, 129, 1, 0, 0, 0, 1, 0},      {5, 1, 9, 0, 0, 1, 1, 0},
    {9, 17, 3, 0, 1, 1, 0.5f, 0.5f}, {33, 9, 1, 1, 0, 1, -1.25f, 0},
    {6, 6, 6, 1, 1, 0, 1, 0},        {5, 8, 8, 0, 1, 1, 1, 0},
    {8, 8, 5, 1, 0, 0, 2, 0},        {0, 5, 3, 0, 0, 0, 1, 0},
};

static int build_matmul(cts_ctx_t* ctx, const xhal_dtype_t* dt, uint32_t n,
                        kc_variant_t v, uint32_t index, kc_case_t* c) {
  mm_edge_t e;
  if (v == KC_EDGE) {
    if (index >= sizeof(kMatmulEdges) / sizeof(kMatmulEdges[0])) return 0;
    e = kMatmulEdges[index];
  } else {
    uint64_t max = v == KC_LARGE ? 300 : 48;
    uint64_t min = v == KC_LARGE ? 200 : 1;
    e.m = v == KC_LARGE ? rnd(ctx, min, max) : rnd_dim(ctx, max);
    e.k = v == KC_LARGE ? rnd(ctx, min, max) : rnd_dim(ctx, max);
    e.n = v == KC_LARGE ? rnd(ctx, min, max) : rnd_dim(ctx, max);
    e.ta = (uint32_t)rnd(ctx, 0, 1);
    e.tb = (uint32_t)rnd(ctx, 0, 1);
    e.bias = (uint32_t)rnd(ctx, 0, 1);
    static const float kAlpha[] = {1.0f, 0.5f, -1.25f};
    e.alpha = kAlpha[rnd(ctx, 0, 2)];
    e.beta = rnd(ctx, 0, 2) == 0 ? 0.5f : 0.0f;
  }
  /* The catalog allows a bias only where the signature has one, and
   * integer matmul only with alpha 1 and beta 0. */
  if (n < 4) e.bias = 0;
  if (dt[0] == XHAL_DTYPE_I8) {
    e.alpha = 1.0f;
    e.beta = 0.0f;
  }
  start(c, XHAL_OP_MATMUL, e.bias ? 3u : 2u);
  uint64_t a[2] = {e.ta ? e.k : e.m, e.ta ? e.m : e.k};
  uint64_t b[2] = {e.tb ? e.n : e.k, e.tb ? e.k : e.n};
  set_desc(&c->call.inputs[0].desc, dt[0], 2, a);
  set_desc(&c->call.inputs[1].desc, dt[1], 2, b);
  if (e.bias) set_desc(&c->call.inputs[2].desc, dt[2], 1, &e.n);
  c->call.attrs.transpose_a = e.ta;
  c->call.attrs.transpose_b = e.tb;
  c->call.attrs.alpha = e.alpha;
  c->call.attrs.beta = e.beta;
  return finish(c, dt, n);
}

/* ----------------------------------------------------------------- conv2d */

typedef struct conv_edge {
  uint64_t n, c, h, w, k, r, s;
  uint32_t sh, sw, ph, pw, dh, dw, groups, bias;
} conv_edge_t;

static const conv_edge_t kConvEdges[] = {
    {1, 3, 7, 7, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0},
    {1, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, 1},
    {1, 2, 8, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0},
    {1, 2, 9, 9, 2, 3, 3, 1, 1, 0, 0, 2, 2, 1, 1},
    {1, 1, 1, 1, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},
    {2, 3, 7, 5, 5, 3, 2, 2, 1, 1, 0, 1, 2, 1, 1},
    {1, 6, 5, 5, 9, 2, 2, 1, 1, 0, 0, 1, 1, 3, 0},
};

static int build_conv(cts_ctx_t* ctx, const xhal_dtype_t* dt, uint32_t n,
                      kc_variant_t v, uint32_t index, kc_case_t* c) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    conv_edge_t e;
    if (v == KC_EDGE) {
      if (index >= sizeof(kConvEdges) / sizeof(kConvEdges[0])) return 0;
      e = kConvEdges[index];
    } else if (v == KC_LARGE) {
      conv_edge_t big = {1, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
      e = big;
    } else {
      uint32_t g = (uint32_t)rnd(ctx, 1, 3);
      e.n = rnd(ctx, 1, 2);
      e.c = g * rnd(ctx, 1, 3);
      e.k = g * rnd(ctx, 1, 3);
      e.h = rnd(ctx, 1, 10);
      e.w = rnd(ctx, 1, 10);
      e.r = rnd(ctx, 1, 3);
      e.s = rnd(ctx, 1, 3);
      e.sh = (uint32_t)rnd(ctx, 1, 2);
      e.sw = (uint32_t)rnd(ctx, 1, 2);
      e.ph = (uint32_t)rnd(ctx, 0, 2);
      e.pw = (uint32_t)rnd(ctx, 0, 2);
      e.dh = (uint32_t)rnd(ctx, 1, 2);
      e.dw = (uint32_t)rnd(ctx, 1, 2);
      e.groups = g;
      e.bias = (uint32_t)rnd(ctx, 0, 1);
    }
    if (n < 4) e.bias = 0;
    start(c, XHAL_OP_CONV2D, e.bias ? 3u : 2u);
    uint64_t x[4] = {e.n, e.c, e.h, e.w};
    uint64_t w[4] = {e.k, e.c / e.groups, e.r, e.s};
    set_desc(&c->call.inputs[0].desc, dt[0], 4, x);
    set_desc(&c->call.inputs[1].desc, dt[1], 4, w);
    if (e.bias) set_desc(&c->call.inputs[2].desc, dt[2], 1, &e.k);
    xhal_op_attrs_t* a = &c->call.attrs;
    a->stride[0] = e.sh;
    a->stride[1] = e.sw;
    a->padding[0] = e.ph;
    a->padding[1] = e.pw;
    a->dilation[0] = e.dh;
    a->dilation[1] = e.dw;
    a->groups = e.groups;
    if (finish(c, dt, n)) return 1;
    /* A random window that does not fit its padded input: draw again. */
    if (v != KC_RANDOM) return 0;
  }
  return 0;
}

/* ------------------------------------------------- softmax, layer norm */

typedef struct axis_edge {
  shape_t shape;
  int32_t axis;
  /* Values drawn from [lo, hi] (when hi > lo) and kc_case_t.specials. */
  double lo, hi;
  uint32_t specials;
} axis_edge_t;

static const axis_edge_t kSoftmaxEdges[] = {
    {{1, {1}}, -1, 0, 0, 0},
    {{2, {1, 1023}}, -1, 0, 0, 0},
    {{2, {7, 5}}, 0, 0, 0, 0},
    {{3, {2, 3, 4}}, 1, 0, 0, 0},
    {{1, {33}}, 0, 0, 0, 0},
    /* Large magnitudes: exp() of each overflows (or underflows) f32 and
     * f64; only the shifted form stays finite. */
    {{2, {3, 17}}, -1, 990, 1000, 0},
    {{2, {5, 4}}, 0, -1000, -990, 0},
    {{2, {7, 3}}, -1, -30000, 30000, 0},
    {{2, {3, 21}}, -1, 0, 0, 1},
    {{2, {0, 4}}, -1, 0, 0, 0},
};

/* Offset slices: every normalising or reducing operator also gets slices
 * whose values sit far from zero relative to their spread (centre +-
 * spread), where a one-pass variance or a mean carried in plain f32
 * cancels and a softmax that does not subtract the maximum overflows.
 * They follow each operator's edge shapes in the edge list. Sums over a
 * slice stay below f16's largest value. */
typedef struct offset_edge {
  axis_edge_t e;
  double centre;
  double spread;
} offset_edge_t;

static const offset_edge_t kSoftmaxOffsets[] = {
    {{{2, {4, 1023}}, -1, 0, 0, 0}, 1000, 3},
    {{{2, {33, 8}}, 0, 0, 0, 0}, 100, 3},
    {{{3, {2, 65, 3}}, 1, 0, 0, 0}, -1000, 3},
};

static const offset_edge_t kLayerNormOffsets[] = {
    {{{2, {4, 1023}}, -1, 0, 0, 0}, 1000, 1},
    {{{2, {8, 33}}, -1, 0, 0, 0}, 100, 1},
    {{{3, {2, 3, 768}}, -1, 0, 0, 0}, 1000, 1},
    {{{2, {5, 7}}, -1, 0, 0, 0}, -1000, 1},
    {{{2, {3, 257}}, -1, 0, 0, 0}, 100, 0.01},
};

static const offset_edge_t kReduceOffsets[] = {
    {{{2, {4, 61}}, 1, 0, 0, 0}, 1000, 1},
    {{{2, {61, 3}}, 0, 0, 0, 0}, 100, 1},
    {{{3, {2, 65, 3}}, 1, 0, 0, 0}, -1000, 1},
};

#define KC_COUNT(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* Sets input 0's range to an offset case's and says so in the
 * description. */
static int offset_finish(kc_case_t* c, const offset_edge_t* o,
                         const xhal_dtype_t* dt, uint32_t n) {
  c->lo[0] = o->centre - o->spread;
  c->hi[0] = o->centre + o->spread;
  if (!finish(c, dt, n)) return 0;
  append(c->desc, sizeof(c->desc), " values in [%g, %g]", c->lo[0], c->hi[0]);
  return 1;
}

static int build_softmax(cts_ctx_t* ctx, const xhal_dtype_t* dt, uint32_t n,
                         kc_variant_t v, uint32_t index, kc_case_t* c) {
  start(c, XHAL_OP_SOFTMAX, 1);
  axis_edge_t e;
  if (v == KC_EDGE && index >= KC_COUNT(kSoftmaxEdges)) {
    index -= KC_COUNT(kSoftmaxEdges);
    if (index >= KC_COUNT(kSoftmaxOffsets)) return 0;
    const offset_edge_t* o = &kSoftmaxOffsets[index];
    set_desc(&c->call.inputs[0].desc, dt[0], o->e.shape.rank, o->e.shape.dims);
    c->call.attrs.axis = o->e.axis;
    return offset_finish(c, o, dt, n);
  }
  if (v == KC_EDGE) {
    e = kSoftmaxEdges[index];
  } else if (v == KC_LARGE) {
    e.shape.rank = 2;
    e.shape.dims[0] = 64;
    e.shape.dims[1] = 1000;
    e.axis = -1;
  } else {
    random_shape(ctx, &e.shape, 1, 3, 9);
    e.axis =
        (int32_t)rnd(ctx, 0, 2u * e.shape.rank - 1u) - (int32_t)e.shape.rank;
  }
  set_desc(&c->call.inputs[0].desc, dt[0], e.shape.rank, e.shape.dims);
  c->call.attrs.axis = e.axis;
  c->lo[0] = -5;
  c->hi[0] = 5;
  if (v == KC_EDGE && e.hi > e.lo) {
    c->lo[0] = e.lo;
    c->hi[0] = e.hi;
    /* f16 holds magnitudes up to 65504 only. */
    if (dt[0] == XHAL_DTYPE_F16 && c->hi[0] > 60000) c->hi[0] = 60000;
    if (dt[0] == XHAL_DTYPE_F16 && c->lo[0] < -60000) c->lo[0] = -60000;
  }
  if (v == KC_EDGE) c->specials = e.specials;
  return finish(c, dt, n);
}

static const shape_t kLayerNormEdges[] = {
    {1, {1}}, {2, {3, 1}}, {2, {3, 1023}}, {3, {1, 1, 7}}, {1, {33}},
};

static int build_layer_norm(cts_ctx_t* ctx, const xhal_dtype_t* dt, uint32_t n,
                            kc_variant_t v, uint32_t index, kc_case_t* c) {
  shape_t s;
  uint32_t inputs = n - 1u; /* X, then gamma and beta as the signature has */
  const offset_edge_t* o = NULL;
  if (v == KC_EDGE && index >= KC_COUNT(kLayerNormEdges)) {
    index -= KC_COUNT(kLayerNormEdges);
    if (index >= KC_COUNT(kLayerNormOffsets)) return 0;
    o = &kLayerNormOffsets[index];
    s = o->e.shape;
  } else if (v == KC_EDGE) {
    s = kLayerNormEdges[index];
  } else if (v == KC_LARGE) {
    s.rank = 2;
    s.dims[0] = 128;
    s.dims[1] = 768;
  } else {
    random_shape(ctx, &s, 1, 3, 9);
    inputs = (uint32_t)rnd(ctx, 1, n - 1u);
  }
  start(c, XHAL_OP_LAYER_NORM, inputs);
  set_desc(&c->call.inputs[0].desc, dt[0], s.rank, s.dims);
  uint64_t d = s.dims[s.rank - 1];
  for (uint32_t i = 1; i < inputs; ++i)
    set_desc(&c->call.inputs[i].desc, dt[i], 1, &d);
  if (o) return offset_finish(c, o, dt, n);
  return finish(c, dt, n);
}

/* ---------------------------------------------------------------- reduce */

static const axis_edge_t kReduceEdges[] = {
    {{1, {5}}, 0, 0, 0, 0},
    {{2, {1, 1}}, -1, 0, 0, 0},
    {{2, {2, 1023}}, 1, 0, 0, 0},
    {{2, {1023, 2}}, 0, 0, 0, 0},
    {{4, {2, 3, 1, 5}}, 2, 0, 0, 0},
    {{2, {3, 7}}, -1, 0, 0, 1},
    {{2, {7, 3}}, 0, 0, 0, 1},
    {{2, {0, 3}}, 1, 0, 0, 0},
    /* The empty reduction stays last: reduce_max has no such case. */
    {{3, {3, 0, 4}}, 1, 0, 0, 0},
};

static int build_reduce(cts_ctx_t* ctx, const xhal_dtype_t* dt, uint32_t n,
                        kc_variant_t v, uint32_t index, kc_case_t* c) {
  start(c, c->call.op, 1);
  axis_edge_t e;
  if (v == KC_EDGE && index >= KC_COUNT(kReduceEdges)) {
    index -= KC_COUNT(kReduceEdges);
    if (index >= KC_COUNT(kReduceOffsets)) return 0;
    const offset_edge_t* o = &kReduceOffsets[index];
    set_desc(&c->call.inputs[0].desc, dt[0], o->e.shape.rank, o->e.shape.dims);
    c->call.attrs.axis = o->e.axis;
    return offset_finish(c, o, dt, n);
  }
  if (v == KC_EDGE) {
    e = kReduceEdges[index];
  } else if (v == KC_LARGE) {
    e.shape.rank = 2;
    e.shape.dims[0] = 256;
    e.shape.dims[1] = 509;
    e.axis = (int32_t)rnd(ctx, 0, 1);
  } else {
    random_shape(ctx, &e.shape, 1, 4, 9);
    e.axis =
        (int32_t)rnd(ctx, 0, 2u * e.shape.rank - 1u) - (int32_t)e.shape.rank;
  }
  set_desc(&c->call.inputs[0].desc, dt[0], e.shape.rank, e.shape.dims);
  c->call.attrs.axis = e.axis;
  if (v == KC_EDGE) c->specials = e.specials;
  return finish(c, dt, n);
}

/* ------------------------------------------------------ transpose, cast */

typedef struct perm_edge {
  shape_t shape;
  uint32_t perm[XHAL_MAX_RANK];
} perm_edge_t;

static const perm_edge_t kTransposeEdges[] = {
    {{1, {7}}, {0}},
    {{2, {1, 7}}, {1, 0}},
    {{2, {33, 65}}, {1, 0}},
    {{4, {2, 3, 4, 5}}, {3, 2, 1, 0}},
    {{3, {3, 1, 5}}, {2, 0, 1}},
    {{8, {2, 1, 2, 1, 3, 1, 2, 1}}, {7, 6, 5, 4, 3, 2, 1, 0}},
    {{3, {4, 3, 2}}, {1, 2, 0}},
    {{2, {0, 3}}, {1, 0}},
};

static int build_transpose(cts_ctx_t* ctx, const xhal_dtype_t* dt, uint32_t n,
                           kc_variant_t v, uint32_t index, kc_case_t* c) {
  start(c, XHAL_OP_TRANSPOSE, 1);
  perm_edge_t e;
  memset(&e, 0, sizeof(e));
  if (v == KC_EDGE) {
    if (index >= sizeof(kTransposeEdges) / sizeof(kTransposeEdges[0])) return 0;
    e = kTransposeEdges[index];
  } else {
    if (v == KC_LARGE) {
      e.shape.rank = 3;
      e.shape.dims[0] = 64;
      e.shape.dims[1] = 129;
      e.shape.dims[2] = 16;
    } else {
      random_shape(ctx, &e.shape, 1, 5, 6);
    }
    for (uint32_t i = 0; i < e.shape.rank; ++i) e.perm[i] = i;
    for (uint32_t i = e.shape.rank; i > 1; --i) {
      uint32_t j = (uint32_t)rnd(ctx, 0, i - 1u);
      uint32_t t = e.perm[i - 1];
      e.perm[i - 1] = e.perm[j];
      e.perm[j] = t;
    }
  }
  set_desc(&c->call.inputs[0].desc, dt[0], e.shape.rank, e.shape.dims);
  for (uint32_t i = 0; i < e.shape.rank; ++i) c->call.attrs.perm[i] = e.perm[i];
  return finish(c, dt, n);
}

static const shape_t kCastEdges[] = {
    {1, {1}}, {1, {37}}, {2, {3, 5}}, {1, {1023}}, {2, {0, 7}},
};

static int build_cast(cts_ctx_t* ctx, const xhal_dtype_t* dt, uint32_t n,
                      kc_variant_t v, uint32_t index, kc_case_t* c) {
  start(c, XHAL_OP_CAST, 1);
  shape_t s;
  if (v == KC_EDGE) {
    if (index >= sizeof(kCastEdges) / sizeof(kCastEdges[0])) return 0;
    s = kCastEdges[index];
    /* NaN, infinities, -0 and values that overflow or saturate the
     * target: the catalog defines each. */
    c->specials = dt[0] == XHAL_DTYPE_F32 || dt[0] == XHAL_DTYPE_F16;
  } else if (v == KC_LARGE) {
    s.rank = 1;
    s.dims[0] = (1u << 17) + 1;
  } else {
    random_shape(ctx, &s, 0, 4, 9);
  }
  set_desc(&c->call.inputs[0].desc, dt[0], s.rank, s.dims);
  if (dt[0] == XHAL_DTYPE_F32 || dt[0] == XHAL_DTYPE_F16) {
    /* Past the i8 range both ways, so saturation is exercised. */
    c->lo[0] = -300;
    c->hi[0] = 300;
  }
  return finish(c, dt, n);
}

/* ------------------------------------------------------------- dispatch */

int kc_build(cts_ctx_t* ctx, xhal_op_t op, const xhal_dtype_t* dtypes,
             uint32_t num_dtypes, kc_variant_t variant, uint32_t index,
             kc_case_t* out) {
  if (num_dtypes < 2 || num_dtypes > XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS)
    return 0;
  memset(out, 0, sizeof(*out));
  out->call.op = op;
  switch (op) {
    case XHAL_OP_ADD:
    case XHAL_OP_SUB:
    case XHAL_OP_MUL:
    case XHAL_OP_DIV:
    case XHAL_OP_MAX:
    case XHAL_OP_MIN:
      return build_binary(ctx, dtypes, num_dtypes, variant, index, out);
    case XHAL_OP_RELU:
    case XHAL_OP_GELU:
    case XHAL_OP_SIGMOID:
    case XHAL_OP_TANH:
    case XHAL_OP_EXP:
      return build_unary(ctx, dtypes, num_dtypes, variant, index, out);
    case XHAL_OP_MATMUL:
      return build_matmul(ctx, dtypes, num_dtypes, variant, index, out);
    case XHAL_OP_CONV2D:
      return build_conv(ctx, dtypes, num_dtypes, variant, index, out);
    case XHAL_OP_SOFTMAX:
      return build_softmax(ctx, dtypes, num_dtypes, variant, index, out);
    case XHAL_OP_LAYER_NORM:
      return build_layer_norm(ctx, dtypes, num_dtypes, variant, index, out);
    case XHAL_OP_REDUCE_SUM:
    case XHAL_OP_REDUCE_MAX:
      if (op == XHAL_OP_REDUCE_MAX && variant == KC_EDGE &&
          index == sizeof(kReduceEdges) / sizeof(kReduceEdges[0]) - 1u) {
        return 0; /* reduce_max needs a non-empty axis */
      }
      return build_reduce(ctx, dtypes, num_dtypes, variant, index, out);
    case XHAL_OP_TRANSPOSE:
      return build_transpose(ctx, dtypes, num_dtypes, variant, index, out);
    case XHAL_OP_CAST:
      return build_cast(ctx, dtypes, num_dtypes, variant, index, out);
    default:
      return 0;
  }
}
