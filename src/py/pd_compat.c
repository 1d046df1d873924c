/* pd_compat.c - see pd_compat.h. */
#include <Python.h>

#include <stdio.h>

#include "pd_compat.h"
#include "pd_module.h"
#include "pd_hooks.h"
#include "pd_objcount.h"
#include "pd_objects.h"
#include "pd_pymwalk.h"

static int native_refcount; /* the interpreter prints [N refs] itself */
static int show_refs, dump_refs, count_allocs;

/* "[N refs, M blocks]": references as gettotalrefcount() counts them,
 * blocks as the live blocks of the mem and object domains (what pymalloc
 * counts in a debug build). */
static void print_refs(void)
{
    if (!pd_objects_available())
        return;
    Py_ssize_t refs, count;
    pd_objects_total(&refs, &count);
    unsigned long long blocks = 0;
    if (!pd_hooks_installed()) {
        /* pymalloc's own count */
        PyObject *f = PySys_GetObject("getallocatedblocks");
        PyObject *r = f ? PyObject_CallNoArgs(f) : NULL;
        blocks = r ? PyLong_AsUnsignedLongLong(r) : 0;
        Py_XDECREF(r);
        PyErr_Clear();
    } else {
        pd_stats st;
        pd_get_stats(&st);
        blocks = st.dom[PD_MEM].blocks + st.dom[PD_OBJ].blocks;
    }
    fprintf(stderr, "[%zd refs, %llu blocks]\n", refs, blocks);
    fflush(stderr);
}

void pd_compat_exit_report(void)
{
    if (show_refs)
        print_refs();
    if (dump_refs && pd_objects_available())
        pd_objects_dump(stderr);
    if (count_allocs && pd_objcount_backend() != PD_COUNTS_OFF)
        pd_objcount_print(stderr);
}

/* The interactive prompt: str(sys.ps1) is taken before each prompt, that
 * is after each command, which is when a debug build prints the total. */
typedef struct {
    PyObject_HEAD
    PyObject *prompt;
} refprompt;

static PyObject *refprompt_str(PyObject *self)
{
    print_refs();
    return PyObject_Str(((refprompt *)self)->prompt);
}

static void refprompt_dealloc(PyObject *self)
{
    Py_XDECREF(((refprompt *)self)->prompt);
    PyObject_Free(self);
}

static PyTypeObject refprompt_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pydebug.RefPrompt",
    .tp_basicsize = sizeof(refprompt),
    .tp_dealloc = refprompt_dealloc,
    .tp_str = refprompt_str,
    .tp_repr = refprompt_str,
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

static PyObject *site_hook; /* sys.__interactivehook__ before ours */

