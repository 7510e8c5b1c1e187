/*
 * mem_pool.c - stream-ordered memory pools (xhal/xhal_pool.h).
 *
 * Chunks and blocks. A chunk is one raw allocation (xhal_buffer_alloc)
 * cut into equal blocks of one size class, or holding one large block.
 * Small classes share a chunk so that a burst of small allocations costs
 * one plugin call instead of one each. A block is always in one state:
 *   USED     handed out to the caller;
 *   PENDING  freed on a stream that may not have passed the free yet; on
 *            that stream's list for the block's class;
 *   READY    free for any stream; on the pool's list for its class.
 * A chunk whose blocks are all READY can go back to the plugin (trim).
 *
 * Stream order. Each stream with frees has a slot: the stream (retained),
 * one event, and sequence numbers of its frees. A free on a slot with no
 * event in flight records the event behind it. Allocations on the same
 * stream take PENDING blocks of their own stream directly: the stream runs
 * in order, so work after the allocation cannot overlap work before the
 * free. Other streams need a READY block; when they find none they query
 * the other slots' events, move every block freed before a completed
 * record to READY, and record again to cover the later frees. A loop of
 * allocations and frees on one stream therefore records one event in all,
 * and a cross-stream allocation never waits: it reuses a block whose free
 * is known complete, or it misses.
 *
 * Views. The caller gets a view (xhal_buffer_subrange) of its block. The
 * block keeps that view (the pool holds a reference) and hands the same
 * object out again, resized, when the block is reused, so an allocation
 * hit is a list pop and a reference count store: no object is made.
 * A view someone still holds after its free, and every view while the
 * validation layer is on, is dropped instead, so a stale handle is never
 * handed out again (with validation it is then reported as released).
 *
 * Lookup. free_async finds the chunk through a hash table keyed by the
 * view's root buffer (linear probing, backward-shift deletion), and the
 * block from the view's offset.
 *
 * Locking. One mutex guards all of the above. Plugin calls that may wait
 * or take long (raw allocation, raw free, which on the CPU plugin waits
 * for queued work, and stream release) are made outside it.
 */
#include <stdlib.h>
#include <string.h>
#include <xhal/xhal_pool.h>

#include "abi_record.h"
#include "internal.h"

_Static_assert(XHAL_POOL_OPTIONS_SIZE_1_0 <= sizeof(xhal_pool_options_t),
               "pool options only grow");
_Static_assert(XHAL_POOL_STATS_SIZE_1_0 <= sizeof(xhal_pool_stats_t),
               "pool statistics only grow");

_Static_assert(((unsigned)OBJ_POOL & 0xFFu) < OBJ_TYPE_SLOTS,
               "OBJ_POOL needs a free-list slot in internal.h");

enum {
  kMinClassShift = 8,  /* 256-byte blocks at least */
  kMaxClassShift = 23, /* 8 MiB; larger requests take the large path */
  kLargeList = kMaxClassShift + 1,
  kLists = kMaxClassShift + 2,
  /* Small classes share chunks of about this size, at most kMaxBlocks
   * blocks each: a chunk of 256-byte blocks is 16 KiB. */
  kChunkShift = 18,
  kMaxBlocks = 64,
  /* Large blocks are multiples of 1 MiB; a freed one is reused for a
   * request up to a quarter smaller (waste below a power-of-two class's). */
  kLargeGranuleShift = 20,
};

enum { BLOCK_USED = 1, BLOCK_PENDING = 2, BLOCK_READY = 3 };

struct pool_chunk;
struct pool_slot;

typedef struct pool_block {
  struct pool_block* next; /* in a READY or PENDING list */
  struct pool_block* prev;
  struct pool_chunk* chunk;
  struct pool_slot* slot; /* PENDING: the stream it was freed on */
  xhal_buffer_t view;     /* kept view (the pool's reference) or NULL */
  uint64_t offset;        /* in the chunk's buffer */
  uint64_t bytes;         /* capacity */
  uint64_t free_seq;      /* PENDING: the slot's sequence number */
  uint32_t state;
} pool_block_t;

typedef struct pool_chunk {
  struct pool_chunk* next; /* every chunk of the pool */
  struct pool_chunk* prev;
  xhal_buffer_t buffer; /* the raw allocation; the pool's reference */
  uint64_t bytes;
  /* offset >> block_shift is a block's index (63 for a large chunk's
   * single block): a shift, where a division would cost tens of cycles
   * on every free. */
  uint32_t block_shift;
  uint32_t list; /* class shift, or kLargeList */
  uint32_t block_count;
  uint32_t busy; /* blocks USED or PENDING */
  pool_block_t blocks[];
} pool_chunk_t;

