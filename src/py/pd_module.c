/* pd_module.c - the `_pydebug` module: the debug allocator and object
 * accounting seen from Python.  Built into the python-debug host; the
 * `pydebug` package (src/python/pydebug) re-exports it beside the parts
 * written in Python. */
#include <Python.h>

#include "pd_compat.h"
#include "pd_configmod.h"
#include "pd_foreign.h"
#include "pd_hooks.h"
#include "../core/pd_guard.h"
#include "../core/pd_sys.h"
#include "pd_module.h"
#include "pd_objcount.h"
#include "pd_objects.h"
#include "pd_trace.h"
#include "pd_tracemod.h"

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
    if (!pd_hooks_guarding())
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

static PyObject *pd_others_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (!pd_hooks_installed())
        return need_allocator();
    return PyLong_FromUnsignedLongLong(pd_core_others(pd_sys_tid()));
}

static PyObject *pd_step_aside_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (!pd_hooks_installed())
        return need_allocator();
    pd_hooks_step_aside();
    Py_RETURN_NONE;
}

/* Adopt first, then step in: an object made in between would be ours. */
static PyObject *pd_step_in_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (!pd_hooks_installed())
        return need_allocator();
    if (!pd_hooks_aside())
        return PyLong_FromSize_t(0);
    size_t n = pd_objects_adopt_foreign();
    pd_hooks_step_in();
    return PyLong_FromSize_t(n);
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
    return Py_BuildValue("{sNsOsKsKsKsKsn}", "domains", doms,
                         "aside", pd_hooks_aside() ? Py_True : Py_False,
                         "quarantine_blocks", (unsigned long long)st.quarantine_blocks,
                         "quarantine_bytes", (unsigned long long)st.quarantine_bytes,
                         "quarantine_limit", (unsigned long long)st.quarantine_limit,
                         "errors", (unsigned long long)st.errors,
                         "adopted_objects", (Py_ssize_t)pd_foreign_count());
}

/* Object accounting (pd_objects.h, pd_objcount.h) ----------------------- */

static PyObject *need_objects(void)
{
    PyErr_SetString(PyExc_RuntimeError,
                    "object accounting needs the python-debug allocator "
                    "(run under python-debug with -X malloc=on or -X malloc=objects)");
    return NULL;
}

static PyObject *pd_gettotalrefcount_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (!pd_objects_available())
        return need_objects();
    Py_ssize_t refs, count;
    pd_objects_total(&refs, &count);
    return PyLong_FromSsize_t(refs);
}

static PyObject *pd_getobjects_py(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"limit", "type", NULL};
    Py_ssize_t limit = 0;
    PyObject *type = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|nO:getobjects", kwlist, &limit, &type))
        return NULL;
    if (type != Py_None && !PyType_Check(type)) {
        PyErr_Format(PyExc_TypeError, "getobjects: type must be a type or None, not %.100s",
                     Py_TYPE(type)->tp_name);
        return NULL;
    }
    if (limit < 0) {
        PyErr_SetString(PyExc_ValueError, "getobjects: limit must be >= 0");
        return NULL;
    }
    if (!pd_objects_available())
        return need_objects();
    return pd_objects_list(limit, type == Py_None ? NULL : (PyTypeObject *)type, 0);
}

static PyObject *pd_mark_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    return PyLong_FromUnsignedLongLong(pd_objects_mark());
}

static PyObject *pd_objects_since_py(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned long long since = PyLong_AsUnsignedLongLong(arg);
    if (since == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (!pd_objects_available())
        return need_objects();
    return pd_objects_list(0, NULL, since);
}

static PyObject *pd_referrers_py(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *targets, *ignore, *tracked;
    if (!PyArg_ParseTuple(args, "O!O!O!:_referrers", &PyList_Type, &targets, &PyTuple_Type,
                          &ignore, &PyList_Type, &tracked))
        return NULL;
    if (!pd_objects_available())
        return need_objects();
    return pd_objects_referrers(targets, ignore, tracked);
}

static PyObject *pd_addresses_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (!pd_objects_available())
        return need_objects();
    return pd_objects_addresses();
}

/* CPython keeps an interned string it made immortal for the rest of the
 * process, by design (3.12 does so for every string sys.intern() is given):
 * the leak hunter does not count one a run leaves as that run's leak.  The
 * state is a public field of every version's string header. */
static PyObject *pd_interned_forever_py(PyObject *self, PyObject *obj)
{
    (void)self;
    return PyBool_FromLong(PyUnicode_CheckExact(obj) &&
                           PyUnicode_CHECK_INTERNED(obj) >= SSTATE_INTERNED_IMMORTAL);
}

