/*
 * npu_ops_vector.c - operators on the vector unit: elementwise binary ops
 * (with the broadcasts the unit has: same shape, a trailing row, one value
 * per row, a single value), activations, softmax over the last axis and
 * layer_norm (docs/ops.md). Anything else answers XHAL_ERROR_UNSUPPORTED
 * from supports(), so the registry sends it to the CPU.
 *
 * Schedule: rows are cut into tiles that fit half of the free scratchpad;
 * two buffer sets alternate, so the DMA of tile t+1 overlaps the vector
 * work on tile t (semaphores LOAD(j) and COMP(j)). f16 data is widened to
 * f32 in the scratchpad, computed in f32 and rounded once on the way out,
 * as the catalog requires.
 */
#include <math.h>
#include <string.h>

#include "npu_internal.h"

enum { SEM_LOAD0 = 8, SEM_COMP0 = 10 };

uint32_t npu_sim_dtype(xhal_dtype_t dt) {
  switch (dt) {
    case XHAL_DTYPE_F16:
      return NPUSIM_DT_F16;
    case XHAL_DTYPE_I8:
      return NPUSIM_DT_I8;
    case XHAL_DTYPE_I32:
      return NPUSIM_DT_I32;
    default:
      return NPUSIM_DT_F32;
  }
}

uint64_t npu_numel(const xhal_tensor_desc_t* d) {
  uint64_t n = 1;
  uint32_t i;
  for (i = 0; i < d->rank && i < XHAL_MAX_RANK; ++i) {
    if (__builtin_mul_overflow(n, d->dims[i], &n)) return UINT64_MAX;
  }
  return n;
}

