/* host.c - the python-debug host: an embedding program that behaves like
 * `python` (it hands its argv to Py_RunMain) but installs the debug
 * allocator between pre-initialization and initialization, so the
 * interpreter's first object is already ours.  Built once per interpreter
 * by the python-debug front end (front.c). */
#define _GNU_SOURCE
#include <Python.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../py/interp/pd_interp.h"
#include "../py/pd_compat.h"
#include "../py/pd_crash.h"
#include "../py/pd_follow.h"
#include "../py/pd_freedobj.h"
#include "../py/pd_hooks.h"
#include "../py/pd_module.h"
#include "../py/pd_tracemod.h"

/* Exit status when errors were reported under -X on_error=continue and the
 * program itself would have exited 0. */
#define PD_EXIT_ERRORS 66

/* Extension modules come in through dlopen; the stack scan must know their
 * code ranges.  The host exports dlopen/dlclose, so libpython's calls land
 * here first. */
void *dlopen(const char *file, int mode)
{
    static void *(*real)(const char *, int);
    if (real == NULL)
        real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    void *h = real(file, mode);
    if (h != NULL)
        pd_hooks_modules_changed();
    return h;
}

int dlclose(void *handle)
{
    static int (*real)(void *);
    if (real == NULL)
        real = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
    int rc = real(handle);
    pd_hooks_modules_changed();
    return rc;
}

/* The pydebug package (Python parts: the pytest plugin, leak checks): the
 * interpreter's own when it has python-debug installed, else the front
 * end's (PYDEBUG_PYDIR), last on sys.path so nothing of the program's is
 * shadowed. */
static int add_package_path(const char *pydir)
{
    PyObject *path = PySys_GetObject("path");
    if (path == NULL || pydir == NULL || !*pydir)
        return 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(path); i++) {
        const char *entry = PyUnicode_Check(PyList_GET_ITEM(path, i))
                                ? PyUnicode_AsUTF8(PyList_GET_ITEM(path, i)) : NULL;
        char init[4096];
        if (entry && snprintf(init, sizeof init, "%s/pydebug/__init__.py", entry) < (int)sizeof init &&
            access(init, F_OK) == 0)
            return 0;
        PyErr_Clear();
    }
    PyObject *dir = PyUnicode_FromString(pydir);
    int rc = dir ? PyList_Append(path, dir) : -1;
    Py_XDECREF(dir);
    if (rc < 0)
        PyErr_Print();
    return rc;
}

/* What the front end tells us, taken out of the environment so the
 * program's children do not inherit it. */
static char *take_env(const char *name)
{
    const char *v = getenv(name);
    char *copy = v ? strdup(v) : NULL;
    unsetenv(name);
    return copy;
}

/* `python-debug -m pytest ... --leaks ...` (or the pytest script): the leak
 * hunter's run.  Its start-up - importing pytest and its plugins, which
 * made 110,000 objects here - needs no checking: it runs aside, and the
 * plugin (pydebug/pytest.py) steps in at the first test, or at once when
 * --leaks turns out not to be on.  Only the command line is read: --leaks
 * given in PYTEST_ADDOPTS or a configuration file steps aside later, when
 * pytest configures. */
static int is_pytest(const char *name, int script)
{
    if (script) {
        const char *slash = strrchr(name, '/');
        name = slash ? slash + 1 : name;
    }
    return !strcmp(name, "pytest") || !strcmp(name, "py.test");
}

static int leak_hunt(int argc, char **argv)
{
    int i = 1, pytest = 0;
    for (; i < argc && !pytest; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !strcmp(a, "-")) {
            pytest = is_pytest(a, 1);
            break;
        }
        if (!strcmp(a, "--"))
            return 0;
        if (a[1] == '-') {
            i += !strcmp(a, "--check-hash-based-pycs");
            continue;
        }
        for (int j = 1; a[j]; j++) {
            if (a[j] == 'c')
                return 0;
            if (a[j] == 'm') {
                const char *mod = a[j + 1] ? a + j + 1 : i + 1 < argc ? argv[++i] : "";
                pytest = is_pytest(mod, 0);
                if (!pytest)
                    return 0;
                break;
            }
            if (a[j] == 'X' || a[j] == 'W') {
                i += !a[j + 1];
                break;
            }
        }
    }
    for (; pytest && i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--leaks") || !strncmp(argv[i], "--leaks=", 8))
            return 1;
    return 0;
}

/* atexit.register(_pydebug._exit_check): registered first, so it runs after
 * the program's own exit handlers. */
static int register_exit_check(void)
{
    PyObject *m = PyImport_ImportModule("_pydebug");
    int rc = m ? pd_atexit_register(m, "_exit_check") : -1;
    if (rc < 0)
        PyErr_Print();
    Py_XDECREF(m);
    return rc;
}

