/*
 * npusim_cli.c - the `npusim` command: runs one GEMM or one convolution on
 * the model and prints its cycle counts.
 *
 *   npusim gemm --m M --k K --n N [--rows R --cols C] [--dataflow os|ws]
 *               [--dtype f32|f16|int8] [--config FILE] [--trace FILE]
 *               [--verify] [--json]
 *   npusim conv2d --h H --w W --c C --k K --r R --s S [--stride T]
 *               [--pad P] [--batch N] (and the options above)
 *
 * A GEMM is issued as one command over the whole problem: A and B are
 * DMA'd from host memory into the scratchpad (grown to fit if the config's
 * is too small), the array computes, C is DMA'd back. compute_cycles is
 * then exactly the documented per-GEMM formula. A conv2d is lowered the
 * way SCALE-Sim lowers it: an im2col matrix of (N*OH*OW) x (C*R*S) rows
 * built on the host, times the (C*R*S) x K filter matrix.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npusim/npusim.h"
#include "npusim_runner.h"

typedef struct args {
  uint64_t m, k, n;
  uint64_t h, w, c, kf, r, s, stride, pad, batch;
  uint32_t rows, cols, dataflow, dtype;
  int have_rows, have_cols, have_dataflow, json, verify;
  const char* config;
  const char* trace;
} args_t;

static void usage(FILE* f) {
  fprintf(f,
          "usage: npusim gemm --m M --k K --n N [options]\n"
          "       npusim conv2d --h H --w W --c C --k K --r R --s S "
          "[--stride T] [--pad P] [--batch N] [options]\n"
          "options: --rows R --cols C --dataflow os|ws --dtype f32|f16|int8\n"
          "         --config FILE --trace FILE --verify --json\n");
}

static int parse_num(const char* s, uint64_t* out) {
  char* end = NULL;
  unsigned long long v;
  if (!s || *s == '-' || *s == '\0') return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

static int parse_args(int argc, char** argv, int conv, args_t* a) {
  int i;
  memset(a, 0, sizeof(*a));
  a->dataflow = NPUSIM_DATAFLOW_OS;
  a->dtype = NPUSIM_DT_F32;
  a->stride = 1;
  a->batch = 1;
  for (i = 2; i < argc; ++i) {
    const char* o = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t num = 0;
    uint64_t* target = NULL;
    if (strcmp(o, "--json") == 0) {
      a->json = 1;
      continue;
    }
    if (strcmp(o, "--verify") == 0) {
      a->verify = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "npusim: %s needs a value\n", o);
      return -1;
    }
    i++;
    if (strcmp(o, "--config") == 0) {
      a->config = v;
    } else if (strcmp(o, "--trace") == 0) {
      a->trace = v;
    } else if (strcmp(o, "--dataflow") == 0) {
      if (strcmp(v, "os") == 0) {
        a->dataflow = NPUSIM_DATAFLOW_OS;
      } else if (strcmp(v, "ws") == 0) {
        a->dataflow = NPUSIM_DATAFLOW_WS;
      } else {
        fprintf(stderr, "npusim: --dataflow must be os or ws\n");
        return -1;
      }
      a->have_dataflow = 1;
    } else if (strcmp(o, "--dtype") == 0) {
      if (strcmp(v, "f32") == 0) {
        a->dtype = NPUSIM_DT_F32;
      } else if (strcmp(v, "f16") == 0) {
        a->dtype = NPUSIM_DT_F16;
      } else if (strcmp(v, "int8") == 0 || strcmp(v, "i8") == 0) {
        a->dtype = NPUSIM_DT_I8;
      } else {
        fprintf(stderr, "npusim: --dtype must be f32, f16 or int8\n");
        return -1;
      }
    } else if (strcmp(o, "--rows") == 0 || strcmp(o, "--cols") == 0) {
      if (parse_num(v, &num) || num == 0 || num > 4096) {
        fprintf(stderr, "npusim: %s must be 1..4096\n", o);
        return -1;
      }
      if (o[2] == 'r') {
        a->rows = (uint32_t)num;
        a->have_rows = 1;
      } else {
        a->cols = (uint32_t)num;
        a->have_cols = 1;
      }
    } else {
      if (!conv && strcmp(o, "--m") == 0) target = &a->m;
      if (strcmp(o, "--k") == 0) target = conv ? &a->kf : &a->k;
      if (!conv && strcmp(o, "--n") == 0) target = &a->n;
      if (conv && strcmp(o, "--h") == 0) target = &a->h;
      if (conv && strcmp(o, "--w") == 0) target = &a->w;
      if (conv && strcmp(o, "--c") == 0) target = &a->c;
      if (conv && strcmp(o, "--r") == 0) target = &a->r;
      if (conv && strcmp(o, "--s") == 0) target = &a->s;
      if (conv && strcmp(o, "--stride") == 0) target = &a->stride;
      if (conv && strcmp(o, "--pad") == 0) target = &a->pad;
      if (conv && strcmp(o, "--batch") == 0) target = &a->batch;
      if (!target) {
        fprintf(stderr, "npusim: unknown option %s\n", o);
        return -1;
      }
      if (parse_num(v, target) || *target > (1u << 20)) {
        fprintf(stderr, "npusim: %s must be a number <= 1048576\n", o);
        return -1;
      }
    }
  }
  return 0;
}

/* The config file is shared with the driver: its keys are not ours. */
static int skip_driver_keys(void* user, const char* key, const char* value) {
  (void)user;
  (void)value;
  return strncmp(key, "driver.", 7) == 0 ? 0 : 1;
}

