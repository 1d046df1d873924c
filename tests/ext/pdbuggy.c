/* pdbuggy.c - a test extension that commits each memory bug python-debug
 * detects, one per function, and a clean twin of each pattern.  Built by
 * the test suite (tests/conftest.py) with -O0 -g so reports can name
 * functions and lines.
 *
 * Domain arguments: 0 = raw, 1 = mem, 2 = object. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <string.h>

#include "pdext_domains.h"

/* Writes one byte past the end of a 24-byte block. */
static PyObject *overrun(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    char *p = allocs[d](24);
    memset(p, 'A', 25);
    frees[d](p);
    Py_RETURN_NONE;
}

/* Writes two bytes before the start of a block. */
static PyObject *underrun(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    char *p = allocs[d](32);
    p[-1] = 'U';
    p[-2] = 'U';
    frees[d](p);
    Py_RETURN_NONE;
}

static PyObject *double_free(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    char *p = allocs[d](40);
    frees[d](p);
    frees[d](p);
    Py_RETURN_NONE;
}

/* Frees a pointer into the middle of a block, then one on the stack. */
static PyObject *invalid_free(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    char *p = allocs[d](64);
    frees[d](p + 16);
    frees[d](p);
    Py_RETURN_NONE;
}

static PyObject *invalid_free_stack(PyObject *self, PyObject *args)
{
    int d;
    char local[64];
    if (get_domain(args, &d) < 0)
        return NULL;
    memset(local, 0, sizeof local);
    frees[d](local + 16);
    Py_RETURN_NONE;
}

/* PyMem_Malloc, then PyObject_Free. */
static PyObject *wrong_domain(PyObject *self, PyObject *unused)
{
    void *p = PyMem_Malloc(48);
    PyObject_Free(p);
    Py_RETURN_NONE;
}

static PyObject *realloc_freed(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    char *p = allocs[d](16);
    frees[d](p);
    p = reallocs[d](p, 100);
    frees[d](p);
    Py_RETURN_NONE;
}

/* Keeps a pointer after free and writes through it. */
static char *dangling;

static PyObject *write_after_free(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    char *p = allocs[d](56);
    frees[d](p);
    p[8] = 'W';
    dangling = p;
    Py_RETURN_NONE;
}

/* A pointer kept after free, written through after n more blocks of the
 * same size were allocated (and kept): without a quarantine the freed slot
 * is one of them by then, and the write lands in a live block. */
static PyObject *write_after_reuse(PyObject *self, PyObject *args)
{
    int n = 100;
    if (!PyArg_ParseTuple(args, "|i", &n) || n < 1 || n > 100000)
        return NULL;
    char *p = PyMem_Malloc(56);
    PyMem_Free(p);
    void **keep = PyMem_RawMalloc((size_t)n * sizeof *keep);
    for (int i = 0; i < n; i++)
        keep[i] = PyMem_Malloc(56);
    p[8] = 'R';
    for (int i = 0; i < n; i++)
        PyMem_Free(keep[i]);
    PyMem_RawFree(keep);
    Py_RETURN_NONE;
}

/* A stale pointer kept across a realloc that moved the block. */
static PyObject *stale_after_realloc(PyObject *self, PyObject *args)
{
    int d;
    if (get_domain(args, &d) < 0)
        return NULL;
    char *p = allocs[d](32);
    char *q = reallocs[d](p, 4096);
    p[0] = 'S';
    frees[d](q);
    Py_RETURN_NONE;
}

/* The seed's example: an int used after its last reference is gone. */
/* The seed's example.  Its int is 1024; ours is a two-digit int, since
 * 3.14 and newer keep freed one-digit ints on a free list, where no
 * allocator (ours or pymalloc's debug hooks) sees them freed. */
#define DEAD_INT (1LL << 40)

static PyObject *access_after_free(PyObject *self, PyObject *unused)
{
    PyObject *pA = PyLong_FromLongLong(DEAD_INT);
    Py_DECREF(pA);
    PyObject_Print(pA, stdout, 0);
    fputc('\n', stdout);
    fflush(stdout);
    Py_RETURN_NONE;
}

/* The same, but the freed int is used as an object: its type pointer is
 * read out of freed memory. */
static PyObject *access_after_free_repr(PyObject *self, PyObject *unused)
{
    PyObject *pA = PyLong_FromLongLong(DEAD_INT);
    Py_DECREF(pA);
    return PyObject_Repr(pA);
}

