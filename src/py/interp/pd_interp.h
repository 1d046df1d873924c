/* pd_interp.h - the contract for every read of the interpreter's private
 * structures: the thread state and its frame chain, frames and their
 * owners, the code a frame runs and where, its value stack, the shape of
 * a call instruction's operands, an object's pre-header and immortality,
 * and pymalloc's pre-configuration.
 *
 * Nothing else in python-debug includes an internal CPython header or
 * tests a version number.  The one switch below names the layout family
 * of the interpreter being compiled against; pd_interp.c implements this
 * contract once, over the static inline accessors of that family's header
 * (pd_family_3XX.h).  Adding a CPython release means adding one family
 * header (or reusing one) and one row of the test matrix.
 *
 * Rules every function keeps:
 *   - it never allocates and never runs Python code, so the allocator
 *     hooks may call it, in any domain;
 *   - the frame functions read only the calling thread's own frames unless
 *     they say otherwise (only that thread changes them, and it is busy
 *     calling us), or run with the GIL held where they say so;
 *   - a frame that is not a real Python frame that has started running
 *     (an entry frame of the eval loop, the thread's base frame, a frame
 *     still being set up) is never reported as a position. */
#ifndef PD_INTERP_H
#define PD_INTERP_H

#include <Python.h>
#include <stdint.h>

#include "../../core/pd_core.h"

/* The layout families.  Newer interpreters are refused by the front end
 * before anything is compiled; this stops a hand-made build too. */
#if PY_VERSION_HEX >= 0x03100000
#error "python-debug supports CPython 3.11 to 3.15: no layout family for this interpreter"
#elif PY_VERSION_HEX >= 0x030E0000
#define PD_INTERP_FAMILY 314 /* 3.14, 3.15: tagged stack refs, instr_ptr */
#elif PY_VERSION_HEX >= 0x030D0000
#define PD_INTERP_FAMILY 313 /* 3.13: f_executable, entry frame on the C stack */
#elif PY_VERSION_HEX >= 0x030C0000
#define PD_INTERP_FAMILY 312 /* 3.12: f_funcobj, cframe, immortal objects */
#elif PY_VERSION_HEX >= 0x030B0000
#define PD_INTERP_FAMILY 311
#else
#error "python-debug needs CPython 3.11 or newer"
#endif

#ifdef Py_GIL_DISABLED
#error "python-debug does not support free-threaded CPython builds"
#endif

/* What the interpreter offers, for the files that choose a backend. */
#define PD_INTERP_HAS_MONITORING (PD_INTERP_FAMILY >= 312) /* sys.monitoring */
#define PD_INTERP_HAS_REFTRACER (PD_INTERP_FAMILY >= 313)  /* PyRefTracer */

/* An interpreter frame, opaque outside pd_interp.c. */
typedef struct _PyInterpreterFrame pd_iframe;

/* Where a frame is: its code and the offset in bytes of the instruction
 * it runs (as dis shows offsets). */
typedef struct {
    PyCodeObject *code;
    int offset;
} pd_pos;

/* Threads and positions --------------------------------------------------- */

/* The calling thread's own thread state, or NULL; never another
 * thread's. */
PyThreadState *pd_interp_own_tstate(void);
/* The Python part of an allocation site, on every allocation and free:
 * the calling thread's innermost visible frame (code, its serial, offset;
 * NULL, 0, -1 without one) and whether it runs in a subinterpreter. */
void pd_interp_capture(pd_site *s);
/* Up to max visible frames of ts, innermost first; returns how many.
 * ts is the calling thread's, or any thread's with the GIL held. */
int pd_interp_positions(PyThreadState *ts, pd_pos *out, int max);
/* An address inside the C frame of the innermost eval loop running on
 * this thread, or 0: a C caller below it called the allocator from C code
 * that loop called.  With max_hops 0 only what costs no walk (3.11, 3.12:
 * the eval loop's cframe); otherwise at most max_hops frames are walked
 * to the loop's entry frame.  The stack scan checks that the bound lies on
 * this thread's stack. */
uintptr_t pd_interp_eval_bound(int max_hops);
/* Call visit on each strong reference the frames a thread is executing
 * hold: function, code, locals dict, frame object, fast locals (GIL
 * held).  Generator frames are left to their generator's traverse. */
