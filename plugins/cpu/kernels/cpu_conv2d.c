/*
 * cpu_conv2d.c - NCHW conv2d (stride, padding, dilation, groups, bias) for
 * f32, f16 and int8 -> int32, as im2col + GEMM per (image, group) unit.
 *
 * For one unit, im2col lays the receptive fields out as a [Cg*R*S, OH*OW]
 * matrix, so the unit's output [Kg, OH*OW] is W_g [Kg, Cg*R*S] @ col. A
 * 1x1 kernel with stride 1 and no padding needs no im2col: the input image
 * already is that matrix. f16 converts in im2col (and the weights once)
 * and stages the unit's output in f32; int8 keeps int8 columns and uses
 * the int8 GEMM.
 *
 * Two schedules, so neither big nor many-small convolutions waste cores:
 * - one unit at a time, with im2col on the pool and the GEMM on OpenBLAS's
 *   threads (or the pool without OpenBLAS), for units with a big GEMM;
 * - units spread over the pool, each chunk running its units serially in
 *   its own scratch slot, when each unit's GEMM is small (depthwise and
 *   grouped convolutions, small layers). Such GEMMs run on the calling
 *   thread inside OpenBLAS too, so the thread sets do not nest.
 */
#include <stdatomic.h>
#include <string.h>
#include <xhal/xhal_half.h>

#include "cpu_kernels_internal.h"

typedef struct conv_geom {
  uint64_t n, c, h, w, k, r, s, oh, ow;
  uint64_t groups, cg, kg, crs, p;
  uint64_t sh, sw, ph, pw, dh, dw;
  int direct; /* 1x1, stride 1, no padding: X is the column matrix */
  int has_bias;
} conv_geom_t;

/* Output extent for one spatial dim; 0 when the window does not fit. */
static int out_extent(uint64_t in, uint64_t pad, uint64_t dil, uint64_t ks,
                      uint64_t stride, uint64_t* out) {
  uint64_t padded;
  uint64_t span;
  if (stride == 0 || dil == 0 || ks == 0) return 0;
  if (!cpu_mul_u64(2, pad, &padded) || in > UINT64_MAX - padded) return 0;
  padded += in;
  if (!cpu_mul_u64(dil, ks - 1, &span) || span >= padded) return 0;
  *out = (padded - span - 1) / stride + 1;
  return 1;
}

static xhal_status_t conv_geom(const xhal_plugin_op_call_t* call,
                               conv_geom_t* g) {
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  const xhal_tensor_desc_t* w = &call->inputs[1].desc;
  const xhal_tensor_desc_t* y = &call->outputs[0].desc;
  const xhal_op_attrs_t* at = &call->attrs;
  if (call->num_inputs < 2 || call->num_inputs > 3) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  if (x->rank != 4 || w->rank != 4 || y->rank != 4) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  g->n = x->dims[0];
  g->c = x->dims[1];
  g->h = x->dims[2];
  g->w = x->dims[3];
  g->k = w->dims[0];
  g->r = w->dims[2];
  g->s = w->dims[3];
  g->groups = at->groups;
  g->sh = at->stride[0];
  g->sw = at->stride[1];
  g->ph = at->padding[0];
  g->pw = at->padding[1];
  g->dh = at->dilation[0];
  g->dw = at->dilation[1];
  if (g->groups == 0 || g->c % g->groups || g->k % g->groups) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  g->cg = g->c / g->groups;
  g->kg = g->k / g->groups;
  if (w->dims[1] != g->cg || y->dims[0] != g->n || y->dims[1] != g->k ||
      !out_extent(g->h, g->ph, g->dh, g->r, g->sh, &g->oh) ||
      !out_extent(g->w, g->pw, g->dw, g->s, g->sw, &g->ow) ||
      y->dims[2] != g->oh || y->dims[3] != g->ow) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  g->has_bias = call->num_inputs == 3;
  if (g->has_bias && (call->inputs[2].desc.rank != 1 ||
                      call->inputs[2].desc.dims[0] != g->k)) {
    return XHAL_ERROR_SHAPE_MISMATCH;
  }
  /* Products of dims that exist in memory (W, Y) cannot overflow. */
  g->crs = g->cg * g->r * g->s;
  g->p = g->oh * g->ow;
  g->direct = g->r == 1 && g->s == 1 && g->sh == 1 && g->sw == 1 &&
              g->ph == 0 && g->pw == 0;
  return XHAL_OK;
}

/* --------------------------------------------------------------- im2col */

