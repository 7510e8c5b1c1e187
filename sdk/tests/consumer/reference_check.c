/*
 * An out-of-tree program that checks a device's result with the installed
 * reference checker (<xhal/xhal_reference.h>, libxhal_reference), the way
 * the conformance suite does: a matmul with bias, alpha and beta computed
 * through xhal on the first device that runs it (the CPU plugin is the
 * fallback), compared with xhal_ref_run under xhal_ref_tolerance. Then the
 * same comparison must reject a result with one element moved past the
 * tolerance: a checker that accepts everything fails this program.
 * Exits 0 when both hold, 1 otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal.h>
#include <xhal/xhal_reference.h>

enum { M = 37, K = 53, N = 29 };

static int fail(const char* what) {
  fprintf(stderr, "reference_check: %s: %s\n", what, xhal_last_error());
  return 1;
}

/* The call's shapes, as libxhal takes them and as the reference does. */
static void describe(xhal_op_call_t* call, xhal_plugin_op_call_t* ref) {
  const uint64_t dims[4][2] = {{M, K}, {K, N}, {N, 0}, {M, N}};
  const uint32_t ranks[4] = {2, 2, 1, 2};
  xhal_op_call_init(call, XHAL_OP_MATMUL);
  xhal_ref_call_init(ref, XHAL_OP_MATMUL);
  call->num_inputs = ref->num_inputs = 3;
  call->attrs.alpha = ref->attrs.alpha = 0.5f;
  call->attrs.beta = ref->attrs.beta = 2.0f;
  for (int i = 0; i < 4; ++i) {
    xhal_tensor_desc_t d = xhal_ref_desc(XHAL_DTYPE_F32, ranks[i], dims[i]);
    if (i < 3) {
      call->inputs[i].desc = ref->inputs[i].desc = d;
    } else {
      call->outputs[0].desc = ref->outputs[0].desc = d;
    }
  }
}

int main(void) {
  static float a[M * K], b[K * N], bias[N], prior[M * N], got[M * N],
      want[M * N];
  const uint64_t counts[4] = {M * K, K * N, N, M * N};
  float* host[4] = {a, b, bias, prior};
  for (int i = 0; i < 4; ++i) {
    if (xhal_ref_fill_random(XHAL_DTYPE_F32, host[i], counts[i], 11u + i, -1.0,
                             1.0) != XHAL_OK) {
      fprintf(stderr, "reference_check: xhal_ref_fill_random failed\n");
      return 1;
    }
  }
  xhal_op_call_t call;
  xhal_plugin_op_call_t ref;
  describe(&call, &ref);

  xhal_instance_t instance = NULL;
  if (xhal_instance_create(NULL, &instance) != XHAL_OK) return fail("instance");
  xhal_device_t device = NULL;
  xhal_op_impl_t impl = NULL;
  if (xhal_registry_select(instance, &call, NULL, 0, &device, &impl) !=
      XHAL_OK) {
    return fail("no device runs matmul f32");
  }
  xhal_op_impl_info_t info = {.struct_size = sizeof(info)};
  if (xhal_op_impl_info(impl, &info) != XHAL_OK) return fail("impl info");
  xhal_stream_t stream = NULL;
  xhal_buffer_t bufs[4] = {NULL, NULL, NULL, NULL};
  if (xhal_stream_create(device, &stream) != XHAL_OK) return fail("stream");
  for (int i = 0; i < 4; ++i) {
    if (xhal_buffer_alloc(device, counts[i] * 4, 0, &bufs[i]) != XHAL_OK ||
        xhal_stream_enqueue_write(stream, bufs[i], 0, host[i], counts[i] * 4) !=
            XHAL_OK) {
      return fail("upload");
    }
    xhal_tensor_t* t = i < 3 ? &call.inputs[i] : &call.outputs[0];
    t->buffer = bufs[i];
  }
  if (xhal_stream_enqueue_op(stream, impl, &call) != XHAL_OK ||
      xhal_stream_enqueue_read(stream, bufs[3], 0, got, sizeof(got)) !=
          XHAL_OK ||
      xhal_stream_synchronize(stream) != XHAL_OK) {
    return fail("matmul through xhal");
  }

  /* The reference reads the prior output (beta != 0) from `want`. */
  memcpy(want, prior, sizeof(want));
  const void* inputs[3] = {a, b, bias};
  if (xhal_ref_run(&ref, inputs, want) != XHAL_OK) {
    fprintf(stderr, "reference_check: xhal_ref_run refused the call\n");
    return 1;
  }
  xhal_ref_tolerance_t tol = xhal_ref_tolerance(&ref);
  uint64_t bad = xhal_ref_compare(XHAL_DTYPE_F32, got, want, M * N, tol);
  int rc = 0;
  if (bad != M * N) {
    char msg[256];
    xhal_ref_describe_mismatch(XHAL_DTYPE_F32, got, want, bad, tol, msg,
                               sizeof(msg));
    fprintf(stderr, "reference_check: '%s' differs from the reference: %s\n",
            info.name, msg);
    rc = 1;
  }
  /* A wrong result must be caught: element 100 moved well past the
   * tolerance (abs + rel * |want|, times four). */
  got[100] =
      want[100] + (float)(4.0 * (tol.abs + tol.rel * fabs(want[100])) + 1e-3);
  bad = xhal_ref_compare(XHAL_DTYPE_F32, got, want, M * N, tol);
  if (bad != 100) {
    fprintf(stderr,
            "reference_check: a result perturbed at element 100 was %s\n",
            bad == M * N ? "accepted" : "rejected at another element");
    rc = 1;
  }
  printf(
      "matmul %dx%dx%d on '%s' (%s): %s the reference (abs %g, rel %g); "
      "perturbed result rejected at element %llu\n",
      M, K, N, info.name, xhal_device_plugin_name(device),
      rc ? "DIFFERS from" : "matches", tol.abs, tol.rel,
      (unsigned long long)bad);
  for (int i = 0; i < 4; ++i) xhal_buffer_release(bufs[i]);
  xhal_stream_release(stream);
  xhal_instance_release(instance);
  return rc;
}
