/*
 * kernel_cases.h - operator calls for kernel tests: random shapes, edge
 * shapes and data ranges for every operator of the catalog (docs/ops.md),
 * for a given dtype signature.
 *
 * A case is an xhal_plugin_op_call_t with shapes, dtypes and attributes
 * filled in (buffers not yet), the value range each input is drawn from,
 * special values to plant, and a one-line description for messages. Every
 * case is valid by the catalog: the output shape comes from the reference
 * library (xhal_ref_output_desc), never restated here.
 */
#ifndef XHAL_CTS_KERNEL_CASES_H_
#define XHAL_CTS_KERNEL_CASES_H_

#include <stdint.h>
#include <xhal/xhal_plugin.h>

#include "cts.h"

typedef enum kc_variant {
  KC_RANDOM = 0, /* random shapes of moderate size */
  KC_EDGE = 1,   /* the fixed list of edge shapes */
  KC_LARGE = 2,  /* a few large shapes (optional profile) */
} kc_variant_t;

typedef struct kc_case {
  xhal_plugin_op_call_t call;
  double lo[XHAL_MAX_OP_INPUTS]; /* input value ranges */
  double hi[XHAL_MAX_OP_INPUTS];
  /* Bit i: plant NaN, infinities, -0, zeros and values that overflow or
   * saturate at the start of input i (float inputs only). */
  uint32_t specials;
  char desc[256];
} kc_case_t;

/* Builds case `index` of `variant` for an implementation of `op` with
 * dtype signature `dtypes[0..num_dtypes)` (inputs, then the output).
 * Returns 1 when a case was built, 0 when the variant has no case of that
 * index (edge lists are finite) or the op is not in the catalog. */
int kc_build(cts_ctx_t* ctx, xhal_op_t op, const xhal_dtype_t* dtypes,
             uint32_t num_dtypes, kc_variant_t variant, uint32_t index,
             kc_case_t* out);

/* Number of cases each variant tries (edge lists may end earlier). */
uint32_t kc_case_count(kc_variant_t variant);

/* Short operator name ("matmul"), "custom" or "unknown". */
const char* kc_op_name(xhal_op_t op);

/* 1 if `op` is a catalog operator id. */
int kc_op_known(xhal_op_t op);

#endif /* XHAL_CTS_KERNEL_CASES_H_ */
