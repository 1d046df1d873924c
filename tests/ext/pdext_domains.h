/* pdext_domains.h - what the test extensions share: the allocator APIs of
 * each domain, indexed 0 = raw, 1 = mem, 2 = object, and the optional
 * domain argument of their functions (default: mem). */
#ifndef PDEXT_DOMAINS_H
#define PDEXT_DOMAINS_H

#include <Python.h>

typedef void *(*alloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void *(*realloc_fn)(void *, size_t);

static const alloc_fn allocs[] = {PyMem_RawMalloc, PyMem_Malloc, PyObject_Malloc};
static const free_fn frees[] = {PyMem_RawFree, PyMem_Free, PyObject_Free};
static const realloc_fn reallocs[] = {PyMem_RawRealloc, PyMem_Realloc, PyObject_Realloc};

static int get_domain(PyObject *args, int *d)
{
    *d = 1;
    if (!PyArg_ParseTuple(args, "|i", d))
        return -1;
    if (*d < 0 || *d > 2) {
        PyErr_SetString(PyExc_ValueError, "domain must be 0, 1 or 2");
        return -1;
    }
    return 0;
}

#endif
