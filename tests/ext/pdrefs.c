/* pdrefs.c - a test extension that gets reference counts wrong, one way per
 * function, each with a clean twin (the argument `clean` true: the same
 * steps done right).  Built by the test suite (tests/conftest.py) with -O0
 * -g so reports can name functions.
 *
 * Built at -O1 (tests/conftest.py), as extensions are built with
 * optimization: Py_DECREF is then inlined into the function that calls it,
 * which the reports name.  (At -O0, 3.11's Py_DECREF stays an out-of-line
 * copy in this object, and the innermost user frame is that copy.)
 *
 * The victims are str objects made here (victim()), so each one's block
 * is allocated by this extension, and str has no free list on any
 * supported interpreter: its last release frees the block. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

static long made;

/* A new str of its own block, allocated here. */
static PyObject *victim(PyObject *self, PyObject *unused)
{
    return PyUnicode_FromFormat("victim-%ld-of-pdrefs", ++made);
}

static int parse_clean(PyObject *args, PyObject **obj, int *clean)
{
    *clean = 0;
    return PyArg_ParseTuple(args, "O|p", obj, clean);
}

/* Py_DECREF of a borrowed list item: the list is left holding it. */
static PyObject *borrowed_list_item(PyObject *self, PyObject *args)
{
    PyObject *list;
    int clean;
    if (!parse_clean(args, &list, &clean))
        return NULL;
    PyObject *item = PyList_GetItem(list, 0);
    if (item == NULL)
        return NULL;
    if (clean)
        Py_INCREF(item);
    Py_DECREF(item);
    Py_RETURN_NONE;
}

/* Py_DECREF of a borrowed dict value. */
static PyObject *borrowed_dict_value(PyObject *self, PyObject *args)
{
    PyObject *dict;
    int clean;
    if (!parse_clean(args, &dict, &clean))
        return NULL;
    PyObject *value = PyDict_GetItemString(dict, "key");
    if (value == NULL)
        return PyErr_Format(PyExc_KeyError, "key");
    if (clean)
        Py_INCREF(value);
    Py_DECREF(value);
    Py_RETURN_NONE;
}

/* Py_DECREF of a borrowed tuple item. */
static PyObject *borrowed_tuple_item(PyObject *self, PyObject *args)
{
    PyObject *tuple;
    int clean;
    if (!parse_clean(args, &tuple, &clean))
        return NULL;
    PyObject *item = PyTuple_GetItem(tuple, 0);
    if (item == NULL)
        return NULL;
    if (clean)
        Py_INCREF(item);
    Py_DECREF(item);
    Py_RETURN_NONE;
}

/* Py_DECREF of an argument (METH_O: the caller lends it). */
static PyObject *borrowed_argument(PyObject *self, PyObject *arg)
{
    Py_DECREF(arg);
    Py_RETURN_NONE;
}

static PyObject *borrowed_argument_clean(PyObject *self, PyObject *arg)
{
    Py_INCREF(arg);
    Py_DECREF(arg);
    Py_RETURN_NONE;
}

/* A reference released twice: the list's own reference goes too. */
static PyObject *released_twice(PyObject *self, PyObject *args)
{
    int clean = 0;
    if (!PyArg_ParseTuple(args, "|p", &clean))
        return NULL;
    PyObject *o = victim(self, NULL), *list = PyList_New(0);
    if (o == NULL || list == NULL || PyList_Append(list, o) < 0)
        return NULL;
    Py_DECREF(o);
    if (!clean)
        Py_DECREF(o);
    return list;
}

/* A reference PyList_SetItem / PyTuple_SetItem stole, released after. */
static PyObject *stolen_setitem(PyObject *self, PyObject *args)
{
    int tuple, clean = 0;
    if (!PyArg_ParseTuple(args, "p|p", &tuple, &clean))
        return NULL;
    PyObject *o = victim(self, NULL);
    PyObject *seq = tuple ? PyTuple_New(1) : PyList_New(1);
    if (o == NULL || seq == NULL)
        return NULL;
    if (clean)
        Py_INCREF(o);
    if ((tuple ? PyTuple_SetItem(seq, 0, o) : PyList_SetItem(seq, 0, o)) < 0)
        return NULL;
    Py_DECREF(o);
    return seq;
}

