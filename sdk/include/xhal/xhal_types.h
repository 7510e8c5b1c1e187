/**
 * @file
 * xhal_types.h - types shared by the framework API (xhal.h) and the plugin
 * ABI (xhal_plugin.h): status codes, data types, device kinds and
 * capabilities, the operator catalog ids, operator attributes, the device
 * properties record and the kernel-launch geometry.
 *
 * Everything here crosses the plugin ABI, so it follows the ABI rules of
 * docs/abi.md: enums are carried as fixed-width integers, structs start with
 * `uint32_t struct_size`, no bool/long/size_t/bit-fields, and layout is
 * pinned by _Static_asserts at the end of this file. Values of existing enums
 * never change; new values are only appended.
 */
#ifndef XHAL_TYPES_H_
#define XHAL_TYPES_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a function whose status must not be ignored. */
#if defined(__GNUC__) || defined(__clang__)
#define XHAL_MUST_USE __attribute__((warn_unused_result))
#else
#define XHAL_MUST_USE
#endif

/** ABI version spoken by these headers. A plugin and the host must agree on
 * the major version; a minor version only appends to tables and structs. */
#define XHAL_ABI_VERSION_MAJOR 1u
/** ABI minor version of these headers. */
#define XHAL_ABI_VERSION_MINOR 4u

/* ---------------------------------------------------------------- status */

/** Every fallible call returns one of these. Values are stable. */
typedef int32_t xhal_status_t;
enum {
  XHAL_OK = 0,
  /** An argument is NULL, zero where zero is not allowed, or malformed. */
  XHAL_ERROR_INVALID_ARGUMENT = 1,
  /** A handle is NULL, already released, or of the wrong kind. */
  XHAL_ERROR_INVALID_HANDLE = 2,
  /** An offset+size lies outside a buffer, or a size exceeds a limit. */
  XHAL_ERROR_OUT_OF_RANGE = 3,
  /** The device or the host has no memory left for the request. */
  XHAL_ERROR_OUT_OF_MEMORY = 4,
  /** The device or plugin does not implement this (NULL table entry,
   * missing capability, unsupported shape or dtype for an implementation). */
  XHAL_ERROR_UNSUPPORTED = 5,
  /** A plugin speaks an ABI major version different from the host's. */
  XHAL_ERROR_ABI_MISMATCH = 6,
  /** A plugin file could not be loaded or is not a valid plugin. */
  XHAL_ERROR_PLUGIN_LOAD = 7,
  /** A lookup found nothing: no implementation, no kernel of that name. */
  XHAL_ERROR_NOT_FOUND = 8,
  /** Tensor dtypes do not match the operator's signature. */
  XHAL_ERROR_DTYPE_MISMATCH = 9,
  /** Tensor shapes do not match the operator's rules. */
  XHAL_ERROR_SHAPE_MISMATCH = 10,
  /** A host wait ran past its timeout; the work goes on. */
  XHAL_ERROR_TIMEOUT = 11,
  /** The queried work has not completed yet (event query). */
  XHAL_ERROR_NOT_READY = 12,
  /** The call is valid but not in the object's current state (an event
   * waited on before it was ever recorded, a buffer unmapped twice). */
  XHAL_ERROR_INVALID_STATE = 13,
  /** Work on the device failed: a kernel faulted, a DMA failed. Carried by
   * the event and every later operation of the stream. */
  XHAL_ERROR_EXECUTION_FAILED = 14,
  /** The device is gone (reset, removed, hung); nothing more runs on it. */
  XHAL_ERROR_DEVICE_LOST = 15,
  /** A program failed to compile; the build log says why. */
  XHAL_ERROR_BUILD_FAILED = 16,
  /** A bug inside xhal or a plugin broke an invariant. */
  XHAL_ERROR_INTERNAL = 17,
  /** Validation layer: the call breaks an ordering or lifetime rule. */
  XHAL_ERROR_VALIDATION = 18,
};
/** Number of status values defined by this ABI version. */
#define XHAL_STATUS_COUNT 19

/* ------------------------------------------------------------ data types */

