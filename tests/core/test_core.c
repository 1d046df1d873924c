/* test_core.c - unit tests of the C core, without Python.  Built plain and
 * with AddressSanitizer + UBSan by tools/test-core.sh.  The underlying
 * allocator is libc's; reports go to a JSON file that the tests read. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <dlfcn.h>

#include "../../src/core/pd_core.h"
#include "../../src/core/pd_counts.h"
#include "../../src/core/pd_heap.h"
#include "../../src/core/pd_lock.h"
#include "../../src/core/pd_elf.h"
#include "../../src/core/pd_guard.h"
#include "../../src/core/pd_pyconfig.h"
#include "../../src/core/pd_stack.h"
#include "../../src/core/pd_tsc.h"
#include "../../src/py/pd_foreign.h"

static int failures, passes;
#define CHECK(cond) do { if (cond) passes++; else { failures++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

static void *u_malloc(void *c, size_t n) { (void)c; return malloc(n); }
static void *u_calloc(void *c, size_t a, size_t b) { (void)c; return calloc(a, b); }
static void *u_realloc(void *c, void *p, size_t n) { (void)c; return realloc(p, n); }
static void u_free(void *c, void *p) { (void)c; free(p); }

static char report_path[] = "/tmp/pd-core-test-XXXXXX";
static int report_fd;
static const pd_site site0;

/* The JSON lines reported since the last call (or since take_reports). */
static void take_json(char *buf, size_t len)
{
    static off_t done;
    ssize_t n = pread(report_fd, buf, len - 1, done);
    buf[n > 0 ? n : 0] = '\0';
    if (n > 0)
        done += n;
}

/* The bug names reported since the last call, joined by spaces. */
static void take_reports(char *out, size_t len)
{
    char buf[1 << 16];
    take_json(buf, sizeof buf);
    out[0] = '\0';
    size_t k = 0;
    for (char *p = buf; (p = strstr(p, "{\"bug\":\"")) != NULL; p++) {
        p += 8;
        size_t l = strcspn(p, "\"");
        k += (size_t)snprintf(out + k, len - k, "%s%.*s", k ? " " : "", (int)l, p);
    }
}

static void expect(const char *want)
{
    char got[512];
    take_reports(got, sizeof got);
    if (strcmp(got, want) != 0) {
        failures++;
        fprintf(stderr, "FAIL: expected reports [%s], got [%s]\n", want, got);
    } else {
        passes++;
    }
}

static void test_heap(void)
{
    /* Lookups by arithmetic: exact, interior, outside; many sizes. */
    char *blocks[400];
    for (int i = 0; i < 400; i++)
        blocks[i] = pd_malloc(PD_MEM, (size_t)(i * 97 % 70000), 0, &site0);
    int ok = 1;
    for (int i = 0; i < 400; i++) {
        pd_block_info b;
        ok &= pd_find_block((uintptr_t)blocks[i], 0, &b) && b.addr == (uintptr_t)blocks[i] &&
              b.size == (size_t)(i * 97 % 70000) && ((uintptr_t)blocks[i] % 16) == 0;
        if (b.size > 2)
            ok &= pd_find_block((uintptr_t)blocks[i] + b.size - 1, 1, &b) &&
                  b.addr == (uintptr_t)blocks[i];
    }
    CHECK(ok);
    static char outside[64];
    pd_block_info b;
    CHECK(!pd_find_block((uintptr_t)outside, 1, &b));
    for (int i = 0; i < 400; i++)
        pd_free(PD_MEM, blocks[i], &site0);
    CHECK(pd_check_heap() == 0);
    expect("");
}

/* The slot index is computed by a multiply (pd_heap.c): exact for every
 * size class at every offset in a slab, or interior pointers would find
 * the wrong block. */
static void test_slot_index(void)
{
    CHECK(pd_heap_check_index() == 0);
}

static void test_clean(void)
{
    for (int d = 0; d < PD_NDOMAINS; d++) {
        char *p = pd_malloc((pd_domain)d, 100, 0, &site0);
        CHECK(p != NULL && (uintptr_t)p % 16 == 0);
        CHECK((unsigned char)p[0] == PD_FILL_FRESH && (unsigned char)p[99] == PD_FILL_FRESH);
        memset(p, 1, 100);
        p = pd_realloc((pd_domain)d, p, 5000, &site0);
        CHECK(p[99] == 1 && (unsigned char)p[100] == PD_FILL_FRESH);
        pd_free((pd_domain)d, p, &site0);
        char *z = pd_malloc((pd_domain)d, 64, 1, &site0);
        CHECK(z[0] == 0 && z[63] == 0);
        pd_free((pd_domain)d, z, &site0);
        pd_free((pd_domain)d, NULL, &site0);
        char *e = pd_malloc((pd_domain)d, 0, 0, &site0);
        CHECK(e != NULL);
        pd_free((pd_domain)d, e, &site0);
    }
    CHECK(pd_check_heap() == 0);
    expect("");
}

