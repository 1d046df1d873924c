/* pd_registry.h - the block registry and the quarantine FIFOs.
 *
 * Entries live in one growing array; index 0 is never used, so 0 means
 * "none".  Free entries are chained through `next`.  An open-addressing
 * hash table of (address, entry index) slots, keyed by the block's user address,
 * finds an entry; linear probing with backward-shift deletion keeps it free
 * of tombstones.  Quarantined blocks stay in the table (state
 * PD_QUARANTINED) so a second free or a realloc of a freed pointer finds
 * them; the quarantines are FIFOs threaded through `next`.
 *
 * Not thread-safe by itself: pd_alloc.c holds its lock around every call.
 * Entries move when the array grows: never keep a pointer across an insert.
 */
#ifndef PD_REGISTRY_H
#define PD_REGISTRY_H

#include "pd_core.h"

typedef struct {
    pd_block_info b;   /* b.addr == 0: entry is free */
    uint32_t next;     /* free list or quarantine FIFO */
} pd_entry;

uint32_t pd_reg_insert(uintptr_t addr);  /* new zeroed entry with addr */
uint32_t pd_reg_lookup(uintptr_t addr);  /* 0 when absent */
void pd_reg_remove(uint32_t idx);
pd_entry *pd_reg_entry(uint32_t idx);
uint32_t pd_reg_high(void);              /* entries are 1 .. high-1 */
size_t pd_reg_bytes(void);

/* One quarantine FIFO per domain: evicting a block calls its domain's
 * underlying free, which for the mem and object domains needs the GIL, so
 * a raw-domain free (no GIL) must only ever evict raw blocks. */
void pd_quar_push(pd_domain d, uint32_t idx);
uint32_t pd_quar_pop(pd_domain d);       /* oldest, 0 when empty */
uint64_t pd_quar_bytes(pd_domain d);
uint64_t pd_quar_count(pd_domain d);

#endif
