/*
 * cpu_gemm.c - the GEMM cores under matmul and conv2d.
 *
 * f32: with OpenBLAS, a direct cblas_sgemm (row-major, transposes and
 * alpha/beta passed through), so matmul costs what the library costs.
 * Without it (XHAL_USE_OPENBLAS=OFF, or a dimension beyond OpenBLAS's
 * 32-bit int), a Goto-style blocked kernel: B is packed in KC x NR strips,
 * A in MR x KC strips pre-scaled by alpha, and an MR x NR register tile
 * accumulates over KC; tiles of one block are spread over the pool.
 *
 * int8: C = A @ B with int32 accumulation that wraps. The accumulator is
 * uint32 so overflow is defined; a row group of four shares each B load,
 * and a column block keeps the accumulators in L1.
 */
#include <limits.h>
#include <string.h>

#include "cpu_kernels_internal.h"

#ifdef XHAL_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* --------------------------------------------------------- beta pass */

typedef struct scale_ctx {
  uint64_t n;
  float beta;
  float* c;
  uint64_t ldc;
} scale_ctx_t;

static void scale_rows(void* ctx, uint64_t begin, uint64_t end) {
  const scale_ctx_t* s = (const scale_ctx_t*)ctx;
  uint64_t i;
  uint64_t j;
  for (i = begin; i < end; ++i) {
    float* row = s->c + i * s->ldc;
    if (s->beta == 0.0f) {
      /* beta == 0 must not read C: a NaN there must not survive. */
      memset(row, 0, (size_t)s->n * sizeof(float));
    } else {
      for (j = 0; j < s->n; ++j) row[j] *= s->beta;
    }
  }
}

/* C = beta * C over m x n, not reading C when beta == 0. */
static void scale_c(const cpu_parallel_t* par, uint64_t m, uint64_t n,
                    float beta, float* c, uint64_t ldc) {
  scale_ctx_t s = {n, beta, c, ldc};
  if (beta == 1.0f) return;
  cpu_par_for(par, m, cpu_grain_for(n), scale_rows, &s);
}

/* ------------------------------------------------ blocked f32 fallback */

/* The inner kernels are built twice, for x86-64-v3 (AVX2 + FMA) and for
 * the baseline the library is compiled for, and the loader picks one per
 * machine (an ifunc), so one binary is both portable and fast. Not under
 * ThreadSanitizer: its instrumented ifunc resolver would run before the
 * sanitizer's runtime is up and crash at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__)
#define CPU_GEMM_CLONES \
  __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CPU_GEMM_CLONES
#endif

enum {
  MR = 4,
  NR = 16,
  KC = 256,
  MC = 256, /* multiple of MR */
  NC = 2048 /* multiple of NR */
};
_Static_assert(MR == 4 && NR == 16, "micro_tile is written for 4 x 16");

typedef struct sgemm_job {
  int trans_a;
  int trans_b;
  float alpha;
  const float* a;
  uint64_t lda;
  const float* b;
  uint64_t ldb;
  float* c;
  uint64_t ldc;
  /* The current block: rows [ic, ic+mc), cols [jc, jc+nc), depth
   * [pc, pc+kc). */
  uint64_t ic, mc, jc, nc, pc, kc;
  float* ap; /* ceil(mc/MR) strips of kc x MR */
  float* bp; /* ceil(nc/NR) strips of kc x NR */
} sgemm_job_t;

static inline float op_a(const sgemm_job_t* j, uint64_t i, uint64_t k) {
  return j->trans_a ? j->a[k * j->lda + i] : j->a[i * j->lda + k];
}

static inline float op_b(const sgemm_job_t* j, uint64_t k, uint64_t n) {
  return j->trans_b ? j->b[n * j->ldb + k] : j->b[k * j->ldb + n];
}

static void pack_b_strips(void* ctx, uint64_t begin, uint64_t end) {
  const sgemm_job_t* j = (const sgemm_job_t*)ctx;
  uint64_t s;
  uint64_t k;
  uint64_t x;
  for (s = begin; s < end; ++s) {
    float* dst = j->bp + s * j->kc * NR;
    uint64_t col0 = j->jc + s * NR;
    uint64_t w = j->nc - s * NR < NR ? j->nc - s * NR : NR;
    for (k = 0; k < j->kc; ++k) {
      uint64_t kk = j->pc + k;
      if (!j->trans_b && w == NR) {
        memcpy(dst + k * NR, j->b + kk * j->ldb + col0, NR * sizeof(float));
        continue;
      }
      for (x = 0; x < NR; ++x) {
        dst[k * NR + x] = x < w ? op_b(j, kk, col0 + x) : 0.0f;
      }
    }
  }
}

