/*
 * cpu_reduce.c - operators that reduce along an axis: softmax, layer_norm
 * (last axis), reduce_sum and reduce_max.
 *
 * An axis splits a tensor into [outer, len, inner]. When inner is 1 each
 * reduction runs over a contiguous row. Otherwise a work item is a tile of
 * up to TILE neighbouring inner columns of one outer slice: it walks the
 * len rows of that tile, so every load is a short contiguous run and the
 * tile's accumulators live on the stack. Floating-point sums accumulate in
 * double, which keeps long reductions well inside the catalog tolerance.
 */
#include <math.h>
#include <string.h>
#include <xhal/xhal_half.h>

#include "cpu_kernels_internal.h"

enum { TILE = 64 };

/* Reads element i of an f32 or f16 tensor as float. */
static inline float load_fp(xhal_dtype_t dt, const void* p, uint64_t i) {
  if (dt == XHAL_DTYPE_F16) return xhal_half_to_float(((const uint16_t*)p)[i]);
  return ((const float*)p)[i];
}

static inline void store_fp(xhal_dtype_t dt, void* p, uint64_t i, float v) {
  if (dt == XHAL_DTYPE_F16) {
    ((uint16_t*)p)[i] = xhal_float_to_half(v);
  } else {
    ((float*)p)[i] = v;
  }
}

/* Max that lets a NaN through, as numpy's max does. */
static inline float max_nan(float m, float v) {
  return (v > m || v != v) ? v : m;
}

typedef struct axis_job {
  xhal_dtype_t dtype;
  uint64_t outer, len, inner;
  uint64_t tiles; /* per outer slice */
  const void* x;
  void* y;
} axis_job_t;

/* -------------------------------------------------------------- softmax */

/* The common case, an f32 softmax over the last axis: plain row loops
 * without the tile bookkeeping. */
static void softmax_row_f32(const float* restrict x, float* restrict y,
                            uint64_t len) {
  float mx = -INFINITY;
  double sum = 0.0;
  float scale;
  uint64_t l;
  for (l = 0; l < len; ++l) mx = max_nan(mx, x[l]);
  for (l = 0; l < len; ++l) {
    float e = expf(x[l] - mx);
    y[l] = e;
    sum += e;
  }
  scale = (float)(1.0 / sum);
  for (l = 0; l < len; ++l) y[l] *= scale;
}

static void softmax_items(void* ctx, uint64_t begin, uint64_t end) {
  const axis_job_t* j = (const axis_job_t*)ctx;
  uint64_t item;
  for (item = begin; item < end; ++item) {
    if (j->inner == 1 && j->dtype == XHAL_DTYPE_F32) {
      softmax_row_f32((const float*)j->x + item * j->len,
                      (float*)j->y + item * j->len, j->len);
      continue;
    }
    uint64_t o = item / j->tiles;
    uint64_t j0 = (item % j->tiles) * TILE;
    uint64_t w = j->inner - j0 < TILE ? j->inner - j0 : TILE;
    uint64_t base = o * j->len * j->inner + j0;
    float mx[TILE];
    double sum[TILE];
    float scale[TILE];
    uint64_t l;
    uint64_t c;
    for (c = 0; c < w; ++c) {
      mx[c] = -INFINITY;
      sum[c] = 0.0;
    }
    for (l = 0; l < j->len; ++l) {
      for (c = 0; c < w; ++c) {
        mx[c] =
            max_nan(mx[c], load_fp(j->dtype, j->x, base + l * j->inner + c));
      }
    }
    for (l = 0; l < j->len; ++l) {
      for (c = 0; c < w; ++c) {
        uint64_t i = base + l * j->inner + c;
        float e = expf(load_fp(j->dtype, j->x, i) - mx[c]);
        sum[c] += e;
        /* f32 keeps the exponentials in the output for the last pass;
         * f16 would round them, so it recomputes them instead. */
        if (j->dtype == XHAL_DTYPE_F32) ((float*)j->y)[i] = e;
      }
    }
    for (c = 0; c < w; ++c) scale[c] = (float)(1.0 / sum[c]);
    for (l = 0; l < j->len; ++l) {
      for (c = 0; c < w; ++c) {
        uint64_t i = base + l * j->inner + c;
        if (j->dtype == XHAL_DTYPE_F32) {
          ((float*)j->y)[i] *= scale[c];
        } else {
          float e = expf(load_fp(j->dtype, j->x, i) - mx[c]);
          store_fp(j->dtype, j->y, i, e * scale[c]);
        }
      }
    }
  }
}

