/* pd_stack.c - see pd_stack.h. */
#define _GNU_SOURCE
#include "pd_stack.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "pd_sys.h"

extern char **environ;

int pd_stack_capture(void **pcs, int max, int skip)
{
    void *buf[PD_STACK_MAX + 8];
    int want = max + skip + 1;
    if (want > (int)(sizeof buf / sizeof buf[0]))
        want = (int)(sizeof buf / sizeof buf[0]);
    int n = backtrace(buf, want);
    int from = skip + 1; /* +1: this function */
    int k = 0;
    for (int i = from; i < n && k < max; i++)
        pcs[k++] = buf[i];
    return k;
}

/* Stack depot ----------------------------------------------------------
 * Sequences of words are stored back to back in `pool`; `recs[id]` gives
 * offset and length; a hash table of ids finds an existing copy. */
typedef struct { uint32_t off, len; uint64_t hash; } depot_rec;

static uintptr_t *pool;
static size_t pool_used, pool_cap;
static depot_rec *recs;
static uint32_t recs_used = 1, recs_cap;
static uint32_t *dtab;
static size_t dtab_mask;

static uint64_t hash_words(const uintptr_t *w, int n)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        h ^= (uint64_t)w[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h | 1;
}

static void dtab_grow(void)
{
    size_t old_size = dtab ? dtab_mask + 1 : 0;
    size_t size = old_size ? old_size * 2 : 16384;
    uint32_t *old = dtab;
    dtab = pd_sys_map(size * sizeof *dtab);
    dtab_mask = size - 1;
    for (size_t i = 0; i < old_size; i++) {
        if (old[i] == 0)
            continue;
        size_t s = recs[old[i]].hash & dtab_mask;
        while (dtab[s])
            s = (s + 1) & dtab_mask;
        dtab[s] = old[i];
    }
    pd_sys_unmap(old, old_size * sizeof *old);
}

uint32_t pd_depot_put(const uintptr_t *words, int n)
{
    if (n <= 0)
        return 0;
    uint64_t h = hash_words(words, n);
    if (dtab == NULL || (size_t)recs_used * 2 > dtab_mask + 1)
        dtab_grow();
    size_t s = h & dtab_mask;
    while (dtab[s]) {
        depot_rec *r = &recs[dtab[s]];
        if (r->hash == h && r->len == (uint32_t)n &&
            memcmp(pool + r->off, words, (size_t)n * sizeof *words) == 0)
            return dtab[s];
        s = (s + 1) & dtab_mask;
    }
    if (pool_used + (size_t)n > pool_cap) {
        size_t ncap = pool_cap ? pool_cap * 2 : 1 << 20;
        while (ncap < pool_used + (size_t)n)
            ncap *= 2;
        pool = pd_sys_grow(pool, pool_cap * sizeof *pool, ncap * sizeof *pool);
        pool_cap = ncap;
    }
    if (recs_used >= recs_cap) {
        uint32_t ncap = recs_cap ? recs_cap * 2 : 16384;
        recs = pd_sys_grow(recs, recs_cap * sizeof *recs, ncap * sizeof *recs);
        recs_cap = ncap;
    }
    uint32_t id = recs_used++;
    recs[id].off = (uint32_t)pool_used;
    recs[id].len = (uint32_t)n;
    recs[id].hash = h;
    memcpy(pool + pool_used, words, (size_t)n * sizeof *words);
    pool_used += (size_t)n;
    dtab[s] = id;
    return id;
}

int pd_depot_get(uint32_t id, uintptr_t *out, int max)
{
    if (id == 0 || id >= recs_used)
        return 0;
    int n = (int)recs[id].len;
    if (n > max)
        n = max;
    memcpy(out, pool + recs[id].off, (size_t)n * sizeof *out);
    return n;
}

/* Module ranges --------------------------------------------------------
 * A sorted array of executable ranges, republished whole on each refresh;
 * scanners load the pointer once.  Old arrays are left mapped (a dlopen is
 * rare) so a scanner never reads an unmapped one. */
typedef struct { uintptr_t lo, hi; int user; } pd_range;
typedef struct {
    size_t n;
    uintptr_t user_lo, user_hi; /* envelope of the user ranges */
    pd_range r[];
} pd_ranges;

