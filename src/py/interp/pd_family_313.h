/* pd_family_313.h - CPython 3.13's layouts, for pd_interp.c only.
 * The thread state points at the current frame itself (no cframe); a
 * frame runs f_executable, which may be something other than code; the
 * eval loop's entry frame, owned by the C stack, lies in its C frame, and
 * finding it means walking the frames that loop runs. */
#ifndef PD_FAMILY_313_H
#define PD_FAMILY_313_H

#include "pd_family_stacktop.h"

static inline __attribute__((always_inline)) PyThreadState *pdf_own_tstate(void)
{
    return PyThreadState_GetUnchecked();
}

static inline _PyInterpreterFrame *pdf_top(PyThreadState *ts) { return ts->current_frame; }

static inline PyCodeObject *pdf_code(_PyInterpreterFrame *f)
{
    PyObject *ex = f->f_executable;
    return (ex && PyCode_Check(ex)) ? (PyCodeObject *)ex : NULL;
}
static inline int pdf_is_entry(_PyInterpreterFrame *f) { return f->owner == FRAME_OWNED_BY_CSTACK; }
static inline int pdf_visible(_PyInterpreterFrame *f)
{
    return !pdf_is_entry(f) && pdf_code(f) != NULL && !_PyFrame_IsIncomplete(f);
}
#define PDF_BOUND_WALKS 1
static inline uintptr_t pdf_bound_direct(PyThreadState *ts) { (void)ts; return 0; }

static inline PyObject *pdf_func(_PyInterpreterFrame *f) { return f->f_funcobj; }

/* CALL and CALL_KW: callable, self or NULL, the arguments (then kwnames).
 * CALL_FUNCTION_EX: callable, NULL, args, kwargs if oparg & 1. */
#define PDF_CALL_METHOD_BELOW 0
static inline int pdf_ex_at(int oparg) { return 3 + (oparg & 1); }
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
