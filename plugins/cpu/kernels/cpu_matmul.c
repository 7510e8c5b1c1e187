/*
 * cpu_matmul.c - matmul for f32, f16 and int8 -> int32.
 *
 *   Y = alpha * op(A) @ op(B) + (beta != 0 ? beta * Y : 0) + bias
 *
 * f32 is one cblas_sgemm call. A bias is folded in before it: Y is set to
 * beta * Y + bias (without reading Y when beta == 0) and the GEMM then runs
 * with beta = 1, so the bias costs one pass over Y, the same pass the GEMM
 * would otherwise spend zeroing or scaling Y.
 *
 * f16 converts B once and A in row panels to f32, runs the f32 GEMM on a
 * panel of Y staged in f32 and rounds each result once to f16.
 *
 * int8 packs transposed operands to row-major, runs the int8 GEMM
 * (int32 accumulation, wrapping) and adds the int32 bias with wrapping.
 */
#include <xhal/xhal_half.h>

#include "cpu_kernels_internal.h"

typedef struct mm_shape {
  uint64_t m, n, k;
  uint64_t lda, ldb; /* row lengths of A and B as stored */
  int ta, tb;
  int has_bias;
} mm_shape_t;

static xhal_status_t mm_shape(const xhal_plugin_op_call_t* call,
                              mm_shape_t* s) {
  const xhal_tensor_desc_t* a = &call->inputs[0].desc;
  const xhal_tensor_desc_t* b = &call->inputs[1].desc;
  const xhal_tensor_desc_t* y = &call->outputs[0].desc;
  uint64_t am, ak, bk, bn;
  if (call->num_inputs < 2 || call->num_inputs > 3) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (a->rank != 2 || b->rank != 2 || y->rank != 2) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  s->ta = call->attrs.transpose_a != 0;
  s->tb = call->attrs.transpose_b != 0;
  am = s->ta ? a->dims[1] : a->dims[0];
  ak = s->ta ? a->dims[0] : a->dims[1];
  bk = s->tb ? b->dims[1] : b->dims[0];
  bn = s->tb ? b->dims[0] : b->dims[1];
  if (ak != bk || am != y->dims[0] || bn != y->dims[1]) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  s->m = am;
  s->n = bn;
  s->k = ak;
  s->lda = a->dims[1];
  s->ldb = b->dims[1];
  s->has_bias = call->num_inputs == 3;
  if (s->has_bias) {
    const xhal_tensor_desc_t* bias = &call->inputs[2].desc;
    if (bias->rank != 1 || bias->dims[0] != s->n) {
      return XHAL_ERROR_SHAPE_MISMATCH;
    }
  }
  return XHAL_OK;
}

/* ---------------------------------------------------------------- f32 */

typedef struct bias_ctx {
  uint64_t n;
  float beta;
  const float* bias;
  float* y;
} bias_ctx_t;

/* Y = beta * Y + bias, row by row; beta == 0 does not read Y. */
static void bias_rows(void* ctx, uint64_t begin, uint64_t end) {
  const bias_ctx_t* c = (const bias_ctx_t*)ctx;
  uint64_t i;
  uint64_t j;
  for (i = begin; i < end; ++i) {
    float* restrict row = c->y + i * c->n;
    const float* restrict bias = c->bias;
    if (c->beta == 0.0f) {
      for (j = 0; j < c->n; ++j) row[j] = bias[j];
    } else {
      for (j = 0; j < c->n; ++j) row[j] = c->beta * row[j] + bias[j];
    }
  }
}

static xhal_status_t matmul_f32(const mm_shape_t* s,
                                const xhal_op_attrs_t* attrs,
                                const void* const inputs[], float* y,
                                const cpu_parallel_t* par) {
  float beta = attrs->beta;
  if (s->has_bias) {
    bias_ctx_t bc = {s->n, beta, (const float*)inputs[2], y};
    cpu_par_for(par, s->m, cpu_grain_for(s->n), bias_rows, &bc);
    beta = 1.0f;
  }
  return cpu_sgemm(par, s->ta, s->tb, s->m, s->n, s->k, attrs->alpha,
                   (const float*)inputs[0], s->lda, (const float*)inputs[1],
                   s->ldb, beta, y, s->n);
}

/* ---------------------------------------------------------------- f16 */

typedef struct h2f_ctx {
  const uint16_t* src;
  uint64_t src_ld;
  float* dst;
  uint64_t dst_ld;
  uint64_t cols;
} h2f_ctx_t;

