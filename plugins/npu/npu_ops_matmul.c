/*
 * npu_ops_matmul.c - matmul on the systolic array (docs/ops.md "matmul").
 *
 * Tiling (docs/npu.md, "How the driver tiles a matmul"): the output is cut
 * into tm x tn tiles and the reduction into tk slices, sized so that two
 * sets of A/B tiles (double buffering), the f32/i32 accumulator tile and
 * the epilogue buffers fit the scratchpad. For each output tile the k
 * slices stream through: the loads of slice k+1 (DMA engine) overlap the
 * GEMM of slice k (array), ordered by semaphores. The epilogue (alpha,
 * beta * prior, bias, rounding to f16) runs on the vector unit, then the
 * tile is stored. Transposed operands are loaded as stored and the GEMM
 * command's transpose flags read them.
 */
#include <string.h>

#include "npu_internal.h"

/* Semaphores of the matmul schedule. */
enum {
  SEM_LOAD0 = 0,    /* A/B slice loaded into set 0 (set 1: SEM_LOAD0 + 1) */
  SEM_GEMM0 = 2,    /* GEMM that read set 0 done (set 1: SEM_GEMM0 + 1) */
  SEM_ACC_FREE = 4, /* previous tile stored: the accumulator is free */
  SEM_EPI = 5,      /* epilogue compute of the tile done */
  SEM_EPI_LOAD = 6, /* epilogue operands loaded */
};

typedef struct mm_plan {
  uint32_t dt;  /* npusim dtype of A/B */
  uint32_t es;  /* bytes per A/B element */
  uint32_t oes; /* bytes per output element */
  uint32_t adt; /* accumulator arithmetic dtype (f32 or i32) */
  int f16, ta, tb, has_bias;
  float alpha, beta;
  uint64_t m, k, n, tm, tn, tk;
  uint64_t a[2], b[2], acc, aux, raw, bias, biasraw, end;
} mm_plan_t;

