/*
 * suite_kernels.c - operator implementations against the reference
 * kernels (docs/abi.md, R-KRN-*).
 *
 * Every implementation the plugin registered is tested on its own,
 * through its enqueue entry on a plugin stream (the direct harness), not
 * only the one libxhal's registry would pick: a lower-priority kernel is
 * still shipped code. Each operand lives in its own buffer between guard
 * bytes, so a kernel that writes outside its output, or into an input, is
 * caught; results are compared with conformance/reference/ under the
 * catalog's tolerances (docs/ops.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xhal_reference.h>

#include "cts.h"
#include "kernel_cases.h"
#include "kernel_limits.h"

enum { kGuard = 64, kOperands = XHAL_MAX_OP_INPUTS + 1 };
static const uint8_t kGuardByte = 0xA5;

/* ------------------------------------------------------------ operands */

typedef struct operand {
  uint64_t offset; /* byte offset of element 0 in its buffer */
  uint64_t bytes;  /* the tensor's bytes */
  uint64_t total;  /* the buffer's bytes */
  uint8_t* image;  /* what was written: guard, data, guard */
  uint8_t* back;   /* what was read back */
} operand_t;

/* Special values planted in a float input: NaN, the infinities, signed
 * zeros, values that overflow f16, exp or the integer types, large
 * magnitudes on both sides of every saturation point, and a subnormal.
 * Input 1 gets a second list, so that a binary operator meets each of
 * them on either side and x/0, 0/0, inf-inf and inf*0 too. They land at
 * random places (of a small tensor), so that a reduction or a softmax
 * meets them anywhere in a slice, not only first. */
static void plant_specials(cts_ctx_t* ctx, xhal_dtype_t dt, void* data,
                           uint64_t numel, uint32_t input) {
  static const double kFirst[] = {
      NAN,   INFINITY, -INFINITY, -0.0,  65520.0, 1e10,   -1e10,
      127.5, -128.5,   0.49,      100.0, -100.0,  1000.0, -1000.0,
      88.8,  -88.8,    20.0,      -20.0, 1e-40,   2.5e9,  -2.5e9};
  static const double kSecond[] = {
      0.0,  -0.0,  NAN,     1.0,    INFINITY, -INFINITY, 2.0,
      0.0,  -1e10, 3.0,     -100.0, NAN,      0.0,       1000.0,
      -0.0, 88.8,  -1000.0, 20.0,   INFINITY, 1e-40,     -2.0};
  const double* values = input == 0 ? kFirst : kSecond;
  const uint64_t count = input == 0 ? sizeof(kFirst) / sizeof(kFirst[0])
                                    : sizeof(kSecond) / sizeof(kSecond[0]);
  if (dt != XHAL_DTYPE_F32 && dt != XHAL_DTYPE_F16) return;
  enum { kShuffleMax = 4096 };
  uint32_t at[kShuffleMax];
  uint64_t span = numel < kShuffleMax ? numel : count;
  if (span > kShuffleMax) span = kShuffleMax;
  for (uint32_t i = 0; i < span; ++i) at[i] = i;
  for (uint32_t i = 0; i < span && i < count; ++i) {
    uint32_t j = (uint32_t)cts_rand_range(ctx, i, span - 1u);
    uint32_t t = at[i];
    at[i] = at[j];
    at[j] = t;
  }
  for (uint64_t i = 0; i < numel && i < count && i < span; ++i)
    xhal_ref_set(dt, data, at[i], values[i]);
}

/* Lays out operand i of the case: guard, data at an element-aligned
 * offset `extra` elements past the guard, guard. */
