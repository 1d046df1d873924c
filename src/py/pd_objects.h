/* pd_objects.h - object accounting: Py_REF_DEBUG's reference total,
 * Py_TRACE_REFS' list of live objects and COUNT_ALLOCS' per-type counts,
 * on interpreters built without them.
 *
 * Where the objects are: under python-debug every object the interpreter
 * allocates sits in a live object-domain block of the debug allocator, at
 * the block's start, behind a GC header (16 bytes), or behind a GC header
 * and a pre-header (32 bytes).  An object is recognised in a block when the
 * word where its type would be points to a type object we can prove
 * readable (a static type in a loaded object, or a heap type in a live
 * block of ours), that type puts its objects exactly at that offset, fits
 * in the block, and the reference count is plausible.  A walk of the live
 * blocks then sees every live heap object, newest first by block serial.
 *
 * When they are born and die (for per-type counts) comes from a backend
 * (pd_objcount.c): the interpreter's reference tracer where a self-test
 * shows it reports every destruction, the allocator's object events
 * elsewhere.  Callers never ask which interpreter this is. */
#ifndef PD_OBJECTS_H
#define PD_OBJECTS_H

#include <Python.h>

#include "../core/pd_core.h"

/* How to look a heap address up: with the core lock held (inside a visit
 * or an object event) or not. */
typedef enum { PD_LOCKED, PD_UNLOCKED } pd_lockstate;

/* The object held by a live object-domain block, or NULL. */
PyObject *pd_obj_in_block(const pd_block_info *b, pd_lockstate ls);
/* The same for a block being freed (pd_object_hooks' retire): its object's
 * reference count is zero by then. */
PyObject *pd_obj_in_dying_block(const pd_block_info *b);
/* The object whose last reference is gone (count 0) in the object-domain
 * block [addr, addr+size) being freed, or NULL (core lock held). */
PyObject *pd_obj_dead_at(uintptr_t addr, size_t size);
/* Whether t is a type object we may read. */
int pd_obj_is_type(uintptr_t t, pd_lockstate ls);

/* After dlopen/dlclose: static types may have come or gone. */
void pd_objects_modules_changed(void);

/* Whether the walk-based queries work (the debug allocator is on). */
int pd_objects_available(void);

/* Before the debug allocator steps back in (pd_hooks_step_in), GIL held:
 * the objects pymalloc holds, made while it stood aside, join every walk
 * from now on (pd_foreign.h).  Returns how many objects are adopted. */
size_t pd_objects_adopt_foreign(void);

/* Sum of reference counts of live, mortal heap objects; and their number. */
void pd_objects_total(Py_ssize_t *refs, Py_ssize_t *count);

/* New list of live objects, newest first; at most limit (0: all); only
 * objects whose type is exactly `type` unless it is NULL; only objects
 * whose block was allocated at or after serial `since` (0: any). */
PyObject *pd_objects_list(Py_ssize_t limit, PyTypeObject *type, uint64_t since);

/* A serial for pd_objects_list's `since`: now.  0 when blocks have no
 * serials (-X malloc=objects). */
uint64_t pd_objects_mark(void);

/* For each object of the list `targets`: a tuple (references it has,
 * references found to it from containers and running frames, a tuple of
 * the first few containers found holding it).  Containers: `tracked` (the
 * collector's objects, gc.get_objects()) and the untracked tuples and dicts
 * of a walk.  Objects in `ignore` (a tuple), `targets` and `tracked` are
 * not counted as referrers.  The references the call itself holds are
 * not counted either. */
PyObject *pd_objects_referrers(PyObject *targets, PyObject *ignore, PyObject *tracked);

/* The addresses of the live objects, sorted, as a bytes object of native
 * unsigned words. */
PyObject *pd_objects_addresses(void);

/* The allocation site of the block holding op, as report text; None when
 * unknown (no debug allocator, or op is not in a block of ours). */
PyObject *pd_objects_site(PyObject *op);

/* Per type found alive: fn(type, number alive). */
void pd_objects_live_by_type(void (*fn)(PyTypeObject *t, uint64_t n, void *arg), void *arg);

/* "address [refcount] repr" for each live object, oldest first, to f. */
void pd_objects_dump(FILE *f);

#endif