typedef struct pool_slot {
  xhal_stream_t stream; /* retained */
  xhal_event_t event;
  uint64_t free_seq;     /* frees on this stream so far */
  uint64_t recorded_seq; /* frees the event in flight covers */
  uint64_t done_seq;     /* frees known to have completed */
  uint32_t in_flight;
  uint32_t pending; /* blocks on its lists */
  pool_block_t* lists[kLists];
} pool_slot_t;

struct xhal_pool {
  xhal_object_t obj;
  xhal_device_t device;
  xhal_pool_options_t options;
  uint32_t min_shift; /* smallest class: 256 B or the device alignment */
  pthread_mutex_t lock;
  pool_block_t* ready[kLists];
  pool_chunk_t* chunks;
  /* Chunk lookup by root buffer; capacity is a power of two. */
  pool_chunk_t** map;
  uint32_t map_capacity;
  uint32_t map_count;
  pool_slot_t** slots;
  uint32_t slot_count;
  uint32_t slot_capacity;
  uint64_t pending_blocks; /* over every slot */
  xhal_pool_stats_t stats;
};

/* What a locked section hands back to be released after unlocking. */
typedef struct deferred {
  pool_chunk_t* chunks; /* detached, linked through next */
  xhal_buffer_t views[8];
  uint32_t view_count;
  xhal_stream_t streams[8];
  uint32_t stream_count;
} deferred_t;

/* ------------------------------------------------------------ lists */

static void list_push(pool_block_t** head, pool_block_t* block) {
  block->prev = NULL;
  block->next = *head;
  if (*head) (*head)->prev = block;
  *head = block;
}

static void list_remove(pool_block_t** head, pool_block_t* block) {
  if (block->prev) {
    block->prev->next = block->next;
  } else {
    *head = block->next;
  }
  if (block->next) block->next->prev = block->prev;
  block->next = block->prev = NULL;
}

/* A block of list `li` fit for `size`: the head for a class; for large
 * blocks the smallest at most a quarter larger than the request. */
static pool_block_t* list_find(pool_block_t* head, uint32_t li, uint64_t size) {
  if (li != kLargeList) return head;
  pool_block_t* best = NULL;
  for (pool_block_t* b = head; b; b = b->next) {
    if (b->bytes >= size && b->bytes - size <= size / 4 &&
        (!best || b->bytes < best->bytes)) {
      best = b;
    }
  }
  return best;
}

/* ------------------------------------------------------------ chunk map */

static uint32_t map_index(const xhal_pool_t pool, const void* key) {
  uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
  return (uint32_t)(h >> 32) & (pool->map_capacity - 1u);
}

static pool_chunk_t* map_find(const xhal_pool_t pool, const void* key) {
  if (!pool->map_capacity) return NULL;
  for (uint32_t i = map_index(pool, key);;
       i = (i + 1) & (pool->map_capacity - 1)) {
    pool_chunk_t* c = pool->map[i];
    if (!c) return NULL;
    if (c->buffer == key) return c;
  }
}

static void map_put(xhal_pool_t pool, pool_chunk_t* chunk) {
  uint32_t i = map_index(pool, chunk->buffer);
  while (pool->map[i]) i = (i + 1) & (pool->map_capacity - 1);
  pool->map[i] = chunk;
  pool->map_count++;
}

/* Keeps the load at most one half, so probes stay short. */
static int map_reserve(xhal_pool_t pool) {
  if (((uint64_t)pool->map_count + 1) * 2 <= pool->map_capacity) return 1;
  uint32_t capacity = pool->map_capacity ? pool->map_capacity * 2 : 64;
  if (capacity < pool->map_capacity) return 0;
  pool_chunk_t** old = pool->map;
  uint32_t old_capacity = pool->map_capacity;
  pool->map = calloc(capacity, sizeof(*pool->map));
  if (!pool->map) {
    pool->map = old;
    return 0;
  }
  pool->map_capacity = capacity;
  pool->map_count = 0;
  for (uint32_t i = 0; i < old_capacity; ++i) {
    if (old[i]) map_put(pool, old[i]);
  }
  free(old);
  return 1;
}

