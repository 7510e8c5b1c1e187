/*
 * npusim.h - a functional and cycle-approximate model of a small neural
 * processing unit (NPU), and the hardware interface a driver programs.
 *
 * The model is a device with its own memory: device DRAM, an on-chip
 * scratchpad SRAM, a DMA engine, a systolic array of R x C MAC units, a
 * vector unit with a number of lanes, and a register file. Software talks
 * to it only the way a driver talks to silicon:
 *   - 64-bit MMIO registers (npusim_reg_read / npusim_reg_write);
 *   - a host aperture onto device DRAM, like a PCIe BAR
 *     (npusim_aperture_write / npusim_aperture_read), through which the
 *     driver writes command descriptors into the command ring;
 *   - host memory windows the device may DMA to and from, like IOMMU
 *     mappings (npusim_host_map / npusim_host_unmap);
 *   - an interrupt line (npusim_set_irq_handler).
 * A device thread plays the firmware: it fetches 64-byte commands from the
 * ring in DRAM, checks every address against DRAM, scratchpad and the
 * registered host windows, executes the command functionally and charges
 * it cycles on the DMA or compute timeline. docs/npu.md documents the
 * register map, the command format and the timing formulas.
 *
 * Lifetime: npusim_create starts the device thread; npusim_destroy stops it
 * and frees the model. Thread-safety: every function may be called from any
 * thread; the IRQ handler runs on the device thread and must not call
 * npusim_destroy.
 *
 * This header depends on nothing but the C library: the model is
 * independent of xhal.
 */
#ifndef NPUSIM_NPUSIM_H_
#define NPUSIM_NPUSIM_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------- API status codes */

/* Returned by the host-side API (not by commands: those report through the
 * ERROR_CODE register). */
enum {
  NPUSIM_OK = 0,
  NPUSIM_E_INVAL = 1,  /* bad argument */
  NPUSIM_E_NOMEM = 2,  /* host allocation failed */
  NPUSIM_E_RANGE = 3,  /* address or size outside the target memory */
  NPUSIM_E_NOSPC = 4,  /* no free host window slot */
  NPUSIM_E_IO = 5,     /* config file unreadable */
  NPUSIM_E_PARSE = 6,  /* config file malformed */
  NPUSIM_E_THREAD = 7, /* the device thread could not start */
};

/* ----------------------------------------------------------------- config */

enum {
  NPUSIM_DATAFLOW_OS = 1, /* output stationary */
  NPUSIM_DATAFLOW_WS = 2, /* weight stationary */
};

/* Every figure of the model. Start from npusim_config_default(); the
 * config file format (key = value) is in docs/npu.md. */
typedef struct npusim_config {
  uint32_t rows;       /* systolic array rows (R) */
  uint32_t cols;       /* systolic array columns (C) */
  uint32_t dataflow;   /* NPUSIM_DATAFLOW_*, default for GEMMs */
  uint32_t clock_mhz;  /* core clock, for simulated time */
  uint64_t dram_bytes; /* device DRAM size */
  uint64_t spad_bytes; /* on-chip scratchpad size */
  uint32_t dma_bytes_per_cycle;
  uint32_t dma_latency_cycles; /* fixed cost of each DMA command */
  uint32_t vector_lanes;
  uint32_t vector_latency_cycles; /* pipeline fill of each vector command */
  /* Fault injection; 0 disables each. Counting starts at 1. */
  uint64_t fault_dma_error_at;   /* the Nth DMA command fails */
  uint64_t fault_hang_at;        /* the Nth command never completes */
  uint64_t fault_device_lost_at; /* the device is lost at the Nth command */
} npusim_config_t;

void npusim_config_default(npusim_config_t* config);

/* Called for a key the model does not know; return 0 to accept it (the
 * driver keeps its own keys in the same file), nonzero to reject it. */
typedef int (*npusim_config_unknown_fn)(void* user, const char* key,
                                        const char* value);

/* Parses a key = value text (see docs/npu.md) into `config`, on top of
 * what it holds. `err` (may be NULL) receives a message naming the line.
 * Returns NPUSIM_OK, NPUSIM_E_PARSE or NPUSIM_E_INVAL. */
