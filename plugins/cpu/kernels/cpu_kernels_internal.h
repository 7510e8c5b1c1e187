/*
 * cpu_kernels_internal.h - what the kernel files share: the parallel-for
 * and scratch helpers, size arithmetic, the GEMM cores and one entry point
 * per operator family. Not part of the plugin's interface.
 *
 * Threading model: every kernel splits its outer loop through
 * cpu_par_for(), which runs on the plugin's pool. The f32 GEMM is the one
 * exception: with OpenBLAS it is a single cblas_sgemm call made from the
 * calling thread and OpenBLAS spreads it over its own threads, while our
 * pool sits idle. The two thread sets therefore never compute at the same
 * time, which keeps a 2-core machine from being oversubscribed, and we
 * never change OpenBLAS's process-wide thread count (the framework, or a
 * benchmark baseline in the same process, may rely on it;
 * OPENBLAS_NUM_THREADS still caps it). Kernels never call the GEMM from
 * inside a pool chunk unless the GEMM is small enough that OpenBLAS runs
 * it on the calling thread.
 */
#ifndef XHAL_CPU_KERNELS_INTERNAL_H_
#define XHAL_CPU_KERNELS_INTERNAL_H_

#include <stddef.h>
#include <stdint.h>

#include "cpu_kernels.h"

/* Smallest chunk of simple per-element work worth handing to another
 * thread: a spinning worker takes a task in well under a microsecond, but
 * a parked one needs tens of microseconds to wake, so a chunk should be
 * worth at least that much. */
#define CPU_GRAIN_ELEMS 32768u

/* Products of M*N*K at or below this run OpenBLAS single-threaded on the
 * calling thread (OpenBLAS's own GEMM_MULTITHREAD_THRESHOLD rule); such
 * GEMMs may be called from inside a pool chunk. */
#define CPU_SMALL_GEMM_WORK 262144u

/* Threads a parallel-for can use (1 when `par` is serial). */
uint32_t cpu_par_threads(const cpu_parallel_t* par);

/* Runs fn over [0, n) through par (serially when par is NULL or n fits in
 * one grain). Chunks never overlap and are at least `grain` long, except
 * the last. */
void cpu_par_for(const cpu_parallel_t* par, uint64_t n, uint64_t grain,
                 cpu_range_fn fn, void* ctx);

/* A grain for n items of `cost` units of work each, aiming at about
 * CPU_GRAIN_ELEMS units per chunk. */
uint64_t cpu_grain_for(uint64_t cost_per_item);

/* Operator scratch: 64-byte aligned, count * elem_size bytes (overflow
 * checked). Returns XHAL_OK or XHAL_ERROR_OUT_OF_MEMORY. count 0 gives a
 * valid minimal block. */
xhal_status_t cpu_scratch_alloc(uint64_t count, uint64_t elem_size,
                                void** out_ptr);
void cpu_scratch_free(void* ptr);

/* Overflow-checked a * b; returns 0 on overflow. */
int cpu_mul_u64(uint64_t a, uint64_t b, uint64_t* out);

/* Elements of a tensor (1 for rank 0). */
uint64_t cpu_numel(const xhal_tensor_desc_t* desc);

/* Splits `desc` around `axis` (already normalised) into
 * outer * dims[axis] * inner. */
void cpu_split_axis(const xhal_tensor_desc_t* desc, uint32_t axis,
                    uint64_t* out_outer, uint64_t* out_len,
                    uint64_t* out_inner);

/* Normalises a possibly negative axis for `rank`; returns 0 when it is
 * out of range. */
int cpu_norm_axis(int32_t axis, uint32_t rank, uint32_t* out_axis);

/* ---------------------------------------------------------- GEMM cores */

/* Row-major C[m, n] = alpha * op(A) @ op(B) + beta * C, where op(A) is A
 * [m, k] (lda) or, with trans_a, A stored [k, m]; likewise B. beta == 0
 * does not read C. With OpenBLAS this is cblas_sgemm; otherwise (or when a
 * dimension exceeds OpenBLAS's int) a cache-blocked kernel on the pool.
 * Returns XHAL_OK or XHAL_ERROR_OUT_OF_MEMORY (the blocked kernel's
 * packing buffers). */
xhal_status_t cpu_sgemm(const cpu_parallel_t* par, int trans_a, int trans_b,
                        uint64_t m, uint64_t n, uint64_t k, float alpha,
                        const float* a, uint64_t lda, const float* b,
                        uint64_t ldb, float beta, float* c, uint64_t ldc);

/* Row-major C[m, n] = A[m, k] @ B[k, n] over int8 with int32 accumulation
 * that wraps (two's complement), overwriting C. */
void cpu_igemm(const cpu_parallel_t* par, uint64_t m, uint64_t n, uint64_t k,
               const int8_t* a, uint64_t lda, const int8_t* b, uint64_t ldb,
               int32_t* c, uint64_t ldc);

/* ------------------------------------------------- operator families */

/* Each takes a call whose signature cpu_kernel_run() has matched against
 * the table; they return XHAL_OK, XHAL_ERROR_OUT_OF_MEMORY, or a
 * validation status for a call that breaks the catalog's rules. */
typedef xhal_status_t (*cpu_op_fn)(const xhal_plugin_op_call_t* call,
                                   const void* const inputs[], void* output,
                                   const cpu_parallel_t* par);

xhal_status_t cpu_op_binary(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], void* output,
                            const cpu_parallel_t* par);
xhal_status_t cpu_op_unary(const xhal_plugin_op_call_t* call,
                           const void* const inputs[], void* output,
                           const cpu_parallel_t* par);
xhal_status_t cpu_op_matmul(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], void* output,
                            const cpu_parallel_t* par);
xhal_status_t cpu_op_conv2d(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], void* output,
                            const cpu_parallel_t* par);
xhal_status_t cpu_op_softmax(const xhal_plugin_op_call_t* call,
                             const void* const inputs[], void* output,
                             const cpu_parallel_t* par);
xhal_status_t cpu_op_layer_norm(const xhal_plugin_op_call_t* call,
                                const void* const inputs[], void* output,
                                const cpu_parallel_t* par);
xhal_status_t cpu_op_reduce(const xhal_plugin_op_call_t* call,
                            const void* const inputs[], void* output,
                            const cpu_parallel_t* par);
xhal_status_t cpu_op_transpose(const xhal_plugin_op_call_t* call,
                               const void* const inputs[], void* output,
                               const cpu_parallel_t* par);
xhal_status_t cpu_op_cast(const xhal_plugin_op_call_t* call,
                          const void* const inputs[], void* output,
                          const cpu_parallel_t* par);

#endif /* XHAL_CPU_KERNELS_INTERNAL_H_ */
