/*
 * dma.c - the DMA engine: strided 2-D transfers and fills between host
 * windows, DRAM and the scratchpad.
 *
 * Every transfer is checked like an IOMMU would: the whole footprint of
 * each endpoint (its last byte included, with overflow-checked arithmetic)
 * must lie inside DRAM, the scratchpad or one registered host window, or
 * the command faults before a single byte moves. Destination strides must
 * not overlap, which also bounds the work a command can ask for by the
 * size of the memory it writes.
 */
#include <string.h>

#include "npusim_internal.h"

/* One endpoint of a transfer, resolved to host memory. */
typedef struct endpoint {
  uint8_t* base;
  uint32_t space;
} endpoint_t;

/* Footprint in bytes of ny rows of nx elements of `elem` bytes with byte
 * strides sx, sy. Returns 0 on overflow. */
static int footprint(uint64_t elem, uint64_t nx, uint64_t sx, uint64_t ny,
                     uint64_t sy, uint64_t* out) {
  uint64_t a, b, t;
  if (nx == 0 || ny == 0) {
    *out = 0;
    return 1;
  }
  return npusim_mul_ok(nx - 1, sx, &a) && npusim_mul_ok(ny - 1, sy, &b) &&
         npusim_add_ok(a, b, &t) && npusim_add_ok(t, elem, out);
}

/* Resolves [addr, addr + size) in `space`; with win_mu held for host
 * addresses. Returns NPUSIM_ERR_NONE or the range error. */
static uint32_t resolve(npusim_t* sim, uint32_t space, uint64_t addr,
                        uint64_t size, int write, uint8_t** out) {
  int i;
  switch (space) {
    case NPUSIM_SPACE_DRAM:
      if (!npusim_in_range(addr, size, sim->cfg.dram_bytes)) {
        return NPUSIM_ERR_DRAM_RANGE;
      }
      *out = sim->dram + addr;
      return NPUSIM_ERR_NONE;
    case NPUSIM_SPACE_SPAD:
      if (!npusim_in_range(addr, size, sim->cfg.spad_bytes)) {
        return NPUSIM_ERR_SPAD_RANGE;
      }
      *out = sim->spad + addr;
      return NPUSIM_ERR_NONE;
    case NPUSIM_SPACE_HOST:
      for (i = 0; i < NPUSIM_MAX_WINDOWS; ++i) {
        const host_window_t* w = &sim->windows[i];
        if (!w->used || addr < w->iova) continue;
        if (!npusim_in_range(addr - w->iova, size, w->size)) continue;
        if (write && !w->writable) return NPUSIM_ERR_HOST_RANGE;
        *out = w->host + (addr - w->iova);
        return NPUSIM_ERR_NONE;
      }
      return NPUSIM_ERR_HOST_RANGE;
    default:
      return NPUSIM_ERR_BAD_ARG;
  }
}

/* Cycles for `bytes` on the engine: latency + ceil(bytes / bandwidth). */
static uint64_t dma_cycles(const npusim_t* sim, uint64_t bytes) {
  uint64_t bw = sim->cfg.dma_bytes_per_cycle;
  return (uint64_t)sim->cfg.dma_latency_cycles + bytes / bw + (bytes % bw != 0);
}

/* Injected transfer error on the configured DMA command. */
static int injected_fault(npusim_t* sim) {
  sim->dma_seen++;
  return sim->cfg.fault_dma_error_at &&
         sim->dma_seen == sim->cfg.fault_dma_error_at;
}

static void copy_2d(uint8_t* dst, const uint8_t* src, uint64_t elem,
                    uint64_t nx, uint64_t ny, uint64_t ssx, uint64_t ssy,
                    uint64_t dsx, uint64_t dsy) {
  uint64_t y, x;
  for (y = 0; y < ny; ++y) {
    const uint8_t* s = src + y * ssy;
    uint8_t* d = dst + y * dsy;
    if (ssx == elem && dsx == elem) {
      /* Contiguous rows: the common case, one memmove per row. */
      memmove(d, s, (size_t)(nx * elem));
    } else if (elem == 4) {
      for (x = 0; x < nx; ++x) memcpy(d + x * dsx, s + x * ssx, 4);
    } else if (elem == 2) {
      for (x = 0; x < nx; ++x) memcpy(d + x * dsx, s + x * ssx, 2);
    } else {
      for (x = 0; x < nx; ++x) {
        memmove(d + x * dsx, s + x * ssx, (size_t)elem);
      }
    }
  }
}

