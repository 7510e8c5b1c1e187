/*
 * reference_test.h - what the reference's test files share: small
 * builders for calls and descriptors, and one test case per file.
 */
#ifndef XHAL_REFERENCE_TEST_H_
#define XHAL_REFERENCE_TEST_H_

#include <check.h>

#include "xhal_reference.h"

xhal_tensor_desc_t t_desc(xhal_dtype_t dtype, uint32_t rank, uint64_t d0,
                          uint64_t d1, uint64_t d2, uint64_t d3);

/* A call of `op` with `nin` inputs and one output, default attributes. */
xhal_plugin_op_call_t t_call(xhal_op_t op, uint32_t nin,
                             const xhal_tensor_desc_t* in,
                             xhal_tensor_desc_t out);

/* Asserts that float results are within `tol` of hand-computed values. */
void t_expect_near(const float* got, const double* want, size_t n, double tol,
                   int line);

TCase* reference_ops_tcase(void);
TCase* reference_values_tcase(void);

#endif /* XHAL_REFERENCE_TEST_H_ */
