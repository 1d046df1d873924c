/* pd_family_311.h - CPython 3.11's layouts, for pd_interp.c only.
 * Frames hang off the eval loop's _PyCFrame (tstate->cframe), run
 * f_code, keep their function in f_func and save their stack depth in
 * stacktop (-1 when not saved).  No entry frames, no immortal objects.
 * The "current" thread state is the GIL holder's, so ours is found
 * through the per-thread gilstate key when that is another thread. */
#ifndef PD_FAMILY_311_H
#define PD_FAMILY_311_H

#include "pd_family_stacktop.h"

#include <pthread.h>

static inline __attribute__((always_inline)) PyThreadState *pdf_own_tstate(void)
{
    /* The GIL holder's, when that is this thread (almost always, outside
     * the raw domain), spares a pthread_getspecific per allocation; this
     * thread's id is remembered, which spares a library call too. */
    static _Thread_local __attribute__((tls_model("initial-exec"))) unsigned long self;
    if (self == 0)
        self = (unsigned long)pthread_self();
    PyThreadState *ts = _PyThreadState_GET();
    if (ts != NULL && ts->thread_id == self)
        return ts;
    return PyGILState_GetThisThreadState();
}

static inline _PyInterpreterFrame *pdf_top(PyThreadState *ts)
{
    return ts->cframe ? ts->cframe->current_frame : NULL;
}

static inline PyCodeObject *pdf_code(_PyInterpreterFrame *f) { return f->f_code; }
static inline int pdf_is_entry(_PyInterpreterFrame *f) { (void)f; return 0; }
static inline int pdf_visible(_PyInterpreterFrame *f)
{
    return f->f_code != NULL && !_PyFrame_IsIncomplete(f);
}
/* The eval loop's own C frame holds the _PyCFrame tstate->cframe points
 * to: no walk needed. */
#define PDF_BOUND_WALKS 0
static inline uintptr_t pdf_bound_direct(PyThreadState *ts) { return (uintptr_t)ts->cframe; }

static inline PyObject *pdf_func(_PyInterpreterFrame *f) { return (PyObject *)f->f_func; }

/* PRECALL: method or NULL, then callable or self, then the arguments.
 * CALL_FUNCTION_EX: NULL, callable, args, kwargs if oparg & 1. */
#define PDF_CALL_METHOD_BELOW 1
static inline int pdf_ex_at(int oparg) { return 2 + (oparg & 1); }
static inline int pdf_ex_pops(int oparg) { return 3 + (oparg & 1); }

static inline int pdf_is_immortal(PyObject *op) { (void)op; return 0; }

/* The whole word is the count. */
static inline Py_ssize_t pdf_refcnt(PyObject *op)
{
    Py_ssize_t n = Py_REFCNT(op);
    return n >= 0 && n < ((Py_ssize_t)1 << 32) ? n : -1;
}

/* Free lists live in per-type structures of their own here. */
static inline int pdf_freelists_off(void) { return 0; }

/* The types whose freed objects CPython keeps for reuse here. */
static inline int pdf_freelist_type(PyTypeObject *tp)
{
    return tp == &PyFloat_Type || tp == &PyTuple_Type || tp == &PyList_Type ||
           tp == &PyDict_Type || tp == &PySlice_Type || tp == &PyContext_Type;
}

#endif
