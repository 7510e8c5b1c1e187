/*
 * npu_ops_conv.c - conv2d on the systolic array by im2col (docs/ops.md
 * "conv2d", docs/npu.md "conv2d").
 *
 * Per image and group the convolution is the GEMM
 *     Y_g[Kg, P] = W_g[Kg, Cg*R*S] . col[Cg*R*S, P],   P = OH * OW,
 * whose output rows are already NCHW. The col matrix is never built in
 * DRAM: each tile of it is gathered straight into the scratchpad by the
 * DMA engine, one strided 2-D transfer per (c, r, s) row of the tile (the
 * element stride is the convolution stride, the row stride stride_h * W),
 * after a zero fill when padding leaves part of the tile outside the
 * image. Output tiles cover whole output rows when they fit, so each of
 * those transfers covers the tile at once. Loads of slice k+1 overlap the
 * GEMM of slice k, as in matmul; the bias (one value per output channel)
 * is added on the vector unit with column broadcast.
 */
#include <string.h>

#include "npu_internal.h"

enum {
  SEM_LOAD0 = 0,
  SEM_GEMM0 = 2,
  SEM_ACC_FREE = 4,
  SEM_EPI = 5,
  SEM_EPI_LOAD = 6,
};

typedef struct conv_plan {
  uint64_t n, c, h, w, k, r, s, oh, ow, groups, cg, kg, crs, p;
  uint64_t sh, sw, ph, pw, dh, dw;
  uint32_t dt, es, oes, adt;
  int f16, has_bias, padded;
  /* Tiles: tm filters x (nrows x ncols output pixels), tk of C*R*S. */
  uint64_t tm, tk, nrows, ncols, tn;
  uint64_t a[2], b[2], acc, raw, bias, biasraw, end;
} conv_plan_t;

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static uint64_t layout(conv_plan_t* p) {
  uint64_t off = 0;
  int j;
  for (j = 0; j < 2; ++j) {
    p->a[j] = off;
    off = npu_align_up(off + p->tm * p->tk * p->es, NPU_ALIGN);
    p->b[j] = off;
    off = npu_align_up(off + p->tk * p->tn * p->es, NPU_ALIGN);
  }
  p->acc = off;
  off = npu_align_up(off + p->tm * p->tn * 4, NPU_ALIGN);
  p->raw = off;
  off = npu_align_up(off + p->tm * p->tn * 2, NPU_ALIGN);
  p->bias = off;
  off = npu_align_up(off + p->tm * 4, NPU_ALIGN);
  p->biasraw = off;
  off = npu_align_up(off + p->tm * 2, NPU_ALIGN);
  p->end = off;
  return off;
}

/* Fills the plan; 0 when the call cannot run here (strides too wide for
 * the DMA descriptor, or nothing fits the scratchpad). */
