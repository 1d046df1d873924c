/* pd_guard.c - guarded slots.  See pd_guard.h for the layout and the
 * contract. */
#define _GNU_SOURCE
#include "pd_guard.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pd_sys.h"

#define ALIGN 16

static pd_guard_options gopts;
static uintptr_t base, end;       /* the pool: [base, end) */
uintptr_t pd_guard_lo, pd_guard_span; /* the same, for pd_guard_owns */
static size_t page;
static uint32_t nslots;
static pd_entry *entries;         /* one per slot */
static _Atomic unsigned char *retired; /* slot opened after a fault: never reused */

/* Slots never used are taken in order (next_unused); freed ones wait in a
 * FIFO ring of slot numbers, so the longest-freed slot is reused first and
 * a freed block stays inaccessible as long as the pool allows. */
static uint32_t next_unused;
static uint32_t *freed_ring;
static uint32_t freed_head, freed_count;

/* Each live slot is a readable mapping between two inaccessible ones:
 * the kernel's limit on mappings caps how many can be live at once. */
static uint64_t live, max_live;
static pd_guard_stats gstats;

/* Guard bytes to compare with: memcmp is much faster than a byte loop over
 * the up to a page a free checks. */
static unsigned char guard_page[65536];

static uintptr_t slot_page(uint32_t i) { return base + (2 * (uintptr_t)i + 1) * page; }

static uint64_t map_limit(void)
{
    uint64_t limit = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        unsigned long long v;
        if (fscanf(f, "%llu", &v) == 1)
            limit = v;
        fclose(f);
    }
    /* Leave room for everything else the process maps. */
    return limit > 16384 ? (limit - 16384) / 2 : 0;
}

void pd_guard_init(const pd_guard_options *o)
{
    gopts = *o;
    page = (size_t)sysconf(_SC_PAGESIZE);
    memset(guard_page, PD_FILL_GUARD, sizeof guard_page);
    nslots = (uint32_t)(o->pool_bytes / (2 * page));
    if (nslots == 0)
        return;
    size_t span = (2 * (size_t)nslots + 1) * page;
    void *p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        static const char msg[] = "python-debug: cannot reserve the guarded pool; guards off\n";
        pd_sys_write(2, msg, sizeof msg - 1);
        nslots = 0;
        return;
    }
    entries = pd_sys_map(nslots * sizeof *entries);
    retired = pd_sys_map(nslots);
    freed_ring = pd_sys_map(nslots * sizeof *freed_ring);
    max_live = map_limit();
    gstats.slots = nslots;
    base = (uintptr_t)p;
    end = base + span;
    pd_guard_lo = base;
    pd_guard_span = span;
}

/* Sampling ---------------------------------------------------------------
 * Per thread: a countdown to the next guarded allocation, drawn from the
 * geometric distribution with mean RATE (each allocation is guarded with
 * probability 1/RATE, independently of the others), and a scope depth. */
static _Thread_local uint64_t rng;
static _Thread_local int scope;

static uint64_t next_random(void)
{
    if (rng == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)pd_sys_tid() << 40) ^
              (uintptr_t)&rng;
        rng |= 1;
    }
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t draw_gap(uint32_t rate)
{
    /* The number of Bernoulli(1/rate) trials up to the first success,
     * by inversion: 1 + floor(ln U / ln(1 - 1/rate)), U uniform in (0, 1]. */
    if (rate <= 1)
        return 1;
    double u = (double)((next_random() >> 11) + 1) * 0x1.0p-53;
    return 1 + (int64_t)(log(u) / log1p(-1.0 / rate));
}

_Thread_local int64_t pd_guard_countdown;
static _Thread_local int started;
/* -X guard=all guards what the program allocates, from pd_guard_arm() on:
 * the interpreter's start-up alone would fill every live slot there is
 * (a live slot costs two mappings, and the process has vm.max_map_count
 * of them), leaving the program's own blocks unguarded. */
static atomic_int armed;

void pd_guard_arm(void)
{
    atomic_store_explicit(&armed, 1, memory_order_relaxed);
    pd_guard_countdown = 0;
}