/* Backward-shift deletion: later entries of the probe run move up, so
 * lookups never need tombstones. */
static void map_remove(xhal_pool_t pool, const pool_chunk_t* chunk) {
  uint32_t mask = pool->map_capacity - 1;
  uint32_t i = map_index(pool, chunk->buffer);
  while (pool->map[i] != chunk) i = (i + 1) & mask;
  pool->map[i] = NULL;
  pool->map_count--;
  for (uint32_t j = (i + 1) & mask; pool->map[j]; j = (j + 1) & mask) {
    uint32_t home = map_index(pool, pool->map[j]->buffer);
    /* Move entry j into the hole unless its home lies in (i, j]. */
    int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      pool->map[i] = pool->map[j];
      pool->map[j] = NULL;
      i = j;
    }
  }
}

/* ------------------------------------------------------------ slots */

static pool_slot_t* slot_find(const xhal_pool_t pool, xhal_stream_t stream) {
  for (uint32_t i = 0; i < pool->slot_count; ++i) {
    if (pool->slots[i]->stream == stream) return pool->slots[i];
  }
  return NULL;
}

static void observe_all(xhal_pool_t pool, deferred_t* later);

/* The slot of `stream`, made on its first free. A new stream is a sign
 * that streams come and go, so idle slots (and the streams they keep
 * alive) are dropped first. */
static xhal_status_t slot_get(xhal_pool_t pool, xhal_stream_t stream,
                              deferred_t* later, pool_slot_t** out) {
  pool_slot_t* slot = slot_find(pool, stream);
  if (slot) {
    *out = slot;
    return XHAL_OK;
  }
  observe_all(pool, later);
  if (pool->slot_count == pool->slot_capacity) {
    uint32_t capacity = pool->slot_capacity ? pool->slot_capacity * 2 : 4;
    pool_slot_t** grown = realloc(pool->slots, capacity * sizeof(*grown));
    if (!grown) {
      return error_set(XHAL_ERROR_OUT_OF_MEMORY, "pool: stream table growth");
    }
    pool->slots = grown;
    pool->slot_capacity = capacity;
  }
  slot = calloc(1, sizeof(*slot));
  if (!slot) return error_set(XHAL_ERROR_OUT_OF_MEMORY, "pool: stream slot");
  xhal_status_t status = xhal_event_create(pool->device, &slot->event);
  if (status != XHAL_OK) {
    free(slot);
    return status;
  }
  xhal_stream_retain(stream);
  slot->stream = stream;
  pool->slots[pool->slot_count++] = slot;
  *out = slot;
  return XHAL_OK;
}

static void slot_record(pool_slot_t* slot);

/* Puts a free block on `slot`'s list as freed now, and records the
 * slot's event behind it unless one is in flight. */
static void block_park(xhal_pool_t pool, pool_slot_t* slot,
                       pool_block_t* block) {
  block->state = BLOCK_PENDING;
  block->slot = slot;
  block->free_seq = ++slot->free_seq;
  list_push(&slot->lists[block->chunk->list], block);
  slot->pending++;
  pool->pending_blocks++;
  if (!slot->in_flight) slot_record(slot);
}

/* Records the slot's event behind its frees so far. A failed record only
 * delays reuse by other streams: the next observation records again. */
static void slot_record(pool_slot_t* slot) {
  if (xhal_stream_record_event(slot->stream, slot->event) == XHAL_OK) {
    slot->recorded_seq = slot->free_seq;
    slot->in_flight = 1;
  }
}

/* Moves the slot's blocks freed before `done_seq` to the READY lists.
 * A slot's lists are in descending free order from the head (frees push,
 * same-stream allocations pop), so the completed ones form each tail. */
static void slot_release_done(xhal_pool_t pool, pool_slot_t* slot) {
  for (uint32_t li = 0; li < kLists; ++li) {
    pool_block_t* b = slot->lists[li];
    while (b && b->free_seq > slot->done_seq) b = b->next;
    while (b) {
      pool_block_t* next = b->next;
      list_remove(&slot->lists[li], b);
      b->state = BLOCK_READY;
      b->slot = NULL;
      b->chunk->busy--;
      list_push(&pool->ready[li], b);
      slot->pending--;
      pool->pending_blocks--;
      b = next;
    }
  }
}

