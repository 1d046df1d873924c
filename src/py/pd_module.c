/* pd_module.c - the `pydebug` module: the debug allocator seen from
 * Python.  Built into the python-debug host. */
#include <Python.h>

#include "pd_hooks.h"
#include "pd_module.h"

static PyObject *need_allocator(void)
{
    PyErr_SetString(PyExc_RuntimeError,
                    "the python-debug allocator is not active "
                    "(not running under python-debug, or -X malloc=off)");
    return NULL;
}

static PyObject *pd_check_heap_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (!pd_hooks_installed())
        return need_allocator();
    size_t n;
    Py_BEGIN_ALLOW_THREADS
    n = pd_check_heap();
    Py_END_ALLOW_THREADS
    return PyLong_FromSize_t(n);
}

/* Registered with atexit by the host: blocks still in quarantine were never
 * checked after their free, blocks never freed never had their guards
 * checked.  Check them while Python can still describe the sites. */
static PyObject *pd_exit_check_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (pd_hooks_installed())
        pd_check_heap();
    Py_RETURN_NONE;
}

static PyObject *pd_mallocstats_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    pd_hooks_print_stats();
    Py_RETURN_NONE;
}

static PyObject *pd_allocator_stats_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (!pd_hooks_installed())
        return need_allocator();
    pd_stats st;
    pd_get_stats(&st);
    PyObject *doms = PyDict_New();
    if (doms == NULL)
        return NULL;
    for (int d = 0; d < PD_NDOMAINS; d++) {
        const pd_domain_stats *s = &st.dom[d];
        PyObject *v = Py_BuildValue(
            "{sKsKsKsKsKsKsK}", "blocks", (unsigned long long)s->blocks,
            "bytes", (unsigned long long)s->bytes, "peak_bytes", (unsigned long long)s->peak_bytes,
            "allocs", (unsigned long long)s->allocs, "frees", (unsigned long long)s->frees,
            "reallocs", (unsigned long long)s->reallocs,
            "foreign_frees", (unsigned long long)s->foreign_frees);
        if (v == NULL || PyDict_SetItemString(doms, pd_domain_name((pd_domain)d), v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(doms);
            return NULL;
        }
        Py_DECREF(v);
    }
    return Py_BuildValue("{sNsKsKsKsK}", "domains", doms,
                         "quarantine_blocks", (unsigned long long)st.quarantine_blocks,
                         "quarantine_bytes", (unsigned long long)st.quarantine_bytes,
                         "quarantine_limit", (unsigned long long)st.quarantine_limit,
                         "errors", (unsigned long long)st.errors);
}

static PyMethodDef methods[] = {
    {"check_heap", pd_check_heap_py, METH_NOARGS,
     "check_heap() -> int\n\nVerify the guards of every live block and the fill of every "
     "quarantined one now; report all damage; return the number of damaged blocks."},
    {"_exit_check", pd_exit_check_py, METH_NOARGS, "Check the heap (run at exit)."},
    {"mallocstats", pd_mallocstats_py, METH_NOARGS,
     "mallocstats()\n\nPrint pymalloc's statistics and the debug allocator's own to stderr."},
    {"allocator_stats", pd_allocator_stats_py, METH_NOARGS,
     "allocator_stats() -> dict\n\nThe debug allocator's counters as a dict."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "pydebug",
    "python-debug: a debug allocator and debug-build facilities for any CPython.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyObject *pd_module_init(void)
{
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "active", pd_hooks_installed()) < 0 ||
        PyModule_AddIntConstant(m, "GUARD_BYTES", PD_GUARD) < 0 ||
        PyModule_AddIntConstant(m, "FILL_FRESH", PD_FILL_FRESH) < 0 ||
        PyModule_AddIntConstant(m, "FILL_FREED", PD_FILL_FREED) < 0 ||
        PyModule_AddIntConstant(m, "FILL_GUARD", PD_FILL_GUARD) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