static void prepare(cts_ctx_t* ctx, const kc_case_t* kc, uint32_t i,
                    uint64_t extra, operand_t* op) {
  const xhal_plugin_op_call_t* call = &kc->call;
  int is_output = i == call->num_inputs;
  const xhal_tensor_desc_t* desc =
      is_output ? &call->outputs[0].desc : &call->inputs[i].desc;
  uint64_t elem = xhal_dtype_size(desc->dtype);
  op->bytes = xhal_ref_bytes(desc);
  if (op->bytes == UINT64_MAX) cts_fail("case %s: tensor too large", kc->desc);
  op->offset = kGuard + cts_mul(extra, elem);
  op->total = op->offset + op->bytes + kGuard;
  op->image = cts_alloc(op->total);
  op->back = cts_alloc(op->total);
  memset(op->image, kGuardByte, op->total);
  uint64_t numel = xhal_ref_numel(desc);
  uint8_t* data = op->image + op->offset;
  if (!is_output) {
    if (xhal_ref_fill_random(desc->dtype, data, numel, cts_rand(ctx), kc->lo[i],
                             kc->hi[i]) != XHAL_OK) {
      cts_fail("case %s: cannot draw input %u", kc->desc, i);
    }
    if (kc->specials & (1u << i))
      plant_specials(ctx, desc->dtype, data, numel, i);
  } else if (call->op == XHAL_OP_MATMUL && call->attrs.beta != 0.0f) {
    /* beta != 0 reads the prior output: give it defined values. */
    xhal_ref_fill_random(desc->dtype, data, numel, cts_rand(ctx), -1, 1);
  } else if (desc->dtype == XHAL_DTYPE_F32 || desc->dtype == XHAL_DTYPE_F16) {
    /* No operator reads its output otherwise (docs/ops.md: with beta = 0
     * NaN in the prior output does not propagate): NaN there shows any
     * result that does. */
    for (uint64_t e = 0; e < numel; ++e)
      xhal_ref_set(desc->dtype, data, e, NAN);
  }
}

static void release_operands(operand_t* ops, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    free(ops[i].image);
    free(ops[i].back);
    ops[i].image = ops[i].back = NULL;
  }
}

/* Compares the read-back operands with the reference and the guards;
 * fails the test with `who` and the case on the first problem. */
static void check_case(const kc_case_t* kc, operand_t* ops, const char* who) {
  const xhal_plugin_op_call_t* call = &kc->call;
  uint32_t n = call->num_inputs;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t at = cts_first_diff(ops[i].back, ops[i].image, ops[i].total);
    if (at != ops[i].total) {
      cts_fail(
          "%s, %s: input %u was modified (byte %llu of its buffer; data "
          "at %llu..%llu)",
          who, kc->desc, i, (unsigned long long)at,
          (unsigned long long)ops[i].offset,
          (unsigned long long)(ops[i].offset + ops[i].bytes));
    }
  }
  operand_t* out = &ops[n];
  for (uint64_t b = 0; b < out->total; ++b) {
    if (b == out->offset) b += out->bytes;
    if (b >= out->total) break;
    if (out->back[b] != out->image[b]) {
      cts_fail(
          "%s, %s: wrote outside its output: byte %lld relative to the "
          "output's first byte (output is %llu bytes)",
          who, kc->desc, (long long)b - (long long)out->offset,
          (unsigned long long)out->bytes);
    }
  }
  const void* inputs[XHAL_MAX_OP_INPUTS];
  for (uint32_t i = 0; i < n; ++i) inputs[i] = ops[i].image + ops[i].offset;
  uint8_t* want = cts_alloc(out->bytes);
  memcpy(want, out->image + out->offset, out->bytes);
  xhal_status_t s = xhal_ref_run(call, inputs, want);
  if (s != XHAL_OK) {
    cts_fail("the reference refused case %s (%s): a CTS defect", kc->desc,
             xhal_status_name(s));
  }
  xhal_dtype_t dt = call->outputs[0].desc.dtype;
  uint64_t numel = xhal_ref_numel(&call->outputs[0].desc);
  xhal_ref_tolerance_t tol = xhal_ref_tolerance(call);
  const uint8_t* got = out->back + out->offset;
  uint64_t bad = xhal_ref_compare(dt, got, want, numel, tol);
  if (bad != numel) {
    char why[256];
    xhal_ref_describe_mismatch(dt, got, want, bad, tol, why, sizeof(why));
    cts_fail("%s, %s: %s (of %llu elements)", who, kc->desc, why,
             (unsigned long long)numel);
  }
  free(want);
}