static int make_plan(const xhal_plugin_op_call_t* call, uint64_t spad,
                     conv_plan_t* p) {
  static const uint64_t kTiles[] = {512, 256, 128, 64, 32, 16, 8, 4, 2, 1};
  static const uint64_t kSlices[] = {512, 256, 128, 64, 32, 16, 8, 4, 2, 1};
  const xhal_tensor_desc_t* x = &call->inputs[0].desc;
  const xhal_tensor_desc_t* wd = &call->inputs[1].desc;
  const xhal_op_attrs_t* at = &call->attrs;
  size_t i, j;
  memset(p, 0, sizeof(*p));
  if (x->rank != 4 || wd->rank != 4 || call->outputs[0].desc.rank != 4) {
    return 0;
  }
  p->n = x->dims[0];
  p->c = x->dims[1];
  p->h = x->dims[2];
  p->w = x->dims[3];
  p->k = wd->dims[0];
  p->r = wd->dims[2];
  p->s = wd->dims[3];
  p->oh = call->outputs[0].desc.dims[2];
  p->ow = call->outputs[0].desc.dims[3];
  p->groups = at->groups ? at->groups : 1;
  p->sh = at->stride[0];
  p->sw = at->stride[1];
  p->ph = at->padding[0];
  p->pw = at->padding[1];
  p->dh = at->dilation[0];
  p->dw = at->dilation[1];
  p->cg = p->c / p->groups;
  p->kg = p->k / p->groups;
  p->crs = p->cg * p->r * p->s;
  p->p = p->oh * p->ow;
  p->dt = npu_sim_dtype(x->dtype);
  p->es = xhal_dtype_size(x->dtype);
  p->oes = xhal_dtype_size(call->outputs[0].desc.dtype);
  p->f16 = x->dtype == XHAL_DTYPE_F16;
  p->adt = x->dtype == XHAL_DTYPE_I8 ? NPUSIM_DT_I32 : NPUSIM_DT_F32;
  p->has_bias = call->num_inputs > 2;
  p->padded = p->ph || p->pw;
  if (!p->es || !p->oes || !p->sh || !p->sw || !p->dh || !p->dw) return 0;
  /* Every byte stride a descriptor carries must fit in 32 bits. */
  if (p->sh * p->w * p->es > UINT32_MAX || p->crs * p->es > UINT32_MAX ||
      p->p * p->oes > UINT32_MAX || p->sw * p->es > UINT32_MAX ||
      p->h * p->w > UINT32_MAX) {
    return 0;
  }
  for (i = 0; i < sizeof(kTiles) / sizeof(kTiles[0]); ++i) {
    for (j = 0; j < sizeof(kSlices) / sizeof(kSlices[0]); ++j) {
      uint64_t tn = kTiles[i];
      p->tm = min_u64(p->kg ? p->kg : 1, kTiles[i]);
      p->tk = min_u64(p->crs ? p->crs : 1, kSlices[j]);
      if (p->ow <= tn) {
        p->ncols = p->ow ? p->ow : 1;
        p->nrows = min_u64(tn / p->ncols, p->oh ? p->oh : 1);
      } else {
        p->ncols = tn;
        p->nrows = 1;
      }
      p->tn = p->ncols * p->nrows;
      if (layout(p) <= spad) return 1;
    }
  }
  return 0;
}

static xhal_status_t conv_supports(void* user, xhal_plugin_device_t device,
                                   const xhal_plugin_op_call_t* call) {
  npu_ctx_t* ctx = user;
  conv_plan_t p;
  (void)device;
  if (!call || call->num_inputs < 2 || call->num_outputs != 1) {
    return XHAL_ERROR_UNSUPPORTED;
  }
  return make_plan(call, ctx->cfg.spad_bytes, &p) ? XHAL_OK
                                                  : XHAL_ERROR_UNSUPPORTED;
}

static void emit_ws(npu_batch_t* b, npusim_cmd_t c, uint16_t wait, int signal) {
  c.wait_mask = wait;
  c.signal = (uint8_t)(signal < 0 ? 0 : signal + 1);
  npu_emit(b, &c);
}

/* Valid output range [lo, hi) within [o0, o0 + count) for kernel offset
 * `off` (= r * dil - pad): the outputs whose input index o*stride + off
 * lies in [0, extent). */
static void valid_range(uint64_t o0, uint64_t count, uint64_t stride,
                        int64_t off, uint64_t extent, uint64_t* lo,
                        uint64_t* hi) {
  int64_t first = 0, last;
  /* smallest o with o*stride + off >= 0 */
  if (off < 0) first = (-off + (int64_t)stride - 1) / (int64_t)stride;
  /* largest o with o*stride + off <= extent - 1 */
  last = ((int64_t)extent - 1 - off) < 0
             ? -1
             : ((int64_t)extent - 1 - off) / (int64_t)stride;
  *lo = (uint64_t)(first > (int64_t)o0 ? first : (int64_t)o0);
  *hi = last + 1 < (int64_t)(o0 + count) ? (uint64_t)(last + 1) : o0 + count;
  if (*hi < *lo) *hi = *lo;
}