/* Py_INCREF of an object after its last release. */
static PyObject *incref_freed(PyObject *self, PyObject *args)
{
    int clean = 0;
    if (!PyArg_ParseTuple(args, "|p", &clean))
        return NULL;
    PyObject *o = victim(self, NULL);
    if (o == NULL)
        return NULL;
    if (clean) {
        Py_INCREF(o);
        Py_DECREF(o);
        Py_DECREF(o);
    } else {
        Py_DECREF(o);
        Py_INCREF(o); /* the object is gone: this reference is to freed memory */
    }
    Py_RETURN_NONE;
}

/* An object used through one of its type's slots after its last release
 * (or, clean, before it). */
static PyObject *use_after_release(PyObject *self, PyObject *args)
{
    const char *slot;
    int clean = 0;
    if (!PyArg_ParseTuple(args, "s|p", &slot, &clean))
        return NULL;
    PyObject *o = victim(self, NULL), *r = NULL;
    if (o == NULL)
        return NULL;
    if (!clean)
        Py_DECREF(o);
    if (strcmp(slot, "repr") == 0) {
        r = PyObject_Repr(o);
    } else if (strcmp(slot, "str") == 0) {
        r = PyObject_Str(o);
    } else if (strcmp(slot, "getattr") == 0) {
        r = PyObject_GetAttrString(o, "upper");
    } else if (strcmp(slot, "call") == 0) {
        r = clean ? Py_NewRef(Py_None) : PyObject_CallNoArgs(o); /* a str is not callable */
    } else if (strcmp(slot, "iter") == 0) {
        r = PyObject_GetIter(o);
    } else if (strcmp(slot, "compare") == 0) {
        r = PyObject_RichCompare(o, Py_None, Py_EQ);
    } else if (strcmp(slot, "hash") == 0) {
        Py_hash_t h = PyObject_Hash(o);
        r = h == -1 ? NULL : PyLong_FromSsize_t(h);
    } else if (strcmp(slot, "len") == 0) {
        Py_ssize_t n = PyObject_Size(o);
        r = n < 0 ? NULL : PyLong_FromSsize_t(n);
    } else if (strcmp(slot, "getitem") == 0) {
        PyObject *zero = PyLong_FromLong(0);
        r = PyObject_GetItem(o, zero);
        Py_DECREF(zero);
    } else if (strcmp(slot, "dealloc") == 0) {
        if (!clean) /* clean: the release below deallocates it */
            Py_TYPE(o)->tp_dealloc(o);
        r = Py_NewRef(Py_None);
    } else {
        PyErr_Format(PyExc_ValueError, "no slot %s", slot);
    }
    if (clean)
        Py_DECREF(o);
    return r;
}

static PyMethodDef methods[] = {
    {"victim", victim, METH_NOARGS, NULL},
    {"borrowed_list_item", borrowed_list_item, METH_VARARGS, NULL},
    {"borrowed_dict_value", borrowed_dict_value, METH_VARARGS, NULL},
    {"borrowed_tuple_item", borrowed_tuple_item, METH_VARARGS, NULL},
    {"borrowed_argument", borrowed_argument, METH_O, NULL},
    {"borrowed_argument_clean", borrowed_argument_clean, METH_O, NULL},
    {"released_twice", released_twice, METH_VARARGS, NULL},
    {"stolen_setitem", stolen_setitem, METH_VARARGS, NULL},
    {"incref_freed", incref_freed, METH_VARARGS, NULL},
    {"use_after_release", use_after_release, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "pdrefs", "Reference-count bugs on purpose, for python-debug's tests.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_pdrefs(void) { return PyModule_Create(&moduledef); }
