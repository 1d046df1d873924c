/* pd_alloc.c - the debug allocator.  See pd_core.h for the block layout
 * and the threading contract.
 *
 * Every entry point takes the one core lock for its registry work only:
 * filling, checking and copying user bytes, calling the underlying
 * allocator and writing reports all happen outside it.  A report may abort
 * the process (the default, like a debug build) or let it continue
 * (-X on_error=continue), in which case the operation is completed in the
 * safest way we know: a double free or an invalid free is dropped, a
 * block freed through the wrong domain is freed through its own. */
#define _GNU_SOURCE
#include "pd_core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_fill.h"
#include "pd_guard.h"
#include "pd_heap.h"
#include "pd_lock.h"
#include "pd_poison.h"
#include "pd_report.h"
#include "pd_stack.h"
#include "pd_sys.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define PD_HAVE_VALGRIND 1
#endif
#endif
#ifndef PD_HAVE_VALGRIND
#define VALGRIND_MAKE_MEM_NOACCESS(a, n) ((void)(a), (void)(n))
#define VALGRIND_MAKE_MEM_UNDEFINED(a, n) ((void)(a), (void)(n))
#define VALGRIND_MAKE_MEM_DEFINED(a, n) ((void)(a), (void)(n))
#endif

static pd_lock lock = PD_LOCK_INIT;
static pd_underlying under[PD_NDOMAINS];
static pd_options opts = {.quarantine_bytes = 0, .report_fd = -1};
static uint64_t next_serial = 1;
static pd_stats stats;               /* under lock, but errors */
static atomic_uint_fast64_t errors;
static atomic_int aborting;

static const char *const domain_names[] = {"raw", "mem", "object"};
static const char *const domain_apis[] = {"PyMem_RawMalloc", "PyMem_Malloc", "PyObject_Malloc"};
static const char *const free_apis[] = {"PyMem_RawFree", "PyMem_Free", "PyObject_Free"};
static const char *const realloc_apis[] = {"PyMem_RawRealloc", "PyMem_Realloc", "PyObject_Realloc"};

const char *pd_domain_name(pd_domain d) { return domain_names[d]; }
const char *pd_domain_api(pd_domain d) { return domain_apis[d]; }
const pd_options *pd_core_options(void) { return &opts; }

void pd_core_init(const pd_options *o)
{
    opts = *o;
    /* Address space may be capped (ulimit -v, or valgrind, which cannot
     * map a shadow of 64 GiB): settle for less, down to 1 GiB. */
    int r;
    while ((r = pd_heap_init(opts.heap_bytes)) < 0 && opts.heap_bytes > ((size_t)1 << 30))
        opts.heap_bytes /= 2;
    if (r < 0) {
        static const char msg[] = "python-debug: cannot reserve address space for the debug heap\n";
        pd_sys_write(2, msg, sizeof msg - 1);
        abort();
    }
    pd_guard_options g = {opts.guard_rate, opts.guard_all, opts.guard_left,
                          opts.guard_pool_bytes,
                          opts.guard_all && opts.on_error != PD_ON_ERROR_CONTINUE};
    pd_guard_init(&g);
}

/* Guarded blocks live in their own pool: every lookup asks it first. */
static pd_where lookup_any(uintptr_t p, pd_entry **e)
{
    pd_where w = pd_guard_lookup(p, e);
    return w == PD_NOT_OURS ? pd_heap_lookup(p, e) : w;
}

void pd_core_set_underlying(pd_domain d, const pd_underlying *u) { under[d] = *u; }

uint64_t pd_error_count(void) { return atomic_load(&errors); }
int pd_core_is_aborting(void) { return atomic_load(&aborting); }

void pd_core_atfork_prepare(void) { pd_lock_take(&lock); }
void pd_core_atfork_parent(void) { pd_lock_give(&lock); }
void pd_core_atfork_child(void) { pd_lock_give(&lock); }

uint32_t pd_core_stack_put(const uintptr_t *words, int n)
{
    pd_lock_take(&lock);
    uint32_t id = pd_depot_put(words, n);
    pd_lock_give(&lock);
    return id;
}

int pd_core_stack_get(uint32_t id, uintptr_t *out, int max)
{
    pd_lock_take(&lock);
    int n = pd_depot_get(id, out, max);
    pd_lock_give(&lock);
    return n;
}

/* Reporting policy ------------------------------------------------------ */

static void raise_bug(pd_bug *bug)
{
    pd_core_raise(bug);
}

void pd_core_raise(pd_bug *bug)
{
    atomic_fetch_add(&errors, 1);
    pd_report_emit(bug);
    if (opts.on_error == PD_ON_ERROR_ABORT) {
        static const char msg[] =
            "==python-debug== aborting (run with -X on_error=continue to keep going)\n";
        pd_sys_write(2, msg, sizeof msg - 1);
        atomic_store(&aborting, 1);
        abort();
    }
}

static void bug_init(pd_bug *bug, pd_bug_kind kind, const char *api, const void *p,
                     const pd_site *now)
{
    memset(bug, 0, sizeof *bug);
    bug->kind = kind;
    bug->api = api;
    bug->ptr = (uintptr_t)p;
    bug->now = now;
}

static void set_damage(pd_bug *bug, const unsigned char *user, ptrdiff_t off, size_t len,
                       unsigned char want)
{
    bug->have_damage = 1;
    bug->dmg_offset = off;
    bug->dmg_len = len;
    bug->nfound = len < sizeof bug->found ? len : sizeof bug->found;
    memcpy(bug->found, user + off, bug->nfound);
    bug->expected = want;
}

/* Bytes of rear guard we fill and check: the slot's slack after the user
 * bytes, at least PD_GUARD, at most PD_REAR_MAX (an overrun is contiguous:
 * its first bytes are always in range). */
#define PD_REAR_MAX 64

/* Under valgrind (PYDEBUG_VALGRIND=1) the
 * parts of a slot the program must not touch are marked inaccessible, so
 * memcheck stops at the faulting instruction: header and guards of a live
 * block, the whole of a quarantined or free one.  Our own code opens a
 * slot before it reads or writes it and closes it after. */
