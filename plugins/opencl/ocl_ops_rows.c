/*
 * ocl_ops_rows.c - softmax, layer_norm, reduce_sum and reduce_max.
 *
 * Each views its input as [outer, D, inner] around the reduced axis and
 * launches one work-group per slice (at most ew_max_groups groups; each
 * loops over further slices), kernels/rowops.cl.
 */
#include "ocl_ops.h"

/* outer, D, inner of `desc` around `axis` (negative counts back). */
static void split_axis(const xhal_tensor_desc_t* desc, int32_t axis,
                       cl_ulong* outer, cl_ulong* d, cl_ulong* inner) {
  int32_t signed_axis = axis < 0 ? (int32_t)desc->rank + axis : axis;
  uint32_t rank = desc->rank < XHAL_MAX_RANK ? desc->rank : XHAL_MAX_RANK;
  uint32_t a;
  uint32_t i;
  /* libxhal checked the axis; keep a direct ABI caller inside dims[]. */
  if (signed_axis < 0) signed_axis = 0;
  if (rank > 0 && (uint32_t)signed_axis >= rank)
    signed_axis = (int32_t)rank - 1;
  a = (uint32_t)signed_axis;
  *outer = 1;
  *inner = 1;
  *d = desc->dims[a];
  for (i = 0; i < a; ++i) *outer *= desc->dims[i];
  for (i = a + 1; i < rank; ++i) *inner *= desc->dims[i];
}

static void row_grid(const struct xhal_plugin_device* dev, uint64_t slices,
                     size_t* global, size_t* local) {
  uint64_t groups = slices < dev->ew_max_groups ? slices : dev->ew_max_groups;
  if (groups == 0) groups = 1;
  *local = dev->row_wg;
  *global = (size_t)(groups * dev->row_wg);
}

xhal_status_t ocl_op_softmax(struct xhal_plugin_stream* s,
                             const xhal_plugin_op_call_t* call) {
  const xhal_plugin_tensor_t* x = &call->inputs[0];
  const xhal_plugin_tensor_t* y = &call->outputs[0];
  ocl_op_program_t* prog;
  cl_ulong outer;
  cl_ulong d;
  cl_ulong inner;
  cl_mem xm = x->buffer->mem;
  cl_mem ym = y->buffer->mem;
  cl_ulong xoff = ocl_elem_offset(x);
  cl_ulong yoff = ocl_elem_offset(y);
  size_t global;
  size_t local;
  xhal_status_t status =
      ocl_op_program(s->dev, ocl_prog_for(y->desc.dtype), &prog);
  if (status != XHAL_OK) return status;
  split_axis(&x->desc, call->attrs.axis, &outer, &d, &inner);
  row_grid(s->dev, outer * inner, &global, &local);
  {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(outer), &outer), ocl_arg(sizeof(d), &d),
        ocl_arg(sizeof(inner), &inner), ocl_arg(sizeof(xm), &xm),
        ocl_arg(sizeof(xoff), &xoff),   ocl_arg(sizeof(ym), &ym),
        ocl_arg(sizeof(yoff), &yoff),
    };
    return ocl_op_launch(s, prog, OCL_K_SOFTMAX, args, 7, 1, &global, &local);
  }
}

xhal_status_t ocl_op_layer_norm(struct xhal_plugin_stream* s,
                                const xhal_plugin_op_call_t* call) {
  const xhal_plugin_tensor_t* x = &call->inputs[0];
  const xhal_plugin_tensor_t* y = &call->outputs[0];
  /* Absent gamma/beta bind the input buffer; the kernel never reads it. */
  const xhal_plugin_tensor_t* g = call->num_inputs > 1 ? &call->inputs[1] : x;
  const xhal_plugin_tensor_t* b = call->num_inputs > 2 ? &call->inputs[2] : x;
  ocl_op_program_t* prog;
  cl_ulong d = x->desc.rank > 0 ? x->desc.dims[x->desc.rank - 1] : 1;
  cl_ulong rows = d > 0 ? ocl_numel(&x->desc) / d : 0;
  cl_float eps = call->attrs.epsilon;
  cl_mem xm = x->buffer->mem;
  cl_mem gm = g->buffer->mem;
  cl_mem bm = b->buffer->mem;
  cl_mem ym = y->buffer->mem;
  cl_ulong xoff = ocl_elem_offset(x);
  cl_ulong goff = ocl_elem_offset(g);
  cl_ulong boff = ocl_elem_offset(b);
  cl_ulong yoff = ocl_elem_offset(y);
  cl_int has_g = call->num_inputs > 1;
  cl_int has_b = call->num_inputs > 2;
  size_t global;
  size_t local;
  xhal_status_t status =
      ocl_op_program(s->dev, ocl_prog_for(y->desc.dtype), &prog);
  if (status != XHAL_OK) return status;
  row_grid(s->dev, rows, &global, &local);
  {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(rows), &rows),   ocl_arg(sizeof(d), &d),
        ocl_arg(sizeof(eps), &eps),     ocl_arg(sizeof(xm), &xm),
        ocl_arg(sizeof(xoff), &xoff),   ocl_arg(sizeof(gm), &gm),
        ocl_arg(sizeof(goff), &goff),   ocl_arg(sizeof(has_g), &has_g),
        ocl_arg(sizeof(bm), &bm),       ocl_arg(sizeof(boff), &boff),
        ocl_arg(sizeof(has_b), &has_b), ocl_arg(sizeof(ym), &ym),
        ocl_arg(sizeof(yoff), &yoff),
    };
    return ocl_op_launch(s, prog, OCL_K_LAYER_NORM, args, 13, 1, &global,
                         &local);
  }
}

xhal_status_t ocl_op_reduce(struct xhal_plugin_stream* s,
                            const xhal_plugin_op_call_t* call) {
  const xhal_plugin_tensor_t* x = &call->inputs[0];
  const xhal_plugin_tensor_t* y = &call->outputs[0];
  ocl_op_program_t* prog;
  cl_int is_max = call->op == XHAL_OP_REDUCE_MAX;
  cl_ulong outer;
  cl_ulong d;
  cl_ulong inner;
  cl_mem xm = x->buffer->mem;
  cl_mem ym = y->buffer->mem;
  cl_ulong xoff = ocl_elem_offset(x);
  cl_ulong yoff = ocl_elem_offset(y);
  size_t global;
  size_t local;
  xhal_status_t status =
      ocl_op_program(s->dev, ocl_prog_for(y->desc.dtype), &prog);
  if (status != XHAL_OK) return status;
  split_axis(&x->desc, call->attrs.axis, &outer, &d, &inner);
  row_grid(s->dev, outer * inner, &global, &local);
  {
    ocl_karg_t args[] = {
        ocl_arg(sizeof(is_max), &is_max), ocl_arg(sizeof(outer), &outer),
        ocl_arg(sizeof(d), &d),           ocl_arg(sizeof(inner), &inner),
        ocl_arg(sizeof(xm), &xm),         ocl_arg(sizeof(xoff), &xoff),
        ocl_arg(sizeof(ym), &ym),         ocl_arg(sizeof(yoff), &yoff),
    };
    return ocl_op_launch(s, prog, OCL_K_REDUCE, args, 8, 1, &global, &local);
  }
}
