/*
 * ocl_ops.c - the operator programs of a device and the registration of
 * every operator implementation with the host's registry.
 *
 * Programs are built on first use, once per device (a device that never
 * runs an operator never compiles one), then kept in memory for the
 * device's life and on disk across processes (ocl_cache.c). The
 * matmul/conv2d kernels are programs of their own: they take the longest
 * to compile and their first build waits for the tile autotune, which an
 * elementwise or row operator should not pay for. Build options
 * carry the per-device choices: the operand family, the row kernels'
 * work-group size and exact division where the device offers it; the
 * matmul/conv2d tiles of the two variants arrive as source preludes before
 * each copy of kernels/gemm.cl. If a tiled kernel's own work-group limit
 * (register pressure) is below what its tiles need, the program is rebuilt
 * with the next smaller tiles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_ops.h"
#include "ocl_sources.h"

/* ------------------------------------------------------------ programs */

static const char* const kKernelNames[OCL_K_COUNT] = {
    [OCL_K_UNARY] = "unary",
    [OCL_K_BINARY_SAME] = "binary_same",
    [OCL_K_BINARY_BCAST] = "binary_bcast",
    [OCL_K_SOFTMAX] = "softmax",
    [OCL_K_LAYER_NORM] = "layer_norm",
    [OCL_K_REDUCE] = "reduce",
    [OCL_K_MATMUL] = "matmul_large",
    [OCL_K_CONV2D] = "conv2d_large",
    [OCL_K_MATMUL_SMALL] = "matmul_small",
    [OCL_K_CONV2D_SMALL] = "conv2d_small",
    [OCL_K_TRANSPOSE_1] = "transpose_1",
    [OCL_K_TRANSPOSE_2] = "transpose_2",
    [OCL_K_TRANSPOSE_4] = "transpose_4",
    [OCL_K_CAST_FIRST + 0] = "cast_f32_f32",
    [OCL_K_CAST_FIRST + 1] = "cast_f32_f16",
    [OCL_K_CAST_FIRST + 2] = "cast_f32_i8",
    [OCL_K_CAST_FIRST + 3] = "cast_f32_i32",
    [OCL_K_CAST_FIRST + 4] = "cast_f16_f32",
    [OCL_K_CAST_FIRST + 5] = "cast_f16_f16",
    [OCL_K_CAST_FIRST + 6] = "cast_f16_i8",
    [OCL_K_CAST_FIRST + 7] = "cast_f16_i32",
    [OCL_K_CAST_FIRST + 8] = "cast_i8_f32",
    [OCL_K_CAST_FIRST + 9] = "cast_i8_f16",
    [OCL_K_CAST_FIRST + 10] = "cast_i8_i8",
    [OCL_K_CAST_FIRST + 11] = "cast_i8_i32",
    [OCL_K_CAST_FIRST + 12] = "cast_i32_f32",
    [OCL_K_CAST_FIRST + 13] = "cast_i32_f16",
    [OCL_K_CAST_FIRST + 14] = "cast_i32_i8",
    [OCL_K_CAST_FIRST + 15] = "cast_i32_i32",
};

/* Source files of a program (bits) and its kernels. */
enum {
  SRC_ELEMENTWISE = 1u << 0,
  SRC_ROWOPS = 1u << 1,
  SRC_GEMM = 1u << 2,
  SRC_LAYOUT = 1u << 3,
};

/* Bit of a kernel in a program's kernel mask. */
#define KBIT(k) (1ull << (k))
#define FLOAT_KERNELS                                                       \
  (KBIT(OCL_K_UNARY) | KBIT(OCL_K_BINARY_SAME) | KBIT(OCL_K_BINARY_BCAST) | \
   KBIT(OCL_K_SOFTMAX) | KBIT(OCL_K_LAYER_NORM) | KBIT(OCL_K_REDUCE))
#define GEMM_KERNELS                                                    \
  (KBIT(OCL_K_MATMUL) | KBIT(OCL_K_CONV2D) | KBIT(OCL_K_MATMUL_SMALL) | \
   KBIT(OCL_K_CONV2D_SMALL))
#define MISC_KERNELS ((KBIT(OCL_K_COUNT) - 1) & ~(KBIT(OCL_K_TRANSPOSE_1) - 1))