static void vg_open(uintptr_t addr, size_t size, size_t rear)
{
    if (opts.valgrind)
        VALGRIND_MAKE_MEM_DEFINED(addr - PD_FRONT, PD_FRONT + size + rear);
}

static void vg_close(uintptr_t addr, size_t size, size_t rear, int state)
{
    if (!opts.valgrind)
        return;
    if (state == PD_LIVE) {
        VALGRIND_MAKE_MEM_NOACCESS(addr - PD_FRONT, PD_FRONT);
        VALGRIND_MAKE_MEM_NOACCESS(addr + size, rear);
    } else {
        VALGRIND_MAKE_MEM_NOACCESS(addr - PD_FRONT, PD_FRONT + size + rear);
    }
}

/* Check both guards of a block; report damage.  Returns 1 if damaged. */
static int check_guarded(const pd_block_info *b, const char *api, const pd_site *now)
{
    pd_bug bug;
    ptrdiff_t off;
    size_t len, nfound;
    unsigned char found[16];
    if (!pd_guard_damage(b, &off, &len, found, &nfound))
        return 0;
    bug_init(&bug, off < 0 ? PD_BUG_UNDERRUN : PD_BUG_OVERRUN, api, (void *)b->addr, now);
    bug.have_block = 1;
    bug.block = *b;
    bug.have_damage = 1;
    bug.dmg_offset = off;
    bug.dmg_len = len;
    bug.nfound = nfound;
    memcpy(bug.found, found, nfound);
    bug.expected = PD_FILL_GUARD;
    snprintf(bug.detail, sizeof bug.detail, "in the guard bytes %s the block in its guarded page",
             off < 0 ? "before" : "after");
    raise_bug(&bug);
    pd_guard_rearm(b); /* report once */
    return 1;
}

static int check_guards(const pd_block_info *b, const char *api, const pd_site *now)
{
    if (pd_guard_owns(b->addr))
        return check_guarded(b, api, now);
    unsigned char *user = (unsigned char *)b->addr;
    size_t off, len;
    if (opts.valgrind) {
        VALGRIND_MAKE_MEM_DEFINED(user - PD_FRONT, PD_FRONT);
        VALGRIND_MAKE_MEM_DEFINED(user + b->size, b->rear);
    }
    int bad = 0;
    pd_bug bug;
    if (find_damage(user - PD_GUARD, PD_GUARD, PD_FILL_GUARD, &off, &len)) {
        bug_init(&bug, PD_BUG_UNDERRUN, api, user, now);
        bug.have_block = 1;
        bug.block = *b;
        set_damage(&bug, user, (ptrdiff_t)off - PD_GUARD, len, PD_FILL_GUARD);
        raise_bug(&bug);
        memset(user - PD_GUARD, PD_FILL_GUARD, PD_GUARD); /* report once */
        bad = 1;
    }
    if (find_damage(user + b->size, b->rear, PD_FILL_GUARD, &off, &len)) {
        bug_init(&bug, PD_BUG_OVERRUN, api, user, now);
        bug.have_block = 1;
        bug.block = *b;
        set_damage(&bug, user, (ptrdiff_t)(b->size + off), len, PD_FILL_GUARD);
        raise_bug(&bug);
        memset(user + b->size, PD_FILL_GUARD, b->rear);
        bad = 1;
    }
    vg_close(b->addr, b->size, b->rear, PD_LIVE);
    return bad;
}

/* Quarantine ----------------------------------------------------------------
 * One FIFO of freed blocks per domain: a ring of (entry, address, size),
 * read in order, so popping the oldest does not touch its cold metadata.
 * A raw-domain free runs without the GIL while the others hold it, so the
 * domains stay apart and each free evicts only from its own. */
typedef struct {
    pd_entry *e;
    uintptr_t addr;
    size_t size;
    size_t cost;  /* what it holds: see quar_cost */
    uint32_t rear;
    uint8_t poison;
} quar_item;

/* The memory a quarantined block keeps from use: its slot (front, user
 * bytes, rear guard) and its registry entry.  The budget counts this, not
 * the user bytes, because small blocks cost several times their size, and
 * it is the whole of it that must stay in cache for the quarantine to be
 * cheap: a slot handed out again is read (its freed fill verified) and
 * written, and its entry written. */
static size_t quar_cost(const pd_entry *e)
{
    return PD_FRONT + e->b.size + e->b.rear + sizeof(pd_entry);
}

static struct {
    quar_item *ring;
    size_t cap, head, count;  /* cap a power of two, grown on demand */
    uint64_t bytes;
} quar[PD_NDOMAINS];

static void quar_push(pd_domain d, pd_entry *e)
{
    if (quar[d].count == quar[d].cap) {
        size_t ncap = quar[d].cap ? quar[d].cap * 2 : 4096;
        quar_item *r = pd_sys_map(ncap * sizeof *r);
        for (size_t i = 0; i < quar[d].count; i++)
            r[i] = quar[d].ring[(quar[d].head + i) & (quar[d].cap - 1)];
        pd_sys_unmap(quar[d].ring, quar[d].cap * sizeof *r);
        quar[d].ring = r;
        quar[d].cap = ncap;
        quar[d].head = 0;
    }
    quar_item *it = &quar[d].ring[(quar[d].head + quar[d].count) & (quar[d].cap - 1)];
    it->e = e;
    it->addr = e->b.addr;
    it->size = e->b.size;
    it->rear = e->b.rear;
    it->poison = e->b.poison;
    it->cost = quar_cost(e);
    quar[d].count++;
    quar[d].bytes += it->cost;
}

static quar_item quar_pop(pd_domain d)
{
    quar_item it = quar[d].ring[quar[d].head];
    quar[d].head = (quar[d].head + 1) & (quar[d].cap - 1);
    quar[d].count--;
    quar[d].bytes -= it.cost;
    return it;
}

/* A damaged block found leaving the quarantine, copied out (its slot is
 * reused at once) to be reported after the lock is dropped. */
typedef struct {
    pd_block_info b;
    ptrdiff_t off;
    size_t len, nfound;
    unsigned char found[16];
    unsigned char expected;
    int64_t refs; /* != 0: only a freed object's count moved, by this */
} evicted_bad;