/* Gathers slice [k0, k0 + tk) of the col matrix for the output rectangle
 * (oh0, nrows, ow0, ncols) of image n, group g into set j. */
static void emit_gather(npu_batch_t* b, const conv_plan_t* p, uint64_t xbase,
                        uint64_t n, uint64_t g, uint64_t k0, uint64_t tk,
                        uint64_t oh0, uint64_t ow0, int j) {
  uint64_t q, tn = p->tn, es = p->es;
  uint16_t gemm_done = (uint16_t)(1u << (SEM_GEMM0 + j));
  npusim_cmd_t c;
  if (p->padded) { /* positions outside the image read zero */
    memset(&c, 0, sizeof(c));
    c.opcode = NPUSIM_OP_FILL;
    c.func = NPUSIM_SPACE_SPAD;
    c.a[0] = p->b[j];
    c.a[1] = tk * tn * es;
    c.a[3] = 1;
    emit_ws(b, c, gemm_done, -1);
  }
  for (q = k0; q < k0 + tk; ++q) {
    uint64_t ci = q / (p->r * p->s), rs = q % (p->r * p->s);
    uint64_t ri = rs / p->s, si = rs % p->s;
    int64_t offh = (int64_t)(ri * p->dh) - (int64_t)p->ph;
    int64_t offw = (int64_t)(si * p->dw) - (int64_t)p->pw;
    uint64_t oh_lo, oh_hi, ow_lo, ow_hi;
    int last = q + 1 == k0 + tk;
    valid_range(oh0, p->nrows, p->sh, offh, p->h, &oh_lo, &oh_hi);
    valid_range(ow0, p->ncols, p->sw, offw, p->w, &ow_lo, &ow_hi);
    if (oh_lo == oh_hi || ow_lo == ow_hi) {
      if (last) { /* nothing to move, but the slice must still signal */
        memset(&c, 0, sizeof(c));
        c.opcode = NPUSIM_OP_FILL;
        c.func = NPUSIM_SPACE_SPAD;
        c.a[0] = p->b[j];
        c.a[1] = 0;
        c.a[3] = 1;
        emit_ws(b, c, gemm_done, SEM_LOAD0 + j);
      }
      continue;
    }
    {
      uint64_t ih = (uint64_t)((int64_t)(oh_lo * p->sh) + offh);
      uint64_t iw = (uint64_t)((int64_t)(ow_lo * p->sw) + offw);
      uint64_t src =
          xbase + (((n * p->c + g * p->cg + ci) * p->h + ih) * p->w + iw) * es;
      uint64_t dst =
          p->b[j] +
          ((q - k0) * tn + (oh_lo - oh0) * p->ncols + (ow_lo - ow0)) * es;
      memset(&c, 0, sizeof(c));
      c.opcode = NPUSIM_OP_DMA;
      c.func = (uint8_t)(NPUSIM_SPACE_DRAM | NPUSIM_SPACE_SPAD << 4);
      c.a[0] = src;
      c.a[1] = dst;
      c.a[2] = es | (ow_hi - ow_lo) << 32;
      c.a[3] = oh_hi - oh_lo;
      c.a[4] = (p->sw * es) | (p->sh * p->w * es) << 32;
      c.a[5] = es | (p->ncols * es) << 32;
      emit_ws(b, c, gemm_done, last ? SEM_LOAD0 + j : -1);
    }
  }
}