/* ------------------------------------------------- running a case direct */

static xhal_plugin_device_t impl_device(cts_direct_t* d,
                                        const xhal_plugin_op_impl_t* impl) {
  uint32_t index = impl->device_index == XHAL_PLUGIN_ALL_DEVICES
                       ? d->device_under_test
                       : impl->device_index;
  xhal_plugin_device_t dev = NULL;
  cts_ok(cts_direct_device(d, index, &dev), "device_open(%u)", index);
  return dev;
}

/* Runs one case on `impl` through the plugin's own entries. Returns 0 if
 * the implementation's supports() declined it. */
static int run_direct(cts_ctx_t* ctx, cts_direct_t* d,
                      const xhal_plugin_op_impl_t* impl, kc_case_t* kc,
                      uint64_t extra) {
  const xhal_plugin_dispatch_t* t = &d->table;
  xhal_plugin_device_t dev = impl_device(d, impl);
  xhal_plugin_op_call_t* call = &kc->call;
  if (impl->supports) {
    cts_step("%s: supports(%s)", impl->name, kc->desc);
    xhal_status_t s = impl->supports(impl->user_data, dev, call);
    if (s == XHAL_ERROR_UNSUPPORTED) return 0;
    cts_ok(s,
           "%s: supports(%s) must answer XHAL_OK or "
           "XHAL_ERROR_UNSUPPORTED",
           impl->name, kc->desc);
  }
  uint32_t count = call->num_inputs + 1u;
  operand_t ops[kOperands];
  xhal_plugin_buffer_t bufs[kOperands];
  memset(ops, 0, sizeof(ops));
  xhal_plugin_stream_t stream = NULL;
  cts_ok(t->stream_create(dev, 0, &stream), "stream_create");
  for (uint32_t i = 0; i < count; ++i) {
    prepare(ctx, kc, i, extra, &ops[i]);
    cts_ok(t->buffer_alloc(dev, ops[i].total, 0, &bufs[i]),
           "buffer_alloc(%llu) for operand %u",
           (unsigned long long)ops[i].total, i);
    cts_ok(t->enqueue_write(stream, bufs[i], 0, ops[i].image, ops[i].total),
           "write operand %u", i);
    xhal_plugin_tensor_t* tensor =
        i < call->num_inputs ? &call->inputs[i] : &call->outputs[0];
    tensor->buffer = bufs[i];
    tensor->offset = ops[i].offset;
  }
  cts_step("%s: enqueue %s", impl->name, kc->desc);
  cts_ok(impl->enqueue(impl->user_data, stream, call), "%s: enqueue of %s",
         impl->name, kc->desc);
  for (uint32_t i = 0; i < count; ++i) {
    cts_ok(t->enqueue_read(stream, bufs[i], 0, ops[i].back, ops[i].total),
           "read operand %u", i);
  }
  cts_step("%s: stream_synchronize after %s", impl->name, kc->desc);
  cts_ok(t->stream_synchronize(stream), "%s: synchronize after %s", impl->name,
         kc->desc);
  check_case(kc, ops, impl->name);
  t->stream_destroy(stream);
  for (uint32_t i = 0; i < count; ++i) t->buffer_free(dev, bufs[i]);
  release_operands(ops, count);
  return 1;
}

/* The child's own registration of implementation `index`, checked to be
 * the one the probe saw (registration must not depend on the context). */
static const xhal_plugin_op_impl_t* impl_at(cts_ctx_t* ctx, cts_direct_t* d,
                                            uint32_t index) {
  const cts_probe_impl_t* seen = &ctx->run->probe->impls[index];
  uint32_t count = atomic_load(&d->impl_count);
  cts_check(index < count,
            "this context registered %u implementations, another %u", count,
            ctx->run->probe->impl_count);
  const xhal_plugin_op_impl_t* impl = &d->impls[index];
  cts_check(impl->op == seen->op && impl->num_dtypes == seen->num_dtypes &&
                impl->name && strcmp(impl->name, seen->name) == 0,
            "implementation %u differs between two contexts ('%s' op %u, "
            "then '%s' op %u)",
            index, seen->name, seen->op, impl->name ? impl->name : "(null)",
            impl->op);
  cts_check(impl->enqueue != NULL, "implementation '%s' has no enqueue",
            seen->name);
  return impl;
}

