/* pd_heap.h - the memory every debug block lives in, and its metadata.
 *
 * One large address range is reserved at start (PROT_NONE, no swap
 * reserved) and committed an arena (1 MiB) at a time.  It is cut into
 * slabs of 64 KiB; a slab holds slots of one size class, or is part of one
 * large block's span.  Because all our blocks are in that range:
 *
 *   - "is this pointer ours?" is two comparisons, never a read of memory
 *     we do not own; anything outside is foreign (allocated before our
 *     hooks) or a bug;
 *   - a block's metadata is found by arithmetic: slab = offset >> 16, slot
 *     = (p - slab) / slot size, entry = slab's metadata array[slot]; an
 *     interior pointer finds its block the same way.
 *
 * A slot: [16 bytes unused header][16 guard][user bytes][guard to the end
 * of the slot, at least 16].  Free slots are kept on per-class stacks of
 * pointers, apart from the slots.  The metadata arrays are mapped apart from
 * the slots, so wild writes into the heap cannot corrupt them.
 *
 * Not thread-safe by itself: pd_alloc.c holds the core lock around every
 * call, but pd_heap_prefetch and the lookup of a block known to stay live. */
#ifndef PD_HEAP_H
#define PD_HEAP_H

#include "pd_core.h"

#define PD_FRONT 32 /* slot start -> user pointer */

/* A block's registry entry: three cache lines, so that what every
 * allocation and free reads sits in one.  The first holds the facts the
 * checks need (b.state == 0: the slot is free); the sites, written once
 * each and read only by reports, have a line apiece.  pd_entry_info puts
 * the three together as the pd_block_info reports take. */
typedef struct {
    uintptr_t addr;
    size_t size;
    uint64_t serial;
    uint8_t domain;
    uint8_t state;
    uint8_t poison;          /* see pd_block_info */
    uint8_t birth;           /* see pd_block_info */
    uint32_t rear;
    uintptr_t type_words[3]; /* see pd_block_info */
    uintptr_t otype;
} pd_entry_core;
_Static_assert(sizeof(pd_entry_core) <= 64, "what every allocation and free reads: one line");

typedef struct pd_entry {
    _Alignas(64) pd_entry_core b;
    _Alignas(64) pd_site alloc;
    _Alignas(64) pd_site free;
} pd_entry;

/* The facts of the entry's first line only, its sites not filled in: what
 * a walk of every block needs, at one cache line a block instead of three. */
static inline void pd_entry_core_info(const pd_entry *e, pd_block_info *out)
{
    out->addr = e->b.addr;
    out->size = e->b.size;
    out->serial = e->b.serial;
    out->domain = e->b.domain;
    out->state = e->b.state;
    out->rear = e->b.rear;
    for (int i = 0; i < 3; i++)
        out->type_words[i] = e->b.type_words[i];
    out->obj = 0;
    out->otype = e->b.otype;
    out->poison = e->b.poison;
    out->birth = e->b.birth;
}

static inline void pd_entry_info(const pd_entry *e, pd_block_info *out)
{
    pd_entry_core_info(e, out);
    out->alloc = e->alloc;
    out->free = e->free;
}

/* Object tags: one byte per slot, in an array of the slab's own beside
 * its entries, so that a walk of every live object reads 64 slots' tags a
 * cache line instead of one entry a line, and then the object itself:
 *
 *   PD_TAG_NONE     free, quarantined, or a block of the raw or mem domain;
 *   PD_TAG_UNKNOWN  a live object-domain block whose object no walk has
 *                   found yet (new, or holding no object: a dict's keys);
 *   PD_TAG_AT(off)  a live object-domain block with an object at user
 *                   pointer + off (0, 16 or 32: behind no header, a GC
 *                   header, a GC header and a pre-header).
 *
 * An object stays where it was made until its block is freed, so a tag,
 * once found, holds to the free; the allocator writes the first two
 * (pd_alloc.c), a walk the third. */
enum { PD_TAG_NONE = 0, PD_TAG_UNKNOWN = 1 };
#define PD_TAG_AT(off) ((uint8_t)(2 + (off) / 16))

/* The tag of a block of the heap (not of the guarded pool). */
uint8_t *pd_heap_tag(const pd_entry *e);

/* Every block tagged other than PD_TAG_NONE: unknown(e) for an untagged
 * one; for those whose object a walk found, known(objs, n) with the
 * objects' addresses, up to PD_OBJ_BATCH at a time.  Lock held. */
enum { PD_OBJ_BATCH = 256 };
void pd_heap_visit_objects(void (*unknown)(pd_entry *e, void *arg),
                           void (*known)(const uintptr_t *objs, size_t n, void *arg),
                           void *arg);

/* Reserve the heap.  Returns 0, or -1 if the range cannot be reserved. */
int pd_heap_init(size_t reserve_bytes);

/* What a slot held before: the freed block whose fill the caller
 * verifies before reusing the slot (state PD_QUARANTINED), or nothing
 * (state 0: a slot never used, or a large span, verified as it was
 * released).  The free slots carry it, so that an allocation need not
 * read the slot's entry - by then long untouched, a wait for memory -
 * before it writes it. */
typedef struct {
    uint32_t size;
    uint8_t rear;
    uint8_t state;
    uint8_t poison; /* see pd_block_info */
} pd_slot_past;

/* A block able to hold n user bytes; returns its user pointer and entry,
 * with the entry's previous contents still there, what the slot held
 * (*past), the bytes of slot left after the user bytes, or NULL when the
 * heap is exhausted.  *fresh_arena is set when a new arena was
 * committed. */
