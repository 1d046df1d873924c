/* pd_hooks.c - see pd_hooks.h. */
#include <Python.h>

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp/pd_interp.h"
#include "pd_codes.h"
#include "pd_foreign.h"
#include "pd_hooks.h"
#include "pd_objects.h"
#include "pd_pyframe.h"
#include "pd_pymwalk.h"
#include "../core/pd_guard.h"
#include "../core/pd_heap.h"
#include "../core/pd_report.h"
#include "../core/pd_stack.h"
#include "../core/pd_sys.h"

/* Exported by every libpython we support; declared in an internal header
 * whose location moves between versions. */
PyAPI_FUNC(int) _PyObject_DebugMallocStats(FILE *out);

static pd_config config;
static int installed;
static int guard_only;  /* -X malloc=off with -X guard: the pool, no debug heap */
static PyMemAllocatorEx previous[PD_NDOMAINS];

int pd_hooks_installed(void) { return installed; }
int pd_hooks_guarding(void) { return installed || guard_only; }
const pd_config *pd_hooks_config(void) { return &config; }

/* Options ------------------------------------------------------------------ */

static int bad_option(const char *name, const char *want, const char *got)
{
    fprintf(stderr, "python-debug: -X %s: expected %s, got '%s'\n", name, want, got);
    return -1;
}

static int parse_size(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno || v[0] == '-')
        return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K') mul = 1ull << 10, end++;
    else if (*end == 'm' || *end == 'M') mul = 1ull << 20, end++;
    else if (*end == 'g' || *end == 'G') mul = 1ull << 30, end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0')
        return -1;
    *out = (size_t)(n * mul);
    return 0;
}

static int on_off(const char *v, int *out)
{
    if (v == NULL || !strcmp(v, "on") || !strcmp(v, "1")) { *out = 1; return 0; }
    if (!strcmp(v, "off") || !strcmp(v, "0")) { *out = 0; return 0; }
    return -1;
}