static void run_variant(cts_ctx_t* ctx, uint32_t index, kc_variant_t variant,
                        uint64_t extra_elems) {
  cts_direct_t* d = cts_direct(ctx);
  const xhal_plugin_op_impl_t* impl = impl_at(ctx, d, index);
  uint32_t ran = 0;
  uint32_t tried = 0;
  for (uint32_t c = 0; c < kc_case_count(variant); ++c) {
    kc_case_t kc;
    if (!kc_build(ctx, impl->op, impl->dtypes, impl->num_dtypes, variant, c,
                  &kc)) {
      continue;
    }
    ++tried;
    /* Odd element offsets (bounds): 1, 3, 7, ... elements past the
     * guard. */
    uint64_t extra = extra_elems ? extra_elems * (2u * c + 1u) : 0;
    ran += (uint32_t)run_direct(ctx, d, impl, &kc, extra);
  }
  if (tried == 0) {
    cts_fail(
        "the CTS has no %s case for signature of '%s' (op %u with %u "
        "dtypes): the signature is not in the catalog",
        variant == KC_EDGE ? "edge" : "random", impl->name, impl->op,
        impl->num_dtypes);
  }
  if (ran == 0) {
    cts_skip(
        "shapes the implementation's supports() accepts (it declined "
        "all %u)",
        tried);
  }
}

static void variant_random(cts_ctx_t* ctx, uint32_t index) {
  run_variant(ctx, index, KC_RANDOM, 0);
}
static void variant_edge(cts_ctx_t* ctx, uint32_t index) {
  run_variant(ctx, index, KC_EDGE, 0);
}
static void variant_bounds(cts_ctx_t* ctx, uint32_t index) {
  run_variant(ctx, index, KC_RANDOM, 1);
}
static void variant_large(cts_ctx_t* ctx, uint32_t index) {
  run_variant(ctx, index, KC_LARGE, 0);
}

const cts_kernel_variant_t cts_kernel_variants[] = {
    {"random", "R-KRN-3", CTS_PROFILE_CORE, variant_random, 0},
    {"edge", "R-KRN-4", CTS_PROFILE_CORE, variant_edge, 0},
    {"bounds", "R-KRN-5", CTS_PROFILE_CORE, variant_bounds, 0},
    {"large", "R-KRN-3", CTS_PROFILE_OPTIONAL, variant_large, 4.0},
};
const uint32_t cts_kernel_variant_count =
    sizeof(cts_kernel_variants) / sizeof(cts_kernel_variants[0]);

/* -------------------------------------------------------- static tests */

static cts_direct_t* direct_with_impls(cts_ctx_t* ctx) {
  cts_direct_t* d = cts_direct(ctx);
  if (atomic_load(&d->impl_count) == 0) {
    cts_skip("an operator implementation registered by the plugin");
  }
  return d;
}

int cts_signature_valid(cts_ctx_t* ctx, const xhal_plugin_op_impl_t* impl,
                        char* why, size_t why_size) {
  kc_case_t kc;
  for (uint32_t c = 0; c < kc_case_count(KC_EDGE); ++c) {
    if (!kc_build(ctx, impl->op, impl->dtypes, impl->num_dtypes, KC_EDGE, c,
                  &kc)) {
      continue;
    }
    xhal_op_call_t call;
    xhal_op_call_init(&call, kc.call.op);
    call.num_inputs = kc.call.num_inputs;
    call.attrs = kc.call.attrs;
    for (uint32_t i = 0; i < kc.call.num_inputs; ++i)
      call.inputs[i].desc = kc.call.inputs[i].desc;
    call.outputs[0].desc = kc.call.outputs[0].desc;
    xhal_status_t s = xhal_op_validate(&call);
    if (s == XHAL_OK) return 1;
    snprintf(why, why_size, "%s: %s", xhal_status_name(s), xhal_last_error());
    return 0;
  }
  snprintf(why, why_size, "no call of the catalog has this signature");
  return 0;
}

