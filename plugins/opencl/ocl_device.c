/*
 * ocl_device.c - finding every device of every OpenCL platform, filling
 * in its xhal properties, and choosing its matmul/conv2d tile sizes.
 *
 * Only OpenCL 1.2 entry points are used, so the plugin runs on 1.2
 * platforms as well as on 2.x/3.0 ones; devices older than 1.2 (which lack
 * markers, barriers with wait lists and buffer fills) are skipped with a
 * log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

/* cl_khr_icd: returned by clGetPlatformIDs when no ICD is installed. */
#define OCL_PLATFORM_NOT_FOUND_KHR (-1001)
/* cl_khr_device_uuid */
#define OCL_DEVICE_UUID_KHR 0x106A

/* ------------------------------------------------------------ queries */

/* A string property, NUL-terminated and trimmed of surrounding blanks
 * (some drivers pad names). "" when the query fails. */
static void info_string(cl_device_id dev, cl_device_info what, char* out,
                        size_t cap) {
  size_t len = 0;
  size_t start = 0;
  out[0] = '\0';
  if (clGetDeviceInfo(dev, what, cap - 1, out, &len) != CL_SUCCESS) {
    out[0] = '\0';
    return;
  }
  out[len < cap ? len : cap - 1] = '\0';
  while (out[start] == ' ') ++start;
  if (start > 0) memmove(out, out + start, strlen(out + start) + 1);
  len = strlen(out);
  while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\n'))
    out[--len] = '\0';
}

static void platform_string(cl_platform_id p, cl_platform_info what, char* out,
                            size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  if (clGetPlatformInfo(p, what, cap - 1, out, &len) != CL_SUCCESS) {
    out[0] = '\0';
    return;
  }
  out[len < cap ? len : cap - 1] = '\0';
}

static uint64_t info_ulong(cl_device_id dev, cl_device_info what) {
  cl_ulong v = 0;
  if (clGetDeviceInfo(dev, what, sizeof(v), &v, NULL) != CL_SUCCESS) return 0;
  return v;
}

static uint32_t info_uint(cl_device_id dev, cl_device_info what) {
  cl_uint v = 0;
  if (clGetDeviceInfo(dev, what, sizeof(v), &v, NULL) != CL_SUCCESS) return 0;
  return v;
}

static uint64_t info_size(cl_device_id dev, cl_device_info what) {
  size_t v = 0;
  if (clGetDeviceInfo(dev, what, sizeof(v), &v, NULL) != CL_SUCCESS) return 0;
  return v;
}

/* Whether `list` (space separated) holds `name` as a whole word. */
static int has_extension(const char* list, const char* name) {
  size_t n = strlen(name);
  const char* p = list;
  while ((p = strstr(p, name)) != NULL) {
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    p += n;
  }
  return 0;
}

/* "OpenCL <major>.<minor> ..." -> major * 10 + minor, 0 if unparsable. */
static uint32_t parse_version(const char* text) {
  unsigned long major;
  unsigned long minor;
  char* end = NULL;
  if (strncmp(text, "OpenCL ", 7) != 0) return 0;
  major = strtoul(text + 7, &end, 10);
  if (end == NULL || *end != '.') return 0;
  minor = strtoul(end + 1, NULL, 10);
  if (major > 9 || minor > 9) return 0;
  return (uint32_t)(major * 10 + minor);
}

/* --------------------------------------------------------------- uuid */