typedef struct prog_def {
  const char* name;
  const char* define;
  uint32_t sources;
  uint64_t kernels; /* KBIT mask */
} prog_def_t;

static const prog_def_t kPrograms[OCL_PROG_COUNT] = {
    [OCL_PROG_F32] = {"f32", "-DXK_F32", SRC_ELEMENTWISE | SRC_ROWOPS,
                      FLOAT_KERNELS},
    [OCL_PROG_F16] = {"f16", "-DXK_F16", SRC_ELEMENTWISE | SRC_ROWOPS,
                      FLOAT_KERNELS},
    [OCL_PROG_I32] = {"i32", "-DXK_I32", SRC_ELEMENTWISE | SRC_ROWOPS,
                      KBIT(OCL_K_BINARY_SAME) | KBIT(OCL_K_BINARY_BCAST) |
                          KBIT(OCL_K_REDUCE)},
    [OCL_PROG_F32_GEMM] = {"f32 gemm", "-DXK_F32", SRC_GEMM, GEMM_KERNELS},
    [OCL_PROG_F16_GEMM] = {"f16 gemm", "-DXK_F16", SRC_GEMM, GEMM_KERNELS},
    [OCL_PROG_I8_GEMM] = {"i8 gemm", "-DXK_I8", SRC_GEMM, GEMM_KERNELS},
    [OCL_PROG_MISC] = {"misc", "-DXK_MISC", SRC_LAYOUT, MISC_KERNELS},
};

static int has_kernel(const prog_def_t* def, uint32_t k) {
  return (def->kernels & KBIT(k)) != 0;
}

static void release_program(ocl_op_program_t* p) {
  uint32_t i;
  if (p->kernels != NULL) {
    for (i = 0; i < p->kernel_count; ++i) {
      if (p->kernels[i].kernel == NULL) continue;
      clReleaseKernel(p->kernels[i].kernel);
      pthread_mutex_destroy(&p->kernels[i].mu);
    }
    free(p->kernels);
  }
  if (p->program != NULL) clReleaseProgram(p->program);
  p->kernels = NULL;
  p->kernel_count = 0;
  p->program = NULL;
}

/* Whether a tiled kernel can run the work-group its tiles need (its own
 * limit reflects its register use). */
static int tiles_runnable(const struct xhal_plugin_device* dev, cl_kernel k,
                          const ocl_tiles_t* t) {
  size_t wg = 0;
  size_t need = (size_t)(t->tsm / t->wptm) * (t->tsn / t->wptn);
  if (clGetKernelWorkGroupInfo(k, dev->info->id, CL_KERNEL_WORK_GROUP_SIZE,
                               sizeof(wg), &wg, NULL) != CL_SUCCESS)
    return 0;
  return wg >= need;
}

/* Creates the program's kernels. *too_big gets a bit per tile variant
 * (1 << OCL_TILES_*) whose kernels cannot run their work-group. */
static xhal_status_t create_kernels(struct xhal_plugin_device* dev,
                                    const prog_def_t* def, ocl_op_program_t* p,
                                    uint32_t* too_big) {
  uint32_t k;
  cl_int err = CL_SUCCESS;
  *too_big = 0;
  p->kernels = calloc(OCL_K_COUNT, sizeof(*p->kernels));
  if (p->kernels == NULL)
    return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                     "opencl: out of host memory");
  p->kernel_count = OCL_K_COUNT;
  for (k = 0; k < OCL_K_COUNT; ++k) {
    ocl_op_kernel_t* ok = &p->kernels[k];
    if (!has_kernel(def, k)) continue;
    ok->kernel = clCreateKernel(p->program, kKernelNames[k], &err);
    if (ok->kernel == NULL || err != CL_SUCCESS) {
      ok->kernel = NULL;
      return ocl_cl_error(dev->ctx, err, "clCreateKernel");
    }
    if (pthread_mutex_init(&ok->mu, NULL) != 0) {
      clReleaseKernel(ok->kernel);
      ok->kernel = NULL;
      return ocl_error(dev->ctx, XHAL_ERROR_OUT_OF_MEMORY,
                       "opencl: cannot create a mutex");
    }
    if ((k == OCL_K_MATMUL || k == OCL_K_CONV2D) &&
        !tiles_runnable(dev, ok->kernel, &p->tiles[OCL_TILES_LARGE]))
      *too_big |= 1u << OCL_TILES_LARGE;
    if ((k == OCL_K_MATMUL_SMALL || k == OCL_K_CONV2D_SMALL) &&
        !tiles_runnable(dev, ok->kernel, &p->tiles[OCL_TILES_SMALL]))
      *too_big |= 1u << OCL_TILES_SMALL;
  }
  return XHAL_OK;
}