/* Drops an idle slot; its stream is released after unlocking. */
static void slot_drop(xhal_pool_t pool, uint32_t index, deferred_t* later) {
  pool_slot_t* slot = pool->slots[index];
  pool->slots[index] = pool->slots[--pool->slot_count];
  xhal_event_release(slot->event);
  later->streams[later->stream_count++] = slot->stream;
  free(slot);
}

/* Learns which frees completed on every slot, and records again to cover
 * later ones. Idle slots are dropped (as many as `later` can take). */
static void observe_all(xhal_pool_t pool, deferred_t* later) {
  for (uint32_t i = 0; i < pool->slot_count;) {
    pool_slot_t* slot = pool->slots[i];
    if (slot->in_flight) {
      /* Straight to the plugin: a NOT_READY or a failed stream's status
       * is not an error of this call and must not replace the thread's
       * message. A failed stream skips its later work, so its frees count
       * as passed. */
      const xhal_event_t event = slot->event;
      xhal_status_t status =
          event->device->plugin->table.event_query(event->handle);
      if (status != XHAL_ERROR_NOT_READY) {
        slot->in_flight = 0;
        slot->done_seq = slot->recorded_seq;
        slot_release_done(pool, slot);
      }
    }
    if (!slot->in_flight && slot->pending) {
      slot_record(slot);
    } else if (!slot->in_flight && later->stream_count < 8) {
      slot_drop(pool, i, later);
      continue;
    }
    ++i;
  }
}

/* ------------------------------------------------------------ chunks */

/* Waits, with the lock dropped, until the frees made so far on every
 * stream have completed, and makes their blocks READY. Two rounds per
 * slot suffice: the event in flight, then the record that covers the
 * frees made after it; frees made meanwhile by other threads are not
 * chased. Lock held on entry and on return. */
static void settle_locked(xhal_pool_t pool, deferred_t* later) {
  uint32_t rounds = 2 * pool->slot_count;
  for (;;) {
    observe_all(pool, later);
    xhal_event_t event = NULL;
    for (uint32_t i = 0; i < pool->slot_count && !event; ++i) {
      if (pool->slots[i]->in_flight) event = pool->slots[i]->event;
    }
    if (!event || rounds-- == 0) return;
    xhal_event_retain(event); /* the slot may be dropped meanwhile */
    pthread_mutex_unlock(&pool->lock);
    /* A failed stream's status means its frees passed, like success; the
     * plugin is asked directly so the thread's message stays as it was. */
    (void)event->device->plugin->table.event_wait(event->handle,
                                                  XHAL_TIMEOUT_INFINITE);
    xhal_event_release(event);
    pthread_mutex_lock(&pool->lock);
  }
}

/* Detaches READY chunks until the pool holds at most `keep` bytes, after
 * waiting for pending frees. */
static void trim_locked(xhal_pool_t pool, uint64_t keep, deferred_t* later) {
  settle_locked(pool, later);
  pool_chunk_t* c = pool->chunks;
  while (c && pool->stats.reserved_bytes > keep) {
    pool_chunk_t* next = c->next;
    if (c->busy == 0) {
      for (uint32_t i = 0; i < c->block_count; ++i) {
        list_remove(&pool->ready[c->list], &c->blocks[i]);
      }
      map_remove(pool, c);
      if (c->prev) {
        c->prev->next = c->next;
      } else {
        pool->chunks = c->next;
      }
      if (c->next) c->next->prev = c->prev;
      pool->stats.reserved_bytes -= c->bytes;
      c->next = later->chunks;
      later->chunks = c;
    }
    c = next;
  }
}

static void chunk_destroy(pool_chunk_t* chunk) {
  for (uint32_t i = 0; i < chunk->block_count; ++i) {
    xhal_buffer_release(chunk->blocks[i].view);
  }
  xhal_buffer_release(chunk->buffer);
  free(chunk);
}

/* Nothing deferred yet; the arrays need no clearing. */
static void deferred_init(deferred_t* later) {
  later->chunks = NULL;
  later->view_count = 0;
  later->stream_count = 0;
}

/* Releases what a locked section deferred. Called without the lock. */
static void deferred_run(deferred_t* later) {
  if (__builtin_expect(
          !later->chunks && !later->view_count && !later->stream_count, 1)) {
    return;
  }
  for (uint32_t i = 0; i < later->view_count; ++i) {
    xhal_buffer_release(later->views[i]);
  }
  while (later->chunks) {
    pool_chunk_t* next = later->chunks->next;
    chunk_destroy(later->chunks);
    later->chunks = next;
  }
  for (uint32_t i = 0; i < later->stream_count; ++i) {
    xhal_stream_release(later->streams[i]);
  }
  deferred_init(later);
}

