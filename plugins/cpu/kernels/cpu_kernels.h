/*
 * cpu_kernels.h - the CPU plugin's operator kernels, on host memory.
 *
 * The kernels are plain functions over host pointers; the plugin's stream
 * worker calls cpu_kernel_run() when an operator reaches the head of a
 * stream, and hands it a parallel-for over its thread pool. Kernels never
 * allocate on the hot path beyond what an operator inherently needs
 * (im2col columns for conv2d, f32 staging for f16 matmul/conv2d, packing
 * buffers of the GEMM built without OpenBLAS), taken from the C heap and
 * freed before the call returns.
 *
 * Threads: every kernel splits its outer loops through `par`. The f32 GEMM
 * under matmul and conv2d is the exception when the library is built with
 * OpenBLAS (XHAL_USE_OPENBLAS): it is one cblas_sgemm call from the calling
 * thread, spread by OpenBLAS over its own threads while the pool idles, so
 * the two thread sets never compute at once. The kernels never change
 * OpenBLAS's process-wide thread count; OPENBLAS_NUM_THREADS caps it.
 *
 * Thread-safety: no global state; any number of calls may run at once.
 */
#ifndef XHAL_CPU_KERNELS_H_
#define XHAL_CPU_KERNELS_H_

#include <stddef.h>
#include <xhal/xhal_plugin.h>

/* Runs fn(ctx, begin, end) over [0, n) split in chunks of at least `grain`
 * items, across the plugin's workers, and returns when all chunks are
 * done. A serial fallback (one call over [0, n)) is always valid. Chunks
 * must not overlap and only the last may be shorter than `grain`: kernels
 * use begin / grain as the index of a per-chunk scratch slot. Kernels do
 * not call parallel_for from inside a chunk. */
typedef void (*cpu_range_fn)(void* ctx, uint64_t begin, uint64_t end);
typedef struct cpu_parallel {
  void* pool;
  uint32_t num_threads;
  void (*parallel_for)(void* pool, uint64_t n, uint64_t grain, cpu_range_fn fn,
                       void* ctx);
} cpu_parallel_t;

/* Executes `call` synchronously. inputs[i] / output point to element 0 of
 * each operand (the call's buffer/offset fields are not used). The call
 * has been validated against the catalog by the host; `par` may be NULL
 * (serial). Returns XHAL_OK, XHAL_ERROR_UNSUPPORTED (signature not in
 * cpu_kernel_table()) or XHAL_ERROR_OUT_OF_MEMORY (scratch). A call that
 * breaks the catalog's rules anyway gets XHAL_ERROR_INVALID_ARGUMENT or
 * XHAL_ERROR_SHAPE_MISMATCH rather than an out-of-bounds access, as far as
 * the descriptors can tell (data pointers are trusted). An output with no
 * elements makes the call a no-op that reads no operand. */
xhal_status_t cpu_kernel_run(const xhal_plugin_op_call_t* call,
                             const void* const inputs[], void* output,
                             const cpu_parallel_t* par);

/* One (operator, dtype signature) the kernels implement. */
typedef struct cpu_kernel_entry {
  xhal_op_t op;
  uint32_t num_dtypes;
  xhal_dtype_t dtypes[XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS];
  const char* name;
} cpu_kernel_entry_t;

/* Every implemented signature, for registration with the host. */
const cpu_kernel_entry_t* cpu_kernel_table(uint32_t* out_count);

#endif /* XHAL_CPU_KERNELS_H_ */
