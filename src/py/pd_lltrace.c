/* pd_lltrace.c - LLTRACE: each instruction a traced frame executes, one
 * line on stderr:
 *
 *   lltrace: f 12 LOAD_FAST 0  depth=1 [5]
 *
 * the code's qualified name, the offset in bytes, the instruction and its
 * argument as dis shows them, the value-stack depth before it runs, and
 * the top (at most three) values, bottom first.  Values are shown without
 * running Python code (no repr() of user objects): ints, floats, short
 * strs, None, True and False as literals, anything else as <type>. */
#include <Python.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pd_pyframe.h"
#include "pd_tracers.h"

#define TOP_SHOWN 3

static void show_value(PyObject *v, char *buf, size_t len)
{
    if (v == NULL) {
        snprintf(buf, len, "NULL");
    } else if (v == Py_None || v == Py_True || v == Py_False) {
        snprintf(buf, len, "%s", v == Py_None ? "None" : v == Py_True ? "True" : "False");
    } else if (PyLong_CheckExact(v)) {
        int overflow;
        long x = PyLong_AsLongAndOverflow(v, &overflow);
        if (overflow || (x == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            snprintf(buf, len, "<int>");
        } else {
            snprintf(buf, len, "%ld", x);
        }
    } else if (PyFloat_CheckExact(v)) {
        snprintf(buf, len, "%.17g", PyFloat_AS_DOUBLE(v));
    } else if (PyUnicode_CheckExact(v) && PyUnicode_GET_LENGTH(v) <= 24) {
        char s[100];
        pd_py_str_utf8(v, s, sizeof s);
        size_t k = 0;
        buf[k++] = '\'';
        /* One line per instruction: control characters escaped. */
        for (const unsigned char *c = (const unsigned char *)s; *c && k + 6 < len; c++) {
            if (*c < 0x20 || *c == 0x7f || *c == '\\' || *c == '\'')
                k += (size_t)snprintf(buf + k, len - k, *c == '\n' ? "\\n" : "\\x%02x", *c);
            else
                buf[k++] = (char)*c;
        }
        buf[k++] = '\'';
        buf[k] = '\0';
    } else {
        snprintf(buf, len, "<%s>", Py_TYPE(v)->tp_name);
    }
}

static int marked_frame(PyObject *globals)
{
    static PyObject *key;
    if (globals == NULL || !PyDict_Check(globals))
        return 0;
    if (key == NULL && (key = PyUnicode_InternFromString("__lltrace__")) == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *v = PyDict_GetItemWithError(globals, key);
    if (v == NULL) {
        PyErr_Clear();
        return 0;
    }
    /* Only exact bools and ints: truth of other objects runs Python code. */
    if (PyBool_Check(v) || PyLong_CheckExact(v))
        return v != Py_False && !(PyLong_CheckExact(v) && PyLong_AsLong(v) == 0);
    return 1;
}

void pd_lltrace_insn(const pd_insn *ev, int only_marked)
{
    if (only_marked && !marked_frame(ev->globals))
        return;
    char name[128], line[512];
    pd_py_str_utf8(ev->code->co_qualname, name, sizeof name);
    size_t k = (size_t)snprintf(line, sizeof line, "lltrace: %s %d %s", name, ev->offset,
                                pd_opname(ev->opcode));
    if (pd_op_hasarg(ev->opcode))
        k += (size_t)snprintf(line + k, sizeof line - k, " %d", ev->oparg);
    if (ev->depth < 0) {
        k += (size_t)snprintf(line + k, sizeof line - k, "  depth=?");
    } else {
        k += (size_t)snprintf(line + k, sizeof line - k, "  depth=%d [%s", ev->depth,
                              ev->depth > TOP_SHOWN ? "..., " : "");
        int first = ev->depth > TOP_SHOWN ? ev->depth - TOP_SHOWN : 0;
        for (int i = first; i < ev->depth && k < sizeof line; i++) {
            char v[128];
            show_value(ev->stack[i], v, sizeof v);
            k += (size_t)snprintf(line + k, sizeof line - k, "%s%s", i > first ? ", " : "", v);
        }
        if (k < sizeof line)
            k += (size_t)snprintf(line + k, sizeof line - k, "]");
    }
    if (k >= sizeof line - 1)
        k = sizeof line - 2;
    line[k++] = '\n';
    /* One write per line: lines of several threads do not mix. */
    fflush(stderr);
    ssize_t w = write(2, line, k);
    (void)w;
}
