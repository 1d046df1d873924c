/* pd_pymwalk.c - see pd_pymwalk.h. */
#include <Python.h>

#include <stdio.h>
#include <string.h>

#include "interp/pd_interp.h"
#include "pd_pymwalk.h"
#include "../core/pd_sys.h"

typedef pd_interp_pool pool;
#define POOL_SZ PD_INTERP_POOL_SIZE
#define POOL_HEAD ((sizeof(pool) + 15) & ~(size_t)15)
#define SMALL_MAX PD_INTERP_SMALL_MAX
#define NCLASSES (SMALL_MAX / 16)

static int active;
int pd_pym_active(void) { return active; }

/* A debug build puts CPython's debug hooks (PYMEM_DEBUG) between the
 * object domain and pymalloc: each block then starts with a 16-byte header
 * (the size, the API's letter, 7 forbidden bytes) and ends with 8 forbidden
 * bytes (and a serial number in some versions), and a request of n bytes
 * takes n + 32 or so from pymalloc. */
static size_t debug_head, debug_extra;

/* Arenas ---------------------------------------------------------------------
 * A sorted array of (base, size), in a private mapping: an arena comes and
 * goes rarely, a lookup is a binary search. */

typedef struct {
    uintptr_t base;
    size_t size;
} arena;

static arena *arenas;
static size_t narenas, arenas_cap;
static PyObjectArenaAllocator prev_arena;

static size_t arena_index(uintptr_t a) /* first arena with base > a */
{
    size_t lo = 0, hi = narenas;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (arenas[mid].base <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void *arena_alloc(void *ctx, size_t size)
{
    (void)ctx;
    void *p = prev_arena.alloc(prev_arena.ctx, size);
    if (p == NULL)
        return NULL;
    if (narenas == arenas_cap) {
        size_t cap = arenas_cap ? arenas_cap * 2 : 256;
        arenas = pd_sys_grow(arenas, arenas_cap * sizeof *arenas, cap * sizeof *arenas);
        arenas_cap = cap;
    }
    size_t i = arena_index((uintptr_t)p);
    memmove(&arenas[i + 1], &arenas[i], (narenas - i) * sizeof *arenas);
    arenas[i].base = (uintptr_t)p;
    arenas[i].size = size;
    narenas++;
    return p;
}

static void arena_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    size_t i = arena_index((uintptr_t)p);
    if (i > 0 && arenas[i - 1].base == (uintptr_t)p) {
        memmove(&arenas[i - 1], &arenas[i], (narenas - i) * sizeof *arenas);
        narenas--;
    }
    prev_arena.free(prev_arena.ctx, p, size);
}

/* A pool whose header we trust: in use, a small size class, and sizes that
 * add up. */
static size_t pool_block_size(const pool *p)
{
    if (p->ref.count == 0 || p->szidx >= NCLASSES)
        return 0;
    size_t size = ((size_t)p->szidx + 1) << 4;
    if (p->maxnextoffset + size != POOL_SZ || p->nextoffset > POOL_SZ ||
        p->nextoffset < POOL_HEAD)
        return 0;
    return size;
}

/* Large blocks ---------------------------------------------------------------
 * Object-domain blocks above pymalloc's threshold (and all blocks pymalloc
 * sends to the system allocator): an open-addressing set, address -> size,
 * in a private mapping. */

typedef struct {
    uintptr_t addr;   /* 0 empty, 1 deleted */
    size_t size;
} big;

static big *bigs;
static size_t bigs_cap, bigs_used, bigs_live;
static PyMemAllocatorEx prev_obj;

static size_t big_hash(uintptr_t a) { return (size_t)((a >> 4) * 0x9E3779B97F4A7C15ull); }

static void big_put(big *tab, size_t cap, uintptr_t a, size_t size)
{
    size_t i = big_hash(a) & (cap - 1);
    while (tab[i].addr > 1)
        i = (i + 1) & (cap - 1);
    tab[i].addr = a;
    tab[i].size = size;
}

static void big_add(void *p, size_t size)
{
    if ((bigs_used + 1) * 2 > bigs_cap) {
        size_t cap = bigs_live * 4 < bigs_cap ? bigs_cap : bigs_cap ? bigs_cap * 2 : 4096;
        big *tab = pd_sys_map(cap * sizeof *tab);
        for (size_t i = 0; i < bigs_cap; i++)
            if (bigs[i].addr > 1)
                big_put(tab, cap, bigs[i].addr, bigs[i].size);
        pd_sys_unmap(bigs, bigs_cap * sizeof *bigs);
        bigs = tab;
        bigs_cap = cap;
        bigs_used = bigs_live;
    }
    big_put(bigs, bigs_cap, (uintptr_t)p, size);
    bigs_used++;
    bigs_live++;
}

static big *big_find(uintptr_t a)
{
    if (bigs_cap == 0)
        return NULL;
    for (size_t i = big_hash(a) & (bigs_cap - 1); bigs[i].addr != 0; i = (i + 1) & (bigs_cap - 1))
        if (bigs[i].addr == a)
            return &bigs[i];
    return NULL;
}

static int big_remove(void *p)
{
    big *b = big_find((uintptr_t)p);
    if (b == NULL)
        return 0;
    b->addr = 1;
    bigs_live--;
    return 1;
}

/* Does pymalloc send a request of n bytes to the system allocator? */
static int is_big(size_t n) { return n + debug_extra > SMALL_MAX; }

static void *obj_malloc(void *ctx, size_t n)
{
    (void)ctx;
    void *p = prev_obj.malloc(prev_obj.ctx, n);
    if (p != NULL && is_big(n))
        big_add(p, n);
    return p;
}

static void *obj_calloc(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    void *p = prev_obj.calloc(prev_obj.ctx, nelem, elsize);
    if (p != NULL && is_big(nelem * elsize))
        big_add(p, nelem * elsize);
    return p;
}

/* pymalloc keeps a block it did not allocate with the system allocator
 * whatever its new size; a small block that grows goes there too. */
static void *obj_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    int was_big = p != NULL && big_find((uintptr_t)p) != NULL;
    void *q = prev_obj.realloc(prev_obj.ctx, p, n);
    if (q == NULL)
        return NULL;
    if (was_big)
        big_remove(p);
    if (was_big || is_big(n))
        big_add(q, n);
    return q;
}