static void pack_a_strips(void* ctx, uint64_t begin, uint64_t end) {
  const sgemm_job_t* j = (const sgemm_job_t*)ctx;
  uint64_t s;
  uint64_t k;
  uint64_t y;
  for (s = begin; s < end; ++s) {
    float* dst = j->ap + s * j->kc * MR;
    uint64_t row0 = j->ic + s * MR;
    uint64_t h = j->mc - s * MR < MR ? j->mc - s * MR : MR;
    for (k = 0; k < j->kc; ++k) {
      for (y = 0; y < MR; ++y) {
        dst[k * MR + y] =
            y < h ? j->alpha * op_a(j, row0 + y, j->pc + k) : 0.0f;
      }
    }
  }
}

/* Eight floats; plain arithmetic on it compiles to whatever vector width
 * the target has (two SSE registers, or one AVX register). */
typedef float vec8 __attribute__((vector_size(32)));

/* acc = Ap strip @ Bp strip over kc, held in registers; then C += the
 * valid part. The 4 x 16 tile is eight 8-float accumulators: enough
 * independent FMAs to hide their latency on two FMA ports. */
CPU_GEMM_CLONES static void micro_tile(uint64_t kc, const float* restrict ap,
                                       const float* restrict bp,
                                       float* restrict c, uint64_t ldc,
                                       uint64_t h, uint64_t w) {
  vec8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};
  vec8 c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
  float acc[MR][NR];
  uint64_t k;
  uint64_t y;
  uint64_t x;
  for (k = 0; k < kc; ++k) {
    vec8 b0;
    vec8 b1;
    const float* av = ap + k * MR;
    memcpy(&b0, bp + k * NR, sizeof(b0));
    memcpy(&b1, bp + k * NR + 8, sizeof(b1));
    c00 += av[0] * b0;
    c01 += av[0] * b1;
    c10 += av[1] * b0;
    c11 += av[1] * b1;
    c20 += av[2] * b0;
    c21 += av[2] * b1;
    c30 += av[3] * b0;
    c31 += av[3] * b1;
  }
  memcpy(&acc[0][0], &c00, sizeof(c00));
  memcpy(&acc[0][8], &c01, sizeof(c01));
  memcpy(&acc[1][0], &c10, sizeof(c10));
  memcpy(&acc[1][8], &c11, sizeof(c11));
  memcpy(&acc[2][0], &c20, sizeof(c20));
  memcpy(&acc[2][8], &c21, sizeof(c21));
  memcpy(&acc[3][0], &c30, sizeof(c30));
  memcpy(&acc[3][8], &c31, sizeof(c31));
  for (y = 0; y < h; ++y) {
    for (x = 0; x < w; ++x) c[y * ldc + x] += acc[y][x];
  }
}

static void compute_tiles(void* ctx, uint64_t begin, uint64_t end) {
  const sgemm_job_t* j = (const sgemm_job_t*)ctx;
  uint64_t m_strips = (j->mc + MR - 1) / MR;
  uint64_t t;
  /* Consecutive tiles walk down one B strip, which stays in cache. */
  for (t = begin; t < end; ++t) {
    uint64_t si = t % m_strips;
    uint64_t sj = t / m_strips;
    uint64_t h = j->mc - si * MR < MR ? j->mc - si * MR : MR;
    uint64_t w = j->nc - sj * NR < NR ? j->nc - sj * NR : NR;
    float* c = j->c + (j->ic + si * MR) * j->ldc + j->jc + sj * NR;
    micro_tile(j->kc, j->ap + si * j->kc * MR, j->bp + sj * j->kc * NR, c,
               j->ldc, h, w);
  }
}

