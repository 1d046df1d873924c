/* pd_guard.h - guarded slots: a block placed against an inaccessible page,
 * and its page made inaccessible when it is freed, so the first bad access
 * faults on the spot (the design of GWP-ASan and Linux's KFENCE).
 *
 * The pool is one reserved range of alternating guard pages and slots:
 *
 *     | guard | slot 0 | guard | slot 1 | guard | ... | slot N-1 | guard |
 *       4 KiB   4 KiB    4 KiB   4 KiB
 *
 * A slot holds one block of up to a page.  By default the block ends where
 * the page ends ("right" alignment), rounded to 16 bytes: an overrun of a
 * block whose size is a multiple of 16 faults at its first byte, and the
 * alignment slack after a block of another size, and the bytes before it
 * in its page, hold guard bytes that are checked when it is freed.
 * -X guard_align=left puts the block at the page's start instead, so an
 * underrun faults at its first byte.  Guard pages are never accessible;
 * a slot is readable and writable while its block is live and made
 * inaccessible again (its pages dropped) when it is freed, and stays so
 * until the pool needs it again: freed slots are reused oldest first.
 *
 * Which allocations go to the pool: one in RATE, each allocation on its
 * own with probability 1/RATE (a per-thread countdown drawn from the
 * geometric distribution, so the gaps are random, not periodic); all of
 * them (-X guard=all); or all of those one thread makes inside a scope
 * (pydebug.guarded()).  Allocations larger than a page, and any the pool
 * has no room for, take the normal debug-allocator path: the pool never
 * fails an allocation.  Room is bounded by the pool's size and by the
 * kernel's limit on mappings (vm.max_map_count): each live slot splits the
 * range into two more mappings.
 *
 * Metadata lives outside the pool (pd_sys_map), as a pd_entry per slot,
 * so reports, object accounting and heap checks see guarded blocks like
 * any other.  The core lock (pd_alloc.c) protects all of it: these
 * functions are called with it held, except where said. */
#ifndef PD_GUARD_H
#define PD_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "pd_core.h"
#include "pd_heap.h"

/* -X guard with no rate. */
#define PD_GUARD_DEFAULT_RATE 20000

typedef struct {
    uint32_t rate;       /* one in RATE; 0 = off (then only scopes guard) */
    int all;             /* every allocation up to a page */
    int left;            /* block at the page's start, not its end */
    size_t pool_bytes;   /* address space of the pool (guards included) */
    int drop_freed;      /* give a freed slot's page back (see pd_guard_release) */
} pd_guard_options;

/* Reserve the pool; called once, before any allocation (no lock). */
void pd_guard_init(const pd_guard_options *o);

/* Whether an allocation of n bytes by this thread should be guarded.
 * Lock-free: thread-local state only.  Inline, as is pd_guard_owns: every
 * allocation and free asks, so the common answer costs a decrement or two
 * comparisons; the state behind them is pd_guard.c's. */
extern _Thread_local int64_t pd_guard_countdown;
int pd_guard_sample_slow(size_t n);
static inline int pd_guard_sample(size_t n)
{
    return --pd_guard_countdown > 0 ? 0 : pd_guard_sample_slow(n);
}

/* -X guard=all covers what is allocated from this call on (the host makes
 * it once the interpreter has started; see pd_guard.c). */
void pd_guard_arm(void);

/* pydebug.guarded(): every allocation this thread makes between enter
 * and exit is guarded (nests; lock-free). */
void pd_guard_scope_enter(void);
void pd_guard_scope_exit(void);

/* Is p inside the pool?  No lock. */
extern uintptr_t pd_guard_lo, pd_guard_span;
static inline int pd_guard_owns(uintptr_t p) { return p - pd_guard_lo < pd_guard_span; }

/* A slot for n bytes: maps it, fills the page (guard bytes around the
 * block, fresh fill or zeros in it), returns the user pointer and its
 * entry; NULL when the pool has no room.  The caller fills in the entry. */
void *pd_guard_alloc(size_t n, int zero, pd_entry **entry);

/* Where p is in the pool: PD_EXACT (a block's start; *entry is its
 * slot's entry, live or freed), PD_INTERIOR (inside a slot that holds or
 * held a block), PD_NO_BLOCK (a guard page, or a slot never used). */
pd_where pd_guard_lookup(uintptr_t p, pd_entry **entry);

/* The first damaged guard byte around a live block (before it in its
 * page, or in its alignment slack); returns 0 when intact. */
int pd_guard_damage(const pd_block_info *b, ptrdiff_t *off, size_t *len,
                    unsigned char *found, size_t *nfound);

/* Fill the guard bytes around a live block again (after a report, so
 * that damage is reported once). */
void pd_guard_rearm(const pd_block_info *b);

/* Free a live block's slot: it is made inaccessible, and its page given
 * back to the kernel if drop_freed.  Dropping bounds the memory of
 * -X guard=all's large pool; the sampled mode's small pool keeps its pages
 * (a drop and the fault that refills the page cost more than the rest of
 * a guarded allocation), and so does -X on_error=continue, so that a
 * program that goes on after a fault reads what it would have read
 * without us.
 * The entry keeps the block's facts (state PD_QUARANTINED) until the slot
 * is reused, so a later free is a double free and a fault names it. */
void pd_guard_release(pd_entry *e);

/* A fault at addr: the block it concerns, and what it was.  Returns 0 when
 * addr is not in the pool.  Called from the signal handler: no lock, no
 * allocation; the entries are read as they are. */
typedef enum {
    PD_GUARD_USE_AFTER_FREE,  /* in a freed block's slot */
    PD_GUARD_OVERFLOW,        /* past a block's end */
    PD_GUARD_UNDERFLOW,       /* before a block's start */
    PD_GUARD_WILD,            /* in the pool, near no block */
} pd_guard_fault_kind;

typedef struct {
    pd_guard_fault_kind kind;
    pd_block_info block;      /* valid unless kind is PD_GUARD_WILD */
    ptrdiff_t offset;         /* of addr from the block's start */
    uintptr_t page;           /* the page that faulted */
} pd_guard_fault;

int pd_guard_classify(uintptr_t addr, pd_guard_fault *out);

/* After a fault was reported and the program goes on
 * (-X on_error=continue): make the faulting page accessible for good (its
 * slot, and a guard page's neighbours, are retired from the pool) so the
 * instruction can complete.  Async-signal-safe. */
void pd_guard_open_page(uintptr_t page);

/* Visit every guarded entry in use (live or freed), in address order. */
void pd_guard_visit(void (*fn)(pd_entry *e, void *arg), void *arg);

typedef struct {
    uint64_t slots, live, freed, guarded, fallbacks, retired;
} pd_guard_stats;
void pd_guard_get_stats(pd_guard_stats *out);

#endif