static _Atomic(pd_ranges *) ranges;
int pd_have_user_modules;

typedef struct {
    pd_range tmp[512];
    size_t n;
    int (*is_system)(const char *);
} collect_ctx;

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    collect_ctx *c = arg;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    int user = name[0] != '\0' && strncmp(name, "linux-vdso", 10) != 0 &&
               !c->is_system(name);
    for (int i = 0; i < info->dlpi_phnum && c->n < 512; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        c->tmp[c->n].lo = info->dlpi_addr + ph->p_vaddr;
        c->tmp[c->n].hi = c->tmp[c->n].lo + ph->p_memsz;
        c->tmp[c->n].user = user;
        c->n++;
    }
    return 0;
}

static int range_cmp(const void *a, const void *b)
{
    uintptr_t x = ((const pd_range *)a)->lo, y = ((const pd_range *)b)->lo;
    return x < y ? -1 : x > y;
}

void pd_modules_refresh(int (*is_system)(const char *path))
{
    static collect_ctx c;  /* big; callers are serialized by the loader */
    c.n = 0;
    c.is_system = is_system;
    dl_iterate_phdr(collect_cb, &c);
    qsort(c.tmp, c.n, sizeof c.tmp[0], range_cmp);
    pd_ranges *r = pd_sys_map(sizeof *r + c.n * sizeof(pd_range));
    r->n = c.n;
    r->user_lo = UINTPTR_MAX;
    r->user_hi = 0;
    for (size_t i = 0; i < c.n; i++) {
        r->r[i] = c.tmp[i];
        if (c.tmp[i].user) {
            if (c.tmp[i].lo < r->user_lo) r->user_lo = c.tmp[i].lo;
            if (c.tmp[i].hi > r->user_hi) r->user_hi = c.tmp[i].hi;
        }
    }
    if (atomic_load_explicit(&ranges, memory_order_relaxed) == NULL)
        pd_stack_scan_simd(1); /* before the first scan can run */
    atomic_store_explicit(&ranges, r, memory_order_release);
    __atomic_store_n(&pd_have_user_modules, r->user_hi != 0, __ATOMIC_RELAXED);
}

/* The user range holding pc, or NULL. */
static const pd_range *user_range(const pd_ranges *r, uintptr_t pc)
{
    if (pc < r->user_lo || pc >= r->user_hi)
        return NULL;
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pc < r->r[mid].lo)
            hi = mid;
        else if (pc >= r->r[mid].hi)
            lo = mid + 1;
        else
            return r->r[mid].user ? &r->r[mid] : NULL;
    }
    return NULL;
}

int pd_pc_is_user(uintptr_t pc)
{
    pd_ranges *r = atomic_load_explicit(&ranges, memory_order_acquire);
    return r != NULL && user_range(r, pc) != NULL;
}

/* The calling thread's stack top, cached: scanning must never read past
 * it. */
static uintptr_t stack_top(void)
{
    static _Thread_local uintptr_t top;
    if (top == 0) {
        pthread_attr_t a;
        void *addr;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &addr, &size) == 0)
                top = (uintptr_t)addr + size;
            pthread_attr_destroy(&a);
        }
        if (top == 0)
            top = 1; /* unknown: never scan */
    }
    return top;
}

#define PD_SCAN_WORDS 128

/* A return address follows a call instruction; a function pointer or a
 * stale pointer into data does not, as a rule.  x86-64 call forms: E8 rel32;
 * FF /2 with a register, [reg+disp8], [reg+disp32], [rip+disp32] or SIB
 * operand (optionally REX-prefixed, which only adds a byte before). */
static int follows_call(uintptr_t v, uintptr_t lo)
{
#if defined(__x86_64__)
    if (v - 7 < lo)
        return 0;
    const unsigned char *p = (const unsigned char *)v;
    if (p[-5] == 0xE8)
        return 1;                                        /* call rel32 */
    if (p[-2] == 0xFF && (p[-1] & 0xF8) == 0xD0)
        return 1;                                        /* call *%reg */
    if (p[-3] == 0xFF && ((p[-2] & 0xF8) == 0x50 || p[-2] == 0x14))
        return 1;                                        /* disp8 / SIB */
    if (p[-4] == 0xFF && p[-3] == 0x54)
        return 1;                                        /* SIB + disp8 */
    if (p[-6] == 0xFF && (p[-5] == 0x15 || (p[-5] & 0xF8) == 0x90))
        return 1;                                        /* rip / disp32 */
    if (p[-7] == 0xFF && p[-6] == 0x94)
        return 1;                                        /* SIB + disp32 */
    return 0;
#else
    (void)v, (void)lo;
    return 1;
#endif
}