static xhal_status_t sgemm_blocked(const cpu_parallel_t* par, int trans_a,
                                   int trans_b, uint64_t m, uint64_t n,
                                   uint64_t k, float alpha, const float* a,
                                   uint64_t lda, const float* b, uint64_t ldb,
                                   float* c, uint64_t ldc) {
  sgemm_job_t j;
  void* ap = NULL;
  void* bp = NULL;
  uint64_t kcap = k < KC ? k : KC;
  uint64_t mcap = m < MC ? (m + MR - 1) / MR * MR : MC;
  uint64_t ncap = n < NC ? (n + NR - 1) / NR * NR : NC;
  xhal_status_t st = cpu_scratch_alloc(mcap * kcap, sizeof(float), &ap);
  if (st == XHAL_OK) st = cpu_scratch_alloc(ncap * kcap, sizeof(float), &bp);
  if (st != XHAL_OK) goto cleanup;
  j.trans_a = trans_a;
  j.trans_b = trans_b;
  j.alpha = alpha;
  j.a = a;
  j.lda = lda;
  j.b = b;
  j.ldb = ldb;
  j.c = c;
  j.ldc = ldc;
  j.ap = (float*)ap;
  j.bp = (float*)bp;
  for (j.jc = 0; j.jc < n; j.jc += NC) {
    j.nc = n - j.jc < NC ? n - j.jc : NC;
    for (j.pc = 0; j.pc < k; j.pc += KC) {
      uint64_t n_strips;
      j.kc = k - j.pc < KC ? k - j.pc : KC;
      n_strips = (j.nc + NR - 1) / NR;
      cpu_par_for(par, n_strips, cpu_grain_for(j.kc * NR), pack_b_strips, &j);
      for (j.ic = 0; j.ic < m; j.ic += MC) {
        uint64_t m_strips;
        j.mc = m - j.ic < MC ? m - j.ic : MC;
        m_strips = (j.mc + MR - 1) / MR;
        cpu_par_for(par, m_strips, cpu_grain_for(j.kc * MR), pack_a_strips, &j);
        /* A tile is MR*NR*kc multiply-adds: a handful per chunk. */
        cpu_par_for(par, m_strips * n_strips, cpu_grain_for(j.kc * MR * NR / 4),
                    compute_tiles, &j);
      }
    }
  }
cleanup:
  cpu_scratch_free(ap);
  cpu_scratch_free(bp);
  return st;
}

/* Small products, which the conv2d kernel runs per unit inside pool
 * chunks: plain loops, no packing buffers to allocate. */
static void sgemm_small(int trans_a, int trans_b, uint64_t m, uint64_t n,
                        uint64_t k, float alpha, const float* a, uint64_t lda,
                        const float* b, uint64_t ldb, float* c, uint64_t ldc) {
  uint64_t i;
  uint64_t j;
  uint64_t kk;
  for (i = 0; i < m; ++i) {
    float* restrict crow = c + i * ldc;
    if (!trans_b) {
      for (kk = 0; kk < k; ++kk) {
        const float* restrict brow = b + kk * ldb;
        float av = alpha * (trans_a ? a[kk * lda + i] : a[i * lda + kk]);
        for (j = 0; j < n; ++j) crow[j] += av * brow[j];
      }
      continue;
    }
    for (j = 0; j < n; ++j) {
      const float* bcol = b + j * ldb;
      float dot = 0.0f;
      for (kk = 0; kk < k; ++kk) {
        dot += (trans_a ? a[kk * lda + i] : a[i * lda + kk]) * bcol[kk];
      }
      crow[j] += alpha * dot;
    }
  }
}

xhal_status_t cpu_sgemm(const cpu_parallel_t* par, int trans_a, int trans_b,
                        uint64_t m, uint64_t n, uint64_t k, float alpha,
                        const float* a, uint64_t lda, const float* b,
                        uint64_t ldb, float beta, float* c, uint64_t ldc) {
  if (m == 0 || n == 0) return XHAL_OK;
#ifdef XHAL_HAVE_OPENBLAS
  if (k > 0 && m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX &&
      ldb <= INT_MAX && ldc <= INT_MAX) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n,
                (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c,
                (blasint)ldc);
    return XHAL_OK;
  }
#endif
  /* The blocked kernel accumulates into C, so apply beta first. */
  scale_c(par, m, n, beta, c, ldc);
  if (k == 0) return XHAL_OK;
  if (m * n <= CPU_SMALL_GEMM_WORK / k) {
    sgemm_small(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
    return XHAL_OK;
  }
  return sgemm_blocked(par, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c,
                       ldc);
}

