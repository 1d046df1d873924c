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

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_registry.h"
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

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pd_underlying under[PD_NDOMAINS];
static pd_options opts = {.quarantine_bytes = 0, .report_fd = -1};
static uint64_t next_serial = 1;
static pd_stats stats;               /* under lock, but errors */
static atomic_uint_fast64_t errors;
static atomic_int aborting;
static uintptr_t lowest = UINTPTR_MAX, highest; /* envelope of our blocks */

static const char *const domain_names[] = {"raw", "mem", "object"};
static const char *const domain_apis[] = {"PyMem_RawMalloc", "PyMem_Malloc", "PyObject_Malloc"};
static const char *const free_apis[] = {"PyMem_RawFree", "PyMem_Free", "PyObject_Free"};
static const char *const realloc_apis[] = {"PyMem_RawRealloc", "PyMem_Realloc", "PyObject_Realloc"};

const char *pd_domain_name(pd_domain d) { return domain_names[d]; }
const char *pd_domain_api(pd_domain d) { return domain_apis[d]; }
const pd_options *pd_core_options(void) { return &opts; }

void pd_core_init(const pd_options *o) { opts = *o; }

void pd_core_set_underlying(pd_domain d, const pd_underlying *u) { under[d] = *u; }

uint64_t pd_error_count(void) { return atomic_load(&errors); }
int pd_core_is_aborting(void) { return atomic_load(&aborting); }

void pd_core_atfork_prepare(void) { pthread_mutex_lock(&lock); }
void pd_core_atfork_parent(void) { pthread_mutex_unlock(&lock); }
void pd_core_atfork_child(void) { pthread_mutex_unlock(&lock); }

int pd_core_stack_get(uint32_t id, uintptr_t *out, int max)
{
    pthread_mutex_lock(&lock);
    int n = pd_depot_get(id, out, max);
    pthread_mutex_unlock(&lock);
    return n;
}

/* Reporting policy ------------------------------------------------------ */

static void raise_bug(pd_bug *bug)
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

/* Damage scanning -------------------------------------------------------- */

/* First run of bytes in [p, p+n) that differ from `want`; returns 0 when
 * all are intact.  Word-at-a-time on the aligned middle. */
static int find_damage(const unsigned char *p, size_t n, unsigned char want,
                       size_t *off, size_t *len)
{
    size_t i = 0;
    uint64_t pat;
    memset(&pat, want, sizeof pat);
    while (i < n && ((uintptr_t)(p + i) & 7))
        if (p[i] != want) goto found; else i++;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != pat)
            break;
    }
    for (; i < n; i++)
        if (p[i] != want)
            goto found;
    return 0;
found:
    *off = i;
    size_t last = i;
    for (size_t k = i; k < n; k++)
        if (p[k] != want)
            last = k;
    *len = last - i + 1;
    return 1;
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

/* Check both guards of a block; report damage.  Returns 1 if damaged. */
static int check_guards(const pd_block_info *b, const char *api, const pd_site *now)
{
    unsigned char *user = (unsigned char *)b->addr;
    size_t off, len;
    VALGRIND_MAKE_MEM_DEFINED(user - PD_GUARD, PD_GUARD);
    VALGRIND_MAKE_MEM_DEFINED(user + b->size, PD_GUARD);
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
    if (find_damage(user + b->size, PD_GUARD, PD_FILL_GUARD, &off, &len)) {
        bug_init(&bug, PD_BUG_OVERRUN, api, user, now);
        bug.have_block = 1;
        bug.block = *b;
        set_damage(&bug, user, (ptrdiff_t)(b->size + off), len, PD_FILL_GUARD);
        raise_bug(&bug);
        memset(user + b->size, PD_FILL_GUARD, PD_GUARD);
        bad = 1;
    }
    if (opts.valgrind) {
        VALGRIND_MAKE_MEM_NOACCESS(user - PD_GUARD, PD_GUARD);
        VALGRIND_MAKE_MEM_NOACCESS(user + b->size, PD_GUARD);
    }
    return bad;
}

/* Check a quarantined block: user bytes still hold the freed pattern and
 * guards are intact.  Returns 1 if damaged. */
