/* pd_freedobj.c - see pd_freedobj.h. */
#include <Python.h>

#include <stddef.h>
#include <stdio.h>

#include "interp/pd_interp.h"
#include "pd_freedobj.h"
#include "pd_hooks.h"
#include "pd_objects.h"
#include "pd_pyframe.h"
#include "../core/pd_core.h"

_Static_assert(offsetof(PyObject, ob_type) == offsetof(PyObject, ob_refcnt) + 8,
               "the poison is the count word and the type word after it");

static PyTypeObject freed_type;

/* The dying object's count word in the block being freed (pd_poison).
 * A static type lives as long as the process: the core learns it, and
 * finds the next objects of it by itself.  (Heap types come here each
 * time: one can die and its memory hold anything next.)  A dying object's
 * count word is 0 in every supported layout: mortal, no flags. */
static long count_at(uintptr_t addr, size_t size)
{
    PyObject *op = pd_obj_dead_at(addr, size);
    if (op == NULL)
        return -1;
    PyTypeObject *tp = Py_TYPE(op);
    size_t off = (uintptr_t)op - addr;
    if (!(tp->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        size_t least = off + (PyType_FastSubclass(tp, Py_TPFLAGS_UNICODE_SUBCLASS)
                                  ? sizeof(PyASCIIObject) : (size_t)tp->tp_basicsize);
        pd_core_poison_learn((uint64_t)(uintptr_t)tp, off, least);
    }
    return (long)(off + offsetof(PyObject, ob_refcnt));
}

/* What the freed object was: the type its block's words held at the free. */
static void dead_type(PyObject *op, char *buf, size_t len)
{
    pd_block_info b;
    buf[0] = '\0';
    if (pd_find_block((uintptr_t)op, 1, &b))
        pd_py_block_type(&b, buf, len);
    if (buf[0] == '\0')
        snprintf(buf, len, "?");
}

/* Report the use, then (-X on_error=continue) fail the way the slot can. */
static __attribute__((noinline)) void report(PyObject *op, const char *slot, const char *what,
                                             int can_fail, void *ret, const void *sp)
{
    pd_site now;
    pd_hooks_site(&now, ret, sp);
    char type[128], detail[256];
    dead_type(op, type, sizeof type);
    snprintf(detail, sizeof detail,
             "%s of an object freed while this reference to it was still held: it was a "
             "'%s' (its last release is 'freed by' below)",
             what, type);
    pd_core_freed_use(op, slot, detail, &now);
    if (can_fail)
        PyErr_Format(PyExc_SystemError, "%s of a freed object (a '%s' when it was freed) at %p",
                     what, type, (void *)op);
}

#define USED(op, slot, what) \
    report((op), (slot), (what), 1, __builtin_return_address(0), __builtin_frame_address(0))
#define USED_NOFAIL(op, slot, what) \
    report((op), (slot), (what), 0, __builtin_return_address(0), __builtin_frame_address(0))

static PyObject *fo_repr(PyObject *op) { USED(op, "tp_repr", "repr()"); return NULL; }
static PyObject *fo_str(PyObject *op) { USED(op, "tp_str", "str()"); return NULL; }
static Py_hash_t fo_hash(PyObject *op) { USED(op, "tp_hash", "hash()"); return -1; }
static PyObject *fo_iter(PyObject *op) { USED(op, "tp_iter", "iter()"); return NULL; }
static PyObject *fo_iternext(PyObject *op) { USED(op, "tp_iternext", "next()"); return NULL; }

static PyObject *fo_getattro(PyObject *op, PyObject *name)
{
    (void)name;
    USED(op, "tp_getattro", "attribute access");
    return NULL;
}

static int fo_setattro(PyObject *op, PyObject *name, PyObject *v)
{
    (void)name, (void)v;
    USED(op, "tp_setattro", "attribute assignment");
    return -1;
}

static PyObject *fo_call(PyObject *op, PyObject *args, PyObject *kw)
{
    (void)args, (void)kw;
    USED(op, "tp_call", "a call");
    return NULL;
}

static PyObject *fo_richcompare(PyObject *op, PyObject *other, int how)
{
    (void)other, (void)how;
    USED(op, "tp_richcompare", "a comparison");
    return NULL;
}

static Py_ssize_t fo_length(PyObject *op) { USED(op, "sq_length", "len()"); return -1; }
static Py_ssize_t fo_mp_length(PyObject *op) { USED(op, "mp_length", "len()"); return -1; }

static PyObject *fo_item(PyObject *op, Py_ssize_t i)
{
    (void)i;
    USED(op, "sq_item", "item access");
    return NULL;
}

static PyObject *fo_subscript(PyObject *op, PyObject *key)
{
    (void)key;
    USED(op, "mp_subscript", "item access");
    return NULL;
}

static int fo_ass_subscript(PyObject *op, PyObject *key, PyObject *v)
{
    (void)key, (void)v;
    USED(op, "mp_ass_subscript", "item assignment");
    return -1;
}

static int fo_contains(PyObject *op, PyObject *v)
{
    (void)v;
    USED(op, "sq_contains", "a containment test");
    return -1;
}

static int fo_bool(PyObject *op) { USED(op, "nb_bool", "a truth test"); return -1; }

/* Nothing can be undone for these: the block is freed already. */
static void fo_dealloc(PyObject *op)
{
    USED_NOFAIL(op, "tp_dealloc", "deallocation");
}

static void fo_free(void *op)
{
    USED_NOFAIL((PyObject *)op, "tp_free", "freeing");
}

static PySequenceMethods fo_as_sequence = {
    .sq_length = fo_length,
    .sq_item = fo_item,
    .sq_contains = fo_contains,
};
static PyMappingMethods fo_as_mapping = {
    .mp_length = fo_mp_length,
    .mp_subscript = fo_subscript,
    .mp_ass_subscript = fo_ass_subscript,
};
static PyNumberMethods fo_as_number = {
    .nb_bool = fo_bool,
};

static PyTypeObject freed_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "freed object",
    .tp_basicsize = sizeof(PyObject),
    .tp_dealloc = fo_dealloc,
    .tp_repr = fo_repr,
    .tp_as_number = &fo_as_number,
    .tp_as_sequence = &fo_as_sequence,
    .tp_as_mapping = &fo_as_mapping,
    .tp_hash = fo_hash,
    .tp_call = fo_call,
    .tp_str = fo_str,
    .tp_getattro = fo_getattro,
    .tp_setattro = fo_setattro,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "What python-debug leaves in place of a freed object.",
    .tp_richcompare = fo_richcompare,
    .tp_iter = fo_iter,
    .tp_iternext = fo_iternext,
    .tp_free = fo_free,
};

int pd_freedobj_start(void)
{
    if (PyType_Ready(&freed_type) < 0)
        return -1;
    pd_poison p = {
        .count_word = (uint64_t)PD_FREED_REFCNT,
        .type_word = (uint64_t)(uintptr_t)&freed_type,
        .count_offset = offsetof(PyObject, ob_refcnt),
        .count_at = count_at,
    };
    pd_core_set_poison(&p);
    return 0;
}
