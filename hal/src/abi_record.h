/*
 * abi_record.h - struct_size both ways on the framework API. Not installed.
 *
 * Every record that crosses the framework API starts with uint32_t
 * struct_size, and a caller may have been built against an older (smaller)
 * or newer (larger) minor version of the header than libxhal's own:
 *
 * - Input records (options, descriptors, calls): libxhal reads at most
 *   min(struct_size, sizeof) bytes; the fields past the caller's
 *   struct_size take their defaults. A struct_size below the ABI 1.0 size
 *   of the record was never set by any header version: the record is
 *   rejected (the caller skipped its _default() initialiser).
 * - Output records (properties, infos, statistics): libxhal writes at most
 *   the caller's struct_size bytes, never past it, and sets struct_size to
 *   the bytes it wrote, so a newer caller learns which fields are filled.
 *   Headers of ABI 1.0 to 1.2 did not ask callers to set struct_size in an
 *   output record, so a struct_size below the 1.0 size counts as the 1.0
 *   size: every 1.x caller's record is at least that large.
 *
 * A minor version appends fields after the previous version's sizeof
 * (never into its tail padding), so a struct_size that some header version
 * produced always ends on a field boundary.
 */
#ifndef XHAL_HAL_ABI_RECORD_H_
#define XHAL_HAL_ABI_RECORD_H_

#include <stdint.h>
#include <string.h>

/* ABI 1.0 sizes of the framework API's records (from the 1.0 headers;
 * hal/tests/abi_1_0 holds a frozen copy and checks them). */
#define XHAL_INSTANCE_OPTIONS_SIZE_1_0 56u
#define XHAL_PLUGIN_INFO_SIZE_1_0 1688u
#define XHAL_PROGRAM_DESC_SIZE_1_0 48u
#define XHAL_LAUNCH_SIZE_1_0 56u
#define XHAL_OP_CALL_SIZE_1_0 544u
#define XHAL_OP_IMPL_DESC_SIZE_1_0 80u
#define XHAL_OP_IMPL_INFO_SIZE_1_0 152u
#define XHAL_DEVICE_PROPERTIES_SIZE_1_0 464u
#define XHAL_POOL_OPTIONS_SIZE_1_0 16u
#define XHAL_POOL_STATS_SIZE_1_0 56u

/* Bytes libxhal fills in an output record: the caller's struct_size,
 * counted as at least `size_1_0` and at most libxhal's `own_size`. */
static inline uint32_t record_out_size(uint32_t caller_size, uint32_t size_1_0,
                                       uint32_t own_size) {
  uint32_t n = caller_size < size_1_0 ? size_1_0 : caller_size;
  return n < own_size ? n : own_size;
}

/* Copies libxhal's record `src` (own_size bytes, struct_size first) into
 * the caller's output record `dst` per record_out_size, and sets the
 * caller's struct_size to the bytes written. */
static inline void record_copy_out(void* dst, const void* src,
                                   uint32_t size_1_0, uint32_t own_size) {
  uint32_t caller_size;
  memcpy(&caller_size, dst, sizeof(caller_size));
  uint32_t n = record_out_size(caller_size, size_1_0, own_size);
  memcpy(dst, src, n);
  memcpy(dst, &n, sizeof(n));
}

/* The input record `src` as libxhal reads it: `src` itself when it is at
 * least own_size bytes; else `local` (which the caller has filled with
 * the record's defaults) overwritten with the caller's struct_size bytes
 * of `src`, its struct_size set to own_size. NULL when struct_size is
 * below size_1_0 (the record was never initialised). */
static inline const void* record_read_in(const void* src, void* local,
                                         uint32_t size_1_0, uint32_t own_size) {
  uint32_t caller_size;
  memcpy(&caller_size, src, sizeof(caller_size));
  if (caller_size >= own_size) return src;
  if (caller_size < size_1_0) return NULL;
  memcpy(local, src, caller_size);
  memcpy(local, &own_size, sizeof(own_size));
  return local;
}

#endif /* XHAL_HAL_ABI_RECORD_H_ */