/* One -X option.  Options that are not ours are left to Python. */
static int x_option(pd_config *cfg, const char *opt)
{
    char name[64];
    const char *eq = strchr(opt, '=');
    size_t nl = eq ? (size_t)(eq - opt) : strlen(opt);
    if (nl >= sizeof name)
        return 0;
    memcpy(name, opt, nl);
    name[nl] = '\0';
    const char *v = eq ? eq + 1 : NULL;

    if (!strcmp(name, "malloc")) {
        cfg->objects_only = v && !strcmp(v, "objects");
        if (cfg->objects_only) cfg->enabled = 0;
        else if (on_off(v, &cfg->enabled)) return bad_option(name, "on, off or objects", v);
    } else if (!strcmp(name, "pymalloc")) {
        int on;
        if (on_off(v, &on)) return bad_option(name, "on or off", v);
        cfg->pymalloc_off = !on;
    } else if (!strcmp(name, "quarantine")) {
        if (v == NULL || parse_size(v, &cfg->core.quarantine_bytes))
            return bad_option(name, "a size in bytes such as 16M or 0", v ? v : "");
    } else if (!strcmp(name, "stacks")) {
        char *end;
        long n = v ? strtol(v, &end, 10) : -1;
        if (v == NULL || *end || n < 0 || n > PD_STACK_MAX)
            return bad_option(name, "a frame count from 0 to 64", v ? v : "");
        cfg->core.stacks = (int)n;
    } else if (!strcmp(name, "on_error")) {
        if (v && !strcmp(v, "abort")) cfg->core.on_error = PD_ON_ERROR_ABORT;
        else if (v && !strcmp(v, "continue")) cfg->core.on_error = PD_ON_ERROR_CONTINUE;
        else return bad_option(name, "abort or continue", v ? v : "");
    } else if (!strcmp(name, "report")) {
        if (v == NULL || !*v)
            return bad_option(name, "a file name", "");
        int fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "python-debug: -X report=%s: %s\n", v, strerror(errno));
            return -1;
        }
        cfg->core.report_fd = fd;
    } else if (!strcmp(name, "guard")) {
        char *end;
        unsigned long r = 0;
        cfg->core.guard_all = 0;
        if (v == NULL || !*v)
            r = PD_GUARD_DEFAULT_RATE;
        else if (!strcmp(v, "all"))
            cfg->core.guard_all = 1;
        else if (strcmp(v, "off") && strcmp(v, "0") &&
                 ((r = strtoul(v, &end, 10)) == 0 || *end || v[0] == '-' || r > UINT32_MAX))
            return bad_option(name, "all, off or a rate N (one allocation in N)", v);
        cfg->core.guard_rate = (uint32_t)r;
    } else if (!strcmp(name, "guard_align")) {
        if (v && !strcmp(v, "left")) cfg->core.guard_left = 1;
        else if (v && !strcmp(v, "right")) cfg->core.guard_left = 0;
        else return bad_option(name, "left or right", v ? v : "");
    } else if (!strcmp(name, "guard_pool")) {
        if (v == NULL || parse_size(v, &cfg->core.guard_pool_bytes) ||
            cfg->core.guard_pool_bytes < (1u << 16))
            return bad_option(name, "a size of at least 64K, such as 256M", v ? v : "");
    } else if (!strcmp(name, "mallocstats")) {
        if (on_off(v, &cfg->mallocstats)) return bad_option(name, "on or off", v);
    } else if (!strcmp(name, "poison")) {
        if (on_off(v, &cfg->poison)) return bad_option(name, "on or off", v);
    } else if (!strcmp(name, "crash")) {
        if (on_off(v, &cfg->crash)) return bad_option(name, "on or off", v);
    } else if (!strcmp(name, "showrefcount")) {
        if (on_off(v, &cfg->showrefcount)) return bad_option(name, "on or off", v);
    } else if (!strcmp(name, "dumprefs")) {
        if (on_off(v, &cfg->dumprefs)) return bad_option(name, "on or off", v);
    } else if (!strcmp(name, "countallocs")) {
        if (on_off(v, &cfg->countallocs)) return bad_option(name, "on or off", v);
    } else if (!strcmp(name, "sys-compat")) {
        if (on_off(v, &cfg->sys_compat)) return bad_option(name, "on or off", v);
    } else if (!strcmp(name, "lltrace")) {
        if (on_off(v, &cfg->lltrace)) return bad_option(name, "on or off", v);
    } else if (!strcmp(name, "callstats")) {
        if (on_off(v, &cfg->callstats)) return bad_option(name, "on or off", v);
    } else if (!strcmp(name, "tscdump")) {
        int on;
        if (v && !strcmp(v, "summary")) cfg->tscdump = PD_TSCDUMP_SUMMARY;
        else if (on_off(v, &on)) return bad_option(name, "on, off or summary", v);
        else cfg->tscdump = on ? PD_TSCDUMP_LINES : PD_TSCDUMP_OFF;
    } else if (!strcmp(name, "follow")) {
        if (on_off(v, &cfg->follow)) return bad_option(name, "on or off", v);
    } else {
        return 0;
    }
    /* Ours: passed on to the children that follow (pd_follow.h). */
    if (cfg->nxopts < (int)(sizeof cfg->xopts / sizeof cfg->xopts[0]))
        cfg->xopts[cfg->nxopts++] = opt;
    return 0;
}