/* Whether v is a return address into user code. */
static int user_return(const pd_ranges *r, uintptr_t v)
{
    const pd_range *ur = user_range(r, v);
    return ur && follows_call(v, ur->lo);
}

/* Almost no stack word falls in the span of user code, so the scan first
 * skips blocks of four words with none in it (v - lo < span, unsigned, is
 * lo <= v < hi): returns the start of the first block with one, or the
 * start of the last partial block.  Two versions, picked once. */
typedef size_t (*skip_fn)(const uintptr_t *w, size_t i, size_t n, uintptr_t lo,
                          uintptr_t span);

static size_t skip_portable(const uintptr_t *w, size_t i, size_t n, uintptr_t lo,
                            uintptr_t span)
{
    for (; i + 4 <= n; i += 4) {
        uintptr_t a = w[i] - lo, b = w[i + 1] - lo, c = w[i + 2] - lo, d = w[i + 3] - lo;
        uintptr_t ab = a < b ? a : b, cd = c < d ? c : d;
        if ((ab < cd ? ab : cd) < span)
            return i;
    }
    return i;
}

#if defined(__x86_64__)
/* AVX2 has only a signed 64-bit compare: flipping the sign bit of both
 * sides makes it an unsigned one. */
__attribute__((target("avx2"))) static size_t skip_avx2(const uintptr_t *w, size_t i, size_t n,
                                                        uintptr_t lo, uintptr_t span)
{
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
    const __m256i lo4 = _mm256_set1_epi64x((long long)lo);
    const __m256i lim = _mm256_xor_si256(_mm256_set1_epi64x((long long)span), sign);
    for (; i + 4 <= n; i += 4) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(w + i));
        __m256i d = _mm256_xor_si256(_mm256_sub_epi64(v, lo4), sign);
        if (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(lim, d))))
            return i;
    }
    return i;
}
#endif

static skip_fn skip_outside = skip_portable;

void pd_stack_scan_simd(int on)
{
    skip_outside = skip_portable;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (on && __builtin_cpu_supports("avx2"))
        skip_outside = skip_avx2;
#else
    (void)on;
#endif
}

void *pd_stack_scan_user(const void *from, uintptr_t bound)
{
    pd_ranges *r = atomic_load_explicit(&ranges, memory_order_acquire);
    if (r == NULL || r->user_hi == 0)
        return NULL;
    uintptr_t top = stack_top();
    const uintptr_t *w = (const uintptr_t *)((uintptr_t)from & ~(uintptr_t)7);
    if ((uintptr_t)w >= top)
        return NULL;
    if (bound > (uintptr_t)w && bound < top)
        top = bound;
    size_t avail = (top - (uintptr_t)w) / sizeof *w;
    size_t n = avail < PD_SCAN_WORDS ? avail : PD_SCAN_WORDS;
    const uintptr_t lo = r->user_lo, span = r->user_hi - r->user_lo;
    for (size_t i = 0; i < n;) {
        i = skip_outside(w, i, n, lo, span);
        size_t end = i + 4 < n ? i + 4 : n;
        for (; i < end; i++)
            if (w[i] - lo < span && user_return(r, w[i]))
                return (void *)w[i];
    }
    return NULL;
}

/* Symbolization -------------------------------------------------------- */

static const char *addr2line_path(void)
{
    static const char *const cand[] = {"/usr/bin/addr2line", "/bin/addr2line"};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++)
        if (access(cand[i], X_OK) == 0)
            return cand[i];
    return NULL;
}