static uint64_t fnv1a(uint64_t h, const char* s, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    h ^= (uint8_t)s[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* A stable identity for devices without cl_khr_device_uuid: two FNV-1a
 * hashes of the platform/device/driver strings and the device's index on
 * its platform (which tells identical boards apart), so it is the same in
 * every process on this machine and driver. */
static void hashed_uuid(const char* identity, uint32_t index,
                        uint8_t out[XHAL_UUID_SIZE]) {
  char idx[16];
  int n = snprintf(idx, sizeof(idx), "#%u", index);
  uint64_t a = fnv1a(0xcbf29ce484222325ull, identity, strlen(identity));
  uint64_t b = fnv1a(0x84222325cbf29ce4ull, "xhal-opencl", 11);
  a = fnv1a(a, idx, (size_t)n);
  b = fnv1a(b, identity, strlen(identity));
  b = fnv1a(b, idx, (size_t)n);
  memcpy(out, &a, 8);
  memcpy(out + 8, &b, 8);
}

static void device_uuid(ocl_device_info_t* info, const char* extensions,
                        uint32_t index) {
  uint8_t uuid[XHAL_UUID_SIZE];
  int nonzero = 0;
  size_t i;
  memset(uuid, 0, sizeof(uuid));
  if (has_extension(extensions, "cl_khr_device_uuid") &&
      clGetDeviceInfo(info->id, OCL_DEVICE_UUID_KHR, sizeof(uuid), uuid,
                      NULL) == CL_SUCCESS) {
    for (i = 0; i < sizeof(uuid); ++i) nonzero |= uuid[i];
  }
  if (nonzero)
    memcpy(info->props.uuid, uuid, sizeof(uuid));
  else
    hashed_uuid(info->identity, index, info->props.uuid);
}

/* ---------------------------------------------------------- properties */

static xhal_device_kind_t kind_of(cl_device_type type) {
  if (type & CL_DEVICE_TYPE_GPU) return XHAL_DEVICE_KIND_GPU;
  if (type & CL_DEVICE_TYPE_CPU) return XHAL_DEVICE_KIND_CPU;
  return XHAL_DEVICE_KIND_OTHER;
}

/* v rounded down to its three most significant bits (96 GiB, 112 GiB,
 * 128 GiB, ...). CPU implementations such as PoCL derive their global
 * memory size from the host's free memory, which differs from one
 * process to the next; properties must not (R-DEV), so sizes that come
 * from host memory are reported at this coarse granularity. */
static uint64_t round_coarse(uint64_t v) {
  int top;
  if (v < 8) return v;
  top = 63 - __builtin_clzll(v);
  return v & ~((UINT64_C(1) << (top - 2)) - 1);
}

/* Largest power of two dividing v (v > 0), the alignment v guarantees. */
static uint64_t pow2_floor_divisor(uint64_t v) { return v & (~v + 1); }

/* Fills `info` for one device. Returns 0 when the device cannot serve
 * (unavailable, or older than OpenCL 1.2). */
static int describe_device(struct xhal_plugin_context* ctx,
                           cl_platform_id platform, cl_device_id id,
                           uint32_t index, ocl_device_info_t* info) {
  char platform_name[128];
  char platform_version[128];
  char device_version[128];
  char c_version[128];
  char driver[128];
  char* extensions = NULL;
  size_t ext_len = 0;
  xhal_device_properties_t* p = &info->props;
  cl_command_queue_properties qprops = 0;
  cl_device_fp_config fp = 0;
  uint32_t version;
  uint64_t align_bits;

  memset(info, 0, sizeof(*info));
  info->platform = platform;
  info->id = id;
  p->struct_size = (uint32_t)sizeof(*p);
  info_string(id, CL_DEVICE_NAME, p->name, sizeof(p->name));
  info_string(id, CL_DEVICE_VENDOR, p->vendor, sizeof(p->vendor));
  info_string(id, CL_DEVICE_VERSION, device_version, sizeof(device_version));
  info_string(id, CL_DRIVER_VERSION, driver, sizeof(driver));
  info_string(id, CL_DEVICE_OPENCL_C_VERSION, c_version, sizeof(c_version));
  platform_string(platform, CL_PLATFORM_NAME, platform_name,
                  sizeof(platform_name));
  platform_string(platform, CL_PLATFORM_VERSION, platform_version,
                  sizeof(platform_version));

  version = parse_version(device_version);
  if (version < 12) {
    ocl_log(ctx, XHAL_LOG_INFO,
            "opencl: skipping '%s' on '%s': '%s' is older than OpenCL 1.2",
            p->name, platform_name, device_version);
    return 0;
  }
  if (!info_uint(id, CL_DEVICE_AVAILABLE)) {
    ocl_log(ctx, XHAL_LOG_INFO, "opencl: skipping '%s': not available",
            p->name);
    return 0;
  }
  /* The driver version alone says little across vendors; the OpenCL and
   * OpenCL C versions are what a framework checks before building. */
  if (snprintf(p->driver_version, sizeof(p->driver_version), "%s (%s, %s)",
               driver, device_version, c_version) < 0)
    snprintf(p->driver_version, sizeof(p->driver_version), "%s", driver);
  /* Every field is bounded by its own buffer, so this cannot truncate;
   * the check only documents it. */
  if (snprintf(info->identity, sizeof(info->identity), "%s|%s|%s|%s|%s|%s|%s",
               platform_name, platform_version, p->name, p->vendor, driver,
               device_version, c_version) >= (int)sizeof(info->identity))
    return 0;

  if (clGetDeviceInfo(id, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len) ==
          CL_SUCCESS &&
      ext_len > 0)
    extensions = calloc(1, ext_len + 1);
  if (extensions != NULL && clGetDeviceInfo(id, CL_DEVICE_EXTENSIONS, ext_len,
                                            extensions, NULL) != CL_SUCCESS)
    extensions[0] = '\0';
  device_uuid(info, extensions != NULL ? extensions : "", index);
  info->fp16 = extensions != NULL && has_extension(extensions, "cl_khr_fp16");
  free(extensions);

  clGetDeviceInfo(id, CL_DEVICE_TYPE, sizeof(info->type), &info->type, NULL);
  p->kind = kind_of(info->type);
  p->memory_bytes = info_ulong(id, CL_DEVICE_GLOBAL_MEM_SIZE);
  p->max_alloc_bytes = info_ulong(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  if ((info->type & CL_DEVICE_TYPE_CPU) ||
      info_uint(id, CL_DEVICE_HOST_UNIFIED_MEMORY)) {
    p->memory_bytes = round_coarse(p->memory_bytes);
    p->max_alloc_bytes = round_coarse(p->max_alloc_bytes);
    if (p->max_alloc_bytes > p->memory_bytes)
      p->max_alloc_bytes = p->memory_bytes;
  }
  /* CL_DEVICE_MEM_BASE_ADDR_ALIGN is in bits. */
  align_bits = info_uint(id, CL_DEVICE_MEM_BASE_ADDR_ALIGN);
  info->base_align = align_bits >= 8 ? pow2_floor_divisor(align_bits / 8) : 1;
  p->alignment = info->base_align;
  {
    cl_device_local_mem_type lt = CL_NONE;
    clGetDeviceInfo(id, CL_DEVICE_LOCAL_MEM_TYPE, sizeof(lt), &lt, NULL);
    info->local_mem =
        lt == CL_NONE ? 0 : info_ulong(id, CL_DEVICE_LOCAL_MEM_SIZE);
  }
  p->local_memory_bytes = info->local_mem;
  p->compute_units = info_uint(id, CL_DEVICE_MAX_COMPUTE_UNITS);
  info->max_wg = info_size(id, CL_DEVICE_MAX_WORK_GROUP_SIZE);
  {
    size_t items[3] = {1, 1, 1};
    if (info_uint(id, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS) >= 3)
      clGetDeviceInfo(id, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof(items), items,
                      NULL);
    info->max_item[0] = items[0];
    info->max_item[1] = items[1];
    info->max_item[2] = items[2];
  }
  info->compiler = info_uint(id, CL_DEVICE_COMPILER_AVAILABLE) != 0;
  clGetDeviceInfo(id, CL_DEVICE_SINGLE_FP_CONFIG, sizeof(fp), &fp, NULL);
  info->exact_div = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
  clGetDeviceInfo(id, CL_DEVICE_QUEUE_PROPERTIES, sizeof(qprops), &qprops,
                  NULL);

  p->capabilities =
      XHAL_CAP_HOST_VISIBLE_MEMORY | XHAL_CAP_HOST_FUNC | XHAL_CAP_HOST_ALLOC;
  if (qprops & CL_QUEUE_PROFILING_ENABLE)
    p->capabilities |= XHAL_CAP_PROFILING | XHAL_CAP_STREAM_NO_TIMING;
  if (info->compiler) {
    p->capabilities |= XHAL_CAP_KERNEL_LANG_OPENCL_C;
    /* f16 operators load and store binary16 with vload_half and
     * vstore_half_rte (core OpenCL) and compute in f32, so they run on
     * every device with a compiler, with or without cl_khr_fp16. */
    p->dtypes = XHAL_DTYPE_BIT(XHAL_DTYPE_F32) |
                XHAL_DTYPE_BIT(XHAL_DTYPE_F16) | XHAL_DTYPE_BIT(XHAL_DTYPE_I8) |
                XHAL_DTYPE_BIT(XHAL_DTYPE_I32);
    p->max_work_group_size =
        info->max_wg > UINT32_MAX ? UINT32_MAX : (uint32_t)info->max_wg;
  }
  /* OpenCL profiling counters are in nanoseconds on every platform. */
  p->timer_numerator = 1;
  p->timer_denominator = 1;
  ocl_log(ctx, XHAL_LOG_INFO,
          "opencl: device '%s' (%s) on '%s': %u compute units, %llu MiB, "
          "local %llu KiB, max work-group %llu, %s, cl_khr_fp16 %s",
          p->name, p->vendor, platform_name, p->compute_units,
          (unsigned long long)(p->memory_bytes >> 20),
          (unsigned long long)(info->local_mem >> 10),
          (unsigned long long)info->max_wg, c_version,
          info->fp16 ? "yes" : "no");
  return 1;
}

/* Appends the usable devices of one platform. */
static xhal_status_t add_platform(struct xhal_plugin_context* ctx,
                                  cl_platform_id platform, uint32_t* capacity) {
  cl_uint count = 0;
  cl_device_id* ids;
  cl_uint i;
  cl_int err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, NULL, &count);
  if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && count == 0))
    return XHAL_OK;
  if (err != CL_SUCCESS) {
    /* One broken platform must not hide the others. */
    ocl_log(ctx, XHAL_LOG_WARN, "opencl: clGetDeviceIDs failed: %s",
            ocl_cl_error_name(err));
    return XHAL_OK;
  }
  ids = calloc(count, sizeof(*ids));
  if (ids == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, count, ids, NULL);
  if (err != CL_SUCCESS) {
    free(ids);
    ocl_log(ctx, XHAL_LOG_WARN, "opencl: clGetDeviceIDs failed: %s",
            ocl_cl_error_name(err));
    return XHAL_OK;
  }
  for (i = 0; i < count; ++i) {
    if (ctx->device_count == *capacity) {
      uint32_t grow = *capacity ? *capacity * 2 : 4;
      ocl_device_info_t* more =
          realloc(ctx->devices, (size_t)grow * sizeof(*more));
      if (more == NULL) {
        free(ids);
        return XHAL_ERROR_OUT_OF_MEMORY;
      }
      ctx->devices = more;
      *capacity = grow;
    }
    if (describe_device(ctx, platform, ids[i], i,
                        &ctx->devices[ctx->device_count]))
      ctx->device_count++;
  }
  free(ids);
  return XHAL_OK;
}

