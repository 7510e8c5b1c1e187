/*
 * ocl_ops_elementwise.c - binary and unary elementwise operators,
 * transpose and cast: shapes on the host, grid-stride kernels on the
 * device.
 *
 * Shapes are simplified before launch: dims of size 1 are dropped and
 * neighbouring dims that walk memory contiguously in every operand are
 * merged. A bias add [N, C] + [C] then becomes rank 2, a same-shape add
 * rank 1 (and runs the cheaper binary_same kernel), and a transpose that
 * moves whole rows copies rows.
 */
#include <string.h>

#include "ocl_ops.h"

static cl_mem mem_of(const xhal_plugin_tensor_t* t) { return t->buffer->mem; }

/* ------------------------------------------------------------- binary */

static int bin_code(xhal_op_t op) {
  switch (op) {
    case XHAL_OP_ADD:
      return OCL_BIN_ADD;
    case XHAL_OP_SUB:
      return OCL_BIN_SUB;
    case XHAL_OP_MUL:
      return OCL_BIN_MUL;
    case XHAL_OP_DIV:
      return OCL_BIN_DIV;
    case XHAL_OP_MAX:
      return OCL_BIN_MAX;
    default:
      return OCL_BIN_MIN;
  }
}

/* Element strides of `in` broadcast to the output's rank `rank`: dims
 * that are missing or 1 in the input walk with stride 0. */
static void bcast_strides(const xhal_tensor_desc_t* in, uint32_t rank,
                          cl_ulong* strides) {
  uint64_t stride = 1;
  int d;
  int offset = (int)rank - (int)in->rank;
  for (d = (int)rank - 1; d >= 0; --d) {
    int id = d - offset;
    if (id < 0 || in->dims[id] == 1) {
      strides[d] = 0;
    } else {
      strides[d] = stride;
      stride *= in->dims[id];
    }
  }
}

/* Drops size-1 dims and merges contiguous neighbours. Returns the new
 * rank (at least 1). */
static uint32_t simplify_bshape(ocl_bshape_t* sh, uint32_t rank) {
  uint32_t out = 0;
  uint32_t d;
  for (d = 0; d < rank; ++d) {
    if (sh->dims[d] == 1) continue;
    if (out > 0 && sh->sa[out - 1] == sh->sa[d] * sh->dims[d] &&
        sh->sb[out - 1] == sh->sb[d] * sh->dims[d]) {
      sh->dims[out - 1] *= sh->dims[d];
      sh->sa[out - 1] = sh->sa[d];
      sh->sb[out - 1] = sh->sb[d];
      continue;
    }
    sh->dims[out] = sh->dims[d];
    sh->sa[out] = sh->sa[d];
    sh->sb[out] = sh->sb[d];
    ++out;
  }
  if (out == 0) {
    /* A single element: walk it with stride 0 on both sides. */
    sh->dims[0] = 1;
    sh->sa[0] = 0;
    sh->sb[0] = 0;
    out = 1;
  }
  return out;
}

