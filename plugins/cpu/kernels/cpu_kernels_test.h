/*
 * cpu_kernels_test.h - the cases cpu_kernels_test runs per table entry:
 * an operator call with its shapes and attributes, and how to fill its
 * inputs. Test-only.
 */
#ifndef XHAL_CPU_KERNELS_TEST_H_
#define XHAL_CPU_KERNELS_TEST_H_

#include <xhal/xhal_plugin.h>

#include "cpu_kernels.h"

typedef enum fill_kind {
  FILL_RANGE = 0,    /* uniform in [lo, hi] (integers: whole range) */
  FILL_SPECIALS = 1, /* FILL_RANGE, then NaN/inf/zeros sprinkled in */
  FILL_CAST = 2,     /* the cast edge values, then random wide values */
  FILL_ALL = 3,      /* every bit pattern of a 1- or 2-byte dtype */
  FILL_CONST = 4     /* every element = lo */
} fill_kind_t;

typedef struct tcase {
  xhal_plugin_op_call_t call;
  double lo;
  double hi;
  fill_kind_t fill;
} tcase_t;

enum { MAX_CASES = 48 };

typedef struct case_list {
  const cpu_kernel_entry_t* e;
  int count;
  tcase_t c[MAX_CASES];
} case_list_t;

/* A dims array literal: DIMS(17, 33, 7). */
#define DIMS(...) ((const uint64_t[]){__VA_ARGS__})

/* Fills `l` with the cases for table entry `e` (none for an op it does
 * not know, which the caller reports). */
void build_cases(const cpu_kernel_entry_t* e, case_list_t* l);

/* 1 for f32 and f16. */
int is_float(xhal_dtype_t dt);

#endif /* XHAL_CPU_KERNELS_TEST_H_ */
