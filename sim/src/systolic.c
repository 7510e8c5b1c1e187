/*
 * systolic.c - the R x C systolic array: GEMM commands on the scratchpad.
 *
 * Timing is SCALE-Sim v2's analytical model (docs/npu.md derives it from
 * scalesim/compute/systolic_compute_{os,ws}.py and
 * scalesim/memory/double_buffered_scratchpad_mem.py). Results are computed
 * functionally: f32 through an optimised sgemm (OpenBLAS when the build
 * found it: a cycle-level array walk would make a 1024^3 layer take
 * minutes), f16 by widening to f32 and the same sgemm (products of two
 * halves are exact in f32, so this is f32 accumulation), int8 with int32
 * wrap-around accumulation.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "npusim_internal.h"

/* ThreadSanitizer cannot see OpenBLAS's own thread synchronisation (the
 * library is not instrumented) and reports the handoff of its results as
 * races; TSan builds therefore use the portable loop instead. */
#if defined(NPUSIM_HAVE_CBLAS) && !defined(__SANITIZE_THREAD__)
#define NPUSIM_USE_CBLAS 1
#include <cblas.h>
#endif

static uint64_t ceil_div(uint64_t a, uint64_t b) {
  return a / b + (a % b != 0);
}

/* Saturating a * b. */
static uint64_t sat_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return npusim_mul_ok(a, b, &r) ? r : UINT64_MAX;
}

static uint64_t sat_add3(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t r;
  if (!npusim_add_ok(a, b, &r) || !npusim_add_ok(r, c, &r)) return UINT64_MAX;
  return r;
}

uint64_t npusim_gemm_cycles(uint32_t dataflow, uint64_t rows, uint64_t cols,
                            uint64_t m, uint64_t k, uint64_t n) {
  uint64_t folds, per_fold;
  if (m == 0 || k == 0 || n == 0 || rows == 0 || cols == 0) return 0;
  if (dataflow == NPUSIM_DATAFLOW_WS) {
    /* K maps onto the rows, N onto the columns, M streams through:
     * prefix R (weight load) + M + suffix C - 1, skewed by R - 1. */
    folds = sat_mul(ceil_div(k, rows), ceil_div(n, cols));
    per_fold = sat_add3(m, sat_mul(2, rows), cols) - 2;
  } else {
    /* M maps onto the rows, N onto the columns, K streams through:
     * K + C - 1 demand lines skewed by R - 1. */
    folds = sat_mul(ceil_div(m, rows), ceil_div(n, cols));
    per_fold = sat_add3(k, rows, cols) - 2;
  }
  /* SCALE-Sim reports the cycle stamp of the last output write, counted
   * from cycle 0: one less than the number of demand lines. */
  return sat_mul(folds, per_fold) - 1;
}

/* Grows a conversion scratch buffer to `bytes`. Returns 0 on failure. */
static int reserve(float** buf, uint64_t* cap, uint64_t bytes) {
  float* p;
  if (bytes <= *cap) return 1;
  if (bytes > SIZE_MAX) return 0;
  p = realloc(*buf, (size_t)bytes);
  if (!p) return 0;
  *buf = p;
  *cap = bytes;
  return 1;
}

#ifndef NPUSIM_USE_CBLAS
/* Portable blocked fallback for builds without a BLAS: C = A.B (+ C), all
 * row-major with the given leading dimensions, no transposes (the caller
 * materialises them). */
static void sgemm_blocked(int accumulate, uint64_t m, uint64_t n, uint64_t k,
                          const float* a, const float* b, float* c) {
  const uint64_t bk = 256, bn = 512;
  uint64_t i, j, p, k0, n0;
  if (!accumulate) memset(c, 0, (size_t)(m * n * sizeof(float)));
  for (k0 = 0; k0 < k; k0 += bk) {
    uint64_t k1 = k0 + bk < k ? k0 + bk : k;
    for (n0 = 0; n0 < n; n0 += bn) {
      uint64_t n1 = n0 + bn < n ? n0 + bn : n;
      for (i = 0; i < m; ++i) {
        float* crow = c + i * n;
        for (p = k0; p < k1; ++p) {
          float av = a[i * k + p];
          const float* brow = b + p * n;
          for (j = n0; j < n1; ++j) crow[j] += av * brow[j];
        }
      }
    }
  }
}
#endif