static void test_bugs(void)
{
    char *p = pd_malloc(PD_MEM, 24, 0, &site0);
    p[24] = 'x';
    pd_free(PD_MEM, p, &site0);
    expect("overrun");

    p = pd_malloc(PD_RAW, 24, 0, &site0);
    p[-3] = 'x';
    pd_free(PD_RAW, p, &site0);
    expect("underrun");

    p = pd_malloc(PD_OBJ, 40, 0, &site0);
    pd_free(PD_OBJ, p, &site0);
    pd_free(PD_OBJ, p, &site0);
    expect("double-free");

    p = pd_malloc(PD_MEM, 64, 0, &site0);
    pd_free(PD_MEM, p + 8, &site0);
    expect("invalid-free");
    char local[32];
    pd_free(PD_MEM, local, &site0);
    expect("invalid-free");
    pd_free(PD_MEM, p, &site0);
    expect("");

    p = pd_malloc(PD_MEM, 48, 0, &site0);
    pd_free(PD_OBJ, p, &site0);
    expect("wrong-domain");

    p = pd_malloc(PD_RAW, 16, 0, &site0);
    pd_free(PD_RAW, p, &site0);
    CHECK(pd_realloc(PD_RAW, p, 64, &site0) == NULL);
    expect("realloc-of-freed");

    p = pd_malloc(PD_MEM, 56, 0, &site0);
    pd_free(PD_MEM, p, &site0);
    p[5] = 'w';
    CHECK(pd_check_heap() == 1);
    expect("write-after-free");
    CHECK(pd_check_heap() == 0); /* reported once */
    expect("");

    /* A stale pointer across a moving realloc. */
    p = pd_malloc(PD_OBJ, 32, 0, &site0);
    char *q = pd_realloc(PD_OBJ, p, 64, &site0);
    CHECK(q != p);
    p[0] = 's';
    pd_free(PD_OBJ, q, &site0);
    CHECK(pd_check_heap() == 1);
    expect("write-after-free");
}

/* Freed objects' poison (pd_core.h): a fake "object" is a block whose first
 * word is 0 (its count) and whose second is FAKE_TYPE. */
#define FAKE_TYPE 0x5eed0000ull
#define POISON_COUNT 0x2DBDBDBDull
static int slow_calls;

static long fake_count_at(uintptr_t addr, size_t size)
{
    uint64_t w[2];
    slow_calls++;
    if (size < 16)
        return -1;
    memcpy(w, (void *)addr, sizeof w);
    if (w[0] != 0 || w[1] != FAKE_TYPE)
        return -1;
    pd_core_poison_learn(FAKE_TYPE, 0, 16);
    return 0;
}

static char *fake_object(size_t n)
{
    uint64_t *o = pd_malloc(PD_OBJ, n, 0, &site0);
    o[0] = 0;
    o[1] = FAKE_TYPE;
    return (char *)o;
}

static void test_poison(void)
{
    pd_poison p = {POISON_COUNT, 0xf4eed0000ull, 0, fake_count_at};
    pd_core_set_poison(&p);
    /* The poison replaces the fill of the count and type words, and the
     * freed block is intact with it. */
    char *o = fake_object(48);
    pd_free(PD_OBJ, o, &site0);
    uint64_t w[2];
    memcpy(w, o, sizeof w);
    CHECK(w[0] == POISON_COUNT && w[1] == 0xf4eed0000ull);
    CHECK((unsigned char)o[16] == PD_FILL_FREED);
    CHECK(pd_check_heap() == 0);
    expect("");
    /* A Py_DECREF through a stale reference: over-released, once. */
    ((uint64_t *)o)[0] -= 1;
    CHECK(pd_check_heap() == 1);
    expect("over-released-reference");
    CHECK(pd_check_heap() == 0);
    /* A Py_INCREF of the low half (3.12+): a reference taken. */
    ((uint32_t *)o)[0] += 2;
    CHECK(pd_check_heap() == 1);
    char js[1 << 12];
    take_json(js, sizeof js);
    CHECK(strstr(js, "\"bug\":\"reference-to-freed-object\"") != NULL);
    CHECK(strstr(js, "\"references\":2") != NULL);
    /* Anything else written over the poison is a write after free. */
    ((uint64_t *)o)[1] = 7;
    CHECK(pd_check_heap() == 1);
    expect("write-after-free");
    /* The rest of the block keeps its fill and checks. */
    char *o2 = fake_object(40);
    pd_free(PD_OBJ, o2, &site0);
    o2[30] = 'x';
    CHECK(pd_check_heap() == 1);
    expect("write-after-free");
    /* The learned type is found without asking; other blocks ask and get
     * no poison; a block freed through the mem domain never does. */
    slow_calls = 0;
    o = fake_object(64);
    pd_free(PD_OBJ, o, &site0);
    CHECK(slow_calls == 0);
    char *plain = pd_malloc(PD_OBJ, 64, 0, &site0);
    memset(plain, 1, 64);
    pd_free(PD_OBJ, plain, &site0);
    CHECK(slow_calls == 1 && (unsigned char)plain[0] == PD_FILL_FREED);
    char *mem = pd_malloc(PD_MEM, 64, 0, &site0);
    memset(mem, 0, 64);
    pd_free(PD_MEM, mem, &site0);
    CHECK((unsigned char)mem[0] == PD_FILL_FREED);
    /* A realloc moves the object: the old block gets no poison. */
    o = fake_object(32);
    char *moved = pd_realloc(PD_OBJ, o, 64, &site0);
    CHECK((unsigned char)o[0] == PD_FILL_FREED);
    pd_free(PD_OBJ, moved, &site0);
    /* A poisoned slot out of the quarantine is verified, poison included,
     * when it is reused: the count moved after eviction is still named. */
    o = fake_object(100);
    pd_free(PD_OBJ, o, &site0);
    ((uint64_t *)o)[0] -= 1;
    for (int i = 0; i < 6000; i++)
        pd_free(PD_OBJ, pd_malloc(PD_OBJ, 100, 0, &site0), &site0);
    expect("over-released-reference");
    CHECK(pd_check_heap() == 0);
    expect("");
    pd_core_set_poison(NULL);
}