int pd_config_parse(pd_config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->enabled = 1;
    cfg->crash = 1;
    cfg->poison = 1;
    cfg->follow = 1;
    cfg->core.quarantine_bytes = 1u << 20;
    cfg->core.report_fd = -1;
    cfg->core.on_error = PD_ON_ERROR_ABORT;
    const char *ms = getenv("PYTHONMALLOCSTATS");
    cfg->mallocstats = ms != NULL && *ms != '\0';
    cfg->core.valgrind = getenv("PYDEBUG_VALGRIND") != NULL;
    const char *dr = getenv("PYTHONDUMPREFS"), *ca = getenv("PYTHONCOUNTALLOCS");
    cfg->dumprefs = dr != NULL && *dr != '\0';
    cfg->countallocs = ca != NULL && *ca != '\0';
    /* Address space only; pages are committed as the heap grows.  Kept
     * smaller under valgrind, which maps its own shadow of it. */
    cfg->core.heap_bytes = (size_t)(cfg->core.valgrind ? 8 : 64) << 30;

    /* Walk the interpreter options exactly as far as Python does: they end
     * at -c, -m, "-", "--" or the script name. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0' || !strcmp(a, "--"))
            break;
        if (a[1] == '-') {
            if (!strcmp(a, "--check-hash-based-pycs"))
                i++;
            continue;
        }
        for (int j = 1; a[j]; j++) {
            char c = a[j];
            if (c == 'c' || c == 'm')
                goto done;
            if (c == 'W' || c == 'X') {
                const char *v = a[j + 1] ? a + j + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (c == 'X' && v && x_option(cfg, v) < 0)
                    return -1;
                break;
            }
        }
    }
done:
    /* The pool's address space: enough for every allocation a focused
     * -X guard=all run keeps alive at once, a smaller budget otherwise. */
    if (cfg->core.guard_pool_bytes == 0)
        cfg->core.guard_pool_bytes = (size_t)(cfg->core.guard_all ? 1024 : 64) << 20;
    /* With the debug allocator off, pymalloc prints its own statistics if
     * CPython is told to before it pre-initializes. */
    if (!cfg->enabled && cfg->mallocstats)
        setenv("PYTHONMALLOCSTATS", "1", 1);
    return 0;
}

/* The hooks ------------------------------------------------------------------
 * ctx carries the domain.  On x86-64 the allocator APIs tail-jump to us, so
 * our return address is in the API's caller. */

/* The innermost user frame on the stack, looking no further than the
 * innermost eval loop's frame: a user frame above it called Python code,
 * not the allocator.  Some interpreters point at that frame (3.11, 3.12);
 * the others must walk the Python frames the loop runs to find it
 * (measured on 3.13: more than the bound saves once they are a few deep),
 * so there the scan runs unbounded and the walk only confirms or rejects
 * a candidate it found (pd_interp_eval_bound). */
#define WALK_HOPS 1024

static void *scan_user(const void *sp)
{
    uintptr_t bound = pd_interp_eval_bound(0);
    void *pc = pd_stack_scan_user(sp, bound);
    if (pc != NULL && bound == 0 && (bound = pd_interp_eval_bound(WALK_HOPS)) != 0)
        pc = pd_stack_scan_user(sp, bound);
    return pc;
}

static void capture(pd_site *s, void *ret, const void *sp)
{
    s->pc = ret;
    s->user_pc = NULL;
    if (pd_stack_have_user())
        s->user_pc = pd_pc_is_user((uintptr_t)ret) ? ret : scan_user(sp);
    s->stack = 0;
    s->pystack = 0;
    s->tid = pd_sys_tid();
    pd_interp_capture(s);
    if (config.core.stacks > 0) {
        uintptr_t w[3 * PD_STACK_MAX];
        int n = pd_py_capture_stack(w, config.core.stacks);
        if (n > 0)
            s->pystack = pd_core_stack_put(w, n);
    }
}

void pd_hooks_site(pd_site *s, void *ret, const void *sp) { capture(s, ret, sp); }

void pd_hooks_started(void)
{
    if (pd_hooks_guarding())
        pd_guard_arm();
}

/* A guarded block's sites also get the Python stack (its C stack is the
 * core's), whatever -X stacks says. */
#define GUARD_PYSTACK 16

static void deepen(pd_site *s)
{
    if (s->pystack != 0)
        return;
    uintptr_t w[3 * PD_STACK_MAX];
    int n = pd_py_capture_stack(w, GUARD_PYSTACK);
    if (n > 0)
        s->pystack = pd_core_stack_put(w, n);
}

#define DOMAIN(ctx) ((pd_domain)(uintptr_t)(ctx))
#define SITE(s) capture(&(s), __builtin_return_address(0), __builtin_frame_address(0))

static int stats_on_arena;
static void maybe_print_arena_stats(void);

/* Cost floors, for bench/bench.py only: a host built with
 * -DPD_BENCH_FLOOR=N measures part of what these hooks cost, apart.
 *   1  capture both sites of every call, then hand it to the allocator
 *      that was installed before us (pymalloc): what knowing where costs;
 *   2  hand every call over at once: what the hooks' indirection costs.
 * Such a host checks nothing; the front end never builds one. */