/* The source that defines one tile variant before a copy of gemm.cl. */
static int tile_prelude(char* out, size_t cap, const ocl_tiles_t* t,
                        const char* suffix) {
  int n = snprintf(out, cap,
                   "\n#define TSM %u\n#define TSN %u\n#define TSK %u\n"
                   "#define WPTM %u\n#define WPTN %u\n"
                   "#define XK_SUFFIX %s\n",
                   t->tsm, t->tsn, t->tsk, t->wptm, t->wptn, suffix);
  return n > 0 && (size_t)n < cap;
}

static xhal_status_t build_one(struct xhal_plugin_device* dev, ocl_prog_id_t id,
                               ocl_op_program_t* p) {
  const prog_def_t* def = &kPrograms[id];
  const ocl_device_info_t* info = dev->info;
  const char* sources[8];
  char prelude[2][256];
  uint32_t rank[2] = {0, 0};
  uint32_t attempt;
  char options[256];
  char log[2048];
  xhal_status_t status = XHAL_ERROR_UNSUPPORTED;
  int n = snprintf(
      options, sizeof(options), "%s -DXK_ROW_WG=%u%s", def->define, dev->row_wg,
      info->exact_div ? " -DXK_EXACT_DIV -cl-fp32-correctly-rounded-divide-sqrt"
                      : "");
  if (n < 0 || (size_t)n >= sizeof(options))
    return ocl_error(dev->ctx, XHAL_ERROR_INTERNAL,
                     "opencl: build options too long");

  if (def->sources & SRC_GEMM) ocl_tune_tiles(dev);
  /* Each attempt shrinks the variants whose kernels could not run. */
  for (attempt = 0; attempt < 16 && status == XHAL_ERROR_UNSUPPORTED;
       ++attempt) {
    uint32_t count = 0;
    uint32_t too_big = 0;
    uint32_t v;
    sources[count++] = ocl_src_common;
    if (def->sources & SRC_ELEMENTWISE) sources[count++] = ocl_src_elementwise;
    if (def->sources & SRC_ROWOPS) sources[count++] = ocl_src_rowops;
    if (def->sources & SRC_LAYOUT) sources[count++] = ocl_src_layout;
    memset(p->tiles, 0, sizeof(p->tiles));
    if (def->sources & SRC_GEMM) {
      for (v = 0; v < 2; ++v) {
        const ocl_tiles_t* preferred = dev->ctx->tiles_override.tsm != 0
                                           ? &dev->ctx->tiles_override
                                       : dev->has_tuned ? &dev->tuned[v]
                                                        : NULL;
        p->tiles[v] = ocl_tiles_for(info, preferred, v, rank[v]);
        if (p->tiles[v].tsm == 0)
          return ocl_error(dev->ctx, XHAL_ERROR_UNSUPPORTED,
                           "opencl: '%s' cannot run any matmul tile size",
                           info->props.name);
        if (!tile_prelude(prelude[v], sizeof(prelude[v]), &p->tiles[v],
                          v == OCL_TILES_LARGE ? "_large" : "_small"))
          return ocl_error(dev->ctx, XHAL_ERROR_INTERNAL,
                           "opencl: tile prelude too long");
        sources[count++] = prelude[v];
        sources[count++] = ocl_src_gemm;
      }
    }
    status = ocl_build_program(dev, sources, NULL, count, options, log,
                               sizeof(log), &p->program);
    if (status != XHAL_OK) {
      /* The plugin's own kernels failing to compile is a bug or a broken
       * driver; the log says which. */
      ocl_log(dev->ctx, XHAL_LOG_ERROR,
              "opencl: operator program '%s' failed to build on '%s':\n%s",
              def->name, info->props.name, log);
      return status;
    }
    status = create_kernels(dev, def, p, &too_big);
    if (status == XHAL_OK && too_big != 0) status = XHAL_ERROR_UNSUPPORTED;
    if (status != XHAL_OK) release_program(p);
    for (v = 0; v < 2; ++v) {
      if (!(too_big & (1u << v))) continue;
      ocl_log(dev->ctx, XHAL_LOG_INFO,
              "opencl: %ux%u tiles do not fit '%s'; trying smaller ones",
              p->tiles[v].tsm, p->tiles[v].tsn, info->props.name);
      rank[v]++;
    }
  }
  if (status == XHAL_OK && (def->sources & SRC_GEMM))
    ocl_log(dev->ctx, XHAL_LOG_DEBUG,
            "opencl: '%s' program '%s': tiles %ux%ux%u (%ux%u per work-item) "
            "and %ux%ux%u (%ux%u)",
            info->props.name, def->name, p->tiles[0].tsm, p->tiles[0].tsn,
            p->tiles[0].tsk, p->tiles[0].wptm, p->tiles[0].wptn,
            p->tiles[1].tsm, p->tiles[1].tsn, p->tiles[1].tsk, p->tiles[1].wptm,
            p->tiles[1].wptn);
  return status;
}

