// ops.cu - the CUDA plugin's operator kernels, compiled once per device
// by NVRTC (and kept in the disk cache). Embedded in the plugin as a
// string (cmake/embed_cu.cmake); everything here is extern "C" so the
// plugin finds kernels by name.
//
// f16 is handled as raw binary16 bits converted with PTX cvt, so the
// source needs no header: every f16 operator computes in f32 and rounds
// once to nearest even, as docs/ops.md requires.

typedef unsigned long long u64;
typedef unsigned int u32;

__device__ __forceinline__ float h2f(unsigned short h) {
  float f;
  asm("{ .reg .b16 t; mov.b16 t, %1; cvt.f32.f16 %0, t; }" : "=f"(f) : "h"(h));
  return f;
}
__device__ __forceinline__ unsigned short f2h(float f) {
  unsigned short h;
  asm("{ .reg .b16 t; cvt.rn.f16.f32 t, %1; mov.b16 %0, t; }"
      : "=h"(h)
      : "f"(f));
  return h;
}

// Output shape and each input's element strides (0 where broadcast).
struct bshape {
  u64 dims[8];
  u64 sa[8];
  u64 sb[8];
};

__device__ __forceinline__ void bcast(u32 rank, const bshape& sh, u64 i,
                                      u64* oa, u64* ob) {
  u64 a = 0, b = 0;
  for (int d = (int)rank - 1; d >= 0; --d) {
    u64 dim = sh.dims[d];
    u64 q = i / dim;
    u64 idx = i - q * dim;
    a += idx * sh.sa[d];
    b += idx * sh.sb[d];
    i = q;
  }
  *oa = a;
  *ob = b;
}

// Catalog ids of the binary operators.
enum { OP_ADD = 1, OP_SUB = 2, OP_MUL = 3, OP_DIV = 4, OP_MAX = 5, OP_MIN = 6 };
enum { OP_RELU = 16, OP_GELU = 17, OP_SIGMOID = 18, OP_TANH = 19, OP_EXP = 20 };

__device__ __forceinline__ float binf(int op, float a, float b) {
  switch (op) {
    case OP_ADD:
      return a + b;
    case OP_SUB:
      return a - b;
    case OP_MUL:
      return a * b;
    case OP_DIV:
      return a / b;
    case OP_MAX:
      return isnan(a) ? a : isnan(b) ? b : (a > b ? a : b);
    default:
      return isnan(a) ? a : isnan(b) ? b : (a < b ? a : b);
  }
}

__device__ __forceinline__ int bini(int op, int a, int b) {
  u32 ua = (u32)a, ub = (u32)b;
  switch (op) {
    case OP_ADD:
      return (int)(ua + ub);
    case OP_SUB:
      return (int)(ua - ub);
    case OP_MUL:
      return (int)(ua * ub);
    case OP_MAX:
      return a > b ? a : b;
    default:
      return a < b ? a : b;
  }
}

__device__ __forceinline__ float unf(int op, float x) {
  switch (op) {
    case OP_RELU:
      return isnan(x) ? x : (x > 0.0f ? x : 0.0f);
    case OP_GELU:
      // The limits at the infinities (the formula gives -inf * 0 = NaN).
      if (isinf(x)) return x > 0.0f ? x : 0.0f;
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case OP_SIGMOID:
      return 1.0f / (1.0f + expf(-x));
    case OP_TANH:
      return tanhf(x);
    default:
      return expf(x);
  }
}

#define GRID_STRIDE(i, n)                                           \
  for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (u64)gridDim.x * blockDim.x)

extern "C" __global__ void bin_f32(const float* a, const float* b, float* y,
                                   u64 n, u32 rank, bshape sh, int op) {
  GRID_STRIDE(i, n) {
    u64 oa, ob;
    bcast(rank, sh, i, &oa, &ob);
    y[i] = binf(op, a[oa], b[ob]);
  }
}

extern "C" __global__ void bin_f16(const unsigned short* a,
                                   const unsigned short* b, unsigned short* y,
                                   u64 n, u32 rank, bshape sh, int op) {
  GRID_STRIDE(i, n) {
    u64 oa, ob;
    bcast(rank, sh, i, &oa, &ob);
    y[i] = f2h(binf(op, h2f(a[oa]), h2f(b[ob])));
  }
}

extern "C" __global__ void bin_i32(const int* a, const int* b, int* y, u64 n,
                                   u32 rank, bshape sh, int op) {
  GRID_STRIDE(i, n) {
    u64 oa, ob;
    bcast(rank, sh, i, &oa, &ob);
    y[i] = bini(op, a[oa], b[ob]);
  }
}

extern "C" __global__ void un_f32(const float* x, float* y, u64 n, int op) {
  GRID_STRIDE(i, n) { y[i] = unf(op, x[i]); }
}

extern "C" __global__ void un_f16(const unsigned short* x, unsigned short* y,
                                  u64 n, int op) {
  GRID_STRIDE(i, n) { y[i] = f2h(unf(op, h2f(x[i]))); }
}

// After a cuBLAS product: the bias, and the K = 0 case (no product:
// Y = beta * Y, or 0 with beta 0, before the bias).
extern "C" __global__ void mm_epi_f32(float* y, const float* bias, u64 m, u64 n,
                                      int k0, float beta) {
  GRID_STRIDE(i, m * n) {
    float v = y[i];
    if (k0) v = beta != 0.0f ? beta * v : 0.0f;
    if (bias) v += bias[i % n];
    y[i] = v;
  }
}

extern "C" __global__ void mm_epi_f16(unsigned short* y,
                                      const unsigned short* bias, u64 m, u64 n,
                                      int k0, float beta) {
  GRID_STRIDE(i, m * n) {
    float v = h2f(y[i]);
    if (k0) v = beta != 0.0f ? beta * v : 0.0f;
    if (bias) v += h2f(bias[i % n]);
    y[i] = f2h(v);
  }
}

// int8 x int8 with int32 accumulation (wrapping), one output per
// thread, tiles of A and B staged in shared memory.
#define TI 16
extern "C" __global__ void mm_i8(const signed char* a, const signed char* b,
                                 const int* bias, int* y, u64 m, u64 n, u64 k,
                                 int ta, int tb) {
  __shared__ int as[TI][TI + 1];
  __shared__ int bs[TI][TI + 1];
  u64 row = (u64)blockIdx.y * TI + threadIdx.y;
  u64 col = (u64)blockIdx.x * TI + threadIdx.x;
  u32 acc = 0;
  for (u64 k0 = 0; k0 < k; k0 += TI) {
    u64 ka = k0 + threadIdx.x;  // A[row, ka]
    u64 kb = k0 + threadIdx.y;  // B[kb, col]
    as[threadIdx.y][threadIdx.x] =
        row < m && ka < k ? (int)(ta ? a[ka * m + row] : a[row * k + ka]) : 0;
    bs[threadIdx.y][threadIdx.x] =
        kb < k && col < n ? (int)(tb ? b[col * k + kb] : b[kb * n + col]) : 0;
    __syncthreads();
    for (int t = 0; t < TI; ++t)
      acc += (u32)(as[threadIdx.y][t] * bs[t][threadIdx.x]);
    __syncthreads();
  }
  if (row < m && col < n) {
    if (bias) acc += (u32)bias[col];
    y[row * n + col] = (int)acc;
  }
}
