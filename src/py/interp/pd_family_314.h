/* pd_family_314.h - CPython 3.14's and 3.15's layouts, for pd_interp.c
 * only.  As 3.13 but: a frame's executable, function, locals and stack
 * are tagged _PyStackRef values (NULL is a tag of its own, and the stack
 * may hold tagged ints that are no objects); a frame says where it runs
 * by instr_ptr; the eval loop's entry frame is owned by the interpreter,
 * and 3.15 ends every thread's chain with a base frame of the same owner
 * embedded in the thread state (never on a C stack, so never a bound).
 * The stack pointer is saved only around calls the interpreter makes,
 * and a release build leaves a stale one behind: the depth comes from the
 * code, as on 3.12 and 3.13. */
#ifndef PD_FAMILY_314_H
#define PD_FAMILY_314_H

static inline __attribute__((always_inline)) PyThreadState *pdf_own_tstate(void)
{
    return PyThreadState_GetUnchecked();
}

static inline _PyInterpreterFrame *pdf_top(PyThreadState *ts) { return ts->current_frame; }

static inline PyObject *pdf_ref(_PyStackRef r)
{
    if (PyStackRef_IsNull(r) || PyStackRef_IsTaggedInt(r))
        return NULL;
    return PyStackRef_AsPyObjectBorrow(r);
}

static inline PyCodeObject *pdf_code(_PyInterpreterFrame *f)
{
    PyObject *ex = pdf_ref(f->f_executable);
    return (ex && PyCode_Check(ex)) ? (PyCodeObject *)ex : NULL;
}
static inline int pdf_is_entry(_PyInterpreterFrame *f) { return f->owner >= FRAME_OWNED_BY_INTERPRETER; }
static inline int pdf_visible(_PyInterpreterFrame *f)
{
    return !pdf_is_entry(f) && pdf_code(f) != NULL && !_PyFrame_IsIncomplete(f);
}
#define PDF_BOUND_WALKS 1
static inline uintptr_t pdf_bound_direct(PyThreadState *ts) { (void)ts; return 0; }

static inline PyObject *pdf_func(_PyInterpreterFrame *f) { return pdf_ref(f->f_funcobj); }
static inline PyObject *pdf_local(_PyInterpreterFrame *f, int i) { return pdf_ref(f->localsplus[i]); }
static inline int pdf_saved_depth(_PyInterpreterFrame *f, PyCodeObject *co)
{
    (void)f, (void)co;
    return -1;
}
static inline PyObject *pdf_value(_PyInterpreterFrame *f, PyCodeObject *co, int i)
{
    return pdf_ref(f->localsplus[co->co_nlocalsplus + i]);
}

/* CALL and CALL_KW: callable, self or NULL, the arguments (then kwnames).
 * CALL_FUNCTION_EX: callable, NULL, args, kwargs or NULL, always four. */
#define PDF_CALL_METHOD_BELOW 0
static inline int pdf_ex_at(int oparg) { (void)oparg; return 4; }
static inline int pdf_ex_pops(int oparg) { (void)oparg; return 4; }

static inline int pdf_is_immortal(PyObject *op) { return _Py_IsImmortal(op); }

/* The count is the low 32 bits; above them sit 16 bits of flags (only
 * the static and immortal ones are ever set) and 16 of overflow (zero
 * unless the count passed 2^32).  A pointer written over the word (a free
 * list's link) sets bits that no flag uses. */
static inline Py_ssize_t pdf_refcnt(PyObject *op)
{
    if (op->ob_overflow != 0 || (op->ob_flags & ~(uint16_t)_Py_STATIC_FLAG_BITS) != 0)
        return -1;
    return (Py_ssize_t)op->ob_refcnt;
}

/* Every free list is a struct _Py_freelist {list, size} in one table of
 * the interpreter's.  A push happens only while 0 <= size < the list's
 * limit; -1 is how finalization disables a list, and the clearing code
 * (a full collection clears every list) accepts it.  So: collect, which
 * empties them, then disable each empty one. */
#define PDF_NFREELISTS (sizeof(struct _Py_freelists) / sizeof(struct _Py_freelist))

static inline int pdf_freelists_off(void)
{
    PyGC_Collect();
    /* the main interpreter's: _Py_freelists_GET reads a thread-local that
     * libpython does not export */
    struct _Py_freelist *fl =
        (struct _Py_freelist *)(void *)&PyInterpreterState_Main()->object_state.freelists;
    for (size_t i = 0; i < PDF_NFREELISTS; i++)
        if (fl[i].freelist == NULL && fl[i].size == 0)
            fl[i].size = -1;
    return 1;
}

/* The types whose freed objects CPython keeps for reuse here (one-digit ints too). */
static inline int pdf_freelist_type(PyTypeObject *tp)
{
    return tp == &PyFloat_Type || tp == &PyTuple_Type || tp == &PyList_Type ||
           tp == &PyDict_Type || tp == &PySlice_Type || tp == &PyContext_Type ||
           tp == &PyLong_Type;
}

#endif
