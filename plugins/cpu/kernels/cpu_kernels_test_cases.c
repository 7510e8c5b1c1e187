/*
 * cpu_kernels_test_cases.c - the shapes and attributes each operator is
 * tested with: random-looking odd sizes, size 1, zero-sized dims,
 * broadcasting with leading 1s, every axis (negative ones too), every
 * transpose combination with alpha/beta/bias, conv2d with groups,
 * dilation, stride and padding, and sizes past the kernels' blocking and
 * threading thresholds.
 */
#include <check.h>
#include <string.h>
#include <xhal_reference.h>

#include "cpu_kernels_test.h"

int is_float(xhal_dtype_t dt) {
  return dt == XHAL_DTYPE_F32 || dt == XHAL_DTYPE_F16;
}

/* Appends a case for the list's entry, inputs not yet shaped. */
static tcase_t* add(case_list_t* l, uint32_t num_inputs, double lo, double hi) {
  tcase_t* c;
  uint32_t i;
  ck_assert_int_lt(l->count, MAX_CASES);
  c = &l->c[l->count++];
  memset(c, 0, sizeof(*c));
  xhal_ref_call_init(&c->call, l->e->op);
  c->call.num_inputs = num_inputs;
  for (i = 0; i < num_inputs; ++i) {
    c->call.inputs[i].desc.dtype = l->e->dtypes[i];
  }
  c->call.outputs[0].desc.dtype = l->e->dtypes[l->e->num_dtypes - 1];
  c->lo = lo;
  c->hi = hi;
  return c;
}

static void shape(tcase_t* c, uint32_t input, uint32_t rank,
                  const uint64_t* dims) {
  xhal_dtype_t dt = c->call.inputs[input].desc.dtype;
  c->call.inputs[input].desc = xhal_ref_desc(dt, rank, dims);
}

/* ---- elementwise */

static void binary_pair(case_list_t* l, uint32_t ra, const uint64_t* a,
                        uint32_t rb, const uint64_t* b, fill_kind_t fill) {
  tcase_t* c = add(l, 2, -4.0, 4.0);
  shape(c, 0, ra, a);
  shape(c, 1, rb, b);
  c->fill = fill;
}

static void cases_binary(case_list_t* l) {
  binary_pair(l, 0, NULL, 0, NULL, FILL_RANGE);
  binary_pair(l, 1, DIMS(1), 1, DIMS(1), FILL_RANGE);
  binary_pair(l, 1, DIMS(17), 1, DIMS(17), FILL_SPECIALS);
  binary_pair(l, 3, DIMS(17, 33, 7), 3, DIMS(17, 33, 7), FILL_SPECIALS);
  binary_pair(l, 3, DIMS(17, 33, 7), 0, NULL, FILL_RANGE);
  binary_pair(l, 0, NULL, 2, DIMS(5, 3), FILL_RANGE);
  binary_pair(l, 3, DIMS(17, 33, 7), 1, DIMS(7), FILL_RANGE);
  binary_pair(l, 1, DIMS(7), 3, DIMS(17, 33, 7), FILL_RANGE);
  binary_pair(l, 3, DIMS(17, 1, 7), 2, DIMS(33, 1), FILL_RANGE);
  binary_pair(l, 3, DIMS(1, 3, 1), 4, DIMS(2, 1, 3, 4), FILL_RANGE);
  binary_pair(l, 4, DIMS(1, 1, 1, 5), 2, DIMS(4, 5), FILL_RANGE);
  binary_pair(l, 6, DIMS(2, 3, 4, 5, 1, 2), 5, DIMS(3, 1, 5, 2, 2), FILL_RANGE);
  binary_pair(l, 8, DIMS(2, 1, 2, 1, 2, 1, 2, 3), 8,
              DIMS(1, 2, 1, 2, 1, 2, 1, 3), FILL_RANGE);
  binary_pair(l, 2, DIMS(0, 5), 1, DIMS(5), FILL_RANGE);
  binary_pair(l, 2, DIMS(3, 0), 1, DIMS(1), FILL_RANGE);
  /* Large enough to be split across threads. */
  binary_pair(l, 2, DIMS(300, 257), 2, DIMS(300, 257), FILL_SPECIALS);
  binary_pair(l, 2, DIMS(300, 257), 1, DIMS(257), FILL_RANGE);
  binary_pair(l, 2, DIMS(300, 257), 2, DIMS(300, 1), FILL_RANGE);
  binary_pair(l, 2, DIMS(257, 1), 2, DIMS(1, 300), FILL_RANGE);
  binary_pair(l, 3, DIMS(40000, 3, 1), 1, DIMS(1), FILL_RANGE);
  binary_pair(l, 2, DIMS(50000, 3), 1, DIMS(3), FILL_RANGE);
}

