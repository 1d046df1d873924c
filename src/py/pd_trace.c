/* pd_trace.c - see pd_trace.h.
 *
 * The value stack of a frame, and where a call instruction keeps its
 * callable, are the interpreter's own business and change between
 * versions: pd_interp.h reads them.  The consumers see pd_insn and pd_call
 * only. */
#include <Python.h>
#include "interp/pd_interp.h"

#include <string.h>

#include "pd_trace.h"
#include "pd_tracers.h"
#include "../core/pd_tsc.h"

pd_opcodes pd_op;
static char opnames[256][48]; /* LOAD_FAST_BORROW_LOAD_FAST_BORROW is 33 */
static unsigned char hasarg[256];
static int opcodes_known;
static int EXTENDED_ARG_OP = -1;
/* Inline cache entries after RESUME (one from 3.15 on), from opcode's
 * _inline_cache_entries (a list by opcode, or a mapping by name). */
static int resume_caches;

static unsigned active;     /* consumers running */
#if !PD_INTERP_HAS_MONITORING || !defined(Py_DEBUG)
/* The code objects of __lltrace__ modules (unused where a debug build
 * traces them itself and sys.monitoring marks them). */
static PyObject *marked;
#endif

unsigned pd_trace_active(void) { return active; }

int pd_op_hasarg(int op) { return op >= 0 && op < 256 && hasarg[op]; }

const char *pd_opname(int op)
{
    return (op >= 0 && op < 256 && opnames[op][0]) ? opnames[op] : "?";
}

/* Opcode numbers and names from the interpreter's own opcode module. */
static int load_opcodes(void)
{
    if (opcodes_known)
        return 0;
    PyObject *m = PyImport_ImportModule("opcode");
    PyObject *names = m ? PyObject_GetAttrString(m, "opname") : NULL;
    PyObject *map = m ? PyObject_GetAttrString(m, "opmap") : NULL;
    int rc = -1;
    /* opmap is a dict, or a frozendict (3.15): any mapping will do. */
    if (names == NULL || map == NULL || !PyList_Check(names) || !PyMapping_Check(map)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "python-debug: opcode.opname/opmap not as expected");
        goto out;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names) && i < 256; i++) {
        const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(names, i));
        if (s == NULL)
            goto out;
        snprintf(opnames[i], sizeof opnames[i], "%s", s);
    }
    struct { const char *name; int *slot; } want[] = {
        {"CALL", &pd_op.CALL}, {"PRECALL", &pd_op.PRECALL}, {"CALL_KW", &pd_op.CALL_KW},
        {"CALL_FUNCTION_EX", &pd_op.CALL_FUNCTION_EX}, {"KW_NAMES", &pd_op.KW_NAMES},
        {"RESUME", &pd_op.RESUME}, {"RETURN_GENERATOR", &pd_op.RETURN_GENERATOR}, {"RETURN_VALUE", &pd_op.RETURN_VALUE},
        {"RETURN_CONST", &pd_op.RETURN_CONST}, {"YIELD_VALUE", &pd_op.YIELD_VALUE},
        {"EXTENDED_ARG", &EXTENDED_ARG_OP},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        PyObject *v = PyMapping_HasKeyString(map, want[i].name)
                          ? PyMapping_GetItemString(map, want[i].name) : NULL;
        *want[i].slot = v ? (int)PyLong_AsLong(v) : -1;
        Py_XDECREF(v);
    }
    /* Which take an argument: opcode.hasarg (3.12+), else >= HAVE_ARGUMENT. */
    PyObject *ha = PyObject_GetAttrString(m, "hasarg");
    if (ha != NULL && PyList_Check(ha)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ha); i++) {
            long op = PyLong_AsLong(PyList_GET_ITEM(ha, i));
            if (op >= 0 && op < 256)
                hasarg[op] = 1;
        }
    } else {
        PyErr_Clear();
        PyObject *h = PyObject_GetAttrString(m, "HAVE_ARGUMENT");
        long first = h ? PyLong_AsLong(h) : 90;
        Py_XDECREF(h);
        PyErr_Clear();
        for (long op = first; op < 256; op++)
            hasarg[op] = 1;
    }
    Py_XDECREF(ha);
    if (PyErr_Occurred())
        goto out;
    PyObject *ce = PyObject_GetAttrString(m, "_inline_cache_entries");
    PyObject *n = NULL;
    if (ce != NULL && PyList_Check(ce) && pd_op.RESUME >= 0 && pd_op.RESUME < PyList_GET_SIZE(ce))
        n = Py_NewRef(PyList_GET_ITEM(ce, pd_op.RESUME));
    else if (ce != NULL && PyMapping_Check(ce) && PyMapping_HasKeyString(ce, "RESUME"))
        n = PyMapping_GetItemString(ce, "RESUME");
    resume_caches = n ? (int)PyLong_AsLong(n) : 0;
    Py_XDECREF(n);
    Py_XDECREF(ce);
    PyErr_Clear();
    if (resume_caches < 0)
        resume_caches = 0;
    opcodes_known = 1;
    rc = 0;
