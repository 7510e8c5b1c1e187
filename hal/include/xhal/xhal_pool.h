/**
 * @file
 * xhal_pool.h - stream-ordered memory pools.
 *
 * A pool hands out device memory in stream order, like cudaMallocAsync:
 * xhal_pool_alloc_async returns a buffer that work enqueued on the stream
 * afterwards may use, and xhal_pool_free_async returns it to the pool once
 * the stream has passed the work enqueued before the free. The pool keeps
 * freed blocks instead of returning them to the plugin, so a steady-state
 * loop of allocations costs no plugin call at all. It is implemented once
 * in libxhal over the plugin's raw allocation, so it serves every plugin.
 *
 * Reuse rules: a block freed on stream S is reused at once by the next
 * allocation on S (stream order makes that safe), and by allocations on
 * other streams only after an event recorded behind the free on S has
 * completed. Memory is requested in size classes (powers of two from
 * 256 bytes, or the device's alignment when larger); requests above the
 * largest class take blocks of their own (the large-block path) and reuse
 * a freed large block that is at most a quarter larger than the request.
 *
 * Lifetime: xhal_pool_create returns one reference; xhal_pool_release
 * drops it. Allocations returned by the pool are views
 * (xhal_buffer_subrange) of the pool's blocks; the caller owns one
 * reference to each and hands it back with xhal_pool_free_async, which
 * consumes it. A pool may be released while allocations are live: their
 * memory stays valid until each is released with xhal_buffer_release.
 * The pool keeps a reference to every stream with frees it has not yet
 * seen complete, and to the pool's instance.
 *
 * Thread-safety: every call is thread-safe; one mutex per pool guards its
 * state. The allocation fast path (a freed block of the right class is
 * available) allocates no memory and makes no plugin call.
 */
#ifndef XHAL_POOL_H_
#define XHAL_POOL_H_

#include <xhal/xhal_handles.h>
#include <xhal/xhal_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A stream-ordered memory pool on one device. */
typedef struct xhal_pool* xhal_pool_t;

/** Options for xhal_pool_create; start from xhal_pool_options_default(). */
typedef struct xhal_pool_options {
  /** sizeof(xhal_pool_options_t), set by xhal_pool_options_default. */
  uint32_t struct_size;
  /** XHAL_MEMORY_* flags of every block the pool allocates. */
  uint32_t memory_flags;
  /** Upper bound on the bytes the pool holds from the plugin (0: none).
   * An allocation that would pass it first trims freed blocks, then fails
   * with XHAL_ERROR_OUT_OF_MEMORY. */
  uint64_t max_reserved_bytes;
} xhal_pool_options_t;

/** Pool statistics; see xhal_pool_stats. */
typedef struct xhal_pool_stats {
  /** sizeof(xhal_pool_stats_t), set by xhal_pool_stats. */
  uint32_t struct_size;
  /** Always 0. */
  uint32_t reserved0;
  /** Bytes the pool holds from the plugin (live, freed and spare). */
  uint64_t reserved_bytes;
  /** Bytes of the blocks backing live allocations (a block is the
   * request rounded up to its size class). */
  uint64_t used_bytes;
  /** Highest reserved_bytes so far. */
  uint64_t peak_reserved_bytes;
  /** Highest used_bytes so far. */
  uint64_t peak_used_bytes;
  /** Allocations served without a plugin allocation. */
  uint64_t hits;
  /** Allocations that needed a plugin allocation. */
  uint64_t misses;
} xhal_pool_stats_t;

/**
 * Fills `options` with the defaults: struct_size set, no memory flags, no
 * reserve bound. NULL is ignored.
 * Ownership: `options` is the caller's record, written in full.
 * Thread-safety: thread-safe. Lifetime: no object is involved.
 * Returns nothing; this call cannot fail.
 */
XHAL_API void xhal_pool_options_default(xhal_pool_options_t* options);

/**
 * Creates a pool on `device`. `options` may be NULL for the defaults; a
 * record from an older header is read up to its struct_size, with
 * defaults past it.
 * Ownership: `options` is borrowed for the call; the caller owns the one
 * reference in `*out_pool` and drops it with xhal_pool_release.
 * Thread-safety: thread-safe.
 * Lifetime: the pool keeps its device's instance alive.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (device);
 * XHAL_ERROR_INVALID_ARGUMENT (out_pool NULL, struct_size below the 1.0
 * size, unknown memory flags); XHAL_ERROR_UNSUPPORTED (host-visible flags
 * on a device without host-visible memory); XHAL_ERROR_OUT_OF_MEMORY.
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_pool_create(xhal_device_t device, const xhal_pool_options_t* options,
                 xhal_pool_t* out_pool);

/**
 * Adds a reference to `pool`.
 * Ownership: the caller owns the new reference.
 * Thread-safety: thread-safe (atomic count).
 * Lifetime: the pool lives while any reference holds it.
 * Returns nothing; a NULL or stale handle is ignored.
 */