static xhal_status_t axis_job(const xhal_plugin_op_call_t* call,
                              const void* const inputs[], void* output,
                              axis_job_t* j) {
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  uint32_t axis;
  if (call->num_inputs != 1) return XHAL_ERROR_INVALID_ARGUMENT;
  if (x->rank < 1 || !cpu_norm_axis(call->attrs.axis, x->rank, &axis)) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  cpu_split_axis(x, axis, &j->outer, &j->len, &j->inner);
  j->dtype = x->dtype;
  j->tiles = (j->inner + TILE - 1) / TILE;
  j->x = inputs[0];
  j->y = output;
  return XHAL_OK;
}

xhal_status_t cpu_op_softmax(const xhal_plugin_op_call_t* call,
                             const void* const inputs[], void* output,
                             const cpu_parallel_t* par) {
  axis_job_t j;
  uint64_t tile_w;
  xhal_status_t st = axis_job(call, inputs, output, &j);
  if (st != XHAL_OK) return st;
  if (cpu_numel(&call->outputs[0].desc) != cpu_numel(&call->inputs[0].desc)) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  tile_w = j.inner < TILE ? j.inner : TILE;
  cpu_par_for(par, j.outer * j.tiles, cpu_grain_for(j.len * tile_w * 8),
              softmax_items, &j);
  return XHAL_OK;
}

/* ----------------------------------------------------------- layer_norm */

typedef struct ln_job {
  xhal_dtype_t dtype;
  uint64_t d;
  float epsilon;
  const void* x;
  const void* gamma; /* NULL when absent */
  const void* beta;  /* NULL when absent */
  void* y;
} ln_job_t;

static void ln_rows(void* ctx, uint64_t begin, uint64_t end) {
  const ln_job_t* j = (const ln_job_t*)ctx;
  uint64_t row;
  uint64_t c;
  for (row = begin; row < end; ++row) {
    uint64_t base = row * j->d;
    double sum = 0.0;
    double sq = 0.0;
    double mean;
    double rstd;
    for (c = 0; c < j->d; ++c) sum += load_fp(j->dtype, j->x, base + c);
    mean = sum / (double)j->d;
    /* Two passes: the centred sum of squares does not cancel. */
    for (c = 0; c < j->d; ++c) {
      double v = load_fp(j->dtype, j->x, base + c) - mean;
      sq += v * v;
    }
    rstd = 1.0 / sqrt(sq / (double)j->d + (double)j->epsilon);
    for (c = 0; c < j->d; ++c) {
      /* Centre in double: with |mean| >> stddev a float mean would lose
       * the digits that survive the subtraction. */
      float v = (float)((load_fp(j->dtype, j->x, base + c) - mean) * rstd);
      if (j->gamma) v *= load_fp(j->dtype, j->gamma, c);
      if (j->beta) v += load_fp(j->dtype, j->beta, c);
      store_fp(j->dtype, j->y, base + c, v);
    }
  }
}

xhal_status_t cpu_op_layer_norm(const xhal_plugin_op_call_t* call,
                                const void* const inputs[], void* output,
                                const cpu_parallel_t* par) {
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  ln_job_t j;
  uint32_t i;
  if (call->num_inputs < 1 || call->num_inputs > 3) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (x->rank < 1 || x->dims[x->rank - 1] == 0 ||
      cpu_numel(&call->outputs[0].desc) != cpu_numel(x)) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  j.dtype = x->dtype;
  j.d = x->dims[x->rank - 1];
  for (i = 1; i < call->num_inputs; ++i) {
    const xhal_tensor_desc_t* p = &call->inputs[i].desc;
    if (p->rank != 1 || p->dims[0] != j.d) return XHAL_ERROR_SHAPE_MISMATCH;
  }
  j.epsilon = call->attrs.epsilon;
  j.x = inputs[0];
  j.gamma = call->num_inputs > 1 ? inputs[1] : NULL;
  j.beta = call->num_inputs > 2 ? inputs[2] : NULL;
  j.y = output;
  cpu_par_for(par, cpu_numel(x) / j.d, cpu_grain_for(j.d * 4), ln_rows, &j);
  return XHAL_OK;
}

/* --------------------------------------------------------------- reduce */

typedef struct red_job {
  axis_job_t a;
  int is_max;
} red_job_t;