out:
    Py_XDECREF(names);
    Py_XDECREF(map);
    Py_XDECREF(m);
    return rc;
}

/* Decoding -------------------------------------------------------------------- */

/* What decoding needs of a code object, kept per code object by identity
 * (a code object's hash is computed from its contents: too slow to ask on
 * every instruction).  A small direct-mapped table; an entry holds a
 * reference to its code, so the address cannot be reused while cached.
 *
 *   bytes   the unspecialised instructions (PyCode_GetCode);
 *   depths  the value-stack depth before each instruction, for the
 *           interpreters that do not save the stack pointer before calling
 *           the hook (3.12+): computed by pydebug._stackdepth on first
 *           need, and kept in depth_memo too, so an evicted code object
 *           does not run that analysis again. */
#define CODE_SLOTS 1024

typedef struct {
    PyCodeObject *code;
    PyObject *bytes;
    PyObject *depths;
} code_entry;

static code_entry code_cache[CODE_SLOTS];
static PyObject *depth_memo;  /* code -> depths bytes */

static void entry_clear(code_entry *e)
{
    Py_CLEAR(e->bytes);
    Py_CLEAR(e->depths);
    Py_CLEAR(e->code);
}

static void code_cache_clear(void)
{
    for (int i = 0; i < CODE_SLOTS; i++)
        entry_clear(&code_cache[i]);
    Py_CLEAR(depth_memo);
}

static code_entry *entry_for(PyCodeObject *co)
{
    code_entry *e = &code_cache[((uintptr_t)co >> 4) % CODE_SLOTS];
    if (e->code == co)
        return e;
    PyObject *bytes = PyCode_GetCode(co);
    if (bytes == NULL) {
        PyErr_Clear();
        return NULL;
    }
    entry_clear(e);
    e->code = (PyCodeObject *)Py_NewRef(co);
    e->bytes = bytes;
    return e;
}

static int static_depth(code_entry *e, int offset)
{
    if (e->depths == NULL) {
        if (depth_memo == NULL && (depth_memo = PyDict_New()) == NULL)
            goto fail;
        PyObject *b = PyDict_GetItemWithError(depth_memo, (PyObject *)e->code);
        if (b != NULL) {
            e->depths = Py_NewRef(b);
        } else {
            if (PyErr_Occurred())
                goto fail;
            PyObject *m = PyImport_ImportModule("pydebug._stackdepth");
            b = m ? PyObject_CallMethod(m, "stack_depths", "O", e->code) : NULL;
            Py_XDECREF(m);
            if (b == NULL || !PyBytes_Check(b)) {
                Py_XDECREF(b);
                PyErr_Clear();
                b = PyBytes_FromStringAndSize(NULL, 0);  /* unknown: do not ask again */
                if (b == NULL)
                    goto fail;
            }
            e->depths = b;
            if (PyDict_SetItem(depth_memo, (PyObject *)e->code, b) < 0)
                goto fail;
        }
    }
    if (offset / 2 >= PyBytes_GET_SIZE(e->depths))
        return -1;
    int d = ((const unsigned char *)PyBytes_AS_STRING(e->depths))[offset / 2];
    return d == 255 ? -1 : d;
fail:
    PyErr_Clear();
    return -1;
}

/* The values decode copies a frame's stack into (the interpreter may keep
 * them tagged); the instruction stream runs with the GIL held. */
#define STACK_SHOWN 1024
static PyObject *stack_copy[STACK_SHOWN];

/* Fill ev from the frame running code at offset: the instruction from the
 * code's unspecialised bytes, the stack if the interpreter saved its
 * pointer for us or the compiler's depth is known. */
