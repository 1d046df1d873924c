/* pd_pyframe.h - Python-level facts for the core: the calling thread's
 * Python stack (for allocation sites; the innermost frame alone is
 * pd_interp_capture), tracebacks, and the type of an
 * object held by a block.  Never allocates; safe without the GIL for the
 * calling thread's own frames. */
#ifndef PD_PYFRAME_H
#define PD_PYFRAME_H

#include <Python.h>
#include <stddef.h>

#include "../core/pd_core.h"

/* Up to max_frames frames of the calling thread, innermost first, as
 * (code, code serial, offset) triples; returns the number of words. */
int pd_py_capture_stack(uintptr_t *words, int max_frames);
void pd_py_describe_pystack(uint32_t id, char *buf, size_t len);
void pd_py_describe_site(const pd_site *s, char *buf, size_t len);
void pd_py_traceback_now(char *buf, size_t len);
void pd_py_dump_all_threads(int fd);
void pd_py_set_finalized(void);
/* A str object's text as UTF-8, without allocating; "?" if not a str. */
void pd_py_str_utf8(PyObject *o, char *buf, size_t len);
void pd_py_block_type(const pd_block_info *b, char *buf, size_t len);
/* Call visit on each strong reference running frames hold (GIL held). */
void pd_py_visit_frames(visitproc visit, void *arg);

#endif
