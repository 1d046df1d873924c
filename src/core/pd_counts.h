/* pd_counts.h - per-type object counts, COUNT_ALLOCS' tp_allocs, tp_frees
 * and tp_maxalloc, for any interpreter.
 *
 * Rows are keyed by the type's address.  Whoever sees objects being born
 * and dying (the reference tracer, or the allocator's object events) calls
 * pd_counts_born / pd_counts_died; when a type object itself dies, its row
 * is detached (it keeps its counts and name) so that a new type at the
 * same address starts a row of its own.
 *
 * The invariant allocs - frees == live always holds: an object that dies
 * without having been seen born (it predates counting) is counted as born
 * then.  Not locked: every caller holds the GIL (objects are born and die
 * under it), and an uncontended mutex here cost 10% of an allocation-heavy
 * run.  Never allocates through the Python allocator hooks (rows live in
 * private mappings). */
#ifndef PD_COUNTS_H
#define PD_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#define PD_COUNTS_NAME 80

typedef struct {
    uintptr_t key;              /* the type's address; 0 once detached */
    char name[PD_COUNTS_NAME];  /* tp_name when first seen */
    uint64_t allocs, frees, live, max;
    int seen;                   /* during a sync */
} pd_count_row;

/* name is read only when the type is new to the table. */
void pd_counts_born(uintptr_t type, const char *name);
void pd_counts_died(uintptr_t type, const char *name);
/* The type object at `type` is being freed. */
void pd_counts_type_gone(uintptr_t type);

/* Re-synchronise with a walk of the heap: begin, then one sync per type
 * found alive, then end (types not found have none alive).  A shortfall
 * counts as frees, a surplus as allocations, so the counters only grow and
 * allocs - frees == live.  Seeds the table, and mends what the event
 * source could not see (CPython's free lists, a tracer taken away). */
void pd_counts_sync_begin(void);
void pd_counts_sync(uintptr_t type, const char *name, uint64_t live);
void pd_counts_sync_end(void);

/* A copy of every row; free it with pd_counts_free_rows. */
size_t pd_counts_rows(pd_count_row **rows);
void pd_counts_free_rows(pd_count_row *rows, size_t n);

#endif