static void test_quarantine_eviction_detects(void)
{
    /* Fill the raw quarantine past its limit: the damaged block leaves it,
     * and is checked when its slot is handed out again. */
    char *p = pd_malloc(PD_RAW, 100, 0, &site0);
    pd_free(PD_RAW, p, &site0);
    p[50] = 'e';
    for (int i = 0; i < 2000; i++)
        pd_free(PD_RAW, pd_malloc(PD_RAW, 1000, 0, &site0), &site0);
    expect("");
    for (int i = 0; i < 4000; i++)
        pd_free(PD_RAW, pd_malloc(PD_RAW, 100, 0, &site0), &site0);
    expect("write-after-free");
    /* A large block is checked as it leaves (its pages go back). */
    char *big = pd_malloc(PD_RAW, 60000, 0, &site0);
    pd_free(PD_RAW, big, &site0);
    big[30000] = 'L';
    for (int i = 0; i < 600; i++)
        pd_free(PD_RAW, pd_malloc(PD_RAW, 1000, 0, &site0), &site0);
    expect("write-after-free");
}

/* A freed block's fill covers its guards: a write into either guard of a
 * freed block is a write after free, found by check_heap and when the
 * slot is reused, at its offset from the block's start, against 0xdb. */
static void test_freed_guards(void)
{
    char json[1 << 16];
    char *p = pd_malloc(PD_MEM, 40, 0, &site0);
    pd_free(PD_MEM, p, &site0);
    p[43] = 'g';
    CHECK(pd_check_heap() == 1);
    take_json(json, sizeof json);
    CHECK(strstr(json, "\"bug\":\"write-after-free\"") != NULL);
    CHECK(strstr(json, "\"offset\":43,\"length\":1,\"found\":\"67\",\"expected\":\"db\"") != NULL);
    CHECK(pd_check_heap() == 0); /* the fill is restored, guards included */
    expect("");

    p = pd_malloc(PD_MEM, 40, 0, &site0);
    pd_free(PD_MEM, p, &site0);
    p[-5] = 'u';
    CHECK(pd_check_heap() == 1);
    take_json(json, sizeof json);
    CHECK(strstr(json, "\"offset\":-5,\"length\":1,\"found\":\"75\",\"expected\":\"db\"") != NULL);

    /* Out of the quarantine: found as the slot is handed out again. */
    p = pd_malloc(PD_RAW, 100, 0, &site0);
    pd_free(PD_RAW, p, &site0);
    p[-1] = 'r';
    for (int i = 0; i < 2000; i++)
        pd_free(PD_RAW, pd_malloc(PD_RAW, 1000, 0, &site0), &site0);
    expect("");
    for (int i = 0; i < 4000; i++)
        pd_free(PD_RAW, pd_malloc(PD_RAW, 100, 0, &site0), &site0);
    take_json(json, sizeof json);
    CHECK(strstr(json, "\"offset\":-1,\"length\":1,\"found\":\"72\",\"expected\":\"db\"") != NULL);
    CHECK(strstr(json, "about to be reused") != NULL);
}

/* The free hooks pass the entry pd_heap_prefetch found: the free then
 * makes the same decisions as a lookup of its own. */
static void test_free_hinted(void)
{
    char *p = pd_malloc(PD_OBJ, 40, 0, &site0);
    pd_entry *e = pd_heap_prefetch((uintptr_t)p);
    pd_entry *found = NULL;
    CHECK(e != NULL && pd_heap_lookup((uintptr_t)p, &found) == PD_EXACT && found == e);
    CHECK(pd_heap_prefetch((uintptr_t)(p + 8)) == e); /* the same slot */
    CHECK(pd_heap_prefetch((uintptr_t)&e) == NULL);    /* not the heap */
    pd_free_hinted(PD_OBJ, p, &site0, e);
    expect("");
    pd_free_hinted(PD_OBJ, p, &site0, pd_heap_prefetch((uintptr_t)p));
    expect("double-free");
    p = pd_malloc(PD_OBJ, 40, 0, &site0);
    pd_free_hinted(PD_OBJ, p + 8, &site0, pd_heap_prefetch((uintptr_t)(p + 8)));
    expect("invalid-free");
    pd_free_hinted(PD_MEM, p, &site0, pd_heap_prefetch((uintptr_t)p));
    expect("wrong-domain");
    CHECK(pd_check_heap() == 0);
}

static void *thread_main(void *arg)
{
    pd_domain d = (pd_domain)(uintptr_t)arg;
    for (int i = 0; i < 20000; i++) {
        char *p = pd_malloc(d, (size_t)(i % 200), 0, &site0);
        p = pd_realloc(d, p, (size_t)(i % 300) + 1, &site0);
        pd_free(d, p, &site0);
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)(i % 3 == 0 ? PD_RAW : PD_MEM));
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    CHECK(pd_check_heap() == 0);
    expect("");
}

/* The core lock: threads adding to a plain counter under it, long enough
 * that some of them find it held and sleep; a lost update shows in the
 * total. */
static pd_lock test_lock = PD_LOCK_INIT;
static long locked_counter;

static void *lock_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200000; i++) {
        pd_lock_take(&test_lock);
        long v = locked_counter;
        if (i % 1000 == 0)
            sched_yield(); /* hold it across a reschedule now and then */
        locked_counter = v + 1;
        pd_lock_give(&test_lock);
    }
    return NULL;
}

static void test_lock_excludes(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, lock_main, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(locked_counter == 4 * 200000);
    CHECK(pd_lock_try(&test_lock));
    CHECK(!pd_lock_try(&test_lock));
    pd_lock_give(&test_lock);
}

/* The serial a capture records for a code object comes from its entry,
 * read without the lock: the block's own serial, behind a GC header or a
 * pre-header too, never another block's and never a freed one's. */
