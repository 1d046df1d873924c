/* pd_objcount.c - see pd_objcount.h. */
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/pd_interp.h"
#include "pd_hooks.h"
#include "pd_objcount.h"
#include "pd_objects.h"
#include "../core/pd_counts.h"

static pd_count_backend backend = PD_COUNTS_OFF;
static int took_over; /* someone else took the reference tracer from us */

/* The allocator's object events --------------------------------------------
 * Born: the object's creator has set its type by the time the next block
 * is allocated or freed (see pd_core.h); count it under that type and
 * remember the type in the block.  Retire: count the death under the type
 * it was born with, or (born before counting started, or not recognisable
 * at birth) the type it has now. */

static void on_born(pd_block_info *b)
{
    PyObject *op = pd_obj_in_block(b, PD_LOCKED);
    if (op == NULL)
        return;
    b->otype = (uintptr_t)Py_TYPE(op);
    pd_counts_born(b->otype, Py_TYPE(op)->tp_name);
}

static void on_retire(const pd_block_info *b)
{
    PyObject *op = pd_obj_in_dying_block(b);
    uintptr_t t = b->otype ? b->otype : op ? (uintptr_t)Py_TYPE(op) : 0;
    if (t == 0)
        return;
    pd_counts_died(t, ((PyTypeObject *)t)->tp_name);
    if (op && PyType_Check(op))
        pd_counts_type_gone((uintptr_t)op);
}

static const pd_object_hooks allocator_events = {on_born, on_retire};

/* The reference tracer (PD_INTERP_HAS_REFTRACER) ---------------------------------------------- */

#if PD_INTERP_HAS_REFTRACER
/* Events other than a creation and a destruction (3.15 tells when the
 * tracer is removed, with no object) say nothing about counts. */
#define COUNTS(op, ev) ((op) != NULL && ((ev) == PyRefTracer_CREATE || (ev) == PyRefTracer_DESTROY))

/* Births (pd_objcount_births): an object of a type with a free list gets
 * its birth site recorded in its block. */
static int births_on;

/* ret, sp: the tracer callback's return address (into the interpreter
 * code that made the object) and frame. */
static __attribute__((noinline)) void birth(PyObject *op, void *ret, const void *sp)
{
    pd_site s;
    pd_hooks_site(&s, ret, sp);
    pd_core_birth(op, &s);
}
#define BORN(op) birth((op), __builtin_return_address(0), __builtin_frame_address(0))

#define BIRTH(op, ev) \
    (births_on && (ev) == PyRefTracer_CREATE && pd_interp_freelist_type(Py_TYPE(op)))

static int on_birth(PyObject *op, PyRefTracerEvent ev, void *data)
{
    (void)data;
    if (op != NULL && BIRTH(op, ev))
        BORN(op);
    return 0;
}

static int on_trace(PyObject *op, PyRefTracerEvent ev, void *data)
{
    (void)data;
    if (!COUNTS(op, ev))
        return 0;
    PyTypeObject *t = Py_TYPE(op);
    if (BIRTH(op, ev))
        BORN(op);
    if (ev == PyRefTracer_CREATE) {
        pd_counts_born((uintptr_t)t, t->tp_name);
    } else {
        pd_counts_died((uintptr_t)t, t->tp_name);
        if (PyType_Check(op))
            pd_counts_type_gone((uintptr_t)op);
    }
    return 0;
}

/* What the self-test saw: floats, lists, tuples and functions made and
 * destroyed. */
static long probe_created, probe_destroyed, lists_created, lists_destroyed;
static long tuples_created, tuples_destroyed, funcs_created, funcs_destroyed;

static int on_probe(PyObject *op, PyRefTracerEvent ev, void *data)
{
    (void)data;
    long *made = NULL, *gone = NULL;
    if (!COUNTS(op, ev))
        return 0;
    if (Py_IS_TYPE(op, &PyFloat_Type))
        made = &probe_created, gone = &probe_destroyed;
    else if (Py_IS_TYPE(op, &PyList_Type))
        made = &lists_created, gone = &lists_destroyed;
    else if (Py_IS_TYPE(op, &PyTuple_Type))
        made = &tuples_created, gone = &tuples_destroyed;
    else if (Py_IS_TYPE(op, &PyFunction_Type))
        made = &funcs_created, gone = &funcs_destroyed;
    if (made)
        ++*(ev == PyRefTracer_CREATE ? made : gone);
    return 0;
}