/* A bytes object's buffer written through after its last DECREF (bytes
 * have no free list, so the object goes straight back to the allocator). */
static PyObject *object_write_after_free(PyObject *self, PyObject *unused)
{
    PyObject *b = PyBytes_FromStringAndSize(NULL, 100);
    char *buf = PyBytes_AS_STRING(b);
    Py_DECREF(b);
    buf[10] = 'x';
    Py_RETURN_NONE;
}

/* Clean twin: every pattern above, done right, in every domain. */
static PyObject *clean(PyObject *self, PyObject *unused)
{
    for (int d = 0; d < 3; d++) {
        char *p = allocs[d](24);
        memset(p, 'A', 24);
        p = reallocs[d](p, 200);
        memset(p, 'B', 200);
        frees[d](p);
        char *z = d == 0 ? PyMem_RawCalloc(10, 10) : d == 1 ? PyMem_Calloc(10, 10)
                                                             : PyObject_Calloc(10, 10);
        for (int i = 0; i < 100; i++)
            if (z[i] != 0)
                return PyErr_Format(PyExc_AssertionError, "calloc not zeroed in domain %d", d);
        frees[d](z);
    }
    PyObject *pA = PyLong_FromLong(1024L);
    PyObject *r = PyObject_Repr(pA);
    Py_DECREF(pA);
    return r;
}

/* Threads: each allocates and frees in the raw domain without the GIL,
 * and in the mem and object domains with it. */
static void *raw_worker(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        char *p = PyMem_RawMalloc((size_t)(i % 300) + 1);
        p[0] = 1;
        p = PyMem_RawRealloc(p, (size_t)(i % 500) + 2);
        PyMem_RawFree(p);
    }
    return NULL;
}

static void *gil_worker(void *arg)
{
    long n = (long)(intptr_t)arg;
    PyGILState_STATE g = PyGILState_Ensure();
    for (long i = 0; i < n; i++) {
        char *p = PyMem_Malloc((size_t)(i % 300) + 1);
        char *q = PyObject_Malloc((size_t)(i % 400) + 1);
        PyObject *o = PyLong_FromLong(i * 1000003L);
        Py_XDECREF(o);
        PyMem_Free(p);
        PyObject_Free(q);
        if (i % 64 == 0) {
            Py_BEGIN_ALLOW_THREADS
            raw_worker((void *)(intptr_t)16);
            Py_END_ALLOW_THREADS
        }
    }
    PyGILState_Release(g);
    return NULL;
}

static PyObject *threads(PyObject *self, PyObject *args)
{
    int nthreads = 4;
    long n = 20000;
    if (!PyArg_ParseTuple(args, "|il", &nthreads, &n))
        return NULL;
    if (nthreads < 1 || nthreads > 64)
        return PyErr_Format(PyExc_ValueError, "1..64 threads");
    pthread_t t[128];
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < nthreads; i++) {
        pthread_create(&t[2 * i], NULL, raw_worker, (void *)(intptr_t)n);
        pthread_create(&t[2 * i + 1], NULL, gil_worker, (void *)(intptr_t)(n / 4));
    }
    for (int i = 0; i < 2 * nthreads; i++)
        pthread_join(t[i], NULL);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"overrun", overrun, METH_VARARGS, NULL},
    {"underrun", underrun, METH_VARARGS, NULL},
    {"double_free", double_free, METH_VARARGS, NULL},
    {"invalid_free", invalid_free, METH_VARARGS, NULL},
    {"invalid_free_stack", invalid_free_stack, METH_VARARGS, NULL},
    {"wrong_domain", wrong_domain, METH_NOARGS, NULL},
    {"realloc_freed", realloc_freed, METH_VARARGS, NULL},
    {"write_after_free", write_after_free, METH_VARARGS, NULL},
    {"stale_after_realloc", stale_after_realloc, METH_VARARGS, NULL},
    {"write_after_reuse", write_after_reuse, METH_VARARGS, NULL},
    {"access_after_free", access_after_free, METH_NOARGS, NULL},
    {"access_after_free_repr", access_after_free_repr, METH_NOARGS, NULL},
    {"object_write_after_free", object_write_after_free, METH_NOARGS, NULL},
    {"clean", clean, METH_NOARGS, NULL},
    {"threads", threads, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "pdbuggy", "Memory bugs on purpose, for python-debug's tests.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_pdbuggy(void) { return PyModule_Create(&moduledef); }