/* Deterministic small values, exact in every dtype. */
static void fill_operand(uint8_t* p, uint32_t dt, uint64_t count,
                         uint32_t seed) {
  uint64_t i;
  uint32_t x = seed * 2654435761u + 1u;
  for (i = 0; i < count; ++i) {
    int v;
    x = x * 1103515245u + 12345u;
    v = (int)((x >> 16) % 7u) - 3;
    if (dt == NPUSIM_DT_I8) {
      p[i] = (uint8_t)(int8_t)v;
    } else if (dt == NPUSIM_DT_F16) {
      /* Small integers are exact in f16: 0x3C00 is 1.0, built by hand so
       * the CLI needs no conversion code. */
      static const uint16_t halves[7] = {0xC200, 0xC000, 0xBC00, 0x0000,
                                         0x3C00, 0x4000, 0x4200};
      memcpy(p + i * 2, &halves[v + 3], 2);
    } else {
      float f = (float)v;
      memcpy(p + i * 4, &f, 4);
    }
  }
}

static double operand_value(const uint8_t* p, uint32_t dt, uint64_t i) {
  if (dt == NPUSIM_DT_I8) return (int8_t)p[i];
  if (dt == NPUSIM_DT_F16) {
    uint16_t h;
    memcpy(&h, p + i * 2, 2);
    switch (h) {
      case 0xC200:
        return -3;
      case 0xC000:
        return -2;
      case 0xBC00:
        return -1;
      case 0x3C00:
        return 1;
      case 0x4000:
        return 2;
      case 0x4200:
        return 3;
      default:
        return 0;
    }
  }
  {
    float f;
    memcpy(&f, p + i * 4, 4);
    return f;
  }
}

/* Runs C[m x n] = A[m x k] . B[k x n] as one GEMM command; A and B are
 * host matrices of `a->dtype`. Prints the report. Returns the exit code. */