static void test_impls_wellformed(cts_ctx_t* ctx) {
  cts_direct_t* d = direct_with_impls(ctx);
  uint32_t count = atomic_load(&d->impl_count);
  cts_check(atomic_load(&d->impls_dropped) == 0,
            "the plugin registered more than %d implementations",
            CTS_DIRECT_MAX_IMPLS);
  for (uint32_t i = 0; i < count; ++i) {
    const xhal_plugin_op_impl_t* impl = &d->impls[i];
    const char* name = impl->name ? impl->name : "(null)";
    cts_check(impl->struct_size >= XHAL_PLUGIN_OP_IMPL_SIZE_1_0,
              "implementation %u ('%s'): struct_size %u below the 1.0 size "
              "%u",
              i, name, impl->struct_size, XHAL_PLUGIN_OP_IMPL_SIZE_1_0);
    cts_check(impl->name != NULL && impl->name[0] != '\0',
              "implementation %u has no name", i);
    cts_check(impl->enqueue != NULL, "implementation '%s' has no enqueue",
              name);
    cts_check(impl->device_index == XHAL_PLUGIN_ALL_DEVICES ||
                  impl->device_index < d->device_count,
              "implementation '%s' names device %u of %u", name,
              impl->device_index, d->device_count);
    if (impl->op >= XHAL_OP_CUSTOM_BASE) continue;
    cts_check(kc_op_known(impl->op),
              "implementation '%s': op %u is neither a catalog op nor a "
              "custom id",
              name, impl->op);
    char why[512];
    cts_check(cts_signature_valid(ctx, impl, why, sizeof(why)),
              "implementation '%s' (%s): its dtype signature is not one of "
              "the catalog's: %s",
              name, kc_op_name(impl->op), why);
  }
}

static void test_impls_dtypes_in_mask(cts_ctx_t* ctx) {
  cts_direct_t* d = direct_with_impls(ctx);
  uint32_t count = atomic_load(&d->impl_count);
  for (uint32_t i = 0; i < count; ++i) {
    const xhal_plugin_op_impl_t* impl = &d->impls[i];
    for (uint32_t dev = 0; dev < d->device_count; ++dev) {
      if (impl->device_index != XHAL_PLUGIN_ALL_DEVICES &&
          impl->device_index != dev)
        continue;
      xhal_device_properties_t p;
      memset(&p, 0, sizeof(p));
      p.struct_size = (uint32_t)sizeof(p);
      cts_ok(d->table.device_properties(d->context, dev, &p),
             "device_properties(%u)", dev);
      for (uint32_t k = 0; k < impl->num_dtypes && k < 5; ++k) {
        xhal_dtype_t dt = impl->dtypes[k];
        if (dt == XHAL_DTYPE_INVALID || dt >= 32) continue;
        cts_check((p.dtypes & XHAL_DTYPE_BIT(dt)) != 0,
                  "implementation '%s' uses %s, which device %u's dtypes "
                  "mask 0x%x lacks",
                  impl->name, xhal_ref_dtype_name(dt), dev, p.dtypes);
      }
    }
  }
}

