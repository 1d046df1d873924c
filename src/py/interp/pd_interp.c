/* pd_interp.c - the contract of pd_interp.h, once, over the accessors of
 * the layout family it is compiled for (pd_family_3XX.h).  Compiled once
 * per interpreter, against that interpreter's own internal headers. */
#define Py_BUILD_CORE 1
#include <Python.h>
/* Some versions' internal inline functions ignore a parameter. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "internal/pycore_frame.h"
#include "internal/pycore_object.h"
#include "internal/pycore_pystate.h"
#include "internal/pycore_runtime.h"
#include "pd_interp.h"
#include "../../core/pd_heap.h"
#if PD_INTERP_FAMILY == 314
#include "internal/pycore_freelist_state.h"
#include "internal/pycore_interp_structs.h"
#include "internal/pycore_interpframe.h"
#include "internal/pycore_stackref.h"
#endif
#pragma GCC diagnostic pop

#if PD_INTERP_FAMILY == 314
#include "pd_family_314.h"
#elif PD_INTERP_FAMILY == 313
#include "pd_family_313.h"
#elif PD_INTERP_FAMILY == 312
#include "pd_family_312.h"
#else
#include "pd_family_311.h"
#endif

static inline int frame_offset(_PyInterpreterFrame *f)
{
    return _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT);
}

PyThreadState *pd_interp_own_tstate(void) { return pdf_own_tstate(); }

/* The main interpreter, asked once: it never changes. */
static PyInterpreterState *main_interp(void)
{
    static PyInterpreterState *main;
    if (main == NULL)
        main = PyInterpreterState_Main();
    return main;
}

void pd_interp_capture(pd_site *s)
{
    PyThreadState *ts = pdf_own_tstate();
    if (ts != NULL) {
        s->subinterp = ts->interp != main_interp();
        for (_PyInterpreterFrame *f = pdf_top(ts); f != NULL; f = f->previous) {
            if (!pdf_visible(f))
                continue;
            PyCodeObject *co = pdf_code(f);
            s->code = co;
            s->code_serial = pd_live_serial_of(co);
            s->lasti = frame_offset(f);
            return;
        }
    } else {
        s->subinterp = 0;
    }
    s->code = NULL;
    s->code_serial = 0;
    s->lasti = -1;
}

int pd_interp_positions(PyThreadState *ts, pd_pos *out, int max)
{
    int n = 0;
    for (_PyInterpreterFrame *f = pdf_top(ts); f != NULL && n < max; f = f->previous) {
        if (!pdf_visible(f))
            continue;
        out[n].code = pdf_code(f);
        out[n].offset = frame_offset(f);
        n++;
    }
    return n;
}

uintptr_t pd_interp_eval_bound(int max_hops)
{
    if (PDF_BOUND_WALKS && max_hops == 0)
        return 0;
    PyThreadState *ts = pdf_own_tstate();
    if (ts == NULL)
        return 0;
    if (!PDF_BOUND_WALKS)
        return pdf_bound_direct(ts);
    int hops = 0;
    for (_PyInterpreterFrame *f = pdf_top(ts); f != NULL && hops < max_hops; f = f->previous, hops++)
        if (pdf_is_entry(f))
            return (uintptr_t)f;
    return 0;
}

void pd_interp_visit_frames(PyThreadState *ts, visitproc visit, void *arg)
{
    for (_PyInterpreterFrame *f = pdf_top(ts); f != NULL; f = f->previous) {
        if (f->owner != FRAME_OWNED_BY_THREAD)
            continue;
        PyCodeObject *co = pdf_code(f);
        if (co == NULL)
            continue;
        PyObject *func = pdf_func(f);
        if (func)
            visit(func, arg);
        visit((PyObject *)co, arg);
        if (f->f_locals)
            visit(f->f_locals, arg);
        if (f->frame_obj)
            visit((PyObject *)f->frame_obj, arg);
        for (int i = 0; i < co->co_nlocalsplus; i++) {
            PyObject *v = pdf_local(f, i);
            if (v)
                visit(v, arg);
        }
    }
}

pd_iframe *pd_interp_current_frame(void)
{
    PyThreadState *ts = PyThreadState_Get();
    _PyInterpreterFrame *f = pdf_top(ts);
    while (f != NULL && pdf_is_entry(f))
        f = f->previous;
    return f;
}

pd_iframe *pd_interp_frame_of(PyFrameObject *frame) { return frame->f_frame; }

void pd_interp_frame_trace(PyFrameObject *frame, int lines, int opcodes)
{
    frame->f_trace_lines = (char)lines;
    frame->f_trace_opcodes = (char)opcodes;
}
PyCodeObject *pd_interp_frame_code(pd_iframe *f) { return pdf_code(f); }
int pd_interp_frame_offset(pd_iframe *f) { return frame_offset(f); }
PyObject *pd_interp_frame_globals(pd_iframe *f) { return f->f_globals; }
int pd_interp_saved_depth(pd_iframe *f, PyCodeObject *co) { return pdf_saved_depth(f, co); }

void pd_interp_stack_values(pd_iframe *f, PyCodeObject *co, int depth, PyObject **out)
{
    for (int i = 0; i < depth; i++)
        out[i] = pdf_value(f, co, i);
}

void pd_interp_call_shape(pd_call_kind kind, int oparg, pd_call_shape *out)
{
    if (kind == PD_CALL_EX) {
        out->marker = out->callable_set = out->callable_null = pdf_ex_at(oparg);
        out->pops = pdf_ex_pops(oparg);
        out->method_form_when_set = 0;
        return;
    }
    int kw = kind == PD_CALL_KW;
    out->method_form_when_set = 1;
    out->pops = oparg + 2 + kw;
    if (PDF_CALL_METHOD_BELOW) {
        /* method or NULL under callable or self */
        out->marker = out->callable_set = oparg + 2;
        out->callable_null = oparg + 1;
    } else {
        /* callable under self or NULL */
        out->marker = oparg + 1 + kw;
        out->callable_set = out->callable_null = oparg + 2 + kw;
    }
}

size_t pd_interp_preheader_size(PyTypeObject *tp) { return _PyType_PreHeaderSize(tp); }
int pd_interp_is_immortal(PyObject *op) { return pdf_is_immortal(op); }
Py_ssize_t pd_interp_refcnt(PyObject *op) { return pdf_refcnt(op); }
int pd_interp_allocator(void) { return _PyRuntime.preconfig.allocator; }

static int freelists_disabled;
int pd_interp_freelists_off(void) { return freelists_disabled = pdf_freelists_off(); }
int pd_interp_freelist_type(PyTypeObject *tp)
{
    return !freelists_disabled && pdf_freelist_type(tp);
}