/* Serialises enumeration across the plugin's contexts. The first
 * clGetPlatformIDs/clGetDeviceIDs of a process initialises the ICD
 * loader and the vendor runtimes, and not every one does that safely
 * from two threads: PoCL 3.1 answers CL_DEVICE_NOT_FOUND to the second
 * of two concurrent first calls. The lock is the plugin's only
 * process-wide state; it guards the driver, not data of the plugin. */
static pthread_mutex_t g_enumerate_mu = PTHREAD_MUTEX_INITIALIZER;

static xhal_status_t enumerate_locked(struct xhal_plugin_context* ctx);

xhal_status_t ocl_enumerate(struct xhal_plugin_context* ctx) {
  xhal_status_t status;
  pthread_mutex_lock(&g_enumerate_mu);
  status = enumerate_locked(ctx);
  pthread_mutex_unlock(&g_enumerate_mu);
  return status;
}

static xhal_status_t enumerate_locked(struct xhal_plugin_context* ctx) {
  cl_uint count = 0;
  cl_platform_id* platforms;
  uint32_t capacity = 0;
  cl_uint i;
  xhal_status_t status = XHAL_OK;
  cl_int err = clGetPlatformIDs(0, NULL, &count);
  /* No ICD installed (or OCL_ICD_VENDORS pointing at an empty directory)
   * is a machine without OpenCL devices, not an error. */
  if (err == OCL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && count == 0)) {
    ocl_log(ctx, XHAL_LOG_INFO, "opencl: no OpenCL platform found");
    return XHAL_OK;
  }
  if (err != CL_SUCCESS) {
    ocl_log(ctx, XHAL_LOG_WARN, "opencl: clGetPlatformIDs failed: %s",
            ocl_cl_error_name(err));
    return XHAL_OK;
  }
  platforms = calloc(count, sizeof(*platforms));
  if (platforms == NULL) return XHAL_ERROR_OUT_OF_MEMORY;
  err = clGetPlatformIDs(count, platforms, NULL);
  if (err != CL_SUCCESS) {
    free(platforms);
    ocl_log(ctx, XHAL_LOG_WARN, "opencl: clGetPlatformIDs failed: %s",
            ocl_cl_error_name(err));
    return XHAL_OK;
  }
  for (i = 0; i < count && status == XHAL_OK; ++i)
    status = add_platform(ctx, platforms[i], &capacity);
  free(platforms);
  return status;
}

