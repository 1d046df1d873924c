/* pd_objects.c - see pd_objects.h. */
#include <Python.h>

#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "interp/pd_interp.h"
#include "pd_foreign.h"
#include "pd_hooks.h"
#include "pd_objects.h"
#include "pd_pyframe.h"
#include "pd_pymwalk.h"
#include "../core/pd_report.h"
#include "../core/pd_sys.h"

/* Recognising objects ------------------------------------------------------ */

/* Static types proven readable once stay so (CPython never unloads an
 * extension), so they are remembered; heap types are checked each time,
 * against the block that holds them.  Written under the core lock only
 * (PD_LOCKED callers); PD_UNLOCKED callers only read it, and a stale miss
 * just costs a segment lookup. */
#define STATIC_TYPES 4096
static uintptr_t static_types[STATIC_TYPES];

static size_t static_slot(uintptr_t t)
{
    return (size_t)((t >> 3) * 0x9E3779B97F4A7C15ull >> 52) & (STATIC_TYPES - 1);
}

static int static_known(uintptr_t t)
{
    for (size_t i = static_slot(t), k = 0; k < 8; i = (i + 1) & (STATIC_TYPES - 1), k++) {
        if (static_types[i] == t)
            return 1;
        if (static_types[i] == 0)
            return 0;
    }
    return 0;
}

static void static_remember(uintptr_t t)
{
    for (size_t i = static_slot(t), k = 0; k < 8; i = (i + 1) & (STATIC_TYPES - 1), k++) {
        if (static_types[i] == 0) {
            static_types[i] = t;
            return;
        }
    }
}

/* Readable segments of the loaded objects (PT_LOAD with PF_R), sorted: a
 * static type must lie wholly inside one.  (dladdr is not enough: it also
 * answers for the gaps between an object's segments, which the loader
 * maps inaccessible.)  Rebuilt after dlopen/dlclose into the spare of two
 * tables, then published, so a reader never sees a half-built one. */
#define MAX_SEGS 4096
typedef struct {
    uintptr_t lo, hi;
} seg;
typedef struct {
    seg v[MAX_SEGS];
    int n;
} seg_table;
static seg_table seg_tables[2];
static _Atomic(seg_table *) segs;
static atomic_int segs_stale = 1;
static pthread_mutex_t segs_lock = PTHREAD_MUTEX_INITIALIZER;

void pd_objects_modules_changed(void) { atomic_store(&segs_stale, 1); }

static int add_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    seg_table *t = arg;
    for (int i = 0; i < info->dlpi_phnum && t->n < MAX_SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R)) {
            t->v[t->n].lo = info->dlpi_addr + ph->p_vaddr;
            t->v[t->n].hi = t->v[t->n].lo + ph->p_memsz;
            t->n++;
        }
    }
    return 0;
}

static int by_lo(const void *a, const void *b)
{
    uintptr_t x = ((const seg *)a)->lo, y = ((const seg *)b)->lo;
    return x < y ? -1 : x > y;
}