static void decode(pd_insn *ev, PyCodeObject *co, int offset, pd_iframe *f)
{
    ev->code = co;
    ev->offset = offset;
    ev->opcode = -1;
    ev->oparg = 0;
    ev->depth = -1;
    ev->stack = NULL;
    ev->globals = f ? pd_interp_frame_globals(f) : NULL;
    code_entry *e = entry_for(co);
    if (e == NULL)
        return;
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(e->bytes);
    Py_ssize_t n = PyBytes_GET_SIZE(e->bytes);
    if (offset >= 0 && offset + 1 < n) {
        ev->opcode = b[offset];
        int arg = b[offset + 1], shift = 8;
        for (int o = offset - 2; o >= 0 && b[o] == EXTENDED_ARG_OP; o -= 2, shift += 8)
            arg |= b[o + 1] << shift;
        ev->oparg = arg;
    }
    if (f != NULL && pd_interp_frame_code(f) == co) {
        int depth = pd_interp_saved_depth(f, co);
        if (depth < 0)
            depth = static_depth(e, offset);
        if (depth >= 0 && depth <= co->co_stacksize && depth <= STACK_SHOWN) {
            pd_interp_stack_values(f, co, depth, stack_copy);
            ev->depth = depth;
            ev->stack = stack_copy;
        }
    }
}

int pd_insn_call(const pd_insn *ev, pd_call *out)
{
    int op = ev->opcode, arg = ev->oparg;
    if (op < 0 || ev->depth < 0)
        return 0;
    pd_call_kind kind;
    if (op == pd_op.CALL_FUNCTION_EX)
        kind = PD_CALL_EX;
    else if (op == pd_op.CALL_KW)
        kind = PD_CALL_KW;
    else if (op == (pd_op.PRECALL >= 0 ? pd_op.PRECALL : pd_op.CALL))
        kind = PD_CALL_PLAIN;  /* 3.11 names its callable at PRECALL */
    else
        return 0;
    pd_call_shape sh;
    pd_interp_call_shape(kind, arg, &sh);
    if (ev->depth < sh.pops || ev->depth < sh.marker || ev->depth < sh.callable_null)
        return 0;
    PyObject *const *top = ev->stack + ev->depth;
    int set = top[-sh.marker] != NULL;
    out->callable = top[-(set ? sh.callable_set : sh.callable_null)];
    out->method_form = set && sh.method_form_when_set;
    out->nargs = kind == PD_CALL_EX ? -1 : arg + out->method_form;
    out->pops = sh.pops;
    return out->callable != NULL;
}

/* Dispatch -------------------------------------------------------------------- */

static void dispatch(const pd_insn *ev, uint64_t entered)
{
    if (active & PD_TR_TSC)
        pd_tsc_before(entered);
    if (active & PD_TR_LLTRACE_ALL)
        pd_lltrace_insn(ev, 0);
    else if (active & PD_TR_LLTRACE_MARKED)
        pd_lltrace_insn(ev, 1);
    if (active & PD_TR_CALLS)
        pd_callstats_insn(ev);
    if (active & PD_TR_TSC)
        pd_tsc_after(ev->opcode, entered);
}

static int wants_every_frame(void)
{
    return (active & (PD_TR_LLTRACE_ALL | PD_TR_CALLS | PD_TR_TSC)) != 0;
}

#if !PD_INTERP_HAS_MONITORING
const char *pd_trace_backend(void) { return "C trace function (PyEval_SetTrace, opcode events)"; }

/* Backend: the C trace function (3.11) ----------------------------------------
 * Set on every thread that exists when the stream starts; threads started
 * later get it from threading's settrace hook (a C function that swaps
 * itself for the C trace function on its first call). */

static int is_marked(PyObject *code)
{
    return marked != NULL && PySet_Contains(marked, code) == 1;
}

static int on_trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj, (void)arg;
    pd_iframe *f = pd_interp_frame_of(frame);
    PyCodeObject *co = pd_interp_frame_code(f);
    if (what == PyTrace_CALL) {
        pd_interp_frame_trace(frame, 0, wants_every_frame() ||
                                            ((active & PD_TR_LLTRACE_MARKED) && is_marked((PyObject *)co)));
        if (active & PD_TR_CALLS)
            pd_callstats_frame(co);
        return 0;
    }
    if (what == PyTrace_OPCODE) {
        uint64_t entered = pd_tsc_now();
        pd_insn ev;
        decode(&ev, co, pd_interp_frame_offset(f), f);
        dispatch(&ev, entered);
    }
    return 0;
}

static void set_all_threads(Py_tracefunc fn)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t; t = PyThreadState_Next(t))
        _PyEval_SetTrace(t, fn, NULL);
}

/* threading.settrace(hook): a new thread calls hook at its first event. */
static PyObject *thread_hook(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    (void)self;
    if (active && n == 3 && PyFrame_Check(args[0])) {
        PyEval_SetTrace(on_trace, NULL);
        on_trace(NULL, (PyFrameObject *)args[0], PyTrace_CALL, NULL);
    } else {
        PyEval_SetTrace(NULL, NULL);
    }
    Py_RETURN_NONE;
}