static void obj_free(void *ctx, void *p)
{
    (void)ctx;
    if (p != NULL)
        big_remove(p);
    prev_obj.free(prev_obj.ctx, p);
}

static int install(void)
{
    PyObject_GetArenaAllocator(&prev_arena);
    PyObjectArenaAllocator a = {NULL, arena_alloc, arena_free};
    PyObject_SetArenaAllocator(&a);
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &prev_obj);
    /* Which allocator pre-initialization chose (PYTHONMALLOC, or the
     * build's default): the debug hooks on pymalloc shift every block. */
    int which = pd_interp_allocator();
#ifdef Py_DEBUG
    if (which == PYMEM_ALLOCATOR_NOT_SET || which == PYMEM_ALLOCATOR_DEFAULT)
        which = PYMEM_ALLOCATOR_PYMALLOC_DEBUG;
#endif
    if (which == PYMEM_ALLOCATOR_DEBUG || which == PYMEM_ALLOCATOR_PYMALLOC_DEBUG) {
        debug_head = 16;
        debug_extra = 40; /* header, tail, serial: an upper bound */
    }
    PyMemAllocatorEx o = {NULL, obj_malloc, obj_calloc, obj_realloc, obj_free};
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &o);
    return 0;
}

int pd_pym_install(void)
{
    install();
    active = 1;
    return 0;
}

void pd_pym_track(void) { install(); }

/* Walking --------------------------------------------------------------------- */

static void block_info(pd_block_info *b, uintptr_t addr, size_t size)
{
    memset(b, 0, sizeof *b);
    b->addr = addr;
    b->size = size;
    b->domain = PD_OBJ;
    b->state = PD_LIVE;
}

/* Mark the pool's free blocks (its free list) in `free`, one bit per
 * block.  A free block may still hold a dead object's bytes beyond its
 * first word, which could pass for a live object behind a GC header: only
 * the free list tells.  The walk is bounded and stays inside the pool. */
