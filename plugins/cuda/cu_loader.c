/*
 * cu_loader.c - opens the CUDA libraries at run time: the driver at
 * init, cuBLAS and NVRTC on first use. The plugin has no link-time
 * dependency on any of them, so it loads (with zero devices, and the
 * reason in the log) on machines without a driver or toolkit.
 *
 * XHAL_CUDA_DRIVER names the driver library to open instead of
 * libcuda.so.1 (a test uses a path that does not exist to get the
 * no-driver path on any machine).
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_internal.h"

#ifndef XHAL_CUDA_MAJOR
#define XHAL_CUDA_MAJOR "13"
#endif
#ifndef XHAL_CUDA_LIBDIR
#define XHAL_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

typedef struct cu_sym {
  const char* name;
  size_t offset;
} cu_sym_t;

#define CU_SYM(field, name) \
  { name, offsetof(cu_driver_t, field) }

/* Base names: cuGetProcAddress picks the variant of CUDA_VERSION. */
static const cu_sym_t kDriverSyms[] = {
    CU_SYM(Init, "cuInit"),
    CU_SYM(DriverGetVersion, "cuDriverGetVersion"),
    CU_SYM(GetErrorName, "cuGetErrorName"),
    CU_SYM(GetErrorString, "cuGetErrorString"),
    CU_SYM(DeviceGetCount, "cuDeviceGetCount"),
    CU_SYM(DeviceGet, "cuDeviceGet"),
    CU_SYM(DeviceGetName, "cuDeviceGetName"),
    CU_SYM(DeviceGetAttribute, "cuDeviceGetAttribute"),
    CU_SYM(DeviceTotalMem, "cuDeviceTotalMem"),
    CU_SYM(DeviceGetUuid, "cuDeviceGetUuid"),
    CU_SYM(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
    CU_SYM(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease"),
    CU_SYM(CtxSetCurrent, "cuCtxSetCurrent"),
    CU_SYM(MemAlloc, "cuMemAlloc"),
    CU_SYM(MemFree, "cuMemFree"),
    CU_SYM(MemAllocAsync, "cuMemAllocAsync"),
    CU_SYM(MemFreeAsync, "cuMemFreeAsync"),
    CU_SYM(MemHostAlloc, "cuMemHostAlloc"),
    CU_SYM(MemFreeHost, "cuMemFreeHost"),
    CU_SYM(MemcpyHtoDAsync, "cuMemcpyHtoDAsync"),
    CU_SYM(MemcpyDtoHAsync, "cuMemcpyDtoHAsync"),
    CU_SYM(MemcpyDtoDAsync, "cuMemcpyDtoDAsync"),
    CU_SYM(MemsetD8Async, "cuMemsetD8Async"),
    CU_SYM(MemsetD16Async, "cuMemsetD16Async"),
    CU_SYM(MemsetD32Async, "cuMemsetD32Async"),
    CU_SYM(MemsetD2D8Async, "cuMemsetD2D8Async"),
    CU_SYM(StreamCreate, "cuStreamCreate"),
    CU_SYM(StreamDestroy, "cuStreamDestroy"),
    CU_SYM(StreamSynchronize, "cuStreamSynchronize"),
    CU_SYM(StreamWaitEvent, "cuStreamWaitEvent"),
    CU_SYM(EventCreate, "cuEventCreate"),
    CU_SYM(EventDestroy, "cuEventDestroy"),
    CU_SYM(EventRecord, "cuEventRecord"),
    CU_SYM(EventQuery, "cuEventQuery"),
    CU_SYM(EventSynchronize, "cuEventSynchronize"),
    CU_SYM(EventElapsedTime, "cuEventElapsedTime"),
    CU_SYM(ModuleLoadData, "cuModuleLoadData"),
    CU_SYM(ModuleUnload, "cuModuleUnload"),
    CU_SYM(ModuleGetFunction, "cuModuleGetFunction"),
    CU_SYM(FuncGetAttribute, "cuFuncGetAttribute"),
    CU_SYM(FuncSetAttribute, "cuFuncSetAttribute"),
    CU_SYM(LaunchKernel, "cuLaunchKernel"),
};

typedef CUresult (*cu_get_proc_fn)(const char* symbol, void** pfn,
                                   int cudaVersion, cuuint64_t flags,
                                   CUdriverProcAddressQueryResult* status);

int cu_driver_open(struct xhal_plugin_context* ctx) {
  cu_driver_t* cu = &ctx->cu;
  const char* path = secure_getenv("XHAL_CUDA_DRIVER");
  cu_get_proc_fn get_proc;
  CUresult r;
  if (path == NULL || path[0] == '\0') path = "libcuda.so.1";
  memset(cu, 0, sizeof(*cu));
  /* The driver stays mapped once loaded: it keeps threads and global
   * tables that do not survive being unloaded and loaded again. */
  cu->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (cu->lib == NULL) {
    const char* why = dlerror();
    snprintf(ctx->reason, sizeof(ctx->reason),
             "no CUDA driver: cannot load %s (%s)", path,
             why ? why : "unknown error");
    return -1;
  }
  *(void**)&get_proc = dlsym(cu->lib, "cuGetProcAddress_v2");
  if (get_proc == NULL) {
    snprintf(ctx->reason, sizeof(ctx->reason),
             "the CUDA driver in %s is older than 12.0 (no "
             "cuGetProcAddress_v2)",
             path);
    goto fail;
  }
  for (size_t i = 0; i < sizeof(kDriverSyms) / sizeof(kDriverSyms[0]); ++i) {
    void* fn = NULL;
    CUdriverProcAddressQueryResult qs = CU_GET_PROC_ADDRESS_SUCCESS;
    r = get_proc(kDriverSyms[i].name, &fn, CUDA_VERSION,
                 CU_GET_PROC_ADDRESS_DEFAULT, &qs);
    if (r != CUDA_SUCCESS || fn == NULL) {
      snprintf(ctx->reason, sizeof(ctx->reason),
               "the CUDA driver in %s lacks %s", path, kDriverSyms[i].name);
      goto fail;
    }
    memcpy((char*)cu + kDriverSyms[i].offset, &fn, sizeof(fn));
  }
  r = cu->Init(0);
  if (r != CUDA_SUCCESS) {
    const char* name = NULL;
    cu->GetErrorName(r, &name);
    snprintf(ctx->reason, sizeof(ctx->reason), "cuInit failed: %s",
             name ? name : "unknown error");
    goto fail;
  }
  if (cu->DriverGetVersion(&cu->version) != CUDA_SUCCESS) cu->version = 0;
  return 0;
fail:
  dlclose(cu->lib);
  memset(cu, 0, sizeof(*cu));
  return -1;
}

void cu_driver_close(struct xhal_plugin_context* ctx) {
  if (ctx->cu.lib) dlclose(ctx->cu.lib);
  memset(&ctx->cu, 0, sizeof(ctx->cu));
}

/* Opens the first of lib<name>.so.<major>, the toolkit's copy of it and
 * lib<name>.so. */
static void* open_toolkit_lib(const char* name, char* why, size_t cap) {
  char candidates[3][512];
  snprintf(candidates[0], sizeof(candidates[0]), "lib%s.so.%s", name,
           XHAL_CUDA_MAJOR);
  snprintf(candidates[1], sizeof(candidates[1]), "%s/lib%s.so.%s",
           XHAL_CUDA_LIBDIR, name, XHAL_CUDA_MAJOR);
  snprintf(candidates[2], sizeof(candidates[2]), "lib%s.so", name);
  for (int i = 0; i < 3; ++i) {
    void* lib = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (lib) return lib;
  }
  snprintf(why, cap, "cannot load lib%s.so.%s (nor from %s): %s", name,
           XHAL_CUDA_MAJOR, XHAL_CUDA_LIBDIR, dlerror());
  return NULL;
}

static int resolve(void* lib, const char* name, void* out_fn) {
  void* fn = dlsym(lib, name);
  memcpy(out_fn, &fn, sizeof(fn));
  return fn != NULL;
}

xhal_status_t cu_blas_get(struct xhal_plugin_context* ctx,
                          const cu_blas_t** out) {
  xhal_status_t status = XHAL_OK;
  pthread_mutex_lock(&ctx->lib_mu);
  if (ctx->blas_state == 0) {
    cu_blas_t* b = &ctx->blas;
    char why[512];
    b->lib = open_toolkit_lib("cublas", why, sizeof(why));
    if (b->lib && resolve(b->lib, "cublasCreate_v2", &b->Create) &&
        resolve(b->lib, "cublasDestroy_v2", &b->Destroy) &&
        resolve(b->lib, "cublasSetStream_v2", &b->SetStream) &&
        resolve(b->lib, "cublasGemmEx", &b->GemmEx)) {
      ctx->blas_state = 1;
    } else {
      if (b->lib) {
        snprintf(why, sizeof(why), "libcublas lacks cublasGemmEx");
        dlclose(b->lib);
      }
      memset(b, 0, sizeof(*b));
      snprintf(ctx->blas_error, sizeof(ctx->blas_error), "%s", why);
      ctx->blas_state = -1;
    }
  }
  if (ctx->blas_state < 0)
    status = cu_error(ctx, XHAL_ERROR_UNSUPPORTED, "cuda: cuBLAS: %s",
                      ctx->blas_error);
  pthread_mutex_unlock(&ctx->lib_mu);
  *out = status == XHAL_OK ? &ctx->blas : NULL;
  return status;
}

xhal_status_t cu_nvrtc_get(struct xhal_plugin_context* ctx,
                           const cu_nvrtc_t** out) {
  xhal_status_t status = XHAL_OK;
  pthread_mutex_lock(&ctx->lib_mu);
  if (ctx->nvrtc_state == 0) {
    cu_nvrtc_t* n = &ctx->nvrtc;
    char why[512];
    n->lib = open_toolkit_lib("nvrtc", why, sizeof(why));
    if (n->lib && resolve(n->lib, "nvrtcVersion", &n->Version) &&
        resolve(n->lib, "nvrtcCreateProgram", &n->CreateProgram) &&
        resolve(n->lib, "nvrtcDestroyProgram", &n->DestroyProgram) &&
        resolve(n->lib, "nvrtcCompileProgram", &n->CompileProgram) &&
        resolve(n->lib, "nvrtcGetCUBINSize", &n->GetCUBINSize) &&
        resolve(n->lib, "nvrtcGetCUBIN", &n->GetCUBIN) &&
        resolve(n->lib, "nvrtcGetProgramLogSize", &n->GetProgramLogSize) &&
        resolve(n->lib, "nvrtcGetProgramLog", &n->GetProgramLog) &&
        resolve(n->lib, "nvrtcGetErrorString", &n->GetErrorString)) {
      ctx->nvrtc_state = 1;
    } else {
      if (n->lib) {
        snprintf(why, sizeof(why), "libnvrtc lacks an entry point");
        dlclose(n->lib);
      }
      memset(n, 0, sizeof(*n));
      snprintf(ctx->nvrtc_error, sizeof(ctx->nvrtc_error), "%s", why);
      ctx->nvrtc_state = -1;
    }
  }
  if (ctx->nvrtc_state < 0)
    status = cu_error(ctx, XHAL_ERROR_UNSUPPORTED, "cuda: NVRTC: %s",
                      ctx->nvrtc_error);
  pthread_mutex_unlock(&ctx->lib_mu);
  *out = status == XHAL_OK ? &ctx->nvrtc : NULL;
  return status;
}

void cu_libs_close(struct xhal_plugin_context* ctx) {
  /* Opened RTLD_NODELETE: cuBLAS and NVRTC keep process-wide state, so
   * dropping the reference leaves them mapped for the next context. */
  if (ctx->blas.lib) dlclose(ctx->blas.lib);
  if (ctx->nvrtc.lib) dlclose(ctx->nvrtc.lib);
  memset(&ctx->blas, 0, sizeof(ctx->blas));
  memset(&ctx->nvrtc, 0, sizeof(ctx->nvrtc));
}