static void test_serial_of_live(void)
{
    char *p = pd_malloc(PD_OBJ, 64, 0, &site0);
    char *q = pd_malloc(PD_OBJ, 64, 0, &site0);
    uint64_t s = pd_serial_of(p);
    CHECK(s != 0);
    CHECK(pd_serial_of(q) == s + 1);
    CHECK(pd_serial_of_live(p) == s);
    CHECK(pd_serial_of_live(p + 16) == s); /* behind a GC header */
    CHECK(pd_serial_of_live(p + 32) == s); /* and a pre-header */
    CHECK(pd_serial_of_live(p + 8) == 0);  /* not where an object starts */
    CHECK(pd_serial_of_live(q) == s + 1);
    static char outside[64];
    CHECK(pd_serial_of_live(outside) == 0);
    pd_free(PD_OBJ, p, &site0);
    CHECK(pd_serial_of_live(p) == 0);
    CHECK(pd_serial_of_live(p + 16) == 0);
    pd_free(PD_OBJ, q, &site0);
    expect("");
}

static const pd_count_row *row_named(pd_count_row *rows, size_t n, const char *name, int nth)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].name, name) && nth-- == 0)
            return &rows[i];
    return NULL;
}

static void test_counts(void)
{
    uintptr_t a = 0x1000, b = 0x2000;
    for (int i = 0; i < 5; i++)
        pd_counts_born(a, "A");
    for (int i = 0; i < 3; i++)
        pd_counts_died(a, "A");
    pd_counts_born(a, "A");
    pd_counts_died(b, "B");          /* born before counting: counted born now */
    pd_counts_sync_begin();          /* a heap walk found 4 B and 2 A alive */
    pd_counts_sync(b, "B", 4);
    pd_counts_sync(a, "A", 2);
    pd_counts_sync_end();
    pd_count_row *rows;
    size_t n = pd_counts_rows(&rows);
    const pd_count_row *ra = row_named(rows, n, "A", 0), *rb = row_named(rows, n, "B", 0);
    /* A: one death the events missed (a free list) counts as a free */
    CHECK(ra && ra->allocs == 6 && ra->frees == 4 && ra->live == 2 && ra->max == 5);
    CHECK(rb && rb->allocs == 5 && rb->frees == 1 && rb->live == 4 && rb->max == 4);
    pd_counts_free_rows(rows, n);

    /* Type A dies; a new type at the same address gets a row of its own. */
    pd_counts_type_gone(a);
    pd_counts_born(a, "A");
    n = pd_counts_rows(&rows);
    const pd_count_row *old = row_named(rows, n, "A", 0), *young = row_named(rows, n, "A", 1);
    CHECK(old && old->key == 0 && old->allocs == 6);
    CHECK(young && young->key == a && young->allocs == 1 && young->live == 1);
    pd_counts_free_rows(rows, n);

    /* Many types, many detached: the index grows and drops tombstones. */
    for (uintptr_t t = 0x10000; t < 0x10000 + 5000 * 64; t += 64) {
        pd_counts_born(t, "many");
        if (t % 128 == 0)
            pd_counts_type_gone(t);
    }
    for (uintptr_t t = 0x10000; t < 0x10000 + 5000 * 64; t += 64)
        pd_counts_died(t, "many");
    n = pd_counts_rows(&rows);
    uint64_t allocs = 0, frees = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].name, "many"))
            allocs += rows[i].allocs, frees += rows[i].frees;
    /* 5000 births; 2500 deaths of detached types land on fresh rows
     * (counted born there), 2500 on their own rows */
    CHECK(allocs == 7500 && frees == 5000);
    pd_counts_free_rows(rows, n);
}

/* Object events: born at the next allocation, retired at free, and the
 * visit sees live object-domain blocks only. */
static int events_born, events_retired;
static void ev_born(pd_block_info *b) { events_born++; b->otype = 42; }
static void ev_retire(const pd_block_info *b) { events_retired += b->otype == 42; }

static void count_visit(pd_block_info *b, void *arg)
{
    (void)b;
    (*(int *)arg)++;
}

static void test_object_events(void)
{
    static const pd_object_hooks h = {ev_born, ev_retire};
    int before = 0;
    pd_visit_live(PD_OBJ, count_visit, &before);
    pd_core_set_object_hooks(&h);
    void *o1 = pd_malloc(PD_OBJ, 32, 0, &site0);
    CHECK(events_born == 0);              /* still being filled in */
    void *m = pd_malloc(PD_MEM, 32, 0, &site0);
    CHECK(events_born == 1);
    void *o2 = pd_malloc(PD_OBJ, 48, 0, &site0);
    pd_free(PD_OBJ, o2, &site0);          /* freed before anything else: born first */
    CHECK(events_born == 2 && events_retired == 1);
    int seen = 0;
    pd_visit_live(PD_OBJ, count_visit, &seen);
    CHECK(seen == before + 1);
    pd_block_info fb;
    CHECK(pd_locked_find((uintptr_t)o1 + 5, &fb) && fb.addr == (uintptr_t)o1 && fb.size == 32 &&
          fb.otype == 42);
    CHECK(!pd_locked_find((uintptr_t)o2, &fb));
    pd_free(PD_OBJ, o1, &site0);
    CHECK(events_retired == 2);
    pd_free(PD_MEM, m, &site0);
    pd_core_set_object_hooks(NULL);
    void *o3 = pd_malloc(PD_OBJ, 32, 0, &site0);
    pd_free(PD_OBJ, o3, &site0);
    CHECK(events_born == 2 && events_retired == 2);
    expect("");
}