void npusim_exec_dma(npusim_t* sim, const npusim_cmd_t* cmd,
                     npusim_exec_t* ex) {
  uint32_t src_space = cmd->func & 0xF, dst_space = cmd->func >> 4;
  uint64_t elem = cmd->a[2] & 0xFFFFFFFFu, nx = cmd->a[2] >> 32;
  uint64_t ny = cmd->a[3];
  uint64_t ssx = cmd->a[4] & 0xFFFFFFFFu, ssy = cmd->a[4] >> 32;
  uint64_t dsx = cmd->a[5] & 0xFFFFFFFFu, dsy = cmd->a[5] >> 32;
  uint64_t src_bytes, dst_bytes, row_bytes, total;
  uint8_t *src = NULL, *dst = NULL;
  int host = src_space == NPUSIM_SPACE_HOST || dst_space == NPUSIM_SPACE_HOST;
  ex->engine = ENGINE_DMA;
  ex->src_space = (int)src_space;
  ex->dst_space = (int)dst_space;
  if (src_space > NPUSIM_SPACE_HOST || dst_space > NPUSIM_SPACE_HOST ||
      elem == 0 || cmd->flags != 0) {
    ex->error = NPUSIM_ERR_BAD_ARG;
    return;
  }
  /* Destination elements and rows must not overlap. */
  if (!npusim_mul_ok(nx ? nx - 1 : 0, dsx, &row_bytes) ||
      !npusim_add_ok(row_bytes, elem, &row_bytes) || (nx > 1 && dsx < elem) ||
      (ny > 1 && dsy < row_bytes)) {
    ex->error = NPUSIM_ERR_BAD_ARG;
    return;
  }
  if (!footprint(elem, nx, ssx, ny, ssy, &src_bytes) ||
      !footprint(elem, nx, dsx, ny, dsy, &dst_bytes) ||
      !npusim_mul_ok(nx, ny, &total) || !npusim_mul_ok(total, elem, &total)) {
    ex->error = NPUSIM_ERR_BAD_ARG;
    return;
  }
  if (host) pthread_mutex_lock(&sim->win_mu);
  ex->error = resolve(sim, src_space, cmd->a[0], src_bytes, 0, &src);
  if (ex->error) {
    ex->error_addr = cmd->a[0];
  } else {
    ex->error = resolve(sim, dst_space, cmd->a[1], dst_bytes, 1, &dst);
    if (ex->error) ex->error_addr = cmd->a[1];
  }
  if (!ex->error && injected_fault(sim)) {
    ex->error = NPUSIM_ERR_DMA_FAULT;
    ex->error_addr = cmd->a[0];
  }
  if (!ex->error && total) {
    copy_2d(dst, src, elem, nx, ny, ssx, ssy, dsx, dsy);
  }
  if (host) pthread_mutex_unlock(&sim->win_mu);
  ex->bytes = total;
  ex->cycles = dma_cycles(sim, total);
}

void npusim_exec_fill(npusim_t* sim, const npusim_cmd_t* cmd,
                      npusim_exec_t* ex) {
  uint32_t space = cmd->func;
  uint64_t size = cmd->a[1];
  uint64_t psize = cmd->a[3];
  uint8_t pat[4];
  uint8_t* dst = NULL;
  ex->engine = ENGINE_DMA;
  ex->src_space = -1;
  ex->dst_space = (int)space;
  if ((psize != 1 && psize != 2 && psize != 4) || size % psize != 0 ||
      space > NPUSIM_SPACE_HOST || cmd->flags != 0) {
    ex->error = NPUSIM_ERR_BAD_ARG;
    return;
  }
  memcpy(pat, &cmd->a[2], sizeof(pat));
  if (space == NPUSIM_SPACE_HOST) pthread_mutex_lock(&sim->win_mu);
  ex->error = resolve(sim, space, cmd->a[0], size, 1, &dst);
  if (ex->error) ex->error_addr = cmd->a[0];
  if (!ex->error && injected_fault(sim)) {
    ex->error = NPUSIM_ERR_DMA_FAULT;
    ex->error_addr = cmd->a[0];
  }
  if (!ex->error) {
    if (psize == 1) {
      memset(dst, pat[0], (size_t)size);
    } else if (size) {
      /* Seed one pattern, then double the filled prefix. */
      uint64_t done = psize;
      memcpy(dst, pat, (size_t)psize);
      while (done < size) {
        uint64_t n = done < size - done ? done : size - done;
        memcpy(dst + done, dst, (size_t)n);
        done += n;
      }
    }
  }
  if (space == NPUSIM_SPACE_HOST) pthread_mutex_unlock(&sim->win_mu);
  ex->bytes = size;
  ex->cycles = dma_cycles(sim, size);
}

uint32_t npusim_host_write(npusim_t* sim, uint64_t iova, const void* src,
                           uint64_t size) {
  uint8_t* dst = NULL;
  uint32_t err;
  pthread_mutex_lock(&sim->win_mu);
  err = resolve(sim, NPUSIM_SPACE_HOST, iova, size, 1, &dst);
  if (!err) memcpy(dst, src, (size_t)size);
  pthread_mutex_unlock(&sim->win_mu);
  return err;
}