xhal_status_t ocl_op_binary(struct xhal_plugin_stream* s,
                            const xhal_plugin_op_call_t* call) {
  const xhal_plugin_tensor_t* a = &call->inputs[0];
  const xhal_plugin_tensor_t* b = &call->inputs[1];
  const xhal_plugin_tensor_t* y = &call->outputs[0];
  ocl_op_program_t* prog;
  ocl_bshape_t sh;
  cl_int op = bin_code(call->op);
  cl_ulong aoff = ocl_elem_offset(a);
  cl_ulong boff = ocl_elem_offset(b);
  cl_ulong yoff = ocl_elem_offset(y);
  cl_ulong n = ocl_numel(&y->desc);
  cl_mem am = mem_of(a);
  cl_mem bm = mem_of(b);
  cl_mem ym = mem_of(y);
  cl_uint rank = y->desc.rank;
  size_t global;
  size_t local;
  uint32_t d;
  xhal_status_t status =
      ocl_op_program(s->dev, ocl_prog_for(y->desc.dtype), &prog);
  if (status != XHAL_OK) return status;
  memset(&sh, 0, sizeof(sh));
  for (d = 0; d < rank; ++d) sh.dims[d] = y->desc.dims[d];
  bcast_strides(&a->desc, rank, sh.sa);
  bcast_strides(&b->desc, rank, sh.sb);
  rank = simplify_bshape(&sh, rank);
  ocl_grid_1d(s->dev, n, &global, &local);
  if (rank == 1 && sh.sa[0] == 1 && sh.sb[0] == 1) {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(op), &op),     ocl_arg(sizeof(am), &am),
        ocl_arg(sizeof(aoff), &aoff), ocl_arg(sizeof(bm), &bm),
        ocl_arg(sizeof(boff), &boff), ocl_arg(sizeof(ym), &ym),
        ocl_arg(sizeof(yoff), &yoff), ocl_arg(sizeof(n), &n),
    };
    return ocl_op_launch(s, prog, OCL_K_BINARY_SAME, args, 8, 1, &global,
                         &local);
  } else {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(op), &op),     ocl_arg(sizeof(rank), &rank),
        ocl_arg(sizeof(sh), &sh),     ocl_arg(sizeof(am), &am),
        ocl_arg(sizeof(aoff), &aoff), ocl_arg(sizeof(bm), &bm),
        ocl_arg(sizeof(boff), &boff), ocl_arg(sizeof(ym), &ym),
        ocl_arg(sizeof(yoff), &yoff), ocl_arg(sizeof(n), &n),
    };
    return ocl_op_launch(s, prog, OCL_K_BINARY_BCAST, args, 10, 1, &global,
                         &local);
  }
}

/* -------------------------------------------------------------- unary */

static int unary_code(xhal_op_t op) {
  switch (op) {
    case XHAL_OP_RELU:
      return OCL_UN_RELU;
    case XHAL_OP_GELU:
      return OCL_UN_GELU;
    case XHAL_OP_SIGMOID:
      return OCL_UN_SIGMOID;
    case XHAL_OP_TANH:
      return OCL_UN_TANH;
    default:
      return OCL_UN_EXP;
  }
}

xhal_status_t ocl_op_unary(struct xhal_plugin_stream* s,
                           const xhal_plugin_op_call_t* call) {
  const xhal_plugin_tensor_t* x = &call->inputs[0];
  const xhal_plugin_tensor_t* y = &call->outputs[0];
  ocl_op_program_t* prog;
  cl_int op = unary_code(call->op);
  cl_mem xm = mem_of(x);
  cl_mem ym = mem_of(y);
  cl_ulong xoff = ocl_elem_offset(x);
  cl_ulong yoff = ocl_elem_offset(y);
  cl_ulong n = ocl_numel(&y->desc);
  size_t global;
  size_t local;
  xhal_status_t status =
      ocl_op_program(s->dev, ocl_prog_for(y->desc.dtype), &prog);
  if (status != XHAL_OK) return status;
  ocl_grid_1d(s->dev, n, &global, &local);
  {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(op), &op),     ocl_arg(sizeof(xm), &xm),
        ocl_arg(sizeof(xoff), &xoff), ocl_arg(sizeof(ym), &ym),
        ocl_arg(sizeof(yoff), &yoff), ocl_arg(sizeof(n), &n),
    };
    return ocl_op_launch(s, prog, OCL_K_UNARY, args, 6, 1, &global, &local);
  }
}

/* ---------------------------------------------------------- transpose */