/* Materialises op(X) as a dense rows x cols f32 matrix from a stored
 * matrix of dtype `dt` (stored cols x rows when `trans`). */
static void widen(float* dst, const uint8_t* src, uint32_t dt, int trans,
                  uint64_t rows, uint64_t cols) {
  uint64_t i, j;
  for (i = 0; i < rows; ++i) {
    for (j = 0; j < cols; ++j) {
      uint64_t idx = trans ? j * rows + i : i * cols + j;
      float v;
      if (dt == NPUSIM_DT_F16) {
        uint16_t h;
        memcpy(&h, src + idx * 2, 2);
        v = npusim_half_to_float(h);
      } else {
        memcpy(&v, src + idx * 4, 4);
      }
      dst[i * cols + j] = v;
    }
  }
}

static void gemm_f32(npusim_t* sim, uint32_t flags, uint64_t m, uint64_t k,
                     uint64_t n, float* a, float* b, float* c) {
  int acc = (flags & NPUSIM_GEMM_ACCUMULATE) != 0;
  int ta = (flags & NPUSIM_GEMM_TRANS_A) != 0;
  int tb = (flags & NPUSIM_GEMM_TRANS_B) != 0;
#ifdef NPUSIM_USE_CBLAS
  (void)sim;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
              (int)(ta ? m : k), b, (int)(tb ? k : n), acc ? 1.0f : 0.0f, c,
              (int)n);
#else
  if (ta) {
    widen(sim->tmp_a, (const uint8_t*)a, NPUSIM_DT_F32, 1, m, k);
    a = sim->tmp_a;
  }
  if (tb) {
    widen(sim->tmp_b, (const uint8_t*)b, NPUSIM_DT_F32, 1, k, n);
    b = sim->tmp_b;
  }
  sgemm_blocked(acc, m, n, k, a, b, c);
#endif
}

static void gemm_i8(const npusim_cmd_t* cmd, uint64_t m, uint64_t k, uint64_t n,
                    const int8_t* a, const int8_t* b, uint8_t* c_bytes) {
  int ta = (cmd->flags & NPUSIM_GEMM_TRANS_A) != 0;
  int tb = (cmd->flags & NPUSIM_GEMM_TRANS_B) != 0;
  uint64_t i, j, p;
  /* Accumulate in uint32 so the int32 wrap-around the catalog asks for is
   * defined behaviour. */
  uint32_t* c = (uint32_t*)(void*)c_bytes;
  if (!(cmd->flags & NPUSIM_GEMM_ACCUMULATE)) {
    memset(c, 0, (size_t)(m * n * 4));
  }
  for (i = 0; i < m; ++i) {
    uint32_t* crow = c + i * n;
    for (p = 0; p < k; ++p) {
      int32_t av = ta ? a[p * m + i] : a[i * k + p];
      if (tb) {
        for (j = 0; j < n; ++j) {
          crow[j] += (uint32_t)(av * (int32_t)b[j * k + p]);
        }
      } else {
        const int8_t* brow = b + p * n;
        for (j = 0; j < n; ++j) crow[j] += (uint32_t)(av * (int32_t)brow[j]);
      }
    }
  }
}

/* Do [a, a + as) and [b, b + bs) overlap? */
static int overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs) {
  return as && bs && a < b + bs && b < a + as;
}