#ifndef PD_BENCH_FLOOR
#define PD_BENCH_FLOOR 0
#endif
#define PREV(ctx) (&previous[DOMAIN(ctx)])
/* Keeps the capture of a site nobody reads from being optimized away. */
#define KEEP(s) __asm__ volatile("" : : "r"(&(s)) : "memory")

/* Stepping aside (pd_hooks_step_aside): from then on new blocks come from
 * the allocators that were installed before us, and a pointer outside our
 * heap and pool - one of those - goes back to them; the blocks we gave out
 * are still resized and freed by us, with every check.  Stepping back in
 * (pd_hooks_step_in) makes new blocks ours again, but theirs stay theirs to
 * their free: once aside, a pointer is always asked where it lies.  Read
 * without ordering: a call racing a switch goes either way, and either is
 * right, since where a block goes back is decided by where it lies. */
static atomic_int aside, foreign;
#define ASIDE() __builtin_expect(atomic_load_explicit(&aside, memory_order_relaxed), 0)
#define FOREIGN() __builtin_expect(atomic_load_explicit(&foreign, memory_order_relaxed), 0)
/* Inside their realloc of one of their blocks: pymalloc, growing a block
 * past its largest class, asks the raw domain for the new one, which must
 * be theirs too (their free of it will be). */
static _Thread_local __attribute__((tls_model("initial-exec"))) int in_theirs;
#define THEIRS() (ASIDE() || (FOREIGN() && in_theirs))

static int ours(const void *p)
{
    return pd_guard_owns((uintptr_t)p) || pd_heap_owns((uintptr_t)p);
}

void pd_hooks_step_aside(void)
{
    if (installed) {
        atomic_store(&foreign, 1);
        atomic_store(&aside, 1);
    }
}

void pd_hooks_step_in(void) { atomic_store(&aside, 0); }

int pd_hooks_aside(void) { return atomic_load(&aside); }
int pd_hooks_foreign(void) { return atomic_load(&foreign); }

/* A block of theirs freed: an object's leaves the adopted objects
 * (pd_foreign.h); once back in, the free is counted, so that the live
 * blocks measured are ours less theirs freed since. */
static void free_theirs(pd_domain d, void *p)
{
    if (d == PD_OBJ)
        pd_foreign_forget((uintptr_t)p);
    if (!ASIDE())
        pd_core_foreign_free(d, pd_sys_tid());
    previous[d].free(previous[d].ctx, p);
}

static void *realloc_theirs(pd_domain d, void *p, size_t n)
{
    in_theirs++;
    void *q = previous[d].realloc(previous[d].ctx, p, n);
    in_theirs--;
    if (q != NULL && p != NULL && d == PD_OBJ)
        pd_foreign_moved((uintptr_t)p, (uintptr_t)q, n);
    return q;
}

/* A sampled allocation in a guarded slot, or NULL (the pool is full). */
static void *guarded(pd_domain d, size_t n, int zero, pd_site *s)
{
    deepen(s);
    return pd_guarded_malloc(d, n, zero, s);
}

static void *pd_hook_malloc(void *ctx, size_t n)
{
    pd_site s;
    if (PD_BENCH_FLOOR == 2 || THEIRS())
        return PREV(ctx)->malloc(PREV(ctx)->ctx, n);
    SITE(s);
    if (PD_BENCH_FLOOR == 1) {
        KEEP(s);
        return PREV(ctx)->malloc(PREV(ctx)->ctx, n);
    }
    void *p = pd_guard_sample(n) ? guarded(DOMAIN(ctx), n, 0, &s) : NULL;
    if (p == NULL)
        p = pd_malloc(DOMAIN(ctx), n, 0, &s);
    if (stats_on_arena)
        maybe_print_arena_stats();
    return p;
}

static void *pd_hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    if (elsize != 0 && nelem > SIZE_MAX / elsize)
        return NULL;
    pd_site s;
    if (PD_BENCH_FLOOR == 2 || THEIRS())
        return PREV(ctx)->calloc(PREV(ctx)->ctx, nelem, elsize);
    SITE(s);
    if (PD_BENCH_FLOOR == 1) {
        KEEP(s);
        return PREV(ctx)->calloc(PREV(ctx)->ctx, nelem, elsize);
    }
    size_t n = nelem * elsize;
    void *p = pd_guard_sample(n) ? guarded(DOMAIN(ctx), n, 1, &s) : NULL;
    return p ? p : pd_malloc(DOMAIN(ctx), n, 1, &s);
}