static void test_supports_answers(cts_ctx_t* ctx) {
  cts_direct_t* d = direct_with_impls(ctx);
  uint32_t count = atomic_load(&d->impl_count);
  uint32_t asked = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const xhal_plugin_op_impl_t* impl = &d->impls[i];
    if (!impl->supports || !kc_op_known(impl->op)) continue;
    xhal_plugin_device_t dev = impl_device(d, impl);
    for (uint32_t c = 0; c < kc_case_count(KC_EDGE); ++c) {
      kc_case_t kc;
      if (!kc_build(ctx, impl->op, impl->dtypes, impl->num_dtypes, KC_EDGE, c,
                    &kc))
        continue;
      cts_step("%s: supports(%s)", impl->name, kc.desc);
      xhal_status_t first = impl->supports(impl->user_data, dev, &kc.call);
      xhal_status_t second = impl->supports(impl->user_data, dev, &kc.call);
      cts_check(first == XHAL_OK || first == XHAL_ERROR_UNSUPPORTED,
                "%s: supports(%s) answered %s", impl->name, kc.desc,
                xhal_status_name(first));
      cts_check(first == second, "%s: supports(%s) answered %s, then %s",
                impl->name, kc.desc, xhal_status_name(first),
                xhal_status_name(second));
      ++asked;
    }
  }
  if (asked == 0) cts_skip("an implementation with a supports() predicate");
}

/* One case run through libxhal: lookup, enqueue_op, compare. With
 * `may_decline` (an implementation with a supports() predicate), a lookup
 * that finds none of the plugin's implementations for the case is not a
 * failure: nothing runs and 0 is returned. */
static int run_hal(cts_ctx_t* ctx, xhal_device_t dev, kc_case_t* kc,
                   int may_decline) {
  xhal_plugin_op_call_t* pc = &kc->call;
  xhal_op_call_t call;
  xhal_op_call_init(&call, pc->op);
  call.num_inputs = pc->num_inputs;
  call.attrs = pc->attrs;
  uint32_t count = pc->num_inputs + 1u;
  operand_t ops[kOperands];
  xhal_buffer_t bufs[kOperands];
  memset(ops, 0, sizeof(ops));
  xhal_stream_t stream = cts_stream(dev);
  for (uint32_t i = 0; i < count; ++i) {
    prepare(ctx, kc, i, 0, &ops[i]);
    bufs[i] = cts_buffer(ctx, dev, ops[i].total, 0);
    cts_ok(xhal_stream_enqueue_write(stream, bufs[i], 0, ops[i].image,
                                     ops[i].total),
           "write operand %u", i);
    xhal_tensor_t* t = i < pc->num_inputs ? &call.inputs[i] : &call.outputs[0];
    t->desc = i < pc->num_inputs ? pc->inputs[i].desc : pc->outputs[0].desc;
    t->buffer = bufs[i];
    t->offset = ops[i].offset;
  }
  xhal_op_impl_t impl = NULL;
  xhal_status_t found = xhal_registry_lookup(dev, &call, &impl);
  xhal_op_impl_info_t info;
  memset(&info, 0, sizeof(info));
  info.struct_size = (uint32_t)sizeof(info);
  if (found == XHAL_OK) {
    cts_ok(xhal_op_impl_info(impl, &info), "xhal_op_impl_info");
  }
  if (may_decline && (found == XHAL_ERROR_NOT_FOUND ||
                      (found == XHAL_OK && !info.from_plugin))) {
    /* The writes above read the host images until they complete. */
    cts_ok(xhal_stream_synchronize(stream), "synchronize the operand writes");
    for (uint32_t i = 0; i < count; ++i) xhal_buffer_release(bufs[i]);
    release_operands(ops, count);
    xhal_stream_release(stream);
    return 0;
  }
  cts_ok(found, "xhal_registry_lookup of %s", kc->desc);
  cts_check(info.from_plugin,
            "the registry picked a framework implementation for %s", kc->desc);
  cts_step("xhal_stream_enqueue_op %s with '%s'", kc->desc, info.name);
  cts_ok(xhal_stream_enqueue_op(stream, impl, &call), "enqueue_op %s",
         kc->desc);
  for (uint32_t i = 0; i < count; ++i) {
    cts_ok(
        xhal_stream_enqueue_read(stream, bufs[i], 0, ops[i].back, ops[i].total),
        "read operand %u", i);
  }
  cts_step("synchronize after enqueue_op %s", kc->desc);
  cts_ok(xhal_stream_synchronize(stream), "synchronize after %s", kc->desc);
  check_case(kc, ops, info.name);
  for (uint32_t i = 0; i < count; ++i) xhal_buffer_release(bufs[i]);
  release_operands(ops, count);
  xhal_stream_release(stream);
  return 1;
}

