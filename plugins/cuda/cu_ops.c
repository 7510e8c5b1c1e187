/*
 * cu_ops.c - the operators the CUDA plugin registers: matmul through
 * cuBLAS (f32 and f16; int8 with int32 accumulation as a kernel of its
 * own), elementwise binary operators with broadcasting (f32, f16, i32)
 * and the unary ones (f32, f16) as CUDA kernels (kernels/ops.cu),
 * compiled by NVRTC on the first call on a device and cached on disk.
 *
 * f32 matmul runs in full f32 (CUBLAS_COMPUTE_32F, no TF32): the
 * catalog's f32 tolerance (docs/ops.md) is that of an f32 accumulation,
 * and xhal_op_attrs_t has no attribute yet by which a caller could allow
 * TF32. f16 matmul accumulates in f32, as the catalog requires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_internal.h"

extern const char cu_src_ops[];

/* cuBLAS and CUDA library constants (cublas_api.h, library_types.h);
 * their values are part of those libraries' ABI. */
enum {
  kBlasOpN = 0,
  kBlasOpT = 1,
  kCudaR32F = 0,
  kCudaR16F = 2,
  kBlasCompute32F = 68,
  kBlasGemmDefault = -1,
};

/* Operator kernels, in cu_device.fn order. */
enum {
  FN_BIN_F32,
  FN_BIN_F16,
  FN_BIN_I32,
  FN_UN_F32,
  FN_UN_F16,
  FN_MM_EPI_F32,
  FN_MM_EPI_F16,
  FN_MM_I8,
  FN_COUNT
};
static const char* const kFnNames[FN_COUNT] = {
    "bin_f32", "bin_f16",    "bin_i32",    "un_f32",
    "un_f16",  "mm_epi_f32", "mm_epi_f16", "mm_i8"};

/* Builds the operator module on first use. dev->mu held. */
static xhal_status_t ops_module(struct xhal_plugin_device* dev) {
  void* image = NULL;
  char log[4096] = "";
  xhal_status_t status;
  CUresult r;
  if (dev->ops_state != 0)
    return dev->ops_state > 0 ? XHAL_OK : dev->ops_status;
  status = cu_compile(dev, cu_src_ops, strlen(cu_src_ops), "-std=c++17", log,
                      sizeof(log), &image);
  if (status == XHAL_OK) {
    r = dev->ctx->cu.ModuleLoadData(&dev->ops_module, image);
    free(image);
    status = cu_check(dev->ctx, r, "cuModuleLoadData(operators)");
  } else {
    cu_log(dev->ctx, XHAL_LOG_ERROR, "cuda: operator kernels: %s", log);
  }
  for (int i = 0; status == XHAL_OK && i < FN_COUNT; ++i) {
    r = dev->ctx->cu.ModuleGetFunction(&dev->fn[i], dev->ops_module,
                                       kFnNames[i]);
    status = cu_check(dev->ctx, r, kFnNames[i]);
  }
  dev->ops_state = status == XHAL_OK ? 1 : -1;
  dev->ops_status = status;
  return status;
}

static xhal_status_t get_fn(struct xhal_plugin_stream* s, int which,
                            CUfunction* out) {
  struct xhal_plugin_device* dev = s->dev;
  xhal_status_t status;
  pthread_mutex_lock(&dev->mu);
  status = ops_module(dev);
  *out = status == XHAL_OK ? dev->fn[which] : NULL;
  pthread_mutex_unlock(&dev->mu);
  if (status != XHAL_OK)
    return cu_error(dev->ctx, status,
                    "cuda: the operator kernels could not be built");
  return XHAL_OK;
}

static CUdeviceptr tensor_ptr(const xhal_plugin_tensor_t* t) {
  return t->buffer->ptr + t->offset;
}

static uint64_t elements(const xhal_tensor_desc_t* d) {
  uint64_t n = 1;
  for (uint32_t i = 0; i < d->rank; ++i) n *= d->dims[i];
  return n;
}