/* Size of the raw allocation for a request: `block_bytes` times the
 * blocks a chunk of this class holds, within the device limit and the
 * pool's reserve bound. Returns 0 when not even one block fits. */
static uint32_t chunk_blocks(const xhal_pool_t pool, uint32_t li,
                             uint64_t block_bytes) {
  uint64_t count = 1;
  if (li != kLargeList && li < kChunkShift) {
    count = 1ull << (kChunkShift - li);
    if (count > kMaxBlocks) count = kMaxBlocks;
  }
  uint64_t limit = pool->device->props.max_alloc_bytes / block_bytes;
  if (pool->options.max_reserved_bytes) {
    uint64_t room =
        pool->options.max_reserved_bytes > pool->stats.reserved_bytes
            ? pool->options.max_reserved_bytes - pool->stats.reserved_bytes
            : 0;
    if (room / block_bytes < limit) limit = room / block_bytes;
  }
  return (uint32_t)(count < limit ? count : limit);
}

/* Makes a chunk (raw allocation outside the lock, which is held on entry
 * and on return) and takes its first block. */
static xhal_status_t chunk_add(xhal_pool_t pool, uint32_t li,
                               uint64_t block_bytes, deferred_t* later,
                               pool_block_t** out) {
  uint32_t count = chunk_blocks(pool, li, block_bytes);
  if (count == 0) {
    /* Over the reserve bound: give back what is free, then try again. */
    trim_locked(pool, 0, later);
    count = chunk_blocks(pool, li, block_bytes);
    if (count == 0) {
      return error_set(XHAL_ERROR_OUT_OF_MEMORY,
                       "pool: %llu more bytes would pass max_reserved_bytes "
                       "%llu (%llu reserved, %llu in use)",
                       (unsigned long long)block_bytes,
                       (unsigned long long)pool->options.max_reserved_bytes,
                       (unsigned long long)pool->stats.reserved_bytes,
                       (unsigned long long)pool->stats.used_bytes);
    }
  }
  uint64_t bytes = block_bytes * count; /* <= max_alloc_bytes: no overflow */
  pool->stats.reserved_bytes += bytes;  /* claims the room while unlocked */
  pthread_mutex_unlock(&pool->lock);

  deferred_run(later);
  xhal_buffer_t buffer = NULL;
  xhal_status_t status = xhal_buffer_alloc(pool->device, bytes,
                                           pool->options.memory_flags, &buffer);
  if (status == XHAL_ERROR_OUT_OF_MEMORY) {
    /* The device is full: return the pool's free memory and retry once. */
    pthread_mutex_lock(&pool->lock);
    trim_locked(pool, 0, later);
    pthread_mutex_unlock(&pool->lock);
    deferred_run(later);
    status = xhal_buffer_alloc(pool->device, bytes, pool->options.memory_flags,
                               &buffer);
  }
  pool_chunk_t* chunk = NULL;
  if (status == XHAL_OK) {
    chunk = calloc(1, sizeof(*chunk) + count * sizeof(pool_block_t));
    if (!chunk) {
      xhal_buffer_release(buffer);
      status = error_set(XHAL_ERROR_OUT_OF_MEMORY, "pool: chunk record");
    }
  } else if (status == XHAL_ERROR_OUT_OF_MEMORY) {
    status = error_set(status,
                       "pool: device '%s' cannot allocate %llu bytes, even "
                       "after trimming the pool",
                       pool->device->props.name, (unsigned long long)bytes);
  }

  pthread_mutex_lock(&pool->lock);
  if (status == XHAL_OK && !map_reserve(pool)) {
    status = error_set(XHAL_ERROR_OUT_OF_MEMORY, "pool: chunk table growth");
    chunk->buffer = buffer;
    chunk->next = later->chunks;
    later->chunks = chunk;
  }
  if (status != XHAL_OK) {
    pool->stats.reserved_bytes -= bytes;
    return status;
  }
  chunk->buffer = buffer;
  chunk->bytes = bytes;
  chunk->block_shift = li == kLargeList ? 63u : li;
  chunk->list = li;
  chunk->block_count = count;
  for (uint32_t i = count; i-- > 0;) {
    pool_block_t* b = &chunk->blocks[i];
    b->chunk = chunk;
    b->offset = block_bytes * i;
    b->bytes = block_bytes;
    b->state = BLOCK_READY;
    if (i) list_push(&pool->ready[li], b);
  }
  chunk->next = pool->chunks;
  if (pool->chunks) pool->chunks->prev = chunk;
  pool->chunks = chunk;
  map_put(pool, chunk);
  if (pool->stats.reserved_bytes > pool->stats.peak_reserved_bytes) {
    pool->stats.peak_reserved_bytes = pool->stats.reserved_bytes;
  }
  *out = &chunk->blocks[0];
  return XHAL_OK;
}

