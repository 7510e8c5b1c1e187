/*
 * kernel_limits.h - the kernels suite's checks of what a plugin says it
 * supports: declared limits against supports() (R-KRN-9) and the
 * registry listing through libxhal (R-KRN-10). Both are tests of the
 * kernels suite (suite_kernels.c lists them).
 */
#ifndef XHAL_CTS_KERNEL_LIMITS_H_
#define XHAL_CTS_KERNEL_LIMITS_H_

#include <stddef.h>

#include "cts.h"

/* R-KRN-9: every declared xhal_op_limits_t is well-formed, and
 * supports() answers as the limits say on calls at and past each one. */
void cts_test_limits_match_supports(cts_ctx_t* ctx);

/* R-KRN-10: xhal_registry_list of each of the plugin's devices holds
 * exactly what the plugin registered for it. */
void cts_test_registry_listing(cts_ctx_t* ctx);

/* 1 if libxhal's catalog check accepts a call built for the signature
 * (suite_kernels.c); `why` says why not. */
int cts_signature_valid(cts_ctx_t* ctx, const xhal_plugin_op_impl_t* impl,
                        char* why, size_t why_size);

#endif /* XHAL_CTS_KERNEL_LIMITS_H_ */