typedef struct im2col_ctx {
  const conv_geom_t* g;
  xhal_dtype_t dtype; /* of X; the columns are f32 for f16 */
  const void* x_img;  /* the group's first channel of one image */
  void* col;
} im2col_ctx_t;

/* First output column whose input column (ow*stride + off) is >= lo. */
static uint64_t first_ow(int64_t off, int64_t lo, uint64_t stride,
                         uint64_t ow) {
  int64_t need = lo - off;
  uint64_t v;
  if (need <= 0) return 0;
  v = ((uint64_t)need + stride - 1) / stride;
  return v < ow ? v : ow;
}

static void im2col_rows(void* ctx, uint64_t begin, uint64_t end) {
  const im2col_ctx_t* c = (const im2col_ctx_t*)ctx;
  const conv_geom_t* g = c->g;
  uint64_t row;
  for (row = begin; row < end; ++row) {
    uint64_t ch = row / (g->r * g->s);
    uint64_t kr = (row / g->s) % g->r;
    uint64_t ks = row % g->s;
    int64_t off_w = (int64_t)(ks * g->dw) - (int64_t)g->pw;
    uint64_t lo = first_ow(off_w, 0, g->sw, g->ow);
    uint64_t hi = first_ow(off_w, (int64_t)g->w, g->sw, g->ow);
    uint64_t base = ch * g->h * g->w;
    uint64_t oh;
    uint64_t ow;
    if (hi < lo) hi = lo;
    for (oh = 0; oh < g->oh; ++oh) {
      int64_t ih = (int64_t)(oh * g->sh + kr * g->dh) - (int64_t)g->ph;
      uint64_t dst = row * g->p + oh * g->ow;
      int inside = ih >= 0 && ih < (int64_t)g->h;
      uint64_t a = inside ? lo : g->ow;
      uint64_t b = inside ? hi : g->ow;
      uint64_t src = inside ? base + (uint64_t)ih * g->w : 0;
      /* Columns [0, a) and [b, OW) read padding; [a, b) read the image at
       * ow*stride + off_w. */
      if (c->dtype == XHAL_DTYPE_I8) {
        int8_t* d = (int8_t*)c->col + dst;
        const int8_t* x = (const int8_t*)c->x_img + src;
        memset(d, 0, (size_t)a);
        for (ow = a; ow < b; ++ow) {
          d[ow] = x[(uint64_t)((int64_t)(ow * g->sw) + off_w)];
        }
        memset(d + b, 0, (size_t)(g->ow - b));
      } else if (c->dtype == XHAL_DTYPE_F16) {
        float* d = (float*)c->col + dst;
        const uint16_t* x = (const uint16_t*)c->x_img + src;
        memset(d, 0, (size_t)a * sizeof(float));
        for (ow = a; ow < b; ++ow) {
          d[ow] =
              xhal_half_to_float(x[(uint64_t)((int64_t)(ow * g->sw) + off_w)]);
        }
        memset(d + b, 0, (size_t)(g->ow - b) * sizeof(float));
      } else {
        float* d = (float*)c->col + dst;
        const float* x = (const float*)c->x_img + src;
        memset(d, 0, (size_t)a * sizeof(float));
        if (g->sw == 1) {
          if (b > a) {
            memcpy(d + a, x + (uint64_t)((int64_t)a + off_w),
                   (size_t)(b - a) * sizeof(float));
          }
        } else {
          for (ow = a; ow < b; ++ow) {
            d[ow] = x[(uint64_t)((int64_t)(ow * g->sw) + off_w)];
          }
        }
        memset(d + b, 0, (size_t)(g->ow - b) * sizeof(float));
      }
    }
  }
}

/* ------------------------------------------------------------ epilogues */

typedef struct epi_ctx {
  const conv_geom_t* g;
  int mode;         /* EPI_* */
  const void* bias; /* the unit's first bias entry, NULL if none */
  float* f;         /* f32 rows (output or staging) */
  uint16_t* h;      /* f16 output rows */
  int32_t* i;       /* int32 output rows */
} epi_ctx_t;

enum {
  EPI_F32_BIAS = 0,  /* f[row] = bias (f32) */
  EPI_F16_BIAS = 1,  /* f[row] = bias (f16 -> f32) */
  EPI_F16_ROUND = 2, /* h[row] = round(f[row]) */
  EPI_I32_BIAS = 3   /* i[row] += bias, wrapping */
};