static xhal_status_t launch_1d(struct xhal_plugin_stream* s, CUfunction fn,
                               uint64_t n, void** params) {
  uint64_t blocks = (n + 255) / 256;
  CUresult r;
  if (blocks > 65536) blocks = 65536; /* the kernels stride the grid */
  r = s->dev->ctx->cu.LaunchKernel(fn, (unsigned)blocks, 1, 1, 256, 1, 1, 0,
                                   s->cu, params, NULL);
  return cu_check(s->dev->ctx, r, "cuLaunchKernel(operator)");
}

/* ------------------------------------------------------ elementwise */

typedef struct bshape {
  uint64_t dims[8];
  uint64_t sa[8];
  uint64_t sb[8];
} bshape_t;

/* Strides of `in` over the output shape (numpy broadcasting: aligned at
 * the last dim, 0 where the input's dim is 1 or missing). */
static void bstrides(const xhal_tensor_desc_t* in,
                     const xhal_tensor_desc_t* out, uint64_t* strides) {
  uint64_t stride = 1;
  for (int d = (int)out->rank - 1; d >= 0; --d) {
    int id = d - (int)(out->rank - in->rank);
    uint64_t dim = id >= 0 ? in->dims[id] : 1;
    strides[d] = dim == 1 ? 0 : stride;
    stride *= dim;
  }
}

static xhal_status_t binary_op(struct xhal_plugin_stream* s,
                               const xhal_plugin_op_call_t* call) {
  const xhal_tensor_desc_t* out = &call->outputs[0].desc;
  uint64_t n = elements(out);
  bshape_t sh;
  CUdeviceptr a, b, y;
  uint32_t rank = out->rank;
  int op = (int)call->op;
  int which = out->dtype == XHAL_DTYPE_F32   ? FN_BIN_F32
              : out->dtype == XHAL_DTYPE_F16 ? FN_BIN_F16
                                             : FN_BIN_I32;
  CUfunction fn;
  xhal_status_t status;
  if (n == 0) return XHAL_OK;
  status = get_fn(s, which, &fn);
  if (status != XHAL_OK) return status;
  memset(&sh, 0, sizeof(sh));
  for (uint32_t d = 0; d < rank; ++d) sh.dims[d] = out->dims[d];
  bstrides(&call->inputs[0].desc, out, sh.sa);
  bstrides(&call->inputs[1].desc, out, sh.sb);
  a = tensor_ptr(&call->inputs[0]);
  b = tensor_ptr(&call->inputs[1]);
  y = tensor_ptr(&call->outputs[0]);
  void* params[] = {&a, &b, &y, &n, &rank, &sh, &op};
  return launch_1d(s, fn, n, params);
}

static xhal_status_t unary_op(struct xhal_plugin_stream* s,
                              const xhal_plugin_op_call_t* call) {
  uint64_t n = elements(&call->outputs[0].desc);
  CUdeviceptr x, y;
  int op = (int)call->op;
  CUfunction fn;
  xhal_status_t status;
  if (n == 0) return XHAL_OK;
  status = get_fn(
      s, call->outputs[0].desc.dtype == XHAL_DTYPE_F32 ? FN_UN_F32 : FN_UN_F16,
      &fn);
  if (status != XHAL_OK) return status;
  x = tensor_ptr(&call->inputs[0]);
  y = tensor_ptr(&call->outputs[0]);
  void* params[] = {&x, &y, &n, &op};
  return launch_1d(s, fn, n, params);
}

/* ------------------------------------------------------------ matmul */

/* The stream's cuBLAS handle, bound to its CUstream once. */
static xhal_status_t stream_blas(struct xhal_plugin_stream* s,
                                 const cu_blas_t* blas, void** out) {
  struct xhal_plugin_device* dev = s->dev;
  void* h = NULL;
  int r;
  if (s->blas) {
    *out = s->blas;
    return XHAL_OK;
  }
  pthread_mutex_lock(&dev->mu);
  if (dev->blas_free_count > 0) h = dev->blas_free[--dev->blas_free_count];
  pthread_mutex_unlock(&dev->mu);
  if (h == NULL && (r = blas->Create(&h)) != 0)
    return cu_error(dev->ctx,
                    r == 3 ? XHAL_ERROR_OUT_OF_MEMORY : XHAL_ERROR_INTERNAL,
                    "cuda: cublasCreate failed (status %d)", r);
  if ((r = blas->SetStream(h, s->cu)) != 0) {
    blas->Destroy(h);
    return cu_error(dev->ctx, XHAL_ERROR_INTERNAL,
                    "cuda: cublasSetStream failed (status %d)", r);
  }
  s->blas = h;
  *out = h;
  return XHAL_OK;
}