/* --------------------------------------------------------------- tiles */

/* Tile candidates, best first, per device class and variant.
 *
 * GPUs: large tiles are the classic 128x128 with an 8x8 block per
 * work-item (256 work-items, 16.5 KiB of local memory), the fastest for
 * big products (about 31 TFLOP/s on an H100 at 4096^3). A 1024^3 product
 * makes only 64 such tiles, too few for 132 compute units; there 64x64
 * tiles with TSK 32 and a 4x4 block measured fastest (about 20 TFLOP/s,
 * above CLBlast's SGEMM on the same device).
 *
 * CPU implementations such as PoCL run a work-group as loops over its
 * work-items and vectorise across dimension 0, where a 16x16 block per
 * work-item measured fastest (about 1.4x CLBlast's SGEMM on PoCL).
 *
 * The smaller entries are fallbacks for devices with little local memory
 * or small work-groups, and for kernels whose register use limits their
 * work-group below what their tiles need. */
#define OCL_TILE_CANDIDATES 6
static const ocl_tiles_t kTiles[2][2][OCL_TILE_CANDIDATES] = {
    /* GPUs and other devices */
    {{{128, 128, 16, 8, 8},
      {64, 64, 16, 4, 4},
      {32, 32, 16, 4, 4},
      {16, 16, 16, 2, 2},
      {8, 8, 8, 1, 1},
      {4, 4, 4, 1, 1}},
     {{64, 64, 32, 4, 4},
      {32, 32, 16, 4, 4},
      {16, 16, 16, 2, 2},
      {8, 8, 8, 1, 1},
      {4, 4, 4, 1, 1},
      {4, 4, 4, 1, 1}}},
    /* CPUs */
    {{{128, 128, 16, 16, 16},
      {64, 64, 16, 8, 8},
      {32, 32, 16, 4, 4},
      {16, 16, 16, 2, 2},
      {8, 8, 8, 1, 1},
      {4, 4, 4, 1, 1}},
     {{64, 64, 16, 8, 8},
      {32, 32, 16, 4, 4},
      {16, 16, 16, 2, 2},
      {8, 8, 8, 1, 1},
      {4, 4, 4, 1, 1},
      {4, 4, 4, 1, 1}}},
};