int npusim_config_parse(npusim_config_t* config, const char* text,
                        npusim_config_unknown_fn unknown, void* user, char* err,
                        size_t err_size);
/* Reads and parses a config file; NPUSIM_E_IO if it cannot be read. */
int npusim_config_load(npusim_config_t* config, const char* path,
                       npusim_config_unknown_fn unknown, void* user, char* err,
                       size_t err_size);
/* Checks the figures (nonzero sizes, array at most 4096 x 4096, ...). */
int npusim_config_validate(const npusim_config_t* config, char* err,
                           size_t err_size);

/* ---------------------------------------------------------- register map */

/* Register offsets (all registers are 64-bit). RO: read-only, WO:
 * write-only, RW: read-write, W1C: write 1 to clear. */
enum {
  NPUSIM_REG_ID = 0x000,         /* RO: NPUSIM_ID */
  NPUSIM_REG_VERSION = 0x008,    /* RO: major << 16 | minor */
  NPUSIM_REG_CONTROL = 0x010,    /* WO: NPUSIM_CTRL_* */
  NPUSIM_REG_STATUS = 0x018,     /* RO: NPUSIM_STATUS_* */
  NPUSIM_REG_RING_BASE = 0x020,  /* RW: DRAM address, 64-byte aligned */
  NPUSIM_REG_RING_SIZE = 0x028,  /* RW: entries, power of two */
  NPUSIM_REG_RING_HEAD = 0x030,  /* RO: commands consumed (monotonic) */
  NPUSIM_REG_DOORBELL = 0x038,   /* RW: ring tail (commands written) */
  NPUSIM_REG_FENCE = 0x040,      /* RO: last completed fence value */
  NPUSIM_REG_ERROR_CODE = 0x048, /* RO: NPUSIM_ERR_* of the fault */
  NPUSIM_REG_ERROR_CMD = 0x050,  /* RO: ring index of the faulting cmd */
  NPUSIM_REG_ERROR_ADDR = 0x058, /* RO: address that faulted, if any */
  NPUSIM_REG_IRQ_STATUS = 0x060, /* W1C: NPUSIM_IRQ_* */
  NPUSIM_REG_IRQ_ENABLE = 0x068, /* RW: NPUSIM_IRQ_* mask */
  NPUSIM_REG_HOST_SEM = 0x070,   /* RW: host semaphore (WAIT_HOST) */
  NPUSIM_REG_CYCLES = 0x078,     /* RO: device time in cycles */
  /* Capability registers (RO). */
  NPUSIM_REG_CAP_ROWS = 0x100,
  NPUSIM_REG_CAP_COLS = 0x108,
  NPUSIM_REG_CAP_CLOCK_MHZ = 0x110,
  NPUSIM_REG_CAP_DRAM_BYTES = 0x118,
  NPUSIM_REG_CAP_SPAD_BYTES = 0x120,
  NPUSIM_REG_CAP_VECTOR_LANES = 0x128,
  NPUSIM_REG_CAP_DMA_BPC = 0x130,
  NPUSIM_REG_CAP_DATAFLOW = 0x138,
  /* Performance counters (RO), in cycles unless named otherwise. */
  NPUSIM_REG_CNT_TOTAL = 0x200,     /* device time: max over timelines */
  NPUSIM_REG_CNT_COMPUTE = 0x208,   /* busy cycles of array + vector */
  NPUSIM_REG_CNT_GEMM = 0x210,      /* busy cycles of the array */
  NPUSIM_REG_CNT_VECTOR = 0x218,    /* busy cycles of the vector unit */
  NPUSIM_REG_CNT_DMA = 0x220,       /* busy cycles of the DMA engine */
  NPUSIM_REG_CNT_STALL = 0x228,     /* compute idle waiting on DMA */
  NPUSIM_REG_CNT_MACS = 0x230,      /* useful multiply-accumulates */
  NPUSIM_REG_CNT_H2D_BYTES = 0x238, /* host -> DRAM/scratchpad */
  NPUSIM_REG_CNT_D2H_BYTES = 0x240, /* DRAM/scratchpad -> host */
  NPUSIM_REG_CNT_DRAM_TO_SPAD_BYTES = 0x248,
  NPUSIM_REG_CNT_SPAD_TO_DRAM_BYTES = 0x250,
  NPUSIM_REG_CNT_LOCAL_BYTES = 0x258, /* DRAM->DRAM, spad->spad, fills */
  NPUSIM_REG_CNT_COMMANDS = 0x260,
  NPUSIM_REG_CNT_FAULTS = 0x268,
  NPUSIM_REG_END = 0x270,
};