/* The first test to run every implementation the plugin registered: on
 * a cold driver cache it carries the first build of each operator
 * program and whatever a plugin measures once per device (the OpenCL
 * plugin's tile autotune on PoCL takes tens of seconds of CPU), so its
 * bound is six timeouts rather than one. The later tests find the
 * programs built and keep the plain bound. */
static void test_registry_lookup(cts_ctx_t* ctx) {
  const cts_probe_t* probe = ctx->run->probe;
  if (probe->impl_count == 0) {
    cts_skip("an operator implementation registered by the plugin");
  }
  xhal_device_t dev = cts_device(ctx);
  uint32_t ran = 0;
  for (uint32_t i = 0; i < probe->impl_count; ++i) {
    const cts_probe_impl_t* impl = &probe->impls[i];
    if (!kc_op_known(impl->op)) continue;
    if (impl->device_index != ctx->run->device &&
        impl->device_index != XHAL_PLUGIN_ALL_DEVICES)
      continue;
    /* Once per (op, signature): a second implementation of the same
     * signature is reached by priority, not by lookup. */
    int dup = 0;
    for (uint32_t j = 0; j < i && !dup; ++j) {
      dup = probe->impls[j].op == impl->op &&
            probe->impls[j].num_dtypes == impl->num_dtypes &&
            memcmp(probe->impls[j].dtypes, impl->dtypes,
                   sizeof(impl->dtypes)) == 0;
    }
    if (dup) continue;
    kc_case_t kc;
    if (!kc_build(ctx, impl->op, impl->dtypes, impl->num_dtypes, KC_RANDOM, 0,
                  &kc))
      continue;
    /* One with a supports() predicate may decline the case; it is run
     * when it takes it, so that its first use is paid here too. */
    ran += (uint32_t)run_hal(ctx, dev, &kc, impl->has_supports);
  }
  if (ran == 0) {
    cts_skip("an implementation on this device that takes a random case");
  }
}

static const char kVaddSource[] =
    "__kernel void vadd(__global const float* a, __global const float* b,\n"
    "                   __global float* c, const uint n) {\n"
    "  size_t i = get_global_id(0);\n"
    "  if (i < n) c[i] = a[i] + b[i];\n"
    "}\n";

/* The same in CUDA C, for devices with XHAL_CAP_KERNEL_LANG_CUDA_C. */
static const char kVaddCudaSource[] =
    "extern \"C\" __global__ void vadd(const float* a, const float* b,\n"
    "                                  float* c, unsigned n) {\n"
    "  unsigned i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n) c[i] = a[i] + b[i];\n"
    "}\n";

