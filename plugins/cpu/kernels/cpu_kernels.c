/*
 * cpu_kernels.c - the kernel table, the dispatcher and the helpers every
 * kernel file shares (parallel-for, scratch, size arithmetic).
 */
#include <stdlib.h>

#include "cpu_kernels_internal.h"

/* ------------------------------------------------------------ the table */

enum {
  F32 = XHAL_DTYPE_F32,
  F16 = XHAL_DTYPE_F16,
  I8 = XHAL_DTYPE_I8,
  I32 = XHAL_DTYPE_I32,
};

/* Signatures list the inputs then the output; optional inputs (bias,
 * gamma, beta) are listed, and a call without them still matches. */
static const cpu_kernel_entry_t kTable[] = {
    {XHAL_OP_ADD, 3, {F32, F32, F32}, "cpu.add.f32"},
    {XHAL_OP_ADD, 3, {F16, F16, F16}, "cpu.add.f16"},
    {XHAL_OP_ADD, 3, {I32, I32, I32}, "cpu.add.i32"},
    {XHAL_OP_SUB, 3, {F32, F32, F32}, "cpu.sub.f32"},
    {XHAL_OP_SUB, 3, {F16, F16, F16}, "cpu.sub.f16"},
    {XHAL_OP_SUB, 3, {I32, I32, I32}, "cpu.sub.i32"},
    {XHAL_OP_MUL, 3, {F32, F32, F32}, "cpu.mul.f32"},
    {XHAL_OP_MUL, 3, {F16, F16, F16}, "cpu.mul.f16"},
    {XHAL_OP_MUL, 3, {I32, I32, I32}, "cpu.mul.i32"},
    {XHAL_OP_DIV, 3, {F32, F32, F32}, "cpu.div.f32"},
    {XHAL_OP_DIV, 3, {F16, F16, F16}, "cpu.div.f16"},
    {XHAL_OP_MAX, 3, {F32, F32, F32}, "cpu.max.f32"},
    {XHAL_OP_MAX, 3, {F16, F16, F16}, "cpu.max.f16"},
    {XHAL_OP_MAX, 3, {I32, I32, I32}, "cpu.max.i32"},
    {XHAL_OP_MIN, 3, {F32, F32, F32}, "cpu.min.f32"},
    {XHAL_OP_MIN, 3, {F16, F16, F16}, "cpu.min.f16"},
    {XHAL_OP_MIN, 3, {I32, I32, I32}, "cpu.min.i32"},
    {XHAL_OP_RELU, 2, {F32, F32}, "cpu.relu.f32"},
    {XHAL_OP_RELU, 2, {F16, F16}, "cpu.relu.f16"},
    {XHAL_OP_GELU, 2, {F32, F32}, "cpu.gelu.f32"},
    {XHAL_OP_GELU, 2, {F16, F16}, "cpu.gelu.f16"},
    {XHAL_OP_SIGMOID, 2, {F32, F32}, "cpu.sigmoid.f32"},
    {XHAL_OP_SIGMOID, 2, {F16, F16}, "cpu.sigmoid.f16"},
    {XHAL_OP_TANH, 2, {F32, F32}, "cpu.tanh.f32"},
    {XHAL_OP_TANH, 2, {F16, F16}, "cpu.tanh.f16"},
    {XHAL_OP_EXP, 2, {F32, F32}, "cpu.exp.f32"},
    {XHAL_OP_EXP, 2, {F16, F16}, "cpu.exp.f16"},
    {XHAL_OP_MATMUL, 4, {F32, F32, F32, F32}, "cpu.matmul.f32"},
    {XHAL_OP_MATMUL, 4, {F16, F16, F16, F16}, "cpu.matmul.f16"},
    {XHAL_OP_MATMUL, 4, {I8, I8, I32, I32}, "cpu.matmul.i8"},
    {XHAL_OP_CONV2D, 4, {F32, F32, F32, F32}, "cpu.conv2d.f32"},
    {XHAL_OP_CONV2D, 4, {F16, F16, F16, F16}, "cpu.conv2d.f16"},
    {XHAL_OP_CONV2D, 4, {I8, I8, I32, I32}, "cpu.conv2d.i8"},
    {XHAL_OP_SOFTMAX, 2, {F32, F32}, "cpu.softmax.f32"},
    {XHAL_OP_SOFTMAX, 2, {F16, F16}, "cpu.softmax.f16"},
    {XHAL_OP_LAYER_NORM, 4, {F32, F32, F32, F32}, "cpu.layer_norm.f32"},
    {XHAL_OP_LAYER_NORM, 4, {F16, F16, F16, F16}, "cpu.layer_norm.f16"},
    {XHAL_OP_REDUCE_SUM, 2, {F32, F32}, "cpu.reduce_sum.f32"},
    {XHAL_OP_REDUCE_SUM, 2, {F16, F16}, "cpu.reduce_sum.f16"},
    {XHAL_OP_REDUCE_SUM, 2, {I32, I32}, "cpu.reduce_sum.i32"},
    {XHAL_OP_REDUCE_MAX, 2, {F32, F32}, "cpu.reduce_max.f32"},
    {XHAL_OP_REDUCE_MAX, 2, {F16, F16}, "cpu.reduce_max.f16"},
    {XHAL_OP_REDUCE_MAX, 2, {I32, I32}, "cpu.reduce_max.i32"},
    {XHAL_OP_TRANSPOSE, 2, {F32, F32}, "cpu.transpose.f32"},
    {XHAL_OP_TRANSPOSE, 2, {F16, F16}, "cpu.transpose.f16"},
    {XHAL_OP_TRANSPOSE, 2, {I8, I8}, "cpu.transpose.i8"},
    {XHAL_OP_TRANSPOSE, 2, {I32, I32}, "cpu.transpose.i32"},
    {XHAL_OP_CAST, 2, {F32, F32}, "cpu.cast.f32.f32"},
    {XHAL_OP_CAST, 2, {F32, F16}, "cpu.cast.f32.f16"},
    {XHAL_OP_CAST, 2, {F32, I8}, "cpu.cast.f32.i8"},
    {XHAL_OP_CAST, 2, {F32, I32}, "cpu.cast.f32.i32"},
    {XHAL_OP_CAST, 2, {F16, F32}, "cpu.cast.f16.f32"},
    {XHAL_OP_CAST, 2, {F16, F16}, "cpu.cast.f16.f16"},
    {XHAL_OP_CAST, 2, {F16, I8}, "cpu.cast.f16.i8"},
    {XHAL_OP_CAST, 2, {F16, I32}, "cpu.cast.f16.i32"},
    {XHAL_OP_CAST, 2, {I8, F32}, "cpu.cast.i8.f32"},
    {XHAL_OP_CAST, 2, {I8, F16}, "cpu.cast.i8.f16"},
    {XHAL_OP_CAST, 2, {I8, I8}, "cpu.cast.i8.i8"},
    {XHAL_OP_CAST, 2, {I8, I32}, "cpu.cast.i8.i32"},
    {XHAL_OP_CAST, 2, {I32, F32}, "cpu.cast.i32.f32"},
    {XHAL_OP_CAST, 2, {I32, F16}, "cpu.cast.i32.f16"},
    {XHAL_OP_CAST, 2, {I32, I8}, "cpu.cast.i32.i8"},
    {XHAL_OP_CAST, 2, {I32, I32}, "cpu.cast.i32.i32"},
};

