/*
 * faulty_ops.c - the faulty plugin's operators: add f32 with numpy
 * broadcasting and matmul f32 (transposes, alpha, beta, bias), computed
 * on the stream's worker in stream order, and their registration with the
 * host. Three defects live here (WRONG_MATMUL, CRASH_LAUNCH,
 * LYING_LIMITS; see faulty_plugin.c).
 */
#include <stdint.h>
#include <string.h>

#include "faulty_internal.h"

#ifdef XHAL_FAULT_CRASH_LAUNCH
static volatile uintptr_t kNowhere = 0;
#endif

/* ------------------------------------------------------------ operators */

static uint64_t numel(const xhal_tensor_desc_t* d) {
  uint64_t n = 1;
  for (uint32_t i = 0; i < d->rank; ++i) n *= d->dims[i];
  return n;
}

static float* tensor_f32(const xhal_plugin_tensor_t* t) {
  return (float*)(void*)(t->buffer->data + t->offset);
}

static xhal_status_t run_add(const xhal_plugin_op_call_t* c) {
  const xhal_tensor_desc_t* od = &c->outputs[0].desc;
  const float* a = tensor_f32(&c->inputs[0]);
  const float* b = tensor_f32(&c->inputs[1]);
  float* y = tensor_f32(&c->outputs[0]);
  uint64_t n = numel(od);
  for (uint64_t i = 0; i < n; ++i) {
    /* Unravel i over the output's dims, then index each input with numpy
     * broadcasting (dims aligned at the end, size-1 dims repeat). */
    uint64_t rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
    for (uint32_t k = od->rank; k-- > 0;) {
      uint64_t idx = rem % od->dims[k];
      rem /= od->dims[k];
      uint32_t back = od->rank - 1u - k;
      const xhal_tensor_desc_t* ad = &c->inputs[0].desc;
      const xhal_tensor_desc_t* bd = &c->inputs[1].desc;
      if (back < ad->rank) {
        uint64_t dim = ad->dims[ad->rank - 1u - back];
        ia += (dim == 1 ? 0 : idx) * sa;
        sa *= dim;
      }
      if (back < bd->rank) {
        uint64_t dim = bd->dims[bd->rank - 1u - back];
        ib += (dim == 1 ? 0 : idx) * sb;
        sb *= dim;
      }
    }
    y[i] = a[ia] + b[ib];
  }
  return XHAL_OK;
}

static xhal_status_t run_matmul(const xhal_plugin_op_call_t* c) {
  const xhal_op_attrs_t* at = &c->attrs;
  const xhal_tensor_desc_t* ad = &c->inputs[0].desc;
  uint64_t m = c->outputs[0].desc.dims[0], n = c->outputs[0].desc.dims[1];
  uint64_t k = at->transpose_a ? ad->dims[0] : ad->dims[1];
  const float* a = tensor_f32(&c->inputs[0]);
  const float* b = tensor_f32(&c->inputs[1]);
  const float* bias = c->num_inputs > 2 ? tensor_f32(&c->inputs[2]) : NULL;
  float* y = tensor_f32(&c->outputs[0]);
  uint64_t kk = k;
#ifdef XHAL_FAULT_WRONG_MATMUL
  if (k % 2 == 1) kk = k - 1; /* DEFECT: the last product of odd K is lost */
#endif
  for (uint64_t i = 0; i < m; ++i) {
    for (uint64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (uint64_t p = 0; p < kk; ++p) {
        double av = at->transpose_a ? a[p * m + i] : a[i * k + p];
        double bv = at->transpose_b ? b[j * k + p] : b[p * n + j];
        sum += av * bv;
      }
      double out = (double)at->alpha * sum;
      if (at->beta != 0.0f) out += (double)at->beta * y[i * n + j];
      if (bias) out += bias[j];
      y[i * n + j] = (float)out;
    }
  }
  return XHAL_OK;
}

/* ------------------------------------------------------------ operators */