static int readable_static(uintptr_t a, size_t len)
{
    if (atomic_exchange(&segs_stale, 0)) {
        pthread_mutex_lock(&segs_lock);
        seg_table *t = atomic_load(&segs) == &seg_tables[0] ? &seg_tables[1] : &seg_tables[0];
        t->n = 0;
        dl_iterate_phdr(add_segments, t);
        qsort(t->v, (size_t)t->n, sizeof t->v[0], by_lo);
        atomic_store(&segs, t);
        pthread_mutex_unlock(&segs_lock);
    }
    const seg_table *t = atomic_load(&segs);
    if (t == NULL)
        return 0; /* another thread is building the first table */
    int lo = 0, hi = t->n; /* last segment starting at or below a */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (t->v[mid].lo <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && a <= UINTPTR_MAX - len && a + len <= t->v[lo - 1].hi;
}

/* While pd_objects_adopt_foreign walks pymalloc's blocks, a heap type made
 * while we stood aside is found there; after, among the adopted. */
static int adopting;

static int live_block(uintptr_t addr, pd_lockstate ls, pd_block_info *out)
{
    if (pd_pym_active())
        return pd_pym_find(addr, out);
    if (ls == PD_LOCKED ? pd_locked_find(addr, out)
                        : pd_find_block(addr, 1, out) && out->state == PD_LIVE)
        return 1;
    if (!pd_hooks_foreign())
        return 0;
    return adopting ? pd_pym_find(addr, out) : pd_foreign_find(addr, out);
}

static int is_type(uintptr_t t, pd_lockstate ls, int depth)
{
    if (t < 0x10000 || (t & 7) || depth > 4)
        return 0;
    if (t == (uintptr_t)&PyType_Type || static_known(t))
        return 1;
    pd_block_info tb;
    int heap = live_block(t, ls, &tb);
    if (heap) {
        /* A heap type is a GC object, with or without a pre-header. */
        uintptr_t off = t - tb.addr;
        if (tb.domain != PD_OBJ || (off != 16 && off != 32) ||
            tb.size < off + sizeof(PyTypeObject))
            return 0;
    } else if (!readable_static(t, sizeof(PyTypeObject))) {
        return 0;
    }
    PyTypeObject *meta = Py_TYPE((PyObject *)t);
    if (meta != &PyType_Type &&
        !(is_type((uintptr_t)meta, ls, depth + 1) &&
          PyType_FastSubclass(meta, Py_TPFLAGS_TYPE_SUBCLASS)))
        return 0;
    if (!(((PyTypeObject *)t)->tp_flags & Py_TPFLAGS_READY))
        return 0;
    if (!heap && ls == PD_LOCKED)
        static_remember(t);
    return 1;
}

int pd_obj_is_type(uintptr_t t, pd_lockstate ls) { return is_type(t, ls, 0); }

/* The object at the start of [addr, addr+size), behind a GC header or a
 * GC header and a pre-header, with a count in [min_refcnt, max_refcnt]:
 * 1 and up for a live object, 0 for one being freed. */
static PyObject *object_at(uintptr_t addr, size_t size, pd_lockstate ls, Py_ssize_t min_refcnt,
                           Py_ssize_t max_refcnt)
{
    for (size_t off = 0; off <= 32; off += 16) {
        if (size < off + sizeof(PyObject))
            break;
        PyObject *op = (PyObject *)(addr + off);
        /* The count first: it is one read, and it rules out most wrong
         * offsets at once (a GC header's first word is a pointer, which
         * no count can be), where the type check would look the word
         * after it up in the heap. */
        Py_ssize_t rc = pd_interp_refcnt(op);
        if (rc < min_refcnt || rc > max_refcnt)
            continue;
        uintptr_t t = (uintptr_t)Py_TYPE(op);
        if (!is_type(t, ls, 0))
            continue;
        PyTypeObject *tp = (PyTypeObject *)t;
        /* A compact str is smaller than the str type's basic size. */
        size_t least = PyType_FastSubclass(tp, Py_TPFLAGS_UNICODE_SUBCLASS)
                           ? sizeof(PyASCIIObject) : (size_t)tp->tp_basicsize;
        if (pd_interp_preheader_size(tp) != off || off + least > size)
            continue;
        return op;
    }
    return NULL;
}

static PyObject *object_in_block(const pd_block_info *b, pd_lockstate ls, Py_ssize_t min_refcnt)
{
    if (b->domain != PD_OBJ || b->state != PD_LIVE)
        return NULL;
    return object_at(b->addr, b->size, ls, min_refcnt, PY_SSIZE_T_MAX);
}

PyObject *pd_obj_in_block(const pd_block_info *b, pd_lockstate ls)
{
    return object_in_block(b, ls, 1);
}

PyObject *pd_obj_in_dying_block(const pd_block_info *b)
{
    return object_in_block(b, PD_LOCKED, 0);
}

PyObject *pd_obj_dead_at(uintptr_t addr, size_t size)
{
    return object_at(addr, size, PD_LOCKED, 0, 0);
}

/* In a walk (core lock held): the live object in b, which the heap then
 * remembers (b->obj; pd_visit_objects hands it over from then on). */
static PyObject *walked_obj(pd_block_info *b)
{
    PyObject *op = pd_obj_in_block(b, PD_LOCKED);
    b->obj = (uintptr_t)op;
    return op;
}

/* An object an earlier walk found, alive if it has a count: a free list
 * keeps dead ones (count 0) in their blocks. */
static PyObject *known_obj(uintptr_t obj)
{
    PyObject *op = (PyObject *)obj;
    return pd_interp_refcnt(op) >= 1 ? op : NULL;
}

int pd_objects_available(void) { return pd_hooks_installed() || pd_pym_active(); }

/* Every block that may hold a live object: the debug allocator's live
 * object-domain blocks (with its lock held), or pymalloc's. */
static void visit_blocks(pd_visit_fn fn, void *arg)
{
    if (pd_hooks_installed()) {
        pd_visit_live(PD_OBJ, fn, arg);
        pd_foreign_visit_blocks(fn, arg);
    } else if (pd_pym_active()) {
        pd_pym_visit(fn, arg);
    }
}

/* The same, for a walk that needs only the objects: those found before
 * come without their blocks (known), from the debug allocator's tags. */
static void visit_objects(pd_visit_fn fn, pd_visit_obj_fn known, void *arg)
{
    if (pd_hooks_installed()) {
        pd_visit_objects(fn, known, arg);
        pd_foreign_visit(known, arg);
    } else if (pd_pym_active()) {
        pd_pym_visit(fn, arg);
    }
}

/* Stepping back in (pd_foreign.h): every live pymalloc block holding an
 * object joins the adopted.  Blocks pymalloc holds for another domain
 * rarely pass for an object; one that does counts as one, as under -X
 * malloc=objects. */
static void adopt(pd_block_info *b, void *arg)
{
    (void)arg;
    PyObject *op = object_at(b->addr, b->size, PD_UNLOCKED, 1, PY_SSIZE_T_MAX);
    if (op != NULL)
        pd_foreign_add(b->addr, b->size, (uintptr_t)op);
}

size_t pd_objects_adopt_foreign(void)
{
    adopting = 1;
    pd_pym_visit(adopt, NULL);
    adopting = 0;
    return pd_foreign_count();
}

/* Walks ---------------------------------------------------------------------
 * Visits run with the core lock held and must not allocate through the
 * hooks: what they collect goes to a private mapping, and the Python
 * objects are built after the lock is dropped.  Collected objects get a
 * reference first, so a garbage collection triggered while the result is
 * built cannot free them. */

typedef struct {
    uint64_t serial;
    PyObject *op;
} found;

typedef struct {
    PyTypeObject *type;  /* filter, or NULL */
    uint64_t since;      /* filter: serials at or above, 0 = any */
    found *v;
    size_t n, cap;
    Py_ssize_t refs, count;
} walk;

static void collect(pd_block_info *b, void *arg)
{
    walk *w = arg;
    if (b->serial < w->since)
        return;
    PyObject *op = walked_obj(b);
    if (op == NULL || (w->type && Py_TYPE(op) != w->type))
        return;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 65536;
        w->v = pd_sys_grow(w->v, w->cap * sizeof *w->v, cap * sizeof *w->v);
        w->cap = cap;
    }
    Py_INCREF(op);
    w->v[w->n].serial = b->serial;
    w->v[w->n].op = op;
    w->n++;
}