static void cases_unary(case_list_t* l) {
  static const struct {
    uint32_t rank;
    uint64_t dims[3];
    fill_kind_t fill;
  } shapes[] = {
      {0, {0}, FILL_RANGE},
      {1, {1}, FILL_RANGE},
      {3, {17, 33, 7}, FILL_SPECIALS},
      {2, {0, 3}, FILL_RANGE},
      {1, {100003}, FILL_SPECIALS},
  };
  size_t i;
  double lo = l->e->op == XHAL_OP_EXP ? -12.0 : -8.0;
  double hi = l->e->op == XHAL_OP_EXP ? 12.0 : 8.0;
  for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); ++i) {
    tcase_t* c = add(l, 1, lo, hi);
    shape(c, 0, shapes[i].rank, shapes[i].dims);
    c->fill = shapes[i].fill;
  }
  /* f32 exp overflows to inf past ~88.7, f16 past ~11.1. */
  if (l->e->op == XHAL_OP_EXP) {
    tcase_t* c = add(l, 1, -120.0, 120.0);
    shape(c, 0, 1, DIMS(4099));
  }
}

/* ---- matmul */

static void mm(case_list_t* l, uint64_t m, uint64_t n, uint64_t k, int ta,
               int tb, float alpha, float beta, int bias) {
  int is_int = l->e->dtypes[0] == XHAL_DTYPE_I8;
  tcase_t* c = add(l, bias ? 3 : 2, -1.0, 1.0);
  if (is_int) {
    alpha = 1.0f;
    beta = 0.0f;
  }
  if (ta) {
    shape(c, 0, 2, DIMS(k, m));
  } else {
    shape(c, 0, 2, DIMS(m, k));
  }
  if (tb) {
    shape(c, 1, 2, DIMS(n, k));
  } else {
    shape(c, 1, 2, DIMS(k, n));
  }
  if (bias) shape(c, 2, 1, DIMS(n));
  c->call.attrs.transpose_a = (uint32_t)ta;
  c->call.attrs.transpose_b = (uint32_t)tb;
  c->call.attrs.alpha = alpha;
  c->call.attrs.beta = beta;
}