static void emit_tile(npu_batch_t* b, const conv_plan_t* p, uint64_t xbase,
                      uint64_t wbase, uint64_t ybase, uint64_t biasbase,
                      uint64_t n, uint64_t g, uint64_t m0, uint64_t tm,
                      uint64_t oh0, uint64_t ow0, uint64_t tn) {
  uint64_t nk = (p->crs + p->tk - 1) / p->tk, kk;
  uint64_t p0 = oh0 * p->ow + ow0;
  int acc_sem = SEM_GEMM0 + (int)((nk - 1) & 1), ne = 0, i;
  npusim_cmd_t c, epi[3];
  uint64_t out = p->acc;
  for (kk = 0; kk < nk; ++kk) {
    uint64_t k0 = kk * p->tk, tk = min_u64(p->tk, p->crs - k0);
    int j = (int)(kk & 1);
    c = npu_cmd_dma(
        NPUSIM_SPACE_DRAM, wbase + ((g * p->kg + m0) * p->crs + k0) * p->es,
        NPUSIM_SPACE_SPAD, p->a[j], tk * p->es, tm, p->crs * p->es, tk * p->es);
    emit_ws(b, c, (uint16_t)(1u << (SEM_GEMM0 + j)), -1);
    emit_gather(b, p, xbase, n, g, k0, tk, oh0, ow0, j);
    memset(&c, 0, sizeof(c));
    c.opcode = NPUSIM_OP_GEMM;
    c.dtype = (uint8_t)p->dt;
    c.flags = (uint8_t)(kk ? NPUSIM_GEMM_ACCUMULATE : 0u);
    c.a[0] = p->a[j];
    c.a[1] = p->b[j];
    c.a[2] = p->acc;
    c.a[3] = tm;
    c.a[4] = tk;
    c.a[5] = tn;
    emit_ws(b, c,
            (uint16_t)((1u << (SEM_LOAD0 + j)) |
                       (kk == 0 ? 1u << SEM_ACC_FREE : 0u)),
            SEM_GEMM0 + j);
  }
  if (p->has_bias) {
    uint32_t bes = p->f16 ? 2 : 4;
    c = npu_cmd_dma(NPUSIM_SPACE_DRAM, biasbase + (g * p->kg + m0) * bes,
                    NPUSIM_SPACE_SPAD, p->f16 ? p->biasraw : p->bias, tm * bes,
                    1, tm * bes, tm * bes);
    emit_ws(b, c, 1u << SEM_EPI, SEM_EPI_LOAD);
    if (p->f16) {
      epi[ne] = npu_cmd_vec(NPUSIM_VF_COPY, NPUSIM_DT_F16, 0, p->biasraw, 0,
                            p->bias, 1, tm);
      epi[ne++].a[5] = NPUSIM_DT_F32;
    }
    epi[ne++] = npu_cmd_vec(NPUSIM_VF_ADD, p->adt, NPUSIM_VB_COL, p->acc,
                            p->bias, p->acc, tm, tn);
  }
  if (p->f16) {
    epi[ne] = npu_cmd_vec(NPUSIM_VF_COPY, NPUSIM_DT_F32, 0, p->acc, 0, p->raw,
                          1, tm * tn);
    epi[ne++].a[5] = NPUSIM_DT_F16;
    out = p->raw;
  }
  for (i = 0; i < ne; ++i) {
    uint16_t wait = 0;
    if (i == 0) {
      wait =
          (uint16_t)((1u << acc_sem) | (p->has_bias ? 1u << SEM_EPI_LOAD : 0u));
    }
    emit_ws(b, epi[i], wait, i == ne - 1 ? SEM_EPI : -1);
  }
  c = npu_cmd_dma(NPUSIM_SPACE_SPAD, out, NPUSIM_SPACE_DRAM,
                  ybase + ((n * p->k + g * p->kg + m0) * p->p + p0) * p->oes,
                  tn * p->oes, tm, tn * p->oes, p->p * p->oes);
  emit_ws(b, c, (uint16_t)(1u << (ne ? SEM_EPI : acc_sem)), SEM_ACC_FREE);
}