/* --------------------------------------------------------- int8 GEMM */

enum {
  IG_ROWS = 16, /* rows per parallel item */
  IG_COLS = 256 /* accumulator columns kept in L1 */
};

typedef struct igemm_job {
  uint64_t m, n, k;
  const int8_t* a;
  uint64_t lda;
  const int8_t* b;
  uint64_t ldb;
  int32_t* c;
  uint64_t ldc;
} igemm_job_t;

/* Rows r0..r0+rows (rows <= 4) x cols [j0, j0+w). */
CPU_GEMM_CLONES static void igemm_rows(const igemm_job_t* g, uint64_t r0,
                                       uint64_t rows, uint64_t j0, uint64_t w) {
  uint32_t acc[4][IG_COLS];
  uint64_t kk;
  uint64_t x;
  uint64_t y;
  memset(acc, 0, sizeof(acc));
  if (rows == 4) {
    const int8_t* a0 = g->a + r0 * g->lda;
    const int8_t* a1 = a0 + g->lda;
    const int8_t* a2 = a1 + g->lda;
    const int8_t* a3 = a2 + g->lda;
    for (kk = 0; kk < g->k; ++kk) {
      const int8_t* restrict bv = g->b + kk * g->ldb + j0;
      int32_t v0 = a0[kk];
      int32_t v1 = a1[kk];
      int32_t v2 = a2[kk];
      int32_t v3 = a3[kk];
      for (x = 0; x < w; ++x) {
        int32_t bx = bv[x];
        /* Each int8 product fits int32; only the sum may wrap. */
        acc[0][x] += (uint32_t)(v0 * bx);
        acc[1][x] += (uint32_t)(v1 * bx);
        acc[2][x] += (uint32_t)(v2 * bx);
        acc[3][x] += (uint32_t)(v3 * bx);
      }
    }
  } else {
    for (y = 0; y < rows; ++y) {
      const int8_t* ar = g->a + (r0 + y) * g->lda;
      for (kk = 0; kk < g->k; ++kk) {
        const int8_t* restrict bv = g->b + kk * g->ldb + j0;
        int32_t v = ar[kk];
        for (x = 0; x < w; ++x) acc[y][x] += (uint32_t)(v * (int32_t)bv[x]);
      }
    }
  }
  for (y = 0; y < rows; ++y) {
    int32_t* cr = g->c + (r0 + y) * g->ldc + j0;
    /* Two's complement reinterpretation of the wrapped sum. */
    for (x = 0; x < w; ++x) cr[x] = (int32_t)acc[y][x];
  }
}

static void igemm_range(void* ctx, uint64_t begin, uint64_t end) {
  const igemm_job_t* g = (const igemm_job_t*)ctx;
  uint64_t item;
  for (item = begin; item < end; ++item) {
    uint64_t r_begin = item * IG_ROWS;
    uint64_t r_end = r_begin + IG_ROWS < g->m ? r_begin + IG_ROWS : g->m;
    uint64_t j0;
    /* Column blocks outside, rows inside: the K x IG_COLS slice of B is
     * reused by every row of the item. */
    for (j0 = 0; j0 < g->n; j0 += IG_COLS) {
      uint64_t w = g->n - j0 < IG_COLS ? g->n - j0 : IG_COLS;
      uint64_t r;
      for (r = r_begin; r < r_end; r += 4) {
        uint64_t rows = r_end - r < 4 ? r_end - r : 4;
        igemm_rows(g, r, rows, j0, w);
      }
    }
  }
}

void cpu_igemm(const cpu_parallel_t* par, uint64_t m, uint64_t n, uint64_t k,
               const int8_t* a, uint64_t lda, const int8_t* b, uint64_t ldb,
               int32_t* c, uint64_t ldc) {
  igemm_job_t g = {m, n, k, a, lda, b, ldb, c, ldc};
  uint64_t items = (m + IG_ROWS - 1) / IG_ROWS;
  uint64_t cost = IG_ROWS * n * (k ? k : 1);
  cpu_par_for(par, items, cpu_grain_for(cost), igemm_range, &g);
}