static PyObject *interactive_hook(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    if (site_hook != NULL) {
        PyObject *r = PyObject_CallNoArgs(site_hook);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    PyObject *ps1 = PySys_GetObject("ps1");
    refprompt *p = PyObject_New(refprompt, &refprompt_type);
    if (p == NULL)
        return NULL;
    p->prompt = ps1 ? Py_NewRef(ps1) : PyUnicode_FromString(">>> ");
    int rc = p->prompt ? PySys_SetObject("ps1", (PyObject *)p) : -1;
    if (rc == 0 && PySys_GetObject("ps2") == NULL)
        rc = PySys_SetObject("ps2", PyUnicode_FromString("... "));
    Py_DECREF(p);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef interactive_hook_def = {
    "_interactive_hook", interactive_hook, METH_NOARGS, "Show the total before each prompt."};

static int install_interactive_hook(void)
{
    if (PyType_Ready(&refprompt_type) < 0)
        return -1;
    site_hook = PySys_GetObject("__interactivehook__");
    Py_XINCREF(site_hook);
    PyObject *f = PyCFunction_New(&interactive_hook_def, NULL);
    int rc = f ? PySys_SetObject("__interactivehook__", f) : -1;
    Py_XDECREF(f);
    return rc;
}

/* sys.name = module.attr, unless the interpreter has its own. */
static int set_sys(PyObject *module, const char *name, const char *attr, int replace)
{
    if (!replace && PySys_GetObject(name) != NULL)
        return 0;
    PyObject *f = PyObject_GetAttrString(module, attr);
    int rc = f ? PySys_SetObject(name, f) : -1;
    Py_XDECREF(f);
    return rc;
}

/* sys._debugmallocstats(): with our allocator pymalloc holds nothing and
 * prints nothing, so the statistics are our heap's, in pymalloc's shape
 * (pd_hooks_print_stats), then the interpreter's own function for the
 * rest (the free lists).  test_sys checks for pymalloc's header. */
static PyObject *sys_debugmallocstats;

static PyObject *debugmallocstats(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    pd_hooks_print_stats();
    fputc('\n', stderr);
    return PyObject_CallNoArgs(sys_debugmallocstats);
}

static PyMethodDef debugmallocstats_def = {
    "_debugmallocstats", debugmallocstats, METH_NOARGS,
    "Print the python-debug heap's statistics (in pymalloc's shape), then the "
    "interpreter's own (free lists) to stderr."};

static int replace_debugmallocstats(void)
{
    sys_debugmallocstats = PySys_GetObject("_debugmallocstats");
    if (sys_debugmallocstats == NULL)
        return 0;
    Py_INCREF(sys_debugmallocstats);
    PyObject *f = PyCFunction_New(&debugmallocstats_def, NULL);
    int rc = f ? PySys_SetObject("_debugmallocstats", f) : -1;
    Py_XDECREF(f);
    return rc;
}

static int install_sys_compat(PyObject *module)
{
    if (set_sys(module, "gettotalrefcount", "gettotalrefcount", 0) < 0 ||
        set_sys(module, "getobjects", "getobjects", 0) < 0 ||
        set_sys(module, "getcounts", "getcounts", 0) < 0 ||
        PySys_SetObject("pydebug", Py_True) < 0)
        return -1;
    return 0;
}

int pd_compat_start(PyObject *module)
{
    const pd_config *cfg = pd_hooks_config();
    if (pd_pym_active())
        pd_pym_selftest();
    native_refcount = PySys_GetObject("gettotalrefcount") != NULL;
    show_refs = cfg->showrefcount && !native_refcount;
    dump_refs = cfg->dumprefs;
    count_allocs = cfg->countallocs;
    if ((show_refs || dump_refs || cfg->sys_compat) && !pd_objects_available())
        fprintf(stderr, "python-debug: -X showrefcount, dumprefs and sys-compat need "
                        "-X malloc=on or -X malloc=objects; ignored\n");
    if (cfg->countallocs && pd_objcount_start() < 0)
        fprintf(stderr, "python-debug: -X countallocs: per-type counts need the debug "
                        "allocator on this interpreter (-X malloc=on); ignored\n");
    if (cfg->sys_compat && !cfg->countallocs)
        pd_objcount_start(); /* sys.getcounts() counts from the start, if it can */
    if (cfg->sys_compat && pd_objects_available() && install_sys_compat(module) < 0)
        return -1;
    /* With our allocator pymalloc holds no block, and sys.getallocatedblocks()
     * would answer 0 where python answers thousands (test_sys checks it):
     * count ours instead, always; regrtest -R sees block leaks by it too. */
    if (pd_hooks_installed() && (set_sys(module, "getallocatedblocks", "_allocatedblocks", 1) < 0 ||
                                 replace_debugmallocstats() < 0))
        return -1;
    /* CALL_PROFILE's and WITH_TSC's sys functions need no object accounting. */
    if (cfg->sys_compat && (set_sys(module, "callstats", "callstats", 0) < 0 ||
                            set_sys(module, "settscdump", "settscdump", 0) < 0))
        return -1;
    if (show_refs && install_interactive_hook() < 0)
        return -1;
    if ((show_refs || dump_refs || count_allocs) && pd_atexit_register(module, "_exit_report") < 0)
        return -1;
    return 0;
}