static void test_custom_program(cts_ctx_t* ctx) {
  xhal_device_t dev = cts_device(ctx);
  enum { kN = 1000 };
  char log[4096] = "";
  xhal_device_properties_t props;
  cts_ok(xhal_device_properties(dev, &props), "device_properties");
  /* OpenCL C where the device has it, else CUDA C. */
  const int cuda = !(props.capabilities & XHAL_CAP_KERNEL_LANG_OPENCL_C) &&
                   (props.capabilities & XHAL_CAP_KERNEL_LANG_CUDA_C);
  xhal_program_desc_t desc;
  xhal_program_desc_default(&desc);
  desc.language =
      cuda ? XHAL_KERNEL_LANGUAGE_CUDA_C : XHAL_KERNEL_LANGUAGE_OPENCL_C;
  desc.source = cuda ? kVaddCudaSource : kVaddSource;
  desc.log = log;
  desc.log_capacity = sizeof(log);
  xhal_program_t program = NULL;
  cts_step("program_build of a vector add");
  cts_ok(xhal_program_build(dev, &desc, &program), "program_build: %s", log);
  xhal_kernel_t kernel = NULL;
  cts_ok(xhal_kernel_create(program, "vadd", &kernel), "kernel_create(vadd)");
  xhal_kernel_t missing = NULL;
  cts_expect(xhal_kernel_create(program, "no_such_kernel", &missing),
             XHAL_ERROR_NOT_FOUND, "kernel_create of an unknown name");
  float a[kN], b[kN], c[kN];
  for (int i = 0; i < kN; ++i) {
    a[i] = (float)i;
    b[i] = (float)(2 * i + 1);
  }
  xhal_stream_t stream = cts_stream(dev);
  xhal_buffer_t ba = cts_buffer(ctx, dev, sizeof(a), 0);
  xhal_buffer_t bb = cts_buffer(ctx, dev, sizeof(b), 0);
  xhal_buffer_t bc = cts_buffer(ctx, dev, sizeof(c), 0);
  cts_ok(xhal_stream_enqueue_write(stream, ba, 0, a, sizeof(a)), "write a");
  cts_ok(xhal_stream_enqueue_write(stream, bb, 0, b, sizeof(b)), "write b");
  uint32_t n = kN;
  xhal_kernel_arg_t args[4];
  memset(args, 0, sizeof(args));
  args[0].kind = args[1].kind = args[2].kind = XHAL_KERNEL_ARG_BUFFER;
  args[0].buffer = ba;
  args[1].buffer = bb;
  args[2].buffer = bc;
  args[3].kind = XHAL_KERNEL_ARG_SCALAR;
  args[3].size = sizeof(n);
  args[3].value = &n;
  xhal_launch_t launch;
  memset(&launch, 0, sizeof(launch));
  launch.struct_size = (uint32_t)sizeof(launch);
  launch.work_dim = 1;
  launch.global_size[0] = kN;
  cts_step("enqueue_kernel vadd");
  cts_ok(xhal_stream_enqueue_kernel(stream, kernel, &launch, args, 4),
         "enqueue_kernel");
  cts_read_sync(stream, bc, 0, c, sizeof(c));
  for (int i = 0; i < kN; ++i) {
    cts_check(c[i] == a[i] + b[i], "vadd element %d is %g, want %g", i,
              (double)c[i], (double)(a[i] + b[i]));
  }
  desc.source = cuda
                    ? "extern \"C\" __global__ void broken(int* p) { p[0] = ; }"
                    : "__kernel void broken(__global int* p) { p[0] = ; }";
  log[0] = '\0';
  xhal_program_t bad = NULL;
  cts_expect(xhal_program_build(dev, &desc, &bad), XHAL_ERROR_BUILD_FAILED,
             "program_build of invalid source");
  cts_check(log[0] != '\0', "a failed build left the log empty");
  xhal_kernel_release(kernel);
  xhal_program_release(program);
  xhal_buffer_release(ba);
  xhal_buffer_release(bb);
  xhal_buffer_release(bc);
  xhal_stream_release(stream);
}

static const cts_test_t kTests[] = {
    {"impls_wellformed", "R-KRN-1", CTS_PROFILE_CORE, CTS_NEED_IMPL,
     test_impls_wellformed, 0},
    {"impls_dtypes_in_mask", "R-KRN-2", CTS_PROFILE_CORE, CTS_NEED_IMPL,
     test_impls_dtypes_in_mask, 0},
    {"supports_answers", "R-KRN-6", CTS_PROFILE_CORE, CTS_NEED_SUPPORTS_IMPL,
     test_supports_answers, 0},
    {"registry_lookup", "R-KRN-7", CTS_PROFILE_CORE, CTS_NEED_PLAIN_IMPL,
     test_registry_lookup, 6.0},
    {"limits_match_supports", "R-KRN-9", CTS_PROFILE_CORE, CTS_NEED_NONE,
     cts_test_limits_match_supports, 0},
    {"registry_listing", "R-KRN-10", CTS_PROFILE_CORE, CTS_NEED_NONE,
     cts_test_registry_listing, 0},
    {"custom_program", "R-KRN-8", CTS_PROFILE_CORE, CTS_NEED_KERNEL_LANG,
     test_custom_program, 0},
};

const cts_suite_t cts_suite_kernels = {"kernels", kTests,
                                       sizeof(kTests) / sizeof(kTests[0])};