void *pd_heap_alloc(size_t n, pd_entry **entry, pd_slot_past *past, size_t *slack,
                    int *fresh_arena);

/* Give a block's slot back.  A small block's entry keeps its facts, state
 * PD_QUARANTINED included, until the slot is handed out again: the block
 * is then still known as freed (a later free of it is a double free), and
 * pd_heap_alloc's caller verifies its freed fill when it reuses the slot,
 * while that memory is being touched anyway.  A large block's entry is
 * cleared (its pages go back to the kernel, verified before). */
void pd_heap_release(pd_entry *e, uintptr_t addr, size_t size, uint32_t rear, uint8_t poison,
                     int cold);
/* addr, size, rear, poison: e's user pointer, size, rear guard and poison, passed so that
 * a release out of the quarantine need not read e. */
/* cold: the block comes out of the quarantine, long untouched; the class's
 * next allocation takes its slot, so the slot and its entry start loading
 * now. */
/* Whether a block of n user bytes is large: it has a span of its own,
 * released verified (its pages go back to the kernel), not on reuse. */
#define PD_MAX_SMALL 32768
static inline int pd_heap_is_large(size_t n)
{
    return PD_FRONT + n + PD_GUARD > PD_MAX_SMALL;
}

typedef enum { PD_NOT_OURS = 0, PD_EXACT, PD_INTERIOR, PD_NO_BLOCK } pd_where;

/* Where p is: outside the heap, the user pointer of a block in use (live
 * or quarantined), inside one, or in heap memory holding no block.  Safe
 * without the lock for a block that stays live meanwhile: the slab tables
 * leading to its entry were written before it was handed out, and the
 * heap's top is read atomically. */
pd_where pd_heap_lookup(uintptr_t p, pd_entry **entry);
/* Whether p lies in the heap's range (pd_heap_lookup's first test). */
int pd_heap_owns(uintptr_t p);
/* Start loading the entry of the block at p (a pointer about to be
 * freed), if it is a small block of ours - the line a free reads and the
 * one its site goes to: the caller then does other work (capturing that
 * site) while they arrive, most likely from far.  Reads nothing but our
 * own tables.  Returns that entry, or NULL when p is not in a small slab:
 * since a small slab keeps its class for good, it is the entry
 * pd_heap_lookup would find for p, then and later. */
pd_entry *pd_heap_prefetch(uintptr_t p);

/* pd_heap_lookup, for a p whose entry pd_heap_prefetch returned. */
static inline pd_where pd_heap_lookup_hinted(uintptr_t p, pd_entry *hint, pd_entry **entry)
{
    if (hint == NULL)
        return pd_heap_lookup(p, entry);
    if (hint->b.state == 0)
        return PD_NO_BLOCK;
    *entry = hint;
    return p == hint->b.addr ? PD_EXACT : PD_INTERIOR;
}

/* pd_serial_of_live (pd_core.h), inline for the allocator hooks, which
 * ask it at every allocation and free.  A heap address always leads to
 * the same entry (slabs keep their class for good, a large span its
 * head), so each thread remembers the entries of the last objects it
 * asked about and reads the serial and state there again on each
 * question: nothing needs invalidating when a block dies and another
 * takes its slot.  An address outside both the heap and the guarded pool
 * is never ours: it is remembered with an entry that holds no block. */
#define PD_LIVE_CACHE 16
typedef struct {
    uintptr_t key;
    const pd_entry *e;
} pd_live_slot;
extern _Thread_local __attribute__((tls_model("initial-exec")))
pd_live_slot pd_live_cache[PD_LIVE_CACHE];
/* The miss: finds and remembers the entry (out of line, so that the hit
 * saves no registers). */
uint64_t pd_serial_of_live_miss(uintptr_t k, size_t i);

/* The serial in e, when k is the object it holds (at its start, or behind
 * a GC header or a pre-header) and the block is live. */
static inline uint64_t pd_live_serial(const pd_entry *e, uintptr_t k)
{
    uintptr_t back = k - e->b.addr;
    if (e->b.state != PD_LIVE || (back != 0 && back != 16 && back != 32))
        return 0;
    return e->b.serial;
}

static inline uint64_t pd_live_serial_of(const void *p)
{
    uintptr_t k = (uintptr_t)p;
    size_t i = (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 60);
    const pd_entry *e = pd_live_cache[i].e;
    if (__builtin_expect(pd_live_cache[i].key != k || e == NULL, 0))
        return pd_serial_of_live_miss(k, i);
    return pd_live_serial(e, k);
}

/* For the unit tests: how many (class, offset) pairs the multiply that
 * finds a slot's index gets wrong; 0 is the only right answer. */
int pd_heap_check_index(void);

/* Visit every entry in use, in address order, starting at *cursor (0 at
 * first); stops after max entries; returns how many were copied; *cursor
 * is 0 after the last. */
int pd_heap_walk(uint64_t *cursor, pd_block_info *out, int max);

/* Call fn on every entry in use, in address order. */
void pd_heap_visit(void (*fn)(pd_entry *e, void *arg), void *arg);

/* Per size class, for statistics in PYTHONMALLOCSTATS' shape. */
struct pd_class_stats {
    uint32_t size;         /* slot size */
    uint32_t slabs;        /* "pools" */
    uint64_t in_use;       /* live or quarantined */
    uint64_t avail;
};

int pd_heap_classes(pd_class_stats *out, int max);
void pd_heap_totals(uint64_t *arenas, uint64_t *committed, uint64_t *large_blocks,
                    uint64_t *large_bytes, uint64_t *meta_bytes);

#endif