static xhal_status_t enqueue_op(
    xhal_plugin_stream_t s, const xhal_plugin_op_call_t* call,
    xhal_status_t (*op)(const xhal_plugin_op_call_t*)) {
  if (!s || !call) return XHAL_ERROR_INVALID_HANDLE;
  cmd_t* c = faulty_cmd_new(s, CMD_OP);
  if (!c) return XHAL_ERROR_OUT_OF_MEMORY;
  c->call = *call;
  c->op = op;
  for (uint32_t i = 0; i < call->num_inputs; ++i)
    faulty_cmd_hold(c, call->inputs[i].buffer);
  faulty_cmd_hold(c, call->outputs[0].buffer);
  return faulty_submit(s, c);
}

static xhal_status_t enqueue_add(void* user, xhal_plugin_stream_t s,
                                 const xhal_plugin_op_call_t* call) {
  (void)user;
#ifdef XHAL_FAULT_CRASH_LAUNCH
  /* DEFECT: the launch writes through NULL. The address is read from a
   * volatile so the compiler cannot prove it NULL and drop the store. */
  *(volatile int*)kNowhere = 1;
#endif
  return enqueue_op(s, call, run_add);
}

static xhal_status_t enqueue_matmul(void* user, xhal_plugin_stream_t s,
                                    const xhal_plugin_op_call_t* call) {
  (void)user;
  return enqueue_op(s, call, run_matmul);
}

/* add takes operands of rank 6 at most, and says so (R-KRN-9). */
enum { kAddMaxRank = 6 };

static xhal_status_t supports_add(void* user, xhal_plugin_device_t device,
                                  const xhal_plugin_op_call_t* call) {
  (void)user;
  (void)device;
  for (uint32_t i = 0; i < call->num_inputs; ++i) {
    if (call->inputs[i].desc.rank > kAddMaxRank) return XHAL_ERROR_UNSUPPORTED;
  }
  return call->outputs[0].desc.rank > kAddMaxRank ? XHAL_ERROR_UNSUPPORTED
                                                  : XHAL_OK;
}

static const xhal_op_limits_t kAddLimits = {
    .struct_size = sizeof(xhal_op_limits_t),
    .flags = XHAL_OP_LIMIT_RANK,
#ifdef XHAL_FAULT_LYING_LIMITS
    /* DEFECT: declares a lower rank limit than supports() applies. */
    .max_rank = kAddMaxRank - 1,
#else
    .max_rank = kAddMaxRank,
#endif
};

xhal_status_t faulty_register_ops(struct xhal_plugin_context* ctx) {
#ifdef XHAL_FAULT_NO_OPS
  /* Not a defect: no operator is required (docs/conformance.md). */
  (void)ctx;
  return XHAL_OK;
#endif
  if (!ctx->host.register_op_impl) return XHAL_OK;
  xhal_plugin_op_impl_t impl;
  memset(&impl, 0, sizeof(impl));
  impl.struct_size = (uint32_t)sizeof(impl);
  impl.supports = supports_add;
  impl.limits = &kAddLimits;
  impl.device_index = XHAL_PLUGIN_ALL_DEVICES;
  impl.user_data = ctx;
  impl.op = XHAL_OP_ADD;
  impl.num_dtypes = 3;
  impl.dtypes[0] = impl.dtypes[1] = impl.dtypes[2] = XHAL_DTYPE_F32;
  impl.name = "faulty.add.f32";
  impl.enqueue = enqueue_add;
  xhal_status_t s = ctx->host.register_op_impl(ctx->host.host_context, &impl);
  if (s != XHAL_OK) return s;
  /* matmul comes in a 1.0-sized record, as a plugin built against ABI
   * 1.3 registers it: every host must take it (no limits, no supports). */
  impl.struct_size = XHAL_PLUGIN_OP_IMPL_SIZE_1_0;
  impl.supports = NULL;
  impl.limits = NULL;
  impl.op = XHAL_OP_MATMUL;
  impl.num_dtypes = 4;
  impl.dtypes[3] = XHAL_DTYPE_F32;
  impl.name = "faulty.matmul.f32";
  impl.enqueue = enqueue_matmul;
  return ctx->host.register_op_impl(ctx->host.host_context, &impl);
}