xhal_status_t ocl_op_program(struct xhal_plugin_device* dev, ocl_prog_id_t id,
                             ocl_op_program_t** out) {
  ocl_op_program_t* p = &dev->progs[id];
  xhal_status_t status;
  pthread_mutex_lock(&dev->prog_mu);
  if (p->state == 0) {
    status = build_one(dev, id, p);
    p->state = status == XHAL_OK ? 1 : -1;
    p->status = status;
  }
  status = p->status;
  pthread_mutex_unlock(&dev->prog_mu);
  if (status != XHAL_OK)
    return ocl_error(dev->ctx, status,
                     "opencl: operator program '%s' is unavailable on '%s' "
                     "(status %d; see the log)",
                     kPrograms[id].name, dev->info->props.name, (int)status);
  *out = p;
  return XHAL_OK;
}

void ocl_ops_release(struct xhal_plugin_device* dev) {
  uint32_t i;
  for (i = 0; i < OCL_PROG_COUNT; ++i) release_program(&dev->progs[i]);
}

xhal_status_t ocl_op_launch(struct xhal_plugin_stream* s,
                            ocl_op_program_t* prog, ocl_kernel_id_t kid,
                            const ocl_karg_t* args, uint32_t num_args,
                            uint32_t work_dim, const size_t* global,
                            const size_t* local) {
  ocl_op_kernel_t* k = &prog->kernels[kid];
  cl_int err = CL_SUCCESS;
  uint32_t i;
  if (k->kernel == NULL)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INTERNAL,
                     "opencl: kernel '%s' missing from its program",
                     kKernelNames[kid]);
  pthread_mutex_lock(&k->mu);
  for (i = 0; i < num_args && err == CL_SUCCESS; ++i)
    err = clSetKernelArg(k->kernel, i, args[i].size, args[i].value);
  if (err == CL_SUCCESS)
    err = clEnqueueNDRangeKernel(s->queue, k->kernel, work_dim, NULL, global,
                                 local, 0, NULL, NULL);
  pthread_mutex_unlock(&k->mu);
  if (err != CL_SUCCESS)
    return ocl_error(s->dev->ctx, ocl_cl_status(err),
                     "opencl: launching '%s' failed: %s", kKernelNames[kid],
                     ocl_cl_error_name(err));
  return XHAL_OK;
}

ocl_prog_id_t ocl_prog_for(xhal_dtype_t dtype) {
  switch (dtype) {
    case XHAL_DTYPE_F16:
      return OCL_PROG_F16;
    case XHAL_DTYPE_I32:
      return OCL_PROG_I32;
    default:
      return OCL_PROG_F32;
  }
}

ocl_prog_id_t ocl_gemm_prog_for(xhal_dtype_t dtype) {
  switch (dtype) {
    case XHAL_DTYPE_F16:
      return OCL_PROG_F16_GEMM;
    case XHAL_DTYPE_I8:
      return OCL_PROG_I8_GEMM;
    default:
      return OCL_PROG_F32_GEMM;
  }
}

uint64_t ocl_numel(const xhal_tensor_desc_t* desc) {
  uint64_t n = 1;
  uint32_t i;
  for (i = 0; i < desc->rank && i < XHAL_MAX_RANK; ++i) n *= desc->dims[i];
  return n;
}