static void cases_matmul(case_list_t* l) {
  int t;
  mm(l, 1, 1, 1, 0, 0, 1.0f, 0.0f, 0);
  for (t = 0; t < 4; ++t) {
    mm(l, 17, 33, 7, t & 1, t >> 1, 1.0f, 0.0f, 0);
    mm(l, 17, 33, 7, t & 1, t >> 1, 0.5f, 0.25f, 1);
    mm(l, 5, 3, 19, t & 1, t >> 1, -2.0f, 0.0f, 1);
  }
  mm(l, 17, 33, 0, 0, 0, 1.0f, 0.5f, 1); /* K = 0: the sum is 0 */
  mm(l, 17, 33, 0, 1, 1, 1.0f, 0.0f, 0);
  mm(l, 0, 5, 3, 0, 0, 1.0f, 0.0f, 1); /* M = 0: no-op */
  mm(l, 4, 0, 3, 0, 0, 1.0f, 0.0f, 0); /* N = 0: no-op */
  mm(l, 1, 64, 33, 0, 1, 1.0f, 1.0f, 1);
  mm(l, 64, 1, 33, 1, 0, 1.0f, 0.0f, 1);
  mm(l, 64, 48, 300, 1, 1, 1.0f, -1.5f, 1);
  /* Past the blocked kernel's MR/NR edges, KC, MC and NC. */
  mm(l, 130, 150, 70, 0, 0, 1.0f, 0.0f, 1);
  mm(l, 130, 150, 70, 1, 1, 0.75f, 0.5f, 0);
  mm(l, 40, 37, 600, 0, 1, 1.0f, 0.0f, 0);
  mm(l, 300, 20, 50, 1, 0, 1.0f, 0.0f, 1);
  mm(l, 5, 2100, 30, 0, 0, 1.0f, 2.0f, 1);
  if (l->e->dtypes[0] == XHAL_DTYPE_F16) {
    /* Rows of K + N > 65536 floats: f16 stages A and Y in several row
     * panels. */
    mm(l, 130, 65536, 1, 1, 0, 1.0f, 0.5f, 1);
  }
  if (l->e->dtypes[0] == XHAL_DTYPE_I8) {
    /* (-128)^2 * 140000 passes 2^31: the sum must wrap. */
    tcase_t* c;
    mm(l, 1, 2, 140000, 0, 0, 1.0f, 0.0f, 1);
    c = &l->c[l->count - 1];
    c->fill = FILL_CONST;
    c->lo = -128.0;
    c->hi = -128.0;
  }
}

/* ---- conv2d */

typedef struct conv_spec {
  uint64_t n, c, h, w, k, r, s;
  uint32_t sh, sw, ph, pw, dh, dw, groups;
  int bias;
} conv_spec_t;

