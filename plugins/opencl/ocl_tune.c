/*
 * ocl_tune.c - a small autotune of the matmul/conv2d tiles for CPU-class
 * devices.
 *
 * GPU tiles follow from local memory and work-group limits, and the
 * defaults were measured (ocl_device.c). CPU implementations instead turn
 * a work-group into loops and vectorise them in their own way, and the
 * best tiles differ by an order of magnitude between implementations and
 * even versions: on PoCL 3.1 a 16x16 block per work-item runs 1024^3 at
 * about 39 GFLOP/s and 8x8 at 18, while PoCL 5.0 runs the same 16x16
 * kernel at 3.6 GFLOP/s and is fastest with 8x8 to 16x8 blocks (14 to
 * 16). So on CPU devices the plugin times a few candidates once, on a
 * 768^3 f32 product, and keeps the fastest: overall for the large
 * variant, among tiles of at most 64x64 for the small one.
 *
 * Cost: one program build holding every candidate (through the binary
 * cache) and four launches each, a few seconds once per device and driver.
 * The result is stored in the program cache directory, keyed like program
 * binaries (device identity and kernel source), so later processes only
 * read a line of text. Without a cache directory, with
 * XHAL_OPENCL_AUTOTUNE=0 or with XHAL_OPENCL_GEMM_TILES set, the defaults
 * (or the forced tiles) are used and nothing is timed.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ocl_internal.h"
#include "ocl_sources.h"

#define TUNE_N 768
#define TUNE_RECORD "xhal-opencl-tiles-1"

static const ocl_tiles_t kCandidates[] = {
    {128, 128, 16, 16, 16}, {128, 128, 16, 8, 16}, {128, 64, 16, 16, 8},
    {128, 128, 16, 8, 8},   {64, 64, 32, 8, 8},    {64, 64, 16, 8, 8},
    {32, 32, 16, 4, 4},
};
#define TUNE_COUNT (sizeof(kCandidates) / sizeof(kCandidates[0]))

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Name of the tuning record of this device and kernel source. */
static void record_name(const struct xhal_plugin_device* dev, char* out,
                        size_t cap) {
  uint64_t h =
      ocl_hash64(0xcbf29ce484222325ull, TUNE_RECORD, sizeof(TUNE_RECORD) - 1);
  h = ocl_hash64(h, dev->info->identity, strlen(dev->info->identity));
  h = ocl_hash64(h, ocl_src_gemm, strlen(ocl_src_gemm));
  snprintf(out, cap, "tiles-%016llx.txt", (unsigned long long)h);
}

static int parse_line(const char* line, const ocl_device_info_t* info,
                      ocl_tiles_t* out) {
  char text[64];
  size_t n = strcspn(line, "\n");
  if (n == 0 || n >= sizeof(text)) return 0;
  memcpy(text, line, n);
  text[n] = '\0';
  *out = ocl_tiles_parse(text);
  return out->tsm != 0 && ocl_tiles_fit(info, out);
}

/* "xhal-opencl-tiles-1\nL,L,L,L,L\nS,S,S,S,S\n" */
static int load_record(struct xhal_plugin_device* dev, const char* name) {
  char buf[256];
  const char* p;
  ocl_tiles_t t[2];
  if (ocl_cache_read_text(dev->ctx, name, buf, sizeof(buf)) != 0) return 0;
  if (strncmp(buf, TUNE_RECORD "\n", sizeof(TUNE_RECORD)) != 0) return 0;
  p = buf + sizeof(TUNE_RECORD);
  if (!parse_line(p, dev->info, &t[0])) return 0;
  p = strchr(p, '\n');
  if (p == NULL || !parse_line(p + 1, dev->info, &t[1])) return 0;
  dev->tuned[0] = t[0];
  dev->tuned[1] = t[1];
  return 1;
}