static void epi_rows(void* ctx, uint64_t begin, uint64_t end) {
  const epi_ctx_t* c = (const epi_ctx_t*)ctx;
  uint64_t p = c->g->p;
  uint64_t row;
  uint64_t j;
  for (row = begin; row < end; ++row) {
    switch (c->mode) {
      case EPI_F32_BIAS: {
        float v = ((const float*)c->bias)[row];
        for (j = 0; j < p; ++j) c->f[row * p + j] = v;
        break;
      }
      case EPI_F16_BIAS: {
        float v = xhal_half_to_float(((const uint16_t*)c->bias)[row]);
        for (j = 0; j < p; ++j) c->f[row * p + j] = v;
        break;
      }
      case EPI_F16_ROUND:
        for (j = 0; j < p; ++j) {
          c->h[row * p + j] = xhal_float_to_half(c->f[row * p + j]);
        }
        break;
      default: {
        uint32_t v = (uint32_t)((const int32_t*)c->bias)[row];
        for (j = 0; j < p; ++j) {
          c->i[row * p + j] = (int32_t)((uint32_t)c->i[row * p + j] + v);
        }
        break;
      }
    }
  }
}

static void epilogue(const cpu_parallel_t* par, epi_ctx_t* c) {
  cpu_par_for(par, c->g->kg, cpu_grain_for(c->g->p * 2), epi_rows, c);
}

/* ---------------------------------------------------------------- units */

typedef struct conv_job {
  conv_geom_t g;
  xhal_dtype_t dtype;
  const void* x;
  const void* w;
  const void* bias;
  void* y;
  const float* w32; /* f16: all weights in f32 */
  uint8_t* scratch; /* slots of slot_bytes: columns, then f16 staging */
  uint64_t col_bytes;
  uint64_t slot_bytes;
  uint64_t grain; /* units per chunk when units run in parallel */
  atomic_int status;
} conv_job_t;

static xhal_status_t run_unit(conv_job_t* j, uint64_t u, uint8_t* slot,
                              const cpu_parallel_t* par) {
  const conv_geom_t* g = &j->g;
  uint64_t img = u / g->groups;
  uint64_t grp = u % g->groups;
  uint64_t x_off = (img * g->c + grp * g->cg) * g->h * g->w;
  uint64_t y_off = (img * g->k + grp * g->kg) * g->p;
  uint64_t w_off = grp * g->kg * g->crs;
  uint64_t b_off = grp * g->kg;
  uint32_t xsize = xhal_dtype_size(j->dtype);
  const void* cols = (const uint8_t*)j->x + x_off * xsize;
  epi_ctx_t e;
  xhal_status_t st = XHAL_OK;
  memset(&e, 0, sizeof(e));
  e.g = g;
  if (!g->direct || j->dtype == XHAL_DTYPE_F16) {
    im2col_ctx_t ic = {g, j->dtype, cols, slot};
    cpu_par_for(par, g->crs, cpu_grain_for(g->p), im2col_rows, &ic);
    cols = slot;
  }
  if (j->dtype == XHAL_DTYPE_F32) {
    float* y = (float*)j->y + y_off;
    if (g->has_bias) {
      e.mode = EPI_F32_BIAS;
      e.bias = (const float*)j->bias + b_off;
      e.f = y;
      epilogue(par, &e);
    }
    st = cpu_sgemm(par, 0, 0, g->kg, g->p, g->crs, 1.0f,
                   (const float*)j->w + w_off, g->crs, (const float*)cols, g->p,
                   g->has_bias ? 1.0f : 0.0f, y, g->p);
  } else if (j->dtype == XHAL_DTYPE_F16) {
    float* y32 = (float*)(slot + j->col_bytes);
    if (g->has_bias) {
      e.mode = EPI_F16_BIAS;
      e.bias = (const uint16_t*)j->bias + b_off;
      e.f = y32;
      epilogue(par, &e);
    }
    st = cpu_sgemm(par, 0, 0, g->kg, g->p, g->crs, 1.0f, j->w32 + w_off, g->crs,
                   (const float*)cols, g->p, g->has_bias ? 1.0f : 0.0f, y32,
                   g->p);
    e.mode = EPI_F16_ROUND;
    e.f = y32;
    e.h = (uint16_t*)j->y + y_off;
    epilogue(par, &e);
  } else {
    int32_t* y = (int32_t*)j->y + y_off;
    cpu_igemm(par, g->kg, g->p, g->crs, (const int8_t*)j->w + w_off, g->crs,
              (const int8_t*)cols, g->p, y, g->p);
    if (g->has_bias) {
      e.mode = EPI_I32_BIAS;
      e.bias = (const int32_t*)j->bias + b_off;
      e.i = y;
      epilogue(par, &e);
    }
  }
  return st;
}

