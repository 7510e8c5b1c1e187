/*
 * npu_plugin_test.c - the NPU driver through its dispatch table: device
 * properties, transfers, operator results against the reference
 * implementation, simulated-time profiling, host functions, and failure
 * propagation for injected DMA faults, hangs and device loss.
 */
#include "npu_test_host.h"

#include <math.h>
#include <pthread.h>
#include <time.h>

#ifdef NPU_TEST_HAVE_REFERENCE
#include "xhal_reference.h"
#endif

static const xhal_plugin_dispatch_t* D(void) { return g_host.d; }

static void setup_default(void) {
  th_config("default", "spad_bytes = 256K\narray.rows = 16\narray.cols = 16\n");
  th_open();
}
static void teardown(void) { th_close(); }

static xhal_plugin_buffer_t alloc_buf(uint64_t size) {
  xhal_plugin_buffer_t b = NULL;
  ck_assert_int_eq(D()->buffer_alloc(g_host.dev, size, 0, &b), XHAL_OK);
  return b;
}

static xhal_plugin_stream_t new_stream(void) {
  xhal_plugin_stream_t s = NULL;
  ck_assert_int_eq(D()->stream_create(g_host.dev, 0, &s), XHAL_OK);
  return s;
}

static xhal_plugin_event_t record(xhal_plugin_stream_t s) {
  xhal_plugin_event_t e = NULL;
  ck_assert_int_eq(D()->event_create(g_host.dev, &e), XHAL_OK);
  ck_assert_int_eq(D()->event_record(e, s), XHAL_OK);
  return e;
}

/* ------------------------------------------------------------- basics */