npusim_cmd_t npu_cmd_vec(uint32_t func, uint32_t dtype, uint32_t flags,
                         uint64_t src0, uint64_t src1, uint64_t dst,
                         uint64_t rows, uint64_t cols) {
  npusim_cmd_t c;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_VECTOR;
  c.dtype = (uint8_t)dtype;
  c.func = (uint8_t)func;
  c.flags = (uint8_t)flags;
  c.a[0] = src0;
  c.a[1] = src1;
  c.a[2] = dst;
  c.a[3] = rows;
  c.a[4] = cols;
  c.a[5] = dtype;
  return c;
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static uint64_t tensor_addr(const xhal_plugin_tensor_t* t) {
  return t->buffer->addr + t->offset;
}

/* ------------------------------------------------------- tile pipeline */

/* What one operator needs from the shared pipeline. */
typedef struct vpipe {
  npu_batch_t* b;
  uint64_t rows, cols;  /* the operator as a rows x cols matrix */
  uint64_t tile_rows;   /* rows per tile */
  uint64_t set_base[2]; /* scratchpad base of each buffer set */
  int f16;              /* data is f16 in DRAM */
  uint32_t adt;         /* arithmetic dtype: f32 or i32 */
} vpipe_t;

/* Emits a compute command of tile set j: the first of a tile waits for
 * its load, the last signals COMP(j). */
typedef struct vtile {
  vpipe_t* p;
  int j;
  int first;
  npusim_cmd_t pending;
  int has_pending;
} vtile_t;

static void vt_emit(vtile_t* t, npusim_cmd_t c) {
  if (t->has_pending) npu_emit(t->p->b, &t->pending);
  if (t->first) {
    c.wait_mask = (uint16_t)(1u << (SEM_LOAD0 + t->j));
    t->first = 0;
  }
  t->pending = c;
  t->has_pending = 1;
}

static void vt_finish(vtile_t* t) {
  if (!t->has_pending) return;
  t->pending.signal = (uint8_t)(SEM_COMP0 + t->j + 1);
  npu_emit(t->p->b, &t->pending);
  t->has_pending = 0;
}

/* Loads `rows` x `cols` elements of `src` (DRAM, contiguous) into an f32
 * (or i32) buffer `dst` of set j, widening f16 through `raw`. The last load
 * of a tile signals LOAD(j); loads into set j wait for COMP(j). */
static void load_tile(vpipe_t* p, vtile_t* t, int j, uint64_t src,
                      uint64_t count, uint64_t dst, uint64_t raw, int last) {
  uint32_t es = p->f16 ? 2 : 4;
  npusim_cmd_t c =
      npu_cmd_dma(NPUSIM_SPACE_DRAM, src, NPUSIM_SPACE_SPAD, p->f16 ? raw : dst,
                  count * es, 1, count * es, count * es);
  c.wait_mask = (uint16_t)(1u << (SEM_COMP0 + j));
  if (last) c.signal = (uint8_t)(SEM_LOAD0 + j + 1);
  npu_emit(p->b, &c);
  if (p->f16) {
    npusim_cmd_t w =
        npu_cmd_vec(NPUSIM_VF_COPY, NPUSIM_DT_F16, 0, raw, 0, dst, 1, count);
    w.a[5] = NPUSIM_DT_F32;
    /* The widening belongs to the tile's compute stream. */
    vt_emit(t, w);
  }
}

/* Rounds (f16) and stores `count` elements of `src` to DRAM `dst`. */
static void store_tile(vpipe_t* p, vtile_t* t, uint64_t src, uint64_t raw,
                       uint64_t count, uint64_t dst) {
  uint32_t es = p->f16 ? 2 : 4;
  npusim_cmd_t c;
  if (p->f16) {
    c = npu_cmd_vec(NPUSIM_VF_COPY, NPUSIM_DT_F32, 0, src, 0, raw, 1, count);
    c.a[5] = NPUSIM_DT_F16;
    vt_emit(t, c);
    src = raw;
  }
  vt_finish(t);
  c = npu_cmd_dma(NPUSIM_SPACE_SPAD, src, NPUSIM_SPACE_DRAM, dst, count * es, 1,
                  count * es, count * es);
  c.wait_mask = (uint16_t)(1u << (SEM_COMP0 + t->j));
  npu_emit(p->b, &c);
}

/* Starts a batch with a barrier: the operator owns the scratchpad. */
static xhal_status_t begin(npu_batch_t* b, xhal_plugin_stream_t s) {
  npusim_cmd_t c;
  xhal_status_t st = npu_batch_begin(b, s);
  if (st != XHAL_OK) return st;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_BARRIER;
  npu_emit(b, &c);
  return XHAL_OK;
}

/* ------------------------------------------------------------ elementwise */

typedef struct ew_plan {
  uint32_t func;
  uint32_t mode; /* NPUSIM_VB_* */
  int swap;      /* the full operand is input 1 */
  int unary;
  uint64_t rows, cols, n;
  int full_idx, small_idx;
} ew_plan_t;

/* Strips leading 1s; returns the rank left. */
static uint32_t stripped(const xhal_tensor_desc_t* d, uint64_t* dims) {
  uint32_t i = 0, r = 0;
  while (i < d->rank && d->dims[i] == 1) i++;
  for (; i < d->rank; ++i) dims[r++] = d->dims[i];
  return r;
}

/* Is `small` broadcast to `out` as one row of its trailing dims? */
static int is_row(const xhal_tensor_desc_t* small,
                  const xhal_tensor_desc_t* out) {
  uint64_t sd[XHAL_MAX_RANK];
  uint32_t r = stripped(small, sd), i;
  if (r > out->rank) return 0;
  for (i = 0; i < r; ++i) {
    if (sd[i] != out->dims[out->rank - r + i]) return 0;
  }
  return 1;
}

/* Is `small` one value per row (every dim equal to out's but the last,
 * which is 1)? */
static int is_col(const xhal_tensor_desc_t* small,
                  const xhal_tensor_desc_t* out) {
  uint32_t i, off;
  if (out->rank < 1 || small->rank > out->rank) return 0;
  off = out->rank - small->rank;
  for (i = 0; i < off; ++i) {
    if (out->dims[i] != 1) return 0;
  }
  for (i = 0; i + 1 < small->rank; ++i) {
    if (small->dims[i] != out->dims[off + i]) return 0;
  }
  return small->rank >= 1 && small->dims[small->rank - 1] == 1;
}

static uint32_t ew_func(xhal_op_t op) {
  switch (op) {
    case XHAL_OP_ADD:
      return NPUSIM_VF_ADD;
    case XHAL_OP_SUB:
      return NPUSIM_VF_SUB;
    case XHAL_OP_MUL:
      return NPUSIM_VF_MUL;
    case XHAL_OP_DIV:
      return NPUSIM_VF_DIV;
    case XHAL_OP_MAX:
      return NPUSIM_VF_MAX;
    case XHAL_OP_MIN:
      return NPUSIM_VF_MIN;
    case XHAL_OP_RELU:
      return NPUSIM_VF_RELU;
    case XHAL_OP_GELU:
      return NPUSIM_VF_GELU;
    case XHAL_OP_SIGMOID:
      return NPUSIM_VF_SIGMOID;
    case XHAL_OP_TANH:
      return NPUSIM_VF_TANH;
    case XHAL_OP_EXP:
      return NPUSIM_VF_EXP;
    default:
      return 0;
  }
}

static int ew_classify(const xhal_plugin_op_call_t* call, ew_plan_t* p) {
  const xhal_tensor_desc_t* out = &call->outputs[0].desc;
  memset(p, 0, sizeof(*p));
  p->func = ew_func(call->op);
  p->n = npu_numel(out);
  p->unary = call->num_inputs == 1;
  if (!p->func || p->n == UINT64_MAX) return 0;
  p->rows = 1;
  p->cols = p->n;
  p->mode = NPUSIM_VB_FULL;
  if (p->unary) return 1;
  {
    const xhal_tensor_desc_t* a = &call->inputs[0].desc;
    const xhal_tensor_desc_t* b = &call->inputs[1].desc;
    uint64_t na = npu_numel(a), nb = npu_numel(b);
    int i;
    for (i = 0; i < 2; ++i) {
      const xhal_tensor_desc_t* small = i ? a : b;
      uint64_t nf = i ? nb : na, ns = i ? na : nb;
      if (nf != p->n) continue;
      p->full_idx = i;
      p->small_idx = 1 - i;
      p->swap = i;
      if (ns == p->n) {
        p->mode = NPUSIM_VB_FULL;
        return 1;
      }
      if (is_row(small, out) && ns > 0) {
        p->mode = NPUSIM_VB_ROW;
        p->cols = ns;
        p->rows = p->n / ns;
        return 1;
      }
      if (is_col(small, out) && out->rank >= 1) {
        p->mode = NPUSIM_VB_COL;
        p->cols = out->dims[out->rank - 1];
        p->rows = p->cols ? p->n / p->cols : 0;
        return 1;
      }
    }
  }
  return 0;
}

/* Rows per tile and the scratchpad layout of one set; 0 if a row does not
 * fit. Per element: x, y (4 B each) and their f16 staging (2 B each);
 * shared: a broadcast row. */
static uint64_t ew_tile_rows(const ew_plan_t* p, uint64_t spad,
                             uint64_t* shared) {
  uint64_t row_bytes = p->cols * 12 + (p->mode == NPUSIM_VB_COL ? 6 : 0);
  uint64_t per_set;
  *shared = p->mode == NPUSIM_VB_ROW ? npu_align_up(p->cols * 6, NPU_ALIGN) : 0;
  if (*shared + 4 * NPU_ALIGN >= spad) return 0;
  per_set = (spad - *shared) / 2 - 4 * NPU_ALIGN;
  if (row_bytes == 0 || row_bytes > per_set) return 0;
  return per_set / row_bytes;
}

/* The longest row (ew_plan_t.cols) that both broadcast modes with a row
 * (NPUSIM_VB_ROW, NPUSIM_VB_COL) fit into `spad`; one bound for both, so
 * the declared limit (xhal_op_limits_t.max_row) is exact. */
static uint64_t ew_max_row(uint64_t spad) {
  uint64_t lo = 0, hi = spad; /* a row of cols elements takes 12*cols */
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2, shared;
    ew_plan_t row = {.mode = NPUSIM_VB_ROW, .cols = mid};
    ew_plan_t col = {.mode = NPUSIM_VB_COL, .cols = mid};
    if (ew_tile_rows(&row, spad, &shared) && ew_tile_rows(&col, spad, &shared))
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

static xhal_status_t ew_supports(void* user, xhal_plugin_device_t device,
                                 const xhal_plugin_op_call_t* call) {
  npu_ctx_t* ctx = user;
  ew_plan_t p;
  (void)device;
  if (!ew_classify(call, &p)) return XHAL_ERROR_UNSUPPORTED;
  if (p.mode == NPUSIM_VB_FULL || p.unary) return XHAL_OK; /* flat */
  return p.cols <= ctx->lim_binary.max_row ? XHAL_OK : XHAL_ERROR_UNSUPPORTED;
}

static xhal_status_t ew_enqueue(void* user, xhal_plugin_stream_t s,
                                const xhal_plugin_op_call_t* call) {
  npu_dev_t* dev = s->dev;
  npu_batch_t b;
  vpipe_t p;
  ew_plan_t e;
  uint64_t shared, tr, r0, x[2], y[2], raw[2], rawy[2], es, big, small = 0;
  uint64_t out;
  xhal_status_t st;
  int t = 0;
  (void)user;
  if (!ew_classify(call, &e)) return XHAL_ERROR_UNSUPPORTED;
  if (e.n == 0) return XHAL_OK;
  if (e.mode == NPUSIM_VB_FULL) {
    /* Flat: view as rows of up to 4096 elements, fewer on a small
     * scratchpad. */
    e.cols = e.n < 4096 ? e.n : 4096;
    while (e.cols > 1 && !ew_tile_rows(&e, dev->spad_bytes, &shared)) {
      e.cols /= 2;
    }
    e.rows = (e.n + e.cols - 1) / e.cols;
  }
  tr = ew_tile_rows(&e, dev->spad_bytes, &shared);
  if (tr == 0) return XHAL_ERROR_UNSUPPORTED;
  memset(&p, 0, sizeof(p));
  p.f16 = call->outputs[0].desc.dtype == XHAL_DTYPE_F16;
  p.adt = call->outputs[0].desc.dtype == XHAL_DTYPE_I32 ? NPUSIM_DT_I32
                                                        : NPUSIM_DT_F32;
  es = p.f16 ? 2 : 4;
  {
    uint64_t per_set = (dev->spad_bytes - shared) / 2;
    int j;
    for (j = 0; j < 2; ++j) {
      uint64_t base = shared + (uint64_t)j * per_set;
      x[j] = base;
      y[j] = npu_align_up(x[j] + tr * e.cols * 4, NPU_ALIGN);
      raw[j] = npu_align_up(y[j] + tr * e.cols * 4, NPU_ALIGN);
      rawy[j] = npu_align_up(raw[j] + tr * e.cols * 2, NPU_ALIGN);
    }
  }
  big = tensor_addr(&call->inputs[e.unary ? 0 : e.full_idx]);
  if (!e.unary) small = tensor_addr(&call->inputs[e.small_idx]);
  out = tensor_addr(&call->outputs[0]);
  st = begin(&b, s);
  if (st != XHAL_OK) return st;
  p.b = &b;
  if (e.mode == NPUSIM_VB_ROW) {
    /* The broadcast row is loaded once, widened once. */
    npusim_cmd_t c = npu_cmd_dma(NPUSIM_SPACE_DRAM, small, NPUSIM_SPACE_SPAD,
                                 p.f16 ? e.cols * 4 : 0, e.cols * es, 1,
                                 e.cols * es, e.cols * es);
    npu_emit(&b, &c);
    if (p.f16) {
      c = npu_cmd_vec(NPUSIM_VF_COPY, NPUSIM_DT_F16, 0, e.cols * 4, 0, 0, 1,
                      e.cols);
      c.a[5] = NPUSIM_DT_F32;
      npu_emit(&b, &c);
    }
    memset(&c, 0, sizeof(c));
    c.opcode = NPUSIM_OP_BARRIER;
    npu_emit(&b, &c);
  }
  for (r0 = 0; r0 < e.rows; r0 += tr, ++t) {
    uint64_t rows = e.rows - r0 < tr ? e.rows - r0 : tr;
    uint64_t first = r0 * e.cols;
    uint64_t count = rows * e.cols;
    vtile_t vt;
    int j = t & 1;
    npusim_cmd_t c;
    if (first + count > e.n) count = e.n - first; /* flat tail */
    memset(&vt, 0, sizeof(vt));
    vt.p = &p;
    vt.j = j;
    vt.first = 1;
    load_tile(&p, &vt, j, big + first * es, count, x[j], raw[j],
              e.unary || e.mode == NPUSIM_VB_ROW);
    if (!e.unary && e.mode == NPUSIM_VB_FULL) {
      load_tile(&p, &vt, j, small + first * es, count, y[j], rawy[j], 1);
    } else if (!e.unary && e.mode == NPUSIM_VB_COL) {
      load_tile(&p, &vt, j, small + r0 * es, rows, y[j], rawy[j], 1);
    }
    if (e.unary) {
      c = npu_cmd_vec(e.func, p.adt, 0, x[j], 0, x[j], 1, count);
    } else {
      uint64_t src1 = e.mode == NPUSIM_VB_ROW ? 0 : y[j];
      uint64_t r = e.mode == NPUSIM_VB_FULL ? 1 : rows;
      uint64_t cl = e.mode == NPUSIM_VB_FULL ? count : e.cols;
      c = npu_cmd_vec(e.func, p.adt, e.mode | (e.swap ? NPUSIM_VF_SWAP : 0u),
                      x[j], src1, x[j], r, cl);
    }
    vt_emit(&vt, c);
    store_tile(&p, &vt, x[j], raw[j], count, out + first * es);
  }
  return npu_batch_end(&b);
}

/* ------------------------------------------------- softmax, layer_norm */

/* Rows x D view of a softmax over `axis` or a layer_norm over the last
 * dim; 0 when the axis is not the innermost non-trivial dim. */
static int rows_view(const xhal_plugin_op_call_t* call, uint64_t* rows,
                     uint64_t* d) {
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  int32_t axis = call->op == XHAL_OP_SOFTMAX ? call->attrs.axis : -1;
  uint32_t i;
  uint64_t n = npu_numel(x);
  if (x->rank < 1 || n == UINT64_MAX) return 0;
  if (axis < 0) axis += (int32_t)x->rank;
  if (axis < 0 || (uint32_t)axis >= x->rank) return 0;
  for (i = (uint32_t)axis + 1; i < x->rank; ++i) {
    if (x->dims[i] != 1) return 0; /* strided rows: left to the CPU */
  }
  *d = x->dims[axis];
  *rows = *d ? n / *d : 0;
  return 1;
}

/* Per set: x, t (4 B each), raw (2 B) per element + two stats per row;
 * shared: gamma and beta rows (f32 + raw). */
static uint64_t norm_tile_rows(uint64_t d, uint64_t spad, uint64_t* shared) {
  uint64_t per_set;
  *shared = 2 * npu_align_up(d * 6, NPU_ALIGN);
  if (*shared + 8 * NPU_ALIGN >= spad) return 0;
  per_set = (spad - *shared) / 2 - 8 * NPU_ALIGN;
  if (d == 0 || d * 10 + 8 > per_set) return 0;
  return per_set / (d * 10 + 8);
}

/* The longest row norm_tile_rows fits into `spad`. */
static uint64_t norm_max_row(uint64_t spad) {
  uint64_t lo = 0, hi = spad;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2, shared;
    if (norm_tile_rows(mid, spad, &shared))
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

static xhal_status_t norm_supports(void* user, xhal_plugin_device_t device,
                                   const xhal_plugin_op_call_t* call) {
  npu_ctx_t* ctx = user;
  uint64_t rows, d;
  (void)device;
  if (!rows_view(call, &rows, &d)) return XHAL_ERROR_UNSUPPORTED;
  if (d == 0 || rows == 0) return XHAL_OK;
  return d <= ctx->lim_norm.max_row ? XHAL_OK : XHAL_ERROR_UNSUPPORTED;
}

static xhal_status_t norm_enqueue(void* user, xhal_plugin_stream_t s,
                                  const xhal_plugin_op_call_t* call) {
  npu_dev_t* dev = s->dev;
  npu_batch_t b;
  vpipe_t p;
  uint64_t rows, d, shared, tr, r0, es, in, out, gamma = 0, beta = 0;
  uint64_t x[2], tt[2], raw[2], st1[2], st2[2];
  int softmax = call->op == XHAL_OP_SOFTMAX, t = 0, j;
  int has_gamma = !softmax && call->num_inputs > 1;
  int has_beta = !softmax && call->num_inputs > 2;
  xhal_status_t st;
  (void)user;
  if (!rows_view(call, &rows, &d)) return XHAL_ERROR_UNSUPPORTED;
  if (rows == 0 || d == 0) return XHAL_OK;
  tr = norm_tile_rows(d, dev->spad_bytes, &shared);
  if (tr == 0) return XHAL_ERROR_UNSUPPORTED;
  memset(&p, 0, sizeof(p));
  p.f16 = call->inputs[0].desc.dtype == XHAL_DTYPE_F16;
  p.adt = NPUSIM_DT_F32;
  es = p.f16 ? 2 : 4;
  gamma = 0;
  beta = npu_align_up(d * 6, NPU_ALIGN);
  for (j = 0; j < 2; ++j) {
    uint64_t base = shared + (uint64_t)j * ((dev->spad_bytes - shared) / 2);
    x[j] = npu_align_up(base, NPU_ALIGN);
    tt[j] = npu_align_up(x[j] + tr * d * 4, NPU_ALIGN);
    raw[j] = npu_align_up(tt[j] + tr * d * 4, NPU_ALIGN);
    st1[j] = npu_align_up(raw[j] + tr * d * 2, NPU_ALIGN);
    st2[j] = npu_align_up(st1[j] + tr * 4, NPU_ALIGN);
  }
  in = tensor_addr(&call->inputs[0]);
  out = tensor_addr(&call->outputs[0]);
  st = begin(&b, s);
  if (st != XHAL_OK) return st;
  p.b = &b;
  /* gamma/beta: loaded and widened once, before the row tiles. */
  for (j = 0; j < 2; ++j) {
    int present = j == 0 ? has_gamma : has_beta;
    uint64_t dst = j == 0 ? gamma : beta;
    npusim_cmd_t c;
    if (!present) continue;
    c = npu_cmd_dma(NPUSIM_SPACE_DRAM, tensor_addr(&call->inputs[1 + j]),
                    NPUSIM_SPACE_SPAD, p.f16 ? dst + d * 4 : dst, d * es, 1,
                    d * es, d * es);
    npu_emit(&b, &c);
    if (p.f16) {
      c = npu_cmd_vec(NPUSIM_VF_COPY, NPUSIM_DT_F16, 0, dst + d * 4, 0, dst, 1,
                      d);
      c.a[5] = NPUSIM_DT_F32;
      npu_emit(&b, &c);
    }
  }
  if (has_gamma) {
    npusim_cmd_t c;
    memset(&c, 0, sizeof(c));
    c.opcode = NPUSIM_OP_BARRIER;
    npu_emit(&b, &c);
  }
  for (r0 = 0; r0 < rows; r0 += tr, ++t) {
    uint64_t n = rows - r0 < tr ? rows - r0 : tr;
    vtile_t vt;
    npusim_cmd_t c;
    j = t & 1;
    memset(&vt, 0, sizeof(vt));
    vt.p = &p;
    vt.j = j;
    vt.first = 1;
    load_tile(&p, &vt, j, in + r0 * d * es, n * d, x[j], raw[j], 1);
    if (softmax) {
      /* y = exp(x - max) / sum(exp(x - max)) */
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_ROW_MAX, NPUSIM_DT_F32, 0, x[j], 0,
                               st1[j], n, d));
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_SUB, NPUSIM_DT_F32, NPUSIM_VB_COL,
                               x[j], st1[j], x[j], n, d));
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_EXP, NPUSIM_DT_F32, 0, x[j], 0, x[j],
                               n, d));
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_ROW_SUM, NPUSIM_DT_F32, 0, x[j], 0,
                               st1[j], n, d));
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_DIV, NPUSIM_DT_F32, NPUSIM_VB_COL,
                               x[j], st1[j], x[j], n, d));
    } else {
      float inv_d = (float)(1.0 / (double)d);
      /* mean = sum(x) / D; xc = x - mean */
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_ROW_SUM, NPUSIM_DT_F32, 0, x[j], 0,
                               st1[j], n, d));
      c = npu_cmd_vec(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_SCALAR, st1[j], 0,
                      st1[j], 1, n);
      c.a[6] = f32_bits(inv_d);
      vt_emit(&vt, c);
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_SUB, NPUSIM_DT_F32, NPUSIM_VB_COL,
                               x[j], st1[j], x[j], n, d));
      /* The f32 mean of a row far from zero is off by half an ulp of it
       * and more (the sum's rounding), which would shift every xc alike:
       * take the mean of xc (exact differences when x is near its mean)
       * and remove it as well. */
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_ROW_SUM, NPUSIM_DT_F32, 0, x[j], 0,
                               st1[j], n, d));
      c = npu_cmd_vec(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_SCALAR, st1[j], 0,
                      st1[j], 1, n);
      c.a[6] = f32_bits(inv_d);
      vt_emit(&vt, c);
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_SUB, NPUSIM_DT_F32, NPUSIM_VB_COL,
                               x[j], st1[j], x[j], n, d));
      /* var = sum(xc^2) / D; r = 1 / sqrt(var + eps) */
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_FULL,
                               x[j], x[j], tt[j], n, d));
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_ROW_SUM, NPUSIM_DT_F32, 0, tt[j], 0,
                               st2[j], n, d));
      c = npu_cmd_vec(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_SCALAR, st2[j], 0,
                      st2[j], 1, n);
      c.a[6] = f32_bits(inv_d);
      vt_emit(&vt, c);
      c = npu_cmd_vec(NPUSIM_VF_ADD, NPUSIM_DT_F32, NPUSIM_VB_SCALAR, st2[j], 0,
                      st2[j], 1, n);
      c.a[6] = f32_bits(call->attrs.epsilon);
      vt_emit(&vt, c);
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_RSQRT, NPUSIM_DT_F32, 0, st2[j], 0,
                               st2[j], 1, n));
      vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_COL,
                               x[j], st2[j], x[j], n, d));
      if (has_gamma) {
        vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_ROW,
                                 x[j], gamma, x[j], n, d));
      }
      if (has_beta) {
        vt_emit(&vt, npu_cmd_vec(NPUSIM_VF_ADD, NPUSIM_DT_F32, NPUSIM_VB_ROW,
                                 x[j], beta, x[j], n, d));
      }
    }
    store_tile(&p, &vt, x[j], raw[j], n * d, out + r0 * d * es);
  }
  return npu_batch_end(&b);
}