static xhal_status_t conv_enqueue(void* user, xhal_plugin_stream_t stream,
                                  const xhal_plugin_op_call_t* call) {
  npu_dev_t* dev = stream->dev;
  npu_batch_t b;
  conv_plan_t p;
  npusim_cmd_t c;
  uint64_t xbase, wbase, ybase, biasbase = 0, n, g, m0, oh0, ow0;
  xhal_status_t st;
  (void)user;
  if (!make_plan(call, dev->spad_bytes, &p)) return XHAL_ERROR_UNSUPPORTED;
  if (p.n == 0 || p.k == 0 || p.p == 0) return XHAL_OK;
  xbase = call->inputs[0].buffer->addr + call->inputs[0].offset;
  wbase = call->inputs[1].buffer->addr + call->inputs[1].offset;
  ybase = call->outputs[0].buffer->addr + call->outputs[0].offset;
  if (p.has_bias) {
    biasbase = call->inputs[2].buffer->addr + call->inputs[2].offset;
  }
  st = npu_batch_begin(&b, stream);
  if (st != XHAL_OK) return st;
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_BARRIER;
  npu_emit(&b, &c);
  for (n = 0; n < p.n; ++n) {
    for (g = 0; g < p.groups; ++g) {
      for (m0 = 0; m0 < p.kg; m0 += p.tm) {
        uint64_t tm = min_u64(p.tm, p.kg - m0);
        for (oh0 = 0; oh0 < p.oh; oh0 += p.nrows) {
          for (ow0 = 0; ow0 < p.ow; ow0 += p.ncols) {
            conv_plan_t t = p;
            /* Edge tiles: fewer rows at the bottom, fewer columns at the
             * right (only when a tile is part of one row). */
            t.nrows = min_u64(p.nrows, p.oh - oh0);
            t.ncols = min_u64(p.ncols, p.ow - ow0);
            t.tn = t.nrows * t.ncols;
            emit_tile(&b, &t, xbase, wbase, ybase, biasbase, n, g, m0, tm, oh0,
                      ow0, t.tn);
          }
        }
      }
    }
  }
  return npu_batch_end(&b);
}

xhal_status_t npu_register_conv2d(npu_ctx_t* ctx) {
  static const xhal_dtype_t kSigs[3][4] = {
      {XHAL_DTYPE_F32, XHAL_DTYPE_F32, XHAL_DTYPE_F32, XHAL_DTYPE_F32},
      {XHAL_DTYPE_F16, XHAL_DTYPE_F16, XHAL_DTYPE_F16, XHAL_DTYPE_F16},
      {XHAL_DTYPE_I8, XHAL_DTYPE_I8, XHAL_DTYPE_I32, XHAL_DTYPE_I32},
  };
  static const char* const kNames[3] = {"npu.conv2d.f32", "npu.conv2d.f16",
                                        "npu.conv2d.i8"};
  int i;
  /* make_plan refuses what a DMA descriptor's 32-bit pitches cannot
   * express, a relation between several dims that no field states. */
  ctx->lim_conv.struct_size = (uint32_t)sizeof(xhal_op_limits_t);
  ctx->lim_conv.flags = XHAL_OP_LIMIT_PARTIAL;
  for (i = 0; i < 3; ++i) {
    xhal_plugin_op_impl_t impl;
    xhal_status_t st;
    memset(&impl, 0, sizeof(impl));
    impl.struct_size = (uint32_t)sizeof(impl);
    impl.limits = &ctx->lim_conv;
    impl.op = XHAL_OP_CONV2D;
    impl.device_index = XHAL_PLUGIN_ALL_DEVICES;
    impl.priority = 100;
    impl.num_dtypes = 4;
    memcpy(impl.dtypes, kSigs[i], sizeof(kSigs[i]));
    impl.name = kNames[i];
    impl.user_data = ctx;
    impl.supports = conv_supports;
    impl.enqueue = conv_enqueue;
    st = ctx->host->register_op_impl(ctx->host->host_context, &impl);
    if (st != XHAL_OK) return st;
  }
  return XHAL_OK;
}