/* Converts rows of a 2-D f16 block to f32 (any leading dims). */
static void h2f_rows(void* ctx, uint64_t begin, uint64_t end) {
  const h2f_ctx_t* c = (const h2f_ctx_t*)ctx;
  uint64_t i;
  uint64_t j;
  for (i = begin; i < end; ++i) {
    const uint16_t* s = c->src + i * c->src_ld;
    float* d = c->dst + i * c->dst_ld;
    for (j = 0; j < c->cols; ++j) d[j] = xhal_half_to_float(s[j]);
  }
}

static void h2f_block(const cpu_parallel_t* par, const uint16_t* src,
                      uint64_t src_ld, float* dst, uint64_t dst_ld,
                      uint64_t rows, uint64_t cols) {
  h2f_ctx_t c = {src, src_ld, dst, dst_ld, cols};
  cpu_par_for(par, rows, cpu_grain_for(cols * 4), h2f_rows, &c);
}

typedef struct f16_out_ctx {
  uint64_t n;
  float beta;
  const uint16_t* bias; /* NULL when absent */
  uint16_t* y;          /* the panel's first row in Y */
  float* acc;           /* the panel in f32 */
  int finish;           /* 0: stage the initial value, 1: round out */
} f16_out_ctx_t;

static void f16_out_rows(void* ctx, uint64_t begin, uint64_t end) {
  const f16_out_ctx_t* c = (const f16_out_ctx_t*)ctx;
  uint64_t i;
  uint64_t j;
  for (i = begin; i < end; ++i) {
    uint16_t* yr = c->y + i * c->n;
    float* ar = c->acc + i * c->n;
    if (c->finish) {
      for (j = 0; j < c->n; ++j) yr[j] = xhal_float_to_half(ar[j]);
      continue;
    }
    for (j = 0; j < c->n; ++j) {
      float v = c->beta != 0.0f ? c->beta * xhal_half_to_float(yr[j]) : 0.0f;
      ar[j] = c->bias ? v + xhal_half_to_float(c->bias[j]) : v;
    }
  }
}

/* Panel rows: big enough to keep the GEMM efficient, small enough that the
 * f32 staging of A and Y stays around 16 MiB whatever M is. */
static uint64_t f16_panel_rows(const mm_shape_t* s) {
  const uint64_t budget = (16u << 20) / sizeof(float);
  uint64_t per_row = s->k + s->n;
  uint64_t rows = per_row ? budget / per_row : s->m;
  if (rows < 64) rows = 64;
  return rows < s->m ? rows : s->m;
}

static xhal_status_t matmul_f16(const mm_shape_t* s,
                                const xhal_op_attrs_t* attrs,
                                const void* const inputs[], uint16_t* y,
                                const cpu_parallel_t* par) {
  const uint16_t* a = (const uint16_t*)inputs[0];
  const uint16_t* b = (const uint16_t*)inputs[1];
  uint64_t b_elems = s->k * s->n;
  uint64_t mb = f16_panel_rows(s);
  uint64_t i0;
  void* b32 = NULL;
  void* a32 = NULL;
  void* y32 = NULL;
  xhal_status_t st = cpu_scratch_alloc(b_elems, sizeof(float), &b32);
  if (st == XHAL_OK) st = cpu_scratch_alloc(mb * s->k, sizeof(float), &a32);
  if (st == XHAL_OK) st = cpu_scratch_alloc(mb * s->n, sizeof(float), &y32);
  if (st != XHAL_OK) goto cleanup;
  /* B keeps its stored layout; the GEMM applies transpose_b. */
  if (s->tb) {
    h2f_block(par, b, s->k, (float*)b32, s->k, s->n, s->k);
  } else {
    h2f_block(par, b, s->n, (float*)b32, s->n, s->k, s->n);
  }
  for (i0 = 0; i0 < s->m && st == XHAL_OK; i0 += mb) {
    uint64_t rows = s->m - i0 < mb ? s->m - i0 : mb;
    uint64_t lda32;
    f16_out_ctx_t oc = {s->n,
                        attrs->beta,
                        s->has_bias ? (const uint16_t*)inputs[2] : NULL,
                        y + i0 * s->n,
                        (float*)y32,
                        0};
    float beta32 = 0.0f;
    if (s->ta) {
      /* A stored [K, M]: the panel is `rows` columns of every row. */
      h2f_block(par, a + i0, s->m, (float*)a32, rows, s->k, rows);
      lda32 = rows;
    } else {
      h2f_block(par, a + i0 * s->k, s->k, (float*)a32, s->k, rows, s->k);
      lda32 = s->k;
    }
    if (attrs->beta != 0.0f || s->has_bias) {
      cpu_par_for(par, rows, cpu_grain_for(s->n * 8), f16_out_rows, &oc);
      beta32 = 1.0f;
    }
    st = cpu_sgemm(par, s->ta, s->tb, rows, s->n, s->k, attrs->alpha,
                   (const float*)a32, lda32, (const float*)b32, s->ldb, beta32,
                   (float*)y32, s->n);
    oc.finish = 1;
    cpu_par_for(par, rows, cpu_grain_for(s->n * 4), f16_out_rows, &oc);
  }
cleanup:
  cpu_scratch_free(b32);
  cpu_scratch_free(a32);
  cpu_scratch_free(y32);
  return st;
}

