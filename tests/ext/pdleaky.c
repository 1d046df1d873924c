/* pdleaky.c - a test extension that leaks references and objects on
 * purpose, for the object-accounting tests.  Every function here has a
 * twin in Python's terms: "leak N references" means N Py_INCREFs nobody
 * undoes. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

/* A C type of our own: a heap type, so each instance also holds a
 * reference to the type. */
typedef struct {
    PyObject_HEAD
    long value;
} Thing;

static PyType_Slot thing_slots[] = {{0, NULL}};
static PyType_Spec thing_spec = {"pdleaky.Thing", sizeof(Thing), 0, Py_TPFLAGS_DEFAULT,
                                 thing_slots};
static PyObject *thing_type;

/* leak(obj, n): take n references to obj and never give them back. */
static PyObject *leak(PyObject *self, PyObject *args)
{
    PyObject *obj;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "On", &obj, &n))
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        Py_INCREF(obj);
    Py_RETURN_NONE;
}

/* One new object of a kind, or NULL. */
static PyObject *make(const char *kind, Py_ssize_t i, PyObject *cls)
{
    if (!strcmp(kind, "int"))
        return PyLong_FromSsize_t(1000000 + i);
    if (!strcmp(kind, "float"))
        return PyFloat_FromDouble(0.5 + (double)i);
    if (!strcmp(kind, "str"))
        return PyUnicode_FromFormat("pdleaky-%zd", i);
    if (!strcmp(kind, "dict"))
        return PyDict_New();
    if (!strcmp(kind, "tuple")) {
        PyObject *f = PyFloat_FromDouble(0.25 + (double)i);
        PyObject *t = f ? PyTuple_Pack(1, f) : NULL;
        Py_XDECREF(f);
        return t;
    }
    if (!strcmp(kind, "thing")) {
        Thing *t = PyObject_New(Thing, (PyTypeObject *)thing_type);
        if (t)
            t->value = (long)i;
        return (PyObject *)t;
    }
    if (!strcmp(kind, "instance"))
        return PyObject_CallNoArgs(cls);
    PyErr_Format(PyExc_ValueError, "unknown kind %s", kind);
    return NULL;
}

/* leak_new(kind, n, cls=None): create n objects of a kind and drop them on
 * the floor: each stays alive with one reference nobody holds. */
static PyObject *leak_new(PyObject *self, PyObject *args)
{
    const char *kind;
    Py_ssize_t n;
    PyObject *cls = Py_None;
    if (!PyArg_ParseTuple(args, "sn|O", &kind, &n, &cls))
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        if (make(kind, i, cls) == NULL)
            return NULL;
    Py_RETURN_NONE;
}

/* make_and_free(kind, n): the clean twin - the same objects, released. */
static PyObject *make_and_free(PyObject *self, PyObject *args)
{
    const char *kind;
    Py_ssize_t n;
    PyObject *cls = Py_None;
    if (!PyArg_ParseTuple(args, "sn|O", &kind, &n, &cls))
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = make(kind, i, cls);
        if (o == NULL)
            return NULL;
        Py_DECREF(o);
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"leak", leak, METH_VARARGS, NULL},
    {"leak_new", leak_new, METH_VARARGS, NULL},
    {"make_and_free", make_and_free, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "pdleaky", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_pdleaky(void)
{
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    thing_type = PyType_FromSpec(&thing_spec);
    if (thing_type == NULL || PyModule_AddObjectRef(m, "Thing", thing_type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
