/* pd_family_stacktop.h - what 3.11, 3.12 and 3.13 lay out alike, for
 * their family headers only: fast locals and the value stack are plain
 * PyObject pointers in localsplus, and the frame saves its stack depth in
 * stacktop (-1 when not saved). */
#ifndef PD_FAMILY_STACKTOP_H
#define PD_FAMILY_STACKTOP_H

static inline PyObject *pdf_local(_PyInterpreterFrame *f, int i) { return f->localsplus[i]; }
static inline int pdf_saved_depth(_PyInterpreterFrame *f, PyCodeObject *co)
{
    return f->stacktop >= 0 ? f->stacktop - co->co_nlocalsplus : -1;
}
static inline PyObject *pdf_value(_PyInterpreterFrame *f, PyCodeObject *co, int i)
{
    return f->localsplus[co->co_nlocalsplus + i];
}

#endif