/* Does the tracer see every destruction?  Two ways releases have lost
 * some, each run here and compared:
 *   - before 3.13.3 the specialized float and int instructions freed their
 *     temporaries without telling it (CPython gh-130382);
 *   - 3.14 releases before August 2026 did not tell it of objects the
 *     trashcan freed, the deferred deallocation of deeply nested
 *     containers (CPython gh-156371): a chain of nested lists is freed
 *     that way past the first few dozen levels;
 *   - tuples and functions, made and dropped in a loop, must be seen
 *     destroyed (a guard for the kinds the counts tests check; every
 *     release here passes it). */
static int tracer_is_exact(void)
{
    static const char src[] =
        "def f():\n"
        "    x = 0.5\n"
        "    for i in range(400):\n"
        "        x = x * 1.0001 + 0.25\n"
        "    return x\n"
        "f()\n"
        "def g():\n"
        "    a = []\n"
        "    for i in range(5000):\n"
        "        a = [a]\n"
        "    del a\n"
        "g()\n"
        "def h():\n"
        "    n = 0\n"
        "    for i in range(400):\n"
        "        t = (i, n)\n"
        "        f = lambda: t\n"
        "        n += len(f())\n"
        "    return n\n"
        "h()\n";
    void *old_data;
    PyRefTracer old = PyRefTracer_GetTracer(&old_data);
    if (old != NULL)
        return 0; /* taken (tracemalloc): not ours to test */
    PyObject *globals = PyDict_New();
    if (globals == NULL || PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0) {
        Py_XDECREF(globals);
        PyErr_Clear();
        return 0;
    }
    PyObject *code = Py_CompileString(src, "<pydebug tracer self-test>", Py_file_input);
    probe_created = probe_destroyed = lists_created = lists_destroyed = 0;
    tuples_created = tuples_destroyed = funcs_created = funcs_destroyed = 0;
    PyRefTracer_SetTracer(on_probe, NULL);
    PyObject *r = code ? PyEval_EvalCode(code, globals, globals) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(code);
    Py_DECREF(globals);
    PyRefTracer_SetTracer(NULL, NULL);
    if (r == NULL) {
        PyErr_Clear();
        return 0;
    }
    int floats_ok = probe_created >= 400 && probe_destroyed * 10 >= probe_created * 9;
    int lists_ok = lists_created >= 5001 && lists_destroyed >= 5001;
    /* (older ones may die meanwhile, from garbage made before: more
     * destructions than creations say nothing) */
    int others_ok = tuples_created >= 400 && funcs_created >= 400 &&
                    tuples_destroyed * 10 >= tuples_created * 9 &&
                    funcs_destroyed * 10 >= funcs_created * 9;
    return floats_ok && lists_ok && others_ok;
}

/* The self-test runs once: its answer does not change. */
static int tracer_exact_once(void)
{
    static int known = -1;
    if (known < 0)
        known = tracer_is_exact();
    return known;
}

static int tracer_start(void)
{
    if (!tracer_exact_once())
        return 0;
    return PyRefTracer_SetTracer(on_trace, NULL) == 0;
}

static int tracer_ours(void)
{
    void *data;
    return PyRefTracer_GetTracer(&data) == on_trace;
}
int pd_objcount_births(int on)
{
    /* Nothing to record where no type keeps a free list (3.14+ under the
     * debug allocator: every birth is an allocation). */
    if (!pd_hooks_installed() || !pd_interp_freelist_type(&PyTuple_Type))
        return 0;
    void *data;
    PyRefTracer cur = PyRefTracer_GetTracer(&data);
    if (!on) {
        births_on = 0;
        if (cur == on_birth)
            PyRefTracer_SetTracer(NULL, NULL);
        return 0;
    }
    if (cur == on_trace || cur == on_birth) {
        births_on = 1;
    } else if (cur == NULL && tracer_exact_once() && PyRefTracer_SetTracer(on_birth, NULL) == 0) {
        births_on = 1;
    }
    return births_on;
}
#else
static int tracer_start(void) { return 0; }
static int tracer_ours(void) { return 0; }
int pd_objcount_births(int on) { (void)on; return 0; }
#endif