int ocl_tiles_fit(const ocl_device_info_t* info, const ocl_tiles_t* t) {
  uint64_t rtsm = t->tsm / t->wptm;
  uint64_t rtsn = t->tsn / t->wptn;
  /* Two slabs of TSK rows, each padded by one column, 4-byte elements. */
  uint64_t local = 4ull * t->tsk * (t->tsm + 1 + t->tsn + 1);
  if (rtsm * rtsn > info->max_wg) return 0;
  if (rtsn > info->max_item[0] || rtsm > info->max_item[1]) return 0;
  /* Keep a little local memory for what the compiler adds. */
  if (info->local_mem != 0 && local + 1024 > info->local_mem) return 0;
  return 1;
}

/* Parses "TSM,TSN,TSK,WPTM,WPTN" (XHAL_OPENCL_GEMM_TILES): powers of two
 * with the per-work-item blocks dividing the tile. All zero if invalid. */
ocl_tiles_t ocl_tiles_parse(const char* text) {
  ocl_tiles_t none = {0, 0, 0, 0, 0};
  ocl_tiles_t t;
  uint32_t v[5];
  const char* p = text;
  int i;
  for (i = 0; i < 5; ++i) {
    char* end = NULL;
    unsigned long x = strtoul(p, &end, 10);
    if (end == p || x == 0 || x > 256 || (x & (x - 1)) != 0) return none;
    v[i] = (uint32_t)x;
    if (i < 4 && *end != ',') return none;
    if (i == 4 && *end != '\0') return none;
    p = end + 1;
  }
  t.tsm = v[0];
  t.tsn = v[1];
  t.tsk = v[2];
  t.wptm = v[3];
  t.wptn = v[4];
  if (t.wptm > t.tsm || t.wptn > t.tsn) return none;
  return t;
}

/* `preferred` first when it fits, then the candidates that fit. */
ocl_tiles_t ocl_tiles_for(const ocl_device_info_t* info,
                          const ocl_tiles_t* preferred, uint32_t variant,
                          uint32_t rank) {
  const ocl_tiles_t* list =
      kTiles[(info->type & CL_DEVICE_TYPE_CPU) ? 1 : 0][variant ? 1 : 0];
  ocl_tiles_t none = {0, 0, 0, 0, 0};
  uint32_t i;
  if (preferred != NULL && preferred->tsm != 0 &&
      ocl_tiles_fit(info, preferred)) {
    if (rank == 0) return *preferred;
    --rank;
  }
  for (i = 0; i < OCL_TILE_CANDIDATES; ++i) {
    if (!ocl_tiles_fit(info, &list[i])) continue;
    if (rank == 0) return list[i];
    --rank;
  }
  return none;
}