static int check_freed(const pd_block_info *b, const char *api, const pd_site *now)
{
    unsigned char *user = (unsigned char *)b->addr;
    size_t off, len;
    VALGRIND_MAKE_MEM_DEFINED(user - PD_GUARD, b->size + 2 * PD_GUARD);
    pd_bug bug;
    int bad = 0;
    if (find_damage(user, b->size, PD_FILL_FREED, &off, &len)) {
        bug_init(&bug, PD_BUG_WRITE_AFTER_FREE, api, user, now);
        bug.have_block = 1;
        bug.block = *b;
        set_damage(&bug, user, (ptrdiff_t)off, len, PD_FILL_FREED);
        raise_bug(&bug);
        memset(user, PD_FILL_FREED, b->size);
        bad = 1;
    } else if (find_damage(user - PD_GUARD, PD_GUARD, PD_FILL_GUARD, &off, &len) ||
               find_damage(user + b->size, PD_GUARD, PD_FILL_GUARD, &off, &len)) {
        /* Guards of a freed block: still a write after free. */
        bug_init(&bug, PD_BUG_WRITE_AFTER_FREE, api, user, now);
        bug.have_block = 1;
        bug.block = *b;
        snprintf(bug.detail, sizeof bug.detail,
                 "the guard bytes around the freed block were overwritten");
        raise_bug(&bug);
        memset(user - PD_GUARD, PD_FILL_GUARD, PD_GUARD);
        memset(user + b->size, PD_FILL_GUARD, PD_GUARD);
        bad = 1;
    }
    if (opts.valgrind)
        VALGRIND_MAKE_MEM_NOACCESS(user - PD_GUARD, b->size + 2 * PD_GUARD);
    return bad;
}

/* Allocation -------------------------------------------------------------- */

static void take_stack(pd_site *s, uintptr_t *pcs, int *n)
{
    *n = 0;
    if (opts.stacks > 0 && s->stack == 0)
        *n = pd_stack_capture((void **)pcs, opts.stacks, 2);
}

void *pd_malloc(pd_domain d, size_t n, int zero, const pd_site *site)
{
    if (n > SIZE_MAX - 2 * PD_GUARD - 64)
        return NULL;
    size_t total = n + 2 * PD_GUARD;
    unsigned char *base = zero ? under[d].calloc(under[d].ctx, 1, total)
                               : under[d].malloc(under[d].ctx, total);
    if (base == NULL)
        return NULL;
    unsigned char *user = base + PD_GUARD;
    memset(base, PD_FILL_GUARD, PD_GUARD);
    if (!zero)
        memset(user, PD_FILL_FRESH, n);
    memset(user + n, PD_FILL_GUARD, PD_GUARD);

    pd_site s = *site;
    uintptr_t pcs[PD_STACK_MAX];
    int npcs;
    take_stack(&s, pcs, &npcs);

    pthread_mutex_lock(&lock);
    if (npcs)
        s.stack = pd_depot_put(pcs, npcs);
    uint32_t idx = pd_reg_insert((uintptr_t)user);
    pd_entry *e = pd_reg_entry(idx);
    e->b.size = n;
    e->b.serial = next_serial++;
    e->b.domain = (uint8_t)d;
    e->b.state = PD_LIVE;
    e->b.alloc = s;
    pd_domain_stats *ds = &stats.dom[d];
    ds->allocs++;
    ds->blocks++;
    ds->bytes += n;
    if (ds->bytes > ds->peak_bytes)
        ds->peak_bytes = ds->bytes;
    if ((uintptr_t)user < lowest)
        lowest = (uintptr_t)user;
    if ((uintptr_t)user + n > highest)
        highest = (uintptr_t)user + n;
    pthread_mutex_unlock(&lock);

    if (opts.valgrind) {
        VALGRIND_MAKE_MEM_NOACCESS(base, PD_GUARD);
        VALGRIND_MAKE_MEM_NOACCESS(user + n, PD_GUARD);
        if (!zero)
            VALGRIND_MAKE_MEM_UNDEFINED(user, n);
    }
    return user;
}

/* Unknown pointers ---------------------------------------------------------
 * A pointer that is not in the registry is either foreign (allocated by the
 * underlying allocator before our hooks were installed: it must be freed
 * there) or a bug.  We decide without reading the pointed-to memory: it is
 * a bug if it falls inside one of our blocks, or on a stack, or in a
 * file-backed mapping (static data), or in no mapping at all. */

typedef enum { PTR_FOREIGN, PTR_INTERIOR, PTR_BOGUS } ptr_class;

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

static ptr_class classify_unknown(const void *p, pd_block_info *inside, char *what, size_t len)
{
    if (pd_find_block((uintptr_t)p, 1, inside))
        return PTR_INTERIOR;
    return mapping_kind((uintptr_t)p, what, len) == 0 ? PTR_FOREIGN : PTR_BOGUS;
}

/* Returns 1 when p was foreign and has been handled by the caller's
 * underlying call; 0 when it was a bug (reported). */
