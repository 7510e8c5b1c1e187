/*
 * ocl_ops_gemm.c - matmul and conv2d through the tiled kernels of
 * kernels/gemm.cl (f32, f16, and i8 with i32 accumulation).
 *
 * The grid has one work-group per TSM x TSN output tile: dimension 0
 * walks N (output columns, contiguous in memory, so neighbouring
 * work-items store neighbouring elements), dimension 1 walks M, and for
 * conv2d dimension 2 walks the groups.
 */
#include "ocl_ops.h"

/* The kernels index inside a matrix in 32-bit ints (cheaper address
 * arithmetic on GPUs); larger calls are left to another device. */
#define OCL_GEMM_INDEX_LIMIT ((uint64_t)INT32_MAX)

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* Output spatial size of conv2d along one dim (the catalog has checked
 * that it is well-formed). */
static uint64_t conv_out(uint64_t in, uint64_t k, uint32_t stride, uint32_t pad,
                         uint32_t dil) {
  uint64_t span = (uint64_t)dil * (k - 1) + 1;
  return (in + 2ull * pad - span) / stride + 1;
}

xhal_status_t ocl_gemm_supports(void* user_data, xhal_plugin_device_t device,
                                const xhal_plugin_op_call_t* call) {
  uint32_t i;
  (void)user_data;
  (void)device;
  for (i = 0; i < call->num_inputs; ++i)
    if (ocl_numel(&call->inputs[i].desc) > OCL_GEMM_INDEX_LIMIT)
      return XHAL_ERROR_UNSUPPORTED;
  if (ocl_numel(&call->outputs[0].desc) > OCL_GEMM_INDEX_LIMIT)
    return XHAL_ERROR_UNSUPPORTED;
  if (call->op == XHAL_OP_CONV2D && call->inputs[0].desc.rank == 4 &&
      call->inputs[1].desc.rank == 4) {
    const xhal_tensor_desc_t* w = &call->inputs[1].desc;
    /* The im2col reduction length is the one extra product. */
    if (w->dims[1] * w->dims[2] * w->dims[3] > OCL_GEMM_INDEX_LIMIT)
      return XHAL_ERROR_UNSUPPORTED;
  }
  return XHAL_OK;
}

/* The tile variant for an output of rows x cols (times `batches`): the
 * large tiles unless they would leave compute units idle, which is when
 * the product makes fewer than two large tiles per compute unit. */
static uint32_t pick_variant(const struct xhal_plugin_device* dev,
                             const ocl_op_program_t* prog, uint64_t rows,
                             uint64_t cols, uint64_t batches) {
  const ocl_tiles_t* big = &prog->tiles[OCL_TILES_LARGE];
  uint64_t tiles =
      ceil_div(rows, big->tsm) * ceil_div(cols, big->tsn) * batches;
  uint64_t cu =
      dev->info->props.compute_units ? dev->info->props.compute_units : 1;
  return tiles < 2 * cu ? OCL_TILES_SMALL : OCL_TILES_LARGE;
}

static void tile_grid(const ocl_tiles_t* t, uint64_t rows, uint64_t cols,
                      size_t global[3], size_t local[3]) {
  local[0] = t->tsn / t->wptn;
  local[1] = t->tsm / t->wptm;
  local[2] = 1;
  global[0] = (size_t)(ceil_div(cols, t->tsn) * local[0]);
  global[1] = (size_t)(ceil_div(rows, t->tsm) * local[1]);
  global[2] = 1;
}

xhal_status_t ocl_op_matmul(struct xhal_plugin_stream* s,
                            const xhal_plugin_op_call_t* call) {
  const xhal_plugin_tensor_t* a = &call->inputs[0];
  const xhal_plugin_tensor_t* b = &call->inputs[1];
  const xhal_plugin_tensor_t* y = &call->outputs[0];
  /* An absent bias binds Y's buffer; the kernel never reads it. */
  const xhal_plugin_tensor_t* bias =
      call->num_inputs > 2 ? &call->inputs[2] : y;
  ocl_op_program_t* prog;
  cl_int ta = call->attrs.transpose_a != 0;
  cl_int tb = call->attrs.transpose_b != 0;
  cl_int m = (cl_int)(ta ? a->desc.dims[1] : a->desc.dims[0]);
  cl_int k = (cl_int)(ta ? a->desc.dims[0] : a->desc.dims[1]);
  cl_int n = (cl_int)(tb ? b->desc.dims[0] : b->desc.dims[1]);
  cl_mem am = a->buffer->mem;
  cl_mem bm = b->buffer->mem;
  cl_mem ym = y->buffer->mem;
  cl_mem biasm = bias->buffer->mem;
  cl_ulong aoff = ocl_elem_offset(a);
  cl_ulong boff = ocl_elem_offset(b);
  cl_ulong yoff = ocl_elem_offset(y);
  cl_ulong biasoff = ocl_elem_offset(bias);
  cl_int has_bias = call->num_inputs > 2;
  cl_float alpha = call->attrs.alpha;
  cl_float beta = call->attrs.beta;
  size_t global[3];
  size_t local[3];
  uint32_t variant;
  xhal_status_t status;
  if (ocl_gemm_supports(NULL, s->dev, call) != XHAL_OK)
    return ocl_error(s->dev->ctx, XHAL_ERROR_UNSUPPORTED,
                     "opencl: matmul: an operand has 2^31 or more elements");
  status = ocl_op_program(s->dev, ocl_gemm_prog_for(a->desc.dtype), &prog);
  if (status != XHAL_OK) return status;
  variant = pick_variant(s->dev, prog, (uint64_t)m, (uint64_t)n, 1);
  tile_grid(&prog->tiles[variant], (uint64_t)m, (uint64_t)n, global, local);
  {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(m), &m),
        ocl_arg(sizeof(n), &n),
        ocl_arg(sizeof(k), &k),
        ocl_arg(sizeof(ta), &ta),
        ocl_arg(sizeof(tb), &tb),
        ocl_arg(sizeof(am), &am),
        ocl_arg(sizeof(aoff), &aoff),
        ocl_arg(sizeof(bm), &bm),
        ocl_arg(sizeof(boff), &boff),
        ocl_arg(sizeof(ym), &ym),
        ocl_arg(sizeof(yoff), &yoff),
        ocl_arg(sizeof(biasm), &biasm),
        ocl_arg(sizeof(biasoff), &biasoff),
        ocl_arg(sizeof(has_bias), &has_bias),
        ocl_arg(sizeof(alpha), &alpha),
        ocl_arg(sizeof(beta), &beta),
    };
    return ocl_op_launch(
        s, prog, variant == OCL_TILES_SMALL ? OCL_K_MATMUL_SMALL : OCL_K_MATMUL,
        args, 16, 2, global, local);
  }
}