const cpu_kernel_entry_t* cpu_kernel_table(uint32_t* out_count) {
  if (out_count) *out_count = (uint32_t)(sizeof(kTable) / sizeof(kTable[0]));
  return kTable;
}

/* The family that implements an op, or NULL. */
static cpu_op_fn family_of(xhal_op_t op) {
  switch (op) {
    case XHAL_OP_ADD:
    case XHAL_OP_SUB:
    case XHAL_OP_MUL:
    case XHAL_OP_DIV:
    case XHAL_OP_MAX:
    case XHAL_OP_MIN:
      return cpu_op_binary;
    case XHAL_OP_RELU:
    case XHAL_OP_GELU:
    case XHAL_OP_SIGMOID:
    case XHAL_OP_TANH:
    case XHAL_OP_EXP:
      return cpu_op_unary;
    case XHAL_OP_MATMUL:
      return cpu_op_matmul;
    case XHAL_OP_CONV2D:
      return cpu_op_conv2d;
    case XHAL_OP_SOFTMAX:
      return cpu_op_softmax;
    case XHAL_OP_LAYER_NORM:
      return cpu_op_layer_norm;
    case XHAL_OP_REDUCE_SUM:
    case XHAL_OP_REDUCE_MAX:
      return cpu_op_reduce;
    case XHAL_OP_TRANSPOSE:
      return cpu_op_transpose;
    case XHAL_OP_CAST:
      return cpu_op_cast;
    default:
      return NULL;
  }
}

/* 1 if `e` accepts the call's dtypes: each present input matches its slot
 * and the output matches the last slot. */
static int entry_matches(const cpu_kernel_entry_t* e,
                         const xhal_plugin_op_call_t* call) {
  uint32_t i;
  if (e->op != call->op || call->num_inputs + 1 > e->num_dtypes) return 0;
  for (i = 0; i < call->num_inputs; ++i) {
    if (e->dtypes[i] != call->inputs[i].desc.dtype) return 0;
  }
  return e->dtypes[e->num_dtypes - 1] == call->outputs[0].desc.dtype;
}

