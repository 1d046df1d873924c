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

/* The leak hunter's corpus: six ways C code leaks, each with a clean twin.
 * Every function makes fresh objects each call, so a leak grows every run. */
static long counter;

/* 1. A new reference never released. */
static PyObject *lk_new_reference(PyObject *self, PyObject *unused)
{
    PyObject *s = PyUnicode_FromFormat("lk-new-%ld", counter++);
    if (s == NULL)
        return NULL;
    Py_RETURN_NONE; /* leak: s */
}

static PyObject *ok_new_reference(PyObject *self, PyObject *unused)
{
    PyObject *s = PyUnicode_FromFormat("lk-new-%ld", counter++);
    if (s == NULL)
        return NULL;
    Py_DECREF(s);
    Py_RETURN_NONE;
}

/* 2. A leak on the error path only. */
static PyObject *error_path(PyObject *arg, int leak)
{
    PyObject *tmp = PyList_New(0);
    if (tmp == NULL)
        return NULL;
    if (!PyLong_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "expected an int");
        if (!leak)
            Py_DECREF(tmp);
        return NULL; /* leak (when leak): tmp */
    }
    Py_DECREF(tmp);
    Py_RETURN_NONE;
}

static PyObject *lk_error_path(PyObject *self, PyObject *arg) { return error_path(arg, 1); }
static PyObject *ok_error_path(PyObject *self, PyObject *arg) { return error_path(arg, 0); }

/* 3. An item leaked by a container insert (PyList_Append takes its own
 * reference). */
static PyObject *container_insert(PyObject *list, int leak)
{
    PyObject *item = PyFloat_FromDouble((double)counter++);
    if (item == NULL || PyList_Append(list, item) < 0)
        return NULL;
    if (!leak)
        Py_DECREF(item);
    Py_RETURN_NONE;
}

static PyObject *lk_container_insert(PyObject *self, PyObject *list) { return container_insert(list, 1); }
static PyObject *ok_container_insert(PyObject *self, PyObject *list) { return container_insert(list, 0); }

/* 4. An extra reference on a returned object. */
static PyObject *lk_extra_return(PyObject *self, PyObject *unused)
{
    PyObject *t = Py_BuildValue("(ld)", counter++, 1.5);
    if (t == NULL)
        return NULL;
    Py_INCREF(t); /* leak: one reference too many */
    return t;
}

static PyObject *ok_extra_return(PyObject *self, PyObject *unused)
{
    return Py_BuildValue("(ld)", counter++, 1.5);
}

/* 5. A leaked key (PyDict_SetItem takes its own references). */
static PyObject *dict_key(PyObject *dict, int leak)
{
    PyObject *key = PyUnicode_FromFormat("lk-key-%ld", counter++);
    if (key == NULL || PyDict_SetItem(dict, key, Py_None) < 0)
        return NULL;
    if (!leak)
        Py_DECREF(key);
    Py_RETURN_NONE;
}

static PyObject *lk_leaked_key(PyObject *self, PyObject *dict) { return dict_key(dict, 1); }
static PyObject *ok_leaked_key(PyObject *self, PyObject *dict) { return dict_key(dict, 0); }

/* 6. A leak in a C type's dealloc: Holder forgets its member, Keeper
 * does not. */
typedef struct {
    PyObject_HEAD
    PyObject *member;
} Holder;

static void holder_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    /* leak: ((Holder *)self)->member is never released */
    tp->tp_free(self);
    Py_DECREF(tp);
}

static void keeper_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(((Holder *)self)->member);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot holder_slots[] = {{Py_tp_dealloc, holder_dealloc}, {0, NULL}};
static PyType_Spec holder_spec = {"pdleaky.Holder", sizeof(Holder), 0, Py_TPFLAGS_DEFAULT,
                                  holder_slots};
static PyType_Slot keeper_slots[] = {{Py_tp_dealloc, keeper_dealloc}, {0, NULL}};
static PyType_Spec keeper_spec = {"pdleaky.Keeper", sizeof(Holder), 0, Py_TPFLAGS_DEFAULT,
                                  keeper_slots};
static PyObject *holder_type, *keeper_type;

static PyObject *make_holder(PyObject *type)
{
    Holder *h = PyObject_New(Holder, (PyTypeObject *)type);
    if (h == NULL)
        return NULL;
    h->member = PyBytes_FromFormat("lk-member-%ld", counter++);
    if (h->member == NULL) {
        Py_DECREF(h);
        return NULL;
    }
    Py_DECREF(h); /* dealloc runs now */
    Py_RETURN_NONE;
}

static PyObject *lk_dealloc(PyObject *self, PyObject *unused) { return make_holder(holder_type); }
static PyObject *ok_dealloc(PyObject *self, PyObject *unused) { return make_holder(keeper_type); }

/* A cache that fills while warming up: the same keys every call, so from
 * the second call on nothing new is kept.  Not a leak. */
static PyObject *cache;

static PyObject *cached_lookup(PyObject *self, PyObject *unused)
{
    if (cache == NULL && (cache = PyDict_New()) == NULL)
        return NULL;
    for (long i = 0; i < 8; i++) {
        PyObject *key = PyLong_FromLong(1000 + i);
        if (key == NULL)
            return NULL;
        int has = PyDict_Contains(cache, key);
        if (has == 0) {
            PyObject *v = PyUnicode_FromFormat("cached-%ld", i);
            if (v == NULL || PyDict_SetItem(cache, key, v) < 0)
                has = -1;
            Py_XDECREF(v);
        }
        Py_DECREF(key);
        if (has < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"lk_new_reference", lk_new_reference, METH_NOARGS, NULL},
    {"ok_new_reference", ok_new_reference, METH_NOARGS, NULL},
    {"lk_error_path", lk_error_path, METH_O, NULL},
    {"ok_error_path", ok_error_path, METH_O, NULL},
    {"lk_container_insert", lk_container_insert, METH_O, NULL},
    {"ok_container_insert", ok_container_insert, METH_O, NULL},
    {"lk_extra_return", lk_extra_return, METH_NOARGS, NULL},
    {"ok_extra_return", ok_extra_return, METH_NOARGS, NULL},
    {"lk_leaked_key", lk_leaked_key, METH_O, NULL},
    {"ok_leaked_key", ok_leaked_key, METH_O, NULL},
    {"lk_dealloc", lk_dealloc, METH_NOARGS, NULL},
    {"ok_dealloc", ok_dealloc, METH_NOARGS, NULL},
    {"cached_lookup", cached_lookup, METH_NOARGS, NULL},
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
    holder_type = PyType_FromSpec(&holder_spec);
    keeper_type = PyType_FromSpec(&keeper_spec);
    if (thing_type == NULL || holder_type == NULL || keeper_type == NULL ||
        PyModule_AddObjectRef(m, "Thing", thing_type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