/* A chunk of units, serially, in the chunk's own scratch slot. Chunks are
 * at least `grain` units long and do not overlap, so begin / grain is a
 * slot index no other running chunk has. */
static void unit_chunk(void* ctx, uint64_t begin, uint64_t end) {
  conv_job_t* j = (conv_job_t*)ctx;
  uint8_t* slot = j->scratch + (begin / j->grain) * j->slot_bytes;
  uint64_t u;
  for (u = begin; u < end; ++u) {
    xhal_status_t st = run_unit(j, u, slot, NULL);
    if (st != XHAL_OK) atomic_store(&j->status, st);
  }
}

typedef struct w2f_ctx {
  const uint16_t* src;
  float* dst;
} w2f_ctx_t;

static void w2f_range(void* ctx, uint64_t begin, uint64_t end) {
  const w2f_ctx_t* c = (const w2f_ctx_t*)ctx;
  uint64_t i;
  for (i = begin; i < end; ++i) c->dst[i] = xhal_half_to_float(c->src[i]);
}

static uint64_t round64(uint64_t v) { return (v + 63) / 64 * 64; }

xhal_status_t cpu_op_conv2d(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], void* output,
                            const cpu_parallel_t* par) {
  conv_job_t j;
  void* scratch = NULL;
  void* w32 = NULL;
  uint64_t units;
  uint64_t slots = 1;
  uint64_t col_elems = 0;
  uint64_t work;
  uint32_t threads = cpu_par_threads(par);
  int parallel_units;
  xhal_status_t st;
  memset(&j, 0, sizeof(j));
  st = conv_geom(call, &j.g);
  if (st != XHAL_OK) return st;
  j.dtype = call->inputs[0].desc.dtype;
  j.x = inputs[0];
  j.w = inputs[1];
  j.bias = j.g.has_bias ? inputs[2] : NULL;
  j.y = output;
  atomic_init(&j.status, XHAL_OK);
  units = j.g.n * j.g.groups;

  /* Per-slot scratch: the columns, plus the f32 output staging for f16. */
  if ((!j.g.direct || j.dtype == XHAL_DTYPE_F16) &&
      !cpu_mul_u64(j.g.crs, j.g.p, &col_elems)) {
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  if (!cpu_mul_u64(col_elems, j.dtype == XHAL_DTYPE_I8 ? 1 : 4, &j.col_bytes) ||
      j.col_bytes > UINT64_MAX - 64) {
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  j.col_bytes = round64(j.col_bytes);
  j.slot_bytes = j.col_bytes;
  if (j.dtype == XHAL_DTYPE_F16) {
    j.slot_bytes += round64(j.g.kg * j.g.p * sizeof(float));
  }

  if (!cpu_mul_u64(j.g.kg * j.g.p, j.g.crs, &work)) work = UINT64_MAX;
  parallel_units = threads > 1 && units > 1 && work <= CPU_SMALL_GEMM_WORK;
  if (parallel_units) {
    j.grain = (units + threads - 1) / threads;
    slots = (units + j.grain - 1) / j.grain;
  }
  st = cpu_scratch_alloc(slots, j.slot_bytes, &scratch);
  if (st != XHAL_OK) goto cleanup;
  j.scratch = (uint8_t*)scratch;
  if (j.dtype == XHAL_DTYPE_F16) {
    w2f_ctx_t wc;
    uint64_t w_elems = cpu_numel(&call->inputs[1].desc);
    st = cpu_scratch_alloc(w_elems, sizeof(float), &w32);
    if (st != XHAL_OK) goto cleanup;
    wc.src = (const uint16_t*)inputs[1];
    wc.dst = (float*)w32;
    cpu_par_for(par, w_elems, cpu_grain_for(4), w2f_range, &wc);
    j.w32 = (const float*)w32;
  }

  if (parallel_units) {
    cpu_par_for(par, units, j.grain, unit_chunk, &j);
    st = (xhal_status_t)atomic_load(&j.status);
  } else {
    uint64_t u;
    for (u = 0; u < units && st == XHAL_OK; ++u) {
      st = run_unit(&j, u, j.scratch, par);
    }
  }
cleanup:
  cpu_scratch_free(scratch);
  cpu_scratch_free(w32);
  return st;
}