/* A freed block's fill covers its guards too: [front guard][user bytes]
 * [rear guard] hold the freed pattern from the free until the slot is
 * handed out again, so verifying it is one pass over contiguous bytes, or
 * two around a freed object's poison (pd_poison.h).  (Its guards were
 * verified at the free.) */
static void fill_freed(uintptr_t addr, size_t size, size_t rear, uint8_t poison)
{
    fill((unsigned char *)addr - PD_GUARD, PD_GUARD + size + rear, FREED_WORD);
    if (poison)
        pd_poison_put(addr, poison);
}

/* The two runs of fill around a poison: [front, poison) and after it. */
#define BEFORE_POISON(addr, poison) ((const unsigned char *)(addr) - PD_GUARD)
#define BEFORE_LEN(poison) ((size_t)PD_GUARD + (poison) - 1)
#define AFTER_POISON(addr, poison) ((const unsigned char *)(addr) + (poison) - 1 + PD_POISON_BYTES)
#define AFTER_LEN(size, rear, poison) ((size) + (rear) - ((poison) - 1) - PD_POISON_BYTES)

static inline __attribute__((always_inline)) int freed_intact(uintptr_t addr, size_t size,
                                                              size_t rear, uint8_t poison)
{
    if (poison == 0)
        return intact((const unsigned char *)addr - PD_GUARD, PD_GUARD + size + rear, FREED_WORD);
    return pd_poison_same(addr, poison) &&
           intact(BEFORE_POISON(addr, poison), BEFORE_LEN(poison), FREED_WORD) &&
           intact(AFTER_POISON(addr, poison), AFTER_LEN(size, rear, poison), FREED_WORD);
}

/* Has the freed block at addr been written to since it was filled?
 * Copies the first damage out for a report made after the lock is dropped
 * (the caller adds the block: out->b).  A freed object's count that moved
 * comes first: it names the bug.  Lock held. */
static int freed_damage(uintptr_t addr, size_t size, size_t rear, uint8_t poison,
                        evicted_bad *out)
{
    const unsigned char *user = (const unsigned char *)addr;
    size_t off, len;
    ptrdiff_t at; /* from the user pointer */
    vg_open(addr, size, rear);
    if (freed_intact(addr, size, rear, poison))
        return 0;
    out->refs = 0;
    if (poison == 0) {
        if (!find_damage(user - PD_GUARD, PD_GUARD + size + rear, PD_FILL_FREED, &off, &len))
            return 0;
        at = (ptrdiff_t)off - PD_GUARD;
    } else {
        int64_t refs = 0;
        pd_poison_state ps = pd_poison_read(addr, poison, &refs);
        if (ps == PD_POISON_COUNT) {
            out->refs = refs;
            at = poison - 1;
            len = 8;
        } else if (ps == PD_POISON_DAMAGED) {
            at = poison - 1;
            len = PD_POISON_BYTES;
        } else if (find_damage(BEFORE_POISON(addr, poison), BEFORE_LEN(poison), PD_FILL_FREED,
                               &off, &len)) {
            at = (ptrdiff_t)off - PD_GUARD;
        } else if (find_damage(AFTER_POISON(addr, poison), AFTER_LEN(size, rear, poison),
                               PD_FILL_FREED, &off, &len)) {
            at = (ptrdiff_t)off + poison - 1 + PD_POISON_BYTES;
        } else {
            return 0;
        }
    }
    out->off = at;
    out->expected = PD_FILL_FREED;
    out->len = len;
    out->nfound = len < sizeof out->found ? len : sizeof out->found;
    memcpy(out->found, user + out->off, out->nfound);
    return 1;
}

static void report_freed_damage(const evicted_bad *v, const char *api, const char *detail)
{
    pd_bug bug;
    if (v->refs != 0) {
        bug_init(&bug, v->refs < 0 ? PD_BUG_OVER_RELEASE : PD_BUG_FREED_INCREF, api,
                 (void *)v->b.addr, NULL);
        bug.have_block = 1;
        bug.block = v->b;
        bug.refs = v->refs;
        long long n = v->refs < 0 ? -v->refs : v->refs;
        if (v->refs < 0)
            snprintf(bug.detail, sizeof bug.detail,
                     "%lld more reference%s released than taken: after the object's last "
                     "release (freed by, below) its count, kept in the freed block, went "
                     "down by %lld%s%s", n, n == 1 ? "" : "s", n, detail[0] ? "; " : "", detail);
        else
            snprintf(bug.detail, sizeof bug.detail,
                     "%lld reference%s taken after the object's last release (freed by, "
                     "below): its count, kept in the freed block, went up by %lld%s%s",
                     n, n == 1 ? "" : "s", n, detail[0] ? "; " : "", detail);
        raise_bug(&bug);
        return;
    }
    bug_init(&bug, PD_BUG_WRITE_AFTER_FREE, api, (void *)v->b.addr, NULL);
    bug.have_block = 1;
    bug.block = v->b;
    bug.have_damage = 1;
    bug.dmg_offset = v->off;
    bug.dmg_len = v->len;
    bug.nfound = v->nfound;
    memcpy(bug.found, v->found, v->nfound);
    bug.expected = v->expected;
    snprintf(bug.detail, sizeof bug.detail, "%s", detail);
    raise_bug(&bug);
}

static void report_evicted(const evicted_bad *v, int n, const char *api)
{
    for (int i = 0; i < n; i++)
        report_freed_damage(&v[i], api, "found when the freed block's memory was about to be reused");
}

/* Check a freed block now and report its damage once: the patterns are
 * restored after the report.  Returns 1 if damaged. */
static int check_freed(const pd_block_info *b, const char *api)
{
    evicted_bad v;
    int bad = freed_damage(b->addr, b->size, b->rear, b->poison, &v);
    if (bad) {
        v.b = *b;
        report_freed_damage(&v, api, "");
        fill_freed(b->addr, b->size, b->rear, b->poison);
    }
    vg_close(b->addr, b->size, b->rear, PD_QUARANTINED);
    return bad;
}

/* Allocation -------------------------------------------------------------- */

/* The C backtrace -X stacks asks for, if any: how many frames in pcs. */
static int take_stack(const pd_site *s, uintptr_t *pcs)
{
    if (opts.stacks > 0 && s->stack == 0)
        return pd_stack_capture((void **)pcs, opts.stacks, 2);
    return 0;
}

