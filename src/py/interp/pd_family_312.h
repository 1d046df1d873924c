/* pd_family_312.h - CPython 3.12's layouts, for pd_interp.c only.
 * As 3.11 but: the thread state is found without the GIL, frames keep
 * their function in f_funcobj, the eval loop links a frame owned by the C
 * stack under the frames it runs (cframe still points into its C frame),
 * and objects can be immortal. */
#ifndef PD_FAMILY_312_H
#define PD_FAMILY_312_H

#include "pd_family_stacktop.h"

static inline __attribute__((always_inline)) PyThreadState *pdf_own_tstate(void)
{
    return _PyThreadState_UncheckedGet();
}

static inline _PyInterpreterFrame *pdf_top(PyThreadState *ts)
{
    return ts->cframe ? ts->cframe->current_frame : NULL;
}

static inline PyCodeObject *pdf_code(_PyInterpreterFrame *f) { return f->f_code; }
static inline int pdf_is_entry(_PyInterpreterFrame *f) { return f->owner == FRAME_OWNED_BY_CSTACK; }
static inline int pdf_visible(_PyInterpreterFrame *f)
{
    return !pdf_is_entry(f) && f->f_code != NULL && !_PyFrame_IsIncomplete(f);
}
#define PDF_BOUND_WALKS 0
static inline uintptr_t pdf_bound_direct(PyThreadState *ts) { return (uintptr_t)ts->cframe; }

static inline PyObject *pdf_func(_PyInterpreterFrame *f) { return f->f_funcobj; }

/* CALL: method or NULL, then callable or self, then the arguments.
 * CALL_FUNCTION_EX: NULL, callable, args, kwargs if oparg & 1. */
#define PDF_CALL_METHOD_BELOW 1
static inline int pdf_ex_at(int oparg) { return 2 + (oparg & 1); }
static inline int pdf_ex_pops(int oparg) { return 3 + (oparg & 1); }

static inline int pdf_is_immortal(PyObject *op) { return _Py_IsImmortal(op); }

/* The whole word is the count (immortal objects sit at 2^32 - 1). */
static inline Py_ssize_t pdf_refcnt(PyObject *op)
{
    Py_ssize_t n = Py_REFCNT(op);
    return n >= 0 && n <= ((Py_ssize_t)1 << 32) ? n : -1;
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