xhal_status_t ocl_op_conv2d(struct xhal_plugin_stream* s,
                            const xhal_plugin_op_call_t* call) {
  const xhal_plugin_tensor_t* x = &call->inputs[0];
  const xhal_plugin_tensor_t* w = &call->inputs[1];
  const xhal_plugin_tensor_t* y = &call->outputs[0];
  const xhal_plugin_tensor_t* bias =
      call->num_inputs > 2 ? &call->inputs[2] : y;
  const xhal_op_attrs_t* at = &call->attrs;
  ocl_op_program_t* prog;
  ocl_conv_t p;
  uint64_t oh = conv_out(x->desc.dims[2], w->desc.dims[2], at->stride[0],
                         at->padding[0], at->dilation[0]);
  uint64_t ow = conv_out(x->desc.dims[3], w->desc.dims[3], at->stride[1],
                         at->padding[1], at->dilation[1]);
  uint64_t groups = at->groups ? at->groups : 1;
  uint64_t ncol = x->desc.dims[0] * oh * ow;
  cl_mem xm = x->buffer->mem;
  cl_mem wm = w->buffer->mem;
  cl_mem ym = y->buffer->mem;
  cl_mem biasm = bias->buffer->mem;
  cl_ulong xoff = ocl_elem_offset(x);
  cl_ulong woff = ocl_elem_offset(w);
  cl_ulong yoff = ocl_elem_offset(y);
  cl_ulong biasoff = ocl_elem_offset(bias);
  cl_int has_bias = call->num_inputs > 2;
  size_t global[3];
  size_t local[3];
  uint32_t variant;
  xhal_status_t status;
  if (ocl_gemm_supports(NULL, s->dev, call) != XHAL_OK ||
      ncol > OCL_GEMM_INDEX_LIMIT)
    return ocl_error(s->dev->ctx, XHAL_ERROR_UNSUPPORTED,
                     "opencl: conv2d: an operand has 2^31 or more elements");
  status = ocl_op_program(s->dev, ocl_gemm_prog_for(x->desc.dtype), &prog);
  if (status != XHAL_OK) return status;
  p.N = (cl_int)x->desc.dims[0];
  p.C = (cl_int)x->desc.dims[1];
  p.H = (cl_int)x->desc.dims[2];
  p.W = (cl_int)x->desc.dims[3];
  p.K = (cl_int)w->desc.dims[0];
  p.R = (cl_int)w->desc.dims[2];
  p.S = (cl_int)w->desc.dims[3];
  p.OH = (cl_int)oh;
  p.OW = (cl_int)ow;
  p.sh = (cl_int)at->stride[0];
  p.sw = (cl_int)at->stride[1];
  p.ph = (cl_int)at->padding[0];
  p.pw = (cl_int)at->padding[1];
  p.dh = (cl_int)at->dilation[0];
  p.dw = (cl_int)at->dilation[1];
  p.Cg = (cl_int)w->desc.dims[1];
  p.Kg = (cl_int)(w->desc.dims[0] / groups);
  p.CRS = p.Cg * p.R * p.S;
  p.OHW = (cl_int)(oh * ow);
  p.NCOL = (cl_int)ncol;
  variant = pick_variant(s->dev, prog, (uint64_t)p.Kg, ncol, groups);
  tile_grid(&prog->tiles[variant], (uint64_t)p.Kg, ncol, global, local);
  global[2] = (size_t)groups;
  {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(p), &p),
        ocl_arg(sizeof(xm), &xm),
        ocl_arg(sizeof(xoff), &xoff),
        ocl_arg(sizeof(wm), &wm),
        ocl_arg(sizeof(woff), &woff),
        ocl_arg(sizeof(biasm), &biasm),
        ocl_arg(sizeof(biasoff), &biasoff),
        ocl_arg(sizeof(has_bias), &has_bias),
        ocl_arg(sizeof(ym), &ym),
        ocl_arg(sizeof(yoff), &yoff),
    };
    return ocl_op_launch(
        s, prog, variant == OCL_TILES_SMALL ? OCL_K_CONV2D_SMALL : OCL_K_CONV2D,
        args, 10, 3, global, local);
  }
}