void cu_ops_stream_release(struct xhal_plugin_stream* s) {
  struct xhal_plugin_device* dev = s->dev;
  void* h = s->blas;
  if (h == NULL) return;
  s->blas = NULL;
  pthread_mutex_lock(&dev->mu);
  if (dev->blas_free_count < sizeof(dev->blas_free) / sizeof(dev->blas_free[0]))
    dev->blas_free[dev->blas_free_count++] = h, h = NULL;
  pthread_mutex_unlock(&dev->mu);
  if (h && dev->ctx->blas.Destroy) dev->ctx->blas.Destroy(h);
}

void cu_ops_release(struct xhal_plugin_device* dev) {
  for (uint32_t i = 0; i < dev->blas_free_count; ++i)
    dev->ctx->blas.Destroy(dev->blas_free[i]);
  dev->blas_free_count = 0;
  if (dev->ops_state > 0) dev->ctx->cu.ModuleUnload(dev->ops_module);
  dev->ops_state = 0;
}

static xhal_status_t matmul_dims(const xhal_plugin_op_call_t* call, uint64_t* m,
                                 uint64_t* n, uint64_t* k) {
  const xhal_tensor_desc_t* a = &call->inputs[0].desc;
  const xhal_tensor_desc_t* y = &call->outputs[0].desc;
  *m = y->dims[0];
  *n = y->dims[1];
  *k = call->attrs.transpose_a ? a->dims[0] : a->dims[1];
  return XHAL_OK;
}

static xhal_status_t matmul_epilogue(struct xhal_plugin_stream* s,
                                     const xhal_plugin_op_call_t* call,
                                     uint64_t m, uint64_t n, int k0) {
  int f16 = call->outputs[0].desc.dtype == XHAL_DTYPE_F16;
  int has_bias = call->num_inputs > 2 && call->inputs[2].buffer != NULL;
  CUdeviceptr y = tensor_ptr(&call->outputs[0]);
  CUdeviceptr bias = has_bias ? tensor_ptr(&call->inputs[2]) : 0;
  float beta = call->attrs.beta;
  CUfunction fn;
  xhal_status_t status;
  if (!has_bias && !k0) return XHAL_OK;
  status = get_fn(s, f16 ? FN_MM_EPI_F16 : FN_MM_EPI_F32, &fn);
  if (status != XHAL_OK) return status;
  void* params[] = {&y, &bias, &m, &n, &k0, &beta};
  return launch_1d(s, fn, m * n, params);
}

static xhal_status_t matmul_fp(struct xhal_plugin_stream* s,
                               const xhal_plugin_op_call_t* call) {
  uint64_t m, n, k;
  const cu_blas_t* blas = NULL;
  void* h = NULL;
  xhal_status_t status;
  int ta = (int)call->attrs.transpose_a, tb = (int)call->attrs.transpose_b;
  int type =
      call->outputs[0].desc.dtype == XHAL_DTYPE_F16 ? kCudaR16F : kCudaR32F;
  float alpha = call->attrs.alpha, beta = call->attrs.beta;
  int r;
  matmul_dims(call, &m, &n, &k);
  if (m == 0 || n == 0) return XHAL_OK;
  if (m > 0x7FFFFFFF || n > 0x7FFFFFFF || k > 0x7FFFFFFF)
    return cu_error(s->dev->ctx, XHAL_ERROR_UNSUPPORTED,
                    "cuda: matmul: dimensions past 2^31 - 1");
  if (k == 0) return matmul_epilogue(s, call, m, n, 1);
  status = cu_blas_get(s->dev->ctx, &blas);
  if (status == XHAL_OK) status = stream_blas(s, blas, &h);
  if (status != XHAL_OK) return status;
  /* Row-major Y = op(A) op(B) is column-major Y^T = op(B)^T op(A)^T:
   * B's storage read column-major is B^T, so no transpose flag flips. */
  r = blas->GemmEx(h, tb ? kBlasOpT : kBlasOpN, ta ? kBlasOpT : kBlasOpN,
                   (int)n, (int)m, (int)k, &alpha,
                   (const void*)(uintptr_t)tensor_ptr(&call->inputs[1]), type,
                   tb ? (int)k : (int)n,
                   (const void*)(uintptr_t)tensor_ptr(&call->inputs[0]), type,
                   ta ? (int)m : (int)k, &beta,
                   (void*)(uintptr_t)tensor_ptr(&call->outputs[0]), type,
                   (int)n, kBlasCompute32F, kBlasGemmDefault);
  if (r != 0)
    return cu_error(s->dev->ctx, XHAL_ERROR_EXECUTION_FAILED,
                    "cuda: cublasGemmEx failed (status %d)", r);
  return matmul_epilogue(s, call, m, n, 0);
}