static void *pd_hook_realloc(void *ctx, void *p, size_t n)
{
    pd_site s;
    if (PD_BENCH_FLOOR == 2)
        return PREV(ctx)->realloc(PREV(ctx)->ctx, p, n);
    if (FOREIGN() && (p == NULL ? THEIRS() : !ours(p)))
        return realloc_theirs(DOMAIN(ctx), p, n);
    SITE(s);
    if (PD_BENCH_FLOOR == 1) {
        KEEP(s);
        return PREV(ctx)->realloc(PREV(ctx)->ctx, p, n);
    }
    if (p == NULL && pd_guard_sample(n)) {
        void *q = guarded(DOMAIN(ctx), n, 0, &s);
        if (q)
            return q;
    }
    if (p && pd_guard_owns((uintptr_t)p))
        deepen(&s);
    return pd_realloc(DOMAIN(ctx), p, n, &s);
}

static void pd_hook_free(void *ctx, void *p)
{
    if (p == NULL)
        return;
    if (PD_BENCH_FLOOR == 2) {
        PREV(ctx)->free(PREV(ctx)->ctx, p);
        return;
    }
    pd_entry *e = pd_heap_prefetch((uintptr_t)p); /* it arrives while we capture */
    if (FOREIGN() && e == NULL && !ours(p)) {
        free_theirs(DOMAIN(ctx), p);
        return;
    }
    pd_site s;
    SITE(s);
    if (PD_BENCH_FLOOR == 1) {
        KEEP(s);
        PREV(ctx)->free(PREV(ctx)->ctx, p);
        return;
    }
    if (pd_guard_owns((uintptr_t)p))
        deepen(&s);
    pd_free_hinted(DOMAIN(ctx), p, &s, e);
}

/* -X guard with -X malloc=off: the guarded pool over the interpreter's own
 * allocators.  An allocation not sampled, and a block not in the pool,
 * cost a decrement or two comparisons and a jump: the sampled path is
 * kept out of line so the common one needs no stack frame to speak of.
 *
 * pymalloc hands blocks over 512 bytes to the raw domain and frees them
 * there from PyObject_Free; so, here, a guarded raw block freed or resized
 * through the mem or object domain is the interpreter's own doing, not a
 * wrong-domain bug (the debug allocator, which replaces pymalloc, still
 * reports that).  Such blocks are sampled at both levels: twice the rate. */

/* The hooks below tail-call the interpreter's allocator (the host is built
 * without sibling calls, for the hooks whose own return address is the
 * caller's).  The out-of-line parts scan the stack from their own frame,
 * just below the hook's. */
#define FAST_HOOK __attribute__((optimize("omit-frame-pointer", "optimize-sibling-calls")))

/* The rest of an allocation whose countdown ran out: sampled or not. */
static __attribute__((noinline)) void *guard_alloc_slow(pd_domain d, size_t nelem, size_t elsize,
                                                        int zero, void *ret)
{
    size_t n = nelem * elsize;
    if ((!zero || elsize == 0 || nelem <= SIZE_MAX / elsize) && pd_guard_sample_slow(n)) {
        pd_site s;
        capture(&s, ret, __builtin_frame_address(0));
        void *p = guarded(d, n, zero, &s);
        if (p)
            return p;
    }
    return zero ? previous[d].calloc(previous[d].ctx, nelem, elsize)
                : previous[d].malloc(previous[d].ctx, n);
}

/* A pointer into the pool, freed or resized through domain d: whose is
 * it?  Returns 1 when it is the block a guarded allocation gave out (*d is
 * then the domain to free it through: its own if it is raw, see above),
 * 0 when it is the interpreter's - a debug build's hooks put a header
 * before what they hand out, so mem and object pointers can lie inside a
 * raw block of ours - and goes back to d's own allocator.  A freed or wild
 * pointer through the raw domain is ours to report. */
static int guard_whose(pd_domain *d, const void *p, size_t *size)
{
    int dom;
    if (pd_live_block(p, size, &dom)) {
        if (dom == PD_RAW)
            *d = PD_RAW;
        return 1;
    }
    return *d == PD_RAW;
}