#define NPUSIM_ID 0x4E50553053494DULL /* "NPU0SIM" */
#define NPUSIM_VERSION_MAJOR 1u
#define NPUSIM_VERSION_MINOR 0u
/* A lost device answers every register read with all ones, as a device
 * that fell off the bus does. */
#define NPUSIM_REG_DEAD UINT64_MAX

/* CONTROL bits. */
enum {
  NPUSIM_CTRL_ENABLE = 1u << 0, /* start fetching from the ring */
  NPUSIM_CTRL_RESUME = 1u << 1, /* after a fault: skip the faulting cmd */
  NPUSIM_CTRL_ABORT = 1u << 2,  /* fault the running command (watchdog) */
  NPUSIM_CTRL_RESET_COUNTERS = 1u << 3,
};

/* STATUS values. */
enum {
  NPUSIM_STATUS_DISABLED = 0,
  NPUSIM_STATUS_IDLE = 1,      /* ring empty */
  NPUSIM_STATUS_BUSY = 2,      /* executing */
  NPUSIM_STATUS_WAIT_HOST = 3, /* blocked on the host semaphore */
  NPUSIM_STATUS_HALTED = 4,    /* faulted; waits for RESUME */
};

/* IRQ bits. */
enum {
  NPUSIM_IRQ_FENCE = 1u << 0, /* a fence with the IRQ flag completed */
  NPUSIM_IRQ_FAULT = 1u << 1, /* a command faulted; the device halted */
  NPUSIM_IRQ_WAIT = 1u << 2,  /* the device blocked on the host sem */
  NPUSIM_IRQ_LOST = 1u << 3,  /* the device is gone */
};

/* ERROR_CODE values. */
enum {
  NPUSIM_ERR_NONE = 0,
  NPUSIM_ERR_BAD_OPCODE = 1,
  NPUSIM_ERR_BAD_ARG = 2,    /* malformed field (dtype, shape, flag) */
  NPUSIM_ERR_DRAM_RANGE = 3, /* address outside DRAM */
  NPUSIM_ERR_SPAD_RANGE = 4, /* address outside the scratchpad */
  NPUSIM_ERR_HOST_RANGE = 5, /* host address outside every window */
  NPUSIM_ERR_DMA_FAULT = 6,  /* DMA transfer error (injected) */
  NPUSIM_ERR_ABORTED = 7,    /* aborted by CONTROL.ABORT */
  NPUSIM_ERR_RING = 8,       /* ring base/size invalid */
  NPUSIM_ERR_OVERLAP = 9,    /* output overlaps an input */
};

/* ---------------------------------------------------------- command ring */

/* Opcodes. */
enum {
  NPUSIM_OP_NOP = 0,
  NPUSIM_OP_DMA = 1,
  NPUSIM_OP_FILL = 2,
  NPUSIM_OP_GEMM = 3,
  NPUSIM_OP_VECTOR = 4,
  NPUSIM_OP_FENCE = 5,
  NPUSIM_OP_BARRIER = 6,
  NPUSIM_OP_WAIT_HOST = 7,
};

/* Address spaces of DMA endpoints. */
enum {
  NPUSIM_SPACE_DRAM = 0,
  NPUSIM_SPACE_SPAD = 1,
  NPUSIM_SPACE_HOST = 2, /* an I/O virtual address of a host window */
};