/* ------------------------------------------------------------ the API */

XHAL_API void xhal_pool_options_default(xhal_pool_options_t* options) {
  if (!options) return;
  memset(options, 0, sizeof(*options));
  options->struct_size = (uint32_t)sizeof(*options);
}

XHAL_API xhal_status_t xhal_pool_create(xhal_device_t device,
                                        const xhal_pool_options_t* options,
                                        xhal_pool_t* out_pool) {
  xhal_pool_options_t defaults;
  xhal_status_t status = device_check(device, "device");
  if (status != XHAL_OK) return status;
  if (!out_pool)
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_pool is NULL");
  *out_pool = NULL;
  xhal_pool_options_default(&defaults);
  if (options) {
    const xhal_pool_options_t* given = options;
    options = record_read_in(given, &defaults, XHAL_POOL_OPTIONS_SIZE_1_0,
                             (uint32_t)sizeof(defaults));
    if (!options) {
      return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                       "options->struct_size is %u, below the ABI 1.0 size "
                       "%u (call xhal_pool_options_default)",
                       given->struct_size, XHAL_POOL_OPTIONS_SIZE_1_0);
    }
  } else {
    options = &defaults;
  }
  if (options->memory_flags & ~(uint32_t)XHAL_MEMORY_FLAGS_ALL) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "options->memory_flags 0x%x has unknown bits",
                     options->memory_flags);
  }
  if ((options->memory_flags &
       (XHAL_MEMORY_HOST_VISIBLE | XHAL_MEMORY_HOST_CACHED)) &&
      !(device->props.capabilities & XHAL_CAP_HOST_VISIBLE_MEMORY)) {
    return error_set(XHAL_ERROR_UNSUPPORTED,
                     "device '%s' has no host-visible memory for the pool",
                     device->props.name);
  }
  xhal_pool_t pool = (xhal_pool_t)object_new(device->obj.instance, OBJ_POOL,
                                             sizeof(struct xhal_pool));
  if (!pool)
    return error_set(XHAL_ERROR_OUT_OF_MEMORY, "pool allocation failed");
  pool->device = device;
  pool->options = *options;
  pool->options.struct_size = (uint32_t)sizeof(pool->options);
  /* Blocks are aligned to their size within a chunk, so the smallest
   * class must be at least the device's base alignment. */
  pool->min_shift = kMinClassShift;
  while (pool->min_shift <= kMaxClassShift &&
         (1ull << pool->min_shift) < device->props.alignment) {
    pool->min_shift++;
  }
  pool->stats.struct_size = (uint32_t)sizeof(pool->stats);
  pthread_mutex_init(&pool->lock, NULL);
  *out_pool = pool;
  return XHAL_OK;
}

XHAL_API void xhal_pool_retain(xhal_pool_t pool) {
  if (object_check(pool, OBJ_POOL, "pool") == XHAL_OK) object_retain(pool);
}

XHAL_API void xhal_pool_release(xhal_pool_t pool) {
  if (!pool || object_check(pool, OBJ_POOL, "pool") != XHAL_OK) return;
  if (!object_unref(pool)) return;
  /* Live allocations keep their memory: each view holds its chunk's
   * buffer, so releasing the pool's references frees only what no caller
   * uses. Raw frees wait for queued work where the plugin needs it
   * (R-MEM-15), so pending blocks need no synchronisation here. */
  for (uint32_t i = 0; i < pool->slot_count; ++i) {
    xhal_event_release(pool->slots[i]->event);
    xhal_stream_release(pool->slots[i]->stream);
    free(pool->slots[i]);
  }
  while (pool->chunks) {
    pool_chunk_t* next = pool->chunks->next;
    chunk_destroy(pool->chunks);
    pool->chunks = next;
  }
  free(pool->slots);
  free(pool->map);
  pthread_mutex_destroy(&pool->lock);
  object_free(pool, OBJ_POOL);
}