/* ----------------------------------------------------------- registration */

static xhal_status_t reg(
    npu_ctx_t* ctx, xhal_op_t op, const char* name, const xhal_dtype_t* dtypes,
    uint32_t num_dtypes, const xhal_op_limits_t* limits,
    xhal_status_t (*supports)(void*, xhal_plugin_device_t,
                              const xhal_plugin_op_call_t*),
    xhal_status_t (*enqueue)(void*, xhal_plugin_stream_t,
                             const xhal_plugin_op_call_t*)) {
  xhal_plugin_op_impl_t impl;
  memset(&impl, 0, sizeof(impl));
  impl.struct_size = (uint32_t)sizeof(impl);
  impl.op = op;
  impl.device_index = XHAL_PLUGIN_ALL_DEVICES;
  impl.priority = 100;
  impl.num_dtypes = num_dtypes;
  memcpy(impl.dtypes, dtypes, num_dtypes * sizeof(xhal_dtype_t));
  impl.name = name;
  impl.user_data = ctx;
  impl.supports = supports;
  impl.enqueue = enqueue;
  impl.limits = limits;
  return ctx->host->register_op_impl(ctx->host->host_context, &impl);
}

xhal_status_t npu_register_vector_ops(npu_ctx_t* ctx) {
  static const xhal_op_t kBinary[] = {XHAL_OP_ADD, XHAL_OP_SUB, XHAL_OP_MUL,
                                      XHAL_OP_DIV, XHAL_OP_MAX, XHAL_OP_MIN};
  static const xhal_op_t kUnary[] = {
      XHAL_OP_RELU, XHAL_OP_GELU, XHAL_OP_SIGMOID, XHAL_OP_TANH, XHAL_OP_EXP};
  static const xhal_dtype_t kFp[2] = {XHAL_DTYPE_F32, XHAL_DTYPE_F16};
  size_t i;
  int f;
  xhal_status_t st = XHAL_OK;
  uint64_t norm_row = norm_max_row(ctx->cfg.spad_bytes);
  /* Binary ops: the unit's broadcasts (ew_classify); a row or column
   * broadcast keeps a whole row in the scratchpad. */
  ctx->lim_binary.struct_size = (uint32_t)sizeof(xhal_op_limits_t);
  ctx->lim_binary.flags = XHAL_OP_LIMIT_BROADCASTS | XHAL_OP_LIMIT_ROW;
  ctx->lim_binary.broadcasts = XHAL_BROADCAST_SAME | XHAL_BROADCAST_SCALAR |
                               XHAL_BROADCAST_ROW | XHAL_BROADCAST_COLUMN;
  ctx->lim_binary.max_row = ew_max_row(ctx->cfg.spad_bytes);
  /* Unary ops run flat over any size: declared, with no limit. */
  ctx->lim_unary.struct_size = (uint32_t)sizeof(xhal_op_limits_t);
  /* softmax: contiguous rows only (rows_view); layer_norm always is. */
  ctx->lim_softmax.struct_size = (uint32_t)sizeof(xhal_op_limits_t);
  ctx->lim_softmax.flags = XHAL_OP_LIMIT_AXES | XHAL_OP_LIMIT_ROW;
  ctx->lim_softmax.axes = XHAL_AXIS_INNERMOST;
  ctx->lim_softmax.max_row = norm_row;
  ctx->lim_norm.struct_size = (uint32_t)sizeof(xhal_op_limits_t);
  ctx->lim_norm.flags = XHAL_OP_LIMIT_ROW;
  ctx->lim_norm.max_row = norm_row;
  for (f = 0; f < 2 && st == XHAL_OK; ++f) {
    xhal_dtype_t dt = kFp[f];
    xhal_dtype_t bin[3] = {dt, dt, dt}, un[2] = {dt, dt};
    xhal_dtype_t ln[4] = {dt, dt, dt, dt};
    for (i = 0; i < sizeof(kBinary) / sizeof(kBinary[0]) && st == XHAL_OK;
         ++i) {
      st = reg(ctx, kBinary[i], f ? "npu.binary.f16" : "npu.binary.f32", bin, 3,
               &ctx->lim_binary, ew_supports, ew_enqueue);
    }
    for (i = 0; i < sizeof(kUnary) / sizeof(kUnary[0]) && st == XHAL_OK; ++i) {
      st = reg(ctx, kUnary[i], f ? "npu.unary.f16" : "npu.unary.f32", un, 2,
               &ctx->lim_unary, ew_supports, ew_enqueue);
    }
    if (st == XHAL_OK) {
      st = reg(ctx, XHAL_OP_SOFTMAX, f ? "npu.softmax.f16" : "npu.softmax.f32",
               un, 2, &ctx->lim_softmax, norm_supports, norm_enqueue);
    }
    if (st == XHAL_OK) {
      st = reg(ctx, XHAL_OP_LAYER_NORM,
               f ? "npu.layer_norm.f16" : "npu.layer_norm.f32", ln, 4,
               &ctx->lim_norm, norm_supports, norm_enqueue);
    }
  }
  for (i = 0; i < sizeof(kBinary) / sizeof(kBinary[0]) && st == XHAL_OK; ++i) {
    xhal_dtype_t i32[3] = {XHAL_DTYPE_I32, XHAL_DTYPE_I32, XHAL_DTYPE_I32};
    if (kBinary[i] == XHAL_OP_DIV) continue;
    st = reg(ctx, kBinary[i], "npu.binary.i32", i32, 3, &ctx->lim_binary,
             ew_supports, ew_enqueue);
  }
  return st;
}

xhal_status_t npu_register_ops(npu_ctx_t* ctx) {
  xhal_status_t st = npu_register_matmul(ctx);
  if (st == XHAL_OK) st = npu_register_conv2d(ctx);
  if (st == XHAL_OK) st = npu_register_vector_ops(ctx);
  return st;
}