static int newest_first(const void *a, const void *b)
{
    uint64_t x = ((const found *)a)->serial, y = ((const found *)b)->serial;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int address_order(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const found *)a)->op, y = (uintptr_t)((const found *)b)->op;
    return x < y ? -1 : x > y;
}

/* Newest first where blocks have serials (the debug allocator), else in
 * address order. */
static void sort_found(walk *w)
{
    qsort(w->v, w->n, sizeof *w->v, pd_hooks_installed() ? newest_first : address_order);
}

static void walk_release(walk *w)
{
    for (size_t i = 0; i < w->n; i++)
        Py_DECREF(w->v[i].op);
    pd_sys_unmap(w->v, w->cap * sizeof *w->v);
}

/* A batch of objects earlier walks found (pd_visit_objects), each alive
 * one handed to add: the count of the object eight on starts loading
 * while this one is read, which is most of what such a walk waits for. */
static inline void each_known(const uintptr_t *objs, size_t n, walk *w,
                              void (*add)(walk *w, PyObject *op))
{
    for (size_t i = 0; i < n; i++) {
        if (i + 8 < n)
            __builtin_prefetch((const void *)objs[i + 8]);
        add(w, known_obj(objs[i]));
    }
}

static void add_to_total(walk *w, PyObject *op)
{
    if (op == NULL || pd_interp_is_immortal(op))
        return;
    w->refs += Py_REFCNT(op);
    w->count++;
}