/* Checks the stream of an alloc/free: live, on the pool's device. */
static xhal_status_t stream_on_pool(xhal_pool_t pool, xhal_stream_t stream) {
  xhal_status_t status = object_check(stream, OBJ_STREAM, "stream");
  if (status != XHAL_OK) return status;
  if (stream->device != pool->device) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT,
                     "stream is on device '%s', the pool on '%s'",
                     stream->device->props.name, pool->device->props.name);
  }
  return device_check(pool->device, "pool's device");
}

/* Takes a block for `size` from `stream`'s own frees, then from the READY
 * blocks. Lock held. */
static pool_block_t* take_block(xhal_pool_t pool, pool_slot_t* slot,
                                uint32_t li, uint64_t size) {
  pool_block_t* b = slot ? list_find(slot->lists[li], li, size) : NULL;
  if (b) {
    list_remove(&slot->lists[li], b);
    slot->pending--;
    pool->pending_blocks--;
    b->chunk->busy--; /* counted back in by the caller */
    return b;
  }
  b = list_find(pool->ready[li], li, size);
  if (b) list_remove(&pool->ready[li], b);
  return b;
}

XHAL_API xhal_status_t xhal_pool_alloc_async(xhal_pool_t pool,
                                             xhal_stream_t stream,
                                             uint64_t size,
                                             xhal_buffer_t* out_buffer) {
  xhal_status_t status = object_check(pool, OBJ_POOL, "pool");
  if (status != XHAL_OK) return status;
  status = stream_on_pool(pool, stream);
  if (status != XHAL_OK) return status;
  if (!out_buffer) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_buffer is NULL");
  }
  *out_buffer = NULL;
  if (size == 0) return error_set(XHAL_ERROR_INVALID_ARGUMENT, "size is 0");
  const uint64_t max_alloc = pool->device->props.max_alloc_bytes;
  if (size > max_alloc) {
    return error_set(XHAL_ERROR_OUT_OF_RANGE,
                     "size %llu is past device '%s' max_alloc_bytes %llu",
                     (unsigned long long)size, pool->device->props.name,
                     (unsigned long long)max_alloc);
  }
  /* The list (class) and the block size the request takes. */
  uint32_t li = size <= (1ull << pool->min_shift)
                    ? pool->min_shift
                    : 64u - (uint32_t)__builtin_clzll(size - 1);
  uint64_t block_bytes = 1ull << (li < 64 ? li : 63);
  if (li > kMaxClassShift || block_bytes > max_alloc) {
    const uint64_t granule = (1ull << kLargeGranuleShift) - 1;
    li = kLargeList;
    if (add_overflows(size, granule, &block_bytes)) block_bytes = size;
    block_bytes &= ~granule;
    if (block_bytes > max_alloc || block_bytes < size) block_bytes = size;
  }

  deferred_t later;
  deferred_init(&later);
  pthread_mutex_lock(&pool->lock);
  pool_slot_t* slot = slot_find(pool, stream);
  pool_block_t* block = take_block(pool, slot, li, size);
  if (!block && pool->pending_blocks > (slot ? slot->pending : 0)) {
    observe_all(pool, &later);
    slot = slot_find(pool, stream); /* observe_all may drop idle slots */
    block = take_block(pool, slot, li, size);
  }
  if (block) {
    pool->stats.hits++;
  } else {
    status = chunk_add(pool, li, block_bytes, &later, &block);
    if (status != XHAL_OK) goto unlock;
    pool->stats.misses++;
  }

  xhal_buffer_t view = block->view;
  if (view) {
    /* The pool's own reference is the only one (see xhal_pool_free_async),
     * so resizing the kept view changes nothing anyone else can see. */
    view->size = size;
  } else {
    status =
        xhal_buffer_subrange(block->chunk->buffer, block->offset, size, &view);
    if (status != XHAL_OK) {
      /* Back where it came from: a block of this stream's frees may not
       * be READY yet, so it is parked again as if freed now. */
      if (block->state == BLOCK_PENDING) {
        block->chunk->busy++;
        block_park(pool, block->slot, block);
      } else {
        list_push(&pool->ready[block->chunk->list], block);
      }
      goto unlock;
    }
    view->pool_owner = pool;
    block->view = view;
  }
  /* The caller's reference next to the pool's. Nobody else holds the
   * view (see xhal_pool_free_async), so a plain store does what an atomic
   * increment would, without a locked instruction on every allocation. */
  atomic_store_explicit(&view->obj.refs, 2u, memory_order_relaxed);
  block->state = BLOCK_USED;
  block->slot = NULL;
  block->chunk->busy++;
  pool->stats.used_bytes += block->bytes;
  if (pool->stats.used_bytes > pool->stats.peak_used_bytes) {
    pool->stats.peak_used_bytes = pool->stats.used_bytes;
  }
  object_set_site(view, __builtin_return_address(0));
  *out_buffer = view;