START_TEST(properties) {
  xhal_device_properties_t p;
  uint32_t n = 0;
  ck_assert_int_eq(D()->device_count(g_host.ctx, &n), XHAL_OK);
  ck_assert_uint_eq(n, 1);
  ck_assert_int_eq(D()->device_properties(g_host.ctx, 0, &p), XHAL_OK);
  ck_assert_uint_eq(p.kind, XHAL_DEVICE_KIND_NPU);
  ck_assert_str_eq(p.vendor, "xhal");
  ck_assert_ptr_nonnull(strstr(p.name, "xhal-npusim"));
  ck_assert_uint_eq(p.memory_bytes, 512ull << 20);
  ck_assert_uint_eq(p.alignment, 64);
  ck_assert_uint_ne(p.capabilities & XHAL_CAP_PROFILING, 0);
  ck_assert_uint_ne(p.capabilities & XHAL_CAP_HOST_FUNC, 0);
  ck_assert_uint_eq(p.capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY, 0);
  ck_assert_uint_ne(p.dtypes & XHAL_DTYPE_BIT(XHAL_DTYPE_I8), 0);
  ck_assert_int_eq(D()->device_properties(g_host.ctx, 1, &p),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_ptr_null(D()->buffer_map);
  ck_assert_int_ge(g_host.num_impls, 20);
}
END_TEST

START_TEST(transfers_and_bad_ranges) {
  xhal_plugin_stream_t s = new_stream();
  xhal_plugin_buffer_t a = alloc_buf(1000), b = alloc_buf(1000), bad = NULL;
  uint8_t src[1000], dst[1000];
  uint16_t pat16 = 0xBEEF;
  int i;
  for (i = 0; i < 1000; ++i) src[i] = (uint8_t)(i * 7);
  memset(dst, 0, sizeof(dst));
  ck_assert_int_eq(D()->enqueue_write(s, a, 3, src, 997), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_copy(s, a, 3, b, 1, 501), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_fill(s, b, 502, 10, &pat16, 2), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_read(s, b, 1, dst, 511), XHAL_OK);
  ck_assert_int_eq(D()->stream_synchronize(s), XHAL_OK);
  ck_assert_mem_eq(dst, src, 501);
  for (i = 501; i < 511; i += 2) {
    ck_assert_uint_eq(dst[i], 0xEF);
    ck_assert_uint_eq(dst[i + 1], 0xBE);
  }
  /* Out-of-range transfers are rejected before reaching the device. */
  ck_assert_int_eq(D()->enqueue_write(s, a, 1, src, 1000),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(D()->enqueue_read(s, a, UINT64_MAX, dst, 2),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(D()->enqueue_copy(s, a, 0, b, 900, 200),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(D()->enqueue_fill(s, a, 0, 3, &pat16, 2),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(D()->buffer_alloc(g_host.dev, 0, 0, &bad),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(D()->buffer_alloc(g_host.dev, 1ull << 40, 0, &bad),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_int_eq(
      D()->buffer_alloc(g_host.dev, 64, XHAL_MEMORY_HOST_VISIBLE, &bad),
      XHAL_ERROR_UNSUPPORTED);
  ck_assert_int_eq(D()->stream_synchronize(s), XHAL_OK);
  D()->buffer_free(g_host.dev, a);
  D()->buffer_free(g_host.dev, b);
  D()->stream_destroy(s);
}
END_TEST

START_TEST(allocator_reuses_freed_memory) {
  xhal_plugin_buffer_t bufs[64];
  uint64_t big = (512ull << 20) / 4;
  int i;
  /* Three quarters of DRAM, freed and reallocated many times. */
  for (i = 0; i < 64; ++i) {
    xhal_plugin_buffer_t x = alloc_buf(big), y = alloc_buf(big),
                         z = alloc_buf(big - 4096);
    D()->buffer_free(g_host.dev, y);
    D()->buffer_free(g_host.dev, x);
    D()->buffer_free(g_host.dev, z);
  }
  for (i = 0; i < 64; ++i) bufs[i] = alloc_buf(4096 + (uint64_t)i * 100);
  for (i = 0; i < 64; i += 2) D()->buffer_free(g_host.dev, bufs[i]);
  for (i = 1; i < 64; i += 2) D()->buffer_free(g_host.dev, bufs[i]);
  /* Everything coalesced back: the whole heap is one block again. */
  bufs[0] = alloc_buf(3 * big);
  D()->buffer_free(g_host.dev, bufs[0]);
}
END_TEST

/* Profiling: event_elapsed is simulated time. A 64 KiB host-to-device
 * write costs latency 100 + 65536 / 64 = 1124 cycles = 1124 ns at 1 GHz. */
START_TEST(elapsed_is_simulated_time) {
  xhal_plugin_stream_t s = new_stream();
  xhal_plugin_buffer_t a = alloc_buf(65536);
  static uint8_t src[65536];
  xhal_plugin_event_t e0, e1;
  uint64_t ns = 0;
  e0 = record(s);
  ck_assert_int_eq(D()->enqueue_write(s, a, 0, src, sizeof(src)), XHAL_OK);
  e1 = record(s);
  ck_assert_int_eq(D()->event_wait(e1, UINT64_MAX), XHAL_OK);
  ck_assert_int_eq(D()->event_query(e0), XHAL_OK);
  ck_assert_int_eq(D()->event_elapsed(e0, e1, &ns), XHAL_OK);
  ck_assert_uint_eq(ns, 1124);
  D()->event_destroy(e0);
  D()->event_destroy(e1);
  D()->buffer_free(g_host.dev, a);
  D()->stream_destroy(s);
}
END_TEST

/* ------------------------------------------------------------ operators */

static unsigned g_seed = 1;
static float frand(void) {
  g_seed = g_seed * 1103515245u + 12345u;
  return (float)((g_seed >> 8) % 20001u) / 10000.0f - 1.0f;
}

static void fill_random(void* p, xhal_dtype_t dt, uint64_t n) {
  uint64_t i;
  for (i = 0; i < n; ++i) {
    float v = frand();
    if (dt == XHAL_DTYPE_F32) {
      ((float*)p)[i] = v;
    } else if (dt == XHAL_DTYPE_F16) {
      /* Round to a value exact in f16 so the reference sees the same. */
      float q = roundf(v * 512.0f) / 512.0f;
      uint32_t bits;
      uint16_t h;
      memcpy(&bits, &q, 4);
      if (q == 0.0f) {
        h = 0;
      } else {
        int32_t e = (int32_t)((bits >> 23) & 0xFF) - 127 + 15;
        h = (uint16_t)(((bits >> 16) & 0x8000u) | (uint32_t)e << 10 |
                       ((bits >> 13) & 0x3FFu));
      }
      ((uint16_t*)p)[i] = h;
    } else if (dt == XHAL_DTYPE_I8) {
      ((int8_t*)p)[i] = (int8_t)(v * 127.0f);
    } else {
      ((int32_t*)p)[i] = (int32_t)(v * 100000.0f);
    }
  }
}

static uint64_t numel(const xhal_tensor_desc_t* d) {
  uint64_t n = 1;
  uint32_t i;
  for (i = 0; i < d->rank; ++i) n *= d->dims[i];
  return n;
}

static xhal_tensor_desc_t desc(xhal_dtype_t dt, uint32_t rank, uint64_t d0,
                               uint64_t d1, uint64_t d2) {
  xhal_tensor_desc_t d;
  memset(&d, 0, sizeof(d));
  d.dtype = dt;
  d.rank = rank;
  d.dims[0] = d0;
  d.dims[1] = d1;
  d.dims[2] = d2;
  return d;
}

/* Runs `call` (descs and attrs filled in) on the NPU with random inputs
 * and compares with the reference. The output buffer starts random too,
 * so beta reads a real prior. */
static void run_and_check(xhal_plugin_op_call_t* call) {
  const xhal_plugin_op_impl_t* impl = th_find(call);
  xhal_plugin_stream_t s = new_stream();
  void* host_in[XHAL_MAX_OP_INPUTS];
  void *host_out, *want;
  uint64_t out_n = numel(&call->outputs[0].desc), i;
  uint32_t out_es = xhal_dtype_size(call->outputs[0].desc.dtype);
  uint32_t k;
  ck_assert_msg(impl != NULL, "no NPU implementation for op %u", call->op);
  for (k = 0; k < call->num_inputs; ++k) {
    const xhal_tensor_desc_t* d = &call->inputs[k].desc;
    uint64_t bytes = numel(d) * xhal_dtype_size(d->dtype);
    host_in[k] = malloc(bytes + 1);
    fill_random(host_in[k], d->dtype, numel(d));
    call->inputs[k].buffer = alloc_buf(bytes + 64);
    call->inputs[k].offset = 64 - xhal_dtype_size(d->dtype); /* odd offset */
    ck_assert_int_eq(
        D()->enqueue_write(s, call->inputs[k].buffer, call->inputs[k].offset,
                           host_in[k], bytes),
        XHAL_OK);
  }
  host_out = malloc(out_n * out_es + 1);
  want = malloc(out_n * out_es + 1);
  fill_random(host_out, call->outputs[0].desc.dtype, out_n);
  memcpy(want, host_out, out_n * out_es);
  call->outputs[0].buffer = alloc_buf(out_n * out_es + 64);
  call->outputs[0].offset = 0;
  ck_assert_int_eq(D()->enqueue_write(s, call->outputs[0].buffer, 0, host_out,
                                      out_n * out_es),
                   XHAL_OK);
  ck_assert_int_eq(impl->enqueue(impl->user_data, s, call), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_read(s, call->outputs[0].buffer, 0, host_out,
                                     out_n * out_es),
                   XHAL_OK);
  ck_assert_int_eq(D()->stream_synchronize(s), XHAL_OK);
#ifdef NPU_TEST_HAVE_REFERENCE
  {
    const void* ins[XHAL_MAX_OP_INPUTS];
    xhal_ref_tolerance_t tol;
    for (k = 0; k < call->num_inputs; ++k) ins[k] = host_in[k];
    ck_assert_int_eq(xhal_ref_run(call, ins, want), XHAL_OK);
    tol = xhal_ref_tolerance(call);
    i = xhal_ref_compare(call->outputs[0].desc.dtype, host_out, want, out_n,
                         tol);
    ck_assert_msg(i == out_n, "op %u: element %llu out of tolerance", call->op,
                  (unsigned long long)i);
  }
#else
  (void)i;
  (void)want;
#endif
  for (k = 0; k < call->num_inputs; ++k) {
    D()->buffer_free(g_host.dev, call->inputs[k].buffer);
    free(host_in[k]);
  }
  D()->buffer_free(g_host.dev, call->outputs[0].buffer);
  free(host_out);
  free(want);
  D()->stream_destroy(s);
}

static void init_call(xhal_plugin_op_call_t* c, xhal_op_t op) {
  memset(c, 0, sizeof(*c));
  c->struct_size = (uint32_t)sizeof(*c);
  c->op = op;
  c->num_outputs = 1;
  xhal_op_attrs_default(&c->attrs);
}

/* Shapes that do not divide the tiles; the 256 KiB scratchpad of the
 * default test config forces several tiles and k slices. */
typedef struct mm_case {
  xhal_dtype_t dt;
  uint64_t m, k, n;
  int ta, tb, bias;
  float alpha, beta;
} mm_case_t;

static const mm_case_t kMatmul[] = {
    {XHAL_DTYPE_F32, 1, 1, 1, 0, 0, 0, 1.0f, 0.0f},
    {XHAL_DTYPE_F32, 37, 300, 45, 0, 0, 0, 1.0f, 0.0f},
    {XHAL_DTYPE_F32, 200, 513, 130, 0, 0, 1, 1.0f, 0.0f},
    {XHAL_DTYPE_F32, 64, 33, 17, 1, 0, 0, 0.5f, 2.0f},
    {XHAL_DTYPE_F32, 19, 70, 300, 0, 1, 1, -1.5f, 0.25f},
    {XHAL_DTYPE_F32, 70, 19, 23, 1, 1, 1, 1.0f, 1.0f},
    {XHAL_DTYPE_F32, 1, 1000, 1, 0, 0, 0, 1.0f, 0.0f},
    {XHAL_DTYPE_F32, 5, 0, 7, 0, 0, 1, 1.0f, 0.5f},
    {XHAL_DTYPE_F16, 33, 129, 65, 0, 0, 1, 1.0f, 0.0f},
    {XHAL_DTYPE_F16, 40, 64, 24, 1, 1, 0, 2.0f, -1.0f},
    {XHAL_DTYPE_I8, 45, 300, 61, 0, 0, 1, 1.0f, 0.0f},
    {XHAL_DTYPE_I8, 16, 7, 130, 1, 1, 0, 1.0f, 0.0f},
};

START_TEST(matmul_matches_reference) {
  const mm_case_t* mc = &kMatmul[_i];
  xhal_plugin_op_call_t c;
  xhal_dtype_t out = mc->dt == XHAL_DTYPE_I8 ? XHAL_DTYPE_I32 : mc->dt;
  init_call(&c, XHAL_OP_MATMUL);
  c.num_inputs = mc->bias ? 3 : 2;
  c.inputs[0].desc = mc->ta ? desc(mc->dt, 2, mc->k, mc->m, 0)
                            : desc(mc->dt, 2, mc->m, mc->k, 0);
  c.inputs[1].desc = mc->tb ? desc(mc->dt, 2, mc->n, mc->k, 0)
                            : desc(mc->dt, 2, mc->k, mc->n, 0);
  if (mc->bias) c.inputs[2].desc = desc(out, 1, mc->n, 0, 0);
  c.outputs[0].desc = desc(out, 2, mc->m, mc->n, 0);
  c.attrs.transpose_a = (uint32_t)mc->ta;
  c.attrs.transpose_b = (uint32_t)mc->tb;
  c.attrs.alpha = mc->alpha;
  c.attrs.beta = mc->beta;
  run_and_check(&c);
}
END_TEST

START_TEST(vector_ops_match_reference) {
  xhal_plugin_op_call_t c;
  xhal_dtype_t dt = _i ? XHAL_DTYPE_F16 : XHAL_DTYPE_F32;
  static const xhal_op_t unary[] = {XHAL_OP_RELU, XHAL_OP_GELU, XHAL_OP_SIGMOID,
                                    XHAL_OP_TANH, XHAL_OP_EXP};
  size_t u;
  /* softmax over the last axis, rows longer than a lane batch. */
  init_call(&c, XHAL_OP_SOFTMAX);
  c.num_inputs = 1;
  c.inputs[0].desc = desc(dt, 3, 3, 50, 301);
  c.outputs[0].desc = c.inputs[0].desc;
  run_and_check(&c);
  /* softmax over axis 1 of [4, 1000, 1]: trailing 1s are fine. */
  c.inputs[0].desc = desc(dt, 3, 4, 1000, 1);
  c.outputs[0].desc = c.inputs[0].desc;
  c.attrs.axis = 1;
  run_and_check(&c);
  /* layer_norm with gamma and beta, and without. */
  init_call(&c, XHAL_OP_LAYER_NORM);
  c.num_inputs = 3;
  c.inputs[0].desc = desc(dt, 2, 77, 768, 0);
  c.inputs[1].desc = desc(dt, 1, 768, 0, 0);
  c.inputs[2].desc = desc(dt, 1, 768, 0, 0);
  c.outputs[0].desc = c.inputs[0].desc;
  run_and_check(&c);
  c.num_inputs = 1;
  c.inputs[0].desc = desc(dt, 2, 5, 33, 0);
  c.outputs[0].desc = c.inputs[0].desc;
  run_and_check(&c);
  /* Binary with every broadcast the unit has, both operand orders. */
  init_call(&c, XHAL_OP_ADD);
  c.num_inputs = 2;
  c.inputs[0].desc = desc(dt, 2, 300, 200, 0);
  c.inputs[1].desc = desc(dt, 2, 300, 200, 0);
  c.outputs[0].desc = c.inputs[0].desc;
  run_and_check(&c);
  c.op = XHAL_OP_SUB;
  c.inputs[1].desc = desc(dt, 1, 200, 0, 0); /* row */
  run_and_check(&c);
  c.op = XHAL_OP_DIV;
  c.inputs[0].desc = desc(dt, 2, 300, 1, 0); /* column, swapped */
  c.inputs[1].desc = desc(dt, 2, 300, 200, 0);
  run_and_check(&c);
  c.op = XHAL_OP_MAX;
  c.inputs[0].desc = desc(dt, 3, 2, 300, 200);
  c.inputs[1].desc = desc(dt, 1, 1, 0, 0); /* one value */
  c.outputs[0].desc = c.inputs[0].desc;
  run_and_check(&c);
  for (u = 0; u < sizeof(unary) / sizeof(unary[0]); ++u) {
    init_call(&c, unary[u]);
    c.num_inputs = 1;
    c.inputs[0].desc = desc(dt, 2, 123, 457, 0);
    c.outputs[0].desc = c.inputs[0].desc;
    run_and_check(&c);
  }
}
END_TEST

/* conv2d: strides, padding, dilation, groups, bias, every dtype; shapes
 * chosen so that output tiles are whole rows, part rows and edges. */
typedef struct conv_case {
  xhal_dtype_t dt;
  uint64_t n, c, h, w, k, r, s;
  uint32_t stride, pad, dil, groups;
  int bias;
} conv_case_t;

static const conv_case_t kConv[] = {
    {XHAL_DTYPE_F32, 1, 3, 9, 9, 4, 3, 3, 1, 0, 1, 1, 0},
    {XHAL_DTYPE_F32, 2, 5, 13, 11, 7, 3, 3, 2, 1, 1, 1, 1},
    {XHAL_DTYPE_F32, 1, 4, 10, 10, 6, 3, 3, 1, 2, 2, 2, 1},
    {XHAL_DTYPE_F32, 1, 16, 20, 600, 8, 1, 5, 1, 0, 1, 1, 1},
    {XHAL_DTYPE_F32, 1, 64, 14, 14, 96, 3, 3, 1, 1, 1, 1, 1},
    {XHAL_DTYPE_F16, 1, 6, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1},
    {XHAL_DTYPE_I8, 2, 4, 7, 7, 3, 2, 2, 1, 0, 1, 1, 1},
};

START_TEST(conv2d_matches_reference) {
  const conv_case_t* cc = &kConv[_i];
  xhal_plugin_op_call_t c;
  xhal_dtype_t out = cc->dt == XHAL_DTYPE_I8 ? XHAL_DTYPE_I32 : cc->dt;
  uint64_t oh =
      (cc->h + 2 * cc->pad - cc->dil * (cc->r - 1) - 1) / cc->stride + 1;
  uint64_t ow =
      (cc->w + 2 * cc->pad - cc->dil * (cc->s - 1) - 1) / cc->stride + 1;
  init_call(&c, XHAL_OP_CONV2D);
  c.num_inputs = cc->bias ? 3 : 2;
  c.inputs[0].desc = desc(cc->dt, 4, cc->n, cc->c, cc->h);
  c.inputs[0].desc.dims[3] = cc->w;
  c.inputs[1].desc = desc(cc->dt, 4, cc->k, cc->c / cc->groups, cc->r);
  c.inputs[1].desc.dims[3] = cc->s;
  if (cc->bias) c.inputs[2].desc = desc(out, 1, cc->k, 0, 0);
  c.outputs[0].desc = desc(out, 4, cc->n, cc->k, oh);
  c.outputs[0].desc.dims[3] = ow;
  c.attrs.stride[0] = c.attrs.stride[1] = cc->stride;
  c.attrs.padding[0] = c.attrs.padding[1] = cc->pad;
  c.attrs.dilation[0] = c.attrs.dilation[1] = cc->dil;
  c.attrs.groups = cc->groups;
  run_and_check(&c);
}
END_TEST

START_TEST(unsupported_shapes_go_elsewhere) {
  xhal_plugin_op_call_t c;
  const xhal_plugin_op_impl_t* impl;
  /* softmax over a strided axis: the CPU's job. */
  init_call(&c, XHAL_OP_SOFTMAX);
  c.num_inputs = 1;
  c.inputs[0].desc = desc(XHAL_DTYPE_F32, 2, 10, 20, 0);
  c.outputs[0].desc = c.inputs[0].desc;
  c.attrs.axis = 0;
  ck_assert_ptr_null(th_find(&c));
  /* a broadcast the unit does not have: [3,1] + [1,4]. */
  init_call(&c, XHAL_OP_ADD);
  c.num_inputs = 2;
  c.inputs[0].desc = desc(XHAL_DTYPE_F32, 2, 3, 1, 0);
  c.inputs[1].desc = desc(XHAL_DTYPE_F32, 2, 1, 4, 0);
  c.outputs[0].desc = desc(XHAL_DTYPE_F32, 2, 3, 4, 0);
  ck_assert_ptr_null(th_find(&c));
  /* a layer_norm row larger than the scratchpad. */
  init_call(&c, XHAL_OP_LAYER_NORM);
  c.num_inputs = 1;
  c.inputs[0].desc = desc(XHAL_DTYPE_F32, 2, 2, 1u << 20, 0);
  c.outputs[0].desc = c.inputs[0].desc;
  impl = th_find(&c);
  ck_assert_ptr_null(impl);
  /* conv2d takes rank-4 operands only. */
  init_call(&c, XHAL_OP_CONV2D);
  c.num_inputs = 2;
  c.inputs[0].desc = desc(XHAL_DTYPE_F32, 2, 1, 1, 0);
  c.inputs[1].desc = desc(XHAL_DTYPE_F32, 2, 1, 1, 0);
  c.outputs[0].desc = desc(XHAL_DTYPE_F32, 2, 1, 1, 0);
  ck_assert_ptr_null(th_find(&c));
}
END_TEST

/* -------------------------------------------------------- host functions */

typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
  int calls;
  xhal_status_t result;
} gate_t;

static xhal_status_t gate_fn(void* user) {
  gate_t* g = user;
  pthread_mutex_lock(&g->mu);
  g->calls++;
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  return g->result;
}

static void gate_open(gate_t* g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

START_TEST(host_func_orders_and_event_wait_times_out) {
  gate_t g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
              XHAL_OK};
  xhal_plugin_stream_t s = new_stream();
  xhal_plugin_buffer_t a = alloc_buf(64);
  uint32_t v = 0x12345678, back = 0;
  xhal_plugin_event_t e;
  ck_assert_int_eq(D()->enqueue_host_func(s, gate_fn, &g), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_write(s, a, 0, &v, 4), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_read(s, a, 0, &back, 4), XHAL_OK);
  e = record(s);
  /* The blocked host function holds the stream: the wait times out. */
  ck_assert_int_eq(D()->event_wait(e, 50 * 1000000ull), XHAL_ERROR_TIMEOUT);
  ck_assert_int_eq(D()->event_query(e), XHAL_ERROR_NOT_READY);
  ck_assert_uint_eq(back, 0);
  gate_open(&g);
  ck_assert_int_eq(D()->event_wait(e, UINT64_MAX), XHAL_OK);
  ck_assert_uint_eq(back, v);
  ck_assert_int_eq(g.calls, 1);
  D()->event_destroy(e);
  D()->buffer_free(g_host.dev, a);
  D()->stream_destroy(s);
}
END_TEST

START_TEST(failed_host_func_fails_the_stream) {
  gate_t g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1, 0,
              XHAL_ERROR_EXECUTION_FAILED};
  xhal_plugin_stream_t s = new_stream(), other = new_stream();
  xhal_plugin_buffer_t a = alloc_buf(64);
  uint32_t v = 7, back = 0;
  xhal_plugin_event_t before, after;
  before = record(s);
  ck_assert_int_eq(D()->enqueue_host_func(s, gate_fn, &g), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_write(s, a, 0, &v, 4), XHAL_OK);
  after = record(s);
  ck_assert_int_eq(D()->event_wait(after, UINT64_MAX),
                   XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(D()->event_wait(before, UINT64_MAX), XHAL_OK);
  ck_assert_int_eq(D()->stream_synchronize(s), XHAL_ERROR_EXECUTION_FAILED);
  /* The write after the failure was skipped; other streams carry on. */
  ck_assert_int_eq(D()->enqueue_read(other, a, 0, &back, 4), XHAL_OK);
  ck_assert_int_eq(D()->stream_synchronize(other), XHAL_OK);
  ck_assert_uint_eq(back, 0);
  D()->event_destroy(before);
  D()->event_destroy(after);
  D()->buffer_free(g_host.dev, a);
  D()->stream_destroy(s);
  D()->stream_destroy(other);
}
END_TEST

/* A host function's value outside xhal_status_t fails the stream with
 * XHAL_ERROR_EXECUTION_FAILED, never the value itself. */
START_TEST(undefined_host_func_status_is_execution_failed) {
  static const xhal_status_t kValues[] = {(xhal_status_t)12345,
                                          (xhal_status_t)-7};
  gate_t g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1, 0,
              kValues[_i]};
  xhal_plugin_stream_t s = new_stream();
  ck_assert_int_eq(D()->enqueue_host_func(s, gate_fn, &g), XHAL_OK);
  xhal_plugin_event_t after = record(s);
  ck_assert_int_eq(D()->event_wait(after, UINT64_MAX),
                   XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(D()->stream_synchronize(s), XHAL_ERROR_EXECUTION_FAILED);
  D()->event_destroy(after);
  D()->stream_destroy(s);
}
END_TEST

/* A stream blocked in a host function holds back only itself: other
 * streams' work completes meanwhile, an event recorded behind the host
 * function stays pending, and a stream that waits on that event is held
 * with it (R-STR-7, R-EVT-6). */
START_TEST(blocked_host_func_holds_only_its_stream) {
  gate_t g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
              XHAL_OK};
  xhal_plugin_stream_t s = new_stream(), other = new_stream();
  xhal_plugin_stream_t waiter = new_stream();
  xhal_plugin_buffer_t a = alloc_buf(64), b = alloc_buf(64);
  uint32_t v = 0xCAFEF00D, w = 0x0BADBEEF, back = 0, back_w = 0;
  xhal_plugin_event_t behind, after_wait;
  ck_assert_int_eq(D()->enqueue_host_func(s, gate_fn, &g), XHAL_OK);
  behind = record(s);
  ck_assert_int_eq(D()->stream_wait_event(waiter, behind), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_write(waiter, b, 0, &w, 4), XHAL_OK);
  after_wait = record(waiter);
  /* Another stream runs to completion while `s` is blocked. */
  ck_assert_int_eq(D()->enqueue_write(other, a, 0, &v, 4), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_read(other, a, 0, &back, 4), XHAL_OK);
  ck_assert_int_eq(D()->stream_synchronize(other), XHAL_OK);
  ck_assert_uint_eq(back, v);
  ck_assert_int_eq(D()->event_query(behind), XHAL_ERROR_NOT_READY);
  ck_assert_int_eq(D()->event_wait(after_wait, 50 * 1000000ull),
                   XHAL_ERROR_TIMEOUT);
  gate_open(&g);
  ck_assert_int_eq(D()->event_wait(after_wait, UINT64_MAX), XHAL_OK);
  ck_assert_int_eq(D()->event_query(behind), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_read(waiter, b, 0, &back_w, 4), XHAL_OK);
  ck_assert_int_eq(D()->stream_synchronize(waiter), XHAL_OK);
  ck_assert_uint_eq(back_w, w);
  ck_assert_int_eq(g.calls, 1);
  D()->event_destroy(behind);
  D()->event_destroy(after_wait);
  D()->buffer_free(g_host.dev, a);
  D()->buffer_free(g_host.dev, b);
  D()->stream_destroy(s);
  D()->stream_destroy(other);
  D()->stream_destroy(waiter);
}
END_TEST

/* NULL handles fail with INVALID_HANDLE, unknown stream flags with
 * INVALID_ARGUMENT and a message (R-ERR-1, R-ERR-6, R-ERR-8). */
START_TEST(bad_handles_and_flags) {
  xhal_plugin_stream_t s = NULL;
  xhal_plugin_event_t e = NULL;
  uint32_t count = 0;
  ck_assert_int_eq(D()->device_count(NULL, &count), XHAL_ERROR_INVALID_HANDLE);
  ck_assert_int_eq(D()->stream_create(NULL, 0, &s), XHAL_ERROR_INVALID_HANDLE);
  ck_assert_int_eq(D()->event_create(NULL, &e), XHAL_ERROR_INVALID_HANDLE);
  ck_assert_int_eq(D()->stream_synchronize(NULL), XHAL_ERROR_INVALID_HANDLE);
  g_host.last_error[0] = '\0';
  ck_assert_int_eq(D()->stream_create(g_host.dev, 0x80000000u, &s),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_null(s);
  ck_assert_str_ne(g_host.last_error, "");
  g_host.last_error[0] = '\0';
  xhal_plugin_device_t other = NULL;
  ck_assert_int_eq(D()->device_open(g_host.ctx, 1, &other),
                   XHAL_ERROR_OUT_OF_RANGE);
  ck_assert_str_ne(g_host.last_error, "");
}
END_TEST

/* Several threads, each with its own stream, interleave transfers and
 * operators in the one ring; every result must still be its own. */
typedef struct worker {
  int id;
  int ok;
} worker_t;

static void* worker_main(void* arg) {
  worker_t* w = arg;
  xhal_plugin_stream_t s = NULL;
  xhal_plugin_buffer_t x = NULL, y = NULL;
  float in[256], out[256];
  int round, i;
  xhal_plugin_op_call_t c;
  const xhal_plugin_op_impl_t* relu;
  w->ok = D()->stream_create(g_host.dev, 0, &s) == XHAL_OK &&
          D()->buffer_alloc(g_host.dev, sizeof(in), 0, &x) == XHAL_OK &&
          D()->buffer_alloc(g_host.dev, sizeof(in), 0, &y) == XHAL_OK;
  init_call(&c, XHAL_OP_RELU);
  c.num_inputs = 1;
  c.inputs[0].desc = desc(XHAL_DTYPE_F32, 1, 256, 0, 0);
  c.outputs[0].desc = c.inputs[0].desc;
  c.inputs[0].buffer = x;
  c.outputs[0].buffer = y;
  relu = th_find(&c);
  w->ok = w->ok && relu != NULL;
  for (round = 0; round < 50 && w->ok; ++round) {
    for (i = 0; i < 256; ++i) in[i] = (float)((i + round + w->id) % 7) - 3.0f;
    w->ok = D()->enqueue_write(s, x, 0, in, sizeof(in)) == XHAL_OK &&
            relu->enqueue(relu->user_data, s, &c) == XHAL_OK &&
            D()->enqueue_read(s, y, 0, out, sizeof(out)) == XHAL_OK &&
            D()->stream_synchronize(s) == XHAL_OK;
    for (i = 0; i < 256 && w->ok; ++i) {
      w->ok = out[i] == (in[i] > 0 ? in[i] : 0.0f);
    }
  }
  if (x) D()->buffer_free(g_host.dev, x);
  if (y) D()->buffer_free(g_host.dev, y);
  if (s) D()->stream_destroy(s);
  return NULL;
}

START_TEST(concurrent_streams) {
  pthread_t t[4];
  worker_t w[4];
  int i;
  for (i = 0; i < 4; ++i) {
    w[i].id = i;
    w[i].ok = 0;
    ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
  }
  for (i = 0; i < 4; ++i) {
    pthread_join(t[i], NULL);
    ck_assert_msg(w[i].ok, "worker %d saw a wrong result or status", i);
  }
}
END_TEST

/* ------------------------------------------------------ injected faults */

static uint64_t ms_since(const struct timespec* t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000u +
         (uint64_t)((t1.tv_nsec - t0->tv_nsec) / 1000000);
}

START_TEST(injected_dma_fault_fails_event) {
  xhal_plugin_stream_t s, w, other;
  xhal_plugin_buffer_t a;
  xhal_plugin_event_t ok_ev, bad_ev, waiter_ev;
  uint32_t v = 1, back = 0;
  th_config("dma_fault", "fault.dma_error_at = 2\n");
  th_open();
  s = new_stream();
  w = new_stream();
  other = new_stream();
  a = alloc_buf(64);
  ck_assert_int_eq(D()->enqueue_write(s, a, 0, &v, 4), XHAL_OK); /* DMA 1 */
  ok_ev = record(s);
  ck_assert_int_eq(D()->enqueue_write(s, a, 4, &v, 4), XHAL_OK); /* DMA 2 */
  bad_ev = record(s);
  /* A stream waiting on the failed event fails too. */
  ck_assert_int_eq(D()->stream_wait_event(w, bad_ev), XHAL_OK);
  waiter_ev = record(w);
  ck_assert_int_eq(D()->event_wait(bad_ev, UINT64_MAX),
                   XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(D()->event_wait(ok_ev, UINT64_MAX), XHAL_OK);
  ck_assert_int_eq(D()->event_wait(waiter_ev, UINT64_MAX),
                   XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(D()->event_query(bad_ev), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_int_eq(D()->stream_synchronize(s), XHAL_ERROR_EXECUTION_FAILED);
  /* The device itself recovered. */
  ck_assert_int_eq(D()->enqueue_read(other, a, 0, &back, 4), XHAL_OK);
  ck_assert_int_eq(D()->stream_synchronize(other), XHAL_OK);
  ck_assert_uint_eq(back, 1);
  ck_assert_int_eq(g_host.lost_reports, 0);
  D()->event_destroy(ok_ev);
  D()->event_destroy(bad_ev);
  D()->event_destroy(waiter_ev);
  D()->buffer_free(g_host.dev, a);
  D()->stream_destroy(s);
  D()->stream_destroy(w);
  D()->stream_destroy(other);
  th_close();
}
END_TEST

START_TEST(injected_hang_is_caught_by_the_watchdog) {
  xhal_plugin_stream_t s, other;
  xhal_plugin_buffer_t a;
  xhal_plugin_event_t e;
  uint32_t v = 5, back = 0;
  struct timespec t0;
  /* Command 1 is the write's DMA, 2 its fence, 3 the event's fence... the
   * third command hangs. */
  th_config("hang", "fault.hang_at = 3\ndriver.watchdog_ms = 200\n");
  th_open();
  s = new_stream();
  other = new_stream();
  a = alloc_buf(64);
  ck_assert_int_eq(D()->enqueue_write(s, a, 0, &v, 4), XHAL_OK);
  ck_assert_int_eq(D()->enqueue_write(s, a, 0, &v, 4), XHAL_OK);
  e = record(s);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ck_assert_int_eq(D()->event_wait(e, UINT64_MAX), XHAL_ERROR_EXECUTION_FAILED);
  ck_assert_uint_lt(ms_since(&t0), 5000);
  ck_assert_int_eq(D()->enqueue_read(other, a, 0, &back, 4), XHAL_OK);
  ck_assert_int_eq(D()->stream_synchronize(other), XHAL_OK);
  ck_assert_uint_eq(back, 5);
  D()->event_destroy(e);
  D()->buffer_free(g_host.dev, a);
  D()->stream_destroy(s);
  D()->stream_destroy(other);
  th_close();
}
END_TEST

/* The watchdog times a command from when it first sees it running. A
 * device whose first command is still running at the watchdog's first
 * look (a large transfer right after open) must not count from time 0. */
START_TEST(first_command_is_not_taken_for_a_hang) {
  enum { kBytes = 256u << 20 };
  xhal_plugin_stream_t s;
  xhal_plugin_buffer_t a;
  uint8_t* host = malloc(kBytes);
  ck_assert_ptr_nonnull(host);
  memset(host, 7, kBytes);
  th_config("first", "driver.watchdog_ms = 60000\n");
  th_open();
  s = new_stream();
  a = alloc_buf(kBytes);
  ck_assert_int_eq(D()->enqueue_write(s, a, 0, host, kBytes), XHAL_OK);
  ck_assert_int_eq(D()->stream_synchronize(s), XHAL_OK);
  D()->buffer_free(g_host.dev, a);
  D()->stream_destroy(s);
  th_close();
  free(host);
}
END_TEST

START_TEST(injected_device_loss) {
  xhal_plugin_stream_t s;
  xhal_plugin_buffer_t a;
  xhal_plugin_event_t e;
  xhal_status_t st;
  uint32_t v = 5;
  th_config("lost", "fault.device_lost_at = 2\n");
  th_open();
  s = new_stream();
  a = alloc_buf(64);
  ck_assert_int_eq(D()->enqueue_write(s, a, 0, &v, 4), XHAL_OK);
  ck_assert_int_eq(D()->event_create(g_host.dev, &e), XHAL_OK);
  /* The loss may already have been noticed when the event is recorded. */
  st = D()->event_record(e, s);
  if (st == XHAL_OK) {
    ck_assert_int_eq(D()->event_wait(e, UINT64_MAX), XHAL_ERROR_DEVICE_LOST);
  } else {
    ck_assert_int_eq(st, XHAL_ERROR_DEVICE_LOST);
  }
  ck_assert_int_eq(D()->stream_synchronize(s), XHAL_ERROR_DEVICE_LOST);
  ck_assert_int_eq(D()->enqueue_write(s, a, 0, &v, 4), XHAL_ERROR_DEVICE_LOST);
  ck_assert_int_eq(g_host.lost_reports, 1);
  D()->event_destroy(e);
  D()->buffer_free(g_host.dev, a);
  D()->stream_destroy(s);
  th_close();
}
END_TEST

START_TEST(bad_config_fails_init) {
  xhal_plugin_context_t ctx = NULL;
  const char* path = getenv("NPU_PLUGIN_PATH");
  void* so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  xhal_plugin_query_fn q;
  const xhal_plugin_dispatch_t* d;
  th_config("bad", "array.rows = 0\n");
  ck_assert_ptr_nonnull(so);
  *(void**)&q = dlsym(so, XHAL_PLUGIN_QUERY_SYMBOL);
  ck_assert_int_eq(q(XHAL_ABI_VERSION_MAJOR + 1, 0, &d),
                   XHAL_ERROR_ABI_MISMATCH);
  ck_assert_int_eq(q(XHAL_ABI_VERSION_MAJOR, 0, &d), XHAL_OK);
  memset(&g_host, 0, sizeof(g_host));
  g_host.services.struct_size = (uint32_t)sizeof(g_host.services);
  g_host.services.host_context = &g_host;
  g_host.services.register_op_impl = th_register;
  g_host.services.set_error = th_set_error;
  ck_assert_int_eq(d->init(&g_host.services, &ctx),
                   XHAL_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(g_host.last_error, "array.rows"));
  th_config("bad2", "driver.watchdog_ms = soon\n");
  ck_assert_int_eq(d->init(&g_host.services, &ctx),
                   XHAL_ERROR_INVALID_ARGUMENT);
  dlclose(so);
}
END_TEST

static Suite* npu_suite(void) {
  Suite* s = suite_create("npu_plugin");
  TCase* basic = tcase_create("basic");
  TCase* ops = tcase_create("ops");
  TCase* faults = tcase_create("faults");
  tcase_add_checked_fixture(basic, setup_default, teardown);
  tcase_set_timeout(basic, 60);
  tcase_add_test(basic, properties);
  tcase_add_test(basic, transfers_and_bad_ranges);
  tcase_add_test(basic, allocator_reuses_freed_memory);
  tcase_add_test(basic, elapsed_is_simulated_time);
  tcase_add_test(basic, host_func_orders_and_event_wait_times_out);
  tcase_add_test(basic, failed_host_func_fails_the_stream);
  tcase_add_loop_test(basic, undefined_host_func_status_is_execution_failed, 0,
                      2);
  tcase_add_test(basic, blocked_host_func_holds_only_its_stream);
  tcase_add_test(basic, bad_handles_and_flags);
  tcase_add_test(basic, concurrent_streams);
  tcase_add_checked_fixture(ops, setup_default, teardown);
  tcase_set_timeout(ops, 120);
  tcase_add_loop_test(ops, matmul_matches_reference, 0,
                      (int)(sizeof(kMatmul) / sizeof(kMatmul[0])));
  tcase_add_loop_test(ops, vector_ops_match_reference, 0, 2);
  tcase_add_loop_test(ops, conv2d_matches_reference, 0,
                      (int)(sizeof(kConv) / sizeof(kConv[0])));
  tcase_add_test(ops, unsupported_shapes_go_elsewhere);
  tcase_set_timeout(faults, 60);
  tcase_add_test(faults, injected_dma_fault_fails_event);
  tcase_add_test(faults, injected_hang_is_caught_by_the_watchdog);
  tcase_add_test(faults, first_command_is_not_taken_for_a_hang);
  tcase_add_test(faults, injected_device_loss);
  tcase_add_test(faults, bad_config_fails_init);
  suite_add_tcase(s, basic);
  suite_add_tcase(s, ops);
  suite_add_tcase(s, faults);
  return s;
}

int main(void) {
  SRunner* sr = srunner_create(npu_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