static void total(pd_block_info *b, void *arg) { add_to_total(arg, walked_obj(b)); }
static void total_known(const uintptr_t *objs, size_t n, void *arg)
{
    each_known(objs, n, arg, add_to_total);
}

/* Objects outside the heap that a debug build's total counts: before 3.12
 * the singletons, small ints and one-character strings are static and
 * mortal (since 3.12 they are immortal, and no total counts them).  A
 * missing Py_DECREF(Py_None) must show.  3.11 starts them at a count of
 * 999999999, which no total includes: what counts is the change since we
 * first looked. */
#define MAX_STATICS 1024
static PyObject *statics[MAX_STATICS];
static Py_ssize_t statics_base;
static int nstatics = -1;

static void add_static(PyObject *op)
{
    pd_block_info b;
    if (op != NULL && nstatics < MAX_STATICS && !pd_interp_is_immortal(op) &&
        !live_block((uintptr_t)op, PD_UNLOCKED, &b))
        statics[nstatics++] = op;
    if (op == NULL) {
        PyErr_Clear();
        return;
    }
    Py_DECREF(op);
}

static void find_statics(void)
{
    nstatics = 0;
    statics_base = 0;
    add_static(Py_NewRef(Py_None));
    add_static(Py_NewRef(Py_True));
    add_static(Py_NewRef(Py_False));
    add_static(Py_NewRef(Py_Ellipsis));
    add_static(Py_NewRef(Py_NotImplemented));
    for (long i = -5; i <= 256; i++)
        add_static(PyLong_FromLong(i));
    add_static(PyTuple_New(0));
    add_static(PyBytes_FromStringAndSize(NULL, 0));
    add_static(PyUnicode_New(0, 0));
    for (int c = 0; c < 256; c++) {
        char ch = (char)c;
        add_static(PyBytes_FromStringAndSize(&ch, 1));
        add_static(PyUnicode_FromOrdinal(c));
    }
    for (int i = 0; i < nstatics; i++)
        statics_base += Py_REFCNT(statics[i]);
}

void pd_objects_total(Py_ssize_t *refs, Py_ssize_t *count)
{
    if (nstatics < 0)
        find_statics();
    walk w = {0};
    visit_objects(total, total_known, &w);
    for (int i = 0; i < nstatics; i++)
        w.refs += Py_REFCNT(statics[i]);
    w.refs -= statics_base;
    *refs = w.refs;
    *count = w.count;
}

PyObject *pd_objects_list(Py_ssize_t limit, PyTypeObject *type, uint64_t since)
{
    walk w = {0};
    w.type = type;
    w.since = since;
    visit_blocks(collect, &w);
    sort_found(&w);
    size_t n = limit > 0 && (size_t)limit < w.n ? (size_t)limit : w.n;
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list != NULL)
        for (size_t i = 0; i < n; i++)
            PyList_SET_ITEM(list, (Py_ssize_t)i, Py_NewRef(w.v[i].op));
    walk_release(&w);
    return list;
}

void pd_objects_live_by_type(void (*fn)(PyTypeObject *t, uint64_t n, void *arg), void *arg)
{
    walk w = {0};
    visit_blocks(collect, &w);
    /* Group by type: sort by type address, count runs. */
    for (size_t i = 0; i < w.n; i++)
        w.v[i].serial = (uint64_t)(uintptr_t)Py_TYPE(w.v[i].op);
    qsort(w.v, w.n, sizeof *w.v, newest_first);
    for (size_t i = 0; i < w.n;) {
        size_t j = i;
        while (j < w.n && w.v[j].serial == w.v[i].serial)
            j++;
        fn(Py_TYPE(w.v[i].op), (uint64_t)(j - i), arg);
        i = j;
    }
    walk_release(&w);
}

