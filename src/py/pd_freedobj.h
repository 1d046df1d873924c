/* pd_freedobj.h - the "freed object" type and the poison of freed objects
 * (pd_core.h, "Freed objects").
 *
 * When the debug allocator frees a block whose object's last reference is
 * gone, the object's count word is set to PD_FREED_REFCNT and its type to
 * the type "freed object".  That count is mortal on every supported
 * interpreter (positive as a 32-bit integer, below 3.14's immortal floor
 * of 2^31), so Py_INCREF and Py_DECREF through a stale reference write to
 * it, and the allocator's checks of freed blocks report how far it moved.
 * Every slot of the type reports the use at once: repr, str, attribute
 * access, call, iteration, comparison, hashing, length, item access,
 * truth, containment, dealloc and free.  Under -X on_error=continue a slot
 * that can fail raises SystemError naming the freed object; dealloc and
 * free do nothing. */
#ifndef PD_FREEDOBJ_H
#define PD_FREEDOBJ_H

#define PD_FREED_REFCNT 0x2DBDBDBD

/* Ready the type and arm the poison (after initialization, GIL held, with
 * the debug allocator installed).  Returns 0, or -1 with an exception. */
int pd_freedobj_start(void);

#endif