static void store_record(struct xhal_plugin_device* dev, const char* name) {
  char text[256];
  const ocl_tiles_t* l = &dev->tuned[0];
  const ocl_tiles_t* s = &dev->tuned[1];
  snprintf(text, sizeof(text), "%s\n%u,%u,%u,%u,%u\n%u,%u,%u,%u,%u\n",
           TUNE_RECORD, l->tsm, l->tsn, l->tsk, l->wptm, l->wptn, s->tsm,
           s->tsn, s->tsk, s->wptm, s->wptn);
  ocl_cache_write_text(dev->ctx, name, text);
}

/* Seconds of the best of three timed launches of candidate `k` (after one
 * untimed launch, which also lets the implementation compile it), or a
 * negative value when it cannot run. */
static double time_candidate(struct xhal_plugin_device* dev, cl_program prog,
                             uint32_t k, cl_command_queue q, cl_mem a, cl_mem b,
                             cl_mem y) {
  const ocl_tiles_t* t = &kCandidates[k];
  char name[32];
  cl_int err = CL_SUCCESS;
  cl_kernel kernel;
  cl_int n = TUNE_N;
  cl_int zero = 0;
  cl_ulong off = 0;
  cl_float one = 1.0f;
  cl_float fzero = 0.0f;
  size_t local[2];
  size_t global[2];
  size_t wg = 0;
  double best = -1.0;
  int rep;
  snprintf(name, sizeof(name), "matmul_t%u", k);
  kernel = clCreateKernel(prog, name, &err);
  if (kernel == NULL || err != CL_SUCCESS) return -1.0;
  local[0] = t->tsn / t->wptn;
  local[1] = t->tsm / t->wptm;
  global[0] = (TUNE_N + t->tsn - 1) / t->tsn * local[0];
  global[1] = (TUNE_N + t->tsm - 1) / t->tsm * local[1];
  clGetKernelWorkGroupInfo(kernel, dev->info->id, CL_KERNEL_WORK_GROUP_SIZE,
                           sizeof(wg), &wg, NULL);
  if (wg >= local[0] * local[1]) {
    /* Arguments as kernels/gemm.cl's matmul takes them. */
    const void* values[16] = {&n, &n,   &n, &zero, &zero, &a,   &off,  &b, &off,
                              &y, &off, &y, &off,  &zero, &one, &fzero};
    const size_t sizes[16] = {4, 4,
                              4, 4,
                              4, sizeof(cl_mem),
                              8, sizeof(cl_mem),
                              8, sizeof(cl_mem),
                              8, sizeof(cl_mem),
                              8, 4,
                              4, 4};
    cl_uint i;
    for (i = 0; i < 16 && err == CL_SUCCESS; ++i)
      err = clSetKernelArg(kernel, i, sizes[i], values[i]);
    for (rep = 0; rep < 4 && err == CL_SUCCESS; ++rep) {
      double t0 = now_s();
      err = clEnqueueNDRangeKernel(q, kernel, 2, NULL, global, local, 0, NULL,
                                   NULL);
      if (err == CL_SUCCESS) err = clFinish(q);
      if (rep > 0 && err == CL_SUCCESS) {
        double dt = now_s() - t0;
        if (best < 0 || dt < best) best = dt;
      }
    }
  }
  clReleaseKernel(kernel);
  return err == CL_SUCCESS ? best : -1.0;
}

/* Builds every candidate into one program and times them. 1 when a
 * result was found. */