static int run_gemm(const args_t* a, uint64_t m, uint64_t k, uint64_t n,
                    uint8_t* host_a, uint8_t* host_b, const char* what) {
  npusim_config_t cfg;
  runner_t run;
  char err[256];
  uint32_t es = a->dtype == NPUSIM_DT_F32   ? 4
                : a->dtype == NPUSIM_DT_F16 ? 2
                                            : 1;
  uint64_t a_bytes = m * k * es, b_bytes = k * n * es, c_bytes = m * n * 4;
  uint64_t a_off = 0, b_off = (a_bytes + 63) & ~63ull;
  uint64_t c_off = (b_off + b_bytes + 63) & ~63ull, need = c_off + c_bytes;
  uint64_t ia, ib, ic;
  uint8_t* host_c = NULL;
  npusim_cmd_t cmd;
  int rc = 1, wrc;
  uint64_t cyc, total, macs, stall, h2d, d2h;
  double util;

  npusim_config_default(&cfg);
  if (a->config && npusim_config_load(&cfg, a->config, skip_driver_keys, NULL,
                                      err, sizeof(err)) != NPUSIM_OK) {
    fprintf(stderr, "npusim: %s\n", err);
    return 2;
  }
  if (a->have_rows) cfg.rows = a->rows;
  if (a->have_cols) cfg.cols = a->cols;
  if (a->have_dataflow) cfg.dataflow = a->dataflow;
  if (cfg.spad_bytes < need) cfg.spad_bytes = need < 1024 ? 1024 : need;
  if (npusim_config_validate(&cfg, err, sizeof(err)) != NPUSIM_OK) {
    fprintf(stderr, "npusim: %s\n", err);
    return 2;
  }
  host_c = calloc(1, c_bytes ? (size_t)c_bytes : 1);
  if (!host_c || runner_open(&run, &cfg) != NPUSIM_OK) {
    fprintf(stderr, "npusim: cannot create the model\n");
    free(host_c);
    return 2;
  }
  if (a->trace) npusim_trace_enable(run.sim, 1);
  if (npusim_host_map(run.sim, host_a, a_bytes ? a_bytes : 1, 0, &ia) ||
      npusim_host_map(run.sim, host_b, b_bytes ? b_bytes : 1, 0, &ib) ||
      npusim_host_map(run.sim, host_c, c_bytes ? c_bytes : 1, 1, &ic)) {
    fprintf(stderr, "npusim: cannot map host memory\n");
    goto done;
  }
  /* Load A and B (semaphores 0 and 1), multiply once both are in
   * (semaphore 2), store C. */
  cmd = runner_dma(NPUSIM_SPACE_HOST, ia, NPUSIM_SPACE_SPAD, a_off, a_bytes);
  cmd.signal = 1;
  runner_submit(&run, &cmd);
  cmd = runner_dma(NPUSIM_SPACE_HOST, ib, NPUSIM_SPACE_SPAD, b_off, b_bytes);
  cmd.signal = 2;
  runner_submit(&run, &cmd);
  cmd = runner_gemm(a->dtype, cfg.dataflow, 0, a_off, b_off, c_off, m, k, n);
  cmd.wait_mask = 0x3;
  cmd.signal = 3;
  runner_submit(&run, &cmd);
  cmd = runner_dma(NPUSIM_SPACE_SPAD, c_off, NPUSIM_SPACE_HOST, ic, c_bytes);
  cmd.wait_mask = 0x4;
  runner_submit(&run, &cmd);
  cmd = runner_fence(1);
  runner_submit(&run, &cmd);
  wrc = runner_wait(&run, 600000);
  if (wrc != 0) {
    fprintf(stderr, "npusim: the model faulted (error %d)\n", wrc);
    goto done;
  }
  cyc = npusim_reg_read(run.sim, NPUSIM_REG_CNT_GEMM);
  total = npusim_reg_read(run.sim, NPUSIM_REG_CNT_TOTAL);
  macs = npusim_reg_read(run.sim, NPUSIM_REG_CNT_MACS);
  stall = npusim_reg_read(run.sim, NPUSIM_REG_CNT_STALL);
  h2d = npusim_reg_read(run.sim, NPUSIM_REG_CNT_H2D_BYTES);
  d2h = npusim_reg_read(run.sim, NPUSIM_REG_CNT_D2H_BYTES);
  util = cyc ? (double)macs / ((double)cfg.rows * cfg.cols * (double)cyc) : 0;
  if (a->verify) {
    /* Plain triple loop in double; inputs are small integers, so every
     * dtype's result is exact. */
    uint64_t i, j, p, bad = 0;
    for (i = 0; i < m && !bad; ++i) {
      for (j = 0; j < n; ++j) {
        double want = 0, got;
        for (p = 0; p < k; ++p) {
          want += operand_value(host_a, a->dtype, i * k + p) *
                  operand_value(host_b, a->dtype, p * n + j);
        }
        if (a->dtype == NPUSIM_DT_I8) {
          int32_t g;
          memcpy(&g, host_c + (i * n + j) * 4, 4);
          got = g;
        } else {
          float g;
          memcpy(&g, host_c + (i * n + j) * 4, 4);
          got = g;
        }
        if (fabs(got - want) > 1e-3) bad = 1;
      }
    }
    if (bad) {
      fprintf(stderr, "npusim: result mismatch\n");
      goto done;
    }
  }
  if (a->json) {
    printf(
        "{\"op\": \"%s\", \"m\": %llu, \"k\": %llu, \"n\": %llu, "
        "\"rows\": %u, \"cols\": %u, \"dataflow\": \"%s\", "
        "\"compute_cycles\": %llu, \"total_cycles\": %llu, "
        "\"stall_cycles\": %llu, \"macs\": %llu, \"utilization\": %.6f, "
        "\"dma_bytes\": %llu, \"dma_bytes_in\": %llu, "
        "\"dma_bytes_out\": %llu, \"verified\": %s}\n",
        what, (unsigned long long)m, (unsigned long long)k,
        (unsigned long long)n, cfg.rows, cfg.cols,
        cfg.dataflow == NPUSIM_DATAFLOW_WS ? "ws" : "os",
        (unsigned long long)cyc, (unsigned long long)total,
        (unsigned long long)stall, (unsigned long long)macs, util,
        (unsigned long long)(h2d + d2h), (unsigned long long)h2d,
        (unsigned long long)d2h, a->verify ? "true" : "false");
  } else {
    printf("%s M=%llu K=%llu N=%llu on %ux%u %s\n", what, (unsigned long long)m,
           (unsigned long long)k, (unsigned long long)n, cfg.rows, cfg.cols,
           cfg.dataflow == NPUSIM_DATAFLOW_WS ? "ws" : "os");
    printf("  compute cycles %llu, total cycles %llu, stall %llu\n",
           (unsigned long long)cyc, (unsigned long long)total,
           (unsigned long long)stall);
    printf("  MACs %llu, utilisation %.2f%%, DMA bytes in %llu out %llu\n",
           (unsigned long long)macs, util * 100, (unsigned long long)h2d,
           (unsigned long long)d2h);
  }
  if (a->trace) {
    FILE* f = fopen(a->trace, "w");
    if (!f || npusim_trace_write_json(run.sim, f) != NPUSIM_OK) {
      fprintf(stderr, "npusim: cannot write %s\n", a->trace);
      if (f) fclose(f);
      goto done;
    }
    if (fclose(f) != 0) goto done;
  }
  rc = 0;
done:
  runner_close(&run);
  free(host_c);
  return rc;
}