xhal_status_t ocl_op_transpose(struct xhal_plugin_stream* s,
                               const xhal_plugin_op_call_t* call) {
  const xhal_plugin_tensor_t* x = &call->inputs[0];
  const xhal_plugin_tensor_t* y = &call->outputs[0];
  ocl_op_program_t* prog;
  ocl_tshape_t sh;
  uint64_t in_stride[XHAL_MAX_RANK];
  uint64_t stride = 1;
  uint32_t r = x->desc.rank;
  cl_uint rank = 0;
  cl_mem xm = mem_of(x);
  cl_mem ym = mem_of(y);
  cl_ulong xoff = ocl_elem_offset(x);
  cl_ulong yoff = ocl_elem_offset(y);
  cl_ulong n = ocl_numel(&y->desc);
  size_t global;
  size_t local;
  ocl_kernel_id_t kid;
  int d;
  xhal_status_t status = ocl_op_program(s->dev, OCL_PROG_MISC, &prog);
  if (status != XHAL_OK) return status;
  for (d = (int)r - 1; d >= 0; --d) {
    in_stride[d] = stride;
    stride *= x->desc.dims[d];
  }
  memset(&sh, 0, sizeof(sh));
  for (d = 0; d < (int)r; ++d) {
    uint32_t p = call->attrs.perm[d];
    uint64_t dim = x->desc.dims[p];
    if (dim == 1) continue;
    /* Consecutive output dims that are consecutive input dims merge. */
    if (rank > 0 && sh.istride[rank - 1] == in_stride[p] * dim) {
      sh.dims[rank - 1] *= dim;
      sh.istride[rank - 1] = in_stride[p];
      continue;
    }
    sh.dims[rank] = dim;
    sh.istride[rank] = in_stride[p];
    ++rank;
  }
  if (rank == 0) {
    sh.dims[0] = 1;
    sh.istride[0] = 0;
    rank = 1;
  }
  switch (xhal_dtype_size(y->desc.dtype)) {
    case 1:
      kid = OCL_K_TRANSPOSE_1;
      break;
    case 2:
      kid = OCL_K_TRANSPOSE_2;
      break;
    default:
      kid = OCL_K_TRANSPOSE_4;
      break;
  }
  ocl_grid_1d(s->dev, n, &global, &local);
  {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(rank), &rank), ocl_arg(sizeof(sh), &sh),
        ocl_arg(sizeof(xm), &xm),     ocl_arg(sizeof(xoff), &xoff),
        ocl_arg(sizeof(ym), &ym),     ocl_arg(sizeof(yoff), &yoff),
        ocl_arg(sizeof(n), &n),
    };
    return ocl_op_launch(s, prog, kid, args, 7, 1, &global, &local);
  }
}

/* --------------------------------------------------------------- cast */

static int dtype_slot(xhal_dtype_t dt) {
  switch (dt) {
    case XHAL_DTYPE_F32:
      return 0;
    case XHAL_DTYPE_F16:
      return 1;
    case XHAL_DTYPE_I8:
      return 2;
    default:
      return 3;
  }
}

xhal_status_t ocl_op_cast(struct xhal_plugin_stream* s,
                          const xhal_plugin_op_call_t* call) {
  const xhal_plugin_tensor_t* x = &call->inputs[0];
  const xhal_plugin_tensor_t* y = &call->outputs[0];
  ocl_op_program_t* prog;
  cl_mem xm = mem_of(x);
  cl_mem ym = mem_of(y);
  cl_ulong xoff = ocl_elem_offset(x);
  cl_ulong yoff = ocl_elem_offset(y);
  cl_ulong n = ocl_numel(&y->desc);
  size_t global;
  size_t local;
  ocl_kernel_id_t kid =
      (ocl_kernel_id_t)(OCL_K_CAST_FIRST + dtype_slot(x->desc.dtype) * 4 +
                        dtype_slot(y->desc.dtype));
  xhal_status_t status = ocl_op_program(s->dev, OCL_PROG_MISC, &prog);
  if (status != XHAL_OK) return status;
  ocl_grid_1d(s->dev, n, &global, &local);
  {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(xm), &xm), ocl_arg(sizeof(xoff), &xoff),
        ocl_arg(sizeof(ym), &ym), ocl_arg(sizeof(yoff), &yoff),
        ocl_arg(sizeof(n), &n),
    };
    return ocl_op_launch(s, prog, kid, args, 5, 1, &global, &local);
  }
}