static xhal_status_t matmul_i8(struct xhal_plugin_stream* s,
                               const xhal_plugin_op_call_t* call) {
  uint64_t m, n, k;
  CUdeviceptr a, b, bias, y;
  int ta = (int)call->attrs.transpose_a, tb = (int)call->attrs.transpose_b;
  CUfunction fn;
  xhal_status_t status;
  CUresult r;
  matmul_dims(call, &m, &n, &k);
  if (m == 0 || n == 0) return XHAL_OK;
  if ((m + 15) / 16 > 65535)
    return cu_error(s->dev->ctx, XHAL_ERROR_UNSUPPORTED,
                    "cuda: int8 matmul: M of %llu is too large",
                    (unsigned long long)m);
  status = get_fn(s, FN_MM_I8, &fn);
  if (status != XHAL_OK) return status;
  a = tensor_ptr(&call->inputs[0]);
  b = tensor_ptr(&call->inputs[1]);
  bias = call->num_inputs > 2 && call->inputs[2].buffer
             ? tensor_ptr(&call->inputs[2])
             : 0;
  y = tensor_ptr(&call->outputs[0]);
  void* params[] = {&a, &b, &bias, &y, &m, &n, &k, &ta, &tb};
  r = s->dev->ctx->cu.LaunchKernel(fn, (unsigned)((n + 15) / 16),
                                   (unsigned)((m + 15) / 16), 1, 16, 16, 1, 0,
                                   s->cu, params, NULL);
  return cu_check(s->dev->ctx, r, "cuLaunchKernel(mm_i8)");
}

/* ---------------------------------------------------------- registry */

/* The operator's enqueue entry: runs now or behind host-thread jobs. */
static xhal_status_t op_enqueue(void* user_data, xhal_plugin_stream_t s,
                                const xhal_plugin_op_call_t* call) {
  cu_cmd_t cmd;
  if (s == NULL) return XHAL_ERROR_INVALID_HANDLE;
  if (call == NULL)
    return cu_error(s->dev->ctx, XHAL_ERROR_INVALID_ARGUMENT,
                    "cuda: operator call is NULL");
  memset(&cmd, 0, sizeof(cmd));
  cmd.kind = CU_CMD_OP;
  *(void**)&cmd.op_fn = user_data;
  cmd.call = *call;
  return cu_submit(s, &cmd);
}

static const char* op_name(xhal_op_t op) {
  switch (op) {
    case XHAL_OP_ADD:
      return "add";
    case XHAL_OP_SUB:
      return "sub";
    case XHAL_OP_MUL:
      return "mul";
    case XHAL_OP_DIV:
      return "div";
    case XHAL_OP_MAX:
      return "max";
    case XHAL_OP_MIN:
      return "min";
    case XHAL_OP_RELU:
      return "relu";
    case XHAL_OP_GELU:
      return "gelu";
    case XHAL_OP_SIGMOID:
      return "sigmoid";
    case XHAL_OP_TANH:
      return "tanh";
    case XHAL_OP_EXP:
      return "exp";
    default:
      return "matmul";
  }
}

static const char* dtype_name(xhal_dtype_t dt) {
  switch (dt) {
    case XHAL_DTYPE_F32:
      return "f32";
    case XHAL_DTYPE_F16:
      return "f16";
    case XHAL_DTYPE_I8:
      return "i8";
    default:
      return "i32";
  }
}