static int cmd_gemm(const args_t* a) {
  uint32_t es = a->dtype == NPUSIM_DT_F32   ? 4
                : a->dtype == NPUSIM_DT_F16 ? 2
                                            : 1;
  uint8_t *ha, *hb;
  int rc;
  if (a->m == 0 || a->k == 0 || a->n == 0) {
    fprintf(stderr, "npusim: --m, --k and --n are required and > 0\n");
    return 2;
  }
  /* Each dim is <= 2^20; the product of two fits easily, and the model's
   * scratchpad cap (4 GiB) bounds what can run. */
  if (a->m * a->k * es > (1ull << 32) || a->k * a->n * es > (1ull << 32) ||
      a->m * a->n * 4 > (1ull << 32)) {
    fprintf(stderr, "npusim: operands larger than 4 GiB\n");
    return 2;
  }
  ha = malloc((size_t)(a->m * a->k * es));
  hb = malloc((size_t)(a->k * a->n * es));
  if (!ha || !hb) {
    free(ha);
    free(hb);
    fprintf(stderr, "npusim: out of memory\n");
    return 2;
  }
  fill_operand(ha, a->dtype, a->m * a->k, 1);
  fill_operand(hb, a->dtype, a->k * a->n, 2);
  rc = run_gemm(a, a->m, a->k, a->n, ha, hb, "gemm");
  free(ha);
  free(hb);
  return rc;
}

