/*
 * rowops.cl - operators that reduce along one axis: softmax, layer_norm,
 * reduce_sum and reduce_max.
 *
 * The host views the input as [outer, D, inner] (the axis in the middle)
 * and each work-group owns whole slices: its XK_ROW_WG work-items stride
 * along the slice and combine their partial results through a tree in
 * local memory. Groups loop over slices, so the grid stays bounded.
 * XK_ROW_WG is a power of two chosen per device at build time.
 */

#ifndef XK_ROW_WG
#define XK_ROW_WG 64
#endif

#if defined(XK_FLOAT)

/* Tree reductions over the group; every work-item gets the result. */
inline float xk_group_max(__local float* s, float v) {
  const int lid = (int)get_local_id(0);
  s[lid] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int w = XK_ROW_WG / 2; w > 0; w >>= 1) {
    if (lid < w) s[lid] = xk_maxf(s[lid], s[lid + w]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  float r = s[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return r;
}

inline float xk_group_sum(__local float* s, float v) {
  const int lid = (int)get_local_id(0);
  s[lid] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int w = XK_ROW_WG / 2; w > 0; w >>= 1) {
    if (lid < w) s[lid] += s[lid + w];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  float r = s[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return r;
}

/* y = exp(x - max) / sum(exp(x - max)) along the slice. NaN, +inf and
 * all -inf slices come out NaN through the arithmetic itself. */
__kernel __attribute__((reqd_work_group_size(XK_ROW_WG, 1, 1))) void softmax(
    ulong outer, ulong D, ulong inner, __global const ST_T* x, ulong xoff,
    __global ST_T* y, ulong yoff) {
  __local float s[XK_ROW_WG];
  const ulong slices = outer * inner;
  const ulong lid = get_local_id(0);
  for (ulong sl = get_group_id(0); sl < slices; sl += get_num_groups(0)) {
    const ulong o = sl / inner;
    const ulong base = o * D * inner + (sl - o * inner);
    float m = -INFINITY;
    for (ulong d = lid; d < D; d += XK_ROW_WG)
      m = xk_maxf(m, LD(x, xoff + base + d * inner));
    m = xk_group_max(s, m);
    float sum = 0.0f;
    for (ulong d = lid; d < D; d += XK_ROW_WG)
      sum += exp(LD(x, xoff + base + d * inner) - m);
    sum = xk_group_sum(s, sum);
    for (ulong d = lid; d < D; d += XK_ROW_WG) {
      ulong i = base + d * inner;
      STV(y, yoff + i, exp(LD(x, xoff + i) - m) / sum);
    }
  }
}

/* Normalises each row of D elements (population variance, two passes).
 * The mean of a row far from zero relative to its spread is off by at
 * least half an ulp of the mean in f32 (and by the sum's rounding), and
 * that error would shift every centred value alike: a second pass takes
 * the mean of the centred values (exact differences when x and the mean
 * are close) and removes it too, so x - mean carries the error of its
 * own magnitude only. */
__kernel __attribute__((reqd_work_group_size(XK_ROW_WG, 1, 1))) void
layer_norm(ulong rows, ulong D, float eps, __global const ST_T* x, ulong xoff,
           __global const ST_T* g, ulong goff, int has_gamma,
           __global const ST_T* bt, ulong boff, int has_beta, __global ST_T* y,
           ulong yoff) {
  __local float s[XK_ROW_WG];
  const ulong lid = get_local_id(0);
  const float inv_d = 1.0f / (float)D;
  for (ulong r = get_group_id(0); r < rows; r += get_num_groups(0)) {
    const ulong base = r * D;
    float sum = 0.0f;
    for (ulong d = lid; d < D; d += XK_ROW_WG) sum += LD(x, xoff + base + d);
    const float mean = xk_group_sum(s, sum) * inv_d;
    float res = 0.0f;
    for (ulong d = lid; d < D; d += XK_ROW_WG)
      res += LD(x, xoff + base + d) - mean;
    const float mean2 = xk_group_sum(s, res) * inv_d;
    float sq = 0.0f;
    for (ulong d = lid; d < D; d += XK_ROW_WG) {
      float c = (LD(x, xoff + base + d) - mean) - mean2;
      sq += c * c;
    }
    const float var = xk_group_sum(s, sq) * inv_d;
    const float rstd = 1.0f / sqrt(var + eps);
    for (ulong d = lid; d < D; d += XK_ROW_WG) {
      float v = ((LD(x, xoff + base + d) - mean) - mean2) * rstd;
      if (has_gamma) v *= LD(g, goff + d);
      if (has_beta) v += LD(bt, boff + d);
      STV(y, yoff + base + d, v);
    }
  }
}

#define XK_RED_T float
#define XK_RED_SUM0 0.0f
#define XK_RED_MAX0 (-INFINITY)
#define XK_RED_ADD(a, b) ((a) + (b))
#define XK_RED_MAX(a, b) xk_maxf((a), (b))

#elif defined(XK_INT)

#define XK_RED_T int
#define XK_RED_SUM0 0
#define XK_RED_MAX0 INT_MIN
#define XK_RED_ADD(a, b) as_int(as_uint(a) + as_uint(b))
#define XK_RED_MAX(a, b) max((a), (b))

#endif

#if defined(XK_FLOAT) || defined(XK_INT)

/* reduce_sum (is_max 0) or reduce_max (is_max 1) of each slice into
 * y[outer * inner]. A zero-length slice sums to 0. */
__kernel __attribute__((reqd_work_group_size(XK_ROW_WG, 1, 1))) void reduce(
    int is_max, ulong outer, ulong D, ulong inner, __global const ST_T* x,
    ulong xoff, __global ST_T* y, ulong yoff) {
  __local XK_RED_T s[XK_ROW_WG];
  const ulong slices = outer * inner;
  const int lid = (int)get_local_id(0);
  for (ulong sl = get_group_id(0); sl < slices; sl += get_num_groups(0)) {
    const ulong o = sl / inner;
    const ulong base = o * D * inner + (sl - o * inner);
    XK_RED_T acc = is_max ? XK_RED_MAX0 : XK_RED_SUM0;
    for (ulong d = (ulong)lid; d < D; d += XK_ROW_WG) {
      XK_RED_T v = LD(x, xoff + base + d * inner);
      acc = is_max ? XK_RED_MAX(acc, v) : XK_RED_ADD(acc, v);
    }
    s[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = XK_ROW_WG / 2; w > 0; w >>= 1) {
      if (lid < w) {
        s[lid] = is_max ? XK_RED_MAX(s[lid], s[lid + w])
                        : XK_RED_ADD(s[lid], s[lid + w]);
      }
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) STV(y, yoff + sl, s[0]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}

#endif
