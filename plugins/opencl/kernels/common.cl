/*
 * common.cl - definitions every operator program starts with.
 *
 * One program is built per operand family; the build options pick it:
 *   -DXK_F32   f32 storage, f32 arithmetic
 *   -DXK_F16   f16 storage through vload_half/vstore_half_rte, f32
 *              arithmetic. These are core OpenCL 1.x built-ins, so f16
 *              operators need no cl_khr_fp16: the catalog computes every
 *              f16 operator in f32 and rounds once, which is exactly what
 *              a store with _rte does.
 *   -DXK_I32   i32 storage; sums wrap (computed in uint, since signed
 *              overflow is undefined in OpenCL C as in C)
 *   -DXK_I8    i8 inputs, i32 accumulation and output (matmul, conv2d)
 *   -DXK_MISC  transpose and cast, which work on every dtype
 *
 * Offsets of operands arrive as element indices (ulong) and are added to
 * the index of every access instead of to the pointer: arithmetic on a
 * `half` pointer is not portable without cl_khr_fp16.
 */

#if defined(XK_F32)
#define ST_T float
#define LD(p, i) ((p)[(i)])
#define STV(p, i, v) ((p)[(i)] = (v))
#define XK_FLOAT 1
#elif defined(XK_F16)
#define ST_T half
#define LD(p, i) vload_half((i), (p))
#define STV(p, i, v) vstore_half_rte((v), (i), (p))
#define XK_FLOAT 1
#elif defined(XK_I32)
#define ST_T int
#define LD(p, i) ((p)[(i)])
#define STV(p, i, v) ((p)[(i)] = (v))
#define XK_INT 1
#endif

/* Division to within one ulp: exact when the program was built with
 * -cl-fp32-correctly-rounded-divide-sqrt (XK_EXACT_DIV), otherwise one
 * Newton correction of the 2.5-ulp quotient OpenCL allows by default. */
#ifdef XK_EXACT_DIV
#define XK_DIV(a, b) ((a) / (b))
#else
inline float xk_div(float a, float b) {
  float q = a / b;
  if (!isfinite(q) || q == 0.0f) return q;
  float r = fma(-q, b, a);
  return q + r / b;
}
#define XK_DIV(a, b) xk_div((a), (b))
#endif

/* max/min that return NaN when either side is NaN (fmax would drop it). */
inline float xk_maxf(float a, float b) {
  if (isnan(a)) return a;
  if (isnan(b)) return b;
  return a > b ? a : b;
}
inline float xk_minf(float a, float b) {
  if (isnan(a)) return a;
  if (isnan(b)) return b;
  return a < b ? a : b;
}

/* Shape of a broadcast binary operation after the host merged the dims
 * it could: output dims and each input's element strides (0 where the
 * input is broadcast). Mirrors ocl_bshape_t on the host. */
typedef struct {
  ulong dims[8];
  ulong sa[8];
  ulong sb[8];
} xk_bshape;

/* Offsets of output element i in A and B. rank >= 1. Uses 32-bit
 * division when every index fits, which is several times cheaper on
 * GPUs. */
inline void xk_bcast_offsets(uint rank, const xk_bshape* sh, ulong i,
                             ulong n, ulong* oa, ulong* ob) {
  ulong a = 0, b = 0;
  if (n <= 0xFFFFFFFFul) {
    uint r = (uint)i;
    for (int d = (int)rank - 1; d >= 0; --d) {
      uint dim = (uint)sh->dims[d];
      uint q = r / dim;
      uint idx = r - q * dim;
      a += (ulong)idx * sh->sa[d];
      b += (ulong)idx * sh->sb[d];
      r = q;
    }
  } else {
    ulong r = i;
    for (int d = (int)rank - 1; d >= 0; --d) {
      ulong dim = sh->dims[d];
      ulong q = r / dim;
      ulong idx = r - q * dim;
      a += idx * sh->sa[d];
      b += idx * sh->sb[d];
      r = q;
    }
  }
  *oa = a;
  *ob = b;
}