/* The site to record (lock held): the caller's own, or, when a backtrace
 * was taken, a copy in buf that names it in the depot.  Most calls take
 * none, and then copy nothing. */
static const pd_site *with_stack(pd_site *buf, const pd_site *site, const uintptr_t *pcs,
                                 int npcs)
{
    if (npcs == 0)
        return site;
    *buf = *site;
    buf->stack = pd_depot_put(pcs, npcs);
    return buf;
}

/* Object events (see pd_core.h).  `pending` is the newest object-domain
 * block not yet born: its creator is still filling it in.  Events are only
 * raised from mem- and object-domain calls, which hold the GIL: the raw
 * domain runs without it, and the hooks read Python objects. */
static pd_object_hooks ohooks;
static pd_entry *pending;
static uint64_t pending_serial;

void pd_core_set_object_hooks(const pd_object_hooks *h)
{
    pd_lock_take(&lock);
    if (h)
        ohooks = *h;
    else
        memset(&ohooks, 0, sizeof ohooks);
    pending = NULL;
    pd_lock_give(&lock);
}

static void settle_pending(void)
{
    pd_entry *e = pending;
    pending = NULL;
    if (e && e->b.state == PD_LIVE && e->b.serial == pending_serial && ohooks.born) {
        pd_block_info b;
        pd_entry_info(e, &b);
        ohooks.born(&b);
        e->b.otype = b.otype; /* what the hook counted it under */
    }
}

/* Called (lock held) when the heap committed a new arena. */
static void (*arena_hook)(void);
void pd_core_set_arena_hook(void (*hook)(void)) { arena_hook = hook; }

/* Mem and object blocks allocated or freed by a thread other than the one
 * watched (pd_core_others): whether a measurement could have been moved
 * by another thread.  Lock held. */
static unsigned watched_tid;
static uint64_t others;

static void note_thread(pd_domain d, const pd_site *s)
{
    if (d != PD_RAW && s->tid != watched_tid)
        others++;
}

void pd_core_foreign_free(pd_domain d, unsigned tid)
{
    pd_lock_take(&lock);
    stats.dom[d].foreign_frees++;
    if (d != PD_RAW && tid != watched_tid)
        others++;
    pd_lock_give(&lock);
}

uint64_t pd_core_others(unsigned tid)
{
    pd_lock_take(&lock);
    watched_tid = tid;
    uint64_t n = others;
    pd_lock_give(&lock);
    return n;
}

/* A heap block's object tag (pd_heap.h); the guarded pool has none. */
static void set_tag(const pd_entry *e, uint8_t t)
{
    if (!pd_guard_owns(e->b.addr))
        *pd_heap_tag(e) = t;
}

/* A new block's facts in its entry (lock held; addr and rear are set):
 * serial, domain, site, the object-event bookkeeping and the counts. */
static void stamp_live(pd_entry *e, pd_domain d, size_t n, const pd_site *s)
{
    e->b.size = n;
    e->b.serial = next_serial++;
    e->b.domain = (uint8_t)d;
    note_thread(d, s);
    e->b.state = PD_LIVE;
    e->alloc = *s;
    e->b.otype = 0;
    if (d == PD_OBJ) /* any other slot's tag is PD_TAG_NONE already: see retire_common */
        set_tag(e, PD_TAG_UNKNOWN);
    e->b.poison = 0;
    e->b.birth = 0;
    if (d == PD_OBJ && ohooks.born) {
        pending = e;
        pending_serial = e->b.serial;
    }
    pd_domain_stats *ds = &stats.dom[d];
    ds->allocs++;
    ds->blocks++;
    ds->bytes += n;
    if (ds->bytes > ds->peak_bytes)
        ds->peak_bytes = ds->bytes;
}

/* Guarded blocks' sites always get a C backtrace: 16 frames when they are
 * sampled, 8 under -X guard=all; unwinding is most of what a guarded
 * allocation costs (-X stacks=N asks for more). */
static int guard_stack(uintptr_t *pcs)
{
    int depth = opts.guard_all ? 8 : 16;
    if (opts.stacks > depth)
        depth = opts.stacks;
    return pd_stack_capture((void **)pcs, depth, 2);
}

void *pd_guarded_malloc(pd_domain d, size_t n, int zero, const pd_site *site)
{
    pd_site s;
    uintptr_t pcs[PD_STACK_MAX];
    int npcs = guard_stack(pcs);
    pd_lock_take(&lock);
    if (pending && d != PD_RAW)
        settle_pending();
    pd_entry *e;
    void *user = pd_guard_alloc(n, zero, &e);
    if (user)
        stamp_live(e, d, n, with_stack(&s, site, pcs, npcs));
    pd_lock_give(&lock);
    return user;
}

/* A new block whose first `copied` bytes the caller overwrites at once
 * (a realloc's copy): they get no fresh fill. */
static inline __attribute__((always_inline)) void *alloc_block(pd_domain d, size_t n, int zero,
                                                            size_t copied, const pd_site *site)
{
    if (n > SIZE_MAX / 2)
        return NULL;
    pd_site s;
    uintptr_t pcs[PD_STACK_MAX];
    int npcs = take_stack(site, pcs), fresh = 0;

    pd_lock_take(&lock);
    if (pending && d != PD_RAW) /* GIL held: the hooks may touch Python state */
        settle_pending();
    pd_entry *e;
    pd_slot_past past;
    size_t slack;
    unsigned char *user = pd_heap_alloc(n, &e, &past, &slack, &fresh);
    if (user == NULL) {
        pd_lock_give(&lock);
        return NULL;
    }
    /* The freed block that held the slot (its user pointer was this one)
     * is verified from what the free slot carries: the entry is only
     * written, not read, unless there is damage to report. */
    evicted_bad stale;
    int stale_bad = past.state == PD_QUARANTINED &&
                    freed_damage((uintptr_t)user, past.size, past.rear, past.poison, &stale);
    if (stale_bad)
        pd_entry_info(e, &stale.b); /* before it is stamped anew */
    e->b.addr = (uintptr_t)user;
    e->b.rear = (uint32_t)(slack < PD_REAR_MAX ? slack : PD_REAR_MAX);
    stamp_live(e, d, n, with_stack(&s, site, pcs, npcs));
    vg_open((uintptr_t)user, n, e->b.rear);
    fill(user - PD_GUARD, PD_GUARD, GUARD_WORD);
    fill(user + copied, n - copied, zero ? 0 : FRESH_WORD);
    fill(user + n, e->b.rear, GUARD_WORD);
    vg_close((uintptr_t)user, n, e->b.rear, PD_LIVE);
    if (opts.valgrind && !zero)
        VALGRIND_MAKE_MEM_UNDEFINED(user, n);
    if (fresh && arena_hook)
        arena_hook();
    pd_lock_give(&lock);
    if (stale_bad)
        report_evicted(&stale, 1, domain_apis[d]);
    return user;
}

