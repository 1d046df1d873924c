/* pd_callstats.c - CALL_PROFILE's 11 counters, from the instruction
 * stream.  The slots keep their historical meaning (Python 2's
 * sys.callstats()), mapped onto what a modern interpreter does:
 *
 *   0 ALL            every call made by a call instruction
 *   1 FUNCTION       calls whose callee is a Python function (also through
 *                    a method-form call or a bound method)
 *   2 FAST_FUNCTION  of those, calls with positional arguments only (no
 *                    keywords, no * or ** unpacking): the interpreter's
 *                    inlined path
 *   3 FASTER_FUNCTION of those, exactly as many arguments as the function's
 *                    positional parameters, and no *args, **kwargs or
 *                    keyword-only ones (the exact-arguments path)
 *   4 METHOD         method-form calls: obj.name(...) with self passed
 *                    beside the function, no bound method made
 *   5 BOUND_METHOD   calls of a bound method object
 *   6 CFUNCTION      calls of built-in functions and method descriptors
 *   7 TYPE           calls of a type (instantiations)
 *   8 GENERATOR      generator and coroutine frames starting or resuming
 *   9 OTHER          calls of anything else (callable instances, partials)
 *  10 POP            values the calls took off the value stack (callable,
 *                    self slot, arguments)
 *
 * Keywords: a KW_NAMES instruction before the call (3.11, 3.12), or
 * CALL_KW (3.13). */
#include <Python.h>

#include <string.h>

#include "pd_tracers.h"

static uint64_t counts[PD_PCALL_N];
static _Thread_local PyCodeObject *kw_code;  /* KW_NAMES seen in this code at this offset */
static _Thread_local int kw_offset = -1;

void pd_callstats_get(uint64_t out[PD_PCALL_N]) { memcpy(out, counts, sizeof counts); }

static int is_c_callable(PyObject *c)
{
    PyTypeObject *t = Py_TYPE(c);
    return PyCFunction_Check(c) || t == &PyMethodDescr_Type || t == &PyClassMethodDescr_Type ||
           t == &PyWrapperDescr_Type || strcmp(t->tp_name, "method-wrapper") == 0;
}

static void count_function(PyObject *fn, int nargs, int keywords)
{
    counts[PD_PCALL_FUNCTION]++;
    if (keywords || nargs < 0)
        return;
    counts[PD_PCALL_FAST_FUNCTION]++;
    PyCodeObject *co = (PyCodeObject *)PyFunction_GET_CODE(fn);
    if (nargs == co->co_argcount && co->co_kwonlyargcount == 0 &&
        !(co->co_flags & (CO_VARARGS | CO_VARKEYWORDS)))
        counts[PD_PCALL_FASTER_FUNCTION]++;
}

void pd_callstats_insn(const pd_insn *ev)
{
    if (ev->opcode == pd_op.KW_NAMES) {
        kw_code = ev->code;
        kw_offset = ev->offset;
        return;
    }
    pd_call c;
    if (!pd_insn_call(ev, &c)) {
        /* 3.11: PRECALL, then CALL; KW_NAMES stands before both. */
        if (ev->opcode != pd_op.CALL)
            kw_code = NULL;
        return;
    }
    int keywords = ev->opcode == pd_op.CALL_KW ||
                   (kw_code == ev->code && kw_offset < ev->offset && ev->offset - kw_offset <= 8);
    kw_code = NULL;
    counts[PD_PCALL_ALL]++;
    counts[PD_PCALL_POP] += (uint64_t)c.pops;
    if (c.method_form)
        counts[PD_PCALL_METHOD]++;
    PyObject *f = c.callable;
    int nargs = c.nargs;
    if (PyMethod_Check(f)) {
        counts[PD_PCALL_BOUND_METHOD]++;
        f = PyMethod_GET_FUNCTION(f);
        if (nargs >= 0)
            nargs++;
    }
    if (PyFunction_Check(f))
        count_function(f, nargs, keywords);
    else if (is_c_callable(f))
        counts[PD_PCALL_CFUNCTION]++;
    else if (PyType_Check(f))
        counts[PD_PCALL_TYPE]++;
    else
        counts[PD_PCALL_OTHER]++;
}

void pd_callstats_frame(PyCodeObject *code)
{
    if (code->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR))
        counts[PD_PCALL_GENERATOR]++;
}