static PyObject *pd_serial_py(PyObject *self, PyObject *obj)
{
    (void)self;
    return PyLong_FromUnsignedLongLong(pd_hooks_installed() ? pd_serial_of(obj) : 0);
}

static PyObject *pd_allocation_site_py(PyObject *self, PyObject *obj)
{
    (void)self;
    return pd_objects_site(obj);
}

static PyObject *pd_births_py(PyObject *self, PyObject *on)
{
    (void)self;
    int v = PyObject_IsTrue(on);
    if (v < 0)
        return NULL;
    return PyBool_FromLong(pd_objcount_births(v));
}

static PyObject *pd_getcounts_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (pd_objcount_start() < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "per-type counts need the python-debug allocator on this interpreter "
                        "(-X malloc=on); -X malloc=objects has them only where the reference "
                        "tracer is exact (CPython 3.13.3+)");
        return NULL;
    }
    return pd_objcount_list();
}

static PyObject *pd_accounting_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    static const char *const names[] = {NULL, "tracer", "allocator"};
    pd_count_backend b = pd_objcount_backend();
    return Py_BuildValue("{sssssO}", "objects",
                         pd_hooks_installed() ? "debug allocator"
                         : pd_objects_available() ? "pymalloc walk" : "unavailable",
                         "counts", b == PD_COUNTS_OFF ? "off" : names[b],
                         "counts_exact", pd_objcount_exact() ? Py_True : Py_False);
}

static PyObject *pd_allocatedblocks_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    pd_stats st;
    pd_get_stats(&st);
    return PyLong_FromUnsignedLongLong(st.dom[PD_MEM].blocks + st.dom[PD_OBJ].blocks);
}

static PyObject *pd_guard_scope_py(PyObject *self, PyObject *on)
{
    (void)self;
    if (!pd_hooks_guarding()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "pydebug.guarded() needs the python-debug allocator, or -X guard with "
                        "-X malloc=off");
        return NULL;
    }
    int enter = PyObject_IsTrue(on);
    if (enter < 0)
        return NULL;
    if (enter)
        pd_guard_scope_enter();
    else
        pd_guard_scope_exit();
    Py_RETURN_NONE;
}

static PyObject *pd_guard_stats_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    pd_stats st;
    pd_get_stats(&st);
    return Py_BuildValue("{sKsKsKsKsKsK}", "slots", (unsigned long long)st.guard_slots,
                         "live", (unsigned long long)st.guard_live,
                         "freed", (unsigned long long)st.guard_freed,
                         "guarded", (unsigned long long)st.guard_guarded,
                         "no_room", (unsigned long long)st.guard_fallbacks,
                         "opened", (unsigned long long)st.guard_retired);
}

static PyObject *pd_exit_report_py(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    pd_compat_exit_report();
    Py_RETURN_NONE;
}