/* Element types. */
enum {
  NPUSIM_DT_F32 = 0,
  NPUSIM_DT_F16 = 1,
  NPUSIM_DT_I8 = 2,
  NPUSIM_DT_I32 = 3,
};

/* GEMM flags (cmd.flags). */
enum {
  NPUSIM_GEMM_ACCUMULATE = 1u << 0, /* C += A.B (else C = A.B) */
  NPUSIM_GEMM_TRANS_A = 1u << 1,    /* A is stored K x M */
  NPUSIM_GEMM_TRANS_B = 1u << 2,    /* B is stored N x K */
};

/* FENCE flags. */
enum {
  NPUSIM_FENCE_IRQ = 1u << 0,    /* raise NPUSIM_IRQ_FENCE */
  NPUSIM_FENCE_RECORD = 1u << 1, /* write {value, cycles} to a[1] */
};

/* Vector functions (cmd.func). Binary ops read src0 and src1 with the
 * broadcast mode in flags; unary ops read src0; reductions write one value
 * per row. Arithmetic is f32 (or i32, wrapping). */
enum {
  NPUSIM_VF_ADD = 1,
  NPUSIM_VF_SUB = 2,
  NPUSIM_VF_MUL = 3,
  NPUSIM_VF_DIV = 4,
  NPUSIM_VF_MAX = 5,
  NPUSIM_VF_MIN = 6,
  NPUSIM_VF_RELU = 16,
  NPUSIM_VF_GELU = 17,
  NPUSIM_VF_SIGMOID = 18,
  NPUSIM_VF_TANH = 19,
  NPUSIM_VF_EXP = 20,
  NPUSIM_VF_RSQRT = 21,
  NPUSIM_VF_COPY = 22,  /* with conversion: dtype -> a[5] dtype */
  NPUSIM_VF_AXPBY = 23, /* dst = alpha * src0 + beta * src1 */
  NPUSIM_VF_ROW_SUM = 32,
  NPUSIM_VF_ROW_MAX = 33,
};

/* Vector broadcast of src1 (flags bits 0-1) and operand swap (bit 2). */
enum {
  NPUSIM_VB_FULL = 0,   /* src1 is rows x cols like src0 */
  NPUSIM_VB_ROW = 1,    /* src1 is one row of cols, reused by every row */
  NPUSIM_VB_COL = 2,    /* src1 is one value per row */
  NPUSIM_VB_SCALAR = 3, /* src1 is the f32/i32 immediate in a[6] */
  NPUSIM_VB_MASK = 3,
  NPUSIM_VF_SWAP = 1u << 2, /* compute f(src1, src0) */
};

/* One 64-byte command descriptor, little-endian, as it lies in the ring.
 *
 *   DMA    func = src space | dst space << 4; a0 src, a1 dst,
 *          a2 = elem bytes | nx << 32, a3 = ny, a4 = src_sx | src_sy << 32,
 *          a5 = dst_sx | dst_sy << 32  (strides in bytes).
 *   FILL   func = dst space; a0 dst, a1 bytes, a2 pattern, a3 pattern size
 *          (1, 2 or 4).
 *   GEMM   dtype in; func = dataflow (0: default); a0 A, a1 B, a2 C (spad),
 *          a3 M, a4 K, a5 N. C is f32 (f32/f16 in) or i32 (i8 in).
 *   VECTOR dtype (f32 | i32 | any for COPY), func NPUSIM_VF_*; a0 src0,
 *          a1 src1, a2 dst (spad), a3 rows, a4 cols, a5 dst dtype (COPY),
 *          a6 immediate: scalar (low 32 bits) | second scalar << 32.
 *   FENCE  a0 value, a1 host window address of a 16-byte record.
 *   WAIT_HOST  a0: proceed once HOST_SEM >= a0.
 * Every command may wait on semaphores (wait mask) and signal one when it
 * completes (signal = 1 + id; 0: none): this is how the driver tells the
 * timing model which DMA a GEMM depends on (double buffering). */