/* Object tags: a walk that finds an object in a block (b->obj) is handed
 * that object, not the block, by every later walk, until the block is
 * freed; blocks of other domains and blocks with no object found keep
 * coming as blocks. */
typedef struct {
    uintptr_t want[3];       /* the "objects" fn finds: user + 0, 16, 32 */
    int blocks, known, known_ok;
} tag_walk;

static void tag_fn(pd_block_info *b, void *arg)
{
    tag_walk *t = arg;
    t->blocks++;
    for (int i = 0; i < 3; i++)
        if (t->want[i] && b->addr == t->want[i] - (uintptr_t)(16 * i))
            b->obj = t->want[i];
}

static void tag_known(const uintptr_t *objs, size_t n, void *arg)
{
    tag_walk *t = arg;
    for (size_t k = 0; k < n; k++) {
        t->known++;
        for (int i = 0; i < 3; i++)
            t->known_ok += objs[k] == t->want[i];
    }
}

static void test_object_tags(void)
{
    tag_walk t = {{0}, 0, 0, 0};
    pd_visit_objects(tag_fn, tag_known, &t);
    int base_blocks = t.blocks, base_known = t.known;
    char *o[3];
    for (int i = 0; i < 3; i++) {
        o[i] = pd_malloc(PD_OBJ, 64 + (size_t)i * 100000, 0, &site0); /* the last one large */
        t.want[i] = (uintptr_t)o[i] + (uintptr_t)(16 * i);
    }
    void *plain = pd_malloc(PD_OBJ, 40, 0, &site0);   /* holds no object */
    void *m = pd_malloc(PD_MEM, 64, 0, &site0);
    t.blocks = t.known = t.known_ok = 0;
    pd_visit_objects(tag_fn, tag_known, &t);           /* found now */
    CHECK(t.blocks == base_blocks + 4 && t.known == base_known && t.known_ok == 0);
    t.blocks = t.known = t.known_ok = 0;
    pd_visit_objects(tag_fn, tag_known, &t);           /* handed over as objects */
    CHECK(t.blocks == base_blocks + 1 && t.known == base_known + 3 && t.known_ok == 3);
    pd_free(PD_OBJ, o[1], &site0);
    void *again = pd_malloc(PD_OBJ, 64 + 100000, 0, &site0); /* may take o[1]'s place */
    t.want[1] = 0;
    t.blocks = t.known = t.known_ok = 0;
    pd_visit_objects(tag_fn, tag_known, &t);
    CHECK(t.blocks == base_blocks + 2 && t.known == base_known + 2 && t.known_ok == 2);
    int seen = 0;
    pd_visit_live(PD_OBJ, count_visit, &seen);         /* the plain visit: every block */
    CHECK(seen == base_blocks + base_known + 4);
    pd_free(PD_OBJ, o[0], &site0);
    pd_free(PD_OBJ, o[2], &site0);
    pd_free(PD_OBJ, again, &site0);
    pd_free(PD_OBJ, plain, &site0);
    pd_free(PD_MEM, m, &site0);
    t.want[0] = t.want[2] = 0;
    t.blocks = t.known = t.known_ok = 0;
    pd_visit_objects(tag_fn, tag_known, &t);
    CHECK(t.blocks == base_blocks && t.known == base_known);
    expect("");
}

/* Instruction timings: counts and totals exact, percentiles within the
 * histogram's 25%, opcodes kept apart, reset empties. */
static void test_tsc(void)
{
    pd_tsc_reset();
    for (uint64_t v = 1; v <= 1000; v++)
        pd_tsc_add(100, v);
    pd_tsc_add(7, 123456789);
    pd_tsc_add(-1, 5);   /* ignored */
    pd_tsc_add(256, 5);  /* ignored */
    pd_tsc_row r;
    pd_tsc_get(100, &r);
    CHECK(r.count == 1000 && r.total == 500500 && r.max == 1000);
    CHECK(r.p50 >= 375 && r.p50 <= 625);
    CHECK(r.p99 >= 742 && r.p99 <= 1000);
    CHECK(pd_tsc_percentile(100, 0.001) <= 2);
    pd_tsc_get(7, &r);
    CHECK(r.count == 1 && r.p50 == 123456789 && r.p99 == 123456789);
    pd_tsc_get(8, &r);
    CHECK(r.count == 0 && r.p50 == 0);
    uint64_t a = pd_tsc_now(), b = pd_tsc_now();
    CHECK(b >= a);
    pd_tsc_reset();
    pd_tsc_get(100, &r);
    CHECK(r.count == 0 && r.total == 0);
}

/* The pyconfig.h parser: each line as sysconfig.parse_config_h takes it. */
static char ch_seen[1024];

static void ch_collect(void *arg, const char *name, size_t nl, pd_ch_kind kind, const char *v,
                       size_t vl, const char *raw, size_t rawl)
{
    (void)arg, (void)raw, (void)rawl;
    size_t k = strlen(ch_seen);
    snprintf(ch_seen + k, sizeof ch_seen - k, "%.*s=%s:%.*s;", (int)nl, name,
             kind == PD_CH_INT ? "i" : kind == PD_CH_STR ? "s" : "u", (int)vl, v);
}

static void expect_config_flags(const char *text, unsigned flags, const char *want, size_t lines)
{
    char scratch[256];
    ch_seen[0] = '\0';
    size_t n = pd_pyconfig_parse(text, strlen(text), flags, scratch, sizeof scratch, ch_collect, NULL);
    if (strcmp(ch_seen, want) != 0 || n != lines) {
        failures++;
        fprintf(stderr, "FAIL: config %s: got [%s] (%zu lines), want [%s]\n", text, ch_seen, n, want);
    } else {
        passes++;
    }
}