unlock:
  pthread_mutex_unlock(&pool->lock);
  deferred_run(&later);
  return status;
}

XHAL_API xhal_status_t xhal_pool_free_async(xhal_pool_t pool,
                                            xhal_stream_t stream,
                                            xhal_buffer_t buffer) {
  xhal_status_t status = object_check(pool, OBJ_POOL, "pool");
  if (status != XHAL_OK) return status;
  status = stream_on_pool(pool, stream);
  if (status != XHAL_OK) return status;
  status = object_check(buffer, OBJ_BUFFER, "buffer");
  if (status != XHAL_OK) return status;

  deferred_t later;
  deferred_init(&later);
  pthread_mutex_lock(&pool->lock);
  pool_chunk_t* chunk = buffer->root ? map_find(pool, buffer->root) : NULL;
  pool_block_t* block = NULL;
  if (chunk) block = &chunk->blocks[buffer->offset >> chunk->block_shift];
  if (!block || block->view != buffer) {
    /* A view this pool made that its block no longer keeps was freed
     * already (and dropped: someone else held it, or validation is on). */
    if (buffer->pool_owner == pool) {
      status = error_set(XHAL_ERROR_INVALID_STATE,
                         "buffer was already freed to the pool");
    } else {
      status = error_set(XHAL_ERROR_INVALID_ARGUMENT,
                         "buffer was not allocated from this pool");
    }
    goto unlock;
  }
  if (block->state != BLOCK_USED ||
      atomic_load_explicit(&buffer->obj.refs, memory_order_relaxed) < 2) {
    status = error_set(XHAL_ERROR_INVALID_STATE,
                       "buffer was already freed to the pool");
    goto unlock;
  }
  pool_slot_t* slot = NULL;
  status = slot_get(pool, stream, &later, &slot);
  if (status != XHAL_OK) goto unlock;

  /* The caller's reference; the pool's keeps the view alive. A view that
   * someone else still holds must not be handed out again. */
  unsigned refs =
      atomic_fetch_sub_explicit(&buffer->obj.refs, 1u, memory_order_acq_rel);
  if (refs > 2 || pool->obj.instance->validation) {
    block->view = NULL;
    later.views[later.view_count++] = buffer;
  }
  pool->stats.used_bytes -= block->bytes;
  block_park(pool, slot, block);
unlock:
  pthread_mutex_unlock(&pool->lock);
  deferred_run(&later);
  return status;
}

XHAL_API xhal_status_t xhal_pool_trim(xhal_pool_t pool, uint64_t keep_bytes) {
  xhal_status_t status = object_check(pool, OBJ_POOL, "pool");
  if (status != XHAL_OK) return status;
  deferred_t later;
  deferred_init(&later);
  pthread_mutex_lock(&pool->lock);
  trim_locked(pool, keep_bytes, &later);
  pthread_mutex_unlock(&pool->lock);
  deferred_run(&later);
  return XHAL_OK;
}

XHAL_API xhal_status_t xhal_pool_stats(xhal_pool_t pool,
                                       xhal_pool_stats_t* out_stats) {
  xhal_status_t status = object_check(pool, OBJ_POOL, "pool");
  if (status != XHAL_OK) return status;
  if (!out_stats) {
    return error_set(XHAL_ERROR_INVALID_ARGUMENT, "out_stats is NULL");
  }
  pthread_mutex_lock(&pool->lock);
  xhal_pool_stats_t stats = pool->stats;
  pthread_mutex_unlock(&pool->lock);
  record_copy_out(out_stats, &stats, XHAL_POOL_STATS_SIZE_1_0,
                  (uint32_t)sizeof(stats));
  return XHAL_OK;
}