void ocl_grid_1d(const struct xhal_plugin_device* dev, uint64_t n,
                 size_t* global, size_t* local) {
  uint64_t groups = (n + dev->ew_wg - 1) / dev->ew_wg;
  if (groups > dev->ew_max_groups) groups = dev->ew_max_groups;
  if (groups == 0) groups = 1;
  *local = dev->ew_wg;
  *global = (size_t)(groups * dev->ew_wg);
}

/* -------------------------------------------------------- registration */

typedef xhal_status_t (*op_fn_t)(struct xhal_plugin_stream* s,
                                 const xhal_plugin_op_call_t* call);

typedef struct op_entry {
  xhal_op_t op;
  uint32_t num_dtypes;
  xhal_dtype_t dtypes[XHAL_MAX_OP_INPUTS + XHAL_MAX_OP_OUTPUTS];
  const char* name;
  op_fn_t fn;
} op_entry_t;

#define F32 XHAL_DTYPE_F32
#define F16 XHAL_DTYPE_F16
#define I8 XHAL_DTYPE_I8
#define I32 XHAL_DTYPE_I32

static const op_entry_t kOps[] = {
    {XHAL_OP_ADD, 3, {F32, F32, F32}, "opencl.add.f32", ocl_op_binary},
    {XHAL_OP_ADD, 3, {F16, F16, F16}, "opencl.add.f16", ocl_op_binary},
    {XHAL_OP_ADD, 3, {I32, I32, I32}, "opencl.add.i32", ocl_op_binary},
    {XHAL_OP_SUB, 3, {F32, F32, F32}, "opencl.sub.f32", ocl_op_binary},
    {XHAL_OP_SUB, 3, {F16, F16, F16}, "opencl.sub.f16", ocl_op_binary},
    {XHAL_OP_SUB, 3, {I32, I32, I32}, "opencl.sub.i32", ocl_op_binary},
    {XHAL_OP_MUL, 3, {F32, F32, F32}, "opencl.mul.f32", ocl_op_binary},
    {XHAL_OP_MUL, 3, {F16, F16, F16}, "opencl.mul.f16", ocl_op_binary},
    {XHAL_OP_MUL, 3, {I32, I32, I32}, "opencl.mul.i32", ocl_op_binary},
    {XHAL_OP_DIV, 3, {F32, F32, F32}, "opencl.div.f32", ocl_op_binary},
    {XHAL_OP_DIV, 3, {F16, F16, F16}, "opencl.div.f16", ocl_op_binary},
    {XHAL_OP_MAX, 3, {F32, F32, F32}, "opencl.max.f32", ocl_op_binary},
    {XHAL_OP_MAX, 3, {F16, F16, F16}, "opencl.max.f16", ocl_op_binary},
    {XHAL_OP_MAX, 3, {I32, I32, I32}, "opencl.max.i32", ocl_op_binary},
    {XHAL_OP_MIN, 3, {F32, F32, F32}, "opencl.min.f32", ocl_op_binary},
    {XHAL_OP_MIN, 3, {F16, F16, F16}, "opencl.min.f16", ocl_op_binary},
    {XHAL_OP_MIN, 3, {I32, I32, I32}, "opencl.min.i32", ocl_op_binary},
    {XHAL_OP_RELU, 2, {F32, F32}, "opencl.relu.f32", ocl_op_unary},
    {XHAL_OP_RELU, 2, {F16, F16}, "opencl.relu.f16", ocl_op_unary},
    {XHAL_OP_GELU, 2, {F32, F32}, "opencl.gelu.f32", ocl_op_unary},
    {XHAL_OP_GELU, 2, {F16, F16}, "opencl.gelu.f16", ocl_op_unary},
    {XHAL_OP_SIGMOID, 2, {F32, F32}, "opencl.sigmoid.f32", ocl_op_unary},
    {XHAL_OP_SIGMOID, 2, {F16, F16}, "opencl.sigmoid.f16", ocl_op_unary},
    {XHAL_OP_TANH, 2, {F32, F32}, "opencl.tanh.f32", ocl_op_unary},
    {XHAL_OP_TANH, 2, {F16, F16}, "opencl.tanh.f16", ocl_op_unary},
    {XHAL_OP_EXP, 2, {F32, F32}, "opencl.exp.f32", ocl_op_unary},
    {XHAL_OP_EXP, 2, {F16, F16}, "opencl.exp.f16", ocl_op_unary},
    {XHAL_OP_MATMUL,
     4,
     {F32, F32, F32, F32},
     "opencl.matmul.f32",
     ocl_op_matmul},
    {XHAL_OP_MATMUL,
     4,
     {F16, F16, F16, F16},
     "opencl.matmul.f16",
     ocl_op_matmul},
    {XHAL_OP_MATMUL, 4, {I8, I8, I32, I32}, "opencl.matmul.i8", ocl_op_matmul},
    {XHAL_OP_CONV2D,
     4,
     {F32, F32, F32, F32},
     "opencl.conv2d.f32",
     ocl_op_conv2d},
    {XHAL_OP_CONV2D,
     4,
     {F16, F16, F16, F16},
     "opencl.conv2d.f16",
     ocl_op_conv2d},
    {XHAL_OP_CONV2D, 4, {I8, I8, I32, I32}, "opencl.conv2d.i8", ocl_op_conv2d},
    {XHAL_OP_SOFTMAX, 2, {F32, F32}, "opencl.softmax.f32", ocl_op_softmax},
    {XHAL_OP_SOFTMAX, 2, {F16, F16}, "opencl.softmax.f16", ocl_op_softmax},
    {XHAL_OP_LAYER_NORM,
     4,
     {F32, F32, F32, F32},
     "opencl.layer_norm.f32",
     ocl_op_layer_norm},
    {XHAL_OP_LAYER_NORM,
     4,
     {F16, F16, F16, F16},
     "opencl.layer_norm.f16",
     ocl_op_layer_norm},
    {XHAL_OP_REDUCE_SUM, 2, {F32, F32}, "opencl.reduce_sum.f32", ocl_op_reduce},
    {XHAL_OP_REDUCE_SUM, 2, {F16, F16}, "opencl.reduce_sum.f16", ocl_op_reduce},
    {XHAL_OP_REDUCE_SUM, 2, {I32, I32}, "opencl.reduce_sum.i32", ocl_op_reduce},
    {XHAL_OP_REDUCE_MAX, 2, {F32, F32}, "opencl.reduce_max.f32", ocl_op_reduce},
    {XHAL_OP_REDUCE_MAX, 2, {F16, F16}, "opencl.reduce_max.f16", ocl_op_reduce},
    {XHAL_OP_REDUCE_MAX, 2, {I32, I32}, "opencl.reduce_max.i32", ocl_op_reduce},
    {XHAL_OP_TRANSPOSE,
     2,
     {F32, F32},
     "opencl.transpose.f32",
     ocl_op_transpose},
    {XHAL_OP_TRANSPOSE,
     2,
     {F16, F16},
     "opencl.transpose.f16",
     ocl_op_transpose},
    {XHAL_OP_TRANSPOSE, 2, {I8, I8}, "opencl.transpose.i8", ocl_op_transpose},
    {XHAL_OP_TRANSPOSE,
     2,
     {I32, I32},
     "opencl.transpose.i32",
     ocl_op_transpose},
    {XHAL_OP_CAST, 2, {F32, F32}, "opencl.cast.f32.f32", ocl_op_cast},
    {XHAL_OP_CAST, 2, {F32, F16}, "opencl.cast.f32.f16", ocl_op_cast},
    {XHAL_OP_CAST, 2, {F32, I8}, "opencl.cast.f32.i8", ocl_op_cast},
    {XHAL_OP_CAST, 2, {F32, I32}, "opencl.cast.f32.i32", ocl_op_cast},
    {XHAL_OP_CAST, 2, {F16, F32}, "opencl.cast.f16.f32", ocl_op_cast},
    {XHAL_OP_CAST, 2, {F16, F16}, "opencl.cast.f16.f16", ocl_op_cast},
    {XHAL_OP_CAST, 2, {F16, I8}, "opencl.cast.f16.i8", ocl_op_cast},
    {XHAL_OP_CAST, 2, {F16, I32}, "opencl.cast.f16.i32", ocl_op_cast},
    {XHAL_OP_CAST, 2, {I8, F32}, "opencl.cast.i8.f32", ocl_op_cast},
    {XHAL_OP_CAST, 2, {I8, F16}, "opencl.cast.i8.f16", ocl_op_cast},
    {XHAL_OP_CAST, 2, {I8, I8}, "opencl.cast.i8.i8", ocl_op_cast},
    {XHAL_OP_CAST, 2, {I8, I32}, "opencl.cast.i8.i32", ocl_op_cast},
    {XHAL_OP_CAST, 2, {I32, F32}, "opencl.cast.i32.f32", ocl_op_cast},
    {XHAL_OP_CAST, 2, {I32, F16}, "opencl.cast.i32.f16", ocl_op_cast},
    {XHAL_OP_CAST, 2, {I32, I8}, "opencl.cast.i32.i8", ocl_op_cast},
    {XHAL_OP_CAST, 2, {I32, I32}, "opencl.cast.i32.i32", ocl_op_cast},
};