/** Element type of a tensor (XHAL_DTYPE_*). */
typedef uint32_t xhal_dtype_t;
enum {
  XHAL_DTYPE_INVALID = 0,
  XHAL_DTYPE_F32 = 1,
  XHAL_DTYPE_F16 = 2, /**< IEEE 754 binary16, stored as uint16_t */
  XHAL_DTYPE_I8 = 3,
  XHAL_DTYPE_I32 = 4,
};
/** Number of dtype values defined by this ABI version. */
#define XHAL_DTYPE_COUNT 5
/** Bit for a dtype in a dtype mask (device properties). */
#define XHAL_DTYPE_BIT(dt) (1u << (dt))

/* ----------------------------------------------------------- device kind */

/** What kind of device (XHAL_DEVICE_KIND_*). */
typedef uint32_t xhal_device_kind_t;
enum {
  XHAL_DEVICE_KIND_OTHER = 0,
  XHAL_DEVICE_KIND_CPU = 1,
  XHAL_DEVICE_KIND_GPU = 2,
  XHAL_DEVICE_KIND_NPU = 3,
};

/** Device capability bits (xhal_device_properties_t.capabilities). */
enum {
  /** Buffers allocated with XHAL_MEMORY_HOST_VISIBLE can be mapped. */
  XHAL_CAP_HOST_VISIBLE_MEMORY = 1u << 0,
  /** Events carry device timestamps: xhal_event_elapsed works. */
  XHAL_CAP_PROFILING = 1u << 1,
  /** Programs can be built from OpenCL C source. */
  XHAL_CAP_KERNEL_LANG_OPENCL_C = 1u << 2,
  /** A copy between two devices of the same plugin runs without host
   * staging. */
  XHAL_CAP_PEER_COPY = 1u << 3,
  /** Host functions run asynchronously in stream order (enqueue_host_func);
   * without it the HAL runs them synchronously. */
  XHAL_CAP_HOST_FUNC = 1u << 4,
  /** stream_create accepts XHAL_STREAM_NO_TIMING and then leaves out the
   * per-command timestamps that event_elapsed needs. */
  XHAL_CAP_STREAM_NO_TIMING = 1u << 5,
  /** The plugin allocates host memory for the device (host_alloc, ABI 1.2):
   * memory its transfers use directly, page-locked on a discrete GPU, so
   * writes and reads from it skip the driver's staging. Without the bit,
   * xhal_host_alloc returns ordinary aligned host memory. */
  XHAL_CAP_HOST_ALLOC = 1u << 6,
  /** Programs can be built from CUDA C++ source (ABI 1.3; the CUDA
   * plugin, through NVRTC). Kernels are found by their unmangled name,
   * so they are declared extern "C". */
  XHAL_CAP_KERNEL_LANG_CUDA_C = 1u << 7,
};

/** Stream creation flags (xhal_stream_create_with_flags; the plugin's
 * stream_create). A plugin receives XHAL_STREAM_NO_TIMING only from a
 * device claiming XHAL_CAP_STREAM_NO_TIMING, and rejects every other bit
 * it does not know with XHAL_ERROR_INVALID_ARGUMENT. */
enum {
  /** Events recorded on the stream need no timestamps: the device may skip
   * them (OpenCL: a queue without CL_QUEUE_PROFILING_ENABLE), and
   * xhal_event_elapsed on such an event returns XHAL_ERROR_UNSUPPORTED. */
  XHAL_STREAM_NO_TIMING = 1u << 0,
};
/** Every XHAL_STREAM_* bit this ABI version defines. */
#define XHAL_STREAM_FLAGS_ALL (XHAL_STREAM_NO_TIMING)

/** Buffer allocation flags. */
enum {
  XHAL_MEMORY_DEVICE_LOCAL = 1u << 0,
  XHAL_MEMORY_HOST_VISIBLE = 1u << 1,
  XHAL_MEMORY_HOST_CACHED = 1u << 2,
};
/** Every XHAL_MEMORY_* bit this ABI version defines. */
#define XHAL_MEMORY_FLAGS_ALL                            \
  (XHAL_MEMORY_DEVICE_LOCAL | XHAL_MEMORY_HOST_VISIBLE | \
   XHAL_MEMORY_HOST_CACHED)

/** Map flags. */
enum {
  XHAL_MAP_READ = 1u << 0,
  XHAL_MAP_WRITE = 1u << 1,
};

/** Kernel languages for program builds. */
typedef uint32_t xhal_kernel_language_t;
enum {
  XHAL_KERNEL_LANGUAGE_NONE = 0,
  XHAL_KERNEL_LANGUAGE_OPENCL_C = 1,
  XHAL_KERNEL_LANGUAGE_CUDA_C = 2, /**< ABI 1.3 */
};