static xhal_status_t add_impl(struct xhal_plugin_context* ctx, xhal_op_t op,
                              cu_op_fn_t fn, uint32_t n,
                              const xhal_dtype_t* dtypes) {
  xhal_plugin_op_impl_t impl;
  char* name;
  if (ctx->op_name_count == sizeof(ctx->op_names) / sizeof(ctx->op_names[0]))
    return XHAL_ERROR_INTERNAL;
  name = ctx->op_names[ctx->op_name_count++];
  snprintf(name, sizeof(ctx->op_names[0]), "cuda.%s.%s", op_name(op),
           dtype_name(dtypes[0]));
  memset(&impl, 0, sizeof(impl));
  impl.struct_size = (uint32_t)sizeof(impl);
  impl.op = op;
  impl.device_index = XHAL_PLUGIN_ALL_DEVICES;
  impl.priority = 0;
  impl.num_dtypes = n;
  for (uint32_t i = 0; i < n; ++i) impl.dtypes[i] = dtypes[i];
  impl.name = name;
  memcpy(&impl.user_data, &fn, sizeof(fn));
  impl.enqueue = op_enqueue;
  return ctx->host.register_op_impl(ctx->host.host_context, &impl);
}

/* Operators need NVRTC (every kernel) and, for f32/f16 matmul, cuBLAS;
 * without NVRTC none is registered and the registry falls back to other
 * devices. */
xhal_status_t cu_register_ops(struct xhal_plugin_context* ctx) {
  static const xhal_op_t kBinary[] = {XHAL_OP_ADD, XHAL_OP_SUB, XHAL_OP_MUL,
                                      XHAL_OP_DIV, XHAL_OP_MAX, XHAL_OP_MIN};
  static const xhal_op_t kUnary[] = {
      XHAL_OP_RELU, XHAL_OP_GELU, XHAL_OP_SIGMOID, XHAL_OP_TANH, XHAL_OP_EXP};
  static const xhal_dtype_t kFp[] = {XHAL_DTYPE_F32, XHAL_DTYPE_F16};
  xhal_status_t status = XHAL_OK;
  if (ctx->host.register_op_impl == NULL) return XHAL_OK;
  if (!(ctx->devices[0].props.capabilities & XHAL_CAP_KERNEL_LANG_CUDA_C)) {
    cu_log(ctx, XHAL_LOG_WARN, "cuda: no NVRTC, so no operators: %s",
           ctx->nvrtc_error);
    return XHAL_OK;
  }
  for (size_t i = 0; i < sizeof(kBinary) / sizeof(kBinary[0]); ++i) {
    for (int d = 0; d < 3 && status == XHAL_OK; ++d) {
      xhal_dtype_t t = d < 2 ? kFp[d] : XHAL_DTYPE_I32;
      xhal_dtype_t sig[3] = {t, t, t};
      if (t == XHAL_DTYPE_I32 && kBinary[i] == XHAL_OP_DIV) continue;
      status = add_impl(ctx, kBinary[i], binary_op, 3, sig);
    }
  }
  for (size_t i = 0; i < sizeof(kUnary) / sizeof(kUnary[0]); ++i) {
    for (int d = 0; d < 2 && status == XHAL_OK; ++d) {
      xhal_dtype_t sig[2] = {kFp[d], kFp[d]};
      status = add_impl(ctx, kUnary[i], unary_op, 2, sig);
    }
  }
  /* cuBLAS ships with NVRTC in the toolkit; it is opened on the first
   * matmul (it maps hundreds of MiB, too much for every init). */
  for (int d = 0; d < 2 && status == XHAL_OK; ++d) {
    xhal_dtype_t sig[4] = {kFp[d], kFp[d], kFp[d], kFp[d]};
    status = add_impl(ctx, XHAL_OP_MATMUL, matmul_fp, 4, sig);
  }
  if (status == XHAL_OK) {
    xhal_dtype_t sig[4] = {XHAL_DTYPE_I8, XHAL_DTYPE_I8, XHAL_DTYPE_I32,
                           XHAL_DTYPE_I32};
    status = add_impl(ctx, XHAL_OP_MATMUL, matmul_i8, 4, sig);
  }
  return status;
}