void pd_interp_visit_frames(PyThreadState *ts, visitproc visit, void *arg);

/* Frames, for the instruction stream (GIL held) ------------------------------ */

/* The innermost frame of the current thread that runs code, or NULL. */
pd_iframe *pd_interp_current_frame(void);
/* A frame object's interpreter frame. */
pd_iframe *pd_interp_frame_of(PyFrameObject *frame);
/* Which events a C trace function gets for a frame object (f_trace_lines,
 * f_trace_opcodes). */
void pd_interp_frame_trace(PyFrameObject *frame, int lines, int opcodes);
/* The code object a frame runs, or NULL if it runs something else. */
PyCodeObject *pd_interp_frame_code(pd_iframe *f);
int pd_interp_frame_offset(pd_iframe *f);
PyObject *pd_interp_frame_globals(pd_iframe *f);
/* The value-stack depth the interpreter saved for the frame running co
 * before it called us, or -1 when it saved none. */
int pd_interp_saved_depth(pd_iframe *f, PyCodeObject *co);
/* The bottom `depth` values of the frame's value stack into out, bottom
 * first, as objects (NULL for an empty slot or a value that is no object,
 * such as 3.14's tagged ints). */
void pd_interp_stack_values(pd_iframe *f, PyCodeObject *co, int depth, PyObject **out);

/* Where a call instruction keeps its operands, counted from the top of the
 * stack (1 = top).  The callable is at callable_set when the slot at
 * marker holds an object, at callable_null when it holds NULL; pops is how
 * many values the call takes. */
typedef enum { PD_CALL_PLAIN, PD_CALL_KW, PD_CALL_EX } pd_call_kind;
typedef struct {
    int marker, callable_set, callable_null, pops;
    int method_form_when_set; /* the marker holds self: a method-form call */
} pd_call_shape;
void pd_interp_call_shape(pd_call_kind kind, int oparg, pd_call_shape *out);

/* Objects ------------------------------------------------------------------ */

/* Bytes the type puts before its objects (GC header, pre-header). */
size_t pd_interp_preheader_size(PyTypeObject *tp);
int pd_interp_is_immortal(PyObject *op);
/* The reference count of what may be a live object, read from its count
 * word, or -1 when that word cannot be a live object's (a free list's
 * next pointer written over it, a fill pattern).  An immortal object's
 * count is large but below 2^32. */
Py_ssize_t pd_interp_refcnt(PyObject *op);
/* The allocator pre-initialization chose (a PyMemAllocatorName). */
int pd_interp_allocator(void);

/* Free lists ---------------------------------------------------------------
 * CPython keeps freed objects of some types for reuse.  Under the debug
 * allocator that hides the freed object from the quarantine and gives the
 * reused one the site of a block born long before it.  Where the family
 * keeps every free list in one table (3.14+), pd_interp_freelists_off
 * (after initialization, GIL held) empties them with a collection and
 * disables each, as finalization does.  Returns 1 where done, 0 where this
 * family cannot. */
int pd_interp_freelists_off(void);
/* Whether an object of type tp may have been taken from a free list (not
 * when pd_interp_freelists_off disabled them): its block's allocation
 * site may then be an older object's. */
int pd_interp_freelist_type(PyTypeObject *tp);

/* pymalloc ------------------------------------------------------------------
 * The pool header, as obmalloc.c lays it out in 3.11 and as
 * internal/pycore_obmalloc.h publishes it since 3.12 (the same in every family
 * so far).  The sizes are those of 64-bit builds with the radix tree (the
 * default since 3.10): 16 KiB pools, 16-byte alignment, blocks up to 512
 * bytes.  pd_pym_selftest checks them on the running interpreter. */
typedef struct pd_interp_pool {
    union {
        unsigned char *padding;
        unsigned int count;
    } ref;
    unsigned char *freeblock;
    struct pd_interp_pool *nextpool, *prevpool;
    unsigned int arenaindex, szidx, nextoffset, maxnextoffset;
} pd_interp_pool;
#define PD_INTERP_POOL_SIZE ((uintptr_t)1 << 14)
#define PD_INTERP_SMALL_MAX 512

#endif