static int cmd_conv2d(const args_t* a) {
  uint32_t es = a->dtype == NPUSIM_DT_F32   ? 4
                : a->dtype == NPUSIM_DT_F16 ? 2
                                            : 1;
  uint64_t oh, ow, m, kd, n, b, c, r, s, y, x, i;
  uint8_t *img, *col, *filt;
  int rc;
  if (!a->h || !a->w || !a->c || !a->kf || !a->r || !a->s || !a->stride ||
      !a->batch) {
    fprintf(stderr, "npusim: --h --w --c --k --r --s are required, > 0\n");
    return 2;
  }
  if (a->h + 2 * a->pad < a->r || a->w + 2 * a->pad < a->s) {
    fprintf(stderr, "npusim: filter larger than the padded image\n");
    return 2;
  }
  oh = (a->h + 2 * a->pad - a->r) / a->stride + 1;
  ow = (a->w + 2 * a->pad - a->s) / a->stride + 1;
  m = a->batch * oh * ow;
  kd = a->c * a->r * a->s;
  n = a->kf;
  if (m > (1u << 24) || kd > (1u << 24) || m * kd * es > (1ull << 32) ||
      kd * n * es > (1ull << 32) || m * n * 4 > (1ull << 32) ||
      a->batch * a->c * a->h * a->w * es > (1ull << 32)) {
    fprintf(stderr, "npusim: layer too large\n");
    return 2;
  }
  img = malloc((size_t)(a->batch * a->c * a->h * a->w * es));
  col = calloc(1, (size_t)(m * kd * es));
  filt = malloc((size_t)(kd * n * es));
  if (!img || !col || !filt) {
    free(img);
    free(col);
    free(filt);
    fprintf(stderr, "npusim: out of memory\n");
    return 2;
  }
  fill_operand(img, a->dtype, a->batch * a->c * a->h * a->w, 3);
  fill_operand(filt, a->dtype, kd * n, 4);
  /* im2col: row (b, y, x) of the ifmap matrix holds the window of output
   * pixel (y, x) of image b, ordered (c, r, s); padding reads zeros. */
  for (b = 0; b < a->batch; ++b) {
    for (y = 0; y < oh; ++y) {
      for (x = 0; x < ow; ++x) {
        uint64_t row = (b * oh + y) * ow + x;
        for (c = 0; c < a->c; ++c) {
          for (r = 0; r < a->r; ++r) {
            for (s = 0; s < a->s; ++s) {
              int64_t iy = (int64_t)(y * a->stride + r) - (int64_t)a->pad;
              int64_t ix = (int64_t)(x * a->stride + s) - (int64_t)a->pad;
              uint64_t colidx = row * kd + (c * a->r + r) * a->s + s;
              if (iy < 0 || ix < 0 || iy >= (int64_t)a->h ||
                  ix >= (int64_t)a->w) {
                continue;
              }
              i = ((b * a->c + c) * a->h + (uint64_t)iy) * a->w + (uint64_t)ix;
              memcpy(col + colidx * es, img + i * es, es);
            }
          }
        }
      }
    }
  }
  rc = run_gemm(a, m, kd, n, col, filt, "conv2d");
  free(img);
  free(col);
  free(filt);
  return rc;
}

int main(int argc, char** argv) {
  args_t a;
  int conv;
  if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "gemm") != 0 && strcmp(argv[1], "conv2d") != 0) {
    fprintf(stderr, "npusim: unknown command %s\n", argv[1]);
    usage(stderr);
    return 2;
  }
  conv = strcmp(argv[1], "conv2d") == 0;
  if (parse_args(argc, argv, conv, &a) != 0) return 2;
  return conv ? cmd_conv2d(&a) : cmd_gemm(&a);
}