static int unknown_pointer(pd_domain d, const void *p, const char *api, const pd_site *now)
{
    pd_block_info inside;
    char what[200] = "";
    ptr_class c = classify_unknown(p, &inside, what, sizeof what);
    if (c == PTR_FOREIGN)
        return 1;
    pd_bug bug;
    bug_init(&bug, PD_BUG_INVALID_FREE, api, p, now);
    (void)d;
    if (c == PTR_INTERIOR) {
        bug.have_block = 1;
        bug.block = inside;
        snprintf(bug.detail, sizeof bug.detail,
                 "the pointer is %zu bytes inside a block, not its start",
                 (size_t)((uintptr_t)p - inside.addr));
    } else {
        snprintf(bug.detail, sizeof bug.detail, "the pointer is in %s", what);
    }
    raise_bug(&bug);
    return 0;
}

/* Freeing --------------------------------------------------------------- */

/* Move block idx (lock held) into its domain's quarantine; pop what no
 * longer fits into `evict` (up to max) and return how many. */
#define EVICT_MAX 32
static int retire_locked(uint32_t idx, const pd_site *s, pd_domain caller,
                         pd_block_info *evict, int max)
{
    pd_entry *e = pd_reg_entry(idx);
    pd_domain d = (pd_domain)e->b.domain;
    pd_domain_stats *ds = &stats.dom[d];
    ds->frees++;
    ds->blocks--;
    ds->bytes -= e->b.size;
    e->b.state = PD_QUARANTINED;
    e->b.free = *s;
    int n = 0;
    /* Since 3.12 a subinterpreter may have its own pymalloc, which frees
     * only its own blocks: a block must go back while the interpreter that
     * freed it is current.  Quarantine only what the main interpreter
     * frees, and evict only during its frees. */
    int bypass = s->subinterp && d != PD_RAW;
    if (bypass || opts.quarantine_bytes == 0 || e->b.size > opts.quarantine_bytes / 4) {
        /* Too big to keep: release it now. */
        evict[n++] = e->b;
        pd_reg_remove(idx);
        return n;
    }
    pd_quar_push(d, idx);
    if (d != caller)
        return n; /* never evict without the right domain's locking */
    while (n < max && pd_quar_bytes(d) > opts.quarantine_bytes) {
        uint32_t old = pd_quar_pop(d);
        evict[n++] = pd_reg_entry(old)->b;
        pd_reg_remove(old);
    }
    return n;
}

static void release(const pd_block_info *b, const char *api, int verify)
{
    if (verify)
        check_freed(b, api, NULL);
    unsigned char *base = (unsigned char *)b->addr - PD_GUARD;
    if (opts.valgrind)
        VALGRIND_MAKE_MEM_DEFINED(base, b->size + 2 * PD_GUARD);
    under[b->domain].free(under[b->domain].ctx, base);
}

static int guards_intact(const unsigned char *user, size_t size)
{
    uint64_t w[4], pat;
    memset(&pat, PD_FILL_GUARD, sizeof pat);
    memcpy(w, user - PD_GUARD, PD_GUARD);
    memcpy(w + 2, user + size, PD_GUARD);
    return (w[0] == pat) & (w[1] == pat) & (w[2] == pat) & (w[3] == pat);
}

static void save_type_words(pd_block_info *b)
{
    if (b->domain != PD_OBJ)
        return;
    const unsigned char *user = (const unsigned char *)b->addr;
    for (int i = 0; i < 3; i++)
        if (b->size >= (size_t)(16 * i + 16))
            memcpy(&b->type_words[i], user + 16 * i + 8, sizeof b->type_words[i]);
}

/* Fill the freed block, retire it, release evictions.  `user` is ours,
 * live, already checked. */
static void finish_free(pd_domain caller, const pd_block_info *b, const pd_site *site,
                        const char *api)
{
    unsigned char *user = (unsigned char *)b->addr;
    pd_block_info typed = *b;
    save_type_words(&typed);
    memset(user, PD_FILL_FREED, b->size);
    /* Guard damage, if any, was reported already: re-arm the guards so the
     * quarantine check reports only what happens from now on. */
    memset(user - PD_GUARD, PD_FILL_GUARD, PD_GUARD);
    memset(user + b->size, PD_FILL_GUARD, PD_GUARD);
    if (opts.valgrind)
        VALGRIND_MAKE_MEM_NOACCESS(user - PD_GUARD, b->size + 2 * PD_GUARD);

    pd_site s = *site;
    uintptr_t pcs[PD_STACK_MAX];
    int npcs;
    take_stack(&s, pcs, &npcs);

    pd_block_info evict[EVICT_MAX];
    pthread_mutex_lock(&lock);
    if (npcs)
        s.stack = pd_depot_put(pcs, npcs);
    uint32_t idx = pd_reg_lookup(b->addr);
    int n = 0;
    /* Another thread may have freed it since our lookup: leave it be. */
    if (idx && pd_reg_entry(idx)->b.state == PD_LIVE &&
        pd_reg_entry(idx)->b.serial == b->serial) {
        memcpy(pd_reg_entry(idx)->b.type_words, typed.type_words, sizeof typed.type_words);
        n = retire_locked(idx, &s, caller, evict, EVICT_MAX);
    }
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++)
        release(&evict[i], api, evict[i].addr != b->addr);
}