#define POOL_BLOCKS (POOL_SZ / 16)

static void free_blocks(const pool *pl, size_t size, uint64_t free[POOL_BLOCKS / 64])
{
    memset(free, 0, POOL_BLOCKS / 8);
    uintptr_t p = (uintptr_t)pl;
    unsigned char *bp = pl->freeblock;
    for (size_t n = 0; bp != NULL && n < POOL_BLOCKS; n++) {
        uintptr_t a = (uintptr_t)bp;
        if (a < p + POOL_HEAD || a + size > p + POOL_SZ || (a - p - POOL_HEAD) % size)
            break; /* not a block of this pool: stop trusting the list */
        size_t i = (a - p - POOL_HEAD) / size;
        free[i / 64] |= (uint64_t)1 << (i % 64);
        memcpy(&bp, bp, sizeof bp);
    }
}

void pd_pym_visit(pd_visit_fn fn, void *arg)
{
    pd_block_info b;
    uint64_t free[POOL_BLOCKS / 64];
    for (size_t k = 0; k < narenas; k++) {
        uintptr_t end = arenas[k].base + arenas[k].size;
        uintptr_t p0 = (arenas[k].base + POOL_SZ - 1) & ~(POOL_SZ - 1);
        for (uintptr_t p = p0; p + POOL_SZ <= end; p += POOL_SZ) {
            const pool *pl = (const pool *)p;
            size_t size = pool_block_size(pl);
            if (size == 0)
                continue;
            free_blocks(pl, size, free);
            size_t i = 0;
            for (uintptr_t off = POOL_HEAD; off + size <= pl->nextoffset; off += size, i++) {
                if (free[i / 64] >> (i % 64) & 1)
                    continue;
                block_info(&b, p + off + debug_head, size - debug_head);
                fn(&b, arg);
            }
        }
    }
    for (size_t i = 0; i < bigs_cap; i++) {
        if (bigs[i].addr > 1) {
            block_info(&b, bigs[i].addr, bigs[i].size);
            fn(&b, arg);
        }
    }
}

int pd_pym_find(uintptr_t addr, pd_block_info *out)
{
    size_t i = arena_index(addr);
    if (i > 0 && addr < arenas[i - 1].base + arenas[i - 1].size) {
        uintptr_t p = addr & ~(POOL_SZ - 1);
        if (p < arenas[i - 1].base)
            return 0;
        const pool *pl = (const pool *)p;
        size_t size = pool_block_size(pl);
        if (size == 0 || addr < p + POOL_HEAD)
            return 0;
        uintptr_t blk = p + POOL_HEAD + (addr - p - POOL_HEAD) / size * size;
        if (blk + size > p + pl->nextoffset || addr < blk + debug_head)
            return 0;
        uint64_t free[POOL_BLOCKS / 64];
        free_blocks(pl, size, free);
        size_t i = (blk - p - POOL_HEAD) / size;
        if (free[i / 64] >> (i % 64) & 1)
            return 0;
        block_info(out, blk + debug_head, size - debug_head);
        return 1;
    }
    /* A large block: objects sit at its start or 16 or 32 bytes in. */
    for (uintptr_t back = 0; back <= 32; back += 16) {
        big *b = big_find(addr - back);
        if (b != NULL && addr < b->addr + b->size) {
            block_info(out, b->addr, b->size);
            return 1;
        }
    }
    return 0;
}

int pd_pym_selftest(void)
{
    PyObject *f = PyFloat_FromDouble(1.25);
    PyObject *big_one = PyBytes_FromStringAndSize(NULL, 4000);
    pd_block_info b;
    int ok = f && big_one && pd_pym_find((uintptr_t)f, &b) && b.addr == (uintptr_t)f &&
             pd_pym_find((uintptr_t)big_one, &b) && b.addr == (uintptr_t)big_one;
    Py_XDECREF(f);
    Py_XDECREF(big_one);
    PyErr_Clear();
    if (!ok) {
        fprintf(stderr, "python-debug: -X malloc=objects: this interpreter's pymalloc is not "
                        "laid out as expected (PYTHONMALLOC set?); object accounting is off\n");
        active = 0;
    }
    return ok ? 0 : -1;
}
