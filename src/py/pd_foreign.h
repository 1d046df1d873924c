/* pd_foreign.h - the objects the interpreter's own allocator holds once
 * the debug allocator has stood aside and stepped back in.
 *
 * While python-debug stands aside (pd_hooks_step_aside: the leak hunter's
 * start-up and collection, an xdist worker's from its first allocation),
 * new blocks come from pymalloc.  When it steps back in, object accounting
 * must still count the objects made meanwhile: a test that leaks a
 * reference to a module imported during collection grows only that
 * module's count.  So at the step in, one walk of pymalloc's live blocks
 * (pd_pymwalk.h) finds their objects (pd_objects_adopt_foreign), and this
 * table keeps them until their blocks are freed:
 *
 *   - three dense arrays, object, block and block size at one index, which
 *     a reference total reads in order, like the heap's known objects;
 *   - an open-addressing index from block address to that index, so that
 *     the free hook, which sees every foreign free, drops a block at once
 *     (the last entry moves into its place).
 *
 * Nothing is added after the step in but by the resize of an adopted
 * block.  Object-domain calls only, so every caller holds the GIL; all of
 * it lives in private mappings, never in blocks of the hooks. */
#ifndef PD_FOREIGN_H
#define PD_FOREIGN_H

#include <stddef.h>
#include <stdint.h>

#include "../core/pd_core.h"

/* The object at obj, in the foreign object-domain block [block, +size). */
void pd_foreign_add(uintptr_t block, size_t size, uintptr_t obj);
/* The block at `block` is being freed: forget its object, if any. */
void pd_foreign_forget(uintptr_t block);
/* The block at old was resized to size and now lies at new. */
void pd_foreign_moved(uintptr_t old, uintptr_t new, size_t size);
/* How many objects the table holds. */
size_t pd_foreign_count(void);
/* The adopted block holding an object at addr (its start, or 16 or 32
 * bytes in): 1 and *out filled (domain object, state live), or 0. */
int pd_foreign_find(uintptr_t addr, pd_block_info *out);
/* Every adopted object's address, all in one call. */
void pd_foreign_visit(void (*fn)(const uintptr_t *objs, size_t n, void *arg), void *arg);
/* Every adopted block, as the walks of blocks take them. */
void pd_foreign_visit_blocks(pd_visit_fn fn, void *arg);

#endif
