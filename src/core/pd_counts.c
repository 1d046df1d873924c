/* pd_counts.c - see pd_counts.h.
 *
 * Two arrays in private mappings: the rows, in order of first sight, and
 * an open-addressing index from a live type's address to its row.  A
 * detached type leaves a tombstone (key 1: never an object's address) in
 * the index, which the next growth drops. */
#include "pd_counts.h"

#include <string.h>

#include "pd_sys.h"

#define TOMBSTONE ((uintptr_t)1)

typedef struct {
    uintptr_t key;   /* 0 empty, TOMBSTONE, or a type's address */
    uint32_t row;
} slot;

static pd_count_row *rows;
static size_t nrows, rows_cap;
static slot *index_;
static size_t index_cap, index_used, index_tombs; /* used counts tombstones */

static size_t hash(uintptr_t k, size_t cap)
{
    k ^= k >> 29;
    k *= 0xbf58476d1ce4e5b9ull;
    k ^= k >> 32;
    return (size_t)k & (cap - 1);
}

static void index_put(slot *tab, size_t cap, uintptr_t key, uint32_t row)
{
    size_t i = hash(key, cap);
    while (tab[i].key != 0)
        i = (i + 1) & (cap - 1);
    tab[i].key = key;
    tab[i].row = row;
}

static void grow_index(void)
{
    /* Mostly tombstones: rebuild at the same size. */
    size_t live = index_used - index_tombs;
    size_t cap = index_cap == 0 ? 1024 : live * 4 < index_cap ? index_cap : index_cap * 2;
    slot *tab = pd_sys_map(cap * sizeof(slot));
    size_t used = 0;
    for (size_t i = 0; i < index_cap; i++) {
        if (index_[i].key > TOMBSTONE) {
            index_put(tab, cap, index_[i].key, index_[i].row);
            used++;
        }
    }
    pd_sys_unmap(index_, index_cap * sizeof(slot));
    index_ = tab;
    index_cap = cap;
    index_used = used;
    index_tombs = 0;
}

/* The last type looked up: births and deaths come in runs of one type.
 * Dropped whenever rows move or a type is detached. */
static uintptr_t last_key;
static size_t last_row;

/* The row of a live type, created on first sight. */
static pd_count_row *row_of(uintptr_t type, const char *name)
{
    if (type == last_key && last_key)
        return &rows[last_row];
    if (index_cap) {
        size_t i = hash(type, index_cap);
        for (; index_[i].key != 0; i = (i + 1) & (index_cap - 1))
            if (index_[i].key == type) {
                last_key = type;
                last_row = index_[i].row;
                return &rows[last_row];
            }
    }
    if ((index_used + 1) * 2 > index_cap)
        grow_index();
    if (nrows == rows_cap) {
        size_t cap = rows_cap ? rows_cap * 2 : 1024;
        rows = pd_sys_grow(rows, rows_cap * sizeof *rows, cap * sizeof *rows);
        rows_cap = cap;
    }
    pd_count_row *r = &rows[nrows];
    memset(r, 0, sizeof *r);
    r->key = type;
    strncpy(r->name, name ? name : "?", sizeof r->name - 1);
    index_put(index_, index_cap, type, (uint32_t)nrows);
    index_used++;
    nrows++;
    return r;
}

static void count_birth(pd_count_row *r)
{
    r->allocs++;
    r->live++;
    if (r->live > r->max)
        r->max = r->live;
}

void pd_counts_born(uintptr_t type, const char *name)
{
    count_birth(row_of(type, name));
}

void pd_counts_died(uintptr_t type, const char *name)
{
    pd_count_row *r = row_of(type, name);
    if (r->live == 0)
        count_birth(r); /* predates counting */
    r->live--;
    r->frees++;
}

void pd_counts_type_gone(uintptr_t type)
{
    if (index_cap) {
        size_t i = hash(type, index_cap);
        for (; index_[i].key != 0; i = (i + 1) & (index_cap - 1)) {
            if (index_[i].key == type) {
                last_key = 0;
                index_[i].key = TOMBSTONE;
                index_tombs++;
                rows[index_[i].row].key = 0;
                break;
            }
        }
    }
}

static void sync_row(pd_count_row *r, uint64_t live)
{
    if (live < r->live)
        r->frees += r->live - live;
    else
        r->allocs += live - r->live;
    r->live = live;
    if (live > r->max)
        r->max = live;
}

void pd_counts_sync_begin(void)
{
    for (size_t i = 0; i < nrows; i++)
        rows[i].seen = 0;
}

void pd_counts_sync(uintptr_t type, const char *name, uint64_t live)
{
    pd_count_row *r = row_of(type, name);
    r->seen = 1;
    sync_row(r, live);
}

void pd_counts_sync_end(void)
{
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].key != 0 && !rows[i].seen)
            sync_row(&rows[i], 0);
}

size_t pd_counts_rows(pd_count_row **out)
{
    size_t n = nrows;
    *out = n ? pd_sys_map(n * sizeof **out) : NULL;
    if (n)
        memcpy(*out, rows, n * sizeof **out);
    return n;
}

void pd_counts_free_rows(pd_count_row *r, size_t n)
{
    if (r)
        pd_sys_unmap(r, n * sizeof *r);
}