static void expect_config(const char *text, const char *want, size_t lines)
{
    expect_config_flags(text, 0, want, lines);
}

static void test_pyconfig(void)
{
    expect_config("#define HAVE_X 1\n", "HAVE_X=i:1;", 1);
    expect_config("#define SIZEOF_INT  -4 \r\n", "SIZEOF_INT=i:-4;", 1);
    expect_config("#define A_B 1_000\r", "A_B=i:1000;", 1);
    expect_config("#define AB +0012\n", "AB=i:0012;", 1);
    expect_config("#define AB 1__0\n#define AC 1_\n#define AD _1\n",
                  "AB=s:1__0;AC=s:1_;AD=s:_1;", 3);
    expect_config("#define VERSION \"3.11\"\n", "VERSION=s:\"3.11\";", 1);
    expect_config("#define EMPTY \n", "EMPTY=s:;", 1);
    expect_config("/* #undef WITH_DYLD */\n", "WITH_DYLD=u:;", 1);
    /* what does not count */
    expect_config("#define A 1\n", "", 0);                 /* one-letter name */
    expect_config("#define lower 1\n", "", 0);             /* not a capital */
    expect_config("#define AB(x) x\n", "", 0);             /* a macro */
    expect_config("#define AB\n", "", 0);                  /* no value */
    expect_config(" #define AB 1\n", "", 0);               /* not at the start */
    expect_config("#define  AB 1\n", "", 0);               /* two spaces */
    expect_config("/* #undef AB */ x\n", "", 0);
    expect_config("/* #undef AB  */\n", "", 0);
    expect_config("#define AB 1", "", 0);                   /* no line end */
    expect_config("#define AB 1\n#define AB 2\n", "AB=i:1;AB=i:2;", 2);
    expect_config("#define AB 0x10\n", "AB=s:0x10;", 1);
    expect_config("#define AB \x0b" "5\x0c\n", "AB=i:5;", 1);   /* int()'s whitespace */
    expect_config("#define AB \x1c" "5\n", "AB=s:\x1c" "5;", 1);  /* not int()'s */
    expect_config("#define AB 5\xc2\xa0\n", "AB=s:5\xc2\xa0;", 1); /* non-ASCII: a string */
    /* 3.15's sysconfig: a wholly quoted value loses its quotes */
    expect_config_flags("#define VERSION \"3.11\"\n", PD_CH_UNQUOTE, "VERSION=s:3.11;", 1);
    expect_config_flags("#define AB \"5\"\n", PD_CH_UNQUOTE, "AB=i:5;", 1);
    expect_config_flags("#define AB \"\"\n#define AC \"\n", PD_CH_UNQUOTE, "AB=s:;AC=s:\";", 2);
    expect_config_flags("#define AB \"a\" \n", PD_CH_UNQUOTE, "AB=s:\"a\" ;", 1);
    char small[2];
    ch_seen[0] = '\0';
    pd_pyconfig_parse("#define AB 123\n", 15, 0, small, sizeof small, ch_collect, NULL);
    CHECK(strcmp(ch_seen, "AB=s:123;") == 0);  /* no room: a string */
}

/* The ELF reader: this very program needs malloc; any truncation of it, or
 * a flipped byte in its headers, is an error or a shorter list, never a
 * read outside the image (ASan watches). */
static int elf_malloc_needed, elf_count;

static void elf_visit(void *arg, const char *name, int defined)
{
    (void)arg;
    elf_count++;
    if (!defined && strcmp(name, "malloc") == 0)
        elf_malloc_needed = 1;
}

static void test_elf(void)
{
    char err[128];
    CHECK(pd_elf_dynsyms("/proc/self/exe", elf_visit, NULL, err, sizeof err) == 0);
    CHECK(elf_malloc_needed);
    CHECK(pd_elf_dynsyms("/nonexistent", elf_visit, NULL, err, sizeof err) == -1);
    FILE *f = fopen("/proc/self/exe", "rb");
    static unsigned char img[1 << 24];
    size_t n = f ? fread(img, 1, sizeof img, f) : 0;
    if (f)
        fclose(f);
    CHECK(n > 64 && n < sizeof img);
    for (size_t cut = 0; cut < n; cut += 997) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, img, cut);
        pd_elf_dynsyms_mem(copy, cut, elf_visit, NULL, err, sizeof err);
        free(copy);
    }
    for (size_t i = 0; i < 64; i++) {
        unsigned char *copy = malloc(n);
        memcpy(copy, img, n);
        copy[40 + i] ^= 0xff;  /* section header offset, sizes, counts */
        pd_elf_dynsyms_mem(copy, n, elf_visit, NULL, err, sizeof err);
        free(copy);
    }
    CHECK(pd_elf_dynsyms_mem((const unsigned char *)"abc", 3, elf_visit, NULL, err, sizeof err) == -1);
}

/* Guarded slots: placement, lookups, fault classification, the checks at
 * free, realloc, exhaustion (the pool has 64 slots here) and threads. */