/* The debug build's object facilities (-X sys-compat, showrefcount, ...)
 * and interpreter tracing (-X lltrace, callstats, tscdump, __lltrace__);
 * their exit reports register after the exit check, so they run before. */
static int start_compat(void)
{
    PyObject *m = PyImport_ImportModule("_pydebug");
    int rc = m ? pd_compat_start(m) : -1;
    if (rc == 0)
        rc = pd_tracemod_start(m);
    if (rc < 0)
        PyErr_Print();
    Py_XDECREF(m);
    return rc;
}

static void set_string(PyConfig *c, wchar_t **field, const char *value)
{
    PyStatus st = PyConfig_SetBytesString(c, field, value);
    if (PyStatus_Exception(st))
        Py_ExitStatusException(st);
}

int main(int argc, char **argv)
{
    pd_config cfg;
    if (pd_config_parse(&cfg, argc, argv) < 0)
        return 2;

    PyPreConfig pre;
    PyPreConfig_InitPythonConfig(&pre);
    PyStatus st = Py_PreInitializeFromBytesArgs(&pre, argc, argv);
    if (PyStatus_Exception(st))
        Py_ExitStatusException(st);

    pd_hooks_install(&cfg);
    /* The leak hunter's run and its xdist workers start aside (see
     * leak_hunt).  The workers' mark is taken out, so their children start
     * checked. */
    char *aside = take_env("PYDEBUG_ASIDE");
    if ((aside != NULL && !strcmp(aside, "1")) || leak_hunt(argc, argv))
        pd_hooks_step_aside();
    free(aside);
    if (cfg.crash)
        pd_crash_install();
    if (PyImport_AppendInittab("_pydebug", pd_module_init) < 0)
        return 2;

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    st = PyConfig_SetBytesArgv(&config, argc, argv);
    if (PyStatus_Exception(st))
        Py_ExitStatusException(st);
    /* Be the interpreter we stand for: its prefix, its site-packages (or
     * its venv), its sys.executable for subprocesses. */
    char *exe = take_env("PYDEBUG_EXECUTABLE");
    char *pydir = take_env("PYDEBUG_PYDIR");
    char *launcher = take_env("PYDEBUG_LAUNCHER");
    char *child_argv0 = take_env("PYDEBUG_CHILD_ARGV0");
    char *child_added = take_env("PYDEBUG_CHILD_ADDED");
    /* A child that follows: sys.orig_argv is its command line as it was
     * given, without the options we passed on. */
    int added = child_added ? atoi(child_added) : 0;
    if (child_argv0 != NULL && added >= 0 && 1 + added <= argc) {
        wchar_t *w = Py_DecodeLocale(child_argv0, NULL);
        st = w ? PyWideStringList_Append(&config.orig_argv, w) : PyStatus_NoMemory();
        PyMem_RawFree(w);
        for (int i = 1 + added; i < argc && !PyStatus_Exception(st); i++) {
            w = Py_DecodeLocale(argv[i], NULL);
            st = w ? PyWideStringList_Append(&config.orig_argv, w) : PyStatus_NoMemory();
            PyMem_RawFree(w);
        }
        if (PyStatus_Exception(st))
            Py_ExitStatusException(st);
    }
    free(child_argv0);
    free(child_added);
    if (exe != NULL && *exe) {
        set_string(&config, &config.executable, exe);
        set_string(&config, &config.program_name, exe);
    }
    /* Before the interpreter copies the environment into os.environ.
     * Run without the front end (by hand), children cannot follow. */
    if (pd_follow_start(cfg.follow && launcher && exe, launcher, exe, cfg.xopts, cfg.nxopts) < 0)
        fprintf(stderr, "python-debug: children will not follow: %s is not a file\n", exe);
    st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st))
        Py_ExitStatusException(st);

    if (add_package_path(pydir) < 0)
        return 2;
    free(exe);
    free(pydir);
    free(launcher);
    if (pd_hooks_installed() && register_exit_check() < 0)
        return 2;
    /* Every object born from an allocation, every freed one to the
     * quarantine (pd_interp.h). */
    if (pd_hooks_installed()) {
        pd_interp_freelists_off();
        if (pd_hooks_config()->poison && pd_freedobj_start() < 0) {
            PyErr_Print();
            return 2;
        }
    }
    if (start_compat() < 0)
        return 2;
    pd_hooks_started();
    int rc = Py_RunMain();
    unsigned long errors = pd_hooks_finish();
    if (errors && rc == 0)
        rc = PD_EXIT_ERRORS;
    return rc;
}