void *pd_malloc(pd_domain d, size_t n, int zero, const pd_site *site)
{
    return alloc_block(d, n, zero, 0, site);
}

/* Unknown pointers ---------------------------------------------------------
 * A pointer outside our heap is either foreign (allocated by the previous
 * allocator before our hooks were installed: it must be freed there) or a
 * bug.  We decide without reading the pointed-to memory: it is a bug if it
 * is on a stack, in a file-backed mapping (static data), or in no mapping
 * at all. */

static int mapping_kind(uintptr_t a, char *what, size_t len)
{
    /* 0 = anonymous/heap, 1 = stack or file-backed, -1 = unmapped */
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return 0;
    char line[512];
    int kind = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || a < lo || a >= hi)
            continue;
        char *path = strchr(line, '/');
        char *br = strchr(line, '[');
        if (path) {
            path[strcspn(path, "\n")] = '\0';
            snprintf(what, len, "static data of %s", path);
            kind = 1;
        } else if (br && strncmp(br, "[stack", 6) == 0) {
            snprintf(what, len, "a thread stack");
            kind = 1;
        } else {
            kind = 0;
        }
        break;
    }
    fclose(f);
    if (kind == -1)
        snprintf(what, len, "unmapped memory");
    return kind;
}

/* p is not a block's start.  Returns 1 when it is foreign (the caller
 * hands it to the previous allocator), 0 after reporting a bug. */
static int unknown_pointer(pd_where w, const pd_block_info *inside, const void *p,
                           const char *api, const pd_site *now)
{
    char what[200] = "";
    if (w == PD_NOT_OURS && mapping_kind((uintptr_t)p, what, sizeof what) == 0)
        return 1;
    pd_bug bug;
    bug_init(&bug, PD_BUG_INVALID_FREE, api, p, now);
    if (w == PD_INTERIOR) {
        bug.have_block = 1;
        bug.block = *inside;
        if ((uintptr_t)p >= inside->addr)
            snprintf(bug.detail, sizeof bug.detail,
                     "the pointer is %zu bytes inside a block, not its start",
                     (size_t)((uintptr_t)p - inside->addr));
        else
            snprintf(bug.detail, sizeof bug.detail,
                     "the pointer is %zu bytes before a block's start",
                     (size_t)(inside->addr - (uintptr_t)p));
    } else if (w == PD_NO_BLOCK) {
        snprintf(bug.detail, sizeof bug.detail,
                 "the pointer is in the debug heap where no block is now "
                 "(freed long ago and out of the quarantine, or never allocated)");
    } else {
        snprintf(bug.detail, sizeof bug.detail, "the pointer is in %s", what);
    }
    raise_bug(&bug);
    return 0;
}

/* Freeing --------------------------------------------------------------- */

#define EVICT_MAX 8

static void save_type_words(pd_entry_core *b)
{
    if (b->domain != PD_OBJ)
        return;
    const unsigned char *user = (const unsigned char *)b->addr;
    if (__builtin_expect(b->size >= 48, 1)) {
        memcpy(&b->type_words[0], user + 8, 8);
        memcpy(&b->type_words[1], user + 24, 8);
        memcpy(&b->type_words[2], user + 40, 8);
        return;
    }
    for (int i = 0; i < 3; i++)
        if (b->size >= (size_t)(16 * i + 16))
            memcpy(&b->type_words[i], user + 16 * i + 8, sizeof b->type_words[i]);
}

static int guards_intact(uintptr_t addr, size_t size, size_t rear)
{
    const unsigned char *user = (const unsigned char *)addr;
    return intact(user - PD_GUARD, PD_GUARD, GUARD_WORD) && intact(user + size, rear, GUARD_WORD);
}

/* A block leaves the quarantine.  A small one goes back to its class
 * untouched: its freed fill is verified when the slot is reused, while
 * that memory is being written anyway (pd_malloc).  A large one is
 * verified now, since its pages go back to the kernel.  Lock held. */
static int evict_one(pd_domain d, evicted_bad *damaged)
{
    if (quar[d].count == 0)
        return 0;
    quar_item it = quar_pop(d);
    pd_entry *old = it.e;
    if (!pd_heap_is_large(it.size)) {
        pd_heap_release(old, it.addr, it.size, it.rear, it.poison, 1);
        return 1;
    }
    int bad = freed_damage(it.addr, it.size, it.rear, it.poison, damaged);
    if (bad)
        pd_entry_info(old, &damaged->b);
    pd_heap_release(old, it.addr, it.size, it.rear, 0, 0);
    vg_close(it.addr, it.size, it.rear, 0);
    return bad ? 2 : 1;
}

/* What every free does to a live block's entry (lock held, its bytes still
 * readable): counts, object events, the type words, state and site. */
static void retire_common(pd_entry *e, pd_domain caller, const pd_site *s)
{
    pd_domain d = (pd_domain)e->b.domain;
    pd_domain_stats *ds = &stats.dom[d];
    ds->frees++;
    ds->blocks--;
    ds->bytes -= e->b.size;
    note_thread(d, s);
    if (pending && caller != PD_RAW)
        settle_pending();
    if (d == PD_OBJ && caller != PD_RAW && ohooks.retire) {
        pd_block_info b;
        pd_entry_info(e, &b);
        ohooks.retire(&b);
    }
    save_type_words(&e->b);
    set_tag(e, PD_TAG_NONE);
    e->b.state = PD_QUARANTINED;
    e->free = *s;
}

