/* pdguard.c - the guard pages' bug corpus: reads and writes after free,
 * a stale pointer kept across a realloc that moved the block, off-by-one
 * overflows and underflows, an object used after its last Py_DECREF - each
 * in the domain given (0 = raw, 1 = mem, 2 = object) - and a clean twin.
 * Built by the test suite with -O0 -g, so reports can name functions and
 * lines.  Each bad access goes through a volatile pointer: the compiler
 * must emit it where the source has it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "pdext_domains.h"

/* A block of n bytes, filled. */
static char *fresh(int d, size_t n)
{
    char *p = allocs[d](n);
    memset(p, 'a', n);
    return p;
}

/* Reads byte 8 of a 64-byte block after freeing it. */
static PyObject *read_after_free(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    volatile char *p = fresh(d, 64);
    frees[d]((void *)p);
    char c = p[8];
    return PyLong_FromLong(c);
}

/* Writes byte 8 of a 64-byte block after freeing it. */
static PyObject *write_after_free(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    volatile char *p = fresh(d, 64);
    frees[d]((void *)p);
    p[8] = 'w';
    Py_RETURN_NONE;
}

/* Keeps the old pointer across a realloc that moved the block, and reads
 * through it. */
static PyObject *read_after_realloc(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    volatile char *p = fresh(d, 32);
    char *q = reallocs[d]((void *)p, 2048);
    char c = p[0];
    frees[d](q);
    return PyLong_FromLong(c);
}

/* Writes the byte just past the end of a 64-byte block. */
static PyObject *overflow_write(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    volatile char *p = fresh(d, 64);
    p[64] = 'o';
    frees[d]((void *)p);
    Py_RETURN_NONE;
}

/* Reads the byte just past the end of a 64-byte block. */
static PyObject *overflow_read(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    volatile char *p = fresh(d, 64);
    char c = p[64];
    frees[d]((void *)p);
    return PyLong_FromLong(c);
}

/* Writes the byte just before the start of a 64-byte block. */
static PyObject *underflow_write(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    volatile char *p = fresh(d, 64);
    p[-1] = 'u';
    frees[d]((void *)p);
    Py_RETURN_NONE;
}

/* Reads the byte just before the start of a 64-byte block. */
static PyObject *underflow_read(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    volatile char *p = fresh(d, 64);
    char c = p[-1];
    frees[d]((void *)p);
    return PyLong_FromLong(c);
}

/* Writes one byte past the end of a 13-byte block: into the alignment
 * slack, which only guard bytes cover (found when the block is freed). */
static PyObject *overflow_slack(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    volatile char *p = fresh(d, 13);
    p[13] = 's';
    frees[d]((void *)p);
    Py_RETURN_NONE;
}

/* The seed's bug: an int used after its last reference is gone (a
 * two-digit one: 3.14 and newer keep freed one-digit ints on a free list). */
static PyObject *object_after_decref(PyObject *self, PyObject *unused)
{
    PyObject *o = PyLong_FromLongLong(1LL << 40);
    Py_DECREF(o);
    return PyObject_Repr(o);
}

/* read_after_free, n times over (the sampled mode's catch rate). */
static PyObject *read_after_free_loop(PyObject *self, PyObject *args)
{
    int n;
    if (!PyArg_ParseTuple(args, "i", &n))
        return NULL;
    long sum = 0;
    for (int i = 0; i < n; i++) {
        volatile char *p = fresh(1, 64);
        PyMem_Free((void *)p);
        sum += p[8];
    }
    return PyLong_FromLong(sum);
}

/* The clean twin: every pattern above done right, in every domain. */
static PyObject *clean(PyObject *self, PyObject *unused)
{
    long sum = 0;
    for (int d = 0; d < 3; d++) {
        volatile char *p = fresh(d, 64);
        sum += p[0] + p[63];
        p[63] = 'z';
        char *q = reallocs[d]((void *)p, 2048);
        sum += q[0];
        frees[d](q);
        p = fresh(d, 13);
        p[12] = 'e';
        frees[d]((void *)p);
    }
    PyObject *o = PyLong_FromLongLong(1LL << 40);
    PyObject *r = PyObject_Repr(o);
    Py_DECREF(o);
    Py_XDECREF(r);
    return PyLong_FromLong(sum);
}

static PyMethodDef methods[] = {
    {"read_after_free", read_after_free, METH_VARARGS, NULL},
    {"write_after_free", write_after_free, METH_VARARGS, NULL},
    {"read_after_realloc", read_after_realloc, METH_VARARGS, NULL},
    {"overflow_write", overflow_write, METH_VARARGS, NULL},
    {"overflow_read", overflow_read, METH_VARARGS, NULL},
    {"underflow_write", underflow_write, METH_VARARGS, NULL},
    {"underflow_read", underflow_read, METH_VARARGS, NULL},
    {"overflow_slack", overflow_slack, METH_VARARGS, NULL},
    {"object_after_decref", object_after_decref, METH_NOARGS, NULL},
    {"read_after_free_loop", read_after_free_loop, METH_VARARGS, NULL},
    {"clean", clean, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "pdguard", NULL, -1, methods,
                                 NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_pdguard(void) { return PyModule_Create(&def); }
