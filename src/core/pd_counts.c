/* pd_counts.c - see pd_counts.h.
 *
 * Two arrays in private mappings: the rows, in order of first sight, and
 * an open-addressing index from a live type's address to its row.  A
 * detached type leaves a tombstone (key 1: never an object's address) in
 * the index, which the next growth drops. */
#include "pd_counts.h"

#include <pthread.h>
#include <string.h>

#include "pd_sys.h"

#define TOMBSTONE ((uintptr_t)1)

typedef struct {
    uintptr_t key;   /* 0 empty, TOMBSTONE, or a type's address */
    uint32_t row;
} slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
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

/* The row of a live type, created on first sight.  Lock held. */
static pd_count_row *row_of(uintptr_t type, const char *name)
{
    if (index_cap) {
        size_t i = hash(type, index_cap);
        for (; index_[i].key != 0; i = (i + 1) & (index_cap - 1))
            if (index_[i].key == type)
                return &rows[index_[i].row];
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

static void born_locked(pd_count_row *r)
{
    r->allocs++;
    r->live++;
    if (r->live > r->max)
        r->max = r->live;
}

void pd_counts_born(uintptr_t type, const char *name)
{
    pthread_mutex_lock(&lock);
    born_locked(row_of(type, name));
    pthread_mutex_unlock(&lock);
}

void pd_counts_died(uintptr_t type, const char *name)
{
    pthread_mutex_lock(&lock);
    pd_count_row *r = row_of(type, name);
    if (r->live == 0)
        born_locked(r); /* predates counting */
    r->live--;
    r->frees++;
    pthread_mutex_unlock(&lock);
}

void pd_counts_type_gone(uintptr_t type)
{
    pthread_mutex_lock(&lock);
    if (index_cap) {
        size_t i = hash(type, index_cap);
        for (; index_[i].key != 0; i = (i + 1) & (index_cap - 1)) {
            if (index_[i].key == type) {
                index_[i].key = TOMBSTONE;
                index_tombs++;
                rows[index_[i].row].key = 0;
                break;
            }
        }
    }
    pthread_mutex_unlock(&lock);
}

void pd_counts_set_live(uintptr_t type, const char *name, uint64_t live)
{
    pthread_mutex_lock(&lock);
    pd_count_row *r = row_of(type, name);
    r->allocs = r->frees + live;
    r->live = live;
    if (live > r->max)
        r->max = live;
    pthread_mutex_unlock(&lock);
}

size_t pd_counts_rows(pd_count_row **out)
{
    pthread_mutex_lock(&lock);
    size_t n = nrows;
    *out = n ? pd_sys_map(n * sizeof **out) : NULL;
    if (n)
        memcpy(*out, rows, n * sizeof **out);
    pthread_mutex_unlock(&lock);
    return n;
}

void pd_counts_free_rows(pd_count_row *r, size_t n)
{
    if (r)
        pd_sys_unmap(r, n * sizeof *r);
}
