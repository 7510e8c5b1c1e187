/*
 * bench_cuda_none.c - the CUDA figures of a build without the CUDA
 * toolkit: reported as skipped, so the table says why they are absent.
 */
#include "bench.h"

void bench_cuda(xhal_instance_t instance) {
  (void)instance;
  bench_skip("cuda.", "xhal-bench was built without the CUDA toolkit");
}