/* Look up p (lock taken and released).  Returns 1 and a copy when ours. */
static int lookup_copy(const void *p, pd_block_info *out)
{
    pthread_mutex_lock(&lock);
    uint32_t idx = pd_reg_lookup((uintptr_t)p);
    if (idx)
        *out = pd_reg_entry(idx)->b;
    pthread_mutex_unlock(&lock);
    return idx != 0;
}

static void count_foreign(pd_domain d)
{
    pthread_mutex_lock(&lock);
    stats.dom[d].foreign_frees++;
    pthread_mutex_unlock(&lock);
}

/* The common case, under one lock: our live block, freed through its own
 * domain, guards intact.  Returns the number of evictions to release, or
 * -1 when the slow path must look at the block. */
static int free_fast(pd_domain d, void *p, pd_site *s, const uintptr_t *pcs, int npcs,
                     pd_block_info *evict)
{
    int n = -1;
    pthread_mutex_lock(&lock);
    uint32_t idx = pd_reg_lookup((uintptr_t)p);
    if (idx) {
        pd_entry *e = pd_reg_entry(idx);
        if (e->b.state == PD_LIVE && e->b.domain == d && guards_intact(p, e->b.size)) {
            save_type_words(&e->b);
            memset(p, PD_FILL_FREED, e->b.size);
            if (npcs)
                s->stack = pd_depot_put(pcs, npcs);
            n = retire_locked(idx, s, d, evict, EVICT_MAX);
        }
    }
    pthread_mutex_unlock(&lock);
    return n;
}

void pd_free(pd_domain d, void *p, const pd_site *site)
{
    if (p == NULL)
        return;
    if (!opts.valgrind) {
        pd_site s = *site;
        uintptr_t pcs[PD_STACK_MAX];
        int npcs;
        take_stack(&s, pcs, &npcs);
        pd_block_info evict[EVICT_MAX];
        int n = free_fast(d, p, &s, pcs, npcs, evict);
        for (int i = 0; i < n; i++)
            release(&evict[i], free_apis[d], evict[i].addr != (uintptr_t)p);
        if (n >= 0)
            return;
    }
    const char *api = free_apis[d];
    pd_block_info b;
    if (!lookup_copy(p, &b)) {
        if (unknown_pointer(d, p, api, site)) {
            count_foreign(d);
            under[d].free(under[d].ctx, p);
        }
        return;
    }
    pd_bug bug;
    if (b.state == PD_QUARANTINED) {
        bug_init(&bug, PD_BUG_DOUBLE_FREE, api, p, site);
        bug.have_block = 1;
        bug.block = b;
        raise_bug(&bug);
        return; /* continue: drop the second free */
    }
    if (b.domain != d) {
        bug_init(&bug, PD_BUG_WRONG_DOMAIN, api, p, site);
        bug.have_block = 1;
        bug.block = b;
        snprintf(bug.detail, sizeof bug.detail,
                 "allocated with %s (%s domain), freed with %s (%s domain)",
                 domain_apis[b.domain], domain_names[b.domain], api, domain_names[d]);
        raise_bug(&bug);
    }
    check_guards(&b, api, site);
    finish_free(d, &b, site, api);
}