static __attribute__((noinline)) void *guard_realloc_owned(pd_domain d, void *p, size_t n,
                                                           void *ret)
{
    size_t old = 0;
    pd_domain own = d;
    if (!guard_whose(&own, p, &old))
        return previous[d].realloc(previous[d].ctx, p, n);
    pd_site s;
    capture(&s, ret, __builtin_frame_address(0));
    deepen(&s);
    d = own;
    if (old == 0 && !pd_live_block(p, &old, &(int){0}))
        return pd_realloc(d, p, n, &s); /* reports the freed or bad pointer */
    void *q = pd_guard_sample(n) ? pd_guarded_malloc(d, n, 0, &s) : NULL;
    if (q == NULL)
        q = previous[d].malloc(previous[d].ctx, n);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    pd_free(d, p, &s);
    return q;
}

static __attribute__((noinline)) void guard_free_owned(pd_domain d, void *p, void *ret)
{
    size_t size;
    pd_domain own = d;
    if (!guard_whose(&own, p, &size)) {
        previous[d].free(previous[d].ctx, p);
        return;
    }
    pd_site s;
    capture(&s, ret, __builtin_frame_address(0));
    deepen(&s);
    pd_free(own, p, &s);
}

/* One set of hooks per domain, so that the domain is a constant: the fast
 * paths are a few instructions and a jump into the interpreter's own
 * allocator. */
#define GUARD_HOOKS(name, D)                                                              \
    static FAST_HOOK void *guard_malloc_##name(void *ctx, size_t n)                        \
    {                                                                                     \
        (void)ctx;                                                                        \
        if (__builtin_expect(--pd_guard_countdown > 0, 1))                                \
            return previous[D].malloc(previous[D].ctx, n);                                \
        return guard_alloc_slow(D, n, 1, 0, __builtin_return_address(0));                 \
    }                                                                                     \
    static FAST_HOOK void *guard_calloc_##name(void *ctx, size_t nelem, size_t elsize)     \
    {                                                                                     \
        (void)ctx;                                                                        \
        if (__builtin_expect(--pd_guard_countdown > 0, 1))                                \
            return previous[D].calloc(previous[D].ctx, nelem, elsize);                    \
        return guard_alloc_slow(D, nelem, elsize, 1, __builtin_return_address(0));        \
    }                                                                                     \
    static FAST_HOOK void *guard_realloc_##name(void *ctx, void *p, size_t n)              \
    {                                                                                     \
        (void)ctx;                                                                        \
        if (p == NULL && --pd_guard_countdown <= 0)                                       \
            return guard_alloc_slow(D, n, 1, 0, __builtin_return_address(0));             \
        if (p && pd_guard_owns((uintptr_t)p))                                             \
            return guard_realloc_owned(D, p, n, __builtin_return_address(0));             \
        return previous[D].realloc(previous[D].ctx, p, n);                                \
    }                                                                                     \
    static FAST_HOOK void guard_free_##name(void *ctx, void *p)                            \
    {                                                                                     \
        (void)ctx;                                                                        \
        if (pd_guard_owns((uintptr_t)p)) {                                                \
            guard_free_owned(D, p, __builtin_return_address(0));                          \
            return;                                                                       \
        }                                                                                 \
        previous[D].free(previous[D].ctx, p);                                             \
    }

GUARD_HOOKS(raw, PD_RAW)
GUARD_HOOKS(mem, PD_MEM)
GUARD_HOOKS(obj, PD_OBJ)

/* Statistics --------------------------------------------------------------
 * Under python-debug every block lives in our heap, so PYTHONMALLOCSTATS
 * shows our size classes in the table shape pymalloc prints (a "pool" is
 * one of our 64 KiB slabs), then the per-domain counts. */