/** Log levels for the host log service and XHAL_LOG. */
typedef uint32_t xhal_log_level_t;
enum {
  XHAL_LOG_ERROR = 0,
  XHAL_LOG_WARN = 1,
  XHAL_LOG_INFO = 2,
  XHAL_LOG_DEBUG = 3,
};

/* ---------------------------------------------------- device properties */

/** Size of a name array, NUL included. */
#define XHAL_NAME_MAX 128
/** Bytes of a device UUID. */
#define XHAL_UUID_SIZE 16

/** What a device is and can do. Filled by the plugin, read by frameworks.
 * Strings are NUL-terminated within their arrays. */
typedef struct xhal_device_properties {
  uint32_t struct_size;       /**< the reader's record size (see docs/abi.md) */
  xhal_device_kind_t kind;    /**< XHAL_DEVICE_KIND_* */
  char name[XHAL_NAME_MAX];   /**< device name */
  char vendor[XHAL_NAME_MAX]; /**< vendor name */
  char driver_version[XHAL_NAME_MAX]; /**< driver or plugin version */
  /** Stable across processes for the same physical device. */
  uint8_t uuid[XHAL_UUID_SIZE];
  uint64_t memory_bytes;    /**< total device memory */
  uint64_t max_alloc_bytes; /**< largest single buffer */
  uint64_t alignment;       /**< base alignment of every buffer, power of 2 */
  uint64_t local_memory_bytes;  /**< per work-group scratch, 0 if none */
  uint32_t compute_units;       /**< parallel compute units */
  uint32_t dtypes;              /**< mask of XHAL_DTYPE_BIT(dt) */
  uint32_t capabilities;        /**< mask of XHAL_CAP_* */
  uint32_t max_work_group_size; /**< 0 when the device has no kernel language */
  /** Nanoseconds per device timer tick as a rational (1/1 for ns timers). */
  uint32_t timer_numerator;
  uint32_t timer_denominator; /**< see timer_numerator */
} xhal_device_properties_t;

/* ------------------------------------------------------ operator catalog */

/** Operator ids. Semantics, shapes, dtypes and tolerances: docs/ops.md. */
typedef uint32_t xhal_op_t;
enum {
  XHAL_OP_INVALID = 0,
  /** Elementwise binary with numpy broadcasting: out = f(in0, in1). */
  XHAL_OP_ADD = 1,
  XHAL_OP_SUB = 2,
  XHAL_OP_MUL = 3,
  XHAL_OP_DIV = 4,
  XHAL_OP_MAX = 5,
  XHAL_OP_MIN = 6,
  /** Elementwise unary: out = f(in0). */
  XHAL_OP_RELU = 16,
  XHAL_OP_GELU = 17,
  XHAL_OP_SIGMOID = 18,
  XHAL_OP_TANH = 19,
  XHAL_OP_EXP = 20,
  /** out = alpha * op(A) @ op(B) + beta * out + bias. */
  XHAL_OP_MATMUL = 32,
  /** NCHW convolution with stride, padding, dilation, groups, bias. */
  XHAL_OP_CONV2D = 33,
  XHAL_OP_SOFTMAX = 48,
  XHAL_OP_LAYER_NORM = 49,
  XHAL_OP_REDUCE_SUM = 64,
  XHAL_OP_REDUCE_MAX = 65,
  XHAL_OP_TRANSPOSE = 80,
  XHAL_OP_CAST = 81,
};
/** Ids at or above this value are free for frameworks' own operators. */
#define XHAL_OP_CUSTOM_BASE 0x10000u

/** Highest tensor rank. */
#define XHAL_MAX_RANK 8
/** Most inputs of an operator call. */
#define XHAL_MAX_OP_INPUTS 4
/** Most outputs of an operator call. */
#define XHAL_MAX_OP_OUTPUTS 1

/** Shape and dtype of one tensor: dense, row-major (last dim contiguous). */
typedef struct xhal_tensor_desc {
  xhal_dtype_t dtype;           /**< element type */
  uint32_t rank;                /**< 0 = scalar (one element) */
  uint64_t dims[XHAL_MAX_RANK]; /**< sizes of the first rank dimensions */
} xhal_tensor_desc_t;