void npusim_exec_gemm(npusim_t* sim, const npusim_cmd_t* cmd,
                      npusim_exec_t* ex) {
  uint32_t dt = cmd->dtype, es = npusim_dtype_size(dt);
  uint64_t m = cmd->a[3], k = cmd->a[4], n = cmd->a[5];
  uint64_t a_bytes, b_bytes, c_bytes, spad = sim->cfg.spad_bytes;
  uint32_t dataflow = cmd->func ? cmd->func : sim->cfg.dataflow;
  const uint32_t known =
      NPUSIM_GEMM_ACCUMULATE | NPUSIM_GEMM_TRANS_A | NPUSIM_GEMM_TRANS_B;
  ex->engine = ENGINE_COMPUTE;
  if ((dt != NPUSIM_DT_F32 && dt != NPUSIM_DT_F16 && dt != NPUSIM_DT_I8) ||
      (cmd->flags & ~known) || dataflow > NPUSIM_DATAFLOW_WS || m > INT_MAX ||
      k > INT_MAX || n > INT_MAX) {
    ex->error = NPUSIM_ERR_BAD_ARG;
    return;
  }
  if (!npusim_mul_ok(m, k, &a_bytes) || !npusim_mul_ok(a_bytes, es, &a_bytes) ||
      !npusim_mul_ok(k, n, &b_bytes) || !npusim_mul_ok(b_bytes, es, &b_bytes) ||
      !npusim_mul_ok(m, n, &c_bytes) || !npusim_mul_ok(c_bytes, 4, &c_bytes)) {
    ex->error = NPUSIM_ERR_SPAD_RANGE;
    return;
  }
  if (!npusim_in_range(cmd->a[0], a_bytes, spad)) {
    ex->error = NPUSIM_ERR_SPAD_RANGE;
    ex->error_addr = cmd->a[0];
    return;
  }
  if (!npusim_in_range(cmd->a[1], b_bytes, spad)) {
    ex->error = NPUSIM_ERR_SPAD_RANGE;
    ex->error_addr = cmd->a[1];
    return;
  }
  if (!npusim_in_range(cmd->a[2], c_bytes, spad)) {
    ex->error = NPUSIM_ERR_SPAD_RANGE;
    ex->error_addr = cmd->a[2];
    return;
  }
  /* Operands are aligned to their element size, as the array's SRAM ports
   * are; the accumulator is 4-byte aligned. */
  if (cmd->a[0] % es || cmd->a[1] % es || cmd->a[2] % 4) {
    ex->error = NPUSIM_ERR_BAD_ARG;
    return;
  }
  if (overlaps(cmd->a[2], c_bytes, cmd->a[0], a_bytes) ||
      overlaps(cmd->a[2], c_bytes, cmd->a[1], b_bytes)) {
    ex->error = NPUSIM_ERR_OVERLAP;
    ex->error_addr = cmd->a[2];
    return;
  }
  ex->macs = m * k * n; /* each factor <= spad, checked above */
  ex->cycles =
      npusim_gemm_cycles(dataflow, sim->cfg.rows, sim->cfg.cols, m, k, n);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!(cmd->flags & NPUSIM_GEMM_ACCUMULATE)) {
      memset(sim->spad + cmd->a[2], 0, (size_t)c_bytes);
    }
    return;
  }
  if (dt == NPUSIM_DT_I8) {
    gemm_i8(cmd, m, k, n, (const int8_t*)(sim->spad + cmd->a[0]),
            (const int8_t*)(sim->spad + cmd->a[1]), sim->spad + cmd->a[2]);
    return;
  }
  {
    float* a = (float*)(void*)(sim->spad + cmd->a[0]);
    float* b = (float*)(void*)(sim->spad + cmd->a[1]);
    float* c = (float*)(void*)(sim->spad + cmd->a[2]);
    uint32_t flags = cmd->flags;
    int need_tmp = dt == NPUSIM_DT_F16;
#ifndef NPUSIM_USE_CBLAS
    need_tmp = 1;
#endif
    if (need_tmp && (!reserve(&sim->tmp_a, &sim->tmp_a_cap, m * k * 4) ||
                     !reserve(&sim->tmp_b, &sim->tmp_b_cap, k * n * 4))) {
      /* The model's own host memory ran out: report it as a device fault
       * rather than crash the host. */
      ex->error = NPUSIM_ERR_ABORTED;
      return;
    }
    if (dt == NPUSIM_DT_F16) {
      widen(sim->tmp_a, (const uint8_t*)a, dt,
            (flags & NPUSIM_GEMM_TRANS_A) != 0, m, k);
      widen(sim->tmp_b, (const uint8_t*)b, dt,
            (flags & NPUSIM_GEMM_TRANS_B) != 0, k, n);
      a = sim->tmp_a;
      b = sim->tmp_b;
      flags &= ~(uint32_t)(NPUSIM_GEMM_TRANS_A | NPUSIM_GEMM_TRANS_B);
    }
    gemm_f32(sim, flags, m, k, n, a, b, c);
  }
}