int pd_guard_sample_slow(size_t n)
{
    if (nslots == 0 || (!gopts.all && scope == 0 && gopts.rate == 0)) {
        pd_guard_countdown = INT64_MAX; /* never again on this thread */
        return 0;
    }
    if (scope > 0 || (gopts.all && atomic_load_explicit(&armed, memory_order_relaxed))) {
        pd_guard_countdown = 0; /* every call comes here */
        return n <= page;
    }
    if (gopts.all) { /* not armed yet: ask again at the next call */
        pd_guard_countdown = 1;
        return 0;
    }
    if (!started) { /* this thread's first allocation */
        started = 1;
        pd_guard_countdown = draw_gap(gopts.rate);
        if (--pd_guard_countdown > 0)
            return 0;
    }
    pd_guard_countdown = draw_gap(gopts.rate);
    return n <= page;
}

void pd_guard_scope_enter(void)
{
    scope++;
    pd_guard_countdown = 0;
}

void pd_guard_scope_exit(void)
{
    if (scope > 0 && --scope == 0) {
        started = 0; /* a fresh gap for the sampled mode */
        pd_guard_countdown = 0;
    }
}

/* Slots ----------------------------------------------------------------------- */

static int take_slot(uint32_t *out)
{
    if (next_unused < nslots) {
        *out = next_unused++;
        return 1;
    }
    while (freed_count > 0) {
        uint32_t i = freed_ring[freed_head];
        freed_head = (freed_head + 1) % nslots;
        freed_count--;
        gstats.freed--;
        if (!atomic_load(&retired[i])) {
            *out = i;
            return 1;
        }
    }
    return 0;
}

static void untake_slot(uint32_t i)
{
    /* Back at the front of the line: it is the oldest. */
    freed_head = (freed_head + nslots - 1) % nslots;
    freed_ring[freed_head] = i;
    freed_count++;
    gstats.freed++;
}

void *pd_guard_alloc(size_t n, int zero, pd_entry **entry)
{
    uint32_t i;
    if (nslots == 0 || n > page)
        return NULL;
    if (live >= max_live || !take_slot(&i)) {
        gstats.fallbacks++;
        return NULL;
    }
    unsigned char *pg = (unsigned char *)slot_page(i);
    if (mprotect(pg, page, PROT_READ | PROT_WRITE) != 0) {
        /* Out of mappings after all: the slot stays free. */
        if (entries[i].b.state == 0 && i == next_unused - 1)
            next_unused--;
        else
            untake_slot(i);
        gstats.fallbacks++;
        return NULL;
    }
    size_t span = n ? (n + ALIGN - 1) & ~(size_t)(ALIGN - 1) : ALIGN;
    unsigned char *user = gopts.left ? pg : pg + page - span;
    memset(pg, PD_FILL_GUARD, (size_t)(user - pg));
    memset(user, zero ? 0 : PD_FILL_FRESH, n);
    memset(user + n, PD_FILL_GUARD, (size_t)(pg + page - (user + n)));
    pd_entry *e = &entries[i];
    memset(e, 0, sizeof *e);
    e->b.addr = (uintptr_t)user;
    e->b.size = n;
    e->b.rear = (uint32_t)(pg + page - (user + n));
    live++;
    gstats.live++;
    gstats.guarded++;
    *entry = e;
    return user;
}

pd_where pd_guard_lookup(uintptr_t p, pd_entry **entry)
{
    *entry = NULL;
    if (!pd_guard_owns(p))
        return PD_NOT_OURS;
    uintptr_t idx = (p - base) / page;
    if (idx % 2 == 0)
        return PD_NO_BLOCK;
    pd_entry *e = &entries[(idx - 1) / 2];
    if (e->b.state == 0)
        return PD_NO_BLOCK;
    *entry = e;
    return p == e->b.addr ? PD_EXACT : PD_INTERIOR;
}

static int first_diff(const unsigned char *p, size_t n, size_t *off, size_t *len)
{
    if (n <= sizeof guard_page && memcmp(p, guard_page, n) == 0)
        return 0;
    size_t i = 0;
    while (i < n && p[i] == PD_FILL_GUARD)
        i++;
    if (i == n)
        return 0;
    size_t last = i;
    for (size_t k = i; k < n; k++)
        if (p[k] != PD_FILL_GUARD)
            last = k;
    *off = i;
    *len = last - i + 1;
    return 1;
}

