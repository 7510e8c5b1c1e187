/*
 * gemm.cl - matmul and conv2d as tiled matrix products (f32, f16, i8).
 *
 * A work-group computes a TSM x TSN tile of the output. It walks the
 * reduction dimension TSK at a time: the group stages a TSK x TSM slab of
 * A and a TSK x TSN slab of B in local memory (each work-item loads a few
 * elements, consecutive work-items reading consecutive addresses), then
 * every work-item accumulates a WPTM x WPTN block of outputs in registers.
 * A work-item's outputs are strided by the group's width (RTSM, RTSN), so
 * consecutive work-items touch consecutive local and global addresses.
 * Tile sizes are chosen per device from its local memory and work-group
 * limits (ocl_device.c); the local arrays carry one column of padding so
 * that slabs stored along k avoid bank conflicts.
 *
 * A program holds this file twice, after a prelude that defines the tile
 * sizes and XK_SUFFIX: large tiles (more reuse, for big products) and
 * small ones (enough work-groups to fill the device when the product is
 * small). Kernel and helper names carry the suffix, and the end of the
 * file undefines the per-variant macros for the next copy.
 *
 * conv2d is the same product with an implicit im2col: A is the weight
 * matrix [K/groups, C/groups*R*S] of one group, B is gathered from the
 * input image on the fly (zero outside the padded border), and the group
 * index is the third grid dimension.
 */

#if !defined(TSM) || !defined(TSN) || !defined(TSK) || !defined(WPTM) || \
    !defined(WPTN) || !defined(XK_SUFFIX)
#error "tile sizes TSM, TSN, TSK, WPTM, WPTN and XK_SUFFIX must be defined"
#endif

#define XK_CAT2(a, b) a##b
#define XK_CAT(a, b) XK_CAT2(a, b)
#define XK_NAME(base) XK_CAT(base, XK_SUFFIX)

#define RTSM (TSM / WPTM)
#define RTSN (TSN / WPTN)
#define XK_THREADS (RTSM * RTSN)
#define XK_LPTA ((TSK * TSM + XK_THREADS - 1) / XK_THREADS)
#define XK_LPTB ((TSK * TSN + XK_THREADS - 1) / XK_THREADS)

#if defined(XK_I8)
#define IN_T char
#define OUT_T int
#define LOC_T int
#define ACC_T uint
#define LDIN(p, i) ((int)(p)[(i)])
#elif defined(XK_FLOAT)
#define IN_T ST_T
#define OUT_T ST_T
#define LOC_T float
#define ACC_T float
#define LDIN(p, i) LD(p, i)
#endif

#if defined(XK_I8) || defined(XK_FLOAT)

/* Multiplies the staged slabs into the work-item's accumulators. OpenCL
 * compilers inline this, keeping acc in registers. */
inline void XK_NAME(xk_tile_product)(__local LOC_T (*As)[TSM + 1],
                            __local LOC_T (*Bs)[TSN + 1],
                            ACC_T acc[WPTM][WPTN], int tx, int ty) {
  for (int k = 0; k < TSK; ++k) {
    LOC_T breg[WPTN];
    for (int wn = 0; wn < WPTN; ++wn) breg[wn] = Bs[k][tx + wn * RTSN];
    for (int wm = 0; wm < WPTM; ++wm) {
      const LOC_T a = As[k][ty + wm * RTSM];
      for (int wn = 0; wn < WPTN; ++wn) acc[wm][wn] += (ACC_T)(a * breg[wn]);
    }
  }
}

/* Y[M, N] = alpha * op(A) @ op(B) + beta * Y + bias. op(A) is A [M, K]
 * or, with ta, A stored [K, M]; likewise op(B) is [K, N] or stored
 * [N, K]. The host guarantees every operand has fewer than 2^31
 * elements, so in-matrix indices fit an int. */