typedef struct npusim_cmd {
  uint8_t opcode;
  uint8_t dtype;
  uint8_t func;
  uint8_t flags;
  uint16_t wait_mask; /* semaphores 0..15 to wait for */
  uint8_t signal;     /* 0 none, else 1 + semaphore id */
  uint8_t reserved;   /* write 0; ignored by this version */
  uint64_t a[7];
} npusim_cmd_t;
_Static_assert(sizeof(npusim_cmd_t) == 64, "command is 64 bytes");

/* The record a FENCE with NPUSIM_FENCE_RECORD writes. */
typedef struct npusim_fence_record {
  uint64_t value;
  uint64_t cycles;
} npusim_fence_record_t;

#define NPUSIM_NUM_SEMS 16

/* ------------------------------------------------------------ the device */

typedef struct npusim npusim_t;

/* Creates the device (allocates DRAM and scratchpad, starts the device
 * thread). Returns NPUSIM_E_INVAL (bad config), NPUSIM_E_NOMEM,
 * NPUSIM_E_THREAD. The caller owns *out and frees it with npusim_destroy. */
int npusim_create(const npusim_config_t* config, npusim_t** out);
/* Stops the device thread and frees everything. NULL is a no-op. */
void npusim_destroy(npusim_t* sim);
/* The figures the device was created with. */
const npusim_config_t* npusim_get_config(const npusim_t* sim);

uint64_t npusim_reg_read(npusim_t* sim, uint32_t offset);
void npusim_reg_write(npusim_t* sim, uint32_t offset, uint64_t value);

/* Host aperture onto DRAM (bounds-checked; NPUSIM_E_RANGE outside it). */
int npusim_aperture_write(npusim_t* sim, uint64_t dram_addr, const void* src,
                          uint64_t size);
int npusim_aperture_read(npusim_t* sim, uint64_t dram_addr, void* dst,
                         uint64_t size);

/* Maps `size` bytes of host memory at `host` for device DMA, returning the
 * I/O virtual address the device uses for it. Writable says whether the
 * device may write it. Returns NPUSIM_E_INVAL, NPUSIM_E_NOSPC. */
int npusim_host_map(npusim_t* sim, void* host, uint64_t size, int writable,
                    uint64_t* out_iova);
/* Removes a mapping; later DMA to it faults with NPUSIM_ERR_HOST_RANGE. */
int npusim_host_unmap(npusim_t* sim, uint64_t iova);

/* Interrupt line: called on the device thread with the IRQ bits just
 * raised (already latched in IRQ_STATUS), when enabled in IRQ_ENABLE. */
typedef void (*npusim_irq_fn)(void* user, uint64_t irq_bits);
void npusim_set_irq_handler(npusim_t* sim, npusim_irq_fn fn, void* user);

/* ----------------------------------------------------- timing and trace */

/* Compute cycles of one M x K x N GEMM on an R x C array (SCALE-Sim v2,
 * see docs/npu.md):
 *   os: ceil(M/R) * ceil(N/C) * (K + R + C - 2) - 1
 *   ws: ceil(K/R) * ceil(N/C) * (M + 2R + C - 2) - 1
 * 0 when any of M, K, N is 0. Saturates at UINT64_MAX. */
uint64_t npusim_gemm_cycles(uint32_t dataflow, uint64_t rows, uint64_t cols,
                            uint64_t m, uint64_t k, uint64_t n);

/* One executed command on a timeline (engine 0: DMA, 1: compute). */
typedef struct npusim_trace_event {
  uint64_t start;
  uint64_t cycles;
  uint32_t engine;
  uint8_t opcode;
  uint8_t func;
  uint16_t reserved;
  uint64_t bytes; /* DMA bytes, or MACs for GEMM */
} npusim_trace_event_t;

/* Starts (on != 0) or stops recording trace events; starting clears them. */
void npusim_trace_enable(npusim_t* sim, int on);
/* Writes the recorded events as Chrome trace-event JSON (timestamps in
 * microseconds of simulated time). Returns NPUSIM_OK or NPUSIM_E_IO. */
int npusim_trace_write_json(npusim_t* sim, FILE* out);

#ifdef __cplusplus
}
#endif

#endif /* NPUSIM_NPUSIM_H_ */