/* ---------------------------------------------------------------- int8 */

typedef struct i8t_ctx {
  const int8_t* src; /* [cols, rows] */
  int8_t* dst;       /* [rows, cols] */
  uint64_t rows, cols;
} i8t_ctx_t;

static void i8_transpose_rows(void* ctx, uint64_t begin, uint64_t end) {
  const i8t_ctx_t* c = (const i8t_ctx_t*)ctx;
  uint64_t i;
  uint64_t j;
  for (i = begin; i < end; ++i) {
    for (j = 0; j < c->cols; ++j) {
      c->dst[i * c->cols + j] = c->src[j * c->rows + i];
    }
  }
}

static void i8_transpose(const cpu_parallel_t* par, const int8_t* src,
                         int8_t* dst, uint64_t rows, uint64_t cols) {
  i8t_ctx_t c = {src, dst, rows, cols};
  cpu_par_for(par, rows, cpu_grain_for(cols * 2), i8_transpose_rows, &c);
}

typedef struct ibias_ctx {
  uint64_t n;
  const int32_t* bias;
  int32_t* y;
} ibias_ctx_t;

static void ibias_rows(void* ctx, uint64_t begin, uint64_t end) {
  const ibias_ctx_t* c = (const ibias_ctx_t*)ctx;
  uint64_t i;
  uint64_t j;
  for (i = begin; i < end; ++i) {
    int32_t* row = c->y + i * c->n;
    for (j = 0; j < c->n; ++j) {
      row[j] = (int32_t)((uint32_t)row[j] + (uint32_t)c->bias[j]);
    }
  }
}

static xhal_status_t matmul_i8(const mm_shape_t* s,
                               const xhal_op_attrs_t* attrs,
                               const void* const inputs[], int32_t* y,
                               const cpu_parallel_t* par) {
  const int8_t* a = (const int8_t*)inputs[0];
  const int8_t* b = (const int8_t*)inputs[1];
  void* at = NULL;
  void* bt = NULL;
  xhal_status_t st = XHAL_OK;
  if (attrs->alpha != 1.0f || attrs->beta != 0.0f) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (s->ta) {
    st = cpu_scratch_alloc(s->m * s->k, 1, &at);
    if (st != XHAL_OK) goto cleanup;
    i8_transpose(par, a, (int8_t*)at, s->m, s->k);
    a = (const int8_t*)at;
  }
  if (s->tb) {
    st = cpu_scratch_alloc(s->k * s->n, 1, &bt);
    if (st != XHAL_OK) goto cleanup;
    i8_transpose(par, b, (int8_t*)bt, s->k, s->n);
    b = (const int8_t*)bt;
  }
  cpu_igemm(par, s->m, s->n, s->k, a, s->k, b, s->n, y, s->n);
  if (s->has_bias) {
    ibias_ctx_t bc = {s->n, (const int32_t*)inputs[2], y};
    cpu_par_for(par, s->m, cpu_grain_for(s->n), ibias_rows, &bc);
  }
cleanup:
  cpu_scratch_free(at);
  cpu_scratch_free(bt);
  return st;
}

xhal_status_t cpu_op_matmul(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], void* output,
                            const cpu_parallel_t* par) {
  mm_shape_t s;
  xhal_status_t st = mm_shape(call, &s);
  if (st != XHAL_OK) return st;
  switch (call->inputs[0].desc.dtype) {
    case XHAL_DTYPE_F32:
      return matmul_f32(&s, &call->attrs, inputs, (float*)output, par);
    case XHAL_DTYPE_F16:
      return matmul_f16(&s, &call->attrs, inputs, (uint16_t*)output, par);
    default:
      return matmul_i8(&s, &call->attrs, inputs, (int32_t*)output, par);
  }
}
