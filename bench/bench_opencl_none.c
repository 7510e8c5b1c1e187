/*
 * bench_opencl_none.c - the OpenCL figures of a build without an OpenCL
 * ICD loader: reported as skipped, so the table says why they are absent.
 */
#include "bench.h"

void bench_opencl(xhal_instance_t instance) {
  (void)instance;
  bench_skip("opencl.", "xhal-bench was built without OpenCL");
}
