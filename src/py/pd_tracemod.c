/* pd_tracemod.c - LLTRACE, CALL_PROFILE and WITH_TSC seen from Python
 * (methods of _pydebug) and from the command line (-X lltrace, -X
 * callstats, -X tscdump[=summary]). */
#include <Python.h>

#include <string.h>

#include "pd_hooks.h"
#include "pd_module.h"
#include "pd_trace.h"
#include "pd_tracemod.h"
#include "pd_tracers.h"
#include "../core/pd_tsc.h"

static PyObject *lltrace_py(PyObject *self, PyObject *flag)
{
    (void)self;
    int on = PyObject_IsTrue(flag);
    if (on < 0)
        return NULL;
    if ((on ? pd_trace_start(PD_TR_LLTRACE_ALL) : pd_trace_stop(PD_TR_LLTRACE_ALL)) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *callstats_tuple(void)
{
    uint64_t c[PD_PCALL_N];
    pd_callstats_get(c);
    PyObject *t = PyTuple_New(PD_PCALL_N);
    for (int i = 0; t && i < PD_PCALL_N; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(c[i]);
        if (v == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

static PyObject *callstats_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (!(pd_trace_active() & PD_TR_CALLS) && pd_trace_start(PD_TR_CALLS) < 0)
        return NULL;
    return callstats_tuple();
}

static PyObject *settscdump_py(PyObject *self, PyObject *flag)
{
    (void)self;
    int on, lines;
    if (PyUnicode_Check(flag) && PyUnicode_CompareWithASCIIString(flag, "summary") == 0) {
        on = 1, lines = 0;
    } else {
        if ((on = PyObject_IsTrue(flag)) < 0)
            return NULL;
        lines = on;
    }
    if (!on) {
        if (pd_trace_stop(PD_TR_TSC) < 0)
            return NULL;
        pd_tsc_set_dump(0);
        Py_RETURN_NONE;
    }
    pd_tsc_set_dump(lines);
    if (pd_trace_start(PD_TR_TSC) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int put_u64(PyObject *d, const char *k, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    int rc = o ? PyDict_SetItemString(d, k, o) : -1;
    Py_XDECREF(o);
    return rc;
}

static PyObject *tscstats_py(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"reset", NULL};
    int reset = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:tscstats", kwlist, &reset))
        return NULL;
    PyObject *out = PyDict_New();
    for (int op = 0; out && op < PD_TSC_OPCODES; op++) {
        pd_tsc_row r;
        pd_tsc_get(op, &r);
        if (r.count == 0)
            continue;
        PyObject *row = PyDict_New();
        PyObject *mean = row ? PyFloat_FromDouble((double)r.total / (double)r.count) : NULL;
        if (mean == NULL || put_u64(row, "opcode", (uint64_t)op) < 0 ||
            put_u64(row, "count", r.count) < 0 || put_u64(row, "total", r.total) < 0 ||
            PyDict_SetItemString(row, "mean", mean) < 0 || put_u64(row, "median", r.p50) < 0 ||
            put_u64(row, "p99", r.p99) < 0 || put_u64(row, "max", r.max) < 0 ||
            PyDict_SetItemString(out, pd_opname(op), row) < 0)
            Py_CLEAR(out);
        Py_XDECREF(mean);
        Py_XDECREF(row);
    }
    if (out && reset)
        pd_tsc_reset();
    return out;
}

static PyObject *tscprint_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    pd_tsc_print_summary(stderr);
    Py_RETURN_NONE;
}

/* Registered with atexit when an option asked for tracing: stop the
 * stream before the other exit reports, then print what was asked. */
static PyObject *trace_exit_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    const pd_config *cfg = pd_hooks_config();
    if (pd_trace_active() && pd_trace_stop(pd_trace_active()) < 0)
        PyErr_Clear();
    if (cfg->callstats) {
        PyObject *t = callstats_tuple();
        if (t != NULL) {
            PyObject *s = PyObject_Repr(t);
            if (s != NULL)
                fprintf(stderr, "python-debug callstats: %s\n", PyUnicode_AsUTF8(s));
            Py_XDECREF(s);
            Py_DECREF(t);
        }
        PyErr_Clear();
    }
    if (cfg->tscdump == PD_TSCDUMP_SUMMARY)
        pd_tsc_print_summary(stderr);
    Py_RETURN_NONE;
}

PyMethodDef pd_trace_methods[] = {
    {"lltrace", lltrace_py, METH_O,
     "lltrace(flag)\n\nTrace every instruction of every frame to stderr (True) or stop (False); "
     "what -X lltrace does from the start.  Frames of a module whose globals hold a true "
     "__lltrace__ are traced without it."},
    {"callstats", callstats_py, METH_NOARGS,
     "callstats() -> tuple\n\nCALL_PROFILE's 11 counters (see the README for each slot).  "
     "Counting starts at the first call, or at start with -X callstats."},
    {"settscdump", settscdump_py, METH_O,
     "settscdump(flag)\n\nTrue: time every instruction with the CPU's time-stamp counter and "
     "write 'opcode=N t=X inst=N loop=N' per instruction to stderr; 'summary': time without "
     "the lines; False: stop.  pydebug.tscstats() has the aggregate."},
    {"tscstats", (PyCFunction)(void (*)(void))tscstats_py, METH_VARARGS | METH_KEYWORDS,
     "tscstats(reset=False) -> dict\n\nPer opcode name: count, total, mean, median, p99 and max "
     "time (cycles) of the instructions timed so far; reset=True starts over after reading."},
    {"tscsummary", tscprint_py, METH_NOARGS,
     "tscsummary()\n\nPrint the per-opcode table (what -X tscdump=summary prints at exit)."},
    {"_trace_exit", trace_exit_py, METH_NOARGS, "Stop tracing and print what was asked (at exit)."},
    {NULL, NULL, 0, NULL},
};

int pd_tracemod_start(PyObject *module)
{
    const pd_config *cfg = pd_hooks_config();
    if (pd_trace_init() < 0)
        return -1;
    unsigned who = (cfg->lltrace ? PD_TR_LLTRACE_ALL : 0) | (cfg->callstats ? PD_TR_CALLS : 0) |
                   (cfg->tscdump ? PD_TR_TSC : 0);
    if (who == 0)
        return 0;
    pd_tsc_set_dump(cfg->tscdump == PD_TSCDUMP_LINES);
    if (pd_atexit_register(module, "_trace_exit") < 0)
        return -1;
    return pd_trace_start(who);
}