static void test_guard(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *blocks[3];
    for (int d = 0; d < PD_NDOMAINS; d++) {
        char *p = pd_guarded_malloc((pd_domain)d, 64, d == 2, &site0);
        blocks[d] = p;
        CHECK(p != NULL && pd_guard_owns((uintptr_t)p));
        CHECK((uintptr_t)(p + 64) % pg == 0); /* ends where its page ends */
        CHECK((unsigned char)p[0] == (d == 2 ? 0 : PD_FILL_FRESH));
        CHECK((unsigned char)p[-1] == PD_FILL_GUARD);
        pd_block_info b;
        CHECK(pd_find_block((uintptr_t)p, 0, &b) && b.size == 64 && b.domain == d);
        CHECK(pd_find_block((uintptr_t)p + 10, 1, &b) && b.addr == (uintptr_t)p);
        pd_guard_fault f;
        CHECK(pd_guard_classify((uintptr_t)p + 64, &f) && f.kind == PD_GUARD_OVERFLOW &&
              f.offset == 64 && f.block.addr == (uintptr_t)p);
    }
    pd_stats st;
    pd_get_stats(&st);
    CHECK(st.guard_slots == 64 && st.guard_live == 3);
    for (int d = 0; d < PD_NDOMAINS; d++)
        pd_free((pd_domain)d, blocks[d], &site0);
    expect("");
    pd_guard_fault f;
    CHECK(pd_guard_classify((uintptr_t)blocks[1] + 8, &f) &&
          f.kind == PD_GUARD_USE_AFTER_FREE && f.offset == 8 &&
          f.block.state == PD_QUARANTINED && f.block.size == 64);
    static char outside[16];
    CHECK(!pd_guard_classify((uintptr_t)outside, &f));

    char *p = pd_guarded_malloc(PD_MEM, 40, 0, &site0);
    pd_free(PD_MEM, p, &site0);
    pd_free(PD_MEM, p, &site0);
    expect("double-free");
    p = pd_guarded_malloc(PD_MEM, 48, 0, &site0);
    pd_free(PD_OBJ, p, &site0);
    expect("wrong-domain");
    p = pd_guarded_malloc(PD_RAW, 13, 0, &site0);
    p[13] = 'x'; /* the alignment slack: guard bytes, checked at free */
    CHECK(pd_check_heap() == 1);
    expect("overrun");
    pd_free(PD_RAW, p, &site0);
    expect("");
    p = pd_guarded_malloc(PD_RAW, 32, 0, &site0);
    p[-2] = 'x';
    pd_free(PD_RAW, p, &site0);
    expect("underrun");
    p = pd_guarded_malloc(PD_OBJ, 32, 0, &site0);
    pd_free(PD_OBJ, p + 8, &site0);
    expect("invalid-free");
    memset(p, 'k', 32);
    char *q = pd_realloc(PD_OBJ, p, 100, &site0);
    CHECK(q != p && q[31] == 'k');
    CHECK(pd_guard_classify((uintptr_t)p, &f) && f.kind == PD_GUARD_USE_AFTER_FREE);
    pd_free(PD_OBJ, q, &site0);
    CHECK(pd_guarded_malloc(PD_MEM, pg + 1, 0, &site0) == NULL); /* up to a page */
    expect("");

    /* 64 slots: more live blocks than that find no room; freed slots are
     * reused oldest first. */
    char *many[80];
    int got = 0;
    for (int i = 0; i < 80; i++)
        if ((many[i] = pd_guarded_malloc(PD_MEM, 100, 0, &site0)) != NULL)
            got++;
    CHECK(got == 64);
    pd_get_stats(&st);
    CHECK(st.guard_fallbacks >= 16);
    for (int i = 0; i < 80; i++)
        pd_free(PD_MEM, many[i], &site0);
    CHECK(pd_check_heap() == 0);
    expect("");
}

static void *guard_worker(void *arg)
{
    (void)arg;
    pd_guard_scope_enter();
    for (int i = 0; i < 2000; i++) {
        pd_domain d = (pd_domain)(i % 3);
        char *p = pd_guard_sample(24) ? pd_guarded_malloc(d, 24, 0, &site0) : NULL;
        if (p == NULL)
            p = pd_malloc(d, 24, 0, &site0);
        memset(p, 'w', 24);
        pd_free(d, p, &site0);
    }
    pd_guard_scope_exit();
    return NULL;
}

static void test_guard_threads(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, guard_worker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(!pd_guard_sample(24)); /* no scope on this thread, rate 0 */
    CHECK(pd_check_heap() == 0);
    expect("");
}

/* The stack scan for a user frame.  The object that called our qsort
 * comparator (libc, or a sanitizer's interceptor) stands in for a user
 * extension: its return address, planted in a stack array, is found
 * wherever it sits, a bound below it hides it, and the vector and the
 * portable versions agree. */
static uintptr_t caller_ra;
static char caller_path[4096];

static int note_caller(const void *a, const void *b)
{
    if (caller_ra == 0)
        caller_ra = (uintptr_t)__builtin_return_address(0);
    return *(const int *)a - *(const int *)b;
}

static int all_but_caller_system(const char *path) { return strcmp(path, caller_path) != 0; }
static int all_system(const char *path) { (void)path; return 1; }

static void test_scan_user(void)
{
    int v[8] = {5, 3, 8, 1, 9, 2, 7, 4};
    qsort(v, 8, sizeof v[0], note_caller);
    Dl_info info;
    CHECK(caller_ra != 0 && dladdr((void *)caller_ra, &info) && info.dli_fname);
    if (!caller_ra || !info.dli_fname)
        return;
    snprintf(caller_path, sizeof caller_path, "%s", info.dli_fname);
    pd_modules_refresh(all_but_caller_system);
    CHECK(pd_stack_have_user() && pd_pc_is_user(caller_ra));
    for (int simd = 0; simd < 2; simd++) {
        pd_stack_scan_simd(simd);
        int found = 0, hidden = 0, none = 0;
        for (int k = 0; k < 40; k++) {
            volatile uintptr_t words[48];
            for (int i = 0; i < 48; i++)
                words[i] = i % 3 ? (uintptr_t)&v[0] : (uintptr_t)i; /* not code */
            words[k] = caller_ra;
            const void *from = (const void *)words;
            found += pd_stack_scan_user(from, (uintptr_t)&words[41]) == (void *)caller_ra;
            if (k > 0)
                hidden += pd_stack_scan_user(from, (uintptr_t)&words[k]) == NULL;
            words[k] = 0;
            none += pd_stack_scan_user(from, (uintptr_t)&words[41]) == NULL;
        }
        CHECK(found == 40);
        CHECK(hidden == 39);
        CHECK(none == 40);
    }
    pd_modules_refresh(all_system);
    CHECK(!pd_stack_have_user());
}