int pd_atexit_register(PyObject *module, const char *attr)
{
    PyObject *f = PyObject_GetAttrString(module, attr);
    PyObject *ax = f ? PyImport_ImportModule("atexit") : NULL;
    PyObject *r = ax ? PyObject_CallMethod(ax, "register", "O", f) : NULL;
    Py_XDECREF(ax);
    Py_XDECREF(f);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static PyMethodDef methods[] = {
    {"check_heap", pd_check_heap_py, METH_NOARGS,
     "check_heap() -> int\n\nVerify the guards of every live block and the fill of every "
     "quarantined one now; report all damage; return the number of damaged blocks."},
    {"_exit_check", pd_exit_check_py, METH_NOARGS, "Check the heap (run at exit)."},
    {"mallocstats", pd_mallocstats_py, METH_NOARGS,
     "mallocstats()\n\nPrint pymalloc's statistics and the debug allocator's own to stderr."},
    {"_others", pd_others_py, METH_NOARGS,
     "_others() -> int\n\nMem and object blocks that threads other than the calling one "
     "allocated and freed so far (the calling thread is the one watched from now on): two "
     "calls from one thread say whether another touched the heap in between."},
    {"_step_aside", pd_step_aside_py, METH_NOARGS,
     "_step_aside()\n\nNew blocks from the interpreter's own allocators from now on (a "
     "process that runs nothing to check: pytest-xdist's controller); ours stay checked."},
    {"_step_in", pd_step_in_py, METH_NOARGS,
     "_step_in() -> int\n\nAfter _step_aside(): new blocks are ours again.  The objects the "
     "interpreter's allocator holds are adopted first, so that object accounting still counts "
     "them; returns how many (0 when not aside).  Run gc.collect() before, to empty CPython's "
     "free lists."},
    {"allocator_stats", pd_allocator_stats_py, METH_NOARGS,
     "allocator_stats() -> dict\n\nThe debug allocator's counters as a dict."},
    {"gettotalrefcount", pd_gettotalrefcount_py, METH_NOARGS,
     "gettotalrefcount() -> int\n\nThe references held to live heap objects (mortal ones; "
     "before 3.12 also the static singletons), as sys.gettotalrefcount() in a debug build."},
    {"getobjects", (PyCFunction)(void (*)(void))pd_getobjects_py, METH_VARARGS | METH_KEYWORDS,
     "getobjects(limit=0, type=None) -> list\n\nLive heap objects, newest first: at most "
     "limit (0: all), only those whose type is exactly type; as sys.getobjects()."},
    {"getcounts", pd_getcounts_py, METH_NOARGS,
     "getcounts() -> list\n\n[(type name, allocations, frees, most alive at once), ...] "
     "as sys.getcounts() under COUNT_ALLOCS.  Counting starts at the first call "
     "(or at start with -X countallocs / -X sys-compat)."},
    {"_mark", pd_mark_py, METH_NOARGS,
     "_mark() -> int\n\nA serial: objects allocated from now on have serials at or above it "
     "(0 without the debug allocator)."},
    {"_objects_since", pd_objects_since_py, METH_O,
     "_objects_since(mark) -> list\n\nLive objects allocated at or after mark, newest first."},
    {"_referrers", pd_referrers_py, METH_VARARGS,
     "_referrers(targets, ignore, gc_objects) -> list\n\nFor each target: (references it has, "
     "references found from containers and running frames, a few of the containers holding "
     "it)."},
    {"_addresses", pd_addresses_py, METH_NOARGS,
     "_addresses() -> bytes\n\nThe addresses of the live objects, sorted, as native words."},
    {"_interned_forever", pd_interned_forever_py, METH_O,
     "_interned_forever(obj) -> bool\n\nWhether obj is a string CPython interned and made "
     "immortal: kept until the process ends."},
    {"_serial", pd_serial_py, METH_O,
     "_serial(obj) -> int\n\nThe serial number of obj's block (0: unknown)."},
    {"allocation_site", pd_allocation_site_py, METH_O,
     "allocation_site(obj) -> str or None\n\nWhere obj's block was allocated: the C caller "
     "and the Python line (and full stacks under -X stacks=N), as in reports."},
    {"_births", pd_births_py, METH_O,
     "_births(on) -> bool\n\nRecord where objects of free-list types are born (the reference "
     "tracer), while on; whether they are recorded."},
    {"accounting", pd_accounting_py, METH_NOARGS,
     "accounting() -> dict\n\nWhere the object figures come from on this interpreter."},
    {"_allocatedblocks", pd_allocatedblocks_py, METH_NOARGS,
     "Live blocks of the mem and object domains (sys.getallocatedblocks under -X sys-compat)."},
    {"_guard_scope", pd_guard_scope_py, METH_O,
     "_guard_scope(on)\n\nEnter (True) or leave (False) a scope in which every allocation "
     "this thread makes goes to a guarded slot (pydebug.guarded() uses it)."},
    {"guard_stats", pd_guard_stats_py, METH_NOARGS,
     "guard_stats() -> dict\n\nThe guarded pool: slots, live, freed (still inaccessible), "
     "blocks guarded so far, sampled allocations that found no room, slots opened after a "
     "fault."},
    {"_exit_report", pd_exit_report_py, METH_NOARGS, "Print what -X showrefcount, "
     "dumprefs and countallocs ask for (run at exit)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_pydebug",
    "python-debug: a debug allocator and debug-build facilities for any CPython.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyObject *pd_module_init(void)
{
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    if (PyModule_AddFunctions(m, pd_trace_methods) < 0 ||
        PyModule_AddFunctions(m, pd_config_methods) < 0 ||
        PyModule_AddIntConstant(m, "active", pd_hooks_installed()) < 0 ||
        PyModule_AddStringConstant(m, "TRACE_BACKEND", pd_trace_backend()) < 0 ||
        PyModule_AddIntConstant(m, "GUARD_BYTES", PD_GUARD) < 0 ||
        PyModule_AddIntConstant(m, "FILL_FRESH", PD_FILL_FRESH) < 0 ||
        PyModule_AddIntConstant(m, "FILL_FREED", PD_FILL_FREED) < 0 ||
        PyModule_AddIntConstant(m, "FILL_GUARD", PD_FILL_GUARD) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