/** Attributes of an operator call. Each operator reads only the fields
 * docs/ops.md lists for it; start from xhal_op_attrs_default(). */
typedef struct xhal_op_attrs {
  uint32_t struct_size; /**< set by xhal_op_attrs_default */
  int32_t axis;         /**< softmax, reduce: axis, negative counts back */
  uint32_t transpose_a; /**< matmul: 0 or 1 */
  uint32_t transpose_b; /**< matmul: 0 or 1 */
  float alpha;          /**< matmul scale of the product (default 1) */
  float beta;           /**< matmul scale of the prior output (default 0) */
  float epsilon;        /**< layer_norm (default 1e-5) */
  uint32_t stride[2];   /**< conv2d (h, w), default 1 */
  uint32_t padding[2];  /**< conv2d (h, w), symmetric, default 0 */
  uint32_t dilation[2]; /**< conv2d (h, w), default 1 */
  uint32_t groups;      /**< conv2d, default 1 */
  uint32_t perm[XHAL_MAX_RANK]; /**< transpose: out dim i = in dim perm[i] */
} xhal_op_attrs_t;

/** Fills `attrs` with every operator's defaults. */
static inline void xhal_op_attrs_default(xhal_op_attrs_t* attrs) {
  uint32_t i;
  attrs->struct_size = (uint32_t)sizeof(*attrs);
  attrs->axis = -1;
  attrs->transpose_a = 0;
  attrs->transpose_b = 0;
  attrs->alpha = 1.0f;
  attrs->beta = 0.0f;
  attrs->epsilon = 1e-5f;
  for (i = 0; i < 2; ++i) {
    attrs->stride[i] = 1;
    attrs->padding[i] = 0;
    attrs->dilation[i] = 1;
  }
  attrs->groups = 1;
  for (i = 0; i < XHAL_MAX_RANK; ++i) attrs->perm[i] = i;
}

/* ------------------------------------------------ implementation limits */

/** Broadcast classes of an elementwise binary call (add, sub, mul, div,
 * max, min), for xhal_op_limits_t.broadcasts. O is the output's shape; S
 * is the operand with fewer elements (either input), padded with leading
 * 1s to O's rank. A call is in exactly one class, the first that fits. */
enum {
  XHAL_BROADCAST_SAME = 1u << 0,   /**< both inputs have O's elements */
  XHAL_BROADCAST_SCALAR = 1u << 1, /**< S has one element */
  /** S is a trailing block of O: its leading dims are 1 and the rest equal
   * O's (a bias row added to every row). */
  XHAL_BROADCAST_ROW = 1u << 2,
  /** One value per row: S equals O with the last dim set to 1. */
  XHAL_BROADCAST_COLUMN = 1u << 3,
  /** Any other broadcast the catalog allows (both inputs broadcast, or a
   * size-1 dim in the middle). */
  XHAL_BROADCAST_GENERAL = 1u << 4,
};
/** Every XHAL_BROADCAST_* class. */
#define XHAL_BROADCAST_ALL                                            \
  (XHAL_BROADCAST_SAME | XHAL_BROADCAST_SCALAR | XHAL_BROADCAST_ROW | \
   XHAL_BROADCAST_COLUMN | XHAL_BROADCAST_GENERAL)

/** Axis classes of softmax, reduce_sum and reduce_max, for
 * xhal_op_limits_t.axes. */
enum {
  /** Every dim after the axis is 1: the axis is the innermost one that
   * holds more than one element, so its elements are contiguous. */
  XHAL_AXIS_INNERMOST = 1u << 0,
  /** A dim after the axis is larger than 1 (a strided axis). */
  XHAL_AXIS_OUTER = 1u << 1,
};
/** Every XHAL_AXIS_* class. */
#define XHAL_AXIS_ALL (XHAL_AXIS_INNERMOST | XHAL_AXIS_OUTER)