#undef F32
#undef F16
#undef I8
#undef I32

/* The registry's enqueue entry: user_data is the op_entry_t. Calls whose
 * output is empty never get here (libxhal completes them), but a direct
 * caller of the ABI is answered the same way. */
static xhal_status_t enqueue_op(void* user_data, xhal_plugin_stream_t s,
                                const xhal_plugin_op_call_t* call) {
  const op_entry_t* entry = user_data;
  ocl_cmd_t cmd;
  xhal_status_t status;
  uint32_t i;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (call == NULL || call->num_outputs != 1 ||
      call->num_inputs > XHAL_MAX_OP_INPUTS || call->outputs[0].buffer == NULL)
    return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                     "opencl: %s: malformed call", entry->name);
  if (ocl_numel(&call->outputs[0].desc) == 0 || ocl_stream_failed(s))
    return XHAL_OK;
  /* libxhal validated shapes and ranges; a direct caller of the ABI still
   * must not make the plugin dereference a missing buffer. */
  for (i = 0; i < call->num_inputs; ++i)
    if (call->inputs[i].buffer == NULL)
      return ocl_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                       "opencl: %s: input %u has no buffer", entry->name, i);
  if (!ocl_submit_begin(s)) {
    status = entry->fn(s, call);
  } else {
    /* Behind a host job: the call is copied and its buffers kept alive
     * until the host thread launches it (ocl_hostfn.c). */
    memset(&cmd, 0, sizeof(cmd));
    cmd.kind = OCL_CMD_OP;
    cmd.op_fn = entry->fn;
    cmd.call = *call;
    for (i = 0; i < call->num_inputs; ++i)
      ocl_buffer_retain(call->inputs[i].buffer);
    ocl_buffer_retain(call->outputs[0].buffer);
    status = ocl_submit_defer(s, &cmd);
    if (status != XHAL_OK) ocl_cmd_release(&cmd);
  }
  ocl_submit_end(s);
  return status;
}