/* Lays out the scratchpad for tiles tm x tn x tk; returns its size. */
static uint64_t layout(mm_plan_t* p) {
  uint64_t off = 0, s;
  int j;
  for (j = 0; j < 2; ++j) {
    p->a[j] = off;
    off = npu_align_up(off + p->tm * p->tk * p->es, NPU_ALIGN);
    p->b[j] = off;
    off = npu_align_up(off + p->tk * p->tn * p->es, NPU_ALIGN);
  }
  s = p->tm * p->tn * 4;
  p->acc = off;
  off = npu_align_up(off + s, NPU_ALIGN);
  p->aux = off;
  off = npu_align_up(off + s, NPU_ALIGN);
  p->raw = off;
  off = npu_align_up(off + p->tm * p->tn * 2, NPU_ALIGN);
  p->bias = off;
  off = npu_align_up(off + p->tn * 4, NPU_ALIGN);
  p->biasraw = off;
  off = npu_align_up(off + p->tn * 2, NPU_ALIGN);
  p->end = off;
  return off;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Fills the plan from the call; returns 0 when the call cannot run (a row
 * pitch wider than the DMA descriptor's 32-bit stride, or not even a
 * 1 x 1 x 1 tile fits the scratchpad). */
static int make_plan(const xhal_plugin_op_call_t* call, uint64_t spad,
                     mm_plan_t* p) {
  static const uint64_t kTiles[] = {512, 384, 256, 128, 64, 32, 16, 8, 4, 2, 1};
  static const uint64_t kSlices[] = {1024, 512, 256, 128, 64, 32,
                                     16,   8,   4,   2,   1};
  const xhal_tensor_desc_t* a = &call->inputs[0].desc;
  const xhal_tensor_desc_t* b = &call->inputs[1].desc;
  size_t i, j;
  memset(p, 0, sizeof(*p));
  p->ta = call->attrs.transpose_a != 0;
  p->tb = call->attrs.transpose_b != 0;
  p->m = p->ta ? a->dims[1] : a->dims[0];
  p->k = p->ta ? a->dims[0] : a->dims[1];
  p->n = p->tb ? b->dims[0] : b->dims[1];
  p->alpha = call->attrs.alpha;
  p->beta = call->attrs.beta;
  p->has_bias = call->num_inputs > 2;
  p->dt = npu_sim_dtype(a->dtype);
  p->es = xhal_dtype_size(a->dtype);
  p->oes = xhal_dtype_size(call->outputs[0].desc.dtype);
  p->f16 = a->dtype == XHAL_DTYPE_F16;
  p->adt = a->dtype == XHAL_DTYPE_I8 ? NPUSIM_DT_I32 : NPUSIM_DT_F32;
  if (a->rank != 2 || b->rank != 2 || p->es == 0 || p->oes == 0) return 0;
  if (p->m > UINT32_MAX / 4 || p->k > UINT32_MAX / 4 || p->n > UINT32_MAX / 4) {
    return 0;
  }
  for (i = 0; i < sizeof(kTiles) / sizeof(kTiles[0]); ++i) {
    for (j = 0; j < sizeof(kSlices) / sizeof(kSlices[0]); ++j) {
      p->tm = min_u64(p->m, kTiles[i]);
      p->tn = min_u64(p->n, kTiles[i]);
      p->tk = min_u64(p->k, kSlices[j]);
      if (p->tm == 0) p->tm = 1;
      if (p->tn == 0) p->tn = 1;
      if (p->tk == 0) p->tk = 1;
      if (layout(p) <= spad) return 1;
    }
  }
  return 0;
}

static xhal_status_t matmul_supports(void* user, xhal_plugin_device_t device,
                                     const xhal_plugin_op_call_t* call) {
  npu_ctx_t* ctx = user;
  mm_plan_t p;
  (void)device;
  if (!call || call->num_inputs < 2 || call->num_outputs != 1) {
    return XHAL_ERROR_UNSUPPORTED;
  }
  return make_plan(call, ctx->cfg.spad_bytes, &p) ? XHAL_OK
                                                  : XHAL_ERROR_UNSUPPORTED;
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static void emit_wait_signal(npu_batch_t* b, npusim_cmd_t c, uint16_t wait,
                             int signal) {
  c.wait_mask = wait;
  c.signal = (uint8_t)(signal < 0 ? 0 : signal + 1);
  npu_emit(b, &c);
}

/* Loads slice kk of output tile (m0, n0) into set j and multiplies it. */
static void emit_slice(npu_batch_t* b, const mm_plan_t* p, uint64_t abase,
                       uint64_t bbase, uint64_t m0, uint64_t n0, uint64_t tm,
                       uint64_t tn, uint64_t kk) {
  uint64_t k0 = kk * p->tk, tk = min_u64(p->tk, p->k - k0);
  int j = (int)(kk & 1);
  uint16_t gemm_done = (uint16_t)(1u << (SEM_GEMM0 + j));
  npusim_cmd_t c;
  uint32_t flags = kk ? NPUSIM_GEMM_ACCUMULATE : 0u;
  if (p->ta) {
    c = npu_cmd_dma(NPUSIM_SPACE_DRAM, abase + (k0 * p->m + m0) * p->es,
                    NPUSIM_SPACE_SPAD, p->a[j], tm * p->es, tk, p->m * p->es,
                    tm * p->es);
    flags |= NPUSIM_GEMM_TRANS_A;
  } else {
    c = npu_cmd_dma(NPUSIM_SPACE_DRAM, abase + (m0 * p->k + k0) * p->es,
                    NPUSIM_SPACE_SPAD, p->a[j], tk * p->es, tm, p->k * p->es,
                    tk * p->es);
  }
  /* Set j is free once the GEMM that last read it is done. */
  emit_wait_signal(b, c, gemm_done, -1);
  if (p->tb) {
    c = npu_cmd_dma(NPUSIM_SPACE_DRAM, bbase + (n0 * p->k + k0) * p->es,
                    NPUSIM_SPACE_SPAD, p->b[j], tk * p->es, tn, p->k * p->es,
                    tk * p->es);
    flags |= NPUSIM_GEMM_TRANS_B;
  } else {
    c = npu_cmd_dma(NPUSIM_SPACE_DRAM, bbase + (k0 * p->n + n0) * p->es,
                    NPUSIM_SPACE_SPAD, p->b[j], tn * p->es, tk, p->n * p->es,
                    tn * p->es);
  }
  emit_wait_signal(b, c, gemm_done, SEM_LOAD0 + j);
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_GEMM;
  c.dtype = (uint8_t)p->dt;
  c.flags = (uint8_t)flags;
  c.a[0] = p->a[j];
  c.a[1] = p->b[j];
  c.a[2] = p->acc;
  c.a[3] = tm;
  c.a[4] = tk;
  c.a[5] = tn;
  emit_wait_signal(
      b, c,
      (uint16_t)((1u << (SEM_LOAD0 + j)) | (kk == 0 ? 1u << SEM_ACC_FREE : 0u)),
      SEM_GEMM0 + j);
}

/* alpha, beta * prior, bias and rounding for tile (m0, n0), then store.
 * The vector commands run in order on the compute engine: the first waits
 * for the accumulator and the epilogue loads, the last signals SEM_EPI. */
static void emit_epilogue(npu_batch_t* b, const mm_plan_t* p, uint64_t ybase,
                          uint64_t biasbase, uint64_t m0, uint64_t n0,
                          uint64_t tm, uint64_t tn, int acc_sem) {
  uint64_t ytile = ybase + (m0 * p->n + n0) * p->oes;
  uint64_t n = tm * tn, out = p->acc;
  int need_beta = p->beta != 0.0f && p->adt == NPUSIM_DT_F32;
  int loads = need_beta || p->has_bias;
  npusim_cmd_t c, epi[6];
  int ne = 0, i;
  if (need_beta) {
    c = npu_cmd_dma(NPUSIM_SPACE_DRAM, ytile, NPUSIM_SPACE_SPAD,
                    p->f16 ? p->raw : p->aux, tn * p->oes, tm, p->n * p->oes,
                    tn * p->oes);
    emit_wait_signal(b, c, 1u << SEM_EPI, p->has_bias ? -1 : SEM_EPI_LOAD);
  }
  if (p->has_bias) {
    uint32_t bes = p->f16 ? 2 : 4;
    c = npu_cmd_dma(NPUSIM_SPACE_DRAM, biasbase + n0 * bes, NPUSIM_SPACE_SPAD,
                    p->f16 ? p->biasraw : p->bias, tn * bes, 1, tn * bes,
                    tn * bes);
    emit_wait_signal(b, c, 1u << SEM_EPI, SEM_EPI_LOAD);
  }
  if (p->alpha != 1.0f && p->adt == NPUSIM_DT_F32) {
    c = npu_cmd_vec(NPUSIM_VF_MUL, NPUSIM_DT_F32, NPUSIM_VB_SCALAR, p->acc, 0,
                    p->acc, 1, n);
    c.a[6] = f32_bits(p->alpha);
    epi[ne++] = c;
  }
  if (need_beta) {
    if (p->f16) {
      c = npu_cmd_vec(NPUSIM_VF_COPY, NPUSIM_DT_F16, 0, p->raw, 0, p->aux, 1,
                      n);
      c.a[5] = NPUSIM_DT_F32;
      epi[ne++] = c;
    }
    c = npu_cmd_vec(NPUSIM_VF_AXPBY, NPUSIM_DT_F32, 0, p->acc, p->aux, p->acc,
                    1, n);
    c.a[6] = f32_bits(1.0f) | (uint64_t)f32_bits(p->beta) << 32;
    epi[ne++] = c;
  }
  if (p->has_bias) {
    if (p->f16) {
      c = npu_cmd_vec(NPUSIM_VF_COPY, NPUSIM_DT_F16, 0, p->biasraw, 0, p->bias,
                      1, tn);
      c.a[5] = NPUSIM_DT_F32;
      epi[ne++] = c;
    }
    epi[ne++] = npu_cmd_vec(NPUSIM_VF_ADD, p->adt, NPUSIM_VB_ROW, p->acc,
                            p->bias, p->acc, tm, tn);
  }
  if (p->f16) {
    c = npu_cmd_vec(NPUSIM_VF_COPY, NPUSIM_DT_F32, 0, p->acc, 0, p->raw, 1, n);
    c.a[5] = NPUSIM_DT_F16;
    epi[ne++] = c;
    out = p->raw;
  }
  for (i = 0; i < ne; ++i) {
    uint16_t wait = 0;
    if (i == 0) {
      wait = (uint16_t)((1u << acc_sem) | (loads ? 1u << SEM_EPI_LOAD : 0u));
    }
    emit_wait_signal(b, epi[i], wait, i == ne - 1 ? SEM_EPI : -1);
  }
  /* The store waits for the last writer of the tile: the epilogue if it
   * ran, else the accumulating GEMM itself. */
  c = npu_cmd_dma(NPUSIM_SPACE_SPAD, out, NPUSIM_SPACE_DRAM, ytile, tn * p->oes,
                  tm, tn * p->oes, p->n * p->oes);
  emit_wait_signal(b, c, (uint16_t)(1u << (ne ? SEM_EPI : acc_sem)),
                   SEM_ACC_FREE);
}

static xhal_status_t matmul_enqueue(void* user, xhal_plugin_stream_t stream,
                                    const xhal_plugin_op_call_t* call) {
  npu_ctx_t* ctx = user;
  npu_dev_t* dev = stream->dev;
  npu_batch_t b;
  mm_plan_t p;
  npusim_cmd_t c;
  uint64_t abase, bbase, ybase, biasbase = 0, m0, n0, kk, nk;
  xhal_status_t st;
  (void)ctx;
  if (!make_plan(call, dev->spad_bytes, &p)) return XHAL_ERROR_UNSUPPORTED;
  if (p.m == 0 || p.n == 0) return XHAL_OK;
  abase = call->inputs[0].buffer->addr + call->inputs[0].offset;
  bbase = call->inputs[1].buffer->addr + call->inputs[1].offset;
  ybase = call->outputs[0].buffer->addr + call->outputs[0].offset;
  if (p.has_bias) {
    biasbase = call->inputs[2].buffer->addr + call->inputs[2].offset;
  }
  nk = p.k ? (p.k + p.tk - 1) / p.tk : 0;
  st = npu_batch_begin(&b, stream);
  if (st != XHAL_OK) return st;
  /* The operator owns the whole scratchpad: start after earlier work. */
  memset(&c, 0, sizeof(c));
  c.opcode = NPUSIM_OP_BARRIER;
  npu_emit(&b, &c);
  for (m0 = 0; m0 < p.m; m0 += p.tm) {
    uint64_t tm = min_u64(p.tm, p.m - m0);
    for (n0 = 0; n0 < p.n; n0 += p.tn) {
      uint64_t tn = min_u64(p.tn, p.n - n0);
      int acc_sem = SEM_GEMM0 + (int)((nk ? nk - 1 : 0) & 1);
      if (nk == 0) {
        /* K = 0: the product is zero. */
        memset(&c, 0, sizeof(c));
        c.opcode = NPUSIM_OP_FILL;
        c.func = NPUSIM_SPACE_SPAD;
        c.a[0] = p.acc;
        c.a[1] = tm * tn * 4;
        c.a[3] = 4;
        emit_wait_signal(&b, c, 1u << SEM_ACC_FREE, acc_sem);
      }
      for (kk = 0; kk < nk; ++kk) {
        emit_slice(&b, &p, abase, bbase, m0, n0, tm, tn, kk);
      }
      emit_epilogue(&b, &p, ybase, biasbase, m0, n0, tm, tn, acc_sem);
    }
  }
  return npu_batch_end(&b);
}

xhal_status_t npu_register_matmul(npu_ctx_t* ctx) {
  static const xhal_dtype_t kSigs[3][4] = {
      {XHAL_DTYPE_F32, XHAL_DTYPE_F32, XHAL_DTYPE_F32, XHAL_DTYPE_F32},
      {XHAL_DTYPE_F16, XHAL_DTYPE_F16, XHAL_DTYPE_F16, XHAL_DTYPE_F16},
      {XHAL_DTYPE_I8, XHAL_DTYPE_I8, XHAL_DTYPE_I32, XHAL_DTYPE_I32},
  };
  static const char* const kNames[3] = {"npu.matmul.f32", "npu.matmul.f16",
                                        "npu.matmul.i8"};
  int i;
  /* make_plan: every dim must fit a 32-bit byte pitch of 4-byte elements;
   * a 1x1x1 tile fits the smallest scratchpad the model accepts. */
  ctx->lim_matmul.struct_size = (uint32_t)sizeof(xhal_op_limits_t);
  ctx->lim_matmul.flags = XHAL_OP_LIMIT_DIM;
  ctx->lim_matmul.max_dim = UINT32_MAX / 4;
  for (i = 0; i < 3; ++i) {
    xhal_plugin_op_impl_t impl;
    xhal_status_t st;
    memset(&impl, 0, sizeof(impl));
    impl.struct_size = (uint32_t)sizeof(impl);
    impl.limits = &ctx->lim_matmul;
    impl.op = XHAL_OP_MATMUL;
    impl.device_index = XHAL_PLUGIN_ALL_DEVICES;
    impl.priority = 100;
    impl.num_dtypes = 4;
    memcpy(impl.dtypes, kSigs[i], sizeof(kSigs[i]));
    impl.name = kNames[i];
    impl.user_data = ctx;
    impl.supports = matmul_supports;
    impl.enqueue = matmul_enqueue;
    st = ctx->host->register_op_impl(ctx->host->host_context, &impl);
    if (st != XHAL_OK) return st;
  }
  return XHAL_OK;
}