static int run_tune(struct xhal_plugin_device* dev) {
  const char* sources[1 + 2 * TUNE_COUNT];
  char prelude[TUNE_COUNT][160];
  double secs[TUNE_COUNT];
  uint32_t count = 0;
  uint32_t k;
  int best_l = -1;
  int best_s = -1;
  cl_program prog = NULL;
  cl_command_queue q = NULL;
  cl_mem bufs[3] = {NULL, NULL, NULL};
  cl_int err = CL_SUCCESS;
  size_t bytes = (size_t)TUNE_N * TUNE_N * sizeof(float);
  double t0 = now_s();
  sources[count++] = ocl_src_common;
  for (k = 0; k < TUNE_COUNT; ++k) {
    const ocl_tiles_t* t = &kCandidates[k];
    snprintf(prelude[k], sizeof(prelude[k]),
             "\n#define TSM %u\n#define TSN %u\n#define TSK %u\n"
             "#define WPTM %u\n#define WPTN %u\n#define XK_SUFFIX _t%u\n",
             t->tsm, t->tsn, t->tsk, t->wptm, t->wptn, k);
    sources[count++] = prelude[k];
    sources[count++] = ocl_src_gemm;
  }
  if (ocl_build_program(dev, sources, NULL, count, "-DXK_F32", NULL, 0,
                        &prog) != XHAL_OK)
    return 0;
  q = clCreateCommandQueue(dev->context, dev->info->id, 0, &err);
  for (k = 0; k < 3 && err == CL_SUCCESS; ++k) {
    cl_float zero = 0.0f;
    bufs[k] =
        clCreateBuffer(dev->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err == CL_SUCCESS)
      err = clEnqueueFillBuffer(q, bufs[k], &zero, sizeof(zero), 0, bytes, 0,
                                NULL, NULL);
  }
  for (k = 0; k < TUNE_COUNT && err == CL_SUCCESS; ++k) {
    secs[k] = -1.0;
    if (!ocl_tiles_fit(dev->info, &kCandidates[k])) continue;
    secs[k] = time_candidate(dev, prog, k, q, bufs[0], bufs[1], bufs[2]);
    if (secs[k] < 0) continue;
    if (best_l < 0 || secs[k] < secs[best_l]) best_l = (int)k;
    if (kCandidates[k].tsm <= 64 && kCandidates[k].tsn <= 64 &&
        (best_s < 0 || secs[k] < secs[best_s]))
      best_s = (int)k;
  }
  for (k = 0; k < 3; ++k)
    if (bufs[k] != NULL) clReleaseMemObject(bufs[k]);
  if (q != NULL) clReleaseCommandQueue(q);
  clReleaseProgram(prog);
  if (best_l < 0 || best_s < 0) return 0;
  dev->tuned[0] = kCandidates[best_l];
  dev->tuned[1] = kCandidates[best_s];
  ocl_log(dev->ctx, XHAL_LOG_INFO,
          "opencl: tuned matmul tiles for '%s' in %.1f s: large %ux%ux%u "
          "(%ux%u per work-item, %.1f GFLOP/s), small %ux%ux%u (%ux%u, %.1f)",
          dev->info->props.name, now_s() - t0, dev->tuned[0].tsm,
          dev->tuned[0].tsn, dev->tuned[0].tsk, dev->tuned[0].wptm,
          dev->tuned[0].wptn, 2e-9 * TUNE_N * TUNE_N * TUNE_N / secs[best_l],
          dev->tuned[1].tsm, dev->tuned[1].tsn, dev->tuned[1].tsk,
          dev->tuned[1].wptm, dev->tuned[1].wptn,
          2e-9 * TUNE_N * TUNE_N * TUNE_N / secs[best_s]);
  return 1;
}

void ocl_tune_tiles(struct xhal_plugin_device* dev) {
  const struct xhal_plugin_context* ctx = dev->ctx;
  char name[64];
  if (dev->tune_done) return;
  dev->tune_done = 1; /* once per device, whatever happens */
  if (!(dev->info->type & CL_DEVICE_TYPE_CPU) || !ctx->autotune ||
      ctx->cache_dir[0] == '\0' || ctx->tiles_override.tsm != 0)
    return;
  record_name(dev, name, sizeof(name));
  if (load_record(dev, name)) {
    dev->has_tuned = 1;
    return;
  }
  if (run_tune(dev)) {
    dev->has_tuned = 1;
    store_record(dev, name);
  }
}