xhal_status_t ocl_register_ops(struct xhal_plugin_context* ctx) {
  uint32_t d;
  size_t i;
  if (ctx->host.register_op_impl == NULL) {
    ocl_log(ctx, XHAL_LOG_WARN,
            "opencl: host has no register_op_impl; no operators registered");
    return XHAL_OK;
  }
  for (d = 0; d < ctx->device_count; ++d) {
    if (!ctx->devices[d].compiler) continue; /* no kernels without one */
    for (i = 0; i < sizeof(kOps) / sizeof(kOps[0]); ++i) {
      xhal_plugin_op_impl_t impl;
      xhal_status_t status;
      memset(&impl, 0, sizeof(impl));
      impl.struct_size = (uint32_t)sizeof(impl);
      impl.op = kOps[i].op;
      impl.device_index = d;
      impl.priority = 0;
      impl.num_dtypes = kOps[i].num_dtypes;
      memcpy(impl.dtypes, kOps[i].dtypes, sizeof(impl.dtypes));
      impl.name = kOps[i].name;
      impl.user_data = (void*)&kOps[i];
      impl.supports =
          (kOps[i].op == XHAL_OP_MATMUL || kOps[i].op == XHAL_OP_CONV2D)
              ? ocl_gemm_supports
              : NULL;
      impl.enqueue = enqueue_op;
      status = ctx->host.register_op_impl(ctx->host.host_context, &impl);
      if (status == XHAL_ERROR_OUT_OF_MEMORY) return status;
      if (status != XHAL_OK)
        ocl_log(ctx, XHAL_LOG_WARN, "opencl: host refused %s (status %d)",
                kOps[i].name, (int)status);
    }
  }
  return XHAL_OK;
}