static void print_heap_classes(void)
{
    pd_class_stats cls[64];
    int n = pd_core_classes(cls, 64);
    pd_stats st;
    pd_get_stats(&st);
    fprintf(stderr, "Small block threshold = 32768, in %d size classes (python-debug heap).\n\n", n);
    fprintf(stderr, "class   size   num pools   blocks in use  avail blocks\n");
    fprintf(stderr, "-----   ----   ---------   -------------  ------------\n");
    uint64_t in_use_bytes = 0;
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "%5d %6u %11u %15llu %13llu\n", i, cls[i].size, cls[i].slabs,
                (unsigned long long)cls[i].in_use, (unsigned long long)cls[i].avail);
        in_use_bytes += cls[i].in_use * cls[i].size;
    }
    fprintf(stderr, "\n# times object malloc called       = %21llu\n",
            (unsigned long long)st.dom[PD_OBJ].allocs);
    fprintf(stderr, "# arenas allocated current         = %21llu\n", (unsigned long long)st.arenas);
    fprintf(stderr, "%llu arenas * %d bytes/arena     = %21llu\n", (unsigned long long)st.arenas,
            1 << 20, (unsigned long long)st.heap_bytes);
    fprintf(stderr, "# bytes in allocated slots         = %21llu\n", (unsigned long long)in_use_bytes);
    fprintf(stderr, "# bytes of metadata (out of band)  = %21llu\n",
            (unsigned long long)st.registry_bytes);
}

static void print_guard_stats(void)
{
    pd_stats st;
    pd_get_stats(&st);
    if (st.guard_slots == 0)
        return;
    fprintf(stderr, "# guarded slots: %llu in the pool, %llu live, %llu freed and inaccessible, "
            "%llu blocks guarded, %llu sampled allocations found no room, %llu opened after a fault\n",
            (unsigned long long)st.guard_slots, (unsigned long long)st.guard_live,
            (unsigned long long)st.guard_freed, (unsigned long long)st.guard_guarded,
            (unsigned long long)st.guard_fallbacks, (unsigned long long)st.guard_retired);
}

void pd_hooks_print_stats(void)
{
    if (!installed) {
        _PyObject_DebugMallocStats(stderr);
        fprintf(stderr, "python-debug: debug allocator off (-X malloc=off)\n");
        if (guard_only)
            print_guard_stats();
        fflush(stderr);
        return;
    }
    print_heap_classes();
    pd_stats st;
    pd_get_stats(&st);
    fprintf(stderr, "\npython-debug allocator (guards of %d+ bytes each side, out-of-band metadata)\n",
            PD_GUARD);
    fprintf(stderr, "domain    blocks in use   bytes in use     peak bytes       allocs        frees     reallocs  foreign frees\n");
    fprintf(stderr, "------  -------------  -------------  -------------  -----------  -----------  -----------  -------------\n");
    for (int d = 0; d < PD_NDOMAINS; d++) {
        const pd_domain_stats *s = &st.dom[d];
        fprintf(stderr, "%-6s  %13llu  %13llu  %13llu  %11llu  %11llu  %11llu  %13llu\n",
                pd_domain_name((pd_domain)d), (unsigned long long)s->blocks,
                (unsigned long long)s->bytes, (unsigned long long)s->peak_bytes,
                (unsigned long long)s->allocs, (unsigned long long)s->frees,
                (unsigned long long)s->reallocs, (unsigned long long)s->foreign_frees);
    }
    fprintf(stderr, "# quarantine: %llu blocks, %llu bytes (limit %llu bytes per domain)\n",
            (unsigned long long)st.quarantine_blocks, (unsigned long long)st.quarantine_bytes,
            (unsigned long long)st.quarantine_limit);
    fprintf(stderr, "# errors reported: %llu\n", (unsigned long long)st.errors);
    print_guard_stats();
    fflush(stderr);
}

/* The heap tells us (lock held) that it committed an arena; we print
 * after the allocation that caused it, outside the lock. */
static atomic_uint arenas_seen, arenas_printed;

static void on_new_arena(void) { atomic_fetch_add(&arenas_seen, 1); }

static void maybe_print_arena_stats(void)
{
    unsigned seen = atomic_load(&arenas_seen);
    if (seen != atomic_load(&arenas_printed)) {
        atomic_store(&arenas_printed, seen);
        pd_hooks_print_stats();
    }
}

/* Modules ------------------------------------------------------------------ */

static int is_system_object(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strstr(path, "/lib-dynload/") || !strncmp(base, "libpython", 9))
        return 1;
    if (strstr(path, "-packages/"))
        return 0;
    return !strncmp(path, "/lib", 4) || !strncmp(path, "/usr/lib", 8);
}

