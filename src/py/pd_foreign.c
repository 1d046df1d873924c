/* pd_foreign.c - see pd_foreign.h. */
#include <string.h>

#include "pd_foreign.h"
#include "../core/pd_sys.h"

/* The dense arrays: entry i is the object objs[i] in the block blocks[i]
 * of sizes[i] bytes. */
static uintptr_t *objs, *blocks;
static size_t *sizes;
static size_t n, cap;

/* The index: block address -> entry, open addressing, linear probing.
 * key 0 is an empty slot, 1 a deleted one (no block lies at address 1). */
typedef struct {
    uintptr_t key;
    size_t at;
} slot;
static slot *index_;
static size_t icap, iused; /* iused: slots not empty (live and deleted) */

static size_t hash(uintptr_t a) { return (size_t)((a >> 4) * 0x9E3779B97F4A7C15ull); }

static slot *lookup(uintptr_t block)
{
    if (icap == 0)
        return NULL;
    for (size_t i = hash(block) & (icap - 1); index_[i].key != 0; i = (i + 1) & (icap - 1))
        if (index_[i].key == block)
            return &index_[i];
    return NULL;
}

static void put(slot *tab, size_t tcap, uintptr_t block, size_t at)
{
    size_t i = hash(block) & (tcap - 1);
    while (tab[i].key > 1)
        i = (i + 1) & (tcap - 1);
    tab[i].key = block;
    tab[i].at = at;
}

/* Room for one more: the index at most half full, deleted slots
 * counted, rebuilt from the dense arrays when it would be more. */
static void reserve_one(void)
{
    if (n == cap) {
        size_t c = cap ? cap * 2 : 16384;
        objs = pd_sys_grow(objs, cap * sizeof *objs, c * sizeof *objs);
        blocks = pd_sys_grow(blocks, cap * sizeof *blocks, c * sizeof *blocks);
        sizes = pd_sys_grow(sizes, cap * sizeof *sizes, c * sizeof *sizes);
        cap = c;
    }
    if ((iused + 1) * 2 <= icap)
        return;
    size_t c = 1024;
    while (c < (n + 1) * 4)
        c *= 2;
    slot *tab = pd_sys_map(c * sizeof *tab);
    for (size_t i = 0; i < n; i++)
        put(tab, c, blocks[i], i);
    if (index_ != NULL)
        pd_sys_unmap(index_, icap * sizeof *index_);
    index_ = tab;
    icap = c;
    iused = n;
}

void pd_foreign_add(uintptr_t block, size_t size, uintptr_t obj)
{
    if (lookup(block) != NULL)
        return;
    reserve_one();
    objs[n] = obj;
    blocks[n] = block;
    sizes[n] = size;
    put(index_, icap, block, n);
    iused++;
    n++;
}

/* Drop the entry s points to: the last entry moves into its place. */
static void drop(slot *s)
{
    size_t at = s->at, last = n - 1;
    s->key = 1;
    if (at != last) {
        objs[at] = objs[last];
        blocks[at] = blocks[last];
        sizes[at] = sizes[last];
        lookup(blocks[at])->at = at;
    }
    n--;
}

void pd_foreign_forget(uintptr_t block)
{
    slot *s = lookup(block);
    if (s != NULL)
        drop(s);
}

void pd_foreign_moved(uintptr_t old, uintptr_t new, size_t size)
{
    slot *s = lookup(old);
    if (s == NULL)
        return;
    uintptr_t off = objs[s->at] - old;
    drop(s);
    pd_foreign_add(new, size, new + off);
}

size_t pd_foreign_count(void) { return n; }

static void info(pd_block_info *b, size_t i)
{
    memset(b, 0, sizeof *b);
    b->addr = blocks[i];
    b->size = sizes[i];
    b->domain = PD_OBJ;
    b->state = PD_LIVE;
}

int pd_foreign_find(uintptr_t addr, pd_block_info *out)
{
    for (uintptr_t back = 0; back <= 32 && back <= addr; back += 16) {
        slot *s = lookup(addr - back);
        if (s != NULL && objs[s->at] == addr) {
            info(out, s->at);
            return 1;
        }
    }
    return 0;
}

void pd_foreign_visit(void (*fn)(const uintptr_t *objs, size_t n, void *arg), void *arg)
{
    if (n > 0)
        fn(objs, n, arg);
}

void pd_foreign_visit_blocks(pd_visit_fn fn, void *arg)
{
    pd_block_info b;
    for (size_t i = 0; i < n; i++) {
        info(&b, i);
        fn(&b, arg);
    }
}
