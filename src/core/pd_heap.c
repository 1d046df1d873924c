/* pd_heap.c - see pd_heap.h. */
#define _GNU_SOURCE
#include "pd_heap.h"

#include <string.h>
#include <sys/mman.h>

#include "pd_sys.h"

#define SLAB_SHIFT 16
#define SLAB_SIZE ((size_t)1 << SLAB_SHIFT)
#define ARENA_SIZE ((size_t)1 << 20)
#define MAX_SMALL PD_MAX_SMALL
#define NCLASSES 48

enum { SLAB_UNUSED = 0, SLAB_SMALL, SLAB_LARGE, SLAB_CONT };

typedef struct {
    uint8_t kind;
    uint8_t cls;
    uint32_t back;       /* SLAB_CONT: distance to the span's head */
    uint32_t nslabs;     /* SLAB_LARGE: span length */
    uint32_t slot_size;
    uint32_t slot_inv;   /* SLAB_SMALL: 2^32 / slot_size, rounded up (see slot_index) */
    uint32_t nslots;
    uint32_t next_free;  /* SLAB_LARGE on the free-span list: next head + 1 */
    pd_entry *meta;
} slab_desc;

static uintptr_t heap_lo;
static size_t reserve, committed, bump;
static slab_desc *slabs;

static uint32_t class_size[NCLASSES];
static int nclasses;
static uint8_t class_of_16th[MAX_SMALL / 16 + 1]; /* (total+15)/16 -> class */
/* Free slots of each class: a stack of (slot, entry) kept apart from the
 * slots, so giving a slot back does not touch its (by then cold) memory,
 * and taking one, or looking at the next one, needs no arithmetic. */
typedef struct {
    uintptr_t slot;
    pd_entry *e;
    pd_slot_past past;
} free_slot;
static struct {
    free_slot *v;
    size_t n, cap;
} free_slots[NCLASSES];
static uint32_t class_slabs[NCLASSES];
static uint64_t class_in_use[NCLASSES], class_avail[NCLASSES];

static uint32_t large_free_head; /* slab index + 1 */
static uint64_t large_blocks, large_bytes, meta_bytes;

static void build_classes(void)
{
    /* 48..128 by 16, then four steps per doubling up to 32 KiB. */
    for (uint32_t s = 48; s <= 128; s += 16)
        class_size[nclasses++] = s;
    for (uint32_t base = 128; base < MAX_SMALL; base *= 2)
        for (uint32_t k = 1; k <= 4; k++)
            class_size[nclasses++] = base + k * base / 4;
    int c = 0;
    for (size_t i = 0; i <= MAX_SMALL / 16; i++) {
        while (class_size[c] < i * 16)
            c++;
        class_of_16th[i] = (uint8_t)c;
    }
}