void *pd_realloc(pd_domain d, void *p, size_t n, const pd_site *site)
{
    if (p == NULL)
        return pd_malloc(d, n, 0, site);
    const char *api = realloc_apis[d];
    pd_block_info b;
    if (!lookup_copy(p, &b)) {
        if (unknown_pointer(d, p, api, site))
            return under[d].realloc(under[d].ctx, p, n); /* stays foreign */
        return NULL;
    }
    pd_bug bug;
    if (b.state == PD_QUARANTINED) {
        bug_init(&bug, PD_BUG_REALLOC_FREED, api, p, site);
        bug.have_block = 1;
        bug.block = b;
        raise_bug(&bug);
        return NULL;
    }
    if (b.domain != d) {
        bug_init(&bug, PD_BUG_WRONG_DOMAIN, api, p, site);
        bug.have_block = 1;
        bug.block = b;
        snprintf(bug.detail, sizeof bug.detail,
                 "allocated with %s (%s domain), resized with %s (%s domain)",
                 domain_apis[b.domain], domain_names[b.domain], api, domain_names[d]);
        raise_bug(&bug);
    }
    check_guards(&b, api, site);
    /* Always move: a stale pointer to the old block then hits a
     * quarantined, pattern-filled block instead of live data. */
    void *q = pd_malloc((pd_domain)b.domain, n, 0, site);
    if (q == NULL)
        return NULL;
    if (opts.valgrind)
        VALGRIND_MAKE_MEM_DEFINED(p, b.size);
    memcpy(q, p, n < b.size ? n : b.size);
    pthread_mutex_lock(&lock);
    stats.dom[b.domain].reallocs++;
    pthread_mutex_unlock(&lock);
    finish_free(d, &b, site, api);
    return q;
}

/* Queries ------------------------------------------------------------------ */

int pd_find_block(uintptr_t addr, int interior, pd_block_info *out)
{
    int found = 0;
    pthread_mutex_lock(&lock);
    uint32_t idx = pd_reg_lookup(addr);
    if (idx) {
        *out = pd_reg_entry(idx)->b;
        found = 1;
    } else if (interior && addr >= lowest && addr < highest) {
        uint32_t high = pd_reg_high();
        for (uint32_t i = 1; i < high; i++) {
            pd_entry *e = pd_reg_entry(i);
            if (e->b.addr && addr >= e->b.addr && addr < e->b.addr + e->b.size) {
                *out = e->b;
                found = 1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

int pd_find_block_try(uintptr_t addr, pd_block_info *out)
{
    if (pthread_mutex_trylock(&lock) != 0)
        return 0;
    int found = 0;
    uint32_t idx = pd_reg_lookup(addr);
    if (idx) {
        *out = pd_reg_entry(idx)->b;
        found = 1;
    } else if (addr >= lowest && addr < highest + PD_GUARD) {
        uint32_t high = pd_reg_high();
        for (uint32_t i = 1; i < high && !found; i++) {
            pd_entry *e = pd_reg_entry(i);
            if (e->b.addr && addr + PD_GUARD >= e->b.addr &&
                addr < e->b.addr + e->b.size + PD_GUARD) {
                *out = e->b;
                found = 1;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

uint64_t pd_serial_of(const void *p)
{
    /* An object may sit behind a GC header (16 bytes) or a GC header and a
     * pre-header (32 bytes) in its block. */
    uint64_t s = 0;
    pthread_mutex_lock(&lock);
    for (uintptr_t back = 0; back <= 32 && s == 0; back += 16) {
        uint32_t idx = pd_reg_lookup((uintptr_t)p - back);
        if (idx && pd_reg_entry(idx)->b.state == PD_LIVE)
            s = pd_reg_entry(idx)->b.serial;
    }
    pthread_mutex_unlock(&lock);
    return s;
}

size_t pd_check_heap(void)
{
    /* Copy the registry out in chunks so checks run without the lock. */
    size_t damaged = 0;
    uint32_t i = 1;
    pd_block_info chunk[256];
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&lock);
        uint32_t high = pd_reg_high();
        for (; i < high && n < 256; i++) {
            pd_entry *e = pd_reg_entry(i);
            if (e->b.addr)
                chunk[n++] = e->b;
        }
        pthread_mutex_unlock(&lock);
        if (n == 0)
            break;
        for (int k = 0; k < n; k++) {
            if (chunk[k].state == PD_LIVE)
                damaged += (size_t)check_guards(&chunk[k], "pydebug.check_heap", NULL);
            else
                damaged += (size_t)check_freed(&chunk[k], "pydebug.check_heap", NULL);
        }
    }
    return damaged;
}

void pd_get_stats(pd_stats *out)
{
    pthread_mutex_lock(&lock);
    *out = stats;
    out->quarantine_blocks = 0;
    out->quarantine_bytes = 0;
    for (int d = 0; d < PD_NDOMAINS; d++) {
        out->quarantine_blocks += pd_quar_count((pd_domain)d);
        out->quarantine_bytes += pd_quar_bytes((pd_domain)d);
    }
    out->quarantine_limit = opts.quarantine_bytes;
    out->registry_bytes = pd_reg_bytes();
    pthread_mutex_unlock(&lock);
    out->errors = atomic_load(&errors);
}
