/* pd_iframe.h - facts of an interpreter frame that differ per version,
 * for the files compiled with Py_BUILD_CORE against the interpreter's
 * internal headers (include internal/pycore_frame.h first). */
#ifndef PD_IFRAME_H
#define PD_IFRAME_H

/* The code object a frame runs, or NULL (3.13 frames may run other
 * executables). */
static inline PyCodeObject *pd_iframe_code(_PyInterpreterFrame *f)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *ex = f->f_executable;
    return (ex && PyCode_Check(ex)) ? (PyCodeObject *)ex : NULL;
#else
    return f->f_code;
#endif
}

#endif