void pd_hooks_modules_changed(void)
{
    pd_modules_refresh(is_system_object);
    pd_objects_modules_changed();
}

/* Install ---------------------------------------------------------------------- */

static void fork_prepare(void) { pd_core_atfork_prepare(); }
static void fork_parent(void) { pd_core_atfork_parent(); }
static void fork_child(void) { pd_core_atfork_child(); }

static const PyMemAllocatorDomain doms[] = {PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM,
                                            PYMEM_DOMAIN_OBJ};

/* The guarded pool alone, over the interpreter's allocators. */
static void install_guard_only(const pd_config *cfg)
{
    pd_config light = *cfg;
    light.core.heap_bytes = 64u << 20; /* the debug heap stays unused */
    pd_core_init(&light.core);
    for (int d = 0; d < PD_NDOMAINS; d++)
        PyMem_GetAllocator(doms[d], &previous[d]);
    static const PyMemAllocatorEx ours[PD_NDOMAINS] = {
        {NULL, guard_malloc_raw, guard_calloc_raw, guard_realloc_raw, guard_free_raw},
        {NULL, guard_malloc_mem, guard_calloc_mem, guard_realloc_mem, guard_free_mem},
        {NULL, guard_malloc_obj, guard_calloc_obj, guard_realloc_obj, guard_free_obj},
    };
    for (int d = 0; d < PD_NDOMAINS; d++)
        PyMem_SetAllocator(doms[d], (PyMemAllocatorEx *)&ours[d]);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    guard_only = 1;
}

void pd_hooks_install(const pd_config *cfg)
{
    config = *cfg;
    static const pd_report_hooks rh = {
        .describe_site = pd_py_describe_site,
        .traceback_now = pd_py_traceback_now,
        .describe_pystack = pd_py_describe_pystack,
        .block_type = pd_py_block_type,
    };
    pd_report_set_hooks(&rh);
    pd_hooks_modules_changed();
    /* backtrace() loads libgcc_s on first use: do it now, not in a hook or
     * a signal handler. */
    void *warm[4];
    pd_stack_capture(warm, 4, 0);

    if (!cfg->enabled) {
        if (cfg->pymalloc_off) {
            /* What --without-pymalloc gives: objects on the raw allocator. */
            PyMemAllocatorEx raw;
            PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &raw);
            PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &raw);
        }
        if (cfg->objects_only)
            pd_pym_install();
        else if (cfg->core.guard_rate || cfg->core.guard_all)
            install_guard_only(cfg);
        return; /* pymalloc prints its own statistics (see pd_config_parse) */
    }
    pd_core_init(&cfg->core);
    /* Below our hooks: what pymalloc holds once we step aside. */
    pd_pym_track();
    if (cfg->mallocstats) {
        pd_core_set_arena_hook(on_new_arena);
        stats_on_arena = 1;
    }
    for (int d = 0; d < PD_NDOMAINS; d++)
        PyMem_GetAllocator(doms[d], &previous[d]);
    for (int d = 0; d < PD_NDOMAINS; d++) {
        pd_underlying u = {previous[d].ctx, previous[d].malloc, previous[d].calloc,
                           previous[d].realloc, previous[d].free};
        pd_core_set_underlying((pd_domain)d, &u);
    }
    for (int d = 0; d < PD_NDOMAINS; d++) {
        PyMemAllocatorEx ours = {(void *)(uintptr_t)d, pd_hook_malloc, pd_hook_calloc,
                                 pd_hook_realloc, pd_hook_free};
        PyMem_SetAllocator(doms[d], &ours);
    }
    pd_codes_install();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    installed = 1;
}

unsigned long pd_hooks_finish(void)
{
    if (guard_only) {
        pd_check_heap();
        if (config.mallocstats)
            pd_hooks_print_stats();
        return (unsigned long)pd_error_count();
    }
    if (!installed)
        return 0;
    /* The atexit check ran with Python still alive; this one also covers
     * what finalization freed, without describing Python objects. */
    pd_py_set_finalized();
    pd_check_heap();
    if (config.mallocstats)
        pd_hooks_print_stats();
    return (unsigned long)pd_error_count();
}