int pd_heap_init(size_t reserve_bytes)
{
    reserve = reserve_bytes & ~(ARENA_SIZE - 1);
    void *p = mmap(NULL, reserve, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    heap_lo = (uintptr_t)p;
    size_t nslabs = reserve >> SLAB_SHIFT;
    void *d = mmap(NULL, nslabs * sizeof(slab_desc), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (d == MAP_FAILED) {
        munmap(p, reserve);
        return -1;
    }
    slabs = d;
    build_classes();
    return 0;
}

/* Take n slabs from the top of the heap, committing arenas as needed. */
static uintptr_t take_slabs(size_t n, int *fresh_arena)
{
    size_t need = n << SLAB_SHIFT;
    if (bump + need > reserve)
        return 0;
    while (bump + need > committed) {
        if (mprotect((void *)(heap_lo + committed), ARENA_SIZE, PROT_READ | PROT_WRITE) != 0)
            return 0;
        committed += ARENA_SIZE;
        *fresh_arena = 1;
    }
    uintptr_t p = heap_lo + bump;
    __atomic_store_n(&bump, bump + need, __ATOMIC_RELAXED); /* read unlocked: see pd_heap_lookup */
    return p;
}

static slab_desc *desc_of(uintptr_t p)
{
    slab_desc *d = &slabs[(p - heap_lo) >> SLAB_SHIFT];
    return d->kind == SLAB_CONT ? d - d->back : d;
}

static uintptr_t slab_base(const slab_desc *d)
{
    return heap_lo + ((uintptr_t)(d - slabs) << SLAB_SHIFT);
}

/* The slot an offset into a small slab falls in, by a multiply: a division
 * on every allocation and free cost more than the rest of the lookup.  With
 * offsets below 2^16 and the reciprocal rounded up, the error stays under
 * 2^-16, too little to carry past a slot boundary (pd_heap_check_index
 * tries every class and offset). */
static uint32_t reciprocal(uint32_t slot_size)
{
    return (uint32_t)((((uint64_t)1 << 32) / slot_size) + 1);
}

static uint32_t slot_index(const slab_desc *d, uintptr_t off)
{
    return (uint32_t)(((uint64_t)off * d->slot_inv) >> 32);
}

int pd_heap_check_index(void)
{
    int bad = 0;
    for (int c = 0; c < nclasses; c++) {
        slab_desc d = {.slot_size = class_size[c], .slot_inv = reciprocal(class_size[c])};
        for (uintptr_t off = 0; off < SLAB_SIZE; off++)
            bad += slot_index(&d, off) != off / class_size[c];
    }
    return bad;
}

static __attribute__((noinline)) void grow_free(int c)
{
    size_t ncap = free_slots[c].cap ? free_slots[c].cap * 2 : 4096;
    free_slots[c].v = pd_sys_grow(free_slots[c].v, free_slots[c].cap * sizeof(free_slot),
                                  ncap * sizeof(free_slot));
    meta_bytes += (ncap - free_slots[c].cap) * sizeof(free_slot);
    free_slots[c].cap = ncap;
}

static inline void push_free(int c, uintptr_t slot, pd_entry *e, pd_slot_past past)
{
    if (__builtin_expect(free_slots[c].n == free_slots[c].cap, 0))
        grow_free(c);
    free_slots[c].v[free_slots[c].n++] = (free_slot){slot, e, past};
}

static int new_slab(int c, int *fresh_arena)
{
    uintptr_t base = take_slabs(1, fresh_arena);
    if (base == 0)
        return -1;
    slab_desc *d = desc_of(base);
    d->cls = (uint8_t)c;
    d->slot_size = class_size[c];
    d->slot_inv = reciprocal(class_size[c]);
    d->nslots = (uint32_t)(SLAB_SIZE / class_size[c]);
    size_t mb = d->nslots * (sizeof(pd_entry) + 1); /* the entries, then the tags */
    d->meta = pd_sys_map(mb);
    meta_bytes += mb;
    /* Last, and released: pd_heap_prefetch, without the lock, trusts the
     * rest of a slab it sees as small. */
    __atomic_store_n(&d->kind, SLAB_SMALL, __ATOMIC_RELEASE);
    /* Push in reverse so the lowest slot is handed out first. */
    for (uint32_t i = d->nslots; i-- > 0;)
        push_free(c, base + (uintptr_t)i * d->slot_size, &d->meta[i], (pd_slot_past){0, 0, 0, 0});
    class_slabs[c]++;
    class_avail[c] += d->nslots;
    return 0;
}

/* The next allocation of a class takes the slot now on top of its stack:
 * start loading that slot and its entry now.  A slot leaving the
 * quarantine has gone cold; its freed fill is read and overwritten when it
 * is handed out, and its entry written; between two allocations of a
 * class the interpreter usually runs long enough to hide the miss.
 * Inlined by force: a function that only prefetches counts as pure to GCC,
 * and a call to a pure function whose result nobody uses is deleted. */
static inline __attribute__((always_inline)) void prefetch_slot(const free_slot *f,
                                                                uint32_t size)
{
    const char *p = (const char *)f->slot;
    __builtin_prefetch(p, 1);
    if (size > 64) { /* up to 256 bytes: what the checks and fills of most blocks touch */
        __builtin_prefetch(p + 64, 1);
        if (size > 128) {
            __builtin_prefetch(p + 128, 1);
            if (size > 192)
                __builtin_prefetch(p + 192, 1);
        }
    }
    __builtin_prefetch(&f->e->b, 1); /* written, not read: an RFO */
    __builtin_prefetch(&f->e->alloc, 1);
}

static void *alloc_small(int c, pd_entry **entry, pd_slot_past *past, int *fresh_arena)
{
    if (free_slots[c].n == 0 && new_slab(c, fresh_arena) < 0)
        return NULL;
    free_slot f = free_slots[c].v[--free_slots[c].n];
    class_avail[c]--;
    class_in_use[c]++;
    *entry = f.e;
    *past = f.past;
    if (free_slots[c].n)
        prefetch_slot(&free_slots[c].v[free_slots[c].n - 1], class_size[c]);
    return (void *)f.slot;
}

static void *alloc_large(size_t total, pd_entry **entry, int *fresh_arena)
{
    size_t n = (total + SLAB_SIZE - 1) >> SLAB_SHIFT;
    /* First fit among freed spans of exactly this length; else new. */
    uint32_t *link = &large_free_head;
    slab_desc *d = NULL;
    while (*link) {
        slab_desc *cand = &slabs[*link - 1];
        if (cand->nslabs == n) {
            *link = cand->next_free;
            d = cand;
            break;
        }
        link = &cand->next_free;
    }
    if (d == NULL) {
        uintptr_t base = take_slabs(n, fresh_arena);
        if (base == 0)
            return NULL;
        d = desc_of(base);
        d->kind = SLAB_LARGE;
        d->nslabs = (uint32_t)n;
        d->nslots = 1;
        d->slot_size = 0;
        d->meta = pd_sys_map(sizeof(pd_entry) + 1);
        meta_bytes += sizeof(pd_entry) + 1;
        for (size_t k = 1; k < n; k++) {
            d[k].kind = SLAB_CONT;
            d[k].back = (uint32_t)k;
        }
    }
    d->next_free = 0;
    large_blocks++;
    large_bytes += n << SLAB_SHIFT;
    *entry = d->meta;
    return (void *)slab_base(d);
}

void *pd_heap_alloc(size_t n, pd_entry **entry, pd_slot_past *past, size_t *slack,
                    int *fresh_arena)
{
    if (n > reserve)
        return NULL;
    size_t total = PD_FRONT + n + PD_GUARD;
    size_t slot_size;
    unsigned char *slot;
    if (!pd_heap_is_large(n)) {
        int c = class_of_16th[(total + 15) / 16];
        slot = alloc_small(c, entry, past, fresh_arena);
        slot_size = class_size[c];
    } else {
        *past = (pd_slot_past){0, 0, 0, 0};
        slot = alloc_large(total, entry, fresh_arena);
        slot_size = ((total + SLAB_SIZE - 1) >> SLAB_SHIFT) << SLAB_SHIFT;
    }
    if (slot == NULL)
        return NULL;
    *slack = slot_size - PD_FRONT - n;
    return slot + PD_FRONT;
}

void pd_heap_release(pd_entry *e, uintptr_t addr, size_t size, uint32_t rear, uint8_t poison,
                     int cold)
{
    uintptr_t slot = addr - PD_FRONT;
    slab_desc *d = desc_of(slot);
    if (d->kind == SLAB_SMALL) {
        /* The entry keeps its facts (state included) until the slot is
         * handed out again: see pd_heap.h. */
        push_free(d->cls, slot, e,
                  (pd_slot_past){(uint32_t)size, (uint8_t)rear, PD_QUARANTINED, poison});
        class_in_use[d->cls]--;
        class_avail[d->cls]++;
        if (cold)
            prefetch_slot(&free_slots[d->cls].v[free_slots[d->cls].n - 1], d->slot_size);
        return;
    }
    /* A large span: give its pages back to the kernel, keep the range. */
    e->b.state = 0;
    madvise((void *)slot, (size_t)d->nslabs << SLAB_SHIFT, MADV_DONTNEED);
    large_blocks--;
    large_bytes -= (uint64_t)d->nslabs << SLAB_SHIFT;
    d->next_free = large_free_head;
    large_free_head = (uint32_t)(d - slabs) + 1;
}

int pd_heap_owns(uintptr_t p) { return p >= heap_lo && p - heap_lo < reserve; }

pd_where pd_heap_lookup(uintptr_t p, pd_entry **entry)
{
    if (p < heap_lo || p - heap_lo >= reserve)
        return PD_NOT_OURS;
    if (p - heap_lo >= __atomic_load_n(&bump, __ATOMIC_RELAXED))
        return PD_NO_BLOCK;
    slab_desc *d = desc_of(p);
    pd_entry *e;
    if (d->kind == SLAB_SMALL) {
        uint32_t i = slot_index(d, p - slab_base(d));
        if (i >= d->nslots)
            return PD_NO_BLOCK;
        e = &d->meta[i];
    } else if (d->kind == SLAB_LARGE) {
        e = d->meta;
    } else {
        return PD_NO_BLOCK;
    }
    if (e->b.state == 0)
        return PD_NO_BLOCK;
    *entry = e;
    return p == e->b.addr ? PD_EXACT : PD_INTERIOR;
}

pd_entry *pd_heap_prefetch(uintptr_t p)
{
    if (p < heap_lo || p - heap_lo >= __atomic_load_n(&bump, __ATOMIC_RELAXED))
        return NULL;
    slab_desc *d = &slabs[(p - heap_lo) >> SLAB_SHIFT]; /* a small slab is its own head */
    if (__atomic_load_n(&d->kind, __ATOMIC_ACQUIRE) != SLAB_SMALL)
        return NULL;
    uint32_t i = slot_index(d, p - slab_base(d));
    if (i >= d->nslots)
        return NULL;
    __builtin_prefetch(&d->meta[i].b, 1);
    __builtin_prefetch(&d->meta[i].free, 1);
    return &d->meta[i];
}

int pd_heap_walk(uint64_t *cursor, pd_block_info *out, int max)
{
    uint64_t s = *cursor >> 20, i = *cursor & 0xFFFFF;
    uint64_t top = bump >> SLAB_SHIFT;
    int n = 0;
    for (; s < top; s++, i = 0) {
        slab_desc *d = &slabs[s];
        if (d->kind != SLAB_SMALL && d->kind != SLAB_LARGE)
            continue;
        for (; i < d->nslots; i++) {
            if (n == max) {
                *cursor = (s << 20) | i;
                return n;
            }
            if (d->meta[i].b.state != 0)
                pd_entry_info(&d->meta[i], &out[n++]);
        }
    }
    *cursor = 0;
    return n;
}

static uint8_t *tags_of(const slab_desc *d) { return (uint8_t *)(d->meta + d->nslots); }

uint8_t *pd_heap_tag(const pd_entry *e)
{
    /* a block's user pointer lies in its slot's slab, or a span's head */
    const slab_desc *d = desc_of(e->b.addr);
    return &tags_of(d)[e - d->meta];
}

void pd_heap_visit_objects(void (*unknown)(pd_entry *e, void *arg),
                           void (*known)(const uintptr_t *objs, size_t n, void *arg),
                           void *arg)
{
    uintptr_t batch[PD_OBJ_BATCH];
    size_t n = 0;
    uint64_t top = bump >> SLAB_SHIFT;
    for (uint64_t s = 0; s < top; s++) {
        slab_desc *d = &slabs[s];
        if (d->kind != SLAB_SMALL && d->kind != SLAB_LARGE)
            continue;
        const uint8_t *tags = tags_of(d);
        uintptr_t user = slab_base(d) + PD_FRONT;
        for (uint32_t i = 0; i < d->nslots; i++) {
            /* most slots of a walked heap are empty: eight tags at a time */
            if (i % 8 == 0 && i + 8 <= d->nslots) {
                uint64_t eight;
                memcpy(&eight, tags + i, sizeof eight);
                if (eight == 0) {
                    i += 7;
                    continue;
                }
            }
            uint8_t t = tags[i];
            if (t == PD_TAG_NONE)
                continue;
            if (t == PD_TAG_UNKNOWN) {
                unknown(&d->meta[i], arg);
                continue;
            }
            batch[n++] = user + i * (uintptr_t)d->slot_size + (uintptr_t)(t - 2) * 16;
            if (n == PD_OBJ_BATCH) {
                known(batch, n, arg);
                n = 0;
            }
        }
    }
    if (n != 0)
        known(batch, n, arg);
}

void pd_heap_visit(void (*fn)(pd_entry *e, void *arg), void *arg)
{
    uint64_t top = bump >> SLAB_SHIFT;
    for (uint64_t s = 0; s < top; s++) {
        slab_desc *d = &slabs[s];
        if (d->kind != SLAB_SMALL && d->kind != SLAB_LARGE)
            continue;
        /* Walks read each live block's first bytes (an object's count):
         * ask for a block a few slots ahead while this one is visited. */
        for (uint32_t i = 0; i < d->nslots; i++) {
            if (i + 12 < d->nslots)
                __builtin_prefetch(&d->meta[i + 12].b);
            if (i + 4 < d->nslots && d->meta[i + 4].b.state != 0)
                __builtin_prefetch((const void *)d->meta[i + 4].b.addr);
            if (d->meta[i].b.state != 0)
                fn(&d->meta[i], arg);
        }
    }
}

int pd_heap_classes(pd_class_stats *out, int max)
{
    int n = 0;
    for (int c = 0; c < nclasses && n < max; c++) {
        if (class_slabs[c] == 0)
            continue;
        out[n].size = class_size[c];
        out[n].slabs = class_slabs[c];
        out[n].in_use = class_in_use[c];
        out[n].avail = class_avail[c];
        n++;
    }
    return n;
}

void pd_heap_totals(uint64_t *arenas, uint64_t *committed_bytes, uint64_t *lblocks,
                    uint64_t *lbytes, uint64_t *mbytes)
{
    *arenas = committed / ARENA_SIZE;
    *committed_bytes = committed;
    *lblocks = large_blocks;
    *lbytes = large_bytes;
    *mbytes = meta_bytes;
}
