/*
 * layout.cl - transpose and cast (the XK_MISC program).
 *
 * transpose moves raw elements, so one kernel per element size serves
 * every dtype. cast has one kernel per (source, destination) pair; each
 * follows the catalog's rules: floats round to nearest even once, floats
 * to integers truncate toward zero and saturate with NaN -> 0 (the _sat
 * conversions of OpenCL C do exactly this), integers saturate.
 */

/* Permutation of up to 8 dims after the host merged what it could:
 * output dims and, per output dim, the input stride it walks. Mirrors
 * ocl_tshape_t on the host. */
typedef struct {
  ulong dims[8];
  ulong istride[8];
} xk_tshape;

inline ulong xk_perm_offset(uint rank, const xk_tshape* sh, ulong i) {
  ulong off = 0;
  for (int d = (int)rank - 1; d >= 0; --d) {
    ulong dim = sh->dims[d];
    ulong q = i / dim;
    off += (i - q * dim) * sh->istride[d];
    i = q;
  }
  return off;
}

#define XK_TRANSPOSE(name, T)                                               \
  __kernel void name(uint rank, xk_tshape sh, __global const T* x,          \
                     ulong xoff, __global T* y, ulong yoff, ulong n) {      \
    for (ulong i = get_global_id(0); i < n; i += get_global_size(0))        \
      y[yoff + i] = x[xoff + xk_perm_offset(rank, &sh, i)];                 \
  }

XK_TRANSPOSE(transpose_1, uchar)
XK_TRANSPOSE(transpose_2, ushort)
XK_TRANSPOSE(transpose_4, uint)

/* Loads of each source dtype, as the widest exact value: float for the
 * floating types, int for the integers. */
#define XK_LOAD_f32(p, i) ((p)[(i)])
#define XK_LOAD_f16(p, i) vload_half((i), (p))
#define XK_LOAD_i8(p, i) ((int)(p)[(i)])
#define XK_LOAD_i32(p, i) ((p)[(i)])

#define XK_PTR_f32 float
#define XK_PTR_f16 half
#define XK_PTR_i8 char
#define XK_PTR_i32 int

/* Conversions of a loaded value (float or int) to each destination. An
 * int reaches f16 through float: exact below 2^24, and larger values
 * overflow binary16 to inf either way. */
#define XK_STORE_f32(p, i, v) ((p)[(i)] = convert_float_rte(v))
#define XK_STORE_f16(p, i, v) vstore_half_rte(convert_float_rte(v), (i), (p))
#define XK_STORE_i8(p, i, v) ((p)[(i)] = convert_char_sat_rtz(v))
#define XK_STORE_i32(p, i, v) ((p)[(i)] = convert_int_sat_rtz(v))

#define XK_CAST(src, dst)                                                   \
  __kernel void cast_##src##_##dst(__global const XK_PTR_##src* x,          \
                                   ulong xoff, __global XK_PTR_##dst* y,    \
                                   ulong yoff, ulong n) {                   \
    for (ulong i = get_global_id(0); i < n; i += get_global_size(0))        \
      XK_STORE_##dst(y, yoff + i, XK_LOAD_##src(x, xoff + i));              \
  }

XK_CAST(f32, f32)
XK_CAST(f32, f16)
XK_CAST(f32, i8)
XK_CAST(f32, i32)
XK_CAST(f16, f32)
XK_CAST(f16, f16)
XK_CAST(f16, i8)
XK_CAST(f16, i32)
XK_CAST(i8, f32)
XK_CAST(i8, f16)
XK_CAST(i8, i8)
XK_CAST(i8, i32)
XK_CAST(i32, f32)
XK_CAST(i32, f16)
XK_CAST(i32, i8)
XK_CAST(i32, i32)
