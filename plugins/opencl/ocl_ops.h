/*
 * ocl_ops.h - what the operator files share: the kernels of the operator
 * programs, the lazy per-device program cache and the launch helper.
 *
 * ocl_ops.c owns the programs and the registration with the host;
 * ocl_ops_elementwise.c, ocl_ops_rows.c and ocl_ops_gemm.c turn operator
 * calls into launches.
 */
#ifndef XHAL_OCL_OPS_H_
#define XHAL_OCL_OPS_H_

#include <stddef.h>

#include "ocl_internal.h"

/* Every kernel of every operator program; a program holds a subset. */
typedef enum ocl_kernel_id {
  OCL_K_UNARY = 0,
  OCL_K_BINARY_SAME,
  OCL_K_BINARY_BCAST,
  OCL_K_SOFTMAX,
  OCL_K_LAYER_NORM,
  OCL_K_REDUCE,
  OCL_K_MATMUL, /* large tiles */
  OCL_K_CONV2D,
  OCL_K_MATMUL_SMALL, /* small tiles, for products too small to fill the
                         device with large ones */
  OCL_K_CONV2D_SMALL,
  OCL_K_TRANSPOSE_1,
  OCL_K_TRANSPOSE_2,
  OCL_K_TRANSPOSE_4,
  /* cast_<src>_<dst>, src-major over (f32, f16, i8, i32). */
  OCL_K_CAST_FIRST,
  OCL_K_COUNT = OCL_K_CAST_FIRST + 16
} ocl_kernel_id_t;

/* Operator codes of the elementwise kernels (kernels/elementwise.cl). */
enum {
  OCL_BIN_ADD = 0,
  OCL_BIN_SUB = 1,
  OCL_BIN_MUL = 2,
  OCL_BIN_DIV = 3,
  OCL_BIN_MAX = 4,
  OCL_BIN_MIN = 5,
};
enum {
  OCL_UN_RELU = 0,
  OCL_UN_GELU = 1,
  OCL_UN_SIGMOID = 2,
  OCL_UN_TANH = 3,
  OCL_UN_EXP = 4,
};

/* Host mirrors of the kernels' by-value structs (common.cl, layout.cl,
 * gemm.cl): only 64-bit or 32-bit fields, so host and device layouts
 * agree without packing directives. */
typedef struct ocl_bshape {
  cl_ulong dims[8];
  cl_ulong sa[8];
  cl_ulong sb[8];
} ocl_bshape_t;

typedef struct ocl_tshape {
  cl_ulong dims[8];
  cl_ulong istride[8];
} ocl_tshape_t;

typedef struct ocl_conv {
  cl_int N, C, H, W, K, R, S, OH, OW;
  cl_int sh, sw, ph, pw, dh, dw;
  cl_int Cg, Kg, CRS, OHW, NCOL;
} ocl_conv_t;

/* One kernel argument: `size` bytes at `value`, or local memory of
 * `size` bytes when value is NULL. */
typedef struct ocl_karg {
  size_t size;
  const void* value;
} ocl_karg_t;

static inline ocl_karg_t ocl_arg(size_t size, const void* value) {
  ocl_karg_t a;
  a.size = size;
  a.value = value;
  return a;
}

/* The program `id` of the stream's device, built on first use. On
 * failure the error message is set. */
xhal_status_t ocl_op_program(struct xhal_plugin_device* dev, ocl_prog_id_t id,
                             ocl_op_program_t** out);

/* Sets the arguments of kernel `kid` of `prog` and enqueues it on the
 * stream (local may be NULL). */
xhal_status_t ocl_op_launch(struct xhal_plugin_stream* s,
                            ocl_op_program_t* prog, ocl_kernel_id_t kid,
                            const ocl_karg_t* args, uint32_t num_args,
                            uint32_t work_dim, const size_t* global,
                            const size_t* local);

/* The program of the elementwise and row kernels for operands of
 * `dtype` (f32, f16 or i32). */
ocl_prog_id_t ocl_prog_for(xhal_dtype_t dtype);

/* The program of the matmul/conv2d kernels for operands of `dtype` (f32,
 * f16 or i8). */
ocl_prog_id_t ocl_gemm_prog_for(xhal_dtype_t dtype);

/* Element offset of a tensor in its buffer (the catalog aligns byte
 * offsets to the element size). */
static inline cl_ulong ocl_elem_offset(const xhal_plugin_tensor_t* t) {
  uint32_t size = xhal_dtype_size(t->desc.dtype);
  return size ? (cl_ulong)(t->offset / size) : 0;
}

/* Number of elements of a tensor. */
uint64_t ocl_numel(const xhal_tensor_desc_t* desc);

/* A bounded grid for the grid-stride kernels: *global, *local. */
void ocl_grid_1d(const struct xhal_plugin_device* dev, uint64_t n,
                 size_t* global, size_t* local);

/* Operator families. */
xhal_status_t ocl_op_binary(struct xhal_plugin_stream* s,
                            const xhal_plugin_op_call_t* call);
xhal_status_t ocl_op_unary(struct xhal_plugin_stream* s,
                           const xhal_plugin_op_call_t* call);
xhal_status_t ocl_op_transpose(struct xhal_plugin_stream* s,
                               const xhal_plugin_op_call_t* call);
xhal_status_t ocl_op_cast(struct xhal_plugin_stream* s,
                          const xhal_plugin_op_call_t* call);
xhal_status_t ocl_op_softmax(struct xhal_plugin_stream* s,
                             const xhal_plugin_op_call_t* call);
xhal_status_t ocl_op_layer_norm(struct xhal_plugin_stream* s,
                                const xhal_plugin_op_call_t* call);
xhal_status_t ocl_op_reduce(struct xhal_plugin_stream* s,
                            const xhal_plugin_op_call_t* call);
xhal_status_t ocl_op_matmul(struct xhal_plugin_stream* s,
                            const xhal_plugin_op_call_t* call);
xhal_status_t ocl_op_conv2d(struct xhal_plugin_stream* s,
                            const xhal_plugin_op_call_t* call);
/* supports() of matmul and conv2d: the kernels index in 32 bits. */
xhal_status_t ocl_gemm_supports(void* user_data, xhal_plugin_device_t device,
                                const xhal_plugin_op_call_t* call);

#endif /* XHAL_OCL_OPS_H_ */