/** Which fields of xhal_op_limits_t restrict an implementation. */
enum {
  XHAL_OP_LIMIT_BROADCASTS = 1u << 0, /**< broadcasts */
  XHAL_OP_LIMIT_AXES = 1u << 1,       /**< axes */
  XHAL_OP_LIMIT_RANK = 1u << 2,       /**< max_rank */
  XHAL_OP_LIMIT_DIM = 1u << 3,        /**< max_dim */
  XHAL_OP_LIMIT_ROW = 1u << 4,        /**< max_row */
  /** supports() refuses some calls for reasons the fields do not describe
   * (on-chip memory, descriptor widths): the limits are necessary, not
   * sufficient, and only xhal_registry_lookup answers for one call. */
  XHAL_OP_LIMIT_PARTIAL = 1u << 15,
};
/** Every XHAL_OP_LIMIT_* bit. */
#define XHAL_OP_LIMIT_FLAGS_ALL                                         \
  (XHAL_OP_LIMIT_BROADCASTS | XHAL_OP_LIMIT_AXES | XHAL_OP_LIMIT_RANK | \
   XHAL_OP_LIMIT_DIM | XHAL_OP_LIMIT_ROW | XHAL_OP_LIMIT_PARTIAL)

/** What an operator implementation takes beyond its dtype signature, in a
 * form a framework can read before it builds a call (ABI 1.4). A field
 * counts only when its bit is set in `flags`; flags 0 means the
 * implementation takes every call of its signature that the catalog
 * allows. The contract (docs/abi.md, R-KRN-9): a call outside a declared
 * limit is refused by the implementation's supports(), and a call inside
 * every declared limit is taken unless XHAL_OP_LIMIT_PARTIAL is set. */
typedef struct xhal_op_limits {
  uint32_t struct_size; /**< sizeof the record */
  uint32_t flags;       /**< XHAL_OP_LIMIT_* */
  uint32_t broadcasts;  /**< elementwise binary: XHAL_BROADCAST_* taken */
  uint32_t axes;        /**< softmax, reduce: XHAL_AXIS_* taken */
  uint32_t max_rank;    /**< largest rank of any operand */
  uint32_t reserved;    /**< 0 */
  uint64_t max_dim;     /**< largest dimension of any operand */
  /** Largest row: the length of the axis softmax, layer_norm or a reduce
   * works along; for a ROW broadcast the elements of S, for a COLUMN
   * broadcast O's last dim (SAME and SCALAR calls have no row). */
  uint64_t max_row;
} xhal_op_limits_t;

/** Bytes per element of a dtype, 0 for an unknown dtype. */
static inline uint32_t xhal_dtype_size(xhal_dtype_t dtype) {
  switch (dtype) {
    case XHAL_DTYPE_F32:
    case XHAL_DTYPE_I32:
      return 4;
    case XHAL_DTYPE_F16:
      return 2;
    case XHAL_DTYPE_I8:
      return 1;
    default:
      return 0;
  }
}

/* -------------------------------------------------------- kernel launches */

/** Kind of one kernel argument (xhal_kernel_arg_t in the framework API,
 * xhal_plugin_kernel_arg_t in the plugin ABI). */
typedef uint32_t xhal_kernel_arg_kind_t;
enum {
  XHAL_KERNEL_ARG_BUFFER = 1, /**< a buffer range */
  XHAL_KERNEL_ARG_SCALAR = 2, /**< `size` bytes at `value` */
  XHAL_KERNEL_ARG_LOCAL = 3,  /**< `size` bytes of work-group local memory */
};

/** Launch geometry: an N-D range of work items split into work-groups. */
typedef struct xhal_launch {
  uint32_t struct_size;    /**< sizeof the caller's record */
  uint32_t work_dim;       /**< 1..3 */
  uint64_t global_size[3]; /**< work items per dimension, each > 0 */
  uint64_t local_size[3];  /**< all 0: the device chooses */
} xhal_launch_t;

/** A host function run in stream order (xhal_stream_enqueue_host_func; the
 * plugin's enqueue_host_func). */
typedef xhal_status_t (*xhal_host_func_t)(void* user_data);

/* ----------------------------------------------------------- ABI pinning */

_Static_assert(sizeof(xhal_status_t) == 4, "status is 32-bit");
_Static_assert(sizeof(xhal_tensor_desc_t) == 72, "tensor desc layout");
_Static_assert(sizeof(xhal_op_attrs_t) == 88, "op attrs layout");
_Static_assert(sizeof(xhal_op_limits_t) == 40, "op limits layout");
_Static_assert(sizeof(xhal_device_properties_t) == 464,
               "device properties layout");
_Static_assert(sizeof(xhal_launch_t) == 56, "launch layout");

#ifdef __cplusplus
}
#endif

#endif /* XHAL_TYPES_H_ */
