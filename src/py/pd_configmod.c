/* pd_configmod.c - _pydebug.parse_config_h(): the core's pyconfig.h parser
 * (src/core/pd_pyconfig.c) seen from Python, for `python-debug -m pydebug
 * config`.  The result is the dict sysconfig.parse_config_h() returns. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "pd_configmod.h"
#include "../core/pd_elf.h"
#include "../core/pd_pyconfig.h"

typedef struct {
    PyObject *out;         /* the dict */
    PyObject *always_str;  /* names never converted to int */
    int failed;
} parse_state;

static void on_line(void *arg, const char *name, size_t nl, pd_ch_kind kind, const char *v, size_t vl,
                    const char *raw, size_t rawl)
{
    parse_state *st = arg;
    if (st->failed)
        return;
    PyObject *key = PyUnicode_DecodeUTF8(name, (Py_ssize_t)nl, "surrogateescape");
    PyObject *val = NULL;
    if (key == NULL)
        goto fail;
    int keep_str = st->always_str ? PySequence_Contains(st->always_str, key) : 0;
    if (keep_str < 0)
        goto fail;
    if (kind == PD_CH_UNDEF) {
        val = PyLong_FromLong(0);
    } else if (kind == PD_CH_INT && !keep_str) {
        char buf[64];
        char *s = vl < sizeof buf ? buf : PyMem_Malloc(vl + 1);
        if (s == NULL)
            goto fail;
        memcpy(s, v, vl);
        s[vl] = '\0';
        val = PyLong_FromString(s, NULL, 10);
        if (s != buf)
            PyMem_Free(s);
    } else {
        /* The text as written (an int that stays a str keeps its form). */
        val = PyUnicode_DecodeUTF8(raw, (Py_ssize_t)rawl, "surrogateescape");
    }
    if (val == NULL || PyDict_SetItem(st->out, key, val) < 0)
        goto fail;
    Py_DECREF(key);
    Py_DECREF(val);
    return;
fail:
    st->failed = 1;
    Py_XDECREF(key);
    Py_XDECREF(val);
}

static PyObject *parse_config_h_py(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"text", "always_str", "unquote", NULL};
    const char *text;
    Py_ssize_t len;
    PyObject *always = NULL;
    int unquote = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s#|Op:parse_config_h", kwlist, &text, &len, &always,
                                     &unquote))
        return NULL;
    char *scratch = PyMem_Malloc((size_t)len + 2);
    parse_state st = {PyDict_New(), always == Py_None ? NULL : always, 0};
    if (scratch == NULL || st.out == NULL) {
        PyMem_Free(scratch);
        Py_XDECREF(st.out);
        return PyErr_NoMemory();
    }
    pd_pyconfig_parse(text, (size_t)len, unquote ? PD_CH_UNQUOTE : 0, scratch, (size_t)len + 2, on_line, &st);
    PyMem_Free(scratch);
    if (st.failed) {
        Py_DECREF(st.out);
        return NULL;
    }
    return st.out;
}

typedef struct {
    PyObject *undefined, *defined;
    int failed;
} elf_state;

static void on_symbol(void *arg, const char *name, int defined)
{
    elf_state *st = arg;
    if (st->failed)
        return;
    PyObject *s = PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), "surrogateescape");
    if (s == NULL || PyList_Append(defined ? st->defined : st->undefined, s) < 0)
        st->failed = 1;
    Py_XDECREF(s);
}

static PyObject *elf_symbols_py(PyObject *self, PyObject *arg)
{
    (void)self;
    PyObject *bytes;
    if (!PyUnicode_FSConverter(arg, &bytes))
        return NULL;
    elf_state st = {PyList_New(0), PyList_New(0), 0};
    char err[256];
    int rc = -1;
    if (st.undefined && st.defined)  /* the visits build lists: GIL held */
        rc = pd_elf_dynsyms(PyBytes_AS_STRING(bytes), on_symbol, &st, err, sizeof err);
    PyObject *out = NULL;
    if (rc < 0 && !st.failed && st.undefined && st.defined)
        PyErr_Format(PyExc_ValueError, "%s: %s", PyBytes_AS_STRING(bytes), err);
    else if (rc == 0 && !st.failed)
        out = PyTuple_Pack(2, st.undefined, st.defined);
    Py_DECREF(bytes);
    Py_XDECREF(st.undefined);
    Py_XDECREF(st.defined);
    return out;
}

PyMethodDef pd_config_methods[] = {
    {"elf_symbols", elf_symbols_py, METH_O,
     "elf_symbols(path) -> (undefined, defined)\n\nThe global and weak dynamic symbols of an "
     "ELF64 object, read by python-debug's own reader: those it needs, those it offers."},
    {"parse_config_h", (PyCFunction)(void (*)(void))parse_config_h_py, METH_VARARGS | METH_KEYWORDS,
     "parse_config_h(text, always_str=None) -> dict\n\nThe #define and #undef lines of a "
     "pyconfig.h, as sysconfig.parse_config_h() reads them: NAME -> int or str, 0 for #undef; "
     "names in always_str stay strings.  Parsed in C by python-debug's own parser."},
    {NULL, NULL, 0, NULL},
};