void pd_objects_dump(FILE *f)
{
    walk w = {0};
    visit_blocks(collect, &w);
    sort_found(&w);
    fprintf(f, "Remaining objects:\n");
    for (size_t i = w.n; i-- > 0;) {
        PyObject *op = w.v[i].op;
        PyObject *r = PyObject_Repr(op);
        const char *s = r ? PyUnicode_AsUTF8(r) : NULL;
        if (s == NULL)
            PyErr_Clear();
        /* One reference is ours, taken by the walk. */
        fprintf(f, "%p [%zd] %.400s\n", (void *)op, Py_REFCNT(op) - 1,
                s ? s : "<repr failed>");
        Py_XDECREF(r);
    }
    fflush(f);
    walk_release(&w);
}

uint64_t pd_objects_mark(void) { return pd_hooks_installed() ? pd_next_serial() : 0; }

/* Referrers ------------------------------------------------------------------
 * The targets go in an open-addressing table (address -> index); every
 * live container is traversed, and every running frame visited, counting
 * the references that land on a target. */

#define MAX_HOLDERS 16

typedef struct {
    PyObject **keys;
    Py_ssize_t *idx, *found;
    PyObject *(*holders)[MAX_HOLDERS]; /* the first containers found, per target */
    size_t cap;
    PyObject *current;   /* the container being traversed */
} refscan;

static size_t ref_slot(const refscan *r, PyObject *o)
{
    return (size_t)(((uintptr_t)o >> 4) * 0x9E3779B97F4A7C15ull >> 20) & (r->cap - 1);
}

static int ref_visit(PyObject *o, void *arg)
{
    refscan *r = arg;
    if (o == NULL)
        return 0;
    for (size_t i = ref_slot(r, o); r->keys[i] != NULL; i = (i + 1) & (r->cap - 1)) {
        if (r->keys[i] == o) {
            Py_ssize_t k = r->idx[i];
            r->found[k]++;
            for (int h = 0; h < MAX_HOLDERS && r->current != NULL; h++) {
                if (r->holders[k][h] == r->current)
                    break;
                if (r->holders[k][h] == NULL) {
                    r->holders[k][h] = r->current;
                    break;
                }
            }
            return 0;
        }
    }
    return 0;
}

/* Untracked containers the collector does not list but which hold
 * references: tuples and dicts of atomic values (the collector untracks
 * those).  Tracked ones come from the collector's own lists.  With -X
 * malloc=objects a pymalloc block of another domain may still hold a stale
 * object image: a tuple's traverse only reports addresses, safe to read,
 * but a dict's follows pointers, so dicts are taken from the debug
 * allocator's exact walk only. */
static int untracked_container(PyObject *o)
{
    if (PyObject_GC_IsTracked(o))
        return 0;
    return PyTuple_CheckExact(o) || (PyDict_CheckExact(o) && pd_hooks_installed());
}

static void scan_container(refscan *r, PyObject *o)
{
    r->current = o;
    if (PyDict_Check(o)) {
        /* A dict's traverse skips str keys (they cannot make cycles);
         * they are references all the same. */
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(o, &pos, &key, &value)) {
            ref_visit(key, r);
            ref_visit(value, r);
        }
    } else if (Py_TYPE(o)->tp_traverse != NULL) {
        Py_TYPE(o)->tp_traverse(o, ref_visit, r);
    }
}

static int in_tuple(PyObject *tuple, PyObject *o)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++)
        if (PyTuple_GET_ITEM(tuple, i) == o)
            return 1;
    return 0;
}