static PyMethodDef thread_hook_def = {"_pydebug_thread_trace", (PyCFunction)(void (*)(void))thread_hook,
                                      METH_FASTCALL, NULL};

static int threading_settrace(int on)
{
    PyObject *th = PyImport_ImportModule("threading");
    PyObject *fn = on ? PyCFunction_New(&thread_hook_def, NULL) : Py_NewRef(Py_None);
    PyObject *r = th && fn ? PyObject_CallMethod(th, "settrace", "O", fn) : NULL;
    Py_XDECREF(fn);
    Py_XDECREF(th);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* A frame already running when the stream starts gets no call event: set
 * its flags now, for every thread's frames. */
static void flag_running_frames(void)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t; t = PyThreadState_Next(t)) {
        for (PyFrameObject *fr = PyThreadState_GetFrame(t); fr != NULL;) {
            PyCodeObject *co = pd_interp_frame_code(pd_interp_frame_of(fr));
            pd_interp_frame_trace(fr, 0, wants_every_frame() ||
                                         ((active & PD_TR_LLTRACE_MARKED) && is_marked((PyObject *)co)));
            PyFrameObject *back = PyFrame_GetBack(fr);
            Py_DECREF(fr);
            fr = back;
        }
    }
}

static int backend_update(unsigned before)
{
    if (active && !before) {
        /* threading first: importing it must not be traced. */
        if (threading_settrace(1) < 0)
            return -1;
        set_all_threads(on_trace);
    } else if (!active && before) {
        set_all_threads(NULL);
        if (threading_settrace(0) < 0)
            return -1;
    }
    if (active)
        flag_running_frames();
    return 0;
}

/* Marked code needs nothing more here: the call event looks it up. */
#define backend_mark(code) 0

#else
/* Backend: sys.monitoring (3.12+) ----------------------------------------------
 * One tool id of our own; its INSTRUCTION callback is a C function.  With
 * a consumer that sees everything, the event is set globally; otherwise
 * only on the marked code objects. */

const char *pd_trace_backend(void) { return "sys.monitoring (INSTRUCTION events, C callback)"; }

static PyObject *mon;        /* sys.monitoring */
static int tool = -1;
static long ev_instruction;

/* RESUME is no INSTRUCTION event, and PY_START/PY_RESUME events would cost
 * every call a second callback: a generator's frame is known to start or
 * resume when an instruction that follows a RESUME (or the RETURN_GENERATOR
 * that opens the code) runs right after an instruction of another frame.
 * A jump to that instruction comes from the same frame. */
static _Thread_local pd_iframe *last_frame;

static int generator_entry(PyCodeObject *co, int offset, pd_iframe *f)
{
    pd_iframe *prev = last_frame;
    last_frame = f;
    if (!(co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)) || offset < 2)
        return 0;
    code_entry *e = entry_for(co);
    if (e == NULL || offset >= PyBytes_GET_SIZE(e->bytes))
        return 0;
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(e->bytes);
    int resume_at = offset - 2 - 2 * resume_caches;
    return b[offset - 2] == pd_op.RETURN_GENERATOR ||
           (resume_at >= 0 && b[resume_at] == pd_op.RESUME && prev != f);
}

static PyObject *on_instruction(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    (void)self;
    uint64_t entered = pd_tsc_now();
    if (n < 2 || !PyCode_Check(args[0]))
        Py_RETURN_NONE;
    PyCodeObject *co = (PyCodeObject *)args[0];
    int offset = (int)PyLong_AsLong(args[1]);
    pd_insn ev;
    pd_iframe *f = pd_interp_current_frame();
    decode(&ev, co, offset, f);
    if ((active & PD_TR_CALLS) && generator_entry(co, offset, f))
        pd_callstats_frame(co);
    dispatch(&ev, entered);
    Py_RETURN_NONE;
}

static PyMethodDef on_instruction_def = {"_pydebug_instruction",
                                         (PyCFunction)(void (*)(void))on_instruction,
                                         METH_FASTCALL, NULL};

static long event_bit(PyObject *events, const char *name)
{
    PyObject *v = PyObject_GetAttrString(events, name);
    long bit = v ? PyLong_AsLong(v) : -1;
    Py_XDECREF(v);
    return bit;
}

