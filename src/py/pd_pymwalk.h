/* pd_pymwalk.h - the live blocks of pymalloc, for object accounting
 * without the debug allocator (-X malloc=objects).
 *
 * pymalloc keeps no list of its blocks, but its memory is easy to read:
 * arenas (we learn each one through PyObject_SetArenaAllocator) are cut
 * into aligned pools, each with a header saying its block size and how far
 * blocks have been handed out; a free block's first word is a free-list
 * link (a pointer, or NULL), which no live object's reference count can
 * be.  Requests above pymalloc's threshold (512 bytes) go to the system
 * allocator: a thin hook on the object domain keeps a set of those.
 * All of it runs under the GIL, as the object domain does. */
#ifndef PD_PYMWALK_H
#define PD_PYMWALK_H

#include "../core/pd_core.h"

/* Before the interpreter's first object allocation.  Returns 0, or -1
 * (with one line on stderr) when this interpreter's pymalloc is not laid
 * out as we read it. */
int pd_pym_install(void);
int pd_pym_active(void);
/* The same bookkeeping under the debug allocator, which then hands
 * pymalloc the blocks it makes while it stands aside (pd_hooks.h): the
 * walk finds them when it steps back in.  Not the accounting backend:
 * pd_pym_active() stays 0. */
void pd_pym_track(void);
/* After initialization: make sure the walk finds a fresh object; -1 if not. */
int pd_pym_selftest(void);

/* Every block pymalloc or the large set holds that may be live (serial
 * 0, domain object, state live). */
void pd_pym_visit(pd_visit_fn fn, void *arg);
/* The block holding addr, if any. */
int pd_pym_find(uintptr_t addr, pd_block_info *out);

#endif