int pd_guard_damage(const pd_block_info *b, ptrdiff_t *off, size_t *len,
                    unsigned char *found, size_t *nfound)
{
    const unsigned char *user = (const unsigned char *)b->addr;
    const unsigned char *pg = (const unsigned char *)(b->addr & ~(uintptr_t)(page - 1));
    size_t o, l;
    if (first_diff(pg, (size_t)(user - pg), &o, &l)) {
        *off = (ptrdiff_t)o - (user - pg);
    } else if (first_diff(user + b->size, b->rear, &o, &l)) {
        *off = (ptrdiff_t)(b->size + o);
    } else {
        return 0;
    }
    *len = l;
    *nfound = l < 16 ? l : 16;
    memcpy(found, user + *off, *nfound);
    return 1;
}

void pd_guard_rearm(const pd_block_info *b)
{
    unsigned char *user = (unsigned char *)b->addr;
    unsigned char *pg = (unsigned char *)(b->addr & ~(uintptr_t)(page - 1));
    memset(pg, PD_FILL_GUARD, (size_t)(user - pg));
    memset(user + b->size, PD_FILL_GUARD, b->rear);
}

void pd_guard_release(pd_entry *e)
{
    uintptr_t pg = e->b.addr & ~(uintptr_t)(page - 1);
    uint32_t i = (uint32_t)((pg - base) / page - 1) / 2;
    mprotect((void *)pg, page, PROT_NONE);
    if (gopts.drop_freed)
        madvise((void *)pg, page, MADV_DONTNEED);
    live--;
    gstats.live--;
    if (atomic_load(&retired[i]))
        return;
    freed_ring[(freed_head + freed_count) % nslots] = i;
    freed_count++;
    gstats.freed++;
}

/* Faults ------------------------------------------------------------------ */

int pd_guard_classify(uintptr_t addr, pd_guard_fault *out)
{
    if (!pd_guard_owns(addr))
        return 0;
    memset(out, 0, sizeof *out);
    uintptr_t idx = (addr - base) / page;
    out->page = base + idx * page;
    out->kind = PD_GUARD_WILD;
    if (idx % 2 == 1) {
        const pd_entry *e = &entries[(idx - 1) / 2];
        if (e->b.state == PD_QUARANTINED) {
            out->kind = PD_GUARD_USE_AFTER_FREE;
            pd_entry_info(e, &out->block);
            out->offset = (ptrdiff_t)(addr - e->b.addr);
        }
        return 1;
    }
    /* A guard page: past the end of the block on its left, or before the
     * start of the block on its right, whichever is nearer. */
    const pd_entry *left = idx >= 2 ? &entries[idx / 2 - 1] : NULL;
    const pd_entry *right = idx / 2 < nslots ? &entries[idx / 2] : NULL;
    uintptr_t dl = left && left->b.state ? addr - (left->b.addr + left->b.size) : UINTPTR_MAX;
    uintptr_t dr = right && right->b.state ? right->b.addr - addr : UINTPTR_MAX;
    if (dl == UINTPTR_MAX && dr == UINTPTR_MAX)
        return 1;
    const pd_entry *e = dl <= dr ? left : right;
    out->kind = dl <= dr ? PD_GUARD_OVERFLOW : PD_GUARD_UNDERFLOW;
    pd_entry_info(e, &out->block);
    out->offset = (ptrdiff_t)(addr - e->b.addr);
    return 1;
}

void pd_guard_open_page(uintptr_t pg)
{
    uintptr_t idx = (pg - base) / page;
    if (idx % 2 == 1) {
        atomic_store(&retired[(idx - 1) / 2], 1);
    } else {
        if (idx >= 2)
            atomic_store(&retired[idx / 2 - 1], 1);
        if (idx / 2 < nslots)
            atomic_store(&retired[idx / 2], 1);
    }
    mprotect((void *)pg, page, PROT_READ | PROT_WRITE);
}

/* Queries ------------------------------------------------------------------ */

void pd_guard_visit(void (*fn)(pd_entry *e, void *arg), void *arg)
{
    for (uint32_t i = 0; i < next_unused; i++)
        if (entries[i].b.state != 0)
            fn(&entries[i], arg);
}

void pd_guard_get_stats(pd_guard_stats *out)
{
    *out = gstats;
    uint64_t r = 0;
    for (uint32_t i = 0; i < next_unused; i++)
        r += atomic_load(&retired[i]) != 0;
    out->retired = r;
}