/* One contiguous row of len elements. */
static void reduce_row(const red_job_t* r, uint64_t o) {
  const axis_job_t* j = &r->a;
  uint64_t base = o * j->len;
  uint64_t l;
  if (j->dtype == XHAL_DTYPE_I32) {
    const int32_t* x = (const int32_t*)j->x + base;
    if (r->is_max) {
      int32_t m = x[0];
      for (l = 1; l < j->len; ++l) m = x[l] > m ? x[l] : m;
      ((int32_t*)j->y)[o] = m;
    } else {
      uint32_t s = 0; /* wraps, as the catalog says */
      for (l = 0; l < j->len; ++l) s += (uint32_t)x[l];
      ((int32_t*)j->y)[o] = (int32_t)s;
    }
  } else if (r->is_max) {
    float m = load_fp(j->dtype, j->x, base);
    for (l = 1; l < j->len; ++l)
      m = max_nan(m, load_fp(j->dtype, j->x, base + l));
    store_fp(j->dtype, j->y, o, m);
  } else {
    /* Independent partial sums break the add latency chain. */
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    for (l = 0; l + 4 <= j->len; l += 4) {
      s[0] += load_fp(j->dtype, j->x, base + l);
      s[1] += load_fp(j->dtype, j->x, base + l + 1);
      s[2] += load_fp(j->dtype, j->x, base + l + 2);
      s[3] += load_fp(j->dtype, j->x, base + l + 3);
    }
    for (; l < j->len; ++l) s[0] += load_fp(j->dtype, j->x, base + l);
    store_fp(j->dtype, j->y, o, (float)((s[0] + s[1]) + (s[2] + s[3])));
  }
}

/* A tile of w inner columns: accumulate the len rows column-wise. */
static void reduce_tile(const red_job_t* r, uint64_t o, uint64_t j0,
                        uint64_t w) {
  const axis_job_t* j = &r->a;
  uint64_t in_base = o * j->len * j->inner + j0;
  uint64_t out_base = o * j->inner + j0;
  uint64_t l;
  uint64_t c;
  if (j->dtype == XHAL_DTYPE_I32) {
    const int32_t* x = (const int32_t*)j->x + in_base;
    int32_t* y = (int32_t*)j->y + out_base;
    uint32_t acc[TILE];
    int32_t mx[TILE];
    for (c = 0; c < w; ++c) {
      acc[c] = 0;
      mx[c] = j->len ? x[c] : 0;
    }
    for (l = 0; l < j->len; ++l) {
      const int32_t* row = x + l * j->inner;
      if (r->is_max) {
        for (c = 0; c < w; ++c) mx[c] = row[c] > mx[c] ? row[c] : mx[c];
      } else {
        for (c = 0; c < w; ++c) acc[c] += (uint32_t)row[c];
      }
    }
    for (c = 0; c < w; ++c) y[c] = r->is_max ? mx[c] : (int32_t)acc[c];
    return;
  }
  if (r->is_max) {
    float mx[TILE];
    for (c = 0; c < w; ++c) mx[c] = load_fp(j->dtype, j->x, in_base + c);
    for (l = 1; l < j->len; ++l) {
      for (c = 0; c < w; ++c) {
        mx[c] =
            max_nan(mx[c], load_fp(j->dtype, j->x, in_base + l * j->inner + c));
      }
    }
    for (c = 0; c < w; ++c) store_fp(j->dtype, j->y, out_base + c, mx[c]);
  } else {
    double acc[TILE];
    for (c = 0; c < w; ++c) acc[c] = 0.0;
    for (l = 0; l < j->len; ++l) {
      for (c = 0; c < w; ++c) {
        acc[c] += load_fp(j->dtype, j->x, in_base + l * j->inner + c);
      }
    }
    for (c = 0; c < w; ++c) {
      store_fp(j->dtype, j->y, out_base + c, (float)acc[c]);
    }
  }
}

static void reduce_items(void* ctx, uint64_t begin, uint64_t end) {
  const red_job_t* r = (const red_job_t*)ctx;
  const axis_job_t* j = &r->a;
  uint64_t item;
  for (item = begin; item < end; ++item) {
    if (j->inner == 1) {
      reduce_row(r, item);
    } else {
      uint64_t o = item / j->tiles;
      uint64_t j0 = (item % j->tiles) * TILE;
      reduce_tile(r, o, j0, j->inner - j0 < TILE ? j->inner - j0 : TILE);
    }
  }
}

xhal_status_t cpu_op_reduce(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], void* output,
                            const cpu_parallel_t* par) {
  red_job_t r;
  uint64_t items;
  uint64_t cost;
  xhal_status_t st = axis_job(call, inputs, output, &r.a);
  if (st != XHAL_OK) return st;
  r.is_max = call->op == XHAL_OP_REDUCE_MAX;
  if (r.is_max && r.a.len == 0) return XHAL_ERROR_SHAPE_MISMATCH;
  if (cpu_numel(&call->outputs[0].desc) != r.a.outer * r.a.inner) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  items = r.a.inner == 1 ? r.a.outer : r.a.outer * r.a.tiles;
  cost = r.a.len * (r.a.inner == 1 ? 1 : (r.a.inner < TILE ? r.a.inner : TILE));
  cpu_par_for(par, items, cpu_grain_for(cost), reduce_items, &r);
  return XHAL_OK;
}