/* Run addr2line -f -i -C on one address; out gets its raw stdout. */
static int run_addr2line(const char *file, uintptr_t rel, char *out, size_t outlen)
{
    const char *volatile tool = addr2line_path();
    if (tool == NULL)
        return -1;
    char addr[32];
    snprintf(addr, sizeof addr, "0x%lx", (unsigned long)rel);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    char *argv[] = {"addr2line", "-f", "-i", "-C", "-e", (char *)file, addr, NULL};
    pid_t pid = vfork();
    if (pid == 0) {
        dup2(fds[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        execve(tool, argv, environ);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    size_t got = 0;
    for (;;) {
        ssize_t k = read(fds[0], out + got, outlen - 1 - got);
        if (k <= 0 || (got += (size_t)k) >= outlen - 1)
            break;
    }
    out[got] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* addr2line prints "function\nfile:line\n" per frame, innermost inlined
 * frame first.  Show the real function first, then what was inlined. */
static void format_a2l(char *raw, const char *fallback, char *out, size_t outlen)
{
    char *lines[16];
    int n = 0;
    for (char *t = strtok(raw, "\n"); t && n < 16; t = strtok(NULL, "\n"))
        lines[n++] = t;
    n &= ~1;
    if (n == 0 || strcmp(lines[n - 2], "??") == 0) {
        snprintf(out, outlen, "%s", fallback);
        return;
    }
    const char *fn = lines[n - 2], *loc = lines[n - 1];
    size_t k;
    if (strncmp(loc, "??", 2) == 0)
        k = (size_t)snprintf(out, outlen, "%s", fn);
    else
        k = (size_t)snprintf(out, outlen, "%s (%s)", fn, loc);
    if (n > 2 && k < outlen && strncmp(lines[1], "??", 2) != 0)
        snprintf(out + k, outlen - k, " [inlined %s (%s)]", lines[0], lines[1]);
}

/* A cache: reports name the same sites again and again, and one
 * addr2line run on a large library with debug information takes most of a
 * second.  Direct-mapped by a multiplicative hash (return addresses in
 * different libraries share their low bits). */
#define SYM_CACHE_BITS 12
static struct { void *pc; char text[480]; } sym_cache[1 << SYM_CACHE_BITS];
static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;

void pd_symbolize(void *pc, char *out, size_t outlen)
{
    size_t slot = (size_t)(((uint64_t)(uintptr_t)pc * 0x9E3779B97F4A7C15ull) >> (64 - SYM_CACHE_BITS));
    int locked = pthread_mutex_trylock(&sym_lock) == 0;
    if (locked && sym_cache[slot].pc == pc) {
        snprintf(out, outlen, "%s", sym_cache[slot].text);
        pthread_mutex_unlock(&sym_lock);
        return;
    }
    Dl_info info;
    char text[480];
    if (dladdr(pc, &info) == 0 || info.dli_fname == NULL) {
        snprintf(text, sizeof text, "%p", pc);
    } else {
        uintptr_t base = (uintptr_t)info.dli_fbase;
        const ElfW(Ehdr) *eh = info.dli_fbase;
        /* Shared objects and PIE: addr2line wants the offset from the load
         * base; a fixed-address executable wants the address itself. */
        uintptr_t rel = eh->e_type == ET_EXEC ? (uintptr_t)pc : (uintptr_t)pc - base;
        char fallback[160], where[400], raw[2048];
        /* The main program is named as it was invoked; addr2line needs a
         * path it can open. */
        char self[512];
        const char *file = info.dli_fname;
        if (strcmp(file, program_invocation_name) == 0 || strchr(file, '/') == NULL) {
            ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
            if (k > 0) {
                self[k] = '\0';
                file = self;
            }
        }
        if (info.dli_sname)
            snprintf(fallback, sizeof fallback, "%s+0x%lx", info.dli_sname,
                     (unsigned long)((uintptr_t)pc - (uintptr_t)info.dli_saddr));
        else
            snprintf(fallback, sizeof fallback, "?");
        /* pc is a return address: look up the call instruction before it. */
        if (run_addr2line(file, rel - 1, raw, sizeof raw) == 0)
            format_a2l(raw, fallback, where, sizeof where);
        else
            snprintf(where, sizeof where, "%s", fallback);
        snprintf(text, sizeof text, "%s [%s+0x%lx]", where,
                 base_name(info.dli_fname), (unsigned long)((uintptr_t)pc - base));
    }
    snprintf(out, outlen, "%s", text);
    if (locked) {
        sym_cache[slot].pc = pc;
        snprintf(sym_cache[slot].text, sizeof sym_cache[slot].text, "%s", text);
        pthread_mutex_unlock(&sym_lock);
    }
}