PyObject *pd_objects_referrers(PyObject *targets, PyObject *ignore, PyObject *tracked)
{
    Py_ssize_t n = PyList_GET_SIZE(targets);
    refscan r = {0};
    r.cap = 16;
    while (r.cap < (size_t)n * 2 + 2)
        r.cap *= 2;
    r.keys = pd_sys_map(r.cap * sizeof *r.keys);
    r.idx = pd_sys_map(r.cap * sizeof *r.idx);
    r.found = pd_sys_map(((size_t)n + 1) * sizeof *r.found);
    r.holders = pd_sys_map(((size_t)n + 1) * sizeof *r.holders);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *o = PyList_GET_ITEM(targets, k);
        size_t i = ref_slot(&r, o);
        while (r.keys[i] != NULL && r.keys[i] != o)
            i = (i + 1) & (r.cap - 1);
        r.keys[i] = o;
        r.idx[i] = k;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(tracked); i++) {
        PyObject *o = PyList_GET_ITEM(tracked, i);
        if (o != targets && o != tracked && !in_tuple(ignore, o))
            scan_container(&r, o);
    }
    walk w = {0};
    visit_blocks(collect, &w);
    for (size_t i = 0; i < w.n; i++) {
        PyObject *o = w.v[i].op;
        if (o != targets && o != tracked && untracked_container(o) && !in_tuple(ignore, o))
            scan_container(&r, o);
    }
    r.current = NULL;
    pd_py_visit_frames(ref_visit, &r);
    PyObject *result = PyList_New(n);
    for (Py_ssize_t k = 0; result != NULL && k < n; k++) {
        PyObject *o = PyList_GET_ITEM(targets, k);
        int nh = 0;
        while (nh < MAX_HOLDERS && r.holders[k][nh] != NULL)
            nh++;
        PyObject *holders = PyTuple_New(nh);
        for (int h = 0; holders != NULL && h < nh; h++)
            PyTuple_SET_ITEM(holders, h, Py_NewRef(r.holders[k][h]));
        /* Not counted: the walk's reference, the targets list's and, for a
         * tracked object, the collector's list's. */
        Py_ssize_t ours = 2 + (PyObject_IS_GC(o) && PyObject_GC_IsTracked(o));
        PyObject *t = holders ? Py_BuildValue("(nnN)", Py_REFCNT(o) - ours, r.found[k], holders)
                              : NULL;
        if (t == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, k, t);
    }
    walk_release(&w);
    pd_sys_unmap(r.keys, r.cap * sizeof *r.keys);
    pd_sys_unmap(r.idx, r.cap * sizeof *r.idx);
    pd_sys_unmap(r.found, ((size_t)n + 1) * sizeof *r.found);
    pd_sys_unmap(r.holders, ((size_t)n + 1) * sizeof *r.holders);
    return result;
}

PyObject *pd_objects_site(PyObject *op)
{
    pd_block_info b;
    if (!pd_hooks_installed() || !pd_find_block((uintptr_t)op, 1, &b) || b.state != PD_LIVE ||
        pd_obj_in_block(&b, PD_UNLOCKED) != op)
        Py_RETURN_NONE;
    char buf[8192];
    size_t pos = 0;
    int reused = !b.birth && pd_interp_freelist_type(Py_TYPE(op));
    pd_report_site(buf, sizeof buf, &pos, b.birth ? "born at" : "allocated by", &b.alloc, 0);
    if (reused && pos < sizeof buf)
        pos += (size_t)snprintf(buf + pos, sizeof buf - pos,
                                "  (possibly stale: a %s may be taken from CPython's free list, "
                                "born without an allocation; this is the block's site)\n",
                                Py_TYPE(op)->tp_name);
    if (pos > sizeof buf - 1)
        pos = sizeof buf - 1;
    return PyUnicode_FromStringAndSize(buf, (Py_ssize_t)pos);
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void add_address(walk *w, PyObject *op)
{
    if (op == NULL)
        return;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 65536;
        w->v = pd_sys_grow(w->v, w->cap * sizeof *w->v, cap * sizeof *w->v);
        w->cap = cap;
    }
    /* addresses only: no reference taken, nothing dereferenced later */
    memcpy(&w->v[w->n++], &op, sizeof op);
}

static void collect_address(pd_block_info *b, void *arg) { add_address(arg, walked_obj(b)); }
static void address_known(const uintptr_t *objs, size_t n, void *arg)
{
    each_known(objs, n, arg, add_address);
}

PyObject *pd_objects_addresses(void)
{
    walk w = {0};
    visit_objects(collect_address, address_known, &w);
    uintptr_t *a = (uintptr_t *)w.v;
    for (size_t i = 0; i < w.n; i++)
        memcpy(&a[i], &w.v[i], sizeof a[i]);
    qsort(a, w.n, sizeof *a, by_address);
    PyObject *r = PyBytes_FromStringAndSize((const char *)a, (Py_ssize_t)(w.n * sizeof *a));
    pd_sys_unmap(w.v, w.cap * sizeof *w.v);
    return r;
}