XHAL_API void xhal_pool_retain(xhal_pool_t pool);

/**
 * Drops a reference; the last one returns every block that no live
 * allocation uses to the plugin and releases the streams and events the
 * pool held. release(NULL) is a no-op.
 * Ownership: consumes one of the caller's references.
 * Thread-safety: thread-safe.
 * Lifetime: live allocations stay valid until each is released with
 * xhal_buffer_release.
 * Returns nothing; a stale handle leaves XHAL_ERROR_INVALID_HANDLE in
 * xhal_last_error().
 */
XHAL_API void xhal_pool_release(xhal_pool_t pool);

/**
 * Allocates `size` bytes usable by work enqueued on `stream` from now on
 * (and by other streams once they are ordered after it). The buffer is a
 * view of exactly `size` bytes; its contents are undefined. When the pool
 * would pass max_reserved_bytes, or the plugin's allocation fails, the
 * call trims the pool as xhal_pool_trim(pool, 0) does (waiting for pending
 * frees) and retries once.
 * Ownership: the caller owns one reference in `*out_buffer` and returns it
 * with xhal_pool_free_async.
 * Thread-safety: thread-safe; the fast path (a freed block of the right
 * class) allocates no memory and makes no plugin call.
 * Lifetime: the memory stays valid until the buffer's last reference goes,
 * even past the pool's release.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (pool, stream);
 * XHAL_ERROR_INVALID_ARGUMENT (size 0, out_buffer NULL, a stream of
 * another device); XHAL_ERROR_OUT_OF_RANGE (size past the device's
 * max_alloc_bytes); XHAL_ERROR_OUT_OF_MEMORY (the plugin's allocation
 * failed, or max_reserved_bytes would be passed, even after a trim).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_pool_alloc_async(xhal_pool_t pool, xhal_stream_t stream, uint64_t size,
                      xhal_buffer_t* out_buffer);

/**
 * Returns `buffer` (from xhal_pool_alloc_async on this pool) to the pool
 * in `stream` order: work enqueued on `stream` before this call may still
 * use it; work enqueued after may not. Work on other streams that uses the
 * buffer must be ordered before the free (xhal_stream_wait_event).
 * Ownership: consumes the caller's reference to `buffer`; on failure the
 * reference is not consumed.
 * Thread-safety: thread-safe.
 * Lifetime: the block is reused once the stream has passed the free.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (pool, stream, buffer);
 * XHAL_ERROR_INVALID_ARGUMENT (a buffer this pool did not allocate, a
 * stream of another device); XHAL_ERROR_INVALID_STATE (already freed).
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_pool_free_async(xhal_pool_t pool,
                                                          xhal_stream_t stream,
                                                          xhal_buffer_t buffer);

/**
 * Returns freed blocks to the plugin until the pool holds at most
 * `keep_bytes`, or no more can go: memory with a block in use stays.
 * First waits until the frees made so far have completed on their streams,
 * so a trim right after a free returns that block; where the plugin's raw
 * free waits for the device's queued work (the CPU plugin's does), so does
 * this call. Never call it while a stream with frees is held by work that
 * waits for the calling thread.
 * Ownership: `pool` is borrowed.
 * Thread-safety: thread-safe.
 * Lifetime: live allocations are untouched.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (pool).
 */
XHAL_API XHAL_MUST_USE xhal_status_t xhal_pool_trim(xhal_pool_t pool,
                                                    uint64_t keep_bytes);

/**
 * Copies the pool's figures at the time of the call into `*out_stats`.
 * Set out_stats->struct_size to sizeof(xhal_pool_stats_t) first: libxhal
 * writes no byte past it and sets it to the bytes written.
 * Ownership: `pool` is borrowed; `*out_stats` is the caller's record.
 * Thread-safety: thread-safe. Lifetime: the record is a copy.
 * @return XHAL_OK; XHAL_ERROR_INVALID_HANDLE (pool);
 * XHAL_ERROR_INVALID_ARGUMENT (out_stats NULL).
 */
XHAL_API XHAL_MUST_USE xhal_status_t
xhal_pool_stats(xhal_pool_t pool, xhal_pool_stats_t* out_stats);

#ifdef __cplusplus
}
#endif

#endif /* XHAL_POOL_H_ */