/* Fill, stamp and quarantine a live block (lock held); evict what no
 * longer fits.  Returns how many evicted blocks were damaged (copied to
 * `damaged` for reporting). */
static int retire_locked(pd_entry *e, pd_domain caller, const pd_site *s, int moved,
                         evicted_bad *damaged, int max)
{
    pd_domain d = (pd_domain)e->b.domain;
    vg_open(e->b.addr, e->b.size, e->b.rear);
    retire_common(e, caller, s);
    /* Since 3.12 a subinterpreter may have its own obmalloc state; we no
     * longer free into it, but keep its blocks out of the main FIFOs so
     * eviction order stays per interpreter. */
    int keep = opts.quarantine_bytes != 0 && e->b.size <= opts.quarantine_bytes / 4 &&
               !(s->subinterp && d != PD_RAW);
    /* The freed fill, over the guards too (every caller has checked them,
     * and check_guards re-arms what it reported).  A large block let go at
     * once gets none: its pages go straight back to the kernel. */
    if (keep || !pd_heap_is_large(e->b.size)) {
        /* A freed object keeps its poison; not a block a realloc moved
         * (its object lives on at the new address) nor one freed through
         * another domain (the raw one runs without the GIL). */
        e->b.poison = d == PD_OBJ && caller == PD_OBJ && !moved
                          ? pd_poison_find(e->b.addr, e->b.size) : 0;
        fill_freed(e->b.addr, e->b.size, e->b.rear, e->b.poison);
    }
    if (!keep) {
        uintptr_t addr = e->b.addr;
        size_t size = e->b.size, rear = e->b.rear;
        pd_heap_release(e, addr, size, (uint32_t)rear, e->b.poison, 0);
        vg_close(addr, size, rear, 0);
        return 0;
    }
    vg_close(e->b.addr, e->b.size, e->b.rear, PD_QUARANTINED);
    quar_push(d, e);
    int n = 0;
    if (d != caller)
        return 0;
    while (quar[d].bytes > opts.quarantine_bytes) {
        int r = evict_one(d, &damaged[n]);
        if (r == 2 && n < max - 1)
            n++;
    }
    return n;
}


/* The checks a free or a realloc makes on a block we know.  Returns 0 when
 * the block is already freed (reported: the caller drops the operation),
 * 1 otherwise, after reporting a wrong domain and damaged guards. */
static int check_known(pd_domain d, const pd_block_info *b, const void *p, const char *api,
                       const char *verb, pd_bug_kind if_freed, const pd_site *site)
{
    pd_bug bug;
    if (b->state == PD_QUARANTINED) {
        bug_init(&bug, if_freed, api, p, site);
        bug.have_block = 1;
        bug.block = *b;
        raise_bug(&bug);
        return 0;
    }
    if (b->domain != d) {
        bug_init(&bug, PD_BUG_WRONG_DOMAIN, api, p, site);
        bug.have_block = 1;
        bug.block = *b;
        snprintf(bug.detail, sizeof bug.detail,
                 "allocated with %s (%s domain), %s with %s (%s domain)",
                 domain_apis[b->domain], domain_names[b->domain], verb, api, domain_names[d]);
        raise_bug(&bug);
    }
    check_guards(b, api, site);
    return 1;
}

/* Where p is, and a copy of the block's entry when it is in one (taken
 * under the lock, to be checked and reported on outside it). */
static pd_where copy_block(uintptr_t p, pd_block_info *b)
{
    pd_lock_take(&lock);
    pd_entry *e = NULL;
    pd_where w = lookup_any(p, &e);
    if (e)
        pd_entry_info(e, b);
    pd_lock_give(&lock);
    return w;
}

/* Free a guarded block (p is in the pool): the same checks as any block,
 * then its slot is made inaccessible. */
static void guarded_free(pd_domain d, void *p, const pd_site *site)
{
    const char *api = free_apis[d];
    pd_site s;
    uintptr_t pcs[PD_STACK_MAX];
    int npcs = guard_stack(pcs);
    pd_block_info b;
    pd_where w = copy_block((uintptr_t)p, &b);
    if (w != PD_EXACT) {
        unknown_pointer(w, &b, p, api, site);
        return;
    }
    if (!check_known(d, &b, p, api, "freed", PD_BUG_DOUBLE_FREE, site))
        return;
    pd_lock_take(&lock);
    pd_entry *e;
    if (pd_guard_lookup((uintptr_t)p, &e) == PD_EXACT && e->b.state == PD_LIVE &&
        e->b.serial == b.serial) {
        retire_common(e, d, with_stack(&s, site, pcs, npcs));
        pd_guard_release(e);
    }
    pd_lock_give(&lock);
}

void pd_free(pd_domain d, void *p, const pd_site *site)
{
    pd_free_hinted(d, p, site, NULL);
}

void pd_free_hinted(pd_domain d, void *p, const pd_site *site, pd_entry *hint)
{
    if (p == NULL)
        return;
    if (pd_guard_owns((uintptr_t)p)) {
        guarded_free(d, p, site);
        return;
    }
    const char *api = free_apis[d];
    pd_site s;
    uintptr_t pcs[PD_STACK_MAX];
    int npcs = take_stack(site, pcs);
    evicted_bad damaged[EVICT_MAX];

    pd_lock_take(&lock);
    pd_entry *e = NULL;
    pd_where w = pd_heap_lookup_hinted((uintptr_t)p, hint, &e);
    if (w == PD_EXACT && e->b.state == PD_LIVE && e->b.domain == d && !opts.valgrind &&
        guards_intact(e->b.addr, e->b.size, e->b.rear)) {
        /* The common case, under one lock. */
        int n = retire_locked(e, d, with_stack(&s, site, pcs, npcs), 0, damaged, EVICT_MAX);
        pd_lock_give(&lock);
        report_evicted(damaged, n, api);
        return;
    }
    pd_block_info b;
    if (e)
        pd_entry_info(e, &b);
    pd_lock_give(&lock);

    if (w != PD_EXACT) {
        if (unknown_pointer(w, &b, p, api, site)) {
            pd_lock_take(&lock);
            stats.dom[d].foreign_frees++;
            pd_lock_give(&lock);
            under[d].free(under[d].ctx, p);
        }
        return;
    }
    if (!check_known(d, &b, p, api, "freed", PD_BUG_DOUBLE_FREE, site))
        return; /* continue: drop the second free */
    pd_lock_take(&lock);
    int n = 0;
    /* Still the same live block (no other thread freed it meanwhile)? */
    if (pd_heap_lookup((uintptr_t)p, &e) == PD_EXACT && e->b.state == PD_LIVE &&
        e->b.serial == b.serial) {
        n = retire_locked(e, d, with_stack(&s, site, pcs, npcs), 0, damaged, EVICT_MAX);
    }
    pd_lock_give(&lock);
    report_evicted(damaged, n, api);
}