__kernel __attribute__((reqd_work_group_size(RTSN, RTSM, 1))) void XK_NAME(
    matmul)(
    int M, int N, int K, int ta, int tb, __global const IN_T* A, ulong aoff,
    __global const IN_T* B, ulong boff, __global OUT_T* Y, ulong yoff,
    __global const OUT_T* bias, ulong biasoff, int has_bias, float alpha,
    float beta) {
  __local LOC_T As[TSK][TSM + 1];
  __local LOC_T Bs[TSK][TSN + 1];
  const int tx = (int)get_local_id(0);
  const int ty = (int)get_local_id(1);
  const int tid = ty * RTSN + tx;
  const int n0 = (int)get_group_id(0) * TSN;
  const int m0 = (int)get_group_id(1) * TSM;
  ACC_T acc[WPTM][WPTN];
  for (int wm = 0; wm < WPTM; ++wm)
    for (int wn = 0; wn < WPTN; ++wn) acc[wm][wn] = 0;

  for (int k0 = 0; k0 < K; k0 += TSK) {
    for (int l = 0; l < XK_LPTA; ++l) {
      const int idx = tid + l * XK_THREADS;
      if (idx < TSK * TSM) {
        /* Consecutive work-items follow the contiguous dimension. */
        const int mm = ta ? idx % TSM : idx / TSK;
        const int kk = ta ? idx / TSM : idx % TSK;
        const int gm = m0 + mm;
        const int gk = k0 + kk;
        LOC_T v = 0;
        if (gm < M && gk < K)
          v = LDIN(A, aoff + (ulong)(ta ? gk * M + gm : gm * K + gk));
        As[kk][mm] = v;
      }
    }
    for (int l = 0; l < XK_LPTB; ++l) {
      const int idx = tid + l * XK_THREADS;
      if (idx < TSK * TSN) {
        const int nn = tb ? idx / TSK : idx % TSN;
        const int kk = tb ? idx % TSK : idx / TSN;
        const int gn = n0 + nn;
        const int gk = k0 + kk;
        LOC_T v = 0;
        if (gn < N && gk < K)
          v = LDIN(B, boff + (ulong)(tb ? gn * K + gk : gk * N + gn));
        Bs[kk][nn] = v;
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    XK_NAME(xk_tile_product)(As, Bs, acc, tx, ty);
    barrier(CLK_LOCAL_MEM_FENCE);
  }

  for (int wm = 0; wm < WPTM; ++wm) {
    const int gm = m0 + ty + wm * RTSM;
    if (gm >= M) continue;
    for (int wn = 0; wn < WPTN; ++wn) {
      const int gn = n0 + tx + wn * RTSN;
      if (gn >= N) continue;
      const ulong yi = yoff + (ulong)gm * (ulong)N + (ulong)gn;
#if defined(XK_I8)
      /* alpha is 1 and beta 0 for int8 (checked by the catalog). */
      uint v = acc[wm][wn];
      if (has_bias) v += as_uint(bias[biasoff + (ulong)gn]);
      Y[yi] = as_int(v);
#else
      float v = alpha * acc[wm][wn];
      /* beta == 0 must not read Y: NaN there must not propagate. */
      if (beta != 0.0f) v += beta * LD(Y, yi);
      if (has_bias) v += LD(bias, biasoff + (ulong)gn);
      STV(Y, yi, v);
#endif
    }
  }
}

#ifndef XK_CONV_DEFINED
#define XK_CONV_DEFINED
/* Convolution geometry; mirrors ocl_conv_t on the host. */
typedef struct {
  int N, C, H, W, K, R, S, OH, OW;
  int sh, sw, ph, pw, dh, dw;
  int Cg, Kg, CRS, OHW, NCOL;
} xk_conv;
#endif

/* Y[n, g*Kg + m, oh, ow] = bias + sum_{c,r,s} X[n, g*Cg + c, ih, iw] *
 * W[g*Kg + m, c, r, s]: a product of W_g [Kg, CRS] and the gathered
 * columns [CRS, N*OH*OW]. */
__kernel __attribute__((reqd_work_group_size(RTSN, RTSM, 1))) void XK_NAME(
    conv2d)(
    xk_conv p, __global const IN_T* X, ulong xoff, __global const IN_T* Wt,
    ulong woff, __global const OUT_T* bias, ulong biasoff, int has_bias,
    __global OUT_T* Y, ulong yoff) {
  __local LOC_T As[TSK][TSM + 1];
  __local LOC_T Bs[TSK][TSN + 1];
  const int tx = (int)get_local_id(0);
  const int ty = (int)get_local_id(1);
  const int tid = ty * RTSN + tx;
  const int n0 = (int)get_group_id(0) * TSN;
  const int m0 = (int)get_group_id(1) * TSM;
  const int g = (int)get_group_id(2);
  const int RS = p.R * p.S;
  const ulong wbase = woff + (ulong)g * (ulong)p.Kg * (ulong)p.CRS;
  ACC_T acc[WPTM][WPTN];
  for (int wm = 0; wm < WPTM; ++wm)
    for (int wn = 0; wn < WPTN; ++wn) acc[wm][wn] = 0;

  for (int k0 = 0; k0 < p.CRS; k0 += TSK) {
    for (int l = 0; l < XK_LPTA; ++l) {
      const int idx = tid + l * XK_THREADS;
      if (idx < TSK * TSM) {
        const int mm = idx / TSK;
        const int kk = idx % TSK;
        const int gm = m0 + mm;
        const int gk = k0 + kk;
        LOC_T v = 0;
        if (gm < p.Kg && gk < p.CRS)
          v = LDIN(Wt, wbase + (ulong)(gm * p.CRS + gk));
        As[kk][mm] = v;
      }
    }
    for (int l = 0; l < XK_LPTB; ++l) {
      const int idx = tid + l * XK_THREADS;
      if (idx < TSK * TSN) {
        const int nn = idx % TSN;
        const int kk = idx / TSN;
        const int j = n0 + nn;
        const int gk = k0 + kk;
        LOC_T v = 0;
        if (j < p.NCOL && gk < p.CRS) {
          const int c = gk / RS;
          const int rs = gk - c * RS;
          const int r = rs / p.S;
          const int s = rs - r * p.S;
          const int n = j / p.OHW;
          const int q = j - n * p.OHW;
          const int oh = q / p.OW;
          const int ow = q - oh * p.OW;
          const int ih = oh * p.sh - p.ph + r * p.dh;
          const int iw = ow * p.sw - p.pw + s * p.dw;
          if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) {
            const ulong xi =
                (((ulong)n * (ulong)p.C + (ulong)(g * p.Cg + c)) * (ulong)p.H +
                 (ulong)ih) * (ulong)p.W + (ulong)iw;
            v = LDIN(X, xoff + xi);
          }
        }
        Bs[kk][nn] = v;
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    XK_NAME(xk_tile_product)(As, Bs, acc, tx, ty);
    barrier(CLK_LOCAL_MEM_FENCE);
  }

  for (int wm = 0; wm < WPTM; ++wm) {
    const int m = m0 + ty + wm * RTSM;
    if (m >= p.Kg) continue;
    const int k = g * p.Kg + m;
    for (int wn = 0; wn < WPTN; ++wn) {
      const int j = n0 + tx + wn * RTSN;
      if (j >= p.NCOL) continue;
      const int n = j / p.OHW;
      const int q = j - n * p.OHW;
      const ulong yi =
          yoff + ((ulong)n * (ulong)p.K + (ulong)k) * (ulong)p.OHW + (ulong)q;
#if defined(XK_I8)
      uint v = acc[wm][wn];
      if (has_bias) v += as_uint(bias[biasoff + (ulong)k]);
      Y[yi] = as_int(v);
#else
      float v = acc[wm][wn];
      if (has_bias) v += LD(bias, biasoff + (ulong)k);
      STV(Y, yi, v);
#endif
    }
  }
}

#endif

#undef RTSM
#undef RTSN
#undef XK_THREADS
#undef XK_LPTA
#undef XK_LPTB
#undef TSM
#undef TSN
#undef TSK
#undef WPTM
#undef WPTN
#undef XK_SUFFIX