xhal_status_t cpu_kernel_run(const xhal_plugin_op_call_t* call,
                             const void* const inputs[], void* output,
                             const cpu_parallel_t* par) {
  uint32_t count = 0;
  uint32_t i;
  const cpu_kernel_entry_t* table = cpu_kernel_table(&count);
  const cpu_kernel_entry_t* entry = NULL;
  cpu_op_fn fn;
  if (call == NULL || call->num_outputs != 1 || call->num_inputs == 0 ||
      call->num_inputs > XHAL_MAX_OP_INPUTS || inputs == NULL) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  for (i = 0; i < count && entry == NULL; ++i) {
    if (entry_matches(&table[i], call)) entry = &table[i];
  }
  fn = family_of(call->op);
  if (entry == NULL || fn == NULL) return XHAL_ERROR_UNSUPPORTED;
  for (i = 0; i < call->num_inputs; ++i) {
    if (call->inputs[i].desc.rank > XHAL_MAX_RANK) {
      return XHAL_ERROR_INVALID_ARGUMENT;
    }
  }
  if (call->outputs[0].desc.rank > XHAL_MAX_RANK) {
    return XHAL_ERROR_INVALID_ARGUMENT;
  }
  /* The catalog makes a call with an empty output a no-op; inputs may then
   * be empty too and their pointers are not looked at. */
  if (cpu_numel(&call->outputs[0].desc) == 0) return XHAL_OK;
  if (output == NULL) return XHAL_ERROR_INVALID_ARGUMENT;
  for (i = 0; i < call->num_inputs; ++i) {
    if (inputs[i] == NULL && cpu_numel(&call->inputs[i].desc) != 0) {
      return XHAL_ERROR_INVALID_ARGUMENT;
    }
  }
  return fn(call, inputs, output, par);
}

/* ------------------------------------------------------------- helpers */

uint32_t cpu_par_threads(const cpu_parallel_t* par) {
  if (par == NULL || par->parallel_for == NULL || par->num_threads < 1) {
    return 1;
  }
  return par->num_threads;
}

void cpu_par_for(const cpu_parallel_t* par, uint64_t n, uint64_t grain,
                 cpu_range_fn fn, void* ctx) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  if (cpu_par_threads(par) <= 1 || n <= grain) {
    fn(ctx, 0, n);
    return;
  }
  par->parallel_for(par->pool, n, grain, fn, ctx);
}

uint64_t cpu_grain_for(uint64_t cost_per_item) {
  if (cost_per_item == 0) cost_per_item = 1;
  if (cost_per_item >= CPU_GRAIN_ELEMS) return 1;
  return CPU_GRAIN_ELEMS / cost_per_item;
}

int cpu_mul_u64(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

xhal_status_t cpu_scratch_alloc(uint64_t count, uint64_t elem_size,
                                void** out_ptr) {
  const uint64_t align = 64;
  uint64_t bytes;
  void* p;
  *out_ptr = NULL;
  if (!cpu_mul_u64(count, elem_size, &bytes)) return XHAL_ERROR_OUT_OF_MEMORY;
  /* aligned_alloc wants a size that is a multiple of the alignment. */
  if (bytes > UINT64_MAX - align || bytes > (uint64_t)SIZE_MAX - align) {
    return XHAL_ERROR_OUT_OF_MEMORY;
  }
  bytes = (bytes + align - 1) / align * align;
  if (bytes == 0) bytes = align;
  p = aligned_alloc((size_t)align, (size_t)bytes);
  if (p == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  *out_ptr = p;
  return XHAL_OK;
}

void cpu_scratch_free(void* ptr) { free(ptr); }

uint64_t cpu_numel(const xhal_tensor_desc_t* desc) {
  uint64_t n = 1;
  uint32_t i;
  uint32_t rank = desc->rank > XHAL_MAX_RANK ? XHAL_MAX_RANK : desc->rank;
  for (i = 0; i < rank; ++i) n *= desc->dims[i];
  return n;
}

void cpu_split_axis(const xhal_tensor_desc_t* desc, uint32_t axis,
                    uint64_t* out_outer, uint64_t* out_len,
                    uint64_t* out_inner) {
  uint64_t outer = 1;
  uint64_t inner = 1;
  uint32_t i;
  for (i = 0; i < axis; ++i) outer *= desc->dims[i];
  for (i = axis + 1; i < desc->rank; ++i) inner *= desc->dims[i];
  *out_outer = outer;
  *out_len = desc->dims[axis];
  *out_inner = inner;
}

int cpu_norm_axis(int32_t axis, uint32_t rank, uint32_t* out_axis) {
  int64_t a = axis;
  if (a < 0) a += (int64_t)rank;
  if (a < 0 || a >= (int64_t)rank) return 0;
  *out_axis = (uint32_t)a;
  return 1;
}