static void cases_conv2d(case_list_t* l) {
  static const conv_spec_t specs[] = {
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0},
      {2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {1, 4, 8, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 0},
      {1, 6, 9, 11, 6, 3, 2, 2, 1, 2, 0, 2, 3, 3, 1},
      {2, 8, 10, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8, 1},   /* depthwise */
      {2, 16, 7, 7, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1},    /* 1x1: no im2col */
      {1, 16, 7, 7, 8, 1, 1, 1, 1, 0, 0, 1, 1, 4, 0},    /* grouped 1x1 */
      {1, 4, 9, 9, 4, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1},     /* 1x1 stride 2 */
      {1, 16, 20, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* one big unit */
      {3, 16, 12, 12, 32, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1},
      {1, 2, 3, 3, 2, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1},   /* kernel > image */
      {1, 1, 10, 10, 1, 2, 2, 3, 3, 0, 0, 1, 1, 1, 0}, /* stride > kernel */
      {1, 2, 2, 2, 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1},   /* all-padding rows */
      {1, 3, 17, 5, 5, 3, 1, 1, 4, 0, 2, 3, 1, 1, 1},
      {4, 32, 6, 6, 64, 3, 3, 1, 1, 1, 1, 1, 1, 32, 1},
  };
  size_t i;
  for (i = 0; i < sizeof(specs) / sizeof(specs[0]); ++i) {
    const conv_spec_t* s = &specs[i];
    tcase_t* c = add(l, s->bias ? 3 : 2, -1.0, 1.0);
    shape(c, 0, 4, DIMS(s->n, s->c, s->h, s->w));
    shape(c, 1, 4, DIMS(s->k, s->c / s->groups, s->r, s->s));
    if (s->bias) shape(c, 2, 1, DIMS(s->k));
    c->call.attrs.stride[0] = s->sh;
    c->call.attrs.stride[1] = s->sw;
    c->call.attrs.padding[0] = s->ph;
    c->call.attrs.padding[1] = s->pw;
    c->call.attrs.dilation[0] = s->dh;
    c->call.attrs.dilation[1] = s->dw;
    c->call.attrs.groups = s->groups;
  }
}

/* ---- axis operators */

static void axis_case(case_list_t* l, uint32_t rank, const uint64_t* dims,
                      int32_t axis, double lo, double hi, fill_kind_t fill) {
  tcase_t* c = add(l, 1, lo, hi);
  shape(c, 0, rank, dims);
  c->call.attrs.axis = axis;
  c->fill = fill;
}

static void cases_softmax(case_list_t* l) {
  int32_t ax;
  axis_case(l, 1, DIMS(17), -1, -10, 10, FILL_RANGE);
  axis_case(l, 1, DIMS(1), 0, -10, 10, FILL_RANGE);
  for (ax = -3; ax < 3; ++ax) {
    axis_case(l, 3, DIMS(17, 33, 7), ax, -10, 10, FILL_RANGE);
  }
  axis_case(l, 3, DIMS(5, 0, 3), 1, -10, 10, FILL_RANGE);
  axis_case(l, 2, DIMS(3, 0), 0, -10, 10, FILL_RANGE);
  axis_case(l, 2, DIMS(300, 300), -1, -100, 100, FILL_RANGE);
  axis_case(l, 2, DIMS(300, 300), 0, -10, 10, FILL_RANGE);
  axis_case(l, 3, DIMS(2, 1000, 70), 1, -10, 10, FILL_RANGE);
  axis_case(l, 2, DIMS(9, 13), -1, -10, 10, FILL_SPECIALS);
  axis_case(l, 2, DIMS(9, 13), 0, -10, 10, FILL_SPECIALS);
}

static void ln_case(case_list_t* l, uint32_t rank, const uint64_t* dims,
                    uint32_t inputs, double lo, double hi, float eps) {
  tcase_t* c = add(l, inputs, lo, hi);
  uint64_t d = dims[rank - 1];
  uint32_t i;
  shape(c, 0, rank, dims);
  for (i = 1; i < inputs; ++i) shape(c, i, 1, DIMS(d));
  c->call.attrs.epsilon = eps;
}

static void cases_layer_norm(case_list_t* l) {
  uint32_t in;
  for (in = 1; in <= 3; ++in) {
    ln_case(l, 2, DIMS(17, 33), in, -3, 3, 1e-5f);
    ln_case(l, 1, DIMS(1), in, -3, 3, 1e-5f);
    ln_case(l, 2, DIMS(0, 5), in, -3, 3, 1e-5f);
  }
  ln_case(l, 2, DIMS(4, 1), 3, -3, 3, 1e-5f);
  ln_case(l, 3, DIMS(3, 5, 7), 2, -3, 3, 1e-3f);
  ln_case(l, 2, DIMS(100, 1000), 3, -3, 3, 1e-5f);
  /* A large mean over a small spread: centring must not lose digits. */
  ln_case(l, 2, DIMS(8, 64), 1, 1000, 1001, 1e-5f);
}

static void cases_reduce(case_list_t* l) {
  int32_t ax;
  int is_max = l->e->op == XHAL_OP_REDUCE_MAX;
  for (ax = -3; ax < 3; ++ax) {
    axis_case(l, 3, DIMS(17, 33, 7), ax, -4, 4, FILL_RANGE);
  }
  axis_case(l, 1, DIMS(1), 0, -4, 4, FILL_RANGE);
  axis_case(l, 1, DIMS(100003), 0, -4, 4, FILL_RANGE);
  axis_case(l, 2, DIMS(0, 3), 1, -4, 4, FILL_RANGE);
  if (!is_max) {
    axis_case(l, 3, DIMS(5, 0, 3), 1, -4, 4, FILL_RANGE); /* sum = 0 */
    axis_case(l, 2, DIMS(4, 0), -1, -4, 4, FILL_RANGE);
  }
  axis_case(l, 2, DIMS(300, 300), 0, -4, 4, FILL_RANGE);
  axis_case(l, 2, DIMS(300, 300), 1, -4, 4, FILL_RANGE);
  axis_case(l, 3, DIMS(2, 1000, 70), 1, -4, 4, FILL_RANGE);
  axis_case(l, 2, DIMS(9, 13), -1, -4, 4, FILL_SPECIALS);
  axis_case(l, 2, DIMS(9, 130), 0, -4, 4, FILL_SPECIALS);
}

/* ---- transpose and cast */

static void tp(case_list_t* l, uint32_t rank, const uint64_t* dims,
               const uint32_t* perm) {
  tcase_t* c = add(l, 1, -100, 100);
  uint32_t i;
  shape(c, 0, rank, dims);
  for (i = 0; i < rank; ++i) c->call.attrs.perm[i] = perm[i];
}

#define PERM(...) ((const uint32_t[]){__VA_ARGS__})

static void cases_transpose(case_list_t* l) {
  static const uint32_t perms3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                        {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  int i;
  tp(l, 0, NULL, NULL);
  tp(l, 1, DIMS(17), PERM(0));
  tp(l, 2, DIMS(17, 33), PERM(1, 0));
  for (i = 0; i < 6; ++i) tp(l, 3, DIMS(17, 33, 7), perms3[i]);
  tp(l, 4, DIMS(2, 3, 4, 5), PERM(0, 2, 1, 3));
  tp(l, 4, DIMS(2, 3, 4, 5), PERM(3, 2, 1, 0));
  tp(l, 4, DIMS(2, 3, 4, 5), PERM(2, 3, 0, 1));
  tp(l, 4, DIMS(1, 5, 1, 7), PERM(3, 1, 0, 2));
  tp(l, 8, DIMS(2, 1, 3, 2, 1, 2, 3, 2), PERM(5, 0, 7, 2, 1, 6, 4, 3));
  tp(l, 2, DIMS(300, 257), PERM(1, 0));
  tp(l, 3, DIMS(64, 64, 3), PERM(2, 0, 1));
  tp(l, 3, DIMS(3, 64, 65), PERM(0, 2, 1));
  tp(l, 2, DIMS(0, 5), PERM(1, 0));
  tp(l, 3, DIMS(4, 0, 2), PERM(2, 1, 0));
}

static void cases_cast(case_list_t* l) {
  xhal_dtype_t from = l->e->dtypes[0];
  tcase_t* c = add(l, 1, -3e9, 3e9);
  if (from == XHAL_DTYPE_F16 || from == XHAL_DTYPE_I8) {
    shape(c, 0, 1, DIMS(from == XHAL_DTYPE_F16 ? 65536 : 256));
    c->fill = FILL_ALL;
  } else {
    shape(c, 0, 2, DIMS(77, 1001));
    c->fill = FILL_CAST;
  }
  c = add(l, 1, -200, 200);
  shape(c, 0, 3, DIMS(17, 33, 7));
  c = add(l, 1, -200, 200);
  shape(c, 0, 0, NULL);
  c = add(l, 1, -200, 200);
  shape(c, 0, 2, DIMS(7, 0));
}

void build_cases(const cpu_kernel_entry_t* e, case_list_t* l) {
  memset(l, 0, sizeof(*l));
  l->e = e;
  switch (e->op) {
    case XHAL_OP_ADD:
    case XHAL_OP_SUB:
    case XHAL_OP_MUL:
    case XHAL_OP_DIV:
    case XHAL_OP_MAX:
    case XHAL_OP_MIN:
      cases_binary(l);
      break;
    case XHAL_OP_RELU:
    case XHAL_OP_GELU:
    case XHAL_OP_SIGMOID:
    case XHAL_OP_TANH:
    case XHAL_OP_EXP:
      cases_unary(l);
      break;
    case XHAL_OP_MATMUL:
      cases_matmul(l);
      break;
    case XHAL_OP_CONV2D:
      cases_conv2d(l);
      break;
    case XHAL_OP_SOFTMAX:
      cases_softmax(l);
      break;
    case XHAL_OP_LAYER_NORM:
      cases_layer_norm(l);
      break;
    case XHAL_OP_REDUCE_SUM:
    case XHAL_OP_REDUCE_MAX:
      cases_reduce(l);
      break;
    case XHAL_OP_TRANSPOSE:
      cases_transpose(l);
      break;
    case XHAL_OP_CAST:
      cases_cast(l);
      break;
    default:
      break;
  }
}