void *pd_realloc(pd_domain d, void *p, size_t n, const pd_site *site)
{
    if (p == NULL)
        return pd_malloc(d, n, 0, site);
    const char *api = realloc_apis[d];
    pd_block_info b;
    pd_entry *e;
    pd_where w = copy_block((uintptr_t)p, &b);
    if (w != PD_EXACT) {
        if (unknown_pointer(w, &b, p, api, site))
            return under[d].realloc(under[d].ctx, p, n); /* stays foreign */
        return NULL;
    }
    if (!check_known(d, &b, p, api, "resized", PD_BUG_REALLOC_FREED, site))
        return NULL;
    /* Always move: a stale pointer to the old block then hits a
     * quarantined, pattern-filled block instead of live data. */
    unsigned char *q = NULL;
    if (pd_guard_sample(n))
        q = pd_guarded_malloc((pd_domain)b.domain, n, 0, site);
    size_t copied = n < b.size ? n : b.size;
    if (q == NULL)
        q = alloc_block((pd_domain)b.domain, n, 0, copied, site);
    if (q == NULL)
        return NULL;
    memcpy(q, p, copied);
    evicted_bad damaged[EVICT_MAX];
    int nd = 0;
    /* A guarded block's free site gets its C backtrace, as in pd_free. */
    pd_site fs;
    uintptr_t pcs[PD_STACK_MAX];
    int npcs = pd_guard_owns((uintptr_t)p) ? guard_stack(pcs) : 0;
    pd_lock_take(&lock);
    stats.dom[b.domain].reallocs++;
    if (lookup_any((uintptr_t)p, &e) == PD_EXACT && e->b.state == PD_LIVE &&
        e->b.serial == b.serial) {
        if (pd_guard_owns((uintptr_t)p)) {
            retire_common(e, d, with_stack(&fs, site, pcs, npcs));
            pd_guard_release(e);
        } else {
            nd = retire_locked(e, d, site, 1, damaged, EVICT_MAX);
        }
    }
    pd_lock_give(&lock);
    report_evicted(damaged, nd, api);
    return q;
}

/* A freed object used through its type (pd_core.h). */
void pd_core_freed_use(const void *obj, const char *slot, const char *detail, const pd_site *now)
{
    pd_bug bug;
    bug_init(&bug, PD_BUG_FREED_USE, slot, obj, now);
    bug.have_block = pd_find_block((uintptr_t)obj, 1, &bug.block);
    snprintf(bug.detail, sizeof bug.detail, "%s", detail);
    raise_bug(&bug);
}

void pd_core_birth(const void *obj, const pd_site *s)
{
    pd_lock_take(&lock);
    pd_entry *e;
    pd_where w = lookup_any((uintptr_t)obj, &e);
    if ((w == PD_EXACT || w == PD_INTERIOR) && e->b.state == PD_LIVE) {
        if (e->b.serial + 1 != next_serial) /* not the block just allocated for it */
            e->alloc = *s;
        e->b.birth = 1;
    }
    pd_lock_give(&lock);
}

/* Queries ------------------------------------------------------------------ */

int pd_find_block(uintptr_t addr, int interior, pd_block_info *out)
{
    pd_lock_take(&lock);
    pd_entry *e;
    pd_where w = lookup_any(addr, &e);
    int found = w == PD_EXACT || (interior && w == PD_INTERIOR);
    if (found)
        pd_entry_info(e, out);
    pd_lock_give(&lock);
    return found;
}

int pd_find_block_try(uintptr_t addr, pd_block_info *out)
{
    if (!pd_lock_try(&lock))
        return 0;
    pd_entry *e;
    pd_where w = lookup_any(addr, &e);
    int found = w == PD_EXACT || w == PD_INTERIOR;
    if (found)
        pd_entry_info(e, out);
    pd_lock_give(&lock);
    return found;
}

uint64_t pd_serial_of(const void *p)
{
    /* An object may sit behind a GC header (16 bytes) or a GC header and a
     * pre-header (32 bytes) in its block. */
    uint64_t s = 0;
    pd_lock_take(&lock);
    pd_entry *e;
    pd_where w = lookup_any((uintptr_t)p, &e);
    if ((w == PD_EXACT || w == PD_INTERIOR) && e->b.state == PD_LIVE) {
        uintptr_t back = (uintptr_t)p - e->b.addr;
        if (back == 0 || back == 16 || back == 32)
            s = e->b.serial;
    }
    pd_lock_give(&lock);
    return s;
}

/* pd_serial_of_live's per-thread memory: see pd_heap.h. */
static const pd_entry not_ours;
_Thread_local pd_live_slot pd_live_cache[PD_LIVE_CACHE];

uint64_t pd_serial_of_live_miss(uintptr_t k, size_t i)
{
    if (pd_guard_owns(k))
        return pd_serial_of((const void *)k);
    pd_entry *found;
    const pd_entry *e;
    pd_where w = pd_heap_lookup(k, &found);
    if (w == PD_NOT_OURS)
        e = &not_ours;
    else if (w == PD_EXACT || w == PD_INTERIOR)
        e = found;
    else
        return 0;
    pd_live_cache[i].key = k;
    pd_live_cache[i].e = e;
    return pd_live_serial(e, k);
}

uint64_t pd_serial_of_live(const void *p) { return pd_live_serial_of(p); }

int pd_live_block(const void *p, size_t *size, int *domain)
{
    pd_lock_take(&lock);
    pd_entry *e;
    int live = lookup_any((uintptr_t)p, &e) == PD_EXACT && e->b.state == PD_LIVE;
    if (live) {
        *size = e->b.size;
        *domain = e->b.domain;
    }
    pd_lock_give(&lock);
    return live;
}