static int register_cb(long events, PyMethodDef *def)
{
    PyObject *cb = PyCFunction_New(def, NULL);
    PyObject *r = cb ? PyObject_CallMethod(mon, "register_callback", "ilO", tool, events, cb) : NULL;
    Py_XDECREF(cb);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static int claim_tool(void)
{
    if (tool >= 0)
        return 0;
    PyObject *sys = PyImport_ImportModule("sys");
    mon = sys ? PyObject_GetAttrString(sys, "monitoring") : NULL;
    Py_XDECREF(sys);
    if (mon == NULL)
        return -1;
    PyObject *events = PyObject_GetAttrString(mon, "events");
    if (events == NULL)
        return -1;
    ev_instruction = event_bit(events, "INSTRUCTION");
    Py_DECREF(events);
    if (ev_instruction < 0)
        return -1;
    /* 0-2 and 5 have names (debugger, coverage, profiler, optimizer). */
    static const int candidates[] = {4, 3};
    for (size_t i = 0; i < 2; i++) {
        PyObject *r = PyObject_CallMethod(mon, "use_tool_id", "is", candidates[i], "python-debug");
        if (r != NULL) {
            Py_DECREF(r);
            tool = candidates[i];
            break;
        }
        PyErr_Clear();
    }
    if (tool < 0) {
        PyErr_SetString(PyExc_RuntimeError, "python-debug: no free sys.monitoring tool id (3 and 4 taken)");
        return -1;
    }
    if (register_cb(ev_instruction, &on_instruction_def) < 0)
        return -1;
    return 0;
}

static int set_global(long events)
{
    PyObject *r = PyObject_CallMethod(mon, "set_events", "il", tool, events);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

#ifndef Py_DEBUG
static int set_local(PyObject *code, long events)
{
    PyObject *r = PyObject_CallMethod(mon, "set_local_events", "iOl", tool, code, events);
    Py_XDECREF(r);
    return r ? 0 : -1;
}
#endif

static int backend_update(unsigned before)
{
    (void)before;
    if (active && claim_tool() < 0)
        return -1;
    if (tool < 0)
        return 0;
    return set_global(wants_every_frame() ? ev_instruction : 0);
}

#ifndef Py_DEBUG
static int backend_mark(PyObject *code)
{
    if (claim_tool() < 0)
        return -1;
    return set_local(code, ev_instruction);
}
#endif
#endif

/* Starting and stopping ----------------------------------------------------------- */

int pd_trace_start(unsigned who)
{
    if (load_opcodes() < 0)
        return -1;
    unsigned before = active;
    active |= who;
    if (backend_update(before) < 0) {
        active = before;
        return -1;
    }
    return 0;
}

int pd_trace_stop(unsigned who)
{
    unsigned before = active;
    if ((who & PD_TR_TSC) && (active & PD_TR_TSC))
        pd_tsc_flush();
    active &= ~who;
    int rc = backend_update(before);
    if (!active)
        code_cache_clear();
    return rc;
}

/* __lltrace__ ---------------------------------------------------------------------
 * A debug build traces the frames whose globals hold __lltrace__.  We hear
 * of a module that may set it through the "exec" audit event, raised for
 * every module body run (imports, scripts, -c, -m, exec()): if its code
 * names __lltrace__, it and the code objects nested in it are marked. */

#ifndef Py_DEBUG
static int names_lltrace(PyCodeObject *co)
{
    PyObject *names = co->co_names;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        PyObject *s = PyTuple_GET_ITEM(names, i);
        if (PyUnicode_Check(s) && PyUnicode_CompareWithASCIIString(s, "__lltrace__") == 0)
            return 1;
    }
    return 0;
}

static int mark_tree(PyCodeObject *co)
{
    if (PySet_Add(marked, (PyObject *)co) < 0 || backend_mark((PyObject *)co) < 0)
        return -1;
    PyObject *consts = co->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (PyCode_Check(c) && mark_tree((PyCodeObject *)c) < 0)
            return -1;
    }
    return 0;
}

static int audit_hook(const char *event, PyObject *args, void *data)
{
    (void)data;
    if (strcmp(event, "exec") != 0 || !PyTuple_Check(args) || PyTuple_GET_SIZE(args) < 1)
        return 0;
    PyObject *co = PyTuple_GET_ITEM(args, 0);
    if (!PyCode_Check(co) || !names_lltrace((PyCodeObject *)co))
        return 0;
    if (marked == NULL && (marked = PySet_New(NULL)) == NULL)
        goto fail;
    if (mark_tree((PyCodeObject *)co) < 0 || pd_trace_start(PD_TR_LLTRACE_MARKED) < 0)
        goto fail;
    return 0;
fail:
    /* Never fail the program's exec because of us. */
    PyErr_WriteUnraisable(co);
    return 0;
}
#endif

int pd_trace_init(void)
{
#ifdef Py_DEBUG
    /* A debug build traces __lltrace__ frames itself (to stdout). */
    return 0;
#else
    return PySys_AddAuditHook(audit_hook, NULL);
#endif
}