/* Seeding ------------------------------------------------------------------ */

static void sync_one(PyTypeObject *t, uint64_t n, void *arg)
{
    (void)arg;
    pd_counts_sync((uintptr_t)t, t->tp_name, n);
}

/* Bring the live counts in line with a walk of the heap: objects alive
 * when counting starts are counted as born then; objects born or dead
 * where the event source could not see them (CPython's free lists, for
 * the allocator's events; a tracer someone else held) as born or dead
 * now. */
static void seed(void)
{
    if (!pd_objects_available())
        return;
    pd_counts_sync_begin();
    pd_objects_live_by_type(sync_one, NULL);
    pd_counts_sync_end();
}

int pd_objcount_start(void)
{
    if (backend != PD_COUNTS_OFF)
        return 0;
    if (tracer_start()) {
        backend = PD_COUNTS_TRACER;
    } else if (pd_hooks_installed()) {
        pd_core_set_object_hooks(&allocator_events);
        backend = PD_COUNTS_ALLOCATOR;
    } else {
        return -1;
    }
    seed();
    return 0;
}

pd_count_backend pd_objcount_backend(void) { return backend; }

/* The tracer is one per runtime, and tracemalloc.start() takes it (3.13).
 * Take it back when it is free again, and re-synchronise the live counts
 * with the heap; what was born and died meanwhile is missing. */
static void check_tracer(void)
{
    if (backend != PD_COUNTS_TRACER || tracer_ours())
        return;
    if (!took_over) {
        took_over = 1;
        fprintf(stderr, "python-debug: the reference tracer was taken (tracemalloc?); "
                        "per-type counts miss what was created and destroyed without it\n");
    }
#if PD_INTERP_HAS_REFTRACER
    void *data;
    if (PyRefTracer_GetTracer(&data) == NULL && PyRefTracer_SetTracer(on_trace, NULL) == 0)
        seed();
#endif
}

int pd_objcount_exact(void)
{
    check_tracer();
    return backend == PD_COUNTS_TRACER && !took_over;
}

static int by_allocs(const void *a, const void *b)
{
    const pd_count_row *x = a, *y = b;
    if (x->allocs != y->allocs)
        return x->allocs < y->allocs ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* The allocator's events miss births and deaths on CPython's free lists. */
static void before_query(void)
{
    check_tracer();
    if (backend == PD_COUNTS_ALLOCATOR)
        seed();
}

PyObject *pd_objcount_list(void)
{
    before_query();
    pd_count_row *rows;
    size_t n = pd_counts_rows(&rows);
    qsort(rows, n, sizeof *rows, by_allocs);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list != NULL && i < n; i++) {
        PyObject *t = Py_BuildValue("(sKKK)", rows[i].name, (unsigned long long)rows[i].allocs,
                                    (unsigned long long)rows[i].frees,
                                    (unsigned long long)rows[i].max);
        if (t == NULL || PyList_Append(list, t) < 0)
            Py_CLEAR(list);
        Py_XDECREF(t);
    }
    pd_counts_free_rows(rows, n);
    return list;
}

void pd_objcount_print(FILE *f)
{
    before_query();
    pd_count_row *rows;
    size_t n = pd_counts_rows(&rows);
    qsort(rows, n, sizeof *rows, by_allocs);
    fprintf(f, "%-40s %12s %12s %12s\n", "type", "allocs", "frees", "max alive");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%-40s %12llu %12llu %12llu\n", rows[i].name,
                (unsigned long long)rows[i].allocs, (unsigned long long)rows[i].frees,
                (unsigned long long)rows[i].max);
    fflush(f);
    pd_counts_free_rows(rows, n);
}