/* Re-check one block under the lock (it may have changed since it was
 * copied) and report it if it is still damaged. */
static size_t recheck(const pd_block_info *seen)
{
    pd_block_info b;
    pd_lock_take(&lock);
    pd_entry *e;
    int same = lookup_any(seen->addr, &e) == PD_EXACT && e->b.serial == seen->serial &&
               e->b.state == seen->state;
    if (same)
        pd_entry_info(e, &b);
    pd_lock_give(&lock);
    if (!same)
        return 0;
    return (size_t)(b.state == PD_LIVE ? check_guards(&b, "pydebug.check_heap", NULL)
                                       : check_freed(&b, "pydebug.check_heap"));
}

typedef struct {
    pd_block_info bad[64];
    int n;
} guard_check;

static void guard_check_one(pd_entry *e, void *arg)
{
    guard_check *gc = arg;
    ptrdiff_t off;
    size_t len, nfound;
    unsigned char found[16];
    if (e->b.state != PD_LIVE || gc->n >= 64)
        return;
    pd_entry_info(e, &gc->bad[gc->n]);
    if (pd_guard_damage(&gc->bad[gc->n], &off, &len, found, &nfound))
        gc->n++;
}

size_t pd_check_heap(void)
{
    /* Copy entries out in chunks; check each block's bytes under the lock,
     * report (which takes the lock again) after dropping it. */
    size_t damaged = 0;
    uint64_t cursor = 0;
    static pd_block_info chunk[512];
    do {
        pd_block_info bad[512];
        int nbad = 0;
        pd_lock_take(&lock);
        int n = pd_heap_walk(&cursor, chunk, 512);
        for (int k = 0; k < n; k++) {
            const pd_block_info *b = &chunk[k];
            vg_open(b->addr, b->size, b->rear);
            int ok = b->state == PD_LIVE ? guards_intact(b->addr, b->size, b->rear)
                                         : freed_intact(b->addr, b->size, b->rear, b->poison);
            vg_close(b->addr, b->size, b->rear, b->state);
            if (!ok)
                bad[nbad++] = *b;
        }
        pd_lock_give(&lock);
        for (int k = 0; k < nbad; k++)
            damaged += recheck(&bad[k]);
    } while (cursor != 0);
    /* Guarded blocks: the guard bytes around the live ones (a freed one's
     * slot cannot be touched without a fault). */
    guard_check gc = {.n = 0};
    pd_lock_take(&lock);
    pd_guard_visit(guard_check_one, &gc);
    pd_lock_give(&lock);
    for (int k = 0; k < gc.n; k++)
        damaged += recheck(&gc.bad[k]);
    return damaged;
}

typedef struct {
    pd_domain d;
    pd_visit_fn fn;
    void *arg;
} visit_ctx;

/* What a walk found in a heap block (b.obj), for the next walk. */
static void remember(const pd_entry *e, uintptr_t obj)
{
    uintptr_t off = obj - e->b.addr;
    if (obj != 0 && off <= 32 && off % 16 == 0 && !pd_guard_owns(e->b.addr))
        *pd_heap_tag(e) = PD_TAG_AT(off);
}

static void visit_one(pd_entry *e, void *arg)
{
    visit_ctx *c = arg;
    if (e->b.state == PD_LIVE && e->b.domain == c->d) {
        pd_block_info b;
        pd_entry_core_info(e, &b);
        c->fn(&b, c->arg);
        remember(e, b.obj);
    }
}

void pd_visit_live(pd_domain d, pd_visit_fn fn, void *arg)
{
    visit_ctx c = {d, fn, arg};
    pd_lock_take(&lock);
    if (pending)
        settle_pending();
    pd_guard_visit(visit_one, &c);
    pd_heap_visit(visit_one, &c);
    pd_lock_give(&lock);
}

typedef struct {
    visit_ctx live; /* first: the ctx visit_one takes */
    pd_visit_obj_fn known;
} objects_ctx;

static void known_batch(const uintptr_t *objs, size_t n, void *arg)
{
    objects_ctx *c = arg;
    c->known(objs, n, c->live.arg);
}

void pd_visit_objects(pd_visit_fn fn, pd_visit_obj_fn known, void *arg)
{
    objects_ctx c = {{PD_OBJ, fn, arg}, known};
    pd_lock_take(&lock);
    if (pending)
        settle_pending();
    pd_guard_visit(visit_one, &c.live); /* a sampled few: no tags */
    pd_heap_visit_objects(visit_one, known_batch, &c);
    pd_lock_give(&lock);
}

uint64_t pd_next_serial(void)
{
    pd_lock_take(&lock);
    uint64_t s = next_serial;
    pd_lock_give(&lock);
    return s;
}

int pd_locked_find(uintptr_t addr, pd_block_info *out)
{
    pd_entry *e;
    pd_where w = lookup_any(addr, &e);
    if ((w == PD_EXACT || w == PD_INTERIOR) && e->b.state == PD_LIVE) {
        pd_entry_core_info(e, out);
        return 1;
    }
    return 0;
}

void pd_get_stats(pd_stats *out)
{
    pd_lock_take(&lock);
    *out = stats;
    out->quarantine_blocks = 0;
    out->quarantine_bytes = 0;
    for (int d = 0; d < PD_NDOMAINS; d++) {
        out->quarantine_blocks += quar[d].count;
        out->quarantine_bytes += quar[d].bytes;
    }
    out->quarantine_limit = opts.quarantine_bytes;
    uint64_t lb, lbytes;
    pd_heap_totals(&out->arenas, &out->heap_bytes, &lb, &lbytes, &out->registry_bytes);
    pd_lock_give(&lock);
    out->errors = atomic_load(&errors);
    pd_guard_stats g;
    pd_guard_get_stats(&g);
    out->guard_slots = g.slots;
    out->guard_live = g.live;
    out->guard_freed = g.freed;
    out->guard_guarded = g.guarded;
    out->guard_fallbacks = g.fallbacks;
    out->guard_retired = g.retired;
}

int pd_core_classes(pd_class_stats *out, int max)
{
    pd_lock_take(&lock);
    int n = pd_heap_classes(out, max);
    pd_lock_give(&lock);
    return n;
}