/* The adopted objects' table (src/py/pd_foreign.c, no Python in it):
 * dense arrays with an index, entries dropped by moving the last one in. */
static uintptr_t visited_sum;
static size_t visited_n, visited_blocks;
static void sum_objs(const uintptr_t *objs, size_t n, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < n; i++)
        visited_sum += objs[i];
    visited_n += n;
}
static void count_blocks(pd_block_info *b, void *arg)
{
    (void)arg;
    visited_blocks += b->domain == PD_OBJ && b->state == PD_LIVE;
}

static void test_foreign(void)
{
    enum { N = 100000 };
    const uintptr_t base = 0x10000000;
    for (uintptr_t i = 0; i < N; i++)  /* objects 0, 16 or 32 bytes in */
        pd_foreign_add(base + i * 64, 64, base + i * 64 + (i % 3) * 16);
    pd_foreign_add(base, 64, base);     /* a block already there: no second entry */
    CHECK(pd_foreign_count() == N);
    for (uintptr_t i = 0; i < N; i += 2)
        pd_foreign_forget(base + i * 64);
    pd_foreign_forget(base + 7);        /* never added: nothing happens */
    CHECK(pd_foreign_count() == N / 2);
    pd_block_info b;
    int found_odd = 1, gone_even = 1;
    for (uintptr_t i = 0; i < N; i++) {
        uintptr_t obj = base + i * 64 + (i % 3) * 16;
        int f = pd_foreign_find(obj, &b);
        if (i % 2)
            found_odd &= f && b.addr == base + i * 64 && b.size == 64;
        else
            gone_even &= !f;
    }
    CHECK(found_odd);
    CHECK(gone_even);
    CHECK(!pd_foreign_find(base + 64 + 8, &b));  /* not an object's start */
    /* Resized: the object keeps its offset in the new block. */
    pd_foreign_moved(base + 64, 0x20000000, 200);
    CHECK(pd_foreign_find(0x20000000 + 16, &b) && b.addr == 0x20000000 && b.size == 200);
    CHECK(!pd_foreign_find(base + 64 + 16, &b));
    uintptr_t want = 0;
    for (uintptr_t i = 3; i < N; i += 2)
        want += base + i * 64 + (i % 3) * 16;
    want += 0x20000000 + 16;
    pd_foreign_visit(sum_objs, NULL);
    pd_foreign_visit_blocks(count_blocks, NULL);
    CHECK(visited_n == N / 2 && visited_sum == want && visited_blocks == N / 2);
    for (uintptr_t i = 3; i < N; i += 2)
        pd_foreign_forget(base + i * 64);
    pd_foreign_forget(0x20000000);
    CHECK(pd_foreign_count() == 0);
    /* Foreign frees counted per domain; another thread's in pd_core_others. */
    pd_stats st0, st1;
    pd_get_stats(&st0);
    uint64_t o0 = pd_core_others(1);
    pd_core_foreign_free(PD_OBJ, 1);
    pd_core_foreign_free(PD_MEM, 2);
    pd_core_foreign_free(PD_RAW, 2);
    pd_get_stats(&st1);
    CHECK(st1.dom[PD_OBJ].foreign_frees - st0.dom[PD_OBJ].foreign_frees == 1);
    CHECK(st1.dom[PD_MEM].foreign_frees - st0.dom[PD_MEM].foreign_frees == 1);
    CHECK(pd_core_others(1) - o0 == 1);
    /* Ours by range alone. */
    void *p = pd_malloc(PD_MEM, 10, 0, &site0);
    int x;
    CHECK(pd_heap_owns((uintptr_t)p) && !pd_heap_owns((uintptr_t)&x));
    pd_free(PD_MEM, p, &site0);
}

int main(void)
{
    report_fd = mkstemp(report_path);
    unlink(report_path);
    pd_options o = {.quarantine_bytes = 256 << 10, .stacks = 0,
                    .on_error = PD_ON_ERROR_CONTINUE, .report_fd = report_fd,
                    .heap_bytes = (size_t)4 << 30,
                    .guard_pool_bytes = (size_t)64 * 2 * (size_t)sysconf(_SC_PAGESIZE)};
    pd_core_init(&o);
    pd_underlying u = {NULL, u_malloc, u_calloc, u_realloc, u_free};
    for (int d = 0; d < PD_NDOMAINS; d++)
        pd_core_set_underlying((pd_domain)d, &u);

    test_heap();
    test_slot_index();
    test_clean();
    test_bugs();
    test_quarantine_eviction_detects();
    test_freed_guards();
    test_free_hinted();
    test_threads();
    test_lock_excludes();
    test_serial_of_live();
    test_counts();
    test_object_events();
    test_object_tags();
    test_poison();
    test_tsc();
    test_pyconfig();
    test_elf();
    test_guard();
    test_guard_threads();
    test_scan_user();
    test_foreign();
    pd_stats st;
    pd_get_stats(&st);
    CHECK(st.errors == 27);
    printf("core: %d passed, %d failed\n", passes, failures);
    return failures != 0;
}
